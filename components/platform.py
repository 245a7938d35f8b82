"""The composition: the only module that knows every backend and wires a secret to its key,
its consumers' roles and their grants. Spec in, resources out; no decisions about defaults here
(they live in components.config)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumi_vault as vault

from components import config
from components.aws.iam import SecretAccessPolicy, SecretAccessPolicyArgs
from components.aws.irsa import WorkloadRole, WorkloadRoleArgs
from components.aws.kms import EncryptionKey, EncryptionKeyArgs, KeyUser
from components.aws.rotation import RotationRole, SecretRotation, SecretRotationArgs
from components.aws.secret import ManagedSecret, ManagedSecretArgs
from components.azure.identity import SecretGrant, WorkloadIdentity, WorkloadIdentityArgs
from components.azure.keyvault import ExpiryNotifications, ExpiryNotificationsArgs, KeyVault, KeyVaultArgs
from components.gcp.identity import WorkloadServiceAccount, WorkloadServiceAccountArgs
from components.gcp.kms import EncryptionKeys, EncryptionKeysArgs
from components.gcp.rotation import RotationTopic
from components.gcp.secret import GcpSecret, GcpSecretArgs
from components.kubernetes import manifests
from components.kubernetes.resources import (
    ExternalSecretsController,
    ExternalSecretsControllerArgs,
    KubernetesWorkload,
    KubernetesWorkloadArgs,
    SecretSync,
    SecretSyncArgs,
    SyncedSecret,
    apply,
)
from components.vault import policy as vault_policy
from components.vault.auth import AppRoleAuth, AppRoleLogin, KubernetesAuth, KubernetesAuthArgs, KubernetesLogin
from components.vault.database import DatabaseMount, DatabaseRole, PostgresEngine, PostgresEngineArgs, TableGrant
from components.vault.identity import VaultIdentity, VaultIdentityArgs
from components.vault.kv import KvStore, KvStoreArgs

DEPLOYER_LABEL = "deployer"


class SecretsPlatform(pulumi.ComponentResource):
    def __init__(self, name: str, spec: config.StackSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:index:Platform", name, None, opts)
        # The spec names the account and region; the provider refuses any other account, so a
        # mistyped stack or stale credentials cannot deploy prod's estate into the wrong place.
        self.provider = aws.Provider(
            f"{name}-aws",
            region=spec.aws.region,
            allowed_account_ids=[spec.aws.account_id],
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"aws": self.provider})
        protect = spec.is_prod

        # 1. Roles first: key policies name them.
        self.roles: dict[str, WorkloadRole] = {}
        for workload in spec.all_workloads:
            if not (spec.reads(workload, "aws") or spec.aws_writes(workload)):
                continue
            assert spec.cluster is not None  # guaranteed by the spec's cross-checks
            self.roles[workload.name] = WorkloadRole(
                workload.name,
                WorkloadRoleArgs(
                    role_name=f"{spec.slug}-{workload.name}",
                    oidc_provider_arn=spec.cluster.oidc_provider_arn,
                    issuer_host_path=spec.cluster.issuer_host_path,
                    namespace=workload.namespace,
                    service_account=workload.service_account,
                    tags=spec.tags_for(workload=workload.name),
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
        self.keys: dict[str, EncryptionKey] = {}
        for key in spec.effective_keys():
            secrets = spec.secrets_of_key(key.name)
            self.keys[key.name] = EncryptionKey(
                key.name,
                EncryptionKeyArgs(
                    account_id=spec.aws.account_id,
                    region=spec.aws.region,
                    replica_regions=tuple(sorted({r for s in secrets for r in s.replica_regions})),
                    alias=spec.key_alias(key),
                    description=key.description or f"secrets-platform key {key.name}",
                    deletion_window_days=key.deletion_window_days,
                    protect=protect,
                    tags=spec.tags_for(_strictest(secrets)),
                    users=self._key_users(spec, secrets),
                ),
                child,
            )

        # 3. Secrets, encrypted with their key.
        self.secrets: dict[str, ManagedSecret] = {}
        for secret in spec.secrets_on("aws"):
            rotation = spec.rotation(secret)
            self.secrets[secret.name] = ManagedSecret(
                secret.name,
                ManagedSecretArgs(
                    path=spec.secret_path(secret),
                    description=secret.description,
                    key=self.keys[spec.key_name(secret)],
                    recovery_window_days=spec.recovery_window_days(secret),
                    replica_regions=secret.replica_regions,
                    protect=protect,
                    tags={**secret.tags, **spec.tags_for(secret.classification, **_rotation_tags(rotation))},
                    initial_value=config.initial_value(secret) if secret.initial_value == "config" else None,
                ),
                child,
            )

        # 4. Grants: each role gets exactly the secrets its workload declares.
        for workload in spec.all_workloads:
            if workload.name not in self.roles:
                continue
            grants = [self.secrets[s].grant_read() for s in spec.reads(workload, "aws")]
            grants += [self.secrets[s].grant_write() for s in spec.aws_writes(workload)]
            SecretAccessPolicy(
                workload.name,
                SecretAccessPolicyArgs(role_name=self.roles[workload.name].role_name, grants=grants),
                child,
            )

        # 5. Rotation functions, once the secrets and the roles' key grants exist.
        for secret, rotation in spec.automated_rotations():
            master = self.secrets[rotation.master_secret].grant_read() if rotation.master_secret else None
            vpc = rotation.vpc
            SecretRotation(
                secret.name,
                SecretRotationArgs(
                    kind=rotation.kind,
                    function_name=f"{spec.slug}-rotate-{secret.name}",
                    role=self.rotation_roles[secret.name],
                    rotate=self.secrets[secret.name].grant_rotate(),
                    master=master,
                    schedule_expression=rotation.schedule_expression,
                    window_hours=rotation.window,
                    overlap_hours=rotation.overlap_hours,
                    subnet_ids=vpc.subnet_ids if vpc else (),
                    security_group_ids=vpc.security_group_ids if vpc else (),
                    account_id=spec.aws.account_id,
                    region=spec.aws.region,
                    log_retention_days=spec.log_retention_days,
                    tags=spec.tags_for(secret.classification),
                ),
                child,
            )

        self.vault_identities: dict[str, VaultIdentity] = {}
        if spec.vault is not None:
            self._build_vault(spec, spec.vault)

        self.gcp_secrets: dict[str, GcpSecret] = {}
        self.gcp_accounts: dict[str, WorkloadServiceAccount] = {}
        if spec.gcp is not None:
            self._build_gcp(spec, spec.gcp)

        self.key_vault: KeyVault | None = None
        self.azure_identities: dict[str, WorkloadIdentity] = {}
        if spec.azure is not None:
            self._build_azure(spec, spec.azure)

        if spec.kubernetes is not None:
            self._build_kubernetes(spec, spec.kubernetes)

        self.secret_arns = {name: s.secret_arn for name, s in self.secrets.items()}
        self.role_arns = {name: r.role_arn for name, r in self.roles.items()}
        self.key_arns = {name: k.key_arn for name, k in self.keys.items()}
        self.vault_policies = {name: i.policy_name for name, i in self.vault_identities.items()}
        self.vault_roles = {name: i.role_name for name, i in self.vault_identities.items()}
        self.gcp_secret_ids = {name: s.secret_id for name, s in self.gcp_secrets.items()}
        self.gcp_service_accounts = {name: a.email for name, a in self.gcp_accounts.items()}
        self.azure_client_ids = {name: i.client_id for name, i in self.azure_identities.items()}
        self.register_outputs(
            {
                "azure_client_ids": self.azure_client_ids,
                "gcp_secret_ids": self.gcp_secret_ids,
                "gcp_service_accounts": self.gcp_service_accounts,
                "secret_arns": self.secret_arns,
                "role_arns": self.role_arns,
                "key_arns": self.key_arns,
                "vault_policies": self.vault_policies,
                "vault_roles": self.vault_roles,
            }
        )

    def _build_vault(self, spec: config.StackSpec, settings: config.VaultSpec) -> None:
        """KV mounts, auth methods, database engines, then one identity per consuming workload."""
        provider = vault.Provider(
            "vault", address=settings.address, namespace=settings.namespace, opts=pulumi.ResourceOptions(parent=self)
        )
        child = pulumi.ResourceOptions(parent=self, providers={"vault": provider})
        protect = spec.is_prod
        for mount in settings.kv_mounts:
            KvStore(
                f"kv-{mount.path}",
                KvStoreArgs(
                    path=mount.path,
                    max_versions=mount.max_versions,
                    delete_version_after_seconds=config.seconds(mount.delete_version_after) if mount.delete_version_after else None,
                    cas_required=mount.cas_required,
                    protect=protect,
                ),
                child,
            )
        kubernetes = approle = None
        if settings.kubernetes_auth is not None:
            k8s = settings.kubernetes_auth
            kubernetes = KubernetesAuth(
                f"auth-{k8s.mount}", KubernetesAuthArgs(k8s.mount, k8s.host, k8s.ca_cert, k8s.issuer, protect), child
            )
        if settings.approle is not None:
            approle = AppRoleAuth(f"auth-{settings.approle.mount}", settings.approle.mount, protect, child)
        database_mounts = {
            path: DatabaseMount(f"database-{path}", path, protect, child)
            for path in dict.fromkeys(d.mount for d in settings.databases)
        }
        for database in settings.databases:
            PostgresEngine(
                database.name,
                PostgresEngineArgs(
                    mount=database_mounts[database.mount].path,
                    host=database.host,
                    port=database.port,
                    database=database.database,
                    username=database.username,
                    password=config.database_password(database),
                    ssl_mode=database.ssl_mode,
                    root_rotation_period_seconds=config.seconds(database.root_rotation_period) if database.root_rotation_period else None,
                    roles=[
                        DatabaseRole(
                            name=role.name,
                            default_ttl_seconds=config.seconds(role.default_ttl),
                            max_ttl_seconds=config.seconds(role.max_ttl),
                            grants=[TableGrant(g.privileges, g.schema_name, g.tables, g.sequences) for g in role.grants],
                        )
                        for role in database.roles
                    ],
                ),
                child,
            )

        secrets = {s.name: s for s in spec.secrets_on("vault")}
        databases = {d.name: d for d in settings.databases}
        for workload in spec.all_workloads:
            if not spec.vault_access(workload):
                continue
            rules = [
                vault_policy.kv_data(spec.kv_mount(secrets[n]), spec.secret_path(secrets[n]), vault_policy.READ)
                for n in spec.reads(workload, "vault")
            ]
            rules += [
                vault_policy.kv_data(spec.kv_mount(secrets[n]), spec.secret_path(secrets[n]), vault_policy.WRITE)
                for n in workload.writes if n in secrets
            ]
            rules += [vault_policy.kv_metadata(spec.kv_mount(secrets[n]), spec.secret_path(secrets[n])) for n in workload.versions]
            for ref in workload.database_roles:
                database, _, role = ref.partition("/")
                rules.append(vault_policy.database_creds(databases[database].mount, role))
            if workload.vault_login == "kubernetes":
                assert kubernetes is not None and settings.kubernetes_auth is not None  # spec cross-checks
                login = KubernetesLogin(
                    backend=kubernetes.path,
                    namespace=workload.namespace,
                    service_account=workload.service_account,
                    audience=settings.kubernetes_auth.audience,
                    token_ttl_seconds=config.seconds(settings.kubernetes_auth.token_ttl),
                    token_max_ttl_seconds=config.seconds(settings.kubernetes_auth.token_max_ttl),
                )
            else:
                assert approle is not None
                options = workload.approle or config.AppRoleLoginSpec()
                login = AppRoleLogin(
                    backend=approle.path,
                    secret_id_ttl_seconds=config.seconds(options.secret_id_ttl),
                    token_ttl_seconds=config.seconds(options.token_ttl),
                    token_max_ttl_seconds=config.seconds(options.token_max_ttl),
                    secret_id_num_uses=options.secret_id_num_uses,
                    secret_id_bound_cidrs=options.secret_id_bound_cidrs,
                )
            self.vault_identities[workload.name] = VaultIdentity(
                f"vault-{workload.name}",
                VaultIdentityArgs(
                    workload=workload.name,
                    policy_name=f"{spec.slug}-{workload.name}",
                    role_name=f"{spec.slug}-{workload.name}",
                    rules=rules,
                    login=login,
                ),
                child,
            )

    def _build_gcp(self, spec: config.StackSpec, settings: config.GcpSpec) -> None:
        """CMEK keys, the rotation topic, secrets, then per workload a Google service account bound to its
        Kubernetes service account and granted each of its secrets, one binding per secret."""
        provider = gcp.Provider("gcp", project=settings.project_id, opts=pulumi.ResourceOptions(parent=self))
        child = pulumi.ResourceOptions(parent=self, providers={"gcp": provider})
        protect, project = spec.is_prod, settings.project_id
        secrets = spec.secrets_on("gcp")
        # Secret Manager encrypts with the CMEK and publishes rotation notices as its service agent.
        agent = gcp.projects.ServiceIdentity("secretmanager-agent", project=project, service=config.GCP_SERVICE_AGENT, opts=child)
        by_key: dict[str, list[config.SecretSpec]] = {}
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
                labels={name: spec.gcp_labels(spec.tags_for(_strictest(tuple(users)))) for name, users in by_key.items()},
            ),
            child,
        )
        prerequisites: list[pulumi.Resource] = list(keys.grants)
        topic = None
        if any(spec.gcp_rotates(s) for s in secrets):
            topic = RotationTopic("gcp-rotation", project, spec.gcp_rotation_topic, agent.member, spec.gcp_labels(spec.tags_for()), child)
            prerequisites.append(topic.publisher)
        for secret in secrets:
            rotation = spec.rotation(secret)
            self.gcp_secrets[secret.name] = GcpSecret(
                f"gcp-{secret.name}",
                GcpSecretArgs(
                    project=project,
                    secret_id=spec.gcp_secret_id(secret),
                    key_ids={location: keys.key_ids[(spec.gcp_key_name(secret), location)] for location in settings.kms_locations},
                    labels=spec.gcp_labels({**secret.tags, **spec.tags_for(secret.classification, **_rotation_tags(rotation))}),
                    version_destroy_days=spec.recovery_window_days(secret),
                    protect=protect,
                    rotation_days=rotation.days if topic is not None and rotation.kind != "none" else None,
                    rotation_topic=topic.topic_id if topic is not None else None,
                    initial_value=config.initial_value(secret) if secret.initial_value == "config" else None,
                    depends_on=prerequisites,
                ),
                child,
            )
        assert settings.gke is not None or not any(spec.gcp_access(w) for w in spec.all_workloads)  # spec cross-checks
        for workload in spec.all_workloads:
            if not spec.gcp_access(workload):
                continue
            account = self.gcp_accounts[workload.name] = WorkloadServiceAccount(
                f"gcp-{workload.name}",
                WorkloadServiceAccountArgs(
                    project=project,
                    account_id=spec.gcp_service_account_id(workload),
                    workload=workload.name,
                    pool=settings.identity_pool,
                    namespace=workload.namespace,
                    service_account=workload.service_account,
                ),
                child,
            )
            grant = pulumi.ResourceOptions(parent=account)
            for name in spec.reads(workload, "gcp"):
                self.gcp_secrets[name].grant(workload.name, account.member, "read", grant)
            for name in spec.gcp_writes(workload):
                self.gcp_secrets[name].grant(workload.name, account.member, "write", grant)

    def _build_azure(self, spec: config.StackSpec, settings: config.AzureSpec) -> None:
        """The vault, expiry notifications, then per reading workload its managed identity, federated with
        its service account, holding Key Vault Secrets User on exactly the secrets it reads. Secret values
        are never Pulumi inputs: they are written to the vault out of band (see README)."""
        provider = azure_native.Provider(
            "azure", subscription_id=settings.subscription_id, tenant_id=settings.tenant_id, location=settings.location,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"azure-native": provider})
        rg = settings.resource_group
        vault = self.key_vault = KeyVault(
            "azure-key-vault",
            KeyVaultArgs(
                vault_name=settings.key_vault,
                resource_group=rg,
                location=settings.location,
                tenant_id=settings.tenant_id,
                soft_delete_retention_days=spec.azure_soft_delete_days,
                public_network_access=settings.public_network_access,
                allowed_ips=settings.allowed_ips,
                subnet_ids=settings.subnet_ids,
                log_analytics_workspace_id=settings.log_analytics_workspace_id,
                protect=spec.is_prod,
                tags=spec.tags_for(_strictest(spec.secrets_on("azure"))),
            ),
            child,
        )
        rotated = [spec.azure_secret_name(s) for s in spec.secrets_on("azure") if spec.azure_rotates(s)]
        if rotated:
            assert settings.rotation_notification_url is not None  # spec cross-checks
            ExpiryNotifications(
                f"{spec.slug}-kv-expiry",
                ExpiryNotificationsArgs(vault, rg, settings.location, settings.rotation_notification_url, rotated, spec.tags_for()),
                child,
            )
        secrets = {s.name: s for s in spec.secrets_on("azure")}
        for workload in spec.all_workloads:
            reads = spec.reads(workload, "azure")
            if not reads:
                continue
            if settings.role_scope == "vault":
                grants = [SecretGrant("vault", vault.vault_id)]
            else:
                names = [spec.azure_secret_name(secrets[n]) for n in reads]
                grants = [SecretGrant(name, vault.secret_scope(name)) for name in names]
            self.azure_identities[workload.name] = WorkloadIdentity(
                f"azure-{workload.name}",
                WorkloadIdentityArgs(
                    identity_name=spec.azure_identity_name(workload),
                    subscription_id=settings.subscription_id,
                    resource_group=rg,
                    location=settings.location,
                    issuers=settings.issuers,
                    namespace=workload.namespace,
                    service_account=workload.service_account,
                    grants=grants,
                    tags=spec.tags_for(workload=workload.name),
                ),
                child,
            )

    def _build_kubernetes(self, spec: config.StackSpec, settings: config.KubernetesSpec) -> None:
        """Service accounts carrying each workload's identity, the controller, its stores and the
        ExternalSecrets, from the same workloads; nothing here is written by hand."""
        provider = k8s.Provider(
            "kubernetes",
            context=settings.context,
            render_yaml_to_directory=settings.render_yaml_to,
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=self, providers={"kubernetes": provider})
        labels = {"environment": spec.environment.value, "owner": spec.tags.owner}
        eso = settings.eso

        if settings.manage_namespaces:
            skip = {eso.namespace} if eso is not None and eso.install else set()
            for ns in sorted({w.namespace for w in spec.workloads if w.namespace} - skip):
                apply(f"namespace-{ns}", manifests.namespace(ns, labels), child)
        if eso is not None and eso.install:
            ExternalSecretsController(
                "external-secrets",
                ExternalSecretsControllerArgs(
                    eso.namespace, self._controller(spec).service_account, self._identity_annotations(eso.workload), eso.chart_version,
                    pod_labels=manifests.AZURE_USE_LABEL if eso.workload in self.azure_identities else {},
                ),
                child,
            )
        for workload in spec.all_workloads:
            if not (workload.namespace and workload.service_account):
                continue
            if eso is not None and eso.install and spec.is_eso_controller(workload):
                continue  # the chart creates and annotates the controller's service account
            direct_vault_login = spec.vault_access(workload) and workload.vault_login == "kubernetes" and spec.delivery(workload) != "external-secrets"
            KubernetesWorkload(
                workload.name,
                KubernetesWorkloadArgs(
                    namespace=workload.namespace,
                    service_account=workload.service_account,
                    annotations=self._identity_annotations(workload.name),
                    automount_token=direct_vault_login,
                    synced_secrets=spec.synced(workload),
                    labels=labels,
                ),
                child,
            )
        if eso is not None:
            self._build_secret_sync(spec, eso, labels, child)

    def _identity_annotations(self, workload: str) -> dict[str, pulumi.Input[str]]:
        """The cloud identities a workload's ServiceAccount carries: one annotation per cloud it reads."""
        annotations: dict[str, pulumi.Input[str]] = {}
        if workload in self.roles:
            annotations[manifests.IRSA_ANNOTATION] = self.roles[workload].role_arn
        if workload in self.gcp_accounts:
            annotations[manifests.GKE_ANNOTATION] = self.gcp_accounts[workload].email
        if workload in self.azure_identities:
            annotations[manifests.AZURE_CLIENT_ID_ANNOTATION] = self.azure_identities[workload].client_id
        return annotations

    def _controller(self, spec: config.StackSpec) -> config.WorkloadSpec:
        assert spec.eso is not None
        return next(w for w in spec.workloads if w.name == spec.eso.workload)

    def _build_secret_sync(self, spec: config.StackSpec, eso: config.EsoSpec, labels: dict, child: pulumi.ResourceOptions) -> None:
        """Per backend (and Vault mount) a ClusterSecretStore or a SecretStore per namespace; ExternalSecrets
        per namespace and secret."""
        controller = self._controller(spec)
        stores: dict[tuple[str, str], dict] = {}  # (store key, namespace) -> store
        for key, namespaces in spec.store_namespaces.items():
            if spec.is_cluster_store(key):
                users = [(controller.name, {"name": controller.service_account, "namespace": eso.namespace}, namespaces)]
            else:
                users = [(f"store-{ns}", {"name": config.STORE_SERVICE_ACCOUNT}, (ns,)) for ns in namespaces]
            for identity, service_account_ref, store_namespaces in users:
                store = self._secret_store(spec, key, identity, service_account_ref, store_namespaces, labels)
                stores.update({(key, ns): store for ns in store_namespaces})

        SecretSync(
            "external-secrets-sync",
            SecretSyncArgs(
                stores=list({id(store): store for store in stores.values()}.values()),
                secrets_by_namespace={
                    ns: [SyncedSecret(s.name, _remote_key(spec, s), s.properties, stores[(spec.store_key(s), ns)]) for s in by_name.values()]
                    for ns, by_name in spec.synced_by_namespace.items()
                },
                refresh_interval=eso.refresh_interval,
                labels=labels,
                # Stores of identities whose role assignments are new wait for them to propagate.
                ready=[identity.ready for identity in self.azure_identities.values()],
            ),
            child,
        )

    def _secret_store(self, spec: config.StackSpec, key: str, identity: str, service_account_ref: dict, namespaces: tuple[str, ...],
                      labels: dict) -> dict:
        """The store of one backend (or Vault mount) signing in as `identity`'s service account."""
        if key == "aws":
            provider = manifests.aws_provider(spec.aws.region, service_account_ref)
            name = f"aws-secrets-manager-{spec.environment.value}"
        elif key == "azure":
            assert spec.azure is not None  # spec cross-checks
            provider = manifests.azure_provider(spec.azure.vault_url, spec.azure.tenant_id, service_account_ref)
            name = f"azure-key-vault-{spec.environment.value}"
        elif key == "gcp":
            assert spec.gcp is not None and spec.gcp.gke is not None  # spec cross-checks
            gke = spec.gcp.gke
            provider = manifests.gcp_provider(spec.gcp.project_id, gke.location, gke.name, spec.gcp.cluster_project, service_account_ref)
            name = f"gcp-secret-manager-{spec.environment.value}"
        else:
            assert spec.vault is not None and spec.vault.kubernetes_auth is not None  # spec cross-checks
            mount = key.removeprefix("vault-")
            provider = manifests.vault_provider(
                spec.vault.address, mount, spec.vault.namespace, spec.vault.kubernetes_auth.mount,
                self.vault_identities[identity].role_name, spec.vault.kubernetes_auth.audience, service_account_ref,
            )
            name = f"vault-{mount}-{spec.environment.value}"
        return manifests.secret_store(name, provider, namespaces, labels)

    def _key_users(self, spec: config.StackSpec, secrets: tuple[config.SecretSpec, ...]) -> list[KeyUser]:
        # Only the workloads and rotations that touch these secrets, found through an index built once:
        # scanning all of them for every key is quadratic (10,000 secrets: 2,000 keys x 1,000 workloads).
        if not hasattr(self, "_secret_users"):
            self._secret_users = _SecretUsers(spec)
        index, names = self._secret_users, {s.name for s in secrets}
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
        initial = [spec.secret_path(s) for s in secrets if s.initial_value == "config"]
        if initial and spec.aws.deployer_role_arn:
            users.append(KeyUser(DEPLOYER_LABEL, spec.aws.deployer_role_arn, initial, "write"))
        return users


def _remote_key(spec: config.StackSpec, secret: config.SecretSpec) -> str:
    """The secret's name as its backend knows it (Key Vault and Secret Manager take no `/`)."""
    if secret.backend == "gcp":
        return spec.gcp_secret_id(secret)
    if secret.backend == "azure":
        return spec.azure_secret_name(secret)
    return spec.secret_path(secret)


class _SecretUsers:
    """Who uses which AWS secret, in the order keys list their users: each workload's reads then
    writes (workloads in spec order), then the automated rotations (own secret, master secret)."""

    def __init__(self, spec: config.StackSpec):
        self.accesses: list[tuple[config.WorkloadSpec, str, frozenset[str]]] = []
        self.by_secret: dict[str, list[int]] = {}
        for workload in spec.all_workloads:
            for access, names in (("read", spec.reads(workload, "aws")), ("write", spec.aws_writes(workload))):
                for name in names:
                    self.by_secret.setdefault(name, []).append(len(self.accesses))
                self.accesses.append((workload, access, frozenset(names)))
        self.rotations = spec.automated_rotations()
        self.rotations_by_secret: dict[str, list[int]] = {}
        for position, (rotated, rotation) in enumerate(self.rotations):
            for name in {rotated.name, rotation.master_secret} - {None}:
                self.rotations_by_secret.setdefault(name, []).append(position)

    def accesses_of(self, names: set[str]) -> list[tuple[config.WorkloadSpec, str, frozenset[str]]]:
        return [self.accesses[i] for i in sorted({i for name in names for i in self.by_secret.get(name, ())})]

    def rotations_of(self, names: set[str]) -> list[tuple[config.SecretSpec, config.RotationSpec]]:
        return [self.rotations[i] for i in sorted({i for name in names for i in self.rotations_by_secret.get(name, ())})]


def _strictest(secrets: tuple[config.SecretSpec, ...]) -> config.Classification:
    order = list(config.Classification)  # critical first
    return min((s.classification for s in secrets), key=order.index, default=config.Classification.LOW)


def _rotation_tags(rotation: config.RotationSpec) -> dict[str, str]:
    tags = {"rotation": rotation.kind}
    if rotation.days is not None:
        tags["rotation-days"] = str(rotation.days)
    return tags
