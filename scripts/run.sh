#!/bin/sh
# run.sh -- what `make run` does after building: polyvisord on
# https://127.0.0.1:8443 with its data in var/, and a local polyvisor-agent
# registered as a KVM connection -- on qemu:///system when libvirt answers
# there and /dev/kvm exists, otherwise on libvirt's test driver with the demo
# host in hypervisor/demo-host.xml.  It says which.  Ctrl-C stops both.
set -eu
BUILD=${1:-build}
ROOT=$(pwd)
DATA=${POLYVISOR_DATA:-var}
LISTEN=${POLYVISOR_LISTEN:-127.0.0.1:8443}
AGENT_LISTEN=${POLYVISOR_AGENT_LISTEN:-127.0.0.1:8441}
mkdir -p "$DATA/tls"
umask 077
if [ ! -f "$DATA/tls/server.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=localhost" \
        -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
        -keyout "$DATA/tls/server.key" -out "$DATA/tls/server.crt" 2>/dev/null
    echo "run: made a self-signed certificate in $DATA/tls (trust it or use curl -k)"
fi
[ -f "$DATA/agent.token" ] || openssl rand -hex 32 > "$DATA/agent.token"
if [ -z "${POLYVISOR_ADMIN_PASSWORD:-}" ]; then
    [ -f "$DATA/admin-password" ] || openssl rand -hex 12 > "$DATA/admin-password"
    POLYVISOR_ADMIN_PASSWORD=$(cat "$DATA/admin-password")
    echo "run: the admin password is in $DATA/admin-password (set POLYVISOR_ADMIN_PASSWORD to choose it)"
fi
export POLYVISOR_ADMIN_PASSWORD

set -- # the agent's optional arguments
if [ -e /dev/kvm ] && virsh -c qemu:///system version >/dev/null 2>&1; then
    URI=qemu:///system
    # the pool a disk without one lands in, if the host has no "default"
    # (qemu reads the images: the directory is not private like the rest)
    mkdir -p "$DATA/pool" && chmod 711 "$DATA/pool"
    set -- --default-pool "$(cd "$DATA/pool" && pwd)"
    echo "run: local agent on qemu:///system (KVM); a host without a storage pool 'default' gets one in $DATA/pool"
else
    URI="test://$ROOT/hypervisor/demo-host.xml"
    echo "run: local agent on libvirt's test driver (no usable qemu:///system or /dev/kvm here)"
fi

AGENT_PID= PV_PID=
stop() {
    [ -n "$PV_PID" ] && kill "$PV_PID" 2>/dev/null || true
    [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop EXIT INT TERM
"$BUILD/polyvisor-agent" --listen "$AGENT_LISTEN" --libvirt-uri "$URI" \
    --token-file "$DATA/agent.token" --state-dir "$DATA/agent-state" "$@" &
AGENT_PID=$!
"$BUILD/polyvisord" --listen "$LISTEN" --data-dir "$DATA" \
    --tls-cert "$DATA/tls/server.crt" --tls-key "$DATA/tls/server.key" &
PV_PID=$!

# Register the agent once polyvisord answers (a 409 means it already is).
BASE="https://$LISTEN"
for _ in $(seq 1 100); do
    curl -sk "$BASE/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
TOKEN=$(curl -sk "$BASE/api/v1/auth/login" -H "Content-Type: application/json" \
    -d "{\"username\":\"admin\",\"password\":\"$POLYVISOR_ADMIN_PASSWORD\"}" |
    sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
if [ -n "$TOKEN" ]; then
    CODE=$(curl -sk -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        "$BASE/api/v1/connections" \
        -d "{\"type\":\"kvm\",\"url\":\"http://$AGENT_LISTEN\",\"token\":\"$(cat "$DATA/agent.token")\",\"name\":\"local agent\"}")
    case "$CODE" in
    202) echo "run: registered the local agent as a kvm connection" ;;
    409) echo "run: the local agent is registered already" ;;
    *) echo "run: registering the local agent answered HTTP $CODE" ;;
    esac
else
    echo "run: could not sign in to register the local agent (was var/ made with another password?)"
fi
echo "run: Polyvisor console and API at $BASE/ (Ctrl-C stops)"
wait "$PV_PID"
