"""Synthetic estates of any size, shaped like the seeds: a mix of classes, teams with their own key,
workloads reading a few secrets each (directly, through External Secrets, or both), automated
rotations (generic and single-user PostgreSQL, some in a VPC), and a few Vault secrets per team
kept in the team's own KV mount.

What each size contains, for `size` secrets (i = 0 .. size-1):
- classes cycle critical, high, high, medium, low; critical secrets get a dedicated key, the others
  the key of the team that reads them (`team<t>`, t = (i // 10) % TEAMS);
- rotation: critical manual/365 days; i % 5 == 1 generic (automated, a Lambda and its role);
  i % 5 == 2 postgres-single (automated, every other one in a VPC); medium manual; low none;
- i % 10 == 8 (a medium secret) lives in Vault, in the mount `kv-team<t>`: each such mount is
  read from one namespace only, so External Secrets reaches it through a namespaced SecretStore,
  while the AWS secrets of several namespaces come through one ClusterSecretStore;
- size // 10 workloads in namespaces team0..team19, each reading 5 secrets of its block of 10;
  delivery cycles both (IRSA role + synced Secrets), external-secrets, direct.
"""

from __future__ import annotations

CLASSES = ("critical", "high", "high", "medium", "low")
READS_PER_WORKLOAD = 5
SECRETS_PER_WORKLOAD = 10
TEAMS = 20
DELIVERY = ("both", "external-secrets", "direct")
VPC = {"subnet_ids": ["subnet-0a1b2c3d4e5f60718"], "security_group_ids": ["sg-0a1b2c3d4e5f60718"]}
PUBLIC_DATABASE = "bench: a database reachable without a VPC (its endpoint is public)"
ORGANIZATION_TRAIL = "arn:aws:cloudtrail:us-east-1:123456789012:trail/organization"
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/BENCH0000000000000000000000000000"


def team_of(i: int) -> int:
    """The team (namespace) whose workload reads secret i."""
    return (i // SECRETS_PER_WORKLOAD) % TEAMS


def rotation_of(i: int, classification: str) -> dict | None:
    if classification == "critical":
        return {"kind": "manual", "days": 365}
    if i % 5 == 1:
        return {"kind": "generic", "days": 90, "overlap_hours": 24}
    if i % 5 == 2:
        rotation = {"kind": "postgres-single", "days": 30, "window": "4h"}
        # A prod PostgreSQL rotation needs its VPC, or the spec saying why the database is reachable without one (#15).
        return rotation | ({"vpc": VPC} if i % 10 == 2 else {"public_database": PUBLIC_DATABASE})
    if classification == "medium":
        return {"kind": "manual", "days": 180}
    return None


def estate(size: int) -> dict:
    """The `secrets-platform:` namespace of a stack with `size` secrets and size/10 workloads."""
    workload_count = max(1, size // SECRETS_PER_WORKLOAD)
    teams = min(TEAMS, workload_count)
    secrets = []
    for i in range(size):
        classification = CLASSES[i % len(CLASSES)]
        secret = {"name": f"s{i:05d}", "classification": classification, "description": f"synthetic secret {i}"}
        if i % 10 == 8:
            secret |= {"backend": "vault", "mount": f"kv-team{team_of(i)}"}
        elif classification != "critical":
            secret["key"] = f"team{team_of(i)}"
        if (rotation := rotation_of(i, classification)) is not None:
            secret["rotation"] = rotation
        secrets.append(secret)
    workloads = [
        {
            "name": f"w{w:04d}",
            "namespace": f"team{w % TEAMS}",
            "service_account": f"w{w:04d}",
            "delivery": DELIVERY[w % len(DELIVERY)],
            "reads": [secrets[(w * SECRETS_PER_WORKLOAD + j * 2) % size]["name"] for j in range(READS_PER_WORKLOAD)],
        }
        for w in range(workload_count)
    ]
    controller = {"name": "external-secrets", "namespace": "external-secrets", "service_account": "external-secrets"}
    return {
        "environment": "prod",
        "prefix": "bench/{env}/",
        # Audit in prod (#15): the organisation trail recorded, a Vault file device.
        "aws": {"account_id": "123456789012", "region": "us-east-1", "audit": {"organization_trail_arn": ORGANIZATION_TRAIL}},
        "cluster": {"oidc_issuer_url": f"https://{ISSUER}", "oidc_provider_arn": f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"},
        "vault": {
            "address": "https://vault.bench.example:8200",
            "kv_mounts": [{"path": f"kv-team{t}"} for t in range(teams)],
            "kubernetes_auth": {"host": "https://kubernetes.default.svc"},
            "audit": {"device": "file", "file_path": "/vault/audit/audit.log"},
        },
        "kubernetes": {"manage_namespaces": True, "eso": {"install": True}},
        "tags": {"owner": "bench", "cost_centre": "bench"},
        "keys": [{"name": f"team{t}", "description": f"Encrypts team{t}'s secrets"} for t in range(teams)],
        "secrets": secrets,
        "workloads": [*workloads, controller],
        # Hand-rotated secrets need a writer (#15): one operator role and one Vault group write them; alerts to a topic.
        "operators": [{
            "name": "operators", "aws_role_arn": "arn:aws:iam::123456789012:role/bench-operators",
            "vault_group_id": "00000000-0000-4000-8000-000000000000",
            "writes": [s["name"] for s in secrets if s.get("rotation", {}).get("kind") == "manual"],
        }],
        "alerts": {"topic_arn": "arn:aws:sns:us-east-1:123456789012:bench-alerts"},
    }
