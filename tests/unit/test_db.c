/* test_db.c -- db/db.c's transactions: they nest (an inner level is a
 * savepoint that rolls back alone), and what is to happen after a commit
 * (a job queued, a live update) happens after the outermost commit, or not
 * at all when that is rolled back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "db/db.h"

static char dir[] = "/tmp/pv-test-db-XXXXXX";

static int setup(void **state)
{
    char path[128];
    struct pv_error e = {0};

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/polyvisor.db", dir);
    return pv_db_init(path, &e);
}

static int teardown(void **state)
{
    char cmd[160];

    (void)state;
    pv_db_shutdown();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transactions_nest_and_roll_back_alone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
