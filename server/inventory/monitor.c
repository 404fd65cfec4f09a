/* monitor.c -- see monitor.h.  Its thread is a pv_ticker; next_sample and
 * rolled_to are that thread's own. */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/sched/clock.h"
#include "server/core/events.h"
#include "server/core/log.h"
#include "server/inventory/monitor.h"
#include "server/sched/cron.h"
#include "server/inventory/snapshot.h"
#include "server/sched/ticker.h"
#include "server/core/util.h"

#define ROLLUP_S PV_MONITOR_ROLLUP_S

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

    if (pv_snapshot_load(&inv, NULL))
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

int pv_monitor_interval(void)
{
    return interval_s;
}

int pv_monitor_raw_keep(void)
{
    return raw_keep_s;
}
