/* api_devices.c -- a VM's disks and NICs as devices you change: add, remove,
 * grow and move (storage migration) a disk, add and remove a NIC, connect a
 * NIC to another network.
 *
 * Each answers 202 with the Location of a "vm.device" job
 * (server/jobs/kinds/jobs_devices.c) -- after everything that can be known
 * here was checked, so a 4xx means nothing was queued: the adapter can
 * change devices at all (unsupported_by_backend), the device exists
 * (disk_not_found / nic_not_found by its id), the pool or network is one
 * the VM's host reaches (unknown_pool / unknown_network for another
 * connection's or none of that name, pool_unreachable /
 * network_unreachable), the pool has room (insufficient_storage), a disk
 * only grows (shrink_not_supported), a running VM keeps the disk it boots
 * from (boot_disk_in_use), a disk moves to another pool (same_pool), a
 * saved VM's memory expects the devices it had (vm_saved).  The job's parameters carry names as the host
 * knows them, plus what its reconcile compares with after a restart.
 */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/core/validate.h"
#include "server/inventory/devices.h"
#include "server/inventory/plugins.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* What every change needs: the VM, its host, its device list of the kind. */
struct target {
    struct pv_db_vm_ref vm;
    struct pv_db_host_ref host;
    json_t *list;       /* the VM's disks or nics as stored */
    char lock[128];
};

static void target_free(struct target *t)
{
    json_decref(t->list);
    t->list = NULL;
}

static int refuse(struct pv_req *r, struct pv_error *e, const char *field)
{
    if (field)
        pv_reply_error_details(r, e, json_pack("{s:s}", "field", field));
    else
        pv_reply_error(r, e);
    return -1;
}

/* The VM of the path, able to change devices, on a known host; or a reply. */
static int target_of(struct pv_req *r, int nic, struct target *t)
{
    const struct pv_adapter *a;
    struct pv_error e = {0};
    char *disks = NULL, *nics = NULL;

    memset(t, 0, sizeof *t);
    if (pv_db_vm_ref(r->params[0], &t->vm, &e))
        return refuse(r, &e, NULL);
    a = pv_plugins_find(t->vm.vendor);
    if (!a || !(a->caps & PV_CAP_DEVICES) || !a->vm_device) {
        pv_fail(&e, unsupported_by_backend,
                "the %s adapter cannot change a VM's disks and NICs (it lacks the devices "
                "capability)", t->vm.vendor);
        return refuse(r, &e, NULL);
    }
    if (strcmp(t->vm.power_state, "saved") == 0) {
        pv_fail(&e, vm_saved, "vm %s has a saved state that expects its devices as they were: "
                              "start it, or delete the saved state, first", t->vm.name);
        return refuse(r, &e, NULL);
    }
    if (!t->vm.host_id[0] || pv_db_host_ref(t->vm.host_id, &t->host, &e)) {
        pv_fail(&e, host_unavailable, "vm %s is on no known host", t->vm.name);
        return refuse(r, &e, NULL);
    }
    snprintf(t->lock, sizeof t->lock, "host:%s", t->vm.host_id);
    pv_db_vm_devices(t->vm.id, &disks, &nics);
    t->list = json_loads(nic ? (nics ? nics : "[]") : (disks ? disks : "[]"), 0, NULL);
    if (!json_is_array(t->list)) {
        json_decref(t->list);
        t->list = json_array();
    }
    free(disks);
    free(nics);
    return 0;
}

/* The device of the path's {disk_id} / {nic_id}, and its index; or a 404. */
static json_t *device_of(struct pv_req *r, struct target *t, int nic, size_t *index)
{
    struct pv_error e = {0};
    json_t *d;
    size_t i;

    json_array_foreach(t->list, i, d) {
        const char *id = json_string_value(json_object_get(d, "id"));
        if (id && strcmp(id, r->params[1]) == 0 && json_is_string(json_object_get(d, "key"))) {
            *index = i;
            return d;
        }
    }
    if (nic)
        pv_fail(&e, nic_not_found, "vm %s has no NIC '%.64s'", t->vm.name, r->params[1]);
    else
        pv_fail(&e, disk_not_found, "vm %s has no disk '%.64s'", t->vm.name, r->params[1]);
    refuse(r, &e, nic ? "nic_id" : "disk_id");
    return NULL;
}

/* The keys the VM's devices of the kind have now (for reconcile: a device
 * that appears besides them is the one an interrupted add made). */
static json_t *keys_of(const json_t *list)
{
    json_t *out = json_array(), *d;
    size_t i;

    json_array_foreach(list, i, d)
        if (json_is_string(json_object_get(d, "key")))
            json_array_append(out, json_object_get(d, "key"));
    return out;
}

static void submit(struct pv_req *r, struct target *t, json_t *params)
{
    struct pv_error e = {0};
    char job[64];

    json_object_set_new(params, "vm_name", json_string(t->vm.name));
    if (pv_api_submit(r, "vm.device", "vm", t->vm.id, t->lock, params, job, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_job(r, job);
}

static int running(const struct target *t)
{
    return strcmp(t->vm.power_state, "running") == 0 || strcmp(t->vm.power_state, "paused") == 0;
}

/* ---- pools and networks ------------------------------------------------- */

/* The pool a new disk goes to, from {"pool_id"} or {"pool"} / {"datastore"}
 * (none: the host's "default"), into params: "pool" (its name on the host),
 * and "pool_id", "pool_native_id" when the inventory knows it; with its
 * free space checked against need_mb. */
static int pool_for(struct pv_req *r, struct target *t, const json_t *body, int64_t need_mb,
                    json_t *params)
{
    struct pv_error e = {0};
    struct pv_db_place_ref ref;
    const char *name;
    int known;

    if (json_is_string(json_object_get(body, "pool_id"))) {
        json_t *disks = json_pack("[{s:O}]", "pool_id", json_object_get(body, "pool_id"));
        int bad = pv_devices_for_host(&t->host, disks, NULL, &e);
        name = bad ? NULL : json_string_value(json_object_get(json_array_get(disks, 0), "pool"));
        known = name && pv_db_place_on_host(t->host.id, 0, name, 0, &ref) == 0;
        if (!bad && !known)
            pv_fail(&e, pool_unreachable, "host %s does not reach that storage pool", t->host.name);
        json_decref(disks);
        if (bad || !known)
            return refuse(r, &e, "pool_id");
    } else {
        json_t *p = json_object_get(body, "pool");
        name = json_is_string(p) ? json_string_value(p)
               : json_is_string(json_object_get(body, "datastore"))
                   ? json_string_value(json_object_get(body, "datastore"))
                   : "default";
        known = pv_db_place_on_host(t->host.id, 0, name, 0, &ref) == 0;
        if (!known && pv_db_host_has_places(t->host.id, 0)) {
            pv_fail(&e, unknown_pool, "host %s has no storage pool '%.64s'", t->host.name, name);
            return refuse(r, &e, json_is_string(p) ? "pool" : NULL);
        }
        if (!known) { /* a vendor that reports no pools: its endpoint judges */
            json_object_set_new(params, "pool", json_string(name));
            return 0;
        }
    }
    if (need_mb > ref.free_mb) {
        pv_fail(&e, insufficient_storage, "storage pool %s has %lld MiB free; the disk needs %lld MiB",
                ref.name, (long long)ref.free_mb, (long long)need_mb);
        pv_reply_error_details(r, &e, json_pack("{s:s,s:I,s:I}", "pool_id", ref.id, "required_mb",
                                                (json_int_t)need_mb, "free_mb", (json_int_t)ref.free_mb));
        return -1;
    }
    json_object_set_new(params, "pool", json_string(ref.name));
    json_object_set_new(params, "pool_id", json_string(ref.id));
    json_object_set_new(params, "pool_native_id", json_string(ref.native_id));
    return 0;
}

/* The network a NIC goes to, from {"network_id"}, {"network"} or
 * {"bridge"}, into params: "network" (its name), "network_kind" and, when
 * known, "network_id", "network_native_id". */
static int network_for(struct pv_req *r, struct target *t, const json_t *body, json_t *params)
{
    struct pv_error e = {0};
    struct pv_db_place_ref ref;
    json_t *nics;
    const char *name, *field;
    int bridge;

    if (json_is_string(json_object_get(body, "network_id"))) {
        field = "network_id";
        nics = json_pack("[{s:O}]", "network_id", json_object_get(body, "network_id"));
        if (pv_devices_for_host(&t->host, NULL, nics, &e)) {
            json_decref(nics);
            return refuse(r, &e, field);
        }
        bridge = json_object_get(json_array_get(nics, 0), "bridge") != NULL;
        name = json_string_value(json_object_get(json_array_get(nics, 0), bridge ? "bridge" : "network"));
        if (!name || pv_db_place_on_host(t->host.id, 1, name, bridge, &ref) != 0) {
            json_decref(nics);
            pv_fail(&e, network_unreachable, "host %s does not reach that network", t->host.name);
            return refuse(r, &e, field);
        }
        json_decref(nics);
    } else {
        bridge = json_is_string(json_object_get(body, "bridge"));
        field = bridge ? "bridge" : "network";
        name = json_string_value(json_object_get(body, field));
        if (!name) {
            pv_fail(&e, missing_field, "give 'network_id', 'network' or 'bridge'");
            return refuse(r, &e, "network_id");
        }
        if (pv_db_place_on_host(t->host.id, 1, name, bridge, &ref) != 0) {
            if (pv_db_host_has_places(t->host.id, 1)) {
                pv_fail(&e, unknown_network, "host %s has no %s '%.64s'", t->host.name,
                        bridge ? "bridge" : "network", name);
                return refuse(r, &e, field);
            }
            json_object_set_new(params, "network", json_string(name));
            json_object_set_new(params, "network_kind", json_string(bridge ? "bridge" : "network"));
            return 0;
        }
    }
    json_object_set_new(params, "network", json_string(ref.name));
    json_object_set_new(params, "network_kind", json_string(ref.kind));
    json_object_set_new(params, "network_id", json_string(ref.id));
    json_object_set_new(params, "network_native_id", json_string(ref.native_id));
    return 0;
}

/* ---- the routes --------------------------------------------------------- */

#define SIZE_FIELD {"size_gb", PV_J_INT, PV_J_REQUIRED, 1, 65536, NULL}
#define NETWORK_FIELDS                                          \
    {"network_id", PV_J_STRING, 0, 1, 64, NULL},                \
    {"network", PV_J_STRING, 0, 1, 64, NULL},                   \
    {"bridge", PV_J_STRING, 0, 1, 64, NULL}

/* POST /vms/{id}/disks {"size_gb", "pool_id" | "pool"} */
void pv_api_vm_disk_add(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        SIZE_FIELD,
        {"pool_id", PV_J_STRING, 0, 1, 64, NULL},
        {"pool", PV_J_STRING, 0, 1, 64, NULL},
        {"datastore", PV_J_STRING, 0, 1, 64, NULL},
    };
    json_t *body = pv_api_body(r, spec, N(spec)), *params;
    struct target t;

    if (!body)
        return;
    if (target_of(r, 0, &t) == 0) {
        int64_t size = json_integer_value(json_object_get(body, "size_gb"));
        params = json_pack("{s:s,s:s,s:I,s:o}", "op", "add", "kind", "disk", "size_gb",
                           (json_int_t)size, "keys_before", keys_of(t.list));
        if (pool_for(r, &t, body, size * 1024, params) == 0)
            submit(r, &t, params);
        json_decref(params);
        target_free(&t);
    }
    json_decref(body);
}

/* DELETE /vms/{id}/disks/{disk_id} */
void pv_api_vm_disk_remove(struct pv_req *r)
{
    struct target t;
    struct pv_error e = {0};
    size_t i;
    json_t *d, *params;

    if (target_of(r, 0, &t))
        return;
    if ((d = device_of(r, &t, 0, &i))) {
        if (i == 0 && running(&t)) {
            pv_fail(&e, boot_disk_in_use, "disk %s is the first disk of %s vm %s, the one it boots "
                    "from: stop the VM first", r->params[1], t.vm.power_state, t.vm.name);
            refuse(r, &e, "disk_id");
        } else {
            params = json_pack("{s:s,s:s,s:s,s:O}", "op", "remove", "kind", "disk", "device_id",
                               r->params[1], "key", json_object_get(d, "key"));
            submit(r, &t, params);
            json_decref(params);
        }
    }
    target_free(&t);
}

/* POST /vms/{id}/disks/{disk_id}/resize {"size_gb"} */
void pv_api_vm_disk_resize(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {SIZE_FIELD};
    json_t *body = pv_api_body(r, spec, N(spec)), *d, *params;
    struct pv_error e = {0};
    struct pv_db_place_ref pool;
    struct target t;
    size_t i;

    if (!body)
        return;
    if (target_of(r, 0, &t) == 0 && (d = device_of(r, &t, 0, &i))) {
        int64_t want = json_integer_value(json_object_get(body, "size_gb")) * 1024;
        json_t *mb = json_object_get(d, "size_mb");
        int64_t now = json_is_integer(mb) ? json_integer_value(mb)
                                          : json_integer_value(json_object_get(d, "size_gb")) * 1024;
        const char *pool_id = json_string_value(json_object_get(d, "pool_id"));
        if (want <= now) {
            pv_fail(&e, shrink_not_supported, "disk %s is %lld MiB: it only grows (asked for %lld MiB)",
                    r->params[1], (long long)now, (long long)want);
            pv_reply_error_details(r, &e, json_pack("{s:s,s:I,s:I}", "field", "size_gb", "size_mb",
                                                    (json_int_t)now, "requested_mb", (json_int_t)want));
        } else if (pool_id && pv_db_pool_ref(pool_id, &pool, NULL) == 0 &&
                   want - now > pool.free_mb) {
            pv_fail(&e, insufficient_storage, "storage pool %s has %lld MiB free; growing the disk "
                    "needs %lld MiB more", pool.name, (long long)pool.free_mb, (long long)(want - now));
            pv_reply_error_details(r, &e, json_pack("{s:s,s:I,s:I}", "pool_id", pool_id, "required_mb",
                                                    (json_int_t)(want - now), "free_mb",
                                                    (json_int_t)pool.free_mb));
        } else {
            params = json_pack("{s:s,s:s,s:s,s:O,s:O}", "op", "resize", "kind", "disk", "device_id",
                               r->params[1], "key", json_object_get(d, "key"), "size_gb",
                               json_object_get(body, "size_gb"));
            submit(r, &t, params);
            json_decref(params);
        }
    }
    target_free(&t);
    json_decref(body);
}

/* POST /vms/{id}/disks/{disk_id}/move {"pool_id" | "pool"}: storage migration */
void pv_api_vm_disk_move(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"pool_id", PV_J_STRING, 0, 1, 64, NULL},
        {"pool", PV_J_STRING, 0, 1, 64, NULL},
        {"datastore", PV_J_STRING, 0, 1, 64, NULL},
    };
    json_t *body = pv_api_body(r, spec, N(spec)), *d, *params;
    struct pv_error e = {0};
    struct target t;
    size_t i;

    if (!body)
        return;
    memset(&t, 0, sizeof t);
    if (!json_object_size(body)) {
        pv_fail(&e, missing_field, "give 'pool_id' or 'pool'");
        refuse(r, &e, "pool_id");
    } else if (target_of(r, 0, &t) == 0 && (d = device_of(r, &t, 0, &i))) {
        json_t *mb = json_object_get(d, "size_mb");
        const char *from = json_string_value(json_object_get(d, "pool_id"));
        params = json_pack("{s:s,s:s,s:s,s:O}", "op", "move", "kind", "disk", "device_id",
                           r->params[1], "key", json_object_get(d, "key"));
        if (pool_for(r, &t, body, json_integer_value(mb), params) == 0) {
            const char *to = json_string_value(json_object_get(params, "pool_id"));
            if (from && to && strcmp(from, to) == 0) {
                pv_fail(&e, same_pool, "disk %s is in storage pool %s already", r->params[1],
                        json_string_value(json_object_get(params, "pool")));
                refuse(r, &e, "pool_id");
            } else {
                submit(r, &t, params);
            }
        }
        json_decref(params);
    }
    target_free(&t);
    json_decref(body);
}

/* POST /vms/{id}/nics {"network_id" | "network" | "bridge"} */
void pv_api_vm_nic_add(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {NETWORK_FIELDS};
    json_t *body = pv_api_body(r, spec, N(spec)), *params;
    struct target t;

    if (!body)
        return;
    if (target_of(r, 1, &t) == 0) {
        params = json_pack("{s:s,s:s,s:o}", "op", "add", "kind", "nic", "keys_before", keys_of(t.list));
        if (network_for(r, &t, body, params) == 0)
            submit(r, &t, params);
        json_decref(params);
        target_free(&t);
    }
    json_decref(body);
}

/* PATCH /vms/{id}/nics/{nic_id} {"network_id" | "network" | "bridge"} */
void pv_api_vm_nic_connect(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {NETWORK_FIELDS};
    json_t *body = pv_api_body(r, spec, N(spec)), *d, *params;
    struct target t;
    size_t i;

    if (!body)
        return;
    if (target_of(r, 1, &t) == 0 && (d = device_of(r, &t, 1, &i))) {
        params = json_pack("{s:s,s:s,s:s,s:O}", "op", "connect", "kind", "nic", "device_id",
                           r->params[1], "key", json_object_get(d, "key"));
        if (network_for(r, &t, body, params) == 0)
            submit(r, &t, params);
        json_decref(params);
    }
    target_free(&t);
    json_decref(body);
}

/* DELETE /vms/{id}/nics/{nic_id} */
void pv_api_vm_nic_remove(struct pv_req *r)
{
    struct target t;
    size_t i;
    json_t *d, *params;

    if (target_of(r, 1, &t))
        return;
    if ((d = device_of(r, &t, 1, &i))) {
        params = json_pack("{s:s,s:s,s:s,s:O}", "op", "remove", "kind", "nic", "device_id",
                           r->params[1], "key", json_object_get(d, "key"));
        submit(r, &t, params);
        json_decref(params);
    }
    target_free(&t);
}
