"""Reading a stack's config: the only place that reads `pulumi.Config`. Secrets appear in the spec as
references (names, paths, config keys), never as values; the values stay in their own namespaces."""

from __future__ import annotations

import json
from typing import Any, Mapping

from pydantic import ValidationError

from components.spec.base import DATABASE_PASSWORD_NAMESPACE, INITIAL_VALUE_NAMESPACE, NAMESPACE
from components.spec.errors import ConfigError, Problem, validation_problems
from components.spec.models import SecretSpec
from components.spec.stack import StackSpec, cross_checks
from components.spec.vault import DatabaseSpec


def parse_stack_spec(raw: Mapping[str, Any], source: str) -> StackSpec:
    """Validate a `secrets-platform:` namespace (keys without the namespace) into a StackSpec."""
    document = dict(raw)
    try:
        spec = StackSpec.model_validate(document)
    except ValidationError as error:
        raise ConfigError(source, validation_problems(error, StackSpec), document) from None
    problems = cross_checks(spec)
    if problems:
        raise ConfigError(source, problems, document)
    return spec


def _decode(value: Any) -> Any:
    """Pulumi hands structured config values to programs as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def namespace_values(config: Mapping[str, Any]) -> dict[str, Any]:
    prefix = f"{NAMESPACE}:"
    return {key[len(prefix):]: _decode(value) for key, value in config.items() if key.startswith(prefix)}


def load_stack_spec() -> StackSpec:
    """Read the running stack's config (real engine or mocks) and validate it."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    merged = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    source = f"Pulumi.{pulumi.get_stack()}.yaml"
    raw = namespace_values(merged)
    # Top-level scalars such as `environment: prod` must stay strings even if they look like JSON.
    for scalar in ("environment", "prefix"):
        if scalar in raw and not isinstance(raw[scalar], str):
            raw[scalar] = merged[f"{NAMESPACE}:{scalar}"]
    spec = parse_stack_spec(raw, source)
    # Checked here, before any resource exists, so a missing value never leaves a half-built plan.
    problems = [
        Problem(("secrets", index, "initial_value"), message)
        for index, secret in enumerate(spec.secrets)
        if secret.initial_value == "config" and (message := _secret_config_problem(INITIAL_VALUE_NAMESPACE, secret.name))
    ]
    problems += [
        Problem(("vault", "databases", index, "username"), message)
        for index, database in enumerate(spec.vault.databases if spec.vault else ())
        if (message := _secret_config_problem(DATABASE_PASSWORD_NAMESPACE, database.name))
    ]
    if problems:
        raise ConfigError(source, problems, raw)
    return spec


def _secret_config_problem(namespace: str, name: str) -> str | None:
    from pulumi.runtime import config as runtime_config

    key = f"{namespace}:{name}"
    if runtime_config.get_config(key) is None:
        return f"needs {key}; run `pulumi config set --secret {key} <value>`"
    if not runtime_config.is_config_secret(key) and key not in runtime_config.get_config_secret_keys_env():
        return f"{key} must be set with --secret so it is encrypted in the stack file"
    return None


def initial_value(secret: SecretSpec) -> Any:
    """The secret's initial value as a Pulumi secret Output (checked by load_stack_spec)."""
    import pulumi

    return pulumi.Config(INITIAL_VALUE_NAMESPACE).require_secret(secret.name)


def database_password(database: DatabaseSpec) -> Any:
    """The password Vault first connects with (it rotates it); checked by load_stack_spec."""
    import pulumi

    return pulumi.Config(DATABASE_PASSWORD_NAMESPACE).require_secret(database.name)
