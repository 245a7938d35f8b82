"""Seed 001 (VibeBox) as its document writes it: the grants our policy pack must block.

The document's SecretManager gets, sets, lists, rotates and deletes any secret under the provider's
prefix with one identity, and its SecretStores authenticate with static credentials (VAULT_TOKEN,
AZURE_CLIENT_SECRET, GOOGLE_APPLICATION_CREDENTIALS) for "multiple namespaces".
Planned offline by tests/examples/test_examples.py; GRANTS says which rule blocks each grant."""

import json

import pulumi_aws as aws
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s
import pulumi_vault as vault

PREFIX_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:vibebox/*"

# AWS (prefix vibebox/): get, set, rotate, delete and list every secret of the prefix.
role = aws.iam.Role("vibebox-backend-role", name="vibebox-backend", assume_role_policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}))
aws.iam.RolePolicy("vibebox-secrets", role=role.name, policy=json.dumps({
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Resource": PREFIX_ARN,
         "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret", "secretsmanager:CreateSecret",
                    "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecret", "secretsmanager:RotateSecret",
                    "secretsmanager:DeleteSecret"]},
        {"Effect": "Allow", "Resource": "*", "Action": "secretsmanager:ListSecrets"},
    ],
}))

# Vault (secret/vibebox/, token or AppRole): the same operations on every path of the prefix.
vault.Policy("vibebox", name="vibebox", policy="""
path "secret/data/vibebox/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "secret/metadata/vibebox/*" {
  capabilities = ["list", "delete"]
}
""")
vault.approle.AuthBackendRole("vibebox", backend="approle", role_name="vibebox", token_policies=["vibebox"],
                              token_ttl=3600, token_max_ttl=14400, secret_id_ttl=86400, token_no_default_policy=True)

# k8s/base/external-secrets/secretstore-vault.yaml and secretstore-azure.yaml: cluster-wide, static credentials.
k8s.apiextensions.CustomResource("vault-backend", api_version="external-secrets.io/v1", kind="ClusterSecretStore",
    metadata={"name": "vault-backend"},
    spec={"provider": {"vault": {"server": "https://vault.example.com", "path": "secret", "version": "v2",
                                 "auth": {"tokenSecretRef": {"name": "vault-token", "key": "token", "namespace": "external-secrets"}}}}})
k8s.apiextensions.CustomResource("azure-backend", api_version="external-secrets.io/v1", kind="ClusterSecretStore",
    metadata={"name": "azure-backend"},
    spec={"provider": {"azurekv": {"vaultUrl": "https://vibebox.vault.azure.net", "tenantId": "00000000-0000-0000-0000-000000000000",
                                   "authType": "ServicePrincipal",
                                   "authSecretRef": {"clientId": {"name": "azure-sp", "key": "client-id", "namespace": "external-secrets"},
                                                     "clientSecret": {"name": "azure-sp", "key": "client-secret", "namespace": "external-secrets"}}}}})

# GCP (prefix vibebox-): the service account of GOOGLE_APPLICATION_CREDENTIALS manages every secret of the project.
gcp.projects.IAMMember("vibebox-secret-admin", project="vibebox-prod", role="roles/secretmanager.admin",
                       member="serviceAccount:vibebox-backend@vibebox-prod.iam.gserviceaccount.com")

# Kubernetes Secrets (vibebox-secrets in default): the SDK lists, sets and deletes Secrets of the namespace.
k8s.rbac.v1.Role("vibebox-secrets-rw", metadata={"name": "vibebox-secrets", "namespace": "default"},
                 rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list", "create", "update", "delete"]}])

GRANTS = [
    ("vibebox-secrets", "SP-IAM-006", "get/put/rotate/delete on secret:vibebox/*"),
    ("vibebox", "SP-VAULT-004", 'create/update/delete on "secret/data/vibebox/*"'),
    ("vault-backend", "SP-ESO-001", "ClusterSecretStore for Vault without spec.conditions"),
    ("vault-backend", "SP-ESO-002", "Vault store authenticating with a static token (VAULT_TOKEN)"),
    ("azure-backend", "SP-ESO-001", "ClusterSecretStore for Azure Key Vault without spec.conditions"),
    ("azure-backend", "SP-ESO-002", "Azure store authenticating with a service-principal secret (AZURE_CLIENT_SECRET)"),
    ("vibebox-secrets-rw", "SP-K8S-007", "Role: get/list/create/update/delete on all Secrets of namespace default (no resourceNames)"),
    ("vibebox-secret-admin", "SP-GCP-001", "roles/secretmanager.admin on the whole project"),
]
# (principal, secret, capability) the access matrix must show: the reach the document's grants give.
REACH = [
    ("iam-role:vibebox-backend", "aws:vibebox/*", "admin"),
    ("iam-role:vibebox-backend", "aws:vibebox/*", "write"),
    ("vault-role:approle/vibebox", "vault:secret/vibebox/*", "write"),
    ("namespace:*", "?", "read"),  # a static-token store: what it reads cannot be told, every namespace may use it
]
