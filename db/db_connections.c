/* db_connections.c -- endpoints Polyvisor talks to.  Credentials arrive
 * here already sealed (server/secret.c); this layer stores the bytes and
 * never sees a password. */
#include <stdlib.h>
#include <string.h>
#include "db_internal.h"

void pv_db_connection_free(struct pv_db_connection *c)
{
    if (!c)
        return;
    free(c->id);
    free(c->type);
    free(c->name);
    free(c->url);
    free(c->username);
    free(c->state);
    free(c->secret);
    free(c);
}

int pv_db_connection_insert(const struct pv_db_connection *c, struct pv_error *err)
{
    static const char sql[] =
        "INSERT INTO connections(id, type, name, url, username, secret, insecure, state, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'disconnected', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, c->id);
    pv_db_bind_text(st, 2, c->type);
    pv_db_bind_text(st, 3, c->name);
    pv_db_bind_text(st, 4, c->url);
    pv_db_bind_text(st, 5, c->username);
    if (c->secret)
        sqlite3_bind_blob(st, 6, c->secret, (int)c->secret_len, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 7, c->insecure);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "insert connection");
    pv_db_release(st);
    return rc;
}

int pv_db_connection_load(const char *id, struct pv_db_connection **out, struct pv_error *err)
{
    static const char sql[] =
        "SELECT id, type, name, url, username, state, secret, insecure FROM connections WHERE id = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    struct pv_db_connection *c;
    int rc = 0;

    *out = NULL;
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = pv_fail(err, connection_not_found, "no connection with id '%.80s'",
                          id);
        goto out;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        rc = pv_fail(err, out_of_memory, "out of memory");
        goto out;
    }
    c->id = pv_db_col_dup(st, 0);
    c->type = pv_db_col_dup(st, 1);
    c->name = pv_db_col_dup(st, 2);
    c->url = pv_db_col_dup(st, 3);
    c->username = pv_db_col_dup(st, 4);
    c->state = pv_db_col_dup(st, 5);
    c->secret_len = (size_t)sqlite3_column_bytes(st, 6);
    if (c->secret_len) {
        c->secret = malloc(c->secret_len);
        if (c->secret)
            memcpy(c->secret, sqlite3_column_blob(st, 6), c->secret_len);
    }
    c->insecure = sqlite3_column_int(st, 7);
    *out = c;
out:
    pv_db_release(st);
    return rc;
}

json_t *pv_db_connection_ids(void)
{
    sqlite3_stmt *st = pv_db_stmt("SELECT id FROM connections ORDER BY created_at", NULL);
    json_t *a = json_array();

    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, json_string((const char *)sqlite3_column_text(st, 0)));
    pv_db_release(st);
    return a;
}

int pv_db_connection_set_state(const char *id, const char *state, const char *last_error)
{
    static const char sql[] =
        "UPDATE connections SET state = ?, last_error = ?, "
        "observed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, NULL);
    int rc;

    if (!st)
        return PV_EINTERNAL;
    pv_db_bind_text(st, 1, state);
    pv_db_bind_text(st, 2, last_error);
    pv_db_bind_text(st, 3, id);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : PV_EINTERNAL;
    pv_db_release(st);
    return rc;
}

int pv_db_connection_delete(const char *id, struct pv_error *err)
{
    sqlite3_stmt *st = pv_db_stmt("DELETE FROM connections WHERE id = ?", err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "delete connection");
    else if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
        rc = pv_fail(err, connection_not_found,
                          "no connection with id '%.80s'", id);
    pv_db_release(st);
    return rc;
}

int pv_db_connection_find_url(const char *type, const char *url, char id[64])
{
    sqlite3_stmt *st = pv_db_stmt("SELECT id FROM connections WHERE type = ? AND url = ?", NULL);
    int found = 0;

    id[0] = '\0';
    if (!st)
        return 0;
    pv_db_bind_text(st, 1, type);
    pv_db_bind_text(st, 2, url);
    if (sqlite3_step(st) == SQLITE_ROW) {
        pv_db_col_copy(st, 0, id, 64);
        found = 1;
    }
    pv_db_release(st);
    return found;
}

int pv_db_connection_update(const struct pv_db_connection *c, struct pv_error *err)
{
    static const char sql[] =
        "UPDATE connections SET name = ?, username = ?, secret = ?, insecure = ? WHERE id = ?";
    sqlite3_stmt *st = pv_db_stmt(sql, err);
    int rc = 0;

    if (!st)
        return err ? err->err : PV_EINTERNAL;
    pv_db_bind_text(st, 1, c->name);
    pv_db_bind_text(st, 2, c->username);
    if (c->secret)
        sqlite3_bind_blob(st, 3, c->secret, (int)c->secret_len, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_int(st, 4, c->insecure);
    pv_db_bind_text(st, 5, c->id);
    if (sqlite3_step(st) != SQLITE_DONE)
        rc = pv_db_error(err, "update connection");
    else if (sqlite3_changes(sqlite3_db_handle(st)) == 0)
        rc = pv_fail(err, connection_not_found, "no connection with id '%.80s'", c->id);
    pv_db_release(st);
    return rc;
}
