"""The setup page's HTTP server: the standard library's ``ThreadingHTTPServer`` behind a
one-time token, serving the page, the picture, the live state and the save.

Why ``http.server``: the Pi has no web framework installed (FastAPI and uvicorn are the
collector's extra), and the page needs four routes for one user for a few minutes; a
framework would add megabytes to the device for nothing. Security: bound to 127.0.0.1 unless
told; every request must carry the token (``?token=`` once, then an HttpOnly SameSite=Strict
cookie), else 401 (none) or 403 (wrong); a save must be JSON from the page's own origin.
"""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import socket
import subprocess
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from edge.config import SourceConfig
from edge.errors import ConfigError
from edge.setup.configfile import ConfigFile, SaveRefused
from edge.setup.live import BuildPreview, LiveView
from edge.setup.options import SERVICE_UNIT, SetupOptions, parse_source_option, watched

log = logging.getLogger(__name__)

STATIC = Path(__file__).with_name("static")
_FILES = {"/": ("index.html", "text/html; charset=utf-8"),
          "/static/setup.js": ("setup.js", "text/javascript; charset=utf-8"),
          "/static/panel.js": ("panel.js", "text/javascript; charset=utf-8"),
          "/static/setup.css": ("setup.css", "text/css; charset=utf-8")}  # fmt: skip
#: Largest accepted request body (a config of lines and zones is a few kB).
MAX_BODY_BYTES = 1_000_000
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


class SetupPage:
    """The running page: config file, live view and HTTP server (``open``, then serve)."""

    def __init__(self, options: SetupOptions, server: ThreadingHTTPServer, file: ConfigFile,
                 source: SourceConfig | None, build: BuildPreview) -> None:  # fmt: skip
        self.options = options
        self.server = server
        self.file = file
        self.source = source
        self.token = secrets.token_urlsafe(32)
        self.cookie = f"edge_setup_{server.server_address[1]}"
        self.live = LiveView(
            watched(file.config, source), options.models_dir, build, server.shutdown
        )

    @classmethod
    def open(cls, options: SetupOptions, build: BuildPreview) -> SetupPage:
        """Read the config, bind the address, open the source and the model (fail fast).

        Raises:
            ConfigError: bad config or ``--source``, or the address cannot be bound.
            SourceError, ModelError: the source or model cannot be opened.
        """
        source = parse_source_option(options.source) if options.source else None
        file = ConfigFile(options.config, source)
        try:
            server = (_Server6 if ":" in options.host else _Server)((options.host, options.port))
        except OSError as err:
            raise ConfigError(
                f"--http {options.host}:{options.port}: cannot listen: {err.strerror}"
            ) from None
        try:
            page = cls(options, server, file, source, build)
        except BaseException:
            server.server_close()
            raise
        server.page = page  # type: ignore[attr-defined]
        return page

    @property
    def address(self) -> tuple[str, int]:
        """The bound host and port."""
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        """The page's address with its token (what the installer opens)."""
        host, port = self.address
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        shown = f"[{shown}]" if ":" in shown else shown
        return f"http://{shown}:{port}/?token={self.token}"

    def serve_forever(self) -> int:
        """Serve until Ctrl-C (0) or the live view's death (1)."""
        try:  # Ctrl-C may come as soon as the URL is printed, while the live view starts
            self.live.start()
            self.server.serve_forever(poll_interval=0.5)
        except KeyboardInterrupt:
            pass
        finally:
            self.live.stop()
            self.server.server_close()
        return 1 if self.live.died else 0

    def close(self) -> None:
        """Stop serving (from another thread)."""
        self.server.shutdown()

    def config_json(self) -> dict[str, Any]:
        """``GET /api/config``: what the page edits, the picture size, the file."""
        w, h = self.live.size_wh
        saved = [ln.name for ln in self.file.config.lines]
        return {**self.file.editable(), "width": w, "height": h, "file": str(self.file.path),
                "exists": self.file.path.exists(), "saved_lines": saved}  # fmt: skip

    def state_json(self) -> dict[str, Any]:
        """``GET /api/state``: the newest picture's seq, its boxes, the counts, any error."""
        snap = self.live.snapshot()
        body: dict[str, Any] = snap.to_json(time.monotonic()) if snap else {"seq": 0}
        body["error"] = self.live.error
        return body

    def save(self, edit: dict[str, Any]) -> dict[str, Any]:
        """``POST /api/config``: validate, back up, write, count on the new lines, advise.

        Raises:
            SaveRefused: the edit is invalid. ConfigError: the file cannot be written.
        """
        saved = self.file.save(edit, self.live.size_wh)
        self.live.reload(watched(saved.config, self.source))
        restart = f"sudo systemctl restart {SERVICE_UNIT}"
        advice = f"the device service reads the config at start: run `{restart}` to apply it"
        if self.options.restart_service:
            advice = _restart_service()
        backup = str(saved.backup) if saved.backup else None
        return {"ok": True, "file": str(self.file.path), "backup": backup, "service": advice}


class _Server(ThreadingHTTPServer):
    """One thread per request; request threads do not hold up the exit."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)


class _Server6(_Server):
    address_family = socket.AF_INET6


def _restart_service() -> str:
    """``systemctl restart`` the device service; what happened, for the page."""
    cmd = ["systemctl", "restart", f"{SERVICE_UNIT}.service"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"`{' '.join(cmd)}` failed: {err}"
    if proc.returncode != 0:
        return f"`{' '.join(cmd)}` failed ({proc.returncode}): {proc.stderr.strip()}"
    return f"{SERVICE_UNIT} restarted with the new config"


class _Handler(BaseHTTPRequestHandler):
    """One request: check the token, then route."""

    server_version = "edge-counter-setup"

    @property
    def page(self) -> SetupPage:
        return self.server.page  # type: ignore[attr-defined, no-any-return]

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(
        self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for k, v in {**_HEADERS, **(extra or {})}.items():
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, body: object) -> None:
        self._send(status, json.dumps(body).encode(), "application/json")

    def _token_status(self) -> tuple[HTTPStatus | None, bool]:
        """(None if authorised else 401/403, whether the token came in the query)."""
        query = parse_qs(urlsplit(self.path).query).get("token", [])
        given = query[0] if query else self._cookie()
        if not given:
            return HTTPStatus.UNAUTHORIZED, False
        if not hmac.compare_digest(given.encode(), self.page.token.encode()):
            return HTTPStatus.FORBIDDEN, False
        return None, bool(query)

    def _cookie(self) -> str:
        """Our cookie's value, "" if absent (parsed by hand: ``SimpleCookie`` raises on other
        sites' cookies for the same host that it finds illegal)."""
        for part in self.headers.get("Cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.page.cookie:
                return value.strip('"')
        return ""

    def _authorised(self) -> bool:
        status, from_query = self._token_status()
        if status is not None:
            text = ("open the address printed by `edge-counter setup` (it carries the token)\n"
                    if status == HTTPStatus.UNAUTHORIZED else "wrong token\n")  # fmt: skip
            self._send(status, text.encode(), "text/plain; charset=utf-8")
            return False
        if from_query and self.command == "GET" and urlsplit(self.path).path == "/":
            # the page: keep the token in a cookie, out of the address bar and history
            self._send(HTTPStatus.SEE_OTHER, b"", "text/plain", {
                "Location": urlsplit(self.path).path,
                "Set-Cookie": f"{self.page.cookie}={self.page.token}; Path=/; HttpOnly; "
                              "SameSite=Strict",
            })  # fmt: skip
            return False
        return True

    def do_GET(self) -> None:
        if not self._authorised():
            return
        path = urlsplit(self.path).path
        if path in _FILES:
            name, ctype = _FILES[path]
            self._send(HTTPStatus.OK, (STATIC / name).read_bytes(), ctype)
        elif path == "/api/config":
            self._json(HTTPStatus.OK, self.page.config_json())
        elif path == "/api/state":
            self._json(HTTPStatus.OK, self.page.state_json())
        elif path == "/favicon.ico":
            self._send(HTTPStatus.NO_CONTENT, b"", "image/x-icon")
        elif path == "/api/frame.jpg":
            jpeg = self.page.live.jpeg()
            if jpeg is None:
                self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "no picture yet"})
            else:
                self._send(HTTPStatus.OK, jpeg[1], "image/jpeg", {"X-Frame-Seq": str(jpeg[0])})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page: {path}"})

    def do_POST(self) -> None:
        if not self._authorised():
            return
        if urlsplit(self.path).path != "/api/config":
            self._json(HTTPStatus.NOT_FOUND, {"error": "no such endpoint"})
            return
        edit = self._read_edit()
        if edit is None:
            return
        try:
            self._json(HTTPStatus.OK, self.page.save(edit))
        except SaveRefused as refused:
            problems = [p.to_json() for p in refused.problems]
            self._json(HTTPStatus.UNPROCESSABLE_ENTITY, {"ok": False, "problems": problems})
        except ConfigError as err:
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"ok": False, "error": str(err)})

    def _read_edit(self) -> dict[str, Any] | None:
        """The save's JSON body, from the page's own origin; None after answering an error."""
        origin = self.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != self.headers.get("Host"):
            self._json(HTTPStatus.FORBIDDEN, {"error": f"cross-origin request from {origin}"})
            return None
        length_text = self.headers.get("Content-Length") or "0"
        length = int(length_text) if length_text.isdigit() else MAX_BODY_BYTES + 1
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            self._json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "expected application/json"})
        elif length > MAX_BODY_BYTES:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
        else:
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except (json.JSONDecodeError, UnicodeDecodeError) as err:
                self._json(HTTPStatus.BAD_REQUEST, {"error": f"body is not JSON: {err}"})
                return None
            if isinstance(body, dict) and all(
                isinstance(body.get(k, []), list) for k in ("lines", "zones")
            ):
                return body
            expected = "expected {lines: [...], zones: [...], roi}"
            self._json(HTTPStatus.BAD_REQUEST, {"error": expected})
        return None
