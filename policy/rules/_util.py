"""Helpers that several rule modules share: reading plain-dict props that may hold unknowns, and
the compliance controls spelled once."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from policy.rules.base import Finding, Resource, is_unknown

HIPAA_ACCESS = "HIPAA 164.312(a)(1)"  # access control
HIPAA_AUDIT = "HIPAA 164.312(b)"  # audit controls
SOC2_ACCESS = "SOC2 CC6.1"  # logical access over protected information
SOC2_LEAST_PRIVILEGE = "SOC2 CC6.3"  # role-based access, least privilege
SOC2_BOUNDARY = "SOC2 CC6.6"  # access from outside the system's boundaries


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


def undecided(rule_id: str, resource: Resource, what: str) -> Finding:
    return Finding(rule_id, resource["urn"], f"could not decide: {what} is unknown at preview", undecided=True)
