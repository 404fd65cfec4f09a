#!/bin/sh
# callgrind_get.sh BUILD [N] -- instructions polyvisord executes per
# GET /api/v1/vms/{id}, counted by valgrind's callgrind: a figure that does
# not move with the machine's load, unlike wrk's requests per second (two
# cores shared with other work here).  The daemon runs twice under callgrind
# on the same synthetic inventory (1,000 hosts, 10,000 VMs): once answering
# N requests, once 2N, over one keep-alive connection; the difference of the
# two totals divided by N is the cost of one request, without start-up and
# shut-down.  Only the threads that served HTTP are counted (callgrind's
# --separate-threads): the daemon's periodic threads do work by the clock,
# and a slower run would count more of it.  Note that valgrind counts each
# byte of a `rep stosb` (glibc's memset of large blocks) as an instruction,
# so memset weighs far more here than in time.  Prints
# "instructions/request: X"; the profiles of the longer run stay in
# BUILD/bench-cg/ for callgrind_annotate.  Listens on 127.0.0.1 only; stops
# its daemons by PID.
set -eu
BUILD=$(cd "${1:-build}" && pwd)
N=${2:-2000}
OUT="$BUILD/bench-cg"
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$OUT" && mkdir -p "$OUT/data"
export POLYVISOR_ADMIN_PASSWORD=bench-password
PID=''
cleanup() { [ -z "$PID" ] || { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; } || true; }
trap cleanup EXIT

port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# run COUNT: one daemon under callgrind, COUNT requests, its total Ir printed
run() {
    P=$(port)
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$OUT/cg.$1.out" \
        "$BUILD/polyvisord" --listen "127.0.0.1:$P" --data-dir "$OUT/data" \
        --adapter-dir "$OUT/none" --log-level warn >/dev/null 2>"$OUT/valgrind.$1.log" </dev/null &
    PID=$!
    $PY - "$P" "$1" <<'PYEOF'
import http.client, json, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
for _ in range(600):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/healthz"); c.getresponse().read()
        break
    except OSError:
        time.sleep(0.1)
c.request("POST", "/api/v1/auth/login", json.dumps({"username": "admin", "password": "bench-password"}),
          {"Content-Type": "application/json"})
tok = json.loads(c.getresponse().read())["token"]
h = {"Authorization": "Bearer " + tok}
c.request("GET", "/api/v1/vms?limit=1&filter=name%20eq%20'vm005000'", headers=h)
vm = json.loads(c.getresponse().read())["items"][0]["id"]
for _ in range(count):
    c.request("GET", "/api/v1/vms/" + vm, headers=h)
    r = c.getresponse(); r.read()
    assert r.status == 200, r.status
PYEOF
    kill -INT "$PID"; wait "$PID" || true; PID=
    # the threads that ran a request: their totals, summed
    grep -l 'on_request' "$OUT"/cg."$1".out-* | xargs awk '/^summary:/ {s += $2} END {print s}'
}

valgrind --version >/dev/null
P=$(port)   # the schema, made by the daemon
"$BUILD/polyvisord" --listen "127.0.0.1:$P" --data-dir "$OUT/data" --adapter-dir "$OUT/none" \
    --log-level warn >/dev/null 2>&1 </dev/null &
PID=$!
for _ in $(seq 300); do curl -sf "http://127.0.0.1:$P/healthz" >/dev/null && break; sleep 0.1; done
kill "$PID"; wait "$PID" || true; PID=
$PY "$HERE/gen.py" "$OUT/data/polyvisor.db" 1000 10000
A=$(run "$N")
B=$(run $((2 * N)))
echo "instructions/request: $(( (B - A) / N ))  (runs of $N and $((2 * N)) requests: $A, $B)"
