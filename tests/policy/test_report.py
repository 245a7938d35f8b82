"""policy/report.py: the four formats of one report. SARIF is validated against the official SARIF 2.1.0 schema
(tests/fixtures/sarif-schema-2.1.0.json) and checked for what GitHub code scanning reads."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import jsonschema
import pytest

from policy.engine import EXCEPTION_EXPIRED, evaluate
from policy.report import FORMATS, MARKDOWN_ROWS, compliance, md, render, to_json, to_markdown, to_sarif, to_text
from policy.rules.base import Finding, Rule, Severity
from policy.settings import parse_settings
from tests.conftest import CANARY

SCHEMA = json.loads((Path(__file__).parents[1] / "fixtures" / "sarif-schema-2.1.0.json").read_text())
TODAY = date(2025, 6, 1)
SECRET = "test:index/secret:Secret"


def _check(rule, r) -> list[Finding]:
    props = r["props"]
    out = [rule.finding(r, f"Statement[{i}] Resource 'arn:aws:secretsmanager:*:*:secret:prod/*' | spans accounts")
           for i in range(props.get("wide", 0))]
    if props.get("pending"):
        out.append(rule.undecided(r, "Statement[0].Resource"))
    return out


ARN = Rule(id="T-ARN", name="no-wildcard-secret-arn", description="Secret ARNs are exact.", severity=Severity.CRITICAL, resource_types=(SECRET,), remediation="Name the exact secret ARN.", frameworks=("HIPAA 164.312(a)(1)", "SOC2 CC6.1"), check=_check)
ROTATE = Rule(id="T-ROT", name="rotation", description="Secrets rotate.", severity=Severity.LOW, resource_types=(SECRET,), remediation="Add a rotation schedule.", frameworks=("SOC2 CC6.1",), check=lambda rule, r: [] if r["props"].get("rotated") else [rule.finding(r, "no rotation")])


def secret(name: str, **props) -> dict:
    return {"type": SECRET, "urn": f"urn:pulumi:prod::shop::{SECRET}::{name}", "name": name, "props": {"secretString": CANARY, **props}}


def full_report(environment: str = "prod"):
    """Mandatory and advisory violations, an undecided one, an applied, an unused and an expired exception."""
    config = {
        "T-ROT": "advisory",
        "T-ARN": {"exceptions": [
            {"resource": "vendor", "reason": "SEC-7: vendor reads every prod secret until 2025-12", "expires": "2025-12-31"},
            {"resource": "retired", "reason": "SEC-2: old", "expires": "2025-12-31"},
            {"resource": "legacy", "reason": "SEC-3: lapsed", "expires": "2025-03-31"},
        ]},
    }
    resources = [secret("api", wide=2, rotated=True), secret("vendor", wide=1), secret("legacy", wide=1, rotated=True),
                 secret("worker", pending=True, rotated=True)]
    return evaluate(resources, parse_settings(config, environment, (ARN, ROTATE), "policy/config/prod.json"), (ARN, ROTATE), TODAY)


def test_json_lists_violations_and_exceptions():
    document = to_json(full_report())
    assert document["blocking"] is True
    assert {"rule", "urn", "enforcement", "message", "remediation", "undecided", "severity", "resourceType"} <= set(document["violations"][0])
    assert [(v["rule"], v["resource"], v["enforcement"], v["undecided"]) for v in document["violations"]] == [
        ("T-ARN", "api", "mandatory", False), ("T-ARN", "api", "mandatory", False),
        (EXCEPTION_EXPIRED.id, "legacy", "mandatory", False), ("T-ARN", "legacy", "mandatory", False),
        ("T-ROT", "vendor", "advisory", False), ("T-ARN", "worker", "advisory", True)]  # undecided at preview: advisory
    assert [(e["resource"], e["status"], e["suppressed"], e["expires"]) for e in document["exceptions"]] == [
        ("vendor", "applied", 1, "2025-12-31"), ("retired", "unused", 0, "2025-12-31"), ("legacy", "expired", 0, "2025-03-31")]
    assert document["exceptions"][0]["reason"].startswith("SEC-7") and document["exceptions"][0]["source"] == "policy/config/prod.json: T-ARN.exceptions[0]"
    assert [v["resource"] for v in document["suppressed"]] == ["vendor"]
    assert document["summary"]["mandatory"] == 4 and document["summary"]["advisory"] == 2


@pytest.mark.parametrize("report", [full_report(), full_report("dev"), evaluate([], parse_settings({}, "prod", (ARN,), "x"), (ARN,), TODAY)],
                         ids=["prod", "dev", "empty"])
def test_sarif_is_valid_sarif_2_1_0(report):
    jsonschema.Draft4Validator(SCHEMA).validate(to_sarif(report, "Pulumi.prod.yaml"))


def test_sarif_carries_what_github_code_scanning_reads():
    report = full_report()
    run = to_sarif(report, "Pulumi.prod.yaml")["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["T-ARN", "T-ROT", EXCEPTION_EXPIRED.id]
    arn = rules[0]
    assert arn["name"] == "no-wildcard-secret-arn" and arn["shortDescription"]["text"] and arn["help"]["text"] == "Name the exact secret ARN."
    assert arn["properties"]["security-severity"] == "9.5" and rules[1]["properties"]["security-severity"] == "3.0"
    assert {"security", "HIPAA 164.312(a)(1)", "SOC2 CC6.1"} <= set(arn["properties"]["tags"])
    results = [r for r in run["results"] if "suppressions" not in r]
    assert [(r["ruleId"], r["level"]) for r in results] == [(v.rule_id, "error" if v.enforcement.value == "mandatory" else "warning")
                                                           for v in report.violations]
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        (location,) = result["locations"]
        assert location["physicalLocation"]["artifactLocation"]["uri"] == "Pulumi.prod.yaml"
        assert location["logicalLocations"][0]["fullyQualifiedName"].startswith("urn:pulumi:prod::shop::")
    # All results sit on line 1 of the stack file: each needs its own fingerprint or GitHub merges them.
    fingerprints = [r["partialFingerprints"]["primaryLocationLineHash"] for r in run["results"]]
    assert len(set(fingerprints)) == len(fingerprints)
    (suppressed,) = [r for r in run["results"] if "suppressions" in r]
    assert suppressed["suppressions"][0]["justification"].startswith("SEC-7") and suppressed["suppressions"][0]["status"] == "accepted"
    assert run["automationDetails"]["id"] == "secrets-platform-policy/prod/"
    assert [e["status"] for e in run["properties"]["exceptions"]] == ["applied", "unused", "expired"]


def test_sarif_advisory_environment_levels():
    run = to_sarif(full_report("dev"), "preview.json")["runs"][0]
    assert {r["level"] for r in run["results"]} == {"warning"}
    assert run["tool"]["driver"]["rules"][0]["defaultConfiguration"]["level"] == "warning"


def test_markdown_comment():
    text = to_markdown(full_report(), "policy: preview.json")
    lines = text.splitlines()
    assert lines[0] == "### policy: preview.json (prod): **blocking**: mandatory violations must be fixed or excepted"
    assert "4 mandatory and 2 advisory violation(s), 1 undecided" in lines[2]
    rows = [line for line in lines if line.startswith("| **mandatory**") or line.startswith("| advisory")]
    assert len(rows) == 6
    # `*` and `|` from messages are escaped: no emphasis, no extra table column.
    assert r"secret:prod/\*' \| spans accounts" in text and all(row.count(" | ") == 4 for row in rows)
    exceptions = lines[lines.index("#### Exceptions in force"):]
    assert "| T-ARN | vendor | SEC-7: vendor reads every prod secret until 2025-12 | 2025-12-31 | applied (1) |" in exceptions
    assert any("| legacy |" in line and line.endswith("| expired |") for line in exceptions)


def test_markdown_without_violations_or_exceptions():
    report = evaluate([secret("ok", rotated=True)], parse_settings({}, "dev", (ARN, ROTATE), "x"), (ARN, ROTATE), TODAY)
    text = to_markdown(report)
    assert "not blocking" in text.splitlines()[0] and "| Level |" not in text and text.rstrip().endswith("None.")


def test_markdown_truncates_long_tables():
    report = evaluate([secret("api", wide=MARKDOWN_ROWS + 5, rotated=True)], parse_settings({}, "prod", (ARN,), "x"), (ARN,), TODAY)
    text = to_markdown(report)
    assert text.count("| **mandatory**") == MARKDOWN_ROWS and "and 5 more" in text


def test_md_escapes():
    assert md("a*b_c|d`e<f>\nnext") == r"a\*b\_c\|d\`e\<f\><br>next"


def test_text_groups_violations_by_resource_with_the_fix():
    text = to_text(full_report(), "policy: preview.json")
    assert text.splitlines()[0].startswith("policy: preview.json  stack environment prod")
    api = text.index("api  test:index/secret:Secret")
    assert text.count("api  test:index/secret:Secret") == 1  # one heading, both violations under it
    assert text.index("Statement[0] Resource", api) < text.index("Statement[1] Resource", api) < text.index("legacy  test:index/secret:Secret")
    assert text.count("fix: Name the exact secret ARN.") == 4 and "fix: Add a rotation schedule." in text
    assert "undecided: a value is unknown at preview" in text
    assert "Exceptions in force" in text and "SEC-7: vendor reads every prod secret" in text and "applied (1)" in text
    assert text.rstrip().splitlines()[-1].startswith("BLOCKED: 4 mandatory, 2 advisory violation(s) (1 undecided), 1 suppressed by 3 exception(s)")


def test_text_without_violations():
    report = evaluate([secret("ok", rotated=True)], parse_settings({}, "prod", (ARN,), "x"), (ARN,), TODAY)
    text = to_text(report)
    assert "no violations" in text and "Exceptions in force: none" in text and text.rstrip().splitlines()[-1].startswith("passed: 0 mandatory")


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_format_prints_a_secret_input(fmt):
    output = render(full_report(), fmt, artifact_uri="Pulumi.prod.yaml")
    assert "api" in output and CANARY not in output


def test_render_rejects_unknown_formats():
    with pytest.raises(ValueError, match="unknown format 'xml'"):
        render(full_report(), "xml")


# --- the compliance view: a rule that checked nothing passes nothing (#15 item 5) ------------------------------

OTHER = "test:index/vault:Audit"
AUDIT = Rule(id="T-AUD", name="audit-device", description="Vault has an audit device.", severity=Severity.HIGH, resource_types=(OTHER,),
             remediation="Add an audit device.", frameworks=("HIPAA 164.312(b)",), check=lambda rule, r: [])


def test_a_rule_with_nothing_of_its_kind_is_not_applicable_and_passes_no_control():
    report = evaluate([secret("db", rotated=True)], parse_settings({}, "prod", (ARN, ROTATE, AUDIT), "test"), rules=[ARN, ROTATE, AUDIT], today=TODAY)
    controls = {c.control: c for c in compliance(report)}
    # Only an inapplicable rule tags HIPAA 164.312(b): it was "pass" before, from a rule that had nothing to check.
    assert controls["HIPAA 164.312(b)"].status == "not applicable"
    assert [r.status for r in controls["HIPAA 164.312(b)"].rules] == ["not applicable"]
    assert controls["SOC2 CC6.1"].status == "pass"
    # Once the plan holds a resource of its kind, the same rule passes the control.
    planned = evaluate([secret("db", rotated=True), {"type": OTHER, "urn": "urn:pulumi:prod::shop::x::audit", "name": "audit", "props": {}}],
                       parse_settings({}, "prod", (ARN, ROTATE, AUDIT), "test"), rules=[ARN, ROTATE, AUDIT], today=TODAY)
    assert {c.control: c.status for c in compliance(planned)}["HIPAA 164.312(b)"] == "pass"


def test_an_inapplicable_rule_beside_a_failing_one_keeps_the_control_failing():
    mixed = Rule(id="T-MIX", name="mixed", description="x", severity=Severity.LOW, resource_types=(OTHER,), remediation="x",
                 frameworks=("SOC2 CC6.1",), check=lambda rule, r: [])
    report = evaluate([secret("db")], parse_settings({}, "prod", (ROTATE, mixed), "test"), rules=[ROTATE, mixed], today=TODAY)
    control = next(c for c in compliance(report) if c.control == "SOC2 CC6.1")
    assert control.status == "fail"
    assert {r.rule_id: r.status for r in control.rules} == {"T-ROT": "fail", "T-MIX": "not applicable"}
