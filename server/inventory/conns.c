/* conns.c -- live connections and the inventory sink (see conns.h).
 *
 * live_lock guards the list of live records and each record's handle pool,
 * refcount and flags.  Adapter calls (open, sync, watch ...) are never made
 * while holding it, since they block on the network.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "db/db.h"
#include "server/inventory/conns.h"
#include "server/inventory/devices.h"
#include "server/core/events.h"
#include "server/jobs/jobs.h"
#include "server/core/log.h"
#include "server/inventory/plugins.h"
#include "server/core/secret.h"
#include "server/core/util.h"

#define POOL_MAX 4
#define WATCH_TIMEOUT_MS 1000
#define POLL_INTERVAL_S 30
#define BACKOFF_MAX_S 30

/* Start-up configuration: the longest wait between reconnect attempts.  It
 * stays well under host_failure_timeout, so a host that comes back (a
 * restarted agent) is seen before HA would call it failed. */
static int retry_max_s = BACKOFF_MAX_S;

struct live {
    char id[64];
    char type[16];
    const struct pv_adapter *a;
    struct pv_conn_params params;   /* strings owned */
    struct pv_conn *pool[POOL_MAX]; /* idle handles */
    int npool;
    int refs;                       /* list + borrowed handles + monitor */
    int stop;
    int monitoring;
    int sync_first;                 /* the monitor starts with a full sync */
    pthread_t monitor;
    pthread_cond_t wake;
    struct live *next;
};

static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static struct live *lives;          /* guarded by live_lock */

static void params_free(struct pv_conn_params *p)
{
    free((char *)p->url);
    free((char *)p->username);
    pv_secret_free((char *)p->password);
    pv_secret_free((char *)p->token);
    free((char *)p->ca_pem);
    memset(p, 0, sizeof *p);
}

static void live_unref_locked(struct live *l)
{
    if (--l->refs > 0)
        return;
    for (int i = 0; i < l->npool; i++)
        l->a->close(l->pool[i]);
    params_free(&l->params);
    pthread_cond_destroy(&l->wake);
    free(l);
}

/* Build a live record from the stored connection (not yet listed). */
static struct live *live_load(const char *id, struct pv_error *err)
{
    struct pv_db_connection *row = NULL;
    struct live *l = NULL;
    char *plain = NULL;
    json_t *cred = NULL;

    if (pv_db_connection_load(id, &row, err))
        return NULL;
    const struct pv_adapter *a = pv_plugins_find(row->type);
    if (!a) {
        pv_fail(err, unsupported_by_backend,
                     "no adapter for connection type '%s' is loaded", row->type);
        goto out;
    }
    if (row->secret && pv_secret_open(row->secret, row->secret_len, &plain, err))
        goto out;
    if (plain)
        cred = json_loads(plain, 0, NULL);
    l = calloc(1, sizeof *l);
    if (!l) {
        pv_fail(err, out_of_memory, "out of memory");
        goto out;
    }
    snprintf(l->id, sizeof l->id, "%s", row->id);
    snprintf(l->type, sizeof l->type, "%s", row->type);
    l->a = a;
    l->params.url = strdup(row->url);
    l->params.username = row->username ? strdup(row->username) : NULL;
    if (json_is_string(json_object_get(cred, "password")))
        l->params.password = strdup(json_string_value(json_object_get(cred, "password")));
    if (json_is_string(json_object_get(cred, "token")))
        l->params.token = strdup(json_string_value(json_object_get(cred, "token")));
    if (json_is_string(json_object_get(cred, "ca_cert")))
        l->params.ca_pem = strdup(json_string_value(json_object_get(cred, "ca_cert")));
    l->params.insecure = row->insecure;
    l->params.timeout_ms = 30000;
    l->refs = 1;
    pthread_cond_init(&l->wake, NULL);
out:
    if (cred) {
        json_t *v;
        const char *k;
        json_object_foreach(cred, k, v)
            if (json_is_string(v))
                json_string_set(v, "");
        json_decref(cred);
    }
    pv_secret_free(plain);
    pv_db_connection_free(row);
    return l;
}

/* Find or create the live record; returns it with a reference taken. */
static struct live *live_get(const char *id, struct pv_error *err)
{
    struct live *l, *fresh;

    pthread_mutex_lock(&live_lock);
    for (l = lives; l; l = l->next)
        if (strcmp(l->id, id) == 0 && !l->stop) {
            l->refs++;
            pthread_mutex_unlock(&live_lock);
            return l;
        }
    pthread_mutex_unlock(&live_lock);
    fresh = live_load(id, err);
    if (!fresh)
        return NULL;
    pthread_mutex_lock(&live_lock);
    for (l = lives; l; l = l->next)
        if (strcmp(l->id, id) == 0 && !l->stop)
            break;
    if (l) { /* another thread won the race */
        l->refs++;
        live_unref_locked(fresh);
    } else {
        l = fresh;
        l->next = lives;
        lives = l;
        l->refs++; /* one for the list, one for the caller */
    }
    pthread_mutex_unlock(&live_lock);
    return l;
}

static void live_put(struct live *l)
{
    pthread_mutex_lock(&live_lock);
    live_unref_locked(l);
    pthread_mutex_unlock(&live_lock);
}

/* A connection's state after a failure: a peer that does not answer is
 * disconnected (it may come back by itself); one that refuses us is
 * auth_failed; anything else is an error to look at. */
static const char *state_for(int err)
{
    return err == PV_EAUTH ? "auth_failed" : err == PV_EUNREACHABLE ? "disconnected" : "error";
}

int pv_conns_acquire(const char *conn_id, struct pv_handle *h, struct pv_error *err)
{
    struct live *l = live_get(conn_id, err);
    struct pv_conn *c = NULL;
    int rc;

    memset(h, 0, sizeof *h);
    if (!l)
        return err && err->err ? err->err : PV_EINTERNAL;
    pthread_mutex_lock(&live_lock);
    if (l->npool)
        c = l->pool[--l->npool];
    pthread_mutex_unlock(&live_lock);
    if (!c) {
        rc = l->a->open(&l->params, &c, err);
        if (rc) {
            pv_db_connection_set_state(l->id, state_for(rc), err ? err->message : "open failed");
            live_put(l);
            return rc;
        }
    }
    h->a = l->a;
    h->conn = c;
    h->live = l;
    snprintf(h->conn_id, sizeof h->conn_id, "%s", l->id);
    snprintf(h->vendor, sizeof h->vendor, "%s", l->type);
    return 0;
}

void pv_conns_release(struct pv_handle *h, int broken)
{
    struct live *l = h->live;

    if (!l)
        return;
    pthread_mutex_lock(&live_lock);
    if (!broken && !l->stop && l->npool < POOL_MAX) {
        l->pool[l->npool++] = h->conn;
        h->conn = NULL;
    }
    pthread_mutex_unlock(&live_lock);
    if (h->conn)
        l->a->close(h->conn);
    live_put(l);
    memset(h, 0, sizeof *h);
}

/* ---- the sink ----------------------------------------------------------- */

static void sink_cluster(void *ctx, const struct pv_cluster_info *c)
{
    struct pv_sink_ctx *s = ctx;
    char id[64];

    pv_id_new(id, "cl");
    if (pv_db_cluster_upsert(s->conn_id, s->vendor, id, c, NULL))
        pv_log(PV_LOG_WARN, "inventory", "event=cluster_write_failed conn=%s", s->conn_id);
}

static void sink_host(void *ctx, const struct pv_host_info *h)
{
    struct pv_sink_ctx *s = ctx;
    struct pv_db_host_ref before, after;
    int known;
    char id[64];

    pv_id_new(id, "host");
    known = pv_db_host_ref_native(s->conn_id, h->native_id, &before) == 0;
    if (pv_db_host_upsert(s->conn_id, s->vendor, id, h, s->source, NULL)) {
        pv_log(PV_LOG_WARN, "inventory", "event=host_write_failed conn=%s", s->conn_id);
        return;
    }
    if (pv_db_host_ref_native(s->conn_id, h->native_id, &after) != 0)
        return;
    if (!known)
        pv_event("host", after.id, "info", NULL, "host %s added (%s)", after.name, s->vendor);
    else if (strcmp(before.state, after.state) != 0)
        pv_event("host", after.id, strcmp(after.state, "connected") == 0 ? "info" : "warning",
                 NULL, "host %s is %s (was %s)", after.name, after.state, before.state);
    if (!known || strcmp(before.state, after.state) != 0) {
        json_t *j = json_pack("{s:s,s:s,s:s}", "id", after.id, "name", after.name, "state",
                              after.state);
        pv_publish("host", j);
        json_decref(j);
    }
}

static void sink_pool(void *ctx, const struct pv_pool_info *p)
{
    struct pv_sink_ctx *s = ctx;
    struct pv_error e = {0};
    char new_id[64], id[64];

    if (!p->native_id || !*p->native_id)
        return;
    pv_id_new(new_id, "pool");
    if (pv_db_pool_upsert(s->conn_id, s->vendor, new_id, p, id, &e)) {
        pv_log(PV_LOG_WARN, "inventory", "event=pool_write_failed conn=%s error=\"%s\"", s->conn_id,
               e.message);
        return;
    }
    if (strcmp(id, new_id) == 0)
        pv_event("storage_pool", id, "info", NULL, "storage pool %s added (%s)",
                 p->name ? p->name : p->native_id, s->vendor);
}

static void sink_network(void *ctx, const struct pv_network_info *n)
{
    struct pv_sink_ctx *s = ctx;
    struct pv_error e = {0};
    char new_id[64], id[64];

    if (!n->native_id || !*n->native_id)
        return;
    pv_id_new(new_id, "net");
    if (pv_db_network_upsert(s->conn_id, s->vendor, new_id, n, id, &e)) {
        pv_log(PV_LOG_WARN, "inventory", "event=network_write_failed conn=%s error=\"%s\"", s->conn_id,
               e.message);
        return;
    }
    if (strcmp(id, new_id) == 0)
        pv_event("network", id, "info", NULL, "network %s added (%s)",
                 n->name ? n->name : n->native_id, s->vendor);
}

static struct pv_conns_fencing fencing; /* start-up configuration */

void pv_conns_set_fencing(const struct pv_conns_fencing *f)
{
    fencing = *f;
}

/* A full sync writes its reports in batches, each one transaction: one
 * transaction per report was most of a large sync's time.  Live updates and
 * jobs that the reports cause wait for their batch's commit
 * (pv_db_after_commit). */
#define SYNC_BATCH 256

static void batch_tick(struct pv_sink_ctx *s)
{
    if (s->batch < 0 || ++s->batch < SYNC_BATCH)
        return;
    if (pv_db_commit(NULL) != 0) {
        pv_db_rollback();
        s->batch = -1;
        return;
    }
    s->batch = pv_db_begin(NULL) == 0 ? 0 : -1;
}

static void batch_end(struct pv_sink_ctx *s)
{
    if (s->batch >= 0 && pv_db_commit(NULL) != 0)
        pv_db_rollback();
    s->batch = -1;
}

/* Remember that the call this sink serves reported native_id. */
static void seen(struct pv_sink_ctx *s, const char *native_id)
{
    if (s->nseen < PV_SINK_SEEN && native_id && strlen(native_id) < sizeof s->seen[0])
        strcpy(s->seen[s->nseen++], native_id);
}

static void sink_vm(void *ctx, const struct pv_vm_info *v_in)
{
    struct pv_sink_ctx *s = ctx;
    struct pv_db_vm_ref ref;
    struct pv_vm_info vi = *v_in, *v = &vi;
    char id[64], old[16];
    char *disks = pv_devices_reported(s->conn_id, 0, v_in->disks_json);
    char *nics = pv_devices_reported(s->conn_id, 1, v_in->nics_json);

    if (disks)
        vi.disks_json = disks;
    if (nics)
        vi.nics_json = nics;
    seen(s, v->native_id);
    batch_tick(s);
    if (fencing.reported && fencing.reported(s->conn_id, v->native_id))
        goto out; /* a stale copy of a VM HA restarted elsewhere: being removed */
    pv_id_new(id, "vm");
    if (pv_db_vm_upsert(s->conn_id, s->vendor, id, v, s->source, old, NULL)) {
        pv_log(PV_LOG_WARN, "inventory", "event=vm_write_failed conn=%s", s->conn_id);
        goto out;
    }
    if (pv_db_vm_ref_native(s->conn_id, v->native_id, &ref) != 0)
        goto out;
    if (!old[0])
        pv_event("vm", ref.id, "info", NULL, "vm %s appeared on %s", ref.name, s->vendor);
    else if (strcmp(old, ref.power_state) != 0)
        pv_event("vm", ref.id, "info", NULL, "vm %s is %s (was %s)", ref.name, ref.power_state,
                 old);
    if (!old[0] || strcmp(old, ref.power_state) != 0 || strcmp(s->source, "event") == 0) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:s?}", "id", ref.id, "name", ref.name, "power_state",
                              ref.power_state, "host_id", ref.host_id[0] ? ref.host_id : NULL);
        pv_publish("vm", j);
        json_decref(j);
    }
out:
    free(disks);
    free(nics);
}

static void sink_vm_gone(void *ctx, const char *native_id)
{
    struct pv_sink_ctx *s = ctx;
    struct pv_db_vm_ref ref;
    char id[64];

    seen(s, native_id);
    if (fencing.gone && fencing.gone(s->conn_id, native_id))
        return; /* a fenced stale copy: the VM runs elsewhere */
    if (pv_db_vm_ref_native(s->conn_id, native_id, &ref) != 0)
        return;
    pv_db_vm_gone(s->conn_id, native_id, id);
    if (id[0]) {
        json_t *j = json_pack("{s:s,s:s,s:b}", "id", id, "name", ref.name, "deleted", 1);
        pv_event("vm", id, "info", NULL, "vm %s is gone from %s", ref.name, s->vendor);
        pv_publish("vm", j);
        json_decref(j);
    }
}

static void sink_progress(void *ctx, int percent, const char *detail)
{
    struct pv_sink_ctx *s = ctx;
    if (s->job)
        pv_job_progress(s->job, percent, detail);
}

static int sink_cancelled(void *ctx)
{
    struct pv_sink_ctx *s = ctx;
    return s->job ? pv_job_cancelled(s->job) : 0;
}

void pv_conns_sink(struct pv_sink *s, struct pv_sink_ctx *ctx, const struct pv_handle *h,
                   struct pv_job_run *job)
{
    memset(ctx, 0, sizeof *ctx);
    snprintf(ctx->conn_id, sizeof ctx->conn_id, "%s", h->conn_id);
    snprintf(ctx->vendor, sizeof ctx->vendor, "%s", h->vendor);
    ctx->source = "poll";
    ctx->job = job;
    ctx->batch = -1;
    ctx->nseen = 0;
    s->ctx = ctx;
    s->cluster = sink_cluster;
    s->host = sink_host;
    s->pool = sink_pool;
    s->network = sink_network;
    s->vm = sink_vm;
    s->vm_gone = sink_vm_gone;
    s->progress = sink_progress;
    s->cancelled = sink_cancelled;
}

int pv_conns_need(const struct pv_handle *h, uint64_t cap, void *fn, struct pv_error *err)
{
    if ((h->a->caps & cap) && fn)
        return 0;
    return pv_fail(err, unsupported_by_backend,
                        "the %s adapter cannot %s", h->a->name, pv_cap_name(cap));
}

void pv_conns_refresh(struct pv_handle *h, const char *native_id, struct pv_job_run *run)
{
    struct pv_sink sink;
    struct pv_sink_ctx ctx;

    if (!h->a->vm_refresh)
        return;
    pv_conns_sink(&sink, &ctx, h, run);
    h->a->vm_refresh(h->conn, native_id, &sink, NULL);
}

void pv_conns_settle(struct pv_handle *h, const struct pv_sink_ctx *ctx, const char *native_id,
                     struct pv_job_run *run)
{
    if (!native_id)
        return;
    if (ctx && strcmp(ctx->conn_id, h->conn_id) == 0)
        for (int i = 0; i < ctx->nseen; i++)
            if (strcmp(ctx->seen[i], native_id) == 0)
                return; /* the call reported it */
    pv_conns_refresh(h, native_id, run);
}

/* ---- sync and monitor --------------------------------------------------- */

static void mark_down(const char *conn_id, int rc, const char *why)
{
    pv_db_connection_set_state(conn_id, state_for(rc), why);
    pv_db_hosts_set_state(conn_id, "disconnected");
}

static int sync_with(struct pv_handle *h, struct pv_job_run *job, struct pv_error *err)
{
    struct pv_sink sink;
    struct pv_sink_ctx ctx;
    char since[32];
    int rc;

    if (!h->a->sync || !(h->a->caps & PV_CAP_SYNC))
        return pv_fail(err, unsupported_by_backend,
                            "adapter '%s' cannot sync", h->a->name);
    pv_conns_sink(&sink, &ctx, h, job);
    pv_db_now(since);
    ctx.batch = pv_db_begin(NULL) == 0 ? 0 : -1;
    rc = h->a->sync(h->conn, &sink, err);
    batch_end(&ctx); /* what was read stands, also when the sync broke off */
    if (rc)
        return rc;
    return pv_db_prune_unseen(h->conn_id, since, err);
}

static int ensure_monitor(const char *conn_id);

int pv_conns_sync(const char *conn_id, struct pv_job_run *job, struct pv_error *err)
{
    struct pv_handle h;
    int rc = pv_conns_acquire(conn_id, &h, err);

    if (rc) {
        mark_down(conn_id, rc, err ? err->message : "cannot connect");
        return rc;
    }
    rc = sync_with(&h, job, err);
    if (rc)
        mark_down(conn_id, rc, err ? err->message : "sync failed");
    else
        pv_db_connection_set_state(conn_id, "connected", NULL);
    pv_conns_release(&h, rc == PV_EUNREACHABLE);
    if (!rc)
        ensure_monitor(conn_id);
    return rc;
}

/* Sleep up to s seconds unless the record is stopped; returns l->stop. */
static int nap(struct live *l, int s)
{
    struct timespec ts;
    int stop;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += s;
    pthread_mutex_lock(&live_lock);
    if (!l->stop)
        pthread_cond_timedwait(&l->wake, &live_lock, &ts);
    stop = l->stop;
    pthread_mutex_unlock(&live_lock);
    return stop;
}

static void *monitor_main(void *arg)
{
    struct live *l = arg;
    struct pv_handle h = {0};
    int need_sync = l->sync_first, down = 0, backoff = 1;
    time_t last_sync = time(NULL);

    while (!l->stop) {
        struct pv_error e = {0};
        int rc = 0;

        if (!h.conn) {
            rc = pv_conns_acquire(l->id, &h, &e);
            if (rc)
                goto failed;
        }
        if (need_sync || (!(l->a->caps & PV_CAP_EVENTS) && time(NULL) - last_sync >= POLL_INTERVAL_S)) {
            rc = sync_with(&h, NULL, &e);
            if (rc)
                goto failed;
            last_sync = time(NULL);
            need_sync = 0;
        }
        if (down) {
            pv_db_connection_set_state(l->id, "connected", NULL);
            pv_event("connection", l->id, "info", NULL, "connection %s answers again", l->id);
            down = 0;
        }
        backoff = 1;
        if ((l->a->caps & PV_CAP_EVENTS) && l->a->watch) {
            struct pv_sink sink;
            struct pv_sink_ctx ctx;
            pv_conns_sink(&sink, &ctx, &h, NULL);
            ctx.source = "event";
            rc = l->a->watch(h.conn, &sink, WATCH_TIMEOUT_MS, &e);
            if (rc)
                goto failed;
        } else if (nap(l, 1)) {
            break;
        }
        continue;
failed:
        if (!down) {
            mark_down(l->id, rc, e.message);
            pv_event("connection", l->id, "error", NULL, "connection %s: %s", l->id, e.message);
            down = 1;
        }
        if (h.conn)
            pv_conns_release(&h, 1);
        need_sync = 1;
        if (nap(l, backoff))
            break;
        backoff = backoff * 2 > retry_max_s ? retry_max_s : backoff * 2;
    }
    if (h.conn)
        pv_conns_release(&h, 0);
    live_put(l);
    return NULL;
}

static int start_monitor(struct live *l, int need_sync)
{
    int rc = 0;

    pthread_mutex_lock(&live_lock);
    if (!l->monitoring && !l->stop) {
        l->sync_first = need_sync;
        l->refs++;
        if (pthread_create(&l->monitor, NULL, monitor_main, l) == 0) {
            l->monitoring = 1;
        } else {
            l->refs--;
            rc = PV_EINTERNAL;
        }
    }
    pthread_mutex_unlock(&live_lock);
    return rc;
}

static int ensure_monitor(const char *conn_id)
{
    struct pv_error e = {0};
    struct live *l = live_get(conn_id, &e);
    int rc;

    if (!l)
        return e.err;
    rc = start_monitor(l, 0);
    live_put(l);
    return rc;
}

void pv_conns_set_retry_max(int seconds)
{
    retry_max_s = seconds < 1 ? 1 : seconds > BACKOFF_MAX_S ? BACKOFF_MAX_S : seconds;
}

int pv_conns_start(void)
{
    json_t *ids = pv_db_connection_ids();
    size_t i;
    json_t *v;

    json_array_foreach(ids, i, v) {
        struct pv_error e = {0};
        struct live *l = live_get(json_string_value(v), &e);
        if (!l) {
            pv_db_connection_set_state(json_string_value(v), "error", e.message);
            pv_log(PV_LOG_WARN, "conns", "event=cannot_monitor conn=%s code=%s",
                   json_string_value(v), e.code);
            continue;
        }
        start_monitor(l, 1);
        live_put(l);
    }
    json_decref(ids);
    return 0;
}

/* Take l off the list and tell its monitor to stop; the list's reference
 * passes to the caller, who hands it to finish_stop().  Caller holds
 * live_lock. */
static void unlist_locked(struct live *l)
{
    for (struct live **pp = &lives; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    l->stop = 1;
    pthread_cond_broadcast(&l->wake);
}

static void finish_stop(struct live *l)
{
    pthread_t t;
    int monitoring;

    pthread_mutex_lock(&live_lock);
    t = l->monitor;
    monitoring = l->monitoring;
    pthread_mutex_unlock(&live_lock);
    if (monitoring)
        pthread_join(t, NULL);
    live_put(l);
}

void pv_conns_forget(const char *conn_id)
{
    struct live *l;

    pthread_mutex_lock(&live_lock);
    for (l = lives; l; l = l->next)
        if (strcmp(l->id, conn_id) == 0)
            break;
    if (l)
        unlist_locked(l);
    pthread_mutex_unlock(&live_lock);
    if (l)
        finish_stop(l);
}

void pv_conns_stop(void)
{
    for (;;) {
        struct live *l;
        pthread_mutex_lock(&live_lock);
        l = lives;
        if (l)
            unlist_locked(l);
        pthread_mutex_unlock(&live_lock);
        if (!l)
            break;
        finish_stop(l);
    }
}
