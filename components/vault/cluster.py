"""The cluster side of Vault's Kubernetes auth: who may call TokenReview for Vault.

Vault checks every login token with the cluster's TokenReview API, and that call needs a caller bound to
`system:auth-delegator` (create TokenReviews and SubjectAccessReviews, cluster-wide; it reads nothing):
- a dedicated token reviewer (the default for a Vault outside the cluster): one service account no pod
  mounts, its long-lived token handed to Vault as `token_reviewer_jwt`, a Pulumi secret, never in a plan;
- or delegates: the login service accounts themselves (Vault presents each client's own token), or, for a
  Vault inside the cluster, its server's service account.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

AUTH_DELEGATOR = "system:auth-delegator"
"""The built-in ClusterRole that may create TokenReviews and SubjectAccessReviews (and reads nothing)."""
MANAGED_BY = {"app.kubernetes.io/managed-by": "secrets-platform"}  # as on every object components.kubernetes makes


@dataclass(frozen=True)
class AuthDelegationArgs:
    binding_name: str  # the ClusterRoleBinding's name (cluster-wide, so it carries the stack's slug)
    labels: Mapping[str, str]
    protect: bool
    reviewer: tuple[str, str] | None = None  # (namespace, name) of a dedicated token reviewer to create
    delegates: Sequence[tuple[str, str]] = ()  # existing service accounts bound instead (client JWT mode, in-cluster server)


class AuthDelegation(pulumi.ComponentResource):
    """The `system:auth-delegator` binding Vault's logins need, and the dedicated reviewer with its token when
    there is one. Protected and retained in prod: deleting them stops every Kubernetes login to Vault."""

    def __init__(self, name: str, args: AuthDelegationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:vault:KubernetesAuthDelegation", name, None, opts)
        guarded = pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect)
        subjects = list(args.delegates)
        self.reviewer_jwt: pulumi.Output[str] | None = None
        depends: list[pulumi.Resource] = []
        if args.reviewer is not None:
            namespace, account = args.reviewer
            service_account = k8s.core.v1.ServiceAccount(
                f"{name}-reviewer", metadata=_metadata(account, namespace, args.labels), automount_service_account_token=False, opts=guarded,
            )
            token = k8s.core.v1.Secret(
                f"{name}-reviewer-token",
                metadata=_metadata(f"{account}-token", namespace, args.labels, {"kubernetes.io/service-account.name": account}),
                type="kubernetes.io/service-account-token",
                opts=pulumi.ResourceOptions.merge(guarded, pulumi.ResourceOptions(depends_on=[service_account])),
            )
            # Filled in by the cluster's token controller; the provider returns Secret data as secrets already,
            # and this keeps it one whatever happens on the way to Vault.
            self.reviewer_jwt = pulumi.Output.secret(token.data.apply(_token))
            subjects.append(args.reviewer)
            depends.append(service_account)
        self.binding = k8s.rbac.v1.ClusterRoleBinding(
            f"{name}-auth-delegator",
            metadata=_metadata(args.binding_name, None, args.labels),
            role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": AUTH_DELEGATOR},
            subjects=[{"kind": "ServiceAccount", "name": sa, "namespace": ns} for ns, sa in subjects],
            opts=pulumi.ResourceOptions.merge(guarded, pulumi.ResourceOptions(depends_on=depends)),
        )
        self.register_outputs({"binding": args.binding_name})


def _metadata(name: str, namespace: str | None, labels: Mapping[str, str], annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, **labels}}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def _token(data: Mapping[str, str] | None) -> str | None:
    encoded = (data or {}).get("token")
    return base64.b64decode(encoded).decode() if encoded else None
