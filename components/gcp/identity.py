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


@dataclass(frozen=True)
class FederationArgs:
    project: str
    pool_id: str
    provider_id: str
    issuer_url: str
    audience: str
    subjects: tuple[str, ...]
    """`system:serviceaccount:<ns>:<sa>` of every workload that reads or writes GCP secrets."""


def subject_condition(subjects: tuple[str, ...]) -> str:
    """The provider's attribute condition: exactly these service accounts, no other subject of the issuer."""
    return "assertion.sub in [" + ", ".join(f"'{s}'" for s in sorted(subjects)) + "]"


class WorkloadIdentityFederation(pulumi.ComponentResource):
    """Workload Identity Federation for a cluster that is not GKE: a pool and its OIDC provider trusting the
    cluster's service account token issuer, for tokens of one audience, mapping `google.subject` to
    `assertion.sub` and admitting only the workloads' service accounts. Access is granted to each
    `principal://…/subject/system:serviceaccount:<ns>:<sa>` on its secrets; the pool itself grants nothing."""

    def __init__(self, name: str, args: FederationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:gcp:WorkloadIdentityFederation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-pool",
            project=args.project,
            workload_identity_pool_id=args.pool_id,
            display_name=args.pool_id,
            description="secrets-platform: Kubernetes service accounts of the workloads' cluster",
            opts=child,
        )
        self.provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            project=args.project,
            workload_identity_pool_id=self.pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=args.provider_id,
            display_name=args.provider_id,
            description=f"secrets-platform: service account tokens of {args.issuer_url}",
            attribute_mapping={"google.subject": "assertion.sub"},
            attribute_condition=subject_condition(args.subjects),
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=args.issuer_url, allowed_audiences=[args.audience]),
            opts=child,
        )
        self.register_outputs({"pool": self.pool.name, "provider": self.provider.name})
