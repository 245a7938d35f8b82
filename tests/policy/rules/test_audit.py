"""policy/rules/audit.py: prod audit logs per backend (#15 item 4). The compliant fixtures are the plans of the
examples that use Key Vault and Secret Manager; each mutation removes or weakens what records access."""

from __future__ import annotations

import copy
import json

import pytest

from offline.run import plan_stack
from policy.engine import evaluate
from policy.report import compliance
from policy.rules import ALL_RULES
from policy.rules.audit import GCP_DATA_ACCESS_AUDIT, KEY_VAULT_DIAGNOSTICS
from policy.settings import settings_for
from tests.conftest import stack_namespace

VIBEBOX = "examples/vibebox/Pulumi.vibebox-prod.yaml"


@pytest.fixture(scope="module")
def resources() -> list[dict]:
    return plan_stack(VIBEBOX).policy_resources()


def _without(resources, type_):
    return [r for r in resources if r["type"] != type_]


def test_compliant_plan_is_silent(resources):
    assert KEY_VAULT_DIAGNOSTICS.evaluate(resources) == []
    assert GCP_DATA_ACCESS_AUDIT.evaluate(resources) == []


def test_key_vault_without_diagnostics_fails(resources):
    findings = KEY_VAULT_DIAGNOSTICS.evaluate(_without(resources, "azure-native:monitor:DiagnosticSetting"))
    assert [f.rule_id for f in findings] == [KEY_VAULT_DIAGNOSTICS.id]
    assert "Log Analytics workspace" in findings[0].message


def test_key_vault_diagnostics_without_the_audit_group_fails(resources):
    weakened = copy.deepcopy(resources)
    for r in weakened:
        if r["type"] == "azure-native:monitor:DiagnosticSetting":
            r["props"]["logs"] = [{"categoryGroup": "audit", "enabled": False}]
    assert [f.rule_id for f in KEY_VAULT_DIAGNOSTICS.evaluate(weakened)] == [KEY_VAULT_DIAGNOSTICS.id]


def test_gcp_without_data_access_audit_fails(resources):
    findings = GCP_DATA_ACCESS_AUDIT.evaluate(_without(resources, "gcp:projects/iAMAuditConfig:IAMAuditConfig"))
    assert [f.rule_id for f in findings] == [GCP_DATA_ACCESS_AUDIT.id]
    only_writes = copy.deepcopy(resources)
    for r in only_writes:
        if r["type"] == "gcp:projects/iAMAuditConfig:IAMAuditConfig":
            r["props"]["auditLogConfigs"] = [{"logType": "DATA_WRITE"}]
    assert [f.rule_id for f in GCP_DATA_ACCESS_AUDIT.evaluate(only_writes)] == [GCP_DATA_ACCESS_AUDIT.id]


def test_audit_rules_are_not_applicable_to_an_aws_only_plan(prod_plan):
    report = evaluate(prod_plan.policy_resources(), settings_for("prod", ALL_RULES))
    audit = next(c for c in compliance(report) if c.control == "HIPAA 164.312(b)")
    statuses = {r.rule_id: r.status for r in audit.rules}
    assert statuses[KEY_VAULT_DIAGNOSTICS.id] == statuses[GCP_DATA_ACCESS_AUDIT.id] == "not applicable"


def test_prod_key_vault_needs_a_workspace():
    from components.config import ConfigError, parse_stack_spec
    raw = copy.deepcopy(stack_namespace(VIBEBOX))
    raw["azure"].pop("log_analytics_workspace_id")
    with pytest.raises(ConfigError) as caught:
        parse_stack_spec(raw, "Pulumi.vibebox-prod.yaml")
    assert caught.value.lines() == ["Pulumi.vibebox-prod.yaml: secrets-platform:azure.log_analytics_workspace_id: required in prod: the vault's audit "
                                    "logs (every secret read) must go to a workspace (HIPAA 164.312(b)), or say where they go instead "
                                    "(audit: {elsewhere: <reason>})"]


# ----- #15 item 4: Vault audit device, AWS trail, audit run elsewhere; CC6.7 (TLS-only bucket), CC7.2 (alerts) -----
# The compliant fixture is still the VibeBox prod plan: it declares a Vault file device and a created trail.

from documents.audit import AUDIT_DECLARATION  # noqa: E402
from policy.rules import audit  # noqa: E402
from policy.rules.audit import (  # noqa: E402
    AWS_AUDIT_TRAIL, BUCKET_TLS_ONLY, ROTATION_ALERTS, TRAIL, VAULT_AUDIT, VAULT_AUDIT_DEVICE,
)
from tests.policy.rules.builders import decided, resource  # noqa: E402

REASON = "Splunk HEC, owned by SecOps, ticket SEC-123"
ORG_TRAIL = "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail"


def declaration(backend: str, kind: str = "elsewhere", **props) -> dict:
    detail = {"reason": REASON} if kind == "elsewhere" else {"trailArn": ORG_TRAIL}
    return resource(AUDIT_DECLARATION, f"{backend}-audit-{kind}", backend=backend, kind=kind, **{**detail, **props})


def _with_props(resources, type_, **changes):
    out = copy.deepcopy(resources)
    for r in out:
        if r["type"] == type_:
            r["props"].update(changes)
    return out


def _prod_report(resources):
    return evaluate(resources, settings_for("prod", ALL_RULES))


def _control(report, control):
    return next(c for c in compliance(report, ALL_RULES) if c.control == control)


def test_the_compliant_plan_is_silent_under_every_audit_rule(resources):
    assert [f for rule in audit.RULES for f in rule.evaluate(resources)] == []
    types = {r["type"] for r in resources}
    assert {VAULT_AUDIT, TRAIL, BUCKET_TLS_ONLY.resource_types[0], ROTATION_ALERTS.resource_types[0]} <= types


def test_a_prod_vault_without_an_audit_device_fails(resources):
    findings = VAULT_AUDIT_DEVICE.evaluate(_without(resources, VAULT_AUDIT))
    assert [f.rule_id for f in findings] == [VAULT_AUDIT_DEVICE.id] and not findings[0].not_assessed
    assert "no audit device" in findings[0].message


@pytest.mark.parametrize("options, expected", [
    ({"log_raw": "true", "hmac_accessor": "true"}, "log_raw is true"),
    ({"hmac_accessor": "false"}, "hmac_accessor is false"),
])
def test_a_vault_audit_device_logging_raw_values_or_accessors_fails(resources, options, expected):
    findings = VAULT_AUDIT_DEVICE.evaluate(_with_props(resources, VAULT_AUDIT, options=options))
    assert [m for m in decided(findings)] and all(expected in m for m in decided(findings))


def test_a_non_prod_vault_needs_no_audit_device(resources):
    dev = [{**r, "stackEnvironment": "dev"} for r in _without(resources, VAULT_AUDIT)]
    assert VAULT_AUDIT_DEVICE.evaluate(dev) == []


def test_vault_audit_elsewhere_is_not_assessed_never_a_pass_nor_a_violation(resources):
    plan = [*_without(resources, VAULT_AUDIT), declaration("vault")]
    findings = VAULT_AUDIT_DEVICE.evaluate([{**r, "stackEnvironment": "prod"} for r in plan])
    assert [(f.not_assessed, f.message) for f in findings] == [(True, f"vault audit run elsewhere: {REASON}")]
    report = _prod_report(plan)
    assert not [v for v in report.violations if v.rule_id == VAULT_AUDIT_DEVICE.id] and not report.blocking
    for control in ("HIPAA 164.312(b)", "SOC2 CC7.2"):
        status = _control(report, control)
        assert status.status == "not assessed"
        vault_rule = next(r for r in status.rules if r.rule_id == VAULT_AUDIT_DEVICE.id)
        assert vault_rule.status == "not assessed" and vault_rule.reasons == (f"vault audit run elsewhere: {REASON}",)


def test_an_elsewhere_declaration_of_another_backend_does_not_excuse_vault(resources):
    plan = [*_without(resources, VAULT_AUDIT), declaration("aws")]
    assert [f.rule_id for f in VAULT_AUDIT_DEVICE.evaluate(plan) if not f.not_assessed] == [VAULT_AUDIT_DEVICE.id]


def test_prod_aws_secrets_without_a_trail_fail(resources):
    findings = AWS_AUDIT_TRAIL.evaluate(_without(resources, TRAIL))
    assert [f.rule_id for f in findings] == [AWS_AUDIT_TRAIL.id]
    assert "neither a CloudTrail trail nor the organisation trail" in findings[0].message


@pytest.mark.parametrize("change, expected", [
    ({"isMultiRegionTrail": False}, "one region only"),
    ({"enableLogFileValidation": False}, "no log-file validation"),
    ({"kmsKeyId": None}, "customer-managed key"),
    ({"enableLogging": False}, "logging is turned off"),
])
def test_a_weak_trail_fails(resources, change, expected):
    messages = decided(AWS_AUDIT_TRAIL.evaluate(_with_props(resources, TRAIL, **change)))
    assert len(messages) == 1 and expected in messages[0]


def test_the_recorded_organisation_trail_counts_as_the_trail(resources):
    plan = [*_without(resources, TRAIL), declaration("aws", "organization-trail")]
    assert AWS_AUDIT_TRAIL.evaluate(plan) == []
    assert next(r for r in _control(_prod_report(plan), "HIPAA 164.312(b)").rules if r.rule_id == AWS_AUDIT_TRAIL.id).status == "pass"


def test_aws_audit_elsewhere_is_not_assessed(resources):
    plan = [*_without(resources, TRAIL), declaration("aws")]
    report = _prod_report(plan)
    assert not [v for v in report.violations if v.rule_id == AWS_AUDIT_TRAIL.id]
    rule = next(r for r in _control(report, "HIPAA 164.312(b)").rules if r.rule_id == AWS_AUDIT_TRAIL.id)
    assert rule.status == "not assessed" and rule.reasons == (f"aws audit run elsewhere: {REASON}",)


@pytest.mark.parametrize("backend, removed, rule", [
    ("azure", "azure-native:monitor:DiagnosticSetting", KEY_VAULT_DIAGNOSTICS),
    ("gcp", "gcp:projects/iAMAuditConfig:IAMAuditConfig", GCP_DATA_ACCESS_AUDIT),
])
def test_key_vault_and_gcp_audit_elsewhere_are_not_assessed(resources, backend, removed, rule):
    plan = [*_without(resources, removed), declaration(backend)]
    findings = rule.evaluate(plan)
    assert findings and all(f.not_assessed for f in findings)
    assert next(r for r in _control(_prod_report(plan), "HIPAA 164.312(b)").rules if r.rule_id == rule.id).status == "not assessed"


def test_a_declaration_alone_leaves_the_other_backends_rules_not_applicable(prod_plan):
    """An AWS-only plan with an AWS elsewhere declaration: Key Vault, GCP and Vault rules have nothing to check."""
    plan = [*(r for r in prod_plan.policy_resources() if r["type"] != TRAIL), declaration("aws")]
    rules = {r.rule_id: r.status for r in _control(_prod_report(plan), "HIPAA 164.312(b)").rules}
    assert rules[KEY_VAULT_DIAGNOSTICS.id] == rules[GCP_DATA_ACCESS_AUDIT.id] == rules[VAULT_AUDIT_DEVICE.id] == "not applicable"
    assert rules[AWS_AUDIT_TRAIL.id] == "not assessed"


def test_a_bucket_policy_without_the_tls_only_deny_fails(resources):
    policy = next(r for r in resources if r["type"] == BUCKET_TLS_ONLY.resource_types[0])
    assert BUCKET_TLS_ONLY.evaluate([policy]) == []
    document = json.loads(policy["props"]["policy"])
    document["Statement"] = [s for s in document["Statement"] if s["Effect"] != "Deny"]
    weakened = {**policy, "props": {**policy["props"], "policy": json.dumps(document)}}
    assert [f.rule_id for f in BUCKET_TLS_ONLY.evaluate([weakened])] == [BUCKET_TLS_ONLY.id]


def test_prod_rotations_without_a_failure_alert_fail(resources):
    assert ROTATION_ALERTS.evaluate(resources) == []
    findings = ROTATION_ALERTS.evaluate(_without(resources, "aws:cloudwatch/eventRule:EventRule"))
    assert [f.rule_id for f in findings] == [ROTATION_ALERTS.id] and "reaches nobody" in findings[0].message
    untargeted = _without(resources, "aws:cloudwatch/eventTarget:EventTarget")
    assert [f.rule_id for f in ROTATION_ALERTS.evaluate(untargeted)] == [ROTATION_ALERTS.id]


def test_a_control_passes_only_when_an_applicable_rule_passed_and_none_failed(resources):
    report = _prod_report(resources)
    assert _control(report, "SOC2 CC7.2").status == "pass"
    assert _control(report, "SOC2 CC6.7").status == "pass"
    assert {r.rule_id for r in _control(report, "SOC2 CC6.7").rules} >= {BUCKET_TLS_ONLY.id, "SP-AZ-005"}
    failing = _prod_report(_without(resources, VAULT_AUDIT))
    assert _control(failing, "SOC2 CC7.2").status == "fail"
    # a failure wins over a declared elsewhere of another backend
    mixed = _prod_report([*_without(_without(resources, VAULT_AUDIT), TRAIL), declaration("aws")])
    assert _control(mixed, "HIPAA 164.312(b)").status == "fail"


def test_crossguard_fails_prod_vault_without_audit_and_passes_it_with_elsewhere(resources, monkeypatch):
    """The stack policy of the pack, fed engine-shaped resources: the declaration (a component resource) is read the
    same way; with it nothing is reported, without it the violation is."""
    from pulumi_policy import StackValidationArgs
    from pulumi_policy.policy import PolicyResource

    from policy.__main__ import build_policies
    from tests.policy.test_pack import Collector, engine_props

    monkeypatch.setenv("PULUMI_STACK", "prod")
    (policy,) = build_policies([VAULT_AUDIT_DEVICE])

    def report(plan):
        collected = Collector()
        policy.validate(StackValidationArgs([PolicyResource(r["type"], engine_props(r["props"]), r["urn"], r["name"], None, None, None, [], {})
                                             for r in plan], {}), collected)
        return collected.reported

    assert report(resources) == []
    assert len(report(_without(resources, VAULT_AUDIT))) == 1
    assert report([*_without(resources, VAULT_AUDIT), declaration("vault")]) == []


def test_a_dev_stack_has_nothing_for_the_prod_audit_rules_to_check(dev_plan):
    """Dev secrets, rotations and Vault are not held to prod audit: the rules checked nothing, so they pass nothing."""
    report = evaluate(dev_plan.policy_resources(), settings_for("dev", ALL_RULES))
    for control in ("HIPAA 164.312(b)", "SOC2 CC7.2"):
        rules = {r.rule_id: r.status for r in _control(report, control).rules}
        assert all(rules[rule.id] == "not applicable" for rule in audit.RULES if control in rule.frameworks), rules


def test_the_markdown_view_says_not_assessed_with_the_reason(resources):
    from policy.report import compliance_markdown

    text = compliance_markdown(compliance(_prod_report([*_without(resources, VAULT_AUDIT), declaration("vault")]), ALL_RULES))
    row = next(line for line in text.splitlines() if line.startswith("| HIPAA 164.312(b)"))
    assert "| **not assessed** |" in row and f"SP-AUDIT-003 not assessed (vault audit run elsewhere: {REASON})" in row
