"""The Pulumi program: load this stack's typed config, build the platform."""

import pulumi

from components.spec import ConfigError, exit_on_config_error, load_stack_spec
from components.platform import SecretsPlatform

try:
    spec = load_stack_spec()
except ConfigError as error:
    exit_on_config_error(error)

platform = SecretsPlatform("secrets-platform", spec)
for output in ("secret_arns", "role_arns", "key_arns", "vault_policies", "vault_roles"):
    pulumi.export(output, platform.outputs[output])
