"""The registered secrets backends, in the order the platform builds them. Adding a backend is one line here
(see README, "Adding a backend")."""

from __future__ import annotations

from components.aws.backend import AwsBackend
from components.azure.backend import AzureBackend
from components.backend import Backend
from components.gcp.backend import GcpBackend
from components.vault.backend import VaultBackend

BACKENDS: tuple[type[Backend], ...] = (AwsBackend, VaultBackend, GcpBackend, AzureBackend)
