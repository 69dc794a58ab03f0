"""``edge-counter setup`` as a user starts it: a subprocess whose printed URL the tests open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Queue

#: Start-up reads the model and opens the clip; generous on a loaded 2-core machine.
START_TIMEOUT_S = 120.0


@dataclass
class SetupProcess:
    """A running ``edge-counter setup``: its process, the URL it printed, everything it said."""

    proc: subprocess.Popen[str]
    url: str
    output: list[str] = field(default_factory=list)

    def stop(self) -> int:
        """Ctrl-C, as a user stops it; the exit code."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)


def _pump(stream: object, out: Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        out.put(line)


@contextmanager
def setup_process(*args: str | Path) -> Iterator[SetupProcess]:
    """Start ``edge-counter setup ARGS`` and wait for the URL it prints; stop it at the end."""
    cmd = [sys.executable, "-m", "edge.cli", "setup", *map(str, args)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ)
    )
    lines: Queue[str] = Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    try:
        while True:
            try:
                line = lines.get(timeout=START_TIMEOUT_S)
            except Empty:
                raise AssertionError(f"no URL printed: {''.join(seen)}") from None
            seen.append(line)
            if "token=" in line:
                break
            if proc.poll() is not None and lines.empty():
                raise AssertionError(f"setup exited {proc.returncode}: {''.join(seen)}")
        running = SetupProcess(proc, line.strip(), seen)
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
