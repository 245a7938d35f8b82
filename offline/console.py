"""The console every human report prints to: a terminal gets its own width (table cells fold); a pipe
or a CI log gets lines as long as their content, so no path, key alias or principal is cut or broken."""

from __future__ import annotations

import sys

from rich.console import Console

# The line width when output is not a terminal: rich then lays tables out at their natural width.
UNLIMITED_WIDTH = 10_000


def console_for(stderr: bool = False, **options) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else UNLIMITED_WIDTH, **options)
