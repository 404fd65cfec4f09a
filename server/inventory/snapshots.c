/* snapshots.c -- a VM's snapshots read live from its endpoint (see
 * snapshots.h for why there is no table of them). */
#include <stdlib.h>
#include <string.h>
#include "server/inventory/conns.h"
#include "server/inventory/devices.h"
#include "server/inventory/plugins.h"
#include "server/inventory/snapshots.h"

int pv_snapshots_read(const struct pv_db_vm_ref *vm, json_t **items, struct pv_error *err)
{
    const struct pv_adapter *a;
    struct pv_handle h;
    char *json = NULL, id[32];
    json_t *list, *s;
    size_t i;
    int rc;

    *items = NULL;
    a = pv_plugins_find(vm->vendor);
    if (!a || !(a->caps & PV_CAP_SNAPSHOTS) || !a->vm_snapshots || !a->vm_snapshot)
        return pv_fail(err, unsupported_by_backend,
                       "the %s adapter has no snapshots (it lacks the snapshots capability)",
                       vm->vendor);
    rc = pv_conns_acquire(vm->connection_id, &h, err);
    if (rc)
        return rc;
    rc = pv_conns_need(&h, PV_CAP_SNAPSHOTS, (void *)h.a->vm_snapshots, err);
    if (!rc)
        rc = h.a->vm_snapshots(h.conn, vm->native_id, &json, err);
    pv_conns_release(&h, rc == PV_EUNREACHABLE);
    if (rc)
        return rc;
    list = json ? json_loads(json, 0, NULL) : NULL;
    free(json);
    if (!json_is_array(list)) {
        json_decref(list);
        return pv_fail(err, bad_response, "the %s adapter's snapshot list is not a list",
                       vm->vendor);
    }
    json_array_foreach(list, i, s) {
        const char *key = json_string_value(json_object_get(s, "key"));
        const char *parent = json_string_value(json_object_get(s, "parent_key"));
        pv_devices_id_of("snap", key ? key : "", id);
        json_object_set_new(s, "id", json_string(id));
        if (parent) {
            pv_devices_id_of("snap", parent, id);
            json_object_set_new(s, "parent_id", json_string(id));
        } else {
            json_object_set_new(s, "parent_id", json_null());
        }
        json_object_set_new(s, "vm_id", json_string(vm->id));
        json_object_del(s, "parent_key");
        json_object_del(s, "state");
    }
    *items = list;
    return 0;
}

json_t *pv_snapshots_find(const json_t *items, const char *id, const char *name)
{
    const char *field = name ? "name" : "id", *want = name ? name : id;
    json_t *s;
    size_t i;

    json_array_foreach(items, i, s) {
        const char *v = json_string_value(json_object_get(s, field));
        if (v && want && strcmp(v, want) == 0)
            return s;
    }
    return NULL;
}
