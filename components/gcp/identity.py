"""A workload's Google service account, impersonable only by its one Kubernetes service account."""

from __future__ import annotations

from typing import Sequence

import pulumi
import pulumi_gcp as gcp

from components.spec import WorkloadSpec, service_account_subject
from components.spec.gcp import GcpFederationSpec

WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"


def workload_identity_member(pool: str, namespace: str, service_account: str) -> str:
    """`serviceAccount:<project>.svc.id.goog[<ns>/<sa>]`: exactly one Kubernetes service account of the pool."""
    return f"serviceAccount:{pool}[{namespace}/{service_account}]"


class WorkloadServiceAccount(pulumi.ComponentResource):
    """The Google service account and its `iam.workloadIdentityUser` binding for
    `<pool>[<namespace>/<service account>]`, on the account itself (never on the project)."""

    def __init__(self, name: str, workload: WorkloadSpec, account_id: str, project: str, pool: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:gcp:WorkloadServiceAccount", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.account = gcp.serviceaccount.Account(
            f"{name}-account",
            account_id=account_id,
            project=project,
            display_name=f"{workload.name} secrets reader",
            description=f"secrets-platform: {workload.namespace}/{workload.service_account} through GKE workload identity",
            opts=child,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-workload-identity",
            service_account_id=self.account.name,
            role=WORKLOAD_IDENTITY_USER,
            member=workload_identity_member(pool, workload.namespace, workload.service_account),
            opts=child,
        )
        self.email = self.account.email
        self.member = self.account.email.apply(lambda email: f"serviceAccount:{email}")
        self.register_outputs({"email": self.email})


def subject_condition(workloads: Sequence[WorkloadSpec]) -> str:
    """The provider's attribute condition: exactly these workloads' service accounts (`system:serviceaccount:<ns>:<sa>`),
    no other subject of the issuer."""
    subjects = sorted(service_account_subject(w.namespace, w.service_account) for w in workloads)
    return "assertion.sub in [" + ", ".join(f"'{s}'" for s in subjects) + "]"


class WorkloadIdentityFederation(pulumi.ComponentResource):
    """Workload Identity Federation for a cluster that is not GKE: a pool and its OIDC provider trusting the
    cluster's service account token issuer, for tokens of one audience, mapping `google.subject` to
    `assertion.sub` and admitting only the workloads' service accounts. Access is granted to each
    `principal://…/subject/system:serviceaccount:<ns>:<sa>` on its secrets; the pool itself grants nothing."""

    def __init__(self, name: str, config: GcpFederationSpec, project: str, pool_id: str, issuer_url: str, audience: str,
                 workloads: Sequence[WorkloadSpec], opts: pulumi.ResourceOptions | None = None):
        """`config` is the spec's federation section; the stack derives the pool id, the issuer and the audience
        (their defaults), and `workloads` are every workload that reads or writes GCP secrets."""
        super().__init__("secrets-platform:gcp:WorkloadIdentityFederation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.pool = gcp.iam.WorkloadIdentityPool(
            f"{name}-pool",
            project=project,
            workload_identity_pool_id=pool_id,
            display_name=pool_id,
            description="secrets-platform: Kubernetes service accounts of the workloads' cluster",
            opts=child,
        )
        self.provider = gcp.iam.WorkloadIdentityPoolProvider(
            f"{name}-provider",
            project=project,
            workload_identity_pool_id=self.pool.workload_identity_pool_id,
            workload_identity_pool_provider_id=config.provider_id,
            display_name=config.provider_id,
            description=f"secrets-platform: service account tokens of {issuer_url}",
            attribute_mapping={"google.subject": "assertion.sub"},
            attribute_condition=subject_condition(workloads),
            oidc=gcp.iam.WorkloadIdentityPoolProviderOidcArgs(issuer_uri=issuer_url, allowed_audiences=[audience]),
            opts=child,
        )
        self.register_outputs({"pool": self.pool.name, "provider": self.provider.name})
