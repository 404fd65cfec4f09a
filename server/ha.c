/* ha.c -- see ha.h.  Its thread is a pv_ticker.  The failure clock is the
 * database's (real time), not the test clock of schedules: failure
 * detection is about elapsed time. */
#include <string.h>
#include <time.h>
#include "../db/db.h"
#include "events.h"
#include "ha.h"
#include "jobs.h"
#include "log.h"
#include "ticker.h"

static int timeout_s;            /* start-up configuration */

/* Endpoint types whose hosts Polyvisor restarts VMs for. */
static int polyvisor_restarts(const char *type)
{
    return strcmp(type, "kvm") == 0 || strcmp(type, "test") == 0;
}

static void check_hosts(void)
{
    time_t cutoff = time(NULL) - timeout_s;
    struct tm tm;
    char before[32];
    json_t *hosts, *h;
    size_t i;

    gmtime_r(&cutoff, &tm);
    strftime(before, sizeof before, "%Y-%m-%dT%H:%M:%S.999Z", &tm);
    hosts = pv_db_hosts_unreachable_since(before);
    json_array_foreach(hosts, i, h) {
        const char *id = json_string_value(json_object_get(h, "id"));
        const char *name = json_string_value(json_object_get(h, "name"));
        const char *type = json_string_value(json_object_get(h, "connection_type"));
        struct pv_error e = {0};
        char job[64];

        if (pv_db_host_mark_failed(id) != 0)
            continue; /* it answered meanwhile */
        pv_event("host", id, "error", NULL,
                 "host %s failed: unreachable since %s, longer than host_failure_timeout (%d s)",
                 name, json_string_value(json_object_get(h, "unreachable_since")), timeout_s);
        if (!polyvisor_restarts(type)) {
            pv_event("host", id, "info", NULL,
                     "host %s: its %s cluster's own HA restarts its VMs; Polyvisor observes", name,
                     type);
            continue;
        }
        if (pv_job_submit_as("system", "ha.restart", "host", id, "ha", NULL, job, &e))
            pv_log(PV_LOG_ERROR, "ha", "event=restart_not_started host=%s code=%s", id, e.code);
        else
            pv_log(PV_LOG_WARN, "ha", "event=host_failed host=%s job=%s", id, job);
    }
    json_decref(hosts);
}

static struct pv_ticker ticker = PV_TICKER_INIT(check_hosts);

int pv_ha_start(int host_failure_timeout_s, struct pv_error *err)
{
    timeout_s = host_failure_timeout_s;
    return pv_ticker_start(&ticker, "HA monitor", err);
}

void pv_ha_stop(void)
{
    pv_ticker_stop(&ticker);
}
