#!/usr/bin/python3
"""errors_doc.py [--check] -- docs/errors.md from lib/errors.def, the one
table of error codes.  With --check, exit 1 (saying so) when docs/errors.md
is not what the table makes; tests/integration/test_errors_table.py runs that."""
import os
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
ROW = re.compile(r'^PV_ERROR\((\w+), (PV_E[A-Z]+), (\d+), "(.*)"\)$')
CLASS_WORDS = {
    "PV_EINVAL": "bad input", "PV_EAUTH": "credentials refused", "PV_EFORBIDDEN": "not allowed",
    "PV_ENOTFOUND": "not found", "PV_ECONFLICT": "state does not allow it",
    "PV_ECANCELLED": "cancelled", "PV_ETOOBIG": "too large",
    "PV_EUNSUPPORTED": "the backend cannot", "PV_EPEER": "the peer failed",
    "PV_EUNREACHABLE": "the peer does not answer", "PV_EINTERNAL": "our failure",
}


def rows():
    with open(os.path.join(ROOT, "lib", "errors.def")) as f:
        return [m.groups() for m in (ROW.match(l.strip()) for l in f) if m]


def render():
    out = ["# Error codes", "",
           "Every error Polyvisor answers is the HTTP status plus "
           "`{\"error\": {\"code\", \"message\", \"details\"}}`. These are all the codes, from "
           "`lib/errors.def` (this page is made from it by `tools/errors_doc.py`; a test keeps "
           "the two the same). A code is never renamed or removed; new ones are added.", "",
           "| code | HTTP | class | meaning |", "|---|---|---|---|"]
    for code, cls, status, meaning in sorted(rows(), key=lambda r: (int(r[2]), r[0])):
        out.append("| `%s` | %s | %s | %s |" % (code, status, CLASS_WORDS[cls], meaning.replace("|", "\\|")))
    return "\n".join(out) + "\n"


def main():
    path = os.path.join(ROOT, "docs", "errors.md")
    text = render()
    if "--check" in sys.argv:
        with open(path) as f:
            if f.read() != text:
                print("docs/errors.md is out of date: run tools/errors_doc.py", file=sys.stderr)
                return 1
        return 0
    with open(path, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
