"""Smoke test of the fleet bench at a tiny size: it plans the split estate with the fleet, the whole as one
stack and the floor, and writes its section into an existing RESULTS.md without touching the rest.
Nothing here asserts a time; a target measured below the issue's size says "not assessed"."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.fleet import BEGIN, END, write_section

ROOT = Path(__file__).resolve().parents[2]


def test_fleet_bench_writes_its_section_and_keeps_the_rest(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Offline plan at scale\n\nthe scale bench's tables\n")
    command = [sys.executable, "bench/fleet.py", "--parts", "estate", "--stacks", "2", "--per-stack", "10", "--results", str(results)]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True, timeout=300)
    first = results.read_text()
    write_section(results, first.split(BEGIN)[1].split(END)[0].join([BEGIN, END]) + "\n")  # a rerun replaces the section
    text = results.read_text()
    assert text == first
    assert text.startswith("# Offline plan at scale\n\nthe scale bench's tables\n\n<!-- fleet bench: begin -->\n## Fleet\n")
    assert text.count("## Fleet") == 1 and text.endswith("<!-- fleet bench: end -->\n")
    row = re.search(r"^\| fleet \| 20 \| 2 stacks × 10, --jobs 2 \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)× \|", text, flags=re.M)
    assert row and float(row[1]) > 0 and float(row[2]) > 0
    assert abs(float(row[3]) - float(row[1]) / float(row[2])) < 0.05
    assert "| fleet wall time ≤ 0.6× one stack (measured at 20 secrets, not the target's 10,000) |" in text and "not assessed" in text
    assert "| the seven stacks with --jobs 2 against one after another | - | not measured |" in text
