/* db_jobs.c -- persistent jobs and their steps.
 *
 * A job row is written before the API answers 202, so a job a client was
 * told about always exists, even if the daemon dies the next instant.  Steps
 * are rows of their own; a restarted job keeps the steps that succeeded and
 * runs the rest, which is what "restart from the last good step" means.
 */
#include <stdlib.h>
#include <string.h>
#include "db_internal.h"

#define NOW "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"

void pv_db_job_clear(struct pv_db_job *j)
{
    if (j) {
        free(j->params);
        memset(j, 0, sizeof *j);
    }
}

static int find_idem(const char *user, const char *key, char existing_id[64], char hash[80])
{
    static const char sql[] =
        "SELECT id, request_hash FROM jobs WHERE created_by = ? AND idempotency_key = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int found = 0;

    if (!st)
        return 0;
    pv_db_bind_text(st, 1, user);
    pv_db_bind_text(st, 2, key);
    if (sqlite3_step(st) == SQLITE_ROW) {
        pv_db_col_copy(st, 0, existing_id, 64);
        pv_db_col_copy(st, 1, hash, 80);
        found = 1;
    }
    pv_db_release(st);
    return found;
}

int pv_db_job_insert(const struct pv_db_job *j, const char *const *step_names, int nsteps,
                     const char *idem_key, const char *request_hash, char existing_id[64],
                     struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO jobs(id, kind, target_type, target_id, lock_key, state, params, created_by, "
        "  idempotency_key, request_hash, created_at) "
        "VALUES (?, ?, ?, ?, ?, 'queued', coalesce(?, '{}'), ?, ?, ?, " NOW ")";
    static const char sql_step[] = "INSERT INTO job_steps(job_id, idx, name) VALUES (?, ?, ?)";
    char hash[80];
    sqlite3_stmt *st;
    int rc;

    existing_id[0] = '\0';
    rc = pv_db_begin(err);
    if (rc)
        return rc;
    if (idem_key && find_idem(j->created_by, idem_key, existing_id, hash)) {
        pv_db_rollback();
        if (request_hash && strcmp(hash, request_hash) != 0)
            return pv_fail(err, idempotency_key_reused,
                                "Idempotency-Key was used before for a different request "
                                "(job %s)", existing_id);
        return 0;
    }
    st = pv_db_stmt(sql, err);
    if (!st)
        goto fail;
    pv_db_bind_text(st, 1, j->id);
    pv_db_bind_text(st, 2, j->kind);
    pv_db_bind_text(st, 3, j->target_type[0] ? j->target_type : NULL);
    pv_db_bind_text(st, 4, j->target_id[0] ? j->target_id : NULL);
    pv_db_bind_text(st, 5, j->lock_key[0] ? j->lock_key : NULL);
    pv_db_bind_text(st, 6, j->params);
    pv_db_bind_text(st, 7, j->created_by);
    pv_db_bind_text(st, 8, idem_key);
    pv_db_bind_text(st, 9, request_hash);
    rc = sqlite3_step(st);
    pv_db_release(st);
    if (rc != SQLITE_DONE) {
        pv_db_error(err, "insert job");
        goto fail;
    }
    for (int i = 0; i < nsteps; i++) {
        st = pv_db_stmt(sql_step, err);
        if (!st)
            goto fail;
        pv_db_bind_text(st, 1, j->id);
        sqlite3_bind_int(st, 2, i);
        pv_db_bind_text(st, 3, step_names[i]);
        rc = sqlite3_step(st);
        pv_db_release(st);
        if (rc != SQLITE_DONE) {
            pv_db_error(err, "insert job step");
            goto fail;
        }
    }
    return pv_db_commit(err);
fail:
    pv_db_rollback();
    return err && err->err ? err->err : PV_EINTERNAL;
}

int pv_db_job_load(const char *id, struct pv_db_job *out, struct pv_error *err)
{
    static const char sql[] =
        "SELECT id, kind, state, created_by, coalesce(target_type, ''), coalesce(target_id, ''), "
        "  coalesce(lock_key, ''), progress, cancel_requested, attempts, params "
        "FROM jobs WHERE id = ?";
    static const char sql_steps[] = "SELECT idx, state FROM job_steps WHERE job_id = ? ORDER BY idx";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    memset(out, 0, sizeof *out);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        pv_db_release(st);
        return pv_fail(err, job_not_found, "no job with id '%.80s'", id);
    }
    pv_db_col_copy(st, 0, out->id, sizeof out->id);
    pv_db_col_copy(st, 1, out->kind, sizeof out->kind);
    pv_db_col_copy(st, 2, out->state, sizeof out->state);
    pv_db_col_copy(st, 3, out->created_by, sizeof out->created_by);
    pv_db_col_copy(st, 4, out->target_type, sizeof out->target_type);
    pv_db_col_copy(st, 5, out->target_id, sizeof out->target_id);
    pv_db_col_copy(st, 6, out->lock_key, sizeof out->lock_key);
    out->progress = sqlite3_column_int(st, 7);
    out->cancel_requested = sqlite3_column_int(st, 8);
    out->attempts = sqlite3_column_int(st, 9);
    out->params = pv_db_col_dup(st, 10);
    pv_db_release(st);
    st = pv_db_stmt(sql_steps, err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int idx = sqlite3_column_int(st, 0);
        if (idx >= 0 && idx < 16) {
            pv_db_col_copy(st, 1, out->step_state[idx], sizeof out->step_state[idx]);
            if (idx + 1 > out->nsteps)
                out->nsteps = idx + 1;
        }
    }
    pv_db_release(st);
    return rc;
}

int pv_db_job_set_state(const char *id, const char *state, int progress, const char *err_code,
                        const char *err_message)
{
    static const char sql[] =
        "UPDATE jobs SET revision = revision + 1, state = ?1, progress = max(0, min(100, ?2)), error_code = ?3, "
        "  error_message = ?4, "
        "  started_at = CASE WHEN ?1 = 'running' AND started_at IS NULL THEN " NOW
        "                    ELSE started_at END, "
        "  attempts = attempts + (?1 = 'running'), "
        "  finished_at = CASE WHEN ?1 IN ('succeeded', 'failed', 'cancelled') THEN " NOW
        "                     ELSE NULL END "
        "WHERE id = ?5";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, state);
    sqlite3_bind_int(st, 2, progress);
    pv_db_bind_text(st, 3, err_code);
    pv_db_bind_text(st, 4, err_message);
    pv_db_bind_text(st, 5, id);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : PV_EINTERNAL;
    pv_db_release(st);
    return rc;
}

int pv_db_job_set_progress(const char *id, int progress)
{
    sqlite3_stmt *st = pv_db_stmt("UPDATE jobs SET revision = revision + 1, progress = ? WHERE id = ?", NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    sqlite3_bind_int(st, 1, progress < 0 ? 0 : progress > 100 ? 100 : progress);
    pv_db_bind_text(st, 2, id);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : PV_EINTERNAL;
    pv_db_release(st);
    return rc;
}

int pv_db_job_set_result(const char *id, const char *result_json)
{
    sqlite3_stmt *st = pv_db_stmt("UPDATE jobs SET revision = revision + 1, result = ? WHERE id = ?", NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, result_json);
    pv_db_bind_text(st, 2, id);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : PV_EINTERNAL;
    pv_db_release(st);
    return rc;
}

int pv_db_job_step(const char *id, int idx, const char *state, int progress, const char *detail)
{
    static const char sql[] =
        "UPDATE job_steps SET state = ?1, progress = max(0, min(100, ?2)), "
        "  detail = coalesce(?3, detail), "
        "  started_at = CASE WHEN ?1 = 'running' AND started_at IS NULL THEN " NOW
        "                    ELSE started_at END, "
        "  finished_at = CASE WHEN ?1 IN ('succeeded', 'failed', 'skipped') THEN " NOW
        "                     ELSE NULL END "
        "WHERE job_id = ?4 AND idx = ?5";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, state);
    sqlite3_bind_int(st, 2, progress);
    pv_db_bind_text(st, 3, detail);
    pv_db_bind_text(st, 4, id);
    sqlite3_bind_int(st, 5, idx);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : PV_EINTERNAL;
    pv_db_release(st);
    return rc;
}

int pv_db_job_request_cancel(const char *id)
{
    sqlite3_stmt *st = pv_db_stmt("UPDATE jobs SET revision = revision + 1, cancel_requested = 1 WHERE id = ?", NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : PV_EINTERNAL;
    pv_db_release(st);
    return rc;
}

int pv_db_job_requeue(const char *id, struct pv_error *err)
{
    static const char sql[] =
        "UPDATE jobs SET revision = revision + 1, state = 'queued', error_code = NULL, error_message = NULL, "
        "  cancel_requested = 0, finished_at = NULL WHERE id = ?";
    static const char sql_steps[] =
        "UPDATE job_steps SET state = 'pending', progress = 0, started_at = NULL, "
        "  finished_at = NULL WHERE job_id = ? AND state IN ('running', 'failed')";
    sqlite3_stmt *st;
    int rc = pv_db_begin(err);

    if (rc)
        return rc;
    st = pv_db_stmt(sql, err);
    if (!st)
        goto fail;
    pv_db_bind_text(st, 1, id);
    rc = sqlite3_step(st);
    pv_db_release(st);
    if (rc != SQLITE_DONE)
        goto fail_db;
    st = pv_db_stmt(sql_steps, err);
    if (!st)
        goto fail;
    pv_db_bind_text(st, 1, id);
    rc = sqlite3_step(st);
    pv_db_release(st);
    if (rc != SQLITE_DONE)
        goto fail_db;
    return pv_db_commit(err);
fail_db:
    pv_db_error(err, "requeue job");
fail:
    pv_db_rollback();
    return err && err->err ? err->err : PV_EINTERNAL;
}

json_t *pv_db_job_ids(const char *state, int max)
{
    static const char sql[] =
        "SELECT id FROM jobs WHERE state = ? ORDER BY created_at, id LIMIT ?";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    json_t *a = json_array();

    if (!st)
        return a;
    pv_db_bind_text(st, 1, state);
    sqlite3_bind_int(st, 2, max);
    while (sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, json_string((const char *)sqlite3_column_text(st, 0)));
    pv_db_release(st);
    return a;
}

int pv_db_job_json(const char *id, json_t **obj, struct pv_error *err)
{
    static const char sql[] =
        "SELECT idx, name, state, progress, detail, started_at, finished_at "
        "FROM job_steps WHERE job_id = ? ORDER BY idx";
    sqlite3_stmt *st;
    json_t *steps;
    int rc = pv_db_get(&pv_coll_jobs, id, obj, err);

    if (rc)
        return rc;
    st = pv_db_stmt(sql, err);
    if (!st) {
        json_decref(*obj);
        *obj = NULL;
        return err ? err->err : PV_EINTERNAL;
    }
    steps = json_array();
    pv_db_bind_text(st, 1, id);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *s = json_object();
        json_object_set_new(s, "index", json_integer(sqlite3_column_int(st, 0)));
        json_object_set_new(s, "name", json_string((const char *)sqlite3_column_text(st, 1)));
        json_object_set_new(s, "state", json_string((const char *)sqlite3_column_text(st, 2)));
        json_object_set_new(s, "progress", json_integer(sqlite3_column_int(st, 3)));
        for (int c = 4; c <= 6; c++) {
            static const char *const keys[] = {"detail", "started_at", "finished_at"};
            const unsigned char *t = sqlite3_column_text(st, c);
            json_object_set_new(s, keys[c - 4], t ? json_string((const char *)t) : json_null());
        }
        json_array_append_new(steps, s);
    }
    pv_db_release(st);
    json_object_set_new(*obj, "steps", steps);
    return 0;
}
