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
