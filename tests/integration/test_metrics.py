"""Monitoring history with the test clock: samples are stored at the
configured interval, rolled up into five-minute averages, served by
GET /hosts/{id}/metrics and /vms/{id}/metrics in the step asked for, and
expired after their retention (raw after a day, averages after a month)."""
import calendar
import os
import sqlite3
import time

import pytest

from conftest import Daemon

T0 = calendar.timegm((2027, 6, 1, 0, 0, 0))


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


@pytest.fixture
def mon(tmpdir_path, world):
    d = Daemon(os.path.join(tmpdir_path, "data"),
               extra_args=["--test-clock", "1", "--metrics-interval", "60"])
    os.makedirs(d.data_dir)
    d.start()
    d.add_test_connection(world)
    yield d
    d.stop()


def set_clock(d, t):
    d.ok("PUT", "/api/v1/clock", {"now": iso(t)})


def series(d, kind, oid, frm, to, step):
    r = d.get("/api/v1/%s/%s/metrics" % (kind, oid),
              params={"from": iso(frm), "to": iso(to), "step": str(step)})
    assert r.status_code == 200, r.text
    return r.json()


def wait_points(d, kind, oid, frm, to, step, n, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        out = series(d, kind, oid, frm, to, step)
        if len(out.get("points", [])) >= n:
            return out
        time.sleep(0.2)
    raise AssertionError("only %s" % out)


def test_samples_rollup_and_expiry(mon):
    host = mon.all_items("/api/v1/hosts")[0]
    vm = [v for v in mon.all_items("/api/v1/vms") if v["power_state"] == "running"][0]
    for k in range(6):                       # six samples, one a minute
        set_clock(mon, T0 + 60 * k + 1)
        wait_points(mon, "hosts", host["id"], T0, T0 + 600, 60, k + 1)
    out = series(mon, "hosts", host["id"], T0, T0 + 600, 60)
    assert out["tier"] == "raw" and out["step"] == 60
    assert [p["t"] for p in out["points"]] == [iso(T0 + 60 * k).replace("Z", ".000Z")
                                               for k in range(6)]
    assert all(p["samples"] == 1 for p in out["points"])
    now_host = mon.ok("GET", "/api/v1/hosts/" + host["id"])
    assert out["points"][-1]["memory_mb"] == now_host["memory_used_mb"]
    assert out["points"][-1]["cpu_pct"] == pytest.approx(now_host["cpu_usage_pct"])
    v = wait_points(mon, "vms", vm["id"], T0, T0 + 600, 60, 6)
    assert v["points"][0]["cpu_pct"] == pytest.approx(25.0)      # the test adapter's load
    assert v["points"][0]["memory_mb"] == vm["memory_mb"]

    # past the first five minutes: their samples are averaged into one point
    set_clock(mon, T0 + 6 * 60 + 1)
    out = wait_points(mon, "hosts", host["id"], T0, T0 + 600, 300, 1)
    assert out["tier"] == "5m" and out["points"][0]["samples"] == 5

    # a day later the raw samples are gone, the averages stay
    set_clock(mon, T0 + 86400 + 900)
    db = os.path.join(mon.data_dir, "polyvisor.db")

    def raw_left():
        with sqlite3.connect(db) as c:
            return c.execute("SELECT count(*) FROM metric_samples WHERE tier = 0 AND t < ?",
                             (T0 + 3600,)).fetchone()[0]
    end = time.time() + 10
    while raw_left() and time.time() < end:
        time.sleep(0.2)
    assert raw_left() == 0
    out = series(mon, "hosts", host["id"], T0, T0 + 600, 60)
    assert out["tier"] == "5m" and out["points"] and out["points"][0]["samples"] == 5

    # a month later the averages are gone too
    set_clock(mon, T0 + 32 * 86400)
    end = time.time() + 10
    while series(mon, "hosts", host["id"], T0, T0 + 600, 300)["points"] and time.time() < end:
        time.sleep(0.2)
    assert series(mon, "hosts", host["id"], T0, T0 + 600, 300)["points"] == []


def test_bad_ranges(mon):
    host = mon.all_items("/api/v1/hosts")[0]
    for params in ({"from": "yesterday"}, {"step": "0"},
                   {"from": iso(T0), "to": iso(T0 - 60)},
                   {"from": iso(T0), "to": iso(T0 + 86400 * 30), "step": "1"}):
        r = mon.get("/api/v1/hosts/%s/metrics" % host["id"], params=params)
        assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_value", params
    r = mon.get("/api/v1/hosts/host-nope/metrics")
    assert r.status_code == 404 and r.json()["error"]["code"] == "host_not_found"


def test_alerts_raise_and_clear(mon, world):
    host = [h for h in mon.all_items("/api/v1/hosts") if h["memory_used_mb"] > 0][0]
    g = mon.ok("POST", "/api/v1/host-groups",
               {"name": "watched", "policy": {"alerts": {"memory_pct": 0.001, "cpu_pct": 99}}},
               status=201)
    mon.ok("PATCH", "/api/v1/hosts/" + host["id"], {"host_group_id": g["id"]})
    t = T0
    def sample():
        nonlocal t
        t += 60
        set_clock(mon, t)

    def alerts():
        return {(a["object_id"], a["kind"]): a for a in mon.all_items("/api/v1/alerts")}
    end = time.time() + 15
    while (host["id"], "memory") not in alerts() and time.time() < end:
        sample()
        time.sleep(0.5)
    a = alerts()[(host["id"], "memory")]
    assert a["threshold"] == pytest.approx(0.001) and a["value"] > 0
    assert "memory at" in a["message"]
    assert (host["id"], "cpu") not in alerts()
    ev = mon.all_items("/api/v1/events", filter="object_id eq '%s'" % host["id"])
    assert any(e["message"].startswith("alert raised: host") for e in ev)
    mon.ok("PATCH", "/api/v1/host-groups/" + g["id"], {"policy": {"alerts": {"memory_pct": 100}}})
    end = time.time() + 15
    while (host["id"], "memory") in alerts() and time.time() < end:
        sample()
        time.sleep(0.5)
    assert (host["id"], "memory") not in alerts()
    ev = mon.all_items("/api/v1/events", filter="object_id eq '%s'" % host["id"])
    assert any(e["message"].startswith("alert cleared: host") for e in ev)
    # a host that stops answering raises the unreachable alert (on by default)
    os.rename(world, world + ".away")
    end = time.time() + 20
    while (host["id"], "unreachable") not in alerts() and time.time() < end:
        sample()
        time.sleep(0.5)
    assert (host["id"], "unreachable") in alerts()
