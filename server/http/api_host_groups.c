/* api_host_groups.c -- the host group tree.  Host groups are Polyvisor's
 * own objects (no hypervisor is touched), so changes answer at once with the
 * object and are recorded as audit events; the tree's rules (no cycles,
 * unique sibling names, only empty groups deleted) live in db/. */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/core/events.h"
#include "server/placement/policy.h"
#include "server/core/util.h"
#include "server/core/validate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

void pv_api_host_groups_list(struct pv_req *r) { pv_api_list(r, &pv_coll_host_groups); }
void pv_api_host_group_get(struct pv_req *r) { pv_api_get(r, &pv_coll_host_groups); }

static const struct pv_jfield spec[] = {
    {"name", PV_J_STRING, PV_J_REQUIRED, 1, 128, NULL},
    {"parent_id", PV_J_STRING, PV_J_NULLABLE, 1, 64, NULL},
    {"description", PV_J_STRING, 0, 0, 1024, NULL},
    {"policy", PV_J_OBJECT, 0, 0, 0, NULL},
};

/* A policy is checked as placement will read it; 0 and a reply when not. */
static int policy_ok(struct pv_req *r, json_t *body)
{
    struct pv_error e = {0};
    json_t *policy = json_object_get(body, "policy");

    if (!policy || pv_pl_policy_check(policy, &e) == 0)
        return 1;
    pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "policy"));
    return 0;
}

static void reply_group(struct pv_req *r, const char *id, int status)
{
    struct pv_error e = {0};
    json_t *obj;

    if (pv_db_get(&pv_coll_host_groups, id, &obj, &e)) {
        pv_reply_error(r, &e);
        return;
    }
    pv_reply_json(r, status, obj);
}

void pv_api_host_group_create(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, N(spec));
    char id[64], *policy = NULL;

    if (!body)
        return;
    if (!policy_ok(r, body))
        goto out;
    if (json_object_get(body, "policy"))
        policy = json_dumps(json_object_get(body, "policy"), JSON_COMPACT);
    pv_id_new(id, "hg");
    if (pv_db_host_group_create(id, json_string_value(json_object_get(body, "name")),
                                json_string_value(json_object_get(body, "parent_id")),
                                json_string_value(json_object_get(body, "description")), policy,
                                &e)) {
        pv_reply_error(r, &e);
    } else {
        pv_event("host_group", id, "audit", r->user, "host group %s created",
                 json_string_value(json_object_get(body, "name")));
        snprintf(r->location, sizeof r->location, "/api/v1/host-groups/%s", id);
        reply_group(r, id, 201);
    }
out:
    free(policy);
    json_decref(body);
}

void pv_api_host_group_patch(struct pv_req *r)
{
    static const struct pv_jfield patch_spec[] = {
        {"name", PV_J_STRING, 0, 1, 128, NULL},
        {"parent_id", PV_J_STRING, PV_J_NULLABLE, 1, 64, NULL},
        {"description", PV_J_STRING, 0, 0, 1024, NULL},
        {"policy", PV_J_OBJECT, 0, 0, 0, NULL},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, patch_spec, N(patch_spec)), *parent;
    char *policy = NULL;
    const char *parent_id = NULL;

    if (!body)
        return;
    parent = json_object_get(body, "parent_id");
    if (parent)
        parent_id = json_is_null(parent) ? "" : json_string_value(parent);
    if (!policy_ok(r, body)) {
        json_decref(body);
        return;
    }
    if (json_object_get(body, "policy"))
        policy = json_dumps(json_object_get(body, "policy"), JSON_COMPACT);
    if (pv_db_begin(&e) == 0) {
        if (pv_db_host_group_update(r->params[0], json_string_value(json_object_get(body, "name")),
                                    parent_id,
                                    json_string_value(json_object_get(body, "description")),
                                    policy, &e) ||
            pv_db_commit(&e)) {
            pv_db_rollback();
        } else {
            e.err = 0;
        }
    }
    if (e.err) {
        pv_reply_error(r, &e);
    } else {
        pv_event("host_group", r->params[0], "audit", r->user, "host group changed");
        reply_group(r, r->params[0], 200);
    }
    free(policy);
    json_decref(body);
}

void pv_api_host_group_delete(struct pv_req *r)
{
    struct pv_error e = {0};

    if (pv_db_host_group_delete(r->params[0], &e)) {
        pv_reply_error(r, &e);
        return;
    }
    pv_event("host_group", r->params[0], "audit", r->user, "host group deleted");
    pv_reply_json(r, 204, NULL);
}
