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
 * What both programs do around those hooks is here too, so that neither
 * keeps a copy: the program's per-request state (app->state_size bytes,
 * zeroed, allocated with the request and handed to app->done at its end),
 * matching a route table with the 404 / 405-with-Allow answers
 * (pv_httpd_route), the JSON reply with its headers (pv_httpd_send_reply),
 * the error body, and files streamed from disk (pv_httpd_send_file).
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
    void *state;                 /* the program's: app->state_size zeroed bytes */
    char allow[96];              /* a 405's Allow list (pv_httpd_route) */
    char request_id[129];        /* the client's X-Request-Id when it is 1-128 visible
                                    ASCII characters, else one made here */
    /* set by admit(): */
    int (*sink)(void *state, const char *data, size_t n); /* take the body: 0 ok, -1 stop */
    /* the layer's own */
    int refused;                 /* answered already: the body is dropped */
    int sink_failed;
    int too_large;               /* a chunked body outgrew max_body: read on, dropped,
                                    answered 413 at its end (closed past 8 MiB more) */
    size_t dropped;
};

/* admit() queued an answer of its own (say, a 405 with its Allow header). */
#define PV_HTTPD_ANSWERED 1

struct pv_httpd_app {
    void *ctx;
    size_t state_size;           /* the program's state per request (r->state) */
    int (*admit)(void *ctx, struct pv_httpd_req *r, struct pv_error *err);
    enum MHD_Result (*handle)(void *ctx, struct pv_httpd_req *r);
    void (*done)(void *state);   /* when a request ends, whatever happened; NULL: nothing */
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

/* Queue a prepared response with the layer's common headers added. */
enum MHD_Result pv_httpd_queue(struct MHD_Connection *c, int status, struct MHD_Response *resp,
                               const struct pv_httpd_header *extra);
/* A reply of either program: a JSON body (or a text of its own) with
 * Cache-Control: no-store and the headers that are set.  Without a body,
 * a status other than 204 is a handler's bug, answered as no_reply (500). */
struct pv_httpd_reply {
    int status;                  /* set to what was sent */
    json_t *json;                /* stolen; NULL: none */
    char *text;                  /* a malloc'd body instead of json, stolen */
    const char *content_type;    /* of text; NULL: application/json */
    const char *location, *set_cookie, *allow; /* NULL or "": not sent */
    int retry_after;             /* seconds; 0: none (a 503 says 1) */
    /* the conveniences every GET gets (all optional): */
    const char *method;          /* "GET"/"HEAD" with a 200: ETag, If-None-Match -> 304,
                                    gzip when accepted and the body is over 1 KiB */
    const char *request_id;      /* sent back as X-Request-Id */
    const char *link;            /* a Link header (rel="next" of a page) */
    size_t sent;                 /* out: the body's bytes as sent */
};
enum MHD_Result pv_httpd_send_reply(struct MHD_Connection *c, struct pv_httpd_reply *rep);

/* Match r against a route table (lib/router.h).  0: m holds the route and
 * its captures; else err says route_not_found or method_not_allowed (and
 * r->allow the methods the path takes), for admit() to return. */
struct pv_route;
struct pv_route_match;
int pv_httpd_route(struct pv_httpd_req *r, const struct pv_route *routes, size_t n,
                   struct pv_route_match *m, struct pv_error *err);

/* Stream the regular file at path (O_NOFOLLOW when nofollow), or answer
 * missing when it cannot be opened.  It carries an ETag of the file's inode,
 * size and mtime, and If-None-Match naming it is answered 304. */
enum MHD_Result pv_httpd_send_file(struct MHD_Connection *c, const char *path, int nofollow,
                                   const struct pv_httpd_header *extra,
                                   const struct pv_error *missing);
/* The same, saying in *status what was answered (200, 304, missing's). */
enum MHD_Result pv_httpd_send_file_status(struct MHD_Connection *c, const char *path,
                                          int nofollow, const struct pv_httpd_header *extra,
                                          const struct pv_error *missing, int *status);

/* {"error": {"code", "message", "details"}} with e's status; details stolen (NULL: {}). */
json_t *pv_httpd_error_body(const struct pv_error *e, json_t *details);
enum MHD_Result pv_httpd_send_error(struct MHD_Connection *c, const struct pv_error *e,
                                    json_t *details);

#endif
