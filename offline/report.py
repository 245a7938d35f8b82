"""Human (rich) and machine (JSON) renderings of an offline plan. Secrets are already redacted
in the recorded plan; nothing here reads a value."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from rich.console import Console
from rich.markup import escape
from rich.text import Text
from rich.table import Table
from rich.tree import Tree

from components.spec import StackSpec
from offline.access import AccessDiff, AccessMatrix
from offline.access.model import EFFECTIVE, READ, WRITE
from offline.access.render import print_diff, summary_table
from offline.run import Plan
from offline.schedule import RotationEntry
from offline.summary import secret_summaries, summary_dicts, type_counts
from policy import report as policy_report
from policy.engine import Report
from policy.report import ControlStatus


@dataclass
class PlanReport:
    """Everything the reports for people show, computed once: the plan, its policy report and compliance
    view, its access matrix (and the diff against a base), and the rotation calendar."""

    plan: Plan
    spec: StackSpec
    policy: Report
    controls: list[ControlStatus]
    matrix: AccessMatrix
    rotations: list[RotationEntry]
    reference: datetime
    change: AccessDiff | None = None

    def document(self) -> dict[str, Any]:
        """The plan JSON with the same sections as the Markdown report."""
        return {
            **plan_document(self.plan, policy_report.to_json(self.policy)),
            "reference": self.reference.isoformat(),
            "compliance": policy_report.compliance_json(self.controls),
            "access": self.matrix.to_json(),
            "accessDiff": self.change.to_json() if self.change is not None else None,
            "rotation": [e.as_dict() for e in self.rotations],
        }


def component_children(plan: Plan) -> list[tuple[int, Any, dict[str, int]]]:
    """(depth, component, its own custom resources counted by type) for every ComponentResource, depth-first
    in registration order; the root stack is not a component."""
    by_urn = {r.urn: r for r in plan.resources}
    children: dict[str, list] = {}
    for r in plan.resources:
        children.setdefault(r.parent, []).append(r)
    out: list[tuple[int, Any, dict[str, int]]] = []

    def walk(urn: str, depth: int) -> None:
        for child in children.get(urn, []):
            if child.custom or child.type == "pulumi:pulumi:Stack":
                continue
            own = Counter(c.type for c in children.get(child.urn, []) if c.custom and not c.type.startswith("pulumi:providers:"))
            out.append((depth, child, dict(sorted(own.items()))))
            walk(child.urn, depth + 1)

    # The root stack (registered by the engine, not recorded) and anything else whose parent is not planned.
    for root in dict.fromkeys(r.parent for r in plan.resources if r.parent not in by_urn or by_urn[r.parent].type == "pulumi:pulumi:Stack"):
        walk(root, 0)
    return out


def plan_document(plan: Plan, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "project": plan.project,
        "stack": plan.stack,
        "counts": type_counts(plan.resources),
        "secrets": summary_dicts(plan.resources),
        "outputs": plan.outputs,
        "resources": [{**asdict(r), "operation": r.operation} for r in plan.resources],
        "policy": policy,
    }


def import_file(plan: Plan) -> dict[str, Any]:
    """The plan's imported resources as a `pulumi import --file` document: type, name and id of each, its parent
    and provider by a name of the `nameTable` (their URNs), so the resources land where the program declares them."""
    by_urn = {r.urn: r for r in plan.resources}
    names: dict[str, str] = {}  # urn -> its name in the table

    def table_name(urn: str) -> str:
        if urn not in names:
            base = urn.rsplit("::", 1)[-1]
            taken = set(names.values())
            names[urn] = base if base not in taken else next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)
        return names[urn]

    resources = []
    for r in plan.resources:
        if not r.import_id:
            continue
        entry: dict[str, Any] = {"type": r.type, "name": r.name, "id": r.import_id}
        if r.parent in by_urn:
            entry["parent"] = table_name(r.parent)
        provider_urn = r.provider.rpartition("::")[0]
        if provider_urn in by_urn:
            entry["provider"] = table_name(provider_urn)
        resources.append(entry)
    return {"nameTable": {name: urn for urn, name in names.items()}, "resources": resources}


KUBERNETES_OBJECT_FIELDS = ("apiVersion", "kind", "type", "metadata", "spec", "rules", "roleRef", "subjects", "automountServiceAccountToken", "data", "stringData")


def kubernetes_objects(plan: Plan) -> list[dict]:
    """The planned Kubernetes objects as manifests (Helm releases are charts, not objects)."""
    return [
        {k: r.inputs[k] for k in KUBERNETES_OBJECT_FIELDS if k in r.inputs}
        for r in plan.resources
        if r.custom and r.type.startswith("kubernetes:") and "apiVersion" in r.inputs
    ]


def write_manifests(plan: Plan, directory: Path) -> list[Path]:
    """One YAML file per object, `<namespace>/<kind>-<name>.yaml`, for Argo CD or Flux."""
    written = []
    for manifest in kubernetes_objects(plan):
        meta = manifest["metadata"]
        path = directory / meta.get("namespace", "_cluster") / f"{manifest['kind'].lower()}-{meta['name']}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        written.append(path)
    return written


def resource_tree(plan: Plan) -> Tree:
    root = Tree(f"[bold]{plan.project}[/] / stack [bold]{plan.stack}[/]")
    nodes: dict[str, Tree] = {}
    for r in plan.resources:
        parent = nodes.get(r.parent, root)
        flags = " [red]protected[/]" if r.protect else ""
        flags += " [yellow]value ignored after create[/]" if r.ignore_changes else ""
        flags += f" [green]import[/] [dim]{escape(r.import_id)}[/]" if r.import_id else (" [dim]create[/]" if r.custom else "")
        label = f"[cyan]{r.name}[/] [dim]{r.type}[/]{flags}" if r.custom else f"[bold magenta]{r.name}[/] [dim]{r.type}[/]"
        nodes[r.urn] = parent.add(Text.from_markup(label, emoji=False))  # an ARN's `:secret:` is not an emoji
    return root


def counts_table(plan: Plan) -> Table:
    table = Table(title="Resources by type")
    table.add_column("type")
    table.add_column("count", justify="right")
    counts = type_counts(plan.resources)
    for type_, count in counts.items():
        table.add_row(type_, str(count))
    table.add_row("[bold]total[/]", f"[bold]{sum(counts.values())}[/]")
    return table


IDENTITY_KINDS = {"iam-role": "IAM role", "iam-user": "IAM user"}
STORE_KIND = "eso-store"


def holders(matrix: AccessMatrix, secret: str, capability: str) -> list[str]:
    """Who holds `capability` on `secret`, for people: each workload (Kubernetes service account) with the
    store and IAM identity it acts through, then each IAM identity no workload listed acts through (a
    rotation function's role, a user)."""
    workloads, identities, used = [], [], set()
    for entry in matrix.entries:
        if entry.secret != secret or entry.capability != capability or entry.status != EFFECTIVE:
            continue
        principal = matrix.principals[entry.principal]
        if principal.kind == "service-account":
            through = matrix.through(entry)
            stores = [p.label for p in through if p.kind == STORE_KIND]
            roles = [p for p in through if p.kind in IDENTITY_KINDS]
            used.update(p.id for p in roles)
            workloads.append(principal.label + "".join(f" via {s}" for s in stores)
                             + "".join(f" as {IDENTITY_KINDS[p.kind]} {p.id.split(':', 1)[1]}" for p in roles))
        elif principal.kind in IDENTITY_KINDS:
            identities.append(principal)
    return workloads + [f"{IDENTITY_KINDS[p.kind]} {p.id.split(':', 1)[1]}" + (f" ({p.detail})" if p.detail else "")
                        for p in identities if p.id not in used]


def secrets_table(plan: Plan, matrix: AccessMatrix | None = None) -> Table:
    """One row per AWS secret. With the plan's access matrix, readers and writers name the workloads and
    the identities they act through; without it, the IAM identities only. Cells fold rather than cut."""
    table = Table(title="Secrets")
    for column in ("secret", "path", "class", "key", "rotation", "replicas", "readers", "writers", "protected"):
        table.add_column(column, overflow="fold")
    for s in secret_summaries(plan.resources):
        readers = holders(matrix, f"aws:{s.path}", READ) if matrix is not None else s.readers
        writers = holders(matrix, f"aws:{s.path}", WRITE) if matrix is not None else s.writers
        table.add_row(
            s.name,
            s.path,
            s.classification,
            s.key,
            s.rotation,
            ", ".join(s.replicas) or "-",
            "\n".join(readers) or "-",
            "\n".join(writers) or "-",
            "yes" if s.protected else "no",
        )
    return table


def print_plan(plan: Plan, console: Console, matrix: AccessMatrix | None = None) -> None:
    console.print(resource_tree(plan))
    console.print(counts_table(plan))
    console.print(secrets_table(plan, matrix))



def print_access(report: PlanReport, console: Console) -> None:
    """The matrix folded per principal (the full matrix: `python -m offline.access STACK`), and with a base
    the access gained and lost."""
    console.print(summary_table(report.matrix))
    console.print("[dim]the full matrix with its chains: --markdown FILE, or python -m offline.access STACK[/]", highlight=False)
    if report.change is not None:
        print_diff(report.change, console)
