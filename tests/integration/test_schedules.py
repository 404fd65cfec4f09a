"""Schedules and plans over the REST API, with polyvisord's test clock
(--test-clock 1, PUT /api/v1/clock) so nothing waits for real time: CRUD and
validation, next runs across a DST change, a one-shot schedule firing at its
time, missed runs collapsing into one, rebalance plans reviewed and approved
(every host ends under the threshold, each move a child job), evacuation
reporting the VM that cannot leave, deploy, power optimization."""
import os
import time

import pytest

import worlds
from conftest import Daemon, wait_for


@pytest.fixture
def clocked(tmpdir_path, world):
    d = Daemon(os.path.join(tmpdir_path, "data"), extra_args=["--test-clock", "1"])
    os.makedirs(d.data_dir)
    d.start()
    d.world = world
    yield d
    d.stop()


def set_clock(d, iso):
    return d.ok("PUT", "/api/v1/clock", {"now": iso})


def load(d, w):
    worlds.save(d.world, w)
    d.conn_id = d.add_test_connection(d.world)


def hosts_by_name(d):
    return {h["name"]: h for h in d.all_items("/api/v1/hosts")}


def vms_by_name(d):
    return {v["name"]: v for v in d.all_items("/api/v1/vms")}


def fired(d, sid, after_job=None):
    s = d.ok("GET", "/api/v1/schedules/" + sid)
    return s if s["last_job_id"] and s["last_job_id"] != after_job else None


OVERLOADED = dict(
    hosts=[("a", 16384, 16), ("b", 16384, 16), ("c", 4096, 4)],
    vms=[("v6", "a", 6144, 1), ("v4", "a", 4096, 1), ("v2", "a", 2048, 1), ("v1", "a", 1024, 1),
         ("w", "b", 2048, 1)])


def test_crud_and_validation(clocked):
    set_clock(clocked, "2026-12-01T10:00:00Z")
    bad = [({"name": "x", "kind": "rebalance", "cron": "61 * * * *"}, "bad_cron", "cron"),
           ({"name": "x", "kind": "rebalance", "cron": "0 3 * * *", "timezone": "Mars/Base"},
            "unknown_time_zone", "timezone"),
           ({"name": "x", "kind": "rebalance", "cron": "0 3 * * *", "params": {"colour": 1}},
            "unknown_field", "params"),
           ({"name": "x", "kind": "evacuate", "cron": "0 3 * * *"}, "missing_field", "params"),
           ({"name": "x", "kind": "rebalance", "at_time": "2026-11-30T00:00"}, "at_time_past",
            "at_time"),
           ({"name": "x", "kind": "rebalance"}, "invalid_value", None),
           ({"name": "x", "kind": "defrag", "cron": "0 3 * * *"}, "invalid_value", "kind"),
           ({"name": "x", "kind": "rebalance", "cron": "0 3 * * *", "at_time": "2027-01-01T00:00"},
            "invalid_value", None)]
    for body, code, field in bad:
        r = clocked.post("/api/v1/schedules", body)
        assert r.status_code == 400, (body, r.text)
        err = r.json()["error"]
        assert err["code"] == code, (body, err)
        if field:
            assert err["details"]["field"] == field, (body, err)
    assert clocked.ok("GET", "/api/v1/schedules")["items"] == []
    s = clocked.ok("POST", "/api/v1/schedules",
                   {"name": "nightly", "kind": "rebalance", "cron": "0 3 * * *",
                    "timezone": "Europe/Berlin", "params": {"threshold_pct": 70}}, status=201)
    assert s["next_run_at"] == "2026-12-02T02:00:00.000Z" and s["enabled"] is True
    assert s["created_by"] == "admin" and s["params"] == {"threshold_pct": 70}
    s = clocked.ok("PATCH", "/api/v1/schedules/" + s["id"], {"cron": "30 1 * * 1"})
    assert s["next_run_at"] == "2026-12-07T00:30:00.000Z"   # Monday 01:30 CET
    s = clocked.ok("POST", "/api/v1/schedules/%s/disable" % s["id"])
    assert s["enabled"] is False and s["next_run_at"] is None
    s = clocked.ok("POST", "/api/v1/schedules/%s/enable" % s["id"])
    assert s["enabled"] is True and s["next_run_at"] == "2026-12-07T00:30:00.000Z"
    r = clocked.patch("/api/v1/schedules/" + s["id"], {"kind": "deploy"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_field"
    assert clocked.delete("/api/v1/schedules/" + s["id"]).status_code == 204
    assert clocked.get("/api/v1/schedules/" + s["id"]).json()["error"]["code"] == \
        "schedule_not_found"


def test_preview_and_dst(clocked):
    out = clocked.ok("POST", "/api/v1/schedules/preview",
                     {"cron": "30 2 * * *", "timezone": "Europe/Berlin", "count": 3,
                      "after": "2027-03-27T12:00:00Z"})
    # 02:30 does not exist on 28 March 2027 (clocks jump 02:00 -> 03:00): it runs at 03:00 CEST
    assert out["next_runs"] == ["2027-03-28T01:00:00.000Z", "2027-03-29T00:30:00.000Z",
                                "2027-03-30T00:30:00.000Z"]
    out = clocked.ok("POST", "/api/v1/schedules/preview",
                     {"cron": "30 2 * * *", "timezone": "Europe/Berlin", "count": 2,
                      "after": "2027-10-30T12:00:00Z"})
    # 02:30 happens twice on 31 October 2027: it runs once, at the first
    assert out["next_runs"] == ["2027-10-31T00:30:00.000Z", "2027-11-01T01:30:00.000Z"]
    out = clocked.ok("POST", "/api/v1/schedules/preview",
                     {"cron": "*/15 * * * *", "count": 4, "after": "2027-01-01T00:00:00Z"})
    assert out["next_runs"][0] == "2027-01-01T00:15:00.000Z" and len(out["next_runs"]) == 4
    r = clocked.post("/api/v1/schedules/preview", {"cron": "0 0 30 2 *"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "cron_never_fires"


def test_one_shot_fires_at_its_time(clocked):
    load(clocked, worlds.world(**OVERLOADED))
    set_clock(clocked, "2026-12-31T23:58:00Z")
    s = clocked.ok("POST", "/api/v1/schedules",
                   {"name": "new year", "kind": "rebalance", "at_time": "2027-01-01T00:00",
                    "params": {"threshold_pct": 75}}, status=201)
    assert s["next_run_at"] == "2027-01-01T00:00:00.000Z"
    time.sleep(1.5)
    assert clocked.ok("GET", "/api/v1/schedules/" + s["id"])["last_job_id"] is None
    set_clock(clocked, "2027-01-01T00:00:05Z")
    s = wait_for(lambda: fired(clocked, s["id"]))
    assert s["next_run_at"] is None and s["last_run_at"].startswith("2027-01-01T00:00")
    job = clocked.wait_job(s["last_job_id"])
    assert job["state"] == "succeeded" and job["kind"] == "placement.rebalance"
    assert job["result"]["awaiting_approval"] is True
    plan = clocked.ok("GET", "/api/v1/plans/" + job["result"]["plan_id"])
    assert plan["state"] == "proposed" and plan["schedule_id"] == s["id"]
    assert len(plan["moves"]) == 1 and plan["moves"][0]["vm_name"] == "v1"
    # a plan only: nothing moved
    assert vms_by_name(clocked)["v1"]["host_id"] == hosts_by_name(clocked)["a"]["id"]


def test_missed_runs_run_once(clocked):
    load(clocked, worlds.world(hosts=[("a", 16384, 16)]))
    set_clock(clocked, "2027-02-01T10:30:00Z")
    s = clocked.ok("POST", "/api/v1/schedules",
                   {"name": "hourly", "kind": "rebalance", "cron": "0 * * * *"}, status=201)
    assert s["next_run_at"] == "2027-02-01T11:00:00.000Z"
    set_clock(clocked, "2027-02-01T15:10:00Z")   # five runs missed
    s = wait_for(lambda: fired(clocked, s["id"]))
    time.sleep(2.5)  # more ticks: no further runs for the missed hours
    jobs = clocked.all_items("/api/v1/jobs", filter="target_id eq '%s'" % s["id"])
    assert len(jobs) == 1
    assert clocked.ok("GET", "/api/v1/schedules/" + s["id"])["next_run_at"] == \
        "2027-02-01T16:00:00.000Z"


def test_rebalance_plan_approved_brings_hosts_under(clocked):
    load(clocked, worlds.world(**OVERLOADED))
    set_clock(clocked, "2027-03-01T08:00:00Z")
    s = clocked.ok("POST", "/api/v1/schedules",
                   {"name": "balance", "kind": "rebalance", "cron": "0 * * * *",
                    "params": {"threshold_pct": 75, "mode": "plan"}}, status=201)
    job = clocked.run("POST", "/api/v1/schedules/%s/run" % s["id"])
    plan_id = job["result"]["plan_id"]
    plan = clocked.ok("GET", "/api/v1/plans/" + plan_id)
    assert plan["summary"]["balanced"] is True
    after = {h["name"]: h["after_pct"] for h in plan["summary"]["hosts"]}
    assert all(p <= 75 for p in after.values()), after
    assert [p["id"] for p in clocked.all_items("/api/v1/plans")] == [plan_id]
    done = clocked.run("POST", "/api/v1/plans/%s/approve" % plan_id)
    assert done["kind"] == "plan.execute"
    r = clocked.post("/api/v1/plans/%s/approve" % plan_id)
    assert r.status_code == 409 and r.json()["error"]["code"] == "plan_not_in_state"
    plan = clocked.ok("GET", "/api/v1/plans/" + plan_id)
    assert plan["state"] == "done" and plan["decided_by"] == "admin"
    move = plan["moves"][0]
    assert move["state"] == "succeeded"
    child = clocked.ok("GET", "/api/v1/jobs/" + move["job_id"])
    assert child["kind"] == "vm.migrate" and child["state"] == "succeeded"
    assert child["params"]["parent_job_id"] == done["id"]
    hosts = hosts_by_name(clocked)
    for h in hosts.values():
        assert h["memory_used_mb"] * 100 <= 75 * h["memory_mb"], h
    vm = vms_by_name(clocked)[move["vm_name"]]
    assert vm["host_id"] == move["to_host_id"] and vm["last_moved_at"].startswith("2027-03-01")
    # the next run finds nothing to do
    job = clocked.run("POST", "/api/v1/schedules/%s/run" % s["id"])
    assert job["result"]["moves"] == 0


def test_rebalance_auto_and_cooldown(clocked):
    load(clocked, worlds.world(**OVERLOADED))
    set_clock(clocked, "2027-03-01T08:00:00Z")
    s = clocked.ok("POST", "/api/v1/schedules",
                   {"name": "auto", "kind": "rebalance", "cron": "0 * * * *",
                    "params": {"threshold_pct": 75, "mode": "auto", "cooldown_minutes": 120}},
                   status=201)
    job = clocked.run("POST", "/api/v1/schedules/%s/run" % s["id"])
    assert job["result"]["moves"] == 1 and job["result"]["moves_failed"] == 0
    plan = clocked.ok("GET", "/api/v1/plans/" + job["result"]["plan_id"])
    assert plan["state"] == "done"
    moved = plan["moves"][0]["vm_name"]
    # push the destination over: the VM just moved stays (cool-down), another goes
    clocked.ok("PATCH", "/api/v1/schedules/" + s["id"], {"params": {
        "threshold_pct": 20, "mode": "plan", "cooldown_minutes": 120}})
    job = clocked.run("POST", "/api/v1/schedules/%s/run" % s["id"])
    plan = clocked.ok("GET", "/api/v1/plans/" + job["result"]["plan_id"])
    assert moved not in [m["vm_name"] for m in plan["moves"]]
    names = [m["vm_name"] for m in plan["moves"]]
    assert len(names) == len(set(names))   # no VM moves twice in a plan
    r = clocked.ok("POST", "/api/v1/plans/%s/reject" % plan["id"])
    assert r["state"] == "rejected"


def test_evacuate_reports_the_vm_that_cannot_go(clocked):
    load(clocked, worlds.world(hosts=[("a", 65536, 32), ("b", 16384, 16), ("c", 16384, 16)],
                               vms=[("small1", "a", 2048, 1), ("small2", "a", 1024, 1),
                                    ("off", "a", 1024, 1, "stopped"),
                                    ("giant", "a", 32768, 4)]))
    a = hosts_by_name(clocked)["a"]
    s = clocked.ok("POST", "/api/v1/schedules",
                   {"name": "drain a", "kind": "evacuate", "at_time": "2099-01-01T00:00",
                    "params": {"host_id": a["id"]}}, status=201)
    job = clocked.run("POST", "/api/v1/schedules/%s/run" % s["id"], expect="failed")
    assert job["error"]["code"] == "evacuation_incomplete"
    assert [u["vm_name"] for u in job["result"]["unplaced"]] == ["giant"]
    assert job["result"]["unplaced"][0]["rejected_by"]["insufficient_memory"] == 2
    vms = vms_by_name(clocked)
    assert vms["giant"]["host_id"] == a["id"]
    for name in ("small1", "small2", "off"):
        assert vms[name]["host_id"] != a["id"], name
    plan = clocked.ok("GET", "/api/v1/plans/" + job["result"]["plan_id"])
    modes = {m["vm_name"]: m["mode"] for m in plan["moves"]}
    assert modes == {"small1": "live", "small2": "live", "off": "quick"}


def test_deploy_and_power_optimize(clocked):
    load(clocked, worlds.world(hosts=[("a", 16384, 16), ("b", 16384, 16), ("c", 16384, 16)],
                               vms=[("x", "a", 1024, 1), ("y", "b", 1024, 1),
                                    ("z", "c", 1024, 1)]))
    s = clocked.ok("POST", "/api/v1/schedules",
                   {"name": "web farm", "kind": "deploy", "cron": "0 6 * * 1-5",
                    "params": {"count": 3, "vm": {"name_prefix": "web", "vcpus": 1,
                                                  "memory_mb": 512,
                                                  "anti_affinity": ["web"]}}}, status=201)
    job = clocked.run("POST", "/api/v1/schedules/%s/run" % s["id"])
    assert job["kind"] == "placement.deploy" and len(job["result"]["created"]) == 3
    web = [v for v in clocked.all_items("/api/v1/vms") if v["name"].startswith("web-")]
    assert len(web) == 3 and len({v["host_id"] for v in web}) == 3   # kept apart
    s = clocked.ok("POST", "/api/v1/schedules",
                   {"name": "night", "kind": "power-optimize", "cron": "0 22 * * *",
                    "params": {"threshold_pct": 80, "mode": "plan"}}, status=201)
    job = clocked.run("POST", "/api/v1/schedules/%s/run" % s["id"])
    plan = clocked.ok("GET", "/api/v1/plans/" + job["result"]["plan_id"])
    assert plan["kind"] == "power-optimize"
    # anti-affinity keeps the web VMs on three hosts, so none can be emptied
    assert plan["summary"]["power_down_host_ids"] == []
    for v in web:
        clocked.ok("PATCH", "/api/v1/vms/" + v["id"], {"anti_affinity": []})
    job = clocked.run("POST", "/api/v1/schedules/%s/run" % s["id"])
    plan = clocked.ok("GET", "/api/v1/plans/" + job["result"]["plan_id"])
    assert len(plan["summary"]["power_down_host_ids"]) == 2
    # a window outside now skips the run
    set_clock(clocked, "2027-05-05T12:00:00Z")
    clocked.ok("PATCH", "/api/v1/schedules/" + s["id"],
               {"params": {"mode": "plan", "window": {"start": "22:00", "end": "06:00"}}})
    job = clocked.run("POST", "/api/v1/schedules/%s/run" % s["id"])
    assert job["result"]["skipped"] == "outside the power-optimize window"


def test_clock_is_fixed_without_test_clock(daemon):
    r = daemon.req("PUT", "/api/v1/clock", json={"now": "2030-01-01T00:00:00Z"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "test_clock_disabled"
    assert daemon.ok("GET", "/api/v1/clock")["test_clock"] is False
