"""Live and quick migration between two KVM hosts on one machine: the second
host is a libvirt daemon in a network namespace the test creates
(tests/peers/kvm2.sh, 10.99.0.1 <-> 10.99.0.2 on a veth pair of its own).  A
running VM migrates through the REST API, the job shows progress, and
afterwards the VM runs on the destination and not on the source.  Skipped,
saying so, only where /dev/kvm is absent."""
import os
import subprocess
import time
import uuid

import pytest

from conftest import Daemon
from kvm_rig import TOKEN, URI_A, URI_B, Agent, two_kvm_hosts, virsh

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                reason="no /dev/kvm on this machine: live migration tests skipped")


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory):
    with two_kvm_hosts(str(tmp_path_factory.mktemp("kvm2"))) as hosts:
        yield hosts.wrap


@pytest.fixture
def pair(two_hosts, tmpdir_path):
    dirs = [os.path.join(tmpdir_path, n) for n in ("a", "b", "data")]
    for d in dirs:
        os.makedirs(d)
    a = Agent(dirs[0], URI_A, "qemu+tcp://10.99.0.1/system").start()
    b = Agent(dirs[1], "qemu:///system", URI_B, address="10.99.0.2", wrap=two_hosts).start()
    d = Daemon(dirs[2]).start()
    name = "pv-mig-" + uuid.uuid4().hex[:8]
    try:
        d.hosts = {}
        for agent, key in ((a, "a"), (b, "b")):
            job = d.run("POST", "/api/v1/connections", {"type": "kvm", "url": agent.base, "token": TOKEN})
            conn = job["result"]["connection_id"]
            d.hosts[key] = [h for h in d.all_items("/api/v1/hosts") if h["connection_id"] == conn][0]
        d.agents = (a, b)
        d.vm_name = name
        yield d
    finally:
        d.stop()
        a.stop()
        b.stop()
        for uri in (URI_A, URI_B):
            if virsh(uri, "domstate", name).returncode == 0:
                virsh(uri, "destroy", name)
                virsh(uri, "undefine", name, "--managed-save")
            virsh(uri, "vol-delete", name + "-0.qcow2", "--pool", "default")


def test_live_migration(pair):
    a, b = pair.hosts["a"], pair.hosts["b"]
    assert a["facts"]["uuid"] != b["facts"]["uuid"]  # two hosts, not one seen twice
    job = pair.run("POST", "/api/v1/vms", {"name": pair.vm_name, "vcpus": 1, "memory_mb": 128,
                                           "host_id": a["id"]})
    vm_id = job["result"]["vm_id"]
    pair.run("POST", "/api/v1/vms/%s/start" % vm_id)
    pair.ok("PATCH", "/api/v1/vms/" + vm_id, {"ha": "medium", "tags": ["web"]})
    r = pair.post("/api/v1/vms/%s/migrate" % vm_id, {"host_id": b["id"], "max_downtime_ms": 0})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "max_downtime_ms"
    job = pair.run("POST", "/api/v1/vms/%s/migrate" % vm_id,
                   {"host_id": b["id"], "mode": "live", "max_downtime_ms": 100}, timeout=120)
    assert job["progress"] == 100 and job["steps"][1]["name"] == "migrate"
    moved = pair.ok("GET", "/api/v1/vms/" + vm_id)  # its id stays across hosts
    assert job["result"]["vm_id"] == vm_id
    assert moved["host_id"] == b["id"] and moved["power_state"] == "running"
    assert moved["connection_id"] == b["connection_id"]
    assert moved["ha"] == "medium" and moved["tags"] == ["web"]
    assert virsh(URI_B, "domstate", pair.vm_name).stdout.strip() == "running"
    assert virsh(URI_A, "domstate", pair.vm_name).returncode != 0  # gone from the source
    names = [v["name"] for v in pair.all_items("/api/v1/vms")]
    assert names.count(pair.vm_name) == 1
    time.sleep(1.5)  # late events from the source must not bring a second record
    same = [v for v in pair.all_items("/api/v1/vms") if v["name"] == pair.vm_name]
    assert [(v["id"], v["host_id"]) for v in same] == [(vm_id, b["id"])]


def test_destination_agent_down_leaves_vm_on_source(pair):
    a, b = pair.hosts["a"], pair.hosts["b"]
    job = pair.run("POST", "/api/v1/vms", {"name": pair.vm_name, "vcpus": 1, "memory_mb": 128,
                                           "host_id": a["id"]})
    vm_id = job["result"]["vm_id"]
    pair.run("POST", "/api/v1/vms/%s/start" % vm_id)
    pair.agents[1].stop()
    job = pair.run("POST", "/api/v1/vms/%s/migrate" % vm_id, {"host_id": b["id"], "mode": "live"},
                   expect="failed", timeout=60)
    assert job["error"]["code"] in ("peer_unreachable", "no_eligible_host")
    assert virsh(URI_A, "domstate", pair.vm_name).stdout.strip() == "running"
    assert pair.ok("GET", "/api/v1/vms/" + vm_id)["host_id"] == a["id"]


def test_quick_migration(pair):
    a, b = pair.hosts["a"], pair.hosts["b"]
    job = pair.run("POST", "/api/v1/vms", {"name": pair.vm_name, "vcpus": 1, "memory_mb": 128,
                                           "host_id": a["id"]})
    vm_id = job["result"]["vm_id"]
    pair.run("POST", "/api/v1/vms/%s/start" % vm_id)
    job = pair.run("POST", "/api/v1/vms/%s/migrate" % vm_id, {"host_id": b["id"], "mode": "quick"},
                   timeout=120)
    moved = pair.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
    assert moved["host_id"] == b["id"] and moved["power_state"] == "running"
    assert virsh(URI_B, "domstate", pair.vm_name).stdout.strip() == "running"
    assert virsh(URI_A, "domstate", pair.vm_name).returncode != 0
    # and a stopped VM moves as its definition alone
    pair.run("POST", "/api/v1/vms/%s/poweroff" % moved["id"])
    job = pair.run("POST", "/api/v1/vms/%s/migrate" % moved["id"], {"host_id": a["id"], "mode": "quick"},
                   timeout=120)
    back = pair.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
    assert back["host_id"] == a["id"] and back["power_state"] == "stopped"
    assert virsh(URI_A, "domstate", pair.vm_name).stdout.strip() == "shut off"
    assert virsh(URI_B, "domstate", pair.vm_name).returncode != 0


def test_quick_migration_copies_disks(pair):
    a, b = pair.hosts["a"], pair.hosts["b"]
    job = pair.run("POST", "/api/v1/vms", {"name": pair.vm_name, "vcpus": 1, "memory_mb": 128,
                                           "host_id": a["id"], "disks": [{"size_gb": 1}]})
    vm = pair.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
    disk = vm["disks"][0]["path"]
    assert disk.startswith("/var/lib/libvirt/images/")
    pair.run("POST", "/api/v1/vms/%s/start" % vm["id"])
    job = pair.run("POST", "/api/v1/vms/%s/migrate" % vm["id"], {"host_id": b["id"], "mode": "quick"},
                   timeout=180)
    moved = pair.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
    assert moved["host_id"] == b["id"] and moved["power_state"] == "running"
    assert moved["disks"][0]["path"] == disk
    # the disk lives on the destination's storage only
    assert os.path.basename(disk) in virsh(URI_B, "vol-list", "default").stdout
    assert os.path.basename(disk) not in virsh(URI_A, "vol-list", "default").stdout
    assert virsh(URI_A, "domstate", pair.vm_name).returncode != 0
    pair.run("POST", "/api/v1/vms/%s/poweroff" % moved["id"])
    pair.run("DELETE", "/api/v1/vms/%s?delete_disks=true" % moved["id"])
    assert os.path.basename(disk) not in virsh(URI_B, "vol-list", "default").stdout


def test_destination_agent_killed_mid_copy(pair, tmpdir_path):
    """The destination agent dies while a quick migration copies a disk: the
    job fails with a clear error and the VM runs on the source again."""
    a, b = pair.hosts["a"], pair.hosts["b"]
    disk = "/var/lib/libvirt/images/%s-big.img" % pair.vm_name
    subprocess.run(["truncate", "-s", "1G", disk], check=True)  # sparse: takes no space here
    try:
        job = pair.run("POST", "/api/v1/vms", {"name": pair.vm_name, "vcpus": 1, "memory_mb": 128,
                                               "host_id": a["id"], "disks": [{"path": disk}]})
        vm_id = job["result"]["vm_id"]
        pair.run("POST", "/api/v1/vms/%s/start" % vm_id)
        job_id = pair.submit("POST", "/api/v1/vms/%s/migrate" % vm_id,
                             {"host_id": b["id"], "mode": "quick"})
        deadline = time.time() + 60
        while time.time() < deadline:
            steps = pair.ok("GET", "/api/v1/jobs/" + job_id)["steps"]
            if (steps[1]["detail"] or "").startswith("copying disk"):
                break
            time.sleep(0.01)
        pair.agents[1].proc.kill()  # the destination host's agent dies
        job = pair.wait_job(job_id, timeout=120)
        assert job["state"] == "failed"
        assert job["error"]["code"] in ("peer_unreachable", "copy_failed"), job["error"]
        assert "copying" in job["error"]["message"] or "agent" in job["error"]["message"]
        assert virsh(URI_A, "domstate", pair.vm_name).stdout.strip() == "running"
        assert pair.ok("GET", "/api/v1/vms/" + vm_id)["host_id"] == a["id"]
        assert os.path.exists(disk)  # the source keeps its disk
    finally:
        if virsh(URI_A, "domstate", pair.vm_name).returncode == 0:
            virsh(URI_A, "destroy", pair.vm_name)
            virsh(URI_A, "undefine", pair.vm_name, "--managed-save")
        if os.path.exists(disk):
            os.unlink(disk)
