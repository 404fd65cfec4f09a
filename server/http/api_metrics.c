/* api_metrics.c -- a host's or a VM's monitoring history as the API reads
 * it back (GET /hosts/{id}/metrics, /vms/{id}/metrics?from=&to=&step=):
 * raw samples for fine steps over recent times, five-minute averages for
 * coarse steps or times the raw samples no longer cover (inventory/monitor.c
 * writes both). */
#include <stdlib.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/inventory/monitor.h"
#include "server/sched/clock.h"
#include "server/sched/cron.h"

static int time_arg(struct pv_req *r, const char *key, int64_t dflt, int64_t *out,
                    struct pv_error *err)
{
    const char *v = pv_req_query(r, key);
    char *end;
    long long n;

    *out = dflt;
    if (!v)
        return 0;
    n = strtoll(v, &end, 10);
    if (*v && !*end) { /* Unix seconds */
        *out = n;
        return 0;
    }
    if (pv_when_parse(v, NULL, out, err))
        return pv_fail(err, invalid_value,
                            "%s: an ISO-8601 time (2026-12-02T10:00:00Z) or Unix seconds", key);
    return 0;
}

static void series(struct pv_req *r, const struct pv_collection *c)
{
    struct pv_error e = {0};
    json_t *obj = NULL, *points = NULL, *p;
    int64_t now = pv_clock_now(), from, to, step;
    const char *step_s = pv_req_query(r, "step");
    char iso[32], from_iso[32], to_iso[32];
    size_t i;
    int tier;

    if (pv_db_get(c, r->params[0], &obj, &e) || time_arg(r, "to", now, &to, &e) ||
        time_arg(r, "from", to - 3600, &from, &e))
        goto fail;
    json_decref(obj);
    step = step_s ? strtoll(step_s, NULL, 10) : pv_monitor_interval();
    if (step < 1 || step > 31LL * 86400 || from >= to || to - from > 366LL * 86400 ||
        (to - from) / step > 10000) {
        pv_fail(&e, invalid_value,
                     "need from < to (at most a year apart), step 1 s to 31 days, at most "
                     "10,000 points");
        goto fail;
    }
    /* five-minute averages for coarse steps or for times raw samples no longer cover */
    tier = step >= PV_MONITOR_ROLLUP_S || from < now - pv_monitor_raw_keep();
    if (tier && step < PV_MONITOR_ROLLUP_S)
        step = PV_MONITOR_ROLLUP_S;
    if (pv_db_metrics_series(r->params[0], tier, from, to, step, &points, &e))
        goto fail;
    json_array_foreach(points, i, p)
        json_object_set_new(p, "t",
                            json_string(pv_clock_iso(json_integer_value(json_object_get(p, "t")),
                                                     iso)));
    pv_reply_json(r, 200, json_pack("{s:s,s:s,s:s,s:I,s:s,s:o}", "object_id", r->params[0],
                                    "from", pv_clock_iso(from, from_iso), "to",
                                    pv_clock_iso(to, to_iso), "step", (json_int_t)step, "tier",
                                    tier ? "5m" : "raw", "points", points));
    return;
fail:
    json_decref(points);
    pv_reply_error(r, &e);
}

void pv_api_host_metrics(struct pv_req *r) { series(r, &pv_coll_hosts); }
void pv_api_vm_metrics(struct pv_req *r) { series(r, &pv_coll_vms); }
