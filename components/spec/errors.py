"""Config problems and how they are shown: one line per problem naming the stack file and the key path,
list items by their name, never a value the user wrote.

    Pulumi.prod.yaml: secrets-platform:secrets[3] (stripe).rotation.days: must be between 1 and 1000 (got 0)
"""

from __future__ import annotations

import difflib
import re
import sys
import typing
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ValidationError

from components.spec.base import NAMESPACE

# Only a well-formed name labels a list item: anything else may be a value pasted into the wrong key.
_ITEM_NAME = re.compile(r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$")


@dataclass(frozen=True)
class Problem:
    location: tuple[str | int, ...]
    message: str


class ConfigError(Exception):
    """Invalid stack config: one line per problem, never a secret value. `document` (the namespace as
    written) lets the key path name each list item."""

    def __init__(self, source: str, problems: Iterable[Problem], document: Mapping[str, Any] | None = None):
        self.source = source
        self.problems = tuple(problems)
        self.document = document
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        return [f"{self.source}: {format_key_path(p.location, self.document)}: {p.message}" for p in self.problems]


def format_key_path(location: tuple[str | int, ...], document: Mapping[str, Any] | None = None) -> str:
    """`("secrets", 8, "rotation", "days")` -> `secrets-platform:secrets[8] (stripe).rotation.days`."""
    if not location:
        return NAMESPACE
    head, *rest = location
    text = f"{NAMESPACE}:{head}"
    node = document.get(head) if isinstance(document, Mapping) else None
    for part in rest:
        if isinstance(part, int):
            node = node[part] if isinstance(node, (list, tuple)) and 0 <= part < len(node) else None
            name = node.get("name") if isinstance(node, Mapping) else None
            text += f"[{part}] ({name})" if isinstance(name, str) and _ITEM_NAME.match(name) else f"[{part}]"
        else:
            node = node.get(part) if isinstance(node, Mapping) else None
            text += f".{part}"
    return text


def exit_on_config_error(error: ConfigError) -> None:
    for line in error.lines():
        print(line, file=sys.stderr)
    raise SystemExit(2)


def validation_problems(error: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """pydantic's errors of validating `model` as problems in our words."""
    return [_pydantic_problem(e, model) for e in error.errors(include_url=False)]


def describe(value: Any) -> str:
    """What the user wrote, without echoing text: strings may be secrets pasted in the wrong place."""
    if isinstance(value, bool):
        return f"got {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"got {value}"
    if value is None:
        return "got null"
    if isinstance(value, str):
        return f"got a string of {len(value)} characters"
    return f"got {'a list' if isinstance(value, list) else 'an object' if isinstance(value, dict) else type(value).__name__}"


def _pydantic_problem(error: Mapping[str, Any], model: type[BaseModel]) -> Problem:
    kind, loc, ctx = error["type"], tuple(error["loc"]), error.get("ctx") or {}
    value = error.get("input")
    if kind == "extra_forbidden":
        return Problem(loc, _unknown_key(model, loc))
    if kind == "missing":
        return Problem(loc, "required key is missing")
    if kind in ("enum", "literal_error"):
        return Problem(loc, f"must be one of {ctx.get('expected', '')} ({describe(value)})")
    if kind == "string_pattern_mismatch":
        return Problem(loc, f"must match {ctx['pattern']} ({describe(value)})")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return Problem(loc, f"{error['msg'].lower()} ({describe(value)})")
    if kind == "value_error":
        return Problem(loc, str(ctx.get("error", error["msg"])))
    if kind.endswith("_type") or kind.endswith("_parsing"):
        expected = kind.removesuffix("_type").removesuffix("_parsing").replace("_", " ")
        expected = {"model": "an object", "dict": "an object", "tuple": "a list", "list": "a list", "string": "a string"}.get(expected, f"a {expected}")
        hint = " (quote it in YAML)" if expected == "a string" and isinstance(value, (int, float)) else ""
        return Problem(loc, f"must be {expected}{hint} ({describe(value)})")
    return Problem(loc, f"{error['msg']} ({describe(value)})")


def _unknown_key(model: type[BaseModel], loc: tuple[str | int, ...]) -> str:
    """The closest known key of the object the unknown one sits in, or the keys it takes."""
    known = _keys_at(model, loc[:-1])
    if not known:
        return "unknown key; remove it or check its spelling"
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f"unknown key; did you mean '{close[0]}'?" if close else f"unknown key; allowed: {', '.join(known)}"


def _keys_at(model: type[BaseModel], path: tuple[str | int, ...]) -> list[str]:
    """The keys (aliases where set) of the model at `path` below `model`; empty when it is not one model."""
    models = [model]
    for part in path:
        if isinstance(part, int):
            continue  # a list item: the field's models are already its items'
        fields = [f for m in models for n, f in m.model_fields.items() if (f.alias or n) == part]
        models = list(dict.fromkeys(m for f in fields for m in _models_in(f.annotation)))
    if len(models) != 1:
        return []
    return [field.alias or name for name, field in models[0].model_fields.items()]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models an annotation holds: `tuple[KvMountSpec, ...]`, `GcpSpec | None`, …"""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
