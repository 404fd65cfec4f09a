/* scheduler.c -- see scheduler.h.  Its thread is a pv_ticker. */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/sched/clock.h"
#include "server/core/events.h"
#include "server/jobs/jobs.h"
#include "server/core/log.h"
#include "server/sched/cron.h"
#include "server/sched/tz.h"
#include "server/sched/scheduler.h"
#include "server/sched/ticker.h"

static void tick(void);
static struct pv_ticker ticker = PV_TICKER_INIT(tick);

int pv_schedule_next(const char *cron, const char *at_time, const char *zone, int64_t after,
                     int64_t *next, struct pv_error *err)
{
    struct pv_tz *tz = NULL;
    struct pv_cron *c = NULL;
    int rc;

    *next = 0;
    if (!cron == !at_time)
        return pv_fail(err, invalid_value,
                            "a schedule has either 'cron' or 'at_time'");
    rc = pv_tz_load(zone ? zone : "UTC", &tz, err);
    if (rc)
        return rc;
    if (cron) {
        rc = pv_cron_parse(cron, &c, err);
        if (!rc)
            rc = pv_cron_next(c, tz, after, next, err);
    } else {
        rc = pv_when_parse(at_time, tz, next, err);
        if (!rc && *next <= after)
            *next = 0;
    }
    pv_cron_free(c);
    pv_tz_free(tz);
    return rc;
}

int pv_schedule_fire(const char *id, int manual, char job_id[64], struct pv_error *err)
{
    json_t *s = NULL, *params;
    const char *kind, *cron, *at, *zone, *actor;
    char kind_name[64], now_iso[32], next_iso[32];
    int64_t now = pv_clock_now(), next = 0;
    struct pv_error next_err = {0};
    int rc;

    job_id[0] = '\0';
    rc = pv_db_get(&pv_coll_schedules, id, &s, err);
    if (rc)
        return rc;
    kind = json_string_value(json_object_get(s, "kind"));
    cron = json_string_value(json_object_get(s, "cron"));
    at = json_string_value(json_object_get(s, "at_time"));
    zone = json_string_value(json_object_get(s, "timezone"));
    actor = json_string_value(json_object_get(s, "created_by"));
    params = json_deep_copy(json_object_get(s, "params"));
    if (!json_is_object(params)) {
        json_decref(params);
        params = json_object();
    }
    json_object_set_new(params, "schedule_id", json_string(id));
    json_object_set(params, "timezone", json_object_get(s, "timezone"));
    snprintf(kind_name, sizeof kind_name, "placement.%s", kind);
    rc = pv_job_submit_as(actor, kind_name, "schedule", id, "placement", params, job_id, err);
    json_decref(params);
    pv_clock_iso(now, now_iso);
    if (manual) { /* the regular runs go on as they were */
        const char *keep = json_string_value(json_object_get(s, "next_run_at"));
        snprintf(next_iso, sizeof next_iso, "%s", keep ? keep : "");
    } else if (pv_schedule_next(cron, at, zone, now, &next, &next_err) == 0 && next) {
        pv_clock_iso(next, next_iso); /* missed runs collapse into this one */
    } else {
        next_iso[0] = '\0';
    }
    pv_db_schedule_fired(id, now_iso, next_iso[0] ? next_iso : NULL, rc ? NULL : job_id,
                         rc ? err->message : NULL);
    if (rc)
        pv_event("schedule", id, "error", actor, "schedule %s could not start: %s",
                 json_string_value(json_object_get(s, "name")), err->message);
    else
        pv_event("schedule", id, "info", actor, "schedule %s %s: job %s",
                 json_string_value(json_object_get(s, "name")), manual ? "run now" : "fired",
                 job_id);
    json_decref(s);
    return rc;
}

static void tick(void)
{
    char now_iso[32];
    json_t *due = pv_db_schedules_due(pv_clock_iso(pv_clock_now(), now_iso)), *id;
    size_t i;

    json_array_foreach(due, i, id) {
        struct pv_error e = {0};
        char job[64];
        if (pv_schedule_fire(json_string_value(id), 0, job, &e))
            pv_log(PV_LOG_WARN, "scheduler", "event=fire_failed schedule=%s code=%s",
                   json_string_value(id), e.code);
        else
            pv_log(PV_LOG_INFO, "scheduler", "event=fired schedule=%s job=%s",
                   json_string_value(id), job);
    }
    json_decref(due);
}

int pv_scheduler_start(struct pv_error *err)
{
    return pv_ticker_start(&ticker, "scheduler", err);
}

void pv_scheduler_wake(void)
{
    pv_ticker_wake(&ticker);
}

void pv_scheduler_stop(void)
{
    pv_ticker_stop(&ticker);
}
