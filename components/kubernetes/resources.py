"""Pulumi resources for the Kubernetes side, each built from a manifest dict (components.kubernetes.manifests)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes import manifests

ESO_CHART = "external-secrets"
ESO_REPOSITORY = "https://charts.external-secrets.io"


def apply(name: str, manifest: Mapping[str, Any], opts: pulumi.ResourceOptions) -> pulumi.CustomResource:
    """The typed resource for a core/RBAC kind, a CustomResource for everything else."""
    kind, meta = manifest["kind"], manifest["metadata"]
    if kind == "Namespace":
        return k8s.core.v1.Namespace(name, metadata=meta, opts=opts)
    if kind == "ServiceAccount":
        return k8s.core.v1.ServiceAccount(name, metadata=meta, automount_service_account_token=manifest["automountServiceAccountToken"], opts=opts)
    if kind == "Role":
        return k8s.rbac.v1.Role(name, metadata=meta, rules=manifest["rules"], opts=opts)
    if kind == "RoleBinding":
        return k8s.rbac.v1.RoleBinding(name, metadata=meta, role_ref=manifest["roleRef"], subjects=manifest["subjects"], opts=opts)
    return k8s.apiextensions.CustomResource(name, api_version=manifest["apiVersion"], kind=kind, metadata=meta, spec=manifest["spec"], opts=opts)


@dataclass(frozen=True)
class KubernetesWorkloadArgs:
    namespace: str
    service_account: str
    annotations: Mapping[str, pulumi.Input[str]]  # the backends' identities (components.backend.PodIdentity)
    automount_token: bool
    synced_secrets: Sequence[str]  # the Kubernetes Secrets External Secrets writes for it
    labels: Mapping[str, str]
    adopt: str | None = None  # `<namespace>/<name>` of the existing ServiceAccount: imported, not created


class KubernetesWorkload(pulumi.ComponentResource):
    """A workload's ServiceAccount (with its cloud identity) and, when it receives synced Secrets,
    a Role that may `get` exactly those."""

    def __init__(self, name: str, args: KubernetesWorkloadArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:kubernetes:Workload", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        sa = manifests.service_account(args.service_account, args.namespace, args.annotations, args.automount_token, args.labels)
        self.service_account = apply(f"{name}-sa", sa, pulumi.ResourceOptions(parent=self, import_=args.adopt))
        if args.synced_secrets:
            role_name = f"{args.service_account}-secrets"
            apply(f"{name}-secrets-role", manifests.secret_reader_role(role_name, args.namespace, args.synced_secrets, args.labels), child)
            apply(f"{name}-secrets-binding", manifests.role_binding(role_name, args.namespace, role_name, args.service_account, args.labels), pulumi.ResourceOptions(parent=self, depends_on=[self.service_account]))
        self.service_account_name = args.service_account
        self.register_outputs({"service_account": args.service_account})


@dataclass(frozen=True)
class ExternalSecretsControllerArgs:
    namespace: str
    service_account: str
    annotations: Mapping[str, pulumi.Input[str]]  # the controller's cloud identities
    chart_version: str
    pod_labels: Mapping[str, str] = field(default_factory=dict)  # e.g. Azure workload identity's opt-in label
    scope: Mapping[str, Any] = field(default_factory=dict)  # scopedNamespace, scopedRBAC, processCluster*: the controller's reach


class ExternalSecretsController(pulumi.ComponentResource):
    """The External Secrets Operator from its Helm chart at a pinned version, CRDs on, its
    ServiceAccount carrying the controller's cloud identities (IRSA role, GKE service account)."""

    def __init__(self, name: str, args: ExternalSecretsControllerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:kubernetes:ExternalSecretsController", name, None, opts)
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            name=ESO_CHART,
            chart=ESO_CHART,
            version=args.chart_version,
            repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=ESO_REPOSITORY),
            namespace=args.namespace,
            create_namespace=True,
            atomic=True,
            values={
                "installCRDs": True,
                "serviceAccount": {"create": True, "name": args.service_account, "annotations": dict(args.annotations)},
                **({"podLabels": dict(args.pod_labels)} if args.pod_labels else {}),
                **dict(args.scope),
            },
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"release": self.release.name})


@dataclass(frozen=True)
class SyncedSecret:
    name: str
    remote_key: str
    properties: Sequence[str]
    store: Mapping[str, Any]


@dataclass(frozen=True)
class DeclaredExternalSecret:
    """An ExternalSecret as the spec names it (adoption): its target, keys and refresh interval."""

    name: str
    namespace: str
    target: str
    data: Sequence[tuple[str, str, str | None]]  # (Kubernetes key, remote key, property or None)
    refresh_interval: str
    store: Mapping[str, Any]
    adopt: str | None = None


@dataclass(frozen=True)
class SecretSyncArgs:
    stores: Sequence[Mapping[str, Any]]
    secrets_by_namespace: Mapping[str, Sequence[SyncedSecret]]
    refresh_interval: str
    labels: Mapping[str, str]
    ready: Sequence[pulumi.Resource] = ()  # e.g. the wait for new Azure role assignments to propagate
    declared: Sequence[DeclaredExternalSecret] = ()
    store_imports: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (namespace or "", name) -> import id of an existing store


class SecretSync(pulumi.ComponentResource):
    """The stores of one backend set and the ExternalSecrets that use them, one per (namespace, secret)."""

    def __init__(self, name: str, args: SecretSyncArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:kubernetes:SecretSync", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        store_opts = pulumi.ResourceOptions(parent=self, depends_on=list(args.ready))
        stores = {
            _store_id(store): apply(f"store-{_store_id(store)}", store, pulumi.ResourceOptions.merge(store_opts, pulumi.ResourceOptions(import_=args.store_imports.get((store["metadata"].get("namespace", ""), store["metadata"]["name"])))))
            for store in args.stores
        }
        for ns, secrets in sorted(args.secrets_by_namespace.items()):
            for secret in secrets:
                manifest = manifests.external_secret(secret.name, ns, secret.store, secret.remote_key, secret.properties, args.refresh_interval, args.labels)
                apply(f"{ns}-{secret.name}", manifest, pulumi.ResourceOptions(parent=self, depends_on=[stores[_store_id(secret.store)]]))
        for es in args.declared:
            manifest = manifests.external_secret_as_declared(es.name, es.namespace, es.store, es.target, es.data, es.refresh_interval, args.labels)
            apply(f"{es.namespace}-{es.name}", manifest, pulumi.ResourceOptions(parent=self, depends_on=[stores[_store_id(es.store)]], import_=es.adopt))
        self.store_names = sorted(stores)
        self.register_outputs({"stores": self.store_names})


def _store_id(store: Mapping[str, Any]) -> str:
    """A ClusterSecretStore by its name; a SecretStore by namespace and name (the same name may recur per namespace)."""
    meta = store["metadata"]
    return f"{meta['namespace']}-{meta['name']}" if "namespace" in meta else meta["name"]
