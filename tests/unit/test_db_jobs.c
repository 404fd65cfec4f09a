/* test_db_jobs.c -- db/db_jobs.c against a temp database: a job is stored
 * queued with its steps in one transaction; an Idempotency-Key of the same
 * user finds the earlier job (and refuses a different request under it),
 * another user's does not; state changes stamp times and count attempts;
 * progress is kept within 0..100; a requeue keeps the steps that succeeded;
 * queued ids come oldest first; the API's view carries the steps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "db/db.h"
#include "tests/unit/tmpdb.h"

static const char *const steps[] = {"prepare", "act", "verify"};

static struct pv_db_job job(const char *id, const char *user)
{
    struct pv_db_job j;
    memset(&j, 0, sizeof j);
    snprintf(j.id, sizeof j.id, "%s", id);
    snprintf(j.kind, sizeof j.kind, "vm.start");
    snprintf(j.created_by, sizeof j.created_by, "%s", user);
    snprintf(j.target_type, sizeof j.target_type, "vm");
    snprintf(j.target_id, sizeof j.target_id, "vm-1");
    j.params = (char *)"{\"force\":true}";
    return j;
}

static void a_job_is_stored_queued_with_its_steps(void **state)
{
    struct pv_error e = {0};
    struct pv_db_job j = job("job-a", "ann"), got;
    char existing[64];
    (void)state;

    assert_int_equal(pv_db_job_insert(&j, steps, 3, NULL, NULL, existing, &e), 0);
    assert_string_equal(existing, "");
    assert_int_equal(pv_db_job_load("job-a", &got, &e), 0);
    assert_string_equal(got.state, "queued");
    assert_string_equal(got.kind, "vm.start");
    assert_string_equal(got.target_id, "vm-1");
    assert_string_equal(got.lock_key, "");
    assert_string_equal(got.params, "{\"force\":true}");
    assert_int_equal(got.nsteps, 3);
    assert_string_equal(got.step_state[2], "pending");
    assert_int_equal(got.attempts, 0);
    pv_db_job_clear(&got);
    assert_int_equal(pv_db_job_load("job-none", &got, &e), PV_ENOTFOUND);
    assert_string_equal(e.code, "job_not_found");
    /* the same id twice: refused, and the first job's steps are not doubled */
    assert_int_equal(pv_db_job_insert(&j, steps, 3, NULL, NULL, existing, &e), PV_ECONFLICT);
    assert_int_equal(pv_db_job_load("job-a", &got, &e), 0);
    assert_int_equal(got.nsteps, 3);
    pv_db_job_clear(&got);
    pv_db_job_clear(NULL);
}

static void an_idempotency_key_finds_the_earlier_job_of_its_user(void **state)
{
    struct pv_error e = {0};
    struct pv_db_job j1 = job("job-i1", "bob"), j2 = job("job-i2", "bob"), j3 = job("job-i3", "cat");
    char existing[64];
    json_t *obj;
    (void)state;

    assert_int_equal(pv_db_job_insert(&j1, steps, 1, "key-1", "hash-A", existing, &e), 0);
    assert_string_equal(existing, "");
    /* the same request again: the earlier job, nothing new */
    assert_int_equal(pv_db_job_insert(&j2, steps, 1, "key-1", "hash-A", existing, &e), 0);
    assert_string_equal(existing, "job-i1");
    assert_int_equal(pv_db_job_json("job-i2", &obj, &e), PV_ENOTFOUND);
    /* another request under the same key: refused, naming the job */
    assert_int_equal(pv_db_job_insert(&j2, steps, 1, "key-1", "hash-B", existing, &e), PV_ECONFLICT);
    assert_string_equal(e.code, "idempotency_key_reused");
    assert_non_null(strstr(e.message, "job-i1"));
    /* keys are per user */
    assert_int_equal(pv_db_job_insert(&j3, steps, 1, "key-1", "hash-B", existing, &e), 0);
    assert_string_equal(existing, "");
    assert_int_equal(pv_db_job_json("job-i3", &obj, &e), 0);
    json_decref(obj);
}

static void states_stamp_times_and_count_attempts(void **state)
{
    struct pv_error e = {0};
    struct pv_db_job j = job("job-s", "ann"), got;
    char existing[64];
    json_t *obj, *st;
    (void)state;

    assert_int_equal(pv_db_job_insert(&j, steps, 3, NULL, NULL, existing, &e), 0);
    assert_int_equal(pv_db_job_set_state("job-s", "running", 0, NULL, NULL), 0);
    assert_int_equal(pv_db_job_step("job-s", 0, "succeeded", 100, "prepared"), 0);
    assert_int_equal(pv_db_job_step("job-s", 1, "failed", 250, NULL), 0);
    assert_int_equal(pv_db_job_set_progress("job-s", 40), 0);
    assert_int_equal(pv_db_job_set_state("job-s", "failed", 140, "vm_not_found", "gone"), 0);
    assert_int_equal(pv_db_job_json("job-s", &obj, &e), 0);
    assert_string_equal(json_string_value(json_object_get(obj, "state")), "failed");
    assert_int_equal(json_integer_value(json_object_get(obj, "progress")), 100); /* clamped */
    assert_false(json_is_null(json_object_get(obj, "finished_at")));
    assert_false(json_is_null(json_object_get(obj, "started_at")));
    st = json_object_get(obj, "steps");
    assert_int_equal(json_array_size(st), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "name")), "prepare");
    assert_string_equal(json_string_value(json_object_get(json_array_get(st, 0), "detail")), "prepared");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(st, 1), "progress")), 100);
    assert_true(json_is_null(json_object_get(json_array_get(st, 2), "started_at")));
    json_decref(obj);
    /* a requeue keeps the step that succeeded and resets the rest */
    assert_int_equal(pv_db_job_request_cancel("job-s"), 0);
    assert_int_equal(pv_db_job_requeue("job-s", &e), 0);
    assert_int_equal(pv_db_job_load("job-s", &got, &e), 0);
    assert_string_equal(got.state, "queued");
    assert_int_equal(got.cancel_requested, 0);
    assert_string_equal(got.step_state[0], "succeeded");
    assert_string_equal(got.step_state[1], "pending");
    assert_int_equal(got.attempts, 1);
    pv_db_job_clear(&got);
    assert_int_equal(pv_db_job_set_state("job-s", "running", 0, NULL, NULL), 0);
    assert_int_equal(pv_db_job_load("job-s", &got, &e), 0);
    assert_int_equal(got.attempts, 2);
    pv_db_job_clear(&got);
    assert_int_equal(pv_db_job_json("job-s", &obj, &e), 0);
    assert_true(json_is_null(json_object_get(obj, "finished_at"))); /* running again */
    json_decref(obj);
}

static void queued_ids_come_oldest_first(void **state)
{
    struct pv_error e = {0};
    char existing[64], id[32];
    json_t *ids;
    (void)state;

    ids = pv_db_job_ids("queued", 100);
    for (size_t i = 0; i < json_array_size(ids); i++) /* what the tests before left */
        pv_db_job_set_state(json_string_value(json_array_get(ids, i)), "succeeded", 100, NULL, NULL);
    json_decref(ids);
    for (int i = 5; i >= 1; i--) { /* ids descend while times ascend */
        snprintf(id, sizeof id, "job-q%d", i);
        struct pv_db_job j = job(id, "ann");
        assert_int_equal(pv_db_job_insert(&j, steps, 1, NULL, NULL, existing, &e), 0);
        usleep(3 * 1000); /* created_at has milliseconds: each its own */
    }
    ids = pv_db_job_ids("queued", 3);
    assert_int_equal(json_array_size(ids), 3);
    assert_string_equal(json_string_value(json_array_get(ids, 0)), "job-q5");
    assert_string_equal(json_string_value(json_array_get(ids, 2)), "job-q3");
    json_decref(ids);
    ids = pv_db_job_ids("running", 10);
    assert_int_equal(json_array_size(ids), 1); /* job-s */
    json_decref(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_job_is_stored_queued_with_its_steps),
        cmocka_unit_test(an_idempotency_key_finds_the_earlier_job_of_its_user),
        cmocka_unit_test(states_stamp_times_and_count_attempts),
        cmocka_unit_test(queued_ids_come_oldest_first),
    };
    return cmocka_run_group_tests_name("db_jobs", tests, tmpdb_setup, tmpdb_teardown);
}
