"""The test adapter's snapshots (vm_snapshots/vm_snapshot, docs/test-adapter.md
"Snapshots"), through polyvisord's REST API against its default world: a
snapshot keeps the VM's settings and a revert brings them back (running again
only when the snapshot holds memory), a delete moves its children up, a
delete with children takes the subtree, and a snapshot change is a task that
shows progress, can be cancelled and fails with fail=snapshot.  The world
file is the hypervisor, so it is read for the truth."""
import json
import os
import time

import worlds

from conftest import read_world


def vm_named(d, name):
    return [v for v in d.all_items("/api/v1/vms") if v["name"] == name][0]


def world_vm(world, name):
    return [v for v in read_world(world)["vms"] if v["name"] == name][0]


def tree(d, vm):
    return {s["name"]: s for s in d.ok("GET", "/api/v1/vms/%s/snapshots" % vm["id"])["items"]}


def test_revert_brings_back_settings_and_power(lab, world):
    vm = vm_named(lab, "test-vm-2")        # stopped, no disks
    base = "/api/v1/vms/%s/snapshots" % vm["id"]
    # a stopped VM has no memory to keep: refused before anything changes
    r = lab.req("POST", base, json={"name": "x", "memory": True})
    code = r.json()["error"]["code"] if r.status_code != 202 else lab.wait_job(r.json()["id"])["error"]["code"]
    assert code == "not_running", r.text
    lab.run("POST", base, {"name": "empty"})
    pool = [p for p in lab.all_items("/api/v1/storage-pools") if p["native_id"] == "test-pool-local-1"][0]
    lab.run("POST", "/api/v1/vms/%s/disks" % vm["id"], {"size_gb": 1, "pool_id": pool["id"]})
    lab.run("POST", "/api/v1/vms/%s/start" % vm["id"])
    lab.run("POST", base, {"name": "running"})
    snaps = world_vm(world, "test-vm-2")["snapshots"]
    assert [s["name"] for s in snaps] == ["empty", "running"]
    assert snaps[0]["disks"] == [] and len(snaps[1]["disks"]) == 1
    assert snaps[1]["memory"] is True and snaps[0]["memory"] is False
    got = tree(lab, vm)
    assert got["running"]["parent_id"] == got["empty"]["id"] and got["running"]["current"]
    # back to the disk-less, memory-less one: the disk is gone and the VM stopped
    lab.run("POST", "%s/%s/revert" % (base, got["empty"]["id"]))
    now = world_vm(world, "test-vm-2")
    assert now["disks"] == [] and now["power_state"] == "stopped"
    assert lab.ok("GET", "/api/v1/vms/" + vm["id"])["power_state"] == "stopped"
    assert tree(lab, vm)["empty"]["current"] and not tree(lab, vm)["running"]["current"]
    # to the one with memory: the disk is back and the VM runs again
    lab.run("POST", "%s/%s/revert" % (base, got["running"]["id"]))
    now = world_vm(world, "test-vm-2")
    assert len(now["disks"]) == 1 and now["power_state"] == "running"
    assert lab.ok("GET", "/api/v1/vms/" + vm["id"])["power_state"] == "running"


def test_delete_moves_children_up_or_takes_them(lab, world):
    vm = vm_named(lab, "test-vm-1")        # running
    base = "/api/v1/vms/%s/snapshots" % vm["id"]
    for name in ("a", "b", "c"):
        lab.run("POST", base, {"name": name, "memory": False})
    got = tree(lab, vm)
    assert got["c"]["parent_id"] == got["b"]["id"] and got["b"]["parent_id"] == got["a"]["id"]
    assert got["a"]["memory"] is False
    r = lab.req("POST", base, json={"name": "b"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "snapshot_exists", r.text
    lab.run("DELETE", "%s/%s" % (base, got["b"]["id"]))
    now = tree(lab, vm)
    assert set(now) == {"a", "c"} and now["c"]["parent_id"] == got["a"]["id"] and now["c"]["current"]
    assert world_vm(world, "test-vm-1")["power_state"] == "running"  # a delete leaves the VM be
    lab.run("DELETE", "%s/%s?children=true" % (base, got["a"]["id"]))
    assert tree(lab, vm) == {} and world_vm(world, "test-vm-1")["snapshots"] == []


def test_progress_cancel_and_fail(daemon, world):
    daemon.add_test_connection(world, "?delay_ms=2000")
    vm = vm_named(daemon, "test-vm-2")
    base = "/api/v1/vms/%s/snapshots" % vm["id"]
    job_id = daemon.submit("POST", base, {"name": "slow"})
    deadline = time.time() + 10
    while daemon.ok("GET", "/api/v1/jobs/" + job_id)["progress"] < 20 and time.time() < deadline:
        time.sleep(0.05)
    steps = daemon.ok("GET", "/api/v1/jobs/" + job_id)["steps"]
    assert any("taking snapshot 'slow'" in (s.get("detail") or "") for s in steps), steps
    daemon.req("POST", "/api/v1/jobs/%s/cancel" % job_id)
    job = daemon.wait_job(job_id, 15)
    assert job["state"] == "cancelled", job
    assert not world_vm(world, "test-vm-2").get("snapshots")
    assert daemon.ok("GET", base)["items"] == []


def test_fail_snapshot(daemon, world):
    daemon.add_test_connection(world, "?fail=snapshot")
    vm = vm_named(daemon, "test-vm-2")
    job = daemon.run("POST", "/api/v1/vms/%s/snapshots" % vm["id"], {"name": "s"}, expect="failed")
    assert job["error"]["code"] == "backend_failure" and "fail=snapshot" in job["error"]["message"], job
    assert not world_vm(world, "test-vm-2").get("snapshots")


def hand_world(path, parent):
    """One 1024 MB host, a running 768 MB VM and a stopped one with a
    hand-written snapshot that holds 512 MB of memory."""
    w = worlds.world([("h1", 1024, 4)], [("big", "h1", 768, 1), ("small", "h1", 512, 1, "stopped")])
    small = w["vms"][1]
    small["snapshots"] = [
        {"key": "k1", "name": "root", "parent": None, "created_at": "2026-01-01T00:00:00Z",
         "current": False, "memory": False, "vcpus": 1, "memory_mb": 512, "power_state": "stopped",
         "disks": [], "nics": []},
        {"key": "k2", "name": "live", "parent": parent, "created_at": "2026-01-02T00:00:00Z",
         "current": True, "memory": True, "vcpus": 1, "memory_mb": 512, "power_state": "running",
         "disks": [], "nics": []}]
    with open(path, "w") as f:
        json.dump(w, f)


def test_hand_written_snapshots_and_memory_admission(daemon, world):
    bad = os.path.join(os.path.dirname(world), "bad.json")
    hand_world(bad, "nope")                  # a parent that is no earlier snapshot
    job = daemon.run("POST", "/api/v1/connections", {"type": "test", "url": "test://" + bad},
                     expect="failed")
    assert job["error"]["code"] == "invalid_world" and "snapshots[1]" in job["error"]["message"], job
    hand_world(world, "k1")
    daemon.add_test_connection(world)
    vm = vm_named(daemon, "small")
    got = tree(daemon, vm)
    assert got["live"]["parent_id"] == got["root"]["id"] and got["live"]["memory"] and got["live"]["current"]
    # reverting to "live" would run the VM: 768 + 512 MB do not fit in 1024
    job = daemon.run("POST", "/api/v1/vms/%s/snapshots/%s/revert" % (vm["id"], got["live"]["id"]),
                     expect="failed")
    assert job["error"]["code"] == "insufficient_memory", job
    assert world_vm(world, "small")["power_state"] == "stopped"
