"""A workload's Google service account, impersonable only by its one Kubernetes service account."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"


def workload_identity_member(pool: str, namespace: str, service_account: str) -> str:
    """`serviceAccount:<project>.svc.id.goog[<ns>/<sa>]`: exactly one Kubernetes service account of the pool."""
    return f"serviceAccount:{pool}[{namespace}/{service_account}]"


@dataclass(frozen=True)
class WorkloadServiceAccountArgs:
    project: str
    account_id: str
    workload: str
    pool: str
    namespace: str
    service_account: str


class WorkloadServiceAccount(pulumi.ComponentResource):
    """The Google service account and its `iam.workloadIdentityUser` binding for
    `<pool>[<namespace>/<service account>]`, on the account itself (never on the project)."""

    def __init__(self, name: str, args: WorkloadServiceAccountArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:gcp:WorkloadServiceAccount", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = gcp.serviceaccount.Account(
            f"{name}-account",
            account_id=args.account_id,
            project=args.project,
            display_name=f"{args.workload} secrets reader",
            description=f"secrets-platform: {args.namespace}/{args.service_account} through GKE workload identity",
            opts=child,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            service_account_id=self.account.name,
            role=WORKLOAD_IDENTITY_USER,
            member=workload_identity_member(args.pool, args.namespace, args.service_account),
            opts=child,
        )
        self.email = self.account.email
        self.member = self.account.email.apply(lambda email: f"serviceAccount:{email}")
        self.register_outputs({"email": self.email})
