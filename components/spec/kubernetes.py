"""Kubernetes: the cluster objects the platform manages (namespaces, rendered YAML) and the External
Secrets Operator that syncs secrets into it, and their checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import StringConstraints

from components.spec.base import DnsLabel, Duration, Name, Spec
from components.spec.errors import Problem

if TYPE_CHECKING:
    from components.spec.stack import StackSpec


def service_account_subject(namespace: str, service_account: str) -> str:
    """The `sub` of a Kubernetes service account token, which IRSA, Azure federated credentials and GCP
    workload identity federation all pin."""
    return f"system:serviceaccount:{namespace}:{service_account}"


class EsoSpec(Spec):
    """The External Secrets Operator: how Kubernetes workloads receive their secrets."""

    install: bool = True
    """Install the controller with its Helm chart (CRDs on); false when a cluster team runs it."""
    chart_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")] = "2.9.0"
    namespace: DnsLabel = "external-secrets"
    workload: Name = "external-secrets"
    """The workload whose identity (IRSA role, Vault login) the controller and the stores use; its
    reads are derived: every secret an external-secrets workload reads."""
    refresh_interval: Duration = "1h"
    # The controller's own reach, as the chart's values set it (defaults: the chart's, cluster-wide): its
    # ClusterRole lets it get/list/watch/create/update/patch/delete every Secret and create a token for every
    # service account of the cluster. Passed to the chart when `install`; else what the cluster team set.
    scoped_namespace: DnsLabel | None = None
    """Chart `scopedNamespace`: the controller reconciles ExternalSecrets (and SecretStores) of this namespace only."""
    scoped_rbac: bool = False
    """Chart `scopedRBAC`: a Role (and RoleBinding) in `scoped_namespace` (default: `namespace`) instead of the
    ClusterRole, so Secrets and service account tokens of that namespace only; disables the cluster-scoped
    reconcilers (ClusterSecretStore, ClusterExternalSecret)."""
    process_cluster_store: bool = True
    """Chart `processClusterStore`: reconcile ClusterSecretStores."""
    process_cluster_external_secret: bool = True
    """Chart `processClusterExternalSecret`: reconcile ClusterExternalSecrets (and create ExternalSecrets in any namespace)."""

    @property
    def reconciled_namespace(self) -> str | None:
        """The one namespace the controller reconciles, None when all."""
        return self.scoped_namespace or (self.namespace if self.scoped_rbac else None)

    @property
    def cluster_stores(self) -> bool:
        return self.process_cluster_store and not self.scoped_rbac

    def chart_values(self) -> dict:
        """The chart values that scope the controller, only those that differ from the chart's defaults."""
        values = {"scopedNamespace": self.scoped_namespace, "scopedRBAC": self.scoped_rbac or None,
                  "processClusterStore": None if self.process_cluster_store else False,
                  "processClusterExternalSecret": None if self.process_cluster_external_secret else False}
        return {k: v for k, v in values.items() if v is not None}


class KubernetesSpec(Spec):
    context: str | None = None
    """kubeconfig context; unset uses the ambient one."""
    manage_namespaces: bool = False
    """Create the workloads' namespaces (labelled) instead of expecting them."""
    render_yaml_to: str | None = None
    """Write the Kubernetes objects as YAML into this directory instead of applying them (Argo CD, Flux)."""
    eso: EsoSpec | None = None


def kubernetes_checks(spec: StackSpec) -> list[Problem]:
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
    problems += _scope_checks(spec, eso)
    synced_vault = any(spec.backend_of.get(n) == "vault" for w in spec.workloads for n in spec.synced(w))
    # Without a vault: section each Vault secret already reports it.
    if synced_vault and spec.vault is not None and (spec.vault.kubernetes_auth is None or controller.vault_login != "kubernetes"):
        problems.append(Problem(("kubernetes", "eso"), "syncing Vault secrets needs vault.kubernetes_auth and a kubernetes vault_login for the controller"))
    return problems


def _scope_checks(spec: StackSpec, eso: EsoSpec) -> list[Problem]:
    """A scoped controller must still reconcile every store and ExternalSecret the stack plans."""
    problems: list[Problem] = []
    at = ("kubernetes", "eso")
    only = eso.reconciled_namespace
    if only is not None:
        elsewhere = sorted(ns for ns in spec.synced_by_namespace if ns != only)
        if elsewhere:
            field = "scoped_namespace" if eso.scoped_namespace else "scoped_rbac"
            problems.append(Problem((*at, field), f"the controller would reconcile namespace {only} only; {', '.join(elsewhere)} also sync secrets"))
    if not eso.cluster_stores:
        cluster = sorted(key for key in spec.store_namespaces if spec.is_cluster_store(key))
        if cluster:
            field = "scoped_rbac" if eso.scoped_rbac else "process_cluster_store"
            problems.append(Problem((*at, field), f"the controller would not reconcile ClusterSecretStores, and stores {', '.join(cluster)} are shared by several namespaces"))
    return problems
