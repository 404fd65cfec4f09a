/* db.h -- the inventory's access layer: the only code in Polyvisor that
 * speaks SQL.
 *
 * SQLite in WAL mode, foreign keys on, prepared statements with bound
 * parameters only.  Every thread gets its own connection on first use (WAL
 * lets readers run beside the one writer), closed when the thread exits.
 * Writers that must be atomic wrap their statements in pv_db_begin() /
 * pv_db_commit(); BEGIN IMMEDIATE takes the write lock up front so two
 * writers never deadlock on a read-to-write upgrade.
 *
 * Rows leave this layer in the API's shape, as jansson objects whose keys
 * are the API's field names (db/collections.c maps them to columns), or as
 * the small structs below where the daemon needs typed values.  The layer is
 * kept narrow on purpose, so another backend can implement it later.
 */
#ifndef PV_DB_H
#define PV_DB_H

#include <jansson.h>
#include <stdint.h>
#include "../adapters/adapter.h"
#include "query.h"

/* ---- lifecycle ---------------------------------------------------------- */

/* Open (creating) the database file, apply pending migrations.  Call once at
 * start-up before any other pv_db_ function. */
int pv_db_init(const char *path, struct pv_error *err);
/* The inventory generation: it changes after every committed write, by any
 * path, and only then; what was read at generation G stays true while
 * pv_db_generation() answers G (inventory/snapshot.c caches by it). */
uint64_t pv_db_generation(void);
/* Close the calling thread's connection and forget the path. */
void pv_db_shutdown(void);
int pv_db_schema_version(void);
int pv_db_latest_version(void);

/* Transactions nest: an inner begin is a savepoint, its commit a release,
 * its rollback undoes only what it did. */
int pv_db_begin(struct pv_error *err);
int pv_db_commit(struct pv_error *err);
void pv_db_rollback(void);
/* Run fn(arg, 1) once what this thread has written is committed: now when
 * no transaction is open, else after the outermost commit; fn(arg, 0) when
 * it is rolled back instead (to free arg).  For what others must not see
 * before the data it is about: a job queued, a live update.  1 deferred,
 * 0 ran now. */
int pv_db_after_commit(void (*fn)(void *arg, int committed), void *arg);
/* 1 while this thread has a transaction open (pv_db_begin). */
int pv_db_in_transaction(void);

/* ---- collections -------------------------------------------------------- */

extern const struct pv_collection pv_coll_vms, pv_coll_hosts, pv_coll_clusters,
    pv_coll_connections, pv_coll_host_groups, pv_coll_jobs, pv_coll_events, pv_coll_schedules,
    pv_coll_users, pv_coll_plans, pv_coll_alerts, pv_coll_pools, pv_coll_networks;
/* Every collection, for code that serves them all. */
extern const struct pv_collection *const pv_collections[];
extern const size_t pv_ncollections;

/* One page of a collection: *items is a new array, *next_cursor a malloc'd
 * cursor or NULL on the last page. */
int pv_db_list(const struct pv_query *q, json_t **items, char **next_cursor, struct pv_error *err);
/* The same as JSON text: *items a malloc'd array text, *obj an object text
 * (what the API sends as it is). */
int pv_db_list_text(const struct pv_query *q, char **items, char **next_cursor,
                    struct pv_error *err);
int pv_db_get_text(const struct pv_collection *c, const char *id, char **obj,
                   struct pv_error *err);
/* One object by id (PV_ENOTFOUND with code "<singular>_not_found"). */
int pv_db_get(const struct pv_collection *c, const char *id, json_t **obj, struct pv_error *err);
/* {"state": count, ...} for a collection's state-like column (for /metrics). */
json_t *pv_db_count_by(const struct pv_collection *c, const char *field);
int64_t pv_db_count(const struct pv_collection *c);

/* ---- users and tokens --------------------------------------------------- */

int pv_db_user_count(void);
int pv_db_user_create(const char *id, const char *username, const char *password_hash,
                      const char *role, struct pv_error *err);
/* *hash and *id are malloc'd. */
int pv_db_user_find(const char *username, char **id, char **password_hash, char **role,
                    struct pv_error *err);
int pv_db_token_create(const char *id, const char *user_id, const char *token_hash,
                       int ttl_seconds, struct pv_error *err);
/* PV_ENOTFOUND when unknown or expired.  Strings are malloc'd. */
/* *username and *role are malloc'd; *expires (when not NULL): the token's
 * end, in seconds since the epoch. */
int pv_db_token_find(const char *token_hash, char **username, char **role, int64_t *expires,
                     struct pv_error *err);
int pv_db_token_delete(const char *token_hash);
/* Change a user: disabled (-1 keeps it), role and password_hash (NULL keeps
 * them); user_not_found when there is no such user. */
int pv_db_user_update(const char *username, int disabled, const char *role,
                      const char *password_hash, struct pv_error *err);
int pv_db_user_delete(const char *username, struct pv_error *err);
/* A user's hash, role and disabled flag (any out pointer may be NULL). */
int pv_db_user_get(const char *username, char **password_hash, char **role, int *disabled,
                   struct pv_error *err);
/* How many admins are not disabled (-1 on a database error). */
int pv_db_admins_enabled(void);
/* Delete every token of the user but the one whose hash is keep_hash (NULL: all). */
int pv_db_user_tokens_delete(const char *username, const char *keep_hash);
/* Named API tokens (name not NULL), made by and listed for one user. */
int pv_db_api_token_create(const char *id, const char *username, const char *name,
                           const char *token_hash, int ttl_seconds, struct pv_error *err);
/* The user's unexpired named tokens: [{"id", "name", "created_at",
 * "expires_at", "last_used_at"}], never their hashes. */
json_t *pv_db_api_tokens_list(const char *username);
/* Delete the user's named token id; its hash into hash (for the cache). */
int pv_db_api_token_delete(const char *id, const char *username, char hash[65],
                           struct pv_error *err);
/* The token was used now. */
void pv_db_token_touch(const char *token_hash);

/* ---- connections -------------------------------------------------------- */

struct pv_db_connection {
    char *id, *type, *name, *url, *username, *state;
    unsigned char *secret;   /* sealed credentials */
    size_t secret_len;
    int insecure;
};
void pv_db_connection_free(struct pv_db_connection *c);
int pv_db_connection_insert(const struct pv_db_connection *c, struct pv_error *err);
int pv_db_connection_load(const char *id, struct pv_db_connection **out, struct pv_error *err);
/* Ids of every connection, as a JSON array of strings. */
json_t *pv_db_connection_ids(void);
int pv_db_connection_set_state(const char *id, const char *state, const char *last_error);
int pv_db_connection_delete(const char *id, struct pv_error *err);
/* Store c's name, username, sealed secret and insecure flag (type and url
 * never change: they say what the connection is). */
int pv_db_connection_update(const struct pv_db_connection *c, struct pv_error *err);
/* 1 and the id when a connection of that type and URL exists. */
int pv_db_connection_find_url(const char *type, const char *url, char id[64]);

/* ---- inventory written by adapters' reports ----------------------------- */

struct pv_db_vm_ref {
    char id[64], connection_id[64], host_id[64], native_id[256], name[256], power_state[16];
    char vendor[16], ha[8];
    int vcpus;
    int64_t memory_mb;
};
struct pv_db_host_ref {
    char id[64], connection_id[64], native_id[256], name[256], state[16], vendor[16];
};

/* A storage pool or a network, for the code that places devices on it. */
struct pv_db_place_ref {
    char id[64], connection_id[64], native_id[256], name[256], kind[32];
    int64_t free_mb;            /* pools */
};
int pv_db_pool_ref(const char *id, struct pv_db_place_ref *out, struct pv_error *err);
int pv_db_network_ref(const char *id, struct pv_db_place_ref *out, struct pv_error *err);
/* The id of the pool / network that connection reports as native_id ("" when none). */
void pv_db_pool_id_native(const char *conn_id, const char *native_id, char id[64]);
void pv_db_network_id_native(const char *conn_id, const char *native_id, char id[64]);
/* 1 when host host_id reaches the pool or network of that id. */
int pv_db_host_reaches(const char *host_id, const char *pool_or_network_id);

/* The pool (network 0) or network (1; bridge 1: a host bridge, 0: any
 * other kind) of that name that host host_id reaches (PV_ENOTFOUND: none). */
int pv_db_place_on_host(const char *host_id, int network, const char *name, int bridge,
                        struct pv_db_place_ref *out);
/* 1 when the host's connection reports pools (network 0) or networks it reaches. */
int pv_db_host_has_places(const char *host_id, int network);
/* A VM's disks and nics as stored (JSON texts with ids, malloc'd; NULL when
 * none); PV_ENOTFOUND when there is no such VM. */
int pv_db_vm_devices(const char *id, char **disks_json, char **nics_json);

/* new_id is the id to use when the object is new.  For VMs, *old_state
 * (when not NULL) receives the power state before ("" when new). */
int pv_db_cluster_upsert(const char *conn_id, const char *vendor, const char *new_id,
                         const struct pv_cluster_info *c, struct pv_error *err);
int pv_db_host_upsert(const char *conn_id, const char *vendor, const char *new_id,
                      const struct pv_host_info *h, const char *source, struct pv_error *err);
/* Pools and networks: *id receives the row's id (new_id when it is new);
 * the hosts the report names replace those linked before. */
int pv_db_pool_upsert(const char *conn_id, const char *vendor, const char *new_id,
                      const struct pv_pool_info *p, char id[64], struct pv_error *err);
int pv_db_network_upsert(const char *conn_id, const char *vendor, const char *new_id,
                         const struct pv_network_info *n, char id[64], struct pv_error *err);
int pv_db_vm_upsert(const char *conn_id, const char *vendor, const char *new_id,
                    const struct pv_vm_info *v, const char *source, char old_state[16],
                    struct pv_error *err);
/* Remove one VM the endpoint no longer has; *id gets the removed VM's id. */
int pv_db_vm_gone(const char *conn_id, const char *native_id, char id[64]);
/* After a full sync that began at `since`: drop what it did not see. */
int pv_db_prune_unseen(const char *conn_id, const char *since, struct pv_error *err);
const char *pv_db_now(char buf[32]);

int pv_db_vm_ref(const char *id, struct pv_db_vm_ref *out, struct pv_error *err);
int pv_db_vm_ref_native(const char *conn_id, const char *native_id, struct pv_db_vm_ref *out);
/* The VM of that name on that host (PV_ENOTFOUND: none). */
/* Reserve n more event-stream ids; *upto is the highest reserved now (the
 * block is (*upto - n, *upto]). */
int pv_db_stream_reserve(uint64_t n, uint64_t *upto, struct pv_error *err);
int pv_db_vm_ref_by_name(const char *host_id, const char *name, struct pv_db_vm_ref *out);
int pv_db_host_ref(const char *id, struct pv_db_host_ref *out, struct pv_error *err);
int pv_db_host_ref_native(const char *conn_id, const char *native_id, struct pv_db_host_ref *out);
/* Mark a VM as moving to connection to_conn_id (NULL: not moving): while
 * it is, the source's gone report leaves it alone and the destination's
 * first report of its native id takes the row over, so its id stays. */
int pv_db_vm_set_moving(const char *id, const char *to_conn_id);
/* End a move: the row belongs to conn_id (the destination when the move
 * worked, the source when not), any other row of that native id on either
 * side (other_conn_id) goes, and it is no longer moving. */
int pv_db_vm_finish_move(const char *id, const char *native_id, const char *conn_id,
                         const char *other_conn_id);
/* Set ha and/or tags (NULL leaves as is). */
int pv_db_vm_patch(const char *id, const char *ha, const char *tags_json, struct pv_error *err);
int pv_db_host_set_group(const char *host_id, const char *group_id, struct pv_error *err);
int pv_db_hosts_set_state(const char *conn_id, const char *state);
/* Every host as API objects, ordered by id. */
json_t *pv_db_hosts_all(void);

/* ---- placement (db_placement.c) ----------------------------------------- */

/* Rows of the placement snapshot; strings are borrowed for the callback. */
struct pv_db_pl_group {
    const char *id, *name, *parent_id, *policy_json;
};
struct pv_db_pl_host {
    const char *id, *name, *vendor, *connection_id, *host_group_id, *state, *tags_json;
    int cpu_cores;
    int64_t memory_mb, memory_used_mb;
    double cpu_usage_pct;
};
struct pv_db_pl_vm {
    const char *id, *name, *host_id, *vendor, *connection_id, *power_state, *ha;
    const char *tags_json, *anti_affinity_json, *affinity_json, *last_moved_at;
    int vcpus;
    int64_t memory_mb;
};
struct pv_db_pl_place {
    const char *id, *name, *kind, *host_ids_json;
    int network;
    int64_t free_mb;
};
struct pv_db_pl_callbacks {
    void *ctx;
    void (*group)(void *ctx, const struct pv_db_pl_group *g);   /* ordered by id */
    void (*host)(void *ctx, const struct pv_db_pl_host *h);     /* ordered by id */
    void (*vm)(void *ctx, const struct pv_db_pl_vm *v);         /* in storage order */
    void (*place)(void *ctx, const struct pv_db_pl_place *p);   /* pools and networks, by id */
};
/* Groups, then hosts, then pools and networks, then VMs, read in one transaction. */
int pv_db_placement_load(const struct pv_db_pl_callbacks *cb, struct pv_error *err);
/* Set a VM's anti-affinity and/or affinity sets (NULL leaves as is). */
int pv_db_vm_set_sets(const char *id, const char *anti_json, const char *aff_json,
                      struct pv_error *err);
int pv_db_host_set_tags(const char *id, const char *tags_json, struct pv_error *err);
/* Record that placement moved the VM at `at` (the rebalance cool-down). */
int pv_db_vm_mark_moved(const char *id, const char *at);

/* ---- schedules and plans (db_schedules.c) ------------------------------ */

struct pv_db_schedule {
    const char *id, *name, *kind, *cron, *at_time, *timezone, *params_json;
    const char *next_run_at, *created_by, *created_at;
    int enabled;
};
int pv_db_schedule_insert(const struct pv_db_schedule *s, struct pv_error *err);
/* Every field but created_*; the caller merges a PATCH over the stored row. */
int pv_db_schedule_update(const struct pv_db_schedule *s, struct pv_error *err);
int pv_db_schedule_delete(const char *id, struct pv_error *err);
/* A run was started (job_id) or could not be (error); next_run_at NULL:
 * nothing more to run. */
int pv_db_schedule_fired(const char *id, const char *ran_at, const char *next_run_at,
                         const char *job_id, const char *error);
/* Ids of enabled schedules whose next run is at or before now. */
json_t *pv_db_schedules_due(const char *now);

struct pv_db_plan {
    const char *id, *kind, *state, *schedule_id, *job_id, *host_group_id;
    const char *params_json, *moves_json, *summary_json, *created_at;
};
int pv_db_plan_insert(const struct pv_db_plan *p, struct pv_error *err);
/* state from -> to (and who, when, the executing job, each when not NULL);
 * plan_not_in_state when the plan is not in `from`. */
int pv_db_plan_transition(const char *id, const char *from, const char *to, const char *by,
                          const char *at, const char *execute_job_id, struct pv_error *err);
int pv_db_plan_set_moves(const char *id, const char *moves_json);
/* A schedule's newer plan replaces its older proposals. */
int pv_db_plans_supersede(const char *schedule_id, const char *except_id);

/* ---- the dashboard's numbers (db_summary.c) ------------------------------ */

/* {"hosts": {"by_state", "by_vendor_state"}, "vms": {"by_power_state",
 * "by_vendor_state"}, "jobs", "connections", "alerts" (counts by state or
 * kind), "capacity": {"memory_mb", "memory_used_mb", "cpu_cores",
 * "cpu_busy_cores"} of connected hosts}. */
json_t *pv_db_summary(void);

/* ---- host health, HA, fencing, maintenance (db_ha.c) -------------------- */

/* Hosts disconnected since at or before `before`: [{"id", "name", "vendor",
 * "connection_id", "connection_type", "unreachable_since", "facts"}]. */
json_t *pv_db_hosts_unreachable_since(const char *before);
/* Up to max hosts that can witness for a lost host of a connection of
 * conn_type: answering hosts of the other connections of that type,
 * [{"connection_id", "name"}], by name. */
json_t *pv_db_ha_witnesses(const char *conn_type, const char *conn_id, int max);
/* disconnected -> failed; PV_ENOTFOUND when it answered meanwhile. */
int pv_db_host_mark_failed(const char *id);
int pv_db_host_set_maintenance(const char *id, int on, struct pv_error *err);
int pv_db_vm_set_ha_status(const char *id, const char *status);
/* Remember that the copy of VM vm_id known as native_id on connection
 * conn_id must not run again (it was restarted elsewhere). */
int pv_db_fence_add(const char *conn_id, const char *native_id, const char *vm_id,
                    const char *at);
/* 1 when that copy is fenced; vm_id and job_id (may be "") are filled. */
int pv_db_fence_find(const char *conn_id, const char *native_id, char vm_id[64], char job_id[64]);
/* Claim the fencing of a copy for job_id; PV_ENOTFOUND when already claimed. */
int pv_db_fence_claim(const char *conn_id, const char *native_id, const char *job_id);
int pv_db_fence_set_job(const char *conn_id, const char *native_id, const char *job_id);
/* The stale copy is removed: remembered (job_id "done") for a while, so late
 * reports of it are still known for what they are. */
int pv_db_fence_done(const char *conn_id, const char *native_id);
/* Forget the removed copies done more than seconds ago. */
void pv_db_fence_forget_done(int seconds);
/* Raise an alert (PV_ECONFLICT: that alert is already active) / clear one
 * (PV_ENOTFOUND: it was not active). */
int pv_db_alert_raise(const char *id, const char *object_id, const char *kind, double value,
                      double threshold, const char *message, const char *at);
int pv_db_alert_clear(const char *object_id, const char *kind);
/* done: the copy is stopped and removed (the record goes); else unclaim. */
int pv_db_fence_release(const char *conn_id, const char *native_id, int done);

/* ---- monitoring history (db_metrics.c) ---------------------------------- */

/* One raw sample at t of every connected host and running VM; *rows counts them. */
int pv_db_metrics_sample(int64_t t, int64_t *rows, struct pv_error *err);
/* Five-minute averages of the raw samples in [from, to). */
int pv_db_metrics_rollup(int64_t from, int64_t to, struct pv_error *err);
/* Drop tier's samples older than before. */
int pv_db_metrics_expire(int tier, int64_t before, struct pv_error *err);
/* The newest sample time of a tier, -1 when none. */
int64_t pv_db_metrics_latest(int tier);
/* [{"t", "cpu_pct", "memory_mb", "samples"}] in buckets of step seconds. */
int pv_db_metrics_series(const char *object_id, int tier, int64_t from, int64_t to, int64_t step,
                         json_t **points, struct pv_error *err);

/* ---- host groups -------------------------------------------------------- */

int pv_db_host_group_create(const char *id, const char *name, const char *parent_id,
                            const char *description, const char *policy_json,
                            struct pv_error *err);
/* NULL leaves a field as it is; parent "" makes it a root. */
int pv_db_host_group_update(const char *id, const char *name, const char *parent_id,
                            const char *description, const char *policy_json,
                            struct pv_error *err);
int pv_db_host_group_delete(const char *id, struct pv_error *err);

/* ---- jobs --------------------------------------------------------------- */

struct pv_db_job {
    char id[64], kind[48], state[16], created_by[64];
    char target_type[32], target_id[64], lock_key[128];
    int progress, cancel_requested, attempts;
    char *params;            /* JSON text, malloc'd */
    int nsteps;
    char step_state[16][16]; /* per step */
};
void pv_db_job_clear(struct pv_db_job *j);

/* Insert a queued job with its step names.  With an idempotency key that
 * the same user used before, nothing is inserted: *existing_id receives the
 * earlier job's id and the return is PV_ECONFLICT when request_hash differs,
 * 0 otherwise (existing_id[0] != 0 tells the two cases apart). */
int pv_db_job_insert(const struct pv_db_job *j, const char *const *step_names, int nsteps,
                     const char *idem_key, const char *request_hash, char existing_id[64],
                     struct pv_error *err);
int pv_db_job_load(const char *id, struct pv_db_job *out, struct pv_error *err);
int pv_db_job_set_state(const char *id, const char *state, int progress, const char *err_code,
                        const char *err_message);
int pv_db_job_set_progress(const char *id, int progress);
int pv_db_job_set_result(const char *id, const char *result_json);
int pv_db_job_step(const char *id, int idx, const char *state, int progress, const char *detail);
int pv_db_job_request_cancel(const char *id);
/* Reset a failed or cancelled job to queued, keeping its succeeded steps. */
int pv_db_job_requeue(const char *id, struct pv_error *err);
/* Ids of jobs in a state, oldest first, at most max. */
json_t *pv_db_job_ids(const char *state, int max);
/* A job as the API shows it, with its steps. */
int pv_db_job_json(const char *id, json_t **obj, struct pv_error *err);

/* ---- events ------------------------------------------------------------- */

int pv_db_event_insert(const char *id, const char *object_type, const char *object_id,
                       const char *severity, const char *message, const char *actor);
/* Walk the audit chain: {"ok", "checked", "unchained_before", "first_bad":
 * null | {"seq", "id", "time", "reason"}}. */
int pv_db_audit_verify(json_t **report, struct pv_error *err);

#endif
