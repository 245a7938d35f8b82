"""`python -m offline plan STACK`: plan a stack offline, check it with the policy pack, and report it.

Output: the plan for people (rich: resources, secrets, access matrix summary, policy results, compliance),
`--json FILE` for machines, `--markdown FILE` the full report for people (summary, resources by component,
policy results with the exceptions in force, the compliance view, the access matrix, the rotation calendar)
and `--comment FILE` its short form for a pull-request comment (access changes against `--base`, policy
results, compliance, calendar; under `--comment-limit` characters). `--import-file FILE` the resources it adopts as a `pulumi import --file` document. `--now` fixes the reference date.

Exit status: 0 planned clean, 1 a mandatory policy violation, 2 bad config, stack file or argument, 3 an internal
error (a bug in the toolkit: its traceback on stderr), never mistaken for a policy result.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

from components.spec import ConfigError
from offline.access import access_matrix, declared_classifications, declared_controller, diff
from offline.access.cli import InputError, load
from offline.fleet import add_parser as add_fleet_parser, run_fleet
from offline.markdown import COMMENT_LIMIT, GITHUB_COMMENT_LIMIT, comment_markdown, plan_markdown
from offline.console import console_for
from offline.report import PlanReport, import_file, print_access, print_plan, write_manifests
from offline.run import StackFileError, available_stacks, plan_stack
from offline.schedule import ScheduleError, parse_reference, rotation_calendar
from policy import report as policy_report
from policy.engine import evaluate
from policy.rules import ALL_RULES
from policy.settings import SettingsError, settings_for


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    plan = commands.add_parser("plan", help="plan a stack with mocks and report it")
    plan.add_argument("stack", help=f"stack name ({', '.join(available_stacks())}) or a path to a Pulumi.<stack>.yaml (examples/)")
    plan.add_argument("--json", metavar="FILE", help="also write the plan as JSON ('-' for stdout only)")
    plan.add_argument("--manifests", metavar="DIR", help="also write the Kubernetes objects as YAML manifests into DIR")
    plan.add_argument("--policy-config", metavar="FILE", help="policy pack config (default: policy/config/<environment>.json)")
    plan.add_argument("--markdown", metavar="FILE", help="also write the full report as Markdown (an audit file or a CI artifact)")
    plan.add_argument("--comment", metavar="FILE", help="also write the report's short form for a pull-request comment")
    plan.add_argument("--comment-limit", metavar="CHARS", type=int, default=COMMENT_LIMIT,
                      help=f"truncate the comment to this many characters (default {COMMENT_LIMIT}; GitHub allows {GITHUB_COMMENT_LIMIT})")
    plan.add_argument("--base", metavar="PLAN_OR_STACK",
                      help="the target branch's plan JSON (`--json`), preview JSON, access matrix JSON or stack: report access gained and lost")
    plan.add_argument("--import-file", metavar="FILE", help="also write the resources the stack adopts (`adopt:` ids) as a `pulumi import --file` document")
    plan.add_argument("--now", metavar="DATE", help="reference date (ISO, UTC) for the rotation calendar and exception expiry (default: now)")
    add_fleet_parser(commands)
    # Listed here; everything after `discover` goes to its own parser (python -m offline.discover).
    commands.add_parser("discover", add_help=False, help="read a live estate (aws, vault, kubernetes): a draft stack file and a report")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["discover"]:
        from offline.discover.__main__ import main as discover_main  # boto3 and hvac only when discovering

        return discover_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "fleet":
        return run_fleet(args)
    if not 1_000 <= args.comment_limit <= GITHUB_COMMENT_LIMIT:
        parser.error(f"--comment-limit must be between 1000 and {GITHUB_COMMENT_LIMIT}")
    try:
        reference = parse_reference(args.now)
    except ScheduleError as error:
        print(error, file=sys.stderr)
        return 2

    console = console_for(stderr=args.json == "-")
    try:
        # The base first: planning a stack replaces the process's runtime, and the head's plan is what stays.
        base = load(args.base) if args.base else None
        result = plan_stack(args.stack)
        spec = result.spec
    except (StackFileError, InputError) as error:
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
    policy = evaluate(result.policy_resources(), settings, today=reference.date())
    matrix = access_matrix(result.resources, result.stack, declared_classifications(spec), declared_controller(spec))
    report = PlanReport(
        plan=result, spec=spec, policy=policy, controls=policy_report.compliance(policy, ALL_RULES), matrix=matrix,
        rotations=rotation_calendar(spec, reference), reference=reference, change=diff(base, matrix) if base is not None else None,
    )
    document = report.document()
    if args.manifests:
        written = write_manifests(result, Path(args.manifests))
        print(f"wrote {len(written)} Kubernetes manifests to {args.manifests}", file=sys.stderr)
    if args.json == "-":
        json.dump(document, sys.stdout, indent=2, default=str)
        print()
    else:
        print_plan(result, console, matrix)
        print_access(report, console)
        policy_report.print_text(policy, console, title=f"Policy: {result.stack} ({result.environment}, {settings_source(result.environment, args.policy_config)})")
        console.print(policy_report.compliance_table(report.controls))
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(document, handle, indent=2, default=str)
    if args.import_file:
        Path(args.import_file).write_text(json.dumps(import_file(result), indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(plan_markdown(report))
    if args.comment:
        Path(args.comment).write_text(comment_markdown(report, args.comment_limit))
    return 1 if policy.blocking else 0


def settings_source(environment: str, explicit: str | None) -> str:
    return explicit or f"policy/config/{environment}.json"


INTERNAL_ERROR = 3


if __name__ == "__main__":
    try:
        status = main()
    except Exception:  # noqa: BLE001  Python would exit 1, the code of a mandatory violation
        traceback.print_exc()
        status = INTERNAL_ERROR
    sys.exit(status)
