"""Operators' access to one secret through its resource policy.

An operator's role belongs to the identity provider (IAM Identity Center) or to CI, not to this stack, so the
stack cannot attach a policy to it without taking over a role it does not manage. Within one account a secret's
resource policy grants on its own, as the key policy does for KMS: the secret names its operators and its key
lets them use it through Secrets Manager for exactly this secret (`components.aws.kms`), with nothing to attach
elsewhere and no grant that outlives the secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_aws as aws

from components.aws import actions
from components.aws.iam import policy_json, sid

MFA_PRESENT = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


@dataclass(frozen=True)
class OperatorGrant:
    label: str  # the operator's name, for statement ids
    role_arn: str
    access: str  # "read" | "write"
    mfa: bool = False  # break-glass: only sessions signed in with MFA
    who: str = "operator"  # statement id prefix: `operator`, or `deployer` for the role writing initial values


def operator_policy(secret_arn: str, grants: Sequence[OperatorGrant]) -> str:
    statements = []
    for grant in grants:
        statement = {
            "Sid": sid(grant.who, grant.access, grant.label),
            "Effect": "Allow",
            "Principal": {"AWS": grant.role_arn},
            "Action": actions.checked(actions.SECRET_WRITE if grant.access == "write" else actions.SECRET_READ),
            "Resource": secret_arn,
        }
        if grant.mfa:
            statement["Condition"] = MFA_PRESENT
        statements.append(statement)
    return policy_json(statements)


class OperatorSecretPolicy(pulumi.ComponentResource):
    """The secret's resource policy naming its operators; `blockPublicPolicy` refuses any later wider one."""

    def __init__(self, name: str, secret_arn: pulumi.Input[str], grants: Sequence[OperatorGrant], opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:aws:OperatorSecretPolicy", name, None, opts)
        self.policy = aws.secretsmanager.SecretPolicy(
            f"{name}-operators",
            secret_arn=secret_arn,
            block_public_policy=True,
            policy=pulumi.Output.from_input(secret_arn).apply(lambda arn: operator_policy(arn, grants)),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
