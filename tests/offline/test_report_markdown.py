"""The plan's reports for people: the Markdown report and comment, the rotation calendar and the compliance
view, built from real offline plans of our stacks and checked against independently computed facts."""

from __future__ import annotations

import calendar
import dataclasses
import json
import shutil
import subprocess
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from offline.access import access_matrix, diff
from offline.access.cli import load
from offline.access.model import EFFECTIVE
from offline.markdown import GITHUB_COMMENT_LIMIT, comment_markdown, fit, plan_markdown
from offline.report import PlanReport, component_children
from offline.run import PROJECT_DIR, plan_stack
from offline.schedule import cron_times, parse_reference, rotation_calendar, schedule_times
from policy import report as policy_report
from policy.report import md
from policy.engine import evaluate
from policy.rules import ALL_RULES
from policy.settings import PolicyException, settings_for
from tests.conftest import CANARY

NOW = parse_reference("2025-01-15")
EMR = "examples/emr/Pulumi.emr-prod.yaml"
PHAGEN = "examples/phagen/Pulumi.phagen-prod.yaml"
# Seed 000's over-broad grant, as tests/offline/test_plan_policy.py writes it.
SEED_000_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": ["arn:aws:secretsmanager:us-east-1:*:secret:prod/*"]},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "arn:aws:kms:us-east-1:*:key/*"},
    ],
}


def build(stack: str, settings=None, extra_policy_resources=(), base=None) -> PlanReport:
    plan = plan_stack(stack)
    spec = plan.spec
    settings = settings or settings_for(plan.environment, ALL_RULES)
    policy = evaluate([*plan.policy_resources(), *extra_policy_resources], settings, today=NOW.date())
    matrix = access_matrix(plan.resources, plan.stack)
    return PlanReport(plan, spec, policy, policy_report.compliance(policy, ALL_RULES), matrix,
                      rotation_calendar(spec, NOW), NOW, diff(base, matrix) if base is not None else None)


@pytest.fixture(scope="module", params=["dev", "prod", EMR])
def report(request) -> PlanReport:
    return build(request.param)


# --- the Markdown report --------------------------------------------------------------------------------------

def test_report_has_every_section_secret_and_matrix_row(report):
    text = plan_markdown(report)
    for heading in ("### Summary", "### Resources by component", "### Policy results", "#### Exceptions in force",
                    "### Compliance", "### Access matrix", "### Rotation calendar"):
        assert heading in text
    for secret in report.spec.secrets:
        assert f"**{secret.name}**<br>`{report.spec.secret_path(secret)}`" in text
    # Every row of every workload (service account) and identity, with the secret it reaches.
    lines = text.splitlines()
    for entry in report.matrix.entries:
        principal, secret = report.matrix.principals[entry.principal], report.matrix.secrets[entry.secret]
        assert any(f"`{principal.id}`" in line and f"`{secret.name}" in line and f"| {entry.capability} | {entry.status} |" in line
                   for line in lines), (principal.id, secret.name, entry.capability)
    workloads = {p for p in report.matrix.rows() if report.matrix.principals[p].kind == "service-account"}
    assert workloads  # the test would pass vacuously otherwise


def test_critical_and_high_access_is_marked(report):
    text = plan_markdown(report)
    for entry in report.matrix.entries:
        secret = report.matrix.secrets[entry.secret]
        principal = report.matrix.principals[entry.principal]
        line = next(line for line in text.splitlines() if f"`{principal.id}`" in line and f"`{secret.name}`" in line
                    and f"| {entry.capability} | {entry.status} |" in line)
        marked = secret.sensitive and entry.status == EFFECTIVE
        assert line.startswith("| ⚠ |") is marked, line
        assert (f"**{secret.classification}**" in line) is secret.sensitive


def test_components_are_counted_by_type(report):
    tree = component_children(report.plan)
    assert {c.type for _, c, _ in tree} >= {"secrets-platform:aws:ManagedSecret"}
    for _, component, counts in tree:
        own = [r.type for r in report.plan.resources if r.parent == component.urn and r.custom and not r.type.startswith("pulumi:providers:")]
        assert sum(counts.values()) == len(own)
    secrets = sum(counts.get("aws:secretsmanager/secret:Secret", 0) for _, _, counts in tree)
    assert secrets == sum(r.type == "aws:secretsmanager/secret:Secret" for r in report.plan.resources)
    text = plan_markdown(report)
    assert "1 × `aws:secretsmanager/secret:Secret`" in text


# --- the rotation calendar ------------------------------------------------------------------------------------

def test_rate_and_manual_rotations_follow_the_reference_date():
    r = build("prod")
    by_name = {e.secret: e for e in r.rotations}
    assert set(by_name) == {s.name for s in r.spec.secrets}
    # database: postgres-single every 30 days, 4h window: due 30 and 60 days after the reference, and 90.
    database = by_name["database"]
    assert database.cadence == "rate(30 days)" and database.window == "4h from 00:00 UTC"
    assert database.next == tuple((date(2025, 1, 15) + timedelta(days=30 * k)).isoformat() for k in (1, 2, 3))
    assert database.next == ("2025-02-14", "2025-03-16", "2025-04-15")
    # jwt: generic every 90 days: exactly on the horizon's last day.
    assert by_name["jwt"].next == ("2025-04-15",) and by_name["jwt"].due_in_horizon == 1
    # Manual: due by a date, no schedule evaluated.
    assert by_name["pii-encryption"].cadence == "every 365 days, manual"
    assert by_name["pii-encryption"].next == ("due by 2026-01-15",) and by_name["pii-encryption"].due_in_horizon == 0
    assert by_name["resend"].next == ("due by 2025-04-15",) and by_name["resend"].due_in_horizon == 1
    text = plan_markdown(r)
    assert "| 2025-02-14, 2025-03-16, 2025-04-15 |" in text


def _first_weekday(year: int, month: int, weekday: int) -> date:
    """Independent of the evaluator: the first `weekday` (Monday 0) of a month, from the calendar module."""
    return next(date(year, month, d) for d in range(1, 8) if date(year, month, d).weekday() == weekday)


def test_cron_first_sunday_matches_the_calendar():
    times = cron_times("cron(0 3 ? * SUN#1 *)", NOW, NOW + timedelta(days=365))
    expected = [datetime.combine(_first_weekday(y, m, calendar.SUNDAY), datetime.min.time().replace(hour=3), timezone.utc)
                for y, m in [(2025, m) for m in range(2, 13)] + [(2026, 1)]]
    assert times == expected


@pytest.mark.parametrize("expression, check", [
    ("cron(0 4 L * ? *)", lambda d: d.day == calendar.monthrange(d.year, d.month)[1]),
    ("cron(30 2 ? * MON-FRI *)", lambda d: d.weekday() < 5),
    ("cron(0 0 1,15 JAN,JUL ? *)", lambda d: d.month in (1, 7) and d.day in (1, 15)),
    ("cron(0 6 ? * 6L *)", lambda d: d.weekday() == calendar.FRIDAY and d.day + 7 > calendar.monthrange(d.year, d.month)[1]),
])
def test_cron_days_match_a_brute_force_reading(expression, check):
    start, end = NOW, NOW + timedelta(days=400)
    times = cron_times(expression, start, end)
    days = [start.date() + timedelta(days=i) for i in range((end - start).days + 1)]
    fields = expression[5:-1].split()
    hour, minute = int(fields[1]), int(fields[0])
    expected = [datetime(d.year, d.month, d.day, hour, minute, tzinfo=timezone.utc) for d in days if check(d)]
    assert times == [t for t in expected if start <= t < end]


def test_nearest_weekday_never_leaves_the_month():
    days = [t.date() for t in cron_times("cron(0 4 1W * ? *)", parse_reference("2025-01-01"), parse_reference("2026-01-01"))]
    # 2025-02-01 and 2025-03-01 are Saturdays: the nearest weekday in the month is Monday the 3rd.
    assert date(2025, 2, 3) in days and date(2025, 3, 3) in days and all(d.weekday() < 5 for d in days)
    assert len(days) == 12


def test_rate_in_hours_and_the_phagen_cron_schedule():
    assert schedule_times("rate(12 hours)", NOW, 1) == [NOW + timedelta(hours=12 * k) for k in (1, 2, 3)]
    r = build(PHAGEN)
    cron = [e for e in r.rotations if e.cadence == "cron(0 3 ? * SUN#1 *)"]
    assert cron, "phagen declares a first-Sunday cron schedule"
    for entry in cron:
        assert entry.next == ("2025-02-02 03:00", "2025-03-02 03:00", "2025-04-06 03:00")
        assert entry.window.endswith("from the scheduled time")


def test_calendar_is_generic_over_backends():
    """A secret of any backend appears: the calendar reads only the spec (emr has Vault secrets)."""
    r = build(EMR)
    assert {e.backend for e in r.rotations} >= {"aws", "vault"}
    epic = next(e for e in r.rotations if e.secret == "epic")
    assert epic.backend == "vault" and epic.cadence == "every 90 days, manual"


# --- the compliance view --------------------------------------------------------------------------------------

def _grant(name: str) -> dict:
    return {"type": "aws:iam/rolePolicy:RolePolicy", "urn": f"urn:pulumi:prod::secrets-platform::aws:iam/rolePolicy:RolePolicy::{name}",
            "name": name, "props": {"role": "legacy-app", "policy": json.dumps(SEED_000_POLICY)}}


def _control(r: PlanReport, control: str):
    return next(c for c in r.controls if c.control == control)


def test_compliance_changes_with_a_violation_and_an_exception():
    clean = build("prod")
    assert {c.status for c in clean.controls} <= {"pass", "not applicable"}
    # The AWS-only prod stack records its audit in the trail it creates: 164.312(b) passes from the trail rule alone;
    # the Vault, Azure and GCP audit rules had nothing to look at and stay not applicable, never "pass" (#15).
    audit = _control(clean, "HIPAA 164.312(b)")
    assert audit.status == "pass"
    assert {r.rule_id for r in audit.rules if r.status == "pass"} == {"SP-AUDIT-004"}
    assert {c.control for c in clean.controls} >= {"HIPAA 164.312(a)(1)", "HIPAA 164.312(b)", "SOC2 CC6.1", "SOC2 CC6.3", "SOC2 CC6.6"}

    broken = build("prod", extra_policy_resources=[_grant("hand-written")])
    access = _control(broken, "SOC2 CC6.1")
    assert access.status == "fail"
    iam6 = next(r for r in access.rules if r.rule_id == "SP-IAM-006")
    assert iam6.status == "fail" and iam6.violations >= 1
    text = policy_report.compliance_markdown(broken.controls)
    row = next(line for line in text.splitlines() if line.startswith("| SOC2 CC6.1"))
    assert "| **fail** |" in row and f"SP-IAM-006 fail ({iam6.violations})" in row
    # A control that SP-IAM-006 does not enforce keeps its status.
    assert _control(broken, "HIPAA 164.312(b)").status == "pass"

    base = settings_for("prod", ALL_RULES)
    excepted_rules = {v.rule_id for v in broken.policy.violations}
    exceptions = tuple(PolicyException(rule, "hand-written", "legacy app, migration ticket SEC-1", date(2025, 6, 30), "test")
                       for rule in excepted_rules)
    excepted = build("prod", settings=dataclasses.replace(base, exceptions=exceptions), extra_policy_resources=[_grant("hand-written")])
    assert excepted.policy.violations == ()
    assert _control(excepted, "SOC2 CC6.1").status == "excepted"
    assert next(r for r in _control(excepted, "SOC2 CC6.1").rules if r.rule_id == "SP-IAM-006").suppressed == iam6.violations
    full = plan_markdown(excepted)
    assert "legacy app, migration ticket SEC-1" in full and "2025-06-30" in full  # exceptions with reason and expiry


def test_disabled_rules_are_shown_not_passed():
    base = settings_for("prod", ALL_RULES)
    from policy.settings import Enforcement

    r = build("prod", settings=dataclasses.replace(base, levels={**base.levels, "SP-IAM-006": Enforcement.DISABLED}))
    rule = next(x for x in _control(r, "SOC2 CC6.1").rules if x.rule_id == "SP-IAM-006")
    assert rule.status == "disabled"


# --- the comment, limits and safety ----------------------------------------------------------------------------

def test_comment_groups_access_changes_per_principal_and_names_the_base(tmp_path):
    prod = plan_stack("prod")
    # The base branch before the api workload's policy: the pull request grants it (one change of config).
    base_file = tmp_path / "main-branch.json"
    base_file.write_text(json.dumps(access_matrix([r for r in prod.resources if not r.parent.endswith("SecretAccessPolicy::api")], "prod").to_json()))
    r = build("prod", base=load(str(base_file)))
    assert r.change is not None and r.change.highlighted
    text = comment_markdown(r)
    assert "### Access changes: prod → prod" in text and "⚠" in text
    assert "### Compliance" in text and "### Policy results" in text and "### Rotation calendar" in text
    assert len(text) <= GITHUB_COMMENT_LIMIT
    # The base is named: which file (and stack) the head was compared with.
    assert f"Base: {md(str(base_file))} (stack prod); head: prod" in text
    section = text[text.index("### Access changes"):text.index("### Policy results")]
    table, folded = section.split("<details>", 1)
    # One row per principal with its counts; more than one change per principal, so fewer rows than changes.
    groups: dict[str, list] = {}
    for c in r.change.gained:
        groups.setdefault(c.entry.principal, []).append(c)
    assert len(groups) < len(r.change.gained)
    assert f"#### Gained ({len(r.change.gained)} access path(s), {len(groups)} principal(s))" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "`" in line]
    assert len(rows) == len(groups)
    for principal, changes in groups.items():
        row = next(line for line in rows if f"`{principal}`" in line)
        reads = len({c.entry.secret for c in changes if c.entry.capability == "read"})
        assert f"{reads} read" in row and row.endswith(f"| {sum(c.highlighted for c in changes)} |")
        assert row.startswith("| ⚠ |") == any(c.highlighted for c in changes)
    # The chains are folded: none in the table above the <details>, each one inside them.
    chains = {md(" → ".join(c.entry.chains[0])) for c in r.change.gained}
    assert not any(chain in table for chain in chains)
    assert all(chain in folded for chain in chains)
    assert section.count("<details>") == section.count("</details>") == len(groups)


def test_truncation_stays_under_the_limit_and_points_at_the_full_report(report):
    full = plan_markdown(report)
    limit = 4_000
    assert len(full) > limit
    cut = fit(full, limit, "the plan-report artifact")
    assert len(cut) <= limit
    assert "**Truncated**" in cut and "the plan-report artifact" in cut
    assert cut.count("<details>") == cut.count("</details>")
    assert full.startswith(cut[: cut.index("\n\n> **Truncated**")])
    assert fit(full, len(full)) == full
    assert len(comment_markdown(report, limit=limit)) <= limit


def test_cells_are_escaped():
    from offline.access.render import code
    from policy.report import md

    assert md("a|b *c* <b>") == "a\\|b \\*c\\* \\<b\\>"
    assert code("x|y") == "`x\\|y`" and code("a`b") == "`` a`b ``"


# --- end to end -------------------------------------------------------------------------------------------------

HAND_WRITTEN = f'''
import json
import pulumi_aws as aws
aws.iam.RolePolicy("hand-written", role="legacy-app", policy=json.dumps({json.dumps(SEED_000_POLICY)}))
aws.secretsmanager.SecretVersion("legacy-value", secret_id="prod/legacy", secret_string={json.dumps(CANARY)})
'''


def test_cli_writes_reports_without_the_secret_value(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(PROJECT_DIR, project, ignore=shutil.ignore_patterns(".venv", ".git", ".tools", ".build", "__pycache__", ".hypothesis", ".pytest_cache"))
    with open(project / "__main__.py", "a") as main:
        main.write(HAND_WRITTEN)
    base = tmp_path / "base.json"
    clean = subprocess.run([sys.executable, "-m", "offline", "plan", "dev", "--json", str(base)], cwd=PROJECT_DIR,
                           capture_output=True, text=True, timeout=300)
    assert clean.returncode == 0, clean.stderr
    files = {name: tmp_path / name for name in ("plan.json", "report.md", "comment.md")}
    result = subprocess.run(
        [sys.executable, "-m", "offline", "plan", "dev", "--now", "2025-01-15", "--base", str(base), "--json", str(files["plan.json"]),
         "--markdown", str(files["report.md"]), "--comment", str(files["comment.md"]), "--comment-limit", "30000"],
        cwd=project, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr  # dev: advisory
    outputs = [result.stdout, result.stderr, *(f.read_text() for f in files.values())]
    for output in outputs:
        assert CANARY not in output
    report, comment = files["report.md"].read_text(), files["comment.md"].read_text()
    assert "SP-IAM-006" in report and "SP-IAM-006" in comment and "SP-IAM-006" in result.stdout
    assert "| **fail** |" in comment
    assert len(comment) <= 30000
    assert "Access matrix summary: dev" in result.stdout and "Compliance" in result.stdout
    document = json.loads(files["plan.json"].read_text())
    assert document["reference"].startswith("2025-01-15")
    assert any(c["status"] == "fail" for c in document["compliance"])
    assert {e["secret"] for e in document["rotation"]} == {s["name"] for s in document["secrets"]}
    assert document["access"]["kind"] == "secrets-platform/access-matrix" and document["accessDiff"]["kind"] == "secrets-platform/access-diff"


def test_bad_now_exits_2():
    result = subprocess.run([sys.executable, "-m", "offline", "plan", "dev", "--now", "yesterday"], cwd=PROJECT_DIR,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "--now" in result.stderr and result.stdout == ""
