"""GCP rules: compliant fixtures as components/gcp emits them (and a harmless grant at every hierarchy
level), one hand-written over-broad mutation per violation, unknowns at preview, and a canary never echoed."""

from __future__ import annotations

import json

import pytest

from policy.rules import gcp
from tests.conftest import CANARY
from tests.policy.rules.builders import DELETE, UNKNOWN, decided, mutated, resource, run

PROJECT = "vibebox-prod-4821"
SA = f"serviceAccount:vibebox-prod-backend@{PROJECT}.iam.gserviceaccount.com"
KEY = f"projects/{PROJECT}/locations/{{}}/keyRings/vibebox-prod-secrets/cryptoKeys/shared"
HARMLESS_ROLE = "roles/logging.viewer"


def secret(classification: str | None = "high") -> dict:
    labels = {"environment": "prod", "managed-by": "secrets-platform"}
    if classification:
        labels["classification"] = classification
    return resource(gcp.SECRET, "oauth", secretId="vibebox-google-oauth-client", project=PROJECT, labels=labels,
                    replication={"userManaged": {"replicas": [{"location": r, "customerManagedEncryption": {"kmsKeyName": KEY.format(r)}}
                                                              for r in ("us-east1", "us-west1")]}})


def accessor() -> dict:
    return resource("gcp:secretmanager/secretIamMember:SecretIamMember", "backend-read", secretId=f"projects/{PROJECT}/secrets/vibebox-google-oauth-client",
                    role="roles/secretmanager.secretAccessor", member=SA)


def workload_identity() -> dict:
    return resource("gcp:serviceaccount/iAMMember:IAMMember", "backend-wi", serviceAccountId=f"projects/{PROJECT}/serviceAccounts/x",
                    role="roles/iam.workloadIdentityUser", member=f"serviceAccount:{PROJECT}.svc.id.goog[vibebox/backend]")


POOL = "projects/418273645091/locations/global/workloadIdentityPools/vibebox-prod-k8s"
FEDERATED = f"principal://iam.googleapis.com/{POOL}/subject/system:serviceaccount:vibebox:backend"


def federated_accessor() -> dict:
    """What components/gcp grants a workload on a cluster that is not GKE: its own federated principal."""
    return mutated(accessor(), member=FEDERATED)


def provider() -> dict:
    return resource(gcp.POOL_PROVIDER, "gcp-federation-provider", workloadIdentityPoolId="vibebox-prod-k8s", workloadIdentityPoolProviderId="kubernetes",
                    attributeMapping={"google.subject": "assertion.sub"}, attributeCondition="assertion.sub in ['system:serviceaccount:vibebox:backend']",
                    oidc={"issuerUri": "https://oidc.eks.us-east-1.amazonaws.com/id/D4E5F60718293A4B5C6D7E8F90A1B2C3"})


def key_binding() -> dict:
    return resource("gcp:kms/cryptoKeyIAMBinding:CryptoKeyIAMBinding", "key", role="roles/cloudkms.cryptoKeyDecrypter", members=[SA])


def hierarchy_grant(type_: str) -> dict:
    """A harmless grant at project, folder or organization level, in the shape of its type (member, binding, policy)."""
    if type_.endswith("Policy"):
        return resource(type_, "broad", policyData=json.dumps({"bindings": [{"role": HARMLESS_ROLE, "members": [SA]}]}))
    if type_.endswith("Binding"):
        return resource(type_, "broad", role=HARMLESS_ROLE, members=[SA])
    return resource(type_, "broad", role=HARMLESS_ROLE, member=SA)


def with_role(type_: str, role: str) -> tuple[dict, str]:
    """The hierarchy grant given `role`, and where the finding locates it."""
    fixture = hierarchy_grant(type_)
    if type_.endswith("Policy"):
        bindings = [{"role": HARMLESS_ROLE, "members": [SA]}, {"role": role, "members": [SA]}]
        return mutated(fixture, policyData=json.dumps({"bindings": bindings})), "policyData.bindings[1]"
    return mutated(fixture, role=role), "members" if type_.endswith("Binding") else "member"


def test_compliant_fixtures_are_silent():
    fixtures = [secret(), secret("critical"), secret("low"), accessor(), workload_identity(), key_binding(), federated_accessor(), provider(),
                *(hierarchy_grant(t) for t in gcp.HIERARCHY_IAM), mutated(secret("low"), replication={"auto": {}})]
    assert run(gcp, *fixtures) == []


@pytest.mark.parametrize("type_", gcp.HIERARCHY_IAM)
@pytest.mark.parametrize("role", ["roles/secretmanager.secretAccessor", "roles/secretmanager.admin", "roles/owner", "roles/editor",
                                  "roles/iam.workloadIdentityUser", "roles/cloudkms.cryptoKeyDecrypter"])
def test_a_sensitive_role_at_hierarchy_level_fires(type_, role):
    level = gcp.LEVELS[type_.split(":")[1].split("/")[0]]
    fixture, where = with_role(type_, role)
    (message,) = decided(run(gcp, fixture), gcp.NO_HIERARCHY_LEVEL_SECRET_ACCESS.id)
    assert message.startswith(f"{where}: {role} at {level} level")
    assert SA not in message


MUTATIONS = [
    (gcp.NO_HIERARCHY_LEVEL_SECRET_ACCESS, hierarchy_grant("gcp:projects/iAMPolicy:IAMPolicy"),
     {"policyData": {"bindings": [{"role": "roles/owner", "members": [SA]}]}}, "policyData.bindings[0]: roles/owner at project level"),
    *((gcp.NO_PUBLIC_MEMBERS, fixture(), {"member": member}, f"member: {member} granted roles/")
      for member in sorted(gcp.PUBLIC_MEMBERS) for fixture in (accessor, workload_identity)),
    *((gcp.NO_PUBLIC_MEMBERS, key_binding(), {"members": [SA, member]}, f"members: {member} granted roles/cloudkms.cryptoKeyDecrypter")
      for member in sorted(gcp.PUBLIC_MEMBERS)),
    # A whole pool (or a group, an attribute) instead of the one federated principal; a provider pinning no subject.
    (gcp.FEDERATED_PRINCIPALS_EXACT, federated_accessor(), {"member": f"principalSet://iam.googleapis.com/{POOL}/*"},
     "member: a federated principal set (a whole pool, a group or an attribute) granted roles/secretmanager.secretAccessor"),
    (gcp.FEDERATED_PRINCIPALS_EXACT, federated_accessor(), {"member": f"principalSet://iam.googleapis.com/{POOL}/attribute.namespace/vibebox"},
     "member: a federated principal set"),
    (gcp.FEDERATED_PRINCIPALS_EXACT, workload_identity(), {"member": f"principalSet://iam.googleapis.com/{POOL}/*"},
     "member: a federated principal set (a whole pool, a group or an attribute) granted roles/iam.workloadIdentityUser"),
    (gcp.FEDERATED_PRINCIPALS_EXACT, provider(), {"attributeCondition": DELETE}, "attributeCondition: none, so the provider admits every subject"),
    *((gcp.SECRET_CMEK_BY_CLASS, secret(cls), {"replication.userManaged.replicas.1.customerManagedEncryption": DELETE},
       "replication.userManaged.replicas[1] (us-west1):") for cls in ("high", "critical", None)),
    *((gcp.SECRET_CMEK_BY_CLASS, secret(cls), {"replication": {"auto": {}}}, "replication.auto:") for cls in ("high", "critical", None)),
]


@pytest.mark.parametrize(("rule", "compliant", "changes", "expected"), MUTATIONS, ids=lambda v: getattr(v, "name", None))
def test_each_mutation_fires_its_rule(rule, compliant, changes, expected):
    assert run(gcp, compliant) == []
    (message,) = decided(run(gcp, mutated(compliant, changes)), rule.id)
    assert message.startswith(expected), message


@pytest.mark.parametrize(("rule", "compliant", "changes"), [
    (gcp.NO_HIERARCHY_LEVEL_SECRET_ACCESS, hierarchy_grant("gcp:projects/iAMMember:IAMMember"), {"role": UNKNOWN}),
    (gcp.NO_PUBLIC_MEMBERS, accessor(), {"member": UNKNOWN}),
    (gcp.SECRET_CMEK_BY_CLASS, secret(), {"labels.classification": UNKNOWN}),
    (gcp.SECRET_CMEK_BY_CLASS, secret(), {"replication": UNKNOWN}),
    (gcp.FEDERATED_PRINCIPALS_EXACT, provider(), {"attributeCondition": UNKNOWN}),
], ids=lambda v: getattr(v, "name", None))
def test_unknowns_are_undecided_not_silent(rule, compliant, changes):
    assert [(f.rule_id, f.undecided) for f in run(gcp, mutated(compliant, changes))] == [(rule.id, True)]


def test_messages_never_echo_values():
    broad = resource("gcp:projects/iAMBinding:IAMBinding", "b", role="roles/owner",
                     members=[f"user:{CANARY}@example.com", "allUsers", f"principalSet://iam.googleapis.com/{POOL}/attribute.x/{CANARY}"])
    leaky = mutated(secret(), {"labels.note": CANARY, "replication": {"auto": {}}})
    findings = run(gcp, broad, leaky)
    assert {f.rule_id for f in findings} == {rule.id for rule in gcp.RULES}
    assert all(CANARY not in f.message for f in findings)


def test_rules_are_registered():
    from policy.rules import ALL_RULES

    assert set(gcp.RULES) <= set(ALL_RULES)
