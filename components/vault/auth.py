"""Auth methods (Kubernetes, AppRole) and one login role per workload, bound as tightly as Vault allows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_vault as vault


@dataclass(frozen=True)
class KubernetesAuthArgs:
    path: str
    host: str
    ca_cert: str | None
    issuer: str | None
    protect: bool
    adopt: bool = False  # the auth mount exists: it and its config are imported, not created
    external: bool = False  # Vault runs outside the cluster: no pod token or CA of its own to fall back on
    reviewer_jwt: pulumi.Input[str] | None = None  # the dedicated token reviewer's token (a secret), or None: Vault's own / the client's


class KubernetesAuth(pulumi.ComponentResource):
    def __init__(self, name: str, args: KubernetesAuthArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:vault:KubernetesAuth", name, None, opts)
        backend = vault.AuthBackend(
            f"{name}-backend",
            type="kubernetes",
            path=args.path,
            description="Kubernetes service account login",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, import_=args.path if args.adopt else None),
        )
        vault.kubernetes.AuthBackendConfig(
            f"{name}-config",
            backend=backend.path,
            kubernetes_host=args.host,
            kubernetes_ca_cert=args.ca_cert,
            issuer=args.issuer,
            disable_local_ca_jwt=args.external,
            token_reviewer_jwt=args.reviewer_jwt,
            opts=pulumi.ResourceOptions(parent=self, import_=f"auth/{args.path}/config" if args.adopt else None),
        )
        self.path = backend.path
        self.register_outputs({"path": self.path})


class AppRoleAuth(pulumi.ComponentResource):
    def __init__(self, name: str, path: str, protect: bool, opts: pulumi.ResourceOptions | None = None, adopt: bool = False):
        super().__init__("secrets-platform:vault:AppRoleAuth", name, None, opts)
        backend = vault.AuthBackend(
            f"{name}-backend",
            type="approle",
            path=path,
            description="AppRole login for workloads outside Kubernetes",
            opts=pulumi.ResourceOptions(parent=self, protect=protect, import_=path if adopt else None),
        )
        self.path = backend.path
        self.register_outputs({"path": self.path})


@dataclass(frozen=True)
class KubernetesLogin:
    backend: pulumi.Input[str]
    namespace: str
    service_account: str
    audience: str
    token_ttl_seconds: int
    token_max_ttl_seconds: int


@dataclass(frozen=True)
class AppRoleLogin:
    backend: pulumi.Input[str]
    secret_id_ttl_seconds: int
    token_ttl_seconds: int
    token_max_ttl_seconds: int
    secret_id_num_uses: int
    secret_id_bound_cidrs: Sequence[str]


def login_role(name: str, role_name: str, policy_name: pulumi.Input[str], login: KubernetesLogin | AppRoleLogin, parent: pulumi.Resource,
               adopt: str | None = None):
    """The role a workload logs in with: its own policy only (no `default`), bounded TTLs. `adopt`: the existing
    role's `auth/<mount>/role/<name>`, imported instead of created."""
    opts = pulumi.ResourceOptions(parent=parent, import_=adopt)
    if isinstance(login, KubernetesLogin):
        return vault.kubernetes.AuthBackendRole(
            f"{name}-login",
            backend=login.backend,
            role_name=role_name,
            bound_service_account_names=[login.service_account],
            bound_service_account_namespaces=[login.namespace],
            audience=login.audience,
            token_ttl=login.token_ttl_seconds,
            token_max_ttl=login.token_max_ttl_seconds,
            token_policies=[policy_name],
            token_no_default_policy=True,
            opts=opts,
        )
    return vault.approle.AuthBackendRole(
        f"{name}-login",
        backend=login.backend,
        role_name=role_name,
        bind_secret_id=True,
        secret_id_ttl=login.secret_id_ttl_seconds,
        secret_id_num_uses=login.secret_id_num_uses,
        secret_id_bound_cidrs=list(login.secret_id_bound_cidrs) or None,
        token_bound_cidrs=list(login.secret_id_bound_cidrs) or None,
        token_ttl=login.token_ttl_seconds,
        token_max_ttl=login.token_max_ttl_seconds,
        token_policies=[policy_name],
        token_no_default_policy=True,
        opts=opts,
    )
