"""The daemon stopped or killed in the middle of a job: the job is parked
(SIGTERM) or reconciled through the adapter (kill -9) instead of left
hanging; and kill -9 during a burst of writes loses no committed object."""
import os
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


def jobs_of(d, kind):
    return d.all_items("/api/v1/jobs", filter="kind eq '%s'" % kind)


def wait_running(d, kind, timeout=20):
    """The first job of `kind` with a step under way."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for j in jobs_of(d, kind):
            if j["state"] == "running":
                j = d.ok("GET", "/api/v1/jobs/" + j["id"])
                if any(s["state"] == "running" for s in j["steps"]):
                    return j
        time.sleep(0.05)
    raise AssertionError("no %s job ran within %ss" % (kind, timeout))


def test_kill9_during_an_evacuation_moves_each_vm_once(daemon, world):
    """Child jobs are on record before they run.  host.maintenance runs a
    placement.evacuate child, which runs a vm.migrate child per VM; killed
    while a migration ran, the resumed parents started a second evacuation
    (its id was stored only once it had finished) beside the first, which
    the restart resumed too, and so a second migration of the same VMs.  Now
    each resumed parent finishes the child it had started."""
    import worlds
    worlds.save(world, worlds.world(hosts=[("a", 65536, 32), ("b", 16384, 16), ("c", 16384, 16)],
                                    vms=[("e1", "a", 1024, 1), ("e2", "a", 1024, 1)]))
    daemon.add_test_connection(world, "?delay_ms=1500")
    a = [h for h in daemon.all_items("/api/v1/hosts") if h["name"] == "a"][0]
    job = daemon.submit("POST", "/api/v1/hosts/%s/maintenance" % a["id"], {"evacuate": "live"})
    wait_running(daemon, "vm.migrate")
    daemon.stop(signal.SIGKILL)
    daemon.start()
    done = daemon.wait_job(job, timeout=60)
    assert done["state"] == "succeeded", done
    assert len(jobs_of(daemon, "placement.evacuate")) == 1
    migrations = jobs_of(daemon, "vm.migrate")
    assert sorted(m["target_id"] for m in migrations) == sorted(
        v["id"] for v in daemon.all_items("/api/v1/vms"))  # one migration per VM
    assert all(m["state"] == "succeeded" for m in migrations), migrations
    assert all(v["host_id"] != a["id"] for v in daemon.all_items("/api/v1/vms"))


def test_kill9_during_a_deploy_creates_each_vm_once(daemon, world):
    """placement.deploy runs a vm.create child per VM; killed during one,
    the resumed deploy made a second create of that name beside the first,
    which the restart resumed too.  Now it finishes the create it started."""
    import worlds
    worlds.save(world, worlds.world(hosts=[("a", 16384, 16), ("b", 16384, 16)]))
    daemon.add_test_connection(world, "?delay_ms=1500")
    s = daemon.ok("POST", "/api/v1/schedules",
                  {"name": "farm", "kind": "deploy", "at_time": "2099-01-01T00:00",
                   "params": {"count": 3, "vm": {"name_prefix": "web", "vcpus": 1,
                                                 "memory_mb": 512}}}, status=201)
    job = daemon.submit("POST", "/api/v1/schedules/%s/run" % s["id"])
    wait_running(daemon, "vm.create")
    daemon.stop(signal.SIGKILL)
    daemon.start()
    done = daemon.wait_job(job, timeout=60)
    assert done["state"] == "succeeded", done
    assert [c["state"] for c in done["result"]["created"]] == ["succeeded"] * 3
    creates = jobs_of(daemon, "vm.create")
    assert len(creates) == 3 and all(c["state"] == "succeeded" for c in creates), creates
    names = [v["name"] for v in daemon.all_items("/api/v1/vms")]
    assert len(names) == 3 and len(set(names)) == 3, names


def test_kill9_during_a_migration_the_endpoint_finished(daemon, world):
    """Killed while the endpoint migrated a VM, the resumed job asked for
    the move again from where the inventory last saw the VM, and failed
    (same_host) although the VM had arrived.  Now it looks first."""
    from conftest import read_world, write_world
    daemon.add_test_connection(world, "?delay_ms=3000")
    vm = vm_ids(daemon)["test-vm-1"]
    dest = [h for h in daemon.all_items("/api/v1/hosts") if h["name"] == "test-host-2"][0]
    job = daemon.submit("POST", "/api/v1/vms/%s/migrate" % vm, {"host_id": dest["id"], "mode": "live"})
    wait_step(daemon, job, 1)
    daemon.stop(signal.SIGKILL)
    w = read_world(world)
    [v for v in w["vms"] if v["name"] == "test-vm-1"][0]["host"] = dest["native_id"]
    write_world(world, w)
    daemon.start()
    done = daemon.wait_job(job, timeout=30)
    assert done["state"] == "succeeded", done
    moved = daemon.ok("GET", "/api/v1/vms/" + vm)
    assert moved["host_id"] == dest["id"] and moved["power_state"] == "running"


def ha_pair(tmpdir_path, src_options="", dst_options=""):
    """A daemon with two test connections, host a (VM h1, HA high) and host
    b; a's world then goes away, so a fails and HA restarts h1 on b.
    Returns the daemon, both world paths and h1."""
    import worlds
    from conftest import Daemon
    d = Daemon(os.path.join(tmpdir_path, "data"), extra_args=["--host-failure-timeout", "3"])
    os.makedirs(d.data_dir)
    d.start()
    src, dst = os.path.join(tmpdir_path, "a.json"), os.path.join(tmpdir_path, "b.json")
    worlds.save(src, worlds.world(hosts=[("a", 65536, 16)], vms=[("h1", "a", 512, 1)]))
    worlds.save(dst, worlds.world(hosts=[("b", 65536, 16)]))
    d.add_test_connection(src, src_options)
    d.add_test_connection(dst, dst_options)
    vm = {v["name"]: v for v in d.all_items("/api/v1/vms")}["h1"]
    d.ok("PATCH", "/api/v1/vms/" + vm["id"], {"ha": "high"})
    os.rename(src, src + ".gone")
    return d, src, dst, vm


def test_kill9_during_an_ha_define_adopts_it(tmpdir_path):
    """vm.ha_restart defines a failed host's VM on another host with its
    UUID; killed during the define, the resumed job defined it again and
    failed (the UUID was taken), and the resumed ha.restart started a second
    vm.ha_restart beside it.  Now the define the endpoint finished is
    adopted, the VM started, and each VM has one restart job."""
    from conftest import read_world, wait_for, write_world
    d, _, dst, vm = ha_pair(tmpdir_path, dst_options="?delay_ms=3000")
    try:
        child = wait_running(d, "vm.ha_restart", timeout=60)
        assert child["steps"][0]["state"] == "running"
        parent = jobs_of(d, "ha.restart")[0]
        d.stop(signal.SIGKILL)
        w = read_world(dst)  # the agent had defined it with its UUID
        w["vms"].append({"id": vm["native_id"], "name": "h1", "host": "b", "power_state": "stopped",
                         "vcpus": 1, "memory_mb": 512, "paravirtual": True, "disks": [], "nics": []})
        write_world(dst, w)
        d.start()
        done = d.wait_job(parent["id"], timeout=60)
        assert done["state"] == "succeeded", done
        restarts = jobs_of(d, "vm.ha_restart")
        assert [j["id"] for j in restarts] == [child["id"]], restarts
        assert d.ok("GET", "/api/v1/jobs/" + child["id"])["result"].get("adopted") is True
        wait_for(lambda: d.ok("GET", "/api/v1/vms/" + vm["id"])["power_state"] == "running", 20,
                 "the adopted VM running")
        assert [v["name"] for v in d.all_items("/api/v1/vms")].count("h1") == 1
        assert [v["id"] for v in read_world(dst)["vms"]] == [vm["native_id"]]
    finally:
        d.stop()


def test_kill9_while_fencing_a_copy_already_removed(tmpdir_path):
    """The failed host comes back with its stale copy of h1, and a vm.fence
    job powers it off and removes it.  Killed while the endpoint removed it,
    the resumed job failed (vm_not_found) although the copy was gone; now
    a copy already removed is the goal reached."""
    from conftest import read_world, wait_for, write_world
    d, src, _, vm = ha_pair(tmpdir_path, src_options="?delay_ms=1500")
    try:
        wait_for(lambda: [j for j in jobs_of(d, "ha.restart") if j["state"] == "succeeded"], 60,
                 "h1 restarted on b")
        os.rename(src + ".gone", src)  # host a is back, with the copy still running
        fence = wait_running(d, "vm.fence", timeout=60)
        wait_for(lambda: read_world(src)["vms"][0]["power_state"] == "stopped", 20,
                 "the copy powered off")  # the removal is under way
        d.stop(signal.SIGKILL)
        w = read_world(src)
        w["vms"] = []  # ... and the endpoint finished it
        write_world(src, w)
        d.start()
        done = d.wait_job(fence["id"], timeout=30)
        assert done["state"] == "succeeded", done
        assert len(jobs_of(d, "vm.fence")) == 1
        now = d.ok("GET", "/api/v1/vms/" + vm["id"])
        assert now["power_state"] == "running" and now["host_id"] != vm["host_id"]
    finally:
        d.stop()
