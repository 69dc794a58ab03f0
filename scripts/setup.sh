#!/usr/bin/env bash
# Set up this machine for the demo or for the tests: system packages, a .venv with the
# project, and the assets. It prints a short summary; every detail goes to build/setup.log
# (on a failure, its last lines are shown).
#   bash scripts/setup.sh demo   # what `edge-counter demo` needs: Mosquitto, the package with
#                                # the collector, the default model and the sample clip
#   bash scripts/setup.sh test   # (the default) everything the tests need as well: Chromium,
#                                # FFmpeg, OpenSSL, the dev tools, every model and clip, and
#                                # the INT8 and 416x256 model builds
# Environment:
#   EDGE_COUNTER_MIRROR  folder with models/ and videos/<clip>/ to copy assets from, used
#                        first; without it the model and the sample clip are downloaded from
#                        their upstream (the other clips, used by the tests, need a mirror)
#   SKIP_APT=1           do not install system packages
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}
case "$mode" in
  demo | test) ;;
  *) echo "usage: bash scripts/setup.sh [demo|test]" >&2; exit 2 ;;
esac

if [ -z "${EDGE_COUNTER_MIRROR:-}" ] && [ -d ../shared/assets ]; then
  export EDGE_COUNTER_MIRROR="$(cd ../shared/assets && pwd)"
fi

mkdir -p build
LOG=build/setup.log
echo "== setup $mode, $(date -u +%FT%TZ)" >>"$LOG"
# Run a step with its output in the log; on failure show the log's tail and stop.
quiet() {
  if ! "$@" >>"$LOG" 2>&1; then
    echo "setup: failed: $*" >&2
    echo "--- last lines of $LOG:" >&2
    tail -n 25 "$LOG" >&2
    exit 1
  fi
}

PY=${PYTHON:-python3}
need_apt=()
"$PY" -c "import ensurepip, venv" >/dev/null 2>&1 || need_apt+=(python3-venv)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
if [ "$mode" = test ]; then
  command -v mosquitto_passwd >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
  command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
  command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
  command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)  # alert rule unit tests
fi
if [ ${#need_apt[@]} -gt 0 ] && [ -z "${SKIP_APT:-}" ]; then
  echo "setup: installing system packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  quiet $SUDO apt-get update -qq
  quiet $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${need_apt[@]}"
fi

extras=collector
[ "$mode" = test ] && extras=dev
[ -x .venv/bin/python ] || quiet "$PY" -m venv .venv
. .venv/bin/activate
pip_quiet=(--quiet --disable-pip-version-check --no-input --root-user-action=ignore)
quiet python -m pip install "${pip_quiet[@]}" --upgrade pip
quiet python -m pip install "${pip_quiet[@]}" -e ".[$extras]"
echo "setup: .venv ready with edge-counter[$extras] (activate: . .venv/bin/activate)"

# Assets: each file's sha256 is checked; say what was done, not every file.
fetch_args=()
[ "$mode" = demo ] && fetch_args+=(--for demo)
[ -n "${EDGE_COUNTER_MIRROR:-}" ] && fetch_args+=(--mirror "$EDGE_COUNTER_MIRROR")
if ! fetched=$(edge-counter assets fetch "${fetch_args[@]}" 2>&1); then
  echo "$fetched" >>"$LOG"
  echo "setup: assets: ${fetched##*error: }" >&2
  exit 1
fi
echo "$fetched" >>"$LOG"
echo "$fetched" | awk '
  { n[$1]++; total++ }
  END {
    printf "setup: %d asset files in place, sha256 checked (", total
    sep = ""
    for (a in n) { printf "%s%d %s", sep, n[a], a; sep = ", " }
    print ")"
  }'

if [ "$mode" = test ]; then
  # The INT8 detectors are built here, never downloaded (about a minute each on two cores).
  for name in yolox-nano nanodet-m; do
    if [ ! -f "models/$name-int8.onnx" ] || [ ! -f "models/$name-int8.json" ]; then
      echo "setup: building models/$name-int8.onnx (a minute or two)"
      quiet edge-counter model build "$name"
    fi
  done
  # YOLOX-Nano with a 416x256 input: the same model without letterbox padding on 16:9 cameras.
  if [ ! -f models/yolox-nano-416x256.onnx ] || [ ! -f models/yolox-nano-416x256.json ]; then
    echo "setup: building models/yolox-nano-416x256.onnx"
    quiet edge-counter model resize yolox-nano 416x256
  fi
fi
echo "setup: done ($mode; details in $LOG)"
