"""Rule-side helpers over IAM policy documents (documents/iam.py): issues, findings located by statement,
and checks run over each document of a resource."""

from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

from documents.iam import Document, Statement
from policy.rules.base import Finding, Resource, Rule

class Issue(NamedTuple):
    """What a statement check found: a violation, or (undecided) what it could not decide."""

    message: str
    undecided: bool = False


def unknown_issue(what: str) -> Issue:
    return Issue(f"{what} is unknown at preview", undecided=True)


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
    at preview, then what `check` finds, located as `<label> statement <i>`."""

    def run(rule: Rule, resource: Resource) -> list[Finding]:
        out = []
        for label, doc in documents(resource):
            out += [rule.undecided(resource, f"{label} {what}".strip()) for what in doc.unknown]
            out += [finding(rule, resource, f"{label} {s}" if s else label, issue, s) for s, issue in check(doc)]
        return out

    return run


def per_statement(check: Callable[[Statement], Iterable[Issue]]) -> Check:
    """A check of each statement that may allow (Effect Allow, or unknown at preview)."""
    return lambda doc: ((s, issue) for s in doc.statements if s.allow is not False for issue in check(s))


def list_some(items: Iterable[str], limit: int = 4) -> str:
    items = list(dict.fromkeys(items))
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
