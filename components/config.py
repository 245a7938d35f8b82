"""The typed stack spec: the whole `secrets-platform:` config namespace of one stack.

This is the only module that reads `pulumi.Config`. Secrets appear here as references
(names, paths, config keys), never as values. Classification supplies defaults; an
explicit setting always wins and is validated. Every problem is reported as one line
naming the stack file and key path, e.g.

    Pulumi.prod.yaml: secrets-platform:secrets[3].rotation.days: must be between 1 and 1000 (got 0)
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from dataclasses import dataclass
from enum import Enum
from functools import cached_property
from typing import Annotated, Any, Iterable, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

NAMESPACE = "secrets-platform"
# Initial secret values live in their own namespace, set with `pulumi config set --secret`,
# so the spec itself never holds a value: `initial-value:<secret name>`.
INITIAL_VALUE_NAMESPACE = "initial-value"
DATABASE_PASSWORD_NAMESPACE = "database-password"


class Environment(str, Enum):
    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class Classification(str, Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class ClassPolicy:
    """What a classification demands (EONPRO seed 003)."""

    max_rotation_days: int | None  # None: rotation not required
    dedicated_key: bool


CLASS_POLICY: dict[Classification, ClassPolicy] = {
    Classification.CRITICAL: ClassPolicy(max_rotation_days=365, dedicated_key=True),
    Classification.HIGH: ClassPolicy(max_rotation_days=90, dedicated_key=False),
    Classification.MEDIUM: ClassPolicy(max_rotation_days=180, dedicated_key=False),
    Classification.LOW: ClassPolicy(max_rotation_days=None, dedicated_key=False),
}

PROD_RECOVERY_WINDOW_DAYS = 30
NONPROD_RECOVERY_WINDOW_DAYS = 7
MIN_PROD_RECOVERY_WINDOW_DAYS = 7
# The service account a namespaced SecretStore signs in as.
STORE_SERVICE_ACCOUNT = "external-secrets-store"
# The key every non-critical secret without an explicit `key` is encrypted with.
SHARED_KEY_NAME = "shared"

ROTATION_KINDS = ("none", "manual", "generic", "postgres-single", "postgres-alternating")
RotationKind = Literal["none", "manual", "generic", "postgres-single", "postgres-alternating"]
Backend = Literal["aws", "vault", "azure", "gcp"]

Name = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")]
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")]
DnsLabel = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
TagValue = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_ .:/=+\-@]{0,256}$")]

RATE_EXPRESSION = re.compile(r"^rate\((\d+) (hour|hours|day|days)\)$")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*?,/\-#L W]+$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class AwsSpec(_Spec):
    account_id: Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
    region: Region
    replica_regions: tuple[Region, ...] = ()
    """Regions the estate may replicate secrets into; a secret opts in with its own `replica_regions`."""
    log_retention_days: Literal[1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] | None = None
    """Rotation function logs; default 365 in prod (audit trail), 30 elsewhere."""
    deployer_role_arn: Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@/\-]+$")] | None = None
    """The role `pulumi up` runs as; needed only to write initial values through the CMK."""


class ClusterSpec(_Spec):
    oidc_issuer_url: Annotated[str, StringConstraints(pattern=r"^https://[a-z0-9.\-]+(/[A-Za-z0-9._\-]+)*$")]
    oidc_provider_arn: Annotated[
        str, StringConstraints(pattern=r"^arn:aws[a-z\-]*:iam::\d{12}:oidc-provider/[a-z0-9.\-]+(/[A-Za-z0-9._\-]+)*$")
    ]

    @property
    def issuer_host_path(self) -> str:
        """The issuer as IAM condition keys spell it: without `https://`."""
        return self.oidc_issuer_url.removeprefix("https://")


GcpProjectId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
GcpRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+[0-9]$")]
# Cloud KMS rotation is a number of days here; Google accepts 1 day to 100 years, the classes ask for at most a year.
GCP_KEY_ROTATION_DAYS = 90
GCP_SERVICE_AGENT = "secretmanager.googleapis.com"


class GkeClusterSpec(_Spec):
    """The GKE cluster whose workload identity pool the workloads' Kubernetes service accounts sign in through."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")]
    location: Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+[0-9](-[a-z])?$")]
    """Region (regional cluster) or zone (zonal cluster)."""
    project_id: GcpProjectId | None = None
    """The cluster's project, when it is not gcp.project_id (its pool is then `<that project>.svc.id.goog`)."""


class GcpSpec(_Spec):
    project_id: GcpProjectId
    """The project holding the secrets, keys and service accounts; the provider is pinned to it."""
    replica_regions: tuple[GcpRegion, ...] = ()
    """Empty: automatic replication (Google chooses the locations; the CMEK key lives in `global`). Listed:
    user-managed replication to exactly these regions, each replica encrypted with a key of its own region."""
    key_rotation_days: int = Field(default=GCP_KEY_ROTATION_DAYS, ge=1, le=365)
    """Cloud KMS rotation period of the keys (a new primary version; old versions still decrypt)."""
    rotation_topic: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_.~+%-]{2,254}$")] | None = None
    """Pub/Sub topic that receives rotation notifications (default `<slug>-secret-rotation`); created only
    when a GCP secret declares rotation."""
    gke: GkeClusterSpec | None = None
    """Required when workloads (or the External Secrets controller) read GCP secrets."""
    workload_identity_pool: str | None = None
    """Derived as `<cluster project>.svc.id.goog`; declare it only to have the spec check it."""

    @property
    def cluster_project(self) -> str:
        return (self.gke.project_id if self.gke else None) or self.project_id

    @property
    def identity_pool(self) -> str:
        return f"{self.cluster_project}.svc.id.goog"

    @property
    def identity_provider(self) -> str | None:
        """The GKE cluster as the pool's identity provider (what ESO exchanges the service account token with)."""
        if self.gke is None:
            return None
        return f"https://container.googleapis.com/v1/projects/{self.cluster_project}/locations/{self.gke.location}/clusters/{self.gke.name}"

    @property
    def kms_locations(self) -> tuple[str, ...]:
        """Where CMEK keys must live: `global` for automatic replication, else each replica region."""
        return self.replica_regions or ("global",)


class StackTags(_Spec):
    owner: TagValue
    cost_centre: TagValue
    extra: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:/=+\-@]{1,128}$")], TagValue] = {}


class KeySpec(_Spec):
    name: Name
    alias: Annotated[str, StringConstraints(pattern=r"^alias/[A-Za-z0-9/_\-]{1,250}$")] | None = None
    description: str = ""
    deletion_window_days: int = Field(default=30, ge=7, le=30)

    @field_validator("alias")
    @classmethod
    def _not_aws_managed(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("alias/aws/"):
            raise ValueError("alias/aws/ is reserved for AWS managed keys; choose another alias")
        return value


class VpcSpec(_Spec):
    subnet_ids: tuple[Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8,17}$")], ...] = Field(min_length=1)
    security_group_ids: tuple[Annotated[str, StringConstraints(pattern=r"^sg-[0-9a-f]{8,17}$")], ...] = Field(min_length=1)


# Rotation kinds that run a Lambda (the others are cadences for people).
AUTOMATED_ROTATION = ("generic", "postgres-single", "postgres-alternating")


class RotationSpec(_Spec):
    kind: RotationKind
    days: int | None = Field(default=None, ge=1, le=1000)
    schedule: str | None = None
    window: Annotated[str, StringConstraints(pattern=r"^([1-9]|1\d|2[0-4])h$")] | None = None
    """How long AWS may take to run the rotation once due."""
    overlap_hours: int | None = Field(default=None, ge=1, le=720)
    """generic: how long the previous value stays valid beside the new one (default 24)."""
    master_secret: Name | None = None
    """postgres-alternating: the secret holding the superuser that rotates the two users."""
    vpc: VpcSpec | None = None
    """The database's VPC: the rotation function runs in these subnets."""

    @field_validator("schedule")
    @classmethod
    def _schedule_expression(cls, value: str | None) -> str | None:
        if value is not None:
            check_schedule_expression(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RotationSpec:
        if self.days is not None and self.schedule is not None:
            raise ValueError("set either days or schedule, not both")
        if self.kind == "none" and (self.days is not None or self.schedule is not None or self.window is not None):
            raise ValueError("kind none takes no days, schedule or window")
        if self.overlap_hours is not None and self.kind != "generic":
            raise ValueError("overlap_hours is only for kind generic")
        if (self.master_secret is not None) != (self.kind == "postgres-alternating"):
            raise ValueError("kind postgres-alternating needs master_secret (and only it takes one)")
        if self.vpc is not None and not self.kind.startswith("postgres"):
            raise ValueError("vpc is only for the postgres kinds (the function reaches the database)")
        return self

    @property
    def schedule_expression(self) -> str:
        return self.schedule or f"rate({self.days} days)"



_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
Duration = Annotated[str, StringConstraints(pattern=r"^\d+(s|m|h|d)$")]
MountPath = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]*(/[a-z0-9_\-]+)*$")]
HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://[A-Za-z0-9.\-]+(:\d+)?(/[A-Za-z0-9._\-/]*)?$")]


def seconds(duration: str) -> int:
    """`1h` -> 3600: Vault's TTL units, one place for the conversion."""
    match = _DURATION.match(duration)
    if not match:
        raise ValueError(f"not a duration: {duration}")
    return int(match.group(1)) * _DURATION_SECONDS[match.group(2)]


class KvMountSpec(_Spec):
    path: MountPath = "secret"
    max_versions: int = Field(default=10, ge=1, le=100)
    delete_version_after: Duration | None = None
    """Versions older than this are deleted; unset keeps them (bounded by max_versions)."""
    cas_required: bool = True
    """Writes must name the version they replace, so two writers never silently overwrite each other."""


class KubernetesAuthSpec(_Spec):
    mount: MountPath = "kubernetes"
    host: HttpsUrl
    ca_cert: str | None = None
    """PEM of the cluster CA (public material)."""
    issuer: str | None = None
    audience: str = "vault"
    token_ttl: Duration = "1h"
    token_max_ttl: Duration = "24h"


class AppRoleAuthSpec(_Spec):
    mount: MountPath = "approle"


class DatabaseGrantSpec(_Spec):
    privileges: tuple[Literal["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER", "USAGE"], ...]
    schema_name: Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")] = Field(default="public", alias="schema")
    tables: Literal["all"] | tuple[Annotated[str, StringConstraints(pattern=r"^[a-z_][a-z0-9_]{0,62}$")], ...] = "all"
    sequences: bool = False
    """Also USAGE, SELECT on the schema's sequences (needed to INSERT into serial columns)."""


class DatabaseRoleSpec(_Spec):
    name: Name
    default_ttl: Duration = "1h"
    max_ttl: Duration = "24h"
    grants: tuple[DatabaseGrantSpec, ...]


class DatabaseSpec(_Spec):
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


class VaultSpec(_Spec):
    address: Annotated[str, StringConstraints(pattern=r"^https?://[A-Za-z0-9.\-]+(:\d+)?/?$")]
    namespace: str | None = None
    kv_mounts: tuple[KvMountSpec, ...] = (KvMountSpec(),)
    kubernetes_auth: KubernetesAuthSpec | None = None
    approle: AppRoleAuthSpec | None = None
    databases: tuple[DatabaseSpec, ...] = ()


Guid = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
# Azure allows at most 20 federated identity credentials on one user-assigned identity.
AZURE_MAX_FEDERATED_CREDENTIALS = 20
AZURE_PROD_SOFT_DELETE_DAYS = 90
AZURE_NONPROD_SOFT_DELETE_DAYS = 7
_AZURE_RG_ID = r"/subscriptions/[0-9a-f-]{36}/resourceGroups/[-\w._()]+"


class AzureSpec(_Spec):
    """Azure Key Vault: one vault per stack; AKS workloads read it through workload identity."""

    subscription_id: Guid
    tenant_id: Guid
    resource_group: Annotated[str, StringConstraints(pattern=r"^[-\w._()]{0,89}[-\w_()]$")]
    location: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{1,39}$")]
    key_vault: str
    """Globally unique: 3-24 characters, letters, digits and dashes, starting with a letter, ending
    with a letter or digit, no `--`. A deleted vault keeps its name for the soft-delete retention."""
    aks_oidc_issuer_url: HttpsUrl
    """`az aks show --query oidcIssuerProfile.issuerUrl`: the issuer of the workloads' service account tokens."""
    extra_oidc_issuer_urls: tuple[HttpsUrl, ...] = ()
    """Further clusters running the same workloads (e.g. a blue/green AKS migration): every identity
    gets one federated credential per issuer, and Azure allows 20 per identity."""
    allowed_ips: tuple[Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")], ...] = ()
    """Public IPv4 addresses or CIDR ranges allowed through the vault firewall (default deny)."""
    subnet_ids: tuple[Annotated[str, StringConstraints(pattern=rf"^{_AZURE_RG_ID}/providers/Microsoft\.Network/virtualNetworks/[-\w._]+/subnets/[-\w._]+$")], ...] = ()
    """Subnets (with the Microsoft.KeyVault service endpoint) allowed through the firewall, e.g. the AKS node subnet."""
    public_network_access: bool = True
    """False: reachable only through a private endpoint (the allow-list then does not apply)."""
    log_analytics_workspace_id: Annotated[str, StringConstraints(pattern=rf"^{_AZURE_RG_ID}/providers/Microsoft\.OperationalInsights/workspaces/[-\w]+$")] | None = None
    """Diagnostic settings send the vault's audit events (every secret read) here."""
    soft_delete_retention_days: int | None = Field(default=None, ge=7, le=90)
    """Default 90 in prod, 7 elsewhere; Azure fixes it once the vault exists."""
    role_scope: Literal["secret", "vault"] = "secret"
    """Key Vault Secrets User on each secret read (least privilege, the default) or once on the vault."""
    rotation_notification_url: HttpsUrl | None = None
    """Webhook receiving Event Grid's SecretNearExpiry/SecretExpired events for secrets that declare rotation."""

    @field_validator("key_vault")
    @classmethod
    def _vault_name(cls, value: str) -> str:
        if not 3 <= len(value) <= 24:
            raise ValueError(f"must be 3 to 24 characters (got {len(value)})")
        if not re.fullmatch(r"[A-Za-z0-9-]+", value):
            raise ValueError("may contain only letters, digits and dashes")
        if not value[0].isalpha():
            raise ValueError("must start with a letter")
        if value.endswith("-") or "--" in value:
            raise ValueError("must end with a letter or digit and contain no consecutive dashes")
        return value

    @property
    def issuers(self) -> tuple[str, ...]:
        return (self.aks_oidc_issuer_url, *self.extra_oidc_issuer_urls)

    @property
    def vault_url(self) -> str:
        return f"https://{self.key_vault.lower()}.vault.azure.net/"

    @property
    def resource_group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"


class EsoSpec(_Spec):
    """The External Secrets Operator: how Kubernetes workloads receive their secrets."""

    install: bool = True
    """Install the controller with its Helm chart (CRDs on); false when a cluster team runs it."""
    chart_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")] = "2.9.0"
    namespace: DnsLabel = "external-secrets"
    workload: Name = "external-secrets"
    """The workload whose identity (IRSA role, Vault login) the controller and the stores use; its
    reads are derived: every secret an external-secrets workload reads."""
    refresh_interval: Duration = "1h"


class KubernetesSpec(_Spec):
    context: str | None = None
    """kubeconfig context; unset uses the ambient one."""
    manage_namespaces: bool = False
    """Create the workloads' namespaces (labelled) instead of expecting them."""
    render_yaml_to: str | None = None
    """Write the Kubernetes objects as YAML into this directory instead of applying them (Argo CD, Flux)."""
    eso: EsoSpec | None = None


class AppRoleLoginSpec(_Spec):
    secret_id_ttl: Duration = "24h"
    token_ttl: Duration = "1h"
    token_max_ttl: Duration = "4h"
    secret_id_num_uses: int = Field(default=0, ge=0)
    secret_id_bound_cidrs: tuple[Annotated[str, StringConstraints(pattern=r"^[0-9a-f.:]+/\d{1,3}$")], ...] = ()


class SecretSpec(_Spec):
    name: Name
    path: str | None = None
    description: str = ""
    classification: Classification
    backend: Backend = "aws"
    mount: MountPath | None = None
    """Vault only: the KV v2 mount holding the secret (default: the first of vault.kv_mounts)."""
    key: Name | None = None
    rotation: RotationSpec | None = None
    replica_regions: tuple[Region, ...] = ()
    recovery_window_days: int | None = None
    initial_value: Literal["none", "config"] = "none"
    properties: tuple[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,253}$")], ...] = ()
    """The JSON keys of the secret's value (e.g. username, password, url); External Secrets maps each
    to a key of the Kubernetes Secret. Empty: the whole value under one key named after the secret."""
    tags: dict[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:/=+\-@]{1,128}$")], TagValue] = {}

    @field_validator("recovery_window_days")
    @classmethod
    def _window_range(cls, value: int | None) -> int | None:
        if value is not None and value != 0 and not 7 <= value <= 30:
            raise ValueError(f"must be 0 (force delete) or between 7 and 30 (got {value})")
        return value


class WorkloadSpec(_Spec):
    name: Name
    namespace: DnsLabel | None = None
    service_account: DnsLabel | None = None
    """Kubernetes identity; required unless the workload only logs in to Vault with AppRole."""
    reads: tuple[Name, ...] = ()
    writes: tuple[Name, ...] = ()
    versions: tuple[Name, ...] = ()
    """Vault secrets whose version history (KV metadata) the workload reads; must also be in reads."""
    database_roles: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*/[a-z][a-z0-9-]*$")], ...] = ()
    """Dynamic database credentials, as `<database>/<role>`."""
    vault_login: Literal["kubernetes", "approle"] = "kubernetes"
    approle: AppRoleLoginSpec | None = None
    delivery: Literal["direct", "external-secrets", "both"] | None = None
    """How the workload gets its secrets: its own identity (`direct`), Kubernetes Secrets synced by
    External Secrets, or both. Default: external-secrets when kubernetes.eso is set, else direct."""


class StackSpec(_Spec):
    environment: Environment
    prefix: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9\-_/{}]*\{env\}[a-z0-9\-_/]*/$")]
    """Secret path prefix with `{env}`, e.g. `autolytiq/{env}/`; resource names use its slug."""
    aws: AwsSpec
    cluster: ClusterSpec | None = None
    vault: VaultSpec | None = None
    gcp: GcpSpec | None = None
    azure: AzureSpec | None = None
    kubernetes: KubernetesSpec | None = None
    tags: StackTags
    keys: tuple[KeySpec, ...] = ()
    secrets: tuple[SecretSpec, ...]
    workloads: tuple[WorkloadSpec, ...] = ()

    # ----- derived values: one place for each default -----

    @property
    def is_prod(self) -> bool:
        return self.environment is Environment.PROD

    @property
    def path_prefix(self) -> str:
        return self.prefix.format(env=self.environment.value)

    @property
    def slug(self) -> str:
        """`autolytiq/{env}/` -> `autolytiq-prod`: the prefix of physical resource names."""
        return "-".join(part for part in self.path_prefix.split("/") if part)

    def secret_path(self, secret: SecretSpec) -> str:
        return secret.path or f"{self.path_prefix}{secret.name}"

    def kv_mount(self, secret: SecretSpec) -> str:
        """Vault secrets: the KV v2 mount that holds them (the first declared one by default)."""
        if secret.mount is not None:
            return secret.mount
        return self.vault.kv_mounts[0].path if self.vault and self.vault.kv_mounts else KvMountSpec().path

    def secrets_on(self, backend: str) -> tuple[SecretSpec, ...]:
        return tuple(s for s in self.secrets if s.backend == backend)

    @property
    def eso(self) -> EsoSpec | None:
        return self.kubernetes.eso if self.kubernetes else None

    def delivery(self, workload: WorkloadSpec) -> str:
        if workload.delivery is not None:
            return workload.delivery
        return "external-secrets" if self.eso is not None and not self.is_eso_controller(workload) else "direct"

    def is_eso_controller(self, workload: WorkloadSpec) -> bool:
        return self.eso is not None and workload.name == self.eso.workload

    def synced(self, workload: WorkloadSpec) -> tuple[str, ...]:
        """Secrets External Secrets syncs into the workload's namespace for it."""
        return workload.reads if self.delivery(workload) in ("external-secrets", "both") else ()

    def store_key(self, secret: SecretSpec) -> str:
        """The store a synced secret comes through: one per backend (and Vault KV mount)."""
        return secret.backend if secret.backend in ("aws", "gcp", "azure") else f"vault-{self.kv_mount(secret)}"

    @cached_property
    def synced_by_namespace(self) -> dict[str, dict[str, SecretSpec]]:
        secrets = {s.name: s for s in self.secrets}
        wanted: dict[str, dict[str, SecretSpec]] = {}
        for workload in self.workloads:
            for name in self.synced(workload):
                if name in secrets:  # an unknown name is reported by the cross-checks
                    wanted.setdefault(workload.namespace or "", {})[name] = secrets[name]
        return dict(sorted(wanted.items()))

    @cached_property
    def store_namespaces(self) -> dict[str, tuple[str, ...]]:
        """Store key -> the namespaces that sync secrets through it."""
        namespaces: dict[str, set[str]] = {}
        for ns, secrets in self.synced_by_namespace.items():
            for secret in secrets.values():
                namespaces.setdefault(self.store_key(secret), set()).add(ns)
        return {key: tuple(sorted(v)) for key, v in sorted(namespaces.items())}

    def is_cluster_store(self, key: str) -> bool:
        """One ClusterSecretStore (limited to its namespaces) only when several namespaces sync exactly the
        same secrets through it. A namespace that may use a store can fetch anything the store's identity
        reads, so when their secrets differ each namespace gets its own SecretStore and identity instead."""
        namespaces = self.store_namespaces[key]
        if len(namespaces) < 2:
            return False
        wanted = {frozenset(n for n, s in self.synced_by_namespace[ns].items() if self.store_key(s) == key) for ns in namespaces}
        return len(wanted) == 1

    @cached_property
    def store_identities(self) -> tuple[WorkloadSpec, ...]:
        """A namespaced store signs in as its own service account, whose identity reads exactly the
        secrets synced into that namespace through it; derived, never declared."""
        identities = []
        for ns, secrets in self.synced_by_namespace.items():
            reads = tuple(n for n, s in secrets.items() if not self.is_cluster_store(self.store_key(s)))
            if reads:
                identities.append(WorkloadSpec(name=f"store-{ns}", namespace=ns, service_account=STORE_SERVICE_ACCOUNT, reads=reads, delivery="direct"))
        return tuple(identities)

    @property
    def all_workloads(self) -> tuple[WorkloadSpec, ...]:
        """Declared workloads and the derived store identities: everything that gets an identity."""
        return (*self.workloads, *self.store_identities)

    def effective_reads(self, workload: WorkloadSpec) -> tuple[str, ...]:
        """What the workload's own identity may read: its direct reads, and for the ESO controller
        every secret synced through a ClusterSecretStore (derived from the consumers)."""
        if self.is_eso_controller(workload):
            through_cluster_stores = [
                name for secrets in self.synced_by_namespace.values() for name, secret in secrets.items()
                if self.is_cluster_store(self.store_key(secret))
            ]
            return tuple(dict.fromkeys([*workload.reads, *through_cluster_stores]))
        return workload.reads if self.delivery(workload) in ("direct", "both") else ()

    def aws_reads(self, workload: WorkloadSpec) -> tuple[str, ...]:
        return tuple(n for n in self.effective_reads(workload) if self._backend_of.get(n) == "aws")

    def aws_writes(self, workload: WorkloadSpec) -> tuple[str, ...]:
        return tuple(n for n in workload.writes if self._backend_of.get(n) == "aws")

    def vault_reads(self, workload: WorkloadSpec) -> tuple[str, ...]:
        return tuple(n for n in self.effective_reads(workload) if self._backend_of.get(n) == "vault")

    def gcp_reads(self, workload: WorkloadSpec) -> tuple[str, ...]:
        return tuple(n for n in self.effective_reads(workload) if self._backend_of.get(n) == "gcp")

    def gcp_writes(self, workload: WorkloadSpec) -> tuple[str, ...]:
        return tuple(n for n in workload.writes if self._backend_of.get(n) == "gcp")

    def gcp_access(self, workload: WorkloadSpec) -> bool:
        """Whether the workload gets a Google service account (and its workload identity binding)."""
        return bool(self.gcp_reads(workload) or self.gcp_writes(workload))

    def gcp_secret_id(self, secret: SecretSpec) -> str:
        """`vibebox-prod-database`: Secret Manager ids take no `/`, so the slug of the prefix, then the name."""
        return f"{self.slug}-{secret.name}"

    def gcp_service_account_id(self, workload: WorkloadSpec) -> str:
        """The Google service account's account id (6 to 30 characters): `<slug>-<workload>`, or when that is too
        long its first 23 characters and a stable 6-character digest, so the name never changes between plans."""
        wanted = f"{self.slug}-{workload.name}"
        if len(wanted) <= 30:
            return wanted
        return f"{wanted[:23].rstrip('-')}-{hashlib.sha256(wanted.encode()).hexdigest()[:6]}"

    def gcp_key_name(self, secret: SecretSpec) -> str:
        """Critical secrets get a dedicated Cloud KMS key, the others share the environment's."""
        return secret.name if CLASS_POLICY[secret.classification].dedicated_key else SHARED_KEY_NAME

    @property
    def gcp_rotation_topic(self) -> str:
        return (self.gcp.rotation_topic if self.gcp else None) or f"{self.slug}-secret-rotation"

    def gcp_rotates(self, secret: SecretSpec) -> bool:
        return secret.backend == "gcp" and self.rotation(secret).kind != "none"

    def gcp_labels(self, tags: Mapping[str, str]) -> dict[str, str]:
        """Stack tags as GCP labels: lowercase keys and values of letters, digits, `_` and `-`, at most 63
        characters (keys start with a letter); anything else becomes `_`."""
        def clean(text: str) -> str:
            return re.sub(r"[^a-z0-9_-]", "_", text.lower())[:63]

        labels = {}
        for key, value in tags.items():
            label = clean(key)
            if not label[:1].isalpha():
                label = f"k{label}"[:63]
            labels[label] = clean(value)
        return labels

    def azure_reads(self, workload: WorkloadSpec) -> tuple[str, ...]:
        return tuple(n for n in self.effective_reads(workload) if self._backend_of.get(n) == "azure")

    def azure_secret_name(self, secret: SecretSpec) -> str:
        """Key Vault secret names take letters, digits and dashes only: the path with `/` as `-`."""
        return self.secret_path(secret).strip("/").replace("/", "-")

    def azure_identity_name(self, workload: WorkloadSpec) -> str:
        return f"{self.slug}-{workload.name}"

    def azure_credentials_per_identity(self) -> int:
        """Federated credentials each workload identity needs: one per (issuer, service account); every
        identity serves exactly one service account."""
        return len(self.azure.issuers) if self.azure else 0

    @property
    def azure_soft_delete_days(self) -> int:
        declared = self.azure.soft_delete_retention_days if self.azure else None
        return declared or (AZURE_PROD_SOFT_DELETE_DAYS if self.is_prod else AZURE_NONPROD_SOFT_DELETE_DAYS)

    def azure_rotates(self, secret: SecretSpec) -> bool:
        return secret.backend == "azure" and self.rotation(secret).kind != "none"

    def vault_access(self, workload: WorkloadSpec) -> bool:
        """Whether the workload needs a Vault policy and login role."""
        return bool(workload.database_roles or self.vault_reads(workload)) or any(
            self._backend_of.get(n) == "vault" for n in workload.writes
        )

    @cached_property
    def _backend_of(self) -> dict[str, str]:
        return {s.name: s.backend for s in self.secrets}

    def recovery_window_days(self, secret: SecretSpec) -> int:
        if secret.recovery_window_days is not None:
            return secret.recovery_window_days
        return PROD_RECOVERY_WINDOW_DAYS if self.is_prod else NONPROD_RECOVERY_WINDOW_DAYS

    def rotation(self, secret: SecretSpec) -> RotationSpec:
        """The effective rotation: the declared one with the class cadence filled in."""
        declared = secret.rotation
        max_days = CLASS_POLICY[secret.classification].max_rotation_days
        if declared is None:
            return RotationSpec(kind="none")
        if declared.kind != "none" and declared.days is None and declared.schedule is None:
            return declared.model_copy(update={"days": max_days or 365})
        return declared

    def automated_rotations(self) -> tuple[tuple[SecretSpec, RotationSpec], ...]:
        """AWS secrets whose rotation runs a Lambda, with their effective rotation."""
        pairs = ((s, self.rotation(s)) for s in self.secrets_on("aws"))
        return tuple((s, r) for s, r in pairs if r.kind in AUTOMATED_ROTATION)

    @property
    def log_retention_days(self) -> int:
        return self.aws.log_retention_days or (365 if self.is_prod else 30)

    def key_name(self, secret: SecretSpec) -> str:
        """Explicit key, else a dedicated key for critical secrets, else the shared key."""
        if secret.key is not None:
            return secret.key
        if CLASS_POLICY[secret.classification].dedicated_key:
            return secret.name
        return SHARED_KEY_NAME

    def effective_keys(self) -> tuple[KeySpec, ...]:
        """Declared keys plus the implicit ones the secrets need, in a stable order."""
        keys = {k.name: k for k in self.keys}
        for secret in self.secrets_on("aws"):
            name = self.key_name(secret)
            if name not in keys:
                keys[name] = KeySpec(name=name, description=f"Encrypts the {secret.name} secret" if name == secret.name else "Encrypts shared secrets")
        return tuple(keys.values())

    def key_alias(self, key: KeySpec) -> str:
        return key.alias or f"alias/{self.slug}/{key.name}"

    def secrets_of_key(self, key_name: str) -> tuple[SecretSpec, ...]:
        return self._secrets_by_key.get(key_name, ())

    @cached_property
    def _secrets_by_key(self) -> dict[str, tuple[SecretSpec, ...]]:
        index: dict[str, list[SecretSpec]] = {}
        for secret in self.secrets_on("aws"):
            index.setdefault(self.key_name(secret), []).append(secret)
        return {name: tuple(secrets) for name, secrets in index.items()}

    def tags_for(self, classification: Classification | None = None, **extra: str) -> dict[str, str]:
        tags = {
            **self.tags.extra,
            "environment": self.environment.value,
            "owner": self.tags.owner,
            "cost-centre": self.tags.cost_centre,
            "managed-by": NAMESPACE,
        }
        if classification is not None:
            tags["classification"] = classification.value
        return {**tags, **extra}


# ----- schedule expressions -----


def check_schedule_expression(expr: str) -> None:
    """Secrets Manager accepts `rate(N days|hours)` and six-field `cron(...)` expressions."""
    rate = RATE_EXPRESSION.match(expr)
    if rate:
        amount, unit = int(rate.group(1)), rate.group(2)
        limit = 1000 if unit.startswith("day") else 24 * 1000
        if not 1 <= amount <= limit:
            raise ValueError(f"rate amount must be between 1 and {limit} {unit.rstrip('s')}s")
        if unit.startswith("hour") and amount < 4:
            raise ValueError("rotation more often than every 4 hours is not allowed")
        return
    if expr.startswith("cron(") and expr.endswith(")"):
        fields = expr[5:-1].split(" ")
        if len(fields) == 6 and all(_CRON_FIELD.match(f) for f in fields):
            day_of_month, day_of_week = fields[2], fields[4]
            if (day_of_month == "?") == (day_of_week == "?"):
                raise ValueError("cron needs `?` in exactly one of day-of-month and day-of-week")
            return
        raise ValueError("cron needs six fields: minutes hours day-of-month month day-of-week year")
    raise ValueError("must be rate(N days), rate(N hours) or cron(minutes hours day-of-month month day-of-week year)")


# ----- problems and their rendering -----


@dataclass(frozen=True)
class Problem:
    location: tuple[str | int, ...]
    message: str


class ConfigError(Exception):
    """Invalid stack config: one line per problem, never a secret value."""

    def __init__(self, source: str, problems: Iterable[Problem]):
        self.source = source
        self.problems = tuple(problems)
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}: {format_key_path(p.location)}: {p.message}" for p in self.problems]


def format_key_path(location: tuple[str | int, ...]) -> str:
    if not location:
        return NAMESPACE
    head, *rest = location
    text = f"{NAMESPACE}:{head}"
    for part in rest:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _describe(value: Any) -> str:
    """What the user wrote, without echoing text: strings may be secrets pasted in the wrong place."""
    if isinstance(value, bool):
        return f"got {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"got {value}"
    if value is None:
        return "got null"
    if isinstance(value, str):
        return f"got a string of {len(value)} characters"
    return f"got {'a list' if isinstance(value, list) else 'an object' if isinstance(value, dict) else type(value).__name__}"


def _pydantic_problem(error: Mapping[str, Any]) -> Problem:
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        return Problem(loc, "unknown key; remove it or check its spelling")
    if kind == "missing":
        return Problem(loc, "required key is missing")
    if kind in ("enum", "literal_error"):
        return Problem(loc, f"must be one of {ctx.get('expected', '')} ({_describe(value)})")
    if kind == "string_pattern_mismatch":
        return Problem(loc, f"must match {ctx['pattern']} ({_describe(value)})")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return Problem(loc, f"{error['msg'].lower()} ({_describe(value)})")
    if kind == "value_error":
        return Problem(loc, str(ctx.get("error", error["msg"])))
    if kind.endswith("_type") or kind.endswith("_parsing"):
        expected = kind.removesuffix("_type").removesuffix("_parsing").replace("_", " ")
        expected = {"model": "an object", "dict": "an object", "tuple": "a list", "list": "a list", "string": "a string"}.get(expected, f"a {expected}")
        hint = " (quote it in YAML)" if expected == "a string" and isinstance(value, (int, float)) else ""
        return Problem(loc, f"must be {expected}{hint} ({_describe(value)})")
    return Problem(loc, f"{error['msg']} ({_describe(value)})")


# ----- cross-field checks: references, uniqueness, environment rules -----


def _duplicates(names: Iterable[str]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        seen.setdefault(name, []).append(index)
    return {name: idx for name, idx in seen.items() if len(idx) > 1}


def _cross_checks(spec: StackSpec) -> list[Problem]:
    problems: list[Problem] = []
    for index, workload in enumerate(spec.workloads):
        if workload.name.startswith("store-"):
            problems.append(Problem(("workloads", index, "name"), "names starting with 'store-' are reserved for the derived identities of namespaced secret stores"))
    for field, items in (("secrets", spec.secrets), ("keys", spec.keys), ("workloads", spec.workloads)):
        for name, indexes in _duplicates(i.name for i in items).items():
            for index in indexes[1:]:
                problems.append(Problem((field, index, "name"), f"duplicate name '{name}' (first at {field}[{indexes[0]}])"))
    for path, indexes in _duplicates(spec.secret_path(s) for s in spec.secrets).items():
        first, again = (spec.secrets[i] for i in indexes[:2])
        if first.name != again.name:  # a duplicate name is already reported
            problems.append(Problem(("secrets", indexes[1], "path"), f"path '{path}' is already used by secrets[{indexes[0]}]"))

    declared_keys = {k.name for k in spec.keys}
    secret_backends = {s.name: s.backend for s in spec.secrets}
    for index, secret in enumerate(spec.secrets):
        at = ("secrets", index)
        if secret.path is not None and not (secret.path.startswith(spec.path_prefix) and len(secret.path) > len(spec.path_prefix)):
            problems.append(Problem((*at, "path"), f"must start with the stack prefix '{spec.path_prefix}' and name the secret after it"))
        if secret.path is not None and not re.fullmatch(r"[A-Za-z0-9/_+=.@\-]{1,512}", secret.path):
            problems.append(Problem((*at, "path"), "may contain only letters, digits and /_+=.@-"))
        if secret.key is not None and secret.key not in declared_keys:
            problems.append(Problem((*at, "key"), f"unknown key '{secret.key}'; declared keys: {', '.join(sorted(declared_keys)) or 'none'}"))
        key_name = spec.key_name(secret)
        if secret.backend == "aws" and CLASS_POLICY[secret.classification].dedicated_key:
            sharers = [s.name for s in spec.secrets_of_key(key_name) if s.name != secret.name]
            if sharers:
                problems.append(Problem((*at, "key"), f"critical secrets need a dedicated key; '{key_name}' also encrypts {', '.join(sharers)}"))
        window = secret.recovery_window_days
        if spec.is_prod and window is not None and window < MIN_PROD_RECOVERY_WINDOW_DAYS:
            problems.append(Problem((*at, "recovery_window_days"), f"must be at least {MIN_PROD_RECOVERY_WINDOW_DAYS} in prod (got {window}); 0 (force delete) is allowed only outside prod"))
        for r_index, region in enumerate(secret.replica_regions):
            if region not in spec.aws.replica_regions:
                problems.append(Problem((*at, "replica_regions", r_index), f"region '{region}' is not in aws.replica_regions ({', '.join(spec.aws.replica_regions) or 'none declared'})"))
        if len(set(secret.replica_regions)) != len(secret.replica_regions):
            problems.append(Problem((*at, "replica_regions"), "lists a region twice"))
        policy = CLASS_POLICY[secret.classification]
        if secret.rotation is None and policy.max_rotation_days is not None:
            problems.append(Problem((*at, "rotation"), f"required for classification '{secret.classification.value}' (at most every {policy.max_rotation_days} days); declare kind: {', '.join(k for k in ROTATION_KINDS if k != 'none')}"))
        if secret.rotation is not None and secret.rotation.kind == "none" and policy.max_rotation_days is not None:
            problems.append(Problem((*at, "rotation", "kind"), f"classification '{secret.classification.value}' requires rotation at least every {policy.max_rotation_days} days"))
        master = secret.rotation.master_secret if secret.rotation is not None else None
        if master is not None and (master not in secret_backends or secret_backends[master] != "aws" or master == secret.name):
            problems.append(Problem((*at, "rotation", "master_secret"), f"must name another AWS secret of this stack (got '{master}')"))
        if secret.rotation is not None and secret.rotation.days is not None and policy.max_rotation_days is not None and secret.rotation.days > policy.max_rotation_days:
            problems.append(Problem((*at, "rotation", "days"), f"classification '{secret.classification.value}' allows at most {policy.max_rotation_days} days (got {secret.rotation.days})"))

    if spec.aws.deployer_role_arn is None:
        for index, secret in enumerate(spec.secrets):
            if secret.initial_value == "config" and secret.backend == "aws":
                problems.append(Problem(("secrets", index, "initial_value"), "needs aws.deployer_role_arn: the key policy must let the deploying role encrypt the initial value"))
    # IAM role and Lambda function names stop at 64 characters.
    for index, workload in enumerate(spec.workloads):
        if len(f"{spec.slug}-{workload.name}") > 64:
            problems.append(Problem(("workloads", index, "name"), f"'{spec.slug}-{workload.name}' is longer than the 64 characters of an IAM role name"))
    for index, secret in enumerate(spec.secrets):
        if secret.rotation is not None and secret.rotation.kind in AUTOMATED_ROTATION and len(f"{spec.slug}-rotate-{secret.name}") > 64:
            problems.append(Problem(("secrets", index, "name"), f"'{spec.slug}-rotate-{secret.name}' is longer than the 64 characters of a function name"))
    for r_index, region in enumerate(spec.aws.replica_regions):
        if region == spec.aws.region:
            problems.append(Problem(("aws", "replica_regions", r_index), f"'{region}' is the primary region"))

    secret_names = {s.name for s in spec.secrets}
    for index, workload in enumerate(spec.workloads):
        for field in ("reads", "writes"):
            for r_index, name in enumerate(getattr(workload, field)):
                if name not in secret_names:
                    problems.append(Problem(("workloads", index, field, r_index), f"unknown secret '{name}'; declared secrets: {', '.join(sorted(secret_names))}"))
    for index, workload in enumerate(spec.workloads):
        on_kubernetes = spec.aws_reads(workload) or spec.aws_writes(workload) or spec.gcp_access(workload) or spec.azure_reads(workload) or spec.synced(workload) or (
            spec.vault_access(workload) and workload.vault_login == "kubernetes"
        )
        for field in ("namespace", "service_account"):
            if on_kubernetes and getattr(workload, field) is None:
                problems.append(Problem(("workloads", index, field), "required: the workload signs in with its Kubernetes service account"))
    owner_of: dict[str, int] = {}
    for index, workload in enumerate(spec.workloads):
        if workload.namespace and workload.service_account:
            sa = f"{workload.namespace}/{workload.service_account}"
            if sa in owner_of:
                problems.append(Problem(("workloads", index, "service_account"), f"service account {sa} already belongs to workloads[{owner_of[sa]}]; one identity per workload"))
            owner_of.setdefault(sa, index)
    if spec.cluster is None and any(spec.aws_reads(w) or spec.aws_writes(w) for w in spec.workloads):
        problems.append(Problem(("cluster",), "required when workloads read AWS secrets (their roles trust the cluster's OIDC provider)"))
    problems += _vault_checks(spec)
    problems += _gcp_checks(spec)
    problems += _azure_checks(spec)
    problems += _kubernetes_checks(spec)
    if spec.cluster is not None:
        account = spec.cluster.oidc_provider_arn.split(":")[4]
        if account != spec.aws.account_id:
            problems.append(Problem(("cluster", "oidc_provider_arn"), f"belongs to account {account}, not aws.account_id {spec.aws.account_id}"))
        if not spec.cluster.oidc_provider_arn.endswith("oidc-provider/" + spec.cluster.issuer_host_path):
            problems.append(Problem(("cluster", "oidc_provider_arn"), "must be the provider of cluster.oidc_issuer_url (arn:...:oidc-provider/<issuer without https://>)"))
    return problems


def _kubernetes_checks(spec: StackSpec) -> list[Problem]:
    problems: list[Problem] = []
    eso = spec.eso
    for index, workload in enumerate(spec.workloads):
        if workload.delivery in ("external-secrets", "both") and eso is None:
            problems.append(Problem(("workloads", index, "delivery"), f"'{workload.delivery}' needs kubernetes.eso"))
    if spec.kubernetes is not None and spec.kubernetes.render_yaml_to is not None:
        target = spec.kubernetes.render_yaml_to
        if target.startswith("/") or ".." in target.split("/"):
            problems.append(Problem(("kubernetes", "render_yaml_to"), "must be a relative directory inside the project"))
    if eso is None:
        return problems
    names = [w.name for w in spec.workloads]
    if eso.workload not in names:
        problems.append(Problem(("kubernetes", "eso", "workload"), f"unknown workload '{eso.workload}'; declare the controller's identity as a workload"))
        return problems
    index = names.index(eso.workload)
    controller = spec.workloads[index]
    if controller.namespace != eso.namespace:
        problems.append(Problem(("workloads", index, "namespace"), f"the External Secrets controller runs in '{eso.namespace}' (kubernetes.eso.namespace)"))
    if controller.delivery not in (None, "direct"):
        problems.append(Problem(("workloads", index, "delivery"), "the External Secrets controller reads with its own identity: direct"))
    synced_vault = any(spec._backend_of.get(n) == "vault" for w in spec.workloads for n in spec.synced(w))
    # Without a vault: section each Vault secret already reports it.
    if synced_vault and spec.vault is not None and (spec.vault.kubernetes_auth is None or controller.vault_login != "kubernetes"):
        problems.append(Problem(("kubernetes", "eso"), "syncing Vault secrets needs vault.kubernetes_auth and a kubernetes vault_login for the controller"))
    return problems


_AWS_ONLY = ("key", "replica_regions", "recovery_window_days", "initial_value")
# Backends other than AWS run no rotation function: a cadence for people (with a notification where the
# backend has one), or none.
MANUAL_ROTATION_KINDS = ("none", "manual")


def _manual_rotation_only(at: tuple, secret: SecretSpec, backend: str, how: str) -> list[Problem]:
    if secret.rotation is None or secret.rotation.kind in MANUAL_ROTATION_KINDS:
        return []
    return [Problem((*at, "rotation", "kind"), f"'{secret.rotation.kind}' rotation needs backend: aws; {backend} secrets take "
                    f"{', '.join(MANUAL_ROTATION_KINDS)} ({how})")]


def _vault_checks(spec: StackSpec) -> list[Problem]:
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
        for field in _AWS_ONLY:
            if field in secret.model_fields_set:
                problems.append(Problem((*at, field), "only for backend: aws"))
        mounts = [m.path for m in vault.kv_mounts]
        if secret.mount is not None and secret.mount not in mounts:
            problems.append(Problem((*at, "mount"), f"unknown KV mount '{secret.mount}'; declared: {', '.join(mounts) or 'none'}"))
        problems += _manual_rotation_only(at, secret, "Vault", "or use a database role for dynamic credentials")

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
    for mount, indexes in _duplicates(path for *_, path in mounts).items():
        field, index, _ = mounts[indexes[1]]
        if field == "databases" and mounts[indexes[0]][0] == "databases":
            continue  # several connections may share one database engine mount
        problems.append(Problem(("vault", field, index, "mount" if field == "databases" else "path"), f"mount '{mount}' is already used"))
    for name, indexes in _duplicates(d.name for d in vault.databases).items():
        problems.append(Problem(("vault", "databases", indexes[1], "name"), f"duplicate name '{name}'"))
    if vault.kubernetes_auth is not None:
        k8s = vault.kubernetes_auth
        problems += _ttl_order(("vault", "kubernetes_auth"), k8s.token_ttl, k8s.token_max_ttl, "token_ttl", "token_max_ttl")
    for index, database in enumerate(vault.databases):
        at = ("vault", "databases", index)
        if spec.is_prod and database.ssl_mode == "disable":
            problems.append(Problem((*at, "ssl_mode"), "must be verify-full or require in prod"))
        for name, r_indexes in _duplicates(r.name for r in database.roles).items():
            problems.append(Problem((*at, "roles", r_indexes[1], "name"), f"duplicate name '{name}'"))
        for r_index, role in enumerate(database.roles):
            problems += _ttl_order((*at, "roles", r_index), role.default_ttl, role.max_ttl, "default_ttl", "max_ttl")
    return problems


_NOT_FOR_GCP = {"key": "aws", "replica_regions": "aws (GCP replication is gcp.replica_regions)", "recovery_window_days": "aws",
                "path": "aws and vault (GCP secret ids are <slug>-<name>)"}


def _gcp_checks(spec: StackSpec) -> list[Problem]:
    problems: list[Problem] = []
    gcp = spec.gcp
    for index, secret in enumerate(spec.secrets):
        at = ("secrets", index)
        if secret.backend != "gcp":
            continue
        if gcp is None:
            problems.append(Problem((*at, "backend"), "backend 'gcp' needs a gcp: section (project_id, replication, gke)"))
            continue
        for field, backends in _NOT_FOR_GCP.items():
            if field in secret.model_fields_set:
                problems.append(Problem((*at, field), f"only for backend: {backends}"))
        problems += _manual_rotation_only(at, secret, "GCP", "manual: Secret Manager notifies the rotation topic on the cadence")
        for field in ("schedule", "window"):
            if secret.rotation is not None and getattr(secret.rotation, field) is not None:
                problems.append(Problem((*at, "rotation", field), "GCP rotation is a period in days (rotation.days); Secret Manager takes no schedule or window"))
        if len(spec.gcp_secret_id(secret)) > 255:
            problems.append(Problem((*at, "name"), f"'{spec.gcp_secret_id(secret)}' is longer than the 255 characters of a secret id"))
    if gcp is None:
        return problems
    for name, indexes in _duplicates(gcp.replica_regions).items():
        problems.append(Problem(("gcp", "replica_regions", indexes[1]), f"'{name}' is listed twice"))
    if gcp.workload_identity_pool is not None and gcp.workload_identity_pool != gcp.identity_pool:
        problems.append(Problem(("gcp", "workload_identity_pool"), f"GKE's pool is <cluster project>.svc.id.goog: must be '{gcp.identity_pool}'"))
    if gcp.gke is None:
        readers = [w.name for w in spec.all_workloads if spec.gcp_access(w)]
        if readers:
            problems.append(Problem(("gcp", "gke"), f"required: {', '.join(readers)} read GCP secrets through GKE workload identity"))
    if not spec.secrets_on("gcp"):
        problems.append(Problem(("gcp",), "no secret has backend: gcp; remove the section or add one"))
    return problems


_AZURE_SECRET_NAME = re.compile(r"[A-Za-z0-9-]{1,127}")


def _azure_checks(spec: StackSpec) -> list[Problem]:
    problems: list[Problem] = []
    azure = spec.azure
    for index, secret in enumerate(spec.secrets):
        at = ("secrets", index)
        if secret.backend != "azure":
            continue
        if azure is None:
            problems.append(Problem((*at, "backend"), "backend 'azure' needs an azure: section (subscription, vault, AKS issuer)"))
            continue
        for field in _AWS_ONLY:
            if field in secret.model_fields_set:
                problems.append(Problem((*at, field), "only for backend: aws (Key Vault values are written out of band, never through Pulumi)"
                                        if field == "initial_value" else "only for backend: aws"))
        problems += _manual_rotation_only(at, secret, "Azure", "manual: Event Grid notifies before the version expires")
        if not _AZURE_SECRET_NAME.fullmatch(spec.azure_secret_name(secret)):
            problems.append(Problem((*at, "path" if secret.path else "name"), "the Key Vault secret name (the path with / as -) must be 1 to 127 letters, digits and dashes"))
    azure_secrets = spec.secrets_on("azure")
    names = [spec.azure_secret_name(s) for s in azure_secrets]
    for name, indexes in _duplicates(n.lower() for n in names).items():
        problems.append(Problem(("secrets", spec.secrets.index(azure_secrets[indexes[1]]), "path"), f"Key Vault secret name '{name}' is already used by secret {azure_secrets[indexes[0]].name}"))
    if azure is None:
        return problems
    at = ("azure",)
    if not azure_secrets:
        problems.append(Problem(at, "no secret has backend: azure; remove the section or add one"))
    needed = spec.azure_credentials_per_identity()
    if needed > AZURE_MAX_FEDERATED_CREDENTIALS:
        problems.append(Problem((*at, "extra_oidc_issuer_urls"), f"each workload identity would need {needed} federated credentials (one per issuer); Azure allows at most {AZURE_MAX_FEDERATED_CREDENTIALS} per identity"))
    for url, indexes in _duplicates(azure.issuers).items():
        problems.append(Problem((*at, "extra_oidc_issuer_urls", indexes[1] - 1), "this issuer is already listed"))
    if spec.is_prod and azure.soft_delete_retention_days is not None and azure.soft_delete_retention_days < AZURE_PROD_SOFT_DELETE_DAYS:
        problems.append(Problem((*at, "soft_delete_retention_days"), f"must be {AZURE_PROD_SOFT_DELETE_DAYS} in prod (got {azure.soft_delete_retention_days})"))
    if not azure.public_network_access and (azure.allowed_ips or azure.subnet_ids):
        problems.append(Problem((*at, "allowed_ips" if azure.allowed_ips else "subnet_ids"), "applies only with public_network_access: true (a private endpoint bypasses the firewall)"))
    for field in ("allowed_ips", "subnet_ids"):
        for value, indexes in _duplicates(getattr(azure, field)).items():
            problems.append(Problem((*at, field, indexes[1]), "listed twice"))
    rotated = [s.name for s in azure_secrets if spec.azure_rotates(s)]
    if rotated and azure.rotation_notification_url is None:
        problems.append(Problem((*at, "rotation_notification_url"), f"required: {', '.join(rotated)} declare rotation and Event Grid sends their near-expiry events there"))
    return problems


def _ttl_order(at: tuple, ttl: str, max_ttl: str, ttl_name: str, max_name: str) -> list[Problem]:
    if seconds(ttl) > seconds(max_ttl):
        return [Problem((*at, ttl_name), f"must not exceed {max_name} ({ttl} > {max_ttl})")]
    return []


# ----- entry points -----


def parse_stack_spec(raw: Mapping[str, Any], source: str) -> StackSpec:
    """Validate a `secrets-platform:` namespace (keys without the namespace) into a StackSpec."""
    try:
        spec = StackSpec.model_validate(dict(raw))
    except ValidationError as error:
        raise ConfigError(source, [_pydantic_problem(e) for e in error.errors(include_url=False)]) from None
    problems = _cross_checks(spec)
    if problems:
        raise ConfigError(source, problems)
    return spec


def _decode(value: Any) -> Any:
    """Pulumi hands structured config values to programs as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def namespace_values(config: Mapping[str, Any]) -> dict[str, Any]:
    prefix = f"{NAMESPACE}:"
    return {key[len(prefix):]: _decode(value) for key, value in config.items() if key.startswith(prefix)}


def load_stack_spec() -> StackSpec:
    """Read the running stack's config (real engine or mocks) and validate it."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    source = f"Pulumi.{pulumi.get_stack()}.yaml"
    raw = namespace_values(merged)
    # Top-level scalars such as `environment: prod` must stay strings even if they look like JSON.
    for scalar in ("environment", "prefix"):
        if scalar in raw and not isinstance(raw[scalar], str):
            raw[scalar] = merged[f"{NAMESPACE}:{scalar}"]
    spec = parse_stack_spec(raw, source)
    # Checked here, before any resource exists, so a missing value never leaves a half-built plan.
    problems = [
        Problem(("secrets", index, "initial_value"), message)
        for index, secret in enumerate(spec.secrets)
        if secret.initial_value == "config" and (message := _secret_config_problem(INITIAL_VALUE_NAMESPACE, secret.name))
    ]
    problems += [
        Problem(("vault", "databases", index, "username"), message)
        for index, database in enumerate(spec.vault.databases if spec.vault else ())
        if (message := _secret_config_problem(DATABASE_PASSWORD_NAMESPACE, database.name))
    ]
    if problems:
        raise ConfigError(source, problems)
    return spec


def _secret_config_problem(namespace: str, name: str) -> str | None:
    from pulumi.runtime import config as runtime_config

    key = f"{namespace}:{name}"
    if runtime_config.get_config(key) is None:
        return f"needs {key}; run `pulumi config set --secret {key} <value>`"
    if not runtime_config.is_config_secret(key) and key not in runtime_config.get_config_secret_keys_env():
        return f"{key} must be set with --secret so it is encrypted in the stack file"
    return None


def initial_value(secret: SecretSpec) -> Any:
    """The secret's initial value as a Pulumi secret Output (checked by load_stack_spec)."""
    import pulumi

    return pulumi.Config(INITIAL_VALUE_NAMESPACE).require_secret(secret.name)


def database_password(database: DatabaseSpec) -> Any:
    """The password Vault first connects with (it rotates it); checked by load_stack_spec."""
    import pulumi

    return pulumi.Config(DATABASE_PASSWORD_NAMESPACE).require_secret(database.name)


def exit_on_config_error(error: ConfigError) -> None:
    for line in error.lines():
        print(line, file=sys.stderr)
    raise SystemExit(2)


# ----- JSON Schema of a stack file, for editor completion of Pulumi.<stack>.yaml -----

SCHEMA_FILE = "secrets-platform.schema.json"


def stack_file_schema() -> dict[str, Any]:
    spec = StackSpec.model_json_schema(mode="validation")
    definitions = spec.pop("$defs", {})
    config_properties = {f"{NAMESPACE}:{field}": schema for field, schema in spec["properties"].items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "secrets-platform stack file (Pulumi.<stack>.yaml)",
        "type": "object",
        "properties": {
            "config": {
                "type": "object",
                "properties": config_properties,
                "patternProperties": {
                    f"^{re.escape(namespace)}:": {"type": "object", "required": ["secure"]}
                    for namespace in (INITIAL_VALUE_NAMESPACE, DATABASE_PASSWORD_NAMESPACE)
                },
                "required": [f"{NAMESPACE}:{field}" for field in spec.get("required", [])],
            }
        },
        "$defs": definitions,
    }


if __name__ == "__main__":
    # `python -m components.config` rewrites the committed schema.
    from pathlib import Path

    target = Path(__file__).resolve().parent.parent / SCHEMA_FILE
    target.write_text(json.dumps(stack_file_schema(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {target.name}")
