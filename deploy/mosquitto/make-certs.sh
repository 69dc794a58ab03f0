#!/usr/bin/env bash
# Make a private CA and the broker's TLS certificate (EC P-256) for deploy/mosquitto.
#
#   deploy/mosquitto/make-certs.sh BROKER_NAME [DIR]     DIR defaults to /etc/mosquitto/certs
#
# BROKER_NAME is what devices put in mqtt.url (mqtts://BROKER_NAME:8883): a DNS name or an IP
# address; it goes into the certificate's subjectAltName, which clients check. Writes
# ca.crt (give it to every device as /etc/edge-counter/ca.pem and to the collector),
# ca.key (keep it offline: it signs certificates), server.crt and server.key (the broker's).
# An existing CA is reused, so rerunning it renews the server certificate only.
# Environment: EDGE_CERT_DAYS (default 825, the server certificate; the CA gets 3650).
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
name="$1"
dir="${2:-/etc/mosquitto/certs}"
days="${EDGE_CERT_DAYS:-825}"
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)

if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then san="IP:$name"; else san="DNS:$name"; fi

umask 077
install -d -m 0750 "$dir"
if [ ! -f "$dir/ca.crt" ]; then
    openssl req -x509 "${ec[@]}" -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 3650 \
        -subj "/CN=edge-counter broker CA" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
fi
openssl req "${ec[@]}" -keyout "$dir/server.key" -out "$dir/server.csr" -subj "/CN=$name"
ext="$(mktemp)"
trap 'rm -f "$ext"' EXIT
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >"$ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAcreateserial -out "$dir/server.crt" -days "$days" -extfile "$ext"
rm -f "$dir/server.csr"
chmod 0644 "$dir/ca.crt" "$dir/server.crt"
# The broker (user mosquitto) must read its key; nobody else.
if getent group mosquitto >/dev/null && [ "$(id -u)" -eq 0 ]; then
    chgrp mosquitto "$dir" "$dir/server.key" && chmod 0640 "$dir/server.key"
fi
printf 'make-certs: %s/server.crt for %s, signed by %s/ca.crt\n' "$dir" "$san" "$dir" >&2
