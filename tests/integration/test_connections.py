"""Connections: add one and the whole endpoint appears; secrets never come
back; changes behind our back arrive through the adapter's events; an
endpoint that stops answering turns the connection to error and its hosts to
disconnected, and back; delete removes what it brought."""
import os

from conftest import read_world, wait_for, write_world


def test_add_brings_the_inventory(lab):
    conn = lab.ok("GET", "/api/v1/connections/" + lab.conn_id)
    assert conn["state"] == "connected" and conn["type"] == "test"
    assert conn["last_error"] is None and conn["observed_at"]
    hosts = lab.all_items("/api/v1/hosts")
    vms = lab.all_items("/api/v1/vms")
    clusters = lab.all_items("/api/v1/clusters")
    assert sorted(h["name"] for h in hosts) == ["test-host-1", "test-host-2"]
    assert len(vms) == 3 and len(clusters) == 1
    for h in hosts:
        assert h["vendor"] == "test" and h["connection_id"] == lab.conn_id
        assert h["cluster_id"] == clusters[0]["id"]
        assert h["state"] == "connected" and h["cpu_cores"] == 8 and h["memory_mb"] == 32768
    by_name = {v["name"]: v for v in vms}
    assert by_name["test-vm-1"]["power_state"] == "running"
    assert by_name["test-vm-2"]["power_state"] == "stopped"
    for v in vms:
        for k in ("id", "name", "host_id", "connection_id", "vendor", "native_id", "power_state",
                  "vcpus", "memory_mb", "ha", "observed_at"):
            assert k in v
        assert v["ha"] == "off"


def test_secrets_never_returned(daemon, world):
    job = daemon.run("POST", "/api/v1/connections",
                     {"type": "test", "url": "test://" + world, "token": "s3cret-token"})
    conn_id = job["result"]["connection_id"]
    # the world has no token, so any token is accepted; what matters is it is never shown
    for body in (daemon.get("/api/v1/connections/" + conn_id).text,
                 daemon.get("/api/v1/connections").text, daemon.get("/api/v1/jobs").text,
                 daemon.get("/api/v1/events?limit=1000").text):
        assert "s3cret-token" not in body
    with open(os.path.join(daemon.data_dir, "polyvisor.db"), "rb") as f:
        assert b"s3cret-token" not in f.read()
    assert "s3cret-token" not in daemon.log()


def test_wrong_token_is_auth_failed(daemon, world):
    w = {"token": "right", "hosts": [], "vms": [], "clusters": []}
    write_world(world, w)
    job = daemon.wait_job(daemon.submit("POST", "/api/v1/connections",
                                        {"type": "test", "url": "test://" + world, "token": "wrong"}))
    assert job["state"] == "failed"
    assert job["error"]["code"] == "auth_failed"
    conn = daemon.all_items("/api/v1/connections")[0]
    assert conn["state"] == "auth_failed" and conn["last_error"]


def test_duplicate_connection_refused(lab, world):
    r = lab.post("/api/v1/connections", {"type": "test", "url": "test://" + world})
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "connection_exists"
    assert r.json()["error"]["details"]["connection_id"] == lab.conn_id


def test_change_behind_our_back_arrives(lab, world):
    w = read_world(world)
    for v in w["vms"]:
        if v["name"] == "test-vm-2":
            v["power_state"] = "running"
    w["vms"].append({"id": "6b1d0000-0000-4000-8000-0000000000ff", "name": "outsider",
                     "host": w["hosts"][1]["id"], "power_state": "stopped", "vcpus": 1,
                     "memory_mb": 256, "paravirtual": True, "disks": [], "nics": []})
    write_world(world, w)

    def seen():
        vms = {v["name"]: v for v in lab.all_items("/api/v1/vms")}
        return ("outsider" in vms and vms["test-vm-2"]["power_state"] == "running"
                and vms["test-vm-2"]["source"] == "event")
    wait_for(seen, 5)
    ev = lab.all_items("/api/v1/events", filter="object_type eq 'vm'")
    assert any("test-vm-2 is running" in e["message"] for e in ev)


def test_unreachable_and_back(lab, world):
    os.rename(world, world + ".away")
    wait_for(lambda: lab.ok("GET", "/api/v1/connections/" + lab.conn_id)["state"]
             in ("error", "disconnected"), 10)
    conn = lab.ok("GET", "/api/v1/connections/" + lab.conn_id)
    assert conn["last_error"]
    wait_for(lambda: all(h["state"] == "disconnected" for h in lab.all_items("/api/v1/hosts")))
    os.rename(world + ".away", world)
    wait_for(lambda: lab.ok("GET", "/api/v1/connections/" + lab.conn_id)["state"] == "connected", 40)
    wait_for(lambda: all(h["state"] == "connected" for h in lab.all_items("/api/v1/hosts")), 10)


def test_delete_removes_what_it_brought(lab):
    lab.run("DELETE", "/api/v1/connections/" + lab.conn_id)
    assert lab.get("/api/v1/connections/" + lab.conn_id).status_code == 404
    assert lab.all_items("/api/v1/hosts") == []
    assert lab.all_items("/api/v1/vms") == []
    assert lab.all_items("/api/v1/clusters") == []


def test_two_connections_same_native_ids(daemon, tmpdir_path):
    a = daemon.add_test_connection(os.path.join(tmpdir_path, "a.json"))
    b = daemon.add_test_connection(os.path.join(tmpdir_path, "b.json"))
    vms = daemon.all_items("/api/v1/vms")
    assert len(vms) == 6
    native = {}
    for v in vms:
        native.setdefault(v["native_id"], set()).add(v["connection_id"])
    assert all(c == {a, b} for c in native.values())
    assert len({v["id"] for v in vms}) == 6
