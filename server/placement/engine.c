/* engine.c -- see engine.h.  The filters and weights are each one small
 * function over (snapshot, request, host) that appends its verdict to the
 * host's explanation; pv_pl_rate() runs them all and ranks the hosts.
 *
 * Figures the filters use, per host (all in MB or vCPUs):
 *   capacity   = memory_mb x overcommit.memory
 *   demand     = max(measured memory used, memory of the VMs placed here
 *                that run or are paused)
 *   free       = capacity - demand - reserve.memory_mb - HA reserve
 * A VM being moved is never counted on the host it is rated for (it is
 * excluded from its own host), and its own usage is taken out of its
 * group's quota figures before the quota filter asks for room.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "server/placement/engine.h"
#include "server/placement/reasons.h"

enum { W_MEMORY, W_CPU, W_GOAL, W_TAGS };

/* Weights per goal: balance spreads load, consolidate packs it. */
static const double weights_balance[] = {0.35, 0.25, 0.40, 0.10};
static const double weights_consolidate[] = {0.10, 0.10, 0.80, 0.10};

static const char *const state_names[] = {"connected", "disconnected", "maintenance", "failed"};

double pv_pl_stars(double score)
{
    double s = floor(score / 10.0 + 0.5) / 2.0;
    return s < 0 ? 0 : s > 5 ? 5 : s;
}

static const struct pv_pl_policy *policy_of(const struct pv_pl_inv *inv, int h)
{
    int g = inv->hosts[h].group;
    return g >= 0 ? &inv->groups[g].policy : &pv_pl_policy_defaults;
}

static int has_str(json_t *arr, const char *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(arr, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return 1;
    return 0;
}

const struct pv_pl_policy *pv_pl_host_policy(const struct pv_pl_inv *inv, int h)
{
    return policy_of(inv, h);
}

int pv_pl_in_group(const struct pv_pl_inv *inv, int h, int g)
{
    for (int x = inv->hosts[h].group; x >= 0; x = inv->groups[x].parent)
        if (x == g)
            return 1;
    return 0;
}

/* ---- figures ------------------------------------------------------------ */

struct figures {
    int64_t capacity, demand, reserve, ha_reserve, free_raw, free_usable;
    int64_t vcpu_capacity;
};

static void figures_of(const struct pv_pl_inv *inv, int h, const struct pv_pl_request *req,
                       struct figures *f)
{
    const struct pv_pl_host *H = &inv->hosts[h];
    const struct pv_pl_policy *p = policy_of(inv, h);

    f->capacity = (int64_t)((double)H->memory_mb * p->overcommit_memory);
    f->demand = H->memory_used_mb > H->alloc_memory_mb ? H->memory_used_mb : H->alloc_memory_mb;
    f->reserve = p->reserve_memory_mb;
    f->ha_reserve = req && req->ha_restart
                        ? 0
                        : (int64_t)((double)H->memory_mb * p->ha_reserve_memory_pct / 100.0);
    f->free_raw = f->capacity - f->demand;
    f->free_usable = f->free_raw - f->reserve - f->ha_reserve;
    f->vcpu_capacity = (int64_t)((double)H->cpu_cores * p->overcommit_cpu);
}

double pv_pl_host_mem_pct(const struct pv_pl_inv *inv, int h)
{
    const struct pv_pl_host *H = &inv->hosts[h];
    int64_t demand = H->memory_used_mb > H->alloc_memory_mb ? H->memory_used_mb
                                                            : H->alloc_memory_mb;
    return H->memory_mb > 0 ? 100.0 * (double)demand / (double)H->memory_mb : 100.0;
}

double pv_pl_host_cpu_pct(const struct pv_pl_inv *inv, int h)
{
    return inv->hosts[h].cpu_usage_pct;
}

double pv_pl_vm_cpu_pct(const struct pv_pl_inv *inv, int vm)
{
    const struct pv_pl_vm *v = &inv->vms[vm];
    const struct pv_pl_host *H;

    if (v->host < 0 || !v->active)
        return 0;
    H = &inv->hosts[v->host];
    /* The host's measured load, shared among its active VMs by vCPU count. */
    return H->alloc_vcpus > 0 ? H->cpu_usage_pct * v->vcpus / (double)H->alloc_vcpus : 0;
}

/* ---- filters ------------------------------------------------------------ */

/* What a rating call works out once, before looking at hosts: where the
 * members of the VM's affinity and anti-affinity sets are. */
#define MAX_DEVICES 32

/* A device the new VM asks for: on place `place` (an index; -1: by name;
 * -2: an id the inventory does not have; -3: a name no place has, left to
 * the endpoint, which refuses it as unknown_pool / unknown_network), or
 * named `name`. */
struct device {
    int place;
    const char *id, *name;
    int network;
    int64_t mb;
};

struct prep {
    int *anti_vm;            /* per host: a VM of a shared availability set, or -1 */
    int *aff_here;           /* per host: how many constrained affinity sets have members here */
    int aff_constrained;     /* affinity sets whose other members are placed somewhere */
    struct device dev[MAX_DEVICES];
    int ndev;
};

struct ctx {
    const struct pv_pl_inv *inv;
    const struct pv_pl_request *req;
    const struct prep *prep;
    int h;
    struct figures f;
    json_t *filters;         /* explaining: the verdicts; NULL: only the outcome */
    const char *code;        /* the first failing filter's reason code */
};

static void add_verdict(struct ctx *c, const char *name, const char *code, json_t *detail)
{
    if (!detail)
        detail = json_object();
    json_array_append_new(c->filters,
                          json_pack("{s:s,s:b,s:s?,s:o,s:o}", "name", name, "passed", code == NULL,
                                    "code", code, "detail", detail, "message",
                                    pv_pl_verdict_message(name, code, detail)));
}

/* Record a filter's verdict.  The detail (a json_pack expression) is built
 * only when explaining, which keeps a rating over 10,000 hosts free of
 * allocations. */
#define VERDICT(c, name, code_expr, detail_expr)                 \
    do {                                                         \
        const char *code_ = (code_expr);                         \
        if ((c)->filters)                                        \
            add_verdict((c), (name), code_, (detail_expr));      \
        if (code_ && !(c)->code)                                 \
            (c)->code = code_;                                   \
    } while (0)

/* Not explaining and already refused: the other filters cannot change that. */
#define DECIDED(c) (!(c)->filters && (c)->code)

static void f_state(struct ctx *c)
{
    enum pv_pl_state s = c->inv->hosts[c->h].state;
    VERDICT(c, "host_state",
            s == PV_PL_CONNECTED ? NULL : s == PV_PL_MAINTENANCE ? "in_maintenance" : "disconnected",
            json_pack("{s:s}", "state", state_names[s]));
}

static void f_vendor(struct ctx *c)
{
    const struct pv_pl_host *H = &c->inv->hosts[c->h];
    const char *want = c->req->vendor;

    if (DECIDED(c))
        return;
    if (want && strcmp(want, H->vendor) != 0)
        VERDICT(c, "vendor", "vendor_mismatch",
                json_pack("{s:s,s:s}", "vm_vendor", want, "host_vendor", H->vendor));
    else if (c->req->connection_id && strcmp(c->req->connection_id, H->connection_id) != 0)
        VERDICT(c, "vendor", "vendor_mismatch",
                json_pack("{s:s,s:s,s:s}", "vm_connection_id", c->req->connection_id,
                          "host_connection_id", H->connection_id, "reason",
                          "this vendor moves VMs only between hosts of one endpoint"));
    else
        VERDICT(c, "vendor", NULL, json_pack("{s:s}", "host_vendor", H->vendor));
}

static void f_scope(struct ctx *c)
{
    const struct pv_pl_request *r = c->req;
    const struct pv_pl_host *H = &c->inv->hosts[c->h];
    const char *group = H->group >= 0 ? c->inv->groups[H->group].id : NULL;

    if (DECIDED(c))
        return;
    if (c->h == r->exclude_host)
        VERDICT(c, "scope", "current_host", json_pack("{s:s}", "reason", "the VM is on this host"));
    else if (r->excluded && r->excluded[c->h])
        VERDICT(c, "scope", "excluded",
                json_pack("{s:s}", "reason", "this plan empties the host or leaves it out"));
    else if (r->scope_group >= 0 && !pv_pl_in_group(c->inv, c->h, r->scope_group))
        VERDICT(c, "scope", "out_of_scope",
                json_pack("{s:s,s:s?}", "required_group_id", c->inv->groups[r->scope_group].id,
                          "host_group_id", group));
    else
        VERDICT(c, "scope", NULL, json_pack("{s:s?}", "host_group_id", group));
}

static void f_memory(struct ctx *c)
{
    const struct figures *f = &c->f;
    int64_t need = c->req->memory_mb;

    if (DECIDED(c))
        return;
    VERDICT(c, "memory",
            need > f->free_raw                  ? "insufficient_memory"
            : need > f->free_raw - f->reserve   ? "host_reserve"
            : need > f->free_usable             ? "ha_reserve"
                                                : NULL,
            json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "required_mb", (json_int_t)need,
                      "capacity_mb", (json_int_t)f->capacity, "used_mb", (json_int_t)f->demand,
                      "host_reserve_mb", (json_int_t)f->reserve, "ha_reserve_mb",
                      (json_int_t)f->ha_reserve, "free_mb", (json_int_t)f->free_usable));
}

static void f_cpu(struct ctx *c)
{
    const struct pv_pl_host *H = &c->inv->hosts[c->h];
    const struct pv_pl_policy *p = policy_of(c->inv, c->h);
    int64_t after = H->alloc_vcpus + c->req->vcpus;

    if (DECIDED(c))
        return;
    VERDICT(c, "cpu",
            H->cpu_cores > 0 && after > c->f.vcpu_capacity       ? "insufficient_cpu"
            : p->reserve_cpu_pct > 0 &&
                      H->cpu_usage_pct > 100.0 - p->reserve_cpu_pct ? "host_reserve"
                                                                  : NULL,
            json_pack("{s:i,s:I,s:I,s:i,s:f,s:f,s:f}", "required_vcpus", c->req->vcpus,
                      "allocated_vcpus", (json_int_t)H->alloc_vcpus, "vcpu_capacity",
                      (json_int_t)c->f.vcpu_capacity, "cores", H->cpu_cores, "overcommit",
                      p->overcommit_cpu, "cpu_usage_pct", H->cpu_usage_pct, "host_reserve_pct",
                      p->reserve_cpu_pct));
}

static void f_quota(struct ctx *c)
{
    const struct pv_pl_inv *inv = c->inv;
    const struct pv_pl_request *r = c->req;
    int mover = r->vm >= 0 ? inv->vms[r->vm].host : -1;

    if (DECIDED(c))
        return;
    for (int g = inv->hosts[c->h].group; g >= 0; g = inv->groups[g].parent) {
        const struct pv_pl_group *G = &inv->groups[g];
        const struct pv_pl_policy *p = &G->policy;
        int inside = mover >= 0 && pv_pl_in_group(inv, mover, g);
        int64_t vms = G->used_vms + (inside ? 0 : 1);
        int64_t vcpus = G->used_vcpus + (inside ? 0 : r->vcpus);
        int64_t mem = G->used_memory_mb + (inside ? 0 : r->memory_mb);
        const char *what = NULL;
        int64_t quota = 0, used = 0;

        if (p->quota_vms && vms > p->quota_vms)
            what = "vms", quota = p->quota_vms, used = G->used_vms;
        else if (p->quota_vcpus && vcpus > p->quota_vcpus)
            what = "vcpus", quota = p->quota_vcpus, used = G->used_vcpus;
        else if (p->quota_memory_mb && mem > p->quota_memory_mb)
            what = "memory_mb", quota = p->quota_memory_mb, used = G->used_memory_mb;
        if (what) {
            VERDICT(c, "quota", "quota",
                    json_pack("{s:s,s:s,s:I,s:I}", "host_group_id", G->id, "quota", what,
                              "limit", (json_int_t)quota, "used", (json_int_t)used));
            return;
        }
    }
    VERDICT(c, "quota", NULL, NULL);
}

/* The members of set `name` (affinity or anti-affinity) placed on hosts other
 * than h, for an explanation. */
static json_t *members_elsewhere(const struct ctx *c, const char *name)
{
    const struct pv_pl_inv *inv = c->inv;
    json_t *where = json_array();

    for (int v = 0; v < inv->nvms; v++) {
        int h = inv->vms[v].host;
        if (v == c->req->vm || h < 0 || h == c->h || !has_str(inv->vms[v].affinity, name) ||
            has_str(where, inv->hosts[h].id))
            continue;
        json_array_append_new(where, json_string(inv->hosts[h].id));
    }
    return where;
}

static void f_affinity(struct ctx *c)
{
    if (DECIDED(c))
        return;
    if (c->prep->aff_here && c->prep->aff_here[c->h] < c->prep->aff_constrained) {
        const char *missing = "";
        if (c->filters) { /* which set: the first whose members are elsewhere only */
            size_t i;
            json_t *set;
            json_array_foreach(c->req->affinity, i, set) {
                json_t *w = members_elsewhere(c, json_string_value(set));
                int elsewhere_only = json_array_size(w) > 0;
                for (int v = 0; elsewhere_only && v < c->inv->nvms; v++)
                    if (v != c->req->vm && c->inv->vms[v].host == c->h &&
                        has_str(c->inv->vms[v].affinity, json_string_value(set)))
                        elsewhere_only = 0;
                json_decref(w);
                if (elsewhere_only) {
                    missing = json_string_value(set);
                    break;
                }
            }
        }
        VERDICT(c, "affinity", "affinity",
                json_pack("{s:s,s:o}", "set", missing, "members_on_host_ids",
                          members_elsewhere(c, missing)));
    } else {
        VERDICT(c, "affinity", NULL, NULL);
    }
}

static void f_anti_affinity(struct ctx *c)
{
    int v = c->prep->anti_vm ? c->prep->anti_vm[c->h] : -1;

    if (DECIDED(c))
        return;
    if (v >= 0) {
        const char *set = "";
        size_t i;
        json_t *s;
        json_array_foreach(c->req->anti_affinity, i, s)
            if (has_str(c->inv->vms[v].anti_affinity, json_string_value(s))) {
                set = json_string_value(s);
                break;
            }
        VERDICT(c, "anti_affinity", "anti_affinity",
                json_pack("{s:s,s:s,s:s}", "set", set, "vm_id", c->inv->vms[v].id, "vm_name",
                          c->inv->vms[v].name));
    } else {
        VERDICT(c, "anti_affinity", NULL, NULL);
    }
}

static void f_tags(struct ctx *c)
{
    const struct pv_pl_policy *p = policy_of(c->inv, c->h);
    json_t *htags = c->inv->hosts[c->h].tags;

    if (DECIDED(c))
        return;
    for (int i = 0; i < p->ntag_rules; i++) {
        const struct pv_pl_tag_rule *t = &p->tag_rules[i];
        int has;
        if (t->match == PV_PL_SHOULD || !has_str(c->req->tags, t->vm_tag))
            continue;
        has = has_str(htags, t->host_tag);
        if ((t->match == PV_PL_MUST && !has) || (t->match == PV_PL_MUST_NOT && has)) {
            VERDICT(c, "tag_rules", "tag_rule",
                    json_pack("{s:s,s:s,s:s,s:b}", "vm_tag", t->vm_tag, "host_tag", t->host_tag,
                              "match", t->match == PV_PL_MUST ? "must" : "must_not",
                              "host_has_tag", has));
            return;
        }
    }
    VERDICT(c, "tag_rules", NULL, NULL);
}

/* ---- weights ------------------------------------------------------------ */

static double clamp01(double x) { return x < 0 ? 0 : x > 1 ? 1 : x; }

/* x (>= 0) rounded to 3 decimals, without a libm call: this runs for every
 * host of every rating. */
static double round3(double x) { return (double)(int64_t)(x * 1000.0 + 0.5) / 1000.0; }

static void weight(json_t *arr, const char *name, double value, double w, double *sum,
                   double *wsum)
{
    value = round3(clamp01(value));
    if (arr)
        json_array_append_new(arr, json_pack("{s:s,s:f,s:f,s:f,s:o}", "name", name, "value", value,
                                             "weight", w, "contribution", round3(value * w),
                                             "message", pv_pl_weight_message(name, value, w,
                                                                             round3(value * w))));
    *sum += value * w;
    *wsum += w;
}

/* The score (0-100); warr (may be NULL) receives each weight's part. */
static double score_host(const struct ctx *c, json_t *warr)
{
    const struct pv_pl_host *H = &c->inv->hosts[c->h];
    const struct pv_pl_policy *p = policy_of(c->inv, c->h);
    enum pv_pl_goal goal = c->req->goal >= 0 ? (enum pv_pl_goal)c->req->goal : p->goal;
    const double *w = goal == PV_PL_CONSOLIDATE ? weights_consolidate : weights_balance;
    const struct figures *f = &c->f;
    double sum = 0, wsum = 0, mem_head, cpu_alloc, cpu_head, util;
    int applicable = 0, met = 0;

    mem_head = f->capacity > 0 ? (double)(f->free_usable - c->req->memory_mb) /
                                     (double)f->capacity
                               : 0;
    cpu_alloc = f->vcpu_capacity > 0 ? (double)(H->alloc_vcpus + c->req->vcpus) /
                                           (double)f->vcpu_capacity
                                     : 0;
    cpu_head = 1.0 - fmax(H->cpu_usage_pct / 100.0, cpu_alloc);
    weight(warr, "memory_headroom", mem_head, w[W_MEMORY], &sum, &wsum);
    weight(warr, "cpu_headroom", cpu_head, w[W_CPU], &sum, &wsum);
    /* utilisation after placement, the busier of memory and CPU */
    util = fmax(f->capacity > 0 ? (double)(f->demand + c->req->memory_mb) / (double)f->capacity
                                : 1.0,
                fmax(H->cpu_usage_pct / 100.0, cpu_alloc));
    if (goal == PV_PL_CONSOLIDATE)
        weight(warr, "consolidate", util, w[W_GOAL], &sum, &wsum);
    else
        weight(warr, "balance", 1.0 - util, w[W_GOAL], &sum, &wsum);
    for (int i = 0; i < p->ntag_rules; i++) {
        const struct pv_pl_tag_rule *t = &p->tag_rules[i];
        if (t->match != PV_PL_SHOULD || !has_str(c->req->tags, t->vm_tag))
            continue;
        applicable++;
        met += has_str(H->tags, t->host_tag);
    }
    if (applicable)
        weight(warr, "tag_preference", (double)met / applicable, w[W_TAGS], &sum, &wsum);
    return wsum > 0 ? round3(100.0 * sum / wsum) : 0;
}

/* ---- rating ------------------------------------------------------------- */

static void prep_free(struct prep *p)
{
    free(p->anti_vm);
    free(p->aff_here);
}

/* Does any pool (network 0) or network (1) have that name? */
static int name_known(const struct pv_pl_inv *inv, const char *name, int network)
{
    for (int p = 0; p < inv->nplaces; p++)
        if (inv->places[p].network == network && strcmp(inv->places[p].name, name) == 0)
            return 1;
    return 0;
}

static void prep_devices(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                         struct prep *p)
{
    json_t *lists[2] = {req->disks, req->nics}, *d;
    size_t i;

    for (int l = 0; l < 2; l++)
        json_array_foreach(lists[l], i, d) {
            struct device *dv = &p->dev[p->ndev];
            const char *id = json_string_value(json_object_get(d, l ? "network_id" : "pool_id"));
            if (p->ndev == MAX_DEVICES)
                return;
            dv->network = l;
            dv->id = id;
            dv->name = l ? json_string_value(json_object_get(d, "network"))
                         : json_string_value(json_object_get(d, "pool"));
            if (!dv->name)
                dv->name = json_string_value(json_object_get(d, l ? "bridge" : "datastore"));
            dv->place = id ? pv_pl_find_place(inv, id) : -1;
            if (id && (dv->place < 0 || inv->places[dv->place].network != l))
                dv->place = -2;
            if (!id && dv->name && !name_known(inv, dv->name, l))
                dv->place = -3;
            dv->mb = json_integer_value(json_object_get(d, "size_gb")) * 1024;
            if (l || id || dv->name || dv->mb)
                p->ndev++;
        }
}

/* Only a request that names sets needs the per-host arrays (NULL otherwise:
 * the common case allocates nothing). */
static int prep_init(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                     struct prep *p)
{
    size_t n = (size_t)inv->nhosts + 1, i;
    json_t *set;

    memset(p, 0, sizeof *p);
    prep_devices(inv, req, p);
    if (json_array_size(req->anti_affinity)) {
        p->anti_vm = malloc(n * sizeof *p->anti_vm);
        if (!p->anti_vm)
            return -1;
        for (int h = 0; h < inv->nhosts; h++)
            p->anti_vm[h] = -1;
    }
    /* One pass over the VMs per set the request names. */
    json_array_foreach(req->anti_affinity, i, set) {
        for (int v = 0; v < inv->nvms; v++) {
            int h = inv->vms[v].host;
            if (p->anti_vm && v != req->vm && h >= 0 && p->anti_vm[h] < 0 &&
                has_str(inv->vms[v].anti_affinity, json_string_value(set)))
                p->anti_vm[h] = v;
        }
    }
    if (json_array_size(req->affinity)) {
        p->aff_here = calloc(n, sizeof *p->aff_here);
        if (!p->aff_here) {
            prep_free(p);
            return -1;
        }
    }
    json_array_foreach(req->affinity, i, set) {
        unsigned char *seen = calloc(n, 1);
        int placed = 0;
        if (!seen) {
            prep_free(p);
            return -1;
        }
        for (int v = 0; v < inv->nvms; v++) {
            int h = inv->vms[v].host;
            if (v == req->vm || h < 0 || !has_str(inv->vms[v].affinity, json_string_value(set)))
                continue;
            placed = 1;
            if (p->aff_here && !seen[h]) {
                seen[h] = 1;
                p->aff_here[h]++;
            }
        }
        p->aff_constrained += placed;
        free(seen);
    }
    return 0;
}

/* Host h's place of that name and kind, or -1. */
static int place_named(const struct pv_pl_inv *inv, int h, const char *name, int network)
{
    for (int p = 0; p < inv->nplaces; p++)
        if (inv->places[p].network == network && inv->places[p].reach[h] &&
            strcmp(inv->places[p].name, name) == 0)
            return p;
    return -1;
}

/* The new VM's disks: each pool the host must reach, with room for what
 * goes on it (the disks on one pool counted together).  A disk named by
 * pool name is checked on hosts whose adapter reports pools; one without a
 * pool goes where the endpoint's default is, which placement cannot see. */
static void f_storage(struct ctx *c)
{
    const struct prep *P = c->prep;
    const struct pv_pl_inv *inv = c->inv;
    int64_t need[MAX_DEVICES] = {0};
    int where[MAX_DEVICES];

    if (DECIDED(c))
        return;
    for (int i = 0; i < P->ndev; i++) {
        const struct device *d = &P->dev[i];
        int p = d->place;
        where[i] = -1;
        if (d->network || p == -3)
            continue;
        if (p == -1 && (!d->name || !inv->hosts[c->h].npools))
            continue;
        if (p == -1)
            p = place_named(inv, c->h, d->name, 0);
        if (p < 0 || !inv->places[p].reach[c->h]) {
            VERDICT(c, "storage", "pool_unreachable",
                    json_pack("{s:s?,s:s?,s:s}", "pool_id", d->id, "pool", d->name, "reason",
                              p == -2 ? "no storage pool has that id" : "the host does not reach it"));
            return;
        }
        where[i] = p;
        for (int j = 0; j <= i; j++)
            if (where[j] == p)
                need[i] += P->dev[j].mb;
        if (need[i] > inv->places[p].free_mb) {
            VERDICT(c, "storage", "insufficient_storage",
                    json_pack("{s:s,s:s,s:I,s:I}", "pool_id", inv->places[p].id, "pool",
                              inv->places[p].name, "required_mb", (json_int_t)need[i], "free_mb",
                              (json_int_t)inv->places[p].free_mb));
            return;
        }
    }
    VERDICT(c, "storage", NULL, json_object());
}

/* The storage pool host h reaches with the most free space, or -1 (places
 * are ordered by id: a tie goes to the lower id). */
static int roomiest_pool(const struct pv_pl_inv *inv, int h)
{
    int best = -1;

    for (int p = 0; p < inv->nplaces; p++)
        if (!inv->places[p].network && inv->places[p].reach[h] &&
            (best < 0 || inv->places[p].free_mb > inv->places[best].free_mb))
            best = p;
    return best;
}

int pv_pl_move_pool(const struct pv_pl_inv *inv, const struct pv_pl_request *req, int h,
                    int64_t *need_mb)
{
    size_t i;
    json_t *d;
    int best;

    *need_mb = 0;
    json_array_foreach(req->move_disks, i, d) {
        int p = pv_pl_find_place(inv, json_string_value(json_object_get(d, "pool_id")));
        if (p >= 0 && !inv->places[p].network && !inv->places[p].reach[h])
            *need_mb += json_integer_value(json_object_get(d, "size_mb"));
    }
    if (*need_mb == 0)
        return -1;
    if (req->move_pool_id) {
        int p = pv_pl_find_place(inv, req->move_pool_id);
        return p >= 0 && !inv->places[p].network && inv->places[p].reach[h] &&
                       inv->places[p].free_mb >= *need_mb ? p : -2;
    }
    best = roomiest_pool(inv, h);
    return best >= 0 && inv->places[best].free_mb >= *need_mb ? best : -2;
}

/* A live move's disks on pools the host does not reach: a pool there with
 * room for their full copies (pv_pl_move_pool). */
static void f_move_storage(struct ctx *c)
{
    const struct pv_pl_inv *inv = c->inv;
    const char *named = c->req->move_pool_id;
    int64_t need;
    int p, np;

    if (DECIDED(c))
        return;
    p = pv_pl_move_pool(inv, c->req, c->h, &need);
    if (p == -2) {
        np = named ? pv_pl_find_place(inv, named) : -1;
        if (named && (np < 0 || inv->places[np].network || !inv->places[np].reach[c->h])) {
            VERDICT(c, "storage", "pool_unreachable",
                    json_pack("{s:s,s:s}", "pool_id", named, "reason",
                              np < 0 || inv->places[np].network ? "no storage pool has that id"
                                                                : "the host does not reach it"));
            return;
        }
        if (!named)
            np = roomiest_pool(inv, c->h);
        if (np < 0) {
            VERDICT(c, "storage", "pool_unreachable",
                    json_pack("{s:s,s:I}", "reason",
                              "the host reaches no storage pool to copy the VM's local disks to",
                              "required_mb", (json_int_t)need));
            return;
        }
        VERDICT(c, "storage", "insufficient_storage",
                json_pack("{s:s,s:s,s:I,s:I}", "pool_id", inv->places[np].id, "pool",
                          inv->places[np].name, "required_mb", (json_int_t)need, "free_mb",
                          (json_int_t)inv->places[np].free_mb));
        return;
    }
    VERDICT(c, "storage", NULL,
            p >= 0 ? json_pack("{s:s,s:s,s:I}", "copy_to_pool_id", inv->places[p].id, "pool",
                               inv->places[p].name, "required_mb", (json_int_t)need)
                   : json_object());
}

/* The new VM's NICs: each network the host must reach. */
static void f_network(struct ctx *c)
{
    const struct prep *P = c->prep;
    const struct pv_pl_inv *inv = c->inv;

    if (DECIDED(c))
        return;
    for (int i = 0; i < P->ndev; i++) {
        const struct device *d = &P->dev[i];
        int p = d->place;
        if (!d->network || p == -3 || (p == -1 && !inv->hosts[c->h].nnetworks))
            continue;
        if (p == -1)
            p = place_named(inv, c->h, d->name, 1);
        if (p < 0 || !inv->places[p].reach[c->h]) {
            VERDICT(c, "network", "network_unreachable",
                    json_pack("{s:s?,s:s?,s:s}", "network_id", d->id, "network", d->name, "reason",
                              p == -2 ? "no network has that id" : "the host does not reach it"));
            return;
        }
    }
    VERDICT(c, "network", NULL, json_object());
}

/* Rate host h; with explain, fill the rating's filters and weights. */
static void rate_host(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                      const struct prep *prep, int h, int explain, struct pv_pl_rating *out)
{
    struct ctx c = {.inv = inv, .req = req, .prep = prep, .h = h,
                    .filters = explain ? json_array() : NULL};

    figures_of(inv, h, req, &c.f);
    f_state(&c);
    f_vendor(&c);
    f_scope(&c);
    f_memory(&c);
    f_cpu(&c);
    f_quota(&c);
    f_affinity(&c);
    f_anti_affinity(&c);
    f_tags(&c);
    if (prep->ndev) {
        f_storage(&c);
        f_network(&c);
    }
    if (req->move_disks)
        f_move_storage(&c);
    out->host = h;
    out->eligible = c.code == NULL;
    out->code = c.code;
    out->filters = c.filters;
    out->weights = explain ? json_array() : NULL;
    out->score = out->eligible ? score_host(&c, out->weights) : 0;
    /* An eligible host shows at least half a star: it can take the VM. */
    out->stars = out->eligible ? fmax(0.5, pv_pl_stars(out->score)) : 0;
    out->free_after_mb = c.f.free_usable - req->memory_mb;
}

static int rank_cmp(const void *a, const void *b, void *arg)
{
    const struct pv_pl_inv *inv = arg;
    const struct pv_pl_rating *x = a, *y = b;
    const struct pv_pl_host *hx = &inv->hosts[x->host], *hy = &inv->hosts[y->host];
    int c;

    if (x->eligible != y->eligible)
        return y->eligible - x->eligible;
    if (x->eligible) {
        if (x->score != y->score)
            return x->score > y->score ? -1 : 1;
        if (x->free_after_mb != y->free_after_mb)
            return x->free_after_mb > y->free_after_mb ? -1 : 1;
    }
    c = strcmp(hx->name, hy->name);
    return c ? c : strcmp(hx->id, hy->id);
}

static int check_request(const struct pv_pl_request *req, struct pv_error *err)
{
    size_t i;
    json_t *set;

    if (req->memory_mb <= 0 || req->vcpus <= 0)
        return pv_fail(err, invalid_value,
                            "a VM to place needs vcpus and memory_mb above 0");
    json_array_foreach(req->affinity, i, set)
        if (has_str(req->anti_affinity, json_string_value(set)))
            return pv_fail(err, conflicting_affinity,
                                "set '%s' is both an affinity and an anti-affinity set of the "
                                "VM: it cannot be kept with and apart from the same VMs",
                                json_string_value(set));
    return 0;
}

int pv_pl_rate(const struct pv_pl_inv *inv, const struct pv_pl_request *req, int explain,
               struct pv_pl_rating **out, struct pv_error *err)
{
    struct pv_pl_rating *r;
    struct prep prep;
    int rc;

    *out = NULL;
    if ((rc = check_request(req, err)))
        return rc;
    r = calloc((size_t)(inv->nhosts ? inv->nhosts : 1), sizeof *r);
    if (!r || prep_init(inv, req, &prep)) {
        free(r);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    for (int h = 0; h < inv->nhosts; h++)
        rate_host(inv, req, &prep, h, explain, &r[h]);
    prep_free(&prep);
    qsort_r(r, (size_t)inv->nhosts, sizeof *r, rank_cmp, (void *)inv);
    *out = r;
    return 0;
}

static void count_rejection(json_t *counts, const char *code)
{
    json_object_set_new(counts, code, json_integer(json_integer_value(json_object_get(counts, code)) + 1));
}

int pv_pl_choose(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                 int (*accept)(void *ctx, int host), void *ctx, struct pv_pl_rating *best,
                 json_t *rejected, struct pv_error *err)
{
    struct prep prep;
    int rc, found = 0;

    memset(best, 0, sizeof *best);
    best->host = -1;
    if ((rc = check_request(req, err)))
        return rc;
    if (prep_init(inv, req, &prep))
        return pv_fail(err, out_of_memory, "out of memory");
    for (int h = 0; h < inv->nhosts; h++) {
        struct pv_pl_rating r;
        rate_host(inv, req, &prep, h, 0, &r);
        if (rejected && r.code)
            count_rejection(rejected, r.code);
        if (!r.eligible || (accept && !accept(ctx, h)))
            continue;
        if (!found || rank_cmp(&r, best, (void *)inv) < 0)
            *best = r;
        found = 1;
    }
    prep_free(&prep);
    return 0;
}

void pv_pl_explain(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                   struct pv_pl_rating *r)
{
    struct prep prep;
    struct pv_pl_rating full;

    if (r->filters || prep_init(inv, req, &prep))
        return;
    rate_host(inv, req, &prep, r->host, 1, &full);
    prep_free(&prep);
    r->filters = full.filters;
    r->weights = full.weights;
}

void pv_pl_ratings_free(struct pv_pl_rating *r, int n)
{
    if (!r)
        return;
    for (int i = 0; i < n; i++) {
        json_decref(r[i].filters);
        json_decref(r[i].weights);
    }
    free(r);
}

json_t *pv_pl_rejections(const struct pv_pl_rating *r, int n)
{
    json_t *counts = json_object();

    for (int i = 0; r && i < n; i++)
        if (r[i].code)
            count_rejection(counts, r[i].code);
    return counts;
}

int pv_pl_best(const struct pv_pl_rating *r, int n)
{
    return n > 0 && r[0].eligible ? r[0].host : -1;
}

json_t *pv_pl_ratings_json(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                           struct pv_pl_rating *r, int n, int limit)
{
    json_t *items = json_array(), *rejected;
    int best = pv_pl_best(r, n), eligible = 0;

    for (int i = 0; i < n; i++)
        eligible += r[i].eligible;
    for (int i = 0; i < n && (limit <= 0 || i < limit); i++) {
        const struct pv_pl_host *H = &inv->hosts[r[i].host];
        pv_pl_explain(inv, req, &r[i]);
        json_array_append_new(
            items, json_pack("{s:s,s:s,s:s,s:f,s:f,s:b,s:O,s:O}", "host_id", H->id, "host_name",
                             H->name, "vendor", H->vendor, "stars", r[i].stars, "score",
                             r[i].score, "eligible", r[i].eligible, "filters", r[i].filters,
                             "weights", r[i].weights));
    }
    rejected = pv_pl_rejections(r, n);
    return json_pack("{s:o,s:s?,s:i,s:i,s:o,s:o}", "items", items, "chosen_host_id",
                     best >= 0 ? inv->hosts[best].id : NULL, "hosts_rated", n, "eligible_hosts",
                     eligible, "rejected_messages", pv_pl_reason_texts(rejected), "rejected_by",
                     rejected);
}

void pv_pl_request_for_vm(const struct pv_pl_inv *inv, int vm, struct pv_pl_request *req)
{
    const struct pv_pl_vm *v = &inv->vms[vm];

    memset(req, 0, sizeof *req);
    req->vm = vm;
    req->vcpus = v->vcpus;
    req->memory_mb = v->memory_mb;
    req->vendor = v->vendor;
    /* some vendors (vCenter) move VMs only between hosts of one endpoint */
    req->connection_id = v->moves_in_connection ? v->connection_id : NULL;
    req->tags = v->tags;
    req->anti_affinity = v->anti_affinity;
    req->affinity = v->affinity;
    req->scope_group = -1;
    req->exclude_host = v->host;
    req->goal = -1;
}

/* ---- the snapshot ------------------------------------------------------- */

static void account(struct pv_pl_inv *inv, int vm, int sign)
{
    const struct pv_pl_vm *v = &inv->vms[vm];
    struct pv_pl_host *H;

    if (v->host < 0)
        return;
    H = &inv->hosts[v->host];
    H->nvms += sign;
    if (v->active) {
        H->alloc_memory_mb += (int64_t)sign * v->memory_mb;
        H->alloc_vcpus += (int64_t)sign * v->vcpus;
    }
    for (int g = H->group; g >= 0; g = inv->groups[g].parent) {
        inv->groups[g].used_vms += sign;
        inv->groups[g].used_vcpus += (int64_t)sign * v->vcpus;
        inv->groups[g].used_memory_mb += (int64_t)sign * v->memory_mb;
    }
}

void pv_pl_recount(struct pv_pl_inv *inv)
{
    for (int h = 0; h < inv->nhosts; h++) {
        inv->hosts[h].alloc_memory_mb = 0;
        inv->hosts[h].alloc_vcpus = 0;
        inv->hosts[h].nvms = 0;
    }
    for (int g = 0; g < inv->ngroups; g++)
        inv->groups[g].used_vms = inv->groups[g].used_vcpus = inv->groups[g].used_memory_mb = 0;
    for (int v = 0; v < inv->nvms; v++)
        account(inv, v, +1);
}

void pv_pl_move(struct pv_pl_inv *inv, int vm, int to)
{
    struct pv_pl_vm *v = &inv->vms[vm];
    double cpu = pv_pl_vm_cpu_pct(inv, vm);   /* percent of the source host */

    if (v->host == to)
        return;
    if (v->host >= 0 && v->active) {
        struct pv_pl_host *S = &inv->hosts[v->host];
        S->memory_used_mb = S->memory_used_mb > v->memory_mb ? S->memory_used_mb - v->memory_mb : 0;
        if (to >= 0 && inv->hosts[to].cpu_cores > 0) {
            /* the same work in cores, as a share of the destination */
            inv->hosts[to].cpu_usage_pct += cpu * S->cpu_cores / inv->hosts[to].cpu_cores;
        }
        S->cpu_usage_pct = fmax(0, S->cpu_usage_pct - cpu);
    }
    account(inv, vm, -1);
    v->host = to;
    account(inv, vm, +1);
    if (to >= 0 && v->active)
        inv->hosts[to].memory_used_mb += v->memory_mb;
}

int pv_pl_add_vm(struct pv_pl_inv *inv, const struct pv_pl_vm *vm)
{
    struct pv_pl_vm *n = inv->vms;
    int to = vm->host;

    if (inv->nvms >= inv->cap_vms) {
        int cap = inv->cap_vms > 0 ? inv->cap_vms * 2 : 64;
        n = realloc(inv->vms, (size_t)cap * sizeof *n);
        if (!n)
            return -1;
        inv->vms = n;
        inv->cap_vms = cap;
    }
    n[inv->nvms] = *vm;
    n[inv->nvms].tags = vm->tags ? json_incref(vm->tags) : json_array();
    n[inv->nvms].anti_affinity = vm->anti_affinity ? json_incref(vm->anti_affinity) : json_array();
    n[inv->nvms].affinity = vm->affinity ? json_incref(vm->affinity) : json_array();
    n[inv->nvms].host = -1;
    inv->nvms++;
    pv_pl_move(inv, inv->nvms - 1, to);
    return inv->nvms - 1;
}

int pv_pl_find_host(const struct pv_pl_inv *inv, const char *id)
{
    for (int i = 0; id && i < inv->nhosts; i++)
        if (strcmp(inv->hosts[i].id, id) == 0)
            return i;
    return -1;
}

int pv_pl_find_vm(const struct pv_pl_inv *inv, const char *id)
{
    for (int i = 0; id && i < inv->nvms; i++)
        if (strcmp(inv->vms[i].id, id) == 0)
            return i;
    return -1;
}

int pv_pl_find_group(const struct pv_pl_inv *inv, const char *id)
{
    for (int i = 0; id && i < inv->ngroups; i++)
        if (strcmp(inv->groups[i].id, id) == 0)
            return i;
    return -1;
}

struct pv_pl_inv *pv_pl_inv_dup(const struct pv_pl_inv *inv)
{
    struct pv_pl_inv *d = calloc(1, sizeof *d);

    if (!d)
        return NULL;
    d->groups = calloc((size_t)inv->ngroups + 1, sizeof *d->groups);
    d->hosts = calloc((size_t)inv->nhosts + 1, sizeof *d->hosts);
    d->vms = calloc((size_t)inv->nvms + 1, sizeof *d->vms);
    if (!d->groups || !d->hosts || !d->vms) {
        pv_pl_inv_free(d);
        return NULL;
    }
    /* (an empty array may be NULL, which memcpy must not see) */
    if (inv->ngroups)
        memcpy(d->groups, inv->groups, (size_t)inv->ngroups * sizeof *d->groups);
    if (inv->nhosts)
        memcpy(d->hosts, inv->hosts, (size_t)inv->nhosts * sizeof *d->hosts);
    if (inv->nvms)
        memcpy(d->vms, inv->vms, (size_t)inv->nvms * sizeof *d->vms);
    d->ngroups = inv->ngroups;
    d->nhosts = inv->nhosts;
    d->nvms = inv->nvms;
    d->cap_vms = inv->nvms + 1;
    for (int h = 0; h < d->nhosts; h++)
        d->hosts[h].tags = json_deep_copy(inv->hosts[h].tags);
    if (inv->nplaces && (d->places = calloc((size_t)inv->nplaces, sizeof *d->places))) {
        for (int p = 0; p < inv->nplaces; p++) {
            d->places[p] = inv->places[p];
            d->places[p].reach = malloc((size_t)inv->nhosts + 1);
            if (d->places[p].reach)
                memcpy(d->places[p].reach, inv->places[p].reach, (size_t)inv->nhosts + 1);
            d->nplaces = p + 1;
            if (!d->places[p].reach) {
                pv_pl_inv_free(d);
                return NULL;
            }
        }
    }
    for (int v = 0; v < d->nvms; v++) {
        d->vms[v].tags = json_deep_copy(inv->vms[v].tags);
        d->vms[v].anti_affinity = json_deep_copy(inv->vms[v].anti_affinity);
        d->vms[v].affinity = json_deep_copy(inv->vms[v].affinity);
    }
    return d;
}

void pv_pl_inv_free(struct pv_pl_inv *inv)
{
    if (!inv)
        return;
    for (int h = 0; inv->hosts && h < inv->nhosts; h++)
        json_decref(inv->hosts[h].tags);
    for (int v = 0; inv->vms && v < inv->nvms; v++) {
        json_decref(inv->vms[v].tags);
        json_decref(inv->vms[v].anti_affinity);
        json_decref(inv->vms[v].affinity);
    }
    for (int p = 0; inv->places && p < inv->nplaces; p++)
        free(inv->places[p].reach);
    free(inv->groups);
    free(inv->hosts);
    free(inv->vms);
    free(inv->places);
    free(inv);
}

static int by_place_id(const void *key, const void *elem)
{
    return strcmp(key, ((const struct pv_pl_place *)elem)->id);
}

int pv_pl_find_place(const struct pv_pl_inv *inv, const char *id)
{
    const struct pv_pl_place *p;

    if (!id || inv->nplaces == 0)
        return -1;
    p = bsearch(id, inv->places, (size_t)inv->nplaces, sizeof *p, by_place_id);
    return p ? (int)(p - inv->places) : -1;
}
