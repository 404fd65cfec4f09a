/* test_snapshot.c -- the inventory generation (db/db.c) and the shared
 * placement snapshot that is cached by it (server/inventory/snapshot.c).
 *
 * The generation is counted where SQLite logs a committed write, on every
 * connection the db layer opens: no write path can miss it.  The test
 * writes through several unrelated paths and from another thread (another
 * connection), and checks reads leave it alone; then that a snapshot is
 * shared while nothing is written, rebuilt after a write, and that a
 * snapshot still held stays valid after a newer one replaced it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "db/db.h"
#include "server/inventory/snapshot.h"
#include "tests/unit/tmpdb.h"

static void *write_elsewhere(void *arg)
{
    struct pv_error e = {0};
    (void)arg;
    pv_db_event_insert("ev-thread", "host", "h1", "info", "from another connection", NULL);
    (void)e;
    return NULL;
}

static void every_write_moves_the_generation_and_reads_do_not(void **state)
{
    struct pv_error e = {0};
    uint64_t g0, g1, g2, g3, g4;
    pthread_t t;

    (void)state;
    g0 = pv_db_generation();
    assert_int_equal(pv_db_user_create("us-1", "alice", "hash", "admin", &e), 0);
    g1 = pv_db_generation();
    assert_true(g1 > g0);
    assert_int_equal(pv_db_host_group_create("hg-1", "rack 1", NULL, NULL, NULL, &e), 0);
    g2 = pv_db_generation();
    assert_true(g2 > g1);
    assert_int_equal(pv_db_host_group_update("hg-1", "rack one", NULL, NULL, NULL, &e), 0);
    g3 = pv_db_generation();
    assert_true(g3 > g2);
    pthread_create(&t, NULL, write_elsewhere, NULL);
    pthread_join(t, NULL);
    g4 = pv_db_generation();
    assert_true(g4 > g3);
    /* reads */
    assert_true(pv_db_user_count() >= 1);
    assert_true(pv_db_schema_version() > 0);
    assert_int_equal(pv_db_generation(), g4);
    assert_int_equal(pv_db_host_group_delete("hg-1", &e), 0);
    assert_true(pv_db_generation() > g4);
}

static void a_snapshot_is_shared_until_the_inventory_changes(void **state)
{
    const struct pv_pl_inv *a = NULL, *b = NULL, *c = NULL;
    struct pv_error e = {0};

    (void)state;
    assert_int_equal(pv_snapshot_get(&a, &e), 0);
    assert_int_equal(pv_snapshot_get(&b, &e), 0);
    assert_ptr_equal(a, b); /* nothing written: the same one */
    assert_int_equal(a->ngroups, 0);
    assert_int_equal(pv_db_host_group_create("hg-2", "rack 2", NULL, NULL, NULL, &e), 0);
    assert_int_equal(pv_snapshot_get(&c, &e), 0);
    assert_ptr_not_equal(c, a); /* rebuilt: it sees the write */
    assert_int_equal(c->ngroups, 1);
    /* the old one is still whole for those who hold it */
    assert_int_equal(a->ngroups, 0);
    pv_snapshot_put(a);
    pv_snapshot_put(b);
    pv_snapshot_put(c);
    pv_snapshot_put(NULL);
    assert_int_equal(pv_snapshot_get(&a, &e), 0);
    assert_ptr_equal(a, c);
    pv_snapshot_put(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_write_moves_the_generation_and_reads_do_not),
        cmocka_unit_test(a_snapshot_is_shared_until_the_inventory_changes),
    };
    return cmocka_run_group_tests_name("snapshot", tests, tmpdb_setup, tmpdb_teardown);
}
