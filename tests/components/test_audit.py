"""Audit in prod (#15 item 4), as planned: the Vault audit device, the created CloudTrail trail with its key and
bucket, the organisation trail recorded, and audit run elsewhere declared for the rules; bad `audit:` input is one
line naming its key path (exit 2) and never echoes what was written."""

from __future__ import annotations

import copy
import json

import pytest
import yaml

from components.spec import parse_stack_spec
from documents.audit import AUDIT_DECLARATION
from offline.run import PROJECT_DIR, read_stack_config
from policy.engine import evaluate
from policy.report import compliance
from policy.rules import ALL_RULES
from policy.settings import settings_for
from tests.conftest import CANARY, by_type, plan_raw, stack_namespace
from tests.fixtures.refusal import refused, spec_problems

EMR = "examples/emr/Pulumi.emr-prod.yaml"
REASON = "Splunk HEC, owned by SecOps, ticket SEC-123"
ORG_TRAIL = "arn:aws:cloudtrail:us-east-1:111122223333:trail/org-trail"
ACCOUNT = "123456789012"


def plan_of(raw, stack_file: str = EMR, stack: str = "emr-prod"):
    """The stack planned with `raw` as its spec and the stack file's other config (its `secure:` values)."""
    _, config, secret_keys = read_stack_config(stack_file)
    return plan_raw(raw, stack, {k: v for k, v in config.items() if not k.startswith("secrets-platform:")}, secret_keys)


@pytest.fixture(scope="module")
def emr():
    return plan_of(stack_namespace(EMR))


@pytest.fixture
def raw():
    return copy.deepcopy(stack_namespace(EMR))


def _problems(raw) -> list[str]:
    lines = spec_problems(raw, "Pulumi.emr-prod.yaml")
    assert all(CANARY not in line for line in lines)
    return lines


# ----- Vault -----

def test_the_vault_audit_device_is_planned_hmacd_and_protected_in_prod(emr):
    (device,) = by_type(emr, "vault:index/audit:Audit").values()
    assert device.inputs["type"] == "file" and device.inputs["path"] == "file"
    assert device.inputs["options"] == {"file_path": "/vault/audit/audit.log", "log_raw": "false", "hmac_accessor": "true"}
    assert device.protect


def test_a_dev_vault_audit_device_is_not_protected(raw):
    raw["environment"] = "dev"
    plan = plan_of(raw, stack="emr-dev")
    (device,) = by_type(plan, "vault:index/audit:Audit").values()
    assert not device.protect


@pytest.mark.parametrize("audit, options", [
    ({"device": "socket", "address": "logs.example.com:9000", "socket_type": "tcp"}, {"address": "logs.example.com:9000", "socket_type": "tcp"}),
    ({"device": "syslog", "facility": "LOCAL0", "tag": "vault-prod", "path": "syslog-prod"}, {"facility": "LOCAL0", "tag": "vault-prod"}),
])
def test_socket_and_syslog_devices_carry_their_own_options_only(raw, audit, options):
    raw["vault"]["audit"] = audit
    spec = parse_stack_spec(raw, "Pulumi.emr-prod.yaml")
    assert spec.vault.audit.options() == {"log_raw": "false", "hmac_accessor": "true", **options}
    assert spec.vault.audit.device_path == audit.get("path", audit["device"])


@pytest.mark.parametrize("mutate, expected", [
    (lambda a: a.update(elsewhere=REASON), "vault.audit.elsewhere: only one of device, elsewhere (got device and elsewhere)"),
    (lambda a: a.pop("file_path"), "vault.audit.file_path: required for device: file (an absolute path on the Vault server, or stdout)"),
    (lambda a: a.update(address="collector:9000"), "vault.audit.address: only for device: socket"),
    (lambda a: a.update(tag="vault"), "vault.audit.tag: only for device: syslog"),
    (lambda a: (a.clear(), a.update(elsewhere=REASON, file_path="/x")), "vault.audit.file_path: only with device"),
    (lambda a: a.clear(), "vault.audit: declare one of device, elsewhere"),
    (lambda a: a.update(file_path=f"relative/{CANARY}"), "vault.audit.file_path: must match"),
    (lambda a: a.update(device=CANARY), "vault.audit.device: must be one of 'file', 'socket' or 'syslog'"),
])
def test_bad_vault_audit_input_is_one_line_naming_its_key_path(raw, mutate, expected):
    mutate(raw["vault"]["audit"])
    (line,) = _problems(raw)
    assert line.startswith(f"Pulumi.emr-prod.yaml: secrets-platform:{expected}")


def test_vault_audit_elsewhere_plans_a_declaration_and_no_device(raw):
    raw["vault"]["audit"] = {"elsewhere": REASON}
    plan = plan_of(raw)
    assert not by_type(plan, "vault:index/audit:Audit")
    (marker,) = by_type(plan, AUDIT_DECLARATION).values()
    assert marker.inputs == {"backend": "vault", "kind": "elsewhere", "reason": REASON} and not marker.custom
    report = evaluate(plan.policy_resources(), settings_for("prod", ALL_RULES))
    assert not report.blocking
    audit = next(c for c in compliance(report, ALL_RULES) if c.control == "HIPAA 164.312(b)")
    assert audit.status == "not assessed"
    assert next(r for r in audit.rules if r.rule_id == "SP-AUDIT-003").reasons == (f"vault audit run elsewhere: {REASON}",)


def test_a_prod_stack_without_vault_audit_fails_the_pack(raw):
    raw["vault"].pop("audit")
    report = evaluate(plan_of(raw).policy_resources(), settings_for("prod", ALL_RULES))
    assert report.blocking and {v.rule_id for v in report.violations} == {"SP-AUDIT-003"}


# ----- AWS -----

def test_the_created_trail_is_multi_region_validated_and_encrypted_with_its_own_key(emr):
    (trail,) = by_type(emr, "aws:cloudtrail/trail:Trail").values()
    (key,) = (k for k in by_type(emr, "aws:kms/key:Key").values() if k.name == "audit-trail-key")
    (bucket,) = by_type(emr, "aws:s3/bucket:Bucket").values()
    assert trail.inputs["name"] == "emr-prod-secrets-audit" and trail.protect
    assert trail.inputs["isMultiRegionTrail"] is trail.inputs["enableLogFileValidation"] is trail.inputs["includeGlobalServiceEvents"] is True
    assert trail.inputs["kmsKeyId"] == key.outputs["arn"] and trail.inputs["s3BucketName"] == bucket.outputs["bucket"] == f"emr-prod-{ACCOUNT}-audit"
    assert key.protect and bucket.protect and key.inputs["enableKeyRotation"] is True
    arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/emr-prod-secrets-audit"
    statements = {s["Sid"]: s for s in json.loads(key.inputs["policy"])["Statement"]}
    encrypt = statements["CloudTrailEncryptsThisTrail"]
    assert encrypt["Principal"] == {"Service": "cloudtrail.amazonaws.com"} and encrypt["Action"] == ["kms:GenerateDataKey*"]
    assert encrypt["Condition"]["StringEquals"] == {"aws:SourceArn": arn}
    assert "kms:Decrypt" not in json.dumps(encrypt) and "kms:*" not in key.inputs["policy"]


def test_the_trail_bucket_is_private_versioned_tls_only_and_writable_by_exactly_this_trail(emr):
    (block,) = by_type(emr, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").values()
    assert all(block.inputs[k] is True for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    (versioning,) = by_type(emr, "aws:s3/bucketVersioning:BucketVersioning").values()
    assert versioning.inputs["versioningConfiguration"] == {"status": "Enabled"}
    (encryption,) = by_type(emr, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration").values()
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
    (policy,) = by_type(emr, "aws:s3/bucketPolicy:BucketPolicy").values()
    statements = json.loads(policy.inputs["policy"])["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    arn = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/emr-prod-secrets-audit"
    assert {json.dumps(s["Principal"]) for s in allows} == {json.dumps({"Service": "cloudtrail.amazonaws.com"})}
    assert all(s["Condition"]["StringEquals"]["aws:SourceArn"] == arn for s in allows)
    assert {s["Action"] for s in allows} == {"s3:GetBucketAcl", "s3:PutObject"}
    (deny,) = (s for s in statements if s["Effect"] == "Deny")
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and deny["Principal"] == "*"


def test_the_organisation_trail_is_recorded_not_created(raw):
    raw["aws"]["audit"] = {"organization_trail_arn": ORG_TRAIL}
    plan = plan_of(raw)
    assert not by_type(plan, "aws:cloudtrail/trail:Trail") and not by_type(plan, "aws:s3/bucket:Bucket")
    (marker,) = by_type(plan, AUDIT_DECLARATION).values()
    assert marker.inputs == {"backend": "aws", "kind": "organization-trail", "trailArn": ORG_TRAIL}
    assert not evaluate(plan.policy_resources(), settings_for("prod", ALL_RULES)).blocking


def test_a_prod_stack_without_aws_audit_fails_the_pack(raw):
    raw["aws"].pop("audit")
    report = evaluate(plan_of(raw).policy_resources(), settings_for("prod", ALL_RULES))
    assert {v.rule_id for v in report.violations} == {"SP-AUDIT-004"} and report.blocking


@pytest.mark.parametrize("audit, expected", [
    ({"organization_trail_arn": "arn:aws:cloudtrail:us-east-1:12345:trail/org"}, "aws.audit.organization_trail_arn: must match"),
    ({"organization_trail_arn": ORG_TRAIL, "trail": {}}, "aws.audit.trail: only one of organization_trail_arn, trail, elsewhere"),
    ({}, "aws.audit: declare one of organization_trail_arn, trail, elsewhere"),
    ({"trail": {"bucket_name": "Not_A_Bucket"}}, "aws.audit.trail.bucket_name: must match"),
])
def test_bad_aws_audit_input_is_one_line_naming_its_key_path(raw, audit, expected):
    raw["aws"]["audit"] = audit
    (line,) = _problems(raw)
    assert line.startswith(f"Pulumi.emr-prod.yaml: secrets-platform:{expected}")


def test_azure_audit_elsewhere_and_a_workspace_are_exclusive():
    raw = copy.deepcopy(stack_namespace("examples/phagen/Pulumi.phagen-prod.yaml"))
    raw["azure"]["audit"] = {"elsewhere": REASON}
    (line,) = _problems(raw)
    assert "secrets-platform:azure.audit: only without log_analytics_workspace_id" in line
    raw["azure"].pop("log_analytics_workspace_id")
    assert parse_stack_spec(raw, "Pulumi.phagen-prod.yaml").azure.audit.elsewhere == REASON


def test_gcp_audit_elsewhere_replaces_the_stacks_audit_config():
    raw = copy.deepcopy(stack_namespace("examples/vibebox/Pulumi.vibebox-prod.yaml"))
    raw["gcp"]["audit"] = {"elsewhere": "organisation-level audit config, owned by the cloud team (CLOUD-42)"}
    plan = plan_of(raw, "examples/vibebox/Pulumi.vibebox-prod.yaml", "vibebox-prod")
    assert not by_type(plan, "gcp:projects/iAMAuditConfig:IAMAuditConfig")
    assert [m.inputs["backend"] for m in by_type(plan, AUDIT_DECLARATION).values()] == ["gcp"]
    report = evaluate(plan.policy_resources(), settings_for("prod", ALL_RULES))
    assert not report.blocking
    statuses = {r.rule_id: r.status for c in compliance(report, ALL_RULES) for r in c.rules}
    assert statuses["SP-AUDIT-002"] == "not assessed"


def test_a_bad_trail_arn_exits_2_with_one_line_and_no_value(tmp_path):
    document = yaml.safe_load((PROJECT_DIR / "Pulumi.prod.yaml").read_text())
    document["config"]["secrets-platform:aws"]["audit"] = {"organization_trail_arn": f"arn:aws:cloudtrail:{CANARY}"}
    stderr = refused(tmp_path / "Pulumi.broken.yaml", document)
    assert CANARY not in stderr
    (line,) = stderr.splitlines()
    assert line.startswith("Pulumi.broken.yaml: secrets-platform:aws.audit.organization_trail_arn: must match")
