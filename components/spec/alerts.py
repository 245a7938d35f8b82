"""Where a stack's alarms go: one SNS topic per stack, created or existing (#15 item 3)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import StringConstraints

from components.spec.base import Spec
from components.spec.errors import Problem

if TYPE_CHECKING:
    from components.spec.stack import StackSpec

SnsTopicArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z\-]*:sns:[a-z0-9\-]+:\d{12}:[A-Za-z0-9_\-]{1,256}$")]


class AlertsSpec(Spec):
    topic_arn: SnsTopicArn | None = None
    """An existing SNS topic (e.g. the on-call pager's); its policy must let events.amazonaws.com and
    cloudwatch.amazonaws.com publish. Default: the stack creates `<slug>-secrets-alerts` with that policy."""


class AlertsNaming:
    """StackSpec's alert-derived values (mixed into StackSpec)."""

    @property
    def alert_topic_name(self: StackSpec) -> str:
        return f"{self.slug}-secrets-alerts"


def alert_checks(spec: StackSpec) -> list[Problem]:
    problems: list[Problem] = []
    if spec.alerts is None:
        for index, operator in enumerate(spec.operators):
            if operator.break_glass:
                problems.append(Problem(("operators", index, "break_glass"), "needs alerts: every assumption of a break-glass role raises an alert (alerts: {} creates a topic)"))
        if spec.is_prod and spec.automated_rotations():
            problems.append(Problem(("alerts",), "required in prod: a failed rotation must reach someone (alerts: {} creates a topic, or set topic_arn)"))
    return problems
