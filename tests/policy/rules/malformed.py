"""Malformed variants of a planned resource for the rule tests: every node of its props replaced in
turn by junk of another shape. Rules must never crash on them (they may stay silent: the provider
rejects such inputs)."""

from __future__ import annotations

import copy
from typing import Any, Iterator

JUNK = (None, 1, "x", [1], {"k": 1})


def _paths(node: Any, path: tuple = ()) -> Iterator[tuple]:
    if path:
        yield path
    children = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _paths(child, (*path, key))


def malformed(resource: dict) -> Iterator[dict]:
    for path in _paths(resource["props"]):
        for junk in JUNK:
            changed = copy.deepcopy(resource)
            target = changed["props"]
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = junk
            yield changed
