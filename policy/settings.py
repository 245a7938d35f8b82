"""The pack's configuration: an enforcement level per rule and the exceptions, read from the JSON file that
`pulumi preview --policy-pack policy --policy-pack-config policy/config/<env>.json` hands to CrossGuard, so
CrossGuard, the offline plan and `python -m policy check` read one source.

The file is Pulumi's policy pack config. Its keys are policy names, and each rule is one policy named by its id:

    {
      "all": "mandatory",                                 default level of every rule
      "SP-VAULT-012": "advisory",                         re-level one rule
      "SP-AZ-005": {"enforcementLevel": "disabled"},      the same, object form
      "SP-VAULT-002": {
        "exceptions": [
          {"resource": "legacy-reader",                   logical name or full URN
           "reason": "SEC-142: legacy app keeps its glob until its migration",
           "expires": "2025-09-30"}                       ISO date, the last day the exception is in force
        ]
      }
    }

Levels are mandatory | advisory | disabled. Without "all" the stack's environment decides: prod mandatory, dev
and staging advisory. An exception needs a non-empty reason, and an expiry date on critical and high rules (it
is allowed on all). It names one resource exactly: no globs, because an exception is reviewed for the resource
it names and a pattern would silently cover resources added later. An expired exception no longer suppresses
anything and is itself reported as a violation (SP-EXC-001, see policy/engine.py).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any, Iterable, Mapping

from documents.jsonfile import read_json
from policy.rules.base import Rule, Severity, StackRule

CONFIG_DIR = Path(__file__).resolve().parent / "config"


class Enforcement(str, Enum):
    MANDATORY = "mandatory"
    ADVISORY = "advisory"
    DISABLED = "disabled"


ENVIRONMENT_DEFAULTS = {"prod": Enforcement.MANDATORY, "staging": Enforcement.ADVISORY, "dev": Enforcement.ADVISORY}
# Rules whose exceptions must be time-boxed.
EXPIRY_REQUIRED = frozenset({Severity.CRITICAL, Severity.HIGH})
_GLOB = re.compile(r"[*?\[\]]")


def environment_of(stack: str) -> str:
    """prod | staging | dev from a stack name (`prod`, `org/phagen-prod`, `emr-production`); anything else is dev."""
    name = stack.rsplit("/", 1)[-1].lower()
    for environment, words in (("prod", ("prod", "production")), ("staging", ("staging", "stage"))):
        if any(name == word or name.endswith(f"-{word}") or name.endswith(f"_{word}") for word in words):
            return environment
    return "dev"


@dataclass(frozen=True)
class PolicyException:
    rule_id: str
    resource: str
    reason: str
    expires: date | None
    where: str  # "policy/config/prod.json: SP-VAULT-002.exceptions[0]", for messages

    def matches(self, urn: str, name: str) -> bool:
        return self.resource in (urn, name)

    def expired(self, today: date) -> bool:
        return self.expires is not None and today > self.expires


@dataclass(frozen=True)
class PackSettings:
    environment: str = "prod"
    default: Enforcement | None = None  # "all"; None: the environment's default
    levels: Mapping[str, Enforcement] = field(default_factory=dict)
    exceptions: tuple[PolicyException, ...] = ()
    source: str = "built-in defaults"

    def level(self, rule_id: str) -> Enforcement:
        return self.levels.get(rule_id) or self.default or ENVIRONMENT_DEFAULTS[self.environment]


class SettingsError(Exception):
    """Every problem of a config file, one line each, naming the file and the key path."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


def exception_schema(rule: Rule | StackRule) -> dict[str, Any]:
    """JSON Schema of a rule's `exceptions` property: the pack declares it to Pulumi, which validates
    `--policy-pack-config` against it before the preview; `parse_exceptions` applies the same rules offline."""
    required = ["resource", "reason"] + (["expires"] if rule.severity in EXPIRY_REQUIRED else [])
    return {
        "type": "array",
        "description": "Resources this rule does not apply to: each names one resource (logical name or URN, exact), "
        "a reason, and an expiry date (YYYY-MM-DD, required for critical and high rules).",
        "items": {
            "type": "object",
            "properties": {
                "resource": {"type": "string", "minLength": 1, "pattern": r"^[^*?\[\]]+$"},
                "reason": {"type": "string", "pattern": r"\S"},
                "expires": {"type": "string", "format": "date", "pattern": r"^\d{4}-\d{2}-\d{2}$"},
            },
            "required": required,
            "additionalProperties": False,
        },
    }


def parse_exceptions(rule: Rule | StackRule, entries: Any, where: str) -> tuple[list[PolicyException], list[str]]:
    """The exceptions of one rule and the problems found; `where` is the key path of the list."""
    if not isinstance(entries, list):
        return [], [f"{where}: must be a list of exceptions"]
    exceptions, problems = [], []
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{at}: must be an object with resource, reason and expires")
            continue
        found = []
        for key in sorted(set(entry) - {"resource", "reason", "expires"}):
            found.append(f"{at}.{key}: unknown key (allowed: resource, reason, expires)")
        resource, reason, expires = entry.get("resource"), entry.get("reason"), entry.get("expires")
        if not isinstance(resource, str) or not resource.strip():
            found.append(f"{at}.resource: required, the logical name or URN of one resource")
        elif _GLOB.search(resource):
            found.append(f"{at}.resource: must name one resource exactly (logical name or URN); globs are not allowed")
        if not isinstance(reason, str) or not reason.strip():
            found.append(f"{at}.reason: required: say why the exception is safe and who accepted it")
        expiry = None
        if expires is None:
            if rule.severity in EXPIRY_REQUIRED:
                found.append(f"{at}.expires: required for {rule.severity.value} rules: the last day the exception holds (YYYY-MM-DD)")
        elif not isinstance(expires, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", expires):
            found.append(f"{at}.expires: must be an ISO date YYYY-MM-DD")
        else:
            try:
                expiry = date.fromisoformat(expires)
            except ValueError:
                found.append(f"{at}.expires: {expires} is not a calendar date")
        if found:
            problems.extend(found)
        else:
            exceptions.append(PolicyException(rule.id, resource, reason.strip(), expiry, at))
    return exceptions, problems


def _level(value: Any, at: str, problems: list[str]) -> Enforcement | None:
    if value == "remediate":
        problems.append(f"{at}: remediate is not supported: no rule of this pack remediates (use mandatory)")
        return None
    try:
        return Enforcement(value)
    except ValueError:
        problems.append(f"{at}: must be one of mandatory, advisory, disabled")
        return None


def parse_settings(document: Any, environment: str, rules: Iterable[Rule | StackRule], source: str) -> PackSettings:
    """Settings from a parsed config document; raises SettingsError listing every problem."""
    if environment not in ENVIRONMENT_DEFAULTS:
        raise SettingsError([f"unknown stack environment {environment!r} (prod, staging or dev)"])
    if not isinstance(document, Mapping):
        raise SettingsError([f"{source}: must be a JSON object of policy names to settings"])
    by_id = {rule.id: rule for rule in rules}
    problems: list[str] = []
    default, levels, exceptions = None, {}, []
    for key, value in document.items():
        at = f"{source}: {key}"
        if key == "all":
            if isinstance(value, Mapping):
                extra = sorted(set(value) - {"enforcementLevel"})
                problems.extend(f"{at}.{k}: unknown key (\"all\" takes enforcementLevel only)" for k in extra)
                value = value.get("enforcementLevel")
                at += ".enforcementLevel"
            default = _level(value, at, problems)
            continue
        rule = by_id.get(key)
        if rule is None:
            close = difflib.get_close_matches(key, list(by_id), n=1)
            problems.append(f"{at}: no such rule" + (f" (did you mean {close[0]}?)" if close else ""))
            continue
        if isinstance(value, str):
            levels[key] = _level(value, at, problems)
            continue
        if not isinstance(value, Mapping):
            problems.append(f"{at}: must be an enforcement level or an object with enforcementLevel and exceptions")
            continue
        problems.extend(f"{at}.{k}: unknown key (allowed: enforcementLevel, exceptions)" for k in sorted(set(value) - {"enforcementLevel", "exceptions"}))
        if "enforcementLevel" in value:
            levels[key] = _level(value["enforcementLevel"], f"{at}.enforcementLevel", problems)
        if "exceptions" in value:
            parsed, found = parse_exceptions(rule, value["exceptions"], f"{at}.exceptions")
            exceptions.extend(parsed)
            problems.extend(found)
    seen: dict[tuple[str, str], str] = {}
    for exception in exceptions:
        first = seen.setdefault((exception.rule_id, exception.resource), exception.where)
        if first != exception.where:
            problems.append(f"{exception.where}: duplicates {first.split(': ', 1)[-1]}")
    if problems:
        raise SettingsError(problems)
    return PackSettings(environment, default, {k: v for k, v in levels.items() if v}, tuple(exceptions), source)


def load_settings(path: str | Path, environment: str, rules: Iterable[Rule | StackRule]) -> PackSettings:
    document = read_json(Path(path), lambda message: SettingsError([message]))
    return parse_settings(document, environment, rules, str(path))


def settings_for(environment: str, rules: Iterable[Rule | StackRule], config: str | Path | None = None) -> PackSettings:
    """What a stack environment runs with: `config`, else policy/config/<environment>.json when the pack ships one
    (prod, dev), else the environment's defaults. The checker and the offline plan both start here."""
    if environment not in ENVIRONMENT_DEFAULTS:
        raise SettingsError([f"unknown stack environment {environment!r} (prod, staging or dev)"])
    path = config or CONFIG_DIR / f"{environment}.json"
    if not config and not Path(path).is_file():
        return PackSettings(environment)
    return load_settings(path, environment, rules)
