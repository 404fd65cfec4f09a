/* policy.c -- see policy.h.  Each key of the policy object is described
 * once, in the tables below, with its range; the same tables check a body
 * and apply it, so what is accepted and what takes effect cannot drift. */
#include <stddef.h>
#include <string.h>
#include "server/placement/policy.h"

const struct pv_pl_policy pv_pl_policy_defaults = {
    .goal = PV_PL_BALANCE, .overcommit_cpu = 4.0, .overcommit_memory = 1.0,
    .rebalance_threshold_pct = 80.0, .alert_unreachable = 1,
};

void pv_pl_policy_default(struct pv_pl_policy *p)
{
    *p = pv_pl_policy_defaults;
}

/* A number in [min, max] under obj.sect.key (sect may be "" for top-level). */
static int number(json_t *v, const char *sect, const char *key, double min, double max,
                  double *out, struct pv_error *err)
{
    if (!json_is_number(v))
        return pv_fail(err, invalid_policy, "policy %s%s%s must be a number",
                            sect, *sect ? "." : "", key);
    *out = json_number_value(v);
    if (*out < min || *out > max)
        return pv_fail(err, invalid_policy,
                            "policy %s%s%s must be between %g and %g", sect, *sect ? "." : "",
                            key, min, max);
    return 0;
}

struct num_key {
    const char *name;
    double min, max;
    int integer;
    size_t off;     /* offsetof the double or int64_t in struct pv_pl_policy */
};

#define D(f) offsetof(struct pv_pl_policy, f)
static const struct num_key reserve_keys[] = {
    {"memory_mb", 0, 1 << 30, 1, D(reserve_memory_mb)},
    {"cpu_pct", 0, 100, 0, D(reserve_cpu_pct)},
    {NULL, 0, 0, 0, 0},
};
static const struct num_key overcommit_keys[] = {
    {"cpu", 0.1, 64, 0, D(overcommit_cpu)},
    {"memory", 0.1, 4, 0, D(overcommit_memory)},
    {NULL, 0, 0, 0, 0},
};
static const struct num_key ha_keys[] = {
    {"memory_pct", 0, 90, 0, D(ha_reserve_memory_pct)},
    {NULL, 0, 0, 0, 0},
};
static const struct num_key rebalance_keys[] = {
    {"threshold_pct", 1, 100, 0, D(rebalance_threshold_pct)},
    {NULL, 0, 0, 0, 0},
};
static const struct num_key alert_keys[] = {
    {"cpu_pct", 0, 100, 0, D(alert_cpu_pct)},
    {"memory_pct", 0, 100, 0, D(alert_memory_pct)},
    {"unreachable", 0, 1, 1, D(alert_unreachable)},
    {NULL, 0, 0, 0, 0},
};
static const struct num_key quota_keys[] = {
    {"vms", 0, 1e9, 1, D(quota_vms)},
    {"vcpus", 0, 1e9, 1, D(quota_vcpus)},
    {"memory_mb", 0, 1e12, 1, D(quota_memory_mb)},
    {NULL, 0, 0, 0, 0},
};
#undef D

static int section(struct pv_pl_policy *p, const char *sect, json_t *obj,
                   const struct num_key *keys, struct pv_error *err)
{
    const char *k;
    json_t *v;

    if (!json_is_object(obj))
        return pv_fail(err, invalid_policy, "policy %s must be an object",
                            sect);
    json_object_foreach(obj, k, v) {
        const struct num_key *nk = keys;
        double d = 0;
        while (nk->name && strcmp(nk->name, k) != 0)
            nk++;
        if (!nk->name)
            return pv_fail(err, invalid_policy,
                                "policy %s has no key '%.64s'", sect, k);
        if (number(v, sect, k, nk->min, nk->max, &d, err))
            return err ? err->err : PV_EINVAL;
        if (nk->integer) {
            if (!json_is_integer(v))
                return pv_fail(err, invalid_policy,
                                    "policy %s.%s must be a whole number", sect, k);
            *(int64_t *)(void *)((char *)p + nk->off) = (int64_t)d;
        } else {
            *(double *)(void *)((char *)p + nk->off) = d;
        }
    }
    return 0;
}

static int tag(json_t *v, const char *key, int i, char out[65], struct pv_error *err)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;

    if (!s || n < 1 || n > 64)
        return pv_fail(err, invalid_policy,
                            "policy tag_rules[%d].%s must be a string of 1 to 64 characters", i,
                            key);
    memcpy(out, s, n + 1);
    return 0;
}

static int tag_rules(struct pv_pl_policy *p, json_t *arr, struct pv_error *err)
{
    static const char *const matches[] = {"must", "should", "must_not"};
    size_t i;
    json_t *r;

    if (!json_is_array(arr) || json_array_size(arr) > PV_PL_MAX_TAG_RULES)
        return pv_fail(err, invalid_policy,
                            "policy tag_rules must be an array of at most %d rules",
                            PV_PL_MAX_TAG_RULES);
    p->ntag_rules = 0;
    json_array_foreach(arr, i, r) {
        struct pv_pl_tag_rule *t = &p->tag_rules[i];
        const char *k, *m;
        json_t *v;
        int j, found = -1;

        if (!json_is_object(r))
            return pv_fail(err, invalid_policy,
                                "policy tag_rules[%d] must be an object", (int)i);
        json_object_foreach(r, k, v) {
            if (strcmp(k, "vm_tag") != 0 && strcmp(k, "host_tag") != 0 && strcmp(k, "match") != 0)
                return pv_fail(err, invalid_policy,
                                    "policy tag_rules[%d] has no key '%.64s'", (int)i, k);
        }
        if (tag(json_object_get(r, "vm_tag"), "vm_tag", (int)i, t->vm_tag, err) ||
            tag(json_object_get(r, "host_tag"), "host_tag", (int)i, t->host_tag, err))
            return PV_EINVAL;
        m = json_string_value(json_object_get(r, "match"));
        for (j = 0; m && j < 3; j++)
            if (strcmp(m, matches[j]) == 0)
                found = j;
        if (found < 0)
            return pv_fail(err, invalid_policy,
                                "policy tag_rules[%d].match must be must, should or must_not",
                                (int)i);
        t->match = (enum pv_pl_match)found;
        p->ntag_rules++;
    }
    return 0;
}

int pv_pl_policy_apply(struct pv_pl_policy *p, json_t *obj, struct pv_error *err)
{
    const char *k;
    json_t *v;

    if (!json_is_object(obj))
        return pv_fail(err, invalid_policy, "policy must be an object");
    json_object_foreach(obj, k, v) {
        int rc;
        if (strcmp(k, "goal") == 0) {
            const char *g = json_string_value(v);
            if (g && strcmp(g, "balance") == 0)
                p->goal = PV_PL_BALANCE;
            else if (g && strcmp(g, "consolidate") == 0)
                p->goal = PV_PL_CONSOLIDATE;
            else
                return pv_fail(err, invalid_policy,
                                    "policy goal must be balance or consolidate");
            continue;
        }
        if (strcmp(k, "reserve") == 0)
            rc = section(p, "reserve", v, reserve_keys, err);
        else if (strcmp(k, "overcommit") == 0)
            rc = section(p, "overcommit", v, overcommit_keys, err);
        else if (strcmp(k, "ha_reserve") == 0)
            rc = section(p, "ha_reserve", v, ha_keys, err);
        else if (strcmp(k, "rebalance") == 0)
            rc = section(p, "rebalance", v, rebalance_keys, err);
        else if (strcmp(k, "quota") == 0)
            rc = section(p, "quota", v, quota_keys, err);
        else if (strcmp(k, "alerts") == 0)
            rc = section(p, "alerts", v, alert_keys, err);
        else if (strcmp(k, "tag_rules") == 0)
            rc = tag_rules(p, v, err);
        else
            rc = pv_fail(err, invalid_policy, "policy has no key '%.64s'", k);
        if (rc)
            return rc;
    }
    return 0;
}

int pv_pl_policy_check(json_t *obj, struct pv_error *err)
{
    struct pv_pl_policy p;

    pv_pl_policy_default(&p);
    return pv_pl_policy_apply(&p, obj, err);
}

json_t *pv_pl_policy_json(const struct pv_pl_policy *p)
{
    static const char *const matches[] = {"must", "should", "must_not"};
    json_t *rules = json_array();

    for (int i = 0; i < p->ntag_rules; i++)
        json_array_append_new(rules, json_pack("{s:s,s:s,s:s}", "vm_tag", p->tag_rules[i].vm_tag,
                                               "host_tag", p->tag_rules[i].host_tag, "match",
                                               matches[p->tag_rules[i].match]));
    return json_pack("{s:s,s:{s:I,s:f},s:{s:f,s:f},s:{s:f},s:{s:f},s:{s:I,s:I,s:I},s:o}", "goal",
                     p->goal == PV_PL_CONSOLIDATE ? "consolidate" : "balance", "reserve",
                     "memory_mb", (json_int_t)p->reserve_memory_mb, "cpu_pct", p->reserve_cpu_pct,
                     "overcommit", "cpu", p->overcommit_cpu, "memory", p->overcommit_memory,
                     "ha_reserve", "memory_pct", p->ha_reserve_memory_pct, "rebalance",
                     "threshold_pct", p->rebalance_threshold_pct, "quota", "vms",
                     (json_int_t)p->quota_vms, "vcpus", (json_int_t)p->quota_vcpus, "memory_mb",
                     (json_int_t)p->quota_memory_mb, "tag_rules", rules);
}
