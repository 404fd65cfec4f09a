"""Credentials and users (issue 17, item 3): a connection's credentials
change in place (PATCH), checked by a sync, with the inventory it brought
kept even when the new ones are wrong; what makes it the endpoint it is
(type, url) cannot change."""
import os

from conftest import read_world, write_world


def _secrets_absent(daemon, *secrets):
    with open(os.path.join(daemon.data_dir, "polyvisor.db"), "rb") as f:
        db = f.read()
    texts = [daemon.get("/api/v1/connections").text, daemon.get("/api/v1/jobs").text,
             daemon.get("/api/v1/events?limit=1000").text, daemon.log()]
    for s in secrets:
        assert s.encode() not in db
        for t in texts:
            assert s not in t


def test_patch_token_keeps_inventory_through_a_wrong_one(lab, world):
    w = read_world(world)
    w["token"] = "first-token-1"
    write_world(world, w)
    path = "/api/v1/connections/" + lab.conn_id
    lab.run("PATCH", path, {"token": "first-token-1"})
    vm = lab.all_items("/api/v1/vms")[0]
    lab.ok("PATCH", "/api/v1/vms/" + vm["id"], {"ha": "high", "tags": ["kept"]})
    before = {v["id"]: v["native_id"] for v in lab.all_items("/api/v1/vms")}
    hosts = {h["id"] for h in lab.all_items("/api/v1/hosts")}

    # a wrong token: the sync fails, the connection is auth_failed, nothing is lost
    job = lab.wait_job(lab.submit("PATCH", path, {"token": "wrong-token-22"}))
    assert job["state"] == "failed" and job["error"]["code"] == "auth_failed", job
    conn = lab.ok("GET", path)
    assert conn["state"] == "auth_failed" and conn["type"] == "test"
    assert {v["id"]: v["native_id"] for v in lab.all_items("/api/v1/vms")} == before
    assert {h["id"] for h in lab.all_items("/api/v1/hosts")} == hosts
    got = lab.ok("GET", "/api/v1/vms/" + vm["id"])
    assert got["ha"] == "high" and got["tags"] == ["kept"]

    # the endpoint's new token: connected again, same ids
    w = read_world(world)
    w["token"] = "second-token-3"
    write_world(world, w)
    lab.run("PATCH", path, {"token": "second-token-3", "insecure": True, "name": "renamed"})
    conn = lab.ok("GET", path)
    assert conn["state"] == "connected" and conn["name"] == "renamed"
    assert {v["id"]: v["native_id"] for v in lab.all_items("/api/v1/vms")} == before
    _secrets_absent(lab, "first-token-1", "wrong-token-22", "second-token-3")
    audit = [e for e in lab.all_items("/api/v1/events", object_id=lab.conn_id)
             if e.get("severity") == "audit" and "changed" in e.get("message", "")]
    assert len(audit) >= 3 and any("token" in e["message"] for e in audit), audit


def test_patch_refuses_what_the_connection_is(lab, world):
    path = "/api/v1/connections/" + lab.conn_id
    for field, value in (("type", "kvm"), ("url", "test://" + world + ".other")):
        r = lab.patch(path, {field: value})
        assert r.status_code == 400, r.text
        assert r.json()["error"]["code"] == "field_not_changeable"
        assert r.json()["error"]["details"]["field"] == field
    r = lab.patch(path, {"colour": "blue"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_field"
    r = lab.patch(path, {})
    assert r.status_code == 400
    assert lab.patch("/api/v1/connections/conn-nope", {"token": "x"}).status_code == 404
    assert lab.ok("GET", path)["state"] == "connected"
