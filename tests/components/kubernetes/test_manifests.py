"""Every generated Kubernetes object is valid against the real schemas, and every workload's chain
(ServiceAccount -> IRSA role -> policy -> ExternalSecret keys) holds end to end."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from components.config import parse_stack_spec
from offline.report import kubernetes_objects, write_manifests
from offline.run import PROJECT_DIR, plan_stack, read_stack_config
from tests.conftest import by_type, stack_namespace

# /work/shared beside the checkout, found from a worktree too (/work/wt/<name>): the nearest ancestor that has it.
ESO_SCHEMAS = next(
    (d / "shared" / "schemas" / "external-secrets" for d in PROJECT_DIR.parents if (d / "shared" / "schemas" / "external-secrets").is_dir()),
    PROJECT_DIR.parent / "shared" / "schemas" / "external-secrets",
)
KUBERNETES_VERSION = "1.34"
STACKS = ["dev", "prod", "examples/emr/Pulumi.emr-prod.yaml"]


@cache
def eso_schema(kind: str) -> dict:
    plural = {"ClusterSecretStore": "clustersecretstores", "SecretStore": "secretstores", "ExternalSecret": "externalsecrets"}[kind]
    crd = yaml.safe_load((ESO_SCHEMAS / f"external-secrets.io_{plural}.yaml").read_text())
    (served,) = [v for v in crd["spec"]["versions"] if v["served"]]
    assert served["name"] == "v1"
    return served["schema"]["openAPIV3Schema"]


@cache
def plan_of(stack: str):
    return plan_stack(stack)


def validate(manifest: dict) -> None:
    if manifest["apiVersion"].startswith("external-secrets.io/"):
        assert manifest["apiVersion"] == "external-secrets.io/v1"
        jsonschema.Draft7Validator(eso_schema(manifest["kind"])).validate(manifest)
    else:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("stack", STACKS)
def test_every_generated_object_validates(stack):
    objects = kubernetes_objects(plan_of(stack))
    planned = [r for r in plan_of(stack).resources if r.custom and r.type.startswith("kubernetes:") and r.type != "kubernetes:helm.sh/v3:Release"]
    assert len(objects) == len(planned) > 0  # 100% of generated objects are checked
    for manifest in objects:
        validate(manifest)
    kinds = {m["kind"] for m in objects}
    assert "ExternalSecret" in kinds and ({"ClusterSecretStore", "SecretStore"} & kinds)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m["spec"].update(refreshInterval=5),
        lambda m: m["spec"]["target"].update(creationPolicy="Sometimes"),
        lambda m: m["spec"].update(dataFrom="all"),
    ],
)
def test_schema_check_can_fail(mutate):
    external_secret = next(m for m in kubernetes_objects(plan_of("prod")) if m["kind"] == "ExternalSecret")
    broken = json.loads(json.dumps(external_secret))
    mutate(broken)
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_core_check_can_fail():
    service_account = next(m for m in kubernetes_objects(plan_of("prod")) if m["kind"] == "ServiceAccount")
    with pytest.raises(kubernetes_validate.ValidationError):
        validate({**service_account, "automountServiceAccountToken": "no"})


def test_cluster_store_is_limited_to_its_namespaces(prod_shared_plan):
    """worker syncing exactly api's secrets: one ClusterSecretStore for both namespaces, signing in as the controller."""
    objects = kubernetes_objects(prod_shared_plan)
    (store,) = [m for m in objects if m["kind"] == "ClusterSecretStore"]
    validate(store)
    assert store["spec"]["conditions"] == [{"namespaces": ["autolytiq", "autolytiq-workers"]}]
    assert store["spec"]["provider"]["aws"]["auth"] == {"jwt": {"serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}
    assert not [m for m in objects if m["kind"] == "SecretStore"]
    assert {(m["metadata"]["namespace"], m["spec"]["secretStoreRef"]["kind"]) for m in objects if m["kind"] == "ExternalSecret"} == {
        ("autolytiq", "ClusterSecretStore"), ("autolytiq-workers", "ClusterSecretStore")}
    release = by_type(prod_shared_plan, "kubernetes:helm.sh/v3:Release")["external-secrets-release"]
    assert release.inputs["values"]["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/autolytiq-prod-external-secrets"}


def test_namespaces_syncing_different_secrets_get_a_secret_store_each():
    """api and worker sync different secrets: a SecretStore per namespace, each signing in as its own service account,
    each ExternalSecret using the store of its own namespace; the controller carries no cloud identity."""
    objects = kubernetes_objects(plan_of("prod"))
    assert not [m for m in objects if m["kind"] == "ClusterSecretStore"]
    stores = {m["metadata"]["namespace"]: m for m in objects if m["kind"] == "SecretStore"}
    assert set(stores) == {"autolytiq", "autolytiq-workers"}
    for ns, store in stores.items():
        assert store["metadata"]["name"] == "aws-secrets-manager-prod" and "conditions" not in store["spec"]
        assert store["spec"]["provider"]["aws"]["auth"] == {"jwt": {"serviceAccountRef": {"name": "external-secrets-store"}}}
        account = next(m for m in objects if m["kind"] == "ServiceAccount" and m["metadata"]["namespace"] == ns and m["metadata"]["name"] == "external-secrets-store")
        assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": f"arn:aws:iam::123456789012:role/autolytiq-prod-store-{ns}"}
    for m in objects:
        if m["kind"] == "ExternalSecret":
            assert m["spec"]["secretStoreRef"] == {"kind": "SecretStore", "name": "aws-secrets-manager-prod"}
    release = by_type(plan_of("prod"), "kubernetes:helm.sh/v3:Release")["external-secrets-release"]
    assert release.inputs["values"]["serviceAccount"]["annotations"] == {}


def test_secret_stores_are_named_by_namespace_and_name():
    """The same store name recurs per namespace: its Pulumi name carries the namespace."""
    prod = [r for r in plan_of("prod").resources if r.type == "kubernetes:external-secrets.io/v1:SecretStore"]
    assert sorted(r.name for r in prod) == ["store-autolytiq-aws-secrets-manager-prod", "store-autolytiq-workers-aws-secrets-manager-prod"]



def test_external_secrets_never_delete_and_never_find():
    for stack in STACKS:
        for m in kubernetes_objects(plan_of(stack)):
            if m["kind"] == "ExternalSecret":
                # The target is the ExternalSecret's name unless an adopted one names its own (#17).
                assert m["spec"]["target"] == {"name": m["spec"]["target"]["name"] or None, "creationPolicy": "Owner", "deletionPolicy": "Retain"}
                assert "dataFrom" not in m["spec"]


@pytest.mark.parametrize("stack", STACKS)
def test_each_workload_chain_holds(stack):
    """ServiceAccount -> IRSA role whose trust sub is exactly that SA -> policy granting exactly its
    secrets -> ExternalSecret keys that exist in the declared secret."""
    plan = plan_of(stack)
    _, config, _ = read_stack_config(stack)
    spec = parse_stack_spec({k.split(":", 1)[1]: json.loads(v) if v[:1] in "[{" else v for k, v in config.items() if k.startswith("secrets-platform:")}, stack)
    objects = kubernetes_objects(plan)
    accounts = {(m["metadata"]["namespace"], m["metadata"]["name"]): m for m in objects if m["kind"] == "ServiceAccount"}
    roles = {r.outputs["arn"]: r for r in by_type(plan, "aws:iam/role:Role").values()}
    policies = {r.inputs["role"]: json.loads(r.inputs["policy"]) for r in by_type(plan, "aws:iam/rolePolicy:RolePolicy").values()}
    arns = {r.inputs["name"]: r.outputs["arn"] for r in by_type(plan, "aws:secretsmanager/secret:Secret").values()}
    secrets = {s.name: s for s in spec.secrets}
    checked = 0
    for workload in spec.all_workloads:
        if spec.reads(workload, "aws"):
            if (workload.namespace, workload.service_account) in accounts:
                account = accounts[(workload.namespace, workload.service_account)]
                role = roles[account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]]
            else:  # the controller's account comes from the Helm chart, annotated with the same role
                release = next(r for r in plan.resources if r.type == "kubernetes:helm.sh/v3:Release")
                assert release.inputs["values"]["serviceAccount"]["name"] == workload.service_account
                role = roles[release.inputs["values"]["serviceAccount"]["annotations"]["eks.amazonaws.com/role-arn"]]
            (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
            subs = [v for k, v in trust["Condition"]["StringEquals"].items() if k.endswith(":sub")]
            assert subs == [f"system:serviceaccount:{workload.namespace}:{workload.service_account}"]
            granted = {  # primary-region ARNs; replicas are pinned in the AWS component tests
                r for s in policies[role.inputs["name"]]["Statement"] if "secretsmanager:GetSecretValue" in s["Action"]
                for r in s["Resource"] if f":{spec.aws.region}:" in r
            }
            assert granted == {arns[spec.secret_path(secrets[n])] for n in spec.reads(workload, "aws")}
            checked += 1
        for name in spec.synced(workload):
            external = next(m for m in objects if m["kind"] == "ExternalSecret" and m["metadata"]["namespace"] == workload.namespace and m["metadata"]["name"] == name)
            keys = {d["remoteRef"].get("property") for d in external["spec"]["data"]}
            assert keys <= set(secrets[name].properties) | {None}
            assert {d["remoteRef"]["key"] for d in external["spec"]["data"]} == {spec.secret_path(secrets[name])}
            checked += 1
    assert checked > 0


def test_manifests_written_as_yaml(tmp_path):
    written = write_manifests(plan_of("dev"), tmp_path)
    assert len(written) == len(kubernetes_objects(plan_of("dev")))
    for path in written:
        validate(yaml.safe_load(path.read_text()))
    for ns in ("autolytiq", "autolytiq-workers"):
        assert (tmp_path / ns / "secretstore-aws-secrets-manager-dev.yaml").exists()
    assert not (tmp_path / "_cluster" / "clustersecretstore-aws-secrets-manager-dev.yaml").exists()
