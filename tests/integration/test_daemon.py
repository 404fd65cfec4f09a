"""The daemon itself: TLS when given a certificate, adapters with a wrong
ABI refused with a clear log line, config file and flags, start-up errors."""
import os
import re
import subprocess
import textwrap
import time

import pytest
import requests

from conftest import BUILD, Daemon, free_port


def test_tls(tmpdir_path):
    crt, key = os.path.join(tmpdir_path, "c.pem"), os.path.join(tmpdir_path, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", key, "-out", crt], check=True, capture_output=True)
    port = free_port()
    base = "https://127.0.0.1:%d" % port
    env = dict(os.environ, POLYVISOR_ADMIN_PASSWORD="pw-long-enough-1")
    proc = subprocess.Popen([os.path.join(BUILD, "polyvisord"), "--listen", "127.0.0.1:%d" % port,
                             "--data-dir", os.path.join(tmpdir_path, "data"), "--tls-cert", crt,
                             "--tls-key", key], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                r = requests.get(base + "/healthz", verify=crt, timeout=2)
                break
            except requests.ConnectionError:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        assert r.status_code == 200
        r = requests.post(base + "/api/v1/auth/login", json={"username": "admin", "password": "pw-long-enough-1"},
                          verify=crt)
        assert r.status_code == 200
        with pytest.raises(requests.ConnectionError):
            requests.get("http://127.0.0.1:%d/healthz" % port, timeout=2)
    finally:
        proc.terminate()
        proc.wait(10)


def test_wrong_abi_refused(tmpdir_path):
    adir = os.path.join(tmpdir_path, "adapters")
    os.makedirs(adir)
    src = os.path.join(tmpdir_path, "bad.c")
    with open(src, "w") as f:
        f.write(textwrap.dedent("""
            #include "adapters/adapter.h"
            static const struct pv_adapter bad = {.abi = 99, .name = "bad", .version = "0"};
            const struct pv_adapter *pv_adapter_entry(void) { return &bad; }
        """))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run(["cc", "-shared", "-fPIC", "-I", root, "-o", os.path.join(adir, "bad.so"), src],
                   check=True)
    # an adapter built for the ABI before this one (9: no vm_device) is refused as clearly
    old = os.path.join(tmpdir_path, "old.c")
    with open(old, "w") as f:
        f.write(textwrap.dedent("""
            #include "adapters/adapter.h"
            static const struct pv_adapter old = {.abi = PV_ADAPTER_ABI - 1, .name = "old", .version = "0"};
            const struct pv_adapter *pv_adapter_entry(void) { return &old; }
        """))
    subprocess.run(["cc", "-shared", "-fPIC", "-I", root, "-o", os.path.join(adir, "old.so"), old],
                   check=True)
    os.symlink(os.path.join(BUILD, "adapters", "test.so"), os.path.join(adir, "test.so"))
    with open(os.path.join(adir, "junk.so"), "w") as f:
        f.write("not an ELF file")
    # a later --adapter-dir wins over the harness's default one
    d = Daemon(os.path.join(tmpdir_path, "data"), ["--adapter-dir", adir])
    os.makedirs(d.data_dir)
    try:
        d.start()
        names = [a["name"] for a in d.ok("GET", "/api/v1/adapters")["items"]]
        assert names == ["test"]
        log = d.log()
        with open(os.path.join(root, "adapters", "adapter.h")) as f:
            abi = re.search(r"#define PV_ADAPTER_ABI (\d+)", f.read()).group(1)
        assert 'event=refused' in log and 'ABI version 99, this polyvisord speaks %s' % abi in log
        assert 'ABI version %d, this polyvisord speaks %s' % (int(abi) - 1, abi) in log
        assert 'junk.so' in log
    finally:
        d.stop()


def test_bad_flags_exit_nonzero(tmpdir_path):
    for args in (["--listen", "nonsense"], ["--frobnicate", "1"], ["--tls-cert", "/x"],
                 ["--config", "/nonexistent.conf"]):
        p = subprocess.run([os.path.join(BUILD, "polyvisord")] + args, capture_output=True,
                           text=True, timeout=10)
        assert p.returncode == 2, args
        assert p.stderr.strip(), args


def test_config_file_and_port_in_use(tmpdir_path):
    port = free_port()
    conf = os.path.join(tmpdir_path, "pv.conf")
    data = os.path.join(tmpdir_path, "data")
    with open(conf, "w") as f:
        # with the access log off, requests are logged at debug: the proof that log_level took
        f.write("# test\nlisten = 127.0.0.1:%d\ndata_dir = %s\nlog_level = debug\naccess_log = 0\n"
                % (port, data))
    env = dict(os.environ, POLYVISOR_ADMIN_PASSWORD="pw-long-enough-1")
    p = subprocess.Popen([os.path.join(BUILD, "polyvisord"), "--config", conf], env=env,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if requests.get("http://127.0.0.1:%d/healthz" % port, timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert os.path.exists(os.path.join(data, "polyvisor.db"))
        assert oct(os.stat(os.path.join(data, "secret.key")).st_mode & 0o777) == "0o600"
        # a second daemon on the same port fails to start, saying why
        q = subprocess.run([os.path.join(BUILD, "polyvisord"), "--config", conf,
                            "--data-dir", os.path.join(tmpdir_path, "data2")],
                           env=env, capture_output=True, text=True, timeout=10)
        assert q.returncode == 1 and "listen_failed" in q.stderr
    finally:
        p.terminate()
        out = p.communicate(timeout=10)[1]
    assert "DEBUG" in out and "event=stopped" in out


def test_first_start_prints_password_once(tmpdir_path):
    data = os.path.join(tmpdir_path, "data")
    env = {k: v for k, v in os.environ.items() if k != "POLYVISOR_ADMIN_PASSWORD"}
    outs = []
    for _ in range(2):
        port = free_port()
        p = subprocess.Popen([os.path.join(BUILD, "polyvisord"), "--listen", "127.0.0.1:%d" % port,
                              "--data-dir", data], env=env, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                if requests.get("http://127.0.0.1:%d/healthz" % port, timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.05)
        p.terminate()
        outs.append(p.communicate(timeout=10)[1])
    assert "created user 'admin' with password" in outs[0]
    pw = outs[0].split("with password ", 1)[1].split()[0]
    assert pw not in outs[1] and "created user" not in outs[1]
    assert outs[0].count(pw) == 1  # printed once, and never in a log line
