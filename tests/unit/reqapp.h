/* reqapp.h -- a small app on lib/httpd that turns each request into the
 * daemon's struct pv_req, as server/http/http.c does, so the unit tests of
 * what reads requests (auth.c, sse.c) drive them with real HTTP on loopback
 * without the route table.  Paths:
 *   /public/...   no credentials asked
 *   anything else pv_auth_request() first (401/403 answered from admit)
 * and handle() runs the test's handler, then sends r's reply (or hands
 * r->stream, when the handler made one, to the test's stream_queue: sse.c's
 * pv_sse_queue). */
#ifndef PV_TEST_REQAPP_H
#define PV_TEST_REQAPP_H

#include "server/http/http.h"

/* Start on a free loopback port (with a thread pool: streams suspend);
 * 0 or -1.  handler answers every admitted request. */
int reqapp_start(void (*handler)(struct pv_req *r),
                 enum MHD_Result (*stream_queue)(struct MHD_Connection *c, void *stream), int *port);
void reqapp_stop(void);

#endif
