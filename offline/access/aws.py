"""AWS: who can read, write or administer each Secrets Manager secret, effectively.

A secret's value is reached only if the caller may call Secrets Manager on it (an identity policy, or
the secret's resource policy, and no explicit Deny) AND may use its KMS key through Secrets Manager for
that secret. KMS allows a call when the key policy allows the caller itself, or allows the account
root (delegating to IAM) and an identity policy allows it too; in both cases the statement's conditions
(kms:ViaService, the SecretARN encryption context, ...) must hold for this secret. A secret without a
customer key uses `aws/secretsmanager`, which any principal of the account may use through Secrets
Manager. Deleting a secret or changing its resource policy or rotation (admin) involves no key.

Lookups go by exact ARN, and wildcards by their literal prefix over the sorted ARNs, so the cost grows
with the grants, not with grants x secrets.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass
from collections.abc import Callable, Mapping
from typing import Any

from documents.iam import Document, Statement, parse
from documents.props import entries, is_unknown
from offline.access.aws_kms import KeyAccess
from offline.access.aws_model import (
    ALIAS, ANY_SERVICE_ACCOUNT, ATTACHMENTS, AWS_MANAGED, EXCLUSIVE_ATTACHMENTS, INLINE, KEY, KEY_GRANT, KEY_POLICY, MANAGED, MANAGED_KEY_ALIAS, OPERATIONS,
    OUTSIDE, POLICY, POLICY_ATTACHMENT, PROVIDER, REPLICA_KEY, ROLE, SECRET, SECRET_POLICY, UNKNOWN_KEY, USER, WEB_IDENTITY,
    Identity, Key, KeyGrant, Location, Operation, TrustSubject, arn_matches, effect, names_principal, tags_of,
)
from offline.access.conditions import Evaluator, Request, negate
from offline.access.model import (
    BLOCKED, EFFECTIVE, READ, UNCLASSIFIED, UNKNOWN, Grant, Graph, Resource, Secret, best, glob_regex, has_glob, known_str,
    literal_prefix, value, worst,
)


@dataclass(frozen=True)
class _Allow:
    label: str
    statement: Statement
    scope: tuple[Location, ...] | None  # a resource policy's secret; None: the statement's Resource says
    status: str = EFFECTIVE


class AwsEstate:
    def __init__(self, resources: list[Resource]):
        self.evaluator = Evaluator()
        self.notes: list[str] = []
        self.oidc_issuers: set[str] = set()  # issuers (without https://) whose service account tokens roles trust
        by_type: dict[str, list[Resource]] = {}
        for r in resources:
            by_type.setdefault(r.type, []).append(r)
        self.providers = {r.urn: r for r in by_type.get(PROVIDER, [])}
        self.keys = self._keys(by_type)
        self.secrets: dict[str, Secret] = {}
        self.locations: list[Location] = []
        for r in by_type.get(SECRET, []):
            self._add_secret(r)
        self.by_arn = {loc.arn: loc for loc in self.locations if loc.arn}
        self.sorted_arns = sorted(self.by_arn)
        self.partial = [loc for loc in self.locations if loc.arn is None]
        self.by_name: dict[str, list[Location]] = {}
        for loc in self.locations:
            self.by_name.setdefault(loc.name, []).append(loc)
        self.identities: dict[str, Identity] = {}
        self.identity_by_arn: dict[str, Identity] = {}
        self._add_identities(by_type)
        self.secret_policies = [self._secret_policy(r) for r in by_type.get(SECRET_POLICY, [])]
        self.secret_policy_denies: dict[str, list[tuple[str, Statement]]] = {}
        for label, locations, doc in self.secret_policies:
            for secret in {loc.secret for loc in locations}:
                self.secret_policy_denies.setdefault(secret, []).extend((label, st) for st in doc.statements if st.allow is not True)
        self.kms = KeyAccess(self.evaluator)

    # --- inventory -------------------------------------------------------------------------

    def _region_account(self, r: Resource) -> tuple[str | None, str | None]:
        """From the resource's own region, else its provider's region and allowed account."""
        # A provider reference is `<provider urn>::<provider id>`; a URN alone has three `::`.
        provider = self.providers.get(r.provider.rsplit("::", 1)[0] if r.provider.count("::") > 3 else r.provider)
        region = known_str(r.props.get("region")) or (known_str(provider.props.get("region")) if provider else None)
        allowed = provider.props.get("allowedAccountIds") if provider else None
        if isinstance(allowed, str) and not is_unknown(allowed):
            try:
                allowed = json.loads(allowed)  # provider config reaches the engine JSON-encoded
            except ValueError:
                allowed = [allowed]
        return region, next((a for a in entries(allowed) if known_str(a)), None)

    def _keys(self, by_type: dict[str, list[Resource]]) -> dict[str, Key]:
        """Every way a secret may name a key (ARN, key id, alias name or alias ARN) -> the key."""
        aliases: dict[str, list[str]] = {}
        for alias in by_type.get(ALIAS, []):
            target, name = known_str(value(alias, "targetKeyId")), known_str(alias.props.get("name"))
            if target and name:
                aliases.setdefault(target, []).append(name)
        replaced = {known_str(p.props.get("keyId")): p.props.get("policy") for p in by_type.get(KEY_POLICY, [])}
        grants: dict[str | None, list[KeyGrant]] = {}
        for g in by_type.get(KEY_GRANT, []):
            constraints = [c for c in entries(g.props.get("constraints")) if isinstance(c, Mapping)]
            context = {k: v for c in constraints for k, v in ({**(c.get("encryptionContextEquals") or {}), **(c.get("encryptionContextSubset") or {})}).items()}
            operations = g.props.get("operations")
            grants.setdefault(known_str(g.props.get("keyId")), []).append(KeyGrant(
                f"KMS grant {g.name}", known_str(g.props.get("granteePrincipal")),
                frozenset(str(o).lower() for o in entries(operations)) if not is_unknown(operations) else frozenset({"*"}),
                context if constraints else None))
        if None in grants:
            self.notes.append("a KMS grant's key is unknown at preview; it is not evaluated")
        index: dict[str, Key] = {}
        for r in (*by_type.get(KEY, []), *by_type.get(REPLICA_KEY, [])):
            arn, key_id = known_str(r.outputs.get("arn")), known_str(r.outputs.get("keyId"))
            names = aliases.get(key_id or "", []) + aliases.get(arn or "", [])
            policy = next((replaced[k] for k in (key_id, arn) if k and k in replaced), r.props.get("policy"))
            account = arn.split(":")[4] if arn else self._region_account(r)[1]
            # No policy at all: AWS's default, which lets the account's IAM decide everything.
            document = parse(policy) if policy is not None else parse(_default_key_policy(account)) if account else Document(unknown=("",))
            key = Key(names[0] if names else r.name, arn, document, tags_of(r),
                      tuple(g for ref in {key_id, arn} if ref for g in grants.get(ref, [])))
            arn_base = arn.rsplit(":", 1)[0] if arn else None
            for ref in (arn, key_id, *names, *(f"{arn_base}:{n}" for n in names if arn_base)):
                if ref:
                    index[ref] = key
        return index

    def _key_of(self, reference: Any) -> Key | str:
        if reference is None or reference == "" or reference == MANAGED_KEY_ALIAS:
            return MANAGED
        if not known_str(reference):
            return UNKNOWN_KEY
        return self.keys.get(reference, reference)

    def _add_secret(self, r: Resource) -> None:
        region, account = self._region_account(r)
        arn = known_str(r.outputs.get("arn"))
        if arn:
            region, account = arn.split(":")[3], arn.split(":")[4]
        name = known_str(r.props.get("name")) or (arn.split(":secret:", 1)[1][:-7] if arn else f"{r.name} (name unknown at preview)")
        tags = tags_of(r)
        secret = Secret(f"aws:{name}", "aws", name, known_str((tags or {}).get("classification")) or UNCLASSIFIED,
                        location=arn or f"arn:aws:secretsmanager:{region or '?'}:{account or '?'}:secret:{name}-??????")
        self.secrets[secret.id] = secret
        self.locations.append(Location(secret.id, name, region, account, arn, self._key_of(r.props.get("kmsKeyId")), tags))
        for replica in entries(r.props.get("replicas")):
            replica = replica if isinstance(replica, Mapping) else {}
            replica_region = known_str(replica.get("region"))
            replica_arn = arn.replace(f":{region}:", f":{replica_region}:", 1) if arn and replica_region else None
            self.locations.append(Location(secret.id, name, replica_region, account, replica_arn,
                                           self._key_of(replica.get("kmsKeyId")), tags, primary=False))

    def external_secret(self, reference: str) -> Location:
        """A secret a grant or an ExternalSecret names that the plan does not create: its key is not known."""
        arn = reference if reference.startswith("arn:") else None
        name = reference.split(":secret:", 1)[1] if arn and ":secret:" in reference else reference
        if arn and len(name) > 7 and name[-7] == "-":
            name = name[:-7]
        secret = Secret(f"aws:{name}", "aws", name, UNCLASSIFIED, location=reference)
        self.secrets.setdefault(secret.id, secret)
        parts = arn.split(":") if arn else []
        loc = Location(secret.id, name, parts[3] if arn else None, parts[4] if arn else None, arn, OUTSIDE, None)
        self.locations.append(loc)
        self.by_name.setdefault(name, []).append(loc)
        if arn:
            self.by_arn[arn] = loc
            bisect.insort(self.sorted_arns, arn)
        else:
            self.partial.append(loc)
        return loc

    def lookup(self, reference: str) -> list[Location]:
        """An ExternalSecret's remote key: a secret name or ARN."""
        if reference in self.by_arn:
            return [self.by_arn[reference]]
        return self.by_name.get(reference) or [self.external_secret(reference)]

    def _add_identities(self, by_type: dict[str, list[Resource]]) -> None:
        policies = {arn: p for p in by_type.get(POLICY, []) if (arn := known_str(p.outputs.get("arn")))}
        for kind, type_ in (("iam-role", ROLE), ("iam-user", USER)):
            for r in by_type.get(type_, []):
                _, account = self._region_account(r)
                name = known_str(r.props.get("name")) or known_str(r.outputs.get("name")) or r.name
                arn = known_str(r.outputs.get("arn"))
                if arn:
                    account = arn.split(":")[4]
                elif account and known_str(r.props.get("name")):
                    arn = f"arn:aws:iam::{account}:{kind.removeprefix('iam-')}{known_str(r.props.get('path')) or '/'}{name}"
                identity = Identity(f"{kind}:{name}", kind, name, arn, account, tags_of(r))
                if kind == "iam-role":
                    identity.trust = parse(r.props.get("assumeRolePolicy"))
                self.identities[identity.id] = identity
                if arn:
                    self.identity_by_arn[arn] = identity
                for inline in entries(r.props.get("inlinePolicies")):
                    if isinstance(inline, Mapping) and inline.get("policy") is not None:
                        identity.documents.append((f"inline policy {inline.get('name') or '?'} of role {name}", parse(inline.get("policy"))))
                for policy_arn in entries(r.props.get("managedPolicyArns")):
                    identity.documents.append(self._managed(policy_arn, policies))
        for type_, (kind, field_) in INLINE.items():
            for r in by_type.get(type_, []):
                label = f"{type_.rsplit(':', 1)[1]} {r.name}"
                self._identity(kind, r.props.get(field_), label).documents.append((label, parse(r.props.get("policy"))))
        for type_, (kind, field_) in ATTACHMENTS.items():
            for r in by_type.get(type_, []):
                label = f"{type_.rsplit(':', 1)[1]} {r.name}"
                self._identity(kind, r.props.get(field_), label).documents.append(self._managed(r.props.get("policyArn"), policies))
        for type_, (kind, field_) in EXCLUSIVE_ATTACHMENTS.items():
            for r in by_type.get(type_, []):
                label = f"{type_.rsplit(':', 1)[1]} {r.name}"
                for arn in entries(r.props.get("policyArns")):
                    self._identity(kind, r.props.get(field_), label).documents.append(self._managed(arn, policies))
        for r in by_type.get(POLICY_ATTACHMENT, []):
            for kind, field_ in (("iam-role", "roles"), ("iam-user", "users")):
                for target in entries(r.props.get(field_)):
                    self._identity(kind, target, f"PolicyAttachment {r.name}").documents.append(self._managed(r.props.get("policyArn"), policies))

    def _identity(self, kind: str, reference: Any, where: str) -> Identity:
        """The role or user a policy attaches to (name or ARN); one outside the plan gets a row of its own."""
        ref = known_str(reference)
        if ref is None:
            key = f"{kind}:? ({where})"
            return self.identities.setdefault(key, Identity(key, kind, f"(unknown at preview: {where})", None, None, None))
        if ref in self.identity_by_arn:
            return self.identity_by_arn[ref]
        name = ref.rsplit("/", 1)[-1] if ref.startswith("arn:") else ref
        found = self.identities.get(f"{kind}:{name}")
        if found is None:
            arn = ref if ref.startswith("arn:") else None
            found = self.identities[f"{kind}:{name}"] = Identity(f"{kind}:{name}", kind, name, arn, arn.split(":")[4] if arn else None, None)
            self.notes.append(f"{where} attaches to {kind.removeprefix('iam-')} {name}, which is not in the plan")
        return found

    @staticmethod
    def _managed(policy_arn: Any, policies: dict[str, Resource]) -> tuple[str, Document]:
        arn = known_str(policy_arn)
        if arn is None:
            return "a managed policy unknown at preview", Document(unknown=("",))
        if arn.startswith("arn:aws:iam::aws:policy/"):
            name = arn.removeprefix("arn:aws:iam::aws:policy/")
            document = AWS_MANAGED.get(name)
            return f"AWS managed policy {name}", parse(document) if document is not None else Document(unknown=("",))
        if arn in policies:
            return f"Policy {policies[arn].name}", parse(policies[arn].props.get("policy"))
        return f"policy {arn} (not in the plan)", Document(unknown=("",))

    def _secret_policy(self, r: Resource) -> tuple[str, tuple[Location, ...], Document]:
        arn = known_str(r.props.get("secretArn"))
        target = self.by_arn.get(arn or "")
        if target is None:
            self.notes.append(f"SecretPolicy {r.name}: the secret it applies to is " + ("unknown at preview" if arn is None else f"not in the plan ({arn})"))
        locations = tuple(loc for loc in self.locations if target is not None and loc.secret == target.secret)
        return f"SecretPolicy {r.name}", locations, parse(r.props.get("policy"))

    # --- who may assume each role ----------------------------------------------------------

    def trust_subjects(self, graph: Graph) -> list[TrustSubject]:
        subjects: list[TrustSubject] = []
        for identity in list(self.identities.values()):
            doc = identity.trust
            if doc is None:
                continue
            hop = f"assumes IAM role {identity.name}"
            if doc.unknown:
                subjects.append(TrustSubject(identity.id, hop, UNKNOWN, aws=graph.principal("?", "unknown", "(unknown at preview)"),
                                             reason=f"the trust policy of {identity.name} is unknown at preview"))
            for s in doc.statements:
                if s.allow is False or s.principal is None:
                    continue
                hop = f"assumes IAM role {identity.name} (trust statement {s.index})"
                if s.principal.unknown:
                    subjects.append(TrustSubject(identity.id, hop, UNKNOWN, aws=graph.principal("?", "unknown", "(unknown at preview)"),
                                                 reason=f"trust statement {s.index}: a principal is unknown at preview"))
                for provider in s.principal.federated:
                    if "oidc-provider/" in provider and (s.covers(WEB_IDENTITY) or "action" in s.unknown):
                        subjects += self._service_accounts(identity, s, provider.split("oidc-provider/", 1)[1].lower(), hop)
                references = list(s.principal.aws) + (["*"] if s.principal.public else [])
                for reference in references:
                    holds, key = self.evaluator.all_hold(s.conditions, Request({}))
                    status = worst(effect(s), EFFECTIVE if holds and reference != "*" else UNKNOWN)
                    reason = f"trust statement {s.index}: " + ("Principal *; its conditions decide" if reference == "*" else f"condition {key} is not decided offline")
                    subjects.append(TrustSubject(identity.id, hop, status, aws=self.principal_of(graph, reference),
                                                 reason="" if status == EFFECTIVE else reason))
        return subjects

    def _service_accounts(self, identity: Identity, s: Statement, issuer: str, hop: str) -> list[TrustSubject]:
        """IRSA: the `<issuer>:sub` condition names the service accounts (`system:serviceaccount:<ns>:<name>`)."""
        self.oidc_issuers.add(issuer)
        subs = [c for c in s.conditions if c.key == f"{issuer}:sub"]
        others = [c.key for c in s.conditions if c.key != f"{issuer}:sub" and not c.key.endswith(":aud")]
        status = worst(effect(s), UNKNOWN if others or any(c.unknown for c in subs) else EFFECTIVE)
        reason = f"trust statement {s.index}: condition {others[0]} is not decided offline" if others else ""
        patterns: list[str] = []
        for c in subs:
            if c.operator == "stringequals":
                patterns += [v for v in c.values if "*" not in v and "?" not in v]
            elif c.operator == "stringlike":
                patterns += c.values
            else:
                patterns.append("*")
                status, reason = UNKNOWN, f"trust statement {s.index}: {c.operator} on sub is not decided offline"
        if not subs:
            patterns = ["*"]  # no sub condition: any service account of the cluster (any subject of the issuer)
        out = []
        for p in patterns:
            if p.startswith("system:serviceaccount:") and p.count(":") == 3:
                namespace, account = p.split(":")[2:]
            elif glob_regex(p).match(f"system:serviceaccount:{chr(0)}:{chr(0)}"):
                namespace, account = ANY_SERVICE_ACCOUNT
            else:
                continue  # a subject that is no service account
            out.append(TrustSubject(identity.id, hop, status, service_account=(namespace, account), reason=reason))
        return out

    def principal_of(self, graph: Graph, reference: str) -> str:
        """An AWS principal a policy names: an identity of the plan, an account, anyone, or an outside ARN."""
        found = self.identity_by_arn.get(reference)
        if found is not None:
            return found.id
        if reference == "*":
            return graph.principal("aws:*", "aws-principal", "any AWS principal")
        parts = reference.split(":")
        if reference.isdigit() or (len(parts) == 6 and parts[5] == "root"):
            account = reference if reference.isdigit() else parts[4]
            return graph.principal(f"aws:{account}", "aws-principal", f"any principal of account {account}", "its IAM policies decide")
        return graph.principal(f"aws:{reference}", "aws-principal", reference, "not in the plan")

    # --- grants ----------------------------------------------------------------------------

    def add_to(self, graph: Graph) -> None:
        for secret in self.secrets.values():
            graph.secret(secret)
        resource_allows = self._resource_policy_allows(graph)
        for identity in list(self.identities.values()):
            graph.principal(identity.id, identity.kind, identity.label, self._trust_detail(identity))
            for label, doc in identity.documents:
                if doc.unknown:
                    graph.unknown(identity.id, READ, (label,), f"{label}: {', '.join(u or 'the document' for u in doc.unknown)} unknown at preview")
                if doc.problems:
                    graph.note(f"{label}: {'; '.join(doc.problems)}")
            allows = [_Allow(label, s, None) for label, s in identity.allows] + resource_allows.get(identity.id, [])
            self._grants(graph, identity, allows)
        graph.notes.extend(self.notes)

    @staticmethod
    def _trust_detail(identity: Identity) -> str:
        if identity.trust is None:
            return ""
        services = sorted({svc for s in identity.trust.statements if s.principal and s.allow is not False for svc in s.principal.service})
        return f"assumed by {', '.join(services)}" if services else ""

    def _resource_policy_allows(self, graph: Graph) -> dict[str, list[_Allow]]:
        """Statements of secret resource policies, per principal they name. Within the secret's account a
        resource policy grants on its own; another account's principal also needs its own IAM (unknown here)."""
        out: dict[str, list[_Allow]] = {}
        for label, locations, doc in self.secret_policies:
            account = next((loc.account for loc in locations if loc.account), None)
            for s in doc.statements:
                if s.allow is False or s.principal is None or s.not_principal:
                    continue
                for reference in [*s.principal.aws, *(["*"] if s.principal.public else [])]:
                    principal = self.principal_of(graph, reference)
                    if principal == f"aws:{account}":
                        continue  # the account itself: its IAM policies decide, evaluated per identity
                    identity = self.identities.get(principal)
                    if identity is None:
                        foreign = reference.split(":")[4] if reference.count(":") >= 5 else None
                        identity = self.identities[principal] = Identity(principal, "aws-principal", graph.principals[principal].label,
                                                                         reference if reference.startswith("arn:") else None, foreign, None)
                    same = identity.account is not None and identity.account == account
                    out.setdefault(principal, []).append(_Allow(label, s, locations, EFFECTIVE if same else UNKNOWN))
        return out

    def _targets(self, s: Statement) -> tuple[list[tuple[Location, bool | None]], list[str]]:
        """The secret copies a statement's Resource (NotResource) names, and its wildcard patterns."""
        if s.not_resource:
            return [(loc, m) for loc in self.locations if (m := negate(loc.matches(s.resources))) is not False], []
        found: dict[int, tuple[Location, bool | None]] = {}
        patterns = []

        def add(loc: Location, match: bool | None) -> None:
            if match is not False and found.get(id(loc), (None, None))[1] is not True:
                found[id(loc)] = (loc, match)

        for pattern in s.resources:
            if not has_glob(pattern):
                loc = self.by_arn.get(pattern)
                if loc is None and ":secretsmanager:" in pattern and ":secret:" in pattern:
                    name = pattern.split(":secret:", 1)[1]
                    pending = [c for n in (name, name[:-7]) for c in self.by_name.get(n, []) if c.arn is None]
                    for c in pending:
                        add(c, arn_matches(pattern, c))
                    loc = None if pending else self.external_secret(pattern)
                if loc is not None:
                    add(loc, True)
                continue
            service = pattern.split(":")[2] if pattern.count(":") >= 2 else pattern
            if glob_regex(service).match("secretsmanager") or pattern == "*":
                patterns.append(pattern)
            prefix, regex = literal_prefix(pattern), glob_regex(pattern)
            for arn in self.sorted_arns[bisect.bisect_left(self.sorted_arns, prefix):]:
                if not arn.startswith(prefix):
                    break
                if regex.match(arn):
                    add(self.by_arn[arn], True)
            for loc in self.partial:
                add(loc, arn_matches(pattern, loc))
        return list(found.values()), patterns

    def _grants(self, graph: Graph, identity: Identity, allows: list[_Allow]) -> None:
        # per secret copy, per operation: (status, hop, reason) of the best statement allowing it
        allowed: dict[int, tuple[Location, dict[Operation, tuple[str, str, str]]]] = {}
        for allow in allows:
            s = allow.statement
            operations = _operations(s)
            if not operations:
                continue
            hop = f"{allow.label} statement {s.index}"
            base = worst(allow.status, effect(s), UNKNOWN if "action" in s.unknown else EFFECTIVE)
            if allow.scope is None:
                if "resource" in s.unknown:
                    graph.unknown(identity.id, operations[0].capability, (hop,), "a Resource is unknown at preview")
                targets, patterns = self._targets(s)
                for pattern in patterns:
                    self._pattern_grant(graph, identity, s, pattern, operations, hop, base)
            else:
                targets = [(loc, True) for loc in allow.scope]
            for loc, match in targets:
                holds, key = self.evaluator.all_hold(s.conditions, self._secret_request(identity, loc))
                if holds is False:
                    continue
                status = worst(base, EFFECTIVE if match and holds else UNKNOWN)
                reason = "" if status == EFFECTIVE else (
                    f"condition {key} is not decided offline" if holds is None else
                    "the secret's ARN is not known at preview" if match is None else "the statement is unknown at preview")
                ops = allowed.setdefault(id(loc), (loc, {}))[1]
                for op in operations:
                    if op not in ops or best(ops[op][0], status) != ops[op][0]:
                        ops[op] = (status, f"{hop}: {op.action}", reason)

        for loc, ops in allowed.values():
            by_capability: dict[str, Grant] = {}
            for op, (status, hop, reason) in ops.items():
                status, reason = self._after_denies(identity, loc, op, status, reason)
                if status is None:
                    continue
                chain = (hop,)
                if op.key_action is not None:
                    key_status, key_hop, key_reason = self.kms.allows(identity, loc, op.key_action)
                    chain += (key_hop,)
                    status, reason = (BLOCKED, key_reason) if key_status is None else (worst(status, key_status), reason or key_reason)
                grant = Grant(loc.secret, op.capability, status, (*chain, loc.label), reason)
                previous = by_capability.get(op.capability)
                if previous is None or best(previous.status, status) != previous.status:
                    by_capability[op.capability] = grant
            for grant in by_capability.values():
                graph.grant(identity.id, grant)

    def _secret_request(self, identity: Identity, loc: Location) -> Request:
        return identity.request({"secretsmanager:secretid": [loc.arn] if loc.arn else [loc],
                                 "aws:requestedregion": [loc.region]}, loc.tags)

    def _pattern_grant(self, graph: Graph, identity: Identity, s: Statement, pattern: str, operations: list[Operation], hop: str, base: str) -> None:
        """A wildcard Resource also reaches secrets created later; for their values, their keys (not known now) decide."""
        name = pattern.split(":secret:", 1)[1] if ":secret:" in pattern else "*"
        secret = graph.secret(Secret(f"aws:{name}", "aws", name, UNCLASSIFIED, pattern=True, location=pattern))
        for capability in dict.fromkeys(op.capability for op in operations):
            needs_key = all(op.key_action for op in operations if op.capability == capability)
            status = worst(base, UNKNOWN if needs_key or s.conditions else EFFECTIVE)
            reason = "for secrets created later that match, their keys decide" if needs_key else "conditions decide"
            graph.grant(identity.id, Grant(secret, capability, status, (f"{hop}: {pattern}",), reason if status != EFFECTIVE else ""))

    def _after_denies(self, identity: Identity, loc: Location, op: Operation, status: str, reason: str) -> tuple[str | None, str]:
        """An explicit Deny in the identity's policies or the secret's resource policy wins over any Allow:
        None when one certainly applies, unknown when one may."""
        denies = list(identity.denies)
        denies += [(label, s) for label, s in self.secret_policy_denies.get(loc.secret, ()) if names_principal(s, identity) is not False]
        for label, s in denies:
            if not s.covers(op.action) and "action" not in s.unknown:
                continue
            match = True if not s.resources and not s.not_resource else (negate(loc.matches(s.resources)) if s.not_resource else loc.matches(s.resources))
            holds, _ = self.evaluator.all_hold(s.conditions, self._secret_request(identity, loc))
            if match is False or holds is False:
                continue
            if match and holds and s.allow is False and "action" not in s.unknown:
                return None, ""
            status, reason = worst(status, UNKNOWN), reason or f"{label} statement {s.index} may deny it"
        return status, reason

    def region_scope(self, region: str | None) -> Callable[[Secret], bool]:
        """What a store of `region` can fetch: the secrets with a copy there (or whose region is unknown)."""
        regions: dict[str, set[str | None]] = {}
        for loc in self.locations:
            regions.setdefault(loc.secret, set()).add(loc.region)

        def admits(secret: Secret) -> bool:
            if secret.backend == "unknown":
                return True
            if secret.backend != "aws":
                return False
            known = regions.get(secret.id)
            return region is None or known is None or region in known or None in known

        return admits


def _operations(s: Statement) -> list[Operation]:
    """The Secrets Manager operations a statement's actions cover (all of them when its Action is unknown)."""
    if "action" in s.unknown:
        return list(OPERATIONS)
    if not s.not_action and not any(glob_regex(a.split(":", 1)[0].lower()).match("secretsmanager") for a in s.actions):
        return []  # another service: skip the per-action matching
    return [op for op in OPERATIONS if s.covers(op.action)]


def _default_key_policy(account: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "kms:*", "Resource": "*"}]}
