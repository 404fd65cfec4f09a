/* test_routes.c -- the OpenAPI document and the route table describe the
 * same API: every route is documented with its method, every documented
 * operation has a route, and public routes (and only they) say so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>
#include <jansson.h>
#include "server/http/http.h"

extern const char pv_openapi_json[];

static void lower(const char *in, char *out)
{
    size_t i;
    for (i = 0; in[i]; i++)
        out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] + 32 : in[i]);
    out[i] = '\0';
}

static void every_route_documented(void **state)
{
    json_error_t je;
    json_t *doc = json_loads(pv_openapi_json, 0, &je);
    (void)state;
    assert_non_null(doc);
    json_t *paths = json_object_get(doc, "paths");
    for (size_t i = 0; i < pv_nroutes; i++) {
        char m[16];
        json_t *op;
        lower(pv_routes[i].method, m);
        op = json_object_get(json_object_get(paths, pv_routes[i].pattern), m);
        if (!op)
            fail_msg("route %s %s is not in openapi.json", pv_routes[i].method,
                     pv_routes[i].pattern);
        json_t *sec = json_object_get(op, "security");
        int public_doc = json_is_array(sec) && json_array_size(sec) == 0;
        if (public_doc != !!(pv_routes[i].flags & PV_ROUTE_PUBLIC))
            fail_msg("%s %s: public in one place and not the other", pv_routes[i].method,
                     pv_routes[i].pattern);
    }
    json_decref(doc);
}

static void every_operation_routed(void **state)
{
    json_t *doc = json_loads(pv_openapi_json, 0, NULL);
    const char *path, *method;
    json_t *item, *op;
    int n = 0;
    (void)state;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        json_object_foreach(item, method, op) {
            size_t i;
            for (i = 0; i < pv_nroutes; i++)
                if (strcmp(pv_routes[i].pattern, path) == 0 &&
                    strcasecmp(pv_routes[i].method, method) == 0)
                    break;
            if (i == pv_nroutes)
                fail_msg("openapi.json documents %s %s but no route serves it", method, path);
            n++;
        }
    }
    assert_int_equal((size_t)n, pv_nroutes);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_route_documented),
        cmocka_unit_test(every_operation_routed),
    };
    return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
