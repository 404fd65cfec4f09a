/* jobs.c -- the job engine (see jobs.h for the model).
 *
 * jobs_lock guards the in-memory queue (job ids in creation order), the
 * list of running jobs with their cancel flags, and `stopping`.  The
 * database is the record; the queue is only the order of work, rebuilt from
 * the database at start-up.  A worker holds no lock while a step runs.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "db/db.h"
#include "server/core/events.h"
#include "server/jobs/jobs.h"
#include "server/core/log.h"
#include "server/core/util.h"

#define MAX_WORKERS 64
#define PUBLISH_EVERY_MS 200

struct queued {
    char id[64];
    char lock_key[128];
    int reconcile;
    struct queued *next;
};

struct running {
    char id[64];
    char lock_key[128];
    int cancel;
    const struct running *parent;  /* a child job run inline: its parent's slot */
    struct running *next;
};

struct pv_job_run {
    struct pv_db_job row;
    const struct pv_job_kind *kind;
    json_t *params;
    json_t *result;
    struct running *slot;
    int cur_step;
    int64_t last_publish_ms;
};

static pthread_mutex_t jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t jobs_cond = PTHREAD_COND_INITIALIZER;
/* guarded by jobs_lock: */
static struct queued *qhead;
static struct running *runs;
static int stopping;
static int active;
/* start-up configuration: */
static int per_key = 2;
static int nworkers;
static pthread_t workers[MAX_WORKERS];

/* ---- accessors for job kinds ------------------------------------------- */

const char *pv_job_id(const struct pv_job_run *run) { return run->row.id; }
const char *pv_job_kind_name(const struct pv_job_run *run) { return run->row.kind; }
const char *pv_job_actor(const struct pv_job_run *run) { return run->row.created_by; }
const char *pv_job_target(const struct pv_job_run *run) { return run->row.target_id; }
json_t *pv_job_params(struct pv_job_run *run) { return run->params; }
json_t *pv_job_result(struct pv_job_run *run) { return run->result; }

int pv_job_cancelled(struct pv_job_run *run)
{
    for (const struct running *s = run->slot; s; s = s->parent)
        if (__atomic_load_n(&s->cancel, __ATOMIC_RELAXED))
            return 1;
    return 0;
}

/* Sends the job as it is stored to the event stream's subscribers. */
static void publish_id(const char *id)
{
    json_t *j = NULL;
    if (pv_db_job_json(id, &j, NULL) == 0) {
        pv_publish("job", j);
        json_decref(j);
    }
}

static void publish(struct pv_job_run *run)
{
    publish_id(run->row.id);
    run->last_publish_ms = pv_now_ms();
}

static int overall(const struct pv_job_run *run, int step_pct)
{
    int done = 0;
    for (int i = 0; i < run->kind->nsteps; i++)
        if (strcmp(run->row.step_state[i], "succeeded") == 0)
            done++;
    if (run->kind->nsteps == 0)
        return 100;
    return (done * 100 + step_pct) / run->kind->nsteps;
}

void pv_job_progress(struct pv_job_run *run, int percent, const char *detail)
{
    int64_t now = pv_now_ms();

    if (percent < 0)
        percent = 0;
    if (percent > 100)
        percent = 100;
    if (now - run->last_publish_ms < PUBLISH_EVERY_MS && percent < 100)
        return;
    pv_db_job_step(run->row.id, run->cur_step, "running", percent, detail);
    pv_db_job_set_progress(run->row.id, overall(run, percent));
    publish(run);
}

/* ---- running one job ---------------------------------------------------- */

static void set_state(struct pv_job_run *run, enum pv_job_state s, const struct pv_error *e)
{
    int progress = s == PV_JOB_SUCCEEDED ? 100 : overall(run, 0);
    pv_db_job_set_state(run->row.id, pv_job_state_name(s), progress, e ? e->code : NULL,
                        e ? e->message : NULL);
    snprintf(run->row.state, sizeof run->row.state, "%s", pv_job_state_name(s));
    publish(run);
}

static void save_result(struct pv_job_run *run)
{
    char *text = json_dumps(run->result, JSON_COMPACT);
    if (text)
        pv_db_job_set_result(run->row.id, text);
    free(text);
}

void pv_job_save(struct pv_job_run *run)
{
    save_result(run);
}

static void finish(struct pv_job_run *run, enum pv_job_state s, const struct pv_error *e)
{
    save_result(run);
    set_state(run, s, e);
    if (s == PV_JOB_SUCCEEDED)
        pv_event("job", run->row.id, "info", run->row.created_by, "%s succeeded", run->row.kind);
    else if (s == PV_JOB_CANCELLED)
        pv_event("job", run->row.id, "warning", run->row.created_by, "%s cancelled",
                 run->row.kind);
    else
        pv_event("job", run->row.id, "error", run->row.created_by, "%s failed: %s", run->row.kind,
                 e ? e->message : "?");
}

static int load_run(struct pv_job_run *run, const char *id, struct pv_error *err)
{
    json_t *obj = NULL;

    if (pv_db_job_load(id, &run->row, err))
        return err->err;
    run->kind = pv_job_kind_find(run->row.kind);
    run->params = json_loads(run->row.params ? run->row.params : "{}", 0, NULL);
    if (!run->params)
        run->params = json_object();
    if (pv_db_get(&pv_coll_jobs, id, &obj, NULL) == 0 &&
        json_is_object(json_object_get(obj, "result")))
        run->result = json_incref(json_object_get(obj, "result"));
    else
        run->result = json_object();
    json_decref(obj);
    if (!run->kind)
        return pv_fail(err, unknown_job_kind,
                            "this polyvisord does not know job kind '%s'", run->row.kind);
    return 0;
}

static int is_stopping(void)
{
    return __atomic_load_n(&stopping, __ATOMIC_RELAXED);
}

static void run_job(struct queued *q, struct running *slot)
{
    struct pv_job_run run = {.slot = slot};
    struct pv_error err = {0};
    int rc;

    rc = load_run(&run, q->id, &err);
    if (rc == PV_ENOTFOUND)
        goto out; /* deleted meanwhile */
    if (strcmp(run.row.state, "queued") != 0 && strcmp(run.row.state, "running") != 0)
        goto out; /* cancelled while queued */
    if (rc) {
        finish(&run, PV_JOB_FAILED, &err);
        goto out;
    }
    if (q->reconcile && run.kind->reconcile) {
        rc = run.kind->reconcile(&run, &err);
        pv_log(PV_LOG_INFO, "jobs", "event=reconciled job=%s kind=%s outcome=%s", run.row.id,
               run.row.kind, rc == PV_RECONCILE_DONE ? "done" : rc > 0 ? "resume" : "failed");
        if (rc == PV_RECONCILE_DONE) {
            for (int i = 0; i < run.kind->nsteps; i++)
                if (strcmp(run.row.step_state[i], "succeeded") != 0)
                    pv_db_job_step(run.row.id, i, "succeeded", 100, "confirmed after restart");
            finish(&run, PV_JOB_SUCCEEDED, NULL);
            goto out;
        }
        if (rc < 0) {
            finish(&run, PV_JOB_FAILED, &err);
            goto out;
        }
    }
    set_state(&run, PV_JOB_RUNNING, NULL);
    for (int i = 0; i < run.kind->nsteps; i++) {
        if (strcmp(run.row.step_state[i], "succeeded") == 0)
            continue;
        if (pv_job_cancelled(&run)) {
            pv_db_job_step(run.row.id, i, "skipped", 0, "cancelled");
            pv_fail(&err, cancelled, "cancelled before step '%s'",
                         run.kind->steps[i]);
            finish(&run, PV_JOB_CANCELLED, &err);
            goto out;
        }
        if (is_stopping()) {
            save_result(&run);
            set_state(&run, PV_JOB_QUEUED, NULL);
            pv_log(PV_LOG_INFO, "jobs", "event=parked job=%s next_step=%d", run.row.id, i);
            goto out;
        }
        run.cur_step = i;
        pv_db_job_step(run.row.id, i, "running", 0, NULL);
        publish(&run);
        pv_error_clear(&err);
        rc = run.kind->step(&run, i, &err);
        if (rc == 0) {
            pv_db_job_step(run.row.id, i, "succeeded", 100, NULL);
            snprintf(run.row.step_state[i], sizeof run.row.step_state[i], "succeeded");
            save_result(&run);
            pv_db_job_set_progress(run.row.id, overall(&run, 0));
            continue;
        }
        if (!err.code[0])
            pv_fail(&err, job_step_failed, "step '%s' failed", run.kind->steps[i]);
        pv_db_job_step(run.row.id, i, "failed", 0, err.message);
        save_result(&run); /* what the step learnt before failing, e.g. a placement refusal */
        finish(&run, rc == PV_ECANCELLED ? PV_JOB_CANCELLED : PV_JOB_FAILED, &err);
        goto out;
    }
    finish(&run, PV_JOB_SUCCEEDED, NULL);
out:
    json_decref(run.params);
    json_decref(run.result);
    pv_db_job_clear(&run.row);
}

/* ---- the queue ---------------------------------------------------------- */

static int key_busy_locked(const char *key)
{
    int n = 0;
    if (!key[0])
        return 0;
    for (struct running *r = runs; r; r = r->next)
        if (strcmp(r->lock_key, key) == 0)
            n++;
    return n >= per_key;
}

static struct queued *take_runnable_locked(void)
{
    for (struct queued **pp = &qhead; *pp; pp = &(*pp)->next)
        if (!key_busy_locked((*pp)->lock_key)) {
            struct queued *q = *pp;
            *pp = q->next;
            return q;
        }
    return NULL;
}

/* Take job id off the queue; NULL when it is not there.  jobs_lock held. */
static struct queued *unqueue_locked(const char *id)
{
    for (struct queued **pp = &qhead; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->id, id) == 0) {
            struct queued *q = *pp;
            *pp = q->next;
            return q;
        }
    return NULL;
}

static void *worker_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&jobs_lock);
    while (!stopping) {
        struct queued *q = take_runnable_locked();
        struct running *slot;
        if (!q) {
            pthread_cond_wait(&jobs_cond, &jobs_lock);
            continue;
        }
        slot = calloc(1, sizeof *slot);
        if (!slot) { /* put it back and let another try later */
            q->next = qhead;
            qhead = q;
            break;
        }
        memcpy(slot->id, q->id, sizeof slot->id);
        memcpy(slot->lock_key, q->lock_key, sizeof slot->lock_key);
        slot->next = runs;
        runs = slot;
        active++;
        pthread_mutex_unlock(&jobs_lock);

        run_job(q, slot);

        pthread_mutex_lock(&jobs_lock);
        for (struct running **pp = &runs; *pp; pp = &(*pp)->next)
            if (*pp == slot) {
                *pp = slot->next;
                break;
            }
        active--;
        free(slot);
        free(q);
        pthread_cond_broadcast(&jobs_cond);
    }
    pthread_mutex_unlock(&jobs_lock);
    return NULL;
}

static int enqueue(const char *id, int reconcile)
{
    struct pv_db_job row;
    struct queued *q, **pp;

    if (pv_db_job_load(id, &row, NULL))
        return PV_ENOTFOUND;
    q = calloc(1, sizeof *q);
    if (!q) {
        pv_db_job_clear(&row);
        return PV_EINTERNAL;
    }
    snprintf(q->id, sizeof q->id, "%s", id);
    snprintf(q->lock_key, sizeof q->lock_key, "%s", row.lock_key);
    q->reconcile = reconcile;
    pv_db_job_clear(&row);
    pthread_mutex_lock(&jobs_lock);
    for (pp = &qhead; *pp; pp = &(*pp)->next)
        ;
    *pp = q;
    pthread_cond_broadcast(&jobs_cond);
    pthread_mutex_unlock(&jobs_lock);
    return 0;
}

/* start-up configuration: the registry main.c hands in */
static const struct pv_job_kind *const *registry;
static size_t nregistry;

const struct pv_job_kind *pv_job_kind_find(const char *name)
{
    for (size_t i = 0; i < nregistry; i++)
        if (name && strcmp(registry[i]->name, name) == 0)
            return registry[i];
    return NULL;
}

int pv_jobs_start(const struct pv_config *cfg, const struct pv_job_kind *const *kinds, size_t n,
                  struct pv_error *err)
{
    json_t *ids;
    size_t i;
    json_t *v;

    registry = kinds;
    nregistry = n;
    per_key = cfg->jobs_per_host;
    /* Jobs the last run left running are reconciled first, then the queue
     * resumes in creation order. */
    ids = pv_db_job_ids("running", 100000);
    json_array_foreach(ids, i, v) {
        pv_log(PV_LOG_INFO, "jobs", "event=reconcile job=%s", json_string_value(v));
        enqueue(json_string_value(v), 1);
    }
    json_decref(ids);
    ids = pv_db_job_ids("queued", 100000);
    json_array_foreach(ids, i, v)
        enqueue(json_string_value(v), 0);
    json_decref(ids);
    nworkers = cfg->job_workers > MAX_WORKERS ? MAX_WORKERS : cfg->job_workers;
    for (int k = 0; k < nworkers; k++)
        if (pthread_create(&workers[k], NULL, worker_main, NULL) != 0)
            return pv_fail(err, thread_failed, "cannot start job workers");
    return 0;
}

int pv_jobs_stop(int grace_s)
{
    struct timespec until;
    int left;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += grace_s;
    pthread_mutex_lock(&jobs_lock);
    __atomic_store_n(&stopping, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&jobs_cond);
    while (active > 0)
        if (pthread_cond_timedwait(&jobs_cond, &jobs_lock, &until) != 0)
            break;
    left = active;
    pthread_mutex_unlock(&jobs_lock);
    if (left == 0)
        for (int k = 0; k < nworkers; k++)
            pthread_join(workers[k], NULL);
    return left;
}

/* ---- the API's side ----------------------------------------------------- */

int pv_job_resume(struct pv_job_run *run, struct pv_error *err)
{
    (void)run;
    (void)err;
    return PV_RECONCILE_RESUME;
}

int pv_job_resume_marked(struct pv_job_run *run, struct pv_error *err)
{
    (void)err;
    json_object_set_new(run->result, "resumed", json_true());
    return PV_RECONCILE_RESUME;
}

/* Set by enqueue_committed when it ran at once: did the queue take the job? */
static __thread int queued_ok;

static void enqueue_committed(void *arg, int committed)
{
    char *id = arg;

    queued_ok = 1;
    if (committed && enqueue(id, 0)) {
        queued_ok = 0;
        pv_log(PV_LOG_WARN, "jobs", "event=not_queued job=%s", id);
    }
    free(id);
}

/* Insert a job row and, unless `inline_run`, queue it. */
static int insert_job(const char *actor, const struct pv_job_kind *k, const char *target_type,
                      const char *target_id, const char *lock_key, json_t *params,
                      const char *idem, const char *hash, int inline_run, char job_id[64],
                      struct pv_error *err)
{
    struct pv_db_job row;
    char existing[64];
    char *text = NULL;
    int rc;

    if (is_stopping())
        return pv_fail(err, shutting_down,
                            "polyvisord is shutting down; try again when it is back");
    memset(&row, 0, sizeof row);
    pv_id_new(row.id, "job");
    snprintf(row.kind, sizeof row.kind, "%s", k->name);
    snprintf(row.created_by, sizeof row.created_by, "%s", actor && actor[0] ? actor : "system");
    snprintf(row.target_type, sizeof row.target_type, "%s", target_type ? target_type : "");
    snprintf(row.target_id, sizeof row.target_id, "%s", target_id ? target_id : "");
    snprintf(row.lock_key, sizeof row.lock_key, "%s", lock_key ? lock_key : "");
    text = params ? json_dumps(params, JSON_COMPACT) : NULL;
    row.params = text;
    rc = pv_db_job_insert(&row, (const char *const *)k->steps, k->nsteps, idem, hash, existing, err);
    free(text);
    if (rc)
        return rc;
    if (existing[0]) {
        snprintf(job_id, 64, "%s", existing);
        return 0;
    }
    snprintf(job_id, 64, "%s", row.id);
    pv_event("job", row.id, "audit", row.created_by, "%s submitted for %s %s", k->name,
             target_type ? target_type : "-", target_id ? target_id : "-");
    if (inline_run)
        return 0;
    {
        /* inside a caller's transaction (a sync's batch), the job is queued
         * once its row is committed: a worker must find it */
        char *id = strdup(row.id);
        if (!id)
            return pv_fail(err, out_of_memory, "out of memory");
        if (pv_db_after_commit(enqueue_committed, id) == 0 && queued_ok == 0)
            return pv_fail(err, queue_failed, "job %s stored but not queued", row.id);
    }
    return 0;
}

int pv_job_submit_idem(const char *actor, const char *kind, const char *target_type,
                       const char *target_id, const char *lock_key, json_t *params,
                       const char *idem, const char *request_hash, char job_id[64],
                       struct pv_error *err)
{
    const struct pv_job_kind *k = pv_job_kind_find(kind);

    if (!k)
        return pv_fail(err, unknown_job_kind, "no job kind '%s'", kind);
    return insert_job(actor, k, target_type, target_id, lock_key, params, idem, request_hash, 0,
                      job_id, err);
}

int pv_job_submit_as(const char *actor, const char *kind, const char *target_type,
                     const char *target_id, const char *lock_key, json_t *params,
                     char job_id[64], struct pv_error *err)
{
    const struct pv_job_kind *k = pv_job_kind_find(kind);

    if (!k)
        return pv_fail(err, unknown_job_kind, "no job kind '%s'", kind);
    return insert_job(actor, k, target_type, target_id, lock_key, params, NULL, NULL, 0, job_id,
                      err);
}

int pv_job_child_new(struct pv_job_run *parent, const char *kind, const char *target_type,
                     const char *target_id, json_t *params, char child_id[64],
                     struct pv_error *err)
{
    const struct pv_job_kind *k = pv_job_kind_find(kind);
    json_t *p;
    int rc;

    if (!k)
        return pv_fail(err, unknown_job_kind, "no job kind '%s'", kind);
    p = json_deep_copy(params ? params : json_object());
    json_object_set_new(p, "parent_job_id", json_string(parent->row.id));
    rc = insert_job(parent->row.created_by, k, target_type, target_id, NULL, p, NULL, NULL, 1,
                    child_id, err);
    json_decref(p);
    return rc;
}

/* How long a parent polls a child that a worker runs. */
#define CHILD_POLL_US (200 * 1000)

int pv_job_child_run(struct pv_job_run *parent, const char *child_id, struct pv_error *err)
{
    struct queued q = {.reconcile = 0}, *claimed = NULL;
    struct running *slot;
    int on_worker = 0, rc;

    /* A child recorded before a restart of polyvisord was queued by
     * pv_jobs_start like any job: take it off the queue and run it here,
     * or, when a worker has it already, wait for it. */
    pthread_mutex_lock(&jobs_lock);
    claimed = unqueue_locked(child_id);
    for (struct running *s = runs; s && !claimed; s = s->next)
        if (strcmp(s->id, child_id) == 0)
            on_worker = 1;
    pthread_mutex_unlock(&jobs_lock);
    if (on_worker) {
        while ((rc = pv_job_outcome(child_id, err)) == PV_JOB_PENDING) {
            if (pv_job_cancelled(parent))
                return pv_fail(err, cancelled, "cancelled while child job %s ran", child_id);
            usleep(CHILD_POLL_US);
        }
        return rc;
    }
    rc = pv_job_outcome(child_id, err);
    if (rc != PV_JOB_PENDING) { /* it finished before a restart */
        free(claimed);
        return rc;
    }
    slot = calloc(1, sizeof *slot);
    if (!slot) {
        free(claimed);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    snprintf(slot->id, sizeof slot->id, "%s", child_id);
    slot->parent = parent->slot;
    snprintf(q.id, sizeof q.id, "%s", child_id);
    q.reconcile = claimed ? claimed->reconcile : 0;
    free(claimed);
    pthread_mutex_lock(&jobs_lock);
    slot->next = runs;
    runs = slot;
    pthread_mutex_unlock(&jobs_lock);

    run_job(&q, slot);

    pthread_mutex_lock(&jobs_lock);
    for (struct running **pp = &runs; *pp; pp = &(*pp)->next)
        if (*pp == slot) {
            *pp = slot->next;
            break;
        }
    pthread_mutex_unlock(&jobs_lock);
    free(slot);
    return pv_job_outcome(child_id, err);
}

int pv_job_run_child(struct pv_job_run *parent, const char *kind, const char *target_type,
                     const char *target_id, json_t *params, char child_id[64],
                     struct pv_error *err)
{
    int rc = pv_job_child_new(parent, kind, target_type, target_id, params, child_id, err);

    return rc ? rc : pv_job_child_run(parent, child_id, err);
}

int pv_job_outcome(const char *id, struct pv_error *err)
{
    json_t *job = NULL, *e;
    const char *state;
    int rc;

    if (pv_db_job_json(id, &job, err))
        return err ? err->err : PV_ENOTFOUND;
    state = json_string_value(json_object_get(job, "state"));
    e = json_object_get(job, "error");
    if (strcmp(state, "succeeded") == 0)
        rc = 0;
    else if (strcmp(state, "queued") == 0 || strcmp(state, "running") == 0)
        rc = PV_JOB_PENDING;
    else
        rc = pv_fail_named(err,
                           json_is_string(json_object_get(e, "code"))
                               ? json_string_value(json_object_get(e, "code"))
                               : strcmp(state, "cancelled") == 0 ? pv_code_str(cancelled)
                                                                 : pv_code_str(job_failed),
                          "%s", json_is_string(json_object_get(e, "message"))
                                    ? json_string_value(json_object_get(e, "message"))
                                    : state);
    json_decref(job);
    return rc;
}

int pv_job_cancel(const char *id, const char *actor, struct pv_error *err)
{
    struct pv_db_job row;
    struct queued *found = NULL;
    int running = 0, rc;

    pthread_mutex_lock(&jobs_lock);
    found = unqueue_locked(id);
    for (struct running *s = runs; s && !found; s = s->next)
        if (strcmp(s->id, id) == 0) {
            __atomic_store_n(&s->cancel, 1, __ATOMIC_RELAXED);
            running = 1;
        }
    pthread_mutex_unlock(&jobs_lock);
    rc = pv_db_job_load(id, &row, err);
    if (rc) {
        free(found);
        return rc;
    }
    if (found || (!running && strcmp(row.state, "queued") == 0)) {
        pv_db_job_set_state(id, "cancelled", row.progress, "cancelled", "cancelled before it ran");
        publish_id(id);
        pv_event("job", id, "audit", actor, "%s cancelled while queued", row.kind);
    } else if (running) {
        pv_db_job_request_cancel(id);
        pv_event("job", id, "audit", actor, "cancel of %s requested", row.kind);
    } else {
        rc = pv_fail(err, job_finished, "job %s is already %s", id,
                          row.state);
    }
    pv_db_job_clear(&row);
    free(found);
    return rc;
}

int pv_job_restart(const char *id, const char *actor, struct pv_error *err)
{
    struct pv_db_job row;
    int rc = pv_db_job_load(id, &row, err);
    int st;

    if (rc)
        return rc;
    st = pv_job_state_parse(row.state);
    if (st < 0 || pv_job_next_state((enum pv_job_state)st, PV_JEV_RESTART) < 0) {
        rc = pv_fail(err, job_not_restartable,
                          "job %s is %s; only failed or cancelled jobs restart", id, row.state);
        goto out;
    }
    rc = pv_db_job_requeue(id, err);
    if (rc)
        goto out;
    publish_id(id);
    pv_event("job", id, "audit", actor, "%s restarted from its last good step", row.kind);
    rc = enqueue(id, 0);
out:
    pv_db_job_clear(&row);
    return rc;
}
