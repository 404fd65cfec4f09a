"""A VM's disks and NICs changed from its page, in headless Chromium against
a real polyvisord and the test adapter (its own world here, with two hosts,
their local `default` pools, a `shared` pool, networks, and a running
paravirtual VM with two disks and a NIC; no /dev/kvm needed): grow a disk
and see the new size on the page and in the API; a shrink the form lets
through (the disk grew meanwhile) refused with the API's code and message;
add a NIC, connect it to another network and remove it; move a disk to the
other pool with the copy's progress shown live.  axe-core finds nothing
serious on the page with each device dialog open."""
import json
import os
import shutil
import sys
import tempfile
import types

import pytest

pytest.importorskip("selenium", reason="python3-selenium is not installed: apt-get install python3-selenium")
from selenium.webdriver.support.ui import Select  # noqa: E402

from pvbrowser import ADMIN_PASSWORD, BUILD, By, Browser, Daemon, EC  # noqa: E402
from test_accessibility import FAIL_ON, axe_source, report, run_axe  # noqa: E402,F401 (axe_source: a fixture)

VM_ID = "44444444-0000-4000-8000-000000000001"
DEVICES_WORLD = {
    "generation": 1,
    "hosts": [{"id": "dv1", "name": "dev-host-1", "cpu_cores": 8, "cpu_mhz": 2400, "memory_mb": 32768},
              {"id": "dv2", "name": "dev-host-2", "cpu_cores": 8, "cpu_mhz": 2400, "memory_mb": 32768}],
    "pools": [
        {"id": "dv-local-1", "name": "default", "kind": "dir", "capacity_mb": 102400, "shared": False, "hosts": ["dv1"]},
        {"id": "dv-local-2", "name": "default", "kind": "dir", "capacity_mb": 102400, "shared": False, "hosts": ["dv2"]},
        {"id": "dv-shared", "name": "dev-shared", "kind": "netfs", "capacity_mb": 512000, "shared": True,
         "hosts": ["dv1", "dv2"]}],
    "networks": [
        {"id": "dv-net-a", "name": "dev-lan", "kind": "network", "vlan": None, "hosts": ["dv1", "dv2"]},
        {"id": "dv-net-b", "name": "dev-dmz", "kind": "network", "vlan": 20, "hosts": ["dv1", "dv2"]}],
    "vms": [{"id": VM_ID, "name": "dev-vm-1", "host": "dv1", "power_state": "running", "vcpus": 1,
             "memory_mb": 512, "paravirtual": True,
             "disks": [{"key": "vda", "pool_native_id": "dv-local-1", "size_gb": 10, "size_mb": 10240,
                        "bus": "virtio", "path": "[default] dev-vm-1-vda.qcow2"},
                       {"key": "vdb", "pool_native_id": "dv-local-1", "size_gb": 2, "size_mb": 2048,
                        "bus": "virtio", "path": "[default] dev-vm-1-vdb.qcow2"}],
             "nics": [{"key": "52:54:00:dd:00:01", "network_native_id": "dv-net-a", "mac": "52:54:00:dd:00:01",
                       "model": "virtio"}]}],
}


@pytest.fixture(scope="module")
def dev(lab):
    """The devices world's connection (a move takes 3 s there) and its VM."""
    path = os.path.join(lab.tmp, "devices-world.json")
    with open(path, "w") as f:
        json.dump(DEVICES_WORLD, f)
    lab.add_connection({"type": "test", "url": "test://" + path + "?delay_ms=3000"})
    return lab.vm("dev-vm-1")


def api_vm(lab, vm):
    return lab.get("/vms/" + vm["id"])


def rows_named(b, key):
    return [r for r in b.all(".devices table.list tbody tr")
            if r.find_elements(By.TAG_NAME, "td") and r.find_elements(By.TAG_NAME, "td")[0].text == key]


def disk_row(b, key):
    """The row of the disk named key (the first column)."""
    return b.wait(lambda d: rows_named(b, key))[0]


def open_vm(b, vm):
    b.go("#/vms/" + vm["id"])
    b.wait_text(By.CSS_SELECTOR, "#page h2", vm["name"])
    b.wait_visible(By.CSS_SELECTOR, ".devices table.list tbody tr")


def dialog(b):
    return b.wait_visible(By.CSS_SELECTOR, "dialog.modal")


def last_job(b):
    """The newest job panel under the buttons, once it has ended."""
    b.wait(lambda d: b.css(".vm-jobs .job-panel").get_attribute("data-state") in ("succeeded", "failed", "cancelled"),
           timeout=30)
    return b.css(".vm-jobs .job-panel")


def test_grow_disk_and_refused_shrink(lab, dev, browser):
    b = browser
    b.sign_in()
    open_vm(b, dev)
    vdb = [d for d in api_vm(lab, dev)["disks"] if d["key"] == "vdb"][0]
    assert "2 GiB" in disk_row(b, "vdb").text
    disk_row(b, "vdb").find_element(By.CSS_SELECTOR, "button[data-action=grow-disk]").click()
    dlg = dialog(b)
    size = dlg.find_element(By.NAME, "size_gb")
    assert size.get_attribute("min") == "3" and "at least 3 GiB" in dlg.text
    # the form will not take a shrink: the browser's own check stops it
    size.clear()
    size.send_keys("1")
    b.button("Grow disk", dlg).click()
    assert b.driver.execute_script("return arguments[0].validity.rangeUnderflow", size)
    assert dlg.is_displayed() and not b.all(".vm-jobs .job-panel")
    # grow to 6 GiB: the job shows live, then the page and the API have the size
    size.clear()
    size.send_keys("6")
    b.button("Grow disk", dlg).click()
    b.wait(EC.invisibility_of_element_located((By.CSS_SELECTOR, "dialog.modal")))
    panel = last_job(b)
    assert panel.get_attribute("data-state") == "succeeded", panel.text
    assert "vm.device" in panel.text and "grow its partition and file system" in panel.text, panel.text
    b.wait(lambda d: "6 GiB" in disk_row(b, "vdb").text)
    now = [d for d in api_vm(lab, dev)["disks"] if d["id"] == vdb["id"]][0]
    assert now["size_mb"] == 6144 and now["size_gb"] == 6, now
    # a shrink the form lets through: the disk grew behind the dialog's back
    disk_row(b, "vdb").find_element(By.CSS_SELECTOR, "button[data-action=grow-disk]").click()
    dlg = dialog(b)
    size = dlg.find_element(By.NAME, "size_gb")
    assert size.get_attribute("value") == "7"
    job = lab.pv.run("POST", "/api/v1/vms/%s/disks/%s/resize" % (dev["id"], vdb["id"]), {"size_gb": 8})
    assert job["state"] == "succeeded", job
    b.allow_http_errors("/resize")
    b.button("Grow disk", dlg).click()
    err = b.wait_visible(By.CSS_SELECTOR, "dialog.modal .error")
    assert "shrink_not_supported" in err.text and "only grows" in err.text, err.text
    b.button("Cancel", dlg).click()
    b.wait(EC.invisibility_of_element_located((By.CSS_SELECTOR, "dialog.modal")))
    b.wait(lambda d: "8 GiB" in disk_row(b, "vdb").text)


def test_add_connect_and_remove_nic(lab, dev, browser):
    b = browser
    b.sign_in()
    open_vm(b, dev)
    before = api_vm(lab, dev)["nics"]
    b.css("button[data-action=add-nic]").click()
    dlg = dialog(b)
    menu = dlg.find_element(By.NAME, "network_id")
    b.wait(lambda d: menu.is_enabled())
    texts = [o.text for o in Select(menu).options]
    assert any(t.startswith("dev-dmz") and "VLAN 20" in t for t in texts), texts
    Select(menu).select_by_visible_text([t for t in texts if t.startswith("dev-dmz")][0])
    b.button("Add NIC", dlg).click()
    panel = last_job(b)
    assert panel.get_attribute("data-state") == "succeeded", panel.text
    assert "running VM has the change now" in panel.text, panel.text
    b.wait(lambda d: len(api_vm(lab, dev)["nics"]) == len(before) + 1)
    new = [n for n in api_vm(lab, dev)["nics"] if n["id"] not in [x["id"] for x in before]][0]
    b.wait(lambda d: new["mac"] in b.css(".devices").text)
    row = [r for r in b.all(".devices table.list tbody tr") if new["mac"] in r.text][0]
    assert "dev-dmz" in row.text, row.text
    # connect it to the other network
    row.find_element(By.CSS_SELECTOR, "button[data-action=connect-nic]").click()
    dlg = dialog(b)
    menu = dlg.find_element(By.NAME, "network_id")
    b.wait(lambda d: menu.is_enabled())
    assert [o.text.split(" ")[0] for o in Select(menu).options] == ["dev-lan"]
    b.button("Connect", dlg).click()
    b.wait(lambda d: b.css(".vm-jobs .job-panel").get_attribute("data-state") == "succeeded"
           and "renew its address" in b.css(".vm-jobs .job-panel").text, timeout=30)
    nets = {n["id"]: n["name"] for n in lab.get("/networks?limit=100")["items"]}
    now = [n for n in api_vm(lab, dev)["nics"] if n["id"] == new["id"]][0]
    assert nets[now["network_id"]] == "dev-lan", now
    # and remove it, after the confirmation
    b.wait(lambda d: [r for r in b.all(".devices table.list tbody tr") if new["mac"] in r.text and "dev-lan" in r.text])
    row = [r for r in b.all(".devices table.list tbody tr") if new["mac"] in r.text][0]
    row.find_element(By.CSS_SELECTOR, "button[data-action=remove-nic]").click()
    b.button("Remove NIC", dialog(b)).click()
    b.wait(lambda d: new["mac"] not in b.css(".devices").text, timeout=30)
    assert [n["id"] for n in api_vm(lab, dev)["nics"]] == [x["id"] for x in before]


def test_move_disk_with_progress(lab, dev, browser):
    b = browser
    b.sign_in()
    open_vm(b, dev)
    vdb = [d for d in api_vm(lab, dev)["disks"] if d["key"] == "vdb"][0]
    pools = {p["id"]: p for p in lab.get("/storage-pools?limit=100")["items"]}
    assert pools[vdb["pool_id"]]["native_id"] == "dv-local-1"
    disk_row(b, "vdb").find_element(By.CSS_SELECTOR, "button[data-action=move-disk]").click()
    dlg = dialog(b)
    menu = dlg.find_element(By.NAME, "pool_id")
    b.wait(lambda d: menu.is_enabled())
    # offered: what dev-host-1 reaches, less the pool the disk is in
    assert [o.get_attribute("value") for o in Select(menu).options] == \
        [p["id"] for p in pools.values() if p["native_id"] == "dv-shared"]
    assert "copied while the VM runs" in dlg.text
    b.button("Move disk", dlg).click()
    # the copy shows its progress and phase while it runs
    b.wait(lambda d: b.all(".vm-jobs .job-panel progress") and
           0 < int(b.css(".vm-jobs .job-panel .steps progress").get_attribute("value")) < 100
           and "copying disk vdb" in b.css(".vm-jobs .job-panel").text, timeout=20)
    b.driver.execute_script("window.scrollTo(0, 0)")
    b.screenshot("vm-devices-move")
    panel = last_job(b)
    assert panel.get_attribute("data-state") == "succeeded", panel.text
    b.wait(lambda d: "dev-shared" in disk_row(b, "vdb").text)
    now = [d for d in api_vm(lab, dev)["disks"] if d["id"] == vdb["id"]][0]
    assert pools[now["pool_id"]]["native_id"] == "dv-shared", now
    # the boot disk of the running VM cannot go: the API's refusal on the page
    b.allow_http_errors("/disks/")
    disk_row(b, "vda").find_element(By.CSS_SELECTOR, "button[data-action=remove-disk]").click()
    b.button("Remove disk", dialog(b)).click()
    b.wait(lambda d: [e for e in b.all("#page p.error") if e.is_displayed() and "boot_disk_in_use" in e.text])


def test_add_disk_and_devices_accessible(lab, dev, axe_source, browser):
    b = browser
    b.sign_in()
    open_vm(b, dev)
    found = []

    def check(name):
        bad = [v for v in run_axe(b, axe_source) if v["impact"] in FAIL_ON]
        if bad:
            found.append((name, bad))

    check("vm page with devices")
    for action, row_key in (("add-disk", None), ("grow-disk", "vdb"), ("move-disk", "vdb"),
                            ("add-nic", None), ("connect-nic", "52:54:00:dd:00:01")):
        scope = b.driver if row_key is None else \
            [r for r in b.all(".devices table.list tbody tr") if row_key in r.text][0]
        scope.find_element(By.CSS_SELECTOR, "button[data-action=%s]" % action).click()
        dlg = dialog(b)
        b.wait(lambda d: not dlg.find_elements(By.CSS_SELECTOR, "select[disabled]"))
        # the dialog takes the focus, on a labelled control
        focused = b.driver.switch_to.active_element
        assert dlg.find_elements(By.CSS_SELECTOR, "label[for='%s']" % focused.get_attribute("id")), action
        check(action + " dialog")
        if action == "add-disk":
            Select(dlg.find_element(By.NAME, "pool_id")).select_by_index(0)
            size = dlg.find_element(By.NAME, "size_gb")
            size.clear()
            size.send_keys("3")
            b.screenshot("vm-devices-add-disk")
            b.button("Add disk", dlg).click()
            panel = last_job(b)
            assert panel.get_attribute("data-state") == "succeeded", panel.text
            b.wait(lambda d: any(x["size_mb"] == 3072 for x in api_vm(lab, dev)["disks"]))
            b.wait(lambda d: len(b.all(".devices table.list tbody tr")) == len(api_vm(lab, dev)["disks"]) +
                   len(api_vm(lab, dev)["nics"]))
        else:
            b.button("Cancel", dlg).click()
            b.wait(EC.invisibility_of_element_located((By.CSS_SELECTOR, "dialog.modal")))
    b.driver.execute_script("document.querySelector('.devices').scrollIntoView()")
    b.screenshot("vm-devices-actions")
    assert not found, "axe found violations of impact %s:\n%s" % (" or ".join(FAIL_ON), report(found))


def test_no_devices_capability_disables_the_changes(lab):
    """A VM of an adapter without 'devices' (the toy adapter, tests/adapters/toy,
    on a daemon of its own): the device buttons are there, disabled, and a line
    says why; the API refuses the same change up front."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
    from toy import toy_adapter_dir
    if not os.path.exists(os.path.join(BUILD, "test-adapters", "toy.so")):
        pytest.skip("build/test-adapters/toy.so is not built: make test-adapters")
    tmp = tempfile.mkdtemp(prefix="pv-browser-toy-")
    pv = Daemon(os.path.join(tmp, "data"), admin_password=ADMIN_PASSWORD,
                extra_args=["--adapter-dir", toy_adapter_dir(tmp)])
    os.makedirs(pv.data_dir)
    b = None
    try:
        pv.start()
        pv.run("POST", "/api/v1/connections", {"type": "toy", "url": "toy://browser"})
        host = pv.all_items("/api/v1/hosts")[0]
        job = pv.run("POST", "/api/v1/vms", {"name": "toy-vm", "vcpus": 1, "memory_mb": 128, "host_id": host["id"]})
        vm_id = job["result"]["vm_id"]
        r = pv.http.post(pv.base + "/api/v1/vms/%s/disks" % vm_id, json={"size_gb": 1})
        assert r.status_code == 422 and r.json()["error"]["code"] == "unsupported_by_backend", r.text
        b = Browser(types.SimpleNamespace(base=pv.base))
        b.sign_in()
        b.go("#/vms/" + vm_id)
        b.wait_text(By.CSS_SELECTOR, "#page h2", "toy-vm")
        why = b.wait_visible(By.ID, "devices-why-not")
        assert "no 'devices' capability" in why.text, why.text
        for action in ("add-disk", "add-nic"):
            button = b.css("button[data-action=%s]" % action)
            assert not button.is_enabled() and button.get_attribute("aria-describedby") == "devices-why-not"
        assert not b.console_errors()
    finally:
        if b:
            b.quit()
        pv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
