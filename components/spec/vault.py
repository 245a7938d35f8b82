"""Vault (OpenBao): the `vault:` section, a workload's AppRole login, and their checks."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from components.spec.audit import VaultAuditSpec
from components.spec.base import AWS_ONLY_FIELDS, DnsLabel, Duration, HttpsUrl, MountPath, Name, Spec, seconds
from components.spec.checks import duplicates, manual_rotation_only
from components.spec.errors import Problem

if TYPE_CHECKING:
    from components.spec.models import SecretSpec, WorkloadSpec
    from components.spec.stack import StackSpec


class KvMountSpec(Spec):
    path: MountPath = "secret"
    max_versions: int = Field(default=10, ge=1, le=100)
    delete_version_after: Duration | None = None
    """Versions older than this are deleted; unset keeps them (bounded by max_versions)."""
    cas_required: bool = True
    """Writes must name the version they replace, so two writers never silently overwrite each other."""
    adopt: MountPath | None = None
    """The existing mount (its path): imported, not created."""


class ServiceAccountRefSpec(Spec):
    namespace: DnsLabel
    name: DnsLabel


# Names of the cluster that only resolve inside it: a Vault outside the cluster cannot reach them.
IN_CLUSTER_HOSTS = re.compile(r"^https://(kubernetes(\.default)?(\.svc)?(\.cluster\.local)?|[^/:]+\.svc(\.cluster\.local)?)(:\d+)?(/|$)")


class KubernetesAuthSpec(Spec):
    mount: MountPath = "kubernetes"
    vault_runs: Literal["in-cluster", "external"] = "in-cluster"
    """Where the Vault server runs relative to the cluster whose service accounts log in.
    `in-cluster`: Vault reviews login tokens with its own pod's service account token and CA (that
    service account needs `system:auth-delegator`: the Vault Helm chart's `server.authDelegator`, or
    `server_service_account` here). `external`: Vault calls the cluster's API at `host` over https,
    trusting exactly `ca_cert`, with the token of `reviewer`."""
    host: HttpsUrl
    """The cluster's API server. external: its address as Vault reaches it (not `kubernetes.default.svc`)."""
    ca_cert: str | None = None
    """PEM of the cluster CA certificate (public material, never a key). Required when Vault is external."""
    issuer: str | None = None
    audience: str = "vault"
    token_ttl: Duration = "1h"
    token_max_ttl: Duration = "24h"
    reviewer: Literal["token-reviewer", "client"] = "token-reviewer"
    """external: who calls TokenReview. `token-reviewer` (default): one dedicated service account, bound to
    `system:auth-delegator`, that no pod mounts; its long-lived token (a `kubernetes.io/service-account-token`
    Secret) goes to Vault as `token_reviewer_jwt`, a Pulumi secret. `client`: Vault presents each login's own
    token, so every login service account is bound to `system:auth-delegator` instead (no stored credential,
    but every workload may call TokenReview and SubjectAccessReview cluster-wide)."""
    reviewer_service_account: ServiceAccountRefSpec = ServiceAccountRefSpec(namespace="kube-system", name="vault-token-reviewer")
    """reviewer token-reviewer: the service account and namespace of its token Secret (whoever may read Secrets
    there holds the reviewer token: kube-system by default)."""
    server_service_account: ServiceAccountRefSpec | None = None
    """in-cluster: the Vault server pods' service account, bound here to `system:auth-delegator`; unset when
    the Vault Helm chart binds it (`server.authDelegator.enabled`, its default)."""
    adopt: MountPath | None = None
    """The existing auth mount (its path): imported with its config, not created."""

    @field_validator("ca_cert")
    @classmethod
    def _a_certificate(cls, value: str | None) -> str | None:
        return None if value is None else check_ca_certificate(value)


def check_ca_certificate(value: str) -> str:
    """A PEM CA certificate, nothing else: a private key or a token pasted here would end up in the plan."""
    from cryptography import x509

    text = value.strip()
    if "PRIVATE KEY" in text or not text.startswith("-----BEGIN CERTIFICATE-----"):
        raise ValueError("must be the PEM of the cluster's CA certificate (-----BEGIN CERTIFICATE-----), public material only")
    try:
        certificates = x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise ValueError("is not a valid PEM certificate") from None
    for certificate in certificates:
        try:
            constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            constraints = None
        if constraints is not None and not constraints.ca:
            raise ValueError("is a leaf certificate (CA:FALSE); give the CA that signed the API server's certificate")
    return text + "\n"  # Vault wants every line, the last too, to end with a newline


class AppRoleAuthSpec(Spec):
    mount: MountPath = "approle"
    adopt: MountPath | None = None
    """The existing auth mount (its path): imported, not created."""


class DatabaseGrantSpec(Spec):
    privileges: tuple[Literal["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "USAGE"], ...]
    schema_name: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = Field(default="public", alias="schema")
    tables: Literal["all"] | tuple[Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")], ...] = "all"
    sequences: bool = False
    """Also USAGE, SELECT on the schema's sequences (needed to INSERT into serial columns)."""


class DatabaseRoleSpec(Spec):
    name: Name
    default_ttl: Duration = "1h"
    max_ttl: Duration = "24h"
    grants: tuple[DatabaseGrantSpec, ...]


class DatabaseSpec(Spec):
    name: Name
    mount: MountPath = "database"
    host: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9.\-]+$")]
    port: int = Field(default=5432, ge=1, le=65535)
    database: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_\-]{0,62}$")]
    username: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")]
    """The admin user Vault connects as; its password comes from `pulumi config set --secret database-password:<name>`
    and Vault rotates it after setup (`rotate_root`)."""
    ssl_mode: Literal["verify-full", "require", "disable"] = "verify-full"
    root_rotation_period: Duration | None = None
    """Vault 1.19+/Enterprise automated root rotation; otherwise run `vault write -f <mount>/rotate-root/<name>` once."""
    roles: tuple[DatabaseRoleSpec, ...]


class VaultSpec(Spec):
    address: Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.\-]+(:\d+)?/?$")]
    namespace: str | None = None
    kv_mounts: tuple[KvMountSpec, ...] = (KvMountSpec(),)
    kubernetes_auth: KubernetesAuthSpec | None = None
    approle: AppRoleAuthSpec | None = None
    databases: tuple[DatabaseSpec, ...] = ()
    audit: VaultAuditSpec | None = None
    """The audit device (`device: file|socket|syslog` and its options) or `elsewhere: <reason>`; a prod stack needs one."""


class AppRoleLoginSpec(Spec):
    secret_id_ttl: Duration = "24h"
    token_ttl: Duration = "1h"
    token_max_ttl: Duration = "4h"
    secret_id_num_uses: int = Field(default=0, ge=0)
    secret_id_bound_cidrs: tuple[Annotated[str, StringConstraints(pattern=r"^[0-9a-f.:]+/\d{1,3}$")], ...] = ()


class VaultNaming:
    """StackSpec's Vault-derived values (mixed into StackSpec)."""

    def kv_mount(self: StackSpec, secret: SecretSpec) -> str:
        """Vault secrets: the KV v2 mount that holds them (the first declared one by default)."""
        if secret.mount is not None:
            return secret.mount
        return self.vault.kv_mounts[0].path if self.vault and self.vault.kv_mounts else KvMountSpec().path

    def vault_access(self: StackSpec, workload: WorkloadSpec) -> bool:
        """Whether the workload needs a Vault policy and login role."""
        return bool(workload.database_roles or self.reads(workload, "vault") or self.writes(workload, "vault"))


def vault_checks(spec: StackSpec) -> list[Problem]:
    problems: list[Problem] = []
    vault = spec.vault
    vault_secrets = {s.name for s in spec.secrets_on("vault")}
    for index, secret in enumerate(spec.secrets):
        at = ("secrets", index)
        if secret.backend != "vault":
            if secret.mount is not None:
                problems.append(Problem((*at, "mount"), "only for backend: vault"))
            continue
        if vault is None:
            problems.append(Problem((*at, "backend"), "backend 'vault' needs a vault: section (address, kv_mounts, auth)"))
            continue
        for field in AWS_ONLY_FIELDS:
            if field in secret.model_fields_set:
                problems.append(Problem((*at, field), "only for backend: aws"))
        mounts = [m.path for m in vault.kv_mounts]
        if secret.mount is not None and secret.mount not in mounts:
            problems.append(Problem((*at, "mount"), f"unknown KV mount '{secret.mount}'; declared: {', '.join(mounts) or 'none'}"))
        problems += manual_rotation_only(at, secret, "Vault", "or use a database role for dynamic credentials")

    databases = {d.name: d for d in vault.databases} if vault else {}
    for index, workload in enumerate(spec.workloads):
        at = ("workloads", index)
        for v_index, name in enumerate(workload.versions):
            if name not in vault_secrets or name not in workload.reads:
                problems.append(Problem((*at, "versions", v_index), f"'{name}' must be a Vault secret this workload reads"))
        for d_index, ref in enumerate(workload.database_roles):
            database, _, role = ref.partition("/")
            if database not in databases or role not in {r.name for r in databases[database].roles}:
                declared = [f"{d.name}/{r.name}" for d in databases.values() for r in d.roles]
                problems.append(Problem((*at, "database_roles", d_index), f"unknown database role '{ref}'; declared: {', '.join(declared) or 'none'}"))
        if workload.approle is not None and workload.vault_login != "approle":
            problems.append(Problem((*at, "approle"), "only with vault_login: approle"))
        if vault is not None and spec.vault_access(workload):
            if workload.vault_login == "kubernetes" and vault.kubernetes_auth is None:
                problems.append(Problem((*at, "vault_login"), "kubernetes login needs vault.kubernetes_auth"))
            if workload.vault_login == "approle" and vault.approle is None:
                problems.append(Problem((*at, "vault_login"), "approle login needs vault.approle"))
        if workload.approle is not None:
            problems += _ttl_order((*at, "approle"), workload.approle.token_ttl, workload.approle.token_max_ttl, "token_ttl", "token_max_ttl")
    if vault is None:
        return problems

    if spec.is_prod and vault.address.startswith("http://"):
        problems.append(Problem(("vault", "address"), "must be https in prod"))
    mounts = [("kv_mounts", i, m.path) for i, m in enumerate(vault.kv_mounts)]
    mounts += [("databases", i, d.mount) for i, d in enumerate(vault.databases)]
    for mount, indexes in duplicates(path for *_, path in mounts).items():
        field, index, _ = mounts[indexes[1]]
        if field == "databases" and mounts[indexes[0]][0] == "databases":
            continue  # several connections may share one database engine mount
        problems.append(Problem(("vault", field, index, "mount" if field == "databases" else "path"), f"mount '{mount}' is already used"))
    for name, indexes in duplicates(d.name for d in vault.databases).items():
        problems.append(Problem(("vault", "databases", indexes[1], "name"), f"duplicate name '{name}'"))
    if vault.kubernetes_auth is not None:
        k8s = vault.kubernetes_auth
        problems += _ttl_order(("vault", "kubernetes_auth"), k8s.token_ttl, k8s.token_max_ttl, "token_ttl", "token_max_ttl")
        problems += _kubernetes_auth_reach(k8s)
    for index, database in enumerate(vault.databases):
        at = ("vault", "databases", index)
        if spec.is_prod and database.ssl_mode == "disable":
            problems.append(Problem((*at, "ssl_mode"), "must be verify-full or require in prod"))
        for name, r_indexes in duplicates(r.name for r in database.roles).items():
            problems.append(Problem((*at, "roles", r_indexes[1], "name"), f"duplicate name '{name}'"))
        for r_index, role in enumerate(database.roles):
            problems += _ttl_order((*at, "roles", r_index), role.default_ttl, role.max_ttl, "default_ttl", "max_ttl")
    return problems


def _kubernetes_auth_reach(k8s: KubernetesAuthSpec) -> list[Problem]:
    """A Vault outside the cluster can log anyone in only with the API's address, its CA and a reviewer (#15)."""
    at = ("vault", "kubernetes_auth")
    problems = []
    if k8s.vault_runs == "external":
        if IN_CLUSTER_HOSTS.match(k8s.host):
            problems.append(Problem((*at, "host"), "a Vault outside the cluster cannot resolve the in-cluster API name; give the API server's external https URL"))
        if k8s.ca_cert is None:
            problems.append(Problem((*at, "ca_cert"), "required when vault_runs is external: the PEM of the cluster's CA certificate, so Vault verifies the API server"))
        if k8s.server_service_account is not None:
            problems.append(Problem((*at, "server_service_account"), "only when vault_runs is in-cluster (an external Vault has no pod service account)"))
    else:
        for field in ("reviewer", "reviewer_service_account"):
            if field in k8s.model_fields_set:
                problems.append(Problem((*at, field), "only when vault_runs is external (in the cluster, Vault reviews with its own pod's token)"))
    return problems


def _ttl_order(at: tuple, ttl: str, max_ttl: str, ttl_name: str, max_name: str) -> list[Problem]:
    if seconds(ttl) > seconds(max_ttl):
        return [Problem((*at, ttl_name), f"must not exceed {max_name} ({ttl} > {max_ttl})")]
    return []
