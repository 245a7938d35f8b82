"""AWS Secrets Manager as a backend: per consuming workload an IRSA role, customer-managed KMS keys naming
exactly those roles, the secrets, each role's grants, and the rotation functions."""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_aws as aws

from components.spec import RotationSpec, SecretSpec, StackSpec, WorkloadSpec, initial_value
from components import audit
from components.aws.alerts import StackAlerts, StackAlertsArgs
from components.aws.audit import AuditTrail, AuditTrailArgs
from components.aws.iam import Grant, SecretAccessPolicy, SecretAccessPolicyArgs
from components.aws.irsa import WorkloadRole, WorkloadRoleArgs
from components.aws.kms import EncryptionKey, KeyUser
from components.aws.operators import OperatorGrant, OperatorSecretPolicy
from components.aws.rotation import RotationRole, SecretRotation, SecretRotationArgs
from components.aws.secret import ManagedSecret
from components.backend import Access, BackendBase, PodIdentity, StoreProvider, rotation_tags, strictest

DEPLOYER_LABEL = "deployer"
IRSA_ANNOTATION = "eks.amazonaws.com/role-arn"


def store_provider_block(region: str, service_account_ref: Mapping[str, str]) -> dict:
    """Secrets Manager through IRSA: a service account's web identity, never static keys."""
    return {"aws": {"service": "SecretsManager", "region": region, "auth": {"jwt": {"serviceAccountRef": dict(service_account_ref)}}}}


class AwsBackend(BackendBase):
    """Grants are IAM statements on the secret and its key (through Secrets Manager); identities are IRSA roles."""

    name = "aws"
    outputs_declared = ("secret_arns", "role_arns", "key_arns")

    # spec.aws is required: every stack builds AWS (its account holds the state and the deployer).

    def _provider(self, opts: pulumi.ResourceOptions, platform_name: str) -> aws.Provider:
        # The spec names the account and region; the provider refuses any other account, so a
        # mistyped stack or stale credentials cannot deploy prod's estate into the wrong place.
        return aws.Provider(f"{platform_name}-aws", region=self.settings.region, allowed_account_ids=[self.settings.account_id], opts=opts)

    def _build(self, parent: pulumi.Resource, child: pulumi.ResourceOptions) -> None:
        spec = self.spec
        protect = spec.is_prod

        # 1. Roles first: key policies name them.
        self.roles: dict[str, WorkloadRole] = {}
        for workload in spec.all_workloads:
            if not (spec.reads(workload, "aws") or spec.writes(workload, "aws")):
                continue
            assert spec.cluster is not None  # guaranteed by the spec's cross-checks
            self.roles[workload.name] = WorkloadRole(
                workload.name,
                WorkloadRoleArgs(
                    role_name=spec.role_name(workload),
                    oidc_provider_arn=spec.cluster.oidc_provider_arn,
                    issuer_host_path=spec.cluster.issuer_host_path,
                    namespace=workload.namespace,
                    service_account=workload.service_account,
                    tags=spec.tags_for(workload=workload.name),
                    adopt=spec.adopt_of(workload).role,
                ),
                child,
            )

        # Rotation functions' roles too: the keys of the secrets they rotate name them.
        self.rotation_roles: dict[str, RotationRole] = {
            secret.name: RotationRole(
                f"rotate-{secret.name}",
                f"{spec.slug}-rotate-{secret.name}",
                spec.aws.account_id,
                spec.tags_for(secret.classification, workload=f"rotate-{secret.name}"),
                child,
            )
            for secret, _ in spec.automated_rotations()
        }

        # 2. Keys, each naming exactly the roles that use it and for which secret paths.
        self._secret_users = _SecretUsers(spec)
        self.keys: dict[str, EncryptionKey] = {}
        for key in spec.effective_keys():
            secrets = spec.secrets_of_key(key.name)
            self.keys[key.name] = EncryptionKey(
                key.name,
                key,
                spec.aws,
                alias=spec.key_alias(key),
                replica_regions=tuple(sorted({r for s in secrets for r in s.replica_regions})),
                protect=protect,
                tags=spec.tags_for(strictest(secrets)),
                users=self._key_users(secrets),
                opts=child,
            )

        # 3. Secrets, encrypted with their key.
        self.secrets: dict[str, ManagedSecret] = {}
        for secret in spec.secrets_on("aws"):
            rotation = spec.rotation(secret)
            self.secrets[secret.name] = ManagedSecret(
                secret.name,
                secret,
                path=spec.secret_path(secret),
                key=self.keys[spec.key_name(secret)],
                recovery_window_days=spec.recovery_window_days(secret),
                protect=protect,
                tags={**secret.tags, **spec.tags_for(secret.classification, **rotation_tags(rotation))},
                initial_value=initial_value(secret) if secret.initial_value == "config" else None,
                opts=child,
            )

        # Operators (roles this stack does not own) are named by the secrets' resource policies.
        for name, grants in self._operator_grants().items():
            OperatorSecretPolicy(name, self.secrets[name].secret_arn, grants, child)

        # 4. Grants: each role gets exactly the secrets its workload declares.
        for workload in spec.all_workloads:
            if workload.name not in self.roles:
                continue
            grants = [self.grant(workload.name, s, "read") for s in spec.reads(workload, "aws")]
            grants += [self.grant(workload.name, s, "write") for s in spec.writes(workload, "aws")]
            SecretAccessPolicy(
                workload.name,
                SecretAccessPolicyArgs(role_name=self.roles[workload.name].role_name, grants=grants,
                                       exclusive=spec.adopt_of(workload).role is not None),
                child,
            )

        # 5. Rotation functions, once the secrets and the roles' key grants exist.
        for secret, rotation in spec.automated_rotations():
            identity = f"rotate-{secret.name}"
            master = self.grant(identity, rotation.master_secret, "read") if rotation.master_secret else None
            vpc = rotation.vpc
            SecretRotation(
                secret.name,
                SecretRotationArgs(
                    kind=rotation.kind,
                    function_name=spec.rotation_function_name(secret),
                    role=self.rotation_roles[secret.name],
                    rotate=self.grant(identity, secret.name, "rotate"),
                    master=master,
                    schedule_expression=rotation.schedule_expression,
                    window_hours=rotation.window,
                    overlap_hours=rotation.overlap_hours,
                    rotated_property=rotation.property,
                    subnet_ids=vpc.subnet_ids if vpc else (),
                    security_group_ids=vpc.security_group_ids if vpc else (),
                    account_id=spec.aws.account_id,
                    region=spec.aws.region,
                    log_retention_days=spec.log_retention_days,
                    tags=spec.tags_for(secret.classification),
                ),
                child,
            )

        # 6. Alerts: failed rotations, rotation function errors, break-glass use.
        if spec.alerts is not None:
            StackAlerts(
                "alerts",
                StackAlertsArgs(
                    account_id=spec.aws.account_id,
                    topic_name=spec.alert_topic_name,
                    topic_arn=spec.alerts.topic_arn,
                    rotation_functions={secret.name: spec.rotation_function_name(secret) for secret, _ in spec.automated_rotations()},
                    break_glass_roles=[o.aws_role_arn for o in spec.operators if o.break_glass],
                    tags=spec.tags_for(),
                ),
                child,
            )

        # 7. Audit (HIPAA 164.312(b)): the organisation's trail recorded, a trail of this stack, or audit run elsewhere.
        self._audit(child)

    def _audit(self, child: pulumi.ResourceOptions) -> None:
        spec, settings = self.spec, self.spec.aws.audit
        if settings is None:
            return
        if settings.elsewhere is not None:
            audit.elsewhere("aws", settings.elsewhere, child)
        elif settings.organization_trail_arn is not None:
            audit.AuditDeclaration("aws-organization-trail", "aws", audit.ORGANIZATION_TRAIL, settings.organization_trail_arn, child)
        else:
            AuditTrail("audit-trail", AuditTrailArgs(spec.aws.account_id, spec.aws.region, spec.trail_name, spec.trail_bucket_name,
                                                     protect=spec.is_prod, tags=spec.tags_for()), child)

    def grant(self, identity: str, secret: str, access: Access) -> Grant:
        """The secret's statement and its key's decrypt through Secrets Manager, in one grant (the role's
        policy holds it; `identity` is the workload or rotation function the role belongs to)."""
        managed = self.secrets[secret]
        if access == "read":
            return managed.grant_read()
        if access == "write":
            return managed.grant_write()
        return managed.grant_rotate()

    def store_provider(self, store_key: str, identity: str, service_account_ref: Mapping[str, str]) -> StoreProvider:
        return StoreProvider(f"aws-secrets-manager-{self.spec.environment.value}", store_provider_block(self.spec.aws.region, service_account_ref))

    def remote_key(self, secret: SecretSpec) -> str:
        return self.spec.secret_path(secret)

    def pod_identity(self, workload: WorkloadSpec) -> PodIdentity:
        role = self.roles.get(workload.name)
        return PodIdentity(annotations={IRSA_ANNOTATION: role.role_arn}) if role is not None else PodIdentity()

    def outputs(self) -> dict[str, dict[str, pulumi.Output]]:
        return {
            "secret_arns": {name: s.secret_arn for name, s in self.secrets.items()},
            "role_arns": {name: r.role_arn for name, r in self.roles.items()},
            "key_arns": {name: k.key_arn for name, k in self.keys.items()},
        }

    def _key_users(self, secrets: tuple[SecretSpec, ...]) -> list[KeyUser]:
        # Only the workloads and rotations that touch these secrets, found through an index built once:
        # scanning all of them for every key is quadratic (10,000 secrets: 2,000 keys x 1,000 workloads).
        spec, index, names = self.spec, self._secret_users, {s.name for s in secrets}
        users = []
        for workload, access, used in index.accesses_of(names):
            paths = [spec.secret_path(s) for s in secrets if s.name in used]
            users.append(KeyUser(workload.name, self.roles[workload.name].role_arn, paths, access))
        for rotated, rotation in index.rotations_of(names):
            role_arn = self.rotation_roles[rotated.name].role_arn
            if rotated.name in names:
                users.append(KeyUser(f"rotate-{rotated.name}", role_arn, [spec.secret_path(rotated)], "write"))
            if rotation.master_secret in names:
                master = next(s for s in secrets if s.name == rotation.master_secret)
                users.append(KeyUser(f"rotate-{rotated.name}", role_arn, [spec.secret_path(master)], "read"))
        operator_paths: dict[tuple[str, str], list[str]] = {}  # one statement per operator and access (Sids are unique)
        operators = {}
        for operator, name, access in spec.operator_access("aws"):
            if name in names:
                operators[operator.name] = operator
                operator_paths.setdefault((operator.name, "encrypt" if access == "write" else "read"), []).append(
                    next(spec.secret_path(s) for s in secrets if s.name == name))
        for (operator_name, key_access), paths in operator_paths.items():
            operator = operators[operator_name]
            users.append(KeyUser(f"operator-{operator_name}", operator.aws_role_arn, paths, key_access, mfa=operator.break_glass))
        initial = [spec.secret_path(s) for s in secrets if s.initial_value == "config"]
        if initial and spec.aws.deployer_role_arn:
            # Writing the initial value needs a data key only: the deployer never decrypts what it wrote.
            users.append(KeyUser(DEPLOYER_LABEL, spec.aws.deployer_role_arn, initial, "encrypt"))
        return users

    def _operator_grants(self) -> dict[str, list[OperatorGrant]]:
        """Secret name -> its operators' grants, in spec order, then the deployer's."""
        grants: dict[str, list[OperatorGrant]] = {}
        for operator, name, access in self.spec.operator_access("aws"):
            grants.setdefault(name, []).append(OperatorGrant(operator.name, operator.aws_role_arn, access, operator.break_glass))
        # The deployer writes initial values: PutSecretValue on exactly those secrets, beside the key policy's
        # GenerateDataKey (never Decrypt, never GetSecretValue), so the access matrix shows it as a writer (#15).
        if self.spec.aws.deployer_role_arn:
            for secret in self.spec.secrets_on("aws"):
                if secret.initial_value == "config":
                    grants.setdefault(secret.name, []).append(OperatorGrant("initial-value", self.spec.aws.deployer_role_arn, "write", who=DEPLOYER_LABEL))
        return grants


class _SecretUsers:
    """Who uses which AWS secret, in the order keys list their users: each workload's reads then
    writes (workloads in spec order), then the automated rotations (own secret, master secret)."""

    def __init__(self, spec: StackSpec):
        self.accesses: list[tuple[WorkloadSpec, str, frozenset[str]]] = []
        self.by_secret: dict[str, list[int]] = {}
        for workload in spec.all_workloads:
            for access, names in (("read", spec.reads(workload, "aws")), ("write", spec.writes(workload, "aws"))):
                for name in names:
                    self.by_secret.setdefault(name, []).append(len(self.accesses))
                self.accesses.append((workload, access, frozenset(names)))
        self.rotations = spec.automated_rotations()
        self.rotations_by_secret: dict[str, list[int]] = {}
        for position, (rotated, rotation) in enumerate(self.rotations):
            for name in {rotated.name, rotation.master_secret} - {None}:
                self.rotations_by_secret.setdefault(name, []).append(position)

    def accesses_of(self, names: set[str]) -> list[tuple[WorkloadSpec, str, frozenset[str]]]:
        return [self.accesses[i] for i in sorted({i for name in names for i in self.by_secret.get(name, ())})]

    def rotations_of(self, names: set[str]) -> list[tuple[SecretSpec, RotationSpec]]:
        return [self.rotations[i] for i in sorted({i for name in names for i in self.rotations_by_secret.get(name, ())})]
