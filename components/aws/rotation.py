"""Secrets Manager rotation: a Lambda from rotation/, its role with exactly what one rotation needs,
the invoke permission pinned to the secret, and the schedule."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.aws import actions
from components.aws.iam import Grant, grant_statements, policy_json, sid
from rotation.contract import PROPERTY_ENV

HANDLERS = {
    "postgres-single": "rotation.postgres_single.handler",
    "postgres-alternating": "rotation.postgres_alternating.handler",
    "generic": "rotation.generic.handler",
}
RUNTIME = "python3.12"
DEFAULT_OVERLAP_HOURS = 24
# AWS's managed policy for functions in a VPC: the ENI actions IAM grants only on "*".
VPC_ACCESS_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
BUILD_DIR = Path(__file__).resolve().parents[2] / ".build"


@cache
def lambda_archive() -> tuple[str, str]:
    """(path, source_code_hash) of the deterministic rotation package: same source, same hash,
    so a plan never shows a spurious code update."""
    from rotation.build import build

    archive = build(BUILD_DIR / "rotation.zip")
    return str(archive.path), archive.source_code_hash


def lambda_trust(account_id: str) -> str:
    """Only the Lambda service, and only on behalf of this account, may assume the role."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "LambdaService",
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": actions.checked(actions.ASSUME_ROLE),
                    "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
                }
            ],
        },
        indent=2,
    )


class RotationRole(pulumi.ComponentResource):
    """The function's role, created before the keys (their policies name it)."""

    def __init__(self, name: str, role_name: str, account_id: str, tags: dict[str, str], opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:aws:RotationRole", name, None, opts)
        self.role = aws.iam.Role(
            f"{name}-role",
            name=role_name,
            description=f"Rotation function of {name}",
            assume_role_policy=lambda_trust(account_id),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.role_arn, self.role_name = self.role.arn, self.role.name
        self.register_outputs({"role_arn": self.role_arn})


def rotation_policy(rotated: Grant, master: Grant | None, secret_arn: str, key_arns: list[str], master_arns: tuple[list[str], list[str]] | None,
                    log_group_arn: str) -> str:
    statements = grant_statements(rotated, [secret_arn], key_arns)
    if master is not None and master_arns is not None:
        statements += grant_statements(master, *master_arns)
    statements += [
        {"Sid": "RandomPassword", "Effect": "Allow", "Action": actions.checked(actions.RANDOM_PASSWORD), "Resource": "*"},
        {"Sid": "Logs", "Effect": "Allow", "Action": actions.checked(actions.LOG_WRITE), "Resource": [f"{log_group_arn}:log-stream:*"]},
    ]
    return policy_json(statements)


@dataclass(frozen=True)
class SecretRotationArgs:
    kind: str
    function_name: str
    role: RotationRole
    rotate: Grant  # this secret, with the rotation action set
    master: Grant | None  # postgres-alternating: read the superuser's secret
    schedule_expression: str
    window_hours: str | None
    overlap_hours: int | None
    rotated_property: str | None  # generic: the property it rotates (None: `value`, as before)
    subnet_ids: Sequence[str]
    security_group_ids: Sequence[str]
    account_id: str
    region: str
    log_retention_days: int
    tags: dict[str, str]


class SecretRotation(pulumi.ComponentResource):
    def __init__(self, name: str, args: SecretRotationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:aws:SecretRotation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs", name=f"/aws/lambda/{args.function_name}", retention_in_days=args.log_retention_days, tags=args.tags, opts=child
        )
        secret_arn = args.rotate.secret_arns[0]
        master_arns = (
            pulumi.Output.all(pulumi.Output.all(*args.master.secret_arns), pulumi.Output.all(*args.master.key_arns))
            if args.master is not None
            else pulumi.Output.from_input(None)
        )
        policy = pulumi.Output.all(secret_arn, pulumi.Output.all(*args.rotate.key_arns), master_arns, log_group.arn).apply(
            lambda v: rotation_policy(args.rotate, args.master, v[0], list(v[1]), v[2], v[3])
        )
        role_policy = aws.iam.RolePolicy(f"{name}-policy", role=args.role.role_name, name="rotation", policy=policy, opts=child)
        attachments = []
        if args.subnet_ids:
            attachments.append(aws.iam.RolePolicyAttachment(f"{name}-vpc", role=args.role.role_name, policy_arn=VPC_ACCESS_POLICY, opts=child))
        archive, source_code_hash = lambda_archive()
        environment = {"SECRETS_MANAGER_ENDPOINT": f"https://secretsmanager.{args.region}.amazonaws.com"}
        if args.kind == "generic":
            environment["OVERLAP_SECONDS"] = str(3600 * (args.overlap_hours or DEFAULT_OVERLAP_HOURS))
            if args.rotated_property:
                environment[PROPERTY_ENV] = args.rotated_property
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            description=f"Rotates {name} ({args.kind})",
            runtime=RUNTIME,
            handler=HANDLERS[args.kind],
            code=pulumi.FileArchive(archive),
            source_code_hash=source_code_hash,
            role=args.role.role_arn,
            timeout=60,
            memory_size=256,
            # One rotation at a time: a duplicate invocation waits instead of racing the first.
            reserved_concurrent_executions=1,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=environment),
            vpc_config=aws.lambda_.FunctionVpcConfigArgs(subnet_ids=list(args.subnet_ids), security_group_ids=list(args.security_group_ids))
            if args.subnet_ids
            else None,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="JSON", log_group=log_group.name),
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role_policy, log_group, *attachments]),
        )
        permission = aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="secretsmanager.amazonaws.com",
            source_account=args.account_id,
            source_arn=secret_arn,
            opts=child,
        )
        self.rotation = aws.secretsmanager.SecretRotation(
            f"{name}-rotation",
            secret_id=secret_arn,
            rotation_lambda_arn=self.function.arn,
            rotation_rules=aws.secretsmanager.SecretRotationRotationRulesArgs(
                schedule_expression=args.schedule_expression, duration=args.window_hours
            ),
            # A new secret has no value yet: the first rotation waits for the schedule.
            rotate_immediately=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[permission]),
        )
        self.function_arn = self.function.arn
        self.register_outputs({"function_arn": self.function_arn})
