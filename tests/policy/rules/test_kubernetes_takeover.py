"""Kubernetes RBAC beyond Secrets and cluster-admin (issue #16): grants that take over the cluster or its Secrets
(SP-K8S-008), bindings to the built-in aggregated roles admin and edit (SP-K8S-009), and the escalation verbs and
token minting of SP-K8S-004, each from the Kubernetes or EKS documents that describe it. Compliant fixtures are the
documents' own least-privilege examples; each mutation adds one grant to them."""

from __future__ import annotations

import pytest

from policy.rules import kubernetes as k8s
from tests.policy.rules.builders import UNKNOWN, decided, mutated, resource, run

RBAC_DOCS = "https://kubernetes.io/docs/reference/access-authn-authz/rbac/"
GOOD_PRACTICES = "https://kubernetes.io/docs/concepts/security/rbac-good-practices/"
CSR_DOCS = "https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/#authorization"
AWS_AUTH_DOCS = "https://docs.aws.amazon.com/eks/latest/userguide/auth-configmap.html"


def role(*rules: dict, namespace: str = "default", name: str = "pod-reader") -> dict:
    return resource(k8s.ROLE, name, metadata={"name": name, "namespace": namespace}, rules=list(rules))


def cluster_role(*rules: dict, name: str = "csr-creator") -> dict:
    return resource(k8s.CLUSTER_ROLE, name, metadata={"name": name}, rules=list(rules))


def binding(role_name: str, kind: str = "ClusterRole", type_: str = k8s.ROLE_BINDING) -> dict:
    return resource(type_, f"bob-{role_name}-binding", metadata={"name": f"bob-{role_name}-binding", "namespace": "acme"},
                    roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role_name},
                    subjects=[{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}])


# RBAC docs, "Role example": read pods in the default namespace.
POD_READER = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "watch", "list"]}
# RBAC docs, "Referring to resources": one ConfigMap by name.
MY_CONFIG = {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["my-config"], "verbs": ["update", "get"]}
# CSR docs, "Authorization": the csr-creator ClusterRole (create and read CSRs, no approval).
CSR_APPROVAL = {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/approval"], "verbs": ["update"]}
RBAC_POLICE = "https://github.com/PaloAltoNetworks/rbac-police/tree/1ec5d029f008e29869572157c9645ce6c21399c8/lib"
CSR_CREATOR = {"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"], "verbs": ["create", "get", "list", "watch"]}


def compliant() -> list[dict]:
    return [role(POD_READER), role(MY_CONFIG, name="configmap-updater"), role(MY_CONFIG, namespace="kube-system", name="configmap-updater"),
            cluster_role(CSR_CREATOR), binding("pod-reader", kind="Role"), binding("view")]


def test_the_documents_least_privilege_examples_pass():
    assert run(k8s, *compliant()) == []


TAKEOVER = [
    # GOOD_PRACTICES, "Control admission webhooks"
    (role({"apiGroups": ["admissionregistration.k8s.io"], "resources": ["mutatingwebhookconfigurations"], "verbs": ["create", "patch"]}),
     "grants create, patch on mutatingwebhookconfigurations"),
    (cluster_role({"apiGroups": ["admissionregistration.k8s.io"], "resources": ["validatingwebhookconfigurations"], "verbs": ["delete"]}),
     "grants delete on validatingwebhookconfigurations"),
    # CSR_DOCS, the csr-approver ClusterRole; GOOD_PRACTICES, "Certificate signing requests"
    (cluster_role({"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests/approval"], "verbs": ["update"]}),
     "grants update on certificatesigningrequests/approval"),
    (cluster_role({"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "resourceNames": ["kubernetes.io/kube-apiserver-client"], "verbs": ["approve"]}),
     "grants approve on signers"),
    (cluster_role(CSR_APPROVAL, {"apiGroups": ["certificates.k8s.io"], "resources": ["signers"], "verbs": ["approve"]}),
     "grants update on certificatesigningrequests/approval"),
    # GOOD_PRACTICES, "Ephemeral containers" and "Access to proxy subresource of Nodes"
    (role({"apiGroups": [""], "resources": ["pods/ephemeralcontainers"], "verbs": ["patch"]}), "grants patch on pods/ephemeralcontainers"),
    (cluster_role({"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}), "grants get on nodes/proxy"),
    (cluster_role({"apiGroups": [""], "resources": ["nodes/*"], "verbs": ["*"]}), "on nodes/proxy"),
    # RBAC_DOCS, "Restrictions on role binding creation or update": the role-grantor's rolebindings create
    (role({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]}), "grants create on rolebindings"),
    (cluster_role({"apiGroups": ["*"], "resources": ["clusterrolebindings"], "verbs": ["patch"]}), "grants patch on clusterrolebindings"),
    # GOOD_PRACTICES, "Workload creation": a pod mounts any Secret of its namespace
    (cluster_role({"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get"]}), "grants create on pods: a pod mounts any Secret"),
    # AWS_AUTH_DOCS: kube-system/aws-auth maps IAM principals to system:masters
    (role({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["update", "patch"]}, namespace="kube-system"),
     "grants patch, update on configmaps in kube-system"),
    (role({"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["aws-auth"], "verbs": ["patch"]}, namespace="kube-system"),
     "grants patch on configmaps in kube-system"),
    (cluster_role({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}), "on configmaps in every namespace it is bound in"),
    # RBAC_POLICE: the minimal role each of its risk policies detects (the public corpus' rp-* cases)
    (role({"apiGroups": [""], "resources": ["pods"], "verbs": ["update", "patch"]}, namespace="kube-system"),  # modify_pods.rego
     "grants patch, update on pods: a pod mounts any Secret"),
    (cluster_role({"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["create"]}),  # assign_sa.rego
     "grants create on daemonsets: its pod template runs pods"),
    (role({"apiGroups": ["batch"], "resources": ["cronjobs"], "verbs": ["patch"]}, namespace="kube-system"), "grants patch on cronjobs"),
    (cluster_role({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}, POD_READER),  # pods_exec.rego
     "grants create on pods/exec: exec runs commands in a running pod"),
    (cluster_role({"apiGroups": [""], "resources": ["nodes"], "verbs": ["patch"]}, {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}),
     "grants patch on nodes: tainting or relabelling nodes"),  # steal_pods.rego
    # GOOD_PRACTICES, "Persistent volume creation"
    (cluster_role({"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["create"]}), "grants create on persistentvolumes: a hostPath"),
]


@pytest.mark.parametrize(("changed", "expected"), TAKEOVER)
def test_takeover_grant_is_caught(changed, expected):
    messages = decided(run(k8s, changed), k8s.RBAC_NO_TAKEOVER_GRANTS.id)
    assert any(expected in m for m in messages), messages


def test_namespaced_pod_creation_and_configmaps_outside_kube_system_pass():
    """Creating pods (or Deployments, or exec) in one namespace is what a Role bound there grants by design; ConfigMaps outside
    kube-system configure no cluster."""
    assert run(k8s, role({"apiGroups": [""], "resources": ["pods"], "verbs": ["create"]}),
               role({"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create", "patch"]}, namespace="acme"),
               role({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}, namespace="acme"),
               role({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["update"]}, namespace="acme")) == []


def test_the_csr_docs_approver_for_its_own_signer_passes():
    """CSR_DOCS' csr-approver ClusterRole: approval, and approve limited by resourceNames to its own signer. A webhook
    configuration patched only by name (a controller keeping its own caBundle current) is limited the same way."""
    approver = cluster_role(CSR_APPROVAL, {"apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
                                           "resourceNames": ["example.com/my-signer-name"], "verbs": ["approve"]}, name="csr-approver")
    injector = cluster_role({"apiGroups": ["admissionregistration.k8s.io"], "resources": ["validatingwebhookconfigurations", "mutatingwebhookconfigurations"],
                             "resourceNames": ["cert-manager-webhook"], "verbs": ["get", "update", "patch"]}, name="cainjector")
    assert decided(run(k8s, approver, injector), k8s.RBAC_NO_TAKEOVER_GRANTS.id) == []


def test_wildcards_that_grant_nothing_more_pass():
    """checkov's own passing fixtures (tests/kubernetes/checks/example_RbacApproveCertificateSigningRequests/clusterrole-passed-2.yaml,
    example_RbacControlWebhooks/clusterrole-passed-2.yaml): verbs [""] grant nothing, and `*` in apiGroups with a named resource
    and only read verbs reads that resource alone. A write verb or a wildcard resource keeps the finding."""
    nothing = cluster_role({"apiGroups": ["", "extensions", "apps"], "resources": ["*"], "verbs": [""]})
    read_named = cluster_role({"apiGroups": ["*"], "resources": ["validatingwebhookconfigurations"], "verbs": ["get", "list", "watch"]})
    assert decided(run(k8s, nothing, read_named), k8s.RBAC_NO_WILDCARD.id) == []
    for changed in (mutated(nothing, {"rules.0.verbs": ["get"]}), mutated(read_named, {"rules.0.verbs": ["get", "patch"]})):
        assert decided(run(k8s, changed), k8s.RBAC_NO_WILDCARD.id)


@pytest.mark.parametrize("changed", [
    role({"apiGroups": [UNKNOWN], "resources": ["mutatingwebhookconfigurations"], "verbs": ["patch"]}),
    cluster_role({"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": [UNKNOWN]}),
    role({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["update"]}, namespace=UNKNOWN),
    role({"apiGroups": [""], "resources": ["pods"], "verbs": ["patch"]}, namespace=UNKNOWN),
])
def test_takeover_unknowns_are_undecided(changed):
    findings = [f for f in run(k8s, changed) if f.rule_id == k8s.RBAC_NO_TAKEOVER_GRANTS.id]
    assert findings and all(f.undecided for f in findings)


# RBAC_DOCS, "User-facing roles" and `kubectl create rolebinding bob-admin-binding --clusterrole=admin --user=bob --namespace=acme`
@pytest.mark.parametrize("builtin", ["admin", "edit"])
@pytest.mark.parametrize("type_", [k8s.ROLE_BINDING, k8s.CLUSTER_ROLE_BINDING])
def test_binding_the_builtin_admin_or_edit_is_caught(builtin, type_):
    messages = decided(run(k8s, binding(builtin, type_=type_)), k8s.RBAC_NO_BUILTIN_ADMIN_EDIT_BINDING.id)
    assert messages and f"built-in ClusterRole '{builtin}', which reads and writes every Secret" in messages[0]


def test_a_namespaced_role_called_admin_is_not_the_builtin():
    assert decided(run(k8s, binding("admin", kind="Role")), k8s.RBAC_NO_BUILTIN_ADMIN_EDIT_BINDING.id) == []


ESCALATION = [
    # RBAC_DOCS, "Restrictions on role binding creation or update": bind on the admin/edit/view ClusterRoles
    (cluster_role({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles"], "verbs": ["bind"],
                   "resourceNames": ["admin", "edit", "view"]}), "grants bind"),
    # RBAC_DOCS, "Restrictions on role creation or update": escalate
    (role({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]}), "grants escalate"),
    # GOOD_PRACTICES, "Token request"
    (role({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}), "create on serviceaccounts/token"),
]


@pytest.mark.parametrize(("changed", "expected"), ESCALATION)
def test_escalation_verbs_and_token_minting_are_caught(changed, expected):
    messages = decided(run(k8s, changed), k8s.RBAC_NO_ESCALATION_VERBS.id)
    assert any(expected in m for m in messages), messages


def test_one_mutation_of_the_compliant_role_fires_only_its_rule():
    changed = mutated(role(POD_READER), {"rules.0.resources": ["pods", "pods/ephemeralcontainers"], "rules.0.verbs": ["get", "patch"]})
    assert {f.rule_id for f in run(k8s, changed)} == {k8s.RBAC_NO_TAKEOVER_GRANTS.id}
