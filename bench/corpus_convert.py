"""Turn a labelled corpus case into what each tool reads: the planned Pulumi resources this pack
evaluates, and the Terraform or Kubernetes manifest checkov scans.

A case's `kind` says what its `document` is:

    policy              an IAM identity policy        aws:iam/policy:Policy.policy            aws_iam_policy
    trust               a role's trust policy         aws:iam/role:Role.assumeRolePolicy      aws_iam_role
    managed-attachment  {"policyArn": ...}            aws:iam/rolePolicyAttachment            aws_iam_role_policy_attachment
    sso-inline          a permission set's policy     aws:ssoadmin/permissionSetInlinePolicy  aws_ssoadmin_permission_set_inline_policy
    sso-managed         {"managedPolicyArn": ...}     aws:ssoadmin/managedPolicyAttachment    aws_ssoadmin_managed_policy_attachment
    kms-key             a KMS key policy              aws:kms/key:Key.policy                  aws_kms_key
    vault               Vault policy HCL (a string)   vault:index/policy:Policy.policy        vault_policy
    azure-assignment    {"roleDefinitionId", "scope"} azure-native:authorization:RoleAssignment  azurerm_role_assignment
    k8s                 one RBAC manifest or a list   kubernetes:rbac.authorization.k8s.io/v1:<Kind>  the manifest as YAML

Every resource of a case is named after the case id, so cases evaluated together cannot see each
other (a binding in one case never finds a role of another). A Role or ClusterRole a binding of the
same case refers to is renamed with it; built-in roles (admin, edit, view, cluster-admin) keep their names.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

# Tags our components put on every resource, so that only the documents decide.
TAGS = {"environment": "prod", "owner": "bench", "classification": "high", "managed-by": "secrets-platform"}
# A key from a public document serves EBS, RDS or anything else: `managed-by=secrets-platform` would claim it is
# one of our Secrets Manager keys and hold it to SP-KMS-003 (decrypt only through Secrets Manager).
KEY_TAGS = {k: v for k, v in TAGS.items() if k != "managed-by"}
# The account both corpora call ours ("account" in public.json and iam.json). A trust case's role lives there, as a
# role of an existing stack shows it through its ARN, so that the pack tells the role's own account root
# (SP-TRUST-005, advisory) from another account's (SP-TRUST-004).
OWN_ACCOUNT = "123456789012"
INSTANCE_ARN = "arn:aws:sso:::instance/ssoins-1234567890abcdef"
PERMISSION_SET_ARN = "arn:aws:sso:::permissionSet/ssoins-1234567890abcdef/ps-1234567890abcdef"
RBAC = "kubernetes:rbac.authorization.k8s.io/v1"

# kind -> (Pulumi type, Terraform type); Kubernetes cases take their type from the manifest.
TYPES: dict[str, tuple[str, str | None]] = {
    "policy": ("aws:iam/policy:Policy", "aws_iam_policy"),
    "trust": ("aws:iam/role:Role", "aws_iam_role"),
    "managed-attachment": ("aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws_iam_role_policy_attachment"),
    "sso-inline": ("aws:ssoadmin/permissionSetInlinePolicy:PermissionSetInlinePolicy", "aws_ssoadmin_permission_set_inline_policy"),
    "sso-managed": ("aws:ssoadmin/managedPolicyAttachment:ManagedPolicyAttachment", "aws_ssoadmin_managed_policy_attachment"),
    "kms-key": ("aws:kms/key:Key", "aws_kms_key"),
    "vault": ("vault:index/policy:Policy", "vault_policy"),
    "azure-assignment": ("azure-native:authorization:RoleAssignment", "azurerm_role_assignment"),
    "k8s": ("", None),
}


def _json(document: Any) -> str:
    # A JSON string, as `aws.iam.Policy(policy=json.dumps(...))` hands it to the engine.
    return json.dumps(document)


def _props(kind: str, case_id: str, document: Any) -> dict[str, Any]:
    if kind == "policy":
        return {"name": case_id, "policy": _json(document), "tags": TAGS}
    if kind == "trust":
        return {"name": case_id, "arn": f"arn:aws:iam::{OWN_ACCOUNT}:role/{case_id}", "assumeRolePolicy": _json(document), "tags": TAGS}
    if kind == "managed-attachment":
        return {"role": f"{case_id}-role", "policyArn": document["policyArn"]}
    if kind == "sso-inline":
        return {"instanceArn": INSTANCE_ARN, "permissionSetArn": PERMISSION_SET_ARN, "inlinePolicy": _json(document)}
    if kind == "sso-managed":
        return {"instanceArn": INSTANCE_ARN, "permissionSetArn": PERMISSION_SET_ARN, "managedPolicyArn": document["managedPolicyArn"]}
    if kind == "kms-key":
        return {"description": case_id, "policy": _json(document), "enableKeyRotation": True, "tags": KEY_TAGS}
    if kind == "vault":
        return {"name": case_id, "policy": document}
    if kind == "azure-assignment":
        return {"roleDefinitionId": document["roleDefinitionId"], "scope": document["scope"],
                "principalId": document["principalId"], "principalType": document["principalType"]}
    raise ValueError(f"unknown case kind {kind!r}")


def manifests(case: dict[str, Any]) -> list[dict[str, Any]]:
    """A Kubernetes case's manifests, renamed after the case (roles a binding of the case refers to as well)."""
    documents = case["document"] if isinstance(case["document"], list) else [case["document"]]
    renamed = {}
    for index, manifest in enumerate(documents):
        if manifest["kind"] in ("Role", "ClusterRole"):
            renamed[(manifest["kind"], manifest["metadata"]["name"])] = case["id"] if len(documents) == 1 else f"{case['id']}-{index}"
    out = []
    for index, manifest in enumerate(documents):
        manifest = json.loads(json.dumps(manifest))  # a copy: the corpus stays as written
        manifest["metadata"]["name"] = case["id"] if len(documents) == 1 else f"{case['id']}-{index}"
        ref = manifest.get("roleRef")
        if ref and (ref["kind"], ref["name"]) in renamed:
            ref["name"] = renamed[(ref["kind"], ref["name"])]
        out.append(manifest)
    return out


def to_resources(case: dict[str, Any]) -> list[dict[str, Any]]:
    """The planned resources of a case, as `pulumi preview --json` / the mocks hand them to the pack."""
    kind = case["kind"]
    if kind == "k8s":
        out = []
        for manifest in manifests(case):
            type_ = f"{RBAC}:{manifest['kind']}"
            props = {k: v for k, v in manifest.items() if k not in ("apiVersion", "kind")}
            name = manifest["metadata"]["name"]
            out.append({"type": type_, "urn": f"urn:pulumi:bench::corpus::{type_}::{name}", "name": name, "props": props})
        return out
    type_ = TYPES[kind][0]
    return [{"type": type_, "urn": f"urn:pulumi:bench::corpus::{type_}::{case['id']}", "name": case["id"],
             "props": _props(kind, case["id"], case["document"])}]


# --- checkov's inputs ---------------------------------------------------------------------


def tf_name(case_id: str) -> str:
    return case_id.replace("-", "_").replace(".", "_")


def _heredoc(text: str) -> str:
    # `${` and `%{` would be Terraform template syntax inside a heredoc.
    return "<<DOC\n" + text.replace("${", "$${").replace("%{", "%%{") + "\nDOC"


def _string(text: str) -> str:
    return json.dumps(text).replace("${", "$${").replace("%{", "%%{")


def terraform_block(case: dict[str, Any]) -> tuple[str, str] | None:
    """(address, HCL block) of the Terraform resource checkov reads for a case; None for Kubernetes cases."""
    kind, document, name = case["kind"], case["document"], tf_name(case["id"])
    type_ = TYPES[kind][1]
    if type_ is None:
        return None
    pretty = lambda: json.dumps(document, indent=2)  # noqa: E731
    attributes = {
        "policy": lambda: {"name": _string(case["id"]), "policy": _heredoc(pretty())},
        "trust": lambda: {"name": _string(case["id"]), "assume_role_policy": _heredoc(pretty())},
        "managed-attachment": lambda: {"role": _string(f"{case['id']}-role"), "policy_arn": _string(document["policyArn"])},
        "sso-inline": lambda: {"instance_arn": _string(INSTANCE_ARN), "permission_set_arn": _string(PERMISSION_SET_ARN),
                               "inline_policy": _heredoc(pretty())},
        "sso-managed": lambda: {"instance_arn": _string(INSTANCE_ARN), "permission_set_arn": _string(PERMISSION_SET_ARN),
                                "managed_policy_arn": _string(document["managedPolicyArn"])},
        "kms-key": lambda: {"description": _string(case["id"]), "enable_key_rotation": "true", "policy": _heredoc(pretty())},
        "vault": lambda: {"name": _string(case["id"]), "policy": _heredoc(document.rstrip("\n"))},
        "azure-assignment": lambda: {"scope": _string(document["scope"]), "role_definition_id": _string(document["roleDefinitionId"]),
                                     "principal_id": _string(document["principalId"])},
    }[kind]()
    body = "\n".join(f"  {key} = {value}" for key, value in attributes.items())
    return f"{type_}.{name}", f'resource "{type_}" "{name}" {{\n{body}\n}}\n'


def kubernetes_yaml(case: dict[str, Any]) -> str:
    return yaml.safe_dump_all(manifests(case), sort_keys=False)
