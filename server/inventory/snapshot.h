/* inventory.h -- loading the placement engine's snapshot from the database.
 *
 * The snapshot is read in one transaction (db/db_placement.c) and turned
 * into the engine's arrays: each host group gets its effective policy (its
 * ancestors' policies laid over the defaults, then its own), hosts and VMs
 * are linked by index, and allocation and quota figures are counted from
 * the VMs.  A policy stored before validation existed that no longer parses
 * is reported as an error naming the group, not silently ignored.
 */
#ifndef PV_PL_INVENTORY_H
#define PV_PL_INVENTORY_H

#include "server/placement/engine.h"

int pv_snapshot_load(struct pv_pl_inv **out, struct pv_error *err);

#endif
