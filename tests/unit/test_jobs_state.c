/* test_jobs_state.c -- the job state machine: every allowed transition and
 * every refused one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include "server/jobs/jobs.h"

static void allowed(void **state)
{
    (void)state;
    assert_int_equal(pv_job_next_state(PV_JOB_QUEUED, PV_JEV_START), PV_JOB_RUNNING);
    assert_int_equal(pv_job_next_state(PV_JOB_QUEUED, PV_JEV_CANCEL), PV_JOB_CANCELLED);
    assert_int_equal(pv_job_next_state(PV_JOB_RUNNING, PV_JEV_SUCCEED), PV_JOB_SUCCEEDED);
    assert_int_equal(pv_job_next_state(PV_JOB_RUNNING, PV_JEV_FAIL), PV_JOB_FAILED);
    assert_int_equal(pv_job_next_state(PV_JOB_RUNNING, PV_JEV_CANCEL), PV_JOB_CANCELLED);
    assert_int_equal(pv_job_next_state(PV_JOB_RUNNING, PV_JEV_PARK), PV_JOB_QUEUED);
    assert_int_equal(pv_job_next_state(PV_JOB_FAILED, PV_JEV_RESTART), PV_JOB_QUEUED);
    assert_int_equal(pv_job_next_state(PV_JOB_CANCELLED, PV_JEV_RESTART), PV_JOB_QUEUED);
}

static void refused(void **state)
{
    int n = 0;
    (void)state;
    /* Of the 5 x 6 pairs exactly the 8 above exist. */
    for (int s = PV_JOB_QUEUED; s <= PV_JOB_CANCELLED; s++)
        for (int e = PV_JEV_START; e <= PV_JEV_PARK; e++)
            if (pv_job_next_state(s, e) >= 0)
                n++;
    assert_int_equal(n, 8);
    assert_int_equal(pv_job_next_state(PV_JOB_SUCCEEDED, PV_JEV_RESTART), -1);
    assert_int_equal(pv_job_next_state(PV_JOB_SUCCEEDED, PV_JEV_CANCEL), -1);
    assert_int_equal(pv_job_next_state(PV_JOB_QUEUED, PV_JEV_SUCCEED), -1);
    assert_int_equal(pv_job_next_state(PV_JOB_FAILED, PV_JEV_START), -1);
}

static void names_round_trip(void **state)
{
    (void)state;
    for (int s = PV_JOB_QUEUED; s <= PV_JOB_CANCELLED; s++)
        assert_int_equal(pv_job_state_parse(pv_job_state_name(s)), s);
    assert_int_equal(pv_job_state_parse("done"), -1);
    assert_int_equal(pv_job_state_parse(NULL), -1);
    assert_string_equal(pv_job_state_name(99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(allowed),
        cmocka_unit_test(refused),
        cmocka_unit_test(names_round_trip),
    };
    return cmocka_run_group_tests_name("jobs_state", tests, NULL, NULL);
}
