/* jobs_placement.h -- the job kinds of schedules and plans (see
 * jobs_placement.c), and the check of a schedule's parameters. */
#ifndef PV_JOBS_PLACEMENT_H
#define PV_JOBS_PLACEMENT_H

#include <jansson.h>
#include "server/jobs/jobs.h"

extern const struct pv_job_kind pv_job_placement_rebalance, pv_job_placement_power,
    pv_job_placement_evacuate, pv_job_placement_deploy, pv_job_plan_execute;

/* Check params for a schedule of `kind` (deploy, rebalance, power-optimize,
 * evacuate): unknown keys, types and ranges, as the API refuses them. */
int pv_placement_params_check(const char *kind, json_t *params, struct pv_error *err);

#endif
