"""Adopting an existing estate (#17): names as they are, and `adopt:` import ids.

An existing name is validated in its provider's grammar and never rewritten; unset, the name is derived as
before. `adopt` is the Pulumi import id of the resource that already exists (`pulumi.ResourceOptions(import_=)`),
and must agree with the name beside it, so a typo cannot adopt someone else's resource.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import StringConstraints

from components.spec.base import Duration, Spec
from components.spec.checks import duplicates
from components.spec.errors import Problem

if TYPE_CHECKING:
    from components.spec.models import SecretSpec, WorkloadSpec
    from components.spec.stack import StackSpec

# The providers' own grammars.
AWS_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@\-]{1,512}")
VAULT_PATH = re.compile(r"[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*")
GCP_SECRET_ID = re.compile(r"[A-Za-z0-9_\-]{1,255}")
AZURE_SECRET_NAME = re.compile(r"[A-Za-z0-9-]{1,127}")
IamRoleName = Annotated[str, StringConstraints(pattern=r"^[\w+=,.@\-]{1,64}$")]
VaultName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,128}$")]
KmsKeyId = Annotated[str, StringConstraints(pattern=r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$")]
SecretArn = r"^arn:aws[a-z\-]*:secretsmanager:([a-z0-9\-]+):(\d{12}):secret:(.+)-[A-Za-z0-9]{6}$"
# Kubernetes object names (DNS subdomain) and `<namespace>/<name>` ids.
K8sName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]
K8sId = Annotated[str, StringConstraints(pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?/)?[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")]
SecretKey = Annotated[str, StringConstraints(pattern=r"^[-._A-Za-z0-9]{1,253}$")]


class WorkloadAdoptSpec(Spec):
    """Import ids of a workload's existing identity resources; each only with the resource it names."""

    role: IamRoleName | None = None
    """The IAM role's name (equal to the workload's role name)."""
    vault_policy: VaultName | None = None
    """The Vault policy's name (equal to the workload's policy name)."""
    vault_role: Annotated[str, StringConstraints(pattern=r"^auth/[a-z0-9][a-z0-9_\-/]*/role/[A-Za-z0-9_.\-]+$")] | None = None
    """`auth/<mount>/role/<name>` of the login role (under vault.kubernetes_auth or vault.approle)."""
    service_account: K8sId | None = None
    """`<namespace>/<name>` of the workload's ServiceAccount."""


class StoreRefSpec(Spec):
    kind: Literal["SecretStore", "ClusterSecretStore"] = "SecretStore"
    """A ClusterSecretStore only where least privilege allows it: the namespaces that use it sync the same secrets."""
    name: K8sName
    adopt: K8sId | None = None
    """`<namespace>/<name>` of a SecretStore, `<name>` of a ClusterSecretStore."""


class ExternalSecretDataSpec(Spec):
    secret_key: SecretKey
    """The key in the Kubernetes Secret (`JWT_SECRET`)."""
    secret: str
    """A `secrets[].name` the workload reads."""
    property: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,253}$")] | None = None
    """The JSON key of the secret's value (`secret`); unset: the whole value."""


class ExternalSecretSpec(Spec):
    """One ExternalSecret of a workload, as it is."""

    name: K8sName
    target: K8sName | None = None
    """The Kubernetes Secret it writes; default: the ExternalSecret's name."""
    refresh_interval: Duration | None = None
    """Default: kubernetes.eso.refresh_interval."""
    store: StoreRefSpec | None = None
    """Default: the derived store of the secrets' backend."""
    data: tuple[ExternalSecretDataSpec, ...]
    adopt: K8sId | None = None
    """`<namespace>/<name>` of the existing ExternalSecret."""


class AdoptionNaming:
    """StackSpec's names of adoptable things: explicit names win, else derived as before (mixed into StackSpec)."""

    def role_name(self: StackSpec, workload: WorkloadSpec) -> str:
        return workload.role_name or f"{self.slug}-{workload.name}"

    def vault_policy_name(self: StackSpec, workload: WorkloadSpec) -> str:
        return workload.vault_policy_name or f"{self.slug}-{workload.name}"

    def vault_role_name(self: StackSpec, workload: WorkloadSpec) -> str:
        return workload.vault_role_name or f"{self.slug}-{workload.name}"

    def vault_login_mount(self: StackSpec, workload: WorkloadSpec) -> str | None:
        vault = self.vault
        if vault is None:
            return None
        auth = vault.kubernetes_auth if workload.vault_login == "kubernetes" else vault.approle
        return auth.mount if auth is not None else None

    def adopt_of(self: StackSpec, workload: WorkloadSpec) -> WorkloadAdoptSpec:
        return workload.adopt or WorkloadAdoptSpec()

    def declared_store(self: StackSpec, key: str) -> StoreRefSpec | None:
        """The store of `key` (`store_key`) as the ExternalSecrets name it; None: derived."""
        found = declared_stores(self).get(key)
        return found[0] if found else None

    def target_secrets(self: StackSpec, workload: WorkloadSpec) -> tuple[str, ...]:
        """The Kubernetes Secrets synced for the workload: its ExternalSecrets' targets, the targets of its namespace's
        declared ExternalSecrets that hold a secret it reads, and one named after each other synced secret."""
        targets = {es.target or es.name: None for es in workload.external_secrets}
        declared = self.declared_targets(workload.namespace)
        for name in self.synced(workload):
            targets.update(dict.fromkeys(declared.get(name, (name,))))
        return tuple(targets)

    def declared_targets(self: StackSpec, namespace: str | None) -> dict[str, tuple[str, ...]]:
        """Secret name -> the Kubernetes Secrets the namespace's declared ExternalSecrets write it into."""
        found: dict[str, dict[str, None]] = {}
        for workload in self.workloads:
            if workload.namespace == namespace:
                for es in workload.external_secrets:
                    for item in es.data:
                        found.setdefault(item.secret, {})[es.target or es.name] = None
        return {name: tuple(targets) for name, targets in found.items()}


def adoption_checks(spec: StackSpec) -> list[Problem]:
    """Every `adopt` agrees with the name beside it and exists only with its resource; explicit names follow
    their provider's grammar and ExternalSecrets name what the workload reads."""
    problems: list[Problem] = []
    for index, secret in enumerate(spec.secrets):
        problems += _secret_checks(spec, ("secrets", index), secret)
    for index, key in enumerate(spec.keys):
        if key.adopt is not None and key.alias is None:
            problems.append(Problem(("keys", index, "alias"), "required with adopt: the existing key's alias as it is (alias/...)"))
    if spec.vault is not None:
        for index, mount in enumerate(spec.vault.kv_mounts):
            if mount.adopt is not None and mount.adopt != mount.path:
                problems.append(Problem(("vault", "kv_mounts", index, "adopt"), f"must be the mount's path '{mount.path}' (got '{mount.adopt}')"))
        for section in ("kubernetes_auth", "approle"):
            auth = getattr(spec.vault, section)
            if auth is not None and auth.adopt is not None and auth.adopt != auth.mount:
                problems.append(Problem(("vault", section, "adopt"), f"must be the auth mount '{auth.mount}' (got '{auth.adopt}')"))
    for index, workload in enumerate(spec.workloads):
        problems += _workload_checks(spec, ("workloads", index), workload)
    problems += store_checks(spec)
    for field in ("role_name", "vault_policy_name", "vault_role_name"):
        derived = getattr(spec, field)
        for name, indexes in duplicates(derived(w) for w in spec.workloads).items():
            problems.append(Problem(("workloads", indexes[1], field), f"'{name}' is already the {field.replace('_', ' ')} of workloads[{indexes[0]}]"))
    return problems


def _secret_checks(spec: StackSpec, at: tuple, secret: SecretSpec) -> list[Problem]:
    problems: list[Problem] = []
    path = spec.secret_path(secret)
    if secret.path is not None:
        grammar, allowed = {
            "vault": (VAULT_PATH, "letters, digits and _.- in /-separated segments"),
            "gcp": (GCP_SECRET_ID, "letters, digits, _ and - (1 to 255): a Secret Manager id"),
            "azure": (AZURE_SECRET_NAME, "letters, digits and - (1 to 127): a Key Vault secret name"),
        }.get(secret.backend, (AWS_SECRET_NAME, "letters, digits and /_+=.@- (1 to 512)"))
        if not grammar.fullmatch(secret.path):
            problems.append(Problem((*at, "path"), f"may contain only {allowed}"))
    if secret.adopt is None:
        return problems
    if secret.backend == "aws":
        match = re.fullmatch(SecretArn, secret.adopt)
        if match is None:
            problems.append(Problem((*at, "adopt"), "must be the secret's ARN: arn:aws:secretsmanager:<region>:<account>:secret:<path>-XXXXXX"))
        elif (match.group(1), match.group(2)) != (spec.aws.region, spec.aws.account_id):
            problems.append(Problem((*at, "adopt"), f"names region {match.group(1)} and account {match.group(2)}, not aws.region {spec.aws.region} and aws.account_id {spec.aws.account_id}"))
        elif match.group(3) != path:
            problems.append(Problem((*at, "adopt"), f"names the secret '{match.group(3)}', not this secret's path '{path}'"))
    elif secret.backend == "vault":
        expected = f"{spec.kv_mount(secret)}/data/{path}"
        if secret.adopt != expected:
            problems.append(Problem((*at, "adopt"), f"must be the KV v2 data path '{expected}' (got '{secret.adopt}')"))
    else:
        problems.append(Problem((*at, "adopt"), "only for backend: aws or vault"))
    return problems


def _workload_checks(spec: StackSpec, at: tuple, workload: WorkloadSpec) -> list[Problem]:
    problems: list[Problem] = []
    adopt = spec.adopt_of(workload)
    has_role = bool(spec.reads(workload, "aws") or spec.writes(workload, "aws"))
    has_vault = spec.vault_access(workload)
    for field, present, what in (("role_name", has_role, "an IAM role (it reads or writes AWS secrets)"),
                                 ("vault_policy_name", has_vault, "Vault access"), ("vault_role_name", has_vault, "Vault access")):
        if getattr(workload, field) is not None and not present:
            problems.append(Problem((*at, field), f"only for a workload with {what}"))
    if adopt.role is not None:
        if not has_role:
            problems.append(Problem((*at, "adopt", "role"), "only for a workload with an IAM role (it reads or writes AWS secrets)"))
        elif adopt.role != spec.role_name(workload):
            problems.append(Problem((*at, "adopt", "role"), f"must be the role's name '{spec.role_name(workload)}' (got '{adopt.role}'); set role_name to keep the existing name"))
    if adopt.vault_policy is not None:
        if not has_vault:
            problems.append(Problem((*at, "adopt", "vault_policy"), "only for a workload with Vault access"))
        elif adopt.vault_policy != spec.vault_policy_name(workload):
            problems.append(Problem((*at, "adopt", "vault_policy"), f"must be the policy's name '{spec.vault_policy_name(workload)}' (got '{adopt.vault_policy}'); set vault_policy_name to keep the existing name"))
    if adopt.vault_role is not None:
        expected = f"auth/{spec.vault_login_mount(workload)}/role/{spec.vault_role_name(workload)}"
        if not has_vault:
            problems.append(Problem((*at, "adopt", "vault_role"), "only for a workload with Vault access"))
        elif adopt.vault_role != expected:
            problems.append(Problem((*at, "adopt", "vault_role"), f"must be '{expected}' (got '{adopt.vault_role}')"))
    if adopt.service_account is not None and adopt.service_account != f"{workload.namespace}/{workload.service_account}":
        problems.append(Problem((*at, "adopt", "service_account"), f"must be '{workload.namespace}/{workload.service_account}' (namespace/service_account; got '{adopt.service_account}')"))

    reads = set(workload.reads)
    properties = {s.name: s.properties for s in spec.secrets}
    if workload.external_secrets and spec.delivery(workload) not in ("external-secrets", "both"):
        problems.append(Problem((*at, "external_secrets"), "only for delivery: external-secrets or both"))
    for e_index, es in enumerate(workload.external_secrets):
        e_at = (*at, "external_secrets", e_index)
        if es.adopt is not None and es.adopt != f"{workload.namespace}/{es.name}":
            problems.append(Problem((*e_at, "adopt"), f"must be '{workload.namespace}/{es.name}' (namespace/name; got '{es.adopt}')"))
        for d_index, item in enumerate(es.data):
            if item.secret not in reads:
                problems.append(Problem((*e_at, "data", d_index, "secret"), f"'{item.secret}' is not in this workload's reads"))
            elif item.property is not None and properties[item.secret] and item.property not in properties[item.secret]:
                problems.append(Problem((*e_at, "data", d_index, "property"), f"'{item.property}' is not one of secret '{item.secret}' properties ({', '.join(properties[item.secret])})"))
        for key, indexes in duplicates(item.secret_key for item in es.data).items():
            problems.append(Problem((*e_at, "data", indexes[1], "secret_key"), f"key '{key}' is already written by data[{indexes[0]}]"))
        if es.store is not None and es.store.adopt is not None:
            expected = es.store.name if es.store.kind == "ClusterSecretStore" else f"{workload.namespace}/{es.store.name}"
            if es.store.adopt != expected:
                problems.append(Problem((*e_at, "store", "adopt"), f"must be '{expected}' (got '{es.store.adopt}')"))
    for name, indexes in duplicates(es.name for es in workload.external_secrets).items():
        problems.append(Problem((*at, "external_secrets", indexes[1], "name"), f"duplicate name '{name}'"))
    for name, indexes in duplicates(es.target or es.name for es in workload.external_secrets).items():
        problems.append(Problem((*at, "external_secrets", indexes[1], "target"), f"Secret '{name}' is already written by external_secrets[{indexes[0]}]"))
    return problems


def declared_stores(spec: StackSpec) -> dict[str, tuple[StoreRefSpec, tuple]]:
    """Store key -> the store its ExternalSecrets name as it is (first declaration) and where it is declared."""
    secrets = {s.name: s for s in spec.secrets}
    found: dict[str, tuple[StoreRefSpec, tuple]] = {}
    for index, workload in enumerate(spec.workloads):
        for e_index, es in enumerate(workload.external_secrets):
            if es.store is None:
                continue
            for item in es.data:
                if item.secret in secrets:
                    found.setdefault(spec.store_key(secrets[item.secret]), (es.store, ("workloads", index, "external_secrets", e_index, "store")))
    return found


def store_checks(spec: StackSpec) -> list[Problem]:
    """One name per store, and a ClusterSecretStore only where least privilege allows it."""
    problems: list[Problem] = []
    secrets = {s.name: s for s in spec.secrets}
    first = declared_stores(spec)
    for index, workload in enumerate(spec.workloads):
        for e_index, es in enumerate(workload.external_secrets):
            at = ("workloads", index, "external_secrets", e_index, "store")
            keys = {spec.store_key(secrets[i.secret]) for i in es.data if i.secret in secrets}
            if es.store is not None and len(keys) > 1:
                problems.append((Problem(at, f"its secrets come through {len(keys)} stores ({', '.join(sorted(keys))}): one ExternalSecret reads one store")))
            for key in keys:
                declared, where = first.get(key, (None, None))
                if es.store is not None and declared is not None and (declared.name, declared.kind) != (es.store.name, es.store.kind):
                    problems.append(Problem(at, f"the {key} store is already {declared.kind} '{declared.name}' at {'.'.join(map(str, where[:-1]))}"))
    for key, (store, where) in first.items():
        if store.kind == "ClusterSecretStore" and key in spec.store_namespaces and not spec.same_secrets_through(key):
            namespaces = ", ".join(spec.store_namespaces[key])
            problems.append(Problem((*where, "kind"), f"a ClusterSecretStore would let namespaces {namespaces} read each other's secrets (they sync different ones); least privilege needs SecretStore"))
    return problems
