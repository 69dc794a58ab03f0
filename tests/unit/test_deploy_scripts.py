"""The shipped broker files and install scripts, read and run without a broker or a Pi."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from edge.wire.topics import KINDS, KINDS_WITH_NAME

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "mosquitto"
SCRIPTS = [ROOT / "scripts" / "install-pi.sh", DEPLOY / "add-device.sh", DEPLOY / "make-certs.sh"]
#: Topics a device reads and the collector writes (or an operator, for config).
TO_DEVICE = {"ack", "config"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse_and_are_executable(script: Path) -> None:
    subprocess.run(["bash", "-n", str(script)], check=True)
    assert os.access(script, os.X_OK)


def acl_rules() -> tuple[dict[str, set[str]], set[str]]:
    """``user -> {"access topic"}`` (``"*"`` for the pattern rules) and the service users."""
    rules: dict[str, set[str]] = {"*": set()}
    user = "*"
    for line in (DEPLOY / "acl").read_text().splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "user":
            user = words[1]
            rules[user] = set()
        elif words[0] == "pattern":
            rules["*"].add(" ".join(words[1:]))
        else:
            assert words[0] == "topic", line
            rules[user].add(" ".join(words[1:]))
    return rules, set(rules) - {"*"}


def tail(kind: str) -> str:
    return f"{kind}/+" if kind in KINDS_WITH_NAME else kind


def test_the_acl_covers_every_device_kind_and_nothing_more() -> None:
    rules, services = acl_rules()
    device_kinds = KINDS - TO_DEVICE
    assert rules["*"] == {f"write edge/v1/+/%u/{tail(k)}" for k in device_kinds} | {
        f"read edge/v1/+/%u/{k}" for k in TO_DEVICE
    } | {"write homeassistant/sensor/%u/+/config"}  # its own discovery configs only
    assert rules["collector"] == {f"read edge/v1/+/+/{tail(k)}" for k in device_kinds} | {
        "write edge/v1/+/+/ack",
        "deny edge/v1/+/collector/#",
    }
    # A service user is never a device: the device patterns are denied to each of them.
    for user in services:
        assert f"deny edge/v1/+/{user}/#" in rules[user]
    add_device = (DEPLOY / "add-device.sh").read_text()
    found = re.search(r'^SERVICES="([^"]*)"', add_device, re.MULTILINE)
    assert found is not None and set(found.group(1).split()) == services


def add_device(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "EDGE_MQTT_PASSWD": str(tmp_path / "passwd"),
           "EDGE_MQTT_OUT_DIR": str(tmp_path / "out")}  # fmt: skip
    return subprocess.run(
        [str(DEPLOY / "add-device.sh"), *args], check=False, capture_output=True, text=True, env=env
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["a/b"], "is not a device id"),
        (["+"], "is not a device id"),
        (["dev#"], "is not a device id"),
        (["collector"], "is a service user, not a device id"),
        (["--service", "dev-1"], "is not a service user"),
        ([], "Add (or reset)"),
    ],
)
def test_add_device_refuses_what_the_acl_cannot_tell_apart(
    tmp_path: Path, args: list[str], error: str
) -> None:
    done = add_device(tmp_path, *args)
    assert done.returncode == 2 and error in done.stderr
    assert not (tmp_path / "passwd").exists()


def test_add_device_writes_a_private_password_and_resets_it(tmp_path: Path) -> None:
    assert add_device(tmp_path, "cam-1").returncode == 0
    secret = tmp_path / "out" / "cam-1.mqtt-password"
    first = secret.read_text()
    assert len(first.strip()) >= 40 and secret.stat().st_mode & 0o777 == 0o600
    assert add_device(tmp_path, "cam-1").returncode == 0
    assert secret.read_text() != first
    users = [line.split(":")[0] for line in (tmp_path / "passwd").read_text().splitlines()]
    assert users == ["cam-1"]


def install_pi(*args: str) -> subprocess.CompletedProcess[str]:
    """Runs only as far as argument checks (before the root and platform checks)."""
    script = ROOT / "scripts" / "install-pi.sh"
    return subprocess.run([str(script), *args], check=False, capture_output=True, text=True)


def test_install_pi_documents_and_checks_the_credential_options(tmp_path: Path) -> None:
    usage = install_pi("--help")
    assert usage.returncode == 0
    assert "--device-id ID --mqtt-password-file FILE --ca-file FILE" in usage.stdout
    assert "--purge" in usage.stdout
    bad = install_pi("--device-id", "a/b")
    assert bad.returncode == 1 and "--device-id 'a/b'" in bad.stderr
    empty = tmp_path / "empty"
    empty.touch()
    missing = install_pi("--mqtt-password-file", str(empty))
    assert missing.returncode == 1 and "missing or empty" in missing.stderr
