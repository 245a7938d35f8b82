"""Azure Key Vault as a backend: the vault, expiry notifications, then per reading workload its managed identity,
federated with its service account, holding Key Vault Secrets User on exactly the secrets it reads (or on the
vault, when the stack chooses `role_scope: vault`). Secret values are never Pulumi inputs: they are written to
the vault out of band (see README)."""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_azure_native as azure_native

from components import audit
from components.spec import AzureSpec, SecretSpec, WorkloadSpec
from components.azure.identity import OperatorGroupAccess, SecretGrant, WorkloadIdentity, WorkloadIdentityArgs
from components.azure.keyvault import ExpiryNotifications, ExpiryNotificationsArgs, KeyVault
from components.backend import Access, BackendBase, PodIdentity, StoreProvider, strictest

CLIENT_ID_ANNOTATION = "azure.workload.identity/client-id"  # Azure workload identity: the managed identity
USE_LABEL = {"azure.workload.identity/use": "true"}  # on pods: the webhook injects the federated token


def store_provider_block(vault_url: str, tenant_id: str, service_account_ref: Mapping[str, str]) -> dict:
    """Key Vault through workload identity: ESO requests a token of the service account for the token
    exchange audience and signs in as the managed identity its client-id annotation names."""
    return {"azurekv": {"authType": "WorkloadIdentity", "vaultUrl": vault_url, "tenantId": tenant_id, "environmentType": "PublicCloud",
                        "serviceAccountRef": dict(service_account_ref)}}


class AzureBackend(BackendBase):
    """Grants are Key Vault Secrets User role assignments; identities are federated managed identities."""

    name = "azure"
    outputs_declared = ("azure_client_ids",)

    def _provider(self, opts: pulumi.ResourceOptions, platform_name: str) -> azure_native.Provider:
        settings = self.settings
        return azure_native.Provider("azure", subscription_id=settings.subscription_id, tenant_id=settings.tenant_id, location=settings.location,
                                     opts=opts)

    def _build(self, parent: pulumi.Resource, child: pulumi.ResourceOptions) -> None:
        spec = self.spec
        settings: AzureSpec = self.settings
        rg = settings.resource_group
        self.secrets = {s.name: s for s in spec.secrets_on("azure")}
        vault = self.key_vault = KeyVault(
            "azure-key-vault",
            settings,
            soft_delete_retention_days=spec.azure_soft_delete_days,
            protect=spec.is_prod,
            tags=spec.tags_for(strictest(tuple(self.secrets.values()))),
            opts=child,
        )
        if settings.audit is not None:  # the vault's diagnostics are managed outside this stack, with the reason
            audit.elsewhere("azure", settings.audit.elsewhere, child)
        rotated = [spec.azure_secret_name(s) for s in self.secrets.values() if spec.azure_rotates(s)]
        if rotated:
            assert settings.rotation_notification_url is not None  # spec cross-checks
            ExpiryNotifications(
                f"{spec.slug}-kv-expiry",
                ExpiryNotificationsArgs(vault, rg, settings.location, settings.rotation_notification_url, rotated, spec.tags_for()),
                child,
            )
        self.identities: dict[str, WorkloadIdentity] = {}
        for workload in spec.all_workloads:
            reads, writes = spec.reads(workload, "azure"), spec.writes(workload, "azure")
            if not (reads or writes):
                continue
            grants: dict[tuple[str, str], SecretGrant] = {}  # one role assignment per scope: with vault scope, every read is the same one
            for access, names in (("read", reads), ("write", writes)):
                for name in names:
                    grant = self.grant(workload.name, name, access)
                    grants.setdefault((access, grant.label), grant)
            self.identities[workload.name] = WorkloadIdentity(
                f"azure-{workload.name}",
                WorkloadIdentityArgs(
                    identity_name=spec.azure_identity_name(workload),
                    subscription_id=settings.subscription_id,
                    resource_group=rg,
                    location=settings.location,
                    issuers=settings.issuers,
                    namespace=workload.namespace,
                    service_account=workload.service_account,
                    grants=list(grants.values()),
                    tags=spec.tags_for(workload=workload.name),
                ),
                child,
            )
        self._operators(child)

    def grant(self, identity: str, secret: str, access: Access) -> SecretGrant:
        """Key Vault Secrets User on the secret, or on the vault when the stack's `role_scope` is `vault`; to write,
        Key Vault Secrets Officer on the secret only (never on the vault: it would write every secret)."""
        if access == "rotate":
            raise ValueError(f"Key Vault runs no rotation function (got {access!r} for {secret!r})")
        if self.settings.role_scope == "vault" and access == "read":
            return SecretGrant(secret, access, "vault", self.key_vault.vault_id)
        name = self.spec.azure_secret_name(self.secrets[secret])
        return SecretGrant(secret, access, name, self.key_vault.secret_scope(name))

    def _operators(self, child: pulumi.ResourceOptions) -> None:
        """Each operator's Azure AD group: its role on exactly the secrets it reads or writes."""
        grants: dict[str, list[SecretGrant]] = {}
        groups = {}
        for operator, name, access in self.spec.operator_access("azure"):
            name_in_vault = self.spec.azure_secret_name(self.secrets[name])
            grants.setdefault(operator.name, []).append(SecretGrant(name, access, name_in_vault, self.key_vault.secret_scope(name_in_vault)))
            groups[operator.name] = operator.azure_group_object_id
        for operator_name, operator_grants in grants.items():
            OperatorGroupAccess(f"azure-operator-{operator_name}", self.settings.subscription_id, groups[operator_name], operator_grants, child)

    def store_provider(self, store_key: str, identity: str, service_account_ref: Mapping[str, str]) -> StoreProvider:
        provider = store_provider_block(self.settings.vault_url, self.settings.tenant_id, service_account_ref)
        return StoreProvider(f"azure-key-vault-{self.spec.environment.value}", provider)

    def remote_key(self, secret: SecretSpec) -> str:
        """Key Vault names take no `/`."""
        return self.spec.azure_secret_name(secret)

    def pod_identity(self, workload: WorkloadSpec) -> PodIdentity:
        identity = self.identities.get(workload.name)
        if identity is None:
            return PodIdentity()
        return PodIdentity(annotations={CLIENT_ID_ANNOTATION: identity.client_id}, pod_labels=USE_LABEL)

    def ready(self) -> list[pulumi.Resource]:
        """Stores of identities whose role assignments are new wait for them to propagate."""
        return [identity.ready for identity in self.identities.values()]

    def outputs(self) -> dict[str, dict[str, pulumi.Output]]:
        return {"azure_client_ids": {name: i.client_id for name, i in self.identities.items()}}
