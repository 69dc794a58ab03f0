#!/usr/bin/env bash
# Set up a development machine: system packages, a venv with the project, and the assets.
#   bash scripts/setup.sh            # everything (tests and demo)
# Environment:
#   EDGE_COUNTER_MIRROR  folder with models/ and videos/ to copy assets from (else models are
#                        downloaded from their upstream URLs; clips come only from a mirror).
#   SKIP_APT=1           do not install system packages.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${EDGE_COUNTER_MIRROR:-}" ] && [ -d ../shared/assets ]; then
  export EDGE_COUNTER_MIRROR="$(cd ../shared/assets && pwd)"
fi

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v mosquitto_passwd >/dev/null 2>&1 || need_apt+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
if [ ${#need_apt[@]} -gt 0 ] && [ -z "${SKIP_APT:-}" ]; then
  echo "setup: installing system packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[dev]"

edge-counter assets fetch ${EDGE_COUNTER_MIRROR:+--mirror "$EDGE_COUNTER_MIRROR"}

# The INT8 detectors are built here, never downloaded (about a minute each on two cores).
for name in yolox-nano nanodet-m; do
  if [ ! -f "models/$name-int8.onnx" ] || [ ! -f "models/$name-int8.json" ]; then
    edge-counter model build "$name"
  fi
done
# YOLOX-Nano with a 416x256 input: the same model without letterbox padding on 16:9 cameras.
if [ ! -f models/yolox-nano-416x256.onnx ] || [ ! -f models/yolox-nano-416x256.json ]; then
  edge-counter model resize yolox-nano 416x256
fi
echo "setup: done (activate with: . .venv/bin/activate)"
