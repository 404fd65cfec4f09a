/* db_events.c -- the event log: state changes, alerts and the audit trail. */
#include "db_internal.h"

int pv_db_event_insert(const char *id, const char *object_type, const char *object_id,
                       const char *severity, const char *message, const char *actor)
{
    static const char sql[] =
        "INSERT INTO events(id, time, object_type, object_id, severity, message, actor) "
        "VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    pv_db_bind_text(st, 2, object_type);
    pv_db_bind_text(st, 3, object_id);
    pv_db_bind_text(st, 4, severity);
    pv_db_bind_text(st, 5, message);
    pv_db_bind_text(st, 6, actor);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : PV_EINTERNAL;
    pv_db_release(st);
    return rc;
}
