"""The OpenAPI document is served, is well-formed, and every operation it
describes is answered by the server (no route_not_found, no
method_not_allowed); list answers carry their schemas' required fields."""
import json
import os
import re
import shutil
import subprocess

import pytest
import requests

from conftest import BUILD, ROOT


def test_document_served(daemon):
    r = requests.get(daemon.base + "/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    assert "/api/v1/vms" in doc["paths"]


def test_every_operation_is_routed(lab):
    doc = lab.ok("GET", "/api/v1/openapi.json")
    n = 0
    for path, item in doc["paths"].items():
        for method in item:
            url = re.sub(r"\{[^}]+\}", "no-such-id", path)
            if path == "/api/v1/events/stream":
                continue  # a stream; covered by test_sse
            if path == "/api/v1/auth/logout":
                continue  # would revoke the session's token
            r = lab.req(method.upper(), url, json={})
            n += 1
            if r.status_code in (404, 405):
                code = r.json()["error"]["code"]
                assert code not in ("route_not_found", "method_not_allowed"), (method, path)
    assert n > 35


def test_lists_match_required_fields(lab):
    doc = lab.ok("GET", "/api/v1/openapi.json")
    schemas = doc["components"]["schemas"]
    for coll, schema in [("vms", "Vm"), ("hosts", "Host"), ("connections", "Connection"),
                         ("jobs", "Job")]:
        page = lab.ok("GET", "/api/v1/" + coll)
        assert set(page) == {"items", "next_cursor"}
        assert page["items"], coll
        for item in page["items"]:
            missing = set(schemas[schema].get("required", [])) - set(item)
            assert not missing, (coll, missing)
            for k, v in item.items():
                assert k in schemas[schema]["properties"], (coll, k)


# -- operationIds and error responses (issue 17): kept complete ---------------

DOC = os.path.join(ROOT, "server", "http", "openapi.json")
METHODS = ("get", "post", "put", "patch", "delete")


def route_flags():
    """METHOD path -> the route's flags (P public, A admin, 0 signed in), from routes.c."""
    src = open(os.path.join(ROOT, "server", "http", "routes.c")).read()
    out = {}
    for m, v, path, flags in re.findall(r'\{"(\w+)", (V )?"([^"]*)", pv_api_\w+, (\w+)\}', src):
        out[(m.lower(), ("/api/v1" if v else "") + path)] = flags
    return out


def operations(doc):
    for path, item in doc["paths"].items():
        for m, op in item.items():
            if m in METHODS:
                yield path, m, op


def test_every_operation_has_a_unique_operation_id():
    doc = json.load(open(DOC))
    ids = [op.get("operationId") for _, _, op in operations(doc)]
    assert all(ids), [(p, m) for p, m, op in operations(doc) if not op.get("operationId")]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"[a-z][A-Za-z0-9]*", i) for i in ids)


def test_every_operation_lists_its_errors():
    """400 where a body or query is read, 401 unless public, 403 when
    admin-only, 404 where the path names an object; and every route is there."""
    doc = json.load(open(DOC))
    flags = route_flags()
    seen = set()
    for path, m, op in operations(doc):
        f = flags[(m, path)]
        seen.add((m, path))
        resp = op["responses"]
        want = set()
        if "requestBody" in op or any(p.get("in") == "query" or "/parameters/" in p.get("$ref", "")
                                      for p in op.get("parameters", [])):
            want.add("400")
        if f != "P":
            want.add("401")
        if f == "A":
            want.add("403")
        if "{" in path:
            want.add("404")
        assert want <= set(resp), (m, path, sorted(want - set(resp)))
        for code in want:
            ref = resp[code].get("$ref", "")
            body = doc["components"]["responses"][ref.rsplit("/", 1)[1]] if ref else resp[code]
            assert body["content"]["application/json"]["schema"]["$ref"] == "#/components/schemas/Error"
    assert seen == set(flags), sorted(set(flags) - seen)


def redocly():
    """The redocly CLI of @redocly/cli 1.34.x: $REDOCLY, or installed with npm
    into BUILD/node (1.34.5: the newest 1.34.x needs a package the registry
    here lacks, @redocly/respect-core@1.34.21)."""
    if os.environ.get("REDOCLY"):
        return os.environ["REDOCLY"]
    prefix = os.path.join(BUILD, "node")
    exe = os.path.join(prefix, "node_modules", ".bin", "redocly")
    if os.path.exists(exe):
        return exe
    if not shutil.which("npm"):
        pytest.skip("npm is not installed: cannot install @redocly/cli to lint openapi.json")
    os.makedirs(prefix, exist_ok=True)
    r = subprocess.run(["npm", "install", "--prefix", prefix, "--no-audit", "--no-fund",
                        "@redocly/cli@1.34.5"], capture_output=True, text=True, timeout=600)
    if r.returncode or not os.path.exists(exe):
        pytest.skip("npm could not install @redocly/cli@1.34.5: " + r.stderr[-300:])
    return exe


def test_redocly_lints_without_errors():
    exe = redocly()
    r = subprocess.run([exe, "lint", "--format", "stylish", DOC], capture_output=True, text=True,
                       timeout=300)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
