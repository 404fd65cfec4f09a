"""Bad input: each answered with a 4xx and a stable error code, and the
inventory unchanged afterwards."""
import json
import socket
import time

import pytest

from conftest import rss_kb


def snapshot(d):
    return {
        "host_groups": sorted(json.dumps(i, sort_keys=True) for i in d.all_items("/api/v1/host-groups", limit=1000)),
        "connections": sorted(i["id"] for i in d.all_items("/api/v1/connections", limit=1000)),
        "vms": sorted(json.dumps(i, sort_keys=True) for i in d.all_items("/api/v1/vms", limit=1000)),
        "jobs": sorted(i["id"] for i in d.all_items("/api/v1/jobs", limit=1000)),
    }


def raw(d, data, read_timeout=10):
    """Send raw bytes, return the raw answer (up to the close)."""
    s = socket.create_connection(("127.0.0.1", d.port))
    s.settimeout(read_timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    s.close()
    return out


def post_raw(d, path, body, content_type=b"application/json"):
    head = (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Authorization: Bearer " + d.token.encode() + b"\r\nContent-Type: " + content_type +
            b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n")
    return raw(d, head + body)


def status_and_code(resp):
    status = int(resp.split(b" ", 2)[1])
    body = resp.split(b"\r\n\r\n", 1)[1]
    if b"\r\n" in body and not body.lstrip().startswith(b"{"):  # chunked
        body = body.split(b"\r\n", 1)[1]
    return status, json.loads(body[: body.rindex(b"}") + 1])["error"]["code"]


@pytest.fixture
def seeded(lab):
    lab.ok("POST", "/api/v1/host-groups", {"name": "existing"}, status=201)
    return lab


BAD_BODIES = [
    # (path, body bytes, expected status, expected code)
    ("/api/v1/host-groups", b'{"name": ', 400, "invalid_json"),
    ("/api/v1/host-groups", b'[1, 2]', 400, "invalid_json"),
    ("/api/v1/host-groups", b'"just a string"', 400, "invalid_json"),
    ("/api/v1/host-groups", b'{"name": "a", "name": "b"}', 400, "invalid_json"),
    ("/api/v1/host-groups", b'{"name": 5}', 400, "wrong_type"),
    ("/api/v1/host-groups", b'{"name": "x", "parent_id": 7}', 400, "wrong_type"),
    ("/api/v1/host-groups", b'{"name": "x", "policy": []}', 400, "wrong_type"),
    ("/api/v1/host-groups", b'{"name": "x", "colour": "red"}', 400, "unknown_field"),
    ("/api/v1/host-groups", b'{}', 400, "missing_field"),
    ("/api/v1/host-groups", b'{"name": ""}', 400, "invalid_value"),
    ("/api/v1/host-groups", b'{"name": "x", "parent_id": "hg-nope"}', 404, "host_group_not_found"),
    ("/api/v1/host-groups", b'{"name": "\xff\xfe"}', 400, "invalid_utf8"),
    ("/api/v1/host-groups", b'{"name": "ok\xc3"}', 400, "invalid_utf8"),
    ("/api/v1/host-groups", b'{"name": "a\\u0000b"}', 400, "invalid_json"),
    ("/api/v1/host-groups", b"[" * 100000, 400, "invalid_json"),
    ("/api/v1/host-groups", b"", 400, "missing_body"),
    ("/api/v1/vms", b'{"name": "v", "vcpus": "2", "memory_mb": 128}', 400, "wrong_type"),
    ("/api/v1/vms", b'{"name": "v", "vcpus": 2.5, "memory_mb": 128}', 400, "wrong_type"),
    ("/api/v1/vms", b'{"name": "v", "vcpus": 0, "memory_mb": 128}', 400, "invalid_value"),
    ("/api/v1/vms", b'{"name": "v", "vcpus": 99999999999999999999999, "memory_mb": 128}', 400, "invalid_json"),
    ("/api/v1/vms", b'{"name": "v", "vcpus": 1, "memory_mb": 128, "ha": "always"}', 400, "invalid_value"),
    ("/api/v1/vms", b'{"name": "v", "vcpus": 1, "memory_mb": 128, "disks": [1]}', 400, "wrong_type"),
    ("/api/v1/vms", b'{"name": "v", "vcpus": 1, "memory_mb": 128, "tags": [""]}', 400, "wrong_type"),
    ("/api/v1/vms", b'{"name": "v", "vcpus": 1}', 400, "missing_field"),
    ("/api/v1/vms", b'{"name": "v", "vcpus": 1, "memory_mb": 128, "host_id": "host-nope"}', 404, "host_not_found"),
    ("/api/v1/vms", b'{"name": "v", "vcpus": 1, "memory_mb": 128, "hostid": "x"}', 400, "unknown_field"),
    ("/api/v1/connections", b'{"type": "kvm", "url": "http://127.0.0.1:1"}', 400, "missing_field"),
    ("/api/v1/connections", b'{"type": "vcenter", "url": "https://127.0.0.1:1/sdk", "username": "u"}', 400, "missing_field"),
    ("/api/v1/connections", b'{"type": "xen", "url": "http://127.0.0.1:1"}', 400, "invalid_value"),
    ("/api/v1/connections", b'{"type": "kvm", "url": "ftp://x", "token": "t"}', 400, "invalid_value"),
    ("/api/v1/connections", b'{"type": "kvm", "url": "http://a b", "token": "t"}', 400, "invalid_value"),
    ("/api/v1/connections", b'{"type": "kvm", "url": "http://127.0.0.1:1", "token": "t", "insecure": "yes"}', 400, "wrong_type"),
    ("/api/v1/vms/vm-nope/start", b'', 404, "vm_not_found"),
    ("/api/v1/jobs/job-nope/cancel", b'', 404, "job_not_found"),
]


@pytest.mark.parametrize("path,body,status,code", BAD_BODIES)
def test_bad_body(seeded, path, body, status, code):
    before = snapshot(seeded)
    resp = post_raw(seeded, path, body)
    got_status, got_code = status_and_code(resp)
    assert (got_status, got_code) == (status, code), resp[:600]
    assert snapshot(seeded) == before


def test_error_body_shape(daemon):
    r = daemon.post("/api/v1/host-groups", {"name": "x", "bogus": 1})
    e = r.json()["error"]
    assert set(e) == {"code", "message", "details"}
    assert e["details"] == {"field": "bogus"}
    assert "bogus" in e["message"]


def test_bad_queries(daemon):
    for params, code in [({"filter": "name eq"}, "invalid_filter"),
                         ({"filter": "nosuch eq 1"}, "unknown_field"),
                         ({"filter": "memory_mb eq 'x'"}, "invalid_filter"),
                         ({"limit": "0"}, "invalid_limit"),
                         ({"limit": "5000"}, "invalid_limit"),
                         ({"sort": "disks"}, "invalid_sort"),
                         ({"fields": "name,nosuch"}, "invalid_fields")]:
        r = daemon.get("/api/v1/vms", params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"]["code"] == code, (params, r.text)


def test_sql_metacharacters_stored_verbatim(seeded):
    nasty = ["x'; DROP TABLE vms; --", 'a"b', "100%_\\", "' OR '1'='1", "name); DELETE FROM hosts;--",
             "ünïcødé ✓"]
    for i, s in enumerate(nasty):
        policy = {"tag_rules": [{"vm_tag": s, "host_tag": s, "match": "must"}]}
        g = seeded.ok("POST", "/api/v1/host-groups",
                      {"name": s, "description": s, "policy": policy}, status=201)
        back = seeded.ok("GET", "/api/v1/host-groups/" + g["id"])
        assert back["name"] == s and back["description"] == s and back["policy"] == policy
        # and as a filter value
        items = seeded.all_items("/api/v1/host-groups", filter="name eq '%s'" % s.replace("'", "''"))
        assert [x["id"] for x in items] == [g["id"]]
    vm = seeded.all_items("/api/v1/vms")[0]
    seeded.ok("PATCH", "/api/v1/vms/" + vm["id"], {"tags": nasty[:5]})
    assert seeded.ok("GET", "/api/v1/vms/" + vm["id"])["tags"] == nasty[:5]
    # nothing was dropped
    assert len(seeded.all_items("/api/v1/vms")) == 3
    assert len(seeded.all_items("/api/v1/hosts")) == 2


def test_100mib_body_refused_early(daemon):
    before = rss_kb(daemon.proc.pid)
    head = (b"POST /api/v1/host-groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
            daemon.token.encode() + b"\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n")
    t0 = time.time()
    resp = raw(daemon, head + b'{"name": "' + b"a" * 65536)
    assert time.time() - t0 < 5
    status, code = status_and_code(resp)
    assert (status, code) == (413, "body_too_large")
    assert rss_kb(daemon.proc.pid) - before < 20 * 1024
    assert daemon.ok("GET", "/api/v1/host-groups")["items"] == []


def test_100mib_chunked_body_cut_off(daemon):
    before = rss_kb(daemon.proc.pid)
    s = socket.create_connection(("127.0.0.1", daemon.port))
    s.settimeout(10)
    s.sendall(b"POST /api/v1/host-groups HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
              daemon.token.encode() + b"\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n" % 65536 + b"a" * 65536 + b"\r\n"
    sent = 0
    try:
        while sent < 100 * 1024 * 1024:
            s.sendall(chunk)
            sent += 65536
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        pass
    assert sent < 100 * 1024 * 1024, "the daemon read the whole 100 MiB"
    s.close()
    assert rss_kb(daemon.proc.pid) - before < 20 * 1024
    assert daemon.ok("GET", "/healthz")["status"] == "ok"
