/* api_inventory.c -- reading the inventory: every collection answers
 * {"items": [...], "next_cursor": ...} with the one query language of
 * db/query.h (filter, sort, limit, cursor, fields), and every object is
 * reachable by its id. */
#include <stdlib.h>
#include <string.h>
#include "../db/db.h"
#include "api.h"
#include "sse.h"
#include "validate.h"

void pv_api_list(struct pv_req *r, const struct pv_collection *c)
{
    struct pv_query q;
    struct pv_error e = {0};
    json_t *items = NULL;
    char *next = NULL;

    if (pv_query_parse(c, pv_req_query(r, "filter"), pv_req_query(r, "sort"),
                       pv_req_query(r, "limit"), pv_req_query(r, "cursor"),
                       pv_req_query(r, "fields"), &q, &e)) {
        pv_reply_error(r, &e);
        return;
    }
    if (pv_db_list(&q, &items, &next, &e)) {
        pv_reply_error(r, &e);
    } else {
        pv_reply_json(r, 200, json_pack("{s:o,s:s?}", "items", items, "next_cursor", next));
    }
    free(next);
    pv_query_clear(&q);
}

void pv_api_get(struct pv_req *r, const struct pv_collection *c)
{
    struct pv_error e = {0};
    json_t *obj;

    if (pv_db_get(c, r->params[0], &obj, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_json(r, 200, obj);
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
void pv_api_events_list(struct pv_req *r) { pv_api_list(r, &pv_coll_events); }
void pv_api_schedules_list(struct pv_req *r) { pv_api_list(r, &pv_coll_schedules); }
void pv_api_schedule_get(struct pv_req *r) { pv_api_get(r, &pv_coll_schedules); }

void pv_api_events_stream(struct pv_req *r)
{
    pv_sse_attach(r);
}

/* PATCH /hosts/{id}: move a host to a host group (null: out of any). */
void pv_api_host_patch(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"host_group_id", PV_J_STRING, PV_J_REQUIRED | PV_J_NULLABLE, 1, 64, NULL},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, 1), *g = NULL;
    const char *group;

    if (!body)
        return;
    group = json_string_value(json_object_get(body, "host_group_id"));
    if (group && pv_db_get(&pv_coll_host_groups, group, &g, &e) == 0)
        json_decref(g);
    else if (group)
        goto fail;
    if (pv_db_host_set_group(r->params[0], group, &e))
        goto fail;
    json_decref(body);
    pv_api_get(r, &pv_coll_hosts);
    return;
fail:
    json_decref(body);
    pv_reply_error(r, &e);
}
