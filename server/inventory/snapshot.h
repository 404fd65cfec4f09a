/* snapshot.h -- the placement engine's inventory snapshot, read from the
 * database.
 *
 * The snapshot is read in one transaction (db/db_placement.c) and turned
 * into the engine's arrays: each host group gets its effective policy (its
 * ancestors' policies laid over the defaults, then its own), hosts and VMs
 * are linked by index, and allocation and quota figures are counted from
 * the VMs.  A policy stored before validation existed that no longer parses
 * is reported as an error naming the group, not silently ignored.
 *
 * Reading 100,000 VMs takes a while, and placement questions come in bursts
 * (a rating per host in the console, a deploy of ten VMs), so a read-only
 * snapshot is shared: pv_snapshot_get answers the one built at the current
 * inventory generation (pv_db_generation: every committed write changes it),
 * building it only when the generation moved.  A caller that changes its
 * snapshot (plans simulate moves in it) loads its own copy.
 */
#ifndef PV_SNAPSHOT_H
#define PV_SNAPSHOT_H

#include "server/placement/engine.h"

/* A snapshot of the caller's own, to change as it likes (pv_pl_inv_free). */
int pv_snapshot_load(struct pv_pl_inv **out, struct pv_error *err);
/* The shared snapshot of the current generation, read-only; hand it back
 * with pv_snapshot_put. */
int pv_snapshot_get(const struct pv_pl_inv **out, struct pv_error *err);
void pv_snapshot_put(const struct pv_pl_inv *inv);   /* NULL: no-op */

#endif
