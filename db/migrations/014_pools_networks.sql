-- 014_pools_networks: where disks live and what NICs plug into, as the
-- adapters report them (keyed like hosts by connection and native id), and
-- which hosts reach each.  A pool's or network's hosts are kept by the
-- hosts' native ids, so a pool reported before its host, or a host that
-- comes back with a new row, still joins up; the views turn them into ids.
CREATE TABLE storage_pools (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    native_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    vendor        TEXT NOT NULL,
    kind          TEXT NOT NULL DEFAULT '',
    capacity_mb   INTEGER NOT NULL DEFAULT 0,
    free_mb       INTEGER NOT NULL DEFAULT 0,
    shared        INTEGER NOT NULL DEFAULT 0,
    observed_at   TEXT NOT NULL,
    UNIQUE (connection_id, native_id)
);
CREATE INDEX storage_pools_name ON storage_pools(name, id);

CREATE TABLE pool_hosts (
    pool_id        TEXT NOT NULL REFERENCES storage_pools(id) ON DELETE CASCADE,
    connection_id  TEXT NOT NULL,
    host_native_id TEXT NOT NULL,
    PRIMARY KEY (pool_id, host_native_id)
);
CREATE INDEX pool_hosts_host ON pool_hosts(connection_id, host_native_id);

CREATE TABLE networks (
    id            TEXT PRIMARY KEY,
    connection_id TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
    native_id     TEXT NOT NULL,
    name          TEXT NOT NULL,
    vendor        TEXT NOT NULL,
    kind          TEXT NOT NULL DEFAULT '',
    vlan          INTEGER,
    observed_at   TEXT NOT NULL,
    UNIQUE (connection_id, native_id)
);
CREATE INDEX networks_name ON networks(name, id);

CREATE TABLE network_hosts (
    network_id     TEXT NOT NULL REFERENCES networks(id) ON DELETE CASCADE,
    connection_id  TEXT NOT NULL,
    host_native_id TEXT NOT NULL,
    PRIMARY KEY (network_id, host_native_id)
);
CREATE INDEX network_hosts_host ON network_hosts(connection_id, host_native_id);

CREATE VIEW storage_pools_live AS
SELECT p.*,
       (SELECT json_group_array(h.id) FROM pool_hosts ph
        JOIN hosts h ON h.connection_id = ph.connection_id AND h.native_id = ph.host_native_id
        WHERE ph.pool_id = p.id) AS host_ids
FROM storage_pools p;

CREATE VIEW networks_live AS
SELECT n.*,
       (SELECT json_group_array(h.id) FROM network_hosts nh
        JOIN hosts h ON h.connection_id = nh.connection_id AND h.native_id = nh.host_native_id
        WHERE nh.network_id = n.id) AS host_ids
FROM networks n;

CREATE VIEW hosts_live AS
SELECT h.*,
       (SELECT json_group_array(ph.pool_id) FROM pool_hosts ph
        WHERE ph.connection_id = h.connection_id AND ph.host_native_id = h.native_id) AS pool_ids,
       (SELECT json_group_array(nh.network_id) FROM network_hosts nh
        WHERE nh.connection_id = h.connection_id AND nh.host_native_id = h.native_id) AS network_ids
FROM hosts h;
