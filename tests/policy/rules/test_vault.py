"""Vault rules: the HCL parser, a compliant fixture per resource type, one mutation per violation,
unknowns at preview, the seed's literal policy, our own planned output, and a canary."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings, strategies as st

from offline.run import PROJECT_DIR, plan_stack
from policy.rules import vault
from policy.rules.vault import PolicyParseError, parse_policy
from tests.conftest import CANARY
from tests.policy.rules.builders import DELETE, UNKNOWN, check_metadata, decided, malformed, mutated, run, shared_dir

SEEDS = shared_dir("seeds")

COMPLIANT_POLICY = """\
# phagen-prod-phagen-rotation: Vault access of workload phagen-rotation
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" { capabilities = ["update"] }
path "secret/data/phagen/prod/db-password" {
  capabilities = ["create", "read", "update"]   // writes are declared for the rotation worker
}
/* version history, read only */
path "secret/metadata/phagen/prod/db-password" {
  capabilities = ["read"]
}
path "sys/*" {
  capabilities = ["deny"]
}
"""


def policy(text: str = COMPLIANT_POLICY) -> dict:
    return {"type": vault.POLICY, "urn": "urn:pulumi:prod::p::vault:index/policy:Policy::rotation", "name": "rotation",
            "props": {"name": "phagen-prod-phagen-rotation", "policy": text}}


def kubernetes_role() -> dict:
    return {"type": vault.KUBERNETES_ROLE, "urn": "urn:pulumi:prod::p::vault:kubernetes/authBackendRole:AuthBackendRole::api", "name": "api",
            "props": {"backend": "kubernetes", "roleName": "emr-prod-api", "boundServiceAccountNames": ["api-gateway"],
                      "boundServiceAccountNamespaces": ["emr"], "audience": "vault", "tokenTtl": 3600.0, "tokenMaxTtl": 86400.0,
                      "tokenPolicies": ["emr-prod-api-gateway"], "tokenNoDefaultPolicy": True}}


def approle_role() -> dict:
    return {"type": vault.APPROLE_ROLE, "urn": "urn:pulumi:prod::p::vault:appRole/authBackendRole:AuthBackendRole::backend", "name": "backend",
            "props": {"backend": "approle", "roleName": "phagen-prod-backend", "bindSecretId": True, "secretIdTtl": 86400.0,
                      "secretIdNumUses": 1.0, "tokenTtl": 3600.0, "tokenMaxTtl": 14400.0, "tokenPolicies": ["phagen-prod-phagen-backend"],
                      "tokenNoDefaultPolicy": True}}






# --- parser -------------------------------------------------------------------------------------

def test_parser_reads_blocks_comments_and_both_spellings():
    blocks = parse_policy(COMPLIANT_POLICY)
    assert [(b.path, sorted(b.capabilities), b.line) for b in blocks] == [
        ("auth/token/lookup-self", ["read"], 2),
        ("auth/token/renew-self", ["update"], 5),
        ("secret/data/phagen/prod/db-password", ["create", "read", "update"], 6),
        ("secret/metadata/phagen/prod/db-password", ["read"], 10),
        ("sys/*", ["deny"], 13),
    ]
    nested = parse_policy('path = { "secret/data/a" = { capabilities = ["read",] }, "/secret/data/b" { policy = "write" } }')
    assert [(b.path, sorted(b.capabilities)) for b in nested] == [
        ("secret/data/a", ["read"]), ("secret/data/b", ["create", "delete", "list", "read", "update"])]


def test_parser_reads_json_policies_as_text_and_object():
    document = {"path": {"secret/data/a": {"capabilities": ["read"]}, "secret/data/*": {"capabilities": ["update"]}}}
    for form in (document, json.dumps(document)):
        assert [(b.path, sorted(b.capabilities)) for b in parse_policy(form)] == [("secret/data/a", ["read"]), ("secret/data/*", ["update"])]


@pytest.mark.parametrize("text", [
    'path "secret/data/a" { capabilities = ["read"]',           # missing }
    'path "secret/data/a" { capabilities = ["read" "list"] }',  # missing comma
    'path "secret/data/a { capabilities = ["read"] }',          # unterminated string
    'path "a" { capabilities = ["read"] } /* unterminated',
    'path "a" { capabilities = "read" }',                       # not a list
    'path "a" { policy = "everything" }',
    'paths "a" { capabilities = ["read"] }',                    # not a path block
    'path "a" { capabilities = <<EOF\n["read"]\nEOF\n}',        # heredoc
    '{"path": ["secret/data/a"]}',
])
def test_parser_rejects_malformed_policies(text):
    with pytest.raises(PolicyParseError):
        parse_policy(text)


@pytest.mark.parametrize(("path", "expected"), [
    ("secret/data/a", False), ("secret/data/*", True), ("secret/+/a", True), ("secret/data/a+b", False), ("*", True)])
def test_is_glob(path, expected):
    assert vault.is_glob(path) is expected


@pytest.mark.parametrize(("path", "root", "expected"), [
    ("sys/policy/x", "sys", True), ("*", "sys", True), ("s*", "sys", True), ("+/token/create", "auth", True),
    ("secret/*", "sys", False), ("system/x", "sys", False), ("auth", "auth", True), ("identity/entity/x", "identity", True)])
def test_reaches_root(path, root, expected):
    assert vault.reaches_root(path, root) is expected


@pytest.mark.parametrize(("path", "expected"), [
    ("secret/metadata/a", True), ("secret/*", True), ("secret/m*", True), ("secret/+/a", True), ("kv/team/metadata/a", True),
    ("secret/data/*", False), ("secret/data/metadata/a", False), ("secret/d*", False), ("*", True)])
def test_reaches_kv_metadata(path, expected):
    assert vault.reaches_kv_endpoint(path, "metadata") is expected


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=list('path"{}[]=,:#/*+\n\\ capabilities=readsudo<'), max_size=120))
def test_parser_fails_only_with_policy_parse_error(text):
    try:
        parse_policy(text)
    except PolicyParseError as error:
        assert str(error).startswith("line ")


# --- compliant fixtures and mutations -----------------------------------------------------------

def auth_config() -> dict:
    """An external Vault's Kubernetes auth config as components/vault/auth.py plans it: https, the cluster CA."""
    return {"type": vault.KUBERNETES_AUTH_CONFIG, "urn": "urn:pulumi:prod::p::vault:kubernetes/authBackendConfig:AuthBackendConfig::k8s",
            "name": "k8s", "props": {"backend": "kubernetes", "kubernetesHost": "https://api.emr.example.com:6443",
                                     "kubernetesCaCert": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
                                     "disableLocalCaJwt": True, "tokenReviewerJwt": UNKNOWN}}


def test_compliant_fixtures_are_silent():
    assert run(vault, policy(), kubernetes_role(), approle_role(), auth_config()) == []
    # In the cluster, with its pod's CA: no kubernetes_ca_cert needed.
    assert run(vault, mutated(auth_config(), kubernetesHost="https://kubernetes.default.svc", kubernetesCaCert=DELETE, disableLocalCaJwt=False)) == []


@pytest.mark.parametrize(("props", "expected"), [
    ({"kubernetesHost": "http://api.emr.example.com:6443"}, "kubernetesHost is not an https address"),
    ({"kubernetesCaCert": DELETE}, "disableLocalCaJwt is true and kubernetesCaCert is not set"),
    ({"kubernetesCaCert": ""}, "disableLocalCaJwt is true and kubernetesCaCert is not set"),
])
def test_auth_config_mutation_is_caught(props, expected):
    (message,) = decided(run(vault, mutated(auth_config(), props)), vault.KUBERNETES_AUTH_VERIFIED_TLS.id)
    assert expected in message


def test_auth_config_unknowns_are_undecided_not_passed():
    for props in ({"kubernetesHost": UNKNOWN}, {"disableLocalCaJwt": UNKNOWN, "kubernetesCaCert": DELETE}, {"kubernetesCaCert": UNKNOWN}):
        findings = run(vault, mutated(auth_config(), props))
        assert [f.rule_id for f in findings if f.undecided] == [vault.KUBERNETES_AUTH_VERIFIED_TLS.id], props


def _policy_with(block: str) -> dict:
    return policy(COMPLIANT_POLICY + block)


POLICY_MUTATIONS = [
    (vault.POLICY_PARSEABLE.id, 'path "secret/data/x" { capabilities = ["read"] ', "does not parse"),
    (vault.POLICY_NO_GLOB.id, 'path "secret/data/phagen/*" { capabilities = ["read"] }', 'path "secret/data/phagen/*" (line 17) uses a glob'),
    (vault.POLICY_NO_GLOB.id, 'path "secret/data/+/db" { capabilities = ["read"] }', "uses a glob"),
    (vault.POLICY_NO_SUDO_ROOT.id, 'path "secret/data/a" { capabilities = ["read", "sudo"] }', "grants sudo"),
    (vault.POLICY_NO_SUDO_ROOT.id, 'path "secret/data/a" { capabilities = ["root"] }', "grants root"),
    (vault.POLICY_NO_GLOB_WRITE.id, 'path "secret/data/phagen/*" { capabilities = ["read", "update"] }', "grants update on a glob"),
    (vault.POLICY_NO_GLOB_WRITE.id, 'path "secret/data/+/db" { capabilities = ["patch"] }', "grants patch on a glob"),
    (vault.POLICY_NO_PERMANENT_DELETE.id, 'path "secret/metadata/phagen/prod/db-password" { capabilities = ["delete"] }', "delete on KV metadata"),
    (vault.POLICY_NO_PERMANENT_DELETE.id, 'path "secret/*" { capabilities = ["delete"] }', "delete on KV metadata"),
    (vault.POLICY_NO_PERMANENT_DELETE.id, 'path "secret/destroy/phagen/prod/db-password" { capabilities = ["update"] }', "write on KV destroy"),
    (vault.POLICY_NO_CONTROL_PLANE.id, 'path "sys/policy/x" { capabilities = ["read"] }', "on sys/"),
    (vault.POLICY_NO_CONTROL_PLANE.id, 'path "auth/kubernetes/role/x" { capabilities = ["update"] }', "on auth/"),
    (vault.POLICY_NO_CONTROL_PLANE.id, 'path "identity/entity/name/x" { capabilities = ["read"] }', "on identity/"),
    (vault.POLICY_NO_CONTROL_PLANE.id, 'path "auth/token/lookup-self" { capabilities = ["read", "update"] }', "on auth/"),
    (vault.POLICY_NO_CONTROL_PLANE.id, 'path "+/token/create" { capabilities = ["update"] }', "on sys/, auth/, identity/"),
    (vault.POLICY_NO_CONTROL_PLANE.id, 'path "*" { capabilities = ["read"] }', "on sys/, auth/, identity/"),
    # The paths every token needs stay exempt only with the capabilities the default policy gives them.
    (vault.POLICY_NO_GLOB_WRITE.id, 'path "sys/wrapping/*" { capabilities = ["update", "delete"] }', "grants delete, update on a glob"),
    (vault.POLICY_NO_CONTROL_PLANE.id, 'path "sys/leases/revoke-prefix/x" { capabilities = ["update", "sudo"] }', "on sys/"),
    (vault.POLICY_NO_CONTROL_PLANE.id, 'path "identity/entity/id/{{identity.entity.id}}" { capabilities = ["update"] }', "on identity/"),
    (vault.POLICY_NO_SUDO_ROOT.id, 'path "cubbyhole/*" { capabilities = ["read", "sudo"] }', "grants sudo"),
    # A glob before the template still reaches other identities, and so does a glob before a group template.
    (vault.POLICY_NO_GLOB_WRITE.id, 'path "secret/data/+/{{identity.entity.id}}/*" { capabilities = ["update"] }', "on a glob"),
    (vault.POLICY_NO_GLOB.id, 'path "secret/data/*/{{identity.groups.names.team.id}}/*" { capabilities = ["read"] }', "uses a glob"),
]

# Vault's default policy, which every token carries unless tokenNoDefaultPolicy (hashicorp/vault vault/policy_store.go
# `defaultPolicy`; https://developer.hashicorp.com/vault/docs/concepts/policies#default-policy, as `vault read sys/policy/default`
# prints it, comments dropped).
VAULT_DEFAULT_POLICY = """path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }
path "identity/entity/id/{{identity.entity.id}}" { capabilities = ["read"] }
path "identity/entity/name/{{identity.entity.name}}" { capabilities = ["read"] }
path "identity/oidc/provider/+/authorize" { capabilities = ["read", "update"] }
path "sys/internal/ui/resultant-acl" { capabilities = ["read"] }
path "sys/renew" { capabilities = ["update"] }
path "sys/leases/renew" { capabilities = ["update"] }
path "sys/leases/lookup" { capabilities = ["update"] }
path "cubbyhole/*" { capabilities = ["create", "read", "update", "delete", "list"] }
path "sys/wrapping/wrap" { capabilities = ["update"] }
path "sys/wrapping/lookup" { capabilities = ["update"] }
path "sys/wrapping/unwrap" { capabilities = ["update"] }
path "sys/tools/hash" { capabilities = ["update"] }
path "sys/tools/hash/*" { capabilities = ["update"] }
path "sys/control-group/request" { capabilities = ["update"] }
path "sys/mfa/challenge" { capabilities = ["update"] }
"""

# Vault's templated-policy example (https://developer.hashicorp.com/vault/docs/concepts/policies#templated-policies):
# each entity reads and writes only below its own id or its Kubernetes alias name.
VAULT_TEMPLATED_POLICY = """path "secret/data/{{identity.entity.id}}/*" { capabilities = ["create", "update", "patch", "read", "delete"] }
path "secret/metadata/{{identity.entity.id}}/*" { capabilities = ["list"] }
path "secret/data/{{identity.entity.aliases.auth_kubernetes_1a2b3c4d.name}}/*" { capabilities = ["read"] }
"""
# The templated-policies page's group parameters (https://developer.hashicorp.com/vault/docs/concepts/policies/templated-policies):
# a group's members read that group's subtree; the template renders for members only.
VAULT_GROUP_TEMPLATED_POLICY = """path "secret/data/groups/{{identity.groups.names.platform.id}}/*" { capabilities = ["read"] }
path "secret/data/groups/{{identity.groups.ids.fb036ebc-2f62-4124-9503-42aa7a869741.name}}/*" { capabilities = ["read"] }
"""


@pytest.mark.parametrize("text", [VAULT_DEFAULT_POLICY, VAULT_TEMPLATED_POLICY, VAULT_GROUP_TEMPLATED_POLICY,
                                  'path "sys/wrapping/*" { capabilities = ["update"] }'],
                         ids=["default-policy", "templated", "group-templated", "wrapping-glob"])
def test_vendor_least_privilege_policies_pass(text):
    """Issue #16: the paths every token needs and per-identity templates are neither over-broad nor KV destroy."""
    assert run(vault, policy(COMPLIANT_POLICY + text)) == []


def test_reserved_mounts_are_never_kv_destroy_or_metadata():
    """sys/, auth/, identity/ and cubbyhole/ cannot hold a KV engine: their globs are other rules' findings, not KV deletes."""
    for path in ("sys/leases/revoke/*", "cubbyhole/*", "identity/+/x"):
        findings = run(vault, policy(COMPLIANT_POLICY + f'path "{path}" {{ capabilities = ["update", "delete", "sudo"] }}'))
        assert vault.POLICY_NO_PERMANENT_DELETE.id not in {f.rule_id for f in findings}
        assert findings  # still a glob, sudo or control-plane finding


@pytest.mark.parametrize(("rule_id", "block", "expected"), POLICY_MUTATIONS)
def test_policy_mutation_is_caught(rule_id, block, expected):
    messages = decided(run(vault, _policy_with("\n" + block + "\n")), rule_id)
    assert any(expected in m for m in messages), messages


ROLE_MUTATIONS = [
    (vault.KUBERNETES_ROLE_BOUND_IDENTITY.id, kubernetes_role, {"boundServiceAccountNames": ["*"]}, "boundServiceAccountNames[0] contains '*'"),
    (vault.KUBERNETES_ROLE_BOUND_IDENTITY.id, kubernetes_role, {"boundServiceAccountNames": ["api-*"]}, "contains '*'"),
    (vault.KUBERNETES_ROLE_BOUND_IDENTITY.id, kubernetes_role, {"boundServiceAccountNamespaces": ["emr", "*"]}, "boundServiceAccountNamespaces[1] contains '*'"),
    (vault.KUBERNETES_ROLE_BOUND_IDENTITY.id, kubernetes_role, {"boundServiceAccountNamespaces": None}, "no boundServiceAccountNamespaces"),
    (vault.KUBERNETES_ROLE_BOUND_IDENTITY.id, kubernetes_role, {"boundServiceAccountNamespaces": [], "boundServiceAccountNamespaceSelector": "{}"}, "no boundServiceAccountNamespaces"),
    (vault.KUBERNETES_ROLE_BOUND_IDENTITY.id, kubernetes_role, {"boundServiceAccountNames": []}, "boundServiceAccountNames is empty"),
    (vault.KUBERNETES_ROLE_AUDIENCE.id, kubernetes_role, {"audience": None}, "audience is not set"),
    (vault.KUBERNETES_ROLE_AUDIENCE.id, kubernetes_role, {"audience": ""}, "audience is not set"),
    (vault.LOGIN_TOKEN_TTL.id, kubernetes_role, {"tokenTtl": 7200}, "tokenTtl is 7200s"),
    (vault.LOGIN_TOKEN_TTL.id, kubernetes_role, {"tokenTtl": None}, "tokenTtl is not set"),
    (vault.LOGIN_TOKEN_TTL.id, kubernetes_role, {"tokenTtl": 0}, "tokenTtl is not set"),
    (vault.LOGIN_TOKEN_TTL.id, kubernetes_role, {"tokenMaxTtl": "48h"}, "tokenMaxTtl is 172800s"),
    (vault.LOGIN_TOKEN_TTL.id, kubernetes_role, {"tokenMaxTtl": None}, "tokenMaxTtl is not set"),
    (vault.LOGIN_TOKEN_TTL.id, kubernetes_role, {"tokenPeriod": 3600}, "tokenPeriod"),
    (vault.LOGIN_TOKEN_TTL.id, approle_role, {"tokenMaxTtl": 0}, "tokenMaxTtl is not set"),
    (vault.LOGIN_TOKEN_TTL.id, approle_role, {"tokenTtl": None}, "tokenTtl is not set"),
    (vault.LOGIN_NO_ROOT_OR_DEFAULT_POLICY.id, kubernetes_role, {"tokenPolicies": ["emr-prod-api-gateway", "default"]}, "tokenPolicies[1] is 'default'"),
    (vault.LOGIN_NO_ROOT_OR_DEFAULT_POLICY.id, approle_role, {"tokenPolicies": ["root"]}, "tokenPolicies[0] is 'root'"),
    (vault.LOGIN_NO_ROOT_OR_DEFAULT_POLICY.id, approle_role, {"tokenNoDefaultPolicy": None}, "tokenNoDefaultPolicy is not true"),
    (vault.APPROLE_SECRET_ID_BOUNDS.id, approle_role, {"bindSecretId": False}, "bindSecretId is false"),
    (vault.APPROLE_SECRET_ID_BOUNDS.id, approle_role, {"secretIdTtl": 0}, "secretIdTtl is not set"),
    (vault.APPROLE_SECRET_ID_BOUNDS.id, approle_role, {"secretIdTtl": None}, "secretIdTtl is not set"),
]


@pytest.mark.parametrize(("rule_id", "fixture", "props", "expected"), ROLE_MUTATIONS)
def test_login_role_mutation_is_caught(rule_id, fixture, props, expected):
    messages = decided(run(vault, mutated(fixture(), {k: DELETE if v is None else v for k, v in props.items()})), rule_id)
    assert any(expected in m for m in messages), messages


def test_explicit_max_ttl_bounds_tokens_without_max_ttl():
    assert run(vault, mutated(kubernetes_role(), {"tokenMaxTtl": DELETE, "tokenExplicitMaxTtl": 86400})) == []
    assert run(vault, mutated(kubernetes_role(), {"tokenPeriod": 3600, "tokenExplicitMaxTtl": 86400})) == []


def test_a_namespace_selector_with_labels_binds_namespaces():
    assert run(vault, mutated(kubernetes_role(), {"boundServiceAccountNamespaces": DELETE, "boundServiceAccountNamespaceSelector": '{"matchLabels":{"team":"emr"}}'})) == []


def test_deny_blocks_grant_nothing():
    assert run(vault, _policy_with('path "sys/*" { capabilities = ["deny", "sudo"] }\npath "*" { capabilities = ["deny"] }')) == []


# --- unknowns at preview ------------------------------------------------------------------------

@pytest.mark.parametrize("rule", [r for r in vault.RULES if vault.POLICY in r.resource_types], ids=lambda r: r.id)
def test_unknown_policy_text_is_undecided_for_every_policy_rule(rule):
    findings = rule.evaluate([policy(UNKNOWN)])
    assert [f.undecided for f in findings] == [True] and "policy text" in findings[0].message


@pytest.mark.parametrize(("rule_id", "fixture", "props"), [
    (vault.KUBERNETES_ROLE_BOUND_IDENTITY.id, kubernetes_role, {"boundServiceAccountNames": UNKNOWN}),
    (vault.KUBERNETES_ROLE_BOUND_IDENTITY.id, kubernetes_role, {"boundServiceAccountNamespaces": [UNKNOWN]}),
    (vault.KUBERNETES_ROLE_AUDIENCE.id, kubernetes_role, {"audience": UNKNOWN}),
    (vault.LOGIN_TOKEN_TTL.id, kubernetes_role, {"tokenTtl": UNKNOWN}),
    (vault.LOGIN_TOKEN_TTL.id, approle_role, {"tokenMaxTtl": UNKNOWN}),
    (vault.LOGIN_NO_ROOT_OR_DEFAULT_POLICY.id, kubernetes_role, {"tokenPolicies": UNKNOWN}),
    (vault.LOGIN_NO_ROOT_OR_DEFAULT_POLICY.id, approle_role, {"tokenNoDefaultPolicy": UNKNOWN}),
    (vault.APPROLE_SECRET_ID_BOUNDS.id, approle_role, {"bindSecretId": UNKNOWN}),
    (vault.APPROLE_SECRET_ID_BOUNDS.id, approle_role, {"secretIdTtl": UNKNOWN}),
])
def test_unknown_role_fields_are_undecided_not_silent(rule_id, fixture, props):
    findings = [f for f in run(vault, mutated(fixture(), {k: DELETE if v is None else v for k, v in props.items()})) if f.rule_id == rule_id]
    assert findings and all(f.undecided for f in findings)


def test_known_violation_still_reported_next_to_an_unknown():
    findings = run(vault, mutated(kubernetes_role(), {"boundServiceAccountNames": ["*"], "boundServiceAccountNamespaces": UNKNOWN}))
    assert {(f.rule_id, f.undecided) for f in findings} == {(vault.KUBERNETES_ROLE_BOUND_IDENTITY.id, False), (vault.KUBERNETES_ROLE_BOUND_IDENTITY.id, True)}


# --- seeds and our own output -------------------------------------------------------------------

def _seed_policy() -> str:
    """The PhaGen seed's `phagen-policy.hcl`, exactly as written there."""
    text = next(SEEDS.glob("004_*.txt")).read_text(encoding="utf-8", errors="replace")
    start = text.index("```hcl", text.index("phagen-policy.hcl")) + len("```hcl")
    return text[start:text.index("```", start)]


def test_seed_004_crud_on_phagen_glob_is_blocked():
    findings = run(vault, policy(_seed_policy()))
    assert {f.rule_id for f in findings if not f.undecided} == {vault.POLICY_NO_GLOB.id, vault.POLICY_NO_GLOB_WRITE.id}
    assert any('path "secret/data/phagen/*"' in f.message and "create, delete, update" in f.message for f in findings)


@pytest.fixture(scope="module")
def example_plans():
    return [plan_stack(str(PROJECT_DIR / "examples" / name)) for name in ("emr/Pulumi.emr-prod.yaml", "phagen/Pulumi.phagen-prod.yaml")]


def test_rules_are_silent_on_our_own_vault_output(example_plans):
    resources = [r for plan in example_plans for r in plan.policy_resources()]
    types = {r["type"] for r in resources}
    assert {vault.POLICY, vault.KUBERNETES_ROLE, vault.APPROLE_ROLE, vault.KUBERNETES_AUTH_CONFIG} <= types
    assert run(vault, *resources) == []


def test_malformed_props_never_crash():
    for fixture in (policy(), kubernetes_role(), approle_role(), auth_config()):
        for changed in malformed(fixture):
            run(vault, changed)


# --- canary and metadata ------------------------------------------------------------------------

def test_no_message_echoes_policy_text():
    texts = [
        f'# owner note: {CANARY}\npath "secret/data/*" {{ capabilities = ["update", "sudo"] }}\npath "sys/x" {{ capabilities = ["read"] }}',
        f'path "secret/data/a" {{ capabilities = ["read"] }}\n{CANARY} = "x" {{',          # unparseable, canary in the way
        f'path "secret/data/a" {{ capabilities = ["read"] }} /* {CANARY}',
        f'path "a" {{ policy = "{CANARY}" }}',
    ]
    findings = run(vault, *(policy(t) for t in texts), mutated(approle_role(), {"roleName": CANARY, "tokenPolicies": ["default"], "bindSecretId": False}))
    assert findings and not any(CANARY in f.message for f in findings)


def test_rule_metadata():
    check_metadata(vault.RULES, ("SP-VAULT-",))
