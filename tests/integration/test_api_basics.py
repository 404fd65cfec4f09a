"""Health, sign-in, tokens, routing errors, adapters, metrics."""
import requests


def test_healthz_needs_no_token(daemon):
    r = requests.get(daemon.base + "/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["schema_version"] >= 1


def test_login_and_whoami(daemon):
    me = daemon.ok("GET", "/api/v1/auth/me")
    assert me == {"username": "admin", "role": "admin"}


def test_login_wrong_password(daemon):
    r = requests.post(daemon.base + "/api/v1/auth/login",
                      json={"username": "admin", "password": "wrong"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_credentials"
    r = requests.post(daemon.base + "/api/v1/auth/login",
                      json={"username": "nobody", "password": "wrong"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_credentials"


def test_missing_and_wrong_token(daemon):
    r = requests.get(daemon.base + "/api/v1/vms")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    r = requests.get(daemon.base + "/api/v1/vms", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "invalid_token"
    r = requests.get(daemon.base + "/api/v1/vms", headers={"Authorization": "Basic YWRtaW46eA=="})
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


def test_logout_revokes_token(daemon):
    r = requests.post(daemon.base + "/api/v1/auth/login",
                      json={"username": "admin", "password": "admin-pw-for-tests"})
    tok = r.json()["token"]
    h = {"Authorization": "Bearer " + tok}
    assert requests.get(daemon.base + "/api/v1/vms", headers=h).status_code == 200
    assert requests.post(daemon.base + "/api/v1/auth/logout", headers=h).status_code == 204
    r = requests.get(daemon.base + "/api/v1/vms", headers=h)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


def test_token_survives_restart(daemon):
    tok = daemon.token
    daemon.restart()
    r = requests.get(daemon.base + "/api/v1/vms", headers={"Authorization": "Bearer " + tok})
    assert r.status_code == 200


def test_unknown_route_is_404(daemon):
    r = daemon.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "route_not_found"


def test_wrong_method_is_405_with_allow(daemon):
    r = daemon.req("PUT", "/api/v1/vms")
    assert r.status_code == 405
    assert r.json()["error"]["code"] == "method_not_allowed"
    assert set(r.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST"}


def test_dotdot_path_refused(daemon):
    # requests normalises "..", so send the raw request line
    import socket
    s = socket.create_connection(("127.0.0.1", daemon.port))
    s.sendall(b"GET /api/v1/../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 400")
    assert b'"invalid_path"' in data
    s = socket.create_connection(("127.0.0.1", daemon.port))
    s.sendall(b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = s.recv(65536)
    s.close()
    assert data.startswith(b"HTTP/1.1 400") and b"root:" not in data


def test_adapters_listed(daemon):
    items = daemon.ok("GET", "/api/v1/adapters")["items"]
    test = [a for a in items if a["name"] == "test"]
    assert test, items
    assert test[0]["abi"] == 11
    assert "live_migrate" in test[0]["capabilities"]
    kvm = [a for a in items if a["name"] == "kvm"][0]
    assert "probe" in kvm["capabilities"] and "probe" not in test[0]["capabilities"]
    assert "snapshots" in kvm["capabilities"] and "snapshots" in test[0]["capabilities"]


def test_metrics(daemon):
    daemon.get("/api/v1/vms")
    r = requests.get(daemon.base + "/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    assert 'polyvisor_http_requests_total{route="/api/v1/vms",status="200"}' in text
    assert "polyvisor_http_request_duration_seconds_bucket" in text
    assert "# TYPE polyvisor_jobs gauge" in text
    assert "# TYPE polyvisor_vms gauge" in text


def test_console_is_served(daemon):
    r = requests.get(daemon.base + "/")
    assert r.status_code == 200
    assert "text/html" in r.headers["Content-Type"]
    assert "Polyvisor" in r.text
    assert requests.get(daemon.base + "/js/app.js").status_code == 200
    assert requests.get(daemon.base + "/no-such-file.js").status_code == 404


def test_viewer_reads_but_cannot_change(daemon):
    daemon.ok("POST", "/api/v1/users", {"username": "vera", "password": "viewer-pw-123",
                                        "role": "viewer"}, status=201)
    r = daemon.post("/api/v1/users", {"username": "vera", "password": "another-pw-123", "role": "admin"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "user_exists"
    r = daemon.post("/api/v1/users", {"username": "bad name", "password": "whatever-1234", "role": "viewer"})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "username"
    r = daemon.post("/api/v1/users", {"username": "short", "password": "x", "role": "viewer"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_value"
    users = daemon.ok("GET", "/api/v1/users")["items"]
    assert {u["username"]: u["role"] for u in users} == {"admin": "admin", "vera": "viewer"}
    assert all("password" not in str(u) for u in users)
    tok = requests.post(daemon.base + "/api/v1/auth/login",
                        json={"username": "vera", "password": "viewer-pw-123"}).json()["token"]
    h = {"Authorization": "Bearer " + tok}
    assert requests.get(daemon.base + "/api/v1/vms", headers=h).status_code == 200
    assert requests.get(daemon.base + "/api/v1/auth/me", headers=h).json()["role"] == "viewer"
    for method, path in [("POST", "/api/v1/host-groups"), ("POST", "/api/v1/vms"),
                         ("POST", "/api/v1/connections"), ("DELETE", "/api/v1/vms/x"),
                         ("GET", "/api/v1/users")]:
        r = requests.request(method, daemon.base + path, headers=h, json={"name": "x"})
        assert r.status_code == 403, (method, path)
        assert r.json()["error"]["code"] == "forbidden"
    assert daemon.ok("GET", "/api/v1/host-groups")["items"] == []


def test_summary_counts(lab):
    s = lab.ok("GET", "/api/v1/summary")
    hosts = lab.all_items("/api/v1/hosts")
    vms = lab.all_items("/api/v1/vms")
    assert sum(s["hosts"]["by_state"].values()) == len(hosts)
    assert sum(s["vms"]["by_power_state"].values()) == len(vms)
    running = sum(1 for v in vms if v["power_state"] == "running")
    assert s["vms"]["by_power_state"].get("running", 0) == running
    assert s["vms"]["by_vendor_state"]["test"]["running"] == running
    connected = [h for h in hosts if h["state"] == "connected"]
    assert s["capacity"]["memory_mb"] == sum(h["memory_mb"] for h in connected)
    assert s["connections"] == {"connected": 1}
