"""Azure rows of the access matrix: the PhaGen example's identities read exactly what the spec declares,
through service account -> federated identity -> role assignment; wider grants added by hand show up as
gained access."""

from __future__ import annotations

import copy
from functools import cache

from offline.access import access_matrix
from offline.access.matrix import diff
from offline.access.model import ADMIN, EFFECTIVE, READ
from offline.run import plan_stack

PHAGEN = "examples/phagen/Pulumi.phagen-prod.yaml"
ASSIGNMENT = "azure-native:authorization:RoleAssignment"
SECRETS_USER, OWNER = "4633458b-17de-408a-b874-0445c86b69e6", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


@cache
def planned() -> tuple[dict, ...]:
    return tuple({"type": r.type, "urn": r.urn, "name": r.name, "props": copy.deepcopy(r.inputs), "outputs": dict(r.outputs)}
                 for r in plan_stack(PHAGEN).resources)


def with_assignment(role: str, scope: str, principal: str) -> list[dict]:
    extra = {"type": ASSIGNMENT, "urn": f"urn:pulumi:test::p::{ASSIGNMENT}::hand", "name": "hand",
             "props": {"roleDefinitionId": f"/subscriptions/x/providers/Microsoft.Authorization/roleDefinitions/{role}", "scope": scope,
                       "principalId": principal}, "outputs": {}}
    return [*copy.deepcopy(list(planned())), extra]


def analytics_principal() -> str:
    return next(r["outputs"]["principalId"] for r in planned() if r["type"].endswith("UserAssignedIdentity") and r["props"]["resourceName"].endswith("phagen-analytics"))


def vault_scope() -> str:
    return next(r["props"]["scope"] for r in planned() if r["type"] == ASSIGNMENT).split("/secrets/")[0]


def test_chain_per_workload_is_service_account_identity_assignment():
    matrix = access_matrix(planned())
    (entry,) = [e for e in matrix.entries if e.principal == "k8s:phagen-ml/phagen-analytics"]
    assert (entry.secret, entry.capability, entry.status) == ("azure:phagen-vault/phagen-prod-analytics-db-password", READ, EFFECTIVE)
    (chain,) = entry.chains
    assert chain[0] == "federated with Azure identity phagen-prod-phagen-analytics"
    assert chain[1].startswith("Key Vault Secrets User on secret phagen-prod-analytics-db-password")


def test_a_vault_scope_grant_added_by_hand_is_gained_access():
    base = access_matrix(planned())
    head = access_matrix(with_assignment(SECRETS_USER, vault_scope(), analytics_principal()))
    gained = {(c.entry.principal, c.entry.secret) for c in diff(base, head).gained if c.entry.capability == READ}
    assert ("k8s:phagen-ml/phagen-analytics", "azure:phagen-vault/phagen-prod-llm-api-key") in gained
    assert ("azure-identity:phagen-prod-phagen-analytics", "azure:phagen-vault/*") in gained


def test_owner_at_subscription_scope_added_by_hand_is_highlighted():
    subscription = vault_scope().split("/resourceGroups/")[0]
    head = access_matrix(with_assignment(OWNER, subscription, analytics_principal()))
    changes = diff(access_matrix(planned()), head)
    admin = {c.entry.secret for c in changes.highlighted if c.entry.principal == "k8s:phagen-ml/phagen-analytics" and c.entry.capability == ADMIN}
    assert "azure:phagen-vault/phagen-prod-pubchem-api-key" in admin and f"azure:{subscription.lower()}/*" in admin
