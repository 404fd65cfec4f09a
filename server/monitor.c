/* monitor.c -- see monitor.h.  Its thread is a pv_ticker; next_sample and
 * rolled_to are that thread's own. */
#include <stdlib.h>
#include <string.h>
#include "../db/db.h"
#include "clock.h"
#include "events.h"
#include "http.h"
#include "log.h"
#include "monitor.h"
#include "placement/cron.h"
#include "placement/inventory.h"
#include "ticker.h"
#include "util.h"

#define ROLLUP_S 300

static int64_t next_sample, rolled_to;   /* the ticker thread's */
/* start-up configuration */
static int interval_s, raw_keep_s, rollup_keep_s;

/* Raise or clear one alert of a host, with an event either way. */
static void alert(const struct pv_pl_host *H, const char *kind, int on, double value,
                  double threshold, const char *what)
{
    char id[64], msg[256], now[32];

    if (on) {
        snprintf(msg, sizeof msg, "host %s %s", H->name, what);
        pv_id_new(id, "al");
        if (pv_db_alert_raise(id, H->id, kind, value, threshold, msg,
                              pv_clock_iso(pv_clock_now(), now)) == 0)
            pv_event("host", H->id, "warning", NULL, "alert raised: %s", msg);
    } else if (pv_db_alert_clear(H->id, kind) == 0) {
        pv_event("host", H->id, "info", NULL, "alert cleared: host %s %s", H->name, what);
    }
}

/* The thresholds of each host's group policy, against its latest figures. */
static void check_alerts(void)
{
    struct pv_pl_inv *inv = NULL;
    char what[128];

    if (pv_pl_inv_load(&inv, NULL))
        return;
    for (int h = 0; h < inv->nhosts; h++) {
        const struct pv_pl_host *H = &inv->hosts[h];
        const struct pv_pl_policy *p = pv_pl_host_policy(inv, h);
        int down = H->state == PV_PL_DISCONNECTED || H->state == PV_PL_FAILED;
        double mem = H->memory_mb > 0 ? 100.0 * (double)H->memory_used_mb / (double)H->memory_mb
                                      : 0;

        alert(H, "unreachable", down && p->alert_unreachable, 0, 0,
              down ? "does not answer" : "answers again");
        snprintf(what, sizeof what, "CPU at %.1f%% (threshold %.0f%%)", H->cpu_usage_pct,
                 p->alert_cpu_pct);
        alert(H, "cpu", !down && p->alert_cpu_pct > 0 && H->cpu_usage_pct > p->alert_cpu_pct,
              H->cpu_usage_pct, p->alert_cpu_pct, what);
        snprintf(what, sizeof what, "memory at %.1f%% (threshold %.0f%%)", mem,
                 p->alert_memory_pct);
        alert(H, "memory", !down && p->alert_memory_pct > 0 && mem > p->alert_memory_pct, mem,
              p->alert_memory_pct, what);
    }
    pv_pl_inv_free(inv);
}

static void tick(void)
{
    int64_t now = pv_clock_now(), rows = 0, upto = now / ROLLUP_S * ROLLUP_S;
    struct pv_error e = {0};

    if (now >= next_sample) {
        if (pv_db_metrics_sample(now, &rows, &e))
            pv_log(PV_LOG_WARN, "monitor", "event=sample_failed code=%s", e.code);
        check_alerts();
        next_sample = now + interval_s;
    }
    if (upto > rolled_to) {
        /* complete five-minute buckets since the last roll-up */
        if (pv_db_metrics_rollup(rolled_to, upto, &e) == 0)
            rolled_to = upto;
        pv_db_metrics_expire(0, now - raw_keep_s, NULL);
        pv_db_metrics_expire(1, now - rollup_keep_s, NULL);
    }
}

static struct pv_ticker ticker = PV_TICKER_INIT(tick);

int pv_monitor_start(const struct pv_config *cfg, struct pv_error *err)
{
    int64_t latest = pv_db_metrics_latest(1);

    interval_s = cfg->metrics_interval;
    raw_keep_s = cfg->metrics_raw_retention;
    rollup_keep_s = cfg->metrics_rollup_retention;
    next_sample = 0;
    rolled_to = latest >= 0 ? latest : 0; /* re-rolling a bucket is harmless */
    return pv_ticker_start(&ticker, "monitor", err);
}

void pv_monitor_stop(void)
{
    pv_ticker_stop(&ticker);
}

/* ---- the API ------------------------------------------------------------ */

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
    step = step_s ? strtoll(step_s, NULL, 10) : interval_s;
    if (step < 1 || step > 31LL * 86400 || from >= to || to - from > 366LL * 86400 ||
        (to - from) / step > 10000) {
        pv_fail(&e, invalid_value,
                     "need from < to (at most a year apart), step 1 s to 31 days, at most "
                     "10,000 points");
        goto fail;
    }
    /* five-minute averages for coarse steps or for times raw samples no longer cover */
    tier = step >= ROLLUP_S || from < now - raw_keep_s;
    if (tier && step < ROLLUP_S)
        step = ROLLUP_S;
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
