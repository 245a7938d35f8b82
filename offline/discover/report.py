"""The discovery report: the access as it is against the drafted least-privilege access.

Every over-broad statement is named with its holder, its place (policy and statement index, or Vault
policy path block) and the existing secrets and keys it reaches; then the access the draft removes,
per principal, from the access matrix; then the policy pack's findings on the estate. Names, ARNs and
paths only: the estate was never asked for a value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from components.spec.aws import ROLE_POLICY_NAME
from documents.iam import access_level, expand, has_wildcard, matches, parse
from offline.access.vault import Rule
from offline.discover.aws import ATTACHMENT, POLICY, ROLE_POLICY
from offline.discover.draft import Discovery
from offline.discover.vault import APPROLE_ROLE, KUBERNETES_ROLE
from offline.discover.vault import POLICY as VAULT_POLICY
from policy.engine import evaluate
from policy.settings import PackSettings

# What the draft grants a reader: the secret's value and description, and decryption of its key.
READ_ACTIONS = frozenset({"secretsmanager:getsecretvalue", "secretsmanager:describesecret", "kms:decrypt"})
VAULT_READ = frozenset({"read", "list"})


@dataclass(frozen=True)
class OverBroad:
    holder: str  # the role (or roles) holding the grant
    where: str  # policy and statement
    grant: str  # actions on resources, as written
    reaches: tuple[str, ...]  # existing secrets and keys it reaches
    why: tuple[str, ...]


def over_broad(d: Discovery) -> list[OverBroad]:
    return [*_iam(d), *_vault(d), *_stores(d)]


def _iam(d: Discovery) -> list[OverBroad]:
    resources = d.estate.resources
    managed = {r["outputs"].get("arn"): r for r in resources if r["type"] == POLICY}
    documents = [(r["props"]["role"], f"inline policy {r['props']['name']} of role {r['props']['role']}", r["props"]["policy"])
                 for r in resources if r["type"] == ROLE_POLICY]
    documents += [(r["props"]["role"], f"managed policy {managed[r['props']['policyArn']]['name']} attached to role {r['props']['role']}",
                   managed[r["props"]["policyArn"]]["props"]["policy"]) for r in resources if r["type"] == ATTACHMENT and r["props"]["policyArn"] in managed]
    secrets = [(s.path, s.adopt) for s in d.secrets.values() if s.backend == "aws" and s.adopt]
    keys = [(k.aliases[0] if k.aliases else k.key_id, k.arn) for k in d.estate.keys]
    consumers = {i.name for w in d.workloads for i in w.identities if i.kind == "iam-role"}
    out = []
    for role, where, document in documents:
        for s in parse(document).statements:
            if s.allow is not True:
                continue
            relevant = [a for a in s.actions if a == "*" or a.lower().startswith(("secretsmanager:", "kms:"))]
            if not relevant and not s.not_action:
                continue
            why = []
            if s.not_action:
                why.append("NotAction: every action but the listed ones")
            beyond = sorted({a for pattern in relevant for a in (expand(pattern) or [pattern]) if a.lower() not in READ_ACTIONS
                             and (access_level(a) != "Read" or a.lower().startswith("kms:"))})
            if beyond:
                why.append(f"beyond reading: {', '.join(beyond[:8])}{' and more' if len(beyond) > 8 else ''}")
            globs = [r for r in s.resources if has_wildcard(r)]
            if s.not_resource:
                why.append("NotResource: every resource but the listed ones")
            for r in globs:
                what = "every key" if ":kms:" in r or r == "*" else "every secret"
                why.append(f"`{r}` is a glob: {what} it matches, also those created later")
                if r.count(":") >= 4 and has_wildcard(r.split(":")[4]):
                    why.append(f"`{r}` names any account")
            if not why:
                continue
            reaches = [name for name, arn in secrets if any(matches(r, arn) for r in s.resources) != s.not_resource]
            reaches += [f"KMS key {name}" for name, arn in keys if any(matches(r, arn) for r in s.resources) != s.not_resource]
            if not reaches and role not in consumers:
                continue  # a role of the account that reaches nothing discovered: outside this estate
            grant = f"{', '.join(s.actions)}{' (NotAction)' if s.not_action else ''} on {', '.join(s.resources)}"
            out.append(OverBroad(f"IAM role {role}", f"{where}, statement {s.index}", grant, tuple(reaches), tuple(why)))
    return out


def _vault(d: Discovery) -> list[OverBroad]:
    from policy.rules.vault import PolicyParseError, is_glob, parse_policy

    holders: dict[str, list[str]] = {}
    for r in d.estate.resources:
        if r["type"] in (KUBERNETES_ROLE, APPROLE_ROLE):
            for policy in r["props"]["tokenPolicies"]:
                holders.setdefault(policy, []).append(f"Vault role auth/{r['props']['backend']}/role/{r['props']['roleName']}")
    paths = [(s.path, s.mount) for s in d.secrets.values() if s.backend == "vault" and s.mount]
    out = []
    for r in d.estate.resources:
        if r["type"] != VAULT_POLICY:
            continue
        try:
            blocks = parse_policy(r["props"]["policy"])
        except PolicyParseError:
            continue
        for block in blocks:
            caps = set(block.grants)
            why = []
            if caps - VAULT_READ:
                why.append(f"beyond reading: {', '.join(sorted(caps - VAULT_READ))}")
            if is_glob(block.path) and caps:
                why.append(f"`{block.path}` is a glob: every secret it matches, also those created later")
            if not why:
                continue
            rule = Rule(block.path, frozenset(caps), (r["name"],))
            reaches = [f"{mount}/{path}" for path, mount in paths
                       if any(rule.matches(f"{mount}/{endpoint}{path}") for endpoint in ("data/", "metadata/", ""))]
            out.append(OverBroad(" and ".join(holders.get(r["name"], [])) or f"no role ({r['name']} is in no discovered role)",
                                 f"Vault policy {r['name']}, path \"{block.path}\"", f"{', '.join(sorted(block.capabilities))} on {block.path}",
                                 tuple(reaches), tuple(why)))
    return out


def _stores(d: Discovery) -> list[OverBroad]:
    out = []
    for store in d.estate.stores:
        spec = next((r["props"]["spec"] for r in d.estate.resources if r["type"].endswith(f":{store.kind}")
                     and r["props"]["metadata"]["name"] == store.name), {})
        if store.kind == "ClusterSecretStore" and not spec.get("conditions"):
            reaches = sorted({e.secret for e in d.matrix.entries if e.principal == "namespace:*"})
            out.append(OverBroad("any namespace", f"ClusterSecretStore {store.name} (no spec.conditions)",
                                 "an ExternalSecret in any namespace may use it", tuple(reaches),
                                 ("every namespace may sync every secret the store's identity reads",)))
    return out


def findings(d: Discovery) -> tuple[list[dict[str, str]], int]:
    """The policy pack over the estate (its rules, the environment's default levels, no exceptions: those
    belong to the project's stacks); and how many rule runs could not decide."""
    report = evaluate(d.estate.resources, PackSettings(d.environment))
    rows = [{"rule": v.rule_id, "resource": v.resource_name, "level": v.enforcement.value, "message": v.message}
            for v in report.violations if not v.undecided]
    return rows, sum(v.undecided for v in report.violations)


def removed_by_principal(d: Discovery) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for e in d.removed:
        label = d.matrix.principals[e.principal].label if e.principal in d.matrix.principals else e.principal
        out.setdefault(f"{e.principal} ({label})" if label != e.principal else e.principal, []).append(
            f"{e.capability} {e.secret}{' (unknown)' if e.status != 'effective' else ''}")
    return out


def detached(d: Discovery) -> dict[str, dict[str, list[str]]]:
    """Per role the draft adopts: the inline policies `pulumi up` deletes and the managed policies it detaches. The
    program owns an adopted role's policies exactly (its one inline policy `secrets-access`, no managed policy), so
    whatever the role held before goes, and its access afterwards is the drafted access only."""
    adopted = sorted({i.name for w in d.workloads for i in w.identities if i.kind == "iam-role"})
    out: dict[str, dict[str, list[str]]] = {}
    for role in adopted:
        inline = sorted(r["props"]["name"] for r in d.estate.resources
                        if r["type"] == ROLE_POLICY and r["props"]["role"] == role and r["props"]["name"] != ROLE_POLICY_NAME)
        attached = sorted(r["props"]["policyArn"] for r in d.estate.resources if r["type"] == ATTACHMENT and r["props"]["role"] == role)
        if inline or attached:
            out[role] = {"inline_deleted": inline, "attached_detached": attached}
    return out


def as_json(d: Discovery, broad: list[OverBroad], pack: list[dict[str, str]], undecided: int) -> dict[str, Any]:
    return {
        "kind": "secrets-platform/discovery", "version": 1, "stack": d.stack, "source": d.estate.source,
        "secrets": {sid: {"name": d.names[sid], "path": s.path, "adopt": s.adopt or None} for sid, s in sorted(d.secrets.items())},
        "access_as_is": [{"principal": e.principal, "secret": e.secret, "capability": e.capability, "status": e.status} for e in d.as_is],
        "drafted": {w.name: [d.names[s] for s in w.reads] for w in d.workloads},
        "over_broad": [asdict(b) for b in broad],
        "removed": removed_by_principal(d),
        "policies_removed": detached(d),
        "added": [{"workload": w, "secret": sid} for w, sid in d.added],
        "policy_findings": pack, "policy_undecided": undecided,
        "review": d.review, "notes": list(dict.fromkeys([*d.estate.notes, *d.matrix.notes])),
    }


def markdown(d: Discovery, broad: list[OverBroad], pack: list[dict[str, str]], undecided: int) -> str:
    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [f"# Discovery: stack `{d.stack}`", "", f"Read: {d.estate.source}. Listed and described only: no secret value was read, "
             "nothing was written.", "", "## Secrets found", "", "| draft name | path as it is | adopt (import id) | key | rotation | replicas |",
             "|---|---|---|---|---|---|"]
    keys = {k.key_id: (k.aliases[0] if k.aliases else k.key_id) for k in d.estate.keys}
    for sid, s in sorted(d.secrets.items(), key=lambda item: d.names[item[0]]):
        key = keys.get(s.key or "", s.key) if s.backend == "aws" else "-"
        rotation = (f"{s.rotation_days} days" if s.rotation_days else s.rotation_schedule or "") + (f" by {s.rotation_function}" if s.rotation_function else "")
        lines.append(f"| {d.names[sid]} | `{s.mount + '/' if s.mount else ''}{s.path}` | {cell(s.adopt or 'not read from the backend')} | "
                     f"{cell(key or ('AWS managed key' if s.backend == 'aws' else '-'))} | {cell(rotation or 'none')} | {cell(', '.join(s.replica_regions) or '-')} |")
    lines += ["", "## Access as it is", "", "From the access matrix over the discovered resources; `(unknown)`: it may, "
              "depending on what discovery cannot decide; `(blocked)`: a policy grants it, another layer stops it.", "",
              "| principal | read | write | admin |", "|---|---|---|---|"]
    rows: dict[str, list] = {}
    for e in d.as_is:
        rows.setdefault(e.principal, []).append(e)
    for principal, entries in rows.items():
        by_capability = {c: [e.secret + ("" if e.status == "effective" else f" ({e.status})") for e in entries if e.capability == c]
                         for c in ("read", "write", "admin")}
        lines.append(f"| {cell(principal)} | " + " | ".join(cell(", ".join(v) or "-") for v in by_capability.values()) + " |")
    lines += ["", "## Drafted least-privilege access", "", "Each consumer reads exactly the existing secrets it reads today, by name.", "",
              "| workload | identities | reads |", "|---|---|---|"]
    for w in d.workloads:
        ids = ", ".join(sorted(w.principals)) + (" (External Secrets controller: reads derived from the consumers)" if w.eso_controller else "")
        lines.append(f"| {w.name} | {cell(ids)} | {cell(', '.join(d.names[s] for s in w.reads) or '-')} |")
    lines += ["", "## Over-broad grants", ""]
    if not broad:
        lines.append("None found in the grants read.")
    for b in broad:
        lines.append(f"- **{cell(b.holder)}**: {cell(b.where)}: `{cell(b.grant)}`. Reaches: "
                     f"{cell(', '.join(b.reaches) or 'no existing secret (only secrets created later)')}. Why: {cell('; '.join(b.why))}.")
    lines += ["", "## What the draft removes", ""]
    removed = removed_by_principal(d)
    if not removed:
        lines.append("Nothing: the estate grants exactly what the draft grants.")
    for principal, items in removed.items():
        lines.append(f"- {cell(principal)}: {cell(', '.join(items))}")
    lines += ["", "## Policies `pulumi up` removes from adopted roles", "",
              f"The stack owns an adopted role's policies exactly: its one inline policy `{ROLE_POLICY_NAME}` and no managed policy "
              "(`aws.iam.RolePoliciesExclusive`, `aws.iam.RolePolicyAttachmentsExclusive`); an inline policy of that name is "
              "overwritten with the drafted document. Everything else the role holds today goes:", ""]
    policies = detached(d)
    if not policies:
        lines.append("Nothing: no adopted role holds another policy.")
    for role, gone in policies.items():
        parts = [f"deletes inline {', '.join(f'`{n}`' for n in gone['inline_deleted'])}"] if gone["inline_deleted"] else []
        parts += [f"detaches {', '.join(f'`{a}`' for a in gone['attached_detached'])}"] if gone["attached_detached"] else []
        lines.append(f"- IAM role {cell(role)}: {cell('; '.join(parts))}")
    if d.added:
        lines += ["", "## What the draft adds", "", "Access an ExternalSecret asks for that no grant gives today (its sync fails now):", ""]
        lines += [f"- {w}: read {sid}" for w, sid in d.added]
    lines += ["", "## Policy pack on the estate", ""]
    if pack:
        lines += ["| rule | resource | level | finding |", "|---|---|---|---|"]
        lines += [f"| {r['rule']} | {cell(r['resource'])} | {r['level']} | {cell(r['message'])} |" for r in pack]
    else:
        lines.append("No finding.")
    if undecided:
        lines.append(f"\nNot assessed: {undecided} finding(s) the rules could not decide on the discovered resources.")
    lines += ["", "## To review", ""]
    lines += [f"- {cell(item)}" for item in [*d.review, *dict.fromkeys([*d.estate.notes, *d.matrix.notes])]] or ["Nothing."]
    return "\n".join(lines) + "\n"
