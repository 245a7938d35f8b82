"""The matrix and its diff for people (rich tables, Markdown for a pull-request comment). Only names,
ARNs, paths and policy locations are shown; nothing here reads a secret value."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from offline.access.matrix import AccessDiff, AccessMatrix, Change, Entry
from offline.access.model import ADMIN, BLOCKED, CAPABILITIES, EFFECTIVE, READ, UNKNOWN, WRITE, Secret
from policy.report import md

STATUS_STYLE = {EFFECTIVE: "green", UNKNOWN: "yellow", BLOCKED: "dim"}
HIGHLIGHT = "⚠"


def via(entry: Entry, separator: str = " → ") -> str:
    return separator.join(entry.chains[0]) if entry.chains else ""


def _secret_label(secret: Secret) -> str:
    return secret.name + (" (pattern: also later secrets)" if secret.pattern else "")


def _why(entry: Entry) -> str:
    return f" ({entry.reason})" if entry.reason and entry.status != EFFECTIVE else ""


# --- rich ------------------------------------------------------------------------------------------

def matrix_table(matrix: AccessMatrix) -> Table:
    table = Table(title=f"Access matrix: {matrix.stack}" if matrix.stack else "Access matrix", show_lines=False)
    for column in ("principal", "secret", "class", "capability", "status", "via"):
        table.add_column(column, overflow="fold")
    for principal_id, entries in matrix.rows().items():
        principal = matrix.principals[principal_id]
        for index, entry in enumerate(entries):
            secret = matrix.secrets[entry.secret]
            who = Text(f"{principal.label}\n", style="bold") + Text(f"{principal.kind} {principal.id}", style="dim") if index == 0 else Text("")
            table.add_row(who, _secret_label(secret), secret.classification, entry.capability,
                          Text(entry.status, style=STATUS_STYLE[entry.status]), via(entry, "\n→ ") + _why(entry),
                          end_section=index == len(entries) - 1)
    return table


def print_matrix(matrix: AccessMatrix, console: Console) -> None:
    console.print(matrix_table(matrix))
    for note in matrix.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)


SUMMARY_COLUMNS = ("principal", "kind", *CAPABILITIES, "critical/high", "unknown", "blocked")


def principal_summary(matrix: AccessMatrix) -> list[tuple[str, str, int, int, int, int, int, int]]:
    """Per principal: how many secrets it can read, write and administer (effective), how many of them are
    critical or high, and how many more paths are unknown at preview or blocked. Rows follow SUMMARY_COLUMNS."""
    rows = []
    for principal_id, entries in matrix.rows().items():
        principal = matrix.principals[principal_id]
        effective = [e for e in entries if e.status == EFFECTIVE]
        count = {cap: len({e.secret for e in effective if e.capability == cap}) for cap in (READ, WRITE, ADMIN)}
        sensitive = len({e.secret for e in effective if matrix.secrets[e.secret].sensitive})
        rows.append((principal.label, principal.kind, *(count[c] for c in CAPABILITIES), sensitive,
                     sum(e.status == UNKNOWN for e in entries), sum(e.status == BLOCKED for e in entries)))
    return rows


def summary_table(matrix: AccessMatrix) -> Table:
    """The matrix folded to one row per principal; the full matrix is `python -m offline.access`."""
    table = Table(title=f"Access matrix summary: {matrix.stack}" if matrix.stack else "Access matrix summary")
    for column in SUMMARY_COLUMNS:
        table.add_column(column, justify="left" if column in ("principal", "kind") else "right")
    for label, kind, *counts in principal_summary(matrix):
        sensitive = counts[len(CAPABILITIES)]
        table.add_row(Text(label, style="bold"), kind, *(str(c) for c in counts[:len(CAPABILITIES)]),
                      Text(str(sensitive), style="bold red" if sensitive else ""), *(str(c) for c in counts[len(CAPABILITIES) + 1:]))
    return table


def _change_table(title: str, changes: list[Change]) -> Table:
    table = Table(title=title)
    for column in ("", "principal", "secret", "class", "capability", "status", "via"):
        table.add_column(column, overflow="fold")
    for c in changes:
        style = "bold red" if c.highlighted else ""
        table.add_row(HIGHLIGHT if c.highlighted else "", Text(c.principal.label, style=style), Text(_secret_label(c.secret), style=style),
                      c.secret.classification, c.entry.capability, Text(c.entry.status, style=STATUS_STYLE[c.entry.status]),
                      via(c.entry, "\n→ ") + _why(c.entry))
    return table


def print_diff(change: AccessDiff, console: Console) -> None:
    if not change.gained and not change.lost:
        console.print("No change in who can read, write or administer which secret.")
        return
    if change.highlighted:
        console.print(f"[bold red]{HIGHLIGHT} {len(change.highlighted)} gained access to critical or high secrets[/]")
    if change.gained:
        console.print(_change_table(f"Access gained ({len(change.gained)})", change.gained))
    if change.lost:
        console.print(_change_table(f"Access lost ({len(change.lost)})", change.lost))


# --- Markdown --------------------------------------------------------------------------------------

MARKDOWN_ROWS = 200  # per table: a pull-request comment holds 65,536 characters; the JSON has every row


def _cell(text: str) -> str:
    """Plain text in a table cell: pipes, emphasis and HTML escaped (`secret:prod/*` stays literal)."""
    return md(text)


def code(text: str) -> str:
    """An id or path as code; a backtick inside gets a longer fence, a pipe its table escape."""
    fence, pad = ("``", " ") if "`" in text else ("`", "")
    return f"{fence}{pad}{text}{pad}{fence}".replace("|", "\\|")


def _rows(header: list[str], rows: list[list[str]], limit: int | None = MARKDOWN_ROWS) -> list[str]:
    """Cells are already Markdown. Beyond `limit` rows (None: no limit), a note says how many were left out."""
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(row) + " |" for row in rows[:limit])]
    if limit is not None and len(rows) > limit:
        out += ["", f"… and {len(rows) - limit} more row(s): see the JSON (`--format json`, or the plan's `--json`)."]
    return out


def _class_cell(secret: Secret) -> str:
    return f"**{secret.classification}**" if secret.sensitive else secret.classification


def matrix_markdown(matrix: AccessMatrix, limit: int | None = MARKDOWN_ROWS) -> str:
    """Every principal's access; critical and high (or unclassified) secrets in bold, effective access to them marked ⚠."""
    lines = [f"### Access matrix{': ' + _cell(matrix.stack) if matrix.stack else ''}", ""]
    rows = []
    for principal_id, entries in matrix.rows().items():
        principal = matrix.principals[principal_id]
        for entry in entries:
            secret = matrix.secrets[entry.secret]
            mark = HIGHLIGHT if secret.sensitive and entry.status == EFFECTIVE else ""
            rows.append([mark, f"**{_cell(principal.label)}** {code(principal.id)}", code(_secret_label(secret)), _class_cell(secret),
                         entry.capability, entry.status, _cell(via(entry) + _why(entry))])
    if rows:
        sensitive = sum(1 for row in rows if row[0])
        lines += [f"{len(rows)} access path(s) of {len(matrix.rows())} principal(s); {sensitive} effective on critical or high secrets ({HIGHLIGHT}).", ""]
        lines += _rows(["", "Principal", "Secret", "Class", "Capability", "Status", "Via"], rows, limit)
    else:
        lines.append("No principal can reach any secret.")
    if matrix.notes:
        lines += ["", "<details><summary>Notes</summary>", "", *(f"- {_cell(n)}" for n in matrix.notes), "", "</details>"]
    return "\n".join(lines) + "\n"


def summary_markdown(matrix: AccessMatrix, limit: int | None = MARKDOWN_ROWS) -> str:
    lines = [f"### Access matrix summary{': ' + _cell(matrix.stack) if matrix.stack else ''}", ""]
    rows = [[f"**{_cell(label)}**", kind, *(str(c) for c in counts)] for label, kind, *counts in principal_summary(matrix)]
    lines += _rows([c.capitalize() for c in SUMMARY_COLUMNS], rows, limit) if rows else ["No principal can reach any secret."]
    return "\n".join(lines) + "\n"


def _counts(changes: list[Change]) -> str:
    """`5 read, 1 write` (distinct secrets per capability), then how many are not effective."""
    counts = [f"{n} {cap}" for cap in CAPABILITIES if (n := len({c.entry.secret for c in changes if c.entry.capability == cap}))]
    statuses = [f"{n} {status}" for status in (UNKNOWN, BLOCKED) if (n := sum(c.entry.status == status for c in changes))]
    return ", ".join(counts) + (f" ({', '.join(statuses)})" if statuses else "")


def _by_principal(changes: list[Change]) -> dict[str, list[Change]]:
    """Changes per principal; principals with highlighted changes first, then in the order given."""
    groups: dict[str, list[Change]] = {}
    for c in changes:
        groups.setdefault(c.entry.principal, []).append(c)
    return dict(sorted(groups.items(), key=lambda item: not any(c.highlighted for c in item[1])))


def _change_details(principal: str, changes: list[Change]) -> list[str]:
    """One principal's changes, folded: a summary line, and inside it a row per secret with its chain."""
    first = changes[0].principal
    flagged = sum(c.highlighted for c in changes)
    mark = f"{HIGHLIGHT} " if flagged else ""
    rows = [[HIGHLIGHT if c.highlighted else "", code(_secret_label(c.secret)), _class_cell(c.secret), c.entry.capability, c.entry.status,
             _cell(via(c.entry) + _why(c.entry)) + (f" (+{len(c.entry.chains) - 1} more)" if len(c.entry.chains) > 1 else "")]
            for c in changes]
    summary = f"{mark}{md(first.label)} ({md(first.kind)}): {_counts(changes)}" + (f"; {flagged} on critical or high secrets" if flagged else "")
    return ["<details><summary>" + summary + "</summary>", "",
            *_rows(["", "Secret", "Class", "Capability", "Status", "Via"], rows, None), "", "</details>", ""]


def diff_markdown(change: AccessDiff, limit: int | None = MARKDOWN_ROWS) -> str:
    """Access gained and lost, grouped per principal: a table of counts, then each principal's secrets and
    chains folded under <details>. Names where the base came from, so `dev → dev` says which dev."""
    lines = [f"### Access changes: {_cell(change.base or 'base')} → {_cell(change.head or 'head')}", ""]
    if change.base_source or change.head_source:
        lines += [f"Base: {_cell(change.base_source or change.base or 'base')}; head: {_cell(change.head_source or change.head or 'head')}.", ""]
    if not change.gained and not change.lost:
        return "\n".join(lines + ["No change in who can read, write or administer which secret."]) + "\n"
    if change.highlighted:
        lines += [f"> **{HIGHLIGHT} {len(change.highlighted)} gained access to critical or high secrets** (marked below).", ""]
    for title, changes in (("Gained", change.gained), ("Lost", change.lost)):
        if not changes:
            continue
        groups = _by_principal(changes)
        rows = [[HIGHLIGHT if any(c.highlighted for c in group) else "", f"**{_cell(group[0].principal.label)}** {code(principal)}",
                 group[0].principal.kind, _counts(group), str(sum(c.highlighted for c in group))] for principal, group in groups.items()]
        lines += [f"#### {title} ({len(changes)} access path(s), {len(groups)} principal(s))", "",
                  *_rows(["", "Principal", "Kind", title, "Critical/high"], rows, limit), ""]
        shown = list(groups.items())[:limit]
        for principal, group in shown:
            lines += _change_details(principal, group)
    return "\n".join(lines)
