/* jobs_state.c -- the job state machine: the one table of which
 * transitions exist (see jobs.h).  Pure, so it is unit-tested alone. */
#include <string.h>
#include "server/jobs/jobs.h"

static const char *const names[] = {"queued", "running", "succeeded", "failed", "cancelled"};

int pv_job_next_state(enum pv_job_state from, enum pv_job_event ev)
{
    switch (from) {
    case PV_JOB_QUEUED:
        if (ev == PV_JEV_START) return PV_JOB_RUNNING;
        if (ev == PV_JEV_CANCEL) return PV_JOB_CANCELLED;
        return -1;
    case PV_JOB_RUNNING:
        if (ev == PV_JEV_SUCCEED) return PV_JOB_SUCCEEDED;
        if (ev == PV_JEV_FAIL) return PV_JOB_FAILED;
        if (ev == PV_JEV_CANCEL) return PV_JOB_CANCELLED;
        if (ev == PV_JEV_PARK) return PV_JOB_QUEUED;
        return -1;
    case PV_JOB_FAILED:
    case PV_JOB_CANCELLED:
        return ev == PV_JEV_RESTART ? PV_JOB_QUEUED : -1;
    case PV_JOB_SUCCEEDED:
    default:
        return -1;
    }
}

const char *pv_job_state_name(enum pv_job_state s)
{
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

int pv_job_state_parse(const char *name)
{
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (name && strcmp(name, names[i]) == 0)
            return (int)i;
    return -1;
}
