"""The backend-neutral parts of a stack: tags, keys, secrets and workloads."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from components.spec.adoption import ExternalSecretSpec, IamRoleName, KmsKeyId, VaultName, WorkloadAdoptSpec
from components.spec.base import Backend, Classification, DnsLabel, MountPath, Name, Region, Spec, TagKey, TagValue
from components.spec.rotation import RotationSpec
from components.spec.vault import AppRoleLoginSpec


class StackTags(Spec):
    owner: TagValue
    cost_centre: TagValue
    extra: dict[TagKey, TagValue] = {}


class KeySpec(Spec):
    name: Name
    alias: Annotated[str, StringConstraints(pattern=r"^alias/[A-Za-z0-9/_\-]{1,250}$")] | None = None
    description: str = ""
    deletion_window_days: int = Field(default=30, ge=7, le=30)
    adopt: KmsKeyId | None = None
    """The existing key's id: imported with its alias (which `alias` must then name as it is)."""

    @field_validator("alias")
    @classmethod
    def _not_aws_managed(cls, value: str | None) -> str | None:
        if value is not None and value.startswith("alias/aws/"):
            raise ValueError("alias/aws/ is reserved for AWS managed keys; choose another alias")
        return value


class SecretSpec(Spec):
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
    tags: dict[TagKey, TagValue] = {}
    adopt: str | None = None
    """The existing secret: its ARN (AWS, naming `path`) or `<mount>/data/<path>` (Vault KV v2)."""

    @field_validator("recovery_window_days")
    @classmethod
    def _window_range(cls, value: int | None) -> int | None:
        if value is not None and value != 0 and not 7 <= value <= 30:
            raise ValueError(f"must be 0 (force delete) or between 7 and 30 (got {value})")
        return value


class WorkloadSpec(Spec):
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
    role_name: IamRoleName | None = None
    """The IAM role's name as it is; default `<stack slug>-<name>`."""
    vault_policy_name: VaultName | None = None
    """The Vault policy's name as it is; default `<stack slug>-<name>`."""
    vault_role_name: VaultName | None = None
    """The Vault login role's name as it is; default `<stack slug>-<name>`."""
    adopt: WorkloadAdoptSpec | None = None
    external_secrets: tuple[ExternalSecretSpec, ...] = ()
    """The workload's ExternalSecrets as they are; unset: one per synced secret, named after it."""
