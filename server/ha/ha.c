/* ha.c -- see ha.h.  Its thread is a pv_ticker.  The failure clock is the
 * database's (real time), not the test clock of schedules: failure
 * detection is about elapsed time.
 *
 * Silence alone does not fail a host whose VMs Polyvisor would restart:
 * before that, up to WITNESSES other hosts of the same type are asked
 * whether its hypervisor answers them (the adapter's host_probe).  One that
 * does is evidence that the host lives, cut off from polyvisord only, and
 * restarting its VMs elsewhere would run them twice: the host stays
 * disconnected, an event says which host vouched for it, and the question is
 * asked again every RECHECK_S.  Without a witness that can check, silence
 * decides, and the failure event says so. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "db/db.h"
#include "server/inventory/conns.h"
#include "server/inventory/plugins.h"
#include "server/core/events.h"
#include "server/ha/ha.h"
#include "server/jobs/jobs.h"
#include "server/core/log.h"
#include "server/sched/ticker.h"

#define WITNESSES 3
#define PROBE_TIMEOUT_MS 2000
#define RECHECK_S 10
#define LOST_SLOTS 64

static int timeout_s;            /* start-up configuration */

/* Lost hosts a witness vouched for (ticker thread only): not asked again
 * before next_check, and reported once per spell of unreachability. */
static struct lost {
    char host_id[64];
    char since[32];
    time_t next_check;
} lost[LOST_SLOTS];

static struct lost *lost_slot(const char *host_id, const char *since)
{
    struct lost *free_slot = &lost[0];

    for (int i = 0; i < LOST_SLOTS; i++) {
        if (strcmp(lost[i].host_id, host_id) == 0) {
            if (strcmp(lost[i].since, since) != 0) /* a new spell */
                memset(&lost[i], 0, sizeof lost[i]);
            snprintf(lost[i].host_id, sizeof lost[i].host_id, "%s", host_id);
            snprintf(lost[i].since, sizeof lost[i].since, "%s", since);
            return &lost[i];
        }
        if (lost[i].next_check < free_slot->next_check)
            free_slot = &lost[i];
    }
    memset(free_slot, 0, sizeof *free_slot);
    snprintf(free_slot->host_id, sizeof free_slot->host_id, "%s", host_id);
    snprintf(free_slot->since, sizeof free_slot->since, "%s", since);
    return free_slot;
}

enum evidence { NO_WITNESS, NOT_SEEN, ALIVE };

/* Asks other hosts whether lost host h answers them; what they said goes
 * into said ("host b: …; host c: …"). */
static enum evidence ask_witnesses(const json_t *h, char *said, size_t size)
{
    json_t *ws = pv_db_ha_witnesses(json_string_value(json_object_get(h, "connection_type")),
                                    json_string_value(json_object_get(h, "connection_id")),
                                    WITNESSES);
    json_t *w;
    size_t i, len = 0;
    int checked = 0;
    enum evidence ev = NO_WITNESS;

    said[0] = '\0';
    json_array_foreach(ws, i, w) {
        struct pv_handle hd;
        struct pv_error e = {0};
        char detail[256] = "";
        int alive = 0;
        int rc = pv_conns_acquire(json_string_value(json_object_get(w, "connection_id")), &hd, &e);

        if (!rc) {
            rc = pv_conns_need(&hd, PV_CAP_PROBE, (void *)hd.a->host_probe, &e);
            if (!rc)
                rc = hd.a->host_probe(hd.conn, json_string_value(json_object_get(h, "facts")),
                                      PROBE_TIMEOUT_MS, &alive, detail, sizeof detail, &e);
            pv_conns_release(&hd, rc == PV_EUNREACHABLE);
        }
        if (len < size)
            len += (size_t)snprintf(said + len, size - len, "%shost %s: %s", i ? "; " : "",
                                    json_string_value(json_object_get(w, "name")),
                                    rc ? e.message : detail);
        if (!rc && alive) {
            ev = ALIVE;
            break;
        }
        checked += !rc;
    }
    json_decref(ws);
    if (ev != ALIVE)
        ev = checked ? NOT_SEEN : NO_WITNESS;
    return ev;
}

/* Endpoint types whose hosts Polyvisor restarts VMs for: those with no HA
 * of their own, as their adapter says. */
static int polyvisor_restarts(const char *type)
{
    return pv_plugins_has(type, PV_CAP_HA_RESTART);
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
        const char *since = json_string_value(json_object_get(h, "unreachable_since"));
        struct pv_error e = {0};
        char job[64], said[768] = "";
        enum evidence ev = NO_WITNESS;

        if (polyvisor_restarts(type)) {
            struct lost *l = lost_slot(id, since);
            if (time(NULL) < l->next_check)
                continue; /* vouched for lately */
            ev = ask_witnesses(h, said, sizeof said);
            if (ev == ALIVE) {
                if (!l->next_check)
                    pv_event("host", id, "warning", NULL,
                             "host %s is unreachable from polyvisord since %s, but not failed: "
                             "%s; its VMs are not restarted elsewhere", name, since, said);
                l->next_check = time(NULL) + RECHECK_S;
                continue;
            }
        }
        if (pv_db_host_mark_failed(id) != 0)
            continue; /* it answered meanwhile */
        pv_event("host", id, "error", NULL,
                 "host %s failed: unreachable since %s, longer than host_failure_timeout (%d s)%s%s",
                 name, since, timeout_s,
                 !polyvisor_restarts(type) ? ""
                 : ev == NOT_SEEN          ? "; other hosts do not reach it either: "
                 : said[0]                 ? "; no other host could check: "
                                           : "; no other host to ask",
                 said);
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
