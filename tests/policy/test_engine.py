"""policy/engine.py and policy/settings.py with small synthetic rules: enforcement per environment and per rule,
exceptions (applied, unused, expired, invalid), undecided findings, failing rules, and the committed config files."""

from __future__ import annotations

import json
from datetime import date

import jsonschema
import pytest

from policy.engine import EXCEPTION_EXPIRED, evaluate, logical_name
from policy.rules import ALL_RULES
from documents.props import UNKNOWN_SENTINELS, is_unknown
from policy.rules.base import Finding, Rule, Severity, StackRule
from policy.settings import (
    CONFIG_DIR,
    Enforcement,
    PackSettings,
    SettingsError,
    environment_of,
    exception_schema,
    load_settings,
    parse_settings,
    settings_for,
)

UNKNOWN = next(iter(UNKNOWN_SENTINELS))
TODAY = date(2025, 6, 1)
POLICY = "test:index/policy:Policy"
BINDING = "test:index/binding:Binding"


def urn(name: str, type_: str = POLICY) -> str:
    return f"urn:pulumi:prod::shop::{type_}::{name}"


def resource(name: str, type_: str = POLICY, **props) -> dict:
    return {"type": type_, "urn": urn(name, type_), "name": name, "props": props}


def _wide(rule, r) -> list[Finding]:
    grant = r["props"].get("grant")
    if is_unknown(grant):
        return [rule.undecided(r, "grant")]
    return [rule.finding(r, f"grant {grant!r} is a wildcard")] if grant == "*" else []


def _unbound(rule, resources) -> list[Finding]:
    bound = {r["props"].get("policy") for r in resources if r["type"] == BINDING}
    return [rule.finding(r, "policy is bound to nobody") for r in resources if r["type"] == POLICY and r["name"] not in bound]


def _crash(rule, r) -> list[Finding]:
    raise KeyError(r["props"]["secretString"])  # the error text would quote a secret


WIDE = Rule(id="T-WIDE", name="no-wildcard-grant", description="Grants name resources.", severity=Severity.HIGH, resource_types=(POLICY,), remediation="Name the resource.", frameworks=("SOC2 CC6.1",), check=_wide)
BIND = StackRule(id="T-BIND", name="policy-bound", description="Every policy is bound.", severity=Severity.LOW, resource_types=(POLICY, BINDING), remediation="Bind it or delete it.", frameworks=(), check=_unbound)
CRASH = Rule(id="T-CRASH", name="crashes", description="A rule with a bug.", severity=Severity.MEDIUM, resource_types=(POLICY,), remediation="Fix the rule.", frameworks=(), check=_crash)
RULES = (WIDE, BIND)


def settings(document: dict, environment: str = "prod", rules=RULES) -> PackSettings:
    return parse_settings(document, environment, rules, "test.json")


def exception(resource_: str = "open", reason: str = "SEC-1: vendor needs it", expires: str | None = "2025-12-31") -> dict:
    entry = {"resource": resource_, "reason": reason}
    return entry | ({"expires": expires} if expires else {})


# --- enforcement --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("environment", "level", "blocking"), [("prod", "mandatory", True), ("staging", "advisory", False), ("dev", "advisory", False)])
def test_the_environment_sets_the_default_level(environment, level, blocking):
    report = evaluate([resource("open", grant="*")], settings({}, environment), RULES, TODAY)
    assert {(v.rule_id, v.enforcement.value) for v in report.violations} == {("T-WIDE", level), ("T-BIND", level)}
    assert report.blocking is blocking


def test_all_overrides_the_environment_and_a_rule_overrides_all():
    doc = {"all": "advisory", "T-WIDE": {"enforcementLevel": "mandatory"}, "T-BIND": "disabled"}
    report = evaluate([resource("open", grant="*")], settings(doc, "prod"), RULES, TODAY)
    assert [(v.rule_id, v.enforcement) for v in report.violations] == [("T-WIDE", Enforcement.MANDATORY)]
    assert report.blocking
    assert [r.id for r in report.rules] == ["T-WIDE"]  # a disabled rule is not evaluated


def test_all_may_be_an_object_and_dev_can_be_made_strict():
    report = evaluate([resource("open", grant="*")], settings({"all": {"enforcementLevel": "mandatory"}}, "dev"), RULES, TODAY)
    assert report.blocking and {v.enforcement for v in report.violations} == {Enforcement.MANDATORY}


def test_compliant_resources_report_nothing_and_counts_add_up():
    report = evaluate([resource("tight", grant="arn:x"), resource("b", BINDING, policy="tight")], settings({}), RULES, TODAY)
    assert report.violations == () and not report.blocking
    assert report.counts == {"resources": 2, "rules": 2, "mandatory": 0, "advisory": 0, "undecided": 0, "suppressed": 0,
                             "exceptions": 0, "expiredExceptions": 0}


@pytest.mark.parametrize(("stack", "environment"), [
    ("prod", "prod"), ("acme/phagen-prod", "prod"), ("emr-production", "prod"), ("staging", "staging"), ("shop-stage", "staging"),
    ("dev", "dev"), ("producer", "dev"), ("feature-x", "dev"),
])
def test_environment_of_a_stack_name(stack, environment):
    assert environment_of(stack) == environment


# --- undecided and failing rules ----------------------------------------------------------------------------

def test_undecided_findings_are_reported_as_advisory_never_dropped():
    """Unknown at preview: reported, not blocking; `pulumi up` decides with the real value."""
    report = evaluate([resource("pending", grant=UNKNOWN), resource("b", BINDING, policy="pending")], settings({}), RULES, TODAY)
    (violation,) = report.violations
    assert violation.undecided and violation.enforcement is Enforcement.ADVISORY and not report.blocking
    assert report.counts["undecided"] == 1
    decided = evaluate([resource("pending", grant="*"), resource("b", BINDING, policy="pending")], settings({}), RULES, TODAY)
    assert decided.blocking  # the same rule with the value known blocks


def test_a_rule_that_fails_is_an_undecided_violation_without_its_error_text():
    canary = "canary-in-secret-string"
    report = evaluate([resource("s", secretString=canary)], settings({}), (CRASH,), TODAY)
    (violation,) = report.violations
    assert violation.undecided and violation.enforcement is Enforcement.MANDATORY
    assert "KeyError" in violation.message and canary not in violation.message


# --- exceptions ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["open", urn("open")])
def test_an_exception_by_name_or_urn_suppresses_that_resource_only(target):
    doc = {"T-WIDE": {"exceptions": [exception(target)]}}
    report = evaluate([resource("open", grant="*"), resource("other", grant="*")], settings(doc), (WIDE,), TODAY)
    assert [v.resource_name for v in report.violations] == ["other"]
    assert [(v.resource_name, v.suppressed_by.reason) for v in report.suppressed] == [("open", "SEC-1: vendor needs it")]
    (use,) = report.exceptions
    assert (use.status, use.suppressed, use.exception.expires) == ("applied", 1, date(2025, 12, 31))


def test_an_exception_is_for_its_rule_only():
    doc = {"T-WIDE": {"exceptions": [exception("open")]}}
    report = evaluate([resource("open", grant="*")], settings(doc), RULES, TODAY)
    assert [v.rule_id for v in report.violations] == ["T-BIND"]


def test_every_exception_in_force_is_listed_applied_or_not():
    doc = {"T-WIDE": {"exceptions": [exception("open"), exception("gone")]}, "T-BIND": {"enforcementLevel": "disabled", "exceptions": [exception("open")]}}
    report = evaluate([resource("open", grant="*")], settings(doc), RULES, TODAY)
    assert [(u.exception.rule_id, u.exception.resource, u.status) for u in report.exceptions] == [
        ("T-WIDE", "open", "applied"), ("T-WIDE", "gone", "unused"), ("T-BIND", "open", "rule disabled")]
    assert report.violations == ()


def test_an_exception_holds_through_its_expiry_date():
    doc = {"T-WIDE": {"exceptions": [exception("open", expires="2025-06-01")]}}
    report = evaluate([resource("open", grant="*")], settings(doc), (WIDE,), TODAY)
    assert report.violations == () and report.exceptions[0].status == "applied"


def test_an_expired_exception_suppresses_nothing_and_is_a_violation_at_the_rules_level():
    doc = {"all": "advisory", "T-WIDE": {"enforcementLevel": "mandatory", "exceptions": [exception("open", expires="2025-05-31")]}}
    report = evaluate([resource("open", grant="*")], settings(doc), (WIDE,), TODAY)
    assert report.suppressed == ()
    assert [(v.rule_id, v.resource_name, v.enforcement) for v in report.violations] == [
        (EXCEPTION_EXPIRED.id, "open", Enforcement.MANDATORY), ("T-WIDE", "open", Enforcement.MANDATORY)]
    expired = report.violations[0]
    assert "expired on 2025-05-31" in expired.message and "test.json: T-WIDE.exceptions[0]" in expired.message
    assert report.exceptions[0].status == "expired" and report.counts["expiredExceptions"] == 1
    assert EXCEPTION_EXPIRED in report.rules


def test_an_expired_exception_for_a_resource_not_planned():
    doc = {"T-WIDE": {"exceptions": [exception("gone", expires="2025-01-01")]}}
    whole = evaluate([resource("tight", grant="arn:x")], settings(doc), (WIDE,), TODAY)
    assert [(v.rule_id, v.urn) for v in whole.violations] == [(EXCEPTION_EXPIRED.id, "gone")]
    # CrossGuard's per-resource policies see one resource at a time: there it is reported on the resource it names.
    one = evaluate([resource("tight", grant="arn:x")], settings(doc), (WIDE,), TODAY, whole_stack=False)
    assert one.violations == () and one.exceptions[0].status == "expired"


def test_an_expired_exception_of_a_disabled_rule_is_only_listed():
    doc = {"T-WIDE": {"enforcementLevel": "disabled", "exceptions": [exception("open", expires="2025-01-01")]}}
    report = evaluate([resource("open", grant="*")], settings(doc), (WIDE,), TODAY)
    assert report.violations == () and report.exceptions[0].status == "rule disabled"


# --- config problems ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("entry", "problem"), [
    ({"resource": "open", "expires": "2025-12-31"}, "test.json: T-WIDE.exceptions[0].reason: required"),
    (exception(reason="   "), "test.json: T-WIDE.exceptions[0].reason: required"),
    (exception(resource_="api-*"), "test.json: T-WIDE.exceptions[0].resource: must name one resource exactly"),
    (exception(resource_=""), "test.json: T-WIDE.exceptions[0].resource: required"),
    (exception(expires=None), "test.json: T-WIDE.exceptions[0].expires: required for high rules"),
    (exception(expires="31/12/2025"), "test.json: T-WIDE.exceptions[0].expires: must be an ISO date YYYY-MM-DD"),
    (exception(expires="2025-02-30"), "test.json: T-WIDE.exceptions[0].expires: 2025-02-30 is not a calendar date"),
    (exception() | {"owner": "me"}, "test.json: T-WIDE.exceptions[0].owner: unknown key"),
    ("open", "test.json: T-WIDE.exceptions[0]: must be an object"),
])
def test_an_invalid_exception_is_an_error_naming_the_entry(entry, problem):
    with pytest.raises(SettingsError) as error:
        settings({"T-WIDE": {"exceptions": [entry]}})
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems


def test_expiry_is_optional_on_low_and_medium_rules():
    (use,) = settings({"T-BIND": {"exceptions": [exception(expires=None)]}}).exceptions
    assert use.expires is None and not use.expired(date(2999, 1, 1))


@pytest.mark.parametrize(("document", "problem"), [
    ({"T-WDE": "mandatory"}, "test.json: T-WDE: no such rule (did you mean T-WIDE?)"),
    ({"T-WIDE": "strict"}, "test.json: T-WIDE: must be one of mandatory, advisory, disabled"),
    ({"T-WIDE": "remediate"}, "test.json: T-WIDE: remediate is not supported"),
    ({"all": {"enforcementLevel": "mandatory", "exceptions": []}}, "test.json: all.exceptions: unknown key"),
    ({"T-WIDE": {"level": "advisory"}}, "test.json: T-WIDE.level: unknown key"),
    ({"T-WIDE": {"exceptions": {"resource": "open"}}}, "test.json: T-WIDE.exceptions: must be a list"),
    ({"T-WIDE": {"exceptions": [exception(), exception(reason="again")]}}, "test.json: T-WIDE.exceptions[1]: duplicates T-WIDE.exceptions[0]"),
    ([], "test.json: must be a JSON object"),
])
def test_config_errors_name_the_file_and_key_path(document, problem):
    with pytest.raises(SettingsError) as error:
        settings(document)
    assert any(p.startswith(problem) for p in error.value.problems), error.value.problems


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError) as error:
        settings({"T-WIDE": {"exceptions": [{"resource": "a"}, {"resource": "b", "reason": "x"}]}, "T-NOPE": "advisory"})
    assert len(error.value.problems) == 4  # a reason and two expiries missing, one unknown rule


@pytest.mark.parametrize(("text", "problem"), [
    (None, "not found"), ("{", "not valid JSON (line 1 column 2"), ('{"all": "mandatory",}', "not valid JSON"),
])
def test_load_settings_reports_unreadable_files(tmp_path, text, problem):
    path = tmp_path / "prod.json"
    if text is not None:
        path.write_text(text)
    with pytest.raises(SettingsError) as error:
        load_settings(path, "prod", RULES)
    assert error.value.problems == [f"{path}: {problem}"] or error.value.problems[0].startswith(f"{path}: {problem}")


# --- the committed config files -----------------------------------------------------------------------------

@pytest.mark.parametrize(("environment", "level"), [("prod", Enforcement.MANDATORY), ("dev", Enforcement.ADVISORY)])
def test_committed_configs_load_with_every_rule(environment, level):
    loaded = load_settings(CONFIG_DIR / f"{environment}.json", environment, ALL_RULES)
    assert {loaded.level(rule.id) for rule in ALL_RULES} == {level}


def test_configs_and_the_schema_pulumi_validates_agree():
    """What `pulumi preview --policy-pack-config` accepts (the JSON Schema each policy declares) is what the loader accepts."""
    by_id = {rule.id: rule for rule in ALL_RULES}
    for environment in ("prod", "dev"):
        document = json.loads((CONFIG_DIR / f"{environment}.json").read_text())
        for key, value in document.items():
            if isinstance(value, dict) and "exceptions" in value:
                jsonschema.validate(value["exceptions"], exception_schema(by_id[key]))
    schema = exception_schema(WIDE)
    jsonschema.validate([exception()], schema)
    for bad in ({"resource": "open", "expires": "2025-12-31"}, exception(reason=" "), exception(resource_="api-*"), exception(expires=None),
                exception() | {"owner": "me"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate([bad], schema)
        with pytest.raises(SettingsError):
            settings({"T-WIDE": {"exceptions": [bad]}})
    jsonschema.validate([exception(expires=None)], exception_schema(BIND))


def test_logical_name_is_the_last_urn_segment():
    assert logical_name("urn:pulumi:prod::shop::aws:iam/role:Role$aws:iam/rolePolicy:RolePolicy::api-read") == "api-read"


def test_settings_for_an_environment(tmp_path):
    assert settings_for("staging", RULES) == PackSettings("staging")  # no policy/config/staging.json: defaults
    assert settings_for("dev", ALL_RULES).source.endswith("policy/config/dev.json")
    with pytest.raises(SettingsError, match="not found"):
        settings_for("dev", RULES, tmp_path / "missing.json")
    with pytest.raises(SettingsError, match="unknown stack environment 'production'"):
        settings_for("production", RULES)
