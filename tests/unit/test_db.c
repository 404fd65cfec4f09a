/* test_db.c -- db/db.c's transactions: they nest (an inner level is a
 * savepoint that rolls back alone), and what is to happen after a commit
 * (a job queued, a live update) happens after the outermost commit, or not
 * at all when that is rolled back; and the inventory generation, which
 * moves with every committed write and with nothing else. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "db/db.h"
#include "tests/unit/tmpdb.h"

static int ran, freed;

static void note(void *arg, int committed)
{
    if (committed)
        ran += *(int *)arg;
    else
        freed += *(int *)arg;
}

static int users(void)
{
    return pv_db_user_count();
}

static void transactions_nest_and_roll_back_alone(void **state)
{
    struct pv_error e = {0};
    int one = 1, ten = 10, hundred = 100, base = users();

    (void)state;
    ran = freed = 0;
    assert_false(pv_db_in_transaction());
    assert_int_equal(pv_db_after_commit(note, &one), 0); /* no transaction: now */
    assert_int_equal(ran, 1);
    assert_int_equal(pv_db_begin(&e), 0);
    assert_true(pv_db_in_transaction());
    assert_int_equal(pv_db_user_create("us-a", "alice", "h", "admin", &e), 0);
    assert_int_equal(pv_db_after_commit(note, &ten), 1);
    assert_int_equal(pv_db_begin(&e), 0); /* a savepoint */
    assert_int_equal(pv_db_user_create("us-b", "bob", "h", "admin", &e), 0);
    assert_int_equal(pv_db_after_commit(note, &hundred), 1);
    pv_db_rollback(); /* bob and his callback go; alice stays */
    assert_int_equal(freed, 100);
    assert_true(pv_db_in_transaction());
    assert_int_equal(ran, 1);
    assert_int_equal(pv_db_begin(&e), 0);
    assert_int_equal(pv_db_user_create("us-c", "carol", "h", "admin", &e), 0);
    assert_int_equal(pv_db_commit(&e), 0); /* released, not yet committed */
    assert_int_equal(ran, 1);
    assert_int_equal(pv_db_commit(&e), 0);
    assert_false(pv_db_in_transaction());
    assert_int_equal(ran, 11);
    assert_int_equal(users(), base + 2);
    /* an outermost rollback drops every callback */
    assert_int_equal(pv_db_begin(&e), 0);
    assert_int_equal(pv_db_user_create("us-d", "dave", "h", "admin", &e), 0);
    assert_int_equal(pv_db_after_commit(note, &ten), 1);
    pv_db_rollback();
    assert_int_equal(ran, 11);
    assert_int_equal(freed, 110);
    assert_int_equal(users(), base + 2);
}

static void the_generation_moves_with_commits_only(void **state)
{
    struct pv_error e = {0};
    uint64_t g0 = pv_db_generation(), g1;
    (void)state;

    /* a write rolled back, a read, an empty transaction: no move */
    assert_int_equal(pv_db_begin(&e), 0);
    assert_int_equal(pv_db_user_create("us-g1", "gina", "h", "admin", &e), 0);
    pv_db_rollback();
    assert_true(pv_db_user_count() >= 0);
    assert_int_equal(pv_db_begin(&e), 0);
    assert_int_equal(pv_db_commit(&e), 0);
    assert_int_equal(pv_db_generation(), g0);
    /* inside a transaction the write is not yet seen by others: no move
     * until the outermost commit */
    assert_int_equal(pv_db_begin(&e), 0);
    assert_int_equal(pv_db_user_create("us-g2", "gil", "h", "admin", &e), 0);
    assert_int_equal(pv_db_begin(&e), 0);
    assert_int_equal(pv_db_event_insert("ev-g", "user", "us-g2", "info", "made", NULL), 0);
    assert_int_equal(pv_db_commit(&e), 0);
    assert_int_equal(pv_db_generation(), g0);
    assert_int_equal(pv_db_commit(&e), 0);
    g1 = pv_db_generation();
    assert_true(g1 > g0);
    /* a write outside a transaction commits on its own */
    assert_int_equal(pv_db_token_create("tok-g", "us-g2", "ffff", 60, &e), 0);
    assert_true(pv_db_generation() > g1);
    assert_int_equal(pv_db_schema_version(), pv_db_latest_version());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transactions_nest_and_roll_back_alone),
        cmocka_unit_test(the_generation_moves_with_commits_only),
    };
    return cmocka_run_group_tests_name("db", tests, tmpdb_setup, tmpdb_teardown);
}
