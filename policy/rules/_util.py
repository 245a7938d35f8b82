"""The compliance controls the rule modules cite, spelled once."""

from __future__ import annotations

HIPAA_ACCESS = "HIPAA 164.312(a)(1)"  # access control
HIPAA_AUDIT = "HIPAA 164.312(b)"  # audit controls
HIPAA_ENCRYPTION = "HIPAA 164.312(a)(2)(iv)"  # encryption and decryption
HIPAA_AUTHENTICATION = "HIPAA 164.312(d)"  # person or entity authentication
SOC2_MONITORING = "SOC2 CC7.2"  # monitoring of system components for anomalies
SOC2_ACCESS = "SOC2 CC6.1"  # logical access over protected information
SOC2_LEAST_PRIVILEGE = "SOC2 CC6.3"  # role-based access, least privilege
SOC2_BOUNDARY = "SOC2 CC6.6"  # access from outside the system's boundaries
SOC2_TRANSMISSION = "SOC2 CC6.7"  # transmission and movement of information restricted and protected
HIPAA_TRANSMISSION = "HIPAA 164.312(e)(1)"  # transmission security
