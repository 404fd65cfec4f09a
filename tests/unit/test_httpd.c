/* test_httpd.c -- lib/httpd.c on a loopback server: JSON replies with the
 * layer's headers, a program's 404 and 405 (with Allow) answered from
 * admit() before the body, the URL and query-argument limits (414), the
 * body cap (413 from Content-Length before a byte is read; a chunked body
 * that outgrows it is cut off), a Content-Length that is no number, a sink
 * that takes a body of any size, the soft per-address connection limit
 * (503 + Retry-After), X-Forwarded-For only from a trusted proxy, and the
 * start-up errors.  The app here routes with lib/router, as polyvisord and
 * the agent do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include "lib/httpd.h"
#include "lib/router.h"
#include "tests/unit/loopback.h"

static void h_thing(struct pv_req *r) { (void)r; }

static const struct pv_route routes[] = {
    {"GET", "/things/{id}", h_thing, 0},
    {"POST", "/things", h_thing, 0},
    {"PUT", "/uploads/{name}", h_thing, 0},
};

/* What the app saw, for the tests to check (one request at a time). */
static int handled;         /* handle() calls */
static size_t sunk;         /* bytes a sink took */
static char seen_client[64];

struct call {
    struct pv_route_match m;
};

static int sink(void *state, const char *data, size_t n)
{
    (void)state;
    (void)data;
    sunk += n;
    return 0;
}

static int admit(void *ctx, struct pv_httpd_req *r, struct pv_error *err)
{
    struct call *c = r->state; /* lib/httpd's, app.state_size zeroed bytes */
    (void)ctx;

    /* 404, or 405 with Allow (r->allow), answered by lib/httpd */
    if (pv_httpd_route(r, routes, sizeof routes / sizeof *routes, &c->m, err))
        return -1;
    if (strcmp(r->method, "PUT") == 0)
        r->sink = sink;
    return 0;
}

static enum MHD_Result handle(void *ctx, struct pv_httpd_req *r)
{
    struct call *c = r->state;
    json_t *j;
    (void)ctx;

    handled++;
    snprintf(seen_client, sizeof seen_client, "%s", r->client);
    j = json_pack("{s:s,s:s,s:I}", "route", c->m.route->pattern, "client", r->client,
                  "body_len", (json_int_t)r->body.len);
    if (c->m.nparams)
        json_object_set_new(j, "id", json_string(c->m.params[0]));
    if (r->body.len)
        json_object_set_new(j, "body", json_stringn(r->body.s, r->body.len));
    {
        struct pv_httpd_reply rep = {.status = strcmp(r->method, "POST") == 0 ? 201 : 200,
                                     .json = j, .method = r->method,
                                     .request_id = r->request_id};
        return pv_httpd_send_reply(r->conn, &rep);
    }
}

static const struct pv_httpd_app app = {NULL, sizeof(struct call), admit, handle, NULL};
static struct pv_httpd *srv;
static struct pv_httpd_opts opts;

static int start(unsigned threads, size_t max_body, unsigned max_per_address, const char *proxies)
{
    struct pv_error e = {0};

    pv_httpd_stop(srv);
    srv = NULL;
    memset(&opts, 0, sizeof opts);
    opts.threads = threads;
    opts.max_body = max_body;
    opts.max_per_address = max_per_address;
    opts.max_url = 256;
    opts.max_query_args = 4;
    opts.trusted_proxies = proxies;
    opts.app = &app;
    if (lb_start(&opts, &srv, &e) != 0)
        fail_msg("cannot start: %s %s", e.code, e.message);
    handled = 0;
    sunk = 0;
    return 0;
}

static int setup(void **state)
{
    (void)state;
    return start(2, 1024, 0, NULL);
}

static int teardown(void **state)
{
    (void)state;
    pv_httpd_stop(srv);
    srv = NULL;
    return 0;
}

/* The reply's error code ("" when the body is no error body). */
static void error_code(const struct lb_reply *rep, char *code, size_t size)
{
    json_t *j = json_loads(rep->body, 0, NULL);
    const char *c = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    assert_non_null(json_object_get(json_object_get(j, "error"), "message"));
    assert_true(json_is_object(json_object_get(json_object_get(j, "error"), "details")));
    snprintf(code, size, "%s", c ? c : "");
    json_decref(j);
}

static void expect_error(const char *raw, int status, const char *code)
{
    struct lb_reply rep;
    char got[64];

    assert_int_equal(lb_request(opts.port, raw, &rep), 0);
    if (rep.status != status || !strstr(rep.body, "\"error\""))
        fail_msg("expected %d, got %d: %s", status, rep.status, rep.body);
    error_code(&rep, got, sizeof got);
    assert_string_equal(got, code);
    lb_reply_free(&rep);
}

static void json_replies_carry_the_layers_headers(void **state)
{
    struct lb_reply rep;
    char h[128];
    json_t *j;
    (void)state;

    assert_int_equal(lb_request(opts.port, "GET /things/42 HTTP/1.1\r\nHost: x\r\n"
                                           "Connection: close\r\n\r\n", &rep), 0);
    assert_int_equal(rep.status, 200);
    assert_string_equal(lb_header(&rep, "Content-Type", h, sizeof h), "application/json");
    assert_string_equal(lb_header(&rep, "X-Content-Type-Options", h, sizeof h), "nosniff");
    assert_null(lb_header(&rep, "Strict-Transport-Security", h, sizeof h)); /* plain HTTP */
    j = json_loads(rep.body, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "42");
    assert_string_equal(json_string_value(json_object_get(j, "route")), "/things/{id}");
    json_decref(j);
    lb_reply_free(&rep);
    assert_int_equal(handled, 1);
    assert_int_equal(pv_httpd_is_tls(srv), 0);
}

static void a_body_under_the_cap_reaches_handle_whole(void **state)
{
    struct lb_reply rep;
    json_t *j;
    (void)state;

    assert_int_equal(lb_request(opts.port, "POST /things HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                           "Content-Length: 13\r\n\r\n{\"name\":\"a\"}\n", &rep), 0);
    assert_int_equal(rep.status, 201);
    j = json_loads(rep.body, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "body_len")), 13);
    assert_string_equal(json_string_value(json_object_get(j, "body")), "{\"name\":\"a\"}\n");
    json_decref(j);
    lb_reply_free(&rep);
}

static void unknown_paths_and_methods_are_told_apart(void **state)
{
    struct lb_reply rep;
    char h[128], code[64];
    (void)state;
    handled = 0;

    expect_error("GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 404,
                 "route_not_found");
    assert_int_equal(lb_request(opts.port, "DELETE /things/42 HTTP/1.1\r\nHost: x\r\n"
                                           "Connection: close\r\n\r\n", &rep), 0);
    assert_int_equal(rep.status, 405);
    /* HEAD is answered wherever GET is, so the Allow list says so */
    assert_string_equal(lb_header(&rep, "Allow", h, sizeof h), "GET, HEAD");
    error_code(&rep, code, sizeof code);
    assert_string_equal(code, "method_not_allowed");
    lb_reply_free(&rep);
    /* a refused request's body is never read nor handled, even a big one */
    expect_error("POST /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Content-Length: 100000000\r\n\r\nabc", 404, "route_not_found");
    assert_int_equal(handled, 0);
}

static void long_urls_and_many_arguments_are_414(void **state)
{
    char raw[1024], path[400];
    (void)state;
    handled = 0;

    memset(path, 'a', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    snprintf(raw, sizeof raw, "GET /things/%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path);
    expect_error(raw, 414, "uri_too_long");
    /* the query counts toward the length */
    snprintf(raw, sizeof raw, "GET /things/1?q=%.250s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             path);
    expect_error(raw, 414, "uri_too_long");
    expect_error("GET /things/1?a=1&b=2&c=3&d=4&e=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 414, "uri_too_long");
    assert_int_equal(handled, 0);
    /* at the limits: served */
    struct lb_reply rep;
    assert_int_equal(lb_request(opts.port, "GET /things/1?a=1&b=2&c=3&d=4 HTTP/1.1\r\nHost: x\r\n"
                                           "Connection: close\r\n\r\n", &rep), 0);
    assert_int_equal(rep.status, 200);
    lb_reply_free(&rep);
}

static void the_body_cap_holds_with_and_without_a_length(void **state)
{
    char raw[4096], body[1100];
    struct lb_reply rep;
    (void)state;
    handled = 0;

    expect_error("POST /things HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Content-Length: 1025\r\n\r\n", 413, "body_too_large");
    /* a length that is no number: libmicrohttpd answers 400 itself (its own
     * HTML page) before the layer sees the request; either way no handler */
    assert_int_equal(lb_request(opts.port, "POST /things HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                           "Content-Length: 12abc\r\n\r\n", &rep), 0);
    assert_int_equal(rep.status, 400);
    lb_reply_free(&rep);
    /* chunked: no length up front, so the cap is found while reading */
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    snprintf(raw, sizeof raw, "POST /things HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Transfer-Encoding: chunked\r\n\r\n%zx\r\n%s\r\n0\r\n\r\n", strlen(body), body);
    /* libmicrohttpd takes no reply queued in the middle of a body, so the
     * layer reads the rest, drops it, and answers 413 at its end; the body
     * is neither kept nor handled */
    assert_int_equal(lb_request(opts.port, raw, &rep), 0);
    assert_int_equal(rep.status, 413);
    assert_non_null(strstr(rep.body, "\"body_too_large\""));
    lb_reply_free(&rep);
    assert_int_equal(handled, 0);
    /* the same body under a higher cap is served whole */
    start(2, 2048, 0, NULL);
    assert_int_equal(lb_request(opts.port, raw, &rep), 0);
    assert_int_equal(rep.status, 201);
    assert_int_equal(handled, 1);
    assert_non_null(strstr(rep.body, "\"body_len\":1099"));
    lb_reply_free(&rep);
    start(2, 1024, 0, NULL);
}

static void a_sink_takes_a_body_over_the_cap(void **state)
{
    static char raw[8192];
    struct lb_reply rep;
    int n;
    (void)state;

    n = snprintf(raw, sizeof raw, "PUT /uploads/disk.img HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Content-Length: 5000\r\n\r\n");
    memset(raw + n, 'z', 5000);
    raw[n + 5000] = '\0';
    assert_int_equal(lb_request(opts.port, raw, &rep), 0);
    assert_int_equal(rep.status, 200);
    assert_int_equal(sunk, 5000);
    assert_non_null(strstr(rep.body, "\"body_len\":0"));
    lb_reply_free(&rep);
}

static void too_many_connections_from_one_address_are_503(void **state)
{
    const char *keep = "GET /things/1 HTTP/1.1\r\nHost: x\r\n\r\n";
    const char *once = "GET /things/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int open_fd[2];
    struct lb_reply rep;
    char h[32], code[64];
    (void)state;

    start(0, 1024, 2, NULL); /* a thread per connection */
    /* two kept-alive connections, each served once: both counted */
    for (int i = 0; i < 2; i++) {
        open_fd[i] = lb_connect(opts.port);
        assert_true(open_fd[i] >= 0);
        assert_int_equal(send(open_fd[i], keep, strlen(keep), MSG_NOSIGNAL), (ssize_t)strlen(keep));
        assert_int_equal(lb_read_reply(open_fd[i], &rep), 0);
        assert_int_equal(rep.status, 200);
        lb_reply_free(&rep);
    }
    assert_int_equal(lb_request(opts.port, once, &rep), 0);
    assert_int_equal(rep.status, 503);
    assert_string_equal(lb_header(&rep, "Retry-After", h, sizeof h), "1");
    error_code(&rep, code, sizeof code);
    assert_string_equal(code, "busy");
    lb_reply_free(&rep);
    for (int i = 0; i < 2; i++)
        close(open_fd[i]);
    /* their ends are counted (a moment later): served again */
    for (int tries = 0; tries < 50; tries++) {
        assert_int_equal(lb_request(opts.port, once, &rep), 0);
        if (rep.status == 200)
            break;
        lb_reply_free(&rep);
        usleep(50 * 1000);
    }
    assert_int_equal(rep.status, 200);
    lb_reply_free(&rep);
    start(2, 1024, 0, NULL);
}

static void forwarded_for_counts_only_from_a_trusted_proxy(void **state)
{
    const char *raw = "GET /things/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      "X-Forwarded-For: 198.51.100.7, 203.0.113.9\r\n\r\n";
    struct lb_reply rep;
    (void)state;

    assert_int_equal(lb_request(opts.port, raw, &rep), 0);
    assert_string_equal(seen_client, "127.0.0.1");
    lb_reply_free(&rep);
    start(2, 1024, 0, "10.0.0.0/8,127.0.0.0/8");
    assert_int_equal(lb_request(opts.port, raw, &rep), 0);
    assert_int_equal(rep.status, 200);
    assert_string_equal(seen_client, "203.0.113.9"); /* the last hop not a proxy */
    lb_reply_free(&rep);
    start(2, 1024, 0, NULL);
}

static void start_up_errors_have_codes(void **state)
{
    struct pv_httpd_opts o = {.host = "localhost", .port = 1, .app = &app, .max_body = 1};
    struct pv_httpd *h = NULL;
    struct pv_error e = {0};
    (void)state;

    assert_int_equal(pv_httpd_start(&o, &h, &e), PV_EINVAL);
    assert_string_equal(e.code, "invalid_listen");
    assert_null(h);
    o.host = "127.0.0.1";
    o.port = opts.port; /* taken by the test's server */
    assert_true(pv_httpd_start(&o, &h, &e) < 0);
    assert_string_equal(e.code, "listen_failed");
    o.port = 0;
    o.tls_cert = "/nonexistent/cert.pem";
    o.tls_key = "/nonexistent/key.pem";
    assert_true(pv_httpd_start(&o, &h, &e) < 0);
    assert_string_equal(e.code, "tls_error");
    o.tls_cert = o.tls_key = "/etc/hostname"; /* a file, but no PEM */
    assert_true(pv_httpd_start(&o, &h, &e) < 0);
    assert_string_equal(e.code, "tls_error");
    assert_null(h);
    pv_httpd_stop(NULL);
}

static void the_error_body_has_its_shape(void **state)
{
    struct pv_error e;
    json_t *b;
    (void)state;

    pv_fail(&e, vm_not_found, "no VM 'x'");
    b = pv_httpd_error_body(&e, json_pack("{s:s}", "id", "x"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "error"), "code")),
                        "vm_not_found");
    assert_string_equal(json_string_value(json_object_get(json_object_get(b, "error"), "message")),
                        "no VM 'x'");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(b, "error"), "details"), "id")), "x");
    json_decref(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_replies_carry_the_layers_headers),
        cmocka_unit_test(a_body_under_the_cap_reaches_handle_whole),
        cmocka_unit_test(unknown_paths_and_methods_are_told_apart),
        cmocka_unit_test(long_urls_and_many_arguments_are_414),
        cmocka_unit_test(the_body_cap_holds_with_and_without_a_length),
        cmocka_unit_test(a_sink_takes_a_body_over_the_cap),
        cmocka_unit_test(forwarded_for_counts_only_from_a_trusted_proxy),
        cmocka_unit_test(too_many_connections_from_one_address_are_503),
        cmocka_unit_test(start_up_errors_have_codes),
        cmocka_unit_test(the_error_body_has_its_shape),
    };
    return cmocka_run_group_tests_name("httpd", tests, setup, teardown);
}
