/* metrics.c -- see metrics.h.  Counters live in a fixed table keyed by the
 * route pattern's address and the status, under one mutex (metrics_lock);
 * rendering copies them out and reads gauges from the database. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "db/db.h"
#include "server/http/metrics.h"
#include "server/http/sse.h"

#define SLOTS 256
static const int64_t bucket_ms[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000};
#define NBUCKETS (sizeof bucket_ms / sizeof bucket_ms[0])

struct counter {
    const char *route;
    int status;
    unsigned long long n;
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
/* guarded by metrics_lock: */
static struct counter counters[SLOTS];
static unsigned long long buckets[NBUCKETS + 1];
static unsigned long long lat_count;
static double lat_sum_s;

void pv_metrics_request(const char *route, int status, int64_t ms)
{
    size_t h = (((uintptr_t)route >> 3) * 31u + (unsigned)status) % SLOTS;

    pthread_mutex_lock(&metrics_lock);
    for (size_t i = 0; i < SLOTS; i++, h = (h + 1) % SLOTS) {
        if (counters[h].route == route && counters[h].status == status) {
            counters[h].n++;
            break;
        }
        if (!counters[h].route) {
            counters[h].route = route;
            counters[h].status = status;
            counters[h].n = 1;
            break;
        }
    }
    for (size_t b = 0; b <= NBUCKETS; b++)
        if (b == NBUCKETS || ms <= bucket_ms[b])
            buckets[b]++;
    lat_count++;
    lat_sum_s += (double)ms / 1000.0;
    pthread_mutex_unlock(&metrics_lock);
}

static void gauge(struct pv_buf *t, const char *name, const char *help, const char *label,
                  const struct pv_collection *c, const char *field)
{
    json_t *counts = pv_db_count_by(c, field);
    const char *k;
    json_t *v;

    pv_buf_addf(t, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
    json_object_foreach(counts, k, v)
        pv_buf_addf(t, "%s{%s=\"%s\"} %lld\n", name, label, k, (long long)json_integer_value(v));
    json_decref(counts);
}

char *pv_metrics_render(void)
{
    struct pv_buf t = PV_BUF_INIT;
    struct counter copy[SLOTS];
    unsigned long long b[NBUCKETS + 1], count;
    double sum;

    pthread_mutex_lock(&metrics_lock);
    memcpy(copy, counters, sizeof copy);
    memcpy(b, buckets, sizeof b);
    count = lat_count;
    sum = lat_sum_s;
    pthread_mutex_unlock(&metrics_lock);

    pv_buf_addf(&t, "# HELP polyvisor_http_requests_total HTTP requests by route and status.\n"
            "# TYPE polyvisor_http_requests_total counter\n");
    for (size_t i = 0; i < SLOTS; i++)
        if (copy[i].route)
            pv_buf_addf(&t, "polyvisor_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
                copy[i].route, copy[i].status, copy[i].n);
    pv_buf_addf(&t, "# HELP polyvisor_http_request_duration_seconds Time to answer a request.\n"
            "# TYPE polyvisor_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < NBUCKETS; i++)
        pv_buf_addf(&t, "polyvisor_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
            (double)bucket_ms[i] / 1000.0, b[i]);
    pv_buf_addf(&t, "polyvisor_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n", b[NBUCKETS]);
    pv_buf_addf(&t, "polyvisor_http_request_duration_seconds_sum %.6f\n", sum);
    pv_buf_addf(&t, "polyvisor_http_request_duration_seconds_count %llu\n", count);
    gauge(&t, "polyvisor_jobs", "Jobs by state.", "state", &pv_coll_jobs, "state");
    gauge(&t, "polyvisor_hosts", "Hosts by state.", "state", &pv_coll_hosts, "state");
    gauge(&t, "polyvisor_vms", "VMs by power state.", "power_state", &pv_coll_vms, "power_state");
    gauge(&t, "polyvisor_connections", "Connections by state.", "state", &pv_coll_connections,
          "state");
    pv_buf_addf(&t, "# HELP polyvisor_event_streams Open server-sent event streams.\n"
            "# TYPE polyvisor_event_streams gauge\npolyvisor_event_streams %d\n",
        pv_sse_clients());
    return pv_buf_detach(&t);
}
