/* test_db_list.c -- db/db_list.c, collections read page by page against a
 * temp database (the jobs collection, filled through db_jobs): keyset
 * pagination visits every row once in sort order (ties broken by id, the
 * same way), both ways, even when rows are added between pages; a filter selects exactly the
 * rows it says; a cursor is refused under another filter; fields= trims the
 * objects; the text form is the same rows; counts by state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "db/db.h"
#include "tests/unit/tmpdb.h"

#define NJOBS 30

static void add_job(const char *id, const char *kind, int progress, const char *state)
{
    static const char *const step[] = {"only"};
    struct pv_db_job j;
    struct pv_error e = {0};
    char existing[64];

    memset(&j, 0, sizeof j);
    snprintf(j.id, sizeof j.id, "%s", id);
    snprintf(j.kind, sizeof j.kind, "%s", kind);
    snprintf(j.created_by, sizeof j.created_by, "ann");
    assert_int_equal(pv_db_job_insert(&j, step, 1, NULL, NULL, existing, &e), 0);
    assert_int_equal(pv_db_job_set_state(id, state, progress, NULL, NULL), 0);
}

static int setup(void **state)
{
    char id[32];

    if (tmpdb_setup(state))
        return -1;
    for (int i = 0; i < NJOBS; i++) {
        snprintf(id, sizeof id, "job-%02d", (i * 7) % NJOBS); /* ids not in insert order */
        add_job(id, i % 2 ? "vm.stop" : "vm.start", (i * 13) % 5 * 20,
                i % 3 ? "succeeded" : "failed");
    }
    return 0;
}

/* Every page of the jobs under filter/sort/limit/fields, appended to seen
 * (between(page) runs after each page); the number of pages. */
static int walk(const char *filter, const char *sort, const char *limit, const char *fields,
                json_t *seen, void (*between)(int page))
{
    struct pv_error e = {0};
    char *cursor = NULL;
    int pages = 0;

    do {
        struct pv_query q;
        json_t *items = NULL;
        char *next = NULL;
        if (pv_query_parse(&pv_coll_jobs, filter, sort, limit, cursor, fields, &q, &e) != 0)
            fail_msg("parse: %s %s", e.code, e.message);
        assert_int_equal(pv_db_list(&q, &items, &next, &e), 0);
        assert_true(json_array_size(items) <= q.limit);
        json_array_extend(seen, items);
        json_decref(items);
        pv_query_clear(&q);
        free(cursor);
        cursor = next;
        if (between)
            between(pages);
        pages++;
    } while (cursor);
    return pages;
}

static void check_order(json_t *seen, int desc)
{
    for (size_t i = 1; i < json_array_size(seen); i++) {
        json_t *a = json_array_get(seen, i - 1), *b = json_array_get(seen, i);
        json_int_t pa = json_integer_value(json_object_get(a, "progress"));
        json_int_t pb = json_integer_value(json_object_get(b, "progress"));
        const char *ia = json_string_value(json_object_get(a, "id"));
        const char *ib = json_string_value(json_object_get(b, "id"));
        if (desc ? pa < pb : pa > pb)
            fail_msg("%s (%lld) before %s (%lld)", ia, (long long)pa, ib, (long long)pb);
        if (pa == pb && (desc ? strcmp(ia, ib) <= 0 : strcmp(ia, ib) >= 0))
            fail_msg("tie %s before %s: not by id", ia, ib); /* the id goes the sort's way */
    }
}

static void pages_visit_every_row_once_in_order(void **state)
{
    json_t *seen = json_array();
    (void)state;

    assert_int_equal(walk(NULL, "progress", "7", NULL, seen, NULL), 5); /* 7+7+7+7+2 */
    assert_int_equal(json_array_size(seen), NJOBS);
    check_order(seen, 0);
    json_array_clear(seen);
    walk(NULL, "-progress", "4", NULL, seen, NULL);
    assert_int_equal(json_array_size(seen), NJOBS);
    check_order(seen, 1);
    json_decref(seen);
}

static void add_rows_behind_and_ahead(int page)
{
    char id[32];
    if (page != 0)
        return;
    /* progress 0 sorts before every row already read (never seen), 100
     * after the cursor (seen once) */
    snprintf(id, sizeof id, "job-late-a");
    add_job(id, "vm.start", 0, "queued");
    snprintf(id, sizeof id, "job-late-b");
    add_job(id, "vm.start", 100, "queued");
}

static void rows_written_between_pages_are_neither_repeated_nor_skipped(void **state)
{
    json_t *seen = json_array();
    int late_b = 0;
    (void)state;

    walk("progress ge 20", "progress", "5", NULL, seen, add_rows_behind_and_ahead);
    check_order(seen, 0);
    for (size_t i = 0; i < json_array_size(seen); i++) {
        const char *id = json_string_value(json_object_get(json_array_get(seen, i), "id"));
        assert_string_not_equal(id, "job-late-a");
        late_b += strcmp(id, "job-late-b") == 0;
    }
    assert_int_equal(late_b, 1);
    json_decref(seen);
}

static void a_filter_selects_exactly_its_rows(void **state)
{
    json_t *seen = json_array(), *all = json_array();
    size_t want = 0;
    (void)state;

    walk(NULL, NULL, "1000", NULL, all, NULL);
    for (size_t i = 0; i < json_array_size(all); i++) {
        json_t *j = json_array_get(all, i);
        want += strcmp(json_string_value(json_object_get(j, "kind")), "vm.stop") == 0 &&
                (json_integer_value(json_object_get(j, "progress")) >= 60 ||
                 strcmp(json_string_value(json_object_get(j, "state")), "failed") == 0);
    }
    assert_true(want > 0 && want < json_array_size(all));
    walk("kind eq 'vm.stop' and (progress ge 60 or state eq 'failed')", "id", "3", NULL, seen, NULL);
    assert_int_equal(json_array_size(seen), want);
    json_decref(seen);
    json_decref(all);
}

static void a_cursor_belongs_to_its_filter_and_sort(void **state)
{
    struct pv_error e = {0};
    struct pv_query q;
    json_t *items;
    char *next = NULL;
    (void)state;

    assert_int_equal(pv_query_parse(&pv_coll_jobs, "state eq 'failed'", "progress", "2", NULL, NULL,
                                    &q, &e), 0);
    assert_int_equal(pv_db_list(&q, &items, &next, &e), 0);
    pv_query_clear(&q);
    json_decref(items);
    assert_non_null(next);
    assert_int_equal(pv_query_parse(&pv_coll_jobs, "state eq 'succeeded'", "progress", "2", next,
                                    NULL, &q, &e), PV_EINVAL);
    assert_string_equal(e.code, "invalid_cursor");
    assert_int_equal(pv_query_parse(&pv_coll_jobs, "state eq 'failed'", "-progress", "2", next,
                                    NULL, &q, &e), PV_EINVAL);
    assert_string_equal(e.code, "invalid_cursor");
    free(next);
}

static void fields_trim_and_text_is_the_same_rows(void **state)
{
    struct pv_error e = {0};
    struct pv_query q;
    json_t *items, *parsed;
    char *next = NULL, *text = NULL, *next2 = NULL;
    (void)state;

    assert_int_equal(pv_query_parse(&pv_coll_jobs, NULL, "id", "10", NULL, "state,kind", &q, &e), 0);
    assert_int_equal(pv_db_list(&q, &items, &next, &e), 0);
    assert_int_equal(json_array_size(items), 10);
    for (size_t i = 0; i < 10; i++) {
        json_t *o = json_array_get(items, i);
        assert_non_null(json_object_get(o, "state"));
        assert_null(json_object_get(o, "progress"));
        assert_true(json_object_size(o) <= 3); /* id may come along */
    }
    assert_int_equal(pv_db_list_text(&q, &text, &next2, &e), 0);
    parsed = json_loads(text, 0, NULL);
    assert_true(json_equal(parsed, items));
    assert_string_equal(next, next2);
    json_decref(parsed);
    json_decref(items);
    free(text);
    free(next);
    free(next2);
    pv_query_clear(&q);
}

static void one_row_and_counts(void **state)
{
    struct pv_error e = {0};
    json_t *o, *by;
    (void)state;

    assert_int_equal(pv_db_get(&pv_coll_jobs, "job-07", &o, &e), 0);
    assert_string_equal(json_string_value(json_object_get(o, "id")), "job-07");
    json_decref(o);
    assert_int_equal(pv_db_get(&pv_coll_jobs, "job-99", &o, &e), PV_ENOTFOUND);
    assert_string_equal(e.code, "job_not_found");
    assert_int_equal(pv_db_count(&pv_coll_jobs), NJOBS + 2);
    by = pv_db_count_by(&pv_coll_jobs, "state");
    assert_int_equal(json_integer_value(json_object_get(by, "failed")), NJOBS / 3);
    assert_int_equal(json_integer_value(json_object_get(by, "succeeded")), NJOBS - NJOBS / 3);
    assert_int_equal(json_integer_value(json_object_get(by, "queued")), 2);
    json_decref(by);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pages_visit_every_row_once_in_order),
        cmocka_unit_test(a_filter_selects_exactly_its_rows),
        cmocka_unit_test(a_cursor_belongs_to_its_filter_and_sort),
        cmocka_unit_test(fields_trim_and_text_is_the_same_rows),
        cmocka_unit_test(rows_written_between_pages_are_neither_repeated_nor_skipped),
        cmocka_unit_test(one_row_and_counts),
    };
    return cmocka_run_group_tests_name("db_list", tests, setup, tmpdb_teardown);
}
