"""The access matrix of a set of planned resources, and the difference between two matrices."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from typing import Any, Iterable, Mapping

from offline.access.aws import AwsEstate
from offline.access.azure import AzureEstate, secret_id as azure_secret_id
from offline.access.gcp import GcpEstate
from offline.access.controller import ControllerReach, declared_controller
from offline.access.kubernetes import KubernetesEstate, pattern_matches
from offline.access.stores import Backends, service_account_id
from offline.access.model import (
    BLOCKED,
    CAPABILITIES,
    EFFECTIVE,
    READ,
    Edge,
    Graph,
    Principal,
    UNCLASSIFIED,
    Secret,
    close,
    has_glob,
    resource_of,
)
from offline.access.vault import VaultEstate

__all__ = ["AccessMatrix", "access_matrix", "declared_classifications", "declared_controller", "diff"]

KIND = "secrets-platform/access-matrix"
DIFF_KIND = "secrets-platform/access-diff"
VERSION = 1
# Rows in the order a reviewer reads them: workloads first, then the identities they act through.
KIND_ORDER = ("service-account", "iam-role", "iam-user", "azure-identity", "gcp-service-account", "gcp-federated", "vault-role", "namespace", "eso-store", "aws-principal", "k8s-user", "k8s-group", "azure-principal", "gcp-member", "unknown")


@dataclass(frozen=True)
class Entry:
    principal: str
    secret: str
    capability: str
    status: str
    chains: tuple[tuple[str, ...], ...]
    reason: str = ""

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.principal, self.secret, self.capability, self.status


@dataclass
class AccessMatrix:
    stack: str
    principals: dict[str, Principal]
    secrets: dict[str, Secret]
    entries: list[Entry]
    notes: list[str] = field(default_factory=list)
    # (principal, secret, capability) -> the principals an entry's first chain passes through; for people
    # only (not in the JSON, so a matrix read back from JSON has none)
    paths: dict[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)
    source: str = ""  # where it was read from, for people: "plan JSON base.json", "stack dev (planned offline)"

    def rows(self) -> dict[str, list[Entry]]:
        """Entries per principal, principals in reading order."""
        out: dict[str, list[Entry]] = {}
        for entry in self.entries:
            out.setdefault(entry.principal, []).append(entry)
        return out

    def access(self, principal: str, statuses: Iterable[str] = (EFFECTIVE,)) -> set[tuple[str, str]]:
        """(secret, capability) pairs the principal holds with one of `statuses`."""
        wanted = set(statuses)
        return {(e.secret, e.capability) for e in self.entries if e.principal == principal and e.status in wanted}

    def holders(self, secret: str, capability: str = READ, kinds: Iterable[str] | None = None) -> list[Principal]:
        """Principals with effective `capability` on `secret`, optionally of some kinds only."""
        kinds = set(kinds) if kinds is not None else None
        return [p for p in self._holders.get((secret, capability), []) if kinds is None or p.kind in kinds]

    @cached_property
    def _holders(self) -> dict[tuple[str, str], list[Principal]]:
        index: dict[tuple[str, str], list[Principal]] = {}
        for e in self.entries:
            if e.status == EFFECTIVE:
                index.setdefault((e.secret, e.capability), []).append(self.principals[e.principal])
        return index

    def through(self, entry: Entry) -> list[Principal]:
        """The identities the entry's principal acts as on its first way to the secret, in order."""
        return [self.principals[p] for p in self.paths.get((entry.principal, entry.secret, entry.capability), ())]

    def to_json(self) -> dict[str, Any]:
        used_principals = {e.principal for e in self.entries}
        used_secrets = {e.secret for e in self.entries}
        return {
            "kind": KIND,
            "version": VERSION,
            "stack": self.stack,
            "principals": [asdict(p) for p in self.principals.values() if p.id in used_principals],
            "secrets": [asdict(s) for s in self.secrets.values() if s.id in used_secrets],
            "entries": [{**asdict(e), "chains": [list(c) for c in e.chains]} for e in self.entries],
            "notes": list(self.notes),
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> AccessMatrix:
        if document.get("kind") != KIND:
            raise ValueError(f"not an access matrix (kind is not {KIND})")
        return cls(
            stack=document.get("stack", ""),
            principals={p["id"]: Principal(**p) for p in document.get("principals", [])},
            secrets={s["id"]: Secret(**s) for s in document.get("secrets", [])},
            entries=[Entry(**{**e, "chains": tuple(tuple(c) for c in e["chains"])}) for e in document.get("entries", [])],
            notes=list(document.get("notes", [])),
        )


def declared_classifications(spec: Any) -> dict[str, str]:
    """Secret id -> class from a stack spec, for the backends whose planned resources cannot carry one:
    a Vault KV path and a Key Vault secret name are not resources with tags (AWS and GCP secrets are)."""
    out = {}
    for secret in spec.secrets:
        if secret.backend == "vault":
            out[f"vault:{spec.kv_mount(secret)}/{spec.secret_path(secret)}"] = secret.classification.value
        elif secret.backend == "azure" and spec.azure is not None:
            out[azure_secret_id(spec.azure.key_vault, spec.azure_secret_name(secret))] = secret.classification.value
    return out


def access_matrix(resources: Iterable[Any], stack: str = "", classifications: Mapping[str, str] | None = None,
                  controller: ControllerReach | None = None) -> AccessMatrix:
    """Who can read, write or administer which secret, from planned resources: Registrations of an
    offline plan, a plan document's `resources`, or plain dicts {type, urn, name, props|inputs, outputs}.
    `classifications` (declared_classifications of the stack's spec) labels secrets the resources leave
    unclassified; access itself comes from the resources only, except the External Secrets controller a stack
    declares but does not deploy (`controller`: declared_controller of the spec), modelled from its declaration."""
    planned = [resource_of(r) for r in resources]
    aws, vault, kubernetes, azure = AwsEstate(planned), VaultEstate(planned), KubernetesEstate(planned, controller), AzureEstate(planned)
    gcp = GcpEstate(planned)
    backends = Backends(aws, vault, azure, gcp)
    kubernetes.resolve_remote_keys(backends)  # adds the secrets ExternalSecrets fetch to the backends
    graph = Graph()
    aws.add_to(graph)
    vault.add_to(graph)
    azure.add_to(graph)
    gcp.add_to(graph)

    trust = aws.trust_subjects(graph)
    logins = [(role, pattern, status) for role in vault.roles.values() if role.method == "kubernetes" for pattern, status in role.subjects()]
    service_accounts = kubernetes.known_service_accounts()
    service_accounts |= {service_account_id(*s.service_account) for s in trust if s.service_account and not has_glob("".join(s.service_account))}
    service_accounts |= {service_account_id(*p) for _, p, _ in logins if not has_glob("".join(p))}
    service_accounts |= {service_account_id(*f.service_account) for f in azure.federations}
    workload_identity = gcp.workload_identity()
    federated = gcp.federated_members()
    service_accounts |= {service_account_id(*sa) for sa, _, _, _ in workload_identity}
    service_accounts |= {service_account_id(*sa) for sa, _, _, _ in federated}
    pool_wide = gcp.pool_members()
    service_accounts |= {service_account_id(*sa) for _, _, admitted in pool_wide for sa, _, _ in admitted if not has_glob("".join(sa))}
    for sa in sorted(service_accounts):
        graph.principal(sa, "service-account", sa.removeprefix("k8s:"))
    for subject in trust:
        edge = Edge(subject.role, subject.hop, subject.status, kind="irsa" if subject.service_account else "assume", reason=subject.reason)
        if subject.service_account:
            _connect(graph, subject.service_account, edge)
        elif subject.aws:
            graph.edge(subject.aws, edge)
    for role, pattern, status in logins:
        _connect(graph, pattern, Edge(role.id, f"logs in to Vault role {role.name} (auth/{role.backend})", status, kind="vault-login",
                                      reason="" if status == EFFECTIVE else f"the binding of Vault role {role.name} is not known at preview"))
    for federation in azure.federations:
        identity = graph.principal(azure.principal_id(federation.identity), "azure-identity", federation.identity, "user-assigned managed identity")
        _connect(graph, federation.service_account, Edge(identity, f"federated with Azure identity {federation.identity}", federation.status,
                                                         kind="azure-wi", reason=federation.reason))
    # Which cluster issues the service accounts' tokens decides whether GKE's pool accepts them.
    issuers = aws.oidc_issuers | {f.issuer.removeprefix("https://").lower() for f in azure.federations if f.issuer} | gcp.issuers
    gcp.gke_clusters |= kubernetes.gke_clusters
    for sa, account, hop, (how, pool) in workload_identity:
        admitted = gcp.gke_pool(pool, issuers) if how == "gke" else gcp.federated(pool, *sa)
        if admitted is None:
            graph.note(f"{account}: no provider of pool {pool} admits {sa[0]}/{sa[1]}; nobody can impersonate it that way")
            continue
        status, reason = admitted
        _connect(graph, sa, Edge(graph.principal(account, "gcp-service-account", account.removeprefix("gcp-sa:")), hop, status, kind="gke-wi", reason=reason))
    for sa, member, pool, number in federated:
        admitted = gcp.federated(pool, *sa)
        if admitted is None:
            graph.note(f"{member}: no provider of pool {pool} admits this subject; it is granted, but nobody can sign in as it")
            continue
        status, reason = admitted
        node = graph.principal(f"gcp-member:{member}", "gcp-federated", member, "a federated Kubernetes service account (Workload Identity Federation)")
        _connect(graph, sa, Edge(node, f"federated principal of pool {pool} (project {number})", status, kind="gcp-wif", reason=reason))
    for member, pool, admitted in pool_wide:  # pool-wide: every subject a provider of the pool admits
        node = graph.principal(f"gcp-member:{member}", "gcp-member", member, f"every identity of workload identity pool {pool}")
        for sa, status, reason in admitted:
            _connect(graph, sa, Edge(node, f"member of pool {pool} (principalSet: the whole pool)", status, kind="gcp-wif", reason=reason))
    kubernetes.add_to(graph, backends)
    graph.notes.extend(kubernetes.notes)
    graph.notes.extend(azure.notes)

    entries, paths = [], {}
    for principal, reach in close(graph).items():
        for (secret, capability), found in reach.items():
            entries.append(Entry(principal, secret, capability, found.status, tuple(found.chains), found.reason))
            paths[(principal, secret, capability)] = found.paths[0]
    order = {kind: i for i, kind in enumerate(KIND_ORDER)}
    entries.sort(key=lambda e: (order.get(graph.principals[e.principal].kind, len(order)), e.principal, e.secret, CAPABILITIES.index(e.capability)))
    secrets = {sid: replace(secret, classification=classifications[sid])
               if secret.classification == UNCLASSIFIED and sid in (classifications or {}) else secret
               for sid, secret in graph.secrets.items()}
    return AccessMatrix(stack, graph.principals, secrets, entries, list(dict.fromkeys(graph.notes)), paths)


def _connect(graph: Graph, pattern: tuple[str, str], edge: Edge) -> None:
    """Service accounts a trust or a login binding admits: the exact one, or every known one a glob
    matches plus the glob itself (it admits service accounts created later, too)."""
    if not has_glob("".join(pattern)):
        graph.edge(service_account_id(*pattern), edge)
        return
    namespace, name = pattern
    label = "every service account" + ("" if namespace == "*" else f" of namespace {namespace}") if name == "*" else f"service accounts {namespace}/{name}"
    graph.edge(graph.principal(service_account_id(*pattern), "service-account", label), edge)
    for sa, principal in list(graph.principals.items()):
        if principal.kind == "service-account" and not has_glob(sa) and pattern_matches(pattern, sa):
            graph.edge(sa, edge)


# --- diff ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    change: str  # gained | lost
    entry: Entry
    principal: Principal
    secret: Secret

    @property
    def highlighted(self) -> bool:
        """Gained access (not merely a blocked grant) to a critical or high secret, or one whose class is unknown."""
        return self.change == "gained" and self.entry.status != BLOCKED and self.secret.sensitive


@dataclass
class AccessDiff:
    base: str
    head: str
    gained: list[Change]
    lost: list[Change]
    base_source: str = ""  # what the base was (a file, a stack): the stacks alike say `dev → dev`
    head_source: str = ""

    @property
    def highlighted(self) -> list[Change]:
        return [c for c in self.gained if c.highlighted]

    def to_json(self) -> dict[str, Any]:
        def item(c: Change) -> dict[str, Any]:
            return {"principal": asdict(c.principal), "secret": asdict(c.secret), "capability": c.entry.capability,
                    "status": c.entry.status, "chains": [list(ch) for ch in c.entry.chains], "reason": c.entry.reason,
                    "highlighted": c.highlighted}

        return {"kind": DIFF_KIND, "version": VERSION, "base": self.base, "head": self.head,
                "gained": [item(c) for c in self.gained], "lost": [item(c) for c in self.lost],
                "highlighted": len(self.highlighted)}


def diff(base: AccessMatrix, head: AccessMatrix) -> AccessDiff:
    """Access gained and lost from `base` (the target branch) to `head` (the pull request). A status change
    (unknown -> effective) shows as the old status lost and the new one gained."""
    before = {e.key: e for e in base.entries}
    after = {e.key: e for e in head.entries}

    def change(kind: str, entry: Entry, matrix: AccessMatrix) -> Change:
        return Change(kind, entry, matrix.principals[entry.principal], matrix.secrets[entry.secret])

    gained = [change("gained", e, head) for k, e in after.items() if k not in before]
    lost = [change("lost", e, base) for k, e in before.items() if k not in after]
    gained.sort(key=lambda c: (not c.highlighted, c.entry.principal, c.entry.secret))
    return AccessDiff(base.stack, head.stack, gained, lost, base.source, head.source)
