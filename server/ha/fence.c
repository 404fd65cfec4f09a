/* fence.c -- fencing: a VM never runs twice.
 *
 * When HA restarts a VM elsewhere, the copy left on the failed host is
 * recorded as fenced (db/db_ha.c keeps the rows).  When that host comes
 * back still holding the copy, the inventory sink asks here first
 * (pv_ha_fence_reported): the report does not touch the inventory, and a
 * vm.fence job (params: connection_id, native_id) stops the copy and removes
 * its definition (disks stay: they are the running VM's).  A removed copy is
 * remembered for FENCE_REMEMBER_S, so its late reports are still ignored;
 * when the endpoint says it is gone (pv_ha_fence_gone), the row is done.
 * main.c hands these two hooks to the inventory (pv_conns_set_fencing).
 */
#include <string.h>
#include "db/db.h"
#include "server/core/events.h"
#include "server/core/util.h"
#include "server/ha/jobs_ha.h"
#include "server/inventory/conns.h"
#include "server/jobs/jobs.h"

/* ---- vm.fence ----------------------------------------------------------- */

static int fence_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    json_t *p = pv_job_params(run);
    const char *conn = json_string_value(json_object_get(p, "connection_id"));
    const char *native = json_string_value(json_object_get(p, "native_id"));
    struct pv_handle h;
    struct pv_sink sink;
    struct pv_sink_ctx ctx;
    struct pv_error e = {0};
    int rc;

    (void)idx;
    rc = pv_conns_acquire(conn, &h, err);
    if (rc) {
        pv_db_fence_release(conn, native, 0);
        return rc;
    }
    rc = pv_conns_need(&h, PV_CAP_POWER | PV_CAP_DELETE, (void *)h.a->vm_action, err);
    if (!rc) {
        pv_conns_sink(&sink, &ctx, &h, run);
        /* stop it (it may be stopped already), then remove the definition only */
        h.a->vm_action(h.conn, native, PV_ACT_POWEROFF, &sink, &e);
        rc = h.a->vm_action(h.conn, native, PV_ACT_DELETE, &sink, err);
        if (rc && strcmp(err->code, pv_code_str(vm_not_found)) == 0)
            rc = 0; /* removed already: by this job before a restart of polyvisord, or by hand */
    }
    pv_conns_release(&h, rc == PV_EUNREACHABLE);
    if (rc == 0)
        pv_db_fence_done(conn, native); /* late reports of it are still ignored */
    else
        pv_db_fence_release(conn, native, 0);
    if (!rc)
        pv_event("vm", json_string_value(json_object_get(p, "vm_id")), "warning",
                 pv_job_actor(run),
                 "HA: the stale copy %s on the host that came back was stopped and removed "
                 "(the VM runs where HA restarted it)",
                 native);
    return rc;
}

static const char *const fence_steps[] = {"stop and remove the stale copy"};
const struct pv_job_kind pv_job_vm_fence = {"vm.fence", fence_steps, 1, fence_step, pv_job_resume};

/* How long a removed stale copy is remembered: reports of it from the
 * host's event stream arrive within this (seen: under a second). */
#define FENCE_REMEMBER_S 30

int pv_ha_fence_reported(const char *conn_id, const char *native_id)
{
    char vm_id[64], job_id[64], job[64];
    json_t *params;
    struct pv_error e = {0};

    pv_db_fence_forget_done(FENCE_REMEMBER_S);
    if (!pv_db_fence_find(conn_id, native_id, vm_id, job_id))
        return 0;
    if (job_id[0])
        return 1; /* being fenced, or just removed: a report still in flight */
    params = json_pack("{s:s,s:s,s:s}", "connection_id", conn_id, "native_id", native_id,
                       "vm_id", vm_id);
    /* claim first, so two reports do not start two jobs */
    if (pv_db_fence_claim(conn_id, native_id, "starting") == 0) {
        if (pv_job_submit_as("system", "vm.fence", "vm", vm_id, NULL, params, job, &e) == 0)
            pv_db_fence_set_job(conn_id, native_id, job);
        else
            pv_db_fence_release(conn_id, native_id, 0);
    }
    json_decref(params);
    return 1;
}

int pv_ha_fence_gone(const char *conn_id, const char *native_id)
{
    char vm_id[64], job_id[64];

    if (pv_db_fence_find(conn_id, native_id, vm_id, job_id) && !job_id[0]) {
        pv_db_fence_done(conn_id, native_id); /* the stale copy is gone */
        return 1;
    }
    return 0;
}
