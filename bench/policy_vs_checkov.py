"""Recall, false positives and evaluation time of this policy pack and of checkov, in one run, on two
labelled corpora, and the gate at scale (bench/policy_scale.py):

- bench/corpus/public.json: grants written by others (privilege-escalation catalogues, scanners' own
  fixtures, Kubernetes RBAC risk catalogues, AWS/Kubernetes/Vault/Azure documentation), each case with
  its source, a label decided from least privilege before any tool ran, and the reason;
- bench/corpus/iam.json: our own IAM fixtures.

Each case is turned (bench/corpus_convert.py) into the Pulumi resources the pack reads, evaluated through
policy/engine.py with every rule mandatory and no exceptions, and into what checkov reads: Terraform for
AWS, Vault and Azure, the manifest as YAML for Kubernetes. A case counts as flagged by a tool when at least
one of its rules or checks fails on one of its resources (the pack's advisory-only findings included: the label says
whether a grant is over-broad, not whether the pack blocks it; the notes name those cases); a case on which checkov ran no check at all is
"not assessed" by checkov (and counts as not flagged in recall).

checkov's pins conflict with the project's, so it gets its own venv, bench/.venv-checkov,
created on the first run (python -m venv, then pip install checkov==CHECKOV_VERSION).

    .venv/bin/python bench/policy_vs_checkov.py [--repeats 3] [--scale 10000 | --scale 0]

Times are wall times: the pack in this process (rules already imported), the pack in a fresh
interpreter (start-up and imports included, as a CLI would pay), and checkov's CLI; best of
--repeats. Written to bench/RESULTS-policy.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.corpus_convert import kubernetes_yaml, manifests, terraform_block, to_resources  # noqa: E402

CORPORA = {"public": ROOT / "bench" / "corpus" / "public.json", "own": ROOT / "bench" / "corpus" / "iam.json"}
RESULTS = ROOT / "bench" / "RESULTS-policy.md"
CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = ROOT / "bench" / ".venv-checkov"
CHECKOV = CHECKOV_VENV / "bin" / "checkov"

OVER_BROAD, COMPLIANT = "over-broad", "compliant"
TF_BLOCKS_PER_FILE = 100


def log(message: str) -> None:
    # rich is imported here, not at the top: the fresh-process timing imports this module.
    from rich.console import Console

    Console(width=160).log(message)


@dataclass
class Outcome:
    """What one tool said about each case: the ids of the rules/checks that failed on it."""

    tool: str
    flags: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    assessed: set[str] = field(default_factory=set)  # cases on which the tool ran at least one rule/check
    seconds: dict[str, float] = field(default_factory=dict)  # what was timed -> best wall time
    notes: list[str] = field(default_factory=list)


def load_corpus(path: Path) -> list[dict[str, Any]]:
    """The cases of a corpus file; our own fixtures (iam.json: `documents`, `category`) read as cases too."""
    data = json.loads(path.read_text())
    if "cases" in data:
        cases = data["cases"]
    else:
        cases = [{**d, "source": "own-fixtures", "family": d["category"], "ref": f"bench/corpus/{path.name}"} for d in data["documents"]]
    ids = [c["id"] for c in cases]
    if len(ids) != len(set(ids)):
        raise SystemExit(f"{path}: duplicate case ids")
    bad = [c["id"] for c in cases if c["label"] not in (OVER_BROAD, COMPLIANT)]
    if bad:
        raise SystemExit(f"{path}: label must be {OVER_BROAD} or {COMPLIANT}: {', '.join(bad)}")
    return cases


# --- this pack ----------------------------------------------------------------------------


def planned(cases: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Every case's resources, and the case id of each resource URN."""
    resources, owner = [], {}
    for case in cases:
        for resource in to_resources(case):
            resources.append(resource)
            owner[resource["urn"]] = case["id"]
    return resources, owner


def pack_violations(resources: list[dict[str, Any]]) -> list[Any]:
    """The pack's one evaluation path (policy/engine.py) with every rule enabled and mandatory, no exceptions."""
    from policy.engine import evaluate
    from policy.settings import Enforcement, PackSettings

    settings = PackSettings(environment="prod", default=Enforcement.MANDATORY, source="bench: every rule mandatory")
    return list(evaluate(resources, settings).violations)


# Timed in a fresh interpreter: start-up and imports included, as a command-line run pays them.
COLD = r"""
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from bench.policy_vs_checkov import load_corpus, pack_violations, planned
resources, _ = planned(load_corpus(Path({corpus!r})))
print(len(pack_violations(resources)))
"""


def run_pack(cases: list[dict[str, Any]], corpus: Path, repeats: int) -> Outcome:
    from policy.rules import ALL_RULES

    outcome = Outcome("this pack")
    resources, owner = planned(cases)
    types = {r["type"] for r in resources}
    relevant = [rule for rule in ALL_RULES if set(rule.resource_types) & types]
    outcome.notes.append(f"{len(ALL_RULES)} rules in the pack, {len(relevant)} of them read the {len(types)} resource types of this corpus")
    outcome.assessed = {owner[r["urn"]] for r in resources if any(r["type"] in rule.resource_types for rule in relevant)}

    undecided, blocking = 0, set()
    for violation in pack_violations(resources):
        outcome.flags[owner[violation.urn]].add(violation.rule_id)
        undecided += violation.undecided
        if violation.enforcement.value == "mandatory":
            blocking.add(owner[violation.urn])
    if undecided:
        outcome.notes.append(f"{undecided} violations were undecided (counted as flagged)")
    # A rule that is advisory whatever the level (own-account root trust, SP-TRUST-005) still flags: the case is reported
    # to the reviewer, and its label says whether it is over-broad, not whether the pack blocks it.
    if advisory := sorted(set(outcome.flags) - blocking):
        outcome.notes.append(f"{len(advisory)} cases flagged by advisory-only findings (counted as flagged): {', '.join(advisory)}")

    best = float("inf")
    for _ in range(max(repeats, 5)):  # cheap: more repeats for a steadier in-process number
        start = time.perf_counter()
        pack_violations(resources)
        best = min(best, time.perf_counter() - start)
    outcome.seconds["in-process evaluation"] = best
    outcome.seconds["fresh process (start-up + imports + evaluation)"] = min(
        timed([sys.executable, "-c", COLD.format(root=str(ROOT), corpus=str(corpus))])[0] for _ in range(repeats)
    )
    return outcome


# --- checkov -------------------------------------------------------------------------------


def ensure_checkov() -> None:
    if CHECKOV.exists():
        version = subprocess.run([str(CHECKOV), "--version"], capture_output=True, text=True).stdout.strip()
        if version == CHECKOV_VERSION:
            return
        log(f"{CHECKOV_VENV.relative_to(ROOT)} has checkov {version or '?'}, want {CHECKOV_VERSION}: re-creating it")
    log(f"creating {CHECKOV_VENV.relative_to(ROOT)} (python -m venv) and installing checkov=={CHECKOV_VERSION} with pip")
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(CHECKOV_VENV)], check=True)
    subprocess.run(
        [str(CHECKOV_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         f"checkov=={CHECKOV_VERSION}"],
        check=True,
    )
    log(f"checkov {CHECKOV_VERSION} installed")


def write_checkov_inputs(cases: list[dict[str, Any]], directory: Path) -> dict[str, str]:
    """Terraform files of TF_BLOCKS_PER_FILE resources and one YAML file per Kubernetes case under `directory`;
    the case id of each checkov resource key."""
    blocks, owner = [], {}
    (directory / "k8s").mkdir(parents=True, exist_ok=True)
    for case in cases:
        if case["kind"] == "k8s":
            (directory / "k8s" / f"{case['id']}.yaml").write_text(kubernetes_yaml(case))
            for manifest in manifests(case):
                owner[f"k8s:{manifest['kind']}:{manifest['metadata']['name']}"] = case["id"]
        else:
            address, block = terraform_block(case)
            blocks.append(block)
            owner[address] = case["id"]
    # checkov gives up on a file it cannot parse in time (a parsing error, no check run on any of its resources):
    # at 10,000 resources one main.tf did, on a busy machine.
    for start in range(0, len(blocks), TF_BLOCKS_PER_FILE):
        (directory / f"main_{start // TF_BLOCKS_PER_FILE:03d}.tf").write_text("\n".join(blocks[start:start + TF_BLOCKS_PER_FILE]))
    return owner


def resource_key(report: dict[str, Any], check: dict[str, Any]) -> str:
    """checkov names a Terraform resource `type.name` and a Kubernetes one `Kind.namespace.name`."""
    if report.get("check_type") == "kubernetes":
        kind, _, rest = check["resource"].partition(".")
        return f"k8s:{kind}:{rest.rpartition('.')[2]}"
    return check["resource"]


def checkov_command(directory: Path, output: Path) -> list[str]:
    # --skip-download: no platform guidelines or policies from the network; the local checks only.
    return [str(CHECKOV), "--directory", str(directory), "--framework", "terraform", "kubernetes", "--output", "json",
            "--skip-download", "--output-file-path", str(output)]


def parsing_errors(reports: list[dict[str, Any]]) -> int:
    return sum(report.get("summary", {}).get("parsing_errors", 0) for report in reports)


def run_checkov(cases: list[dict[str, Any]], repeats: int) -> Outcome:
    ensure_checkov()
    outcome = Outcome(f"checkov {CHECKOV_VERSION}")
    with tempfile.TemporaryDirectory(prefix="bench-checkov-") as tmp:
        source, output = Path(tmp) / "in", Path(tmp) / "out"
        owner = write_checkov_inputs(cases, source)
        outcome.seconds["fresh process (CLI)"] = min(timed(checkov_command(source, output))[0] for _ in range(repeats))
        reports = json.loads((output / "results_json.json").read_text())
    reports = reports if isinstance(reports, list) else [reports]
    if errors := parsing_errors(reports):
        outcome.notes.append(f"checkov reported {errors} parsing errors: no check ran on the resources of those files")
    for report in reports:
        for kind in ("failed_checks", "passed_checks"):
            for check in report.get("results", {}).get(kind, []):
                case = owner.get(resource_key(report, check))
                if case is None:
                    continue
                outcome.assessed.add(case)
                if kind == "failed_checks":
                    outcome.flags[case].add(check["check_id"])
    return outcome


def timed(command: list[str]) -> tuple[float, int]:
    """Wall time and peak resident memory (KiB, from wait4's rusage) of a command run to completion."""
    with tempfile.TemporaryFile(mode="w+") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        # checkov exits 1 when a check fails, the pack's checker when a mandatory rule fails: not a failed run.
        if process.returncode not in (0, 1):
            stderr.seek(0)
            raise SystemExit(f"{command[0]} failed ({process.returncode}):\n{stderr.read()[-2000:]}")
    return elapsed, usage.ru_maxrss


# --- report ----------------------------------------------------------------------------------


def score(cases: list[dict[str, Any]], outcome: Outcome) -> dict[str, Any]:
    positives = [c for c in cases if c["label"] == OVER_BROAD]
    negatives = [c for c in cases if c["label"] == COMPLIANT]
    caught = [c for c in positives if outcome.flags.get(c["id"])]
    false = [c for c in negatives if outcome.flags.get(c["id"])]
    return {
        "caught": len(caught), "positives": len(positives), "false": len(false), "negatives": len(negatives),
        "assessed": sum(c["id"] in outcome.assessed for c in cases),
        "missed": [c for c in positives if not outcome.flags.get(c["id"])], "false_cases": false,
    }


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "n/a"


def grouped(cases: list[dict[str, Any]], outcomes: list[Outcome], key: str) -> list[list[str]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        groups[case[key]].append(case)
    rows = []
    for name, members in sorted(groups.items()):
        row = [name, str(sum(c["label"] == OVER_BROAD for c in members)), str(sum(c["label"] == COMPLIANT for c in members))]
        for outcome in outcomes:
            s = score(members, outcome)
            row += [f"{s['caught']}/{s['positives']} ({ratio(s['caught'], s['positives'])})", f"{s['false']}/{s['negatives']}",
                    f"{s['assessed']}/{len(members)}"]
        rows.append(row)
    return rows


def tables(cases: list[dict[str, Any]], outcomes: list[Outcome], level: str = "##") -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) of each table, for rich and for Markdown alike."""
    summary = []
    for o in outcomes:
        s = score(cases, o)
        summary.append([o.tool, f"{s['caught']}/{s['positives']}", ratio(s["caught"], s["positives"]),
                        f"{s['false']}/{s['negatives']}", ratio(s["false"], s["negatives"]), f"{s['assessed']}/{len(cases)}"])
    per_tool = [f"{o.tool} {what}" for o in outcomes for what in ("caught", "false positives", "assessed")]
    timing = []
    all_seconds = [s for o in outcomes for s in o.seconds.values()]
    for o in outcomes:
        for what, seconds in o.seconds.items():
            timing.append([o.tool, what, f"{seconds * 1000:.1f}", f"{seconds * 1000 / len(cases):.2f}", f"{max(all_seconds) / seconds:.0f}x"])
    per_case = [
        [c["id"], c["source"], c["family"], c["label"]]
        + [", ".join(sorted(o.flags.get(c["id"], ()))) or ("-" if c["id"] in o.assessed else "not assessed") for o in outcomes]
        for c in cases
    ]
    tools = [o.tool for o in outcomes]
    return [
        ("Recall and false positives", ["tool", "over-broad caught", "recall", "compliant flagged", "false-positive rate", "cases assessed"], summary),
        ("Per source", ["source", "over-broad", "compliant", *per_tool], grouped(cases, outcomes, "source")),
        ("Per family", ["family", "over-broad", "compliant", *per_tool], grouped(cases, outcomes, "family")),
        ("Evaluation time (best wall time, same corpus)", ["tool", "what is timed", "ms", "ms/case", "slowest / this"], timing),
        ("Per case: failed rules / checks", ["case", "source", "family", "label", *tools], per_case),
    ]


def misses(cases: list[dict[str, Any]], outcomes: list[Outcome]) -> list[str]:
    """Every remaining miss and false positive of each tool, with the case's reason."""
    lines = []
    for o in outcomes:
        s = score(cases, o)
        lines.append(f"**{o.tool}: {len(s['missed'])} missed, {len(s['false_cases'])} false positives**")
        lines += [f"- missed `{c['id']}` ({c['family']}{'' if c['id'] in o.assessed else ', not assessed'}): {c['reason']}" for c in s["missed"]]
        lines += [f"- false positive `{c['id']}` ({c['family']}; {', '.join(sorted(o.flags[c['id']]))}): compliant because {c['reason']}"
                  for c in s["false_cases"]]
        lines.append("")
    return lines


def markdown(title: str, headers: list[str], rows: list[list[str]], level: str = "###") -> str:
    lines = [f"{level} {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def print_tables(rendered: list[tuple[str, list[str], list[list[str]]]], skip_per_case: bool = True) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    for title, headers, rows in rendered:
        if skip_per_case and title.startswith("Per case"):
            continue  # long: in the Markdown file only
        table = Table(title=title)
        for column in headers:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)


def bench_corpus(name: str, path: Path, repeats: int) -> str:
    cases = load_corpus(path)
    positives = sum(c["label"] == OVER_BROAD for c in cases)
    sources = sorted({c["source"] for c in cases})
    log(f"{path.relative_to(ROOT)}: {len(cases)} cases from {len(sources)} sources, {positives} over-broad, {len(cases) - positives} compliant")
    pack = run_pack(cases, path, repeats)
    log(f"pack done: {len(pack.flags)} cases flagged")
    checkov = run_checkov(cases, repeats)
    log(f"checkov done: {len(checkov.flags)} cases flagged, {len(checkov.assessed)} assessed")
    outcomes = [pack, checkov]
    rendered = tables(cases, outcomes)
    print_tables(rendered)
    notes = [f"{o.tool}: {note}" for o in outcomes for note in o.notes]
    remaining = misses(cases, outcomes)
    print("\n".join(remaining))
    title = {"public": "Public corpus (grants written by others)", "own": "Our own IAM fixtures"}[name]
    head = (
        f"## {title}\n\n`{path.relative_to(ROOT)}`: {len(cases)} labelled cases from {len(sources)} sources "
        f"({', '.join(sources)}); {positives} over-broad, {len(cases) - positives} compliant. "
        + ("Labels were decided from least privilege before any tool ran; each case's source, reference and reason are in the file.\n\n"
           if name == "public" else "Labels and reasons as the file gives them.\n\n")
    )
    body = "\n".join(markdown(*t) for t in rendered if not t[0].startswith("Per case"))
    per_case = next(t for t in rendered if t[0].startswith("Per case"))
    return (head + body + "\n### Remaining misses and false positives\n\n" + "\n".join(remaining)
            + ("\n### Notes\n\n" + "\n".join(f"- {n}" for n in notes) + "\n" if notes else "") + "\n" + markdown(*per_case))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per fresh-process measurement (best kept)")
    parser.add_argument("--scale", type=int, default=10_000, help="resources in the gate-at-scale preview (0: skip it)")
    args = parser.parse_args()

    sections = [bench_corpus(name, path, args.repeats) for name, path in CORPORA.items()]
    if args.scale:
        from bench.policy_scale import bench_scale

        ensure_checkov()
        sections.append(bench_scale(load_corpus(CORPORA["public"]), args.scale))
    commit = subprocess.run(["git", "log", "-1", "--format=%h", "--", "policy", "documents"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    header = (
        "# Policy pack vs checkov\n\n"
        f"The pack's rules as of commit {commit or '?'} (last change to policy/ and documents/). "
        "Written by `.venv/bin/python bench/policy_vs_checkov.py` (see its docstring). The pack sees each case as the planned "
        "Pulumi resources (bench/corpus_convert.py) and evaluates them with every rule mandatory and no exceptions; checkov sees "
        "the same documents as Terraform (AWS, Vault, Azure) or Kubernetes YAML. A case is flagged when any rule/check fails on it; "
        "\"assessed\" counts the cases on which the tool ran at least one rule/check. "
        f"checkov {CHECKOV_VERSION}, Python {platform.python_version()}, {os.cpu_count()} CPUs (shared); times are best of {args.repeats} "
        "(the pack's in-process one best of at least 5).\n\n"
    )
    RESULTS.write_text(header + "\n".join(sections))
    log(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
