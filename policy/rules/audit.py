"""Audit in prod (HIPAA 164.312(b)): who read or changed a secret is recorded, per backend.

A rule with nothing of its kind in the plan (no prod Key Vault, no prod GCP secret) is "not applicable" in the
compliance view, never "pass". Not covered here yet: Vault audit devices and the AWS trail (see README)."""

from __future__ import annotations

from documents.props import dig, entries
from policy.rules._util import HIPAA_AUDIT, SOC2_MONITORING
from policy.rules.base import Finding, Resource, Severity, StackRule, is_prod, is_unknown, stack_rule

KEY_VAULT = "azure-native:keyvault:Vault"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
GCP_SECRET = "gcp:secretmanager/secret:Secret"
GCP_AUDIT_CONFIG = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
AUDIT_CATEGORY_GROUPS = frozenset({"audit", "allLogs"})
DATA_ACCESS = frozenset({"DATA_READ", "DATA_WRITE"})
_FRAMEWORKS = (HIPAA_AUDIT, SOC2_MONITORING)


def _prod(resource: Resource, field: str) -> bool:
    """Tagged prod, or untagged in a prod stack (an unknown tag counts as prod: audit is the safe side)."""
    return is_prod(resource, dig(resource["props"], field, "environment")) is not False


@stack_rule(id="SP-AUDIT-001", name="key-vault-prod-audit-logs", severity=Severity.HIGH, resource_types=(KEY_VAULT, DIAGNOSTIC_SETTING),
            frameworks=_FRAMEWORKS,
            remediation="Add a monitor DiagnosticSetting on the vault with categoryGroup audit enabled and a workspaceId (azure.log_analytics_workspace_id).")
def KEY_VAULT_DIAGNOSTICS(rule: StackRule, resources: list[Resource]) -> list[Finding]:
    """A prod Key Vault whose audit logs (every secret read, every access change) go to no Log Analytics workspace
    leaves no record to examine."""
    vaults = [r for r in resources if r["type"] == KEY_VAULT and _prod(r, "tags")]
    # Which vault a setting targets is the vault's id, an output; the plan holds one vault per stack, so the
    # presence of a setting sending audit logs to a workspace decides.
    audited = any(
        r["type"] == DIAGNOSTIC_SETTING and (is_unknown(r["props"].get("workspaceId")) or r["props"].get("workspaceId"))
        and any(log.get("enabled") and log.get("categoryGroup") in AUDIT_CATEGORY_GROUPS for log in entries(r["props"].get("logs")) if isinstance(log, dict))
        for r in resources
    )
    if audited:
        return []
    return [rule.finding(r, "prod Key Vault without a diagnostic setting sending its audit logs to a Log Analytics workspace")
            for r in vaults]


@stack_rule(id="SP-AUDIT-002", name="gcp-secret-manager-data-access-audit", severity=Severity.HIGH, resource_types=(GCP_SECRET, GCP_AUDIT_CONFIG),
            frameworks=_FRAMEWORKS,
            remediation="Add an IAMAuditConfig for service secretmanager.googleapis.com with log types DATA_READ and DATA_WRITE.")
def GCP_DATA_ACCESS_AUDIT(rule: StackRule, resources: list[Resource]) -> list[Finding]:
    """Secret Manager logs admin activity by default, not data access: without DATA_READ and DATA_WRITE audit logs
    nobody can tell who read a prod secret."""
    secrets = [r for r in resources if r["type"] == GCP_SECRET and _prod(r, "labels")]
    for r in resources:
        if r["type"] != GCP_AUDIT_CONFIG or r["props"].get("service") not in ("secretmanager.googleapis.com", "allServices"):
            continue
        types = {c.get("logType") for c in entries(r["props"].get("auditLogConfigs")) if isinstance(c, dict)}
        if DATA_ACCESS <= types:
            return []
    if not secrets:
        return []
    return [rule.finding(secrets[0],
                    f"{len(secrets)} prod Secret Manager secret(s) and no IAMAuditConfig turning on DATA_READ and DATA_WRITE for secretmanager.googleapis.com")]


RULES: list[StackRule] = [KEY_VAULT_DIAGNOSTICS, GCP_DATA_ACCESS_AUDIT]
