/* req.c -- a request as handlers see it (struct pv_req, http.h): its query,
 * headers, cookies and JSON body, and the one reply a handler sets.  Apart
 * from http.c's admit/handle plumbing, so that what reads a request (auth.c,
 * sse.c, the api_*.c handlers) links without the route table and with it
 * every handler -- their unit tests link this file, lib/ and db/ only.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include "db/db.h"
#include "lib/httpd.h"
#include "lib/text.h"
#include "server/http/http.h"

const char *pv_req_query(struct pv_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *pv_req_header(struct pv_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

const char *pv_req_client(struct pv_req *r, char *buf, size_t size)
{
    snprintf(buf, size, "%s", r->client ? r->client : "unknown");
    return buf;
}

const char *pv_req_cookie(struct pv_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, name);
}

int pv_req_body(struct pv_req *r, json_t **out, struct pv_error *err)
{
    json_error_t je;
    json_t *j;

    *out = NULL;
    if (!r->body || r->body_len == 0)
        return pv_fail(err, missing_body, "this call needs a JSON object body");
    if (!pv_utf8_valid(r->body, r->body_len))
        return pv_fail(err, invalid_utf8, "the body is not valid UTF-8");
    j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &je);
    if (!j)
        return pv_fail(err, invalid_json, "malformed JSON at line %d column %d: %s",
                            je.line, je.column, je.text);
    if (!json_is_object(j)) {
        json_decref(j);
        return pv_fail(err, invalid_json, "the body must be a JSON object");
    }
    *out = j;
    return 0;
}

void pv_reply_json(struct pv_req *r, int status, json_t *body)
{
    json_decref(r->json);
    free(r->text);
    r->text = NULL;
    r->status = status;
    r->json = body;
}

void pv_reply_text(struct pv_req *r, int status, char *text, const char *content_type)
{
    pv_reply_json(r, status, NULL);
    r->text = text;
    r->content_type = content_type;
}

void pv_reply_error_details(struct pv_req *r, const struct pv_error *e, json_t *details)
{
    pv_reply_json(r, pv_error_status(e), pv_httpd_error_body(e, details));
}

void pv_reply_error(struct pv_req *r, const struct pv_error *e)
{
    pv_reply_error_details(r, e, NULL);
}

void pv_reply_job(struct pv_req *r, const char *job_id)
{
    struct pv_error e = {0};
    json_t *job;

    snprintf(r->location, sizeof r->location, "/api/v1/jobs/%s", job_id);
    if (pv_db_job_json(job_id, &job, &e)) {
        pv_reply_error(r, &e);
        return;
    }
    pv_reply_json(r, 202, job);
}
