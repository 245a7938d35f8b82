"""The floor: the same registrations the platform makes for a bench estate, written by hand with
the raw pulumi_aws SDK — no spec model, no component classes, no validation, no policy helpers.

Run as a Pulumi program with the estate's JSON in BENCH_ESTATE. With BENCH_COMPONENTS=1 it also
registers the same component resources (bare `pulumi.ComponentResource`s of the same types and
names), so the engine receives exactly the platform's URNs; with 0, custom resources only."""

import json
import os

import pulumi
import pulumi_aws as aws

e = json.loads(os.environ["BENCH_ESTATE"])
with_components = os.environ.get("BENCH_COMPONENTS") == "1"
account, region, slug = e["aws"]["account_id"], e["aws"]["region"], "bench-prod"
issuer = e["cluster"]["oidc_issuer_url"].removeprefix("https://")
base_tags = {"environment": "prod", "owner": "bench", "cost-centre": "bench", "managed-by": "secrets-platform"}


def group(kind, name, parent=None):
    """A bare component (when measuring with components), else no grouping."""
    if not with_components:
        return None
    component = pulumi.ComponentResource(f"secrets-platform:{kind}", name, None, pulumi.ResourceOptions(parent=parent))
    component.register_outputs({})
    return component


platform = group("index:Platform", "secrets-platform")
provider = aws.Provider("secrets-platform-aws", region=region, allowed_account_ids=[account], opts=pulumi.ResourceOptions(parent=platform))


def opts(parent, protect=False):
    return pulumi.ResourceOptions(parent=parent or platform, provider=provider, protect=protect, retain_on_delete=protect)


roles = {}
for w in e["workloads"]:
    trust = {"Version": "2012-10-17", "Statement": [{"Sid": "ServiceAccount", "Effect": "Allow", "Principal": {"Federated": e["cluster"]["oidc_provider_arn"]},
             "Action": ["sts:AssumeRoleWithWebIdentity"], "Condition": {"StringEquals": {
             f"{issuer}:sub": f"system:serviceaccount:{w['namespace']}:{w['service_account']}", f"{issuer}:aud": "sts.amazonaws.com"}}}]}
    roles[w["name"]] = aws.iam.Role(f"{w['name']}-role", name=f"{slug}-{w['name']}", description=f"IRSA role of {w['namespace']}/{w['service_account']}",
                                    assume_role_policy=json.dumps(trust, indent=2), max_session_duration=3600, tags={**base_tags, "workload": w["name"]},
                                    opts=opts(group("aws:WorkloadRole", w["name"], platform)))

key_of = {s["name"]: (s["name"] if s["classification"] == "critical" else "shared") for s in e["secrets"]}
keys = {}
for key_name in dict.fromkeys(key_of.values()):
    users = [(w["name"], [s for s in w["reads"] if key_of[s] == key_name]) for w in e["workloads"]]
    users = [(n, ss) for n, ss in users if ss]
    policy = pulumi.Output.all(*[roles[n].arn for n, _ in users]).apply(lambda arns, users=users: json.dumps({"Version": "2012-10-17", "Statement": [
        {"Sid": "AccountRootAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": ["kms:DescribeKey", "kms:PutKeyPolicy"], "Resource": "*"}] + [
        {"Sid": f"Read{n}", "Effect": "Allow", "Principal": {"AWS": arn}, "Action": ["kms:Decrypt"], "Resource": "*", "Condition": {
         "StringEquals": {"kms:ViaService": [f"secretsmanager.{region}.amazonaws.com"], "kms:CallerAccount": account},
         "StringLike": {"kms:EncryptionContext:SecretARN": [f"arn:aws:secretsmanager:{region}:{account}:secret:bench/prod/{s}-??????" for s in ss]}}}
        for arn, (n, ss) in zip(arns, users)]}, indent=2))
    parent = group("aws:EncryptionKey", key_name, platform)
    keys[key_name] = aws.kms.Key(f"{key_name}-key", description=f"secrets-platform key {key_name}", enable_key_rotation=True, rotation_period_in_days=365,
                                 deletion_window_in_days=30, multi_region=False, policy=policy, tags=base_tags, opts=opts(parent, protect=True))
    aws.kms.Alias(f"{key_name}-alias", name=f"alias/{slug}/{key_name}", target_key_id=keys[key_name].key_id, opts=opts(parent))

secrets = {}
for s in e["secrets"]:
    secrets[s["name"]] = aws.secretsmanager.Secret(
        f"{s['name']}-secret", name=f"bench/prod/{s['name']}", description=s["description"], kms_key_id=keys[key_of[s["name"]]].arn,
        recovery_window_in_days=30, replicas=[], force_overwrite_replica_secret=False,
        tags={**base_tags, "classification": s["classification"], "rotation": s.get("rotation", {}).get("kind", "none")},
        opts=opts(group("aws:ManagedSecret", s["name"], platform), protect=True))

for w in e["workloads"]:
    pairs = [pulumi.Output.all(secrets[s].arn, keys[key_of[s]].arn) for s in w["reads"]]
    doc = pulumi.Output.all(*pairs).apply(lambda arns, reads=w["reads"]: json.dumps({"Version": "2012-10-17", "Statement": [st for name, (secret_arn, key_arn) in zip(reads, arns) for st in (
        {"Sid": f"Read{name}", "Effect": "Allow", "Action": ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"], "Resource": [secret_arn]},
        {"Sid": f"Read{name}Key", "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": [key_arn], "Condition": {"StringEquals": {
         "kms:ViaService": [f"secretsmanager.{region}.amazonaws.com"], "kms:EncryptionContext:SecretARN": [secret_arn]}}})]}, indent=2))
    aws.iam.RolePolicy(f"{w['name']}-secrets", role=roles[w["name"]].name, name="secrets-access", policy=doc,
                       opts=opts(group("aws:SecretAccessPolicy", w["name"], platform)))
