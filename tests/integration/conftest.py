"""Integration test harness: the real polyvisord on a temp data dir and a free
loopback port, driven over HTTP.  Every daemon a test starts is stopped by
its PID at teardown; nothing listens beyond 127.0.0.1."""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("POLYVISOR_BUILD", os.path.join(ROOT, "build"))
ADMIN_PASSWORD = "admin-pw-for-tests"
TERMINAL = ("succeeded", "failed", "cancelled")


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Ends a process this test started: sig, then SIGKILL after timeout
    seconds; nothing when it is not running."""
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(pred, timeout=30, what="condition"):
    """Polls pred until it returns something true, and returns that; fails the
    test after timeout seconds."""
    end = time.time() + timeout
    while time.time() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def rss_kb(pid):
    """The resident memory of a process, in KiB (0 when it cannot be read)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """One polyvisord process and an authenticated session to it."""

    def __init__(self, data_dir, extra_args=()):
        self.data_dir = data_dir
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.extra_args = list(extra_args)
        self.proc = None
        self.token = None
        self.log_path = os.path.join(data_dir, "polyvisord.log")
        self.http = requests.Session()

    def start(self, timeout=15):
        env = dict(os.environ, POLYVISOR_ADMIN_PASSWORD=ADMIN_PASSWORD)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "polyvisord"), "--listen", "127.0.0.1:%d" % self.port,
             "--data-dir", self.data_dir, "--adapter-dir", os.path.join(BUILD, "adapters"),
             "--shutdown-grace-seconds", "10",
             # the tests keep their test-adapter worlds beside the data dir
             "--test.world-dir", os.path.dirname(os.path.abspath(self.data_dir))] + self.extra_args,
            stdout=log, stderr=log, env=env)
        log.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("polyvisord exited: " + self.log())
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        else:
            raise RuntimeError("polyvisord did not come up: " + self.log())
        self.http = requests.Session()
        self.login()
        return self

    def login(self):
        r = self.http.post(self.base + "/api/v1/auth/login",
                           json={"username": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 200, r.text
        self.token = r.json()["token"]
        self.http.headers["Authorization"] = "Bearer " + self.token

    def stop(self, sig=signal.SIGTERM, timeout=20):
        stop_process(self.proc, sig, timeout)
        self.http.close()

    def restart(self, sig=signal.SIGTERM):
        self.stop(sig)
        return self.start()

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    # -- HTTP helpers ---------------------------------------------------
    def req(self, method, path, **kw):
        kw.setdefault("timeout", 30)
        return self.http.request(method, self.base + path, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        if body is not None:
            kw["json"] = body
        return self.req("POST", path, **kw)

    def patch(self, path, body, **kw):
        return self.req("PATCH", path, json=body, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def ok(self, method, path, body=None, status=200):
        r = self.req(method, path, json=body) if body is not None else self.req(method, path)
        assert r.status_code == status, "%s %s -> %d %s" % (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def wait_job(self, job_id, timeout=30, states=TERMINAL):
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = self.ok("GET", "/api/v1/jobs/" + job_id)
            if job["state"] in states:
                return job
            time.sleep(0.05)
        raise AssertionError("job %s not in %s after %ss: %s" % (job_id, states, timeout, job))

    def submit(self, method, path, body=None, **kw):
        """A call that answers 202 + Location; returns the job id."""
        r = self.req(method, path, json=body, **kw) if body is not None else self.req(method, path, **kw)
        assert r.status_code == 202, "%s %s -> %d %s" % (method, path, r.status_code, r.text)
        loc = r.headers["Location"]
        assert loc.startswith("/api/v1/jobs/")
        assert r.json()["id"] == loc.rsplit("/", 1)[1]
        return r.json()["id"]

    def run(self, method, path, body=None, timeout=30, expect="succeeded"):
        job = self.wait_job(self.submit(method, path, body), timeout)
        assert job["state"] == expect, job
        return job

    def all_items(self, path, **params):
        items, cursor = [], None
        while True:
            p = dict(params)
            if cursor:
                p["cursor"] = cursor
            page = self.ok("GET", path + "?" + "&".join(
                "%s=%s" % (k, requests.utils.quote(str(v), safe="")) for k, v in p.items()))
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                return items

    def add_test_connection(self, world_path, options=""):
        job = self.run("POST", "/api/v1/connections",
                       {"type": "test", "url": "test://" + world_path + options})
        return job["result"]["connection_id"]


@pytest.fixture
def tmpdir_path():
    with tempfile.TemporaryDirectory(prefix="pv-it-") as d:
        yield d


@pytest.fixture
def daemon(tmpdir_path):
    d = Daemon(os.path.join(tmpdir_path, "data"))
    os.makedirs(d.data_dir)
    d.start()
    yield d
    d.stop()


@pytest.fixture
def world(tmpdir_path):
    """Path of a fresh world file for the test adapter (created on first use)."""
    return os.path.join(tmpdir_path, "world.json")


@pytest.fixture
def lab(daemon, world):
    """A daemon with one test connection synced in."""
    daemon.conn_id = daemon.add_test_connection(world)
    return daemon


def read_world(path):
    with open(path) as f:
        return json.load(f)


def write_world(path, w):
    """Change the test hypervisor behind Polyvisor's back, as another client would."""
    w["generation"] = w.get("generation", 0) + 1
    tmp = path + ".edit"
    with open(tmp, "w") as f:
        json.dump(w, f)
    os.rename(tmp, path)
