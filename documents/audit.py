"""What a stack declares about audit that the plan cannot show as a resource of its own: audit run outside the
stack (`elsewhere`, with its reason) or the organisation's trail recorded by ARN. The components register it as a
small component resource of this type, so the policy rules (which see only planned resources: offline, in the
preview checker and in CrossGuard alike) read the declaration from the plan.

    {"type": AUDIT_DECLARATION, "props": {"backend": "vault", "kind": "elsewhere", "reason": "Splunk HEC, ..."}}
    {"type": AUDIT_DECLARATION, "props": {"backend": "aws", "kind": "organization-trail", "trailArn": "arn:aws:cloudtrail:..."}}
"""

from __future__ import annotations

from typing import Iterable, Mapping

AUDIT_DECLARATION = "secrets-platform:audit:AuditDeclaration"
ELSEWHERE = "elsewhere"
ORGANIZATION_TRAIL = "organization-trail"


def declarations(resources: Iterable[Mapping], backend: str, kind: str) -> list[Mapping]:
    """The declarations of `kind` for `backend` among planned resources (plain dicts with type and props)."""
    return [r for r in resources if r.get("type") == AUDIT_DECLARATION
            and (r.get("props") or {}).get("backend") == backend and (r.get("props") or {}).get("kind") == kind]
