"""Kubernetes: the cluster objects the platform manages (namespaces, rendered YAML) and the External
Secrets Operator that syncs secrets into it, and their checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import StringConstraints

from components.spec.base import DnsLabel, Duration, Name, Spec
from components.spec.errors import Problem

if TYPE_CHECKING:
    from components.spec.stack import StackSpec


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
    synced_vault = any(spec.backend_of.get(n) == "vault" for w in spec.workloads for n in spec.synced(w))
    # Without a vault: section each Vault secret already reports it.
    if synced_vault and spec.vault is not None and (spec.vault.kubernetes_auth is None or controller.vault_login != "kubernetes"):
        problems.append(Problem(("kubernetes", "eso"), "syncing Vault secrets needs vault.kubernetes_auth and a kubernetes vault_login for the controller"))
    return problems
