/* stamp.c -- see stamp.h. */
#include <time.h>
#include "stamp.h"

static uint64_t last; /* the last stamp answered; atomic */

uint64_t pv_stamp_next(void)
{
    uint64_t now, cur = __atomic_load_n(&last, __ATOMIC_RELAXED);
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    now = (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
    for (;;) {
        uint64_t next = now > cur ? now : cur + 1;
        if (__atomic_compare_exchange_n(&last, &cur, next, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
            return next;
    }
}
