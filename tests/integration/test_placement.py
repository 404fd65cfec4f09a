"""Placement through the REST API on inventories from worlds.py: dry-run
ratings explain each rejected host with its reason code and numbers and
change nothing; create and migrate without a host take the best-rated host
and keep the decision on the job; anti-affinity, tag rules, quotas and
policies act; what-if simulations answer without changing anything."""
import pytest

import worlds


def hosts_by_name(d):
    return {h["name"]: h for h in d.all_items("/api/v1/hosts")}


def vms_by_name(d):
    return {v["name"]: v for v in d.all_items("/api/v1/vms")}


def verdict(item, name):
    return [f for f in item["filters"] if f["name"] == name][0]


@pytest.fixture
def dc(daemon, world):
    worlds.save(world, worlds.world(
        hosts=[("big", 32768, 16), ("small", 4096, 4), ("mid", 16384, 8),
               ("down", 65536, 32, "maintenance")],
        vms=[("web1", "big", 2048, 2), ("web2", "mid", 2048, 2), ("db1", "small", 3072, 2),
             ("idle", "mid", 1024, 1, "stopped")]))
    daemon.conn_id = daemon.add_test_connection(world)
    return daemon


def test_ratings_explain_and_change_nothing(dc):
    jobs_before = len(dc.all_items("/api/v1/jobs"))
    out = dc.ok("POST", "/api/v1/placement/ratings", {"vm": {"vcpus": 2, "memory_mb": 8192}})
    assert set(out) >= {"items", "chosen_host_id"}
    items = {i["host_name"]: i for i in out["items"]}
    assert len(items) == 4
    h = hosts_by_name(dc)
    assert out["chosen_host_id"] == h["big"]["id"] == out["items"][0]["host_id"]
    small = items["small"]
    assert small["eligible"] is False and small["stars"] == 0
    mem = verdict(small, "memory")
    assert mem["passed"] is False and mem["code"] == "insufficient_memory"
    assert mem["detail"]["required_mb"] == 8192 and mem["detail"]["capacity_mb"] == 4096
    assert mem["detail"]["used_mb"] == 3072 and mem["detail"]["free_mb"] == 1024
    assert verdict(items["down"], "host_state")["code"] == "in_maintenance"
    # the words come from the server, with the verdict's own numbers
    assert mem["message"] == ("not enough free memory (needs 8 GiB, 1 GiB free of 4 GiB "
                              "(used 3 GiB, host reserve 0 MiB, HA reserve 0 MiB))"), mem
    assert verdict(items["down"], "host_state")["message"].startswith("the host is in maintenance mode")
    assert out["rejected_messages"]["insufficient_memory"] == "not enough free memory"
    assert set(out["rejected_messages"]) == set(out["rejected_by"])
    for it in out["items"]:
        assert set(it) >= {"host_id", "stars", "score", "eligible", "filters", "weights"}
        assert it["stars"] * 2 == int(it["stars"] * 2) and 0 <= it["stars"] <= 5
        assert all(f["message"] for f in it["filters"])
        for w in it["weights"]:
            assert set(w) >= {"name", "value", "contribution", "message"}
            assert w["message"].endswith("= %.3f" % w["contribution"]), w
    eligible = [i for i in out["items"] if i["eligible"]]
    assert [i["score"] for i in eligible] == sorted([i["score"] for i in eligible], reverse=True)
    assert all(i["stars"] >= 0.5 for i in eligible)
    # the same request gives the same answer, and nothing was queued
    again = dc.ok("POST", "/api/v1/placement/ratings", {"vm": {"vcpus": 2, "memory_mb": 8192}})
    assert again == out
    assert len(dc.all_items("/api/v1/jobs")) == jobs_before


def test_ratings_for_an_existing_vm_and_bad_requests(dc):
    vm = vms_by_name(dc)["web1"]
    out = dc.ok("POST", "/api/v1/placement/ratings", {"vm_id": vm["id"]})
    mine = [i for i in out["items"] if i["host_id"] == vm["host_id"]][0]
    assert verdict(mine, "scope")["code"] == "current_host"
    assert out["chosen_host_id"] != vm["host_id"]
    for body, code in [({}, "invalid_value"),
                       ({"vm": {"vcpus": 1}}, "missing_field"),
                       ({"vm": {"vcpus": 1, "memory_mb": 64, "colour": "red"}}, "unknown_field"),
                       ({"vm": {"vcpus": "1", "memory_mb": 64}}, "wrong_type"),
                       ({"vm_id": "vm-nope"}, "vm_not_found"),
                       ({"vm": {"vcpus": 1, "memory_mb": 64}, "host_group_id": "hg-nope"},
                        "host_group_not_found")]:
        r = dc.post("/api/v1/placement/ratings", body)
        assert r.status_code in (400, 404), body
        assert r.json()["error"]["code"] == code, (body, r.json())
    r = dc.req("POST", "/api/v1/placement/ratings", data=b"{not json")
    assert r.status_code == 400


def test_create_without_host_keeps_the_decision(dc):
    job = dc.run("POST", "/api/v1/vms", {"name": "placed", "vcpus": 1, "memory_mb": 4096})
    decision = job["result"]["placement"]
    assert decision["chosen_host_id"] == job["result"]["host_id"] == hosts_by_name(dc)["big"]["id"]
    assert decision["items"][0]["host_id"] == decision["chosen_host_id"]
    assert "tie_break" in decision and decision["request"]["memory_mb"] == 4096
    # readable later from the job
    assert dc.ok("GET", "/api/v1/jobs/" + job["id"])["result"]["placement"] == decision
    job = dc.run("POST", "/api/v1/vms", {"name": "toobig", "vcpus": 1, "memory_mb": 100000},
                 expect="failed")
    assert job["error"]["code"] == "no_eligible_host"
    assert "insufficient_memory" in job["error"]["message"]
    assert job["result"]["placement"]["rejected_by"]["insufficient_memory"] == 3
    assert job["result"]["placement"]["rejected_by"]["in_maintenance"] == 1


def test_pinned_host_must_pass_the_filters(dc):
    small = hosts_by_name(dc)["small"]
    job = dc.run("POST", "/api/v1/vms", {"name": "pinned", "vcpus": 1, "memory_mb": 2048,
                                         "host_id": small["id"]}, expect="failed")
    assert job["error"]["code"] == "host_not_eligible"
    assert "insufficient_memory" in job["error"]["message"]


def test_anti_affinity_keeps_vms_apart(dc):
    vms = vms_by_name(dc)
    got = dc.ok("PATCH", "/api/v1/vms/" + vms["web1"]["id"], {"anti_affinity": ["web"]})
    assert got["anti_affinity"] == ["web"]
    dc.ok("PATCH", "/api/v1/vms/" + vms["web2"]["id"], {"anti_affinity": ["web"]})
    job = dc.run("POST", "/api/v1/vms", {"name": "web3", "vcpus": 1, "memory_mb": 512,
                                         "anti_affinity": ["web"]})
    h = hosts_by_name(dc)
    assert job["result"]["host_id"] == h["small"]["id"]  # big and mid hold web1 and web2
    items = {i["host_name"]: i for i in job["result"]["placement"]["items"]}
    aa = verdict(items["big"], "anti_affinity")
    assert aa["code"] == "anti_affinity" and aa["detail"]["vm_id"] == vms["web1"]["id"]
    web3 = vms_by_name(dc)["web3"]
    assert web3["anti_affinity"] == ["web"] and web3["host_id"] == h["small"]["id"]
    # filterable like any field
    r = dc.get("/api/v1/vms", params={"filter": "anti_affinity contains 'web'"})
    assert r.status_code == 200 and len(r.json()["items"]) == 3


def test_policy_tag_rules_and_quota(dc):
    h = hosts_by_name(dc)
    r = dc.post("/api/v1/host-groups", {"name": "bad", "policy": {"goal": "pack"}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_policy"
    assert r.json()["error"]["details"]["field"] == "policy"
    g = dc.ok("POST", "/api/v1/host-groups", {"name": "pci", "policy": {
        "tag_rules": [{"vm_tag": "pci", "host_tag": "pci-zone", "match": "must"}],
        "quota": {"vms": 10}}}, status=201)
    for name in ("big", "mid", "small"):
        dc.ok("PATCH", "/api/v1/hosts/" + h[name]["id"], {"host_group_id": g["id"]})
    got = dc.ok("PATCH", "/api/v1/hosts/" + h["mid"]["id"], {"tags": ["pci-zone"]})
    assert got["tags"] == ["pci-zone"] and got["host_group_id"] == g["id"]
    out = dc.ok("POST", "/api/v1/placement/ratings",
                {"vm": {"vcpus": 1, "memory_mb": 512, "tags": ["pci"]}, "host_group_id": g["id"]})
    assert out["chosen_host_id"] == h["mid"]["id"]
    items = {i["host_name"]: i for i in out["items"]}
    assert verdict(items["big"], "tag_rules")["code"] == "tag_rule"
    assert verdict(items["down"], "scope")["code"] == "out_of_scope"
    # quota: the group holds 4 VMs; a quota of 4 refuses a fifth
    dc.ok("PATCH", "/api/v1/host-groups/" + g["id"], {"policy": {"quota": {"vms": 4}}})
    out = dc.ok("POST", "/api/v1/placement/ratings", {"vm": {"vcpus": 1, "memory_mb": 512}})
    q = verdict({i["host_name"]: i for i in out["items"]}["big"], "quota")
    assert q["code"] == "quota" and q["detail"] == {"host_group_id": g["id"], "quota": "vms",
                                                   "limit": 4, "used": 4}


def test_migrate_without_host_uses_ratings(dc):
    vm = vms_by_name(dc)["db1"]
    job = dc.run("POST", "/api/v1/vms/%s/migrate" % vm["id"], {"mode": "live"})
    decision = job["result"]["placement"]
    assert decision["request"]["vm_id"] == vm["id"]
    assert job["result"]["host_id"] == decision["chosen_host_id"] == hosts_by_name(dc)["big"]["id"]
    assert vms_by_name(dc)["db1"]["host_id"] == decision["chosen_host_id"]


def test_simulate_changes_nothing(dc):
    h, vms = hosts_by_name(dc), vms_by_name(dc)
    dc.ok("PATCH", "/api/v1/vms/" + vms["web1"]["id"], {"ha": "high"})
    out = dc.ok("POST", "/api/v1/placement/simulate", {
        "changes": [{"type": "host_fails", "host_id": h["big"]["id"]},
                    {"type": "add_vms", "count": 20, "vm": {"vcpus": 1, "memory_mb": 1024}},
                    {"type": "drain_host", "host_id": h["small"]["id"]}],
        "vm": {"vcpus": 1, "memory_mb": 512}})
    fails, adds, drain = out["results"]
    assert [m["vm_name"] for m in fails["moves"]] == ["web1"]
    assert fails["moves"][0]["to_host_id"] == h["mid"]["id"]
    assert adds["requested"] == 20 and adds["placed"] + len(adds["unplaced"]) == 20
    assert drain["kind"] == "evacuate"
    assert all(p["host_id"] != h["big"]["id"] for p in adds["placements"])
    assert out["ratings"]["items"]
    # nothing changed
    assert vms_by_name(dc)["web1"]["host_id"] == vms["web1"]["host_id"]
    assert hosts_by_name(dc)["big"]["state"] == "connected"
    r = dc.post("/api/v1/placement/simulate", {"changes": [{"type": "meteor"}]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_value"
    r = dc.post("/api/v1/placement/simulate", {"changes": [{"type": "host_fails",
                                                            "host_id": "nope"}]})
    assert r.status_code == 404 and r.json()["error"]["code"] == "host_not_found"


def test_generated_inventory_is_deterministic(daemon, world):
    worlds.save(world, worlds.generated(7, 40, 400))
    daemon.add_test_connection(world)
    body = {"vm": {"vcpus": 2, "memory_mb": 4096}}
    first = daemon.ok("POST", "/api/v1/placement/ratings", body)
    assert len(first["items"]) == 40
    for _ in range(3):
        assert daemon.ok("POST", "/api/v1/placement/ratings", body) == first
    top = daemon.ok("POST", "/api/v1/placement/ratings", dict(body, limit=5))
    assert top["items"] == first["items"][:5] and top["chosen_host_id"] == first["chosen_host_id"]


def test_bad_input(dc):
    # a spec larger than any host: every host says why, nothing is chosen
    out = dc.ok("POST", "/api/v1/placement/ratings", {"vm": {"vcpus": 2, "memory_mb": 1000000}})
    assert out["chosen_host_id"] is None and out["eligible_hosts"] == 0
    assert len(out["items"]) == 4
    for it in out["items"]:
        failed = [f for f in it["filters"] if not f["passed"]]
        assert failed and all(f["code"] for f in failed), it
    assert out["rejected_by"] == {"insufficient_memory": 3, "in_maintenance": 1}
    # conflicting affinity rules
    r = dc.post("/api/v1/placement/ratings",
                {"vm": {"vcpus": 1, "memory_mb": 64, "affinity": ["db"], "anti_affinity": ["db"]}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "conflicting_affinity"
    r = dc.post("/api/v1/vms", {"name": "c", "vcpus": 1, "memory_mb": 64, "affinity": ["db"],
                                "anti_affinity": ["x", "db"]})
    assert r.status_code == 400 and r.json()["error"]["code"] == "conflicting_affinity"
    r = dc.post("/api/v1/placement/ratings",
                {"vm": {"vcpus": 1, "memory_mb": 64, "tags": [""]}})
    assert r.status_code == 400 and r.json()["error"]["code"] == "wrong_type"
    r = dc.post("/api/v1/placement/ratings", {"vm": {"vcpus": 1, "memory_mb": 64}, "limit": 0})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_value"
