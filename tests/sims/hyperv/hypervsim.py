#!/usr/bin/python3
"""Hyper-V host simulator: N simulated hosts speaking WS-Management (WinRM) on loopback.

    python3 hypervsim.py --hosts 2 --base-port 5986 --user administrator --password secret \
        [--tls-cert cert.pem --tls-key key.pem | --allow-unencrypted] [--vms 6] \
        [--state-file sim.json] [--control-port 0] [--job-time 0.5:1.5] [--enum-timeout 240]

Prints "host NAME URL" for each host and "control URL" once every listener is up, then serves
until SIGTERM or SIGINT.  All hosts live in this one process so that a VM can migrate between
them.  See README.md for the protocol surface and the control channel.
"""

import argparse
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import model                        # noqa: E402
from control import ControlServer   # noqa: E402
from server import Config, HostServer, make_tls_context   # noqa: E402


def parse_args(argv):
    p = argparse.ArgumentParser(description="Hyper-V WS-Management simulator")
    p.add_argument("--hosts", type=int, default=1)
    p.add_argument("--base-port", type=int, default=5986,
                   help="host i listens on base-port + i (0: any free port)")
    p.add_argument("--user", default="administrator")
    p.add_argument("--password", default="Passw0rd!")
    p.add_argument("--limited-user", default=None,
                   help="USER:PASSWORD of an account that authenticates but gets AccessDenied")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--allow-unencrypted", action="store_true",
                   help="accept Basic over plain HTTP (WinRM Service/AllowUnencrypted=true)")
    p.add_argument("--vms", type=int, default=4, help="seed VMs per host")
    p.add_argument("--state-file")
    p.add_argument("--control-port", type=int, default=0)
    p.add_argument("--job-time", default="0.5:1.5", help="MIN:MAX seconds a job runs")
    p.add_argument("--enum-timeout", type=float, default=240.0,
                   help="seconds an idle enumeration context lives (WinRM EnumerationTimeoutms: 240000)")
    p.add_argument("--host-prefix", default="HV-NODE")
    p.add_argument("--domain", default="contoso.local")
    p.add_argument("--max-envelope-kb", type=int, default=500)
    p.add_argument("--seed", type=int, default=None)
    a = p.parse_args(argv)
    if bool(a.tls_cert) != bool(a.tls_key):
        p.error("--tls-cert and --tls-key go together")
    if a.hosts < 1:
        p.error("--hosts must be at least 1")
    try:
        lo, _, hi = a.job_time.partition(":")
        a.job_time = (float(lo), float(hi or lo))
    except ValueError:
        p.error("--job-time is MIN:MAX")
    if a.limited_user and ":" not in a.limited_user:
        p.error("--limited-user is USER:PASSWORD")
    return a


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    hosts = [model.Host(i, "%s%02d" % (a.host_prefix, i + 1),
                        a.base_port + i if a.base_port else 0, a.domain)
             for i in range(a.hosts)]
    world = model.World(hosts, job_time=a.job_time, enum_timeout=a.enum_timeout,
                        state_file=a.state_file, seed=a.seed)
    if not world.load():
        model.seed_inventory(world, a.vms)
    lu, lp = (a.limited_user.split(":", 1) if a.limited_user else (None, None))
    cfg = Config(a.user, a.password, lu, lp, a.allow_unencrypted, a.max_envelope_kb)
    tls = make_tls_context(a.tls_cert, a.tls_key) if a.tls_cert else None
    servers = [HostServer(world, h, cfg, tls) for h in hosts]
    for s in servers:
        s.start()
    ctl = ControlServer(world, servers, a.control_port)
    ctl.start()
    world.jobs.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())

    for s in servers:
        print("host %s %s" % (s.host.name, s.url))
    print("control http://127.0.0.1:%d" % ctl.port)
    sys.stdout.flush()

    while not stop.wait(0.5):
        try:
            world.save()
        except OSError as e:
            print("state file: %s" % e, file=sys.stderr)
    world.jobs.stop()
    ctl.stop()
    for s in servers:
        s.stop()
    world.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
