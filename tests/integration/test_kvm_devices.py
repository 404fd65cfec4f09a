"""A VM's disks and NICs changed through polyvisord's API as jobs
(POST/DELETE /vms/{id}/disks, .../resize, POST/PATCH/DELETE /vms/{id}/nics)
on real libvirt + QEMU/KVM, with the truth read from virsh (domblklist,
vol-list, vol-info, domiflist) -- never from our own API; and every bad
input refused with its stable code before a job exists, leaving libvirt as
it was.  On libvirt's test driver, which has no device hot-plug calls, a
disk add fails in its job with unsupported_by_backend and the volume made
for it is removed again.  Skipped, saying so, only where /dev/kvm is absent."""
import http.server
import os
import signal
import subprocess
import threading
import time
import uuid

import requests

import pytest

from conftest import Daemon
from kvm_rig import TOKEN, Agent, virsh

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PEER = os.path.join(ROOT, "tests", "peers", "libvirtd.sh")
URI = "qemu:///system"
GIB = 1024 ** 3

needs_kvm = pytest.mark.skipif(not os.path.exists("/dev/kvm"),
                               reason="no /dev/kvm on this machine: real KVM tests skipped")


@pytest.fixture(scope="module")
def libvirtd(tmp_path_factory):
    if not os.path.exists("/dev/kvm"):
        pytest.skip("no /dev/kvm on this machine: real KVM tests skipped")
    state = str(tmp_path_factory.mktemp("libvirtd"))
    subprocess.run(["sh", PEER, "start", state], check=True, timeout=600)
    yield
    subprocess.run(["sh", PEER, "stop", state], timeout=60)


def blklist(name, inactive=False):
    """{target: source} of the domain's disks, as virsh sees them."""
    out = virsh(URI, "domblklist", name, *(["--inactive"] if inactive else [])).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    return {r[0]: r[1] for r in rows if len(r) == 2}


def iflist(name, inactive=False):
    """{mac: (type, source)} of the domain's NICs, as virsh sees them (a running
    VM's NIC on a libvirt network of forward mode bridge shows type bridge)."""
    out = virsh(URI, "domiflist", name, *(["--inactive"] if inactive else [])).stdout
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    return {r[4]: (r[1], r[2]) for r in rows if len(r) == 5}


def vols(pool):
    """The paths of the pool's volumes, as virsh sees them."""
    out = virsh(URI, "vol-list", pool).stdout
    return sorted(line.split()[1] for line in out.splitlines()[2:] if len(line.split()) == 2)


def vol_capacity(path):
    out = virsh(URI, "vol-info", "--bytes", path).stdout
    return int([line.split()[1] for line in out.splitlines() if line.startswith("Capacity:")][0])


class SlowProxy:
    """polyvisord -> agent, answering a device change only `delay` seconds
    after the agent did it: a window in which polyvisord can be killed with
    the change made and not yet known to it."""

    def __init__(self, upstream):
        self.delay = 0
        self.paths = ("/disks", "/nics")  # the changes it holds back
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def relay(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                r = requests.request(self.command, upstream + self.path, data=body, timeout=120,
                                     headers={k: v for k, v in self.headers.items()
                                              if k.lower() in ("authorization", "content-type")})
                if self.command != "GET" and any(p in self.path for p in proxy.paths):
                    time.sleep(proxy.delay)
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("Content-Type", "application/json"))
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PATCH = do_DELETE = relay

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def code_of(r):
    return r.json()["error"]["code"]


@pytest.fixture
def rig(libvirtd, tmpdir_path):
    """A dir pool, a libvirt network on a bridge of the test's own and a
    second bare bridge, an agent and polyvisord; a VM with a disk in the pool
    and a NIC on the network.  Everything is removed again."""
    tag = uuid.uuid4().hex[:6]
    r = type("Rig", (), {})()
    r.pool, r.net, r.br, r.br2 = "pv-dev-pool-" + tag, "pv-dev-net-" + tag, "pvdb" + tag, "pvdc" + tag
    r.pooldir = os.path.join(tmpdir_path, r.pool)
    r.name = "pv-dev-" + tag
    r.extra_pools = []  # pools a test makes besides, removed with the rest
    os.makedirs(r.pooldir)
    os.chmod(tmpdir_path, 0o755)
    assert virsh(URI, "pool-create-as", r.pool, "dir", "--target", r.pooldir).returncode == 0
    for b in (r.br, r.br2):  # no address, no port: nothing leaves through them
        subprocess.run(["ip", "link", "add", b, "type", "bridge"], check=True)
    netxml = os.path.join(tmpdir_path, "net.xml")
    with open(netxml, "w") as f:
        f.write("<network><name>%s</name><forward mode='bridge'/><bridge name='%s'/></network>"
                % (r.net, r.br))
    assert virsh(URI, "net-create", netxml).returncode == 0
    data = os.path.join(tmpdir_path, "data")
    os.makedirs(data)
    agent = Agent(tmpdir_path, uri=URI).start()
    r.proxy = SlowProxy(agent.base)
    d = Daemon(data).start()
    r.d = d
    try:
        job = d.run("POST", "/api/v1/connections", {"type": "kvm", "url": r.proxy.base, "token": TOKEN})
        r.conn = job["result"]["connection_id"]
        r.host = d.all_items("/api/v1/hosts")[0]
        r.pools = {p["name"]: p for p in d.all_items("/api/v1/storage-pools")}
        r.nets = {n["name"]: n for n in d.all_items("/api/v1/networks")}
        job = d.run("POST", "/api/v1/vms", {"name": r.name, "vcpus": 1, "memory_mb": 128,
                                            "host_id": r.host["id"],
                                            "disks": [{"size_gb": 1, "pool_id": r.pools[r.pool]["id"]}],
                                            "nics": [{"network_id": r.nets[r.net]["id"]}]}, timeout=60)
        r.vm_id = job["result"]["vm_id"]
        yield r
    finally:
        d.stop()
        r.proxy.stop()
        agent.stop()
        if virsh(URI, "domstate", r.name).returncode == 0:
            virsh(URI, "destroy", r.name)
            virsh(URI, "undefine", r.name, "--managed-save", "--remove-all-storage")
        for pool in [r.pool] + r.extra_pools:
            virsh(URI, "pool-destroy", pool)
        virsh(URI, "net-destroy", r.net)
        for b in (r.br, r.br2):
            subprocess.run(["ip", "link", "del", b], capture_output=True)


def second_pool(r):
    """A second dir pool of the host, known to polyvisord (removed with the rig)."""
    pool2 = r.pool + "-b"
    dir2 = os.path.join(os.path.dirname(r.pooldir), pool2)
    os.makedirs(dir2)
    assert virsh(URI, "pool-create-as", pool2, "dir", "--target", dir2).returncode == 0
    r.extra_pools.append(pool2)
    r.d.run("POST", "/api/v1/connections/%s/sync" % r.conn)
    return pool2, dir2


def vm_of(r):
    return r.d.ok("GET", "/api/v1/vms/" + r.vm_id)


def test_disks_hot_and_cold_on_real_kvm(rig):
    r, d = rig, rig.d
    base = "/api/v1/vms/%s/disks" % r.vm_id
    d.run("POST", "/api/v1/vms/%s/start" % r.vm_id, timeout=60)
    assert virsh(URI, "domstate", r.name).stdout.strip() == "running"
    vda = os.path.join(r.pooldir, r.name + "-0.qcow2")
    assert blklist(r.name) == {"vda": vda}

    # hot-add: a new qcow2 volume in the pool, in the running guest and its definition
    job = d.run("POST", base, {"size_gb": 1, "pool_id": r.pools[r.pool]["id"]}, timeout=90)
    vdb = os.path.join(r.pooldir, r.name + "-vdb.qcow2")
    assert job["result"]["live"] is True, job["result"]
    assert blklist(r.name) == {"vda": vda, "vdb": vdb}
    assert blklist(r.name, inactive=True) == {"vda": vda, "vdb": vdb}
    assert r.name + "-vdb.qcow2" in virsh(URI, "vol-list", r.pool).stdout
    assert "qcow2" in virsh(URI, "vol-dumpxml", vdb).stdout
    assert vol_capacity(vdb) == 1 * GIB
    disk = [x for x in vm_of(r)["disks"] if x["id"] == job["result"]["disk_id"]][0]
    assert disk["size_mb"] == 1024 and disk["pool_id"] == r.pools[r.pool]["id"]

    # grow it while the guest runs (virDomainBlockResize): the volume is 2 GiB
    d.run("POST", "%s/%s/resize" % (base, disk["id"]), {"size_gb": 2}, timeout=60)
    assert vol_capacity(vdb) == 2 * GIB
    assert "2147483648" in virsh(URI, "domblkinfo", r.name, "vdb").stdout

    # bad input: each a 4xx with its code, and nothing changed
    boot = vm_of(r)["disks"][0]
    checks = [
        (d.post("%s/%s/resize" % (base, disk["id"]), {"size_gb": 1}), 400, "shrink_not_supported"),
        (d.post("%s/%s/resize" % (base, disk["id"]), {"size_gb": 2}), 400, "shrink_not_supported"),
        (d.delete("%s/%s" % (base, boot["id"])), 409, "boot_disk_in_use"),
        (d.delete(base + "/disk-000000000000"), 404, "disk_not_found"),
        (d.post(base + "/disk-000000000000/resize", {"size_gb": 5}), 404, "disk_not_found"),
        (d.post(base, {"size_gb": 1, "pool": "no-such-pool"}), 400, "unknown_pool"),
        (d.post(base, {"size_gb": 1, "pool_id": "no-such-id"}), 400, "unknown_pool"),
        (d.post(base, {"size_gb": 65536, "pool": r.pool}), 409, "insufficient_storage"),
        (d.post(base, {"size_gb": 0, "pool": r.pool}), 400, None),
        (d.post(base, {"pool": r.pool}), 400, "missing_field"),
        (d.post(base, {"size_gb": 1, "pool": r.pool, "bogus": 1}), 400, None),
        (d.post("/api/v1/vms/no-such-vm/disks", {"size_gb": 1}), 404, "vm_not_found"),
    ]
    for resp, status, code in checks:
        assert resp.status_code == status, (code, resp.status_code, resp.text)
        if code:
            assert code_of(resp) == code, resp.text
    assert d.post(base, {"size_gb": 65536, "pool": r.pool}).json()["error"]["details"]["free_mb"] > 0
    assert blklist(r.name) == {"vda": vda, "vdb": vdb}
    assert vols(r.pool) == sorted([vda, vdb])
    assert vol_capacity(vdb) == 2 * GIB
    # saved (managed save): its memory expects the devices it had, so no change
    d.run("POST", "/api/v1/vms/%s/save" % r.vm_id, timeout=60)
    resp = d.post(base, {"size_gb": 1, "pool": r.pool})
    assert resp.status_code == 409 and code_of(resp) == "vm_saved", resp.text
    d.run("POST", "/api/v1/vms/%s/start" % r.vm_id, timeout=60)

    # hot-remove: an unplug is a request to the guest.  This guest sits in its
    # firmware, which never answers it: the disk leaves the definition now, the
    # running guest when it lets go (here: when it stops), and its volume is
    # kept until then -- said in the job, never pretended
    job = d.run("DELETE", "%s/%s" % (base, disk["id"]), timeout=60)
    assert blklist(r.name, inactive=True) == {"vda": vda}
    if job["result"]["live"]:
        assert blklist(r.name) == {"vda": vda} and vols(r.pool) == [vda]
    else:
        assert "has not released disk vdb" in job["result"]["note"], job["result"]
        assert blklist(r.name) == {"vda": vda, "vdb": vdb} and vols(r.pool) == sorted([vda, vdb])
    d.run("POST", "/api/v1/vms/%s/poweroff" % r.vm_id, timeout=60)
    assert [x["id"] for x in vm_of(r)["disks"]] == [boot["id"]]
    # cold: stopped, a disk added is in the definition only; its volume made
    # in the pool; the volume the late unplug left went at this change
    job = d.run("POST", base, {"size_gb": 1, "pool": r.pool}, timeout=60)
    assert job["result"]["live"] is False
    assert vols(r.pool) == sorted([vda, vdb])  # vdb anew, of 1 GiB
    assert vol_capacity(vdb) == 1 * GIB
    job = d.run("DELETE", "%s/%s" % (base, job["result"]["disk_id"]), timeout=60)
    assert job["result"]["live"] is False and "note" not in job["result"], job["result"]
    assert blklist(r.name, inactive=True) == {"vda": vda}
    assert vols(r.pool) == [vda]
    # a stopped VM's boot disk can go; the disk made at create is the agent's: its volume goes too
    job = d.run("POST", base, {"size_gb": 1, "pool": r.pool}, timeout=60)
    assert blklist(r.name, inactive=True) == {"vda": vda, "vdb": vdb}
    d.run("POST", "%s/%s/resize" % (base, job["result"]["disk_id"]), {"size_gb": 3}, timeout=60)
    assert vol_capacity(vdb) == 3 * GIB  # stopped: virStorageVolResize
    d.run("DELETE", "%s/%s" % (base, boot["id"]), timeout=60)
    assert blklist(r.name, inactive=True) == {"vdb": vdb}
    assert r.name + "-0.qcow2" not in virsh(URI, "vol-list", r.pool).stdout


def test_nics_on_real_kvm(rig):
    r, d = rig, rig.d
    base = "/api/v1/vms/%s/nics" % r.vm_id
    d.run("POST", "/api/v1/vms/%s/start" % r.vm_id, timeout=60)
    first = vm_of(r)["nics"][0]
    assert iflist(r.name) == {first["mac"]: ("bridge", r.net)}
    assert iflist(r.name, inactive=True) == {first["mac"]: ("network", r.net)}

    # hot-add a NIC on the host's own bridge
    job = d.run("POST", base, {"network_id": r.nets[r.br2]["id"]}, timeout=60)
    nic = [n for n in vm_of(r)["nics"] if n["id"] == job["result"]["nic_id"]][0]
    assert job["result"]["live"] is True
    assert iflist(r.name)[nic["mac"]] == ("bridge", r.br2)
    assert iflist(r.name, inactive=True)[nic["mac"]] == ("bridge", r.br2)
    assert nic["network_id"] == r.nets[r.br2]["id"]

    # connect the first NIC to the bridge: the definition always; the running guest
    # when libvirt can (else the job says it takes effect at the next start)
    job = d.run("PATCH", "%s/%s" % (base, first["id"]), {"bridge": r.br2}, timeout=60)
    assert iflist(r.name, inactive=True)[first["mac"]] == ("bridge", r.br2)
    if job["result"]["live"]:
        assert iflist(r.name)[first["mac"]][1] == r.br2
    else:
        assert "next started" in job["result"]["note"], job["result"]
        assert iflist(r.name)[first["mac"]] == ("bridge", r.net)

    # bad input, nothing changed
    before, before_cfg = iflist(r.name), iflist(r.name, inactive=True)
    checks = [
        (d.post(base, {"network": "no-such-net"}), 400, "unknown_network"),
        (d.post(base, {"network_id": "no-such-id"}), 400, "unknown_network"),
        (d.post(base, {"bridge": "no-such-br"}), 400, "unknown_network"),
        (d.post(base, {}), 400, "missing_field"),
        (d.patch("%s/nic-000000000000" % base, {"network": r.net}), 404, "nic_not_found"),
        (d.delete("%s/nic-000000000000" % base), 404, "nic_not_found"),
        (d.patch("%s/%s" % (base, nic["id"]), {"network": "no-such-net"}), 400, "unknown_network"),
    ]
    for resp, status, code in checks:
        assert resp.status_code == status, (code, resp.status_code, resp.text)
        assert code_of(resp) == code, resp.text
    assert iflist(r.name) == before and iflist(r.name, inactive=True) == before_cfg

    # stopped: remove the added NIC, and connect the first back to the network
    d.run("POST", "/api/v1/vms/%s/poweroff" % r.vm_id, timeout=60)
    d.run("DELETE", "%s/%s" % (base, nic["id"]), timeout=60)
    assert nic["mac"] not in iflist(r.name, inactive=True)
    d.run("PATCH", "%s/%s" % (base, first["id"]), {"network_id": r.nets[r.net]["id"]}, timeout=60)
    assert iflist(r.name, inactive=True) == {first["mac"]: ("network", r.net)}
    assert [n["network_id"] for n in vm_of(r)["nics"]] == [r.nets[r.net]["id"]]


def test_kill9_mid_change_is_not_repeated(rig):
    """polyvisord killed after the agent made a change and before it heard
    so: after the restart the job's reconcile reads the VM's devices again,
    finds the change made, and succeeds without making it twice."""
    r, d = rig, rig.d
    base = "/api/v1/vms/%s/disks" % r.vm_id
    vda = os.path.join(r.pooldir, r.name + "-0.qcow2")
    vdb = os.path.join(r.pooldir, r.name + "-vdb.qcow2")
    r.proxy.delay = 4
    job = d.submit("POST", base, {"size_gb": 1, "pool": r.pool})
    deadline = time.time() + 20
    while time.time() < deadline and "vdb" not in blklist(r.name, inactive=True):
        time.sleep(0.05)
    assert d.ok("GET", "/api/v1/jobs/" + job)["state"] == "running"
    d.stop(signal.SIGKILL)
    r.proxy.delay = 0
    d.start()
    done = d.wait_job(job, timeout=60)
    assert done["state"] == "succeeded", done
    assert "event=reconciled job=%s" % job in d.log()
    assert blklist(r.name, inactive=True) == {"vda": vda, "vdb": vdb}  # one disk added, not two
    assert vols(r.pool) == sorted([vda, vdb])
    added = [x for x in vm_of(r)["disks"] if x["key"] == "vdb"][0]
    assert done["result"]["disk_id"] == added["id"]

    # a resize, a move (storage migration) and a remove, the same way
    pool2, dir2 = second_pool(r)
    vdb2 = os.path.join(dir2, r.name + "-vdb.qcow2")
    for method, path, body, check in [
            ("POST", "%s/%s/resize" % (base, added["id"]), {"size_gb": 2},
             lambda: vol_capacity(vdb) == 2 * GIB),
            ("POST", "%s/%s/move" % (base, added["id"]), {"pool": pool2},
             lambda: blklist(r.name, inactive=True).get("vdb") == vdb2 and vols(r.pool) == [vda]),
            ("DELETE", "%s/%s" % (base, added["id"]), None,
             lambda: "vdb" not in blklist(r.name, inactive=True))]:
        r.proxy.delay = 4
        job = d.submit(method, path, body)
        deadline = time.time() + 20
        while time.time() < deadline and not check():
            time.sleep(0.05)
        assert check()
        d.stop(signal.SIGKILL)
        r.proxy.delay = 0
        d.start()
        done = d.wait_job(job, timeout=60)
        assert done["state"] == "succeeded", done
        assert "event=reconciled job=%s" % job in d.log()
    assert blklist(r.name, inactive=True) == {"vda": vda}
    assert vols(r.pool) == [vda] and vols(pool2) == []


def test_failed_hotplug_leaves_nothing(rig, tmpdir_path):
    """A running VM whose PCI bus has hot-plug turned off (libvirt's
    <target hotplug='off'/>) refuses a hot-plugged disk inside QEMU, after the
    volume for it was made: the job fails with QEMU's reason and the volume
    is gone again (virsh vol-list)."""
    r, d = rig, rig.d
    name = r.name + "-nohp"
    xml = os.path.join(tmpdir_path, "nohp.xml")
    with open(xml, "w") as f:
        f.write("<domain type='kvm'><name>%s</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
                "<os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features>"
                "<devices><controller type='pci' index='0' model='pci-root'><target hotplug='off'/>"
                "</controller></devices></domain>" % name)
    assert virsh(URI, "define", xml).returncode == 0
    try:
        assert virsh(URI, "start", name).returncode == 0
        deadline = time.time() + 20
        vm = None
        while time.time() < deadline and not (vm and vm["power_state"] == "running"):
            vm = ([v for v in d.all_items("/api/v1/vms") if v["name"] == name] or [None])[0]
            time.sleep(0.1)
        assert vm and vm["power_state"] == "running", vm
        before = vols(r.pool)
        job = d.run("POST", "/api/v1/vms/%s/disks" % vm["id"], {"size_gb": 1, "pool": r.pool},
                    expect="failed", timeout=60)
        assert job["error"]["code"] == "libvirt_error" and "hotplug" in job["error"]["message"], job
        assert vols(r.pool) == before  # the volume made for it was deleted again
        assert blklist(name) == {} and blklist(name, inactive=True) == {}
    finally:
        virsh(URI, "destroy", name)
        virsh(URI, "undefine", name)


def qemu_io(path, command):
    return subprocess.run(["qemu-io", "-f", "qcow2", "-c", command, path], capture_output=True,
                          text=True, timeout=60)


def test_disk_move_between_pools(rig, tmpdir_path):
    """Storage migration of a disk to another pool of the host: while the VM
    runs (block copy, then the pivot: the guest never stops) and while it is
    stopped (a volume copy).  Truth from virsh: domblklist (running and
    persistent definitions), vol-list of both pools; the data the disk held
    (a pattern written with qemu-io) is on the new volume; the old volume is
    gone only after the switch."""
    r, d = rig, rig.d
    pool2, dir2 = second_pool(r)
    pools = {p["name"]: p for p in d.all_items("/api/v1/storage-pools")}
    vda1 = os.path.join(r.pooldir, r.name + "-0.qcow2")
    vda2 = os.path.join(dir2, r.name + "-0.qcow2")
    assert qemu_io(vda1, "write -P 0x5a 0 1M").returncode == 0
    disk = vm_of(r)["disks"][0]
    base = "/api/v1/vms/%s/disks/%s/move" % (r.vm_id, disk["id"])

    # bad input first: nothing is copied
    for resp, status, code in [
            (d.post(base, {"pool_id": pools[r.pool]["id"]}), 409, "same_pool"),
            (d.post(base, {"pool": "no-such-pool"}), 400, "unknown_pool"),
            (d.post(base, {}), 400, "missing_field"),
            (d.post("/api/v1/vms/%s/disks/disk-000000000000/move" % r.vm_id, {"pool": pool2}), 404,
             "disk_not_found")]:
        assert resp.status_code == status and code_of(resp) == code, resp.text
    assert vols(pool2) == []

    # running: block copy and pivot
    d.run("POST", "/api/v1/vms/%s/start" % r.vm_id, timeout=60)
    job = d.run("POST", base, {"pool_id": pools[pool2]["id"]}, timeout=120)
    assert job["result"]["live"] is True and job["progress"] == 100, job
    assert virsh(URI, "domstate", r.name).stdout.strip() == "running"
    assert blklist(r.name) == {"vda": vda2}
    assert blklist(r.name, inactive=True) == {"vda": vda2}
    assert vols(pool2) == [vda2] and vols(r.pool) == []
    moved = vm_of(r)["disks"][0]
    assert moved["id"] == disk["id"] and moved["pool_id"] == pools[pool2]["id"]

    # stopped: a copy back, and the data is what it was
    d.run("POST", "/api/v1/vms/%s/poweroff" % r.vm_id, timeout=60)
    check = qemu_io(vda2, "read -P 0x5a 0 1M")
    assert check.returncode == 0 and "Pattern verification failed" not in check.stdout, check.stdout
    assert "Pattern verification failed" in qemu_io(vda2, "read -P 0x33 0 1M").stdout  # it can fail
    job = d.run("POST", base, {"pool": r.pool}, timeout=120)
    assert job["result"]["live"] is False
    assert blklist(r.name, inactive=True) == {"vda": vda1}
    assert vols(r.pool) == [vda1] and vols(pool2) == []
    check = qemu_io(vda1, "read -P 0x5a 0 1M")
    assert check.returncode == 0 and "Pattern verification failed" not in check.stdout, check.stdout
    d.run("POST", "/api/v1/vms/%s/start" % r.vm_id, timeout=60)  # it starts from the moved disk
    assert virsh(URI, "domstate", r.name).stdout.strip() == "running"


def test_running_vm_without_acpi_is_refused_before_anything(rig, tmpdir_path):
    """A running PC-machine VM defined without ACPI (as the agent wrote
    them before it added <acpi/>) has a PCI bus that takes no new device:
    the job fails with vm_running before a volume is made, and the same
    change works once the VM is stopped."""
    r, d = rig, rig.d
    name = r.name + "-noacpi"
    xml = os.path.join(tmpdir_path, "noacpi.xml")
    with open(xml, "w") as f:
        f.write("<domain type='kvm'><name>%s</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>"
                "<os><type arch='x86_64' machine='pc'>hvm</type></os><devices/></domain>" % name)
    assert virsh(URI, "define", xml).returncode == 0
    try:
        assert virsh(URI, "start", name).returncode == 0
        deadline = time.time() + 20
        vm = None
        while time.time() < deadline and not (vm and vm["power_state"] == "running"):
            vm = ([v for v in d.all_items("/api/v1/vms") if v["name"] == name] or [None])[0]
            time.sleep(0.1)
        before = vols(r.pool)
        for path, body in (("disks", {"size_gb": 1, "pool": r.pool}), ("nics", {"network": r.net})):
            job = d.run("POST", "/api/v1/vms/%s/%s" % (vm["id"], path), body, expect="failed")
            assert job["error"]["code"] == "vm_running" and "ACPI" in job["error"]["message"], job
        assert vols(r.pool) == before and blklist(name) == {} and iflist(name) == {}
        d.run("POST", "/api/v1/vms/%s/poweroff" % vm["id"], timeout=60)
        job = d.run("POST", "/api/v1/vms/%s/disks" % vm["id"], {"size_gb": 1, "pool": r.pool})
        assert blklist(name, inactive=True) == {"vda": os.path.join(r.pooldir, name + "-vda.qcow2")}
        d.run("DELETE", "/api/v1/vms/%s/disks/%s" % (vm["id"], job["result"]["disk_id"]))
        assert vols(r.pool) == before  # made for the VM: deleted with the disk
    finally:
        virsh(URI, "destroy", name)
        virsh(URI, "undefine", name)


def test_disk_move_cancelled(rig, tmpdir_path):
    """A job cancel during a live storage move aborts libvirt's block copy:
    the job ends cancelled, the guest and its definition stay on the old
    volume, the target pool holds nothing, the data is as it was.  (The first
    block copy of a disk of 1 GiB just written takes seconds here, for
    virsh too: the window this test cancels in.)"""
    r, d = rig, rig.d
    pool2, dir2 = second_pool(r)
    disk = vm_of(r)["disks"][0]
    vda1 = os.path.join(r.pooldir, r.name + "-0.qcow2")
    d.run("POST", "/api/v1/vms/%s/disks/%s/resize" % (r.vm_id, disk["id"]), {"size_gb": 2})
    assert qemu_io(vda1, "write -P 0x5a 0 1G").returncode == 0
    subprocess.run(["sync"], check=True)
    d.run("POST", "/api/v1/vms/%s/start" % r.vm_id, timeout=60)
    job = d.submit("POST", "/api/v1/vms/%s/disks/%s/move" % (r.vm_id, disk["id"]), {"pool": pool2})
    d.wait_job(job, states=("running",), poll=0.01)
    d.ok("POST", "/api/v1/jobs/%s/cancel" % job, status=202)
    done = d.wait_job(job, timeout=120)
    assert done["state"] == "cancelled" and done["error"]["code"] == "cancelled", done
    assert blklist(r.name) == {"vda": vda1} and blklist(r.name, inactive=True) == {"vda": vda1}
    assert vols(pool2) == [] and vols(r.pool) == [vda1]
    assert virsh(URI, "domstate", r.name).stdout.strip() == "running"
    d.run("POST", "/api/v1/vms/%s/poweroff" % r.vm_id, timeout=60)
    check = qemu_io(vda1, "read -P 0x5a 0 1G")
    assert check.returncode == 0 and "Pattern verification failed" not in check.stdout, check.stdout
