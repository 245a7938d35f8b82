"""The typed stack spec: the whole `secrets-platform:` config namespace of one stack (pydantic v2, unknown
keys refused, frozen). `loader` is the only reader of `pulumi.Config`; classification supplies defaults,
an explicit setting always wins and is validated, and every problem is one line naming the stack file and
key path (`errors`).

    base        shared types, environments, classifications      models      tags, keys, secrets, workloads
    rotation    a secret's rotation                               schedule    rotation schedule expressions
    aws, vault, gcp, azure, kubernetes   each backend's model, derived names and checks
    audit       each backend's audit in prod: created, recorded, or run elsewhere with a reason
    delivery    how secrets reach workloads (External Secrets store layout)
    stack       StackSpec and the cross-checks                    errors      problems and their rendering
    loader      reading and validating a stack's config          schema      the stack file's JSON Schema
"""

from components.spec.audit import AwsAuditSpec, ElsewhereSpec, TrailSpec, VaultAuditSpec
from components.spec.aws import (
    MIN_PROD_RECOVERY_WINDOW_DAYS,
    NONPROD_RECOVERY_WINDOW_DAYS,
    PROD_RECOVERY_WINDOW_DAYS,
    ROLE_POLICY_NAME,
    AwsSpec,
    ClusterSpec,
)
from components.spec.azure import (
    AZURE_MAX_FEDERATED_CREDENTIALS,
    AZURE_NONPROD_SOFT_DELETE_DAYS,
    AZURE_PROD_SOFT_DELETE_DAYS,
    AzureSpec,
    Guid,
)
from components.spec.base import (
    AWS_ONLY_FIELDS,
    CLASS_POLICY,
    DATABASE_PASSWORD_NAMESPACE,
    INITIAL_VALUE_NAMESPACE,
    NAMESPACE,
    SHARED_KEY_NAME,
    Backend,
    Classification,
    ClassPolicy,
    DnsLabel,
    Duration,
    Environment,
    HttpsUrl,
    MountPath,
    Name,
    Region,
    TagKey,
    TagValue,
    seconds,
)
from components.spec.delivery import STORE_SERVICE_ACCOUNT
from components.spec.errors import ConfigError, Problem, exit_on_config_error, format_key_path
from components.spec.gcp import GCP_KEY_ROTATION_DAYS, GCP_SERVICE_AGENT, GcpProjectId, GcpRegion, GcpSpec, GkeClusterSpec
from components.spec.kubernetes import EsoSpec, KubernetesSpec, service_account_subject
from components.spec.loader import database_password, initial_value, load_stack_spec, namespace_values, parse_stack_spec
from components.spec.models import KeySpec, SecretSpec, StackTags, WorkloadSpec
from components.spec.rotation import AUTOMATED_ROTATION, MANUAL_ROTATION_KINDS, ROTATION_KINDS, RotationKind, RotationSpec, VpcSpec
from components.spec.schedule import RATE_EXPRESSION, check_schedule_expression
from components.spec.schema import SCHEMA_FILE, stack_file_schema, write_schema
from components.spec.stack import StackSpec
from components.spec.vault import (
    AppRoleAuthSpec,
    AppRoleLoginSpec,
    DatabaseGrantSpec,
    DatabaseRoleSpec,
    DatabaseSpec,
    KubernetesAuthSpec,
    KvMountSpec,
    VaultSpec,
)

__all__ = [
    "AUTOMATED_ROTATION", "AWS_ONLY_FIELDS", "AZURE_MAX_FEDERATED_CREDENTIALS", "AZURE_NONPROD_SOFT_DELETE_DAYS",
    "AZURE_PROD_SOFT_DELETE_DAYS", "CLASS_POLICY", "DATABASE_PASSWORD_NAMESPACE", "GCP_KEY_ROTATION_DAYS",
    "GCP_SERVICE_AGENT", "INITIAL_VALUE_NAMESPACE", "MANUAL_ROTATION_KINDS", "MIN_PROD_RECOVERY_WINDOW_DAYS",
    "NAMESPACE", "NONPROD_RECOVERY_WINDOW_DAYS", "PROD_RECOVERY_WINDOW_DAYS", "RATE_EXPRESSION", "ROLE_POLICY_NAME", "ROTATION_KINDS",
    "SCHEMA_FILE", "SHARED_KEY_NAME", "STORE_SERVICE_ACCOUNT",
    "AppRoleAuthSpec", "AppRoleLoginSpec", "AwsAuditSpec", "AwsSpec", "ElsewhereSpec", "TrailSpec", "VaultAuditSpec", "AzureSpec", "Backend", "ClassPolicy", "Classification",
    "ClusterSpec", "ConfigError", "DatabaseGrantSpec", "DatabaseRoleSpec", "DatabaseSpec", "DnsLabel", "Duration",
    "Environment", "EsoSpec", "GcpProjectId", "GcpRegion", "GcpSpec", "GkeClusterSpec", "Guid", "HttpsUrl", "KeySpec",
    "KubernetesAuthSpec", "KubernetesSpec", "KvMountSpec", "MountPath", "Name", "Problem", "Region", "RotationKind",
    "RotationSpec", "SecretSpec", "StackSpec", "StackTags", "TagKey", "TagValue", "VaultSpec", "VpcSpec", "WorkloadSpec",
    "check_schedule_expression", "database_password", "exit_on_config_error", "format_key_path", "initial_value",
    "load_stack_spec", "namespace_values", "parse_stack_spec", "seconds", "service_account_subject", "stack_file_schema", "write_schema",
]
