"""Azure rules: role assignments (privileged roles at broad scope, Key Vault data roles beyond one
vault) and Key Vault settings (RBAC mode, recoverability, network exposure in prod, access policies).

Roles are matched by built-in role definition GUID (checked against Microsoft's built-in roles list);
messages name roles, scope kinds and fields, never principal ids, tags or other values."""

from __future__ import annotations

import re
from typing import Any

from documents.props import dig, entries, strings
from policy.rules._util import HIPAA_ACCESS, HIPAA_AUDIT, SOC2_ACCESS, SOC2_BOUNDARY, SOC2_LEAST_PRIVILEGE, SOC2_TRANSMISSION
from policy.rules.base import Finding, Resource, Rule, Severity, is_prod, is_unknown, rule

ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
KEY_VAULT = "azure-native:keyvault:Vault"

# Roles that manage resources or grant access: never at subscription, management-group or resource-group scope.
PRIVILEGED_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "b24988ac-6180-42a0-ab88-20f7382dd24c": "Contributor",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483": "Key Vault Administrator",
    "8b54135c-b56d-4d72-a534-26097cfdc8d8": "Key Vault Data Access Administrator",
    "f25e0fa2-a7c8-4377-a976-54943a77a395": "Key Vault Contributor",  # can rewrite access policies
}
# Key Vault data-plane roles: scoped to one vault or to one secret/key/certificate in it.
KEY_VAULT_DATA_ROLES = {
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba": "Key Vault Certificate User",
    "a4417e6f-fecd-4de8-b567-7b0420556985": "Key Vault Certificates Officer",
    "12338af0-0e69-4776-bea7-57ae8d297424": "Key Vault Crypto User",
    "14b46e9e-c2b7-41b4-b07b-48a6ebf60603": "Key Vault Crypto Officer",
    "e147488a-f6f5-4113-8e2d-b22465e65bf6": "Key Vault Crypto Service Encryption User",
    "08bbd89e-9f13-488c-ac41-acfcb10c90ab": "Key Vault Crypto Service Release User",
}
BROAD_SCOPES = ("root", "management group", "subscription", "resource group")
ALL_SECRET_PERMISSIONS = frozenset({"get", "list", "set", "delete", "backup", "restore", "recover", "purge"})
# Secret permissions beyond reading (get, list): what each lets a principal do to every secret of the vault.
SECRET_WRITE_PERMISSIONS = {
    "set": "overwrite", "delete": "delete", "backup": "export", "restore": "restore", "recover": "undelete", "purge": "purge",
}
PROD_MIN_RETENTION_DAYS = 90  # issue 8: soft-delete retention in prod
_ACCESS = (HIPAA_ACCESS, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE)

_SCOPES = (
    (re.compile(r"^/?$"), "root"),
    (re.compile(r"^/providers/microsoft\.management/managementgroups/[^/]+$"), "management group"),
    (re.compile(r"^/subscriptions/[^/]+$"), "subscription"),
    (re.compile(r"^/subscriptions/[^/]+/resourcegroups/[^/]+$"), "resource group"),
    (re.compile(r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.keyvault/vaults/[^/]+(/.*)?$"), "vault"),
)


def scope_kind(scope: str) -> str:
    """root, management group, subscription, resource group, vault (or an object in one), or resource."""
    normalized = scope.strip().lower().rstrip("/") or "/"
    return next((kind for pattern, kind in _SCOPES if pattern.match(normalized)), "resource")


def _role(resource: Resource) -> Any:
    """The role definition GUID (lower case), the unknown sentinel, or None."""
    definition = resource["props"].get("roleDefinitionId")
    if is_unknown(definition) or not isinstance(definition, str):
        return definition if is_unknown(definition) else None
    return definition.rstrip("/").rsplit("/", 1)[-1].lower()  # built-in ids end in the role's GUID at any scope


def _assignment_check(roles: dict[str, str], too_wide: tuple[str, ...], fix: str) -> Callable[[Rule, Resource], list[Finding]]:
    def check(rule: Rule, resource: Resource) -> list[Finding]:
        role, scope = _role(resource), resource["props"].get("scope")
        if is_unknown(role):
            return [rule.undecided(resource, "roleDefinitionId")]
        if role not in roles:
            return []
        if is_unknown(scope):
            return [rule.undecided(resource, f"the scope of this {roles[role]} assignment")]
        kind = scope_kind(scope) if isinstance(scope, str) else None
        if kind in too_wide:
            return [rule.finding(resource, f"{roles[role]} at {kind} scope: {fix}")]
        return []

    return check


@rule(id="SP-AZ-001", name="azure-no-privileged-role-at-broad-scope", severity=Severity.CRITICAL, resource_types=(ROLE_ASSIGNMENT,),
      frameworks=_ACCESS, remediation="Assign Key Vault Secrets User on the vault (or one secret); keep administrator roles out of workloads.")
def NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE(rule: Rule, resource: Resource) -> list[Finding]:
    """Owner, Contributor, access administrators and Key Vault Administrator/Contributor at subscription,
    management-group or resource-group scope control every vault (and its access) below it."""
    return _assignment_check(PRIVILEGED_ROLES, BROAD_SCOPES, "assign a data role on one vault or secret instead")(rule, resource)


@rule(id="SP-AZ-002", name="azure-keyvault-data-role-scope", severity=Severity.HIGH, resource_types=(ROLE_ASSIGNMENT,), frameworks=_ACCESS,
      remediation="Scope the assignment to the vault (…/providers/Microsoft.KeyVault/vaults/<name>) or to a single secret.")
def KEYVAULT_DATA_ROLE_SCOPE(rule: Rule, resource: Resource) -> list[Finding]:
    """Key Vault data roles (Secrets User/Officer, …) above a vault reach every vault in the subscription or resource
    group."""
    return _assignment_check(KEY_VAULT_DATA_ROLES, BROAD_SCOPES, "scope it to one vault or one secret")(rule, resource)


def _vault_properties(rule: Rule, resource: Resource) -> tuple[Any, list[Finding]]:
    properties = resource["props"].get("properties")
    if is_unknown(properties):
        return None, [rule.undecided(resource, "properties")]
    return properties if isinstance(properties, dict) else {}, []


def _is_prod(resource: Resource) -> bool | None:
    return is_prod(resource, dig(resource["props"], "tags", "environment"))


@rule(id="SP-AZ-003", name="azure-keyvault-rbac-authorization", severity=Severity.HIGH, resource_types=(KEY_VAULT,), frameworks=_ACCESS,
      remediation="Set properties.enableRbacAuthorization = true and grant Key Vault data roles per workload.")
def KEYVAULT_RBAC_AUTHORIZATION(rule: Rule, resource: Resource) -> list[Finding]:
    """Vaults use Azure RBAC, not vault access policies."""
    properties, out = _vault_properties(rule, resource)
    if properties is None:
        return out
    enabled = properties.get("enableRbacAuthorization")
    return rule.require(resource, "properties.enableRbacAuthorization", enabled, enabled is True,
                        "properties.enableRbacAuthorization is not true: access policies grant vault-wide "
                        "permissions and anyone with Contributor can rewrite them; use Azure RBAC")


@rule(id="SP-AZ-004", name="azure-keyvault-recoverable", severity=Severity.HIGH, resource_types=(KEY_VAULT,),
      description=f"Vaults keep soft delete with purge protection (retention {PROD_MIN_RETENTION_DAYS} days in prod).",
      frameworks=(HIPAA_ACCESS, HIPAA_AUDIT, SOC2_ACCESS),
      remediation=f"Set properties.enablePurgeProtection = true and softDeleteRetentionInDays = {PROD_MIN_RETENTION_DAYS} in prod.")
def KEYVAULT_RECOVERABLE(rule: Rule, resource: Resource) -> list[Finding]:
    properties, out = _vault_properties(rule, resource)
    if properties is None:
        return out
    purge, soft_delete = properties.get("enablePurgeProtection"), properties.get("enableSoftDelete")
    retention = properties.get("softDeleteRetentionInDays")
    if is_unknown(purge):
        out.append(rule.undecided(resource, "properties.enablePurgeProtection"))
    elif purge is not True:
        out.append(rule.finding(resource, "properties.enablePurgeProtection is not true: a deleted vault and its secrets can be purged at once"))
    if is_unknown(soft_delete):
        out.append(rule.undecided(resource, "properties.enableSoftDelete"))
    elif soft_delete is False:
        out.append(rule.finding(resource, "properties.enableSoftDelete is false: deleted secrets cannot be recovered"))
    prod = _is_prod(resource)
    if is_unknown(retention) and prod is not False:
        out.append(rule.undecided(resource, "properties.softDeleteRetentionInDays"))
    elif isinstance(retention, (int, float)) and retention < PROD_MIN_RETENTION_DAYS and prod is not False:
        if prod is None:
            out.append(rule.undecided(resource, f"tags.environment (softDeleteRetentionInDays is below {PROD_MIN_RETENTION_DAYS})"))
        else:
            out.append(rule.finding(resource, f"properties.softDeleteRetentionInDays is {retention:.0f} in prod: keep {PROD_MIN_RETENTION_DAYS}"))
    return out


@rule(id="SP-AZ-005", name="azure-keyvault-no-public-network-in-prod", severity=Severity.HIGH, resource_types=(KEY_VAULT,),
      frameworks=(HIPAA_ACCESS, SOC2_BOUNDARY, SOC2_TRANSMISSION),
      remediation="Set publicNetworkAccess Disabled with a private endpoint, or networkAcls.defaultAction Deny with the declared allow-list.")
def KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD(rule: Rule, resource: Resource) -> list[Finding]:
    """A prod vault reachable from any network with default action Allow."""
    properties, out = _vault_properties(rule, resource)
    if properties is None:
        return out
    public, default_action = properties.get("publicNetworkAccess"), dig(properties, "networkAcls", "defaultAction")
    if isinstance(public, str) and public.lower() == "disabled":
        return []
    if isinstance(default_action, str) and default_action.lower() == "deny":
        return []
    prod = _is_prod(resource)
    if prod is False:
        return []
    unknown = [f"properties.{f}" for f, v in (("publicNetworkAccess", public), ("networkAcls.defaultAction", default_action)) if is_unknown(v)]
    if prod is None:
        unknown.append("tags.environment")
    if unknown:
        return [rule.undecided(resource, ", ".join(unknown))]
    return [rule.finding(resource, "public network access is enabled with networkAcls.defaultAction Allow in prod: "
                         "set publicNetworkAccess Disabled (private endpoint) or defaultAction Deny with an allow-list")]


@rule(id="SP-AZ-006", name="azure-keyvault-access-policy-all-secrets", severity=Severity.HIGH, resource_types=(KEY_VAULT,), frameworks=_ACCESS,
      remediation="Switch to RBAC (Key Vault Secrets User on the vault or one secret); failing that, grant only get (and list where needed) "
      "and keep secret writes with the deployment identity.")
def KEYVAULT_ACCESS_POLICY_ALL_SECRETS(rule: Rule, resource: Resource) -> list[Finding]:
    """An access policy whose secret permissions go beyond reading: "all" or any of set, delete, backup, restore,
    recover, purge. Access policies cover every secret of the vault, so one such permission lets the principal
    overwrite, delete, export, restore, undelete or purge any secret, not just its own. get and list alone are
    reading (what the built-in Key Vault Secrets User role allows); SP-AZ-003 refuses access policies as such."""
    properties, out = _vault_properties(rule, resource)
    if properties is None:
        return out
    policies = properties.get("accessPolicies")
    if is_unknown(policies):
        return [rule.undecided(resource, "properties.accessPolicies")]
    for index, policy in enumerate(entries(policies)):
        at = f"properties.accessPolicies[{index}]"
        permissions, unknown = strings(dig(policy, "permissions", "secrets"))
        granted = {p.lower() for p in permissions}
        everything = "all" in granted or granted >= ALL_SECRET_PERMISSIONS
        if writes := [p for p in SECRET_WRITE_PERMISSIONS if everything or p in granted]:
            what = "all secret permissions (incl. set, delete, purge)" if everything else ", ".join(writes)
            out.append(rule.finding(resource, f"{at} grants {what}: an access policy covers every secret of the vault, so the "
                                    f"principal can {'/'.join(SECRET_WRITE_PERMISSIONS[p] for p in writes)} any of them; grant get (and list where "
                                    "needed) only, better a Key Vault Secrets User role assignment on the vault or one secret"))
        elif unknown or is_unknown(policy):
            out.append(rule.undecided(resource, f"{at}.permissions.secrets"))
    return out


RULES: list[Rule] = [
    NO_PRIVILEGED_ROLE_AT_BROAD_SCOPE,
    KEYVAULT_DATA_ROLE_SCOPE,
    KEYVAULT_RBAC_AUTHORIZATION,
    KEYVAULT_RECOVERABLE,
    KEYVAULT_NO_PUBLIC_NETWORK_IN_PROD,
    KEYVAULT_ACCESS_POLICY_ALL_SECRETS,
]
