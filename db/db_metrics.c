/* db_metrics.c -- monitoring history: sampling every connected host and
 * every running VM in one statement each, rolling raw samples up into
 * five-minute averages, expiring both tiers, and reading a series back in
 * buckets of the caller's step.  Times are Unix seconds from the daemon's
 * clock (so a test clock moves them). */
#include "db_internal.h"


int pv_db_metrics_sample(int64_t t, int64_t *rows, struct pv_error *err)
{
    static const char hosts[] =
        "INSERT OR REPLACE INTO metric_samples(object_id, tier, t, cpu_pct, mem_mb, n) "
        "SELECT id, 0, ?1, cpu_usage_pct, memory_used_mb, 1 FROM hosts WHERE state = 'connected'";
    static const char vms[] =
        "INSERT OR REPLACE INTO metric_samples(object_id, tier, t, cpu_pct, mem_mb, n) "
        "SELECT id, 0, ?1, cpu_usage_pct, coalesce(memory_used_mb, memory_mb), 1 FROM vms_live "
        "WHERE live_power_state IN ('running', 'paused')"; /* a stale figure is no sample */
    const char *const sqls[] = {hosts, vms};
    int rc = pv_db_begin(err);

    *rows = 0;
    for (int i = 0; !rc && i < 2; i++) {
        sqlite3_stmt *st = pv_db_stmt(sqls[i], err);
        if (!st) {
            rc = err ? err->err : PV_EINTERNAL;
            break;
        }
        sqlite3_bind_int64(st, 1, t);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = pv_db_error(err, "metrics sample");
        else
            *rows += sqlite3_changes(pv_db_conn(NULL));
        pv_db_release(st);
    }
    if (rc) {
        pv_db_rollback();
        return rc;
    }
    return pv_db_commit(err);
}

int pv_db_metrics_rollup(int64_t from, int64_t to, struct pv_error *err)
{
    /* every five-minute bucket in [from, to): the average of its raw samples */
    static const char sql[] =
        "INSERT OR REPLACE INTO metric_samples(object_id, tier, t, cpu_pct, mem_mb, n) "
        "SELECT object_id, 1, (t / 300) * 300, avg(cpu_pct), CAST(avg(mem_mb) AS INTEGER), count(*) "
        "FROM metric_samples WHERE tier = 0 AND t >= ?1 AND t < ?2 "
        "GROUP BY object_id, t / 300";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : pv_db_error(err, "metrics rollup");
    pv_db_release(st);
    return rc;
}

int pv_db_metrics_expire(int tier, int64_t before, struct pv_error *err)
{
    sqlite3_stmt *st = pv_db_stmt("DELETE FROM metric_samples WHERE tier = ? AND t < ?", err);
    int rc;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    sqlite3_bind_int(st, 1, tier);
    sqlite3_bind_int64(st, 2, before);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : pv_db_error(err, "metrics expiry");
    pv_db_release(st);
    return rc;
}

int64_t pv_db_metrics_latest(int tier)
{
    sqlite3_stmt *st = pv_db_stmt("SELECT max(t) FROM metric_samples WHERE tier = ?", NULL);
    int64_t t = -1;

    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, tier);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        t = sqlite3_column_int64(st, 0);
    pv_db_release(st);
    return t;
}

int pv_db_metrics_series(const char *object_id, int tier, int64_t from, int64_t to, int64_t step,
                         json_t **points, struct pv_error *err)
{
    static const char sql[] =
        "SELECT (t / ?4) * ?4 AS b, avg(cpu_pct), avg(mem_mb), sum(n) FROM metric_samples "
        "WHERE object_id = ?1 AND tier = ?2 AND t >= ?3 AND t < ?5 GROUP BY b ORDER BY b";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc;

    *points = NULL;
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, object_id);
    sqlite3_bind_int(st, 2, tier);
    sqlite3_bind_int64(st, 3, from);
    sqlite3_bind_int64(st, 4, step);
    sqlite3_bind_int64(st, 5, to);
    *points = json_array();
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(*points, json_pack("{s:I,s:o,s:o,s:I}", "t",
                                                 (json_int_t)sqlite3_column_int64(st, 0), "cpu_pct",
                                                 sqlite3_column_type(st, 1) == SQLITE_NULL
                                                     ? json_null()
                                                     : json_real(sqlite3_column_double(st, 1)),
                                                 "memory_mb",
                                                 sqlite3_column_type(st, 2) == SQLITE_NULL
                                                     ? json_null()
                                                     : json_integer((json_int_t)sqlite3_column_double(st, 2)),
                                                 "samples", (json_int_t)sqlite3_column_int64(st, 3)));
    pv_db_release(st);
    return rc == SQLITE_DONE ? 0 : pv_db_error(err, "metrics series");
}
