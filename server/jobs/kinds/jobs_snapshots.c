/* jobs_snapshots.c -- the "vm.snapshot" job: take, revert to or delete a
 * snapshot of a VM through the adapter's vm_snapshot call (ABI 11).
 * server/http/api_snapshots.c has put into the parameters "op", the
 * snapshot's "key" as its adapter reports it (revert, delete), "name" and
 * "memory" (create), "children" (delete), "current_before" (revert).
 *
 * A restart of polyvisord after kill -9 must not repeat a change already
 * made (a second snapshot of the same name, a revert that throws away what
 * the guest did since), so the reconcile reads the tree again from the
 * endpoint first: a create is done when a snapshot of the name exists (names
 * are unique per VM: the API refuses a taken one), a delete when the key is
 * gone, a revert when the snapshot has become the current one (and was not
 * before the job).
 */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/core/events.h"
#include "server/inventory/conns.h"
#include "server/inventory/devices.h"
#include "server/inventory/snapshots.h"
#include "server/jobs/jobs.h"
#include "server/jobs/kinds/kinds.h"

static const char *param(struct pv_job_run *run, const char *key)
{
    return json_string_value(json_object_get(pv_job_params(run), key));
}

static enum pv_snapshot_op op_of(const char *op)
{
    if (op && strcmp(op, "revert") == 0)
        return PV_SNAP_REVERT;
    if (op && strcmp(op, "delete") == 0)
        return PV_SNAP_DELETE;
    return PV_SNAP_CREATE;
}

static void keep_result(struct pv_job_run *run, const char *vm_id, const char *key,
                        const char *note)
{
    json_t *res = pv_job_result(run);
    char id[32];

    json_object_set_new(res, "vm_id", json_string(vm_id));
    json_object_set_new(res, "op", json_string(param(run, "op")));
    json_object_set_new(res, "name", json_string(param(run, "name")));
    if (key && *key) {
        pv_devices_id_of("snap", key, id);
        json_object_set_new(res, "snapshot_id", json_string(id));
    }
    if (note)
        json_object_set_new(res, "note", json_string(note));
}

static int snapshot_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    json_t *p = pv_job_params(run);
    struct pv_snapshot_change ch = {
        .op = op_of(param(run, "op")),
        .key = param(run, "key"),
        .name = param(run, "name"),
        .description = param(run, "description"),
        .with_memory = json_is_true(json_object_get(p, "memory")),
        .children = json_is_true(json_object_get(p, "children")),
    };
    char key[256] = "";
    struct pv_vm_call c;
    int rc;

    (void)idx;
    if ((rc = pv_vm_call_open(run, &c, err)))
        return rc;
    rc = pv_conns_need(&c.h, PV_CAP_SNAPSHOTS, (void *)c.h.a->vm_snapshot, err);
    if (!rc)
        rc = c.h.a->vm_snapshot(c.h.conn, c.vm.native_id, &ch, &c.sink, key, sizeof key, err);
    pv_vm_call_close(&c, run, rc);
    if (!rc) {
        keep_result(run, c.vm.id, ch.op == PV_SNAP_CREATE ? key : ch.key, NULL);
        pv_event("vm", c.vm.id, "info", pv_job_actor(run), "vm %s: snapshot %s %s", c.vm.name,
                 param(run, "op"), param(run, "name"));
    }
    return rc;
}

static int snapshot_reconcile(struct pv_job_run *run, struct pv_error *err)
{
    struct pv_db_vm_ref vm;
    const char *key = param(run, "key"), *before = param(run, "current_before");
    json_t *items = NULL, *s;
    int done = 0;

    if (pv_db_vm_ref(pv_job_target(run), &vm, NULL) != 0)
        return pv_fail(err, vm_not_found, "the VM disappeared while polyvisord was down");
    if (pv_snapshots_read(&vm, &items, err))
        return err->err;
    switch (op_of(param(run, "op"))) {
    case PV_SNAP_CREATE:
        if ((s = pv_snapshots_find(items, NULL, param(run, "name")))) {
            keep_result(run, vm.id, json_string_value(json_object_get(s, "key")),
                        "made before polyvisord restarted");
            done = 1;
        }
        break;
    case PV_SNAP_DELETE:
        done = 1;
        {
            size_t i;
            json_array_foreach(items, i, s) {
                const char *k = json_string_value(json_object_get(s, "key"));
                if (k && key && strcmp(k, key) == 0)
                    done = 0;
            }
        }
        if (done)
            keep_result(run, vm.id, key, "deleted before polyvisord restarted");
        break;
    case PV_SNAP_REVERT: {
        size_t i;
        json_array_foreach(items, i, s) {
            const char *k = json_string_value(json_object_get(s, "key"));
            if (k && key && strcmp(k, key) == 0 && json_is_true(json_object_get(s, "current")) &&
                !(before && strcmp(before, key) == 0))
                done = 1;
        }
        if (done)
            keep_result(run, vm.id, key, "reverted before polyvisord restarted");
        break;
    }
    }
    json_decref(items);
    return done ? PV_RECONCILE_DONE : PV_RECONCILE_RESUME;
}

static const char *const snapshot_steps[] = {"snapshot"};
const struct pv_job_kind pv_job_vm_snapshot = {"vm.snapshot", snapshot_steps, 1, snapshot_step,
                                               snapshot_reconcile};
