"""`polyvisor`, the CLI, driven as a script author drives it: the real
binary against a real polyvisord and two KVM agents on libvirt's test
driver (conftest.py).  Exit statuses are the contract of DESIGN.md: 0 done,
1 the waited-for job failed, 2 usage (and an ambiguous name), 3 an API
error with its code on stderr."""
import json
import os
import pty
import re
import shutil
import signal
import stat
import subprocess
import uuid

import pytest

from conftest import CLI, ROOT_DIR
from pvtest import (ADMIN_PASSWORD, AGENT_TOKEN, BUILD, Agent, Daemon, free_port, stop_process,
                    wait_for, wait_http)


def unique(prefix="cli"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:8])


def out_json(r):
    assert r.returncode == 0, (r.returncode, r.stderr)
    return json.loads(r.stdout)


# -- login, contexts, logout ----------------------------------------------

def test_login_keeps_the_token_0600(cli):
    r = cli.login()
    assert "logged in to %s as admin" % cli.lab.daemon.base in r.stdout
    d = os.path.join(cli.config_home, "polyvisor")
    path = os.path.join(d, "config.json")
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        cfg = json.load(f)
    ctx = cfg["contexts"][cfg["current_context"]]
    assert ctx["server"] == cli.lab.daemon.base and ctx["user"] == "admin" and ctx["token"]
    # the token works, and a listing of contexts never shows it
    assert cli("vm", "list", "-o", "json").returncode == 0
    listing = cli("context", "list", "-o", "json")
    assert ctx["token"] not in listing.stdout
    assert out_json(listing)["items"][0]["logged_in"] is True


def test_login_with_a_wrong_password_is_an_api_error(cli):
    r = cli("--server", cli.lab.daemon.base, "login", "--user", "admin", "--password-stdin",
            input="not-the-password\n")
    assert r.returncode == 3 and "invalid_credentials" in r.stderr
    assert not os.path.exists(os.path.join(cli.config_home, "polyvisor", "config.json"))


def test_contexts_name_servers_and_lend_no_token_to_another(cli):
    cli.login(context="one")
    cli.login(context="two")
    items = out_json(cli("context", "list", "-o", "json"))["items"]
    assert {i["name"]: i["current"] for i in items} == {"one": False, "two": True}
    assert cli("context", "use", "one").returncode == 0
    items = out_json(cli("context", "list", "-o", "json"))["items"]
    assert [i["name"] for i in items if i["current"]] == ["one"]
    assert cli("--context", "two", "host", "list", "-o", "name").returncode == 0
    r = cli("--context", "nope", "vm", "list")
    assert r.returncode == 2 and "no context named 'nope'" in r.stderr
    # another server: the current context's token is not sent there
    other = "http://127.0.0.1:%d" % free_port()
    r = cli("--server", other, "vm", "list")
    assert r.returncode == 3 and "unauthorized" in r.stderr and "not logged in" in r.stderr
    assert cli("context", "delete", "two").returncode == 0
    assert [i["name"] for i in out_json(cli("context", "list", "-o", "json"))["items"]] == ["one"]


def test_environment_overrides_the_config(cli):
    env = {"POLYVISOR_URL": cli.lab.daemon.base, "POLYVISOR_TOKEN": cli.lab.daemon.token}
    r = cli("vm", "list", "-o", "name", env=env)
    assert r.returncode == 0 and r.stdout.split()
    r = cli("vm", "list", env=dict(env, POLYVISOR_TOKEN="wrong"))
    assert r.returncode == 3 and "invalid_token" in r.stderr
    # an unreachable server is an error of the way to the API: 3 with its code
    r = cli("vm", "list", env=dict(env, POLYVISOR_URL="http://127.0.0.1:%d" % free_port()))
    assert r.returncode == 3 and "peer_unreachable" in r.stderr


def test_logout_revokes_and_forgets_the_token(pv):
    with open(os.path.join(pv.config_home, "polyvisor", "config.json")) as f:
        token = json.load(f)["contexts"]["127.0.0.1:%d" % pv.lab.daemon.port]["token"]
    assert pv("logout").returncode == 0
    r = pv.lab.daemon.http.get(pv.lab.daemon.base + "/api/v1/auth/me",
                               headers={"Authorization": "Bearer " + token})
    assert r.status_code == 401
    r = pv("vm", "list")
    assert r.returncode == 3 and "not logged in" in r.stderr


# -- lists, filters, output ------------------------------------------------

def test_list_with_filter_sort_fields_and_paging(pv):
    vms = out_json(pv("vm", "list", "--filter", "name eq 'seed-stopped'"))["items"]
    assert len(vms) == 2 and {v["name"] for v in vms} == {"seed-stopped"}
    big_first = out_json(pv("vm", "list", "--sort", "-memory_mb", "--all"))["items"]
    assert [v["memory_mb"] for v in big_first] == sorted((v["memory_mb"] for v in big_first),
                                                         reverse=True)
    # --all follows next_cursor: one item a page gives every VM, once
    paged = out_json(pv("vm", "list", "--all", "--limit", "1"))
    assert paged["next_cursor"] is None
    assert [v["id"] for v in paged["items"]] == [v["id"] for v in pv.lab.daemon.all_items("/api/v1/vms")]
    one = out_json(pv("vm", "list", "--limit", "1"))
    assert len(one["items"]) == 1 and one["next_cursor"]
    # table and name output
    t = pv("vm", "list", "-o", "table", "--fields", "name,power_state",
           "--filter", "name startswith 'seed-'")
    lines = t.stdout.splitlines()
    assert lines[0].split() == ["NAME", "POWER_STATE"] and len(lines) == 5
    assert {tuple(l.split()) for l in lines[1:]} == {("seed-running", "running"),
                                                     ("seed-stopped", "stopped")}
    nh = pv("vm", "list", "-o", "table", "--no-headers", "--fields", "name",
            "--filter", "name eq 'seed-running'")
    assert nh.stdout.split() == ["seed-running", "seed-running"]
    ids = pv("host", "list", "-o", "name").stdout.split()
    assert sorted(ids) == sorted(h["id"] for h in pv.lab.hosts)
    r = pv("vm", "list", "--filter", "name eq")
    assert r.returncode == 3 and "invalid_filter" in r.stderr


@pytest.mark.parametrize("word,path", [
    ("vm", "vms"), ("host", "hosts"), ("cluster", "clusters"), ("host-group", "host-groups"),
    ("connection", "connections"), ("job", "jobs"), ("event", "events"),
    ("schedule", "schedules"), ("plan", "plans"), ("storage-pool", "storage-pools"),
    ("network", "networks")])
def test_every_collection_lists_as_the_api_does(pv, word, path):
    got = out_json(pv(word, "list", "--fields", "id"))
    api = pv.lab.daemon.ok("GET", "/api/v1/%s?fields=id" % path)
    assert got == api
    # every page, two objects a page, joined as one page would hold them
    got = out_json(pv(word, "list", "--fields", "id", "--all", "--limit", "2"))
    assert got == {"items": pv.lab.daemon.all_items("/api/v1/" + path, fields="id", limit=2),
                   "next_cursor": None}


def test_json_output_is_the_apis_bytes(pv):
    job = pv.lab.daemon.all_items("/api/v1/jobs", filter="kind eq 'connection.sync'")[0]
    r = pv("job", "get", job["id"], "-o", "json")
    api = pv.lab.daemon.get("/api/v1/jobs/" + job["id"])
    assert r.returncode == 0 and r.stdout == api.text + "\n"
    q = "?filter=name%20eq%20%27seed-stopped%27&fields=id,name,vcpus,memory_mb"
    r = pv("vm", "list", "--filter", "name eq 'seed-stopped'", "--fields", "id,name,vcpus,memory_mb",
           "-o", "json")
    assert r.stdout == pv.lab.daemon.get("/api/v1/vms" + q).text + "\n"
    vm = json.loads(r.stdout)["items"][0]
    r = pv("vm", "get", vm["id"], "-o", "json")
    assert json.loads(r.stdout)["id"] == vm["id"]


def run_on_a_terminal(args, env):
    """Runs the CLI with stdout and stderr on a pseudo-terminal; returns
    (exit status, what it printed there)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([CLI] + args, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
                         env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 4096)
        except OSError:
            break
        if not b:
            break
        chunks.append(b)
    os.close(master)
    return p.wait(60), b"".join(chunks).decode()


def test_a_terminal_gets_a_table_and_a_progress_bar(pv):
    host = pv.lab.hosts[0]["id"]
    rc, text = run_on_a_terminal(["vm", "list", "--filter", "name eq 'seed-running'"], pv.env)
    assert rc == 0 and text.splitlines()[0].split()[:3] == ["ID", "NAME", "POWER_STATE"]
    name = unique()
    rc, text = run_on_a_terminal(["vm", "create", "--name", name, "--vcpus", "1", "--memory-mb",
                                  "64", "--host", host, "--wait"], pv.env)
    assert rc == 0, text
    assert "\r" in text and "[##############################] 100% succeeded" in text
    assert "vm.create  succeeded" in text
    vm = pv.lab.daemon.all_items("/api/v1/vms", filter="name eq '%s'" % name)[0]
    pv.lab.daemon.run("DELETE", "/api/v1/vms/" + vm["id"])


# -- jobs: --wait, failures, errors ----------------------------------------

def test_create_wait_succeeds_with_exit_0(pv):
    name, host = unique(), pv.lab.hosts[0]
    r = pv("vm", "create", "--name", name, "--vcpus", "1", "--memory-mb", "128",
           "--host", host["id"], "--wait", "-o", "name")
    assert r.returncode == 0, r.stderr
    vm_id = r.stdout.strip()
    vm = pv.lab.daemon.ok("GET", "/api/v1/vms/" + vm_id)
    assert vm["name"] == name and vm["host_id"] == host["id"] and vm["memory_mb"] == 128
    # progress went to stderr, plain lines off a terminal
    assert "succeeded 100%" in r.stderr
    # the actions, by name
    r = pv("vm", "start", name, "--wait", "-o", "json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)
    assert job["kind"] == "vm.start" and job["state"] == "succeeded"
    assert pv.lab.daemon.ok("GET", "/api/v1/vms/" + vm_id)["power_state"] == "running"
    for action, state in (("pause", "paused"), ("resume", "running"), ("poweroff", "stopped")):
        r = pv("vm", action, name, "--wait")
        assert r.returncode == 0, (action, r.stderr)
        assert pv.lab.daemon.ok("GET", "/api/v1/vms/" + vm_id)["power_state"] == state
    # without --wait: the job, queued or running or done, and exit 0
    r = pv("vm", "delete", vm_id, "-o", "name")
    assert r.returncode == 0 and r.stdout.strip().startswith("job-")
    assert pv("job", "wait", r.stdout.strip()).returncode == 0
    assert pv.lab.daemon.get("/api/v1/vms/" + vm_id).status_code == 404


def test_stop_reboot_save_and_a_migrate_that_fails(pv):
    name, (a, b) = unique(), pv.lab.hosts
    vm_id = pv("vm", "create", "--name", name, "--vcpus", "1", "--memory-mb", "64", "--host",
               a["id"], "--wait", "-o", "name").stdout.strip()
    for action, kind, state in (("start", "vm.start", "running"), ("reboot", "vm.reboot", "running"),
                                ("stop", "vm.shutdown", "stopped"), ("start", "vm.start", "running"),
                                ("save", "vm.save", "saved")):
        r = pv("vm", action, name, "--wait", "-o", "json")
        assert r.returncode == 0, (action, r.stderr)
        assert json.loads(r.stdout)["kind"] == kind  # stop is the graceful shutdown
        assert pv.lab.daemon.ok("GET", "/api/v1/vms/" + vm_id)["power_state"] == state
    t = pv("vm", "get", name, "-o", "table", "--fields", "name,power_state")
    assert t.stdout.split() == ["NAME", "POWER_STATE", name, "saved"]
    # a saved VM does not move: the job fails, exit 1, its code on stderr
    r = pv("vm", "migrate", name, "--host", b["id"], "--mode", "quick", "--wait")
    assert r.returncode == 1 and "vm.migrate" in r.stdout and "failed: vm_saved:" in r.stderr
    r = pv("vm", "migrate", name, "--mode", "sideways")
    assert r.returncode == 3 and r.stderr.startswith("polyvisor: invalid_value: ")
    assert pv("vm", "delete", name, "--wait").returncode == 0


def test_host_by_name_too(pv):
    # both test-driver hosts carry the machine's host name: ambiguous
    name = pv.lab.hosts[0]["name"]
    r = pv("host", "get", name)
    assert r.returncode == 2
    for h in pv.lab.hosts:
        assert h["id"] in r.stderr
    assert out_json(pv("host", "get", pv.lab.hosts[1]["id"]))["id"] == pv.lab.hosts[1]["id"]


def test_a_failing_job_exits_1_with_its_code(pv):
    r = pv("vm", "create", "--name", unique(), "--vcpus", "1", "--memory-mb", "128",
           "--host", pv.lab.hosts[0]["id"], "--nic", "network=nope", "--wait", "-o", "json")
    assert r.returncode == 1, (r.stdout, r.stderr)
    job = json.loads(r.stdout)
    assert job["state"] == "failed" and job["error"]["code"] == "unknown_network"
    assert "unknown_network" in r.stderr and job["id"] in r.stderr
    # job wait on a job that already ended says the same
    r = pv("job", "wait", job["id"])
    assert r.returncode == 1 and "unknown_network" in r.stderr
    # and cancelling it is the API's 409
    r = pv("job", "cancel", job["id"])
    assert r.returncode == 3 and "job_finished" in r.stderr


@pytest.mark.parametrize("args", [
    ["vm", "list", "--bogus"],
    ["vm", "list", "-x"],
    ["vm", "list", "--limit"],
    ["vm", "list", "--limit", "0"],
    ["vm", "list", "extra"],
    ["vm", "create", "--name", "x"],
    ["vm", "create", "--name", "x", "--vcpus", "two", "--memory-mb", "128"],
    ["vm", "create", "--name", "x", "--vcpus", "1", "--memory-mb", "128", "--disk", "20"],
    ["vm", "frobnicate", "x"],
    ["vm", "start"],
    ["vm", "start", "a", "b"],
    ["vm", "start", "a", "--mode", "live"],
    ["-o", "yaml", "vm", "list"],
    ["nosuchcommand"],
    ["job", "wait"],
    ["completion", "fish"],
    ["login", "--user", "admin"],
    [],
])
def test_bad_usage_exits_2(pv, args):
    r = pv(*args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    assert "usage:" in r.stderr and r.stdout == ""


def test_api_errors_exit_3_with_the_code(pv):
    cases = [
        (["vm", "create", "--name", "x", "--vcpus", "1", "--memory-mb", "128", "--ha", "bogus"],
         "invalid_value"),
        (["vm", "list", "--sort", "no_such_field"], "invalid_sort"),
        (["vm", "get", "no-such-vm"], "vm_not_found"),
        (["vm", "start", "no-such-vm"], "vm_not_found"),
        (["job", "get", "job-nope"], "job_not_found"),
        (["job", "wait", "job-nope"], "job_not_found"),
        (["vm", "create", "--name", "x", "--vcpus", "1", "--memory-mb", "128", "--host", "nope"],
         "host_not_found"),
    ]
    for args, code in cases:
        r = pv(*args)
        assert r.returncode == 3, (args, r.stderr)
        assert r.stderr.startswith("polyvisor: %s: " % code), (args, r.stderr)


def test_an_ambiguous_name_lists_the_candidates(pv):
    twins = pv.lab.daemon.all_items("/api/v1/vms", filter="name eq 'seed-running'")
    assert len(twins) == 2
    before = len(pv.lab.daemon.all_items("/api/v1/jobs"))
    for args in (["vm", "get", "seed-running"], ["vm", "start", "seed-running", "--wait"]):
        r = pv(*args)
        assert r.returncode == 2, r.stderr
        assert "2 VMs are named 'seed-running'" in r.stderr
        for t in twins:
            assert "%s  on %s" % (t["id"], t["host_id"]) in r.stderr
    assert len(pv.lab.daemon.all_items("/api/v1/jobs")) == before  # nothing was started
    assert out_json(pv("vm", "get", twins[0]["id"]))["id"] == twins[0]["id"]


def test_placement_rate_prints_stars_and_reasons(pv):
    r = pv("placement", "rate", "--vcpus", "1", "--memory-mb", "256", "-o", "table")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["HOST_ID", "NAME", "STARS", "SCORE", "VERDICT"]
    for h in pv.lab.hosts:
        assert h["id"] in r.stdout
    assert "chosen" in r.stdout and "\u2605" in r.stdout and "memory_headroom: value=" in r.stdout
    r = pv("placement", "rate", "--vcpus", "1", "--memory-mb", "999999", "-o", "table")
    assert r.returncode == 0 and "not eligible" in r.stdout
    assert "memory: insufficient_memory required_mb=999999" in r.stdout
    api = pv.lab.daemon.ok("POST", "/api/v1/placement/ratings",
                           {"vm": {"vcpus": 1, "memory_mb": 256}})
    got = out_json(pv("placement", "rate", "--vcpus", "1", "--memory-mb", "256"))
    assert [h["host_id"] for h in got["items"]] == [h["host_id"] for h in api["items"]]
    r = pv("placement", "rate", "--vm", "seed-stopped")
    assert r.returncode == 2  # a name of two VMs


# -- completion and the man page --------------------------------------------

def complete(cli, line):
    """What bash completes after `line` (the last word being completed)."""
    words = line.split(" ")
    script = ('source <("%s" completion bash)\n'
              'COMP_WORDS=(%s); COMP_CWORD=%d; COMP_LINE=%s; COMP_POINT=${#COMP_LINE}\n'
              '_polyvisor; printf "%%s\\n" "${COMPREPLY[@]}"\n'
              % (CLI, " ".join("'%s'" % w for w in words), len(words) - 1, "'%s'" % line))
    r = subprocess.run(["bash", "--norc", "-c", script], capture_output=True, text=True,
                       env=dict(cli.env, PATH=os.path.dirname(CLI) + ":" + os.environ["PATH"]),
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return sorted(w for w in r.stdout.split("\n") if w)


def test_completion_scripts(pv):
    bash = pv("completion", "bash")
    assert bash.returncode == 0 and "complete -F _polyvisor polyvisor" in bash.stdout
    assert subprocess.run(["bash", "-n"], input=bash.stdout, text=True).returncode == 0
    assert complete(pv, "polyvisor vm st") == ["start", "stop"]
    assert "storage-pool" in complete(pv, "polyvisor s")
    assert complete(pv, "polyvisor vm migrate x --mode ") == ["live", "quick"]
    assert "--wait" in complete(pv, "polyvisor vm create --")
    # names come from the server
    assert complete(pv, "polyvisor vm start seed-s") == ["seed-stopped"]
    zsh = pv("completion", "zsh")
    assert zsh.returncode == 0 and zsh.stdout.startswith("#compdef polyvisor")
    if shutil.which("zsh"):
        assert subprocess.run(["zsh", "-n"], input=zsh.stdout, text=True).returncode == 0


def test_man_page_formats_without_warnings():
    page = os.path.join(ROOT_DIR, "cli", "polyvisor.1")
    if not shutil.which("groff"):
        pytest.skip("groff is not installed")
    r = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", page], capture_output=True,
                       text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    text = subprocess.run(["groff", "-man", "-Tutf8", page], capture_output=True,
                          text=True).stdout
    text = re.sub(".\x08", "", text)  # bold and underline are overstruck
    for word in ("login", "--password-stdin", "POLYVISOR_TOKEN", "EXIT STATUS", "completion"):
        assert word in text.replace("\u2010", "-"), word


def test_help_exits_0():
    r = subprocess.run([CLI, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "usage: polyvisor" in r.stdout


def test_wait_outlives_a_daemon_restart(cli, tmp_path):
    """A job outlives a restart of polyvisord, and so does --wait: the CLI
    waits for the daemon to come back and reads the job's end, instead of
    failing with peer_unreachable.  The agent is stopped (SIGSTOP) so the
    job is still running when the daemon goes."""
    d = Daemon(str(tmp_path / "data"), grace_seconds=2)
    os.makedirs(d.data_dir)
    a = Agent(str(tmp_path), name="agent-r")
    try:
        d.start()
        a.start()
        d.run("POST", "/api/v1/connections", {"type": "kvm", "url": a.base, "token": AGENT_TOKEN})
        vm = d.all_items("/api/v1/vms", filter="name eq 'seed-stopped'")[0]
        env = {"POLYVISOR_URL": d.base, "POLYVISOR_TOKEN": d.token}
        os.kill(a.proc.pid, signal.SIGSTOP)
        p = subprocess.Popen([CLI, "vm", "start", vm["id"], "--wait", "-o", "json"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=dict(cli.env, **env))
        wait_for(lambda: [j for j in d.all_items("/api/v1/jobs", filter="kind eq 'vm.start'")
                          if j["state"] == "running"], timeout=30, what="the job to run")
        d.stop()
        os.kill(a.proc.pid, signal.SIGCONT)
        d.start()
        out, err = p.communicate(timeout=120)
        assert p.returncode in (0, 1), (p.returncode, err)
        job = json.loads(out)
        assert job["kind"] == "vm.start" and job["state"] in ("succeeded", "failed", "cancelled")
        assert job == d.ok("GET", "/api/v1/jobs/" + job["id"])
    finally:
        if a.proc and a.proc.poll() is None:
            os.kill(a.proc.pid, signal.SIGCONT)
        a.stop()
        d.stop()


@pytest.fixture
def own_lab(cli, tmp_path):
    """A daemon and an agent of this test's own, for actions that would
    change the shared lab's inventory; yields (daemon, agent, cli env)."""
    d = Daemon(str(tmp_path / "data"))
    os.makedirs(d.data_dir)
    a = Agent(str(tmp_path), name="agent-own")
    try:
        d.start()
        a.start()
        yield d, a, {"POLYVISOR_URL": d.base, "POLYVISOR_TOKEN": d.token}
    finally:
        a.stop()
        d.stop()


def test_connection_host_schedule_and_job_actions(cli, own_lab):
    d, a, env = own_lab
    # a connection, its secret from stdin
    r = cli("connection", "add", "--type", "kvm", "--url", a.base, "--token-stdin", "--wait",
            "-o", "name", input="not-the-token\n", env=env)
    assert r.returncode == 1 and "auth_failed" in r.stderr
    bad = r.stdout.strip()
    assert cli("connection", "delete", bad, "--wait", env=env).returncode == 0
    assert cli("connection", "add", "--type", "kvm", "--token-stdin", env=env).returncode == 2
    r = cli("connection", "add", "--type", "kvm", "--url", a.base, "--token-stdin", "--wait",
            "-o", "name", input=AGENT_TOKEN + "\n", env=env)
    assert r.returncode == 0, r.stderr
    conn = r.stdout.strip()
    assert d.ok("GET", "/api/v1/connections/" + conn)["state"] == "connected"
    assert AGENT_TOKEN not in json.dumps(d.ok("GET", "/api/v1/connections/" + conn))
    assert cli("connection", "sync", conn, "--wait", env=env).returncode == 0
    # maintenance and back, by host id
    host = d.all_items("/api/v1/hosts")[0]
    r = cli("host", "maintenance", host["id"], "--evacuate", "none", "--wait", env=env)
    assert r.returncode == 0, r.stderr
    assert d.ok("GET", "/api/v1/hosts/" + host["id"])["maintenance"] is True
    assert cli("host", "maintenance-exit", host["id"], "--wait", env=env).returncode == 0
    assert d.ok("GET", "/api/v1/hosts/" + host["id"])["maintenance"] is False
    # a schedule by name: disable, enable, delete (answers without a job)
    d.ok("POST", "/api/v1/schedules", {"name": "nightly", "kind": "rebalance",
                                        "cron": "0 3 * * *"}, status=201)
    assert cli("schedule", "disable", "nightly", env=env).returncode == 0
    assert d.all_items("/api/v1/schedules")[0]["enabled"] is False
    assert cli("schedule", "enable", "nightly", env=env).returncode == 0
    assert d.all_items("/api/v1/schedules")[0]["enabled"] is True
    assert cli("schedule", "delete", "nightly", env=env).returncode == 0
    assert d.all_items("/api/v1/schedules") == []
    # a job that succeeded cannot be restarted: the API's 409
    job = d.all_items("/api/v1/jobs", filter="state eq 'succeeded'")[0]
    r = cli("job", "restart", job["id"], env=env)
    assert r.returncode == 3 and r.stderr.startswith("polyvisor: job_not_restartable: "), r.stderr
    # the connection goes with what it brought
    assert cli("connection", "delete", conn, "--wait", env=env).returncode == 0
    assert d.all_items("/api/v1/hosts") == []


@pytest.mark.filterwarnings("ignore:Unverified HTTPS request")
def test_https_needs_a_trusted_certificate_or_insecure(cli, tmp_path):
    """Over HTTPS with a self-signed certificate: refused (tls_verify_failed)
    until --insecure, which the context then remembers."""
    crt, key = str(tmp_path / "pv.crt"), str(tmp_path / "pv.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=pv", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True)
    port = free_port()
    base = "https://127.0.0.1:%d" % port
    with open(str(tmp_path / "pv.log"), "wb") as log:
        proc = subprocess.Popen([os.path.join(BUILD, "polyvisord"), "--listen", "127.0.0.1:%d" % port,
                                 "--data-dir", str(tmp_path / "data"), "--tls-cert", crt,
                                 "--tls-key", key], stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                env=dict(os.environ, POLYVISOR_ADMIN_PASSWORD=ADMIN_PASSWORD))
    try:
        assert wait_http(base + "/healthz", proc, verify=False) is None
        r = cli("--server", base, "login", "--user", "admin", "--password-stdin",
                input=ADMIN_PASSWORD + "\n")
        assert r.returncode == 3 and "tls_verify_failed" in r.stderr, r.stderr
        r = cli("--server", base, "--insecure", "login", "--user", "admin", "--password-stdin",
                input=ADMIN_PASSWORD + "\n")
        assert r.returncode == 0, r.stderr
        r = cli("host", "list", "-o", "json")
        assert r.returncode == 0 and json.loads(r.stdout) == {"items": [], "next_cursor": None}
    finally:
        stop_process(proc)


def test_login_asks_for_the_password_on_a_terminal(cli):
    """Without --password-stdin a person at a terminal is asked, with echo
    off; a script (stdin not a terminal) must say --password-stdin."""
    r = cli("--server", cli.lab.daemon.base, "login", "--user", "admin", input=ADMIN_PASSWORD + "\n")
    assert r.returncode == 2 and "--password-stdin" in r.stderr
    master, slave = pty.openpty()
    p = subprocess.Popen([CLI, "--server", cli.lab.daemon.base, "login", "--user", "admin"],
                         stdin=slave, stdout=slave, stderr=slave, env=cli.env)
    os.close(slave)
    seen = b""
    while b"Password: " not in seen:
        seen += os.read(master, 1024)
    os.write(master, (ADMIN_PASSWORD + "\n").encode())
    while True:
        try:
            b = os.read(master, 1024)
        except OSError:
            break
        if not b:
            break
        seen += b
    os.close(master)
    assert p.wait(60) == 0, seen
    assert ADMIN_PASSWORD.encode() not in seen and b"logged in to" in seen
    assert cli("vm", "list", "-o", "name").returncode == 0
