"""From a discovered estate to a draft stack file and the access it drafts.

The access as it is comes from the access matrix over the discovered resources (the same evaluation
a plan gets). Consumers are the identities with effective read access to discovered secrets; the draft
gives each exactly the secrets it reads today, by name: no glob, no administration, and no write except where
a hand-rotated secret needs its writer (the writes granted on it today, by name: a workload's `writes`, or an
operator for a role of the account that the secret's resource policy lets write). What the estate grants beyond
that is what the draft removes. Names are kept as they are and every existing
resource carries its import id (`adopt`), in the spec's adoption keys (offline/discover/SPEC_KEYS.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from components.spec import CLASS_POLICY, Classification
from components.spec.vault import IN_CLUSTER_HOSTS
from offline.access.matrix import AccessMatrix, Entry, access_matrix
from offline.access.model import EFFECTIVE, READ, UNKNOWN, UNKNOWN_SECRET, WRITE, glob_regex
from offline.discover.model import DiscoverError, Estate, FoundExternalSecret, FoundIdentity, FoundSecret, slug

NAMESPACE = "secrets-platform"
ENVIRONMENTS = ("dev", "staging", "prod")
# Said when the estate does not state a value the spec requires: the draft holds a safe guess to review.
DEFAULT_CLASSIFICATION = "high"
UNSTATED = "unknown"


@dataclass
class Workload:
    name: str
    identities: list[FoundIdentity] = field(default_factory=list)
    namespace: str | None = None
    service_account: str | None = None
    reads: list[str] = field(default_factory=list)  # matrix ids of secrets
    writes: list[str] = field(default_factory=list)  # matrix ids of hand-rotated secrets it writes today
    direct: bool = False  # reads with its own identity
    external_secrets: list[FoundExternalSecret] = field(default_factory=list)
    eso_controller: bool = False

    @property
    def principals(self) -> set[str]:
        ids = {i.principal for i in self.identities}
        if self.namespace and self.service_account:
            ids.add(f"k8s:{self.namespace}/{self.service_account}")
        return ids


@dataclass
class Discovery:
    stack: str
    environment: str
    estate: Estate
    matrix: AccessMatrix
    names: dict[str, str]  # matrix id -> draft secret name
    secrets: dict[str, FoundSecret]  # matrix id -> found secret
    workloads: list[Workload]
    as_is: list[Entry]  # the matrix entries on this estate's secrets (globs that reach one, and unknown targets)
    removed: list[Entry]  # as-is access the draft does not give
    added: list[tuple[str, str]]  # (workload, secret id) the draft grants that no identity of it holds today
    review: list[str]  # guesses the draft holds, for a person to confirm
    # matrix id of a hand-rotated secret -> the IAM roles outside the workloads that write it today (drafted as operators)
    operator_writers: dict[str, list[str]] = field(default_factory=dict)


def environment_of(stack: str, prefix: str = "") -> str | None:
    words = set(re.split(r"[^a-z]+", stack.lower())) | set(prefix.lower().split("/"))
    found = [e for e in ENVIRONMENTS if e in words]
    return found[0] if len(found) == 1 else None


def analyse(estate: Estate, stack: str, environment: str, prefix: str = "") -> Discovery:
    review: list[str] = []
    secrets = {s.matrix_id: s for s in estate.secrets}
    _referenced_secrets(estate, secrets)
    if not secrets:
        raise DiscoverError("nothing found: no secret in the estate read")
    classifications = {sid: s.classification for sid, s in secrets.items() if s.classification}
    matrix = access_matrix(estate.resources, stack, classifications)
    names = _names(secrets, prefix)
    workloads = _workloads(estate, matrix, secrets, review)
    drafted = {p: set(w.reads) for w in workloads for p in w.principals}
    for w in workloads:
        for es in w.external_secrets:
            drafted.setdefault(f"namespace:{es.namespace}", set()).update(_synced(es, estate, secrets))
        if w.eso_controller:
            synced = {sid for other in workloads for es in other.external_secrets for sid in _synced(es, estate, secrets)}
            for p in w.principals:
                drafted[p] = drafted.get(p, set()) | synced
    for store in estate.stores:
        store_id = f"eso:{store.kind}/{store.namespace + '/' if store.namespace else ''}{store.name}"
        drafted[store_id] = {sid for w in workloads for es in w.external_secrets if es.store_name == store.name
                             for sid in _synced(es, estate, secrets)}
    # The account's other grants (globs over other prefixes) are not this estate's access.
    as_is = [e for e in matrix.entries if e.secret in secrets or e.secret == UNKNOWN_SECRET or _pattern_reaches(matrix, e.secret, secrets)]
    # A hand-rotated secret needs a writer (the spec's operators rule): whoever writes it today, by its grants, keeps
    # that write (a workload's `writes`, or an operator for an IAM role outside the workloads); nobody else gains one.
    manual = {sid for sid, s in secrets.items() if _rotation_kind(s) == "manual"}
    writers: dict[str, set[str]] = {}
    for e in matrix.entries:
        if e.secret in manual and e.capability == WRITE and e.status == EFFECTIVE:
            writers.setdefault(e.secret, set()).add(e.principal.split("@", 1)[0])
    operator_writers: dict[str, list[str]] = {}
    for sid, principals in writers.items():
        for principal in sorted(principals):
            w = next((w for w in workloads if principal in w.principals and not w.eso_controller), None)
            if w is not None:
                w.writes.append(sid)
            elif (arn := _own_role_arn(principal, estate)) is not None:
                # A role the stack does not own (people's SSO role, CI) that a resource policy lets write: an operator.
                operator_writers.setdefault(sid, []).append(arn)
    kept_writes = {(p, sid) for w in workloads for sid in w.writes for p in w.principals} | {
        (p, sid) for sid, arns in operator_writers.items() for p in writers[sid] if _own_role_arn(p, estate) in arns}
    removed = [e for e in as_is if e.status in (EFFECTIVE, UNKNOWN)
               and not (e.capability == WRITE and e.status == EFFECTIVE and (e.principal.split("@", 1)[0], e.secret) in kept_writes)
               and (e.capability != READ or e.secret not in drafted.get(e.principal.split("@", 1)[0], set()))]
    held = {(e.principal.split("@", 1)[0], e.secret) for e in as_is if e.capability == READ and e.status == EFFECTIVE}
    added = [(w.name, sid) for w in workloads for sid in w.reads
             if not any((p, sid) in held for p in w.principals | {f"namespace:{es.namespace}" for es in w.external_secrets})]
    for sid, secret in secrets.items():
        if not secret.classification:
            review.append(f"{names[sid]}: classification not stated in the estate; drafted as {DEFAULT_CLASSIFICATION}")
        if not (secret.rotation_days or secret.rotation_schedule) and _class_days(secret):
            review.append(f"{names[sid]}: not rotated today; drafted as a manual rotation every {_class_days(secret)} days (its class's cadence)")
    for w in workloads:
        if w.namespace and not w.service_account:
            review.append(f"workload {w.name}: the ServiceAccount its pods run as in {w.namespace} is not in the estate; set service_account")
    return Discovery(stack, environment, estate, matrix, names, secrets, workloads, as_is, removed, added, review, operator_writers)


def _referenced_secrets(estate: Estate, secrets: dict[str, FoundSecret]) -> None:
    """Secrets only an ExternalSecret names (manifests read without their backend): drafted without an import id."""
    for es in estate.external_secrets:
        for ref in es.data:
            sid = _remote_id(es, ref.remote_key, estate)
            if sid is None:
                continue
            found = secrets.get(sid)
            if found is None:
                backend, _, rest = sid.partition(":")
                mount, path = (rest.split("/", 1) if backend == "vault" else (None, rest))
                found = secrets[sid] = FoundSecret(backend=backend, path=path, mount=mount, adopt="", matrix_id=sid)
            if ref.property and ref.property not in found.properties:
                found.properties = (*found.properties, ref.property)


def _store(es: FoundExternalSecret, estate: Estate):
    return next((s for s in estate.stores if s.name == es.store_name and s.kind == es.store_kind
                 and (s.kind == "ClusterSecretStore" or s.namespace == es.namespace)), None)


def _remote_id(es: FoundExternalSecret, key: str, estate: Estate) -> str | None:
    """The matrix id of an ExternalSecret's remote key, through its store's provider."""
    store = _store(es, estate)
    if store is None:
        estate.notes.append(f"ExternalSecret {es.namespace}/{es.name}: store {es.store_kind} {es.store_name} is not among the manifests")
        return None
    if store.provider == "aws":
        return f"aws:{key.split(':secret:', 1)[1][:-7] if key.startswith('arn:') else key}"
    if store.provider == "vault":
        mount = (store.vault_mount or "secret").strip("/")
        path = key.strip("/").removeprefix(f"{mount}/").removeprefix("data/")
        return f"vault:{mount}/{path}"
    estate.notes.append(f"ExternalSecret {es.namespace}/{es.name}: provider {store.provider} is not drafted (only aws and vault)")
    return None


def _synced(es: FoundExternalSecret, estate: Estate, secrets: dict[str, FoundSecret]) -> set[str]:
    return {sid for ref in es.data if (sid := _remote_id(es, ref.remote_key, estate)) in secrets}


def _names(secrets: dict[str, FoundSecret], prefix: str) -> dict[str, str]:
    """Draft names: the path without the discovery prefix, as a spec `Name`; the path itself is kept as `path`."""
    out: dict[str, str] = {}
    for sid in sorted(secrets):
        base = slug(secrets[sid].path.removeprefix(prefix) or secrets[sid].path)
        name, n = base, 2
        while name in out.values():
            name, n = f"{base[:37]}-{n}", n + 1
        out[sid] = name
    return out


def _workloads(estate: Estate, matrix: AccessMatrix, secrets: dict[str, FoundSecret], review: list[str]) -> list[Workload]:
    by_principal: dict[str, list[Entry]] = {}
    for e in matrix.entries:
        by_principal.setdefault(e.principal, []).append(e)
    # A ClusterSecretStore's identity is the External Secrets controller's (its reads are derived in the spec);
    # a namespaced SecretStore signing in as an application's own ServiceAccount leaves that a workload.
    controller = {s.service_account for s in estate.stores if s.service_account and s.kind == "ClusterSecretStore"}
    workloads: dict[Any, Workload] = {}  # by (namespace, ServiceAccount), else by principal
    for identity in estate.identities:
        entries = by_principal.get(identity.principal, [])
        reaches_discovered = any(e.secret in secrets or _pattern_reaches(matrix, e.secret, secrets) for e in entries)
        if not reaches_discovered:
            continue
        key = (identity.namespace, identity.service_account) if identity.service_account else identity.principal
        workload = workloads.get(key) if isinstance(key, tuple) else None
        if workload is None:
            workload = Workload(_unique(slug(identity.name), workloads), namespace=identity.namespace,
                                service_account=identity.service_account)
            workloads[key] = workload
        workload.identities.append(identity)
        workload.direct = True
        workload.eso_controller |= (identity.namespace, identity.service_account) in controller
        reads = sorted(e.secret for e in entries if e.secret in secrets and e.capability == READ and e.status == EFFECTIVE)
        workload.reads.extend(r for r in reads if r not in workload.reads)
        if not reads:
            review.append(f"workload {workload.name}: {identity.principal} reaches no existing secret by name, only globs; drafted with no reads")
        if identity.kind == "iam-role" and not identity.service_account:
            review.append(f"workload {workload.name}: IAM role {identity.name} is assumed by {identity.trusted}, not a Kubernetes "
                          "ServiceAccount; set namespace and service_account, or keep this consumer outside the stack")
    for es in estate.external_secrets:
        synced = sorted(_synced(es, estate, secrets))
        workload = next((w for w in workloads.values() if w.namespace == es.namespace and not w.eso_controller), None)
        if workload is None:
            workload = Workload(_unique(slug(es.namespace), workloads), namespace=es.namespace)
            workloads[f"namespace:{es.namespace}"] = workload
        workload.external_secrets.append(es)
        workload.reads.extend(s for s in synced if s not in workload.reads)
    out = list(workloads.values())
    for w in out:
        if w.eso_controller:
            # The controller's reads are derived from the consumers (README "The stack config"): none of its own.
            w.reads = []
    return out


def _own_role_arn(principal: str, estate: Estate) -> str | None:
    """The ARN of an IAM role of the estate's own account a principal id names (an operator's role), else None."""
    if principal.startswith("iam-role:") and estate.account_id:
        return f"arn:aws:iam::{estate.account_id}:role/{principal.removeprefix('iam-role:')}"
    match = re.fullmatch(r"aws:(arn:aws[a-z\-]*:iam::(\d{12}):role/[\w+=,.@/\-]+)", principal)
    if match and match.group(2) == estate.account_id:
        return match.group(1)
    return None


def _rotation_kind(secret: FoundSecret) -> str | None:
    """The rotation kind the draft gives the secret (see _secret_entry)."""
    if secret.rotation_days or secret.rotation_schedule:
        return "generic" if secret.rotation_function else "manual"
    return "manual" if _class_days(secret) else None


def _classification(secret: FoundSecret) -> str:
    return secret.classification if secret.classification in {c.value for c in Classification} else DEFAULT_CLASSIFICATION


def _class_days(secret: FoundSecret) -> int | None:
    """The longest rotation period the secret's class allows (None: rotation not required)."""
    return CLASS_POLICY[Classification(_classification(secret))].max_rotation_days


def _pattern_reaches(matrix: AccessMatrix, secret: str, secrets: dict[str, FoundSecret]) -> bool:
    found = matrix.secrets.get(secret)
    if found is None or not found.pattern:
        return False
    backend, _, pattern = secret.partition(":")
    return any(s.matrix_id.startswith(f"{backend}:") and glob_regex(pattern).match(s.matrix_id.partition(":")[2]) for s in secrets.values())


def _unique(base: str, workloads: dict[Any, Workload]) -> str:
    taken = {w.name for w in workloads.values()}
    name, n = base, 2
    while name in taken:
        name, n = f"{base[:37]}-{n}", n + 1
    return name


# --- the draft stack file ------------------------------------------------------------------------

def _duration(seconds: Any) -> str | None:
    if not isinstance(seconds, int) or seconds <= 0:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def stack_prefix(prefix: str, environment: str) -> str:
    """The spec's prefix with `{env}` where the environment stands in the discovered prefix, else after it."""
    parts = [p for p in prefix.split("/") if p]
    if environment in parts:
        parts[parts.index(environment)] = "{env}"
    else:
        parts.append("{env}")
    return "/".join(parts) + "/"


def _stack_base(stack: str, environment: str) -> str:
    """`emr-prod` -> `emr/`: the prefix a stack without a discovered one starts from (its names are explicit paths)."""
    base = re.sub(rf"[-_.]?{environment}$", "", slug(stack))
    return f"{base or slug(stack)}/"


def draft(discovery: Discovery, prefix: str = "") -> dict[str, Any]:
    estate, d = discovery.estate, discovery
    config: dict[str, Any] = {f"{NAMESPACE}:environment": d.environment,
                              f"{NAMESPACE}:prefix": stack_prefix(prefix or _stack_base(d.stack, d.environment), d.environment)}
    aws_secrets = [s for s in d.secrets.values() if s.backend == "aws"]
    if aws_secrets or estate.account_id:
        regions = sorted({r for s in aws_secrets for r in s.replica_regions})
        config[f"{NAMESPACE}:aws"] = {"account_id": estate.account_id or UNSTATED, "region": estate.region or UNSTATED,
                                      **({"replica_regions": regions} if regions else {})}
    if len(estate.oidc_provider_arns) == 1:
        provider = next(iter(estate.oidc_provider_arns))
        config[f"{NAMESPACE}:cluster"] = {"oidc_issuer_url": f"https://{provider.split(':oidc-provider/', 1)[1]}", "oidc_provider_arn": provider}
    elif estate.oidc_provider_arns:
        d.review.append(f"roles trust {len(estate.oidc_provider_arns)} OIDC providers; the spec has one cluster: choose it")
    vault_secrets = [s for s in d.secrets.values() if s.backend == "vault"]
    if vault_secrets:
        mounts = sorted({s.mount for s in vault_secrets if s.mount})
        # The mounts exist: adopted (their import id is their path), never created a second time.
        vault: dict[str, Any] = {"address": estate.vault_address or UNSTATED, "kv_mounts": [{"path": m, "adopt": m} for m in mounts]}
        backends = {(i.kind, i.settings.get("mount")) for w in d.workloads for i in w.identities}
        kubernetes_mounts = sorted(m for k, m in backends if k == "vault-kubernetes")
        if kubernetes_mounts:
            vault["kubernetes_auth"] = _kubernetes_auth(d, estate, kubernetes_mounts[0])
        approle_mounts = sorted(m for k, m in backends if k == "vault-approle")
        if approle_mounts:
            vault["approle"] = {"mount": approle_mounts[0], "adopt": approle_mounts[0]}
        config[f"{NAMESPACE}:vault"] = vault
    controller = next((w for w in d.workloads if w.eso_controller), None)
    if estate.external_secrets or controller:
        eso: dict[str, Any] = {"install": False}  # a controller already runs: adopt the estate, do not install a second
        if controller:
            eso |= {"namespace": controller.namespace, "workload": controller.name}
        config[f"{NAMESPACE}:kubernetes"] = {"eso": eso}
    tags = [s.tags for s in d.secrets.values()]
    config[f"{NAMESPACE}:tags"] = {"owner": _common(tags, "owner", "team") or UNSTATED,
                                   "cost_centre": _common(tags, "cost_centre", "costcenter", "cost-center") or UNSTATED}
    keys = {k.key_id: k for k in estate.keys}
    used = sorted({s.key for s in aws_secrets if s.key})
    if used:
        config[f"{NAMESPACE}:keys"] = [_key_entry(keys[k]) for k in used]
    order = sorted(d.secrets, key=d.names.get)
    config[f"{NAMESPACE}:secrets"] = [_secret_entry(d, sid, keys, index) for index, sid in enumerate(order)]
    operators = _operator_entries(d, order)
    if operators:
        config[f"{NAMESPACE}:operators"] = operators
    written = {sid for w in d.workloads for sid in w.writes} | set(d.operator_writers)
    for index, sid in enumerate(order):
        if _rotation_kind(d.secrets[sid]) == "manual" and sid not in written:
            d.review.append(f"secrets[{index}].rotation.kind: {d.names[sid]} is rotated by hand, and no grant in the estate lets anyone "
                            "write it: add it to the writes of an operator (the people who rotate it) or of a workload")
    config[f"{NAMESPACE}:workloads"] = [_workload_entry(d, w) for w in d.workloads]
    if d.environment == "prod":
        # A prod stack's failed rotations and break-glass assumptions must reach someone: a new topic by default.
        config[f"{NAMESPACE}:alerts"] = {}
        d.review.append("alerts: drafted as a new SNS topic (alerts: {}); if the stack's alarms go to an existing topic "
                        "(the on-call pager's), set alerts.topic_arn to its ARN instead")
        # Audit in prod (#15): every Secrets Manager read is recorded by a trail; the Vault server's device is not discovered.
        if aws_secrets and f"{NAMESPACE}:aws" in config:
            config[f"{NAMESPACE}:aws"]["audit"] = {"trail": {}}
            d.review.append("aws.audit: drafted as a new CloudTrail trail (trail: {}); if the organisation trail records this account, "
                            "set aws.audit.organization_trail_arn to its ARN instead, or elsewhere: <who records the calls>")
        if f"{NAMESPACE}:vault" in config:
            d.review.append("vault.audit: declare the Vault server's audit device (device: file|socket|syslog with its options) or "
                            "elsewhere: <reason>; a prod stack managing Vault without either fails SP-AUDIT-003")
    return {"config": config}


def _operator_entries(d: Discovery, order: list[str]) -> list[dict[str, Any]]:
    """The IAM roles outside the workloads that write hand-rotated secrets today: one operator each, with those writes."""
    roles: dict[str, list[str]] = {}
    for sid in order:
        for arn in d.operator_writers.get(sid, ()):
            roles.setdefault(arn, []).append(d.names[sid])
    taken: set[str] = set()
    out = []
    for arn, writes in roles.items():
        base = slug(arn.rsplit("/", 1)[1])
        name, n = base, 2
        while name in taken:
            name, n = f"{base[:37]}-{n}", n + 1
        taken.add(name)
        out.append({"name": name, "aws_role_arn": arn, "writes": writes})
    return out


def _kubernetes_auth(d: Discovery, estate: Estate, mount: str) -> dict[str, Any]:
    """The Kubernetes auth mount as it runs: a Vault that reaches the cluster's API by an outside address, or that
    holds a token reviewer JWT, is external; its CA is drafted as found (public material), its reviewer as the
    spec's own dedicated one, since a stored reviewer JWT can never be read back."""
    auth: dict[str, Any] = {"mount": mount, "host": estate.kubernetes_host or UNSTATED}
    outside = bool(estate.kubernetes_host) and not IN_CLUSTER_HOSTS.match(estate.kubernetes_host)
    if outside or estate.kubernetes_reviewer_set:
        auth["vault_runs"] = "external"
        if estate.kubernetes_ca_cert:
            auth["ca_cert"] = estate.kubernetes_ca_cert
        else:
            d.review.append(f"auth/{mount}/config has no CA certificate: set vault.kubernetes_auth.ca_cert to the cluster API's CA")
        if estate.kubernetes_reviewer_set:
            d.review.append(f"auth/{mount}/config holds a token reviewer JWT, which cannot be read back: the draft creates its own "
                            "reviewer (vault.kubernetes_auth.reviewer_service_account, default kube-system/vault-token-reviewer, bound to "
                            "system:auth-delegator); name the existing reviewer there instead to keep it")
        else:
            auth["reviewer"] = "client"  # no reviewer JWT: Vault reviews each login with the client's own token today
    return {**auth, "adopt": mount}


def _common(tags: list[dict[str, str]], *names: str) -> str | None:
    values = {v for t in tags for k, v in t.items() if k.lower() in names}
    return values.pop() if len(values) == 1 else None


def _key_entry(key) -> dict[str, Any]:
    alias = key.aliases[0] if key.aliases else None
    return {"name": slug(alias.removeprefix("alias/") if alias else key.key_id), **({"alias": alias} if alias else {}), "adopt": key.key_id}


def _secret_entry(d: Discovery, sid: str, keys: dict, index: int) -> dict[str, Any]:
    s = d.secrets[sid]
    entry: dict[str, Any] = {"name": d.names[sid], "path": s.path}
    if s.adopt:
        entry["adopt"] = s.adopt
    if s.description:
        entry["description"] = s.description
    entry["classification"] = _classification(s)
    if s.backend != "aws":
        entry["backend"] = s.backend
    if s.mount:
        entry["mount"] = s.mount
    if s.key and s.key in keys:
        entry["key"] = _key_entry(keys[s.key])["name"]
    if s.rotation_days or s.rotation_schedule:
        # The existing function is not adopted: the spec's generic kind builds its own; the report names the old one.
        entry["rotation"] = {"kind": "generic" if s.rotation_function else "manual",
                             **({"days": s.rotation_days} if s.rotation_days else {"schedule": s.rotation_schedule})}
    elif _class_days(s):
        entry["rotation"] = {"kind": "manual", "days": _class_days(s)}  # the class requires a cadence; nobody rotates it today
    if entry.get("rotation", {}).get("kind") == "generic" and s.properties:
        # A generic rotation writes one property of a structured secret: the spec needs to know which.
        if len(s.properties) == 1:
            entry["rotation"]["property"] = s.properties[0]
        else:
            d.review.append(f"secrets[{index}].rotation.property: {d.names[sid]} declares {len(s.properties)} properties "
                            f"({', '.join(s.properties)}); name the one its generic rotation replaces")
    if s.replica_regions:
        entry["replica_regions"] = list(s.replica_regions)
    if s.properties:
        entry["properties"] = list(s.properties)
    tags = {k: v for k, v in s.tags.items() if k.lower() not in ("classification", "environment", "owner", "managed-by")}
    if tags:
        entry["tags"] = tags
    return entry


def _workload_entry(d: Discovery, w: Workload) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": w.name}
    if w.namespace:
        entry["namespace"] = w.namespace
    if w.service_account:
        entry["service_account"] = w.service_account
    entry["reads"] = [d.names[s] for s in w.reads]
    if w.writes:
        entry["writes"] = [d.names[s] for s in sorted(w.writes, key=d.names.get)]
    if w.external_secrets and w.direct and not w.eso_controller:
        entry["delivery"] = "both"
    elif w.direct and not w.eso_controller and d.estate.external_secrets:
        entry["delivery"] = "direct"
    approle = next((i for i in w.identities if i.kind == "vault-approle"), None)
    if approle:
        entry["vault_login"] = "approle"
        settings = {k: _duration(approle.settings.get(k)) for k in ("secret_id_ttl", "token_ttl", "token_max_ttl")}
        entry["approle"] = {k: v for k, v in settings.items() if v} | (
            {"secret_id_num_uses": approle.settings["secret_id_num_uses"]} if approle.settings.get("secret_id_num_uses") else {})
    adopt: dict[str, str] = {}
    for identity in w.identities:
        if identity.kind == "iam-role":
            entry["role_name"] = identity.name
            adopt["role"] = identity.name
        else:
            entry["vault_role_name"] = identity.name
            adopt["vault_role"] = identity.adopt["vault_role"]
            policies = [p for k, p in identity.adopt.items() if k.startswith("vault_policy:")]
            if len(policies) == 1:
                entry["vault_policy_name"] = policies[0]
                adopt["vault_policy"] = policies[0]
            elif policies:
                d.review.append(f"workload {w.name}: Vault role {identity.name} carries {len(policies)} policies "
                                f"({', '.join(policies)}); the draft writes one policy per workload")
    if w.namespace and w.service_account and (w.namespace, w.service_account) in d.estate.service_accounts:
        adopt["service_account"] = f"{w.namespace}/{w.service_account}"
    if adopt:
        entry["adopt"] = adopt
    if w.external_secrets:
        entry["external_secrets"] = [_external_secret_entry(d, es) for es in w.external_secrets]
    return entry


def _external_secret_entry(d: Discovery, es: FoundExternalSecret) -> dict[str, Any]:
    data = []
    for ref in es.data:
        sid = _remote_id(es, ref.remote_key, d.estate)
        if sid in d.names:
            data.append({"secret_key": ref.secret_key, "secret": d.names[sid], **({"property": ref.property} if ref.property else {})})
    store = _store(es, d.estate)
    store_id = (f"{store.namespace}/{store.name}" if store.namespace else store.name) if store else None
    return {"name": es.name, "target": es.target, **({"refresh_interval": es.refresh_interval} if es.refresh_interval else {}),
            "store": {"kind": es.store_kind, "name": es.store_name, **({"adopt": store_id} if store_id else {})},
            "data": data, "adopt": f"{es.namespace}/{es.name}"}
