/* db_ha.c -- host health, HA and fencing records, maintenance flags.
 * Times passed in are the daemon's clock (ISO-8601 UTC text). */
#include <string.h>
#include "db_internal.h"

json_t *pv_db_hosts_unreachable_since(const char *before)
{
    static const char sql[] =
        "SELECT h.id, h.name, h.vendor, h.connection_id, c.type, h.unreachable_since, h.facts "
        "FROM hosts h JOIN connections c ON c.id = h.connection_id "
        "WHERE h.state = 'disconnected' AND h.unreachable_since IS NOT NULL "
        "AND h.unreachable_since <= ? ORDER BY h.unreachable_since, h.id";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    json_t *out = json_array();

    if (!st)
        return out;
    pv_db_bind_text(st, 1, before);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(out, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
                                             "id", sqlite3_column_text(st, 0),
                                             "name", sqlite3_column_text(st, 1),
                                             "vendor", sqlite3_column_text(st, 2),
                                             "connection_id", sqlite3_column_text(st, 3),
                                             "connection_type", sqlite3_column_text(st, 4),
                                             "unreachable_since", sqlite3_column_text(st, 5),
                                             "facts", sqlite3_column_text(st, 6)));
    pv_db_release(st);
    return out;
}

json_t *pv_db_ha_witnesses(const char *conn_type, const char *conn_id, int max)
{
    static const char sql[] =
        "SELECT h.connection_id, h.name FROM hosts h JOIN connections c ON c.id = h.connection_id "
        "WHERE c.type = ?1 AND h.connection_id <> ?2 AND h.state IN ('connected', 'maintenance') "
        "ORDER BY h.name, h.id LIMIT ?3";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    json_t *out = json_array();

    if (!st)
        return out;
    pv_db_bind_text(st, 1, conn_type);
    pv_db_bind_text(st, 2, conn_id);
    sqlite3_bind_int(st, 3, max);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(out, json_pack("{s:s,s:s}", "connection_id", sqlite3_column_text(st, 0),
                                             "name", sqlite3_column_text(st, 1)));
    pv_db_release(st);
    return out;
}

int pv_db_host_mark_failed(const char *id)
{
    /* only a host still unreachable: one that answered meanwhile stays up */
    return pv_db_write3("UPDATE hosts SET state = 'failed' WHERE id = ?1 "
                        "AND state = 'disconnected'",
                        id, NULL, NULL, "host failed", NULL);
}

int pv_db_host_set_maintenance(const char *id, int on, struct pv_error *err)
{
    int rc = pv_db_write3(on ? "UPDATE hosts SET maintenance = 1, state = 'maintenance' "
                               "WHERE id = ?1"
                             : "UPDATE hosts SET maintenance = 0, "
                               "  state = CASE WHEN state = 'maintenance' THEN 'connected' "
                               "  ELSE state END WHERE id = ?1",
                          id, NULL, NULL, "host maintenance", NULL);
    return rc == PV_ENOTFOUND ? pv_fail(err, host_not_found, "no host with id '%.64s'",
                                             id)
                              : rc;
}

int pv_db_vm_set_ha_status(const char *id, const char *status)
{
    return pv_db_write3("UPDATE vms SET ha_status = ?2 WHERE id = ?1", id, status, NULL,
                        "vm ha status", NULL);
}

int pv_db_fence_add(const char *conn_id, const char *native_id, const char *vm_id,
                    const char *at)
{
    static const char sql[] =
        "INSERT INTO ha_fence(connection_id, native_id, vm_id, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (connection_id, native_id) DO UPDATE SET vm_id = excluded.vm_id, "
        "job_id = NULL, done_at = NULL, created_at = excluded.created_at "
        "WHERE ha_fence.job_id = 'done'"; /* a remembered fence gives way to a new one */
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, conn_id);
    pv_db_bind_text(st, 2, native_id);
    pv_db_bind_text(st, 3, vm_id);
    pv_db_bind_text(st, 4, at);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : pv_db_error(NULL, "fence");
    pv_db_release(st);
    return rc;
}

int pv_db_fence_find(const char *conn_id, const char *native_id, char vm_id[64], char job_id[64])
{
    static const char sql[] =
        "SELECT vm_id, job_id FROM ha_fence WHERE connection_id = ? AND native_id = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int found;

    if (!st)
        return 0;
    pv_db_bind_text(st, 1, conn_id);
    pv_db_bind_text(st, 2, native_id);
    found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        pv_db_col_copy(st, 0, vm_id, 64);
        pv_db_col_copy(st, 1, job_id, 64);
    }
    pv_db_release(st);
    return found;
}

int pv_db_fence_claim(const char *conn_id, const char *native_id, const char *job_id)
{
    /* the first reporter to claim it starts the fencing job, once */
    return pv_db_write3("UPDATE ha_fence SET job_id = ?3 WHERE connection_id = ?1 "
                        "AND native_id = ?2 AND job_id IS NULL",
                        conn_id, native_id, job_id, "fence claim", NULL);
}

int pv_db_fence_release(const char *conn_id, const char *native_id, int done)
{
    return pv_db_write3(done ? "DELETE FROM ha_fence WHERE connection_id = ?1 AND native_id = ?2"
                             : "UPDATE ha_fence SET job_id = NULL WHERE connection_id = ?1 "
                               "AND native_id = ?2",
                        conn_id, native_id, NULL, "fence release", NULL);
}

int pv_db_fence_done(const char *conn_id, const char *native_id)
{
    return pv_db_write3("UPDATE ha_fence SET job_id = 'done', "
                        "done_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') "
                        "WHERE connection_id = ?1 AND native_id = ?2",
                        conn_id, native_id, NULL, "fence done", NULL);
}

void pv_db_fence_forget_done(int seconds)
{
    char age[32];
    snprintf(age, sizeof age, "-%d seconds", seconds);
    pv_db_write3("DELETE FROM ha_fence WHERE job_id = 'done' "
                 "AND done_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?1)",
                 age, NULL, NULL, "fence forget", NULL);
}

int pv_db_fence_set_job(const char *conn_id, const char *native_id, const char *job_id)
{
    return pv_db_write3("UPDATE ha_fence SET job_id = ?3 WHERE connection_id = ?1 "
                        "AND native_id = ?2",
                        conn_id, native_id, job_id, "fence job", NULL);
}

int pv_db_alert_raise(const char *id, const char *object_id, const char *kind, double value,
                      double threshold, const char *message, const char *at)
{
    static const char sql[] =
        "INSERT OR IGNORE INTO alerts(id, object_id, kind, value, threshold, message, raised_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    pv_db_bind_text(st, 2, object_id);
    pv_db_bind_text(st, 3, kind);
    sqlite3_bind_double(st, 4, value);
    sqlite3_bind_double(st, 5, threshold);
    pv_db_bind_text(st, 6, message);
    pv_db_bind_text(st, 7, at);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : pv_db_error(NULL, "alert");
    if (!rc && sqlite3_changes(pv_db_conn(NULL)) == 0)
        rc = PV_ECONFLICT; /* already active */
    pv_db_release(st);
    return rc;
}

int pv_db_alert_clear(const char *object_id, const char *kind)
{
    return pv_db_write3("DELETE FROM alerts WHERE object_id = ?1 AND kind = ?2", object_id, kind,
                        NULL, "alert clear", NULL);
}
