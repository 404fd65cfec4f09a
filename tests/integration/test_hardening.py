"""What a hostile probe found, kept fixed: each test is the attack, made the
way an attacker or a careless client would make it, against the real daemon
(and the real agent on libvirt's test driver)."""
import os
import socket
import time

import pytest

from conftest import read_world
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
