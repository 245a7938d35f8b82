"""Vault (or OpenBao) as a backend: KV mounts, auth methods, database engines, then per consuming workload
a policy of exactly its paths and a login role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
import pulumi_kubernetes as k8s
import pulumi_vault as vault

from components.spec import AppRoleLoginSpec, SecretSpec, VaultSpec, WorkloadSpec, database_password, seconds
from components.backend import Access, BackendBase, PodIdentity, StoreProvider
from components.vault import policy as vault_policy
from components.vault.audit import audit_device
from components.vault.auth import AppRoleAuth, AppRoleLogin, KubernetesAuth, KubernetesLogin
from components.vault.cluster import AuthDelegation, AuthDelegationArgs
from components.vault.database import DatabaseMount, DatabaseRole, PostgresEngine, PostgresEngineArgs, TableGrant
from components.vault.identity import OperatorGroupPolicy, VaultIdentity, VaultIdentityArgs
from components.vault.kv import KvStore, KvStoreArgs

CAPABILITIES: dict[str, tuple[str, ...]] = {"read": vault_policy.READ, "write": vault_policy.WRITE}


@dataclass(frozen=True)
class VaultGrant:
    """One secret's KV v2 data path with the capabilities of the access."""

    secret_name: str
    access: str
    rule: vault_policy.PathRule


def store_provider_block(server: str, mount: str, vault_namespace: str | None, auth_mount: str, role: pulumi.Input[str], audience: str,
                         service_account_ref: Mapping[str, str]) -> dict:
    """Vault KV v2 through Kubernetes auth with a short-lived token of the store's service account,
    requested for the audience the Vault role is bound to."""
    kubernetes: dict[str, Any] = {"mountPath": auth_mount, "role": role, "serviceAccountRef": {**service_account_ref, "audiences": [audience]}}
    provider: dict[str, Any] = {"server": server, "path": mount, "version": "v2", "auth": {"kubernetes": kubernetes}}
    if vault_namespace:
        provider["namespace"] = vault_namespace
    return {"vault": provider}


class VaultBackend(BackendBase):
    """Grants are policy paths: read/write on a KV v2 data path; identities log in by Kubernetes auth or AppRole."""

    name = "vault"
    outputs_declared = ("vault_policies", "vault_roles")

    def _provider(self, opts: pulumi.ResourceOptions, platform_name: str) -> vault.Provider:
        return vault.Provider("vault", address=self.settings.address, namespace=self.settings.namespace, opts=opts)

    def _build(self, parent: pulumi.Resource, child: pulumi.ResourceOptions) -> None:
        spec = self.spec
        settings: VaultSpec = self.settings
        protect = spec.is_prod
        if settings.audit is not None:
            audit_device(settings.audit, protect, child)
        for mount in settings.kv_mounts:
            KvStore(
                f"kv-{mount.path}",
                KvStoreArgs(
                    path=mount.path,
                    max_versions=mount.max_versions,
                    delete_version_after_seconds=seconds(mount.delete_version_after) if mount.delete_version_after else None,
                    cas_required=mount.cas_required,
                    protect=protect,
                    adopt=mount.adopt is not None,
                ),
                child,
            )
        kubernetes = approle = None
        if settings.kubernetes_auth is not None:
            auth = settings.kubernetes_auth
            delegation = self._auth_delegation(auth, parent)
            kubernetes = KubernetesAuth(f"auth-{auth.mount}", auth, protect, delegation.reviewer_jwt if delegation else None, child)
        if settings.approle is not None:
            approle = AppRoleAuth(f"auth-{settings.approle.mount}", settings.approle.mount, protect, child, adopt=settings.approle.adopt is not None)
        database_mounts = {
            path: DatabaseMount(f"database-{path}", path, protect, child)
            for path in dict.fromkeys(d.mount for d in settings.databases)
        }
        for database in settings.databases:
            PostgresEngine(
                database.name,
                PostgresEngineArgs(
                    mount=database_mounts[database.mount].path,
                    host=database.host,
                    port=database.port,
                    database=database.database,
                    username=database.username,
                    password=database_password(database),
                    ssl_mode=database.ssl_mode,
                    root_rotation_period_seconds=seconds(database.root_rotation_period) if database.root_rotation_period else None,
                    roles=[
                        DatabaseRole(
                            name=role.name,
                            default_ttl_seconds=seconds(role.default_ttl),
                            max_ttl_seconds=seconds(role.max_ttl),
                            grants=[TableGrant(g.privileges, g.schema_name, g.tables, g.sequences) for g in role.grants],
                        )
                        for role in database.roles
                    ],
                ),
                child,
            )

        self.secrets = {s.name: s for s in spec.secrets_on("vault")}
        databases = {d.name: d for d in settings.databases}
        self.identities: dict[str, VaultIdentity] = {}
        for workload in spec.all_workloads:
            if not spec.vault_access(workload):
                continue
            rules = [self.grant(workload.name, n, "read").rule for n in spec.reads(workload, "vault")]
            rules += [self.grant(workload.name, n, "write").rule for n in workload.writes if n in self.secrets]
            rules += [vault_policy.kv_metadata(spec.kv_mount(self.secrets[n]), spec.secret_path(self.secrets[n])) for n in workload.versions]
            for ref in workload.database_roles:
                database, _, role = ref.partition("/")
                rules.append(vault_policy.database_creds(databases[database].mount, role))
            if workload.database_roles:
                rules += [vault_policy.PathRule(path, caps) for path, caps in vault_policy.LEASE_SELF]
            self.identities[workload.name] = VaultIdentity(
                f"vault-{workload.name}",
                VaultIdentityArgs(
                    workload=workload.name,
                    policy_name=spec.vault_policy_name(workload),
                    role_name=spec.vault_role_name(workload),
                    rules=rules,
                    login=self._login(workload, kubernetes, approle),
                    adopt_policy=spec.adopt_of(workload).vault_policy,
                    adopt_role=spec.adopt_of(workload).vault_role,
                ),
                child,
            )
        self._operators(child)

    def _auth_delegation(self, auth: config.KubernetesAuthSpec, parent: pulumi.Resource) -> AuthDelegation | None:
        """Who calls TokenReview for Vault (components/vault/cluster.py): a dedicated token reviewer, the login
        service accounts themselves, or Vault's own server in the cluster; nothing when the Vault chart binds it."""
        spec = self.spec
        if auth.vault_runs == "in-cluster":
            server = auth.server_service_account
            reviewer, delegates = None, [(server.namespace, server.name)] if server else []
        elif auth.reviewer == "token-reviewer":
            reviewer, delegates = (auth.reviewer_service_account.namespace, auth.reviewer_service_account.name), []
        else:
            reviewer = None
            delegates = sorted({(w.namespace, w.service_account) for w in spec.all_workloads
                                if spec.vault_access(w) and w.vault_login == "kubernetes" and w.namespace and w.service_account})
        if reviewer is None and not delegates:
            return None
        context = spec.kubernetes.context if spec.kubernetes is not None else None
        cluster = k8s.Provider("kubernetes-vault-auth", context=context, opts=pulumi.ResourceOptions(parent=parent))
        return AuthDelegation(
            f"auth-{auth.mount}-delegation",
            AuthDelegationArgs(
                binding_name=f"{spec.slug}-vault-{auth.mount}-auth-delegator".replace("/", "-"),
                labels={"environment": spec.environment.value, "owner": spec.tags.owner},
                protect=spec.is_prod,
                reviewer=reviewer,
                delegates=delegates,
            ),
            pulumi.ResourceOptions(parent=parent, providers={"kubernetes": cluster}),
        )

    def _operators(self, child: pulumi.ResourceOptions) -> None:
        rules: dict[str, list[vault_policy.PathRule]] = {}
        groups = {}
        for operator, name, access in self.spec.operator_access("vault"):
            grant = self.grant(operator.name, name, access)
            rules.setdefault(operator.name, []).append(grant.rule)
            if access == "write":  # the current version, for check-and-set writes
                secret = self.secrets[name]
                rules[operator.name].append(vault_policy.kv_metadata(self.spec.kv_mount(secret), self.spec.secret_path(secret)))
            groups[operator.name] = operator.vault_group_id
        for operator_name, operator_rules in rules.items():
            OperatorGroupPolicy(f"vault-operator-{operator_name}", f"{self.spec.slug}-operator-{operator_name}", groups[operator_name], operator_rules, child)

    def _login(self, workload: WorkloadSpec, kubernetes: KubernetesAuth | None, approle: AppRoleAuth | None) -> KubernetesLogin | AppRoleLogin:
        settings = self.settings
        if workload.vault_login == "kubernetes":
            assert kubernetes is not None and settings.kubernetes_auth is not None  # spec cross-checks
            return KubernetesLogin(kubernetes.path, settings.kubernetes_auth, workload)
        assert approle is not None
        return AppRoleLogin(approle.path, workload.approle or AppRoleLoginSpec())

    def grant(self, identity: str, secret: str, access: Access) -> VaultGrant:
        """The secret's data path in its KV mount; rotation belongs to Vault's own engines, not to a grant."""
        if access not in CAPABILITIES:
            raise ValueError(f"Vault grants read or write on a KV secret (got {access!r} for {secret!r})")
        spec, declared = self.spec, self.secrets[secret]
        return VaultGrant(secret, access, vault_policy.kv_data(spec.kv_mount(declared), spec.secret_path(declared), CAPABILITIES[access]))

    def store_provider(self, store_key: str, identity: str, service_account_ref: Mapping[str, str]) -> StoreProvider:
        """One store per KV mount (`vault-<mount>`), signing in with `identity`'s Vault role."""
        settings = self.settings
        assert settings.kubernetes_auth is not None  # spec cross-checks
        mount = store_key.removeprefix("vault-")
        provider = store_provider_block(
            settings.address, mount, settings.namespace, settings.kubernetes_auth.mount,
            self.identities[identity].role_name, settings.kubernetes_auth.audience, service_account_ref,
        )
        return StoreProvider(f"vault-{mount}-{self.spec.environment.value}", provider)

    def remote_key(self, secret: SecretSpec) -> str:
        return self.spec.secret_path(secret)

    def pod_identity(self, workload: WorkloadSpec) -> PodIdentity:
        """A workload that logs in to Vault itself with Kubernetes auth needs its service account token mounted."""
        spec = self.spec
        direct_login = spec.vault_access(workload) and workload.vault_login == "kubernetes" and spec.delivery(workload) != "external-secrets"
        return PodIdentity(automount_token=direct_login)

    def outputs(self) -> dict[str, dict[str, pulumi.Output]]:
        return {
            "vault_policies": {name: i.policy_name for name, i in self.identities.items()},
            "vault_roles": {name: i.role_name for name, i in self.identities.items()},
        }
