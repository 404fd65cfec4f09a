#!/bin/sh
# vcsim.sh -- VMware's vCenter simulator for the integration tests, built from
# Debian's golang-go and golang-github-vmware-govmomi-dev (PEERS.md).
#   build BUILD_DIR            build BUILD_DIR/peers/vcsim and BUILD_DIR/peers/vcq
#                              (tests/peers/vcsim/, tests/peers/vcsim/vcq/) with
#                              Debian's GOPATH, no network, no modules
#   start BUILD_DIR STATE_DIR [vcsim flags...]
#                              start one simulator in the background: its PID in
#                              STATE_DIR/vcsim.pid, its stdout line (the URL and
#                              the certificate's path, as JSON) in
#                              STATE_DIR/vcsim.json once it listens, its log in
#                              STATE_DIR/vcsim.log; prints that JSON line.
#                              Waits up to VCSIM_START_SECONDS (60) for it: a
#                              large inventory (the benchmark's) takes a while
#   stop PIDFILE               end the simulator of that PID file
# Several simulators (several vCenters) run side by side with their own
# STATE_DIRs.  Everything listens on 127.0.0.1 only.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cmd=${1:-}

case "$cmd" in
build)
    out=$2
    command -v go >/dev/null 2>&1 || { echo "vcsim: go is missing (make deps)" >&2; exit 1; }
    [ -d /usr/share/gocode/src/github.com/vmware/govmomi/simulator ] ||
        { echo "vcsim: govmomi is missing (make deps)" >&2; exit 1; }
    mkdir -p "$out/peers" "$out/gocache"
    out=$(cd "$out" && pwd)
    cd "$here/vcsim"
    GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/gocache" GOFLAGS= \
        go build -o "$out/peers/vcsim" .
    cd vcq
    GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$out/gocache" GOFLAGS= \
        go build -o "$out/peers/vcq" .
    ;;
start)
    bin=$2/peers/vcsim
    state=$3
    shift 3
    mkdir -p "$state"
    rm -f "$state/vcsim.json"
    "$bin" -cert "$state/cert.pem" "$@" >"$state/vcsim.json.tmp" 2>"$state/vcsim.log" &
    echo $! >"$state/vcsim.pid"
    for _ in $(seq 1 $((${VCSIM_START_SECONDS:-60} * 20))); do
        if [ -s "$state/vcsim.json.tmp" ]; then
            mv "$state/vcsim.json.tmp" "$state/vcsim.json"
            cat "$state/vcsim.json"
            exit 0
        fi
        kill -0 "$(cat "$state/vcsim.pid")" 2>/dev/null || break
        sleep 0.05
    done
    echo "vcsim: did not start: $(tail -5 "$state/vcsim.log")" >&2
    kill "$(cat "$state/vcsim.pid")" 2>/dev/null || true
    exit 1
    ;;
stop)
    pidfile=$2
    if [ -f "$pidfile" ]; then
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null || true
        rm -f "$pidfile"
    fi
    ;;
*)
    echo "usage: vcsim.sh build BUILD_DIR | start BUILD_DIR STATE_DIR [flags] | stop PIDFILE" >&2
    exit 2
    ;;
esac
