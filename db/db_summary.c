/* db_summary.c -- the whole inventory in a few numbers, for dashboards:
 * hosts and VMs by vendor and state, capacity, jobs and connections by
 * state, active alerts.  A handful of GROUP BY statements; no rows are
 * read into the daemon however large the inventory. */
#include "db_internal.h"

/* {"a": {"b": n}} from a two-column GROUP BY; one column: {"a": n}. */
static json_t *grouped(const char *sql, int two)
{
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    json_t *o = json_object();

    if (!st)
        return o;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *a = (const char *)sqlite3_column_text(st, 0);
        if (!a)
            a = "null";
        if (two) {
            const char *b = (const char *)sqlite3_column_text(st, 1);
            json_t *in = json_object_get(o, a);
            if (!in)
                json_object_set_new(o, a, in = json_object());
            json_object_set_new(in, b ? b : "null", json_integer(sqlite3_column_int64(st, 2)));
        } else {
            json_object_set_new(o, a, json_integer(sqlite3_column_int64(st, 1)));
        }
    }
    pv_db_release(st);
    return o;
}

static json_t *totals(json_t *by_vendor_state)
{
    json_t *by_state = json_object(), *in, *n;
    const char *v, *s;

    json_object_foreach(by_vendor_state, v, in) {
        json_object_foreach(in, s, n) {
            json_int_t was = json_integer_value(json_object_get(by_state, s));
            json_object_set_new(by_state, s, json_integer(was + json_integer_value(n)));
        }
    }
    return by_state;
}

json_t *pv_db_summary(void)
{
    static const char hosts[] = "SELECT vendor, state, count(*) FROM hosts GROUP BY 1, 2";
    static const char vms[] = "SELECT vendor, live_power_state, count(*) FROM vms_live GROUP BY 1, 2";
    static const char jobs[] = "SELECT state, count(*) FROM jobs GROUP BY 1";
    static const char conns[] = "SELECT state, count(*) FROM connections GROUP BY 1";
    static const char alerts[] = "SELECT kind, count(*) FROM alerts GROUP BY 1";
    static const char cap[] =
        "SELECT coalesce(sum(memory_mb), 0), coalesce(sum(memory_used_mb), 0), "
        "coalesce(sum(cpu_cores), 0), coalesce(sum(cpu_cores * cpu_usage_pct / 100.0), 0) "
        "FROM hosts WHERE state = 'connected'";
    json_t *h = grouped(hosts, 1), *v = grouped(vms, 1), *capacity = json_object();
    sqlite3_stmt *st = pv_db_stmt(cap, NULL);

    if (st && sqlite3_step(st) == SQLITE_ROW) {
        json_object_set_new(capacity, "memory_mb", json_integer(sqlite3_column_int64(st, 0)));
        json_object_set_new(capacity, "memory_used_mb", json_integer(sqlite3_column_int64(st, 1)));
        json_object_set_new(capacity, "cpu_cores", json_integer(sqlite3_column_int64(st, 2)));
        json_object_set_new(capacity, "cpu_busy_cores", json_real(sqlite3_column_double(st, 3)));
    }
    if (st)
        pv_db_release(st);
    return json_pack("{s:{s:o,s:o},s:{s:o,s:o},s:o,s:o,s:o,s:o}",
                     "hosts", "by_state", totals(h), "by_vendor_state", h,
                     "vms", "by_power_state", totals(v), "by_vendor_state", v,
                     "jobs", grouped(jobs, 0), "connections", grouped(conns, 0),
                     "alerts", grouped(alerts, 0), "capacity", capacity);
}
