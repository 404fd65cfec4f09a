"""The KVM test rig: polyvisor-agent processes and virsh, for the tests of
the KVM path (test_kvm_*.py)."""
import contextlib
import os
import subprocess

from conftest import ROOT
from pvtest import AGENT_TOKEN as TOKEN, HOST_XML, Agent  # noqa: F401  the rig's names

URI_A, URI_B = "qemu:///system", "qemu+tcp://10.99.0.2/system"


def virsh(uri, *args):
    return subprocess.run(["virsh", "-c", uri] + list(args), capture_output=True, text=True,
                          timeout=60)


def self_signed(directory, name):
    """A certificate and key for 127.0.0.1; returns (cert, key, PEM text)."""
    crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True)
    with open(crt) as f:
        return crt, key, f.read()


class TwoHosts:
    """Two real KVM hosts on this machine (tests/peers/kvm2.sh): host A is
    the machine's libvirtd (URI_A; it listens for qemu+tcp on 10.99.0.1),
    host B a libvirtd in network namespace pvhostb (URI_B, 10.99.0.2).
    `wrap` is the command prefix that runs a program on host B: in its
    network namespace and in its libvirtd's mount namespace, so it sees that
    host's storage and libvirt socket, as an agent on a real host does."""

    def __init__(self, state):
        self.state = state
        with open(os.path.join(state, "hostb.pid")) as f:
            pid = f.read().strip()
        self.wrap = ["ip", "netns", "exec", "pvhostb", "nsenter", "--mount=/proc/%s/ns/mnt" % pid]

    def libvirtd_a_pid(self):
        """The PID of host A's libvirtd when this rig started it, else None
        (a libvirtd that was running before is not ours to stop)."""
        path = os.path.join(self.state, "hosta", "libvirtd.pid")
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return int(f.read().strip())

    def start_libvirtd_a(self):
        subprocess.run(["sh", os.path.join(ROOT, "tests", "peers", "libvirtd.sh"), "start",
                        os.path.join(self.state, "hosta"), "10.99.0.1"], check=True, timeout=120)


@contextlib.contextmanager
def two_kvm_hosts(state):
    """Starts the two hosts, yields a TwoHosts, and stops them."""
    peer = os.path.join(ROOT, "tests", "peers", "kvm2.sh")
    subprocess.run(["sh", peer, "start", state], check=True, timeout=600)
    try:
        yield TwoHosts(state)
    finally:
        subprocess.run(["sh", peer, "stop", state], timeout=60)
