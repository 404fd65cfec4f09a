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

/* Run a statement that changes one row of user username's: the release,
 * database_error, or user_not_found when it changed nothing. */
static int user_step(sqlite3_stmt *st, const char *username, const char *what,
                     struct pv_error *err)
{
    int rc = 0;

    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, what);
    else if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
        rc = pv_fail(err, user_not_found, "no user named '%.64s'", username);
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

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    sqlite3_bind_int(st, 1, disabled);
    pv_db_bind_text(st, 2, role);
    pv_db_bind_text(st, 3, password_hash);
    pv_db_bind_text(st, 4, username);
    return user_step(st, username, "update user", err);
}

int pv_db_user_delete(const char *username, struct pv_error *err)
{
    sqlite3_stmt *st = pv_db_stmt("DELETE FROM users WHERE username = ?", err);

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, username);
    return user_step(st, username, "delete user", err);
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

int pv_db_api_token_create(const char *id, const char *username, const char *name,
                           const char *token_hash, int ttl_seconds, struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO tokens(id, user_id, token_hash, name, created_at, expires_at) "
        "SELECT ?, id, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
        "       strftime('%Y-%m-%dT%H:%M:%fZ', 'now', printf('+%d seconds', ?)) "
        "FROM users WHERE username = ? AND disabled = 0";
    sqlite3_stmt *st = pv_db_stmt(sql, err);

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    pv_db_bind_text(st, 2, token_hash);
    pv_db_bind_text(st, 3, name);
    sqlite3_bind_int(st, 4, ttl_seconds);
    pv_db_bind_text(st, 5, username);
    return user_step(st, username, "create token", err);
}

json_t *pv_db_api_tokens_list(const char *username)
{
    static const char sql[] =
        "SELECT t.id, t.name, t.created_at, t.expires_at, t.last_used_at "
        "FROM tokens t JOIN users u ON u.id = t.user_id "
        "WHERE u.username = ? AND t.name IS NOT NULL "
        "AND t.expires_at > strftime('%Y-%m-%dT%H:%M:%fZ', 'now') ORDER BY t.created_at, t.id";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    json_t *a = json_array();

    if (st)
        pv_db_bind_text(st, 1, username);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_t *o = json_object();
        static const char *const keys[] = {"id", "name", "created_at", "expires_at", "last_used_at"};
        for (int i = 0; i < 5; i++)
            json_object_set_new(o, keys[i],
                                sqlite3_column_type(st, i) == SQLITE_NULL
                                    ? json_null()
                                    : json_string((const char *)sqlite3_column_text(st, i)));
        json_array_append_new(a, o);
    }
    pv_db_release(st);
    return a;
}

int pv_db_api_token_delete(const char *id, const char *username, char hash[65],
                           struct pv_error *err)
{
    static const char sql[] =
        "DELETE FROM tokens WHERE id = ? AND name IS NOT NULL "
        "AND user_id = (SELECT id FROM users WHERE username = ?) RETURNING token_hash";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    pv_db_bind_text(st, 2, username);
    if (sqlite3_step(st) == SQLITE_ROW)
        pv_db_col_copy(st, 0, hash, 65);
    else
        rc = pv_fail(err, token_not_found, "you have no API token with id '%.80s'", id);
    pv_db_release(st);
    return rc;
}

void pv_db_token_touch(const char *token_hash)
{
    sqlite3_stmt *st = pv_db_stmt(
        "UPDATE tokens SET last_used_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE token_hash = ?",
        NULL);

    if (!st)
        return;
    pv_db_bind_text(st, 1, token_hash);
    sqlite3_step(st);
    pv_db_release(st);
}
