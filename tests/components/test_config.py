"""The typed stack spec: valid stacks, one test per error class, and a fuzz that never tracebacks."""

from __future__ import annotations

import copy
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import (
    CLASS_POLICY,
    Classification,
    ConfigError,
    check_schedule_expression,
    parse_stack_spec,
)
from tests.conftest import CANARY
from tests.fixtures.refusal import spec_problems

SOURCE = "Pulumi.prod.yaml"


def problems(raw) -> list[str]:
    return spec_problems(raw, SOURCE)


def only_problem(raw) -> str:
    lines = problems(raw)
    assert len(lines) == 1, lines
    return lines[0]


def test_committed_stacks_are_valid(dev_raw, prod_raw):
    dev, prod = parse_stack_spec(dev_raw, "Pulumi.dev.yaml"), parse_stack_spec(prod_raw, SOURCE)
    assert dev.environment.value == "dev" and prod.is_prod
    assert [s.name for s in prod.secrets] == [
        "database", "redis", "jwt", "pii-encryption", "session", "smtp", "resend", "external-apis"
    ]
    assert prod.secret_path(prod.secrets[0]) == "autolytiq/prod/database"
    assert prod.slug == "autolytiq-prod"


def test_classification_defaults(prod_raw, dev_raw):
    prod, dev = parse_stack_spec(prod_raw, SOURCE), parse_stack_spec(dev_raw, SOURCE)
    jwt = next(s for s in prod.secrets if s.name == "jwt")
    redis = next(s for s in prod.secrets if s.name == "redis")
    assert prod.key_name(jwt) == "jwt"  # critical: dedicated key
    assert prod.key_name(redis) == "shared"
    assert prod.recovery_window_days(redis) == 30 and dev.recovery_window_days(redis) == 7
    # A kind without days takes the class cadence.
    prod_raw["secrets"][1]["rotation"] = {"kind": "manual"}
    assert parse_stack_spec(prod_raw, SOURCE).rotation(parse_stack_spec(prod_raw, SOURCE).secrets[1]).days == 90
    assert {c: p.max_rotation_days for c, p in CLASS_POLICY.items()} == {
        Classification.CRITICAL: 365, Classification.HIGH: 90, Classification.MEDIUM: 180, Classification.LOW: None
    }


def test_explicit_values_win(prod_raw):
    prod_raw["secrets"][5]["recovery_window_days"] = 14
    prod_raw["keys"] = [{"name": "billing", "deletion_window_days": 10}]
    prod_raw["secrets"][5]["key"] = "billing"
    spec = parse_stack_spec(prod_raw, SOURCE)
    assert spec.recovery_window_days(spec.secrets[5]) == 14
    assert spec.key_name(spec.secrets[5]) == "billing"


def test_error_line_format(prod_raw):
    prod_raw["secrets"][3]["rotation"]["days"] = 0
    assert only_problem(prod_raw) == (
        "Pulumi.prod.yaml: secrets-platform:secrets[3] (pii-encryption).rotation.days: "
        "input should be greater than or equal to 1 (got 0)"
    )


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda r: r["aws"].update(account_id=123456789012), "secrets-platform:aws.account_id: must be a string (quote it in YAML) (got 123456789012)"),
        (lambda r: r["secrets"][0].update(colour="blue"), "secrets-platform:secrets[0] (database).colour: unknown key"),
        (lambda r: r.pop("tags"), "secrets-platform:tags: required key is missing"),
        (lambda r: r["secrets"][1].update(classification="secret"), "secrets-platform:secrets[1] (redis).classification: must be one of 'critical', 'high', 'medium' or 'low'"),
        (lambda r: r["workloads"][0]["reads"].append("databse"), "secrets-platform:workloads[0] (api).reads[5]: unknown secret 'databse'"),
        (lambda r: r["secrets"].append(copy.deepcopy(r["secrets"][1])), "secrets-platform:secrets[8] (redis).name: duplicate name 'redis' (first at secrets[1])"),
        (lambda r: r["secrets"][1].update(recovery_window_days=0), "secrets-platform:secrets[1] (redis).recovery_window_days: must be at least 7 in prod (got 0)"),
        (lambda r: r["secrets"][1].update(recovery_window_days=3), "secrets-platform:secrets[1] (redis).recovery_window_days: must be 0 (force delete) or between 7 and 30 (got 3)"),
        (lambda r: r["secrets"][1].update(rotation={"kind": "manual", "schedule": "every sunday"}), "secrets-platform:secrets[1] (redis).rotation.schedule: must be rate(N days)"),
        (lambda r: r["secrets"][1].update(rotation={"kind": "manual", "schedule": "cron(0 4 * * * *)"}), "secrets-platform:secrets[1] (redis).rotation.schedule: cron needs `?` in exactly one of"),
        (lambda r: r["secrets"][1].update(path="other prod/redis"), "secrets-platform:secrets[1] (redis).path: may contain only letters, digits and /_+=.@-"),
        (lambda r: r["secrets"][1].update(rotation={"kind": "manual", "days": 120}), "secrets-platform:secrets[1] (redis).rotation.days: classification 'high' allows at most 90 days (got 120)"),
        (lambda r: r["secrets"][1].pop("rotation"), "secrets-platform:secrets[1] (redis).rotation: required for classification 'high'"),
        (lambda r: r["secrets"][1].update(backend="azure"), "secrets-platform:secrets[1] (redis).backend: backend 'azure' needs an azure: section (subscription, vault, AKS issuer)"),
        (lambda r: r["secrets"][1].update(backend="vault"), "secrets-platform:secrets[1] (redis).backend: backend 'vault' needs a vault: section"),
        (lambda r: r["secrets"][1].update(key="nope"), "secrets-platform:secrets[1] (redis).key: unknown key 'nope'"),
        (lambda r: r["secrets"][1].update(replica_regions=["eu-west-1"]), "secrets-platform:secrets[1] (redis).replica_regions[0]: region 'eu-west-1' is not in aws.replica_regions"),
        (lambda r: r["cluster"].update(oidc_provider_arn=r["cluster"]["oidc_provider_arn"].replace("123456789012", "999999999999")), "secrets-platform:cluster.oidc_provider_arn: belongs to account 999999999999"),
        (lambda r: r["workloads"].append(dict(r["workloads"][0], name="api2")), "secrets-platform:workloads[3] (api2).service_account: service account autolytiq/api already belongs to workloads[0]"),
        (lambda r: r["secrets"][1].update(initial_value="config"), "secrets-platform:secrets[1] (redis).initial_value: needs aws.deployer_role_arn"),
        (lambda r: r.update(environment="production"), "secrets-platform:environment: must be one of 'dev', 'staging' or 'prod'"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_each_error_class_names_the_key_path(prod_raw, mutate, expected):
    mutate(prod_raw)
    line = only_problem(prod_raw)
    assert line.startswith(f"{SOURCE}: {expected}"), line


def test_critical_secret_needs_a_dedicated_key(prod_raw):
    prod_raw["keys"] = [{"name": "app"}]
    prod_raw["secrets"][2]["key"] = "app"  # jwt, critical
    prod_raw["secrets"][1]["key"] = "app"  # redis
    assert only_problem(prod_raw).endswith("critical secrets need a dedicated key; 'app' also encrypts redis")


def test_every_problem_is_reported_at_once(prod_raw):
    prod_raw["secrets"][0]["colour"] = "blue"
    prod_raw["secrets"][1]["classification"] = "secret"
    prod_raw["aws"]["region"] = "moon"
    assert len(problems(prod_raw)) == 3


def test_strings_are_never_echoed(prod_raw):
    """A secret pasted into the wrong key must not reach the terminal or CI log."""
    prod_raw["secrets"][0]["password"] = CANARY
    prod_raw["secrets"][1]["classification"] = CANARY
    prod_raw["secrets"][2]["description"] = 42
    prod_raw["aws"]["region"] = CANARY
    lines = problems(prod_raw)
    assert len(lines) == 4
    assert not any(CANARY in line for line in lines)
    assert any("got a string of" in line for line in lines)


@pytest.mark.parametrize("expr", ["rate(30 days)", "rate(1 day)", "rate(12 hours)", "cron(0 4 1 * ? *)", "cron(0 16 ? * SUN *)"])
def test_valid_schedules(expr):
    check_schedule_expression(expr)


@pytest.mark.parametrize("expr", ["rate(0 days)", "rate(2 hours)", "rate(1001 days)", "cron(0 4 1 * * *)", "cron(0 4 1 *)", "30d", ""])
def test_invalid_schedules(expr):
    with pytest.raises(ValueError):
        check_schedule_expression(expr)


# ----- fuzz: arbitrary documents give ConfigError lines or a spec, never anything else -----

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 2000), st.text(string.printable, max_size=12))
_keys = st.sampled_from(
    ["name", "classification", "rotation", "days", "kind", "reads", "writes", "path", "key", "aws", "region",
     "account_id", "secrets", "workloads", "recovery_window_days", "namespace", "service_account", "schedule",
     "replica_regions", "tags", "owner", "cost_centre", "environment", "prefix", "cluster", "backend", "x"]
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=5), max_leaves=20)


def _mutations(base):
    """Documents near the real stack (so validation goes deep), plus wholly random ones."""
    def mutate(doc, path, value):
        doc = copy.deepcopy(doc)
        target = doc
        for step in path[:-1]:
            if isinstance(target, dict) and step in target:
                target = target[step]
            elif isinstance(target, list) and isinstance(step, int) and step < len(target):
                target = target[step]
            else:
                return doc
        if isinstance(target, dict):
            target[path[-1]] = value
        elif isinstance(target, list) and isinstance(path[-1], int) and path[-1] < len(target):
            target[path[-1]] = value
        return doc

    paths = st.lists(st.one_of(_keys, st.integers(0, 8)), min_size=1, max_size=4)
    near = st.builds(mutate, st.just(base), paths, _values)
    return st.one_of(near, st.dictionaries(_keys, _values, max_size=8))


def test_fuzz_never_tracebacks(prod_raw):
    seen = {"spec": 0, "error": 0}

    @settings(max_examples=1200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_mutations(prod_raw))
    def run(document):
        try:
            parse_stack_spec(document, SOURCE)
            seen["spec"] += 1
        except ConfigError as error:
            assert error.lines() and all(line.startswith(f"{SOURCE}: secrets-platform") for line in error.lines())
            seen["error"] += 1

    run()
    assert seen["spec"] + seen["error"] >= 1000
    assert seen["error"] > 0


def test_unknown_synced_secrets_are_reported_not_crashed_on(prod_raw):
    """Regression (found by the fuzz): derived store identities looked up unknown secret names."""
    prod_raw["secrets"] = [prod_raw["secrets"][0]]
    lines = problems(prod_raw)
    assert lines and all("unknown secret" in line for line in lines)
    assert any(line.startswith(f"{SOURCE}: secrets-platform:workloads[1] (worker).reads[1]: unknown secret 'redis'") for line in lines)
