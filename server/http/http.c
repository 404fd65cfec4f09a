/* http.c -- the daemon's side of the HTTP layer (see http.h): routes,
 * authentication, replies, the console's static files.  The transport --
 * libmicrohttpd, TLS, body and URL limits, connection limits -- is lib/httpd,
 * shared with the host agent.
 *
 * The thread pool runs each request's handler on the thread that owns its
 * connection, so handlers must not block for long (long work is a job, see
 * jobs.c; event streams suspend their connection, see sse.c).  The route,
 * the method and the credentials are checked in admit(), on the headers
 * alone: a request that will be refused is answered before a byte of its
 * body is read, so nobody without a token can make the daemon hold a body.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "db/db.h"
#include "lib/httpd.h"
#include "lib/text.h"
#include "server/http/auth.h"
#include "server/http/http.h"
#include "server/core/log.h"
#include "server/http/metrics.h"
#include "server/http/jobwait.h"
#include "server/http/sse.h"
#include "server/core/util.h"

/* One request between admit() and its end. */
struct call {
    struct pv_req r;
    struct pv_route_match m;
    const char *label;      /* the route pattern, for metrics and logs */
    int api;                /* 0: a file of the console */
    const char *request_id; /* borrowed from lib/httpd's request */
    size_t sent;            /* the reply body's bytes */
};

/* Start-up configuration: set in pv_http_start before the daemon runs. */
static struct pv_httpd *httpd;
static char webui_dir[512];
static int access_log = 1;

int pv_http_is_tls(void)
{
    return pv_httpd_is_tls(httpd);
}

/* The cursor of a page's next_cursor, or NULL: a page is written by db/ as
 * text ending in ,"next_cursor":"..."} (api_inventory.c) or is JSON. */
static const char *next_cursor(struct pv_req *r, size_t *n)
{
    static const char key[] = "\"next_cursor\":\"";
    const char *s, *e;

    if (r->json) {
        json_t *nc = json_object_get(r->json, "next_cursor");
        s = json_string_value(nc);
        if (s)
            *n = strlen(s);
        return s;
    }
    /* only a page is searched: an object's body is not read twice */
    if (!r->text || strncmp(r->text, "{\"items\":", 9) != 0 || !(s = strstr(r->text, key)))
        return NULL;
    s += sizeof key - 1;
    if (!(e = strchr(s, '"')))
        return NULL;
    *n = (size_t)(e - s);
    return s;
}

struct link_build {
    char *out;
    size_t size, len;
};

static void link_put(struct link_build *b, const char *s, size_t n, int encode)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n && b->len + 4 < b->size; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!encode || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || strchr("-._~", ch)) {
            b->out[b->len++] = (char)ch;
        } else {
            b->out[b->len++] = '%';
            b->out[b->len++] = hex[ch >> 4];
            b->out[b->len++] = hex[ch & 15];
        }
    }
    b->out[b->len] = '\0';
}

static enum MHD_Result link_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    (void)kind;
    if (strcmp(key, "cursor") != 0) {
        link_put(cls, key, strlen(key), 1);
        link_put(cls, "=", 1, 0);
        link_put(cls, value ? value : "", value ? strlen(value) : 0, 1);
        link_put(cls, "&", 1, 0);
    }
    return MHD_YES;
}

/* Link: <path?same query, this cursor>; rel="next" beside a page's
 * next_cursor (RFC 8288), so a client can follow pages without building URLs. */
static void make_link(struct pv_req *r, char *link, size_t size)
{
    struct link_build b = {link, size, 0};
    const char *cur;
    size_t n = 0;

    link[0] = '\0';
    if (!(cur = next_cursor(r, &n)))
        return;
    link_put(&b, "<", 1, 0);
    link_put(&b, r->path, strlen(r->path), 0);
    link_put(&b, "?", 1, 0);
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, link_arg, &b);
    link_put(&b, "cursor=", 7, 0);
    link_put(&b, cur, n, 1);
    link_put(&b, ">; rel=\"next\"", 14, 0);
    if (b.len + 4 >= b.size) /* cut short: better none than a wrong one */
        link[0] = '\0';
}

/* Send r's reply (through lib/httpd, which takes its body); r->status
 * becomes what was sent. */
static enum MHD_Result send_json(struct call *c)
{
    struct pv_req *r = &c->r;
    struct pv_httpd_reply rep = {r->status, r->json,     r->text,       r->content_type,
                                 r->location, r->set_cookie, r->allow, r->retry_after,
                                 r->method, c->request_id, NULL, 0};
    enum MHD_Result ret;
    char link[1024]; /* on the stack: not zeroed with every request's state */

    if (c->api && r->status == 200 && strcmp(r->method, "POST") != 0) {
        make_link(r, link, sizeof link);
        rep.link = link;
    }
    r->json = NULL;
    r->text = NULL;
    ret = pv_httpd_send_reply(r->conn, &rep);
    r->status = rep.status;
    c->sent = rep.sent;
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, enum pv_code code, const char *msg)
{
    struct pv_error e;

    pv_fail_code(&e, code, "%s", msg);
    return pv_httpd_send_error(conn, &e, NULL);
}

static const char *content_type(const char *path)
{
    static const struct { const char *ext, *type; } types[] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},   {".json", "application/json"},
        {".svg", "image/svg+xml"},             {".png", "image/png"},
        {".ico", "image/x-icon"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* Files of the web console.  The path has no ".." segment (checked by the
 * caller) and is opened relative to the console directory only. */
static enum MHD_Result serve_static(struct MHD_Connection *conn, const char *method,
                                    const char *path, const char *request_id, int *status)
{
    char file[1024];
    struct pv_error missing;
    struct pv_httpd_header h[] = {{"Content-Type", NULL},
                                        {"X-Frame-Options", "DENY"},
                                        {"Cache-Control", "no-cache"},
                                        {"X-Request-Id", request_id},
                                        {NULL, NULL}};

    *status = 404;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error(conn, PV_CODE_route_not_found, "no such route");
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    if (snprintf(file, sizeof file, "%s%s", webui_dir, path) >= (int)sizeof file)
        return send_error(conn, PV_CODE_not_found, "no such file");
    pv_fail(&missing, not_found, "no such file");
    h[0].value = content_type(file);
    return pv_httpd_send_file_status(conn, file, 1, h, &missing, status);
}

static int has_dotdot(const char *path)
{
    const char *p = path;
    while ((p = strstr(p, "..")) != NULL) {
        if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
            return 1;
        p += 2;
    }
    return 0;
}

static int is_api_path(const char *path)
{
    return strncmp(path, "/api/", 5) == 0 || strcmp(path, "/api") == 0 ||
           strcmp(path, "/metrics") == 0 || strcmp(path, "/healthz") == 0;
}

/* Count and log a request that was answered: the access log names the
 * route's pattern, never the path (a path may carry a ticket or a secret). */
static void finished(struct call *c)
{
    struct pv_req *r = &c->r;
    int64_t ms = pv_now_ms() - r->start_ms;

    enum pv_log_level level = access_log ? PV_LOG_INFO : PV_LOG_DEBUG;

    pv_metrics_request(c->label, r->status, ms);
    if (pv_log_enabled(level)) /* access_log = 0 still shows requests at debug */
        pv_log(level, "access",
               "client=%s user=%s method=%s route=%s status=%d bytes=%zu ms=%lld",
               r->client ? r->client : "-", r->user[0] ? r->user : "-", r->method, c->label,
               r->status, c->sent, (long long)ms);
}

/* Answer r now (an error found in admit()), counted and logged like any. */
static int answer_early(struct call *c, const struct pv_error *e)
{
    pv_reply_error(&c->r, e);
    send_json(c);
    finished(c);
    pv_log_set_request(NULL);
    return PV_HTTPD_ANSWERED;
}

static void call_done(void *state)
{
    struct call *c = state;
    json_decref(c->r.json);
    free(c->r.text);
}

/* On the headers alone: the path, the route, the method, who it is. */
static int admit(void *ctx, struct pv_httpd_req *hr, struct pv_error *err)
{
    struct call *c = hr->state;
    struct pv_req *r = &c->r;
    struct pv_error e = {0};
    (void)ctx;
    (void)err;

    r->conn = hr->conn;
    r->method = hr->method;
    r->path = hr->url;
    r->client = hr->client;
    r->start_ms = hr->start_ms;
    c->request_id = hr->request_id;
    c->label = "unmatched";
    pv_log_set_request(c->request_id);
    if (!pv_utf8_valid(hr->url, strlen(hr->url)) || has_dotdot(hr->url)) {
        pv_fail(&e, invalid_path, "the path is not valid UTF-8 or has a '..' segment");
        return answer_early(c, &e);
    }
    if (!is_api_path(hr->url)) {
        if (strcmp(hr->method, "GET") != 0 && strcmp(hr->method, "HEAD") != 0) {
            pv_fail(&e, route_not_found, "no such route");
            return answer_early(c, &e);
        }
        pv_log_set_request(NULL);
        return 0; /* a console file: handle() serves it */
    }
    c->api = 1;
    if (pv_httpd_route(hr, pv_routes, pv_nroutes, &c->m, &e)) {
        snprintf(r->allow, sizeof r->allow, "%s", hr->allow);
        return answer_early(c, &e);
    }
    c->label = c->m.route->pattern;
    memcpy(r->params, c->m.params, sizeof r->params);
    r->nparams = c->m.nparams;
    if (!(c->m.route->flags & PV_ROUTE_PUBLIC)) {
        if (pv_auth_request(r, &e))
            return answer_early(c, &e);
        if ((c->m.route->flags & PV_ROUTE_ADMIN) && strcmp(r->role, "admin") != 0) {
            pv_fail(&e, forbidden, "role '%s' may not %s %s", r->role, hr->method,
                    c->m.route->pattern);
            return answer_early(c, &e);
        }
    }
    pv_log_set_request(NULL);
    return 0;
}

/* The whole body is in: run the route's handler and send its reply. */
static enum MHD_Result handle(void *ctx, struct pv_httpd_req *hr)
{
    struct call *c = hr->state;
    struct pv_req *r = &c->r;
    enum MHD_Result ret;
    (void)ctx;

    if (!c->api) {
        ret = serve_static(hr->conn, hr->method, hr->url, c->request_id, &r->status);
        finished(c);
        return ret;
    }
    pv_log_set_request(c->request_id);
    r->body = hr->body.len ? hr->body.s : NULL;
    r->body_len = hr->body.len;
    c->m.route->handler(r);
    if (r->suspended) { /* parked (jobwait.c): answered when it runs again */
        r->suspended = 0;
        ret = MHD_YES;
    } else if (r->stream) {
        ret = pv_sse_queue(hr->conn, r->stream);
        pv_metrics_request(c->label, 200, pv_now_ms() - r->start_ms);
    } else {
        ret = send_json(c);
        finished(c);
    }
    pv_log_set_request(NULL);
    return ret;
}

int pv_http_start(const struct pv_config *cfg, struct pv_error *err)
{
    static const struct pv_httpd_app app = {NULL, sizeof(struct call), admit, handle, call_done};
    struct pv_httpd_opts o = {
        .host = cfg->listen_host,
        .port = cfg->listen_port,
        .tls_cert = cfg->tls_cert,
        .tls_key = cfg->tls_key,
        .threads = (unsigned)cfg->http_threads,
        .max_body = (size_t)cfg->max_body_bytes,
        .max_connections = (unsigned)cfg->max_connections,
        .max_per_address = (unsigned)cfg->max_connections_per_address,
        .idle_timeout_s = (unsigned)cfg->idle_timeout_seconds,
        .trusted_proxies = cfg->trusted_proxies[0] ? cfg->trusted_proxies : NULL,
        .app = &app,
    };

    snprintf(webui_dir, sizeof webui_dir, "%s", cfg->webui_dir);
    access_log = cfg->access_log;
    if (pv_jobwait_start())
        return pv_fail(err, thread_failed, "cannot start the long-poll timer thread");
    return pv_httpd_start(&o, &httpd, err);
}

void pv_http_stop(void)
{
    if (httpd) {
        pv_sse_shutdown();
        pv_jobwait_shutdown();
        pv_httpd_stop(httpd);
        httpd = NULL;
    }
}
