/* migrate.c -- applies the embedded schema migrations (see migrate.h). */
#include "migrate.h"

int pv_db_user_version(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int v = -1;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int apply_one(sqlite3 *db, const struct pv_migration *m, struct pv_error *err)
{
    char *msg = NULL;
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    if (sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    /* PRAGMA takes no bound parameters; the version is our own integer. */
    {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", m->version);
        if (sqlite3_exec(db, pragma, NULL, NULL, &msg) != SQLITE_OK)
            goto fail;
    }
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK)
        goto fail;
    return 0;
fail:
    rc = pv_fail(err, migration_failed, "migration %03d_%s failed: %s",
                      m->version, m->name, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_finalize(st);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int pv_db_migrate(sqlite3 *db, int target, struct pv_error *err)
{
    int have = pv_db_user_version(db);
    int latest = pv_db_nmigrations > 0 ? pv_db_migrations[pv_db_nmigrations - 1].version : 0;

    if (target < 0)
        target = latest;
    if (have < 0)
        return pv_fail(err, database_error, "cannot read schema version: %s",
                            sqlite3_errmsg(db));
    if (have > latest)
        return pv_fail(err, schema_too_new,
                            "database schema version %d is newer than this polyvisord knows (%d)",
                            have, latest);
    for (int i = 0; i < pv_db_nmigrations; i++) {
        const struct pv_migration *m = &pv_db_migrations[i];
        if (m->version <= have || m->version > target)
            continue;
        int rc = apply_one(db, m, err);
        if (rc)
            return rc;
    }
    return 0;
}
