#!/usr/bin/python3
"""gen.py DB [HOSTS] [VMS] -- fill a Polyvisor inventory with a synthetic
data centre: one connection, 50 clusters, HOSTS hosts and VMS VMs spread over
them, for benchmarks.  The schema must exist (start polyvisord once on the
data dir first); rows are written straight into SQLite in one transaction,
which is what makes 100,000 VMs take seconds, not minutes."""
import random
import sqlite3
import sys
import uuid


def main():
    db = sys.argv[1]
    nhosts = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    nvms = int(sys.argv[3]) if len(sys.argv) > 3 else 100000
    rnd = random.Random(42)
    now = "2026-11-24T00:00:00.000Z"
    c = sqlite3.connect(db)
    c.execute("PRAGMA foreign_keys = ON")
    with c:
        c.execute("INSERT INTO connections(id, type, name, url, state, created_at) "
                  "VALUES ('conn-bench', 'kvm', 'bench', 'http://127.0.0.1:9/bench', 'connected', ?)",
                  (now,))
        clusters = ["cl-%05d" % i for i in range(50)]
        c.executemany("INSERT INTO clusters(id, connection_id, native_id, name, vendor, observed_at) "
                      "VALUES (?, 'conn-bench', ?, ?, 'kvm', ?)",
                      [(cl, cl, "cluster %s" % cl, now) for cl in clusters])
        hosts = []
        for i in range(nhosts):
            hid = "host-%016x" % rnd.getrandbits(64)
            hosts.append(hid)
            c.execute("INSERT INTO hosts(id, connection_id, cluster_id, native_id, name, vendor, state, "
                      "cpu_cores, cpu_mhz, memory_mb, memory_used_mb, cpu_usage_pct, observed_at) "
                      "VALUES (?, 'conn-bench', ?, ?, ?, 'kvm', 'connected', 32, 2400, 262144, ?, ?, ?)",
                      (hid, clusters[i % 50], "n-" + hid, "kvm%05d.example" % i,
                       rnd.randint(0, 200000), rnd.random() * 100, now))
        states = ["running"] * 7 + ["stopped"] * 2 + ["paused"]
        rows = []
        for i in range(nvms):
            u = str(uuid.UUID(int=rnd.getrandbits(128)))
            rows.append(("vm-%020x" % rnd.getrandbits(80), hosts[i % nhosts], u, "vm%06d" % i,
                         rnd.choice(states), rnd.choice([1, 2, 4, 8]), rnd.choice([512, 1024, 2048, 4096, 8192]),
                         '["bench"]', now))
        c.executemany("INSERT INTO vms(id, connection_id, host_id, native_id, name, vendor, power_state, "
                      "vcpus, memory_mb, paravirtual, tags, observed_at) "
                      "VALUES (?, 'conn-bench', ?, ?, ?, 'kvm', ?, ?, ?, 1, ?, ?)", rows)
    c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    c.close()
    print("gen: %d hosts, %d VMs in %s" % (nhosts, nvms, db))


if __name__ == "__main__":
    main()
