"""The GCP backend built directly under mocks: one IAM binding per (workload, secret, access), on the secret
and, VibeBox's workloads running on EKS, for the workload's federated principal under the federation
component, never on the project."""

from __future__ import annotations

import pytest

from components.gcp.backend import GcpBackend
from components.gcp.secret import ACCESSOR, VERSION_ADDER
from tests.fixtures.mocked import build, stack_spec

VIBEBOX = "examples/vibebox/Pulumi.vibebox-prod.yaml"
MEMBER = "gcp:secretmanager/secretIamMember:SecretIamMember"


@pytest.fixture(scope="module")
def vibebox():
    spec, _, _ = stack_spec(VIBEBOX)
    return spec, build(lambda parent: GcpBackend(spec, parent, "sp"))


def test_one_binding_per_secret_and_access_under_its_account(vibebox):
    spec, built = vibebox
    assert not built.of_type("secrets-platform:gcp:WorkloadServiceAccount")
    (federation,) = built.of_type("secrets-platform:gcp:WorkloadIdentityFederation").values()
    secret_ids = {name: built.resolve(secret.secret_id) for name, secret in built.value.secrets.items()}
    expected = {
        (f"{w.name}-{access}-gcp-{name}", role, federation.urn, secret_ids[name])
        for w in spec.all_workloads
        for access, role, names in (("read", ACCESSOR, spec.reads(w, "gcp")), ("write", VERSION_ADDER, spec.writes(w, "gcp")))
        for name in names
    }
    # Operators' groups are bound beside them (tests/components/test_operators.py).
    members = {(name, m.inputs["role"], m.parent, m.inputs["secretId"]) for name, m in built.of_type(MEMBER).items() if not name.startswith("operator-")}
    assert members == expected and any(role == VERSION_ADDER for _, role, _, _ in expected)
    principals = {m.inputs["member"] for name, m in built.of_type(MEMBER).items() if not name.startswith("operator-")}
    assert principals == {spec.gcp_federated_principal(w) for w in spec.all_workloads if spec.gcp_access(w)}
    # No project-wide grant; the project's audit config for Secret Manager data access is not one (#15).
    assert not [r for r in built.resources if r.type.startswith("gcp:projects/iAM") and r.type != "gcp:projects/iAMAuditConfig:IAMAuditConfig"]


def test_grant_store_identity_and_remote_key(vibebox):
    spec, built = vibebox
    backend: GcpBackend = built.value
    grant = backend.grant("backend", "app-config", "write")
    assert (grant.secret_name, grant.access, grant.role) == ("app-config", "write", VERSION_ADDER)
    with pytest.raises(ValueError, match="read or write"):
        backend.grant("backend", "app-config", "rotate")
    workload = next(w for w in spec.workloads if w.name == "backend")
    assert backend.pod_identity(workload).annotations == {}  # federated: no Google service account to name
    store = backend.store_provider("gcp", "store-vibebox", {"name": "external-secrets-store"})
    assert store.name == "gcp-secret-manager-prod" and store.provider["gcpsm"]["projectID"] == spec.gcp.project_id
    assert store.provider["gcpsm"]["auth"]["workloadIdentityFederation"]["audience"] == spec.gcp_sts_audience
    app_config = next(s for s in spec.secrets if s.name == "app-config")
    assert backend.remote_key(app_config) == spec.gcp_secret_id(app_config) and "/" not in backend.remote_key(app_config)
