/* http.h -- the HTTP front: libmicrohttpd with its internal epoll thread
 * pool, request bodies with a hard size limit, JSON replies, the error body
 * of DESIGN.md, static files of the web console.
 *
 * A handler gets a struct pv_req whose body is complete, whose path
 * parameters are filled, and whose caller is authenticated as the route
 * demands.  It answers with exactly one pv_reply_* call; a handler that
 * forgets to answer produces a 500 rather than a hung connection.
 */
#ifndef PV_HTTP_H
#define PV_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include "adapters/adapter.h"
#include "server/core/config.h"
#include "lib/router.h"

/* The daemon's route table (routes.c). */
extern const struct pv_route pv_routes[];
extern const size_t pv_nroutes;

struct MHD_Connection;

struct pv_req {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body;          /* NUL-terminated; NULL when there is none */
    size_t body_len;
    const char *params[PV_ROUTE_MAX_PARAMS];
    size_t nparams;
    char user[64];
    char role[16];
    char token_hash[65];       /* SHA-256 of the request's token, "" none */
    const char *client;        /* the client's address (borrowed from lib/httpd) */
    int64_t start_ms;
    /* the reply */
    int status;
    json_t *json;
    char *text;                /* a non-JSON body (malloc'd), e.g. /metrics */
    const char *content_type;  /* of text */
    char location[256];
    char allow[96];
    char set_cookie[256];      /* a Set-Cookie header for the reply, "" none */
    int retry_after;           /* seconds for a Retry-After header, 0 none */
    void *stream;              /* an SSE stream (sse.c) instead of a body */
    int suspended;             /* the handler parked the connection (jobwait.c): no reply
                                  now; the handler runs again when it is resumed */
    int64_t wait_until_ms;     /* a long poll's deadline (pv_now_ms), 0: none yet */
};

int pv_http_start(const struct pv_config *cfg, struct pv_error *err);
void pv_http_stop(void);

const char *pv_req_query(struct pv_req *r, const char *key);
const char *pv_req_header(struct pv_req *r, const char *key);
/* The client's address (numeric), into buf; "unknown" when it cannot tell. */
const char *pv_req_client(struct pv_req *r, char *buf, size_t size);
const char *pv_req_cookie(struct pv_req *r, const char *name);
/* 1 when the daemon serves HTTPS (cookies are then marked Secure). */
int pv_http_is_tls(void);
/* The body as a JSON object.  Errors: missing_body, invalid_utf8,
 * invalid_json (with line and column), not_an_object. */
int pv_req_body(struct pv_req *r, json_t **out, struct pv_error *err);

/* Reply with text (stolen) of the given content type. */
void pv_reply_text(struct pv_req *r, int status, char *text, const char *content_type);
/* Reply with body (stolen); status 204 takes NULL. */
void pv_reply_json(struct pv_req *r, int status, json_t *body);
/* Reply with the error body; the status follows e->err. */
void pv_reply_error(struct pv_req *r, const struct pv_error *e);
void pv_reply_error_details(struct pv_req *r, const struct pv_error *e, json_t *details);
/* 202 Accepted, Location: /api/v1/jobs/ID, body: the job. */
void pv_reply_job(struct pv_req *r, const char *job_id);

#endif
