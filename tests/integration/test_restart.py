"""The daemon stopped or killed in the middle of a job: the job is parked
(SIGTERM) or reconciled through the adapter (kill -9) instead of left
hanging; and kill -9 during a burst of writes loses no committed object."""
import signal
import threading
import time

import requests


def vm_ids(d):
    return {v["name"]: v["id"] for v in d.all_items("/api/v1/vms")}


def test_kill9_mid_job_reconciled(daemon, world):
    daemon.add_test_connection(world, "?delay_ms=3000")
    vm = vm_ids(daemon)["test-vm-2"]
    job = daemon.submit("POST", "/api/v1/vms/%s/start" % vm)
    daemon.wait_job(job, states=("running",))
    daemon.stop(signal.SIGKILL)
    daemon.start()
    done = daemon.wait_job(job, timeout=30)
    # the hypervisor never finished the task (the adapter call died with the
    # daemon), so reconcile found the VM stopped and ran the step again
    assert done["state"] == "succeeded", done
    assert daemon.ok("GET", "/api/v1/vms/" + vm)["power_state"] == "running"
    assert "event=reconciled job=%s" % job in daemon.log()


def test_kill9_after_the_work_happened(daemon, world):
    daemon.add_test_connection(world, "?delay_ms=3000")
    vm = vm_ids(daemon)["test-vm-1"]  # running
    job = daemon.submit("POST", "/api/v1/vms/%s/poweroff" % vm)
    daemon.wait_job(job, states=("running",))
    daemon.stop(signal.SIGKILL)
    # another client finished what we started while we were down
    from conftest import read_world, write_world
    w = read_world(world)
    for v in w["vms"]:
        if v["name"] == "test-vm-1":
            v["power_state"] = "stopped"
    write_world(world, w)
    daemon.start()
    done = daemon.wait_job(job, timeout=30)
    assert done["state"] == "succeeded"
    assert all(s["state"] == "succeeded" for s in done["steps"])
    assert done["steps"][0]["detail"] == "confirmed after restart"


def test_sigterm_parks_and_resumes(daemon, world):
    daemon.add_test_connection(world, "?delay_ms=1500")
    # a 3-step create: stop during it, the job must not be lost or left running
    job = daemon.submit("POST", "/api/v1/vms", {"name": "across-restart", "vcpus": 1,
                                                "memory_mb": 128})
    daemon.wait_job(job, states=("running",))
    daemon.stop(signal.SIGTERM)
    daemon.start()
    done = daemon.wait_job(job, timeout=30)
    assert done["state"] == "succeeded", done
    names = [v["name"] for v in daemon.all_items("/api/v1/vms")]
    assert names.count("across-restart") == 1


def test_kill9_during_write_burst_loses_nothing(daemon):
    committed = []
    stop = threading.Event()
    errors = []

    def writer(n):
        s = requests.Session()
        s.headers["Authorization"] = "Bearer " + daemon.token
        i = 0
        while not stop.is_set() and i < 5000:
            try:
                r = s.post(daemon.base + "/api/v1/host-groups",
                           json={"name": "burst-%d-%d" % (n, i)}, timeout=5)
            except requests.RequestException:
                return
            if r.status_code == 201:
                committed.append(r.json()["id"])
            elif r.status_code != 201:
                errors.append(r.text)
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.time() + 20
    while len(committed) < 300 and time.time() < deadline:
        time.sleep(0.05)
    daemon.proc.kill()
    daemon.proc.wait()
    stop.set()
    for t in threads:
        t.join()
    assert len(committed) >= 300 and not errors
    daemon.start()
    have = {g["id"] for g in daemon.all_items("/api/v1/host-groups", limit=1000)}
    missing = [c for c in committed if c not in have]
    assert not missing, "%d committed host groups lost" % len(missing)


def endpoint_made(daemon, world, job, vm):
    """After a kill -9 in the middle of job: the endpoint finished the task
    it had been given (a vCenter task, a Hyper-V job goes on without its
    client), so vm is in the world.  Start the daemon again; the job must
    adopt vm.  Returns the job and the VM as listed."""
    from conftest import read_world, write_world
    w = read_world(world)
    assert not [v for v in w["vms"] if v["name"] == vm["name"]]  # the task died with us
    w["vms"].append(vm)
    write_world(world, w)
    daemon.start()
    done = daemon.wait_job(job, timeout=30)
    assert done["state"] == "succeeded", done
    listed = [v for v in daemon.all_items("/api/v1/vms") if v["name"] == vm["name"]]
    assert len(listed) == 1 and listed[0]["native_id"] == vm["id"]
    assert done["result"]["vm_id"] == listed[0]["id"] and done["result"].get("adopted") is True
    assert "event=adopted job=%s kind=%s" % (job, done["kind"]) in daemon.log()
    assert len([v for v in read_world(world)["vms"] if v["name"] == vm["name"]]) == 1
    return done, listed[0]


def wait_step(d, job, step, timeout=10):
    """The job as soon as its step `step` runs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = d.ok("GET", "/api/v1/jobs/" + job)
        if j["steps"][step]["state"] == "running":
            return j
        time.sleep(0.05)
    raise AssertionError("step %d of job %s never ran: %s" % (step, job, j))


def test_kill9_during_create_adopts_what_the_endpoint_made(daemon, world):
    """Hardening defect 3: killed during a create's "create" step, the job
    failed name_in_use after the restart while the VM existed, without the
    ha and tags asked for.  Now the resumed job finds the VM the endpoint
    made and adopts it."""
    daemon.add_test_connection(world, "?delay_ms=3000")
    hosts = {h["id"]: h for h in daemon.all_items("/api/v1/hosts")}
    job = daemon.submit("POST", "/api/v1/vms", {"name": "made-meanwhile", "vcpus": 1, "memory_mb": 128,
                                                "ha": "high", "tags": ["web"]})
    host = hosts[wait_step(daemon, job, 1)["result"]["host_id"]]
    daemon.stop(signal.SIGKILL)
    _, vm = endpoint_made(daemon, world, job, {
        "id": "6b1d0000-0000-4000-8000-0000000000aa", "name": "made-meanwhile",
        "host": host["native_id"], "power_state": "stopped", "vcpus": 1, "memory_mb": 128,
        "paravirtual": True, "disks": [], "nics": []})
    assert vm["ha"] == "high" and vm["tags"] == ["web"]


def test_kill9_during_clone_adopts_what_the_endpoint_made(daemon, world):
    """The same gap for a clone: killed in its "clone" step before the
    clone's id was stored, the resumed job called vm_clone again and failed
    name_in_use while the clone existed.  Now it adopts the clone of the
    asked-for name on the chosen host, with the sizes that were asked for."""
    from conftest import read_world
    daemon.add_test_connection(world, "?delay_ms=3000")
    vm = vm_ids(daemon)["test-vm-2"]
    dest = [h for h in daemon.all_items("/api/v1/hosts") if h["name"] == "test-host-2"][0]
    job = daemon.submit("POST", "/api/v1/vms/%s/clone" % vm,
                        {"name": "cloned-meanwhile", "host_id": dest["id"], "vcpus": 1,
                         "memory_mb": 256})
    wait_step(daemon, job, 1)  # the test hypervisor's clone task is under way
    daemon.stop(signal.SIGKILL)
    src = [v for v in read_world(world)["vms"] if v["name"] == "test-vm-2"][0]
    _, clone = endpoint_made(daemon, world, job, dict(
        src, id="6b1d0000-0000-4000-8000-0000000000cc", name="cloned-meanwhile",
        host=dest["native_id"], power_state="stopped", vcpus=1, memory_mb=256))
    assert clone["host_id"] == dest["id"] and clone["vcpus"] == 1 and clone["memory_mb"] == 256


def test_kill9_during_clone_with_nothing_made_clones_once(daemon, world):
    """Killed in the clone step while the endpoint had made nothing: the
    resumed job finds nothing to adopt and clones (once)."""
    from conftest import read_world
    daemon.add_test_connection(world, "?delay_ms=2000")
    vm = vm_ids(daemon)["test-vm-1"]
    job = daemon.submit("POST", "/api/v1/vms/%s/clone" % vm, {"name": "cloned-after"})
    wait_step(daemon, job, 1)
    daemon.stop(signal.SIGKILL)
    daemon.start()
    done = daemon.wait_job(job, timeout=30)
    assert done["state"] == "succeeded", done
    assert not done["result"].get("adopted")
    made = [v for v in read_world(world)["vms"] if v["name"] == "cloned-after"]
    assert len(made) == 1 and made[0]["id"] == done["result"]["native_id"]
    assert [v["name"] for v in daemon.all_items("/api/v1/vms")].count("cloned-after") == 1
