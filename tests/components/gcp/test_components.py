"""Properties of what the GCP components plan (VibeBox's GCP part and variants of it): CMEK per replica,
rotation, per-secret grants, workload identity (VibeBox as if it ran on GKE) and Workload Identity Federation
(VibeBox as it is, on EKS), the Kubernetes side, protection; spec errors."""

from __future__ import annotations

import copy
import json
from functools import cache

import jsonschema
import pytest
import yaml

from components.config import parse_stack_spec
from components.gcp.secret import ACCESSOR, ROTATION_IGNORED, VALUE_PROPERTIES, VERSION_ADDER
from offline.report import kubernetes_objects
from offline.run import PROJECT_DIR
from policy.rules import gcp as gcp_rules
from tests.components.kubernetes.test_manifests import eso_schema
from tests.conftest import CANARY, by_type, plan_raw, stack_namespace
from tests.fixtures.refusal import refused, spec_problems

VIBEBOX = "examples/vibebox/Pulumi.vibebox-prod.yaml"
PROJECT = "vibebox-prod-4821"
POOL = f"{PROJECT}.svc.id.goog"
SECRET = "gcp:secretmanager/secret:Secret"
ACCESS_BINDING = "gcp:secretmanager/secretIamMember:SecretIamMember"


GKE_ISSUER = f"https://container.googleapis.com/v1/projects/{PROJECT}/locations/us-east1/clusters/vibebox-prod"
NUMBER = "418273645091"
FEDERATED = f"principal://iam.googleapis.com/projects/{NUMBER}/locations/global/workloadIdentityPools/vibebox-prod-k8s/subject/system:serviceaccount:"


def as_written() -> dict:
    """VibeBox as the example declares it: workloads on EKS, GCP through Workload Identity Federation."""
    return copy.deepcopy(stack_namespace(VIBEBOX))


def vibebox() -> dict:
    """VibeBox as if its workloads ran on a GKE cluster (IRSA and Azure trusting that cluster's issuer): the
    GKE pool wiring."""
    raw = as_written()
    raw["cluster"] = {"oidc_issuer_url": GKE_ISSUER, "oidc_provider_arn": f"arn:aws:iam::123456789012:oidc-provider/{GKE_ISSUER.removeprefix('https://')}"}
    raw["azure"]["aks_oidc_issuer_url"] = GKE_ISSUER
    for key in ("workload_identity_federation", "project_number"):
        raw["gcp"].pop(key)
    raw["gcp"]["gke"] = {"name": "vibebox-prod", "location": "us-east1"}
    return raw


@cache
def vibebox_plan():
    return plan_raw(vibebox(), stack="vibebox-prod")


def gcp_only(raw: dict) -> dict:
    """VibeBox reduced to its GCP secrets, so a variant plans quickly and reads nothing else."""
    gcp_names = {s["name"] for s in raw["secrets"] if s.get("backend") == "gcp"}
    raw["secrets"] = [s for s in raw["secrets"] if s["name"] in gcp_names]
    for key in ("vault", "azure"):
        raw.pop(key, None)
    for workload in raw["workloads"]:
        for field in ("reads", "writes", "versions"):
            if field in workload:
                workload[field] = [n for n in workload[field] if n in gcp_names]
        for field in ("vault_login", "approle"):
            workload.pop(field, None)
    for operator in raw.get("operators", []):
        operator.pop("azure_group_object_id", None)
        for field in ("reads", "writes"):
            operator[field] = [n for n in operator.get(field, []) if n in gcp_names]
    return raw


def test_each_secret_is_cmek_encrypted_per_replica_with_a_key_of_its_region():
    plan = vibebox_plan()
    secrets = by_type(plan, SECRET)
    assert {r.inputs["secretId"] for r in secrets.values()} == {"vibebox-google-oauth-client", "vibebox-app-config"}
    for secret in secrets.values():
        replicas = secret.inputs["replication"]["userManaged"]["replicas"]
        assert [r["location"] for r in replicas] == ["us-east1", "us-west1"]
        for replica in replicas:
            key = replica["customerManagedEncryption"]["kmsKeyName"]
            assert key == f"projects/{PROJECT}/locations/{replica['location']}/keyRings/vibebox-prod-secrets/cryptoKeys/shared"
        assert "auto" not in secret.inputs["replication"]


def test_critical_secret_gets_a_dedicated_key_and_automatic_replication_uses_global():
    raw = gcp_only(vibebox())
    raw["gcp"].pop("replica_regions")
    raw["secrets"][0]["classification"] = "critical"
    raw["secrets"][0]["rotation"] = {"kind": "manual", "days": 365}
    plan = plan_raw(raw, stack="vibebox-prod")
    secrets = {r.inputs["secretId"]: r.inputs["replication"] for r in by_type(plan, SECRET).values()}
    ring = f"projects/{PROJECT}/locations/global/keyRings/vibebox-prod-secrets/cryptoKeys"
    assert secrets["vibebox-google-oauth-client"] == {"auto": {"customerManagedEncryption": {"kmsKeyName": f"{ring}/google-oauth-client"}}}
    assert secrets["vibebox-app-config"] == {"auto": {"customerManagedEncryption": {"kmsKeyName": f"{ring}/shared"}}}
    assert {r.inputs["location"] for r in by_type(plan, "gcp:kms/keyRing:KeyRing").values()} == {"global"}


def test_keys_rotate_and_only_the_service_agent_may_use_each_one():
    plan = vibebox_plan()
    keys = by_type(plan, "gcp:kms/cryptoKey:CryptoKey")
    assert len(keys) == 2  # the shared key in each replica region
    agent = by_type(plan, "gcp:projects/serviceIdentity:ServiceIdentity")["secretmanager-agent"]
    assert agent.inputs["service"] == "secretmanager.googleapis.com"
    grants = by_type(plan, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert {g.inputs["cryptoKeyId"] for g in grants.values()} == {k.outputs.get("id", None) or f"{k.inputs['keyRing']}/cryptoKeys/{k.inputs['name']}" for k in keys.values()}
    for key in keys.values():
        assert key.inputs["rotationPeriod"] == "7776000s"
        assert key.inputs["purpose"] == "ENCRYPT_DECRYPT"
        assert key.protect and key.retain_on_delete
        assert key.inputs["labels"]["classification"] == "high"
    for grant in grants.values():
        assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
        assert grant.inputs["member"] == agent.outputs["member"]
        assert grant.inputs["member"].endswith("@gcp-sa-secretmanager.iam.gserviceaccount.com")


def test_secret_settings_in_prod():
    plan = vibebox_plan()
    topic = by_type(plan, "gcp:pubsub/topic:Topic")["gcp-rotation-topic"]
    assert topic.inputs["name"] == "vibebox-prod-secret-rotation"
    publisher = by_type(plan, "gcp:pubsub/topicIAMMember:TopicIAMMember")["gcp-rotation-secretmanager"]
    assert publisher.inputs["role"] == "roles/pubsub.publisher" and "gcp-sa-secretmanager" in publisher.inputs["member"]
    days = {"vibebox-google-oauth-client": 90, "vibebox-app-config": 180}
    for secret in by_type(plan, SECRET).values():
        inputs = secret.inputs
        assert inputs["rotation"]["rotationPeriod"] == f"{days[inputs['secretId']] * 86400}s"
        assert inputs["rotation"]["nextRotationTime"].endswith("T04:00:00Z")
        assert inputs["topics"] == [{"name": f"projects/{PROJECT}/topics/vibebox-prod-secret-rotation"}]
        assert inputs["versionDestroyTtl"] == f"{30 * 86400}s"
        assert inputs["deletionProtection"] is True
        assert secret.protect and secret.retain_on_delete
        assert set(ROTATION_IGNORED) <= set(secret.ignore_changes)
        assert inputs["labels"]["managed-by"] == "secrets-platform" and inputs["labels"]["rotation"] == "manual"
        for key, value in inputs["labels"].items():
            assert len(key) <= 63 and len(value) <= 63 and key == key.lower() and value == value.lower()
    # No value in state by default: no version is declared.
    assert not by_type(plan, "gcp:secretmanager/secretVersion:SecretVersion")


def test_each_workload_reads_exactly_its_secrets_one_binding_per_secret():
    plan = vibebox_plan()
    ids = {r.urn: r.inputs["secretId"] for r in by_type(plan, SECRET).values()}
    assert ids
    found = {(b.inputs["member"], b.inputs["secretId"].rsplit("/", 1)[1], b.inputs["role"]) for b in by_type(plan, ACCESS_BINDING).values()}
    sa = lambda workload: f"serviceAccount:vibebox-prod-{workload}@{PROJECT}.iam.gserviceaccount.com"  # noqa: E731
    assert found == {
        (sa("backend"), "vibebox-google-oauth-client", ACCESSOR), (sa("backend"), "vibebox-app-config", ACCESSOR),
        (sa("rotate-secrets"), "vibebox-google-oauth-client", ACCESSOR), (sa("rotate-secrets"), "vibebox-google-oauth-client", VERSION_ADDER),
        # the namespaced SecretStore's own identity: exactly what is synced into vibebox
        (sa("store-vibebox"), "vibebox-google-oauth-client", ACCESSOR), (sa("store-vibebox"), "vibebox-app-config", ACCESSOR),
        # the operators' Google group puts new versions of the hand-rotated app-config (#15)
        ("group:secrets-operators@example.com", "vibebox-app-config", VERSION_ADDER),
    }
    for binding in by_type(plan, ACCESS_BINDING).values():
        assert binding.inputs["secretId"].startswith(f"projects/{PROJECT}/secrets/")
    # No project-, folder- or organisation-wide grant; the project's Secret Manager audit config is not one (#15).
    assert not [r for r in plan.resources if r.type.startswith(("gcp:projects/iAM", "gcp:folder/", "gcp:organizations/"))
                and r.type != "gcp:projects/iAMAuditConfig:IAMAuditConfig"]


def test_workload_identity_binds_one_kubernetes_service_account_to_its_google_account():
    plan = vibebox_plan()
    accounts = {r.inputs["accountId"]: r for r in by_type(plan, "gcp:serviceaccount/account:Account").values()}
    assert set(accounts) == {"vibebox-prod-backend", "vibebox-prod-rotate-secrets", "vibebox-prod-store-vibebox"}
    bindings = {b.inputs["serviceAccountId"].rsplit("/", 1)[1]: b.inputs for b in by_type(plan, "gcp:serviceaccount/iAMMember:IAMMember").values()}
    assert bindings[f"vibebox-prod-backend@{PROJECT}.iam.gserviceaccount.com"] == {
        "serviceAccountId": f"projects/{PROJECT}/serviceAccounts/vibebox-prod-backend@{PROJECT}.iam.gserviceaccount.com",
        "role": "roles/iam.workloadIdentityUser", "member": f"serviceAccount:{POOL}[vibebox/backend]"}
    assert bindings[f"vibebox-prod-store-vibebox@{PROJECT}.iam.gserviceaccount.com"]["member"] == f"serviceAccount:{POOL}[vibebox/external-secrets-store]"
    # The Kubernetes side carries the Google identity beside the AWS one.
    sas = {(s.inputs["metadata"]["namespace"], s.inputs["metadata"]["name"]): s.inputs["metadata"].get("annotations", {})
           for s in by_type(plan, "kubernetes:core/v1:ServiceAccount").values()}
    assert sas[("vibebox", "backend")]["iam.gke.io/gcp-service-account"] == f"vibebox-prod-backend@{PROJECT}.iam.gserviceaccount.com"
    assert sas[("vibebox", "backend")]["eks.amazonaws.com/role-arn"].endswith(":role/vibebox-prod-backend")
    assert sas[("vibebox", "external-secrets-store")]["iam.gke.io/gcp-service-account"].startswith("vibebox-prod-store-vibebox@")


def test_long_workload_names_get_a_stable_short_account_id():
    raw = gcp_only(vibebox())
    raw["workloads"][0]["name"] = "backend-with-a-rather-long-name"
    spec = parse_stack_spec(raw, "Pulumi.vibebox-prod.yaml")
    account = spec.gcp_service_account_id(spec.workloads[0])
    assert 6 <= len(account) <= 30 and account.startswith("vibebox-prod-backend-wi")
    assert account == parse_stack_spec(raw, "Pulumi.vibebox-prod.yaml").gcp_service_account_id(spec.workloads[0])


def validate(manifest: dict) -> None:
    jsonschema.Draft7Validator(eso_schema(manifest["kind"])).validate(manifest)


def test_namespaced_gcp_store_and_external_secrets_validate():
    objects = kubernetes_objects(vibebox_plan())
    (store,) = [m for m in objects if m["metadata"]["name"] == "gcp-secret-manager-prod"]
    validate(store)
    assert store["kind"] == "SecretStore" and store["metadata"]["namespace"] == "vibebox"
    assert store["spec"]["provider"] == {"gcpsm": {"projectID": PROJECT, "auth": {"workloadIdentity": {
        "clusterLocation": "us-east1", "clusterName": "vibebox-prod", "clusterProjectID": PROJECT,
        "serviceAccountRef": {"name": "external-secrets-store"}}}}}
    synced = [m for m in objects if m["kind"] == "ExternalSecret" and m["spec"]["secretStoreRef"]["name"] == "gcp-secret-manager-prod"]
    for manifest in synced:
        validate(manifest)
    oauth = next(m for m in synced if m["metadata"]["name"] == "google-oauth-client")
    assert oauth["spec"]["data"] == [{"secretKey": p, "remoteRef": {"key": "vibebox-google-oauth-client", "property": p}} for p in ("client_id", "client_secret")]
    broken = json.loads(json.dumps(store))
    broken["spec"]["provider"]["gcpsm"]["auth"]["workloadIdentity"].pop("serviceAccountRef")
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_cluster_store_signs_in_as_the_controller_whose_helm_values_carry_its_google_account():
    # vibebox-web syncs exactly what vibebox does (backend's google-oauth-client and app-config): one shared store.
    raw = gcp_only(vibebox())
    raw["workloads"].insert(0, {"name": "web", "namespace": "vibebox-web", "service_account": "web", "reads": ["google-oauth-client", "app-config"]})
    plan = plan_raw(raw, stack="vibebox-prod")
    (store,) = [m for m in kubernetes_objects(plan) if m["kind"] == "ClusterSecretStore"]
    validate(store)
    assert store["spec"]["conditions"] == [{"namespaces": ["vibebox", "vibebox-web"]}]
    assert store["spec"]["provider"]["gcpsm"]["auth"]["workloadIdentity"]["serviceAccountRef"] == {"name": "external-secrets", "namespace": "external-secrets"}
    release = by_type(plan, "kubernetes:helm.sh/v3:Release")["external-secrets-release"]
    email = f"vibebox-prod-external-secrets@{PROJECT}.iam.gserviceaccount.com"
    assert release.inputs["values"]["serviceAccount"]["annotations"]["iam.gke.io/gcp-service-account"] == email
    readers = {(b.inputs["member"], b.inputs["secretId"].rsplit("/", 1)[1]) for b in by_type(plan, ACCESS_BINDING).values() if b.inputs["role"] == ACCESSOR}
    assert (f"serviceAccount:{email}", "vibebox-app-config") in readers  # derived from the two namespaces' consumers


def test_namespaces_syncing_different_secrets_get_a_store_and_google_account_each():
    raw = gcp_only(vibebox())
    raw["workloads"].insert(0, {"name": "web", "namespace": "vibebox-web", "service_account": "web", "reads": ["app-config"]})
    plan = plan_raw(raw, stack="vibebox-prod")
    objects = kubernetes_objects(plan)
    assert not [m for m in objects if m["kind"] == "ClusterSecretStore"]
    stores = {m["metadata"]["namespace"]: m for m in objects if m["kind"] == "SecretStore"}
    assert set(stores) == {"vibebox", "vibebox-web"}
    for store in stores.values():
        validate(store)
        assert store["spec"]["provider"]["gcpsm"]["auth"]["workloadIdentity"]["serviceAccountRef"] == {"name": "external-secrets-store"}
    release = by_type(plan, "kubernetes:helm.sh/v3:Release")["external-secrets-release"]
    assert "iam.gke.io/gcp-service-account" not in release.inputs["values"]["serviceAccount"]["annotations"]
    readers = {(b.inputs["member"], b.inputs["secretId"].rsplit("/", 1)[1]) for b in by_type(plan, ACCESS_BINDING).values() if b.inputs["role"] == ACCESSOR}
    account = "serviceAccount:vibebox-prod-store-{}@" + f"{PROJECT}.iam.gserviceaccount.com"
    store_reads = {(m, s) for m, s in readers if "-store-" in m}
    assert store_reads == {(account.format("vibebox-web"), "vibebox-app-config"), (account.format("vibebox"), "vibebox-app-config"),
                           (account.format("vibebox"), "vibebox-google-oauth-client")}  # vibebox-web's store: never google-oauth-client


def test_policy_is_silent_on_our_output():
    plan = vibebox_plan()
    resources = plan.policy_resources()
    assert any(r["type"] == SECRET for r in resources)
    assert [f for rule in gcp_rules.RULES for f in rule.evaluate(resources)] == []


def test_initial_value_is_write_only_and_never_in_the_plan():
    raw = gcp_only(vibebox())
    raw["secrets"][1]["initial_value"] = "config"
    plan = plan_raw(raw, stack="vibebox-prod", extra={"initial-value:app-config": CANARY}, secret_keys=["initial-value:app-config"])
    (version,) = by_type(plan, "gcp:secretmanager/secretVersion:SecretVersion").values()
    assert version.inputs["secretDataWoVersion"] == 1 and "secretData" not in version.inputs
    assert set(VALUE_PROPERTIES) <= set(version.ignore_changes)
    assert version.protect
    assert CANARY not in json.dumps([r.inputs for r in plan.resources] + [r.outputs for r in plan.resources], default=str)


def problems(raw: dict) -> list[str]:
    return spec_problems(raw, "Pulumi.vibebox-prod.yaml")


def test_spec_errors_name_the_key_path():
    raw = gcp_only(vibebox())
    at = "Pulumi.vibebox-prod.yaml: secrets-platform:"
    no_section = copy.deepcopy(raw)
    no_section.pop("gcp")
    assert f"{at}secrets[0] (google-oauth-client).backend: backend 'gcp' needs a gcp: section (project_id, replication, gke)" in problems(no_section)
    wrong = copy.deepcopy(raw)
    wrong["secrets"][0]["rotation"] = {"kind": "generic", "days": 30}
    wrong["secrets"][1]["path"] = "vibebox/prod/app"
    wrong["secrets"][1]["replica_regions"] = ["us-west-2"]
    wrong["gcp"]["workload_identity_pool"] = "other-project.svc.id.goog"
    lines = problems(wrong)
    assert any(line.startswith(f"{at}secrets[0] (google-oauth-client).rotation.kind: 'generic' rotation needs backend: aws") for line in lines)
    # A path is the Secret Manager id as it is (#17): `/` is not in its grammar.
    assert f"{at}secrets[1] (app-config).path: may contain only letters, digits, _ and - (1 to 255): a Secret Manager id" in lines
    assert any(line.startswith(f"{at}secrets[1] (app-config).replica_regions: only for backend: aws") for line in lines)
    assert f"{at}gcp.workload_identity_pool: GKE's pool is <cluster project>.svc.id.goog: must be '{POOL}'" in lines
    no_gke = copy.deepcopy(raw)
    no_gke["gcp"].pop("gke")
    assert any(line.startswith(f"{at}gcp.gke: required: backend,") for line in problems(no_gke))
    bad_project = copy.deepcopy(raw)
    bad_project["gcp"]["project_id"] = "Vibebox_Prod"
    assert any(line.startswith(f"{at}gcp.project_id: must match") and "got a string of 12 characters" in line for line in problems(bad_project))


def test_bad_gcp_spec_exits_2_without_a_traceback(tmp_path):
    document = yaml.safe_load((PROJECT_DIR / VIBEBOX).read_text())
    document["config"]["secrets-platform:gcp"]["replica_regions"] = ["us-east1", "us-east1"]
    stderr = refused(tmp_path / "Pulumi.vibebox-prod.yaml", document)
    assert "secrets-platform:gcp.replica_regions[1]: 'us-east1' is listed twice" in stderr


# --- Workload Identity Federation: VibeBox's workloads run on EKS (#15) ------------------------------------

@cache
def federated_plan():
    return plan_raw(gcp_only(as_written()), stack="vibebox-prod")


def test_workloads_on_eks_federate_with_the_eks_issuer_and_are_granted_as_their_own_principal():
    plan = federated_plan()
    eks_issuer = as_written()["cluster"]["oidc_issuer_url"]
    (pool,) = by_type(plan, "gcp:iam/workloadIdentityPool:WorkloadIdentityPool").values()
    assert pool.inputs["workloadIdentityPoolId"] == "vibebox-prod-k8s" and pool.inputs["project"] == PROJECT
    (provider,) = by_type(plan, "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider").values()
    provider_name = f"projects/{NUMBER}/locations/global/workloadIdentityPools/vibebox-prod-k8s/providers/kubernetes"
    assert provider.inputs["oidc"] == {"issuerUri": eks_issuer, "allowedAudiences": [f"https://iam.googleapis.com/{provider_name}"]}
    assert provider.inputs["attributeMapping"] == {"google.subject": "assertion.sub"}
    # Exactly the service accounts that read or write GCP secrets: no other subject of the issuer.
    assert provider.inputs["attributeCondition"] == ("assertion.sub in ['system:serviceaccount:vibebox:backend', "
                                                     "'system:serviceaccount:vibebox:external-secrets-store', 'system:serviceaccount:vibebox:rotate-secrets']")
    # Direct resource access: each principal on exactly its secrets; no Google service account to impersonate.
    found = {(b.inputs["member"], b.inputs["secretId"].rsplit("/", 1)[1], b.inputs["role"]) for b in by_type(plan, ACCESS_BINDING).values()
             if not b.inputs["member"].startswith("group:")}
    assert found == {
        (f"{FEDERATED}vibebox:backend", "vibebox-google-oauth-client", ACCESSOR), (f"{FEDERATED}vibebox:backend", "vibebox-app-config", ACCESSOR),
        (f"{FEDERATED}vibebox:rotate-secrets", "vibebox-google-oauth-client", ACCESSOR),
        (f"{FEDERATED}vibebox:rotate-secrets", "vibebox-google-oauth-client", VERSION_ADDER),
        (f"{FEDERATED}vibebox:external-secrets-store", "vibebox-google-oauth-client", ACCESSOR),
        (f"{FEDERATED}vibebox:external-secrets-store", "vibebox-app-config", ACCESSOR),
    }
    assert not by_type(plan, "gcp:serviceaccount/account:Account") and not by_type(plan, "gcp:serviceaccount/iAMMember:IAMMember")
    for sa in by_type(plan, "kubernetes:core/v1:ServiceAccount").values():
        assert "iam.gke.io/gcp-service-account" not in sa.inputs["metadata"].get("annotations", {})
    assert [f for rule in gcp_rules.RULES for f in rule.evaluate(plan.policy_resources())] == []


def test_federated_store_uses_eso_v1_workload_identity_federation_and_validates():
    objects = kubernetes_objects(federated_plan())
    (store,) = [m for m in objects if m["metadata"]["name"] == "gcp-secret-manager-prod"]
    validate(store)
    provider_name = f"projects/{NUMBER}/locations/global/workloadIdentityPools/vibebox-prod-k8s/providers/kubernetes"
    assert store["spec"]["provider"] == {"gcpsm": {"projectID": PROJECT, "auth": {"workloadIdentityFederation": {
        "audience": f"//iam.googleapis.com/{provider_name}",
        "serviceAccountRef": {"name": "external-secrets-store", "audiences": [f"https://iam.googleapis.com/{provider_name}"]}}}}}
    broken = json.loads(json.dumps(store))
    broken["spec"]["provider"]["gcpsm"]["auth"]["workloadIdentityFederation"]["serviceAccountRef"].pop("name")
    with pytest.raises(jsonschema.ValidationError):
        validate(broken)


def test_gke_wiring_for_workloads_on_another_cluster_or_an_unknown_issuer_is_refused():
    at = "Pulumi.vibebox-prod.yaml: secrets-platform:"
    eks = gcp_only(as_written())
    eks["gcp"].pop("workload_identity_federation")
    eks["gcp"]["gke"] = {"name": "vibebox-prod", "location": "us-east1"}
    assert any(line.startswith(f"{at}gcp.gke: the workloads' cluster is not GKE (cluster.oidc_issuer_url is https://oidc.eks.") for line in problems(eks))
    no_number = gcp_only(as_written())
    no_number["gcp"].pop("project_number")
    assert f"{at}gcp.project_number: required with workload_identity_federation: federated principals name the pool by the project number" in problems(no_number)
    bad_number = gcp_only(as_written())
    bad_number["gcp"]["project_number"] = PROJECT  # the id, not the number
    assert any(line.startswith(f"{at}gcp.project_number: must match") for line in problems(bad_number))
    no_issuer = gcp_only(as_written())
    no_issuer.pop("cluster")
    assert (f"{at}gcp.workload_identity_federation.issuer_url: required: the cluster's OIDC issuer is unknown "
            "(no cluster.oidc_issuer_url or azure.aks_oidc_issuer_url)") in problems(no_issuer)
    both = gcp_only(as_written())
    both["gcp"]["gke"] = {"name": "vibebox-prod", "location": "us-east1"}
    assert any(line.startswith(f"{at}gcp.workload_identity_federation: declare one of gcp.gke") for line in problems(both))


def test_unknown_issuer_exits_2_with_the_key_path(tmp_path):
    raw = gcp_only(as_written())  # no AWS reader: nothing else names the cluster's issuer
    raw.pop("cluster")
    document = {"config": {f"secrets-platform:{key}": value for key, value in raw.items()}}
    stderr = refused(tmp_path / "Pulumi.vibebox-prod.yaml", document)
    assert "secrets-platform:gcp.workload_identity_federation.issuer_url: required: the cluster's OIDC issuer is unknown" in stderr
