"""The Key Vault: Azure RBAC only (no access policies), soft delete with purge protection, default-deny
firewall with the declared allow-list, audit logs to Log Analytics; and Event Grid near-expiry
notifications for secrets that declare a rotation cadence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pulumi
from pulumi_azure_native import eventgrid, keyvault, monitor

from components.spec import AzureSpec

KEY_VAULT_TOPIC_TYPE = "Microsoft.KeyVault.vaults"
EXPIRY_EVENTS = ("Microsoft.KeyVault.SecretNearExpiry", "Microsoft.KeyVault.SecretExpired")


class KeyVault(pulumi.ComponentResource):
    """The stack's vault as `config` (the spec's Azure section) declares it, with what the stack derives: the
    soft-delete retention (by environment unless set), protection (prod) and tags."""

    def __init__(self, name: str, config: AzureSpec, soft_delete_retention_days: int, protect: bool, tags: Mapping[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:azure:KeyVault", name, None, opts)
        # Protected and retained in prod: deleting the vault deletes every secret in it (recoverable
        # only during the soft-delete retention, and the name stays taken that long).
        self.vault = keyvault.Vault(
            f"{name}-vault",
            vault_name=config.key_vault,
            resource_group_name=config.resource_group,
            location=config.location,
            properties=keyvault.VaultPropertiesArgs(
                tenant_id=config.tenant_id,
                sku=keyvault.SkuArgs(family="A", name="standard"),
                enable_rbac_authorization=True,
                access_policies=[],  # RBAC decides; an access policy would bypass it
                enable_soft_delete=True,
                enable_purge_protection=True,  # cannot be turned off again: purge is impossible
                soft_delete_retention_in_days=soft_delete_retention_days,
                enabled_for_deployment=False,
                enabled_for_disk_encryption=False,
                enabled_for_template_deployment=False,
                public_network_access="Enabled" if config.public_network_access else "Disabled",
                network_acls=keyvault.NetworkRuleSetArgs(
                    default_action="Deny",
                    bypass="None",  # no "trusted Microsoft services" exception
                    ip_rules=[keyvault.IPRuleArgs(value=ip) for ip in config.allowed_ips],
                    virtual_network_rules=[keyvault.VirtualNetworkRuleArgs(id=subnet) for subnet in config.subnet_ids],
                ),
            ),
            tags=dict(tags),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )
        if config.log_analytics_workspace_id is not None:
            # Every secret read and every access change, to the workspace the security team queries.
            monitor.DiagnosticSetting(
                f"{name}-audit",
                name=f"{config.key_vault}-audit",
                resource_uri=self.vault.id,
                workspace_id=config.log_analytics_workspace_id,
                logs=[monitor.DiagnosticsLogSettingsArgs(category_group="audit", enabled=True)],
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.vault_id = self.vault.id
        self.vault_uri = self.vault.properties.apply(lambda p: p.vault_uri)
        self.register_outputs({"vault_id": self.vault_id, "vault_uri": self.vault_uri})

    def secret_scope(self, secret_name: str) -> pulumi.Output[str]:
        """The ARM id of one secret: the narrowest scope a Key Vault role can be assigned at."""
        return self.vault.id.apply(lambda vault_id: f"{vault_id}/secrets/{secret_name}")


@dataclass(frozen=True)
class ExpiryNotificationsArgs:
    vault: KeyVault
    resource_group: str
    location: str
    endpoint_url: str
    secret_names: Sequence[str]
    tags: Mapping[str, str] = field(default_factory=dict)


class ExpiryNotifications(pulumi.ComponentResource):
    """Key Vault rotates keys itself but not secrets: it emits SecretNearExpiry (30 days before a
    version's expiry) and SecretExpired through Event Grid. One subscription sends those events, for
    exactly the secrets that declare a cadence, to the rotation webhook."""

    def __init__(self, name: str, args: ExpiryNotificationsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:azure:ExpiryNotifications", name, None, opts)
        topic_name = f"{name}-topic"
        topic = eventgrid.SystemTopic(
            topic_name,
            system_topic_name=topic_name,
            resource_group_name=args.resource_group,
            location=args.location,
            source=args.vault.vault_id,
            topic_type=KEY_VAULT_TOPIC_TYPE,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.subscription = eventgrid.SystemTopicEventSubscription(
            f"{name}-expiry",
            event_subscription_name=f"{name}-expiry",
            resource_group_name=args.resource_group,
            system_topic_name=topic.name,
            destination=eventgrid.WebHookEventSubscriptionDestinationArgs(endpoint_type="WebHook", endpoint_url=args.endpoint_url),
            filter=eventgrid.EventSubscriptionFilterArgs(
                included_event_types=list(EXPIRY_EVENTS),
                # The event's subject is the secret's name.
                advanced_filters=[eventgrid.StringInAdvancedFilterArgs(operator_type="StringIn", key="subject", values=sorted(args.secret_names))],
            ),
            retry_policy=eventgrid.RetryPolicyArgs(max_delivery_attempts=30, event_time_to_live_in_minutes=1440),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})
