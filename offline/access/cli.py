"""`python -m offline.access STACK_OR_JSON [--base OTHER] [--format text|json|markdown] [--output FILE]`

STACK_OR_JSON is a stack (`dev`, `examples/emr/Pulumi.emr-prod.yaml`), planned offline, or a JSON file:
what `python -m offline plan STACK --json FILE` writes, what `pulumi preview --json` writes, or a matrix
this command wrote with `--format json`. With `--base`, the access gained and lost from OTHER (the target
branch) to STACK_OR_JSON (the pull request); gained access to critical or high secrets is highlighted.

Exit status: 0 reported, 2 unreadable input or bad stack config.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from documents.jsonfile import read_json
from offline.access.matrix import KIND, AccessMatrix, access_matrix, declared_classifications, declared_controller, diff
from offline.access.render import diff_markdown, matrix_markdown, print_diff, print_matrix
from offline.console import UNLIMITED_WIDTH, console_for

FORMATS = ("text", "json", "markdown")


class InputError(Exception):
    """Cannot build a matrix from the argument: exit 2, one line naming the input."""


def preview_resources(document: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """The resources of a `pulumi preview --json` document, with their outputs (known ARNs of resources
    that already exist) and providers."""
    from policy.check import PreviewError, resources_from_preview

    try:
        resources = resources_from_preview(document, source)
    except PreviewError as error:
        raise InputError(str(error)) from None
    states = {(s.get("newState") or {}).get("urn", s.get("urn")): s for s in document["steps"] if isinstance(s, dict)}
    out = []
    for r in resources:
        step = states.get(r["urn"], {})
        state = step.get("newState") or {}
        outputs = state.get("outputs") if isinstance(state.get("outputs"), dict) else {}
        out.append({**r, "outputs": outputs, "provider": state.get("provider") or step.get("provider") or ""})
    return out


def load(target: str) -> AccessMatrix:
    """The matrix of a stack or JSON document, with `source` saying which it was."""
    matrix = _load(target)
    matrix.source = _describe(target, matrix)
    return matrix


def _describe(target: str, matrix: AccessMatrix) -> str:
    if target == "-":
        return f"JSON from standard input (stack {matrix.stack or 'not named'})"
    if target.endswith(".json"):
        return f"{target} (stack {matrix.stack or 'not named'})"
    return f"stack {matrix.stack}, planned offline from {target if target.endswith(('.yaml', '.yml')) else f'Pulumi.{target}.yaml'}"


def _load(target: str) -> AccessMatrix:
    if target.endswith(".json") or target == "-":
        document = read_json(target, InputError)
        if not isinstance(document, dict):
            raise InputError(f"{target}: not a plan, preview or access matrix document")
        if document.get("kind") == KIND:
            try:
                return AccessMatrix.from_json(document)
            except (KeyError, TypeError, ValueError) as error:
                raise InputError(f"{target}: not a valid access matrix ({type(error).__name__})") from None
        if isinstance(document.get("steps"), list):
            from policy.check import stack_of

            resources = preview_resources(document, target)
            return access_matrix(resources, stack_of(resources) or target)
        if isinstance(document.get("resources"), list):
            return access_matrix(document["resources"], str(document.get("stack") or target))
        raise InputError(f"{target}: not a plan (resources), preview (steps) or access matrix (kind {KIND}) document")
    return _plan(target)


def _plan(stack: str) -> AccessMatrix:
    from components.spec import ConfigError
    from offline.run import StackFileError, plan_stack

    try:
        plan = plan_stack(stack)
    except StackFileError as error:
        raise InputError(str(error)) from None
    except ConfigError as error:
        raise InputError("\n".join(error.lines())) from None
    return access_matrix(plan.resources, plan.stack, declared_classifications(plan.spec), declared_controller(plan.spec))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline.access", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", metavar="STACK_OR_JSON", help="stack name, Pulumi.<stack>.yaml path, or plan / preview / matrix JSON")
    parser.add_argument("--base", metavar="OTHER", help="compare with this stack or JSON (the target branch) and list access gained and lost")
    parser.add_argument("--format", choices=FORMATS, default="text")
    parser.add_argument("--output", metavar="FILE", help="write there instead of stdout")
    args = parser.parse_args(argv)
    try:
        head = load(args.target)
        base = load(args.base) if args.base else None
    except InputError as error:
        print(error, file=sys.stderr)
        return 2
    except SystemExit as exit_:  # the program exits 2 after printing config errors
        return int(exit_.code or 0)

    change = diff(base, head) if base is not None else None
    if args.format == "text" and not args.output:
        console = console_for(highlight=False)
        print_diff(change, console) if change is not None else print_matrix(head, console)
        return 0
    if args.format == "json":
        output = json.dumps(change.to_json() if change is not None else head.to_json(), indent=2) + "\n"
    elif args.format == "markdown":
        output = diff_markdown(change) if change is not None else matrix_markdown(head)
    else:
        console = Console(record=True, width=UNLIMITED_WIDTH, file=io.StringIO(), highlight=False)
        print_diff(change, console) if change is not None else print_matrix(head, console)
        output = console.export_text()
    if args.output:
        Path(args.output).write_text(output)
    else:
        sys.stdout.write(output)
    return 0
