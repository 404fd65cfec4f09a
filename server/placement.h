/* placement.h -- choosing a host for a VM.
 *
 * Today's rule is the simple one every manager starts with: among connected
 * hosts of the right vendor with room for the VM's memory, the one with the
 * most free memory, ties broken by the lower host id (so the same inventory
 * always gives the same answer).  The decision, with every candidate's
 * verdict, is returned as JSON and stored on the job.  The rating engine of
 * the placement issue replaces the rule behind this same call.
 */
#ifndef PV_PLACEMENT_H
#define PV_PLACEMENT_H

#include <jansson.h>
#include <stdint.h>
#include "../adapters/adapter.h"

/* requested: a host the caller named (validated), or NULL to choose.
 * exclude: the VM's current host (migration), or NULL/"".  vendor: NULL for
 * any.  *decision is a new JSON object. */
int pv_place_host(const char *requested, const char *exclude, int64_t vcpus, int64_t memory_mb,
                  const char *vendor, char chosen[64], json_t **decision, struct pv_error *err);

#endif
