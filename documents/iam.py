"""IAM policy documents as the policy pack and the access matrix read them (identity, trust, key and secret policies).

`parse` turns a document (a JSON string or an object, possibly holding values unknown at preview)
into `Statement`s; a malformed document becomes `problems` (never an exception), each saying where
and never quoting the text. IAM reads action names, condition operators and condition keys
case-insensitively; element names are matched case-insensitively too, so an odd spelling never
hides a statement from the rules (AWS would reject it anyway). Statements are named by index only:
a `Sid` is free text and may hold anything.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from typing import Any, Callable, Iterable, Mapping, NamedTuple

from documents.props import is_unknown

# `*`, or `service:Name` with IAM's only wildcards `*` and `?`; anything else is not printed.
ACTION_SYNTAX = re.compile(r"\*|[a-z0-9*?-]+:[a-z0-9*?]+", re.IGNORECASE)
ROOT = re.compile(r"\d{12}|arn:aws[a-z-]*:iam::\d{12}:root")
# Actions that hand out credentials or secret material although AWS files them under Read.
CREDENTIAL_READS = frozenset(
    a.lower()
    for a in (
        "secretsmanager:GetSecretValue", "secretsmanager:BatchGetSecretValue", "ssm:GetParameter", "ssm:GetParameters",
        "ssm:GetParametersByPath", "sts:GetFederationToken", "sts:GetSessionToken", "kms:GetParametersForImport",
    )
)
# Operators that pass only for the listed values (before IfExists / ForAllValues weaken them).
NARROWING_OPERATORS = frozenset(
    {"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike", "numericequals", "bool", "ipaddress"}
)
# Keys that tie a request to known accounts, organisations, ARNs or networks (IAM Access Analyzer's list,
# minus aws:SourceIp): with one of them a `Principal: "*"` statement is not public.
IDENTITY_KEYS = frozenset(
    k.lower()
    for k in (
        "aws:PrincipalAccount", "aws:PrincipalArn", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:SourceAccount",
        "aws:SourceArn", "aws:SourceOwner", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceVpc", "aws:SourceVpce",
        "aws:userid", "kms:CallerAccount", "lambda:FunctionArn",
    )
)


def element(mapping: Mapping, name: str, default: Any = None) -> Any:
    """`mapping[name]`, matching the key case-insensitively."""
    if name in mapping:
        return mapping[name]
    return next((v for k, v in mapping.items() if isinstance(k, str) and k.lower() == name.lower()), default)


@cache
def _glob(pattern: str) -> re.Pattern:
    # IAM globs know only `*` and `?` (fnmatch would also read `[...]` as a character class).
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()) + r"\Z", re.S)


def matches(pattern: str, value: str) -> bool:
    """An IAM glob (action, ARN or condition value) against a value, case-insensitively."""
    return bool(_glob(pattern).match(value.lower()))


def has_wildcard(text: str) -> bool:
    return "*" in text or "?" in text


def only_wildcards(text: str) -> bool:
    return bool(text) and set(text) <= {"*", "?"}


# --- the IAM action database (policy_sentry, offline) ------------------------------------------

@cache
def _service_actions(service: str) -> dict[str, str]:
    from policy_sentry.querying.actions import get_actions_for_service

    return {a.lower(): a for a in get_actions_for_service(service)}


@cache
def _all_services() -> tuple[str, ...]:
    from policy_sentry.querying.all import get_all_service_prefixes

    return tuple(sorted(get_all_service_prefixes()))


def expand(pattern: str) -> list[str]:
    """The actions of policy_sentry's database that an Action entry matches (spelled as AWS spells them)."""
    service = pattern.lower().partition(":")[0]
    services = [s for s in _all_services() if matches(service, s)] if has_wildcard(service) else [service]
    return sorted(a for s in services for low, a in _service_actions(s).items() if matches(pattern, low))


@cache
def access_level(action: str) -> str | None:
    """`Read`, `List`, `Write`, `Permissions management` or `Tagging`; None for an action not in the database."""
    from policy_sentry.querying.actions import get_action_data

    service, _, name = action.partition(":")
    rows = get_action_data(service.lower(), name) or {}
    return next((row["access_level"] for row in rows.get(service.lower(), [])), None)


def sensitive(action: str) -> bool:
    """Changes something, manages permissions or tags, or reads credentials or secret material."""
    return access_level(action) not in ("Read", "List") or action.lower() in CREDENTIAL_READS


def sensitive_matches(pattern: str) -> list[str] | None:
    """The sensitive actions a wildcard pattern matches today; None when it matches no known action
    (then it can only reach actions added later)."""
    matched = expand(pattern)
    return [m for m in matched if sensitive(m)] if matched else None


@cache
def wildcard_only(action: str) -> bool:
    """True for the few actions without resource-level permissions (they take only `Resource: "*"`)."""
    from policy_sentry.querying.actions import get_actions_that_support_wildcard_arns_only

    service = action.partition(":")[0].lower()
    return action.lower() in {a.lower() for a in get_actions_that_support_wildcard_arns_only(service)}


# --- documents ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    public: bool  # "*" as the principal, or as one of its values
    aws: tuple[str, ...] = ()
    service: tuple[str, ...] = ()
    federated: tuple[str, ...] = ()
    unknown: bool = False  # some value is unknown at preview

    def non_root(self) -> list[str]:
        """Every principal but account roots, as printable names."""
        return (["*"] if self.public else []) + [p for p in self.aws if p != "*" and not ROOT.fullmatch(p)] + list(self.service + self.federated)


@dataclass(frozen=True)
class Condition:
    operator: str  # lower-case, without ForAnyValue:/ForAllValues: and IfExists: "stringequals"
    qualifier: str  # "", "foranyvalue" or "forallvalues"
    if_exists: bool
    key: str  # lower-case
    values: tuple[str, ...]
    unknown: bool  # some value is unknown at preview

    @property
    def narrows(self) -> bool:
        """Passes only when the key is present with a listed value (IfExists and ForAllValues pass on absence)."""
        return self.operator in NARROWING_OPERATORS and not self.if_exists and self.qualifier != "forallvalues"

    @property
    def pattern(self) -> bool:
        """A *Like operator with a wildcard value: it admits more than the listed values."""
        return self.operator.endswith("like") and any(has_wildcard(v) for v in self.values)


@dataclass(frozen=True)
class Statement:
    index: int
    allow: bool | None  # None when Effect is unknown at preview
    actions: tuple[str, ...]  # Action, or NotAction when not_action
    not_action: bool
    resources: tuple[str, ...]  # Resource, or NotResource when not_resource
    not_resource: bool
    principal: Principal | None  # None when the statement names no principal
    not_principal: bool
    conditions: tuple[Condition, ...]
    unknown: frozenset[str]  # elements unknown at preview: "action", "resource", "principal", "condition"

    def __str__(self) -> str:
        return f"statement {self.index}"

    def covers(self, action: str) -> bool:
        """Whether the statement's Action (NotAction) set includes `action`, from its known entries."""
        return any(matches(p, action) for p in self.actions) != self.not_action

    def narrowed_by(self, keys: Iterable[str]) -> list[Condition]:
        keys = {k.lower() for k in keys}
        return [c for c in self.conditions if c.key in keys and c.narrows]

    @property
    def public(self) -> bool:
        """Allows anyone: `*` as a principal, or NotPrincipal (everyone but the listed)."""
        return self.not_principal or bool(self.principal and self.principal.public)

    @property
    def identity_bound(self) -> bool:
        """A condition ties the request to known accounts, organisations, ARNs or networks."""
        return any(c.unknown or any(not _open(v) for v in c.values) for c in self.narrowed_by(IDENTITY_KEYS))


def _open(value: str) -> bool:
    """A condition value that admits any account: `*`, or an ARN whose account field is a wildcard."""
    parts = value.split(":")
    return only_wildcards(value) or (len(parts) > 4 and parts[0] == "arn" and (not parts[4] or has_wildcard(parts[4])))


@dataclass(frozen=True)
class Document:
    statements: tuple[Statement, ...] = ()
    problems: tuple[str, ...] = ()  # why (parts of) the document cannot be read; never quotes it
    unknown: tuple[str, ...] = ()  # parts unknown at preview: "" (all of it), "Statement", "statement 2"


class _Values(NamedTuple):
    values: tuple[str, ...]
    unknown: bool
    malformed: bool


def _values(value: Any) -> _Values:
    """A string-or-list element. Booleans and numbers (condition values) become their JSON spelling."""
    if is_unknown(value):
        return _Values((), True, False)
    items = value if isinstance(value, (list, tuple)) else [value]
    known, unknown, malformed = [], False, not items
    for item in items:
        if is_unknown(item):
            unknown = True
        elif isinstance(item, bool):
            known.append("true" if item else "false")
        elif isinstance(item, (str, int, float)):
            known.append(str(item))
        else:
            malformed = True
    return _Values(tuple(known), unknown, malformed)


def _principal(value: Any) -> tuple[Principal, bool]:
    """(principal, malformed)."""
    if is_unknown(value):
        return Principal(False, unknown=True), False
    if value == "*":
        return Principal(True), False
    if not isinstance(value, Mapping):
        return Principal(False), True
    kinds = {"aws": [], "service": [], "federated": [], "canonicaluser": []}
    unknown = malformed = False
    for kind, raw in value.items():
        parsed = _values(raw)
        if not isinstance(kind, str) or kind.lower() not in kinds or parsed.malformed:
            malformed = True
            continue
        kinds[kind.lower()] += parsed.values
        unknown |= parsed.unknown
    public = any("*" in v for v in kinds.values())
    return Principal(public, tuple(kinds["aws"]), tuple(kinds["service"]), tuple(kinds["federated"]), unknown), malformed


def _conditions(value: Any) -> tuple[list[Condition], bool, bool]:
    """(conditions, unknown, malformed)."""
    if is_unknown(value):
        return [], True, False
    if not isinstance(value, Mapping):
        return [], False, True
    out, unknown, malformed = [], False, False
    for operator, block in value.items():
        if is_unknown(block):
            unknown = True
            continue
        if not isinstance(operator, str) or not isinstance(block, Mapping):
            malformed = True
            continue
        qualifier, _, base = operator.lower().rpartition(":")
        if_exists = base.endswith("ifexists")
        for key, raw in block.items():
            parsed = _values(raw)
            malformed |= parsed.malformed or not isinstance(key, str)
            unknown |= parsed.unknown
            out.append(Condition(base.removesuffix("ifexists"), qualifier, if_exists, str(key).lower(), parsed.values, parsed.unknown))
    return out, unknown, malformed


def _statement(index: int, raw: Mapping, problems: list[str]) -> Statement:
    where = f"statement {index}"
    effect = element(raw, "Effect")
    if not is_unknown(effect) and not (isinstance(effect, str) and effect.lower() in ("allow", "deny")):
        problems.append(f"{where} has no Effect Allow or Deny")
    unknown: set[str] = set()

    def pair(name: str, negated: str, what: str, required: bool) -> tuple[tuple[str, ...], bool]:
        plain, other = element(raw, name), element(raw, negated)
        if plain is not None and other is not None:
            problems.append(f"{where} has both {name} and {negated}")
        if plain is None and other is None:
            if required:
                problems.append(f"{where} has neither {name} nor {negated}")
            return (), False
        parsed = _values(plain if plain is not None else other)
        if parsed.malformed:
            problems.append(f"{where}: {name if plain is not None else negated} is not a string or a list of strings")
        if parsed.unknown:
            unknown.add(what)
        return parsed.values, plain is None

    actions, not_action = pair("Action", "NotAction", "action", True)
    if any(not ACTION_SYNTAX.fullmatch(a) for a in actions):
        problems.append(f"{where} has an action that is not of the form service:Action")
        actions = tuple(a for a in actions if ACTION_SYNTAX.fullmatch(a))
    resources, not_resource = pair("Resource", "NotResource", "resource", False)
    principal, not_principal = None, element(raw, "Principal") is None and element(raw, "NotPrincipal") is not None
    raw_principal = element(raw, "NotPrincipal" if not_principal else "Principal")
    if raw_principal is not None:
        principal, malformed = _principal(raw_principal)
        if malformed:
            name = "NotPrincipal" if not_principal else "Principal"
            problems.append(f'{where} has a {name} that is neither "*" nor a map of AWS/Service/Federated/CanonicalUser')
        if principal.unknown:
            unknown.add("principal")
    conditions, conditions_unknown, malformed = [], False, False
    if (raw_conditions := element(raw, "Condition")) is not None:
        conditions, conditions_unknown, malformed = _conditions(raw_conditions)
    if malformed:
        problems.append(f"{where} has a Condition that is not a map of operators to maps of keys to values")
    if conditions_unknown:
        unknown.add("condition")
    allow = None if is_unknown(effect) else isinstance(effect, str) and effect.lower() == "allow"
    return Statement(index, allow, actions, not_action, resources, not_resource, principal, not_principal,
                     tuple(conditions), frozenset(unknown))


def parse(document: Any) -> Document:
    if is_unknown(document):
        return Document(unknown=("",))  # the whole document
    if document is None or document == "":
        return Document(problems=("the document is missing",))
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except (ValueError, RecursionError):
            return Document(problems=("the document is not valid JSON",))
    if not isinstance(document, Mapping):
        return Document(problems=("the document is not a JSON object",))
    if not document:
        return Document()  # `{}`: no policy (how a Secret's inline policy is removed)
    raw = element(document, "Statement")
    if is_unknown(raw):
        return Document(unknown=("Statement",))
    if isinstance(raw, Mapping):
        raw = [raw]  # a single statement may stand alone
    if not isinstance(raw, list):
        return Document(problems=("the document has no Statement list",))
    statements, problems, unknown = [], [], []
    for index, item in enumerate(raw):
        if is_unknown(item):
            unknown.append(f"statement {index}")
        elif not isinstance(item, Mapping):
            problems.append(f"statement {index} is not an object")
        else:
            statements.append(_statement(index, item, problems))
    return Document(tuple(statements), tuple(problems), tuple(unknown))
