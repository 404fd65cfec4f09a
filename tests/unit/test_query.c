/* test_query.c -- db/query.c, the collection query language, against the real VM
 * collection: precedence, every operator, type checks, every error code with
 * the offending token named, limits, fields, and the cursor codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "db/db.h"

static struct pv_query q;

static int teardown(void **state)
{
    (void)state;
    pv_query_clear(&q);
    return 0;
}

static struct pv_filter_node *parse_ok(const char *filter)
{
    struct pv_error e = {0};
    pv_query_clear(&q);
    if (pv_query_parse(&pv_coll_vms, filter, NULL, NULL, NULL, NULL, &q, &e) != 0)
        fail_msg("'%s' refused: %s: %s", filter, e.code, e.message);
    return q.filter;
}

static void parse_err(const char *filter, const char *code, const char *mention)
{
    struct pv_error e = {0};
    pv_query_clear(&q);
    if (pv_query_parse(&pv_coll_vms, filter, NULL, NULL, NULL, NULL, &q, &e) == 0)
        fail_msg("'%s' accepted", filter);
    assert_string_equal(e.code, code);
    if (mention && !strstr(e.message, mention))
        fail_msg("'%s': message '%s' does not mention '%s'", filter, e.message, mention);
    assert_null(q.filter); /* cleared on failure */
}

static void comparisons(void **state)
{
    struct pv_filter_node *n;
    (void)state;
    n = parse_ok("power_state eq 'running'");
    assert_int_equal(n->op, PV_OP_EQ);
    assert_string_equal(n->field->name, "power_state");
    assert_string_equal(n->values[0].s, "running");
    n = parse_ok("memory_mb ge 1024");
    assert_int_equal(n->op, PV_OP_GE);
    assert_int_equal(n->values[0].i, 1024);
    n = parse_ok("vcpus lt -1");
    assert_int_equal(n->values[0].i, -1);
    n = parse_ok("paravirtual eq true");
    assert_int_equal(n->values[0].i, 1);
    n = parse_ok("host_id eq null");
    assert_true(n->values[0].is_null);
    n = parse_ok("name startswith 'web'");
    assert_int_equal(n->op, PV_OP_STARTSWITH);
    n = parse_ok("tags contains 'prod'");
    assert_int_equal(n->op, PV_OP_CONTAINS);
    n = parse_ok("name eq 'it''s'");
    assert_string_equal(n->values[0].s, "it's");
    n = parse_ok("name eq 'ünï ✓'");
    assert_string_equal(n->values[0].s, "ünï ✓");
}

static void precedence(void **state)
{
    struct pv_filter_node *n;
    (void)state;
    /* and binds tighter than or */
    n = parse_ok("vcpus eq 1 or vcpus eq 2 and memory_mb eq 3");
    assert_int_equal(n->op, PV_OP_OR);
    assert_int_equal(n->right->op, PV_OP_AND);
    n = parse_ok("(vcpus eq 1 or vcpus eq 2) and memory_mb eq 3");
    assert_int_equal(n->op, PV_OP_AND);
    assert_int_equal(n->left->op, PV_OP_OR);
    n = parse_ok("not vcpus eq 1 and not (name eq 'a')");
    assert_int_equal(n->op, PV_OP_AND);
    assert_int_equal(n->left->op, PV_OP_NOT);
    assert_int_equal(n->right->op, PV_OP_NOT);
    /* left-associative chains */
    n = parse_ok("vcpus eq 1 and vcpus eq 2 and vcpus eq 3");
    assert_int_equal(n->left->op, PV_OP_AND);
}

static void in_lists(void **state)
{
    struct pv_filter_node *n;
    (void)state;
    n = parse_ok("power_state in ('running', 'paused')");
    assert_int_equal(n->op, PV_OP_IN);
    assert_int_equal(n->nvalues, 2);
    assert_string_equal(n->values[1].s, "paused");
    n = parse_ok("vcpus in (1,2,4,8)");
    assert_int_equal(n->nvalues, 4);
    parse_err("vcpus in ()", "invalid_filter", NULL);
    parse_err("vcpus in (1, 'two')", "invalid_filter", "two");
    parse_err("vcpus in (1, 2", "invalid_filter", NULL);
}

static void errors_name_the_token(void **state)
{
    (void)state;
    parse_err("nosuch eq 1", "unknown_field", "nosuch");
    parse_err("disks eq '[]'", "unknown_field", "disks"); /* not filterable */
    parse_err("memory_mb", "invalid_filter", "end of filter");
    parse_err("memory_mb equals 1", "invalid_filter", "equals");
    parse_err("memory_mb eq 'x'", "invalid_filter", "position 14");
    parse_err("memory_mb eq 1.5", "invalid_filter", "1.5");
    parse_err("paravirtual eq 1", "invalid_filter", NULL);
    parse_err("name eq 5", "invalid_filter", NULL);
    parse_err("name eq 'open", "invalid_filter", "unterminated");
    parse_err("vcpus eq 1 vcpus eq 2", "invalid_filter", "vcpus");
    parse_err("(vcpus eq 1", "invalid_filter", NULL);
    parse_err("vcpus eq 1)", "invalid_filter", ")");
    parse_err("vcpus eq 1 and", "invalid_filter", NULL);
    parse_err("vcpus gt null", "invalid_filter", "null");
    parse_err("memory_mb contains 1", "invalid_filter", NULL);
    parse_err("tags eq 'x'", "invalid_filter", NULL);
    parse_err("name eq 'a' ; DROP TABLE vms", "invalid_filter", ";");
    parse_err("name eq '\xff'", "invalid_filter", "UTF-8");
}

static void limits(void **state)
{
    char big[PV_QUERY_MAX_FILTER + 16], deep[256] = "", many[4096] = "";
    (void)state;
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "vcpus eq 1", 10);
    parse_err(big, "invalid_filter", "longer");
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    strcat(deep, "vcpus eq 1");
    for (int i = 0; i < 40; i++)
        strcat(deep, ")");
    parse_err(deep, "invalid_filter", "deep");
    for (int i = 0; i < 70; i++)
        strcat(many, i ? " or vcpus eq 1" : "vcpus eq 1");
    parse_err(many, "invalid_filter", "64");
}

static void sort_limit_fields(void **state)
{
    struct pv_error e = {0};
    (void)state;
    assert_int_equal(pv_query_parse(&pv_coll_vms, NULL, NULL, NULL, NULL, NULL, &q, &e), 0);
    assert_string_equal(q.sort->name, "name");
    assert_false(q.sort_desc);
    assert_int_equal(q.limit, PV_QUERY_DEFAULT_LIMIT);
    assert_null(q.fields);
    pv_query_clear(&q);
    assert_int_equal(pv_query_parse(&pv_coll_vms, "", "-memory_mb", "1000", "", "name,power_state,name",
                                    &q, &e), 0);
    assert_true(q.sort_desc);
    assert_string_equal(q.sort->name, "memory_mb");
    assert_int_equal(q.limit, 1000);
    assert_int_equal(q.nfields, 2);
    pv_query_clear(&q);
    static const char *const bad_limits[] = {"0", "-1", "1001", "10abc", "99999999999999999999", " 5", "+5"};
    for (size_t i = 0; i < sizeof bad_limits / sizeof bad_limits[0]; i++) {
        assert_int_equal(pv_query_parse(&pv_coll_vms, NULL, NULL, bad_limits[i], NULL, NULL, &q, &e),
                         PV_EINVAL);
        assert_string_equal(e.code, "invalid_limit");
    }
    assert_int_equal(pv_query_parse(&pv_coll_vms, NULL, "disks", NULL, NULL, NULL, &q, &e), PV_EINVAL);
    assert_string_equal(e.code, "invalid_sort");
    assert_int_equal(pv_query_parse(&pv_coll_vms, NULL, "-", NULL, NULL, NULL, &q, &e), PV_EINVAL);
    assert_int_equal(pv_query_parse(&pv_coll_vms, NULL, NULL, NULL, NULL, "name,bogus", &q, &e), PV_EINVAL);
    assert_string_equal(e.code, "invalid_fields");
    assert_non_null(strstr(e.message, "bogus"));
}

static void cursor_round_trip(void **state)
{
    struct pv_error e = {0};
    struct pv_value last = {.type = PV_VT_INT, .i = 4096};
    char *cur;
    (void)state;
    assert_int_equal(pv_query_parse(&pv_coll_vms, "vcpus ge 2", "-memory_mb", "10", NULL, NULL, &q, &e), 0);
    cur = pv_query_cursor(&q, &last, "vm-abc");
    assert_non_null(cur);
    assert_null(strpbrk(cur, "+/=")); /* base64url, no padding: safe in a URL */
    pv_query_clear(&q);
    /* the same query (spaces differ) continues */
    assert_int_equal(pv_query_parse(&pv_coll_vms, "vcpus  ge  2", "-memory_mb", "10", cur, NULL, &q, &e), 0);
    assert_true(q.has_cursor);
    assert_int_equal(q.cursor_value.i, 4096);
    assert_string_equal(q.cursor_id, "vm-abc");
    pv_query_clear(&q);
    /* another filter or sort refuses it */
    assert_int_equal(pv_query_parse(&pv_coll_vms, "vcpus ge 3", "-memory_mb", "10", cur, NULL, &q, &e), PV_EINVAL);
    assert_string_equal(e.code, "invalid_cursor");
    assert_int_equal(pv_query_parse(&pv_coll_vms, "vcpus ge 2", "memory_mb", "10", cur, NULL, &q, &e), PV_EINVAL);
    assert_int_equal(pv_query_parse(&pv_coll_vms, "vcpus ge 2", "-memory_mb", "10", cur, NULL, &q, &e), 0);
    pv_query_clear(&q);
    /* text values too, with characters that need escaping */
    struct pv_value tl = {.type = PV_VT_TEXT, .s = "a\"b'c\\ü"};
    assert_int_equal(pv_query_parse(&pv_coll_vms, NULL, NULL, NULL, NULL, NULL, &q, &e), 0);
    char *cur2 = pv_query_cursor(&q, &tl, "vm-1");
    pv_query_clear(&q);
    assert_int_equal(pv_query_parse(&pv_coll_vms, NULL, NULL, NULL, cur2, NULL, &q, &e), 0);
    assert_string_equal(q.cursor_value.s, "a\"b'c\\ü");
    pv_query_clear(&q);
    /* garbage and tampering */
    static const char *const bad[] = {"!!!", "e30", "eyJzIjoxfQ", "x", "AAAA"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pv_query_parse(&pv_coll_vms, NULL, NULL, NULL, bad[i], NULL, &q, &e), PV_EINVAL);
        assert_string_equal(e.code, "invalid_cursor");
    }
    cur[3] = cur[3] == 'A' ? 'B' : 'A';
    assert_int_equal(pv_query_parse(&pv_coll_vms, "vcpus ge 2", "-memory_mb", "10", cur, NULL, &q, &e), PV_EINVAL);
    /* a text cursor on an integer sort is refused */
    assert_int_equal(pv_query_parse(&pv_coll_vms, NULL, "memory_mb", NULL, cur2, NULL, &q, &e), PV_EINVAL);
    free(cur);
    free(cur2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(comparisons, teardown),
        cmocka_unit_test_teardown(precedence, teardown),
        cmocka_unit_test_teardown(in_lists, teardown),
        cmocka_unit_test_teardown(errors_name_the_token, teardown),
        cmocka_unit_test_teardown(limits, teardown),
        cmocka_unit_test_teardown(sort_limit_fields, teardown),
        cmocka_unit_test_teardown(cursor_round_trip, teardown),
    };
    return cmocka_run_group_tests_name("query", tests, NULL, NULL);
}
