"""Every page of the console checked by axe-core, Deque's accessibility
engine, in headless Chromium against the real polyvisord: no violation of
impact "serious" or "critical" (WCAG 2 A/AA and axe's best practices) on the
sign-in form, the pages with the lab's content on show, the inventory with
its branches open (an empty one among them), storage pools and networks
(lists, one of each, a host's), a VM with disks and a NIC, the New VM wizard
with a disk, a NIC and its ratings, and the migrate dialog.

axe-core is pinned in tests/browser/axe (package.json + package-lock.json)
and installed there with `npm ci` the first time; without npm (or with no
way to reach its registry) the test is skipped and says why.  Violations of
lower impact are printed, not failed."""
import json
import os
import shutil
import subprocess

import pytest

pytest.importorskip("selenium", reason="python3-selenium is not installed: apt-get install python3-selenium")

from pvbrowser import By, EC  # noqa: E402

AXE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "axe")
AXE_JS = os.path.join(AXE_DIR, "node_modules", "axe-core", "axe.min.js")
FAIL_ON = ("serious", "critical")


@pytest.fixture(scope="module")
def axe_source():
    """axe.min.js, installed from the lock file when it is not there yet."""
    if not os.path.exists(AXE_JS):
        npm = shutil.which("npm")
        if not npm:
            pytest.skip("npm is not installed, so axe-core cannot be installed into tests/browser/axe: "
                        "apt-get install npm (or make deps)")
        r = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0 or not os.path.exists(AXE_JS):
            pytest.skip("`npm ci` in tests/browser/axe failed (is the npm registry reachable?): " +
                        (r.stderr or r.stdout)[-600:])
    with open(AXE_JS, encoding="utf-8") as f:
        return f.read()


def run_axe(b, source, context="document"):
    """axe's violations on what the browser shows now, [{id, impact, help, nodes}]."""
    if not b.driver.execute_script("return !!window.axe"):
        b.driver.execute_script(source)
    b.driver.set_script_timeout(60)
    out = b.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(%s, {resultTypes: ["violations"]})
          .then((r) => done(JSON.stringify(r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({target: n.target.join(" "), html: n.html.slice(0, 160),
                                        why: n.failureSummary}))})))))
          .catch((e) => done(JSON.stringify({error: String(e)})));""" % context)
    found = json.loads(out)
    assert not isinstance(found, dict), found
    return found


def settle(b, wait_for=None):
    """The page has its heading, nothing says Loading…, and what the page is
    about (wait_for: a CSS selector) is on show."""
    b.wait(lambda d: b.css("#page h2").text and "Loading" not in b.css("#page").text)
    if wait_for:
        b.wait_visible(By.CSS_SELECTOR, wait_for)


def report(found):
    lines = []
    for page, violations in found:
        for v in violations:
            lines.append("%s: %s (%s) %s" % (page, v["id"], v["impact"], v["help"]))
            for n in v["nodes"][:5]:
                lines.append("    %s  %s\n      %s" % (n["target"], n["html"], (n["why"] or "").replace("\n", " ")))
    return "\n".join(lines)


def twisty(b, label):
    return b.driver.find_element(By.XPATH, "//li[span[@class='node-label' and .//text()='%s']]/button" % label)


@pytest.fixture
def proposed_plan(lab):
    """A rebalance plan waiting for review, and the job that made it (the
    schedule is removed again, so the other tests' schedule lists hold only
    their own; the plan stays)."""
    r = lab.http.post(lab.base + "/api/v1/schedules", json={
        "name": "a11y rebalance", "kind": "rebalance", "cron": "@daily",
        "params": {"threshold_pct": 40, "mode": "plan"}})
    assert r.status_code == 201, r.text
    sched = r.json()["id"]
    try:
        job = lab.wait_job(lab.http.post(lab.base + "/api/v1/schedules/%s/run" % sched).json()["id"])
        assert job["state"] == "succeeded", job
        yield job["result"]["plan_id"], job["id"]
    finally:
        lab.http.delete(lab.base + "/api/v1/schedules/" + sched)


@pytest.fixture
def kvm_vm_with_devices(lab):
    """A VM on the lab's KVM host with a disk and a NIC (deleted afterwards),
    or None without the agent."""
    if not lab.agent:
        yield None
        return
    host = [x for x in lab.get("/hosts?limit=100")["items"] if x["connection_id"] == lab.kvm_conn][0]
    job = lab.pv.run("POST", "/api/v1/vms", {
        "name": "a11y-devices", "vcpus": 1, "memory_mb": 128, "host_id": host["id"],
        "disks": [{"size_gb": 1, "pool_id": host["pool_ids"][0]}], "nics": [{"network_id": host["network_ids"][0]}]})
    vm_id = job["result"]["vm_id"]
    try:
        yield lab.get("/vms/" + vm_id)
    finally:
        r = lab.http.delete(lab.base + "/api/v1/vms/" + vm_id)
        if r.status_code == 202:
            lab.wait_job(r.json()["id"])


def test_every_page_has_no_serious_violation(axe_source, lab, proposed_plan, kvm_vm_with_devices, browser):
    b = browser
    plan_id, job_id = proposed_plan
    found = []

    def check(name, context="document"):
        violations = run_axe(b, axe_source, context)
        minor = [v for v in violations if v["impact"] not in FAIL_ON]
        if minor:
            print("axe, %s, not failed: %s" % (name, ", ".join("%s (%s)" % (v["id"], v["impact"]) for v in minor)))
        bad = [v for v in violations if v["impact"] in FAIL_ON]
        if bad:
            found.append((name, bad))

    b.open()
    b.wait_visible(By.ID, "login-user")
    check("sign-in")
    b.sign_in()

    vm = lab.vm("web-1")
    host = lab.get("/hosts/" + vm["host_id"])
    pages = [
        ("dashboard", ".cards .card"),
        ("vms", "table.list tbody tr"),
        ("vms/" + vm["id"], "dl.facts"),
        ("hosts", "table.list tbody tr"),
        ("hosts/" + host["id"], "dl.facts"),
        ("jobs", "table.list tbody tr"),
        ("jobs/" + job_id, "dl.facts"),
        ("schedules", "table.list tbody tr"),
        ("plans/" + plan_id, "#page table"),
        ("connections", "table.list tbody tr"),
        ("events", "table.list tbody tr"),
        ("storage", "table.list tbody tr"),
        ("networks", "table.list tbody tr"),
    ]
    devices_vm = kvm_vm_with_devices
    if devices_vm:
        pages += [
            ("vms/" + devices_vm["id"], ".devices table.list tbody tr"),
            ("hosts/" + devices_vm["host_id"], "table.list .bar"),
            ("storage/" + devices_vm["disks"][0]["pool_id"], "table.list tbody tr"),
            ("networks/" + devices_vm["nics"][0]["network_id"], "table.list tbody tr"),
        ]
    for page, wait_for in pages:
        b.go("#/" + page)
        settle(b, wait_for)
        check(page)

    # the inventory, with branches open: groups, a cluster, a host's VMs and a host with none
    b.go("#/inventory")
    b.wait_text(By.CSS_SELECTOR, ".tree", "Production")
    twisty(b, "Production").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "Rack A")
    twisty(b, "Rack A").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "esx-a1")
    twisty(b, "esx-a1").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "web-1")
    twisty(b, "Hosts outside any group").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "lab-s1")
    twisty(b, "lab-s1").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "(empty)")
    check("inventory")

    # the New VM wizard with every host's stars
    b.go("#/vms/new")
    settle(b, "input[name=name]")
    if devices_vm:
        b.wait(lambda d: b.css("button[data-action=add-disk]").is_enabled())
        b.css("button[data-action=add-disk]").click()
        b.css("button[data-action=add-nic]").click()
    b.button("Show placement ratings").click()
    b.wait_text(By.CSS_SELECTOR, ".wizard", "hosts rated")
    check("vms/new")

    # the migrate dialog over a VM's page
    b.go("#/vms/" + vm["id"])
    b.wait_text(By.CSS_SELECTOR, "#page h2", "web-1")
    b.css("button[data-action=migrate]").click()
    b.wait_text(By.CSS_SELECTOR, "dialog.modal", "hosts rated")
    for d in b.all("dialog.modal details"):
        d.find_element(By.TAG_NAME, "summary").click()
    check("migrate dialog", "document.querySelector('dialog.modal')")
    b.button("Cancel", b.css("dialog.modal")).click()
    b.wait(EC.invisibility_of_element_located((By.CSS_SELECTOR, "dialog.modal")))

    assert not found, "axe found violations of impact %s:\n%s" % (" or ".join(FAIL_ON), report(found))
