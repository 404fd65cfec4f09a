/* kinds.h -- the generic job kinds: VM actions, create, migrate,
 * reconfigure and clone (jobs_vm.c), connection sync and delete
 * (jobs_conn.c).  The kinds of schedules and plans are in jobs_placement.h,
 * those of HA and maintenance in server/ha/jobs_ha.h.  main.c lists them all
 * in the registry it hands the engine (pv_jobs_start). */
#ifndef PV_JOB_KINDS_H
#define PV_JOB_KINDS_H

#include "db/db.h"
#include "server/inventory/conns.h"
#include "server/jobs/jobs.h"

/* One adapter call on a job's VM (jobs_vm.c), the shape every kind that
 * changes a VM shares: pv_vm_call_open finds the VM and takes a handle on
 * its connection with a sink for the job (0, or an error with nothing
 * held); the kind checks its capability (pv_conns_need) and calls the
 * adapter through c.h, c.vm.native_id and &c.sink; pv_vm_call_close stores
 * what the call changed (unless the endpoint was unreachable) and lets the
 * handle go. */
struct pv_vm_call {
    struct pv_db_vm_ref vm;
    struct pv_handle h;
    struct pv_sink sink;
    struct pv_sink_ctx ctx;
};
int pv_vm_call_open(struct pv_job_run *run, struct pv_vm_call *c, struct pv_error *err);
void pv_vm_call_close(struct pv_vm_call *c, struct pv_job_run *run, int rc);

extern const struct pv_job_kind pv_job_vm_start, pv_job_vm_shutdown, pv_job_vm_poweroff,
    pv_job_vm_reboot, pv_job_vm_pause, pv_job_vm_resume, pv_job_vm_save, pv_job_vm_delete,
    pv_job_vm_create, pv_job_vm_migrate, pv_job_vm_reconfigure, pv_job_vm_clone;
extern const struct pv_job_kind pv_job_connection_sync, pv_job_connection_delete;
/* jobs_devices.c: a change to one of a VM's disks or NICs */
extern const struct pv_job_kind pv_job_vm_device;
extern const struct pv_job_kind pv_job_vm_snapshot;

#endif
