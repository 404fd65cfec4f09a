/* test_migrations.c -- the schema migrations: from an empty database, from
 * every earlier version (each must end in the same schema as a fresh one),
 * re-running is a no-op, a newer database is refused, and the pragmas the
 * inventory relies on hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "db/migrate.h"

static sqlite3 *open_mem(void)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    return db;
}

/* The whole schema as one string, in a stable order. */
static char *schema_of(sqlite3 *db)
{
    sqlite3_stmt *st;
    size_t len = 0;
    char *out = calloc(1, 1);

    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT type || ' ' || name || ': ' || coalesce(sql, '') "
                                        "FROM sqlite_master ORDER BY type, name",
                                        -1, &st, NULL),
                     SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *row = (const char *)sqlite3_column_text(st, 0);
        out = realloc(out, len + strlen(row) + 2);
        memcpy(out + len, row, strlen(row));
        len += strlen(row);
        out[len++] = '\n';
        out[len] = '\0';
    }
    sqlite3_finalize(st);
    return out;
}

static int latest(void)
{
    return pv_db_migrations[pv_db_nmigrations - 1].version;
}

static void versions_ascend(void **state)
{
    (void)state;
    assert_true(pv_db_nmigrations >= 1);
    for (int i = 0; i < pv_db_nmigrations; i++)
        assert_int_equal(pv_db_migrations[i].version, i + 1);
}

static void from_empty(void **state)
{
    sqlite3 *db = open_mem();
    struct pv_error e = {0};
    char *schema;
    (void)state;
    assert_int_equal(pv_db_user_version(db), 0);
    assert_int_equal(pv_db_migrate(db, -1, &e), 0);
    assert_int_equal(pv_db_user_version(db), latest());
    schema = schema_of(db);
    static const char *const tables[] = {"users", "tokens", "connections", "host_groups",
                                         "clusters", "hosts", "vms", "jobs", "job_steps",
                                         "schedules", "events"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char needle[64];
        snprintf(needle, sizeof needle, "table %s:", tables[i]);
        assert_non_null(strstr(schema, needle));
    }
    free(schema);
    sqlite3_close(db);
}

static void from_every_earlier_version(void **state)
{
    sqlite3 *fresh = open_mem();
    struct pv_error e = {0};
    char *want;
    (void)state;
    assert_int_equal(pv_db_migrate(fresh, -1, &e), 0);
    want = schema_of(fresh);
    for (int v = 0; v < latest(); v++) {
        sqlite3 *db = open_mem();
        char *got;
        assert_int_equal(pv_db_migrate(db, v, &e), 0);
        assert_int_equal(pv_db_user_version(db), v);
        /* some data at that version must survive the rest of the way */
        if (v >= 1)
            assert_int_equal(sqlite3_exec(db,
                                          "INSERT INTO users(id, username, password_hash, role, created_at) "
                                          "VALUES ('u1', 'ann', 'h', 'admin', 't')",
                                          NULL, NULL, NULL),
                             SQLITE_OK);
        assert_int_equal(pv_db_migrate(db, -1, &e), 0);
        assert_int_equal(pv_db_user_version(db), latest());
        got = schema_of(db);
        assert_string_equal(got, want);
        if (v >= 1) {
            sqlite3_stmt *st;
            sqlite3_prepare_v2(db, "SELECT count(*) FROM users", -1, &st, NULL);
            assert_int_equal(sqlite3_step(st), SQLITE_ROW);
            assert_int_equal(sqlite3_column_int(st, 0), 1);
            sqlite3_finalize(st);
        }
        free(got);
        sqlite3_close(db);
    }
    free(want);
    sqlite3_close(fresh);
}

static void rerun_is_noop(void **state)
{
    sqlite3 *db = open_mem();
    struct pv_error e = {0};
    char *a, *b;
    (void)state;
    assert_int_equal(pv_db_migrate(db, -1, &e), 0);
    a = schema_of(db);
    assert_int_equal(pv_db_migrate(db, -1, &e), 0);
    b = schema_of(db);
    assert_string_equal(a, b);
    free(a);
    free(b);
    sqlite3_close(db);
}

static void newer_database_refused(void **state)
{
    sqlite3 *db = open_mem();
    struct pv_error e = {0};
    char sql[64];
    (void)state;
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", latest() + 1);
    sqlite3_exec(db, sql, NULL, NULL, NULL);
    assert_int_equal(pv_db_migrate(db, -1, &e), PV_ECONFLICT);
    assert_string_equal(e.code, "schema_too_new");
    sqlite3_close(db);
}

static void constraints_hold(void **state)
{
    sqlite3 *db = open_mem();
    struct pv_error e = {0};
    (void)state;
    assert_int_equal(pv_db_migrate(db, -1, &e), 0);
    /* a VM of a connection that does not exist is refused (foreign keys on) */
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO vms(id, connection_id, native_id, name, vendor, "
                                      "power_state, observed_at) VALUES "
                                      "('vm-1', 'nope', 'n', 'x', 'kvm', 'running', 't')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    /* a power state outside the model is refused */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO connections(id, type, name, url, created_at) "
                                  "VALUES ('c1', 'kvm', 'c', 'u', 't')",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(db,
                                      "INSERT INTO vms(id, connection_id, native_id, name, vendor, "
                                      "power_state, observed_at) VALUES "
                                      "('vm-1', 'c1', 'n', 'x', 'kvm', 'exploded', 't')",
                                      NULL, NULL, NULL),
                         SQLITE_OK);
    /* deleting a connection removes what it brought */
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO vms(id, connection_id, native_id, name, vendor, "
                                  "power_state, observed_at) VALUES "
                                  "('vm-1', 'c1', 'n', 'x', 'kvm', 'running', 't');"
                                  "DELETE FROM connections WHERE id = 'c1'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM vms", -1, &st, NULL);
    sqlite3_step(st);
    assert_int_equal(sqlite3_column_int(st, 0), 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(versions_ascend),
        cmocka_unit_test(from_empty),
        cmocka_unit_test(from_every_earlier_version),
        cmocka_unit_test(rerun_is_noop),
        cmocka_unit_test(newer_database_refused),
        cmocka_unit_test(constraints_hold),
    };
    return cmocka_run_group_tests_name("migrations", tests, NULL, NULL);
}
