"""Offline plan time and peak memory of the platform vs a hand-written raw-SDK floor, in one run.

Each measurement is a fresh process (the Pulumi runtime holds one root stack per process);
the best of REPEATS is kept. Time covers running the program under mocks until every
registration completes; imports are excluded (they are the same for both).

    .venv/bin/python bench/plan_scale.py [--sizes 10 100 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
from bench.estate import estate
import pulumi_aws, pulumi  # imports outside the timed part, for both modes
from offline.run import plan_program, PROJECT_DIR
from tests.conftest import to_config
mode, size = sys.argv[1], int(sys.argv[2])
raw = estate(size)
if mode == "platform":
    program, config = PROJECT_DIR / "__main__.py", to_config(raw)
else:
    os.environ["BENCH_ESTATE"] = json.dumps(raw)
    program, config = PROJECT_DIR / "bench" / "floor_program.py", {{}}
import components.platform  # noqa: F401  (import cost excluded for the platform too)
start = time.perf_counter()
plan = plan_program("secrets-platform", "bench", config, [], program)
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "resources": sum(r.custom for r in plan.resources),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def measure(mode: str, size: int) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), mode, str(size)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    if result.returncode != 0:
        raise SystemExit(f"{mode} {size} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    rows = []
    for size in args.sizes:
        best = {}
        for mode in ("floor", "platform"):
            runs = [measure(mode, size) for _ in range(args.repeats)]
            best[mode] = min(runs, key=lambda r: r["seconds"]) | {"peak_mib": max(r["peak_mib"] for r in runs)}
            console.log(f"{size:>6} secrets {mode:>8}: {best[mode]['seconds']:.2f}s, {best[mode]['resources']} resources, {best[mode]['peak_mib']:.0f} MiB")
        rows.append((size, best["floor"], best["platform"]))

    table = Table(title="Offline plan: platform vs raw-SDK floor (best of %d)" % args.repeats)
    for column in ("secrets", "resources (floor/platform)", "floor s", "platform s", "ratio", "ms/secret", "floor MiB", "platform MiB"):
        table.add_column(column, justify="right")
    lines = ["| secrets | resources (floor/platform) | floor s | platform s | ratio | ms/secret | floor MiB | platform MiB |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for size, floor, platform in rows:
        cells = (str(size), f"{floor['resources']}/{platform['resources']}", f"{floor['seconds']:.2f}", f"{platform['seconds']:.2f}",
                 f"{platform['seconds'] / floor['seconds']:.2f}x", f"{1000 * platform['seconds'] / size:.1f}", f"{floor['peak_mib']:.0f}", f"{platform['peak_mib']:.0f}")
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    (ROOT / "bench" / "RESULTS-plan.md").write_text("# Offline plan scale\n\nWritten by `bench/plan_scale.py`.\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
