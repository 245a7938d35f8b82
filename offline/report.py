"""Human (rich) and machine (JSON) renderings of an offline plan. Secrets are already redacted
in the recorded plan; nothing here reads a value."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from offline.run import Plan
from offline.summary import secret_summaries, summary_dicts, type_counts


def plan_document(plan: Plan, policy: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "project": plan.project,
        "stack": plan.stack,
        "counts": type_counts(plan.resources),
        "secrets": summary_dicts(plan.resources),
        "outputs": plan.outputs,
        "resources": [asdict(r) for r in plan.resources],
        "policy": policy,
    }


KUBERNETES_OBJECT_FIELDS = ("apiVersion", "kind", "metadata", "spec", "rules", "roleRef", "subjects", "automountServiceAccountToken", "data", "stringData")


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
        label = f"[cyan]{r.name}[/] [dim]{r.type}[/]{flags}" if r.custom else f"[bold magenta]{r.name}[/] [dim]{r.type}[/]"
        nodes[r.urn] = parent.add(label)
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


def secrets_table(plan: Plan) -> Table:
    table = Table(title="Secrets")
    for column in ("secret", "path", "class", "key", "rotation", "replicas", "readers", "writers", "protected"):
        table.add_column(column)
    for s in secret_summaries(plan.resources):
        table.add_row(
            s.name,
            s.path,
            s.classification,
            s.key,
            s.rotation,
            ", ".join(s.replicas) or "-",
            "\n".join(s.readers) or "-",
            "\n".join(s.writers) or "-",
            "yes" if s.protected else "no",
        )
    return table


def print_plan(plan: Plan, console: Console) -> None:
    console.print(resource_tree(plan))
    console.print(counts_table(plan))
    console.print(secrets_table(plan))
