/* test_jobs.c -- server/jobs/jobs.c, the job engine, with kinds of the
 * test's own handed in as main.c hands in the daemon's, on a temp database:
 *
 * steps run in order and a job ends succeeded with its result saved; a step
 * that fails fails the job with its code and a restart goes on from that
 * step; jobs sharing a lock key never overlap (jobs_per_host 1) while others
 * do; a queued job cancels without running and a running one stops at its
 * next cancel check; the Idempotency-Key finds the earlier job; a job
 * submitted inside a transaction is not run before the commit; a child job
 * runs inline; jobs left running by a "previous daemon" are reconciled at
 * start (done: succeeded without running a step; resume: only the steps
 * left); stopping parks a running job as queued and refuses new ones. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "db/db.h"
#include "server/core/config.h"
#include "server/core/events.h"
#include "server/jobs/jobs.h"
#include "tests/unit/tmpdb.h"

/* ---- the test's job kinds ------------------------------------------------ */

static const char *const three[] = {"one", "two", "three"};
static const char *const single[] = {"only"};

static int calls[3];         /* t.steps: step calls by index */
static int fail_at = -1;     /* t.steps: the step that fails, -1 none */

static int steps_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    __atomic_add_fetch(&calls[idx], 1, __ATOMIC_SEQ_CST);
    if (idx == fail_at)
        return pv_fail(err, host_not_found, "step %d found no host", idx);
    json_object_set_new(pv_job_result(run), three[idx], json_integer(idx));
    pv_job_progress(run, 100, "done");
    return 0;
}

static const struct pv_job_kind k_steps = {"t.steps", three, 3, steps_step, pv_job_resume};

/* t.hold: holds its key until released (or cancelled) */
static int holding, max_holding, hold_release;
static pthread_mutex_t hold_lock = PTHREAD_MUTEX_INITIALIZER;

static int hold_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    (void)idx;
    pthread_mutex_lock(&hold_lock);
    if (++holding > max_holding)
        max_holding = holding;
    pthread_mutex_unlock(&hold_lock);
    for (int i = 0; i < 500 && !__atomic_load_n(&hold_release, __ATOMIC_SEQ_CST); i++) {
        if (pv_job_cancelled(run)) {
            pthread_mutex_lock(&hold_lock);
            holding--;
            pthread_mutex_unlock(&hold_lock);
            return pv_fail(err, cancelled, "cancelled while holding");
        }
        usleep(10 * 1000);
    }
    pthread_mutex_lock(&hold_lock);
    holding--;
    pthread_mutex_unlock(&hold_lock);
    return 0;
}

static const struct pv_job_kind k_hold = {"t.hold", single, 1, hold_step, pv_job_resume};

/* t.parent: runs a t.steps child */
static char child[64];

static int parent_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    (void)idx;
    return pv_job_run_child(run, "t.steps", "vm", "vm-c", NULL, child, err);
}

static const struct pv_job_kind k_parent = {"t.parent", single, 1, parent_step, pv_job_resume};

/* t.recon: reconcile says done or resume from params.done */
static int recon_steps;

static int recon_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    (void)run;
    (void)idx;
    (void)err;
    __atomic_add_fetch(&recon_steps, 1, __ATOMIC_SEQ_CST);
    return 0;
}

static int recon_reconcile(struct pv_job_run *run, struct pv_error *err)
{
    (void)err;
    return json_is_true(json_object_get(pv_job_params(run), "done")) ? PV_RECONCILE_DONE
                                                                    : PV_RECONCILE_RESUME;
}

static const struct pv_job_kind k_recon = {"t.recon", three, 3, recon_step, recon_reconcile};

static const struct pv_job_kind *const kinds[] = {&k_steps, &k_hold, &k_parent, &k_recon};

/* what was published live: the last state of each job seen */
static int published;

static void publisher(const char *type, const json_t *data)
{
    (void)data;
    if (strcmp(type, "job") == 0)
        __atomic_add_fetch(&published, 1, __ATOMIC_SEQ_CST);
}

/* ---- helpers ----------------------------------------------------------- */

static int wait_job(const char *id, struct pv_error *e)
{
    int rc = PV_JOB_PENDING;
    for (int i = 0; i < 1000 && rc == PV_JOB_PENDING; i++) {
        rc = pv_job_outcome(id, e);
        if (rc == PV_JOB_PENDING)
            usleep(10 * 1000);
    }
    return rc;
}

static json_t *job_json(const char *id)
{
    json_t *j = NULL;
    struct pv_error e = {0};
    assert_int_equal(pv_db_job_json(id, &j, &e), 0);
    return j;
}

static const char *step_state(json_t *job, int i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(job, "steps"), (size_t)i),
                                             "state"));
}

/* A job as a previous daemon left it: running, its first `done` steps succeeded. */
static void left_running(const char *id, int done, int done_flag)
{
    struct pv_db_job j;
    struct pv_error e = {0};
    char existing[64];

    memset(&j, 0, sizeof j);
    snprintf(j.id, sizeof j.id, "%s", id);
    snprintf(j.kind, sizeof j.kind, "t.recon");
    snprintf(j.created_by, sizeof j.created_by, "ann");
    j.params = done_flag ? (char *)"{\"done\":true}" : (char *)"{\"done\":false}";
    assert_int_equal(pv_db_job_insert(&j, three, 3, NULL, NULL, existing, &e), 0);
    assert_int_equal(pv_db_job_set_state(id, "running", 0, NULL, NULL), 0);
    for (int i = 0; i < done; i++)
        assert_int_equal(pv_db_job_step(id, i, "succeeded", 100, NULL), 0);
}

static int setup(void **state)
{
    struct pv_config cfg;
    struct pv_error e = {0};

    if (tmpdb_setup(state))
        return -1;
    left_running("job-r-done", 1, 1);
    left_running("job-r-resume", 2, 0);
    pv_events_set_publisher(publisher);
    memset(&cfg, 0, sizeof cfg);
    cfg.job_workers = 3;
    cfg.jobs_per_host = 1;
    if (pv_jobs_start(&cfg, kinds, sizeof kinds / sizeof *kinds, &e) != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    return tmpdb_teardown(state);
}

/* ---- the tests --------------------------------------------------------- */

static void jobs_left_running_are_reconciled_at_start(void **state)
{
    struct pv_error e = {0};
    json_t *j;
    (void)state;

    assert_int_equal(wait_job("job-r-done", &e), 0);
    assert_int_equal(wait_job("job-r-resume", &e), 0);
    /* done: no step ran, every step is marked as confirmed */
    j = job_json("job-r-done");
    assert_string_equal(step_state(j, 2), "succeeded");
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(j, "steps"), 1),
                                                          "detail")), "confirmed after restart");
    json_decref(j);
    /* resume: only the third step ran */
    assert_int_equal(__atomic_load_n(&recon_steps, __ATOMIC_SEQ_CST), 1);
}

static void steps_run_in_order_and_the_result_is_kept(void **state)
{
    struct pv_error e = {0};
    char id[64];
    json_t *j, *params = json_pack("{s:s}", "why", "test");
    int before = __atomic_load_n(&published, __ATOMIC_SEQ_CST);
    (void)state;

    memset(calls, 0, sizeof calls);
    fail_at = -1;
    assert_int_equal(pv_job_submit_as("ann", "t.steps", "vm", "vm-1", NULL, params, id, &e), 0);
    json_decref(params);
    assert_int_equal(wait_job(id, &e), 0);
    assert_int_equal(calls[0] + calls[1] + calls[2], 3);
    j = job_json(id);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "succeeded");
    assert_int_equal(json_integer_value(json_object_get(j, "progress")), 100);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "result"), "three")), 2);
    assert_string_equal(json_string_value(json_object_get(j, "created_by")), "ann");
    json_decref(j);
    /* every change went out live (running, each step, the end) */
    assert_true(__atomic_load_n(&published, __ATOMIC_SEQ_CST) - before >= 5);
    assert_int_equal(pv_job_submit_as("ann", "t.nothing", NULL, NULL, NULL, NULL, id, &e),
                     pv_code_row(PV_CODE_unknown_job_kind)->err);
    assert_string_equal(e.code, "unknown_job_kind");
    assert_null(pv_job_kind_find("t.nothing"));
    assert_ptr_equal(pv_job_kind_find("t.hold"), &k_hold);
}

static void a_failed_step_fails_the_job_and_a_restart_goes_on_from_it(void **state)
{
    struct pv_error e = {0};
    char id[64];
    json_t *j;
    (void)state;

    memset(calls, 0, sizeof calls);
    fail_at = 1;
    assert_int_equal(pv_job_submit_as("ann", "t.steps", "vm", "vm-1", NULL, NULL, id, &e), 0);
    assert_int_equal(wait_job(id, &e), PV_ENOTFOUND);
    assert_string_equal(e.code, "host_not_found");
    assert_string_equal(e.message, "step 1 found no host");
    j = job_json(id);
    assert_string_equal(step_state(j, 0), "succeeded");
    assert_string_equal(step_state(j, 1), "failed");
    assert_string_equal(step_state(j, 2), "pending");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "result"), "one")), 0);
    json_decref(j);
    assert_int_equal(calls[2], 0);
    /* restart: step 0 is not run again */
    fail_at = -1;
    assert_int_equal(pv_job_restart(id, "ann", &e), 0);
    assert_int_equal(wait_job(id, &e), 0);
    assert_int_equal(calls[0], 1);
    assert_int_equal(calls[1], 2);
    assert_int_equal(calls[2], 1);
    /* a succeeded job does not restart, nor is it cancelled */
    assert_int_equal(pv_job_restart(id, "ann", &e), PV_ECONFLICT);
    assert_string_equal(e.code, "job_not_restartable");
    assert_int_equal(pv_job_cancel(id, "ann", &e), PV_ECONFLICT);
    assert_string_equal(e.code, "job_finished");
    assert_int_equal(pv_job_cancel("job-none", "ann", &e), PV_ENOTFOUND);
}

static void a_lock_key_is_held_by_one_job_at_a_time(void **state)
{
    struct pv_error e = {0};
    char a[64], b[64], c[64];
    (void)state;

    max_holding = 0;
    hold_release = 0;
    assert_int_equal(pv_job_submit_as("ann", "t.hold", "host", "h1", "host:h1", NULL, a, &e), 0);
    assert_int_equal(pv_job_submit_as("ann", "t.hold", "host", "h1", "host:h1", NULL, b, &e), 0);
    assert_int_equal(pv_job_submit_as("ann", "t.hold", "host", "h2", "host:h2", NULL, c, &e), 0);
    for (int i = 0; i < 300 && max_holding < 2; i++)
        usleep(10 * 1000);
    assert_int_equal(max_holding, 2); /* h1's first and h2's: two keys at once */
    assert_int_equal(pv_job_outcome(b, &e), PV_JOB_PENDING);
    __atomic_store_n(&hold_release, 1, __ATOMIC_SEQ_CST);
    assert_int_equal(wait_job(a, &e), 0);
    assert_int_equal(wait_job(b, &e), 0);
    assert_int_equal(wait_job(c, &e), 0);
    assert_int_equal(max_holding, 2); /* h1's second never beside its first */
}

static void cancel_a_queued_job_and_a_running_one(void **state)
{
    struct pv_error e = {0};
    char a[64], b[64];
    json_t *j;
    (void)state;

    hold_release = 0;
    holding = 0;
    assert_int_equal(pv_job_submit_as("ann", "t.hold", "host", "h3", "host:h3", NULL, a, &e), 0);
    assert_int_equal(pv_job_submit_as("ann", "t.hold", "host", "h3", "host:h3", NULL, b, &e), 0);
    for (int i = 0; i < 300 && !holding; i++)
        usleep(10 * 1000);
    assert_int_equal(pv_job_cancel(b, "ann", &e), 0); /* queued behind a */
    assert_int_equal(pv_job_outcome(b, &e), PV_ECANCELLED);
    j = job_json(b);
    assert_string_equal(step_state(j, 0), "pending"); /* never ran */
    json_decref(j);
    assert_int_equal(pv_job_cancel(a, "ann", &e), 0); /* running: asked to stop */
    assert_int_equal(wait_job(a, &e), PV_ECANCELLED);
    assert_string_equal(e.code, "cancelled");
}

static void an_idempotency_key_answers_the_earlier_job(void **state)
{
    struct pv_error e = {0};
    char a[64], b[64];
    (void)state;

    fail_at = -1;
    assert_int_equal(pv_job_submit_idem("ann", "t.steps", "vm", "vm-1", NULL, NULL, "k1", "h1", a,
                                        &e), 0);
    assert_int_equal(pv_job_submit_idem("ann", "t.steps", "vm", "vm-1", NULL, NULL, "k1", "h1", b,
                                        &e), 0);
    assert_string_equal(a, b);
    assert_int_equal(pv_job_submit_idem("ann", "t.steps", "vm", "vm-1", NULL, NULL, "k1", "h2", b,
                                        &e), PV_ECONFLICT);
    assert_string_equal(e.code, "idempotency_key_reused");
    assert_int_equal(wait_job(a, &e), 0);
}

static void a_job_submitted_in_a_transaction_waits_for_the_commit(void **state)
{
    struct pv_error e = {0};
    char id[64];
    (void)state;

    memset(calls, 0, sizeof calls);
    fail_at = -1;
    assert_int_equal(pv_db_begin(&e), 0);
    assert_int_equal(pv_job_submit_as("ann", "t.steps", "vm", "vm-1", NULL, NULL, id, &e), 0);
    usleep(200 * 1000);
    assert_int_equal(calls[0], 0); /* not queued: a worker could not see its row */
    assert_int_equal(pv_db_commit(&e), 0);
    assert_int_equal(wait_job(id, &e), 0);
    assert_int_equal(calls[0], 1);
    /* rolled back: never runs, never exists */
    assert_int_equal(pv_db_begin(&e), 0);
    assert_int_equal(pv_job_submit_as("ann", "t.steps", "vm", "vm-1", NULL, NULL, id, &e), 0);
    pv_db_rollback();
    assert_int_equal(pv_job_outcome(id, &e), PV_ENOTFOUND);
}

static void a_child_job_runs_inline_under_its_parent(void **state)
{
    struct pv_error e = {0};
    char id[64];
    json_t *j;
    (void)state;

    fail_at = -1;
    assert_int_equal(pv_job_submit_as("ann", "t.parent", NULL, NULL, NULL, NULL, id, &e), 0);
    assert_int_equal(wait_job(id, &e), 0);
    j = job_json(child);
    assert_string_equal(json_string_value(json_object_get(j, "state")), "succeeded");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "params"),
                                                          "parent_job_id")), id);
    json_decref(j);
    /* a child's failure is its parent's, code and all */
    fail_at = 0;
    assert_int_equal(pv_job_submit_as("ann", "t.parent", NULL, NULL, NULL, NULL, id, &e), 0);
    assert_int_equal(wait_job(id, &e), PV_ENOTFOUND);
    assert_string_equal(e.code, "host_not_found");
    fail_at = -1;
}

static void stopping_parks_running_jobs_and_refuses_new_ones(void **state)
{
    struct pv_error e = {0};
    char a[64];
    json_t *j;
    (void)state;

    hold_release = 0;
    holding = 0;
    assert_int_equal(pv_job_submit_as("ann", "t.parent", NULL, NULL, NULL, NULL, a, &e), 0);
    assert_int_equal(wait_job(a, &e), 0);
    assert_int_equal(pv_job_submit_as("ann", "t.hold", "host", "h9", "host:h9", NULL, a, &e), 0);
    for (int i = 0; i < 300 && !holding; i++)
        usleep(10 * 1000);
    __atomic_store_n(&hold_release, 1, __ATOMIC_SEQ_CST);
    assert_int_equal(pv_jobs_stop(10), 0);
    j = job_json(a);
    /* its one step finished: succeeded (a job with steps left would be queued) */
    assert_string_equal(json_string_value(json_object_get(j, "state")), "succeeded");
    json_decref(j);
    assert_int_equal(pv_job_submit_as("ann", "t.steps", NULL, NULL, NULL, NULL, a, &e),
                     pv_code_row(PV_CODE_shutting_down)->err);
    assert_string_equal(e.code, "shutting_down");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jobs_left_running_are_reconciled_at_start),
        cmocka_unit_test(steps_run_in_order_and_the_result_is_kept),
        cmocka_unit_test(a_failed_step_fails_the_job_and_a_restart_goes_on_from_it),
        cmocka_unit_test(a_lock_key_is_held_by_one_job_at_a_time),
        cmocka_unit_test(cancel_a_queued_job_and_a_running_one),
        cmocka_unit_test(an_idempotency_key_answers_the_earlier_job),
        cmocka_unit_test(a_job_submitted_in_a_transaction_waits_for_the_commit),
        cmocka_unit_test(a_child_job_runs_inline_under_its_parent),
        cmocka_unit_test(stopping_parks_running_jobs_and_refuses_new_ones),
    };
    return cmocka_run_group_tests_name("jobs", tests, setup, teardown);
}
