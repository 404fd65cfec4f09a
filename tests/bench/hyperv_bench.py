#!/usr/bin/python3
"""hyperv_bench.py BUILD OUT -- issue 5's benchmark: a full sync of one
simulated Hyper-V host with 1,000 VMs (and, to show how the cost grows, 100
and 10), timed from the connection's POST to its sync job's end, with the
WS-Man round trips the simulator counted.  The aim: round trips that do not
grow with the VM count beyond the Pull batches and the VHD sizes a first
listing reads itself (at most 32; the seed gives every VM one disk).  Everything on 127.0.0.1,
stopped by PID.  Prints Markdown rows."""
import os
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
os.environ.setdefault("POLYVISOR_BUILD", os.path.abspath(sys.argv[1]))

from conftest import Daemon  # noqa: E402
from test_hyperv import Sim  # noqa: E402


def one(tmp, nvms):
    sim = Sim(os.path.join(tmp, "sim-%d" % nvms), hosts=1)
    sim.start("--vms", str(nvms))
    d = Daemon(os.path.join(tmp, "data-%d" % nvms))
    os.makedirs(d.data_dir)
    try:
        d.start()
        host = sorted(sim.urls)[0]
        before = requests.get(sim.control + "/state", timeout=10).json()["hosts"][0]["requests"]
        t0 = time.time()
        d.run("POST", "/api/v1/connections", sim.connection(host), timeout=600)
        took = time.time() - t0
        after = requests.get(sim.control + "/state", timeout=10).json()["hosts"][0]["requests"]
        seen = len(d.all_items("/api/v1/vms"))
        return took, after - before, seen
    finally:
        d.stop()
        sim.stop()


def main():
    with tempfile.TemporaryDirectory(prefix="pv-hv-bench-") as tmp:
        for n in (10, 100, 1000):
            took, trips, seen = one(tmp, n)
            print("| Hyper-V: full sync of one host with %d VMs (%d seen) | %.2f s, **%d WS-Man "
                  "round trips** (open + sync, against the simulator) | round trips grow only "
                  "with the Pull batches (and up to 32 VHD sizes) |" % (n, seen, took, trips))
    return 0


if __name__ == "__main__":
    sys.exit(main())
