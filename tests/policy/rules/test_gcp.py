"""GCP rules: compliant fixtures as components/gcp emits them, one hand-written over-broad mutation per
violation, unknowns at preview, and a canary never echoed."""

from __future__ import annotations

import copy
import json

import pytest

from policy.rules import gcp
from tests.conftest import CANARY
from tests.policy.rules.builders import UNKNOWN, decided, resource, run

PROJECT = "vibebox-prod-4821"
SA = f"serviceAccount:vibebox-prod-backend@{PROJECT}.iam.gserviceaccount.com"
KEY = f"projects/{PROJECT}/locations/{{}}/keyRings/vibebox-prod-secrets/cryptoKeys/shared"




def secret(classification: str | None = "high") -> dict:
    labels = {"environment": "prod", "managed-by": "secrets-platform"}
    if classification:
        labels["classification"] = classification
    return resource(gcp.SECRET, "oauth", **{
        "secretId": "vibebox-prod-google-oauth-client", "project": PROJECT, "labels": labels,
        "replication": {"userManaged": {"replicas": [{"location": r, "customerManagedEncryption": {"kmsKeyName": KEY.format(r)}} for r in ("us-east1", "us-west1")]}}})


def accessor() -> dict:
    return resource("gcp:secretmanager/secretIamMember:SecretIamMember", "backend-read", **{
        "secretId": f"projects/{PROJECT}/secrets/vibebox-prod-google-oauth-client", "role": "roles/secretmanager.secretAccessor", "member": SA})


def workload_identity() -> dict:
    return resource("gcp:serviceaccount/iAMMember:IAMMember", "backend-wi", **{
        "serviceAccountId": f"projects/{PROJECT}/serviceAccounts/x", "role": "roles/iam.workloadIdentityUser",
        "member": f"serviceAccount:{PROJECT}.svc.id.goog[vibebox/backend]"})






def test_compliant_fixtures_are_silent():
    assert run(gcp, secret(), secret("critical"), secret("low"), accessor(), workload_identity(), resource("gcp:projects/iAMMember:IAMMember", "logs", **{"project": PROJECT, "role": "roles/logging.viewer", "member": SA})) == []


@pytest.mark.parametrize("type_", gcp.HIERARCHY_IAM)
@pytest.mark.parametrize("role", ["roles/secretmanager.secretAccessor", "roles/secretmanager.admin", "roles/owner", "roles/editor",
                                  "roles/iam.workloadIdentityUser", "roles/cloudkms.cryptoKeyDecrypter"])
def test_hierarchy_level_grants_fire(type_, role):
    level = gcp.LEVELS[type_.split(":")[1].split("/")[0]]
    if type_.endswith("Policy"):
        props = {"policyData": json.dumps({"bindings": [{"role": "roles/logging.viewer", "members": [SA]}, {"role": role, "members": [SA]}]})}
        where = "policyData.bindings[1]"
    elif type_.endswith("Binding"):
        props, where = {"role": role, "members": [SA]}, "members"
    else:
        props, where = {"role": role, "member": SA}, "member"
    (message,) = decided(run(gcp, resource(type_, "broad", **props)), gcp.NO_HIERARCHY_LEVEL_SECRET_ACCESS.id)
    assert message.startswith(f"{where}: {role} at {level} level")
    assert SA not in message


def test_policy_data_as_object_and_unknown_role():
    as_object = resource("gcp:projects/iAMPolicy:IAMPolicy", "p", **{"policyData": {"bindings": [{"role": "roles/owner", "members": [SA]}]}})
    assert decided(run(gcp, as_object), gcp.NO_HIERARCHY_LEVEL_SECRET_ACCESS.id)
    unknown = run(gcp, resource("gcp:projects/iAMMember:IAMMember", "u", **{"role": UNKNOWN, "member": SA}))
    assert [(f.rule_id, f.undecided) for f in unknown] == [(gcp.NO_HIERARCHY_LEVEL_SECRET_ACCESS.id, True)]


@pytest.mark.parametrize("member", sorted(gcp.PUBLIC_MEMBERS))
@pytest.mark.parametrize("fixture", [accessor, workload_identity])
def test_public_members_fire_anywhere(member, fixture):
    broad = fixture()
    broad["props"]["member"] = member
    (message,) = decided(run(gcp, broad), gcp.NO_PUBLIC_MEMBERS.id)
    assert message.startswith(f"member: {member} granted roles/")
    binding = resource("gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding", "key", **{"role": "roles/cloudkms.cryptoKeyDecrypter", "members": [SA, member]})
    assert decided(run(gcp, binding), gcp.NO_PUBLIC_MEMBERS.id)


def test_unknown_members_are_undecided_not_silent():
    broad = accessor()
    broad["props"]["member"] = UNKNOWN
    assert [(f.rule_id, f.undecided) for f in run(gcp, broad)] == [(gcp.NO_PUBLIC_MEMBERS.id, True)]


@pytest.mark.parametrize("classification", ["high", "critical", None])
def test_sensitive_secret_without_cmek_fires(classification):
    user_managed = secret(classification)
    user_managed["props"]["replication"]["userManaged"]["replicas"][1].pop("customerManagedEncryption")
    (message,) = decided(run(gcp, user_managed), gcp.SECRET_CMEK_BY_CLASS.id)
    assert message.startswith("replication.userManaged.replicas[1] (us-west1):")
    automatic = secret(classification)
    automatic["props"]["replication"] = {"auto": {}}
    (message,) = decided(run(gcp, automatic), gcp.SECRET_CMEK_BY_CLASS.id)
    assert message.startswith("replication.auto:")


def test_low_secret_may_use_google_managed_keys_and_unknowns_are_undecided():
    low = secret("low")
    low["props"]["replication"] = {"auto": {}}
    assert run(gcp, low) == []
    unknown = secret()
    unknown["props"]["labels"]["classification"] = UNKNOWN
    assert [(f.rule_id, f.undecided) for f in run(gcp, unknown)] == [(gcp.SECRET_CMEK_BY_CLASS.id, True)]
    unknown = secret()
    unknown["props"]["replication"] = UNKNOWN
    assert [(f.rule_id, f.undecided) for f in run(gcp, unknown)] == [(gcp.SECRET_CMEK_BY_CLASS.id, True)]


def test_messages_never_echo_values():
    broad = resource("gcp:projects/iAMBinding:IAMBinding", "b", **{"role": "roles/owner", "members": [f"user:{CANARY}@example.com", "allUsers"]})
    leaky = secret()
    leaky["props"]["labels"]["note"] = CANARY
    leaky["props"]["replication"] = {"auto": {}}
    findings = run(gcp, broad, leaky)
    assert {f.rule_id for f in findings} == {gcp.NO_HIERARCHY_LEVEL_SECRET_ACCESS.id, gcp.NO_PUBLIC_MEMBERS.id, gcp.SECRET_CMEK_BY_CLASS.id}
    assert all(CANARY not in f.message for f in findings)


def test_rules_are_registered():
    from policy.rules import ALL_RULES

    assert {gcp.NO_HIERARCHY_LEVEL_SECRET_ACCESS.id, gcp.NO_PUBLIC_MEMBERS.id, gcp.SECRET_CMEK_BY_CLASS.id} <= {r.id for r in ALL_RULES}
