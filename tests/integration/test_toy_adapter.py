"""A fifth vendor needs no change in server/ or webui/: the toy adapter
(tests/adapters/toy, built only for the tests) loads, says what it is and
needs through GET /api/v1/adapters, syncs, and is held to the ABI's rule of
who reports a VM after an action (test_contract.py runs the contract suite
against it too)."""
import pytest

from toy import with_toy


@pytest.fixture
def toy(daemon, tmpdir_path):
    return with_toy(daemon, tmpdir_path)


def test_the_table_says_what_the_vendor_is(toy):
    items = {a["name"]: a for a in toy.ok("GET", "/api/v1/adapters")["items"]}
    t = items["toy"]
    assert t["title"] == "Toy (tests only)" and t["credentials"] == "none"
    assert t["url_schemes"] == ["toy"] and t["abi"] == items["kvm"]["abi"]
    assert "migrate_in_connection" in t["capabilities"] and "ha_restart" not in t["capabilities"]
    assert items["kvm"]["credentials"] == "token" and "ha_restart" in items["kvm"]["capabilities"]
    assert items["vcenter"]["credentials"] == "password"
    assert "migrate_in_connection" in items["vcenter"]["capabilities"]
    assert items["hyperv"]["title"] == "Microsoft Hyper-V"


def test_its_rules_are_the_ones_applied(toy):
    r = toy.post("/api/v1/connections", {"type": "toy", "url": "https://127.0.0.1:1/"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_value"
    assert r.json()["error"]["details"]["field"] == "url" and "toy://" in r.json()["error"]["message"]
    # no credentials needed; a vendor no adapter serves is refused
    toy.run("POST", "/api/v1/connections", {"type": "toy", "url": "toy://rules"})
    hosts = toy.all_items("/api/v1/hosts")
    assert sorted(h["name"] for h in hosts) == ["rules-h1", "rules-h2"]
    assert {h["vendor"] for h in hosts} == {"toy"}
    r = toy.post("/api/v1/connections", {"type": "xen", "url": "https://127.0.0.1:1/"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_value"
    # "toy" is a vendor placement knows now: a VM asked of it goes to a toy host
    job = toy.run("POST", "/api/v1/vms", {"name": "v", "vcpus": 1, "memory_mb": 64, "vendor": "toy"})
    assert job["result"]["host_id"] in [h["id"] for h in hosts]
    r = toy.post("/api/v1/vms", {"name": "w", "vcpus": 1, "memory_mb": 64, "vendor": "xen"})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "vendor"


def calls(d, conn_id):
    d.run("POST", "/api/v1/connections/%s/sync" % conn_id)
    h = [h for h in d.all_items("/api/v1/hosts") if h["connection_id"] == conn_id][0]
    return d.ok("GET", "/api/v1/hosts/" + h["id"])["facts"]["calls"], h


@pytest.mark.parametrize("quiet", [False, True])
def test_an_action_is_reported_once(toy, quiet):
    """The reply carries the VM's state, or the daemon asks once: never both."""
    url = "toy://once%s" % ("?quiet=1" if quiet else "")
    toy.run("POST", "/api/v1/connections", {"type": "toy", "url": url})
    conn = [c["id"] for c in toy.all_items("/api/v1/connections") if c["url"] == url][0]
    before, host = calls(toy, conn)
    job = toy.run("POST", "/api/v1/vms", {"name": "o1", "vcpus": 1, "memory_mb": 64,
                                          "host_id": host["id"]})
    vm = job["result"]["vm_id"]
    for action, state in (("start", "running"), ("pause", "paused"), ("resume", "running"),
                          ("poweroff", "stopped")):
        toy.run("POST", "/api/v1/vms/%s/%s" % (vm, action))
        assert toy.ok("GET", "/api/v1/vms/" + vm)["power_state"] == state
    job = toy.run("POST", "/api/v1/vms/%s/poweroff" % vm, expect="failed")
    assert job["error"]["code"] == "already_stopped"  # a refusal: the daemon asks once
    after, _ = calls(toy, conn)
    asked = after["vm_refresh"] - before["vm_refresh"]
    # quiet: the create and the four actions were not reported (5 asks), and
    # the refusal is asked about; loud: only the refusal
    assert asked == (6 if quiet else 1), after
    assert after["vm_action"] - before["vm_action"] == 5
