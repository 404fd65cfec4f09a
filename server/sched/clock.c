/* clock.c -- see clock.h. */
#include <time.h>
#include "server/sched/clock.h"
#include "server/sched/cron.h"

static int test_allowed;      /* start-up configuration */
static int64_t offset_s;      /* atomic: seconds added to the system clock */

void pv_clock_init(int test_clock_allowed)
{
    test_allowed = test_clock_allowed;
}

int64_t pv_clock_now(void)
{
    return (int64_t)time(NULL) + __atomic_load_n(&offset_s, __ATOMIC_RELAXED);
}

const char *pv_clock_iso(int64_t t, char buf[32])
{
    if (pv_when_format(t, buf, 32) != 0)
        buf[0] = '\0';
    return buf;
}

int pv_clock_set(int64_t t, struct pv_error *err)
{
    if (!test_allowed)
        return pv_fail(err, test_clock_disabled,
                            "the clock can be set only when polyvisord runs with --test-clock 1");
    __atomic_store_n(&offset_s, t - (int64_t)time(NULL), __ATOMIC_RELAXED);
    return 0;
}

int pv_clock_is_test(void)
{
    return test_allowed;
}
