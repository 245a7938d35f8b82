"""Kubernetes delivery built directly under mocks with a real backend: ServiceAccounts carry what the backend's
`pod_identity` says, stores use its provider block, ExternalSecrets its remote keys; all valid against the CRDs."""

from __future__ import annotations

import jsonschema
import pytest

from components.aws.backend import IRSA_ANNOTATION, AwsBackend
from components.kubernetes.delivery import KubernetesDelivery
from tests.components.kubernetes.test_manifests import eso_schema
from tests.fixtures.mocked import build, stack_spec


@pytest.fixture(scope="module")
def dev():
    spec, _, _ = stack_spec("dev")

    def construct(parent):
        aws = AwsBackend(spec, parent, "sp")
        return aws, KubernetesDelivery(spec, parent, {"aws": aws})

    return spec, build(construct)


def test_service_accounts_carry_the_backend_identity(dev):
    spec, built = dev
    aws, _ = built.value
    accounts = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r.inputs
                for r in built.of_type("kubernetes:core/v1:ServiceAccount").values()}
    for workload in spec.all_workloads:
        if (workload.namespace, workload.service_account) not in accounts:
            assert workload.name == spec.eso.workload and spec.eso.install  # the chart creates the controller's account
            continue
        account = accounts[(workload.namespace, workload.service_account)]
        if workload.name in aws.roles:
            assert account["metadata"]["annotations"] == {IRSA_ANNOTATION: built.resolve(aws.roles[workload.name].role_arn)}
        else:
            assert "annotations" not in account["metadata"]
        assert account["automountServiceAccountToken"] is False  # no backend asks for the token in dev


def test_stores_and_external_secrets_come_from_the_backend(dev):
    spec, built = dev
    aws, _ = built.value
    stores = built.of_type("kubernetes:external-secrets.io/v1:SecretStore")
    assert {r.inputs["metadata"]["namespace"] for r in stores.values()} == set(spec.store_namespaces["aws"])
    for store in stores.values():
        assert store.inputs["spec"]["provider"] == aws.store_provider("aws", "", {"name": "external-secrets-store"}).provider
        jsonschema.Draft7Validator(eso_schema("SecretStore")).validate({"apiVersion": "external-secrets.io/v1", "kind": "SecretStore", **store.inputs})
    secrets = {s.name: s for s in spec.secrets}
    external = built.of_type("kubernetes:external-secrets.io/v1:ExternalSecret")
    expected = {f"{ns}-{name}" for ns, by_name in spec.synced_by_namespace.items() for name in by_name}
    assert set(external) == expected
    for name, resource in external.items():
        declared = secrets[resource.inputs["metadata"]["name"]]
        assert {d["remoteRef"]["key"] for d in resource.inputs["spec"]["data"]} == {aws.remote_key(declared)}
        jsonschema.Draft7Validator(eso_schema("ExternalSecret")).validate({"apiVersion": "external-secrets.io/v1", "kind": "ExternalSecret", **resource.inputs})


def test_prod_namespaces_are_protected_and_retained(prod_plan, dev_plan):
    """A typo in a workload's namespace, or a removed workload, must not delete a prod namespace and all in it (#15)."""
    prod = [r for r in prod_plan.resources if r.type == "kubernetes:core/v1:Namespace"]
    assert {r.inputs["metadata"]["name"] for r in prod} == {"autolytiq", "autolytiq-workers"}
    assert all(r.protect and r.retain_on_delete for r in prod)
    dev = [r for r in dev_plan.resources if r.type == "kubernetes:core/v1:Namespace"]
    assert dev and not any(r.protect or r.retain_on_delete for r in dev)  # dev namespaces come and go with the stack
