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


# What a client saw change on the wire when the table was closed (one
# class per code, one status map) and the transports became lib's.
CHANGES = [
    "## What changed on the wire when the table closed (2026-12-03)",
    "",
    "Before, about 154 codes were free strings and the class-to-status map existed three times. "
    "Where one code carried two classes, or a copy of the map lacked a class, clients saw a "
    "status the code did not mean. These are the answers that changed, and why:",
    "",
    "| case | before | now | why |",
    "|---|---|---|---|",
    "| `host_not_found` | 404 from the API, 400 when an adapter said it | 404 | one code, one "
    "class: a host that is not there is not found, whoever says so |",
    "| the other codes that carried two classes (`timeout`, `invalid_token` ...; 9 in all) | "
    "two statuses | the table's one | as above |",
    "| the agent's `forbidden` and `cancelled` | 500 | 403 and 409 | the agent's copy of the "
    "status map lacked those classes |",
    "| an agent's 403 or 413 through the kvm adapter | 502 (as a peer failure) | the agent's "
    "own code and its status | the adapter reads the agent's code, not its status |",
    "| a KVM agent that does not answer in time | `peer_unreachable` (503) | `timeout` (503) | "
    "one HTTP client session (lib/httpc) for every adapter, which names a timeout as the SOAP "
    "adapters always did |",
    "| a wrong method on an agent route | 404 `route_not_found` | 405 `method_not_allowed` with "
    "`Allow` | the agent routes with lib/router, as polyvisord does |",
    "| `POST /connections` of a type no loaded adapter serves | 422 `unsupported_by_backend` "
    "for kvm, vcenter, hyperv, test; 400 `invalid_value` for others | 400 `invalid_value` on "
    "`type` | the daemon knows vendors only from its adapters (`GET /api/v1/adapters`) |",
]

# What libmicrohttpd answers itself, before polyvisord or the agent sees a
# request, so that a client knows which answers have no JSON body.
TRANSPORT = [
    "## Answers that come from libmicrohttpd, not from us",
    "",
    "A few malformed requests are refused by libmicrohttpd (0.9.75, Debian 12's) while it parses "
    "the request line and headers, before the server's code is called. Those answers are "
    "libmicrohttpd's own short HTML page, not the JSON error body above: there is no option or "
    "callback in 0.9.75 that runs before that check (the URI log callback comes before the "
    "headers are parsed and may not answer; the request callback comes after the refusal). "
    "Clients should treat any `400` without `application/json` as `invalid_value` of the "
    "framing:",
    "",
    "| request | answer |",
    "|---|---|",
    "| `Content-Length` that is not a decimal byte count (`12abc`) | `400` with "
    "libmicrohttpd's HTML page (\"Request malformed\"; 0.9.75 writes its status line and "
    "headers twice), and the connection is closed |",
    "| a request line that does not parse (`GARBAGE`) | the connection is closed without an "
    "answer |",
    "",
    "A chunked body that grows over `max_body_bytes` is ours: the rest of the body is read and "
    "dropped, and `413 body_too_large` (JSON) is sent at its end (when the body ends within 8 MiB past the limit; a longer one is cut off by closing the connection); libmicrohttpd 0.9.75 takes no "
    "reply while a body is still arriving, so the answer cannot come sooner. A "
    "`Content-Length` over the limit is refused at once, before the body is read.",
]


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
    out += [""] + CHANGES + [""] + TRANSPORT
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
