"""The CrossGuard policy pack, and `python -m policy check PREVIEW.json`; the only module that imports pulumi_policy.

How the engine runs this pack. `pulumi preview --policy-pack policy` reads policy/PulumiPolicy.yaml (runtime
python, virtualenv venv) and starts `pulumi-analyzer-policy-python ENGINE_ADDRESS . -virtualenv=venv` in the pack's
directory; that shim runs `venv/bin/python -u -m pulumi.policy ENGINE_ADDRESS .`, which executes this file with
`runpy.run_path(".", run_name="__main__")`: `sys.argv` is `[".", ENGINE_ADDRESS, "."]` and there is no parent
package. `PolicyPack(...)` then starts the analyzer's gRPC server on 127.0.0.1, prints its port on stdout for the
engine and blocks until the engine stops the process. So this file dispatches on argv: `check` runs the offline
checker and never constructs PolicyPack; anything else serves the pack.

Each rule is one policy named by its rule id (so `--policy-pack-config` keys are rule ids, as in
policy/config/*.json): a ResourceValidationPolicy, or a StackValidationPolicy for a StackRule. The SDK applies the
enforcement level from the config (falling back to the stack environment's default, see `serve`); each policy's
callback passes its own config (its `exceptions`) to policy/engine.py, the same code the checker runs offline.

Unknown values at preview. pulumi_policy hands a callback its props wrapped in `unknown_checking_proxy`: reading a
value the engine does not know yet (an ARN not created yet arrives as an unknown sentinel) raises
UnknownValueError, and the SDK catches it and reports, instead of the policy's result, one *advisory* diagnostic
"can't run policy ... during preview", whatever the policy's level. A mandatory rule would so stop blocking any
resource that has one unknown input. `plain` unwraps the proxy instead: unknowns reach
the rules as the sentinel strings of `policy.rules.base.UNKNOWN_SENTINELS`, and a rule decides from the known
structure or reports an undecided finding at its own level (tests/policy/test_pack.py shows both behaviours).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

if not __package__:  # run by the engine from the pack's directory: `policy` is importable from its parent
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import (  # noqa: E402
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Severity as PolicySeverity  # noqa: E402
from pulumi_policy.policy import Policy  # noqa: E402
from pulumi_policy.proxy import _DictProxy, _ListProxy  # noqa: E402 - the unknown-checking proxy, to unwrap it

from policy.engine import Violation, evaluate  # noqa: E402
from policy.rules import ALL_RULES  # noqa: E402
from policy.rules.base import Rule, StackRule  # noqa: E402
from policy.settings import ENVIRONMENT_DEFAULTS, Enforcement, PackSettings, SettingsError, environment_of, exception_schema, parse_exceptions  # noqa: E402

PACK_NAME = "secrets-platform"
USAGE = "usage: python -m policy check PREVIEW.json [options]   (see python -m policy check --help)"


def plain(value: Any) -> Any:
    """Plain dicts and lists from pulumi_policy's props, unknowns kept as their sentinel strings."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        value = value["__target"]  # the proxy's own escape hatch; reading items would raise on unknowns
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def rule_settings(rule: Rule | StackRule, config: Mapping[str, Any]) -> PackSettings:
    """The rule's exceptions from its policy config. Pulumi validated them against `exception_schema` already;
    a date that passes the schema but is no calendar date still fails here, loudly (the preview errors)."""
    exceptions, problems = parse_exceptions(rule, plain(config).get("exceptions", []), f"policy pack config: {rule.id}.exceptions")
    if problems:
        raise SettingsError(problems)
    # The level here only keeps the rule active: the SDK stamps each violation with the configured level.
    return PackSettings(environment_of(os.environ.get("PULUMI_STACK", "prod")), default=Enforcement.MANDATORY, exceptions=tuple(exceptions),
                        source="policy pack config")


def message(violation: Violation) -> str:
    """The violation as CrossGuard prints it, under the policy's description."""
    undecided = "undecided (a value is unknown at preview): " if violation.undecided else ""
    return f"[{violation.rule_id} {violation.rule_name}] {undecided}{violation.message}\nFix: {violation.remediation}"


def _metadata(rule: Rule | StackRule) -> dict[str, Any]:
    return {
        "display_name": rule.name,
        "severity": PolicySeverity(rule.severity.value),
        "config_schema": PolicyConfigSchema({"exceptions": exception_schema(rule)}),
        "tags": list(rule.frameworks),
        "remediation_steps": rule.remediation,
        # An advisory-only rule never blocks, whatever the pack's level (the engine caps it the same way).
        **({"enforcement_level": EnforcementLevel.ADVISORY} if rule.advisory_only else {}),
    }


def resource_policy(rule: Rule) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = {"type": args.resource_type, "urn": args.urn, "name": args.name, "props": plain(args.props)}
        report = evaluate([resource], rule_settings(rule, args.get_config()), (rule,), whole_stack=False)
        for violation in report.violations:
            report_violation(message(violation), args.urn)  # the engine files it under the analyzed resource anyway

    return ResourceValidationPolicy(rule.id, rule.description, validate, **_metadata(rule))


def stack_policy(rule: StackRule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [{"type": r.resource_type, "urn": r.urn, "name": r.name, "props": plain(r.props)} for r in args.resources]
        for violation in evaluate(resources, rule_settings(rule, args.get_config()), (rule,)).violations:
            report_violation(message(violation), violation.urn if violation.urn.startswith("urn:pulumi:") else None)

    return StackValidationPolicy(rule.id, rule.description, validate, **_metadata(rule))


def build_policies(rules: Iterable[Rule | StackRule] = ALL_RULES) -> list[Policy]:
    return [stack_policy(rule) if isinstance(rule, StackRule) else resource_policy(rule) for rule in rules]


def serve(policies: list[Policy]) -> None:
    """Serve the pack to the engine; blocks. Without `--policy-pack-config` every rule takes the default of the
    stack's environment (prod mandatory, else advisory), as the offline checker does."""
    environment = environment_of(os.environ.get("PULUMI_STACK", "prod"))
    PolicyPack(PACK_NAME, policies, enforcement_level=EnforcementLevel(ENVIRONMENT_DEFAULTS[environment].value))


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"]:
        from policy.check import main as check  # rich and the renderers: the checker's only

        return check(argv[1:])
    if not argv:
        print(USAGE, file=sys.stderr)
        return 2
    serve(build_policies())  # the engine's launch: argv is [ENGINE_ADDRESS, "."]
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
