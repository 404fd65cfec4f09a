/* db_inventory.c -- clusters, hosts, storage pools, networks and VMs as
 * adapters report them.
 *
 * Objects are keyed by (connection, native id): an upsert keeps the
 * Polyvisor id of an object it has seen before and takes `new_id` for one it
 * has not, so ids stay stable across syncs and restarts.  Every write stamps
 * observed_at; a full sync removes what it did not see by comparing that
 * stamp with the time the sync began.
 */
#include <stdlib.h>
#include <string.h>
#include "db_internal.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

static const char *host_state_name(enum pv_host_state s)
{
    switch (s) {
    case PV_HOST_DISCONNECTED: return "disconnected";
    case PV_HOST_MAINTENANCE: return "maintenance";
    case PV_HOST_FAILED: return "failed";
    default: return "connected";
    }
}

static const char *power_name(enum pv_power_state s)
{
    switch (s) {
    case PV_POWER_RUNNING: return "running";
    case PV_POWER_STOPPED: return "stopped";
    case PV_POWER_PAUSED: return "paused";
    case PV_POWER_SAVED: return "saved";
    default: return "unknown";
    }
}

static int step_done(sqlite3_stmt *st, struct pv_error *err, const char *what)
{
    int rc = sqlite3_step(st);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    pv_db_release(st);
    return rc == SQLITE_DONE ? 0 : pv_db_error(err, what);
}

int pv_db_cluster_upsert(const char *conn_id, const char *vendor, const char *new_id,
                         const struct pv_cluster_info *c, struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO clusters(id, connection_id, native_id, name, vendor, observed_at) "
        "VALUES (?, ?, ?, ?, ?, " NOW ") "
        "ON CONFLICT(connection_id, native_id) DO UPDATE SET name = excluded.name, "
        "observed_at = excluded.observed_at";
    sqlite3_stmt *st = pv_db_stmt(sql, err);

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, new_id);
    pv_db_bind_text(st, 2, conn_id);
    pv_db_bind_text(st, 3, c->native_id);
    pv_db_bind_text(st, 4, c->name ? c->name : c->native_id);
    pv_db_bind_text(st, 5, vendor);
    return step_done(st, err, "cluster upsert");
}

int pv_db_host_upsert(const char *conn_id, const char *vendor, const char *new_id,
                      const struct pv_host_info *h, const char *source, struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO hosts(id, connection_id, cluster_id, native_id, name, vendor, state, "
        "  cpu_cores, cpu_mhz, memory_mb, memory_used_mb, cpu_usage_pct, facts, source, observed_at) "
        "VALUES (?1, ?2, (SELECT id FROM clusters WHERE connection_id = ?2 AND native_id = ?3), "
        "  ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, CASE WHEN json_valid(?13) THEN ?13 ELSE '{}' END, ?14, " NOW ") "
        "ON CONFLICT(connection_id, native_id) DO UPDATE SET cluster_id = excluded.cluster_id, "
        "  name = excluded.name, "
        "  state = CASE WHEN maintenance = 1 THEN 'maintenance' ELSE excluded.state END, "
        "  unreachable_since = NULL, cpu_cores = excluded.cpu_cores, "
        "  cpu_mhz = excluded.cpu_mhz, memory_mb = excluded.memory_mb, "
        "  memory_used_mb = excluded.memory_used_mb, cpu_usage_pct = excluded.cpu_usage_pct, "
        "  facts = excluded.facts, source = excluded.source, observed_at = excluded.observed_at";
    sqlite3_stmt *st = pv_db_stmt(sql, err);

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, new_id);
    pv_db_bind_text(st, 2, conn_id);
    pv_db_bind_text(st, 3, h->cluster_native_id);
    pv_db_bind_text(st, 4, h->native_id);
    pv_db_bind_text(st, 5, h->name ? h->name : h->native_id);
    pv_db_bind_text(st, 6, vendor);
    pv_db_bind_text(st, 7, host_state_name(h->state));
    sqlite3_bind_int(st, 8, h->cpu_cores);
    sqlite3_bind_int(st, 9, h->cpu_mhz);
    sqlite3_bind_int64(st, 10, h->memory_mb);
    sqlite3_bind_int64(st, 11, h->memory_used_mb);
    sqlite3_bind_double(st, 12, h->cpu_usage_pct);
    pv_db_bind_text(st, 13, h->facts_json);
    pv_db_bind_text(st, 14, source);
    return step_done(st, err, "host upsert");
}

/* A pool's or network's hosts: the links are replaced with what the report
 * names (by the hosts' native ids: see migration 014).  del and ins are
 * literals: the statement cache is keyed by their address. */
static int set_links(const char *del, const char *ins, const char *id, const char *conn_id,
                     size_t n, const char *const *hosts, struct pv_error *err)
{
    sqlite3_stmt *st;
    int rc;

    if (!(st = pv_db_stmt(del, err)))
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    if ((rc = step_done(st, err, "unlink hosts")))
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (!hosts[i])
            continue;
        if (!(st = pv_db_stmt(ins, err)))
            return err ? err->err : PV_EINTERNAL;
        pv_db_bind_text(st, 1, id);
        pv_db_bind_text(st, 2, conn_id);
        pv_db_bind_text(st, 3, hosts[i]);
        if ((rc = step_done(st, err, "link host")))
            return rc;
    }
    return 0;
}

#define LINKS(t) "DELETE FROM " t "_hosts WHERE " t "_id = ?", \
    "INSERT OR IGNORE INTO " t "_hosts(" t "_id, connection_id, host_native_id) VALUES (?, ?, ?)"

/* The upsert's RETURNING id: the row's id, new_id when it is new. */
static int upsert_returning(sqlite3_stmt *st, char id[64], struct pv_error *err, const char *what)
{
    int rc = sqlite3_step(st);

    id[0] = '\0';
    if (rc == SQLITE_ROW)
        pv_db_col_copy(st, 0, id, 64);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    pv_db_release(st);
    return rc == SQLITE_DONE && id[0] ? 0 : pv_db_error(err, what);
}

int pv_db_pool_upsert(const char *conn_id, const char *vendor, const char *new_id,
                      const struct pv_pool_info *p, char id[64], struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO storage_pools(id, connection_id, native_id, name, vendor, kind, capacity_mb, "
        "  free_mb, shared, observed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, " NOW ") "
        "ON CONFLICT(connection_id, native_id) DO UPDATE SET name = excluded.name, "
        "  kind = excluded.kind, capacity_mb = excluded.capacity_mb, free_mb = excluded.free_mb, "
        "  shared = excluded.shared, observed_at = excluded.observed_at "
        "RETURNING id";
    sqlite3_stmt *st;
    int rc;

    if ((rc = pv_db_begin(err)))
        return rc;
    if (!(st = pv_db_stmt(sql, err))) {
        pv_db_rollback();
        return err ? err->err : PV_EINTERNAL;
    }
    pv_db_bind_text(st, 1, new_id);
    pv_db_bind_text(st, 2, conn_id);
    pv_db_bind_text(st, 3, p->native_id);
    pv_db_bind_text(st, 4, p->name ? p->name : p->native_id);
    pv_db_bind_text(st, 5, vendor);
    pv_db_bind_text(st, 6, p->kind ? p->kind : "");
    sqlite3_bind_int64(st, 7, p->capacity_mb > 0 ? p->capacity_mb : 0);
    sqlite3_bind_int64(st, 8, p->free_mb > 0 ? p->free_mb : 0);
    sqlite3_bind_int(st, 9, p->shared ? 1 : 0);
    if ((rc = upsert_returning(st, id, err, "pool upsert")) ||
        (rc = set_links(LINKS("pool"), id, conn_id, p->nhosts, p->host_native_ids, err))) {
        pv_db_rollback();
        return rc;
    }
    return pv_db_commit(err);
}

int pv_db_network_upsert(const char *conn_id, const char *vendor, const char *new_id,
                         const struct pv_network_info *n, char id[64], struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO networks(id, connection_id, native_id, name, vendor, kind, vlan, observed_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, " NOW ") "
        "ON CONFLICT(connection_id, native_id) DO UPDATE SET name = excluded.name, "
        "  kind = excluded.kind, vlan = excluded.vlan, observed_at = excluded.observed_at "
        "RETURNING id";
    sqlite3_stmt *st;
    int rc;

    if ((rc = pv_db_begin(err)))
        return rc;
    if (!(st = pv_db_stmt(sql, err))) {
        pv_db_rollback();
        return err ? err->err : PV_EINTERNAL;
    }
    pv_db_bind_text(st, 1, new_id);
    pv_db_bind_text(st, 2, conn_id);
    pv_db_bind_text(st, 3, n->native_id);
    pv_db_bind_text(st, 4, n->name ? n->name : n->native_id);
    pv_db_bind_text(st, 5, vendor);
    pv_db_bind_text(st, 6, n->kind ? n->kind : "");
    if (n->vlan >= 0)
        sqlite3_bind_int(st, 7, n->vlan);
    else
        sqlite3_bind_null(st, 7);
    if ((rc = upsert_returning(st, id, err, "network upsert")) ||
        (rc = set_links(LINKS("network"), id, conn_id, n->nhosts, n->host_native_ids, err))) {
        pv_db_rollback();
        return rc;
    }
    return pv_db_commit(err);
}

int pv_db_vm_upsert(const char *conn_id, const char *vendor, const char *new_id,
                    const struct pv_vm_info *v, const char *source, char old_state[16],
                    struct pv_error *err)
{
    /* A VM moving into this connection: its row comes along, id and all
     * (moving_to stays set until the move ends: pv_db_vm_finish_move). */
    static const char adopt[] =
        "UPDATE vms SET connection_id = ?1, report_version = 0 "
        "WHERE native_id = ?2 AND moving_to = ?1 AND NOT EXISTS "
        "  (SELECT 1 FROM vms o WHERE o.connection_id = ?1 AND o.native_id = ?2)";
    /* ... and a report from the side it left (the source still seeing it
     * while it moves) must not make a second row of it */
    static const char elsewhere[] =
        "SELECT 1 FROM vms WHERE native_id = ?2 AND moving_to IS NOT NULL "
        "AND connection_id != ?1 AND moving_to != ?1";
    static const char q_old[] =
        "SELECT power_state FROM vms WHERE connection_id = ? AND native_id = ?";
    static const char moving[] =
        "SELECT 1 FROM vms WHERE native_id = ? AND moving_to IS NOT NULL";
    static const char sql[] =
        "INSERT INTO vms(id, connection_id, host_id, native_id, name, vendor, power_state, vcpus, "
        "  memory_mb, paravirtual, disks, nics, vendor_detail, source, observed_at, "
        "  cpu_usage_pct, memory_used_mb, report_version) "
        "VALUES (?1, ?2, (SELECT id FROM hosts WHERE connection_id = ?2 AND native_id = ?3), "
        "  ?4, ?5, ?6, ?7, ?8, ?9, ?10, CASE WHEN json_valid(?11) THEN ?11 ELSE '[]' END, "
        "  CASE WHEN json_valid(?12) THEN ?12 ELSE '[]' END, "
        "  CASE WHEN json_valid(?13) THEN ?13 ELSE '{}' END, ?14, " NOW ", ?15, ?16, ?17) "
        "ON CONFLICT(connection_id, native_id) DO UPDATE SET host_id = excluded.host_id, "
        "  name = excluded.name, power_state = excluded.power_state, vcpus = excluded.vcpus, "
        "  memory_mb = excluded.memory_mb, paravirtual = excluded.paravirtual, "
        "  disks = excluded.disks, nics = excluded.nics, vendor_detail = excluded.vendor_detail, "
        "  source = excluded.source, observed_at = excluded.observed_at, "
        "  cpu_usage_pct = coalesce(excluded.cpu_usage_pct, cpu_usage_pct), "
        "  memory_used_mb = coalesce(excluded.memory_used_mb, memory_used_mb), "
        "  report_version = excluded.report_version "
        /* a report read before the one the row holds is stale: drop it */
        "WHERE excluded.report_version = 0 OR excluded.report_version >= vms.report_version";
    sqlite3_stmt *st;
    int rc;

    /* Only a VM that is moving somewhere (few, and indexed) needs the adopt
     * UPDATE; skipping it otherwise saves a write transaction per report. */
    st = pv_db_stmt(moving, err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, v->native_id);
    rc = sqlite3_step(st) == SQLITE_ROW;
    pv_db_release(st);
    if (rc) {
        st = pv_db_stmt(adopt, err);
        if (!st)
            return err ? err->err : PV_EINTERNAL;
        pv_db_bind_text(st, 1, conn_id);
        pv_db_bind_text(st, 2, v->native_id);
        if ((rc = step_done(st, err, "vm adopt")))
            return rc;
    }
    st = pv_db_stmt(elsewhere, err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, conn_id);
    pv_db_bind_text(st, 2, v->native_id);
    rc = sqlite3_step(st) == SQLITE_ROW;
    pv_db_release(st);
    if (rc) {
        if (old_state)
            old_state[0] = '\0';
        return 0; /* it is on its way elsewhere: this report is stale */
    }
    if (old_state) {
        old_state[0] = '\0';
        st = pv_db_stmt(q_old, err);
        if (!st)
            return err ? err->err : PV_EINTERNAL;
        pv_db_bind_text(st, 1, conn_id);
        pv_db_bind_text(st, 2, v->native_id);
        if (sqlite3_step(st) == SQLITE_ROW)
            pv_db_col_copy(st, 0, old_state, 16);
        pv_db_release(st);
    }
    st = pv_db_stmt(sql, err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, new_id);
    pv_db_bind_text(st, 2, conn_id);
    pv_db_bind_text(st, 3, v->host_native_id);
    pv_db_bind_text(st, 4, v->native_id);
    pv_db_bind_text(st, 5, v->name ? v->name : v->native_id);
    pv_db_bind_text(st, 6, vendor);
    pv_db_bind_text(st, 7, power_name(v->power_state));
    sqlite3_bind_int(st, 8, v->vcpus);
    sqlite3_bind_int64(st, 9, v->memory_mb);
    if (v->paravirtual < 0)
        sqlite3_bind_null(st, 10);
    else
        sqlite3_bind_int(st, 10, v->paravirtual);
    pv_db_bind_text(st, 11, v->disks_json);
    pv_db_bind_text(st, 12, v->nics_json);
    pv_db_bind_text(st, 13, v->vendor_json);
    pv_db_bind_text(st, 14, source);
    if (v->usage_known) {
        sqlite3_bind_double(st, 15, v->cpu_usage_pct);
        sqlite3_bind_int64(st, 16, v->memory_used_mb);
    } else { /* keep what was measured before */
        sqlite3_bind_null(st, 15);
        sqlite3_bind_null(st, 16);
    }
    sqlite3_bind_int64(st, 17, (sqlite3_int64)(v->version & INT64_MAX));
    return step_done(st, err, "vm upsert");
}

int pv_db_vm_gone(const char *conn_id, const char *native_id, char id[64])
{
    /* a VM on its way to another connection is not gone */
    static const char sql[] =
        "DELETE FROM vms WHERE connection_id = ? AND native_id = ? AND moving_to IS NULL "
        "RETURNING id";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int rc;

    id[0] = '\0';
    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, conn_id);
    pv_db_bind_text(st, 2, native_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        pv_db_col_copy(st, 0, id, 64);
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    pv_db_release(st);
    return rc == SQLITE_DONE ? 0 : PV_EINTERNAL;
}

int pv_db_prune_unseen(const char *conn_id, const char *since, struct pv_error *err)
{
    static const char *const sqls[] = {
        "DELETE FROM vms WHERE connection_id = ? AND observed_at < ?",
        "DELETE FROM hosts WHERE connection_id = ? AND observed_at < ?",
        "DELETE FROM clusters WHERE connection_id = ? AND observed_at < ?",
        "DELETE FROM storage_pools WHERE connection_id = ? AND observed_at < ?",
        "DELETE FROM networks WHERE connection_id = ? AND observed_at < ?",
    };
    for (size_t i = 0; i < sizeof sqls / sizeof sqls[0]; i++) {
        sqlite3_stmt *st = pv_db_stmt(sqls[i], err);
        int rc;
        if (!st)
            return err ? err->err : PV_EINTERNAL;
        pv_db_bind_text(st, 1, conn_id);
        pv_db_bind_text(st, 2, since);
        rc = step_done(st, err, "prune");
        if (rc)
            return rc;
    }
    return 0;
}

static void vm_ref_row(sqlite3_stmt *st, struct pv_db_vm_ref *out)
{
    pv_db_col_copy(st, 0, out->id, sizeof out->id);
    pv_db_col_copy(st, 1, out->connection_id, sizeof out->connection_id);
    pv_db_col_copy(st, 2, out->host_id, sizeof out->host_id);
    pv_db_col_copy(st, 3, out->native_id, sizeof out->native_id);
    pv_db_col_copy(st, 4, out->name, sizeof out->name);
    pv_db_col_copy(st, 5, out->power_state, sizeof out->power_state);
    pv_db_col_copy(st, 6, out->vendor, sizeof out->vendor);
    pv_db_col_copy(st, 7, out->ha, sizeof out->ha);
    out->vcpus = sqlite3_column_int(st, 8);
    out->memory_mb = sqlite3_column_int64(st, 9);
}

/* One-row lookups by id or by (connection, native id): the same steps for
 * every kind of reference, with the kind's row reader.  Returns 0, or
 * PV_ENOTFOUND, or PV_EINTERNAL. */
typedef void (*row_reader)(sqlite3_stmt *st, void *out);

static int lookup_one(const char *sql, const char *k1, const char *k2, row_reader row, void *out)
{
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int rc = PV_ENOTFOUND;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, k1);
    if (k2)
        pv_db_bind_text(st, 2, k2);
    if (sqlite3_step(st) == SQLITE_ROW) {
        row(st, out);
        rc = 0;
    }
    pv_db_release(st);
    return rc;
}

#define VM_REF_COLS \
    "SELECT id, connection_id, host_id, native_id, name, power_state, vendor, ha, vcpus, memory_mb FROM vms "

static void vm_ref_reader(sqlite3_stmt *st, void *out)
{
    vm_ref_row(st, out);
}

int pv_db_vm_ref(const char *id, struct pv_db_vm_ref *out, struct pv_error *err)
{
    int rc = lookup_one(VM_REF_COLS "WHERE id = ?", id, NULL, vm_ref_reader, out);
    if (rc == PV_ENOTFOUND)
        return pv_fail(err, vm_not_found, "no vm with id '%.80s'", id);
    return rc ? pv_fail(err, database_error, "vm lookup failed") : 0;
}

int pv_db_vm_ref_by_name(const char *host_id, const char *name, struct pv_db_vm_ref *out)
{
    return lookup_one(VM_REF_COLS "WHERE host_id = ? AND name = ?", host_id, name, vm_ref_reader,
                      out);
}

int pv_db_vm_ref_native(const char *conn_id, const char *native_id, struct pv_db_vm_ref *out)
{
    return lookup_one(VM_REF_COLS "WHERE connection_id = ? AND native_id = ?", conn_id, native_id,
                      vm_ref_reader, out);
}

#define HOST_REF_COLS "SELECT id, connection_id, native_id, name, state, vendor FROM hosts "

static void host_ref_row(sqlite3_stmt *st, void *o)
{
    struct pv_db_host_ref *out = o;
    pv_db_col_copy(st, 0, out->id, sizeof out->id);
    pv_db_col_copy(st, 1, out->connection_id, sizeof out->connection_id);
    pv_db_col_copy(st, 2, out->native_id, sizeof out->native_id);
    pv_db_col_copy(st, 3, out->name, sizeof out->name);
    pv_db_col_copy(st, 4, out->state, sizeof out->state);
    pv_db_col_copy(st, 5, out->vendor, sizeof out->vendor);
}

int pv_db_host_ref(const char *id, struct pv_db_host_ref *out, struct pv_error *err)
{
    int rc = lookup_one(HOST_REF_COLS "WHERE id = ?", id, NULL, host_ref_row, out);
    if (rc == PV_ENOTFOUND)
        return pv_fail(err, host_not_found, "no host with id '%.80s'", id);
    return rc ? pv_fail(err, database_error, "host lookup failed") : 0;
}

int pv_db_host_ref_native(const char *conn_id, const char *native_id, struct pv_db_host_ref *out)
{
    return lookup_one(HOST_REF_COLS "WHERE connection_id = ? AND native_id = ?", conn_id,
                      native_id, host_ref_row, out);
}

static void place_row(sqlite3_stmt *st, void *o)
{
    struct pv_db_place_ref *out = o;
    pv_db_col_copy(st, 0, out->id, sizeof out->id);
    pv_db_col_copy(st, 1, out->connection_id, sizeof out->connection_id);
    pv_db_col_copy(st, 2, out->native_id, sizeof out->native_id);
    pv_db_col_copy(st, 3, out->name, sizeof out->name);
    pv_db_col_copy(st, 4, out->kind, sizeof out->kind);
    out->free_mb = sqlite3_column_int64(st, 5);
}

int pv_db_pool_ref(const char *id, struct pv_db_place_ref *out, struct pv_error *err)
{
    int rc = lookup_one("SELECT id, connection_id, native_id, name, kind, free_mb FROM storage_pools "
                        "WHERE id = ?", id, NULL, place_row, out);
    if (rc == PV_ENOTFOUND)
        return pv_fail(err, unknown_pool, "no storage pool with id '%.80s'", id);
    return rc ? pv_fail(err, database_error, "pool lookup failed") : 0;
}

int pv_db_network_ref(const char *id, struct pv_db_place_ref *out, struct pv_error *err)
{
    int rc = lookup_one("SELECT id, connection_id, native_id, name, kind, 0 FROM networks WHERE id = ?",
                        id, NULL, place_row, out);
    if (rc == PV_ENOTFOUND)
        return pv_fail(err, unknown_network, "no network with id '%.80s'", id);
    return rc ? pv_fail(err, database_error, "network lookup failed") : 0;
}

static void id_row(sqlite3_stmt *st, void *o)
{
    pv_db_col_copy(st, 0, o, 64);
}

void pv_db_pool_id_native(const char *conn_id, const char *native_id, char id[64])
{
    id[0] = '\0';
    lookup_one("SELECT id FROM storage_pools WHERE connection_id = ? AND native_id = ?", conn_id,
               native_id, id_row, id);
}

void pv_db_network_id_native(const char *conn_id, const char *native_id, char id[64])
{
    id[0] = '\0';
    lookup_one("SELECT id FROM networks WHERE connection_id = ? AND native_id = ?", conn_id,
               native_id, id_row, id);
}

static void one_row(sqlite3_stmt *st, void *o)
{
    (void)st;
    *(int *)o = 1;
}

int pv_db_host_reaches(const char *host_id, const char *pool_or_network_id)
{
    int yes = 0;
    lookup_one("SELECT 1 FROM hosts h JOIN pool_hosts l ON l.connection_id = h.connection_id "
               "  AND l.host_native_id = h.native_id WHERE h.id = ?1 AND l.pool_id = ?2 "
               "UNION ALL SELECT 1 FROM hosts h JOIN network_hosts l ON l.connection_id = h.connection_id "
               "  AND l.host_native_id = h.native_id WHERE h.id = ?1 AND l.network_id = ?2",
               host_id, pool_or_network_id, one_row, &yes);
    return yes;
}

/* Device changes (server/http/api_devices.c): the pool or network of a
 * name that a host reaches, and whether the host's connection reports any. */
int pv_db_place_on_host(const char *host_id, int network, const char *name, int bridge,
                        struct pv_db_place_ref *out)
{
    static const char pools[] =
        "SELECT p.id, p.connection_id, p.native_id, p.name, p.kind, p.free_mb FROM storage_pools p "
        "JOIN pool_hosts l ON l.pool_id = p.id JOIN hosts h ON h.connection_id = l.connection_id "
        "AND h.native_id = l.host_native_id WHERE h.id = ?1 AND p.name = ?2";
    static const char nets[] =
        "SELECT p.id, p.connection_id, p.native_id, p.name, p.kind, 0 FROM networks p "
        "JOIN network_hosts l ON l.network_id = p.id JOIN hosts h ON h.connection_id = l.connection_id "
        "AND h.native_id = l.host_native_id WHERE h.id = ?1 AND p.name = ?2 AND p.kind <> 'bridge'";
    static const char bridges[] =
        "SELECT p.id, p.connection_id, p.native_id, p.name, p.kind, 0 FROM networks p "
        "JOIN network_hosts l ON l.network_id = p.id JOIN hosts h ON h.connection_id = l.connection_id "
        "AND h.native_id = l.host_native_id WHERE h.id = ?1 AND p.name = ?2 AND p.kind = 'bridge'";
    return lookup_one(!network ? pools : bridge ? bridges : nets, host_id, name, place_row, out);
}

int pv_db_host_has_places(const char *host_id, int network)
{
    int yes = 0;
    lookup_one(network ? "SELECT 1 FROM hosts h JOIN network_hosts l ON l.connection_id = h.connection_id "
                         "AND l.host_native_id = h.native_id WHERE h.id = ? LIMIT 1"
                       : "SELECT 1 FROM hosts h JOIN pool_hosts l ON l.connection_id = h.connection_id "
                         "AND l.host_native_id = h.native_id WHERE h.id = ? LIMIT 1",
               host_id, NULL, one_row, &yes);
    return yes;
}

struct vm_devices {
    char *disks, *nics;
};

static void devices_row(sqlite3_stmt *st, void *o)
{
    struct vm_devices *d = o;
    d->disks = pv_db_col_dup(st, 0);
    d->nics = pv_db_col_dup(st, 1);
}

int pv_db_vm_devices(const char *id, char **disks_json, char **nics_json)
{
    struct vm_devices d = {NULL, NULL};
    int rc = lookup_one("SELECT disks, nics FROM vms WHERE id = ?", id, NULL, devices_row, &d);
    *disks_json = d.disks;
    *nics_json = d.nics;
    return rc;
}

int pv_db_vm_patch(const char *id, const char *ha, const char *tags_json, struct pv_error *err)
{
    static const char sql[] =
        "UPDATE vms SET ha = coalesce(?, ha), tags = coalesce(?, tags) WHERE id = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, ha);
    pv_db_bind_text(st, 2, tags_json);
    pv_db_bind_text(st, 3, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "update vm");
    else if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
        rc = pv_fail(err, vm_not_found, "no vm with id '%.80s'", id);
    pv_db_release(st);
    return rc;
}

int pv_db_host_set_group(const char *host_id, const char *group_id, struct pv_error *err)
{
    static const char sql[] = "UPDATE hosts SET host_group_id = ? WHERE id = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, group_id);
    pv_db_bind_text(st, 2, host_id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "move host");
    else if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
        rc = pv_fail(err, host_not_found, "no host with id '%.80s'",
                          host_id);
    pv_db_release(st);
    return rc;
}

int pv_db_hosts_set_state(const char *conn_id, const char *state)
{
    /* Only a connected host becomes disconnected, and it remembers when: a
     * failed host stays failed and one in maintenance stays so until it
     * answers again (the upsert of its next report sets its state). */
    static const char sql[] =
        "UPDATE hosts SET state = ?1, observed_at = " NOW ", "
        "  unreachable_since = CASE WHEN ?1 = 'disconnected' THEN " NOW " ELSE NULL END "
        "WHERE connection_id = ?2 AND state = 'connected' AND state != ?1";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, state);
    pv_db_bind_text(st, 2, conn_id);
    return step_done(st, NULL, "host state");
}

json_t *pv_db_hosts_all(void)
{
    struct pv_query q = {.coll = &pv_coll_hosts, .limit = PV_QUERY_MAX_LIMIT,
                         .sort = pv_collection_field(&pv_coll_hosts, "id")};
    json_t *all = json_array();

    /* Page through with the same keyset cursor the API uses. */
    for (;;) {
        json_t *items = NULL;
        char *next = NULL;
        if (pv_db_list(&q, &items, &next, NULL) != 0) {
            json_decref(items);
            break;
        }
        json_array_extend(all, items);
        json_decref(items);
        free(q.cursor_id);
        q.cursor_id = NULL;
        if (!next)
            break;
        free(next);
        q.has_cursor = 1;
        q.cursor_value.type = PV_VT_TEXT;
        q.cursor_id = strdup(json_string_value(
            json_object_get(json_array_get(all, json_array_size(all) - 1), "id")));
        q.cursor_value.s = q.cursor_id;
    }
    free(q.cursor_id);
    return all;
}

int pv_db_vm_set_moving(const char *id, const char *to_conn_id)
{
    static const char sql[] = "UPDATE vms SET moving_to = ? WHERE id = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, to_conn_id);
    pv_db_bind_text(st, 2, id);
    return step_done(st, NULL, "vm moving");
}

int pv_db_vm_finish_move(const char *id, const char *native_id, const char *conn_id,
                         const char *other_conn_id)
{
    static const char drop[] =
        "DELETE FROM vms WHERE connection_id IN (?1, ?4) AND native_id = ?2 AND id != ?3";
    /* another connection numbers its reports from elsewhere: start over
     * (unless the row took its reports already: then they stand) */
    static const char home[] =
        "UPDATE vms SET report_version = CASE WHEN connection_id = ?1 THEN report_version ELSE 0 END, "
        "connection_id = ?1, moving_to = NULL WHERE id = ?2";
    sqlite3_stmt *st;
    int rc = pv_db_begin(NULL);

    if (rc)
        return rc;
    st = pv_db_stmt(drop, NULL);
    if (!st)
        goto fail;
    pv_db_bind_text(st, 1, conn_id);
    pv_db_bind_text(st, 2, native_id);
    pv_db_bind_text(st, 3, id);
    pv_db_bind_text(st, 4, other_conn_id);
    if (step_done(st, NULL, "drop duplicate"))
        goto fail;
    st = pv_db_stmt(home, NULL);
    if (!st)
        goto fail;
    pv_db_bind_text(st, 1, conn_id);
    pv_db_bind_text(st, 2, id);
    if (step_done(st, NULL, "rehome vm"))
        goto fail;
    return pv_db_commit(NULL);
fail:
    pv_db_rollback();
    return PV_EINTERNAL;
}
