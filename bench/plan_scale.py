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
    os.environ["BENCH_COMPONENTS"] = "1" if mode == "floor" else "0"
    program, config = PROJECT_DIR / "bench" / "floor_program.py", {{}}
import components.platform  # noqa: F401  (import cost excluded for the platform too)
start = time.perf_counter()
plan = plan_program("secrets-platform", "bench", config, [], program)
elapsed = time.perf_counter() - start
print(json.dumps({{"seconds": elapsed, "resources": sum(r.custom for r in plan.resources),
                  "urns": sorted(r.urn for r in plan.resources),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


MODES = ("floor", "floor-custom", "platform")


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
    console = Console(width=160)
    rows = []
    for size in args.sizes:
        best = {}
        for mode in MODES:
            runs = [measure(mode, size) for _ in range(args.repeats)]
            best[mode] = min(runs, key=lambda r: r["seconds"]) | {"peak_mib": max(r["peak_mib"] for r in runs)}
            console.log(f"{size:>6} secrets {mode:>13}: {best[mode]['seconds']:.2f}s, {len(best[mode]['urns'])} registrations, {best[mode]['peak_mib']:.0f} MiB")
        # Fairness: the floor must make exactly the platform's registrations.
        if best["floor"]["urns"] != best["platform"]["urns"]:
            raise SystemExit(f"floor and platform differ at {size}: {set(best['floor']['urns']) ^ set(best['platform']['urns'])}")
        rows.append((size, best))

    headers = ("secrets", "registrations", "floor s", "platform s", "ratio", "ms/secret", "floor MiB", "platform MiB", "custom-only floor s", "ratio to it")
    table = Table(title=f"Offline plan: platform vs raw-SDK floor (best of {args.repeats})")
    for column in headers:
        table.add_column(column, justify="right")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---:|" * len(headers)]
    for size, best in rows:
        floor, platform, custom = best["floor"], best["platform"], best["floor-custom"]
        cells = (
            str(size), str(len(platform["urns"])), f"{floor['seconds']:.2f}", f"{platform['seconds']:.2f}",
            f"{platform['seconds'] / floor['seconds']:.2f}x", f"{1000 * platform['seconds'] / size:.1f}",
            f"{floor['peak_mib']:.0f}", f"{platform['peak_mib']:.0f}", f"{custom['seconds']:.2f}", f"{platform['seconds'] / custom['seconds']:.2f}x",
        )
        table.add_row(*cells)
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    (ROOT / "bench" / "RESULTS-plan.md").write_text(
        "# Offline plan scale\n\nWritten by `bench/plan_scale.py`. *floor*: a hand-written raw-SDK program making the same "
        "registrations (URNs checked equal); *custom-only floor*: the same without component resources.\n\n" + "\n".join(lines) + "\n"
    )


if __name__ == "__main__":
    main()
