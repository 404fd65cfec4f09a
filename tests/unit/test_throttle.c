/* test_throttle.c -- server/http/throttle.c, failed sign-in back-off: a few
 * free failures, then a wait that doubles up to the configured maximum; an
 * address key gets extra free failures; a success starts the key over; keys
 * do not share their counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <cmocka.h>
#include "server/http/throttle.h"

static void free_failures_then_doubling_waits_up_to_the_cap(void **state)
{
    int expect[] = {0, 0, 0, 1, 2, 4, 8, 16, 30, 30, 30};
    (void)state;
    pv_throttle_configure(3, 30);
    assert_int_equal(pv_throttle_wait("user:ann"), 0);
    for (size_t i = 0; i < sizeof expect / sizeof *expect; i++) {
        int w = pv_throttle_fail("user:ann", 0);
        if (w != expect[i])
            fail_msg("failure %zu: wait %d, expected %d", i + 1, w, expect[i]);
        /* what the next attempt is told: the whole wait (this second) */
        int now = pv_throttle_wait("user:ann");
        assert_true(now <= w && now >= w - 1);
    }
    /* a long run of failures stays at the cap (no shift past 31 bits) */
    for (int i = 0; i < 40; i++)
        assert_int_equal(pv_throttle_fail("user:ann", 0), 30);
}

static void a_success_starts_the_key_over(void **state)
{
    (void)state;
    pv_throttle_configure(2, 300);
    pv_throttle_fail("user:bob", 0);
    pv_throttle_fail("user:bob", 0);
    assert_int_equal(pv_throttle_fail("user:bob", 0), 1);
    assert_true(pv_throttle_wait("user:bob") > 0);
    pv_throttle_clear("user:bob");
    assert_int_equal(pv_throttle_wait("user:bob"), 0);
    assert_int_equal(pv_throttle_fail("user:bob", 0), 0);
    assert_int_equal(pv_throttle_fail("user:bob", 0), 0);
    assert_int_equal(pv_throttle_fail("user:bob", 0), 1);
    pv_throttle_clear("user:nobody-ever"); /* an unknown key: nothing to do */
}

static void an_address_gets_extra_free_failures(void **state)
{
    (void)state;
    pv_throttle_configure(2, 300);
    for (int i = 0; i < 2 + 10; i++)
        assert_int_equal(pv_throttle_fail("addr:10.0.0.1", 10), 0);
    assert_int_equal(pv_throttle_fail("addr:10.0.0.1", 10), 1);
    assert_int_equal(pv_throttle_fail("addr:10.0.0.1", 10), 2);
}

static void keys_keep_their_own_counts(void **state)
{
    char key[32];
    (void)state;
    pv_throttle_configure(1, 300);
    pv_throttle_fail("user:carol", 0);
    assert_int_equal(pv_throttle_fail("user:carol", 0), 1);
    assert_int_equal(pv_throttle_wait("user:dave"), 0);
    assert_int_equal(pv_throttle_fail("user:dave", 0), 0);
    /* a flood of made-up names is bounded (the table does not grow) and
     * each of them starts with its own free failure */
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "user:x%d", i);
        assert_int_equal(pv_throttle_fail(key, 0), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(free_failures_then_doubling_waits_up_to_the_cap),
        cmocka_unit_test(a_success_starts_the_key_over),
        cmocka_unit_test(an_address_gets_extra_free_failures),
        cmocka_unit_test(keys_keep_their_own_counts),
    };
    return cmocka_run_group_tests_name("throttle", tests, NULL, NULL);
}
