/* snapshots.h -- a VM's snapshots, read live from its endpoint.
 *
 * Polyvisor stores no copy of a VM's snapshot tree: the endpoint (libvirt,
 * vCenter) is the only truth, a tree changes behind our back (virsh, the
 * vSphere client), and a list is one call.  So every read asks the adapter
 * (vm_snapshots, ABI 11) and gives each snapshot an id of Polyvisor's
 * derived from the adapter's key ("snap-" and a hash, as a device's id is),
 * stable for as long as the snapshot exists, with parent_id the same way.
 */
#ifndef PV_SNAPSHOTS_H
#define PV_SNAPSHOTS_H

#include <jansson.h>
#include "db/db.h"

/* The VM's snapshots as the API shows them ({"id", "key", "name",
 * "parent_id", "created_at", "current", "memory"}; *items, a new array), or
 * an error: unsupported_by_backend when the adapter has no snapshots. */
int pv_snapshots_read(const struct pv_db_vm_ref *vm, json_t **items, struct pv_error *err);
/* The item of id (or, name not NULL, of that name) in items (borrowed), or NULL. */
json_t *pv_snapshots_find(const json_t *items, const char *id, const char *name);

#endif
