/* test_router.c -- path matching, captures, 404 vs 405, and precedence of
 * literal segments over captures. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "lib/router.h"

static void h1(struct pv_req *r) { (void)r; }
static void h2(struct pv_req *r) { (void)r; }
static void h3(struct pv_req *r) { (void)r; }

static const struct pv_route table[] = {
    {"GET", "/api/v1/vms", h1, 0},
    {"POST", "/api/v1/vms", h2, 0},
    {"GET", "/api/v1/vms/{id}", h1, 0},
    {"POST", "/api/v1/vms/{id}/start", h2, 0},
    {"GET", "/api/v1/events/stream", h3, 0},
    {"GET", "/api/v1/events/{id}", h1, 0},
    {"DELETE", "/api/v1/a/{x}/b/{y}", h1, 0},
};
#define N (sizeof table / sizeof table[0])

static void exact(void **state)
{
    struct pv_route_match m;
    (void)state;
    assert_int_equal(pv_router_match(table, N, "GET", "/api/v1/vms", &m), PV_MATCH_OK);
    assert_ptr_equal(m.route, &table[0]);
    assert_int_equal(m.nparams, 0);
    assert_int_equal(pv_router_match(table, N, "POST", "/api/v1/vms", &m), PV_MATCH_OK);
    assert_ptr_equal(m.route, &table[1]);
}

static void captures(void **state)
{
    struct pv_route_match m;
    (void)state;
    assert_int_equal(pv_router_match(table, N, "POST", "/api/v1/vms/vm-1/start", &m), PV_MATCH_OK);
    assert_ptr_equal(m.route, &table[3]);
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0], "vm-1");
    assert_int_equal(pv_router_match(table, N, "DELETE", "/api/v1/a/1/b/2", &m), PV_MATCH_OK);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.params[0], "1");
    assert_string_equal(m.params[1], "2");
}

static void literal_beats_capture(void **state)
{
    struct pv_route_match m;
    (void)state;
    assert_int_equal(pv_router_match(table, N, "GET", "/api/v1/events/stream", &m), PV_MATCH_OK);
    assert_ptr_equal(m.route->handler, h3);
    assert_int_equal(pv_router_match(table, N, "GET", "/api/v1/events/ev-1", &m), PV_MATCH_OK);
    assert_ptr_equal(m.route, &table[5]);
}

static void wrong_method_is_405(void **state)
{
    struct pv_route_match m;
    (void)state;
    assert_int_equal(pv_router_match(table, N, "DELETE", "/api/v1/vms", &m), PV_MATCH_NO_METHOD);
    assert_non_null(strstr(m.allow, "GET"));
    assert_non_null(strstr(m.allow, "POST"));
    assert_int_equal(pv_router_match(table, N, "GET", "/api/v1/vms/x/start", &m),
                     PV_MATCH_NO_METHOD);
    assert_string_equal(m.allow, "POST");
}

static void unknown_is_404(void **state)
{
    struct pv_route_match m;
    (void)state;
    assert_int_equal(pv_router_match(table, N, "GET", "/api/v1/nope", &m), PV_MATCH_NO_PATH);
    assert_int_equal(pv_router_match(table, N, "GET", "/api/v1/vms/a/b/c", &m), PV_MATCH_NO_PATH);
    assert_int_equal(pv_router_match(table, N, "GET", "api/v1/vms", &m), PV_MATCH_NO_PATH);
    assert_int_equal(pv_router_match(table, N, "GET", "", &m), PV_MATCH_NO_PATH);
}

static void empty_segments_never_capture(void **state)
{
    struct pv_route_match m;
    (void)state;
    assert_int_equal(pv_router_match(table, N, "GET", "/api/v1/vms/", &m), PV_MATCH_NO_PATH);
    assert_int_equal(pv_router_match(table, N, "POST", "/api/v1/vms//start", &m), PV_MATCH_NO_PATH);
}

static void long_paths_refused(void **state)
{
    struct pv_route_match m;
    char path[2048];
    (void)state;
    memset(path, 'a', sizeof path - 1);
    path[0] = '/';
    path[sizeof path - 1] = '\0';
    assert_int_equal(pv_router_match(table, N, "GET", path, &m), PV_MATCH_NO_PATH);
    strcpy(path, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t");
    assert_int_equal(pv_router_match(table, N, "GET", path, &m), PV_MATCH_NO_PATH);
}

/* 16 segments and a trailing slash wrote past the segment table (make fuzz). */
static void many_segments_and_a_trailing_slash(void **state)
{
    struct pv_route_match m;
    char path[256] = "";
    (void)state;
    for (int n = 14; n <= 18; n++) {
        path[0] = '\0';
        for (int i = 0; i < n; i++)
            strcat(path, "/s");
        strcat(path, "/");
        assert_int_equal(pv_router_match(table, N, "GET", path, &m), PV_MATCH_NO_PATH);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(many_segments_and_a_trailing_slash),
        cmocka_unit_test(exact),
        cmocka_unit_test(captures),
        cmocka_unit_test(literal_beats_capture),
        cmocka_unit_test(wrong_method_is_405),
        cmocka_unit_test(unknown_is_404),
        cmocka_unit_test(empty_segments_never_capture),
        cmocka_unit_test(long_paths_refused),
    };
    return cmocka_run_group_tests_name("router", tests, NULL, NULL);
}
