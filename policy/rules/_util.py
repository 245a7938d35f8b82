"""The compliance controls the rule modules cite, spelled once."""

from __future__ import annotations

HIPAA_ACCESS = "HIPAA 164.312(a)(1)"  # access control
HIPAA_AUDIT = "HIPAA 164.312(b)"  # audit controls
SOC2_ACCESS = "SOC2 CC6.1"  # logical access over protected information
SOC2_LEAST_PRIVILEGE = "SOC2 CC6.3"  # role-based access, least privilege
SOC2_BOUNDARY = "SOC2 CC6.6"  # access from outside the system's boundaries
