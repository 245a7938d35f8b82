"""Progress of a plan on stderr: shown on a terminal (a real pseudo-terminal here), never when piped."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

from offline.run import PROJECT_DIR

PLAN = [sys.executable, "-m", "offline", "plan", "dev"]
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
FRAME = re.compile(r"planning dev: (\d+) of (\d+) resources registered")


def test_progress_on_a_terminal_counts_every_registration(tmp_path):
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    # The plan goes to a file: a full stdout pipe nobody reads would block the child.
    process = subprocess.Popen([*PLAN, "--json", str(tmp_path / "plan.json")], cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=terminal, stdin=subprocess.DEVNULL, env=env)
    os.close(terminal)
    seen = bytearray()
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert process.wait(timeout=300) == 0
    document = json.loads((tmp_path / "plan.json").read_text())
    os.close(controller)

    frames = [(int(done), int(requested)) for done, requested in FRAME.findall(ANSI.sub(b"", seen).decode())]
    assert frames, seen[-500:]
    planned = len(document["resources"])
    # The last frame is the whole plan; no frame ever counts more done than requested.
    assert frames[-1] == (planned, planned)
    assert all(done <= requested <= planned for done, requested in frames)


def test_no_progress_when_stderr_is_piped():
    # FORCE_COLOR makes rich treat a pipe as a terminal; the progress still stays out of the log.
    env = {**os.environ, "FORCE_COLOR": "1"}
    result = subprocess.run([*PLAN, "--json", "-"], cwd=PROJECT_DIR, capture_output=True, timeout=300, env=env)
    assert result.returncode == 0
    assert json.loads(result.stdout)["stack"] == "dev"
    assert b"resources registered" not in result.stderr
    assert b"\x1b[" not in result.stderr
