/* db_auth.c -- users and bearer tokens.  Only hashes are stored: Argon2id
 * strings for passwords, SHA-256 hex for tokens (a token is 256 random bits,
 * so a fast hash is enough and lookups stay one indexed read). */
#include <stdlib.h>
#include "db_internal.h"

int pv_db_user_count(void)
{
    sqlite3_stmt *st = pv_db_stmt("SELECT count(*) FROM users", NULL);
    int n = -1;

    if (st && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    pv_db_release(st);
    return n;
}

int pv_db_user_create(const char *id, const char *username, const char *password_hash,
                      const char *role, struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO users(id, username, password_hash, role, created_at) "
        "VALUES (?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    pv_db_bind_text(st, 2, username);
    pv_db_bind_text(st, 3, password_hash);
    pv_db_bind_text(st, 4, role);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "create user");
    pv_db_release(st);
    return rc;
}

int pv_db_user_find(const char *username, char **id, char **password_hash, char **role,
                    struct pv_error *err)
{
    static const char sql[] = "SELECT id, password_hash, role FROM users WHERE username = ? AND disabled = 0";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, username);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *id = pv_db_col_dup(st, 0);
        *password_hash = pv_db_col_dup(st, 1);
        *role = pv_db_col_dup(st, 2);
    } else {
        rc = pv_fail(err, user_not_found, "no such user");
    }
    pv_db_release(st);
    return rc;
}

int pv_db_token_create(const char *id, const char *user_id, const char *token_hash,
                       int ttl_seconds, struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO tokens(id, user_id, token_hash, created_at, expires_at) VALUES "
        "(?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
        " strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('+%d seconds', ?)))";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    pv_db_bind_text(st, 2, user_id);
    pv_db_bind_text(st, 3, token_hash);
    sqlite3_bind_int(st, 4, ttl_seconds);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "create token");
    pv_db_release(st);
    return rc;
}

int pv_db_token_find(const char *token_hash, char **username, char **role, int64_t *expires,
                     struct pv_error *err)
{
    static const char sql[] =
        "SELECT u.username, u.role, CAST(strftime('%s', t.expires_at) AS INTEGER) "
        "FROM tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = ? AND u.disabled = 0 AND t.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, token_hash);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *username = pv_db_col_dup(st, 0);
        *role = pv_db_col_dup(st, 1);
        if (expires)
            *expires = sqlite3_column_int64(st, 2);
    } else {
        rc = pv_fail(err, invalid_token, "token unknown or expired");
    }
    pv_db_release(st);
    return rc;
}

int pv_db_token_delete(const char *token_hash)
{
    sqlite3_stmt *st = pv_db_stmt("DELETE FROM tokens WHERE token_hash = ?", NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, token_hash);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : PV_EINTERNAL;
    pv_db_release(st);
    return rc;
}

int pv_db_user_update(const char *username, int disabled, const char *role,
                      const char *password_hash, struct pv_error *err)
{
    static const char sql[] =
        "UPDATE users SET disabled = CASE WHEN ?1 < 0 THEN disabled ELSE ?1 END, "
        "role = coalesce(?2, role), password_hash = coalesce(?3, password_hash) "
        "WHERE username = ?4";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    sqlite3_bind_int(st, 1, disabled);
    pv_db_bind_text(st, 2, role);
    pv_db_bind_text(st, 3, password_hash);
    pv_db_bind_text(st, 4, username);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "update user");
    else if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
        rc = pv_fail(err, user_not_found, "no user named '%.64s'", username);
    pv_db_release(st);
    return rc;
}

int pv_db_user_delete(const char *username, struct pv_error *err)
{
    sqlite3_stmt *st = pv_db_stmt("DELETE FROM users WHERE username = ?", err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, username);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "delete user");
    else if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
        rc = pv_fail(err, user_not_found, "no user named '%.64s'", username);
    pv_db_release(st);
    return rc;
}

int pv_db_user_get(const char *username, char **password_hash, char **role, int *disabled,
                   struct pv_error *err)
{
    sqlite3_stmt *st =
        pv_db_stmt("SELECT password_hash, role, disabled FROM users WHERE username = ?", err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, username);
    if (sqlite3_step(st) == SQLITE_ROW) {
        if (password_hash)
            *password_hash = pv_db_col_dup(st, 0);
        if (role)
            *role = pv_db_col_dup(st, 1);
        if (disabled)
            *disabled = sqlite3_column_int(st, 2);
    } else {
        rc = pv_fail(err, user_not_found, "no user named '%.64s'", username);
    }
    pv_db_release(st);
    return rc;
}

int pv_db_admins_enabled(void)
{
    sqlite3_stmt *st =
        pv_db_stmt("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0", NULL);
    int n = -1;

    if (st && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    pv_db_release(st);
    return n;
}

int pv_db_user_tokens_delete(const char *username, const char *keep_hash)
{
    static const char sql[] =
        "DELETE FROM tokens WHERE user_id = (SELECT id FROM users WHERE username = ?) "
        "AND token_hash IS NOT ?";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, username);
    pv_db_bind_text(st, 2, keep_hash);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : PV_EINTERNAL;
    pv_db_release(st);
    return rc;
}
