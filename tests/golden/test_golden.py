"""Each committed stack plans exactly as its golden copy (tests/golden/plans/): refactors change no plan."""

from __future__ import annotations

import difflib

import pytest

from tests.golden.plans import STACKS, golden_path, plan_json, render


@pytest.mark.parametrize("stack", list(STACKS))
def test_plan_equals_golden(stack):
    expected = golden_path(stack).read_text()
    actual = render(plan_json(stack))
    if actual != expected:
        diff = "".join(list(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), "golden", "plan"))[:80])
        pytest.fail(f"the plan of {stack} differs from {golden_path(stack).name} "
                    f"(a deliberate change: `python -m tests.golden.plans`):\n{diff}")
