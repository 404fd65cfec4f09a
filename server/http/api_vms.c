/* api_vms.c -- VM create, delete, power actions, migrate, and PATCH of
 * Polyvisor's own VM settings (HA priority, tags).
 *
 * Everything that touches a hypervisor becomes a job and answers 202 with
 * its Location; the request is checked completely first (the VM exists, the
 * body is valid), so a 202 means the job has a fair chance and a 4xx means
 * nothing was written.  PATCH changes only Polyvisor's inventory and
 * answers at once.
 */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/core/events.h"
#include "server/jobs/jobs.h"
#include "server/core/util.h"
#include "server/core/validate.h"
#include "server/inventory/devices.h"

static const char *const modes[] = {"live", "quick", NULL};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int items_are(const json_t *arr, int (*is)(const json_t *))
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (!is(v))
            return 0;
    return 1;
}
static int is_object(const json_t *v) { return json_is_object(v); }

static int check_lists(struct pv_req *r, json_t *body)
{
    static const char *const lists[] = {"disks", "nics"};
    static const char *const sets[] = {"tags", "anti_affinity", "affinity"};
    struct pv_error e = {0};

    for (size_t i = 0; i < N(lists); i++) {
        json_t *a = json_object_get(body, lists[i]);
        if (a && !items_are(a, is_object)) {
            pv_fail(&e, wrong_type, "every item of '%s' must be an object",
                         lists[i]);
            pv_reply_error_details(r, &e, json_pack("{s:s}", "field", lists[i]));
            return -1;
        }
    }
    {
        json_t *details = NULL;
        if (pv_validate_vm_devices(body, &details, &e)) {
            pv_reply_error_details(r, &e, details);
            return -1;
        }
    }
    for (size_t i = 0; i < N(sets); i++) {
        if (pv_validate_tag_list(json_object_get(body, sets[i]), sets[i], &e)) {
            pv_reply_error_details(r, &e, json_pack("{s:s}", "field", sets[i]));
            return -1;
        }
    }
    {
        size_t i;
        json_t *a, *b;
        json_array_foreach(json_object_get(body, "affinity"), i, a) {
            size_t j;
            json_array_foreach(json_object_get(body, "anti_affinity"), j, b) {
                if (!json_equal(a, b))
                    continue;
                pv_fail(&e, conflicting_affinity,
                             "set '%s' cannot be both an affinity and an anti-affinity set",
                             json_string_value(a));
                pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "anti_affinity"));
                return -1;
            }
        }
    }
    return 0;
}

static void submit(struct pv_req *r, const char *kind, const char *target, const char *lock,
                   json_t *params)
{
    struct pv_error e = {0};
    char job[64];

    if (pv_api_submit(r, kind, "vm", target, lock, params, job, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_job(r, job);
}

void pv_api_vm_create(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"name", PV_J_STRING, PV_J_REQUIRED, 1, 64, NULL},
        PV_JFIELDS_VM_SIZE,
        PV_JFIELDS_VM_DEVICES,
        {"host_id", PV_J_STRING, PV_J_NULLABLE, 1, 64, NULL},
        {"host_group_id", PV_J_STRING, PV_J_NULLABLE, 1, 64, NULL},
    };
    json_t *body = pv_api_body(r, spec, N(spec));
    const char *host;
    char lock[128] = "";

    if (!body)
        return;
    if (check_lists(r, body)) {
        json_decref(body);
        return;
    }
    {
        struct pv_error e = {0};
        if (pv_validate_vm_name(json_object_get(body, "name"), &e)) {
            pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "name"));
            json_decref(body);
            return;
        }
    }
    host = json_string_value(json_object_get(body, "host_id"));
    if (host) {
        struct pv_db_host_ref h;
        struct pv_error e = {0};
        json_t *dl, *nl;
        int bad;
        if (pv_db_host_ref(host, &h, &e)) {
            pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "host_id"));
            json_decref(body);
            return;
        }
        /* a pool or network by id that this host cannot use: refused now,
         * not in the job (the job checks again: placement may pick) */
        dl = json_deep_copy(json_object_get(body, "disks"));
        nl = json_deep_copy(json_object_get(body, "nics"));
        bad = pv_devices_for_host(&h, dl, nl, &e);
        json_decref(dl);
        json_decref(nl);
        if (bad) {
            pv_reply_error(r, &e);
            json_decref(body);
            return;
        }
        snprintf(lock, sizeof lock, "host:%s", host);
    } else {
        /* placement picks the host: an id nothing has is still refused now */
        struct pv_error e = {0};
        if (pv_devices_known(json_object_get(body, "disks"), json_object_get(body, "nics"), &e)) {
            pv_reply_error(r, &e);
            json_decref(body);
            return;
        }
    }
    submit(r, "vm.create", NULL, lock, body);
    json_decref(body);
}

/* The VM named by the path, or a 404 reply and -1. */
static int vm_of(struct pv_req *r, struct pv_db_vm_ref *vm, char lock[128])
{
    struct pv_error e = {0};

    if (pv_db_vm_ref(r->params[0], vm, &e)) {
        pv_reply_error(r, &e);
        return -1;
    }
    snprintf(lock, 128, "host:%s", vm->host_id[0] ? vm->host_id : vm->id);
    return 0;
}

/* Actions take no body; an empty object is accepted too. */
static int no_body(struct pv_req *r)
{
    json_t *body;

    if (!r->body || r->body_len == 0)
        return 0;
    body = pv_api_body(r, NULL, 0);
    if (!body)
        return -1;
    json_decref(body);
    return 0;
}

static void action(struct pv_req *r, const char *kind)
{
    struct pv_db_vm_ref vm;
    char lock[128];

    if (no_body(r) || vm_of(r, &vm, lock))
        return;
    submit(r, kind, vm.id, lock, NULL);
}

/* DELETE /vms/{id}[?delete_disks=true]: with it, the disks the endpoint
 * made for the VM go too. */
void pv_api_vm_delete(struct pv_req *r)
{
    const char *dd = pv_req_query(r, "delete_disks");
    struct pv_db_vm_ref vm;
    char lock[128];
    json_t *params;

    if (dd && strcmp(dd, "true") != 0 && strcmp(dd, "false") != 0) {
        struct pv_error e;
        pv_fail(&e, invalid_value, "delete_disks is true or false");
        pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "delete_disks"));
        return;
    }
    if (no_body(r) || vm_of(r, &vm, lock))
        return;
    params = json_pack("{s:b}", "delete_disks", dd && strcmp(dd, "true") == 0);
    submit(r, "vm.delete", vm.id, lock, params);
    json_decref(params);
}
void pv_api_vm_start(struct pv_req *r) { action(r, "vm.start"); }
void pv_api_vm_shutdown(struct pv_req *r) { action(r, "vm.shutdown"); }
void pv_api_vm_poweroff(struct pv_req *r) { action(r, "vm.poweroff"); }
void pv_api_vm_reboot(struct pv_req *r) { action(r, "vm.reboot"); }
void pv_api_vm_pause(struct pv_req *r) { action(r, "vm.pause"); }
void pv_api_vm_resume(struct pv_req *r) { action(r, "vm.resume"); }
void pv_api_vm_save(struct pv_req *r) { action(r, "vm.save"); }

void pv_api_vm_migrate(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"host_id", PV_J_STRING, PV_J_NULLABLE, 1, 64, NULL},
        {"mode", PV_J_STRING, 0, 0, 0, modes},
        {"max_downtime_ms", PV_J_INT, 0, 1, 60000, NULL},
        {"pool_id", PV_J_STRING, PV_J_NULLABLE, 1, 64, NULL}, /* live: copy local disks there */
    };
    struct pv_db_vm_ref vm;
    char lock[128];
    const char *mode;
    json_t *body;

    if (r->body && r->body_len) {
        body = pv_api_body(r, spec, N(spec));
        if (!body)
            return;
    } else {
        body = json_object();
    }
    mode = json_string_value(json_object_get(body, "mode"));
    if (json_is_string(json_object_get(body, "pool_id")) && mode && strcmp(mode, "quick") == 0) {
        struct pv_error e = {0};
        pv_fail(&e, invalid_value, "pool_id is for a live migration (quick copies the disk files as they are)");
        pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "pool_id"));
    } else if (vm_of(r, &vm, lock) == 0) {
        submit(r, "vm.migrate", vm.id, lock, body);
    }
    json_decref(body);
}

/* POST /vms/{id}/reconfigure {"vcpus", "memory_mb"}: the hypervisor's
 * sizes of the VM (a job; Polyvisor's own settings are PATCH). */
void pv_api_vm_reconfigure(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"vcpus", PV_J_INT, 0, 1, 256, NULL},
        {"memory_mb", PV_J_INT, 0, 16, 16LL * 1024 * 1024, NULL},
    };
    struct pv_db_vm_ref vm;
    struct pv_error e = {0};
    char lock[128];
    json_t *body = pv_api_body(r, spec, N(spec));

    if (!body)
        return;
    if (!json_object_get(body, "vcpus") && !json_object_get(body, "memory_mb")) {
        pv_fail(&e, missing_field, "give 'vcpus' and/or 'memory_mb'");
        pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "vcpus"));
    } else if (vm_of(r, &vm, lock) == 0) {
        submit(r, "vm.reconfigure", vm.id, lock, body);
    }
    json_decref(body);
}

/* POST /vms/{id}/clone {"name", "host_id"?, "vcpus"?, "memory_mb"?} */
void pv_api_vm_clone(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"name", PV_J_STRING, PV_J_REQUIRED, 1, 64, NULL},
        {"host_id", PV_J_STRING, PV_J_NULLABLE, 1, 64, NULL},
        {"vcpus", PV_J_INT, 0, 1, 256, NULL},
        {"memory_mb", PV_J_INT, 0, 16, 16LL * 1024 * 1024, NULL},
    };
    struct pv_db_vm_ref vm;
    char lock[128];
    json_t *body = pv_api_body(r, spec, N(spec));

    if (!body)
        return;
    if (vm_of(r, &vm, lock) == 0)
        submit(r, "vm.clone", vm.id, lock, body);
    json_decref(body);
}

void pv_api_vm_patch(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"ha", PV_J_STRING, 0, 0, 0, pv_vm_ha_levels},
        {"tags", PV_J_ARRAY, 0, 0, 32, NULL},
        {"anti_affinity", PV_J_ARRAY, 0, 0, 32, NULL},
        {"affinity", PV_J_ARRAY, 0, 0, 32, NULL},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, N(spec));
    char *tags = NULL, *anti = NULL, *aff = NULL;

    if (!body)
        return;
    if (check_lists(r, body))
        goto out;
    tags = pv_json_text_of(body, "tags");
    anti = pv_json_text_of(body, "anti_affinity");
    aff = pv_json_text_of(body, "affinity");
    if (pv_db_vm_patch(r->params[0], json_string_value(json_object_get(body, "ha")), tags, &e) ||
        pv_db_vm_set_sets(r->params[0], anti, aff, &e)) {
        pv_reply_error(r, &e);
        goto out;
    }
    pv_event("vm", r->params[0], "audit", r->user, "vm settings changed");
    pv_api_get(r, &pv_coll_vms);
out:
    free(tags);
    free(anti);
    free(aff);
    json_decref(body);
}
