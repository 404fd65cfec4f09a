/* policy.h -- a host group's placement policy: its JSON form, validation,
 * defaults and inheritance.
 *
 * A host group's `policy` object (see docs/placement.md) is checked strictly
 * when a group is created or changed: unknown keys, wrong types and values
 * out of range are refused with `invalid_policy` naming the key.  A group's
 * effective policy is its parent's effective policy with the group's own
 * keys laid over it, so a policy set on a root group reaches every host
 * below it unless a subgroup says otherwise.  Hosts outside any group get
 * the defaults.
 */
#ifndef PV_PL_POLICY_H
#define PV_PL_POLICY_H

#include <jansson.h>
#include <stdint.h>
#include "adapters/adapter.h"

#define PV_PL_MAX_TAG_RULES 16

enum pv_pl_goal { PV_PL_BALANCE = 0, PV_PL_CONSOLIDATE };
enum pv_pl_match { PV_PL_MUST = 0, PV_PL_SHOULD, PV_PL_MUST_NOT };

struct pv_pl_tag_rule {
    char vm_tag[65];     /* the rule applies to VMs carrying this tag */
    char host_tag[65];   /* ... and asks about hosts carrying this one */
    enum pv_pl_match match;
};

struct pv_pl_policy {
    enum pv_pl_goal goal;
    int64_t reserve_memory_mb;     /* kept free on each host for the host itself */
    double reserve_cpu_pct;        /* CPU percent kept free on each host */
    double overcommit_cpu;         /* vCPUs per core */
    double overcommit_memory;      /* allocated memory per physical MB */
    double ha_reserve_memory_pct;  /* memory percent held back for HA restarts */
    double rebalance_threshold_pct;/* default threshold of rebalance runs */
    int64_t quota_vms, quota_vcpus, quota_memory_mb;   /* 0: no quota */
    double alert_cpu_pct, alert_memory_pct;            /* 0: no alert */
    int64_t alert_unreachable;                         /* 1: alert when a host stops answering */
    int ntag_rules;
    struct pv_pl_tag_rule tag_rules[PV_PL_MAX_TAG_RULES];
};

/* The defaults: balance, no reserves, overcommit 4 vCPUs per core and no
 * memory overcommit, no HA reserve, rebalance above 80 %, no quotas, alerts
 * on unreachable hosts only. */
extern const struct pv_pl_policy pv_pl_policy_defaults;
void pv_pl_policy_default(struct pv_pl_policy *p);

/* Lay the keys of `obj` over *p, checking each; on failure *p may be
 * partly changed and the error names the key (code invalid_policy). */
int pv_pl_policy_apply(struct pv_pl_policy *p, json_t *obj, struct pv_error *err);

/* Check a policy object as the API receives it. */
int pv_pl_policy_check(json_t *obj, struct pv_error *err);

/* The effective policy as JSON (for explanations). */
json_t *pv_pl_policy_json(const struct pv_pl_policy *p);

#endif
