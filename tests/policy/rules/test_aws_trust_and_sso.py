"""AWS additions of issue #16: account-root trust (SP-TRUST-004/005), IAM Identity Center permission sets as identity
policies, and the false alarms dropped on AWS's own least-privilege forms (self-service on `${aws:username}`,
`kms:ReEncrypt*`/`kms:GenerateDataKey*` with kms:ViaService, an Allow an explicit Deny cancels, IAM actions on AWS
managed policy ARNs). Each fixture cites the AWS document it is taken from."""

from __future__ import annotations

import pytest

from policy.rules import aws_iam, aws_kms
from policy.engine import evaluate
from policy.settings import settings_for
from policy.rules import ALL_RULES
from tests.policy.rules.builders import ACCOUNT, UNKNOWN, decided, document, resource, run

OTHER = "444455556666"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/emr-prod-api"
KEY_ARN = f"arn:aws:kms:us-west-2:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def role(*trust: dict, **props) -> dict:
    return resource(aws_iam.ROLE, "api-role", name="emr-prod-api", assumeRolePolicy=document(*trust), **props)


def assume(principal, **more) -> dict:
    return {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole", **more}


# --- trust of account roots ----------------------------------------------------------------------

# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html ("confused deputy"):
# the third party's account trusted with the external id it assigned.
THIRD_PARTY = assume(OTHER, Condition={"StringEquals": {"sts:ExternalId": "Unique ID Assigned by Example Corp"}})
# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid
ORG_BOUND = assume(f"arn:aws:iam::{OTHER}:root", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}})
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user.html: a named role of the other account.
NAMED_ROLE = assume(f"arn:aws:iam::{OTHER}:role/DeployRole")


@pytest.mark.parametrize("statement", [THIRD_PARTY, ORG_BOUND, NAMED_ROLE], ids=["external-id", "principal-org-id", "named-role"])
def test_the_documents_cross_account_forms_pass(statement):
    assert run(aws_iam, role(statement, arn=ROLE_ARN)) == []


@pytest.mark.parametrize("principal", [OTHER, f"arn:aws:iam::{OTHER}:root", [NAMED_ROLE["Principal"]["AWS"], OTHER]])
def test_another_accounts_root_without_external_id_is_caught(principal):
    messages = decided(run(aws_iam, role(assume(principal), arn=ROLE_ARN)), aws_iam.TRUST_OTHER_ACCOUNT_ROOT.id)
    assert messages == [f"assumeRolePolicy statement 0: trusts the root of account {OTHER} (another account) with no sts:ExternalId "
                        "or principal condition: every principal that account allows can assume the role; name the role ARNs, "
                        "or add sts:ExternalId (third parties) or aws:PrincipalArn / aws:PrincipalOrgID"]


def test_a_wildcard_external_id_binds_nothing():
    statement = assume(OTHER, Condition={"StringLike": {"sts:ExternalId": "*"}})
    assert decided(run(aws_iam, role(statement, arn=ROLE_ARN)), aws_iam.TRUST_OTHER_ACCOUNT_ROOT.id)


def test_own_account_root_is_advisory():
    """The role's account is read from its ARN (or boundary, customer policies, OIDC provider)."""
    findings = run(aws_iam, role(assume(f"arn:aws:iam::{ACCOUNT}:root"), permissionsBoundary=f"arn:aws:iam::{ACCOUNT}:policy/boundary"))
    assert {f.rule_id for f in findings} == {aws_iam.TRUST_OWN_ACCOUNT_ROOT.id}
    report = evaluate(findings and [role(assume(f"arn:aws:iam::{ACCOUNT}:root"), arn=ROLE_ARN)], settings_for("prod", ALL_RULES), (aws_iam.TRUST_OWN_ACCOUNT_ROOT,))
    assert [v.enforcement.value for v in report.violations] == ["advisory"] and not report.blocking


def test_a_root_not_shown_to_be_the_roles_own_is_treated_as_another_accounts():
    assert {f.rule_id for f in run(aws_iam, role(assume(ACCOUNT)))} == {aws_iam.TRUST_OTHER_ACCOUNT_ROOT.id}


def test_unknown_condition_on_a_root_trust_is_undecided():
    findings = run(aws_iam, role(assume(OTHER, Condition=UNKNOWN), arn=ROLE_ARN))
    assert findings and all(f.undecided for f in findings if f.rule_id == aws_iam.TRUST_OTHER_ACCOUNT_ROOT.id)


# --- IAM Identity Center -------------------------------------------------------------------------

def test_permission_set_inline_policy_is_an_identity_policy():
    fixture = resource(aws_iam.PERMISSION_SET_INLINE_POLICY, "ops", instanceArn="arn:aws:sso:::instance/ssoins-1", permissionSetArn="ps",
                       inlinePolicy=document({"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                                              "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:ops/db-AbCdEf"}))
    assert run(aws_iam, fixture) == []
    broad = resource(aws_iam.PERMISSION_SET_INLINE_POLICY, "ops", inlinePolicy=document({"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}))
    assert decided(run(aws_iam, broad), aws_iam.NO_SERVICE_WILDCARD.id) == [
        "inlinePolicy statement 0: Action 'secretsmanager:*' allows every secretsmanager action, present and future: list the exact actions needed"]


@pytest.mark.parametrize(("type_", "field", "value"), [
    ("aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment", "managedPolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"),
    ("aws:ssoadmin/managedPolicyAttachmentsExclusive:ManagedPolicyAttachmentsExclusive", "managedPolicyArns", ["arn:aws:iam::aws:policy/PowerUserAccess"]),
])
def test_permission_set_managed_attachments_are_checked(type_, field, value):
    assert decided(run(aws_iam, resource(type_, "ops-admin", **{field: value})), aws_iam.NO_BROAD_MANAGED_POLICY.id)


# --- AWS's own least-privilege forms -------------------------------------------------------------

# https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage.html
SELF_MANAGE = [
    {"Sid": "AllowViewAccountInfo", "Effect": "Allow", "Action": ["iam:GetAccountPasswordPolicy", "iam:ListVirtualMFADevices"], "Resource": "*"},
    {"Sid": "AllowManageOwnPasswords", "Effect": "Allow", "Action": ["iam:ChangePassword", "iam:GetUser"], "Resource": "arn:aws:iam::*:user/${aws:username}"},
    {"Sid": "AllowManageOwnAccessKeys", "Effect": "Allow",
     "Action": ["iam:CreateAccessKey", "iam:DeleteAccessKey", "iam:ListAccessKeys", "iam:UpdateAccessKey", "iam:GetAccessKeyLastUsed"],
     "Resource": "arn:aws:iam::*:user/${aws:username}"},
    {"Sid": "AllowManageOwnVirtualMFADevice", "Effect": "Allow", "Action": ["iam:CreateVirtualMFADevice"], "Resource": "arn:aws:iam::*:mfa/*"},
    {"Sid": "AllowManageOwnUserMFA", "Effect": "Allow",
     "Action": ["iam:DeactivateMFADevice", "iam:EnableMFADevice", "iam:ListMFADevices", "iam:ResyncMFADevice"],
     "Resource": "arn:aws:iam::*:user/${aws:username}"},
    {"Sid": "DenyAllExceptListedIfNoMFA", "Effect": "Deny",
     "NotAction": ["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:GetUser", "iam:ListMFADevices", "iam:ListVirtualMFADevices",
                   "iam:ResyncMFADevice", "sts:GetSessionToken"],
     "Resource": "*", "Condition": {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}},
]
# https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service (the statement, as an identity policy)
KMS_VIA_SERVICE = {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
                   "Resource": KEY_ARN, "Condition": {"StringEquals": {"kms:ViaService": ["ec2.us-west-2.amazonaws.com", "rds.us-west-2.amazonaws.com"]}}}


def policy(*statements: dict) -> dict:
    return resource(aws_iam.USER_POLICY, "self-service", user="alice", policy=document(*statements))


@pytest.mark.parametrize("statements", [SELF_MANAGE, [KMS_VIA_SERVICE]], ids=["self-manage-credentials", "kms-via-service"])
def test_aws_documents_least_privilege_forms_pass(statements):
    assert run(aws_iam, policy(*statements)) == []


def test_kms_key_policy_use_patterns_with_via_service_pass():
    statement = {**KMS_VIA_SERVICE, "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ExampleRole"}}
    key = resource(aws_kms.KEY, "key", policy=document(statement), enableKeyRotation=True)
    assert aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id not in {f.rule_id for f in run(aws_kms, key)}
    # Without kms:ViaService the patterns are still key use, not administration (AWS's default key policy grants them so):
    # on a key of ours, using it outside Secrets Manager is SP-KMS-003's finding, not a wildcard.
    without_via = resource(aws_kms.KEY, "key", policy=document({**statement, "Condition": {}}), enableKeyRotation=True,
                           tags={"managed-by": aws_kms.OURS})
    findings = run(aws_kms, without_via)
    assert decided(findings, aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id) == []
    assert decided(findings, aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id)


@pytest.mark.parametrize(("statement", "rule"), [
    # Another user's keys are escalation: the key is theirs to use.
    ({"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": f"arn:aws:iam::{ACCOUNT}:user/*"}, aws_iam.NO_PRIVILEGE_ESCALATION),
    # Attaching a policy to oneself is escalation, ${aws:username} or not.
    ({"Effect": "Allow", "Action": "iam:AttachUserPolicy", "Resource": "arn:aws:iam::*:user/${aws:username}"}, aws_iam.NO_PRIVILEGE_ESCALATION),
    # Without kms:ViaService, the pattern stays a partial wildcard.
    ({**KMS_VIA_SERVICE, "Condition": {}}, aws_iam.NO_SENSITIVE_PARTIAL_WILDCARD),
    # Customer managed policies can be rewritten.
    ({"Effect": "Allow", "Action": "iam:CreatePolicyVersion", "Resource": f"arn:aws:iam::{ACCOUNT}:policy/*"}, aws_iam.NO_PRIVILEGE_ESCALATION),
])
def test_mutations_of_the_least_privilege_forms_are_caught(statement, rule):
    assert decided(run(aws_iam, policy(statement)), rule.id)


def test_iam_actions_on_aws_managed_policies_change_nothing():
    statement = {"Effect": "Allow", "Action": ["iam:GetPolicy", "iam:*PolicyVersion", "iam:CreatePolicyVersion"],
                 "Resource": ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess"]}
    assert run(aws_iam, policy(statement)) == []


def test_an_allow_the_same_document_denies_grants_nothing():
    allow = {"Effect": "Allow", "Action": ["iam:*", "kms:*"], "Resource": "*"}
    deny = {"Effect": "Deny", "Action": ["iam:*", "kms:*"], "Resource": "*"}
    assert run(aws_iam, policy(allow, deny)) == []
    # A Deny that leaves part of the Allow (one service, a condition) cancels nothing.
    assert decided(run(aws_iam, policy(allow, {**deny, "Action": "iam:*"})), aws_iam.NO_SERVICE_WILDCARD.id)
    assert decided(run(aws_iam, policy(allow, {**deny, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}})),
                   aws_iam.NO_SERVICE_WILDCARD.id)
