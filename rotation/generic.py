"""Generic secrets (API keys, signing secrets): a new random value, the replaced ones kept for an overlap.

The secret is a JSON object; the rotation writes one property, named by ROTATED_PROPERTY (default
`value`), and keeps the replaced values beside it (`previous` for `value`, else `<property>_previous`);
other keys are carried over untouched:

    {"value": "<current>", "previous": [{"value": "<older>", "expires_at": 1767225600}, ...]}
    {"jwt_secret": "<current>", "jwt_secret_previous": [{"value": "<older>", "expires_at": ...}], "issuer": "..."}

A consumer accepts the property, and each of the overlap list's `value`s until its `expires_at` (Unix
seconds, UTC), so sessions, tokens or clients holding the old value keep working through the overlap.
createSecret keeps every unexpired previous value and adds the current one, valid for OVERLAP_SECONDS
plus a grace for the rest of the rotation. finishSecret promotes only if every value AWSCURRENT
accepts at that moment stays accepted as long as the overlap promises; otherwise (a clock far past
createSecret, a value put by hand meanwhile) it abandons the pending version, which no consumer has
seen, and the next rotation starts afresh.

    handler: rotation.generic.handler
    env:     OVERLAP_SECONDS (required, 0..31536000), ROTATED_PROPERTY (default value),
             VALUE_LENGTH (32..4096, default 64), SECRETS_MANAGER_ENDPOINT
"""

from __future__ import annotations

import os

from rotation import steps
from rotation.contract import DEFAULT_PROPERTY, PROPERTY_ENV, PROPERTY_NAME, overlap_key
from rotation.steps import Kind, Rotation, RotationError, abandon, check_safe, env_int, handler_for

GRACE_SECONDS = 900  # the steps of one rotation normally run within seconds; a Lambda runs 15 minutes at most


def overlap_seconds() -> int:
    return env_int("OVERLAP_SECONDS", None, 0, 365 * 86400)


def rotated_property() -> str:
    name = os.environ.get(PROPERTY_ENV) or DEFAULT_PROPERTY
    if not PROPERTY_NAME.match(name):
        raise RotationError(f"environment variable {PROPERTY_ENV} must be a property name of letters, digits, '_', '.' or '-'")
    return name


def previous(secret: dict, prop: str) -> list[dict]:
    entries = secret.get(overlap_key(prop), [])
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("value"), str) and isinstance(e.get("expires_at"), int)
        for e in entries
    ):
        raise RotationError(f"{overlap_key(prop)} must be a list of {{value, expires_at (integer Unix seconds)}}")
    return entries


def accepted_until(secret: dict, prop: str, value: str) -> float | None:
    """Until when a consumer reading `secret` accepts `value` (inf for the current value, None: never)."""
    if secret.get(prop) == value:
        return float("inf")
    return max((e["expires_at"] for e in previous(secret, prop) if e["value"] == value), default=None)


class Generic(Kind):
    name = "generic"

    def create(self, rot: Rotation, current: dict) -> dict:
        now, overlap, prop = int(steps.clock()), overlap_seconds(), rotated_property()
        old = current.get(prop)
        if not isinstance(old, str) or not old:
            raise RotationError(f"the AWSCURRENT secret lacks a string {prop}")
        kept = [e for e in previous(current, prop) if e["expires_at"] > now and e["value"] != old]
        if overlap:
            kept.append({"value": old, "expires_at": now + overlap + GRACE_SECONDS})
        new = rot.random(env_int("VALUE_LENGTH", 64, 32, 4096))
        return {**current, prop: new, overlap_key(prop): kept}

    def test(self, rot: Rotation, pending: dict) -> None:
        prop = rotated_property()
        check_safe(pending.get(prop), f"the pending {prop}")
        previous(pending, prop)

    def finish(self, rot: Rotation, current: dict, pending: dict) -> None:
        now, overlap, prop = steps.clock(), overlap_seconds(), rotated_property()
        promised = {current[prop]: now + overlap} if isinstance(current.get(prop), str) else {}
        for entry in previous(current, prop):
            if entry["expires_at"] > now:
                promised[entry["value"]] = max(promised.get(entry["value"], 0), entry["expires_at"])
        for value, until in promised.items():
            kept = accepted_until(pending, prop, value)
            if until > now and (kept is None or kept < until):
                abandon(rot, "a value AWSCURRENT accepts would lose its overlap")


handler = handler_for(Generic())
