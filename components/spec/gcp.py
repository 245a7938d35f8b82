"""GCP Secret Manager: the project, replication and Cloud KMS keys, the cluster the workloads sign in from (a
GKE cluster through its workload identity pool, any other cluster through Workload Identity Federation with
its OIDC issuer), the names derived for them, and their checks."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Annotated, Mapping

from pydantic import Field, StringConstraints

from components.spec.audit import ElsewhereSpec
from components.spec.base import CLASS_POLICY, SHARED_KEY_NAME, HttpsUrl, Spec
from components.spec.checks import duplicates, manual_rotation_only, missing_section
from components.spec.errors import Problem
from components.spec.kubernetes import service_account_subject

if TYPE_CHECKING:
    from components.spec.models import SecretSpec, WorkloadSpec
    from components.spec.stack import StackSpec

GcpProjectId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")]
GcpRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+[0-9]$")]
# Cloud KMS rotation is a number of days here; Google accepts 1 day to 100 years, the classes ask for at most a year.
GCP_KEY_ROTATION_DAYS = 90
GCP_SERVICE_AGENT = "secretmanager.googleapis.com"
# Workload identity pool and provider ids: 4 to 32 lowercase letters, digits and hyphens (`gcp-` is Google's).
PoolId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{2,30}[a-z0-9]$")]
# A GKE cluster's service account token issuer; every other issuer is not GKE.
GKE_ISSUER = re.compile(r"^https://container\.googleapis\.com/v1/projects/([^/]+)/locations/([^/]+)/clusters/([^/]+)$")


class GkeClusterSpec(Spec):
    """The GKE cluster whose workload identity pool the workloads' Kubernetes service accounts sign in through."""

    name: Annotated[str, StringConstraints(pattern=r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$")]
    location: Annotated[str, StringConstraints(pattern=r"^[a-z]+-[a-z]+[0-9](-[a-z])?$")]
    """Region (regional cluster) or zone (zonal cluster)."""
    project_id: GcpProjectId | None = None
    """The cluster's project, when it is not gcp.project_id (its pool is then `<that project>.svc.id.goog`)."""


class GcpFederationSpec(Spec):
    """Workload Identity Federation for workloads on a cluster that is not GKE (EKS, AKS, any other): a pool
    of this stack whose OIDC provider trusts the cluster's service account token issuer, admits exactly the
    workloads' service accounts (attribute condition on `assertion.sub`), and maps `google.subject` to
    `assertion.sub`. Each workload is then granted its secrets directly as
    `principal://iam.googleapis.com/projects/<project_number>/locations/global/workloadIdentityPools/<pool>/subject/system:serviceaccount:<ns>:<sa>`:
    no Google service account exists that could be impersonated or granted more."""

    issuer_url: HttpsUrl | None = None
    """The cluster's OIDC issuer (`aws eks describe-cluster --query cluster.identity.oidc.issuer`, AKS
    `oidcIssuerProfile.issuerUrl`); default: `cluster.oidc_issuer_url`, else `azure.aks_oidc_issuer_url`.
    Google fetches its discovery document and keys, so it must be reachable from the internet."""
    pool_id: PoolId | None = None
    """Default `<slug>-k8s` (shortened with a digest past 32 characters)."""
    provider_id: PoolId = "kubernetes"


class GcpSpec(Spec):
    project_id: GcpProjectId
    """The project holding the secrets, keys and service accounts; the provider is pinned to it."""
    replica_regions: tuple[GcpRegion, ...] = ()
    """Empty: automatic replication (Google chooses the locations; the CMEK key lives in `global`). Listed:
    user-managed replication to exactly these regions, each replica encrypted with a key of its own region."""
    key_rotation_days: int = Field(default=GCP_KEY_ROTATION_DAYS, ge=1, le=365)
    """Cloud KMS rotation period of the keys (a new primary version; old versions still decrypt)."""
    rotation_topic: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z][a-zA-Z0-9_.~+%-]{2,254}$")] | None = None
    """Pub/Sub topic that receives rotation notifications (default `<slug>-secret-rotation`); created only
    when a GCP secret declares rotation."""
    project_number: Annotated[str, StringConstraints(pattern=r"^[1-9][0-9]{5,18}$")] | None = None
    """The project's number (`gcloud projects describe <project_id> --format='value(projectNumber)'`), not its
    id: federated principals and the token exchange audience name the pool by it. Required with
    workload_identity_federation."""
    gke: GkeClusterSpec | None = None
    """The workloads run on this GKE cluster: they sign in through its pool `<project>.svc.id.goog`. One of gke
    or workload_identity_federation is required when workloads (or the External Secrets controller) read GCP secrets."""
    workload_identity_federation: GcpFederationSpec | None = None
    """The workloads run on a cluster that is not GKE: the GKE pool accepts only GKE tokens, so they sign in
    through a pool of this stack that trusts the cluster's OIDC issuer."""
    workload_identity_pool: str | None = None
    """Derived as `<cluster project>.svc.id.goog`; declare it only to have the spec check it."""
    audit: ElsewhereSpec | None = None
    """`elsewhere: <reason>` when Secret Manager's data-access audit logs are configured outside this stack (e.g. at the
    organisation); otherwise the stack turns on DATA_READ and DATA_WRITE for secretmanager.googleapis.com."""

    @property
    def cluster_project(self) -> str:
        return (self.gke.project_id if self.gke else None) or self.project_id

    @property
    def identity_pool(self) -> str:
        return f"{self.cluster_project}.svc.id.goog"

    @property
    def identity_provider(self) -> str | None:
        """The GKE cluster as the pool's identity provider (what ESO exchanges the service account token with)."""
        if self.gke is None:
            return None
        return f"https://container.googleapis.com/v1/projects/{self.cluster_project}/locations/{self.gke.location}/clusters/{self.gke.name}"

    @property
    def federated(self) -> bool:
        return self.workload_identity_federation is not None

    @property
    def kms_locations(self) -> tuple[str, ...]:
        """Where CMEK keys must live: `global` for automatic replication, else each replica region."""
        return self.replica_regions or ("global",)


class GcpNaming:
    """StackSpec's GCP-derived values: secret ids, service accounts, keys, labels (mixed into StackSpec)."""

    def gcp_access(self: StackSpec, workload: WorkloadSpec) -> bool:
        """Whether the workload gets a Google service account (and its workload identity binding)."""
        return bool(self.reads(workload, "gcp") or self.writes(workload, "gcp"))

    def gcp_secret_id(self: StackSpec, secret: SecretSpec) -> str:
        """`vibebox-prod-database`: Secret Manager ids take no `/`, so the slug of the prefix, then the name;
        an explicit `path` is the id as it is."""
        return secret.path or f"{self.slug}-{secret.name}"

    def gcp_service_account_id(self: StackSpec, workload: WorkloadSpec) -> str:
        """The Google service account's account id (6 to 30 characters): `<slug>-<workload>`, or when that is too
        long its first 23 characters and a stable 6-character digest, so the name never changes between plans."""
        wanted = f"{self.slug}-{workload.name}"
        if len(wanted) <= 30:
            return wanted
        return f"{wanted[:23].rstrip('-')}-{hashlib.sha256(wanted.encode()).hexdigest()[:6]}"

    @property
    def gcp_issuer(self: StackSpec) -> str | None:
        """The OIDC issuer the federation trusts: declared, else the cluster's (EKS `cluster`, else AKS)."""
        federation = self.gcp.workload_identity_federation if self.gcp else None
        if federation is None:
            return None
        return federation.issuer_url or (self.cluster.oidc_issuer_url if self.cluster else None) or (self.azure.aks_oidc_issuer_url if self.azure else None)

    @property
    def gcp_pool_id(self: StackSpec) -> str:
        federation = self.gcp.workload_identity_federation if self.gcp else None
        if federation is not None and federation.pool_id is not None:
            return federation.pool_id
        wanted = f"{self.slug}-k8s"
        return wanted if len(wanted) <= 32 else f"{wanted[:25].rstrip('-')}-{hashlib.sha256(wanted.encode()).hexdigest()[:6]}"

    @property
    def gcp_pool_name(self: StackSpec) -> str:
        """`projects/<number>/locations/global/workloadIdentityPools/<pool>`: how IAM members name the pool."""
        return f"projects/{self.gcp.project_number}/locations/global/workloadIdentityPools/{self.gcp_pool_id}"

    @property
    def gcp_provider_name(self: StackSpec) -> str:
        return f"{self.gcp_pool_name}/providers/{self.gcp.workload_identity_federation.provider_id}"

    @property
    def gcp_token_audience(self: StackSpec) -> str:
        """The `aud` of the service account tokens the provider accepts (Google's default form, stated)."""
        return f"https://iam.googleapis.com/{self.gcp_provider_name}"

    @property
    def gcp_sts_audience(self: StackSpec) -> str:
        """What the token exchange names (ESO's workloadIdentityFederation.audience)."""
        return f"//iam.googleapis.com/{self.gcp_provider_name}"

    def gcp_federated_principal(self: StackSpec, workload: WorkloadSpec) -> str:
        """Exactly one Kubernetes service account of the federated cluster, as an IAM member."""
        return f"principal://iam.googleapis.com/{self.gcp_pool_name}/subject/{service_account_subject(workload.namespace, workload.service_account)}"

    def gcp_key_name(self: StackSpec, secret: SecretSpec) -> str:
        """Critical secrets get a dedicated Cloud KMS key, the others share the environment's."""
        return secret.name if CLASS_POLICY[secret.classification].dedicated_key else SHARED_KEY_NAME

    @property
    def gcp_rotation_topic(self: StackSpec) -> str:
        return (self.gcp.rotation_topic if self.gcp else None) or f"{self.slug}-secret-rotation"

    def gcp_rotates(self: StackSpec, secret: SecretSpec) -> bool:
        return secret.backend == "gcp" and self.rotation(secret).kind != "none"

    def gcp_labels(self: StackSpec, tags: Mapping[str, str]) -> dict[str, str]:
        """Stack tags as GCP labels: lowercase keys and values of letters, digits, `_` and `-`, at most 63
        characters (keys start with a letter); anything else becomes `_`."""
        def clean(text: str) -> str:
            return re.sub(r"[^a-z0-9_-]", "_", text.lower())[:63]

        labels = {}
        for key, value in tags.items():
            label = clean(key)
            if not label[:1].isalpha():
                label = f"k{label}"[:63]
            labels[label] = clean(value)
        return labels


_NOT_FOR_GCP = {"key": "aws", "replica_regions": "aws (GCP replication is gcp.replica_regions)", "recovery_window_days": "aws"}


def gcp_checks(spec: StackSpec) -> list[Problem]:
    gcp = spec.gcp
    if gcp is None:
        return missing_section(spec, "gcp", "project_id, replication, gke")
    problems: list[Problem] = []
    for index, secret in enumerate(spec.secrets):
        at = ("secrets", index)
        if secret.backend != "gcp":
            continue
        for field, backends in _NOT_FOR_GCP.items():
            if field in secret.model_fields_set:
                problems.append(Problem((*at, field), f"only for backend: {backends}"))
        problems += manual_rotation_only(at, secret, "GCP", "manual: Secret Manager notifies the rotation topic on the cadence")
        for field in ("schedule", "window"):
            if secret.rotation is not None and getattr(secret.rotation, field) is not None:
                problems.append(Problem((*at, "rotation", field), "GCP rotation is a period in days (rotation.days); Secret Manager takes no schedule or window"))
        if len(spec.gcp_secret_id(secret)) > 255:
            problems.append(Problem((*at, "name"), f"'{spec.gcp_secret_id(secret)}' is longer than the 255 characters of a secret id"))
    for name, indexes in duplicates(gcp.replica_regions).items():
        problems.append(Problem(("gcp", "replica_regions", indexes[1]), f"'{name}' is listed twice"))
    if gcp.workload_identity_pool is not None and gcp.federated:
        problems.append(Problem(("gcp", "workload_identity_pool"), "GKE's pool, only with gke; the federation's pool is workload_identity_federation.pool_id"))
    elif gcp.workload_identity_pool is not None and gcp.workload_identity_pool != gcp.identity_pool:
        problems.append(Problem(("gcp", "workload_identity_pool"), f"GKE's pool is <cluster project>.svc.id.goog: must be '{gcp.identity_pool}'"))
    problems += _identity_checks(spec, gcp)
    if not spec.secrets_on("gcp"):
        problems.append(Problem(("gcp",), "no secret has backend: gcp; remove the section or add one"))
    return problems


def _cluster_issuers(spec: StackSpec) -> list[tuple[tuple[str, ...], str]]:
    """Where the stack already names the issuer of its workloads' service account tokens."""
    found = []
    if spec.cluster is not None:
        found.append((("cluster", "oidc_issuer_url"), spec.cluster.oidc_issuer_url))
    if spec.azure is not None:
        found.append((("azure", "aks_oidc_issuer_url"), spec.azure.aks_oidc_issuer_url))
    return found


def _identity_checks(spec: StackSpec, gcp: GcpSpec) -> list[Problem]:
    """GKE's pool accepts only tokens of GKE clusters: a stack whose workloads run elsewhere federates."""
    problems: list[Problem] = []
    readers = [w.name for w in spec.all_workloads if spec.gcp_access(w)]
    federation = gcp.workload_identity_federation
    if gcp.gke is not None and federation is not None:
        problems.append(Problem(("gcp", "workload_identity_federation"), "declare one of gcp.gke (workloads on GKE) or gcp.workload_identity_federation (any other cluster)"))
        return problems
    if gcp.gke is None and federation is None:
        if readers:
            problems.append(Problem(("gcp", "gke"), f"required: {', '.join(readers)} read GCP secrets; declare gcp.gke (workloads on GKE) "
                                    "or gcp.workload_identity_federation (any other cluster, with its OIDC issuer)"))
        return problems
    if gcp.gke is not None:
        gke_issuer = gcp.identity_provider
        for at, issuer in _cluster_issuers(spec):
            if issuer != gke_issuer and not GKE_ISSUER.match(issuer):
                problems.append(Problem(("gcp", "gke"), f"the workloads' cluster is not GKE ({'.'.join(at)} is {issuer}): the pool {gcp.identity_pool} "
                                        "accepts only GKE tokens; declare gcp.workload_identity_federation and gcp.project_number instead"))
                break
        return problems
    for field in ("pool_id", "provider_id"):
        if (getattr(federation, field) or "").startswith("gcp-"):
            problems.append(Problem(("gcp", "workload_identity_federation", field), "the prefix gcp- is reserved by Google"))
    if gcp.project_number is None:
        problems.append(Problem(("gcp", "project_number"), "required with workload_identity_federation: federated principals name the pool by the project number"))
    issuer = spec.gcp_issuer
    if issuer is None:
        problems.append(Problem(("gcp", "workload_identity_federation", "issuer_url"), "required: the cluster's OIDC issuer is unknown (no cluster.oidc_issuer_url or azure.aks_oidc_issuer_url)"))
    elif federation.issuer_url is not None:
        for at, declared in _cluster_issuers(spec):
            if declared != federation.issuer_url:
                problems.append(Problem(("gcp", "workload_identity_federation", "issuer_url"), f"the workloads' cluster has one issuer: {'.'.join(at)} is {declared}"))
                break
    return problems
