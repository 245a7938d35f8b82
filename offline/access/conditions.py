"""IAM condition blocks evaluated against what is known about one request.

Three answers: True (the condition holds), False (it does not), None (it cannot be decided offline:
a key whose value we do not know, an operator on numbers, dates or IP addresses, a value unknown at
preview). Keys are case-insensitive; string comparisons are case-sensitive unless the operator says
otherwise, as in IAM.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from offline.access.model import GlobSet
from documents.iam import Condition

_STRING = {"stringequals": (False, False, False), "stringnotequals": (True, False, False),
           "stringequalsignorecase": (False, True, False), "stringnotequalsignorecase": (True, True, False),
           "stringlike": (False, False, True), "stringnotlike": (True, False, True),
           "arnequals": (False, False, True), "arnlike": (False, False, True),
           "arnnotequals": (True, False, True), "arnnotlike": (True, False, True)}


class Value(Protocol):
    """A request value known only in part (a secret ARN whose random suffix is not known yet)."""

    def matches(self, patterns: Iterable[str]) -> bool | None: ...


class Request:
    """What is known about one request: condition key (lower case) -> its values (strings, or partly
    known Values), None for a key known to be absent. Tag keys come from the tags themselves, so a tag
    the resource does not have is known to be absent. A key we cannot know leaves a condition undecided."""

    def __init__(self, values: dict[str, list | None], tags: dict[str, Mapping[str, str]] | None = None):
        self.values = values
        self.tags = {prefix: {k.lower(): v for k, v in t.items()} for prefix, t in (tags or {}).items()}

    def lookup(self, key: str) -> tuple[bool, list | None]:
        if key in self.values:
            return True, self.values[key]
        for prefix, tags in self.tags.items():
            if key.startswith(prefix):
                tag = tags.get(key[len(prefix):])
                return True, None if tag is None else [tag]
        return False, None


# Keys that restrict nothing about who may act: any caller can ask for a token with any audience.
IGNORED_SUFFIXES = (":aud",)


class Evaluator:
    """Caches each condition's values, compiled once (a key policy may list thousands of secret ARNs)."""

    def __init__(self) -> None:
        self._values: dict[int, tuple[GlobSet | frozenset[str], bool]] = {}

    def _compiled(self, condition: Condition, like: bool, ignore_case: bool) -> tuple[GlobSet | frozenset[str], bool]:
        """(the values as a glob set or a plain set, whether one holds a policy variable)."""
        found = self._values.get(id(condition))
        if found is None:
            values = GlobSet(condition.values, ignore_case) if like else frozenset(v.lower() if ignore_case else v for v in condition.values)
            found = self._values[id(condition)] = (values, any("${" in v for v in condition.values))
        return found

    def all_hold(self, conditions: Iterable[Condition], context: Request) -> tuple[bool | None, str]:
        """(whether every condition holds, the key that left it undecided)."""
        undecided = ""
        for condition in conditions:
            result = self.holds(condition, context)
            if result is False:
                return False, ""
            if result is None and not undecided:
                undecided = condition.key
        return (None, undecided) if undecided else (True, "")

    def holds(self, condition: Condition, context: Request) -> bool | None:
        key = condition.key
        if key.endswith(IGNORED_SUFFIXES):
            return True
        known, values = context.lookup(key)
        if not known:
            return None
        if condition.operator == "null":
            wanted = {v.lower() for v in condition.values}
            if condition.unknown or len(wanted) != 1:
                return None
            return (values is None) == ("true" in wanted)
        if values is None:  # the key is absent from the request
            if condition.if_exists:
                return True
            negated = _STRING.get(condition.operator, (False,))[0]
            return True if negated else (True if condition.qualifier == "forallvalues" else False)
        if condition.operator == "bool":
            if condition.unknown:
                return None
            return any(str(v).lower() in {c.lower() for c in condition.values} for v in values if isinstance(v, str))
        if condition.operator not in _STRING:
            return None
        negated, ignore_case, _ = _STRING[condition.operator]
        matches = [self._match(condition, v, ignore_case) for v in values]
        if condition.unknown and True not in matches:
            return None  # one of the listed values is not known yet; it may be the one
        if condition.qualifier == "forallvalues":
            result = _all(m if not negated else negate(m) for m in matches)
        else:
            any_match = _any(matches)
            result = negate(any_match) if negated else any_match
        return result

    def _match(self, condition: Condition, value_: object, ignore_case: bool) -> bool | None:
        if not isinstance(value_, str):
            return value_.matches(condition.values)  # type: ignore[union-attr]
        like = _STRING[condition.operator][2]
        values, variable = self._compiled(condition, like, ignore_case)
        if variable:
            return None  # a policy variable: depends on the caller
        if like:
            return values.match(value_)  # type: ignore[union-attr]
        return (value_.lower() if ignore_case else value_) in values


def negate(value: bool | None) -> bool | None:
    return None if value is None else not value


def _any(values: Iterable[bool | None]) -> bool | None:
    values = list(values)
    return True if True in values else (None if None in values else False)


def _all(values: Iterable[bool | None]) -> bool | None:
    values = list(values)
    return False if False in values else (None if None in values else True)
