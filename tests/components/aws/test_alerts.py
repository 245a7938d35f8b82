"""Watching (#15 item 3): one alert topic per stack; failed rotations, rotation function errors and every
assumption of a break-glass role reach it."""

from __future__ import annotations

import copy
import json

import pytest

from components.config import ConfigError, parse_stack_spec
from tests.conftest import by_type, plan_raw, stack_namespace

BREAK_GLASS_ROLE = "arn:aws:iam::123456789012:role/break-glass"
RULE, TARGET, ALARM = "aws:cloudwatch/eventRule:EventRule", "aws:cloudwatch/eventTarget:EventTarget", "aws:cloudwatch/metricAlarm:MetricAlarm"


@pytest.fixture(scope="module")
def plan():
    raw = copy.deepcopy(stack_namespace("prod"))
    raw["operators"].append({"name": "break-glass", "aws_role_arn": BREAK_GLASS_ROLE, "reads": ["pii-encryption"], "break_glass": True})
    return plan_raw(raw, "prod")


def test_failed_and_abandoned_rotations_reach_the_stack_topic(plan):
    (topic,) = by_type(plan, "aws:sns/topic:Topic").values()
    assert topic.inputs["name"] == "autolytiq-prod-secrets-alerts" and topic.inputs["kmsMasterKeyId"] == "alias/aws/sns"
    rules = {r.inputs["name"]: json.loads(r.inputs["eventPattern"]) for r in by_type(plan, RULE).values()}
    failed = rules["autolytiq-prod-secrets-alerts-rotation-failed"]
    assert failed["detail-type"] == ["AWS Service Event via CloudTrail"]
    assert failed["detail"]["eventName"] == ["RotationFailed", "RotationAbandoned"]
    assert {t.inputs["arn"] for t in by_type(plan, TARGET).values()} == {topic.outputs["arn"]}
    policy = json.loads(by_type(plan, "aws:sns/topicPolicy:TopicPolicy")["alerts-topic-policy"].inputs["policy"])
    assert policy["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_each_rotation_function_has_an_error_alarm(plan):
    alarms = {a.inputs["dimensions"]["FunctionName"]: a.inputs for a in by_type(plan, ALARM).values()}
    functions = {r.inputs["name"] for r in by_type(plan, "aws:lambda/function:Function").values()}
    assert set(alarms) == functions and functions
    for alarm in alarms.values():
        assert (alarm["namespace"], alarm["metricName"], alarm["comparisonOperator"], alarm["threshold"]) == ("AWS/Lambda", "Errors", "GreaterThanThreshold", 0)
        assert alarm["alarmActions"] == [by_type(plan, "aws:sns/topic:Topic")["alerts-topic"].outputs["arn"]]


@pytest.mark.drill
def test_every_break_glass_assumption_raises_an_alert(plan):
    rules = {r.inputs["name"]: json.loads(r.inputs["eventPattern"]) for r in by_type(plan, RULE).values()}
    assumed = rules["autolytiq-prod-secrets-alerts-break-glass-assumed"]
    assert assumed["detail"]["requestParameters"] == {"roleArn": [BREAK_GLASS_ROLE]}
    assert "AssumeRoleWithSAML" in assumed["detail"]["eventName"]


def test_an_existing_topic_is_used_as_it_is(prod_raw):
    prod_raw["alerts"] = {"topic_arn": "arn:aws:sns:us-east-1:123456789012:pager"}
    plan = plan_raw(prod_raw, "prod")
    assert not by_type(plan, "aws:sns/topic:Topic")
    assert {t.inputs["arn"] for t in by_type(plan, TARGET).values()} == {"arn:aws:sns:us-east-1:123456789012:pager"}


def test_prod_rotations_and_break_glass_need_an_alert_target(prod_raw):
    prod_raw.pop("alerts")
    prod_raw["operators"].append({"name": "break-glass", "aws_role_arn": BREAK_GLASS_ROLE, "reads": ["pii-encryption"], "break_glass": True})
    with pytest.raises(ConfigError) as caught:
        parse_stack_spec(prod_raw, "Pulumi.prod.yaml")
    lines = caught.value.lines()
    assert any("secrets-platform:alerts: required in prod" in line for line in lines)
    assert any("operators[1] (break-glass).break_glass: needs alerts" in line for line in lines)
