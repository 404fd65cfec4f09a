"""A VM's snapshots through polyvisord's API (GET/POST /vms/{id}/snapshots,
.../revert, DELETE ...[?children=true]) as vm.snapshot jobs on real libvirt +
QEMU/KVM, with the truth from virsh (snapshot-list --tree, snapshot-current,
domstate) and from the disk image itself (qemu-io reads back what a revert
restored) -- never from our own API; and on libvirt's test driver.  Skipped,
saying so, only where /dev/kvm is absent."""
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import Daemon
from kvm_rig import TOKEN, Agent, virsh
from test_kvm_devices import URI, SlowProxy, libvirtd  # noqa: F401 (a fixture: the real libvirtd)


@pytest.fixture
def rig(libvirtd, tmpdir_path):
    """A dir pool, an agent and polyvisord; a stopped VM with one qcow2 disk
    the agent made.  Everything is removed again."""
    tag = uuid.uuid4().hex[:6]
    r = type("Rig", (), {})()
    r.pool, r.name = "pv-snap-pool-" + tag, "pv-snap-" + tag
    r.pooldir = os.path.join(tmpdir_path, r.pool)
    os.makedirs(r.pooldir)
    os.chmod(tmpdir_path, 0o755)
    assert virsh(URI, "pool-create-as", r.pool, "dir", "--target", r.pooldir).returncode == 0
    data = os.path.join(tmpdir_path, "data")
    os.makedirs(data)
    agent = Agent(tmpdir_path, uri=URI).start()
    r.proxy = SlowProxy(agent.base)
    r.proxy.paths = ("/snapshots",)
    d = Daemon(data).start()
    r.d, r.agent = d, agent
    try:
        d.run("POST", "/api/v1/connections", {"type": "kvm", "url": r.proxy.base, "token": TOKEN})
        host = d.all_items("/api/v1/hosts")[0]
        pools = {p["name"]: p for p in d.all_items("/api/v1/storage-pools")}
        job = d.run("POST", "/api/v1/vms", {"name": r.name, "vcpus": 1, "memory_mb": 128,
                                            "host_id": host["id"],
                                            "disks": [{"size_gb": 1, "pool_id": pools[r.pool]["id"]}]},
                    timeout=60)
        r.vm_id = job["result"]["vm_id"]
        r.uuid = d.ok("GET", "/api/v1/vms/" + r.vm_id)["native_id"]
        r.disk = os.path.join(r.pooldir, r.name + "-0.qcow2")
        yield r
    finally:
        d.stop()
        r.proxy.stop()
        agent.stop()
        if virsh(URI, "domstate", r.name).returncode == 0:
            virsh(URI, "destroy", r.name)
            virsh(URI, "undefine", r.name, "--managed-save", "--snapshots-metadata",
                  "--remove-all-storage")
        virsh(URI, "pool-destroy", r.pool)


def tree(name):
    """virsh's snapshot tree as text, and {name: parent or None} from it."""
    out = virsh(URI, "snapshot-list", name, "--parent").stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    return {row[0]: (row[-1] if row[-1] not in ("-",) and len(row) > 5 else None) for row in rows}


def current(name):
    r = virsh(URI, "snapshot-current", name, "--name")
    return r.stdout.strip() if r.returncode == 0 else None


def qemu_io(path, cmd):
    return subprocess.run(["qemu-io", "-f", "qcow2", "-c", cmd, path], capture_output=True,
                          text=True, timeout=60)


def snaps(d, vm_id):
    return {s["name"]: s for s in d.ok("GET", "/api/v1/vms/%s/snapshots" % vm_id)["items"]}


def test_snapshots_on_real_kvm(rig):
    r, d = rig, rig.d
    base = "/api/v1/vms/%s/snapshots" % r.vm_id
    assert d.ok("GET", base) == {"items": [], "next_cursor": None}

    # a stopped VM: a disk-only internal snapshot; the disk's bytes come back on revert
    assert qemu_io(r.disk, "write -P 0xaa 0 64k").returncode == 0
    job = d.run("POST", base, {"name": "s1"}, timeout=120)
    s1 = snaps(d, r.vm_id)["s1"]
    assert job["result"]["snapshot_id"] == s1["id"]
    assert s1["memory"] is False and s1["current"] is True and s1["parent_id"] is None
    assert "s1" in virsh(URI, "snapshot-list", r.name, "--tree").stdout
    assert current(r.name) == "s1"
    assert "s1" in subprocess.run(["qemu-img", "snapshot", "-l", r.disk], capture_output=True,
                                  text=True).stdout  # internal: inside the qcow2 image
    assert qemu_io(r.disk, "write -P 0xbb 0 64k").returncode == 0
    d.run("POST", "%s/%s/revert" % (base, s1["id"]), timeout=120)
    check = qemu_io(r.disk, "read -P 0xaa 0 64k")
    assert check.returncode == 0 and "Pattern verification failed" not in check.stdout, check.stdout
    assert virsh(URI, "domstate", r.name).stdout.strip() == "shut off"

    # refusals before a job, nothing changed
    resp = d.post(base, {"name": "s1"})
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "snapshot_exists", resp.text
    resp = d.post(base + "/snap-000000000000/revert")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "snapshot_not_found"
    resp = d.delete(base + "/snap-000000000000")
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "snapshot_not_found"
    resp = d.post(base, {"name": "m", "memory": True})  # stopped: no memory to keep
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "not_running", resp.text
    for bad in ({}, {"name": ""}, {"name": "x", "memory": "yes"}, {"name": "x", "bogus": 1}):
        assert d.post(base, bad).status_code == 400, bad

    # running: memory false would be an external snapshot libvirt cannot revert: refused
    d.run("POST", "/api/v1/vms/%s/start" % r.vm_id, timeout=60)
    job = d.run("POST", base, {"name": "nomem", "memory": False}, timeout=60, expect="failed")
    assert job["error"]["code"] == "unsupported_by_backend", job
    assert "memory" in job["error"]["message"]
    assert set(tree(r.name)) == {"s1"}

    # running, memory by default: a child of s1, current; poweroff, revert: running again
    d.run("POST", base, {"name": "s2"}, timeout=180)
    got = snaps(d, r.vm_id)
    assert got["s2"]["memory"] is True and got["s2"]["current"] is True
    assert got["s2"]["parent_id"] == got["s1"]["id"] and got["s1"]["current"] is False
    assert tree(r.name) == {"s1": None, "s2": "s1"}
    assert current(r.name) == "s2"

    # libvirt cannot migrate a VM with snapshots: the agent refuses both kinds
    # of migration before anything starts, and the VM runs on untouched
    for path, body in (("migrate", {"dest_uri": "qemu+tcp://10.99.0.2/system",
                                    "data_uri": "tcp://10.99.0.2"}), ("export", None)):
        resp = r.agent.call("POST", "/v1/vms/%s/%s" % (r.uuid, path), body)
        assert resp.status_code == 409, (path, resp.text)
        assert resp.json()["error"]["code"] == "vm_has_snapshots", resp.text
        assert "snapshot" in resp.json()["error"]["message"]
    assert virsh(URI, "domstate", r.name).stdout.strip() == "running"
    d.run("POST", "/api/v1/vms/%s/poweroff" % r.vm_id, timeout=60)
    assert virsh(URI, "domstate", r.name).stdout.strip() == "shut off"
    d.run("POST", "%s/%s/revert" % (base, got["s2"]["id"]), timeout=180)
    assert virsh(URI, "domstate", r.name).stdout.strip() == "running"
    assert d.ok("GET", "/api/v1/vms/" + r.vm_id)["power_state"] == "running"

    # delete s1 with its children: nothing left in libvirt
    d.run("DELETE", "%s/%s?children=true" % (base, got["s1"]["id"]), timeout=120)
    assert tree(r.name) == {}
    assert d.ok("GET", base)["items"] == []


def test_kill9_mid_snapshot_is_not_repeated(rig):
    """polyvisord killed after the agent took, reverted to or deleted a
    snapshot and before it heard so: after the restart the job's reconcile
    reads the tree again, finds the change made, and succeeds without making
    it twice (no second snapshot, no second revert)."""
    r, d = rig, rig.d
    base = "/api/v1/vms/%s/snapshots" % r.vm_id
    d.run("POST", base, {"name": "k0"}, timeout=60)

    def killed_mid(method, path, body, made):
        r.proxy.delay = 4
        job = d.submit(method, path, body)
        deadline = time.time() + 30
        while time.time() < deadline and not made():
            time.sleep(0.05)
        assert made()
        assert d.ok("GET", "/api/v1/jobs/" + job)["state"] == "running"
        d.stop(signal.SIGKILL)
        r.proxy.delay = 0
        d.start()
        done = d.wait_job(job, timeout=60)
        assert done["state"] == "succeeded", done
        assert "event=reconciled job=%s" % job in d.log()
        return done

    done = killed_mid("POST", base, {"name": "k1"}, lambda: "k1" in tree(r.name))
    assert tree(r.name) == {"k0": None, "k1": "k0"} and current(r.name) == "k1"
    assert done["result"]["snapshot_id"] == snaps(d, r.vm_id)["k1"]["id"]
    k0 = snaps(d, r.vm_id)["k0"]
    killed_mid("POST", "%s/%s/revert" % (base, k0["id"]), None, lambda: current(r.name) == "k0")
    assert current(r.name) == "k0"
    killed_mid("DELETE", "%s/%s" % (base, snaps(d, r.vm_id)["k1"]["id"]), None,
               lambda: "k1" not in tree(r.name))
    assert tree(r.name) == {"k0": None}


def test_what_qemu_cannot_snapshot_is_refused_first(rig):
    """A VM without a qcow2 file disk has nowhere to keep an internal
    snapshot: the job fails unsupported_by_backend with that reason, and
    libvirt has no snapshot (nor half of one) afterwards."""
    r, d = rig, rig.d
    host = d.ok("GET", "/api/v1/vms/" + r.vm_id)["host_id"]
    name = r.name + "-nodisk"
    job = d.run("POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mb": 128, "host_id": host},
                timeout=60)
    vm_id = job["result"]["vm_id"]
    try:
        for running in (False, True):
            if running:
                d.run("POST", "/api/v1/vms/%s/start" % vm_id, timeout=60)
            job = d.run("POST", "/api/v1/vms/%s/snapshots" % vm_id, {"name": "s"}, timeout=60,
                        expect="failed")
            assert job["error"]["code"] == "unsupported_by_backend", job
            assert "no disk" in job["error"]["message"] and "qcow2" in job["error"]["message"]
            assert tree(name) == {}
    finally:
        virsh(URI, "destroy", name)
        virsh(URI, "undefine", name, "--managed-save", "--snapshots-metadata")


def test_migrating_a_vm_with_snapshots_is_refused(daemon, tmpdir_path):
    """Two KVM agents on libvirt's test driver: a VM with a snapshot is not
    moved, live or quick -- the job fails vm_has_snapshots, saying why, and
    the VM stays where it was, running, its snapshot with it; without the
    snapshot the same quick migration goes through."""
    d, agents = daemon, []
    try:
        for n in ("a", "b"):
            path = os.path.join(tmpdir_path, n)
            os.makedirs(path)
            # a migration URI, so that a live move gets as far as the source agent
            agents.append(Agent(path, migration_uri="test+tcp://127.0.0.1/default").start())
            d.run("POST", "/api/v1/connections", {"type": "kvm", "url": agents[-1].base, "token": TOKEN})
        hosts = sorted(d.all_items("/api/v1/hosts"), key=lambda h: h["id"])
        job = d.run("POST", "/api/v1/vms", {"name": "snapmove", "vcpus": 1, "memory_mb": 128,
                                            "host_id": hosts[0]["id"]})
        vm_id = job["result"]["vm_id"]
        d.run("POST", "/api/v1/vms/%s/start" % vm_id)
        d.run("POST", "/api/v1/vms/%s/snapshots" % vm_id, {"name": "keep"})
        for mode in ("quick", "live"):
            job = d.run("POST", "/api/v1/vms/%s/migrate" % vm_id,
                        {"host_id": hosts[1]["id"], "mode": mode}, expect="failed")
            assert job["error"]["code"] == "vm_has_snapshots", job
            assert "snapshot" in job["error"]["message"]
            vm = d.ok("GET", "/api/v1/vms/" + vm_id)
            assert vm["host_id"] == hosts[0]["id"] and vm["power_state"] == "running"
            assert [s["name"] for s in d.ok("GET", "/api/v1/vms/%s/snapshots" % vm_id)["items"]] == ["keep"]
        sid = d.ok("GET", "/api/v1/vms/%s/snapshots" % vm_id)["items"][0]["id"]
        d.run("DELETE", "/api/v1/vms/%s/snapshots/%s" % (vm_id, sid))
        job = d.run("POST", "/api/v1/vms/%s/migrate" % vm_id, {"host_id": hosts[1]["id"], "mode": "quick"})
        assert d.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])["host_id"] == hosts[1]["id"]
    finally:
        for a in agents:
            a.stop()
