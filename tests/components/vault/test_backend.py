"""The Vault backend built directly under mocks: each identity's policy holds exactly its paths (the Vault path
rules live in the backend now), the database password never reaches a recorded input, stores sign in with the
store identity's role."""

from __future__ import annotations

import json

import pytest

from components.vault.backend import VaultBackend
from offline.mocks import REDACTED
from tests.conftest import CANARY
from tests.fixtures.mocked import build, stack_spec

EMR = "examples/emr/Pulumi.emr-prod.yaml"


@pytest.fixture(scope="module")
def emr():
    spec, config, secret_keys = stack_spec(EMR)
    config = {key: CANARY if key in secret_keys else value for key, value in config.items()}
    return spec, build(lambda parent: VaultBackend(spec, parent, "sp"), config, secret_keys)


def policy_paths(hcl: str) -> dict[str, str]:
    lines = hcl.splitlines()
    return {line.split('"')[1]: lines[i + 1].strip() for i, line in enumerate(lines) if line.startswith("path ")}


def test_policy_holds_exactly_the_declared_paths(emr):
    spec, built = emr
    secrets = {s.name: s for s in spec.secrets}
    paths = policy_paths(built.named("vault-emr-service-policy").inputs["policy"])
    expected = {f"{spec.kv_mount(secrets[n])}/data/{spec.secret_path(secrets[n])}" for n in ("epic", "cerner")}
    assert expected <= set(paths) and all(paths[p] == 'capabilities = ["read"]' for p in expected)
    kv_paths = {p for p in paths if "/data/" in p or "/metadata/" in p}
    assert kv_paths == expected  # no other secret, no metadata it did not declare
    assert set(built.value.identities) == {w.name for w in spec.all_workloads if spec.vault_access(w)}


def test_database_password_is_never_a_recorded_value(emr):
    _, built = emr
    # The password reaches the connection as a secret (write-only), and nowhere as a value.
    assert built.named("postgres-connection").inputs["postgresql"]["passwordWo"] == REDACTED
    assert CANARY not in json.dumps([(r.inputs, r.outputs) for r in built.resources], default=str)


def test_grant_store_and_identity(emr):
    spec, built = emr
    backend: VaultBackend = built.value
    grant = backend.grant("emr-service", "epic", "write")
    epic = next(s for s in spec.secrets if s.name == "epic")
    assert (grant.secret_name, grant.access, grant.rule.capabilities) == ("epic", "write", ("create", "update"))
    assert grant.rule.path == f"{spec.kv_mount(epic)}/data/{spec.secret_path(epic)}"
    with pytest.raises(ValueError, match="read or write"):
        backend.grant("emr-service", "epic", "rotate")
    store = backend.store_provider(f"vault-{spec.kv_mount(epic)}", "store-emr-task", {"name": "external-secrets-store"})
    auth = store.provider["vault"]["auth"]["kubernetes"]
    assert built.resolve(auth["role"]) == built.resolve(backend.identities["store-emr-task"].role_name)
    assert auth["serviceAccountRef"] == {"name": "external-secrets-store", "audiences": [spec.vault.kubernetes_auth.audience]}
    workloads = {w.name: w for w in spec.all_workloads}
    # emr-service logs in to Vault itself with its token; the controller has no Vault access.
    assert backend.pod_identity(workloads["emr-service"]).automount_token is True
    assert backend.pod_identity(workloads["external-secrets"]).automount_token is False
    assert set(backend.outputs()) == set(VaultBackend.outputs_declared)
