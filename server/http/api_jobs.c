/* api_jobs.c -- jobs as the API shows them: list, one job with its steps,
 * cancel, and restart from the last good step. */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/core/util.h"
#include "server/http/jobwait.h"
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

static int finished_state(const json_t *job)
{
    const char *st = json_string_value(json_object_get(job, "state"));
    return !st || strcmp(st, "succeeded") == 0 || strcmp(st, "failed") == 0 ||
           strcmp(st, "cancelled") == 0;
}

/* ?wait=SECONDS: 0 to PV_JOBWAIT_MAX_S (more is cut to it); -1 when absent. */
static int wait_param(struct pv_req *r, int *secs, struct pv_error *err)
{
    const char *w = pv_req_query(r, "wait");
    char *end;
    long v;

    *secs = -1;
    if (!w)
        return 0;
    v = strtol(w, &end, 10);
    if (!*w || *end || v < 0 || w[0] == '-' || w[0] == '+' || w[0] == ' ')
        return pv_fail(err, invalid_value, "wait must be a whole number of seconds, 0 to %d",
                       PV_JOBWAIT_MAX_S);
    *secs = v > PV_JOBWAIT_MAX_S ? PV_JOBWAIT_MAX_S : (int)v;
    return 0;
}

/* One job; with ?wait, answered as soon as it is finished or the time is
 * up, whichever is first (the connection is parked meanwhile, jobwait.c). */
void pv_api_job_get(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *job;
    int secs;

    if (wait_param(r, &secs, &e)) {
        pv_reply_error(r, &e);
        return;
    }
    if (secs > 0 && r->wait_until_ms == 0)
        r->wait_until_ms = pv_now_ms() + (int64_t)secs * 1000;
    for (;;) {
        unsigned long long gen = pv_jobwait_generation();
        if (pv_db_job_json(r->params[0], &job, &e)) {
            pv_reply_error(r, &e);
            return;
        }
        if (secs <= 0 || finished_state(job) || pv_now_ms() >= r->wait_until_ms)
            break;
        json_decref(job);
        if (pv_jobwait_park(r, r->params[0], r->wait_until_ms, gen) == 0)
            return;
        if (pv_jobwait_generation() == gen) { /* parking impossible: answer now */
            if (pv_db_job_json(r->params[0], &job, &e)) {
                pv_reply_error(r, &e);
                return;
            }
            break;
        }
    }
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
