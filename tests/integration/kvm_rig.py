"""The KVM test rig: polyvisor-agent processes and virsh, for the tests of
the KVM path (test_kvm_*.py)."""
import contextlib
import os
import subprocess
import time

import requests

from conftest import BUILD, free_port, stop_process

TOKEN = "agent-token-0123456789abcdef"
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
URI_A, URI_B = "qemu:///system", "qemu+tcp://10.99.0.2/system"
HOST_XML = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "hypervisor",
                                        "demo-host.xml"))


class Agent:
    """One polyvisor-agent process, stopped by its PID."""

    def __init__(self, tmpdir, uri="test://" + HOST_XML, migration_uri=None, tls=None,
                 address="127.0.0.1", wrap=()):
        # wrap: a command prefix that puts the agent on another host of the
        # rig (its namespaces); address: where it listens there
        self.port = free_port()
        self.tls = tls  # (cert, key) to serve HTTPS
        self.address = address
        self.wrap = list(wrap)
        self.base = "%s://%s:%d" % ("https" if tls else "http", address, self.port)
        self.token_file = os.path.join(tmpdir, "agent.token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN + "\n")
        self.uri = uri
        self.migration_uri = migration_uri
        self.log = os.path.join(tmpdir, "agent.log")
        self.state_dir = os.path.join(tmpdir, "agent-state")
        self.proc = None

    def start(self):
        args = self.wrap + [os.path.join(BUILD, "polyvisor-agent"),
                "--listen", "%s:%d" % (self.address, self.port),
                "--libvirt-uri", self.uri, "--token-file", self.token_file,
                "--state-dir", self.state_dir]
        if self.migration_uri:
            args += ["--migration-uri", self.migration_uri]
        if self.tls:
            args += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                requests.get(self.base + "/v1/host", timeout=1,
                             verify=self.tls[0] if self.tls else True)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("agent did not start")

    def stop(self):
        stop_process(self.proc)

    def call(self, method, path, body=None, token=TOKEN):
        h = {"Authorization": "Bearer " + token} if token else {}
        return requests.request(method, self.base + path, json=body, headers=h, timeout=10,
                                verify=self.tls[0] if self.tls else True)


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
