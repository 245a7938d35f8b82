"""External Secrets Operator rules (external-secrets.io/v1, field names from the pinned CRDs in
../shared/schemas/external-secrets/): store reach and credentials, what ExternalSecrets pull and
what happens to the Kubernetes Secret when the backend is briefly unreachable.

Hand-written resources of older versions are checked too: v1beta1 has the same field names for
everything read here (v1 promoted it), and v1alpha1 stores the same provider auth fields but no
spec.conditions. v1alpha1 ExternalSecrets have neither dataFrom.find nor target.deletionPolicy (their
dataFrom lists explicit keys), so the ExternalSecret rules have nothing to read there.

Messages name fields and indexes, never regexes, Secret names or other values."""

from __future__ import annotations

import re
from typing import Any

from documents.props import dig, entries, strings
from policy.rules._util import HIPAA_ACCESS, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE
from policy.rules.base import Finding, Resource, Rule, Severity, is_unknown, rule

_ESO = "kubernetes:external-secrets.io/v1"
CLUSTER_SECRET_STORE, SECRET_STORE = f"{_ESO}:ClusterSecretStore", f"{_ESO}:SecretStore"
EXTERNAL_SECRET, CLUSTER_EXTERNAL_SECRET = f"{_ESO}:ExternalSecret", f"{_ESO}:ClusterExternalSecret"
STORE_VERSIONS = ("v1", "v1beta1", "v1alpha1")
EXTERNAL_SECRET_VERSIONS = ("v1", "v1beta1")


def type_tokens(kind: str, versions: tuple[str, ...]) -> tuple[str, ...]:
    """The type tokens of one ESO kind in each version the rules read."""
    return tuple(f"kubernetes:external-secrets.io/{version}:{kind}" for version in versions)


def _version(resource: Resource) -> str:
    return resource["type"].split(":")[1].rsplit("/", 1)[-1]  # kubernetes:<group>/<version>:<Kind>

# Names a pattern must not match all of to count as a restriction (namespaces; remote secret keys).
NAMESPACE_PROBES = ("default", "kube-system", "z", "team-a-prod")
SECRET_NAME_PROBES = ("a", "prod/db-password", "Z_9", "other-team/api-key")

# Per provider: auth fields (paths under spec.provider.<p>.auth) that hold a long-lived credential in a
# Kubernetes Secret, and what to use instead. Vault and OpenBao share the auth schema.
_VAULT_STATIC = {
    ("tokenSecretRef",): "a static token",
    ("appRole",): "an AppRole SecretID",
    ("userPass",): "a password",
    ("ldap",): "an LDAP password",
    ("cert",): "a client certificate",
    ("jwt", "secretRef"): "a stored JWT",
    ("kubernetes", "secretRef"): "a long-lived service-account token",
    ("iam", "secretRef"): "static AWS keys",
    ("gcp", "secretRef"): "a static GCP key",
}
STATIC_AUTH = {
    "aws": ({("secretRef",): "static access keys"}, "IRSA (auth.jwt.serviceAccountRef) or the controller's IRSA role"),
    "vault": (_VAULT_STATIC, "Kubernetes auth (auth.kubernetes with serviceAccountRef)"),
    "openBao": (_VAULT_STATIC, "Kubernetes auth (auth.kubernetes with serviceAccountRef)"),
    "gcpsm": ({("secretRef",): "a static service-account key"}, "workload identity (auth.workloadIdentity)"),
}
_ACCESS = (HIPAA_ACCESS, SOC2_ACCESS, SOC2_LEAST_PRIVILEGE)
_CLUSTER_STORES = type_tokens("ClusterSecretStore", STORE_VERSIONS)
_STORES = _CLUSTER_STORES + type_tokens("SecretStore", STORE_VERSIONS)
_CLUSTER_EXTERNAL_SECRETS = type_tokens("ClusterExternalSecret", EXTERNAL_SECRET_VERSIONS)
_EXTERNAL_SECRETS = type_tokens("ExternalSecret", EXTERNAL_SECRET_VERSIONS) + _CLUSTER_EXTERNAL_SECRETS


def matches_everything(pattern: str, probes: tuple[str, ...]) -> bool:
    """Whether a Go regexp, matched unanchored as ESO does, accepts every probe (`.*`, `.+`, empty, `^.*$`…)."""
    try:
        compiled = re.compile(pattern)
    except re.error:
        return False
    return all(compiled.search(probe) for probe in probes)


def _selects_every_namespace(selector: Any) -> bool:
    """An empty label selector, or one with only NotIn/DoesNotExist requirements, selects (nearly) every namespace."""
    if not isinstance(selector, dict) or selector.get("matchLabels"):
        return False
    return all(isinstance(e, dict) and e.get("operator") in ("NotIn", "DoesNotExist") for e in entries(selector.get("matchExpressions")))


@rule(id="SP-ESO-001", name="eso-cluster-store-namespace-conditions", severity=Severity.HIGH, resource_types=_CLUSTER_STORES, frameworks=_ACCESS,
      remediation="Add spec.conditions with namespaces (or anchored namespaceRegexes / a label selector) of its consumers.")
def CLUSTER_STORE_NAMESPACE_CONDITIONS(rule: Rule, resource: Resource) -> list[Finding]:
    """A ClusterSecretStore without namespace conditions serves every namespace, so anyone who can create an
    ExternalSecret anywhere reads through its identity."""
    if _version(resource) == "v1alpha1":  # no conditions field: the API server drops one if written
        return [rule.finding(resource, "a v1alpha1 ClusterSecretStore has no spec.conditions: ExternalSecrets in every "
                             "namespace can use it; write it as external-secrets.io/v1 with conditions naming its consumers' namespaces")]
    conditions = dig(resource["props"], "spec", "conditions")
    if is_unknown(conditions):
        return [rule.undecided(resource, "spec.conditions")]
    if not conditions:
        return [rule.finding(resource, "spec.conditions is missing: ExternalSecrets in every namespace can use this store; "
                             "limit it to the namespaces that need it")]
    out: list[Finding] = []
    for index, condition in enumerate(entries(conditions)):
        at = f"spec.conditions[{index}]"
        selector = dig(condition, "namespaceSelector")  # unknown too when the whole condition is
        if is_unknown(selector):
            out.append(rule.undecided(resource, at))
            continue
        if _selects_every_namespace(selector):
            out.append(rule.finding(resource, f"{at}.namespaceSelector selects every namespace (empty or exclusions only)"))
        regexes, unknown = strings(dig(condition, "namespaceRegexes"))
        for r_index, regex in enumerate(regexes):
            if matches_everything(regex, NAMESPACE_PROBES):
                out.append(rule.finding(resource, f"{at}.namespaceRegexes[{r_index}] matches every namespace"))
            elif not (regex.startswith("^") and regex.endswith("$")):
                out.append(rule.finding(resource, f"{at}.namespaceRegexes[{r_index}] is not anchored with ^…$: "
                                        "ESO matches it anywhere in a namespace name"))
        if unknown:
            out.append(rule.undecided(resource, f"{at}.namespaceRegexes"))
    return out


@rule(id="SP-ESO-002", name="eso-store-no-static-credentials", severity=Severity.HIGH, resource_types=_STORES, frameworks=_ACCESS,
      remediation="Use IRSA (aws auth.jwt), workload identity (azurekv authType WorkloadIdentity, gcpsm auth.workloadIdentity) or Vault Kubernetes auth.")
def STORE_NO_STATIC_CREDENTIALS(rule: Rule, resource: Resource) -> list[Finding]:
    """Stores that log in with credentials kept in a Kubernetes Secret, where a workload identity exists for the
    provider."""
    provider = dig(resource["props"], "spec", "provider")
    if is_unknown(provider):
        return [rule.undecided(resource, "spec.provider")]
    if not isinstance(provider, dict):
        return []
    out: list[Finding] = []
    for name, config in provider.items():
        at = f"spec.provider.{name}"
        if is_unknown(config):
            out.append(rule.undecided(resource, at))
        elif name == "azurekv":
            auth_type = dig(config, "authType")
            if is_unknown(auth_type):
                out.append(rule.undecided(resource, f"{at}.authType"))
            elif auth_type in (None, "ServicePrincipal"):  # the CRD's default is ServicePrincipal
                out.append(rule.finding(resource, f"{at}.authType is ServicePrincipal (the default): a client secret stored in "
                                        "Kubernetes; use authType: WorkloadIdentity"))
        elif name in STATIC_AUTH:
            static, instead = STATIC_AUTH[name]
            auth = dig(config, "auth")
            if is_unknown(auth):
                out.append(rule.undecided(resource, f"{at}.auth"))
                continue
            for path, what in static.items():
                value = dig(auth, *path)
                field = f"{at}.auth.{'.'.join(path)}"
                if is_unknown(value):
                    out.append(rule.undecided(resource, field))
                elif value is not None:
                    out.append(rule.finding(resource, f"{field} authenticates with {what} kept in a Kubernetes Secret; use {instead}"))
    return out


def _external_secret_spec(resource: Resource) -> tuple[Any, str]:
    """The ExternalSecret spec (a ClusterExternalSecret's template of one) and where it sits."""
    if resource["type"].endswith(":ClusterExternalSecret"):
        return dig(resource["props"], "spec", "externalSecretSpec"), "spec.externalSecretSpec"
    return dig(resource["props"], "spec"), "spec"


@rule(id="SP-ESO-003", name="eso-find-restricted", severity=Severity.HIGH, resource_types=_EXTERNAL_SECRETS, frameworks=_ACCESS,
      remediation="List the keys in data[] (remoteRef key/property), or restrict find with an exact name.regexp or path.")
def FIND_RESTRICTED(rule: Rule, resource: Resource) -> list[Finding]:
    """dataFrom.find without a restricting name regexp or path copies every secret the store can read."""
    spec, at = _external_secret_spec(resource)
    data_from = dig(spec, "dataFrom")
    if is_unknown(data_from):
        return [rule.undecided(resource, f"{at}.dataFrom")]
    out: list[Finding] = []
    for index, entry in enumerate(entries(data_from)):
        find = dig(entry, "find")
        if find is None:
            continue
        regex, path = dig(find, "name", "regexp"), dig(find, "path")
        named = isinstance(regex, str) and not is_unknown(regex) and regex != "" and not matches_everything(regex, SECRET_NAME_PROBES)
        pathed = isinstance(path, str) and not is_unknown(path) and path.strip("/") != ""
        if named or pathed:
            continue
        if is_unknown(regex) or is_unknown(path):
            out.append(rule.undecided(resource, f"{at}.dataFrom[{index}].find"))
        else:
            out.append(rule.finding(resource, f"{at}.dataFrom[{index}].find has no name.regexp or path that restricts it: "
                                    "it copies every secret the store can read; list keys in data[] instead"))
    return out


@rule(id="SP-ESO-004", name="eso-target-retain", severity=Severity.MEDIUM, resource_types=_EXTERNAL_SECRETS, frameworks=(SOC2_ACCESS,),
      remediation="Set target.deletionPolicy: Retain (the default).")
def TARGET_RETAIN(rule: Rule, resource: Resource) -> list[Finding]:
    """deletionPolicy Delete removes the Kubernetes Secret when the remote secret is not found."""
    spec, at = _external_secret_spec(resource)
    policy = dig(spec, "target", "deletionPolicy")
    if is_unknown(policy):
        return [rule.undecided(resource, f"{at}.target.deletionPolicy")]
    if policy == "Delete":
        return [rule.finding(resource, f"{at}.target.deletionPolicy is Delete: when the remote secret cannot be found "
                             "(a renamed key, a brief backend fault) the Kubernetes Secret is deleted and pods fail; use Retain")]
    return []


@rule(id="SP-ESO-005", name="eso-cluster-external-secret-namespaces", severity=Severity.HIGH, resource_types=_CLUSTER_EXTERNAL_SECRETS,
      frameworks=_ACCESS, remediation="List spec.namespaces, or select by a label only the consuming namespaces carry.")
def CLUSTER_EXTERNAL_SECRET_NAMESPACES(rule: Rule, resource: Resource) -> list[Finding]:
    """A ClusterExternalSecret whose namespace selector selects everything copies the Secret into every namespace."""
    spec = dig(resource["props"], "spec")
    if is_unknown(spec):
        return [rule.undecided(resource, "spec")]
    selectors = [("spec.namespaceSelector", dig(spec, "namespaceSelector"))]
    listed = dig(spec, "namespaceSelectors")
    if is_unknown(listed):
        return [rule.undecided(resource, "spec.namespaceSelectors")]
    selectors += [(f"spec.namespaceSelectors[{i}]", s) for i, s in enumerate(entries(listed))]
    out = []
    for at, selector in selectors:
        if is_unknown(selector):
            out.append(rule.undecided(resource, at))
        elif _selects_every_namespace(selector):
            out.append(rule.finding(resource, f"{at} selects every namespace: the Secret is copied into all of them; "
                                    "list spec.namespaces or select by a label only the consumers carry"))
    return out


RULES: list[Rule] = [
    CLUSTER_STORE_NAMESPACE_CONDITIONS,
    STORE_NO_STATIC_CREDENTIALS,
    FIND_RESTRICTED,
    TARGET_RETAIN,
    CLUSTER_EXTERNAL_SECRET_NAMESPACES,
]
