"""Audit in prod (HIPAA 164.312(b)): who read or changed a secret is recorded, per backend.

A rule with nothing of its kind in the plan (no prod Key Vault, no prod GCP secret) is "not applicable" in the
compliance view, never "pass". Where the stack declares a backend's audit run elsewhere (an AuditDeclaration of kind
`elsewhere` in the plan, documents/audit.py), its rule checks nothing and reports "not assessed" with the declared
reason: never a violation, never a pass. The AWS rule takes a recorded organisation trail as audit (its ARN is in the
spec, validated; its settings belong to the organisation's management account and are not checked here)."""

from __future__ import annotations

from documents.audit import AUDIT_DECLARATION, ELSEWHERE, ORGANIZATION_TRAIL, declarations
from documents.iam import parse
from documents.props import dig, entries
from policy.rules._util import HIPAA_AUDIT, HIPAA_TRANSMISSION, SOC2_MONITORING, SOC2_TRANSMISSION
from policy.rules.base import Finding, Resource, Rule, Severity, StackRule, is_prod, is_unknown, rule, stack_rule

KEY_VAULT = "azure-native:keyvault:Vault"
DIAGNOSTIC_SETTING = "azure-native:monitor:DiagnosticSetting"
GCP_SECRET = "gcp:secretmanager/secret:Secret"
GCP_AUDIT_CONFIG = "gcp:projects/iAMAuditConfig:IAMAuditConfig"
VAULT_AUDIT = "vault:index/audit:Audit"
# What a stack managing Vault plans: its policies, mounts, auth methods, login roles.
VAULT_MANAGED = (
    "vault:index/policy:Policy", "vault:index/mount:Mount", "vault:kv/secretBackendV2:SecretBackendV2", "vault:index/authBackend:AuthBackend",
    "vault:kubernetes/authBackendRole:AuthBackendRole", "vault:appRole/authBackendRole:AuthBackendRole",
)
VAULT_DEVICE_TYPES = frozenset({"file", "socket", "syslog"})
AWS_SECRET = "aws:secretsmanager/secret:Secret"
TRAIL = "aws:cloudtrail/trail:Trail"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ROTATION = "aws:secretsmanager/secretRotation:SecretRotation"
EVENT_RULE = "aws:cloudwatch/eventRule:EventRule"
EVENT_TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ROTATION_FAILURE_EVENTS = ("RotationFailed", "RotationAbandoned")
AUDIT_CATEGORY_GROUPS = frozenset({"audit", "allLogs"})
DATA_ACCESS = frozenset({"DATA_READ", "DATA_WRITE"})
_FRAMEWORKS = (HIPAA_AUDIT, SOC2_MONITORING)


def _prod(resource: Resource, field: str) -> bool:
    """Tagged prod, or untagged in a prod stack (an unknown tag counts as prod: audit is the safe side)."""
    return is_prod(resource, dig(resource["props"], field, "environment")) is not False


def _elsewhere(rule: StackRule, resources: list[Resource], backend: str) -> list[Finding]:
    """"not assessed" with each declared reason, when the stack says this backend's audit runs elsewhere."""
    return [rule.not_assessed(r, f"{backend} audit run elsewhere: {dig(r['props'], 'reason') or 'no reason given'}")
            for r in declarations(resources, backend, ELSEWHERE)]


@stack_rule(id="SP-AUDIT-001", name="key-vault-prod-audit-logs", severity=Severity.HIGH, resource_types=(KEY_VAULT,), frameworks=_FRAMEWORKS,
            context_types=(DIAGNOSTIC_SETTING, AUDIT_DECLARATION), applicable=lambda r: _prod(r, "tags"),
            remediation="Add a monitor DiagnosticSetting on the vault with categoryGroup audit enabled and a workspaceId (azure.log_analytics_workspace_id).")
def KEY_VAULT_DIAGNOSTICS(rule: StackRule, resources: list[Resource]) -> list[Finding]:
    """A prod Key Vault whose audit logs (every secret read, every access change) go to no Log Analytics workspace
    leaves no record to examine."""
    vaults = [r for r in resources if r["type"] == KEY_VAULT and _prod(r, "tags")]
    if vaults and (elsewhere := _elsewhere(rule, resources, "azure")):
        return elsewhere
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


@stack_rule(id="SP-AUDIT-002", name="gcp-secret-manager-data-access-audit", severity=Severity.HIGH, resource_types=(GCP_SECRET,),
            frameworks=_FRAMEWORKS, context_types=(GCP_AUDIT_CONFIG, AUDIT_DECLARATION), applicable=lambda r: _prod(r, "labels"),
            remediation="Add an IAMAuditConfig for service secretmanager.googleapis.com with log types DATA_READ and DATA_WRITE.")
def GCP_DATA_ACCESS_AUDIT(rule: StackRule, resources: list[Resource]) -> list[Finding]:
    """Secret Manager logs admin activity by default, not data access: without DATA_READ and DATA_WRITE audit logs
    nobody can tell who read a prod secret."""
    secrets = [r for r in resources if r["type"] == GCP_SECRET and _prod(r, "labels")]
    if secrets and (elsewhere := _elsewhere(rule, resources, "gcp")):
        return elsewhere
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


@stack_rule(id="SP-AUDIT-003", name="vault-prod-audit-device", severity=Severity.HIGH, resource_types=(*VAULT_MANAGED, VAULT_AUDIT),
            frameworks=_FRAMEWORKS, context_types=(AUDIT_DECLARATION,),
            applicable=lambda r: r["type"] == VAULT_AUDIT or is_prod(r, None) is not False,
            remediation="Declare vault.audit with device file, socket or syslog (log_raw false, hmac_accessor true), or vault.audit.elsewhere "
            "with who runs the audit instead.")
def VAULT_AUDIT_DEVICE(rule: StackRule, resources: list[Resource]) -> list[Finding]:
    """A prod stack managing Vault policies, mounts or logins without an audit device (or a declared audit elsewhere)
    leaves no record of who read which secret; a device with log_raw writes every secret value into its log."""
    # A prod stack that manages Vault (policies, mounts, auth) enables an audit device that never logs raw values.
    managed = [r for r in resources if r["type"] in VAULT_MANAGED and is_prod(r, None) is not False]
    devices = [r for r in resources if r["type"] == VAULT_AUDIT]
    out = []
    for device in devices:
        props = device["props"]
        options = props.get("options") if isinstance(props.get("options"), dict) else {}
        if is_unknown(props.get("type")) or is_unknown(props.get("options")):
            out.append(rule.undecided(device, "type or options"))
            continue
        if props.get("type") not in VAULT_DEVICE_TYPES:
            out.append(rule.finding(device, f"type {props.get('type')!s:.40} is not a Vault audit device (file, socket, syslog)"))
        if str(options.get("log_raw", "false")).lower() in ("true", "1", "t"):
            out.append(rule.finding(device, "options.log_raw is true: the audit log would hold every secret value in clear; remove it (HMAC'd by default)"))
        if str(options.get("hmac_accessor", "true")).lower() in ("false", "0", "f"):
            out.append(rule.finding(device, "options.hmac_accessor is false: token accessors in the log could revoke or look up tokens; remove it"))
    if not managed or devices:
        return out
    if elsewhere := _elsewhere(rule, resources, "vault"):
        return elsewhere
    return [rule.finding(managed[0], f"a prod stack managing Vault ({len(managed)} policies, mounts or auth roles) and no audit device: "
                         "nobody can tell who read which secret")]


@stack_rule(id="SP-AUDIT-004", name="aws-prod-cloudtrail", severity=Severity.HIGH, resource_types=(AWS_SECRET, TRAIL), frameworks=_FRAMEWORKS,
            context_types=(AUDIT_DECLARATION,), applicable=lambda r: r["type"] == TRAIL or _prod(r, "tags"),
            remediation="Set aws.audit.organization_trail_arn to the organisation trail, or aws.audit.trail: {} to create one "
            "(multi-region, log-file validation, KMS), or aws.audit.elsewhere with who records the calls instead.")
def AWS_AUDIT_TRAIL(rule: StackRule, resources: list[Resource]) -> list[Finding]:
    """Prod Secrets Manager secrets without a CloudTrail trail (or the organisation trail recorded) leave GetSecretValue
    and PutSecretValue calls unrecorded; a trail that is single-region, unvalidated or unencrypted is weaker
    evidence."""
    # Prod Secrets Manager secrets are recorded by a trail: the organisation's (recorded in the spec) or one planned
    # here that is multi-region, validates its log files and is encrypted with a customer-managed key.
    secrets = [r for r in resources if r["type"] == AWS_SECRET and _prod(r, "tags")]
    out = []
    for trail in (r for r in resources if r["type"] == TRAIL):
        props = trail["props"]
        for field, what in (("isMultiRegionTrail", "records one region only: set isMultiRegionTrail (secrets replicate, callers roam)"),
                            ("enableLogFileValidation", "has no log-file validation: set enableLogFileValidation so a changed log is detected")):
            if is_unknown(props.get(field)):
                out.append(rule.undecided(trail, field))
            elif props.get(field) is not True:
                out.append(rule.finding(trail, f"the trail {what}"))
        if not props.get("kmsKeyId"):
            out.append(rule.finding(trail, "the trail's log files are not encrypted with a customer-managed key: set kmsKeyId"))
        if props.get("enableLogging") is False:
            out.append(rule.finding(trail, "the trail's logging is turned off: set enableLogging true"))
    if not secrets or any(r["type"] == TRAIL for r in resources) or declarations(resources, "aws", ORGANIZATION_TRAIL):
        return out
    if elsewhere := _elsewhere(rule, resources, "aws"):
        return elsewhere
    return [rule.finding(secrets[0], f"{len(secrets)} prod Secrets Manager secret(s) and neither a CloudTrail trail nor the organisation trail "
                         "recorded: GetSecretValue calls are logged nowhere this stack knows of")]


@rule(id="SP-AUDIT-005", name="s3-bucket-policy-tls-only", severity=Severity.MEDIUM, resource_types=(BUCKET_POLICY,),
      frameworks=(HIPAA_TRANSMISSION, SOC2_TRANSMISSION),
      remediation="Add a statement: Deny, Principal *, Action s3:*, Resource the bucket and bucket/*, Condition Bool aws:SecureTransport false.")
def BUCKET_TLS_ONLY(rule: Rule, resource: Resource) -> list[Finding]:
    """A bucket policy (the audit trail's bucket) that does not deny plain-HTTP requests lets logs move unencrypted."""
    # A bucket policy denies every request not made over TLS (aws:SecureTransport false) for the bucket and its objects.
    document = parse(resource["props"].get("policy"))
    if document.unknown:
        return [rule.undecided(resource, "policy")]
    for statement in document.statements:
        if statement.allow is not False or not (statement.covers("s3:GetObject") and statement.covers("s3:PutObject")):
            continue
        if any(c.key == "aws:securetransport" and "false" in [v.lower() for v in c.values] for c in statement.conditions) and statement.public:
            return []
    return [rule.finding(resource, "no statement denies requests without TLS: add Deny s3:* for Principal * on the bucket and its "
                         "objects when aws:SecureTransport is false")]


@stack_rule(id="SP-AUDIT-006", name="aws-prod-rotation-failure-alerts", severity=Severity.MEDIUM, resource_types=(ROTATION,),
            frameworks=(SOC2_MONITORING,), context_types=(EVENT_RULE, EVENT_TARGET), applicable=lambda r: is_prod(r, None) is not False,
            remediation="Declare alerts: {} (or alerts.topic_arn): the stack adds the EventBridge rule and its SNS target.")
def ROTATION_ALERTS(rule: StackRule, resources: list[Resource]) -> list[Finding]:
    """A prod secret rotated by a Lambda whose failure (RotationFailed, RotationAbandoned) raises no alert stays on its
    old value until someone notices."""
    # Prod rotations are watched: an EventBridge rule matching RotationFailed and RotationAbandoned has a target.
    rotations = [r for r in resources if r["type"] == ROTATION and is_prod(r, None) is not False]
    if not rotations:
        return []
    targeted = {t["props"].get("rule") for t in resources if t["type"] == EVENT_TARGET}
    for candidate in (r for r in resources if r["type"] == EVENT_RULE):
        pattern, name = str(candidate["props"].get("eventPattern") or ""), candidate["props"].get("name")
        if all(event in pattern for event in ROTATION_FAILURE_EVENTS):
            if name in targeted or is_unknown(name) or any(is_unknown(t) for t in targeted):
                return []
    return [rule.finding(rotations[0], f"{len(rotations)} prod rotation(s) and no EventBridge rule with a target matching Secrets Manager "
                         "RotationFailed and RotationAbandoned: a failed rotation reaches nobody")]


RULES: list[Rule | StackRule] = [KEY_VAULT_DIAGNOSTICS, GCP_DATA_ACCESS_AUDIT, VAULT_AUDIT_DEVICE, AWS_AUDIT_TRAIL, BUCKET_TLS_ONLY,
                                  ROTATION_ALERTS]
