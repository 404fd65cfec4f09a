/* routes.c -- the REST API's route table: every METHOD + path the daemon
 * answers, its handler, and whether it is public or admin-only.  The OpenAPI
 * document (server/openapi.json) lists the same routes; a unit test
 * (tests/unit/test_routes.c) fails when the two disagree. */
#include "server/http/api.h"
#include "lib/router.h"

#define P PV_ROUTE_PUBLIC
#define A PV_ROUTE_ADMIN
#define V "/api/v1"

const struct pv_route pv_routes[] = {
    {"GET", "/healthz", pv_api_healthz, P},
    {"GET", "/metrics", pv_api_metrics, P},
    {"GET", V "/openapi.json", pv_api_openapi, P},
    {"POST", V "/auth/login", pv_api_login, P},
    {"POST", V "/auth/logout", pv_api_logout, 0},
    {"GET", V "/auth/me", pv_api_whoami, 0},
    {"GET", V "/adapters", pv_api_adapters, 0},
    {"GET", V "/users", pv_api_users_list, A},
    {"POST", V "/users", pv_api_user_create, A},
    {"PATCH", V "/users/{name}", pv_api_user_patch, A},
    {"DELETE", V "/users/{name}", pv_api_user_delete, A},
    {"POST", V "/auth/password", pv_api_password_change, 0},

    {"GET", V "/connections", pv_api_connections_list, 0},
    {"POST", V "/connections", pv_api_connection_create, A},
    {"GET", V "/connections/{id}", pv_api_connection_get, 0},
    {"PATCH", V "/connections/{id}", pv_api_connection_patch, A},
    {"DELETE", V "/connections/{id}", pv_api_connection_delete, A},
    {"POST", V "/connections/{id}/sync", pv_api_connection_sync, A},

    {"GET", V "/host-groups", pv_api_host_groups_list, 0},
    {"POST", V "/host-groups", pv_api_host_group_create, A},
    {"GET", V "/host-groups/{id}", pv_api_host_group_get, 0},
    {"PATCH", V "/host-groups/{id}", pv_api_host_group_patch, A},
    {"DELETE", V "/host-groups/{id}", pv_api_host_group_delete, A},

    {"GET", V "/clusters", pv_api_clusters_list, 0},
    {"GET", V "/clusters/{id}", pv_api_cluster_get, 0},
    {"GET", V "/storage-pools", pv_api_pools_list, 0},
    {"GET", V "/storage-pools/{id}", pv_api_pool_get, 0},
    {"GET", V "/networks", pv_api_networks_list, 0},
    {"GET", V "/networks/{id}", pv_api_network_get, 0},
    {"GET", V "/hosts", pv_api_hosts_list, 0},
    {"GET", V "/hosts/{id}", pv_api_host_get, 0},
    {"PATCH", V "/hosts/{id}", pv_api_host_patch, A},
    {"POST", V "/hosts/{id}/maintenance", pv_api_host_maintenance, A},
    {"GET", V "/hosts/{id}/metrics", pv_api_host_metrics, 0},
    {"POST", V "/hosts/{id}/maintenance/exit", pv_api_host_maintenance_exit, A},

    {"GET", V "/vms", pv_api_vms_list, 0},
    {"POST", V "/vms", pv_api_vm_create, A},
    {"GET", V "/vms/{id}", pv_api_vm_get, 0},
    {"PATCH", V "/vms/{id}", pv_api_vm_patch, A},
    {"GET", V "/vms/{id}/metrics", pv_api_vm_metrics, 0},
    {"DELETE", V "/vms/{id}", pv_api_vm_delete, A},
    {"POST", V "/vms/{id}/start", pv_api_vm_start, A},
    {"POST", V "/vms/{id}/shutdown", pv_api_vm_shutdown, A},
    {"POST", V "/vms/{id}/poweroff", pv_api_vm_poweroff, A},
    {"POST", V "/vms/{id}/reboot", pv_api_vm_reboot, A},
    {"POST", V "/vms/{id}/pause", pv_api_vm_pause, A},
    {"POST", V "/vms/{id}/resume", pv_api_vm_resume, A},
    {"POST", V "/vms/{id}/save", pv_api_vm_save, A},
    {"POST", V "/vms/{id}/migrate", pv_api_vm_migrate, A},
    {"POST", V "/vms/{id}/reconfigure", pv_api_vm_reconfigure, A},
    {"POST", V "/vms/{id}/clone", pv_api_vm_clone, A},
    {"POST", V "/vms/{id}/disks", pv_api_vm_disk_add, A},
    {"DELETE", V "/vms/{id}/disks/{disk_id}", pv_api_vm_disk_remove, A},
    {"POST", V "/vms/{id}/disks/{disk_id}/resize", pv_api_vm_disk_resize, A},
    {"POST", V "/vms/{id}/disks/{disk_id}/move", pv_api_vm_disk_move, A},
    {"POST", V "/vms/{id}/nics", pv_api_vm_nic_add, A},
    {"PATCH", V "/vms/{id}/nics/{nic_id}", pv_api_vm_nic_connect, A},
    {"DELETE", V "/vms/{id}/nics/{nic_id}", pv_api_vm_nic_remove, A},
    {"GET", V "/vms/{id}/snapshots", pv_api_vm_snapshots_list, 0},
    {"POST", V "/vms/{id}/snapshots", pv_api_vm_snapshot_create, A},
    {"POST", V "/vms/{id}/snapshots/{sid}/revert", pv_api_vm_snapshot_revert, A},
    {"DELETE", V "/vms/{id}/snapshots/{sid}", pv_api_vm_snapshot_delete, A},

    {"POST", V "/placement/ratings", pv_api_placement_ratings, 0},
    {"POST", V "/placement/simulate", pv_api_placement_simulate, 0},

    {"GET", V "/jobs", pv_api_jobs_list, 0},
    {"GET", V "/jobs/{id}", pv_api_job_get, 0},
    {"POST", V "/jobs/{id}/cancel", pv_api_job_cancel, A},
    {"POST", V "/jobs/{id}/restart", pv_api_job_restart, A},

    {"GET", V "/events", pv_api_events_list, 0},
    {"GET", V "/events/stream", pv_api_events_stream, 0},
    {"GET", V "/audit/verify", pv_api_audit_verify, A},
    {"GET", V "/alerts", pv_api_alerts_list, 0},
    {"GET", V "/summary", pv_api_summary, 0},
    {"GET", V "/schedules", pv_api_schedules_list, 0},
    {"POST", V "/schedules", pv_api_schedule_create, A},
    {"POST", V "/schedules/preview", pv_api_schedule_preview, 0},
    {"GET", V "/schedules/{id}", pv_api_schedule_get, 0},
    {"PATCH", V "/schedules/{id}", pv_api_schedule_patch, A},
    {"DELETE", V "/schedules/{id}", pv_api_schedule_delete, A},
    {"POST", V "/schedules/{id}/enable", pv_api_schedule_enable, A},
    {"POST", V "/schedules/{id}/disable", pv_api_schedule_disable, A},
    {"POST", V "/schedules/{id}/run", pv_api_schedule_run, A},
    {"GET", V "/plans", pv_api_plans_list, 0},
    {"GET", V "/plans/{id}", pv_api_plan_get, 0},
    {"POST", V "/plans/{id}/approve", pv_api_plan_approve, A},
    {"POST", V "/plans/{id}/reject", pv_api_plan_reject, A},
    {"GET", V "/clock", pv_api_clock_get, 0},
    {"PUT", V "/clock", pv_api_clock_set, A},
};
const size_t pv_nroutes = sizeof pv_routes / sizeof pv_routes[0];
