#!/usr/bin/python3
"""vcenter_bench.py BUILD OUT -- issue 4's benchmark: polyvisord's full sync
of a large vCenter inventory beside a reference client built on VMware's own
govmomi library (tests/bench/govmomi_ref), in the same run, against the same
vcsim; and the time for a change made in vCenter behind our back to appear
in our API.

The inventory: BENCH_VC_DC datacenters x BENCH_VC_CLUSTERS clusters x
BENCH_VC_HOSTS hosts, BENCH_VC_VMS VMs in each cluster's resource pool, no
standalone hosts (defaults 2 x 4 x 16 = 128 hosts, 8 x 500 = 4,000 VMs:
vcsim builds that in about 11 s on the 2-core machine here; every VM has
the simulator's full device list, 13 devices, so a VM read is a real one).

(a) the reference: connect, login, one ContainerView and one Retrieve per
    kind of object with the property paths the adapter maps, its SOAP round
    trips counted by a RoundTripper around govmomi's transport;
(b) polyvisord: a fresh daemon each run, POST /api/v1/connections
    {"type": "vcenter", ..., "insecure": true} -> job, timed from the POST to
    the job's "succeeded" (polled every 5 ms) and by the job's own
    started_at/finished_at; its SOAP round trips counted on vcsim's side
    (vcsim -count-calls logs each request's method and session cookie): the
    sync's session, plus the two calls before it has one (RetrieveServiceContent,
    Login).  The reference's round trips are counted on vcsim's side too, as a
    check of its own count;
    The same is run with the daemon's data directory on tmpfs (/dev/shm),
    to show what the disk under SQLite costs;
(b2) the same connection synced again (POST /connections/{id}/sync), when
    the daemon knows every object already;
(b3) the adapter alone: build/adapters/vcenter.so loaded into this process
    (ctypes), open + sync with a sink that only counts -- the adapter's own
    share, without the daemon's storing;
(c) vcq powers a running VM off (another vSphere client); the time from vcq
    reporting the task done to our API showing the VM stopped, polled every
    5 ms; median of BENCH_VC_CHANGES (10).

Each timing is the median of BENCH_VC_RUNS (3) runs.  Markdown rows on
stdout (as bench_placement.c prints them).  Every process is started on
127.0.0.1 and stopped by its PID; the daemons are tests/pvtest.py's."""
import ctypes
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime

BUILD, OUT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests"))
os.environ["POLYVISOR_BUILD"] = BUILD
import pvtest  # noqa: E402  the daemon harness the tests use
VCSIM_SH = os.path.join(ROOT, "tests", "peers", "vcsim.sh")
DC = int(os.environ.get("BENCH_VC_DC", "2"))
CLUSTERS = int(os.environ.get("BENCH_VC_CLUSTERS", "4"))
HOSTS = int(os.environ.get("BENCH_VC_HOSTS", "16"))
VMS = int(os.environ.get("BENCH_VC_VMS", "500"))
RUNS = int(os.environ.get("BENCH_VC_RUNS", "3"))
CHANGES = int(os.environ.get("BENCH_VC_CHANGES", "10"))
USER, PASSWORD = "bench", "bench-vc-pw"
# a second data directory on tmpfs, to tell the daemon's disk writes apart
SHM = tempfile.mkdtemp(prefix="pv-vc-bench-", dir="/dev/shm") if os.access("/dev/shm", os.W_OK) else None
ADMIN_PASSWORD = "bench-password"


def log(msg):
    print("vcenter bench: " + msg, file=sys.stderr, flush=True)


def go_build(src, out):
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode",
               GOCACHE=os.path.join(BUILD, "gocache"), GOFLAGS="")
    subprocess.run(["go", "build", "-o", out, "."], cwd=src, env=env, check=True)


class Vcsim:
    def __init__(self, state):
        self.state = state
        self.url = self.cert = None
        self.ctx = ssl.create_default_context()

    def start(self):
        t0 = time.perf_counter()
        out = subprocess.run(["sh", VCSIM_SH, "start", BUILD, self.state, "-username", USER,
                              "-password", PASSWORD, "-dc", str(DC), "-cluster", str(CLUSTERS),
                              "-host", str(HOSTS), "-standalone-host", "0", "-vm", str(VMS),
                              "-count-calls"], capture_output=True, text=True, check=True,
                             timeout=600)
        info = json.loads(out.stdout.strip().splitlines()[-1])
        self.url, self.cert = info["url"], info["cert"]
        self.ctx.load_verify_locations(self.cert)
        return time.perf_counter() - t0

    def stop(self):
        subprocess.run(["sh", VCSIM_SH, "stop", os.path.join(self.state, "vcsim.pid")], timeout=60)

    def calls(self, reset=True):
        u = self.url[:-len("/sdk")] + "/pv/calls" + ("?reset=1" if reset else "")
        with urllib.request.urlopen(u, context=self.ctx, timeout=30) as r:
            return json.load(r)["calls"]

    def vcq(self, *args):
        return subprocess.run([os.path.join(BUILD, "peers", "vcq"), "-url", self.url, "-cert", self.cert,
                               "-username", USER, "-password", PASSWORD] + list(args),
                              capture_output=True, text=True, check=True, timeout=300).stdout


def start_daemon(data_dir):
    """A fresh polyvisord on data_dir, signed in; warnings only in its log."""
    os.makedirs(data_dir, exist_ok=True)
    return pvtest.Daemon(data_dir, ["--log-level", "warn"], admin_password=ADMIN_PASSWORD,
                         log_path=os.path.join(OUT, "vcenter-polyvisord.log")).start()


def wait_job(d, job_id):
    """The job at its end, polled every 5 ms (the timings are the job's)."""
    return d.wait_job(job_id, timeout=900, poll=0.005)


def iso_s(t):
    return datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()


def sync_calls(calls):
    """The round trips of one sync: the calls of the session that made the
    first ContainerView or, with views made already, the first property read
    (the sync's session), less the watch's (CreateFilter,
    WaitForUpdatesEx: the daemon's watch goes on with the same pooled
    session once the job is done), plus the RetrieveServiceContent and Login
    just before the session's first call, which carry no cookie yet."""
    first = next((i for i, c in enumerate(calls)
                  if c["method"] in ("CreateContainerView", "RetrievePropertiesEx")), None)
    if first is None:
        return 0, {}
    session = calls[first]["session"]
    start = next(i for i, c in enumerate(calls) if c["session"] == session)
    pre = []
    for c in reversed(calls[:start]):
        if c["session"] or c["method"] not in ("RetrieveServiceContent", "Login") or \
                c["method"] in [p["method"] for p in pre]:
            break
        pre.append(c)
    mine = pre + [c for c in calls[start:] if c["session"] == session and
                  c["method"] not in ("CreateFilter", "WaitForUpdatesEx")]
    by = {}
    for c in mine:
        by[c["method"]] = by.get(c["method"], 0) + 1
    return len(mine), by


# ---- the adapter alone, in this process (ctypes over adapters/adapter.h) ----

class PvError(ctypes.Structure):
    _fields_ = [("err", ctypes.c_int), ("code", ctypes.c_char * 48), ("message", ctypes.c_char * 384)]


class PvConnParams(ctypes.Structure):
    _fields_ = [("url", ctypes.c_char_p), ("username", ctypes.c_char_p), ("password", ctypes.c_char_p),
                ("token", ctypes.c_char_p), ("insecure", ctypes.c_int), ("ca_file", ctypes.c_char_p),
                ("ca_pem", ctypes.c_char_p), ("timeout_ms", ctypes.c_int)]


REPORT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
PROGRESS = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)
CANCELLED = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)


class PvSink(ctypes.Structure):
    _fields_ = [("ctx", ctypes.c_void_p), ("cluster", REPORT), ("host", REPORT), ("vm", REPORT),
                ("vm_gone", REPORT), ("progress", PROGRESS), ("cancelled", CANCELLED), ("pool", REPORT),
                ("network", REPORT)]


OPEN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(PvConnParams), ctypes.POINTER(ctypes.c_void_p),
                        ctypes.POINTER(PvError))
CLOSE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
SYNC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(PvSink), ctypes.POINTER(PvError))


# The layout below is struct pv_adapter's of this ABI; adapter_alone() reads
# nothing else from an adapter of another ABI (a changed header would make
# these offsets wrong: update the mirror with PV_ADAPTER_ABI).
MIRRORED_ABI = 9


class PvAdapterHead(ctypes.Structure):  # what every ABI begins with
    _fields_ = [("abi", ctypes.c_uint32)]


class PvAdapter(ctypes.Structure):  # the head of struct pv_adapter
    _fields_ = [("abi", ctypes.c_uint32), ("name", ctypes.c_char_p), ("version", ctypes.c_char_p),
                ("caps", ctypes.c_uint64), ("title", ctypes.c_char_p), ("credentials", ctypes.c_int),
                ("url_schemes", ctypes.c_void_p), ("open", OPEN), ("close", CLOSE), ("sync", SYNC)]


def adapter_alone(vc):
    """open + sync of build/adapters/vcenter.so with a sink that only counts:
    what the adapter costs without the daemon's storing.  None when the
    adapter speaks another ABI than the one mirrored here."""
    lib = ctypes.CDLL(os.path.join(BUILD, "adapters", "vcenter.so"))
    lib.pv_adapter_entry.restype = ctypes.POINTER(PvAdapterHead)
    abi = lib.pv_adapter_entry().contents.abi
    if abi != MIRRORED_ABI:
        log("adapter alone: skipped, vcenter.so speaks ABI %d and this bench mirrors %d"
            % (abi, MIRRORED_ABI))
        return None
    lib.pv_adapter_entry.restype = ctypes.POINTER(PvAdapter)
    a = lib.pv_adapter_entry().contents
    seen = {"host": 0, "vm": 0, "pool": 0, "network": 0}

    def count(kind):
        return REPORT(lambda ctx, info: seen.__setitem__(kind, seen[kind] + 1))
    sink = PvSink(None, REPORT(lambda c, i: None), count("host"), count("vm"), REPORT(lambda c, i: None),
                  PROGRESS(lambda c, p, d: None), CANCELLED(lambda c: 0), count("pool"),
                  count("network"))
    params = PvConnParams(vc.url.encode(), USER.encode(), PASSWORD.encode(), None, 1, None, None, 600000)
    conn, err = ctypes.c_void_p(), PvError()
    vc.calls()
    t0 = time.perf_counter()
    if a.open(ctypes.byref(params), ctypes.byref(conn), ctypes.byref(err)):
        raise RuntimeError("open: %s" % err.message.decode())
    rc = a.sync(conn, ctypes.byref(sink), ctypes.byref(err))
    el = time.perf_counter() - t0
    a.close(conn)
    if rc:
        raise RuntimeError("sync: %s" % err.message.decode())
    n = len([c for c in vc.calls() if c["method"] != "Logout"])
    return {"seconds": el, "hosts": seen["host"], "vms": seen["vm"], "round_trips": n}


def reference(vc):
    vc.calls()
    out = subprocess.run([os.path.join(BUILD, "peers", "govmomi_ref"), "-url", vc.url, "-cert", vc.cert,
                          "-username", USER, "-password", PASSWORD],
                         capture_output=True, text=True, check=True, timeout=1800)
    r = json.loads(out.stdout)
    seen = [c for c in vc.calls() if c["method"] != "Logout"]
    r["server_round_trips"] = len(seen)
    return r


def ours(vc, tmp, run, keep=False):
    d = start_daemon(os.path.join(tmp, "data-%d" % run))
    try:
        return sync_through(vc, d, keep)
    finally:
        if not keep:
            shutil.rmtree(d.data_dir, ignore_errors=True)


def sync_through(vc, d, keep):
    vc.calls()
    body = {"type": "vcenter", "url": vc.url, "username": USER, "password": PASSWORD, "insecure": True}
    t0 = time.perf_counter()
    r = d.http.post(d.base + "/api/v1/connections", json=body, timeout=30)
    assert r.status_code == 202, r.text
    job = wait_job(d, r.json()["id"])
    total = time.perf_counter() - t0
    calls = vc.calls()
    assert job["state"] == "succeeded", job
    n, by = sync_calls(calls)
    res = {"seconds": total, "job_seconds": iso_s(job["finished_at"]) - iso_s(job["started_at"]),
           "round_trips": n, "by_method": by}
    if keep:
        res["daemon"] = d
    else:
        d.stop(timeout=30)
    return res


def change_latency(vc, d):
    """vcq powers a VM off; time until our API shows it stopped."""
    vms = d.all_items("/api/v1/vms", limit=1000)
    # the watch (its own session) reads everything once before it waits:
    # wait for its first WaitForUpdatesEx before changing anything
    deadline = time.time() + 600
    while time.time() < deadline and not any(c["method"] == "WaitForUpdatesEx" for c in vc.calls(False)):
        time.sleep(0.2)
    time.sleep(1)
    running = [v for v in vms if v["power_state"] == "running"][:CHANGES]
    times = []
    for v in running:
        p = subprocess.Popen([os.path.join(BUILD, "peers", "vcq"), "-url", vc.url, "-cert", vc.cert,
                              "-username", USER, "-password", PASSWORD, "poweroff", v["native_id"]],
                             stdout=subprocess.PIPE, text=True)
        p.stdout.readline()  # "{}" once the task has ended in vCenter
        t0 = time.perf_counter()
        while True:
            if d.ok("GET", "/api/v1/vms/" + v["id"])["power_state"] == "stopped":
                break
            if time.perf_counter() - t0 > 60:
                raise RuntimeError("the power-off of %s never arrived" % v["native_id"])
            time.sleep(0.005)
        times.append(time.perf_counter() - t0)
        p.wait(120)
    return times


def main():
    os.makedirs(OUT, exist_ok=True)
    if not os.path.isdir("/usr/share/gocode/src/github.com/vmware/govmomi/simulator"):
        print("vcenter bench: skipped, govmomi is not installed (sh make deps)")
        if SHM:
            shutil.rmtree(SHM, ignore_errors=True)
        return
    log("building vcsim, vcq and the govmomi reference client")
    subprocess.run(["sh", VCSIM_SH, "build", BUILD], check=True)
    go_build(os.path.join(ROOT, "tests", "bench", "govmomi_ref"), os.path.join(BUILD, "peers", "govmomi_ref"))
    tmp = tempfile.mkdtemp(prefix="pv-vc-bench-", dir=OUT)
    vc = Vcsim(os.path.join(tmp, "vcsim"))
    daemon = None
    try:
        up = vc.start()
        log("vcsim up in %.1f s: %d x %d clusters x %d hosts, %d VMs" %
            (up, DC, CLUSTERS, HOSTS, DC * CLUSTERS * VMS))
        refs, mine, alone, shm = [], [], [], []
        for run in range(RUNS):  # alternate, so no side gets a warmer simulator
            refs.append(reference(vc))
            log("reference run %d: %.3f s, %d round trips" % (run, refs[-1]["seconds"], refs[-1]["round_trips"]))
            one = adapter_alone(vc)
            if one:
                alone.append(one)
                log("adapter alone run %d: %.3f s, %d round trips" % (run, one["seconds"],
                                                                       one["round_trips"]))
            if SHM:
                shm.append(ours(vc, SHM, run))
                log("polyvisord on tmpfs run %d: %.3f s" % (run, shm[-1]["seconds"]))
            mine.append(ours(vc, tmp, run, keep=run == RUNS - 1))
            log("polyvisord run %d: %.3f s (job %.3f s), %d round trips" %
                (run, mine[-1]["seconds"], mine[-1]["job_seconds"], mine[-1]["round_trips"]))
        daemon = mine[-1].pop("daemon")
        resync = []
        conn_id = daemon.all_items("/api/v1/connections", limit=1000)[0]["id"]
        for run in range(RUNS):
            vc.calls()
            t0 = time.perf_counter()
            r = daemon.http.post(daemon.base + "/api/v1/connections/%s/sync" % conn_id, timeout=30)
            assert r.status_code == 202, r.text
            job = wait_job(daemon, r.json()["id"])
            el = time.perf_counter() - t0
            assert job["state"] == "succeeded", job
            resync.append({"seconds": el, "job_seconds": iso_s(job["finished_at"]) - iso_s(job["started_at"]),
                           "round_trips": sync_calls(vc.calls())[0]})
            log("re-sync run %d: %.3f s, %d round trips" % (run, el, resync[-1]["round_trips"]))
        n_hosts = len(daemon.all_items("/api/v1/hosts", limit=1000))
        n_vms = len(daemon.all_items("/api/v1/vms", limit=1000))
        ref = refs[-1]
        assert n_hosts == ref["hosts"] and n_vms == ref["vms"], (n_hosts, n_vms, ref)
        log("change latency (%d power-offs with vcq)" % CHANGES)
        lat = change_latency(vc, daemon)
    finally:
        if daemon:
            daemon.stop(timeout=30)
        vc.stop()
        for d in (SHM, tmp):
            if d:
                shutil.rmtree(d, ignore_errors=True)

    ref_s = statistics.median(r["seconds"] for r in refs)
    ref_rs = statistics.median(r["retrieve_seconds"] for r in refs)
    our_s = statistics.median(m["seconds"] for m in mine)
    our_job = statistics.median(m["job_seconds"] for m in mine)
    resync_s = statistics.median(r["seconds"] for r in resync)
    print("| vCenter sync, vcsim %d DC x %d clusters x %d hosts = %d hosts, %d VMs (median of %d) "
          "| polyvisord | govmomi reference | ratio | aim |" % (DC, CLUSTERS, HOSTS, ref["hosts"], ref["vms"], RUNS))
    print("|---|---|---|---|---|")
    print("| full sync, connect to done (REST: POST to job succeeded; govmomi: connect, login, retrieve) "
          "| %.2f s | %.2f s | %.2f× | ≤ 1.0× |" % (our_s, ref_s, our_s / ref_s))
    print("| the sync job's own time (started_at → finished_at) / govmomi's retrieval alone | %.2f s | %.2f s | %.2f× | |"
          % (our_job, ref_rs, our_job / ref_rs))
    if shm:
        shm_s = statistics.median(m["seconds"] for m in shm)
        print("| the same, the daemon's data directory on tmpfs (/dev/shm): no disk under SQLite "
              "| %.2f s | %.2f s | %.2f× | |" % (shm_s, ref_s, shm_s / ref_s))
    print("| re-sync of the same connection (POST /connections/{id}/sync, the inventory known) "
          "| %.2f s | %.2f s | %.2f× | |" % (resync_s, ref_s, resync_s / ref_s))
    if alone:
        alone_s = statistics.median(a["seconds"] for a in alone)
        print("| the vcenter adapter alone, in-process: open + sync, a sink that only counts "
              "| %.2f s | %.2f s | %.2f× | ≤ 1.0× |" % (alone_s, ref_s, alone_s / ref_s))
    print("| SOAP round trips of a full sync, connect included (counted by vcsim; govmomi's own count %d) "
          "| %d | %d | | |" % (ref["round_trips"], mine[-1]["round_trips"], ref["server_round_trips"]))
    print("| change in vCenter (vcq poweroff) → seen in our API, median of %d (min–max) | %.0f ms (%.0f–%.0f ms) | | | ≤ 2 s |"
          % (len(lat), 1000 * statistics.median(lat), 1000 * min(lat), 1000 * max(lat)))
    print()
    print("polyvisord's round trips by method: " +
          ", ".join("%s %d" % kv for kv in sorted(mine[-1]["by_method"].items())))
    with open(os.path.join(OUT, "vcenter.json"), "w") as f:
        json.dump({"reference": refs, "polyvisord": mine, "adapter_alone": alone, "resync": resync,
                   "change_latency_s": lat}, f, indent=1)


if __name__ == "__main__":
    main()
