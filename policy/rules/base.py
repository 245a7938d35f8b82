"""The vocabulary every rule shares: resources as plain dicts, rules, findings.

Rules are pure functions over plain dicts so the same code serves CrossGuard
(`policy/__main__.py`), the offline plan and `python -m policy check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable, Iterable, Mapping

# A planned resource as every entry point hands it to the rules:
#   {"type": "aws:iam/rolePolicy:RolePolicy", "urn": "urn:pulumi:...", "name": "api-access",
#    "props": {... Pulumi camelCase input properties ...}}
Resource = Mapping[str, Any]

# The engine's sentinels for values not known at preview (the same strings that
# `pulumi preview --json` writes and pulumi_policy's proxy recognises).
UNKNOWN_SENTINELS = frozenset(
    {
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


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
