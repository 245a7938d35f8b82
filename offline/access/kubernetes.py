"""Kubernetes and External Secrets: service accounts, the stores they sign in through, the
ExternalSecrets that copy a backend secret into a namespace, and who may read the copy.

- A store acts with one identity: an AWS store with `auth.jwt.serviceAccountRef` assumes the IAM roles
  that trust that service account (IRSA); a Vault store logs in to a Kubernetes auth role that binds
  the service account (and audience). It fetches only its own backend: AWS secrets of its region, or
  the Vault secrets of its mount.
- A namespace may use its own SecretStores and every ClusterSecretStore whose `conditions` admit it;
  whoever may create an ExternalSecret there reaches everything those stores' identities can read.
- An ExternalSecret copies named remote secrets into a Kubernetes Secret of its namespace; service
  accounts that RBAC lets `get`, `list` or `watch` that Secret read them.
- The External Secrets controller itself (offline/access/controller.py): its chart's ClusterRole lets it read
  (and overwrite) every synced Secret and mint a token for every service account, so it reaches whatever
  any service account reaches; scoped (`scopedRBAC`), only those of its namespace. A store or namespace the
  controller does not reconcile (`scopedNamespace`, `processClusterStore`) syncs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from collections.abc import Callable, Mapping
from typing import Any

from documents.props import dig, entries, is_unknown
from offline.access.model import EFFECTIVE, UNKNOWN, UNKNOWN_SECRET, Edge, Graph, Resource, Secret, glob_regex, known_str, worst
from offline.access.controller import ControllerReach
from offline.access.stores import Backends, ServiceAccountRef, SignIn, StoreProvider, provider, service_account_id

_ESO = "kubernetes:external-secrets.io/"
NAMESPACE = "kubernetes:core/v1:Namespace"
SERVICE_ACCOUNT = "kubernetes:core/v1:ServiceAccount"
_RBAC = "kubernetes:rbac.authorization.k8s.io/v1:"
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"
ESO_CHART = "external-secrets"
# Built-in ClusterRoles that read Secrets (aggregated `admin` and `edit` do; `view` does not).
BUILTIN_SECRET_READERS = frozenset({"cluster-admin", "admin", "edit"})
READ_VERBS = frozenset({"get", "list", "watch", "*"})
# Built-in ClusterRoles that read no Secret, and what a binding to them gives instead.
BUILTIN_NON_READERS = {
    "system:auth-delegator": "may create TokenReviews and SubjectAccessReviews cluster-wide (check any token, ask who may do what); reads no Secret",
}
SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
SECRET_READING = "reads (and may overwrite or delete)"


def eso_kind(type_: str) -> str | None:
    return type_.rsplit(":", 1)[1] if type_.startswith(_ESO) else None


@dataclass
class Store:
    id: str
    kind: str  # SecretStore | ClusterSecretStore
    name: str
    namespace: str | None
    spec: Any

    @property
    def provider(self) -> tuple[str, Any]:
        """(the provider's name, its config)."""
        block = dig(self.spec, "provider")
        if not isinstance(block, Mapping) or len(block) != 1:
            return "unknown", block
        (name, config), = block.items()
        return name, config

    @property
    def backend(self) -> StoreProvider:
        """The registered provider this store fetches through."""
        return provider(self.provider[0])

    def usable_in(self, namespace: str, labels: Mapping[str, Mapping[str, str] | None]) -> str | None:
        """EFFECTIVE when an ExternalSecret of `namespace` may use the store, UNKNOWN when the plan cannot
        tell, None when it may not."""
        if self.kind == "SecretStore":
            return EFFECTIVE if namespace == self.namespace else None
        conditions = dig(self.spec, "conditions")
        if is_unknown(conditions):
            return UNKNOWN
        if not conditions:
            return EFFECTIVE  # no conditions: every namespace
        result = None
        for condition in entries(conditions):
            if not isinstance(condition, Mapping):
                continue
            names = condition.get("namespaces")
            if is_unknown(names) or is_unknown(condition.get("namespaceRegexes")):
                result = result or UNKNOWN
            if namespace in entries(names):
                return EFFECTIVE
            for regex in entries(condition.get("namespaceRegexes")):
                try:
                    if isinstance(regex, str) and re.search(regex, namespace):
                        return EFFECTIVE
                except re.error:
                    continue
            selector = condition.get("namespaceSelector")
            if selector is not None:
                matched = _selects(selector, labels.get(namespace))
                if matched is True:
                    return EFFECTIVE
                if matched is None:
                    result = UNKNOWN
        return result


def _selects(selector: Any, labels: Mapping[str, str] | None) -> bool | None:
    """A label selector against a namespace's labels (None: its labels are not in the plan)."""
    if is_unknown(selector) or not isinstance(selector, Mapping):
        return None
    if labels is None:
        return None
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in entries(selector.get("matchExpressions")):
        if not isinstance(expression, Mapping):
            return None
        key, operator, values = expression.get("key"), expression.get("operator"), entries(expression.get("values"))
        present = key in labels
        ok = {"In": present and labels.get(key) in values, "NotIn": not present or labels.get(key) not in values,
              "Exists": present, "DoesNotExist": not present}.get(operator)
        if ok is None:
            return None
        if not ok:
            return False
    return True


@dataclass
class Synced:
    """A Kubernetes Secret an ExternalSecret keeps in sync with remote secrets."""

    namespace: str
    name: str  # the Kubernetes Secret's name
    source: str  # the ExternalSecret
    store: Store | None
    secrets: set[str] = field(default_factory=set)  # remote secret ids
    find: Callable[[Secret], bool] | None = None  # dataFrom.find: every secret it may match


class KubernetesEstate:
    def __init__(self, resources: list[Resource], declared: ControllerReach | None = None):
        self.notes: list[str] = []
        self.labels: dict[str, Mapping[str, str] | None] = {}
        self.service_accounts: dict[str, str] = {}  # id -> detail
        self.stores: dict[str, Store] = {}  # ("<kind>/<ns>/<name>")
        self.external_secrets: list[tuple[Resource, str, str]] = []
        self.roles: dict[tuple[str | None, str], list] = {}  # (namespace or None for ClusterRoles, name) -> rules
        self.bindings: list[Resource] = []
        self.controller: tuple[str, str] | None = None
        self.synced: list[Synced] = []
        self.gke_clusters: set[str] = set()  # projects of the GKE clusters gcpsm stores say they run on
        self.reach: ControllerReach | None = None  # the ESO controller's own RBAC and reconcilers
        for r in resources:
            meta = r.props.get("metadata") if isinstance(r.props.get("metadata"), Mapping) else {}
            name, namespace = known_str(meta.get("name")), known_str(meta.get("namespace"))
            if namespace:
                self.labels.setdefault(namespace, None)
            kind = eso_kind(r.type)
            if r.type == NAMESPACE and name:
                labels = meta.get("labels")
                self.labels[name] = labels if isinstance(labels, Mapping) else {}
            elif r.type == SERVICE_ACCOUNT and name and namespace:
                role = known_str(dig(meta, "annotations", IRSA_ANNOTATION) or "")
                self.service_accounts[service_account_id(namespace, name)] = f"annotated with IAM role {role.rsplit('/', 1)[-1]}" if role else ""
            elif kind in ("SecretStore", "ClusterSecretStore"):
                self._store(r, kind, name, namespace)
            elif kind == "ExternalSecret":
                if name and namespace:
                    self.external_secrets.append((r, namespace, name))
                else:
                    self.notes.append(f"ExternalSecret {r.name}: its name or namespace is unknown at preview")
            elif kind == "ClusterExternalSecret":
                self.notes.append(f"ClusterExternalSecret {r.name}: not evaluated (the ExternalSecrets it creates are not in the plan)")
            elif r.type in (f"{_RBAC}Role", f"{_RBAC}ClusterRole") and name:
                self.roles[(namespace if r.type.endswith(":Role") else None, name)] = entries(r.props.get("rules"))
            elif r.type in (f"{_RBAC}RoleBinding", f"{_RBAC}ClusterRoleBinding"):
                self.bindings.append(r)
            elif r.type == "kubernetes:core/v1:Secret" and r.props.get("type") == SERVICE_ACCOUNT_TOKEN and name and namespace:
                account = known_str(dig(meta, "annotations", "kubernetes.io/service-account.name")) or "(unknown)"
                self.notes.append(f"Secret {namespace}/{name} holds a long-lived token of service account {namespace}/{account}: "
                                  f"whoever may read Secrets in {namespace} acts as it")
            elif r.type == HELM_RELEASE and r.props.get("chart") == ESO_CHART:
                account = dig(r.props, "values", "serviceAccount", "name")
                self.controller = (known_str(r.props.get("namespace")) or "default", known_str(account) or ESO_CHART)
                self.reach = ControllerReach.from_values(*self.controller, r.props.get("values"))
        if self.controller is None and declared is not None:
            self.controller, self.reach = (declared.namespace, declared.service_account), declared
        if self.reach is not None:
            self.service_accounts[service_account_id(*self.controller)] = self.reach.describe()
            if self.reach.unknown:
                self.notes.append(f"External Secrets chart values {', '.join(self.reach.unknown)} are unknown at preview; taken as the chart's defaults")

    def _store(self, r: Resource, kind: str, name: str | None, namespace: str | None) -> None:
        if name is None or (kind == "SecretStore" and namespace is None):
            self.notes.append(f"{kind} {r.name}: its name or namespace is unknown at preview")
            return
        key = f"{kind}/{namespace}/{name}" if kind == "SecretStore" else f"{kind}/{name}"
        spec = r.props.get("spec")
        if r.type.startswith(f"{_ESO}v1alpha1:") and isinstance(spec, Mapping):  # v1alpha1 has no conditions: the API server drops them
            spec = {k: v for k, v in spec.items() if k != "conditions"}
        self.stores[key] = Store(f"eso:{key}", kind, name, namespace if kind == "SecretStore" else None, spec)
        if project := known_str(dig(spec, "provider", "gcpsm", "auth", "workloadIdentity", "clusterProjectID")):
            self.gke_clusters.add(project)
        for condition in entries(dig(r.props.get("spec"), "conditions")):
            for ns in entries(condition.get("namespaces") if isinstance(condition, Mapping) else None):
                if known_str(ns):
                    self.labels.setdefault(ns, None)

    # --- what the ExternalSecrets fetch (before the backends list their secrets) ---------------

    def resolve_remote_keys(self, backends: Backends) -> None:
        for r, namespace, name in self.external_secrets:
            spec = r.props.get("spec")
            ref = dig(spec, "secretStoreRef")
            store_name, store_kind = known_str(dig(ref, "name")), known_str(dig(ref, "kind")) or "SecretStore"
            store = self.stores.get(f"{store_kind}/{namespace}/{store_name}" if store_kind == "SecretStore" else f"{store_kind}/{store_name}")
            target = known_str(dig(spec, "target", "name")) or name
            synced = Synced(namespace, target, f"ExternalSecret {namespace}/{name}", store)
            if store is None:
                self.notes.append(f"ExternalSecret {namespace}/{name}: {store_kind} {store_name or '(unknown)'} is not in the plan")
            config = store.provider[1] if store else None
            fetcher = store.backend if store else provider("unknown")
            keys = [dig(d, "remoteRef", "key") for d in entries(dig(spec, "data"))]
            keys += [dig(d, "extract", "key") for d in entries(dig(spec, "dataFrom")) if dig(d, "extract") is not None]
            keys += [dig(d, "key") for d in entries(dig(spec, "dataFrom")) if dig(d, "key") is not None]  # v1alpha1: dataFrom lists keys
            for key in keys:
                if not known_str(key):
                    synced.find = _everything  # a remote key unknown at preview may be any secret of the store
                    self.notes.append(f"ExternalSecret {namespace}/{name}: a remote key is unknown at preview")
                else:
                    synced.secrets.update(fetcher.remote_secrets(backends, config, key))
            for d in entries(dig(spec, "dataFrom")):
                if dig(d, "find") is not None:
                    synced.find = _finder(dig(d, "find"), fetcher)
                elif dig(d, "sourceRef") is not None:
                    self.notes.append(f"ExternalSecret {namespace}/{name}: dataFrom.sourceRef (generators, other stores) is not evaluated")
            self.synced.append(synced)

    # --- identities and edges ----------------------------------------------------------------

    def known_service_accounts(self) -> set[str]:
        found = set(self.service_accounts)
        for store in self.stores.values():
            ref = self._service_account_ref(store)
            if ref and ref[0] and ref[1]:
                found.add(service_account_id(*ref))
        for binding in self.bindings:
            for subject in entries(binding.props.get("subjects")):
                if isinstance(subject, Mapping) and subject.get("kind") == "ServiceAccount" and known_str(subject.get("name")):
                    ns = known_str(subject.get("namespace")) or known_str(dig(binding.props, "metadata", "namespace"))
                    if ns:
                        found.add(service_account_id(ns, subject["name"]))
        return found

    def _service_account_ref(self, store: Store) -> ServiceAccountRef | None:
        ref = store.backend.service_account(store.provider[1])
        name = known_str(dig(ref, "name"))
        if name is None:
            return None
        namespace = store.namespace if store.kind == "SecretStore" else known_str(dig(ref, "namespace"))
        return namespace, name

    def add_to(self, graph: Graph, backends: Backends) -> None:
        for sa, detail in self.service_accounts.items():
            graph.principal(sa, "service-account", sa.removeprefix("k8s:"), detail)
        nodes: dict[tuple[str, str | None], str] = {}

        def store_node(store: Store, namespace: str) -> str:
            """A store signs in as one identity, except a ClusterSecretStore whose serviceAccountRef names no
            namespace: that one uses the service account of the ExternalSecret's namespace."""
            ref = self._service_account_ref(store)
            per_namespace = store.kind == "ClusterSecretStore" and ref is not None and ref[0] is None
            key = (store.id, namespace if per_namespace else None)
            if key not in nodes:
                node = f"{store.id}@{namespace}" if per_namespace else store.id
                where = namespace if per_namespace else store.namespace  # a SecretStore's name recurs per namespace
                graph.principal(node, "eso-store", f"{store.kind} {store.name}" + (f" (in {where})" if where else ""),
                                store.backend.detail(*store.provider))
                name, config = store.provider
                store.backend.sign_in(SignIn(graph, node, f"{store.kind} {store.name}", config,
                                             (namespace, ref[1]) if per_namespace and ref else ref, backends, self.controller), name)
                nodes[key] = node
            return nodes[key]

        for namespace in sorted(self.labels):
            reach = []
            for store in self.stores.values():
                status = store.usable_in(namespace, self.labels)
                if status is not None and self._reconciles(store, namespace):
                    reach.append((store, status))
            if reach:
                ns = graph.principal(f"namespace:{namespace}", "namespace", namespace, "whoever may create ExternalSecrets (or pods) in it")
                for store, status in reach:
                    graph.edge(ns, Edge(store_node(store, namespace), f"an ExternalSecret in {namespace} may use {store.kind} {store.name}",
                                        status, kind="namespace", reason="" if status == EFFECTIVE else f"whether {namespace} may use {store.kind} {store.name} is not known"))
        for store in self.stores.values():
            if (store.kind == "ClusterSecretStore" and not dig(store.spec, "conditions") and not is_unknown(dig(store.spec, "conditions"))
                    and self._reconciles(store, "*")):
                ns = graph.principal("namespace:*", "namespace", "any namespace", "ClusterSecretStores without conditions serve every namespace")
                graph.edge(ns, Edge(store_node(store, "*"), f"an ExternalSecret in any namespace may use {store.kind} {store.name}", kind="namespace"))
        for synced in self.synced:
            if synced.store is not None and synced.store.usable_in(synced.namespace, self.labels) is None:
                graph.note(f"{synced.source}: {synced.store.kind} {synced.store.name} does not admit namespace {synced.namespace}; nothing is synced")
                synced.store = None
            elif synced.store is not None and not self._reconciles(synced.store, synced.namespace):
                graph.note(f"{synced.source}: the External Secrets controller does not reconcile it ({self.reach.describe()}); nothing is synced")
                synced.store = None
        self._readers(graph, store_node)
        self._controller_reach(graph, store_node)

    def _reconciles(self, store: Store, namespace: str) -> bool:
        """Whether the controller syncs ExternalSecrets of `namespace` through `store` (its chart values)."""
        reach = self.reach
        if reach is None:
            return True
        if store.kind == "ClusterSecretStore" and not reach.cluster_stores:
            return False
        return reach.reconciled_namespace is None or namespace == reach.reconciled_namespace

    def _controller_reach(self, graph: Graph, store_node: Callable[[Store, str], str]) -> None:
        """The controller reads every synced Secret its RBAC reaches and may become every service account it
        may mint a token for: it reaches whatever those reach."""
        reach = self.reach
        if reach is None or self.controller is None or not reach.rbac:
            return
        controller = service_account_id(*self.controller)
        for synced in self.synced:
            if synced.store is None or not reach.admits(synced.namespace):
                continue
            only, admits = _scope(synced)
            hop = f"{reach.role}: {SECRET_READING} Secret {synced.namespace}/{synced.name}, synced by {synced.source}"
            graph.edge(controller, Edge(store_node(synced.store, synced.namespace), hop, EFFECTIVE, admits, "rbac", only=only))
        if not reach.token_create:
            return
        for sa, principal in list(graph.principals.items()):
            if principal.kind != "service-account" or "*" in sa or sa == controller:
                continue
            namespace = sa.removeprefix("k8s:").split("/", 1)[0]
            if reach.admits(namespace):
                graph.edge(controller, Edge(sa, f"{reach.role}: creates a token for service account {sa.removeprefix('k8s:')} (serviceaccounts/token)", kind="token"))

    def _readers(self, graph: Graph, store_node: Callable[[Store, str], str]) -> None:
        """Who may read each synced Kubernetes Secret: the subjects of RBAC bindings that let them get it."""
        by_namespace: dict[str, list[Synced]] = {}
        for synced in self.synced:
            if synced.store is not None:
                by_namespace.setdefault(synced.namespace, []).append(synced)
        for binding in self.bindings:
            meta = binding.props.get("metadata") if isinstance(binding.props.get("metadata"), Mapping) else {}
            cluster_wide = binding.type.endswith("ClusterRoleBinding")
            namespace = known_str(meta.get("namespace"))
            role_kind, role_name = known_str(dig(binding.props, "roleRef", "kind")), known_str(dig(binding.props, "roleRef", "name"))
            if role_kind == "ClusterRole" and role_name in BUILTIN_NON_READERS:
                self._non_reader(graph, binding, label_of(binding, meta, role_kind, role_name), namespace, BUILTIN_NON_READERS[role_name])
                continue
            if role_name in BUILTIN_SECRET_READERS and role_kind == "ClusterRole":
                names, status = None, EFFECTIVE
            else:
                rules = self.roles.get((namespace if role_kind == "Role" else None, role_name or ""))
                if rules is None:
                    if role_name is not None and role_kind == "ClusterRole":
                        self.notes.append(f"{binding.type.rsplit(':', 1)[1]} {binding.name}: ClusterRole {role_name} is not in the plan; not evaluated")
                    continue
                names, status = _secret_names(rules)
                if status is None:
                    continue
            label = f"{'ClusterRoleBinding' if cluster_wide else 'RoleBinding'} {binding.name} ({role_kind} {role_name})"
            scopes = list(by_namespace) if cluster_wide else [namespace] if namespace else []
            for subject in entries(binding.props.get("subjects")):
                source = self._subject(graph, subject, namespace)
                if source is None:
                    continue
                for ns in scopes:
                    for synced in by_namespace.get(ns, []):
                        if names is not None and synced.name not in names:
                            continue
                        only, admits = _scope(synced)
                        hop = f"{label}: reads Secret {ns}/{synced.name}, synced by {synced.source}"
                        for src in source:
                            graph.edge(src, Edge(store_node(synced.store, ns), hop, status, admits, "rbac", only=only))

    def _non_reader(self, graph: Graph, binding: Resource, label: str, namespace: str | None, gives: str) -> None:
        """A binding to a built-in role that reads no Secret: its subjects and what they may do, as a note."""
        who = []
        for subject in entries(binding.props.get("subjects")):
            if isinstance(subject, Mapping) and subject.get("kind") == "ServiceAccount" and known_str(subject.get("name")):
                ns = known_str(subject.get("namespace")) or namespace
                if ns:
                    graph.principal(service_account_id(ns, subject["name"]), "service-account", f"{ns}/{subject['name']}", f"{label}: {gives}")
                who.append(f"service account {ns or '?'}/{subject['name']}")
            elif isinstance(subject, Mapping):
                who.append(f"{subject.get('kind', '?')} {known_str(subject.get('name')) or '(unknown at preview)'}")
        self.notes.append(f"{label}: {', '.join(who) or 'no subject'} {gives}")

    def _subject(self, graph: Graph, subject: Any, namespace: str | None) -> list[str] | None:
        """The principals an RBAC subject stands for (a group of service accounts: each known one, and the pattern)."""
        if not isinstance(subject, Mapping):
            return None
        kind, name = subject.get("kind"), known_str(subject.get("name"))
        if name is None:
            return [graph.principal("?", "unknown", "(unknown at preview)")]
        if kind == "ServiceAccount":
            ns = known_str(subject.get("namespace")) or namespace
            return [graph.principal(service_account_id(ns, name), "service-account", f"{ns}/{name}")] if ns else None
        if kind == "Group" and (name == "system:serviceaccounts" or name.startswith("system:serviceaccounts:")):
            ns = name.removeprefix("system:serviceaccounts").lstrip(":") or "*"
            pattern = graph.principal(service_account_id(ns, "*"), "service-account", f"every service account of {'any namespace' if ns == '*' else ns}")
            return [pattern, *(sa for sa in graph.principals if sa.startswith("k8s:") and "*" not in sa and (ns == "*" or sa.startswith(f"k8s:{ns}/")))]
        prefix = "k8s-group" if kind == "Group" else "k8s-user"
        return [graph.principal(f"{prefix}:{name}", prefix, name)]


def label_of(binding: Resource, meta: Mapping, role_kind: str | None, role_name: str | None) -> str:
    kind = binding.type.rsplit(":", 1)[1]
    return f"{kind} {known_str(meta.get('name')) or binding.name} ({role_kind} {role_name})"


def _secret_names(rules: list) -> tuple[set[str] | None, str | None]:
    """(the Secret names the rules let a subject read, None for all; status, None when none)."""
    names: set[str] = set()
    status: str | None = None
    for rule in rules:
        if not isinstance(rule, Mapping):
            continue
        groups, resources, verbs = (entries(rule.get(k)) for k in ("apiGroups", "resources", "verbs"))
        unknown = any(is_unknown(rule.get(k)) for k in ("apiGroups", "resources", "verbs", "resourceNames"))
        if not unknown and not ({"", "*"} & set(groups) and {"secrets", "*"} & set(resources) and READ_VERBS & set(verbs)):
            continue
        status = worst(status or EFFECTIVE, UNKNOWN if unknown else EFFECTIVE)
        listed = entries(rule.get("resourceNames"))
        if not listed:
            return None, status
        names.update(n for n in listed if isinstance(n, str))
    return names, status


def _scope(synced: Synced) -> tuple[frozenset[str] | None, Callable[[Secret], bool] | None]:
    """Which of the store's secrets a synced Kubernetes Secret holds: the named remote keys (looked up; a
    grant of the store unknown at preview stays visible as unknown), or whatever dataFrom.find may match."""
    if synced.find is None:
        return frozenset(synced.secrets | {UNKNOWN_SECRET}), None
    named, find = frozenset(synced.secrets), synced.find
    return None, lambda secret: secret.id in named or find(secret)


def _everything(secret: Secret) -> bool:
    return True


def _finder(find: Any, fetcher: StoreProvider) -> Callable[[Secret], bool]:
    """dataFrom.find: secrets of the store's backend whose name matches `name.regexp` under `path`; tags
    cannot be told here."""
    regexp, path = known_str(dig(find, "name", "regexp")), known_str(dig(find, "path")) or ""
    try:
        compiled = re.compile(regexp) if regexp else None
    except re.error:
        compiled = None
    backend = fetcher.backend

    def matches(secret: Secret) -> bool:
        if backend and secret.backend not in (backend, "unknown"):
            return False
        name = fetcher.find_name(secret)
        return name.startswith(path) and (compiled is None or secret.pattern or compiled.search(name) is not None)

    return matches


def pattern_matches(pattern: tuple[str, str], service_account: str) -> bool:
    """Whether a `k8s:<ns>/<name>` service account matches a (namespace, name) glob pair."""
    namespace, _, name = service_account.removeprefix("k8s:").partition("/")
    return glob_regex(pattern[0]).match(namespace) is not None and glob_regex(pattern[1]).match(name) is not None
