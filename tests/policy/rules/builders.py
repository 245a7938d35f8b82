"""What every rule test builds with: resources as the engine sees them, a copy of a compliant fixture with one
mutation, findings filtered by rule, malformed variants, the shared seeds and schemas, and this project's own
planned AWS output (the dev and prod stacks and the examples, planned once per session).

A rule test is a compliant fixture (silent under every rule of its module) plus one mutation per violation,
each of which must fire its rule (the pulumi/compliance-policies way). Tests name rules by their object
(`aws_kms.KMS_KEY_ROTATION.id`), never by a retyped id."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Mapping

from hypothesis import strategies as st

from documents.props import UNKNOWN_SENTINELS
from policy.rules.base import Finding, Rule, StackRule

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # the engine's unknown string
assert UNKNOWN in UNKNOWN_SENTINELS
ACCOUNT = "123456789012"
REGION = "us-east-1"
DELETE = object()  # a mutation's value that removes the key


def resource(type_: str, name: str, /, **props: Any) -> dict:
    return {"type": type_, "urn": f"urn:pulumi:prod::secrets-platform::{type_}::{name}", "name": name, "props": props}


def mutated(fixture: dict, changes: Mapping[str, Any] | None = None, /, **props: Any) -> dict:
    """A deep copy of `fixture` with its props changed: `changes` by dotted path ("spec.conditions", "rules.0.verbs";
    list indexes are numbers), `props` at the top level. DELETE removes the key."""
    out = copy.deepcopy(fixture)
    for path, value in {**(changes or {}), **props}.items():
        *parents, last = path.split(".") if changes and path in changes else [path]
        target = out["props"]
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        key = int(last) if isinstance(target, list) else last
        if value is DELETE:
            del target[key]
        else:
            target[key] = copy.deepcopy(value)
    return out


def document(*statements: dict, as_json: bool = True) -> Any:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    return json.dumps(doc) if as_json else doc


def run(module: ModuleType, *resources: dict) -> list[Finding]:
    """Every finding of the module's rules over the resources (stack rules see them all at once); each
    finding must carry the id of the rule that made it."""
    out = []
    for rule in module.RULES:
        found = rule.evaluate(list(resources))
        assert all(f.rule_id == rule.id for f in found), f"{rule.id} reported a finding under another id"
        out += found
    return out


def decided(findings: list[Finding], rule_id: str | None = None) -> list[str]:
    """The messages of the decided findings (of one rule, given its id)."""
    return [f.message for f in findings if not f.undecided and rule_id in (None, f.rule_id)]


def undecided_ids(findings: list[Finding]) -> set[str]:
    return {f.rule_id for f in findings if f.undecided}


def check_metadata(rules: list[Rule | StackRule], prefixes: tuple[str, ...]) -> None:
    ids = [r.id for r in rules]
    assert len(ids) == len(set(ids)) and all(i.startswith(prefixes) for i in ids)
    assert all(r.name and r.description and r.remediation and r.frameworks and r.resource_types for r in rules)


# --- malformed input: rules must never crash on it (they may stay silent: the provider rejects such inputs) ---

JUNK = (None, 1, "x", [1], {"k": 1})


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    if path:
        yield path
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


def malformed(resource: dict) -> Iterator[dict]:
    """Every node of the resource's props replaced in turn by junk of another shape."""
    for path in _paths(resource["props"]):
        for junk in JUNK:
            changed = copy.deepcopy(resource)
            target = changed["props"]
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = junk
            yield changed


# Any JSON-shaped value, biased towards policy vocabulary so generated documents reach deep into the parser.
_WORDS = ["Statement", "Effect", "Action", "NotAction", "Resource", "NotResource", "Principal", "NotPrincipal", "Condition", "AWS",
          "Service", "Federated", "StringLike", "ForAnyValue:StringEqualsIfExists", "aws:PrincipalOrgID", "kms:ViaService", "Allow", "Deny",
          "*", "kms:*", "iam:Pass*", "sts:AssumeRoleWithWebIdentity", "arn:aws:kms:*:*:key/*", "arn:aws:iam::123456789012:root", UNKNOWN]
POLICY_SHAPES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=6) | st.sampled_from(_WORDS),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_WORDS) | st.text(max_size=3), inner, max_size=5),
    max_leaves=30,
)


# --- documents and plans outside the rules ------------------------------------------------------------------

def shared_dir(*parts: str) -> Path:
    """A folder of the project's `shared/` sibling (seeds, schemas): beside /work/main, and above a worktree
    nested one level deeper (/work/wt/<name>)."""
    from offline.run import PROJECT_DIR

    candidates = [d.joinpath("shared", *parts) for d in PROJECT_DIR.parents]
    return next((c for c in candidates if c.is_dir()), candidates[0])


@cache
def own_stacks() -> tuple[tuple[dict, ...], ...]:
    """The AWS resources this project plans, stack by stack (stack rules see one stack at a time):
    the dev and prod stacks and the EMR and PhaGen examples."""
    from offline.run import PROJECT_DIR, plan_stack

    stacks = ("dev", "prod", str(PROJECT_DIR / "examples/emr/Pulumi.emr-prod.yaml"), str(PROJECT_DIR / "examples/phagen/Pulumi.phagen-prod.yaml"))
    return tuple(tuple(r for r in plan_stack(stack).policy_resources() if r["type"].startswith("aws:")) for stack in stacks)


def own_types() -> set[str]:
    return {r["type"] for stack in own_stacks() for r in stack}
