"""The Pulumi program: load this stack's typed config, build the platform."""

import pulumi

from components.config import ConfigError, exit_on_config_error, load_stack_spec
from components.platform import SecretsPlatform

try:
    spec = load_stack_spec()
except ConfigError as error:
    exit_on_config_error(error)

platform = SecretsPlatform("secrets-platform", spec)
pulumi.export("secret_arns", platform.secret_arns)
pulumi.export("role_arns", platform.role_arns)
pulumi.export("key_arns", platform.key_arns)
pulumi.export("vault_policies", platform.vault_policies)
pulumi.export("vault_roles", platform.vault_roles)
