#!/usr/bin/env python3
"""include_graph.py -- the folders of server/ and who includes whom.

Each folder under server/ is one part of the daemon (http, jobs, jobs/kinds,
inventory, ha, sched, placement, core); server/ itself holds main.c only,
which wires the parts together.  A part may include another part's headers
only if that does not close a circle: the graph of folders must be acyclic,
so the parts can be read (and tested) bottom-up.

    tools/include_graph.py          print the edges, exit 1 on a cycle
    tools/include_graph.py --dot    the graph in Graphviz dot
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INCLUDE = re.compile(r'^\s*#\s*include\s+"(server/[^"]+)"', re.M)


def edges():
    """{(from_folder, to_folder): [example file -> header]} between different folders."""
    out = {}
    for d, _, names in os.walk(os.path.join(ROOT, "server")):
        for n in sorted(names):
            if not n.endswith((".c", ".h")):
                continue
            path = os.path.join(d, n)
            rel = os.path.relpath(path, ROOT)
            with open(path, encoding="utf-8") as f:
                for target in INCLUDE.findall(f.read()):
                    a, b = os.path.dirname(rel), os.path.dirname(target)
                    if a != b:
                        out.setdefault((a, b), []).append("%s -> %s" % (rel, target))
    return out


def cycle(graph):
    """One cycle as a list of folders, or None."""
    nodes = sorted({n for e in graph for n in e})
    succ = {n: sorted(b for a, b in graph if a == n) for n in nodes}
    state = {}

    def visit(n, path):
        state[n] = 1
        for m in succ[n]:
            if state.get(m) == 1:
                return path[path.index(m):] + [m] if m in path else path + [m]
            if not state.get(m):
                c = visit(m, path + [m])
                if c:
                    return c
        state[n] = 2
        return None

    for n in nodes:
        if not state.get(n):
            c = visit(n, [n])
            if c:
                return c
    return None


def main():
    g = edges()
    if "--dot" in sys.argv:
        print("digraph server {")
        for a, b in sorted(g):
            print('  "%s" -> "%s";' % (a, b))
        print("}")
        return 0
    bad = [(a, b) for a, b in g if b == "server"]
    for a, b in sorted(g):
        print("%-22s -> %s" % (a, b))
    for a, b in bad:
        print("error: %s includes server/ itself (only main.c lives there): %s" % (a, g[(a, b)][0]))
    c = cycle(g)
    if c:
        print("error: include cycle between folders: " + " -> ".join(c))
        for a, b in zip(c, c[1:]):
            print("  %s" % g[(a, b)][0])
    return 1 if c or bad else 0


if __name__ == "__main__":
    sys.exit(main())
