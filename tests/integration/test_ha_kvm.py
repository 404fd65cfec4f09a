"""HA on real KVM: two real libvirt + QEMU/KVM hosts on this machine
(kvm_rig.two_kvm_hosts).

Host A dies -- its agent, its libvirtd and its VMs' QEMU processes are
killed -- and host B, asked as a witness, does not reach A's libvirtd either,
so A is failed and:

- the HA VM whose disk is on storage both hosts see (a directory outside
  libvirt's own, which host B's mount namespace does not replace: the rig's
  "shared storage") is defined anew on host B with the same UUID and runs
  there under KVM;
- the HA VM whose disk is in host A's own storage pool is not restarted, and
  says exactly why (its disk does not exist on host B);
- when host A comes back, the stale definition of the restarted VM is removed
  there (its disk, the running VM's, stays), so the VM never runs twice.

Host A's agent alone dies (its libvirtd and VMs run on): polyvisord loses
the host, but host B still reaches A's libvirtd, so A is not failed and its
VM is not started a second time elsewhere.

Skipped, saying so, only where /dev/kvm is absent."""
import os
import signal
import subprocess
import time
import uuid

import pytest

from conftest import Daemon, wait_for
from kvm_rig import TOKEN, URI_A, URI_B, Agent, two_kvm_hosts, virsh

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                reason="no /dev/kvm on this machine: real-KVM HA test skipped")

TIMEOUT = 3  # --host-failure-timeout


@pytest.fixture(scope="module")
def two_hosts(tmp_path_factory):
    with two_kvm_hosts(str(tmp_path_factory.mktemp("kvm2"))) as hosts:
        if hosts.libvirtd_a_pid() is None:
            pytest.skip("a libvirtd ran on this machine before the test rig: it is not ours to "
                        "kill, and it does not listen on the rig's network; HA tests on real "
                        "KVM skipped")
        yield hosts


@pytest.fixture
def rig(two_hosts, tmpdir_path):
    """Agents on hosts A and B and a polyvisord with both; yields
    (daemon, agent a, agent b, {"a": host, "b": host}); removes the VMs named
    in daemon.vm_names from both hosts afterwards."""
    dirs = {n: os.path.join(tmpdir_path, n) for n in ("a", "b", "data")}
    for p in dirs.values():
        os.makedirs(p)
    a = Agent(dirs["a"], URI_A, "qemu+tcp://10.99.0.1/system").start()
    b = Agent(dirs["b"], "qemu:///system", URI_B, address="10.99.0.2", wrap=two_hosts.wrap).start()
    d = Daemon(dirs["data"], extra_args=["--host-failure-timeout", str(TIMEOUT)]).start()
    d.vm_names = []
    try:
        hosts = {}
        for agent, key in ((a, "a"), (b, "b")):
            job = d.run("POST", "/api/v1/connections", {"type": "kvm", "url": agent.base, "token": TOKEN})
            conn = job["result"]["connection_id"]
            hosts[key] = [h for h in d.all_items("/api/v1/hosts") if h["connection_id"] == conn][0]
        yield d, a, b, hosts
    finally:
        d.stop()
        a.stop()
        b.stop()
        if two_hosts.libvirtd_a_pid() is None or not os.path.exists("/proc/%d" % two_hosts.libvirtd_a_pid()):
            two_hosts.start_libvirtd_a()
        for uri in (URI_A, URI_B):
            for name in d.vm_names:
                if virsh(uri, "domstate", name).returncode == 0:
                    virsh(uri, "destroy", name)
                    virsh(uri, "undefine", name, "--managed-save")
                virsh(uri, "vol-delete", name + "-0.qcow2", "--pool", "default")


def kill_qemu(name):
    """Ends a VM's QEMU process on host A the way a host failure does."""
    with open("/run/libvirt/qemu/%s.pid" % name) as f:
        os.kill(int(f.read().strip()), signal.SIGKILL)


def host_events(d, host_id):
    return [e["message"] for e in d.all_items("/api/v1/events", filter="object_id eq '%s'" % host_id)]


def test_real_kvm_host_failure(two_hosts, rig, tmpdir_path):
    d, a, b, hosts = rig
    shared_dir = os.path.join(tmpdir_path, "shared")
    os.makedirs(shared_dir)
    shared_disk = os.path.join(shared_dir, "ha-shared.img")
    subprocess.run(["truncate", "-s", "256M", shared_disk], check=True)
    # the rig's shared storage: host B sees the very same file
    assert subprocess.run(two_hosts.wrap + ["test", "-f", shared_disk]).returncode == 0
    tag = uuid.uuid4().hex[:8]
    # and both hosts know it as a storage pool (a disk must be a pool's volume);
    # transient pools, gone with each libvirtd, and destroyed at the end
    pool = "pv-ha-shared-" + tag
    for uri in (URI_A, URI_B):
        assert virsh(uri, "pool-create-as", pool, "dir", "--target", shared_dir).returncode == 0
    try:
        run_host_failure(two_hosts, d, a, hosts, shared_disk, tag)
    finally:
        for uri in (URI_A, URI_B):
            virsh(uri, "pool-destroy", pool)


def run_host_failure(two_hosts, d, a, hosts, shared_disk, tag):
    shared, local = "pv-ha-" + tag, "pv-hal-" + tag
    d.vm_names += [shared, local]
    ids = {}
    for name, disk, ha in ((shared, {"path": shared_disk}, "high"), (local, {"size_gb": 1}, "medium")):
        job = d.run("POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mb": 128,
                                            "host_id": hosts["a"]["id"], "disks": [disk]})
        ids[name] = job["result"]["vm_id"]
        d.ok("PATCH", "/api/v1/vms/" + ids[name], {"ha": ha})
        d.run("POST", "/api/v1/vms/%s/start" % ids[name])
    local_disk = d.ok("GET", "/api/v1/vms/" + ids[local])["disks"][0]["path"]
    vm_uuid = virsh(URI_A, "domuuid", shared).stdout.strip()

    # host A dies: its agent, its libvirtd and its VMs
    a.proc.kill()
    a.proc.wait()
    kill_qemu(shared)
    kill_qemu(local)
    os.kill(two_hosts.libvirtd_a_pid(), signal.SIGKILL)
    host = lambda: d.ok("GET", "/api/v1/hosts/" + hosts["a"]["id"])
    wait_for(lambda: host()["state"] == "failed", TIMEOUT + 15, "host a failed")
    failed = [m for m in host_events(d, hosts["a"]["id"]) if " failed: " in m]
    assert "other hosts do not reach it either: host " in failed[0], failed
    assert "no answer from 10.99.0.1 port 16509" in failed[0], failed
    job = wait_for(lambda: [j for j in d.all_items("/api/v1/jobs", filter="kind eq 'ha.restart'")
                            if j["state"] in ("succeeded", "failed")], 120, "the HA job")[0]
    moves = {m["vm_name"]: m for m in job["result"]["moves"]}
    assert moves[shared]["state"] == "succeeded" and moves[shared]["to_host_id"] == hosts["b"]["id"]
    # the VM on host A's own storage: planned, refused by host B, and why
    assert local in moves, job["result"]  # the plan left it out: its unplaced entry says why
    assert moves[local]["state"] == "failed", moves[local]
    assert moves[local]["error"]["code"] == "unknown_disk"
    assert local_disk in moves[local]["error"]["message"]
    assert job["state"] == "failed" and job["error"]["code"] == "ha_partly_failed"

    wait_for(lambda: d.ok("GET", "/api/v1/vms/" + ids[shared])["power_state"] == "running",
             30, "the restarted VM running")
    now = d.ok("GET", "/api/v1/vms/" + ids[shared])
    assert now["host_id"] == hosts["b"]["id"] and now["ha_status"].startswith("restarted on")
    assert virsh(URI_B, "domstate", shared).stdout.strip() == "running"
    assert virsh(URI_B, "domuuid", shared).stdout.strip() == vm_uuid
    assert "<domain type='kvm'" in virsh(URI_B, "dumpxml", shared).stdout
    stuck = d.ok("GET", "/api/v1/vms/" + ids[local])
    assert stuck["ha_status"].startswith("not restarted:") and local_disk in stuck["ha_status"]
    assert "No such file" in stuck["ha_status"]

    # host A comes back: its stale definition of the restarted VM goes
    two_hosts.start_libvirtd_a()
    a.start()
    wait_for(lambda: host()["state"] == "connected", 30, "host a back")
    fence = wait_for(lambda: [j for j in d.all_items("/api/v1/jobs", filter="kind eq 'vm.fence'")
                              if j["state"] in ("succeeded", "failed")], 30, "the fencing job")
    assert fence[0]["state"] == "succeeded", fence[0]
    wait_for(lambda: virsh(URI_A, "domstate", shared).returncode != 0, 15, "the stale copy removed")
    assert os.path.exists(shared_disk)  # the running VM's disk
    assert virsh(URI_B, "domstate", shared).stdout.strip() == "running"
    same = [v for v in d.all_items("/api/v1/vms") if v["name"] == shared]
    assert [(v["id"], v["host_id"]) for v in same] == [(ids[shared], hosts["b"]["id"])]
    # the VM that could not go is where it was, down, with its disk
    stuck = d.ok("GET", "/api/v1/vms/" + ids[local])
    assert stuck["host_id"] == hosts["a"]["id"] and stuck["power_state"] == "stopped"
    assert virsh(URI_A, "domstate", local).stdout.strip() == "shut off"


def test_cut_off_host_is_not_failed(rig):
    """Host A's agent dies, its libvirtd and VM run on: host B vouches for A,
    so A stays disconnected, nothing is restarted, and when the agent is back
    the VM is where it was, running once."""
    d, a, b, hosts = rig
    name = "pv-hac-" + uuid.uuid4().hex[:8]
    d.vm_names.append(name)
    job = d.run("POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mb": 128,
                                        "host_id": hosts["a"]["id"], "ha": "high"})
    vm_id = job["result"]["vm_id"]
    d.run("POST", "/api/v1/vms/%s/start" % vm_id)
    a.proc.kill()
    a.proc.wait()
    host = lambda: d.ok("GET", "/api/v1/hosts/" + hosts["a"]["id"])
    wait_for(lambda: host()["state"] == "disconnected", 10, "host a unreachable")
    said = wait_for(lambda: [m for m in host_events(d, hosts["a"]["id"]) if "but not failed" in m],
                    TIMEOUT + 15, "a witness vouching for host a")
    assert "its hypervisor answers at 10.99.0.1" in said[0], said
    assert hosts["a"]["facts"]["uuid"] in said[0], said
    time.sleep(3)  # well past host_failure_timeout
    assert host()["state"] == "disconnected"
    assert d.all_items("/api/v1/jobs", filter="kind eq 'ha.restart'") == []
    assert virsh(URI_A, "domstate", name).stdout.strip() == "running"
    assert virsh(URI_B, "domstate", name).returncode != 0
    a.start()
    wait_for(lambda: host()["state"] == "connected", 30, "host a back")
    vm = d.ok("GET", "/api/v1/vms/" + vm_id)
    assert vm["host_id"] == hosts["a"]["id"] and vm["power_state"] == "running"
    assert [v["id"] for v in d.all_items("/api/v1/vms") if v["name"] == name] == [vm_id]
