/* http.c -- libmicrohttpd glue (see http.h).
 *
 * MHD runs an internal epoll loop on a pool of threads; each request's
 * handler runs on the pool thread that owns its connection, so handlers must
 * not block for long (long work is a job, see jobs.c; event streams suspend
 * their connection, see sse.c).  Bodies are refused before they are read
 * when Content-Length is over the limit, and cut off when a chunked body
 * grows past it, so no request can make the daemon buffer more than
 * max_body_bytes.
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
#include "../db/db.h"
#include "../lib/text.h"
#include "auth.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "sse.h"
#include "util.h"

struct conn_ctx {
    int64_t start_ms;
    char *body;
    size_t len, cap;
    int too_big;
};

/* Start-up configuration: set in pv_http_start before the daemon runs. */
static struct MHD_Daemon *daemon_;
static long max_body;
static char webui_dir[512];
static char *tls_cert_pem, *tls_key_pem;

const char *pv_req_query(struct pv_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *pv_req_header(struct pv_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

const char *pv_req_client(struct pv_req *r, char *buf, size_t size)
{
    const union MHD_ConnectionInfo *ci =
        r->conn ? MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    socklen_t len = sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                   : sizeof(struct sockaddr_in);

    if (!sa || getnameinfo(sa, len, buf, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(buf, size, "unknown");
    return buf;
}

const char *pv_req_cookie(struct pv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

int pv_http_is_tls(void)
{
    return tls_cert_pem != NULL;
}

int pv_req_body(struct pv_req *r, json_t **out, struct pv_error *err)
{
    json_error_t je;
    json_t *j;

    *out = NULL;
    if (!r->body || r->body_len == 0)
        return pv_fail(err, missing_body, "this call needs a JSON object body");
    if (!pv_utf8_valid(r->body, r->body_len))
        return pv_fail(err, invalid_utf8, "the body is not valid UTF-8");
    j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return pv_fail(err, invalid_json, "malformed JSON at line %d column %d: %s",
                            je.line, je.column, je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return pv_fail(err, invalid_json, "the body must be a JSON object");
    }
    *out = j;
    return 0;
}

void pv_reply_json(struct pv_req *r, int status, json_t *body)
{
    json_decref(r->json);
    free(r->text);
    r->text = NULL;
    r->status = status;
    r->json = body;
}

void pv_reply_text(struct pv_req *r, int status, char *text, const char *content_type)
{
    pv_reply_json(r, status, NULL);
    r->text = text;
    r->content_type = content_type;
}

void pv_reply_error_details(struct pv_req *r, const struct pv_error *e, json_t *details)
{
    json_t *body = json_pack("{s:{s:s,s:s,s:o}}", "error", "code", e->code[0] ? e->code : "error",
                             "message", e->message, "details", details ? details : json_object());
    pv_reply_json(r, pv_error_status(e), body);
}

void pv_reply_error(struct pv_req *r, const struct pv_error *e)
{
    pv_reply_error_details(r, e, NULL);
}

void pv_reply_job(struct pv_req *r, const char *job_id)
{
    struct pv_error e = {0};
    json_t *job;

    snprintf(r->location, sizeof r->location, "/api/v1/jobs/%s", job_id);
    if (pv_db_job_json(job_id, &job, &e)) {
        pv_reply_error(r, &e);
        return;
    }
    pv_reply_json(r, 202, job);
}

static enum MHD_Result send_json(struct MHD_Connection *conn, struct pv_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    char *text;

    if (!r->json && !r->text && r->status != 204) {
        struct pv_error e;
        pv_fail(&e, no_reply, "the handler gave no reply");
        pv_reply_error(r, &e);
    }
    if (r->text) {
        text = r->text;
        r->text = NULL;
    } else if (r->json) {
        text = json_dumps(r->json, JSON_COMPACT);
    } else {
        text = strdup("");
    }
    if (!text)
        return MHD_NO;
    resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    if (r->status != 204)
        MHD_add_response_header(resp, "Content-Type",
                                r->content_type ? r->content_type : "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (r->location[0])
        MHD_add_response_header(resp, "Location", r->location);
    if (r->set_cookie[0])
        MHD_add_response_header(resp, "Set-Cookie", r->set_cookie);
    if (r->retry_after > 0) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", r->retry_after);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    if (r->allow[0])
        MHD_add_response_header(resp, "Allow", r->allow);
    ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, enum pv_code code, const char *msg)
{
    struct pv_req r = {.conn = conn};
    struct pv_error e;
    enum MHD_Result ret;

    pv_fail_code(&e, code, "%s", msg);
    pv_reply_error(&r, &e);
    ret = send_json(conn, &r);
    json_decref(r.json);
    return ret;
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
                                    const char *path)
{
    char file[1024];
    struct stat stbuf;
    struct MHD_Response *resp;
    enum MHD_Result ret;
    int fd;

    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return send_error(conn, PV_CODE_route_not_found, "no such route");
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    if (snprintf(file, sizeof file, "%s%s", webui_dir, path) >= (int)sizeof file)
        return send_error(conn, PV_CODE_not_found, "no such file");
    fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &stbuf) != 0 || !S_ISREG(stbuf.st_mode)) {
        if (fd >= 0)
            close(fd);
        return send_error(conn, PV_CODE_not_found, "no such file");
    }
    resp = MHD_create_response_from_fd((uint64_t)stbuf.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", content_type(file));
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
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

static enum MHD_Result dispatch(struct MHD_Connection *conn, const char *url, const char *method,
                                struct conn_ctx *ctx)
{
    struct pv_route_match m;
    struct pv_req r = {.conn = conn, .method = method, .path = url};
    struct pv_error e = {0};
    enum MHD_Result ret;
    const char *label = "unmatched";

    if (!pv_utf8_valid(url, strlen(url)) || has_dotdot(url))
        return send_error(conn, PV_CODE_invalid_path,
                          "the path is not valid UTF-8 or has a '..' segment");
    if (!is_api_path(url))
        return serve_static(conn, method, url);
    r.body = ctx->body;
    r.body_len = ctx->len;
    switch (pv_router_match(pv_routes, pv_nroutes, method, url, &m)) {
    case PV_MATCH_NO_PATH:
        pv_fail(&e, route_not_found, "no route %s %.200s", method, url);
        pv_reply_error(&r, &e);
        goto send;
    case PV_MATCH_NO_METHOD:
        pv_fail(&e, method_not_allowed, "%s is not allowed on %.200s (allowed: %s)",
                     method, url, m.allow);
        pv_reply_error(&r, &e);
        r.status = 405;
        snprintf(r.allow, sizeof r.allow, "%s", m.allow);
        goto send;
    case PV_MATCH_OK:
        break;
    }
    label = m.route->pattern;
    memcpy(r.params, m.params, sizeof r.params);
    r.nparams = m.nparams;
    if (!(m.route->flags & PV_ROUTE_PUBLIC)) {
        if (pv_auth_request(&r, &e)) {
            pv_reply_error(&r, &e);
            goto send;
        }
        if ((m.route->flags & PV_ROUTE_ADMIN) && strcmp(r.role, "admin") != 0) {
            pv_fail(&e, forbidden, "role '%s' may not %s %s", r.role, method,
                         m.route->pattern);
            pv_reply_error(&r, &e);
            goto send;
        }
    }
    m.route->handler(&r);
    if (r.stream) {
        ret = pv_sse_queue(conn, r.stream);
        pv_metrics_request(label, 200, pv_now_ms() - ctx->start_ms);
        return ret;
    }
send:
    ret = send_json(conn, &r);
    pv_metrics_request(label, r.status, pv_now_ms() - ctx->start_ms);
    pv_log(PV_LOG_DEBUG, "http", "event=request method=%s route=%s status=%d user=%s ms=%lld",
           method, label, r.status, r.user[0] ? r.user : "-",
           (long long)(pv_now_ms() - ctx->start_ms));
    json_decref(r.json);
    free(r.text);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    struct conn_ctx *ctx = *con_cls;
    (void)cls;
    (void)version;

    if (!ctx) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        ctx = calloc(1, sizeof *ctx);
        if (!ctx)
            return MHD_NO;
        ctx->start_ms = pv_now_ms();
        *con_cls = ctx;
        if (cl && strtoll(cl, NULL, 10) > max_body) {
            ctx->too_big = 1;
            pv_metrics_request("unmatched", 413, 0);
            return send_error(conn, PV_CODE_body_too_large,
                              "request body is larger than the limit");
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (ctx->too_big)
            return MHD_YES;
        if (ctx->len + n > (size_t)max_body) {
            ctx->too_big = 1;
            free(ctx->body);
            ctx->body = NULL;
            ctx->len = ctx->cap = 0;
            pv_metrics_request("unmatched", 413, 0);
            return send_error(conn, PV_CODE_body_too_large,
                              "request body is larger than the limit");
        }
        if (ctx->len + n + 1 > ctx->cap) {
            size_t cap = ctx->cap ? ctx->cap : 4096;
            while (cap < ctx->len + n + 1)
                cap *= 2;
            char *p = realloc(ctx->body, cap);
            if (!p)
                return MHD_NO;
            ctx->body = p;
            ctx->cap = cap;
        }
        memcpy(ctx->body + ctx->len, upload_data, n);
        ctx->len += n;
        ctx->body[ctx->len] = '\0';
        return MHD_YES;
    }
    if (ctx->too_big)
        return MHD_YES; /* the 413 is already queued */
    return dispatch(conn, url, method, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_ctx *ctx = *con_cls;
    (void)cls;
    (void)conn;
    (void)toe;
    if (ctx) {
        free(ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    pv_log(PV_LOG_WARN, "http", "msg=\"%s\"", msg);
}

static char *read_file(const char *path, struct pv_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f) {
        pv_fail(err, tls_error, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < 1024L * 1024 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    fclose(f);
    if (!buf)
        pv_fail(err, tls_error, "cannot read %s", path);
    return buf;
}

int pv_http_start(const struct pv_config *cfg, struct pv_error *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char port[16];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;

    max_body = cfg->max_body_bytes;
    snprintf(webui_dir, sizeof webui_dir, "%s", cfg->webui_dir);
    snprintf(port, sizeof port, "%d", cfg->listen_port);
    if (getaddrinfo(cfg->listen_host, port, &hints, &ai) != 0 || !ai)
        return pv_fail(err, invalid_listen,
                            "listen host '%s' is not a numeric IPv4 or IPv6 address",
                            cfg->listen_host);
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (cfg->tls_cert[0]) {
        tls_cert_pem = read_file(cfg->tls_cert, err);
        tls_key_pem = tls_cert_pem ? read_file(cfg->tls_key, err) : NULL;
        if (!tls_key_pem) {
            freeaddrinfo(ai);
            return PV_EINVAL;
        }
        flags |= MHD_USE_TLS;
    }
    daemon_ = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->http_threads,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536,
        cfg->tls_cert[0] ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, tls_cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, tls_key_pem, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!daemon_)
        return pv_fail(err, listen_failed,
                            "cannot listen on %s:%d (in use, or TLS files invalid)",
                            cfg->listen_host, cfg->listen_port);
    return 0;
}

void pv_http_stop(void)
{
    if (daemon_) {
        pv_sse_shutdown();
        MHD_stop_daemon(daemon_);
        daemon_ = NULL;
    }
    free(tls_cert_pem);
    free(tls_key_pem);
    tls_cert_pem = tls_key_pem = NULL;
}
