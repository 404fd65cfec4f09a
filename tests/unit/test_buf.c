/* test_buf.c -- lib/buf: the invariants buf.h states (usable zeroed, always
 * NUL-terminated once written, detach leaves it empty), growth across many
 * appends, formatted appends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lib/buf.h"

static void zeroed_is_empty(void **state)
{
    struct pv_buf b = PV_BUF_INIT;
    (void)state;
    assert_string_equal(pv_buf_str(&b), "");
    assert_null(pv_buf_detach(&b));
    pv_buf_free(&b);
    pv_buf_reset(&b);
    assert_int_equal(b.len, 0);
}

static void appends_grow_and_stay_terminated(void **state)
{
    struct pv_buf b = PV_BUF_INIT;
    char *s;
    (void)state;
    for (int i = 0; i < 10000; i++) {
        assert_int_equal(pv_buf_add(&b, "ab", 2), 0);
        assert_true(b.len < b.cap);
        assert_int_equal(b.s[b.len], '\0');
    }
    assert_int_equal(b.len, 20000);
    assert_int_equal(pv_buf_addf(&b, "-%d-%s", 42, "x"), 0);
    assert_string_equal(pv_buf_str(&b) + 20000, "-42-x");
    assert_int_equal(pv_buf_add(&b, "\0z", 2), 0); /* bytes, NULs included */
    assert_int_equal(b.len, 20007);
    pv_buf_reset(&b);
    assert_string_equal(pv_buf_str(&b), "");
    assert_int_equal(pv_buf_adds(&b, "again"), 0);
    s = pv_buf_detach(&b);
    assert_string_equal(s, "again");
    assert_null(b.s);
    assert_int_equal(b.len + b.cap, 0);
    free(s);
    assert_int_equal(pv_buf_grow(&b, (size_t)-1), -1); /* overflow refused, nothing lost */
    pv_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(zeroed_is_empty),
        cmocka_unit_test(appends_grow_and_stay_terminated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
