/* plan.h -- planners built on the rating engine: rebalance (Dynamic
 * Optimization), evacuation, power optimization, deployment, HA restart, and
 * the what-if simulation that strings them together.
 *
 * Every planner works on a snapshot and applies its moves to it as it goes,
 * so each later decision sees the earlier ones; callers that must not change
 * their snapshot pass a copy (pv_pl_inv_dup).  A plan is JSON:
 *   {"kind", "moves": [{"vm_id", "vm_name", "from_host_id", "to_host_id",
 *    "to_host_name", "mode", "stars", "reason"}], "unplaced": [{"vm_id",
 *    "vm_name", "reason", "rejected_by"}], "hosts": [{"host_id", "name",
 *    "before_pct", "after_pct"}], ...kind-specific fields}
 *
 * Rebalance, in short (docs/placement.md has the whole rule): a host is over
 * when max(memory %, CPU %) exceeds the threshold.  Repeatedly take the most
 * loaded host that is over and move one VM off it: the smallest VM whose
 * move alone brings the host under, else the VM whose move relieves it most;
 * its destination is the best-rated host that stays under the threshold
 * after the move.  A VM moves at most once per plan (so no two moves undo
 * each other), never while in its cool-down after an earlier move, and never
 * when the move gains less than the aggressiveness allows.
 */
#ifndef PV_PL_PLAN_H
#define PV_PL_PLAN_H

#include <jansson.h>
#include <stdint.h>
#include "server/placement/engine.h"

struct pv_plan_opts {
    int scope_group;          /* -1: every host */
    double threshold_pct;     /* <= 0: each host group's rebalance.threshold_pct */
    int aggressiveness;       /* 1 (only big gains) .. 5 (any gain); 0: 3 */
    int max_moves;            /* 0: 50 */
    int cooldown_s;           /* a VM moved less than this ago stays; <0: 0 */
    int64_t now;              /* Unix seconds, for the cool-down */
};

/* Options from a schedule's or request's parameters ({"host_group_id",
 * "threshold_pct", "aggressiveness", "max_moves", "cooldown_minutes"});
 * unknown keys are the caller's to check. */
int pv_plan_opts_from_json(const struct pv_pl_inv *inv, json_t *params, int64_t now,
                           struct pv_plan_opts *o, struct pv_error *err);

int pv_plan_rebalance(struct pv_pl_inv *inv, const struct pv_plan_opts *o, json_t **plan,
                      struct pv_error *err);
/* Move every VM off host h (live when it runs, quick otherwise). */
int pv_plan_evacuate(struct pv_pl_inv *inv, int h, json_t **plan, struct pv_error *err);
/* Empty the least loaded hosts onto the others while every host stays under
 * the threshold; "power_down_host_ids" lists the hosts left empty. */
int pv_plan_power_optimize(struct pv_pl_inv *inv, const struct pv_plan_opts *o, json_t **plan,
                           struct pv_error *err);
/* Place `count` new VMs of spec (vcpus, memory_mb, vendor, tags, ...). */
int pv_plan_deploy(struct pv_pl_inv *inv, json_t *spec, int count, int scope_group,
                   json_t **plan, struct pv_error *err);
/* Host h failed: where its HA VMs that were running restart, high priority
 * first, using the capacity held back for HA; the others are listed as not
 * restarted, with the reason (HA off, not running, no host can take it). */
int pv_plan_ha_restart(struct pv_pl_inv *inv, int h, json_t **plan, struct pv_error *err);

/* POST /placement/simulate: apply body's "changes" to inv (a snapshot the
 * caller owns and throws away) and answer what each would do. */
int pv_plan_simulate(struct pv_pl_inv *inv, json_t *body, json_t **out, struct pv_error *err);

#endif
