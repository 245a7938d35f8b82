"""The fleet against one big stack: the same estate of STACKS × PER_STACK secrets (bench/estate.py) planned
as STACKS stack files by `python -m offline fleet --jobs JOBS`, and as one stack by `python -m offline plan`,
and the raw-SDK floor of the whole estate in one process (bench/floor_program.py, via bench/plan_scale.py).
Also the repository's seven stack files (dev, prod, examples/*) by the fleet with --jobs 2 against the same
`python -m offline plan` commands one after another.

    .venv/bin/python bench/fleet.py                      # the issue's size: 10 stacks × 1,000 secrets, 2 workers
    .venv/bin/python bench/fleet.py --stacks 2 --per-stack 50 --results /tmp/RESULTS.md   # a smoke run

The full size takes 15+ minutes of both CPUs (the single 10,000-secret stack alone about 4 minutes, its
floor as long again): run it on a quiet machine. Every measurement is one run (a fresh process tree); wall
time includes interpreter and SDK start-up, the same for every side. Peak memory is each process's own
maximum resident set (wait4), the fleet's the largest of its workers.

Writes the "Fleet" section of bench/RESULTS.md (between its markers; the rest of the file is left as is;
`bench/plan_scale.py` rewrites the whole file, so run this after it).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.estate import estate  # noqa: E402
from bench.plan_scale import commit, machine, measure  # noqa: E402
from offline.fleet import run_measured  # noqa: E402

# Targets of issue #19.
FLEET_RATIO_TARGET = 0.6  # fleet wall time / one stack's
RSS_TARGET_MIB = 1024  # per process
REPOSITORY_RATIO_TARGET = 0.75  # the seven stacks with --jobs 2 / one after another
BEGIN, END = "<!-- fleet bench: begin -->", "<!-- fleet bench: end -->"


def timed(command: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak MiB, exit status); output discarded."""
    status, seconds, mib = run_measured(command, subprocess.DEVNULL, subprocess.DEVNULL, env={**os.environ, "PYTHONHASHSEED": "0"})
    return seconds, mib, status


def write_stack(directory: Path, stack: str, namespace: dict) -> Path:
    path = directory / f"Pulumi.{stack}.yaml"
    path.write_text(yaml.safe_dump({"config": {f"secrets-platform:{k}": v for k, v in namespace.items()}}, sort_keys=False))
    return path


def split_estate(directory: Path, stacks: int, per_stack: int) -> tuple[Path, Path]:
    """(a directory of `stacks` stack files of `per_stack` secrets, one stack file of all of them): the
    parts keep their own prefix so their secrets, roles and keys stay apart, as real stacks' do."""
    parts = directory / "fleet"
    parts.mkdir(parents=True)
    for n in range(stacks):
        write_stack(parts, f"part{n:02d}", {**estate(per_stack), "prefix": f"part{n:02d}/{{env}}/"})
    return parts, write_stack(directory, "whole", estate(stacks * per_stack))


def run_fleet(targets: list[str], jobs: int, out: Path) -> dict:
    seconds, coordinator_mib, status = timed([sys.executable, "-m", "offline", "fleet", *targets, "--jobs", str(jobs), "--json", str(out)])
    document = json.loads(out.read_text())
    if status != 0 or not document["clean"]:
        raise SystemExit(f"the fleet did not plan clean (exit {status}): {document['problems']}")
    return {"seconds": seconds, "worker_mib": max(s["peakMiB"] for s in document["stacks"]), "largest_mib": coordinator_mib,
            "stacks": len(document["stacks"]), "secrets": sum(s["secrets"] for s in document["stacks"])}


def plan_one(stack_file: str) -> tuple[float, float]:
    # `--json -` (to DEVNULL) as the fleet's workers do: the plan, policy, matrix and JSON, no rich tree
    seconds, mib, status = timed([sys.executable, "-m", "offline", "plan", stack_file, "--json", "-"])
    if status != 0:
        raise SystemExit(f"python -m offline plan {stack_file} exited {status}")
    return seconds, mib


def repository_stacks() -> list[str]:
    return [str(ROOT / "Pulumi.dev.yaml"), str(ROOT / "Pulumi.prod.yaml"), *sorted(str(p) for p in (ROOT / "examples").glob("*/Pulumi.*.yaml"))]


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def section(estate_row: dict | None, repository_row: dict | None, started: datetime.datetime) -> str:
    lines = [BEGIN, "## Fleet", "",
             f"Written by `bench/fleet.py` on {started:%Y-%m-%d %H:%M} UTC, commit {commit()}. Machine: {machine()}; "
             f"load average {os.getloadavg()[0]:.1f} at the end. One run per side; wall time of the whole command.", "",
             "| row | secrets | as | wall s | one stack s | ratio | floor plan s (one process, imports excluded) | peak MiB per process | floor peak MiB |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    if estate_row:
        r = estate_row
        lines.append(f"| fleet | {r['secrets']:,} | {r['stacks']} stacks × {r['per_stack']:,}, --jobs {r['jobs']} | {r['fleet_s']:.1f} | {r['single_s']:.1f} | "
                     f"{r['ratio']:.2f}× | {r['floor_s']:.1f} | {r['worker_mib']:,.0f} (the one stack: {r['single_mib']:,.0f}) | {r['floor_mib']:,.0f} |")
    if repository_row:
        r = repository_row
        lines.append(f"| repository stacks | {r['secrets']:,} | {r['stacks']} stack files, --jobs 2 | {r['fleet_s']:.1f} | {r['sequential_s']:.1f} one after another | "
                     f"{r['ratio']:.2f}× | - | {r['worker_mib']:,.0f} | - |")
    lines += ["", "| target (issue #19) | measured | verdict |", "|---|---|---|"]
    if estate_row:
        r, full = estate_row, estate_row["secrets"] == 10_000
        size = "" if full else f" (measured at {r['secrets']:,} secrets, not the target's 10,000)"
        lines.append(f"| fleet wall time ≤ {FLEET_RATIO_TARGET}× one stack{size} | {r['ratio']:.2f}× | {verdict(r['ratio'] <= FLEET_RATIO_TARGET) if full else 'not assessed'} |")
        lines.append(f"| peak memory per process ≤ {RSS_TARGET_MIB:,} MiB{size} | {r['worker_mib']:,.0f} MiB (largest process of the fleet, coordinator included: "
                     f"{r['largest_mib']:,.0f} MiB) | {verdict(max(r['worker_mib'], r['largest_mib']) <= RSS_TARGET_MIB) if full else 'not assessed'} |")
    else:
        lines.append("| fleet against one stack of 10,000 secrets | - | not measured |")
    if repository_row:
        lines.append(f"| the seven stacks with --jobs 2 ≤ {REPOSITORY_RATIO_TARGET}× one after another | {repository_row['ratio']:.2f}× | "
                     f"{verdict(repository_row['ratio'] <= REPOSITORY_RATIO_TARGET)} |")
    else:
        lines.append("| the seven stacks with --jobs 2 against one after another | - | not measured |")
    return "\n".join([*lines, "", END]) + "\n"


def write_section(results: Path, text: str) -> None:
    """Replace the fleet section of `results`, or append it; nothing else of the file changes."""
    current = results.read_text() if results.exists() else ""
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        current = head + rest.split(END, 1)[1].lstrip("\n")
    results.write_text(current.rstrip("\n") + ("\n\n" if current.strip() else "") + text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stacks", type=int, default=10)
    parser.add_argument("--per-stack", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--parts", nargs="+", choices=("estate", "repository"), default=["estate", "repository"])
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "RESULTS.md")
    args = parser.parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)

    def log(message: str) -> None:
        print(f"[{datetime.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)

    estate_row = repository_row = None
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as scratch:
        scratch = Path(scratch)
        if "estate" in args.parts:
            parts, whole = split_estate(scratch, args.stacks, args.per_stack)
            fleet = run_fleet([str(parts)], args.jobs, scratch / "fleet.json")
            log(f"fleet of {args.stacks} × {args.per_stack}: {fleet['seconds']:.1f} s, {fleet['worker_mib']:,.0f} MiB per worker at most")
            single_s, single_mib = plan_one(str(whole))
            log(f"one stack of {args.stacks * args.per_stack}: {single_s:.1f} s, {single_mib:,.0f} MiB")
            floor = measure("floor", args.stacks * args.per_stack)
            log(f"floor of {args.stacks * args.per_stack}: {floor['seconds']:.1f} s, {floor['peak_mib']:,.0f} MiB")
            estate_row = {**fleet, "per_stack": args.per_stack, "jobs": args.jobs, "fleet_s": fleet["seconds"], "single_s": single_s,
                          "single_mib": single_mib, "ratio": fleet["seconds"] / single_s, "floor_s": floor["seconds"], "floor_mib": floor["peak_mib"]}
        if "repository" in args.parts:
            stacks = repository_stacks()
            sequential_s = sum(plan_one(stack)[0] for stack in stacks)
            log(f"{len(stacks)} repository stacks one after another: {sequential_s:.1f} s")
            fleet = run_fleet(stacks, 2, scratch / "repository.json")
            log(f"{len(stacks)} repository stacks, fleet --jobs 2: {fleet['seconds']:.1f} s")
            repository_row = {**fleet, "fleet_s": fleet["seconds"], "sequential_s": sequential_s, "ratio": fleet["seconds"] / sequential_s}
    write_section(args.results, section(estate_row, repository_row, started))
    log(f"wrote the fleet section of {args.results}")


if __name__ == "__main__":
    main()
