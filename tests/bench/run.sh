#!/bin/sh
# run.sh BUILD -- the benchmarks of `make bench`: an inventory of 10,000
# hosts and 100,000 VMs; start-up time; GET one VM under wrk (keep-alive)
# against nginx serving the same JSON bytes as a static file, on the same
# machine in the same run; listing all 100,000 VMs page by page; RSS.
# Results: build/bench/results.md (and stdout).  Everything listens on
# 127.0.0.1 and is stopped by PID at the end.
#
# BENCH_ONLY=get runs only the GET one VM comparison (inventory, daemon,
# nginx, wrk) and prints its rows: the figure to watch while changing the
# request path, without the ten minutes of the rest.
#
# Each polyvisord this script starts gets a port of its own, and stop_pv
# waits for the previous one's exit by its PID before anything else starts:
# the monitoring step once started a second daemon on the port the first one
# still held (listen_failed), and `make bench` ended there.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
OUT="$BUILD/bench"
HOSTS=${BENCH_HOSTS:-10000}
VMS=${BENCH_VMS:-100000}
DURATION=${BENCH_DURATION:-10}
CONNS=${BENCH_CONNECTIONS:-32}
ONLY=${BENCH_ONLY:-}
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$OUT" && mkdir -p "$OUT/data" "$OUT/www" "$OUT/nginx"
PV_PID='' NG_PID='' PV_PORT='' NG_PORT=''
free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# wait_up PID URL [SECONDS [T0]]: prints the seconds from T0 (a `date
# +%s.%N`; default now) until URL answers; fails as soon as process PID has
# exited (a zombie counts as exited) or after SECONDS (60)
wait_up() {
    $PY - "$1" "$2" "${3:-60}" "${4:-}" <<'PYEOF'
import sys, time, urllib.request
pid, url, limit = sys.argv[1], sys.argv[2], float(sys.argv[3])
t0 = float(sys.argv[4]) if sys.argv[4] else time.time()
def alive():
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
while time.time() - t0 < limit:
    try:
        urllib.request.urlopen(url, timeout=1)
        print("%.3f" % (time.time() - t0))
        sys.exit(0)
    except Exception:
        if not alive():
            sys.exit("bench: process %s exited before %s answered" % (pid, url))
        time.sleep(0.005)
sys.exit("bench: %s did not answer in %.0f s" % (url, limit))
PYEOF
}

# stop PID: ends a process started here and waits for its exit, so the port
# it held is free again when this returns
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
stop_pv() { [ -z "$PV_PID" ] || stop "$PV_PID"; PV_PID=; }
stop_ng() { [ -z "$NG_PID" ] || stop "$NG_PID"; NG_PID=; }
cleanup() { stop_pv; stop_ng; }
trap cleanup EXIT
trap 'exit 130' INT TERM
export POLYVISOR_ADMIN_PASSWORD=bench-password

start_pv() { # start_pv DATA_DIR: polyvisord on a port of its own, up; sets PV_PID, PV_PORT, START_S
    stop_pv
    PV_PORT=$(free_port)
    T0=$(date +%s.%N)
    "$BUILD/polyvisord" --listen "127.0.0.1:$PV_PORT" --data-dir "$1" \
        --adapter-dir "$OUT/no-adapters" --log-level warn 2>>"$OUT/polyvisord.log" </dev/null >/dev/null &
    PV_PID=$!
    if ! START_S=$(wait_up "$PV_PID" "http://127.0.0.1:$PV_PORT/healthz" 60 "$T0"); then
        tail -5 "$OUT/polyvisord.log" >&2
        exit 1
    fi
}

echo "bench: schema"; start_pv "$OUT/data"; stop_pv
echo "bench: generating $HOSTS hosts, $VMS VMs"
$PY "$HERE/gen.py" "$OUT/data/polyvisor.db" "$HOSTS" "$VMS"
start_pv "$OUT/data"
echo "bench: start-up with that inventory: ${START_S}s"

TOKEN=$(curl -s "http://127.0.0.1:$PV_PORT/api/v1/auth/login" -H "Content-Type: application/json" \
    -d '{"username":"admin","password":"bench-password"}' | $PY -c 'import json,sys;print(json.load(sys.stdin)["token"])')
VM_ID=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PV_PORT/api/v1/vms?limit=1&filter=name%20eq%20'vm$(printf %06d $((VMS / 2)))'" |
    $PY -c 'import json,sys;print(json.load(sys.stdin)["items"][0]["id"])')
curl -s -o "$OUT/www/vm.json" -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PV_PORT/api/v1/vms/$VM_ID"

NG_PORT=$(free_port)
cat > "$OUT/nginx/nginx.conf" <<NGEOF
worker_processes 2;
pid $OUT/nginx/nginx.pid;
error_log $OUT/nginx/error.log;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $OUT/nginx; proxy_temp_path $OUT/nginx; fastcgi_temp_path $OUT/nginx;
    uwsgi_temp_path $OUT/nginx; scgi_temp_path $OUT/nginx;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NG_PORT;
        location / { root $OUT/www; default_type application/json; }
    }
}
NGEOF
/usr/sbin/nginx -c "$OUT/nginx/nginx.conf" -p "$OUT/nginx" &
NG_PID=$!
wait_up "$NG_PID" "http://127.0.0.1:$NG_PORT/vm.json" 10 >/dev/null

run_wrk() { # URL -> wrk output file
    wrk -t2 -c"$CONNS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$1" >"$2"
}
echo "bench: wrk against polyvisord (GET /api/v1/vms/{id})"
run_wrk "http://127.0.0.1:$PV_PORT/api/v1/vms/$VM_ID" "$OUT/wrk-polyvisord.txt"
echo "bench: wrk against nginx (the same bytes as a static file)"
run_wrk "http://127.0.0.1:$NG_PORT/vm.json" "$OUT/wrk-nginx.txt"
stop_ng

LIST_S='' RATE_MS='' RSS_MB='' HWM_MB=''
if [ "$ONLY" != get ]; then
echo "bench: listing all VMs"
LIST_S=$($PY - "$PV_PORT" "$TOKEN" "$VMS" <<'PYEOF'
# Timed: fetching every page (the cursor is read from the end of each body);
# then, untimed, every page is parsed to check there were no duplicates or gaps.
import http.client, json, sys, time, urllib.parse
port, token, want = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port)
bodies, cursor = [], None
t0 = time.time()
while True:
    q = "/api/v1/vms?limit=1000" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
    c.request("GET", q, headers={"Authorization": "Bearer " + token})
    body = c.getresponse().read()
    bodies.append(body)
    tail = body[body.rfind(b'"next_cursor":') + 14:-1]
    if tail == b"null":
        break
    cursor = tail.strip(b'"').decode()
el = time.time() - t0
seen = set()
for b in bodies:
    seen.update(it["id"] for it in json.loads(b)["items"])
assert len(seen) == want == sum(len(json.loads(b)["items"]) for b in bodies), (len(seen), want)
print("%.3f" % el)
PYEOF
)
echo "bench: placement ratings through the API (snapshot of the whole inventory per request)"
RATE_MS=$($PY - "$PV_PORT" "$TOKEN" <<'PYEOF'
import http.client, json, statistics, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
hdr = {"Authorization": "Bearer " + sys.argv[2], "Content-Type": "application/json"}
body = json.dumps({"vm": {"vcpus": 2, "memory_mb": 4096}, "limit": 10})
times = []
for _ in range(10):
    t0 = time.time()
    c.request("POST", "/api/v1/placement/ratings", body, hdr)
    r = c.getresponse(); out = json.loads(r.read())
    times.append(time.time() - t0)
    assert r.status == 200 and out["chosen_host_id"] and out["hosts_rated"] > 0, out
print("%.1f" % (1000 * statistics.median(times)))
PYEOF
)
echo "bench: POST /placement/ratings median ${RATE_MS} ms"
RSS_MB=$(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$PV_PID/status)
HWM_MB=$(awk '/VmHWM/ {printf "%.0f", $2/1024}' /proc/$PV_PID/status)
fi
stop_pv

$PY - "$OUT" "$START_S" "$LIST_S" "$RSS_MB" "$HWM_MB" "$HOSTS" "$VMS" "$CONNS" "$DURATION" <<'PYEOF' | tee "$OUT/results.md"
import re, sys
out, start, lst, rss, hwm, hosts, vms, conns, dur = sys.argv[1:]
def parse(path):
    t = open(path).read()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", t).group(1))
    def ms(label):
        m = re.search(r"\s%s%%\s+([\d.]+)(us|ms|s)" % label, t)
        v, u = float(m.group(1)), m.group(2)
        return v / 1000 if u == "us" else v * 1000 if u == "s" else v
    return rps, ms("50"), ms("99")
pv, ng = parse(out + "/wrk-polyvisord.txt"), parse(out + "/wrk-nginx.txt")
print("| measure (%s hosts, %s VMs; wrk -t2 -c%s -d%ss, keep-alive) | polyvisord | nginx | ratio | aim |" % (hosts, vms, conns, dur))
print("|---|---|---|---|---|")
print("| GET one VM, requests/s | %.0f | %.0f | %.0f%% | >= 50%% |" % (pv[0], ng[0], 100 * pv[0] / ng[0]))
print("| GET one VM, p50 | %.2f ms | %.2f ms | | |" % (pv[1], ng[1]))
print("| GET one VM, p99 | %.2f ms | %.2f ms | %.2fx | <= 5 ms |" % (pv[2], ng[2], pv[2] / ng[2]))
if not lst:  # BENCH_ONLY=get
    sys.exit(0)
print("| list all %s VMs (1,000 a page) | %s s | | | <= 1 s |" % (vms, lst))
print("| RSS after the runs (peak) | %s MiB (%s MiB) | | | <= 1 GiB |" % (rss, hwm))
print("| start-up with that inventory | %s s | | | <= 3 s |" % start)
PYEOF

[ "$ONLY" = get ] && exit 0

echo "| POST /placement/ratings, $HOSTS hosts / $VMS VMs loaded per request, best 10 explained (median of 10) | $RATE_MS ms | | | |" | tee -a "$OUT/results.md"

echo "bench: placement engine (in-process, synthetic inventories)"
"$BUILD/tests/bench_placement" 10000 10000 | tee "$OUT/placement.md"

echo "bench: monitoring ingest (125,000 VMs, about 100,000 of them active)"
mkdir -p "$OUT/metrics"
start_pv "$OUT/metrics"; stop_pv     # the schema, made by the daemon
$PY "$HERE/gen.py" "$OUT/metrics/polyvisor.db" "$HOSTS" 125000
"$BUILD/tests/bench_metrics" "$OUT/metrics/polyvisor.db" 10 | tee "$OUT/metrics.md"

echo "bench: Hyper-V full sync against the simulator (10, 100, 1,000 VMs)"
$PY "$HERE/hyperv_bench.py" "$BUILD" "$OUT" | tee "$OUT/hyperv.md" || true

echo "bench: HA restart of 100 VMs (two agents on libvirt's test driver)"
$PY "$HERE/ha_bench.py" "$BUILD" "$OUT" | tee "$OUT/ha.md" || true

echo "bench: vCenter sync against a govmomi reference client (vcsim, 128 hosts / 4,000 VMs)"
$PY "$HERE/vcenter_bench.py" "$BUILD" "$OUT" | tee "$OUT/vcenter.md" || true

echo "bench: KVM operations against virsh"
$PY "$HERE/kvm_bench.py" "$BUILD" "$OUT"

echo "bench: a storage move of a 1 GiB qcow2 through the API against virsh blockcopy (two-host rig)"
$PY "$HERE/storage_move_bench.py" "$BUILD" "$OUT" | tee "$OUT/storage-move-run.md" || true
