"""Planned resources as plain dicts, whose props may hold values unknown at preview: the one way the policy
pack, the preview checker and the access matrix read them."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

# A planned resource as every entry point hands it to the rules:
#   {"type": "aws:iam/rolePolicy:RolePolicy", "urn": "urn:pulumi:...", "name": "api-access",
#    "props": {... Pulumi camelCase input properties ...}}
Resource = Mapping[str, Any]

# The engine's sentinels for values not known at preview (the same strings that
# `pulumi preview --json` writes and pulumi_policy's proxy recognises).
UNKNOWN_SENTINELS = frozenset(
    {
        "04da6b54-80e4-46f7-96ec-b56ff0331ba9",  # string
        "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7",  # boolean
        "3eeb2bf0-c639-47a8-9e75-3b44932eb421",  # number
        "6a19a0b0-7e62-4c92-b797-7f8e31da9cc2",  # array
        "030794c1-ac77-496b-92df-f27374a8bd58",  # asset
        "e48ece36-62e2-4504-bad9-02848725956a",  # archive
        "dd056dcd-154b-4c76-9bd3-c8f88648b5ff",  # object
    }
)


def is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in UNKNOWN_SENTINELS


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]…`: None where a level is missing or not a mapping; an unknown level is returned
    as the unknown itself, so callers can tell "absent" from "not known yet"."""
    for key in keys:
        if is_unknown(value):
            return value
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def entries(value: Any) -> list:
    """A list-valued prop as a list; anything else (absent, malformed) as no entries."""
    return list(value) if isinstance(value, (list, tuple)) else []


class Strings(NamedTuple):
    values: list[str]  # the elements known at preview
    unknown: bool  # the list, or some element of it, is unknown at preview


def strings(value: Any) -> Strings:
    """A string or list of strings, as the known elements and whether anything is unknown at preview."""
    if value is None:
        return Strings([], False)
    if is_unknown(value):
        return Strings([], True)
    items = value if isinstance(value, (list, tuple)) else [value]
    return Strings([str(v) for v in items if v is not None and not is_unknown(v)], any(is_unknown(v) for v in items))
