/* api_placement.c -- the placement engine's public face: dry-run ratings
 * (nothing changes) and what-if simulations on a copy of the inventory.
 * Both load a fresh snapshot per request; the engine itself is in
 * server/placement/. */
#include <stdlib.h>
#include "server/http/api.h"
#include "server/http/http.h"
#include "server/inventory/snapshot.h"
#include "server/placement/place.h"
#include "server/placement/plan.h"

/* POST /placement/ratings */
void pv_api_placement_ratings(struct pv_req *r)
{
    struct pv_error e = {0};
    const struct pv_pl_inv *inv = NULL;
    struct pv_pl_request req;
    struct pv_pl_rating *rt = NULL;
    json_t *body = NULL, *out;
    int limit;

    if (pv_req_body(r, &body, &e) || pv_snapshot_get(&inv, &e) ||
        pv_place_request(inv, body, &req, &e) || pv_pl_rate(inv, &req, 0, &rt, &e)) {
        pv_reply_error(r, &e);
        goto out;
    }
    limit = (int)json_integer_value(json_object_get(body, "limit"));
    out = pv_pl_ratings_json(inv, &req, rt, inv->nhosts, limit);
    pv_reply_json(r, 200, out);
out:
    pv_pl_ratings_free(rt, inv ? inv->nhosts : 0);
    pv_snapshot_put(inv);
    json_decref(body);
}

/* POST /placement/simulate */
void pv_api_placement_simulate(struct pv_req *r)
{
    struct pv_error e = {0};
    struct pv_pl_inv *inv = NULL;
    json_t *body = NULL, *out = NULL;

    if (pv_req_body(r, &body, &e) || pv_snapshot_load(&inv, &e) ||
        pv_plan_simulate(inv, body, &out, &e)) {
        pv_reply_error(r, &e);
    } else {
        pv_reply_json(r, 200, out);
    }
    pv_pl_inv_free(inv);
    json_decref(body);
}
