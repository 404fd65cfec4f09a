"""The shared HTTP layer (lib/httpd) as an attacker meets it, on polyvisord
and on the host agent alike: bodies refused before they are read, connection
limits answered, long URLs answered, TLS 1.2+ with forward secrecy only."""
import os
import socket
import ssl
import subprocess
import time
import warnings

import pytest
import requests

from conftest import ADMIN_PASSWORD, BUILD, Daemon, free_port, rss_kb, stop_process, wait_for
from kvm_rig import Agent, self_signed


def up(url):
    try:
        return requests.get(url, verify=False, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def raw(port, text, timeout=5):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(text.encode())
    return s


def head_of(s, timeout=5):
    s.settimeout(timeout)
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    return got


@pytest.fixture
def agent(tmpdir_path):
    a = Agent(tmpdir_path).start()
    yield a
    a.stop()


def test_bodies_of_the_unauthenticated_are_never_read(daemon):
    """Defect 4: 150 unauthenticated 1 MB bodies grew RSS by 173 MB.  Now the
    401 comes on the headers, before a byte of the body is taken."""
    before = rss_kb(daemon.proc.pid)
    socks = []
    try:
        for _ in range(120):
            s = raw(daemon.port, "POST /api/v1/vms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 1000000\r\n\r\n")
            socks.append(s)
        for s in socks:
            h = head_of(s)
            assert h.startswith(b"HTTP/1.1 401"), h[:200]
        for s in socks[:20]:  # and a body sent anyway is not kept
            try:
                s.sendall(b"x" * 65536)
            except OSError:
                pass
        assert rss_kb(daemon.proc.pid) - before < 30 * 1024, (before, rss_kb(daemon.proc.pid))
    finally:
        for s in socks:
            s.close()
    assert daemon.get("/healthz").status_code == 200


def test_agent_refuses_bodies_without_its_token(agent):
    s = raw(agent.port, "POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
    try:
        assert head_of(s).startswith(b"HTTP/1.1 401")
    finally:
        s.close()
    s = raw(agent.port, "POST /v1/imports/5e1f0000-0000-4000-8000-000000000001/state HTTP/1.1\r\n"
                        "Host: x\r\nContent-Length: 100000000\r\n\r\n")
    try:
        assert head_of(s).startswith(b"HTTP/1.1 401")
    finally:
        s.close()
    assert not os.listdir(agent.state_dir) or all(not f.endswith(".import") for f in os.listdir(agent.state_dir))


def test_per_address_limit_is_answered_with_retry_after(tmpdir_path):
    """Defect 5: idle sockets stopped all service.  Past the per-address limit
    a new request gets 503 busy with Retry-After; others are still served,
    and an idle socket is closed after the idle timeout."""
    d = Daemon(os.path.join(tmpdir_path, "data"), ["--max-connections-per-address", "8",
                                                   "--idle-timeout-seconds", "5"])
    os.makedirs(d.data_dir)
    d.start()
    idle = []
    try:
        d.http.close()
        for _ in range(10):
            idle.append(socket.create_connection(("127.0.0.1", d.port), timeout=5))
        time.sleep(0.3)
        r = requests.get(d.base + "/healthz", timeout=5)
        assert r.status_code == 503 and r.json()["error"]["code"] == "busy", r.text
        assert int(r.headers["Retry-After"]) >= 1
        for s in idle:
            s.close()
        idle = []
        time.sleep(0.5)
        assert requests.get(d.base + "/healthz", timeout=5).status_code == 200
        # an idle connection does not hold its slot forever
        s = socket.create_connection(("127.0.0.1", d.port), timeout=15)
        t0 = time.time()
        s.settimeout(15)
        assert s.recv(1) == b""  # closed by the daemon
        assert 3 <= time.time() - t0 <= 12
        s.close()
    finally:
        for s in idle:
            s.close()
        d.stop()


@pytest.mark.parametrize("n", [200, 1000])
def test_many_query_arguments_are_answered(daemon, n):
    """Defect 15: ~1,000 query arguments (6.9 KB) got no answer at all."""
    q = "&".join("a%d=%d" % (i, i) for i in range(n))
    r = daemon.get("/api/v1/vms?" + q)
    assert r.status_code == 414 and r.json()["error"]["code"] == "uri_too_long", r.text[:200]
    r = daemon.get("/api/v1/vms?x=" + "y" * 9000)
    assert r.status_code == 414


def tls_client(**kw):
    warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0/1.1 are what is tried
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for k, v in kw.items():
        if k == "ciphers":
            ctx.set_ciphers(v)
        else:
            setattr(ctx, k, v)
    return ctx


def handshake(port, ctx):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        with ctx.wrap_socket(s) as t:
            return t.version(), t.cipher()


@pytest.fixture(params=["daemon", "agent"])
def tls_server(request, tmpdir_path):
    crt, key, _ = self_signed(tmpdir_path, "srv")
    if request.param == "daemon":
        port = free_port()
        log = open(os.path.join(tmpdir_path, "polyvisord.log"), "ab")
        proc = subprocess.Popen([os.path.join(BUILD, "polyvisord"), "--listen", "127.0.0.1:%d" % port,
                                 "--data-dir", os.path.join(tmpdir_path, "data"),
                                 "--tls-cert", crt, "--tls-key", key], stdout=log, stderr=log,
                                env=dict(os.environ, POLYVISOR_ADMIN_PASSWORD=ADMIN_PASSWORD))
        log.close()
        url = "https://127.0.0.1:%d/healthz" % port
        try:
            wait_for(lambda: up(url), 15, "polyvisord over TLS")
            yield port, url
        finally:
            stop_process(proc)
    else:
        a = Agent(tmpdir_path, tls=(crt, key)).start()
        yield a.port, a.base + "/v1/host"
        a.stop()


def test_tls_is_1_2_or_later_and_forward_secret(tls_server):
    """Defect 8: TLS 1.0 and 1.1 and static-RSA suites were accepted."""
    port, url = tls_server
    for v in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
        ctx = tls_client(minimum_version=v, maximum_version=v, ciphers="DEFAULT:@SECLEVEL=0")
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            handshake(port, ctx)
    # TLS 1.2 with static RSA key exchange only: refused
    ctx = tls_client(maximum_version=ssl.TLSVersion.TLSv1_2, ciphers="AES128-GCM-SHA256:AES256-SHA")
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        handshake(port, ctx)
    version, cipher = handshake(port, tls_client(maximum_version=ssl.TLSVersion.TLSv1_2))
    assert version == "TLSv1.2" and ("ECDHE" in cipher[0] or "DHE" in cipher[0]), cipher
    version, _ = handshake(port, tls_client())
    assert version == "TLSv1.3"
    r = requests.get(url, verify=False, timeout=10)
    assert r.headers.get("Strict-Transport-Security", "").startswith("max-age=")


def audit_addresses(d):
    return [e["message"] for e in d.all_items("/api/v1/events", filter="severity eq 'audit'")
            if "sign-in of" in e["message"]]


def test_forwarded_for_only_from_trusted_proxies(tmpdir_path):
    """Defect 5's trusted_proxies: behind a load balancer the client is named
    by X-Forwarded-For, but only when the connection comes from a proxy we
    trust; anyone else's header is ignored (it would dodge the throttle)."""
    def wrong(d, xff):
        r = requests.post(d.base + "/api/v1/auth/login", timeout=10, headers={"X-Forwarded-For": xff},
                          json={"username": "admin", "password": "not-the-password"})
        assert r.status_code == 401
    plain = Daemon(os.path.join(tmpdir_path, "a"))
    os.makedirs(plain.data_dir)
    plain.start()
    try:
        wrong(plain, "192.0.2.10")
        assert audit_addresses(plain)[-1].endswith("from 127.0.0.1 failed: wrong username or password")
    finally:
        plain.stop()
    proxied = Daemon(os.path.join(tmpdir_path, "b"), ["--trusted-proxies", "10.0.0.0/8,127.0.0.1"])
    os.makedirs(proxied.data_dir)
    proxied.start()
    try:
        wrong(proxied, "192.0.2.10")
        wrong(proxied, "192.0.2.11, 10.1.2.3")     # two proxies: the last untrusted hop
        wrong(proxied, "not-an-address")
        msgs = audit_addresses(proxied)
        assert any("from 192.0.2.10 failed" in m for m in msgs), msgs
        assert any("from 192.0.2.11 failed" in m for m in msgs), msgs
        assert any("from 127.0.0.1 failed" in m for m in msgs), msgs
    finally:
        proxied.stop()
