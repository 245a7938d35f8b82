"""The CrossGuard wiring of policy/__main__.py without a Pulumi engine: the policies list, validate callbacks with
fake args, pulumi_policy's own analyzer servicer fed engine-shaped requests (unknowns, config, exceptions), and
the pack launched the way the engine launches it, answering over gRPC."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta

import grpc
import pytest
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.policy import PolicyResource, _PolicyAnalyzerServicer
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from offline.run import PROJECT_DIR
from policy.__main__ import PACK_NAME, build_policies, main, plain
from policy.rules import ALL_RULES
from documents.props import is_unknown
from policy.rules.base import Finding, Rule, Severity, StackRule
from tests.conftest import CANARY

UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"  # how the engine sends an unknown string
POLICY = "test:index/policy:Policy"
BINDING = "test:index/binding:Binding"
FUTURE = (date.today() + timedelta(days=30)).isoformat()
PAST = (date.today() - timedelta(days=1)).isoformat()


def _grant(rule, resource) -> list[Finding]:
    grant = resource["props"].get("spec", {}).get("grant")
    if is_unknown(grant):
        return [rule.undecided(resource, "spec.grant")]
    return [rule.finding(resource, "spec.grant is a wildcard")] if grant == "*" else []


def _bound(rule, resources) -> list[Finding]:
    bound = {r["props"].get("policy") for r in resources if r["type"] == BINDING}
    return [rule.finding(r, "policy is bound to nobody") for r in resources if r["type"] == POLICY and r["name"] not in bound]


GRANT = Rule(id="T-GRANT", name="no-wildcard-grant", description="Grants name one resource.", severity=Severity.HIGH, resource_types=(POLICY,), remediation="Name the resource.", frameworks=("SOC2 CC6.1",), check=_grant)
BOUND = StackRule(id="T-BOUND", name="policy-bound", description="Every policy is bound.", severity=Severity.LOW, resource_types=(POLICY, BINDING), remediation="Bind or delete it.", frameworks=(), check=_bound)


def urn(name: str, type_: str = POLICY) -> str:
    return f"urn:pulumi:prod::shop::{type_}::{name}"


def engine_props(props: dict):
    """Props as a validate callback receives them from the SDK."""
    return unknown_checking_proxy(deserialize_properties(props))


def resource_args(name: str, props: dict, config: dict | None = None, type_: str = POLICY) -> ResourceValidationArgs:
    return ResourceValidationArgs(type_, engine_props(props), urn(name, type_), name, None, None, config)


class Collector:
    def __init__(self):
        self.reported: list[tuple[str, str | None]] = []

    def __call__(self, message: str, urn: str | None = None) -> None:
        self.reported.append((message, urn))


# --- the policies list --------------------------------------------------------------------------------------

def test_every_rule_becomes_one_policy_named_by_its_id():
    policies = build_policies()
    assert [p.name for p in policies] == [r.id for r in ALL_RULES]
    assert len({p.name for p in policies}) == len(policies)  # ids are the config keys
    for policy, rule in zip(policies, ALL_RULES, strict=True):
        assert isinstance(policy, StackValidationPolicy if isinstance(rule, StackRule) else ResourceValidationPolicy)
        assert (policy.description, policy.display_name, policy.remediation_steps) == (rule.description, rule.name, rule.remediation)
        assert policy.severity.value == rule.severity.value and policy.tags == list(rule.frameworks)
        # the config, else the stack environment's default, decides; an advisory-only rule never blocks
        assert policy.enforcement_level == (EnforcementLevel.ADVISORY if rule.advisory_only else None)
        assert set(policy.config_schema.properties) == {"exceptions"}


# --- validate callbacks with fake args ----------------------------------------------------------------------

def test_a_resource_policy_reports_through_the_engine():
    (policy,) = build_policies([GRANT])
    report = Collector()
    policy.validate(resource_args("open", {"spec": {"grant": "*"}}), report)
    policy.validate(resource_args("tight", {"spec": {"grant": "arn:x"}}), report)
    assert report.reported == [("[T-GRANT no-wildcard-grant] spec.grant is a wildcard\nFix: Name the resource.", urn("open"))]


def test_pulumi_policy_raises_on_unknowns_and_our_policies_decide_instead():
    """How pulumi_policy treats unknowns: its proxy raises UnknownValueError when a callback reads one; `plain`
    unwraps the proxy so the value arrives as its sentinel and the rule reports an undecided finding."""
    props = engine_props({"spec": {"grant": UNKNOWN, "list": [UNKNOWN]}})
    with pytest.raises(UnknownValueError) as raised:
        props["spec"]["grant"]
    assert raised.value.message == "string value at .spec.grant can't be known during preview"
    assert plain(props) == {"spec": {"grant": UNKNOWN, "list": [UNKNOWN]}}
    (policy,) = build_policies([GRANT])
    report = Collector()
    policy.validate(resource_args("pending", {"spec": {"grant": UNKNOWN}}), report)
    assert report.reported == [("[T-GRANT no-wildcard-grant] undecided (a value is unknown at preview): could not decide: "
                                "spec.grant is unknown at preview\nFix: Name the resource.", urn("pending"))]


def test_exceptions_come_from_the_policys_config():
    (policy,) = build_policies([GRANT])
    config = {"exceptions": [{"resource": "open", "reason": "SEC-1: vendor", "expires": FUTURE},
                             {"resource": urn("lapsed"), "reason": "SEC-2: old", "expires": PAST}]}
    report = Collector()
    for name in ("open", "lapsed", "other"):
        policy.validate(resource_args(name, {"spec": {"grant": "*"}}, config), report)
    assert [m.split("\n")[0] for m, _ in report.reported] == [
        f"[SP-EXC-001 exception-expired] the exception to T-GRANT for {urn('lapsed')} expired on {PAST} "
        "(policy pack config: T-GRANT.exceptions[1]): it no longer suppresses findings",
        "[T-GRANT no-wildcard-grant] spec.grant is a wildcard",  # lapsed
        "[T-GRANT no-wildcard-grant] spec.grant is a wildcard"]  # other; open is excepted


def test_an_impossible_exception_date_fails_the_policy_loudly():
    (policy,) = build_policies([GRANT])
    config = {"exceptions": [{"resource": "open", "reason": "x", "expires": "2025-02-30"}]}
    with pytest.raises(Exception, match=r"T-GRANT.exceptions\[0\].expires: 2025-02-30 is not a calendar date"):
        policy.validate(resource_args("open", {"spec": {"grant": "*"}}, config), Collector())


def test_a_stack_policy_reports_on_the_resources_urn():
    (policy,) = build_policies([BOUND])
    resources = [PolicyResource(POLICY, engine_props({"spec": {}}), urn(n), n, None, None, None, [], {}) for n in ("lonely", "used")]
    resources.append(PolicyResource(BINDING, engine_props({"policy": "used"}), urn("b", BINDING), "b", None, None, None, [], {}))
    report = Collector()
    policy.validate(StackValidationArgs(resources, {}), report)
    assert report.reported == [("[T-BOUND policy-bound] policy is bound to nobody\nFix: Bind or delete it.", urn("lonely"))]


# --- pulumi_policy's analyzer servicer, fed what the engine sends -------------------------------------------

def servicer(policies, level=EnforcementLevel.MANDATORY) -> _PolicyAnalyzerServicer:
    return _PolicyAnalyzerServicer(PACK_NAME, "0.1.0", policies, level)


def struct(value: dict) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(value)
    return s


def analyze(analyzer, name: str, props: dict, type_: str = POLICY):
    response = analyzer.Analyze(proto.AnalyzeRequest(type=type_, urn=urn(name, type_), name=name, properties=struct(props)), None)
    return [(d.policyName, d.enforcementLevel, d.urn, d.message) for d in response.diagnostics]


def test_the_sdk_downgrades_a_mandatory_policy_that_reads_an_unknown_to_an_advisory():
    def naive(args, report_violation):
        if args.props["spec"]["grant"] == "*":
            report_violation("wildcard")

    naive_policy = ResourceValidationPolicy("T-NAIVE", "Reads props directly.", naive)
    diagnostics = analyze(servicer([naive_policy, *build_policies([GRANT])]), "pending", {"spec": {"grant": UNKNOWN}})
    (sdk, ours) = diagnostics
    assert sdk[:3] == ("T-NAIVE", proto.ADVISORY, "") and "can't run policy 'T-NAIVE'" in sdk[3] and "during preview" in sdk[3]
    assert ours[:3] == ("T-GRANT", proto.MANDATORY, urn("pending")) and "undecided (a value is unknown at preview)" in ours[3]


def test_configured_levels_and_exceptions_flow_through_the_sdk():
    analyzer = servicer(build_policies([GRANT, BOUND]))
    analyzer.Configure(proto.ConfigureAnalyzerRequest(policyConfig={
        "T-GRANT": proto.PolicyConfig(enforcementLevel=proto.ADVISORY, properties=struct(
            {"exceptions": [{"resource": "open", "reason": "SEC-1", "expires": FUTURE}]})),
        "T-BOUND": proto.PolicyConfig(enforcementLevel=proto.DISABLED),
    }), None)
    assert analyze(analyzer, "open", {"spec": {"grant": "*"}}) == []
    ((name, level, where, message),) = analyze(analyzer, "other", {"spec": {"grant": "*"}})
    assert (name, level, where) == ("T-GRANT", proto.ADVISORY, urn("other"))
    assert message == "Grants name one resource.\n[T-GRANT no-wildcard-grant] spec.grant is a wildcard\nFix: Name the resource."
    stack = analyzer.AnalyzeStack(proto.AnalyzeStackRequest(resources=[
        proto.AnalyzerResource(type=POLICY, urn=urn("lonely"), name="lonely", properties=struct({}))]), None)
    assert list(stack.diagnostics) == []  # T-BOUND disabled


def test_secrets_reach_policies_in_plaintext_but_not_their_messages():
    secret = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "value": CANARY}
    seen = []
    spy = Rule(id="T-SPY", name="spy", description="Records props.", severity=Severity.LOW, resource_types=(POLICY,), remediation="None.", frameworks=(), check=lambda rule, r: seen.append(r["props"]) or [])
    assert analyze(servicer(build_policies([spy, GRANT])), "open", {"secretString": secret, "spec": {"grant": "*"}})[0][3].count(CANARY) == 0
    assert seen == [{"secretString": CANARY, "spec": {"grant": "*"}}]


# --- launched like the engine launches it -------------------------------------------------------------------

def test_without_arguments_the_module_prints_usage():
    assert main([]) == 2


def test_the_engine_launch_serves_every_policy_over_grpc(tmp_path):
    """`pulumi-analyzer-policy-python` runs `python -u -m pulumi.policy ENGINE_ADDRESS .` in the pack's directory; the
    pack prints its port and answers the analyzer protocol. Here a gRPC client stands in for the engine."""
    env = {**os.environ, "PULUMI_STACK": "acme/shop-prod", "PYTHONPATH": ""}
    process = subprocess.Popen([sys.executable, "-u", "-m", "pulumi.policy", "127.0.0.1:1", "."], cwd=PROJECT_DIR / "policy", env=env,
                               stdout=subprocess.PIPE, stderr=open(tmp_path / "stderr", "w"), text=True)
    try:
        port = process.stdout.readline().strip()
        assert port.isdigit(), (tmp_path / "stderr").read_text()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            client = proto.AnalyzerStub(channel)
            info = client.GetAnalyzerInfo(empty_pb2.Empty(), timeout=60)
            assert info.name == PACK_NAME and info.supportsConfig
            assert [p.name for p in info.policies] == [r.id for r in ALL_RULES]
            levels = {p.name: p.enforcementLevel for p in info.policies}  # a prod stack without config
            assert {r.id for r in ALL_RULES if levels[r.id] != proto.MANDATORY} == {r.id for r in ALL_RULES if r.advisory_only}
            assert {levels[r.id] for r in ALL_RULES if r.advisory_only} <= {proto.ADVISORY}
            schema = json_format.MessageToDict(info.policies[0].configSchema.properties)
            assert schema["exceptions"]["items"]["required"][:2] == ["resource", "reason"]
            hcl = 'path "secret/data/phagen/*" {\n  capabilities = ["create", "read", "update", "delete", "list"]\n}\n'
            vault = "vault:index/policy:Policy"
            response = client.Analyze(proto.AnalyzeRequest(type=vault, urn=urn("phagen-crud", vault), name="phagen-crud",
                                                           properties=struct({"name": "phagen-crud", "policy": hcl})), timeout=60)
            assert response.diagnostics and {d.enforcementLevel for d in response.diagnostics} == {proto.MANDATORY}
            assert {d.urn for d in response.diagnostics} == {urn("phagen-crud", vault)}
            pending = client.Analyze(proto.AnalyzeRequest(type=vault, urn=urn("pending", vault), name="pending",
                                                          properties=struct({"name": "pending", "policy": UNKNOWN})), timeout=60)
            assert all("can't run policy" not in d.message for d in pending.diagnostics)
    finally:
        process.terminate()
        process.wait(timeout=30)
