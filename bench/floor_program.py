"""The floor: the same resources as the platform plans for a bench estate, written by hand with
the raw pulumi_aws SDK — no spec model, no components, no validation. Run as a Pulumi program
with the estate's JSON in the BENCH_ESTATE environment variable."""

import json
import os

import pulumi
import pulumi_aws as aws

e = json.loads(os.environ["BENCH_ESTATE"])
account, region, slug = e["aws"]["account_id"], e["aws"]["region"], "bench-prod"
issuer = e["cluster"]["oidc_issuer_url"].removeprefix("https://")
tags = {"environment": "prod", "owner": "bench", "cost-centre": "bench", "managed-by": "secrets-platform"}
provider = aws.Provider("aws", region=region, allowed_account_ids=[account])
opts = pulumi.ResourceOptions(provider=provider, protect=True, retain_on_delete=True)
plain = pulumi.ResourceOptions(provider=provider)

roles = {}
for w in e["workloads"]:
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Federated": e["cluster"]["oidc_provider_arn"]},
             "Action": ["sts:AssumeRoleWithWebIdentity"], "Condition": {"StringEquals": {
             f"{issuer}:sub": f"system:serviceaccount:{w['namespace']}:{w['service_account']}", f"{issuer}:aud": "sts.amazonaws.com"}}}]}
    roles[w["name"]] = aws.iam.Role(f"{w['name']}-role", name=f"{slug}-{w['name']}", assume_role_policy=json.dumps(trust), tags=tags, opts=plain)

key_of = {s["name"]: (s["name"] if s["classification"] == "critical" else "shared") for s in e["secrets"]}
keys = {}
for key_name in dict.fromkeys(key_of.values()):
    users = [(w["name"], [s for s in w["reads"] if key_of[s] == key_name]) for w in e["workloads"]]
    users = [(n, ss) for n, ss in users if ss]
    policy = pulumi.Output.all(*[roles[n].arn for n, _ in users]).apply(lambda arns, users=users: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": ["kms:DescribeKey", "kms:PutKeyPolicy"], "Resource": "*"}] + [
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": ["kms:Decrypt"], "Resource": "*", "Condition": {
         "StringEquals": {"kms:ViaService": [f"secretsmanager.{region}.amazonaws.com"]},
         "StringLike": {"kms:EncryptionContext:SecretARN": [f"arn:aws:secretsmanager:{region}:{account}:secret:bench/prod/{s}-??????" for s in ss]}}}
        for arn, (_, ss) in zip(arns, users)]}))
    keys[key_name] = aws.kms.Key(f"{key_name}-key", enable_key_rotation=True, deletion_window_in_days=30, policy=policy, tags=tags, opts=opts)
    aws.kms.Alias(f"{key_name}-alias", name=f"alias/{slug}/{key_name}", target_key_id=keys[key_name].key_id, opts=plain)

secrets = {}
for s in e["secrets"]:
    secrets[s["name"]] = aws.secretsmanager.Secret(f"{s['name']}-secret", name=f"bench/prod/{s['name']}", description=s["description"],
        kms_key_id=keys[key_of[s["name"]]].arn, recovery_window_in_days=30, tags={**tags, "classification": s["classification"]}, opts=opts)

for w in e["workloads"]:
    pairs = [pulumi.Output.all(secrets[s].arn, keys[key_of[s]].arn) for s in w["reads"]]
    doc = pulumi.Output.all(*pairs).apply(lambda arns: json.dumps({"Version": "2012-10-17", "Statement": [st for secret_arn, key_arn in arns for st in (
        {"Effect": "Allow", "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"], "Resource": [secret_arn]},
        {"Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key_arn], "Condition": {"StringEquals": {
         "kms:ViaService": [f"secretsmanager.{region}.amazonaws.com"], "kms:EncryptionContext:SecretARN": [secret_arn]}}})]}))
    aws.iam.RolePolicy(f"{w['name']}-secrets", role=roles[w["name"]].name, name="secrets-access", policy=doc, opts=plain)
