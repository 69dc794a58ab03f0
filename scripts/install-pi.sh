#!/usr/bin/env bash
# Install the edge counter as a systemd service on Raspberry Pi OS Bookworm (Pi 4/5).
# Idempotent: run it again to upgrade. See docs/device.md.
#
#   sudo scripts/install-pi.sh                 install or upgrade, enable the service
#   sudo scripts/install-pi.sh --start         ... and (re)start it now
#   sudo scripts/install-pi.sh --mirror DIR    fetch models from an asset mirror
#   sudo scripts/install-pi.sh --build-model   build the INT8 and 416x256 models on the device
#   sudo scripts/install-pi.sh --recording VIDEO   choose the model on a recording of the camera
#                                              (a file source needs none; see docs/model.md)
#   sudo scripts/install-pi.sh --collector     also install the collector unit (server)
#   sudo scripts/install-pi.sh --device-id ID --mqtt-password-file FILE --ca-file FILE
#                                              the device's broker identity: its id (also its
#                                              MQTT username), the password add-device.sh
#                                              made for it, the broker's CA certificate
#   sudo scripts/install-pi.sh --uninstall     remove program and units; keep config and
#                                              the outbox (/var/lib/edge-counter)
#   sudo scripts/install-pi.sh --uninstall --purge   remove those too
# Where systemd is not running (an image build, a container, a chroot) it installs the unit
# file but skips systemctl (reload, enable, start) with a warning, and still exits 0.
set -euo pipefail

PREFIX=/opt/edge-counter
VENV="$PREFIX/venv"
SRC="$PREFIX/src"
MODELS="$PREFIX/models"
CONF_DIR=/etc/edge-counter
UNIT_DIR=/etc/systemd/system
MODEL="${EDGE_COUNTER_MODEL:-yolox-nano}"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

start=0 build=0 collector=0 uninstall=0 purge=0 mirror="" recording=""
device_id="" password_file="" ca_file=""

log() { printf 'install-pi: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

parse_args() {
    while [ $# -gt 0 ]; do
        case "$1" in
            --start) start=1 ;;
            --build-model) build=1 ;;
            --collector) collector=1 ;;
            --uninstall) uninstall=1 ;;
            --purge) purge=1 ;;
            --mirror) [ $# -ge 2 ] || die "--mirror needs a directory"; mirror="$2"; shift ;;
            --device-id) [ $# -ge 2 ] || die "--device-id needs an id"; device_id="$2"; shift ;;
            --mqtt-password-file)
                [ $# -ge 2 ] || die "--mqtt-password-file needs a file"; password_file="$2"; shift ;;
            --ca-file) [ $# -ge 2 ] || die "--ca-file needs a file"; ca_file="$2"; shift ;;
            --recording) [ $# -ge 2 ] || die "--recording needs a video"; recording="$2"; shift ;;
            -h | --help) usage 0 ;;
            *) log "unknown option: $1"; usage 2 ;;
        esac
        shift
    done
    if [ -n "$device_id" ] && [[ ! "$device_id" =~ ^[A-Za-z0-9_.-]{1,64}$ ]]; then
        die "--device-id '$device_id': letters, digits, '_', '.', '-' only (1..64)"
    fi
    if [ -n "$password_file" ] && [ ! -s "$password_file" ]; then
        die "--mqtt-password-file $password_file: missing or empty"
    fi
    if [ -n "$ca_file" ] && [ ! -s "$ca_file" ]; then die "--ca-file $ca_file: missing or empty"; fi
    if [ -n "$recording" ] && [ ! -s "$recording" ]; then
        die "--recording $recording: missing or empty"
    fi
    return 0
}

check_platform() {
    [ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
    # shellcheck source=/dev/null
    . /etc/os-release
    [ "${VERSION_CODENAME:-}" = "bookworm" ] || log "warning: tested on Bookworm, this is ${PRETTY_NAME:-unknown}"
    if systemd_running; then
        command -v systemctl >/dev/null || die "systemd is running but systemctl is missing"
    else
        log "warning: systemd is not running here (image build, container or chroot):" \
            "the unit files are installed but not reloaded, enabled or started"
    fi
}

# The test systemd itself uses (sd_booted(3)); a chroot or container sees no such directory.
systemd_running() { [ -d /run/systemd/system ]; }

install_packages() {
    local pkgs=(python3-venv python3-pip rsync)
    # The Pi camera stack comes from the Raspberry Pi archive; off a Pi it does not exist.
    if apt-cache show python3-picamera2 >/dev/null 2>&1; then
        pkgs+=(python3-picamera2)
    else
        log "python3-picamera2 not available: only USB cameras and network streams will work"
    fi
    if [ "$collector" -eq 1 ]; then pkgs+=(mosquitto-clients); fi
    log "apt packages: ${pkgs[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
}

install_program() {
    install -d -m 0755 "$PREFIX" "$MODELS"
    rsync -a --delete --exclude .git --exclude .venv --exclude data --exclude '*.onnx' \
        --exclude '__pycache__' "$REPO/" "$SRC/"
    # --system-site-packages: picamera2 and libcamera come from apt, not pip.
    if [ ! -x "$VENV/bin/python" ]; then
        python3 -m venv --system-site-packages "$VENV"
    fi
    # numpy < 2: apt's picamera2/simplejpeg are built against Bookworm's numpy 1.x ABI.
    printf 'numpy<2\n' >"$PREFIX/constraints.txt"
    local extra=""
    if [ "$collector" -eq 1 ]; then extra="collector"; fi
    if [ "$build" -eq 1 ]; then extra="${extra:+$extra,}build"; fi
    "$VENV/bin/pip" install -q --upgrade -c "$PREFIX/constraints.txt" "$SRC${extra:+[$extra]}"
    log "installed $("$VENV/bin/edge-counter" --version)"
}

install_models() {
    # Manifests and any model built on a workstation (INT8, resized), then the FP32 weights.
    cp -a "$REPO"/models/*.json "$MODELS"/
    if compgen -G "$REPO/models/*.onnx" >/dev/null; then cp -a "$REPO"/models/*.onnx "$MODELS"/; fi
    local args=(assets fetch --only models --models-dir "$MODELS")
    if [ -n "$mirror" ]; then args+=(--mirror "$mirror"); fi
    "$VENV/bin/edge-counter" "${args[@]}" || log "warning: model fetch failed (offline?)"
    if [ -f "$MODELS/$MODEL-int8.onnx" ]; then
        log "model $MODEL-int8 present"
    elif [ "$build" -eq 1 ]; then
        log "building $MODEL-int8 (calibrates on the sample clips; takes a while)"
        "$VENV/bin/edge-counter" model build "$MODEL" --models-dir "$MODELS" --out "$MODELS"
    else
        log "note: $MODEL-int8 not installed (optional; the example config uses $MODEL): build" \
            "it on a workstation (scripts/setup.sh) and install from that checkout, or rerun" \
            "with --build-model"
    fi
    if [ "$build" -eq 1 ] && [ ! -f "$MODELS/$MODEL-416x256.onnx" ]; then
        log "building $MODEL-416x256 (no letterbox padding on 16:9 cameras)"
        "$VENV/bin/edge-counter" model resize "$MODEL" 416x256 --models-dir "$MODELS" \
            --out "$MODELS" || log "note: $MODEL cannot take a 416x256 input; use $MODEL"
    fi
}

install_config() {
    install -d -m 0755 "$CONF_DIR"
    if [ ! -f "$CONF_DIR/config.toml" ]; then
        install -m 0644 "$REPO/examples/pi-camera.toml" "$CONF_DIR/config.toml"
        log "installed $CONF_DIR/config.toml from examples/pi-camera.toml: edit lines and [mqtt]"
        if [ -n "$device_id" ]; then
            # The example's identity (post-3-cam-1) is both [device] id and [mqtt] username.
            sed -i -e "s/^id = \"post-3-cam-1\"/id = \"$device_id\"/" \
                -e "s/^username = \"post-3-cam-1\"/username = \"$device_id\"/" "$CONF_DIR/config.toml"
            log "set [device] id and [mqtt] username to $device_id"
        fi
    fi
    install_credentials
    check_identity
    "$VENV/bin/edge-counter" check-config "$CONF_DIR/config.toml" >/dev/null ||
        log "warning: $CONF_DIR/config.toml does not validate yet"
}

install_credentials() {
    # Root only: systemd (LoadCredential=mqtt-password:...) hands a copy to the service at
    # /run/credentials/edge-counter.service/mqtt-password, readable by its dynamic user alone.
    if [ -n "$password_file" ]; then
        install -m 0600 -o root -g root "$password_file" "$CONF_DIR/mqtt-password"
        log "installed the MQTT password as $CONF_DIR/mqtt-password (root only)"
    elif [ ! -f "$CONF_DIR/mqtt-password" ]; then
        install -m 0600 /dev/null "$CONF_DIR/mqtt-password"
        log "created an empty $CONF_DIR/mqtt-password (root only): put the broker password in it" \
            "(deploy/mosquitto/add-device.sh DEVICE_ID makes one on the broker)"
    fi
    chmod 0600 "$CONF_DIR/mqtt-password"
    if [ -n "$ca_file" ]; then
        install -m 0644 "$ca_file" "$CONF_DIR/ca.pem"
        log "installed the broker's CA certificate as $CONF_DIR/ca.pem"
    fi
}

check_identity() {
    # The broker's ACL knows a device by its MQTT username (deploy/mosquitto/acl): it must be
    # the device id, or the broker refuses every publish (PUBACK 0x87 "Not authorized").
    local ids
    ids="$("$VENV/bin/python" - "$CONF_DIR/config.toml" <<'PY' 2>/dev/null || true
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    cfg = tomllib.load(f)
print(cfg.get("device", {}).get("id", ""), cfg.get("mqtt", {}).get("username", ""))
PY
)"
    local id="${ids% *}" user="${ids#* }"
    if [ -n "$device_id" ] && [ "$id" != "$device_id" ]; then
        die "$CONF_DIR/config.toml has [device] id = '$id', not '$device_id': edit it (or move it away)"
    fi
    if [ -z "$user" ]; then
        log "warning: no [mqtt] username in $CONF_DIR/config.toml: set it to the device id '$id'"
    elif [ "$user" != "$id" ]; then
        log "warning: [mqtt] username '$user' is not the device id '$id': with the shipped" \
            "broker ACL the device may publish only under its username"
    fi
    return 0
}

choose_model() {
    # The fastest installed variant of the configured model that counts like FP32, timed on
    # this device (docs/model.md, "Choosing on the device"). Its count check needs a recording
    # of the camera: the configured file, or --recording. A failed choice keeps the model.
    local config="$CONF_DIR/config.toml" kind
    kind="$("$VENV/bin/python" - "$config" <<'PY' 2>/dev/null || true
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f).get("source", {}).get("type", ""))
PY
)"
    local args=(model choose --config "$config" --models-dir "$MODELS")
    if [ -n "$recording" ]; then
        args+=(--recording "$recording")
    elif [ "$kind" != "replay" ]; then
        log "note: model not chosen: a camera source needs a recording of it to check counts;" \
            "once the camera is mounted, record a few minutes of traffic and run:" \
            "sudo $VENV/bin/edge-counter ${args[*]} --recording VIDEO"
        return 0
    fi
    log "choosing the model: timing the installed variants, checking their counts (minutes)"
    "$VENV/bin/edge-counter" "${args[@]}" >&2 ||
        log "warning: model choose failed; $config keeps its model"
    return 0
}

install_units() {
    install -m 0644 "$REPO/systemd/edge-counter.service" "$UNIT_DIR/edge-counter.service"
    if [ "$collector" -eq 1 ]; then
        install -m 0644 "$REPO/systemd/edge-collector.service" "$UNIT_DIR/edge-collector.service"
    fi
    if ! systemd_running; then
        log "warning: systemd not running: skipped daemon-reload and enable; on the booted" \
            "device run: systemctl enable --now edge-counter.service"
        return 0
    fi
    systemctl daemon-reload
    systemctl enable edge-counter.service
    if [ "$collector" -eq 1 ]; then systemctl enable edge-collector.service; fi
    if [ "$start" -eq 1 ]; then systemctl restart edge-counter.service; fi
}

uninstall() {
    local unit
    for unit in edge-counter.service edge-collector.service; do
        if [ -f "$UNIT_DIR/$unit" ]; then
            if systemd_running; then systemctl disable --now "$unit" || true; fi
            rm -f "$UNIT_DIR/$unit"
        fi
    done
    if systemd_running; then systemctl daemon-reload; fi
    rm -rf "$PREFIX"
    if [ "$purge" -eq 1 ]; then
        rm -rf "$CONF_DIR" /var/lib/edge-counter /var/lib/private/edge-counter
        log "removed program, config and state (the outbox)"
    else
        log "removed program and units; kept $CONF_DIR and /var/lib/edge-counter (--purge)"
    fi
}

main() {
    parse_args "$@"
    check_platform
    if [ "$uninstall" -eq 1 ]; then
        uninstall
        return
    fi
    install_packages
    install_program
    install_models
    install_config
    choose_model
    install_units
    if systemd_running; then
        log "done: systemctl status edge-counter; journalctl -u edge-counter -f"
    else
        log "done (without systemd: the service is installed, not enabled)"
    fi
}

# Sourced (tests), it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
