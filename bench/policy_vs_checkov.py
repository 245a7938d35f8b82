"""Recall, false positives and evaluation time of this policy pack and of checkov, in one run,
on one labeled corpus of IAM documents (bench/corpus/iam.json).

Each document is labeled over-broad or compliant with the reason. This pack sees it as Pulumi
would plan it (an `aws:iam/policy:Policy`, or an `aws:iam/role:Role` whose assumeRolePolicy it
is) and evaluates it through policy/engine.py with every rule mandatory and no exceptions;
checkov sees the same JSON as a Terraform `aws_iam_policy` / `aws_iam_role`. A document counts
as flagged by a tool when at least one of its rules or checks fails on it.

checkov's pins conflict with the project's, so it gets its own venv, bench/.venv-checkov,
created on the first run (python -m venv, then pip install checkov==CHECKOV_VERSION).

    .venv/bin/python bench/policy_vs_checkov.py [--repeats 3]

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

CORPUS = ROOT / "bench" / "corpus" / "iam.json"
RESULTS = ROOT / "bench" / "RESULTS-policy.md"
CHECKOV_VERSION = "3.3.30"
CHECKOV_VENV = ROOT / "bench" / ".venv-checkov"
CHECKOV = CHECKOV_VENV / "bin" / "checkov"

OVER_BROAD = "over-broad"
# Pulumi type and property that carry each kind of document; Terraform's equivalents.
PULUMI = {"policy": ("aws:iam/policy:Policy", "policy"), "trust": ("aws:iam/role:Role", "assumeRolePolicy")}
TERRAFORM = {"policy": ("aws_iam_policy", "policy"), "trust": ("aws_iam_role", "assume_role_policy")}
# Tags our components put on every resource, so that only the documents decide.
TAGS = {"environment": "prod", "owner": "bench", "classification": "high", "managed-by": "secrets-platform"}



def log(message: str) -> None:
    # rich is imported here, not at the top: the fresh-process timing imports this module.
    from rich.console import Console

    Console(width=160).log(message)


@dataclass
class Outcome:
    """What one tool said about each document: the ids of the rules/checks that failed on it."""

    tool: str
    flags: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    seconds: dict[str, float] = field(default_factory=dict)  # what was timed -> best wall time
    notes: list[str] = field(default_factory=list)


def load_corpus(path: Path) -> list[dict[str, Any]]:
    documents = json.loads(path.read_text())["documents"]
    ids = [d["id"] for d in documents]
    if len(ids) != len(set(ids)):
        raise SystemExit(f"{path}: duplicate document ids")
    return documents


# --- this pack ----------------------------------------------------------------------------


def urn(entry: dict[str, Any]) -> str:
    return f"urn:pulumi:bench::corpus::{PULUMI[entry['kind']][0]}::{entry['id']}"


def to_resource(entry: dict[str, Any]) -> dict[str, Any]:
    type_, prop = PULUMI[entry["kind"]]
    # A JSON string, as `aws.iam.Policy(policy=json.dumps(...))` hands it to the engine.
    props = {prop: json.dumps(entry["document"]), "name": entry["id"], "tags": TAGS}
    return {"type": type_, "urn": urn(entry), "name": entry["id"], "props": props}


def pack_violations(resources: list[dict[str, Any]]) -> list[Any]:
    """The pack's one evaluation path (policy/engine.py) with every rule enabled and mandatory, no exceptions."""
    from policy.engine import evaluate
    from policy.settings import Enforcement, PackSettings

    settings = PackSettings(environment="prod", default=Enforcement.MANDATORY, source="bench: every rule mandatory")
    return list(evaluate(resources, settings).violations)


# Timed in a fresh interpreter: start-up and imports included, as a command-line run pays them.
COLD = r"""
import json, sys
sys.path.insert(0, {root!r})
from bench.policy_vs_checkov import load_corpus, pack_violations, to_resource, CORPUS
resources = [to_resource(e) for e in load_corpus(CORPUS)]
print(len(pack_violations(resources)))
"""


def run_pack(corpus: list[dict[str, Any]], repeats: int) -> Outcome:
    from policy.rules import ALL_RULES

    outcome = Outcome("this pack")
    resources = [to_resource(e) for e in corpus]
    types = {r["type"] for r in resources}
    relevant = [rule for rule in ALL_RULES if set(rule.resource_types) & types]
    outcome.notes.append(
        f"{len(ALL_RULES)} rules in the pack, {len(relevant)} of them read "
        + " or ".join(sorted(types)) + (": " + ", ".join(r.id for r in relevant) if relevant else "")
    )
    if not relevant:
        outcome.notes.append("NO rule reads IAM policies or roles yet: the pack's numbers below are all zero")

    by_urn = {urn(e): e["id"] for e in corpus}
    undecided = 0
    for violation in pack_violations(resources):
        outcome.flags[by_urn[violation.urn]].add(violation.rule_id)
        undecided += violation.undecided
    if undecided:
        outcome.notes.append(f"{undecided} violations were undecided (counted as flagged)")

    best = float("inf")
    for _ in range(max(repeats, 5)):  # cheap: more repeats for a steadier in-process number
        start = time.perf_counter()
        pack_violations(resources)
        best = min(best, time.perf_counter() - start)
    outcome.seconds["in-process evaluation"] = best
    outcome.seconds["fresh process (start-up + imports + evaluation)"] = min(
        timed([sys.executable, "-c", COLD.format(root=str(ROOT))]) for _ in range(repeats)
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


def tf_name(entry: dict[str, Any]) -> str:
    return entry["id"].replace("-", "_")


def to_terraform(corpus: list[dict[str, Any]]) -> str:
    blocks = []
    for entry in corpus:
        type_, attribute = TERRAFORM[entry["kind"]]
        # `${` and `%{` would be Terraform template syntax inside a heredoc.
        document = json.dumps(entry["document"], indent=2).replace("${", "$${").replace("%{", "%%{")
        blocks.append(
            f'resource "{type_}" "{tf_name(entry)}" {{\n'
            f'  name = "{entry["id"]}"\n'
            f"  {attribute} = <<DOC\n{document}\nDOC\n}}\n"
        )
    return "\n".join(blocks)


def checkov_command(directory: Path, output: Path) -> list[str]:
    # --skip-download: no platform guidelines or policies from the network; the local checks only.
    return [str(CHECKOV), "--directory", str(directory), "--framework", "terraform", "--output", "json",
            "--skip-download", "--output-file-path", str(output)]


def run_checkov(corpus: list[dict[str, Any]], repeats: int) -> Outcome:
    ensure_checkov()
    outcome = Outcome(f"checkov {CHECKOV_VERSION}")
    by_address = {f"{TERRAFORM[e['kind']][0]}.{tf_name(e)}": e["id"] for e in corpus}
    with tempfile.TemporaryDirectory(prefix="bench-checkov-") as tmp:
        source, output = Path(tmp) / "tf", Path(tmp) / "out"
        source.mkdir()
        (source / "main.tf").write_text(to_terraform(corpus))
        command = checkov_command(source, output)
        outcome.seconds["fresh process (CLI)"] = min(timed(command) for _ in range(repeats))
        reports = json.loads((output / "results_json.json").read_text())
    reports = reports if isinstance(reports, list) else [reports]
    checked = set()
    for report in reports:
        for kind in ("failed_checks", "passed_checks"):
            for check in report["results"][kind]:
                document = by_address.get(check["resource"])
                if document is None:
                    continue
                checked.add(document)
                if kind == "failed_checks":
                    outcome.flags[document].add(check["check_id"])
    missing = set(by_address.values()) - checked
    if missing:
        outcome.notes.append(f"checkov ran no check on {len(missing)} documents: {', '.join(sorted(missing))}")
    return outcome


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    # checkov exits 1 when a check fails: the status says nothing about the run itself.
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):
        raise SystemExit(f"{command[0]} failed ({result.returncode}):\n{result.stderr[-2000:]}")
    return elapsed


# --- report ----------------------------------------------------------------------------------


def score(corpus: list[dict[str, Any]], outcome: Outcome) -> dict[str, Any]:
    positives = [e for e in corpus if e["label"] == OVER_BROAD]
    negatives = [e for e in corpus if e["label"] != OVER_BROAD]
    caught = [e for e in positives if outcome.flags.get(e["id"])]
    false = [e for e in negatives if outcome.flags.get(e["id"])]
    return {
        "caught": len(caught), "positives": len(positives), "recall": len(caught) / len(positives),
        "false": len(false), "negatives": len(negatives), "fp_rate": len(false) / len(negatives),
        "missed": [e["id"] for e in positives if not outcome.flags.get(e["id"])],
        "false_ids": [e["id"] for e in false],
    }


def tables(corpus: list[dict[str, Any]], outcomes: list[Outcome]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, headers, rows) of each table, for rich and for Markdown alike."""
    scores = [score(corpus, o) for o in outcomes]
    summary = [
        [o.tool, f"{s['caught']}/{s['positives']}", f"{s['recall']:.0%}", f"{s['false']}/{s['negatives']}", f"{s['fp_rate']:.0%}"]
        for o, s in zip(outcomes, scores)
    ]

    categories: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for entry in corpus:
        categories[(entry["label"], entry["category"])].append(entry)
    by_category = [
        [label, category, str(len(entries))]
        + [str(sum(bool(o.flags.get(e["id"])) for e in entries)) for o in outcomes]
        for (label, category), entries in sorted(categories.items(), key=lambda kv: (kv[0][0] != OVER_BROAD, kv[0][1]))
    ]

    timing = []
    for o in outcomes:
        for what, seconds in o.seconds.items():
            timing.append([o.tool, what, f"{seconds * 1000:.1f}", f"{seconds * 1000 / len(corpus):.2f}"])
    slowest = max(s for o in outcomes for s in o.seconds.values())
    for row, seconds in zip(timing, [s for o in outcomes for s in o.seconds.values()]):
        row.append(f"{slowest / seconds:.0f}x")

    per_document = [
        [e["id"], e["label"], e["category"]] + [", ".join(sorted(o.flags.get(e["id"], ()))) or "-" for o in outcomes]
        for e in corpus
    ]
    tools = [o.tool for o in outcomes]
    return [
        ("Recall and false positives", ["tool", "over-broad caught", "recall", "compliant flagged", "false-positive rate"], summary),
        ("Flagged documents per category", ["label", "category", "documents", *tools], by_category),
        ("Evaluation time (best wall time, same corpus)", ["tool", "what is timed", "ms", "ms/document", "slowest / this"], timing),
        ("Per document: failed rules / checks", ["document", "label", "category", *tools], per_document),
    ]


def markdown(title: str, headers: list[str], rows: list[list[str]]) -> str:
    lines = [f"## {title}", "", "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per fresh-process measurement (best kept)")
    args = parser.parse_args()
    from rich.console import Console
    from rich.table import Table

    console = Console(width=160)
    corpus = load_corpus(args.corpus)
    positives = sum(e["label"] == OVER_BROAD for e in corpus)
    console.log(f"{len(corpus)} documents: {positives} over-broad, {len(corpus) - positives} compliant")
    pack = run_pack(corpus, args.repeats)
    console.log(f"pack done: {len(pack.flags)} documents flagged")
    checkov = run_checkov(corpus, args.repeats)
    console.log(f"checkov done: {len(checkov.flags)} documents flagged")
    outcomes = [pack, checkov]

    rendered = tables(corpus, outcomes)
    for title, headers, rows in rendered:
        table = Table(title=title)
        for column in headers:
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        console.print(table)
    notes = [f"{o.tool}: {note}" for o in outcomes for note in o.notes]
    for o in outcomes:
        s = score(corpus, o)
        notes.append(f"{o.tool} missed: {', '.join(s['missed']) or 'none'}")
        notes.append(f"{o.tool} false positives: {', '.join(s['false_ids']) or 'none'}")
    for note in notes:
        console.print(f"- {note}")

    header = (
        "# Policy pack vs checkov on IAM documents\n\n"
        f"Written by `bench/policy_vs_checkov.py` on {len(corpus)} labeled documents of `bench/corpus/iam.json` "
        f"({positives} over-broad, {len(corpus) - positives} compliant). The pack sees each document as a planned "
        "`aws:iam/policy:Policy` (or a Role's `assumeRolePolicy`), checkov as a Terraform `aws_iam_policy` "
        f"(or `aws_iam_role`). A document is flagged when any rule/check fails on it. checkov {CHECKOV_VERSION}, "
        f"Python {platform.python_version()}, {os.cpu_count()} CPUs; times are best of {args.repeats} "
        "(the in-process one best of at least 5).\n\n"
    )
    body = "\n".join(markdown(*t) for t in rendered)
    RESULTS.write_text(header + body + "\n## Notes\n\n" + "\n".join(f"- {n}" for n in notes) + "\n")
    console.log(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
