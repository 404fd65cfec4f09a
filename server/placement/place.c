/* place.c -- see place.h. */
#include <stdlib.h>
#include <string.h>
#include "server/core/validate.h"
#include "server/placement/place.h"
#include "server/placement/reasons.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define DECISION_TOP 10

static const char *const sets[] = {"tags", "anti_affinity", "affinity"};

static int check_sets(json_t *obj, const char *prefix, struct pv_error *err)
{
    for (size_t i = 0; i < N(sets); i++) {
        char field[48];
        snprintf(field, sizeof field, "%s%s", prefix, sets[i]);
        if (pv_validate_tag_list(json_object_get(obj, sets[i]), field, err))
            return PV_EINVAL;
    }
    return 0;
}

int pv_place_request(const struct pv_pl_inv *inv, json_t *body, struct pv_pl_request *req,
                     struct pv_error *err)
{
    static const struct pv_jfield top[] = {
        {"vm", PV_J_OBJECT, 0, 0, 0, NULL},
        {"vm_id", PV_J_STRING, 0, 1, 64, NULL},
        {"host_group_id", PV_J_STRING, PV_J_NULLABLE, 1, 64, NULL},
        {"ha_restart", PV_J_BOOL, 0, 0, 0, NULL},
        {"limit", PV_J_INT, 0, 1, 100000, NULL},
    };
    static const struct pv_jfield vm[] = {
        PV_JFIELDS_VM_SIZE,
        {"disks", PV_J_ARRAY, 0, 0, 16, NULL},
        {"nics", PV_J_ARRAY, 0, 0, 16, NULL},
    };
    json_t *spec, *vm_id, *group;

    if (pv_validate(body, top, N(top), NULL, err))
        return PV_EINVAL;
    spec = json_object_get(body, "vm");
    vm_id = json_object_get(body, "vm_id");
    if (!spec == !vm_id)
        return pv_fail(err, invalid_value,
                            "give either 'vm' (a VM to create) or 'vm_id' (a VM to move)");
    if (vm_id) {
        int v = pv_pl_find_vm(inv, json_string_value(vm_id));
        if (v < 0)
            return pv_fail(err, vm_not_found, "no VM with id '%.64s'",
                                json_string_value(vm_id));
        pv_pl_request_for_vm(inv, v, req);
    } else {
        if (pv_validate(spec, vm, N(vm), NULL, err) || check_sets(spec, "vm.", err) ||
            pv_validate_vm_devices(spec, NULL, err))
            return PV_EINVAL;
        memset(req, 0, sizeof *req);
        req->vm = -1;
        req->exclude_host = -1;
        req->goal = -1;
        req->vcpus = (int)json_integer_value(json_object_get(spec, "vcpus"));
        req->memory_mb = json_integer_value(json_object_get(spec, "memory_mb"));
        req->vendor = json_string_value(json_object_get(spec, "vendor"));
        req->tags = json_object_get(spec, "tags");
        req->anti_affinity = json_object_get(spec, "anti_affinity");
        req->affinity = json_object_get(spec, "affinity");
        req->disks = json_object_get(spec, "disks");
        req->nics = json_object_get(spec, "nics");
    }
    req->scope_group = -1;
    group = json_object_get(body, "host_group_id");
    if (json_is_string(group)) {
        req->scope_group = pv_pl_find_group(inv, json_string_value(group));
        if (req->scope_group < 0)
            return pv_fail(err, host_group_not_found,
                                "no host group with id '%.64s'", json_string_value(group));
    }
    req->ha_restart = json_is_true(json_object_get(body, "ha_restart"));
    return 0;
}

/* The first failing filter of a rating, as "code: its message". */
static void first_failure(const struct pv_pl_rating *r, char *buf, size_t size)
{
    size_t i;
    json_t *f;

    snprintf(buf, size, "no reason recorded");
    json_array_foreach(r->filters, i, f) {
        if (json_is_true(json_object_get(f, "passed")))
            continue;
        snprintf(buf, size, "%s: %s", json_string_value(json_object_get(f, "code")),
                 json_string_value(json_object_get(f, "message")));
        return;
    }
}

int pv_place_decide(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                    const char *requested, int *chosen, json_t **decision, struct pv_error *err)
{
    struct pv_pl_rating *r = NULL;
    int n = inv->nhosts, want = -1, pos = -1, rc;
    json_t *d, *rej;

    *chosen = -1;
    if (decision)
        *decision = NULL;
    if (requested) {
        want = pv_pl_find_host(inv, requested);
        if (want < 0)
            return pv_fail(err, host_not_found, "no host with id '%.80s'",
                                requested);
    }
    rc = pv_pl_rate(inv, req, 0, &r, err);
    if (rc)
        return rc;
    for (int i = 0; i < n; i++)
        if (r[i].host == want)
            pos = i;
    d = pv_pl_ratings_json(inv, req, r, n, DECISION_TOP);
    if (pos >= DECISION_TOP) {
        json_t *one = pv_pl_ratings_json(inv, req, &r[pos], 1, 1);
        json_array_extend(json_object_get(d, "items"), json_object_get(one, "items"));
        json_decref(one);
    }
    rej = json_incref(json_object_get(d, "rejected_by"));
    if (want >= 0) {
        if (r[pos].eligible) {
            *chosen = want;
        } else {
            char why[256];
            pv_pl_explain(inv, req, &r[pos]);
            first_failure(&r[pos], why, sizeof why);
            if (want == req->exclude_host)
                rc = pv_fail(err, same_host, "the VM is already on that host");
            else
                rc = pv_fail(err, host_not_eligible,
                                  "host %s cannot take this VM: %s", inv->hosts[want].name, why);
        }
    } else {
        *chosen = pv_pl_best(r, n);
        if (*chosen < 0) {
            char counts[400];
            pv_pl_rejections_text(rej, counts, sizeof counts);
            rc = pv_fail(err, no_eligible_host,
                              "no host can take this VM (%d vCPUs, %lld MB) among %d: %s",
                              req->vcpus, (long long)req->memory_mb, n,
                              n ? counts : "there are no hosts");
        }
    }
    json_object_set_new(d, "chosen_host_id",
                        *chosen >= 0 ? json_string(inv->hosts[*chosen].id) : json_null());
    json_object_set_new(d, "requested_host_id", requested ? json_string(requested) : json_null());
    json_decref(rej);
    json_object_set_new(d, "request", json_pack("{s:s?,s:i,s:I,s:s?,s:O?,s:O?,s:O?,s:s?,s:b}",
                                                "vm_id", req->vm >= 0 ? inv->vms[req->vm].id : NULL,
                                                "vcpus", req->vcpus, "memory_mb",
                                                (json_int_t)req->memory_mb, "vendor", req->vendor,
                                                "tags", req->tags, "anti_affinity",
                                                req->anti_affinity, "affinity", req->affinity,
                                                "host_group_id",
                                                req->scope_group >= 0
                                                    ? inv->groups[req->scope_group].id
                                                    : NULL,
                                                "ha_restart", req->ha_restart));
    json_object_set_new(d, "tie_break", json_string("score, then free memory after placement, "
                                                    "then host name, then host id"));
    pv_pl_ratings_free(r, n);
    if (decision)
        *decision = d;
    else
        json_decref(d);
    return rc;
}

static int decide_into(const struct pv_pl_inv *inv, const struct pv_pl_request *req,
                       const char *requested, char chosen[64], json_t **decision,
                       struct pv_error *err)
{
    int h, rc = pv_place_decide(inv, req, requested, &h, decision, err);

    chosen[0] = '\0';
    if (!rc)
        snprintf(chosen, 64, "%s", inv->hosts[h].id);
    return rc;
}

int pv_place_new(const struct pv_pl_inv *inv, json_t *spec, const char *requested,
                 char chosen[64], json_t **decision, struct pv_error *err)
{
    struct pv_pl_request req;
    json_t *body = NULL, *vm;
    int rc;

    *decision = NULL;
    chosen[0] = '\0';
    vm = json_pack("{s:O,s:O}", "vcpus", json_object_get(spec, "vcpus"), "memory_mb",
                   json_object_get(spec, "memory_mb"));
    for (size_t i = 0; i < N(sets); i++)
        if (json_object_get(spec, sets[i]))
            json_object_set(vm, sets[i], json_object_get(spec, sets[i]));
    if (json_is_array(json_object_get(spec, "disks")))
        json_object_set(vm, "disks", json_object_get(spec, "disks"));
    if (json_is_array(json_object_get(spec, "nics")))
        json_object_set(vm, "nics", json_object_get(spec, "nics"));
    if (json_is_string(json_object_get(spec, "vendor")))
        json_object_set(vm, "vendor", json_object_get(spec, "vendor"));
    body = json_pack("{s:o}", "vm", vm);
    if (json_is_string(json_object_get(spec, "host_group_id")))
        json_object_set(body, "host_group_id", json_object_get(spec, "host_group_id"));
    rc = pv_place_request(inv, body, &req, err);
    if (!rc)
        rc = decide_into(inv, &req, requested, chosen, decision, err);
    json_decref(body);
    return rc;
}

/* Place VM vm_id again: where it moves, or (clone) where a copy of it goes. */
static int place_from_vm(const struct pv_pl_inv *inv, const char *vm_id, const char *requested, int clone, int vcpus,
                         int64_t memory_mb, json_t *move_disks, const char *move_pool_id,
                         char chosen[64], char pool[64], json_t **decision,
                         struct pv_error *err)
{
    struct pv_pl_request req;
    int v, rc;

    *decision = NULL;
    chosen[0] = '\0';
    v = pv_pl_find_vm(inv, vm_id);
    if (v < 0) {
        rc = pv_fail(err, vm_not_found, "no VM with id '%.64s'", vm_id);
    } else {
        pv_pl_request_for_vm(inv, v, &req);
        if (clone) { /* a new VM shaped like the source, on a host of the source's endpoint */
            req.vm = -1;
            req.exclude_host = -1;
            req.connection_id = inv->vms[v].connection_id;
            req.anti_affinity = req.affinity = NULL;
            if (vcpus > 0)
                req.vcpus = vcpus;
            if (memory_mb > 0)
                req.memory_mb = memory_mb;
        }
        req.move_disks = move_disks;
        req.move_pool_id = move_pool_id;
        rc = decide_into(inv, &req, requested, chosen, decision, err);
        if (!rc && pool) {
            int64_t need;
            int p = pv_pl_move_pool(inv, &req, pv_pl_find_host(inv, chosen), &need);
            snprintf(pool, 64, "%s", p >= 0 ? inv->places[p].id : "");
        }
    }
    return rc;
}

int pv_place_move(const struct pv_pl_inv *inv, const char *vm_id, const char *requested,
                  char chosen[64], json_t **decision, struct pv_error *err)
{
    return place_from_vm(inv, vm_id, requested, 0, 0, 0, NULL, NULL, chosen, NULL, decision, err);
}

int pv_place_move_live(const struct pv_pl_inv *inv, const char *vm_id, const char *requested,
                       json_t *disks, const char *pool_id, char chosen[64], char pool[64],
                       json_t **decision, struct pv_error *err)
{
    return place_from_vm(inv, vm_id, requested, 0, 0, 0, disks, pool_id, chosen, pool, decision,
                         err);
}

int pv_place_clone(const struct pv_pl_inv *inv, const char *vm_id, const char *requested,
                   int vcpus, int64_t memory_mb, char chosen[64], json_t **decision,
                   struct pv_error *err)
{
    return place_from_vm(inv, vm_id, requested, 1, vcpus, memory_mb, NULL, NULL, chosen, NULL,
                         decision, err);
}
