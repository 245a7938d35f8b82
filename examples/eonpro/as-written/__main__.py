"""Seed 003 (EONPRO) as its document writes it: the grants our policy pack must block.

`aws secretsmanager create-secret --name eonpro/prod/database` without --kms-key-id encrypts with the
AWS managed key, which every principal of the account allowed GetSecretValue can use; the
ExternalSecret eonpro-secrets goes through a ClusterSecretStore with no namespace conditions. The
document writes `external-secrets.io/v1beta1`; the pack reads the v1 API, so it is written as v1.
Planned offline by tests/examples/test_examples.py; GRANTS says which rule blocks each grant."""

import json

import pulumi_aws as aws
import pulumi_kubernetes as k8s

REGION = "us-east-1"
OIDC = "oidc.eks.us-east-1.amazonaws.com/id/C3D4E5F60718293A4B5C6D7E8F90A1B2"

database = aws.secretsmanager.Secret("eonpro-database", name="eonpro/prod/database", recovery_window_in_days=30,
                                     tags={"classification": "high", "environment": "prod", "rotation": "manual", "rotation-days": "90"})

eso_role = aws.iam.Role("external-secrets-role", name="eonpro-prod-external-secrets", assume_role_policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Federated": f"arn:aws:iam::123456789012:oidc-provider/{OIDC}"},
                   "Action": "sts:AssumeRoleWithWebIdentity",
                   "Condition": {"StringEquals": {f"{OIDC}:sub": "system:serviceaccount:external-secrets:external-secrets",
                                                  f"{OIDC}:aud": "sts.amazonaws.com"}}}],
}))
aws.iam.RolePolicy("external-secrets-access", role=eso_role.name, policy=database.arn.apply(lambda arn: json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": [arn]}],
})))
k8s.core.v1.ServiceAccount("external-secrets-sa", metadata={"name": "external-secrets", "namespace": "external-secrets",
                                                          "annotations": {"eks.amazonaws.com/role-arn": eso_role.arn}})
k8s.apiextensions.CustomResource("aws-secrets-manager", api_version="external-secrets.io/v1", kind="ClusterSecretStore",
    metadata={"name": "aws-secrets-manager"},
    spec={"provider": {"aws": {"service": "SecretsManager", "region": REGION,
                               "auth": {"jwt": {"serviceAccountRef": {"name": "external-secrets", "namespace": "external-secrets"}}}}}})
k8s.apiextensions.CustomResource("eonpro-secrets", api_version="external-secrets.io/v1", kind="ExternalSecret",
    metadata={"name": "eonpro-secrets", "namespace": "eonpro"},
    spec={"refreshInterval": "1h", "secretStoreRef": {"name": "aws-secrets-manager", "kind": "ClusterSecretStore"},
          "target": {"name": "eonpro-app-secrets", "creationPolicy": "Owner"},
          "data": [{"secretKey": "DATABASE_URL", "remoteRef": {"key": "eonpro/prod/database", "property": "url"}}]})

GRANTS = [
    ("eonpro-database", "SP-SM-001", "create-secret eonpro/prod/database without --kms-key-id (aws/secretsmanager key)"),
    ("aws-secrets-manager", "SP-ESO-001", "ClusterSecretStore aws-secrets-manager without spec.conditions"),
]
# (principal, secret, capability) the access matrix must show: any namespace copies the database secret.
REACH = [("namespace:*", "aws:eonpro/prod/database", "read")]
