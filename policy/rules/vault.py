"""Vault rules: ACL policies (HCL parsed here), Kubernetes and AppRole login roles.

A policy whose text is unknown at preview gives every policy rule an undecided finding; a policy
that does not parse is one finding of POLICY_PARSEABLE (the other policy rules cannot read it).
Messages name paths, capabilities and fields, never the policy text itself (comments may hold anything).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import wraps
from typing import Any, Callable, Iterable

from documents.props import strings
from policy.rules._util import (HIPAA_ACCESS, HIPAA_AUDIT, HIPAA_AUTHENTICATION, HIPAA_TRANSMISSION, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE,
                               SOC2_TRANSMISSION)
from policy.rules.base import Finding, Resource, Rule, Severity, is_unknown, rule

POLICY = "vault:index/policy:Policy"
KUBERNETES_ROLE = "vault:kubernetes/authBackendRole:AuthBackendRole"
APPROLE_ROLE = "vault:appRole/authBackendRole:AuthBackendRole"
KUBERNETES_AUTH_CONFIG = "vault:kubernetes/authBackendConfig:AuthBackendConfig"

WRITE_CAPABILITIES = frozenset({"create", "update", "patch", "delete"})
# Vault's own control plane: policies, mounts, auth methods, entities and groups.
CONTROL_PLANE = ("sys", "auth", "identity")
# What every token needs for itself, from Vault's default policy (hashicorp/vault vault/policy_store.go `defaultPolicy`,
# https://developer.hashicorp.com/vault/docs/concepts/policies#default-policy): path -> the capabilities it may hold.
# These reach only the token's own data (its cubbyhole, its leases, its wrapping tokens, its entity), so they are
# neither over-broad nor control-plane grants.
_UPDATE, _READ = frozenset({"update"}), frozenset({"read"})
TOKEN_OWN = {
    "auth/token/lookup-self": _READ,
    "auth/token/renew-self": _UPDATE,
    "auth/token/revoke-self": _UPDATE,
    "sys/capabilities-self": _UPDATE,
    "identity/entity/id/{{identity.entity.id}}": _READ,
    "identity/entity/name/{{identity.entity.name}}": _READ,
    "sys/internal/ui/resultant-acl": _READ,
    "sys/renew": _UPDATE,
    "sys/leases/renew": _UPDATE,
    "sys/leases/lookup": _UPDATE,
    "sys/wrapping/wrap": _UPDATE,
    "sys/wrapping/lookup": _UPDATE,
    "sys/wrapping/unwrap": _UPDATE,
    "sys/wrapping/rewrap": _UPDATE,
    "sys/wrapping/*": _UPDATE,  # the four endpoints above: each acts on the wrapping token the caller presents
    "sys/tools/hash": _UPDATE,
    "sys/tools/hash/*": _UPDATE,
    "sys/control-group/request": _UPDATE,
    # Both in the default policy (`vault read sys/policy/default`): the caller authorizes an OIDC client for its own entity, and
    # answers its own login MFA challenge.
    "identity/oidc/provider/+/authorize": frozenset({"read", "update"}),
    "sys/mfa/challenge": _UPDATE,
}
# Mount paths Vault reserves for itself (no secrets engine can be mounted there).
RESERVED_MOUNTS = frozenset({*CONTROL_PLANE, "cubbyhole"})
# A cubbyhole is private to the token that owns it, whatever the path below it.
CUBBYHOLE_CAPABILITIES = frozenset({"create", "read", "update", "patch", "delete", "list"})
# Templates that Vault fills with the caller's own entity or one of its groups
# (https://developer.hashicorp.com/vault/docs/concepts/policies/templated-policies): a glob after one stays inside that
# identity's, or that group's, own subtree. A group template renders only for the group's members (for anyone else the
# path matches nothing), so its subtree is the team's own, as the templated-policies page uses it.
PER_IDENTITY_TEMPLATE = re.compile(r"\{\{\s*identity\.(entity\.(id|name|aliases\.[^.{}]+\.name)"
                                   r"|groups\.(ids\.[^.{}]+\.name|names\.[^.{}]+\.id))\s*\}\}")
# The KV v2 endpoint segment that follows the mount path.
KV_ENDPOINTS = frozenset({"data", "metadata", "delete", "undelete", "destroy", "subkeys", "config"})
# Pre-0.9 `policy = "..."` shorthand, expanded as Vault expands it.
OLD_POLICY = {
    "deny": {"deny"},
    "read": {"read", "list"},
    "write": {"create", "read", "update", "delete", "list"},
    "sudo": {"create", "read", "update", "delete", "list", "sudo"},
}
MAX_TOKEN_TTL = 3600  # seconds: 1h, what our components set (seed 000)
MAX_TOKEN_MAX_TTL = 86400  # seconds: 24h
_ACCESS = (HIPAA_ACCESS, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE)
_LOGIN = (HIPAA_ACCESS, HIPAA_AUTHENTICATION, SOC2_ACCESS)
_ROLES = (KUBERNETES_ROLE, APPROLE_ROLE)


# --- the HCL policy parser -------------------------------------------------------------------

class PolicyParseError(ValueError):
    """Says where, never what: the offending text may be a comment holding anything."""


@dataclass(frozen=True)
class PathBlock:
    path: str
    capabilities: frozenset[str]
    line: int  # 0 for JSON policies

    @property
    def grants(self) -> frozenset[str]:
        """What the block allows: nothing at all when it denies (deny wins over every other capability)."""
        return frozenset() if "deny" in self.capabilities else self.capabilities

    def __str__(self) -> str:
        return f'path "{self.path}"' + (f" (line {self.line})" if self.line else "")


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
      | (?P<string>"(?:[^"\\\n]|\\.)*")
      | (?P<punct>[{}\[\]=,:])
      | (?P<word>[A-Za-z0-9_.+\-]+)""",
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    value: str
    line: int


@dataclass(frozen=True)
class _Item:
    key: str
    labels: tuple[str, ...]
    value: Any  # str, list, or _Body
    line: int


@dataclass(frozen=True)
class _Body:
    items: tuple[_Item, ...]


def _tokens(text: str) -> list[_Token]:
    tokens, pos, line = [], 0, 1
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise PolicyParseError(f"line {line}: unexpected character, unterminated string or comment, or a heredoc")
        kind, raw = match.lastgroup, match.group()
        if kind == "string":
            try:
                tokens.append(_Token("string", json.loads(raw), line))
            except ValueError:
                raise PolicyParseError(f"line {line}: invalid escape in a string") from None
        elif kind in ("punct", "word"):
            tokens.append(_Token(kind, raw, line))
        line += raw.count("\n")
        pos = match.end()
    return tokens


class _Parser:
    """HCL1 as Vault reads it: `key "label"… { body }`, `key = value`, lists, nested objects."""

    def __init__(self, tokens: list[_Token]):
        self.tokens, self.i = tokens, 0

    def _next(self, what: str) -> _Token:
        if self.i >= len(self.tokens):
            last = self.tokens[-1].line if self.tokens else 1
            raise PolicyParseError(f"line {last}: unexpected end of policy, expected {what}")
        self.i += 1
        return self.tokens[self.i - 1]

    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def body(self, closed: bool) -> _Body:
        items = []
        while (token := self._peek()) is not None:
            if closed and token.value == "}" and token.kind == "punct":
                self.i += 1
                return _Body(tuple(items))
            if token.kind == "punct" and token.value == ",":
                self.i += 1
                continue
            items.append(self.item())
        if closed:
            self._next("'}'")
        return _Body(tuple(items))

    def item(self) -> _Item:
        key = self._next("a key")
        if key.kind == "punct":
            raise PolicyParseError(f"line {key.line}: expected a key")
        labels = []
        while (token := self._peek()) is not None and token.kind == "string":
            labels.append(self._next("a label").value)
        token = self._next("'=' or '{'")
        if token.kind == "punct" and token.value in ("=", ":"):
            return _Item(key.value, tuple(labels), self.value(), key.line)
        if token.kind == "punct" and token.value == "{":
            return _Item(key.value, tuple(labels), self.body(closed=True), key.line)
        raise PolicyParseError(f"line {token.line}: expected '=' or '{{' after a key")

    def value(self) -> Any:
        token = self._next("a value")
        if token.kind != "punct":
            return token.value
        if token.value == "{":
            return self.body(closed=True)
        if token.value == "[":
            values = []
            while True:
                nxt = self._peek()
                if nxt is not None and nxt.kind == "punct" and nxt.value == "]":
                    self.i += 1
                    return values
                values.append(self.value())
                nxt = self._next("',' or ']'")
                if nxt.kind == "punct" and nxt.value == "]":
                    return values
                if not (nxt.kind == "punct" and nxt.value == ","):
                    raise PolicyParseError(f"line {nxt.line}: expected ',' or ']' in a list")
        raise PolicyParseError(f"line {token.line}: expected a value")


def _block(path: Any, settings: dict[str, Any], line: int) -> PathBlock:
    if not isinstance(path, str):
        raise PolicyParseError(f"line {line}: a path must be a string")
    capabilities: set[str] = set()
    listed = settings.get("capabilities")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
            raise PolicyParseError(f"line {line}: capabilities must be a list of strings")
        capabilities |= {c.strip().lower() for c in listed}
    old = settings.get("policy")
    if old is not None:
        if old not in OLD_POLICY:
            raise PolicyParseError(f"line {line}: policy must be one of deny, read, write, sudo")
        capabilities |= OLD_POLICY[old]
    return PathBlock(path.lstrip("/"), frozenset(capabilities), line)


def _settings(body: _Body) -> dict[str, Any]:
    return {item.key: item.value for item in body.items if not item.labels}


def parse_policy(policy: str | dict) -> list[PathBlock]:
    """The path blocks of a Vault ACL policy, written in HCL or JSON (text or object)."""
    if not isinstance(policy, (str, dict)):
        raise PolicyParseError("line 1: a policy is HCL or JSON text, or a JSON object")
    if isinstance(policy, dict) or policy.lstrip().startswith("{"):
        try:
            document = policy if isinstance(policy, dict) else json.loads(policy)
        except json.JSONDecodeError as error:
            raise PolicyParseError(f"line {error.lineno}: invalid JSON policy") from None
        paths = document.get("path", {}) if isinstance(document, dict) else None
        if not isinstance(paths, dict) or not all(isinstance(s, dict) for s in paths.values()):
            raise PolicyParseError("line 1: a JSON policy is {\"path\": {\"<path>\": {\"capabilities\": [...]}}}")
        return [_block(path, settings, 0) for path, settings in paths.items()]
    blocks = []
    for item in _Parser(_tokens(policy)).body(closed=False).items:
        if item.key == "name":
            continue
        if item.key != "path" or not isinstance(item.value, _Body) or len(item.labels) > 1:
            raise PolicyParseError(f'line {item.line}: expected path "<path>" {{ capabilities = [...] }}')
        if item.labels:
            blocks.append(_block(item.labels[0], _settings(item.value), item.line))
            continue
        for inner in item.value.items:  # the `path = { "<path>" = { ... } }` spelling
            if not isinstance(inner.value, _Body) or inner.labels:
                raise PolicyParseError(f"line {inner.line}: expected \"<path>\" = {{ ... }} inside path")
            blocks.append(_block(inner.key, _settings(inner.value), inner.line))
    return blocks


# --- path reasoning ---------------------------------------------------------------------------

def is_glob(path: str) -> bool:
    """`*` (a prefix match when last) or a `+` segment (any one segment)."""
    return "*" in path or "+" in path.split("/")


def token_own(block: PathBlock) -> bool:
    """The block grants only what every token needs for itself (Vault's default policy, its own cubbyhole)."""
    if block.path == "cubbyhole" or block.path.startswith("cubbyhole/"):
        return block.grants <= CUBBYHOLE_CAPABILITIES
    return block.grants <= TOKEN_OWN.get(block.path, frozenset())


def wide_glob(path: str) -> bool:
    """A glob that reaches paths of other identities: not one that follows a per-identity template segment
    (`secret/data/{{identity.entity.id}}/*` stays in the caller's own subtree)."""
    for segment in path.split("/"):
        if PER_IDENTITY_TEMPLATE.fullmatch(segment):
            return False
        if "*" in segment or segment == "+":
            return True
    return False


def reaches_root(path: str, root: str) -> bool:
    """Whether the path, globs included, can name something under `<root>/`."""
    first = path.split("/", 1)[0]
    if first == "+":
        return True
    if "*" in first:
        return root.startswith(first.split("*", 1)[0])
    return first == root


def reaches_kv_endpoint(path: str, endpoint: str) -> bool:
    """Whether the path, globs included, can name a KV v2 `<mount>/<endpoint>/…` path (the mount may be nested)."""
    segments = path.split("/")
    if "*" in segments[0]:
        return True
    for segment in segments[1:]:
        if segment == endpoint or segment == "+":
            return True
        if "*" in segment:
            return endpoint.startswith(segment.split("*", 1)[0])
        if segment in KV_ENDPOINTS:
            return False
    return False


# --- policy rules -----------------------------------------------------------------------------

def _read_policy(rule: Rule, resource: Resource) -> tuple[list[PathBlock] | None, list[Finding]]:
    """The policy's path blocks (none for an empty policy), or None and why: undecided when the text is unknown at
    preview, a finding when it does not parse (POLICY_PARSEABLE reports it; the other policy rules stay silent)."""
    policy = resource["props"].get("policy")
    if is_unknown(policy):
        return None, [rule.undecided(resource, "the policy text")]
    if not policy:
        return [], []
    try:
        return parse_policy(policy), []
    except PolicyParseError as error:
        return None, [rule.finding(resource, f"the policy does not parse ({error}); nothing in it can be checked")]


def _policy_check(inspect: Callable[[list[PathBlock]], Iterable[str]]) -> Callable[[Rule, Resource], list[Finding]]:
    """A check over a policy's parsed path blocks: `inspect` yields one message a violation (its docstring is kept)."""

    @wraps(inspect)
    def check(rule: Rule, resource: Resource) -> list[Finding]:
        blocks, problems = _read_policy(rule, resource)
        if blocks is None:
            return [f for f in problems if f.undecided]
        return [rule.finding(resource, message) for message in inspect(blocks)]

    return check


@rule(id="SP-VAULT-001", name="vault-policy-parseable", severity=Severity.HIGH, resource_types=(POLICY,), frameworks=(HIPAA_ACCESS, HIPAA_AUDIT),
      remediation="Write the policy as `path \"<path>\" { capabilities = [...] }` blocks (or Vault's JSON form).")
def POLICY_PARSEABLE(rule: Rule, resource: Resource) -> list[Finding]:
    """A Vault policy that cannot be parsed cannot be reviewed or checked."""
    return _read_policy(rule, resource)[1]


@rule(id="SP-VAULT-002", name="vault-policy-no-glob", severity=Severity.HIGH, resource_types=(POLICY,), frameworks=_ACCESS,
      remediation="Grant exact paths, or record an exception with a reason and an expiry.")
@_policy_check
def POLICY_NO_GLOB(blocks: list[PathBlock]) -> Iterable[str]:
    """Globs (`*`, `+` segments) grant paths beyond the consumer's declared ones."""
    for block in blocks:
        if block.grants and wide_glob(block.path) and not token_own(block):
            yield f"{block} uses a glob: it grants {_caps(block.grants)} on paths nobody declared; list the exact paths"


@rule(id="SP-VAULT-003", name="vault-policy-no-sudo-root", severity=Severity.CRITICAL, resource_types=(POLICY,), frameworks=_ACCESS,
      remediation="Remove sudo/root; operators use a separate, audited admin policy.")
@_policy_check
def POLICY_NO_SUDO_ROOT(blocks: list[PathBlock]) -> Iterable[str]:
    """`sudo`/`root` capabilities open root-protected endpoints."""
    for block in blocks:
        if found := block.grants & {"sudo", "root"}:
            yield f"{block} grants {_caps(found)}: root-protected endpoints; remove it"


@rule(id="SP-VAULT-004", name="vault-policy-no-glob-write", severity=Severity.HIGH, resource_types=(POLICY,), frameworks=_ACCESS,
      remediation="Grant create/update/patch/delete only on the exact paths a workload declares it writes.")
@_policy_check
def POLICY_NO_GLOB_WRITE(blocks: list[PathBlock]) -> Iterable[str]:
    """Write capabilities on a glob let a workload overwrite or delete every secret below it (seed 004's CRUD on
    secret/data/phagen/*)."""
    for block in blocks:
        if wide_glob(block.path) and not token_own(block) and (found := block.grants & WRITE_CAPABILITIES):
            yield f"{block} grants {_caps(found)} on a glob: writes and deletes reach every secret below it; grant writes on exact paths"


@rule(id="SP-VAULT-005", name="vault-policy-no-permanent-delete", severity=Severity.HIGH, resource_types=(POLICY,),
      frameworks=(HIPAA_ACCESS, HIPAA_AUDIT, SOC2_ACCESS),
      remediation="Keep metadata read-only for workloads; leave destroy to an audited admin path.")
@_policy_check
def POLICY_NO_PERMANENT_DELETE(blocks: list[PathBlock]) -> Iterable[str]:
    """`delete` on KV metadata or write on KV destroy erases secret versions and history for good."""
    for block in blocks:
        if token_own(block) or block.path.split("/", 1)[0] in RESERVED_MOUNTS:
            continue  # Vault's reserved mounts are never KV: nothing there is KV metadata or destroy
        if "delete" in block.grants and reaches_kv_endpoint(block.path, "metadata"):
            yield f"{block} grants delete on KV metadata: it erases every version and the history for good"
        if block.grants & {"create", "update"} and reaches_kv_endpoint(block.path, "destroy"):
            yield f"{block} grants write on KV destroy: it destroys versions for good"


@rule(id="SP-VAULT-006", name="vault-policy-no-control-plane", severity=Severity.CRITICAL, resource_types=(POLICY,), frameworks=_ACCESS,
      remediation="Remove the grant; workloads need only their secret paths and auth/token/*-self.")
@_policy_check
def POLICY_NO_CONTROL_PLANE(blocks: list[PathBlock]) -> Iterable[str]:
    """Grants on sys/, auth/ or identity/ (other than a token's own lookup/renew/revoke) let a workload change Vault
    itself."""
    for block in blocks:
        if not block.grants or token_own(block):
            continue
        roots = [f"{root}/" for root in CONTROL_PLANE if reaches_root(block.path, root)]
        if roots:
            yield f"{block} grants {_caps(block.grants)} on {', '.join(roots)} (Vault's control plane); workloads need none of it"


def _caps(capabilities: Iterable[str]) -> str:
    return ", ".join(sorted(capabilities))


# --- login role rules -------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+)(d|h|m|s)")
_UNIT = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def _seconds(value: Any) -> float | None:
    """Seconds from a number, a numeric string or a Vault duration ("1h30m", "2d"); None when absent or unreadable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if value.strip().isdigit():
            return float(value)
        if value and _DURATION.sub("", value) == "":
            return float(sum(int(n) * _UNIT[u] for n, u in _DURATION.findall(value)))
    return None


@rule(id="SP-VAULT-010", name="vault-kubernetes-role-bound-identity", severity=Severity.HIGH, resource_types=(KUBERNETES_ROLE,), frameworks=_LOGIN,
      remediation="Set boundServiceAccountNames and boundServiceAccountNamespaces to the workload's one service account and namespace.")
def KUBERNETES_ROLE_BOUND_IDENTITY(rule: Rule, resource: Resource) -> list[Finding]:
    """A Kubernetes login role must bind exact service accounts and namespaces, never `*`."""
    props = resource["props"]
    names, names_unknown = strings(props.get("boundServiceAccountNames"))
    namespaces, namespaces_unknown = strings(props.get("boundServiceAccountNamespaces"))
    selector = props.get("boundServiceAccountNamespaceSelector")
    out = [f"{field}[{i}] contains '*': any service account matching it logs in"
           for field, values in (("boundServiceAccountNames", names), ("boundServiceAccountNamespaces", namespaces))
           for i, value in enumerate(values) if "*" in value]
    if not names and not names_unknown:
        out.append("boundServiceAccountNames is empty: bind exactly one service account")
    unknown = [f for f, u in (("boundServiceAccountNames", names_unknown), ("boundServiceAccountNamespaces", namespaces_unknown)) if u]
    if not namespaces and not namespaces_unknown:
        if is_unknown(selector):
            unknown.append("boundServiceAccountNamespaceSelector")
        elif not selector or str(selector).strip() == "{}":  # an empty selector selects every namespace
            out.append("no boundServiceAccountNamespaces and no restricting namespace selector: bind exactly one namespace")
    return [rule.finding(resource, m) for m in out] + [rule.undecided(resource, f) for f in unknown]


@rule(id="SP-VAULT-011", name="vault-kubernetes-role-audience", severity=Severity.MEDIUM, resource_types=(KUBERNETES_ROLE,), frameworks=_LOGIN,
      remediation="Set audience (e.g. 'vault') and mint projected tokens for that audience.")
def KUBERNETES_ROLE_AUDIENCE(rule: Rule, resource: Resource) -> list[Finding]:
    """Without an audience, a service-account token minted for any other service logs in to Vault."""
    audience = resource["props"].get("audience")
    return rule.require(resource, "audience", audience, bool(audience),
                        "audience is not set: a service-account token minted for any other audience logs in; set audience (e.g. 'vault')")


@rule(id="SP-VAULT-012", name="vault-login-token-ttl", severity=Severity.MEDIUM, resource_types=_ROLES,
      description=f"Login tokens live at most {MAX_TOKEN_TTL}s and renew to at most {MAX_TOKEN_MAX_TTL}s; 0 or unset means Vault's 768h default.",
      frameworks=_LOGIN, remediation=f"Set tokenTtl <= {MAX_TOKEN_TTL} and tokenMaxTtl <= {MAX_TOKEN_MAX_TTL} (seconds); avoid tokenPeriod.")
def LOGIN_TOKEN_TTL(rule: Rule, resource: Resource) -> list[Finding]:
    props = resource["props"]
    fields = ("tokenTtl", "tokenMaxTtl", "tokenExplicitMaxTtl", "tokenPeriod")
    unknown = [f for f in fields if is_unknown(props.get(f))]
    if unknown:
        return [rule.undecided(resource, ", ".join(unknown))]
    ttl, max_ttl, explicit, period = (_seconds(props.get(f)) for f in fields)
    caps = [v for v in (max_ttl, explicit) if v]
    out = []
    if not ttl:
        out.append(f"tokenTtl is not set (0 means the mount default, 768h unless tuned): set at most {MAX_TOKEN_TTL}s")
    elif ttl > MAX_TOKEN_TTL:
        out.append(f"tokenTtl is {ttl:.0f}s, above {MAX_TOKEN_TTL}s")
    if period and not (explicit and explicit <= MAX_TOKEN_MAX_TTL):
        out.append(f"tokenPeriod makes tokens renewable forever: drop it or set tokenExplicitMaxTtl of at most {MAX_TOKEN_MAX_TTL}s")
    elif not caps:
        out.append("tokenMaxTtl is not set: renewals keep a token alive up to the system maximum (768h by default); "
                   f"set at most {MAX_TOKEN_MAX_TTL}s")
    elif min(caps) > MAX_TOKEN_MAX_TTL:
        out.append(f"tokenMaxTtl is {min(caps):.0f}s, above {MAX_TOKEN_MAX_TTL}s")
    return [rule.finding(resource, m) for m in out]


@rule(id="SP-VAULT-013", name="vault-login-no-root-or-default-policy", severity=Severity.HIGH, resource_types=_ROLES, frameworks=_ACCESS,
      remediation="Set tokenPolicies to the workload's policy and tokenNoDefaultPolicy = true.")
def LOGIN_NO_ROOT_OR_DEFAULT_POLICY(rule: Rule, resource: Resource) -> list[Finding]:
    """Login tokens carry only the workload's own policy: not root, not Vault's default policy."""
    props = resource["props"]
    policies, policies_unknown = strings(props.get("tokenPolicies"))
    no_default = props.get("tokenNoDefaultPolicy")
    out = [f"tokenPolicies[{i}] is '{p}'" + (": root can do anything" if p == "root" else ": the default policy is not least privilege")
           for i, p in enumerate(policies) if p in ("root", "default")]
    if not is_unknown(no_default) and no_default is not True:
        out.append("tokenNoDefaultPolicy is not true: Vault attaches the default policy to every token")
    findings = [rule.finding(resource, m) for m in out]
    unknown = [f for f, u in (("tokenPolicies", policies_unknown), ("tokenNoDefaultPolicy", is_unknown(no_default))) if u]
    return findings + [rule.undecided(resource, f) for f in unknown]


@rule(id="SP-VAULT-014", name="vault-approle-secret-id-bounds", severity=Severity.HIGH, resource_types=(APPROLE_ROLE,), frameworks=_LOGIN,
      remediation="Keep bindSecretId = true and set secretIdTtl (e.g. 86400); bound CIDRs where the callers are known.")
def APPROLE_SECRET_ID_BOUNDS(rule: Rule, resource: Resource) -> list[Finding]:
    """An AppRole must require a SecretID, and SecretIDs must expire."""
    props, out = resource["props"], []
    bind, ttl = props.get("bindSecretId"), props.get("secretIdTtl")
    if is_unknown(bind):
        out.append(rule.undecided(resource, "bindSecretId"))
    elif bind is False:
        out.append(rule.finding(resource, "bindSecretId is false: the role ID alone logs in; require a SecretID"))
    if is_unknown(ttl):
        out.append(rule.undecided(resource, "secretIdTtl"))
    elif not _seconds(ttl):
        out.append(rule.finding(resource, "secretIdTtl is not set (0 means SecretIDs never expire): set a bound such as 24h"))
    return out



@rule(id="SP-VAULT-015", name="vault-kubernetes-auth-verified-tls", severity=Severity.HIGH, resource_types=(KUBERNETES_AUTH_CONFIG,),
      frameworks=(HIPAA_AUTHENTICATION, HIPAA_TRANSMISSION, SOC2_TRANSMISSION),
      remediation="Set kubernetes_host to the API server's https address and kubernetes_ca_cert to the cluster's CA certificate "
      "(vault.kubernetes_auth.ca_cert); or run Vault in the cluster with its pod's CA (disable_local_ca_jwt false).")
def KUBERNETES_AUTH_VERIFIED_TLS(rule: Rule, resource: Resource) -> list[Finding]:
    """Vault sends every login token to the cluster's TokenReview API: over plain http, or over https trusting no
    CA of the cluster (Vault outside the cluster, or told not to use its pod's CA, with no kubernetes_ca_cert),
    those tokens and the reviewer's own go to whoever answers at that address."""
    props = resource["props"]
    host, local_ca, ca = props.get("kubernetesHost"), props.get("disableLocalCaJwt"), props.get("kubernetesCaCert")
    out = rule.require(resource, "kubernetesHost", host, isinstance(host, str) and host.lower().startswith("https://"),
                       "kubernetesHost is not an https address: login and reviewer tokens would cross the network in clear")
    if local_ca is True:  # the pod's CA is not used: only kubernetes_ca_cert can authenticate the API server
        out += rule.require(resource, "kubernetesCaCert", ca, bool(ca),
                            "disableLocalCaJwt is true and kubernetesCaCert is not set: Vault cannot tell the cluster's API "
                            "server from anyone else answering at kubernetesHost; set kubernetes_ca_cert to the cluster CA")
    elif is_unknown(local_ca):
        out.append(rule.undecided(resource, "disableLocalCaJwt"))
    return out

RULES: list[Rule] = [
    POLICY_PARSEABLE,
    POLICY_NO_GLOB,
    POLICY_NO_SUDO_ROOT,
    POLICY_NO_GLOB_WRITE,
    POLICY_NO_PERMANENT_DELETE,
    POLICY_NO_CONTROL_PLANE,
    KUBERNETES_ROLE_BOUND_IDENTITY,
    KUBERNETES_ROLE_AUDIENCE,
    LOGIN_TOKEN_TTL,
    LOGIN_NO_ROOT_OR_DEFAULT_POLICY,
    APPROLE_SECRET_ID_BOUNDS,
    KUBERNETES_AUTH_VERIFIED_TLS,
]
