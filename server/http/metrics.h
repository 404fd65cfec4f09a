/* metrics.h -- counters for GET /metrics (Prometheus text format 0.0.4):
 * requests by route and status, request latency histogram, plus gauges the
 * renderer reads from the inventory (jobs, hosts and VMs by state). */
#ifndef PV_METRICS_H
#define PV_METRICS_H

#include <stdint.h>

/* route: the matched pattern (a static string) or "unmatched". */
void pv_metrics_request(const char *route, int status, int64_t ms);
/* malloc'd text */
char *pv_metrics_render(void);

#endif
