/* api_inventory.c -- reading the inventory: every collection answers
 * {"items": [...], "next_cursor": ...} with the one query language of
 * db/query.h (filter, sort, limit, cursor, fields), and every object is
 * reachable by its id. */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/core/events.h"
#include "server/jobs/jobs.h"
#include "server/http/sse.h"
#include "server/core/util.h"
#include "server/core/validate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Pages and objects go out as the text db/ writes, without a detour
 * through jansson: that is what keeps a 1,000-VM page cheap. */
void pv_api_list(struct pv_req *r, const struct pv_collection *c)
{
    struct pv_query q;
    struct pv_error e = {0};
    char *items = NULL, *next = NULL, *body;
    size_t len;

    if (pv_query_parse(c, pv_req_query(r, "filter"), pv_req_query(r, "sort"),
                       pv_req_query(r, "limit"), pv_req_query(r, "cursor"),
                       pv_req_query(r, "fields"), &q, &e)) {
        pv_reply_error(r, &e);
        return;
    }
    if (pv_db_list_text(&q, &items, &next, &e)) {
        pv_reply_error(r, &e);
        goto out;
    }
    /* the cursor is base64url: it needs no escaping inside quotes */
    len = strlen(items) + (next ? strlen(next) : 0) + 40;
    body = malloc(len);
    if (!body) {
        pv_fail(&e, out_of_memory, "out of memory");
        pv_reply_error(r, &e);
        goto out;
    }
    snprintf(body, len, "{\"items\":%s,\"next_cursor\":%s%s%s}", items, next ? "\"" : "",
             next ? next : "null", next ? "\"" : "");
    pv_reply_text(r, 200, body, "application/json");
out:
    free(items);
    free(next);
    pv_query_clear(&q);
}

void pv_api_get(struct pv_req *r, const struct pv_collection *c)
{
    struct pv_error e = {0};
    char *obj;

    if (pv_db_get_text(c, r->params[0], &obj, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_text(r, 200, obj, "application/json");
}

json_t *pv_api_body(struct pv_req *r, const struct pv_jfield *spec, size_t n)
{
    struct pv_error e = {0};
    json_t *body, *details = NULL;

    if (pv_req_body(r, &body, &e)) {
        pv_reply_error(r, &e);
        return NULL;
    }
    if (pv_validate(body, spec, n, &details, &e)) {
        pv_reply_error_details(r, &e, details);
        json_decref(body);
        return NULL;
    }
    return body;
}

void pv_api_vms_list(struct pv_req *r) { pv_api_list(r, &pv_coll_vms); }
void pv_api_vm_get(struct pv_req *r) { pv_api_get(r, &pv_coll_vms); }
void pv_api_hosts_list(struct pv_req *r) { pv_api_list(r, &pv_coll_hosts); }
void pv_api_host_get(struct pv_req *r) { pv_api_get(r, &pv_coll_hosts); }
void pv_api_clusters_list(struct pv_req *r) { pv_api_list(r, &pv_coll_clusters); }
void pv_api_cluster_get(struct pv_req *r) { pv_api_get(r, &pv_coll_clusters); }
void pv_api_pools_list(struct pv_req *r) { pv_api_list(r, &pv_coll_pools); }
void pv_api_pool_get(struct pv_req *r) { pv_api_get(r, &pv_coll_pools); }
void pv_api_networks_list(struct pv_req *r) { pv_api_list(r, &pv_coll_networks); }
void pv_api_network_get(struct pv_req *r) { pv_api_get(r, &pv_coll_networks); }
void pv_api_events_list(struct pv_req *r) { pv_api_list(r, &pv_coll_events); }
void pv_api_schedules_list(struct pv_req *r) { pv_api_list(r, &pv_coll_schedules); }
void pv_api_alerts_list(struct pv_req *r) { pv_api_list(r, &pv_coll_alerts); }
void pv_api_schedule_get(struct pv_req *r) { pv_api_get(r, &pv_coll_schedules); }

void pv_api_events_stream(struct pv_req *r)
{
    pv_sse_attach(r);
}

/* PATCH /hosts/{id}: move a host to a host group (null: out of any) and/or
 * set its tags (what tag rules of placement policies ask about). */
void pv_api_host_patch(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"host_group_id", PV_J_STRING, PV_J_NULLABLE, 1, 64, NULL},
        {"tags", PV_J_ARRAY, 0, 0, 32, NULL},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, N(spec)), *g = NULL;
    const char *group;
    char *tags = NULL;

    if (!body)
        return;
    if (pv_validate_tag_list(json_object_get(body, "tags"), "tags", &e))
        goto fail;
    group = json_string_value(json_object_get(body, "host_group_id"));
    if (group && pv_db_get(&pv_coll_host_groups, group, &g, &e) == 0)
        json_decref(g);
    else if (group)
        goto fail;
    if (json_object_get(body, "host_group_id") && pv_db_host_set_group(r->params[0], group, &e))
        goto fail;
    tags = pv_json_text_of(body, "tags");
    if (tags && pv_db_host_set_tags(r->params[0], tags, &e))
        goto fail;
    free(tags);
    json_decref(body);
    pv_event("host", r->params[0], "audit", r->user, "host settings changed");
    pv_api_get(r, &pv_coll_hosts);
    return;
fail:
    free(tags);
    json_decref(body);
    pv_reply_error(r, &e);
}

/* POST /hosts/{id}/maintenance {"evacuate": "live" | "quick" | "none"}: a job
 * that puts the host in maintenance (no new VMs) and moves its VMs off. */
void pv_api_host_maintenance(struct pv_req *r)
{
    static const char *const modes[] = {"live", "quick", "none", NULL};
    static const struct pv_jfield spec[] = {
        {"evacuate", PV_J_STRING, 0, 0, 0, modes},
    };
    struct pv_error e = {0};
    struct pv_db_host_ref h;
    json_t *body = r->body_len ? pv_api_body(r, spec, N(spec)) : json_object();
    char job[64], lock[128];

    if (!body)
        return;
    if (!json_object_get(body, "evacuate"))
        json_object_set_new(body, "evacuate", json_string("live"));
    if (pv_db_host_ref(r->params[0], &h, &e) == 0) {
        snprintf(lock, sizeof lock, "host:%s", h.id);
        if (pv_api_submit(r, "host.maintenance", "host", h.id, lock, body, job, &e) == 0) {
            pv_reply_job(r, job);
            json_decref(body);
            return;
        }
    }
    pv_reply_error(r, &e);
    json_decref(body);
}

/* POST /hosts/{id}/maintenance/exit */
void pv_api_host_maintenance_exit(struct pv_req *r)
{
    struct pv_error e = {0};
    struct pv_db_host_ref h;
    char job[64];

    if (pv_db_host_ref(r->params[0], &h, &e) == 0 &&
        pv_api_submit(r, "host.exit_maintenance", "host", h.id, NULL, NULL, job, &e) == 0)
        pv_reply_job(r, job);
    else
        pv_reply_error(r, &e);
}
