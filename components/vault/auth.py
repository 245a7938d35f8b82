"""Auth methods (Kubernetes, AppRole) and one login role per workload, bound as tightly as Vault allows."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_vault as vault

from components.spec import AppRoleLoginSpec, KubernetesAuthSpec, WorkloadSpec, seconds


class KubernetesAuth(pulumi.ComponentResource):
    """The Kubernetes auth mount as `config` (the spec's `kubernetes_auth`) declares it. An `adopt`ed mount and its
    config are imported, not created; Vault outside the cluster has no pod token or CA of its own to fall back on.
    `reviewer_jwt`: the dedicated token reviewer's token (a secret), or None: Vault's own / the client's."""

    def __init__(self, name: str, config: KubernetesAuthSpec, protect: bool, reviewer_jwt: pulumi.Input[str] | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:vault:KubernetesAuth", name, None, opts)
        adopt = config.adopt is not None
        backend = vault.AuthBackend(
            f"{name}-backend",
            type="kubernetes",
            path=config.mount,
            description="Kubernetes service account login",
            opts=pulumi.ResourceOptions(parent=self, protect=protect, import_=config.mount if adopt else None),
        )
        vault.kubernetes.AuthBackendConfig(
            f"{name}-config",
            backend=backend.path,
            kubernetes_host=config.host,
            kubernetes_ca_cert=config.ca_cert,
            issuer=config.issuer,
            disable_local_ca_jwt=config.vault_runs == "external",
            token_reviewer_jwt=reviewer_jwt,
            opts=pulumi.ResourceOptions(parent=self, import_=f"auth/{config.mount}/config" if adopt else None),
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
    """A workload's service account logging in at the Kubernetes auth mount `backend`, as `auth` bounds it."""

    backend: pulumi.Input[str]
    auth: KubernetesAuthSpec
    workload: WorkloadSpec


@dataclass(frozen=True)
class AppRoleLogin:
    """A workload outside Kubernetes logging in at the AppRole mount `backend` with its `options`."""

    backend: pulumi.Input[str]
    options: AppRoleLoginSpec


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
            bound_service_account_names=[login.workload.service_account],
            bound_service_account_namespaces=[login.workload.namespace],
            audience=login.auth.audience,
            token_ttl=seconds(login.auth.token_ttl),
            token_max_ttl=seconds(login.auth.token_max_ttl),
            token_policies=[policy_name],
            token_no_default_policy=True,
            opts=opts,
        )
    options = login.options
    return vault.approle.AuthBackendRole(
        f"{name}-login",
        backend=login.backend,
        role_name=role_name,
        bind_secret_id=True,
        secret_id_ttl=seconds(options.secret_id_ttl),
        secret_id_num_uses=options.secret_id_num_uses,
        secret_id_bound_cidrs=list(options.secret_id_bound_cidrs) or None,
        token_bound_cidrs=list(options.secret_id_bound_cidrs) or None,
        token_ttl=seconds(options.token_ttl),
        token_max_ttl=seconds(options.token_max_ttl),
        token_policies=[policy_name],
        token_no_default_policy=True,
        opts=opts,
    )
