"""High availability and maintenance mode through the REST API.

Two KVM hosts, each a polyvisor-agent on its own libvirt test-driver host
(no KVM needed): kill host A's agent (and with it its libvirt) and the HA VMs
come up on host B in priority order, each decision explained; the VM that
does not fit and the VMs with HA off say why they stay down; bring host A
back and its stale copy is stopped and removed, so no VM runs twice.  A
flapping host (agent restarted within host_failure_timeout) triggers nothing.
Maintenance mode evacuates a host and reports the VM that cannot go."""
import os
import time

import pytest

import worlds
from conftest import Daemon, wait_for
from kvm_rig import TOKEN, Agent

TIMEOUT = 3  # --host-failure-timeout for these tests
FLAP_TIMEOUT = 10  # ... and for the flapping host: a restart must fit in it even on a busy machine


def host_xml(path, mem_mib, vms, cpus=4):
    """A libvirt test-driver host; vms: (name, uuid, memory MiB, running)."""
    doms = []
    for name, uuid, mem, running in vms:
        state = "" if running else (
            "<test:runstate xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>5"
            "</test:runstate>")
        doms.append("<domain type='test'><name>%s</name><uuid>%s</uuid>"
                    "<memory unit='MiB'>%d</memory><vcpu>1</vcpu><os><type>hvm</type></os>%s"
                    "</domain>" % (name, uuid, mem, state))
    with open(path, "w") as f:
        f.write("<node><cpu><mhz>2400</mhz><model>x86_64</model><active>%d</active><nodes>1</nodes>"
                "<sockets>1</sockets><cores>%d</cores><threads>1</threads></cpu>"
                "<memory>%d</memory>%s<network><name>default</name><bridge name='virbr0'/>"
                "</network></node>" % (cpus, cpus, mem_mib * 1024, "".join(doms)))
    return path


def uuid(n):
    return "4a000000-0000-4000-8000-%012d" % n


class Rig:
    def __init__(self, tmp, timeout=TIMEOUT):
        self.tmp = tmp
        self.daemon = Daemon(os.path.join(tmp, "data"),
                             extra_args=["--host-failure-timeout", str(timeout)])
        os.makedirs(self.daemon.data_dir)
        self.agents = {}
        self.conns = {}

    def add_host(self, name, mem_mib, vms):
        d = os.path.join(self.tmp, name)
        os.makedirs(d)
        xml = host_xml(os.path.join(d, "host.xml"), mem_mib, vms)
        a = Agent(d, uri="test://" + xml).start()
        self.agents[name] = a
        job = self.daemon.run("POST", "/api/v1/connections",
                              {"type": "kvm", "url": a.base, "token": TOKEN, "name": name})
        self.conns[name] = job["result"]["connection_id"]

    def host(self, name):
        return [h for h in self.daemon.all_items("/api/v1/hosts")
                if h["connection_id"] == self.conns[name]][0]

    def vms(self):
        return {v["name"]: v for v in self.daemon.all_items("/api/v1/vms")}

    def agent_vms(self, name):
        return {v["name"]: v for v in self.agents[name].call("GET", "/v1/vms").json()["items"]}

    def stop(self):
        for a in self.agents.values():
            a.stop()
        self.daemon.stop()


@pytest.fixture
def rig(request, tmpdir_path):
    r = Rig(tmpdir_path, getattr(request, "param", TIMEOUT))
    r.daemon.start()
    yield r
    r.stop()


def test_failed_host_restarts_ha_vms_in_priority_order(rig):
    d = rig.daemon
    rig.add_host("a", 8192, [("vm-high", uuid(1), 1024, True), ("vm-low", uuid(2), 1536, True),
                             ("vm-off", uuid(3), 512, True), ("vm-down", uuid(4), 512, False)])
    rig.add_host("b", 2048, [])
    vms = rig.vms()
    for name, ha in [("vm-high", "high"), ("vm-low", "low"), ("vm-down", "high")]:
        d.ok("PATCH", "/api/v1/vms/" + vms[name]["id"], {"ha": ha})
    host_a = rig.host("a")

    rig.agents["a"].proc.kill()          # the host dies: agent and its libvirt with it
    rig.agents["a"].proc.wait()
    wait_for(lambda: rig.host("a")["state"] in ("disconnected", "failed"), 10, "host a unreachable")
    failed = wait_for(lambda: rig.host("a")["state"] == "failed", TIMEOUT + 10, "host a failed")
    assert failed
    ev = d.all_items("/api/v1/events", filter="object_id eq '%s'" % host_a["id"])
    assert any("failed: unreachable since" in e["message"] for e in ev)

    job = wait_for(lambda: [j for j in d.all_items("/api/v1/jobs", filter="kind eq 'ha.restart'")
                            if j["state"] in ("succeeded", "failed")], 30, "the HA job")[0]
    # high first: it fits on b; low (1.5 GiB) no longer does; the decision is explained
    assert [m["vm_name"] for m in job["result"]["moves"]] == ["vm-high"]
    unplaced = {u["vm_name"]: u for u in job["result"]["unplaced"]}
    assert unplaced["vm-low"]["rejected_by"]["insufficient_memory"] >= 1
    assert unplaced["vm-off"]["reason"] == "HA is off for this VM"
    assert "not running" in unplaced["vm-down"]["reason"]

    # (the new host's event stream may still deliver the "defined" report after the
    # start's refresh; its "started" event follows)
    wait_for(lambda: rig.vms()["vm-high"]["power_state"] == "running", 10, "vm-high running")
    now = rig.vms()
    assert now["vm-high"]["id"] == vms["vm-high"]["id"]            # the same VM, moved
    assert now["vm-high"]["connection_id"] == rig.conns["b"]
    assert now["vm-high"]["power_state"] == "running" and now["vm-high"]["ha"] == "high"
    assert now["vm-high"]["ha_status"].startswith("restarted on")
    assert "insufficient_memory" in now["vm-low"]["ha_status"]
    assert "HA is off" in now["vm-off"]["ha_status"]
    assert rig.agent_vms("b")["vm-high"]["power_state"] == "running"   # b's own view
    assert rig.agent_vms("b")["vm-high"]["uuid"] == uuid(1)

    # host a comes back with its stale copy running: it is stopped and removed
    rig.agents["a"].start()
    wait_for(lambda: rig.host("a")["state"] == "connected", 30, "host a back")
    wait_for(lambda: "vm-high" not in rig.agent_vms("a"), 30, "the stale copy removed")
    fence = wait_for(lambda: [j for j in d.all_items("/api/v1/jobs", filter="kind eq 'vm.fence'")
                              if j["state"] in ("succeeded", "failed")], 15, "the fencing job")
    assert fence[0]["state"] == "succeeded"
    running = [v for v in d.all_items("/api/v1/vms") if v["name"] == "vm-high"]
    assert len(running) == 1 and running[0]["connection_id"] == rig.conns["b"]
    # non-HA VMs are back where they were, never restarted elsewhere
    assert rig.vms()["vm-off"]["connection_id"] == rig.conns["a"]


@pytest.mark.parametrize("rig", [FLAP_TIMEOUT], indirect=True)
def test_flapping_host_is_not_failed(rig):
    d = rig.daemon
    rig.add_host("a", 8192, [("flap-vm", uuid(11), 512, True)])
    rig.add_host("b", 8192, [])
    vm = rig.vms()["flap-vm"]
    d.ok("PATCH", "/api/v1/vms/" + vm["id"], {"ha": "high"})
    rig.agents["a"].stop()
    wait_for(lambda: rig.host("a")["state"] == "disconnected", 10, "host a unreachable")
    rig.agents["a"].start()              # back within host_failure_timeout
    wait_for(lambda: rig.host("a")["state"] == "connected", FLAP_TIMEOUT + 5, "host a back")
    time.sleep(2)  # a few turns of the HA monitor
    assert rig.host("a")["state"] == "connected"
    ev = d.all_items("/api/v1/events", filter="object_id eq '%s'" % rig.host("a")["id"])
    assert not [e["message"] for e in ev if " failed: " in e["message"]]
    assert d.all_items("/api/v1/jobs", filter="kind eq 'ha.restart'") == []
    assert rig.vms()["flap-vm"]["connection_id"] == rig.conns["a"]


def test_restarts_run_by_priority_several_at_a_time(tmpdir_path):
    """A failed host's HA VMs restart one priority after the other, and the
    VMs of one priority several at a time: every high VM is up before any
    medium one starts, and the medium ones run side by side.  Two test
    connections, each task on the destination taking 400 ms; the source's
    world file goes away, so its connection (and host) stop answering."""
    d = Daemon(os.path.join(tmpdir_path, "data"), extra_args=["--host-failure-timeout", str(TIMEOUT)])
    os.makedirs(d.data_dir)
    d.start()
    try:
        src, dst = os.path.join(tmpdir_path, "a.json"), os.path.join(tmpdir_path, "b.json")
        names = ["h1", "h2", "m1", "m2", "m3", "m4"]
        worlds.save(src, worlds.world(hosts=[("a", 65536, 16)], vms=[(n, "a", 512, 1) for n in names]))
        worlds.save(dst, worlds.world(hosts=[("b", 65536, 16)]))
        d.add_test_connection(src)
        d.add_test_connection(dst, "?delay_ms=400")
        vms = {v["name"]: v for v in d.all_items("/api/v1/vms")}
        for n in names:
            d.ok("PATCH", "/api/v1/vms/" + vms[n]["id"], {"ha": "high" if n[0] == "h" else "medium"})
        os.rename(src, src + ".gone")
        job = wait_for(lambda: [j for j in d.all_items("/api/v1/jobs", filter="kind eq 'ha.restart'")
                                if j["state"] in ("succeeded", "failed")], 60, "the HA job")[0]
        assert job["state"] == "succeeded", job
        assert [m["ha"] for m in job["result"]["moves"]] == ["high"] * 2 + ["medium"] * 4
        by_vm = {v["id"]: v["name"] for v in vms.values()}
        runs = {by_vm[j["target_id"]]: j for j in d.all_items("/api/v1/jobs", filter="kind eq 'vm.ha_restart'")}
        assert sorted(runs) == names and all(j["state"] == "succeeded" for j in runs.values())
        high = [runs[n] for n in names[:2]]
        medium = [runs[n] for n in names[2:]]
        assert max(j["finished_at"] for j in high) <= min(j["started_at"] for j in medium)
        for group in (high, medium):   # all of one priority under way before the first is done
            assert max(j["started_at"] for j in group) < min(j["finished_at"] for j in group), group
        now = {v["name"]: v for v in d.all_items("/api/v1/vms")}
        assert all(now[n]["power_state"] == "running" and now[n]["host_id"] != vms[n]["host_id"]
                   for n in names)
    finally:
        d.stop()


def test_maintenance_evacuates_and_reports_what_cannot_go(daemon, world):
    worlds.save(world, worlds.world(
        hosts=[("a", 65536, 32), ("b", 16384, 16), ("c", 16384, 16)],
        vms=[("s1", "a", 2048, 1), ("s2", "a", 1024, 1), ("off", "a", 1024, 1, "stopped"),
             ("giant", "a", 32768, 4)]))
    daemon.add_test_connection(world)
    hosts = {h["name"]: h for h in daemon.all_items("/api/v1/hosts")}
    job = daemon.run("POST", "/api/v1/hosts/%s/maintenance" % hosts["a"]["id"],
                     {"evacuate": "live"}, expect="failed")
    assert job["kind"] == "host.maintenance"
    assert job["error"]["code"] == "evacuation_incomplete"
    assert "could not leave" in job["error"]["message"]
    child = daemon.ok("GET", "/api/v1/jobs/" + job["result"]["evacuate_job_id"])
    assert [u["vm_name"] for u in child["result"]["unplaced"]] == ["giant"]
    # b and c are too small; a itself is in maintenance
    assert child["result"]["unplaced"][0]["rejected_by"] == {"insufficient_memory": 2,
                                                             "in_maintenance": 1}
    vms = {v["name"]: v for v in daemon.all_items("/api/v1/vms")}
    assert vms["giant"]["host_id"] == hosts["a"]["id"]
    assert all(vms[n]["host_id"] != hosts["a"]["id"] for n in ("s1", "s2", "off"))
    a = daemon.ok("GET", "/api/v1/hosts/" + hosts["a"]["id"])
    assert a["state"] == "maintenance" and a["maintenance"] is True
    # nothing new lands on it, and a sync does not undo the flag
    daemon.run("POST", "/api/v1/connections/%s/sync" % daemon.all_items("/api/v1/connections")[0]["id"])
    out = daemon.ok("POST", "/api/v1/placement/ratings", {"vm": {"vcpus": 1, "memory_mb": 512}})
    mine = [i for i in out["items"] if i["host_id"] == hosts["a"]["id"]][0]
    assert mine["eligible"] is False and mine["filters"][0]["code"] == "in_maintenance"
    daemon.run("POST", "/api/v1/hosts/%s/maintenance/exit" % hosts["a"]["id"])
    a = daemon.ok("GET", "/api/v1/hosts/" + hosts["a"]["id"])
    assert a["state"] == "connected" and a["maintenance"] is False
    r = daemon.post("/api/v1/hosts/%s/maintenance" % hosts["a"]["id"], {"evacuate": "teleport"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_value"
