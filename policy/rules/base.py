"""The vocabulary every rule shares: resources as plain dicts, rules, findings.

Rules are pure functions over plain dicts so the same code serves CrossGuard
(`policy/__main__.py`), the offline plan and `python -m policy check`. A rule is declared on its check, its
metadata beside it and the check's docstring as its description:

    @rule(id="SP-KMS-NNN", name="kms-key-rotation", severity=Severity.MEDIUM, resource_types=(KEY,),
          frameworks=(HIPAA_ACCESS, SOC2_ACCESS), remediation="Set enableKeyRotation: true.")
    def KMS_KEY_ROTATION(rule: Rule, resource: Resource) -> list[Finding]:
        # docstring: what the rule finds and why it matters (the rule's description)
        ...

`KMS_KEY_ROTATION` is then the Rule (not a function); the check builds its findings through `rule`, so the id is
written once. A check written over one statement or document stacks its module's adapter under the rule
(`@rule(...)`, `@_identity`, `@per_statement`, `def NO_ACTION_WILDCARD(s: Statement) -> list[Issue]`); the adapters
keep the docstring.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from inspect import getdoc
from typing import Callable, Iterable

from documents.props import UNKNOWN_SENTINELS, Resource, is_unknown  # noqa: F401  (the rules' vocabulary)


# The key under which the engine hands each resource its stack's environment (prod, staging, dev).
STACK_ENVIRONMENT = "stackEnvironment"
PROD_ENVIRONMENTS = frozenset({"prod", "production"})


def is_prod(resource: Resource, tag: object) -> bool | None:
    """Whether a resource is prod. Its `environment` tag decides when it has one (`tag`); without a tag the stack's
    environment does, so an untagged resource in a prod stack is prod. None when the tag is unknown at preview, or
    neither is known (a rule called without the engine)."""
    if is_unknown(tag):
        return None
    if isinstance(tag, str) and tag:
        return tag.lower() in PROD_ENVIRONMENTS
    stack = resource.get(STACK_ENVIRONMENT)
    return stack.lower() in PROD_ENVIRONMENTS if isinstance(stack, str) else None


class Severity(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class Finding:
    """One violation. `message` names the resource's part (statement, path) and never a secret value."""

    rule_id: str
    urn: str
    message: str
    # True when the rule could not decide because a value is unknown at preview.
    undecided: bool = False
    # True when the rule itself failed on this resource (the engine fails closed on it).
    error: bool = False
    # True when the rule did not check at all because the control is run outside the stack (audit `elsewhere`):
    # `message` is the declared reason. Never a violation; the compliance view shows the rule "not assessed".
    not_assessed: bool = False


@dataclass(frozen=True, kw_only=True)
class _RuleBase:
    """What every rule declares once, beside its check; findings are built here so the id is written once."""

    id: str  # "SP-<DOMAIN>-<NNN>", written only here
    name: str  # "iam-no-action-wildcard"
    description: str
    severity: Severity
    resource_types: tuple[str, ...]
    remediation: str
    frameworks: tuple[str, ...]  # e.g. ("HIPAA 164.312(a)(1)", "SOC2 CC6.1")
    # A finding to review, never to block on (own-account root trust): reported at advisory at most, whatever the level.
    advisory_only: bool = False
    # Types a StackRule also reads without being applicable because of them (the audit declarations): a plan holding
    # only these leaves the rule "not applicable".
    context_types: tuple[str, ...] = ()
    # Whether a resource of its types gives the rule something to check (e.g. only prod ones); None: every one. A plan
    # without such a resource leaves the rule "not applicable" rather than "pass".
    applicable: Callable[[Resource], bool] | None = field(default=None, compare=False, repr=False)

    def applies_to(self, resource: Resource) -> bool:
        return resource["type"] in self.resource_types and (self.applicable is None or self.applicable(resource))

    def finding(self, resource: Resource, message: str, *, undecided: bool = False) -> Finding:
        return Finding(self.id, resource["urn"], message, undecided=undecided)

    def not_assessed(self, resource: Resource, reason: str) -> Finding:
        """The control is run outside the stack, for `reason`: nothing was checked, nothing passes."""
        return Finding(self.id, resource["urn"], reason, not_assessed=True)

    def undecided(self, resource: Resource, what: str) -> Finding:
        """The rule could not decide because `what` is unknown at preview."""
        return self.finding(resource, f"could not decide: {what} is unknown at preview", undecided=True)

    def require(self, resource: Resource, what: str, value: object, holds: bool, problem: str) -> list[Finding]:
        """One property decides: undecided while `value` (the property at `what`) is unknown at preview, else the
        finding `problem` unless the rule `holds` for it."""
        if is_unknown(value):
            return [self.undecided(resource, what)]
        return [] if holds else [self.finding(resource, problem)]


@dataclass(frozen=True, kw_only=True)
class Rule(_RuleBase):
    """A rule over one resource at a time. `check(rule, resource)` builds its findings through `rule`."""

    check: Callable[[Rule, Resource], list[Finding]] = field(compare=False, repr=False)

    def findings(self, resource: Resource) -> list[Finding]:
        return self.check(self, resource)

    def evaluate(self, resources: Iterable[Resource]) -> list[Finding]:
        return [f for r in resources if self.applies_to(r) for f in self.findings(r)]


@dataclass(frozen=True, kw_only=True)
class StackRule(_RuleBase):
    """A rule that needs several resources at once (a secret and its rotation, a store and its users).

    `check(rule, resources)` receives every planned resource whose type is in `resource_types`.
    """

    check: Callable[[StackRule, list[Resource]], list[Finding]] = field(compare=False, repr=False)

    def evaluate(self, resources: Iterable[Resource]) -> list[Finding]:
        return self.check(self, [r for r in resources if self.applies_to(r) or r["type"] in self.context_types])


def _described(check: Callable, metadata: dict) -> dict:
    """A rule's metadata with its description: the check's docstring as one line (what the rule finds and why it
    matters), unless the declaration gives one (a description computed from constants)."""
    if "description" in metadata:
        return metadata
    doc = getdoc(check)
    if not doc:
        raise ValueError(f"{check.__name__}: a rule's check needs a docstring (the rule's description)")
    return {**metadata, "description": " ".join(doc.split())}


def rule(**metadata) -> Callable[[Callable[[Rule, Resource], list[Finding]]], Rule]:
    """Declares a Rule on its check: `@rule(id=..., name=..., severity=..., resource_types=..., frameworks=...,
    remediation=...)` above `def NAME(rule, resource)`, whose docstring is the description. NAME is the Rule."""
    return lambda check: Rule(check=check, **_described(check, metadata))


def stack_rule(**metadata) -> Callable[[Callable[[StackRule, list[Resource]], list[Finding]]], StackRule]:
    """`rule` for a StackRule: `@stack_rule(...)` above `def NAME(rule, resources)`."""
    return lambda check: StackRule(check=check, **_described(check, metadata))
