"""The offline plan as Markdown for people: the full report (an audit file, a workflow artifact) and its
short form for a pull-request comment. Sections come from the renderers that own them (policy/report.py
for findings and the compliance view, offline/access/render.py for the matrix and its diff); this module
only assembles them and keeps the result safe for GitHub (escaped cells, capped tables, a size limit).
Nothing here reads a resource's properties beyond types, names and the spec's references.
"""

from __future__ import annotations

from collections import Counter

from offline.access.render import MARKDOWN_ROWS, code, diff_markdown, matrix_markdown, summary_markdown
from offline.report import PlanReport, component_children
from offline.schedule import HORIZON_DAYS
from policy import report as policy_report
from policy.report import md

# GitHub refuses a comment body over 65,536 characters; keep a margin for the sticky marker and headings
# the workflow adds around each stack's part.
GITHUB_COMMENT_LIMIT = 65_536
COMMENT_LIMIT = 60_000
COMPONENT_LINES = 150  # components listed in the tree of the comment form


def _table(header: list[str], rows: list[list[str]], limit: int | None) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(r) + " |" for r in rows[:limit])]
    if limit is not None and len(rows) > limit:
        out += ["", f"… and {len(rows) - limit} more row(s): see the full report or the plan JSON."]
    return out


def summary_section(r: PlanReport) -> str:
    counts = Counter(x.type for x in r.plan.resources if x.custom and not x.type.startswith("pulumi:providers:"))
    components = sum(1 for x in r.plan.resources if not x.custom and x.type != "pulumi:pulumi:Stack")
    backends = Counter(s.backend for s in r.spec.secrets)
    sensitive = sum(1 for s in r.spec.secrets if s.classification.value in ("critical", "high"))
    verdict = "**blocking**" if r.policy.blocking else "passed"
    rows = [
        ["Stack", f"{code(r.plan.stack)} (project {code(r.plan.project)})"],
        ["Environment", r.plan.environment],
        ["Resources", f"{sum(counts.values())} in {len(counts)} types, {components} components"],
        ["Secrets", f"{len(r.spec.secrets)} ({', '.join(f'{n} {b}' for b, n in sorted(backends.items()))}); {sensitive} critical or high"],
        ["Access paths", f"{len(r.matrix.entries)} for {len(r.matrix.rows())} principals"],
        ["Policy", f"{verdict}: {r.policy.counts['mandatory']} mandatory, {r.policy.counts['advisory']} advisory, "
                   f"{r.policy.counts['suppressed']} excepted"],
        ["Reference date", f"{r.reference:%Y-%m-%d %H:%M} UTC (rotation calendar, exception expiry)"],
    ]
    return "\n".join(["### Summary", "", *_table(["", ""], [[f"**{k}**", v] for k, v in rows], None)]) + "\n"


def components_section(r: PlanReport, limit: int | None = None) -> str:
    """The component tree: each ComponentResource, nested under its parent, with its own resources counted by type."""
    lines = ["### Resources by component", ""]
    tree = component_children(r.plan)
    shown = 0
    for depth, component, counts in tree:
        if limit is not None and shown >= limit:
            lines.append(f"- … and {len(tree) - limit} more component(s): see the full report.")
            break
        children = ", ".join(f"{n} × {code(t)}" for t, n in counts.items()) or "no resources of its own"
        lines.append(f"{'  ' * depth}- **{md(component.name)}** {code(component.type)}: {children}")
        shown += 1
    return "\n".join(lines) + "\n"


def rotation_section(r: PlanReport, limit: int | None = None) -> str:
    lines = ["### Rotation calendar", "",
             f"Next rotations within {HORIZON_DAYS} days of {r.reference:%Y-%m-%d} (UTC). Automated schedules are evaluated as "
             "Secrets Manager does (a rate counts from the reference date, standing for the last rotation or the day rotation "
             "was turned on); manual rotations are due the given number of days after the last one.", ""]
    rows = []
    for e in r.rotations:
        limit_days = f"{e.max_days} days" if e.max_days else "none"
        when = ", ".join(e.next) + (f" (+{e.due_in_horizon - len(e.next)} more)" if e.due_in_horizon > len(e.next) else "")
        klass = f"**{e.classification}**" if e.classification in ("critical", "high") else e.classification
        rows.append([f"**{md(e.secret)}**<br>{code(e.path)}", e.backend, klass, e.kind, md(e.cadence), md(e.window),
                     limit_days, md(when or "-"), md(e.note or "")])
    lines += _table(["Secret", "Backend", "Class", "Kind", "Cadence", "Window", "Class maximum", "Next", "Note"], rows, limit)
    return "\n".join(lines) + "\n"


def _heading(r: PlanReport, form: str) -> str:
    return f"## secrets-platform {form}: {md(r.plan.stack)} ({r.plan.environment})\n"


def plan_markdown(r: PlanReport) -> str:
    """The full report: every table whole (an audit file)."""
    parts = [_heading(r, "plan report"), summary_section(r)]
    if r.change is not None:
        parts.append(diff_markdown(r.change, limit=None))
    parts += [
        components_section(r),
        policy_report.to_markdown(r.policy, title=f"Policy results: {r.plan.stack}", limit=None),
        policy_report.compliance_markdown(r.controls),
        matrix_markdown(r.matrix, limit=None),
        rotation_section(r),
    ]
    return "\n".join(parts)


def comment_markdown(r: PlanReport, limit: int = COMMENT_LIMIT, pointer: str = "") -> str:
    """The pull-request comment: access changes against the base (or the matrix summary without one),
    policy results and the compliance view first, then the calendar and the components; tables capped
    and the whole kept under `limit` characters."""
    parts = [_heading(r, "plan"), summary_section(r)]
    parts.append(diff_markdown(r.change) if r.change is not None else summary_markdown(r.matrix))
    parts += [
        policy_report.to_markdown(r.policy, title=f"Policy results: {r.plan.stack}"),
        policy_report.compliance_markdown(r.controls),
        rotation_section(r, limit=MARKDOWN_ROWS),
        "<details><summary>Resources by component</summary>\n\n" + components_section(r, COMPONENT_LINES) + "\n</details>\n",
    ]
    return fit("\n".join(parts), limit, pointer)


def fit(text: str, limit: int, pointer: str = "") -> str:
    """`text` if it is at most `limit` characters; else cut at a line end, any open <details> closed, and a
    note saying how much is left out and where the whole report is."""
    if len(text) <= limit:
        return text
    where = pointer or "the full report (`python -m offline plan STACK --markdown FILE`) and the plan JSON (`--json FILE`)"
    note = f"\n\n> **Truncated**: {{shown}} of {len(text):,} characters shown; see {where}.\n"
    budget = limit - len(note) - len("\n</details>") * text.count("<details>") - 20
    cut = text[: max(budget, 0)]
    cut = cut[: cut.rfind("\n") + 1] if "\n" in cut else ""
    cut += "\n</details>" * (cut.count("<details>") - cut.count("</details>"))
    return cut + note.format(shown=f"{len(cut):,}")
