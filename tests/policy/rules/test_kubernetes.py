"""Kubernetes RBAC rules: compliant fixtures shaped like our components' output, one mutation per
violation, cluster-wide Secret readers across resources, unknowns at preview, and a canary."""

from __future__ import annotations


import pytest

from policy.rules import kubernetes as k8s
from tests.conftest import CANARY
from tests.policy.rules.builders import UNKNOWN, check_metadata, decided, malformed, mutated, resource, run

LABELS = {"app.kubernetes.io/managed-by": "secrets-platform"}




def role() -> dict:
    """A workload's reader: `get` on exactly its synced Secrets, in its namespace."""
    return resource(k8s.ROLE, "api-secrets", **{
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "api-secrets", "namespace": "emr", "labels": LABELS},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["jwt-signing-keys"], "verbs": ["get"]}]})


def role_binding() -> dict:
    return resource(k8s.ROLE_BINDING, "api-secrets", **{
        "metadata": {"name": "api-secrets", "namespace": "emr", "labels": LABELS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "api-secrets"},
        "subjects": [{"kind": "ServiceAccount", "name": "api-gateway", "namespace": "emr"}]})


def cluster_role() -> dict:
    """A cluster-scoped role that reads no Secrets (namespaces and ExternalSecret status)."""
    return resource(k8s.CLUSTER_ROLE, "eso-viewer", **{
        "metadata": {"name": "eso-viewer", "labels": LABELS},
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
                  {"apiGroups": ["external-secrets.io"], "resources": ["externalsecrets", "externalsecrets/status"], "verbs": ["get", "list"]}]})


def cluster_role_binding(role_name: str = "eso-viewer") -> dict:
    return resource(k8s.CLUSTER_ROLE_BINDING, f"{role_name}-binding", **{
        "metadata": {"name": f"{role_name}-binding", "labels": LABELS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role_name},
        "subjects": [{"kind": "ServiceAccount", "name": "platform-dashboard", "namespace": "platform"}]})


def secret_reader() -> dict:
    changed = cluster_role()
    changed["props"]["rules"].append({"apiGroups": [""], "resources": ["secrets"], "verbs": ["list", "watch"]})
    return changed


def estate() -> list[dict]:
    return [role(), role_binding(), cluster_role(), cluster_role_binding()]






def test_compliant_estate_is_silent():
    assert run(k8s, *estate()) == []


MUTATIONS = [
    (k8s.RBAC_NO_WILDCARD.id, lambda: mutated(role(), {"rules.0.verbs": ["*"]}), "rules[0].verbs contains '*'"),
    (k8s.RBAC_NO_WILDCARD.id, lambda: mutated(role(), {"rules.0.resources": ["*"]}), "rules[0].resources contains '*'"),
    (k8s.RBAC_NO_WILDCARD.id, lambda: mutated(cluster_role(), {"rules.1.apiGroups": ["*"], "rules.1.verbs": ["get", "patch"]}), "rules[1].apiGroups contains '*'"),
    (k8s.RBAC_NO_WILDCARD.id, lambda: mutated(cluster_role(), {"rules.1.resources": ["*/status"]}), "rules[1].resources contains '*'"),
    (k8s.RBAC_NO_WILDCARD.id, lambda: mutated(cluster_role(), rules=[{"nonResourceURLs": ["*"], "verbs": ["get"]}]), "rules[0].nonResourceURLs contains '*'"),
    (k8s.RBAC_CLUSTER_ROLE_READS_SECRETS.id, lambda: mutated(cluster_role(), {"rules.0.resources": ["namespaces", "secrets"]}), "rules[0] reads secrets"),
    (k8s.RBAC_CLUSTER_ROLE_READS_SECRETS.id, lambda: mutated(cluster_role(), {"rules.1.apiGroups": ["*"], "rules.1.resources": ["*"]}), "rules[1] reads secrets"),
    (k8s.RBAC_NO_ESCALATION_VERBS.id, lambda: mutated(role(), {"rules.0.verbs": ["get", "impersonate"]}), "rules[0] grants impersonate"),
    (k8s.RBAC_NO_ESCALATION_VERBS.id, lambda: mutated(cluster_role(), {"rules.0.verbs": ["escalate", "bind"]}), "grants bind, escalate"),
    (k8s.RBAC_NO_ESCALATION_VERBS.id, lambda: mutated(role(), {"rules.0.resources": ["serviceaccounts/token"], "rules.0.verbs": ["create"], "rules.0.resourceNames": []}), "create on serviceaccounts/token"),
    (k8s.RBAC_NO_CLUSTER_ADMIN_BINDING.id, lambda: mutated(role_binding(), roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}), "roleRef is cluster-admin"),
    (k8s.RBAC_NO_CLUSTER_ADMIN_BINDING.id, lambda: mutated(cluster_role_binding(), roleRef={"kind": "ClusterRole", "name": "cluster-admin"}), "roleRef is cluster-admin"),
    (k8s.RBAC_NO_ANONYMOUS_SUBJECTS.id, lambda: mutated(role_binding(), subjects=[{"kind": "Group", "name": "system:unauthenticated"}]), "subjects[0] is Group system:unauthenticated"),
    (k8s.RBAC_NO_ANONYMOUS_SUBJECTS.id, lambda: mutated(cluster_role_binding(), subjects=[{"kind": "ServiceAccount", "name": "x", "namespace": "y"},
                                                          {"kind": "User", "name": "system:anonymous"}]), "subjects[1] is User system:anonymous"),
    (k8s.RBAC_NO_ANONYMOUS_SUBJECTS.id, lambda: mutated(role_binding(), subjects=[{"kind": "Group", "name": "system:authenticated"}]), "system:authenticated"),
    (k8s.RBAC_SECRETS_BY_NAME.id, lambda: mutated(role(), {"rules.0.resourceNames": []}), "rules[0] grants get on every Secret of its namespace (no resourceNames); grant get with resourceNames"),
    (k8s.RBAC_SECRETS_BY_NAME.id, lambda: mutated(role(), {"rules.0.verbs": ["get", "list", "watch"], "rules.0.resourceNames": []}), "grants get, list, watch on every Secret of its namespace "
     "(no resourceNames): list/watch return every Secret with its data"),
    (k8s.RBAC_SECRETS_BY_NAME.id, lambda: mutated(role(), rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "update", "delete"]}]),
     "grants get, list, create, update, delete on every Secret of its namespace"),  # VibeBox (seed 001) as written: no resourceNames key
    (k8s.RBAC_SECRETS_BY_NAME.id, lambda: mutated(role(), {"rules.0.verbs": ["patch"], "rules.0.resourceNames": []}), "grants patch on every Secret of its namespace (no resourceNames): writes reach every Secret"),
    (k8s.RBAC_SECRETS_BY_NAME.id, lambda: mutated(role(), rules=[{"apiGroups": ["*"], "resources": ["*"], "verbs": ["watch"]}]), "rules[0] grants watch on every Secret"),
    (k8s.RBAC_SECRETS_BY_NAME.id, lambda: mutated(cluster_role(), {"rules.0.resources": ["namespaces", "secrets"]}), "rules[0] grants get, list, watch on every Secret of every namespace it is bound in"),
]


@pytest.mark.parametrize(("rule_id", "mutate", "expected"), MUTATIONS)
def test_mutation_is_caught(rule_id, mutate, expected):
    changed = mutate()
    resources = [r for r in estate() if r["urn"] != changed["urn"]] + [changed]
    messages = decided(run(k8s, *resources), rule_id)
    assert any(expected in m for m in messages), messages


def test_secrets_reader_in_a_namespaced_role_is_not_cluster_wide():
    findings = run(k8s, mutated(role(), {"rules.0.verbs": ["get", "list", "watch"], "rules.0.resourceNames": []}))
    assert {(f.rule_id, f.undecided) for f in findings} == {(k8s.RBAC_SECRETS_BY_NAME.id, False)}  # by name, not cluster-wide


@pytest.mark.parametrize("rule", [
    {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a", "b"], "verbs": ["get", "list", "watch", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a"], "verbs": ["create", "deletecollection"]},  # inert with names
    {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["a", UNKNOWN], "verbs": ["get"]},
    {"apiGroups": ["apps"], "resources": ["secrets"], "verbs": ["get", "list"]},  # not the core Secret
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["bind"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": UNKNOWN},  # known resources rule Secrets out
])
def test_secrets_by_name_is_silent_when_limited_by_name_or_not_on_secrets(rule):
    assert [f for f in run(k8s, mutated(role(), rules=[rule])) if f.rule_id == k8s.RBAC_SECRETS_BY_NAME.id] == []


def test_rules_are_silent_on_our_own_output(dev_plan, prod_plan):
    resources = [r for plan in (dev_plan, prod_plan) for r in plan.policy_resources()]
    assert {k8s.ROLE, k8s.ROLE_BINDING} <= {r["type"] for r in resources}
    assert run(k8s, *resources) == []


# --- cluster-wide Secret readers (StackRule) ----------------------------------------------------

def test_cluster_role_reading_secrets_alone_is_medium_and_bound_cluster_wide_is_high():
    alone = run(k8s, secret_reader())
    assert {(f.rule_id, f.undecided) for f in alone} == {(k8s.RBAC_CLUSTER_ROLE_READS_SECRETS.id, False), (k8s.RBAC_SECRETS_BY_NAME.id, False)}
    assert k8s.RULES[1].severity.value == "medium"
    bound = run(k8s, secret_reader(), cluster_role_binding())
    high = decided(bound, k8s.RBAC_NO_CLUSTER_WIDE_SECRET_READ.id)
    assert high == ["binds ClusterRole 'eso-viewer', which reads secrets (rules[2]), in every namespace: bind a namespaced Role with a RoleBinding instead"]
    assert [f.urn for f in bound if f.rule_id == k8s.RBAC_NO_CLUSTER_WIDE_SECRET_READ.id] == [cluster_role_binding()["urn"]]
    assert next(r for r in k8s.RULES if r.id == k8s.RBAC_NO_CLUSTER_WIDE_SECRET_READ.id).severity.value == "high"


def test_secret_reader_bound_per_namespace_is_not_cluster_wide():
    namespaced = mutated(role_binding(), roleRef={"kind": "ClusterRole", "name": "eso-viewer"})
    assert decided(run(k8s, secret_reader(), namespaced), k8s.RBAC_NO_CLUSTER_WIDE_SECRET_READ.id) == []


@pytest.mark.parametrize("builtin", ["admin", "edit", "cluster-admin"])
def test_builtin_secret_readers_bound_cluster_wide(builtin):
    assert any(f"ClusterRole '{builtin}'" in m for m in decided(run(k8s, cluster_role_binding(builtin)), k8s.RBAC_NO_CLUSTER_WIDE_SECRET_READ.id))


def test_view_builtin_is_not_a_secret_reader():
    assert run(k8s, cluster_role_binding("view")) == []


# --- unknowns at preview ------------------------------------------------------------------------

@pytest.mark.parametrize(("rule_id", "mutate"), [
    (k8s.RBAC_NO_WILDCARD.id, lambda: mutated(role(), rules=UNKNOWN)),
    (k8s.RBAC_NO_WILDCARD.id, lambda: mutated(role(), {"rules.0.verbs": ["get", UNKNOWN]})),
    (k8s.RBAC_CLUSTER_ROLE_READS_SECRETS.id, lambda: mutated(cluster_role(), {"rules.0.resources": UNKNOWN})),
    (k8s.RBAC_NO_ESCALATION_VERBS.id, lambda: mutated(role(), {"rules.0.verbs": UNKNOWN})),
    (k8s.RBAC_NO_CLUSTER_ADMIN_BINDING.id, lambda: mutated(role_binding(), roleRef={"kind": "ClusterRole", "name": UNKNOWN})),
    (k8s.RBAC_NO_ANONYMOUS_SUBJECTS.id, lambda: mutated(cluster_role_binding(), subjects=UNKNOWN)),
    (k8s.RBAC_NO_ANONYMOUS_SUBJECTS.id, lambda: mutated(role_binding(), subjects=[{"kind": "Group", "name": UNKNOWN}])),
    (k8s.RBAC_SECRETS_BY_NAME.id, lambda: mutated(role(), {"rules.0.resourceNames": UNKNOWN})),
    (k8s.RBAC_SECRETS_BY_NAME.id, lambda: mutated(role(), {"rules.0.verbs": UNKNOWN, "rules.0.resourceNames": []})),
    (k8s.RBAC_SECRETS_BY_NAME.id, lambda: mutated(role(), {"rules.0.resources": UNKNOWN, "rules.0.verbs": ["list"], "rules.0.resourceNames": []})),
    (k8s.RBAC_SECRETS_BY_NAME.id, lambda: mutated(role(), rules=[UNKNOWN])),
])
def test_unknowns_are_undecided_not_silent(rule_id, mutate):
    findings = [f for f in run(k8s, mutate()) if f.rule_id == rule_id]
    assert findings and all(f.undecided for f in findings)


def test_cluster_wide_binding_to_a_role_unknown_at_preview():
    unknown_ref = mutated(cluster_role_binding(), roleRef={"kind": "ClusterRole", "name": UNKNOWN})
    findings = [f for f in run(k8s, secret_reader(), unknown_ref) if f.rule_id == k8s.RBAC_NO_CLUSTER_WIDE_SECRET_READ.id]
    assert [(f.urn, f.undecided) for f in findings] == [(unknown_ref["urn"], True)]
    maybe_reader = mutated(cluster_role(), {"rules.0.resources": ["secrets"], "rules.0.verbs": UNKNOWN})
    findings = [f for f in run(k8s, maybe_reader, cluster_role_binding()) if f.rule_id == k8s.RBAC_NO_CLUSTER_WIDE_SECRET_READ.id]
    assert [f.undecided for f in findings] == [True]
    not_secrets = mutated(cluster_role(), {"rules.0.verbs": UNKNOWN})  # known resources rule Secrets out
    assert [f for f in run(k8s, not_secrets, cluster_role_binding()) if f.rule_id == k8s.RBAC_NO_CLUSTER_WIDE_SECRET_READ.id] == []


def test_malformed_props_never_crash():
    for fixture in estate():
        for changed in malformed(fixture):
            run(k8s, changed)


# --- canary and metadata ------------------------------------------------------------------------

def test_no_message_echoes_annotations_or_labels():
    noisy = []
    for _, mutate, _ in MUTATIONS:
        changed = mutate()
        changed["props"]["metadata"] = {**changed["props"].get("metadata", {}), "annotations": {"note": CANARY}, "labels": {"x": CANARY}}
        noisy.append(changed)
    findings = run(k8s, *noisy)
    assert findings and not any(CANARY in f.message for f in findings)


def test_rule_metadata():
    check_metadata(k8s.RULES, ("SP-K8S-",))
