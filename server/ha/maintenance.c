/* maintenance.c -- host maintenance mode as job kinds.
 *
 *   host.maintenance: the host takes no new VMs (placement sees it in
 *       maintenance), its VMs leave through a placement.evacuate child job,
 *       and where the vendor has a maintenance mode of its own
 *       (PV_CAP_MAINTENANCE: vCenter) the host enters it too;
 *   host.exit_maintenance undoes both.
 */
#include <string.h>
#include "db/db.h"
#include "server/core/events.h"
#include "server/core/util.h"
#include "server/ha/jobs_ha.h"
#include "server/inventory/conns.h"
#include "server/jobs/jobs.h"

/* The vendor's own maintenance mode, where the adapter offers it (vCenter's
 * EnterMaintenanceMode_Task); a no-op elsewhere. */
static int vendor_maintenance(struct pv_job_run *run, int enter, struct pv_error *err)
{
    struct pv_db_host_ref host;
    struct pv_handle h;
    struct pv_sink sink;
    struct pv_sink_ctx ctx;
    int rc = pv_db_host_ref(pv_job_target(run), &host, err);

    if (!rc)
        rc = pv_conns_acquire(host.connection_id, &h, err);
    if (rc)
        return rc;
    if ((h.a->caps & PV_CAP_MAINTENANCE) && h.a->host_maintenance) {
        pv_conns_sink(&sink, &ctx, &h, run);
        rc = h.a->host_maintenance(h.conn, host.native_id, enter, &sink, err);
        json_object_set_new(pv_job_result(run), "vendor_maintenance", json_true());
    }
    pv_conns_release(&h, rc == PV_EUNREACHABLE);
    return rc;
}

static int enter_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    json_t *p = pv_job_params(run);
    const char *mode = json_string_value(json_object_get(p, "evacuate"));
    struct pv_error e = {0};
    const char *recorded;
    char child[64];
    json_t *params;
    int rc;

    if (idx == 0) {
        rc = pv_db_host_set_maintenance(pv_job_target(run), 1, err);
        if (!rc)
            pv_event("host", pv_job_target(run), "warning", pv_job_actor(run),
                     "host entered maintenance mode");
        return rc;
    }
    if (idx == 2)
        return vendor_maintenance(run, 1, err);
    if (!mode || strcmp(mode, "none") == 0)
        return 0;
    recorded = json_string_value(json_object_get(pv_job_result(run), "evacuate_job_id"));
    if (recorded && pv_job_outcome(recorded, &e) == PV_JOB_PENDING) {
        /* started before a restart of polyvisord: finish that one */
        snprintf(child, sizeof child, "%s", recorded);
        rc = 0;
    } else {
        params = json_pack("{s:s,s:s}", "host_id", pv_job_target(run), "mode", mode);
        rc = pv_job_child_new(run, "placement.evacuate", "host", pv_job_target(run), params,
                              child, &e);
        json_decref(params);
        if (!rc) { /* on record before it runs */
            json_object_set_new(pv_job_result(run), "evacuate_job_id", json_string(child));
            pv_job_save(run);
        }
    }
    if (!rc)
        rc = pv_job_child_run(run, child, &e);
    if (rc)
        return e.err ? pv_error_reword(err, &e, "%s", e.message)
                     : pv_fail(err, job_step_failed, "the evacuation job could not start");
    return 0;
}

static const char *const enter_steps[] = {"enter maintenance", "evacuate",
                                          "vendor maintenance mode"};
const struct pv_job_kind pv_job_host_maintenance = {"host.maintenance", enter_steps, 3,
                                                    enter_step, pv_job_resume};

static int exit_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    int rc = vendor_maintenance(run, 0, err);

    (void)idx;
    if (!rc)
        rc = pv_db_host_set_maintenance(pv_job_target(run), 0, err);
    if (!rc)
        pv_event("host", pv_job_target(run), "info", pv_job_actor(run),
                 "host left maintenance mode");
    return rc;
}

static const char *const exit_steps[] = {"exit maintenance"};
const struct pv_job_kind pv_job_host_exit_maintenance = {"host.exit_maintenance", exit_steps, 1,
                                                         exit_step, pv_job_resume};
