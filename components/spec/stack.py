"""The whole `secrets-platform:` namespace of one stack, the derived values every backend shares, and the
cross-checks that span sections (names, paths, references, identities) before each backend's own."""

from __future__ import annotations

from functools import cached_property
from typing import Annotated

from pydantic import StringConstraints

from components.spec.adoption import AdoptionNaming, adoption_checks
from components.spec.aws import AwsNaming, AwsSpec, ClusterSpec, aws_checks
from components.spec.azure import AzureNaming, AzureSpec, azure_checks
from components.spec.base import CLASS_POLICY, NAMESPACE, Classification, Environment, Spec
from components.spec.checks import duplicates
from components.spec.delivery import DeliveryLayout
from components.spec.errors import Problem
from components.spec.gcp import GcpNaming, GcpSpec, gcp_checks
from components.spec.kubernetes import KubernetesSpec, kubernetes_checks
from components.spec.models import KeySpec, SecretSpec, StackTags, WorkloadSpec
from components.spec.operators import OperatorNaming, OperatorSpec, operator_checks
from components.spec.alerts import AlertsNaming, AlertsSpec, alert_checks
from components.spec.audit import AuditNaming, audit_checks
from components.spec.rotation import ROTATION_KINDS, RotationSpec, rotation_network_checks, secret_shape_checks
from components.spec.vault import VaultNaming, VaultSpec, vault_checks


class StackSpec(Spec, AwsNaming, VaultNaming, GcpNaming, AzureNaming, DeliveryLayout, AdoptionNaming, OperatorNaming, AlertsNaming, AuditNaming):
    environment: Environment
    prefix: Annotated[str, StringConstraints(pattern=r"^([a-z0-9][a-z0-9\-_/{}]*)?\{env\}[a-z0-9\-_/]*/$")]
    """Secret path prefix with `{env}`, e.g. `autolytiq/{env}/` or `{env}/`; resource names use its slug.
    Only derived paths use it: an explicit `path` is the name as it is."""
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
    operators: tuple[OperatorSpec, ...] = ()
    """People and CI identities the stack does not own, with the secrets they read or write by hand."""
    alerts: AlertsSpec | None = None
    """Where failed rotations, rotation function errors and break-glass use are sent (required in prod with rotations)."""

    # ----- derived values: one place for each default; each backend's own are in its mixin -----

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

    def secrets_on(self, backend: str) -> tuple[SecretSpec, ...]:
        return tuple(s for s in self.secrets if s.backend == backend)

    @cached_property
    def backend_of(self) -> dict[str, str]:
        """Secret name -> its backend."""
        return {s.name: s.backend for s in self.secrets}

    def rotation(self, secret: SecretSpec) -> RotationSpec:
        """The effective rotation: the declared one with the class cadence filled in."""
        declared = secret.rotation
        max_days = CLASS_POLICY[secret.classification].max_rotation_days
        if declared is None:
            return RotationSpec(kind="none")
        if declared.kind != "none" and declared.days is None and declared.schedule is None:
            return declared.model_copy(update={"days": max_days or 365})
        return declared

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


def cross_checks(spec: StackSpec) -> list[Problem]:
    """Everything the types alone cannot say: the shared checks, then each backend's."""
    return [
        *_shared_checks(spec), *secret_shape_checks(spec), *rotation_network_checks(spec), *aws_checks(spec), *vault_checks(spec), *gcp_checks(spec), *azure_checks(spec),
        *kubernetes_checks(spec), *adoption_checks(spec), *operator_checks(spec), *alert_checks(spec), *audit_checks(spec),
    ]


def _shared_checks(spec: StackSpec) -> list[Problem]:
    problems: list[Problem] = []
    for index, workload in enumerate(spec.workloads):
        if workload.name.startswith("store-"):
            problems.append(Problem(("workloads", index, "name"), "names starting with 'store-' are reserved for the derived identities of namespaced secret stores"))
    for field, items in (("secrets", spec.secrets), ("keys", spec.keys), ("workloads", spec.workloads)):
        for name, indexes in duplicates(i.name for i in items).items():
            for index in indexes[1:]:
                problems.append(Problem((field, index, "name"), f"duplicate name '{name}' (first at {field}[{indexes[0]}])"))
    for path, indexes in duplicates(spec.secret_path(s) for s in spec.secrets).items():
        first, again = (spec.secrets[i] for i in indexes[:2])
        if first.name != again.name:  # a duplicate name is already reported
            problems.append(Problem(("secrets", indexes[1], "path"), f"path '{path}' is already used by secrets[{indexes[0]}]"))

    for index, secret in enumerate(spec.secrets):
        at = ("secrets", index)
        policy = CLASS_POLICY[secret.classification]
        if secret.rotation is None and policy.max_rotation_days is not None:
            problems.append(Problem((*at, "rotation"), f"required for classification '{secret.classification.value}' (at most every {policy.max_rotation_days} days); declare kind: {', '.join(k for k in ROTATION_KINDS if k != 'none')}"))
        if secret.rotation is not None and secret.rotation.kind == "none" and policy.max_rotation_days is not None:
            problems.append(Problem((*at, "rotation", "kind"), f"classification '{secret.classification.value}' requires rotation at least every {policy.max_rotation_days} days"))
        if secret.rotation is not None and secret.rotation.days is not None and policy.max_rotation_days is not None and secret.rotation.days > policy.max_rotation_days:
            problems.append(Problem((*at, "rotation", "days"), f"classification '{secret.classification.value}' allows at most {policy.max_rotation_days} days (got {secret.rotation.days})"))

    secret_names = {s.name for s in spec.secrets}
    for index, workload in enumerate(spec.workloads):
        for field in ("reads", "writes"):
            for r_index, name in enumerate(getattr(workload, field)):
                if name not in secret_names:
                    problems.append(Problem(("workloads", index, field, r_index), f"unknown secret '{name}'; declared secrets: {', '.join(sorted(secret_names))}"))
    for index, workload in enumerate(spec.workloads):
        on_kubernetes = spec.reads(workload, "aws") or spec.writes(workload, "aws") or spec.gcp_access(workload) or spec.reads(workload, "azure") or spec.synced(workload) or (
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
    return problems
