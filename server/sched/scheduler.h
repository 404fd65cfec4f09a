/* scheduler.h -- the thread that starts schedules' jobs when they come due.
 *
 * Once a second (and at once when woken, e.g. after the test clock moved)
 * it asks the database for enabled schedules whose next_run_at has passed
 * and starts one job for each: a schedule that missed several runs while
 * polyvisord was down runs once, and its next run is the first one after
 * now (the stated missed-run rule).  A one-shot schedule (at_time) runs once
 * and then has no next run.
 */
#ifndef PV_SCHEDULER_H
#define PV_SCHEDULER_H

#include <stdint.h>
#include "adapters/adapter.h"

int pv_scheduler_start(struct pv_error *err);
void pv_scheduler_stop(void);
void pv_scheduler_wake(void);

/* The next run strictly after `after` (Unix seconds) of a cron expression or
 * a one-shot time (exactly one of them) in time zone `zone`; *next is 0 when
 * there is none (a one-shot time already past). */
int pv_schedule_next(const char *cron, const char *at_time, const char *zone, int64_t after,
                     int64_t *next, struct pv_error *err);

/* Start a run of schedule `id` now (the scheduler, or "run now" when
 * manual); job_id receives the job.  A manual run leaves next_run_at be. */
int pv_schedule_fire(const char *id, int manual, char job_id[64], struct pv_error *err);

#endif
