/* api_jobs.c -- jobs as the API shows them: list, one job with its steps,
 * cancel, and restart from the last good step. */
#include "../db/db.h"
#include "api.h"
#include "jobs.h"

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
