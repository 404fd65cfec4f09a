#!/usr/bin/python3
"""kvm_bench.py BUILD OUT -- KVM operations through polyvisord against virsh
on the same libvirt daemon, in one run (issue 3's benchmark):
VM start, stop (power off) and list latency, REST (job created -> job
succeeded, polled every 2 ms) versus virsh doing the same; and event-to-API
latency (a VM paused with virsh behind our back -> its state in the API).
Needs /dev/kvm; libvirtd is started with tests/peers/libvirtd.sh and stopped
again.  Everything listens on 127.0.0.1."""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import requests

BUILD, OUT = sys.argv[1], sys.argv[2]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUNS = int(os.environ.get("BENCH_KVM_RUNS", "10"))
NAME = "pv-bench-%d" % os.getpid()


def port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def virsh(*args):
    t0 = time.perf_counter()
    subprocess.run(["virsh", "-c", "qemu:///system"] + list(args), check=True, capture_output=True)
    return time.perf_counter() - t0


def wait_up(url):
    for _ in range(200):
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError(url + " did not come up")


def main():
    if not os.path.exists("/dev/kvm"):
        print("kvm bench: skipped, no /dev/kvm on this machine")
        return
    tmp = tempfile.mkdtemp(prefix="pv-kvm-bench-")
    subprocess.run(["sh", os.path.join(ROOT, "tests/peers/libvirtd.sh"), "start", tmp + "/lv"], check=True)
    tok = os.path.join(tmp, "token")
    with open(tok, "w") as f:
        f.write("bench-token-0123456789abcdef\n")
    ap, dp = port(), port()
    procs = [subprocess.Popen([os.path.join(BUILD, "polyvisor-agent"), "--listen", "127.0.0.1:%d" % ap,
                               "--libvirt-uri", "qemu:///system", "--token-file", tok],
                              stderr=subprocess.DEVNULL)]
    env = dict(os.environ, POLYVISOR_ADMIN_PASSWORD="bench-password")
    procs.append(subprocess.Popen([os.path.join(BUILD, "polyvisord"), "--listen", "127.0.0.1:%d" % dp,
                                   "--data-dir", os.path.join(tmp, "data"), "--log-level", "warn"],
                                  env=env, stderr=subprocess.DEVNULL))
    base = "http://127.0.0.1:%d" % dp
    try:
        wait_up("http://127.0.0.1:%d/v1/host" % ap)
        wait_up(base + "/healthz")
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + s.post(base + "/api/v1/auth/login", json={
            "username": "admin", "password": "bench-password"}).json()["token"]

        def run(method, path, body=None):
            t0 = time.perf_counter()
            r = s.request(method, base + path, json=body)
            job = r.headers["Location"]
            while True:
                j = s.get(base + job).json()
                if j["state"] in ("succeeded", "failed", "cancelled"):
                    break
                time.sleep(0.002)
            assert j["state"] == "succeeded", j
            return time.perf_counter() - t0, j

        run("POST", "/api/v1/connections", {"type": "kvm", "url": "http://127.0.0.1:%d" % ap,
                                            "token": "bench-token-0123456789abcdef"})
        _, j = run("POST", "/api/v1/vms", {"name": NAME, "vcpus": 1, "memory_mb": 128})
        vm = j["result"]["vm_id"]
        rows = {"start": ([], []), "stop": ([], []), "list": ([], []), "event": ([], [])}
        for _ in range(RUNS):
            rows["start"][0].append(run("POST", "/api/v1/vms/%s/start" % vm)[0])
            rows["stop"][0].append(run("POST", "/api/v1/vms/%s/poweroff" % vm)[0])
            rows["start"][1].append(virsh("start", NAME))
            rows["stop"][1].append(virsh("destroy", NAME))
            t0 = time.perf_counter()
            assert s.get(base + "/api/v1/vms").status_code == 200
            rows["list"][0].append(time.perf_counter() - t0)
            rows["list"][1].append(virsh("list", "--all"))
        virsh("start", NAME)
        time.sleep(0.5)  # let the inventory catch up with the start
        for _ in range(RUNS):
            for cmd, want in (("suspend", "paused"), ("resume", "running")):
                t0 = time.perf_counter()
                virsh(cmd, NAME)
                while s.get(base + "/api/v1/vms/" + vm).json()["power_state"] != want:
                    time.sleep(0.002)
                rows["event"][0].append(time.perf_counter() - t0)
        virsh("destroy", NAME)
        virsh("undefine", NAME)
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        subprocess.run(["virsh", "-c", "qemu:///system", "destroy", NAME], capture_output=True)
        subprocess.run(["virsh", "-c", "qemu:///system", "undefine", NAME], capture_output=True)
        subprocess.run(["sh", os.path.join(ROOT, "tests/peers/libvirtd.sh"), "stop", tmp + "/lv"])
    ms = lambda xs: statistics.median(xs) * 1000
    lines = ["| KVM operation (median of %d, one libvirt daemon) | polyvisord REST | virsh | overhead | ratio | aim |" % RUNS,
             "|---|---|---|---|---|---|"]
    for k, label in (("start", "start a diskless 128 MiB VM"), ("stop", "power it off"),
                     ("list", "list VMs")):
        a, b = ms(rows[k][0]), ms(rows[k][1])
        lines.append("| %s | %.1f ms | %.1f ms | %+.1f ms | %.2fx | <= 20 ms, <= 1.2x |" % (label, a, b, a - b, a / b))
    lines.append("| virsh suspend/resume -> seen in the API | %.0f ms | | | | <= 1 s |" % ms(rows["event"][0]))
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(OUT, "kvm-results.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
