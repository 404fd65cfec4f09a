"""The hyperv adapter against the Hyper-V simulator (tests/sims/hyperv/, two
simulated hosts on HTTPS with a self-signed certificate), through polyvisord's
REST API.  What the hosts hold is checked by speaking WS-Management to the
simulator directly from Python (the Wsman class below: requests +
ElementTree, written from MS-WSMV), never only through our code.

Every simulator a test starts is stopped by its PID; its state file lets a
killed simulator come back with the same VMs on the same ports."""
import os
import socket
import subprocess
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests
import urllib3

from conftest import ROOT, stop_process, wait_for

SIM = os.path.join(ROOT, "tests", "sims", "hyperv", "hypervsim.py")
PYTHON = "/usr/bin/python3"
USER, PASSWORD = "administrator", "Hv-Passw0rd!"
V2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/"
CIMV2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/"
NS = {"s": "http://www.w3.org/2003/05/soap-envelope",
      "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
      "n": "http://schemas.xmlsoap.org/ws/2004/09/enumeration",
      "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
      "xsi": "http://www.w3.org/2001/XMLSchema-instance"}
ANON = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
POWER = {2: "running", 3: "stopped", 6: "saved", 9: "paused"}

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def free_ports(n):
    """A base port with n free consecutive ports after it (the simulator's
    hosts listen on base+i, and must get the same ports after a restart)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + n >= 65000:
            continue
        socks = []
        try:
            for i in range(n):
                t = socket.socket()
                socks.append(t)
                t.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for t in socks:
                t.close()
    raise RuntimeError("no free port range")


# ---- a WS-Man client of our own, for cross-checks -------------------------------------

def _local(tag):
    return tag.rsplit("}", 1)[-1]


class Wsman:
    """Raw WS-Management to one simulated host (Basic over HTTPS)."""

    def __init__(self, url, user=USER, password=PASSWORD):
        self.url, self.auth = url, (user, password)
        self.http = requests.Session()

    def _post(self, action, uri, body, selectors=None):
        sel = ""
        if selectors:
            sel = "<w:SelectorSet>%s</w:SelectorSet>" % "".join(
                '<w:Selector Name="%s">%s</w:Selector>' % (k, v) for k, v in selectors.items())
        env = ('<s:Envelope xmlns:s="{s}" xmlns:a="{a}" xmlns:n="{n}" xmlns:w="{w}" xmlns:xsi="{xsi}">'
               '<s:Header><a:To>{to}</a:To><w:ResourceURI s:mustUnderstand="true">{uri}</w:ResourceURI>'
               '<a:ReplyTo><a:Address s:mustUnderstand="true">{anon}</a:Address></a:ReplyTo>'
               '<a:Action s:mustUnderstand="true">{action}</a:Action>'
               '<w:MaxEnvelopeSize s:mustUnderstand="true">512000</w:MaxEnvelopeSize>'
               '<a:MessageID>uuid:{mid}</a:MessageID><w:OperationTimeout>PT60S</w:OperationTimeout>'
               '{sel}</s:Header><s:Body>{body}</s:Body></s:Envelope>').format(
            to=self.url, uri=uri, anon=ANON, action=action, mid=uuid.uuid4(), sel=sel, body=body, **NS)
        r = self.http.post(self.url, data=env.encode(), auth=self.auth, verify=False, timeout=30,
                           headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
        root = ET.fromstring(r.content)
        fault = root.find("s:Body/s:Fault", NS)
        if fault is not None:
            raise RuntimeError(ET.tostring(fault, encoding="unicode"))
        return root.find("s:Body", NS)

    @staticmethod
    def props(el):
        out = {}
        for p in el:
            if p.get("{%s}nil" % NS["xsi"]) == "true":
                out[_local(p.tag)] = None
            else:
                out[_local(p.tag)] = "".join(p.itertext()).strip()
        return out

    def enum(self, wql, ns=V2):
        body = self._post(NS["n"] + "/Enumerate", ns + "*",
                          '<n:Enumerate><w:OptimizeEnumeration/><w:MaxElements>50</w:MaxElements>'
                          '<w:Filter Dialect="http://schemas.microsoft.com/wbem/wsman/1/WQL">%s</w:Filter>'
                          '</n:Enumerate>' % wql.replace("&", "&amp;").replace("<", "&lt;"))
        resp = body.find("n:EnumerateResponse", NS)
        items = [self.props(i) for i in resp.find("w:Items", NS) or []]
        done = resp.find("w:EndOfSequence", NS) is not None
        ctx = resp.findtext("n:EnumerationContext", None, NS)
        while not done:
            body = self._post(NS["n"] + "/Pull", ns + "*",
                              '<n:Pull><n:EnumerationContext>%s</n:EnumerationContext>'
                              '<n:MaxElements>50</n:MaxElements></n:Pull>' % ctx)
            resp = body.find("n:PullResponse", NS)
            items += [self.props(i) for i in resp.find("n:Items", NS) or []]
            done = resp.find("n:EndOfSequence", NS) is not None
            ctx = resp.findtext("n:EnumerationContext", ctx, NS)
        return items

    def vms(self):
        """GUID -> {name, state, vcpus, memory_mb, generation} as the host has them."""
        out = {}
        for cs in self.enum("SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine'"):
            out[cs["Name"]] = {"name": cs["ElementName"], "state": int(cs["EnabledState"])}
        for s in self.enum("SELECT * FROM Msvm_VirtualSystemSettingData"):
            g = s["InstanceID"].split(":", 1)[1].upper()
            if g in out:
                out[g]["generation"] = int(s["VirtualSystemSubType"][-1])
        for cls, key in (("Msvm_ProcessorSettingData", "vcpus"), ("Msvm_MemorySettingData", "memory_mb")):
            for s in self.enum("SELECT * FROM " + cls):
                g = s["InstanceID"].split(":", 1)[1].split("\\")[0].upper()
                if g in out:
                    out[g][key] = int(s["VirtualQuantity"])
        return out

    def state(self, guid):
        return self.vms().get(guid, {}).get("state")

    def request_state(self, guid, state):
        body = self._post(V2 + "Msvm_ComputerSystem/RequestStateChange", V2 + "Msvm_ComputerSystem",
                          '<p:RequestStateChange_INPUT xmlns:p="%sMsvm_ComputerSystem">'
                          '<p:RequestedState>%d</p:RequestedState></p:RequestStateChange_INPUT>' % (V2, state),
                          {"CreationClassName": "Msvm_ComputerSystem", "Name": guid})
        return int(body[0].findtext("{%sMsvm_ComputerSystem}ReturnValue" % V2))

    def modify(self, guid, host, vcpus, memory_mb):
        cls = V2 + "Msvm_VirtualSystemManagementService"
        def inst(c, iid, qty):
            x = ('<INSTANCE CLASSNAME="%s"><PROPERTY NAME="InstanceID" TYPE="string"><VALUE>%s</VALUE></PROPERTY>'
                 '<PROPERTY NAME="VirtualQuantity" TYPE="uint64"><VALUE>%d</VALUE></PROPERTY></INSTANCE>' % (c, iid, qty))
            return "<p:ResourceSettings>%s</p:ResourceSettings>" % x.replace("&", "&amp;").replace("<", "&lt;")
        iids = {}
        for c in ("Msvm_ProcessorSettingData", "Msvm_MemorySettingData"):
            iids[c] = [s["InstanceID"] for s in self.enum("SELECT InstanceID FROM " + c)
                       if s["InstanceID"].upper().startswith("MICROSOFT:" + guid)][0]
        body = self._post(cls + "/ModifyResourceSettings", cls,
                          '<p:ModifyResourceSettings_INPUT xmlns:p="%s">%s%s</p:ModifyResourceSettings_INPUT>'
                          % (cls, inst("Msvm_ProcessorSettingData", iids["Msvm_ProcessorSettingData"], vcpus),
                             inst("Msvm_MemorySettingData", iids["Msvm_MemorySettingData"], memory_mb)),
                          {"CreationClassName": "Msvm_VirtualSystemManagementService", "Name": "vmms",
                           "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": host})
        return int(body[0].findtext("{%s}ReturnValue" % cls))

    def devices(self, guid):
        """The VM's device settings, by class, as the host enumerates them."""
        out = {}
        for cls in ("Msvm_ResourceAllocationSettingData", "Msvm_StorageAllocationSettingData",
                    "Msvm_SyntheticEthernetPortSettingData", "Msvm_EmulatedEthernetPortSettingData",
                    "Msvm_EthernetPortAllocationSettingData"):
            out[cls] = [d for d in self.enum("SELECT * FROM " + cls)
                        if d["InstanceID"].upper().startswith("MICROSOFT:" + guid.upper())]
        return out

    def files(self):
        """Path (lower case) -> FileSize of every CIM_DataFile the host lists."""
        return {f["Name"]: int(f["FileSize"]) for f in self.enum("SELECT Name, FileSize FROM CIM_DataFile", CIMV2)}

    def free(self, drive):
        return [int(v["FreeSpace"]) for v in self.enum("SELECT Name, FreeSpace FROM Win32_Volume", CIMV2)
                if v["Name"] == drive + "\\"][0]

    def vhd_size(self, path, host):
        cls = V2 + "Msvm_ImageManagementService"
        body = self._post(cls + "/GetVirtualHardDiskSettingData", cls,
                          '<p:GetVirtualHardDiskSettingData_INPUT xmlns:p="%s"><p:Path>%s</p:Path>'
                          '</p:GetVirtualHardDiskSettingData_INPUT>' % (cls, path),
                          {"CreationClassName": "Msvm_ImageManagementService", "Name": "vhdsvc",
                           "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": host})
        inst = ET.fromstring(body[0].findtext("{%s}SettingData" % cls))
        return int([p.findtext("VALUE") for p in inst if p.get("NAME") == "MaxInternalSize"][0])

    def destroy(self, guid, host):
        cls = V2 + "Msvm_VirtualSystemManagementService"
        body = self._post(cls + "/DestroySystem", cls,
                          '<p:DestroySystem_INPUT xmlns:p="%s"><p:AffectedSystem><a:Address>%s</a:Address>'
                          '<a:ReferenceParameters><w:ResourceURI>%sMsvm_ComputerSystem</w:ResourceURI>'
                          '<w:SelectorSet><w:Selector Name="CreationClassName">Msvm_ComputerSystem</w:Selector>'
                          '<w:Selector Name="Name">%s</w:Selector></w:SelectorSet></a:ReferenceParameters>'
                          '</p:AffectedSystem></p:DestroySystem_INPUT>' % (cls, ANON, V2, guid),
                          {"CreationClassName": "Msvm_VirtualSystemManagementService", "Name": "vmms",
                           "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": host})
        return int(body[0].findtext("{%s}ReturnValue" % cls))


# ---- the simulator --------------------------------------------------------------------

class Sim:
    def __init__(self, tmp, hosts=2, tls=True):
        self.tmp, self.hosts, self.tls = tmp, hosts, tls
        self.cert, self.key = os.path.join(tmp, "hv-cert.pem"), os.path.join(tmp, "hv-key.pem")
        self.state_file = os.path.join(tmp, "hvsim.json")
        self.log = os.path.join(tmp, "hvsim.log")
        self.base = free_ports(hosts)
        self.control_port = free_ports(1)
        self.proc = None
        self.urls, self.control = {}, None
        os.makedirs(tmp, exist_ok=True)
        if tls and not os.path.exists(self.cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", self.key,
                            "-out", self.cert, "-days", "2", "-subj", "/CN=127.0.0.1"],
                           check=True, capture_output=True, timeout=60)

    def start(self, *extra):
        log = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [PYTHON, SIM, "--hosts", str(self.hosts), "--base-port", str(self.base), "--user", USER,
             "--password", PASSWORD, "--vms", "4"] +
            (["--tls-cert", self.cert, "--tls-key", self.key] if self.tls else []) + [
             "--seed", "11", "--job-time", "0.2:0.4", "--state-file", self.state_file,
             "--control-port", str(self.control_port), "--limited-user", "reader:Read0nly!"] + list(extra),
            stdout=subprocess.PIPE, stderr=log)
        log.close()
        self.urls = {}
        while True:
            line = self.proc.stdout.readline().decode()
            if not line:
                raise RuntimeError("simulator exited: " + open(self.log).read()[-2000:])
            parts = line.split()
            if parts[0] == "host":
                self.urls[parts[1]] = parts[2]
            elif parts[0] == "control":
                self.control = parts[1]
                break
        return self

    def stop(self):
        stop_process(self.proc)
        if self.proc:
            self.proc.stdout.close()

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()

    def fault(self, **body):
        r = requests.post(self.control + "/fault", json=body, timeout=10)
        assert r.status_code == 200, r.text

    def config(self, **body):
        requests.post(self.control + "/config", json=body, timeout=10).raise_for_status()

    def save(self):
        requests.post(self.control + "/save", json={}, timeout=10).raise_for_status()

    def ws(self, host):
        return Wsman(self.urls[host])

    def connection(self, host, **extra):
        body = {"type": "hyperv", "url": self.urls[host], "username": USER, "password": PASSWORD,
                "insecure": True}
        body.update(extra)
        return body


@pytest.fixture
def sim(tmpdir_path):
    s = Sim(tmpdir_path).start()
    yield s
    s.stop()


@pytest.fixture
def hv(daemon, sim):
    daemon.conns = {}
    for host in sorted(sim.urls):
        job = daemon.run("POST", "/api/v1/connections", sim.connection(host), timeout=60)
        daemon.conns[host] = job["result"]["connection_id"]
    daemon.sim = sim
    return daemon


def api_vm(d, guid):
    vms = [v for v in d.all_items("/api/v1/vms") if v["native_id"] == guid]
    assert len(vms) == 1, vms
    return vms[0]


def api_hosts(d):
    return {h["native_id"]: h for h in d.all_items("/api/v1/hosts")}


def act(d, vm, action, expect="succeeded"):
    return d.run("POST", "/api/v1/vms/%s/%s" % (vm["id"], action), expect=expect, timeout=60)


def create(d, host_id, **extra):
    body = {"name": "hv-" + uuid.uuid4().hex[:8], "vcpus": 2, "memory_mb": 512, "host_id": host_id}
    body.update(extra)
    job = d.run("POST", "/api/v1/vms", body, timeout=60)
    return d.ok("GET", "/api/v1/vms/" + job["result"]["vm_id"])


# ---- tests ----------------------------------------------------------------------------

def test_inventory_matches_the_hosts(hv):
    hosts = api_hosts(hv)
    assert set(hosts) == {"HV-NODE01", "HV-NODE02"}
    for name, h in hosts.items():
        conn = hv.ok("GET", "/api/v1/connections/" + hv.conns[name])
        assert conn["state"] == "connected" and conn["type"] == "hyperv" and conn["last_error"] is None
        assert PASSWORD not in str(conn)
        ws = hv.sim.ws(name)
        cs = ws.enum("SELECT * FROM Win32_ComputerSystem", CIMV2)[0]
        cpus = ws.enum("SELECT * FROM Win32_Processor", CIMV2)
        assert h["vendor"] == "hyperv" and h["state"] == "connected" and h["name"] == name
        assert h["connection_id"] == hv.conns[name]
        assert h["memory_mb"] == int(cs["TotalPhysicalMemory"]) // (1024 * 1024)
        assert h["cpu_cores"] == sum(int(c["NumberOfCores"]) for c in cpus)
        assert h["cpu_mhz"] == int(cpus[0]["MaxClockSpeed"])
        assert 0 < h["memory_used_mb"] < h["memory_mb"]
        assert h["facts"]["fqdn"] == "%s.contoso.local" % name.lower()
        truth = ws.vms()
        assert len(truth) == 4
        mine = {v["native_id"]: v for v in hv.all_items("/api/v1/vms") if v["host_id"] == h["id"]}
        assert set(mine) == set(truth)
        for guid, t in truth.items():
            v = mine[guid]
            assert v["name"] == t["name"] and v["vendor"] == "hyperv"
            assert v["power_state"] == POWER[t["state"]], (v, t)
            assert v["vcpus"] == t["vcpus"] and v["memory_mb"] == t["memory_mb"]
            assert v["paravirtual"] is (t["generation"] == 2)
            assert v["vendor_detail"]["generation"] == t["generation"]
            assert v["vendor_detail"]["enabled_state"] == t["state"]
        # every VM's disks and NICs, as the host's own device settings have them
        pools = {p["id"]: p["native_id"] for p in hv.all_items("/api/v1/storage-pools")}
        nets = {n["id"]: n["native_id"] for n in hv.all_items("/api/v1/networks")}
        vols = {v["Name"]: v["DeviceID"] for v in ws.enum("SELECT Name, DeviceID FROM Win32_Volume", CIMV2)}
        for guid in truth:
            dev, v = ws.devices(guid), mine[guid]
            want = sorted((d["HostResource"], vols[d["HostResource"][:3]], ws.vhd_size(d["HostResource"], name) >> 20)
                          for d in dev["Msvm_StorageAllocationSettingData"])
            assert want and sorted((d["path"], pools[d["pool_id"]], d["size_mb"]) for d in v["disks"]) == want, v
            assert all(d["size_gb"] == -(-d["size_mb"] // 1024) and d["id"].startswith("disk-") for d in v["disks"])
            macs = sorted(":".join(p["Address"][i:i + 2] for i in range(0, 12, 2))
                          for p in dev["Msvm_SyntheticEthernetPortSettingData"])
            assert sorted(n["mac"] for n in v["nics"]) == macs and macs, v
            switch = [c["HostResource"].split(',Name="')[1][:-1] for c in dev["Msvm_EthernetPortAllocationSettingData"]]
            assert [nets[n["network_id"]] for n in v["nics"]] == switch
    # both power states of the seed are represented
    vms = hv.all_items("/api/v1/vms")
    assert {v["power_state"] for v in vms} >= {"running", "stopped"}
    # measured use, from GetSummaryInformation (MemoryUsage, ProcessorLoad)
    for v in vms:
        if v["power_state"] == "running":
            assert 0 < v["memory_used_mb"] <= v["memory_mb"] and 0 <= v["cpu_usage_pct"] <= 100, v
            assert v["memory_used_mb"] == v["vendor_detail"]["memory_usage_mb"]
        elif v["power_state"] == "stopped":
            assert v["memory_used_mb"] == 0 and v["cpu_usage_pct"] == 0, v


def test_volumes_and_switches_are_pools_and_networks(hv):
    """A host's volumes with a mount point are its storage pools and its
    Msvm_VirtualEthernetSwitches its networks, as our own WS-Man client reads
    them from the host (a volume without a mount point is not offered)."""
    hosts = api_hosts(hv)
    pools = hv.all_items("/api/v1/storage-pools")
    nets = hv.all_items("/api/v1/networks")
    for name, h in hosts.items():
        ws = hv.sim.ws(name)
        vols = {v["DeviceID"]: v for v in ws.enum("SELECT * FROM Win32_Volume", CIMV2)
                if not v["Name"].startswith("\\\\?\\") and v["DriveType"] == "3"}
        assert len(vols) == 2, vols
        mine = {p["native_id"]: p for p in pools if p["host_ids"] == [h["id"]]}
        assert set(mine) == set(vols)
        for dev, v in vols.items():
            p = mine[dev]
            assert (p["name"], p["kind"], p["vendor"]) == (v["Name"], v["FileSystem"], "hyperv")
            assert p["capacity_mb"] == int(v["Capacity"]) >> 20 and p["free_mb"] == int(v["FreeSpace"]) >> 20
            assert p["shared"] is False and p["connection_id"] == hv.conns[name]
        switches = {sw["Name"]: sw for sw in ws.enum("SELECT * FROM Msvm_VirtualEthernetSwitch")}
        assert len(switches) == 2
        mine = {n["native_id"]: n for n in nets if n["host_ids"] == [h["id"]]}
        assert set(mine) == set(switches)
        for guid, sw in switches.items():
            assert (mine[guid]["name"], mine[guid]["kind"], mine[guid]["vlan"]) == (sw["ElementName"], "switch", None)
        assert sorted(h["pool_ids"]) == sorted(p["id"] for p in pools if h["id"] in p["host_ids"])
        assert sorted(h["network_ids"]) == sorted(n["id"] for n in nets if h["id"] in n["host_ids"])
    assert len(pools) == 4 and len(nets) == 4


def test_every_action_changes_the_host(hv):
    host = api_hosts(hv)["HV-NODE01"]
    vm = create(hv, host["id"], paravirtual=True)
    ws = hv.sim.ws("HV-NODE01")
    guid = vm["native_id"]
    assert ws.state(guid) == 3 and vm["power_state"] == "stopped"
    for action, state, raw in [("start", "running", 2), ("pause", "paused", 9), ("resume", "running", 2),
                               ("reboot", "running", 2), ("save", "saved", 6), ("start", "running", 2),
                               ("shutdown", "stopped", 3), ("start", "running", 2),
                               ("poweroff", "stopped", 3)]:
        job = act(hv, vm, action)
        assert job["progress"] == 100, job
        assert ws.state(guid) == raw, action
        assert api_vm(hv, guid)["power_state"] == state, action
    hv.run("DELETE", "/api/v1/vms/" + vm["id"], timeout=60)
    assert guid not in ws.vms()
    assert hv.get("/api/v1/vms/" + vm["id"]).status_code == 404


def test_refusals_in_the_contract_words(hv):
    host = api_hosts(hv)["HV-NODE01"]
    vm = create(hv, host["id"])
    job = hv.run("POST", "/api/v1/vms", {"name": vm["name"], "vcpus": 1, "memory_mb": 128,
                                         "host_id": host["id"]}, expect="failed")
    assert job["error"]["code"] == "name_in_use"
    assert act(hv, vm, "pause", "failed")["error"]["code"] == "not_running"
    assert act(hv, vm, "resume", "failed")["error"]["code"] == "not_paused"
    assert act(hv, vm, "poweroff", "failed")["error"]["code"] == "already_stopped"
    act(hv, vm, "start")
    assert act(hv, vm, "start", "failed")["error"]["code"] == "already_running"
    job = hv.run("DELETE", "/api/v1/vms/" + vm["id"], expect="failed")
    assert job["error"]["code"] == "vm_running"
    act(hv, vm, "pause")
    assert act(hv, vm, "start", "failed")["error"]["code"] == "vm_paused"
    assert hv.sim.ws("HV-NODE01").state(vm["native_id"]) == 9


def test_create_sets_generation_cpu_and_memory(hv):
    host = api_hosts(hv)["HV-NODE02"]
    ws = hv.sim.ws("HV-NODE02")
    vm = create(hv, host["id"], vcpus=3, memory_mb=768, paravirtual=True)
    t = ws.vms()[vm["native_id"]]
    assert t == {"name": vm["name"], "state": 3, "generation": 2, "vcpus": 3, "memory_mb": 768}
    assert vm["vcpus"] == 3 and vm["memory_mb"] == 768 and vm["paravirtual"] is True
    vm1 = create(hv, host["id"], vcpus=1, memory_mb=128, paravirtual=False)
    assert ws.vms()[vm1["native_id"]]["generation"] == 1


def _path_iid(path):
    """InstanceID in a WMI object path (Parent), unescaped."""
    return path.split('InstanceID="', 1)[1][:-1].replace("\\\\", "\\")


def test_create_with_disk_and_nic(hv):
    """A generation 2 create with a disk on a volume and a NIC on a switch:
    the host has a dynamic VHDX in the volume's Hyper-V folder, a SCSI
    controller, a drive holding it and a synthetic adapter connected to the
    switch (read with our own WS-Man client); the API reports them with ids."""
    host = api_hosts(hv)["HV-NODE01"]
    ws = hv.sim.ws("HV-NODE01")
    pool = [p for p in hv.all_items("/api/v1/storage-pools") if p["host_ids"] == [host["id"]] and p["name"] == "D:\\"][0]
    net = [n for n in hv.all_items("/api/v1/networks") if n["host_ids"] == [host["id"]] and n["name"] == "Internal"][0]
    free0, files0 = ws.free("D:"), ws.files()
    vm = create(hv, host["id"], paravirtual=True, disks=[{"size_gb": 3, "pool_id": pool["id"]}],
                nics=[{"network_id": net["id"]}])
    guid = vm["native_id"]
    dev = ws.devices(guid)
    (sasd,) = dev["Msvm_StorageAllocationSettingData"]
    path = sasd["HostResource"]
    assert path.lower().startswith(("D:\\Hyper-V\\%s\\Virtual Hard Disks\\" % guid).lower()) and path.endswith(".vhdx")
    assert sasd["ResourceSubType"] == "Microsoft:Hyper-V:Virtual Hard Disk"
    rasd = {d["InstanceID"]: d for d in dev["Msvm_ResourceAllocationSettingData"]}
    drive = rasd[_path_iid(sasd["Parent"])]
    assert drive["ResourceSubType"] == "Microsoft:Hyper-V:Synthetic Disk Drive" and drive["AddressOnParent"] == "0"
    assert rasd[_path_iid(drive["Parent"])]["ResourceSubType"] == "Microsoft:Hyper-V:Synthetic SCSI Controller"
    assert ws.vhd_size(path, "HV-NODE01") == 3 << 30
    files = ws.files()
    assert set(files) - set(files0) == {path.lower()} and files[path.lower()] == 4 << 20   # dynamic: 4 MiB
    assert ws.free("D:") == free0 - (4 << 20)
    (port,) = dev["Msvm_SyntheticEthernetPortSettingData"]
    assert port["Address"] == "000000000000"         # a dynamic MAC comes with the first start
    (conn,) = dev["Msvm_EthernetPortAllocationSettingData"]
    assert _path_iid(conn["Parent"]) == port["InstanceID"]
    assert 'Name="%s"' % net["native_id"] in conn["HostResource"] and conn["LastKnownSwitchName"] == "Internal"
    (d,) = vm["disks"]
    assert (d["pool_id"], d["size_gb"], d["size_mb"], d["bus"], d["path"]) == (pool["id"], 3, 3072, "scsi", path)
    (n,) = vm["nics"]
    assert (n["network_id"], n["mac"], n["model"]) == (net["id"], None, "synthetic")
    assert d["id"].startswith("disk-") and n["id"].startswith("nic-")
    # started: the port's dynamic MAC, reported with the same NIC id
    act(hv, vm, "start")
    (port,) = ws.devices(guid)["Msvm_SyntheticEthernetPortSettingData"]
    mac = ":".join(port["Address"][i:i + 2] for i in range(0, 12, 2))
    assert port["Address"].startswith("00155D")
    got = api_vm(hv, guid)
    assert got["nics"] == [dict(n, mac=mac)] and got["disks"] == vm["disks"]
    # deleted with its disks: the VHDX Polyvisor made goes too
    act(hv, got, "poweroff")
    hv.run("DELETE", "/api/v1/vms/%s?delete_disks=true" % vm["id"], timeout=60)
    assert guid not in ws.vms() and ws.files() == files0 and ws.free("D:") == free0


def test_generation_1_disks_on_ide_and_a_legacy_nic(hv):
    host = api_hosts(hv)["HV-NODE02"]
    ws = hv.sim.ws("HV-NODE02")
    vm = create(hv, host["id"], paravirtual=False, disks=[{"size_gb": 1, "pool": "C:\\"}, {"size_gb": 2, "pool": "D:\\"}],
                nics=[{"network": "External vSwitch"}, {"bridge": "Internal"}])
    dev = ws.devices(vm["native_id"])
    rasd = {d["InstanceID"]: d for d in dev["Msvm_ResourceAllocationSettingData"]}
    slots = sorted((rasd[_path_iid(rasd[_path_iid(s["Parent"])]["Parent"])]["Address"],
                    rasd[_path_iid(s["Parent"])]["AddressOnParent"], s["HostResource"][:3])
                   for s in dev["Msvm_StorageAllocationSettingData"])
    assert slots == [("0", "0", "C:\\"), ("0", "1", "D:\\")]
    assert len(dev["Msvm_EmulatedEthernetPortSettingData"]) == 2 and not dev["Msvm_SyntheticEthernetPortSettingData"]
    assert sorted(c["LastKnownSwitchName"] for c in dev["Msvm_EthernetPortAllocationSettingData"]) == \
        ["External vSwitch", "Internal"]
    pools = {p["id"]: p["name"] for p in hv.all_items("/api/v1/storage-pools")}
    assert [(pools[d["pool_id"]], d["size_gb"], d["bus"]) for d in vm["disks"]] == [("C:\\", 1, "ide"), ("D:\\", 2, "ide")]
    nets = {n["id"]: n["name"] for n in hv.all_items("/api/v1/networks")}
    assert [(nets[n["network_id"]], n["model"]) for n in vm["nics"]] == \
        [("External vSwitch", "emulated"), ("Internal", "emulated")]


def test_bad_disks_and_nics_leave_nothing(hv):
    """Unknown pool or switch, a disk bigger than the volume, a path on no
    volume, an image that is not there: each refused with its stable code,
    and the host has no new VM and no new file afterwards."""
    host = api_hosts(hv)["HV-NODE01"]
    ws = hv.sim.ws("HV-NODE01")
    vms0, files0, free0 = set(ws.vms()), ws.files(), ws.free("D:")
    pool = [p for p in hv.all_items("/api/v1/storage-pools") if p["host_ids"] == [host["id"]] and p["name"] == "D:\\"][0]
    other = [p for p in hv.all_items("/api/v1/storage-pools") if p["host_ids"] != [host["id"]]][0]
    base = {"vcpus": 1, "memory_mb": 256, "host_id": host["id"]}
    # refused before a job: another connection's pool
    r = hv.post("/api/v1/vms", dict(base, name="bad-other", disks=[{"size_gb": 1, "pool_id": other["id"]}]))
    assert r.status_code == 400 and r.json()["error"]["code"] == "unknown_pool", r.text
    for extra, code, words in (
            # a name no pool or switch has: left to the host, which knows no such volume or switch
            ({"disks": [{"size_gb": 1, "pool": "Q:\\"}]}, "unknown_pool", "Q:"),
            ({"nics": [{"network": "no-such-switch"}]}, "unknown_network", "no-such-switch"),
            # (polyvisord takes a disk path as a POSIX one: a Windows path never reaches the adapter)
            ({"disks": [{"path": "E:\\elsewhere\\x.vhdx"}]}, "disk_path_not_allowed", "storage pool"),
            ({"disks": [{"size_gb": pool["free_mb"] // 1024 + 1, "pool_id": pool["id"]}]}, None, "insufficient_storage"),
            # the VHDX is made, then attaching it fails (the 6th WMI job: DefineSystem, Modify,
            # CreateVirtualHardDisk, controller, drive, VHD): the VM and the file go
            ({"disks": [{"size_gb": 1, "pool": "D:\\"}], "nics": [{"network": "Internal"}],
              "paravirtual": True, "fault": 5}, "job_failed", "Failed to add device 'Virtual Hard Disk'.")):
        name = "bad-" + uuid.uuid4().hex[:6]
        if extra.pop("fault", None):
            hv.sim.fault(host="HV-NODE01", type="fail_job", after=5,
                         description="Failed to add device 'Virtual Hard Disk'.")
        r = hv.post("/api/v1/vms", dict(base, name=name, **extra))
        if r.status_code == 202:
            job = hv.wait_job(r.json()["id"], timeout=60)
            assert job["state"] == "failed", job
            err = job["error"]
            assert (code is None or err["code"] == code), job
            assert words in err["message"] + str(job.get("result")), job
        else:
            assert 400 <= r.status_code < 500, r.text
            assert code is None or r.json()["error"]["code"] == code, r.text
            assert words in r.text, r.text
        assert set(ws.vms()) == vms0 and ws.files() == files0 and ws.free("D:") == free0, extra
        assert not [v for v in hv.all_items("/api/v1/vms") if v["name"] == name]


def test_failed_create_leaves_nothing(hv):
    host = api_hosts(hv)["HV-NODE01"]
    ws = hv.sim.ws("HV-NODE01")
    before = set(ws.vms())
    # more vCPUs than the host's 32 logical processors (within placement's overcommit):
    # DefineSystem works, ModifyResourceSettings refuses it
    name = "too-big-" + uuid.uuid4().hex[:6]
    job = hv.run("POST", "/api/v1/vms", {"name": name, "vcpus": 33, "memory_mb": 256,
                                         "host_id": host["id"]}, expect="failed", timeout=60)
    assert job["error"]["code"] == "invalid_parameter", job
    assert "ModifyResourceSettings" in job["error"]["message"]
    assert set(ws.vms()) == before            # DestroySystem rolled the DefineSystem back
    assert not [v for v in hv.all_items("/api/v1/vms") if v["name"] == name]
    # the DefineSystem job itself fails: its ErrorDescription, and still nothing left
    hv.sim.fault(host="HV-NODE01", type="fail_job", description="Failed to create the planned VM.")
    job = hv.run("POST", "/api/v1/vms", {"name": name, "vcpus": 1, "memory_mb": 256,
                                         "host_id": host["id"]}, expect="failed", timeout=60)
    assert job["error"]["code"] == "job_failed" and "Failed to create the planned VM." in job["error"]["message"]
    assert "half-made" not in job["error"]["message"]
    assert set(ws.vms()) == before


def test_failed_wmi_job_carries_its_error_description(hv):
    vm = [v for v in hv.all_items("/api/v1/vms")
          if v["power_state"] == "stopped" and v["host_id"] == api_hosts(hv)["HV-NODE02"]["id"]][0]
    why = "The virtual machine '%s' could not be started because the hypervisor is not running." % vm["name"]
    hv.sim.fault(host="HV-NODE02", type="fail_job", description=why, code=32768)
    job = act(hv, vm, "start", "failed")
    assert job["error"]["code"] == "job_failed"
    assert why in job["error"]["message"]
    assert hv.sim.ws("HV-NODE02").state(vm["native_id"]) == 3
    assert api_vm(hv, vm["native_id"])["power_state"] == "stopped"


def test_wrong_password_is_auth_failed(daemon, sim):
    job = daemon.run("POST", "/api/v1/connections", sim.connection("HV-NODE01", password="not-the-pw"),
                     expect="failed", timeout=60)
    assert job["error"]["code"] == "auth_failed"
    assert "administrator" in job["error"]["message"]
    conn = daemon.all_items("/api/v1/connections")[0]
    assert conn["state"] == "auth_failed" and "refused the credentials" in conn["last_error"]
    assert "not-the-pw" not in daemon.log() and "not-the-pw" not in conn["last_error"]
    assert daemon.all_items("/api/v1/hosts") == []


def test_pinned_certificate(daemon, sim):
    with open(sim.cert) as f:
        pem = f.read()
    daemon.run("POST", "/api/v1/connections", sim.connection("HV-NODE01", insecure=False, ca_cert=pem),
               timeout=60)
    assert len(daemon.all_items("/api/v1/vms")) == 4
    # without the pin and without insecure, a self-signed host is refused
    job = daemon.run("POST", "/api/v1/connections", sim.connection("HV-NODE02", insecure=False),
                     expect="failed", timeout=60)
    assert job["error"]["code"] == "tls_verify_failed", job


def test_account_without_wmi_rights_is_refused(daemon, sim):
    job = daemon.run("POST", "/api/v1/connections",
                     sim.connection("HV-NODE01", username="reader", password="Read0nly!"),
                     expect="failed", timeout=60)
    assert job["error"]["code"] == "auth_failed"
    assert "Access is denied" in job["error"]["message"]


def test_ntlm_authentication(daemon, sim):
    body = sim.connection("HV-NODE02")
    body["url"] += "?auth=ntlm"
    daemon.run("POST", "/api/v1/connections", body, timeout=60)
    assert len([v for v in daemon.all_items("/api/v1/vms")]) == 4


def test_change_behind_our_back_arrives(hv):
    ws = hv.sim.ws("HV-NODE01")
    truth = ws.vms()
    guid = [g for g, t in truth.items() if t["state"] == 2][0]
    assert api_vm(hv, guid)["power_state"] == "running"
    assert ws.request_state(guid, 3) == 4096          # another client turns it off
    wait_for(lambda: api_vm(hv, guid)["power_state"] == "stopped", 20, "the VM to show stopped")
    # resized behind our back: the watch's periodic full listing brings the settings
    assert ws.modify(guid, "HV-NODE01", 2, 1536) == 4096
    wait_for(lambda: (api_vm(hv, guid)["vcpus"], api_vm(hv, guid)["memory_mb"]) == (2, 1536), 30,
             "the new size to show")
    # and deleted behind our back: it leaves the inventory
    wait_for(lambda: ws.state(guid) == 3, 10, "the turn-off job to finish")
    assert ws.destroy(guid, "HV-NODE01") == 4096
    wait_for(lambda: not [v for v in hv.all_items("/api/v1/vms") if v["native_id"] == guid], 20,
             "the VM to disappear")


def test_device_change_behind_our_back_arrives(hv):
    """A NIC's dynamic MAC, given when another client first starts the VM,
    arrives with the watch's full listings (the devices are part of what it
    compares)."""
    host = api_hosts(hv)["HV-NODE02"]
    ws = hv.sim.ws("HV-NODE02")
    vm = create(hv, host["id"], paravirtual=True, nics=[{"network": "Internal"}])
    assert [n["mac"] for n in vm["nics"]] == [None]
    assert ws.request_state(vm["native_id"], 2) == 4096
    wait_for(lambda: ws.devices(vm["native_id"])["Msvm_SyntheticEthernetPortSettingData"][0]["Address"] != "000000000000",
             10, "the host to give the MAC")
    a = ws.devices(vm["native_id"])["Msvm_SyntheticEthernetPortSettingData"][0]["Address"]
    mac = ":".join(a[i:i + 2] for i in range(0, 12, 2))
    wait_for(lambda: [n["mac"] for n in api_vm(hv, vm["native_id"])["nics"]] == [mac], 30, "the MAC to show")
    assert api_vm(hv, vm["native_id"])["nics"][0]["id"] == vm["nics"][0]["id"]


def test_disk_sizes_beyond_the_first_listing_arrive(daemon, tmpdir_path):
    """A full listing reads at most 32 VHD sizes itself (one WMI call each);
    on a host with more disks the rest are read while the watch waits and
    arrive with the next full listing: null first, never wrong."""
    sim = Sim(os.path.join(tmpdir_path, "many"), hosts=1).start("--vms", "40")
    try:
        host = sorted(sim.urls)[0]
        conn = sim.connection(host)
        conn["url"] += "?poll=8"         # the sizes come with the full listing after a wait
        daemon.run("POST", "/api/v1/connections", conn, timeout=120)
        ws = sim.ws(host)
        sizes = {d["HostResource"]: ws.vhd_size(d["HostResource"], host) >> 20
                 for d in ws.enum("SELECT * FROM Msvm_StorageAllocationSettingData")}
        assert len(sizes) == 40

        def reported():
            return [d for v in daemon.all_items("/api/v1/vms") for d in v["disks"]]
        first = reported()
        assert len(first) == 40 and sum(d["size_mb"] is None for d in first) == 8, first
        assert all(d["size_mb"] == sizes[d["path"]] for d in first if d["size_mb"] is not None)
        wait_for(lambda: all(d["size_mb"] == sizes[d["path"]] for d in reported()), 60,
                 "every disk's size")
    finally:
        sim.stop()


def test_live_migration_between_hosts(hv):
    hosts = api_hosts(hv)
    ws1, ws2 = hv.sim.ws("HV-NODE01"), hv.sim.ws("HV-NODE02")
    guid = [g for g, t in ws1.vms().items() if t["state"] == 2][0]
    vm = api_vm(hv, guid)
    job = hv.run("POST", "/api/v1/vms/%s/migrate" % vm["id"],
                 {"host_id": hosts["HV-NODE02"]["id"], "mode": "live"}, timeout=60)
    assert job["progress"] == 100
    assert guid not in ws1.vms() and ws2.vms()[guid]["state"] == 2
    moved = api_vm(hv, guid)
    assert moved["id"] == vm["id"] and moved["host_id"] == hosts["HV-NODE02"]["id"]
    assert moved["connection_id"] == hv.conns["HV-NODE02"] and moved["power_state"] == "running"


def test_quick_migration_saves_moves_restores(hv):
    hosts = api_hosts(hv)
    ws1, ws2 = hv.sim.ws("HV-NODE02"), hv.sim.ws("HV-NODE01")
    vm = create(hv, hosts["HV-NODE02"]["id"])
    act(hv, vm, "start")
    job = hv.run("POST", "/api/v1/vms/%s/migrate" % vm["id"],
                 {"host_id": hosts["HV-NODE01"]["id"], "mode": "quick"}, timeout=60)
    assert job["state"] == "succeeded"
    assert vm["native_id"] not in ws1.vms() and ws2.vms()[vm["native_id"]]["state"] == 2
    moved = api_vm(hv, vm["native_id"])
    assert moved["host_id"] == hosts["HV-NODE01"]["id"] and moved["power_state"] == "running"


def test_simulator_killed_mid_job_and_back(hv):
    sim = hv.sim
    host = api_hosts(hv)["HV-NODE01"]
    vm = [v for v in hv.all_items("/api/v1/vms")
          if v["power_state"] == "stopped" and v["host_id"] == host["id"]][0]
    sim.save()                                        # the state file has caught up
    sim.config(job_time=[5, 5])
    job_id = hv.submit("POST", "/api/v1/vms/%s/start" % vm["id"])
    wait_for(lambda: sim.ws("HV-NODE01").state(vm["native_id"]) == 10, 10, "the start to be under way")
    sim.kill()
    job = hv.wait_job(job_id, 60)
    assert job["state"] == "failed", job
    assert job["error"]["code"] in ("peer_unreachable", "timeout"), job
    conn_id = hv.conns["HV-NODE01"]
    wait_for(lambda: hv.ok("GET", "/api/v1/connections/" + conn_id)["state"] == "disconnected", 30,
             "the connection to show disconnected")
    wait_for(lambda: api_hosts(hv)["HV-NODE01"]["state"] == "disconnected", 15,
             "the host to show disconnected")
    sim.start()                                       # same ports, same state file
    wait_for(lambda: hv.ok("GET", "/api/v1/connections/" + conn_id)["state"] == "connected", 60,
             "the connection to come back")
    wait_for(lambda: api_hosts(hv)["HV-NODE01"]["state"] == "connected", 30, "the host to come back")
    # the VM caught starting came back off (README), and Polyvisor agrees
    assert sim.ws("HV-NODE01").state(vm["native_id"]) == 3
    wait_for(lambda: api_vm(hv, vm["native_id"])["power_state"] == "stopped", 15, "the VM state")
    sim.config(job_time=[0.2, 0.4])
    act(hv, api_vm(hv, vm["native_id"]), "start")
    assert sim.ws("HV-NODE01").state(vm["native_id"]) == 2


def test_cancel_stops_waiting_for_the_wmi_job(hv):
    hv.sim.config(job_time=[4, 4])
    vm = [v for v in hv.all_items("/api/v1/vms")
          if v["power_state"] == "stopped" and v["host_id"] == api_hosts(hv)["HV-NODE02"]["id"]][0]
    job_id = hv.submit("POST", "/api/v1/vms/%s/start" % vm["id"])
    wait_for(lambda: hv.sim.ws("HV-NODE02").state(vm["native_id"]) == 10, 10, "the start to be under way")
    r = hv.post("/api/v1/jobs/%s/cancel" % job_id)
    assert r.status_code in (200, 202), r.text
    job = hv.wait_job(job_id, 20)
    assert job["state"] == "cancelled", job
    hv.sim.config(job_time=[0.2, 0.4])


def test_plain_http_only_where_the_host_allows_it(daemon, tmpdir_path):
    for allow in (False, True):
        sim = Sim(os.path.join(tmpdir_path, "plain-%d" % allow), hosts=1, tls=False)
        sim.start(*(["--allow-unencrypted"] if allow else []))
        try:
            url = sim.urls["HV-NODE01"]
            assert url.startswith("http://")
            body = {"type": "hyperv", "url": url, "username": USER, "password": PASSWORD}
            if allow:
                daemon.run("POST", "/api/v1/connections", body, timeout=60)
                assert len(daemon.all_items("/api/v1/vms")) == 4
            else:   # WinRM's AllowUnencrypted=false: Basic over HTTP is refused
                job = daemon.run("POST", "/api/v1/connections", body, expect="failed", timeout=60)
                assert job["error"]["code"] == "auth_failed"
                assert "AllowUnencrypted" in job["error"]["message"]
        finally:
            sim.stop()


def test_a_dropped_read_is_sent_again(hv):
    vm = [v for v in hv.all_items("/api/v1/vms")
          if v["power_state"] == "stopped" and v["host_id"] == api_hosts(hv)["HV-NODE02"]["id"]][0]
    # the action's first request (a Get of the VM) finds its connection closed unanswered
    hv.sim.fault(host="HV-NODE02", type="drop", count=1)
    act(hv, vm, "start")
    assert hv.sim.ws("HV-NODE02").state(vm["native_id"]) == 2
    assert hv.ok("GET", "/api/v1/connections/" + hv.conns["HV-NODE02"])["state"] == "connected"


def test_reconfigure_through_modify_resource_settings(hv):
    host = api_hosts(hv)["HV-NODE01"]
    ws = hv.sim.ws("HV-NODE01")
    vm = create(hv, host["id"], vcpus=1, memory_mb=256)
    hv.run("POST", "/api/v1/vms/%s/reconfigure" % vm["id"], {"vcpus": 4, "memory_mb": 2048}, timeout=60)
    t = ws.vms()[vm["native_id"]]
    assert (t["vcpus"], t["memory_mb"]) == (4, 2048)
    v = api_vm(hv, vm["native_id"])
    assert (v["vcpus"], v["memory_mb"]) == (4, 2048)
    act(hv, v, "start")
    # Hyper-V changes the processor count only while the VM is off ...
    job = hv.run("POST", "/api/v1/vms/%s/reconfigure" % vm["id"], {"vcpus": 2}, expect="failed", timeout=60)
    assert job["error"]["code"] == "vm_running"
    assert ws.vms()[vm["native_id"]]["vcpus"] == 4
    # ... and the memory of a running VM as well
    hv.run("POST", "/api/v1/vms/%s/reconfigure" % vm["id"], {"memory_mb": 1024}, timeout=60)
    assert ws.vms()[vm["native_id"]]["memory_mb"] == 1024


# ---- device changes (vm_device): truth from the host's device settings over WS-Man ----

def _by_iid(dev, cls):
    return {d["InstanceID"]: d for d in dev[cls]}


def test_device_changes_on_a_running_generation_2_vm(hv):
    """On a running generation 2 VM every change is hot, as on Hyper-V: a disk
    added to its SCSI controller (a new dynamic VHDX), grown online, removed
    (its file deleted: Polyvisor made it); a synthetic adapter added, moved to
    another switch, removed.  The host's settings, files and free space say so."""
    host = api_hosts(hv)["HV-NODE01"]
    ws = hv.sim.ws("HV-NODE01")
    nets = {n["name"]: n for n in hv.all_items("/api/v1/networks") if n["host_ids"] == [host["id"]]}
    pool = [p for p in hv.all_items("/api/v1/storage-pools") if p["host_ids"] == [host["id"]] and p["name"] == "D:\\"][0]
    vm = create(hv, host["id"], paravirtual=True, disks=[{"size_gb": 1, "pool_id": pool["id"]}],
                nics=[{"network_id": nets["Internal"]["id"]}])
    guid, base = vm["native_id"], "/api/v1/vms/" + vm["id"]
    act(hv, vm, "start")
    free0, files0 = ws.free("D:"), ws.files()
    # add a disk: a second drive on the same SCSI controller, the next slot
    job = hv.run("POST", base + "/disks", {"size_gb": 2, "pool_id": pool["id"]}, timeout=60)
    assert job["result"]["live"] is True, job
    dev = ws.devices(guid)
    rasd = _by_iid(dev, "Msvm_ResourceAllocationSettingData")
    assert len(dev["Msvm_StorageAllocationSettingData"]) == 2
    new = [s for s in dev["Msvm_StorageAllocationSettingData"] if s["HostResource"].lower() not in files0][0]
    drive = rasd[_path_iid(new["Parent"])]
    assert drive["AddressOnParent"] == "1"
    assert len([d for d in rasd.values() if d["ResourceSubType"].endswith("SCSI Controller")]) == 1
    assert ws.vhd_size(new["HostResource"], "HV-NODE01") == 2 << 30
    assert ws.free("D:") == free0 - (4 << 20)
    got = hv.ok("GET", base)
    disk = [d for d in got["disks"] if d["id"] == job["result"]["disk_id"]][0]
    assert (disk["path"], disk["size_gb"], disk["bus"], disk["pool_id"]) == (new["HostResource"], 2, "scsi", pool["id"])
    # grow it while running (a SCSI disk grows online); shrinking is refused before a job
    hv.run("POST", base + "/disks/%s/resize" % disk["id"], {"size_gb": 5}, timeout=60)
    assert ws.vhd_size(new["HostResource"], "HV-NODE01") == 5 << 30
    assert ws.free("D:") == free0 - (4 << 20)           # dynamic: the file does not grow
    assert [d["size_gb"] for d in hv.ok("GET", base)["disks"] if d["id"] == disk["id"]] == [5]
    r = hv.post(base + "/disks/%s/resize" % disk["id"], {"size_gb": 3})
    assert r.status_code == 400 and r.json()["error"]["code"] == "shrink_not_supported", r.text
    # a second NIC, hot, on the external switch
    job = hv.run("POST", base + "/nics", {"network_id": nets["External vSwitch"]["id"]}, timeout=60)
    dev = ws.devices(guid)
    ports = _by_iid(dev, "Msvm_SyntheticEthernetPortSettingData")
    assert len(ports) == 2 and len(dev["Msvm_EthernetPortAllocationSettingData"]) == 2
    nic = [n for n in hv.ok("GET", base)["nics"] if n["id"] == job["result"]["nic_id"]][0]
    assert nic["network_id"] == nets["External vSwitch"]["id"]
    # the first NIC to another switch: its connection's HostResource
    first = [n for n in hv.ok("GET", base)["nics"] if n["id"] != nic["id"]][0]
    hv.run("PATCH", base + "/nics/" + first["id"], {"network_id": nets["External vSwitch"]["id"]}, timeout=60)
    conns = ws.devices(guid)["Msvm_EthernetPortAllocationSettingData"]
    assert sorted(c["LastKnownSwitchName"] for c in conns) == ["External vSwitch", "External vSwitch"]
    assert all('Name="%s"' % nets["External vSwitch"]["native_id"] in c["HostResource"] for c in conns)
    assert [n["network_id"] for n in hv.ok("GET", base)["nics"] if n["id"] == first["id"]] == \
        [nets["External vSwitch"]["id"]]
    # remove the new NIC (port and connection go) and the new disk (drive, setting and file go)
    hv.run("DELETE", base + "/nics/" + nic["id"], timeout=60)
    dev = ws.devices(guid)
    assert len(dev["Msvm_SyntheticEthernetPortSettingData"]) == 1 and len(dev["Msvm_EthernetPortAllocationSettingData"]) == 1
    hv.run("DELETE", base + "/disks/" + disk["id"], timeout=60)
    dev = ws.devices(guid)
    assert len(dev["Msvm_StorageAllocationSettingData"]) == 1
    assert not [d for d in dev["Msvm_ResourceAllocationSettingData"] if d["InstanceID"] == drive["InstanceID"]]
    assert ws.files() == files0 and ws.free("D:") == free0
    got = hv.ok("GET", base)
    assert len(got["disks"]) == 1 and len(got["nics"]) == 1


def test_failed_device_job_leaves_nothing(hv):
    """The VHD setting's AddResourceSettings job fails after the file and the
    drive were made: both go again, and the job carries the host's words."""
    host = api_hosts(hv)["HV-NODE01"]
    ws = hv.sim.ws("HV-NODE01")
    vm = create(hv, host["id"], paravirtual=True, disks=[{"size_gb": 1, "pool": "D:\\"}])
    guid, base = vm["native_id"], "/api/v1/vms/" + vm["id"]
    dev0, files0, free0 = ws.devices(guid), ws.files(), ws.free("D:")
    # jobs: CreateVirtualHardDisk, the drive, the VHD setting (the third fails)
    hv.sim.fault(host="HV-NODE01", type="fail_job", after=2, description="Failed to add device 'Virtual Hard Disk'.")
    job = hv.run("POST", base + "/disks", {"size_gb": 1, "pool": "D:\\"}, expect="failed", timeout=60)
    assert "Failed to add device 'Virtual Hard Disk'." in job["error"]["message"], job
    assert ws.devices(guid) == dev0 and ws.files() == files0 and ws.free("D:") == free0
    assert hv.ok("GET", base)["disks"] == vm["disks"]


def test_generation_1_changes_need_the_vm_off(hv):
    """A generation 1 VM keeps its disks on IDE and has legacy adapters: Hyper-V
    changes neither while it runs.  Refused with vm_running and a reason, nothing
    made; once off, a disk goes to the next IDE slot and the adapter goes."""
    host = api_hosts(hv)["HV-NODE02"]
    ws = hv.sim.ws("HV-NODE02")
    vm = create(hv, host["id"], paravirtual=False, disks=[{"size_gb": 1, "pool": "D:\\"}],
                nics=[{"network": "Internal"}])
    guid, base = vm["native_id"], "/api/v1/vms/" + vm["id"]
    act(hv, vm, "start")
    dev0, files0 = ws.devices(guid), ws.files()
    (disk,), (nic,) = vm["disks"], vm["nics"]
    for method, path, body in (("POST", "/disks", {"size_gb": 1, "pool": "D:\\"}),
                               ("POST", "/disks/%s/resize" % disk["id"], {"size_gb": 2}),
                               ("POST", "/nics", {"network": "Internal"}),
                               ("DELETE", "/nics/" + nic["id"], None)):
        job = hv.run(method, base + path, body, expect="failed", timeout=60)
        assert job["error"]["code"] == "vm_running", job
        assert "off" in job["error"]["message"], job
        assert ws.devices(guid) == dev0 and ws.files() == files0
    act(hv, hv.ok("GET", base), "poweroff")
    hv.run("POST", base + "/disks", {"size_gb": 1, "pool": "D:\\"}, timeout=60)
    hv.run("POST", base + "/disks/%s/resize" % disk["id"], {"size_gb": 2}, timeout=60)
    hv.run("DELETE", base + "/nics/" + nic["id"], timeout=60)
    dev = ws.devices(guid)
    rasd = _by_iid(dev, "Msvm_ResourceAllocationSettingData")
    assert sorted((rasd[_path_iid(s["Parent"])]["AddressOnParent"], rasd[_path_iid(rasd[_path_iid(s["Parent"])]["Parent"])]["Address"])
                  for s in dev["Msvm_StorageAllocationSettingData"]) == [("0", "0"), ("1", "0")]
    assert ws.vhd_size(disk["path"], "HV-NODE02") == 2 << 30
    assert not dev["Msvm_EmulatedEthernetPortSettingData"] and not dev["Msvm_EthernetPortAllocationSettingData"]
    assert len(hv.ok("GET", base)["disks"]) == 2 and hv.ok("GET", base)["nics"] == []


def test_storage_move_of_a_running_vm(hv):
    """POST .../disks/{id}/move to another volume: Hyper-V's storage migration
    (MigrateVirtualSystemToHost, MigrationType Storage, to the VM's own host)
    while the VM runs; the file is on the new volume and gone from the old,
    the VM's setting names the new path, free space follows.  A move whose
    job fails leaves the disk where it was."""
    host = api_hosts(hv)["HV-NODE01"]
    ws = hv.sim.ws("HV-NODE01")
    pools = {p["name"]: p for p in hv.all_items("/api/v1/storage-pools") if p["host_ids"] == [host["id"]]}
    vm = create(hv, host["id"], paravirtual=True, disks=[{"size_gb": 2, "pool_id": pools["D:\\"]["id"]}])
    guid, base = vm["native_id"], "/api/v1/vms/" + vm["id"]
    act(hv, vm, "start")
    (disk,) = vm["disks"]
    old = disk["path"]
    freec, freed = ws.free("C:"), ws.free("D:")
    # a failed migration job: nothing moved
    hv.sim.fault(host="HV-NODE01", type="fail_job", description="Virtual machine migration operation failed.")
    job = hv.run("POST", base + "/disks/%s/move" % disk["id"], {"pool_id": pools["C:\\"]["id"]}, expect="failed",
                 timeout=60)
    assert "Virtual machine migration operation failed." in job["error"]["message"], job
    (sasd,) = ws.devices(guid)["Msvm_StorageAllocationSettingData"]
    assert sasd["HostResource"] == old and old.lower() in ws.files() and ws.free("C:") == freec
    # the move
    hv.run("POST", base + "/disks/%s/move" % disk["id"], {"pool_id": pools["C:\\"]["id"]}, timeout=60)
    (sasd,) = ws.devices(guid)["Msvm_StorageAllocationSettingData"]
    new = sasd["HostResource"]
    assert new.lower() == ("C:\\Hyper-V\\%s\\Virtual Hard Disks\\" % guid + old.rsplit("\\", 1)[1]).lower()
    files = ws.files()
    assert new.lower() in files and old.lower() not in files
    assert ws.free("C:") == freec - (4 << 20) and ws.free("D:") == freed + (4 << 20)
    assert ws.vhd_size(new, "HV-NODE01") == 2 << 30
    assert ws.state(guid) == 2                            # still running
    got = hv.ok("GET", base)
    (d,) = got["disks"]
    assert (d["id"], d["path"], d["pool_id"], d["size_gb"]) == (disk["id"], new, pools["C:\\"]["id"], 2)


def test_bad_device_changes_are_4xx_and_change_nothing(hv):
    """Refused before a job, each with its stable code, and the host's settings
    and files are as they were: an unknown pool or network, a shrink, a move to
    the pool the disk is on, a disk or NIC the VM does not have."""
    host = api_hosts(hv)["HV-NODE01"]
    ws = hv.sim.ws("HV-NODE01")
    pool = [p for p in hv.all_items("/api/v1/storage-pools") if p["host_ids"] == [host["id"]] and p["name"] == "D:\\"][0]
    vm = create(hv, host["id"], paravirtual=True, disks=[{"size_gb": 2, "pool_id": pool["id"]}], nics=[{"network": "Internal"}])
    guid, base = vm["native_id"], "/api/v1/vms/" + vm["id"]
    (disk,), (nic,) = vm["disks"], vm["nics"]
    dev0, files0 = ws.devices(guid), ws.files()
    for r, status, code in (
            (hv.post(base + "/disks", {"size_gb": 1, "pool_id": "pool-none"}), 400, "unknown_pool"),
            (hv.post(base + "/nics", {"network_id": "net-none"}), 400, "unknown_network"),
            (hv.patch(base + "/nics/" + nic["id"], {"network_id": "net-none"}), 400, "unknown_network"),
            (hv.post(base + "/disks/%s/resize" % disk["id"], {"size_gb": 1}), 400, "shrink_not_supported"),
            (hv.post(base + "/disks/%s/move" % disk["id"], {"pool_id": pool["id"]}), 409, "same_pool"),
            (hv.delete(base + "/disks/disk-000000000000"), 404, "disk_not_found"),
            (hv.delete(base + "/nics/nic-000000000000"), 404, "nic_not_found")):
        assert r.status_code == status and r.json()["error"]["code"] == code, r.text
    assert ws.devices(guid) == dev0 and ws.files() == files0
    assert not [j for j in hv.all_items("/api/v1/jobs") if j["kind"] == "vm.device"]


# ---- checkpoints (vm_snapshots, vm_snapshot): truth from the host's snapshot settings ----

def _checkpoints(ws, guid):
    """InstanceID GUID -> {name, parent (GUID or None), saved} of the VM's checkpoints as the host
    lists them (Msvm_SnapshotOfVirtualSystem), and the GUID its Msvm_MostCurrentSnapshotInBranch names."""
    vm = "{Msvm_ComputerSystem.CreationClassName='Msvm_ComputerSystem',Name='%s'}" % guid
    out = {}
    for s in ws.enum("ASSOCIATORS OF %s WHERE AssocClass = Msvm_SnapshotOfVirtualSystem" % vm):
        assert s["VirtualSystemType"] == "Microsoft:Hyper-V:Snapshot:Realized"
        parent = s["Parent"] and s["Parent"].split('InstanceID="Microsoft:', 1)[1].rstrip('"')
        out[s["InstanceID"].split(":", 1)[1]] = {"name": s["ElementName"], "parent": parent or None,
                                                  "saved": s["IsSaved"] == "true"}
    cur = ws.enum("ASSOCIATORS OF %s WHERE AssocClass = Msvm_MostCurrentSnapshotInBranch" % vm)
    return out, cur[0]["InstanceID"].split(":", 1)[1] if cur else None


def test_checkpoints_take_revert_and_delete(hv):
    host = api_hosts(hv)["HV-NODE01"]
    ws = hv.sim.ws("HV-NODE01")
    vm = create(hv, host["id"], vcpus=1, memory_mb=512)
    guid, base = vm["native_id"], "/api/v1/vms/%s/snapshots" % vm["id"]
    # a stopped VM: a checkpoint without memory
    j1 = hv.run("POST", base, {"name": "before-patch"}, timeout=60)
    hv.run("POST", "/api/v1/vms/%s/reconfigure" % vm["id"], {"vcpus": 4, "memory_mb": 1024}, timeout=60)
    act(hv, vm, "start")
    # a running VM: a standard checkpoint, memory kept (IsSaved)
    j2 = hv.run("POST", base, {"name": "patched"}, timeout=60)
    cps, cur = _checkpoints(ws, guid)
    by_name = {c["name"]: k for k, c in cps.items()}
    assert set(by_name) == {"before-patch", "patched"}
    k1, k2 = by_name["before-patch"], by_name["patched"]
    assert cps[k1]["parent"] is None and cps[k2]["parent"] == k1 and cur == k2
    assert not cps[k1]["saved"] and cps[k2]["saved"]
    items = {s["name"]: s for s in hv.ok("GET", base)["items"]}
    assert items["patched"]["id"] == j2["result"]["snapshot_id"]
    assert items["before-patch"]["id"] == j1["result"]["snapshot_id"]
    assert items["patched"]["parent_id"] == items["before-patch"]["id"]
    assert items["patched"]["current"] and items["patched"]["memory"] and not items["before-patch"]["memory"]
    # a third on top, then back to the first: the running VM is turned off, the settings go back
    hv.run("POST", base, {"name": "third"}, timeout=60)
    k3 = [k for k, c in _checkpoints(ws, guid)[0].items() if c["name"] == "third"][0]
    hv.run("POST", "%s/%s/revert" % (base, items["before-patch"]["id"]), timeout=60)
    t = ws.vms()[guid]
    assert (t["state"], t["vcpus"], t["memory_mb"]) == (3, 1, 512)
    assert _checkpoints(ws, guid)[1] == k1
    assert api_vm(hv, guid)["power_state"] == "stopped"
    # back to the checkpoint with memory: the VM runs again, with the settings it had then
    hv.run("POST", "%s/%s/revert" % (base, items["patched"]["id"]), timeout=60)
    t = ws.vms()[guid]
    assert (t["state"], t["vcpus"], t["memory_mb"]) == (2, 4, 1024)
    assert _checkpoints(ws, guid)[1] == k2
    # delete one in the middle: its child moves up to its parent
    hv.run("DELETE", "%s/%s" % (base, items["patched"]["id"]), timeout=60)
    cps, cur = _checkpoints(ws, guid)
    assert set(cps) == {k1, k3} and cps[k3]["parent"] == k1 and cur == k1
    assert {s["name"] for s in hv.ok("GET", base)["items"]} == {"before-patch", "third"}
    # a running VM's checkpoint without memory is a production checkpoint (not IsSaved)
    hv.run("POST", base, {"name": "production", "memory": False}, timeout=60)
    cps, cur = _checkpoints(ws, guid)
    assert cps[cur]["name"] == "production" and not cps[cur]["saved"] and cps[cur]["parent"] == k1
    # delete with children: the whole subtree goes
    hv.run("DELETE", "%s/%s?children=true" % (base, items["before-patch"]["id"]), timeout=60)
    assert _checkpoints(ws, guid) == ({}, None)
    assert hv.ok("GET", base)["items"] == []
    assert ws.vms()[guid]["state"] == 2


def test_failed_checkpoint_jobs_leave_the_tree_as_it_was(hv):
    """A CreateSnapshot or ApplySnapshot job the host fails: the job fails with the host's
    words, and the checkpoints, the current one and the VM's settings stay as they were."""
    host = api_hosts(hv)["HV-NODE01"]
    ws = hv.sim.ws("HV-NODE01")
    vm = create(hv, host["id"], vcpus=1, memory_mb=512)
    guid, base = vm["native_id"], "/api/v1/vms/%s/snapshots" % vm["id"]
    hv.run("POST", base, {"name": "good"}, timeout=60)
    before = _checkpoints(ws, guid)
    why = "Checkpoint operation for '%s' failed: not enough space on the disk." % vm["name"]
    hv.sim.fault(host="HV-NODE01", type="fail_job", description=why, code=32768)
    job = hv.run("POST", base, {"name": "bad"}, expect="failed", timeout=60)
    assert job["error"]["code"] == "job_failed" and why in job["error"]["message"]
    assert _checkpoints(ws, guid) == before
    assert [s["name"] for s in hv.ok("GET", base)["items"]] == ["good"]
    hv.run("POST", "/api/v1/vms/%s/reconfigure" % vm["id"], {"vcpus": 2}, timeout=60)
    hv.sim.fault(host="HV-NODE01", type="fail_job", description="Apply failed.", code=32768)
    sid = hv.ok("GET", base)["items"][0]["id"]
    job = hv.run("POST", "%s/%s/revert" % (base, sid), expect="failed", timeout=60)
    assert job["error"]["code"] == "job_failed"
    assert ws.vms()[guid]["vcpus"] == 2 and _checkpoints(ws, guid) == before
