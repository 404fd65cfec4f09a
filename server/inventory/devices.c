/* devices.c -- a VM's disks and NICs between the API's words and an
 * adapter's (see devices.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/inventory/devices.h"

/* A device's id: stable across reads as long as the adapter's key for it
 * is, and safe in a URL whatever the vendor's key looks like. */
static void device_id(const char *prefix, const char *key, char out[32])
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    snprintf(out, 32, "%s-%012llx", prefix, (unsigned long long)(h & 0xffffffffffffull));
}

void pv_devices_id(int nic, const char *key, char out[32])
{
    device_id(nic ? "nic" : "disk", key, out);
}

void pv_devices_id_of(const char *prefix, const char *key, char out[32])
{
    device_id(prefix, key, out);
}

char *pv_devices_reported(const char *conn_id, int nics, const char *list_json)
{
    json_t *list = list_json ? json_loads(list_json, 0, NULL) : NULL, *d;
    const char *native_key = nics ? "network_native_id" : "pool_native_id";
    size_t i;
    char *out;

    if (!json_is_array(list)) {
        json_decref(list);
        return NULL;
    }
    json_array_foreach(list, i, d) {
        const char *key = json_string_value(json_object_get(d, "key"));
        const char *native = json_string_value(json_object_get(d, native_key));
        char id[64] = "", dev[32], fallback[24];
        if (!json_is_object(d))
            continue;
        if (!key) { /* an adapter without device keys: the position stands in */
            snprintf(fallback, sizeof fallback, "#%zu", i);
            key = fallback;
        }
        device_id(nics ? "nic" : "disk", key, dev);
        if (native && *native) {
            if (nics)
                pv_db_network_id_native(conn_id, native, id);
            else
                pv_db_pool_id_native(conn_id, native, id);
        }
        json_object_set_new(d, "id", json_string(dev));
        json_object_set_new(d, nics ? "network_id" : "pool_id", id[0] ? json_string(id) : json_null());
        json_object_del(d, native_key);
    }
    out = json_dumps(list, JSON_COMPACT);
    json_decref(list);
    return out;
}

/* One disk's pool_id, or one NIC's network_id, as its name on host h. */
static int by_id(const struct pv_db_host_ref *h, json_t *d, int nic, struct pv_error *err)
{
    const char *id = json_string_value(json_object_get(d, nic ? "network_id" : "pool_id"));
    const char *what = nic ? "network" : "storage pool";
    struct pv_db_place_ref ref;
    int rc;

    if (!id)
        return 0;
    rc = nic ? pv_db_network_ref(id, &ref, err) : pv_db_pool_ref(id, &ref, err);
    if (rc)
        return rc;
    if (strcmp(ref.connection_id, h->connection_id) != 0)
        return nic ? pv_fail(err, unknown_network, "%s %s (%s) belongs to another connection than host %s",
                             what, ref.name, id, h->name)
                   : pv_fail(err, unknown_pool, "%s %s (%s) belongs to another connection than host %s",
                             what, ref.name, id, h->name);
    if (!pv_db_host_reaches(h->id, id))
        return nic ? pv_fail(err, network_unreachable, "host %s does not reach network %s", h->name, ref.name)
                   : pv_fail(err, pool_unreachable, "host %s does not reach storage pool %s", h->name,
                             ref.name);
    json_object_del(d, nic ? "network_id" : "pool_id");
    json_object_set_new(d, nic && strcmp(ref.kind, "bridge") == 0 ? "bridge" : nic ? "network" : "pool",
                        json_string(ref.name));
    return 0;
}

int pv_devices_known(json_t *disks, json_t *nics, struct pv_error *err)
{
    json_t *lists[2] = {disks, nics}, *d;
    struct pv_db_place_ref ref;
    size_t i;

    for (int nic = 0; nic < 2; nic++)
        json_array_foreach(lists[nic], i, d) {
            const char *id = json_string_value(json_object_get(d, nic ? "network_id" : "pool_id"));
            int rc = !id ? 0 : nic ? pv_db_network_ref(id, &ref, err) : pv_db_pool_ref(id, &ref, err);
            if (rc)
                return rc;
        }
    return 0;
}

int pv_devices_for_host(const struct pv_db_host_ref *h, json_t *disks, json_t *nics,
                        struct pv_error *err)
{
    size_t i;
    json_t *d;
    int rc;

    json_array_foreach(disks, i, d) {
        json_t *ds = json_object_get(d, "datastore");
        if (ds) { /* one word for one thing: a datastore is a pool */
            json_object_set(d, "pool", ds);
            json_object_del(d, "datastore");
        }
        if ((rc = by_id(h, d, 0, err)))
            return rc;
    }
    json_array_foreach(nics, i, d)
        if ((rc = by_id(h, d, 1, err)))
            return rc;
    return 0;
}
