"""Smoke test of the scale bench: one run at 10 secrets writes a well-formed table and a plot.
Nothing here asserts a time: the numbers are the bench's business, the shape is ours."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_at_ten_secrets_and_writes_its_table(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "bench/plan_scale.py", "--sizes", "10", "--repeats", "1", "--out", str(tmp_path)],
                   cwd=ROOT, check=True, capture_output=True, text=True, timeout=120)
    text = (tmp_path / "RESULTS.md").read_text()
    assert (tmp_path / "RESULTS.png").read_bytes().startswith(b"\x89PNG")

    # Every table is well formed: a header, a separator with as many cells, rows with as many cells.
    tables = re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.M)
    assert len(tables) == 4
    for table in tables:
        header, separator, *rows = [line.strip("|").split("|") for line in table.splitlines()]
        assert rows and all(set(cell.strip()) <= set("-:") for cell in separator)
        assert {len(separator), *map(len, rows)} == {len(header)}

    plan_row = tables[0].splitlines()[2].strip("|").split("|")
    assert plan_row[0].strip() == "10"
    assert int(plan_row[1].replace(",", "")) > 50  # registrations: roles, keys, secrets, rotations, stores, ...
    assert re.fullmatch(r"\d+\.\d\d×", plan_row[4].strip())  # the ratio to the floor
    # Targets measured at sizes this run did not plan say so instead of passing.
    assert "| plan time ≤ 1.15× the floor at 1,000 | - | not measured |" in text
    assert re.search(r"\| policy evaluation ≤ 10% of plan time at every size \| [\d.]+% at 10 \| (met|\*\*missed\*\*) \|", text)
    assert "commit " in text and "Machine: " in text
