"""The KVM path on libvirt's test driver: polyvisor-agent's own API (token,
bad specs refused with nothing left behind), and the kvm adapter through
polyvisord's REST API (the host appears, every VM action, changes made
behind our back arrive as events, an agent that stops answering)."""
import json
import os
import subprocess
import time

import pytest

from conftest import free_port
from kvm_rig import TOKEN, Agent

@pytest.fixture
def agent(tmpdir_path):
    a = Agent(tmpdir_path).start()
    yield a
    a.stop()


@pytest.fixture
def kvm(daemon, agent):
    job = daemon.run("POST", "/api/v1/connections",
                     {"type": "kvm", "url": agent.base, "token": TOKEN})
    daemon.conn_id = job["result"]["connection_id"]
    daemon.agent = agent
    return daemon


def test_agent_needs_its_token(agent):
    for tok in (None, "wrong", TOKEN[:-1], TOKEN + "x"):
        r = agent.call("GET", "/v1/vms", token=tok)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert agent.call("GET", "/v1/vms").status_code == 200


def test_agent_host_facts(agent):
    h = agent.call("GET", "/v1/host").json()
    for k in ("cpu_model", "cpus", "mhz", "sockets", "cores", "threads", "memory_mb",
              "cpu_usage_pct", "libvirt_version", "hypervisor_version", "kvm"):
        assert k in h, k
    assert h["driver"] == "test" and h["kvm"] is False
    assert (h["cpus"], h["sockets"], h["cores"], h["threads"], h["mhz"]) == (8, 1, 4, 2, 2400)
    assert h["memory_mb"] == 32768


def test_agent_probe_as_ha_witness(agent):
    """POST /v1/probe: does another host's libvirt answer from this host?  It
    probes qemu+tcp/qemu+tls URIs only, and tells a closed port and a port
    that answers as something other than libvirt apart from a live host."""
    for bad in (None, "http://127.0.0.1/", "qemu:///system", "qemu+ssh://h/system", "qemu+tcp:///system"):
        r = agent.call("POST", "/v1/probe", {"uri": bad})
        assert r.status_code == 400 and r.json()["error"]["code"] == "cannot_probe", (bad, r.text)
    closed = free_port()
    out = agent.call("POST", "/v1/probe", {"uri": "qemu+tcp://127.0.0.1:%d/system" % closed,
                                           "timeout_ms": 500}).json()
    assert out["alive"] is False and "no answer from 127.0.0.1 port %d" % closed in out["detail"]
    # something answers there, but it is not a libvirt: no evidence of a live host
    out = agent.call("POST", "/v1/probe", {"uri": "qemu+tcp://127.0.0.1:%d/system" % agent.port,
                                           "host_uuid": "00000000-0000-4000-8000-000000000001"}).json()
    assert out["alive"] is False and "but not as libvirt" in out["detail"], out


@pytest.mark.parametrize("spec,code", [
    ({"name": "a", "vcpus": 1, "memory_mb": -5}, "invalid_spec"),
    ({"name": "a", "vcpus": 0, "memory_mb": 128}, "invalid_spec"),
    ({"name": "a", "vcpus": "1", "memory_mb": 128}, "invalid_spec"),
    ({"name": "a", "vcpus": 1, "memory_mb": 128, "nics": [{"network": "nope"}]}, "unknown_network"),
    ({"name": "seed-running", "vcpus": 1, "memory_mb": 128}, "name_in_use"),
    ({"name": "<x>&'\"", "vcpus": 1, "memory_mb": 128}, "invalid_name"),
    ({"name": "../etc/passwd", "vcpus": 1, "memory_mb": 128}, "invalid_name"),
    ({"name": "a/b", "vcpus": 1, "memory_mb": 128}, "invalid_name"),
    ({"name": "", "vcpus": 1, "memory_mb": 128}, "invalid_name"),
    ({"name": "a", "vcpus": 1, "memory_mb": 128, "disks": [{"path": "relative.img"}]}, "invalid_spec"),
    ({"name": "a", "vcpus": 1, "memory_mb": 128, "boot": ["floppy"]}, "invalid_spec"),
    ({"name": "a", "vcpus": 1, "memory_mb": 128, "colour": "red"}, "unknown_field"),
])
def test_agent_refuses_bad_specs_leaving_nothing(agent, spec, code):
    def domains():
        return sorted((v["uuid"], v["name"]) for v in agent.call("GET", "/v1/vms").json()["items"])
    before = domains()
    r = agent.call("POST", "/v1/vms", spec)
    assert r.status_code in (400, 409), r.text
    assert r.json()["error"]["code"] == code
    assert domains() == before


def test_agent_define_paravirtual_or_not(agent):
    r = agent.call("POST", "/v1/vms", {"name": "pv1", "vcpus": 2, "memory_mb": 256,
                                       "nics": [{"network": "default"}], "paravirtual": True})
    assert r.status_code == 201, r.text
    vm = r.json()
    assert vm["power_state"] == "stopped" and vm["paravirtual"] is True
    assert vm["nics"][0]["model"] == "virtio" and vm["nics"][0]["network"] == "default"
    r = agent.call("POST", "/v1/vms", {"name": "emu1", "vcpus": 1, "memory_mb": 128,
                                       "nics": [{"network": "default"}], "paravirtual": False})
    assert r.json()["nics"][0]["model"] == "e1000" and r.json()["paravirtual"] is False


def test_host_and_vms_appear(kvm):
    hosts = kvm.all_items("/api/v1/hosts")
    assert len(hosts) == 1 and hosts[0]["vendor"] == "kvm" and hosts[0]["state"] == "connected"
    assert hosts[0]["cpu_cores"] == 8 and hosts[0]["facts"]["driver"] == "test"
    assert hosts[0]["memory_mb"] == 32768 and hosts[0]["memory_used_mb"] == 512
    vms = {v["name"]: v for v in kvm.all_items("/api/v1/vms")}
    assert sorted(vms) == ["seed-running", "seed-stopped"]
    assert vms["seed-running"]["power_state"] == "running"
    assert vms["seed-stopped"]["power_state"] == "stopped"
    assert all(v["vendor"] == "kvm" and v["host_id"] == hosts[0]["id"] for v in vms.values())
    assert vms["seed-running"]["native_id"] == "7c1e0000-0000-4000-8000-000000000001"


def test_every_action_through_the_api(kvm):
    job = kvm.run("POST", "/api/v1/vms", {"name": "web1", "vcpus": 1, "memory_mb": 128,
                                          "nics": [{"network": "default"}]})
    vm_id = job["result"]["vm_id"]
    vm = kvm.ok("GET", "/api/v1/vms/" + vm_id)
    assert vm["power_state"] == "stopped" and vm["vendor"] == "kvm" and vm["paravirtual"] is True
    for action, state in [("start", "running"), ("pause", "paused"), ("resume", "running"),
                          ("reboot", "running"), ("save", "saved"), ("start", "running"),
                          ("shutdown", "stopped"), ("start", "running"), ("poweroff", "stopped")]:
        kvm.run("POST", "/api/v1/vms/%s/%s" % (vm_id, action))
        assert kvm.ok("GET", "/api/v1/vms/" + vm_id)["power_state"] == state, action
    job = kvm.run("POST", "/api/v1/vms/%s/resume" % vm_id, expect="failed")
    assert job["error"]["code"] == "not_paused"
    kvm.run("POST", "/api/v1/vms/%s/start" % vm_id)
    job = kvm.run("DELETE", "/api/v1/vms/" + vm_id, expect="failed")
    assert job["error"]["code"] == "vm_running"
    kvm.run("POST", "/api/v1/vms/%s/poweroff" % vm_id)
    kvm.run("DELETE", "/api/v1/vms/" + vm_id)
    assert kvm.get("/api/v1/vms/" + vm_id).status_code == 404
    names = [v["name"] for v in kvm.agent.call("GET", "/v1/vms").json()["items"]]
    assert "web1" not in names


def test_create_refused_by_agent_is_a_failed_job(kvm):
    job = kvm.run("POST", "/api/v1/vms", {"name": "x", "vcpus": 1, "memory_mb": 128,
                                          "nics": [{"network": "nope"}]}, expect="failed")
    assert job["error"]["code"] == "unknown_network"
    job = kvm.run("POST", "/api/v1/vms", {"name": "seed-running", "vcpus": 1, "memory_mb": 128},
                  expect="failed")
    assert job["error"]["code"] == "name_in_use"


def test_migrate_between_test_driver_hosts(kvm, tmpdir_path):
    # a second agent is a second host; without --migration-uri it cannot be a
    # live-migration target, and the job says so
    second = os.path.join(tmpdir_path, "second-host")
    os.makedirs(second)
    other = Agent(second).start()
    try:
        kvm.run("POST", "/api/v1/connections", {"type": "kvm", "url": other.base, "token": TOKEN})
        # both demo hosts have a seed-running: take the first agent's
        vm = [v for v in kvm.all_items("/api/v1/vms")
              if v["name"] == "seed-running" and v["connection_id"] == kvm.conn_id][0]
        dest = [h for h in kvm.all_items("/api/v1/hosts") if h["id"] != vm["host_id"]][0]
        job = kvm.run("POST", "/api/v1/vms/%s/migrate" % vm["id"],
                      {"host_id": dest["id"], "mode": "live"}, expect="failed")
        assert job["error"]["code"] == "no_migration_uri"
        assert kvm.ok("GET", "/api/v1/vms/" + vm["id"])["host_id"] == vm["host_id"]
        # quick migration needs no migration URI: save, copy, restore.  Both
        # demo hosts have seed-running's UUID, so the destination refuses it,
        # and the VM is restored, running, on the source
        job = kvm.run("POST", "/api/v1/vms/%s/migrate" % vm["id"],
                      {"host_id": dest["id"], "mode": "quick"}, expect="failed")
        assert job["error"]["code"] == "vm_exists"
        back = kvm.agent.call("GET", "/v1/vms/" + vm["native_id"]).json()
        assert back["power_state"] == "running"
        # a VM of its own moves
        job = kvm.run("POST", "/api/v1/vms", {"name": "mover", "vcpus": 1, "memory_mb": 64,
                                              "host_id": vm["host_id"]})
        mover = job["result"]["vm_id"]
        kvm.run("POST", "/api/v1/vms/%s/start" % mover)
        job = kvm.run("POST", "/api/v1/vms/%s/migrate" % mover,
                      {"host_id": dest["id"], "mode": "quick"})
        assert [s["state"] for s in job["steps"]] == ["succeeded", "succeeded"]
        moved = kvm.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
        assert moved["host_id"] == dest["id"] and moved["power_state"] == "running"
        assert "mover" in [v["name"] for v in other.call("GET", "/v1/vms").json()["items"]]
        assert "mover" not in [v["name"] for v in kvm.agent.call("GET", "/v1/vms").json()["items"]]
        assert [v["name"] for v in kvm.all_items("/api/v1/vms")].count("mover") == 1
    finally:
        other.stop()


def test_change_behind_our_back_arrives_as_event(kvm):
    vm = [v for v in kvm.all_items("/api/v1/vms") if v["name"] == "seed-running"][0]
    t0 = time.time()
    assert kvm.agent.call("POST", "/v1/vms/%s/pause" % vm["native_id"]).status_code == 200
    while time.time() - t0 < 5:
        got = kvm.ok("GET", "/api/v1/vms/" + vm["id"])
        if got["power_state"] == "paused":
            break
        time.sleep(0.05)
    assert got["power_state"] == "paused" and got["source"] == "event"
    assert time.time() - t0 < 2
    # a VM defined behind our back appears; undefined, it goes
    r = kvm.agent.call("POST", "/v1/vms", {"name": "outsider", "vcpus": 1, "memory_mb": 64})
    uuid = r.json()["uuid"]
    deadline = time.time() + 5
    while time.time() < deadline and "outsider" not in [v["name"] for v in kvm.all_items("/api/v1/vms")]:
        time.sleep(0.05)
    assert "outsider" in [v["name"] for v in kvm.all_items("/api/v1/vms")]
    kvm.agent.call("DELETE", "/v1/vms/" + uuid)
    deadline = time.time() + 5
    while time.time() < deadline and "outsider" in [v["name"] for v in kvm.all_items("/api/v1/vms")]:
        time.sleep(0.05)
    assert "outsider" not in [v["name"] for v in kvm.all_items("/api/v1/vms")]


def test_wrong_token_is_auth_failed(daemon, agent):
    job = daemon.run("POST", "/api/v1/connections",
                     {"type": "kvm", "url": agent.base, "token": "not-the-token"}, expect="failed")
    assert job["error"]["code"] == "auth_failed"
    assert daemon.all_items("/api/v1/connections")[0]["state"] == "auth_failed"


def test_agent_down_and_back(kvm):
    kvm.agent.stop()
    deadline = time.time() + 15
    while time.time() < deadline:
        if kvm.ok("GET", "/api/v1/connections/" + kvm.conn_id)["state"] == "disconnected":
            break
        time.sleep(0.1)
    conn = kvm.ok("GET", "/api/v1/connections/" + kvm.conn_id)
    assert conn["state"] == "disconnected" and "agent" in conn["last_error"]
    assert all(h["state"] == "disconnected" for h in kvm.all_items("/api/v1/hosts"))
    kvm.agent.start()
    deadline = time.time() + 40
    while time.time() < deadline:
        if all(h["state"] == "connected" for h in kvm.all_items("/api/v1/hosts")) and \
                kvm.ok("GET", "/api/v1/connections/" + kvm.conn_id)["state"] == "connected":
            break
        time.sleep(0.2)
    assert kvm.ok("GET", "/api/v1/connections/" + kvm.conn_id)["state"] == "connected"


def test_agent_over_https_with_a_pinned_certificate(daemon, tmpdir_path):
    from kvm_rig import self_signed
    crt, key, pem = self_signed(tmpdir_path, "agent")
    _, _, other_pem = self_signed(tmpdir_path, "impostor")
    a = Agent(tmpdir_path, tls=(crt, key)).start()
    try:
        assert a.base.startswith("https://") and a.call("GET", "/v1/host").status_code == 200
        # the system CAs do not know a self-signed agent
        job = daemon.run("POST", "/api/v1/connections",
                         {"type": "kvm", "url": a.base, "token": TOKEN}, expect="failed")
        assert job["error"]["code"] == "tls_verify_failed"
        daemon.run("DELETE", "/api/v1/connections/" + daemon.all_items("/api/v1/connections")[0]["id"])
        # pinned to another certificate: refused
        job = daemon.run("POST", "/api/v1/connections",
                         {"type": "kvm", "url": a.base, "token": TOKEN, "ca_cert": other_pem},
                         expect="failed")
        assert job["error"]["code"] == "tls_verify_failed"
        daemon.run("DELETE", "/api/v1/connections/" + daemon.all_items("/api/v1/connections")[0]["id"])
        # pinned to its own: connected, and the pin is never shown
        daemon.run("POST", "/api/v1/connections",
                   {"type": "kvm", "url": a.base, "token": TOKEN, "ca_cert": pem})
        conn = daemon.all_items("/api/v1/connections")[0]
        assert conn["state"] == "connected" and "ca_cert" not in conn
        assert len(daemon.all_items("/api/v1/vms")) == 2
        r = daemon.post("/api/v1/connections", {"type": "kvm", "url": a.base + "/x", "token": TOKEN,
                                                "ca_cert": "not a certificate"})
        assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "ca_cert"
    finally:
        a.stop()


def test_new_volumes_and_delete_with_disks(kvm):
    agent = kvm.agent
    job = kvm.run("POST", "/api/v1/vms", {"name": "db1", "vcpus": 1, "memory_mb": 128,
                                          "disks": [{"size_gb": 10}, {"size_gb": 2, "pool": "default"}]})
    vm = kvm.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
    paths = [d["path"] for d in vm["disks"]]
    assert paths == ["/polyvisor-demo/images/db1-0.qcow2", "/polyvisor-demo/images/db1-1.qcow2"]
    assert all(d["bus"] == "virtio" for d in vm["disks"])
    # a spec that fails after its volumes were made leaves no volume behind
    r = agent.call("POST", "/v1/vms", {"name": "db1", "vcpus": 1, "memory_mb": 128,
                                       "disks": [{"size_gb": 1}]})
    assert r.json()["error"]["code"] == "name_in_use"
    r = agent.call("POST", "/v1/vms", {"name": "x", "vcpus": 1, "memory_mb": 128,
                                       "disks": [{"size_gb": 1, "pool": "nope"}]})
    assert r.json()["error"]["code"] == "unknown_pool"
    # the volumes exist until the VM goes with its disks
    r = agent.call("POST", "/v1/vms", {"name": "db2", "vcpus": 1, "memory_mb": 128,
                                       "disks": [{"path": paths[0]}]})
    assert r.status_code == 201
    agent.call("DELETE", "/v1/vms/" + r.json()["uuid"])
    r = kvm.delete("/api/v1/vms/%s?delete_disks=maybe" % vm["id"])
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "delete_disks"
    kvm.run("DELETE", "/api/v1/vms/%s?delete_disks=true" % vm["id"])
    # the disks went with it: a VM of that name can have new volumes of those names again
    job = kvm.run("POST", "/api/v1/vms", {"name": "db1", "vcpus": 1, "memory_mb": 128,
                                          "disks": [{"size_gb": 1}]})
    assert kvm.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])["disks"][0]["path"] == paths[0]
    # and a plain delete keeps them: the name's volume is still there
    kvm.run("DELETE", "/api/v1/vms/" + job["result"]["vm_id"])
    job = kvm.run("POST", "/api/v1/vms", {"name": "db1", "vcpus": 1, "memory_mb": 128,
                                          "disks": [{"size_gb": 1}]}, expect="failed")
    assert job["error"]["code"] == "volume_exists"


def test_agent_routes_are_a_table(agent):
    """The agent routes with lib/router, as polyvisord does: a wrong method
    is 405 with Allow, an unknown path 404, deleting by a POST action is no
    route, and a literal segment wins over a capture."""
    r = agent.call("DELETE", "/v1/host")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers["Allow"] == "GET, HEAD"
    r = agent.call("GET", "/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "route_not_found"
    uuid = agent.call("GET", "/v1/vms").json()["items"][0]["uuid"]
    r = agent.call("POST", "/v1/vms/%s/delete" % uuid)
    assert r.status_code == 404 and r.json()["error"]["code"] == "route_not_found"
    r = agent.call("GET", "/v1/vms/%s/migration" % uuid)  # not taken for an action
    assert r.status_code in (200, 404) and r.json().get("error", {}).get("code") != "route_not_found"


def test_pools_and_networks_of_a_kvm_host(kvm):
    """The host's storage pools and networks become inventory objects of
    their own, each with the hosts that reach it, as the agent reads them
    from libvirt; the host names them in pool_ids and network_ids."""
    raw = kvm.agent.call("GET", "/v1/pools").json()["items"]
    assert [(p["name"], p["type"]) for p in raw] == [("default", "dir")]
    host = kvm.all_items("/api/v1/hosts")[0]
    pools = kvm.all_items("/api/v1/storage-pools")
    assert [p["name"] for p in pools] == ["default"]
    p = pools[0]
    assert p["vendor"] == "kvm" and p["connection_id"] == kvm.conn_id and p["kind"] == "dir"
    assert p["native_id"] == raw[0]["uuid"] and p["host_ids"] == [host["id"]]
    assert p["capacity_mb"] == raw[0]["capacity_mb"] > 0 and 0 <= p["free_mb"] <= p["capacity_mb"]
    assert p["shared"] is False
    assert kvm.ok("GET", "/api/v1/storage-pools/" + p["id"]) == p
    nets = kvm.all_items("/api/v1/networks")
    libvirt_net = [n for n in nets if n["kind"] == "network"]
    assert [n["name"] for n in libvirt_net] == ["default"]
    assert libvirt_net[0]["host_ids"] == [host["id"]] and libvirt_net[0]["vlan"] is None
    # libvirt's test driver describes a made-up host: this machine's bridges are not its
    # own (a bridge of the test's own, no address, no port, is there while the agent is asked)
    assert [n["name"] for n in nets if n["kind"] == "bridge"] == []
    br = "pvtb" + os.urandom(4).hex()
    if subprocess.run(["ip", "link", "add", br, "type", "bridge"]).returncode == 0:
        try:
            assert br not in [n["name"] for n in kvm.agent.call("GET", "/v1/networks").json()["items"]]
        finally:
            subprocess.run(["ip", "link", "del", br])
    host = kvm.ok("GET", "/api/v1/hosts/" + host["id"])
    assert host["pool_ids"] == [p["id"]]
    assert sorted(host["network_ids"]) == sorted(n["id"] for n in nets)
    # the collections take the one query language
    assert kvm.ok("GET", "/api/v1/storage-pools?filter=kind eq 'dir'&fields=id,name")["items"] == \
        [{"id": p["id"], "name": "default"}]
    assert kvm.get("/api/v1/networks/net-nope").json()["error"]["code"] == "network_not_found"
    assert kvm.get("/api/v1/storage-pools/nope").json()["error"]["code"] == "storage_pool_not_found"
    # a second sync keeps the ids
    kvm.run("POST", "/api/v1/connections/%s/sync" % kvm.conn_id)
    assert [x["id"] for x in kvm.all_items("/api/v1/storage-pools")] == [p["id"]]
    # and removing the connection removes what it brought
    kvm.run("DELETE", "/api/v1/connections/" + kvm.conn_id)
    assert kvm.all_items("/api/v1/storage-pools") == [] and kvm.all_items("/api/v1/networks") == []


def test_disks_and_nics_by_id_at_create_and_as_reported(kvm):
    """A disk by pool_id and a NIC by network_id: the VM is made in them, and
    its disks and NICs come back with ids of their own, the pool's and the
    network's ids, exact sizes, bus, MAC and model.  Ids the host cannot use
    are refused before a job is made."""
    host = kvm.all_items("/api/v1/hosts")[0]
    pool = kvm.all_items("/api/v1/storage-pools")[0]
    net = [n for n in kvm.all_items("/api/v1/networks") if n["kind"] == "network"][0]
    job = kvm.run("POST", "/api/v1/vms", {
        "name": "dev-1", "vcpus": 1, "memory_mb": 128, "host_id": host["id"],
        "disks": [{"size_gb": 2, "pool_id": pool["id"]}], "nics": [{"network_id": net["id"]}]})
    vm = kvm.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
    [disk], [nic] = vm["disks"], vm["nics"]
    assert disk["pool_id"] == pool["id"] and disk["size_gb"] == 2 and disk["size_mb"] == 2048
    assert disk["id"].startswith("disk-") and disk["bus"] == "virtio" and disk["path"].endswith("dev-1-0.qcow2")
    assert nic["network_id"] == net["id"] and nic["id"].startswith("nic-") and nic["model"] == "virtio"
    assert len(nic["mac"]) == 17
    # the ids stay across reads
    kvm.run("POST", "/api/v1/connections/%s/sync" % kvm.conn_id)
    again = kvm.ok("GET", "/api/v1/vms/" + vm["id"])
    assert [d["id"] for d in again["disks"]] == [disk["id"]] and [n["id"] for n in again["nics"]] == [nic["id"]]
    # what cannot be used is a 400 with a stable code, and no job
    base = {"name": "dev-2", "vcpus": 1, "memory_mb": 128, "host_id": host["id"]}
    for extra, code in (({"disks": [{"size_gb": 1, "pool_id": "pool-nope"}]}, "unknown_pool"),
                        ({"nics": [{"network_id": "net-nope"}]}, "unknown_network"),
                        ({"disks": [{"size_gb": 1, "pool_id": pool["id"], "pool": "default"}]}, "invalid_value"),
                        ({"nics": [{"network_id": net["id"], "bridge": "br0"}]}, "invalid_value")):
        jobs = len(kvm.all_items("/api/v1/jobs"))
        r = kvm.post("/api/v1/vms", dict(base, **extra))
        assert r.status_code == 400 and r.json()["error"]["code"] == code, (extra, r.text)
        assert len(kvm.all_items("/api/v1/jobs")) == jobs


def test_a_pool_of_another_connection_is_refused(kvm, tmpdir_path):
    """Two hosts with a pool and a network of the same names: one host's ids
    do not make disks or NICs on the other."""
    other = Agent(tmpdir_path, name="agent-b").start()
    try:
        kvm.run("POST", "/api/v1/connections", {"type": "kvm", "url": other.base, "token": TOKEN})
        hosts = kvm.all_items("/api/v1/hosts")
        mine = [h for h in hosts if h["connection_id"] == kvm.conn_id][0]
        theirs = [h for h in hosts if h["connection_id"] != kvm.conn_id][0]
        for coll, key, code in (("storage-pools", "disks", "unknown_pool"), ("networks", "nics", "unknown_network")):
            obj = [o for o in kvm.all_items("/api/v1/" + coll) if o["host_ids"] == [theirs["id"]]][0]
            item = {"size_gb": 1, "pool_id": obj["id"]} if key == "disks" else {"network_id": obj["id"]}
            r = kvm.post("/api/v1/vms", {"name": "x-conn", "vcpus": 1, "memory_mb": 128,
                                         "host_id": mine["id"], key: [item]})
            assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
            assert "belongs to another connection" in r.json()["error"]["message"]
            # without host_id, placement takes the host that reaches it, and says why not the other
            job = kvm.run("POST", "/api/v1/vms", {"name": "placed-" + key, "vcpus": 1, "memory_mb": 128,
                                                  key: [item]}, timeout=60)
            assert job["result"]["host_id"] == theirs["id"], job["result"]
            want = "pool_unreachable" if key == "disks" else "network_unreachable"
            assert job["result"]["placement"]["rejected_by"] == {want: 1}, job["result"]["placement"]
        # a disk bigger than the pool's free space: no host takes it
        pool = [o for o in kvm.all_items("/api/v1/storage-pools") if o["host_ids"] == [theirs["id"]]][0]
        job = kvm.run("POST", "/api/v1/vms", {"name": "too-big", "vcpus": 1, "memory_mb": 128, "disks": [
            {"size_gb": pool["free_mb"] // 1024 + 1, "pool_id": pool["id"]}]}, expect="failed", timeout=60)
        assert job["error"]["code"] == "no_eligible_host", job["error"]
        assert "insufficient_storage" in json.dumps(job["result"]), job["result"]
    finally:
        other.stop()


def test_an_id_nothing_has_is_refused_before_placement(kvm):
    """Without host_id placement picks the host, but a pool_id or network_id
    that names nothing is a 400 before any job, not a job that fails with
    no_eligible_host."""
    jobs = len(kvm.all_items("/api/v1/jobs"))
    for key, item, code in (("disks", {"size_gb": 1, "pool_id": "pool-nope"}, "unknown_pool"),
                            ("nics", {"network_id": "net-nope"}, "unknown_network")):
        r = kvm.post("/api/v1/vms", {"name": "nothing-" + key, "vcpus": 1, "memory_mb": 128, key: [item]})
        assert r.status_code == 400 and r.json()["error"]["code"] == code, r.text
    assert len(kvm.all_items("/api/v1/jobs")) == jobs
