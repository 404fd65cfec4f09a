/* jobs_ha.h -- job kinds of HA and maintenance mode (jobs_ha.c), and the
 * fencing hook the inventory sink calls. */
#ifndef PV_JOBS_HA_H
#define PV_JOBS_HA_H

#include "jobs.h"

extern const struct pv_job_kind pv_job_ha_restart, pv_job_vm_ha_restart, pv_job_vm_fence,
    pv_job_host_maintenance, pv_job_host_exit_maintenance;

/* A connection reported VM native_id.  If that copy is fenced (its VM was
 * restarted elsewhere), start fencing it (once) and return 1: the report
 * must not touch the inventory.  0 otherwise. */
int pv_ha_fence_reported(const char *conn_id, const char *native_id);

#endif
