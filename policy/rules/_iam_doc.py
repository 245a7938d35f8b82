"""Rule-side helpers over IAM policy documents (documents/iam.py): issues, findings located by statement,
and checks run over each document of a resource."""

from __future__ import annotations

from functools import wraps
from typing import Callable, Iterable, NamedTuple

from documents.iam import Document, Statement, matches
from policy.rules.base import Finding, Resource, Rule

class Issue(NamedTuple):
    """What a statement check found: a violation, or (undecided) what it could not decide."""

    message: str
    undecided: bool = False


def unknown_issue(what: str) -> Issue:
    return Issue(f"{what} is unknown at preview", undecided=True)


def unknown_element(s: Statement, element: str) -> list[Issue]:
    """An undecided issue when the statement's `element` (Action, Principal, Resource) is unknown at preview, else none."""
    return [unknown_issue(element)] if element.lower() in s.unknown else []


def public_principal(s: Statement, consequence: str) -> list[Issue]:
    """Principal '*' (or NotPrincipal) with no condition binding the caller to an account, organisation or ARN: an issue
    whose message is the element and `consequence`. Undecided when the principal, or a public one's conditions, are
    unknown at preview."""
    if s.public and not s.identity_bound:
        if "condition" in s.unknown:
            return [unknown_issue("Condition")]
        what = "NotPrincipal" if s.not_principal else "Principal '*'"
        return [Issue(f"{what} {consequence}")]
    return unknown_element(s, "Principal")


def finding(rule: Rule, resource: Resource, where: str, issue: Issue, statement: Statement | None = None) -> Finding:
    """A Finding at `where`. A violation in a statement whose Effect is unknown is undecided (it holds if the Effect is Allow)."""
    if issue.undecided:
        return rule.finding(resource, f"could not decide: {where}: {issue.message}", undecided=True)
    if statement is not None and statement.allow is None:
        return rule.finding(resource, f"could not decide: {where}: Effect is unknown at preview; if it is Allow: {issue.message}", undecided=True)
    return rule.finding(resource, f"{where}: {issue.message}")


Check = Callable[[Document], Iterable[tuple[Statement | None, Issue]]]


Documents = Callable[[Resource], list[tuple[str, Document]]]  # a resource's (label, document) pairs


def document_check(documents: Documents, check: Check) -> Callable[[Rule, Resource], list[Finding]]:
    """A rule's check over each (label, document) of a resource: undecided findings for the parts unknown
    at preview, then what `check` finds, located as `<label> statement <i>`. It keeps `check`'s docstring (a rule's
    description)."""

    @wraps(check)
    def run(rule: Rule, resource: Resource) -> list[Finding]:
        out = []
        for label, doc in documents(resource):
            out += [rule.undecided(resource, f"{label} {what}".strip()) for what in doc.unknown]
            out += [finding(rule, resource, f"{label} {s}" if s else label, issue, s) for s, issue in check(doc)]
        return out

    return run


def per_statement(check: Callable[[Statement], Iterable[Issue]]) -> Check:
    """A check of each statement that may allow (Effect Allow, or unknown at preview) and that no Deny of the same
    document cancels. It keeps `check`'s docstring."""

    @wraps(check)
    def run(doc: Document) -> Iterable[tuple[Statement | None, Issue]]:
        return ((s, issue) for s in doc.statements if s.allow is not False and not cancelled(doc, s) for issue in check(s))

    return run


def _covers_all(patterns: Iterable[str], targets: Iterable[str]) -> bool:
    """Every target (an action or ARN, possibly itself a glob) is matched by one of the patterns. A target glob
    is read literally, so a pattern covers it only when it covers everything the glob could name (`s3:*` covers
    `s3:Get*`, `s3:Get*` does not cover `s3:*`)."""
    patterns = list(patterns)
    return all(any(matches(p, t) for p in patterns) for t in targets)


def cancelled(doc: Document, s: Statement) -> bool:
    """An Allow that an unconditional Deny of the same document takes back whole: IAM's explicit deny wins for
    every action and resource of the Allow, so it grants nothing (its conditions do not matter)."""
    if s.not_action or s.not_resource or s.unknown or not s.actions or not s.resources:
        return False
    return any(d.allow is False and not d.conditions and not d.unknown and not d.not_action and not d.not_resource
               and (d.principal == s.principal or bool(d.principal and d.principal.public)) and _covers_all(d.actions, s.actions) and _covers_all(d.resources, s.resources)
               for d in doc.statements)


# AWS's own key-policy examples grant these crypto-only patterns (ReEncryptFrom/To, GenerateDataKey and its
# variants): https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-users
KEY_USE_PATTERNS = frozenset({"kms:reencrypt*", "kms:generatedatakey*"})


def aws_key_use_pattern(s: Statement, action: str) -> bool:
    """`kms:ReEncrypt*` or `kms:GenerateDataKey*` as AWS writes them, limited to a service by kms:ViaService: they match
    only encryption operations on the statement's keys, never key administration."""
    return action.lower() in KEY_USE_PATTERNS and bool(s.narrowed_by(["kms:ViaService"]))


def list_some(items: Iterable[str], limit: int = 4) -> str:
    items = list(dict.fromkeys(items))
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
