"""The layout is the architecture: checks that need no daemon.

- server/'s folders include each other without a circle (tools/include_graph.py);
- only db/ speaks SQL, only hypervisor/ speaks libvirt, adapters never include
  server/ or db/ headers, and server/ holds no vendor's protocol library.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def sources(top):
    for d, _, names in os.walk(os.path.join(ROOT, top)):
        for n in names:
            if n.endswith((".c", ".h")):
                yield os.path.join(d, n)


def grep(top, pattern):
    rx = re.compile(pattern)
    hits = []
    for path in sources(top):
        with open(path, encoding="utf-8") as f:
            for no, line in enumerate(f, 1):
                if rx.search(line):
                    hits.append("%s:%d: %s" % (os.path.relpath(path, ROOT), no, line.strip()))
    return hits


def test_server_folders_have_no_include_cycle():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "include_graph.py")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    # main.c alone lives in server/ itself: it wires the parts together
    top = [n for n in os.listdir(os.path.join(ROOT, "server")) if n.endswith((".c", ".h"))]
    assert top == ["main.c"], top


def test_the_walls_hold():
    for top in ("server", "adapters", "hypervisor", "lib"):
        assert not grep(top, r"\bsqlite3_|<sqlite3\.h>"), top
    for top in ("server", "adapters", "lib"):
        assert not grep(top, r"<libvirt/"), top
    assert not grep("adapters", r'#\s*include\s+"(\.\./)*(server|db)/'), "adapters include the daemon"
    assert not grep("lib", r'#\s*include\s+"(\.\./)*(server|db|adapters/(kvm|vcenter|hyperv))'), \
        "lib/ depends on a program"
    assert not grep("server", r"<curl/|<libxml/"), "vendor protocols belong in adapters"



def test_no_vendor_names_in_the_daemon():
    """A fourth adapter touches no file in server/ or webui/: no connection
    type is spelled out there as a string."""
    hits = grep("server", r'"(kvm|vcenter|hyperv|test)"')
    assert not hits, "\n".join(hits)
    hits = []
    for d, _, names in os.walk(os.path.join(ROOT, "webui")):
        for n in names:
            if n.endswith((".js", ".html")):
                with open(os.path.join(d, n), encoding="utf-8") as f:
                    for no, line in enumerate(f, 1):
                        if re.search(r"""["'](kvm|vcenter|hyperv)["']""", line):
                            hits.append("%s:%d: %s" % (n, no, line.strip()))
    assert not hits, "the console names a vendor:\n" + "\n".join(hits)
