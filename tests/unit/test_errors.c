/* test_errors.c -- the one error table (lib/errors.def): every row well
 * formed and its status its class's, every class with codes and a status
 * of its own (500 for our bugs only), classes taken from the table, codes
 * that arrive as text looked up, messages cut at a UTF-8 boundary, and every
 * "<collection>_not_found" the db layer can say a row of the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "db/db.h"
#include "lib/errors.h"

static void rows_are_well_formed(void **state)
{
    (void)state;
    for (int i = 0; i < PV_CODE_COUNT; i++) {
        const struct pv_code_row *r = pv_code_row(i);
        assert_non_null(r);
        assert_true(strlen(r->code) > 0 && strlen(r->code) < sizeof ((struct pv_error *)0)->code);
        for (const char *p = r->code; *p; p++)
            assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
        assert_true(r->meaning && strlen(r->meaning) > 3);
        assert_true(r->err < 0);
        /* a code's status is its class's, except where HTTP has a better word */
        if (strcmp(r->code, "method_not_allowed") == 0)
            assert_int_equal(r->status, 405);
        else if (strcmp(r->code, "unsupported_media_type") == 0)
            assert_int_equal(r->status, 415);
        else if (strcmp(r->code, "too_many_attempts") == 0)
            assert_int_equal(r->status, 429);
        else if (strcmp(r->code, "uri_too_long") == 0)
            assert_int_equal(r->status, 414);
        else
            assert_int_equal(r->status, pv_err_status(r->err));
        assert_int_equal(pv_code_find(r->code), i); /* and no code twice */
    }
    assert_null(pv_code_row(PV_CODE_COUNT));
    assert_null(pv_code_row(-1));
}

static void status_map(void **state)
{
    (void)state;
    assert_int_equal(pv_err_status(PV_EINVAL), 400);
    assert_int_equal(pv_err_status(PV_EAUTH), 401);
    assert_int_equal(pv_err_status(PV_EFORBIDDEN), 403);
    assert_int_equal(pv_err_status(PV_ENOTFOUND), 404);
    assert_int_equal(pv_err_status(PV_ECONFLICT), 409);
    assert_int_equal(pv_err_status(PV_ECANCELLED), 409);
    assert_int_equal(pv_err_status(PV_ETOOBIG), 413);
    assert_int_equal(pv_err_status(PV_EUNSUPPORTED), 422);
    assert_int_equal(pv_err_status(PV_EPEER), 502);
    assert_int_equal(pv_err_status(PV_EUNREACHABLE), 503);
    assert_int_equal(pv_err_status(PV_EINTERNAL), 500);
}

static void fail_takes_the_class_from_the_table(void **state)
{
    struct pv_error e;
    (void)state;
    assert_int_equal(pv_fail(&e, vm_not_found, "no VM %s", "x"), PV_ENOTFOUND);
    assert_string_equal(e.code, "vm_not_found");
    assert_string_equal(e.message, "no VM x");
    assert_int_equal(e.err, PV_ENOTFOUND);
    assert_int_equal(pv_error_status(&e), 404);
    assert_true(pv_error_is(&e, PV_CODE_vm_not_found));
    assert_false(pv_error_is(&e, PV_CODE_host_not_found));
    /* once two classes: host_not_found was also PV_EINVAL in one adapter */
    assert_int_equal(pv_fail(&e, host_not_found, "-"), PV_ENOTFOUND);
    assert_int_equal(pv_fail(NULL, timeout, "-"), PV_EUNREACHABLE);
    pv_fail(&e, method_not_allowed, "-");
    assert_int_equal(pv_error_status(&e), 405);
    assert_string_equal(pv_code_str(vm_not_found), "vm_not_found");
    /* an error nobody filled in is our bug: 500, never 200 with an error body */
    memset(&e, 0, sizeof e);
    assert_int_equal(pv_error_status(&e), 500);
    assert_int_equal(pv_error_status(NULL), 500);
}

static void named_codes_are_looked_up(void **state)
{
    struct pv_error e;
    (void)state;
    assert_int_equal(pv_fail_named(&e, "disk_path_not_allowed", "%s", "m"), PV_EINVAL);
    assert_string_equal(e.code, "disk_path_not_allowed");
    /* a word that is no row: unknown_error, the word kept for the reader */
    assert_int_equal(pv_fail_named(&e, "made_up_code", "%s", "why"), PV_EPEER);
    assert_string_equal(e.code, "unknown_error");
    assert_string_equal(e.message, "made_up_code: why");
    pv_fail_named(&e, NULL, "%s", "why");
    assert_string_equal(e.code, "unknown_error");
}

static void reword_and_recode_keep_what_they_should(void **state)
{
    struct pv_error e;
    (void)state;
    pv_fail(&e, invalid_power_state, "the VM is on");
    pv_error_reword(&e, &e, "start: %s", e.message); /* from and to alike */
    assert_string_equal(e.message, "start: the VM is on");
    assert_string_equal(e.code, "invalid_power_state");
    assert_int_equal(pv_error_recode(&e, PV_CODE_already_running), PV_ECONFLICT);
    assert_string_equal(e.code, "already_running");
    assert_string_equal(e.message, "start: the VM is on");
    assert_int_equal(pv_error_recode(&e, PV_CODE_migration_failed), PV_EPEER);
    assert_int_equal(e.err, PV_EPEER);
}

static void long_messages_end_on_a_whole_character(void **state)
{
    struct pv_error e;
    char big[1000];
    (void)state;
    for (size_t i = 0; i + 2 < sizeof big; i += 2)
        memcpy(big + i, "\xc3\xa9", 2); /* é, two bytes */
    big[sizeof big - 2] = '\0';
    for (int shift = 0; shift < 3; shift++) {
        pv_fail(&e, invalid_value, "%.*s%s", shift, "xx", big);
        size_t n = strlen(e.message);
        assert_true(n < sizeof e.message);
        /* the last character is whole: no lead byte without its follower */
        assert_true(((unsigned char)e.message[n - 1] & 0xC0) == 0x80 || (unsigned char)e.message[n - 1] < 0x80);
        assert_false((unsigned char)e.message[n - 1] >= 0xC0);
        if (((unsigned char)e.message[n - 1] & 0xC0) == 0x80)
            assert_true(((unsigned char)e.message[n - 2] & 0xE0) == 0xC0);
    }
}

static void every_not_found_of_a_collection_is_a_code(void **state)
{
    (void)state;
    for (size_t i = 0; i < pv_ncollections; i++) {
        char code[64];
        snprintf(code, sizeof code, "%s_not_found", pv_collections[i]->singular);
        if (pv_code_find(code) < 0)
            fail_msg("collection %s says %s, which is no row of lib/errors.def", pv_collections[i]->name, code);
        assert_int_equal(pv_code_row(pv_code_find(code))->err, PV_ENOTFOUND);
    }
}

static void every_class_has_codes_and_one_status(void **state)
{
    (void)state;
    for (int cls = PV_EINVAL; cls >= PV_EFORBIDDEN; cls--) {
        int codes = 0;
        for (int i = 0; i < PV_CODE_COUNT; i++)
            codes += pv_code_row(i)->err == cls;
        if (codes == 0)
            fail_msg("class %d has no code in lib/errors.def", cls);
        int st = pv_err_status((enum pv_err)cls);
        assert_true(st >= 400 && st <= 599);
        /* 500 says "our bug" and nothing else does */
        assert_int_equal(st == 500, cls == PV_EINTERNAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_are_well_formed),
        cmocka_unit_test(status_map),
        cmocka_unit_test(every_class_has_codes_and_one_status),
        cmocka_unit_test(fail_takes_the_class_from_the_table),
        cmocka_unit_test(named_codes_are_looked_up),
        cmocka_unit_test(reword_and_recode_keep_what_they_should),
        cmocka_unit_test(long_messages_end_on_a_whole_character),
        cmocka_unit_test(every_not_found_of_a_collection_is_a_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
