"""Every rule of the pack. Each domain module exports `RULES`."""

from policy.rules import audit, aws_iam, aws_kms, aws_secrets, azure, eso, gcp, kubernetes, vault
from policy.rules.base import Finding, Resource, Rule, Severity, StackRule

ALL_RULES: tuple[Rule | StackRule, ...] = tuple(
    rule
    for module in (aws_iam, aws_kms, aws_secrets, vault, kubernetes, eso, azure, gcp, audit)
    for rule in module.RULES
)

__all__ = ["ALL_RULES", "Finding", "Resource", "Rule", "Severity", "StackRule"]
