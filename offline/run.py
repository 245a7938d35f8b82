"""Run the real `__main__.py` of a stack under the mock runtime and return what it planned."""

from __future__ import annotations

import asyncio
import json
import runpy
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings
from pulumi.runtime.stack import wait_for_rpcs

from components.spec import StackSpec, namespace_values, parse_stack_spec
from documents.audit import AUDIT_DECLARATION
from offline.mocks import REDACTED, CloudMocks, RecordingMonitor, Registration
from offline.progress import registration_progress

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Encrypted `secure:` values cannot be decrypted offline; the program sees this instead,
# marked secret like the real value would be.
OFFLINE_SECRET_PLACEHOLDER = "offline-plan-placeholder"


class StackFileError(Exception):
    """The stack file itself is missing or not YAML: exit 2 like a config error."""


@dataclass
class Plan:
    project: str
    stack: str
    resources: list[Registration]
    outputs: dict[str, Any] = field(default_factory=dict)
    environment: str = "dev"  # the stack's `secrets-platform:environment`: it picks the policy enforcement
    spec: StackSpec | None = None  # the stack's validated spec, when the plan is of a stack file

    def policy_resources(self) -> list[dict]:
        # Custom resources, and the audit declarations the rules read (components carrying only their inputs).
        return [r.as_policy_resource() for r in self.resources
                if (r.custom and not r.type.startswith("pulumi:providers:")) or r.type == AUDIT_DECLARATION]


def stack_file_of(stack: str, project_dir: Path = PROJECT_DIR) -> tuple[str, Path]:
    """`dev` -> the project's Pulumi.dev.yaml; a path to a `Pulumi.<stack>.yaml` (examples/) -> itself."""
    if stack.endswith(".yaml"):
        path = Path(stack)
        return path.name.removeprefix("Pulumi.").removesuffix(".yaml"), path
    return stack, project_dir / f"Pulumi.{stack}.yaml"


class UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping: `yaml.safe_load` silently keeps the
    last, so a second `classification:` or `secrets-platform:workloads:` would replace the first unseen."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            # Only the keys written here: a `<<` merge's keys may be overridden, that is what it is for.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (key_node.tag, key_node.value)
            if key in first_line:
                raise yaml.MarkedYAMLError(problem=f"duplicate key '{key_node.value}' (first at line {first_line[key]})", problem_mark=key_node.start_mark)
            first_line[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def _yaml_problem(error: yaml.YAMLError) -> str:
    """`line 12, column 5: <what>`; never the snippet of the file PyYAML would quote (it may hold a value)."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return f"not valid YAML ({type(error).__name__})"
    mark = error.problem_mark
    return f"line {mark.line + 1}, column {mark.column + 1}: {error.problem or 'not valid YAML'}"


def read_stack_config(stack: str, project_dir: Path = PROJECT_DIR) -> tuple[str, dict[str, str], list[str]]:
    """(project, config as the engine hands it to programs, secret keys) from the YAML files."""
    project_file, (_, stack_file) = project_dir / "Pulumi.yaml", stack_file_of(stack, project_dir)
    reading = project_file
    try:
        project = yaml.load(project_file.read_text(), UniqueKeyLoader)["name"]
        reading = stack_file
        document = yaml.load(stack_file.read_text(), UniqueKeyLoader) or {}
    except FileNotFoundError as error:
        raise StackFileError(f"{Path(error.filename).name}: not found (stacks: {', '.join(available_stacks(project_dir))})") from None
    except yaml.YAMLError as error:
        raise StackFileError(f"{reading.name}: {_yaml_problem(error)}") from None
    except (KeyError, TypeError) as error:
        raise StackFileError(f"{reading.name}: not a valid stack file ({type(error).__name__})") from None
    if not isinstance(document, dict):
        raise StackFileError(f"{stack_file.name}: must be a mapping with a config: key")
    raw = document.get("config") or {}
    if not isinstance(raw, dict):
        raise StackFileError(f"{stack_file.name}: config: must be a mapping of keys to values")
    config, secret_keys = {}, []
    for key, value in raw.items():
        key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            config[key] = OFFLINE_SECRET_PLACEHOLDER
            secret_keys.append(key)
        else:
            config[key] = value if isinstance(value, str) else json.dumps(value)
    return project, config, secret_keys


def available_stacks(project_dir: Path = PROJECT_DIR) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in project_dir.glob("Pulumi.*.yaml"))


def plan_program(
    project: str,
    stack: str,
    config: dict[str, str],
    secret_keys: list[str] = (),
    program: Path = PROJECT_DIR / "__main__.py",
) -> Plan:
    """Plan in this process. The runtime allows one root stack at a time, so it is reset first."""
    settings.reset_options()
    pulumi.runtime.set_all_config(dict(config), list(secret_keys))
    monitor = RecordingMonitor(CloudMocks())
    pulumi.runtime.set_mocks(monitor.mocks, project=project, stack=stack, preview=True, monitor=monitor)
    loop = asyncio.get_event_loop()
    sys.path.insert(0, str(program.parent))
    try:
        with registration_progress(monitor, f"planning {stack}"):
            runpy.run_path(str(program), run_name="__main__")
            loop.run_until_complete(wait_for_rpcs())
        outputs = loop.run_until_complete(_stack_outputs())
    finally:
        sys.path.remove(str(program.parent))
    environment = str(config.get("secrets-platform:environment", "dev"))
    return Plan(project=project, stack=stack, resources=monitor.registrations, outputs=outputs, environment=environment)


async def _stack_outputs() -> dict[str, Any]:
    """`pulumi.export`ed values, secrets redacted (the mock root stack never re-registers them)."""
    root = settings.get_root_resource()
    exported = getattr(root, "outputs", {}) or {}
    values = {}
    for name, value in exported.items():
        output = pulumi.Output.from_input(value)
        values[name] = REDACTED if await output.is_secret() else await output.future()
    return values


def plan_stack(stack: str, project_dir: Path = PROJECT_DIR) -> Plan:
    project, config, secret_keys = read_stack_config(stack, project_dir)
    name, path = stack_file_of(stack, project_dir)
    plan = plan_program(project, name, config, secret_keys, project_dir / "__main__.py")
    # The program has already checked this config; the reports read the same spec.
    plan.spec = parse_stack_spec(namespace_values(config), path.name)
    return plan
