"""The adapter contract: one suite, run through polyvisord's REST API against
every adapter that can run here without special hardware -- the test
adapter, the kvm adapter (its agents on libvirt's test driver), the vcenter
adapter (against VMware's vcsim), the hyperv adapter (against our Hyper-V
simulator) and the toy adapter (tests/adapters/toy: a vendor added without
touching server/ or webui/).  Whatever the hypervisor, the same calls give the same states
and the same refusal codes; a step the vendor has no such thing for (vSphere
has no pause, Hyper-V's WMI no clone) must then fail unsupported_by_backend,
where the adapter says so in its capabilities."""
import os
import uuid

import pytest

from kvm_rig import TOKEN, Agent
from test_hyperv import Sim
from test_vcenter import Vcsim, vcsim_bin  # noqa: F401 (a fixture, used by name)
from toy import with_toy

VM_FIELDS = ("id", "name", "host_id", "connection_id", "vendor", "native_id", "power_state",
             "vcpus", "memory_mb", "ha", "observed_at")
HOST_FIELDS = ("id", "name", "vendor", "connection_id", "cluster_id", "state", "cpu_cores",
               "memory_mb", "memory_used_mb", "cpu_usage_pct")


@pytest.fixture(params=["test", "kvm", "vcenter", "hyperv", "toy"])
def backend(request, daemon, tmpdir_path):
    """A daemon with two hosts of one vendor; yields (daemon, [host, host])."""
    agents, peers = [], []
    if request.param == "test":
        daemon.add_test_connection(os.path.join(tmpdir_path, "world.json"))
    elif request.param == "kvm":
        for n in ("a", "b"):
            d = os.path.join(tmpdir_path, n)
            os.makedirs(d)
            agents.append(Agent(d).start())
            daemon.run("POST", "/api/v1/connections",
                       {"type": "kvm", "url": agents[-1].base, "token": TOKEN})
    elif request.param == "toy":
        with_toy(daemon, tmpdir_path)
        daemon.run("POST", "/api/v1/connections", {"type": "toy", "url": "toy://contract"})
    elif request.param == "vcenter":
        vc = Vcsim(request.getfixturevalue("vcsim_bin"), os.path.join(tmpdir_path, "vcsim"))
        peers.append(vc.start("-dc", "1", "-cluster", "1", "-host", "2", "-standalone-host", "0",
                              "-vm", "1"))
        daemon.run("POST", "/api/v1/connections", vc.connection(), timeout=60)
    else:
        sim = Sim(os.path.join(tmpdir_path, "hvsim"))
        peers.append(sim.start())
        for host in sorted(sim.urls):
            daemon.run("POST", "/api/v1/connections", sim.connection(host), timeout=60)
    hosts = sorted(daemon.all_items("/api/v1/hosts"), key=lambda h: h["id"])
    assert len(hosts) == 2
    daemon.vendor = request.param
    caps = [a for a in daemon.ok("GET", "/api/v1/adapters")["items"] if a["name"] == request.param]
    daemon.caps = set(caps[0]["capabilities"])
    yield daemon, hosts
    for a in agents:
        a.stop()
    for p in peers:
        p.stop()


def create(d, host, **extra):
    body = {"name": "c-" + uuid.uuid4().hex[:8], "vcpus": 1, "memory_mb": 128, "host_id": host["id"]}
    body.update(extra)
    job = d.run("POST", "/api/v1/vms", body)
    return d.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])


def act(d, vm, action, expect="succeeded"):
    job = d.run("POST", "/api/v1/vms/%s/%s" % (vm["id"], action), expect=expect)
    return job if expect != "succeeded" else d.ok("GET", "/api/v1/vms/" + vm["id"])


def test_inventory_shape(backend):
    d, hosts = backend
    for h in hosts:
        assert all(k in h for k in HOST_FIELDS)
        assert h["vendor"] == d.vendor and h["state"] == "connected"
        assert h["cpu_cores"] > 0 and h["memory_mb"] > 0
    for v in d.all_items("/api/v1/vms"):
        assert all(k in v for k in VM_FIELDS)
        assert v["vendor"] == d.vendor and v["host_id"] in [h["id"] for h in hosts]


def test_create_and_lifecycle(backend):
    d, hosts = backend
    vm = create(d, hosts[0], paravirtual=False)
    assert vm["power_state"] == "stopped" and vm["host_id"] == hosts[0]["id"]
    assert vm["vcpus"] == 1 and vm["memory_mb"] == 128 and vm["vendor"] == d.vendor
    steps = [("start", "running"), ("pause", "paused"), ("resume", "running"),
             ("reboot", "running"), ("save", "saved"), ("start", "running"),
             ("shutdown", "stopped"), ("start", "running"), ("poweroff", "stopped")]
    for action, state in steps:
        if action in ("pause", "resume") and "pause" not in d.caps:
            job = act(d, vm, action, "failed")
            assert job["error"]["code"] == "unsupported_by_backend", action
            continue
        if action == "shutdown" and d.vendor == "vcenter":
            act(d, vm, "poweroff")  # vcsim's guests run no VMware Tools (test_vcenter covers it)
            continue
        assert act(d, vm, action)["power_state"] == state, action
    d.run("DELETE", "/api/v1/vms/" + vm["id"])
    assert d.get("/api/v1/vms/" + vm["id"]).status_code == 404


def test_refusals_share_codes(backend):
    d, hosts = backend
    vm = create(d, hosts[0])
    job = d.run("POST", "/api/v1/vms", {"name": vm["name"], "vcpus": 1, "memory_mb": 128,
                                        "host_id": hosts[0]["id"]}, expect="failed")
    assert job["error"]["code"] == "name_in_use"
    pause = "pause" in d.caps
    if pause:
        assert act(d, vm, "pause", "failed")["error"]["code"] == "not_running"
        assert act(d, vm, "resume", "failed")["error"]["code"] == "not_paused"
    assert act(d, vm, "poweroff", "failed")["error"]["code"] == "already_stopped"
    act(d, vm, "start")
    assert act(d, vm, "start", "failed")["error"]["code"] == "already_running"
    job = d.run("DELETE", "/api/v1/vms/" + vm["id"], expect="failed")
    assert job["error"]["code"] == "vm_running"
    if pause:
        act(d, vm, "pause")
        assert act(d, vm, "start", "failed")["error"]["code"] == "vm_paused"


def test_quick_migration(backend):
    d, hosts = backend
    vm = create(d, hosts[0])
    act(d, vm, "start")
    d.ok("PATCH", "/api/v1/vms/" + vm["id"], {"ha": "high", "tags": ["db", "prod"]})
    job = d.run("POST", "/api/v1/vms/%s/migrate" % vm["id"],
                {"host_id": hosts[1]["id"], "mode": "quick"})
    moved = d.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
    assert moved["host_id"] == hosts[1]["id"] and moved["power_state"] == "running"
    assert moved["name"] == vm["name"]
    # it is the same VM to Polyvisor: same id, same settings
    assert moved["id"] == vm["id"]
    assert moved["ha"] == "high" and moved["tags"] == ["db", "prod"]
    assert [v["name"] for v in d.all_items("/api/v1/vms")].count(vm["name"]) == 1


def test_clone(backend):
    d, hosts = backend
    vm = create(d, hosts[0])
    name = "k-" + uuid.uuid4().hex[:8]
    body = {"name": name, "host_id": hosts[1]["id"], "vcpus": 2, "memory_mb": 256}
    if "clone" not in d.caps:  # asked for on the VM's own host: no placement refusal first
        body["host_id"] = hosts[0]["id"]
        job = d.run("POST", "/api/v1/vms/%s/clone" % vm["id"], body, expect="failed")
        assert job["error"]["code"] == "unsupported_by_backend"
        return
    job = d.run("POST", "/api/v1/vms/%s/clone" % vm["id"], body, timeout=60)
    copy = d.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
    assert copy["name"] == name and copy["host_id"] == hosts[1]["id"]
    assert copy["power_state"] == "stopped" and copy["vendor"] == d.vendor
    assert copy["vcpus"] == 2 and copy["memory_mb"] == 256
    assert copy["id"] != vm["id"] and copy["native_id"] != vm["native_id"]
    # the source is untouched, and a second clone of that name is refused
    assert d.ok("GET", "/api/v1/vms/" + vm["id"])["vcpus"] == 1
    job = d.run("POST", "/api/v1/vms/%s/clone" % vm["id"], body, expect="failed", timeout=60)
    assert job["error"]["code"] == "name_in_use"


def test_device_changes(backend):
    """A VM's disks and NICs (POST/DELETE /vms/{id}/disks, /nics): the
    refusals every vendor shares, and a disk added through a job.  A vendor
    without the 'devices' capability is refused up front, before a job;
    its other device steps are skipped, saying so."""
    d, hosts = backend
    vm = create(d, hosts[0])
    base = "/api/v1/vms/" + vm["id"]
    if "devices" not in d.caps:
        for r in (d.post(base + "/disks", {"size_gb": 1}), d.post(base + "/nics", {"network": "x"}),
                  d.delete(base + "/disks/disk-000000000000")):
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == "unsupported_by_backend"
            assert "devices" in r.json()["error"]["message"]
        assert d.ok("GET", base)["disks"] == vm["disks"]
        assert not [j for j in d.all_items("/api/v1/jobs") if j["kind"] == "vm.device"]
        pytest.skip("the %s adapter has no 'devices' capability: only its up-front refusal "
                    "is checked" % d.vendor)
    for r, status, code in [
            (d.delete(base + "/disks/disk-000000000000"), 404, "disk_not_found"),
            (d.post(base + "/disks/disk-000000000000/resize", {"size_gb": 2}), 404, "disk_not_found"),
            (d.delete(base + "/nics/nic-000000000000"), 404, "nic_not_found"),
            (d.patch(base + "/nics/nic-000000000000", {"network": "x"}), 404, "nic_not_found"),
            (d.post(base + "/disks", {"size_gb": 1, "pool_id": "pool-none"}), 400, "unknown_pool"),
            (d.post(base + "/nics", {"network_id": "net-none"}), 400, "unknown_network")]:
        assert r.status_code == status and r.json()["error"]["code"] == code, r.text
    # a pool or network only the other host reaches: another connection's (one KVM
    # agent is one connection) is unknown here; one of the same connection unreachable
    for coll, field, codes in (("storage-pools", "pool_id", ("unknown_pool", "pool_unreachable")),
                               ("networks", "network_id", ("unknown_network", "network_unreachable"))):
        other = [x for x in d.all_items("/api/v1/" + coll)
                 if hosts[0]["id"] not in x["host_ids"] and hosts[1]["id"] in x["host_ids"]]
        for x in other[:1]:
            body = {field: x["id"], "size_gb": 1} if field == "pool_id" else {field: x["id"]}
            r = d.post(base + ("/disks" if field == "pool_id" else "/nics"), body)
            want = codes[0] if x["connection_id"] != vm["connection_id"] else codes[1]
            assert r.status_code == 400 and r.json()["error"]["code"] == want, r.text
    pools = [p for p in d.all_items("/api/v1/storage-pools") if hosts[0]["id"] in p["host_ids"]]
    body = {"size_gb": 1}
    if pools:
        body["pool_id"] = max(pools, key=lambda p: p["free_mb"])["id"]
    for attempt in range(2):
        job = d.wait_job(d.submit("POST", base + "/disks", body))
        if job["state"] == "succeeded":
            assert job["result"]["disk_id"] in [x["id"] for x in d.ok("GET", base)["disks"]]
            break
        # the endpoint cannot (libvirt's test driver has no attach call): a failed
        # job, nothing left behind -- the second try is refused the same way, not
        # with volume_exists
        assert job["state"] == "failed" and job["error"]["code"] == "unsupported_by_backend", job
        assert d.ok("GET", base)["disks"] == vm["disks"]


def test_snapshots(backend):
    """A VM's snapshots (GET/POST /vms/{id}/snapshots, .../revert, DELETE):
    a tree with parent_id and current, revert, delete with children.  A
    vendor without the 'snapshots' capability is refused up front, before a
    job; its other snapshot steps are skipped, saying so."""
    d, hosts = backend
    vm = create(d, hosts[0])
    base = "/api/v1/vms/%s/snapshots" % vm["id"]
    if "snapshots" not in d.caps:
        for r in (d.get(base), d.post(base, {"name": "s1"}),
                  d.post(base + "/snap-000000000000/revert"), d.delete(base + "/snap-000000000000")):
            assert r.status_code == 422, r.text
            assert r.json()["error"]["code"] == "unsupported_by_backend"
            assert "snapshots" in r.json()["error"]["message"]
        assert not [j for j in d.all_items("/api/v1/jobs") if j["kind"] == "vm.snapshot"]
        pytest.skip("the %s adapter has no 'snapshots' capability: only its up-front refusal "
                    "is checked" % d.vendor)
    assert d.ok("GET", base)["items"] == []
    d.run("POST", base, {"name": "s1"}, timeout=60)
    act(d, vm, "start")
    job = d.run("POST", base, {"name": "s2"}, timeout=60)
    got = {s["name"]: s for s in d.ok("GET", base)["items"]}
    assert set(got) == {"s1", "s2"}
    assert got["s2"]["id"] == job["result"]["snapshot_id"]
    assert got["s2"]["parent_id"] == got["s1"]["id"] and got["s1"]["parent_id"] is None
    assert got["s2"]["current"] and not got["s1"]["current"]
    assert got["s2"]["memory"] is True and got["s1"]["memory"] is False
    for r, status, code in [(d.post(base, {"name": "s1"}), 409, "snapshot_exists"),
                            (d.post(base + "/snap-000000000000/revert"), 404, "snapshot_not_found"),
                            (d.delete(base + "/snap-000000000000"), 404, "snapshot_not_found")]:
        assert r.status_code == status and r.json()["error"]["code"] == code, r.text
    d.run("POST", "%s/%s/revert" % (base, got["s1"]["id"]), timeout=60)
    now = {s["name"]: s for s in d.ok("GET", base)["items"]}
    assert now["s1"]["current"] and not now["s2"]["current"]
    if d.vendor != "vcenter":  # vcsim's RevertToSnapshot_Task keeps the power state as it is
        # (govmomi simulator/snapshot.go): unproven there, said in docs/vcenter.md
        assert d.ok("GET", "/api/v1/vms/" + vm["id"])["power_state"] == "stopped"
    d.run("DELETE", "%s/%s?children=true" % (base, got["s1"]["id"]), timeout=60)
    assert d.ok("GET", base)["items"] == []
