"""The access matrix's vocabulary: principals, secrets, grants and the graph that joins them.

Backends (aws.py, vault.py, kubernetes.py) add what they read from the planned resources to one
`Graph`: principals, secrets, direct grants (a principal's own policies) and edges ("this principal
can act as that one", e.g. a service account assuming an IAM role). `close` follows the edges, so
every principal ends with everything it can reach, each with the chain of hops that gives it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from documents.props import is_unknown

READ, WRITE, ADMIN = "read", "write", "admin"
CAPABILITIES = (READ, WRITE, ADMIN)
# effective: the access works; unknown: it may, depending on values unknown at preview or conditions
# that cannot be decided offline; blocked: a policy grants it but another layer (KMS) stops it.
EFFECTIVE, UNKNOWN, BLOCKED = "effective", "unknown", "blocked"
_RANK = {EFFECTIVE: 0, UNKNOWN: 1, BLOCKED: 2}
CLASSIFICATIONS = ("critical", "high", "medium", "low")
UNCLASSIFIED = "unknown"
# Gained access to these is highlighted; a secret whose classification is unknown counts as high.
SENSITIVE = frozenset({"critical", "high", UNCLASSIFIED})
UNKNOWN_SECRET = "?"  # a grant whose target cannot be told at preview
MAX_CHAINS = 3  # per principal and secret: enough to show that access comes by several ways


def worst(*statuses: str) -> str:
    """A chain is as good as its weakest link: blocked > unknown > effective."""
    return max(statuses, key=_RANK.__getitem__)


def best(a: str, b: str) -> str:
    return min(a, b, key=_RANK.__getitem__)


@dataclass(frozen=True)
class Principal:
    id: str  # stable across plans: `k8s:<ns>/<sa>`, `iam-role:<name>`, `vault-role:<mount>/<role>`, ...
    kind: str
    label: str  # what a reviewer recognises (the workload, the role name)
    detail: str = ""  # how the identity is obtained (trust, binding)


@dataclass(frozen=True)
class Secret:
    id: str  # `aws:<name>`, `vault:<mount>/<path>`; a glob when `pattern`
    backend: str  # aws | vault | unknown
    name: str
    classification: str = UNCLASSIFIED
    pattern: bool = False  # a glob: it also reaches every secret created later that matches
    location: str = ""  # ARN or Vault API path

    @property
    def sensitive(self) -> bool:
        return self.classification in SENSITIVE


@dataclass(frozen=True)
class Grant:
    secret: str
    capability: str
    status: str
    chain: tuple[str, ...]
    reason: str = ""  # for unknown and blocked grants: what could not be decided, or what blocks


@dataclass(frozen=True)
class Edge:
    target: str
    hop: str
    status: str = EFFECTIVE
    admits: Callable[[Secret], bool] | None = None  # which of the target's secrets pass (a store's backend)
    kind: str = ""  # irsa, vault-login, assume, store, rbac, namespace
    reason: str = ""
    only: frozenset[str] | None = None  # just these secrets (a synced Kubernetes Secret's): looked up, not scanned


@dataclass
class Graph:
    principals: dict[str, Principal] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    grants: dict[str, list[Grant]] = field(default_factory=dict)
    edges: dict[str, list[Edge]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def principal(self, id_: str, kind: str, label: str, detail: str = "") -> str:
        known = self.principals.get(id_)
        if known is None or (detail and not known.detail):
            self.principals[id_] = Principal(id_, kind, label if known is None else known.label, detail)
        return id_

    def secret(self, secret: Secret) -> str:
        self.secrets.setdefault(secret.id, secret)
        return secret.id

    def grant(self, principal: str, grant: Grant) -> None:
        self.grants.setdefault(principal, []).append(grant)

    def unknown(self, principal: str, capability: str, chain: tuple[str, ...], reason: str) -> None:
        """A grant whose secret cannot be told: reported, never dropped."""
        self.secret(Secret(UNKNOWN_SECRET, "unknown", "(unknown at preview)"))
        self.grant(principal, Grant(UNKNOWN_SECRET, capability, UNKNOWN, chain, reason))

    def edge(self, source: str, edge: Edge) -> None:
        self.edges.setdefault(source, []).append(edge)

    def note(self, text: str) -> None:
        self.notes.append(text)


@dataclass
class Reach:
    """What one principal reaches for one secret and capability: the best status and its chains."""

    status: str
    chains: list[tuple[str, ...]]
    reason: str
    paths: list[tuple[str, ...]]  # per chain: the principals it passes through after the first (for people)

    def add(self, status: str, chain: tuple[str, ...], reason: str, path: tuple[str, ...]) -> None:
        if _RANK[status] < _RANK[self.status]:
            self.status, self.chains, self.reason, self.paths = status, [chain], reason, [path]
        elif status == self.status and chain not in self.chains and len(self.chains) < MAX_CHAINS:
            self.chains.append(chain)
            self.paths.append(path)


def close(graph: Graph) -> dict[str, dict[tuple[str, str], Reach]]:
    """Per principal, everything it reaches through its own grants and the identities it can act as.
    Memoised depth-first; a cycle of roles assuming each other is cut where it closes."""
    memo: dict[str, dict[tuple[str, str], Reach]] = {}
    on_path: set[str] = set()

    def reach(node: str) -> dict[tuple[str, str], Reach]:
        if node in memo:
            return memo[node]
        if node in on_path:
            return {}
        on_path.add(node)
        out: dict[tuple[str, str], Reach] = {}
        for g in graph.grants.get(node, ()):
            _merge(out, (g.secret, g.capability), g.status, g.chain, g.reason, ())
        for edge in graph.edges.get(node, ()):
            target = reach(edge.target)
            if edge.only is not None:
                pairs = [(k, target[k]) for secret in edge.only for c in CAPABILITIES if (k := (secret, c)) in target]
            else:
                pairs = list(target.items())
            for key, inner in pairs:
                if edge.admits is not None and not edge.admits(graph.secrets[key[0]]):
                    continue
                status = worst(edge.status, inner.status)
                for chain, path in zip(inner.chains, inner.paths):
                    _merge(out, key, status, (edge.hop, *chain), inner.reason or edge.reason, (edge.target, *path))
        on_path.discard(node)
        memo[node] = out
        return out

    for node in graph.principals:
        reach(node)
    return memo


def _merge(out: dict, key: tuple[str, str], status: str, chain: tuple[str, ...], reason: str, path: tuple[str, ...]) -> None:
    found = out.get(key)
    if found is None:
        out[key] = Reach(status, [chain], reason, [path])
    else:
        found.add(status, chain, reason, path)


# --- planned resources as plain dicts -----------------------------------------------------------

@dataclass(frozen=True)
class Resource:
    """One planned resource: `props` are the camelCase inputs, `outputs` what the engine (or the mocks)
    report after creation; a value not known at preview is the engine's sentinel string."""

    type: str
    urn: str
    name: str
    props: Mapping[str, Any]
    outputs: Mapping[str, Any]
    provider: str = ""


def resource_of(item: Any) -> Resource:
    """A Registration (offline/mocks.py), a plan document's resource, or a policy resource dict."""
    if isinstance(item, Resource):
        return item
    get = item.get if isinstance(item, Mapping) else lambda key, default=None: getattr(item, key, default)
    urn = get("urn") or ""
    props = get("props")
    if props is None:
        props = get("inputs")
    return Resource(
        type=get("type") or "",
        urn=urn,
        name=get("name") or urn.rsplit("::", 1)[-1],
        props=props if isinstance(props, Mapping) else {},
        outputs=get("outputs") if isinstance(get("outputs"), Mapping) else {},
        provider=get("provider") or "",
    )


def value(resource: Resource, key: str) -> Any:
    """An input, else the output of the same name (ids and ARNs are outputs)."""
    found = resource.props.get(key)
    return resource.outputs.get(key) if found is None else found


def known_str(item: Any) -> str | None:
    return item if isinstance(item, str) and item and not is_unknown(item) else None


# --- globs ---------------------------------------------------------------------------------------

@cache
def glob_regex(pattern: str, ignore_case: bool = False) -> re.Pattern:
    """IAM's `*` and `?` (and Kubernetes/Vault binding globs, which know only `*`)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body + r"\Z", re.S | (re.I if ignore_case else 0))


def has_glob(text: str) -> bool:
    return "*" in text or "?" in text


def literal_prefix(pattern: str) -> str:
    cut = min((i for i in (pattern.find("*"), pattern.find("?")) if i >= 0), default=len(pattern))
    return pattern[:cut]


class GlobSet:
    """Many IAM globs matched against one value quickly: exact values in a set, `<literal>??????`
    (a key policy's secret ARN patterns) by length, the rest by regex."""

    def __init__(self, patterns: Iterable[str], ignore_case: bool = False):
        self.ignore_case = ignore_case
        self.exact: set[str] = set()
        self.suffixed: dict[int, set[str]] = {}
        self.other: list[re.Pattern] = []
        for p in patterns:
            p = p.lower() if ignore_case else p
            if not has_glob(p):
                self.exact.add(p)
                continue
            stem = p.rstrip("?")
            if stem and not has_glob(stem):
                self.suffixed.setdefault(len(p) - len(stem), set()).add(stem)
            else:
                self.other.append(glob_regex(p))

    def match(self, text: str) -> bool:
        text = text.lower() if self.ignore_case else text
        if text in self.exact:
            return True
        if any(len(text) >= n and text[:-n] in stems for n, stems in self.suffixed.items()):
            return True
        return any(r.match(text) for r in self.other)
