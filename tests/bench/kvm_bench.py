#!/usr/bin/python3
"""kvm_bench.py BUILD OUT -- KVM operations through polyvisord against virsh
on the same libvirt daemon, in one run (issue 3's benchmark):
VM start, stop (power off) and list latency, REST (job created -> job
succeeded, polled every 2 ms) versus virsh doing the same; and event-to-API
latency (a VM paused with virsh behind our back -> its state in the API).
Needs /dev/kvm; libvirtd is started with tests/peers/libvirtd.sh and stopped
again.  Everything listens on 127.0.0.1; the daemon and the agent are
tests/pvtest.py's, stopped by PID."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

BUILD, OUT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))
os.environ["POLYVISOR_BUILD"] = BUILD
import pvtest  # noqa: E402  the daemon harness the tests use
RUNS = int(os.environ.get("BENCH_KVM_RUNS", "10"))
NAME = "pv-bench-%d" % os.getpid()


def virsh(*args):
    t0 = time.perf_counter()
    subprocess.run(["virsh", "-c", "qemu:///system"] + list(args), check=True, capture_output=True)
    return time.perf_counter() - t0


def main():
    if not os.path.exists("/dev/kvm"):
        print("kvm bench: skipped, no /dev/kvm on this machine")
        return
    tmp = tempfile.mkdtemp(prefix="pv-kvm-bench-")
    subprocess.run(["sh", os.path.join(ROOT, "tests/peers/libvirtd.sh"), "start", tmp + "/lv"], check=True)
    agent = pvtest.Agent(tmp, uri="qemu:///system", token="bench-token-0123456789abcdef")
    os.makedirs(os.path.join(tmp, "data"))
    d = pvtest.Daemon(os.path.join(tmp, "data"), ["--log-level", "warn"], admin_password="bench-password",
                      log_path=os.path.join(OUT, "kvm-polyvisord.log"))
    try:
        agent.start()
        d.start()
        s, base = d.http, d.base

        def run(method, path, body=None):
            """A job from its request to its success, polled every 2 ms; (seconds, job)."""
            t0 = time.perf_counter()
            j = d.run(method, path, body, timeout=120, poll=0.002)
            return time.perf_counter() - t0, j

        run("POST", "/api/v1/connections", {"type": "kvm", "url": agent.base, "token": agent.token})
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
        d.stop()
        agent.stop()
        subprocess.run(["virsh", "-c", "qemu:///system", "destroy", NAME], capture_output=True)
        subprocess.run(["virsh", "-c", "qemu:///system", "undefine", NAME], capture_output=True)
        subprocess.run(["sh", os.path.join(ROOT, "tests/peers/libvirtd.sh"), "stop", tmp + "/lv"])
        shutil.rmtree(tmp, ignore_errors=True)
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
