"""Azure Key Vault: one vault per stack, AKS workloads reading it through workload identity, the names
derived for them, and their checks."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from components.spec.audit import ElsewhereSpec
from components.spec.base import AWS_ONLY_FIELDS, HttpsUrl, Spec
from components.spec.checks import duplicates, manual_rotation_only, missing_section
from components.spec.errors import Problem

if TYPE_CHECKING:
    from components.spec.models import SecretSpec, WorkloadSpec
    from components.spec.stack import StackSpec

Guid = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
# Azure allows at most 20 federated identity credentials on one user-assigned identity.
AZURE_MAX_FEDERATED_CREDENTIALS = 20
AZURE_PROD_SOFT_DELETE_DAYS = 90
AZURE_NONPROD_SOFT_DELETE_DAYS = 7
_AZURE_RG_ID = r"/subscriptions/[0-9a-f-]{36}/resourceGroups/[-\w._()]+"
_AZURE_SECRET_NAME = re.compile(r"[A-Za-z0-9-]{1,127}")


class AzureSpec(Spec):
    """Azure Key Vault: one vault per stack; AKS workloads read it through workload identity."""

    subscription_id: Guid
    tenant_id: Guid
    resource_group: Annotated[str, StringConstraints(pattern=r"^[-\w._()]{0,89}[-\w_()]$")]
    location: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{1,39}$")]
    key_vault: str
    """Globally unique: 3-24 characters, letters, digits and dashes, starting with a letter, ending
    with a letter or digit, no `--`. A deleted vault keeps its name for the soft-delete retention."""
    aks_oidc_issuer_url: HttpsUrl
    """`az aks show --query oidcIssuerProfile.issuerUrl`: the issuer of the workloads' service account tokens."""
    extra_oidc_issuer_urls: tuple[HttpsUrl, ...] = ()
    """Further clusters running the same workloads (e.g. a blue/green AKS migration): every identity
    gets one federated credential per issuer, and Azure allows 20 per identity."""
    allowed_ips: tuple[Annotated[str, StringConstraints(pattern=r"^\d{1,3}(\.\d{1,3}){3}(/\d{1,2})?$")], ...] = ()
    """Public IPv4 addresses or CIDR ranges allowed through the vault firewall (default deny)."""
    subnet_ids: tuple[Annotated[str, StringConstraints(pattern=rf"^{_AZURE_RG_ID}/providers/Microsoft\.Network/virtualNetworks/[-\w._]+/subnets/[-\w._]+$")], ...] = ()
    """Subnets (with the Microsoft.KeyVault service endpoint) allowed through the firewall, e.g. the AKS node subnet."""
    public_network_access: bool = True
    """False: reachable only through a private endpoint (the allow-list then does not apply)."""
    log_analytics_workspace_id: Annotated[str, StringConstraints(pattern=rf"^{_AZURE_RG_ID}/providers/Microsoft\.OperationalInsights/workspaces/[-\w]+$")] | None = None
    """Diagnostic settings send the vault's audit events (every secret read) here."""
    audit: ElsewhereSpec | None = None
    """Instead of the workspace: `elsewhere: <reason>` when the vault's diagnostics are managed outside this stack."""
    soft_delete_retention_days: int | None = Field(default=None, ge=7, le=90)
    """Default 90 in prod, 7 elsewhere; Azure fixes it once the vault exists."""
    role_scope: Literal["secret", "vault"] = "secret"
    """Key Vault Secrets User on each secret read (least privilege, the default) or once on the vault."""
    rotation_notification_url: HttpsUrl | None = None
    """Webhook receiving Event Grid's SecretNearExpiry/SecretExpired events for secrets that declare rotation."""

    @field_validator("key_vault")
    @classmethod
    def _vault_name(cls, value: str) -> str:
        if not 3 <= len(value) <= 24:
            raise ValueError(f"must be 3 to 24 characters (got {len(value)})")
        if not re.fullmatch(r"[A-Za-z0-9-]+", value):
            raise ValueError("may contain only letters, digits and dashes")
        if not value[0].isalpha():
            raise ValueError("must start with a letter")
        if value.endswith("-") or "--" in value:
            raise ValueError("must end with a letter or digit and contain no consecutive dashes")
        return value

    @property
    def issuers(self) -> tuple[str, ...]:
        return (self.aks_oidc_issuer_url, *self.extra_oidc_issuer_urls)

    @property
    def vault_url(self) -> str:
        return f"https://{self.key_vault.lower()}.vault.azure.net/"

    @property
    def resource_group_id(self) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"


class AzureNaming:
    """StackSpec's Azure-derived values: secret and identity names, credentials, retention (mixed into StackSpec)."""

    def azure_secret_name(self: StackSpec, secret: SecretSpec) -> str:
        """Key Vault secret names take letters, digits and dashes only: the derived path with `/` as `-`; an explicit
        `path` is the name as it is (validated, never rewritten)."""
        if secret.path is not None:
            return secret.path
        return self.secret_path(secret).strip("/").replace("/", "-")

    def azure_identity_name(self: StackSpec, workload: WorkloadSpec) -> str:
        return f"{self.slug}-{workload.name}"

    def azure_credentials_per_identity(self: StackSpec) -> int:
        """Federated credentials each workload identity needs: one per (issuer, service account); every
        identity serves exactly one service account."""
        return len(self.azure.issuers) if self.azure else 0

    @property
    def azure_soft_delete_days(self: StackSpec) -> int:
        declared = self.azure.soft_delete_retention_days if self.azure else None
        return declared or (AZURE_PROD_SOFT_DELETE_DAYS if self.is_prod else AZURE_NONPROD_SOFT_DELETE_DAYS)

    def azure_rotates(self: StackSpec, secret: SecretSpec) -> bool:
        return secret.backend == "azure" and self.rotation(secret).kind != "none"


def azure_checks(spec: StackSpec) -> list[Problem]:
    azure = spec.azure
    problems = missing_section(spec, "azure", "subscription, vault, AKS issuer") if azure is None else []
    if azure is not None and spec.is_prod and azure.log_analytics_workspace_id is None and azure.audit is None:
        problems.append(Problem(("azure", "log_analytics_workspace_id"), "required in prod: the vault's audit logs (every secret read) must go to a workspace (HIPAA 164.312(b)), "
                                "or say where they go instead (audit: {elsewhere: <reason>})"))
    for index, secret in enumerate(spec.secrets):
        at = ("secrets", index)
        if secret.backend != "azure" or azure is None:
            continue
        for field in AWS_ONLY_FIELDS:
            if field in secret.model_fields_set:
                problems.append(Problem((*at, field), "only for backend: aws (Key Vault values are written out of band, never through Pulumi)"
                                        if field == "initial_value" else "only for backend: aws"))
        problems += manual_rotation_only(at, secret, "Azure", "manual: Event Grid notifies before the version expires")
        if secret.path is None and not _AZURE_SECRET_NAME.fullmatch(spec.azure_secret_name(secret)):  # an explicit path: adoption's grammar
            problems.append(Problem((*at, "name"), "the Key Vault secret name (the path with / as -) must be 1 to 127 letters, digits and dashes"))
    azure_secrets = spec.secrets_on("azure")
    names = [spec.azure_secret_name(s) for s in azure_secrets]
    for name, indexes in duplicates(n.lower() for n in names).items():
        problems.append(Problem(("secrets", spec.secrets.index(azure_secrets[indexes[1]]), "path"), f"Key Vault secret name '{name}' is already used by secret {azure_secrets[indexes[0]].name}"))
    if azure is None:
        return problems
    at = ("azure",)
    if not azure_secrets:
        problems.append(Problem(at, "no secret has backend: azure; remove the section or add one"))
    needed = spec.azure_credentials_per_identity()
    if needed > AZURE_MAX_FEDERATED_CREDENTIALS:
        problems.append(Problem((*at, "extra_oidc_issuer_urls"), f"each workload identity would need {needed} federated credentials (one per issuer); Azure allows at most {AZURE_MAX_FEDERATED_CREDENTIALS} per identity"))
    for url, indexes in duplicates(azure.issuers).items():
        problems.append(Problem((*at, "extra_oidc_issuer_urls", indexes[1] - 1), "this issuer is already listed"))
    if spec.is_prod and azure.soft_delete_retention_days is not None and azure.soft_delete_retention_days < AZURE_PROD_SOFT_DELETE_DAYS:
        problems.append(Problem((*at, "soft_delete_retention_days"), f"must be {AZURE_PROD_SOFT_DELETE_DAYS} in prod (got {azure.soft_delete_retention_days})"))
    if not azure.public_network_access and (azure.allowed_ips or azure.subnet_ids):
        problems.append(Problem((*at, "allowed_ips" if azure.allowed_ips else "subnet_ids"), "applies only with public_network_access: true (a private endpoint bypasses the firewall)"))
    for field in ("allowed_ips", "subnet_ids"):
        for value, indexes in duplicates(getattr(azure, field)).items():
            problems.append(Problem((*at, field, indexes[1]), "listed twice"))
    rotated = [s.name for s in azure_secrets if spec.azure_rotates(s)]
    if rotated and azure.rotation_notification_url is None:
        problems.append(Problem((*at, "rotation_notification_url"), f"required: {', '.join(rotated)} declare rotation and Event Grid sends their near-expiry events there"))
    return problems
