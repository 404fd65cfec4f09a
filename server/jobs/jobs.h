/* jobs.h -- every operation that changes anything runs as a persistent job.
 *
 * A job is a row (db/db_jobs.c) with named steps.  The API inserts it as
 * `queued` and answers 202 at once; a pool of worker threads runs queued
 * jobs in order of creation, at most jobs_per_host at a time for jobs that
 * share a lock key (e.g. "host:ID"), skipping steps that already succeeded,
 * so a restarted job goes on from its last good step.  A job kind is a table
 * of step names, a step function and a reconcile function: after a daemon
 * restart finds a job still marked running, reconcile asks the hypervisor
 * (through the adapter) whether the work happened, instead of guessing.
 *
 * The state machine (pv_job_next_state) is the one place that says which
 * transitions exist:
 *   queued -> running | cancelled;  running -> succeeded | failed | cancelled
 *   | queued (parked at shutdown);  failed | cancelled -> queued (restart).
 */
#ifndef PV_JOBS_H
#define PV_JOBS_H

#include <jansson.h>
#include "adapters/adapter.h"
#include "server/core/config.h"

struct pv_job_run;

enum pv_job_state { PV_JOB_QUEUED = 0, PV_JOB_RUNNING, PV_JOB_SUCCEEDED, PV_JOB_FAILED,
                    PV_JOB_CANCELLED };
enum pv_job_event { PV_JEV_START = 0, PV_JEV_SUCCEED, PV_JEV_FAIL, PV_JEV_CANCEL,
                    PV_JEV_RESTART, PV_JEV_PARK };

/* The state after `ev`, or -1 when the transition does not exist. */
int pv_job_next_state(enum pv_job_state from, enum pv_job_event ev);
const char *pv_job_state_name(enum pv_job_state s);
/* -1 when unknown */
int pv_job_state_parse(const char *name);

/* reconcile() answers: */
#define PV_RECONCILE_DONE 0    /* the work is done: the job succeeded */
#define PV_RECONCILE_RESUME 1  /* not done: run the remaining steps */
/* A reconcile() for kinds whose steps see for themselves what is already
 * done: always PV_RECONCILE_RESUME. */
int pv_job_resume(struct pv_job_run *run, struct pv_error *err);
/* The same, and result.resumed becomes true: for kinds whose step asks the
 * endpoint first, when resumed, whether the work it was doing when the
 * daemon died was done meanwhile (a create's VM, a migration, an HA
 * restart's define), since what a step makes on a peer is on record only
 * once the step has it back. */
int pv_job_resume_marked(struct pv_job_run *run, struct pv_error *err);

struct pv_job_kind {
    const char *name;
    const char *const *steps;
    int nsteps;
    int (*step)(struct pv_job_run *run, int idx, struct pv_error *err);
    int (*reconcile)(struct pv_job_run *run, struct pv_error *err);
};

/* Job kinds the daemon knows (jobs_*.c). */
const struct pv_job_kind *pv_job_kind_find(const char *name);

/* ---- for job kinds, during a step -------------------------------------- */

const char *pv_job_id(const struct pv_job_run *run);
const char *pv_job_kind_name(const struct pv_job_run *run);
const char *pv_job_actor(const struct pv_job_run *run);
const char *pv_job_target(const struct pv_job_run *run);
/* The job's parameters (borrowed, read-only). */
json_t *pv_job_params(struct pv_job_run *run);
/* The job's result object (borrowed): steps may add to it; it is saved after
 * every step, so a later step of a restarted job finds what earlier ones
 * stored. */
json_t *pv_job_result(struct pv_job_run *run);
void pv_job_progress(struct pv_job_run *run, int percent, const char *detail);
/* Store the result now, in the middle of a step: what the step started on
 * a peer or in a child job must be on record before it waits for it, so a
 * restart after kill -9 finds it instead of starting it again. */
void pv_job_save(struct pv_job_run *run);
int pv_job_cancelled(struct pv_job_run *run);

/* ---- for the API and main ---------------------------------------------- */

/* Start the workers.  kinds[] (n of them) is the registry of job kinds,
 * borrowed for the daemon's life: the engine knows no kind of its own, as
 * nginx's core knows its modules only from the ngx_modules[] it is handed. */
int pv_jobs_start(const struct pv_config *cfg, const struct pv_job_kind *const *kinds, size_t n,
                  struct pv_error *err);
/* Stop taking jobs; let running steps finish for up to grace_s seconds,
 * parking their jobs as queued; returns the number still running. */
int pv_jobs_stop(int grace_s);

/* Insert a job and queue it; actor is who the job runs for.  With an
 * idempotency key (idem, not NULL), a key seen before answers that earlier
 * job's id when request_hash (the request's identity, hex SHA-256) matches,
 * and fails idempotency_key_reused when it does not.  The engine knows no
 * HTTP: the API reads the header and hashes the request (pv_api_submit).
 * params is not stolen.  job_id receives the new (or earlier) job's id. */
int pv_job_submit_idem(const char *actor, const char *kind, const char *target_type,
                       const char *target_id, const char *lock_key, json_t *params,
                       const char *idem, const char *request_hash, char job_id[64],
                       struct pv_error *err);
/* The same without a key, for work the daemon starts itself (schedules, HA). */
int pv_job_submit_as(const char *actor, const char *kind, const char *target_type,
                     const char *target_id, const char *lock_key, json_t *params,
                     char job_id[64], struct pv_error *err);
int pv_job_cancel(const char *id, const char *actor, struct pv_error *err);

/* ---- jobs made of jobs -------------------------------------------------- */

/* Run a job of `kind` as a child of the running job `parent`: it is a normal
 * job (listed, with steps and progress, params.parent_job_id naming the
 * parent) but runs now, on the parent's thread, so a parent never waits for
 * a free worker; cancelling the parent cancels it.  Returns 0 when the child
 * succeeded, else its error.  child_id receives its id.  This is
 * pv_job_child_new then pv_job_child_run. */
int pv_job_run_child(struct pv_job_run *parent, const char *kind, const char *target_type,
                     const char *target_id, json_t *params, char child_id[64],
                     struct pv_error *err);
/* The two halves, for a parent that records the child's id (and saves it,
 * pv_job_save) between them: a parent resumed after kill -9 then hands the
 * recorded id to pv_job_child_run again instead of making a second child.
 * pv_job_child_new stores the child, queued, without running it.
 * pv_job_child_run runs it on the parent's thread -- also a child left
 * queued or running by a restart, which the engine queued at start and
 * this takes back -- or, when a worker runs it already, waits for it; a
 * child that finished answers its outcome at once. */
int pv_job_child_new(struct pv_job_run *parent, const char *kind, const char *target_type,
                     const char *target_id, json_t *params, char child_id[64],
                     struct pv_error *err);
int pv_job_child_run(struct pv_job_run *parent, const char *child_id, struct pv_error *err);
/* 0 when job id succeeded, PV_JOB_PENDING while queued or running, else its
 * error. */
#define PV_JOB_PENDING 1
int pv_job_outcome(const char *id, struct pv_error *err);
int pv_job_restart(const char *id, const char *actor, struct pv_error *err);

#endif
