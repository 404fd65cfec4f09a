/* api_snapshots.c -- a VM's snapshots (checkpoints): the tree, read live
 * from the endpoint (server/inventory/snapshots.c), and the three changes
 * -- take one, revert to one, delete one or a subtree -- each answering 202
 * with the Location of a "vm.snapshot" job (server/jobs/kinds/jobs_snapshots.c).
 *
 * What can be known here is checked before a job is queued: the adapter has
 * snapshots at all (unsupported_by_backend), the snapshot of the path exists
 * (snapshot_not_found), a new name is not taken (snapshot_exists: names are
 * unique per VM so that a restarted job can find what it made by name), a
 * saved VM is not snapshotted (vm_saved), a VM that does not run has no
 * memory to keep ("memory": true: not_running).  What only the vendor knows (KVM:
 * a running VM's snapshot holds its memory; the disks must be qcow2 files)
 * the adapter refuses up front when the job runs, before anything changes.
 */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/core/validate.h"
#include "server/inventory/snapshots.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The VM of the path and its snapshots now; or a reply. */
static int target_of(struct pv_req *r, struct pv_db_vm_ref *vm, json_t **items)
{
    struct pv_error e = {0};

    if (pv_db_vm_ref(r->params[0], vm, &e) || pv_snapshots_read(vm, items, &e)) {
        pv_reply_error(r, &e);
        return -1;
    }
    return 0;
}

static int running(const struct pv_db_vm_ref *vm)
{
    return strcmp(vm->power_state, "running") == 0 || strcmp(vm->power_state, "paused") == 0;
}

static void submit(struct pv_req *r, const struct pv_db_vm_ref *vm, json_t *params)
{
    struct pv_error e = {0};
    char job[64], lock[128];

    snprintf(lock, sizeof lock, "host:%s", vm->host_id[0] ? vm->host_id : vm->id); /* as actions */
    json_object_set_new(params, "vm_name", json_string(vm->name));
    if (pv_api_submit(r, "vm.snapshot", "vm", vm->id, lock, params, job, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_job(r, job);
}

/* GET /vms/{id}/snapshots */
void pv_api_vm_snapshots_list(struct pv_req *r)
{
    struct pv_db_vm_ref vm;
    json_t *items;

    if (target_of(r, &vm, &items))
        return;
    pv_reply_json(r, 200, json_pack("{s:o,s:n}", "items", items, "next_cursor"));
}

/* POST /vms/{id}/snapshots {"name", "memory"?, "description"?} */
void pv_api_vm_snapshot_create(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"name", PV_J_STRING, PV_J_REQUIRED, 1, 128, NULL},
        {"memory", PV_J_BOOL, 0, 0, 0, NULL},
        {"description", PV_J_STRING, 0, 0, 1024, NULL},
    };
    json_t *body = pv_api_body(r, spec, N(spec)), *items, *params;
    struct pv_db_vm_ref vm;
    struct pv_error e = {0};
    const char *name;

    if (!body)
        return;
    name = json_string_value(json_object_get(body, "name"));
    if (target_of(r, &vm, &items) == 0) {
        json_t *mem = json_object_get(body, "memory");
        if (pv_snapshots_find(items, NULL, name)) {
            pv_fail(&e, snapshot_exists, "vm %s has a snapshot named '%s' already", vm.name, name);
            pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "name"));
        } else if (strcmp(vm.power_state, "saved") == 0) {
            pv_fail(&e, vm_saved, "vm %s has a saved state: start it, or delete the saved "
                                  "state, before taking a snapshot", vm.name);
            pv_reply_error(r, &e);
        } else if (json_is_true(mem) && !running(&vm)) {
            pv_fail(&e, not_running, "vm %s is %s: it has no memory to keep in a snapshot "
                                     "(leave out \"memory\")", vm.name, vm.power_state);
            pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "memory"));
        } else {
            params = json_pack("{s:s,s:s,s:b}", "op", "create", "name", name, "memory",
                               json_is_boolean(mem) ? json_is_true(mem) : running(&vm));
            if (json_is_string(json_object_get(body, "description")))
                json_object_set(params, "description", json_object_get(body, "description"));
            submit(r, &vm, params);
            json_decref(params);
        }
        json_decref(items);
    }
    json_decref(body);
}

/* The snapshot of the path {sid}, or a 404 reply. */
static json_t *snapshot_of(struct pv_req *r, const struct pv_db_vm_ref *vm, json_t *items)
{
    struct pv_error e = {0};
    json_t *s = pv_snapshots_find(items, r->params[1], NULL);

    if (!s) {
        pv_fail(&e, snapshot_not_found, "vm %s has no snapshot '%.64s'", vm->name, r->params[1]);
        pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "snapshot_id"));
    }
    return s;
}

static json_t *current_key(const json_t *items)
{
    json_t *s;
    size_t i;

    json_array_foreach(items, i, s)
        if (json_is_true(json_object_get(s, "current")))
            return json_incref(json_object_get(s, "key"));
    return json_null();
}

/* POST /vms/{id}/snapshots/{sid}/revert */
void pv_api_vm_snapshot_revert(struct pv_req *r)
{
    struct pv_db_vm_ref vm;
    json_t *items, *s, *params;

    if (target_of(r, &vm, &items))
        return;
    if ((s = snapshot_of(r, &vm, items))) {
        params = json_pack("{s:s,s:O,s:O,s:O,s:o}", "op", "revert", "key",
                           json_object_get(s, "key"), "name", json_object_get(s, "name"),
                           "snapshot_id", json_object_get(s, "id"), "current_before",
                           current_key(items));
        submit(r, &vm, params);
        json_decref(params);
    }
    json_decref(items);
}

/* DELETE /vms/{id}/snapshots/{sid}[?children=true] */
void pv_api_vm_snapshot_delete(struct pv_req *r)
{
    const char *children = pv_req_query(r, "children");
    struct pv_db_vm_ref vm;
    json_t *items, *s, *params;

    if (target_of(r, &vm, &items))
        return;
    if ((s = snapshot_of(r, &vm, items))) {
        params = json_pack("{s:s,s:O,s:O,s:O,s:b}", "op", "delete", "key",
                           json_object_get(s, "key"), "name", json_object_get(s, "name"),
                           "snapshot_id", json_object_get(s, "id"), "children",
                           children && (strcmp(children, "true") == 0 || strcmp(children, "1") == 0));
        submit(r, &vm, params);
        json_decref(params);
    }
    json_decref(items);
}
