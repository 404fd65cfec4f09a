"""The one error table (lib/errors.def) and the docs: docs/errors.md is made
from it and must be current, and every code docs/api.md's error section
names is a row of it."""
import os
import re
import subprocess

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def table_codes():
    with open(os.path.join(ROOT, "lib", "errors.def")) as f:
        return set(re.findall(r"^PV_ERROR\((\w+),", f.read(), re.M))


def test_errors_md_is_made_from_the_table():
    r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "errors_doc.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with open(os.path.join(ROOT, "docs", "errors.md")) as f:
        documented = set(re.findall(r"^\| `(\w+)` \|", f.read(), re.M))
    assert documented == table_codes()


def test_api_md_names_only_codes_of_the_table():
    with open(os.path.join(ROOT, "docs", "api.md")) as f:
        text = f.read()
    section = text[text.index("## Errors"):]
    section = section[:section.index("\n## ", 3)]
    named = set(re.findall(r"`([a-z][a-z0-9]*_[a-z0-9_]+)`", section))
    assert named, "docs/api.md's error section names no codes"
    assert named - table_codes() == set()
