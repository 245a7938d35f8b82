"""The Azure backend built directly under mocks: the role scope choice (one secret or the whole vault) is the
backend's, one role assignment per scope, and stores wait for the assignments to propagate."""

from __future__ import annotations

import pytest

from components.azure.backend import CLIENT_ID_ANNOTATION, USE_LABEL, AzureBackend
from tests.fixtures.mocked import build, stack_spec

PHAGEN = "examples/phagen/Pulumi.phagen-prod.yaml"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"


def phagen(role_scope: str):
    def scoped(raw: dict) -> None:
        raw["azure"]["role_scope"] = role_scope

    spec, _, _ = stack_spec(PHAGEN, scoped)
    return spec, build(lambda parent: AzureBackend(spec, parent, "sp"))


@pytest.fixture(scope="module")
def per_secret():
    return phagen("secret")


def test_per_secret_scope_assigns_each_read_secret(per_secret):
    spec, built = per_secret
    vault_id = built.resolve(built.value.key_vault.vault_id)
    expected = {
        (f"azure-{w.name}-reads-{spec.azure_secret_name(s)}", f"{vault_id}/secrets/{spec.azure_secret_name(s)}")
        for w in spec.all_workloads for s in spec.secrets if s.name in spec.reads(w, "azure")
    }
    assert {(name, a.inputs["scope"]) for name, a in built.of_type(ASSIGNMENT).items() if not name.startswith("azure-operator-")} == expected and len(expected) > 1


def test_vault_scope_is_one_assignment_per_identity():
    spec, built = phagen("vault")
    vault_id = built.resolve(built.value.key_vault.vault_id)
    readers = [w for w in spec.all_workloads if spec.reads(w, "azure")]
    assert any(len(spec.reads(w, "azure")) > 1 for w in readers)  # several reads collapse into one assignment
    assert {(name, a.inputs["scope"]) for name, a in built.of_type(ASSIGNMENT).items() if not name.startswith("azure-operator-")} == {
        (f"azure-{w.name}-reads-vault", vault_id) for w in readers
    }
    grant = built.value.grant("phagen-llm", "llm-api-key", "read")
    assert (grant.secret_name, grant.access, grant.label) == ("llm-api-key", "read", "vault")


def test_grant_identity_ready_and_remote_key(per_secret):
    spec, built = per_secret
    backend: AzureBackend = built.value
    with pytest.raises(ValueError, match="no rotation function"):
        backend.grant("phagen-llm", "llm-api-key", "rotate")
    write = backend.grant("phagen-llm", "llm-api-key", "write")  # writes were silently ignored before #15
    assert (write.access, write.label) == ("write", "phagen-prod-llm-api-key")
    workloads = {w.name: w for w in spec.workloads}
    identity = backend.pod_identity(workloads["phagen-analytics"])
    assert built.resolve(identity.annotations[CLIENT_ID_ANNOTATION]) == built.resolve(backend.identities["phagen-analytics"].client_id)
    assert identity.pod_labels == USE_LABEL
    # phagen-llm receives its secrets through External Secrets only: no identity of its own.
    assert backend.pod_identity(workloads["phagen-llm"]).annotations == {}
    sleeps = {r.urn for r in built.of_type("time:index/sleep:Sleep").values()}
    assert {built.resolve(r.urn) for r in backend.ready()} == sleeps and len(sleeps) == len(backend.identities)
    secret = next(s for s in spec.secrets if s.name == "llm-api-key")
    assert backend.remote_key(secret) == spec.azure_secret_name(secret)
