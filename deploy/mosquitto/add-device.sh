#!/usr/bin/env bash
# Add (or reset) a device's MQTT credentials on the broker: username = device id.
#
#   sudo deploy/mosquitto/add-device.sh DEVICE_ID            a device (must match the ACL)
#   sudo deploy/mosquitto/add-device.sh --service collector  a service user named in the ACL
#
# A random password is added to the password file (mosquitto_passwd) and written, alone, to
# OUT_DIR/<name>.mqtt-password (mode 0600) for you to copy to the device's
# /etc/edge-counter/mqtt-password (scripts/install-pi.sh --mqtt-password-file FILE does it).
# Then `systemctl reload mosquitto` (the broker rereads its password and ACL files on SIGHUP).
#
# Environment: EDGE_MQTT_PASSWD (default /etc/mosquitto/edge/passwd), EDGE_MQTT_OUT_DIR
# (default the current directory), EDGE_MQTT_PASSWORD (use this password instead of a new one).
set -euo pipefail

PASSWD="${EDGE_MQTT_PASSWD:-/etc/mosquitto/edge/passwd}"
OUT_DIR="${EDGE_MQTT_OUT_DIR:-.}"
# Service users granted by name in deploy/mosquitto/acl; a device may not take one of them.
SERVICES="collector edge-admin homeassistant"

die() { printf 'add-device: error: %s\n' "$*" >&2; exit 2; }

service=0
if [ "${1:-}" = "--service" ]; then service=1; shift; fi
[ $# -eq 1 ] || { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
name="$1"

# The topic grammar's name pattern (edge/wire/topics.py): no '/', '+', '#' or spaces.
[[ "$name" =~ ^[A-Za-z0-9_.-]{1,64}$ ]] || die "'$name' is not a device id ([A-Za-z0-9_.-], 1..64)"
is_service=0
for s in $SERVICES; do [ "$name" = "$s" ] && is_service=1; done
if [ "$service" -eq 1 ] && [ "$is_service" -eq 0 ]; then
    die "'$name' is not a service user of the ACL ($SERVICES)"
fi
if [ "$service" -eq 0 ] && [ "$is_service" -eq 1 ]; then
    die "'$name' is a service user, not a device id: use --service $name"
fi
command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd not found: apt-get install mosquitto"

password="${EDGE_MQTT_PASSWORD:-}"
if [ -z "$password" ]; then
    command -v openssl >/dev/null || die "openssl not found"
    password="$(openssl rand -base64 33 | tr -d '\n/+=')"
fi

umask 077
if [ ! -f "$PASSWD" ]; then
    install -d -m 0750 "$(dirname "$PASSWD")"
    : >"$PASSWD"
fi
mosquitto_passwd -b "$PASSWD" "$name" "$password"
# The broker runs as "mosquitto": let it read the file, nobody else.
if getent group mosquitto >/dev/null && [ "$(id -u)" -eq 0 ]; then
    chgrp mosquitto "$PASSWD" && chmod 0640 "$PASSWD"
fi

install -d -m 0700 "$OUT_DIR"
out="$OUT_DIR/$name.mqtt-password"
printf '%s\n' "$password" >"$out"
chmod 0600 "$out"
printf 'add-device: %s added to %s; its password is in %s\n' "$name" "$PASSWD" "$out" >&2
printf 'add-device: next: systemctl reload mosquitto; copy %s to the device\n' "$out" >&2
