"""External Secrets store providers: one entry per provider of a store's `spec.provider` (aws, vault,
gcpsm, azurekv), keyed by that name. Each says where its service account is named, how the store is
described, which backend secret a remote key names, and which identity the store signs in as.
A provider not registered here is reported as not evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from documents.props import dig, entries
from offline.access.model import EFFECTIVE, READ, UNKNOWN, Edge, Graph, Secret, known_str

if TYPE_CHECKING:
    from offline.access.aws import AwsEstate
    from offline.access.azure import AzureEstate
    from offline.access.gcp import GcpEstate
    from offline.access.vault import VaultEstate

ServiceAccountRef = tuple[str | None, str]  # (namespace, name); namespace None when the plan does not say


def service_account_id(namespace: str, name: str) -> str:
    return f"k8s:{namespace}/{name}"


@dataclass(frozen=True)
class Backends:
    """The backend estates a store may fetch from."""

    aws: AwsEstate
    vault: VaultEstate
    azure: AzureEstate
    gcp: GcpEstate


@dataclass(frozen=True)
class SignIn:
    """One store signing in: its graph node, its label, its provider config and service account, and the
    ESO controller's own service account (what an AWS store without auth uses)."""

    graph: Graph
    node: str
    where: str
    config: Any
    ref: ServiceAccountRef | None
    backends: Backends
    controller: tuple[str, str] | None

    def unknown(self, reason: str) -> None:
        self.graph.unknown(self.node, READ, (self.where,), f"{self.where}{reason}")


class StoreProvider:
    """A provider nothing is known of: its store's identity and secrets are not evaluated."""

    # Where the store's config names its service account (the auth.kubernetes layout for unregistered providers).
    service_account_path: tuple[str, ...] = ("auth", "kubernetes", "serviceAccountRef")
    # The secret backend dataFrom.find searches (None: any backend's secret may match).
    backend: str | None = None

    def service_account(self, config: Any) -> Any:
        return dig(config, *self.service_account_path)

    def detail(self, name: str, config: Any) -> str:
        return f"provider {name}"

    def remote_secrets(self, backends: Backends, config: Any, key: str) -> list[str]:
        """The secret ids a known remote key names (registering secrets the plan does not create)."""
        return []

    def find_name(self, secret: Secret) -> str:
        """A secret's name as dataFrom.find matches it."""
        return secret.name

    def sign_in(self, s: SignIn, name: str) -> None:
        s.unknown(f": provider {name} is not evaluated")


class AwsProvider(StoreProvider):
    """IRSA: the store's service account (or the controller's) assumes the IAM roles that trust it, then
    optionally the role `role` names."""

    service_account_path = ("auth", "jwt", "serviceAccountRef")
    backend = "aws"

    def detail(self, name: str, config: Any) -> str:
        return f"AWS {known_str(dig(config, 'service')) or 'SecretsManager'} in {known_str(dig(config, 'region')) or '(unknown region)'}"

    def remote_secrets(self, backends: Backends, config: Any, key: str) -> list[str]:
        return [loc.secret for loc in backends.aws.lookup(key)]

    def sign_in(self, s: SignIn, name: str) -> None:
        graph, config, ref, aws = s.graph, s.config, s.ref, s.backends.aws
        service = known_str(dig(config, "service")) or "SecretsManager"
        if service != "SecretsManager":
            graph.note(f"{s.where}: provider aws service {service} holds no Secrets Manager secret; not evaluated")
            return
        if dig(config, "auth", "secretRef") is not None:
            s.unknown(" signs in with static AWS keys from a Kubernetes Secret: whose, the plan does not say")
            return
        if ref is None:
            if dig(config, "auth") not in (None, {}) or s.controller is None:
                s.unknown(": its AWS identity is not known (no serviceAccountRef, no controller in the plan)")
                return
            ref = s.controller
        if ref[0] is None:
            s.unknown(": the namespace of its service account is not known")
            return
        sa = service_account_id(ref[0], ref[1])
        admits = aws.region_scope(known_str(dig(config, "region")))
        roles = signs_in_as(graph, sa, "irsa", f"{s.where}: service account {sa.removeprefix('k8s:')} can assume no IAM role in the plan")
        assume = known_str(dig(config, "role"))
        for edge in roles:
            hop = f"signs in as service account {sa.removeprefix('k8s:')}, {edge.hop}"
            if assume is None:
                graph.edge(s.node, Edge(edge.target, hop, edge.status, admits, "store", edge.reason))
                continue
            target = aws.identity_by_arn.get(assume)
            if target is None:
                graph.unknown(s.node, READ, (hop,), f"{s.where} then assumes role {assume}, which is not in the plan")
                continue
            trusted = any(e.target == target.id for e in graph.edges.get(edge.target, []))
            graph.edge(s.node, Edge(target.id, f"{hop}, then assumes IAM role {target.name}", EFFECTIVE if trusted and edge.status == EFFECTIVE else UNKNOWN,
                                    admits, "store", "" if trusted else f"the trust of {target.name} does not name the store's role"))


class VaultProvider(StoreProvider):
    """A Kubernetes login: the store's service account (and audience) must be admitted by the Vault role."""

    backend = "vault"

    def detail(self, name: str, config: Any) -> str:
        return f"Vault mount {known_str(dig(config, 'path')) or '(unknown)'}"

    def remote_secrets(self, backends: Backends, config: Any, key: str) -> list[str]:
        secret = backends.vault.store_key(known_str(dig(config, "path")) or "secret", key)
        return [secret] if secret else []

    def find_name(self, secret: Secret) -> str:
        return secret.name.split("/", 1)[1] if "/" in secret.name else secret.name  # below the mount

    def sign_in(self, s: SignIn, name: str) -> None:
        graph, ref, vault = s.graph, s.ref, s.backends.vault
        mount = known_str(dig(s.config, "path"))
        kubernetes = dig(s.config, "auth", "kubernetes")
        if mount is None or not isinstance(kubernetes, Mapping) or ref is None or ref[0] is None:
            s.unknown(": its Vault mount or login (auth.kubernetes with serviceAccountRef) is not known")
            return
        role = vault.roles.get(f"vault-role:{known_str(kubernetes.get('mountPath')) or 'kubernetes'}/{known_str(kubernetes.get('role'))}")
        if role is None:
            s.unknown(f": Vault role {kubernetes.get('role')} is not in the plan")
            return
        audiences = [a for a in entries(dig(kubernetes, "serviceAccountRef", "audiences")) if isinstance(a, str)]
        if not role.admits(*ref) or (role.audience and role.audience not in audiences):
            graph.note(f"{s.where}: Vault role {role.name} does not admit service account {ref[0]}/{ref[1]}"
                       + (f" with audiences {audiences}" if role.audience else "") + "; the store reads nothing")
            return
        status = UNKNOWN if role.unknown_binding else EFFECTIVE
        graph.edge(s.node, Edge(role.id, f"signs in as service account {ref[0]}/{ref[1]} to Vault role {role.name}", status,
                                vault.mount_scope(mount), "store"))


class AzureProvider(StoreProvider):
    """Workload identity: the store's service account is federated with a managed identity."""

    service_account_path = ("serviceAccountRef",)

    def detail(self, name: str, config: Any) -> str:
        return f"Azure Key Vault {known_str(dig(config, 'vaultUrl')) or '(unknown)'}"

    def remote_secrets(self, backends: Backends, config: Any, key: str) -> list[str]:
        secret = backends.azure.store_key(known_str(dig(config, "vaultUrl")), key)
        return [secret] if secret else []

    def sign_in(self, s: SignIn, name: str) -> None:
        auth = known_str(dig(s.config, "authType")) or "ServicePrincipal"
        if auth != "WorkloadIdentity" or s.ref is None or s.ref[0] is None:
            s.unknown(f": signs in with authType {auth} or an unknown service account; its Azure identity is not in the plan")
            return
        identities = signs_in_as(s.graph, service_account_id(*s.ref), "azure-wi",
                                 f"{s.where}: service account {s.ref[0]}/{s.ref[1]} is federated with no Azure identity in the plan")
        store_edges(s, identities, s.backends.azure.vault_scope(known_str(dig(s.config, "vaultUrl"))))


class GcpProvider(StoreProvider):
    """GKE workload identity: the store's service account impersonates a Google service account. Workload
    Identity Federation: the store's service account signs in as its federated principal (and, with
    `gcpServiceAccountEmail`, impersonates that Google service account)."""

    service_account_path = ("auth", "workloadIdentity", "serviceAccountRef")

    def service_account(self, config: Any) -> Any:
        federation = dig(config, "auth", "workloadIdentityFederation")
        return dig(federation, "serviceAccountRef") if federation is not None else super().service_account(config)

    def detail(self, name: str, config: Any) -> str:
        return f"GCP Secret Manager in project {known_str(dig(config, 'projectID')) or '(unknown)'}"

    def remote_secrets(self, backends: Backends, config: Any, key: str) -> list[str]:
        secret = backends.gcp.lookup(known_str(dig(config, "projectID")), key)
        return [secret] if secret else []

    def sign_in(self, s: SignIn, name: str) -> None:
        federation = dig(s.config, "auth", "workloadIdentityFederation")
        if federation is not None:
            self._federated(s, federation)
            return
        if dig(s.config, "auth", "workloadIdentity") is None or s.ref is None or s.ref[0] is None:
            s.unknown(": signs in without workload identity or with an unknown service account; its Google identity is not in the plan")
            return
        accounts = signs_in_as(s.graph, service_account_id(*s.ref), "gke-wi",
                               f"{s.where}: service account {s.ref[0]}/{s.ref[1]} may impersonate no Google service account in the plan")
        store_edges(s, accounts, s.backends.gcp.project_scope(known_str(dig(s.config, "projectID"))))

    def _federated(self, s: SignIn, federation: Any) -> None:
        """The token exchange names one provider (`audience`); the store's token must carry an audience it allows."""
        audience = known_str(dig(federation, "audience")) or ""
        match = _STS_AUDIENCE.match(audience)
        if s.ref is None or s.ref[0] is None or match is None or dig(federation, "credConfig") is not None:
            s.unknown(": signs in through Workload Identity Federation with a credential config or an audience the plan cannot tell")
            return
        pool, sa = match[2], service_account_id(*s.ref)
        refused = s.backends.gcp.refuses_audiences(match[1], pool, match[3], dig(federation, "serviceAccountRef", "audiences"))
        if refused:
            s.graph.note(f"{s.where}: {refused}; the store reads nothing")
            return
        impersonates = known_str(dig(federation, "gcpServiceAccountEmail"))
        if impersonates:  # the federated principal impersonates that account (its workloadIdentityUser binding)
            identities = [e for e in s.graph.edges.get(sa, []) if e.kind == "gke-wi" and e.target == f"gcp-sa:{impersonates}"]
            if not identities:
                s.graph.note(f"{s.where}: service account {s.ref[0]}/{s.ref[1]} may not impersonate {impersonates}; the store reads nothing")
        else:
            identities = [e for e in signs_in_as(s.graph, sa, "gcp-wif", f"{s.where}: service account {s.ref[0]}/{s.ref[1]} is no federated principal in the plan")
                          if f"/workloadIdentityPools/{pool}/" in e.target]
        store_edges(s, identities, s.backends.gcp.project_scope(known_str(dig(s.config, "projectID"))))


_STS_AUDIENCE = re.compile(r"^//iam\.googleapis\.com/projects/([^/]+)/locations/global/workloadIdentityPools/([^/]+)/providers/([^/]+)$")


PROVIDERS: dict[str, StoreProvider] = {"aws": AwsProvider(), "vault": VaultProvider(), "azurekv": AzureProvider(), "gcpsm": GcpProvider()}
UNREGISTERED = StoreProvider()


def provider(name: str) -> StoreProvider:
    return PROVIDERS.get(name, UNREGISTERED)


def signs_in_as(graph: Graph, service_account: str, kind: str, none_found: str) -> list[Edge]:
    """The cloud identities a store's service account becomes (its edges of `kind`: irsa, azure-wi, gke-wi);
    none is noted, not an error: the store then reads nothing."""
    found = [e for e in graph.edges.get(service_account, []) if e.kind == kind]
    if not found:
        graph.note(f"{none_found}; the store reads nothing")
    return found


def store_edges(s: SignIn, identities: list[Edge], admits: Callable[[Secret], bool]) -> None:
    """The store acts as each identity its service account becomes, limited to the secrets its provider reaches."""
    for edge in identities:
        s.graph.edge(s.node, Edge(edge.target, f"signs in as service account {s.ref[0]}/{s.ref[1]}, {edge.hop}",
                                  edge.status, admits, "store", edge.reason))
