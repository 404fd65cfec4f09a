/* loopback.h -- what the unit tests of HTTP-facing modules (lib/httpd, auth,
 * sse) share: a lib/httpd server started on 127.0.0.1 on a free port, and a
 * plain-socket HTTP/1.1 client that sends the bytes it is given (so a test can
 * send what a well-behaved client library never would: a lying
 * Content-Length, a huge URL) and reads the reply to the end. */
#ifndef PV_TEST_LOOPBACK_H
#define PV_TEST_LOOPBACK_H

#include <stddef.h>
#include "lib/httpd.h"

struct lb_reply {
    int status;
    char head[8192];        /* status line and headers, NUL-terminated */
    char *body;             /* malloc'd, NUL-terminated */
    size_t body_len;
};

/* Start o on 127.0.0.1 on a port nobody holds (o->host and o->port are set
 * here); 0 or the error of the last try. */
int lb_start(struct pv_httpd_opts *o, struct pv_httpd **out, struct pv_error *err);
/* A connected socket to 127.0.0.1:port, or -1. */
int lb_connect(int port);
/* Send raw (whole) on a new connection and read the reply until the server
 * closes or the reply's Content-Length is in; 0 or -1. */
int lb_request(int port, const char *raw, struct lb_reply *rep);
/* Read one reply from fd (which stays open); 0 or -1. */
int lb_read_reply(int fd, struct lb_reply *rep);
/* The value of header name in rep, into buf ("" and NULL when absent). */
const char *lb_header(const struct lb_reply *rep, const char *name, char *buf, size_t size);
void lb_reply_free(struct lb_reply *rep);

#endif
