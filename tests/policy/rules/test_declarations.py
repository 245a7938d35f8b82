"""How rules are declared: each id written once in policy/rules (in its Rule), every module's rules in
ALL_RULES, and the pack's modules small enough to read."""

from __future__ import annotations

import re
from pathlib import Path

import policy
from policy.rules import ALL_RULES

POLICY_DIR = Path(policy.__file__).parent
ID = re.compile(r"SP-[A-Z0-9]+-\d+")


def test_each_rule_id_is_written_once():
    sources = {path: path.read_text(encoding="utf-8") for path in (POLICY_DIR / "rules").glob("*.py")}
    quoted = [found for text in sources.values() for found in re.findall(rf'"({ID.pattern})"', text)]
    assert sorted(quoted) == sorted(rule.id for rule in ALL_RULES)
    assert not any("Finding(" in text for path, text in sources.items() if path.name != "base.py")


def test_every_module_is_under_700_lines():
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in POLICY_DIR.rglob("*.py")}
    assert max(sizes.values()) < 700, sizes
