"""Who can read what: the access matrix of a planned estate across AWS, Vault and Kubernetes/ESO, and
its diff between two plans (base branch vs pull request). See matrix.access_matrix and cli.main."""

from offline.access.cli import main
from offline.access.matrix import AccessDiff, AccessMatrix, Change, Entry, access_matrix, declared_classifications, declared_controller, diff

__all__ = ["AccessDiff", "AccessMatrix", "Change", "Entry", "access_matrix", "declared_classifications", "declared_controller", "diff", "main"]
