"""The simulator's side channel: a loopback HTTP+JSON endpoint for tests, never WS-Man.

It listens on its own port (--control-port, printed as "control http://127.0.0.1:PORT") so
that nothing a WS-Man client sends can trigger it.  Endpoints:

  GET  /state                          hosts, their VMs and jobs (JSON)
  POST /fault   {"host": NAME?, "type": ..., ...}   inject; "host" absent = every host
        type "delay"          {"ms": 500, "count": N?}   answer N (default: all) requests late
        type "drop"           {"count": 1}               close N connections without answering
        type "fail_job"       {"description": "...", "code": 32768?, "after": 0?}
                                                         the next job (after `after` others)
                                                         ends in JobState 10
        type "access_denied"  {"count": 1}               next N requests get w:AccessDenied
        type "unreachable"                               close the host's listener
        type "reachable"                                 listen again on the same port
  POST /clear   {"host": NAME?}        remove every injected fault (and make hosts reachable)
  POST /config  {"job_time": [min, max], "enum_timeout": seconds}
  POST /save    {}                     write the state file now (it is also written every 0.5 s)
"""

import http.server
import json
import threading


class ControlServer:
    def __init__(self, world, host_servers, port=0):
        self.world = world
        self.servers = {hs.host.name.lower(): hs for hs in host_servers}
        owner = self

        class H(_Handler):
            ctl = owner
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def targets(self, name):
        if name is None:
            return list(self.servers.values())
        hs = self.servers.get(str(name).lower())
        if hs is None:
            raise KeyError("no host %s" % name)
        return [hs]

    def state(self):
        w = self.world
        with w.lock:
            return {"hosts": [{
                "name": h.name, "fqdn": h.fqdn, "ip": h.ip, "port": h.port,
                "reachable": h.reachable, "url": self.servers[h.name.lower()].url,
                "vms": [{"guid": vm.guid, "name": vm.name, "state": vm.state,
                         "generation": vm.generation, "vcpus": vm.vcpus,
                         "memory_mb": vm.memory_mb, "busy": vm.busy}
                        for vm in sorted(h.vms.values(), key=lambda v: v.name)],
                "jobs": [j.to_dict() for j in h.jobs.values() if not j.hidden],
                "enumerations": len(h.enums),
                "requests": h.requests,
                "faults": {k: v for k, v in h.faults.items()},
            } for h in w.hosts.values()],
                "job_time": list(w.job_time), "enum_timeout": w.enum_timeout}

    def fault(self, spec):
        kind = spec.get("type")
        for hs in self.targets(spec.get("host")):
            h = hs.host
            if kind == "unreachable":
                hs.set_reachable(False)
                continue
            if kind == "reachable":
                hs.set_reachable(True)
                continue
            with self.world.lock:
                if kind == "delay":
                    h.faults["delay_ms"] = int(spec.get("ms", 1000))
                    h.faults["delay_count"] = spec.get("count")
                elif kind == "drop":
                    h.faults["drop_count"] = int(spec.get("count", 1))
                elif kind == "fail_job":
                    h.faults["fail_jobs"].append(
                        (str(spec.get("description", "The operation failed.")),
                         int(spec.get("code", 32768)), int(spec.get("after", 0))))
                elif kind == "access_denied":
                    h.faults["access_denied_count"] = int(spec.get("count", 1))
                else:
                    raise ValueError("unknown fault type %r" % kind)

    def clear(self, spec):
        for hs in self.targets(spec.get("host")):
            with self.world.lock:
                hs.host.faults.update({"delay_ms": 0, "delay_count": None, "drop_count": 0,
                                       "fail_jobs": [], "access_denied_count": 0})
            if not hs.host.reachable:
                hs.set_reachable(True)

    def config(self, spec):
        with self.world.lock:
            if "job_time" in spec:
                lo, hi = spec["job_time"]
                self.world.job_time = (float(lo), float(hi))
            if "enum_timeout" in spec:
                self.world.enum_timeout = float(spec["enum_timeout"])


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    ctl = None

    def log_message(self, fmt, *args):
        pass

    def _reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/state":
            self._reply(200, self.ctl.state())
        else:
            self._reply(404, {"error": "not found"})

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            spec = json.loads(self.rfile.read(n) or b"{}")
            if not isinstance(spec, dict):
                raise ValueError("a JSON object is expected")
            action = {"/fault": self.ctl.fault, "/clear": self.ctl.clear,
                      "/config": self.ctl.config,
                      "/save": lambda _: self.ctl.world.save()}.get(self.path)
            if action is None:
                self._reply(404, {"error": "not found"})
                return
            action(spec)
        except (ValueError, KeyError, TypeError) as e:
            self._reply(400, {"error": str(e)})
            return
        self._reply(200, {"ok": True})
