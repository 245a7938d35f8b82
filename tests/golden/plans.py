"""The golden plans: every committed stack and example planned offline, as canonical JSON.

A refactor must leave each plan's JSON identical; a change of behaviour updates the goldens in the same commit,
deliberately: `python -m tests.golden.plans` rewrites them.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
GOLDEN_DIR = Path(__file__).resolve().parent / "plans"
NOW = "2026-01-01T00:00:00"  # the rotation calendar and exception expiry depend on the date
# Every stack the repository commits: its own and the five seed estates.
STACKS = {
    "dev": "dev",
    "prod": "prod",
    **{path.parent.name: str(path.relative_to(PROJECT_DIR)) for path in sorted(PROJECT_DIR.glob("examples/*/Pulumi.*.yaml"))},
}
# repr() of an object (a FileArchive) carries its memory address, which differs from run to run.
_ADDRESS = re.compile(r" object at 0x[0-9a-f]+>")


def canonical(value: Any) -> Any:
    """Mappings with sorted keys and lists in a fixed order: registrations complete in whatever order the
    event loop runs them, so the order of resources and of lists derived from them is not part of the plan."""
    if isinstance(value, dict):
        return {key: canonical(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return sorted((canonical(item) for item in value), key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, str):
        return _ADDRESS.sub(" object>", value)
    return value


def plan_json(stack: str) -> dict:
    """The plan's `--json` document, from the real command in its own process (one Pulumi runtime per process)."""
    run = subprocess.run(
        [sys.executable, "-m", "offline", "plan", STACKS[stack], "--json", "-", "--now", NOW],
        cwd=PROJECT_DIR, capture_output=True, text=True, check=False,
    )
    if run.returncode not in (0, 1) or not run.stdout.strip():
        raise RuntimeError(f"plan of {stack} exited {run.returncode}: {run.stderr[-2000:]}")
    return canonical(json.loads(run.stdout))


def golden_path(stack: str) -> Path:
    return GOLDEN_DIR / f"{stack}.json"


def render(document: dict) -> str:
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def update() -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for stack, document in zip(STACKS, pool.map(plan_json, STACKS)):
            golden_path(stack).write_text(render(document))
            print(f"wrote {golden_path(stack).relative_to(PROJECT_DIR)}")


if __name__ == "__main__":
    update()
