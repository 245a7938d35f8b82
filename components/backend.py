"""The backend interface: what every secrets backend (AWS, Vault, GCP, Azure, ...) offers the composition.

A backend package (`components/<backend>/`) has one entry point, `backend.py`, whose class implements
`Backend` and is listed once in `components.registry`. The composition (`components.platform`) and the
delivery to Kubernetes (`components.kubernetes.delivery`) use only what is declared here; a backend never
imports another backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Literal, Mapping, Protocol, Sequence

import pulumi

from components.spec import Classification, RotationSpec, SecretSpec, StackSpec, WorkloadSpec

Access = Literal["read", "write", "rotate"]


class Grant(Protocol):
    """What a backend's typed grant tells everyone: which secret and which access. The rest (ARNs and key
    statements, Vault paths, IAM roles, role assignment scopes) is the backend's own."""

    @property
    def secret_name(self) -> str: ...

    @property
    def access(self) -> str: ...


@dataclass(frozen=True)
class StoreProvider:
    """An External Secrets store of one backend: its name and its `spec.provider` block."""

    name: str
    provider: Mapping[str, Any]


@dataclass(frozen=True)
class PodIdentity:
    """What a workload's Kubernetes ServiceAccount (and, for the ESO controller, its pods) carry so the
    workload signs in as its identity in a backend: e.g. the IRSA role annotation."""

    annotations: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    automount_token: bool = False  # the workload presents its own service account token (e.g. Vault's Kubernetes auth)


class Backend(Protocol):
    """One secrets backend, built from the stack spec as children of the platform component."""

    name: ClassVar[str]  # the value of `secrets[].backend`
    outputs_declared: ClassVar[tuple[str, ...]]  # the platform outputs it fills, present (empty) when disabled

    @classmethod
    def enabled(cls, spec: StackSpec) -> bool:
        """Whether the stack uses this backend (its section is present)."""
        ...

    def __init__(self, spec: StackSpec, parent: pulumi.Resource, platform_name: str) -> None:
        """Builds the backend's resources as children of `parent` (the platform named `platform_name`):
        provider, keys, secrets, and each consuming workload's identity holding exactly its grants."""
        ...

    def grant(self, identity: str, secret: str, access: Access) -> Grant:
        """`access` on one secret (and what protects it, e.g. its key) for the named workload's identity."""
        ...

    def store_provider(self, store_key: str, identity: str, service_account_ref: Mapping[str, str]) -> StoreProvider:
        """The External Secrets store for `store_key` (`spec.store_key`), signing in as `identity`'s service account."""
        ...

    def remote_key(self, secret: SecretSpec) -> str:
        """The secret's name as the backend knows it, for an ExternalSecret's `remoteRef.key`."""
        ...

    def pod_identity(self, workload: WorkloadSpec) -> PodIdentity:
        """The ServiceAccount annotations (and pod labels) the workload needs to sign in; empty if none."""
        ...

    def ready(self) -> Sequence[pulumi.Resource]:
        """Resources the stores must wait for (e.g. role assignments that take minutes to propagate)."""
        ...

    def outputs(self) -> Mapping[str, Mapping[str, pulumi.Output]]:
        """Output name -> {logical name: value}, for each of `outputs_declared`."""
        ...


class BackendBase:
    """What most backends share: built when the stack has their section (`spec.<name>`, e.g. `spec.vault`),
    holding the spec and that section, nothing for stores to wait for. Every resource of a backend is a child of
    the platform created through the backend's own provider: a backend declares that provider (`_provider`) and
    builds its resources with the options the base derives from it (`_build`)."""

    name: ClassVar[str]

    @classmethod
    def enabled(cls, spec: StackSpec) -> bool:
        return getattr(spec, cls.name) is not None

    def __init__(self, spec: StackSpec, parent: pulumi.Resource, platform_name: str):
        self.spec = spec
        self.settings: Any = getattr(spec, self.name)  # each backend narrows the type of its section
        assert self.settings is not None  # the platform builds only enabled backends
        self.provider = self._provider(pulumi.ResourceOptions(parent=parent), platform_name)
        self._build(parent, pulumi.ResourceOptions(parent=parent, providers={self.provider.package: self.provider}))

    def _provider(self, opts: pulumi.ResourceOptions, platform_name: str) -> pulumi.ProviderResource:
        """The backend's provider, a child of the platform (`opts`)."""
        raise NotImplementedError

    def _build(self, parent: pulumi.Resource, child: pulumi.ResourceOptions) -> None:
        """The backend's resources, each with `child` (or options derived from it): under the platform `parent`,
        through the backend's provider."""
        raise NotImplementedError

    def ready(self) -> list[pulumi.Resource]:
        return []


def strictest(secrets: Sequence[SecretSpec]) -> Classification:
    """The most sensitive class among `secrets` (low when there are none): what a shared key or vault is tagged."""
    order = list(Classification)  # critical first
    return min((s.classification for s in secrets), key=order.index, default=Classification.LOW)


def rotation_tags(rotation: RotationSpec) -> dict[str, str]:
    tags = {"rotation": rotation.kind}
    if rotation.days is not None:
        tags["rotation-days"] = str(rotation.days)
    return tags


def write_once(version: Callable[..., pulumi.CustomResource], name: str, value: pulumi.Input[str], value_property: str,
               ignored: Sequence[str], guarded: pulumi.ResourceOptions, **target: Any) -> pulumi.CustomResource:
    """The secret's first version (`<name>-initial`), through the provider's write-only property `value_property`
    (with its `<value_property>_version` at 1): the value is sent once and never stored in Pulumi state. Afterwards
    the value belongs to rotation and operators, so `ignored` (the value properties) never write it back."""
    return version(
        f"{name}-initial",
        **target,
        **{value_property: pulumi.Output.secret(value), f"{value_property}_version": 1},
        opts=pulumi.ResourceOptions.merge(guarded, pulumi.ResourceOptions(ignore_changes=list(ignored))),
    )
