"""The access matrix follows GCP chains: Kubernetes service account -> workload identity -> Google service
account -> secret-level binding; a project-level binding reaches every secret of the project."""

from __future__ import annotations

from offline.access.matrix import access_matrix
from offline.access.model import EFFECTIVE, READ, WRITE
from offline.run import plan_stack

PROJECT = "vibebox-prod-4821"
OAUTH, APP = f"gcp:{PROJECT}/vibebox-google-oauth-client", f"gcp:{PROJECT}/vibebox-app-config"


def gcp_access(matrix, principal):
    return {pair for pair in matrix.access(principal) if pair[0].startswith("gcp:")}


def test_vibebox_gcp_chains():
    plan = plan_stack("examples/vibebox/Pulumi.vibebox-prod.yaml")
    matrix = access_matrix(plan.resources, "vibebox-prod")
    assert gcp_access(matrix, "k8s:vibebox/backend") == {(OAUTH, READ), (APP, READ)}
    assert gcp_access(matrix, "k8s:vibebox/rotate-secrets") == {(OAUTH, READ), (OAUTH, WRITE)}
    assert gcp_access(matrix, "eso:SecretStore/vibebox/gcp-secret-manager-prod") == {(OAUTH, READ), (APP, READ)}
    assert gcp_access(matrix, "k8s:external-secrets/external-secrets") == set()
    assert not [e for e in matrix.entries if e.secret.startswith("gcp:") and e.status != EFFECTIVE]
    # A hand-written project-level accessor binding reaches every secret of the project, and later ones.
    broad = {"type": "gcp:projects/iAMMember:IAMMember", "urn": "urn:pulumi:p::x::gcp:projects/iAMMember:IAMMember::broad", "name": "broad",
             "props": {"project": PROJECT, "role": "roles/secretmanager.secretAccessor",
                       "member": f"serviceAccount:vibebox-prod-rotate-secrets@{PROJECT}.iam.gserviceaccount.com"}}
    wider = access_matrix([*plan.resources, broad], "vibebox-prod")
    assert {(OAUTH, READ), (APP, READ), (f"gcp:{PROJECT}/*", READ)} <= gcp_access(wider, "k8s:vibebox/rotate-secrets")
