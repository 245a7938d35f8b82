"""What discovery found in a live estate, before it becomes a draft stack file and a report.

Each reader (aws.py, vault.py, kubernetes.py) lists and describes what exists, never a secret value,
and returns an `Estate`: the things a stack file names (secrets, keys, identities, ExternalSecrets)
and the same estate as plain resource dicts in Pulumi's type tokens and camelCase properties, so the
access matrix (offline/access) and the policy pack evaluate it exactly as they evaluate a plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any


class DiscoverError(Exception):
    """Bad input or an estate that cannot be read: one line, exit status 2."""


@dataclass
class FoundSecret:
    backend: str  # aws | vault
    path: str  # the name as it is: a Secrets Manager name, or the path inside a Vault KV mount
    adopt: str  # the id Pulumi imports it by: secret ARN, or `<mount>/data/<path>`
    matrix_id: str  # the access matrix's id: `aws:<name>`, `vault:<mount>/<path>`
    mount: str | None = None
    description: str = ""
    key: str | None = None  # AWS: the KMS key id; None for the AWS managed key
    rotation_days: int | None = None
    rotation_schedule: str | None = None
    rotation_function: str | None = None
    replica_regions: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    classification: str | None = None  # from a `classification` tag or custom metadata; None: not stated
    properties: tuple[str, ...] = ()  # JSON keys named by ExternalSecrets (never read from the value)


@dataclass
class FoundKey:
    key_id: str
    arn: str
    aliases: tuple[str, ...]


@dataclass
class FoundIdentity:
    principal: str  # the access matrix's principal id: `iam-role:<name>`, `vault-role:<mount>/<role>`
    kind: str  # iam-role | vault-kubernetes | vault-approle
    name: str
    adopt: dict[str, str]  # resource -> import id
    namespace: str | None = None
    service_account: str | None = None
    trusted: str = ""  # who may assume it, when not a Kubernetes ServiceAccount
    policies: tuple[str, ...] = ()  # Vault policy names
    settings: dict[str, Any] = field(default_factory=dict)  # AppRole TTLs and the like, as the spec spells them


@dataclass
class FoundRemoteRef:
    secret_key: str  # the key in the Kubernetes Secret
    remote_key: str
    property: str | None


@dataclass
class FoundExternalSecret:
    name: str
    namespace: str
    target: str
    refresh_interval: str | None
    store_kind: str
    store_name: str
    data: tuple[FoundRemoteRef, ...]


@dataclass
class FoundStore:
    kind: str  # SecretStore | ClusterSecretStore
    name: str
    namespace: str | None
    provider: str  # aws | vault | azurekv | gcpsm | ...
    vault_mount: str | None = None
    service_account: tuple[str | None, str] | None = None  # (namespace, name) it signs in as


@dataclass
class Estate:
    source: str  # what was read: `aws us-east-1 prefix prod/`, `vault http://... mount secret`, `manifests DIR`
    resources: list[dict[str, Any]] = field(default_factory=list)
    secrets: list[FoundSecret] = field(default_factory=list)
    keys: list[FoundKey] = field(default_factory=list)
    identities: list[FoundIdentity] = field(default_factory=list)
    external_secrets: list[FoundExternalSecret] = field(default_factory=list)
    stores: list[FoundStore] = field(default_factory=list)
    service_accounts: dict[tuple[str, str], str] = field(default_factory=dict)  # (namespace, name) -> IRSA role ARN or ""
    account_id: str | None = None
    region: str | None = None
    vault_address: str | None = None
    kubernetes_host: str | None = None
    kubernetes_ca_cert: str | None = None  # the API server's CA (public), as the live auth config has it
    kubernetes_reviewer_set: bool | None = None  # the live config has a token reviewer JWT (never readable back)
    oidc_provider_arns: set[str] = field(default_factory=set)  # the EKS OIDC providers IRSA trusts name
    notes: list[str] = field(default_factory=list)

    def add(self, type_: str, name: str, props: dict[str, Any], outputs: dict[str, Any] | None = None) -> None:
        """One live resource as the access matrix and the policy pack read a planned one."""
        self.resources.append({"type": type_, "urn": f"urn:pulumi:discovered::estate::{type_}::{name}", "name": name,
                               "props": props, "outputs": outputs or {}})

    def merge(self, other: Estate) -> None:
        self.source = f"{self.source}; {other.source}"
        for name in ("resources", "secrets", "keys", "identities", "external_secrets", "stores", "notes"):
            getattr(self, name).extend(getattr(other, name))
        self.service_accounts.update(other.service_accounts)
        self.oidc_provider_arns |= other.oidc_provider_arns
        for name in ("account_id", "region", "vault_address", "kubernetes_host", "kubernetes_ca_cert", "kubernetes_reviewer_set"):
            if getattr(self, name) is None:
                setattr(self, name, getattr(other, name))


def slug(text: str, limit: int = 40) -> str:
    """A spec `Name` from an existing name: lower case, `/`, `_` and `.` as `-`, at most `limit` characters."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    if not out or not out[0].isalpha():
        out = f"x-{out}".rstrip("-")
    return out[:limit].rstrip("-")
