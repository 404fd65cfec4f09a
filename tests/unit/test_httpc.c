/* test_httpc.c -- lib/httpc against a loopback fake: a thread that accepts
 * connections on 127.0.0.1, records each request and answers what the test
 * scripted (or closes, or stalls). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "lib/httpc.h"

enum mode { ANSWER, CLOSE, STALL };

struct fake {
    int fd, port;
    pthread_t thread;
    enum mode mode[8];            /* per connection accepted */
    const char *answer;           /* the whole HTTP answer, for ANSWER */
    int conns;                    /* connections accepted */
    int requests;                 /* requests read */
    char last[4096];              /* the last request's head and body */
};

static void *serve(void *arg)
{
    struct fake *f = arg;

    for (;;) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            return NULL;
        enum mode m = f->mode[f->conns < 8 ? f->conns : 7];
        f->conns++;
        for (;;) {
            ssize_t n = read(c, f->last, sizeof f->last - 1);
            if (n <= 0)
                break;
            f->last[n] = '\0';
            f->requests++;
            if (m == CLOSE)
                break;
            if (m == STALL) {
                usleep(600000);
                break;
            }
            if (write(c, f->answer, strlen(f->answer)) < 0)
                break;
        }
        close(c);
    }
}

static struct fake *fake_start(const char *answer)
{
    struct fake *f = calloc(1, sizeof *f);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;

    f->answer = answer;
    f->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(bind(f->fd, (struct sockaddr *)&a, sizeof a) == 0);
    assert_true(listen(f->fd, 8) == 0);
    getsockname(f->fd, (struct sockaddr *)&a, &len);
    f->port = ntohs(a.sin_port);
    pthread_create(&f->thread, NULL, serve, f);
    return f;
}

static void fake_stop(struct fake *f)
{
    shutdown(f->fd, SHUT_RDWR);
    close(f->fd);
    pthread_join(f->thread, NULL);
    free(f);
}

static struct pv_httpc *session(struct fake *f, const char *cookie, int retries, int timeout_ms)
{
    char url[64];
    const char *headers[] = {"X-Test: yes", NULL};
    struct pv_httpc *h = NULL;
    struct pv_error e = {0};

    snprintf(url, sizeof url, "http://127.0.0.1:%d/base", f->port);
    struct pv_httpc_opts o = {.base_url = url, .headers = headers, .cookie_name = cookie,
                              .retries = retries, .timeout_ms = timeout_ms, .max_response = 1024,
                              .peer = "fake"};
    assert_int_equal(pv_httpc_new(&o, &h, &e), 0);
    return h;
}

static void a_call_reuses_its_connection_and_keeps_the_cookie(void **state)
{
    struct fake *f = fake_start("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"
                                "Set-Cookie: sess=\"52-ab\"; Path=/\r\n\r\nok");
    struct pv_httpc *h = session(f, "sess", 0, 2000);
    struct pv_buf b = PV_BUF_INIT;
    struct pv_error e = {0};
    long status = 0;

    (void)state;
    assert_int_equal(pv_httpc_call(h, "GET", "/x?y=1", NULL, 0, 0, &status, &b, &e), 0);
    assert_int_equal(status, 200);
    assert_string_equal(pv_buf_str(&b), "ok");
    assert_non_null(strstr(f->last, "GET /base/x?y=1 HTTP/1.1"));
    assert_non_null(strstr(f->last, "X-Test: yes"));
    assert_string_equal(pv_httpc_cookie(h), "sess=\"52-ab\"");
    assert_int_equal(pv_httpc_call(h, "POST", "/y", "{}", 2, 0, &status, &b, &e), 0);
    assert_non_null(strstr(f->last, "Cookie: sess=\"52-ab\""));
    assert_non_null(strstr(f->last, "\r\n\r\n{}"));
    assert_int_equal(f->conns, 1); /* one TCP connection for both */
    pv_httpc_forget_cookie(h);
    assert_string_equal(pv_httpc_cookie(h), "");
    pv_buf_free(&b);
    pv_httpc_free(h);
    fake_stop(f);
}

static void any_status_is_the_callers_to_judge(void **state)
{
    struct fake *f = fake_start("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy");
    struct pv_httpc *h = session(f, NULL, 2, 2000);
    struct pv_buf b = PV_BUF_INIT;
    struct pv_error e = {0};
    long status = 0;

    (void)state;
    assert_int_equal(pv_httpc_call(h, "GET", "/", NULL, 0, 0, &status, &b, &e), 0);
    assert_int_equal(status, 503);
    assert_int_equal(f->requests, 1); /* an answer is not retried */
    pv_buf_free(&b);
    pv_httpc_free(h);
    fake_stop(f);
}

static void a_broken_connection_is_retried_for_get_only(void **state)
{
    struct fake *f = fake_start("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    struct pv_httpc *h = session(f, NULL, 2, 2000);
    struct pv_buf b = PV_BUF_INIT;
    struct pv_error e = {0};
    long status = 0;

    (void)state;
    f->mode[0] = CLOSE;
    f->mode[1] = CLOSE;
    assert_int_equal(pv_httpc_call(h, "GET", "/", NULL, 0, 0, &status, &b, &e), 0);
    assert_int_equal(status, 200);
    assert_int_equal(f->conns, 3);
    f->mode[3] = CLOSE; /* the connection in use is the third: the POST gets a fresh one */
    pv_httpc_free(h);
    h = session(f, NULL, 2, 2000);
    assert_int_not_equal(pv_httpc_call(h, "POST", "/", "x", 1, 0, &status, &b, &e), 0);
    assert_string_equal(e.code, "peer_unreachable");
    assert_int_equal(f->conns, 4); /* sent once */
    pv_buf_free(&b);
    pv_httpc_free(h);
    fake_stop(f);
}

static void a_lying_or_silent_peer_is_an_error_with_a_code(void **state)
{
    static char big[4096];
    struct fake *f;
    struct pv_httpc *h;
    struct pv_buf b = PV_BUF_INIT;
    struct pv_error e = {0};
    long status = 0;

    (void)state;
    snprintf(big, sizeof big, "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n%02000d", 0);
    f = fake_start(big);
    h = session(f, NULL, 0, 2000);
    assert_int_not_equal(pv_httpc_call(h, "GET", "/", NULL, 0, 0, &status, &b, &e), 0);
    assert_string_equal(e.code, "bad_response"); /* over the 1024-byte cap */
    pv_httpc_free(h);
    fake_stop(f);

    f = fake_start("");
    f->mode[0] = STALL;
    h = session(f, NULL, 0, 200);
    assert_int_not_equal(pv_httpc_call(h, "GET", "/", NULL, 0, 0, &status, &b, &e), 0);
    assert_string_equal(e.code, "timeout");
    assert_non_null(strstr(e.message, "fake http://127.0.0.1:"));
    pv_httpc_free(h);
    fake_stop(f);
    pv_buf_free(&b);
}

static void only_web_urls_and_escaping(void **state)
{
    struct pv_httpc *h = NULL;
    struct pv_error e = {0};
    struct pv_httpc_opts o = {.base_url = "file:///etc/passwd"};
    char *s;

    (void)state;
    assert_int_not_equal(pv_httpc_new(&o, &h, &e), 0);
    assert_string_equal(e.code, "invalid_url");
    assert_null(h);
    s = pv_httpc_escape("/var/lib/a b/ü&x=1");
    assert_string_equal(s, "%2Fvar%2Flib%2Fa%20b%2F%C3%BC%26x%3D1");
    free(s);
    s = pv_httpc_escape("");
    assert_string_equal(s, "");
    free(s);
    pv_httpc_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_call_reuses_its_connection_and_keeps_the_cookie),
        cmocka_unit_test(any_status_is_the_callers_to_judge),
        cmocka_unit_test(a_broken_connection_is_retried_for_get_only),
        cmocka_unit_test(a_lying_or_silent_peer_is_an_error_with_a_code),
        cmocka_unit_test(only_web_urls_and_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
