/* collections.c -- the field tables of every API collection: each API field
 * name, the column behind it, its type, and whether it may be filtered and
 * sorted on.  This table is the whole mapping between the API's shape and the
 * schema; secrets (connections.secret, password hashes) are simply absent. */
#include "db.h"

#define F PV_FIELD_FILTER
#define S PV_FIELD_SORT
#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct pv_field vm_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"name", "name", PV_VT_TEXT, F | S},
    {"host_id", "host_id", PV_VT_TEXT, F},
    {"connection_id", "connection_id", PV_VT_TEXT, F},
    {"vendor", "vendor", PV_VT_TEXT, F | S},
    {"native_id", "native_id", PV_VT_TEXT, F},
    /* what is known now: 'unknown' while the host or its connection is down */
    {"power_state", "live_power_state", PV_VT_TEXT, F | S},
    {"last_known_power_state", "last_known_power_state", PV_VT_TEXT, F | S},
    {"stale_since", "stale_since", PV_VT_TEXT, F | S},
    {"vcpus", "vcpus", PV_VT_INT, F | S},
    {"memory_mb", "memory_mb", PV_VT_INT, F | S},
    {"paravirtual", "paravirtual", PV_VT_BOOL, F},
    {"ha", "ha", PV_VT_TEXT, F | S},
    {"tags", "tags", PV_VT_JSON, F},
    {"anti_affinity", "anti_affinity", PV_VT_JSON, F},
    {"affinity", "affinity", PV_VT_JSON, F},
    {"last_moved_at", "last_moved_at", PV_VT_TEXT, F | S},
    {"ha_status", "ha_status", PV_VT_TEXT, F},
    {"cpu_usage_pct", "cpu_usage_pct", PV_VT_REAL, F | S},
    {"memory_used_mb", "memory_used_mb", PV_VT_INT, F | S},
    {"disks", "disks", PV_VT_JSON, 0},
    {"nics", "nics", PV_VT_JSON, 0},
    {"vendor_detail", "vendor_detail", PV_VT_JSON, 0},
    {"source", "source", PV_VT_TEXT, F},
    {"observed_at", "observed_at", PV_VT_TEXT, F | S},
};
/* vms_live (migration 011): the vms table with the state as known now */
const struct pv_collection pv_coll_vms = {"vms", "vms_live", vm_fields, N(vm_fields), "name", "vm"};

static const struct pv_field host_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"name", "name", PV_VT_TEXT, F | S},
    {"vendor", "vendor", PV_VT_TEXT, F | S},
    {"connection_id", "connection_id", PV_VT_TEXT, F},
    {"cluster_id", "cluster_id", PV_VT_TEXT, F},
    {"host_group_id", "host_group_id", PV_VT_TEXT, F},
    {"native_id", "native_id", PV_VT_TEXT, F},
    {"state", "state", PV_VT_TEXT, F | S},
    {"cpu_cores", "cpu_cores", PV_VT_INT, F | S},
    {"cpu_mhz", "cpu_mhz", PV_VT_INT, F | S},
    {"memory_mb", "memory_mb", PV_VT_INT, F | S},
    {"memory_used_mb", "memory_used_mb", PV_VT_INT, F | S},
    {"cpu_usage_pct", "cpu_usage_pct", PV_VT_REAL, F | S},
    {"tags", "tags", PV_VT_JSON, F},
    {"maintenance", "maintenance", PV_VT_BOOL, F},
    {"unreachable_since", "unreachable_since", PV_VT_TEXT, F},
    {"facts", "facts", PV_VT_JSON, 0},
    {"pool_ids", "pool_ids", PV_VT_JSON, F},
    {"network_ids", "network_ids", PV_VT_JSON, F},
    {"source", "source", PV_VT_TEXT, F},
    {"observed_at", "observed_at", PV_VT_TEXT, F | S},
};
/* hosts_live (migration 014): the hosts table with the pools and networks each reaches */
const struct pv_collection pv_coll_hosts = {"hosts", "hosts_live", host_fields, N(host_fields), "name",
                                            "host"};

static const struct pv_field pool_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"name", "name", PV_VT_TEXT, F | S},
    {"vendor", "vendor", PV_VT_TEXT, F | S},
    {"connection_id", "connection_id", PV_VT_TEXT, F},
    {"native_id", "native_id", PV_VT_TEXT, F},
    {"kind", "kind", PV_VT_TEXT, F | S},
    {"capacity_mb", "capacity_mb", PV_VT_INT, F | S},
    {"free_mb", "free_mb", PV_VT_INT, F | S},
    {"shared", "shared", PV_VT_BOOL, F},
    {"host_ids", "host_ids", PV_VT_JSON, F},
    {"observed_at", "observed_at", PV_VT_TEXT, F | S},
};
const struct pv_collection pv_coll_pools = {"storage_pools", "storage_pools_live", pool_fields,
                                            N(pool_fields), "name", "storage_pool"};

static const struct pv_field network_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"name", "name", PV_VT_TEXT, F | S},
    {"vendor", "vendor", PV_VT_TEXT, F | S},
    {"connection_id", "connection_id", PV_VT_TEXT, F},
    {"native_id", "native_id", PV_VT_TEXT, F},
    {"kind", "kind", PV_VT_TEXT, F | S},
    {"vlan", "vlan", PV_VT_INT, F | S},
    {"host_ids", "host_ids", PV_VT_JSON, F},
    {"observed_at", "observed_at", PV_VT_TEXT, F | S},
};
const struct pv_collection pv_coll_networks = {"networks", "networks_live", network_fields,
                                               N(network_fields), "name", "network"};

static const struct pv_field cluster_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"name", "name", PV_VT_TEXT, F | S},
    {"connection_id", "connection_id", PV_VT_TEXT, F},
    {"native_id", "native_id", PV_VT_TEXT, F},
    {"vendor", "vendor", PV_VT_TEXT, F | S},
    {"host_group_id", "host_group_id", PV_VT_TEXT, F},
    {"observed_at", "observed_at", PV_VT_TEXT, F | S},
};
const struct pv_collection pv_coll_clusters = {"clusters", "clusters", cluster_fields,
                                               N(cluster_fields), "name", "cluster"};

static const struct pv_field connection_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"type", "type", PV_VT_TEXT, F | S},
    {"name", "name", PV_VT_TEXT, F | S},
    {"url", "url", PV_VT_TEXT, F | S},
    {"username", "username", PV_VT_TEXT, F},
    {"insecure", "insecure", PV_VT_BOOL, F},
    {"state", "state", PV_VT_TEXT, F | S},
    {"last_error", "last_error", PV_VT_TEXT, F},
    {"observed_at", "observed_at", PV_VT_TEXT, F},
    {"created_at", "created_at", PV_VT_TEXT, F | S},
};
const struct pv_collection pv_coll_connections = {"connections", "connections", connection_fields,
                                                  N(connection_fields), "created_at", "connection"};

static const struct pv_field host_group_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"name", "name", PV_VT_TEXT, F | S},
    {"parent_id", "parent_id", PV_VT_TEXT, F},
    {"description", "description", PV_VT_TEXT, F},
    {"policy", "policy", PV_VT_JSON, 0},
    {"created_at", "created_at", PV_VT_TEXT, F | S},
};
const struct pv_collection pv_coll_host_groups = {"host_groups", "host_groups", host_group_fields,
                                                  N(host_group_fields), "name", "host_group"};

static const struct pv_field job_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"kind", "kind", PV_VT_TEXT, F | S},
    {"target_type", "target_type", PV_VT_TEXT, F},
    {"target_id", "target_id", PV_VT_TEXT, F},
    {"state", "state", PV_VT_TEXT, F | S},
    {"progress", "progress", PV_VT_INT, F | S},
    {"params", "params", PV_VT_JSON, 0},
    {"result", "result", PV_VT_JSON, 0},
    {"error_code", "error_code", PV_VT_TEXT, F},
    {"error_message", "error_message", PV_VT_TEXT, 0},
    {"created_by", "created_by", PV_VT_TEXT, F},
    {"created_at", "created_at", PV_VT_TEXT, F | S},
    {"started_at", "started_at", PV_VT_TEXT, F},
    {"finished_at", "finished_at", PV_VT_TEXT, F},
    {"revision", "revision", PV_VT_INT, 0},
};
const struct pv_collection pv_coll_jobs = {"jobs", "jobs", job_fields, N(job_fields),
                                           "-created_at", "job"};

static const struct pv_field event_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"time", "time", PV_VT_TEXT, F | S},
    {"object_type", "object_type", PV_VT_TEXT, F},
    {"object_id", "object_id", PV_VT_TEXT, F},
    {"severity", "severity", PV_VT_TEXT, F | S},
    {"message", "message", PV_VT_TEXT, F},
    {"actor", "actor", PV_VT_TEXT, F},
};
const struct pv_collection pv_coll_events = {"events", "events", event_fields, N(event_fields),
                                             "-time", "event"};

static const struct pv_field schedule_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"name", "name", PV_VT_TEXT, F | S},
    {"kind", "kind", PV_VT_TEXT, F | S},
    {"cron", "cron", PV_VT_TEXT, 0},
    {"at_time", "at_time", PV_VT_TEXT, 0},
    {"timezone", "timezone", PV_VT_TEXT, F},
    {"params", "params", PV_VT_JSON, 0},
    {"enabled", "enabled", PV_VT_BOOL, F},
    {"last_run_at", "last_run_at", PV_VT_TEXT, F | S},
    {"next_run_at", "next_run_at", PV_VT_TEXT, F | S},
    {"last_job_id", "last_job_id", PV_VT_TEXT, F},
    {"last_error", "last_error", PV_VT_TEXT, 0},
    {"created_by", "created_by", PV_VT_TEXT, F},
    {"created_at", "created_at", PV_VT_TEXT, F | S},
};
const struct pv_collection pv_coll_schedules = {"schedules", "schedules", schedule_fields,
                                                N(schedule_fields), "name", "schedule"};

static const struct pv_field plan_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"kind", "kind", PV_VT_TEXT, F | S},
    {"state", "state", PV_VT_TEXT, F | S},
    {"schedule_id", "schedule_id", PV_VT_TEXT, F},
    {"job_id", "job_id", PV_VT_TEXT, F},
    {"execute_job_id", "execute_job_id", PV_VT_TEXT, F},
    {"host_group_id", "host_group_id", PV_VT_TEXT, F},
    {"params", "params", PV_VT_JSON, 0},
    {"moves", "moves", PV_VT_JSON, 0},
    {"summary", "summary", PV_VT_JSON, 0},
    {"created_at", "created_at", PV_VT_TEXT, F | S},
    {"decided_at", "decided_at", PV_VT_TEXT, F},
    {"decided_by", "decided_by", PV_VT_TEXT, F},
};
const struct pv_collection pv_coll_plans = {"plans", "plans", plan_fields, N(plan_fields),
                                            "-created_at", "plan"};

static const struct pv_field alert_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"object_id", "object_id", PV_VT_TEXT, F},
    {"kind", "kind", PV_VT_TEXT, F | S},
    {"value", "value", PV_VT_REAL, F | S},
    {"threshold", "threshold", PV_VT_REAL, 0},
    {"message", "message", PV_VT_TEXT, 0},
    {"raised_at", "raised_at", PV_VT_TEXT, F | S},
};
const struct pv_collection pv_coll_alerts = {"alerts", "alerts", alert_fields, N(alert_fields),
                                             "-raised_at", "alert"};

/* Users: password hashes are not a field, so no query can return them. */
static const struct pv_field user_fields[] = {
    {"id", "id", PV_VT_TEXT, F | S},
    {"username", "username", PV_VT_TEXT, F | S},
    {"role", "role", PV_VT_TEXT, F | S},
    {"disabled", "disabled", PV_VT_BOOL, F},
    {"created_at", "created_at", PV_VT_TEXT, F | S},
};
const struct pv_collection pv_coll_users = {"users", "users", user_fields, N(user_fields),
                                            "username", "user"};

const struct pv_collection *const pv_collections[] = {
    &pv_coll_vms, &pv_coll_hosts, &pv_coll_clusters, &pv_coll_connections, &pv_coll_host_groups,
    &pv_coll_jobs, &pv_coll_events, &pv_coll_schedules, &pv_coll_plans, &pv_coll_users,
    &pv_coll_alerts, &pv_coll_pools, &pv_coll_networks,
};
const size_t pv_ncollections = N(pv_collections);
