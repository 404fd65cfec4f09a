/* db_events.c -- the event log: state changes, alerts and the audit trail.
 *
 * Audit rows are hash-chained: hash = SHA-256 over the previous audit row's
 * hash and this row's fields (id, time, object type and id, message,
 * actor), hex-encoded.  polyvisord is the only writer of its database, so
 * audit_lock is enough to keep "read the last hash, insert the next row"
 * one step; other events do not take it.
 */
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include "db_internal.h"

static pthread_mutex_t audit_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *nz(const char *s) { return s ? s : ""; }

/* The chain hash of one audit row. */
static void chain_hash(const char *prev, const char *id, const char *time, const char *otype,
                       const char *oid, const char *message, const char *actor, char out[65])
{
    crypto_hash_sha256_state st;
    unsigned char h[crypto_hash_sha256_BYTES];
    const char *parts[] = {nz(prev), nz(id), nz(time), nz(otype), nz(oid), nz(message), nz(actor)};

    crypto_hash_sha256_init(&st);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) /* NUL-separated */
        crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(out, 65, h, sizeof h);
}

static int last_audit_hash(char out[65])
{
    static const char sql[] =
        "SELECT hash FROM events WHERE severity = 'audit' AND hash IS NOT NULL "
        "ORDER BY seq DESC LIMIT 1";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int rc;

    out[0] = '\0';
    if (!st)
        return PV_EINTERNAL;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        pv_db_col_copy(st, 0, out, 65);
    pv_db_release(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : PV_EINTERNAL;
}

int pv_db_event_insert(const char *id, const char *object_type, const char *object_id,
                       const char *severity, const char *message, const char *actor)
{
    static const char sql[] =
        "INSERT INTO events(id, time, object_type, object_id, severity, message, actor, "
        "  prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    int audit = strcmp(severity, "audit") == 0;
    char now[32], prev[65] = "", hash[65] = "";
    sqlite3_stmt *st;
    int rc;

    pv_db_now(now);
    if (audit) {
        pthread_mutex_lock(&audit_lock);
        if (last_audit_hash(prev) != 0) {
            pthread_mutex_unlock(&audit_lock);
            return PV_EINTERNAL;
        }
        chain_hash(prev, id, now, object_type, object_id, message, actor, hash);
    }
    st = pv_db_stmt(sql, NULL);
    if (!st) {
        rc = PV_EINTERNAL;
        goto out;
    }
    pv_db_bind_text(st, 1, id);
    pv_db_bind_text(st, 2, now);
    pv_db_bind_text(st, 3, object_type);
    pv_db_bind_text(st, 4, object_id);
    pv_db_bind_text(st, 5, severity);
    pv_db_bind_text(st, 6, message);
    pv_db_bind_text(st, 7, actor);
    pv_db_bind_text(st, 8, audit ? prev : NULL);
    pv_db_bind_text(st, 9, audit ? hash : NULL);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : PV_EINTERNAL;
    pv_db_release(st);
out:
    if (audit)
        pthread_mutex_unlock(&audit_lock);
    return rc;
}

int pv_db_audit_verify(json_t **report, struct pv_error *err)
{
    static const char sql[] =
        "SELECT seq, id, time, object_type, object_id, message, actor, prev_hash, hash "
        "FROM events WHERE severity = 'audit' ORDER BY seq";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    char expect_prev[65] = "";
    int64_t checked = 0, unchained = 0;
    json_t *bad = NULL;
    int chained = 0;

    *report = NULL;
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    while (!bad && sqlite3_step(st) == SQLITE_ROW) {
        const char *f[9];
        char h[65];
        for (int i = 0; i < 9; i++)
            f[i] = (const char *)sqlite3_column_text(st, i);
        if (!f[8] && !chained) { /* written before the chain existed */
            unchained++;
            continue;
        }
        chained = 1;
        if (!f[8] || !f[7] || strcmp(f[7], expect_prev) != 0) {
            bad = json_pack("{s:I,s:s?,s:s?,s:s}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
                            "id", f[1], "time", f[2], "reason",
                            !f[8] ? "the row has lost its hash"
                                  : "the chain is broken here: the audit row before this one was "
                                    "removed, inserted or changed");
            break;
        }
        chain_hash(f[7], f[1], f[2], f[3], f[4], f[5], f[6], h);
        if (strcmp(h, f[8]) != 0) {
            bad = json_pack("{s:I,s:s?,s:s?,s:s}", "seq", (json_int_t)sqlite3_column_int64(st, 0),
                            "id", f[1], "time", f[2], "reason",
                            "this row was changed after it was written (its hash does not match "
                            "its contents)");
            break;
        }
        snprintf(expect_prev, sizeof expect_prev, "%s", f[8]);
        checked++;
    }
    pv_db_release(st);
    *report = json_pack("{s:b,s:I,s:I,s:o}", "ok", bad == NULL, "checked", (json_int_t)checked,
                        "unchained_before", (json_int_t)unchained, "first_bad",
                        bad ? bad : json_null());
    return 0;
}

int pv_db_stream_reserve(uint64_t n, uint64_t *upto, struct pv_error *err)
{
    sqlite3_stmt *st = pv_db_stmt("UPDATE stream_ids SET reserved = reserved + ? WHERE id = 1 "
                                  "RETURNING reserved", err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)n);
    if (sqlite3_step(st) == SQLITE_ROW)
        *upto = (uint64_t)sqlite3_column_int64(st, 0);
    else
        rc = pv_db_error(err, "reserve stream ids");
    pv_db_release(st);
    return rc;
}
