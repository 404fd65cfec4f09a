#!/usr/bin/python3
"""storage_move_bench.py BUILD OUT -- issue 14's storage-move figure: a 1 GiB
qcow2 disk (filled with data, so the copy is the whole GiB) of a running KVM
guest moves to another storage pool of its host, through the REST API (job
created -> job succeeded, polled every 20 ms) and with `virsh blockcopy`
doing the same (volume made in the target pool, block copy, pivot), in the
same run, alternating, on the two-host rig (tests/peers/kvm2.sh; the move
is on host A).  Needs /dev/kvm and root (network namespaces); everything
the bench makes it removes again."""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
os.environ.setdefault("POLYVISOR_BUILD", os.path.abspath(sys.argv[1]))
OUT = os.path.abspath(sys.argv[2])

from conftest import Daemon  # noqa: E402
from kvm_rig import TOKEN, URI_A, Agent, two_kvm_hosts, virsh  # noqa: E402

RUNS = int(os.environ.get("BENCH_MOVE_RUNS", "3"))
NAME = "pv-bench-move-%d" % os.getpid()
POOLS = ("pv-bench-p1", "pv-bench-p2")


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def blk(name):
    return dict(line.split(None, 1) for line in virsh(URI_A, "domblklist", name).stdout.splitlines()[2:]
                if line.strip())["vda"]


ORDER = ("api", "cli")
api, cli = [], []


def api_move(d, vm, disk, pools, here):
    """Through the API: pool `here` -> the other (each side starts with no
    dirty pages of the other's copy still to write back)."""
    old = blk(NAME)
    subprocess.run(["sync"], check=True)
    t0 = time.perf_counter()
    d.run("POST", "/api/v1/vms/%s/disks/%s/move" % (vm, disk["id"]),
          {"pool_id": pools[POOLS[1 - here]]}, timeout=600, poll=0.02)
    api.append(time.perf_counter() - t0)
    if os.path.exists(old):  # virsh's volume: not one the agent made, so it stays
        os.unlink(old)
    return 1 - here


def cli_move(i, here):
    """virsh: the same move the way an operator does it by hand (the old
    file removed after the timing; the API's move deletes it within)."""
    old = blk(NAME)
    vol = "cli-%d.qcow2" % i
    subprocess.run(["sync"], check=True)
    t0 = time.perf_counter()
    ok(virsh(URI_A, "vol-create-as", POOLS[1 - here], vol, "1G", "--format", "qcow2"))
    new = ok(virsh(URI_A, "vol-path", vol, "--pool", POOLS[1 - here])).strip()
    ok(virsh(URI_A, "blockcopy", NAME, "vda", new, "--reuse-external", "--format", "qcow2",
             "--wait", "--pivot", "--transient-job"))
    cli.append(time.perf_counter() - t0)
    os.unlink(old)
    return 1 - here


def main():
    if not os.path.exists("/dev/kvm"):
        print("storage move bench: skipped, no /dev/kvm on this machine")
        return
    tmp = tempfile.mkdtemp(prefix="pv-move-bench-")
    with two_kvm_hosts(os.path.join(tmp, "rig")):
        for p in POOLS:
            os.makedirs(os.path.join(tmp, p))
            ok(virsh(URI_A, "pool-create-as", p, "dir", "--target", os.path.join(tmp, p)))
        os.makedirs(os.path.join(tmp, "a"))
        os.makedirs(os.path.join(tmp, "data"))
        agent = Agent(os.path.join(tmp, "a"), URI_A, "qemu+tcp://10.99.0.1/system").start()
        d = Daemon(os.path.join(tmp, "data")).start()
        try:
            conn = d.run("POST", "/api/v1/connections", {"type": "kvm", "url": agent.base, "token": TOKEN},
                         timeout=60)["result"]["connection_id"]
            pools = {p["name"]: p["id"] for p in d.all_items("/api/v1/storage-pools")
                     if p["connection_id"] == conn}
            host = [h for h in d.all_items("/api/v1/hosts") if h["connection_id"] == conn][0]["id"]
            vm = d.run("POST", "/api/v1/vms", {"name": NAME, "vcpus": 1, "memory_mb": 128, "host_id": host,
                                               "disks": [{"size_gb": 1, "pool_id": pools[POOLS[0]]}]},
                       timeout=60)["result"]["vm_id"]
            disk = d.ok("GET", "/api/v1/vms/" + vm)["disks"][0]
            ok(subprocess.run(["qemu-io", "-c", "write -P 0x5a 0 1G", disk["path"]], capture_output=True,
                              text=True))
            d.run("POST", "/api/v1/vms/%s/start" % vm)
            here = 0  # the pool the disk is in
            for i in range(RUNS):
                # API first in even runs, virsh first in odd ones: neither gains
                # from what the other left in the page cache
                for side in (ORDER if i % 2 == 0 else ORDER[::-1]):
                    if side == "api":
                        here = api_move(d, vm, disk, pools, here)
                    else:
                        here = cli_move(i, here)
                    for p in POOLS:
                        virsh(URI_A, "pool-refresh", p)
                    d.run("POST", "/api/v1/connections/%s/sync" % conn, timeout=60)
                    disk = d.ok("GET", "/api/v1/vms/" + vm)["disks"][0]
            ok(subprocess.run(["qemu-io", "-U", "-r", "-c", "read -P 0x5a 0 1G", blk(NAME)],
                              capture_output=True, text=True))
        finally:
            d.stop()
            agent.stop()
            virsh(URI_A, "destroy", NAME)
            virsh(URI_A, "undefine", NAME)
            for p in POOLS:
                virsh(URI_A, "pool-destroy", p)
    # only now: the rig's stop reads its PID files under tmp
    shutil.rmtree(tmp, ignore_errors=True)
    print("api runs:", ["%.2f" % x for x in api], "virsh runs:", ["%.2f" % x for x in cli])
    a, c = statistics.median(api), statistics.median(cli)
    lines = ["| storage move, running KVM guest, 1 GiB qcow2 full of data (median of %d) | polyvisord REST | virsh blockcopy | ratio | aim |" % RUNS,
             "|---|---|---|---|---|",
             "| to another pool of its host (two-host rig, host A) | %.2f s | %.2f s | %.2fx | <= 1.1x |" % (a, c, a / c)]
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(OUT, "storage-move.md"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
