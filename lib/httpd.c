/* httpd.c -- the shared HTTP server layer (see httpd.h).
 *
 * Per connection, libmicrohttpd calls on_request() several times: first with
 * the headers only (we run the limits and admit() then, before any body is
 * accepted), then with chunks of the body (buffered up to max_body, or
 * handed to r->sink), then once more with none (handle()).  Connections per
 * client address are counted from libmicrohttpd's connection notifications
 * in a small table guarded by addr_lock.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "httpd.h"
#include "router.h"
#include <zlib.h>

/* TLS 1.2 and 1.3 only, and no static-RSA key exchange: every suite left
 * is forward secret.  GnuTLS priority syntax. */
#define TLS_PRIORITIES "SECURE:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:-VERS-SSL3.0:%SERVER_PRECEDENCE"
#define HSTS "max-age=31536000"
#define ADDR_SLOTS 1024
#define DROP_MAX (8u << 20) /* bytes of a chunked body over the cap read and dropped for a 413 */

struct addr_count {
    char addr[64];
    unsigned n;
};

struct pv_httpd {
    struct MHD_Daemon *mhd;
    struct pv_httpd_opts o;      /* start-up configuration */
    char *cert_pem, *key_pem;
    pthread_mutex_t addr_lock;
    struct addr_count addrs[ADDR_SLOTS]; /* guarded by addr_lock */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void client_of(struct MHD_Connection *c, char *buf, size_t size)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    socklen_t len = sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                   : sizeof(struct sockaddr_in);

    if (!sa || getnameinfo(sa, len, buf, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(buf, size, "unknown");
}

/* Is addr (numeric) one of list's comma-separated addresses or CIDR blocks? */
static int in_list(const char *list, const char *addr)
{
    unsigned char a[16], n[16];
    int fam = strchr(addr, ':') ? AF_INET6 : AF_INET;

    if (!list || inet_pton(fam, addr, a) != 1)
        return 0;
    while (*list) {
        char item[80], *slash;
        size_t len = strcspn(list, ","), bits, full;
        long prefix;
        snprintf(item, sizeof item, "%.*s", (int)(len < sizeof item ? len : sizeof item - 1), list);
        list += len + (list[len] == ',');
        slash = strchr(item, '/');
        if (slash)
            *slash = '\0';
        if (inet_pton(fam, item, n) != 1)
            continue;
        full = fam == AF_INET ? 32 : 128;
        prefix = slash ? strtol(slash + 1, NULL, 10) : (long)full;
        if (prefix < 0 || (size_t)prefix > full)
            continue;
        bits = (size_t)prefix;
        if (memcmp(a, n, bits / 8) == 0 &&
            (bits % 8 == 0 || ((a[bits / 8] ^ n[bits / 8]) & (0xFF << (8 - bits % 8)) & 0xFF) == 0))
            return 1;
    }
    return 0;
}

/* Behind trusted proxies the client is X-Forwarded-For's last address that
 * is not one of them (each proxy appends the address it saw). */
static void forwarded_client(struct pv_httpd *h, struct MHD_Connection *c, char *client, size_t size)
{
    const char *xff = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For");
    char list[512], *end;

    if (!h->o.trusted_proxies || !xff || !in_list(h->o.trusted_proxies, client))
        return;
    snprintf(list, sizeof list, "%s", xff);
    for (;;) {
        char *comma = strrchr(list, ','), *hop = comma ? comma + 1 : list;
        unsigned char tmp[16];
        while (*hop == ' ')
            hop++;
        end = hop + strcspn(hop, " ");
        *end = '\0';
        if (inet_pton(strchr(hop, ':') ? AF_INET6 : AF_INET, hop, tmp) != 1)
            return; /* not an address: keep the proxy's */
        snprintf(client, size, "%.63s", hop);
        if (!comma || !in_list(h->o.trusted_proxies, hop))
            return;
        *comma = '\0';
    }
}

/* ---- replies ------------------------------------------------------------- */

static int is_tls(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    return ci && ci->tls_session;
}

enum MHD_Result pv_httpd_queue(struct MHD_Connection *c, int status, struct MHD_Response *resp,
                               const struct pv_httpd_header *extra)
{
    enum MHD_Result ret;

    if (!resp)
        return MHD_NO;
    for (; extra && extra->name; extra++)
        if (extra->value)
            MHD_add_response_header(resp, extra->name, extra->value);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (is_tls(c))
        MHD_add_response_header(resp, "Strict-Transport-Security", HSTS);
    ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- the conveniences of a GET: ETag, 304, gzip ---------------------------
 * The ETag is strong (it names these exact bytes): a 64-bit multiply-xorshift
 * hash of the body, 8 bytes a step (about a tenth of the cost of zlib's
 * CRC-32 plus Adler-32 here, measured with callgrind), and its length.  It
 * tells versions of one resource apart; it is not a defence against someone
 * who crafts collisions, and needs not be.  The gzip form is another
 * representation, so it carries its own tag ("...-gz").  Bodies under
 * GZIP_MIN stay as they are: compressing them costs more than it saves. */
#define GZIP_MIN 1024

static void hex_of(uint64_t v, int digits, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = digits - 1; i >= 0; i--, v >>= 4)
        out[i] = hex[v & 15];
}

static void etag_of(const char *body, size_t n, char out[44])
{
    uint64_t h = 0x243f6a8885a308d3ull ^ n, w;
    size_t i = 0;

    for (; i + 8 <= n; i += 8) {
        memcpy(&w, body + i, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, body + i, n - i);
    h = (h ^ w ^ (uint64_t)(n - i) << 56) * 0xbf58476d1ce4e5b9ull;
    h ^= h >> 31;
    out[0] = '"';
    hex_of(h, 16, out + 1);
    out[17] = '-';
    hex_of(n, 8, out + 18);
    out[26] = '"';
    out[27] = '\0';
}

/* Does If-None-Match (a list of tags, or "*") name tag?  Weak tags compare
 * by their opaque part, as RFC 9110 says a GET must. */
static int none_match(const char *inm, const char *tag)
{
    size_t tl = strlen(tag);
    const char *p = inm;

    if (!inm)
        return 0;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (*p == '*')
            return 1;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, tag, tl) == 0 && (p[tl] == '\0' || p[tl] == ',' || p[tl] == ' '))
            return 1;
        while (*p && *p != ',')
            p++;
    }
    return 0;
}

static int accepts_gzip(struct MHD_Connection *c)
{
    const char *ae = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept-Encoding");
    const char *g = ae ? strstr(ae, "gzip") : NULL;

    if (!g)
        return 0;
    g += 4;
    while (*g == ' ')
        g++;
    if (strncmp(g, ";q=", 3) == 0 || strncmp(g, "; q=", 4) == 0)
        return strtod(strchr(g, '=') + 1, NULL) > 0; /* "gzip;q=0" refuses it */
    return 1;
}

/* gzip n bytes of in into a malloc'd buffer; NULL when zlib fails or it
 * would not be smaller. */
static char *gzip_of(const char *in, size_t n, size_t *outlen)
{
    z_stream z = {0};
    uLong cap;
    char *out;

    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    cap = deflateBound(&z, (uLong)n);
    out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)in;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END || z.total_out >= n) {
        deflateEnd(&z);
        free(out);
        return NULL;
    }
    *outlen = z.total_out;
    deflateEnd(&z);
    return out;
}

static int is_get(const char *method)
{
    return method && (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0);
}

enum MHD_Result pv_httpd_send_reply(struct MHD_Connection *c, struct pv_httpd_reply *rep)
{
    struct MHD_Response *resp;
    char *text = rep->text, ra[16], etag[44];
    size_t len;
    struct pv_httpd_header h[] = {
        {"Content-Type", rep->content_type ? rep->content_type : "application/json"},
        {"Cache-Control", "no-store"},
        {"Location", rep->location && rep->location[0] ? rep->location : NULL},
        {"Set-Cookie", rep->set_cookie && rep->set_cookie[0] ? rep->set_cookie : NULL},
        {"Retry-After", NULL},
        {"Allow", rep->allow && rep->allow[0] ? rep->allow : NULL},
        {"X-Request-Id", rep->request_id && rep->request_id[0] ? rep->request_id : NULL},
        {"Link", rep->link && rep->link[0] ? rep->link : NULL},
        {"ETag", NULL},
        {"Vary", NULL},
        {"Content-Encoding", NULL},
        {NULL, NULL},
    };

    rep->text = NULL;
    rep->sent = 0;
    if (!text && rep->json) {
        text = json_dumps(rep->json, JSON_COMPACT);
        if (!text) { /* not writable as JSON: a bug, said as one */
            rep->status = 500;
            text = strdup("{\"error\":{\"code\":\"no_reply\",\"message\":\"the reply could "
                          "not be written\",\"details\":{}}}");
        }
    } else if (!text && rep->status != 204) {
        struct pv_error e;
        pv_fail(&e, no_reply, "the handler gave no reply");
        rep->status = pv_error_status(&e);
        rep->json = pv_httpd_error_body(&e, NULL);
        text = json_dumps(rep->json, JSON_COMPACT);
    }
    json_decref(rep->json);
    rep->json = NULL;
    if (rep->status == 204)
        h[0].value = NULL;
    if (rep->retry_after > 0 || rep->status == 503) {
        snprintf(ra, sizeof ra, "%d", rep->retry_after > 0 ? rep->retry_after : 1);
        h[4].value = ra;
    }
    if (!text && !(text = strdup("")))
        return MHD_NO;
    len = strlen(text);
    if (rep->status == 200 && is_get(rep->method)) {
        int gz = len >= GZIP_MIN && accepts_gzip(c);
        etag_of(text, len, etag);
        if (gz) /* the gzip form's own tag: "…-gz" */
            memcpy(etag + 26, "-gz\"", 5);
        h[8].value = etag;
        if (len >= GZIP_MIN)
            h[9].value = "Accept-Encoding";
        if (none_match(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match"),
                       etag)) {
            free(text);
            rep->status = 304;
            h[0].value = NULL;
            resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
            return pv_httpd_queue(c, 304, resp, h);
        }
        if (gz) {
            size_t zn;
            char *z = gzip_of(text, len, &zn);
            if (z) {
                free(text);
                text = z;
                len = zn;
                h[10].value = "gzip";
            } else { /* sent as it is: the plain tag */
                etag_of(text, len, etag);
            }
        }
    }
    resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    rep->sent = len;
    return pv_httpd_queue(c, rep->status, resp, h);
}

json_t *pv_httpd_error_body(const struct pv_error *e, json_t *details)
{
    return json_pack("{s:{s:s,s:s,s:o}}", "error", "code", e->code[0] ? e->code : "error",
                     "message", e->message, "details", details ? details : json_object());
}

enum MHD_Result pv_httpd_send_error(struct MHD_Connection *c, const struct pv_error *e,
                                    json_t *details)
{
    struct pv_httpd_reply rep = {.status = pv_error_status(e),
                                 .json = pv_httpd_error_body(e, details)};
    return pv_httpd_send_reply(c, &rep);
}

enum MHD_Result pv_httpd_send_file(struct MHD_Connection *c, const char *path, int nofollow,
                                   const struct pv_httpd_header *extra,
                                   const struct pv_error *missing)
{
    int status;
    return pv_httpd_send_file_status(c, path, nofollow, extra, missing, &status);
}

enum MHD_Result pv_httpd_send_file_status(struct MHD_Connection *c, const char *path,
                                          int nofollow, const struct pv_httpd_header *extra,
                                          const struct pv_error *missing, int *status)
{
    struct stat sb;
    struct MHD_Response *resp;
    struct pv_httpd_header h[16];
    char etag[80];
    size_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));

    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0)
            close(fd);
        *status = pv_error_status(missing);
        return pv_httpd_send_error(c, missing, NULL);
    }
    /* a file's tag is its identity and version (inode, size, mtime in ns),
     * as nginx's is: hashing the bytes would read the file twice */
    snprintf(etag, sizeof etag, "\"%llx-%llx-%llx\"", (unsigned long long)sb.st_ino,
             (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull + (unsigned long long)sb.st_mtim.tv_nsec);
    for (n = 0; extra && extra[n].name && n < sizeof h / sizeof h[0] - 2; n++)
        h[n] = extra[n];
    h[n].name = "ETag";
    h[n].value = etag;
    h[n + 1].name = NULL;
    if (none_match(MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-None-Match"), etag)) {
        close(fd);
        *status = 304;
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        return pv_httpd_queue(c, 304, resp, h);
    }
    resp = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!resp) {
        close(fd);
        return MHD_NO;
    }
    *status = 200;
    return pv_httpd_queue(c, MHD_HTTP_OK, resp, h);
}

int pv_httpd_route(struct pv_httpd_req *r, const struct pv_route *routes, size_t n,
                   struct pv_route_match *m, struct pv_error *err)
{
    /* HEAD is GET without the body (libmicrohttpd leaves the body out and
     * keeps its Content-Length): every GET route answers it */
    const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;

    switch (pv_router_match(routes, n, method, r->url, m)) {
    case PV_MATCH_OK:
        return 0;
    case PV_MATCH_NO_METHOD:
        if (snprintf(r->allow, sizeof r->allow, "%.88s%s", m->allow,
                     strstr(m->allow, "GET") ? ", HEAD" : "") < 0)
            r->allow[0] = '\0';
        return pv_fail(err, method_not_allowed, "%s is not allowed on %.200s (allowed: %s)",
                       r->method, r->url, r->allow);
    case PV_MATCH_NO_PATH:
        break;
    }
    return pv_fail(err, route_not_found, "no route %s %.200s", r->method, r->url);
}

/* ---- connections per address -------------------------------------------- */

static struct addr_count *addr_slot(struct pv_httpd *h, const char *addr, int make)
{
    unsigned hash = 5381;
    struct addr_count *empty = NULL;

    for (const char *p = addr; *p; p++)
        hash = hash * 33 + (unsigned char)*p;
    for (unsigned i = 0; i < ADDR_SLOTS; i++) {
        struct addr_count *a = &h->addrs[(hash + i) % ADDR_SLOTS];
        if (a->n && strcmp(a->addr, addr) == 0)
            return a;
        if (!a->n && !empty)
            empty = a;
        if (!a->n && !a->addr[0])
            break; /* never used: the key is not further on */
    }
    if (make && empty)
        snprintf(empty->addr, sizeof empty->addr, "%s", addr);
    return make ? empty : NULL;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct pv_httpd *h = cls;
    char addr[64];
    struct addr_count *a;

    /* the address is the connection's: worked out once, kept for each of its
     * requests in the socket context */
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        client_of(c, addr, sizeof addr);
        *socket_context = strdup(addr);
    } else {
        if (*socket_context)
            snprintf(addr, sizeof addr, "%s", (char *)*socket_context);
        else
            client_of(c, addr, sizeof addr);
        free(*socket_context);
        *socket_context = NULL;
    }
    pthread_mutex_lock(&h->addr_lock);
    a = addr_slot(h, addr, toe == MHD_CONNECTION_NOTIFY_STARTED);
    if (a && toe == MHD_CONNECTION_NOTIFY_STARTED)
        a->n++;
    else if (a && a->n)
        a->n--;
    pthread_mutex_unlock(&h->addr_lock);
}

static unsigned connections_of(struct pv_httpd *h, const char *addr)
{
    struct addr_count *a;
    unsigned n;

    pthread_mutex_lock(&h->addr_lock);
    a = addr_slot(h, addr, 0);
    n = a ? a->n : 0;
    pthread_mutex_unlock(&h->addr_lock);
    return n;
}

/* ---- requests ------------------------------------------------------------ */

/* The client's X-Request-Id when it is 1-128 visible ASCII characters (so it
 * can go into a log line and a header as it is), else 16 random hex digits. */
static void request_id(struct MHD_Connection *c, char out[129])
{
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Request-Id");
    size_t n = 0;
    unsigned char rnd[8];

    while (id && id[n] && n <= 128 && id[n] > ' ' && id[n] < 127)
        n++;
    if (id && n >= 1 && n <= 128 && id[n] == '\0') {
        memcpy(out, id, n + 1);
        return;
    }
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        static unsigned long long seq; /* no entropy: unique is enough */
        unsigned long long v = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED) ^
                               (unsigned long long)now_ms() << 20;
        memcpy(rnd, &v, sizeof rnd);
    }
    {
        uint64_t v;
        memcpy(&v, rnd, sizeof v);
        hex_of(v, 16, out);
        out[16] = '\0';
    }
}

static enum MHD_Result refuse(struct pv_httpd_req *r, const struct pv_error *e)
{
    struct pv_httpd_reply rep = {.status = pv_error_status(e),
                                 .json = pv_httpd_error_body(e, NULL),
                                 .allow = r->allow,
                                 .request_id = r->request_id};
    r->refused = 1;
    return pv_httpd_send_reply(r->conn, &rep);
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    size_t *n = cls;
    (void)kind;
    *n += strlen(key) + (value ? strlen(value) : 0) + 2;
    return MHD_YES;
}

/* The query string's size, as libmicrohttpd parsed it (url has no query). */
static size_t query_bytes(struct MHD_Connection *c)
{
    size_t n = 0;
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &n);
    return n;
}

/* What is judged on the headers alone: limits, then the program's admit(). */
static enum MHD_Result first_look(struct pv_httpd *h, struct pv_httpd_req *r)
{
    const char *cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Content-Length");
    struct pv_error e = {0};
    int nargs = MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, NULL, NULL);

    if (connections_of(h, r->peer) > h->o.max_per_address) {
        pv_fail(&e, busy, "too many connections from %s; close some and try again", r->peer);
        return refuse(r, &e);
    }
    if (strlen(r->url) + query_bytes(r->conn) > h->o.max_url || nargs < 0 ||
        (unsigned)nargs > h->o.max_query_args) {
        pv_fail(&e, uri_too_long, "the URL is longer than %zu bytes or has more than %u query "
                "arguments", h->o.max_url, h->o.max_query_args);
        return refuse(r, &e);
    }
    if (h->o.app->admit) {
        int rc = h->o.app->admit(h->o.app->ctx, r, &e);
        if (rc == PV_HTTPD_ANSWERED) {
            r->refused = 1; /* admit() queued its own answer */
            return MHD_YES;
        }
        if (rc)
            return refuse(r, &e);
    }
    if (cl && !r->sink) { /* a sink takes a body of any size */
        char *end;
        long long n;
        errno = 0;
        n = strtoll(cl, &end, 10);
        if (errno || end == cl || *end || n < 0) {
            pv_fail(&e, invalid_value, "Content-Length is not a byte count");
            return refuse(r, &e);
        }
        if ((unsigned long long)n > h->o.max_body) {
            pv_fail(&e, body_too_large, "the body is larger than the limit of %zu bytes",
                    h->o.max_body);
            return refuse(r, &e);
        }
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *size, void **con_cls)
{
    struct pv_httpd *h = cls;
    struct pv_httpd_req *r = *con_cls;
    (void)version;

    if (!r) {
        /* the request and the program's state in one allocation */
        size_t head = (sizeof *r + 15) & ~(size_t)15;
        r = calloc(1, head + h->o.app->state_size);
        if (!r)
            return MHD_NO;
        *con_cls = r;
        r->state = h->o.app->state_size ? (char *)r + head : NULL;
        r->conn = c;
        r->method = method;
        r->url = url;
        r->start_ms = now_ms();
        request_id(c, r->request_id);
        {
            const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
            if (ci && ci->socket_context)
                snprintf(r->client, sizeof r->client, "%s", (const char *)ci->socket_context);
            else
                client_of(c, r->client, sizeof r->client);
        }
        {
            char sock[64];
            snprintf(sock, sizeof sock, "%s", r->client);
            forwarded_client(h, c, r->client, sizeof r->client);
            snprintf(r->peer, sizeof r->peer, "%s", sock);
        }
        return first_look(h, r);
    }
    if (*size) {
        size_t n = *size;
        *size = 0;
        if (r->refused)
            return MHD_YES; /* the answer is queued; the rest is dropped */
        if (r->sink) {
            /* a sink that failed takes no more; the body is drained, and
             * handle() says what went wrong (the state knows) */
            if (!r->sink_failed && r->sink(r->state, data, n) != 0)
                r->sink_failed = 1;
            return MHD_YES;
        }
        if (r->too_large) {
            /* dropped, up to DROP_MAX: past it the sender is not a client
             * that overshot but one that would keep us reading forever */
            r->dropped += n;
            return r->dropped > DROP_MAX ? MHD_NO : MHD_YES;
        }
        if (r->body.len + n > h->o.max_body) {
            /* Only a chunked body gets here (a Content-Length over the limit
             * is refused on the headers).  libmicrohttpd 0.9.75 takes no
             * reply while a body is still coming in (MHD_queue_response
             * fails and the connection is closed without a word), so the
             * rest is read and dropped, and the 413 is sent at its end --
             * when that end comes within DROP_MAX more bytes; else the
             * connection is closed. */
            pv_buf_free(&r->body);
            r->too_large = 1;
            return MHD_YES;
        }
        if (pv_buf_add(&r->body, data, n)) {
            struct pv_error e;
            pv_buf_free(&r->body);
            pv_fail(&e, out_of_memory, "out of memory for the request body");
            return refuse(r, &e);
        }
        return MHD_YES;
    }
    if (r->refused)
        return MHD_YES;
    if (r->too_large) {
        struct pv_error e;
        pv_fail(&e, body_too_large, "the body is larger than the limit of %zu bytes",
                h->o.max_body);
        return refuse(r, &e);
    }
    return h->o.app->handle(h->o.app->ctx, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct pv_httpd *h = cls;
    struct pv_httpd_req *r = *con_cls;
    (void)c;
    (void)toe;
    if (r) {
        if (h->o.app->done && r->state)
            h->o.app->done(r->state);
        pv_buf_free(&r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* ---- start and stop ------------------------------------------------------ */

static char *read_pem(const char *path, struct pv_error *err)
{
    FILE *f = fopen(path, "rb");
    struct pv_buf b = PV_BUF_INIT;
    char chunk[4096];
    size_t n;

    if (!f) {
        pv_fail(err, tls_error, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < 1024 * 1024)
        if (pv_buf_add(&b, chunk, n))
            break;
    fclose(f);
    if (b.len == 0 || b.len >= 1024 * 1024 || !strstr(pv_buf_str(&b), "-----BEGIN")) {
        pv_buf_free(&b);
        pv_fail(err, tls_error, "%s is not a PEM file", path);
        return NULL;
    }
    return pv_buf_detach(&b);
}

/* As many descriptors as the hard limit allows: each client is one. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap; /* libmicrohttpd's own words (a client went away) are not ours to log */
}

int pv_httpd_start(const struct pv_httpd_opts *o, struct pv_httpd **out, struct pv_error *err)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    struct pv_httpd *h;
    char port[16];
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    int tls = o->tls_cert && o->tls_cert[0];
    struct MHD_OptionItem opts[16];
    int n = 0;

    *out = NULL;
    snprintf(port, sizeof port, "%d", o->port);
    if (getaddrinfo(o->host, port, &hints, &ai) != 0 || !ai)
        return pv_fail(err, invalid_listen, "listen host '%s' is not a numeric IPv4 or IPv6 address",
                       o->host);
    h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    h->o = *o;
    if (!h->o.max_connections)
        h->o.max_connections = 1000;
    if (!h->o.max_per_address)
        h->o.max_per_address = 256;
    if (!h->o.idle_timeout_s)
        h->o.idle_timeout_s = 60;
    if (!h->o.max_url)
        h->o.max_url = 8192;
    if (!h->o.max_query_args)
        h->o.max_query_args = 128;
    pthread_mutex_init(&h->addr_lock, NULL);
    if (tls) {
        h->cert_pem = read_pem(o->tls_cert, err);
        h->key_pem = h->cert_pem ? read_pem(o->tls_key, err) : NULL;
        if (!h->key_pem) {
            freeaddrinfo(ai);
            pv_httpd_stop(h);
            return PV_EINVAL;
        }
        flags |= MHD_USE_TLS;
    }
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    if (o->threads)
        flags |= MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
    else
        flags |= MHD_USE_THREAD_PER_CONNECTION;
    raise_nofile();
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, h->o.idle_timeout_s, NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, h->o.max_connections, NULL};
    /* the hard stop, above the soft limit answered in first_look() */
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                        (intptr_t)(h->o.max_per_address * 2 + 16), NULL};
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                                        (intptr_t)(h->o.max_url * 2 + 65536), NULL};
    if (o->threads)
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, o->threads, NULL};
    if (tls) {
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->key_pem};
        opts[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
    }
    opts[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts,
                              MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->mhd) {
        pv_httpd_stop(h);
        return pv_fail(err, listen_failed, "cannot listen on %s:%d (in use, or the TLS files are "
                       "not a usable pair)", o->host, o->port);
    }
    *out = h;
    return 0;
}

void pv_httpd_stop(struct pv_httpd *h)
{
    if (!h)
        return;
    if (h->mhd)
        MHD_stop_daemon(h->mhd);
    pthread_mutex_destroy(&h->addr_lock);
    free(h->cert_pem);
    free(h->key_pem);
    free(h);
}

int pv_httpd_is_tls(const struct pv_httpd *h)
{
    return h && h->cert_pem;
}
