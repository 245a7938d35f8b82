"""`python -m offline plan STACK [--json FILE]`: plan a stack offline and check it with the policy pack.

Exit status: 0 planned clean, 1 a mandatory policy violation, 2 bad config or stack file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from components.config import ConfigError
from policy import report as policy_report
from policy.engine import evaluate
from policy.rules import ALL_RULES
from policy.settings import SettingsError, settings_for
from offline.report import plan_document, print_plan, write_manifests
from offline.run import StackFileError, available_stacks, plan_stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="plan a stack with mocks and report it")
    plan.add_argument("stack", help=f"stack name ({', '.join(available_stacks())}) or a path to a Pulumi.<stack>.yaml (examples/)")
    plan.add_argument("--json", metavar="FILE", help="also write the plan as JSON ('-' for stdout only)")
    plan.add_argument("--manifests", metavar="DIR", help="also write the Kubernetes objects as YAML manifests into DIR")
    plan.add_argument("--policy-config", metavar="FILE", help="policy pack config (default: policy/config/<environment>.json)")
    plan.add_argument("--markdown", metavar="FILE", help="also write the policy report as Markdown (for a pull-request comment)")
    args = parser.parse_args(argv)

    # Wide enough for ARNs and paths when the output is a CI log rather than a terminal.
    console = Console(stderr=args.json == "-", width=None if sys.stdout.isatty() else 160)
    try:
        result = plan_stack(args.stack)
    except StackFileError as error:
        print(error, file=sys.stderr)
        return 2
    except SystemExit as exit_:  # __main__.py exits 2 after printing config errors
        return int(exit_.code or 0)
    except ConfigError as error:
        print("\n".join(error.lines()), file=sys.stderr)
        return 2

    try:
        settings = settings_for(result.environment, ALL_RULES, args.policy_config)
    except SettingsError as error:
        print("\n".join(error.problems), file=sys.stderr)
        return 2
    policy = evaluate(result.policy_resources(), settings)
    document = plan_document(result, policy_report.to_json(policy))
    if args.manifests:
        written = write_manifests(result, Path(args.manifests))
        print(f"wrote {len(written)} Kubernetes manifests to {args.manifests}", file=sys.stderr)
    if args.json == "-":
        json.dump(document, sys.stdout, indent=2, default=str)
        print()
    else:
        print_plan(result, console)
        policy_report.print_text(policy, console, title=f"Policy: {result.stack} ({result.environment}, {settings_source(result.environment, args.policy_config)})")
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(document, handle, indent=2, default=str)
    if args.markdown:
        Path(args.markdown).write_text(policy_report.to_markdown(policy, title=f"secrets-platform policy: {result.stack}"))
    return 1 if policy.blocking else 0


def settings_source(environment: str, explicit: str | None) -> str:
    return explicit or f"policy/config/{environment}.json"


if __name__ == "__main__":
    sys.exit(main())
