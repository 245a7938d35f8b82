"""The Vault audit device (HIPAA 164.312(b)): every request and response logged, secret values and token
accessors HMAC'd, never raw; protected in prod (disabling it would silently end the record). Or, when the stack
says audit runs elsewhere, only the declaration the policy rules read."""

from __future__ import annotations

import pulumi
import pulumi_vault as vault

from components import audit
from components.spec import VaultAuditSpec


def audit_device(settings: VaultAuditSpec, protect: bool, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    if settings.elsewhere is not None:
        return audit.elsewhere("vault", settings.elsewhere, opts)
    assert settings.device is not None  # the spec checks declare exactly one of device and elsewhere
    return vault.Audit(
        f"audit-{settings.device_path}",
        type=settings.device,
        path=settings.device_path,
        description=settings.description or "secrets-platform: every request and response, values HMAC'd",
        options=settings.options(),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(protect=protect)),
    )
