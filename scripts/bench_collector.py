#!/usr/bin/env python3
"""Benchmark the collector end to end: broker, N collector processes, one database, a fleet.

Starts a private Mosquitto on a free port, a fresh database (an SQLite file, or a new
PostgreSQL database dropped afterwards), ``--collectors`` copies of ``edge-counter
collector`` sharing one subscription (the first also serves the API), then runs
``scripts/simulate_fleet.py`` against them and prints its JSON report.

    scripts/bench_collector.py --db postgresql --collectors 2 --devices 20 --events 10000
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    """A loopback TCP port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_broker(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """Mosquitto with persistence and a deep queue, like the test fixture."""
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {workdir}/\nmax_queued_messages 1000000\n"
    )
    proc = subprocess.Popen(["/usr/sbin/mosquitto", "-c", str(conf)], stderr=subprocess.DEVNULL)
    wait_port(port)
    return proc


def wait_port(port: int, timeout_s: float = 20.0) -> None:
    """Block until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def make_db(kind: str, workdir: Path) -> tuple[str, str | None]:
    """A fresh database URL, and the PostgreSQL database name to drop afterwards."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    import psycopg

    name = f"collector_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, name


def drop_db(name: str | None) -> None:
    """Drop the benchmark's PostgreSQL database."""
    if name:
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_collectors(n: int, mqtt: str, db: str, http_port: int) -> list[subprocess.Popen[bytes]]:
    """``n`` collectors in one share group; only the first serves HTTP."""
    procs = []
    for i in range(n):
        args = [
            sys.executable,
            "-m",
            "edge.cli",
            "collector",
            "--mqtt",
            mqtt,
            "--db",
            db,
            "--share-group",
            "bench",
            "--client-id",
            f"bench-{i}",
        ]
        args += ["--http", f"127.0.0.1:{http_port}"] if i == 0 else ["--no-http"]
        procs.append(subprocess.Popen(args, cwd=ROOT))
        time.sleep(1.0)  # one at a time: the first migrates the database
    wait_port(http_port)
    time.sleep(1.0)
    return procs


def main() -> int:
    """Parse flags, set everything up, run the fleet, tear down."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--db", choices=("sqlite", "postgresql"), default="postgresql")
    p.add_argument("--collectors", type=int, default=1)
    known, fleet_args = p.parse_known_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        port, http_port = free_port(), free_port()
        broker = start_broker(workdir, port)
        db_url, db_name = make_db(known.db, workdir)
        collectors = start_collectors(
            known.collectors, f"mqtt://127.0.0.1:{port}", db_url, http_port
        )
        try:
            cmd = [
                sys.executable,
                str(ROOT / "scripts" / "simulate_fleet.py"),
                "--mqtt",
                f"mqtt://127.0.0.1:{port}",
                "--db",
                db_url,
                "--api",
                f"http://127.0.0.1:{http_port}",
                *fleet_args,
            ]
            return subprocess.call(cmd)
        finally:
            for c in collectors:
                c.terminate()
                c.wait(30)
            broker.terminate()
            broker.wait(10)
            drop_db(db_name)


if __name__ == "__main__":
    sys.exit(main())
