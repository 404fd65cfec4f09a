/* events.c -- see events.h. */
#include <stdarg.h>
#include <stdio.h>
#include "db/db.h"
#include "server/core/events.h"
#include "server/core/log.h"
#include "server/core/util.h"

static pv_publisher_fn publisher; /* start-up configuration */

void pv_events_set_publisher(pv_publisher_fn fn)
{
    publisher = fn;
}

void pv_event(const char *object_type, const char *object_id, const char *severity,
              const char *actor, const char *fmt, ...)
{
    char msg[512], id[64], now[32];
    va_list ap;
    json_t *ev;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pv_id_new(id, "ev");
    if (pv_db_event_insert(id, object_type, object_id, severity, msg, actor) != 0)
        pv_log(PV_LOG_WARN, "events", "event=insert_failed object=%s", object_id ? object_id : "-");
    ev = json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:s,s:s?}", "id", id, "time", pv_db_now(now),
                   "object_type", object_type, "object_id", object_id, "severity", severity,
                   "message", msg, "actor", actor);
    if (ev) {
        pv_publish("event", ev);
        json_decref(ev);
    }
}

struct deferred {
    char type[32];
    json_t *data;
};

static void publish_committed(void *arg, int committed)
{
    struct deferred *d = arg;

    if (committed && publisher)
        publisher(d->type, d->data);
    json_decref(d->data);
    free(d);
}

/* A live update goes out once what it tells of is committed, so a client
 * that reads on it finds it (inside a sync's batch, at the batch's end). */
void pv_publish(const char *type, const json_t *data)
{
    struct deferred *d;

    if (!publisher)
        return;
    if (!pv_db_in_transaction()) {
        publisher(type, data);
        return;
    }
    d = malloc(sizeof *d);
    if (!d) {
        publisher(type, data);
        return;
    }
    snprintf(d->type, sizeof d->type, "%s", type);
    d->data = json_deep_copy(data);
    if (!d->data) {
        free(d);
        publisher(type, data);
        return;
    }
    pv_db_after_commit(publish_committed, d);
}
