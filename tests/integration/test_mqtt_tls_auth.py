"""Publisher against Mosquitto with TLS (test CA, client certificates) and password auth."""

from __future__ import annotations

import logging
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import wire
from edge.config import DeviceConfig, MqttConfig, OutboxConfig
from edge.errors import ConfigError, PublishError
from edge.outbox import Outbox
from edge.publish import StatusInfo
from edge.publish.mqtt import MqttPublisher
from edge.publish.subscriber import Subscriber
from edge.types import Crossing
from tests.conftest import Broker, free_port

DEVICE = DeviceConfig(id="dev1", site="post-7")
PASSWORD = "s3cret-Pa55"


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_cert(d: Path, name: str, ca: str | None, san: str | None = None) -> None:
    """``<name>.key``/``<name>.crt`` signed by ``<ca>`` (self-signed when ``ca`` is None)."""
    key, crt = str(d / f"{name}.key"), str(d / f"{name}.crt")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key]
    if ca is None:
        openssl("req", "-x509", *ec, "-out", crt, "-days", "2", "-subj", f"/CN={name}")
        return
    csr = str(d / f"{name}.csr")
    openssl("req", *ec, "-out", csr, "-subj", f"/CN={name}")
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    openssl(
        "x509", "-req", "-in", csr, "-CA", str(d / f"{ca}.crt"), "-CAkey", str(d / f"{ca}.key"),
        "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", str(ext),
    )  # fmt: skip


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki")
    make_cert(d, "ca", None)
    make_cert(d, "server", "ca", san="IP:127.0.0.1")
    make_cert(d, "client", "ca")
    make_cert(d, "other-ca", None)
    return d


def start_broker(tmp_path: Path, listener: str) -> Broker:
    port = free_port()
    b = Broker(tmp_path / "broker", port, extra_conf=f"listener {port} 127.0.0.1\n{listener}")
    b.start()
    return b


@pytest.fixture
def tls_broker(tmp_path: Path, pki: Path) -> Iterator[Broker]:
    b = start_broker(
        tmp_path,
        f"cafile {pki / 'ca.crt'}\ncertfile {pki / 'server.crt'}\nkeyfile {pki / 'server.key'}\n"
        "require_certificate true\nallow_anonymous true\n",
    )
    yield b
    b.stop()


@pytest.fixture
def auth_broker(tmp_path: Path) -> Iterator[Broker]:
    pw = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(pw), "counter", PASSWORD], check=True)
    b = start_broker(tmp_path, f"allow_anonymous false\npassword_file {pw}\n")
    yield b
    b.stop()


def fill(tmp_path: Path, n: int) -> Outbox:
    box = Outbox.open(tmp_path / "outbox.sqlite", DEVICE.id, OutboxConfig())
    for i in range(n):
        box.append(Crossing("L1", "in", "car", i, 0.0, 0.9), time.time())
    return box


def received_seqs(sub: Subscriber, n: int, timeout_s: float = 10) -> set[int]:
    seqs: set[int] = set()
    deadline = time.monotonic() + timeout_s
    while len(seqs) < n and time.monotonic() < deadline:
        got = sub.get(0.1)
        if got is not None:
            _, msg = wire.decode_for_topic(got[0], got[1])
            if isinstance(msg, wire.EventsMsg):
                seqs.update(e.seq for e in msg.events)
    return seqs


def tls_cfg(b: Broker, pki: Path, ca: str = "ca", client: bool = True) -> MqttConfig:
    return MqttConfig(
        url=f"mqtts://127.0.0.1:{b.port}", ca_file=pki / f"{ca}.crt",
        cert_file=pki / "client.crt" if client else None,
        key_file=pki / "client.key" if client else None, reconnect_max_s=1.0,
        delivery="broker",
    )  # fmt: skip


def test_tls_with_client_certificate_delivers(
    tls_broker: Broker, pki: Path, tmp_path: Path
) -> None:
    cfg = tls_cfg(tls_broker, pki)
    sub = Subscriber(cfg, [wire.subscription("edge", "events")])
    sub.start()
    box = fill(tmp_path, 25)
    pub = MqttPublisher(cfg, DEVICE, box, StatusInfo("1"))
    pub.start()
    assert pub.drain(15) == 0
    assert received_seqs(sub, 25) == set(range(1, 26))
    pub.stop()
    sub.stop()
    box.close()


@pytest.mark.parametrize(("ca", "client"), [("other-ca", True), ("ca", False)])
def test_tls_failure_keeps_outbox(
    tls_broker: Broker, pki: Path, tmp_path: Path, ca: str, client: bool
) -> None:
    """An untrusted server certificate, or no client certificate: nothing sent, nothing lost."""
    box = fill(tmp_path, 5)
    pub = MqttPublisher(tls_cfg(tls_broker, pki, ca, client), DEVICE, box, StatusInfo("1"))
    pub.start()
    assert pub.drain(2.0) == 5
    assert not pub.connected
    pub.stop(timeout_s=1)
    assert box.depth() == 5 and len(box.pending(10)) == 5
    box.close()


def auth_cfg(b: Broker, pw_file: Path, protocol: str = "5") -> MqttConfig:
    return MqttConfig.model_validate(
        {"url": b.url, "username": "counter", "password_file": pw_file, "protocol": protocol,
         "reconnect_max_s": 1.0, "delivery": "broker"}
    )  # fmt: skip


def test_password_auth_delivers(auth_broker: Broker, tmp_path: Path) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text(PASSWORD + "\n")
    cfg = auth_cfg(auth_broker, secret)
    sub = Subscriber(cfg, [wire.subscription("edge", "events")])
    sub.start()
    box = fill(tmp_path, 10)
    pub = MqttPublisher(cfg, DEVICE, box, StatusInfo("1"))
    pub.start()
    assert pub.drain(10) == 0
    assert received_seqs(sub, 10) == set(range(1, 11))
    pub.stop()
    sub.stop()
    box.close()


# Mosquitto answers a wrong password with "Not authorized"; other brokers say "Bad user name
# or password". Both are connect refusals the publisher must surface.
REFUSED = "(Not authorized|Bad user name or password)"


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_wrong_password_is_a_clear_error_and_outbox_intact(
    auth_broker: Broker, tmp_path: Path, caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    secret = tmp_path / "mqtt-password"
    secret.write_text("wrong-" + PASSWORD)
    box = fill(tmp_path, 7)
    pub = MqttPublisher(auth_cfg(auth_broker, secret, protocol), DEVICE, box, StatusInfo("1"))
    with caplog.at_level(logging.DEBUG):
        pub.start()
        with pytest.raises(PublishError, match=f"refused the connection: {REFUSED}"):
            pub.drain(10)
        pub.stop(timeout_s=1)
    assert re.search(f"ERROR.*broker refused the connection: {REFUSED}", caplog.text)
    assert PASSWORD not in caplog.text
    assert box.depth() == 7 and len(box.pending(10)) == 7
    box.close()
    with pytest.raises(PublishError, match=REFUSED):
        Subscriber(auth_cfg(auth_broker, secret, protocol), ["#"]).start()


def test_missing_password_file_is_a_config_error(tmp_path: Path) -> None:
    cfg = MqttConfig(username="u", password_file=tmp_path / "nope")
    with pytest.raises(ConfigError, match=r"mqtt\.password_file: cannot read"):
        MqttPublisher(cfg, DEVICE, fill(tmp_path, 0), StatusInfo("1"))
