"""The host group tree: create, rename, move (no cycles), sibling names
unique, only empty groups deleted, hosts moved in and out."""


def test_tree(lab):
    root = lab.ok("POST", "/api/v1/host-groups", {"name": "All", "policy": {"goal": "balance"}}, status=201)
    prod = lab.ok("POST", "/api/v1/host-groups", {"name": "Prod", "parent_id": root["id"]}, status=201)
    dev = lab.ok("POST", "/api/v1/host-groups", {"name": "Dev", "parent_id": root["id"]}, status=201)
    assert prod["parent_id"] == root["id"] and root["policy"] == {"goal": "balance"}
    r = lab.post("/api/v1/host-groups", {"name": "Prod", "parent_id": root["id"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "host_group_name_in_use"
    # a group cannot move under itself or its descendants
    r = lab.patch("/api/v1/host-groups/" + root["id"], {"parent_id": prod["id"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "host_group_cycle"
    r = lab.patch("/api/v1/host-groups/" + root["id"], {"parent_id": root["id"]})
    assert r.status_code == 409
    # rename onto a sibling's name is refused, and nothing changes
    r = lab.patch("/api/v1/host-groups/" + dev["id"], {"name": "Prod"})
    assert r.status_code == 409
    assert lab.ok("GET", "/api/v1/host-groups/" + dev["id"])["name"] == "Dev"
    moved = lab.ok("PATCH", "/api/v1/host-groups/" + dev["id"], {"parent_id": prod["id"], "name": "Dev2"})
    assert moved["parent_id"] == prod["id"] and moved["name"] == "Dev2"
    top = lab.ok("PATCH", "/api/v1/host-groups/" + dev["id"], {"parent_id": None})
    assert top["parent_id"] is None
    children = lab.all_items("/api/v1/host-groups", filter="parent_id eq '%s'" % root["id"])
    assert [c["name"] for c in children] == ["Prod"]
    # hosts move in; a group with hosts or children is not deleted
    host = lab.all_items("/api/v1/hosts")[0]
    h = lab.ok("PATCH", "/api/v1/hosts/" + host["id"], {"host_group_id": prod["id"]})
    assert h["host_group_id"] == prod["id"]
    r = lab.delete("/api/v1/host-groups/" + prod["id"])
    assert r.status_code == 409 and r.json()["error"]["code"] == "host_group_not_empty"
    r = lab.delete("/api/v1/host-groups/" + root["id"])
    assert r.status_code == 409
    r = lab.patch("/api/v1/hosts/" + host["id"], {"host_group_id": "hg-nope"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "host_group_not_found"
    lab.ok("PATCH", "/api/v1/hosts/" + host["id"], {"host_group_id": None})
    assert lab.delete("/api/v1/host-groups/" + prod["id"]).status_code == 204
    assert lab.delete("/api/v1/host-groups/" + root["id"]).status_code == 204
    assert lab.get("/api/v1/host-groups/" + root["id"]).status_code == 404
    # a sync keeps the host's group
    lab.ok("PATCH", "/api/v1/hosts/" + host["id"], {"host_group_id": dev["id"]})
    lab.run("POST", "/api/v1/connections/%s/sync" % lab.conn_id)
    assert lab.ok("GET", "/api/v1/hosts/" + host["id"])["host_group_id"] == dev["id"]
    audit = lab.all_items("/api/v1/events", filter="severity eq 'audit' and object_type eq 'host_group'")
    assert len(audit) >= 6 and all(e["actor"] == "admin" for e in audit)
