"""Jobs: Idempotency-Key, cancel (queued and running), restart from the last
good step, per-host concurrency, and finished jobs staying queryable."""
import time

from conftest import read_world, write_world

UUID = "6b1d0000-0000-4000-8000-%012d"


def one_host_world(path, nvms):
    write_world(path, {
        "clusters": [],
        "hosts": [{"id": "h1", "name": "solo", "cpu_cores": 8, "cpu_mhz": 2000,
                   "memory_mb": 65536, "state": "connected"}],
        "vms": [{"id": UUID % i, "name": "vm%d" % i, "host": "h1", "power_state": "stopped",
                 "vcpus": 1, "memory_mb": 256, "paravirtual": True, "disks": [], "nics": []}
                for i in range(nvms)],
    })


def vm_ids(d):
    return {v["name"]: v["id"] for v in d.all_items("/api/v1/vms")}


def test_idempotency_key(lab):
    vm = vm_ids(lab)["test-vm-2"]
    h = {"Idempotency-Key": "start-vm2-once"}
    a = lab.submit("POST", "/api/v1/vms/%s/start" % vm, headers=h)
    b = lab.submit("POST", "/api/v1/vms/%s/start" % vm, headers=h)
    assert a == b
    assert lab.wait_job(a)["state"] == "succeeded"
    c = lab.submit("POST", "/api/v1/vms/%s/start" % vm, headers=h)
    assert c == a  # even after it finished
    assert len(lab.all_items("/api/v1/jobs", filter="kind eq 'vm.start'")) == 1
    r = lab.post("/api/v1/vms/%s/shutdown" % vm, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "idempotency_key_reused"
    r = lab.post("/api/v1/vms/%s/shutdown" % vm, headers={"Idempotency-Key": "bad key"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_idempotency_key"
    # create: the same body twice with one key makes one VM
    body = {"name": "once", "vcpus": 1, "memory_mb": 128}
    h = {"Idempotency-Key": "create-once"}
    a = lab.submit("POST", "/api/v1/vms", body, headers=h)
    b = lab.submit("POST", "/api/v1/vms", body, headers=h)
    assert a == b and lab.wait_job(a)["state"] == "succeeded"
    assert sum(1 for v in lab.all_items("/api/v1/vms") if v["name"] == "once") == 1


def test_cancel_running(daemon, world):
    daemon.add_test_connection(world, "?delay_ms=4000")
    vm = vm_ids(daemon)["test-vm-2"]
    job = daemon.submit("POST", "/api/v1/vms/%s/start" % vm)
    daemon.wait_job(job, states=("running",))
    time.sleep(0.5)
    r = daemon.post("/api/v1/jobs/%s/cancel" % job)
    assert r.status_code == 202
    done = daemon.wait_job(job)
    assert done["state"] == "cancelled" and done["error"]["code"] == "cancelled"
    assert daemon.ok("GET", "/api/v1/vms/" + vm)["power_state"] == "stopped"
    r = daemon.post("/api/v1/jobs/%s/cancel" % job)
    assert r.status_code == 409 and r.json()["error"]["code"] == "job_finished"


def test_clone_shows_progress_and_cancels_leaving_nothing(daemon, world):
    """The test hypervisor's clone is a task like the others: progress while
    it runs, and a cancel leaves the world as it was."""
    from conftest import read_world
    daemon.add_test_connection(world, "?delay_ms=3000")
    vm = vm_ids(daemon)["test-vm-2"]
    job = daemon.submit("POST", "/api/v1/vms/%s/clone" % vm, {"name": "never-made"})
    deadline = time.time() + 10
    while time.time() < deadline:
        step = daemon.ok("GET", "/api/v1/jobs/" + job)["steps"][1]
        if step["state"] == "running" and step["progress"] >= 10:
            break
        time.sleep(0.05)
    assert step["detail"] == "cloning VM 'test-vm-2' to 'never-made'", step
    assert daemon.post("/api/v1/jobs/%s/cancel" % job).status_code == 202
    done = daemon.wait_job(job)
    assert done["state"] == "cancelled" and done["error"]["code"] == "cancelled"
    assert not [v for v in read_world(world)["vms"] if v["name"] == "never-made"]
    assert not [v for v in daemon.all_items("/api/v1/vms") if v["name"] == "never-made"]


def test_per_host_limit_and_cancel_queued(daemon, world):
    one_host_world(world, 4)
    daemon.add_test_connection(world, "?delay_ms=1500")
    ids = vm_ids(daemon)
    jobs = [daemon.submit("POST", "/api/v1/vms/%s/start" % ids["vm%d" % i]) for i in range(4)]
    # the last one waits behind the per-host limit (2): cancel it while queued
    assert daemon.ok("GET", "/api/v1/jobs/" + jobs[3])["state"] == "queued"
    assert daemon.post("/api/v1/jobs/%s/cancel" % jobs[3]).status_code == 202
    assert daemon.ok("GET", "/api/v1/jobs/" + jobs[3])["state"] == "cancelled"
    done = [daemon.wait_job(j, timeout=30) for j in jobs[:3]]
    assert all(j["state"] == "succeeded" for j in done)
    # from the jobs' own times: never more than 2 ran at once on the host
    marks = sorted([(j["started_at"], 1) for j in done] + [(j["finished_at"], -1) for j in done],
                   key=lambda m: (m[0], m[1]))
    running = peak = 0
    for _, step in marks:
        running += step
        peak = max(peak, running)
    assert peak == 2
    assert max(j["started_at"] for j in done) >= min(j["finished_at"] for j in done)
    assert daemon.ok("GET", "/api/v1/vms/" + ids["vm3"])["power_state"] == "stopped"


def test_restart_failed_job(lab, world):
    vm = vm_ids(lab)["test-vm-2"]
    w = read_world(world)
    for v in w["vms"]:
        if v["name"] == "test-vm-2":
            v["power_state"] = "paused"
    write_world(world, w)
    lab.run("POST", "/api/v1/connections/%s/sync" % lab.conn_id)
    job = lab.run("POST", "/api/v1/vms/%s/start" % vm, expect="failed")
    assert job["error"]["code"] == "vm_paused"
    r = lab.post("/api/v1/jobs/%s/restart" % job["id"])
    assert r.status_code == 409 or r.status_code == 202  # a retry now fails the same way
    lab.wait_job(job["id"])
    # fix the cause, then restart: the same job goes on and succeeds
    w = read_world(world)
    for v in w["vms"]:
        if v["name"] == "test-vm-2":
            v["power_state"] = "stopped"
    write_world(world, w)
    assert lab.post("/api/v1/jobs/%s/restart" % job["id"]).status_code == 202
    done = lab.wait_job(job["id"])
    assert done["state"] == "succeeded" and done["error"] is None
    assert lab.ok("GET", "/api/v1/vms/" + vm)["power_state"] == "running"
    r = lab.post("/api/v1/jobs/%s/restart" % job["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "job_not_restartable"


def test_restart_keeps_good_steps(lab, world):
    job = lab.run("POST", "/api/v1/vms", {"name": "test-vm-1", "vcpus": 1, "memory_mb": 128},
                  expect="failed")
    assert [s["state"] for s in job["steps"]] == ["succeeded", "failed", "pending"]
    placed_at = job["steps"][0]["finished_at"]
    w = read_world(world)
    for v in w["vms"]:
        if v["name"] == "test-vm-1":
            v["name"] = "renamed"
    write_world(world, w)
    assert lab.post("/api/v1/jobs/%s/restart" % job["id"]).status_code == 202
    done = lab.wait_job(job["id"])
    assert done["state"] == "succeeded"
    assert done["steps"][0]["finished_at"] == placed_at  # the place step did not run again
    assert lab.ok("GET", "/api/v1/vms/" + done["result"]["vm_id"])["name"] == "test-vm-1"


def test_jobs_listing(lab):
    vm = vm_ids(lab)["test-vm-2"]
    lab.run("POST", "/api/v1/vms/%s/start" % vm)
    jobs = lab.all_items("/api/v1/jobs", filter="state eq 'succeeded'")
    kinds = [j["kind"] for j in jobs]
    assert "vm.start" in kinds and "connection.sync" in kinds
    assert all(j["error"] is None and j["progress"] == 100 for j in jobs)
    newest = lab.ok("GET", "/api/v1/jobs?limit=1")["items"][0]
    assert newest["kind"] == "vm.start"
