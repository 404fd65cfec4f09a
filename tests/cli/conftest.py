"""CLI test fixtures: the real build/polyvisor against a real polyvisord and
two polyvisor-agents on libvirt's test driver (hypervisor/demo-host.xml),
one KVM connection each -- so every VM of the demo host exists twice, on
two hosts, and its name is ambiguous.  The lab is started once per session
and stopped by PID; each test gets a config directory of its own
(XDG_CONFIG_HOME), so no test sees another's login."""
import os
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from pvtest import ADMIN_PASSWORD, AGENT_TOKEN, BUILD, ROOT as ROOT_DIR, Agent, Daemon  # noqa: E402,F401

CLI = os.path.join(BUILD, "polyvisor")


class Lab:
    def __init__(self, tmp):
        self.tmp = tmp
        self.daemon = Daemon(os.path.join(tmp, "data"))
        os.makedirs(self.daemon.data_dir)
        self.agents = [Agent(tmp, name="agent-a"), Agent(tmp, name="agent-b")]
        self.conn_ids = []

    def start(self):
        self.daemon.start()
        for a in self.agents:
            a.start()
            job = self.daemon.run("POST", "/api/v1/connections",
                                  {"type": "kvm", "url": a.base, "token": AGENT_TOKEN})
            self.conn_ids.append(job["result"]["connection_id"])
        self.hosts = self.daemon.all_items("/api/v1/hosts")
        assert len(self.hosts) == 2, self.hosts
        return self

    def stop(self):
        for a in self.agents:
            a.stop()
        self.daemon.stop()


@pytest.fixture(scope="session")
def lab():
    if not os.access(CLI, os.X_OK):
        pytest.skip("build/polyvisor is not built (make)")
    with tempfile.TemporaryDirectory(prefix="pv-cli-") as tmp:
        lab = Lab(tmp)
        try:
            yield lab.start()
        finally:
            lab.stop()


class Cli:
    """Runs build/polyvisor with a config directory of its own and none of
    the caller's POLYVISOR_* variables."""

    def __init__(self, lab, config_home):
        self.lab = lab
        self.config_home = config_home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("POLYVISOR_")}
        self.env.update(XDG_CONFIG_HOME=config_home, HOME=config_home)

    def __call__(self, *args, input=None, env=None, timeout=120):
        e = dict(self.env, **(env or {}))
        # never the terminal pytest may run on: the CLI would ask for a password there
        extra = {"stdin": subprocess.DEVNULL} if input is None else {"input": input}
        return subprocess.run([CLI] + list(args), capture_output=True, text=True, env=e,
                              timeout=timeout, **extra)

    def login(self, server=None, context=None):
        args = ["--server", server or self.lab.daemon.base]
        if context:
            args += ["--context", context]
        r = self(*args, "login", "--user", "admin", "--password-stdin",
                 input=ADMIN_PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        return r


@pytest.fixture
def cli(lab):
    with tempfile.TemporaryDirectory(prefix="pv-cli-cfg-") as d:
        yield Cli(lab, d)


@pytest.fixture
def pv(cli):
    """A CLI that is logged in."""
    cli.login()
    return cli
