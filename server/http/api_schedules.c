/* api_schedules.c -- schedules (CRUD, enable/disable, run now, a preview of
 * the next runs for the console's cron helper), the plans their runs
 * propose (review, approve, reject), and the daemon's clock.
 *
 * A schedule is Polyvisor's own object, so its changes answer at once;
 * running it is a job.  Its cron expression, time zone and parameters are
 * checked before anything is stored, and next_run_at is always the answer
 * of the same function the scheduler uses (pv_schedule_next).
 */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/sched/clock.h"
#include "server/core/events.h"
#include "server/http/http.h"
#include "server/jobs/jobs.h"
#include "server/jobs/kinds/jobs_placement.h"
#include "server/sched/cron.h"
#include "server/sched/tz.h"
#include "server/sched/scheduler.h"
#include "server/core/util.h"
#include "server/core/validate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const char *const kinds[] = {"deploy", "rebalance", "power-optimize", "evacuate", NULL};

static void reply_schedule(struct pv_req *r, const char *id, int status)
{
    struct pv_error e = {0};
    json_t *obj;

    if (pv_db_get(&pv_coll_schedules, id, &obj, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_json(r, status, obj);
}

/* Check a schedule's timing and work out its next run from now. */
static int timing(const char *cron, const char *at, const char *zone, char next_iso[32],
                  json_t **details, struct pv_error *err)
{
    int64_t next = 0;
    int rc = pv_schedule_next(cron, at, zone, pv_clock_now(), &next, err);

    next_iso[0] = '\0';
    if (rc) {
        *details = json_pack("{s:s}", "field", strstr(err->code, "time_zone") ? "timezone"
                                              : cron                          ? "cron"
                                                                              : "at_time");
        return rc;
    }
    if (!next) {
        *details = json_pack("{s:s}", "field", "at_time");
        return pv_fail(err, at_time_past, "at_time %s is not in the future",
                            at ? at : "");
    }
    pv_clock_iso(next, next_iso);
    return 0;
}

void pv_api_schedule_create(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"name", PV_J_STRING, PV_J_REQUIRED, 1, 128, NULL},
        {"kind", PV_J_STRING, PV_J_REQUIRED, 0, 0, kinds},
        {"cron", PV_J_STRING, 0, 1, 128, NULL},
        {"at_time", PV_J_STRING, 0, 1, 64, NULL},
        {"timezone", PV_J_STRING, 0, 1, 64, NULL},
        {"params", PV_J_OBJECT, 0, 0, 0, NULL},
        {"enabled", PV_J_BOOL, 0, 0, 0, NULL},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, N(spec)), *details = NULL, *params;
    const char *zone;
    char id[64], next[32], now[32], *params_text = NULL;
    struct pv_db_schedule s;
    int enabled;

    if (!body)
        return;
    zone = json_string_value(json_object_get(body, "timezone"));
    params = json_object_get(body, "params");
    enabled = !json_is_false(json_object_get(body, "enabled"));
    if (timing(json_string_value(json_object_get(body, "cron")),
               json_string_value(json_object_get(body, "at_time")), zone ? zone : "UTC", next,
               &details, &e))
        goto fail;
    if (pv_placement_params_check(json_string_value(json_object_get(body, "kind")),
                                  params ? params : json_object(), &e)) {
        details = json_pack("{s:s}", "field", "params");
        goto fail;
    }
    params_text = params ? json_dumps(params, JSON_COMPACT) : strdup("{}");
    pv_id_new(id, "sch");
    s = (struct pv_db_schedule){
        .id = id, .name = json_string_value(json_object_get(body, "name")),
        .kind = json_string_value(json_object_get(body, "kind")),
        .cron = json_string_value(json_object_get(body, "cron")),
        .at_time = json_string_value(json_object_get(body, "at_time")),
        .timezone = zone ? zone : "UTC", .params_json = params_text, .enabled = enabled,
        .next_run_at = enabled ? next : NULL, .created_by = r->user,
        .created_at = pv_clock_iso(pv_clock_now(), now),
    };
    if (pv_db_schedule_insert(&s, &e))
        goto fail;
    pv_event("schedule", id, "audit", r->user, "schedule %s created", s.name);
    snprintf(r->location, sizeof r->location, "/api/v1/schedules/%s", id);
    reply_schedule(r, id, 201);
    pv_scheduler_wake();
    free(params_text);
    json_decref(body);
    return;
fail:
    pv_reply_error_details(r, &e, details);
    free(params_text);
    json_decref(body);
}

/* Lay body over the stored schedule, check the result, store it. */
static void update(struct pv_req *r, json_t *body)
{
    struct pv_error e = {0};
    json_t *cur = NULL, *details = NULL, *v;
    const char *k;
    char next[32], *params_text = NULL;
    struct pv_db_schedule s;
    int enabled;

    if (pv_db_get(&pv_coll_schedules, r->params[0], &cur, &e))
        goto fail;
    json_object_foreach(body, k, v)
        json_object_set(cur, k, v);
    /* a new cron replaces at_time and the other way round */
    if (json_is_string(json_object_get(body, "cron")))
        json_object_set_new(cur, "at_time", json_null());
    if (json_is_string(json_object_get(body, "at_time")))
        json_object_set_new(cur, "cron", json_null());
    enabled = json_is_true(json_object_get(cur, "enabled"));
    if (timing(json_string_value(json_object_get(cur, "cron")),
               json_string_value(json_object_get(cur, "at_time")),
               json_string_value(json_object_get(cur, "timezone")), next, &details, &e)) {
        /* a one-shot schedule that has run may still be renamed or disabled */
        if (!pv_error_is(&e, PV_CODE_at_time_past) || enabled)
            goto fail;
        json_decref(details);
        details = NULL;
        pv_error_clear(&e);
    }
    if (pv_placement_params_check(json_string_value(json_object_get(cur, "kind")),
                                  json_object_get(cur, "params"), &e)) {
        details = json_pack("{s:s}", "field", "params");
        goto fail;
    }
    params_text = json_dumps(json_object_get(cur, "params"), JSON_COMPACT);
    s = (struct pv_db_schedule){
        .id = r->params[0], .name = json_string_value(json_object_get(cur, "name")),
        .cron = json_string_value(json_object_get(cur, "cron")),
        .at_time = json_string_value(json_object_get(cur, "at_time")),
        .timezone = json_string_value(json_object_get(cur, "timezone")),
        .params_json = params_text, .enabled = enabled,
        .next_run_at = enabled && next[0] ? next : NULL,
    };
    if (pv_db_schedule_update(&s, &e))
        goto fail;
    pv_event("schedule", r->params[0], "audit", r->user, "schedule %s changed", s.name);
    reply_schedule(r, r->params[0], 200);
    pv_scheduler_wake();
    free(params_text);
    json_decref(cur);
    return;
fail:
    pv_reply_error_details(r, &e, details);
    free(params_text);
    json_decref(cur);
}

void pv_api_schedule_patch(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"name", PV_J_STRING, 0, 1, 128, NULL},
        {"cron", PV_J_STRING, 0, 1, 128, NULL},
        {"at_time", PV_J_STRING, 0, 1, 64, NULL},
        {"timezone", PV_J_STRING, 0, 1, 64, NULL},
        {"params", PV_J_OBJECT, 0, 0, 0, NULL},
        {"enabled", PV_J_BOOL, 0, 0, 0, NULL},
    };
    json_t *body = pv_api_body(r, spec, N(spec));

    if (!body)
        return;
    update(r, body);
    json_decref(body);
}

static void set_enabled(struct pv_req *r, int on)
{
    json_t *body = json_pack("{s:b}", "enabled", on);
    update(r, body);
    json_decref(body);
}

void pv_api_schedule_enable(struct pv_req *r) { set_enabled(r, 1); }
void pv_api_schedule_disable(struct pv_req *r) { set_enabled(r, 0); }

void pv_api_schedule_delete(struct pv_req *r)
{
    struct pv_error e = {0};

    if (pv_db_schedule_delete(r->params[0], &e)) {
        pv_reply_error(r, &e);
        return;
    }
    pv_event("schedule", r->params[0], "audit", r->user, "schedule deleted");
    pv_reply_json(r, 204, NULL);
}

void pv_api_schedule_run(struct pv_req *r)
{
    struct pv_error e = {0};
    char job[64];

    if (pv_schedule_fire(r->params[0], 1, job, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_job(r, job);
}

/* POST /schedules/preview {"cron" | "at_time", "timezone", "count"} */
void pv_api_schedule_preview(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"cron", PV_J_STRING, 0, 1, 128, NULL},
        {"at_time", PV_J_STRING, 0, 1, 64, NULL},
        {"timezone", PV_J_STRING, 0, 1, 64, NULL},
        {"count", PV_J_INT, 0, 1, 50, NULL},
        {"after", PV_J_STRING, 0, 1, 64, NULL},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, N(spec)), *runs, *details = NULL;
    const char *zone, *cron, *at;
    int64_t t = pv_clock_now();
    int count;

    if (!body)
        return;
    zone = json_string_value(json_object_get(body, "timezone"));
    cron = json_string_value(json_object_get(body, "cron"));
    at = json_string_value(json_object_get(body, "at_time"));
    count = json_object_get(body, "count") ? (int)json_integer_value(json_object_get(body, "count"))
                                           : 5;
    if (json_object_get(body, "after") &&
        pv_when_parse(json_string_value(json_object_get(body, "after")), NULL, &t, &e)) {
        details = json_pack("{s:s}", "field", "after");
        goto fail;
    }
    runs = json_array();
    for (int i = 0; i < count; i++) {
        int64_t next;
        char iso[32];
        if (pv_schedule_next(cron, at, zone ? zone : "UTC", t, &next, &e)) {
            json_decref(runs);
            details = json_pack("{s:s}", "field", cron ? "cron" : "at_time");
            goto fail;
        }
        if (!next)
            break;
        json_array_append_new(runs, json_string(pv_clock_iso(next, iso)));
        t = next;
    }
    pv_reply_json(r, 200, json_pack("{s:o,s:s}", "next_runs", runs, "timezone",
                                    zone ? zone : "UTC"));
    json_decref(body);
    return;
fail:
    pv_reply_error_details(r, &e, details);
    json_decref(body);
}

/* ---- plans -------------------------------------------------------------- */

void pv_api_plans_list(struct pv_req *r) { pv_api_list(r, &pv_coll_plans); }
void pv_api_plan_get(struct pv_req *r) { pv_api_get(r, &pv_coll_plans); }

void pv_api_plan_approve(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *params = json_pack("{s:s}", "plan_id", r->params[0]), *plan = NULL;
    char job[64], now[32];

    if (pv_db_get(&pv_coll_plans, r->params[0], &plan, &e) ||
        pv_db_plan_transition(r->params[0], "proposed", "approved", r->user,
                              pv_clock_iso(pv_clock_now(), now), NULL, &e) ||
        pv_api_submit(r, "plan.execute", "plan", r->params[0], "placement", params, job, &e)) {
        pv_reply_error(r, &e);
    } else {
        pv_event("plan", r->params[0], "audit", r->user, "plan approved; job %s carries it out",
                 job);
        pv_reply_job(r, job);
    }
    json_decref(plan);
    json_decref(params);
}

void pv_api_plan_reject(struct pv_req *r)
{
    struct pv_error e = {0};
    char now[32];

    if (pv_db_plan_transition(r->params[0], "proposed", "rejected", r->user,
                              pv_clock_iso(pv_clock_now(), now), NULL, &e)) {
        pv_reply_error(r, &e);
        return;
    }
    pv_event("plan", r->params[0], "audit", r->user, "plan rejected");
    pv_api_get(r, &pv_coll_plans);
}

/* ---- the clock ---------------------------------------------------------- */

void pv_api_clock_get(struct pv_req *r)
{
    char now[32];
    pv_reply_json(r, 200, json_pack("{s:s,s:b}", "now", pv_clock_iso(pv_clock_now(), now),
                                    "test_clock", pv_clock_is_test()));
}

void pv_api_clock_set(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"now", PV_J_STRING, PV_J_REQUIRED, 1, 64, NULL},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, N(spec));
    int64_t t;

    if (!body)
        return;
    if (pv_when_parse(json_string_value(json_object_get(body, "now")), NULL, &t, &e) ||
        pv_clock_set(t, &e)) {
        pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "now"));
    } else {
        pv_event("clock", NULL, "audit", r->user, "test clock set to %s",
                 json_string_value(json_object_get(body, "now")));
        pv_scheduler_wake();
        pv_api_clock_get(r);
    }
    json_decref(body);
}
