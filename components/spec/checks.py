"""Helpers the per-backend cross-checks share."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from components.spec.errors import Problem
from components.spec.rotation import MANUAL_ROTATION_KINDS

if TYPE_CHECKING:
    from components.spec.models import SecretSpec
    from components.spec.stack import StackSpec


def duplicates(names: Iterable[str]) -> dict[str, list[int]]:
    """Each name listed more than once -> the indexes it is listed at."""
    seen: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        seen.setdefault(name, []).append(index)
    return {name: idx for name, idx in seen.items() if len(idx) > 1}


def missing_section(spec: StackSpec, backend: str, contents: str) -> list[Problem]:
    """One problem per secret on `backend` when the stack has no `<backend>:` section."""
    article = "an" if backend[0] in "aeiou" else "a"
    return [Problem(("secrets", index, "backend"), f"backend '{backend}' needs {article} {backend}: section ({contents})")
            for index, secret in enumerate(spec.secrets) if secret.backend == backend]


def manual_rotation_only(at: tuple, secret: SecretSpec, backend: str, how: str) -> list[Problem]:
    """The problem of a non-AWS secret declaring a rotation kind that needs a rotation function."""
    if secret.rotation is None or secret.rotation.kind in MANUAL_ROTATION_KINDS:
        return []
    return [Problem((*at, "rotation", "kind"), f"'{secret.rotation.kind}' rotation needs backend: aws; {backend} secrets take "
                    f"{', '.join(MANUAL_ROTATION_KINDS)} ({how})")]
