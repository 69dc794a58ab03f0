"""``edge-counter setup`` over HTTP: the printed URL's token opens the page, nothing else does,
and it listens on localhost unless told otherwise."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from edge.tools.broker import free_port
from tests.conftest import CLIPS_DIR, require_asset
from tests.integration.setup_process import setup_process

VIDEO = CLIPS_DIR / "road_cctv_vehicles" / "video.mp4"
ROUTES = ["/", "/static/setup.js", "/api/config", "/api/state", "/api/frame.jpg"]


def _listening(port: int) -> list[str]:
    """Local addresses (hex, as in /proc/net/tcp) of the sockets listening on ``port``."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            addr, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(addr)
    return found


def test_the_printed_url_opens_the_page_and_nothing_else_does(tmp_path: Path) -> None:
    require_asset(VIDEO)
    port = free_port()
    with setup_process(
        "--source", VIDEO, "--http", f"127.0.0.1:{port}", "--config", tmp_path / "c.toml"
    ) as setup:
        url = urlsplit(setup.url)
        assert (url.scheme, url.hostname, url.port, url.path) == ("http", "127.0.0.1", port, "/")
        token = parse_qs(url.query)["token"][0]
        assert len(token) >= 32
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base) as anonymous:
            for route in ROUTES:
                assert anonymous.get(route).status_code == 401, route
                assert anonymous.get(route, params={"token": "x" * 43}).status_code == 403, route
            assert anonymous.post("/api/config", json={"lines": []}).status_code == 401
        with httpx.Client(base_url=base, cookies={f"edge_setup_{port}": "nope"}) as forged:
            assert forged.get("/api/config").status_code == 403
        # another app's odd cookie on the same host does not break the check
        odd = {"Cookie": f'a=b; ===; edge_setup_{port}="{token}"'}
        assert httpx.get(f"{base}/api/config", headers=odd).status_code == 200
        with httpx.Client(base_url=base, follow_redirects=True) as user:
            page = user.get(setup.url)
            assert page.status_code == 200 and "edge-counter setup" in page.text
            assert page.url.query == b""  # the token left the address bar for a cookie
            assert "httponly" in page.history[0].headers["set-cookie"].lower()
            cfg = user.get("/api/config").json()
            assert (cfg["width"], cfg["height"], cfg["exists"]) == (640, 360, False)
            assert user.get("/api/state").status_code == 200
            js = user.get("/static/setup.js")
            assert js.headers["content-type"].startswith("text/javascript")
            # with the token in the query, the API answers too (scripts, curl)
            assert httpx.get(f"{base}/api/config", params={"token": token}).status_code == 200
        assert _listening(port) == ["0100007F"]  # 127.0.0.1, nothing else
        assert setup.stop() == 0


def test_it_listens_on_localhost_unless_told(tmp_path: Path) -> None:
    """No --http: 127.0.0.1:8765 only, never the machine's other addresses."""
    require_asset(VIDEO)
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8765)) == 0:
            pytest.fail("port 8765 (the default) is taken: stop what listens there")
    with setup_process("--source", VIDEO, "--config", tmp_path / "c.toml") as setup:
        assert setup.url.startswith("http://127.0.0.1:8765/?token=")
        assert _listening(8765) == ["0100007F"]
        assert setup.stop() == 0


def test_a_missing_source_file_is_refused(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge.cli", "setup", "--source", str(tmp_path / "nope.mp4"),
         "--config", str(tmp_path / "c.toml"), "--http", f"127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--source" in proc.stderr and "nope.mp4" in proc.stderr
