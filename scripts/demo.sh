#!/usr/bin/env bash
# The main job on a fresh machine: set up, then replay a real clip through the whole product
# (detector, tracker, counter, outbox, MQTT over an embedded Mosquitto, collector on SQLite)
# and print the counts. Extra arguments go to `edge-counter demo` (e.g. --keep-running).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec edge-counter demo "$@"
