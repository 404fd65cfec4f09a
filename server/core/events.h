/* events.h -- what happened: state changes, alerts and the audit trail.
 * pv_event() records an event in the inventory and publishes it on the live
 * stream; pv_publish() sends a live-only update (job progress, an inventory
 * object that changed) that is not worth a row of its own.
 *
 * The live stream is the HTTP layer's (server/http/sse.c); core/ does not
 * know it.  main.c hands the publisher in once at start-up, before any
 * thread runs; until then (unit tests, tools) live updates go nowhere. */
#ifndef PV_EVENTS_H
#define PV_EVENTS_H

#include <jansson.h>

void pv_event(const char *object_type, const char *object_id, const char *severity,
              const char *actor, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* data is not stolen. */
void pv_publish(const char *type, const json_t *data);

typedef void (*pv_publisher_fn)(const char *type, const json_t *data);
void pv_events_set_publisher(pv_publisher_fn fn);

#endif
