/* db_placement.c -- what the placement engine reads and writes: the
 * inventory snapshot (host groups, hosts and VMs in one read transaction,
 * so a sync landing halfway cannot give the engine half a picture), VM
 * placement sets, host tags, the rebalance cool-down and plans.  Rows are
 * handed to callbacks as borrowed plain structs; db/ knows nothing of the
 * engine's own types. */
#include <string.h>
#include "db_internal.h"

static int each_row(const char *sql, void (*row)(sqlite3_stmt *, void *), void *ctx,
                    struct pv_error *err)
{
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        row(st, ctx);
    pv_db_release(st);
    return rc == SQLITE_DONE ? 0 : pv_db_error(err, "placement snapshot");
}

static const char *txt(sqlite3_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(st, col);
}

struct cbs {
    const struct pv_db_pl_callbacks *cb;
};

static void group_row(sqlite3_stmt *st, void *ctx)
{
    const struct pv_db_pl_callbacks *cb = ((struct cbs *)ctx)->cb;
    struct pv_db_pl_group g = {txt(st, 0), txt(st, 1), txt(st, 2), txt(st, 3)};
    cb->group(cb->ctx, &g);
}

static void host_row(sqlite3_stmt *st, void *ctx)
{
    const struct pv_db_pl_callbacks *cb = ((struct cbs *)ctx)->cb;
    struct pv_db_pl_host h = {
        .id = txt(st, 0), .name = txt(st, 1), .vendor = txt(st, 2),
        .connection_id = txt(st, 3), .host_group_id = txt(st, 4), .state = txt(st, 5),
        .cpu_cores = sqlite3_column_int(st, 6), .memory_mb = sqlite3_column_int64(st, 7),
        .memory_used_mb = sqlite3_column_int64(st, 8), .cpu_usage_pct = sqlite3_column_double(st, 9),
        .tags_json = txt(st, 10),
    };
    cb->host(cb->ctx, &h);
}

static void place_row(sqlite3_stmt *st, void *ctx)
{
    const struct pv_db_pl_callbacks *cb = ((struct cbs *)ctx)->cb;
    struct pv_db_pl_place p = {
        .id = txt(st, 0), .name = txt(st, 1), .network = sqlite3_column_int(st, 2),
        .kind = txt(st, 3), .free_mb = sqlite3_column_int64(st, 4), .host_ids_json = txt(st, 5),
    };
    cb->place(cb->ctx, &p);
}

static void vm_row(sqlite3_stmt *st, void *ctx)
{
    const struct pv_db_pl_callbacks *cb = ((struct cbs *)ctx)->cb;
    struct pv_db_pl_vm v = {
        .id = txt(st, 0), .name = txt(st, 1), .host_id = txt(st, 2), .vendor = txt(st, 3),
        .connection_id = txt(st, 4), .power_state = txt(st, 5), .ha = txt(st, 6),
        .vcpus = sqlite3_column_int(st, 7), .memory_mb = sqlite3_column_int64(st, 8),
        .tags_json = txt(st, 9), .anti_affinity_json = txt(st, 10), .affinity_json = txt(st, 11),
        .last_moved_at = txt(st, 12),
    };
    cb->vm(cb->ctx, &v);
}

int pv_db_placement_load(const struct pv_db_pl_callbacks *cb, struct pv_error *err)
{
    static const char groups[] =
        "SELECT id, name, parent_id, policy FROM host_groups ORDER BY id";
    static const char hosts[] =
        "SELECT id, name, vendor, connection_id, host_group_id, state, cpu_cores, memory_mb, "
        "memory_used_mb, cpu_usage_pct, tags FROM hosts ORDER BY id";
    static const char vms[] =
        "SELECT id, name, host_id, vendor, connection_id, power_state, ha, vcpus, memory_mb, "
        "tags, anti_affinity, affinity, last_moved_at FROM vms"; /* table order: no index walk */
    static const char places[] =
        "SELECT id, name, 0, kind, free_mb, host_ids FROM storage_pools_live "
        "UNION ALL SELECT id, name, 1, kind, 0, host_ids FROM networks_live ORDER BY 1";
    sqlite3 *db = pv_db_conn(err);
    struct cbs c = {cb};
    int rc;

    if (!db)
        return err ? err->err : PV_EINTERNAL;
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        return pv_db_error(err, "placement snapshot");
    rc = each_row(groups, group_row, &c, err);
    if (!rc)
        rc = each_row(hosts, host_row, &c, err);
    if (!rc && cb->place)
        rc = each_row(places, place_row, &c, err);
    if (!rc)
        rc = each_row(vms, vm_row, &c, err);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return rc;
}

int pv_db_vm_set_sets(const char *id, const char *anti_json, const char *aff_json,
                      struct pv_error *err)
{
    int rc = 0;

    if (anti_json)
        rc = pv_db_write3("UPDATE vms SET anti_affinity = ?1 WHERE id = ?2", anti_json, id, NULL,
                          "vm anti-affinity", err);
    if (!rc && aff_json)
        rc = pv_db_write3("UPDATE vms SET affinity = ?1 WHERE id = ?2", aff_json, id, NULL,
                          "vm affinity", err);
    return rc;
}

int pv_db_host_set_tags(const char *id, const char *tags_json, struct pv_error *err)
{
    return pv_db_write3("UPDATE hosts SET tags = ?1 WHERE id = ?2", tags_json, id, NULL,
                        "host tags", err);
}

int pv_db_vm_mark_moved(const char *id, const char *at)
{
    return pv_db_write3("UPDATE vms SET last_moved_at = ?1 WHERE id = ?2", at, id, NULL,
                        "vm moved", NULL);
}
