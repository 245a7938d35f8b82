"""A stack's alarms on one SNS topic: failed or abandoned rotations (Secrets Manager's CloudTrail service
events through EventBridge), errors of each rotation function (CloudWatch), and every assumption of a
break-glass role (STS calls through EventBridge)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pulumi
import pulumi_aws as aws

# Secrets Manager records these as CloudTrail service events (eventType AwsServiceEvent), which EventBridge
# delivers with this detail-type; RotationAbandoned: a manual write replaced a rotation in progress.
ROTATION_FAILURES = {
    "source": ["aws.secretsmanager"],
    "detail-type": ["AWS Service Event via CloudTrail"],
    "detail": {"eventSource": ["secretsmanager.amazonaws.com"], "eventName": ["RotationFailed", "RotationAbandoned"]},
}
# People reach a role through SAML (IAM Identity Center) or another role; CI through web identity.
ASSUME_ROLE_CALLS = ["AssumeRole", "AssumeRoleWithSAML", "AssumeRoleWithWebIdentity"]
PUBLISHERS = ["events.amazonaws.com", "cloudwatch.amazonaws.com"]


def assume_role_pattern(role_arns: Sequence[str]) -> dict:
    return {
        "source": ["aws.sts"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {"eventSource": ["sts.amazonaws.com"], "eventName": ASSUME_ROLE_CALLS, "requestParameters": {"roleArn": list(role_arns)}},
    }


def topic_policy(topic_arn: str, account_id: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "AlarmsPublish",
        "Effect": "Allow",
        "Principal": {"Service": PUBLISHERS},
        "Action": "sns:Publish",
        "Resource": topic_arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
    }]}, indent=2)


@dataclass(frozen=True)
class StackAlertsArgs:
    account_id: str
    topic_name: str
    topic_arn: str | None  # an existing topic; None: create one
    rotation_functions: Mapping[str, str]  # secret name -> its rotation function's name
    break_glass_roles: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class StackAlerts(pulumi.ComponentResource):
    def __init__(self, name: str, args: StackAlertsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:aws:StackAlerts", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if args.topic_arn is None:
            topic = aws.sns.Topic(f"{name}-topic", name=args.topic_name, kms_master_key_id="alias/aws/sns", tags=dict(args.tags), opts=child)
            aws.sns.TopicPolicy(f"{name}-topic-policy", arn=topic.arn, policy=topic.arn.apply(lambda arn: topic_policy(arn, args.account_id)), opts=child)
            self.topic_arn: pulumi.Output[str] = topic.arn
        else:
            self.topic_arn = pulumi.Output.from_input(args.topic_arn)

        rules = {"rotation-failed": ROTATION_FAILURES}
        if args.break_glass_roles:
            rules["break-glass-assumed"] = assume_role_pattern(args.break_glass_roles)
        for rule_name, pattern in rules.items():
            rule = aws.cloudwatch.EventRule(f"{name}-{rule_name}", name=f"{args.topic_name}-{rule_name}"[:64],
                                            event_pattern=json.dumps(pattern), tags=dict(args.tags), opts=child)
            aws.cloudwatch.EventTarget(f"{name}-{rule_name}-target", rule=rule.name, arn=self.topic_arn, opts=child)

        for secret, function in args.rotation_functions.items():
            aws.cloudwatch.MetricAlarm(
                f"{name}-rotate-{secret}-errors",
                name=f"{function}-errors",
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions={"FunctionName": function},
                statistic="Sum",
                period=300,
                evaluation_periods=1,
                comparison_operator="GreaterThanThreshold",
                threshold=0,
                treat_missing_data="notBreaching",  # no invocation is no error
                alarm_actions=[self.topic_arn],
                tags=dict(args.tags),
                opts=child,
            )
        self.register_outputs({"topic_arn": self.topic_arn})
