/* sse.h -- live updates as server-sent events (GET /api/v1/events/stream).
 *
 * One in-memory bus: a ring of the last messages, each with a sequence
 * number that is also its SSE id, so a client that reconnects with
 * Last-Event-ID misses nothing that is still in the ring.  A stream with
 * nothing to send suspends its MHD connection instead of blocking a pool
 * thread; a publish resumes every suspended stream.
 */
#ifndef PV_SSE_H
#define PV_SSE_H

#include <jansson.h>
#include <microhttpd.h>

struct pv_req;

/* Publish `data` (not stolen) as an event of `type` to every stream. */
void pv_sse_publish(const char *type, const json_t *data);
/* Make r a stream (the handler of GET /api/v1/events/stream). */
void pv_sse_attach(struct pv_req *r);
enum MHD_Result pv_sse_queue(struct MHD_Connection *conn, void *stream);
int pv_sse_start(void);
void pv_sse_shutdown(void);
int pv_sse_clients(void);
/* Let every stream run now (it re-checks its token: after a logout). */
void pv_sse_wake(void);

#endif
