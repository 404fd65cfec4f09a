"""The browser tests' rig, used by conftest.py and the tests: a real
polyvisord (and, when built, a real polyvisor-agent on libvirt's test driver)
on loopback, and headless Chromium driven by Debian's python3-selenium.

- One daemon per test session, on a free 127.0.0.1 port and a temp data dir,
  with three `test` connections (worlds written here: the main one with
  delay_ms=1500 so a job's progress is visible, a slow one whose jobs can be
  cancelled by hand, one with more VMs than a page holds), a host group, and
  a `kvm` connection to the agent.  The agent's host is hypervisor/demo-host.xml
  with one more storage pool, partly used, and one more network, on a VLAN
  (STORAGE_XML): the storage and network pages have something to show.
- One fresh browser per test, with a fresh --user-data-dir.  The browser's
  console log is read through goog:loggingPrefs; a test fails on console
  errors unless it declares the HTTP errors it provokes (allow_http_errors).
- Every browser, agent and daemon started here is stopped by its PID at
  teardown.  missing() says why the tests cannot run here, if they cannot.

The daemon and the agents are tests/pvtest.py's Daemon and Agent, the
harness the integration tests and the benchmarks use too.
"""
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("POLYVISOR_BUILD", os.path.join(ROOT, "build"))
SCREENSHOTS = os.path.join(ROOT, "docs", "screenshots")
CHROMIUM = os.environ.get("POLYVISOR_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("POLYVISOR_CHROMEDRIVER", "/usr/bin/chromedriver")
ADMIN_PASSWORD = "admin-pw-for-browser-tests"
AGENT_TOKEN = "agent-token-for-browser-tests-0123"

try:
    import requests
    from pvtest import HOST_XML, Agent, Daemon, free_port, stop_process
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    HAVE_SELENIUM = True
except ImportError:  # pragma: no cover - reported as a skip below
    HAVE_SELENIUM = False


def missing():
    if not HAVE_SELENIUM:
        return "python3-selenium (or python3-requests) is not installed: apt-get install python3-selenium"
    for path, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return "%s not found: apt-get install %s" % (path, pkg)
    if not os.access(os.path.join(BUILD, "polyvisord"), os.X_OK):
        return "build/polyvisord is not built: run make"
    return None


# A small world for the test adapter: two racks, a standalone host, VMs in
# every power state.  Vendor "test"; ids are fixed so tests can name them.
WORLD = {
    "generation": 1,
    "clusters": [{"id": "rack-a", "name": "Rack A"}, {"id": "rack-b", "name": "Rack B"}],
    "hosts": [
        {"id": "a1", "name": "esx-a1", "cluster": "rack-a", "cpu_cores": 16, "cpu_mhz": 2600, "memory_mb": 65536},
        {"id": "a2", "name": "esx-a2", "cluster": "rack-a", "cpu_cores": 8, "cpu_mhz": 2400, "memory_mb": 32768},
        {"id": "b1", "name": "esx-b1", "cluster": "rack-b", "cpu_cores": 8, "cpu_mhz": 2400, "memory_mb": 16384},
        {"id": "s1", "name": "lab-s1", "cluster": None, "cpu_cores": 4, "cpu_mhz": 2000, "memory_mb": 8192,
         "state": "maintenance"},
    ],
    "vms": [
        {"id": "11111111-0000-4000-8000-000000000001", "name": "web-1", "host": "a1", "power_state": "running", "vcpus": 2, "memory_mb": 4096},
        {"id": "11111111-0000-4000-8000-000000000002", "name": "web-2", "host": "a1", "power_state": "running", "vcpus": 2, "memory_mb": 4096},
        {"id": "11111111-0000-4000-8000-000000000003", "name": "db-1", "host": "a2", "power_state": "running", "vcpus": 4, "memory_mb": 16384},
        {"id": "11111111-0000-4000-8000-000000000004", "name": "app-1", "host": "a2", "power_state": "stopped", "vcpus": 1, "memory_mb": 1024},
        {"id": "11111111-0000-4000-8000-000000000005", "name": "cache-1", "host": "b1", "power_state": "paused", "vcpus": 1, "memory_mb": 2048},
        {"id": "11111111-0000-4000-8000-000000000006", "name": "batch-1", "host": "b1", "power_state": "saved", "vcpus": 2, "memory_mb": 2048},
        {"id": "11111111-0000-4000-8000-000000000007", "name": "mig-1", "host": "a1", "power_state": "running", "vcpus": 1, "memory_mb": 1024},
        {"id": "11111111-0000-4000-8000-000000000008", "name": "app-2", "host": "a2", "power_state": "stopped", "vcpus": 1, "memory_mb": 512},
    ],
}


SLOW_WORLD = {
    "generation": 1,
    "hosts": [{"id": "slow", "name": "lab-slow", "cpu_cores": 4, "cpu_mhz": 2000, "memory_mb": 8192}],
    "vms": [{"id": "22222222-0000-4000-8000-000000000001", "name": "slow-1", "host": "slow",
             "power_state": "running", "vcpus": 1, "memory_mb": 512}],
}

BULK_VMS = 120
BULK_WORLD = {
    "generation": 1,
    "hosts": [{"id": "bulk", "name": "zz-bulk-host", "cpu_cores": 64, "cpu_mhz": 2000, "memory_mb": 262144}],
    "vms": [{"id": "33333333-0000-4000-8000-%012d" % i, "name": "zz-bulk-%03d" % i, "host": "bulk",
             "power_state": "stopped", "vcpus": 1, "memory_mb": 16} for i in range(BULK_VMS)],
}


# Added to demo-host.xml's node for the lab's KVM host: libvirt's test driver
# counts a pool's volumes in its allocation (60 of its 100 GiB here) and keeps
# a network's VLAN tag; nothing of it exists outside the driver.
STORAGE_XML = """
  <pool type='dir'>
    <name>fast-ssd</name>
    <uuid>7c1e0000-0000-4000-8000-0000000000a1</uuid>
    <target><path>/polyvisor-demo/ssd</path></target>
    <volume type='file'>
      <name>golden.qcow2</name>
      <capacity unit='GiB'>60</capacity><allocation unit='GiB'>60</allocation>
      <target><path>/polyvisor-demo/ssd/golden.qcow2</path></target>
    </volume>
  </pool>
  <network>
    <name>lab-vlan</name>
    <uuid>7c1e0000-0000-4000-8000-0000000000b1</uuid>
    <bridge name='pvlab42'/>
    <vlan><tag id='42'/></vlan>
  </network>
"""


class Lab:
    """polyvisord + its connections, with a bearer-token HTTP client for setup and checks."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.data_dir = os.path.join(tmp, "data")
        os.makedirs(self.data_dir)
        # the worlds below are written into tmp, the data dir's parent: the daemon's world dir
        self.pv = Daemon(self.data_dir, ["--metrics-interval", "1"], admin_password=ADMIN_PASSWORD,
                         log_path=os.path.join(tmp, "polyvisord.log"), grace_seconds=5)
        self.port = self.pv.port
        self.base = self.pv.base
        self.agents = []
        self.agent = None

    @property
    def http(self):
        """The daemon's session, signed in as admin once start() has run."""
        return self.pv.http

    def start(self):
        self.pv.start()
        world = os.path.join(self.tmp, "world.json")
        with open(world, "w") as f:
            json.dump(WORLD, f)
        self.test_conn = self.add_connection({"type": "test", "url": "test://" + world + "?delay_ms=1500"})
        # a second, slow hypervisor: its jobs run long enough to be cancelled by hand
        slow = os.path.join(self.tmp, "slow-world.json")
        with open(slow, "w") as f:
            json.dump(SLOW_WORLD, f)
        self.slow_conn = self.add_connection({"type": "test", "url": "test://" + slow + "?delay_ms=20000"})
        # a third, with more VMs than one page holds (named to sort after the others)
        bulk = os.path.join(self.tmp, "bulk-world.json")
        with open(bulk, "w") as f:
            json.dump(BULK_WORLD, f)
        self.bulk_conn = self.add_connection({"type": "test", "url": "test://" + bulk})
        # Rack A's hosts form host group "Production"; the rest stay outside any group
        r = self.http.post(self.base + "/api/v1/host-groups", json={"name": "Production"})
        assert r.status_code == 201, r.text
        self.group_id = r.json()["id"]
        for host in self.get("/hosts?filter=" + requests.utils.quote("name in ('esx-a1', 'esx-a2')"))["items"]:
            r = self.http.patch(self.base + "/api/v1/hosts/" + host["id"], json={"host_group_id": self.group_id})
            assert r.status_code == 200, r.text
        self.start_agent()
        return self

    def start_agent(self):
        """A real polyvisor-agent on libvirt's test driver with a kvm connection, when built."""
        url = None
        if os.path.exists(HOST_XML):
            host_xml = os.path.join(self.tmp, "lab-host.xml")
            with open(HOST_XML) as f:
                demo = f.read()
            with open(host_xml, "w") as f:
                f.write(demo.replace("</node>", STORAGE_XML + "</node>"))
            url = self.spawn_agent("agent", "test://" + host_xml)
        if url:
            self.agent = url
            self.kvm_conn = self.add_connection({"type": "kvm", "url": url, "token": AGENT_TOKEN})

    def spawn_agent(self, name, uri=None):
        """Start one more polyvisor-agent on libvirt's test driver (on `uri`,
        else hypervisor/demo-host.xml), stopped with the lab; its URL, or None
        when it is not built or does not start."""
        if not os.access(os.path.join(BUILD, "polyvisor-agent"), os.X_OK) or not os.path.exists(HOST_XML):
            return None
        agent = Agent(self.tmp, uri=uri or "test://" + HOST_XML, token=AGENT_TOKEN, name=name)
        self.agents.append(agent)
        try:
            return agent.start().base
        except RuntimeError:
            return None

    def add_connection(self, body):
        return self.pv.run("POST", "/api/v1/connections", body)["result"]["connection_id"]

    @contextlib.contextmanager
    def vendor_peers(self):
        """VMware's vCenter simulator (vcsim, from Debian's govmomi: one
        datacenter with a cluster of two hosts) and our Hyper-V simulator (one
        host, plain HTTP as WinRM allows it with AllowUnencrypted) as two more
        connections; yields {"vcenter": id, "hyperv": id}.  Afterwards the
        connections are removed (with their hosts and VMs) and both simulators
        stopped by PID."""
        vcsim_sh = os.path.join(ROOT, "tests", "peers", "vcsim.sh")
        user, password = "pv-admin", "pv-S3cret!"
        state = os.path.join(self.tmp, "vcsim")
        conns, hv = {}, None
        r = subprocess.run(["sh", vcsim_sh, "build", BUILD], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        r = subprocess.run(["sh", vcsim_sh, "start", BUILD, state, "-username", user, "-password", password,
                            "-dc", "1", "-cluster", "1", "-host", "2", "-standalone-host", "0", "-vm", "2"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        try:
            vc = json.loads(r.stdout.strip().splitlines()[-1])
            hv = subprocess.Popen(
                ["/usr/bin/python3", os.path.join(ROOT, "tests", "sims", "hyperv", "hypervsim.py"),
                 "--hosts", "1", "--base-port", str(free_port()), "--user", user, "--password", password,
                 "--vms", "2", "--seed", "5", "--job-time", "0.5:1.0", "--allow-unencrypted"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            hv_url = None
            for line in hv.stdout:
                parts = line.decode().split()
                if parts and parts[0] == "host":
                    hv_url = parts[2]
                if parts and parts[0] == "control":
                    break
            assert hv_url, "the Hyper-V simulator did not start"
            conns["vcenter"] = self.add_connection({"type": "vcenter", "url": vc["url"], "username": user,
                                                    "password": password, "insecure": True})
            conns["hyperv"] = self.add_connection({"type": "hyperv", "url": hv_url, "username": user,
                                                   "password": password})
            yield conns
        finally:
            for cid in conns.values():
                r = self.http.delete(self.base + "/api/v1/connections/" + cid)
                if r.status_code == 202:
                    self.wait_job(r.json()["id"])
            if hv:
                stop_process(hv, timeout=15)
                hv.stdout.close()
            subprocess.run(["sh", vcsim_sh, "stop", os.path.join(state, "vcsim.pid")], timeout=30)

    def get(self, path):
        r = self.http.get(self.base + "/api/v1" + path, timeout=10)
        r.raise_for_status()
        return r.json()

    def wait_job(self, job_id, timeout=30):
        return self.pv.wait_job(job_id, timeout)

    def vm(self, name):
        items = self.get("/vms?filter=" + requests.utils.quote("name eq '%s'" % name))["items"]
        assert items, "no VM " + name
        return items[0]

    def log(self):
        return self.pv.log()

    def stop(self):
        for a in reversed(self.agents):
            a.stop()
        self.pv.stop(timeout=15)


class Browser:
    """One headless Chromium with helpers that read like what a person does."""

    def __init__(self, lab, width=1280, height=800):
        self.lab = lab
        self.profile = tempfile.mkdtemp(prefix="pv-chromium-")
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--user-data-dir=" + self.profile,
                  "--window-size=%d,%d" % (width, height)):
            opts.add_argument(a)
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.service = Service(executable_path=CHROMEDRIVER)
        try:
            self.driver = webdriver.Chrome(service=self.service, options=opts)
        except Exception:
            proc = getattr(self.service, "process", None)
            if proc:
                stop_process(proc, timeout=5)
            shutil.rmtree(self.profile, ignore_errors=True)
            raise
        # the viewport itself, not the window around it, is width x height
        self.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                                    {"width": width, "height": height, "deviceScaleFactor": 1,
                                     "mobile": False})
        self.allowed = []   # substrings of console errors this test provokes on purpose
        self.logs = []

    # -- what a person does ------------------------------------------------
    def open(self, fragment=""):
        self.driver.get(self.lab.base + "/" + fragment)

    def sign_in(self, user="admin", password=ADMIN_PASSWORD):
        self.open()
        self.wait_visible(By.ID, "login-user").send_keys(user)
        self.driver.find_element(By.ID, "login-password").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "#login button[type=submit]").click()
        self.wait_visible(By.ID, "signout")

    def go(self, fragment):
        self.driver.execute_script("location.hash = arguments[0]", fragment)

    def wait(self, cond, timeout=15):
        # live updates redraw rows and panels: an element may go stale between two reads
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                             ).until(cond)

    def wait_visible(self, by, sel, timeout=15):
        return self.wait(EC.visibility_of_element_located((by, sel)), timeout)

    def wait_text(self, by, sel, text, timeout=15):
        self.wait(EC.text_to_be_present_in_element((by, sel), text), timeout)
        return self.driver.find_element(by, sel)

    def css(self, sel):
        return self.driver.find_element(By.CSS_SELECTOR, sel)

    def all(self, sel):
        return self.driver.find_elements(By.CSS_SELECTOR, sel)

    def button(self, text, scope=None):
        """The visible button whose text is exactly `text`."""
        root = scope or self.driver
        for b in root.find_elements(By.TAG_NAME, "button"):
            if b.text.strip() == text and b.is_displayed():
                return b
        raise AssertionError("no button %r" % text)

    def screenshot(self, name):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        self.driver.save_screenshot(os.path.join(SCREENSHOTS, name + ".png"))

    def allow_http_errors(self, *substrings):
        self.allowed += list(substrings)

    def console_errors(self):
        self.logs += self.driver.get_log("browser")
        bad = []
        for e in self.logs:
            if e.get("level") != "SEVERE":
                continue
            msg = e.get("message", "")
            if e.get("source") == "network" and any(s in msg for s in self.allowed):
                continue
            bad.append(msg)
        return bad

    def quit(self):
        try:
            self.driver.quit()
        finally:
            # chromedriver is stopped by quit(); make sure, by its PID
            proc = getattr(self.service, "process", None)
            if proc:
                stop_process(proc, timeout=5)
            shutil.rmtree(self.profile, ignore_errors=True)
