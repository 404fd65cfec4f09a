"""Credentials and users (issue 17, item 3): a connection's credentials
change in place (PATCH), checked by a sync, with the inventory it brought
kept even when the new ones are wrong; what makes it the endpoint it is
(type, url) cannot change."""
import os
import socket

import requests

from conftest import read_world, write_world
from test_hardening import read_until


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


# -- users ------------------------------------------------------------------

ALICE_PW = "alice-password-1"


def _login(daemon, user, password):
    return requests.post(daemon.base + "/api/v1/auth/login",
                         json={"username": user, "password": password}, timeout=30)


def _as(daemon, token, method, path, body=None):
    kw = {"json": body} if body is not None else {}
    return requests.request(method, daemon.base + path, timeout=30,
                            headers={"Authorization": "Bearer " + token}, **kw)


def _alice(daemon, role="viewer"):
    daemon.ok("POST", "/api/v1/users", {"username": "alice", "password": ALICE_PW, "role": role},
              status=201)
    r = _login(daemon, "alice", ALICE_PW)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _open_stream(daemon, token):
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    s.sendall(("GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
               % token).encode())
    assert read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 200")
    return s


def _audit(daemon, name):
    return [e["message"] for e in daemon.all_items("/api/v1/events", object_id=name)
            if e.get("severity") == "audit"]


def test_disabled_user_is_out_at_once_and_back_when_enabled(daemon):
    tok = _alice(daemon)
    assert _as(daemon, tok, "GET", "/api/v1/auth/me").status_code == 200  # cached now
    s = _open_stream(daemon, tok)
    try:
        got = daemon.ok("PATCH", "/api/v1/users/alice", {"disabled": True})
        assert got == {"username": "alice", "role": "viewer", "disabled": True}
        # the token stops on the next request (the cache does not outlive it) ...
        assert _as(daemon, tok, "GET", "/api/v1/auth/me").status_code == 401
        # ... and the open stream ends
        assert b"0\r\n\r\n" in read_until(s, b"0\r\n\r\n", timeout=10)
    finally:
        s.close()
    assert _login(daemon, "alice", ALICE_PW).status_code == 401
    users = {u["username"]: u for u in daemon.all_items("/api/v1/users")}
    assert users["alice"]["disabled"] is True and users["admin"]["disabled"] is False
    daemon.ok("PATCH", "/api/v1/users/alice", {"disabled": False})
    assert _login(daemon, "alice", ALICE_PW).status_code == 200
    assert _as(daemon, tok, "GET", "/api/v1/auth/me").status_code == 401  # old token stays dead
    msgs = _audit(daemon, "alice")
    assert any("disabled" in m for m in msgs) and any("enabled" in m for m in msgs), msgs


def test_admin_resets_password_and_role(daemon):
    tok = _alice(daemon)
    r = daemon.patch("/api/v1/users/alice", {"password": "too-short"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "weak_password", r.text
    assert _as(daemon, tok, "GET", "/api/v1/auth/me").status_code == 200  # nothing changed
    daemon.ok("PATCH", "/api/v1/users/alice", {"password": "a-new-password-2"})
    assert _as(daemon, tok, "GET", "/api/v1/auth/me").status_code == 401
    assert _login(daemon, "alice", ALICE_PW).status_code == 401
    tok = _login(daemon, "alice", "a-new-password-2").json()["token"]
    assert _as(daemon, tok, "POST", "/api/v1/host-groups", {"name": "g"}).status_code == 403
    daemon.ok("PATCH", "/api/v1/users/alice", {"role": "admin"})
    assert _as(daemon, tok, "GET", "/api/v1/auth/me").status_code == 401  # signs in again
    tok = _login(daemon, "alice", "a-new-password-2").json()["token"]
    assert _as(daemon, tok, "GET", "/api/v1/auth/me").json()["role"] == "admin"
    assert _as(daemon, tok, "POST", "/api/v1/host-groups", {"name": "g"}).status_code == 201
    r = daemon.patch("/api/v1/users/alice", {"role": "root"})
    assert r.status_code == 400
    assert daemon.patch("/api/v1/users/nobody", {"disabled": True}).status_code == 404
    msgs = _audit(daemon, "alice")
    assert any("reset" in m for m in msgs) and any("viewer to admin" in m for m in msgs), msgs
    assert "a-new-password-2" not in daemon.get("/api/v1/events?limit=1000").text
    assert "a-new-password-2" not in daemon.log()


def test_delete_user_and_the_last_admin_stays(daemon):
    tok = _alice(daemon, role="admin")
    s = _open_stream(daemon, tok)
    try:
        assert daemon.delete("/api/v1/users/alice").status_code == 204
        assert _as(daemon, tok, "GET", "/api/v1/auth/me").status_code == 401
        assert b"0\r\n\r\n" in read_until(s, b"0\r\n\r\n", timeout=10)
    finally:
        s.close()
    assert _login(daemon, "alice", ALICE_PW).status_code == 401
    assert daemon.delete("/api/v1/users/alice").status_code == 404
    assert "alice" not in [u["username"] for u in daemon.all_items("/api/v1/users")]
    assert any("deleted" in m for m in _audit(daemon, "alice"))
    # admin is now the last enabled admin
    for method, body in (("DELETE", None), ("PATCH", {"disabled": True}),
                         ("PATCH", {"role": "viewer"})):
        r = daemon.req(method, "/api/v1/users/admin", **({"json": body} if body else {}))
        assert r.status_code == 409 and r.json()["error"]["code"] == "last_admin", r.text
    assert daemon.ok("GET", "/api/v1/auth/me")["role"] == "admin"
    # a second admin makes the first one removable
    _alice(daemon, role="admin")
    daemon.ok("PATCH", "/api/v1/users/admin", {"role": "viewer"})
    r = _as(daemon, _login(daemon, "alice", ALICE_PW).json()["token"], "PATCH",
            "/api/v1/users/alice", {"disabled": True})
    assert r.status_code == 409 and r.json()["error"]["code"] == "last_admin", r.text


def test_user_changes_own_password(daemon):
    tok = _alice(daemon)
    other = _login(daemon, "alice", ALICE_PW).json()["token"]
    r = _as(daemon, tok, "POST", "/api/v1/auth/password", {"old": "not-my-password", "new": "x" * 12})
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_password", r.text
    r = _as(daemon, tok, "POST", "/api/v1/auth/password", {"old": ALICE_PW, "new": "short"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "weak_password", r.text
    r = _as(daemon, tok, "POST", "/api/v1/auth/password", {"old": ALICE_PW, "new": "alice-second-pw"})
    assert r.status_code == 204, r.text
    assert _as(daemon, tok, "GET", "/api/v1/auth/me").status_code == 200     # the caller stays
    assert _as(daemon, other, "GET", "/api/v1/auth/me").status_code == 401   # the others end
    assert _login(daemon, "alice", ALICE_PW).status_code == 401
    assert _login(daemon, "alice", "alice-second-pw").status_code == 200
    msgs = _audit(daemon, "alice")
    assert any("changed its password" in m for m in msgs) and any("refused" in m for m in msgs)
    assert "alice-second-pw" not in daemon.log()


# -- named API tokens ---------------------------------------------------------

def test_named_api_tokens(daemon):
    tok = _alice(daemon)
    r = _as(daemon, tok, "POST", "/api/v1/auth/tokens", {"name": "backup-script", "expires_in": 3600})
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["name"] == "backup-script" and made["expires_in"] == 3600 and len(made["token"]) == 64
    secret = made["token"]
    # the secret is shown once: the list has names and dates, never secrets
    items = _as(daemon, tok, "GET", "/api/v1/auth/tokens").json()["items"]
    assert [t["id"] for t in items] == [made["id"]] and items[0]["last_used_at"] is None
    assert secret not in _as(daemon, tok, "GET", "/api/v1/auth/tokens").text
    me = _as(daemon, secret, "GET", "/api/v1/auth/me").json()
    assert me == {"username": "alice", "role": "viewer"}  # the maker's role
    items = _as(daemon, tok, "GET", "/api/v1/auth/tokens").json()["items"]
    assert items[0]["last_used_at"] and items[0]["expires_at"]
    # another user neither sees nor revokes it; session tokens are not listed
    assert daemon.ok("GET", "/api/v1/auth/tokens")["items"] == []
    assert daemon.delete("/api/v1/auth/tokens/" + made["id"]).status_code == 404
    for body in ({"name": ""}, {"name": "x", "expires_in": 10}, {"name": "x", "expires_in": 10 ** 9},
                 {"expires_in": 3600}):
        assert _as(daemon, tok, "POST", "/api/v1/auth/tokens", body).status_code == 400, body
    # revoked: refused on the next request, even though the cache had it
    assert _as(daemon, tok, "DELETE", "/api/v1/auth/tokens/" + made["id"]).status_code == 204
    assert _as(daemon, secret, "GET", "/api/v1/auth/me").status_code == 401
    assert _as(daemon, tok, "GET", "/api/v1/auth/tokens").json()["items"] == []
    msgs = _audit(daemon, "alice")
    assert any("made" in m for m in msgs) and any("revoked" in m for m in msgs), msgs
    assert secret not in daemon.get("/api/v1/events?limit=1000").text and secret not in daemon.log()
    with open(os.path.join(daemon.data_dir, "polyvisor.db"), "rb") as f:
        assert secret.encode() not in f.read()


# -- against vcsim, which enforces its username and password ------------------

from test_vcenter import PASSWORD as VC_PASSWORD, vc, vcsim, vcsim_bin  # noqa: E402,F401


def test_vcenter_password_patch_keeps_inventory(vc):
    path = "/api/v1/connections/" + vc.conn_id
    vm = vc.all_items("/api/v1/vms")[0]
    vc.ok("PATCH", "/api/v1/vms/" + vm["id"], {"ha": "high", "tags": ["vc-kept"]})
    before = {v["id"]: v["native_id"] for v in vc.all_items("/api/v1/vms")}
    hosts = {h["id"] for h in vc.all_items("/api/v1/hosts")}
    job = vc.wait_job(vc.submit("PATCH", path, {"password": "not-the-vc-password"}), timeout=60)
    assert job["state"] == "failed" and job["error"]["code"] == "auth_failed", job
    assert vc.ok("GET", path)["state"] == "auth_failed"
    assert {v["id"]: v["native_id"] for v in vc.all_items("/api/v1/vms")} == before
    assert {h["id"] for h in vc.all_items("/api/v1/hosts")} == hosts
    got = vc.ok("GET", "/api/v1/vms/" + vm["id"])
    assert got["ha"] == "high" and got["tags"] == ["vc-kept"]
    r = vc.patch(path, {"url": vc.vcsim.url.replace("127.0.0.1", "localhost")})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "url"
    r = vc.patch(path, {"token": "vc-has-no-token"})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "token"
    vc.run("PATCH", path, {"username": vc.vcsim.user, "password": VC_PASSWORD}, timeout=60)
    assert vc.ok("GET", path)["state"] == "connected"
    assert {v["id"]: v["native_id"] for v in vc.all_items("/api/v1/vms")} == before
    _secrets_absent(vc, "not-the-vc-password", VC_PASSWORD)
