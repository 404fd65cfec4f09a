/* db_schedules.c -- schedules (recurring or one-shot placement jobs) and the
 * plans their runs propose.  Times are the caller's (ISO-8601 UTC text from
 * the daemon's clock), not SQLite's, so a test clock moves them too.  A
 * plan's state changes only along its allowed edges, in one conditional
 * UPDATE, so two operators approving at once start it once. */
#include <string.h>
#include "db_internal.h"

static int done(sqlite3_stmt *st, struct pv_error *err, const char *what, int want_row)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : pv_db_error(err, what);

    if (!rc && want_row && sqlite3_changes(pv_db_conn(NULL)) == 0)
        rc = PV_ENOTFOUND;
    pv_db_release(st);
    return rc;
}

int pv_db_schedule_insert(const struct pv_db_schedule *s, struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO schedules(id, name, kind, cron, at_time, timezone, params, enabled, "
        "  next_run_at, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = pv_db_stmt(sql, err);

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, s->id);
    pv_db_bind_text(st, 2, s->name);
    pv_db_bind_text(st, 3, s->kind);
    pv_db_bind_text(st, 4, s->cron);
    pv_db_bind_text(st, 5, s->at_time);
    pv_db_bind_text(st, 6, s->timezone);
    pv_db_bind_text(st, 7, s->params_json);
    sqlite3_bind_int(st, 8, s->enabled);
    pv_db_bind_text(st, 9, s->next_run_at);
    pv_db_bind_text(st, 10, s->created_by);
    pv_db_bind_text(st, 11, s->created_at);
    return done(st, err, "insert schedule", 0);
}

int pv_db_schedule_update(const struct pv_db_schedule *s, struct pv_error *err)
{
    static const char sql[] =
        "UPDATE schedules SET name = ?, cron = ?, at_time = ?, timezone = ?, params = ?, "
        "  enabled = ?, next_run_at = ? WHERE id = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, s->name);
    pv_db_bind_text(st, 2, s->cron);
    pv_db_bind_text(st, 3, s->at_time);
    pv_db_bind_text(st, 4, s->timezone);
    pv_db_bind_text(st, 5, s->params_json);
    sqlite3_bind_int(st, 6, s->enabled);
    pv_db_bind_text(st, 7, s->next_run_at);
    pv_db_bind_text(st, 8, s->id);
    rc = done(st, err, "update schedule", 1);
    return rc == PV_ENOTFOUND ? pv_fail(err, schedule_not_found,
                                             "no schedule with id '%.64s'", s->id)
                              : rc;
}

int pv_db_schedule_delete(const char *id, struct pv_error *err)
{
    sqlite3_stmt *st = pv_db_stmt("DELETE FROM schedules WHERE id = ?", err);
    int rc;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    rc = done(st, err, "delete schedule", 1);
    return rc == PV_ENOTFOUND ? pv_fail(err, schedule_not_found,
                                             "no schedule with id '%.64s'", id)
                              : rc;
}

int pv_db_schedule_fired(const char *id, const char *ran_at, const char *next_run_at,
                         const char *job_id, const char *error)
{
    static const char sql[] =
        "UPDATE schedules SET last_run_at = ?, next_run_at = ?, last_job_id = ?, last_error = ? "
        "WHERE id = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, ran_at);
    pv_db_bind_text(st, 2, next_run_at);
    pv_db_bind_text(st, 3, job_id);
    pv_db_bind_text(st, 4, error);
    pv_db_bind_text(st, 5, id);
    return done(st, NULL, "schedule fired", 0);
}

json_t *pv_db_schedules_due(const char *now)
{
    static const char sql[] =
        "SELECT id FROM schedules WHERE enabled = 1 AND next_run_at IS NOT NULL "
        "AND next_run_at <= ? ORDER BY next_run_at, id";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    json_t *ids = json_array();

    if (!st)
        return ids;
    pv_db_bind_text(st, 1, now);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(ids, json_string((const char *)sqlite3_column_text(st, 0)));
    pv_db_release(st);
    return ids;
}

/* ---- plans -------------------------------------------------------------- */

int pv_db_plan_insert(const struct pv_db_plan *p, struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO plans(id, kind, state, schedule_id, job_id, host_group_id, params, moves, "
        "  summary, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *st = pv_db_stmt(sql, err);

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, p->id);
    pv_db_bind_text(st, 2, p->kind);
    pv_db_bind_text(st, 3, p->state);
    pv_db_bind_text(st, 4, p->schedule_id);
    pv_db_bind_text(st, 5, p->job_id);
    pv_db_bind_text(st, 6, p->host_group_id);
    pv_db_bind_text(st, 7, p->params_json);
    pv_db_bind_text(st, 8, p->moves_json);
    pv_db_bind_text(st, 9, p->summary_json);
    pv_db_bind_text(st, 10, p->created_at);
    return done(st, err, "insert plan", 0);
}

int pv_db_plan_transition(const char *id, const char *from, const char *to, const char *by,
                          const char *at, const char *execute_job_id, struct pv_error *err)
{
    static const char sql[] =
        "UPDATE plans SET state = ?3, decided_by = coalesce(?4, decided_by), "
        "  decided_at = coalesce(?5, decided_at), "
        "  execute_job_id = coalesce(?6, execute_job_id) WHERE id = ?1 AND state = ?2";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    pv_db_bind_text(st, 2, from);
    pv_db_bind_text(st, 3, to);
    pv_db_bind_text(st, 4, by);
    pv_db_bind_text(st, 5, at);
    pv_db_bind_text(st, 6, execute_job_id);
    rc = done(st, err, "plan state", 1);
    return rc == PV_ENOTFOUND ? pv_fail(err, plan_not_in_state,
                                             "plan '%.64s' is not %s", id, from)
                              : rc;
}

int pv_db_plan_set_moves(const char *id, const char *moves_json)
{
    sqlite3_stmt *st = pv_db_stmt("UPDATE plans SET moves = ? WHERE id = ?", NULL);

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, moves_json);
    pv_db_bind_text(st, 2, id);
    return done(st, NULL, "plan moves", 0);
}

int pv_db_plans_supersede(const char *schedule_id, const char *except_id)
{
    static const char sql[] =
        "UPDATE plans SET state = 'superseded' WHERE schedule_id = ? AND id != ? "
        "AND state = 'proposed'";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, schedule_id);
    pv_db_bind_text(st, 2, except_id);
    return done(st, NULL, "supersede plans", 0);
}
