"""KMS key policies and Secrets Manager resource policies: our own key policy as the compliant fixture,
one mutation per violation, the untagged-key decision, unknowns at preview, malformed documents, our own
planned output, and a canary."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings

from components.aws.kms import KeyUser, key_policy
from policy.rules import aws_kms
from tests.conftest import CANARY
from tests.policy.rules.builders import (
    ACCOUNT,
    DELETE,
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

ROOT = f"arn:aws:iam::{ACCOUNT}:root"
API_ROLE = f"arn:aws:iam::{ACCOUNT}:role/emr-prod-api"
SECRET_ARN = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:emr/prod/database-AbCdEf"
TAGS = {"environment": "prod", "owner": "emr-platform", "classification": "high", "managed-by": "secrets-platform"}


def key_statements() -> list[dict]:
    """The policy our EncryptionKey writes: root administers, the API role decrypts via Secrets Manager."""
    users = [(KeyUser("api", API_ROLE, ["emr/prod/database"], "read"), API_ROLE)]
    return json.loads(key_policy(ACCOUNT, ["us-east-1", "us-west-2"], users))["Statement"]


def key(statements: list[dict] | None = None, type_: str = aws_kms.KEY, **props) -> dict:
    defaults = {"description": "emr prod key", "enableKeyRotation": True, "rotationPeriodInDays": 365, "deletionWindowInDays": 30,
                "policy": document(*(key_statements() if statements is None else statements)), "tags": dict(TAGS)}
    return resource(type_, "shared-key", **{**defaults, **props})


def secret_statements() -> list[dict]:
    return [{"Sid": "ReadApi", "Effect": "Allow", "Principal": {"AWS": API_ROLE}, "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
            {"Sid": "DenyOtherAccounts", "Effect": "Deny", "Principal": "*", "Action": "secretsmanager:*", "Resource": "*",
             "Condition": {"StringNotEquals": {"aws:PrincipalAccount": ACCOUNT}}}]


def secret_policy(statements: list[dict] | None = None, **props) -> dict:
    defaults = {"secretArn": SECRET_ARN, "blockPublicPolicy": True, "policy": document(*(statements or secret_statements()))}
    return resource(aws_kms.SECRET_POLICY, "database-policy", **{**defaults, **props})


def changed(statements: list[dict], index: int, **fields) -> list[dict]:
    out = copy.deepcopy(statements)
    for name, value in fields.items():
        if value is None:
            out[index].pop(name, None)
        else:
            out[index][name] = value
    return out


def test_compliant_fixtures_are_silent():
    fixtures = [key(), key(type_=aws_kms.REPLICA_KEY), resource(aws_kms.KEY_POLICY, "kp", keyId="k", policy=document(*key_statements())),
                secret_policy(), key(policy=None), resource(aws_kms.SECRET, "s", name="emr/prod/x", policy="{}"),
                resource(aws_kms.SECRET, "t", name="emr/prod/y", policy=document(*secret_statements(), as_json=False)),
                key(customerMasterKeySpec="RSA_2048", keyUsage="SIGN_VERIFY", enableKeyRotation=False)]
    assert run(aws_kms, *fixtures) == []


def test_rules_are_silent_on_our_own_output():
    assert {aws_kms.KEY, aws_kms.REPLICA_KEY, aws_kms.SECRET} <= own_types()
    for resources in own_stacks():
        assert run(aws_kms, *resources) == []


def test_the_aws_default_key_policy_is_silent():
    default = [{"Sid": "Enable IAM User Permissions", "Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}]
    assert run(aws_kms, key(default), key([{**default[0], "Principal": {"AWS": ACCOUNT}}])) == []


def test_the_aws_default_key_policy_users_statement_is_silent_on_a_key_of_another_owner():
    """key-policy-default.html, "Allows key users to use the KMS key": kms:ReEncrypt* and kms:GenerateDataKey* without
    kms:ViaService match only encryption with this key. A wildcard that reaches administration still fires."""
    users = {"Sid": "Allow use of the key", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ExampleRole"},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"], "Resource": "*"}
    default = {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}
    assert run(aws_kms, key([default, users], tags={"managed-by": "someone-else"})) == []
    widened = {**users, "Action": [*users["Action"], "kms:Put*"]}
    messages = decided(run(aws_kms, key([default, widened], tags={"managed-by": "someone-else"})), aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id)
    assert messages and "kms:Put*" in messages[0] and "ReEncrypt" not in messages[0]


def test_the_aws_default_key_administrators_statement_is_silent():
    """key-policy-default.html, "Allows key administrators to administer the KMS key": the console's wildcard patterns,
    alone in a statement to a named role, are the administrators' least privilege. Mixed with key use, or widened to
    kms:*, they are not that form."""
    admins = {"Sid": "Allow access for Key Administrators", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/ExampleAdminRole"},
              "Action": ["kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*", "kms:Revoke*", "kms:Disable*",
                         "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource", "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion",
                         "kms:RotateKeyOnDemand"], "Resource": "*"}
    default = {"Effect": "Allow", "Principal": {"AWS": ROOT}, "Action": "kms:*", "Resource": "*"}
    foreign = {"tags": {"managed-by": "someone-else"}}
    assert run(aws_kms, key([default, admins], **foreign)) == []
    for widened in ({**admins, "Action": [*admins["Action"], "kms:Decrypt"]}, {**admins, "Action": "kms:*"}):
        assert decided(run(aws_kms, key([default, widened], **foreign)), aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id)


# --- mutations ---------------------------------------------------------------------------------

PUBLIC = {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*"}

KEY_MUTATIONS = [
    (aws_kms.RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL.id, [*key_statements(), PUBLIC], "statement 2: Principal '*'"),
    (aws_kms.RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL.id, [*key_statements(), {**PUBLIC, "Principal": {"AWS": ["*"]}}], "Principal '*'"),
    (aws_kms.RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL.id, [*key_statements(), {**PUBLIC, "Principal": {"AWS": "*"},
                                        "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}}], "Principal '*'"),
    (aws_kms.RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL.id, [*key_statements(), {**PUBLIC, "Principal": {"AWS": "*"},
                                        "Condition": {"StringEqualsIfExists": {"kms:CallerAccount": ACCOUNT}}}], "Principal '*'"),
    (aws_kms.RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL.id, [*key_statements(), {"Effect": "Allow", "NotPrincipal": {"AWS": ROOT}, "Action": "kms:Decrypt", "Resource": "*"}], "NotPrincipal"),
    (aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id, changed(key_statements(), 1, Action="kms:*"), f"statement 1: grants kms:* to {API_ROLE}"),
    (aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id, changed(key_statements(), 1, Action=["kms:Decrypt", "*"]), "grants *"),
    (aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id, changed(key_statements(), 1, Action=["kms:Decrypt", "kms:Put*"]), "grants kms:Put*"),
    (aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id, changed(key_statements(), 1, Action=None, NotAction="kms:ScheduleKeyDeletion"), "grants NotAction"),
    (aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id, changed(key_statements(), 0, Principal={"AWS": [ROOT, "arn:aws:iam::123456789012:role/admin"]}, Action="kms:*"),
     "grants kms:* to arn:aws:iam::123456789012:role/admin"),
    (aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id, changed(key_statements(), 0, Principal={"Service": "logs.amazonaws.com"}, Action="kms:*"), "to logs.amazonaws.com"),
    (aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id, changed(key_statements(), 1, Condition=None), "allows kms:Decrypt to " + API_ROLE),
    (aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id, changed(key_statements(), 1, Condition={"StringEquals": {"kms:ViaService": "ec2.us-east-1.amazonaws.com"}}), "kms:ViaService"),
    (aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id, changed(key_statements(), 1, Condition={"StringEqualsIfExists": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}}),
     "kms:ViaService"),
    (aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id, changed(key_statements(), 1, Action="kms:GenerateDataKey*", Condition=None), "kms:GenerateDataKey, kms:GenerateDataKeyWithoutPlaintext"),
    (aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id, changed(key_statements(), 1, Action="kms:CreateGrant", Condition={"Bool": {"kms:GrantIsForAWSResource": "true"}}), "kms:CreateGrant"),
]


@pytest.mark.parametrize(("rule_id", "statements", "expected"), KEY_MUTATIONS)
def test_each_key_policy_violation_is_caught(rule_id, statements, expected):
    for fixture in (key(statements), key(statements, type_=aws_kms.REPLICA_KEY)):
        messages = decided(run(aws_kms, fixture), rule_id)
        assert messages and all(m.startswith("policy statement ") for m in messages)
        assert any(expected in m for m in messages), messages


@pytest.mark.parametrize(("rule_id", "statements"), [(r, s) for r, s, _ in KEY_MUTATIONS if r in (aws_kms.RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL.id, aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id)])
def test_public_and_wildcard_rules_also_read_secret_and_key_policies(rule_id, statements):
    for fixture in (resource(aws_kms.KEY_POLICY, "kp", keyId="k", policy=document(*statements)),
                    secret_policy(statements), resource(aws_kms.SECRET, "s", name="emr/prod/db", policy=document(*statements))):
        assert decided(run(aws_kms, fixture), rule_id)


def test_secret_policy_wildcards():
    messages = decided(run(aws_kms, secret_policy(changed(secret_statements(), 0, Action="secretsmanager:*"))), aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id)
    assert messages == [f"policy statement 0: grants secretsmanager:* to {API_ROLE}: only the account root may hold wildcard actions; "
                        "list the exact actions this principal needs"]


def test_read_only_patterns_and_account_bound_public_statements_pass():
    statements = [*key_statements(),
                  {"Effect": "Allow", "Principal": {"AWS": API_ROLE}, "Action": ["kms:Describe*", "kms:List*", "kms:GetKeyRotationStatus"], "Resource": "*"},
                  {**PUBLIC, "Principal": {"AWS": "*"}, "Action": "kms:DescribeKey",
                   "Condition": {"StringEquals": {"kms:CallerAccount": ACCOUNT}}}]
    assert run(aws_kms, key(statements)) == []


def test_untagged_or_foreign_keys_need_no_via_service():
    """Decision: only keys our components tag managed-by=secrets-platform are Secrets-Manager-only;
    EBS/S3/RDS keys rightly grant decryption without kms:ViaService."""
    direct = changed(key_statements(), 1, Condition=None)
    for fixture in (key(direct, tags=None), key(direct, tags={**TAGS, "managed-by": "terraform"}),
                    resource(aws_kms.KEY_POLICY, "kp", keyId="k", policy=document(*direct))):
        assert run(aws_kms, fixture) == []


PROPERTY_MUTATIONS = [
    (aws_kms.SECRET_POLICY_BLOCK_PUBLIC, secret_policy(), {"blockPublicPolicy": DELETE},
     "blockPublicPolicy is not true: Secrets Manager would accept a policy that opens the secret to other accounts; set blockPublicPolicy: true"),
    (aws_kms.SECRET_POLICY_BLOCK_PUBLIC, secret_policy(), {"blockPublicPolicy": False},
     "blockPublicPolicy is not true: Secrets Manager would accept a policy that opens the secret to other accounts; set blockPublicPolicy: true"),
    (aws_kms.KMS_KEY_ROTATION, key(), {"enableKeyRotation": False}, "enableKeyRotation is not true"),
    (aws_kms.KMS_KEY_ROTATION, key(), {"enableKeyRotation": None}, "enableKeyRotation is not true"),
    (aws_kms.KMS_KEY_ROTATION, key(), {"rotationPeriodInDays": 730}, "rotationPeriodInDays is 730"),
    (aws_kms.KMS_KEY_ROTATION, key(), {"customerMasterKeySpec": "SYMMETRIC_DEFAULT", "enableKeyRotation": False}, "enableKeyRotation is not true"),
]


@pytest.mark.parametrize(("rule", "compliant", "changes", "expected"), PROPERTY_MUTATIONS, ids=lambda v: getattr(v, "name", None))
def test_each_property_mutation_fires_its_rule(rule, compliant, changes, expected):
    assert run(aws_kms, compliant) == []
    (message,) = decided(run(aws_kms, mutated(compliant, changes)), rule.id)
    assert message.startswith(expected), message


# --- unknown at preview ------------------------------------------------------------------------

def test_unknown_policy_is_undecided_for_every_policy_rule():
    findings = run(aws_kms, key(policy=UNKNOWN), secret_policy(policy=UNKNOWN))
    assert not decided(findings) and undecided_ids(findings) == {aws_kms.RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL.id, aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id, aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id}


@pytest.mark.parametrize(("rule_ids", "fixture"), [
    ({aws_kms.RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL.id, aws_kms.RESOURCE_POLICY_WILDCARD_ROOT_ONLY.id}, key(changed(key_statements(), 1, Principal={"AWS": UNKNOWN}, Action="kms:*"))),
    ({aws_kms.RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL.id, aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id}, key(changed(key_statements(), 1, Principal={"AWS": UNKNOWN}, Condition=None))),
    ({aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id}, key(changed(key_statements(), 1, Condition=UNKNOWN))),
    ({aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id}, key(changed(key_statements(), 1, Condition=None), tags={**TAGS, "managed-by": UNKNOWN})),
    ({aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id}, key(changed(key_statements(), 1, Condition=None), tags=UNKNOWN)),
    ({aws_kms.RESOURCE_POLICY_NO_PUBLIC_PRINCIPAL.id, aws_kms.KMS_DECRYPT_VIA_SECRETS_MANAGER.id}, key([*key_statements(), {**PUBLIC, "Condition": UNKNOWN}])),
    ({aws_kms.SECRET_POLICY_BLOCK_PUBLIC.id}, secret_policy(blockPublicPolicy=UNKNOWN)),
    ({aws_kms.KMS_KEY_ROTATION.id}, key(enableKeyRotation=UNKNOWN)),
])
def test_unknown_parts_are_undecided_not_silent(rule_ids, fixture):
    findings = run(aws_kms, fixture)
    assert not decided(findings) and undecided_ids(findings) == rule_ids


def test_a_known_account_condition_decides_despite_unknown_values():
    # The caller's account is an output of another stack here, but the key that binds it is known.
    statements = [*key_statements(), {**PUBLIC, "Condition": {"StringEquals": {"kms:CallerAccount": UNKNOWN}}}]
    assert run(aws_kms, key(statements, tags=None)) == []


# --- malformed, canary, metadata ---------------------------------------------------------------

def test_malformed_documents_are_reported_not_crashed_on():
    findings = run(aws_kms, key(policy="{nope"), secret_policy(policy=None), key([{"Effect": "Allow", "Principal": ["x"], "Action": "kms:Decrypt"}]))
    assert [(f.rule_id, f.message.split(":")[0] + ":" + f.message.split(":")[1]) for f in findings] == [
        (aws_kms.RESOURCE_POLICY_READABLE.id, "policy: the document is not valid JSON"),
        (aws_kms.RESOURCE_POLICY_READABLE.id, "policy: the document is missing"),
        (aws_kms.RESOURCE_POLICY_READABLE.id, 'policy: statement 0 has a Principal that is neither "*" nor a map of AWS/Service/Federated/CanonicalUser'),
    ]


def test_malformed_props_never_crash():
    fixtures = [key(policy=document(*key_statements(), as_json=False)),
                secret_policy(policy=document(*secret_statements(), as_json=False))]
    for fixture in fixtures:
        for variant in malformed(fixture):
            assert all(isinstance(f.message, str) for f in run(aws_kms, variant))


@settings(max_examples=300, deadline=None)
@given(POLICY_SHAPES)
def test_any_document_shape_is_read_without_crashing(shape):
    for policy in (shape, json.dumps(shape)):
        assert all(isinstance(f.message, str) for f in run(aws_kms, key(policy=policy), secret_policy(policy=policy)))


def test_no_message_echoes_a_secret_or_a_sid():
    bad = [{**PUBLIC, "Sid": CANARY, "Action": "kms:*"}, {"Sid": CANARY, "Effect": "Allow", "Principal": {"AWS": API_ROLE, CANARY: CANARY},
                                                          "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"aws:userid": CANARY}}}]
    findings = run(aws_kms, key(bad, description=CANARY, secretString=CANARY, enableKeyRotation=CANARY, rotationPeriodInDays=CANARY),
                   secret_policy(bad, blockPublicPolicy=CANARY, secretString=CANARY), key(policy=CANARY + "{"))
    assert len({f.rule_id for f in findings}) == 6 and not any(CANARY in f.message for f in findings)


def test_rule_metadata():
    check_metadata(aws_kms.RULES, ("SP-KMS-",))
