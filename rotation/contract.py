"""The shape contract of a rotated secret: what each rotation kind writes into the secret's value.

A secret's declared `properties` (the JSON keys of its value) are what its consumers may read. A
rotation must leave none of them stale: it writes new credentials, rebuilds what is derived from them
in the same pending version, and carries over only what does not depend on them.

    kind                  writes                    rebuilds (when present)       keeps
    postgres-single       password                  url, dsn, connection_string   username and the connection parts
    postgres-alternating  username, password        url, dsn, connection_string   the connection parts
    generic               <property>, its overlap   -                             every other key

`problems(...)` checks a declaration against this table (pure: the spec calls it). The handlers read
the same table, so what is checked is what runs. Standard library only: it is part of the Lambda.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping, Sequence

# Derived from the credentials: the postgres kinds rebuild each one the secret carries.
CONNECTION_PROPERTIES = ("url", "dsn", "connection_string")
# Where and how to connect (and AWS's RDS secret fields): a rotation never changes them.
CONNECTION_PARTS = ("engine", "host", "port", "dbname", "sslmode", "ssl", "masterarn",
                    "dbInstanceIdentifier", "dbClusterIdentifier")
DEFAULT_PROPERTY = "value"  # generic, when `property` is not set: {"value", "previous"} as before
PROPERTY_ENV = "ROTATED_PROPERTY"  # generic: the Lambda environment variable naming the property
PROPERTY_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,253}$")  # the spec's pattern for a property name


def overlap_key(prop: str) -> str:
    """Where the generic kind keeps the replaced values of `prop` through their overlap."""
    return "previous" if prop == DEFAULT_PROPERTY else f"{prop}_previous"


@dataclass(frozen=True)
class Contract:
    writes: tuple[str, ...]  # a new value every rotation
    rebuilds: tuple[str, ...]  # derived from `writes` in the same pending version, when the secret has them
    keeps: tuple[str, ...]  # carried over unchanged, and independent of `writes`
    keeps_others: bool  # whether any other key is carried over as independent (generic: metadata beside the value)

    def fresh(self) -> tuple[str, ...]:
        return self.writes + self.rebuilds + self.keeps


def contract(kind: str, prop: str | None = None) -> Contract | None:
    """What `kind` writes; None for kinds without a rotation function (manual, none)."""
    if kind == "postgres-single":
        return Contract(("password",), CONNECTION_PROPERTIES, ("username", *CONNECTION_PARTS), False)
    if kind == "postgres-alternating":
        return Contract(("username", "password"), CONNECTION_PROPERTIES, CONNECTION_PARTS, False)
    if kind == "generic":
        prop = prop or DEFAULT_PROPERTY
        return Contract((prop, overlap_key(prop)), (), (), True)
    return None


@dataclass(frozen=True)
class Problem:
    """`where` is relative to the secret: ("rotation", "property"), ("properties", i), or
    ("consumers", consumer, key) for a key a consumer reads."""

    where: tuple[str | int, ...]
    message: str


def problems(kind: str, options: Mapping[str, object], properties: Sequence[str],
             consumers: Mapping[str, Sequence[str]]) -> list[Problem]:
    """What is wrong with a secret's shape under its rotation.

    kind: the rotation kind; options: the rotation's settings (only `property` is read);
    properties: the secret's declared properties (empty: consumers read the whole value);
    consumers: consumer name (a workload, an ExternalSecret) -> the property names it reads
    (an ExternalSecret: each remoteRef.property it maps; a consumer of the whole value: none).
    """
    out: list[Problem] = []
    prop = options.get("property")
    if prop is not None and kind != "generic":
        out.append(Problem(("rotation", "property"), f"only kind generic takes property (got kind {kind})"))
        prop = None
    if prop is not None and (not isinstance(prop, str) or not PROPERTY_NAME.match(prop)):
        out.append(Problem(("rotation", "property"), "must be a property name of letters, digits, '_', '.' or '-'"))
        prop = None
    declared = list(properties)
    terms = contract(kind, prop)
    if terms is not None and declared:
        rotated = terms.writes[0]
        if kind == "generic" and rotated not in declared:
            hint = f"; set property: {declared[0]}" if prop is None else ""
            out.append(Problem(("rotation", "property"), f"generic rotation writes '{rotated}', which the secret does not "
                               f"declare (declared: {', '.join(declared)}){hint}"))
        if not terms.keeps_others:
            fresh = terms.fresh()
            for i, name in enumerate(declared):
                if name not in fresh:
                    out.append(Problem(("properties", i), f"'{name}' would go stale: {kind} rotation writes "
                                       f"{', '.join(terms.writes)}, rebuilds {', '.join(terms.rebuilds)} and keeps "
                                       f"{', '.join(terms.keeps)}; anything else it carries over unchanged"))
    for consumer, keys in consumers.items():
        for key in keys:
            if key not in declared:
                out.append(Problem(("consumers", consumer, key), f"reads '{key}', which the secret does not declare "
                                   f"(declared: {', '.join(declared) or 'none, the value is read whole'})"))
    return out
