#!/usr/bin/python3
"""ha_bench.py BUILD OUT -- issue 7's HA benchmark: 100 HA VMs on a host
that dies, and the time until all of them run on another host, split into
the detection timeout (host_failure_timeout, a setting) and Polyvisor's own
time (noticing the silence, deciding every placement, defining and starting
every VM).  Two polyvisor-agents on libvirt's test driver (no KVM needed),
polyvisord with --host-failure-timeout 5; everything on 127.0.0.1, stopped
by PID.

A second run shows the restarts side by side: 20 HA VMs of one priority
whose destination takes 400 ms for each define and each start (the test
adapter's delay_ms), so one after another they would take 16 s.  Prints
Markdown rows."""
import datetime
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
os.environ.setdefault("POLYVISOR_BUILD", os.path.abspath(sys.argv[1]))

import worlds  # noqa: E402
from conftest import Daemon  # noqa: E402
from kvm_rig import TOKEN, Agent  # noqa: E402
from test_ha import host_xml, uuid  # noqa: E402

N = int(os.environ.get("BENCH_HA_VMS", "100"))
TIMEOUT = 5


def main():
    with tempfile.TemporaryDirectory(prefix="pv-ha-bench-") as tmp:
        d = Daemon(os.path.join(tmp, "data"), extra_args=["--host-failure-timeout", str(TIMEOUT)])
        os.makedirs(d.data_dir)
        agents = []
        try:
            d.start()
            conns = {}
            for name, vms in (("a", [("ha-%03d" % i, uuid(1000 + i), 128, True) for i in range(N)]),
                              ("b", [])):
                os.makedirs(os.path.join(tmp, name))
                xml = host_xml(os.path.join(tmp, name, "host.xml"), 65536, vms, cpus=64)
                a = Agent(os.path.join(tmp, name), uri="test://" + xml).start()
                agents.append(a)
                job = d.run("POST", "/api/v1/connections",
                            {"type": "kvm", "url": a.base, "token": TOKEN, "name": name}, timeout=120)
                conns[name] = job["result"]["connection_id"]
            for v in d.all_items("/api/v1/vms"):
                d.ok("PATCH", "/api/v1/vms/" + v["id"], {"ha": "high"})
            host_a = [h for h in d.all_items("/api/v1/hosts") if h["connection_id"] == conns["a"]][0]
            t0 = time.time()
            agents[0].proc.kill()
            agents[0].proc.wait()
            t_failed = t_done = None
            while time.time() - t0 < float(os.environ.get("BENCH_HA_LIMIT", "300")):
                if t_failed is None and d.ok("GET", "/api/v1/hosts/" + host_a["id"])["state"] == "failed":
                    t_failed = time.time()
                if t_failed:
                    vms = d.all_items("/api/v1/vms")
                    if sum(1 for v in vms if v["connection_id"] == conns["b"]
                           and v["power_state"] == "running") == N:
                        t_done = time.time()
                        break
                time.sleep(0.05)
            if not t_done:
                jobs = d.all_items("/api/v1/jobs", filter="kind eq 'ha.restart'")
                print("| HA restart of %d VMs | did not finish in 300 s (host failed: %s; jobs: %s) | |"
                      % (N, bool(t_failed), [(j["state"], j["error"]) for j in jobs]))
                return 1
            ours = t_done - t0 - TIMEOUT
            print("| HA: host failure to %d HA VMs running elsewhere | %.2f s in all = %d s "
                  "detection timeout + **%.2f s Polyvisor's own** (%.0f ms per VM) | |"
                  % (N, t_done - t0, TIMEOUT, ours, 1000 * ours / N))
            print("| ... of which noticing the silence and declaring the host failed | %.2f s "
                  "after the timeout | |" % (t_failed - t0 - TIMEOUT))
            return 0
        finally:
            for a in agents:
                a.stop()
            d.stop()


def iso(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


def side_by_side(n=20, delay_ms=400):
    with tempfile.TemporaryDirectory(prefix="pv-ha-bench-") as tmp:
        d = Daemon(os.path.join(tmp, "data"), extra_args=["--host-failure-timeout", str(TIMEOUT)])
        os.makedirs(d.data_dir)
        try:
            d.start()
            src, dst = os.path.join(tmp, "a.json"), os.path.join(tmp, "b.json")
            worlds.save(src, worlds.world(hosts=[("a", 65536, 32)],
                                          vms=[("ha-%02d" % i, "a", 256, 1) for i in range(n)]))
            worlds.save(dst, worlds.world(hosts=[("b", 65536, 32)]))
            d.add_test_connection(src)
            d.add_test_connection(dst, "?delay_ms=%d" % delay_ms)
            for v in d.all_items("/api/v1/vms"):
                d.ok("PATCH", "/api/v1/vms/" + v["id"], {"ha": "medium"})
            os.rename(src, src + ".gone")     # host a's endpoint stops answering
            deadline = time.time() + 300
            while time.time() < deadline:
                jobs = [j for j in d.all_items("/api/v1/jobs", filter="kind eq 'ha.restart'")
                        if j["state"] in ("succeeded", "failed")]
                if jobs:
                    break
                time.sleep(0.05)
            else:
                print("| HA restarts side by side | did not finish in 300 s | |")
                return 1
            job = jobs[0]
            took = (iso(job["finished_at"]) - iso(job["started_at"]))
            print("| HA: %d VMs of one priority restarted where each define and each start takes "
                  "%d ms (test adapter) | %.1f s for the restart job (%s); one after another "
                  "would take %.0f s | |" % (n, delay_ms, took, job["state"], n * 2 * delay_ms / 1000))
            return 0 if job["state"] == "succeeded" else 1
        finally:
            d.stop()


if __name__ == "__main__":
    sys.exit(main() or side_by_side())
