"""A backend's audit declaration in the plan (documents/audit.py): audit run elsewhere, with its reason, or the
organisation trail recorded by ARN. A component resource with no children: nothing is created in any cloud; it
carries the declaration to the policy rules, which see only planned resources."""

from __future__ import annotations

import pulumi

from documents.audit import AUDIT_DECLARATION, ELSEWHERE, ORGANIZATION_TRAIL

__all__ = ["AUDIT_DECLARATION", "ELSEWHERE", "ORGANIZATION_TRAIL", "AuditDeclaration", "elsewhere"]


class AuditDeclaration(pulumi.ComponentResource):
    def __init__(self, name: str, backend: str, kind: str, detail: str, opts: pulumi.ResourceOptions | None = None):
        if kind not in (ELSEWHERE, ORGANIZATION_TRAIL):
            raise ValueError(f"unknown audit declaration kind {kind!r}")
        props = {"backend": backend, "kind": kind, "reason" if kind == ELSEWHERE else "trailArn": detail}
        super().__init__(AUDIT_DECLARATION, name, props, opts)
        self.register_outputs({})


def elsewhere(backend: str, reason: str, opts: pulumi.ResourceOptions) -> AuditDeclaration:
    return AuditDeclaration(f"{backend}-audit-elsewhere", backend, ELSEWHERE, reason, opts)
