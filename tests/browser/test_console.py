"""The web console as a person uses it, in headless Chromium against a real
polyvisord: sign in, the inventory, live job progress, migrate from the
ratings, errors shown where the action was taken, sign out, keyboard use
and a narrow window.  Screenshots of the main pages go to docs/screenshots/."""
import time

import pytest

pytest.importorskip("selenium", reason="python3-selenium is not installed: apt-get install python3-selenium")
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from pvbrowser import ADMIN_PASSWORD, By, EC, requests  # noqa: E402


def no_reload_marker(b):
    b.driver.execute_script("window.__pvNoReload = 42")


def assert_not_reloaded(b):
    assert b.driver.execute_script("return window.__pvNoReload") == 42, "the page was reloaded"


def open_vm(b, lab, name):
    vm = lab.vm(name)
    b.go("#/vms/" + vm["id"])
    b.wait_text(By.CSS_SELECTOR, "#page h2", name)
    return vm


def open_host(b, name):
    """The host's page, reached from the host list as a person does."""
    b.go("#/hosts")
    b.wait_text(By.CSS_SELECTOR, "table.list", name)
    [a for a in b.all("table.list a") if a.text == name][0].click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", name)


def adapters(lab):
    """The adapters the daemon has loaded, by name (GET /api/v1/adapters)."""
    return {a["name"]: a for a in lab.get("/adapters")["items"]}


def vendor_title(lab, name):
    """What the console calls a vendor: the adapter's title, else its name."""
    a = adapters(lab)[name]
    return a.get("title") or a["name"]


def choose(b, select_name, value):
    """Pick an option of a <select> by its value (vendor menus list titles, which the server names)."""
    Select(b.css("select[name=%s]" % select_name)).select_by_value(value)


def shown_buttons(b):
    return [x.text for x in b.all("#page button") if x.is_displayed()]


def twisty(b, label):
    """The open/close button of the inventory tree node with this label."""
    return b.driver.find_element(By.XPATH, "//li[span[@class='node-label' and .//text()='%s']]/button" % label)


def test_sign_in_and_dashboard(lab, browser):
    b = browser
    b.open()
    assert b.css("#login").is_displayed() and not b.css("#nav").is_displayed()
    b.sign_in()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "Dashboard")
    b.wait_text(By.CSS_SELECTOR, ".cards", "Virtual machines")
    b.wait_text(By.CSS_SELECTOR, "#page", "By vendor")
    # the vendors by the titles the server gives them
    b.wait_text(By.CSS_SELECTOR, "#page table", vendor_title(lab, "test"))
    if lab.agent:
        b.wait_text(By.CSS_SELECTOR, "#page table", vendor_title(lab, "kvm"))
    b.wait_text(By.CSS_SELECTOR, "#page", "free of")
    assert "admin" in b.css("#whoami").text
    # nothing secret is kept by the page
    assert b.driver.execute_script("return JSON.stringify(localStorage) + JSON.stringify(sessionStorage)") \
        .find("token") < 0
    assert "pv_session" not in b.driver.execute_script("return document.cookie")
    time.sleep(0.5)
    b.screenshot("dashboard")
    # a count leads to the list it counts, filtered
    b.css("a[href='#/vms?power_state=running']").click()
    b.wait_text(By.CSS_SELECTOR, "#page", "Filter: power_state eq 'running'")
    assert b.css("select[name=power_state]").get_attribute("value") == "running"
    b.wait(lambda d: b.all("table.list tbody tr") and all(
        "running" in r.text for r in b.all("table.list tbody tr")))


def test_inventory_tree_and_search(lab, browser):
    b = browser
    b.sign_in()
    b.go("#/inventory")
    b.wait_text(By.CSS_SELECTOR, ".tree", "Production")
    twisty(b, "Production").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "Rack A")
    twisty(b, "Hosts outside any group").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "Rack B")
    twisty(b, "Rack A").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "esx-a1")
    twisty(b, "esx-a1").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "web-1")
    if lab.agent:
        # the real agent's host, vendor kvm, under no cluster
        b.wait_text(By.CSS_SELECTOR, ".tree", "host · kvm")
        b.driver.find_element(By.XPATH, "//li[span[@class='kind' and .='host · kvm']]/button").click()
        b.wait_text(By.CSS_SELECTOR, ".tree", "seed-running")
    tree = b.css(".tree").text
    assert "Rack B" in tree and "lab-s1" in tree and "maintenance" in tree
    b.screenshot("inventory")
    # search: the API's filter grammar, server side
    box = b.css("input[name=q]")
    box.send_keys("web")
    b.wait_text(By.CSS_SELECTOR, "#page section table", "web-2")
    rows = [r.text for r in b.all("#page section table tbody tr")]
    assert len(rows) == 2 and all("web-" in r for r in rows), rows


def test_inventory_tree_states_are_live(lab, browser):
    """A VM on show in the tree changes state elsewhere (here through the
    API): its badge follows over the live stream, without a reload."""
    b = browser
    b.sign_in()
    b.go("#/inventory")
    b.wait_text(By.CSS_SELECTOR, ".tree", "Hosts outside any group")
    twisty(b, "Hosts outside any group").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "zz-bulk-host")
    twisty(b, "zz-bulk-host").click()
    b.wait_text(By.CSS_SELECTOR, ".tree", "zz-bulk-005")
    node = "//li[a[.='zz-bulk-005']]/span[contains(@class, 'badge')]"
    assert b.driver.find_element(By.XPATH, node).text == "stopped"
    no_reload_marker(b)
    vm = lab.vm("zz-bulk-005")
    try:
        lab.wait_job(lab.http.post(lab.base + "/api/v1/vms/%s/start" % vm["id"]).json()["id"])
        b.wait(lambda d: d.find_element(By.XPATH, node).text == "running", 15)
        assert_not_reloaded(b)
    finally:
        lab.wait_job(lab.http.post(lab.base + "/api/v1/vms/%s/poweroff" % vm["id"]).json()["id"])


def test_vm_list_pages_server_side(lab, browser):
    b = browser
    b.sign_in()
    b.go("#/vms")
    b.wait_text(By.CSS_SELECTOR, "table.list", "web-1")
    b.css("input[name=q]").send_keys("zz-bulk")
    b.wait_text(By.CSS_SELECTOR, "#page", "Filter: name contains 'zz-bulk'")
    b.wait_text(By.CSS_SELECTOR, ".pager", "Showing 50 (more available)")
    assert len(b.all("table.list tbody tr")) == 50
    b.button("Load more").click()
    b.wait_text(By.CSS_SELECTOR, ".pager", "Showing 100 (more available)")
    b.button("Load more").click()
    b.wait_text(By.CSS_SELECTOR, ".pager", "Showing 120")
    names = [r.find_element(By.TAG_NAME, "a").text for r in b.all("table.list tbody tr")]
    assert names == ["zz-bulk-%03d" % i for i in range(120)]     # no page repeated or skipped
    assert not b.css(".pager button").is_displayed()
    # the grammar itself, typed by the user
    b.css("input[name=q]").clear()
    b.css("input[name=filter]").send_keys("memory_mb ge 4096 and power_state eq 'running'", Keys.ENTER)
    b.wait_text(By.CSS_SELECTOR, "#page", "Filter: memory_mb ge 4096")
    time.sleep(0.5)   # the cleared search box's own (debounced) reload
    b.wait(lambda d: b.css(".pager").text.startswith("Showing") and "zz-bulk" not in b.css("table.list").text)
    rows = [r.text for r in b.all("table.list tbody tr")]
    assert rows and all("running" in r for r in rows), rows


def test_start_vm_progress_live(lab, browser):
    b = browser
    b.sign_in()
    vm = open_vm(b, lab, "app-1")
    no_reload_marker(b)
    b.css("button[data-action=start]").click()
    panel = b.wait_visible(By.CSS_SELECTOR, ".job-panel")
    seen = set()
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            seen.add(int(b.css(".job-panel progress").get_attribute("value")))
            if b.css(".job-panel").get_attribute("data-state") == "succeeded":
                break
        except Exception:  # redrawn between find and read
            pass
        time.sleep(0.05)
    assert b.css(".job-panel").get_attribute("data-state") == "succeeded"
    seen.add(int(b.css(".job-panel progress").get_attribute("value")))
    assert 100 in seen and any(0 < p < 100 for p in seen), seen
    # the page shows the VM's new state, still without a reload
    b.wait_text(By.CSS_SELECTOR, "#page h2", "running")
    assert_not_reloaded(b)
    assert lab.get("/vms/" + vm["id"])["power_state"] == "running"
    assert panel.is_displayed()
    time.sleep(0.3)   # let the live vm message (only the changed fields) arrive
    facts = b.css("dl.facts").text
    assert "undefined" not in facts and "1 GiB" in facts, facts
    b.screenshot("vm")
    # Polyvisor's own settings of the VM answer at once (PATCH)
    b.css("select[name=ha]").send_keys("high")
    b.css("input[name=tags]").send_keys("web, prod")
    b.button("Save settings").click()
    b.wait_text(By.CSS_SELECTOR, "dl.facts", "web, prod")
    got = lab.get("/vms/" + vm["id"])
    assert got["ha"] == "high" and got["tags"] == ["web", "prod"]


def test_migrate_from_ratings(lab, browser):
    b = browser
    b.sign_in()
    vm = open_vm(b, lab, "mig-1")
    b.css("button[data-action=migrate]").click()
    dlg = b.wait_visible(By.CSS_SELECTOR, "dialog.modal")
    b.wait_text(By.CSS_SELECTOR, "dialog.modal", "hosts rated")
    # every host is rated with stars; the own host and the host in maintenance are refused, in words
    own = b.css("dialog li[data-host-id='%s']" % vm["host_id"])
    assert "0 of 5 stars" in own.find_element(By.CSS_SELECTOR, ".stars").get_attribute("aria-label")
    own.find_element(By.TAG_NAME, "summary").click()
    assert "already runs on this host" in own.text
    maint = [li for li in b.all("dialog li.ineligible") if "lab-s1" in li.text][0]
    maint.find_element(By.TAG_NAME, "summary").click()
    assert "maintenance" in maint.text
    target = [li for li in b.all("dialog li.eligible") if "esx-b1" in li.text][0]
    target.find_element(By.TAG_NAME, "summary").click()
    assert "Memory: needs 1 GiB" in target.text and "weight" in target.text
    stars = target.find_element(By.CSS_SELECTOR, ".stars").get_attribute("aria-label")
    assert float(stars.split()[0]) > 0
    target.find_element(By.CSS_SELECTOR, "input[type=radio]").click()
    assert b.css("dialog input[name=mode][value=live]").is_selected()
    b.screenshot("vm-migrate")
    b.button("Migrate", dlg).click()
    b.wait(EC.invisibility_of_element_located((By.CSS_SELECTOR, "dialog.modal")))
    b.wait(lambda d: b.css(".job-panel").get_attribute("data-state") == "succeeded", 20)
    assert lab.get("/vms/" + vm["id"])["host_id"] != vm["host_id"]
    b.wait_text(By.CSS_SELECTOR, "dl.facts", "esx-b1")
    # the job shows its placement decision in words
    b.css(".job-panel a").click()
    b.wait_text(By.CSS_SELECTOR, "#page", "Placement decision")
    assert "Chosen host" in b.css("#page").text and "esx-b1" in b.css(".decision").text
    assert "Hosts rated" in b.css(".decision").text
    b.driver.execute_script("document.querySelector('.decision').scrollIntoView()")
    b.screenshot("job-placement")


def test_jobs_live_list_detail_cancel(lab, browser):
    b = browser
    b.sign_in()
    b.go("#/jobs")
    b.wait_text(By.CSS_SELECTOR, "#page h2", "Jobs")
    b.wait_visible(By.CSS_SELECTOR, "table.list tbody tr")
    no_reload_marker(b)
    vm = lab.vm("web-2")
    r = lab.http.post(lab.base + "/api/v1/vms/%s/reboot" % vm["id"])
    job = r.json()["id"]
    row = "tr[data-key='%s']" % job
    b.wait_visible(By.CSS_SELECTOR, row)
    b.wait(lambda d: b.css(row + " .badge").text == "succeeded", 20)
    assert b.css(row + " progress").get_attribute("value") == "100"
    assert_not_reloaded(b)
    # a slow job (20 s): seen moving in the list, then cancelled from its page
    r = lab.http.post(lab.base + "/api/v1/vms/%s/reboot" % lab.vm("slow-1")["id"])
    job = r.json()["id"]
    row = "tr[data-key='%s']" % job
    b.wait(lambda d: b.all(row) and 0 < int(b.css(row + " progress").get_attribute("value")) < 100, 20)
    b.screenshot("jobs")
    b.wait(lambda d: b.css(row + " a").click() or True)
    b.wait_text(By.CSS_SELECTOR, "#page", "Steps")
    b.screenshot("job-detail")
    b.css("button[data-action=cancel]").click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "cancelled", 20)
    assert not b.css("button[data-action=cancel]").is_enabled()
    assert lab.wait_job(job)["state"] == "cancelled"
    # restart it, then cancel it again
    b.css("button[data-action=restart]").click()
    b.wait(lambda d: b.css("#page h2 .badge").text in ("queued", "running"))
    b.wait(lambda d: b.css("button[data-action=cancel]").is_enabled())
    b.css("button[data-action=cancel]").click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "cancelled", 20)
    assert lab.wait_job(job)["state"] == "cancelled"


def test_wizard_ratings_then_create_on_chosen_host(lab, browser):
    b = browser
    b.sign_in()
    b.go("#/vms/new")
    b.wait_visible(By.CSS_SELECTOR, "input[name=name]").send_keys("new-web")
    mem = b.css("input[name=memory_mb]")
    mem.clear()
    mem.send_keys("512")
    choose(b, "vendor", "test")
    b.button("Show placement ratings").click()
    b.wait_text(By.CSS_SELECTOR, ".wizard", "hosts rated")
    assert b.css("input[name=host][value='']").is_selected()  # placement chooses by default
    a2 = [li for li in b.all(".ratings li.eligible") if "esx-a2" in li.text][0]
    if lab.agent:   # the KVM host is rated too, and refused for its hypervisor type
        refused = [li.text for li in b.all(".ratings li.ineligible") if "does not match" in li.text]
        assert len(refused) == 1 and "kvm" in refused[0], refused
    a2.find_element(By.CSS_SELECTOR, "input").click()
    b.driver.execute_script("document.querySelector('.wizard fieldset:nth-of-type(3)').scrollIntoView()")
    b.screenshot("new-vm-wizard")
    b.button("Create VM").click()
    b.wait_text(By.CSS_SELECTOR, ".wizard", "Created new-web", 20)
    vm = lab.vm("new-web")
    assert vm["memory_mb"] == 512
    assert lab.get("/hosts/" + vm["host_id"])["name"] == "esx-a2"


def test_failing_action_shows_api_error(lab, browser):
    b = browser
    b.allow_http_errors("/api/v1/vms ", "/api/v1/vms -", "status of 400")
    b.sign_in()
    b.go("#/vms/new")
    b.wait_visible(By.CSS_SELECTOR, "input[name=name]").send_keys("too-small")
    mem = b.css("input[name=memory_mb]")
    mem.clear()
    mem.send_keys("8")
    b.button("Create VM").click()
    err = b.wait_visible(By.CSS_SELECTOR, ".wizard .error")
    # the API's own message, where the action was taken
    assert "'memory_mb' must be from 16" in err.text and "invalid_value" in err.text
    # a job the hypervisor refuses shows its error in the VM page's job panel
    # (the console disables Reboot for a saved VM; enable it as a stale page would have it)
    open_vm(b, lab, "batch-1")
    b.driver.execute_script("document.querySelector('button[data-action=reboot]').disabled = false")
    b.css("button[data-action=reboot]").click()
    b.wait(lambda d: b.css(".job-panel").get_attribute("data-state") == "failed", 20)
    assert "not_running" in b.css(".job-panel .error").text


def test_schedules_cron_helper(lab, browser):
    b = browser
    b.allow_http_errors("schedules/preview", "status of 400")
    b.sign_in()
    b.go("#/schedules")
    b.wait_text(By.CSS_SELECTOR, ".cron-preview", "Next runs")
    b.css("input[name=name]").send_keys("nightly balance")
    cron = b.css("input[name=cron]")
    cron.clear()
    cron.send_keys("0 3 * * 1-5")
    b.wait(lambda d: len(b.all(".next-runs li")) == 5 and "03:00:00" in b.css(".next-runs").text)
    cron.send_keys(" 9")
    b.wait_text(By.CSS_SELECTOR, ".cron-preview .error", "expected 5 fields")
    cron.send_keys(Keys.BACKSPACE, Keys.BACKSPACE)
    b.wait(lambda d: len(b.all(".next-runs li")) == 5)
    tz = b.css("input[name=timezone]")
    tz.clear()
    tz.send_keys("UTC")
    b.button("Create schedule").click()
    b.wait_text(By.CSS_SELECTOR, "table.list", "nightly balance")
    b.wait_text(By.CSS_SELECTOR, "table.list", "enabled")
    b.button("Disable").click()
    b.wait_text(By.CSS_SELECTOR, "table.list", "disabled")
    b.button("Enable").click()
    b.wait_text(By.CSS_SELECTOR, "table.list", "enabled")
    b.button("Run now").click()
    b.wait(lambda d: b.css(".job-panel").get_attribute("data-state") in ("succeeded", "failed"), 20)
    assert "placement.rebalance" in b.css(".job-panel").text
    b.driver.execute_script("window.scrollTo(0, 0)")
    b.screenshot("schedules")


def test_connections_list_and_add_error(lab, browser):
    b = browser
    b.allow_http_errors("/api/v1/connections", "status of 400")
    b.sign_in()
    b.go("#/connections")
    b.wait_text(By.CSS_SELECTOR, "table.list", "connected")
    if lab.agent:
        assert "kvm" in b.css("table.list").text
    # the types are the server's adapters
    types = [o.get_attribute("value") for o in b.all("select[name=type] option")]
    assert sorted(types) == sorted(adapters(lab)), types
    choose(b, "type", "test")
    b.css("input[name=url]").send_keys("test://relative/world.json")
    b.button("Add connection").click()
    err = b.wait(lambda d: [e for e in b.all("form .error, .job-panel .error") if e.is_displayed()])
    assert "invalid" in err[0].text
    b.screenshot("connections")


def test_host_page_and_events(lab, browser):
    b = browser
    b.sign_in()
    open_host(b, "esx-b1")
    b.wait_text(By.CSS_SELECTOR, "#page", "cache-1")
    assert "Rack B" in b.css("dl.facts").text
    b.css("input[name=tags]").send_keys("ssd")
    b.button("Save").click()
    b.wait_text(By.CSS_SELECTOR, "dl.facts", "ssd")
    b.screenshot("host")
    b.go("#/events")
    b.wait_visible(By.CSS_SELECTOR, "table.list tbody tr")
    b.css("select[name=severity]").send_keys("Audit")
    b.wait(lambda d: b.all("table.list tbody tr") and all(
        "audit" in r.text for r in b.all("table.list tbody tr")))
    b.screenshot("events")


def test_host_maintenance_and_usage_chart(lab, browser):
    b = browser
    b.sign_in()
    open_host(b, "esx-b1")
    b.wait_text(By.CSS_SELECTOR, "#page", "Usage over time")
    # a chart once the sampler has a point (every second here), else the empty message
    b.wait(lambda d: b.all("svg.chart polyline") or "No samples" in b.css("#page").text)
    b.css("select[name=evacuate]").send_keys("Move nothing")
    b.button("Enter maintenance").click()
    b.wait(lambda d: b.all(".job-panel[data-state=succeeded]"))
    b.wait_text(By.CSS_SELECTOR, "#page h2", "maintenance")
    # in maintenance now: only the way out is offered
    b.wait(lambda d: "Enter maintenance" not in shown_buttons(b))
    b.screenshot("host-maintenance")
    b.button("Exit maintenance").click()
    b.wait(lambda d: len(b.all(".job-panel[data-state=succeeded]")) >= 2)
    b.wait_text(By.CSS_SELECTOR, "#page h2", "connected")
    b.wait(lambda d: "Exit maintenance" not in shown_buttons(b))
    assert "Enter maintenance" in shown_buttons(b)


def test_maintenance_offers_only_what_applies(lab, browser):
    """A connected host offers to enter maintenance, not to leave it; a host
    in maintenance (lab-s1, so in its world) offers to leave it, not to enter."""
    b = browser
    b.sign_in()
    open_host(b, "esx-a2")
    b.wait_text(By.CSS_SELECTOR, "#page", "Maintenance mode")
    buttons = shown_buttons(b)
    assert "Enter maintenance" in buttons and "Exit maintenance" not in buttons, buttons
    assert b.css("select[name=evacuate]").is_displayed()
    open_host(b, "lab-s1")
    b.wait_text(By.CSS_SELECTOR, "#page h2", "maintenance")
    buttons = shown_buttons(b)
    assert "Exit maintenance" in buttons and "Enter maintenance" not in buttons, buttons
    assert not b.css("select[name=evacuate]").is_displayed()   # how to move VMs off applies to entering


def test_back_closes_the_dialog(lab, browser):
    """Browser Back with the migrate dialog open goes back to the VM list and
    leaves no dialog over it: the list takes clicks again."""
    b = browser
    b.sign_in()
    b.go("#/vms")
    b.wait_text(By.CSS_SELECTOR, "table.list", "web-1")
    [a for a in b.all("table.list a") if a.text == "web-1"][0].click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "web-1")
    b.css("button[data-action=migrate]").click()
    b.wait_text(By.CSS_SELECTOR, "dialog.modal", "hosts rated")
    b.driver.back()
    b.wait_text(By.CSS_SELECTOR, "table.list", "web-2")
    b.wait(lambda d: not b.all("dialog"), 5)
    [a for a in b.all("table.list a") if a.text == "web-2"][0].click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "web-2")
    # and a dialog still opens and closes as before
    b.css("button[data-action=migrate]").click()
    dlg = b.wait_visible(By.CSS_SELECTOR, "dialog.modal")
    b.button("Cancel", dlg).click()
    b.wait(lambda d: not b.all("dialog"))


def test_sign_out_and_be_refused(lab, browser):
    b = browser
    b.allow_http_errors("401")
    b.sign_in()
    b.go("#/vms")
    b.wait_text(By.CSS_SELECTOR, "table.list", "web-1")
    b.css("#signout").click()
    b.wait_visible(By.ID, "login")
    assert "signed out" in b.css("#login-error").text
    b.go("#/vms")
    time.sleep(0.3)
    assert b.css("#login").is_displayed() and not b.css("#page").is_displayed()
    status = b.driver.execute_async_script(
        "const done = arguments[0]; fetch('/api/v1/vms').then(r => done(r.status))")
    assert status == 401
    b.open()
    b.wait_visible(By.ID, "login")


def test_keyboard_navigation(lab, browser):
    b = browser
    b.open()
    user = b.wait_visible(By.ID, "login-user")
    assert b.driver.switch_to.active_element == user     # focus starts in the form
    user.send_keys("admin", Keys.TAB)
    b.driver.switch_to.active_element.send_keys(ADMIN_PASSWORD, Keys.ENTER)
    b.wait_visible(By.ID, "signout")
    # Tab from the top reaches the skip link, then the navigation links, by keyboard alone
    b.driver.execute_script("document.querySelector('.skip').focus()")
    skip = b.driver.switch_to.active_element
    assert skip.text == "Skip to content" and skip.location["x"] >= 0   # shown when focused
    skip.send_keys(Keys.ENTER)
    assert b.driver.switch_to.active_element.get_attribute("id") == "main"
    assert b.css("#page h2").text == "Dashboard"                        # still the same page
    b.driver.execute_script("document.querySelector('.skip').focus()")
    seen = []
    for _ in range(12):
        b.driver.switch_to.active_element.send_keys(Keys.TAB)
        seen.append(b.driver.switch_to.active_element.text)
        if seen[-1] == "Jobs":
            break
    assert seen[-1] == "Jobs", seen
    b.driver.switch_to.active_element.send_keys(Keys.ENTER)
    b.wait_text(By.CSS_SELECTOR, "#page h2", "Jobs")
    # the focus ring is visible
    outline = b.driver.execute_script(
        "return getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    # the migrate dialog opens from the keyboard and Esc closes it
    vm = open_vm(b, lab, "web-1")
    btn = b.css("button[data-action=migrate]")
    btn.send_keys(Keys.ENTER)
    b.wait_text(By.CSS_SELECTOR, "dialog.modal", "hosts rated")
    b.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    b.wait(EC.invisibility_of_element_located((By.CSS_SELECTOR, "dialog.modal")))
    assert lab.get("/vms/" + vm["id"])["host_id"] == vm["host_id"]


def test_narrow_window(lab, make_browser):
    b = make_browser(width=390, height=800)
    b.sign_in()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "Dashboard")
    assert not b.css("#nav").is_displayed()
    menu = b.css("#menu-toggle")
    assert menu.is_displayed()
    menu.click()
    b.wait_visible(By.CSS_SELECTOR, "#nav")
    [a for a in b.all("#nav a") if a.text == "VMs"][0].click()
    b.wait_text(By.CSS_SELECTOR, "table.list", "web-1")
    assert not b.css("#nav").is_displayed()          # the menu folds away again
    assert b.driver.execute_script(      # rows became cards: each cell carries its label
        "return getComputedStyle(document.querySelector('table.list td')).display") == "flex"
    width = b.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + 1, width             # nothing sticks out sideways
    b.screenshot("narrow-vms")
    # a VM page and its migrate dialog fit too
    open_vm(b, lab, "web-1")
    b.css("button[data-action=migrate]").click()
    b.wait_text(By.CSS_SELECTOR, "dialog.modal", "hosts rated")
    width = b.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1] + 1, width
    dlg = b.css("dialog.modal").rect
    assert dlg["x"] >= 0 and dlg["x"] + dlg["width"] <= 391, dlg
    b.screenshot("narrow-migrate")
    b.button("Cancel", b.css("dialog.modal")).click()


def test_kvm_agent_vm_start(lab, browser):
    if not lab.agent:
        pytest.skip("build/polyvisor-agent is not built")
    b = browser
    b.sign_in()
    vm = open_vm(b, lab, "seed-stopped")
    assert vm["vendor"] == "kvm"
    b.css("button[data-action=start]").click()
    b.wait(lambda d: b.css(".job-panel").get_attribute("data-state") in ("succeeded", "failed"), 30)
    assert b.css(".job-panel").get_attribute("data-state") == "succeeded", b.css(".job-panel").text
    b.wait_text(By.CSS_SELECTOR, "#page h2", "running")


def test_plan_review_and_approve(lab, browser):
    b = browser
    # a rebalance run at 40 %: esx-a2 (db-1, 16 of 32 GiB) is over, so the plan moves db-1
    r = lab.http.post(lab.base + "/api/v1/schedules", json={
        "name": "rebalance at 40", "kind": "rebalance", "cron": "@daily",
        "params": {"threshold_pct": 40, "mode": "plan"}})
    assert r.status_code == 201, r.text
    job = lab.wait_job(lab.http.post(lab.base + "/api/v1/schedules/%s/run" % r.json()["id"]).json()["id"])
    plan_id = job["result"]["plan_id"]
    assert job["result"]["moves"] >= 1, job
    b.sign_in()
    b.go("#/schedules")
    b.wait_visible(By.CSS_SELECTOR, "a[href='#/plans/%s']" % plan_id).click()
    b.wait_text(By.CSS_SELECTOR, "#page h2", "proposed")
    b.wait_text(By.CSS_SELECTOR, "#page table", "db-1")
    assert "esx-a2" in b.css("#page table").text
    b.driver.execute_script("window.scrollTo(0, 0)")
    b.screenshot("plan")
    b.button("Approve and run").click()
    b.wait(lambda d: b.all(".job-panel") and b.css(".job-panel").get_attribute("data-state") == "succeeded", 30)
    b.wait_text(By.CSS_SELECTOR, "#page h2", "done", 20)
    assert not b.button("Reject").is_enabled()
    assert lab.get("/hosts/" + lab.vm("db-1")["host_id"])["name"] != "esx-a2"


def test_delete_asks_first(lab, browser):
    b = browser
    b.sign_in()
    vm = open_vm(b, lab, "app-2")
    b.css("button[data-action=delete]").click()
    dlg = b.wait_visible(By.CSS_SELECTOR, "dialog.modal")
    assert "cannot be undone" in dlg.text
    assert b.driver.switch_to.active_element.text == "Cancel"   # the safe choice has the focus
    b.button("Cancel", dlg).click()
    b.wait(EC.invisibility_of_element_located((By.CSS_SELECTOR, "dialog.modal")))
    assert lab.get("/vms/" + vm["id"])["name"] == "app-2"
    b.css("button[data-action=delete]").click()
    dlg = b.wait_visible(By.CSS_SELECTOR, "dialog.modal")
    b.button("Delete VM", dlg).click()
    b.wait(lambda d: b.css(".job-panel").get_attribute("data-state") == "succeeded", 20)
    b.wait_text(By.CSS_SELECTOR, "#page", "The VM was deleted")
    assert lab.http.get(lab.base + "/api/v1/vms/" + vm["id"]).status_code == 404


def test_add_and_remove_kvm_agent_connection(lab, browser):
    url = lab.spawn_agent("agent2")
    if not url:
        pytest.skip("build/polyvisor-agent is not built")
    from pvbrowser import AGENT_TOKEN
    b = browser
    b.sign_in()
    b.go("#/connections")
    b.wait_text(By.CSS_SELECTOR, "table.list", "connected")
    choose(b, "type", "kvm")
    assert b.css("input[name=token]").is_displayed()
    if adapters(lab)["kvm"].get("credentials") == "token":   # else the console asks for every credential
        assert not b.css("input[name=username]").is_displayed()
    b.css("input[name=url]").send_keys(url)
    b.css("input[name=token]").send_keys(AGENT_TOKEN)
    b.button("Add connection").click()
    b.wait(lambda d: b.css(".job-panel").get_attribute("data-state") == "succeeded", 20)
    b.wait_text(By.CSS_SELECTOR, "table.list", url)
    row = [r for r in b.all("table.list tbody tr") if url in r.text][0]
    assert "connected" in row.text and "kvm" in row.text
    assert AGENT_TOKEN not in b.css("#page").text          # the secret is never shown
    b.button("Remove…", row).click()
    dlg = b.wait_visible(By.CSS_SELECTOR, "dialog.modal")
    b.button("Remove", dlg).click()
    b.wait(lambda d: url not in b.css("table.list").text, 20)


PAGES = ["dashboard", "inventory", "hosts", "vms", "vms/new", "storage", "networks", "jobs", "schedules",
         "connections", "events"]


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_fits(lab, make_browser, width):
    b = make_browser(width=width, height=800)
    b.sign_in()
    vm = lab.vm("web-1")
    for page in PAGES + ["vms/" + vm["id"], "hosts/" + vm["host_id"]]:
        b.go("#/" + page)
        b.wait(lambda d: b.css("#page h2").text and "Loading" not in b.css("#page").text)
        time.sleep(0.2)
        assert b.css("#page h2").text != "Not found", page
        shown = [e.text for e in b.all("#page .error") if e.is_displayed()]
        assert not shown, (page, shown)
        w = b.driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert w[0] <= w[1] + 1, (page, w)


def test_viewer_sees_forbidden_where_acted(lab, browser):
    b = browser
    b.allow_http_errors("status of 403")
    r = lab.http.post(lab.base + "/api/v1/users",
                      json={"username": "watcher", "password": "watcher-pw-123", "role": "viewer"})
    assert r.status_code in (201, 409), r.text
    b.sign_in("watcher", "watcher-pw-123")
    assert "viewer" in b.css("#whoami").text
    vm = open_vm(b, lab, "web-1")
    b.css("button[data-action=pause]").click()
    err = b.wait_visible(By.CSS_SELECTOR, "#page .error")
    assert "forbidden" in err.text
    assert err.location["y"] < b.css("dl.facts").location["y"]   # by the buttons, not somewhere else
    assert lab.get("/vms/" + vm["id"])["power_state"] == "running"


def test_inventory_across_vmware_and_hyperv(lab, browser):
    """vCenter (VMware's vcsim) and Hyper-V (our WS-Man simulator) next to the
    other connections: their clusters, hosts and VMs appear in the inventory
    tree with their vendor, the vendor filter finds them, and a Hyper-V VM
    starts from its page with the job followed live to 100%."""
    with lab.vendor_peers():
        b = browser
        b.sign_in()
        b.go("#/inventory")
        b.wait_text(By.CSS_SELECTOR, ".tree", "Hosts outside any group")
        twisty(b, "Hosts outside any group").click()
        b.wait_text(By.CSS_SELECTOR, ".tree", "cluster · vcenter")
        kind_twisty = "//li[span[@class='kind' and .='%s']]/button"
        b.driver.find_element(By.XPATH, kind_twisty % "cluster · vcenter").click()
        b.wait_text(By.CSS_SELECTOR, ".tree", "host · vcenter")
        b.driver.find_element(By.XPATH, kind_twisty % "host · vcenter").click()
        b.wait_text(By.CSS_SELECTOR, ".tree", "VM · vcenter")
        b.driver.find_element(By.XPATH, kind_twisty % "host · hyperv").click()
        b.wait_text(By.CSS_SELECTOR, ".tree", "sql-prod-01")
        tree = b.css(".tree").text
        assert "HV-NODE01" in tree and "VM · hyperv" in tree and "DC0_C0_H0" in tree, tree
        b.screenshot("inventory-vendors")
        # the vendor filter is the API's filter grammar, server side
        choose(b, "vendor", "hyperv")
        b.wait_text(By.CSS_SELECTOR, "#page section table", "web-frontend-01")
        rows = [r.text for r in b.all("#page section table tbody tr")]
        assert len(rows) == 2 and all("hyperv" in r.lower() or "Hyper-V" in r for r in rows), rows
        # a Hyper-V VM starts from its page: the WMI job's progress arrives live
        vm = open_vm(b, lab, "sql-prod-01")
        assert vm["vendor"] == "hyperv" and vm["power_state"] == "stopped"
        no_reload_marker(b)
        b.css("button[data-action=start]").click()
        b.wait(lambda d: b.css(".job-panel").get_attribute("data-state") in ("succeeded", "failed"), 60)
        assert b.css(".job-panel").get_attribute("data-state") == "succeeded", b.css(".job-panel").text
        b.wait_text(By.CSS_SELECTOR, "#page h2", "running")
        assert_not_reloaded(b)
        assert lab.vm("sql-prod-01")["power_state"] == "running"
        # their datastores and volumes, port groups and switches, as the API has them
        for page, collection in (("storage", "storage-pools"), ("networks", "networks")):
            for vendor in ("vcenter", "hyperv"):
                b.go("#/%s?vendor=%s" % (page, vendor))
                api = lab.get("/%s?limit=50&sort=name&filter=%s" % (
                    collection, requests.utils.quote("vendor eq '%s'" % vendor)))["items"]
                assert api, (collection, vendor)
                b.wait(lambda d: [r.find_element(By.TAG_NAME, "td").text for r in b.all("#page table.list tbody tr")]
                       == [x["name"] for x in api])
                assert all(vendor in r.text for r in b.all("#page table.list tbody tr"))
