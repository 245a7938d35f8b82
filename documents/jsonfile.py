"""Reading a JSON document given on the command line: a file, or `-` for standard input. Every problem is one line
naming the source, the same for the preview checker, the pack's settings and the access matrix."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable


def read_json(source: str | Path, problem: Callable[[str], Exception]) -> Any:
    """The document at `source` (a path; the string `-` reads standard input). A file that is missing, unreadable or
    not JSON raises `problem(message)`, the message naming the source and what is wrong (for JSON, where)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        return json.loads(text)
    except FileNotFoundError:
        raise problem(f"{source}: not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise problem(f"{source}: cannot be read ({type(error).__name__})") from None
    except json.JSONDecodeError as error:
        raise problem(f"{source}: not valid JSON (line {error.lineno} column {error.colno}: {error.msg})") from None
