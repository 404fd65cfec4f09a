/* api.h -- the REST API's handlers, one group per file (api_*.c); the
 * route table that binds them to METHOD + path is server/routes.c and the
 * document that describes them is server/openapi.json. */
#ifndef PV_API_H
#define PV_API_H

#include "server/http/http.h"

/* api_misc.c */
void pv_api_healthz(struct pv_req *r);
void pv_api_metrics(struct pv_req *r);
void pv_api_openapi(struct pv_req *r);
void pv_api_adapters(struct pv_req *r);
void pv_api_login(struct pv_req *r);
void pv_api_logout(struct pv_req *r);
void pv_api_whoami(struct pv_req *r);
void pv_api_users_list(struct pv_req *r);
void pv_api_user_create(struct pv_req *r);
void pv_api_user_patch(struct pv_req *r);
void pv_api_user_delete(struct pv_req *r);
void pv_api_password_change(struct pv_req *r);
void pv_api_tokens_list(struct pv_req *r);
void pv_api_token_create(struct pv_req *r);
void pv_api_token_delete(struct pv_req *r);

/* api_inventory.c */
void pv_api_vms_list(struct pv_req *r);
void pv_api_vm_get(struct pv_req *r);
void pv_api_hosts_list(struct pv_req *r);
void pv_api_host_get(struct pv_req *r);
void pv_api_host_patch(struct pv_req *r);
void pv_api_clusters_list(struct pv_req *r);
void pv_api_pools_list(struct pv_req *r);
void pv_api_pool_get(struct pv_req *r);
void pv_api_networks_list(struct pv_req *r);
void pv_api_network_get(struct pv_req *r);
void pv_api_cluster_get(struct pv_req *r);
void pv_api_events_list(struct pv_req *r);
void pv_api_events_stream(struct pv_req *r);
void pv_api_schedules_list(struct pv_req *r);
void pv_api_schedule_get(struct pv_req *r);

/* api_vms.c */
void pv_api_vm_create(struct pv_req *r);
void pv_api_vm_delete(struct pv_req *r);
void pv_api_vm_patch(struct pv_req *r);
void pv_api_vm_start(struct pv_req *r);
void pv_api_vm_shutdown(struct pv_req *r);
void pv_api_vm_poweroff(struct pv_req *r);
void pv_api_vm_reboot(struct pv_req *r);
void pv_api_vm_pause(struct pv_req *r);
void pv_api_vm_resume(struct pv_req *r);
void pv_api_vm_save(struct pv_req *r);
void pv_api_vm_migrate(struct pv_req *r);
void pv_api_vm_reconfigure(struct pv_req *r);
void pv_api_vm_clone(struct pv_req *r);

/* api_connections.c */
void pv_api_connections_list(struct pv_req *r);
void pv_api_connection_get(struct pv_req *r);
void pv_api_connection_create(struct pv_req *r);
void pv_api_connection_delete(struct pv_req *r);
void pv_api_connection_sync(struct pv_req *r);
void pv_api_connection_patch(struct pv_req *r);

/* api_host_groups.c */
void pv_api_host_groups_list(struct pv_req *r);
void pv_api_host_group_get(struct pv_req *r);
void pv_api_host_group_create(struct pv_req *r);
void pv_api_host_group_patch(struct pv_req *r);
void pv_api_host_group_delete(struct pv_req *r);

/* api_devices.c: a VM's disks and NICs, each change a vm.device job */
void pv_api_vm_disk_add(struct pv_req *r);
void pv_api_vm_disk_remove(struct pv_req *r);
void pv_api_vm_disk_resize(struct pv_req *r);
void pv_api_vm_disk_move(struct pv_req *r);
void pv_api_vm_nic_add(struct pv_req *r);
void pv_api_vm_nic_connect(struct pv_req *r);
void pv_api_vm_nic_remove(struct pv_req *r);

/* api_snapshots.c: a VM's snapshots, read live; each change a vm.snapshot job */
void pv_api_vm_snapshots_list(struct pv_req *r);
void pv_api_vm_snapshot_create(struct pv_req *r);
void pv_api_vm_snapshot_revert(struct pv_req *r);
void pv_api_vm_snapshot_delete(struct pv_req *r);

/* api_jobs.c */
void pv_api_jobs_list(struct pv_req *r);
void pv_api_job_get(struct pv_req *r);
void pv_api_job_cancel(struct pv_req *r);
void pv_api_job_restart(struct pv_req *r);

/* api_inventory.c: maintenance mode, alerts */
void pv_api_alerts_list(struct pv_req *r);
void pv_api_host_maintenance(struct pv_req *r);
void pv_api_host_maintenance_exit(struct pv_req *r);

/* api_misc.c: the audit chain, the dashboard's numbers */
void pv_api_audit_verify(struct pv_req *r);
void pv_api_summary(struct pv_req *r);

/* api_placement.c */
void pv_api_placement_ratings(struct pv_req *r);
void pv_api_placement_simulate(struct pv_req *r);

/* api_schedules.c */
void pv_api_schedule_create(struct pv_req *r);
void pv_api_schedule_patch(struct pv_req *r);
void pv_api_schedule_delete(struct pv_req *r);
void pv_api_schedule_enable(struct pv_req *r);
void pv_api_schedule_disable(struct pv_req *r);
void pv_api_schedule_run(struct pv_req *r);
void pv_api_schedule_preview(struct pv_req *r);
void pv_api_plans_list(struct pv_req *r);
void pv_api_plan_get(struct pv_req *r);
void pv_api_plan_approve(struct pv_req *r);
void pv_api_plan_reject(struct pv_req *r);
void pv_api_host_metrics(struct pv_req *r);
void pv_api_vm_metrics(struct pv_req *r);
void pv_api_clock_get(struct pv_req *r);
void pv_api_clock_set(struct pv_req *r);

/* Shared by the api_*.c files: a page of a collection, one object. */
struct pv_collection;
void pv_api_list(struct pv_req *r, const struct pv_collection *c);
void pv_api_get(struct pv_req *r, const struct pv_collection *c);
/* Parse and validate r's body; on failure reply and return NULL. */
struct pv_jfield;
json_t *pv_api_body(struct pv_req *r, const struct pv_jfield *spec, size_t n);
/* Store and queue a job for request r, run for r's user (pv_job_submit_idem),
 * honouring its Idempotency-Key: the key must be 1 to 255 visible ASCII
 * characters, and the request's identity is its method, path and body. */
int pv_api_submit(struct pv_req *r, const char *kind, const char *target_type,
                  const char *target_id, const char *lock_key, json_t *params, char job_id[64],
                  struct pv_error *err);

#endif
