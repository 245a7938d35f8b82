"""Azure rules: compliant fixtures as issue 8's components will emit them (RBAC vault, purge protection,
default-deny network, Key Vault Secrets User on the vault), one mutation per violation, unknowns at
preview, and a canary."""

from __future__ import annotations

import copy

import pytest

from policy.rules import azure
from tests.conftest import CANARY
from tests.policy.rules.builders import DELETE, UNKNOWN, check_metadata, decided, malformed, mutated, run

SUB = "/subscriptions/0b1f6471-1bf0-4dda-aec3-111122223333"
RG = f"{SUB}/resourceGroups/phagen-prod"
VAULT = f"{RG}/providers/Microsoft.KeyVault/vaults/phagen-prod"
OWNER, CONTRIBUTOR = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMIN, KV_ADMIN = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", "00482a5a-887f-4fb3-b363-3b7fe8e74483"
SECRETS_USER, SECRETS_OFFICER = "4633458b-17de-408a-b874-0445c86b69e6", "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"


def role_definition(guid: str) -> str:
    return f"{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}"


def assignment(role: str = SECRETS_USER, scope: str = VAULT) -> dict:
    return {"type": azure.ROLE_ASSIGNMENT, "urn": "urn:pulumi:prod::p::azure-native:authorization:RoleAssignment::api-kv", "name": "api-kv",
            "props": {"roleDefinitionId": role_definition(role), "scope": scope, "principalId": "5f0e2c1a-0000-4000-8000-00000000abcd",
                      "principalType": "ServicePrincipal"}}


def vault() -> dict:
    return {"type": azure.KEY_VAULT, "urn": "urn:pulumi:prod::p::azure-native:keyvault:Vault::phagen", "name": "phagen",
            "props": {"vaultName": "phagen-prod", "resourceGroupName": "phagen-prod", "location": "eastus",
                      "tags": {"environment": "prod", "owner": "phagen-platform", "managed-by": "secrets-platform"},
                      "properties": {"tenantId": "72f988bf-0000-4000-8000-000000000000", "sku": {"family": "A", "name": "standard"},
                                     "enableRbacAuthorization": True, "enablePurgeProtection": True, "softDeleteRetentionInDays": 90,
                                     "publicNetworkAccess": "Enabled",
                                     "networkAcls": {"defaultAction": "Deny", "bypass": "None", "ipRules": [{"value": "203.0.113.0/24"}]}}}}






def test_compliant_fixtures_are_silent():
    assert run(azure, assignment(), assignment(scope=f"{VAULT}/secrets/db-password"), vault()) == []


@pytest.mark.parametrize(("scope", "kind"), [
    ("/", "root"), ("/providers/Microsoft.Management/managementGroups/corp", "management group"), (SUB, "subscription"), (SUB + "/", "subscription"),
    (RG, "resource group"), (RG.upper(), "resource group"), (VAULT, "vault"), (f"{VAULT}/secrets/x", "vault"),
    (f"{RG}/providers/Microsoft.Storage/storageAccounts/s", "resource")])
def test_scope_kind(scope, kind):
    assert azure.scope_kind(scope) == kind


ALL_LISTED = ["Get", "List", "Set", "Delete", "Backup", "Restore", "Recover", "Purge"]


def _policy(*secret_permissions: str) -> dict:
    return {"tenantId": "t", "objectId": "o", "permissions": {"secrets": list(secret_permissions), "keys": ["all"]}}

MUTATIONS = [
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(OWNER, SUB), "Owner at subscription scope"),
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(CONTRIBUTOR, RG), "Contributor at resource group scope"),
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(USER_ACCESS_ADMIN, SUB), "User Access Administrator at subscription scope"),
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(KV_ADMIN, RG), "Key Vault Administrator at resource group scope"),
    # Issue #16: the access administrators, GUIDs from https://learn.microsoft.com/en-us/azure/role-based-access-control/built-in-roles
    # (Privileged section); the role definition id as the Azure CLI prints it for a management-group scope.
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(USER_ACCESS_ADMIN, "/providers/Microsoft.Management/managementGroups/corp"),
     "User Access Administrator at management group scope"),
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(USER_ACCESS_ADMIN, RG), "User Access Administrator at resource group scope"),
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(RBAC_ADMIN, SUB), "Role Based Access Control Administrator at subscription scope"),
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(RBAC_ADMIN, RG), "Role Based Access Control Administrator at resource group scope"),
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(RBAC_ADMIN, "/providers/Microsoft.Management/managementGroups/corp"),
     "Role Based Access Control Administrator at management group scope"),
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id,
     mutated(assignment(), roleDefinitionId=f"/providers/Microsoft.Authorization/roleDefinitions/{RBAC_ADMIN}", scope=SUB),
     "Role Based Access Control Administrator at subscription scope"),
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(OWNER, "/providers/Microsoft.Management/managementGroups/corp"), "Owner at management group scope"),
    (azure.KEYVAULT_DATA_ROLE_SCOPE.id, assignment(SECRETS_USER, RG), "Key Vault Secrets User at resource group scope"),
    (azure.KEYVAULT_DATA_ROLE_SCOPE.id, assignment(SECRETS_OFFICER, SUB), "Key Vault Secrets Officer at subscription scope"),
    (azure.KEYVAULT_RBAC_AUTHORIZATION.id, mutated(vault(), {"properties.enableRbacAuthorization": False}), "enableRbacAuthorization is not true"),
    (azure.KEYVAULT_RBAC_AUTHORIZATION.id, mutated(vault(), {"properties.enableRbacAuthorization": DELETE}), "enableRbacAuthorization is not true"),
    (azure.KEYVAULT_RECOVERABLE.id, mutated(vault(), {"properties.enablePurgeProtection": DELETE}), "enablePurgeProtection is not true"),
    (azure.KEYVAULT_RECOVERABLE.id, mutated(vault(), {"properties.enableSoftDelete": False}), "enableSoftDelete is false"),
    (azure.KEYVAULT_RECOVERABLE.id, mutated(vault(), {"properties.softDeleteRetentionInDays": 7}), "softDeleteRetentionInDays is 7 in prod"),
    (azure.KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD.id, mutated(vault(), {"properties.networkAcls": {"defaultAction": "Allow"}}), "public network access is enabled"),
    (azure.KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD.id, mutated(vault(), {"properties.networkAcls": DELETE, "properties.publicNetworkAccess": DELETE}), "public network access is enabled"),
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": [{"tenantId": "t", "objectId": "o", "permissions": {"secrets": ["all"]}}]}),
     "accessPolicies[0] grants all secret permissions"),
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": [{"tenantId": "t", "objectId": "o", "permissions": {"secrets": ["get"]}},
                                              {"tenantId": "t", "objectId": "o2", "permissions": {"secrets": ALL_LISTED}}]}),
     "accessPolicies[1] grants all secret permissions"),
    # PhaGen (seed 004): `az keyvault set-policy --secret-permissions get list set delete`.
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": [_policy("get", "list", "set", "delete")]}),
     "accessPolicies[0] grants set, delete: an access policy covers every secret of the vault, so the principal can overwrite/delete any of them"),
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": [_policy("Get", "Purge")]}), "accessPolicies[0] grants purge: "),
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": [_policy("get", "backup")]}), "grants backup: an access policy covers every secret of the vault, so the principal can export"),
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": [_policy("restore", "recover")]}), "grants restore, recover: "),
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": [_policy("set", UNKNOWN)]}), "grants set: "),  # decided from the known part
]


@pytest.mark.parametrize(("rule_id", "changed", "expected"), MUTATIONS)
def test_mutation_is_caught(rule_id, changed, expected):
    messages = decided(run(azure, changed), rule_id)
    assert any(expected in m for m in messages), messages


def test_reader_roles_and_narrow_scopes_pass():
    assert run(azure, assignment(READER, SUB), assignment(KV_ADMIN, VAULT), assignment(SECRETS_OFFICER, f"{VAULT}/secrets/x")) == []
    # Microsoft's least-privilege form for delegating access on one vault: the administrator role scoped to it.
    assert run(azure, assignment(RBAC_ADMIN, VAULT), assignment(USER_ACCESS_ADMIN, VAULT)) == []


def test_network_and_retention_limits_apply_in_prod_only():
    dev = mutated(vault(), {"properties.networkAcls": DELETE, "properties.softDeleteRetentionInDays": 7, "tags.environment": "dev"})
    assert run(azure, dev) == []
    assert run(azure, mutated(vault(), {"properties.publicNetworkAccess": "Disabled", "properties.networkAcls": {"defaultAction": "Allow"}})) == []


@pytest.mark.parametrize("permissions", [["Get"], ["Get", "List"], ["list"], []])
def test_reading_secret_permissions_pass(permissions):
    """get and list are what the built-in Key Vault Secrets User role allows; KEYVAULT_RBAC_AUTHORIZATION refuses access policies as such."""
    assert run(azure, mutated(vault(), {"properties.accessPolicies": [_policy(*permissions)]})) == []


# --- unknowns at preview ------------------------------------------------------------------------

@pytest.mark.parametrize(("rule_id", "changed"), [
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, {**assignment(), "props": {**assignment()["props"], "roleDefinitionId": UNKNOWN}}),
    (azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id, assignment(OWNER, UNKNOWN)),
    (azure.KEYVAULT_DATA_ROLE_SCOPE.id, assignment(SECRETS_USER, UNKNOWN)),
    (azure.KEYVAULT_RBAC_AUTHORIZATION.id, mutated(vault(), {"properties.enableRbacAuthorization": UNKNOWN})),
    (azure.KEYVAULT_RBAC_AUTHORIZATION.id, {**vault(), "props": {**vault()["props"], "properties": UNKNOWN}}),
    (azure.KEYVAULT_RECOVERABLE.id, mutated(vault(), {"properties.enablePurgeProtection": UNKNOWN})),
    (azure.KEYVAULT_RECOVERABLE.id, mutated(vault(), {"properties.softDeleteRetentionInDays": UNKNOWN})),
    (azure.KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD.id, mutated(vault(), {"properties.networkAcls": {"defaultAction": UNKNOWN}})),
    (azure.KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD.id, {**vault(), "props": {**mutated(vault(), {"properties.networkAcls": DELETE})["props"], "tags": UNKNOWN}}),
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": UNKNOWN})),
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": [{"tenantId": "t", "objectId": "o", "permissions": {"secrets": UNKNOWN}}]})),
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": [_policy("get", UNKNOWN)]})),
    (azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id, mutated(vault(), {"properties.accessPolicies": [UNKNOWN]})),
])
def test_unknowns_are_undecided_not_silent(rule_id, changed):
    findings = [f for f in run(azure, changed) if f.rule_id == rule_id]
    assert findings and all(f.undecided for f in findings)


def test_unknown_scope_of_a_harmless_role_is_not_reported():
    assert run(azure, assignment(READER, UNKNOWN)) == []


def test_malformed_props_never_crash():
    for fixture in [assignment(), vault()]:
        for changed in malformed(fixture):
            run(azure, changed)


# --- canary and metadata ------------------------------------------------------------------------

def test_no_message_echoes_values():
    noisy = []
    for _, changed, _ in MUTATIONS:
        changed = copy.deepcopy(changed)
        changed["props"].setdefault("tags", {})["note"] = CANARY
        changed["props"]["principalId" if changed["type"] == azure.ROLE_ASSIGNMENT else "vaultName"] = CANARY
        for policy in changed["props"].get("properties", {}).get("accessPolicies", []):
            policy["objectId"] = CANARY
        noisy.append(changed)
    findings = run(azure, *noisy)
    assert len({f.rule_id for f in findings}) == len(azure.RULES)
    assert not any(CANARY in f.message for f in findings)


def test_rule_metadata():
    check_metadata(azure.RULES, ("SP-AZ-",))


# --- the platform's own output (PhaGen's Azure part) and hand-written additions to it -----------

def _planned_azure() -> list[dict]:
    from offline.run import plan_stack
    plan = plan_stack("examples/phagen/Pulumi.phagen-prod.yaml")
    return [r for r in plan.policy_resources() if r["type"].startswith("azure-native:")]


def test_silent_on_the_platforms_output_and_fires_on_hand_written_grants():
    planned = _planned_azure()
    assert {r["type"] for r in planned} >= {azure.KEY_VAULT, azure.ROLE_ASSIGNMENT}
    assert run(azure, *planned) == []
    vault_resource = next(r for r in planned if r["type"] == azure.KEY_VAULT)
    sub = vault_resource["props"]["properties"]["networkAcls"]["virtualNetworkRules"][0]["id"].split("/resourceGroups/")[0]
    owner = assignment(OWNER, sub)
    no_purge = mutated(vault_resource, {"properties.enablePurgeProtection": DELETE})
    all_access = mutated(vault_resource, {"properties.accessPolicies": [{"tenantId": "t", "objectId": "o", "permissions": {"secrets": ["all"]}}]})
    assert decided(run(azure, *planned, owner), azure.NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE.id) == ["Owner at subscription scope: assign a data role on one vault or secret instead"]
    assert any("enablePurgeProtection is not true" in m for m in decided(run(azure, no_purge), azure.KEYVAULT_RECOVERABLE.id))
    assert any("accessPolicies[0] grants all secret permissions" in m for m in decided(run(azure, all_access), azure.KEYVAULT_ACCESS_POLICY_ALL_SECRETS.id))
