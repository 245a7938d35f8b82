"""`python -m offline fleet FILES_OR_DIRS... [--jobs N] [--json OUT] [--markdown OUT] [--base DIR_OR_JSON] [--now DATE]`:
plan many stacks at once and report them as one estate.

Every stack file (`Pulumi.<stack>.yaml`; a directory means every such file under it) is planned by its own
`python -m offline plan FILE --json -` process, `--jobs` at a time: the Pulumi runtime holds one root stack
per process, and a process per stack also bounds the memory of each plan by its stack, not by the estate.
The merged report has each stack's result, the organisation-wide access matrix (principals per stack and
account; a principal that reaches secrets in more than one stack is highlighted), the policy results with
the exceptions in force, the rotation calendar across stacks and, with `--base` (a directory of the base
branch's stack files, or the fleet JSON of an earlier run), the access gained and lost per stack.

A stack that cannot be planned never stops the others and never leaves a report that looks clean: its name
and error head every output (terminal, JSON, Markdown).

Exit status: 0 every stack planned clean, 1 a mandatory policy violation in some stack, 2 a bad stack file
or argument, 3 a worker crashed (killed, or failed without a plan). The highest applies.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from offline.access import AccessDiff, AccessMatrix, diff
from offline.access.model import BLOCKED
from offline.access.render import diff_markdown
from offline.run import PROJECT_DIR
from offline.schedule import ScheduleError, parse_reference

KIND = "secrets-platform/fleet"
VERSION = 1
PLAN_COMMAND: tuple[str, ...] = (sys.executable, "-m", "offline", "plan")
CLEAN, VIOLATIONS, BAD_CONFIG, CRASHED = "clean", "mandatory violations", "bad config", "crashed"
EXIT_STATUS = {CLEAN: 0, VIOLATIONS: 1, BAD_CONFIG: 2, CRASHED: 3}
FAILED = (BAD_CONFIG, CRASHED)  # no plan: nothing of the stack is in the merged sections
# What the merge reads of a stack's plan document; the rest (resources, above all) is dropped on arrival,
# so the coordinator holds matrices, not every stack's plan.
MERGED_SECTIONS = ("stack", "counts", "policy", "access", "rotation")
ERROR_LINES = 20  # of a crashed worker's stderr: the end of its traceback


class FleetInputError(Exception):
    """An argument names no stack file, or a --base cannot be read: exit 2."""


@dataclass
class StackRun:
    """One stack's plan by its worker: the plan document when there is one, else the error."""

    file: str
    stack: str
    status: str
    exit_code: int
    seconds: float
    peak_mib: float  # the worker's peak resident memory
    error: str = ""
    document: dict[str, Any] | None = None

    @property
    def environment(self) -> str:
        return ((self.document or {}).get("policy") or {}).get("environment", "")

    def matrix(self) -> AccessMatrix | None:
        return AccessMatrix.from_json(self.document["access"]) if self.document else None


# --- finding and planning stacks ---------------------------------------------------------------------

def stack_files(targets: Iterable[str]) -> list[Path]:
    """The `Pulumi.<stack>.yaml` files named or found under the directories named (hidden directories
    such as .venv and .git skipped), in a stable order; one file per stack name."""
    found: list[Path] = []
    for target in targets:
        path = Path(target)
        if path.is_dir():
            for directory, subdirectories, files in os.walk(path):
                subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
                found += [Path(directory) / f for f in sorted(files) if is_stack_file(f)]
        elif path.is_file():
            if not is_stack_file(path.name):
                raise FleetInputError(f"{target}: not a stack file (expected Pulumi.<stack>.yaml)")
            found.append(path)
        else:
            raise FleetInputError(f"{target}: not found")
    by_stack: dict[str, Path] = {}
    for path in dict.fromkeys(p.resolve() for p in found):
        stack = stack_name(path)
        if stack in by_stack:
            raise FleetInputError(f"stack {stack}: two stack files ({by_stack[stack]}, {path}); a stack name is planned once")
        by_stack[stack] = path
    if not by_stack:
        raise FleetInputError(f"{' '.join(targets)}: no Pulumi.<stack>.yaml files")
    return list(by_stack.values())


def is_stack_file(name: str) -> bool:
    return name.startswith("Pulumi.") and name.endswith(".yaml") and name != "Pulumi.yaml"


def stack_name(path: Path) -> str:
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def run_measured(command: Sequence[str], stdout: Any, stderr: Any, env: dict[str, str] | None = None) -> tuple[int, float, float]:
    """Run `command` in the project directory: (exit status, wall seconds, peak MiB). The peak comes from
    wait4, so it is the process's own maximum resident set (or its largest descendant's, if larger)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, cwd=PROJECT_DIR, env=env)
    _, wait_status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(wait_status)
    return process.returncode, time.perf_counter() - start, usage.ru_maxrss / 1024


def plan_stack_file(path: Path, reference: datetime, command: Sequence[str] = PLAN_COMMAND) -> StackRun:
    """Plan one stack in a worker process and classify the outcome by its exit status and output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        code, seconds, peak_mib = run_measured([*command, str(path), "--json", "-", "--now", reference.isoformat()], out, err)
        out.seek(0), err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace").strip()
    run = StackRun(str(path), stack_name(path), CRASHED, code, seconds, peak_mib)
    try:
        document = json.loads(stdout) if code in (0, 1) else None
    except json.JSONDecodeError:
        document = None
    if code == 2:
        run.status, run.error = BAD_CONFIG, stderr or "exit status 2 without a message"
    elif isinstance(document, dict) and isinstance(document.get("access"), dict) and bool(document["policy"]["blocking"]) == (code == 1):
        run.status = VIOLATIONS if code == 1 else CLEAN
        run.document = {key: document[key] for key in MERGED_SECTIONS if key in document}
    else:
        cause = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code} without a plan"
        tail = "\n".join(stderr.splitlines()[-ERROR_LINES:])
        run.error = f"worker {cause}" + (f":\n{tail}" if tail else "")
    return run


def plan_all(paths: Sequence[Path], reference: datetime, jobs: int, command: Sequence[str] = PLAN_COMMAND,
             progress: Callable[[StackRun, int, int], None] | None = None) -> list[StackRun]:
    """Every stack, `jobs` workers at a time; the runs in the order of `paths`."""
    runs: dict[Path, StackRun] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(plan_stack_file, path, reference, command): path for path in paths}
        for future in as_completed(futures):
            runs[futures[future]] = run = future.result()
            if progress:
                progress(run, len(runs), len(paths))
    return [runs[path] for path in paths]


def base_matrices(base: str) -> tuple[list[Path], dict[str, AccessMatrix]]:
    """The base: a directory's stack files (to plan beside the head's), or a fleet JSON's access matrices."""
    path = Path(base)
    if path.is_dir():
        return stack_files([base]), {}
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise FleetInputError(f"{base}: not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise FleetInputError(f"{base}: not a fleet JSON document ({type(error).__name__})") from None
    if not isinstance(document, dict) or document.get("kind") != KIND:
        raise FleetInputError(f"{base}: not a fleet JSON document (kind {KIND}) nor a directory of stack files")
    try:
        return [], {s["stack"]: AccessMatrix.from_json(s["access"]) for s in document.get("stacks", []) if s.get("access")}
    except (KeyError, TypeError, ValueError) as error:
        raise FleetInputError(f"{base}: not a valid fleet JSON document ({type(error).__name__})") from None


def base_notes(heads: Sequence[StackRun], base: dict[str, AccessMatrix], base_runs: Sequence[StackRun]) -> list[str]:
    """Why a stack's access changes are not assessed, or are against an empty base."""
    failed = {r.stack: r for r in base_runs if r.status in FAILED}
    notes = []
    for run in heads:
        if run.stack in failed:
            notes.append(f"{run.stack}: the base stack file did not plan ({failed[run.stack].status}); its access changes are not assessed")
        elif run.document is not None and run.stack not in base:
            notes.append(f"{run.stack}: not in the base (a new stack); every access shows as gained")
    return notes


# --- merging ------------------------------------------------------------------------------------------

def account_of(backend: str, location: str) -> str:
    """Where a secret lives, as an owner reads it: the AWS account, the Key Vault, the GCP project."""
    if backend == "aws" and location.startswith("arn:") and len(parts := location.split(":")) > 4 and parts[4]:
        return f"aws {parts[4]}"
    if backend == "azure" and location.startswith("https://"):
        return f"azure {location.removeprefix('https://').split('.', 1)[0]}"
    if backend == "gcp" and location.startswith("projects/"):
        return f"gcp {location.split('/')[1]}"
    return backend


@dataclass
class Reach:
    """What one principal reaches in one stack and account."""

    stack: str
    account: str
    secrets: set[str] = field(default_factory=set)
    capabilities: set[str] = field(default_factory=set)


def fleet_access(runs: Sequence[StackRun]) -> dict[str, Any]:
    """Principals per stack and account across the fleet (blocked grants left out: they give no access),
    and the principals that reach secrets in more than one stack."""
    principals: dict[str, dict[str, Any]] = {}
    reach: dict[str, dict[tuple[str, str], Reach]] = {}
    for run in runs:
        matrix = run.matrix()
        if matrix is None:
            continue
        for entry in matrix.entries:
            if entry.status == BLOCKED:
                continue
            principal, secret = matrix.principals[entry.principal], matrix.secrets[entry.secret]
            principals.setdefault(principal.id, {"id": principal.id, "kind": principal.kind, "label": principal.label})
            account = account_of(secret.backend, secret.location)
            row = reach.setdefault(principal.id, {}).setdefault((run.stack, account), Reach(run.stack, account))
            row.secrets.add(secret.id)
            row.capabilities.add(entry.capability)
    rows = []
    for pid, by_place in reach.items():
        stacks = sorted({stack for stack, _ in by_place})
        rows.append({**principals[pid], "stacks": stacks, "crossStack": len(stacks) > 1, "reach": [
            {"stack": r.stack, "account": r.account, "secrets": len(r.secrets), "capabilities": sorted(r.capabilities)}
            for r in sorted(by_place.values(), key=lambda r: (r.stack, r.account))]})
    rows.sort(key=lambda row: (not row["crossStack"], row["id"]))
    return {"principals": rows, "crossStack": [row["id"] for row in rows if row["crossStack"]]}


def fleet_policy(runs: Sequence[StackRun]) -> dict[str, Any]:
    summary: dict[str, int] = {}
    violations, exceptions = [], []
    for run in runs:
        if run.document is None:
            continue
        policy = run.document["policy"]
        for key, count in policy["summary"].items():
            summary[key] = summary.get(key, 0) + count
        violations += [{"stack": run.stack, **v} for v in policy["violations"]]
        exceptions += [{"stack": run.stack, **e} for e in policy["exceptions"]]
    return {"summary": summary, "violations": violations, "exceptions": exceptions,
            "notAssessed": [run.stack for run in runs if run.document is None]}


def fleet_rotation(runs: Sequence[StackRun]) -> list[dict[str, Any]]:
    """Every stack's rotation calendar in one, the next rotation due first (unscheduled ones last)."""
    entries = [{"stack": run.stack, **entry} for run in runs if run.document for entry in run.document["rotation"]]
    return sorted(entries, key=lambda e: (not e["next"], e["next"][0] if e["next"] else "", e["stack"], e["secret"]))


def access_changes(runs: Sequence[StackRun], base: dict[str, AccessMatrix], not_assessed: Iterable[str] = ()) -> list[AccessDiff]:
    """Per stack of the head that planned: the diff from its base (an empty matrix for a new stack); none for
    the stacks whose base did not plan."""
    skip = set(not_assessed)
    return [diff(base.get(run.stack) or AccessMatrix(run.stack, {}, {}, []), run.matrix()) for run in runs if run.document is not None and run.stack not in skip]


def exit_status(runs: Iterable[StackRun]) -> int:
    return max((EXIT_STATUS[run.status] for run in runs), default=0)


def fleet_document(runs: Sequence[StackRun], reference: datetime, changes: list[AccessDiff] | None, notes: Sequence[str] = ()) -> dict[str, Any]:
    problems = [{"stack": r.stack, "file": r.file, "status": r.status, "error": r.error} for r in runs if r.status in FAILED]
    stacks = []
    for run in runs:
        document = run.document or {}
        policy = document.get("policy") or {}
        stacks.append({
            "stack": run.stack, "file": run.file, "status": run.status, "exitCode": run.exit_code, "error": run.error,
            "environment": run.environment, "seconds": round(run.seconds, 2), "peakMiB": round(run.peak_mib),
            "resources": sum((document.get("counts") or {}).values()) if document else None,
            "secrets": len(document["rotation"]) if document else None,  # the calendar lists every secret of every backend
            "policy": policy.get("summary"), "access": document.get("access"),
        })
    return {
        "kind": KIND, "version": VERSION, "reference": reference.isoformat(),
        "exitCode": exit_status(runs), "clean": not problems and all(r.status == CLEAN for r in runs),
        "problems": problems, "stacks": stacks,
        "access": fleet_access(runs), "policy": fleet_policy(runs), "rotation": fleet_rotation(runs),
        "accessDiff": None if changes is None else {
            "stacks": [c.to_json() for c in changes], "notes": list(notes),
            "gained": sum(len(c.gained) for c in changes), "lost": sum(len(c.lost) for c in changes),
            "highlighted": sum(len(c.highlighted) for c in changes),
        },
    }


# --- output ---------------------------------------------------------------------------------------------

def verdict_line(document: dict[str, Any]) -> str:
    stacks, problems = document["stacks"], document["problems"]
    if problems:
        return f"NOT CLEAN: {len(problems)} of {len(stacks)} stacks could not be planned ({', '.join(p['stack'] + ': ' + p['status'] for p in problems)})"
    blocked = [s["stack"] for s in stacks if s["status"] == VIOLATIONS]
    if blocked:
        return f"NOT CLEAN: mandatory policy violations in {', '.join(blocked)}"
    return f"clean: {len(stacks)} stacks planned, no mandatory violation"


def _cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def fleet_markdown(document: dict[str, Any], changes: list[AccessDiff] | None) -> str:
    lines = [f"# Fleet report: {len(document['stacks'])} stacks", "", f"**{verdict_line(document)}** (exit status {document['exitCode']}; reference {document['reference']})", ""]
    for problem in document["problems"]:
        lines += [f"### {problem['stack']}: {problem['status']}", "", f"`{problem['file']}`", "", "```", problem["error"], "```", ""]
    lines += ["## Stacks", "", "| stack | environment | status | resources | secrets | mandatory | advisory | exceptions | seconds | peak MiB |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for s in document["stacks"]:
        p = s["policy"] or {}
        lines.append(f"| {s['stack']} | {s['environment'] or '-'} | {s['status']} | {s['resources'] if s['resources'] is not None else 'not assessed'} | "
                     f"{s['secrets'] if s['secrets'] is not None else 'not assessed'} | {p.get('mandatory', '-')} | {p.get('advisory', '-')} | "
                     f"{p.get('exceptions', '-')} | {s['seconds']:.1f} | {s['peakMiB']:,} |")
    access = document["access"]
    lines += ["", "## Access across the organisation", ""]
    if access["crossStack"]:
        lines += [f"**{len(access['crossStack'])} principals reach secrets in more than one stack** (marked ⚠):", ""]
    lines += ["| principal | kind | stack | account | secrets | capabilities |", "|---|---|---|---|---:|---|"]
    for row in access["principals"]:
        name = f"⚠ **{_cell(row['id'])}**" if row["crossStack"] else _cell(row["id"])
        for reach in row["reach"]:
            lines.append(f"| {name} | {row['kind']} | {reach['stack']} | {reach['account']} | {reach['secrets']} | {', '.join(reach['capabilities'])} |")
    policy = document["policy"]
    lines += ["", "## Policy", "", ", ".join(f"{k}: {v}" for k, v in policy["summary"].items()) or "no stack planned", ""]
    if policy["notAssessed"]:
        lines += [f"Not assessed (no plan): {', '.join(policy['notAssessed'])}", ""]
    if policy["violations"]:
        lines += ["| stack | rule | enforcement | resource | message |", "|---|---|---|---|---|"]
        lines += [f"| {v['stack']} | {v['rule']} | {v['enforcement']} | {_cell(v['resource'])} | {_cell(v['message'])} |" for v in policy["violations"]]
        lines.append("")
    lines += ["### Exceptions in force", ""]
    if policy["exceptions"]:
        lines += ["| stack | rule | resource | reason | expires | status |", "|---|---|---|---|---|---|"]
        lines += [f"| {e['stack']} | {e['rule']} | {_cell(e['resource'])} | {_cell(e['reason'])} | {e['expires'] or 'never'} | {e['status']} |" for e in policy["exceptions"]]
    else:
        lines.append("none")
    lines += ["", "## Rotation calendar", "", "| stack | secret | class | kind | cadence | next |", "|---|---|---|---|---|---|"]
    lines += [f"| {e['stack']} | {e['secret']} | {e['classification']} | {e['kind']} | {e['cadence']} | {', '.join(e['next']) or '-'} |" for e in document["rotation"]]
    if changes is not None:
        summary = document["accessDiff"]
        lines += ["", "## Access gained and lost", "", f"{summary['gained']} gained ({summary['highlighted']} highlighted), {summary['lost']} lost", ""]
        lines += [f"- {note}" for note in summary["notes"]]
        for change in changes:
            if change.gained or change.lost:
                lines += ["", f"### {change.head}", "", diff_markdown(change)]
    return "\n".join(lines) + "\n"


def print_fleet(document: dict[str, Any], console: Console) -> None:
    stacks = Table(title="Fleet")
    for column in ("stack", "environment", "status", "resources", "secrets", "mandatory", "advisory", "seconds", "peak MiB"):
        stacks.add_column(column)
    for s in document["stacks"]:
        p, style = s["policy"] or {}, "red" if s["status"] != CLEAN else ""
        stacks.add_row(s["stack"], s["environment"] or "-", f"[{style}]{s['status']}[/]" if style else s["status"],
                       str(s["resources"] if s["resources"] is not None else "not assessed"), str(s["secrets"] if s["secrets"] is not None else "not assessed"),
                       str(p.get("mandatory", "-")), str(p.get("advisory", "-")), f"{s['seconds']:.1f}", f"{s['peakMiB']:,}")
    console.print(stacks)
    for problem in document["problems"]:
        console.print(f"[bold red]{problem['stack']}: {problem['status']}[/] ({problem['file']})", highlight=False)
        console.print(problem["error"], markup=False, highlight=False)
    access = Table(title="Principals reaching secrets in more than one stack")
    for column in ("principal", "kind", "stacks"):
        access.add_column(column, overflow="fold")
    for row in document["access"]["principals"]:
        if row["crossStack"]:
            access.add_row(f"[bold yellow]{row['id']}[/]", row["kind"], ", ".join(row["stacks"]))
    console.print(access if access.row_count else "[green]no principal reaches secrets in more than one stack[/]")
    if document["accessDiff"] is not None:
        d = document["accessDiff"]
        console.print(f"access against the base: {d['gained']} gained ({d['highlighted']} highlighted), {d['lost']} lost", highlight=False)
        for note in d["notes"]:
            console.print(f"[yellow]{note}[/]", highlight=False)
    console.print(f"[bold {'green' if document['exitCode'] == 0 else 'red'}]{verdict_line(document)}[/]", highlight=False)


# --- command --------------------------------------------------------------------------------------------

def add_parser(commands: Any) -> None:
    fleet = commands.add_parser("fleet", help="plan many stacks, each in its own process, and report them as one",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    fleet.add_argument("targets", nargs="+", metavar="FILES_OR_DIRS", help="Pulumi.<stack>.yaml files, or directories holding them")
    fleet.add_argument("--jobs", type=int, default=2, help="stacks planned at once (default 2)")
    fleet.add_argument("--json", metavar="OUT", help="also write the merged report as JSON ('-' for stdout only)")
    fleet.add_argument("--markdown", metavar="OUT", help="also write the merged report as Markdown")
    fleet.add_argument("--base", metavar="DIR_OR_JSON", help="the base branch's stack files (a directory) or fleet JSON: report access gained and lost")
    fleet.add_argument("--now", metavar="DATE", help="reference date (ISO, UTC) for every stack's calendar and exception expiry (default: now)")


def run_fleet(args: argparse.Namespace, command: Sequence[str] = PLAN_COMMAND) -> int:
    if args.jobs < 1:
        print("--jobs: must be at least 1", file=sys.stderr)
        return 2
    try:
        reference = parse_reference(args.now)
        paths = stack_files(args.targets)
        base_paths, base = base_matrices(args.base) if args.base else ([], {})
    except (ScheduleError, FleetInputError) as error:
        print(error, file=sys.stderr)
        return 2

    def progress(run: StackRun, done: int, total: int) -> None:
        side = " (base)" if Path(run.file) in base_paths else ""
        print(f"[{done}/{total}] {run.stack}{side}: {run.status} ({run.seconds:.1f} s, {run.peak_mib:,.0f} MiB)", file=sys.stderr, flush=True)

    # A base directory's stacks are planned in the same pool as the head's; the base never gates the exit status.
    every = plan_all([*paths, *base_paths], reference, args.jobs, command, progress)
    runs, base_runs = every[: len(paths)], every[len(paths):]
    base |= {r.stack: r.matrix() for r in base_runs if r.document is not None}
    changes = access_changes(runs, base, (r.stack for r in base_runs if r.status in FAILED)) if args.base else None
    document = fleet_document(runs, reference, changes, base_notes(runs, base, base_runs) if args.base else ())
    if args.json == "-":
        json.dump(document, sys.stdout, indent=2)
        print()
    else:
        print_fleet(document, Console(width=None if sys.stdout.isatty() else 160))
        if args.json:
            Path(args.json).write_text(json.dumps(document, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(fleet_markdown(document, changes))
    return document["exitCode"]
