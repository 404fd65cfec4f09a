"""Real libvirt + QEMU/KVM: a diskless VM created through polyvisord's REST
API runs with KVM acceleration, pauses, resumes, saves, restores, powers off
and is deleted.  Skipped, saying so, only where /dev/kvm is absent; the
libvirt daemon is installed and started by tests/peers/libvirtd.sh and
stopped again by PID."""
import os
import subprocess
import uuid

import pytest

from conftest import Daemon
from kvm_rig import TOKEN, Agent, virsh

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PEER = os.path.join(ROOT, "tests", "peers", "libvirtd.sh")
URI = "qemu:///system"

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                                reason="no /dev/kvm on this machine: real KVM tests skipped")


@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory):
    state = str(tmp_path_factory.mktemp("libvirtd"))
    subprocess.run(["sh", PEER, "start", state], check=True, timeout=600)
    yield
    subprocess.run(["sh", PEER, "stop", state], timeout=60)


@pytest.fixture
def real(libvirtd, tmpdir_path):
    data = os.path.join(tmpdir_path, "data")
    os.makedirs(data)
    agent = Agent(tmpdir_path, uri=URI).start()
    d = Daemon(data).start()
    name = "pv-it-" + uuid.uuid4().hex[:8]
    try:
        job = d.run("POST", "/api/v1/connections", {"type": "kvm", "url": agent.base, "token": TOKEN})
        d.conn_id = job["result"]["connection_id"]
        d.vm_name = name
        yield d
    finally:
        d.stop()
        agent.stop()
        if virsh(URI, "domstate", name).returncode == 0:  # leave nothing behind
            virsh(URI, "destroy", name)
            virsh(URI, "undefine", name, "--managed-save")


def test_kvm_lifecycle(real):
    host = real.all_items("/api/v1/hosts")[0]
    assert host["vendor"] == "kvm" and host["facts"]["kvm"] is True
    assert host["memory_mb"] > 1024
    job = real.run("POST", "/api/v1/vms", {"name": real.vm_name, "vcpus": 1, "memory_mb": 128,
                                           "host_id": host["id"]})
    vm_id = job["result"]["vm_id"]
    assert "<domain type='kvm'" in virsh(URI, "dumpxml", real.vm_name).stdout
    real.run("POST", "/api/v1/vms/%s/start" % vm_id)
    assert real.ok("GET", "/api/v1/vms/" + vm_id)["power_state"] == "running"
    assert virsh(URI, "domstate", real.vm_name).stdout.strip() == "running"
    for action, state, virsh_state in [("pause", "paused", "paused"), ("resume", "running", "running"),
                                       ("save", "saved", "shut off"), ("start", "running", "running"),
                                       ("poweroff", "stopped", "shut off")]:
        real.run("POST", "/api/v1/vms/%s/%s" % (vm_id, action), timeout=60)
        assert real.ok("GET", "/api/v1/vms/" + vm_id)["power_state"] == state, action
        assert virsh(URI, "domstate", real.vm_name).stdout.strip() == virsh_state, action
    real.run("DELETE", "/api/v1/vms/" + vm_id)
    assert virsh(URI, "domstate", real.vm_name).returncode != 0
    assert real.get("/api/v1/vms/" + vm_id).status_code == 404


def test_pools_and_networks_on_real_libvirt(libvirtd, tmpdir_path):
    """A dir pool and an isolated network the test makes with virsh become a
    storage pool and a network of the host; a VM made with a disk in that
    pool and a NIC on that network has them, as virsh sees it (domblklist,
    vol-list); and an agent started with --default-pool gives a host that
    has no pool 'default' one (removed again by this test)."""
    tag = uuid.uuid4().hex[:6]
    pool, net, br, br2 = "pv-it-pool-" + tag, "pv-it-net-" + tag, "pvbr" + tag, "pvbs" + tag
    pooldir = os.path.join(tmpdir_path, pool)
    defdir = os.path.join(tmpdir_path, "default-pool")
    os.makedirs(pooldir)
    os.chmod(tmpdir_path, 0o755)
    had_default = virsh(URI, "pool-info", "default").returncode == 0
    assert virsh(URI, "pool-create-as", pool, "dir", "--target", pooldir).returncode == 0
    # two bridges of the test's own, with no address and no port: nothing
    # reaches out through them (a NAT or isolated libvirt network would need
    # the host's firewall); the first is a libvirt network's, the second not
    for b in (br, br2):
        subprocess.run(["ip", "link", "add", b, "type", "bridge"], check=True)
    netxml = os.path.join(tmpdir_path, "net.xml")
    with open(netxml, "w") as f:
        f.write("<network><name>%s</name><forward mode='bridge'/><bridge name='%s'/></network>" % (net, br))
    assert virsh(URI, "net-create", netxml).returncode == 0
    data = os.path.join(tmpdir_path, "data")
    os.makedirs(data)
    agent = Agent(tmpdir_path, uri=URI, options=["--default-pool", defdir]).start()
    d = Daemon(data).start()
    vm_name = "pv-it-" + tag
    try:
        job = d.run("POST", "/api/v1/connections", {"type": "kvm", "url": agent.base, "token": TOKEN})
        conn = job["result"]["connection_id"]
        host = d.all_items("/api/v1/hosts")[0]
        pools = {p["name"]: p for p in d.all_items("/api/v1/storage-pools")}
        assert pool in pools and "default" in pools, pools
        if not had_default:  # ours, at the directory given
            assert "<path>%s</path>" % defdir in virsh(URI, "pool-dumpxml", "default").stdout
        p = pools[pool]
        info = virsh(URI, "pool-info", "--bytes", pool).stdout
        capacity = int([line.split()[1] for line in info.splitlines() if line.startswith("Capacity:")][0])
        assert p["kind"] == "dir" and p["capacity_mb"] == capacity // (1024 * 1024)
        assert p["host_ids"] == [host["id"]] and p["connection_id"] == conn and p["shared"] is False
        nets = {n["name"]: n for n in d.all_items("/api/v1/networks")}
        assert nets[net]["kind"] == "network" and nets[net]["host_ids"] == [host["id"]]
        assert br not in nets  # the network's own bridge is the network, not a second one
        assert nets[br2]["kind"] == "bridge" and nets[br2]["native_id"] == "bridge:" + br2
        assert nets[br2]["host_ids"] == [host["id"]]
        assert set(d.ok("GET", "/api/v1/hosts/" + host["id"])["pool_ids"]) >= {p["id"], pools["default"]["id"]}
        # a VM with a disk in the pool and a NIC on the network
        job = d.run("POST", "/api/v1/vms", {"name": vm_name, "vcpus": 1, "memory_mb": 128, "host_id": host["id"],
                                            "disks": [{"size_gb": 1, "pool": pool}], "nics": [{"network": net}]},
                    timeout=60)
        vm = d.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])
        blk = virsh(URI, "domblklist", vm_name).stdout
        assert os.path.join(pooldir, vm_name + "-0.qcow2") in blk, blk
        assert vm_name + "-0.qcow2" in virsh(URI, "vol-list", pool).stdout
        assert "network='%s'" % net in virsh(URI, "dumpxml", vm_name).stdout
        assert [n.get("network") for n in vm["nics"]] == [net], vm["nics"]
        d.run("DELETE", "/api/v1/vms/%s?delete_disks=true" % vm["id"])
        assert vm_name not in virsh(URI, "vol-list", pool).stdout
        # the pool goes from the host: a sync removes it
        virsh(URI, "pool-destroy", pool)
        d.run("POST", "/api/v1/connections/%s/sync" % conn)
        assert pool not in [x["name"] for x in d.all_items("/api/v1/storage-pools")]
    finally:
        d.stop()
        agent.stop()
        if virsh(URI, "domstate", vm_name).returncode == 0:
            virsh(URI, "destroy", vm_name)
            virsh(URI, "undefine", vm_name, "--managed-save", "--remove-all-storage")
        virsh(URI, "pool-destroy", pool)
        virsh(URI, "net-destroy", net)
        for b in (br, br2):
            subprocess.run(["ip", "link", "del", b], capture_output=True)
        if not had_default:
            virsh(URI, "pool-destroy", "default")
            virsh(URI, "pool-undefine", "default")
