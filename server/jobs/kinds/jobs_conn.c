/* jobs_conn.c -- job kinds for connections: connection.sync (added, or
 * asked to re-read) and connection.delete (forget it and what it brought).
 * Both are idempotent, so after a restart they simply run again. */
#include <string.h>
#include "db/db.h"
#include "server/inventory/conns.h"
#include "server/core/events.h"
#include "server/jobs/kinds/kinds.h"

static int sync_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    const char *id = pv_job_target(run);
    struct pv_handle h;
    int rc;

    if (idx == 0) {
        rc = pv_conns_acquire(id, &h, err);
        if (rc)
            return rc;
        pv_conns_release(&h, 0);
        pv_db_connection_set_state(id, "connected", NULL);
        return 0;
    }
    rc = pv_conns_sync(id, run, err);
    if (!rc) {
        json_object_set_new(pv_job_result(run), "connection_id", json_string(id));
        pv_event("connection", id, "info", pv_job_actor(run), "connection %s synchronised", id);
    }
    return rc;
}

static const char *const sync_steps[] = {"connect", "sync inventory"};
const struct pv_job_kind pv_job_connection_sync = {"connection.sync", sync_steps, 2, sync_step,
                                                   pv_job_resume};

static int delete_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    const char *id = pv_job_target(run);
    int rc;

    if (idx == 0) {
        pv_conns_forget(id);
        return 0;
    }
    rc = pv_db_connection_delete(id, err);
    if (rc == PV_ENOTFOUND)
        return 0; /* already gone: the goal is reached */
    if (!rc)
        pv_event("connection", id, "audit", pv_job_actor(run),
                 "connection %s removed with its hosts and VMs", id);
    return rc;
}

static const char *const delete_steps[] = {"disconnect", "remove inventory"};
const struct pv_job_kind pv_job_connection_delete = {"connection.delete", delete_steps, 2,
                                                     delete_step, pv_job_resume};
