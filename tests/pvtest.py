"""pvtest: the one harness every Python suite uses to run the real binaries
-- the integration tests (tests/integration/conftest.py), the browser tests
(tests/browser/pvbrowser.py) and the benchmarks (tests/bench/) put tests/ on
sys.path and import it.

- Daemon is one polyvisord on a free 127.0.0.1 port and a data directory,
  with the flags the suites need (the adapters of the build, a shutdown
  grace, and --test.world-dir set to the data directory's parent, where the
  suites keep their test-adapter worlds), the first admin's password chosen
  through POLYVISOR_ADMIN_PASSWORD, and a requests session that carries the
  bearer token once start() has signed in.
- Agent is one polyvisor-agent (libvirt's test driver unless told another
  URI) with a token file and a state directory of its own.
- Every process started here is ended by its PID (stop_process): SIGTERM,
  then SIGKILL after a timeout, and always waited for, so a port it held is
  free again when stop() returns.  Nothing listens beyond loopback.
"""
import os
import signal
import socket
import subprocess
import time

import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BUILD = os.environ.get("POLYVISOR_BUILD", os.path.join(ROOT, "build"))
HOST_XML = os.path.join(ROOT, "hypervisor", "demo-host.xml")
ADMIN_PASSWORD = "admin-pw-for-tests"
AGENT_TOKEN = "agent-token-0123456789abcdef"
TERMINAL = ("succeeded", "failed", "cancelled")
_OWN = object()  # Agent.call's default token: the agent's own


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on at this moment."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Ends a process started here: sig, then SIGKILL after timeout seconds,
    and reaps it; nothing when it is not running."""
    if proc and proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(pred, timeout=30, what="condition"):
    """Polls pred until it returns something true, and returns that; fails
    after timeout seconds."""
    end = time.time() + timeout
    while time.time() < end:
        got = pred()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


def wait_http(url, proc=None, timeout=15, verify=True, ok=lambda r: r.status_code == 200):
    """Waits until url answers (ok(response) true).  Returns None when it
    does, else why not: the process exited, or the time ran out."""
    deadline = time.time() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            return "exited with status %s" % proc.returncode
        try:
            if ok(requests.get(url, timeout=1, verify=verify)):
                return None
        except requests.ConnectionError:
            pass
        if time.time() > deadline:
            return "did not answer %s within %s s" % (url, timeout)
        time.sleep(0.02)


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


def tail(path, n=4000):
    """The last n characters of a log file (all of it when n is None; ""
    when there is none)."""
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:] if n else f.read()
    except OSError:
        return ""


class Daemon:
    """One polyvisord process and an authenticated session to it.  The port
    is chosen once, so restart() comes back on the same one; stop() returns
    once the process has exited."""

    def __init__(self, data_dir, extra_args=(), admin_password=ADMIN_PASSWORD, log_path=None,
                 grace_seconds=10, world_dir=None):
        self.data_dir = data_dir
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.extra_args = list(extra_args)
        self.admin_password = admin_password
        self.grace_seconds = grace_seconds
        # the suites keep their test-adapter worlds beside the data dir
        self.world_dir = world_dir or os.path.dirname(os.path.abspath(data_dir))
        self.proc = None
        self.token = None
        self.log_path = log_path or os.path.join(data_dir, "polyvisord.log")
        self.http = requests.Session()

    def argv(self):
        return [os.path.join(BUILD, "polyvisord"), "--listen", "127.0.0.1:%d" % self.port,
                "--data-dir", self.data_dir, "--adapter-dir", os.path.join(BUILD, "adapters"),
                "--shutdown-grace-seconds", str(self.grace_seconds),
                "--test.world-dir", self.world_dir] + self.extra_args

    def start(self, timeout=15):
        """Starts polyvisord, waits for /healthz and signs in as admin."""
        env = dict(os.environ, POLYVISOR_ADMIN_PASSWORD=self.admin_password)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=log, env=env,
                                         stdin=subprocess.DEVNULL)
        why = wait_http(self.base + "/healthz", self.proc, timeout)
        if why:
            stop_process(self.proc)
            raise RuntimeError("polyvisord %s: %s" % (why, self.log()))
        self.http = requests.Session()
        self.login()
        return self

    def login(self, password=None):
        r = self.http.post(self.base + "/api/v1/auth/login", timeout=30,
                           json={"username": "admin", "password": password or self.admin_password})
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
        """The whole log, for a test to search (an access line per request
        would push what it looks for out of a short tail)."""
        return tail(self.log_path, None)

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

    def wait_job(self, job_id, timeout=30, states=TERMINAL, poll=0.05):
        """Polls a job every poll seconds until its state is one of states."""
        deadline = time.perf_counter() + timeout
        job = None
        while time.perf_counter() < deadline:
            job = self.ok("GET", "/api/v1/jobs/" + job_id)
            if job["state"] in states:
                return job
            time.sleep(poll)
        raise AssertionError("job %s not in %s after %ss: %s" % (job_id, states, timeout, job))

    def submit(self, method, path, body=None, **kw):
        """A call that answers 202 + Location; returns the job id."""
        r = self.req(method, path, json=body, **kw) if body is not None else self.req(method, path, **kw)
        assert r.status_code == 202, "%s %s -> %d %s" % (method, path, r.status_code, r.text)
        loc = r.headers["Location"]
        assert loc.startswith("/api/v1/jobs/")
        assert r.json()["id"] == loc.rsplit("/", 1)[1]
        return r.json()["id"]

    def run(self, method, path, body=None, timeout=30, expect="succeeded", poll=0.05):
        job = self.wait_job(self.submit(method, path, body), timeout, poll=poll)
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


class Agent:
    """One polyvisor-agent process, stopped by its PID.  Its token file, log
    and state directory are <name>.token, <name>.log and <name>-state in
    tmpdir."""

    def __init__(self, tmpdir, uri="test://" + HOST_XML, migration_uri=None, tls=None,
                 address="127.0.0.1", wrap=(), token=AGENT_TOKEN, name="agent", options=()):
        # wrap: a command prefix that puts the agent on another host of the
        # rig (its namespaces); address: where it listens there; options:
        # more of the agent's flags
        self.port = free_port()
        self.tls = tls  # (cert, key) to serve HTTPS
        self.address = address
        self.wrap = list(wrap)
        self.base = "%s://%s:%d" % ("https" if tls else "http", address, self.port)
        self.token = token
        self.token_file = os.path.join(tmpdir, name + ".token")
        with open(self.token_file, "w") as f:
            f.write(token + "\n")
        self.uri = uri
        self.migration_uri = migration_uri
        self.log = os.path.join(tmpdir, name + ".log")
        self.state_dir = os.path.join(tmpdir, name + "-state")
        self.options = list(options)
        self.proc = None

    def start(self, timeout=10):
        args = self.wrap + [os.path.join(BUILD, "polyvisor-agent"),
                            "--listen", "%s:%d" % (self.address, self.port),
                            "--libvirt-uri", self.uri, "--token-file", self.token_file,
                            "--state-dir", self.state_dir]
        if self.migration_uri:
            args += ["--migration-uri", self.migration_uri]
        if self.tls:
            args += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        args += self.options
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        # any answer will do: /v1/host without a token is a 401
        why = wait_http(self.base + "/v1/host", self.proc, timeout,
                        verify=self.tls[0] if self.tls else True, ok=lambda r: True)
        if why:
            stop_process(self.proc)
            raise RuntimeError("polyvisor-agent %s: %s" % (why, tail(self.log, 2000)))
        return self

    def stop(self):
        stop_process(self.proc)

    def call(self, method, path, body=None, token=_OWN):
        """One request to the agent, with its own token unless told another
        (None: no Authorization header)."""
        token = self.token if token is _OWN else token
        h = {"Authorization": "Bearer " + token} if token else {}
        return requests.request(method, self.base + path, json=body, headers=h, timeout=10,
                                verify=self.tls[0] if self.tls else True)
