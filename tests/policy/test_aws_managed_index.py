"""The index of AWS managed policies that grant broad secret or key access (policy/data/aws_managed_broad.json):
regenerated from moto's copy of all AWS managed policies it must equal the committed file, the pack reads it
without moto, and SP-IAM-009 refuses attachments of the policies it lists, whatever their name."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from documents.iam import parse
from offline.run import PROJECT_DIR
from policy.data import aws_managed
from policy.rules import aws_iam
from tests.policy.rules.builders import decided, document, resource, run


def test_the_committed_index_is_what_moto_gives():
    assert aws_managed.INDEX.read_text(encoding="utf-8") == aws_managed.render(aws_managed.build()), \
        "stale index: run .venv/bin/python -m policy.data.aws_managed"


def test_the_pack_loads_without_moto():
    code = "import sys, policy.rules.aws_iam as m; m._broad_secret_access(); assert 'moto' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, check=True)


def test_broad_grants_reads_documents_as_iam_does():
    allow_all = {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt"], "Resource": "*"}
    assert aws_managed.broad_grants(parse(document(allow_all))) == ["secretsmanager:GetSecretValue", "kms:Decrypt"]
    # one secret, a condition, or an explicit Deny: not broad
    assert aws_managed.broad_grants(parse(document({**allow_all, "Resource": "arn:aws:secretsmanager:us-east-1:111122223333:secret:x-AbCdEf"}))) == []
    assert aws_managed.broad_grants(parse(document({**allow_all, "Condition": {"StringLike": {"kms:ViaService": "backup.*.amazonaws.com"}}}))) == []
    assert aws_managed.broad_grants(parse(document(allow_all, {**allow_all, "Effect": "Deny", "Action": "kms:*"}))) == ["secretsmanager:GetSecretValue"]


@pytest.mark.parametrize("condition", [
    {"StringLike": {"kms:ViaService": "secretsmanager.*.amazonaws.com"}},  # one service, any region (AmazonEVSServiceRolePolicy)
    {"StringEquals": {"kms:ViaService": ["ec2.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com"]}},  # named services only
    {"Null": {"aws:ResourceTag/EvsAccess": "false"}},  # only resources carrying the service's tag
    {"StringLike": {"secretsmanager:ResourceTag/RedshiftDataFullAccess": "*"}},  # AmazonRedshiftFullAccess: the tag key must be present
    {"StringNotEquals": {"aws:ResourceAccount": "${aws:PrincipalAccount}"}},  # other accounts' keys only
])
def test_conditions_that_really_narrow_keep_a_statement_out(condition):
    statement = {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "kms:Decrypt"], "Resource": "*", "Condition": condition}
    assert aws_managed.broad_grants(parse(document(statement))) == []


@pytest.mark.parametrize("condition", [
    {"StringLike": {"kms:ViaService": "*.amazonaws.com"}},  # every service
    {"StringLike": {"kms:ViaService": ["secretsmanager.*.amazonaws.com", "*"]}},
    {"StringEqualsIfExists": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}},  # passes when absent
    {"StringLike": {"aws:PrincipalTag/team": "*"}},  # says nothing about the key
    {"Null": {"aws:ResourceTag/team": "true"}},  # resources without the tag: every untagged key
])
def test_conditions_that_narrow_nothing_leave_the_statement_broad(condition):
    statement = {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": condition}
    assert aws_managed.broad_grants(parse(document(statement))) == ["kms:Decrypt"]


@pytest.mark.parametrize("arn", [
    "arn:aws:iam::aws:policy/AWSSecretsManagerClientReadOnlyAccess",  # not admin-class, but GetSecretValue on every secret
    "arn:aws:iam::aws:policy/job-function/SystemAdministrator",
    "arn:aws:iam::aws:policy/SecretsManagerReadWrite",
    # ssm:Get* on '*': GetParametersByPath returns every SecureString of the account decrypted
    # (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMReadOnlyAccess.html; ReadOnlyAccess holds the same)
    "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess",
    "arn:aws:iam::aws:policy/ReadOnlyAccess",
])
def test_attaching_a_broad_managed_policy_is_caught(arn):
    name = arn.rpartition("/")[2]
    for fixture in (resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", role="x", policyArn=arn),
                    resource("aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment", "ps", managedPolicyArn=arn)):
        messages = decided(run(aws_iam, fixture), aws_iam.NO_BROAD_MANAGED_POLICY.id)
        assert messages and f"the AWS managed policy {name}, which grants " in messages[0]
        assert "on every secret, key or SSM parameter of the account" in messages[0]


def test_managed_policies_that_grant_no_secret_access_pass():
    # AmazonSSMManagedInstanceCore: AWS's minimum instance profile for Systems Manager (GetParameter by name, no hierarchy reads)
    for name in ("job-function/ViewOnlyAccess", "service-role/AWSLambdaBasicExecutionRole", "SecurityAudit", "AmazonSSMManagedInstanceCore"):
        fixture = resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", role="x", policyArn=f"arn:aws:iam::aws:policy/{name}")
        assert run(aws_iam, fixture) == []


def test_the_index_is_compact_and_names_only_real_policies():
    index = json.loads(aws_managed.INDEX.read_text(encoding="utf-8"))
    assert "SecretsManagerReadWrite" in index and "ViewOnlyAccess" not in index and "AmazonSSMManagedInstanceCore" not in index
    assert all(set(actions) <= {a for probes in aws_managed.PROBES.values() for a in probes} for actions in index.values())
