/* snapshot.c -- see snapshot.h.  The shared snapshots are guarded by
 * cache_lock: the current one, and older ones still held by callers (freed
 * by the last pv_snapshot_put). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/inventory/plugins.h"
#include "server/inventory/snapshot.h"

struct loader {
    struct pv_pl_inv *inv;
    int cap_groups, cap_hosts, cap_vms, cap_places;
    char (*parent_ids)[64];       /* per group, "" for roots */
    json_t **policies;            /* per group, its own policy object */
    int failed;
};

static int grow(void **arr, int *cap, int n, size_t elem)
{
    if (n < *cap)
        return 0;
    int ncap = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (!p)
        return -1;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
    *arr = p;
    *cap = ncap;
    return 0;
}

static void copy(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;

    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
}

/* A tag or set list; NULL for an empty one, which is nearly every VM's, so
 * loading 100,000 VMs does not build 300,000 empty arrays. */
static json_t *string_array(const char *text)
{
    json_t *a;

    if (!text || strcmp(text, "[]") == 0)
        return NULL;
    a = json_loads(text, 0, NULL);
    if (!json_is_array(a) || json_array_size(a) == 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static void on_group(void *ctx, const struct pv_db_pl_group *g)
{
    struct loader *L = ctx;
    struct pv_pl_inv *inv = L->inv;
    int old_cap = L->cap_groups;

    if (L->failed || grow((void **)&inv->groups, &L->cap_groups, inv->ngroups, sizeof *inv->groups))
        goto oom;
    if (L->cap_groups != old_cap) { /* the per-group side arrays grow alongside */
        void *p = realloc(L->parent_ids, (size_t)L->cap_groups * sizeof(char[64]));
        if (p)
            L->parent_ids = p;
        p = p ? realloc(L->policies, (size_t)L->cap_groups * sizeof(json_t *)) : NULL;
        if (!p)
            goto oom;
        L->policies = p;
    }
    copy(inv->groups[inv->ngroups].id, 64, g->id);
    copy(inv->groups[inv->ngroups].name, 128, g->name);
    copy(L->parent_ids[inv->ngroups], 64, g->parent_id);
    L->policies[inv->ngroups] = g->policy_json ? json_loads(g->policy_json, 0, NULL) : NULL;
    inv->ngroups++;
    return;
oom:
    L->failed = 1;
}

static int by_group_id(const void *key, const void *elem)
{
    return strcmp(key, ((const struct pv_pl_group *)elem)->id);
}

static int by_host_id(const void *key, const void *elem)
{
    return strcmp(key, ((const struct pv_pl_host *)elem)->id);
}

static int group_index(const struct pv_pl_inv *inv, const char *id)
{
    const struct pv_pl_group *g;

    if (!id || !*id || inv->ngroups == 0)
        return -1;
    g = bsearch(id, inv->groups, (size_t)inv->ngroups, sizeof *g, by_group_id);
    return g ? (int)(g - inv->groups) : -1;
}

static void on_host(void *ctx, const struct pv_db_pl_host *h)
{
    struct loader *L = ctx;
    struct pv_pl_inv *inv = L->inv;
    struct pv_pl_host *H;

    if (L->failed || grow((void **)&inv->hosts, &L->cap_hosts, inv->nhosts, sizeof *inv->hosts)) {
        L->failed = 1;
        return;
    }
    H = &inv->hosts[inv->nhosts++];
    copy(H->id, sizeof H->id, h->id);
    copy(H->name, sizeof H->name, h->name);
    copy(H->vendor, sizeof H->vendor, h->vendor);
    copy(H->connection_id, sizeof H->connection_id, h->connection_id);
    H->group = group_index(inv, h->host_group_id);
    H->state = !h->state                                ? PV_PL_DISCONNECTED
               : strcmp(h->state, "connected") == 0     ? PV_PL_CONNECTED
               : strcmp(h->state, "maintenance") == 0   ? PV_PL_MAINTENANCE
               : strcmp(h->state, "failed") == 0        ? PV_PL_FAILED
                                                        : PV_PL_DISCONNECTED;
    H->cpu_cores = h->cpu_cores;
    H->memory_mb = h->memory_mb;
    H->memory_used_mb = h->memory_used_mb;
    H->cpu_usage_pct = h->cpu_usage_pct;
    H->tags = string_array(h->tags_json);
}

/* A pool or network: which hosts (loaded before) reach it. */
static void on_place(void *ctx, const struct pv_db_pl_place *p)
{
    struct loader *L = ctx;
    struct pv_pl_inv *inv = L->inv;
    struct pv_pl_place *P;
    json_t *ids, *id;
    size_t i;

    if (L->failed || grow((void **)&inv->places, &L->cap_places, inv->nplaces, sizeof *inv->places)) {
        L->failed = 1;
        return;
    }
    P = &inv->places[inv->nplaces];
    P->reach = calloc((size_t)inv->nhosts + 1, 1);
    if (!P->reach) {
        L->failed = 1;
        return;
    }
    inv->nplaces++;
    copy(P->id, sizeof P->id, p->id);
    copy(P->name, sizeof P->name, p->name);
    copy(P->kind, sizeof P->kind, p->kind);
    P->network = p->network;
    P->free_mb = p->free_mb;
    ids = p->host_ids_json ? json_loads(p->host_ids_json, 0, NULL) : NULL;
    json_array_foreach(ids, i, id) {
        const struct pv_pl_host *H = json_is_string(id) && inv->nhosts
            ? bsearch(json_string_value(id), inv->hosts, (size_t)inv->nhosts, sizeof *H, by_host_id)
            : NULL;
        if (!H)
            continue;
        P->reach[H - inv->hosts] = 1;
        if (p->network)
            inv->hosts[H - inv->hosts].nnetworks++;
        else
            inv->hosts[H - inv->hosts].npools++;
    }
    json_decref(ids);
}

static int ha_level(const char *ha)
{
    if (!ha)
        return 0;
    return strcmp(ha, "high") == 0 ? 3 : strcmp(ha, "medium") == 0 ? 2
                                         : strcmp(ha, "low") == 0  ? 1
                                                                   : 0;
}

static void on_vm(void *ctx, const struct pv_db_pl_vm *v)
{
    struct loader *L = ctx;
    struct pv_pl_inv *inv = L->inv;
    struct pv_pl_vm *V;
    const struct pv_pl_host *H = NULL;

    if (L->failed || grow((void **)&inv->vms, &L->cap_vms, inv->nvms, sizeof *inv->vms)) {
        L->failed = 1;
        return;
    }
    V = &inv->vms[inv->nvms++];
    copy(V->id, sizeof V->id, v->id);
    copy(V->name, sizeof V->name, v->name);
    copy(V->vendor, sizeof V->vendor, v->vendor);
    V->moves_in_connection = pv_plugins_has(v->vendor, PV_CAP_MIGRATE_IN_CONNECTION);
    copy(V->connection_id, sizeof V->connection_id, v->connection_id);
    copy(V->last_moved_at, sizeof V->last_moved_at, v->last_moved_at);
    if (v->host_id && inv->nhosts > 0)
        H = bsearch(v->host_id, inv->hosts, (size_t)inv->nhosts, sizeof *H, by_host_id);
    V->host = H ? (int)(H - inv->hosts) : -1;
    V->active = v->power_state && (strcmp(v->power_state, "running") == 0 ||
                                   strcmp(v->power_state, "paused") == 0);
    V->vcpus = v->vcpus;
    V->memory_mb = v->memory_mb;
    V->ha = ha_level(v->ha);
    V->tags = string_array(v->tags_json);
    V->anti_affinity = string_array(v->anti_affinity_json);
    V->affinity = string_array(v->affinity_json);
}

/* The effective policy of group g: its parent's, then its own keys. */
static int resolve(struct loader *L, int g, int depth, char *done, struct pv_error *err)
{
    struct pv_pl_group *G = &L->inv->groups[g];
    int parent = group_index(L->inv, L->parent_ids[g]);

    if (done[g])
        return 0;
    if (depth > L->inv->ngroups)
        return pv_fail(err, host_group_cycle,
                            "host group '%.64s' is its own ancestor", G->id);
    G->parent = parent;
    if (parent >= 0) {
        if (resolve(L, parent, depth + 1, done, err))
            return err ? err->err : PV_EINTERNAL;
        G->policy = L->inv->groups[parent].policy;
    } else {
        pv_pl_policy_default(&G->policy);
    }
    if (L->policies[g] && pv_pl_policy_apply(&G->policy, L->policies[g], err)) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        return pv_fail(err, invalid_policy,
                            "host group '%.64s' holds a policy that no longer checks: %s",
                            G->name, msg);
    }
    done[g] = 1;
    return 0;
}

int pv_snapshot_load(struct pv_pl_inv **out, struct pv_error *err)
{
    struct loader L = {0};
    struct pv_db_pl_callbacks cb = {&L, on_group, on_host, on_vm, on_place};
    char *done = NULL;
    int rc;

    *out = NULL;
    L.inv = calloc(1, sizeof *L.inv);
    if (!L.inv)
        return pv_fail(err, out_of_memory, "out of memory");
    rc = pv_db_placement_load(&cb, err);
    if (!rc && L.failed)
        rc = pv_fail(err, out_of_memory, "out of memory loading inventory");
    done = calloc((size_t)L.inv->ngroups + 1, 1);
    for (int g = 0; !rc && g < L.inv->ngroups; g++)
        rc = done ? resolve(&L, g, 0, done, err)
                  : pv_fail(err, out_of_memory, "out of memory");
    for (int g = 0; L.policies && g < L.inv->ngroups; g++)
        json_decref(L.policies[g]);
    free(L.policies);
    free(L.parent_ids);
    free(done);
    if (rc) {
        pv_pl_inv_free(L.inv);
        return rc;
    }
    L.inv->cap_vms = L.cap_vms;
    pv_pl_recount(L.inv);
    *out = L.inv;
    return 0;
}

#define HELD_MAX 8

struct held {
    struct pv_pl_inv *inv;
    uint64_t generation;
    int refs;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct held held[HELD_MAX];   /* guarded by cache_lock; held[0] is the newest */

int pv_snapshot_get(const struct pv_pl_inv **out, struct pv_error *err)
{
    struct pv_pl_inv *inv = NULL;
    uint64_t gen;
    int rc;

    *out = NULL;
    pthread_mutex_lock(&cache_lock);
    /* the generation is read before the data: a write after this point
     * makes the snapshot older than its tag says, so the next get rebuilds */
    gen = pv_db_generation();
    if (held[0].inv && held[0].generation == gen) {
        held[0].refs++;
        *out = held[0].inv;
        pthread_mutex_unlock(&cache_lock);
        return 0;
    }
    rc = pv_snapshot_load(&inv, err); /* under the lock: one build at a time */
    if (rc) {
        pthread_mutex_unlock(&cache_lock);
        return rc;
    }
    if (held[0].inv) { /* retire the current one: freed now, or by its last put */
        int slot = 0;
        for (int i = 1; i < HELD_MAX && !slot; i++)
            if (!held[i].inv)
                slot = i;
        if (held[0].refs == 0) {
            pv_pl_inv_free(held[0].inv);
        } else if (slot) {
            held[slot] = held[0];
        } else { /* every slot held: this one is the caller's alone (put frees it) */
            pthread_mutex_unlock(&cache_lock);
            *out = inv;
            return 0;
        }
    }
    held[0] = (struct held){inv, gen, 1};
    *out = inv;
    pthread_mutex_unlock(&cache_lock);
    return 0;
}

void pv_snapshot_put(const struct pv_pl_inv *inv)
{
    int found = 0;

    if (!inv)
        return;
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < HELD_MAX && !found; i++) {
        if (held[i].inv != inv)
            continue;
        found = 1;
        if (--held[i].refs == 0 && i != 0) {
            pv_pl_inv_free(held[i].inv);
            held[i].inv = NULL;
        }
    }
    pthread_mutex_unlock(&cache_lock);
    if (!found) /* one that was never shared */
        pv_pl_inv_free((struct pv_pl_inv *)inv);
}
