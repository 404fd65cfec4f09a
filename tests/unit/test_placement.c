/* test_placement.c -- the placement engine on hand-built inventories: every
 * filter's reason code and numbers, every weight, the star mapping, the
 * tie-break, policy checking and inheritance, and the planners (rebalance
 * minimality on hand-checked cases, no move undone, cool-down, evacuation,
 * power optimization, HA restart order, deploy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "server/placement/engine.h"
#include "server/placement/plan.h"
#include "server/placement/policy.h"

/* ---- building inventories ---------------------------------------------- */

static struct pv_pl_inv *inv_new(void)
{
    struct pv_pl_inv *inv = calloc(1, sizeof *inv);
    inv->groups = calloc(8, sizeof *inv->groups);
    inv->hosts = calloc(16, sizeof *inv->hosts);
    inv->vms = calloc(1, sizeof *inv->vms);
    return inv;
}

static int add_group(struct pv_pl_inv *inv, const char *id, int parent, const char *policy)
{
    struct pv_pl_group *g = &inv->groups[inv->ngroups];
    json_t *p = json_loads(policy, 0, NULL);
    struct pv_error e = {0};

    snprintf(g->id, sizeof g->id, "%s", id);
    snprintf(g->name, sizeof g->name, "%s", id);
    g->parent = parent;
    if (parent >= 0)
        g->policy = inv->groups[parent].policy;
    else
        pv_pl_policy_default(&g->policy);
    assert_int_equal(pv_pl_policy_apply(&g->policy, p, &e), 0);
    json_decref(p);
    return inv->ngroups++;
}

static int add_host(struct pv_pl_inv *inv, const char *name, int64_t mem, int cores)
{
    struct pv_pl_host *h = &inv->hosts[inv->nhosts];

    snprintf(h->id, sizeof h->id, "host-%s", name);
    snprintf(h->name, sizeof h->name, "%s", name);
    snprintf(h->vendor, sizeof h->vendor, "kvm");
    snprintf(h->connection_id, sizeof h->connection_id, "conn-%s", name);
    h->group = -1;
    h->state = PV_PL_CONNECTED;
    h->memory_mb = mem;
    h->cpu_cores = cores;
    h->tags = json_array();
    return inv->nhosts++;
}

static int add_vm(struct pv_pl_inv *inv, const char *name, int host, int64_t mem, int vcpus)
{
    struct pv_pl_vm v = {.host = host, .active = 1, .vcpus = vcpus, .memory_mb = mem};

    snprintf(v.id, sizeof v.id, "vm-%s", name);
    snprintf(v.name, sizeof v.name, "%s", name);
    snprintf(v.vendor, sizeof v.vendor, "kvm");
    if (host >= 0)
        snprintf(v.connection_id, sizeof v.connection_id, "%s", inv->hosts[host].connection_id);
    return pv_pl_add_vm(inv, &v);
}

static struct pv_pl_request new_vm(int vcpus, int64_t mem)
{
    struct pv_pl_request r = {.vm = -1, .vcpus = vcpus, .memory_mb = mem, .scope_group = -1,
                              .exclude_host = -1, .goal = -1};
    return r;
}

/* The rating of host h among r. */
static const struct pv_pl_rating *rating_of(const struct pv_pl_rating *r, int n, int h)
{
    for (int i = 0; i < n; i++)
        if (r[i].host == h)
            return &r[i];
    fail_msg("host %d not rated", h);
    return NULL;
}

/* The verdict of filter `name` in a rating. */
static json_t *filter_of(const struct pv_pl_rating *r, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(r->filters, i, f)
        if (strcmp(json_string_value(json_object_get(f, "name")), name) == 0)
            return f;
    fail_msg("no filter %s", name);
    return NULL;
}

static const char *code_of(const struct pv_pl_rating *r, const char *name)
{
    return json_string_value(json_object_get(filter_of(r, name), "code"));
}

static json_int_t detail_int(const struct pv_pl_rating *r, const char *name, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(filter_of(r, name), "detail"), key));
}

static struct pv_pl_rating *rate(const struct pv_pl_inv *inv, const struct pv_pl_request *req)
{
    struct pv_pl_rating *r = NULL;
    struct pv_error e = {0};
    if (pv_pl_rate(inv, req, 1, &r, &e) != 0)
        fail_msg("rate: %s", e.message);
    return r;
}

/* ---- stars and determinism --------------------------------------------- */

static void stars_mapping(void **state)
{
    (void)state;
    assert_true(pv_pl_stars(0) == 0.0);
    assert_true(pv_pl_stars(4.9) == 0.0);
    assert_true(pv_pl_stars(5) == 0.5);
    assert_true(pv_pl_stars(14.9) == 0.5);
    assert_true(pv_pl_stars(15) == 1.0);
    assert_true(pv_pl_stars(55) == 3.0);
    assert_true(pv_pl_stars(94.9) == 4.5);
    assert_true(pv_pl_stars(95) == 5.0);
    assert_true(pv_pl_stars(100) == 5.0);
    assert_true(pv_pl_stars(150) == 5.0);
}

static void tie_break_by_name_then_id(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int b = add_host(inv, "b", 8192, 4), a = add_host(inv, "a", 8192, 4);
    struct pv_pl_request req = new_vm(1, 1024);
    struct pv_pl_rating *r;

    (void)state;
    for (int round = 0; round < 3; round++) {
        r = rate(inv, &req);
        assert_int_equal(r[0].host, a);   /* equal score and memory: name "a" < "b" */
        assert_int_equal(r[1].host, b);
        assert_true(r[0].score == r[1].score);
        pv_pl_ratings_free(r, inv->nhosts);
    }
    /* same name: the id decides */
    snprintf(inv->hosts[b].name, sizeof inv->hosts[b].name, "a");
    r = rate(inv, &req);
    assert_string_equal(inv->hosts[r[0].host].id, "host-a");
    pv_pl_ratings_free(r, inv->nhosts);
    pv_pl_inv_free(inv);
}

/* ---- filters ------------------------------------------------------------ */

static void memory_filter_codes_and_numbers(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int h = add_host(inv, "h", 8192, 8), g;
    struct pv_pl_request req = new_vm(1, 2048);
    struct pv_pl_rating *r;

    (void)state;
    add_vm(inv, "big", h, 7000, 1);
    r = rate(inv, &req);
    assert_false(r[0].eligible);
    assert_true(r[0].stars == 0);
    assert_string_equal(code_of(&r[0], "memory"), "insufficient_memory");
    assert_int_equal(detail_int(&r[0], "memory", "required_mb"), 2048);
    assert_int_equal(detail_int(&r[0], "memory", "capacity_mb"), 8192);
    assert_int_equal(detail_int(&r[0], "memory", "used_mb"), 7000);
    assert_int_equal(detail_int(&r[0], "memory", "free_mb"), 1192);
    pv_pl_ratings_free(r, 1);

    /* fits the host but not its reserve */
    g = add_group(inv, "g", -1, "{\"reserve\": {\"memory_mb\": 1024}}");
    inv->hosts[h].group = g;
    req.memory_mb = 1000;
    r = rate(inv, &req);
    assert_string_equal(code_of(&r[0], "memory"), "host_reserve");
    assert_int_equal(detail_int(&r[0], "memory", "host_reserve_mb"), 1024);
    pv_pl_ratings_free(r, 1);

    /* fits past the reserve, not past the HA reserve; an HA restart may use it */
    add_group(inv, "g2", -1, "{\"ha_reserve\": {\"memory_pct\": 10}}");
    inv->hosts[h].group = 1;
    req.memory_mb = 1000;
    r = rate(inv, &req);
    assert_string_equal(code_of(&r[0], "memory"), "ha_reserve");
    assert_int_equal(detail_int(&r[0], "memory", "ha_reserve_mb"), 819);
    pv_pl_ratings_free(r, 1);
    req.ha_restart = 1;
    r = rate(inv, &req);
    assert_true(r[0].eligible);
    pv_pl_ratings_free(r, 1);

    /* memory overcommit raises capacity */
    inv->groups[1].policy.overcommit_memory = 1.5;
    inv->groups[1].policy.ha_reserve_memory_pct = 0;
    req.memory_mb = 4000;
    r = rate(inv, &req);
    assert_true(r[0].eligible);
    assert_int_equal(detail_int(&r[0], "memory", "capacity_mb"), 12288);
    pv_pl_ratings_free(r, 1);
    pv_pl_inv_free(inv);
}

static void measured_memory_counts(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int h = add_host(inv, "h", 8192, 8);
    struct pv_pl_request req = new_vm(1, 2048);
    struct pv_pl_rating *r;

    (void)state;
    inv->hosts[h].memory_used_mb = 7168; /* no VMs, but the host reports use */
    r = rate(inv, &req);
    assert_string_equal(code_of(&r[0], "memory"), "insufficient_memory");
    assert_int_equal(detail_int(&r[0], "memory", "used_mb"), 7168);
    pv_pl_ratings_free(r, 1);
    pv_pl_inv_free(inv);
}

static void cpu_filter(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int h = add_host(inv, "h", 65536, 2), g;
    struct pv_pl_request req = new_vm(2, 512);
    struct pv_pl_rating *r;

    (void)state;
    add_vm(inv, "a", h, 512, 7); /* 7 of 2 cores x 4 = 8 */
    r = rate(inv, &req);
    assert_string_equal(code_of(&r[0], "cpu"), "insufficient_cpu");
    assert_int_equal(detail_int(&r[0], "cpu", "vcpu_capacity"), 8);
    assert_int_equal(detail_int(&r[0], "cpu", "allocated_vcpus"), 7);
    pv_pl_ratings_free(r, 1);
    req.vcpus = 1;
    r = rate(inv, &req);
    assert_true(r[0].eligible);
    pv_pl_ratings_free(r, 1);
    /* without a CPU reserve, measured use (projected past 100 % by a plan
     * that has already put a busy VM there) refuses nothing: CPU time is
     * shared, the vCPU capacity above is the limit */
    inv->hosts[h].cpu_usage_pct = 130;
    r = rate(inv, &req);
    assert_true(r[0].eligible);
    pv_pl_ratings_free(r, 1);
    /* a CPU reserve refuses a busy host */
    g = add_group(inv, "g", -1, "{\"reserve\": {\"cpu_pct\": 20}}");
    inv->hosts[h].group = g;
    inv->hosts[h].cpu_usage_pct = 85;
    r = rate(inv, &req);
    assert_string_equal(code_of(&r[0], "cpu"), "host_reserve");
    pv_pl_ratings_free(r, 1);
    pv_pl_inv_free(inv);
}

static void state_vendor_scope(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int m = add_host(inv, "m", 8192, 4), d = add_host(inv, "d", 8192, 4);
    int f = add_host(inv, "f", 8192, 4), v = add_host(inv, "v", 8192, 4);
    int s = add_host(inv, "s", 8192, 4);
    int g = add_group(inv, "prod", -1, "{}"), sub = add_group(inv, "sub", 0, "{}");
    struct pv_pl_request req = new_vm(1, 512);
    struct pv_pl_rating *r;

    (void)state;
    inv->hosts[m].state = PV_PL_MAINTENANCE;
    inv->hosts[d].state = PV_PL_DISCONNECTED;
    inv->hosts[f].state = PV_PL_FAILED;
    snprintf(inv->hosts[v].vendor, sizeof inv->hosts[v].vendor, "vcenter");
    inv->hosts[s].group = sub;
    req.vendor = "kvm";
    req.scope_group = g;      /* the subgroup is inside it */
    r = rate(inv, &req);
    assert_string_equal(code_of(rating_of(r, 5, m), "host_state"), "in_maintenance");
    assert_string_equal(code_of(rating_of(r, 5, d), "host_state"), "disconnected");
    assert_string_equal(code_of(rating_of(r, 5, f), "host_state"), "disconnected");
    assert_string_equal(code_of(rating_of(r, 5, v), "vendor"), "vendor_mismatch");
    assert_string_equal(code_of(rating_of(r, 5, m), "scope"), "out_of_scope");
    assert_null(code_of(rating_of(r, 5, s), "scope"));
    assert_true(rating_of(r, 5, s)->eligible);
    assert_int_equal(r[0].host, s);
    assert_int_equal(pv_pl_best(r, 5), s);
    pv_pl_ratings_free(r, 5);
    pv_pl_inv_free(inv);
}

/* A vendor whose VMs move only inside one endpoint (the snapshot sets
 * moves_in_connection from the adapter's PV_CAP_MIGRATE_IN_CONNECTION, as
 * vCenter's has it). */
static void vcenter_stays_in_its_vcenter(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 8192, 4), b = add_host(inv, "b", 8192, 4);
    int c = add_host(inv, "c", 8192, 4), vm;
    struct pv_pl_request req;
    struct pv_pl_rating *r;

    (void)state;
    for (int h = 0; h < 3; h++)
        snprintf(inv->hosts[h].vendor, sizeof inv->hosts[h].vendor, "vcenter");
    snprintf(inv->hosts[b].connection_id, sizeof inv->hosts[b].connection_id, "conn-a");
    vm = add_vm(inv, "x", a, 1024, 1);
    snprintf(inv->vms[vm].vendor, sizeof inv->vms[vm].vendor, "vcenter");
    inv->vms[vm].moves_in_connection = 1;
    pv_pl_request_for_vm(inv, vm, &req);
    r = rate(inv, &req);
    assert_string_equal(code_of(rating_of(r, 3, a), "scope"), "current_host");
    assert_true(rating_of(r, 3, b)->eligible);
    assert_string_equal(code_of(rating_of(r, 3, c), "vendor"), "vendor_mismatch");
    pv_pl_ratings_free(r, 3);
    pv_pl_inv_free(inv);
}

static void affinity_and_anti_affinity(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 16384, 8), b = add_host(inv, "b", 16384, 8);
    int w1 = add_vm(inv, "web1", a, 1024, 1), db = add_vm(inv, "db", b, 1024, 1);
    struct pv_pl_request req = new_vm(1, 1024);
    struct pv_pl_rating *r;
    json_t *web = json_pack("[s]", "web"), *pair = json_pack("[s]", "pair");

    (void)state;
    json_array_append_new(inv->vms[w1].anti_affinity, json_string("web"));
    json_array_append_new(inv->vms[db].affinity, json_string("pair"));
    req.anti_affinity = web;
    r = rate(inv, &req);
    assert_string_equal(code_of(rating_of(r, 2, a), "anti_affinity"), "anti_affinity");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(filter_of(rating_of(r, 2, a), "anti_affinity"), "detail"),
                            "vm_id")),
                        "vm-web1");
    assert_int_equal(pv_pl_best(r, 2), b);
    pv_pl_ratings_free(r, 2);
    req.anti_affinity = NULL;
    req.affinity = pair;
    r = rate(inv, &req);
    assert_string_equal(code_of(rating_of(r, 2, a), "affinity"), "affinity");
    assert_int_equal(pv_pl_best(r, 2), b);
    pv_pl_ratings_free(r, 2);
    json_decref(web);
    json_decref(pair);
    pv_pl_inv_free(inv);
}

static void tag_rules(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 16384, 8), b = add_host(inv, "b", 16384, 8);
    int c = add_host(inv, "c", 16384, 8);
    int g = add_group(inv, "g", -1,
                      "{\"tag_rules\": [{\"vm_tag\": \"pci\", \"host_tag\": \"pci-zone\", \"match\": \"must\"},"
                      " {\"vm_tag\": \"dev\", \"host_tag\": \"prod\", \"match\": \"must_not\"},"
                      " {\"vm_tag\": \"ssd\", \"host_tag\": \"ssd\", \"match\": \"should\"}]}");
    struct pv_pl_request req = new_vm(1, 1024);
    struct pv_pl_rating *r;
    json_t *tags = json_pack("[s]", "pci");

    (void)state;
    for (int h = 0; h < 3; h++)
        inv->hosts[h].group = g;
    json_array_append_new(inv->hosts[a].tags, json_string("pci-zone"));
    json_array_append_new(inv->hosts[b].tags, json_string("prod"));
    json_array_append_new(inv->hosts[c].tags, json_string("ssd"));
    req.tags = tags;
    r = rate(inv, &req);
    assert_int_equal(pv_pl_best(r, 3), a);
    assert_string_equal(code_of(rating_of(r, 3, b), "tag_rules"), "tag_rule");
    assert_string_equal(code_of(rating_of(r, 3, c), "tag_rules"), "tag_rule");
    pv_pl_ratings_free(r, 3);
    json_array_clear(tags);
    json_array_append_new(tags, json_string("dev"));
    r = rate(inv, &req);
    assert_string_equal(code_of(rating_of(r, 3, b), "tag_rules"), "tag_rule");
    assert_true(rating_of(r, 3, a)->eligible && rating_of(r, 3, c)->eligible);
    pv_pl_ratings_free(r, 3);
    /* should: a weight, not a filter */
    json_array_clear(tags);
    json_array_append_new(tags, json_string("ssd"));
    r = rate(inv, &req);
    assert_int_equal(r[0].host, c);
    assert_true(rating_of(r, 3, a)->eligible);
    {
        json_t *w = json_array_get(r[0].weights, json_array_size(r[0].weights) - 1);
        assert_string_equal(json_string_value(json_object_get(w, "name")), "tag_preference");
        assert_true(json_real_value(json_object_get(w, "value")) == 1.0);
    }
    pv_pl_ratings_free(r, 3);
    json_decref(tags);
    pv_pl_inv_free(inv);
}

static void quota(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int g = add_group(inv, "g", -1, "{\"quota\": {\"vms\": 2}}");
    int sub = add_group(inv, "sub", 0, "{}");
    int a = add_host(inv, "a", 16384, 8), vm;
    struct pv_pl_request req = new_vm(1, 1024);
    struct pv_pl_rating *r;

    (void)state;
    (void)g;
    inv->hosts[a].group = sub;
    add_vm(inv, "one", a, 512, 1);
    vm = add_vm(inv, "two", a, 512, 1);
    r = rate(inv, &req);
    assert_string_equal(code_of(&r[0], "quota"), "quota");
    assert_int_equal(detail_int(&r[0], "quota", "limit"), 2);
    assert_int_equal(detail_int(&r[0], "quota", "used"), 2);
    pv_pl_ratings_free(r, 1);
    /* moving a VM already inside the group takes no more quota */
    add_host(inv, "b", 16384, 8);
    inv->hosts[1].group = sub;
    pv_pl_request_for_vm(inv, vm, &req);
    r = rate(inv, &req);
    assert_null(code_of(rating_of(r, 2, 1), "quota"));
    pv_pl_ratings_free(r, 2);
    pv_pl_inv_free(inv);
}

static void conflicting_sets_refused(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    struct pv_pl_request req = new_vm(1, 512);
    struct pv_pl_rating *r = NULL, best;
    struct pv_error e = {0};
    json_t *sets = json_pack("[s,s]", "db", "web");

    (void)state;
    add_host(inv, "a", 8192, 4);
    req.affinity = sets;
    req.anti_affinity = sets;
    assert_int_equal(pv_pl_rate(inv, &req, 0, &r, &e), PV_EINVAL);
    assert_string_equal(e.code, "conflicting_affinity");
    assert_non_null(strstr(e.message, "'db'"));
    assert_int_equal(pv_pl_choose(inv, &req, NULL, NULL, &best, NULL, &e), PV_EINVAL);
    json_decref(sets);
    pv_pl_inv_free(inv);
}

/* The one-pass choice and the sorted rating agree, on many inventories. */
static void choose_agrees_with_rate(void **state)
{
    unsigned seed = 12345;

    (void)state;
    for (int round = 0; round < 50; round++) {
        struct pv_pl_inv *inv = inv_new();
        struct pv_pl_request req;
        struct pv_pl_rating *r, best;
        struct pv_error e = {0};
        int nh = 1 + (int)(rand_r(&seed) % 12);

        for (int h = 0; h < nh; h++) {
            char name[16];
            snprintf(name, sizeof name, "h%02d", (int)(rand_r(&seed) % 6)); /* equal names too */
            add_host(inv, name, 4096 * (1 + rand_r(&seed) % 4), 2 + (int)(rand_r(&seed) % 8));
            if (rand_r(&seed) % 5 == 0)
                inv->hosts[h].state = PV_PL_MAINTENANCE;
        }
        for (int v = 0; v < 30; v++) {
            char name[16];
            snprintf(name, sizeof name, "v%d", v);
            add_vm(inv, name, (int)(rand_r(&seed) % (unsigned)nh), 256 * (1 + rand_r(&seed) % 8),
                   1 + (int)(rand_r(&seed) % 2));
        }
        req = new_vm(1 + (int)(rand_r(&seed) % 4), 512 * (1 + rand_r(&seed) % 8));
        r = rate(inv, &req);
        assert_int_equal(pv_pl_choose(inv, &req, NULL, NULL, &best, NULL, &e), 0);
        assert_int_equal(best.host, pv_pl_best(r, nh));
        if (best.host >= 0)
            assert_true(best.score == r[0].score);
        pv_pl_ratings_free(r, nh);
        pv_pl_inv_free(inv);
    }
}

/* ---- weights ------------------------------------------------------------ */

static void balance_spreads_consolidate_packs(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int busy = add_host(inv, "busy", 16384, 8), idle = add_host(inv, "idle", 16384, 8);
    int g;
    struct pv_pl_request req = new_vm(1, 1024);
    struct pv_pl_rating *r;

    (void)state;
    add_vm(inv, "x", busy, 8192, 2);
    r = rate(inv, &req);
    assert_int_equal(r[0].host, idle);
    assert_true(r[0].score > r[1].score);
    assert_true(r[0].stars >= r[1].stars);
    pv_pl_ratings_free(r, 2);
    g = add_group(inv, "pack", -1, "{\"goal\": \"consolidate\"}");
    inv->hosts[busy].group = inv->hosts[idle].group = g;
    r = rate(inv, &req);
    assert_int_equal(r[0].host, busy);
    {
        json_t *w;
        size_t i;
        int seen = 0;
        json_array_foreach(r[0].weights, i, w)
            seen |= strcmp(json_string_value(json_object_get(w, "name")), "consolidate") == 0;
        assert_true(seen);
    }
    pv_pl_ratings_free(r, 2);
    /* a request may override the goal */
    req.goal = PV_PL_BALANCE;
    r = rate(inv, &req);
    assert_int_equal(r[0].host, idle);
    pv_pl_ratings_free(r, 2);
    pv_pl_inv_free(inv);
}

/* ---- policy ------------------------------------------------------------- */

static void policy_checks(void **state)
{
    static const struct {
        const char *json, *mention;
    } bad[] = {
        {"{\"goal\": \"pack\"}", "goal"},
        {"{\"colour\": 1}", "colour"},
        {"{\"reserve\": {\"memory_mb\": -1}}", "reserve.memory_mb"},
        {"{\"reserve\": {\"memory_mb\": 1.5}}", "whole number"},
        {"{\"reserve\": {\"disk\": 1}}", "disk"},
        {"{\"overcommit\": {\"cpu\": 0}}", "overcommit.cpu"},
        {"{\"overcommit\": 2}", "overcommit"},
        {"{\"ha_reserve\": {\"memory_pct\": 95}}", "memory_pct"},
        {"{\"tag_rules\": [{\"vm_tag\": \"a\", \"host_tag\": \"b\", \"match\": \"may\"}]}", "match"},
        {"{\"tag_rules\": [{\"vm_tag\": \"\", \"host_tag\": \"b\", \"match\": \"must\"}]}", "vm_tag"},
        {"{\"tag_rules\": [{\"vm_tag\": \"a\", \"host_tag\": \"b\", \"match\": \"must\", \"x\": 1}]}", "'x'"},
        {"[]", "object"},
    };
    struct pv_pl_policy p;
    struct pv_error e = {0};
    json_t *j;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        j = json_loads(bad[i].json, JSON_DECODE_ANY, NULL);
        assert_non_null(j);
        assert_int_equal(pv_pl_policy_check(j, &e), PV_EINVAL);
        assert_string_equal(e.code, "invalid_policy");
        if (!strstr(e.message, bad[i].mention))
            fail_msg("%s: '%s' does not mention %s", bad[i].json, e.message, bad[i].mention);
        json_decref(j);
    }
    /* inheritance: a child's keys over its parent's */
    pv_pl_policy_default(&p);
    j = json_loads("{\"goal\": \"consolidate\", \"reserve\": {\"memory_mb\": 512}}", 0, NULL);
    assert_int_equal(pv_pl_policy_apply(&p, j, &e), 0);
    json_decref(j);
    j = json_loads("{\"reserve\": {\"cpu_pct\": 5}}", 0, NULL);
    assert_int_equal(pv_pl_policy_apply(&p, j, &e), 0);
    json_decref(j);
    assert_int_equal(p.goal, PV_PL_CONSOLIDATE);
    assert_int_equal(p.reserve_memory_mb, 512);
    assert_true(p.reserve_cpu_pct == 5.0);
    assert_true(p.overcommit_cpu == 4.0);
}

/* ---- planners ----------------------------------------------------------- */

static struct pv_plan_opts opts(double threshold)
{
    struct pv_plan_opts o = {.scope_group = -1, .threshold_pct = threshold, .aggressiveness = 3,
                             .max_moves = 50, .now = 1800000000};
    return o;
}

static void rebalance_one_move_suffices(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 16384, 16), b = add_host(inv, "b", 16384, 16);
    struct pv_plan_opts o = opts(75);
    struct pv_error e = {0};
    json_t *plan, *m;

    (void)state;
    add_vm(inv, "v6", a, 6144, 1);
    add_vm(inv, "v4", a, 4096, 1);
    add_vm(inv, "v2", a, 2048, 1);
    add_vm(inv, "v1", a, 1024, 1);   /* 13312 of 16384 = 81.25 %: 1024 MB too many */
    assert_int_equal(pv_plan_rebalance(inv, &o, &plan, &e), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "moves")), 1);
    m = json_array_get(json_object_get(plan, "moves"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "vm_name")), "v1");
    assert_string_equal(json_string_value(json_object_get(m, "to_host_id")), inv->hosts[b].id);
    assert_true(json_is_true(json_object_get(plan, "balanced")));
    assert_true(pv_pl_host_mem_pct(inv, a) <= 75.0);
    json_decref(plan);
    pv_pl_inv_free(inv);
}

static void rebalance_two_moves_and_no_undo(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 16384, 16);
    struct pv_plan_opts o = opts(60);
    struct pv_error e = {0};
    json_t *plan, *m, *seen = json_object();
    size_t i;

    (void)state;
    add_host(inv, "b", 16384, 16);
    add_host(inv, "c", 16384, 16);
    for (int k = 0; k < 4; k++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", k);
        add_vm(inv, name, a, 4096, 1); /* 100 %: shed 40 % = two 4 GiB VMs */
    }
    assert_int_equal(pv_plan_rebalance(inv, &o, &plan, &e), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "moves")), 2);
    json_array_foreach(json_object_get(plan, "moves"), i, m) {
        const char *vm = json_string_value(json_object_get(m, "vm_id"));
        assert_null(json_object_get(seen, vm)); /* a VM moves at most once */
        json_object_set_new(seen, vm, json_true());
        assert_string_not_equal(json_string_value(json_object_get(m, "to_host_id")),
                                inv->hosts[a].id);
    }
    for (int h = 0; h < inv->nhosts; h++)
        assert_true(pv_pl_host_mem_pct(inv, h) <= 60.0);
    /* balance spreads the two moves over b and c */
    assert_string_not_equal(
        json_string_value(json_object_get(json_array_get(json_object_get(plan, "moves"), 0), "to_host_id")),
        json_string_value(json_object_get(json_array_get(json_object_get(plan, "moves"), 1), "to_host_id")));
    json_decref(seen);
    json_decref(plan);
    pv_pl_inv_free(inv);
}

static void rebalance_cooldown_and_gain(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 16384, 16), v1, v2;
    struct pv_plan_opts o = opts(75);
    struct pv_error e = {0};
    json_t *plan;

    (void)state;
    add_host(inv, "b", 16384, 16);
    v1 = add_vm(inv, "v1", a, 10000, 1);
    v2 = add_vm(inv, "v2", a, 3000, 1);   /* 79.3 % */
    /* 1800000000 is 2027-01-15T08:00:00Z: both moved 30 minutes before */
    snprintf(inv->vms[v1].last_moved_at, 32, "2027-01-15T07:30:00.000Z");
    snprintf(inv->vms[v2].last_moved_at, 32, "2027-01-15T07:30:00.000Z");
    o.cooldown_s = 3600;
    assert_int_equal(pv_plan_rebalance(inv, &o, &plan, &e), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "moves")), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "unresolved")), 1);
    assert_true(json_is_false(json_object_get(plan, "balanced")));
    json_decref(plan);
    o.now += 3600; /* cooled down: the smaller one that suffices moves */
    assert_int_equal(pv_plan_rebalance(inv, &o, &plan, &e), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "moves")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(plan, "moves"), 0), "vm_name")),
                        "v2");
    json_decref(plan);
    /* aggressiveness 1 wants a gain of 10 points: v2 brings 18, v1 61 -- both qualify;
       a small VM below the gain does not */
    pv_pl_inv_free(inv);
    inv = inv_new();
    a = add_host(inv, "a", 10000, 16);
    add_host(inv, "b", 10000, 16);
    for (int k = 0; k < 9; k++) {
        char name[16];
        snprintf(name, sizeof name, "s%d", k);
        add_vm(inv, name, a, 900, 1);   /* 81 %, each VM 9 points */
    }
    o = opts(75);
    o.aggressiveness = 1;
    assert_int_equal(pv_plan_rebalance(inv, &o, &plan, &e), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "moves")), 0);
    json_decref(plan);
    o.aggressiveness = 3;
    assert_int_equal(pv_plan_rebalance(inv, &o, &plan, &e), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "moves")), 1);
    json_decref(plan);
    pv_pl_inv_free(inv);
}

static void rebalance_refuses_overloading_the_destination(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 16384, 16), b = add_host(inv, "b", 16384, 16);
    struct pv_plan_opts o = opts(70);
    struct pv_error e = {0};
    json_t *plan;

    (void)state;
    add_vm(inv, "x", a, 12288, 1);  /* 75 % */
    add_vm(inv, "y", b, 8192, 1);   /* 50 %: x would make b 125 % */
    assert_int_equal(pv_plan_rebalance(inv, &o, &plan, &e), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "moves")), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "over_threshold_after")), 1);
    json_decref(plan);
    pv_pl_inv_free(inv);
}

static void evacuate_reports_what_cannot_go(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 32768, 16);
    struct pv_error e = {0};
    json_t *plan, *u;

    (void)state;
    add_host(inv, "b", 16384, 16);
    add_vm(inv, "small", a, 1024, 1);
    add_vm(inv, "huge", a, 20000, 1);
    assert_int_equal(pv_plan_evacuate(inv, a, &plan, &e), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "moves")), 1);
    assert_int_equal(json_array_size(json_object_get(plan, "unplaced")), 1);
    u = json_array_get(json_object_get(plan, "unplaced"), 0);
    assert_string_equal(json_string_value(json_object_get(u, "vm_name")), "huge");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(u, "rejected_by"),
                                                        "insufficient_memory")),
                     1);
    assert_true(json_is_false(json_object_get(plan, "complete")));
    json_decref(plan);
    pv_pl_inv_free(inv);
}

static void power_optimize_packs(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    struct pv_plan_opts o = opts(80);
    struct pv_error e = {0};
    json_t *plan;

    (void)state;
    for (int h = 0; h < 4; h++) {
        char name[16];
        snprintf(name, sizeof name, "h%d", h);
        add_host(inv, name, 16384, 16);
        snprintf(name, sizeof name, "v%d", h);
        add_vm(inv, name, h, 2048, 1);   /* 12.5 % each: all fit on one */
    }
    assert_int_equal(pv_plan_power_optimize(inv, &o, &plan, &e), 0);
    assert_int_equal(json_array_size(json_object_get(plan, "power_down_host_ids")), 3);
    assert_int_equal(json_integer_value(json_object_get(plan, "hosts_left_on")), 1);
    for (int h = 0; h < inv->nhosts; h++)
        assert_true(pv_pl_host_mem_pct(inv, h) <= 80.0);
    json_decref(plan);
    pv_pl_inv_free(inv);
}

static void ha_restart_order(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 16384, 16), lo, hi, off;
    struct pv_error e = {0};
    json_t *plan;

    (void)state;
    add_host(inv, "b", 4096, 16);
    lo = add_vm(inv, "low", a, 3000, 1);
    hi = add_vm(inv, "high", a, 3000, 1);
    off = add_vm(inv, "nope", a, 512, 1);
    inv->vms[lo].ha = 1;
    inv->vms[hi].ha = 3;
    (void)off;
    assert_int_equal(pv_plan_ha_restart(inv, a, &plan, &e), 0);
    /* b has room for one: the high-priority VM gets it */
    assert_int_equal(json_array_size(json_object_get(plan, "moves")), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(plan, "moves"), 0), "vm_name")),
                        "high");
    assert_int_equal(json_array_size(json_object_get(plan, "unplaced")), 2);
    json_decref(plan);
    pv_pl_inv_free(inv);
}

static void deploy_spreads_and_counts(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    struct pv_error e = {0};
    json_t *plan, *spec = json_pack("{s:i,s:i,s:s}", "vcpus", 1, "memory_mb", 4096,
                                    "name_prefix", "web");

    (void)state;
    add_host(inv, "a", 16384, 16);
    add_host(inv, "b", 16384, 16);
    assert_int_equal(pv_plan_deploy(inv, spec, 10, -1, &plan, &e), 0);
    assert_int_equal(json_integer_value(json_object_get(plan, "placed")), 8);
    assert_int_equal(json_array_size(json_object_get(plan, "unplaced")), 2);
    assert_int_equal(inv->hosts[0].alloc_memory_mb, 16384);
    assert_int_equal(inv->hosts[1].alloc_memory_mb, 16384);
    json_decref(plan);
    json_decref(spec);
    pv_pl_inv_free(inv);
}

/* ---- storage and networks ----------------------------------------------- */

static int add_place(struct pv_pl_inv *inv, const char *id, const char *name, int network,
                     int64_t free_mb, const int *hosts, int nhosts)
{
    struct pv_pl_place *p;

    inv->places = realloc(inv->places, (size_t)(inv->nplaces + 1) * sizeof *inv->places);
    p = &inv->places[inv->nplaces];
    memset(p, 0, sizeof *p);
    snprintf(p->id, sizeof p->id, "%s", id);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->network = network;
    p->free_mb = free_mb;
    p->reach = calloc((size_t)inv->nhosts + 1, 1);
    for (int i = 0; i < nhosts; i++) {
        p->reach[hosts[i]] = 1;
        if (network)
            inv->hosts[hosts[i]].nnetworks++;
        else
            inv->hosts[hosts[i]].npools++;
    }
    return inv->nplaces++; /* added in id order by the callers */
}

static void storage_and_network_filters(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 16384, 16), b = add_host(inv, "b", 16384, 16);
    int c = add_host(inv, "c", 16384, 16);
    int ab[] = {a, b}, only_a[] = {a}, only_b[] = {b};
    struct pv_pl_request req = new_vm(1, 512);
    struct pv_pl_rating *r;
    (void)state;

    add_place(inv, "net-1", "lan", 1, 0, only_a, 1);
    add_place(inv, "net-2", "dmz", 1, 0, only_b, 1);
    add_place(inv, "pool-1", "shared", 0, 10 * 1024, ab, 2);
    add_place(inv, "pool-2", "local", 0, 100 * 1024, only_b, 1);
    /* two disks on the shared pool: 6 + 6 GiB is more than its 10 free */
    req.disks = json_pack("[{s:i,s:s},{s:i,s:s}]", "size_gb", 6, "pool_id", "pool-1", "size_gb", 6,
                          "pool_id", "pool-1");
    r = rate(inv, &req);
    assert_string_equal(code_of(rating_of(r, 3, a), "storage"), "insufficient_storage");
    assert_int_equal(detail_int(rating_of(r, 3, a), "storage", "required_mb"), 12 * 1024);
    assert_int_equal(detail_int(rating_of(r, 3, a), "storage", "free_mb"), 10 * 1024);
    assert_string_equal(code_of(rating_of(r, 3, c), "storage"), "pool_unreachable");
    pv_pl_ratings_free(r, inv->nhosts);
    json_decref(req.disks);
    /* one fits; a disk by name needs a host with a pool of that name */
    req.disks = json_pack("[{s:i,s:s},{s:i,s:s}]", "size_gb", 6, "pool_id", "pool-1", "size_gb", 50,
                          "pool", "local");
    r = rate(inv, &req);
    assert_true(rating_of(r, 3, b)->eligible);
    assert_string_equal(code_of(rating_of(r, 3, a), "storage"), "pool_unreachable");
    assert_false(rating_of(r, 3, c)->eligible);
    pv_pl_ratings_free(r, inv->nhosts);
    json_decref(req.disks);
    /* an id no pool has, and a pool id given as a network */
    req.disks = json_pack("[{s:i,s:s}]", "size_gb", 1, "pool_id", "pool-nope");
    req.nics = json_pack("[{s:s}]", "network_id", "pool-2");
    r = rate(inv, &req);
    for (int h = 0; h < 3; h++)
        assert_false(rating_of(r, 3, h)->eligible);
    pv_pl_ratings_free(r, inv->nhosts);
    json_decref(req.disks);
    json_decref(req.nics);
    /* a NIC by id or by name; a host whose adapter reports no networks is
     * not judged by name (c), but is by id */
    req.disks = NULL;
    req.nics = json_pack("[{s:s}]", "network", "lan");
    r = rate(inv, &req);
    assert_true(rating_of(r, 3, a)->eligible && rating_of(r, 3, c)->eligible);
    assert_string_equal(code_of(rating_of(r, 3, b), "network"), "network_unreachable");
    pv_pl_ratings_free(r, inv->nhosts);
    json_decref(req.nics);
    /* a name no network has is not judged here: the endpoint refuses it
     * as unknown_network, which says more than "no host reaches it" */
    req.nics = json_pack("[{s:s}]", "network", "nope");
    r = rate(inv, &req);
    for (int h = 0; h < 3; h++)
        assert_true(rating_of(r, 3, h)->eligible);
    pv_pl_ratings_free(r, inv->nhosts);
    json_decref(req.nics);
    req.nics = json_pack("[{s:s}]", "network_id", "net-1");
    r = rate(inv, &req);
    assert_true(rating_of(r, 3, a)->eligible);
    assert_false(rating_of(r, 3, b)->eligible || rating_of(r, 3, c)->eligible);
    pv_pl_ratings_free(r, inv->nhosts);
    json_decref(req.nics);
    pv_pl_inv_free(inv);
}

/* A live move's disks on a pool the destination does not reach: a pool of
 * the destination with room for their full copies -- the named one, or the
 * roomiest it reaches; a disk on a pool it reaches needs no copy. */
static void move_storage_filter(void **state)
{
    struct pv_pl_inv *inv = inv_new();
    int a = add_host(inv, "a", 16384, 16), b = add_host(inv, "b", 16384, 16);
    int c = add_host(inv, "c", 16384, 16);
    int only_a[] = {a}, only_b[] = {b}, ab[] = {a, b};
    int v = add_vm(inv, "v", a, 512, 1);
    struct pv_pl_request req;
    struct pv_pl_rating *r;
    int64_t need;
    (void)state;

    add_place(inv, "pool-1", "local-a", 0, 100 * 1024, only_a, 1);
    add_place(inv, "pool-2", "small-b", 0, 3 * 1024, only_b, 1);
    add_place(inv, "pool-3", "big-b", 0, 50 * 1024, only_b, 1);
    add_place(inv, "pool-4", "shared", 0, 1024, ab, 2);
    pv_pl_request_for_vm(inv, v, &req);
    req.move_disks = json_pack("[{s:s,s:i},{s:s,s:i},{s:s,s:i}]", "pool_id", "pool-1", "size_mb", 2048,
                               "pool_id", "pool-1", "size_mb", 2048, "pool_id", "pool-4", "size_mb", 512);
    r = rate(inv, &req);
    assert_true(rating_of(r, 3, b)->eligible); /* 4 GiB to copy: big-b, the roomiest */
    assert_int_equal(pv_pl_move_pool(inv, &req, b, &need), 2);
    assert_int_equal(need, 4096);
    assert_string_equal(code_of(rating_of(r, 3, c), "storage"), "pool_unreachable"); /* c reaches none */
    pv_pl_ratings_free(r, inv->nhosts);
    req.move_pool_id = "pool-2"; /* named, but 3 GiB free for 4 */
    r = rate(inv, &req);
    assert_string_equal(code_of(rating_of(r, 3, b), "storage"), "insufficient_storage");
    assert_int_equal(detail_int(rating_of(r, 3, b), "storage", "required_mb"), 4096);
    assert_int_equal(detail_int(rating_of(r, 3, b), "storage", "free_mb"), 3 * 1024);
    pv_pl_ratings_free(r, inv->nhosts);
    req.move_pool_id = "pool-1"; /* named, but b does not reach it */
    r = rate(inv, &req);
    assert_string_equal(code_of(rating_of(r, 3, b), "storage"), "pool_unreachable");
    pv_pl_ratings_free(r, inv->nhosts);
    json_decref(req.move_disks); /* only the shared disk: nothing to copy */
    req.move_disks = json_pack("[{s:s,s:i}]", "pool_id", "pool-4", "size_mb", 512);
    req.move_pool_id = NULL;
    assert_int_equal(pv_pl_move_pool(inv, &req, b, &need), -1);
    r = rate(inv, &req);
    assert_true(rating_of(r, 3, b)->eligible);
    pv_pl_ratings_free(r, inv->nhosts);
    json_decref(req.move_disks);
    pv_pl_inv_free(inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stars_mapping),
        cmocka_unit_test(storage_and_network_filters),
        cmocka_unit_test(move_storage_filter),
        cmocka_unit_test(tie_break_by_name_then_id),
        cmocka_unit_test(memory_filter_codes_and_numbers),
        cmocka_unit_test(measured_memory_counts),
        cmocka_unit_test(cpu_filter),
        cmocka_unit_test(state_vendor_scope),
        cmocka_unit_test(vcenter_stays_in_its_vcenter),
        cmocka_unit_test(affinity_and_anti_affinity),
        cmocka_unit_test(tag_rules),
        cmocka_unit_test(quota),
        cmocka_unit_test(conflicting_sets_refused),
        cmocka_unit_test(choose_agrees_with_rate),
        cmocka_unit_test(balance_spreads_consolidate_packs),
        cmocka_unit_test(policy_checks),
        cmocka_unit_test(rebalance_one_move_suffices),
        cmocka_unit_test(rebalance_two_moves_and_no_undo),
        cmocka_unit_test(rebalance_cooldown_and_gain),
        cmocka_unit_test(rebalance_refuses_overloading_the_destination),
        cmocka_unit_test(evacuate_reports_what_cannot_go),
        cmocka_unit_test(power_optimize_packs),
        cmocka_unit_test(ha_restart_order),
        cmocka_unit_test(deploy_spreads_and_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
