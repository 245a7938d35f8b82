"""A workload's Vault identity: its policy (exactly the declared paths) and its login role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import pulumi
import pulumi_vault as vault

from components.vault.auth import AppRoleLogin, KubernetesLogin, login_role
from components.vault.policy import TOKEN_SELF, PathRule, render_hcl


@dataclass(frozen=True)
class VaultIdentityArgs:
    workload: str
    policy_name: str
    role_name: str
    rules: Sequence[PathRule]
    login: KubernetesLogin | AppRoleLogin
    adopt_policy: str | None = None  # the existing policy's name: imported, not created
    adopt_role: str | None = None  # the existing login role's `auth/<mount>/role/<name>`


class OperatorGroupPolicy(pulumi.ComponentResource):
    """An operator's Vault identity group gets one policy more: exact data paths to read or to write (create,
    update), and for writers the secret's metadata (version numbers, no values) so `kv put -cas=<version>`
    works on mounts with cas_required. `exclusive=False` leaves the group's other policies to their owners."""

    def __init__(self, name: str, policy_name: str, group_id: str, rules: Sequence[PathRule], opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:vault:OperatorGroupPolicy", name, None, opts)
        self.policy = vault.Policy(
            f"{name}-policy",
            name=policy_name,
            policy=render_hcl(f"{policy_name}: Vault access of operator group {group_id}", rules),
            opts=pulumi.ResourceOptions(parent=self),
        )
        vault.identity.GroupPolicies(
            f"{name}-group-policies",
            group_id=group_id,
            policies=[self.policy.name],
            exclusive=False,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"policy_name": self.policy.name})


class VaultIdentity(pulumi.ComponentResource):
    def __init__(self, name: str, args: VaultIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:vault:VaultIdentity", name, None, opts)
        rules = [*args.rules, *(PathRule(path, caps) for path, caps in TOKEN_SELF)]
        self.policy = vault.Policy(
            f"{name}-policy",
            name=args.policy_name,
            policy=render_hcl(f"{args.policy_name}: Vault access of workload {args.workload}", rules),
            opts=pulumi.ResourceOptions(parent=self, import_=args.adopt_policy),
        )
        self.role = login_role(name, args.role_name, self.policy.name, args.login, self, args.adopt_role)
        self.policy_name = self.policy.name
        self.role_name = self.role.role_name
        self.register_outputs({"policy_name": self.policy_name, "role_name": self.role_name})
