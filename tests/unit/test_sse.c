/* test_sse.c -- server/http/sse.c, the event bus and its streams, over real
 * HTTP on loopback (tests/unit/reqapp.c) with a real token (auth.c) on a
 * temp database: a message reaches an open stream with the next id; a
 * client that comes back with Last-Event-ID gets what it missed from the
 * ring; one whose id is older than the ring (or than this daemon) is told to
 * resync first; an id that is no number starts at the newest; a logout ends
 * the streams of that token; streams are counted while open. */
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "db/db.h"
#include "server/core/config.h"
#include "server/http/auth.h"
#include "server/http/sse.h"
#include "tests/unit/loopback.h"
#include "tests/unit/reqapp.h"
#include "tests/unit/tmpdb.h"

static int port;
static char *token;

static void stream(struct pv_req *r)
{
    pv_sse_attach(r);
}

static int setup(void **state)
{
    struct pv_config cfg;
    struct pv_error e = {0};
    int ttl;

    if (tmpdb_setup(state))
        return -1;
    unsetenv("POLYVISOR_ADMIN_PASSWORD");
    memset(&cfg, 0, sizeof cfg);
    cfg.token_ttl_seconds = 3600;
    cfg.login_max_hashes = 2;
    snprintf(cfg.admin_password, sizeof cfg.admin_password, "a long admin password");
    if (pv_auth_init(&cfg, &e) || pv_auth_login("admin", cfg.admin_password, &token, &ttl, &e))
        return -1;
    if (pv_sse_start() != 0)
        return -1;
    return reqapp_start(stream, pv_sse_queue, &port);
}

static int teardown(void **state)
{
    pv_sse_shutdown();
    reqapp_stop();
    free(token);
    return tmpdb_teardown(state);
}

struct conn {
    int fd;
    char buf[1 << 16];
    size_t len;
};

/* Open a stream (HTTP/1.0: the body is the bare event stream) with the
 * given Last-Event-ID (NULL: none) and token; its headers read. */
static void open_stream(struct conn *c, const char *last_id, const char *tok)
{
    char raw[512], idh[96] = "";

    if (last_id)
        snprintf(idh, sizeof idh, "Last-Event-ID: %s\r\n", last_id);
    snprintf(raw, sizeof raw, "GET /events HTTP/1.0\r\nAuthorization: Bearer %s\r\n%s\r\n", tok, idh);
    memset(c, 0, sizeof *c);
    c->fd = lb_connect(port);
    assert_true(c->fd >= 0);
    assert_int_equal(send(c->fd, raw, strlen(raw), MSG_NOSIGNAL), (ssize_t)strlen(raw));
}

/* Read until needle is in what came (1), the server closes (0), or 5 s.
 * (A needle is found when it is within the newest 4 KiB.) */
static int wait_for(struct conn *c, const char *needle)
{
    for (int i = 0; i < 500; i++) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        ssize_t n;
        if (strstr(c->buf, needle))
            return 1;
        if (poll(&p, 1, 10) != 1)
            continue;
        if (c->len > sizeof c->buf / 2) { /* a long stream: keep its newest 4 KiB */
            memmove(c->buf, c->buf + c->len - 4096, 4096);
            c->len = 4096;
            c->buf[c->len] = '\0';
        }
        n = recv(c->fd, c->buf + c->len, sizeof c->buf - 1 - c->len, 0);
        if (n <= 0)
            return 0;
        c->len += (size_t)n;
        c->buf[c->len] = '\0';
    }
    return strstr(c->buf, needle) != NULL;
}

static unsigned long long publish(int n)
{
    char *last = NULL, want[32];
    struct conn c;
    unsigned long long id = 0;

    /* the id of a message is only seen on a stream: watch one */
    open_stream(&c, NULL, token);
    assert_true(wait_for(&c, "text/event-stream"));
    for (int i = 0; i < n; i++) {
        json_t *j = json_pack("{s:i}", "n", i);
        pv_sse_publish("test", j);
        json_decref(j);
    }
    snprintf(want, sizeof want, "{\"n\":%d}", n - 1); /* the newest: a watcher may skip */
    assert_true(wait_for(&c, want));
    for (char *p = c.buf; (p = strstr(p, "id: ")) != NULL; p += 4)
        last = p;
    if (last)
        id = strtoull(last + 4, NULL, 10);
    close(c.fd);
    return id;
}

static void a_message_reaches_an_open_stream_with_the_next_id(void **state)
{
    struct conn c;
    json_t *j = json_pack("{s:s}", "id", "job-1");
    unsigned long long a, b;
    char *p;
    (void)state;

    open_stream(&c, NULL, token);
    assert_true(wait_for(&c, "\r\n\r\n"));
    assert_true(strncmp(c.buf, "HTTP/1.", 7) == 0 && strncmp(c.buf + 8, " 200 ", 5) == 0);
    assert_non_null(strstr(c.buf, "Content-Type: text/event-stream"));
    for (int i = 0; i < 100 && pv_sse_clients() < 1; i++)
        usleep(10 * 1000);
    assert_int_equal(pv_sse_clients(), 1);
    pv_sse_publish("job", j);
    pv_sse_publish("vm", j);
    json_decref(j);
    assert_true(wait_for(&c, "event: vm\ndata: {\"id\":\"job-1\"}\n\n"));
    p = strstr(c.buf, "id: ");
    assert_non_null(p);
    a = strtoull(p + 4, NULL, 10);
    assert_non_null(strstr(p, "event: job\ndata: {\"id\":\"job-1\"}\n\n"));
    p = strstr(p + 4, "id: ");
    b = strtoull(p + 4, NULL, 10);
    assert_true(a > 0);
    assert_int_equal(b, a + 1);
    close(c.fd);
    j = json_object();
    for (int i = 0; i < 300 && pv_sse_clients() > 0; i++) {
        pv_sse_publish("tick", j); /* the closed socket is found on a write */
        usleep(10 * 1000);
    }
    json_decref(j);
    assert_int_equal(pv_sse_clients(), 0);
}

static void last_event_id_resumes_from_the_ring(void **state)
{
    struct conn c;
    char id[32];
    unsigned long long last = publish(3);
    (void)state;

    /* it saw the first of three: it gets the other two, nothing before */
    snprintf(id, sizeof id, "%llu", last - 2);
    open_stream(&c, id, token);
    assert_true(wait_for(&c, "{\"n\":2}"));
    assert_non_null(strstr(c.buf, "{\"n\":1}"));
    assert_null(strstr(c.buf, "{\"n\":0}"));
    assert_null(strstr(c.buf, "resync"));
    close(c.fd);
    /* no number: the newest only (nothing replayed), then what comes */
    open_stream(&c, "-1", token);
    assert_true(wait_for(&c, "\r\n\r\n"));
    {
        json_t *j = json_pack("{s:s}", "after", "yes");
        usleep(100 * 1000);
        pv_sse_publish("test", j);
        json_decref(j);
    }
    assert_true(wait_for(&c, "{\"after\":\"yes\"}"));
    assert_null(strstr(c.buf, "{\"n\":"));
    close(c.fd);
}

static void a_client_further_behind_than_the_ring_is_told_to_resync(void **state)
{
    struct conn c;
    char id[32];
    unsigned long long first = publish(1), last;
    (void)state;

    last = publish(4096 + 10); /* the ring holds 4096 */
    assert_true(last >= first + 4096 + 10);
    snprintf(id, sizeof id, "%llu", first);
    open_stream(&c, id, token);
    assert_true(wait_for(&c, "event: resync"));
    close(c.fd);
    /* an id from before this daemon's first (a restart): resync too */
    open_stream(&c, "1", token);
    assert_true(wait_for(&c, "event: resync"));
    close(c.fd);
}

static void a_logout_ends_the_streams_of_its_token(void **state)
{
    struct pv_error e = {0};
    struct conn c;
    char *other = NULL;
    int ttl;
    (void)state;

    assert_int_equal(pv_auth_login("admin", "a long admin password", &other, &ttl, &e), 0);
    open_stream(&c, NULL, other);
    assert_true(wait_for(&c, "\r\n\r\n"));
    usleep(100 * 1000);
    pv_auth_logout(other);
    pv_sse_wake();
    assert_int_equal(wait_for(&c, "never sent"), 0); /* closed by the server */
    close(c.fd);
    free(other);
    /* a token that is gone cannot open one */
    open_stream(&c, NULL, "not-a-token");
    assert_true(wait_for(&c, "invalid_token"));
    close(c.fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_message_reaches_an_open_stream_with_the_next_id),
        cmocka_unit_test(last_event_id_resumes_from_the_ring),
        cmocka_unit_test(a_client_further_behind_than_the_ring_is_told_to_resync),
        cmocka_unit_test(a_logout_ends_the_streams_of_its_token),
    };
    return cmocka_run_group_tests_name("sse", tests, setup, teardown);
}
