"""Grants as data, turned into IAM policy documents with exact ARNs.

A `Grant` is what `ManagedSecret.grant_read/grant_write` return: one secret (and its
replicas), its key(s), and the action sets. `SecretAccessPolicy` attaches a role's grants.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.aws import actions
from components.spec import ROLE_POLICY_NAME


@dataclass(frozen=True)
class Grant:
    secret_name: str  # logical name, for statement ids
    secret_arns: Sequence[pulumi.Input[str]]  # primary first, then replicas
    key_arns: Sequence[pulumi.Input[str]]
    regions: Sequence[str]  # primary first, then replicas
    secret_actions: tuple[str, ...]
    key_actions: tuple[str, ...]
    access: str  # "read" | "write"


def via_secrets_manager(regions: Sequence[str]) -> list[str]:
    return [f"secretsmanager.{region}.amazonaws.com" for region in regions]


def sid(*parts: str) -> str:
    """Statement ids allow only alphanumerics: `read`, `api-db` -> `ReadApiDb`."""
    return "".join(word.capitalize() for part in parts for word in part.replace("_", "-").split("-"))


def grant_statements(grant: Grant, secret_arns: list[str], key_arns: list[str]) -> list[dict]:
    return [
        {
            "Sid": sid(grant.access, grant.secret_name),
            "Effect": "Allow",
            "Action": actions.checked(grant.secret_actions),
            "Resource": secret_arns,
        },
        {
            "Sid": sid(grant.access, grant.secret_name, "key"),
            "Effect": "Allow",
            "Action": actions.checked(grant.key_actions),
            "Resource": key_arns,
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": via_secrets_manager(grant.regions),
                    "kms:EncryptionContext:SecretARN": secret_arns,
                }
            },
        },
    ]


def policy_json(statements: Sequence[dict]) -> str:
    """An IAM policy document (version 2012-10-17) of `statements`, as the JSON AWS is given."""
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


def policy_document(grants: Sequence[Grant]) -> pulumi.Output[str]:
    """One identity policy for all of a role's grants; ARNs resolve when the resources exist."""
    resolved = pulumi.Output.all(
        *[pulumi.Output.all(pulumi.Output.all(*g.secret_arns), pulumi.Output.all(*g.key_arns)) for g in grants]
    )

    def render(arns: list) -> str:
        statements = [
            statement
            for grant, (secret_arns, key_arns) in zip(grants, arns)
            for statement in grant_statements(grant, list(secret_arns), list(key_arns))
        ]
        return policy_json(statements)

    return resolved.apply(render)


@dataclass(frozen=True)
class SecretAccessPolicyArgs:
    role_name: pulumi.Input[str]
    grants: Sequence[Grant]
    exclusive: bool = False
    """Own the role's policies exactly (an adopted role): its other inline policies are deleted and every
    attached managed policy is detached on `pulumi up`, so its access is this policy's and nothing older."""


class SecretAccessPolicy(pulumi.ComponentResource):
    """The inline policy that gives one role exactly its granted secrets; on an adopted role, also the
    exclusive-management resources that remove whatever else the role held before the stack adopted it."""

    def __init__(self, name: str, args: SecretAccessPolicyArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:aws:SecretAccessPolicy", name, None, opts)
        self.policy = aws.iam.RolePolicy(
            f"{name}-secrets",
            role=args.role_name,
            name=ROLE_POLICY_NAME,
            policy=policy_document(args.grants),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.policy_name = self.policy.name
        if args.exclusive:
            # Literal names (known at preview), after the program's own policy exists so the role never has none.
            after = pulumi.ResourceOptions(parent=self, depends_on=[self.policy])
            aws.iam.RolePoliciesExclusive(f"{name}-inline-policies", role_name=args.role_name, policy_names=[ROLE_POLICY_NAME], opts=after)
            aws.iam.RolePolicyAttachmentsExclusive(f"{name}-attached-policies", role_name=args.role_name, policy_arns=[], opts=after)
        self.register_outputs({"policy_name": self.policy_name})
