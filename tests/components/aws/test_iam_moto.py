"""The generated documents are accepted by IAM's and KMS's APIs (moto validates policy grammar)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from tests.conftest import by_type


@pytest.fixture
def aws():
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1"), boto3.client("kms", region_name="us-east-1")


@pytest.mark.parametrize("stack_plan", ["dev_plan", "prod_plan"])
def test_iam_accepts_every_generated_document(request, aws, stack_plan):
    iam, kms = aws
    plan = request.getfixturevalue(stack_plan)
    roles = by_type(plan, "aws:iam/role:Role")
    for role in roles.values():
        iam.create_role(RoleName=role.inputs["name"], AssumeRolePolicyDocument=role.inputs["assumeRolePolicy"])
    policies = by_type(plan, "aws:iam/rolePolicy:RolePolicy")
    for policy in policies.values():
        iam.create_policy(PolicyName=f"check-{policy.name}", PolicyDocument=policy.inputs["policy"])
        iam.put_role_policy(RoleName=policy.inputs["role"], PolicyName=policy.inputs["name"], PolicyDocument=policy.inputs["policy"])
    for key in by_type(plan, "aws:kms/key:Key").values():
        created = kms.create_key(Policy=key.inputs["policy"], Description=key.inputs["description"])
        assert kms.get_key_policy(KeyId=created["KeyMetadata"]["KeyId"], PolicyName="default")["Policy"] == key.inputs["policy"]
    # api, the stores of autolytiq and autolytiq-workers, three rotation functions
    assert len(iam.list_roles()["Roles"]) == len(roles) == 6


def test_moto_rejects_a_broken_document(aws):
    """The check above can fail: a malformed document is refused."""
    iam, _ = aws
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_policy(PolicyName="broken", PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Resource": "*"}]}')
