"""Synthetic estates of any size, shaped like the seeds: a mix of classes, workloads reading a few secrets each."""

from __future__ import annotations

CLASSES = ("critical", "high", "high", "medium", "low")
ROTATION = {"critical": {"kind": "manual", "days": 365}, "high": {"kind": "manual", "days": 90}, "medium": {"kind": "manual", "days": 180}}
READS_PER_WORKLOAD = 5
SECRETS_PER_WORKLOAD = 10


def estate(size: int) -> dict:
    """The `secrets-platform:` namespace of a stack with `size` secrets and size/10 workloads."""
    secrets = []
    for i in range(size):
        classification = CLASSES[i % len(CLASSES)]
        secret = {"name": f"s{i:05d}", "classification": classification, "description": f"synthetic secret {i}"}
        if classification in ROTATION:
            secret["rotation"] = ROTATION[classification]
        secrets.append(secret)
    workloads = [
        {
            "name": f"w{w:04d}",
            "namespace": f"team{w % 20}",
            "service_account": f"w{w:04d}",
            "reads": [secrets[(w * SECRETS_PER_WORKLOAD + j * 2) % size]["name"] for j in range(READS_PER_WORKLOAD)],
        }
        for w in range(max(1, size // SECRETS_PER_WORKLOAD))
    ]
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/BENCH0000000000000000000000000000"
    return {
        "environment": "prod",
        "prefix": "bench/{env}/",
        "aws": {"account_id": "123456789012", "region": "us-east-1"},
        "cluster": {"oidc_issuer_url": f"https://{issuer}", "oidc_provider_arn": f"arn:aws:iam::123456789012:oidc-provider/{issuer}"},
        "tags": {"owner": "bench", "cost_centre": "bench"},
        "secrets": secrets,
        "workloads": workloads,
    }
