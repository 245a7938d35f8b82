"""The matrix and its diff for people (rich tables, Markdown for a pull-request comment). Only names,
ARNs, paths and policy locations are shown; nothing here reads a secret value."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from offline.access.matrix import AccessDiff, AccessMatrix, Change, Entry
from offline.access.model import BLOCKED, EFFECTIVE, UNKNOWN, Secret

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

def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _rows(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header), *("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)]


def matrix_markdown(matrix: AccessMatrix) -> str:
    lines = [f"### Access matrix{': ' + matrix.stack if matrix.stack else ''}", ""]
    rows = []
    for principal_id, entries in matrix.rows().items():
        principal = matrix.principals[principal_id]
        for entry in entries:
            secret = matrix.secrets[entry.secret]
            rows.append([f"**{principal.label}** `{principal.id}`", f"`{_secret_label(secret)}`", secret.classification,
                         entry.capability, entry.status, via(entry) + _why(entry)])
    lines += _rows(["Principal", "Secret", "Class", "Capability", "Status", "Via"], rows) if rows else ["No principal can reach any secret."]
    if matrix.notes:
        lines += ["", "<details><summary>Notes</summary>", "", *(f"- {_cell(n)}" for n in matrix.notes), "", "</details>"]
    return "\n".join(lines) + "\n"


def diff_markdown(change: AccessDiff) -> str:
    lines = [f"### Access changes: {change.base or 'base'} → {change.head or 'head'}", ""]
    if not change.gained and not change.lost:
        return "\n".join(lines + ["No change in who can read, write or administer which secret."]) + "\n"
    if change.highlighted:
        lines += [f"> **{HIGHLIGHT} {len(change.highlighted)} gained access to critical or high secrets** (marked below).", ""]
    for title, changes in ((f"Gained ({len(change.gained)})", change.gained), (f"Lost ({len(change.lost)})", change.lost)):
        if not changes:
            continue
        rows = [[HIGHLIGHT if c.highlighted else "", f"**{c.principal.label}** `{c.principal.id}`" if c.highlighted else f"{c.principal.label} `{c.principal.id}`",
                 f"`{_secret_label(c.secret)}`", f"**{c.secret.classification}**" if c.highlighted else c.secret.classification,
                 c.entry.capability, c.entry.status, via(c.entry) + _why(c.entry)] for c in changes]
        lines += [f"#### {title}", "", *_rows(["", "Principal", "Secret", "Class", "Capability", "Status", "Via"], rows), ""]
    return "\n".join(lines)
