"""Integration test harness: the real polyvisord on a temp data dir and a free
loopback port, driven over HTTP.  Every daemon a test starts is stopped by
its PID at teardown; nothing listens beyond 127.0.0.1."""
import json
import os
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
# the harness itself is tests/pvtest.py, shared with the browser tests and the
# benchmarks; the tests import these names from here
from pvtest import (ADMIN_PASSWORD, BUILD, ROOT, TERMINAL, Daemon, free_port,  # noqa: E402,F401
                    rss_kb, stop_process, wait_for)


@pytest.fixture
def tmpdir_path():
    with tempfile.TemporaryDirectory(prefix="pv-it-") as d:
        yield d


@pytest.fixture
def daemon(tmpdir_path):
    d = Daemon(os.path.join(tmpdir_path, "data"))
    os.makedirs(d.data_dir)
    d.start()
    yield d
    d.stop()


@pytest.fixture
def world(tmpdir_path):
    """Path of a fresh world file for the test adapter (created on first use)."""
    return os.path.join(tmpdir_path, "world.json")


@pytest.fixture
def lab(daemon, world):
    """A daemon with one test connection synced in."""
    daemon.conn_id = daemon.add_test_connection(world)
    return daemon


def read_world(path):
    with open(path) as f:
        return json.load(f)


def write_world(path, w):
    """Change the test hypervisor behind Polyvisor's back, as another client would."""
    w["generation"] = w.get("generation", 0) + 1
    tmp = path + ".edit"
    with open(tmp, "w") as f:
        json.dump(w, f)
    os.rename(tmp, path)
