"""The vocabulary every rule shares: resources as plain dicts, rules, findings.

Rules are pure functions over plain dicts so the same code serves CrossGuard
(`policy/__main__.py`), the offline plan and `python -m policy check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Callable, Iterable

from documents.props import UNKNOWN_SENTINELS, Resource, is_unknown  # noqa: F401  (the rules' vocabulary)


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


@dataclass(frozen=True)
class Rule:
    id: str  # "SP-IAM-001"
    name: str  # "iam-no-action-wildcard"
    description: str
    severity: Severity
    resource_types: tuple[str, ...]
    remediation: str
    frameworks: tuple[str, ...]  # e.g. ("HIPAA 164.312(a)(1)", "SOC2 CC6.1")
    check: Callable[[Resource], list[Finding]] = field(compare=False, repr=False)

    def applies_to(self, resource: Resource) -> bool:
        return resource["type"] in self.resource_types

    def evaluate(self, resources: Iterable[Resource]) -> list[Finding]:
        return [f for r in resources if self.applies_to(r) for f in self.check(r)]


@dataclass(frozen=True)
class StackRule:
    """A rule that needs several resources at once (a secret and its rotation, a store and its users).

    `check` receives every planned resource whose type is in `resource_types`.
    """

    id: str
    name: str
    description: str
    severity: Severity
    resource_types: tuple[str, ...]
    remediation: str
    frameworks: tuple[str, ...]
    check: Callable[[list[Resource]], list[Finding]] = field(compare=False, repr=False)

    def applies_to(self, resource: Resource) -> bool:
        return resource["type"] in self.resource_types

    def evaluate(self, resources: Iterable[Resource]) -> list[Finding]:
        return self.check([r for r in resources if self.applies_to(r)])
