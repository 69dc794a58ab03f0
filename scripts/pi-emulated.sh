#!/usr/bin/env bash
# The edge counter on an emulated Raspberry Pi OS userland (arm64 Debian Bookworm under
# qemu-user): installs it with scripts/install-pi.sh, replays a short stretch of a public clip
# with the FP32 and INT8 models, and compares with the same replay on this x86 machine.
# Emulated time says nothing about Pi speed (vector maths is emulated: ~10 s a frame).
#
#   sudo bash scripts/pi-emulated.sh           run it all; one summary line on stdout
#
# Environment (defaults in brackets):
#   EDGE_COUNTER_PI_CACHE    where the arm64 rootfs is kept, outside the clone [/var/cache/edge-counter]
#   EDGE_COUNTER_PI_SECONDS  seconds of the clip replayed [6]
#   EDGE_COUNTER_PI_FRAMES   frames on which INT8 and FP32 detections are matched [10]
#   EDGE_COUNTER_PYTHON      the x86 interpreter with the project installed [REPO/.venv/bin/python]
#   EDGE_COUNTER_MODELS, EDGE_COUNTER_DATA   models and clips [REPO/models, REPO/data]
#
# Needs root (apt, mounts, chroot). Registers Debian's qemu-aarch64 binfmt handler if none is
# registered and removes it at exit; every mount it makes is undone at exit, whatever happens.
# Exit 0 only if everything ran and the figures are within the tolerances printed.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${EDGE_COUNTER_PI_CACHE:-/var/cache/edge-counter}"
ROOTFS="$CACHE/rootfs-bookworm-arm64"
MARKER="$ROOTFS/.edge-counter-rootfs-complete"
SECONDS_REPLAYED="${EDGE_COUNTER_PI_SECONDS:-6}"
PROBE_FRAMES="${EDGE_COUNTER_PI_FRAMES:-10}"
PYTHON="${EDGE_COUNTER_PYTHON:-$REPO/.venv/bin/python}"
MODELS_DIR="${EDGE_COUNTER_MODELS:-$REPO/models}"
DATA_DIR="${EDGE_COUNTER_DATA:-$REPO/data}"
CLIP=road_cctv_vehicles
DETECT_FPS=5
MODEL=yolox-nano
PACKAGES=python3,python3-venv,python3-pip,ca-certificates
BINFMT=/proc/sys/fs/binfmt_misc
GUEST_DIR=/root/pi-emulated # inside the rootfs: the project, the clip, the results

mounted=() # mount points to undo, in order
mounted_binfmt=0 registered=0 work=""
t_start=$SECONDS

log() { printf 'pi-emulated: %s\n' "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}
elapsed() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

cleanup() {
    local rc=$? i
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" ||
            log "warning: could not unmount ${mounted[i]}"
    done
    if [ "$registered" -eq 1 ] && [ -e "$BINFMT/qemu-aarch64" ]; then
        echo -1 >"$BINFMT/qemu-aarch64" || log "warning: could not unregister qemu-aarch64"
    fi
    if [ "$mounted_binfmt" -eq 1 ]; then umount "$BINFMT" || true; fi
    if [ -n "$work" ]; then rm -rf "$work"; fi
    if [ "$rc" -ne 0 ]; then log "failed (exit $rc) after $(elapsed $((SECONDS - t_start)))"; fi
    exit "$rc"
}

# Mount (mount ARGS... TARGET) and remember TARGET for the exit trap.
mount_at() {
    mount "$@"
    mounted+=("${!#}")
}

need_tools() {
    [ "$(id -u)" -eq 0 ] || die "run as root: it installs packages, mounts and chroots"
    local pkgs=()
    command -v qemu-aarch64-static >/dev/null || pkgs+=(qemu-user-static)
    command -v debootstrap >/dev/null || pkgs+=(debootstrap)
    command -v ffmpeg >/dev/null || pkgs+=(ffmpeg)
    if [ ${#pkgs[@]} -gt 0 ]; then
        log "apt packages: ${pkgs[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"
    fi
    [ -x "$PYTHON" ] || die "$PYTHON: no x86 interpreter with the project (scripts/setup.sh)"
    local f
    for f in "$MODELS_DIR/$MODEL.json" "$MODELS_DIR/$MODEL-int8.json" \
        "$DATA_DIR/videos/$CLIP/video.mp4" "$DATA_DIR/videos/$CLIP/clip.json"; do
        [ -f "$f" ] || die "$f missing: run scripts/setup.sh (models, INT8 build and clips)"
    done
}

# aarch64 binaries run through Debian's qemu-aarch64 handler; its F flag opens the
# interpreter now, so the rootfs needs no copy of qemu.
register_binfmt() {
    if [ ! -e "$BINFMT/register" ]; then
        mount -t binfmt_misc binfmt_misc "$BINFMT"
        mounted_binfmt=1
    fi
    if [ -e "$BINFMT/qemu-aarch64" ]; then
        grep -q '^enabled' "$BINFMT/qemu-aarch64" || die "$BINFMT/qemu-aarch64 is disabled"
        return 0
    fi
    local conf=/usr/lib/binfmt.d/qemu-aarch64.conf
    [ -f "$conf" ] || die "$conf missing (package qemu-user-static)"
    sed -n 1p "$conf" >"$BINFMT/register"
    registered=1
    log "registered the qemu-aarch64 binfmt handler (removed again at exit)"
}

# The Debian mirror apt already uses (deb822 .sources or one-line .list) for bookworm, read
# from the apt directory $1 (/etc/apt); disabled files (other suffixes) are not read.
debian_mirror() {
    local f apt="${1:-/etc/apt}"
    for f in "$apt"/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            function flush() {
                if (uri != "" && deb && suite && !off) { print uri; found = 1 }
                uri = ""; deb = suite = off = 0
            }
            /^[[:space:]]*$/ { flush(); if (found) exit; next }
            /^Enabled:/ { off = ($2 == "no") }
            /^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
            /^URIs:/ { uri = $2 }
            /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") suite = 1 }
            END { if (!found) flush() }
        ' "$f"
    done
    for f in "$apt"/sources.list "$apt"/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        # deb [options] URI bookworm components
        sed -n -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?([^[:space:]]+)[[:space:]]+bookworm[[:space:]].*/\2/p' "$f"
    done
}

check_no_mounts_under() {
    if grep -q " $1/" /proc/mounts; then
        die "something is still mounted under $1 (a killed run?): umount it first"
    fi
}

build_rootfs() {
    if [ -f "$MARKER" ]; then
        log "reusing $ROOTFS"
        return 0
    fi
    local mirror
    mirror="$(debian_mirror /etc/apt | head -n 1)"
    [ -n "$mirror" ] || die "no Debian bookworm mirror in /etc/apt/sources.list{,.d/*}"
    check_no_mounts_under "$ROOTFS"
    rm -rf "$ROOTFS"
    log "building $ROOTFS (debootstrap, arm64 bookworm minbase, from apt's mirror)"
    nice -n 10 debootstrap --arch=arm64 --variant=minbase --include="$PACKAGES" \
        bookworm "$ROOTFS" "$mirror" >"$CACHE/debootstrap.log" 2>&1 ||
        die "debootstrap failed: see $CACHE/debootstrap.log"
    touch "$MARKER"
}

# What onnxruntime reads to pick its kernels: qemu-user shows the host's /proc/cpuinfo, on
# which `import onnxruntime` segfaults. A Raspberry Pi 4 (Cortex-A72, part 0xd08).
write_cpuinfo() {
    local i n
    n="$(nproc)"
    for ((i = 0; i < n; i++)); do
        printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\n' "$i"
        printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n'
        printf 'CPU part\t: 0xd08\nCPU revision\t: 3\n\n'
    done
    printf 'Revision\t: c03114\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n'
}

mount_guest() {
    check_no_mounts_under "$ROOTFS"
    mount_at -t proc proc "$ROOTFS/proc"
    write_cpuinfo >"$work/cpuinfo"
    mount_at --bind "$work/cpuinfo" "$ROOTFS/proc/cpuinfo"
    mount_at --bind /dev "$ROOTFS/dev"
    mount_at --bind /sys "$ROOTFS/sys"
    cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
}

# pip inside the rootfs reaches the package index the way the host's pip does: its config
# files, the certificate files they name, and its PIP_* settings and proxies.
pip_config() {
    local f cert
    for f in /etc/pip.conf /etc/xdg/pip; do
        if [ -e "$f" ]; then
            mkdir -p "$ROOTFS$(dirname "$f")"
            cp -a "$f" "$ROOTFS$(dirname "$f")/"
        fi
    done
    for cert in $(sed -n -E 's/^[[:space:]]*cert[[:space:]]*=[[:space:]]*//p' /etc/pip.conf \
        /etc/xdg/pip/pip.conf 2>/dev/null) ${PIP_CERT:-}; do
        if [ -f "$cert" ]; then install -D -m 0644 "$cert" "$ROOTFS$cert"; fi
    done
}

guest_env() {
    local v
    printf '%s\n' HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_TRUSTED_HOST PIP_CERT PIP_DEFAULT_TIMEOUT \
        PIP_DISABLE_PIP_VERSION_CHECK http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY \
        NO_PROXY; do
        if [ -n "${!v:-}" ]; then printf '%s=%s\n' "$v" "${!v}"; fi
    done
}

# Run a command in the rootfs, niced (the emulated steps take the cores for minutes).
in_guest() {
    local envs=()
    mapfile -t envs < <(guest_env)
    nice -n 10 chroot "$ROOTFS" /usr/bin/env -i "${envs[@]}" "$@"
}

# The tracked files of the checkout (as they are on disk), the models and a short clip.
stage_project() {
    local dest="$ROOTFS$GUEST_DIR"
    rm -rf "$dest"
    mkdir -p "$dest/edge-counter" "$dest/mirror/models" "$dest/out"
    git -C "$REPO" ls-files -z | (cd "$REPO" && tar --null -T - -cf -) |
        tar -xf - -C "$dest/edge-counter"
    cp "$MODELS_DIR"/*.json "$MODELS_DIR"/*.onnx "$dest/edge-counter/models/"
    cp "$MODELS_DIR"/*.onnx "$dest/mirror/models/"
    ffmpeg -loglevel error -y -i "$DATA_DIR/videos/$CLIP/video.mp4" -t "$SECONDS_REPLAYED" \
        -c copy "$dest/clip.mp4"
    cp "$dest/clip.mp4" "$work/clip.mp4"
    probe_py >"$dest/probe.py"
    cp "$dest/probe.py" "$work/probe.py"
}

# Detections of both models on every Nth frame of the clip, saved for the comparison.
probe_py() {
    cat <<'PY'
import sys
from pathlib import Path

import numpy as np

from edge.capture.replay import ReplaySource
from edge.config import OnnxDetectorConfig
from edge.detect.factory import build_detector

video, models, out, step, limit = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
arrays = {}
for name in sys.argv[6:]:
    detector = build_detector(OnnxDetectorConfig(model=name), models)
    source = ReplaySource(Path(video))
    rows = []
    try:
        for frame in source.frames():
            if frame.seq % step == 0:
                d = detector.detect(frame)
                rows += [(frame.seq, *box, c, k) for box, c, k in zip(d.xyxy, d.confidence, d.class_id)]
                if frame.seq // step + 1 >= limit:
                    break
    finally:
        source.close()
    arrays[name] = np.array(rows, np.float64).reshape(-1, 7)
np.savez(out, **arrays)
PY
}

main() {
    trap cleanup EXIT
    need_tools
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9 # one run at a time on this cache
    work="$(mktemp -d)"
    LINE="$("$PYTHON" -c 'import json,sys; l=json.load(open(sys.argv[1]))["lines"][0]; print("%s:%d,%d,%d,%d" % (l["id"], *l["A"], *l["B"]))' "$DATA_DIR/videos/$CLIP/clip.json")"
    local t0=$SECONDS
    register_binfmt
    build_rootfs
    local t_rootfs=$((SECONDS - t0)) arch
    arch="$(chroot "$ROOTFS" uname -m)"
    [ "$arch" = aarch64 ] || die "the rootfs runs as $arch, not aarch64"

    t0=$SECONDS
    mount_guest
    pip_config
    stage_project
    log "install-pi.sh in the arm64 rootfs (the Raspberry Pi archive is absent: no picamera2)"
    in_guest bash "$GUEST_DIR/edge-counter/scripts/install-pi.sh" \
        --mirror "$GUEST_DIR/mirror" >"$work/install.log" 2>&1 ||
        { cat "$work/install.log" >&2; die "install-pi.sh failed in the arm64 rootfs"; }
    grep -E 'install-pi: (warning|note|python3-picamera2|installed|done)' "$work/install.log" >&2 || true
    local t_install=$((SECONDS - t0))

    t0=$SECONDS
    local m
    for m in "$MODEL" "$MODEL-int8"; do
        log "replay $SECONDS_REPLAYED s at $DETECT_FPS det/s with $m on arm64 (emulated)"
        in_guest /opt/edge-counter/venv/bin/python -m edge.cli replay "$GUEST_DIR/clip.mp4" \
            --model "$m" --models-dir /opt/edge-counter/models --detect-fps "$DETECT_FPS" \
            --line "$LINE" --json --no-progress >"$work/arm64-$m.json"
    done
    log "detections of both models on $PROBE_FRAMES frames on arm64 (emulated)"
    in_guest /opt/edge-counter/venv/bin/python "$GUEST_DIR/probe.py" "$GUEST_DIR/clip.mp4" \
        /opt/edge-counter/models "$GUEST_DIR/out/arm64.npz" "$((25 / DETECT_FPS))" \
        "$PROBE_FRAMES" "$MODEL" "$MODEL-int8"
    cp "$ROOTFS$GUEST_DIR/out/arm64.npz" "$work/arm64.npz"
    local t_arm=$((SECONDS - t0))

    for m in "$MODEL" "$MODEL-int8"; do
        "$PYTHON" -m edge.cli replay "$work/clip.mp4" --model "$m" --models-dir "$MODELS_DIR" \
            --detect-fps "$DETECT_FPS" --line "$LINE" --json --no-progress >"$work/x86-$m.json"
    done
    "$PYTHON" "$work/probe.py" "$work/clip.mp4" "$MODELS_DIR" "$work/x86.npz" \
        "$((25 / DETECT_FPS))" "$PROBE_FRAMES" "$MODEL" "$MODEL-int8"

    local verdict rc
    verdict="$(compare_py | "$PYTHON" - "$work" "$MODEL")" && rc=0 || rc=$?
    printf 'pi-emulated: %s; rootfs %s, install %s, arm64 runs %s, total %s\n' "$verdict" \
        "$(elapsed "$t_rootfs")" "$(elapsed "$t_install")" "$(elapsed "$t_arm")" \
        "$(elapsed $((SECONDS - t_start)))"
    return "$rc"
}

# Counts x86 vs arm64 (tolerance) and detection agreement: arm64 vs x86 FP32, arm64 INT8 vs
# arm64 FP32. Prints the verdict; exits 1 if a figure is outside its bound.
compare_py() {
    cat <<'PY'
import json
import sys
from pathlib import Path

import numpy as np

from edge.tools.model.agreement import CONFIDENT_SCORE, measure_agreement
from edge.tools.model.build import BuildOptions
from edge.config import OnnxDetectorConfig
from edge.types import Detections

work, model = Path(sys.argv[1]), sys.argv[2]
#: One weak box more or less in one frame can add, drop or re-class one crossing: the issue
#: measured exactly that between the x86 and aarch64 OpenCV decoders (pixels 2 levels apart).
#: A class flip moves two per-class counts, hence 2 (sum of per-class differences).
COUNT_TOLERANCE = 2
#: Same model, frames decoded 2 levels apart: boxes move ~0.1 px, a weak one comes or goes.
CROSS_ARCH_AGREEMENT = 0.95
INT8_AGREEMENT = BuildOptions().threshold  # what `model build` requires of an INT8 model


def counts(arch: str, name: str) -> dict[str, int]:
    lines = json.loads((work / f"{arch}-{name}.json").read_text())["lines"]
    out: dict[str, int] = {}
    for dirs in lines.values():
        for per_class in dirs.values():
            for cls, n in per_class.items():
                out[cls] = out.get(cls, 0) + n
    return out


class Cached:
    """Replays the saved detections of one model, frame by frame."""

    def __init__(self, rows: np.ndarray) -> None:
        self.frames = [rows[rows[:, 0] == s] for s in np.unique(rows[:, 0])]
        self.seqs = list(np.unique(rows[:, 0]))

    def detect(self, seq: float) -> Detections:
        r = self.frames[self.seqs.index(seq)] if seq in self.seqs else np.zeros((0, 7))
        return Detections(r[:, 1:5].astype(np.float32), r[:, 5].astype(np.float32),
                          r[:, 6].astype(np.int64))


def agree(ref: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    seqs = sorted(set(ref[:, 0]) | set(test[:, 0]))
    score = OnnxDetectorConfig().score_threshold
    a = measure_agreement(Cached(ref), Cached(test), seqs, (score, CONFIDENT_SCORE))
    return a.recall, a.precision


x86, arm = np.load(work / "x86.npz"), np.load(work / "arm64.npz")
fails, parts = [], []
for name in (model, f"{model}-int8"):
    cx, ca = counts("x86", name), counts("arm64", name)
    diff = sum(abs(cx.get(k, 0) - ca.get(k, 0)) for k in set(cx) | set(ca))
    show = lambda c: " ".join(f"{k}={v}" for k, v in sorted(c.items())) or "none"
    parts.append(f"{name}: x86 {show(cx)} / arm64 {show(ca)} (diff {diff} <= {COUNT_TOLERANCE})")
    if diff > COUNT_TOLERANCE:
        fails.append(f"{name} counts differ by {diff}")
frames = len(set(arm[model][:, 0]))
r, p = agree(x86[model], arm[model])
parts.append(f"FP32 arm64 vs x86 recall {r:.3f} precision {p:.3f} (>= {CROSS_ARCH_AGREEMENT})")
if min(r, p) < CROSS_ARCH_AGREEMENT:
    fails.append("FP32 detections differ between x86 and arm64")
r, p = agree(arm[model], arm[f"{model}-int8"])
rx, px = agree(x86[model], x86[f"{model}-int8"])
parts.append(f"INT8 vs FP32 arm64 recall {r:.3f} precision {p:.3f} (>= {INT8_AGREEMENT}; "
             f"x86 {rx:.3f}/{px:.3f}) on {frames} frames")
if min(r, p) < INT8_AGREEMENT:
    fails.append("INT8 disagrees with FP32 on arm64")
print(("FAIL (" + "; ".join(fails) + "): " if fails else "ok: ") + "; ".join(parts))
sys.exit(1 if fails else 0)
PY
}

# Sourced (tests), it only defines the functions.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then main "$@"; fi
