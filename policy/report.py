"""A policy report as text (rich), JSON, SARIF 2.1.0 (GitHub code scanning) and Markdown (pull-request comment).

Everything printed comes from rule messages, URNs, types, names and the exceptions' own fields; no renderer reads
a resource's properties, so a secret input cannot reach any output.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from policy.engine import Report, Violation
from policy.rules.base import Rule, StackRule
from policy.settings import Enforcement

TOOL = "secrets-platform-policy"
VERSION = "0.1.0"  # as in PulumiPolicy.yaml
FORMATS = ("text", "json", "sarif", "markdown")
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# GitHub reads `security-severity` as CVSS-like: >= 9 critical, 7-8.9 high, 4-6.9 medium, below low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
MARKDOWN_ROWS = 100  # a pull-request comment holds 65536 characters


def summary(report: Report) -> str:
    c = report.counts
    verdict = "BLOCKED" if report.blocking else "passed"
    return (f"{verdict}: {c['mandatory']} mandatory, {c['advisory']} advisory violation(s) ({c['undecided']} undecided), "
            f"{c['suppressed']} suppressed by {c['exceptions']} exception(s); {c['resources']} resources, {c['rules']} rules, "
            f"stack environment {report.environment}")


def _undecided_note(v: Violation) -> str:
    return " (undecided: a value is unknown at preview)" if v.undecided else ""


# --- JSON ---------------------------------------------------------------------------------------------------

def _violation_dict(v: Violation) -> dict[str, Any]:
    return {
        "rule": v.rule_id, "ruleName": v.rule_name, "severity": v.severity.value, "urn": v.urn, "resourceType": v.resource_type,
        "resource": v.resource_name, "enforcement": v.enforcement.value, "message": v.message, "remediation": v.remediation,
        "undecided": v.undecided,
    }


def exception_dicts(report: Report) -> list[dict[str, Any]]:
    return [
        {"rule": u.exception.rule_id, "resource": u.exception.resource, "reason": u.exception.reason,
         "expires": u.exception.expires.isoformat() if u.exception.expires else None, "status": u.status,
         "suppressed": u.suppressed, "source": u.exception.where}
        for u in report.exceptions
    ]


def to_json(report: Report) -> dict[str, Any]:
    return {
        "blocking": report.blocking,
        "summary": report.counts,
        "environment": report.environment,
        "violations": [_violation_dict(v) for v in report.violations],
        "exceptions": exception_dicts(report),
        "suppressed": [_violation_dict(v) for v in report.suppressed],
        "notAssessed": [{"rule": rule_id, "reason": reason} for rule_id, reason in report.not_assessed],
    }


# --- SARIF --------------------------------------------------------------------------------------------------

def _sarif_result(v: Violation, index: int, artifact_uri: str) -> dict[str, Any]:
    fingerprint = hashlib.sha256(f"{v.rule_id}\0{v.urn}\0{v.message}".encode()).hexdigest()[:32]
    return {
        "ruleId": v.rule_id,
        "ruleIndex": index,
        "level": "error" if v.enforcement is Enforcement.MANDATORY else "warning",
        "message": {"text": f"{v.resource_name} ({v.resource_type or 'resource'}): {v.message}{_undecided_note(v)}. Fix: {v.remediation}"},
        "locations": [{
            "physicalLocation": {"artifactLocation": {"uri": artifact_uri}, "region": {"startLine": 1}},
            "logicalLocations": [{"name": v.resource_name, "fullyQualifiedName": v.urn, "kind": "resource"}],
        }],
        # Every result sits on line 1 of the stack file: without our own fingerprint GitHub would merge them.
        "partialFingerprints": {"primaryLocationLineHash": f"{fingerprint}:1"},
        "properties": {"enforcement": v.enforcement.value, "undecided": v.undecided, "urn": v.urn, "resourceType": v.resource_type},
    }


def to_sarif(report: Report, artifact_uri: str) -> dict[str, Any]:
    """One run; results point at `artifact_uri` (the stack file or the preview) with the URN as logical location.
    Findings an exception covers are results with an accepted external suppression, so code scanning keeps them closed."""
    index = {rule.id: i for i, rule in enumerate(report.rules)}
    rules = [{
        "id": rule.id,
        "name": rule.name,
        "shortDescription": {"text": rule.name},
        "fullDescription": {"text": rule.description},
        "help": {"text": rule.remediation, "markdown": f"**Fix:** {rule.remediation}\n\n**Controls:** {', '.join(rule.frameworks)}"},
        "defaultConfiguration": {"level": "error" if report.environment == "prod" else "warning"},
        "properties": {"tags": ["security", "least-privilege", *rule.frameworks], "security-severity": SECURITY_SEVERITY[rule.severity.value],
                       "severity": rule.severity.value, "precision": "high"},
    } for rule in report.rules]
    results = [_sarif_result(v, index[v.rule_id], artifact_uri) for v in report.violations]
    for v in report.suppressed:
        result = _sarif_result(v, index[v.rule_id], artifact_uri)
        result["suppressions"] = [{"kind": "external", "status": "accepted", "justification": v.suppressed_by.reason,
                                   "location": {"message": {"text": v.suppressed_by.where}}}]
        results.append(result)
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": TOOL, "version": VERSION, "rules": rules}},
            # One category per stack environment, so the dev and prod uploads do not close each other's alerts.
            "automationDetails": {"id": f"{TOOL}/{report.environment}/"},
            "results": results,
            "properties": {"summary": report.counts, "exceptions": exception_dicts(report)},
        }],
    }


# --- Markdown -----------------------------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`*_[]<>|~#"} | {"\n": "<br>", "\r": ""})


def md(text: str) -> str:
    """Text safe inside a Markdown table cell (`secret:prod/*` must not open an emphasis)."""
    return text.translate(_MD_SPECIAL)


def to_markdown(report: Report, title: str = "secrets-platform policy", limit: int | None = MARKDOWN_ROWS) -> str:
    """Violations (at most `limit` rows; None: all) and the exceptions in force with reason and expiry."""
    c = report.counts
    verdict = "**blocking**: mandatory violations must be fixed or excepted" if report.blocking else "not blocking"
    lines = [
        f"### {md(title)} ({report.environment}): {verdict}",
        "",
        f"{c['mandatory']} mandatory and {c['advisory']} advisory violation(s), {c['undecided']} undecided (a value unknown at preview); "
        f"{c['suppressed']} finding(s) suppressed by exceptions; {c['resources']} resources checked by {c['rules']} rules.",
        "",
    ]
    if report.violations:
        lines += ["| Level | Rule | Resource | Finding | Fix |", "|---|---|---|---|---|"]
        for v in report.violations[:limit]:
            level = "**mandatory**" if v.enforcement is Enforcement.MANDATORY else "advisory"
            lines.append(f"| {level} | {md(v.rule_id)} {md(v.rule_name)} ({v.severity.value}) | {md(v.resource_name)}<br>{md(v.resource_type)} "
                         f"| {md(v.message + _undecided_note(v))} | {md(v.remediation)} |")
        if limit is not None and len(report.violations) > limit:
            lines.append(f"\n… and {len(report.violations) - limit} more: see the job log, the plan JSON or the SARIF upload.")
        lines.append("")
    lines.append("#### Exceptions in force")
    if report.exceptions:
        lines += ["", "| Rule | Resource | Reason | Expires | Status |", "|---|---|---|---|---|"]
        for e in exception_dicts(report):
            status = f"{e['status']} ({e['suppressed']})" if e["suppressed"] else e["status"]
            lines.append(f"| {md(e['rule'])} | {md(e['resource'])} | {md(e['reason'])} | {e['expires'] or 'no expiry'} | {md(status)} |")
    else:
        lines += ["", "None."]
    return "\n".join(lines) + "\n"


# --- compliance view ----------------------------------------------------------------------------------------

# What each control tag the rules carry means, for an auditor's table. A tag missing here is shown as itself.
CONTROL_TITLES = {
    "HIPAA 164.312(a)(1)": "Access control: access only for persons and software programs granted it",
    "HIPAA 164.312(a)(2)(iv)": "Encryption and decryption of ePHI",
    "HIPAA 164.312(b)": "Audit controls: record and examine activity in systems holding ePHI",
    "HIPAA 164.312(c)(1)": "Integrity: protect ePHI from improper alteration or destruction",
    "HIPAA 164.312(d)": "Person or entity authentication",
    "HIPAA 164.312(e)(1)": "Transmission security",
    "SOC2 CC6.1": "Logical access security over protected information assets",
    "SOC2 CC6.3": "Role-based access: least privilege, segregation of duties",
    "SOC2 CC6.6": "Protection against access from outside the system boundaries",
    "SOC2 CC6.7": "Restricted transmission and movement of information",
    "SOC2 CC7.2": "Monitoring of system components for anomalies",
}
PASS, FAIL, UNDECIDED, EXCEPTED, DISABLED = "pass", "fail", "undecided", "excepted", "disabled"
NOT_APPLICABLE = "not applicable"  # the plan holds nothing of the rule's kinds: it checked nothing, so it passes nothing
NOT_ASSESSED = "not assessed"  # the stack declares the control run elsewhere (audit `elsewhere`, with a reason)


@dataclass(frozen=True)
class RuleStatus:
    rule_id: str
    name: str
    status: str  # pass | fail | undecided | not assessed | excepted | disabled | not applicable
    violations: int = 0  # decided findings
    undecided: int = 0  # findings left undecided by a value unknown at preview
    suppressed: int = 0  # findings an exception covers
    reasons: tuple[str, ...] = ()  # why it was not assessed: the declared reasons audit runs elsewhere


@dataclass(frozen=True)
class ControlStatus:
    control: str
    title: str
    rules: tuple[RuleStatus, ...]

    @property
    def status(self) -> str:
        """The worst of its rules: fail > undecided > not assessed > excepted > pass. A control passes only when a rule
        that had something to check passed and none failed; a rule whose control the stack runs elsewhere makes it
        "not assessed"; with only inapplicable rules it is not applicable, else (disabled) not assessed."""
        statuses = {r.status for r in self.rules}
        for status in (FAIL, UNDECIDED, NOT_ASSESSED, EXCEPTED, PASS):
            if status in statuses:
                return status
        return NOT_APPLICABLE if statuses == {NOT_APPLICABLE} else DISABLED


def compliance(report: Report, catalog: Iterable[Rule | StackRule] = ()) -> list[ControlStatus]:
    """For each control the rules are tagged with: the rules that enforce it and their status on this plan.
    `catalog` (the whole pack) adds the rules the settings disabled, so a control they cover shows them."""
    failing = Counter(v.rule_id for v in report.violations if not v.undecided)
    undecided = Counter(v.rule_id for v in report.violations if v.undecided)
    suppressed = Counter(v.rule_id for v in report.suppressed)
    reasons: dict[str, list[str]] = defaultdict(list)
    for rule_id, reason in report.not_assessed:
        reasons[rule_id].append(reason)
    evaluated = {rule.id for rule in report.rules}
    rules = {rule.id: rule for rule in (*catalog, *report.rules)}
    by_control: dict[str, list[RuleStatus]] = defaultdict(list)
    for rule in sorted(rules.values(), key=lambda r: r.id):
        if rule.id not in evaluated:
            status = DISABLED
        elif failing[rule.id]:
            status = FAIL
        elif undecided[rule.id]:
            status = UNDECIDED
        elif reasons.get(rule.id):
            status = NOT_ASSESSED
        elif suppressed[rule.id]:
            status = EXCEPTED
        elif report.applicable is not None and rule.id not in report.applicable:
            status = NOT_APPLICABLE
        else:
            status = PASS
        entry = RuleStatus(rule.id, rule.name, status, failing[rule.id], undecided[rule.id], suppressed[rule.id],
                           tuple(reasons.get(rule.id, ())) if status == NOT_ASSESSED else ())
        for control in rule.frameworks:
            by_control[control].append(entry)
    return [ControlStatus(control, CONTROL_TITLES.get(control, control), tuple(entries)) for control, entries in sorted(by_control.items())]


def compliance_json(controls: list[ControlStatus]) -> list[dict[str, Any]]:
    return [{"control": c.control, "title": c.title, "status": c.status,
             "rules": [{"rule": r.rule_id, "name": r.name, "status": r.status, "violations": r.violations,
                        "undecided": r.undecided, "suppressed": r.suppressed, **({"reasons": list(r.reasons)} if r.reasons else {})}
                       for r in c.rules]}
            for c in controls]


def _rule_status_text(r: RuleStatus) -> str:
    if r.status == FAIL:
        return f"{r.rule_id} fail ({r.violations})"
    if r.status == UNDECIDED:
        return f"{r.rule_id} undecided ({r.undecided})"
    if r.status == EXCEPTED:
        return f"{r.rule_id} excepted ({r.suppressed})"
    if r.status == NOT_ASSESSED:
        return f"{r.rule_id} not assessed ({'; '.join(r.reasons)})"
    return f"{r.rule_id} {r.status}"


def compliance_markdown(controls: list[ControlStatus]) -> str:
    """One row per control: its status, then the rules not passing with their counts; the passing rules folded."""
    lines = ["### Compliance", ""]
    if not controls:
        return "\n".join(lines + ["No rule carries a compliance control."]) + "\n"
    lines += ["| Control | Status | Rules | Not passing |", "|---|---|---|---|"]
    for c in controls:
        status = f"**{c.status}**" if c.status in (FAIL, UNDECIDED, NOT_ASSESSED) else c.status
        counts = Counter(r.status for r in c.rules)
        summary_ = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        attention = "<br>".join(md(_rule_status_text(r)) for r in c.rules if r.status not in (PASS, NOT_APPLICABLE)) or "-"
        lines.append(f"| {md(c.control)}: {md(c.title)} | {status} | {len(c.rules)} ({summary_}) | {attention} |")
    lines += ["", "<details><summary>Rules per control</summary>", ""]
    for c in controls:
        lines.append(f"- **{md(c.control)}**: " + ", ".join(f"{md(r.rule_id)} {md(r.name)} ({r.status})" for r in c.rules))
    lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def compliance_table(controls: list[ControlStatus]) -> Table:
    table = Table(title="Compliance", title_justify="left")
    for column in ("control", "status", "rules", "not passing"):
        table.add_column(column, overflow="fold")
    style = {FAIL: "bold red", UNDECIDED: "magenta", NOT_ASSESSED: "yellow", EXCEPTED: "yellow", PASS: "green", DISABLED: "dim", NOT_APPLICABLE: "dim"}
    for c in controls:
        table.add_row(Text(f"{c.control}\n{c.title}"), Text(c.status, style=style[c.status]), str(len(c.rules)),
                      Text("\n".join(_rule_status_text(r) for r in c.rules if r.status not in (PASS, NOT_APPLICABLE)) or "-"))
    return table


# --- text (rich) --------------------------------------------------------------------------------------------

def text_renderables(report: Report, title: str = "secrets-platform policy") -> list:
    """A tree of violations grouped by resource, with the fix under each; then the exceptions. Built from Text
    objects so `Statement[0]` in a message is printed, not read as rich markup."""
    tree = Tree(Text.assemble((title, "bold"), f"  stack environment {report.environment}"))
    by_resource: dict[str, list[Violation]] = defaultdict(list)
    for v in report.violations:
        by_resource[v.urn].append(v)
    for urn, violations in by_resource.items():
        first = violations[0]
        branch = tree.add(Text.assemble((first.resource_name, "bold cyan"), "  ", (first.resource_type, "dim"), "\n", (urn, "dim")))
        for v in violations:
            mandatory = v.enforcement is Enforcement.MANDATORY
            node = branch.add(Text.assemble(
                ("MANDATORY" if mandatory else "advisory", "bold red" if mandatory else "yellow"), " ",
                (f"{v.rule_id} {v.rule_name}", "bold"), f" ({v.severity.value})", (" undecided: a value is unknown at preview" if v.undecided else "", "magenta"),
            ))
            node.add(Text(v.message))
            node.add(Text.assemble(("fix: ", "green"), v.remediation))
    if not report.violations:
        tree.add(Text("no violations", style="green"))
    out: list = [tree]
    table = Table(title="Exceptions in force", title_justify="left")
    for column in ("rule", "resource", "reason", "expires", "status"):
        table.add_column(column)
    for e in exception_dicts(report):
        status = f"{e['status']} ({e['suppressed']})" if e["suppressed"] else e["status"]
        table.add_row(e["rule"], Text(e["resource"]), Text(e["reason"]), e["expires"] or "no expiry", status)
    out.append(table if report.exceptions else Text("Exceptions in force: none"))
    out.append(Text(summary(report), style="bold red" if report.blocking else "bold green"))
    return out


def print_text(report: Report, console: Console, title: str = "secrets-platform policy") -> None:
    for renderable in text_renderables(report, title):
        console.print(renderable)


def to_text(report: Report, title: str = "secrets-platform policy", width: int = 160) -> str:
    buffer = io.StringIO()
    print_text(report, Console(file=buffer, width=width, color_system=None, highlight=False), title)
    return buffer.getvalue()


def render(report: Report, fmt: str, title: str = "secrets-platform policy", artifact_uri: str = "Pulumi.yaml") -> str:
    if fmt == "json":
        return json.dumps(to_json(report), indent=2) + "\n"
    if fmt == "sarif":
        return json.dumps(to_sarif(report, artifact_uri), indent=2) + "\n"
    if fmt == "markdown":
        return to_markdown(report, title)
    if fmt == "text":
        return to_text(report, title)
    raise ValueError(f"unknown format {fmt!r} ({', '.join(FORMATS)})")
