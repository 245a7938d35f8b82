"""The access matrix follows GCP chains: Kubernetes service account -> federated principal (Workload Identity
Federation) or GKE workload identity -> Google service account -> secret-level binding; a project-level
binding reaches every secret of the project. GKE's pool accepts only GKE tokens: bound for service accounts
of another cluster, the chain is blocked, not effective (#15)."""

from __future__ import annotations

import json

from offline.access.matrix import access_matrix
from offline.access.model import BLOCKED, EFFECTIVE, READ, UNKNOWN, WRITE
from offline.run import plan_stack

PROJECT = "vibebox-prod-4821"
OAUTH, APP = f"gcp:{PROJECT}/vibebox-google-oauth-client", f"gcp:{PROJECT}/vibebox-app-config"
POOL = "projects/418273645091/locations/global/workloadIdentityPools/vibebox-prod-k8s"
EKS = "oidc.eks.us-east-1.amazonaws.com/id/D4E5F60718293A4B5C6D7E8F90A1B2C3"
GKE = f"container.googleapis.com/v1/projects/{PROJECT}/locations/us-east1/clusters/vibebox-prod"


def gcp_access(matrix, principal):
    return {pair for pair in matrix.access(principal) if pair[0].startswith("gcp:")}


def test_vibebox_gcp_chains():
    plan = plan_stack("examples/vibebox/Pulumi.vibebox-prod.yaml")
    matrix = access_matrix(plan.resources, "vibebox-prod")
    assert gcp_access(matrix, "k8s:vibebox/backend") == {(OAUTH, READ), (APP, READ)}
    assert gcp_access(matrix, "k8s:vibebox/rotate-secrets") == {(OAUTH, READ), (OAUTH, WRITE)}
    assert gcp_access(matrix, "eso:SecretStore/vibebox/gcp-secret-manager-prod") == {(OAUTH, READ), (APP, READ)}
    # The controller has no Google identity of its own: it reaches GCP only through its chart's RBAC (#15).
    controller = [e for e in matrix.entries if e.principal == "k8s:external-secrets/external-secrets" and e.secret.startswith("gcp:")]
    assert all(c[0].startswith("ClusterRole external-secrets-controller: ") for e in controller for c in e.chains)
    assert not [e for e in matrix.entries if e.secret.startswith("gcp:") and e.status != EFFECTIVE]
    backend = next(e for e in matrix.entries if e.principal == "k8s:vibebox/backend" and e.secret == APP)
    assert backend.chains[0][0] == "federated principal of pool vibebox-prod-k8s (project 418273645091)"
    assert matrix.principals[f"gcp-member:principal://iam.googleapis.com/{POOL}/subject/system:serviceaccount:vibebox:backend"].kind == "gcp-federated"
    # A hand-written project-level accessor binding reaches every secret of the project, and later ones.
    broad = {"type": "gcp:projects/iAMMember:IAMMember", "urn": "urn:pulumi:p::x::gcp:projects/iAMMember:IAMMember::broad", "name": "broad",
             "props": {"project": PROJECT, "role": "roles/secretmanager.secretAccessor",
                       "member": f"principal://iam.googleapis.com/{POOL}/subject/system:serviceaccount:vibebox:rotate-secrets"}}
    wider = access_matrix([*plan.resources, broad], "vibebox-prod")
    assert {(OAUTH, READ), (APP, READ), (f"gcp:{PROJECT}/*", READ)} <= gcp_access(wider, "k8s:vibebox/rotate-secrets")


def resource(type_: str, name: str, props: dict, outputs: dict | None = None) -> dict:
    return {"type": type_, "urn": f"urn:pulumi:p::x::{type_}::{name}", "name": name, "props": props, "outputs": outputs or {}}


def gke_pool_estate(issuer: str | None) -> list[dict]:
    """A Google service account reading one secret, impersonable through GKE's pool by vibebox/backend; with
    `issuer`, an IAM role trusting that issuer for the same service account (what says where it runs)."""
    email = f"backend@{PROJECT}.iam.gserviceaccount.com"
    out = [
        resource("gcp:secretmanager/secret:Secret", "app", {"project": PROJECT, "secretId": APP.rsplit("/", 1)[1], "labels": {"classification": "medium"}}),
        resource("gcp:serviceaccount/account:Account", "gsa", {"project": PROJECT, "accountId": "backend"}, {"email": email}),
        resource("gcp:serviceaccount/iAMMember:IAMMember", "wi", {"serviceAccountId": f"projects/{PROJECT}/serviceAccounts/{email}",
                                                                  "role": "roles/iam.workloadIdentityUser", "member": f"serviceAccount:{PROJECT}.svc.id.goog[vibebox/backend]"}),
        resource("gcp:secretmanager/secretIamMember:SecretIamMember", "read", {"project": PROJECT, "secretId": f"projects/{PROJECT}/secrets/{APP.rsplit('/', 1)[1]}",
                                                                              "role": "roles/secretmanager.secretAccessor", "member": f"serviceAccount:{email}"}),
    ]
    if issuer is not None:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity",
                                                          "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"},
                                                          "Condition": {"StringEquals": {f"{issuer}:sub": "system:serviceaccount:vibebox:backend",
                                                                                         f"{issuer}:aud": "sts.amazonaws.com"}}}]}
        out.append(resource("aws:iam/role:Role", "backend-role", {"name": "backend", "assumeRolePolicy": json.dumps(trust)},
                            {"arn": "arn:aws:iam::123456789012:role/backend"}))
    return out


def test_a_gke_pool_binding_for_service_accounts_of_an_eks_cluster_is_blocked_not_effective():
    matrix = access_matrix(gke_pool_estate(EKS), "regression")
    (entry,) = [e for e in matrix.entries if e.principal == "k8s:vibebox/backend" and e.secret == APP]
    assert entry.status == BLOCKED and not gcp_access(matrix, "k8s:vibebox/backend")
    assert f"accepts only tokens of GKE clusters of project {PROJECT}" in entry.reason and f"https://{EKS}".lower() in entry.reason.lower()
    # The same binding for service accounts of that project's GKE cluster works.
    assert gcp_access(access_matrix(gke_pool_estate(GKE), "gke"), "k8s:vibebox/backend") == {(APP, READ)}
    # Nothing in the plan says which cluster: not assessed as effective.
    (unknown,) = [e for e in access_matrix(gke_pool_estate(None), "none").entries if e.principal == "k8s:vibebox/backend" and e.secret == APP]
    assert unknown.status == UNKNOWN


def federated_estate(condition: str | None, mapping: str = "assertion.sub") -> list[dict]:
    member = f"principal://iam.googleapis.com/{POOL}/subject/system:serviceaccount:vibebox:backend"
    provider = {"project": PROJECT, "workloadIdentityPoolId": "vibebox-prod-k8s", "workloadIdentityPoolProviderId": "kubernetes",
                "attributeMapping": {"google.subject": mapping}, "oidc": {"issuerUri": f"https://{EKS}"}}
    if condition is not None:
        provider["attributeCondition"] = condition
    return [
        resource("gcp:secretmanager/secret:Secret", "app", {"project": PROJECT, "secretId": APP.rsplit("/", 1)[1]}),
        resource("gcp:iam/workloadIdentityPool:WorkloadIdentityPool", "pool", {"project": PROJECT, "workloadIdentityPoolId": "vibebox-prod-k8s"}),
        resource("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider", "provider", provider),
        resource("gcp:secretmanager/secretIamMember:SecretIamMember", "read", {"project": PROJECT, "secretId": f"projects/{PROJECT}/secrets/{APP.rsplit('/', 1)[1]}",
                                                                              "role": "roles/secretmanager.secretAccessor", "member": member}),
    ]


def test_a_federated_principal_reads_only_when_its_pool_provider_admits_the_subject():
    admitted = access_matrix(federated_estate("assertion.sub in ['system:serviceaccount:vibebox:backend']"), "admitted")
    assert gcp_access(admitted, "k8s:vibebox/backend") == {(APP, READ)}
    refused = access_matrix(federated_estate("assertion.sub == 'system:serviceaccount:vibebox:other'"), "refused")
    assert not [e for e in refused.entries if e.principal == "k8s:vibebox/backend"]
    assert any("no provider of pool vibebox-prod-k8s admits this subject" in n for n in refused.notes)
    unmapped = access_matrix(federated_estate(None, mapping="assertion.email"), "unmapped")
    assert {e.status for e in unmapped.entries if e.principal == "k8s:vibebox/backend"} == {UNKNOWN}


def test_a_pool_wide_principal_set_reaches_every_subject_its_provider_admits():
    pool_wide = f"principalSet://iam.googleapis.com/{POOL}/*"
    estate = federated_estate("assertion.sub in ['system:serviceaccount:vibebox:backend', 'system:serviceaccount:vibebox:web']")
    estate[-1] = {**estate[-1], "props": {**estate[-1]["props"], "member": pool_wide}}
    matrix = access_matrix(estate, "pool-wide")
    assert gcp_access(matrix, "k8s:vibebox/backend") == gcp_access(matrix, "k8s:vibebox/web") == {(APP, READ)}
    # Without a condition the provider admits every service account of the cluster, and later ones.
    unconditioned = federated_estate(None)
    unconditioned[-1] = {**unconditioned[-1], "props": {**unconditioned[-1]["props"], "member": pool_wide}}
    assert gcp_access(access_matrix(unconditioned, "open"), "k8s:*/*") == {(APP, READ)}


def test_a_federated_store_whose_token_audience_the_provider_refuses_reads_nothing():
    plan = plan_stack("examples/vibebox/Pulumi.vibebox-prod.yaml")
    store_type = "kubernetes:external-secrets.io/v1:SecretStore"

    def as_dict(r):
        props = r.inputs
        if r.type == store_type and "gcpsm" in props["spec"]["provider"]:
            props = json.loads(json.dumps(props))
            props["spec"]["provider"]["gcpsm"]["auth"]["workloadIdentityFederation"]["serviceAccountRef"]["audiences"] = ["sts.amazonaws.com"]
        return {"type": r.type, "urn": r.urn, "name": r.name, "props": props, "outputs": dict(r.outputs)}

    matrix = access_matrix([as_dict(r) for r in plan.resources], "vibebox-prod")
    assert gcp_access(matrix, "eso:SecretStore/vibebox/gcp-secret-manager-prod") == set()
    assert any("accepts no token audience the store requests (sts.amazonaws.com)" in n for n in matrix.notes)
