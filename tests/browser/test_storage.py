"""Storage pools and networks in the console, in headless Chromium against a
real polyvisord and a real polyvisor-agent on libvirt's test driver (the
lab's KVM host reaches the pools `default` and `fast-ssd`, 60 of its 100 GiB
used, and the networks `default` and `lab-vlan`, VLAN 42: pvbrowser's
STORAGE_XML): the Storage and Networks lists show what the API has, a host
shows what it reaches, and a VM made in the New VM wizard with two disks and
a NIC shows them on its page -- and the API has them.  A create the API
refuses shows its code and message in the wizard."""
import pytest

pytest.importorskip("selenium", reason="python3-selenium is not installed: apt-get install python3-selenium")
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from pvbrowser import By, requests  # noqa: E402


def q(expr):
    return requests.utils.quote(expr)


@pytest.fixture
def kvm(lab):
    """The lab's KVM host (the agent's), with the ids of its pools and networks by name."""
    if not lab.agent:
        pytest.skip("build/polyvisor-agent is not built")
    host = lab.get("/hosts?filter=" + q("connection_id eq '%s'" % lab.kvm_conn))["items"][0]
    pools = {p["name"]: p for p in lab.get("/storage-pools?filter=" + q("host_ids contains '%s'" % host["id"]))["items"]}
    nets = {n["name"]: n for n in lab.get("/networks?filter=" + q("host_ids contains '%s'" % host["id"]))["items"]}
    assert {"default", "fast-ssd"} <= set(pools) and {"default", "lab-vlan"} <= set(nets), (pools, nets)
    return {"host": host, "pools": pools, "nets": nets}


def column(b, n=0):
    """The text of the n-th cell of every row of the page's (first) list."""
    return [r.find_elements(By.TAG_NAME, "td")[n].text for r in b.all("#page table.list tbody tr")]


def row_of(b, name, scope="#page"):
    rows = [r for r in b.all(scope + " table.list tbody tr") if r.find_elements(By.TAG_NAME, "td")
            and r.find_elements(By.TAG_NAME, "td")[0].text == name]
    assert rows, "no row %s" % name
    return rows[0]


def names(items):
    return [x["name"] for x in items]


def size(mb):
    """A size as the console writes it (ui.js fmtMB)."""
    if mb >= 1024:
        return ("%.1f GiB" % (mb / 1024)) if mb % 1024 else "%d GiB" % (mb // 1024)
    return "%d MiB" % mb


def capacity(lab, pool_id):
    """A pool's "N free of M", with the free space the API says now (other
    tests of the session make VMs with disks)."""
    p = lab.get("/storage-pools/" + pool_id)
    return "%s free of %s" % (size(p["free_mb"]), size(p["capacity_mb"])), p


def test_storage_and_network_lists(lab, kvm, browser):
    b = browser
    b.sign_in()
    # reached from the navigation
    b.css("a[data-nav=storage]").click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "Storage")
    api = lab.get("/storage-pools?limit=50&sort=name")["items"]
    b.wait(lambda d: column(b) == names(api))
    ssd = row_of(b, "fast-ssd").text
    text, pool = capacity(lab, kvm["pools"]["fast-ssd"]["id"])
    assert pool["capacity_mb"] == 102400 and pool["free_mb"] <= 40960, pool   # 60 GiB of volumes in the XML
    assert text in ssd and "local" in ssd and "dir" in ssd and "kvm" in ssd, ssd
    assert kvm["host"]["name"] in ssd
    bar = row_of(b, "fast-ssd").find_element(By.CSS_SELECTOR, ".bar")
    used = round((pool["capacity_mb"] - pool["free_mb"]) * 100 / pool["capacity_mb"])
    assert bar.get_attribute("aria-label") == "Storage of fast-ssd %d %% used" % used
    # search, sort and the shared menu become the API's filter and sort
    b.css("input[name=q]").send_keys("ssd")
    b.wait(lambda d: column(b) == ["fast-ssd"])
    b.css("input[name=q]").send_keys(Keys.CONTROL + "a", Keys.BACKSPACE)   # fires input, as clear() does not
    b.wait(lambda d: len(column(b)) == len(api))
    Select(b.css("select[name=sort]")).select_by_value("free_mb")
    by_free = lab.get("/storage-pools?limit=50&sort=free_mb")["items"]
    b.wait(lambda d: column(b) == names(by_free))
    assert column(b)[0] == "fast-ssd" or by_free[0]["free_mb"] <= kvm["pools"]["fast-ssd"]["free_mb"]
    Select(b.css("select[name=shared]")).select_by_value("true")
    shared = lab.get("/storage-pools?limit=50&sort=free_mb&filter=" + q("shared eq true"))["items"]
    b.wait(lambda d: column(b) == names(shared) if shared else "No storage pool matches." in b.css("#page").text)
    Select(b.css("select[name=shared]")).select_by_value("")
    b.wait(lambda d: "fast-ssd" in column(b))
    b.screenshot("storage")
    # one pool: its facts and the hosts that reach it
    [a for a in b.all("#page table.list a") if a.text == "fast-ssd"][0].click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "fast-ssd")
    b.wait_text(By.CSS_SELECTOR, "#page table.list", kvm["host"]["name"])
    assert capacity(lab, kvm["pools"]["fast-ssd"]["id"])[0] in b.css("#page").text
    assert kvm["pools"]["fast-ssd"]["native_id"] in b.css("dl.facts").text

    b.css("a[data-nav=networks]").click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "Networks")
    # the agent also reports this machine's own bridges, which other work may add or
    # remove meanwhile: the list is compared with what the API says at that moment
    b.wait(lambda d: column(b) == names(lab.get("/networks?limit=50&sort=name")["items"]))
    vlan = row_of(b, "lab-vlan").find_elements(By.TAG_NAME, "td")
    assert [c.text for c in vlan[1:4]] == ["kvm", "network", "42"], [c.text for c in vlan]
    assert row_of(b, "default").find_elements(By.TAG_NAME, "td")[3].text == "none"
    b.css("input[name=q]").send_keys("lab-")
    b.wait(lambda d: column(b) == ["lab-vlan"])
    b.screenshot("networks")
    [a for a in b.all("#page table.list a") if a.text == "lab-vlan"][0].click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "lab-vlan")
    b.wait_text(By.CSS_SELECTOR, "#page table.list", kvm["host"]["name"])
    assert "42" in b.css("dl.facts").text


def test_host_lists_its_pools_and_networks(lab, kvm, browser):
    b = browser
    b.sign_in()
    host = kvm["host"]
    b.go("#/hosts/" + host["id"])
    b.wait_text(By.CSS_SELECTOR, "#page h2", host["name"])
    pools = b.driver.find_element(By.XPATH, "//section[h3='Storage pools']")
    nets = b.driver.find_element(By.XPATH, "//section[h3='Networks']")
    reached = names(lab.get("/storage-pools?sort=name&filter=" + q("host_ids contains '%s'" % host["id"]))["items"])
    assert len(reached) == len(lab.get("/hosts/" + host["id"])["pool_ids"])
    b.wait(lambda d: [r.find_element(By.TAG_NAME, "td").text
                      for r in pools.find_elements(By.CSS_SELECTOR, "tbody tr")] == reached)
    assert capacity(lab, kvm["pools"]["fast-ssd"]["id"])[0] in pools.text
    assert pools.find_elements(By.CSS_SELECTOR, ".bar[role=img]")
    # the agent also reports this machine's own bridges, which other work may add or remove:
    # compared with what the API says at that moment
    b.wait(lambda d: [r.find_element(By.TAG_NAME, "td").text for r in nets.find_elements(By.CSS_SELECTOR, "tbody tr")]
           == names(lab.get("/networks?sort=name&filter=" + q("host_ids contains '%s'" % host["id"]))["items"]))
    assert "lab-vlan" in nets.text and "default" in nets.text
    b.driver.execute_script("arguments[0].scrollIntoView()", pools)
    b.screenshot("host-storage")
    # a host of the test adapter reaches nothing, and says so
    other = lab.get("/hosts?filter=" + q("name eq 'esx-b1'"))["items"][0]
    b.go("#/hosts/" + other["id"])
    b.wait_text(By.CSS_SELECTOR, "#page", "This host reaches no storage pool.")
    b.wait_text(By.CSS_SELECTOR, "#page", "This host reaches no network.")


def pick(b, menu, value):
    Select(menu).select_by_value(value)


def options(menu):
    return sorted(o.get_attribute("value") for o in menu.find_elements(By.TAG_NAME, "option"))


def test_wizard_makes_a_vm_with_disks_and_a_nic(lab, kvm, browser):
    b = browser
    b.sign_in()
    pools, nets, host = kvm["pools"], kvm["nets"], kvm["host"]
    b.go("#/vms/new")
    b.wait_visible(By.CSS_SELECTOR, "input[name=name]").send_keys("store-1")
    mem = b.css("input[name=memory_mb]")
    mem.clear()
    mem.send_keys("256")
    # while placement chooses, every pool and network is offered
    b.wait(lambda d: b.css("button[data-action=add-disk]").is_enabled())
    assert "No disk" in b.css(".wizard").text and "No network" in b.css(".wizard").text
    b.css("button[data-action=add-disk]").click()
    b.css("button[data-action=add-disk]").click()
    b.css("button[data-action=add-nic]").click()
    disk_menus, sizes = b.all("select[name=disk_pool]"), b.all("input[name=disk_size_gb]")
    assert len(disk_menus) == 2 and len(sizes) == 2
    assert options(disk_menus[0]) == sorted(p["id"] for p in lab.get("/storage-pools?limit=100")["items"])
    pick(b, disk_menus[0], pools["fast-ssd"]["id"])
    sizes[0].clear()
    sizes[0].send_keys("50")          # more than fast-ssd's 40 GiB free (or less)
    pick(b, disk_menus[1], pools["default"]["id"])
    sizes[1].clear()
    sizes[1].send_keys("1")
    pick(b, b.css("select[name=nic_network]"), nets["lab-vlan"]["id"])
    # the ratings are asked with the devices: hosts that do not reach the pool are
    # refused, and so is the KVM host while its pool is too full
    b.button("Show placement ratings").click()
    b.wait_text(By.CSS_SELECTOR, ".wizard", "hosts rated")
    kvm_li = b.css(".ratings li[data-host-id='%s']" % host["id"])
    assert "ineligible" in kvm_li.get_attribute("class")
    assert "too little free space" in kvm_li.text, kvm_li.text
    b.wait(lambda d: any("does not reach the disk's storage pool" in li.text
                         for li in b.all(".ratings li.ineligible")))
    # a smaller disk: the ratings are asked again by themselves
    sizes = b.all("input[name=disk_size_gb]")
    sizes[0].clear()
    sizes[0].send_keys("2", Keys.TAB)
    b.wait(lambda d: "eligible" == b.css(".ratings li[data-host-id='%s']" % host["id"]).get_attribute("class"))
    assert "2 GiB on fast-ssd, 1 GiB on default, a NIC on lab-vlan" in b.css(".wizard").text
    # a host picked: only what it reaches is offered
    b.css(".ratings input[name=host][value='%s']" % host["id"]).click()
    b.wait_text(By.CSS_SELECTOR, ".wizard", "what the picked host reaches")
    reached = lab.get("/hosts/" + host["id"])
    b.wait(lambda d: options(b.css("select[name=disk_pool]")) == sorted(reached["pool_ids"]))
    assert options(b.css("select[name=nic_network]")) == sorted(reached["network_ids"])
    menus = b.all("select[name=disk_pool]")
    assert [m.get_attribute("value") for m in menus] == [pools["fast-ssd"]["id"], pools["default"]["id"]]
    b.driver.execute_script("document.querySelector('.wizard fieldset:nth-of-type(2)').scrollIntoView()")
    b.screenshot("new-vm-devices")
    b.button("Create VM").click()
    b.wait_text(By.CSS_SELECTOR, ".wizard", "Created store-1", 30)

    vm = lab.vm("store-1")
    assert vm["host_id"] == host["id"]
    assert [(d["pool_id"], d["size_gb"]) for d in vm["disks"]] == [
        (pools["fast-ssd"]["id"], 2), (pools["default"]["id"], 1)], vm["disks"]
    assert [n["network_id"] for n in vm["nics"]] == [nets["lab-vlan"]["id"]], vm["nics"]

    b.driver.find_element(By.LINK_TEXT, "store-1").click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "store-1")
    disks = b.driver.find_element(By.XPATH, "//section[h3='Disks']")
    nics = b.driver.find_element(By.XPATH, "//section[h3='NICs']")
    b.wait(lambda d: [c.text for c in disks.find_elements(By.CSS_SELECTOR, "tbody tr td:nth-child(2)")] ==
           ["fast-ssd", "default"])
    rows = [[c.text for c in r.find_elements(By.TAG_NAME, "td")] for r in disks.find_elements(By.CSS_SELECTOR, "tbody tr")]
    for row, disk in zip(rows, vm["disks"]):
        assert row[2] == "%d GiB" % disk["size_gb"] and row[3] == disk["bus"], (row, disk)
    b.wait(lambda d: nics.find_element(By.CSS_SELECTOR, "tbody tr td").text == "lab-vlan")
    nic = [c.text for c in nics.find_elements(By.CSS_SELECTOR, "tbody tr td")]
    # (the last column holds the NIC's changes: test_devices.py)
    assert nic == ["lab-vlan", vm["nics"][0]["mac"], vm["nics"][0]["model"], "Connect…\nRemove…"], nic
    # the pool's name leads to the pool
    disks.find_element(By.LINK_TEXT, "fast-ssd").click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "fast-ssd")
    b.driver.back()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "store-1")
    b.driver.execute_script("arguments[0].scrollIntoView()", b.driver.find_element(By.XPATH, "//section[h3='Disks']"))
    b.screenshot("vm-devices")


def test_wizard_shows_a_refused_create(lab, kvm, browser):
    b = browser
    b.allow_http_errors("/api/v1/vms ", "/api/v1/vms -", "status of 400")
    b.sign_in()
    b.go("#/vms/new")
    b.wait_visible(By.CSS_SELECTOR, "input[name=name]").send_keys("store-refused")
    b.wait(lambda d: b.css("button[data-action=add-disk]").is_enabled())
    b.css("button[data-action=add-disk]").click()
    pick(b, b.css("select[name=disk_pool]"), kvm["pools"]["default"]["id"])
    b.button("Show placement ratings").click()
    b.wait_text(By.CSS_SELECTOR, ".wizard", "hosts rated")
    b.css(".ratings input[name=host][value='%s']" % kvm["host"]["id"]).click()
    b.wait_text(By.CSS_SELECTOR, ".wizard", "what the picked host reaches")
    # as a page open since before the pool went away would have it
    b.driver.execute_script("""const m = document.querySelector('select[name=disk_pool]');
        m.append(new Option('gone', 'pool-gone-0000')); m.value = 'pool-gone-0000';""")
    body = {"name": "store-refused", "vcpus": 1, "memory_mb": 1024, "host_id": kvm["host"]["id"],
            "disks": [{"size_gb": 10, "pool_id": "pool-gone-0000"}]}
    b.button("Create VM").click()
    err = b.wait_visible(By.CSS_SELECTOR, ".wizard .error")
    # what the API says to the same request, code and message
    r = lab.http.post(lab.base + "/api/v1/vms", json=body)
    assert r.status_code == 400, r.text
    e = r.json()["error"]
    assert err.text == "%s (%s)" % (e["message"], e["code"]) and e["code"] == "unknown_pool", err.text
    assert not lab.get("/vms?filter=" + q("name eq 'store-refused'"))["items"]
    # another size: the ratings and the host picked from them are gone, every pool is offered again
    b.css("input[name=memory_mb]").send_keys("0", Keys.TAB)
    b.wait_text(By.CSS_SELECTOR, ".wizard", "Offered: every storage pool and network")
    assert not b.all(".ratings")
    b.wait(lambda d: options(b.css("select[name=disk_pool]")) == sorted(
        p["id"] for p in lab.get("/storage-pools?limit=100")["items"]))


def test_devices_fit_a_narrow_window(lab, kvm, make_browser):
    """At 390 px the wizard's device rows and a VM's disks and NICs stay inside the window."""
    b = make_browser(width=390, height=800)
    b.sign_in()
    b.go("#/vms/new")
    b.wait(lambda d: b.css("button[data-action=add-disk]").is_enabled())
    b.css("button[data-action=add-disk]").click()
    b.css("button[data-action=add-nic]").click()
    b.wait_visible(By.CSS_SELECTOR, "select[name=nic_network]")
    fits = "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    wide = ("return [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
            " > window.innerWidth + 1).slice(-5).map(e => e.tagName + '.' + e.className + ' '"
            " + Math.round(e.getBoundingClientRect().right) + ' ' + (e.name || e.textContent).slice(0, 60))")
    assert b.driver.execute_script(fits), "the wizard is wider than the window: %s" % (
        b.driver.execute_script(wide))
    job = lab.pv.run("POST", "/api/v1/vms", {
        "name": "store-narrow", "vcpus": 1, "memory_mb": 128, "host_id": kvm["host"]["id"],
        "disks": [{"size_gb": 1, "pool_id": kvm["pools"]["fast-ssd"]["id"]}],
        "nics": [{"network_id": kvm["nets"]["lab-vlan"]["id"]}]})
    vm_id = job["result"]["vm_id"]
    try:
        b.go("#/vms/" + vm_id)
        b.wait_visible(By.CSS_SELECTOR, ".devices table.list tbody tr")
        assert b.driver.execute_script(fits), "the VM's devices are wider than the window"
    finally:
        lab.pv.run("DELETE", "/api/v1/vms/" + vm_id)
