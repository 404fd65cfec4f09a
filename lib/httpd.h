/* httpd.h -- the one HTTP server layer, shared by polyvisord and the KVM
 * host agent: libmicrohttpd, TLS, limits, request bodies and JSON replies.
 *
 * A program hands pv_httpd_start() its options and two hooks:
 *
 *   admit(r)   called once per request, as soon as its headers are in and
 *              before a byte of its body is read: the place to match the
 *              route, check the method and the credentials, and refuse (fill
 *              err, return non-zero: answered at once, the body never read)
 *              -- so an unauthenticated client cannot make the server hold a
 *              megabyte for it.  It may set r->sink to take the body itself
 *              (a streamed upload) instead of having it buffered.
 *   handle(r)  called when the whole body is in (r->body), to answer with
 *              pv_httpd_send_*().
 *
 * The layer keeps the limits every server needs, so each fix is made once:
 * a body limit (413 before reading when Content-Length says so), a URL and
 * query-argument limit (414), a connection limit and a soft per-address
 * limit (503 with Retry-After, answered; libmicrohttpd's own per-address
 * limit, set higher, is the hard stop that closes without a word), an idle
 * timeout, RLIMIT_NOFILE raised to its hard limit, and over TLS only TLS 1.2
 * and 1.3 with forward-secret key exchange, with Strict-Transport-Security
 * on every reply.
 */
#ifndef PV_HTTPD_H
#define PV_HTTPD_H

#include <microhttpd.h>
#include <stdint.h>
#include <jansson.h>
#include "buf.h"
#include "errors.h"

struct pv_httpd_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *url;
    struct pv_buf body;          /* the buffered body (not when sink is set) */
    int64_t start_ms;            /* monotonic, when the headers were in */
    char peer[64];               /* the socket's other end (a proxy, behind one) */
    char client[64];             /* the client's address, numeric: X-Forwarded-For's
                                    last hop that is not a trusted proxy, when the
                                    connection comes from one */
    /* set by admit(): */
    void *state;                 /* the program's, for handle(); freed by done() */
    int (*sink)(void *state, const char *data, size_t n); /* take the body: 0 ok, -1 stop */
    void (*done)(void *state);   /* when the request ends, whatever happened */
    /* the layer's own */
    int refused;                 /* answered already: the body is dropped */
    int sink_failed;
};

/* admit() queued an answer of its own (say, a 405 with its Allow header). */
#define PV_HTTPD_ANSWERED 1

struct pv_httpd_app {
    void *ctx;
    int (*admit)(void *ctx, struct pv_httpd_req *r, struct pv_error *err);
    enum MHD_Result (*handle)(void *ctx, struct pv_httpd_req *r);
};

struct pv_httpd_opts {
    const char *host;            /* numeric IPv4 or IPv6 */
    int port;
    const char *tls_cert, *tls_key; /* PEM files; NULL or "": plain HTTP */
    unsigned threads;            /* > 0: a pool of that many epoll threads (suspend and
                                    resume allowed); 0: a thread per connection */
    size_t max_body;             /* bytes */
    unsigned max_connections;    /* all clients together; 0: 1000 */
    unsigned max_per_address;    /* soft, answered with 503; 0: 256 */
    unsigned idle_timeout_s;     /* 0: 60 */
    size_t max_url;              /* path and query, bytes; 0: 8192 */
    unsigned max_query_args;     /* 0: 128 */
    const char *trusted_proxies; /* comma-separated addresses or IPv4/IPv6 CIDR blocks whose
                                    X-Forwarded-For names the real client; NULL: none */
    const struct pv_httpd_app *app;
};

struct pv_httpd;

int pv_httpd_start(const struct pv_httpd_opts *o, struct pv_httpd **out, struct pv_error *err);
void pv_httpd_stop(struct pv_httpd *h);
int pv_httpd_is_tls(const struct pv_httpd *h);

/* Extra reply headers: name/value pairs ending in a NULL name. */
struct pv_httpd_header {
    const char *name, *value;
};

/* Queue a reply.  body (JSON, stolen; NULL: none) / text (borrowed). */
enum MHD_Result pv_httpd_send_json(struct MHD_Connection *c, int status, json_t *body,
                                   const struct pv_httpd_header *extra);
enum MHD_Result pv_httpd_send_text(struct MHD_Connection *c, int status, const char *type,
                                   const char *text, size_t len,
                                   const struct pv_httpd_header *extra);
/* Queue a prepared response with the layer's common headers added. */
enum MHD_Result pv_httpd_queue(struct MHD_Connection *c, int status, struct MHD_Response *resp,
                               const struct pv_httpd_header *extra);
/* {"error": {"code", "message", "details"}} with e's status; details stolen (NULL: {}). */
json_t *pv_httpd_error_body(const struct pv_error *e, json_t *details);
enum MHD_Result pv_httpd_send_error(struct MHD_Connection *c, const struct pv_error *e,
                                    json_t *details);

#endif
