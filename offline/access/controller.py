"""The External Secrets controller's own reach, as its Helm chart's RBAC gives it (chart 2.x,
`deploy/charts/external-secrets/templates/rbac.yaml`): the `<release>-controller` ClusterRole lets the
controller get/list/watch/create/update/patch/delete every Secret and create a token for every service account
(`serviceaccounts/token`, when `rbac.serviceAccountTokenCreate`) of the cluster. `scopedRBAC` makes it a Role
in `scopedNamespace` (default: the release's namespace) and turns the cluster-scoped reconcilers off;
`scopedNamespace` alone limits which ExternalSecrets it reconciles; `processClusterStore` and
`processClusterExternalSecret` turn those reconcilers off.

The values come from the chart's Helm release in the plan, or, when the stack does not deploy the chart
(`kubernetes.eso.install: false`), from what the spec declares the cluster team set (default: the chart's
defaults, cluster-wide)."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any

from documents.props import dig, is_unknown

SECRET_VERBS = "get/list/watch/create/update/patch/delete"


@dataclass(frozen=True)
class ControllerReach:
    namespace: str  # the release's
    service_account: str
    scoped_namespace: str | None = None
    scoped_rbac: bool = False
    process_cluster_store: bool = True
    process_cluster_external_secret: bool = True
    rbac: bool = True
    token_create: bool = True
    declared: bool = False  # modelled from the spec: the stack does not deploy the chart
    unknown: tuple[str, ...] = ()  # values unknown at preview (taken as the chart's defaults)

    @classmethod
    def from_values(cls, namespace: str, service_account: str, values: Any, declared: bool = False) -> ControllerReach:
        values = values if isinstance(values, Mapping) else {}
        unknown = []

        def get(*path: str, default: Any) -> Any:
            found = dig(values, *path)
            if is_unknown(found):
                unknown.append(".".join(path))
                return default
            return default if found is None else found

        scoped = get("scopedNamespace", default=None)
        return cls(namespace, service_account, scoped if isinstance(scoped, str) and scoped else None,
                   get("scopedRBAC", default=False) is True, get("processClusterStore", default=True) is not False,
                   get("processClusterExternalSecret", default=True) is not False, get("rbac", "create", default=True) is not False,
                   get("rbac", "serviceAccountTokenCreate", default=True) is not False, declared, tuple(unknown))

    @property
    def reconciled_namespace(self) -> str | None:
        """The one namespace whose ExternalSecrets (and SecretStores) it reconciles; None: all."""
        return self.scoped_namespace or (self.namespace if self.scoped_rbac else None)

    @property
    def rbac_namespace(self) -> str | None:
        """Where its Secret and token rights hold: one namespace (scopedRBAC), or None for the whole cluster."""
        return (self.scoped_namespace or self.namespace) if self.scoped_rbac else None

    @property
    def cluster_stores(self) -> bool:
        return self.process_cluster_store and not self.scoped_rbac

    def admits(self, namespace: str) -> bool:
        """Whether its RBAC reaches Secrets and service accounts of `namespace`."""
        return self.rbac and (self.rbac_namespace is None or namespace == self.rbac_namespace)

    @property
    def role(self) -> str:
        return f"Role external-secrets-controller in {self.rbac_namespace}" if self.rbac_namespace else "ClusterRole external-secrets-controller"

    def describe(self) -> str:
        where = f"namespace {self.rbac_namespace}" if self.rbac_namespace else "every namespace"
        rights = f"{SECRET_VERBS} Secrets" + (", create service account tokens" if self.token_create else "")
        scope = "; reconciles " + (f"namespace {self.reconciled_namespace} only" if self.reconciled_namespace else "every namespace")
        scope += "" if self.cluster_stores else ", no ClusterSecretStores"
        source = "declared in kubernetes.eso: the stack does not deploy the chart" if self.declared else "the chart's values in the plan"
        if not self.rbac:
            return f"the External Secrets controller: chart RBAC not created (rbac.create false){scope}; {source}"
        return f"the External Secrets controller: {rights} in {where} ({self.role}){scope}; {source}"


def declared_controller(spec: Any) -> ControllerReach | None:
    """The controller a stack declares but does not deploy, with the chart values it says are set."""
    eso = getattr(spec, "eso", None)
    if eso is None or eso.install:
        return None
    workload = next((w for w in spec.workloads if w.name == eso.workload), None)
    if workload is None or not workload.service_account:
        return None
    return ControllerReach.from_values(eso.namespace, workload.service_account, eso.chart_values(), declared=True)
