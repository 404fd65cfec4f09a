/* ticker.h -- a thread that calls one function once a second until stopped,
 * and at once when woken.  The scheduler, the HA monitor and the metrics
 * sampler each own one; what a tick does is theirs, the loop is this.
 *
 * A struct pv_ticker is its owner's (a static); lock guards `stopping` and
 * `woken` and pairs with cond for the one-second wait.
 */
#ifndef PV_TICKER_H
#define PV_TICKER_H

#include <pthread.h>
#include "adapters/adapter.h"

struct pv_ticker {
    void (*tick)(void);
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopping, woken;        /* guarded by lock */
    int started;
    pthread_t thread;
};

#define PV_TICKER_INIT(fn) \
    {(fn), PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0}

/* what names the ticker in the error when its thread cannot start */
int pv_ticker_start(struct pv_ticker *t, const char *what, struct pv_error *err);
void pv_ticker_wake(struct pv_ticker *t);
/* Let the current tick finish, then join the thread; no-op if not started. */
void pv_ticker_stop(struct pv_ticker *t);

#endif
