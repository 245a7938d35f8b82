"""External Secrets rules: compliant fixtures shaped like our components' output, one mutation per
violation, unknowns at preview, a canary, and every fixture valid against the pinned ESO v1 CRDs (so the
field names the rules read are the real ones)."""

from __future__ import annotations

import copy
from functools import cache

import jsonschema
import pytest
import yaml

from policy.rules import eso
from tests.conftest import CANARY
from tests.policy.rules.builders import DELETE, UNKNOWN, check_metadata, decided, malformed, mutated, run, shared_dir

SCHEMAS = shared_dir("schemas", "external-secrets")
LABELS = {"app.kubernetes.io/managed-by": "secrets-platform"}
API = "external-secrets.io/v1"


def resource(kind: str, name: str, metadata: dict, spec: dict) -> dict:
    type_ = f"kubernetes:{API}:{kind}"
    return {"type": type_, "urn": f"urn:pulumi:prod::p::{type_}::{name}", "name": name,
            "props": {"apiVersion": API, "kind": kind, "metadata": {"name": name, "labels": LABELS, **metadata}, "spec": spec}}


def cluster_store() -> dict:
    return resource("ClusterSecretStore", "aws-prod", {}, {
        "conditions": [{"namespaces": ["api", "worker"]}],
        "provider": {"aws": {"service": "SecretsManager", "region": "us-east-1",
                             "auth": {"jwt": {"serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}}})


def vault_store() -> dict:
    return resource("SecretStore", "vault-emr", {"namespace": "emr"}, {
        "provider": {"vault": {"server": "https://vault.example.com:8200", "path": "secret", "version": "v2",
                               "auth": {"kubernetes": {"mountPath": "kubernetes", "role": "emr-prod-eso",
                                                       "serviceAccountRef": {"name": "external-secrets", "audiences": ["vault"]}}}}}})


def azure_store() -> dict:
    return resource("ClusterSecretStore", "azure-prod", {}, {
        "conditions": [{"namespaceRegexes": ["^phagen-(api|worker)$"]}],
        "provider": {"azurekv": {"vaultUrl": "https://phagen-prod.vault.azure.net", "authType": "WorkloadIdentity",
                                 "serviceAccountRef": {"name": "phagen-api", "namespace": "phagen"}}}})


def external_secret() -> dict:
    return resource("ExternalSecret", "jwt-signing-keys", {"namespace": "emr"}, {
        "refreshInterval": "1h", "secretStoreRef": {"name": "vault-emr", "kind": "SecretStore"},
        "target": {"name": "jwt-signing-keys", "creationPolicy": "Owner", "deletionPolicy": "Retain"},
        "data": [{"secretKey": "private", "remoteRef": {"key": "emr/prod/auth/jwt", "property": "private"}}],
        "dataFrom": [{"find": {"path": "emr/prod/auth", "name": {"regexp": "^jwt-(private|public)$"}}}]})


def cluster_external_secret() -> dict:
    return resource("ClusterExternalSecret", "registry-credentials", {}, {
        "namespaces": ["api", "worker"],
        "namespaceSelectors": [{"matchLabels": {"registry-access": "true"}}],
        "externalSecretSpec": {"secretStoreRef": {"name": "aws-prod", "kind": "ClusterSecretStore"},
                               "target": {"name": "registry", "deletionPolicy": "Retain"},
                               "data": [{"secretKey": "token", "remoteRef": {"key": "prod/registry"}}]}})


FIXTURES = (cluster_store, vault_store, azure_store, external_secret, cluster_external_secret)






@cache
def _validator(kind: str) -> jsonschema.Draft7Validator:
    crd = yaml.load((SCHEMAS / f"external-secrets.io_{kind.lower()}s.yaml").read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return jsonschema.Draft7Validator(next(v for v in crd["spec"]["versions"] if v["name"] == "v1")["schema"]["openAPIV3Schema"])


def assert_valid(res: dict) -> None:
    _validator(res["props"]["kind"]).validate(res["props"])


def test_compliant_fixtures_are_silent_and_schema_valid():
    resources = [f() for f in FIXTURES]
    for res in resources:
        assert_valid(res)
    assert run(eso, *resources) == []


def test_rules_are_silent_on_our_own_output(dev_plan, prod_plan, prod_shared_plan):
    """Both layouts: SecretStores per namespace (dev, prod) and a ClusterSecretStore (namespaces syncing the same secrets)."""
    resources = [r for plan in (dev_plan, prod_plan, prod_shared_plan) for r in plan.policy_resources()]
    assert {eso.CLUSTER_SECRET_STORE, eso.SECRET_STORE, eso.EXTERNAL_SECRET} <= {r["type"] for r in resources}
    assert run(eso, *resources) == []


VAULT_AUTH = "spec.provider.vault.auth"
FIND = "spec.dataFrom.0.find"
MUTATIONS = [
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(cluster_store(), {"spec.conditions": DELETE}), "spec.conditions is missing"),
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(cluster_store(), {"spec.conditions": []}), "spec.conditions is missing"),
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(cluster_store(), {"spec.conditions": [{"namespaceSelector": {}}]}), "spec.conditions[0].namespaceSelector selects every namespace"),
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(cluster_store(), {"spec.conditions": [{"namespaceSelector": {"matchExpressions": [
        {"key": "restricted", "operator": "DoesNotExist"}]}}]}), "selects every namespace"),
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(azure_store(), {"spec.conditions.0.namespaceRegexes": [".*"]}), "namespaceRegexes[0] matches every namespace"),
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(azure_store(), {"spec.conditions.0.namespaceRegexes": ["^phagen-api$", ""]}), "namespaceRegexes[1] matches every namespace"),
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(azure_store(), {"spec.conditions.0.namespaceRegexes": [".+"]}), "matches every namespace"),
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(azure_store(), {"spec.conditions.0.namespaceRegexes": ["phagen"]}), "is not anchored"),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(cluster_store(), {"spec.provider.aws.auth": {"secretRef": {
        "accessKeyIDSecretRef": {"name": "aws", "key": "id", "namespace": "eso"},
        "secretAccessKeySecretRef": {"name": "aws", "key": "secret", "namespace": "eso"}}}}), "spec.provider.aws.auth.secretRef authenticates with static access keys"),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(vault_store(), {VAULT_AUTH: {"tokenSecretRef": {"name": "vault-token", "key": "token"}}}), "auth.tokenSecretRef authenticates with a static token"),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(vault_store(), {VAULT_AUTH: {"appRole": {"path": "approle", "roleId": "r",
                                                                    "secretRef": {"name": "approle", "key": "secret-id"}}}}), "auth.appRole authenticates with an AppRole SecretID"),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(vault_store(), {f"{VAULT_AUTH}.kubernetes.secretRef": {"name": "sa-token", "key": "token"}}), "long-lived service-account token"),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(vault_store(), {VAULT_AUTH: {"userPass": {"path": "userpass", "username": "eso",
                                                                     "secretRef": {"name": "pw", "key": "password"}}}}), "auth.userPass authenticates with a password"),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(azure_store(), {"spec.provider.azurekv.authType": "ServicePrincipal"}), "authType is ServicePrincipal"),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(azure_store(), {"spec.provider.azurekv.authType": DELETE}), "authType is ServicePrincipal"),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(cluster_store(), {"spec.provider": {"gcpsm": {"projectID": "p", "auth": {"secretRef": {
        "secretAccessKeySecretRef": {"name": "gcp", "key": "key.json", "namespace": "eso"}}}}}}), "spec.provider.gcpsm.auth.secretRef"),
    (eso.FIND_RESTRICTED.id, lambda: mutated(external_secret(), {FIND: {}}), "spec.dataFrom[0].find has no name.regexp or path"),
    (eso.FIND_RESTRICTED.id, lambda: mutated(external_secret(), {FIND: {"name": {"regexp": ".*"}}}), "spec.dataFrom[0].find has no name.regexp or path"),
    (eso.FIND_RESTRICTED.id, lambda: mutated(external_secret(), {FIND: {"name": {"regexp": ".+"}, "path": "/"}}), "has no name.regexp or path"),
    (eso.FIND_RESTRICTED.id, lambda: mutated(external_secret(), {FIND: {"name": {"regexp": ""}, "tags": {"env": "prod"}}}), "has no name.regexp or path"),
    (eso.FIND_RESTRICTED.id, lambda: mutated(cluster_external_secret(), {"spec.externalSecretSpec.dataFrom": [{"find": {"name": {"regexp": "^.*$"}}}]}),
     "spec.externalSecretSpec.dataFrom[0].find has no name.regexp or path"),
    (eso.TARGET_RETAIN.id, lambda: mutated(external_secret(), {"spec.target.deletionPolicy": "Delete"}), "spec.target.deletionPolicy is Delete"),
    (eso.TARGET_RETAIN.id, lambda: mutated(cluster_external_secret(), {"spec.externalSecretSpec.target.deletionPolicy": "Delete"}),
     "spec.externalSecretSpec.target.deletionPolicy is Delete"),
    (eso.CLUSTER_EXTERNAL_SECRET_NAMESPACES.id, lambda: mutated(cluster_external_secret(), {"spec.namespaceSelectors.0": {}}), "spec.namespaceSelectors[0] selects every namespace"),
    (eso.CLUSTER_EXTERNAL_SECRET_NAMESPACES.id, lambda: mutated(cluster_external_secret(), {"spec.namespaceSelector": {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]}}), "spec.namespaceSelector selects every namespace"),
]


@pytest.mark.parametrize(("rule_id", "mutate", "expected"), MUTATIONS)
def test_mutation_is_caught(rule_id, mutate, expected):
    changed = mutate()
    assert_valid(changed)  # the violation is written with the CRD's real field names
    messages = decided(run(eso, changed), rule_id)
    assert any(expected in m for m in messages), messages


def as_version(res: dict, version: str) -> dict:
    """The same resource written by hand against an older ESO API version."""
    changed = copy.deepcopy(res)
    kind = changed["props"]["kind"]
    changed["type"] = f"kubernetes:external-secrets.io/{version}:{kind}"
    changed["urn"] = changed["urn"].replace(res["type"], changed["type"])
    changed["props"]["apiVersion"] = f"external-secrets.io/{version}"
    return changed


def test_compliant_fixtures_written_as_v1beta1_are_silent():
    assert run(eso, *[as_version(f(), "v1beta1") for f in FIXTURES]) == []


# v1beta1 has the v1 field names for everything the rules read (no v1beta1 CRD is pinned here: ESO's
# v1beta1 API reference and Go types, apis/externalsecrets/v1beta1, were checked by hand).
@pytest.mark.parametrize(("rule_id", "mutate", "expected"), MUTATIONS)
def test_mutation_written_as_v1beta1_is_caught(rule_id, mutate, expected):
    changed = as_version(mutate(), "v1beta1")
    findings = run(eso, changed)
    assert any(expected in m for m in decided(findings, rule_id)), findings
    assert {f.urn for f in findings} == {changed["urn"]}


# v1alpha1 stores share the provider auth fields; a v1alpha1 ClusterSecretStore has no conditions at all.
@pytest.mark.parametrize(("rule_id", "mutate", "expected"), [m for m in MUTATIONS if m[0] == eso.STORE_NO_STATIC_CREDENTIALS.id])
def test_static_credentials_written_as_v1alpha1_are_caught(rule_id, mutate, expected):
    assert any(expected in m for m in decided(run(eso, as_version(mutate(), "v1alpha1")), rule_id))


def test_a_v1alpha1_cluster_store_serves_every_namespace_even_with_conditions_written():
    messages = decided(run(eso, as_version(cluster_store(), "v1alpha1")), eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id)
    assert messages == ["a v1alpha1 ClusterSecretStore has no spec.conditions: ExternalSecrets in every namespace can use it; "
                        "write it as external-secrets.io/v1 with conditions naming its consumers' namespaces"]
    assert run(eso, as_version(vault_store(), "v1alpha1")) == []  # a namespaced store needs no conditions


def test_a_v1alpha1_external_secret_has_no_find_or_deletion_policy_to_check():
    legacy = as_version(external_secret(), "v1alpha1")
    legacy["props"]["spec"]["dataFrom"] = [{"key": "emr/prod/auth/jwt"}]  # v1alpha1: explicit keys only
    del legacy["props"]["spec"]["target"]["deletionPolicy"]
    assert run(eso, legacy) == []
    assert not any(rule.applies_to(legacy) for rule in eso.RULES)


@pytest.mark.parametrize("find", [{"path": "emr/prod/auth"}, {"name": {"regexp": "^jwt-private$"}}, {"name": {"regexp": ".*"}, "path": "emr/prod/"},
                                  {"name": {"regexp": UNKNOWN}, "path": "emr/prod/"}])
def test_find_restricted_by_path_or_regexp_passes(find):
    assert run(eso, mutated(external_secret(), {FIND: find})) == []


def test_a_namespaced_store_needs_no_conditions():
    assert run(eso, vault_store()) == []


def test_a_store_without_auth_uses_the_controller_identity():
    assert run(eso, mutated(cluster_store(), {"spec.provider.aws.auth": DELETE})) == []


# --- unknowns at preview ------------------------------------------------------------------------

@pytest.mark.parametrize(("rule_id", "mutate"), [
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(cluster_store(), {"spec.conditions": UNKNOWN})),
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(azure_store(), {"spec.conditions.0.namespaceRegexes": [UNKNOWN]})),
    (eso.CLUSTER_STORE_NAMESPACE_CONDITIONS.id, lambda: mutated(cluster_store(), {"spec.conditions.0.namespaceSelector": UNKNOWN})),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(cluster_store(), {"spec.provider": UNKNOWN})),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(vault_store(), {VAULT_AUTH: UNKNOWN})),
    (eso.STORE_NO_STATIC_CREDENTIALS.id, lambda: mutated(azure_store(), {"spec.provider.azurekv.authType": UNKNOWN})),
    (eso.FIND_RESTRICTED.id, lambda: mutated(external_secret(), {FIND: {"name": {"regexp": UNKNOWN}}})),
    (eso.FIND_RESTRICTED.id, lambda: mutated(external_secret(), {FIND: UNKNOWN})),
    (eso.FIND_RESTRICTED.id, lambda: mutated(external_secret(), {"spec.dataFrom": UNKNOWN})),
    (eso.TARGET_RETAIN.id, lambda: mutated(external_secret(), {"spec.target.deletionPolicy": UNKNOWN})),
    (eso.CLUSTER_EXTERNAL_SECRET_NAMESPACES.id, lambda: mutated(cluster_external_secret(), {"spec.namespaceSelectors": UNKNOWN})),
])
def test_unknowns_are_undecided_not_silent(rule_id, mutate):
    findings = [f for f in run(eso, mutate()) if f.rule_id == rule_id]
    assert findings and all(f.undecided for f in findings)


def test_malformed_props_never_crash():
    for fixture in [f() for f in FIXTURES] + [as_version(cluster_store(), "v1alpha1")]:
        for changed in malformed(fixture):
            run(eso, changed)


# --- canary and metadata ------------------------------------------------------------------------

def test_no_message_echoes_values():
    noisy = []
    for mutate in (m for _, m, _ in MUTATIONS):
        changed = mutate()
        changed["props"]["metadata"]["annotations"] = {"note": CANARY}
        noisy.append(changed)
    regex = mutated(azure_store(), {"spec.conditions.0.namespaceRegexes": [CANARY]})  # unanchored, so reported
    find = mutated(external_secret(), {FIND: {"name": {"regexp": f"{CANARY}|.*"}}})
    findings = run(eso, *noisy + [regex, find])
    assert len({f.rule_id for f in findings}) == len(eso.RULES)
    assert not any(CANARY in f.message for f in findings)


def test_rule_metadata():
    check_metadata(eso.RULES, ("SP-ESO-",))
