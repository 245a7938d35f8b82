"""Read Kubernetes manifests: ExternalSecrets, SecretStores, ClusterSecretStores and ServiceAccounts.

The manifests come from a directory (what `kubectl apply` or a GitOps repository holds); Secrets
themselves are skipped unread, so no value is ever loaded. Any other kind is ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from offline.discover.model import DiscoverError, Estate, FoundExternalSecret, FoundRemoteRef, FoundStore

ESO_GROUP = "external-secrets.io"
ESO_KINDS = ("ExternalSecret", "SecretStore", "ClusterSecretStore")
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
SUFFIXES = (".yaml", ".yml", ".json")


def discover_manifests(directory: str) -> Estate:
    root = Path(directory)
    if not root.is_dir():
        raise DiscoverError(f"{directory}: not a directory of manifests")
    estate = Estate(source=f"manifests in {directory}")
    for path in sorted(p for p in root.rglob("*") if p.suffix in SUFFIXES and p.is_file()):
        try:
            documents = list(yaml.safe_load_all(path.read_text()))
        except (yaml.YAMLError, UnicodeDecodeError) as error:
            line = getattr(getattr(error, "problem_mark", None), "line", None)
            raise DiscoverError(f"{path}: not valid YAML{f' (line {line + 1})' if line is not None else ''}") from None
        for document in documents:
            for item in _items(document):
                _read(item, estate, path)
    if not (estate.external_secrets or estate.stores or estate.service_accounts):
        raise DiscoverError(f"nothing found in {directory}: no ExternalSecret, SecretStore, ClusterSecretStore or ServiceAccount manifest")
    return estate


def _items(document: Any) -> list[dict]:
    if not isinstance(document, dict):
        return []
    if document.get("kind") == "List":
        return [i for i in document.get("items") or [] if isinstance(i, dict)]
    return [document]


def _read(item: dict, estate: Estate, path: Path) -> None:
    api_version, kind = str(item.get("apiVersion") or ""), item.get("kind")
    meta = item.get("metadata") if isinstance(item.get("metadata"), dict) else {}
    name, namespace = meta.get("name"), meta.get("namespace")
    if not isinstance(name, str):
        return
    if kind == "Secret":
        return  # never read: it holds values
    spec = item.get("spec") if isinstance(item.get("spec"), dict) else {}
    if api_version == "v1" and kind == "ServiceAccount":
        namespace = namespace or "default"
        role = (meta.get("annotations") or {}).get(IRSA_ANNOTATION, "")
        estate.service_accounts[(namespace, name)] = role
        estate.add(SERVICE_ACCOUNT, f"{namespace}/{name}", {"metadata": {"name": name, "namespace": namespace,
                                                                          **({"annotations": {IRSA_ANNOTATION: role}} if role else {})}})
        return
    if not api_version.startswith(f"{ESO_GROUP}/") or kind not in ESO_KINDS:
        return
    if kind != "ClusterSecretStore":
        namespace = namespace or "default"
    # The access matrix and the policy pack read the served API (v1): the fields they read did not change.
    estate.add(f"kubernetes:{ESO_GROUP}/v1:{kind}", f"{namespace or ''}/{name}",
               {"metadata": {"name": name, **({"namespace": namespace} if namespace else {})}, "spec": spec})
    if kind == "ExternalSecret":
        store = spec.get("secretStoreRef") or {}
        target = (spec.get("target") or {}).get("name") or name
        data = tuple(FoundRemoteRef(d.get("secretKey", ""), (d.get("remoteRef") or {}).get("key", ""), (d.get("remoteRef") or {}).get("property"))
                     for d in spec.get("data") or [] if isinstance(d, dict))
        if spec.get("dataFrom"):
            estate.notes.append(f"ExternalSecret {namespace}/{name} ({path.name}) uses dataFrom; its keys are listed in the report only")
        estate.external_secrets.append(FoundExternalSecret(name, namespace, target, spec.get("refreshInterval"),
                                                           store.get("kind") or "SecretStore", store.get("name") or "", data))
        return
    provider_name, provider = next(iter((spec.get("provider") or {}).items()), ("unknown", {}))
    provider = provider if isinstance(provider, dict) else {}
    ref = _service_account_ref(provider)
    estate.stores.append(FoundStore(kind, name, namespace, "aws" if provider_name == "aws" else provider_name,
                                    vault_mount=provider.get("path") if provider_name == "vault" else None,
                                    service_account=(ref.get("namespace") or namespace, ref["name"]) if ref.get("name") else None))


def _service_account_ref(provider: dict) -> dict:
    """The ServiceAccount a store signs in as (AWS IRSA through `auth.jwt`, Vault through `auth.kubernetes`)."""
    auth = provider.get("auth") or {}
    for method in ("jwt", "kubernetes"):
        ref = (auth.get(method) or {}).get("serviceAccountRef")
        if isinstance(ref, dict):
            return ref
    return {}
