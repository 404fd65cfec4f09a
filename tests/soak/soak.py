#!/usr/bin/python3
"""soak.py BUILD -- make soak: a bounded load test of a real polyvisord and a
real host agent (libvirt's test driver), everything on 127.0.0.1.

For SOAK_SECONDS (default 60) SOAK_CONNECTIONS (default 256) keep-alive
connections mix reads (VM, host, job lists, one VM, /summary), writes
(host groups made and removed, PATCH of a VM's tags) and job submissions
(VM start / poweroff on the agent's host), while a few event streams stay
open and slow and idle clients hold sockets.  Every loop ends by itself at
the deadline.  It reports requests, errors (must be 0 for well-formed
requests), p50/p99 latency, the daemon's RSS and open descriptors before and
after, and prints a Markdown table for docs/performance.md.  Exit 1 when a
well-formed request failed or RSS grew more than SOAK_RSS_GROWTH_MB (64).
"""
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration"))
from conftest import free_port, rss_kb  # noqa: E402  the test suite's helpers

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECONDS = float(os.environ.get("SOAK_SECONDS", "60"))
CONNS = int(os.environ.get("SOAK_CONNECTIONS", "256"))
GROWTH_MB = float(os.environ.get("SOAK_RSS_GROWTH_MB", "64"))
PASSWORD = "soak-password-123"
TOKEN = "soak-agent-token-0123456789abcdef"


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def wait_up(port, path):
    end = time.time() + 30
    while time.time() < end:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", path)
            c.getresponse().read()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing answers on port %d" % port)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.lat = []
        self.errors = []
        self.by_kind = {}

    def add(self, kind, ms, ok, what=""):
        with self.lock:
            self.lat.append(ms)
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            if not ok and len(self.errors) < 50:
                self.errors.append(what)
            elif not ok:
                self.errors.append("")


def worker(i, port, token, vm_ids, deadline, st):
    rnd = random.Random(i)
    hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    mine = []
    while time.time() < deadline:
        r = rnd.random()
        if r < 0.55:
            kind, method, path, body = "read", "GET", rnd.choice(
                ["/api/v1/vms?limit=50", "/api/v1/hosts", "/api/v1/jobs?limit=20", "/api/v1/summary",
                 "/api/v1/vms/" + rnd.choice(vm_ids)]), None
        elif r < 0.75:
            name = "soak-%d-%d" % (i, len(mine))
            kind, method, path, body = "write", "POST", "/api/v1/host-groups", {"name": name}
        elif r < 0.85 and mine:
            kind, method, path, body = "write", "DELETE", "/api/v1/host-groups/" + mine.pop(), None
        elif r < 0.93:
            kind, method, path, body = "write", "PATCH", "/api/v1/vms/" + rnd.choice(vm_ids), \
                {"tags": ["soak", "w%d" % i]}
        else:
            kind, method, path = "job", "POST", "/api/v1/vms/%s/%s" % (
                rnd.choice(vm_ids), rnd.choice(["start", "poweroff"]))
            body = None
        t0 = time.perf_counter()
        try:
            c.request(method, path, body=json.dumps(body) if body is not None else None, headers=hdr)
            resp = c.getresponse()
            data = resp.read()
            ms = (time.perf_counter() - t0) * 1000
            # a job may be refused by the VM's state (409), which is no error
            ok = resp.status < 400 or (kind == "job" and resp.status == 409)
            st.add(kind, ms, ok, "%s %s -> %d %s" % (method, path, resp.status, data[:120]))
            if ok and method == "POST" and path == "/api/v1/host-groups":
                mine.append(json.loads(data)["id"])
        except (OSError, http.client.HTTPException) as e:
            st.add(kind, (time.perf_counter() - t0) * 1000, False, "%s %s: %r" % (method, path, e))
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.close()


def streamer(port, token, deadline, counts):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(("GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
               % token).encode())
    s.settimeout(1)
    n = 0
    while time.time() < deadline:
        try:
            n += s.recv(65536).count(b"\n\n")
        except socket.timeout:
            continue
        except OSError:
            break
    s.close()
    counts.append(n)


def slow_client(port, deadline):
    """Headers one byte a second; and an idle socket beside it."""
    idle = socket.create_connection(("127.0.0.1", port), timeout=5)
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    req = b"GET /api/v1/vms HTTP/1.1\r\nHost: x\r\n"
    i = 0
    while time.time() < deadline:
        try:
            s.sendall(req[i % len(req):i % len(req) + 1])
        except OSError:
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
        i += 1
        time.sleep(1)
    s.close()
    idle.close()


def main():
    tmp = tempfile.mkdtemp(prefix="pv-soak-")
    aport, dport = free_port(), free_port()
    tok = os.path.join(tmp, "token")
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")
    procs = []
    try:
        procs.append(subprocess.Popen(
            [os.path.join(BUILD, "polyvisor-agent"), "--listen", "127.0.0.1:%d" % aport,
             "--libvirt-uri", "test://" + os.path.join(ROOT, "hypervisor", "demo-host.xml"),
             "--token-file", tok, "--state-dir", os.path.join(tmp, "agent")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(subprocess.Popen(
            [os.path.join(BUILD, "polyvisord"), "--listen", "127.0.0.1:%d" % dport,
             "--data-dir", os.path.join(tmp, "data"), "--log-level", "warn",
             "--adapter-dir", os.path.join(BUILD, "adapters")],
            env=dict(os.environ, POLYVISOR_ADMIN_PASSWORD=PASSWORD),
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "polyvisord.log"), "w")))
        pid = procs[1].pid
        wait_up(aport, "/v1/host")
        wait_up(dport, "/healthz")
        c = http.client.HTTPConnection("127.0.0.1", dport, timeout=30)
        c.request("POST", "/api/v1/auth/login", json.dumps({"username": "admin", "password": PASSWORD}),
                  {"Content-Type": "application/json"})
        token = json.loads(c.getresponse().read())["token"]
        hdr = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        c.request("POST", "/api/v1/connections", json.dumps(
            {"type": "kvm", "url": "http://127.0.0.1:%d" % aport, "token": TOKEN}), hdr)
        c.getresponse().read()
        for i in range(20):
            c.request("POST", "/api/v1/vms", json.dumps({"name": "soak-vm-%d" % i, "vcpus": 1,
                                                         "memory_mb": 128}), hdr)
            c.getresponse().read()
        end = time.time() + 60
        vm_ids = []
        while time.time() < end and len(vm_ids) < 20:
            c.request("GET", "/api/v1/vms?limit=100", headers=hdr)
            vm_ids = [v["id"] for v in json.loads(c.getresponse().read())["items"]]
            time.sleep(0.2)
        c.close()
        rss0, fd0 = rss_kb(pid), fds(pid)
        st, counts = Stats(), []
        deadline = time.time() + SECONDS
        threads = [threading.Thread(target=worker, args=(i, dport, token, vm_ids, deadline, st))
                   for i in range(CONNS)]
        threads += [threading.Thread(target=streamer, args=(dport, token, deadline, counts))
                    for _ in range(8)]
        threads += [threading.Thread(target=slow_client, args=(dport, deadline)) for _ in range(8)]
        for t in threads:
            t.daemon = True
            t.start()
        peak_fd = fd0
        while time.time() < deadline:
            time.sleep(1)
            peak_fd = max(peak_fd, fds(pid))
        for t in threads:
            t.join(30)
        time.sleep(1)
        rss1, fd1 = rss_kb(pid), fds(pid)
        lat = sorted(st.lat)
        n = len(lat)
        p50 = lat[n // 2] if n else 0
        p99 = lat[min(n - 1, int(n * 0.99))] if n else 0
        errors = len(st.errors)
        print("| figure | value |\n|---|---|")
        print("| keep-alive connections, seconds | %d, %.0f s |" % (CONNS, SECONDS))
        print("| requests (reads, writes, jobs) | %d (%d, %d, %d) |" % (
            n, st.by_kind.get("read", 0), st.by_kind.get("write", 0), st.by_kind.get("job", 0)))
        print("| requests per second | %.0f |" % (n / SECONDS))
        print("| errors of well-formed requests | %d |" % errors)
        print("| latency p50 / p99 | %.1f ms / %.1f ms |" % (p50, p99))
        print("| event streams, messages received | %d, %d |" % (len(counts), sum(counts)))
        print("| RSS before / after | %.1f MB / %.1f MB (%+.1f MB) |" % (rss0 / 1024, rss1 / 1024,
                                                                         (rss1 - rss0) / 1024))
        print("| descriptors before / peak / after | %d / %d / %d |" % (fd0, peak_fd, fd1))
        for e in [e for e in st.errors if e][:10]:
            print("error:", e, file=sys.stderr)
        ok = errors == 0 and (rss1 - rss0) / 1024 <= GROWTH_MB
        print("%d passed, %d failed" % (1 if ok else 0, 0 if ok else 1))
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()


if __name__ == "__main__":
    sys.exit(main())
