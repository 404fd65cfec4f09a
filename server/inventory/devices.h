/* devices.h -- a VM's disks and NICs between the API's words and an
 * adapter's.
 *
 * Going out (create): a disk names its pool by pool_id, by pool (a name on
 * the chosen host) or by datastore (the same); a NIC its network by
 * network_id, network or bridge.  pv_devices_for_host() turns ids into the
 * names the adapters take ({"pool": NAME}, {"network": NAME} or, for a host
 * bridge, {"bridge": NAME}), refusing a pool or network of another
 * connection (unknown_pool / unknown_network) or one the host does not reach
 * (pool_unreachable / network_unreachable).
 *
 * Coming in (a VM's report): each disk and NIC of an adapter may carry "key"
 * (its device key on the endpoint: libvirt's target dev, vSphere's device
 * key) and "pool_native_id" / "network_native_id".  pv_devices_reported()
 * gives each an "id" of Polyvisor's (from the key, stable across reads) and
 * the "pool_id" / "network_id" of the inventory's object (null when none is
 * known), and drops the native ids.
 */
#ifndef PV_DEVICES_H
#define PV_DEVICES_H

#include <jansson.h>
#include "db/db.h"

/* A new JSON text of the list with ids (NULL when list_json is not a list);
 * nics: 1 for a NIC list, 0 for disks. */
char *pv_devices_reported(const char *conn_id, int nics, const char *list_json);
/* The id Polyvisor gives the device an adapter reports with key
 * (out has room for 32). */
void pv_devices_id(int nic, const char *key, char out[32]);
/* The same for any object a VM has by key ("snap" for its snapshots). */
void pv_devices_id_of(const char *prefix, const char *key, char out[32]);
/* Does every pool_id and network_id of disks and nics name an object of
 * the inventory?  unknown_pool / unknown_network when one does not (a
 * create that leaves the host to placement: refused before a job). */
int pv_devices_known(json_t *disks, json_t *nics, struct pv_error *err);
/* Rewrite disks and nics (JSON arrays, changed in place) for host h. */
int pv_devices_for_host(const struct pv_db_host_ref *h, json_t *disks, json_t *nics,
                        struct pv_error *err);

#endif
