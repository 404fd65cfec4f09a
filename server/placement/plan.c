/* plan.c -- see plan.h.  Utilisation here is max(memory %, CPU %) of a
 * host, memory counted as in the engine (the larger of measured use and the
 * memory of active VMs) against physical memory, CPU as measured, with a
 * VM's share estimated by pv_pl_vm_cpu_pct(). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/core/validate.h"
#include "server/sched/cron.h"
#include "server/placement/place.h"
#include "server/placement/plan.h"
#include "server/placement/reasons.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The least improvement (percentage points off the source host) a move
 * must bring, by aggressiveness 1..5. */
static const double min_gain[] = {10.0, 5.0, 2.0, 1.0, 0.0};

static double util(const struct pv_pl_inv *inv, int h)
{
    return fmax(pv_pl_host_mem_pct(inv, h), pv_pl_host_cpu_pct(inv, h));
}

static double threshold(const struct pv_pl_inv *inv, const struct pv_plan_opts *o, int h)
{
    int g = inv->hosts[h].group;

    if (o->threshold_pct > 0)
        return o->threshold_pct;
    return g >= 0 ? inv->groups[g].policy.rebalance_threshold_pct
                  : pv_pl_policy_defaults.rebalance_threshold_pct;
}

static int in_scope(const struct pv_pl_inv *inv, const struct pv_plan_opts *o, int h)
{
    return inv->hosts[h].state == PV_PL_CONNECTED &&
           (o->scope_group < 0 || pv_pl_in_group(inv, h, o->scope_group));
}

/* Utilisation of host h without VM v (v on h). */
static double util_without(const struct pv_pl_inv *inv, int h, int v)
{
    const struct pv_pl_host *H = &inv->hosts[h];
    const struct pv_pl_vm *V = &inv->vms[v];
    int64_t alloc = H->alloc_memory_mb - (V->active ? V->memory_mb : 0);
    int64_t used = H->memory_used_mb - (V->active ? V->memory_mb : 0);
    int64_t demand = alloc > used ? alloc : used;
    double mem = H->memory_mb > 0 ? 100.0 * (double)demand / (double)H->memory_mb : 100.0;

    return fmax(mem, H->cpu_usage_pct - pv_pl_vm_cpu_pct(inv, v));
}

/* Utilisation of host d with VM v added (v elsewhere). */
static double util_with(const struct pv_pl_inv *inv, int d, int v)
{
    const struct pv_pl_host *D = &inv->hosts[d];
    const struct pv_pl_vm *V = &inv->vms[v];
    int64_t add = V->active ? V->memory_mb : 0;
    int64_t alloc = D->alloc_memory_mb + add, used = D->memory_used_mb + add;
    int64_t demand = alloc > used ? alloc : used;
    double mem = D->memory_mb > 0 ? 100.0 * (double)demand / (double)D->memory_mb : 100.0;
    double cpu = D->cpu_usage_pct;

    if (V->host >= 0 && D->cpu_cores > 0)
        cpu += pv_pl_vm_cpu_pct(inv, v) * inv->hosts[V->host].cpu_cores / D->cpu_cores;
    return fmax(mem, cpu);
}

static double r2(double x) { return round(x * 100.0) / 100.0; }

static json_t *host_figures(const struct pv_pl_inv *inv, const double *before,
                            const struct pv_plan_opts *o)
{
    json_t *arr = json_array();

    for (int h = 0; h < inv->nhosts; h++) {
        if (o && o->scope_group >= 0 && !pv_pl_in_group(inv, h, o->scope_group))
            continue;
        json_array_append_new(arr, json_pack("{s:s,s:s,s:f,s:f}", "host_id", inv->hosts[h].id,
                                             "name", inv->hosts[h].name, "before_pct",
                                             r2(before[h]), "after_pct", r2(util(inv, h))));
    }
    return arr;
}

static double *utils_now(const struct pv_pl_inv *inv)
{
    double *u = calloc((size_t)inv->nhosts + 1, sizeof *u);
    for (int h = 0; u && h < inv->nhosts; h++)
        u[h] = util(inv, h);
    return u;
}

static json_t *move_json(const struct pv_pl_inv *inv, int v, int from, int to, double stars,
                         const char *reason)
{
    const struct pv_pl_vm *V = &inv->vms[v];

    static const char *const ha[] = {"off", "low", "medium", "high"};

    return json_pack("{s:s,s:s,s:s?,s:s?,s:s,s:s,s:s,s:f,s:s,s:s}", "vm_id", V->id, "vm_name",
                     V->name, "from_host_id", from >= 0 ? inv->hosts[from].id : NULL,
                     "from_host_name", from >= 0 ? inv->hosts[from].name : NULL, "to_host_id",
                     inv->hosts[to].id, "to_host_name", inv->hosts[to].name, "mode",
                     V->active ? "live" : "quick", "stars", stars, "reason", reason, "ha",
                     ha[V->ha >= 0 && V->ha <= 3 ? V->ha : 0]);
}

/* Why nobody took VM v: the reason, and how many hosts each reason code
 * turned away (counts, taken over; NULL: no rating was asked for). */
static json_t *unplaced_json(const struct pv_pl_inv *inv, int v, const char *name,
                             json_t *counts, const char *reason)
{
    if (!counts)
        counts = json_object();
    return json_pack("{s:s?,s:s,s:s,s:o,s:o}", "vm_id", v >= 0 ? inv->vms[v].id : NULL, "vm_name",
                     name, "reason", reason, "rejected_messages", pv_pl_reason_texts(counts),
                     "rejected_by", counts);
}

static int ha_order(const void *a, const void *b, void *arg)
{
    const struct pv_pl_inv *inv = arg;
    const struct pv_pl_vm *x = &inv->vms[*(const int *)a], *y = &inv->vms[*(const int *)b];
    int c;

    if (x->ha != y->ha)
        return y->ha - x->ha;
    if (x->memory_mb != y->memory_mb)
        return x->memory_mb > y->memory_mb ? -1 : 1;
    c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->id, y->id);
}

/* The VMs on host h: HA priority first, then largest first (ties by name,
 * id) -- the order evacuations and HA restarts place them in. */
static int *vms_on(const struct pv_pl_inv *inv, int h, int *n)
{
    int *list = malloc(((size_t)inv->nvms + 1) * sizeof *list);

    *n = 0;
    if (!list)
        return NULL;
    for (int v = 0; v < inv->nvms; v++)
        if (inv->vms[v].host == h)
            list[(*n)++] = v;
    qsort_r(list, (size_t)*n, sizeof *list, ha_order, (void *)inv);
    return list;
}

struct under {
    const struct pv_pl_inv *inv;
    const struct pv_plan_opts *o;
    int vm;
};

/* A destination stays in scope and under its threshold with the VM added. */
static int stays_under(void *ctx, int h)
{
    const struct under *u = ctx;
    return in_scope(u->inv, u->o, h) && util_with(u->inv, h, u->vm) <= threshold(u->inv, u->o, h);
}

/* The best eligible destination for VM v (-1 none, -2 error); with o, only
 * one that stays under its threshold after the move.  rejected: as
 * pv_pl_choose's. */
static int best_destination(const struct pv_pl_inv *inv, const struct pv_pl_request *req, int v,
                            const struct pv_plan_opts *o, double *stars, json_t *rejected,
                            struct pv_error *err)
{
    struct under u = {inv, o, v};
    struct pv_pl_rating best;

    if (pv_pl_choose(inv, req, o ? stays_under : NULL, &u, &best, rejected, err))
        return -2;
    *stars = best.stars;
    return best.host;
}

static int64_t iso_seconds(const char *iso)
{
    int64_t t = 0;
    return iso && iso[0] && pv_when_parse(iso, NULL, &t, NULL) == 0 ? t : 0;
}

int pv_plan_opts_from_json(const struct pv_pl_inv *inv, json_t *params, int64_t now,
                           struct pv_plan_opts *o, struct pv_error *err)
{
    const char *group = json_string_value(json_object_get(params, "host_group_id"));
    json_t *t = json_object_get(params, "threshold_pct");

    memset(o, 0, sizeof *o);
    o->scope_group = -1;
    o->now = now;
    o->aggressiveness = 3;
    o->max_moves = 50;
    o->cooldown_s = 3600;
    if (group) {
        o->scope_group = pv_pl_find_group(inv, group);
        if (o->scope_group < 0)
            return pv_fail(err, host_group_not_found,
                                "no host group with id '%.64s'", group);
    }
    if (t)
        o->threshold_pct = json_number_value(t);
    if (json_object_get(params, "aggressiveness"))
        o->aggressiveness = (int)json_integer_value(json_object_get(params, "aggressiveness"));
    if (json_object_get(params, "max_moves"))
        o->max_moves = (int)json_integer_value(json_object_get(params, "max_moves"));
    if (json_object_get(params, "cooldown_minutes"))
        o->cooldown_s = 60 * (int)json_integer_value(json_object_get(params, "cooldown_minutes"));
    if (o->aggressiveness < 1 || o->aggressiveness > 5 || o->max_moves < 1 ||
        o->threshold_pct < 0 || o->threshold_pct > 100 || o->cooldown_s < 0)
        return pv_fail(err, invalid_value,
                            "aggressiveness is 1-5, max_moves >= 1, threshold_pct 1-100, "
                            "cooldown_minutes >= 0");
    return 0;
}

/* ---- rebalance ---------------------------------------------------------- */

static int cooling(const struct pv_pl_vm *V, const struct pv_plan_opts *o)
{
    int64_t t = iso_seconds(V->last_moved_at);
    return t > 0 && o->cooldown_s > 0 && o->now - t < o->cooldown_s;
}

struct cand {
    int vm;
    double relief;
};

static int cand_order(const void *a, const void *b, void *arg)
{
    const struct pv_pl_inv *inv = ((void **)arg)[0];
    double excess = *(const double *)((void **)arg)[1];
    const struct cand *x = a, *y = b;
    int xs = x->relief >= excess, ys = y->relief >= excess, c;
    const struct pv_pl_vm *vx = &inv->vms[x->vm], *vy = &inv->vms[y->vm];

    if (xs != ys)
        return ys - xs;        /* sufficient ones first */
    if (xs && vx->memory_mb != vy->memory_mb)
        return vx->memory_mb < vy->memory_mb ? -1 : 1;   /* the smallest that suffices */
    if (!xs && x->relief != y->relief)
        return x->relief > y->relief ? -1 : 1;           /* else the biggest relief */
    c = strcmp(vx->name, vy->name);
    return c ? c : strcmp(vx->id, vy->id);
}

int pv_plan_rebalance(struct pv_pl_inv *inv, const struct pv_plan_opts *o, json_t **plan,
                      struct pv_error *err)
{
    double *before = utils_now(inv);
    unsigned char *moved = calloc((size_t)inv->nvms + 1, 1), *stuck = calloc((size_t)inv->nhosts + 1, 1);
    struct cand *cands = malloc(((size_t)inv->nvms + 1) * sizeof *cands);
    json_t *moves = json_array(), *unresolved = json_array(), *over;
    int nmoves = 0, rc = 0, aggr = o->aggressiveness ? o->aggressiveness : 3;
    int max_moves = o->max_moves ? o->max_moves : 50;

    *plan = NULL;
    if (!before || !moved || !stuck || !cands) {
        rc = pv_fail(err, out_of_memory, "out of memory");
        goto out;
    }
    while (nmoves < max_moves) {
        int s = -1, nc = 0, done = 0;
        double excess;
        void *sort_arg[2];

        for (int h = 0; h < inv->nhosts; h++) {
            if (!in_scope(inv, o, h) || stuck[h] || util(inv, h) <= threshold(inv, o, h))
                continue;
            if (s < 0 || util(inv, h) > util(inv, s))
                s = h;  /* hosts are in id order: the first of equals wins */
        }
        if (s < 0)
            break;
        excess = util(inv, s) - threshold(inv, o, s);
        for (int v = 0; v < inv->nvms; v++) {
            const struct pv_pl_vm *V = &inv->vms[v];
            if (V->host != s || !V->active || moved[v] || json_array_size(V->affinity) ||
                cooling(V, o))
                continue;
            cands[nc].vm = v;
            cands[nc].relief = util(inv, s) - util_without(inv, s, v);
            if (cands[nc].relief + 1e-9 >= min_gain[aggr - 1] && cands[nc].relief > 0)
                nc++;
        }
        sort_arg[0] = inv;
        sort_arg[1] = &excess;
        qsort_r(cands, (size_t)nc, sizeof *cands, cand_order, sort_arg);
        for (int i = 0; i < nc && !done; i++) {
            struct pv_pl_request req;
            double stars = 0;
            int d;
            pv_pl_request_for_vm(inv, cands[i].vm, &req);
            d = best_destination(inv, &req, cands[i].vm, o, &stars, NULL, err);
            if (d == -2) {
                rc = err ? err->err : PV_EINTERNAL;
                goto out;
            }
            if (d < 0)
                continue;
            json_array_append_new(moves, move_json(inv, cands[i].vm, s, d, stars,
                                                   "source host over the threshold"));
            pv_pl_move(inv, cands[i].vm, d);
            moved[cands[i].vm] = 1;
            nmoves++;
            done = 1;
        }
        if (!done) {
            stuck[s] = 1;
            json_array_append_new(unresolved,
                                  json_pack("{s:s,s:s,s:f,s:s}", "host_id", inv->hosts[s].id,
                                            "name", inv->hosts[s].name, "utilisation_pct",
                                            r2(util(inv, s)), "reason",
                                            nc ? "no other host stays under the threshold with "
                                                 "any of its VMs"
                                               : "no VM on it may move (cool-down, affinity, "
                                                 "or too small a gain)"));
        }
    }
    over = json_array();
    for (int h = 0; h < inv->nhosts; h++)
        if (in_scope(inv, o, h) && util(inv, h) > threshold(inv, o, h))
            json_array_append_new(over, json_string(inv->hosts[h].id));
    *plan = json_pack("{s:s,s:O,s:[],s:o,s:o,s:o,s:f,s:i,s:b}", "kind", "rebalance", "moves", moves,
                      "unplaced", "hosts", host_figures(inv, before, o), "unresolved",
                      json_incref(unresolved), "over_threshold_after", over, "threshold_pct",
                      o->threshold_pct, "aggressiveness", aggr, "balanced",
                      json_array_size(over) == 0);
out:
    json_decref(moves);
    json_decref(unresolved);
    free(before);
    free(moved);
    free(stuck);
    free(cands);
    return rc;
}

/* ---- evacuate ----------------------------------------------------------- */

static int place_all_off(struct pv_pl_inv *inv, int h, const struct pv_plan_opts *o,
                         const unsigned char *excluded, int goal, int ha_only, json_t *moves,
                         json_t *unplaced, struct pv_error *err)
{
    int n, *list = vms_on(inv, h, &n);

    if (!list)
        return pv_fail(err, out_of_memory, "out of memory");
    for (int i = 0; i < n; i++) {
        int v = list[i], d;
        struct pv_pl_request req;
        json_t *rejected;
        double stars = 0;

        if (ha_only && (inv->vms[v].ha == 0 || !inv->vms[v].active)) {
            json_array_append_new(unplaced, unplaced_json(inv, v, inv->vms[v].name, NULL,
                                                          inv->vms[v].ha == 0
                                                              ? "HA is off for this VM"
                                                              : "it was not running when its "
                                                                "host failed"));
            continue;
        }
        pv_pl_request_for_vm(inv, v, &req);
        req.excluded = excluded;
        req.goal = goal;
        req.ha_restart = ha_only;
        rejected = json_object();
        d = best_destination(inv, &req, v, o, &stars, rejected, err);
        if (d == -2) {
            json_decref(rejected);
            free(list);
            return err ? err->err : PV_EINTERNAL;
        }
        if (d < 0) {
            json_array_append_new(unplaced,
                                  unplaced_json(inv, v, inv->vms[v].name, rejected,
                                                o ? "no host can take it and stay under the "
                                                    "threshold"
                                                  : "no host can take it"));
        } else {
            json_decref(rejected);
            json_array_append_new(moves, move_json(inv, v, h, d, stars,
                                                   ha_only ? "HA restart" : "host is emptied"));
            pv_pl_move(inv, v, d);
        }
    }
    free(list);
    return 0;
}

int pv_plan_evacuate(struct pv_pl_inv *inv, int h, json_t **plan, struct pv_error *err)
{
    double *before = utils_now(inv);
    json_t *moves = json_array(), *unplaced = json_array();
    int rc = before ? place_all_off(inv, h, NULL, NULL, -1, 0, moves, unplaced, err)
                    : pv_fail(err, out_of_memory, "out of memory");

    *plan = rc ? NULL
               : json_pack("{s:s,s:s,s:O,s:O,s:o,s:b}", "kind", "evacuate", "host_id",
                           inv->hosts[h].id, "moves", moves, "unplaced", unplaced, "hosts",
                           host_figures(inv, before, NULL), "complete",
                           json_array_size(unplaced) == 0);
    json_decref(moves);
    json_decref(unplaced);
    free(before);
    return rc;
}

int pv_plan_ha_restart(struct pv_pl_inv *inv, int h, json_t **plan, struct pv_error *err)
{
    double *before = utils_now(inv);
    json_t *moves = json_array(), *unplaced = json_array();
    int rc;

    inv->hosts[h].state = PV_PL_FAILED;
    rc = before ? place_all_off(inv, h, NULL, NULL, -1, 1, moves, unplaced, err)
                : pv_fail(err, out_of_memory, "out of memory");
    *plan = rc ? NULL
               : json_pack("{s:s,s:s,s:O,s:O,s:o}", "kind", "ha_restart", "failed_host_id",
                           inv->hosts[h].id, "moves", moves, "unplaced", unplaced, "hosts",
                           host_figures(inv, before, NULL));
    json_decref(moves);
    json_decref(unplaced);
    free(before);
    return rc;
}

/* ---- power optimization ------------------------------------------------- */

static int by_util(const void *a, const void *b, void *arg)
{
    const struct pv_pl_inv *inv = arg;
    int x = *(const int *)a, y = *(const int *)b, c;
    double ux = util(inv, x), uy = util(inv, y);

    if (ux != uy)
        return ux < uy ? -1 : 1;
    c = strcmp(inv->hosts[x].name, inv->hosts[y].name);
    return c ? c : strcmp(inv->hosts[x].id, inv->hosts[y].id);
}

static void swap_inv(struct pv_pl_inv *a, struct pv_pl_inv *b)
{
    struct pv_pl_inv t = *a;
    *a = *b;
    *b = t;
}

int pv_plan_power_optimize(struct pv_pl_inv *inv, const struct pv_plan_opts *o, json_t **plan,
                           struct pv_error *err)
{
    double *before = utils_now(inv);
    unsigned char *off = calloc((size_t)inv->nhosts + 1, 1);
    int *order = malloc(((size_t)inv->nhosts + 1) * sizeof *order), n = 0, on, rc = 0;
    json_t *moves = json_array(), *down = json_array();

    *plan = NULL;
    if (!before || !off || !order) {
        rc = pv_fail(err, out_of_memory, "out of memory");
        goto out;
    }
    for (int h = 0; h < inv->nhosts; h++)
        if (in_scope(inv, o, h))
            order[n++] = h;
    qsort_r(order, (size_t)n, sizeof *order, by_util, inv);
    on = n;
    for (int i = 0; i < n && on > 1; i++) {
        int h = order[i];
        struct pv_pl_inv *trial = pv_pl_inv_dup(inv);
        json_t *tm = json_array(), *tu = json_array();

        if (!trial) {
            json_decref(tm);
            json_decref(tu);
            rc = pv_fail(err, out_of_memory, "out of memory");
            goto out;
        }
        off[h] = 1; /* nothing may land on a host being emptied */
        rc = place_all_off(trial, h, o, off, PV_PL_CONSOLIDATE, 0, tm, tu, err);
        if (!rc && json_array_size(tu) == 0) {
            swap_inv(inv, trial);
            json_array_extend(moves, tm);
            json_array_append_new(down, json_string(inv->hosts[h].id));
            on--;
        } else {
            off[h] = 0;
        }
        pv_pl_inv_free(trial);
        json_decref(tm);
        json_decref(tu);
        if (rc)
            goto out;
    }
    *plan = json_pack("{s:s,s:O,s:[],s:o,s:O,s:i}", "kind", "power-optimize", "moves", moves,
                      "unplaced", "hosts", host_figures(inv, before, o), "power_down_host_ids",
                      down, "hosts_left_on", on);
out:
    json_decref(moves);
    json_decref(down);
    free(before);
    free(off);
    free(order);
    return rc;
}

/* ---- deploy ------------------------------------------------------------- */

int pv_plan_deploy(struct pv_pl_inv *inv, json_t *spec, int count, int scope_group,
                   json_t **plan, struct pv_error *err)
{
    const char *prefix = json_string_value(json_object_get(spec, "name_prefix"));
    json_t *placements = json_array(), *unplaced = json_array();
    double *before = utils_now(inv);
    int rc = 0;

    *plan = NULL;
    if (!before)
        rc = pv_fail(err, out_of_memory, "out of memory");
    for (int i = 0; !rc && i < count; i++) {
        struct pv_pl_request req = {
            .vm = -1, .exclude_host = -1, .goal = -1, .scope_group = scope_group,
            .vcpus = (int)json_integer_value(json_object_get(spec, "vcpus")),
            .memory_mb = json_integer_value(json_object_get(spec, "memory_mb")),
            .vendor = json_string_value(json_object_get(spec, "vendor")),
            .tags = json_object_get(spec, "tags"),
            .anti_affinity = json_object_get(spec, "anti_affinity"),
            .affinity = json_object_get(spec, "affinity"),
        };
        struct pv_pl_rating best;
        json_t *rejected;
        struct pv_pl_vm vm = {.host = -1, .active = 1, .vcpus = req.vcpus,
                              .memory_mb = req.memory_mb, .tags = req.tags,
                              .anti_affinity = req.anti_affinity, .affinity = req.affinity};
        char name[128];

        snprintf(name, sizeof name, "%s-%d", prefix ? prefix : "vm", i + 1);
        rejected = json_object();
        rc = pv_pl_choose(inv, &req, NULL, NULL, &best, rejected, err);
        if (rc) {
            json_decref(rejected);
            break;
        }
        if (best.host < 0) {
            json_array_append_new(unplaced, unplaced_json(inv, -1, name, rejected,
                                                          "no host can take it"));
            continue;
        }
        json_decref(rejected);
        snprintf(vm.id, sizeof vm.id, "planned-%d", i + 1);
        snprintf(vm.name, sizeof vm.name, "%s", name);
        snprintf(vm.vendor, sizeof vm.vendor, "%s", inv->hosts[best.host].vendor);
        snprintf(vm.connection_id, sizeof vm.connection_id, "%s",
                 inv->hosts[best.host].connection_id);
        vm.host = best.host;
        json_array_append_new(placements,
                              json_pack("{s:s,s:s,s:s,s:f}", "name", name, "host_id",
                                        inv->hosts[best.host].id, "host_name",
                                        inv->hosts[best.host].name, "stars", best.stars));
        if (pv_pl_add_vm(inv, &vm) < 0)
            rc = pv_fail(err, out_of_memory, "out of memory");
    }
    if (!rc)
        *plan = json_pack("{s:s,s:O,s:O,s:o,s:i,s:i}", "kind", "deploy", "placements", placements,
                          "unplaced", unplaced, "hosts", host_figures(inv, before, NULL),
                          "requested", count, "placed", (int)json_array_size(placements));
    json_decref(placements);
    json_decref(unplaced);
    free(before);
    return rc;
}

/* ---- what-if ------------------------------------------------------------ */

static int host_arg(const struct pv_pl_inv *inv, json_t *change, int i, struct pv_error *err)
{
    const char *id = json_string_value(json_object_get(change, "host_id"));
    int h = pv_pl_find_host(inv, id);

    if (h < 0)
        pv_fail(err, host_not_found, "changes[%d]: no host with id '%.64s'",
                     i, id ? id : "");
    return h;
}

static int simulate_one(struct pv_pl_inv *inv, json_t *change, int i, json_t **res,
                        struct pv_error *err)
{
    static const char *const types[] = {"host_fails", "add_vms", "drain_host", "rebalance", NULL};
    static const struct pv_jfield spec[] = {
        {"type", PV_J_STRING, PV_J_REQUIRED, 0, 0, types},
        {"host_id", PV_J_STRING, 0, 1, 64, NULL},
        {"count", PV_J_INT, 0, 1, 100000, NULL},
        {"vm", PV_J_OBJECT, 0, 0, 0, NULL},
        {"threshold_pct", PV_J_INT, 0, 1, 100, NULL},
        {"aggressiveness", PV_J_INT, 0, 1, 5, NULL},
        {"host_group_id", PV_J_STRING, 0, 1, 64, NULL},
    };
    static const struct pv_jfield vm_spec[] = {
        PV_JFIELDS_VM_SIZE,
        {"name_prefix", PV_J_STRING, 0, 1, 48, NULL},
    };
    const char *type;
    int h;

    if (pv_validate(change, spec, N(spec), NULL, err))
        return PV_EINVAL;
    type = json_string_value(json_object_get(change, "type"));
    if (strcmp(type, "add_vms") == 0) {
        json_t *vm = json_object_get(change, "vm");
        int count = json_object_get(change, "count")
                        ? (int)json_integer_value(json_object_get(change, "count"))
                        : 1;
        if (!vm)
            return pv_fail(err, missing_field, "changes[%d]: add_vms needs 'vm'",
                                i);
        if (pv_validate(vm, vm_spec, N(vm_spec), NULL, err))
            return PV_EINVAL;
        return pv_plan_deploy(inv, vm, count, -1, res, err);
    }
    if (strcmp(type, "rebalance") == 0) {
        struct pv_plan_opts o;
        if (pv_plan_opts_from_json(inv, change, 0, &o, err))
            return PV_EINVAL;
        o.cooldown_s = 0;
        return pv_plan_rebalance(inv, &o, res, err);
    }
    h = host_arg(inv, change, i, err);
    if (h < 0)
        return PV_ENOTFOUND;
    if (strcmp(type, "host_fails") == 0)
        return pv_plan_ha_restart(inv, h, res, err);
    inv->hosts[h].state = PV_PL_MAINTENANCE; /* drain: nothing new lands on it */
    return pv_plan_evacuate(inv, h, res, err);
}

int pv_plan_simulate(struct pv_pl_inv *inv, json_t *body, json_t **out, struct pv_error *err)
{
    static const struct pv_jfield spec[] = {
        {"changes", PV_J_ARRAY, PV_J_REQUIRED, 1, 20, NULL},
        {"vm", PV_J_OBJECT, 0, 0, 0, NULL},
    };
    json_t *results = json_array(), *change, *after = NULL;
    double *before;
    size_t i;
    int rc = 0;

    *out = NULL;
    if (pv_validate(body, spec, N(spec), NULL, err)) {
        json_decref(results);
        return PV_EINVAL;
    }
    before = utils_now(inv);
    json_array_foreach(json_object_get(body, "changes"), i, change) {
        json_t *res = NULL;
        if (!json_is_object(change)) {
            rc = pv_fail(err, wrong_type, "changes[%d] must be an object",
                              (int)i);
            break;
        }
        rc = simulate_one(inv, change, (int)i, &res, err);
        if (rc)
            break;
        json_array_append_new(results, res);
    }
    if (!rc && json_object_get(body, "vm")) {
        /* ratings for a VM spec in the changed inventory */
        struct pv_pl_request req;
        struct pv_pl_rating *r = NULL;
        json_t *q = json_pack("{s:O}", "vm", json_object_get(body, "vm"));
        rc = pv_place_request(inv, q, &req, err);
        if (!rc)
            rc = pv_pl_rate(inv, &req, 0, &r, err);
        if (!rc)
            after = pv_pl_ratings_json(inv, &req, r, inv->nhosts, 0);
        pv_pl_ratings_free(r, inv->nhosts);
        json_decref(q);
    }
    if (!rc && before)
        *out = json_pack("{s:O,s:o,s:o?,s:b}", "results", results, "hosts",
                         host_figures(inv, before, NULL), "ratings", after, "changed_nothing",
                         1);
    else
        json_decref(after);
    json_decref(results);
    free(before);
    return rc;
}
