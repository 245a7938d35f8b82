"""`python -m policy check PREVIEW.json`: gate any Pulumi program's preview offline, with the pack's rules.

PREVIEW.json is what `pulumi preview --json` writes: `steps[]`, each with `op`, `urn` and, for a resource that
will exist after the update, `newState` with `type` and `inputs`. Planned steps (create, update, replace, same,
create-replacement, import, ...) are checked; delete, delete-replaced, discard, read and refresh steps are not.

Exit status: 0 no mandatory violation, 1 a mandatory violation, 2 unreadable preview or config.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any, Iterable

from rich.console import Console

from documents.jsonfile import read_json
from policy.engine import evaluate, logical_name
from policy.report import FORMATS, print_text, render, summary
from policy.rules import ALL_RULES
from policy.rules.base import Resource, Rule, StackRule
from policy.settings import ENVIRONMENT_DEFAULTS, SettingsError, environment_of, settings_for

# Steps whose resource is going away or is not managed by this program.
IGNORED_OPS = frozenset({"delete", "delete-replaced", "discard", "discard-replaced", "remove-pending-replace", "read", "read-replacement", "refresh"})
# A state-file style secret (`{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", ...}`) in a preview.
SECRET_SIG = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")
REDACTED = "[secret]"


class PreviewError(Exception):
    """The preview document cannot be read: exit 2. Messages name the file and key path, never a value."""


def _redact_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SECRET_SIG[0]) == SECRET_SIG[1]:
            return REDACTED
        return {k: _redact_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_secrets(v) for v in value]
    return value


def resources_from_preview(document: Any, source: str) -> list[Resource]:
    """The planned resources, once each (a replacement shows as create-replacement and replace)."""
    if not isinstance(document, dict) or not isinstance(document.get("steps"), list):
        raise PreviewError(f"{source}: not a `pulumi preview --json` document (no steps list)")
    resources: dict[str, Resource] = {}
    for index, step in enumerate(document["steps"]):
        at = f"{source}: steps[{index}]"
        if not isinstance(step, dict) or not isinstance(step.get("op"), str):
            raise PreviewError(f"{at}: must be an object with an op")
        if step["op"] in IGNORED_OPS:
            continue
        state = step.get("newState")
        if not isinstance(state, dict):
            raise PreviewError(f"{at}.newState: missing for a {step['op']} step")
        urn, type_, inputs = state.get("urn", step.get("urn")), state.get("type"), state.get("inputs", {})
        if not isinstance(urn, str) or not urn.startswith("urn:pulumi:"):
            raise PreviewError(f"{at}.urn: must be a Pulumi URN")
        if not isinstance(type_, str) or not type_:
            raise PreviewError(f"{at}.newState.type: must be a resource type token")
        if not isinstance(inputs, dict):
            raise PreviewError(f"{at}.newState.inputs: must be an object")
        resources.setdefault(urn, {"type": type_, "urn": urn, "name": logical_name(urn), "props": _redact_secrets(inputs)})
    return list(resources.values())


def load_preview(path: str) -> list[Resource]:
    return resources_from_preview(read_json(path, PreviewError), path)


def stack_of(resources: list[Resource]) -> str | None:
    """The stack name from `urn:pulumi:<stack>::<project>::...`."""
    return next((r["urn"].split("::", 1)[0].removeprefix("urn:pulumi:") for r in resources), None)


def artifact_uri(stack: str | None, preview: str) -> str:
    """Where SARIF results point: `Pulumi.<stack>.yaml` when it is in the working directory (the repository
    root in CI) or the preview came on stdin, else the preview file."""
    candidate = Path(f"Pulumi.{stack}.yaml") if stack else None
    if candidate and (candidate.is_file() or preview == "-"):
        return candidate.as_posix()
    path = Path(preview)
    if path.is_absolute():
        try:
            return path.relative_to(Path.cwd()).as_posix()
        except ValueError:
            return path.as_uri()
    return path.as_posix()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m policy check", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("preview", help="the JSON that `pulumi preview --json` wrote ('-' for stdin)")
    p.add_argument("--stack-env", choices=sorted(ENVIRONMENT_DEFAULTS),
                   help="enforcement defaults (prod: mandatory, else advisory) and config file; default: from the stack name in the URNs")
    p.add_argument("--config", metavar="FILE", help="pack config (levels, exceptions); default: policy/config/<stack-env>.json")
    p.add_argument("--format", choices=FORMATS, default="text")
    p.add_argument("--output", metavar="FILE", help="write the report there instead of stdout (a summary line goes to stderr)")
    return p


def main(argv: list[str] | None = None, rules: Iterable[Rule | StackRule] = ALL_RULES, today: date | None = None) -> int:
    args = parser().parse_args(argv)
    rules = tuple(rules)
    try:
        resources = load_preview(args.preview)
    except PreviewError as error:
        print(error, file=sys.stderr)
        return 2
    stack = stack_of(resources)
    environment = args.stack_env or environment_of(stack or "prod")
    try:
        settings = settings_for(environment, rules, args.config)
    except SettingsError as error:
        print("\n".join(error.problems), file=sys.stderr)
        return 2
    report = evaluate(resources, settings, rules, today=today)
    title = f"secrets-platform policy: {os.path.basename(args.preview)}"
    if args.format == "text" and not args.output:
        # Colours on a terminal; wide enough for URNs in a CI log.
        print_text(report, Console(width=None if sys.stdout.isatty() else 160, highlight=False), title)
        return 1 if report.blocking else 0
    output = render(report, args.format, title=title, artifact_uri=artifact_uri(stack, args.preview))
    if args.output:
        try:
            Path(args.output).write_text(output)
        except OSError as error:
            print(f"{args.output}: cannot be written ({type(error).__name__})", file=sys.stderr)
            return 2
        print(summary(report), file=sys.stderr)
    else:
        sys.stdout.write(output)
    return 1 if report.blocking else 0
