/* monitor.h -- monitoring history: a thread that samples every connected
 * host's and every running VM's CPU and memory at `metrics_interval`
 * seconds, rolls raw samples up into five-minute averages, and expires raw
 * samples after `metrics_raw_retention` and averages after
 * `metrics_rollup_retention`.  The API that reads a series back is
 * server/http/api_metrics.c.
 *
 * At each sample it also checks every host against its host group's alert
 * thresholds (policy "alerts": cpu_pct, memory_pct, unreachable) and raises
 * or clears alerts, each an event; GET /api/v1/alerts lists the active ones.
 *
 * Time is the daemon's clock (clock.h): a test clock that jumps a day makes
 * one sample, not 1,440, and expiry follows it.
 */
#ifndef PV_MONITOR_H
#define PV_MONITOR_H

#include "server/core/config.h"

int pv_monitor_start(const struct pv_config *cfg, struct pv_error *err);
void pv_monitor_stop(void);

/* The width of a rolled-up average. */
#define PV_MONITOR_ROLLUP_S 300
/* Seconds between samples, and how long raw samples are kept (start-up
 * configuration). */
int pv_monitor_interval(void);
int pv_monitor_raw_keep(void);

#endif
