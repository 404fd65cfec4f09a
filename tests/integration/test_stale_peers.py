"""A VM whose endpoint stops answering reads power_state "unknown", with
the state last heard (last_known_power_state) and since when (stale_since),
on every vendor whose peer runs here: a KVM agent on libvirt's test driver,
VMware's vcsim, our Hyper-V simulator.  When the peer answers again (the
agent and the Hyper-V simulator come back with their state; vcsim keeps none
across a restart, so its return is not shown), the real state is back.
(test_hardening.py covers the same through the test adapter, with HA.)"""
import os

import pytest

from conftest import wait_for
from kvm_rig import TOKEN, Agent
from test_hyperv import Sim
from test_vcenter import Vcsim, vcsim_bin  # noqa: F401 (a fixture, used by name)


def live(d, vm_id):
    return d.ok("GET", "/api/v1/vms/" + vm_id)


def wait_state(d, vm_id, state, timeout=60):
    return wait_for(lambda: (lambda v: v if v["power_state"] == state else None)(live(d, vm_id)),
                    timeout, "VM %s to read %s" % (vm_id, state))


@pytest.mark.parametrize("vendor", ["kvm", "vcenter", "hyperv"])
def test_a_silent_peer_makes_its_vms_unknown(vendor, daemon, tmpdir_path, request):
    if vendor == "kvm":
        peer = Agent(os.path.join(tmpdir_path)).start()
        daemon.run("POST", "/api/v1/connections", {"type": "kvm", "url": peer.base, "token": TOKEN})
        again = peer.start
    elif vendor == "vcenter":
        peer = Vcsim(request.getfixturevalue("vcsim_bin"), os.path.join(tmpdir_path, "vcsim"))
        peer.start("-dc", "1", "-cluster", "1", "-host", "1", "-standalone-host", "0", "-vm", "2")
        daemon.run("POST", "/api/v1/connections", peer.connection(), timeout=60)
        again = None
    else:
        peer = Sim(os.path.join(tmpdir_path, "hvsim"), hosts=1).start()
        daemon.run("POST", "/api/v1/connections", peer.connection(sorted(peer.urls)[0]), timeout=60)
        again = peer.start
    try:
        vms = [v for v in daemon.all_items("/api/v1/vms") if v["power_state"] in ("running", "stopped")]
        assert vms, daemon.all_items("/api/v1/vms")
        vm = vms[0]
        assert vm["stale_since"] is None
        if vendor == "hyperv":
            peer.save()  # its state survives the restart below
        peer.stop()
        stale = wait_state(daemon, vm["id"], "unknown")
        assert stale["last_known_power_state"] == vm["power_state"] and stale["stale_since"]
        names = {v["id"] for v in daemon.all_items("/api/v1/vms", filter="power_state eq 'unknown'")}
        assert vm["id"] in names
        conn = daemon.ok("GET", "/api/v1/connections/" + vm["connection_id"])
        assert conn["state"] != "connected" and conn["last_error"]
        if again:
            again()
            back = wait_state(daemon, vm["id"], vm["power_state"], timeout=90)
            assert back["stale_since"] is None
    finally:
        peer.stop()
