"""Shared by the AWS rule tests: resource builders, finding filters, and this project's own planned
AWS output (the dev and prod stacks and the examples, planned once per session)."""

from __future__ import annotations

import json
from functools import cache
from types import ModuleType
from typing import Any

from hypothesis import strategies as st

from documents.props import UNKNOWN_SENTINELS
from policy.rules.base import Finding, Rule, StackRule

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown string
assert UNKNOWN in UNKNOWN_SENTINELS
ACCOUNT = "123456789012"
REGION = "us-east-1"


# Any JSON-shaped value, biased towards policy vocabulary so generated documents reach deep into the parser.
_WORDS = ["Statement", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition", "AWS",
          "Service", "Federated", "StringLike", "ForAnyValue:StringEqualsIfExists", "aws:PrincipalOrgID", "kms:ViaService", "Allow", "Deny",
          "*", "kms:*", "iam:Pass*", "sts:AssumeRoleWithWebIdentity", "arn:aws:kms:*:*:key/*", "arn:aws:iam::123456789012:root", UNKNOWN]
POLICY_SHAPES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=6) | st.sampled_from(_WORDS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_WORDS) | st.text(max_size=3), inner, max_size=5),
    max_leaves=30,
)


def resource(type_: str, name: str, /, **props: Any) -> dict:
    return {"type": type_, "urn": f"urn:pulumi:prod::secrets-platform::{type_}::{name}", "name": name, "props": props}


def document(*statements: dict, as_json: bool = True) -> Any:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return json.dumps(doc) if as_json else doc


def run(module: ModuleType, *resources: dict) -> list[Finding]:
    return [f for rule in module.RULES for f in rule.evaluate(list(resources))]


def decided(findings: list[Finding], rule_id: str | None = None) -> list[str]:
    return [f.message for f in findings if not f.undecided and rule_id in (None, f.rule_id)]


def undecided_ids(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings if f.undecided}


def check_metadata(rules: list[Rule | StackRule], prefixes: tuple[str, ...]) -> None:
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)) and all(i.startswith(prefixes) for i in ids)
    assert all(r.name and r.description and r.remediation and r.frameworks and r.resource_types for r in rules)


@cache
def own_stacks() -> tuple[tuple[dict, ...], ...]:
    """The AWS resources this project plans, stack by stack (stack rules see one stack at a time):
    the dev and prod stacks and the EMR and PhaGen examples."""
    from offline.run import PROJECT_DIR, plan_stack

    stacks = ("dev", "prod", str(PROJECT_DIR / "examples/emr/Pulumi.emr-prod.yaml"), str(PROJECT_DIR / "examples/phagen/Pulumi.phagen-prod.yaml"))
    return tuple(tuple(r for r in plan_stack(stack).policy_resources() if r["type"].startswith("aws:")) for stack in stacks)


def own_types() -> set[str]:
    return {r["type"] for stack in own_stacks() for r in stack}
