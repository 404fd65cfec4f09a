"""What a hostile probe found, kept fixed: each test is the attack, made the
way an attacker or a careless client would make it, against the real daemon
(and the real agent on libvirt's test driver)."""
import hashlib
import json
import os
import socket
import sqlite3
import stat
import subprocess
import time

import pytest
import requests

from conftest import ADMIN_PASSWORD, BUILD, Daemon, free_port, read_world
from kvm_rig import TOKEN, Agent


def open_stream(daemon, last_event_id):
    """A raw SSE request with this Last-Event-ID, left open; the socket."""
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    s.sendall(("GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\n"
               "Authorization: Bearer %s\r\nLast-Event-ID: %s\r\n\r\n"
               % (daemon.token, last_event_id)).encode())
    return s


def read_until(sock, needle, timeout=10):
    got, end = b"", time.time() + timeout
    sock.settimeout(0.5)
    while needle not in got and time.time() < end:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        got += chunk
    return got


@pytest.mark.parametrize("last_id", ["-1", "18446744073709551615", "18446744073709551616",
                                     "99999999999999999999999", "abc", "1e3", "+5", " 7", "0x10",
                                     "5junk", "0"])
def test_hostile_last_event_id_does_not_crash(daemon, last_id):
    """Defect 1: Last-Event-ID -1 (or 2^64-1) wrapped to an empty ring slot and
    the daemon died.  Now any value is parsed strictly or ignored, and the
    stream still delivers what happens next."""
    daemon.ok("POST", "/api/v1/host-groups", {"name": "before"}, status=201)
    s = open_stream(daemon, last_id)
    try:
        head = read_until(s, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        daemon.ok("POST", "/api/v1/host-groups", {"name": "after-" + last_id.strip()[:8]},
                  status=201)
        body = read_until(s, b"host group after-")
        assert b"host group after-" in body
        if last_id == "0":  # a real id resumes after it: the earlier event is replayed
            assert b"host group before created" in head + body
    finally:
        s.close()
    assert daemon.proc.poll() is None, daemon.log()
    assert daemon.get("/healthz").status_code == 200


@pytest.fixture
def kvm(daemon, tmpdir_path):
    agent = Agent(tmpdir_path).start()
    job = daemon.run("POST", "/api/v1/connections", {"type": "kvm", "url": agent.base, "token": TOKEN})
    daemon.conn_id = job["result"]["connection_id"]
    daemon.agent = agent
    yield daemon
    agent.stop()


@pytest.mark.parametrize("path", ["/etc/shadow", "/dev/sda", "/proc/self/environ",
                                  "/polyvisor-demo/images/../../etc/shadow"])
def test_disk_must_be_a_pool_volume_at_the_agent(kvm, path):
    """Defect 2: a disk of any host file or device.  The agent refuses every
    path that is not a volume of one of its storage pools."""
    r = kvm.agent.call("POST", "/v1/vms", {"name": "steal", "vcpus": 1, "memory_mb": 128,
                                           "disks": [{"path": path}]})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] in ("disk_path_not_allowed", "invalid_spec"), r.text
    assert "steal" not in [v["name"] for v in kvm.agent.call("GET", "/v1/vms").json()["items"]]


@pytest.mark.parametrize("path", ["/etc/shadow", "/dev/sda"])
def test_disk_outside_pools_fails_the_create(kvm, path):
    job = kvm.run("POST", "/api/v1/vms", {"name": "steal", "vcpus": 1, "memory_mb": 128,
                                          "disks": [{"path": path}]}, expect="failed")
    assert job["error"]["code"] == "disk_path_not_allowed", job
    assert "steal" not in [v["name"] for v in kvm.all_items("/api/v1/vms")]


@pytest.mark.parametrize("path", ["relative.img", "/a/../etc/shadow", "/a/./b", "//etc/shadow",
                                  "/", "/images/", "/a/..", 7, None])
def test_disk_path_shape_refused_at_the_api(kvm, path):
    r = kvm.post("/api/v1/vms", {"name": "steal", "vcpus": 1, "memory_mb": 128,
                                 "disks": [{"path": path}]})
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "disk_path_not_allowed" and err["details"]["field"] == "disks", err
    assert not [j for j in kvm.all_items("/api/v1/jobs") if j["kind"] == "vm.create"]


def test_disk_that_is_a_pool_volume_is_accepted(kvm):
    """The rule keeps what is right working: a volume the pool made."""
    job = kvm.run("POST", "/api/v1/vms", {"name": "db1", "vcpus": 1, "memory_mb": 128,
                                          "disks": [{"size_gb": 1}]})
    path = kvm.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])["disks"][0]["path"]
    job = kvm.run("POST", "/api/v1/vms", {"name": "db2", "vcpus": 1, "memory_mb": 128,
                                          "disks": [{"path": path}]})
    assert kvm.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])["disks"][0]["path"] == path


@pytest.mark.parametrize("where", ["/etc/shadow", "/etc/passwd", "WORLD_DIR/../outside.json",
                                   "WORLD_DIR/link.json"])
def test_test_adapter_reads_only_its_world_dir(daemon, tmpdir_path, where):
    """Defect 2, the test adapter: test:///etc/shadow read any file and echoed
    it into last_error.  World files now live in test.world_dir only; a link
    out of it is refused too."""
    outside = os.path.join(os.path.dirname(tmpdir_path), "outside.json")
    os.symlink("/etc/passwd", os.path.join(tmpdir_path, "link.json"))
    path = where.replace("WORLD_DIR", tmpdir_path)
    job = daemon.wait_job(daemon.submit("POST", "/api/v1/connections",
                                        {"type": "test", "url": "test://" + path}))
    assert job["state"] == "failed" and job["error"]["code"] == "path_not_allowed", job
    conn = daemon.all_items("/api/v1/connections")[0]
    for text in (conn["last_error"], job["error"]["message"], daemon.get("/api/v1/events").text):
        assert "root:" not in text and "root:x" not in text
    assert not os.path.exists(outside) and not os.path.exists(path + ".lock")
    assert open("/etc/passwd").read().startswith("root:")  # untouched


def test_world_inside_world_dir_still_works(daemon, tmpdir_path):
    path = os.path.join(tmpdir_path, "sub", "world.json")
    os.makedirs(os.path.dirname(path))
    daemon.add_test_connection(path)
    assert read_world(path)["hosts"]


def login(daemon, username="admin", password=ADMIN_PASSWORD, **kw):
    return requests.post(daemon.base + "/api/v1/auth/login",
                         json={"username": username, "password": password}, timeout=30, **kw)


def test_logout_ends_an_open_event_stream(daemon):
    """Defect 7: a logged-out token's stream kept receiving events."""
    tok = login(daemon).json()["token"]
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=5)
    try:
        s.sendall(("GET /api/v1/events/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                   % tok).encode())
        assert read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 200")
        r = requests.post(daemon.base + "/api/v1/auth/logout",
                          headers={"Authorization": "Bearer " + tok}, timeout=10)
        assert r.status_code == 204
        daemon.ok("POST", "/api/v1/host-groups", {"name": "after-logout"}, status=201)
        # the stream ends (the chunked body's last chunk), and carries nothing after the logout
        got = read_until(s, b"0\r\n\r\n", timeout=10)
        assert b"0\r\n\r\n" in got, got
        assert b"after-logout" not in got
    finally:
        s.close()


def test_expired_token_is_refused_on_the_second(daemon):
    """Defect 11: the token cache accepted an expired token for up to 60 s."""
    tok = login(daemon).json()["token"]
    digest = hashlib.sha256(tok.encode()).hexdigest()
    soon = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 2))
    db = sqlite3.connect(os.path.join(daemon.data_dir, "polyvisor.db"), timeout=10)
    db.execute("UPDATE tokens SET expires_at = ? WHERE token_hash = ?", (soon, digest))
    db.commit()
    db.close()
    h = {"Authorization": "Bearer " + tok}
    assert requests.get(daemon.base + "/api/v1/vms", headers=h, timeout=10).status_code == 200
    time.sleep(3)
    r = requests.get(daemon.base + "/api/v1/vms", headers=h, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "invalid_token"


@pytest.mark.parametrize("path,token", [
    ("/api/v1/vms?sort=%ff", True), ("/api/v1/vms?filter=%ff", True), ("/api/v1/vms?fields=%ff", True),
    ("/api/v1/vms?cursor=%ff%fe", True), ("/api/v1/vms?limit=%ff", True),
    ("/api/v1/vms/" + "a" * 79 + "%C3%A9", True), ("/api/v1/hosts/" + "a" * 79 + "%C3%A9", True),
    ("/api/v1/vms/%ff", True), ("/api/v1/vms?sort=" + "a" * 79 + "%C3%A9", True),
    ("/api/v1/vms?sort=%ff", False), ("/api/v1/vms/%ff", False),
])
def test_error_messages_are_valid_utf8(daemon, path, token):
    """Defect 9: invalid or cut UTF-8 echoed into an error turned a 400 into
    500 no_reply."""
    h = {"Authorization": "Bearer " + daemon.token} if token else {}
    r = requests.get(daemon.base + path, headers=h, timeout=10)
    assert r.status_code in (400, 401, 404), (r.status_code, r.text)
    body = json.loads(r.content.decode("utf-8"))  # strict: raises on invalid UTF-8
    assert body["error"]["code"] != "no_reply"


def test_unknown_user_costs_what_a_wrong_password_costs(daemon):
    """Defect 10: 0.5 ms for an unknown user against 45 ms for a wrong
    password told which names exist."""
    def took(user):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            assert login(daemon, user, "not-the-password-1").status_code == 401
            times.append(time.perf_counter() - t0)
        return sorted(times)[2]
    known, unknown = took("admin"), took("nobody-by-that-name")
    assert unknown > 0.5 * known, (unknown, known)


def test_login_wants_json(daemon):
    """Defect 16: a login posted as a form (login CSRF) was accepted."""
    data = json.dumps({"username": "admin", "password": ADMIN_PASSWORD})
    for ct in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data", None,
               "application/jsonx"):
        h = {"Content-Type": ct} if ct else {}
        r = requests.post(daemon.base + "/api/v1/auth/login", data=data, headers=h, timeout=10)
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type", (ct, r.text)
    r = requests.post(daemon.base + "/api/v1/auth/login", data=data, timeout=10,
                      headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200


def test_connection_url_with_credentials_refused(daemon):
    """Defect 13: http://user:pass@host showed the password to every viewer."""
    for url in ("http://user:pass@127.0.0.1:1/", "https://root:secret@127.0.0.1:1/sdk",
                "https://a@b@127.0.0.1/wsman"):
        r = daemon.post("/api/v1/connections", {"type": "vcenter", "url": url, "username": "u",
                                                "password": "p", "insecure": True})
        assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "url", r.text
        assert "pass" not in json.dumps(daemon.ok("GET", "/api/v1/connections"))
    # an @ in the path is no userinfo
    r = daemon.post("/api/v1/connections", {"type": "kvm", "url": "http://127.0.0.1:1/a@b", "token": "t"})
    assert r.status_code == 202, r.text


def test_data_files_are_private_whatever_the_umask(tmpdir_path):
    """Defect 12: polyvisor.db, -wal and -shm were 0644."""
    data = os.path.join(tmpdir_path, "data")
    os.makedirs(data, mode=0o755)
    old = os.umask(0o022)
    try:
        d = Daemon(data).start()
    finally:
        os.umask(old)
    try:
        d.ok("POST", "/api/v1/host-groups", {"name": "g"}, status=201)  # the WAL has content
        assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
        for name in ("polyvisor.db", "polyvisor.db-wal", "polyvisor.db-shm", "secret.key"):
            p = os.path.join(data, name)
            if os.path.exists(p):
                assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, name
        assert os.path.exists(os.path.join(data, "polyvisor.db-wal"))
    finally:
        d.stop()


def start_fails(data, env=None):
    p = subprocess.run([os.path.join(BUILD, "polyvisord"), "--listen", "127.0.0.1:%d" % free_port(),
                        "--data-dir", data], capture_output=True, text=True, timeout=30,
                       env=dict(dict(os.environ, POLYVISOR_ADMIN_PASSWORD=ADMIN_PASSWORD), **(env or {})))
    assert p.returncode != 0, p.stderr
    return p.stderr


@pytest.mark.parametrize("kind", ["empty", "garbage", "foreign", "damaged"])
def test_damaged_database_refused_at_start(tmpdir_path, kind):
    """Defect 14: a 0-byte file started as a fresh install with a new admin;
    damaged pages started and then answered 500."""
    data = os.path.join(tmpdir_path, "data")
    os.makedirs(data)
    db = os.path.join(data, "polyvisor.db")
    if kind == "empty":
        open(db, "w").close()
    elif kind == "garbage":
        with open(db, "wb") as f:
            f.write(os.urandom(8192))
    elif kind == "foreign":
        c = sqlite3.connect(db)
        c.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
        c.commit()
        c.close()
    else:
        d = Daemon(data).start()
        for i in range(200):
            d.ok("POST", "/api/v1/host-groups", {"name": "g%d" % i}, status=201)
        d.stop()
        with open(db, "r+b") as f:  # overwrite the middle of the file: b-tree pages
            size = f.seek(0, 2)
            f.seek(size // 2)
            f.write(b"\xa5" * 4096)
    before = open(db, "rb").read()
    err = start_fails(data)
    assert "polyvisor.db" in err and ("empty" in err or "damaged" in err or "another program" in err
                                      or "not an SQLite database" in err), err
    assert open(db, "rb").read() == before  # nothing written over it


def test_short_admin_password_refused(tmpdir_path):
    """Defect 18: the first admin password could be one character."""
    data = os.path.join(tmpdir_path, "data")
    err = start_fails(data, {"POLYVISOR_ADMIN_PASSWORD": "x"})
    assert "at least 12 characters" in err, err


def test_short_user_password_refused(daemon):
    r = daemon.post("/api/v1/users", {"username": "u1", "password": "elevenchars", "role": "viewer"})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "password", r.text
    daemon.ok("POST", "/api/v1/users", {"username": "u1", "password": "twelve-chars", "role": "viewer"},
              status=201)


@pytest.mark.parametrize("body,field", [
    ({"name": "a/b"}, "name"), ({"name": "a\\b"}, "name"), ({"name": " lead"}, "name"),
    ({"name": "tab\there"}, "name"), ({"name": ".."}, "name"),
    ({"disks": [{"size_gb": 0}]}, "disks"), ({"disks": [{"size_gb": "1"}]}, "disks"),
    ({"disks": [{"size_gb": 1, "pool": "a/b"}]}, "disks"), ({"disks": [{"size": 1}]}, "disks"),
    ({"disks": [{"size_gb": 1, "path": "/x/y.img"}]}, "disks"),
    ({"disks": [{"size_gb": 1, "pool": "p", "datastore": "d"}]}, "disks"),
    ({"disks": [{}]}, "disks"), ({"disks": ["x"]}, "disks"),
    ({"nics": [{}]}, "nics"), ({"nics": [{"network": "a", "bridge": "b"}]}, "nics"),
    ({"nics": [{"network": ""}]}, "nics"), ({"nics": [{"net": "default"}]}, "nics"),
    ({"nics": [{"network": 5}]}, "nics"),
])
def test_names_and_device_shapes_checked_at_the_api(lab, body, field):
    """Defect 17: such specs got 202 and a failed job; now a 400 naming the field."""
    spec = {"name": "ok-name", "vcpus": 1, "memory_mb": 128}
    spec.update(body)
    r = lab.post("/api/v1/vms", spec)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["details"]["field"] == field, r.text
    assert not [j for j in lab.all_items("/api/v1/jobs") if j["kind"] == "vm.create"]


def test_password_guessing_is_throttled_and_recorded(daemon):
    """Defect 6: 400 wrong passwords in 13 s, all 401, nothing recorded."""
    daemon.ok("POST", "/api/v1/users", {"username": "other", "password": "other-password-1",
                                        "role": "viewer"}, status=201)
    for _ in range(5):  # five free failures
        assert login(daemon, "admin", "wrong-password-1").status_code == 401
    assert login(daemon, "admin", "wrong-password-1").status_code == 401  # the sixth: now it waits
    r = login(daemon, "admin", "wrong-password-1")
    assert r.status_code == 429 and r.json()["error"]["code"] == "too_many_attempts", r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 300
    # even the right password waits: the guesser learns nothing meanwhile
    assert login(daemon).status_code == 429
    # another user from the same address is not locked out by it
    assert login(daemon, "other", "other-password-1").status_code == 200
    time.sleep(int(r.headers["Retry-After"]) + 0.2)
    assert login(daemon).status_code == 200
    msgs = [e["message"] for e in daemon.all_items("/api/v1/events", filter="severity eq 'audit'")]
    assert sum("sign-in of admin from 127.0.0.1 failed" in m for m in msgs) == 6, msgs
    assert any(m == "admin signed in from 127.0.0.1" for m in msgs), msgs
    assert any(m == "other signed in from 127.0.0.1" for m in msgs), msgs


def test_one_address_guessing_many_users_is_throttled(daemon):
    for i in range(20):  # 5 free per user, 20 per address
        assert login(daemon, "user%d" % i, "wrong-password-1").status_code == 401
    r = login(daemon, "user99", "wrong-password-1")
    assert r.status_code == 401  # the address's 21st failure: from here on it waits
    r = login(daemon, "user100", "wrong-password-1")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_stale_state_reads_unknown_and_ha_still_restarts(tmpdir_path):
    """Defect 21: with a connection down, its VMs were still listed as
    running -- the last thing heard, shown as now.  Now they read unknown,
    with last_known_power_state and stale_since, in lists, filters, /summary
    and /metrics; HA decides on the last known state and restarts them; a
    fresh report brings the real state back."""
    import worlds
    from conftest import wait_for
    d = Daemon(os.path.join(tmpdir_path, "data"), extra_args=["--host-failure-timeout", "3"])
    os.makedirs(d.data_dir)
    d.start()
    try:
        src, dst = os.path.join(tmpdir_path, "a.json"), os.path.join(tmpdir_path, "b.json")
        worlds.save(src, worlds.world(hosts=[("a", 65536, 16)],
                                      vms=[("ha1", "a", 512, 1), ("plain", "a", 512, 1),
                                           ("off", "a", 512, 1, "stopped")]))
        wb = worlds.world(hosts=[("b", 65536, 16)], vms=[("other", "b", 512, 1)])
        wb["vms"][0]["id"] = "6b1d0000-0000-4000-8000-0000000000bb"  # not ha1's UUID
        worlds.save(dst, wb)
        d.add_test_connection(src)
        d.add_test_connection(dst)
        vms = {v["name"]: v for v in d.all_items("/api/v1/vms")}
        assert vms["plain"]["power_state"] == "running" and vms["plain"]["stale_since"] is None
        d.ok("PATCH", "/api/v1/vms/" + vms["ha1"]["id"], {"ha": "high"})
        os.rename(src, src + ".gone")  # host a's hypervisor stops answering
        plain = wait_for(lambda: (lambda v: v if v["power_state"] == "unknown" else None)(
            d.ok("GET", "/api/v1/vms/" + vms["plain"]["id"])), 30, "plain to read unknown")
        assert plain["last_known_power_state"] == "running" and plain["stale_since"]
        off = d.ok("GET", "/api/v1/vms/" + vms["off"]["id"])
        assert off["power_state"] == "unknown" and off["last_known_power_state"] == "stopped"
        # the lists, the filter, the summary and the metrics say the same
        unknown = {v["name"] for v in d.all_items("/api/v1/vms", filter="power_state eq 'unknown'")}
        assert {"plain", "off"} <= unknown and "other" not in unknown
        running = {v["name"] for v in d.all_items("/api/v1/vms", filter="power_state eq 'running'")}
        assert "plain" not in running and "other" in running
        summary = d.ok("GET", "/api/v1/summary")
        assert summary["vms"]["by_power_state"].get("unknown", 0) >= 2, summary["vms"]
        metrics = requests.get(d.base + "/metrics", timeout=10).text
        assert 'polyvisor_vms{power_state="unknown"}' in metrics
        # HA decides on the last known state: the running HA VM is restarted elsewhere
        moved = wait_for(lambda: (lambda v: v if v["host_id"] != vms["ha1"]["host_id"]
                                  and v["power_state"] == "running" else None)(
            d.ok("GET", "/api/v1/vms/" + vms["ha1"]["id"])), 60, "ha1 restarted on host b")
        assert moved["stale_since"] is None
        # the host comes back: the first fresh report is the truth again
        os.rename(src + ".gone", src)
        wait_for(lambda: d.ok("GET", "/api/v1/vms/" + vms["off"]["id"])["power_state"] == "stopped",
                 60, "off to read stopped again")
    finally:
        d.stop()
