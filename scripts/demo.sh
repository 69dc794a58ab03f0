#!/usr/bin/env bash
# The main job on a fresh machine: set up what the demo needs (scripts/setup.sh demo: Mosquitto,
# the package with the collector, the default model and the sample clip), then replay the clip
# through the whole product (detector, tracker, counter, outbox, MQTT over an embedded
# Mosquitto, collector on SQLite) and print the counts; the dashboard stays up until Ctrl-C.
# Extra arguments go to `edge-counter demo` (e.g. --exit, or --video FILE --line NAME:AX,AY,BX,BY).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
. .venv/bin/activate
exec edge-counter demo "$@"
