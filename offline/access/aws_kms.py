"""Whether KMS lets a caller use a secret's key for the call Secrets Manager makes on its behalf
(kms:Decrypt to read, kms:GenerateDataKey to write): the key policy naming the caller, or naming the
account and an identity policy allowing it too, or a KMS grant; conditions such as kms:ViaService and
the SecretARN encryption context must hold, and no Deny may apply."""

from __future__ import annotations

from documents.iam import Statement
from offline.access.aws_model import MANAGED, OUTSIDE, UNKNOWN_KEY, Identity, Key, Location, effect, names_principal
from offline.access.conditions import Evaluator, Request
from offline.access.model import EFFECTIVE, UNKNOWN, best, glob_regex, has_glob, worst


class KeyAccess:
    def __init__(self, evaluator: Evaluator):
        self.evaluator = evaluator
        # per key: the statements naming one ARN exactly (by ARN), and all others
        self._key_statements: dict[int, tuple[dict[str, list[Statement]], list[Statement]]] = {}

    def allows(self, identity: Identity, loc: Location, action: str) -> tuple[str | None, str, str]:
        """(status, or None when KMS refuses; the hop to show; why) for the call Secrets Manager makes."""
        key = loc.key
        if key == MANAGED:
            return EFFECTIVE, "key aws/secretsmanager (any principal of the account, through Secrets Manager)", ""
        if key == UNKNOWN_KEY:
            return UNKNOWN, "key (unknown at preview)", "the secret's KMS key is unknown at preview"
        if key == OUTSIDE:
            return UNKNOWN, "key (not in the plan)", "the secret is not in the plan: its key decides"
        if isinstance(key, str):
            return UNKNOWN, f"key {key}", f"key {key} is not in the plan: its policy decides"
        if key.document.unknown:
            return UNKNOWN, f"key {key.label}", f"the policy of key {key.label} is unknown at preview"
        request = identity.request({
            "kms:viaservice": [f"secretsmanager.{loc.region}.amazonaws.com" if loc.region else None],
            "kms:calleraccount": [identity.account],
            "kms:encryptioncontext:secretarn": [loc.arn or loc],
            "kms:encryptioncontextkeys": ["SecretARN", "SecretVersionId"],
        }, key.tags)
        direct: tuple[str, str] | None = None
        delegated: tuple[str, str] | None = None
        reason = ""
        for s in self._statements_naming(key, identity):
            if s.allow is False or not (s.covers(action) or "action" in s.unknown) or not self._on_key(s, key):
                continue
            names = names_principal(s, identity)
            if names is False:
                continue
            holds, undecided = self.evaluator.all_hold(s.conditions, request)
            if holds is False:
                continue
            status = worst(effect(s), EFFECTIVE if holds and names else UNKNOWN)
            if holds is None:
                reason = reason or f"key {key.label} statement {s.index}: condition {undecided} is not decided offline"
            if names == "root":
                if delegated is None or best(delegated[0], status) != delegated[0]:
                    delegated = (status, f"key {key.label}: statement {s.index} lets IAM decide")
            elif direct is None or best(direct[0], status) != direct[0]:
                direct = (status, f"key {key.label}: key policy statement {s.index} ({action})")
        if delegated is not None and (direct is None or direct[0] != EFFECTIVE):
            iam = self._identity_key_allows(identity, key, action, request)
            if iam is not None:
                through = (worst(delegated[0], iam[0]), f"{delegated[1]}; {iam[1]}")
                if direct is None or best(direct[0], through[0]) != direct[0]:
                    direct = through
        if direct is None or direct[0] != EFFECTIVE:
            granted = self._granted(identity, loc, key, action)
            if granted is not None and (direct is None or best(direct[0], granted[0]) != direct[0]):
                direct = granted
        if direct is None:
            return None, f"key {key.label}", f"key {key.label} does not let {identity.name} {action} for this secret"
        denied = self._key_denied(identity, key, action, request)
        if denied is True:
            return None, f"key {key.label}", f"a Deny (key {key.label} or the identity's policies) refuses {action}"
        status = direct[0] if denied is False else worst(direct[0], UNKNOWN)
        if denied is None:
            reason = reason or f"a Deny (key {key.label} or the identity's policies) may refuse {action}"
        return status, direct[1], reason if status != EFFECTIVE else ""

    @staticmethod
    def _granted(identity: Identity, loc: Location, key: Key, action: str) -> tuple[str, str] | None:
        """A KMS grant to the identity for the operation, its encryption-context constraint met by this secret."""
        found = None
        for g in key.grants:
            if not ({action.removeprefix("kms:").lower(), "*"} & g.operations):
                continue
            if g.grantee is not None and g.grantee != identity.arn:
                continue
            status = EFFECTIVE if g.grantee is not None and "*" not in g.operations else UNKNOWN
            if g.context is not None:
                wanted = {k.lower(): v for k, v in g.context.items()}
                if set(wanted) - {"secretarn", "secretversionid"} or ("secretarn" in wanted and loc.arn is not None and wanted["secretarn"] != loc.arn):
                    continue
                if "secretversionid" in wanted or (loc.arn is None and "secretarn" in wanted):
                    status = UNKNOWN
            if found is None or best(found[0], status) != found[0]:
                found = (status, f"key {key.label}: {g.label} ({action})")
        return found

    def _statements_naming(self, key: Key, identity: Identity) -> list[Statement]:
        """The key policy statements that may name the identity: those naming its ARN exactly (looked up,
        a key shared by many roles has a statement per role), and those naming anyone, an account, a
        pattern or a value unknown at preview."""
        index = self._key_statements.get(id(key))
        if index is None:
            exact: dict[str, list[Statement]] = {}
            general: list[Statement] = []
            for st in key.document.statements:
                p = st.principal
                named = [a for a in p.aws if a.startswith("arn:") and not has_glob(a) and not a.endswith(":root")] if p else []
                if p is not None and not st.not_principal and not p.public and not p.unknown and len(named) == len(p.aws):
                    for arn in named:
                        exact.setdefault(arn, []).append(st)
                elif p is not None or st.not_principal:
                    general.append(st)
            index = self._key_statements[id(key)] = (exact, general)
        exact, general = index
        return (exact.get(identity.arn, []) if identity.arn else []) + general

    @staticmethod
    def _on_key(s: Statement, key: Key) -> bool:
        return not s.resources or s.not_resource or any(r == "*" or (key.arn is not None and glob_regex(r).match(key.arn)) for r in s.resources)

    def _identity_key_allows(self, identity: Identity, key: Key, action: str, request: Request) -> tuple[str, str] | None:
        found = None
        for label, s in identity.allows:
            if not s.covers(action) or s.not_resource or not any(r == "*" or (key.arn and glob_regex(r).match(key.arn)) for r in s.resources):
                continue
            holds, _ = self.evaluator.all_hold(s.conditions, request)
            if holds is False:
                continue
            status = worst(effect(s), EFFECTIVE if holds else UNKNOWN)
            if found is None or best(found[0], status) != found[0]:
                found = (status, f"{label} statement {s.index} ({action})")
        return found

    def _key_denied(self, identity: Identity, key: Key, action: str, request: Request) -> bool | None:
        denies = [s for s in self._statements_naming(key, identity) if s.allow is not True and names_principal(s, identity) is not False]
        denies += [s for _, s in identity.denies]
        result: bool | None = False
        for s in denies:
            if (not s.covers(action) and "action" not in s.unknown) or not self._on_key(s, key):
                continue
            holds, _ = self.evaluator.all_hold(s.conditions, request)
            if holds is False:
                continue
            if holds and s.allow is False and "action" not in s.unknown:
                return True
            result = None
        return result
