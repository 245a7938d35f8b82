"""How secrets reach Kubernetes workloads: directly through the workload's identity, or synced by External
Secrets through one store per backend (and Vault KV mount), a ClusterSecretStore or per-namespace
SecretStores with derived identities. One place for this layout; the backends and reports read it."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from components.spec.base import Backend
from components.spec.kubernetes import EsoSpec
from components.spec.models import SecretSpec, WorkloadSpec

if TYPE_CHECKING:
    from components.spec.stack import StackSpec

# The service account a namespaced SecretStore signs in as.
STORE_SERVICE_ACCOUNT = "external-secrets-store"


class DeliveryLayout:
    """StackSpec's delivery and External Secrets store layout (mixed into StackSpec)."""

    @property
    def eso(self: StackSpec) -> EsoSpec | None:
        return self.kubernetes.eso if self.kubernetes else None

    def delivery(self: StackSpec, workload: WorkloadSpec) -> str:
        if workload.delivery is not None:
            return workload.delivery
        return "external-secrets" if self.eso is not None and not self.is_eso_controller(workload) else "direct"

    def is_eso_controller(self: StackSpec, workload: WorkloadSpec) -> bool:
        return self.eso is not None and workload.name == self.eso.workload

    def synced(self: StackSpec, workload: WorkloadSpec) -> tuple[str, ...]:
        """Secrets External Secrets syncs into the workload's namespace for it."""
        return workload.reads if self.delivery(workload) in ("external-secrets", "both") else ()

    def consumer_keys(self: StackSpec, secret: SecretSpec) -> dict[str, tuple[str, ...]]:
        """Each consumer of the secret -> the properties it reads: its ExternalSecret maps every declared property
        to a key of the same name; a workload reading the secret itself reads the whole value (none named)."""
        return {
            workload.name: secret.properties if secret.name in self.synced(workload) else ()
            for workload in self.workloads if secret.name in workload.reads
        }

    def store_key(self: StackSpec, secret: SecretSpec) -> str:
        """The store a synced secret comes through: one per backend (and Vault KV mount)."""
        return secret.backend if secret.backend in ("aws", "gcp", "azure") else f"vault-{self.kv_mount(secret)}"

    @cached_property
    def synced_by_namespace(self: StackSpec) -> dict[str, dict[str, SecretSpec]]:
        secrets = {s.name: s for s in self.secrets}
        wanted: dict[str, dict[str, SecretSpec]] = {}
        for workload in self.workloads:
            for name in self.synced(workload):
                if name in secrets:  # an unknown name is reported by the cross-checks
                    wanted.setdefault(workload.namespace or "", {})[name] = secrets[name]
        return dict(sorted(wanted.items()))

    @cached_property
    def store_namespaces(self: StackSpec) -> dict[str, tuple[str, ...]]:
        """Store key -> the namespaces that sync secrets through it."""
        namespaces: dict[str, set[str]] = {}
        for ns, secrets in self.synced_by_namespace.items():
            for secret in secrets.values():
                namespaces.setdefault(self.store_key(secret), set()).add(ns)
        return {key: tuple(sorted(v)) for key, v in sorted(namespaces.items())}

    def is_cluster_store(self: StackSpec, key: str) -> bool:
        """One ClusterSecretStore (limited to its namespaces) only when several namespaces sync exactly the
        same secrets through it. A namespace that may use a store can fetch anything the store's identity
        reads, so when their secrets differ each namespace gets its own SecretStore and identity instead."""
        declared = self.declared_store(key)  # a store kept as it is (adoption); least privilege checked in the spec
        if declared is not None:
            return declared.kind == "ClusterSecretStore" and self.same_secrets_through(key)
        return len(self.store_namespaces[key]) >= 2 and self.same_secrets_through(key)

    def same_secrets_through(self: StackSpec, key: str) -> bool:
        """Whether every namespace using the store syncs exactly the same secrets through it."""
        namespaces = self.store_namespaces[key]
        wanted = {frozenset(n for n, s in self.synced_by_namespace[ns].items() if self.store_key(s) == key) for ns in namespaces}
        return len(wanted) == 1

    @cached_property
    def store_identities(self: StackSpec) -> tuple[WorkloadSpec, ...]:
        """A namespaced store signs in as its own service account, whose identity reads exactly the
        secrets synced into that namespace through it; derived, never declared."""
        identities = []
        for ns, secrets in self.synced_by_namespace.items():
            reads = tuple(n for n, s in secrets.items() if not self.is_cluster_store(self.store_key(s)))
            if reads:
                identities.append(WorkloadSpec(name=f"store-{ns}", namespace=ns, service_account=STORE_SERVICE_ACCOUNT, reads=reads, delivery="direct"))
        return tuple(identities)

    @property
    def all_workloads(self: StackSpec) -> tuple[WorkloadSpec, ...]:
        """Declared workloads and the derived store identities: everything that gets an identity."""
        return (*self.workloads, *self.store_identities)

    def effective_reads(self: StackSpec, workload: WorkloadSpec) -> tuple[str, ...]:
        """What the workload's own identity may read: its direct reads, and for the ESO controller
        every secret synced through a ClusterSecretStore (derived from the consumers)."""
        if self.is_eso_controller(workload):
            through_cluster_stores = [
                name for secrets in self.synced_by_namespace.values() for name, secret in secrets.items()
                if self.is_cluster_store(self.store_key(secret))
            ]
            return tuple(dict.fromkeys([*workload.reads, *through_cluster_stores]))
        return workload.reads if self.delivery(workload) in ("direct", "both") else ()

    def reads(self: StackSpec, workload: WorkloadSpec, backend: Backend) -> tuple[str, ...]:
        """The secrets of one backend the workload's own identity may read (its effective reads)."""
        return tuple(n for n in self.effective_reads(workload) if self.backend_of.get(n) == backend)

    def writes(self: StackSpec, workload: WorkloadSpec, backend: Backend) -> tuple[str, ...]:
        """The secrets of one backend the workload declares it writes."""
        return tuple(n for n in workload.writes if self.backend_of.get(n) == backend)
