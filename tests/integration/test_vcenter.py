"""The vcenter adapter against VMware's own vCenter simulator (vcsim, built
from Debian's govmomi by tests/peers/vcsim.sh), through polyvisord's REST
API.  What vCenter holds is checked with vcq, a small client over govmomi's
own library (tests/peers/vcsim/vcq), never only through our code.

Topology of each simulator: 2 datacenters x (2 clusters of 2 hosts + 1
standalone host), 2 VMs per resource pool -- 10 hosts and 12 VMs.  Skipped
with the reason when Go or govmomi is missing (sh make deps).
Every simulator a test starts is stopped by its PID.

Reconfigure, clone and maintenance mode go through routes written beside the
adapter: those tests skip, saying so, while polyvisord answers 404
route_not_found (or, for maintenance, does not call the adapter yet)."""
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, ROOT, wait_for

SCRIPT = os.path.join(ROOT, "tests", "peers", "vcsim.sh")
GOVMOMI = "/usr/share/gocode/src/github.com/vmware/govmomi/simulator"
USER, PASSWORD = "vc-admin", "vc-S3cret!"
TOPOLOGY = ["-dc", "2", "-cluster", "2", "-host", "2", "-standalone-host", "1", "-vm", "2"]
N_HOSTS, N_VMS = 10, 12


@pytest.fixture(scope="session")
def vcsim_bin():
    if not shutil.which("go"):
        pytest.skip("go is not installed (sh make deps)")
    if not os.path.isdir(GOVMOMI):
        pytest.skip("govmomi's simulator is not installed (sh make deps)")
    r = subprocess.run(["sh", SCRIPT, "build", BUILD], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pytest.fail("building vcsim failed: " + r.stderr[-2000:])
    return os.path.join(BUILD, "peers")


class Vcsim:
    """One simulator (one vCenter) and vcq, govmomi's view of it."""

    def __init__(self, bindir, state_dir, user=USER, password=PASSWORD):
        self.bindir, self.state, self.user, self.password = bindir, state_dir, user, password
        self.url = self.cert = None

    def start(self, *flags):
        out = subprocess.run(["sh", SCRIPT, "start", os.path.dirname(self.bindir), self.state,
                              "-username", self.user, "-password", self.password] + list(flags or TOPOLOGY),
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        info = json.loads(out.stdout.strip().splitlines()[-1])
        self.url, self.cert = info["url"], info["cert"]
        assert self.url.startswith("https://127.0.0.1:") and self.url.endswith("/sdk")
        return self

    def stop(self):
        subprocess.run(["sh", SCRIPT, "stop", os.path.join(self.state, "vcsim.pid")], timeout=30)

    def vcq(self, *args, ok=True):
        r = subprocess.run([os.path.join(self.bindir, "vcq"), "-url", self.url, "-cert", self.cert,
                            "-username", self.user, "-password", self.password] + list(args),
                           capture_output=True, text=True, timeout=60)
        if ok:
            assert r.returncode == 0, r.stderr
            return json.loads(r.stdout)
        return r

    def vm(self, key):
        return self.vcq("vm", key)

    def connection(self, **extra):
        body = {"type": "vcenter", "url": self.url, "username": self.user,
                "password": self.password, "insecure": True}
        body.update(extra)
        return body


@pytest.fixture
def vcsim(vcsim_bin, tmpdir_path):
    v = Vcsim(vcsim_bin, os.path.join(tmpdir_path, "vcsim-a")).start()
    yield v
    v.stop()


@pytest.fixture
def vc(daemon, vcsim):
    job = daemon.run("POST", "/api/v1/connections", vcsim.connection(), timeout=60)
    daemon.conn_id = job["result"]["connection_id"]
    daemon.vcsim = vcsim
    return daemon


def api_vm(d, moref):
    vms = [v for v in d.all_items("/api/v1/vms") if v["native_id"] == moref]
    assert len(vms) == 1, vms
    return vms[0]


def api_host(d, moref):
    return [h for h in d.all_items("/api/v1/hosts") if h["native_id"] == moref][0]


POWER = {"poweredOn": "running", "poweredOff": "stopped", "suspended": "saved"}


def test_inventory_matches_vcenter(vc):
    conn = vc.ok("GET", "/api/v1/connections/" + vc.conn_id)
    assert conn["state"] == "connected" and conn["type"] == "vcenter" and conn["last_error"] is None
    assert "password" not in json.dumps(conn) and PASSWORD not in json.dumps(conn)
    truth_hosts = {h["moref"]: h for h in vc.vcsim.vcq("hosts")}
    truth_vms = {v["moref"]: v for v in vc.vcsim.vcq("vms")}
    assert len(truth_hosts) == N_HOSTS and len(truth_vms) == N_VMS

    clusters = {c["native_id"]: c for c in vc.all_items("/api/v1/clusters")}
    names = sorted(c["name"] for c in clusters.values())
    assert names == ["DC0", "DC0_C0", "DC0_C1", "DC1", "DC1_C0", "DC1_C1"], names

    hosts = {h["native_id"]: h for h in vc.all_items("/api/v1/hosts")}
    assert set(hosts) == set(truth_hosts)
    for moref, t in truth_hosts.items():
        h = hosts[moref]
        assert h["name"] == t["name"] and h["vendor"] == "vcenter"
        assert h["connection_id"] == vc.conn_id and h["state"] == "connected"
        assert h["cpu_cores"] == t["cpu_cores"] and h["cpu_mhz"] == t["cpu_mhz"]
        assert h["memory_mb"] == t["memory_mb"]
        cluster = [c for c in clusters.values() if c["id"] == h["cluster_id"]][0]
        if t["parent"].startswith("ClusterComputeResource:"):
            assert cluster["native_id"] == t["parent"].split(":", 1)[1]
            assert h["facts"]["standalone"] is False
        else:  # standalone: filed under its datacenter
            assert cluster["name"] == t["name"].split("_")[0] and h["facts"]["standalone"] is True
        assert h["facts"]["moref"] == moref and h["facts"]["datacenter"] == t["name"].split("_")[0]
        ds = h["facts"]["datastores"]
        assert [d["name"] for d in ds] == ["LocalDS_0"] and ds[0]["capacity_gb"] > 0, ds
        assert ds[0]["free_gb"] <= ds[0]["capacity_gb"] and ds[0]["accessible"] is True
        assert "VM Network" in [n["name"] for n in h["facts"]["networks"]], h["facts"]["networks"]

    vms = {v["native_id"]: v for v in vc.all_items("/api/v1/vms")}
    assert set(vms) == set(truth_vms)
    for moref, t in truth_vms.items():
        v = vms[moref]
        assert v["name"] == t["name"] and v["vendor"] == "vcenter"
        assert v["power_state"] == POWER[t["power_state"]]
        assert v["vcpus"] == t["num_cpu"] and v["memory_mb"] == t["memory_mb"]
        assert v["host_id"] == hosts[t["host"]]["id"]
        assert v["vendor_detail"]["moref"] == moref
        assert v["vendor_detail"]["datacenter"] == t["name"].split("_")[0]
        assert v["vendor_detail"]["tools_running_status"] == t["tools_running_status"]
        # vcsim's VMs: a disk on PVSCSI and an E1000 NIC: not all paravirtual
        assert v["paravirtual"] is False and len(v["disks"]) == 1 and len(v["nics"]) == 1


def test_datastores_and_networks_match_govmomi(vc):
    """Datastores are storage pools and port groups networks, each with the
    hosts that reach it, as govmomi reads them from the same vCenter.  The
    hosts are those whose HostSystem.datastore / .network name it: vcsim
    makes a datacenter's LocalDS_0 once per host under one MoRef, and its
    Datastore.host keeps only the last of them (a real vCenter keeps both
    sides alike), so that side is checked as a subset only."""
    vc.vcsim.vcq("add-dvpg", "pv-vlan-42", "42")  # a VLAN to read, besides vcsim's untagged ones
    vc.run("POST", "/api/v1/connections/%s/sync" % vc.conn_id)
    truth_hosts = vc.vcsim.vcq("hosts")
    hosts = {h["id"]: h["native_id"] for h in vc.all_items("/api/v1/hosts")}

    def reaching(kind, moref):
        return sorted(h["moref"] for h in truth_hosts if moref in h[kind])
    truth = {d["moref"]: d for d in vc.vcsim.vcq("datastores")}
    pools = {p["native_id"]: p for p in vc.all_items("/api/v1/storage-pools")}
    assert set(pools) == set(truth) and truth
    for moref, t in truth.items():
        p = pools[moref]
        assert p["name"] == t["name"] and p["kind"] == t["type"] and p["vendor"] == "vcenter"
        assert p["connection_id"] == vc.conn_id
        assert p["capacity_mb"] == t["capacity_mb"] > 0 and p["free_mb"] == t["free_mb"]
        ours = sorted(hosts[h] for h in p["host_ids"])
        assert ours == reaching("datastores", moref) and set(t["hosts"]) <= set(ours), (p, t)
        shared = t["multiple_host_access"] if t["multiple_host_access"] is not None else len(ours) > 1
        assert p["shared"] is shared
    truth = {n["moref"]: n for n in vc.vcsim.vcq("networks")}
    nets = {n["native_id"]: n for n in vc.all_items("/api/v1/networks")}
    assert set(nets) == set(truth)
    kinds = sorted({t["kind"] for t in truth.values()})
    assert kinds == ["dvportgroup", "portgroup"], kinds  # vcsim makes both
    assert [t["vlan"] for t in truth.values() if t["name"] == "pv-vlan-42"] == [42]
    for moref, t in truth.items():
        n = nets[moref]
        assert (n["name"], n["kind"], n["vlan"]) == (t["name"], t["kind"], t["vlan"])
        ours = sorted(hosts[h] for h in n["host_ids"])
        assert ours == reaching("networks", moref) and set(t["hosts"]) <= set(ours), (n, t)
    # a host names the same links
    for h in vc.all_items("/api/v1/hosts"):
        assert sorted(h["pool_ids"]) == sorted(p["id"] for p in pools.values() if h["id"] in p["host_ids"])
        assert sorted(h["network_ids"]) == sorted(n["id"] for n in nets.values() if h["id"] in n["host_ids"])


def test_power_actions_change_vcenter(vc):
    moref = vc.vcsim.vcq("vms")[0]["moref"]
    vm = api_vm(vc, moref)
    assert vm["power_state"] == "running"

    job = vc.run("POST", "/api/v1/vms/%s/poweroff" % vm["id"])
    assert job["progress"] == 100
    assert vc.vcsim.vm(moref)["power_state"] == "poweredOff"
    assert api_vm(vc, moref)["power_state"] == "stopped"

    vc.run("POST", "/api/v1/vms/%s/start" % vm["id"])
    assert vc.vcsim.vm(moref)["power_state"] == "poweredOn"
    assert api_vm(vc, moref)["power_state"] == "running"

    vc.run("POST", "/api/v1/vms/%s/save" % vm["id"])
    assert vc.vcsim.vm(moref)["power_state"] == "suspended"
    assert api_vm(vc, moref)["power_state"] == "saved"
    vc.run("POST", "/api/v1/vms/%s/start" % vm["id"])
    assert vc.vcsim.vm(moref)["power_state"] == "poweredOn"

    # reboot without VMware Tools is a reset: still running afterwards
    vc.run("POST", "/api/v1/vms/%s/reboot" % vm["id"])
    assert vc.vcsim.vm(moref)["power_state"] == "poweredOn"

    # vSphere cannot pause
    r = vc.post("/api/v1/vms/%s/pause" % vm["id"])
    if r.status_code == 202:
        job = vc.wait_job(r.json()["id"])
        assert job["state"] == "failed" and job["error"]["code"] == "unsupported_by_backend"
    else:
        assert r.json()["error"]["code"] == "unsupported_by_backend"

    # vCenter's InvalidPowerState, named as the adapter contract names it
    job = vc.run("POST", "/api/v1/vms/%s/start" % vm["id"], expect="failed")
    assert job["error"]["code"] == "already_running"
    job = vc.run("DELETE", "/api/v1/vms/" + vm["id"], expect="failed")
    assert job["error"]["code"] == "vm_running"
    vc.run("POST", "/api/v1/vms/%s/poweroff" % vm["id"])
    job = vc.run("POST", "/api/v1/vms/%s/poweroff" % vm["id"], expect="failed")
    assert job["error"]["code"] == "already_stopped"
    for action in ("save", "reboot"):
        job = vc.run("POST", "/api/v1/vms/%s/%s" % (vm["id"], action), expect="failed")
        assert job["error"]["code"] == "not_running", (action, job["error"])
    job = vc.run("POST", "/api/v1/vms/%s/shutdown" % vm["id"], expect="failed")
    assert job["error"]["code"] == "already_stopped"
    assert vc.vcsim.vm(moref)["power_state"] == "poweredOff"


def test_guest_shutdown_needs_tools(vc):
    moref = vc.vcsim.vcq("vms")[1]["moref"]
    vm = api_vm(vc, moref)
    job = vc.run("POST", "/api/v1/vms/%s/shutdown" % vm["id"], expect="failed")
    assert job["error"]["code"] == "tools_not_running"
    assert "VMware Tools" in job["error"]["message"]
    assert vc.vcsim.vm(moref)["power_state"] == "poweredOn"

    vc.vcsim.vcq("tools-running", moref)  # as if the guest's tools had started
    assert vc.vcsim.vm(moref)["tools_running_status"] == "guestToolsRunning"
    vc.run("POST", "/api/v1/vms/%s/shutdown" % vm["id"])
    assert vc.vcsim.vm(moref)["power_state"] == "poweredOff"
    assert api_vm(vc, moref)["power_state"] == "stopped"


def test_change_behind_our_back_arrives(vc):
    moref = vc.vcsim.vcq("vms")[2]["moref"]
    assert api_vm(vc, moref)["power_state"] == "running"
    t0 = time.time()
    vc.vcsim.vcq("poweroff", moref)
    v = wait_for(lambda: (lambda x: x if x["power_state"] == "stopped" else None)(api_vm(vc, moref)),
                 5, "the power-off to arrive")
    assert v["source"] == "event"
    print("power-off behind our back seen after %.2f s" % (time.time() - t0))
    vc.vcsim.vcq("poweron", moref)
    wait_for(lambda: api_vm(vc, moref)["power_state"] == "running", 5, "the power-on to arrive")
    ev = vc.all_items("/api/v1/events", filter="object_type eq 'vm'")
    assert any("is stopped" in e["message"] for e in ev)


def test_create_then_delete(vc):
    truth = vc.vcsim.vcq("hosts")
    host_moref = [h for h in truth if h["name"] == "DC1_C0_H1"][0]["moref"]
    host = api_host(vc, host_moref)
    job = vc.run("POST", "/api/v1/vms", {"name": "pv-created", "vcpus": 2, "memory_mb": 256,
                                         "host_id": host["id"], "paravirtual": True,
                                         "disks": [{"size_gb": 2}], "nics": [{"network": "VM Network"}]},
                 timeout=60)
    t = vc.vcsim.vm("pv-created")
    assert t["num_cpu"] == 2 and t["memory_mb"] == 256 and t["host"] == host_moref
    assert t["power_state"] == "poweredOff"
    for dev in ("ParaVirtualSCSIController", "VirtualDisk", "VirtualVmxnet3"):
        assert dev in t["devices"], t["devices"]
    assert "VirtualE1000" not in t["devices"]
    vm = vc.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
    assert vm["native_id"] == t["moref"] and vm["host_id"] == host["id"]
    assert vm["vcpus"] == 2 and vm["memory_mb"] == 256 and vm["paravirtual"] is True
    assert vm["power_state"] == "stopped"

    # emulated devices when not paravirtual
    vc.run("POST", "/api/v1/vms", {"name": "pv-emulated", "vcpus": 1, "memory_mb": 128,
                                   "host_id": host["id"], "paravirtual": False,
                                   "disks": [{"size_gb": 1}], "nics": [{"network": "VM Network"}]})
    devs = vc.vcsim.vm("pv-emulated")["devices"]
    assert "VirtualLsiLogicController" in devs and "VirtualE1000" in devs

    # by ids: the host's datastore and port group; they come back on the VM's devices
    pool = [p for p in vc.all_items("/api/v1/storage-pools") if host["id"] in p["host_ids"]][0]
    net = [n for n in vc.all_items("/api/v1/networks")
           if host["id"] in n["host_ids"] and n["name"] == "VM Network"][0]
    job = vc.run("POST", "/api/v1/vms", {"name": "pv-by-id", "vcpus": 1, "memory_mb": 128,
                                         "host_id": host["id"], "disks": [{"size_gb": 3, "pool_id": pool["id"]}],
                                         "nics": [{"network_id": net["id"]}]}, timeout=60)
    by_id = vc.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
    [disk], [nic] = by_id["disks"], by_id["nics"]
    assert (disk["pool_id"], disk["size_gb"], disk["size_mb"], disk["bus"]) == (pool["id"], 3, 3072, "scsi"), disk
    assert disk["path"].startswith("[%s]" % pool["name"]) and disk["id"].startswith("disk-")
    assert nic["network_id"] == net["id"] and nic["id"].startswith("nic-") and nic["mac"], nic
    # vcsim's own VMs: their disks are on a datastore the inventory knows
    seeded = [v for v in vc.all_items("/api/v1/vms") if v["name"] == "DC0_H0_VM0"][0]
    assert seeded["disks"][0]["pool_id"] in [p["id"] for p in vc.all_items("/api/v1/storage-pools")]

    # bad specs are refused before vCenter sees them, and leave nothing
    job = vc.run("POST", "/api/v1/vms", {"name": "pv-bad", "vcpus": 1, "memory_mb": 128,
                                         "host_id": host["id"], "nics": [{"network": "nope"}]},
                 expect="failed")
    assert job["error"]["code"] == "unknown_network"
    assert vc.vcsim.vcq("vm", "pv-bad", ok=False).returncode == 3

    vc.run("POST", "/api/v1/vms/%s/start" % vm["id"])
    assert vc.vcsim.vm("pv-created")["power_state"] == "poweredOn"
    job = vc.run("DELETE", "/api/v1/vms/" + vm["id"], expect="failed")  # running
    assert job["error"]["code"] == "vm_running"
    job = vc.run("POST", "/api/v1/vms", {"name": "pv-created", "vcpus": 1, "memory_mb": 128,
                                         "host_id": host["id"]}, expect="failed")
    assert job["error"]["code"] == "name_in_use"
    vc.run("POST", "/api/v1/vms/%s/poweroff" % vm["id"])
    vc.run("DELETE", "/api/v1/vms/%s?delete_disks=true" % vm["id"])
    assert vc.vcsim.vcq("vm", "pv-created", ok=False).returncode == 3
    assert vc.get("/api/v1/vms/" + vm["id"]).status_code == 404
    assert len(vc.vcsim.vcq("vms")) == N_VMS + 2


def test_vmotion_to_another_host(vc):
    truth = {h["moref"]: h for h in vc.vcsim.vcq("hosts")}
    t = [v for v in vc.vcsim.vcq("vms") if truth[v["host"]]["name"].startswith("DC0_C0")][0]
    other = [m for m, h in truth.items()
             if h["name"].startswith("DC0_C0_") and m != t["host"]][0]
    vm = api_vm(vc, t["moref"])
    dest = api_host(vc, other)
    job = vc.run("POST", "/api/v1/vms/%s/migrate" % vm["id"], {"host_id": dest["id"], "mode": "live"})
    assert job["progress"] == 100
    assert vc.vcsim.vm(t["moref"])["host"] == other
    moved = api_vm(vc, t["moref"])
    assert moved["host_id"] == dest["id"] and moved["id"] == vm["id"]
    assert moved["power_state"] == "running"


def submit_or_skip(d, path, body=None):
    """POST a job whose route is being written beside this adapter: skipped
    while polyvisord answers 404 route_not_found, else the job id."""
    r = d.post(path, body)
    if r.status_code == 404 and r.json().get("error", {}).get("code") == "route_not_found":
        pytest.skip("polyvisord has no route %s yet" % path)
    assert r.status_code == 202, r.text
    return r.json()["id"]


def run_or_skip(d, path, body=None, expect="succeeded", timeout=60):
    job = d.wait_job(submit_or_skip(d, path, body), timeout)
    assert job["state"] == expect, job
    return job


def test_reconfigure_changes_vcenter(vc):
    t = vc.vcsim.vcq("vms")[3]
    vm = api_vm(vc, t["moref"])
    assert (vm["vcpus"], vm["memory_mb"]) == (t["num_cpu"], t["memory_mb"])
    job = run_or_skip(vc, "/api/v1/vms/%s/reconfigure" % vm["id"], {"vcpus": 3, "memory_mb": 512})
    assert job["progress"] == 100
    after = vc.vcsim.vm(t["moref"])  # ReconfigVM_Task, seen by govmomi
    assert (after["num_cpu"], after["memory_mb"]) == (3, 512)
    assert after["power_state"] == t["power_state"] and after["host"] == t["host"]
    v = api_vm(vc, t["moref"])
    assert (v["vcpus"], v["memory_mb"]) == (3, 512) and v["id"] == vm["id"]

    # one of the two: the other stays as it is
    run_or_skip(vc, "/api/v1/vms/%s/reconfigure" % vm["id"], {"memory_mb": 1024})
    after = vc.vcsim.vm(t["moref"])
    assert (after["num_cpu"], after["memory_mb"]) == (3, 1024)
    assert (api_vm(vc, t["moref"])["vcpus"], api_vm(vc, t["moref"])["memory_mb"]) == (3, 1024)
    run_or_skip(vc, "/api/v1/vms/%s/reconfigure" % vm["id"], {"vcpus": 1})
    after = vc.vcsim.vm(t["moref"])
    assert (after["num_cpu"], after["memory_mb"]) == (1, 1024)


def test_clone_changes_vcenter(vc):
    truth = {h["moref"]: h for h in vc.vcsim.vcq("hosts")}
    src = [v for v in vc.vcsim.vcq("vms") if truth[v["host"]]["name"].startswith("DC1_C1")][0]
    dest_moref = [m for m, h in truth.items() if h["name"].startswith("DC1_C1_") and m != src["host"]][0]
    vm, dest = api_vm(vc, src["moref"]), api_host(vc, dest_moref)

    job = run_or_skip(vc, "/api/v1/vms/%s/clone" % vm["id"], {"name": "pv-clone", "host_id": dest["id"]})
    t = vc.vcsim.vm("pv-clone")  # CloneVM_Task, seen by govmomi
    assert t["moref"] != src["moref"] and t["host"] == dest_moref
    assert t["power_state"] == "poweredOff"
    assert (t["num_cpu"], t["memory_mb"]) == (src["num_cpu"], src["memory_mb"])
    assert "VirtualDisk" in t["devices"], t["devices"]
    assert vc.vcsim.vm(src["moref"])["power_state"] == src["power_state"]  # the source untouched
    assert job["result"]["native_id"] == t["moref"]
    c = api_vm(vc, t["moref"])
    assert c["name"] == "pv-clone" and c["host_id"] == dest["id"] and c["power_state"] == "stopped"
    assert (c["vcpus"], c["memory_mb"]) == (src["num_cpu"], src["memory_mb"])
    assert c["id"] != vm["id"] and c["connection_id"] == vc.conn_id

    # other sizes through the clone spec
    run_or_skip(vc, "/api/v1/vms/%s/clone" % vm["id"],
                {"name": "pv-clone-big", "host_id": dest["id"], "vcpus": 2, "memory_mb": 256})
    t2 = vc.vcsim.vm("pv-clone-big")
    assert (t2["num_cpu"], t2["memory_mb"], t2["host"]) == (2, 256, dest_moref)
    assert (api_vm(vc, t2["moref"])["vcpus"], api_vm(vc, t2["moref"])["memory_mb"]) == (2, 256)

    # the name is vCenter's key in a folder
    job = run_or_skip(vc, "/api/v1/vms/%s/clone" % vm["id"], {"name": "pv-clone", "host_id": dest["id"]},
                      expect="failed")
    assert job["error"]["code"] == "name_in_use", job["error"]
    assert len([v for v in vc.vcsim.vcq("vms") if v["name"] == "pv-clone"]) == 1

    # from a template: the (powered-off) clone turned into one behind our back
    vc.vcsim.vcq("mark-template", "pv-clone")
    assert vc.vcsim.vm("pv-clone")["template"] is True
    vc.run("POST", "/api/v1/connections/%s/sync" % vc.conn_id, timeout=60)
    tmpl = api_vm(vc, t["moref"])
    assert tmpl["vendor_detail"]["template"] is True
    run_or_skip(vc, "/api/v1/vms/%s/clone" % tmpl["id"], {"name": "pv-from-template", "host_id": dest["id"]})
    t3 = vc.vcsim.vm("pv-from-template")
    assert t3["template"] is False and t3["host"] == dest_moref and t3["power_state"] == "poweredOff"
    assert api_vm(vc, t3["moref"])["name"] == "pv-from-template"
    assert len(vc.vcsim.vcq("vms")) == N_VMS + 3


def test_host_maintenance_through_vcenter(vc):
    truth = {h["moref"]: h for h in vc.vcsim.vcq("hosts")}
    moref = [m for m, h in truth.items() if h["name"] == "DC0_C1_H1"][0]
    host = api_host(vc, moref)
    assert truth[moref]["in_maintenance_mode"] is False
    job = run_or_skip(vc, "/api/v1/hosts/%s/maintenance" % host["id"], {"evacuate": "none"})
    if not job["result"] or not job["result"].get("vendor_maintenance"):
        assert vc.vcsim.vcq("host", moref)["in_maintenance_mode"] is False
        pytest.skip("polyvisord does not call the adapter's host_maintenance yet")
    assert vc.vcsim.vcq("host", moref)["in_maintenance_mode"] is True  # seen by govmomi
    h = api_host(vc, moref)
    assert h["state"] == "maintenance" and h["facts"]["in_maintenance_mode"] is True
    assert h["facts"]["datastores"][0]["name"] == "LocalDS_0"  # the facts stay whole

    # entering again is no error (a resumed job asks twice)
    run_or_skip(vc, "/api/v1/hosts/%s/maintenance" % host["id"], {"evacuate": "none"})
    assert vc.vcsim.vcq("host", moref)["in_maintenance_mode"] is True

    run_or_skip(vc, "/api/v1/hosts/%s/maintenance/exit" % host["id"])
    assert vc.vcsim.vcq("host", moref)["in_maintenance_mode"] is False
    h = api_host(vc, moref)
    assert h["state"] == "connected" and h["facts"]["in_maintenance_mode"] is False


def test_wrong_password_is_auth_failed(daemon, vcsim):
    job = daemon.wait_job(daemon.submit("POST", "/api/v1/connections",
                                        vcsim.connection(password="not-the-password")))
    assert job["state"] == "failed"
    assert job["error"]["code"] == "auth_failed"
    conn = daemon.all_items("/api/v1/connections")[0]
    assert conn["state"] == "auth_failed"
    assert "Login failure" in conn["last_error"]  # vCenter's own words
    assert "not-the-password" not in daemon.log() and "not-the-password" not in conn["last_error"]
    assert daemon.all_items("/api/v1/hosts") == []


def test_pinned_certificate(daemon, vcsim, tmpdir_path, vcsim_bin):
    with open(vcsim.cert) as f:
        pem = f.read()
    job = daemon.run("POST", "/api/v1/connections", vcsim.connection(insecure=False, ca_cert=pem),
                     timeout=60)
    conn = daemon.ok("GET", "/api/v1/connections/" + job["result"]["connection_id"])
    assert conn["state"] == "connected"
    assert len(daemon.all_items("/api/v1/hosts")) == N_HOSTS

    # another simulator's certificate is not this one's
    other = Vcsim(vcsim_bin, os.path.join(tmpdir_path, "vcsim-c")).start("-dc", "1", "-vm", "1")
    try:
        job = daemon.wait_job(daemon.submit("POST", "/api/v1/connections",
                                            other.connection(insecure=False, ca_cert=pem)))
        assert job["state"] == "failed" and job["error"]["code"] == "tls_verify_failed"
        # and no pin, no insecure: the system CAs do not know a self-signed vcsim
        job = daemon.wait_job(daemon.submit("POST", "/api/v1/connections",
                                            other.connection(insecure=False, url=other.url + "?x")))
        assert job["state"] == "failed" and job["error"]["code"] == "tls_verify_failed"
    finally:
        other.stop()


def test_two_vcenters_with_the_same_morefs(daemon, vcsim, vcsim_bin, tmpdir_path):
    other = Vcsim(vcsim_bin, os.path.join(tmpdir_path, "vcsim-b")).start()
    try:
        a = daemon.run("POST", "/api/v1/connections", vcsim.connection(), timeout=60)["result"]["connection_id"]
        b = daemon.run("POST", "/api/v1/connections", other.connection(), timeout=60)["result"]["connection_id"]
        vms = daemon.all_items("/api/v1/vms")
        hosts = daemon.all_items("/api/v1/hosts")
        assert len(vms) == 2 * N_VMS and len(hosts) == 2 * N_HOSTS
        assert len({v["id"] for v in vms}) == 2 * N_VMS
        by_native = {}
        for v in vms:
            by_native.setdefault(v["native_id"], set()).add(v["connection_id"])
        shared = [m for m, conns in by_native.items() if conns == {a, b}]
        assert shared, "the two simulators were expected to reuse MoRefs"
        host_conn = {h["id"]: h["connection_id"] for h in hosts}
        for v in vms:
            assert host_conn[v["host_id"]] == v["connection_id"]

        # an action on one vCenter's vm-N leaves the other's vm-N alone
        moref = shared[0]
        mine = [v for v in vms if v["native_id"] == moref and v["connection_id"] == b][0]
        daemon.run("POST", "/api/v1/vms/%s/poweroff" % mine["id"])
        assert other.vm(moref)["power_state"] == "poweredOff"
        assert vcsim.vm(moref)["power_state"] == "poweredOn"
        theirs = [v for v in daemon.all_items("/api/v1/vms")
                  if v["native_id"] == moref and v["connection_id"] == a][0]
        assert theirs["power_state"] == "running"

        # a vMotion across the two vCenters is refused clearly (by placement,
        # or else by the adapter), and the VM stays where it was
        before = other.vm(moref)["host"]
        dest = [h for h in hosts if h["connection_id"] == a][0]
        job = daemon.run("POST", "/api/v1/vms/%s/migrate" % mine["id"], {"host_id": dest["id"]},
                         expect="failed")
        assert job["error"]["code"] in ("host_not_eligible", "cross_vcenter_migration"), job["error"]
        assert other.vm(moref)["host"] == before

        daemon.run("DELETE", "/api/v1/connections/" + b)
        left = daemon.all_items("/api/v1/vms")
        assert len(left) == N_VMS and all(v["connection_id"] == a for v in left)
    finally:
        other.stop()


def test_expired_sessions_log_in_again(daemon, vcsim_bin, tmpdir_path):
    """vCenter ends idle sessions (30 min by default; 1 s here) and then
    answers NotAuthenticated -- vcsim a ManagedObjectNotFound for the dead
    session's views: actions, syncs and the watch log in again."""
    v = Vcsim(vcsim_bin, os.path.join(tmpdir_path, "vcsim-idle")).start(
        *(TOPOLOGY + ["-session-idle-timeout", "1s"]))
    try:
        conn_id = daemon.run("POST", "/api/v1/connections", v.connection(), timeout=60)["result"]["connection_id"]
        moref = v.vcq("vms")[0]["moref"]
        vm = api_vm(daemon, moref)
        # the first action opens a session of its own (the watch holds the
        # sync's); idle in the daemon's pool, it expires
        daemon.run("POST", "/api/v1/vms/%s/poweroff" % vm["id"])
        time.sleep(2.5)
        daemon.run("POST", "/api/v1/vms/%s/start" % vm["id"])
        assert v.vm(moref)["power_state"] == "poweredOn"
        daemon.run("POST", "/api/v1/vms/%s/poweroff" % vm["id"])
        assert v.vm(moref)["power_state"] == "poweredOff"
        time.sleep(2.5)
        daemon.run("POST", "/api/v1/connections/%s/sync" % conn_id, timeout=60)
        assert len(daemon.all_items("/api/v1/vms")) == N_VMS
        v.vcq("poweron", moref)
        wait_for(lambda: api_vm(daemon, moref)["power_state"] == "running", 15,
                 "a change behind our back to arrive across expired sessions")
        assert daemon.ok("GET", "/api/v1/connections/" + conn_id)["state"] == "connected"
    finally:
        v.stop()


def test_vcenter_down_and_back(vc):
    port = int(vc.vcsim.url.split(":")[2].split("/")[0])
    vc.vcsim.stop()
    wait_for(lambda: vc.ok("GET", "/api/v1/connections/" + vc.conn_id)["state"] != "connected", 15,
             "the connection to notice vCenter is gone")
    conn = vc.ok("GET", "/api/v1/connections/" + vc.conn_id)
    assert conn["last_error"]
    wait_for(lambda: vc.ok("GET", "/api/v1/connections/" + vc.conn_id)["state"] == "disconnected",
             15, "the connection to show disconnected")
    wait_for(lambda: all(h["state"] == "disconnected" for h in vc.all_items("/api/v1/hosts")), 10,
             "the hosts to show disconnected")
    # an action while vCenter is away fails cleanly
    vm = vc.all_items("/api/v1/vms")[0]
    job = vc.run("POST", "/api/v1/vms/%s/poweroff" % vm["id"], expect="failed")
    assert job["error"]["code"] in ("peer_unreachable", "timeout"), job["error"]

    vc.vcsim.start(*(TOPOLOGY + ["-listen", "127.0.0.1:%d" % port]))
    wait_for(lambda: vc.ok("GET", "/api/v1/connections/" + vc.conn_id)["state"] == "connected", 45,
             "the connection to come back")
    wait_for(lambda: all(h["state"] == "connected" for h in vc.all_items("/api/v1/hosts")), 15,
             "the hosts to come back")
    assert len(vc.all_items("/api/v1/vms")) == N_VMS
    vc.run("POST", "/api/v1/vms/%s/poweroff" % vm["id"])
    assert vc.vcsim.vm(vm["native_id"])["power_state"] == "poweredOff"


# ---- a scripted vCenter for what vcsim does not do ------------------------
#
# vcsim has no ContinueRetrievePropertiesEx, ignores maxObjects, finishes its
# tasks before answering, sends its session cookie unquoted and answers a
# dead session's RetrievePropertiesEx with HTTP 200.  A real vCenter pages
# its results, reports a task's progress, quotes the cookie (with Path) and
# answers NotAuthenticated as a SOAP fault.  This small fake speaks that
# part of the protocol on loopback, so the adapter's paging, task polling
# and re-login are proven on the wire as a vCenter shapes it.

import http.server
import re
import threading
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape


def serve_posts(answer, port=0):
    """A loopback HTTP/1.1 server, one thread per connection, whose POSTs
    answer(headers, body) turns into (status, [(name, value)], data), or
    None: the connection is closed unanswered.  Stop it with shutdown() and
    server_close()."""
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_POST(self):
            out = answer(self.headers, self.rfile.read(int(self.headers["Content-Length"])))
            if out is None:
                self.close_connection = True
                return
            status, headers, data = out
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"
FAKE_DC = ("datacenter-2", "DCX")
FAKE_HOST = "host-10"
FAKE_VMS = ["vm-%d" % i for i in range(20, 25)]


def envelope(body):
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<soapenv:Envelope xmlns:soapenv="%s" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>%s</soapenv:Body>'
            '</soapenv:Envelope>' % (SOAPENV, body))


def fault(fault_type, message):
    return envelope('<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>%s</faultstring>'
                    '<detail><%sFault xmlns="urn:vim25" xsi:type="%s"/></detail></soapenv:Fault>'
                    % (escape(message), fault_type, fault_type))


def val(v):
    """(xsi type, text[, moref type]) -> a <val>."""
    if len(v) == 3:
        return '<val xsi:type="ManagedObjectReference" type="%s">%s</val>' % (v[2], escape(v[1]))
    return '<val xsi:type="%s">%s</val>' % (v[0], escape(str(v[1])))


class FakeVcenter:
    PAGE = 2

    def __init__(self):
        self.sessions, self.calls, self.cookies_seen = set(), [], []
        self.views, self.pages, self.tasks = {}, {}, {}
        self.reconfigs = []        # (vm, [(element, text)] of each ReconfigVM_Task spec)
        self.power = {m: "poweredOn" for m in FAKE_VMS}
        self.lock = threading.Lock()
        self.dead = False          # drop every request unanswered, as a killed vCenter
        self.hang_tasks = False    # tasks stay running at 40 %
        self.objects = {  # (type, moref) -> {path: val tuple}
            ("Folder", "group-d1"): {},
            ("Folder", "group-h4"): {"parent": ("", "datacenter-2", "Datacenter")},
            ("Datacenter", "datacenter-2"): {"name": ("xsd:string", "DCX"), "parent": ("", "group-d1", "Folder"),
                                             "vmFolder": ("", "group-v3", "Folder"),
                                             "hostFolder": ("", "group-h4", "Folder")},
            ("ClusterComputeResource", "domain-c7"): {"name": ("xsd:string", "Cluster & Co"),
                                                      "parent": ("", "group-h4", "Folder"),
                                                      "resourcePool": ("", "resgroup-8", "ResourcePool")},
            ("HostSystem", FAKE_HOST): {"name": ("xsd:string", "esx01.example"),
                                        "parent": ("", "domain-c7", "ClusterComputeResource"),
                                        "summary.hardware.numCpuCores": ("xsd:short", 16),
                                        "summary.hardware.cpuMhz": ("xsd:int", 2600),
                                        "summary.hardware.memorySize": ("xsd:long", 256 << 30),
                                        "summary.quickStats.overallCpuUsage": ("xsd:int", 4160),
                                        "summary.quickStats.overallMemoryUsage": ("xsd:int", 65536),
                                        "runtime.connectionState": ("HostSystemConnectionState", "connected"),
                                        "runtime.inMaintenanceMode": ("xsd:boolean", "false")},
        }
        for i, m in enumerate(FAKE_VMS):
            self.objects[("VirtualMachine", m)] = {
                "name": ("xsd:string", "app-%02d" % i), "runtime.host": ("", FAKE_HOST, "HostSystem"),
                "config.hardware.numCPU": ("xsd:int", 1 + i), "config.hardware.memoryMB": ("xsd:int", 1024 * (i + 1)),
                "guest.toolsRunningStatus": ("xsd:string", "guestToolsRunning")}

    # -- the server -------------------------------------------------------
    def start(self, port=0):
        def answer(headers, body):
            if self.dead:
                return None
            status, text, extra = self.handle(headers, body)
            return status, extra + [("Content-Type", "text/xml; charset=utf-8")], text.encode()

        self.dead = False
        self.server = serve_posts(answer, port)
        self.url = "http://127.0.0.1:%d/sdk" % self.server.server_address[1]
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def kill(self):
        """No answers from now on, on open connections or new ones."""
        self.dead = True
        self.stop()

    def expire_sessions(self):
        with self.lock:
            self.sessions.clear()

    def count(self, method):
        return sum(1 for c in self.calls if c == method)

    # -- the protocol -------------------------------------------------------
    def props(self, key, paths):
        obj = self.objects[key]
        if key[0] == "VirtualMachine":
            obj = dict(obj, **{"runtime.powerState": ("VirtualMachinePowerState", self.power[key[1]])})
        return "".join("<propSet><name>%s</name>%s</propSet>" % (p, val(obj[p])) for p in paths if p in obj)

    def page(self, items, token_base):
        head, rest = items[:self.PAGE], items[self.PAGE:]
        out = "".join('<objects><obj type="%s">%s</obj>%s</objects>' % (k[0], k[1], self.props(k, paths))
                      for k, paths in head)
        if rest:
            token = "%s-%d" % (token_base, len(self.pages))
            self.pages[token] = rest
            out = "<token>%s</token>" % token + out
        return out

    def handle(self, headers, raw):
        body = ET.fromstring(raw).find("{%s}Body" % SOAPENV)
        req = list(body)[0]
        method = req.tag.split("}")[1]
        f = lambda name: [e for e in req.iter() if e.tag.split("}")[-1] == name]
        with self.lock:
            self.calls.append(method)
            cookie = headers.get("Cookie", "")
            self.cookies_seen.append(cookie)
            m = re.search(r'vmware_soap_session=("[^"]*")', cookie)
            if method == "RetrieveServiceContent":
                return 200, envelope(
                    '<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval>'
                    '<rootFolder type="Folder">group-d1</rootFolder>'
                    '<propertyCollector type="PropertyCollector">propertyCollector</propertyCollector>'
                    '<viewManager type="ViewManager">ViewManager</viewManager>'
                    '<about><name>VMware vCenter Server</name><fullName>VMware vCenter Server 8.0.2 fake</fullName>'
                    '<apiType>VirtualCenter</apiType><apiVersion>8.0.2.0</apiVersion>'
                    '<instanceUuid>7e1c0b3e-fake</instanceUuid></about>'
                    '<sessionManager type="SessionManager">SessionManager</sessionManager>'
                    '</returnval></RetrieveServiceContentResponse>'), []
            if method == "Login":
                if f("userName")[0].text != USER or f("password")[0].text != PASSWORD:
                    return 500, fault("InvalidLogin", "Cannot complete login due to an incorrect user name or password."), []
                key = "52%06d-fake" % len(self.calls)
                self.sessions.add(key)
                return 200, envelope('<LoginResponse xmlns="urn:vim25"><returnval><key>%s</key></returnval>'
                                     '</LoginResponse>' % key), \
                    [("Set-Cookie", 'vmware_soap_session="%s"; Path=/; HttpOnly; Secure;' % key)]
            if not m or m.group(1).strip('"') not in self.sessions:
                return 500, fault("NotAuthenticated", "The session is not authenticated."), []
            session = m.group(1).strip('"')
            if method == "Logout":
                self.sessions.discard(session)
                return 200, envelope('<LogoutResponse xmlns="urn:vim25"/>'), []
            if method == "CreateContainerView":
                view = "session[%s]view-%d" % (session, len(self.views))
                self.views[view] = [t.text for t in f("type")]
                return 200, envelope('<CreateContainerViewResponse xmlns="urn:vim25"><returnval type="ContainerView">'
                                     '%s</returnval></CreateContainerViewResponse>' % escape(view)), []
            if method == "RetrievePropertiesEx":
                propsets = {p.find("{urn:vim25}type").text: [x.text for x in p.findall("{urn:vim25}pathSet")]
                            for p in f("propSet")}
                obj = f("obj")[0]
                if obj.get("type") == "ContainerView":
                    if obj.text not in self.views:
                        return 500, fault("ManagedObjectNotFound", "The object has already been deleted"), []
                    items = [(k, propsets.get(k[0], [])) for k in sorted(self.objects) if k[0] in self.views[obj.text]]
                elif obj.get("type") == "Task":
                    return 200, envelope('<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>%s'
                                         '</returnval></RetrievePropertiesExResponse>' % self.task_info(obj.text)), []
                else:
                    key = (obj.get("type"), obj.text)
                    if key not in self.objects:
                        return 500, fault("ManagedObjectNotFound", "The object has already been deleted"), []
                    items = [(key, propsets.get(key[0], []))]
                return 200, envelope('<RetrievePropertiesExResponse xmlns="urn:vim25"><returnval>%s</returnval>'
                                     '</RetrievePropertiesExResponse>' % self.page(items, "tok")), []
            if method == "ContinueRetrievePropertiesEx":
                rest = self.pages.pop(f("token")[0].text, None)
                if rest is None:
                    return 500, fault("InvalidArgument", "A specified parameter was not correct: token"), []
                return 200, envelope('<ContinueRetrievePropertiesExResponse xmlns="urn:vim25"><returnval>%s'
                                     '</returnval></ContinueRetrievePropertiesExResponse>' % self.page(rest, "tok")), []
            if method == "CreateFilter":
                return 200, envelope('<CreateFilterResponse xmlns="urn:vim25"><returnval type="PropertyFilter">'
                                     'session[%s]filter</returnval></CreateFilterResponse>' % session), []
            if method == "WaitForUpdatesEx":
                wait = int(f("maxWaitSeconds")[0].text) if f("maxWaitSeconds") else 0
                first = not f("version")[0].text
            elif method in ("PowerOffVM_Task", "PowerOnVM_Task"):
                vm = f("_this")[0].text
                want = "poweredOff" if method == "PowerOffVM_Task" else "poweredOn"
                task = "task-%d" % len(self.calls)
                self.tasks[task] = {"vm": vm, "want": want, "polls": 0,
                                    "fails": self.power[vm] == want}
                return 200, envelope('<%sResponse xmlns="urn:vim25"><returnval type="Task">%s</returnval></%sResponse>'
                                     % (method, task, method)), []
            elif method == "ReconfigVM_Task":
                vm = f("_this")[0].text
                spec = [e for e in req if e.tag.split("}")[-1] == "spec"][0]
                self.reconfigs.append((vm, [(e.tag.split("}")[-1], e.text) for e in spec]))
                if vm == FAKE_VMS[4]:  # vCenter refuses at the call, not in the task
                    return 500, fault("InvalidState", "The operation is not allowed in the current state."), []
                for name, text in self.reconfigs[-1][1]:
                    path = {"numCPUs": "config.hardware.numCPU", "memoryMB": "config.hardware.memoryMB"}[name]
                    self.objects[("VirtualMachine", vm)][path] = ("xsd:int", int(text))
                task = "task-%d" % len(self.calls)
                self.tasks[task] = {"vm": vm, "want": self.power[vm], "polls": 0, "fails": False}
                return 200, envelope('<ReconfigVM_TaskResponse xmlns="urn:vim25"><returnval type="Task">%s'
                                     '</returnval></ReconfigVM_TaskResponse>' % task), []
            elif method == "CancelTask":
                self.tasks[f("_this")[0].text]["cancelled"] = True
                return 200, envelope('<CancelTaskResponse xmlns="urn:vim25"/>'), []
            else:
                return 500, fault("NotImplemented", "fake vCenter: %s is not scripted" % method), []
        # the long poll, outside the lock
        if first:
            return 200, envelope('<WaitForUpdatesExResponse xmlns="urn:vim25"><returnval><version>1</version>'
                                 '</returnval></WaitForUpdatesExResponse>'), []
        time.sleep(min(wait, 1))
        return 200, envelope('<WaitForUpdatesExResponse xmlns="urn:vim25"></WaitForUpdatesExResponse>'), []

    def task_info(self, task):
        """queued, then running at 40 %, then the end: a task as vCenter shows it."""
        t = self.tasks[task]
        t["polls"] += 1
        props = ""
        if t.get("cancelled"):
            props = ('<propSet><name>info.state</name><val xsi:type="TaskInfoState">error</val></propSet>'
                     '<propSet><name>info.error</name><val xsi:type="LocalizedMethodFault">'
                     '<fault xsi:type="RequestCanceled"/><localizedMessage>The task was canceled by a user.'
                     '</localizedMessage></val></propSet>')
        elif self.hang_tasks and t["polls"] > 1:
            props = ('<propSet><name>info.state</name><val xsi:type="TaskInfoState">running</val></propSet>'
                     '<propSet><name>info.progress</name><val xsi:type="xsd:int">40</val></propSet>')
        elif t["polls"] == 1:
            props = '<propSet><name>info.state</name><val xsi:type="TaskInfoState">queued</val></propSet>'
        elif t["polls"] == 2:
            props = ('<propSet><name>info.state</name><val xsi:type="TaskInfoState">running</val></propSet>'
                     '<propSet><name>info.progress</name><val xsi:type="xsd:int">40</val></propSet>')
        elif t["fails"]:
            props = ('<propSet><name>info.state</name><val xsi:type="TaskInfoState">error</val></propSet>'
                     '<propSet><name>info.error</name><val xsi:type="LocalizedMethodFault">'
                     '<fault xsi:type="InvalidPowerState"><requestedState>%s</requestedState></fault>'
                     '<localizedMessage>The attempted operation cannot be performed in the current state (%s).'
                     '</localizedMessage></val></propSet>' % (t["want"], t["want"]))
        else:
            self.power[t["vm"]] = t["want"]
            props = '<propSet><name>info.state</name><val xsi:type="TaskInfoState">success</val></propSet>'
        return '<objects><obj type="Task">%s</obj>%s</objects>' % (task, props)


@pytest.fixture
def fake_vc():
    f = FakeVcenter().start()
    yield f
    if not f.dead:
        f.stop()


def test_paging_task_progress_and_relogin_as_vcenter_does_them(daemon, fake_vc):
    body = {"type": "vcenter", "url": fake_vc.url, "username": USER, "password": PASSWORD}
    conn_id = daemon.run("POST", "/api/v1/connections", body, timeout=60)["result"]["connection_id"]
    assert daemon.ok("GET", "/api/v1/connections/" + conn_id)["state"] == "connected"
    # five VMs at two per page: only ContinueRetrievePropertiesEx brings them all
    vms = {v["native_id"]: v for v in daemon.all_items("/api/v1/vms")}
    assert sorted(vms) == FAKE_VMS
    assert fake_vc.count("ContinueRetrievePropertiesEx") >= 2
    for i, m in enumerate(FAKE_VMS):
        assert vms[m]["vcpus"] == 1 + i and vms[m]["memory_mb"] == 1024 * (i + 1)
        assert vms[m]["power_state"] == "running" and vms[m]["vendor_detail"]["datacenter"] == "DCX"
    host = daemon.all_items("/api/v1/hosts")[0]
    assert host["name"] == "esx01.example" and host["cpu_cores"] == 16 and host["memory_mb"] == 256 << 10
    assert host["memory_used_mb"] == 65536 and abs(host["cpu_usage_pct"] - 10.0) < 0.01
    assert [c["name"] for c in daemon.all_items("/api/v1/clusters", sort="name")] == ["Cluster & Co", "DCX"]
    # the quoted cookie went back exactly as vCenter set it
    assert any(re.search(r'vmware_soap_session="52\d+-fake"', c) for c in fake_vc.cookies_seen)
    assert not any("Path" in c for c in fake_vc.cookies_seen)

    # every session ends (vCenter's idle timeout): the action logs in again
    logins = fake_vc.count("Login")
    fake_vc.expire_sessions()
    job = daemon.run("POST", "/api/v1/vms/%s/poweroff" % vms[FAKE_VMS[0]]["id"], timeout=30)
    assert job["progress"] == 100
    assert fake_vc.power[FAKE_VMS[0]] == "poweredOff"
    assert fake_vc.count("Login") > logins
    assert max(t["polls"] for t in fake_vc.tasks.values()) >= 3  # queued, running 40 %, success
    wait_for(lambda: daemon.ok("GET", "/api/v1/connections/" + conn_id)["state"] == "connected", 10)

    # a task that ends in error: vCenter's fault type and message become the job's error
    job = daemon.run("POST", "/api/v1/vms/%s/start" % vms[FAKE_VMS[1]]["id"], expect="failed")
    assert job["error"]["code"] == "already_running"
    assert "cannot be performed in the current state" in job["error"]["message"]


def test_fake_vcenter_wrong_password(daemon, fake_vc):
    body = {"type": "vcenter", "url": fake_vc.url, "username": USER, "password": "nope"}
    job = daemon.wait_job(daemon.submit("POST", "/api/v1/connections", body))
    assert job["state"] == "failed" and job["error"]["code"] == "auth_failed"
    assert "incorrect user name or password" in job["error"]["message"]


def test_vcenter_killed_mid_task_and_back(daemon, fake_vc):
    body = {"type": "vcenter", "url": fake_vc.url, "username": USER, "password": PASSWORD}
    conn_id = daemon.run("POST", "/api/v1/connections", body, timeout=60)["result"]["connection_id"]
    vm = [v for v in daemon.all_items("/api/v1/vms") if v["native_id"] == FAKE_VMS[2]][0]
    fake_vc.hang_tasks = True
    job_id = daemon.submit("POST", "/api/v1/vms/%s/poweroff" % vm["id"])
    job = wait_for(lambda: (lambda j: j if j["progress"] >= 40 else None)(daemon.ok("GET", "/api/v1/jobs/" + job_id)),
                   10, "the task to report progress")
    assert job["state"] == "running"
    port = int(fake_vc.url.split(":")[2].split("/")[0])
    fake_vc.kill()
    job = daemon.wait_job(job_id, 30)
    assert job["state"] == "failed" and job["error"]["code"] in ("peer_unreachable", "timeout"), job
    wait_for(lambda: daemon.ok("GET", "/api/v1/connections/" + conn_id)["state"] != "connected", 15,
             "the connection to notice")
    wait_for(lambda: all(h["state"] == "disconnected" for h in daemon.all_items("/api/v1/hosts")), 10,
             "the host to show disconnected")

    fake_vc.hang_tasks = False
    fake_vc.start(port)
    wait_for(lambda: daemon.ok("GET", "/api/v1/connections/" + conn_id)["state"] == "connected", 45,
             "the connection to come back")
    wait_for(lambda: all(h["state"] == "connected" for h in daemon.all_items("/api/v1/hosts")), 15,
             "the host to come back")
    daemon.run("POST", "/api/v1/vms/%s/poweroff" % vm["id"])
    assert fake_vc.power[FAKE_VMS[2]] == "poweredOff"


def test_cancel_reaches_the_vcenter_task(daemon, fake_vc):
    body = {"type": "vcenter", "url": fake_vc.url, "username": USER, "password": PASSWORD}
    daemon.run("POST", "/api/v1/connections", body, timeout=60)
    vm = [v for v in daemon.all_items("/api/v1/vms") if v["native_id"] == FAKE_VMS[3]][0]
    fake_vc.hang_tasks = True
    job_id = daemon.submit("POST", "/api/v1/vms/%s/poweroff" % vm["id"])
    wait_for(lambda: daemon.ok("GET", "/api/v1/jobs/" + job_id)["progress"] >= 40, 10, "the task to run")
    r = daemon.post("/api/v1/jobs/%s/cancel" % job_id)
    assert r.status_code in (200, 202), r.text
    job = daemon.wait_job(job_id, 20)
    assert job["state"] == "cancelled", job
    assert fake_vc.count("CancelTask") == 1
    assert fake_vc.power[FAKE_VMS[3]] == "poweredOn"


def test_reconfigure_on_the_wire_as_vcenter_takes_it(daemon, fake_vc):
    """The spec in the schema's order, the task followed to its end, the new
    sizes read back; a fault vCenter answers to the call itself keeps its
    code (it once lost it on the way to the job's error)."""
    body = {"type": "vcenter", "url": fake_vc.url, "username": USER, "password": PASSWORD}
    daemon.run("POST", "/api/v1/connections", body, timeout=60)
    vms = {v["native_id"]: v for v in daemon.all_items("/api/v1/vms")}
    job = run_or_skip(daemon, "/api/v1/vms/%s/reconfigure" % vms[FAKE_VMS[0]]["id"],
                      {"vcpus": 4, "memory_mb": 2048})
    assert job["progress"] == 100
    assert fake_vc.reconfigs == [(FAKE_VMS[0], [("numCPUs", "4"), ("memoryMB", "2048")])]
    assert max(t["polls"] for t in fake_vc.tasks.values()) >= 3  # queued, running, success
    v = daemon.ok("GET", "/api/v1/vms/" + vms[FAKE_VMS[0]]["id"])
    assert (v["vcpus"], v["memory_mb"]) == (4, 2048)

    run_or_skip(daemon, "/api/v1/vms/%s/reconfigure" % vms[FAKE_VMS[1]]["id"], {"memory_mb": 4096})
    assert fake_vc.reconfigs[-1] == (FAKE_VMS[1], [("memoryMB", "4096")])

    job = run_or_skip(daemon, "/api/v1/vms/%s/reconfigure" % vms[FAKE_VMS[4]]["id"], {"vcpus": 2},
                      expect="failed")
    assert job["error"]["code"] == "invalid_state", job["error"]
    assert job["error"]["message"] == "reconfigure: The operation is not allowed in the current state."


# ---- a watch answer that arrives late ---------------------------------------
#
# vCenter gathers a WaitForUpdatesEx answer's changes before it sends it
# (vcsim for up to 250 ms), and the answer may reach us after a job has read
# a later state on its own session.  This proxy in front of vcsim delays
# only the watch's answers, by more than a start or a power-off takes.

import http.client
import ssl


class SlowWatch:
    DELAY_S = 0.5

    def __init__(self, target, delay=None):
        self.host, rest = target[len("https://"):].split("/", 1)
        self.path = "/" + rest
        self.delay = self.DELAY_S if delay is None else delay
        self.seen = []  # every request's body, in order: the envelopes as sent

    def start(self):
        tls = ssl.create_default_context()
        tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
        conn = threading.local()  # one upstream connection per client connection (its thread)

        def answer(headers, body):
            if not hasattr(conn, "upstream"):
                conn.upstream = http.client.HTTPSConnection(self.host, context=tls, timeout=120)
            fwd = {k: v for k, v in headers.items() if k.lower() in ("cookie", "soapaction", "content-type")}
            conn.upstream.request("POST", self.path, body, fwd)
            r = conn.upstream.getresponse()
            data = r.read()
            self.seen.append(body)
            if b"WaitForUpdatesEx" in body:
                time.sleep(self.delay)
            return r.status, [(k, v) for k, v in r.getheaders() if k.lower() in ("set-cookie", "content-type")], data

        self.server = serve_posts(answer)
        self.url = "http://127.0.0.1:%d%s" % (self.server.server_address[1], self.path)
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_late_watch_answer_does_not_undo_a_job(daemon, vcsim):
    """Power actions back to back, the watch's answers half a second late:
    the news of the step before, arriving after the next job's own read,
    must not win over it (it did, stamped on receipt).  Every change of
    state the inventory went through is one the actions made."""
    proxy = SlowWatch(vcsim.url).start()
    try:
        daemon.run("POST", "/api/v1/connections", vcsim.connection(url=proxy.url), timeout=60)
        vm = [v for v in daemon.all_items("/api/v1/vms") if v["power_state"] == "running"][0]
        cycles = 5
        for _ in range(cycles):
            for action, state in [("poweroff", "stopped"), ("start", "running")]:
                daemon.run("POST", "/api/v1/vms/%s/%s" % (vm["id"], action))
                assert daemon.ok("GET", "/api/v1/vms/" + vm["id"])["power_state"] == state, action
        time.sleep(2 * SlowWatch.DELAY_S + 0.5)  # every late answer has come in
        assert daemon.ok("GET", "/api/v1/vms/" + vm["id"])["power_state"] == "running"
        assert vcsim.vm(vm["native_id"])["power_state"] == "poweredOn"
        changes = [e["message"] for e in daemon.all_items("/api/v1/events", filter="object_type eq 'vm'")
                   if e["object_id"] == vm["id"] and "(was " in e["message"]]
        assert len(changes) == 2 * cycles, changes
    finally:
        proxy.stop()


# ---- a VM's disks and NICs (vm.device jobs) ---------------------------------
#
# Each change goes through the API and is checked in govmomi's view (vcq
# devices: keys, controller and unit, capacity, backings) and, for disk
# files, in the directory vcsim keeps behind the datastore.  What vcsim
# cannot show -- a relocate that moves files, capacity checks, hot-add rules
# -- is said in docs/vcenter.md, not faked here.

def truth_devices(vc, moref, kind=None):
    out = vc.vcsim.vcq("devices", moref)
    devs = out["devices"]
    if kind == "disk":
        devs = [d for d in devs if d["type"] == "VirtualDisk"]
    elif kind == "nic":
        devs = [d for d in devs if d["type"].startswith(("VirtualE1000", "VirtualVmxnet", "VirtualPCNet32"))]
    return out["vm_path_name"], {d["key"]: d for d in devs}


def ds_file(vc, ds_path):
    """'[name] dir/file.vmdk' -> the file vcsim keeps for it."""
    name, rel = ds_path[1:].split("] ", 1)
    url = [d["url"] for d in vc.vcsim.vcq("datastores") if d["name"] == name][0]
    return os.path.join(url, rel)


def test_device_changes_reach_vcenter(vc):
    vm_moref = vc.vcsim.vm("DC0_H0_VM0")["moref"]
    vm = api_vm(vc, vm_moref)
    assert vm["power_state"] == "running"
    base = "/api/v1/vms/" + vm["id"]
    pools = {p["name"]: p for p in vc.all_items("/api/v1/storage-pools") if vm["host_id"] in p["host_ids"]}
    nets = {n["name"]: n for n in vc.all_items("/api/v1/networks") if vm["host_id"] in n["host_ids"]}
    vmx, disks0 = truth_devices(vc, vm_moref, "disk")
    _, nics0 = truth_devices(vc, vm_moref, "nic")

    # add a 2 GiB disk, hot: the next free unit of the VM's SCSI controller, a
    # thin persistent VMDK that vCenter made in the VM's directory
    job = vc.run("POST", base + "/disks", {"size_gb": 2, "pool_id": pools["LocalDS_0"]["id"]}, timeout=60)
    assert job["result"]["live"] is True
    _, disks = truth_devices(vc, vm_moref, "disk")
    new = [d for k, d in disks.items() if k not in disks0]
    assert len(new) == 1, disks
    disk = new[0]
    old = list(disks0.values())[0]
    assert disk["controller_key"] == old["controller_key"] and disk["unit_number"] == old["unit_number"] + 1
    assert disk["capacity_kb"] == 2 << 20 and disk["thin"] is True and disk["disk_mode"] == "persistent"
    assert disk["file"].startswith("[LocalDS_0] DC0_H0_VM0/") and os.path.exists(ds_file(vc, disk["file"]))
    ours = [d for d in vc.ok("GET", base)["disks"] if d["id"] == job["result"]["disk_id"]][0]
    assert ours["size_gb"] == 2 and ours["size_mb"] == 2048 and ours["pool_id"] == pools["LocalDS_0"]["id"]

    # grow it to 3 GiB: the same device and file, the new capacity
    job = vc.run("POST", base + "/disks/%s/resize" % ours["id"], {"size_gb": 3}, timeout=60)
    _, disks = truth_devices(vc, vm_moref, "disk")
    grown = disks[disk["key"]]
    assert grown["capacity_kb"] == 3 << 20 and grown["file"] == disk["file"]
    assert (grown["controller_key"], grown["unit_number"]) == (disk["controller_key"], disk["unit_number"])
    assert [d for d in vc.ok("GET", base)["disks"] if d["id"] == ours["id"]][0]["size_mb"] == 3072
    r = vc.post(base + "/disks/%s/resize" % ours["id"], {"size_gb": 3})
    assert r.status_code == 400 and r.json()["error"]["code"] == "shrink_not_supported", r.text

    # a NIC on the standard port group, connected at once (the VM runs)
    job = vc.run("POST", base + "/nics", {"network_id": nets["VM Network"]["id"]}, timeout=60)
    _, nics = truth_devices(vc, vm_moref, "nic")
    added = [n for k, n in nics.items() if k not in nics0]
    assert len(added) == 1, nics
    nic = added[0]
    assert nic["backing"] == "VirtualEthernetCardNetworkBackingInfo" and nic["device_name"] == "VM Network"
    assert nic["network"] == nets["VM Network"]["native_id"] and nic["connected"] is True and nic["mac"]
    assert nic["type"] == list(nics0.values())[0]["type"]  # the model of the VM's first NIC
    ours_nic = [n for n in vc.ok("GET", base)["nics"] if n["id"] == job["result"]["nic_id"]][0]
    assert ours_nic["mac"] == nic["mac"] and ours_nic["network_id"] == nets["VM Network"]["id"]

    # ... moved to a distributed port group: a DVPort backing with the
    # switch's uuid (the one vcsim gave the VM's own NIC) and the group's key
    dvpg = nets["DC0_DVPG0"]
    vc.run("PATCH", base + "/nics/" + ours_nic["id"], {"network_id": dvpg["id"]}, timeout=60)
    _, nics = truth_devices(vc, vm_moref, "nic")
    moved = nics[nic["key"]]
    assert moved["backing"] == "VirtualEthernetCardDistributedVirtualPortBackingInfo"
    assert moved["portgroup_key"] == dvpg["native_id"]
    assert moved["switch_uuid"] == list(nics0.values())[0]["switch_uuid"]
    assert moved["mac"] == nic["mac"]
    assert [n for n in vc.ok("GET", base)["nics"] if n["id"] == ours_nic["id"]][0]["network_id"] == dvpg["id"]

    # ... and removed
    vc.run("DELETE", base + "/nics/" + ours_nic["id"], timeout=60)
    _, nics = truth_devices(vc, vm_moref, "nic")
    assert set(nics) == set(nics0)
    assert ours_nic["id"] not in [n["id"] for n in vc.ok("GET", base)["nics"]]

    # removing the disk made for the VM destroys its file too
    vc.run("DELETE", base + "/disks/" + ours["id"], timeout=60)
    _, disks = truth_devices(vc, vm_moref, "disk")
    assert set(disks) == set(disks0) and not os.path.exists(ds_file(vc, disk["file"]))
    assert ours["id"] not in [d["id"] for d in vc.ok("GET", base)["disks"]]
    assert vmx == truth_devices(vc, vm_moref)[0]


def test_disk_on_a_vm_without_a_controller(vc):
    """A VM made without disks has no SCSI controller: the first disk brings
    one (LSI Logic, bus 0) in the same reconfigure; the VM is off, so the
    job says the change is not live."""
    host_moref = [h for h in vc.vcsim.vcq("hosts") if h["name"] == "DC0_H0"][0]["moref"]
    job = vc.run("POST", "/api/v1/vms", {"name": "pv-bare", "vcpus": 1, "memory_mb": 128,
                                         "host_id": api_host(vc, host_moref)["id"]}, timeout=60)
    base = "/api/v1/vms/" + job["result"]["vm_id"]
    moref = vc.ok("GET", base)["native_id"]
    _, before = truth_devices(vc, moref)
    assert not [d for d in before.values() if d["type"] == "VirtualDisk"]
    job = vc.run("POST", base + "/disks", {"size_gb": 1, "pool": "LocalDS_0"}, timeout=60)
    assert job["result"]["live"] is False
    _, after = truth_devices(vc, moref)
    ctrl = [d for k, d in after.items() if k not in before and d["type"] == "VirtualLsiLogicController"]
    disk = [d for k, d in after.items() if k not in before and d["type"] == "VirtualDisk"]
    assert len(ctrl) == 1 and len(disk) == 1, after
    assert ctrl[0]["bus_number"] == 0 and disk[0]["controller_key"] == ctrl[0]["key"]
    assert disk[0]["unit_number"] == 0 and disk[0]["capacity_kb"] == 1 << 20
    assert [d["bus"] for d in vc.ok("GET", base)["disks"]] == ["scsi"]

    # a first NIC, straight onto a distributed port group: the default model
    # (E1000), a DVPort backing, not connected while the VM is off
    dvpg = [n for n in vc.all_items("/api/v1/networks") if n["name"] == "DC0_DVPG0"][0]
    job = vc.run("POST", base + "/nics", {"network_id": dvpg["id"]}, timeout=60)
    assert job["result"]["live"] is False
    _, nics = truth_devices(vc, moref, "nic")
    assert len(nics) == 1, nics
    nic = list(nics.values())[0]
    assert nic["type"] == "VirtualE1000" and nic["portgroup_key"] == dvpg["native_id"]
    switch = [d for d in truth_devices(vc, vc.vcsim.vm("DC0_H0_VM0")["moref"], "nic")[1].values()][0]
    assert nic["switch_uuid"] == switch["switch_uuid"]  # the switch vcsim made DC0_DVPG0 on
    assert nic["connected"] is False and nic["start_connected"] is True
    assert [n["network_id"] for n in vc.ok("GET", base)["nics"]] == [dvpg["id"]]


def test_disk_move_asks_vcenter_to_relocate_it(daemon, vcsim, tmpdir_path):
    """POST .../move is RelocateVM_Task with a disk locator.  vcsim ends that
    task without moving anything (its RelocateVM ignores spec.disk), so what
    this shows is the call and the honest read-back: the job says vCenter
    still lists the disk where it was, and the inventory keeps vCenter's
    word.  A real vCenter moves the file (docs/vcenter.md).  The second
    datastore is made before Polyvisor connects: vcsim does not notify a
    watcher of a host's new datastore (HostSystem.datastore), so one made
    later is listed as reached by no host until the next sync."""
    vm_moref = vcsim.vm("DC0_H0_VM0")["moref"]
    ds_dir = os.path.join(tmpdir_path, "ds-move")
    os.makedirs(ds_dir)
    vcsim.vcq("add-datastore", "pv-target", ds_dir, vcsim.vm(vm_moref)["host"])
    proxy = SlowWatch(vcsim.url, delay=0).start()  # to read the envelope as sent
    try:
        move_through(daemon, vcsim, proxy, vm_moref)
    finally:
        proxy.stop()


def move_through(daemon, vcsim, proxy, vm_moref):
    job = daemon.run("POST", "/api/v1/connections", vcsim.connection(url=proxy.url), timeout=60)
    daemon.conn_id, daemon.vcsim, vc = job["result"]["connection_id"], vcsim, daemon
    vm = api_vm(vc, vm_moref)
    target = [p for p in vc.all_items("/api/v1/storage-pools") if p["name"] == "pv-target"][0]
    assert vm["host_id"] in target["host_ids"]
    disk = vc.ok("GET", "/api/v1/vms/" + vm["id"])["disks"][0]
    _, before = truth_devices(vc, vm_moref, "disk")

    r = vc.post("/api/v1/vms/%s/disks/%s/move" % (vm["id"], disk["id"]), {"pool_id": disk["pool_id"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "same_pool", r.text
    job = vc.run("POST", "/api/v1/vms/%s/disks/%s/move" % (vm["id"], disk["id"]),
                 {"pool_id": target["id"]}, timeout=60)
    assert job["progress"] == 100 and job["result"]["disk_id"] == disk["id"]
    # the call: RelocateVM_Task of this VM with one disk locator (the disk's
    # key, the target's MoRef) and no spec.datastore, so the VM's other files stay
    sent = [ET.fromstring(b) for b in proxy.seen if b"RelocateVM_Task" in b]
    assert len(sent) == 1
    req = list(sent[0].find("{%s}Body" % SOAPENV))[0]
    v = "{urn:vim25}"
    assert req.find(v + "_this").text == vm_moref
    spec = req.find(v + "spec")
    assert [e.tag for e in spec] == [v + "disk"]
    key = [k for k in before][0]
    locator = spec.find(v + "disk")
    assert locator.find(v + "diskId").text == str(key)
    assert locator.find(v + "datastore").text == target["native_id"]
    assert locator.find(v + "datastore").get("type") == "Datastore"
    _, after = truth_devices(vc, vm_moref, "disk")
    if after[key]["datastore"] == target["native_id"]:  # a vcsim that moves disks
        assert "note" not in job["result"]
        assert vc.ok("GET", "/api/v1/vms/" + vm["id"])["disks"][0]["pool_id"] == target["id"]
    else:
        assert after[key] == before[key]
        assert "lists the disk on datastore" in job["result"]["note"], job["result"]
        assert vc.ok("GET", "/api/v1/vms/" + vm["id"])["disks"][0]["pool_id"] == disk["pool_id"]


def test_disks_vcenter_did_not_make_for_the_vm(vc):
    """A VMDK another client attached from elsewhere (here: another VM's
    disk) is detached on remove and its file kept; one on an IDE controller
    of a running VM is neither grown nor removed (vSphere changes IDE only
    while the VM is off), refused before vCenter is asked."""
    owner, other = vc.vcsim.vm("DC0_H0_VM0"), vc.vcsim.vm("DC0_H0_VM1")
    _, owner_disks = truth_devices(vc, owner["moref"], "disk")
    vmdk = list(owner_disks.values())[0]["file"]
    assert vmdk.startswith("[LocalDS_0] DC0_H0_VM0/") and os.path.exists(ds_file(vc, vmdk))
    _, devs = truth_devices(vc, other["moref"])
    scsi = [d for d in devs.values() if d["type"] == "ParaVirtualSCSIController"][0]
    ide = [d for d in devs.values() if d["type"] == "VirtualIDEController"][0]
    base = "/api/v1/vms/" + api_vm(vc, other["moref"])["id"]

    def attach(ctrl, unit):
        _, before = truth_devices(vc, other["moref"], "disk")
        vc.vcsim.vcq("attach-disk", other["moref"], vmdk, str(ctrl["key"]), str(unit))
        vc.run("POST", "/api/v1/connections/%s/sync" % vc.conn_id, timeout=60)
        _, after = truth_devices(vc, other["moref"], "disk")
        key = [k for k in after if k not in before][0]
        ours = [d for d in vc.ok("GET", base)["disks"] if d["id"] not in [x["id"] for x in disks_before]]
        return key, after, ours[0]

    disks_before = vc.ok("GET", base)["disks"]
    key, truth, disk = attach(ide, 1)
    assert disk["bus"] == "ide"
    for method, path, body in (("POST", "/disks/%s/resize" % disk["id"], {"size_gb": 1}),
                               ("DELETE", "/disks/" + disk["id"], None)):
        job = vc.run(method, base + path, body, expect="failed", timeout=60)
        assert job["error"]["code"] == "vm_running" and "IDE" in job["error"]["message"], job["error"]
        assert truth_devices(vc, other["moref"], "disk")[1] == truth

    disks_before = vc.ok("GET", base)["disks"]
    key, truth, disk = attach(scsi, 2)
    job = vc.run("DELETE", base + "/disks/" + disk["id"], timeout=60)
    assert "file kept" in job["result"]["note"], job["result"]
    assert key not in truth_devices(vc, other["moref"], "disk")[1]
    assert os.path.exists(ds_file(vc, vmdk))
    assert truth_devices(vc, owner["moref"], "disk")[1] == owner_disks


def test_snapshots_reach_vcenter(vc):
    """CreateSnapshot_Task, RevertToSnapshot_Task, RemoveSnapshot_Task through
    vm.snapshot jobs, with the tree read back by govmomi (vcq snapshots:
    snapshot.rootSnapshotList and currentSnapshot).  vcsim's revert does not
    restore the power state and its snapshot's state is the VM's power state
    whatever memory asked: neither is checked here (docs/vcenter.md)."""
    t = [v for v in vc.vcsim.vcq("vms") if v["power_state"] == "poweredOn"][0]
    vm = api_vm(vc, t["moref"])
    base = "/api/v1/vms/%s/snapshots" % vm["id"]
    assert vc.vcsim.vcq("snapshots", t["moref"]) == {"current": "", "items": []}
    assert vc.ok("GET", base)["items"] == []

    j1 = vc.run("POST", base, {"name": "before patch", "description": "pre"}, timeout=60)
    vc.vcsim.vcq("tools-running", t["moref"])  # a snapshot without memory is quiesced now
    j2 = vc.run("POST", base, {"name": "after patch", "memory": False}, timeout=60)
    truth = vc.vcsim.vcq("snapshots", t["moref"])
    by_name = {s["name"]: s for s in truth["items"]}
    assert set(by_name) == {"before patch", "after patch"}
    assert by_name["after patch"]["quiesced"] is True
    assert by_name["after patch"]["parent"] == by_name["before patch"]["moref"]
    assert by_name["before patch"]["parent"] == "" and not by_name["before patch"]["quiesced"]
    assert truth["current"] == by_name["after patch"]["moref"]
    got = {s["name"]: s for s in vc.ok("GET", base)["items"]}
    assert got["before patch"]["key"] == by_name["before patch"]["moref"]
    assert got["before patch"]["id"] == j1["result"]["snapshot_id"]
    assert got["after patch"]["id"] == j2["result"]["snapshot_id"]
    assert got["after patch"]["parent_id"] == got["before patch"]["id"]
    assert got["after patch"]["current"] and not got["before patch"]["current"]
    assert got["before patch"]["memory"] is True  # state poweredOn: taken with memory

    # revert: vCenter's current snapshot moves; a third one hangs under it
    vc.run("POST", "%s/%s/revert" % (base, got["before patch"]["id"]), timeout=60)
    assert vc.vcsim.vcq("snapshots", t["moref"])["current"] == by_name["before patch"]["moref"]
    vc.run("POST", base, {"name": "branch"}, timeout=60)
    truth = vc.vcsim.vcq("snapshots", t["moref"])
    branch = [s for s in truth["items"] if s["name"] == "branch"][0]
    assert branch["parent"] == by_name["before patch"]["moref"] and truth["current"] == branch["moref"]

    # delete one (its children stay), then the rest with children
    vc.run("DELETE", "%s/%s" % (base, got["after patch"]["id"]), timeout=60)
    assert {s["name"] for s in vc.vcsim.vcq("snapshots", t["moref"])["items"]} == {"before patch", "branch"}
    vc.run("DELETE", "%s/%s?children=true" % (base, got["before patch"]["id"]), timeout=60)
    assert vc.vcsim.vcq("snapshots", t["moref"]) == {"current": "", "items": []}
    assert vc.ok("GET", base)["items"] == []
    r = vc.post("%s/%s/revert" % (base, got["before patch"]["id"]))
    assert r.status_code == 404 and r.json()["error"]["code"] == "snapshot_not_found"
