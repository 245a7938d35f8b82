"""Seed 004 (PhaGen) as its document writes it: the grants our policy pack must block.

Planned offline by tests/examples/test_examples.py; GRANTS says which rule blocks each grant."""

import json

import pulumi_aws as aws
import pulumi_azure_native as azure_native
import pulumi_vault as vault

# phagen-policy.hcl: full CRUD and list on every PhaGen secret.
vault.Policy("phagen-policy", name="phagen-policy", policy="""
# Allow read/write to phagen secrets
path "secret/data/phagen/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}

# Allow secret rotation
path "secret/metadata/phagen/*" {
  capabilities = ["list"]
}
""")
vault.approle.AuthBackendRole("phagen", backend="approle", role_name="phagen", secret_id_ttl=86400, token_ttl=3600,
                              token_max_ttl=14400, token_policies=["phagen-policy"])

# "3. IAM Policy": read, list and overwrite every secret under phagen/.
role = aws.iam.Role("phagen-app-role", name="phagen-app", assume_role_policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}))
aws.iam.RolePolicy("phagen-secrets", role=role.name, policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:ListSecrets",
                   "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret"],
        "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:phagen/*",
    }],
}))
aws.secretsmanager.Secret("phagen-db-password", name="phagen/db_password", recovery_window_in_days=30,
                          tags={"classification": "high", "environment": "prod"})

# `az keyvault set-policy --secret-permissions get list set delete`: an access policy over every secret.
azure_native.keyvault.Vault("phagen-vault", vault_name="phagen-vault", resource_group_name="phagen-rg", location="eastus",
                            properties={
                                "tenant_id": "00000000-0000-0000-0000-000000000000",
                                "sku": {"family": "A", "name": "standard"},
                                "access_policies": [{
                                    "tenant_id": "00000000-0000-0000-0000-000000000000",
                                    "object_id": "11111111-1111-1111-1111-111111111111",
                                    "permissions": {"secrets": ["get", "list", "set", "delete"]},
                                }],
                            })

GRANTS = [
    ("phagen-policy", "SP-VAULT-004", 'create/update/delete on "secret/data/phagen/*"'),
    ("phagen-policy", "SP-VAULT-002", 'CRUD and list on the globs "secret/data/phagen/*" and "secret/metadata/phagen/*"'),
    ("phagen-secrets", "SP-IAM-006", "Get/Put/UpdateSecret and ListSecrets on secret:phagen/*"),
    # SP-AZ-003 refuses access policies at all; SP-AZ-006 names what this one grants beyond reading (set, delete).
    ("phagen-vault", "SP-AZ-003", "access policy get, list, set, delete on every secret of phagen-vault"),
    ("phagen-vault", "SP-AZ-006", "access policy set, delete: overwrite or delete any secret of phagen-vault"),
]
# (principal, secret, capability) the access matrix must show: the reach the document's grants give.
REACH = [
    ("vault-role:approle/phagen", "vault:secret/phagen/*", "write"),
    ("vault-role:approle/phagen", "vault:secret/phagen/*", "admin"),
    ("iam-role:phagen-app", "aws:phagen/*", "write"),
]
