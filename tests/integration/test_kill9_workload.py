"""kill -9 at 20 moments of a mixed workload (issue 12, "keep it fixed"):
after every restart, every object the daemon acknowledged exists, and in the
end every acknowledged job has finished -- none left running for ever, none
run twice (no VM created or cloned twice).

The workload (host groups, creates, power actions, clones) paces itself
below what the test hypervisor carries out (8 job workers, 300 ms a task:
about 25 jobs a second).  It once submitted as fast as the daemon answered,
about 110 jobs a second, so thousands of jobs queued up and the last ones
waited 75-95 s for a worker: that was read as a stall after the restart,
but job starts never paused for more than about 2 s (see
docs/operations.md).  A real stall still fails here: the jobs left must
keep finishing, and all must be done within 90 s."""
import random
import signal
import threading
import time

import requests

from conftest import TERMINAL

KILLS = 20
STALL_S = 20  # no job finished for this long while some are left: a stall


def workload(d, stop, acked, lock, seed):
    rnd = random.Random(seed)
    n = 0
    while not stop.is_set():
        n += 1
        time.sleep(rnd.uniform(0.02, 0.08))  # about 10 jobs a second: below what is carried out
        kind = rnd.choice(["group", "group", "create", "action", "action"])
        try:
            s = requests.Session()
            s.headers["Authorization"] = d.http.headers.get("Authorization", "")
            if kind == "group":
                r = s.post(d.base + "/api/v1/host-groups", json={"name": "k9-g%d" % n}, timeout=5)
                if r.status_code == 201:
                    with lock:
                        acked["groups"].add(r.json()["id"])
            elif kind == "create":
                r = s.post(d.base + "/api/v1/vms", json={"name": "k9-vm%d" % n, "vcpus": 1,
                                                        "memory_mb": 64}, timeout=5)
                if r.status_code == 202:
                    with lock:
                        acked["jobs"].add(r.json()["id"])
                        acked["vm_names"].add("k9-vm%d" % n)
            else:
                vms = s.get(d.base + "/api/v1/vms?limit=20", timeout=5).json()["items"]
                if vms:
                    vm = rnd.choice(vms)
                    what = rnd.choice(["start", "poweroff", "clone"])
                    body = {"name": "k9-clone%d" % n} if what == "clone" else None
                    r = s.post(d.base + "/api/v1/vms/%s/%s" % (vm["id"], what), json=body, timeout=5)
                    if r.status_code == 202:
                        with lock:
                            acked["jobs"].add(r.json()["id"])
        except (requests.RequestException, ValueError, KeyError):
            time.sleep(0.05)  # the daemon is down (or coming up): not acknowledged


def test_kill9_twenty_times_loses_nothing_and_leaves_no_job_running(daemon, world):
    daemon.add_test_connection(world, "?delay_ms=300")
    acked = {"groups": set(), "jobs": set(), "vm_names": set()}
    lock, stop = threading.Lock(), threading.Event()
    rnd = random.Random(20261203)
    t = threading.Thread(target=workload, args=(daemon, stop, acked, lock, 7), daemon=True)
    t.start()
    try:
        for i in range(KILLS):
            time.sleep(rnd.uniform(0.2, 1.2))
            daemon.stop(signal.SIGKILL)
            daemon.start()
            with lock:
                groups = set(acked["groups"])
            have = {g["id"] for g in daemon.all_items("/api/v1/host-groups")}
            assert groups <= have, "kill %d lost host groups %s" % (i + 1, groups - have)
    finally:
        stop.set()
        t.join(30)

    # every job ends, and while some are left they keep ending
    deadline, last_left, last_move = time.time() + 90, None, time.time()
    while True:
        jobs = {j["id"]: j for j in daemon.all_items("/api/v1/jobs")}
        left = [j for j in jobs.values() if j["state"] not in TERMINAL]
        if not left:
            break
        if last_left is None or len(left) < last_left:
            last_left, last_move = len(left), time.time()
        if time.time() > deadline or time.time() - last_move > STALL_S:
            detail = [(j["id"], j["kind"], j["state"], j["created_at"], j["started_at"],
                       [(x["name"], x["state"]) for x in j.get("steps", [])]) for j in left[:20]]
            with open(daemon.log_path, errors="replace") as f:
                lines = [l for l in f if any(j["id"] in l for j in left)]
            raise AssertionError("%d jobs left unfinished (%s): %s\n%s" % (
                len(left), "none finished for %ds" % STALL_S if time.time() <= deadline else "after 90 s",
                detail, "".join(lines[-20:])))
        time.sleep(0.5)
    assert acked["jobs"] <= set(jobs), "acknowledged jobs lost: %s" % (acked["jobs"] - set(jobs))
    names = [v["name"] for v in daemon.all_items("/api/v1/vms")]
    doubled = {n for n in names if names.count(n) > 1}
    assert not doubled, doubled
    ids = {v["id"] for v in daemon.all_items("/api/v1/vms")}
    created = {(j["result"] or {}).get("vm_id") for j in jobs.values()
               if j["kind"] in ("vm.create", "vm.clone") and j["state"] == "succeeded"}
    assert created <= ids, created - ids  # every VM a create or clone made is there, once
    kinds = {(j["kind"], j["state"]) for j in jobs.values()}
    assert ("vm.create", "succeeded") in kinds and ("vm.clone", "succeeded") in kinds, kinds
