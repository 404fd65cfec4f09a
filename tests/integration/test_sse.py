"""Server-sent events: a client on /api/v1/events/stream sees a job's
progress to 100% and the VM's new state without polling."""
import json
import queue
import threading

import requests


def read_stream(daemon, out, stop, headers=None):
    h = {"Authorization": "Bearer " + daemon.token}
    h.update(headers or {})
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
