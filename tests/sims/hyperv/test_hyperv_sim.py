"""Tests of the Hyper-V simulator over the wire, written from DSP0226 / MS-WSMV and the Hyper-V
WMI v2 class documentation: raw SOAP 1.2 envelopes built here with ElementTree, sent with
`requests`, answers read with ElementTree.  Nothing of the simulator is imported, so these
tests also show what a client must send and may expect.

Run: /usr/bin/python3 -m pytest -q tests/sims/hyperv
"""

import base64
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
SIM = os.path.join(HERE, "hypervsim.py")
USER, PASSWORD = "hvadmin", "S3cret!pw"

S = "http://www.w3.org/2003/05/soap-envelope"
A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
N = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CIMNS = "http://schemas.dmtf.org/wbem/wscim/1/common"
F = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
ANON = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
WQL = "http://schemas.microsoft.com/wbem/wsman/1/WQL"
V2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/"
CIMV2 = "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/"
ENUM = N + "/Enumerate"
PULL = N + "/Pull"
RELEASE = N + "/Release"
GET = "http://schemas.xmlsoap.org/ws/2004/09/transfer/Get"

for _p, _u in (("s", S), ("a", A), ("n", N), ("w", W), ("xsi", XSI)):
    ET.register_namespace(_p, _u)


def t(ns, local):
    return "{%s}%s" % (ns, local)


# ---- process management -------------------------------------------------------------------

def free_port_block(n):
    """A base port with n consecutive free loopback ports."""
    for _ in range(50):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
        s.close()
        if base + n >= 65000:
            continue
        ok = True
        for p in range(base, base + n + 1):
            c = socket.socket()
            try:
                c.bind(("127.0.0.1", p))
            except OSError:
                ok = False
            finally:
                c.close()
        if ok:
            return base
    raise RuntimeError("no free port block")


class Sim:
    def __init__(self, *extra, hosts=2, vms=6):
        base = free_port_block(hosts + 1)
        args = [sys.executable, SIM, "--hosts", str(hosts), "--base-port", str(base),
                "--user", USER, "--password", PASSWORD, "--vms", str(vms),
                "--control-port", str(base + hosts), "--job-time", "0.5:0.8", "--seed", "7"]
        args += list(extra)
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.hosts = {}
        self.control = None
        buf = b""
        deadline = time.time() + 15
        fd = self.proc.stdout.fileno()
        while self.control is None and time.time() < deadline:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
            if not ready:
                break
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                parts = line.decode().split()
                if parts and parts[0] == "host":
                    self.hosts[parts[1]] = parts[2]
                elif parts and parts[0] == "control":
                    self.control = parts[1]
        if self.control is None:
            self.stop()
            raise RuntimeError("simulator did not start within 15 s")

    def ctl(self, path, obj=None):
        if obj is None:
            r = requests.get(self.control + path, timeout=5)
        else:
            r = requests.post(self.control + path, json=obj, timeout=5)
        assert r.status_code == 200, r.text
        return r.json()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        return self.proc.returncode


@pytest.fixture(scope="module")
def sim():
    s = Sim("--allow-unencrypted", "--limited-user", "viewer:View0nly")
    yield s
    rc = s.stop()
    assert rc == 0, "the simulator should exit cleanly on SIGTERM"


@pytest.fixture(autouse=True)
def _clean_faults(request):
    yield
    if "sim" in request.fixturenames:
        s = request.getfixturevalue("sim")
        if s.proc.poll() is None:
            s.ctl("/clear", {})
            s.ctl("/config", {"job_time": [0.5, 0.8], "enum_timeout": 240})


# ---- a tiny WS-Man client written from the documents ----------------------------------------

class Reply:
    def __init__(self, r, message_id):
        self.status = r.status_code
        self.http = r
        self.sent_id = message_id
        self.root = ET.fromstring(r.content) if r.content else None

    @property
    def body(self):
        return self.root.find(t(S, "Body"))

    def header(self, ns, local):
        return self.root.find(t(S, "Header")).findtext(t(ns, local))

    @property
    def fault(self):
        return self.body.find(t(S, "Fault")) if self.root is not None else None

    def fault_subcode(self):
        """The subcode QName resolved to {uri}local (its prefix must be declared)."""
        raw = self.fault.findtext(t(S, "Code") + "/" + t(S, "Subcode") + "/" + t(S, "Value"))
        prefix, local = raw.split(":")
        return "{%s}%s" % (self._ns_decls()[prefix], local)

    def _ns_decls(self):
        import io
        decls = {}
        for ev, (p, u) in ET.iterparse(io.BytesIO(self.http.content), events=("start-ns",)):
            decls.setdefault(p, u)
        return decls

    def wsman_fault(self):
        return self.fault.find(t(S, "Detail") + "/" + t(F, "WSManFault"))


class Client:
    def __init__(self, url, user=USER, password=PASSWORD):
        self.url = url
        self.session = requests.Session()
        self.auth = (user, password)
        self.verify = True

    def send(self, action, resource_uri, body_el=None, selectors=None, max_env=512000,
             timeout="PT60S", raw=None, auth=True):
        mid = "uuid:" + str(uuid.uuid4()).upper()
        if raw is None:
            env = ET.Element(t(S, "Envelope"))
            h = ET.SubElement(env, t(S, "Header"))
            ET.SubElement(h, t(A, "To")).text = self.url
            if resource_uri:
                ru = ET.SubElement(h, t(W, "ResourceURI"))
                ru.text = resource_uri
                ru.set(t(S, "mustUnderstand"), "true")
            rt = ET.SubElement(h, t(A, "ReplyTo"))
            ad = ET.SubElement(rt, t(A, "Address"))
            ad.text = ANON
            ad.set(t(S, "mustUnderstand"), "true")
            ac = ET.SubElement(h, t(A, "Action"))
            ac.text = action
            ac.set(t(S, "mustUnderstand"), "true")
            me = ET.SubElement(h, t(W, "MaxEnvelopeSize"))
            me.text = str(max_env)
            me.set(t(S, "mustUnderstand"), "true")
            ET.SubElement(h, t(A, "MessageID")).text = mid
            loc = ET.SubElement(h, t(W, "Locale"))
            loc.set("xml:lang", "en-US")
            loc.set(t(S, "mustUnderstand"), "false")
            ET.SubElement(h, t(W, "OperationTimeout")).text = timeout
            if selectors:
                ss = ET.SubElement(h, t(W, "SelectorSet"))
                for k, v in selectors.items():
                    sel = ET.SubElement(ss, t(W, "Selector"), {"Name": k})
                    sel.text = v
            b = ET.SubElement(env, t(S, "Body"))
            if body_el is not None:
                b.append(body_el)
            data = ET.tostring(env, encoding="utf-8")
        else:
            data = raw
        r = self.session.post(self.url, data=data, auth=self.auth if auth else None,
                              headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
                              timeout=15, verify=self.verify)
        return Reply(r, mid)

    # operations
    def get(self, cls_uri, selectors, **kw):
        return self.send(GET, cls_uri, selectors=selectors, **kw)

    def enumerate(self, uri, wql=None, optimize=False, max_elements=None, mode=None):
        e = ET.Element(t(N, "Enumerate"))
        if optimize:
            ET.SubElement(e, t(W, "OptimizeEnumeration"))
        if max_elements is not None:
            ET.SubElement(e, t(W, "MaxElements")).text = str(max_elements)
        if mode:
            ET.SubElement(e, t(W, "EnumerationMode")).text = mode
        if wql is not None:
            f = ET.SubElement(e, t(W, "Filter"), {"Dialect": WQL})
            f.text = wql
        return self.send(ENUM, uri, e)

    def pull(self, uri, context, max_elements=None):
        p = ET.Element(t(N, "Pull"))
        ET.SubElement(p, t(N, "EnumerationContext")).text = context
        if max_elements is not None:
            ET.SubElement(p, t(N, "MaxElements")).text = str(max_elements)
        return self.send(PULL, uri, p)

    def release(self, uri, context):
        p = ET.Element(t(N, "Release"))
        ET.SubElement(p, t(N, "EnumerationContext")).text = context
        return self.send(RELEASE, uri, p)

    def query(self, wql, ns_uri=V2 + "*", mode=None):
        """Enumerate + Pull (MaxElements 10) to the end; a list of item elements."""
        r = self.enumerate(ns_uri, wql, mode=mode)
        assert r.status == 200, r.http.text
        ctx = r.body.findtext(".//" + t(N, "EnumerationContext"))
        items = []
        for _ in range(1000):
            p = self.pull(ns_uri, ctx, 10)
            assert p.status == 200, p.http.text
            resp = p.body.find(t(N, "PullResponse"))
            items.extend(list(resp.find(t(N, "Items"))))
            if resp.find(t(N, "EndOfSequence")) is not None:
                assert resp.find(t(N, "EnumerationContext")) is None
                return items
            ctx = resp.findtext(t(N, "EnumerationContext"))
        raise AssertionError("no EndOfSequence")

    def invoke(self, cls, method, selectors, params):
        """params: list of (name, value) where value is str, ('epr', cls, keys),
        ('embedded', text) or None (nil)."""
        uri = V2 + cls
        inp = ET.Element(t(uri, method + "_INPUT"))
        for name, v in params:
            el = ET.SubElement(inp, t(uri, name))
            if v is None:
                el.set(t(XSI, "nil"), "true")
            elif isinstance(v, tuple) and v[0] == "epr":
                ET.SubElement(el, t(A, "Address")).text = ANON
                rp = ET.SubElement(el, t(A, "ReferenceParameters"))
                ET.SubElement(rp, t(W, "ResourceURI")).text = V2 + v[1]
                ss = ET.SubElement(rp, t(W, "SelectorSet"))
                for k, val in v[2].items():
                    ET.SubElement(ss, t(W, "Selector"), {"Name": k}).text = val
            elif isinstance(v, tuple) and v[0] == "embedded":
                el.text = v[1]
            else:
                el.text = str(v)
        return self.send(uri + "/" + method, uri, inp, selectors=selectors)


def props(item):
    """Element -> {local name: text or [texts]} (cim:Datetime unwrapped, nil as None)."""
    out = {}
    for c in item:
        name = c.tag.split("}")[1]
        if c.get(t(XSI, "nil")) == "true":
            val = None
        elif len(c) and c[0].tag == t(CIMNS, "Datetime"):
            val = c[0].text
        else:
            val = c.text
        if name in out:
            if not isinstance(out[name], list):
                out[name] = [out[name]]
            out[name].append(val)
        else:
            out[name] = val
    return out


def output(reply, cls, method):
    o = reply.body.find(t(V2 + cls, method + "_OUTPUT"))
    assert o is not None, reply.http.text
    return o


def ret(reply, cls, method):
    return int(output(reply, cls, method).findtext(t(V2 + cls, "ReturnValue")))


def job_id(reply, cls, method):
    job = output(reply, cls, method).find(t(V2 + cls, "Job"))
    assert job.findtext(t(A, "Address")) == ANON
    rp = job.find(t(A, "ReferenceParameters"))
    assert rp.findtext(t(W, "ResourceURI")) == V2 + "Msvm_ConcreteJob"
    for sel in rp.find(t(W, "SelectorSet")):
        if sel.get("Name") == "InstanceID":
            return sel.text
    raise AssertionError("no InstanceID selector")


def get_job(c, jid):
    r = c.get(V2 + "Msvm_ConcreteJob", {"InstanceID": jid})
    assert r.status == 200, r.http.text
    return props(r.body.find(t(V2 + "Msvm_ConcreteJob", "Msvm_ConcreteJob")))


def wait_job(c, jid, limit=10):
    seen = []
    deadline = time.time() + limit
    while time.time() < deadline:
        j = get_job(c, jid)
        seen.append((int(j["JobState"]), int(j["PercentComplete"])))
        if int(j["JobState"]) in (7, 8, 9, 10):
            return j, seen
        time.sleep(0.05)
    raise AssertionError("job %s did not finish: %s" % (jid, seen[-3:]))


def cs_selectors(guid):
    return {"CreationClassName": "Msvm_ComputerSystem", "Name": guid}


def vm_state(c, guid):
    r = c.get(V2 + "Msvm_ComputerSystem", cs_selectors(guid))
    assert r.status == 200, r.http.text
    return int(props(r.body[0])["EnabledState"])


def vmms_selectors(host):
    return {"CreationClassName": "Msvm_VirtualSystemManagementService", "Name": "vmms",
            "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": host}


def rsc(c, guid, state):
    r = c.invoke("Msvm_ComputerSystem", "RequestStateChange", cs_selectors(guid),
                 [("RequestedState", state)])
    assert r.status == 200, r.http.text
    return r


def embedded(cls, values):
    """CIM-XML INSTANCE text (DSP0201), written here rather than by the simulator's own
    encoder; a list value is a PROPERTY.ARRAY (HostResource)."""
    inst = ET.Element("INSTANCE", {"CLASSNAME": cls})
    for k, v in values.items():
        arr = isinstance(v, list)
        p = ET.SubElement(inst, "PROPERTY.ARRAY" if arr else "PROPERTY", {"NAME": k, "TYPE": "string"})
        parent = ET.SubElement(p, "VALUE.ARRAY") if arr else p
        for x in (v if arr else [v]):
            ET.SubElement(parent, "VALUE").text = str(x)
    return ("embedded", ET.tostring(inst, encoding="unicode"))


def define_vm(c, host, name, gen=2, vcpus=1, mem=512):
    r = c.invoke("Msvm_VirtualSystemManagementService", "DefineSystem", vmms_selectors(host), [
        ("SystemSettings", embedded("Msvm_VirtualSystemSettingData", {
            "ElementName": name, "VirtualSystemSubType": "Microsoft:Hyper-V:SubType:%d" % gen})),
        ("ResourceSettings", embedded("Msvm_ProcessorSettingData", {"VirtualQuantity": vcpus})),
        ("ResourceSettings", embedded("Msvm_MemorySettingData", {"VirtualQuantity": mem})),
        ("ReferenceConfiguration", None)])
    assert r.status == 200, r.http.text
    assert ret(r, "Msvm_VirtualSystemManagementService", "DefineSystem") == 4096
    out = output(r, "Msvm_VirtualSystemManagementService", "DefineSystem")
    rs = out.find(t(V2 + "Msvm_VirtualSystemManagementService", "ResultingSystem"))
    guid = [s.text for s in rs.iter(t(W, "Selector")) if s.get("Name") == "Name"][0]
    j, _ = wait_job(c, job_id(r, "Msvm_VirtualSystemManagementService", "DefineSystem"))
    assert int(j["JobState"]) == 7, j
    return guid


@pytest.fixture(scope="module")
def c1(sim):
    return Client(sim.hosts["HV-NODE01"])


@pytest.fixture(scope="module")
def c2(sim):
    return Client(sim.hosts["HV-NODE02"])


# ---- authentication and transport --------------------------------------------------------

def test_401_challenge_then_basic(sim, c1):
    r = c1.enumerate(V2 + "Msvm_ComputerSystem")
    assert r.status == 200
    anon = requests.post(c1.url, data=b"<x/>", timeout=5,
                         headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
    assert anon.status_code == 401
    challenges = anon.raw.headers.getlist("WWW-Authenticate")
    assert 'Basic realm="WSMAN"' in challenges and "Negotiate" in challenges
    wrong = Client(c1.url, USER, "nope").enumerate(V2 + "Msvm_ComputerSystem")
    assert wrong.status == 401
    other = Client(c1.url, "root", PASSWORD).enumerate(V2 + "Msvm_ComputerSystem")
    assert other.status == 401
    hdr = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
    ok = requests.post(c1.url, data=b"<x/>", timeout=5,
                       headers={"Content-Type": "application/soap+xml;charset=UTF-8",
                                "Authorization": "Basic " + hdr})
    assert ok.status_code == 500   # authenticated; the body is simply not an envelope


def test_plain_http_refused_without_allow_unencrypted():
    s = Sim(hosts=1, vms=1)
    try:
        c = Client(s.hosts["HV-NODE01"])
        r = c.enumerate(V2 + "Msvm_ComputerSystem")
        assert r.status == 401
        ch = r.http.raw.headers.getlist("WWW-Authenticate")
        assert ch == ["Negotiate"], ch   # Basic is not offered over unencrypted HTTP
    finally:
        assert s.stop() == 0


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl needed to make a cert")
def test_https_with_basic(tmp_path):
    cert, key = str(tmp_path / "c.pem"), str(tmp_path / "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=60)
    s = Sim("--tls-cert", cert, "--tls-key", key, hosts=1, vms=2)
    try:
        url = s.hosts["HV-NODE01"]
        assert url.startswith("https://127.0.0.1:") and url.endswith("/wsman")
        c = Client(url)
        c.verify = False
        import urllib3
        urllib3.disable_warnings()
        items = c.query("SELECT * FROM Msvm_ComputerSystem")
        assert len(items) == 3
    finally:
        assert s.stop() == 0


# ---- enumeration ---------------------------------------------------------------------------

def test_enumerate_then_pull_one_at_a_time(sim, c1):
    uri = V2 + "Msvm_ComputerSystem"
    r = c1.enumerate(uri)
    assert r.status == 200
    assert r.header(A, "Action") == N + "/EnumerateResponse"
    assert r.header(A, "RelatesTo") == r.sent_id
    resp = r.body.find(t(N, "EnumerateResponse"))
    ctx = resp.findtext(t(N, "EnumerationContext"))
    assert ctx and resp.find(t(W, "Items")) is None
    names = []
    for _ in range(50):
        p = c1.pull(uri, ctx)           # no MaxElements: one item per Pull
        assert p.status == 200 and p.header(A, "Action") == N + "/PullResponse"
        assert p.header(A, "RelatesTo") == p.sent_id
        pr = p.body.find(t(N, "PullResponse"))
        items = list(pr.find(t(N, "Items")))
        assert len(items) == 1
        it = items[0]
        assert it.tag == t(uri, "Msvm_ComputerSystem")
        assert it.get(t(XSI, "type")).endswith(":Msvm_ComputerSystem_Type")
        names.append(props(it)["Name"])
        if pr.find(t(N, "EndOfSequence")) is not None:
            break
        ctx = pr.findtext(t(N, "EnumerationContext"))
    assert len(names) == 7       # the host itself and its six VMs
    assert "HV-NODE01" in names
    # the finished context is gone
    again = c1.pull(uri, ctx)
    assert again.status == 500
    assert again.fault_subcode() == t(N, "InvalidEnumerationContext")


def test_optimized_enumeration(sim, c1):
    r = c1.enumerate(V2 + "*", "SELECT * FROM Msvm_ComputerSystem", optimize=True,
                     max_elements=100)
    resp = r.body.find(t(N, "EnumerateResponse"))
    items = list(resp.find(t(W, "Items")))
    assert len(items) == 7
    assert resp.find(t(W, "EndOfSequence")) is not None
    # partially optimized: 3 now, the rest by Pull
    r = c1.enumerate(V2 + "*", "SELECT * FROM Msvm_ComputerSystem", optimize=True,
                     max_elements=3)
    resp = r.body.find(t(N, "EnumerateResponse"))
    assert len(list(resp.find(t(W, "Items")))) == 3
    assert resp.find(t(W, "EndOfSequence")) is None
    p = c1.pull(V2 + "*", resp.findtext(t(N, "EnumerationContext")), 100)
    pr = p.body.find(t(N, "PullResponse"))
    assert len(list(pr.find(t(N, "Items")))) == 4
    assert pr.find(t(N, "EndOfSequence")) is not None


def test_enumeration_context_expires(sim, c1):
    sim.ctl("/config", {"enum_timeout": 0.5})
    r = c1.enumerate(V2 + "Msvm_ComputerSystem")
    ctx = r.body.findtext(".//" + t(N, "EnumerationContext"))
    time.sleep(1.0)
    p = c1.pull(V2 + "Msvm_ComputerSystem", ctx)
    assert p.status == 500
    assert p.fault_subcode() == t(N, "InvalidEnumerationContext")
    assert p.wsman_fault().get("Code") == "2150858779"
    assert p.header(A, "RelatesTo") == p.sent_id


def test_release(sim, c1):
    r = c1.enumerate(V2 + "Msvm_ComputerSystem")
    ctx = r.body.findtext(".//" + t(N, "EnumerationContext"))
    rel = c1.release(V2 + "Msvm_ComputerSystem", ctx)
    assert rel.status == 200 and rel.header(A, "Action") == N + "/ReleaseResponse"
    p = c1.pull(V2 + "Msvm_ComputerSystem", ctx)
    assert p.fault_subcode() == t(N, "InvalidEnumerationContext")


def test_enumerate_epr_mode(sim, c1):
    items = c1.query("SELECT * FROM Msvm_VirtualSystemManagementService", mode="EnumerateEPR")
    assert len(items) == 1 and items[0].tag == t(A, "EndpointReference")
    sels = {s.get("Name"): s.text for s in items[0].iter(t(W, "Selector"))}
    assert sels["Name"] == "vmms" and sels["SystemName"] == "HV-NODE01"


# ---- WQL -------------------------------------------------------------------------------

def test_wql_filters(sim, c1):
    allvms = [props(i) for i in c1.query(
        "SELECT * FROM Msvm_ComputerSystem WHERE Description = 'Microsoft Virtual Machine'")]
    assert len(allvms) == 6
    running = [v for v in allvms if v["EnabledState"] == "2"]
    off = [v for v in allvms if v["EnabledState"] == "3"]
    q = c1.query("SELECT * FROM Msvm_ComputerSystem WHERE Description = "
                 "\"Microsoft Virtual Machine\" AND EnabledState = 2")
    assert sorted(props(i)["Name"] for i in q) == sorted(v["Name"] for v in running)
    q = c1.query("SELECT * FROM Msvm_ComputerSystem WHERE (EnabledState = 2 OR EnabledState = 3)"
                 " AND Caption <> 'Hosting Computer System'")
    assert len(q) == len(running) + len(off)
    first = allvms[0]["ElementName"]
    q = c1.query("SELECT * FROM Msvm_ComputerSystem WHERE ElementName LIKE '%s%%'" % first[:3])
    assert first in [props(i)["ElementName"] for i in q]
    q = c1.query("SELECT * FROM Msvm_ComputerSystem WHERE ElementName LIKE '_%s'" % first[1:])
    assert [props(i)["ElementName"] for i in q] == [first]
    q = c1.query("SELECT * FROM Msvm_ComputerSystem WHERE NOT Description != "
                 "'Microsoft Hosting Computer System'")
    assert [props(i)["Name"] for i in q] == ["HV-NODE01"]
    q = c1.query("SELECT Name, EnabledState FROM Msvm_ComputerSystem WHERE Name = 'HV-NODE01'")
    assert set(props(q[0])) == {"Name", "EnabledState"}


def test_bad_wql_is_cannot_process_filter(sim, c1):
    for bad in ("SELECT * FROM", "SELECT * FROM Msvm_ComputerSystem WHERE NoSuchProp = 1",
                "SELECT * FROM Msvm_NoSuchClass", "DELETE FROM Msvm_ComputerSystem",
                "SELECT * FROM Win32_Processor"):   # a cimv2 class asked of the v2 namespace
        r = c1.enumerate(V2 + "*", bad)
        assert r.status == 500, bad
        assert r.fault_subcode() == t(N, "CannotProcessFilter"), bad
        wf = r.wsman_fault()
        assert wf.get("Code") == "2150858778" and wf.get("Machine")
        assert wf.findtext(t(F, "Message"))
        assert r.header(A, "RelatesTo") == r.sent_id


def test_associators_of(sim, c1):
    vm = props(c1.query("SELECT * FROM Msvm_ComputerSystem WHERE Description = "
                        "'Microsoft Virtual Machine'")[0])
    vssd = c1.query("ASSOCIATORS OF {Msvm_ComputerSystem.CreationClassName='Msvm_ComputerSystem',"
                    "Name='%s'} WHERE AssocClass = Msvm_SettingsDefineState "
                    "ResultClass = Msvm_VirtualSystemSettingData" % vm["Name"])
    assert len(vssd) == 1
    sd = props(vssd[0])
    assert sd["VirtualSystemIdentifier"] == vm["Name"]
    assert sd["VirtualSystemType"] == "Microsoft:Hyper-V:System:Realized"
    assert sd["VirtualSystemSubType"] in ("Microsoft:Hyper-V:SubType:1", "Microsoft:Hyper-V:SubType:2")
    base = "ASSOCIATORS OF {Msvm_VirtualSystemSettingData.InstanceID=\"%s\"} WHERE " \
           "AssocClass = Msvm_VirtualSystemSettingDataComponent ResultClass = %s"
    cpu = c1.query(base % (sd["InstanceID"], "Msvm_ProcessorSettingData"))
    mem = c1.query(base % (sd["InstanceID"], "Msvm_MemorySettingData"))
    assert len(cpu) == 1 and len(mem) == 1
    assert props(cpu[0])["ResourceType"] == "3" and int(props(cpu[0])["VirtualQuantity"]) >= 1
    assert props(mem[0])["AllocationUnits"] == "byte * 2^20"
    both = c1.query("ASSOCIATORS OF {Msvm_VirtualSystemSettingData.InstanceID='%s'} WHERE "
                    "ResultClass = CIM_ResourceAllocationSettingData" % sd["InstanceID"])
    # processor and memory; a generation 1 VM's two built-in IDE controllers (a generation 2
    # VM's SCSI controller); the seed's disk (drive, VHD) and adapter (port, connection)
    gen1 = sd["VirtualSystemSubType"] == "Microsoft:Hyper-V:SubType:1"
    assert sorted(int(props(b)["ResourceType"]) for b in both) == \
        ([3, 4, 5, 5] if gen1 else [3, 4, 6]) + [10, 17, 31, 33]
    cpus = c1.query("ASSOCIATORS OF {Win32_ComputerSystem.Name='HV-NODE01'} WHERE "
                    "AssocClass = Win32_ComputerSystemProcessor ResultClass = Win32_Processor",
                    CIMV2 + "*")
    assert len(cpus) == 2 and props(cpus[0])["NumberOfCores"]


# ---- Get -------------------------------------------------------------------------------

def test_get_and_selector_faults(sim, c1):
    vm = props(c1.query("SELECT * FROM Msvm_ComputerSystem WHERE Description = "
                        "'Microsoft Virtual Machine'")[0])
    r = c1.get(V2 + "Msvm_ComputerSystem", cs_selectors(vm["Name"]))
    assert r.status == 200
    assert r.header(A, "Action") == "http://schemas.xmlsoap.org/ws/2004/09/transfer/GetResponse"
    assert r.header(A, "RelatesTo") == r.sent_id
    got = props(r.body.find(t(V2 + "Msvm_ComputerSystem", "Msvm_ComputerSystem")))
    assert got["Name"] == vm["Name"] and got["Description"] == "Microsoft Virtual Machine"
    assert got["OtherEnabledState"] is None           # xsi:nil
    assert got["InstallDate"].endswith("Z")            # cim:Datetime
    bad = c1.get(V2 + "Msvm_ComputerSystem", {"CreationClassName": "Msvm_ComputerSystem",
                                              "Name": vm["Name"], "Bogus": "1"})
    assert bad.status == 500 and bad.fault_subcode() == t(W, "InvalidSelectors")
    assert bad.wsman_fault().get("Code") == "2150858843"
    missing = c1.get(V2 + "Msvm_ComputerSystem", {"Name": vm["Name"]})
    assert missing.fault_subcode() == t(W, "InvalidSelectors")
    nothere = c1.get(V2 + "Msvm_ComputerSystem", cs_selectors(str(uuid.uuid4()).upper()))
    assert nothere.status == 500 and nothere.fault_subcode() == t(A, "DestinationUnreachable")


def test_host_facts(sim, c1):
    cs = props(c1.get(CIMV2 + "Win32_ComputerSystem", {"Name": "HV-NODE01"}).body[0])
    assert int(cs["NumberOfLogicalProcessors"]) > 0 and int(cs["TotalPhysicalMemory"]) > 2**30
    os_ = props(c1.query("SELECT * FROM Win32_OperatingSystem", CIMV2 + "*")[0])
    assert os_["Caption"].startswith("Microsoft Windows Server") and os_["Version"].startswith("10.0")
    assert c1.query("SELECT * FROM Win32_Processor", CIMV2 + "*")
    host = c1.query("SELECT * FROM Msvm_ComputerSystem WHERE Name = 'HV-NODE01'")
    assert props(host[0])["Description"] == "Microsoft Hosting Computer System"
    items = [props(i) for i in c1.query("SELECT * FROM Msvm_VirtualSystemSettingData")]
    assert {i["VirtualSystemSubType"][-1] for i in items} == {"1", "2"}


# ---- methods ------------------------------------------------------------------------------

def test_every_state_transition(sim, c1):
    guid = define_vm(c1, "HV-NODE01", "transition-test")
    C = "Msvm_ComputerSystem"
    M = "RequestStateChange"
    assert vm_state(c1, guid) == 3
    # pausing, saving or resetting a stopped VM is invalid; so is turning it off again,
    # and so are values v2 does not accept (4 Shut Down is V1-only)
    for bad in (9, 6, 11, 3, 4, 7, 32776):
        assert ret(rsc(c1, guid, bad), C, M) == 32775, bad

    def step(state, expect):
        r = rsc(c1, guid, state)
        assert ret(r, C, M) == 4096
        j, _ = wait_job(c1, job_id(r, C, M))
        assert int(j["JobState"]) == 7 and int(j["PercentComplete"]) == 100
        assert vm_state(c1, guid) == expect

    step(2, 2)                                          # start
    assert ret(rsc(c1, guid, 2), C, M) == 32775         # already running
    r = c1.invoke("Msvm_VirtualSystemManagementService", "DestroySystem",
                  vmms_selectors("HV-NODE01"),
                  [("AffectedSystem", ("epr", "Msvm_ComputerSystem", cs_selectors(guid)))])
    assert ret(r, "Msvm_VirtualSystemManagementService", "DestroySystem") == 5  # Invalid State
    step(9, 9)                                          # pause
    assert ret(rsc(c1, guid, 9), C, M) == 32775
    assert ret(rsc(c1, guid, 10), C, M) == 32775        # no reboot while paused
    step(2, 2)                                          # resume
    step(10, 2)                                         # reboot
    step(6, 6)                                          # save
    assert ret(rsc(c1, guid, 9), C, M) == 32775         # no pause of a saved VM
    step(2, 2)                                          # restore from saved
    # summary agrees with the computer system
    si = [props(i) for i in c1.query("SELECT * FROM Msvm_SummaryInformation WHERE Name = '%s'" % guid)]
    assert si[0]["EnabledState"] == "2"
    # graceful shutdown through the guest's shutdown component, present while running
    sc = c1.query("SELECT * FROM Msvm_ShutdownComponent WHERE SystemName = '%s'" % guid)
    assert len(sc) == 1
    scp = props(sc[0])
    sel = {k: scp[k] for k in ("CreationClassName", "DeviceID", "SystemCreationClassName",
                               "SystemName")}
    r = c1.invoke("Msvm_ShutdownComponent", "InitiateShutdown", sel,
                  [("Force", "true"), ("Reason", "polyvisor test")])
    assert ret(r, "Msvm_ShutdownComponent", "InitiateShutdown") == 0
    deadline = time.time() + 5
    while vm_state(c1, guid) != 3 and time.time() < deadline:
        time.sleep(0.05)
    assert vm_state(c1, guid) == 3
    assert c1.query("SELECT * FROM Msvm_ShutdownComponent WHERE SystemName = '%s'" % guid) == []
    step(2, 2)
    step(3, 3)                                          # turn off
    r = c1.invoke("Msvm_ComputerSystem", M, cs_selectors(guid), [("RequestedState", 12345)])
    assert ret(r, C, M) == 32775
    step(10, 2)                                         # Reboot (10) from Off: documented start


def test_define_modify_destroy(sim, c1):
    guid = define_vm(c1, "HV-NODE01", "created-by-test", gen=2, vcpus=2, mem=1024)
    S_ = "Msvm_VirtualSystemManagementService"
    sd = c1.query("SELECT * FROM Msvm_VirtualSystemSettingData WHERE VirtualSystemIdentifier = '%s'" % guid)
    sd = props(sd[0])
    assert sd["ElementName"] == "created-by-test"
    assert sd["VirtualSystemSubType"] == "Microsoft:Hyper-V:SubType:2"
    cpu = props(c1.query("SELECT * FROM Msvm_ProcessorSettingData WHERE InstanceID LIKE "
                         "'Microsoft:%s%%'" % guid)[0])
    mem = props(c1.query("SELECT * FROM Msvm_MemorySettingData WHERE InstanceID LIKE "
                         "'Microsoft:%s%%'" % guid)[0])
    assert cpu["VirtualQuantity"] == "2" and mem["VirtualQuantity"] == "1024"
    r = c1.invoke(S_, "ModifyResourceSettings", vmms_selectors("HV-NODE01"), [
        ("ResourceSettings", embedded("Msvm_ProcessorSettingData",
                                      {"InstanceID": cpu["InstanceID"], "VirtualQuantity": 4})),
        ("ResourceSettings", embedded("Msvm_MemorySettingData",
                                      {"InstanceID": mem["InstanceID"], "VirtualQuantity": 2048}))])
    assert ret(r, S_, "ModifyResourceSettings") == 4096
    j, _ = wait_job(c1, job_id(r, S_, "ModifyResourceSettings"))
    assert int(j["JobState"]) == 7
    cpu = c1.get(V2 + "Msvm_ProcessorSettingData", {"InstanceID": cpu["InstanceID"]})
    assert props(cpu.body[0])["VirtualQuantity"] == "4"
    mem = c1.get(V2 + "Msvm_MemorySettingData", {"InstanceID": mem["InstanceID"]})
    assert props(mem.body[0])["VirtualQuantity"] == "2048"
    bad = c1.invoke(S_, "ModifyResourceSettings", vmms_selectors("HV-NODE01"), [
        ("ResourceSettings", embedded("Msvm_MemorySettingData",
                                      {"InstanceID": props(mem.body[0])["InstanceID"],
                                       "VirtualQuantity": 7}))])
    assert ret(bad, S_, "ModifyResourceSettings") == 4      # Invalid Parameter (v2 VSMS codes)
    # GetSummaryInformation on the new VM
    r = c1.invoke(S_, "GetSummaryInformation", vmms_selectors("HV-NODE01"), [
        ("SettingData", ("epr", "Msvm_VirtualSystemSettingData", {"InstanceID": sd["InstanceID"]})),
        ("RequestedInformation", 0), ("RequestedInformation", 1), ("RequestedInformation", 4),
        ("RequestedInformation", 100), ("RequestedInformation", 103)])
    assert ret(r, S_, "GetSummaryInformation") == 0
    si = output(r, S_, "GetSummaryInformation").findall(t(V2 + S_, "SummaryInformation"))
    assert len(si) == 1
    assert si[0].get(t(XSI, "type")).endswith(":Msvm_SummaryInformation_Type")
    sp = props(si[0])
    assert sp["Name"] == guid and sp["ElementName"] == "created-by-test"
    assert sp["NumberOfProcessors"] == "4" and sp["EnabledState"] == "3"
    # destroy
    r = c1.invoke(S_, "DestroySystem", vmms_selectors("HV-NODE01"),
                  [("AffectedSystem", ("epr", "Msvm_ComputerSystem", cs_selectors(guid)))])
    assert ret(r, S_, "DestroySystem") == 4096
    j, _ = wait_job(c1, job_id(r, S_, "DestroySystem"))
    assert int(j["JobState"]) == 7
    gone = c1.get(V2 + "Msvm_ComputerSystem", cs_selectors(guid))
    assert gone.fault_subcode() == t(A, "DestinationUnreachable")


def test_job_progresses_then_completes(sim, c1):
    sim.ctl("/config", {"job_time": [1.2, 1.2]})
    guid = define_vm(c1, "HV-NODE01", "progress-test")
    r = rsc(c1, guid, 2)
    j, seen = wait_job(c1, job_id(r, "Msvm_ComputerSystem", "RequestStateChange"))
    assert int(j["JobState"]) == 7 and j["ErrorCode"] == "0"
    states = [s for s, _ in seen]
    percents = [p for _, p in seen]
    assert 4 in states and (3 in states or states[0] == 4)
    assert percents == sorted(percents)                     # rising
    assert any(0 < p < 100 for p in percents) and percents[-1] == 100
    assert vm_state(c1, guid) == 2


def test_injected_failing_job(sim, c1):
    guid = define_vm(c1, "HV-NODE01", "fail-test")
    sim.ctl("/fault", {"host": "HV-NODE01", "type": "fail_job",
                       "description": "Injected: the VM could not start", "code": 32768})
    r = rsc(c1, guid, 2)
    assert ret(r, "Msvm_ComputerSystem", "RequestStateChange") == 4096
    j, _ = wait_job(c1, job_id(r, "Msvm_ComputerSystem", "RequestStateChange"))
    assert int(j["JobState"]) == 10
    assert j["ErrorDescription"] == "Injected: the VM could not start"
    assert j["ErrorCode"] == "32768"
    assert vm_state(c1, guid) == 3


def test_live_migration_between_hosts(sim, c1, c2):
    guid = define_vm(c1, "HV-NODE01", "migrating-vm")
    j, _ = wait_job(c1, job_id(rsc(c1, guid, 2), "Msvm_ComputerSystem", "RequestStateChange"))
    assert int(j["JobState"]) == 7
    M = "Msvm_VirtualSystemMigrationService"
    msel = {"CreationClassName": M, "Name": "vsmigrationservice",
            "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": "HV-NODE01"}
    msd = embedded("Msvm_VirtualSystemMigrationSettingData", {"MigrationType": 32768,
                                                              "TransportType": 5})
    # to a host nobody knows: the job fails with a description
    r = c1.invoke(M, "MigrateVirtualSystemToHost", msel, [
        ("ComputerSystem", ("epr", "Msvm_ComputerSystem", cs_selectors(guid))),
        ("DestinationHost", "hv-nowhere.contoso.local"), ("MigrationSettingData", msd)])
    assert ret(r, M, "MigrateVirtualSystemToHost") == 4096
    j, _ = wait_job(c1, job_id(r, M, "MigrateVirtualSystemToHost"))
    assert int(j["JobState"]) == 10 and "hv-nowhere" in j["ErrorDescription"]
    # to HV-NODE02
    r = c1.invoke(M, "MigrateVirtualSystemToHost", msel, [
        ("ComputerSystem", ("epr", "Msvm_ComputerSystem", cs_selectors(guid))),
        ("DestinationHost", "HV-NODE02"), ("MigrationSettingData", msd)])
    assert ret(r, M, "MigrateVirtualSystemToHost") == 4096
    j, _ = wait_job(c1, job_id(r, M, "MigrateVirtualSystemToHost"))
    assert int(j["JobState"]) == 7, j
    assert c1.get(V2 + "Msvm_ComputerSystem", cs_selectors(guid)).fault_subcode() == \
        t(A, "DestinationUnreachable")
    assert vm_state(c2, guid) == 2
    names = [props(i)["ElementName"] for i in c2.query(
        "SELECT * FROM Msvm_ComputerSystem WHERE Description = 'Microsoft Virtual Machine'")]
    assert "migrating-vm" in names


# ---- faults and robustness ---------------------------------------------------------------

def test_fault_shapes(sim, c1):
    r = c1.send("http://schemas.xmlsoap.org/ws/2004/09/transfer/Frobnicate",
                V2 + "Msvm_ComputerSystem")
    assert r.status == 500
    assert r.http.headers["Content-Type"].startswith("application/soap+xml")
    assert r.fault_subcode() == t(A, "ActionNotSupported")
    code = r.fault.findtext(t(S, "Code") + "/" + t(S, "Value"))
    assert code.endswith(":Sender")
    assert r.fault.find(t(S, "Reason") + "/" + t(S, "Text")).text
    wf = r.wsman_fault()
    assert wf is not None and wf.get("Code") == "2150858771"
    assert wf.get("Machine") == "hv-node01.contoso.local"
    assert r.header(A, "RelatesTo") == r.sent_id
    u = c1.get(V2 + "Msvm_NoSuchClass", {"Name": "x"})
    assert u.fault_subcode() == t(A, "DestinationUnreachable")
    m = c1.invoke("Msvm_ComputerSystem", "SelfDestruct", cs_selectors("X"), [])
    assert m.fault_subcode() == t(A, "ActionNotSupported")


def test_malformed_xml_is_a_fault_not_a_crash(sim, c1):
    for raw in (b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body>",
                b"\x00\x01garbage",
                b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'>]><x>&a;</x>",
                b"<Envelope/>", b""):
        r = c1.send(None, None, raw=raw)
        assert r.status == 500, raw
        assert r.fault is not None
        assert r.wsman_fault() is not None
    assert c1.enumerate(V2 + "Msvm_ComputerSystem").status == 200


def test_encoding_limit(sim, c1):
    vm = props(c1.query("SELECT * FROM Msvm_ComputerSystem WHERE Description = "
                        "'Microsoft Virtual Machine'")[0])
    r = c1.get(V2 + "Msvm_ComputerSystem", cs_selectors(vm["Name"]), max_env=1024)
    assert r.status == 500 and r.fault_subcode() == t(W, "EncodingLimit")
    big = c1.get(V2 + "Msvm_ComputerSystem", cs_selectors("A" * 600000))
    assert big.status == 500 and big.fault_subcode() == t(W, "EncodingLimit")


def test_injected_delay_drop_access_denied_and_unreachable(sim, c1):
    sim.ctl("/fault", {"host": "HV-NODE01", "type": "delay", "ms": 400, "count": 1})
    t0 = time.time()
    assert c1.enumerate(V2 + "Msvm_ComputerSystem").status == 200
    assert time.time() - t0 >= 0.4
    sim.ctl("/fault", {"host": "HV-NODE01", "type": "delay", "ms": 3000, "count": 1})
    r = c1.send(ENUM, V2 + "Msvm_ComputerSystem", ET.Element(t(N, "Enumerate")), timeout="PT0.5S")
    assert r.fault_subcode() == t(W, "TimedOut")
    sim.ctl("/fault", {"host": "HV-NODE01", "type": "drop", "count": 1})
    with pytest.raises(requests.ConnectionError):
        Client(c1.url).enumerate(V2 + "Msvm_ComputerSystem")
    assert c1.enumerate(V2 + "Msvm_ComputerSystem").status == 200
    sim.ctl("/fault", {"host": "HV-NODE01", "type": "access_denied", "count": 1})
    r = c1.enumerate(V2 + "Msvm_ComputerSystem")
    assert r.status == 500 and r.fault_subcode() == t(W, "AccessDenied")
    assert r.wsman_fault().get("Code") == "5"
    sim.ctl("/fault", {"host": "HV-NODE02", "type": "unreachable"})
    with pytest.raises(requests.ConnectionError):
        Client(sim.hosts["HV-NODE02"]).enumerate(V2 + "Msvm_ComputerSystem")
    sim.ctl("/fault", {"host": "HV-NODE02", "type": "reachable"})
    assert Client(sim.hosts["HV-NODE02"]).enumerate(V2 + "Msvm_ComputerSystem").status == 200


def test_state_file_survives_restart(tmp_path):
    state = str(tmp_path / "state.json")
    s = Sim("--allow-unencrypted", "--state-file", state, hosts=1, vms=2)
    try:
        c = Client(s.hosts["HV-NODE01"])
        guid = define_vm(c, "HV-NODE01", "persistent-vm")
    finally:
        assert s.stop() == 0
    s = Sim("--allow-unencrypted", "--state-file", state, hosts=1, vms=2)
    try:
        c = Client(s.hosts["HV-NODE01"])
        assert vm_state(c, guid) == 3
    finally:
        assert s.stop() == 0


def _curl_has_ntlm():
    if shutil.which("curl") is None:
        return False
    out = subprocess.run(["curl", "-V"], capture_output=True, text=True, timeout=10).stdout
    return " NTLM" in out


@pytest.mark.skipif(not _curl_has_ntlm(), reason="curl with NTLM support needed")
def test_ntlm_with_curl_on_a_reused_connection(sim, c1, tmp_path):
    env = ET.Element(t(S, "Envelope"))
    h = ET.SubElement(env, t(S, "Header"))
    ET.SubElement(h, t(A, "To")).text = c1.url
    ET.SubElement(h, t(W, "ResourceURI")).text = V2 + "Msvm_ComputerSystem"
    ET.SubElement(h, t(A, "Action")).text = GET
    ET.SubElement(h, t(A, "MessageID")).text = "uuid:" + str(uuid.uuid4())
    ss = ET.SubElement(h, t(W, "SelectorSet"))
    ET.SubElement(ss, t(W, "Selector"), {"Name": "CreationClassName"}).text = "Msvm_ComputerSystem"
    ET.SubElement(ss, t(W, "Selector"), {"Name": "Name"}).text = "HV-NODE01"
    ET.SubElement(env, t(S, "Body"))
    body = tmp_path / "get.xml"
    body.write_bytes(ET.tostring(env))
    common = ["--ntlm", "-H", "Content-Type: application/soap+xml;charset=UTF-8",
              "--data-binary", "@%s" % body, "-s", "-o", "/dev/null", "-w", "%{http_code}\n"]
    ok = subprocess.run(["curl", "-u", "CONTOSO\\%s:%s" % (USER, PASSWORD)] + common + [c1.url]
                        + ["--next", "-u", "%s:%s" % (USER, PASSWORD)] + common + [c1.url],
                        capture_output=True, text=True, timeout=30)
    assert ok.stdout.split() == ["200", "200"], ok.stderr
    bad = subprocess.run(["curl", "-u", "%s:wrong" % USER] + common + [c1.url],
                         capture_output=True, text=True, timeout=30)
    assert bad.stdout.split() == ["401"]


def test_identify_without_credentials(sim, c1):
    WSMID = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
    env = ET.Element(t(S, "Envelope"))
    ET.SubElement(env, t(S, "Header"))
    ET.SubElement(ET.SubElement(env, t(S, "Body")), t(WSMID, "Identify"))
    r = requests.post(c1.url, data=ET.tostring(env), timeout=5,
                      headers={"Content-Type": "application/soap+xml;charset=UTF-8",
                               "WSMANIDENTIFY": "unauthenticated"})
    assert r.status_code == 200
    root = ET.fromstring(r.content)
    resp = root.find(t(S, "Body") + "/" + t(WSMID, "IdentifyResponse"))
    assert resp.findtext(t(WSMID, "ProtocolVersion")) == W
    assert resp.findtext(t(WSMID, "ProductVendor")) == "Microsoft Corporation"


def test_guest_reboot_through_shutdown_component(sim, c1):
    guid = define_vm(c1, "HV-NODE01", "guest-reboot")
    j, _ = wait_job(c1, job_id(rsc(c1, guid, 2), "Msvm_ComputerSystem", "RequestStateChange"))
    assert int(j["JobState"]) == 7
    sc = props(c1.query("ASSOCIATORS OF {Msvm_ComputerSystem.CreationClassName="
                        "'Msvm_ComputerSystem',Name='%s'} WHERE ResultClass = "
                        "Msvm_ShutdownComponent" % guid)[0])
    sel = {k: sc[k] for k in ("CreationClassName", "DeviceID", "SystemCreationClassName",
                              "SystemName")}
    r = c1.invoke("Msvm_ShutdownComponent", "InitiateReboot", sel,
                  [("Force", "false"), ("Reason", "patching")])
    assert ret(r, "Msvm_ShutdownComponent", "InitiateReboot") == 0
    assert vm_state(c1, guid) == 10
    deadline = time.time() + 5
    while vm_state(c1, guid) != 2 and time.time() < deadline:
        time.sleep(0.05)
    assert vm_state(c1, guid) == 2


def test_limited_user_gets_access_denied(sim, c1):
    r = Client(c1.url, "viewer", "View0nly").enumerate(V2 + "Msvm_ComputerSystem")
    assert r.status == 500 and r.fault_subcode() == t(W, "AccessDenied")
    assert r.wsman_fault().get("Code") == "5"
    assert Client(c1.url, "viewer", "wrong").enumerate(V2 + "Msvm_ComputerSystem").status == 401


def test_parallel_clients(sim, c1):
    import concurrent.futures
    def work(i):
        c = Client(c1.url)
        return len(c.query("SELECT * FROM Msvm_ComputerSystem WHERE Name LIKE '%%'"))
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        counts = list(ex.map(work, range(16)))
    assert len(set(counts)) == 1 and counts[0] >= 7


def test_killed_mid_job_comes_back_consistent(tmp_path):
    state = str(tmp_path / "state.json")
    s = Sim("--allow-unencrypted", "--state-file", state, "--job-time", "3:3", hosts=1, vms=1)
    try:
        c = Client(s.hosts["HV-NODE01"])
        s.ctl("/config", {"job_time": [0.3, 0.3]})
        guid = define_vm(c, "HV-NODE01", "killed-mid-job")
        s.ctl("/config", {"job_time": [5, 5]})
        r = rsc(c, guid, 2)
        assert ret(r, "Msvm_ComputerSystem", "RequestStateChange") == 4096
        assert vm_state(c, guid) == 10          # starting
        time.sleep(0.8)                         # let the state file catch up
        s.proc.kill()
        s.proc.wait(timeout=5)
    finally:
        s.stop()
    s = Sim("--allow-unencrypted", "--state-file", state, hosts=1, vms=1)
    try:
        c = Client(s.hosts["HV-NODE01"])
        assert vm_state(c, guid) == 3           # the start never happened
        assert c.query("SELECT * FROM Msvm_ConcreteJob") == []
    finally:
        assert s.stop() == 0


def test_wql_more_operators_and_object_and_epr_mode(sim, c1):
    nulls = c1.query("SELECT * FROM Msvm_ComputerSystem WHERE InstallDate IS NULL")
    assert [props(i)["Name"] for i in nulls] == ["HV-NODE01"]       # the host has no InstallDate
    notnull = c1.query("SELECT * FROM Msvm_ComputerSystem WHERE InstallDate IS NOT NULL")
    assert len(notnull) == len(c1.query("SELECT * FROM Msvm_ComputerSystem")) - 1
    big = c1.query("SELECT * FROM Msvm_MemorySettingData WHERE VirtualQuantity >= 4096")
    assert all(int(props(i)["VirtualQuantity"]) >= 4096 for i in big)
    gen = c1.query("SELECT * FROM Msvm_VirtualSystemSettingData WHERE VirtualSystemSubType "
                   "LIKE 'Microsoft:Hyper-V:SubType:[2]'")
    assert gen and all(props(i)["VirtualSystemSubType"].endswith("2") for i in gen)
    both = c1.query("SELECT * FROM Msvm_VirtualSystemManagementService",
                    mode="EnumerateObjectAndEPR")
    assert len(both) == 1 and both[0].tag == t(W, "Item")
    assert both[0][0].tag == t(V2 + "Msvm_VirtualSystemManagementService",
                               "Msvm_VirtualSystemManagementService")
    assert both[0][1].tag == t(A, "EndpointReference")


def test_pull_batches_respect_max_envelope_size(sim, c1):
    uri = V2 + "Msvm_VirtualSystemSettingData"
    r = c1.enumerate(uri)
    ctx = r.body.findtext(".//" + t(N, "EnumerationContext"))
    p = ET.Element(t(N, "Pull"))
    ET.SubElement(p, t(N, "EnumerationContext")).text = ctx
    ET.SubElement(p, t(N, "MaxElements")).text = "100"
    got, pulls = 0, 0
    while True:
        rep = c1.send(PULL, uri, p, max_env=12000)
        assert rep.status == 200 and len(rep.http.content) <= 12000
        pr = rep.body.find(t(N, "PullResponse"))
        n = len(list(pr.find(t(N, "Items"))))
        assert n >= 1
        got, pulls = got + n, pulls + 1
        if pr.find(t(N, "EndOfSequence")) is not None:
            break
        p.find(t(N, "EnumerationContext")).text = pr.findtext(t(N, "EnumerationContext"))
        assert pulls < 50
    assert pulls > 1 and got >= 6


# ---- disks and network adapters ---------------------------------------------------------

IMS = "Msvm_ImageManagementService"


def ims_selectors(host):
    return {"CreationClassName": IMS, "Name": "vhdsvc", "SystemCreationClassName": "Msvm_ComputerSystem",
            "SystemName": host}


def wmi_path(host, cls, iid):
    return '\\\\%s\\root\\virtualization\\v2:%s.InstanceID="%s"' % (host, cls, iid.replace("\\", "\\\\"))


def create_vhd(c, host, path, size, vtype=3):
    r = c.invoke(IMS, "CreateVirtualHardDisk", ims_selectors(host), [
        ("VirtualDiskSettingData", embedded("Msvm_VirtualHardDiskSettingData",
                                            {"Path": path, "Format": 3, "Type": vtype, "MaxInternalSize": size}))])
    assert r.status == 200, r.http.text
    code = ret(r, IMS, "CreateVirtualHardDisk")
    if code != 4096:
        return code, None
    return code, wait_job(c, job_id(r, IMS, "CreateVirtualHardDisk"))[0]


def add_resources(c, host, guid, items):
    """AddResourceSettings -> (ReturnValue, finished job or None, [InstanceID of each result])."""
    S_ = "Msvm_VirtualSystemManagementService"
    r = c.invoke(S_, "AddResourceSettings", vmms_selectors(host),
                 [("AffectedConfiguration", ("epr", "Msvm_VirtualSystemSettingData",
                                             {"InstanceID": "Microsoft:" + guid}))] +
                 [("ResourceSettings", embedded(cls, v)) for cls, v in items])
    assert r.status == 200, r.http.text
    code = ret(r, S_, "AddResourceSettings")
    if code != 4096:
        return code, None, []
    out = output(r, S_, "AddResourceSettings")
    iids = [[s.text for s in e.iter(t(W, "Selector")) if s.get("Name") == "InstanceID"][0]
            for e in out.findall(t(V2 + S_, "ResultingResourceSettings"))]
    return code, wait_job(c, job_id(r, S_, "AddResourceSettings"))[0], iids


def datafile_delete(c, path):
    uri = CIMV2 + "CIM_DataFile"
    r = c.send(uri + "/Delete", uri, ET.Element(t(uri, "Delete_INPUT")), selectors={"Name": path})
    if r.status == 500 and r.fault_subcode() == t(A, "DestinationUnreachable"):
        return None                                         # no such file: no instance to call
    assert r.status == 200, r.http.text
    return int(r.body.find(t(uri, "Delete_OUTPUT")).findtext(t(uri, "ReturnValue")))


def d_free(c):
    return [int(props(v)["FreeSpace"]) for v in c.query("SELECT Name, FreeSpace FROM Win32_Volume", CIMV2 + "*")
            if props(v)["Name"] == "D:\\"][0]


def test_vhdx_files_on_volumes(sim, c1):
    free0 = d_free(c1)
    path = "D:\\Hyper-V\\t1\\disk0.vhdx"
    code, job = create_vhd(c1, "HV-NODE01", path, 10 << 30)
    assert code == 4096 and int(job["JobState"]) == 7, job
    assert d_free(c1) == free0 - (4 << 20)                  # a new dynamic VHDX is 4 MiB
    files = {props(f)["Name"]: props(f) for f in c1.query("SELECT * FROM CIM_DataFile", CIMV2 + "*")}
    assert files[path.lower()]["FileSize"] == str(4 << 20) and files[path.lower()]["Extension"] == "vhdx"
    r = c1.invoke(IMS, "GetVirtualHardDiskSettingData", ims_selectors("HV-NODE01"), [("Path", path)])
    assert ret(r, IMS, "GetVirtualHardDiskSettingData") == 0
    sd = ET.fromstring(output(r, IMS, "GetVirtualHardDiskSettingData").findtext(t(V2 + IMS, "SettingData")))
    assert sd.get("CLASSNAME") == "Msvm_VirtualHardDiskSettingData"
    vals = {p.get("NAME"): p.findtext("VALUE") for p in sd}
    assert (vals["MaxInternalSize"], vals["Format"], vals["Type"]) == (str(10 << 30), "3", "3")
    r = c1.invoke(IMS, "GetVirtualHardDiskSettingData", ims_selectors("HV-NODE01"), [("Path", "D:\\nope.vhdx")])
    assert ret(r, IMS, "GetVirtualHardDiskSettingData") == 32779        # File not found
    # malformed: 32773; what the host finds: the job fails with the Windows text
    assert create_vhd(c1, "HV-NODE01", "relative\\x.vhdx", 1 << 30)[0] == 32773
    assert create_vhd(c1, "HV-NODE01", "D:\\x.vhd", 1 << 30)[0] == 32773          # VHDX format, .vhd name
    assert create_vhd(c1, "HV-NODE01", "D:\\x.vhdx", 1000)[0] == 32773            # not a multiple of 512
    for p, words in ((path, "0x80070050"), ("Q:\\x.vhdx", "0x80070003")):
        code, job = create_vhd(c1, "HV-NODE01", p, 1 << 30)
        assert code == 4096 and int(job["JobState"]) == 10 and words in job["ErrorDescription"], job
    code, job = create_vhd(c1, "HV-NODE01", "C:\\fixed.vhdx", 500 << 30, vtype=2)   # fixed, bigger than C:
    assert int(job["JobState"]) == 10 and "0x80070070" in job["ErrorDescription"], job
    assert datafile_delete(c1, path) == 0 and datafile_delete(c1, path) is None
    assert d_free(c1) == free0


def test_add_disk_and_nic_settings(sim, c1):
    H = "HV-NODE01"
    guid = define_vm(c1, H, "with-devices", gen=2)
    path = "D:\\Hyper-V\\%s\\disk0.vhdx" % guid
    assert create_vhd(c1, H, path, 2 << 30)[1]["JobState"] == "7"
    code, job, (ctrl,) = add_resources(c1, H, guid, [("Msvm_ResourceAllocationSettingData", {
        "ResourceType": 6, "ResourceSubType": "Microsoft:Hyper-V:Synthetic SCSI Controller"})])
    assert code == 4096 and job["JobState"] == "7"
    drive_rasd = {"ResourceType": 17, "ResourceSubType": "Microsoft:Hyper-V:Synthetic Disk Drive",
                  "Parent": wmi_path(H, "Msvm_ResourceAllocationSettingData", ctrl), "AddressOnParent": "0"}
    # a drive and its VHD in one call: the VHD's Parent names the drive added with it
    drive_iid = ctrl + "\\0\\D"
    code, job, iids = add_resources(c1, H, guid, [
        ("Msvm_ResourceAllocationSettingData", drive_rasd),
        ("Msvm_StorageAllocationSettingData", {
            "ResourceType": 31, "ResourceSubType": "Microsoft:Hyper-V:Virtual Hard Disk",
            "Parent": wmi_path(H, "Msvm_ResourceAllocationSettingData", drive_iid), "HostResource": [path]})])
    assert code == 4096 and job["JobState"] == "7" and iids[0] == drive_iid
    # refused at the call (4): the slot is taken; a Parent that is no controller
    assert add_resources(c1, H, guid, [("Msvm_ResourceAllocationSettingData", drive_rasd)])[0] == 4
    assert add_resources(c1, H, guid, [("Msvm_ResourceAllocationSettingData", dict(
        drive_rasd, Parent=wmi_path(H, "Msvm_ResourceAllocationSettingData", drive_iid), AddressOnParent="1"))])[0] == 4
    assert add_resources(c1, H, guid, [("Msvm_EmulatedEthernetPortSettingData", {
        "ResourceType": 10, "ResourceSubType": "Microsoft:Hyper-V:Emulated Ethernet Port"})])[0] == 4  # gen 2
    # found when the job runs: a VHD file that is not there
    code, job, _ = add_resources(c1, H, guid, [
        ("Msvm_ResourceAllocationSettingData", dict(drive_rasd, AddressOnParent="1")),
        ("Msvm_StorageAllocationSettingData", {
            "ResourceType": 31, "ResourceSubType": "Microsoft:Hyper-V:Virtual Hard Disk",
            "Parent": wmi_path(H, "Msvm_ResourceAllocationSettingData", ctrl + "\\1\\D"),
            "HostResource": ["D:\\missing.vhdx"]})])
    assert job["JobState"] == "10" and job["ErrorCode"] == "32779" and "0x80070002" in job["ErrorDescription"]
    # a synthetic adapter, then its connection to the Internal switch
    sw = [props(s) for s in c1.query("SELECT * FROM Msvm_VirtualEthernetSwitch") if props(s)["ElementName"] == "Internal"][0]
    code, job, (port,) = add_resources(c1, H, guid, [("Msvm_SyntheticEthernetPortSettingData", {
        "ResourceType": 10, "ResourceSubType": "Microsoft:Hyper-V:Synthetic Ethernet Port",
        "StaticMacAddress": "false"})])
    swpath = '\\\\%s\\root\\virtualization\\v2:Msvm_VirtualEthernetSwitch.CreationClassName=' \
             '"Msvm_VirtualEthernetSwitch",Name="%s"' % (H, sw["Name"])
    conn = {"ResourceType": 33, "ResourceSubType": "Microsoft:Hyper-V:Ethernet Connection",
            "Parent": wmi_path(H, "Msvm_SyntheticEthernetPortSettingData", port), "HostResource": [swpath]}
    code, job, _ = add_resources(c1, H, guid, [("Msvm_EthernetPortAllocationSettingData",
                                                dict(conn, HostResource=[swpath.replace(sw["Name"], "0" * 8 + sw["Name"][8:])]))])
    assert job["JobState"] == "10" and "Could not find Ethernet switch" in job["ErrorDescription"]
    code, job, _ = add_resources(c1, H, guid, [("Msvm_EthernetPortAllocationSettingData", conn)])
    assert job["JobState"] == "7"
    # all of it, as associators of the VM's settings
    rasd = [props(x) for x in c1.query("ASSOCIATORS OF {Msvm_VirtualSystemSettingData.InstanceID='Microsoft:%s'} "
                                       "WHERE ResultClass = CIM_ResourceAllocationSettingData" % guid)]
    kinds = sorted(x["ResourceType"] for x in rasd)
    assert kinds == ["10", "17", "3", "31", "33", "4", "6"], kinds
    sasd = [x for x in rasd if x["ResourceType"] == "31"][0]
    assert sasd["HostResource"] == path and sasd["Parent"].endswith('InstanceID="%s"' % drive_iid.replace("\\", "\\\\"))
    nic = [x for x in rasd if x["ResourceType"] == "10"][0]
    assert nic["Address"] == "000000000000"                 # dynamic MAC: given at the first start
    c_ = [x for x in rasd if x["ResourceType"] == "33"][0]
    assert c_["LastKnownSwitchName"] == "Internal" and c_["HostResource"] == swpath
    # the attached file cannot be deleted (sharing violation) until the VM is gone
    assert datafile_delete(c1, path) == 15
    j, _ = wait_job(c1, job_id(rsc(c1, guid, 2), "Msvm_ComputerSystem", "RequestStateChange"))
    nic = props(c1.get(V2 + "Msvm_SyntheticEthernetPortSettingData", {"InstanceID": port}).body[0])
    assert nic["Address"].startswith("00155D") and len(nic["Address"]) == 12
    wait_job(c1, job_id(rsc(c1, guid, 3), "Msvm_ComputerSystem", "RequestStateChange"))
    S_ = "Msvm_VirtualSystemManagementService"
    r = c1.invoke(S_, "DestroySystem", vmms_selectors(H),
                  [("AffectedSystem", ("epr", "Msvm_ComputerSystem", cs_selectors(guid)))])
    wait_job(c1, job_id(r, S_, "DestroySystem"))
    assert datafile_delete(c1, path) == 0                   # DestroySystem left the file


def _job_of(c, r, cls, method):
    code = ret(r, cls, method)
    return code, (wait_job(c, job_id(r, cls, method))[0] if code == 4096 else None)


def test_device_changes_remove_modify_resize_move(sim, c1):
    """RemoveResourceSettings (what hangs from a removed device goes too), a
    switch connection's HostResource changed with ModifyResourceSettings,
    ResizeVirtualHardDisk (grow only here; online only on SCSI), a storage
    migration (MigrationType 32769) to the VM's own host; and what a running VM
    refuses: a new controller, anything on IDE, a legacy adapter (5, Invalid State)."""
    H, S_ = "HV-NODE01", "Msvm_VirtualSystemManagementService"
    guid = define_vm(c1, H, "changes", gen=2)
    path = "D:\\Hyper-V\\%s\\disk0.vhdx" % guid
    assert create_vhd(c1, H, path, 2 << 30)[1]["JobState"] == "7"
    _, _, (ctrl,) = add_resources(c1, H, guid, [("Msvm_ResourceAllocationSettingData", {
        "ResourceType": 6, "ResourceSubType": "Microsoft:Hyper-V:Synthetic SCSI Controller"})])
    drive = {"ResourceType": 17, "ResourceSubType": "Microsoft:Hyper-V:Synthetic Disk Drive",
             "Parent": wmi_path(H, "Msvm_ResourceAllocationSettingData", ctrl), "AddressOnParent": "0"}
    _, job, (drive_iid, vhd_iid) = add_resources(c1, H, guid, [
        ("Msvm_ResourceAllocationSettingData", drive),
        ("Msvm_StorageAllocationSettingData", {
            "ResourceType": 31, "ResourceSubType": "Microsoft:Hyper-V:Virtual Hard Disk",
            "Parent": wmi_path(H, "Msvm_ResourceAllocationSettingData", ctrl + "\\0\\D"), "HostResource": [path]})])
    assert job["JobState"] == "7"
    sws = {props(s)["ElementName"]: props(s)["Name"] for s in c1.query("SELECT * FROM Msvm_VirtualEthernetSwitch")}
    swpath = lambda n: ('\\\\%s\\root\\virtualization\\v2:Msvm_VirtualEthernetSwitch.CreationClassName='
                        '"Msvm_VirtualEthernetSwitch",Name="%s"' % (H, sws[n]))
    _, _, (port,) = add_resources(c1, H, guid, [("Msvm_SyntheticEthernetPortSettingData", {
        "ResourceType": 10, "ResourceSubType": "Microsoft:Hyper-V:Synthetic Ethernet Port"})])
    _, job, (conn,) = add_resources(c1, H, guid, [("Msvm_EthernetPortAllocationSettingData", {
        "ResourceType": 33, "ResourceSubType": "Microsoft:Hyper-V:Ethernet Connection",
        "Parent": wmi_path(H, "Msvm_SyntheticEthernetPortSettingData", port), "HostResource": [swpath("Internal")]})])
    assert job["JobState"] == "7"
    wait_job(c1, job_id(rsc(c1, guid, 2), "Msvm_ComputerSystem", "RequestStateChange"))
    # running: a second controller is refused, a second drive on SCSI is not
    assert add_resources(c1, H, guid, [("Msvm_ResourceAllocationSettingData", {
        "ResourceType": 6, "ResourceSubType": "Microsoft:Hyper-V:Synthetic SCSI Controller"})])[0] == 5
    _, job, (d2,) = add_resources(c1, H, guid, [("Msvm_ResourceAllocationSettingData", dict(drive, AddressOnParent="1"))])
    assert job["JobState"] == "7"
    # the switch connection to another switch (running); an unknown switch fails the job
    modify = lambda hr: _job_of(c1, c1.invoke(S_, "ModifyResourceSettings", vmms_selectors(H), [
        ("ResourceSettings", embedded("Msvm_EthernetPortAllocationSettingData", {"InstanceID": conn, "HostResource": hr}))]),
        S_, "ModifyResourceSettings")
    code, job = modify([swpath("Internal").replace(sws["Internal"], "0" * 8 + sws["Internal"][8:])])
    assert code == 4096 and job["JobState"] == "10" and "Could not find Ethernet switch" in job["ErrorDescription"]
    code, job = modify([swpath("External vSwitch")])
    assert job["JobState"] == "7"
    c_ = props(c1.get(V2 + "Msvm_EthernetPortAllocationSettingData", {"InstanceID": conn}).body[0])
    assert c_["LastKnownSwitchName"] == "External vSwitch" and c_["HostResource"] == swpath("External vSwitch")
    # resize: online on SCSI; smaller fails the job; a missing file fails it
    resize = lambda p, n: _job_of(c1, c1.invoke(IMS, "ResizeVirtualHardDisk", ims_selectors(H),
                                                [("Path", p), ("MaxInternalSize", str(n))]), IMS, "ResizeVirtualHardDisk")
    assert resize(path, 3 << 30)[1]["JobState"] == "7"
    r = c1.invoke(IMS, "GetVirtualHardDiskSettingData", ims_selectors(H), [("Path", path)])
    sd = ET.fromstring(output(r, IMS, "GetVirtualHardDiskSettingData").findtext(t(V2 + IMS, "SettingData")))
    assert {p.get("NAME"): p.findtext("VALUE") for p in sd}["MaxInternalSize"] == str(3 << 30)
    assert resize(path, 1 << 30)[1]["JobState"] == "10"
    assert "0x80070002" in resize("D:\\nope.vhdx", 1 << 30)[1]["ErrorDescription"]
    assert resize(path, 1000)[0] == 32773
    # storage migration to the VM's own host: the file moves, the setting names it
    freed = d_free(c1)
    new = "C:\\Hyper-V\\%s\\disk0.vhdx" % guid
    MS = "Msvm_VirtualSystemMigrationService"
    move = lambda dest, hr: _job_of(c1, c1.invoke(MS, "MigrateVirtualSystemToHost", {
        "CreationClassName": MS, "Name": "vsmigrationservice", "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": H}, [
        ("ComputerSystem", ("epr", "Msvm_ComputerSystem", cs_selectors(guid))), ("DestinationHost", dest),
        ("MigrationSettingData", embedded("Msvm_VirtualSystemMigrationSettingData", {"MigrationType": 32769})),
        ("NewResourceSettingData", embedded("Msvm_StorageAllocationSettingData",
                                            {"InstanceID": vhd_iid, "HostResource": hr}))]), MS, "MigrateVirtualSystemToHost")
    assert move("HV-NODE02", [new])[0] == 32773             # storage moves stay on the VM's host
    assert move(H, ["relative.vhdx"])[0] == 32773
    code, job = move(H, [new])
    assert code == 4096 and job["JobState"] == "7", job
    sasd = props(c1.get(V2 + "Msvm_StorageAllocationSettingData", {"InstanceID": vhd_iid}).body[0])
    assert sasd["HostResource"] == new
    files = {props(f)["Name"] for f in c1.query("SELECT Name FROM CIM_DataFile", CIMV2 + "*")}
    assert new.lower() in files and path.lower() not in files and d_free(c1) == freed + (4 << 20)
    # remove the drive (running, SCSI): its VHD goes with it; the file stays
    r = c1.invoke(S_, "RemoveResourceSettings", vmms_selectors(H),
                  [("ResourceSettings", ("epr", "Msvm_ResourceAllocationSettingData", {"InstanceID": drive_iid}))])
    code, job = _job_of(c1, r, S_, "RemoveResourceSettings")
    assert code == 4096 and job["JobState"] == "7"
    rasd = [props(x) for x in c1.query("ASSOCIATORS OF {Msvm_VirtualSystemSettingData.InstanceID='Microsoft:%s'} "
                                       "WHERE ResultClass = CIM_ResourceAllocationSettingData" % guid)]
    assert not [x for x in rasd if x["InstanceID"] in (drive_iid, vhd_iid)] and [x for x in rasd if x["InstanceID"] == d2]
    assert new.lower() in {props(f)["Name"] for f in c1.query("SELECT Name FROM CIM_DataFile", CIMV2 + "*")}
    # removing what is not there, or a built-in setting: 4
    r = c1.invoke(S_, "RemoveResourceSettings", vmms_selectors(H),
                  [("ResourceSettings", ("epr", "Msvm_ResourceAllocationSettingData", {"InstanceID": drive_iid}))])
    assert ret(r, S_, "RemoveResourceSettings") == 4
    # the adapter and (with it) its connection
    r = c1.invoke(S_, "RemoveResourceSettings", vmms_selectors(H),
                  [("ResourceSettings", ("epr", "Msvm_SyntheticEthernetPortSettingData", {"InstanceID": port}))])
    assert _job_of(c1, r, S_, "RemoveResourceSettings")[1]["JobState"] == "7"
    assert not [x for x in c1.query("SELECT * FROM Msvm_EthernetPortAllocationSettingData")
                if props(x)["InstanceID"] == conn]
    wait_job(c1, job_id(rsc(c1, guid, 3), "Msvm_ComputerSystem", "RequestStateChange"))
    r = c1.invoke(S_, "DestroySystem", vmms_selectors(H), [("AffectedSystem", ("epr", "Msvm_ComputerSystem", cs_selectors(guid)))])
    wait_job(c1, job_id(r, S_, "DestroySystem"))
    assert datafile_delete(c1, new) == 0


def test_generation_1_running_refuses_ide_and_legacy_changes(sim, c1):
    H = "HV-NODE01"
    guid = define_vm(c1, H, "gen1-running", gen=1)
    wait_job(c1, job_id(rsc(c1, guid, 2), "Msvm_ComputerSystem", "RequestStateChange"))
    ide0 = "Microsoft:%s\\83F8638B-8DCA-4152-9EDA-2CA8B33039B4\\0" % guid
    assert add_resources(c1, H, guid, [("Msvm_ResourceAllocationSettingData", {
        "ResourceType": 17, "ResourceSubType": "Microsoft:Hyper-V:Synthetic Disk Drive",
        "Parent": wmi_path(H, "Msvm_ResourceAllocationSettingData", ide0), "AddressOnParent": "0"})])[0] == 5
    assert add_resources(c1, H, guid, [("Msvm_EmulatedEthernetPortSettingData", {
        "ResourceType": 10, "ResourceSubType": "Microsoft:Hyper-V:Emulated Ethernet Port"})])[0] == 5
    wait_job(c1, job_id(rsc(c1, guid, 3), "Msvm_ComputerSystem", "RequestStateChange"))
    _, job, _ = add_resources(c1, H, guid, [("Msvm_EmulatedEthernetPortSettingData", {
        "ResourceType": 10, "ResourceSubType": "Microsoft:Hyper-V:Emulated Ethernet Port"})])
    assert job["JobState"] == "7"


# ---- Msvm_VirtualSystemSnapshotService ------------------------------------------------

VSSS = "Msvm_VirtualSystemSnapshotService"


def vsss_selectors(host):
    return {"CreationClassName": VSSS, "Name": "vssnapsvc",
            "SystemCreationClassName": "Msvm_ComputerSystem", "SystemName": host}


def checkpoints(c, guid):
    """InstanceID -> props of the VM's checkpoints, and the current one's InstanceID."""
    vm = "{Msvm_ComputerSystem.CreationClassName='Msvm_ComputerSystem',Name='%s'}" % guid
    cps = {p["InstanceID"]: p for p in map(props, c.query(
        "ASSOCIATORS OF %s WHERE AssocClass = Msvm_SnapshotOfVirtualSystem" % vm))}
    cur = [props(x)["InstanceID"] for x in c.query(
        "ASSOCIATORS OF %s WHERE AssocClass = Msvm_MostCurrentSnapshotInBranch" % vm)]
    return cps, (cur[0] if cur else None)


def snapshot_epr(iid):
    return ("epr", "Msvm_VirtualSystemSettingData", {"InstanceID": iid})


def test_checkpoints_tree_apply_destroy(sim, c1):
    """CreateSnapshot (type 2 only; ConsistencyLevel 1 keeps no memory, 2 a running VM's),
    the checkpoint as a Snapshot:Realized setting with its Parent and the VM's most current
    one; ModifySystemSettings renames it; ApplySnapshot only on an off or saved VM (5),
    giving the settings and the saved state back; DestroySnapshot moves the children up,
    DestroySnapshotTree takes the subtree."""
    H = "HV-NODE01"
    guid = define_vm(c1, H, "cp", vcpus=1, mem=512)
    vm = ("epr", "Msvm_ComputerSystem", cs_selectors(guid))

    def take(level=None, stype=2):
        ps = [("AffectedSystem", vm), ("SnapshotType", stype)]
        if level is not None:
            ps.append(("SnapshotSettings", embedded("Msvm_VirtualSystemSnapshotSettingData",
                                                    {"ConsistencyLevel": level})))
        return _job_of(c1, c1.invoke(VSSS, "CreateSnapshot", vsss_selectors(H), ps), VSSS, "CreateSnapshot")

    def on(method, pname, iid):
        return _job_of(c1, c1.invoke(VSSS, method, vsss_selectors(H), [(pname, snapshot_epr(iid))]),
                       VSSS, method)

    assert take(stype=3)[0] == 1                        # a disk snapshot: Not Supported
    assert checkpoints(c1, guid) == ({}, None)
    code, job = take()
    assert code == 4096 and job["JobState"] == "7"
    cps, cur = checkpoints(c1, guid)
    (a,) = cps
    assert cur == a and cps[a]["Parent"] is None and cps[a]["IsSaved"] == "false"
    assert cps[a]["VirtualSystemType"] == "Microsoft:Hyper-V:Snapshot:Realized"
    assert cps[a]["ElementName"].startswith("cp - (")
    # rename through ModifySystemSettings
    code, job = _job_of(c1, c1.invoke("Msvm_VirtualSystemManagementService", "ModifySystemSettings",
                                      vmms_selectors(H), [("SystemSettings", embedded(
                                          "Msvm_VirtualSystemSettingData", {"InstanceID": a, "ElementName": "first"}))]),
                        "Msvm_VirtualSystemManagementService", "ModifySystemSettings")
    assert code == 4096 and job["JobState"] == "7"
    assert checkpoints(c1, guid)[0][a]["ElementName"] == "first"
    # running: crash consistent keeps memory, application consistent does not
    wait_job(c1, job_id(rsc(c1, guid, 2), "Msvm_ComputerSystem", "RequestStateChange"))
    take(2)
    cps, b = checkpoints(c1, guid)
    assert cps[b]["IsSaved"] == "true" and a in cps[b]["Parent"]
    take(1)
    cps, p = checkpoints(c1, guid)
    assert cps[p]["IsSaved"] == "false" and b in cps[p]["Parent"]
    # apply needs the VM off or saved
    assert on("ApplySnapshot", "Snapshot", a)[0] == 5
    wait_job(c1, job_id(rsc(c1, guid, 3), "Msvm_ComputerSystem", "RequestStateChange"))
    assert on("ApplySnapshot", "Snapshot", b)[1]["JobState"] == "7"
    assert vm_state(c1, guid) == 6 and checkpoints(c1, guid)[1] == b
    assert on("ApplySnapshot", "Snapshot", a)[1]["JobState"] == "7"
    assert vm_state(c1, guid) == 3 and checkpoints(c1, guid)[1] == a
    # destroy b: p moves up under a
    assert on("DestroySnapshot", "AffectedSnapshot", b)[1]["JobState"] == "7"
    cps, cur = checkpoints(c1, guid)
    assert set(cps) == {a, p} and a in cps[p]["Parent"] and cur == a
    assert on("DestroySnapshot", "AffectedSnapshot", "Microsoft:" + "0" * 8 + a[18:])[0] == 4
    # the tree from a: nothing left
    assert on("DestroySnapshotTree", "SnapshotSettingData", a)[1]["JobState"] == "7"
    assert checkpoints(c1, guid) == ({}, None)
