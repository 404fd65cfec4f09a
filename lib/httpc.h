/* httpc.h -- one HTTP client session over libcurl, for the adapters.
 *
 * The kvm adapter (JSON to the agent) and the SOAP layer (vSphere, WS-Man)
 * each hold one struct pv_httpc per connection: one reused curl easy
 * handle, so TCP and TLS (and NTLM, when chosen) are set up once; connect
 * and total timeouts on every call; TLS verified against a pinned PEM, a CA
 * file or the system CAs, and skipped only with `insecure`; a cap on the
 * size of an answer, so a lying peer cannot fill our memory; an optional
 * session cookie kept from Set-Cookie and sent back as received.
 *
 * Idempotent calls (GET, HEAD, PUT, DELETE) are tried `retries` more times,
 * with back-off (100 ms, 400 ms, ...), when the peer could not be reached or
 * the connection broke; a POST is sent once.
 *
 * Errors are lib/errors.def codes about the transport only:
 * tls_verify_failed, timeout, peer_unreachable, bad_response (an answer over
 * the cap), out_of_memory.  Any HTTP status is a success of the transport:
 * what a 401 or a 500 means is the caller's protocol's to say.
 *
 * A session is used by one thread at a time (the ABI's rule for a
 * pv_conn); pv_httpc_transfer runs on a handle of its own.
 */
#ifndef PV_HTTPC_H
#define PV_HTTPC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "buf.h"
#include "errors.h"

struct pv_httpc_opts {
    const char *base_url;         /* http:// or https://; a call's path is appended */
    const char *const *headers;   /* extra request headers "Name: value", NULL-ended; copied */
    const char *username;         /* HTTP auth; NULL: none.  Never logged. */
    const char *password;
    int auth_ntlm;                /* with username: NTLM instead of Basic */
    int insecure;                 /* skip TLS verification: only when the user said so */
    const char *ca_pem;           /* pinned certificate or CA (PEM); wins over ca_file */
    const char *ca_file;          /* CA bundle file; NULL and no ca_pem: system CAs */
    int connect_timeout_ms;       /* 0: 5000 */
    int timeout_ms;               /* per call; 0: 30000 */
    size_t max_response;          /* 0: 64 MiB */
    const char *cookie_name;      /* a session cookie to keep; NULL: none */
    const char *user_agent;       /* NULL: "polyvisor/1" */
    int retries;                  /* idempotent calls: tries after the first (0-5) */
    int gzip;                     /* ask for gzip and inflate it */
    const char *peer;             /* who it is, in messages ("agent"); NULL: "endpoint" */
};

struct pv_httpc;

int pv_httpc_new(const struct pv_httpc_opts *o, struct pv_httpc **out, struct pv_error *err);
void pv_httpc_free(struct pv_httpc *h);   /* NULL: no-op; wipes the credentials */

/* One call: method on base_url + path (path NULL: base_url itself) with an
 * optional body (len bytes).  timeout_ms 0: the session's.  *status gets
 * the HTTP status, *body the answer (the caller's buffer, reset first). */
int pv_httpc_call(struct pv_httpc *h, const char *method, const char *path, const char *body,
                  size_t len, int timeout_ms, long *status, struct pv_buf *answer,
                  struct pv_error *err);

/* A streamed transfer on a handle of its own with the session's headers,
 * TLS and timeouts (a stalled copy -- under 1 KiB/s for 30 s -- ends):
 * download (upload NULL): GET path into `download`; upload: POST `size`
 * bytes of `upload` to path.  *status as pv_httpc_call. */
int pv_httpc_transfer(struct pv_httpc *h, const char *path, FILE *upload, int64_t size,
                      FILE *download, long *status, struct pv_error *err);

/* A long-lived GET (a server-sent event stream, for the CLI's --wait) on a
 * handle of its own with the session's headers and TLS, and no total
 * timeout (only a minute without a byte ends it, as `timeout`):
 * fn(ctx, status, NULL, 0) once when the answer's headers are in,
 * then fn(ctx, status, data, len) for each piece of the body as it arrives.
 * fn returns 0 to go on, non-zero to end the transfer.  0 when the peer
 * closed the stream or fn ended it; a transport error otherwise. */
typedef int (*pv_httpc_stream_fn)(void *ctx, long status, const char *data, size_t len);
int pv_httpc_stream(struct pv_httpc *h, const char *path, pv_httpc_stream_fn fn, void *ctx,
                    struct pv_error *err);

/* The session cookie, "name=value" as received, or "" */
const char *pv_httpc_cookie(const struct pv_httpc *h);
void pv_httpc_forget_cookie(struct pv_httpc *h);
/* Find cookie `name` in one Set-Cookie header line (quoted or not, with or
 * without attributes); 1 and "name=value" in out when found. */
int pv_httpc_parse_set_cookie(const char *line, size_t len, const char *name, char *out,
                              size_t size);

/* s with every byte outside [A-Za-z0-9-._~] %-encoded; malloc'd, NULL on
 * failed allocation. */
char *pv_httpc_escape(const char *s);

#endif
