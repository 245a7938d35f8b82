"""Kubernetes objects as plain dicts: one builder per kind, shared by the Pulumi resources and the
YAML rendering, so what is validated against the schemas is what is deployed."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pulumi

ESO_API = "external-secrets.io/v1"
MANAGED_BY = {"app.kubernetes.io/managed-by": "secrets-platform"}


def metadata(name: str, namespace: str | None = None, labels: Mapping[str, str] | None = None, annotations: Mapping[str, Any] | None = None) -> dict:
    meta: dict[str, Any] = {"name": name, "labels": {**MANAGED_BY, **(labels or {})}}
    if namespace is not None:
        meta["namespace"] = namespace
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def namespace(name: str, labels: Mapping[str, str]) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata(name, labels=labels)}


def service_account(name: str, ns: str, annotations: Mapping[str, pulumi.Input[str]], automount: bool, labels: Mapping[str, str]) -> dict:
    """`annotations`: the cloud identities the account acts as (IRSA role, GKE service account, ...), one per cloud."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata(name, ns, labels, annotations),
        "automountServiceAccountToken": automount,
    }


def secret_reader_role(name: str, ns: str, secret_names: Sequence[str], labels: Mapping[str, str]) -> dict:
    """`get` on exactly the workload's synced Secrets: no list, no watch, no other Secret."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata(name, ns, labels),
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": sorted(secret_names), "verbs": ["get"]}],
    }


def role_binding(name: str, ns: str, role: str, service_account_name: str, labels: Mapping[str, str]) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata(name, ns, labels),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": service_account_name, "namespace": ns}],
    }


def secret_store(name: str, provider: Mapping[str, Any], namespaces: Sequence[str], labels: Mapping[str, str], cluster: bool | None = None) -> dict:
    """A ClusterSecretStore limited to the namespaces that use it, or a namespaced SecretStore when
    only one namespace does (unless `cluster` says which)."""
    namespaced = len(namespaces) == 1 if cluster is None else not cluster
    if namespaced:
        return {"apiVersion": ESO_API, "kind": "SecretStore", "metadata": metadata(name, namespaces[0], labels), "spec": {"provider": dict(provider)}}
    return {
        "apiVersion": ESO_API,
        "kind": "ClusterSecretStore",
        "metadata": metadata(name, labels=labels),
        "spec": {"conditions": [{"namespaces": sorted(namespaces)}], "provider": dict(provider)},
    }


def external_secret(name: str, ns: str, store: Mapping[str, Any], remote_key: str, properties: Sequence[str], refresh_interval: str,
                    labels: Mapping[str, str]) -> dict:
    """One declared secret into one Kubernetes Secret of the same name: a key per declared property,
    owned by the ExternalSecret, and kept (Retain) if the backend is briefly unreachable or the
    remote secret disappears."""
    if properties:
        data = [(p, remote_key, p) for p in properties]
    else:
        data = [(name, remote_key, None)]
    return external_secret_as_declared(name, ns, store, name, data, refresh_interval, labels)


def external_secret_as_declared(name: str, ns: str, store: Mapping[str, Any], target: str, data: Sequence[tuple[str, str, str | None]],
                                refresh_interval: str, labels: Mapping[str, str]) -> dict:
    """An ExternalSecret writing Secret `target`: each (Kubernetes key, remote key, property or None) of `data`."""
    return {
        "apiVersion": ESO_API,
        "kind": "ExternalSecret",
        "metadata": metadata(name, ns, labels),
        "spec": {
            "refreshInterval": refresh_interval,
            "secretStoreRef": {"name": store["metadata"]["name"], "kind": store["kind"]},
            "target": {"name": target, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
            "data": [{"secretKey": key, "remoteRef": {"key": remote, **({"property": prop} if prop else {})}} for key, remote, prop in data],
        },
    }
