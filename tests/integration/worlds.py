"""Inventories for placement tests: worlds for the test adapter (its
hypervisor is a JSON file, docs/test-adapter.md), either spelled out host by
host or generated from a seed, so that every run sees the same data centre
and the engine's answers can be checked by hand."""
import json
import random
import uuid


def world(hosts, vms=(), clusters=()):
    """hosts: (name, memory_mb, cpu_cores[, state]); vms: (name, host, memory_mb,
    vcpus[, power_state])."""
    w = {"generation": 1, "clusters": [{"id": c, "name": c} for c in clusters],
         "hosts": [], "vms": []}
    for h in hosts:
        name, mem, cores = h[:3]
        w["hosts"].append({"id": name, "name": name, "cluster": None, "cpu_cores": cores,
                           "cpu_mhz": 2400, "memory_mb": mem,
                           "state": h[3] if len(h) > 3 else "connected"})
    for i, v in enumerate(vms):
        name, host, mem, vcpus = v[:4]
        w["vms"].append({"id": str(uuid.UUID(int=i + 1)), "name": name, "host": host,
                         "power_state": v[4] if len(v) > 4 else "running", "vcpus": vcpus,
                         "memory_mb": mem, "paravirtual": True, "disks": [], "nics": []})
    return w


def generated(seed, nhosts, nvms, fill=0.5):
    """A seeded data centre: hosts of 16-64 GiB, VMs of 512 MB-8 GiB packed
    until about `fill` of the memory is used."""
    rnd = random.Random(seed)
    hosts = [("gen-host-%03d" % i, rnd.choice([16384, 32768, 65536]), rnd.choice([8, 16, 32]))
             for i in range(nhosts)]
    free = {h[0]: int(h[1] * fill) for h in hosts}
    vms = []
    for i in range(nvms):
        mem = rnd.choice([512, 1024, 2048, 4096, 8192])
        fits = [h for h in free if free[h] >= mem]
        if not fits:
            break
        h = rnd.choice(sorted(fits))
        free[h] -= mem
        vms.append(("gen-vm-%04d" % i, h, mem, rnd.choice([1, 2, 4])))
    return world(hosts, vms)


def save(path, w):
    with open(path, "w") as f:
        json.dump(w, f)
