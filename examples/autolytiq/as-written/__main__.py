"""Seed 002 (Autolytiq) as its document writes it: the grants our policy pack must block.

Its IAM policy already lists exact secret ARNs; what reaches too far is the store, a
ClusterSecretStore on the controller's IRSA role that any namespace may reference (an ExternalSecret
in any namespace can copy any of the eight secrets), and the AWS managed key. The document writes
`external-secrets.io/v1beta1`; the pack reads the v1 API that ESO serves today, so it is written as v1.
Planned offline by tests/examples/test_examples.py; GRANTS says which rule blocks each grant."""

import json

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

ACCOUNT, REGION = "123456789012", "us-east-1"
OIDC = "oidc.eks.us-east-1.amazonaws.com/id/B2C3D4E5F60718293A4B5C6D7E8F90A1"
NAMES = ("database", "redis", "jwt", "pii-encryption", "session", "smtp", "resend", "external-apis")

# secrets.tf: recovery window 30 in prod, no kms_key_id (so the AWS managed aws/secretsmanager key).
secrets = [aws.secretsmanager.Secret(name, name=f"autolytiq/prod/{name}", recovery_window_in_days=30,
                                     tags={"classification": "high", "environment": "prod", "rotation": "manual", "rotation-days": "90"})
           for name in NAMES]

# external_secrets_role: IRSA for the controller, allowed every secret's exact ARN (the document's style).
eso_role = aws.iam.Role("external-secrets-role", name="autolytiq-prod-external-secrets", assume_role_policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/{OIDC}"},
                   "Action": "sts:AssumeRoleWithWebIdentity",
                   "Condition": {"StringEquals": {f"{OIDC}:sub": "system:serviceaccount:external-secrets:external-secrets",
                                                  f"{OIDC}:aud": "sts.amazonaws.com"}}}],
}))
aws.iam.RolePolicy("external-secrets-access", role=eso_role.name, policy=pulumi.Output.all(*(s.arn for s in secrets)).apply(
    lambda arns: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], "Resource": arns},
    ]})))

# cluster-secret-store.yaml: no conditions, so every namespace may use it.
k8s.apiextensions.CustomResource("aws-secrets-manager", api_version="external-secrets.io/v1", kind="ClusterSecretStore",
    metadata={"name": "aws-secrets-manager"},
    spec={"provider": {"aws": {"service": "SecretsManager", "region": REGION,
                               "auth": {"jwt": {"serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}}})
k8s.core.v1.ServiceAccount("external-secrets-sa", metadata={"name": "external-secrets", "namespace": "external-secrets",
                                                          "annotations": {"eks.amazonaws.com/role-arn": eso_role.arn}})

GRANTS = [
    ("aws-secrets-manager", "SP-ESO-001", "ClusterSecretStore aws-secrets-manager without spec.conditions"),
    ("pii-encryption", "SP-SM-001", "secrets.tf without kms_key_id: the AWS managed key, usable by any principal allowed GetSecretValue"),
]
# (principal, secret, capability) the access matrix must show: any namespace copies any secret.
REACH = [
    ("namespace:*", "aws:autolytiq/prod/database", "read"),
    ("namespace:*", "aws:autolytiq/prod/redis", "read"),
    ("namespace:*", "aws:autolytiq/prod/jwt", "read"),
    ("namespace:*", "aws:autolytiq/prod/pii-encryption", "read"),
    ("namespace:*", "aws:autolytiq/prod/session", "read"),
    ("namespace:*", "aws:autolytiq/prod/smtp", "read"),
    ("namespace:*", "aws:autolytiq/prod/resend", "read"),
    ("namespace:*", "aws:autolytiq/prod/external-apis", "read"),
]
