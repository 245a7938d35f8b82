"""Read an AWS estate: the Secrets Manager secrets under a prefix, their KMS keys, and the IAM roles.

Describe and list only: ListSecrets, DescribeSecret, GetResourcePolicy, DescribeKey, ListAliases, GetKeyPolicy, and IAM's
List*/Get* of roles and policies. Never GetSecretValue, never a write. Which roles reach the secrets is
decided afterwards by the access matrix over these resources, so this module does not judge policies.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from documents.iam import parse
from offline.discover.model import DiscoverError, Estate, FoundIdentity, FoundKey, FoundSecret

SECRET, KEY, ALIAS = "aws:secretsmanager/secret:Secret", "aws:kms/key:Key", "aws:kms/alias:Alias"
SECRET_POLICY = "aws:secretsmanager/secretPolicy:SecretPolicy"
ROLE, ROLE_POLICY, POLICY = "aws:iam/role:Role", "aws:iam/rolePolicy:RolePolicy", "aws:iam/policy:Policy"
ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SERVICE_ACCOUNT_SUBJECT = "system:serviceaccount:"
DENIED = ("AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnrecognizedClientException",
          "InvalidClientTokenId", "ExpiredToken", "ExpiredTokenException", "AuthFailure")
T = TypeVar("T")


def _clients(region: str, endpoint_url: str | None) -> Callable[[str], Any]:
    import boto3
    from botocore.config import Config

    # One attempt and short timeouts: an unreachable endpoint is reported at once, not after retries.
    config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 1})
    session = boto3.session.Session(region_name=region)
    return lambda service: session.client(service, endpoint_url=endpoint_url, config=config)


def _call(where: str, operation: str, fn: Callable[[], T]) -> T:
    """Every AWS call: its failures become one line naming the operation, never the response body."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    try:
        return fn()
    except EndpointConnectionError:
        raise DiscoverError(f"cannot reach the AWS API at {where} ({operation})") from None
    except NoCredentialsError:
        raise DiscoverError("no AWS credentials: set them as the normal credential chain reads them (environment, profile, role)") from None
    except NoRegionError:
        raise DiscoverError("no AWS region: pass --region") from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in DENIED or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403:
            raise DiscoverError(f"no permission: {operation} was refused ({code}); discovery needs the read-only "
                                "secretsmanager:ListSecrets/DescribeSecret/GetResourcePolicy, kms:DescribeKey/ListAliases/GetKeyPolicy/GetKeyRotationStatus and iam:List*/Get*") from None
        raise DiscoverError(f"AWS refused {operation} ({code or 'error'})") from None
    except BotoCoreError as error:
        raise DiscoverError(f"cannot reach the AWS API at {where} ({operation}: {type(error).__name__})") from None


def _pages(client: Any, method: str, key: str, where: str, **kwargs: Any) -> list[Any]:
    paginator = client.get_paginator(method)
    operation = "".join(word.title() for word in method.split("_"))  # as IAM policies and CloudTrail spell it
    return _call(where, operation, lambda: [item for page in paginator.paginate(**kwargs) for item in page.get(key, [])])


def discover_aws(region: str, prefix: str, endpoint_url: str | None = None) -> Estate:
    where = endpoint_url or f"the {region} endpoints"
    client = _clients(region, endpoint_url)
    sm, kms, iam = client("secretsmanager"), client("kms"), client("iam")
    estate = Estate(source=f"AWS {region}{' at ' + endpoint_url if endpoint_url else ''}, secrets under `{prefix}`", region=region)

    listed = _pages(sm, "list_secrets", "SecretList", where, Filters=[{"Key": "name", "Values": [prefix]}])
    names = sorted({s["Name"] for s in listed if s["Name"].startswith(prefix)})
    if not names:
        raise DiscoverError(f"nothing under the prefix {prefix!r} in {region}: no Secrets Manager secret's name starts with it")
    keys: dict[str, FoundKey] = {}
    for name in names:
        described = _call(where, "DescribeSecret", lambda: sm.describe_secret(SecretId=name))
        arn = described["ARN"]
        estate.account_id = estate.account_id or arn.split(":")[4]
        key = _key(kms, described.get("KmsKeyId"), keys, where)
        replicas = tuple((r["Region"], _key(kms, r.get("KmsKeyId"), keys, where, r["Region"])) for r in described.get("ReplicationStatus") or [])
        tags = {t["Key"]: t["Value"] for t in described.get("Tags") or []}
        rules = described.get("RotationRules") or {} if described.get("RotationEnabled") else {}
        estate.secrets.append(FoundSecret(
            backend="aws", path=name, adopt=arn, matrix_id=f"aws:{name}", description=described.get("Description") or "",
            key=key.key_id if key else None, rotation_days=rules.get("AutomaticallyAfterDays"),
            rotation_schedule=rules.get("ScheduleExpression"),
            rotation_function=described.get("RotationLambdaARN") if described.get("RotationEnabled") else None,
            replica_regions=tuple(r for r, _ in replicas), tags=tags,
            classification=next((v.lower() for k, v in tags.items() if k.lower() == "classification"), None)))
        estate.add(SECRET, name, {"name": name, "kmsKeyId": key.arn if key else None, "tags": tags,
                                  "replicas": [{"region": r, "kmsKeyId": k.arn if k else None} for r, k in replicas]}, {"arn": arn})
        # The secret's resource policy grants too (the policy, not the value: GetResourcePolicy).
        policy = _call(where, "GetResourcePolicy", lambda: sm.get_resource_policy(SecretId=arn)).get("ResourcePolicy")
        if policy:
            estate.add(SECRET_POLICY, f"{name}-policy", {"secretArn": arn, "policy": policy})
    for key in {k.key_id: k for k in keys.values()}.values():  # `keys` holds each key under every name secrets use
        estate.keys.append(key)
        policy = _call(where, "GetKeyPolicy", lambda: kms.get_key_policy(KeyId=key.key_id, PolicyName="default"))["Policy"]
        rotation = _call(where, "GetKeyRotationStatus", lambda: kms.get_key_rotation_status(KeyId=key.key_id))
        estate.add(KEY, key.key_id, {"policy": policy, "enableKeyRotation": bool(rotation.get("KeyRotationEnabled")),
                                     **({"rotationPeriodInDays": rotation["RotationPeriodInDays"]} if rotation.get("RotationPeriodInDays") else {})},
                   {"arn": key.arn, "keyId": key.key_id})
        for alias in key.aliases:
            estate.add(ALIAS, alias, {"name": alias, "targetKeyId": key.key_id})
    _roles(iam, estate, where)
    return estate


def _key(kms: Any, reference: str | None, keys: dict[str, FoundKey], where: str, region: str | None = None) -> FoundKey | None:
    """The customer managed key a secret names (by id, ARN or alias); None for the AWS managed key."""
    if not reference or reference == "alias/aws/secretsmanager" or reference.endswith(":alias/aws/secretsmanager"):
        return None
    if reference in keys:
        return keys[reference]
    if region is not None and not reference.startswith("arn:"):
        return None  # a replica's key in another region: reported as its id, not described here
    metadata = _call(where, "DescribeKey", lambda: kms.describe_key(KeyId=reference))["KeyMetadata"]
    if metadata.get("KeyManager") == "AWS":
        return None
    key_id = metadata["KeyId"]
    if key_id not in keys:
        aliases = _call(where, "ListAliases", lambda: kms.list_aliases(KeyId=key_id)).get("Aliases", [])
        keys[key_id] = FoundKey(key_id, metadata["Arn"], tuple(sorted(a["AliasName"] for a in aliases)))
    keys[reference] = keys[key_id]
    return keys[key_id]


def _roles(iam: Any, estate: Estate, where: str) -> None:
    """Every customer role with its trust, inline and attached policies (service-linked roles skipped:
    AWS owns them). The matrix later keeps the ones that reach a discovered secret."""
    attached: set[str] = set()
    for role in _pages(iam, "list_roles", "Roles", where):
        if role.get("Path", "/").startswith("/aws-service-role/"):
            continue
        name = role["RoleName"]
        trust = role.get("AssumeRolePolicyDocument") or {}
        estate.add(ROLE, name, {"name": name, "assumeRolePolicy": trust}, {"arn": role["Arn"]})
        for policy_name in _pages(iam, "list_role_policies", "PolicyNames", where, RoleName=name):
            document = _call(where, "GetRolePolicy", lambda: iam.get_role_policy(RoleName=name, PolicyName=policy_name))["PolicyDocument"]
            estate.add(ROLE_POLICY, f"{name}/{policy_name}", {"role": name, "name": policy_name, "policy": document})
        for policy in _pages(iam, "list_attached_role_policies", "AttachedPolicies", where, RoleName=name):
            estate.add(ATTACHMENT, f"{name}/{policy['PolicyName']}", {"role": name, "policyArn": policy["PolicyArn"]})
            attached.add(policy["PolicyArn"])
        namespace, service_account, provider = _service_account(trust)
        if provider:
            estate.oidc_provider_arns.add(provider)
        estate.identities.append(FoundIdentity(
            principal=f"iam-role:{name}", kind="iam-role", name=name, adopt={"role": name},
            namespace=namespace, service_account=service_account, trusted="" if service_account else _trusted(trust)))
    for arn in sorted(attached):
        if arn.startswith("arn:aws:iam::aws:policy/"):
            continue  # AWS managed: the matrix knows the ones that matter by name
        policy = _call(where, "GetPolicy", lambda: iam.get_policy(PolicyArn=arn))["Policy"]
        version = _call(where, "GetPolicyVersion", lambda: iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"]))
        estate.add(POLICY, policy["PolicyName"], {"name": policy["PolicyName"], "policy": version["PolicyVersion"]["Document"]}, {"arn": arn})


def _service_account(trust: Any) -> tuple[str | None, str | None, str | None]:
    """IRSA: the one ServiceAccount a web-identity trust names in its `:sub` condition, and the OIDC provider."""
    for statement in parse(trust).statements:
        if not statement.allow or not statement.covers("sts:AssumeRoleWithWebIdentity"):
            continue
        provider = next((p for p in (statement.principal.federated if statement.principal else ()) if ":oidc-provider/" in p), None)
        for condition in statement.conditions:
            if condition.key.endswith(":sub"):
                subjects = [v for v in condition.values if v.startswith(SERVICE_ACCOUNT_SUBJECT) and "*" not in v]
                if len(subjects) == 1:
                    namespace, _, name = subjects[0].removeprefix(SERVICE_ACCOUNT_SUBJECT).partition(":")
                    return namespace, name, provider
    return None, None, None


def _trusted(trust: Any) -> str:
    principals = [p for s in parse(trust).statements if s.allow and s.principal for p in s.principal.non_root()]
    return ", ".join(sorted(set(principals))) or "the account"
