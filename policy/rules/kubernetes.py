"""Kubernetes RBAC rules: wildcards, Secret readers bound cluster-wide, escalation verbs, cluster-admin,
anonymous subjects and Secret access not limited by resourceNames. Messages name rule indexes, verbs, resources and role names, never annotations
or other metadata values."""

from __future__ import annotations

from documents.props import Strings, dig, entries, strings
from policy.rules._util import HIPAA_ACCESS, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE
from policy.rules.base import Finding, Resource, Rule, Severity, StackRule, is_unknown, rule, stack_rule

_RBAC = "kubernetes:rbac.authorization.k8s.io/v1"
ROLE, CLUSTER_ROLE = f"{_RBAC}:Role", f"{_RBAC}:ClusterRole"
ROLE_BINDING, CLUSTER_ROLE_BINDING = f"{_RBAC}:RoleBinding", f"{_RBAC}:ClusterRoleBinding"
ROLES, BINDINGS = (ROLE, CLUSTER_ROLE), (ROLE_BINDING, CLUSTER_ROLE_BINDING)

READ_VERBS = frozenset({"get", "list", "watch", "*"})
# Verbs on Secrets that RBAC_SECRETS_BY_NAME requires resourceNames for ("*" stands for all of them).
SECRET_VERBS = ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection")
ESCALATION_VERBS = frozenset({"impersonate", "escalate", "bind"})
# Built-in ClusterRoles that read Secrets (cluster-admin has its own rule too).
BUILTIN_SECRET_READERS = frozenset({"cluster-admin", "admin", "edit"})
# The user-facing aggregated roles that read every Secret (https://kubernetes.io/docs/reference/access-authn-authz/rbac/#user-facing-roles).
AGGREGATED_SECRET_READERS = frozenset({"admin", "edit"})
ANONYMOUS = {("User", "system:anonymous"), ("Group", "system:unauthenticated"), ("Group", "system:authenticated")}
RULE_FIELDS = ("apiGroups", "resources", "verbs", "nonResourceURLs")
WRITE_VERBS = frozenset({"create", "update", "patch"})
ANY_VERB = frozenset({"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"})
# The scopes a takeover grant applies in: any Role or ClusterRole, or only where it reaches powerful pods (a ClusterRole,
# bound in every namespace, or a Role in kube-system, whose pods run the cluster's own controllers).
ANY_ROLE, CLUSTER_OR_SYSTEM = "any role", "a ClusterRole or a Role in kube-system"
# Workload controllers: creating or changing one runs pods from its template (the rbac-good-practices "Workload creation").
POD_CONTROLLERS = (("apps", "deployments"), ("apps", "daemonsets"), ("apps", "statefulsets"), ("apps", "replicasets"),
                   ("batch", "jobs"), ("batch", "cronjobs"), ("", "replicationcontrollers"))
_POD_WHY = "a pod mounts any Secret of its namespace and runs as any service account there"
# Grants that take over the cluster or its Secrets without reading a Secret: Kubernetes' "RBAC good practices",
# privilege-escalation risks (https://kubernetes.io/docs/concepts/security/rbac-good-practices/), EKS' aws-auth, and
# rbac-police's catalogue (https://github.com/PaloAltoNetworks/rbac-police/tree/main/lib: modify_pods, assign_sa,
# pods_exec, steal_pods).
# (apiGroup, resource, verbs, what it lets the subject do, the scope it applies in)
TakeoverGrant = tuple[str, str, frozenset[str], str, str]
TAKEOVER_GRANTS: tuple[TakeoverGrant, ...] = (
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", WRITE_VERBS | {"delete"},
     "a mutating webhook receives, and may rewrite, every object admitted (Secrets and pods included)", ANY_ROLE),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", WRITE_VERBS | {"delete"},
     "a validating webhook receives every object admitted, and removing one switches off the policy it enforces", ANY_ROLE),
    ("certificates.k8s.io", "certificatesigningrequests/approval", frozenset({"update", "patch"}),
     "approving CSRs issues client certificates for any user or group, system:masters included", ANY_ROLE),
    ("certificates.k8s.io", "signers", frozenset({"approve"}), "a signer's approve issues client certificates for any identity it signs", ANY_ROLE),
    ("", "pods/ephemeralcontainers", frozenset({"update", "patch"}),
     "an ephemeral container runs any command in a running pod, with its service account and mounted Secrets", ANY_ROLE),
    ("", "nodes/proxy", ANY_VERB, "the kubelet API runs commands in every pod of the node", ANY_ROLE),
    ("rbac.authorization.k8s.io", "rolebindings", WRITE_VERBS, "a binding can hand any role the subject may bind", ANY_ROLE),
    ("rbac.authorization.k8s.io", "clusterrolebindings", WRITE_VERBS, "a binding can hand any role the subject may bind", ANY_ROLE),
    ("", "pods", WRITE_VERBS, f"{_POD_WHY} (and patching a running pod swaps its image)", CLUSTER_OR_SYSTEM),
    *((group, name, WRITE_VERBS, f"its pod template runs pods: {_POD_WHY}", CLUSTER_OR_SYSTEM) for group, name in POD_CONTROLLERS),
    ("", "pods/exec", frozenset({"create", "get"}), "exec runs commands in a running pod, with its service account token and "
     "mounted Secrets", CLUSTER_OR_SYSTEM),
    ("", "nodes", frozenset({"update", "patch"}), "tainting or relabelling nodes evicts pods and moves them (with their "
     "service accounts and Secrets) onto a node the subject controls", ANY_ROLE),
    ("", "persistentvolumes", WRITE_VERBS, "a hostPath PersistentVolume mounts the node's filesystem (kubelet credentials, "
     "every pod's Secrets) into a pod", ANY_ROLE),
)
# The namespace whose ConfigMaps configure the cluster: EKS maps IAM roles to Kubernetes groups in kube-system/aws-auth.
SYSTEM_NAMESPACE, AWS_AUTH = "kube-system", "aws-auth"
_ACCESS = (HIPAA_ACCESS, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE)


PolicyRule = dict[str, Strings]  # one entry of `rules`, field by field


def _policy_rules(rule: Rule | StackRule, resource: Resource) -> tuple[list[tuple[int, PolicyRule]], list[Finding]]:
    """The known entries of `rules` with their index, and undecided findings for entries unknown at preview."""
    rules = resource["props"].get("rules")
    if is_unknown(rules):
        return [], [rule.undecided(resource, "rules")]
    parsed, unknown = [], []
    for index, entry in enumerate(entries(rules)):
        if is_unknown(entry) or not isinstance(entry, dict):
            unknown.append(rule.undecided(resource, f"rules[{index}]"))
            continue
        parsed.append((index, {f: strings(entry.get(f)) for f in (*RULE_FIELDS, "resourceNames")}))
    return parsed, unknown


def _is_wildcard(value: str) -> bool:
    return value == "*" or value.startswith("*/")


def _wildcard_fields(entry: PolicyRule) -> tuple[str, ...]:
    """The fields whose `*` widens what the entry grants. An entry whose verbs are all empty grants nothing (checkov's
    passing fixture verbs [""]); `*` in apiGroups with named resources and only read verbs reads those resources in
    whatever group serves them, and Secrets among them are SP-K8S-002/007's to judge."""
    verbs = entry["verbs"]
    if not verbs.unknown and not any(verbs.values):
        return ()
    fields = RULE_FIELDS
    named = not entry["resources"].unknown and not any(_is_wildcard(v) for v in entry["resources"].values)
    if named and not verbs.unknown and set(verbs.values) <= {"get", "list", "watch"}:
        fields = tuple(f for f in RULE_FIELDS if f != "apiGroups")
    return fields


@rule(id="SP-K8S-001", name="k8s-rbac-no-wildcard", severity=Severity.HIGH, resource_types=ROLES, frameworks=_ACCESS,
      remediation="List the exact apiGroups, resources and verbs the subject needs.")
def RBAC_NO_WILDCARD(rule: Rule, resource: Resource) -> list[Finding]:
    """`*` in verbs, resources, apiGroups or nonResourceURLs grants everything present and future."""
    rules, out = _policy_rules(rule, resource)
    for index, entry in rules:
        for field in _wildcard_fields(entry):
            if any(_is_wildcard(v) for v in entry[field].values):
                out.append(rule.finding(resource, f"rules[{index}].{field} contains '*': list the exact {field} needed"))
            elif entry[field].unknown:
                out.append(rule.undecided(resource, f"rules[{index}].{field}"))
    return out


def _reads_secrets(entry: PolicyRule) -> bool | None:
    """True when the entry reads Secrets, False when it cannot, None when unknowns leave it open."""
    conditions = (
        (bool({"", "*"} & set(entry["apiGroups"].values)), entry["apiGroups"].unknown),
        (bool({"secrets", "*"} & set(entry["resources"].values)), entry["resources"].unknown),
        (bool(READ_VERBS & set(entry["verbs"].values)), entry["verbs"].unknown),
    )
    if all(met for met, _ in conditions):
        return True
    if any(not met and not unknown for met, unknown in conditions):
        return False
    return None


@rule(id="SP-K8S-002", name="k8s-rbac-cluster-role-reads-secrets", severity=Severity.MEDIUM, resource_types=(CLUSTER_ROLE,), frameworks=_ACCESS,
      remediation="Use a namespaced Role limited by resourceNames to the Secrets needed.")
def RBAC_CLUSTER_ROLE_READS_SECRETS(rule: Rule, resource: Resource) -> list[Finding]:
    """A ClusterRole that reads Secrets is one ClusterRoleBinding away from every Secret in the cluster."""
    rules, out = _policy_rules(rule, resource)
    for index, entry in rules:
        reads = _reads_secrets(entry)
        if reads:
            out.append(rule.finding(resource, f"rules[{index}] reads secrets (get/list/watch) in a ClusterRole: "
                                    "use a namespaced Role with resourceNames"))
        elif reads is None:
            out.append(rule.undecided(resource, f"part of rules[{index}]"))
    return out


@stack_rule(id="SP-K8S-003", name="k8s-rbac-no-cluster-wide-secret-read", severity=Severity.HIGH, resource_types=(CLUSTER_ROLE, CLUSTER_ROLE_BINDING),
            frameworks=_ACCESS, remediation="Bind a namespaced Role (resourceNames) with a RoleBinding in each namespace that needs it.")
def RBAC_NO_CLUSTER_WIDE_SECRET_READ(rule: StackRule, resources: list[Resource]) -> list[Finding]:
    """A ClusterRoleBinding to a role that reads Secrets grants every Secret in every namespace."""
    # Planned ClusterRole name (None when unknown) -> (what reads Secrets, whether that is certain).
    planned: dict[str | None, tuple[str, bool]] = {}
    for role in (r for r in resources if r["type"] == CLUSTER_ROLE):
        rules, unknown = _policy_rules(rule, role)
        reads = [(f"rules[{i}]", bool(verdict)) for i, entry in rules if (verdict := _reads_secrets(entry)) is not False]
        if not reads and (unknown or role["props"].get("aggregationRule")):
            reads = [("rules unknown at preview or aggregated at run time", False)]
        if reads:
            name = dig(role["props"], "metadata", "name")
            planned[name if isinstance(name, str) and not is_unknown(name) else None] = next((r for r in reads if r[1]), reads[0])
    out = []
    for binding in (r for r in resources if r["type"] == CLUSTER_ROLE_BINDING):
        name = dig(binding["props"], "roleRef", "name")
        if is_unknown(name):
            if planned:
                out.append(rule.undecided(binding, "roleRef.name (it may name a ClusterRole that reads Secrets)"))
            continue
        if not isinstance(name, str) or not (name in BUILTIN_SECRET_READERS or name in planned):
            continue
        why, certain = planned.get(name, ("a built-in role", True))
        if certain:
            out.append(rule.finding(binding, f"binds ClusterRole '{name}', which reads secrets ({why}), in every namespace: "
                                    "bind a namespaced Role with a RoleBinding instead"))
        else:
            out.append(rule.undecided(binding, f"part of ClusterRole '{name}' ({why})"))
    return out


@rule(id="SP-K8S-004", name="k8s-rbac-no-escalation-verbs", severity=Severity.HIGH, resource_types=ROLES, frameworks=_ACCESS,
      remediation="Remove these verbs; grant the target permissions directly and narrowly if they are needed.")
def RBAC_NO_ESCALATION_VERBS(rule: Rule, resource: Resource) -> list[Finding]:
    """impersonate, escalate, bind and serviceaccounts/token create let a subject gain permissions it was not given."""
    rules, out = _policy_rules(rule, resource)
    for index, entry in rules:
        (verbs, verbs_unknown), (resources, resources_unknown) = entry["verbs"], entry["resources"]
        if found := ESCALATION_VERBS & set(verbs):
            out.append(rule.finding(resource, f"rules[{index}] grants {', '.join(sorted(found))}: privilege escalation; remove it"))
        if "serviceaccounts/token" in resources and {"create", "*"} & set(verbs):
            out.append(rule.finding(resource, f"rules[{index}] grants create on serviceaccounts/token: "
                                    "it mints tokens for any service account in scope"))
        elif verbs_unknown or (resources_unknown and "create" in verbs):
            out.append(rule.undecided(resource, f"rules[{index}].verbs/resources"))
    return out


@rule(id="SP-K8S-005", name="k8s-rbac-no-cluster-admin-binding", severity=Severity.CRITICAL, resource_types=BINDINGS, frameworks=_ACCESS,
      remediation="Bind a purpose-made Role with only the verbs and resources needed.")
def RBAC_NO_CLUSTER_ADMIN_BINDING(rule: Rule, resource: Resource) -> list[Finding]:
    """Binding cluster-admin grants full control (of the namespace for a RoleBinding, of the cluster otherwise)."""
    name = dig(resource["props"], "roleRef", "name")
    return rule.require(resource, "roleRef.name", name, name != "cluster-admin",
                        "roleRef is cluster-admin: bind a Role with only the verbs and resources needed")


@rule(id="SP-K8S-006", name="k8s-rbac-no-anonymous-subjects", severity=Severity.CRITICAL, resource_types=BINDINGS, frameworks=_ACCESS,
      remediation="Bind named service accounts, users or groups.")
def RBAC_NO_ANONYMOUS_SUBJECTS(rule: Rule, resource: Resource) -> list[Finding]:
    """Bindings to system:anonymous, system:unauthenticated or system:authenticated reach anyone who can talk to the API
    server."""
    subjects = resource["props"].get("subjects")
    if is_unknown(subjects):
        return [rule.undecided(resource, "subjects")]
    out = []
    for index, subject in enumerate(entries(subjects)):
        kind, name = dig(subject, "kind"), dig(subject, "name")
        if is_unknown(kind) or is_unknown(name) or is_unknown(subject):
            out.append(rule.undecided(resource, f"subjects[{index}]"))
        elif isinstance(kind, str) and isinstance(name, str) and (kind, name) in ANONYMOUS:
            out.append(rule.finding(resource, f"subjects[{index}] is {kind} {name}: anyone reaching the API server gets this role"))
    return out


@rule(id="SP-K8S-007", name="k8s-rbac-secrets-by-name", severity=Severity.HIGH, resource_types=ROLES, frameworks=_ACCESS,
      remediation="Grant only get, with resourceNames listing the Secrets the workload reads (our secret_reader_role); "
      "drop list/watch and write verbs, which the workload does not need to read its own Secrets.")
def RBAC_SECRETS_BY_NAME(rule: Rule, resource: Resource) -> list[Finding]:
    """A Role or ClusterRole rule granting get/list/watch or write verbs on Secrets without resourceNames reaches every
    Secret of each namespace it is bound in, not just the workload's own."""
    # Secret verbs without resourceNames reach every Secret the role's bindings cover.
    #
    # With resourceNames the API server authorizes a request only when it names one of them: get, update,
    # patch and delete by name; list and watch only with a metadata.name field selector for one of them;
    # create and deletecollection (no name at authorization time) not at all. So a non-empty resourceNames
    # never widens access, and an empty one is the violation.
    rules, out = _policy_rules(rule, resource)
    scope = "its namespace" if resource["type"] == ROLE else "every namespace it is bound in"
    for index, entry in rules:
        if entry["resourceNames"].values:
            continue  # limited to the names listed, whatever the verbs
        granted = [v for v in SECRET_VERBS if {v, "*"} & set(entry["verbs"].values)]
        conditions = ((bool({"", "*"} & set(entry["apiGroups"].values)), entry["apiGroups"].unknown),
                      (bool({"secrets", "*"} & set(entry["resources"].values)), entry["resources"].unknown),
                      (bool(granted), entry["verbs"].unknown))
        if any(not met and not unknown for met, unknown in conditions):
            continue  # known not to grant a verb on Secrets
        if not all(met for met, _ in conditions) or entry["resourceNames"].unknown:
            out.append(rule.undecided(resource, f"part of rules[{index}] (apiGroups, resources, verbs or resourceNames)"))
            continue
        why = []
        if {"list", "watch"} & set(granted):
            why.append("list/watch return every Secret with its data")
        if {"create", "update", "patch", "delete", "deletecollection"} & set(granted):
            why.append("writes reach every Secret (create even mints service-account token Secrets)")
        out.append(rule.finding(resource, f"rules[{index}] grants {', '.join(granted)} on every Secret of {scope} (no resourceNames)"
                                f"{': ' + '; '.join(why) if why else ''}; grant get with resourceNames listing only the Secrets needed"))
    return out


def _granted(entry: PolicyRule, group: str, resource: str, verbs: frozenset[str]) -> tuple[list[str], bool]:
    """The verbs of `verbs` an entry grants on group/resource (wildcards included), and whether unknowns leave more open."""
    groups, resources, granted = entry["apiGroups"], entry["resources"], entry["verbs"]
    parent = resource.partition("/")[0]
    matched = ((group in groups.values or "*" in groups.values),
               (resource in resources.values or "*" in resources.values or (parent != resource and f"{parent}/*" in resources.values)))
    verbs_found = sorted(v for v in verbs if v in granted.values) if "*" not in granted.values else sorted(verbs)
    if not all(matched):
        unknown = any(not m and u for m, u in zip(matched, (groups.unknown, resources.unknown)))
        return [], unknown and bool(verbs_found or granted.unknown)
    return verbs_found, granted.unknown and not verbs_found


# Grants the vendors' least-privilege forms limit by resourceNames: the CSR docs' approver may approve only for its own
# signer (https://kubernetes.io/docs/reference/access-authn-authz/certificate-signing-requests/#authorization, its
# resourceNames example.com/my-signer-name), and cert-manager's cainjector patches only its named webhook configurations.
# Built-in signers (kubernetes.io/...) issue cluster client certificates, so naming one limits nothing.
NAME_LIMITABLE = frozenset({"signers", "mutatingwebhookconfigurations", "validatingwebhookconfigurations"})
BUILTIN_SIGNERS = "kubernetes.io/"


def _limited_by_name(entry: PolicyRule, resource: str) -> bool:
    names = entry["resourceNames"]
    if resource not in NAME_LIMITABLE or not names.values or names.unknown or any("*" in n for n in names.values):
        return False
    return resource != "signers" or not any(n.startswith(BUILTIN_SIGNERS) for n in names.values)


def _in_scope(resource: Resource, scope: str) -> bool | None:
    """Whether a grant of this scope applies to the role; None when the Role's namespace is unknown at preview."""
    if scope == ANY_ROLE or resource["type"] == CLUSTER_ROLE:
        return True
    namespace = dig(resource["props"], "metadata", "namespace")
    return None if is_unknown(namespace) else namespace == SYSTEM_NAMESPACE


@rule(id="SP-K8S-008", name="k8s-rbac-no-takeover-grants", severity=Severity.HIGH, resource_types=ROLES, frameworks=_ACCESS,
      remediation="Remove the grant; keep these with the cluster's own controllers, or limit them with resourceNames to the objects needed.")
def RBAC_NO_TAKEOVER_GRANTS(rule: Rule, resource: Resource) -> list[Finding]:
    """Grants that take over the cluster or its Secrets without reading one: admission webhooks, CSR approval and
    signers, ephemeral containers, nodes/proxy, creating or patching (cluster)role bindings, patching nodes, creating
    PersistentVolumes, and, cluster-wide or in kube-system, writing pods or workload controllers, pods/exec and
    ConfigMaps (EKS aws-auth)."""
    rules, out = _policy_rules(rule, resource)
    # CSR approval only issues certificates through a signer the subject may approve: when every signer approve of the
    # role is limited to its own (custom) signers, approval is the CSR docs' approver form.
    signer_grants = [entry for _, entry in rules if _granted(entry, "certificates.k8s.io", "signers", frozenset({"approve"}))[0]]
    own_signers_only = bool(signer_grants) and all(_limited_by_name(entry, "signers") for entry in signer_grants)
    for index, entry in rules:
        for group, name, verbs, why, scope in TAKEOVER_GRANTS:
            applies = _in_scope(resource, scope)
            if applies is False or _limited_by_name(entry, name):
                continue
            if name == "certificatesigningrequests/approval" and own_signers_only:
                continue
            found, unknown = _granted(entry, group, name, verbs)
            if found and applies is None:
                out.append(rule.undecided(resource, f"metadata.namespace (rules[{index}] grants {', '.join(found)} on {name}, "
                                          "a takeover in kube-system)"))
            elif found:
                out.append(rule.finding(resource, f"rules[{index}] grants {', '.join(found)} on {name}: {why}; remove it"))
            elif unknown:
                out.append(rule.undecided(resource, f"part of rules[{index}] (it may grant {name})"))
        out += _system_config_writes(rule, resource, index, entry)
    return out


def _system_config_writes(rule: Rule, resource: Resource, index: int, entry: PolicyRule) -> list[Finding]:
    """ConfigMap writes that reach kube-system (aws-auth on EKS): a Role there, or a ClusterRole, not limited to
    ConfigMaps other than aws-auth by resourceNames."""
    namespace = dig(resource["props"], "metadata", "namespace")
    if resource["type"] == ROLE and not is_unknown(namespace) and namespace != SYSTEM_NAMESPACE:
        return []
    found, unknown = _granted(entry, "", "configmaps", WRITE_VERBS)
    names = entry["resourceNames"]
    if found and names.values and AWS_AUTH not in names.values and not names.unknown:
        return []  # limited to named ConfigMaps, aws-auth not among them
    if found and not is_unknown(namespace):
        where = "kube-system" if resource["type"] == ROLE else "every namespace it is bound in, kube-system included"
        return [rule.finding(resource, f"rules[{index}] grants {', '.join(found)} on configmaps in {where}: "
                             "kube-system ConfigMaps configure the cluster (EKS maps IAM roles to groups in aws-auth); remove it")]
    if found or unknown:
        return [rule.undecided(resource, f"part of rules[{index}] or metadata.namespace (it may write kube-system ConfigMaps)")]
    return []


@rule(id="SP-K8S-009", name="k8s-rbac-no-builtin-admin-edit-binding", severity=Severity.HIGH, resource_types=BINDINGS, frameworks=_ACCESS,
      remediation="Bind a purpose-made Role: get on the Secrets the workload reads, by resourceNames.")
def RBAC_NO_BUILTIN_ADMIN_EDIT_BINDING(rule: Rule, resource: Resource) -> list[Finding]:
    """The built-in aggregated ClusterRoles admin and edit read and write every Secret of the namespace they are bound
    in."""
    kind, name = dig(resource["props"], "roleRef", "kind"), dig(resource["props"], "roleRef", "name")
    if is_unknown(name) or is_unknown(kind):
        return [rule.undecided(resource, "roleRef")]
    if kind == "ClusterRole" and isinstance(name, str) and name in AGGREGATED_SECRET_READERS:
        scope = "every namespace" if resource["type"] == CLUSTER_ROLE_BINDING else "the namespace"
        return [rule.finding(resource, f"binds the built-in ClusterRole '{name}', which reads and writes every Secret of {scope} "
                             "(and grows with every role aggregated into it): bind a Role with get on the named Secrets needed")]
    return []


RULES: list[Rule | StackRule] = [
    RBAC_NO_WILDCARD,
    RBAC_CLUSTER_ROLE_READS_SECRETS,
    RBAC_NO_CLUSTER_WIDE_SECRET_READ,
    RBAC_NO_ESCALATION_VERBS,
    RBAC_NO_CLUSTER_ADMIN_BINDING,
    RBAC_NO_ANONYMOUS_SUBJECTS,
    RBAC_SECRETS_BY_NAME,
    RBAC_NO_TAKEOVER_GRANTS,
    RBAC_NO_BUILTIN_ADMIN_EDIT_BINDING,
]
