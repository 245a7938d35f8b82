"""The AWS backend built directly under mocks (no stack program): what it registers and what it offers the
composition (grants, store provider, ServiceAccount identity, outputs)."""

from __future__ import annotations

import json

import pytest

from components.aws import actions
from components.aws.backend import IRSA_ANNOTATION, AwsBackend
from tests.fixtures.mocked import build, stack_spec


@pytest.fixture(scope="module")
def dev():
    spec, _, _ = stack_spec("dev")
    return spec, build(lambda parent: AwsBackend(spec, parent, "sp"))


def test_registers_provider_keys_and_secrets_under_the_parent(dev):
    spec, built = dev
    (parent,) = built.of_type("test:index:Parent").values()
    provider = built.named("sp-aws")
    assert json.loads(provider.inputs["allowedAccountIds"]) == [spec.aws.account_id] and provider.parent == parent.urn
    secrets = built.of_type("secrets-platform:aws:ManagedSecret")
    assert set(secrets) == {s.name for s in spec.secrets_on("aws")} and all(r.parent == parent.urn for r in secrets.values())
    for secret in spec.secrets_on("aws"):
        registered = built.named(f"{secret.name}-secret")
        assert registered.inputs["name"] == spec.secret_path(secret)
        assert registered.inputs["kmsKeyId"] == built.resolve(built.value.keys[spec.key_name(secret)].key_arn)
    assert set(built.of_type("secrets-platform:aws:EncryptionKey")) == {k.name for k in spec.effective_keys()}


def test_each_role_policy_holds_exactly_its_grants(dev):
    spec, built = dev
    api = next(w for w in spec.workloads if w.name == "api")
    document = json.loads(built.named("api-secrets").inputs["policy"])
    secret_statements = [s for s in document["Statement"] if "Condition" not in s]
    arns = {name: built.resolve(s.secret_arn) for name, s in built.value.secrets.items()}
    assert [s["Resource"] for s in secret_statements] == [[arns[name]] for name in spec.reads(api, "aws")]
    assert all(s["Action"] == actions.checked(actions.SECRET_READ) for s in secret_statements)
    # The worker gets its secrets through External Secrets only: no role, no policy.
    assert "worker" not in built.value.roles and not [r for r in built.resources if r.name == "worker-secrets"]


def test_grant_puts_secret_and_key_in_one_grant(dev):
    _, built = dev
    backend: AwsBackend = built.value
    read = backend.grant("api", "database", "read")
    assert (read.secret_name, read.access, read.secret_actions, read.key_actions) == ("database", "read", actions.SECRET_READ, actions.KEY_READ)
    assert built.resolve(read.key_arns[0]) == built.resolve(backend.keys["shared"].key_arn)
    rotate = backend.grant("rotate-database", "database", "rotate")
    assert rotate.secret_actions == actions.SECRET_ROTATE and list(rotate.regions) == [backend.spec.aws.region]


def test_store_provider_identity_and_outputs(dev):
    spec, built = dev
    backend: AwsBackend = built.value
    api = next(w for w in spec.workloads if w.name == "api")
    controller = next(w for w in spec.workloads if w.name == "external-secrets")
    assert built.resolve(backend.pod_identity(api).annotations[IRSA_ANNOTATION]) == built.resolve(backend.roles["api"].role_arn)
    assert backend.pod_identity(controller).annotations == {}
    store = backend.store_provider("aws", "store-autolytiq", {"name": "external-secrets-store"})
    assert store.name == "aws-secrets-manager-dev"
    assert store.provider == {"aws": {"service": "SecretsManager", "region": spec.aws.region,
                                      "auth": {"jwt": {"serviceAccountRef": {"name": "external-secrets-store"}}}}}
    database = next(s for s in spec.secrets if s.name == "database")
    assert backend.remote_key(database) == spec.secret_path(database)
    outputs = backend.outputs()
    assert set(outputs) == set(AwsBackend.outputs_declared) and set(outputs["secret_arns"]) == {s.name for s in spec.secrets_on("aws")}
