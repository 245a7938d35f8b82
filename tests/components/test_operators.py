"""Operators (#15 item 2): people and CI identities the stack does not own write hand-rotated secrets through
grants on what the stack does own, exactly, and show in the access matrix. Vault writes with cas_required are
proven on OpenBao in tests/vault/test_operator_writes.py."""

from __future__ import annotations

import copy
import json

import pytest

from components.config import parse_stack_spec
from offline.access import access_matrix
from offline.access.model import EFFECTIVE, READ, WRITE
from tests.conftest import by_type, plan_raw, stack_namespace
from tests.fixtures.refusal import spec_problems

SOURCE = "Pulumi.prod.yaml"
PHAGEN = "examples/phagen/Pulumi.phagen-prod.yaml"
OPERATOR_ROLE = "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_SecretsOperator_0123456789abcdef"
BREAK_GLASS_ROLE = "arn:aws:iam::123456789012:role/break-glass"
KEY = "aws:kms/key:Key"


def problems(raw) -> list[str]:
    return spec_problems(raw, SOURCE)


# --- the spec ------------------------------------------------------------------------------------------------

def test_a_hand_rotated_secret_without_a_writer_is_a_spec_error(prod_raw):
    prod_raw["operators"][0]["writes"].remove("smtp")
    index = next(i for i, s in enumerate(prod_raw["secrets"]) if s["name"] == "smtp")
    assert problems(prod_raw) == [
        f"{SOURCE}: secrets-platform:secrets[{index}] (smtp).rotation.kind: 'smtp' is rotated by hand but nobody may write it: "
        "add it to an operator's writes (or a workload's)"
    ]


def test_a_workload_writer_is_enough(prod_raw):
    prod_raw["operators"][0]["writes"].remove("smtp")
    prod_raw["workloads"][0].setdefault("writes", []).append("smtp")
    assert parse_stack_spec(prod_raw, SOURCE).operators[0].writes.count("smtp") == 0


@pytest.mark.parametrize("mutate, expected", [
    (lambda o: o.update(writes=["nope"]), "operators[0] (secrets-operators).writes[0]: unknown secret 'nope'"),
    (lambda o: o.update(aws_role_arn="arn:aws:iam::999999999999:role/ops"), "operators[0] (secrets-operators).aws_role_arn: must be a role of aws.account_id 123456789012 (got account 999999999999)"),
    (lambda o: o.update(aws_role_arn=None, gcp_group="ops@example.com"), "operators[0] (secrets-operators).writes[0]: 'redis' is a aws secret: set operators[0].aws_role_arn"),
    (lambda o: o.update(aws_role_arn=None, gcp_group="ops@example.com", break_glass=True), "operators[0] (secrets-operators).break_glass: needs aws_role_arn"),
    (lambda o: o.update(aws_role_arn=None), "operators[0] (secrets-operators): names no identity"),
])
def test_operator_errors_name_the_key_path(prod_raw, mutate, expected):
    mutate(prod_raw["operators"][0])
    assert any(expected in line for line in problems(prod_raw)), problems(prod_raw)


# --- AWS: the secret's resource policy and its key, nothing attached to a role the stack does not own ----------

@pytest.fixture(scope="module")
def aws_plan():
    raw = copy.deepcopy(stack_namespace("prod"))
    raw["operators"].append({"name": "break-glass", "aws_role_arn": BREAK_GLASS_ROLE, "reads": ["pii-encryption"], "break_glass": True})
    return plan_raw(raw, "prod")


def _statements(plan, type_, name):
    return json.loads(by_type(plan, type_)[name].inputs["policy"])["Statement"]


@pytest.mark.drill
def test_operator_writes_exactly_its_secrets_through_the_key_without_decrypt(aws_plan):
    statements = _statements(aws_plan, KEY, "shared-key")
    operator = [s for s in statements if s["Principal"]["AWS"] == OPERATOR_ROLE]
    assert len(operator) == 1
    (statement,) = operator
    assert statement["Action"] == ["kms:GenerateDataKey"]  # PutSecretValue's data key; never kms:Decrypt
    regions = ("us-east-1", "us-west-2")  # the shared key has a replica
    assert statement["Condition"]["StringEquals"]["kms:ViaService"] == [f"secretsmanager.{r}.amazonaws.com" for r in regions]
    assert sorted(statement["Condition"]["StringLike"]["kms:EncryptionContext:SecretARN"]) == sorted(
        f"arn:aws:secretsmanager:{r}:123456789012:secret:autolytiq/prod/{n}-??????" for n in ("redis", "smtp", "resend", "external-apis") for r in regions)
    policy = _statements(aws_plan, "aws:secretsmanager/secretPolicy:SecretPolicy", "smtp-operators")
    assert [(s["Principal"]["AWS"], s["Action"]) for s in policy] == [
        (OPERATOR_ROLE, ["secretsmanager:DescribeSecret", "secretsmanager:PutSecretValue"])]
    assert policy[0]["Resource"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:autolytiq/prod/smtp-")
    assert by_type(aws_plan, "aws:secretsmanager/secretPolicy:SecretPolicy")["smtp-operators"].inputs["blockPublicPolicy"] is True
    # A secret no operator names gets no resource policy.
    assert "database-operators" not in by_type(aws_plan, "aws:secretsmanager/secretPolicy:SecretPolicy")


def test_operators_are_principals_in_the_access_matrix(aws_plan):
    matrix = access_matrix(aws_plan.resources, aws_plan.stack)
    operator = matrix.access(f"aws:{OPERATOR_ROLE}")
    assert operator == {(f"aws:autolytiq/prod/{n}", WRITE) for n in ("redis", "pii-encryption", "smtp", "resend", "external-apis")}
    writes = [e for e in matrix.entries if e.principal == f"aws:{OPERATOR_ROLE}"]
    assert {e.status for e in writes} == {EFFECTIVE}
    assert any("kms:GenerateDataKey" in hop for e in writes for hop in e.chains[0])


@pytest.mark.drill
def test_break_glass_reads_only_with_mfa(aws_plan):
    key = _statements(aws_plan, KEY, "pii-encryption-key")
    (statement,) = [s for s in key if s["Principal"]["AWS"] == BREAK_GLASS_ROLE]
    assert statement["Action"] == ["kms:Decrypt"]
    assert statement["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
    (secret,) = [s for s in _statements(aws_plan, "aws:secretsmanager/secretPolicy:SecretPolicy", "pii-encryption-operators")
                 if s["Principal"]["AWS"] == BREAK_GLASS_ROLE]
    assert secret["Action"] == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert secret["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    # The matrix does not call an MFA-conditioned read effective: it depends on how the session signed in.
    matrix = access_matrix(aws_plan.resources, aws_plan.stack)
    reads = [e for e in matrix.entries if e.principal == f"aws:{BREAK_GLASS_ROLE}" and e.capability == READ]
    assert reads and all(e.status != EFFECTIVE for e in reads)


# --- Azure: writes were silently ignored (#15) -----------------------------------------------------------------

def test_azure_workload_writes_get_secrets_officer_at_the_secret_scope():
    raw = copy.deepcopy(stack_namespace(PHAGEN))
    analytics = next(w for w in raw["workloads"] if w["name"] == "phagen-analytics")
    analytics["writes"] = ["analytics-db-password"]  # before: exit 0 and no role assignment
    plan = plan_raw(raw, "phagen-prod")
    assignments = by_type(plan, "azure-native:authorization:RoleAssignment")
    write = assignments["azure-phagen-analytics-writes-phagen-prod-analytics-db-password"].inputs
    assert write["roleDefinitionId"].endswith("/b86a8fe4-44ce-4948-aee5-eccb2c155cd7")  # Key Vault Secrets Officer
    assert write["scope"].endswith("/secrets/phagen-prod-analytics-db-password")
    read = assignments["azure-phagen-analytics-reads-phagen-prod-analytics-db-password"].inputs
    assert read["roleDefinitionId"].endswith("/4633458b-17de-408a-b874-0445c86b69e6")  # unchanged: Secrets User
    assert read["roleAssignmentName"] != write["roleAssignmentName"]
    matrix = access_matrix(plan.resources, plan.stack)
    assert ("azure:phagen-vault/phagen-prod-analytics-db-password", WRITE) in matrix.access("azure-identity:phagen-prod-phagen-analytics")


def test_azure_operator_group_writes_at_the_secret_scope():
    plan = plan_raw(copy.deepcopy(stack_namespace(PHAGEN)), "phagen-prod")
    operator = {name: r.inputs for name, r in by_type(plan, "azure-native:authorization:RoleAssignment").items() if "operator" in name}
    assert len(operator) == 3
    for inputs in operator.values():
        assert inputs["principalType"] == "Group" and inputs["principalId"] == "7b3e9c1d-2a4f-4e6b-9c8d-0f1e2d3c4b5a"
        assert "/secrets/" in inputs["scope"] and inputs["roleDefinitionId"].endswith("/b86a8fe4-44ce-4948-aee5-eccb2c155cd7")
