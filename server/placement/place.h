/* place.h -- placement questions as the rest of the daemon asks them.
 *
 * These calls are handed an inventory snapshot (server/inventory/snapshot.h:
 * placement reads no database), build the engine's request
 * from the caller's JSON, rate every host and keep the decision: the chosen
 * host, the ten best ratings (plus the requested host's when it is not among
 * them), how many hosts each filter turned away, and the tie-break rule.
 * Jobs store that decision in their result (`result.placement`), so why a
 * host was chosen stays readable after the job ends.
 */
#ifndef PV_PL_PLACE_H
#define PV_PL_PLACE_H

#include <jansson.h>
#include "server/placement/engine.h"

/* Build a request from {"vm": {vcpus, memory_mb, vendor?, tags?,
 * anti_affinity?, affinity?}} or {"vm_id": "..."}, with optional
 * "host_group_id", "ha_restart" and "limit" (how many ratings to answer,
 * read by the caller).  Unknown keys are refused.  The
 * request borrows JSON from body and inv. */
int pv_place_request(const struct pv_pl_inv *inv, json_t *body, struct pv_pl_request *req,
                     struct pv_error *err);

/* Rate and decide.  requested: a host the caller named (it must pass every
 * filter), or NULL to take the best.  *decision (always set on return, also
 * on refusal, when not NULL) is a new JSON object. */
int pv_place_decide(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                    const char *requested, int *chosen, json_t **decision, struct pv_error *err);

/* For jobs: choose a host for a new VM described by spec (the create body:
 * vcpus, memory_mb, vendor, tags, anti_affinity, affinity, host_group_id). */
int pv_place_new(const struct pv_pl_inv *inv, json_t *spec, const char *requested,
                 char chosen[64], json_t **decision, struct pv_error *err);
/* For jobs: choose where an existing VM moves. */
int pv_place_move(const struct pv_pl_inv *inv, const char *vm_id, const char *requested,
                  char chosen[64], json_t **decision, struct pv_error *err);
/* A live move, which may copy disks (a migration without shared storage):
 * disks are the VM's as stored (pool_id, size_mb; borrowed), pool_id the
 * destination pool the caller named (NULL: placement picks).  *pool gets the
 * id of the pool on the chosen host the disks it does not reach are copied
 * to ("" when it reaches them all). */
int pv_place_move_live(const struct pv_pl_inv *inv, const char *vm_id, const char *requested,
                       json_t *disks, const char *pool_id, char chosen[64], char pool[64],
                       json_t **decision, struct pv_error *err);

/* For jobs: choose a host for a clone of VM vm_id (same endpoint; vcpus and
 * memory_mb override the source's when above 0). */
int pv_place_clone(const struct pv_pl_inv *inv, const char *vm_id, const char *requested,
                   int vcpus, int64_t memory_mb, char chosen[64], json_t **decision,
                   struct pv_error *err);

#endif
