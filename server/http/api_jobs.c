/* api_jobs.c -- jobs as the API shows them: list, one job with its steps,
 * cancel, and restart from the last good step. */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/core/util.h"
#include "server/jobs/jobs.h"

static int idem_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 255)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return 0;
    return 1;
}

int pv_api_submit(struct pv_req *r, const char *kind, const char *target_type,
                  const char *target_id, const char *lock_key, json_t *params, char job_id[64],
                  struct pv_error *err)
{
    const char *idem = pv_req_header(r, "Idempotency-Key");
    char hash[65];
    size_t n, head;
    char *buf;

    if (!idem)
        return pv_job_submit_as(r->user, kind, target_type, target_id, lock_key, params, job_id,
                                err);
    if (!idem_key_ok(idem))
        return pv_fail(err, invalid_idempotency_key,
                       "Idempotency-Key must be 1 to 255 visible ASCII characters");
    /* The request's identity: a repeated key must come with the same request. */
    head = strlen(r->method) + strlen(r->path) + 2;
    n = head + r->body_len;
    buf = malloc(n + 1);
    if (!buf)
        return pv_fail(err, out_of_memory, "out of memory");
    snprintf(buf, n + 1, "%s %s\n", r->method, r->path);
    if (r->body_len)
        memcpy(buf + head, r->body, r->body_len);
    pv_sha256_hex(buf, n, hash);
    free(buf);
    return pv_job_submit_idem(r->user, kind, target_type, target_id, lock_key, params, idem, hash,
                              job_id, err);
}

void pv_api_jobs_list(struct pv_req *r) { pv_api_list(r, &pv_coll_jobs); }

void pv_api_job_get(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *job;

    if (pv_db_job_json(r->params[0], &job, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_json(r, 200, job);
}

void pv_api_job_cancel(struct pv_req *r)
{
    struct pv_error e = {0};

    if (pv_job_cancel(r->params[0], r->user, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_job(r, r->params[0]);
}

void pv_api_job_restart(struct pv_req *r)
{
    struct pv_error e = {0};

    if (pv_job_restart(r->params[0], r->user, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_job(r, r->params[0]);
}
