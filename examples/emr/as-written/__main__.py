"""Seed 000 (EMR) as its document writes it: the grants our policy pack must block.

Planned offline by tests/examples/test_examples.py; GRANTS says which rule blocks each grant.
Never applied: this is the counter-example to examples/emr/Pulumi.emr-prod.yaml."""

import json

import pulumi_aws as aws
import pulumi_vault as vault

# "3. IAM Policy": every secret under prod/ in any account, and every KMS key.
SEED_IAM_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
         "Resource": ["arn:aws:secretsmanager:us-east-1:*:secret:prod/*"]},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": "arn:aws:kms:us-east-1:*:key/*"},
    ],
}
role = aws.iam.Role("emr-service-role", name="emr-service", assume_role_policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}))
aws.iam.RolePolicy("emr-secrets-access", role=role.name, policy=json.dumps(SEED_IAM_POLICY))
for name in ("prod/database/postgres", "prod/auth/jwt", "prod/emr/epic"):
    aws.secretsmanager.Secret(name.replace("/", "-"), name=name, kms_key_id="alias/emr-task-secrets", recovery_window_in_days=30,
                              tags={"classification": "high", "environment": "prod"})

# `vault policy write emr-service`: a glob over every EMR vendor's credentials, present and future.
vault.Policy("emr-service", name="emr-service", policy="""
path "secret/data/emr/*" {
  capabilities = ["read"]
}
path "secret/data/database/postgres" {
  capabilities = ["read"]
}
""")
vault.kubernetes.AuthBackendRole("emr-service-login", backend="kubernetes", role_name="emr-service",
                                 bound_service_account_names=["emr-service"], bound_service_account_namespaces=["default"],
                                 token_policies=["emr-service"], token_ttl=3600)

# (grant resource name, rule that must block it, what the document wrote)
GRANTS = [
    ("emr-secrets-access", "SP-IAM-006", "secretsmanager:GetSecretValue on secret:prod/* and kms:Decrypt on key/*"),
    ("emr-service", "SP-VAULT-002", 'read on "secret/data/emr/*"'),
    ("emr-service-login", "SP-VAULT-013", "`vault write auth/kubernetes/role/emr-service ... ttl=1h`: tokens also get the default policy"),
]
# (principal, secret, capability) the access matrix must show: the reach the document's grants give.
REACH = [
    ("iam-role:emr-service", "aws:prod/*", "read"),
    ("vault-role:kubernetes/emr-service", "vault:secret/emr/*", "read"),
    ("k8s:default/emr-service", "vault:secret/emr/*", "read"),
]
