"""policy/rules/audit.py: prod audit logs per backend (#15 item 4). The compliant fixtures are the plans of the
examples that use Key Vault and Secret Manager; each mutation removes or weakens what records access."""

from __future__ import annotations

import copy

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
                                    "logs (every secret read) must go to a workspace (HIPAA 164.312(b))"]
