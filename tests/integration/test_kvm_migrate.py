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


# ---- live migration without shared storage ------------------------------
# Each host's "default" pool is its own /var/lib/libvirt/images: host B's is
# under its own bind mount (tests/peers/kvm2.sh), so the two pools are two
# directories that only their host sees.  A second pool on host B sits at a
# different path, so that a move there also changes the disk's path (the
# destination's definition is rewritten), and a tiny tmpfs pool on host B is
# the destination without room.

PATTERN = "0x5a"


def _pool(pair, conn_id, name):
    return [p for p in pair.all_items("/api/v1/storage-pools")
            if p["connection_id"] == conn_id and p["name"] == name][0]


def _qemu_io(prefix, path, *cmds):
    argv = list(prefix) + ["qemu-io", "-U", "-r"] if cmds[0].startswith("read") else \
        list(prefix) + ["qemu-io"]
    for c in cmds:
        argv += ["-c", c]
    r = subprocess.run(argv + [path], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "verification failed" not in r.stdout + r.stderr, r.stdout + r.stderr
    return r.stdout


def _blk(uri, name):
    """The domain's disk sources by target, as virsh domblklist lists them."""
    out = virsh(uri, "domblklist", name).stdout.splitlines()[2:]
    return dict(line.split(None, 1) for line in out if line.strip())


@pytest.fixture
def local_pools(pair, two_hosts):
    """Host B gets pool pv-local2 (another path) and pool pv-tiny (a 16 MiB
    tmpfs), both in host B's own mount namespace; removed afterwards."""
    made = []
    for name, tmpfs in (("pv-local2", False), ("pv-tiny", True)):
        d = "/var/lib/libvirt/" + name
        subprocess.run(two_hosts + ["mkdir", "-p", d], check=True)
        if tmpfs:
            subprocess.run(two_hosts + ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", d], check=True)
        r = virsh(URI_B, "pool-create-as", name, "dir", "--target", d)
        assert r.returncode == 0, r.stderr
        made.append((name, d, tmpfs))
    pair.run("POST", "/api/v1/connections/%s/sync" % pair.hosts["b"]["connection_id"])
    try:
        yield {n: d for n, d, _ in made}
    finally:
        for name, d, tmpfs in made:
            for line in virsh(URI_B, "vol-list", name).stdout.splitlines()[2:]:
                if line.strip():
                    virsh(URI_B, "vol-delete", line.split()[0], "--pool", name)
            virsh(URI_B, "pool-destroy", name)
            if tmpfs:
                subprocess.run(two_hosts + ["umount", d])
            subprocess.run(two_hosts + ["rmdir", d])


def test_live_migration_without_shared_storage(pair, two_hosts, local_pools):
    a, b = pair.hosts["a"], pair.hosts["b"]
    name = pair.vm_name
    pool_a = _pool(pair, a["connection_id"], "default")
    pool_b2 = _pool(pair, b["connection_id"], "pv-local2")
    assert pool_a["host_ids"] == [a["id"]] and pool_b2["host_ids"] == [b["id"]]
    job = pair.run("POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mb": 128, "host_id": a["id"],
                                           "disks": [{"size_gb": 1, "pool_id": pool_a["id"]}]})
    vm_id = job["result"]["vm_id"]
    path_a = pair.ok("GET", "/api/v1/vms/" + vm_id)["disks"][0]["path"]
    vol = os.path.basename(path_a)
    assert path_a == "/var/lib/libvirt/images/" + vol
    _qemu_io((), path_a, "write -P %s 0 4M" % PATTERN, "write -P 0x33 512M 1M")
    pair.run("POST", "/api/v1/vms/%s/start" % vm_id)
    try:
        # to host B, into the pool the caller names (another path than the source's)
        job = pair.run("POST", "/api/v1/vms/%s/migrate" % vm_id,
                       {"host_id": b["id"], "mode": "live", "pool_id": pool_b2["id"]}, timeout=300)
        assert job["result"]["pool_id"] == pool_b2["id"]
        path_b = local_pools["pv-local2"] + "/" + vol
        assert virsh(URI_B, "domstate", name).stdout.strip() == "running"
        assert virsh(URI_A, "domstate", name).returncode != 0
        assert _blk(URI_B, name) == {"vda": path_b}
        assert virsh(URI_B, "dumpxml", "--inactive", name).stdout.count(path_b) >= 1  # the persistent one too
        assert vol in virsh(URI_B, "vol-list", "pv-local2").stdout
        assert vol not in virsh(URI_A, "vol-list", "default").stdout  # the source's copy is gone
        assert not os.path.exists(path_a)
        _qemu_io(two_hosts, path_b, "read -P %s 0 4M" % PATTERN, "read -P 0x33 512M 1M", "read -P 0 4M 1M")
        moved = pair.ok("GET", "/api/v1/vms/" + vm_id)
        assert moved["host_id"] == b["id"] and moved["power_state"] == "running"
        assert moved["disks"][0]["path"] == path_b and moved["disks"][0]["pool_id"] == pool_b2["id"]
        # deleting the VM with its disks there removes the copy (the agent made it)
        pair.run("POST", "/api/v1/vms/%s/poweroff" % vm_id)
        pair.run("DELETE", "/api/v1/vms/%s?delete_disks=true" % vm_id)
        assert vol not in virsh(URI_B, "vol-list", "pv-local2").stdout
    finally:
        _remove_vm(name, vol)


def _remove_vm(name, vol):
    for uri in (URI_A, URI_B):
        if virsh(uri, "domstate", name).returncode == 0:
            virsh(uri, "destroy", name)
            virsh(uri, "undefine", name)
    virsh(URI_A, "vol-delete", vol, "--pool", "default")


def test_live_migration_into_the_pool_placement_picks(pair, two_hosts, local_pools):
    """No pool named: placement picks the destination's reached pool with
    the most room (never the tiny one) and says so in its storage verdict."""
    a, b = pair.hosts["a"], pair.hosts["b"]
    name = pair.vm_name
    pool_a = _pool(pair, a["connection_id"], "default")
    job = pair.run("POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mb": 128, "host_id": a["id"],
                                           "disks": [{"size_gb": 1, "pool_id": pool_a["id"]}]})
    vm_id = job["result"]["vm_id"]
    path_a = pair.ok("GET", "/api/v1/vms/" + vm_id)["disks"][0]["path"]
    vol = os.path.basename(path_a)
    _qemu_io((), path_a, "write -P %s 0 4M" % PATTERN)
    pair.run("POST", "/api/v1/vms/%s/start" % vm_id)
    try:
        job = pair.run("POST", "/api/v1/vms/%s/migrate" % vm_id, {"host_id": b["id"], "mode": "live"},
                       timeout=300)
        chosen = [p for p in pair.all_items("/api/v1/storage-pools") if p["id"] == job["result"]["pool_id"]][0]
        assert chosen["connection_id"] == b["connection_id"] and chosen["name"] in ("default", "pv-local2")
        verdict = [f for item in job["result"]["placement"]["items"] if item["host_id"] == b["id"]
                   for f in item["filters"] if f["name"] == "storage"]
        assert verdict[0]["passed"] and verdict[0]["detail"]["copy_to_pool_id"] == chosen["id"]
        assert verdict[0]["detail"]["required_mb"] == 1024
        path_b = (local_pools.get(chosen["name"]) or "/var/lib/libvirt/images") + "/" + vol
        assert virsh(URI_B, "domstate", name).stdout.strip() == "running"
        assert virsh(URI_A, "domstate", name).returncode != 0
        assert _blk(URI_B, name) == {"vda": path_b}
        assert vol in virsh(URI_B, "vol-list", chosen["name"]).stdout
        assert vol not in virsh(URI_A, "vol-list", "default").stdout
        _qemu_io(two_hosts, path_b, "read -P %s 0 4M" % PATTERN)
    finally:
        _remove_vm(name, vol)
        virsh(URI_B, "vol-delete", vol, "--pool", "default")


def test_live_migration_refused_without_room(pair, two_hosts, local_pools):
    """No pool with room on the destination (or one it does not reach): the
    migrate job's placement refuses it with the storage verdict's code, and
    nothing changes on either host."""
    a, b = pair.hosts["a"], pair.hosts["b"]
    name = pair.vm_name
    pool_a = _pool(pair, a["connection_id"], "default")
    tiny = _pool(pair, b["connection_id"], "pv-tiny")
    job = pair.run("POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mb": 128, "host_id": a["id"],
                                           "disks": [{"size_gb": 1, "pool_id": pool_a["id"]}]})
    vm_id = job["result"]["vm_id"]
    path_a = pair.ok("GET", "/api/v1/vms/" + vm_id)["disks"][0]["path"]
    _qemu_io((), path_a, "write -P %s 0 1M" % PATTERN)
    pair.run("POST", "/api/v1/vms/%s/start" % vm_id)
    r = pair.post("/api/v1/vms/%s/migrate" % vm_id, {"host_id": b["id"], "mode": "quick", "pool_id": tiny["id"]})
    assert r.status_code == 400 and r.json()["error"]["details"]["field"] == "pool_id", r.text
    for pool, code in ((tiny, "insufficient_storage"), (pool_a, "pool_unreachable")):
        job = pair.run("POST", "/api/v1/vms/%s/migrate" % vm_id,
                       {"host_id": b["id"], "mode": "live", "pool_id": pool["id"]}, expect="failed")
        assert job["error"]["code"] == "host_not_eligible", job["error"]
        assert code in job["error"]["message"]
        verdict = [f for item in job["result"]["placement"]["items"] if item["host_id"] == b["id"]
                   for f in item["filters"] if f["name"] == "storage"]
        assert verdict[0]["code"] == code, verdict
        if code == "insufficient_storage":
            assert verdict[0]["detail"]["required_mb"] == 1024 and verdict[0]["detail"]["free_mb"] <= 16
        assert virsh(URI_A, "domstate", name).stdout.strip() == "running"
        assert virsh(URI_B, "domstate", name).returncode != 0
        assert _blk(URI_A, name) == {"vda": path_a}
        assert virsh(URI_B, "vol-list", "pv-tiny").stdout.count(".qcow2") == 0
    assert pair.ok("GET", "/api/v1/vms/" + vm_id)["host_id"] == a["id"]
    _qemu_io((), path_a, "read -P %s 0 1M" % PATTERN)


def test_failed_migration_removes_the_precreated_volumes(pair, two_hosts, local_pools, tmpdir_path):
    """The migration itself fails after the destination pre-created its
    volume (host B has a domain of that name already): the job fails, the
    volume made on B is gone again, and the VM runs on at A on its disk."""
    a, b = pair.hosts["a"], pair.hosts["b"]
    name = pair.vm_name
    pool_a = _pool(pair, a["connection_id"], "default")
    pool_b2 = _pool(pair, b["connection_id"], "pv-local2")
    job = pair.run("POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mb": 128, "host_id": a["id"],
                                           "disks": [{"size_gb": 1, "pool_id": pool_a["id"]}]})
    vm_id = job["result"]["vm_id"]
    path_a = pair.ok("GET", "/api/v1/vms/" + vm_id)["disks"][0]["path"]
    vol = os.path.basename(path_a)
    _qemu_io((), path_a, "write -P %s 0 1M" % PATTERN)
    pair.run("POST", "/api/v1/vms/%s/start" % vm_id)
    xml = os.path.join(tmpdir_path, name + "-squat.xml")
    with open(xml, "w") as f:
        f.write("<domain type='kvm'><name>%s</name><uuid>%s</uuid><memory unit='MiB'>64</memory>"
                "<os><type arch='x86_64' machine='pc'>hvm</type></os></domain>" % (name, uuid.uuid4()))
    assert virsh(URI_B, "define", xml).returncode == 0
    try:
        job = pair.run("POST", "/api/v1/vms/%s/migrate" % vm_id,
                       {"host_id": b["id"], "mode": "live", "pool_id": pool_b2["id"]},
                       expect="failed", timeout=120)
        assert job["error"]["code"] in ("migration_failed", "libvirt_error"), job["error"]
        # libvirt's own refusal: the migration ran, so the volume had been pre-created
        assert "already exists" in job["error"]["message"], job["error"]
        assert vol not in virsh(URI_B, "vol-list", "pv-local2").stdout  # removed again
        assert virsh(URI_A, "domstate", name).stdout.strip() == "running"
        assert _blk(URI_A, name) == {"vda": path_a}
        assert vol in virsh(URI_A, "vol-list", "default").stdout
        assert pair.ok("GET", "/api/v1/vms/" + vm_id)["host_id"] == a["id"]
        _qemu_io((), path_a, "read -P %s 0 1M" % PATTERN)
    finally:
        virsh(URI_B, "undefine", name)
        os.unlink(xml)
        _remove_vm(name, vol)


def test_cancelled_copy_removes_the_precreated_volumes(pair, two_hosts, local_pools):
    """A migration cancelled while it copies a disk full of data: the job
    ends cancelled, the VM runs on at A on its intact disk, and the volume
    pre-created on B is gone."""
    a, b = pair.hosts["a"], pair.hosts["b"]
    name = pair.vm_name
    pool_a = _pool(pair, a["connection_id"], "default")
    pool_b2 = _pool(pair, b["connection_id"], "pv-local2")
    job = pair.run("POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mb": 128, "host_id": a["id"],
                                           "disks": [{"size_gb": 2, "pool_id": pool_a["id"]}]})
    vm_id = job["result"]["vm_id"]
    path_a = pair.ok("GET", "/api/v1/vms/" + vm_id)["disks"][0]["path"]
    vol = os.path.basename(path_a)
    _qemu_io((), path_a, "write -P %s 0 1G" % PATTERN, "write -P %s 1G 1G" % PATTERN)
    pair.run("POST", "/api/v1/vms/%s/start" % vm_id)
    try:
        job_id = pair.submit("POST", "/api/v1/vms/%s/migrate" % vm_id,
                             {"host_id": b["id"], "mode": "live", "pool_id": pool_b2["id"]})
        deadline = time.time() + 60
        while time.time() < deadline and vol not in virsh(URI_B, "vol-list", "pv-local2").stdout:
            time.sleep(0.02)  # the copy starts once the volume is there
        assert vol in virsh(URI_B, "vol-list", "pv-local2").stdout
        time.sleep(0.3)
        r = pair.post("/api/v1/jobs/%s/cancel" % job_id)
        assert r.status_code in (200, 202), r.text
        job = pair.wait_job(job_id, timeout=120)
        if job["state"] == "succeeded":
            pytest.skip("the 2 GiB copy finished before the cancel reached it; nothing to check")
        assert job["state"] == "cancelled", job
        assert virsh(URI_A, "domstate", name).stdout.strip() == "running"
        assert virsh(URI_B, "domstate", name).returncode != 0
        assert vol not in virsh(URI_B, "vol-list", "pv-local2").stdout
        assert _blk(URI_A, name) == {"vda": path_a}
        assert pair.ok("GET", "/api/v1/vms/" + vm_id)["host_id"] == a["id"]
        _qemu_io((), path_a, "read -P %s 0 1G" % PATTERN, "read -P %s 1G 1G" % PATTERN)
    finally:
        _remove_vm(name, vol)


def test_given_image_is_copied_and_kept_at_the_source(pair, two_hosts, local_pools):
    """A disk image the agent was given (not made) moves too: the source
    keeps its image (never deleted by the agent), and the copy on the
    destination is the agent's, so a delete with disks removes it there."""
    a, b = pair.hosts["a"], pair.hosts["b"]
    name = pair.vm_name
    pool_b2 = _pool(pair, b["connection_id"], "pv-local2")
    img = name + "-given.qcow2"
    assert virsh(URI_A, "vol-create-as", "default", img, "256M", "--format", "qcow2").returncode == 0
    path_a = "/var/lib/libvirt/images/" + img
    try:
        _qemu_io((), path_a, "write -P %s 0 1M" % PATTERN)
        job = pair.run("POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mb": 128, "host_id": a["id"],
                                               "disks": [{"path": path_a}]})
        vm_id = job["result"]["vm_id"]
        pair.run("POST", "/api/v1/vms/%s/start" % vm_id)
        pair.run("POST", "/api/v1/vms/%s/migrate" % vm_id,
                 {"host_id": b["id"], "mode": "live", "pool_id": pool_b2["id"]}, timeout=300)
        path_b = local_pools["pv-local2"] + "/" + img
        assert _blk(URI_B, name) == {"vda": path_b}
        _qemu_io(two_hosts, path_b, "read -P %s 0 1M" % PATTERN)
        assert img in virsh(URI_A, "vol-list", "default").stdout  # given, so kept
        pair.run("POST", "/api/v1/vms/%s/poweroff" % vm_id)
        pair.run("DELETE", "/api/v1/vms/%s?delete_disks=true" % vm_id)
        assert img not in virsh(URI_B, "vol-list", "pv-local2").stdout
        assert img in virsh(URI_A, "vol-list", "default").stdout
    finally:
        _remove_vm(name, img)
