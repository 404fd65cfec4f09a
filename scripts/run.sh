#!/bin/sh
# run.sh -- what `make run` does after building: a self-signed TLS pair on
# first use, then polyvisord in the foreground on https://127.0.0.1:8443
# with its data in var/.  Ctrl-C stops it cleanly.
set -eu
BUILD=${1:-build}
DATA=${POLYVISOR_DATA:-var}
LISTEN=${POLYVISOR_LISTEN:-127.0.0.1:8443}
mkdir -p "$DATA/tls"
if [ ! -f "$DATA/tls/server.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$DATA/tls/server.key" -out "$DATA/tls/server.crt" 2>/dev/null
    chmod 600 "$DATA/tls/server.key"
    echo "run: made a self-signed certificate in $DATA/tls (trust it or use curl -k)"
fi
echo "run: Polyvisor console and API at https://$LISTEN/ (Ctrl-C stops)"
exec "$BUILD/polyvisord" --listen "$LISTEN" --data-dir "$DATA" \
    --tls-cert "$DATA/tls/server.crt" --tls-key "$DATA/tls/server.key"
