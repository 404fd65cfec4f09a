/* kinds.h -- the generic job kinds: VM actions, create, migrate,
 * reconfigure and clone (jobs_vm.c), connection sync and delete
 * (jobs_conn.c).  The kinds of schedules and plans are in jobs_placement.h,
 * those of HA and maintenance in server/ha/jobs_ha.h.  main.c lists them all
 * in the registry it hands the engine (pv_jobs_start). */
#ifndef PV_JOB_KINDS_H
#define PV_JOB_KINDS_H

#include "server/jobs/jobs.h"

extern const struct pv_job_kind pv_job_vm_start, pv_job_vm_shutdown, pv_job_vm_poweroff,
    pv_job_vm_reboot, pv_job_vm_pause, pv_job_vm_resume, pv_job_vm_save, pv_job_vm_delete,
    pv_job_vm_create, pv_job_vm_migrate, pv_job_vm_reconfigure, pv_job_vm_clone;
extern const struct pv_job_kind pv_job_connection_sync, pv_job_connection_delete;
/* jobs_devices.c: a change to one of a VM's disks or NICs */
extern const struct pv_job_kind pv_job_vm_device;
extern const struct pv_job_kind pv_job_vm_snapshot;

#endif
