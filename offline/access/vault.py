"""Vault: what each login role's token may do to each secret path, as Vault's ACL decides it.

A token carries the policies its login role lists. For one request path Vault uses an exact path rule
if there is one; otherwise the highest-priority match among the longest `*` prefix rule and the `+`
segment rules (Vault's priority: the later the first wildcard, not a prefix, fewer `+`, longer, then
lexically greater). Capabilities of the same pattern in several policies add up; `deny` empties them.

Vault secrets are not resources of the plan (their values are written by people and rotation): the
known secrets are the exact paths the policies name, the keys ExternalSecrets fetch, and any KV or
database role resources. A glob also stands for every secret created later under it.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from collections.abc import Iterable, Mapping
from typing import Any

from offline.access.model import (
    ADMIN,
    EFFECTIVE,
    READ,
    UNCLASSIFIED,
    UNKNOWN,
    WRITE,
    Grant,
    Graph,
    Resource,
    Secret,
    glob_regex,
    known_str,
)
from documents.props import entries
from documents.props import is_unknown
from policy.rules.vault import KV_ENDPOINTS, PolicyParseError, is_glob, parse_policy, reaches_root

POLICY = "vault:index/policy:Policy"
KUBERNETES_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
GROUP_POLICIES = "vault:identity/groupPolicies:GroupPolicies"  # an identity group's policies: what its members' tokens add
MOUNT = "vault:index/mount:Mount"
KV_V2_CONFIG = "vault:kv/secretBackendV2:SecretBackendV2"
KV_SECRETS = {"vault:kv/secretV2:SecretV2": "kv2", "vault:kv/secret:Secret": "kv1", "vault:generic/secret:Secret": None}
DATABASE_ROLES = {"vault:database/secretBackendRole:SecretBackendRole": "creds",
                  "vault:database/secretBackendStaticRole:SecretBackendStaticRole": "static-creds"}
BUILTIN_POLICIES = frozenset({"default"})  # Vault's own default policy: the token's self-service, no secrets
WRITE_CAPS = frozenset({"create", "update", "patch"})


def capabilities(kind: str, endpoint: str, caps: Iterable[str]) -> set[str]:
    """What Vault capabilities on one endpoint of a secret amount to."""
    caps = set(caps)
    if kind == "database":
        return {READ} if "read" in caps else set()
    out = set()
    if endpoint in ("data", ""):  # KV v2 data, KV v1 (or a glob over any endpoint)
        if "read" in caps:
            out.add(READ)
        if caps & WRITE_CAPS:
            out.add(WRITE)
    if endpoint in ("data", "metadata", "") and "delete" in caps:
        out.add(ADMIN)  # deletes the latest version, or every version with its history
    if endpoint in ("destroy", "delete", "undelete", "") and caps & {"create", "update"}:
        out.add(ADMIN)
    return out


@dataclass(frozen=True)
class Rule:
    pattern: str  # as written, with its `*`
    caps: frozenset[str]
    policies: tuple[str, ...]

    @property
    def prefix(self) -> bool:
        return self.pattern.endswith("*")

    @property
    def stem(self) -> str:
        return self.pattern[:-1] if self.prefix else self.pattern

    @property
    def segmented(self) -> bool:
        return "+" in self.stem.split("/")

    def priority(self) -> tuple:
        """Vault's order of non-exact matches: higher wins."""
        plus = [i for i, seg in enumerate(self.stem.split("/")) if seg == "+"]
        first = min([len("/".join(self.stem.split("/")[:i])) + (1 if i else 0) for i in plus] + ([len(self.stem)] if self.prefix else []),
                    default=len(self.stem))
        return first, not self.prefix, -len(plus), len(self.stem), self.stem

    def matches(self, path: str) -> bool:
        if not self.segmented:
            return path.startswith(self.stem) if self.prefix else path == self.stem
        parts, segments = path.split("/"), self.stem.split("/")
        if len(parts) < len(segments) or (not self.prefix and len(parts) != len(segments)):
            return False
        for i, seg in enumerate(segments):
            if i == len(segments) - 1 and self.prefix:
                return seg == "+" or "/".join(parts[i:]).startswith(seg)
            if seg != "+" and parts[i] != seg:
                return False
        return True


class Acl:
    """The rules of one token (all its policies merged), resolved as Vault resolves them."""

    def __init__(self, blocks: Iterable[tuple[str, frozenset[str], str]]):
        merged: dict[str, tuple[set[str], list[str]]] = {}
        for pattern, caps, policy in blocks:
            entry = merged.setdefault(pattern, (set(), []))
            entry[0].update(caps)
            if policy not in entry[1]:
                entry[1].append(policy)
        rules = [Rule(p, frozenset() if "deny" in caps else frozenset(caps), tuple(names)) for p, (caps, names) in merged.items()]
        self.exact = {r.pattern: r for r in rules if not r.prefix and not r.segmented}
        self.prefixes = {r.stem: r for r in rules if r.prefix and not r.segmented}
        self.segmented = [r for r in rules if r.segmented]
        self.globs = [r for r in rules if r.prefix or r.segmented]

    def resolve(self, path: str) -> Rule | None:
        if path in self.exact:
            return self.exact[path]
        candidates = [r for r in self.segmented if r.matches(path)]
        longest = next((self.prefixes[path[:i]] for i in range(len(path), -1, -1) if path[:i] in self.prefixes), None)
        if longest is not None:
            candidates.append(longest)
        return max(candidates, key=Rule.priority) if candidates else None

    def candidates(self, paths: list[str], index: Mapping[str, Any]) -> set[str]:
        """Which of the sorted known endpoint paths some rule may match (exact by lookup, prefixes by range)."""
        found = {p for p in self.exact if p in index}
        for stem in self.prefixes:
            for path in paths[bisect.bisect_left(paths, stem):]:
                if not path.startswith(stem):
                    break
                found.add(path)
        if self.segmented:
            found.update(p for p in paths if any(r.matches(p) for r in self.segmented))
        return found


@dataclass(frozen=True)
class Endpoint:
    secret: str  # secret id
    kind: str  # kv2 | kv1 | database
    endpoint: str  # data, metadata, destroy, delete, undelete; "" for KV v1; creds, static-creds


@dataclass
class LoginRole:
    id: str
    backend: str
    name: str
    method: str  # kubernetes | approle | jwt | ...
    policies: list[str] | None  # None: unknown at preview
    no_default: bool
    bound_names: list[str] = field(default_factory=list)
    bound_namespaces: list[str] = field(default_factory=list)
    namespace_selector: bool = False
    audience: str | None = None
    unknown_binding: bool = False

    def subjects(self) -> list[tuple[tuple[str, str], str]]:
        """The service accounts (namespace glob, name glob) it admits, and how surely."""
        status = UNKNOWN if self.unknown_binding or self.namespace_selector else EFFECTIVE
        namespaces = self.bound_namespaces or (["*"] if self.namespace_selector else [])
        return [((ns, sa), status) for ns in namespaces for sa in self.bound_names]

    def admits(self, namespace: str, service_account: str) -> bool:
        return any(_vault_glob(ns, namespace) and _vault_glob(sa, service_account) for (ns, sa), _ in self.subjects())


def _vault_glob(pattern: str, text: str) -> bool:
    return pattern == "*" or (glob_regex(pattern).match(text) is not None if "*" in pattern else pattern == text)


class VaultEstate:
    def __init__(self, resources: list[Resource]):
        self.notes: list[str] = []
        self.mounts: dict[str, str] = {}  # path -> kv2 | kv1 | database
        self.policies: dict[str, tuple[str, Any]] = {}  # name -> (resource name, blocks | "unknown" | error)
        self.roles: dict[str, LoginRole] = {}
        self.secrets: dict[str, Secret] = {}
        self.endpoints: dict[str, Endpoint] = {}
        for r in resources:
            if r.type == MOUNT and (path := known_str(r.props.get("path"))):
                kind = str(r.props.get("type") or "")
                options = r.props.get("options") if isinstance(r.props.get("options"), Mapping) else {}
                self.mounts[path.strip("/")] = "database" if kind == "database" else (
                    "kv2" if kind == "kv-v2" or (kind == "kv" and str(options.get("version")) == "2") else "kv1" if kind in ("kv", "generic") else kind)
            elif r.type == KV_V2_CONFIG and (mount := known_str(r.props.get("mount"))):
                self.mounts[mount.strip("/")] = "kv2"
        self.mount_paths = sorted(self.mounts, key=len, reverse=True)
        for r in resources:
            if r.type == POLICY:
                self._policy(r)
            elif r.type == KUBERNETES_ROLE or (r.type.startswith("vault:") and r.type.endswith("/authBackendRole:AuthBackendRole")):
                self._role(r)
            elif r.type == GROUP_POLICIES:
                self._group(r)
            elif r.type in KV_SECRETS:
                self._kv_secret(r)
            elif r.type in DATABASE_ROLES and (backend := known_str(r.props.get("backend"))) and (name := known_str(r.props.get("name"))):
                self.add_path(f"{backend.strip('/')}/{DATABASE_ROLES[r.type]}/{name}")
        for _, blocks in self.policies.values():
            if isinstance(blocks, list):
                for block in blocks:
                    if not is_glob(block.path):
                        self.add_path(block.path)

    # --- inventory -------------------------------------------------------------------------

    def _policy(self, r: Resource) -> None:
        name = known_str(r.props.get("name")) or r.name
        text = r.props.get("policy")
        if is_unknown(text):
            self.policies[name] = (r.name, "unknown")
            return
        try:
            self.policies[name] = (r.name, parse_policy(text) if text else [])
        except PolicyParseError as error:
            self.policies[name] = (r.name, str(error))

    def _role(self, r: Resource) -> None:
        props = r.props
        backend = known_str(props.get("backend")) or "?"
        name = known_str(props.get("roleName")) or r.name
        method = "kubernetes" if r.type == KUBERNETES_ROLE else r.type.split(":")[1].split("/")[0].lower()
        policies = props.get("tokenPolicies")
        known_policies = None if is_unknown(policies) or any(is_unknown(p) for p in entries(policies)) else [str(p) for p in entries(policies)]
        role = LoginRole(f"vault-role:{backend}/{name}", backend, name, method, known_policies, props.get("tokenNoDefaultPolicy") is True)
        if method == "kubernetes":
            for field_, target in (("boundServiceAccountNames", role.bound_names), ("boundServiceAccountNamespaces", role.bound_namespaces)):
                value = props.get(field_)
                role.unknown_binding |= is_unknown(value) or any(is_unknown(v) for v in entries(value))
                target.extend(str(v) for v in entries(value) if not is_unknown(v))
            selector = props.get("boundServiceAccountNamespaceSelector")
            role.namespace_selector = bool(selector) and str(selector).strip() not in ("", "{}") or is_unknown(selector)
            role.audience = known_str(props.get("audience"))
        self.roles[role.id] = role

    def _group(self, r: Resource) -> None:
        """An identity group (operators): every member's token carries these policies besides its login's own."""
        group = known_str(r.props.get("groupId")) or r.name
        policies = r.props.get("policies")
        known_policies = None if is_unknown(policies) or any(is_unknown(p) for p in entries(policies)) else [str(p) for p in entries(policies)]
        role = LoginRole(f"vault-group:{group}", "identity", group, "group", known_policies, no_default=True)
        self.roles[role.id] = role

    def _kv_secret(self, r: Resource) -> None:
        mount, name = known_str(r.props.get("mount")), known_str(r.props.get("name"))
        if mount and name:
            kind = KV_SECRETS[r.type] or self.mounts.get(mount.strip("/"), "kv1")
            secret = self.add_secret(mount.strip("/"), name, kind)
        elif path := known_str(r.props.get("path")):
            secret = self.add_path(path)
        else:
            self.notes.append(f"{r.type.rsplit(':', 1)[1]} {r.name}: its path is unknown at preview")
            return
        metadata = r.props.get("customMetadata")
        classification = known_str((metadata.get("data") or {}).get("classification")) if isinstance(metadata, Mapping) and isinstance(metadata.get("data"), Mapping) else None
        if secret and classification:
            self.secrets[secret] = replace(self.secrets[secret], classification=classification)

    def split(self, path: str) -> tuple[str, str, str, str] | None:
        """(mount, kind, endpoint, secret path) of an API path; mounts not in the plan are guessed from the
        KV v2 / database endpoint names."""
        path = path.strip("/")
        mount = next((m for m in self.mount_paths if path == m or path.startswith(m + "/")), None)
        if mount is not None:
            rest, kind = path[len(mount) + 1:], self.mounts[mount]
        else:
            first, _, rest = path.partition("/")
            second = rest.split("/", 1)[0]
            kind = "kv2" if second in KV_ENDPOINTS else "database" if second in ("creds", "static-creds") else ""
            if not kind:
                return None
            mount = first
        if kind == "kv1":
            return mount, kind, "", rest
        if kind in ("kv2", "database"):
            endpoint, _, name = rest.partition("/")
            return mount, kind, endpoint, name
        return None

    def add_secret(self, mount: str, name: str, kind: str, endpoint: str = "") -> str | None:
        if not name or is_glob(name):
            return None
        if kind == "database":
            sid, location = f"vault:{mount}/{endpoint}/{name}", f"{mount}/{endpoint}/{name}"
            self.endpoints[location] = Endpoint(sid, kind, endpoint)
        else:
            sid, location = f"vault:{mount}/{name}", f"{mount}/data/{name}" if kind == "kv2" else f"{mount}/{name}"
            for ep in (("data", "metadata", "destroy", "delete", "undelete") if kind == "kv2" else ("",)):
                self.endpoints[f"{mount}/{ep}/{name}" if ep else f"{mount}/{name}"] = Endpoint(sid, kind, ep)
        self.secrets.setdefault(sid, Secret(sid, "vault", sid.removeprefix("vault:"), UNCLASSIFIED, location=location))
        return sid

    def add_path(self, path: str) -> str | None:
        split = self.split(path)
        if split is None:
            return None
        mount, kind, endpoint, name = split
        if kind == "kv2" and endpoint not in KV_ENDPOINTS:
            return None
        if kind == "database" and endpoint not in ("creds", "static-creds"):
            return None
        return self.add_secret(mount, name, kind, endpoint)

    def store_key(self, mount: str, key: str) -> str | None:
        """An ExternalSecret's remote key in a Vault store on `mount` (KV v2 unless the plan says v1)."""
        kind = self.mounts.get(mount.strip("/"), "kv2")
        key = key.strip("/")
        if key.startswith(f"{mount}/"):
            key = key[len(mount) + 1:]
        if kind == "kv2" and key.startswith("data/"):
            key = key[len("data/"):]
        return self.add_secret(mount.strip("/"), key, kind if kind in ("kv1", "kv2") else "kv2")

    # --- grants ----------------------------------------------------------------------------

    def add_to(self, graph: Graph) -> None:
        for secret in self.secrets.values():
            graph.secret(secret)
        paths = sorted(self.endpoints)
        used: set[str] = set()
        for role in self.roles.values():
            detail = {"kubernetes": "Kubernetes login", "approle": "AppRole login", "group": "identity group (its members' tokens)"}.get(role.method, f"{role.method} login")
            graph.principal(role.id, "vault-role", role.name, detail)
            if role.policies is None:
                graph.unknown(role.id, READ, (f"Vault role {role.name}",), f"the token policies of Vault role {role.name} are unknown at preview")
                continue
            names = role.policies + ([] if role.no_default else ["default"])
            used.update(names)
            self._grants(graph, role, names, paths)
        for name, (resource, _) in self.policies.items():
            if name not in used:
                graph.note(f"Vault policy {name} ({resource}) is attached to no login role in the plan")
        graph.notes.extend(self.notes)

    def _grants(self, graph: Graph, role: LoginRole, names: list[str], paths: list[str]) -> None:
        blocks = []
        for name in names:
            if name == "root":
                blocks.append(("*", frozenset({"create", "read", "update", "patch", "delete", "list", "sudo"}), "root"))
                continue
            resource, parsed = self.policies.get(name, (None, None))
            if parsed is None:
                if name not in BUILTIN_POLICIES:
                    graph.unknown(role.id, READ, (f"policy {name}",), f"Vault policy {name} is not in the plan: its paths are not known")
            elif parsed == "unknown":
                graph.unknown(role.id, READ, (f"policy {name}",), f"the text of Vault policy {name} is unknown at preview")
            elif isinstance(parsed, str):
                graph.unknown(role.id, READ, (f"policy {name}",), f"Vault policy {name} does not parse ({parsed})")
            else:
                blocks += [(b.path, b.capabilities, name) for b in parsed]
        acl = Acl(blocks)
        for path in acl.candidates(paths, self.endpoints):
            rule = acl.resolve(path)
            if rule is None or not rule.caps:
                continue
            endpoint = self.endpoints[path]
            for capability in capabilities(endpoint.kind, endpoint.endpoint, rule.caps):
                chain = (f"policy {', '.join(rule.policies)}: path \"{rule.pattern}\" ({', '.join(sorted(rule.caps))})",
                         f"secret {endpoint.secret.removeprefix('vault:')}")
                graph.grant(role.id, Grant(endpoint.secret, capability, EFFECTIVE, chain))
        for rule in acl.globs:
            self._pattern_grant(graph, role, rule)

    def _pattern_grant(self, graph: Graph, role: LoginRole, rule: Rule) -> None:
        """A glob reaches every secret created later under it, too."""
        if not rule.caps:
            return
        split = self.split(rule.pattern)
        if split is not None and split[1] != "kv1" and (is_glob(split[2]) or not split[2]):
            split = None  # the glob is in the endpoint itself: any endpoint
        if split is not None:
            mount, kind, endpoint, name = split
            display = f"{mount}/{endpoint}/{name}" if kind == "database" else f"{mount}/{name}"
            granted = capabilities(kind, endpoint, rule.caps)
        elif any(reaches_root(rule.pattern, root) for root in ("sys", "auth", "identity", "cubbyhole")) and not reaches_root(rule.pattern, "secret"):
            return  # Vault's own control plane: the policy rules report it
        else:
            display, granted = rule.pattern, capabilities("kv1", "", rule.caps)
        if not granted:
            return
        secret = graph.secret(Secret(f"vault:{display}", "vault", display, UNCLASSIFIED, pattern=True, location=rule.pattern))
        for capability in granted:
            chain = (f"policy {', '.join(rule.policies)}: path \"{rule.pattern}\" ({', '.join(sorted(rule.caps))})",)
            graph.grant(role.id, Grant(secret, capability, EFFECTIVE, chain, ""))

    def mount_scope(self, mount: str):
        """What a Vault store on `mount` can fetch: that mount's secrets (globs that may reach it included)."""
        mount = mount.strip("/")

        def admits(secret: Secret) -> bool:
            if secret.backend == "unknown":
                return True
            if secret.backend != "vault":
                return False
            location = secret.location.strip("/")
            if secret.pattern:
                return location.startswith(f"{mount}/") or location == mount or reaches_root(location, mount.split("/")[0])
            return location.startswith(f"{mount}/")

        return admits
