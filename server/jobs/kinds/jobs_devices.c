/* jobs_devices.c -- the "vm.device" job: one change to one of a VM's disks
 * or NICs (add, remove, resize, connect), through the adapter's vm_device
 * call (ABI 10).  server/http/api_devices.c has checked the request and put
 * into the parameters the names the VM's host knows: "op", "kind", the
 * device's "key" (as its adapter reports it), "size_gb", "pool",
 * "network", "network_kind", and the ids the inventory knows them by.
 *
 * A device change is not idempotent (adding twice makes two disks), so the
 * reconcile after a restart of polyvisord compares the VM's devices, read
 * again from the endpoint, with the goal before anything is run again: an
 * add is done when a device appeared besides those the VM had when the job
 * was asked for ("keys_before"), a remove when the key is gone, a resize
 * when the disk has the size, a connect when the NIC is on the network, a
 * move when the disk is in the target pool.
 * The job's result says what was done and whether the running VM has it
 * now ("live") or what the operator should know ("note").
 */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/core/events.h"
#include "server/inventory/conns.h"
#include "server/inventory/devices.h"
#include "server/jobs/jobs.h"
#include "server/jobs/kinds/kinds.h"

static const char *param(struct pv_job_run *run, const char *key)
{
    return json_string_value(json_object_get(pv_job_params(run), key));
}

static int is_nic(struct pv_job_run *run)
{
    const char *kind = param(run, "kind");
    return kind && strcmp(kind, "nic") == 0;
}

static enum pv_device_op op_of(const char *op)
{
    if (op && strcmp(op, "remove") == 0)
        return PV_DEV_REMOVE;
    if (op && strcmp(op, "resize") == 0)
        return PV_DEV_RESIZE;
    if (op && strcmp(op, "connect") == 0)
        return PV_DEV_CONNECT;
    if (op && strcmp(op, "move") == 0)
        return PV_DEV_MOVE;
    return PV_DEV_ADD;
}

/* The result of a change: which device, and what the operator should know. */
static void keep_result(struct pv_job_run *run, const char *vm_id, const char *key, int live,
                        const char *note)
{
    json_t *res = pv_job_result(run);
    char id[32];

    json_object_set_new(res, "vm_id", json_string(vm_id));
    json_object_set_new(res, "op", json_string(param(run, "op")));
    json_object_set_new(res, "kind", json_string(param(run, "kind")));
    if (key && *key) {
        pv_devices_id(is_nic(run), key, id);
        json_object_set_new(res, is_nic(run) ? "nic_id" : "disk_id", json_string(id));
    }
    if (live >= 0)
        json_object_set_new(res, "live", json_boolean(live));
    if (note && *note)
        json_object_set_new(res, "note", json_string(note));
}

static int device_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    json_t *p = pv_job_params(run);
    struct pv_device_change ch = {
        .op = op_of(param(run, "op")),
        .kind = is_nic(run) ? PV_DEV_NIC : PV_DEV_DISK,
        .device_key = param(run, "key"),
        .size_gb = json_integer_value(json_object_get(p, "size_gb")),
        .pool = param(run, "pool"),
        .pool_native_id = param(run, "pool_native_id"),
        .network = param(run, "network"),
        .network_kind = param(run, "network_kind"),
        .network_native_id = param(run, "network_native_id"),
    };
    struct pv_device_result out;
    struct pv_vm_call c;
    int rc;

    (void)idx;
    memset(&out, 0, sizeof out);
    if ((rc = pv_vm_call_open(run, &c, err)))
        return rc;
    rc = pv_conns_need(&c.h, PV_CAP_DEVICES, (void *)c.h.a->vm_device, err);
    if (!rc)
        rc = c.h.a->vm_device(c.h.conn, c.vm.native_id, &ch, &c.sink, &out, err);
    pv_vm_call_close(&c, run, rc);
    if (!rc) {
        keep_result(run, c.vm.id, out.key, out.live, out.note);
        pv_event("vm", c.vm.id, "info", pv_job_actor(run), "vm %s: %s %s %s%s%s", c.vm.name,
                 param(run, "op"), param(run, "kind"), out.key, out.note[0] ? ": " : "", out.note);
    }
    return rc;
}

static int listed(const json_t *keys, const char *key)
{
    json_t *k;
    size_t i;

    json_array_foreach(keys, i, k)
        if (json_is_string(k) && strcmp(json_string_value(k), key) == 0)
            return 1;
    return 0;
}

/* Is the change the job asks for there already?  (devices: the VM's list
 * of the kind, as the endpoint reported it just now.) */
static int goal_reached(struct pv_job_run *run, const char *vm_id, const json_t *devices)
{
    json_t *p = pv_job_params(run), *d;
    const char *key = param(run, "key");
    enum pv_device_op op = op_of(param(run, "op"));
    size_t i;

    json_array_foreach(devices, i, d) {
        const char *k = json_string_value(json_object_get(d, "key"));
        if (!k)
            continue;
        if (op == PV_DEV_ADD && !listed(json_object_get(p, "keys_before"), k)) {
            keep_result(run, vm_id, k, -1, "made before polyvisord restarted");
            return 1;
        }
        if (!key || strcmp(k, key) != 0)
            continue;
        if (op == PV_DEV_REMOVE)
            return 0; /* still there */
        if (op == PV_DEV_RESIZE)
            return json_integer_value(json_object_get(d, "size_mb")) >=
                   json_integer_value(json_object_get(p, "size_gb")) * 1024;
        if (op == PV_DEV_MOVE) {
            const char *want = param(run, "pool_id");
            const char *now = json_string_value(json_object_get(d, "pool_id"));
            return want && now && strcmp(want, now) == 0;
        }
        if (op == PV_DEV_CONNECT) {
            const char *want = param(run, "network_id");
            const char *now = json_string_value(json_object_get(d, "network_id"));
            return want && now && strcmp(want, now) == 0;
        }
    }
    if (op == PV_DEV_REMOVE) {
        keep_result(run, vm_id, NULL, -1, "removed before polyvisord restarted");
        return 1;
    }
    return 0;
}

static int device_reconcile(struct pv_job_run *run, struct pv_error *err)
{
    struct pv_db_vm_ref vm;
    struct pv_handle h;
    char *disks = NULL, *nics = NULL;
    json_t *list;
    int rc, done;

    if (pv_db_vm_ref(pv_job_target(run), &vm, NULL) != 0)
        return pv_fail(err, vm_not_found, "the VM disappeared while polyvisord was down");
    rc = pv_conns_acquire(vm.connection_id, &h, err);
    if (rc)
        return rc;
    pv_conns_refresh(&h, vm.native_id, run);
    pv_conns_release(&h, 0);
    if (pv_db_vm_devices(vm.id, &disks, &nics) != 0)
        return pv_fail(err, vm_not_found, "the VM disappeared while polyvisord was down");
    list = json_loads(is_nic(run) ? (nics ? nics : "[]") : (disks ? disks : "[]"), 0, NULL);
    done = goal_reached(run, vm.id, list);
    json_decref(list);
    free(disks);
    free(nics);
    return done ? PV_RECONCILE_DONE : PV_RECONCILE_RESUME;
}

static const char *const device_steps[] = {"change device"};
const struct pv_job_kind pv_job_vm_device = {"vm.device", device_steps, 1, device_step,
                                             device_reconcile};
