"""The one evaluation path: rules over planned resources, then enforcement levels and exceptions.

CrossGuard (`policy/__main__.py`), the offline plan and `python -m policy check` all call `evaluate`, so a
finding, an exception or an expiry means the same thing everywhere.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Iterable, Sequence

from policy.rules import ALL_RULES
from policy.rules._util import HIPAA_ACCESS, SOC2_ACCESS
from policy.rules.base import STACK_ENVIRONMENT, Finding, Resource, Rule, Severity, StackRule
from policy.settings import Enforcement, PackSettings, PolicyException

# Reported for an exception past its expiry date, at the level of the rule it excepted.
EXCEPTION_EXPIRED = Rule(
    id="SP-EXC-001",
    name="exception-expired",
    description="A policy exception past its expiry date no longer suppresses findings and must be reviewed again.",
    severity=Severity.MEDIUM,
    resource_types=(),
    remediation="Fix the resource and delete the exception, or renew it after review with a new reason and expiry date.",
    frameworks=(HIPAA_ACCESS, SOC2_ACCESS),
    check=lambda rule, resource: [],
)


def logical_name(urn: str) -> str:
    """The resource's name: the last `::` segment of `urn:pulumi:<stack>::<project>::<type>::<name>`."""
    return urn.rsplit("::", 1)[-1]


def _name(resource: Resource) -> str:
    return resource.get("name") or logical_name(resource["urn"])


@dataclass(frozen=True)
class Violation:
    rule_id: str
    rule_name: str
    severity: Severity
    urn: str
    resource_type: str
    resource_name: str
    enforcement: Enforcement
    message: str
    remediation: str
    undecided: bool = False  # a value unknown at preview kept the rule from deciding
    suppressed_by: PolicyException | None = None


@dataclass(frozen=True)
class ExceptionUse:
    """An exception in force and what it did: applied, unused, expired, or rule disabled."""

    exception: PolicyException
    status: str
    suppressed: int = 0


@dataclass(frozen=True)
class Report:
    violations: tuple[Violation, ...]
    suppressed: tuple[Violation, ...]  # findings an exception covers, kept for the record
    exceptions: tuple[ExceptionUse, ...]
    rules: tuple[Rule | StackRule, ...]  # the rules evaluated (not disabled), SP-EXC-001 when it fired
    resources: int
    environment: str
    # Ids of the rules that found at least one resource of their types in the plan; None: not recorded (all count).
    applicable: frozenset[str] | None = None
    # Rule id -> the reasons it did not assess (audit run elsewhere): neither a violation nor a pass.
    not_assessed: tuple[tuple[str, str], ...] = ()

    @property
    def blocking(self) -> bool:
        return any(v.enforcement is Enforcement.MANDATORY for v in self.violations)

    @property
    def counts(self) -> dict[str, int]:
        levels = Counter(v.enforcement.value for v in self.violations)
        return {
            "resources": self.resources,
            "rules": len(self.rules),
            "mandatory": levels["mandatory"],
            "advisory": levels["advisory"],
            "undecided": sum(v.undecided for v in self.violations),
            "suppressed": len(self.suppressed),
            "exceptions": len(self.exceptions),
            "expiredExceptions": sum(e.status == "expired" for e in self.exceptions),
        }


def preview_level(level: Enforcement, finding: Finding) -> Enforcement:
    """A finding left undecided by a value unknown at preview is reported as advisory, never dropped.

    Unknowns are other resources' outputs (a new secret's ARN), so blocking on them would block every
    change that adds a secret with its grant. The same rule runs again under `pulumi up`, when those
    values are known, and a mandatory violation blocks the update there before the resource is
    created. A rule that failed is different: it stays at its level (fail closed).
    """
    if finding.undecided and not finding.error and level is Enforcement.MANDATORY:
        return Enforcement.ADVISORY
    return level


def _findings(rule: Rule | StackRule, resources: Sequence[Resource]) -> list[Finding]:
    """The rule's findings; a rule that fails on a resource yields an undecided finding instead of a pass
    (its error text is not kept: it could quote a secret input)."""

    def failed(urn: str, error: Exception) -> Finding:
        return Finding(rule.id, urn, f"the rule failed on this resource ({type(error).__name__}) and could not check it", undecided=True, error=True)

    if isinstance(rule, StackRule):
        try:
            return rule.evaluate(resources)
        except Exception as error:  # noqa: BLE001 - fail closed, see docstring
            return [failed("", error)]
    out = []
    for resource in resources:
        if rule.applies_to(resource):
            try:
                out.extend(rule.findings(resource))
            except Exception as error:  # noqa: BLE001
                out.append(failed(resource["urn"], error))
    return out


def evaluate(
    resources: Iterable[Resource],
    settings: PackSettings,
    rules: Iterable[Rule | StackRule] = ALL_RULES,
    today: date | None = None,
    whole_stack: bool = True,
) -> Report:
    """Run every rule not disabled, apply exceptions, and report.

    `whole_stack` says `resources` is the whole planned stack, so an expired exception is reported even when its
    resource is not planned; CrossGuard's per-resource policies pass False and report it on the resource it names.
    """
    # Rules that depend on the environment read the stack's when a resource carries no environment tag.
    resources = [r if STACK_ENVIRONMENT in r else {**r, STACK_ENVIRONMENT: settings.environment} for r in resources]
    today = today or datetime.now(timezone.utc).date()
    by_urn = {r["urn"]: r for r in resources}
    active = [rule for rule in rules if settings.level(rule.id) is not Enforcement.DISABLED]
    active_ids = {rule.id for rule in active}
    in_force = [e for e in settings.exceptions if e.rule_id in active_ids and not e.expired(today)]
    violations, suppressed, used, not_assessed = [], [], Counter(), []

    for rule in active:
        level = settings.level(rule.id)
        if rule.advisory_only and level is Enforcement.MANDATORY:
            level = Enforcement.ADVISORY
        for finding in _findings(rule, resources):
            if finding.not_assessed:
                not_assessed.append((rule.id, finding.message))
                continue
            resource = by_urn.get(finding.urn, {"urn": finding.urn})
            violation = Violation(
                rule.id, rule.name, rule.severity, finding.urn, resource.get("type", ""), _name(resource),
                preview_level(level, finding), finding.message, rule.remediation, finding.undecided,
            )
            exception = next((e for e in in_force if e.rule_id == rule.id and e.matches(violation.urn, violation.resource_name)), None)
            if exception:
                used[exception] += 1
                suppressed.append(replace(violation, suppressed_by=exception))
            else:
                violations.append(violation)

    uses = []
    for exception in settings.exceptions:
        if exception.rule_id not in active_ids:
            uses.append(ExceptionUse(exception, "rule disabled"))
        elif exception.expired(today):
            uses.append(ExceptionUse(exception, "expired"))
            target = next((r for r in resources if exception.matches(r["urn"], _name(r))), None)
            if target is None and not whole_stack:
                continue
            violations.append(Violation(
                EXCEPTION_EXPIRED.id, EXCEPTION_EXPIRED.name, EXCEPTION_EXPIRED.severity,
                target["urn"] if target else exception.resource, target["type"] if target else "",
                _name(target) if target else exception.resource,
                settings.level(exception.rule_id),
                f"the exception to {exception.rule_id} for {exception.resource} expired on {exception.expires.isoformat()} "
                f"({exception.where}): it no longer suppresses findings",
                EXCEPTION_EXPIRED.remediation,
            ))
        else:
            uses.append(ExceptionUse(exception, "applied" if used[exception] else "unused", used[exception]))

    fired = (EXCEPTION_EXPIRED,) if any(v.rule_id == EXCEPTION_EXPIRED.id for v in violations) else ()
    order = lambda v: (v.urn, v.rule_id, v.message)  # noqa: E731 - stable output across runs
    return Report(
        tuple(sorted(violations, key=order)), tuple(sorted(suppressed, key=order)), tuple(uses),
        tuple(active) + fired, len(resources), settings.environment,
        frozenset(rule.id for rule in active if any(rule.applies_to(r) for r in resources)) | {r.id for r in fired},
        tuple(sorted(set(not_assessed))),
    )
