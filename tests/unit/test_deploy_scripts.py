"""The shipped broker files and install scripts, read and run without a broker or a Pi."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from edge.wire.topics import KINDS, KINDS_WITH_NAME

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "mosquitto"
SCRIPTS = [
    ROOT / "scripts" / "install-pi.sh",
    ROOT / "scripts" / "pi-emulated.sh",
    DEPLOY / "add-device.sh",
    DEPLOY / "make-certs.sh",
]
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


def install_pi_units(
    tmp_path: Path, running: bool, *steps: str
) -> subprocess.CompletedProcess[str]:
    """Sources install-pi.sh and runs ``steps`` with units and prefix in ``tmp_path``.

    ``systemctl`` is a shell function that records its arguments, and ``systemd_running`` is
    forced, so this machine's systemd is never touched whichever way it runs.
    """
    script = ROOT / "scripts" / "install-pi.sh"
    calls = tmp_path / "systemctl.calls"
    lines = [
        "set -euo pipefail",
        f"source {script}",
        f"UNIT_DIR={tmp_path / 'units'} PREFIX={tmp_path / 'opt'} start=1",
        f'systemctl() {{ echo "$*" >>{calls}; }}',
        f"systemd_running() {{ {'true' if running else 'false'}; }}",
        f"mkdir -p {tmp_path / 'units'} {tmp_path / 'opt'}",
        *steps,
    ]
    return subprocess.run(
        ["bash", "-c", "\n".join(lines)], check=False, capture_output=True, text=True
    )


def systemctl_calls(tmp_path: Path) -> list[str]:
    calls = tmp_path / "systemctl.calls"
    return calls.read_text().splitlines() if calls.exists() else []


def test_install_pi_installs_the_unit_but_skips_systemctl_without_systemd(tmp_path: Path) -> None:
    done = install_pi_units(tmp_path, False, "install_units", "echo after")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "after"
    unit = tmp_path / "units" / "edge-counter.service"
    assert unit.read_text() == (ROOT / "systemd" / "edge-counter.service").read_text()
    assert systemctl_calls(tmp_path) == []
    assert "systemd not running: skipped daemon-reload and enable" in done.stderr
    assert "systemctl enable --now edge-counter.service" in done.stderr
    gone = install_pi_units(tmp_path, False, "uninstall")
    assert gone.returncode == 0, gone.stderr
    assert not unit.exists() and not (tmp_path / "opt").exists()
    assert systemctl_calls(tmp_path) == []


def test_install_pi_reloads_enables_and_starts_under_systemd(tmp_path: Path) -> None:
    done = install_pi_units(tmp_path, True, "install_units")
    assert done.returncode == 0, done.stderr
    assert systemctl_calls(tmp_path) == [
        "daemon-reload",
        "enable edge-counter.service",
        "restart edge-counter.service",
    ]
    gone = install_pi_units(tmp_path, True, "uninstall")
    assert gone.returncode == 0, gone.stderr
    assert systemctl_calls(tmp_path)[3:] == ["disable --now edge-counter.service", "daemon-reload"]


def test_install_pi_sees_no_systemd_in_a_chroot_or_container() -> None:
    """The check is sd_booted(3)'s: the directory systemd creates when it is PID 1."""
    script = ROOT / "scripts" / "install-pi.sh"
    found = subprocess.run(
        ["bash", "-c", f"source {script}; systemd_running && echo yes || echo no"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    assert found.stdout.strip() == ("yes" if Path("/run/systemd/system").is_dir() else "no")


def pi_emulated(*steps: str) -> subprocess.CompletedProcess[str]:
    """Sources pi-emulated.sh (functions only: nothing installed, mounted or registered)."""
    script = ROOT / "scripts" / "pi-emulated.sh"
    return subprocess.run(
        ["bash", "-c", "\n".join(["set -euo pipefail", f"source {script}", *steps])],
        check=True, capture_output=True, text=True,
    )  # fmt: skip


def test_pi_emulated_builds_from_the_bookworm_mirror_apt_uses(tmp_path: Path) -> None:
    listed = tmp_path / "sources.list.d"
    listed.mkdir()
    (listed / "debian.sources").write_text(
        "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
        "Types: deb\n# a comment\nURIs: http://security.example/debian-security\n"
        "Suites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://main.example/debian\nSuites: bookworm bookworm-updates\n"
        "Components: main\n"
    )
    (listed / "other.list.disabled").write_text(
        "deb http://disabled.example/debian bookworm main\n"
    )
    (tmp_path / "sources.list").write_text(
        "# deb http://comment.example/debian bookworm main\n"
        "deb [signed-by=/k.gpg] http://list.example/debian bookworm main\n"
        "deb http://list.example/debian bookworm-updates main\n"
    )
    found = pi_emulated(f"debian_mirror {tmp_path}").stdout.split()
    assert found == ["http://main.example/debian", "http://list.example/debian"]
    (listed / "debian.sources").unlink()
    assert pi_emulated(f"debian_mirror {tmp_path}").stdout.split() == ["http://list.example/debian"]


def test_pi_emulated_shows_onnxruntime_a_cortex_a72() -> None:
    """qemu-user shows the host's /proc/cpuinfo, on which ``import onnxruntime`` segfaults."""
    cpuinfo = pi_emulated("write_cpuinfo").stdout
    blocks = [b for b in cpuinfo.split("\n\n") if b.startswith("processor")]
    assert len(blocks) == os.cpu_count()
    for n, block in enumerate(blocks):
        fields = dict(line.split(":", 1) for line in block.splitlines())
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        assert fields["processor"] == str(n)
        assert fields["CPU implementer"] == "0x41" and fields["CPU part"] == "0xd08"
        assert "asimd" in fields["Features"].split() and "asimddp" not in fields["Features"]
    assert "Raspberry Pi 4" in cpuinfo


def install_pi_choose(
    tmp_path: Path, source: str, *options: str, fails: bool = False
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Runs ``choose_model`` on a config whose ``[source]`` is ``source``; ``edge-counter`` is
    a stand-in that records its arguments (and fails if told), ``python`` is this one."""
    venv, conf, calls = tmp_path / "venv", tmp_path / "etc", tmp_path / "edge-counter.calls"
    (venv / "bin").mkdir(parents=True)
    conf.mkdir()
    (venv / "bin" / "python").symlink_to(sys.executable)
    fake = venv / "bin" / "edge-counter"
    fake.write_text(f'#!/bin/sh\necho "$*" >>{calls}\nexit {1 if fails else 0}\n')
    fake.chmod(0o755)
    (conf / "config.toml").write_text(f"[source]\n{source}\n")
    script = ROOT / "scripts" / "install-pi.sh"
    lines = [
        "set -euo pipefail",
        f"source {script}",
        f"VENV={venv} CONF_DIR={conf} MODELS={tmp_path / 'models'}",
        f"parse_args {' '.join(options)}",
        "choose_model",
        "echo after",
    ]
    done = subprocess.run(
        ["bash", "-c", "\n".join(lines)], check=False, capture_output=True, text=True
    )
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_install_pi_chooses_the_model_on_a_file_source(tmp_path: Path) -> None:
    done, calls = install_pi_choose(tmp_path, 'type = "replay"\npath = "/srv/road.mp4"')
    assert done.returncode == 0 and done.stdout.strip() == "after", done.stderr
    conf, models = tmp_path / "etc" / "config.toml", tmp_path / "models"
    assert calls == [f"model choose --config {conf} --models-dir {models}"]


def test_install_pi_chooses_on_a_recording_of_the_camera(tmp_path: Path) -> None:
    video = tmp_path / "road.mp4"
    video.write_bytes(b"\0" * 16)
    done, calls = install_pi_choose(tmp_path, 'type = "picamera"', "--recording", str(video))
    assert done.returncode == 0, done.stderr
    assert calls == [f"model choose --config {tmp_path / 'etc' / 'config.toml'} --models-dir "
                     f"{tmp_path / 'models'} --recording {video}"]  # fmt: skip


def test_install_pi_tells_how_to_choose_later_for_a_camera(tmp_path: Path) -> None:
    done, calls = install_pi_choose(tmp_path, 'type = "picamera"')
    assert done.returncode == 0 and done.stdout.strip() == "after", done.stderr
    assert calls == []
    assert "model not chosen: a camera source needs a recording of it" in done.stderr
    assert (
        "edge-counter model choose --config" in done.stderr and "--recording VIDEO" in done.stderr
    )


def test_install_pi_keeps_going_when_the_choice_fails(tmp_path: Path) -> None:
    done, calls = install_pi_choose(tmp_path, 'type = "replay"\npath = "/x.mp4"', fails=True)
    assert done.returncode == 0 and done.stdout.strip() == "after", done.stderr
    assert len(calls) == 1 and "warning: model choose failed" in done.stderr
    missing = install_pi("--recording", str(tmp_path / "none.mp4"))
    assert missing.returncode == 1 and "--recording" in missing.stderr
    assert "missing or empty" in missing.stderr
