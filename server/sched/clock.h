/* clock.h -- the daemon's idea of "now" for schedules, plans and cool-downs.
 *
 * It is the system clock, unless polyvisord was started with
 * `--test-clock 1`: then PUT /api/v1/clock may move it (forward or back) so
 * tests can make a schedule come due, or step over a DST change, without
 * waiting.  The offset is one atomic; everything that asks for the time
 * here sees the same shifted clock.
 */
#ifndef PV_CLOCK_H
#define PV_CLOCK_H

#include <stdint.h>
#include "adapters/adapter.h"

void pv_clock_init(int test_clock_allowed);
/* Unix seconds, UTC. */
int64_t pv_clock_now(void);
/* "YYYY-MM-DDTHH:MM:SS.000Z" */
const char *pv_clock_iso(int64_t t, char buf[32]);
/* Set now to t (only with --test-clock 1; test_clock_disabled otherwise). */
int pv_clock_set(int64_t t, struct pv_error *err);
int pv_clock_is_test(void);

#endif
