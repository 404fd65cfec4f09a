/* ha.c -- see ha.h.  ha_lock guards `stopping` and pairs with ha_cond for
 * the one-second tick.  The failure clock is the database's (real time), not
 * the test clock of schedules: failure detection is about elapsed time. */
#include <pthread.h>
#include <string.h>
#include <time.h>
#include "../db/db.h"
#include "events.h"
#include "ha.h"
#include "jobs.h"
#include "log.h"

static pthread_mutex_t ha_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ha_cond = PTHREAD_COND_INITIALIZER;
static int stopping;             /* guarded by ha_lock */
static int timeout_s;            /* start-up configuration */
static pthread_t thread;
static int started;

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

static void *ha_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&ha_lock);
    while (!stopping) {
        struct timespec until;
        pthread_mutex_unlock(&ha_lock);
        check_hosts();
        pthread_mutex_lock(&ha_lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        if (!stopping)
            pthread_cond_timedwait(&ha_cond, &ha_lock, &until);
    }
    pthread_mutex_unlock(&ha_lock);
    return NULL;
}

int pv_ha_start(int host_failure_timeout_s, struct pv_error *err)
{
    timeout_s = host_failure_timeout_s;
    if (pthread_create(&thread, NULL, ha_main, NULL) != 0)
        return pv_error_set(err, PV_EINTERNAL, "thread_failed", "cannot start the HA monitor");
    started = 1;
    return 0;
}

void pv_ha_stop(void)
{
    if (!started)
        return;
    pthread_mutex_lock(&ha_lock);
    stopping = 1;
    pthread_cond_broadcast(&ha_cond);
    pthread_mutex_unlock(&ha_lock);
    pthread_join(thread, NULL);
    started = 0;
}
