"""A real Mosquitto started from the shipped deploy/mosquitto/ files, for the ACL tests.

The shipped ``mosquitto.conf`` and ``acl`` are used as they are, except for what must differ
on a test machine: the two listeners move to free loopback ports, the password file and the
certificates come from a temporary folder (made by the shipped ``add-device.sh`` and
``make-certs.sh``), persistence and logs go where ``EmbeddedBroker`` puts them.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from edge.tools.broker import EmbeddedBroker, free_port

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "mosquitto"
#: Directives EmbeddedBroker writes itself (user, persistence folder, log to stderr).
DROPPED = ("persistence_location", "log_dest", "persistence", "max_queued_messages")


@dataclass
class ShippedBroker:
    """The shipped broker on ``plain_port`` (loopback listener) and ``tls_port`` (TLS).

    Attributes:
        workdir: temporary folder for the password file, certificates and broker state.
        passwords: user name -> password, for every user added.
    """

    workdir: Path
    plain_port: int = field(default_factory=free_port)
    tls_port: int = field(default_factory=free_port)
    passwords: dict[str, str] = field(default_factory=dict)
    broker: EmbeddedBroker | None = None

    @property
    def certs(self) -> Path:
        """Folder of ``ca.crt``, ``server.crt`` and ``server.key``."""
        return self.workdir / "certs"

    @property
    def passwd(self) -> Path:
        """The Mosquitto password file."""
        return self.workdir / "passwd"

    def add_user(self, name: str, service: bool = False) -> str:
        """Add ``name`` with the shipped ``add-device.sh``; return its password."""
        env = {
            **os.environ,
            "EDGE_MQTT_PASSWD": str(self.passwd),
            "EDGE_MQTT_OUT_DIR": str(self.workdir / "out"),
        }
        args = [str(DEPLOY / "add-device.sh"), *(["--service"] if service else []), name]
        subprocess.run(args, check=True, capture_output=True, env=env)
        password = (self.workdir / "out" / f"{name}.mqtt-password").read_text().strip()
        self.passwords[name] = password
        return password

    def password_file(self, name: str) -> Path:
        """The file ``add-device.sh`` wrote ``name``'s password to (what a device reads)."""
        return self.workdir / "out" / f"{name}.mqtt-password"

    def conf(self) -> str:
        """The shipped ``mosquitto.conf`` with paths and ports rewritten for this machine."""
        subst = {
            "listener 8883": f"listener {self.tls_port} 127.0.0.1",
            "listener 1883 127.0.0.1": f"listener {self.plain_port} 127.0.0.1",
            "password_file": f"password_file {self.passwd}",
            "acl_file": f"acl_file {DEPLOY / 'acl'}",
            "cafile": f"cafile {self.certs / 'ca.crt'}",
            "certfile": f"certfile {self.certs / 'server.crt'}",
            "keyfile": f"keyfile {self.certs / 'server.key'}",
        }
        out, used = [], set()
        for line in (DEPLOY / "mosquitto.conf").read_text().splitlines():
            key = next((k for k in subst if line == k or line.startswith(k + " ")), None)
            if key is not None:
                used.add(key)
                out.append(subst[key])
            elif line.split(" ", 1)[0] not in DROPPED:
                out.append(line)
        missing = set(subst) - used
        assert not missing, f"deploy/mosquitto/mosquitto.conf no longer sets {sorted(missing)}"
        return "\n".join(out) + "\n"

    def start(self) -> None:
        """Make the certificates (once) with ``make-certs.sh`` and start the broker."""
        if not (self.certs / "server.crt").exists():
            subprocess.run(
                [str(DEPLOY / "make-certs.sh"), "127.0.0.1", str(self.certs)],
                check=True,
                capture_output=True,
            )
        self.broker = EmbeddedBroker(self.workdir / "broker", self.plain_port, self.conf())
        self.broker.start()

    def stop(self) -> None:
        """Stop the broker."""
        if self.broker is not None:
            self.broker.stop()

    @property
    def plain_url(self) -> str:
        """The loopback listener."""
        return f"mqtt://127.0.0.1:{self.plain_port}"

    @property
    def tls_url(self) -> str:
        """The TLS listener (the certificate names 127.0.0.1)."""
        return f"mqtts://127.0.0.1:{self.tls_port}"
