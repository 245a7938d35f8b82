"""Delivery to Kubernetes: not a secrets backend but their consumer. Service accounts carrying each workload's
identities, the External Secrets controller, its stores and the ExternalSecrets, all from the spec's workloads
and what each backend offers through `components.backend.Backend` (annotations, store provider, remote key);
nothing here knows a backend's internals, and nothing is written by hand."""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.spec import EsoSpec, STORE_SERVICE_ACCOUNT, StackSpec, WorkloadSpec
from components.backend import Backend, PodIdentity
from components.kubernetes import manifests
from components.kubernetes.resources import (
    DeclaredExternalSecret,
    ExternalSecretsController,
    ExternalSecretsControllerArgs,
    KubernetesWorkload,
    KubernetesWorkloadArgs,
    SecretSync,
    SecretSyncArgs,
    SyncedSecret,
    apply,
)


class KubernetesDelivery:
    def __init__(self, spec: StackSpec, parent: pulumi.Resource, backends: Mapping[str, Backend]):
        assert spec.kubernetes is not None
        self.spec, self.backends = spec, backends
        settings = spec.kubernetes
        provider = k8s.Provider(
            "kubernetes",
            context=settings.context,
            render_yaml_to_directory=settings.render_yaml_to,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        child = pulumi.ResourceOptions(parent=parent, providers={"kubernetes": provider})
        labels = {"environment": spec.environment.value, "owner": spec.tags.owner}
        eso = settings.eso

        if settings.manage_namespaces:
            skip = {eso.namespace} if eso is not None and eso.install else set()
            # A prod namespace holds workloads this stack does not manage: a typo in a workload's namespace, or
            # a removed workload, must not delete it and everything in it (#15). Protected and retained.
            guarded = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(protect=spec.is_prod, retain_on_delete=spec.is_prod))
            for ns in sorted({w.namespace for w in spec.workloads if w.namespace} - skip):
                apply(f"namespace-{ns}", manifests.namespace(ns, labels), guarded)
        if eso is not None and eso.install:
            controller = self.pod_identity(self._controller())
            ExternalSecretsController(
                "external-secrets",
                ExternalSecretsControllerArgs(
                    eso.namespace, self._controller().service_account, controller.annotations, eso.chart_version, pod_labels=controller.pod_labels,
                    scope=eso.chart_values(),
                ),
                child,
            )
        for workload in spec.all_workloads:
            if not (workload.namespace and workload.service_account):
                continue
            if eso is not None and eso.install and spec.is_eso_controller(workload):
                continue  # the chart creates and annotates the controller's service account
            identity = self.pod_identity(workload)
            KubernetesWorkload(
                workload.name,
                KubernetesWorkloadArgs(
                    namespace=workload.namespace,
                    service_account=workload.service_account,
                    annotations=identity.annotations,
                    automount_token=identity.automount_token,
                    synced_secrets=spec.target_secrets(workload),
                    labels=labels,
                    adopt=spec.adopt_of(workload).service_account,
                ),
                child,
            )
        if eso is not None:
            self._build_secret_sync(eso, labels, child)

    def pod_identity(self, workload: WorkloadSpec) -> PodIdentity:
        """The identities of every backend the workload signs in to, on one ServiceAccount."""
        identities = [backend.pod_identity(workload) for backend in self.backends.values()]
        return PodIdentity(
            annotations={key: value for i in identities for key, value in i.annotations.items()},
            pod_labels={key: value for i in identities for key, value in i.pod_labels.items()},
            automount_token=any(i.automount_token for i in identities),
        )

    def _controller(self) -> WorkloadSpec:
        assert self.spec.eso is not None
        return next(w for w in self.spec.workloads if w.name == self.spec.eso.workload)

    def _build_secret_sync(self, eso: EsoSpec, labels: dict, child: pulumi.ResourceOptions) -> None:
        """Per backend (and Vault mount) a ClusterSecretStore or a SecretStore per namespace; ExternalSecrets
        per namespace and secret."""
        spec, controller = self.spec, self._controller()
        backend_of_store = {spec.store_key(s): self.backends[s.backend] for s in spec.secrets}
        stores: dict[tuple[str, str], dict] = {}  # (store key, namespace) -> store
        store_imports: dict[tuple[str, str], str] = {}  # (namespace or "", name) -> import id of the existing store
        for key, namespaces in spec.store_namespaces.items():
            if spec.is_cluster_store(key):
                users = [(controller.name, {"name": controller.service_account, "namespace": eso.namespace}, namespaces)]
            else:
                users = [(f"store-{ns}", {"name": STORE_SERVICE_ACCOUNT}, (ns,)) for ns in namespaces]
            declared = spec.declared_store(key)
            for identity, service_account_ref, store_namespaces in users:
                store = backend_of_store[key].store_provider(key, identity, service_account_ref)
                name = declared.name if declared is not None else store.name
                manifest = manifests.secret_store(name, store.provider, store_namespaces, labels, cluster=spec.is_cluster_store(key))
                stores.update({(key, ns): manifest for ns in store_namespaces})
                if declared is not None and declared.adopt is not None:
                    store_imports[(manifest["metadata"].get("namespace", ""), name)] = declared.adopt
        # ExternalSecrets kept as they are (adoption), then one per other synced secret and namespace.
        secrets = {s.name: s for s in spec.secrets}
        declared_es, covered = [], set()
        for workload in spec.workloads:
            for es in workload.external_secrets:
                first = secrets[es.data[0].secret]
                declared_es.append(DeclaredExternalSecret(
                    es.name, workload.namespace, es.target or es.name,
                    [(i.secret_key, self.backends[secrets[i.secret].backend].remote_key(secrets[i.secret]), i.property) for i in es.data],
                    es.refresh_interval or eso.refresh_interval, stores[(spec.store_key(first), workload.namespace)], es.adopt,
                ))
                covered.update((workload.namespace, i.secret) for i in es.data)

        SecretSync(
            "external-secrets-sync",
            SecretSyncArgs(
                stores=list({id(store): store for store in stores.values()}.values()),
                secrets_by_namespace={
                    ns: [
                        SyncedSecret(s.name, self.backends[s.backend].remote_key(s), s.properties, stores[(spec.store_key(s), ns)])
                        for s in by_name.values() if (ns, s.name) not in covered
                    ]
                    for ns, by_name in spec.synced_by_namespace.items()
                },
                refresh_interval=eso.refresh_interval,
                labels=labels,
                ready=[resource for backend in self.backends.values() for resource in backend.ready()],
                declared=declared_es,
                store_imports=store_imports,
            ),
            child,
        )
