"""An embedded Mosquitto broker process, for the demo and the tests (not used on the device)."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from edge.errors import PublishError


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_path() -> str:
    """The Mosquitto binary.

    Raises:
        PublishError: Mosquitto is not installed (``apt-get install mosquitto``).
    """
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        raise PublishError("mosquitto is not installed: apt-get install mosquitto")
    return exe


@dataclass
class EmbeddedBroker:
    """A Mosquitto process on a loopback port; ``stop()`` then ``start()`` simulates an outage.

    Attributes:
        workdir: folder for its config, persistence file and log.
        port: the loopback port it listens on.
        extra_conf: replaces the default anonymous listener (TLS, passwords).
    """

    workdir: Path
    port: int
    extra_conf: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``mqtt://127.0.0.1:<port>``."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the broker and wait until it accepts connections.

        Raises:
            PublishError: it did not start (the message names its log file).
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "mosquitto.conf"
        listener = self.extra_conf or f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
        # Mosquitto started as root drops to the "mosquitto" user, which cannot write a private
        # temp folder: stay the user we are, or persistence fails and an outage loses messages.
        conf.write_text(
            f"user {getpass.getuser()}\n{listener}"
            f"persistence true\npersistence_location {self.workdir}/\n"
            "max_queued_messages 100000\nlog_dest stderr\n"
        )
        log = (self.workdir / "broker.log").open("ab")
        # Its own session: Ctrl-C in a terminal reaches only us, and ``stop()`` ends it after
        # the clients have disconnected (no "disconnected" warnings on the way out).
        self.proc = subprocess.Popen(
            [mosquitto_path(), "-c", str(conf)], stderr=log, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise PublishError(f"mosquitto did not start on port {self.port}: see {log.name}")

    def stop(self) -> None:
        """Stop the broker (its persistence file keeps queued messages for a restart)."""
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
