"""GCP Secret Manager as a backend: CMEK keys, the rotation topic, secrets, then per workload its identity
granted each of its secrets, one binding per secret: on GKE a Google service account bound to its Kubernetes
service account (the cluster's pool); on any other cluster the federated principal of that Kubernetes service
account itself (Workload Identity Federation with the cluster's OIDC issuer)."""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_gcp as gcp

from components import audit
from components.spec import GCP_SERVICE_AGENT, GcpSpec, SecretSpec, StackSpec, WorkloadSpec, initial_value
from components.backend import Access, BackendBase, PodIdentity, StoreProvider, rotation_tags, strictest
from components.gcp.identity import WorkloadIdentityFederation, WorkloadServiceAccount
from components.gcp.kms import EncryptionKeys, EncryptionKeysArgs
from components.gcp.rotation import RotationTopic
from components.gcp.secret import ROLE_BY_ACCESS, GcpGrant, GcpSecret, GcpSecretArgs

GKE_ANNOTATION = "iam.gke.io/gcp-service-account"  # GKE workload identity: the Google service account


def store_provider_block(project_id: str, cluster_location: str, cluster_name: str, cluster_project_id: str,
                         service_account_ref: Mapping[str, str]) -> dict:
    """Secret Manager through GKE workload identity: the store's Kubernetes service account token is exchanged
    with the cluster's pool and impersonates the Google service account its `iam.gke.io/gcp-service-account`
    annotation names. The cluster is named so the controller never depends on the metadata server."""
    workload_identity = {"clusterLocation": cluster_location, "clusterName": cluster_name, "clusterProjectID": cluster_project_id,
                         "serviceAccountRef": dict(service_account_ref)}
    return {"gcpsm": {"projectID": project_id, "auth": {"workloadIdentity": workload_identity}}}


def federated_store_provider_block(project_id: str, sts_audience: str, token_audience: str, service_account_ref: Mapping[str, str]) -> dict:
    """Secret Manager through Workload Identity Federation (ESO v1 `auth.workloadIdentityFederation`): the
    controller requests a token of the store's service account for the provider's audience and exchanges it
    at Google's STS for the federated principal's own access token (no service account impersonation)."""
    federation = {"audience": sts_audience, "serviceAccountRef": {**service_account_ref, "audiences": [token_audience]}}
    return {"gcpsm": {"projectID": project_id, "auth": {"workloadIdentityFederation": federation}}}


class GcpBackend(BackendBase):
    """Grants are IAM bindings on one secret (accessor, version adder); identities are GKE workload identities."""

    name = "gcp"
    outputs_declared = ("gcp_secret_ids", "gcp_service_accounts")

    def _provider(self, opts: pulumi.ResourceOptions, platform_name: str) -> gcp.Provider:
        return gcp.Provider("gcp", project=self.settings.project_id, opts=opts)

    def _build(self, parent: pulumi.Resource, child: pulumi.ResourceOptions) -> None:
        spec = self.spec
        settings: GcpSpec = self.settings
        protect, project = spec.is_prod, settings.project_id
        secrets = spec.secrets_on("gcp")
        # Secret Manager encrypts with the CMEK and publishes rotation notices as its service agent.
        agent = gcp.projects.ServiceIdentity("secretmanager-agent", project=project, service=GCP_SERVICE_AGENT, opts=child)
        # HIPAA 164.312(b): Secret Manager's data access (who read or added which version) is not logged by
        # default; the admin activity log is. This config turns on both data-access logs for this service only.
        if settings.audit is not None:  # configured outside this stack (e.g. at the organisation), with the reason
            audit.elsewhere("gcp", settings.audit.elsewhere, child)
        else:
            gcp.projects.IAMAuditConfig(
                "secretmanager-audit", project=project, service="secretmanager.googleapis.com",
                audit_log_configs=[gcp.projects.IAMAuditConfigAuditLogConfigArgs(log_type=t) for t in ("DATA_READ", "DATA_WRITE")], opts=child,
            )
        by_key: dict[str, list[SecretSpec]] = {}
        for secret in secrets:
            by_key.setdefault(spec.gcp_key_name(secret), []).append(secret)
        keys = EncryptionKeys(
            "gcp-keys",
            EncryptionKeysArgs(
                project=project,
                ring_name=f"{spec.slug}-secrets",
                locations=settings.kms_locations,
                key_names=tuple(by_key),
                rotation_days=settings.key_rotation_days,
                service_agent=agent.member,
                protect=protect,
                labels={name: spec.gcp_labels(spec.tags_for(strictest(tuple(users)))) for name, users in by_key.items()},
            ),
            child,
        )
        prerequisites: list[pulumi.Resource] = list(keys.grants)
        topic = None
        if any(spec.gcp_rotates(s) for s in secrets):
            topic = RotationTopic("gcp-rotation", project, spec.gcp_rotation_topic, agent.member, spec.gcp_labels(spec.tags_for()), child)
            prerequisites.append(topic.publisher)
        self.secrets: dict[str, GcpSecret] = {}
        for secret in secrets:
            rotation = spec.rotation(secret)
            self.secrets[secret.name] = GcpSecret(
                f"gcp-{secret.name}",
                GcpSecretArgs(
                    project=project,
                    secret_id=spec.gcp_secret_id(secret),
                    key_ids={location: keys.key_ids[(spec.gcp_key_name(secret), location)] for location in settings.kms_locations},
                    labels=spec.gcp_labels({**secret.tags, **spec.tags_for(secret.classification, **rotation_tags(rotation))}),
                    version_destroy_days=spec.recovery_window_days(secret),
                    protect=protect,
                    rotation_days=rotation.days if topic is not None and rotation.kind != "none" else None,
                    rotation_topic=topic.topic_id if topic is not None else None,
                    initial_value=initial_value(secret) if secret.initial_value == "config" else None,
                    depends_on=prerequisites,
                ),
                child,
            )
        assert settings.gke is not None or settings.federated or not any(spec.gcp_access(w) for w in spec.all_workloads)  # spec cross-checks
        self.accounts: dict[str, WorkloadServiceAccount] = {}
        users = [w for w in spec.all_workloads if spec.gcp_access(w)]
        if settings.federated and users:
            self._federate(spec, users, project, child)
            users = []
        for workload in users:
            account = self.accounts[workload.name] = WorkloadServiceAccount(
                f"gcp-{workload.name}", workload, spec.gcp_service_account_id(workload), project, settings.identity_pool, child,
            )
            binding = pulumi.ResourceOptions(parent=account)
            grants = [self.grant(workload.name, n, "read") for n in spec.reads(workload, "gcp")]
            grants += [self.grant(workload.name, n, "write") for n in spec.writes(workload, "gcp")]
            for grant in grants:
                self.secrets[grant.secret_name].bind(workload.name, account.member, grant, binding)
        # Operators' Google groups: bound on exactly the secrets they read (secretAccessor) or write (secretVersionAdder).
        for operator, name, access in spec.operator_access("gcp"):
            self.secrets[name].bind(f"operator-{operator.name}", f"group:{operator.gcp_group}", self.grant(operator.name, name, access), child)

    def _federate(self, spec: StackSpec, users: list[WorkloadSpec], project: str, child: pulumi.ResourceOptions) -> None:
        """Direct resource access for federated principals: each workload's own Kubernetes service account is
        bound on its secrets; nothing can impersonate anything, and the pool grants nothing by itself."""
        federation = WorkloadIdentityFederation(
            "gcp-federation", self.settings.workload_identity_federation, project, spec.gcp_pool_id, spec.gcp_issuer, spec.gcp_token_audience,
            users, child,
        )
        binding = pulumi.ResourceOptions(parent=federation)
        for workload in users:
            grants = [self.grant(workload.name, n, "read") for n in spec.reads(workload, "gcp")]
            grants += [self.grant(workload.name, n, "write") for n in spec.writes(workload, "gcp")]
            for grant in grants:
                self.secrets[grant.secret_name].bind(workload.name, spec.gcp_federated_principal(workload), grant, binding)

    def grant(self, identity: str, secret: str, access: Access) -> GcpGrant:
        if access not in ROLE_BY_ACCESS:
            raise ValueError(f"Secret Manager grants read or write on a secret (got {access!r} for {secret!r})")
        return GcpGrant(secret, access, ROLE_BY_ACCESS[access])

    def store_provider(self, store_key: str, identity: str, service_account_ref: Mapping[str, str]) -> StoreProvider:
        settings, spec = self.settings, self.spec
        if settings.federated:
            provider = federated_store_provider_block(settings.project_id, spec.gcp_sts_audience, spec.gcp_token_audience, service_account_ref)
            return StoreProvider(f"gcp-secret-manager-{spec.environment.value}", provider)
        assert settings.gke is not None  # spec cross-checks
        provider = store_provider_block(settings.project_id, settings.gke.location, settings.gke.name, settings.cluster_project, service_account_ref)
        return StoreProvider(f"gcp-secret-manager-{self.spec.environment.value}", provider)

    def remote_key(self, secret: SecretSpec) -> str:
        """Secret Manager ids take no `/`."""
        return self.spec.gcp_secret_id(secret)

    def pod_identity(self, workload: WorkloadSpec) -> PodIdentity:
        """GKE: the annotation naming the Google service account. Federated: nothing on the ServiceAccount; a
        direct reader's pod mounts a token of the provider's audience and a credential configuration (README)."""
        account = self.accounts.get(workload.name)
        return PodIdentity(annotations={GKE_ANNOTATION: account.email}) if account is not None else PodIdentity()

    def outputs(self) -> dict[str, dict[str, pulumi.Output]]:
        return {
            "gcp_secret_ids": {name: s.secret_id for name, s in self.secrets.items()},
            "gcp_service_accounts": {name: a.email for name, a in self.accounts.items()},
        }
