"""The Azure part of the PhaGen example, planned offline: every resource's properties, the identity ->
federated credential -> role assignment -> store chain per workload, and the spec's errors."""

from __future__ import annotations

import copy
import subprocess
import sys
from functools import cache

import jsonschema
import pytest
import yaml

from components.azure.identity import KEY_VAULT_SECRETS_USER, TOKEN_EXCHANGE_AUDIENCE
from components.config import parse_stack_spec
from offline.report import kubernetes_objects
from offline.run import PROJECT_DIR, plan_stack
from tests.components.kubernetes.test_manifests import eso_schema
from tests.conftest import CANARY, by_type, plan_raw, stack_namespace
from tests.fixtures.refusal import spec_problems

PHAGEN = "examples/phagen/Pulumi.phagen-prod.yaml"
SOURCE = "Pulumi.phagen-prod.yaml"
VAULT_T, IDENTITY_T = "azure-native:keyvault:Vault", "azure-native:managedidentity:UserAssignedIdentity"
FIC_T, ASSIGNMENT_T = "azure-native:managedidentity:FederatedIdentityCredential", "azure-native:authorization:RoleAssignment"
SLEEP_T = "time:index/sleep:Sleep"


@cache
def plan():
    return plan_stack(PHAGEN)


@cache
def spec():
    return parse_stack_spec(stack_namespace(PHAGEN), SOURCE)


def only(plan_, type_):
    (resource,) = by_type(plan_, type_).values()
    return resource


def vault_id() -> str:
    azure = spec().azure
    return f"/subscriptions/{azure.subscription_id}/resourceGroups/{azure.resource_group}/providers/Microsoft.KeyVault/vaults/{azure.key_vault}"


def test_vault_is_rbac_only_recoverable_and_default_deny():
    vault = only(plan(), VAULT_T)
    props = vault.inputs["properties"]
    azure = spec().azure
    assert props["enableRbacAuthorization"] is True and props["accessPolicies"] == []
    assert props["enablePurgeProtection"] is True and props["enableSoftDelete"] is True
    assert props["softDeleteRetentionInDays"] == 90
    assert props["tenantId"] == azure.tenant_id and props["sku"] == {"family": "A", "name": "standard"}
    assert props["networkAcls"]["defaultAction"] == "Deny" and props["networkAcls"]["bypass"] == "None"
    assert [r["value"] for r in props["networkAcls"]["ipRules"]] == list(azure.allowed_ips)
    assert [r["id"] for r in props["networkAcls"]["virtualNetworkRules"]] == list(azure.subnet_ids)
    assert not any(props[k] for k in ("enabledForDeployment", "enabledForDiskEncryption", "enabledForTemplateDeployment"))
    assert vault.inputs["vaultName"] == azure.key_vault and vault.inputs["resourceGroupName"] == azure.resource_group
    assert vault.protect and vault.retain_on_delete  # prod


def test_audit_logs_go_to_the_declared_workspace():
    setting = only(plan(), "azure-native:monitor:DiagnosticSetting")
    assert setting.inputs["resourceUri"] == vault_id()
    assert setting.inputs["workspaceId"] == spec().azure.log_analytics_workspace_id
    assert setting.inputs["logs"] == [{"categoryGroup": "audit", "enabled": True}]


def test_each_reading_workload_has_its_own_identity_with_one_pinned_credential():
    s = spec()
    readers = {s.azure_identity_name(w): w for w in s.all_workloads if s.reads(w, "azure")}
    identities = {r.inputs["resourceName"]: r for r in by_type(plan(), IDENTITY_T).values()}
    # phagen and phagen-ml sync different secrets: a store identity per namespace (the controller has none), and phagen-analytics.
    assert set(identities) == set(readers) == {s.azure_identity_name(w) for w in s.all_workloads
                                               if w.name in ("store-phagen", "store-phagen-ml", "phagen-analytics")}
    credentials = list(by_type(plan(), FIC_T).values())
    assert len(credentials) == len(readers)
    for credential in credentials:
        workload = readers[credential.inputs["resourceName"]]
        assert credential.inputs["subject"] == f"system:serviceaccount:{workload.namespace}:{workload.service_account}"
        assert credential.inputs["audiences"] == [TOKEN_EXCHANGE_AUDIENCE]
        assert credential.inputs["issuer"] == s.azure.aks_oidc_issuer_url


def test_role_assignments_are_secrets_user_on_exactly_each_secret_read():
    s = spec()
    principal = {r.inputs["resourceName"]: r.outputs["principalId"] for r in by_type(plan(), IDENTITY_T).values()}
    role = f"/subscriptions/{s.azure.subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{KEY_VAULT_SECRETS_USER}"
    assert KEY_VAULT_SECRETS_USER == "4633458b-17de-408a-b874-0445c86b69e6"
    secrets = {x.name: x for x in s.secrets}
    expected = {(principal[s.azure_identity_name(w)], f"{vault_id()}/secrets/{s.azure_secret_name(secrets[n])}")
                for w in s.all_workloads for n in s.reads(w, "azure")}
    # Operators' group assignments are beside these (tests/components/test_operators.py).
    assignments = [a for name, a in by_type(plan(), ASSIGNMENT_T).items() if not name.startswith("azure-operator-")]
    assert {(a.inputs["principalId"], a.inputs["scope"]) for a in assignments} == expected
    assert len(assignments) == len(expected) == 4  # store-phagen: pubchem; store-phagen-ml: llm, pubchem; analytics
    for a in assignments:
        assert a.inputs["roleDefinitionId"] == role and a.inputs["principalType"] == "ServicePrincipal"


def test_stores_wait_for_role_assignments_to_propagate():
    p = plan()
    sleeps = by_type(p, SLEEP_T)
    assignments = {r.urn for r in by_type(p, ASSIGNMENT_T).values()}
    assert len(sleeps) == 3
    for sleep in sleeps.values():
        assert sleep.inputs["createDuration"] and set(sleep.dependencies) & assignments
    stores = by_type(p, "kubernetes:external-secrets.io/v1:SecretStore")
    assert len(stores) == 2
    for store in stores.values():
        assert {s.urn for s in sleeps.values()} <= set(store.dependencies)


def test_kubernetes_side_signs_in_with_workload_identity():
    p, s = plan(), spec()
    client = {r.inputs["resourceName"]: r.outputs["clientId"] for r in by_type(p, IDENTITY_T).values()}
    accounts = {(r.inputs["metadata"]["namespace"], r.inputs["metadata"]["name"]): r for r in by_type(p, "kubernetes:core/v1:ServiceAccount").values()}
    analytics = next(w for w in s.workloads if w.name == "phagen-analytics")
    annotations = accounts[(analytics.namespace, analytics.service_account)].inputs["metadata"]["annotations"]
    assert annotations == {"azure.workload.identity/client-id": client[s.azure_identity_name(analytics)]}
    # phagen and phagen-ml sync different secrets: the controller has no identity, each namespace's store its own.
    release = only(p, "kubernetes:helm.sh/v3:Release")
    assert release.inputs["values"]["serviceAccount"]["annotations"] == {} and "podLabels" not in release.inputs["values"]
    assert not by_type(p, "kubernetes:external-secrets.io/v1:ClusterSecretStore")
    stores = {r.inputs["metadata"]["namespace"]: r for r in by_type(p, "kubernetes:external-secrets.io/v1:SecretStore").values()}
    assert set(stores) == {"phagen", "phagen-ml"}
    for ns, store in stores.items():
        assert "conditions" not in store.inputs["spec"]
        assert store.inputs["spec"]["provider"] == {"azurekv": {
            "authType": "WorkloadIdentity", "vaultUrl": "https://phagen-vault.vault.azure.net/", "tenantId": s.azure.tenant_id,
            "environmentType": "PublicCloud", "serviceAccountRef": {"name": "external-secrets-store"}}}
        identity = next(w for w in s.store_identities if w.namespace == ns)
        assert accounts[(ns, "external-secrets-store")].inputs["metadata"]["annotations"] == {
            "azure.workload.identity/client-id": client[s.azure_identity_name(identity)]}
    objects = [m for m in kubernetes_objects(p) if m["apiVersion"].startswith("external-secrets.io/")]
    for manifest in objects:
        jsonschema.Draft7Validator(eso_schema(manifest["kind"])).validate(manifest)
    keys = {(m["metadata"]["namespace"], d["remoteRef"]["key"]) for m in objects if m["kind"] == "ExternalSecret" for d in m["spec"]["data"]}
    assert keys == {("phagen", "phagen-prod-pubchem-api-key"), ("phagen-ml", "phagen-prod-pubchem-api-key"), ("phagen-ml", "phagen-prod-llm-api-key")}


def test_near_expiry_events_of_rotated_secrets_reach_the_webhook():
    subscription = only(plan(), "azure-native:eventgrid:SystemTopicEventSubscription")
    topic = only(plan(), "azure-native:eventgrid:SystemTopic")
    assert topic.inputs["source"] == vault_id() and topic.inputs["topicType"] == "Microsoft.KeyVault.vaults"
    destination = subscription.inputs["destination"]
    assert (destination["endpointType"], destination["endpointUrl"]) == ("WebHook", spec().azure.rotation_notification_url)
    flt = subscription.inputs["filter"]
    assert flt["includedEventTypes"] == ["Microsoft.KeyVault.SecretNearExpiry", "Microsoft.KeyVault.SecretExpired"]
    rotated = sorted(spec().azure_secret_name(x) for x in spec().secrets_on("azure"))
    assert flt["advancedFilters"] == [{"operatorType": "StringIn", "key": "subject", "values": rotated}]


def test_vault_scope_gives_one_assignment_per_identity(tmp_path):
    document = yaml.safe_load((PROJECT_DIR / PHAGEN).read_text())
    document["config"]["secrets-platform:azure"]["role_scope"] = "vault"
    path = tmp_path / "Pulumi.phagen-vault-scope.yaml"
    path.write_text(yaml.safe_dump(document))
    assignments = [a for name, a in by_type(plan_stack(str(path)), ASSIGNMENT_T).items() if not name.startswith("azure-operator-")]
    assert sorted(a.inputs["scope"] for a in assignments) == [vault_id()] * 3  # store-phagen, store-phagen-ml, phagen-analytics
    # Writers never get the vault: the operators' Secrets Officer stays at each secret's scope.
    operators = [a for name, a in by_type(plan_stack(str(path)), ASSIGNMENT_T).items() if name.startswith("azure-operator-")]
    assert operators and all("/secrets/" in a.inputs["scope"] for a in operators)


def test_namespaces_syncing_the_same_secrets_share_a_cluster_store_signing_in_as_the_controller():
    raw = copy.deepcopy(stack_namespace(PHAGEN))
    next(w for w in raw["workloads"] if w["name"] == "phagen-web")["reads"] = ["llm-api-key", "pubchem-api-key"]  # as phagen-llm
    p, s = plan_raw(raw, stack="phagen-prod"), parse_stack_spec(raw, SOURCE)
    client = {r.inputs["resourceName"]: r.outputs["clientId"] for r in by_type(p, IDENTITY_T).values()}
    controller = next(w for w in s.workloads if w.name == s.eso.workload)
    release = only(p, "kubernetes:helm.sh/v3:Release")
    assert release.inputs["values"]["serviceAccount"]["annotations"] == {"azure.workload.identity/client-id": client[s.azure_identity_name(controller)]}
    assert release.inputs["values"]["podLabels"] == {"azure.workload.identity/use": "true"}
    assert not by_type(p, "kubernetes:external-secrets.io/v1:SecretStore") and not s.store_identities
    store = only(p, "kubernetes:external-secrets.io/v1:ClusterSecretStore")
    assert store.inputs["spec"]["provider"] == {"azurekv": {
        "authType": "WorkloadIdentity", "vaultUrl": "https://phagen-vault.vault.azure.net/", "tenantId": s.azure.tenant_id,
        "environmentType": "PublicCloud", "serviceAccountRef": {"name": controller.service_account, "namespace": s.eso.namespace}}}
    assert store.inputs["spec"]["conditions"] == [{"namespaces": ["phagen", "phagen-ml"]}]
    assert {r.name for r in by_type(p, SLEEP_T).values()} <= {r.rsplit("::", 1)[1] for r in store.dependencies}
    principal = {r.inputs["resourceName"]: r.outputs["principalId"] for r in by_type(p, IDENTITY_T).values()}
    granted = {a.inputs["scope"].rsplit("/", 1)[1] for a in by_type(p, ASSIGNMENT_T).values()
               if a.inputs["principalId"] == principal[s.azure_identity_name(controller)]}
    assert granted == {"phagen-prod-llm-api-key", "phagen-prod-pubchem-api-key"}


# ----- spec errors -----

def problems(mutate) -> list[str]:
    raw = copy.deepcopy(stack_namespace(PHAGEN))
    mutate(raw)
    return spec_problems(raw, SOURCE)


@pytest.mark.parametrize(("name", "message"), [
    ("kv", "must be 3 to 24 characters (got 2)"),
    ("phagen-prod-key-vault-001", "must be 3 to 24 characters (got 25)"),
    ("phagen_prod", "may contain only letters, digits and dashes"),
    ("1phagen", "must start with a letter"),
    ("phagen--kv", "no consecutive dashes"),
    ("phagen-kv-", "must end with a letter or digit"),
])
def test_vault_name_rules(name, message):
    def mutate(raw):
        raw["azure"]["key_vault"] = name
    (line,) = problems(mutate)
    assert line.startswith(f"{SOURCE}: secrets-platform:azure.key_vault: ") and message in line


def test_twenty_federated_credentials_per_identity():
    issuer = "https://eastus.oic.prod-aks.azure.com/9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d/c{:02d}/"

    def limit(n):
        def mutate(raw):
            raw["azure"]["extra_oidc_issuer_urls"] = [issuer.format(i) for i in range(n)]
        return mutate
    raw = copy.deepcopy(stack_namespace(PHAGEN))
    limit(19)(raw)
    assert parse_stack_spec(raw, SOURCE).azure_credentials_per_identity() == 20
    assert problems(limit(20)) == [f"{SOURCE}: secrets-platform:azure.extra_oidc_issuer_urls: each workload identity would need 21 federated credentials (one per issuer); Azure allows at most 20 per identity"]


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda raw: raw.pop("azure"), "secrets-platform:secrets[6] (llm-api-key).backend: backend 'azure' needs an azure: section"),
    (lambda raw: raw["azure"].pop("rotation_notification_url"), "secrets-platform:azure.rotation_notification_url: required: llm-api-key, pubchem-api-key, analytics-db-password declare rotation"),
    (lambda raw: raw["azure"].update(soft_delete_retention_days=30), "secrets-platform:azure.soft_delete_retention_days: must be 90 in prod (got 30)"),
    (lambda raw: raw["secrets"][6].update(initial_value="config"), "secrets-platform:secrets[6] (llm-api-key).initial_value: only for backend: aws"),
    (lambda raw: raw["secrets"][6].update(rotation={"kind": "generic", "days": 30}), "secrets-platform:secrets[6] (llm-api-key).rotation.kind: 'generic' rotation needs backend: aws"),
    (lambda raw: raw["azure"].update(subscription_id="not-a-guid"), "secrets-platform:azure.subscription_id: must match"),
    (lambda raw: raw["azure"].update(public_network_access=False), "secrets-platform:azure.allowed_ips: applies only with public_network_access: true"),
    (lambda raw: raw["workloads"][-1].pop("namespace"), "secrets-platform:workloads[6] (phagen-analytics).namespace: required"),
])
def test_spec_errors_name_the_key(mutate, expected):
    assert any(expected in line for line in problems(mutate)), problems(mutate)


def test_errors_never_echo_the_value_and_exit_2(tmp_path):
    document = yaml.safe_load((PROJECT_DIR / PHAGEN).read_text())
    document["config"]["secrets-platform:azure"]["key_vault"] = CANARY
    path = tmp_path / "Pulumi.phagen-bad.yaml"
    path.write_text(yaml.safe_dump(document))
    run = subprocess.run([sys.executable, "-m", "offline", "plan", str(path)], cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    assert "Pulumi.phagen-bad.yaml: secrets-platform:azure.key_vault: must be 3 to 24 characters" in run.stderr
    assert CANARY not in run.stderr + run.stdout
