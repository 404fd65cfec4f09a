"""The test adapter's device changes (vm_device, docs/test-adapter.md), through
polyvisord's REST API against its default world: the rules real hypervisors
have -- no hot-plug without paravirtual devices, a saved VM refused, a full
pool refused, fail=device -- and a disk move that shows its progress, can be
cancelled (the disk stays where it was) and, when it completes, frees the old
pool's space.  The world file is the hypervisor, so it is read for the truth."""
import time

from conftest import read_world


def vm_named(d, name):
    return [v for v in d.all_items("/api/v1/vms") if v["name"] == name][0]


def pool(d, native_id):
    return [p for p in d.all_items("/api/v1/storage-pools") if p["native_id"] == native_id][0]


def refusal(d, path, body):
    """The code a change is refused with: up front by the API (which checks
    what the inventory knows) or by the adapter in the job."""
    r = d.req("POST", path, json=body)
    if r.status_code != 202:
        assert 400 <= r.status_code < 500, r.text
        return r.json()["error"]["code"]
    job = d.wait_job(r.json()["id"], 30)
    assert job["state"] == "failed", job
    return job["error"]["code"]


def world_vm(world, name):
    return [v for v in read_world(world)["vms"] if v["name"] == name][0]


def test_default_world_reports_pools_and_networks(lab):
    pools = {p["native_id"]: p for p in lab.all_items("/api/v1/storage-pools")}
    nets = {n["native_id"]: n for n in lab.all_items("/api/v1/networks")}
    assert set(pools) == {"test-pool-local-1", "test-pool-local-2", "test-pool-shared"}
    assert pools["test-pool-shared"]["shared"] and len(pools["test-pool-shared"]["host_ids"]) == 2
    assert pools["test-pool-local-1"]["free_mb"] == 102400
    assert nets["test-net-lab"]["vlan"] == 10 and len(nets["test-net-isolated-2"]["host_ids"]) == 1


def test_hot_plug_rules(lab, world):
    pv = vm_named(lab, "test-vm-1")        # running, paravirtual
    emu = vm_named(lab, "test-vm-3")       # running, not paravirtual
    local1 = pool(lab, "test-pool-local-1")
    job = lab.run("POST", "/api/v1/vms/%s/disks" % pv["id"], {"size_gb": 4, "pool_id": local1["id"]})
    assert job["result"]["live"] is True
    assert world_vm(world, "test-vm-1")["disks"][0]["size_mb"] == 4096
    assert pool(lab, "test-pool-local-1")["free_mb"] == 102400 - 4096
    # no hot-plug on emulated devices: the job says the VM must be stopped, and nothing changed
    local2 = pool(lab, "test-pool-local-2")
    job = lab.run("POST", "/api/v1/vms/%s/disks" % emu["id"], {"size_gb": 1, "pool_id": local2["id"]},
                  expect="failed")
    assert job["error"]["code"] == "vm_running" and "paravirtual" in job["error"]["message"], job
    assert world_vm(world, "test-vm-3")["disks"] == []
    # a disk bigger than the pool's free space
    assert refusal(lab, "/api/v1/vms/%s/disks" % pv["id"],
                   {"size_gb": 200, "pool_id": local1["id"]}) == "insufficient_storage"
    # a saved VM takes no change
    lab.run("POST", "/api/v1/vms/%s/save" % pv["id"])
    assert refusal(lab, "/api/v1/vms/%s/disks" % pv["id"], {"size_gb": 1, "pool_id": local1["id"]}) == "vm_saved"
    assert len(world_vm(world, "test-vm-1")["disks"]) == 1


def test_fail_device(daemon, world):
    daemon.add_test_connection(world, "?fail=device")
    vm = vm_named(daemon, "test-vm-2")
    job = daemon.run("POST", "/api/v1/vms/%s/nics" % vm["id"],
                     {"network_id": [n for n in daemon.all_items("/api/v1/networks")
                                     if n["native_id"] == "test-net-default"][0]["id"]}, expect="failed")
    assert job["error"]["code"] == "backend_failure" and "fail=device" in job["error"]["message"], job
    assert world_vm(world, "test-vm-2")["nics"] == []


def test_move_progress_cancel_and_switch(daemon, world):
    daemon.add_test_connection(world, "?delay_ms=2000")
    vm = vm_named(daemon, "test-vm-2")
    local1, shared = pool(daemon, "test-pool-local-1"), pool(daemon, "test-pool-shared")
    daemon.run("POST", "/api/v1/vms/%s/disks" % vm["id"], {"size_gb": 3, "pool_id": local1["id"]})
    disk = daemon.ok("GET", "/api/v1/vms/" + vm["id"])["disks"][0]
    base = "/api/v1/vms/%s/disks/%s/move" % (vm["id"], disk["id"])
    # cancelled mid-copy: the disk stays in its pool
    job_id = daemon.submit("POST", base, {"pool_id": shared["id"]})
    deadline = time.time() + 10
    while daemon.ok("GET", "/api/v1/jobs/" + job_id)["progress"] < 20 and time.time() < deadline:
        time.sleep(0.05)
    step = daemon.ok("GET", "/api/v1/jobs/" + job_id)["steps"][0]
    assert "copying disk vda" in step["detail"], step
    daemon.req("POST", "/api/v1/jobs/%s/cancel" % job_id)
    job = daemon.wait_job(job_id, 15)
    assert job["state"] == "cancelled", job
    assert world_vm(world, "test-vm-2")["disks"][0]["pool_native_id"] == "test-pool-local-1"
    # completed: the disk is in the new pool and the old pool has its space back
    daemon.run("POST", "/api/v1/vms/%s/disks/%s/move" % (vm["id"], disk["id"]), {"pool_id": shared["id"]})
    assert world_vm(world, "test-vm-2")["disks"][0]["pool_native_id"] == "test-pool-shared"
    assert pool(daemon, "test-pool-local-1")["free_mb"] == 102400
    assert pool(daemon, "test-pool-shared")["free_mb"] == 512000 - 3072
    now = daemon.ok("GET", "/api/v1/vms/" + vm["id"])["disks"][0]
    assert now["id"] == disk["id"] and now["pool_id"] == shared["id"], now
