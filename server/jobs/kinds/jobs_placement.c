/* jobs_placement.c -- job kinds that run placement plans: what a schedule
 * (or "run now") starts, and what approving a plan starts.
 *
 *   placement.rebalance, placement.power-optimize, placement.evacuate:
 *       "plan" computes the plan on a fresh inventory snapshot and stores it
 *       (GET /plans/{id}); "execute" carries it out when the mode is auto
 *       (evacuate always is), else leaves it proposed for review.
 *   placement.deploy: "plan" places N VMs; "create" creates them.
 *   plan.execute: carries out an approved plan.
 *
 * Every move or creation is a child job (vm.migrate, vm.create) run on this
 * job's thread (pv_job_run_child), so each has its own steps, progress and
 * error in the job list, and cancelling the parent stops the rest.  The
 * plan row keeps each move's job id, and a deploy's result each create's,
 * from before the child runs (pv_job_child_new, then pv_job_child_run), so
 * a parent resumed after kill -9 finishes a child it already started
 * instead of starting a second one.
 */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/sched/clock.h"
#include "server/core/events.h"
#include "server/jobs/jobs.h"
#include "server/jobs/kinds/jobs_placement.h"
#include "server/sched/cron.h"
#include "server/inventory/snapshot.h"
#include "server/placement/plan.h"
#include "server/sched/tz.h"
#include "server/core/util.h"
#include "server/core/validate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const plan_modes[] = {"plan", "auto", NULL};
static const char *const move_modes[] = {"live", "quick", NULL};

/* ---- parameters --------------------------------------------------------- */

/* "HH:MM" as minutes after midnight, -1 when it is not that. */
static int hhmm(const char *s)
{
    char *end;
    long h, m;

    if (!s || strlen(s) != 5 || s[2] != ':')
        return -1;
    h = strtol(s, &end, 10);
    if (end != s + 2)
        return -1;
    m = strtol(s + 3, &end, 10);
    if (*end || h < 0 || h > 23 || m < 0 || m > 59)
        return -1;
    return (int)(h * 60 + m);
}

static int check_window(json_t *w, struct pv_error *err)
{
    static const struct pv_jfield spec[] = {
        {"start", PV_J_STRING, PV_J_REQUIRED, 5, 5, NULL},
        {"end", PV_J_STRING, PV_J_REQUIRED, 5, 5, NULL},
    };
    if (pv_validate(w, spec, N(spec), NULL, err))
        return PV_EINVAL;
    for (int i = 0; i < 2; i++)
        if (hhmm(json_string_value(json_object_get(w, i ? "end" : "start"))) < 0)
            return pv_fail(err, invalid_value,
                                "window.%s must be HH:MM (00:00 to 23:59)", i ? "end" : "start");
    return 0;
}

int pv_placement_params_check(const char *kind, json_t *params, struct pv_error *err)
{
    static const struct pv_jfield rebalance[] = {
        {"host_group_id", PV_J_STRING, 0, 1, 64, NULL},
        {"threshold_pct", PV_J_INT, 0, 1, 100, NULL},
        {"aggressiveness", PV_J_INT, 0, 1, 5, NULL},
        {"max_moves", PV_J_INT, 0, 1, 1000, NULL},
        {"cooldown_minutes", PV_J_INT, 0, 0, 10080, NULL},
        {"mode", PV_J_STRING, 0, 0, 0, plan_modes},
    };
    static const struct pv_jfield power[] = {
        {"host_group_id", PV_J_STRING, 0, 1, 64, NULL},
        {"threshold_pct", PV_J_INT, 0, 1, 100, NULL},
        {"window", PV_J_OBJECT, 0, 0, 0, NULL},
        {"mode", PV_J_STRING, 0, 0, 0, plan_modes},
    };
    static const struct pv_jfield evacuate[] = {
        {"host_id", PV_J_STRING, PV_J_REQUIRED, 1, 64, NULL},
        {"mode", PV_J_STRING, 0, 0, 0, move_modes},
    };
    static const struct pv_jfield deploy[] = {
        {"count", PV_J_INT, PV_J_REQUIRED, 1, 1000, NULL},
        {"vm", PV_J_OBJECT, PV_J_REQUIRED, 0, 0, NULL},
        {"host_group_id", PV_J_STRING, 0, 1, 64, NULL},
        {"start", PV_J_BOOL, 0, 0, 0, NULL},
    };
    static const struct pv_jfield deploy_vm[] = {
        {"name_prefix", PV_J_STRING, PV_J_REQUIRED, 1, 40, NULL},
        PV_JFIELDS_VM_SIZE,
        PV_JFIELDS_VM_DEVICES,
    };

    if (!json_is_object(params))
        return pv_fail(err, wrong_type, "'params' must be an object");
    if (strcmp(kind, "rebalance") == 0)
        return pv_validate(params, rebalance, N(rebalance), NULL, err) ? PV_EINVAL : 0;
    if (strcmp(kind, "power-optimize") == 0) {
        if (pv_validate(params, power, N(power), NULL, err))
            return PV_EINVAL;
        return json_object_get(params, "window")
                   ? check_window(json_object_get(params, "window"), err)
                   : 0;
    }
    if (strcmp(kind, "evacuate") == 0)
        return pv_validate(params, evacuate, N(evacuate), NULL, err) ? PV_EINVAL : 0;
    if (strcmp(kind, "deploy") == 0) {
        json_t *vm = json_object_get(params, "vm");
        if (pv_validate(params, deploy, N(deploy), NULL, err) ||
            pv_validate(vm, deploy_vm, N(deploy_vm), NULL, err) ||
            pv_validate_tag_list(json_object_get(vm, "tags"), "vm.tags", err) ||
            pv_validate_tag_list(json_object_get(vm, "anti_affinity"), "vm.anti_affinity", err) ||
            pv_validate_tag_list(json_object_get(vm, "affinity"), "vm.affinity", err) ||
            pv_validate_vm_devices(vm, NULL, err))
            return PV_EINVAL;
        return 0;
    }
    return pv_fail(err, invalid_value,
                        "kind must be deploy, rebalance, power-optimize or evacuate");
}

/* ---- planning ----------------------------------------------------------- */

/* Inside the power-optimize window? "22:00"-"06:00" wraps midnight. */
static int in_window(json_t *w, const char *zone, int64_t now)
{
    struct pv_tz *tz = NULL;
    struct tm local;
    int t, s, e, in;

    if (!w)
        return 1;
    s = hhmm(json_string_value(json_object_get(w, "start")));
    e = hhmm(json_string_value(json_object_get(w, "end")));
    if (pv_tz_load(zone ? zone : "UTC", &tz, NULL) || pv_tz_to_local(tz, now, &local, NULL)) {
        pv_tz_free(tz);
        return 1;
    }
    pv_tz_free(tz);
    t = local.tm_hour * 60 + local.tm_min;
    in = s <= e ? (t >= s && t < e) : (t >= s || t < e);
    return in;
}

static const char *plan_kind(const struct pv_job_run *run)
{
    return pv_job_kind_name(run) + strlen("placement.");
}

static int store_plan(struct pv_job_run *run, json_t *plan, struct pv_error *err)
{
    json_t *p = pv_job_params(run), *res = pv_job_result(run), *moves = json_object_get(plan, "moves");
    json_t *summary = json_deep_copy(plan);
    char id[64], now[32], *params = json_dumps(p, JSON_COMPACT), *mv = NULL, *sum = NULL;
    const char *mode = json_string_value(json_object_get(p, "mode"));
    int auto_mode = strcmp(plan_kind(run), "evacuate") == 0 || (mode && !strcmp(mode, "auto"));
    struct pv_db_plan row;
    int rc;

    json_object_del(summary, "moves");
    mv = json_dumps(moves ? moves : json_array(), JSON_COMPACT);
    sum = json_dumps(summary, JSON_COMPACT);
    pv_id_new(id, "plan");
    row = (struct pv_db_plan){
        .id = id, .kind = plan_kind(run), .state = "proposed",
        .schedule_id = json_string_value(json_object_get(p, "schedule_id")),
        .job_id = pv_job_id(run), .host_group_id = json_string_value(json_object_get(p, "host_group_id")),
        .params_json = params, .moves_json = mv, .summary_json = sum,
        .created_at = pv_clock_iso(pv_clock_now(), now),
    };
    rc = pv_db_plan_insert(&row, err);
    if (!rc) {
        if (row.schedule_id)
            pv_db_plans_supersede(row.schedule_id, id);
        json_object_set_new(res, "plan_id", json_string(id));
        json_object_set_new(res, "moves", json_integer((json_int_t)json_array_size(moves)));
        json_object_set_new(res, "unplaced", json_deep_copy(json_object_get(plan, "unplaced")));
        json_object_set_new(res, "auto", json_boolean(auto_mode));
        pv_event("plan", id, "info", pv_job_actor(run), "%s plan with %d moves proposed",
                 plan_kind(run), (int)json_array_size(moves));
    }
    free(params);
    free(mv);
    free(sum);
    json_decref(summary);
    return rc;
}

static int plan_step(struct pv_job_run *run, struct pv_error *err)
{
    json_t *p = pv_job_params(run), *plan = NULL;
    const char *kind = plan_kind(run);
    struct pv_pl_inv *inv = NULL;
    struct pv_plan_opts o;
    int64_t now = pv_clock_now();
    int rc;

    if (strcmp(kind, "power-optimize") == 0 &&
        !in_window(json_object_get(p, "window"), json_string_value(json_object_get(p, "timezone")),
                   now)) {
        json_object_set_new(pv_job_result(run), "skipped",
                            json_string("outside the power-optimize window"));
        return 0;
    }
    rc = pv_snapshot_load(&inv, err);
    if (rc)
        return rc;
    if (strcmp(kind, "evacuate") == 0) {
        int h = pv_pl_find_host(inv, json_string_value(json_object_get(p, "host_id")));
        rc = h < 0 ? pv_fail(err, host_not_found, "no host with id '%.64s'",
                                  json_string_value(json_object_get(p, "host_id")))
                   : pv_plan_evacuate(inv, h, &plan, err);
        if (!rc && json_is_string(json_object_get(p, "mode"))) {
            size_t i;
            json_t *m;
            json_array_foreach(json_object_get(plan, "moves"), i, m)
                if (strcmp(json_string_value(json_object_get(m, "mode")), "live") == 0)
                    json_object_set(m, "mode", json_object_get(p, "mode"));
        }
    } else if (strcmp(kind, "deploy") == 0) {
        int g = -1;
        const char *group = json_string_value(json_object_get(p, "host_group_id"));
        if (group && (g = pv_pl_find_group(inv, group)) < 0)
            rc = pv_fail(err, host_group_not_found,
                              "no host group with id '%.64s'", group);
        else
            rc = pv_plan_deploy(inv, json_object_get(p, "vm"),
                                (int)json_integer_value(json_object_get(p, "count")), g, &plan,
                                err);
        if (!rc)
            json_object_set_new(pv_job_result(run), "plan", plan);
        pv_pl_inv_free(inv);
        return rc;
    } else {
        rc = pv_plan_opts_from_json(inv, p, now, &o, err);
        if (!rc)
            rc = strcmp(kind, "rebalance") == 0 ? pv_plan_rebalance(inv, &o, &plan, err)
                                                : pv_plan_power_optimize(inv, &o, &plan, err);
    }
    pv_pl_inv_free(inv);
    if (!rc)
        rc = store_plan(run, plan, err);
    json_decref(plan);
    return rc;
}

/* ---- execution ---------------------------------------------------------- */

static void save_moves(const char *plan_id, json_t *moves)
{
    char *text = json_dumps(moves, JSON_COMPACT);

    if (text)
        pv_db_plan_set_moves(plan_id, text);
    free(text);
}

/* Carry out the moves of plan `plan_id`; each move gets job_id, state and
 * error in the plan row as it goes. */
static int execute_plan(struct pv_job_run *run, const char *plan_id, struct pv_error *err)
{
    json_t *plan = NULL, *moves;
    size_t i, n;
    json_t *m;
    int failed = 0, rc;
    char now[32];

    rc = pv_db_get(&pv_coll_plans, plan_id, &plan, err);
    if (rc)
        return rc;
    moves = json_object_get(plan, "moves");
    n = json_array_size(moves);
    json_array_foreach(moves, i, m) {
        const char *state = json_string_value(json_object_get(m, "state"));
        const char *vm_id = json_string_value(json_object_get(m, "vm_id"));
        const char *child = json_string_value(json_object_get(m, "job_id"));
        struct pv_db_vm_ref vm;
        struct pv_error e = {0};
        char child_id[64] = "";

        if (state && (strcmp(state, "succeeded") == 0 || strcmp(state, "skipped") == 0))
            continue;
        if (pv_job_cancelled(run)) {
            rc = pv_fail(err, cancelled, "cancelled after %d of %d moves",
                              (int)i, (int)n);
            break;
        }
        pv_job_progress(run, (int)(100 * i / (n ? n : 1)), vm_id);
        if (child) {
            /* started before a restart: finish it rather than start another */
            rc = pv_job_child_run(run, child, &e);
        } else if (pv_db_vm_ref(vm_id, &vm, NULL) != 0 ||
                   strcmp(vm.host_id, json_string_value(json_object_get(m, "from_host_id"))) != 0) {
            json_object_set_new(m, "state", json_string("skipped"));
            json_object_set_new(m, "error", json_string("the VM is gone or moved since planning"));
            goto save;
        } else {
            json_t *params = json_pack("{s:O,s:O}", "host_id", json_object_get(m, "to_host_id"),
                                       "mode", json_object_get(m, "mode"));
            rc = pv_job_child_new(run, "vm.migrate", "vm", vm_id, params, child_id, &e);
            json_decref(params);
            if (!rc) { /* on record before it runs: a restart finishes this one */
                json_object_set_new(m, "job_id", json_string(child_id));
                save_moves(plan_id, moves);
                rc = pv_job_child_run(run, child_id, &e);
            }
        }
        json_object_set_new(m, "state", json_string(rc == 0 ? "succeeded" : "failed"));
        if (rc) {
            json_object_set_new(m, "error", json_pack("{s:s,s:s}", "code", e.code, "message",
                                                      e.message));
            failed++;
        }
    save:
        save_moves(plan_id, moves);
        rc = 0;
    }
    if (!rc) {
        pv_db_plan_transition(plan_id, "executing", failed ? "failed" : "done", NULL,
                              pv_clock_iso(pv_clock_now(), now), NULL, NULL);
        json_object_set_new(pv_job_result(run), "moves_failed", json_integer(failed));
        if (failed)
            rc = pv_fail(err, plan_partly_failed, "%d of %d moves failed",
                              failed, (int)n);
    } else {
        pv_db_plan_transition(plan_id, "executing", "failed", NULL, NULL, NULL, NULL);
    }
    json_decref(plan);
    return rc;
}

static int start_execution(struct pv_job_run *run, const char *plan_id, const char *from,
                           struct pv_error *err)
{
    char now[32];
    int rc = pv_db_plan_transition(plan_id, from, "executing", pv_job_actor(run),
                                   pv_clock_iso(pv_clock_now(), now), pv_job_id(run), err);

    /* a resumed job finds its plan already executing */
    if (rc == PV_ECONFLICT) {
        json_t *plan = NULL;
        int mine = pv_db_get(&pv_coll_plans, plan_id, &plan, NULL) == 0 &&
                   !strcmp(json_string_value(json_object_get(plan, "state")), "executing") &&
                   !strcmp(json_string_value(json_object_get(plan, "execute_job_id")),
                           pv_job_id(run));
        json_decref(plan);
        if (mine)
            rc = 0;
    }
    return rc ? rc : execute_plan(run, plan_id, err);
}

static int execute_step(struct pv_job_run *run, struct pv_error *err)
{
    json_t *res = pv_job_result(run);
    const char *plan_id = json_string_value(json_object_get(res, "plan_id"));
    int rc;

    if (json_object_get(res, "skipped"))
        return 0;
    if (!json_is_true(json_object_get(res, "auto"))) {
        json_object_set_new(res, "awaiting_approval", json_true());
        return 0;
    }
    rc = start_execution(run, plan_id, "proposed", err);
    if (!rc && strcmp(plan_kind(run), "evacuate") == 0 &&
        json_array_size(json_object_get(res, "unplaced")) > 0)
        rc = pv_fail(err, evacuation_incomplete,
                          "%d VMs could not leave the host; see result.unplaced",
                          (int)json_array_size(json_object_get(res, "unplaced")));
    return rc;
}

/* Start the VM that create child job `create_id` made, as a child job of
 * its own recorded in `one` (start_job_id) before it runs. */
static int start_created(struct pv_job_run *run, json_t *one, const char *create_id,
                         struct pv_error *e)
{
    const char *start_id = json_string_value(json_object_get(one, "start_job_id"));
    json_t *job = NULL;
    const char *vm_id = NULL;
    char child[64];
    int rc = 0;

    if (!start_id) {
        if (pv_db_job_json(create_id, &job, NULL) == 0)
            vm_id = json_string_value(json_object_get(json_object_get(job, "result"), "vm_id"));
        if (vm_id)
            rc = pv_job_child_new(run, "vm.start", "vm", vm_id, NULL, child, e);
        json_decref(job);
        if (!vm_id || rc)
            return rc;
        json_object_set_new(one, "start_job_id", json_string(child));
        pv_job_save(run);
        start_id = child;
    }
    return pv_job_child_run(run, start_id, e);
}

static int create_step(struct pv_job_run *run, struct pv_error *err)
{
    json_t *p = pv_job_params(run), *res = pv_job_result(run);
    json_t *vm = json_object_get(p, "vm"), *placements;
    json_t *created = json_object_get(res, "created"), *pl;
    size_t i, n;
    int failed = 0;

    placements = json_object_get(json_object_get(res, "plan"), "placements");
    if (!created) {
        created = json_array();
        json_object_set_new(res, "created", created);
    }
    n = json_array_size(placements);
    json_array_foreach(placements, i, pl) {
        json_t *params, *one = json_array_get(created, i);
        struct pv_error e = {0};
        char child[64], name[128];
        int rc;

        if (one && strcmp(json_string_value(json_object_get(one, "state")), "running") != 0) {
            failed += strcmp(json_string_value(json_object_get(one, "state")), "failed") == 0;
            continue; /* done before a restart */
        }
        if (pv_job_cancelled(run))
            return pv_fail(err, cancelled, "cancelled after %d of %d VMs",
                                (int)i, (int)n);
        pv_job_progress(run, (int)(100 * i / (n ? n : 1)), NULL);
        if (!one) {
            /* names are unique per run: prefix-<job suffix>-<n> */
            snprintf(name, sizeof name, "%s-%.4s-%d",
                     json_string_value(json_object_get(vm, "name_prefix")),
                     pv_job_id(run) + strlen(pv_job_id(run)) - 4, (int)i + 1);
            params = json_deep_copy(vm);
            json_object_del(params, "name_prefix");
            json_object_set_new(params, "name", json_string(name));
            json_object_set(params, "host_id", json_object_get(pl, "host_id"));
            rc = pv_job_child_new(run, "vm.create", NULL, NULL, params, child, &e);
            json_decref(params);
            one = json_pack("{s:s,s:s,s:s}", "name", name, "job_id", rc ? "" : child, "state",
                            "running");
            json_array_append_new(created, one);
            /* on record before it runs: a restart finishes this child */
            pv_job_save(run);
        } else {
            rc = 0; /* started before a restart: finish it, do not make another */
        }
        if (!rc)
            rc = pv_job_child_run(run, json_string_value(json_object_get(one, "job_id")), &e);
        if (!rc && json_is_true(json_object_get(p, "start")))
            rc = start_created(run, one, json_string_value(json_object_get(one, "job_id")), &e);
        json_object_set_new(one, "state", json_string(rc ? "failed" : "succeeded"));
        if (rc) {
            json_object_set_new(one, "error", json_pack("{s:s,s:s}", "code", e.code, "message",
                                                        e.message));
            failed++;
        }
    }
    if (failed)
        return pv_fail(err, deploy_partly_failed, "%d of %d VMs failed", failed,
                            (int)n);
    if (json_array_size(json_object_get(json_object_get(res, "plan"), "unplaced")))
        return pv_fail(err, no_eligible_host,
                            "%d of %d VMs found no host; see result.plan.unplaced",
                            (int)json_array_size(json_object_get(json_object_get(res, "plan"),
                                                                 "unplaced")),
                            (int)json_integer_value(json_object_get(p, "count")));
    return 0;
}

static int placement_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    if (idx == 0)
        return plan_step(run, err);
    return strcmp(plan_kind(run), "deploy") == 0 ? create_step(run, err) : execute_step(run, err);
}

static int resume(struct pv_job_run *run, struct pv_error *err)
{
    (void)run;
    (void)err;
    return PV_RECONCILE_RESUME; /* moves record their child jobs; see execute_plan */
}

static const char *const plan_steps[] = {"plan", "execute"};
static const char *const deploy_steps[] = {"plan", "create"};
const struct pv_job_kind pv_job_placement_rebalance = {"placement.rebalance", plan_steps, 2,
                                                       placement_step, resume};
const struct pv_job_kind pv_job_placement_power = {"placement.power-optimize", plan_steps, 2,
                                                   placement_step, resume};
const struct pv_job_kind pv_job_placement_evacuate = {"placement.evacuate", plan_steps, 2,
                                                      placement_step, resume};
const struct pv_job_kind pv_job_placement_deploy = {"placement.deploy", deploy_steps, 2,
                                                    placement_step, resume};

static int approved_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    (void)idx;
    return start_execution(run, json_string_value(json_object_get(pv_job_params(run), "plan_id")),
                           "approved", err);
}

static const char *const approved_steps[] = {"execute"};
const struct pv_job_kind pv_job_plan_execute = {"plan.execute", approved_steps, 1, approved_step,
                                                resume};
