"""A workload's Azure identity: a user-assigned managed identity that trusts exactly one Kubernetes
service account (a federated credential per cluster issuer), Key Vault Secrets User on each secret it
reads (or on the vault), and a wait for Azure RBAC to propagate before anything uses the grant."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pulumi
import pulumiverse_time as time
from pulumi_azure_native import authorization, managedidentity

from components.spec import service_account_subject

# Built-in role: read secret contents (getSecret), nothing else; never Owner/Contributor/Administrator.
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
# Built-in role: set (and read, list, delete) secrets; given only at one secret's scope, to its writers.
KEY_VAULT_SECRETS_OFFICER = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
ROLE_OF_ACCESS = {"read": KEY_VAULT_SECRETS_USER, "write": KEY_VAULT_SECRETS_OFFICER}
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
# Azure documents that role assignment changes can take minutes to reach Key Vault; the stores and
# ExternalSecrets are created after this wait (ESO retries beyond it on its refresh interval).
RBAC_PROPAGATION_WAIT = "120s"
_NAMESPACE = uuid.UUID("6f1c1f9e-7a52-4c1e-9d8e-5ec7e75a1a0b")  # stable role assignment names


def role_definition_id(subscription_id: str, role: str) -> str:
    return f"/subscriptions/{subscription_id}/providers/Microsoft.Authorization/roleDefinitions/{role}"


@dataclass(frozen=True)
class SecretGrant:
    """Key Vault Secrets User on one secret (or on the whole vault when the stack chooses vault scope) to read it;
    Key Vault Secrets Officer on one secret, always at its scope, to write it."""

    secret_name: str  # the secret's name in the spec
    access: str  # "read" (Key Vault Secrets User) | "write" (Key Vault Secrets Officer)
    label: str  # the secret's Key Vault name, or "vault"
    scope: pulumi.Input[str]


@dataclass(frozen=True)
class WorkloadIdentityArgs:
    identity_name: str
    subscription_id: str
    resource_group: str
    location: str
    issuers: Sequence[str]
    namespace: str
    service_account: str
    grants: Sequence[SecretGrant]
    tags: Mapping[str, str] = field(default_factory=dict)


class OperatorGroupAccess(pulumi.ComponentResource):
    """An operator's Azure AD group: its role on each secret it reads or writes, at that secret's scope."""

    def __init__(self, name: str, subscription_id: str, group_object_id: str, grants: Sequence[SecretGrant], opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:azure:OperatorGroupAccess", name, None, opts)
        for grant in grants:
            authorization.RoleAssignment(
                f"{name}-{grant.access}s-{grant.label}",
                role_assignment_name=str(uuid.uuid5(_NAMESPACE, f"operator/{group_object_id}/{grant.label}/{grant.access}")),
                principal_id=group_object_id,
                principal_type="Group",
                role_definition_id=role_definition_id(subscription_id, ROLE_OF_ACCESS[grant.access]),
                scope=grant.scope,
                description=f"secrets-platform: operator {name} {grant.access}s {grant.label}",
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({})


class WorkloadIdentity(pulumi.ComponentResource):
    def __init__(self, name: str, args: WorkloadIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:azure:WorkloadIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.identity = managedidentity.UserAssignedIdentity(
            f"{name}-identity",
            resource_name_=args.identity_name,
            resource_group_name=args.resource_group,
            location=args.location,
            tags=dict(args.tags),
            opts=child,
        )
        subject = service_account_subject(args.namespace, args.service_account)
        previous: list[pulumi.Resource] = []
        for index, issuer in enumerate(args.issuers):
            # Azure refuses concurrent writes of federated credentials on one identity: one at a time.
            credential = managedidentity.FederatedIdentityCredential(
                f"{name}-federated-{index}",
                federated_identity_credential_resource_name=f"{args.namespace}-{args.service_account}-{index}",
                resource_name_=self.identity.name,
                resource_group_name=args.resource_group,
                issuer=issuer,
                subject=subject,
                audiences=[TOKEN_EXCHANGE_AUDIENCE],
                opts=pulumi.ResourceOptions(parent=self, depends_on=previous),
            )
            previous = [credential]
        assignments = [
            authorization.RoleAssignment(
                # Reads keep their names from before writes were granted, so no prod assignment is replaced.
                f"{name}-reads-{grant.label}" if grant.access == "read" else f"{name}-writes-{grant.label}",
                role_assignment_name=str(uuid.uuid5(_NAMESPACE, f"{args.identity_name}/{grant.label}" + ("" if grant.access == "read" else "/write"))),
                principal_id=self.identity.principal_id,
                # A new identity may not have replicated yet; naming its type lets ARM skip the lookup.
                principal_type="ServicePrincipal",
                role_definition_id=role_definition_id(args.subscription_id, ROLE_OF_ACCESS[grant.access]),
                scope=grant.scope,
                description=f"secrets-platform: {args.namespace}/{args.service_account} {grant.access}s {grant.label}",
                opts=child,
            )
            for grant in args.grants
        ]
        # Waits again whenever an assignment is replaced (its id changes).
        self.ready = time.Sleep(
            f"{name}-rbac-propagation",
            create_duration=RBAC_PROPAGATION_WAIT,
            triggers={f"{grant.access}-{grant.label}" if grant.access != "read" else grant.label: a.id for grant, a in zip(args.grants, assignments)},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*assignments, *previous]),
        )
        self.client_id = self.identity.client_id
        self.principal_id = self.identity.principal_id
        self.register_outputs({"client_id": self.client_id, "principal_id": self.principal_id})
