/* jobs_ha.h -- the job kinds of HA (restart.c, fence.c) and of maintenance
 * mode (maintenance.c), and the fencing hooks the inventory sink calls. */
#ifndef PV_JOBS_HA_H
#define PV_JOBS_HA_H

#include "server/jobs/jobs.h"

extern const struct pv_job_kind pv_job_ha_restart, pv_job_vm_ha_restart, pv_job_vm_fence,
    pv_job_host_maintenance, pv_job_host_exit_maintenance;

/* A connection reported VM native_id.  If that copy is fenced (its VM was
 * restarted elsewhere), start fencing it (once) and return 1: the report
 * must not touch the inventory.  0 otherwise. */
int pv_ha_fence_reported(const char *conn_id, const char *native_id);
/* A connection says VM native_id is gone.  1 when it was a fenced copy
 * (its row is done; the inventory must not drop the VM, which runs
 * elsewhere), 0 otherwise. */
int pv_ha_fence_gone(const char *conn_id, const char *native_id);

#endif
