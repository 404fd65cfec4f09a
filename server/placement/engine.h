/* engine.h -- the placement engine: explainable host ratings.
 *
 * One engine answers every placement question Polyvisor has: the dry run of
 * POST /placement/ratings, the host of a VM created or migrated without one,
 * rebalance and evacuation plans, what-if simulations and HA restart targets.
 * It works on a snapshot of the inventory (struct pv_pl_inv, loaded by
 * inventory.c or built by hand in unit tests) and touches nothing else, so
 * the same snapshot and request always give the same answer.
 *
 * Rating a host is two passes, as in SCVMM's intelligent placement:
 *   - filters (hard): host state, vendor compatibility, host-group scope,
 *     memory and CPU after host reserves, overcommit ratios and the capacity
 *     held back for HA restarts, group quotas, affinity and anti-affinity
 *     sets, must/must-not tag rules.  Every filter runs on every host and
 *     reports a verdict with a stable reason code and the numbers behind it;
 *     a host that fails any filter is not eligible and gets 0 stars.
 *   - weights (soft): memory and CPU headroom after placement, the group's
 *     goal (balance spreads, consolidate packs), and "should" tag rules.  Each
 *     weight gives a value in [0, 1]; its contribution is value x weight; the
 *     score is the sum of contributions over the sum of weights, x 100.
 * Stars are the score mapped to 0-5 in half steps (score / 10, rounded to
 * the nearest half).  Eligible hosts are ranked by score, then by free
 * memory after placement, then by name, then by id -- the documented
 * tie-break that makes the choice deterministic.
 */
#ifndef PV_PL_ENGINE_H
#define PV_PL_ENGINE_H

#include <jansson.h>
#include <stdint.h>
#include "adapters/adapter.h"
#include "server/placement/policy.h"

enum pv_pl_state { PV_PL_CONNECTED, PV_PL_DISCONNECTED, PV_PL_MAINTENANCE, PV_PL_FAILED };

struct pv_pl_group {
    char id[64];
    char name[128];
    int parent;                    /* index, -1 for a root */
    struct pv_pl_policy policy;    /* effective: inherited down the tree */
    /* what the group's subtree holds now (for quotas) */
    int64_t used_vms, used_vcpus, used_memory_mb;
};

/* The fields every rating reads come first, so one host's hot data sits in
 * one or two cache lines when 10,000 hosts are rated. */
struct pv_pl_host {
    enum pv_pl_state state;
    int group;                     /* index into inv->groups, -1: none */
    int cpu_cores;
    int nvms;
    int64_t memory_mb;
    int64_t memory_used_mb;        /* measured */
    double cpu_usage_pct;          /* measured */
    /* allocation: what the VMs placed here ask for (running or paused) */
    int64_t alloc_memory_mb;
    int64_t alloc_vcpus;
    json_t *tags;                  /* array of strings, owned; NULL: none */
    char vendor[16];
    char connection_id[64];
    char id[64];
    char name[128];
    int npools, nnetworks;         /* how many it reaches (0: its adapter reports none) */
};

/* A storage pool or a network, and which hosts reach it. */
struct pv_pl_place {
    char id[64];
    char name[128];
    char kind[32];
    int network;                   /* 0: a storage pool; 1: a network */
    int64_t free_mb;               /* pools */
    unsigned char *reach;          /* per host index: 1 when it reaches this; owned */
};

struct pv_pl_vm {
    char id[64];
    char name[128];
    int host;                      /* index, -1: not placed */
    char vendor[16];
    char connection_id[64];
    int moves_in_connection;       /* its vendor moves VMs only inside one endpoint */
    int active;                    /* running or paused: holds memory and CPU */
    int vcpus;
    int64_t memory_mb;
    int ha;                        /* 0 off, 1 low, 2 medium, 3 high */
    char last_moved_at[32];        /* when placement last moved it, "" never */
    json_t *tags, *anti_affinity, *affinity;   /* arrays of strings, owned; NULL: none */
};

struct pv_pl_inv {
    struct pv_pl_group *groups;
    int ngroups;
    struct pv_pl_host *hosts;
    int nhosts;
    struct pv_pl_vm *vms;
    int nvms, cap_vms;             /* cap_vms: room allocated in vms */
    struct pv_pl_place *places;    /* ordered by id */
    int nplaces;
};

/* What is to be placed. */
struct pv_pl_request {
    int vm;                        /* index of an existing VM (moving it), or -1 */
    int vcpus;
    int64_t memory_mb;
    const char *vendor;            /* NULL: any */
    const char *connection_id;     /* set when the move must stay in one endpoint */
    json_t *tags, *anti_affinity, *affinity;   /* borrowed, may be NULL */
    int scope_group;               /* index: only hosts in this group's subtree; -1: all */
    int ha_restart;                /* 1: may use the capacity held back for HA */
    int exclude_host;              /* index never chosen (the VM's own host), -1: none */
    const unsigned char *excluded; /* per host: 1 = not a candidate in this plan, or NULL */
    int goal;                      /* -1: each host group's goal; else enum pv_pl_goal */
    /* a new VM's devices as the create asks for them (borrowed, may be NULL):
     * disks by pool_id or pool name with size_gb, NICs by network_id,
     * network or bridge name; the storage and network filters check them */
    json_t *disks, *nics;
    /* a live move's disks (borrowed, may be NULL: the VM's disks as stored,
     * each with pool_id and size_mb): a disk on a pool the host does not
     * reach is copied to a pool the host reaches -- move_pool_id when the
     * caller named one, else the reached pool with the most room -- which
     * must have room for all such disks (f_move_storage) */
    json_t *move_disks;
    const char *move_pool_id;
};

struct pv_pl_rating {
    int host;
    int eligible;
    double score;                  /* 0-100, rounded to 0.001 */
    double stars;                  /* 0-5 in halves */
    int64_t free_after_mb;         /* memory left after placement */
    const char *code;              /* the first failing filter's reason code, NULL: eligible */
    json_t *filters;               /* [{"name","passed","code","detail"}]; NULL until explained */
    json_t *weights;               /* [{"name","value","weight","contribution"}]; likewise */
};

/* Rate every host; *out is a malloc'd array of inv->nhosts ratings, best
 * first.  With explain, every rating carries its filters and weights;
 * without, only the outcome (pv_pl_explain adds them for the few a caller
 * shows).  Free with pv_pl_ratings_free().  A request whose set names are
 * both affinity and anti-affinity is refused (conflicting_affinity). */
int pv_pl_rate(const struct pv_pl_inv *inv, const struct pv_pl_request *req, int explain,
               struct pv_pl_rating **out, struct pv_error *err);
void pv_pl_ratings_free(struct pv_pl_rating *r, int n);

/* The best eligible host that accept() (may be NULL) takes, in one pass
 * without sorting or explaining: what planners and bulk placement use.
 * best->host is -1 when there is none.  rejected (may be NULL), a JSON
 * object, gets how many hosts each filter's reason code turned away, as
 * pv_pl_rejections counts them. */
int pv_pl_choose(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                 int (*accept)(void *ctx, int host), void *ctx, struct pv_pl_rating *best,
                 json_t *rejected, struct pv_error *err);

/* Fill r's filters and weights (no-op when already there). */
void pv_pl_explain(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                   struct pv_pl_rating *r);

/* The request to move an existing VM as it stands. */
void pv_pl_request_for_vm(const struct pv_pl_inv *inv, int vm, struct pv_pl_request *req);
/* For a move (req->move_disks) to host h: the place index of the pool the
 * disks the host does not reach are copied to; -1 when every disk's pool is
 * reached (nothing to copy); -2 when no pool fits (*need_mb: what they
 * need).  f_move_storage's rule, for the job that then moves the VM. */
int pv_pl_move_pool(const struct pv_pl_inv *inv, const struct pv_pl_request *req, int h,
                    int64_t *need_mb);

/* {"items": [...], "chosen_host_id": id|null, "hosts_rated", "eligible_hosts",
 * "rejected_by"}; items best first and explained, at most `limit` of them
 * (0: all). */
json_t *pv_pl_ratings_json(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                           struct pv_pl_rating *r, int n, int limit);

/* {"code": hosts, ...}: how many hosts each reason code turned away, a
 * host counted once, under the first filter it failed (filters run in the
 * order of the table in docs/placement.md). */
json_t *pv_pl_rejections(const struct pv_pl_rating *r, int n);

/* The best eligible host's index, or -1. */
int pv_pl_best(const struct pv_pl_rating *r, int n);

/* Move VM vm to host `to` (-1: off every host) in the snapshot, keeping the
 * allocation and group usage figures right. */
void pv_pl_move(struct pv_pl_inv *inv, int vm, int to);

/* Add a VM to the snapshot (what-if and deploy plans); returns its index. */
int pv_pl_add_vm(struct pv_pl_inv *inv, const struct pv_pl_vm *vm);

/* Memory demand of a host as a fraction of its usable capacity, and the
 * CPU figure rebalancing uses (percent). */
double pv_pl_host_mem_pct(const struct pv_pl_inv *inv, int h);
double pv_pl_host_cpu_pct(const struct pv_pl_inv *inv, int h);
/* The CPU percent of its host that VM vm is estimated to use. */
double pv_pl_vm_cpu_pct(const struct pv_pl_inv *inv, int vm);

/* Host h's effective policy (its group's, or the defaults). */
const struct pv_pl_policy *pv_pl_host_policy(const struct pv_pl_inv *inv, int h);

/* 1 when host h lies in group g's subtree. */
int pv_pl_in_group(const struct pv_pl_inv *inv, int h, int g);

int pv_pl_find_host(const struct pv_pl_inv *inv, const char *id);
int pv_pl_find_vm(const struct pv_pl_inv *inv, const char *id);
int pv_pl_find_group(const struct pv_pl_inv *inv, const char *id);

/* Recompute allocation and group usage from the VMs (after loading). */
void pv_pl_recount(struct pv_pl_inv *inv);

/* A deep copy (what-if runs on copies). */
struct pv_pl_inv *pv_pl_inv_dup(const struct pv_pl_inv *inv);
void pv_pl_inv_free(struct pv_pl_inv *inv);
/* The place of that id, or -1. */
int pv_pl_find_place(const struct pv_pl_inv *inv, const char *id);

/* The star mapping, exposed for tests: score 0-100 to 0-5 in halves. */
double pv_pl_stars(double score);

#endif
