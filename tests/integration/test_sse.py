"""Server-sent events: a client on /api/v1/events/stream sees a job's
progress to 100% and the VM's new state without polling."""
import json
import queue
import threading

import requests

from conftest import write_world


def read_stream(daemon, out, stop, headers=None):
    """Reads the event stream into out until stop is set; the stream breaking
    after that (the daemon stopping at teardown) is no error."""
    h = {"Authorization": "Bearer " + daemon.token}
    h.update(headers or {})
    try:
        with requests.get(daemon.base + "/api/v1/events/stream", headers=h, stream=True,
                          timeout=30) as r:
            out.put(("status", r.status_code, r.headers.get("Content-Type")))
            ev = {}
            for line in r.iter_lines(decode_unicode=True):
                if stop.is_set():
                    return
                if line == "":
                    if ev:
                        out.put(("event", ev.get("event"), json.loads(ev["data"]), ev.get("id")))
                    ev = {}
                elif not line.startswith(":"):
                    k, _, v = line.partition(": ")
                    ev[k] = v
    except requests.RequestException as e:
        if not stop.is_set():
            out.put(("error", str(e), None, None))


def test_job_progress_streams(daemon, world):
    daemon.add_test_connection(world, "?delay_ms=1500")
    vm = [v for v in daemon.all_items("/api/v1/vms") if v["name"] == "test-vm-2"][0]
    out, stop = queue.Queue(), threading.Event()
    t = threading.Thread(target=read_stream, args=(daemon, out, stop), daemon=True)
    t.start()
    kind, status, ctype = out.get(timeout=10)
    assert status == 200 and ctype.startswith("text/event-stream")
    job = daemon.submit("POST", "/api/v1/vms/%s/start" % vm["id"])
    progress, vm_running, last_id = [], False, 0
    while True:
        _, etype, data, eid = out.get(timeout=20)
        assert int(eid) > last_id
        last_id = int(eid)
        if etype == "job" and data["id"] == job:
            progress.append(data["progress"])
            if data["state"] == "succeeded":
                break
        if etype == "vm" and data["id"] == vm["id"] and data["power_state"] == "running":
            vm_running = True
    stop.set()
    assert progress[-1] == 100
    assert any(0 < p < 100 for p in progress), progress  # intermediate progress was pushed
    assert progress == sorted(progress)
    assert vm_running



def test_cancel_and_restart_stream_with_rising_revision(daemon, world):
    """Cancelling a queued job and restarting it reach the stream too, and
    every copy of the job carries a higher revision than the one before, so a
    client can tell a late reply from a newer streamed copy."""
    write_world(world, {
        "clusters": [],
        "hosts": [{"id": "h1", "name": "solo", "cpu_cores": 8, "cpu_mhz": 2000,
                   "memory_mb": 65536, "state": "connected"}],
        "vms": [{"id": "6b1d0000-0000-4000-8000-00000000000%d" % i, "name": "vm%d" % i,
                 "host": "h1", "power_state": "stopped", "vcpus": 1, "memory_mb": 256,
                 "paravirtual": True, "disks": [], "nics": []} for i in range(3)],
    })
    daemon.add_test_connection(world, "?delay_ms=1500")
    out, stop = queue.Queue(), threading.Event()
    threading.Thread(target=read_stream, args=(daemon, out, stop), daemon=True).start()
    assert out.get(timeout=10)[1] == 200
    # the per-host limit (2) keeps the third start on the one host queued
    jobs = [daemon.submit("POST", "/api/v1/vms/%s/start" % v["id"])
            for v in daemon.all_items("/api/v1/vms")]
    queued = daemon.ok("GET", "/api/v1/jobs/" + jobs[2])
    assert queued["state"] == "queued"
    reply = daemon.post("/api/v1/jobs/%s/cancel" % jobs[2]).json()
    assert reply["state"] == "cancelled" and reply["revision"] > queued["revision"]
    restarted = daemon.post("/api/v1/jobs/%s/restart" % jobs[2]).json()
    assert restarted["revision"] > reply["revision"]
    daemon.wait_job(jobs[2])
    seen = []
    while not seen or seen[-1]["state"] not in ("succeeded", "failed"):
        _, etype, data, _ = out.get(timeout=20)
        if etype == "job" and data["id"] == jobs[2]:
            seen.append(data)
    stop.set()
    states = [j["state"] for j in seen]
    assert states[0] == "cancelled" and "queued" in states and states[-1] == "succeeded", states
    revs = [j["revision"] for j in seen]
    assert revs == sorted(set(revs)), revs


def test_stream_needs_token(daemon):
    r = requests.get(daemon.base + "/api/v1/events/stream", timeout=5)
    assert r.status_code == 401


def test_last_event_id_replays(daemon):
    out, stop = queue.Queue(), threading.Event()
    daemon.ok("POST", "/api/v1/host-groups", {"name": "one"}, status=201)
    daemon.ok("POST", "/api/v1/host-groups", {"name": "two"}, status=201)
    t = threading.Thread(target=read_stream, args=(daemon, out, stop, {"Last-Event-ID": "0"}),
                         daemon=True)
    t.start()
    out.get(timeout=10)
    seen = []
    while len(seen) < 2:
        _, etype, data, _ = out.get(timeout=10)
        if etype == "event" and "host group" in data["message"]:
            seen.append(data["message"])
    stop.set()
    assert seen == ["host group one created", "host group two created"]


def test_ids_outlive_a_restart_and_a_stale_client_is_told_to_resync(daemon):
    """Hardening defect 20: ids restarted at 1 after a restart, so a client
    coming back with its old Last-Event-ID silently missed everything."""
    out, stop = queue.Queue(), threading.Event()
    t = threading.Thread(target=read_stream, args=(daemon, out, stop), daemon=True)
    t.start()
    out.get(timeout=10)
    daemon.ok("POST", "/api/v1/host-groups", {"name": "before-restart"}, status=201)
    while True:
        kind, etype, data, eid = out.get(timeout=10)
        if etype == "event" and "before-restart" in data["message"]:
            old_id = int(eid)
            break
    stop.set()
    daemon.restart()
    daemon.ok("POST", "/api/v1/host-groups", {"name": "after-restart"}, status=201)
    out2, stop2 = queue.Queue(), threading.Event()
    t2 = threading.Thread(target=read_stream, args=(daemon, out2, stop2, {"Last-Event-ID": str(old_id)}),
                          daemon=True)
    t2.start()
    out2.get(timeout=10)
    kind, etype, data, eid = out2.get(timeout=10)
    assert etype == "resync", (etype, data)
    seen = []
    while not any("after-restart" in m for m in seen):
        kind, etype, data, eid = out2.get(timeout=10)
        if etype == "event":
            seen.append(data["message"])
            assert int(eid) > old_id  # one sequence: later is larger, across the restart
    stop2.set()
