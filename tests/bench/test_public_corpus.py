"""The labelled public corpus (bench/corpus/public.json) and its converters (bench/corpus_convert.py).

Recall is what the bench reports (bench/policy_vs_checkov.py); these tests check that the corpus is
well formed and that each case reaches the pack, and checkov's inputs, where they read it.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml

from bench.corpus_convert import TYPES, manifests, terraform_block, to_resources
from bench.policy_vs_checkov import COMPLIANT, CORPORA, OVER_BROAD, TF_BLOCKS_PER_FILE, load_corpus, pack_violations, planned, write_checkov_inputs

DATA = json.loads(CORPORA["public"].read_text())
CASES = load_corpus(CORPORA["public"])


def test_corpus_has_enough_cases_from_enough_independent_sources():
    assert len(CASES) >= 150
    used = Counter(case["source"] for case in CASES)
    assert len(used) >= 4
    assert set(used) <= set(DATA["sources"]), "every source is described in `sources`"
    assert all(DATA["sources"][s]["url"].startswith("https://") for s in used)
    labels = Counter(case["label"] for case in CASES)
    assert labels[OVER_BROAD] and labels[COMPLIANT]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_every_case_cites_its_source_and_says_why(case):
    assert case["source"] in DATA["sources"]
    assert case["ref"].strip() and ("http" in case["ref"] or "/" in case["ref"])  # a URL, or repository + path
    assert case["label"] in (OVER_BROAD, COMPLIANT)
    assert case["reason"].strip() and "\n" not in case["reason"]
    assert case["family"].strip()
    assert case["kind"] in TYPES


def test_the_old_fixtures_stay_a_separate_corpus():
    own = load_corpus(CORPORA["own"])
    assert {c["source"] for c in own} == {"own-fixtures"}
    assert not {c["id"] for c in own} & {c["id"] for c in CASES}


def test_the_pack_reads_every_converted_case_without_an_unreadable_document():
    resources, owner = planned(CASES)
    assert set(owner.values()) == {c["id"] for c in CASES}
    assert len({r["urn"] for r in resources}) == len(resources)
    violations = pack_violations(resources)
    # SP-IAM-010 / SP-VAULT-001 mean "cannot parse the document": the converter put it in the wrong shape.
    unreadable = [(owner[v.urn], v.rule_id) for v in violations if v.rule_id in ("SP-IAM-010", "SP-VAULT-001")]
    assert unreadable == []


@pytest.mark.parametrize(
    ("case_id", "rule_id"),
    [
        ("bf-privesc-assumerole-high-priv-policy", "SP-IAM-001"),  # identity policy -> aws:iam/policy:Policy.policy
        ("aws-kms-everyone", "SP-KMS-001"),  # key policy -> aws:kms/key:Key.policy
        ("vault-everything", "SP-VAULT-002"),  # HCL -> vault:index/policy:Policy.policy
        ("az-user-access-administrator-sub", "SP-AZ-001"),  # -> azure-native:authorization:RoleAssignment
        ("ks-risky-any-verb", "SP-K8S-001"),  # manifest -> kubernetes:rbac.authorization.k8s.io/v1:Role
        ("k8s-doc-root-cluster-admin", "SP-K8S-005"),  # -> ClusterRoleBinding.roleRef
    ],
)
def test_converted_documents_land_where_the_rules_read_them(case_id, rule_id):
    case = next(c for c in CASES if c["id"] == case_id)
    assert rule_id in {v.rule_id for v in pack_violations(to_resources(case))}


def test_a_binding_follows_the_role_of_its_own_case_and_keeps_built_in_roles():
    case = next(c for c in CASES if c["id"] == "k8s-doc-read-secrets-global")
    role, binding = manifests(case)
    assert binding["roleRef"]["name"] == role["metadata"]["name"] != "secret-reader"
    assert case["document"][0]["metadata"]["name"] == "secret-reader", "the corpus itself is not changed"
    builtin = next(c for c in CASES if c["id"] == "k8s-doc-bob-admin")
    assert manifests(builtin)[0]["roleRef"]["name"] == "admin"


def test_iam_documents_round_trip_into_the_props():
    case = next(c for c in CASES if c["id"] == "aws-self-credentials")
    (resource,) = to_resources(case)
    assert json.loads(resource["props"]["policy"]) == case["document"]


def test_checkov_inputs_hold_every_case_once(tmp_path):
    owner = write_checkov_inputs(CASES, tmp_path)
    assert set(owner.values()) == {c["id"] for c in CASES}
    terraform = [c for c in CASES if c["kind"] != "k8s"]
    files = sorted(tmp_path.glob("*.tf"))
    assert len(files) == -(-len(terraform) // TF_BLOCKS_PER_FILE)
    assert sum(f.read_text().count('resource "') for f in files) == len(terraform)
    # ${aws:username} would be a Terraform interpolation: escaped, so checkov reads the policy AWS wrote.
    address, block = terraform_block(next(c for c in CASES if c["id"] == "aws-self-access-keys"))
    assert "$${aws:username}" in block and address == "aws_iam_policy.aws_self_access_keys"
    for case in (c for c in CASES if c["kind"] == "k8s"):
        loaded = list(yaml.safe_load_all((tmp_path / "k8s" / f"{case['id']}.yaml").read_text()))
        assert [m["metadata"]["name"] for m in loaded] == [m["metadata"]["name"] for m in manifests(case)]


def test_a_public_key_is_not_tagged_as_one_of_our_secrets_manager_keys():
    # Regression: tagged managed-by=secrets-platform, AWS's EBS/RDS example keys were held to SP-KMS-003.
    case = next(c for c in CASES if c["id"] == "aws-kms-aws-managed-ebs")
    (resource,) = to_resources(case)
    assert "managed-by" not in resource["props"]["tags"]
    assert "SP-KMS-003" not in {v.rule_id for v in pack_violations([resource])}
