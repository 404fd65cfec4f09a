/* conns.h -- live connections to endpoints, and the sink that turns what
 * adapters report into inventory.
 *
 * Each stored connection gets a `live` record: the adapter, its parameters
 * (credentials unsealed in memory only), a small pool of adapter handles so
 * several jobs can call one endpoint at once (a handle is used by one thread
 * at a time, as the ABI requires), and a monitor thread that keeps the
 * inventory current: a full sync when it (re)connects, then the adapter's
 * watch() for changes (or a periodic re-sync when the adapter has no
 * events).  When the endpoint stops answering, the connection turns
 * `disconnected` and its hosts too (ha.c decides when a host has failed);
 * when it answers again they come back.
 */
#ifndef PV_CONNS_H
#define PV_CONNS_H

#include "adapters/adapter.h"

struct pv_job_run;
struct live;

struct pv_handle {
    const struct pv_adapter *a;
    struct pv_conn *conn;
    struct live *live;
    char conn_id[64];
    char vendor[16];
};

/* The longest wait between reconnect attempts (1 to 30 s; before start). */
void pv_conns_set_retry_max(int seconds);
/* What the sink asks about fenced copies of VMs (server/ha/fence.c; main.c
 * hands it in before pv_conns_start, so inventory/ does not know HA).
 * reported: 1 when native_id is a fenced copy whose report must not touch
 * the inventory; gone: 1 when a vanished native_id was such a copy.  Either
 * may be NULL. */
struct pv_conns_fencing {
    int (*reported)(const char *conn_id, const char *native_id);
    int (*gone)(const char *conn_id, const char *native_id);
};
void pv_conns_set_fencing(const struct pv_conns_fencing *f);
/* Start monitors for every stored connection. */
int pv_conns_start(void);
void pv_conns_stop(void);

/* Borrow a handle on connection conn_id (opening it if needed). */
int pv_conns_acquire(const char *conn_id, struct pv_handle *h, struct pv_error *err);
/* broken: the handle failed in a way that makes it unusable; close it. */
void pv_conns_release(struct pv_handle *h, int broken);

/* A sink that writes to the inventory of h's connection; job may be NULL.
 * ctx must stay alive while the sink is used. */
#define PV_SINK_SEEN 4
struct pv_sink_ctx {
    char conn_id[64];
    char vendor[16];
    const char *source;            /* "event" or "poll" */
    struct pv_job_run *job;
    int batch;                     /* reports in the open batch of a sync; -1: no batch */
    int nseen;                     /* the first PV_SINK_SEEN VMs reported through it */
    char seen[PV_SINK_SEEN][128];
};
void pv_conns_sink(struct pv_sink *s, struct pv_sink_ctx *ctx, const struct pv_handle *h,
                   struct pv_job_run *job);

/* 0 when h's adapter has capability cap and the call fn; else the error
 * unsupported_by_backend (the daemon never calls a NULL pointer). */
int pv_conns_need(const struct pv_handle *h, uint64_t cap, void *fn, struct pv_error *err);
/* Ask the adapter for one VM's state and store it (no-op without vm_refresh). */
void pv_conns_refresh(struct pv_handle *h, const char *native_id, struct pv_job_run *run);
/* After a call that changed VM native_id through sink context ctx (made for
 * h): ask for its state once, unless the call already reported it (the ABI's
 * rule: the reply carries the VM's state, or the daemon asks -- never both). */
void pv_conns_settle(struct pv_handle *h, const struct pv_sink_ctx *ctx, const char *native_id,
                     struct pv_job_run *run);

/* Full sync of one connection into the inventory (removes what is gone),
 * updating the connection's state; then makes sure its monitor runs. */
int pv_conns_sync(const char *conn_id, struct pv_job_run *job, struct pv_error *err);
/* Stop the monitor and close handles (before the connection is deleted). */
void pv_conns_forget(const char *conn_id);

#endif
