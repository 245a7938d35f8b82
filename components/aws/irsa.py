"""IAM Roles for Service Accounts: one role per workload, trusted by exactly one service account."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.aws import actions
from components.spec import service_account_subject

STS_AUDIENCE = "sts.amazonaws.com"


def trust_policy(provider_arn: str, issuer_host_path: str, namespace: str, service_account: str) -> str:
    """Web-identity trust pinned by StringEquals on both `sub` and `aud`: never a pattern."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ServiceAccount",
                    "Effect": "Allow",
                    "Principal": {"Federated": provider_arn},
                    "Action": actions.checked(actions.WEB_IDENTITY),
                    "Condition": {
                        "StringEquals": {
                            f"{issuer_host_path}:sub": service_account_subject(namespace, service_account),
                            f"{issuer_host_path}:aud": STS_AUDIENCE,
                        }
                    },
                }
            ],
        },
        indent=2,
    )


@dataclass(frozen=True)
class WorkloadRoleArgs:
    role_name: str
    oidc_provider_arn: str
    issuer_host_path: str
    namespace: str
    service_account: str
    tags: dict[str, str]
    adopt: str | None = None  # the existing role's name: imported, not created


class WorkloadRole(pulumi.ComponentResource):
    """The IRSA role of one workload. Its secret grants attach later (`SecretAccessPolicy`),
    because the keys' policies name this role and the grants name the keys."""

    def __init__(self, name: str, args: WorkloadRoleArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:aws:WorkloadRole", name, None, opts)
        self.role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=f"IRSA role of {args.namespace}/{args.service_account}",
            assume_role_policy=trust_policy(
                args.oidc_provider_arn, args.issuer_host_path, args.namespace, args.service_account
            ),
            max_session_duration=3600,
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self, import_=args.adopt),
        )
        self.role_arn = self.role.arn
        self.role_name = self.role.name
        self.register_outputs({"role_arn": self.role_arn, "role_name": self.role_name})
