"""The composition: builds every registered backend the stack uses, then delivers their secrets to
Kubernetes. Spec in, resources out; it knows no backend's internals (they live in `components/<backend>/`
behind `components.backend.Backend`) and makes no decisions about defaults (they live in components.spec)."""

from __future__ import annotations

import pulumi

from components.spec import StackSpec
from components.backend import Backend
from components.kubernetes.delivery import KubernetesDelivery
from components.registry import BACKENDS


class SecretsPlatform(pulumi.ComponentResource):
    def __init__(self, name: str, spec: StackSpec, opts: pulumi.ResourceOptions | None = None):
        super().__init__("secrets-platform:index:Platform", name, None, opts)
        # Each backend's resources are children of this component (not of a component per backend),
        # so their URNs are the ones they had before backends were plug-ins.
        self.backends: dict[str, Backend] = {
            backend.name: backend(spec, self, name) for backend in BACKENDS if backend.enabled(spec)
        }
        if spec.kubernetes is not None:
            KubernetesDelivery(spec, self, self.backends)

        # Every declared output exists, empty when its backend is not used, so stacks export the same names.
        self.outputs: dict[str, dict[str, pulumi.Output]] = {name: {} for backend in BACKENDS for name in backend.outputs_declared}
        for backend in self.backends.values():
            self.outputs.update(backend.outputs())
        self.register_outputs(self.outputs)
