"""Progress of an offline plan on stderr: resource registrations completed out of those requested.

A 10,000-secret plan runs for minutes; on a terminal this shows it is moving. When stderr is not a
terminal (a pipe, a CI log, a test), nothing is printed and nothing is hooked.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from pulumi.runtime import settings
from rich.console import Console
from rich.progress import Progress, ProgressColumn, SpinnerColumn, Task, TimeElapsedColumn
from rich.text import Text

from offline.mocks import RecordingMonitor

# The SDK queues each resource's registration as an RPC by this name, at the moment the program
# constructs the resource; the monitor sees it only once its inputs have resolved.
REGISTER_RPC = "register resource"


@contextmanager
def registration_progress(monitor: RecordingMonitor, label: str) -> Iterator[None]:
    """Show `label: N of M resources registered` while the block runs, if stderr is a terminal.

    Call after `set_mocks`: the runtime's RPC manager is the one the program will use.
    """
    # isatty, not rich's is_terminal: FORCE_COLOR (set in many CI setups) must not bring it into logs.
    if not sys.stderr.isatty():
        yield
        return
    manager = settings.SETTINGS.rpc_manager
    do_rpc = manager.do_rpc
    requested = 0

    def counting_do_rpc(name, rpc_function):
        nonlocal requested
        if name == REGISTER_RPC:
            requested += 1
        return do_rpc(name, rpc_function)

    # The SDK has no hook for "a registration was requested"; counting on this manager instance only
    # leaves the class and any later runtime untouched.
    manager.do_rpc = counting_do_rpc
    try:
        with Progress(SpinnerColumn(), _Registered(label, monitor, lambda: requested), TimeElapsedColumn(),
                      console=Console(stderr=True), transient=True, refresh_per_second=4) as progress:
            progress.add_task(label, total=None)
            yield
    finally:
        del manager.do_rpc


class _Registered(ProgressColumn):
    """Reads the counts at each frame (the monitor records from the SDK's worker threads)."""

    def __init__(self, label: str, monitor: RecordingMonitor, requested: Callable[[], int]):
        super().__init__()
        self.label, self.monitor, self.requested = label, monitor, requested

    def render(self, task: Task) -> Text:
        completed = len(self.monitor.registrations)
        return Text(f"{self.label}: {completed:,} of {max(completed, self.requested()):,} resources registered")
