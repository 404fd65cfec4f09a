/* ticker.c -- see ticker.h. */
#include <time.h>
#include "server/sched/ticker.h"

static void *ticker_main(void *arg)
{
    struct pv_ticker *t = arg;

    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        struct timespec until;
        pthread_mutex_unlock(&t->lock);
        t->tick();
        pthread_mutex_lock(&t->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        while (!t->stopping && !t->woken &&
               pthread_cond_timedwait(&t->cond, &t->lock, &until) == 0)
            ;
        t->woken = 0;
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int pv_ticker_start(struct pv_ticker *t, const char *what, struct pv_error *err)
{
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0)
        return pv_fail(err, thread_failed, "cannot start the %s", what);
    t->started = 1;
    return 0;
}

void pv_ticker_wake(struct pv_ticker *t)
{
    pthread_mutex_lock(&t->lock);
    t->woken = 1;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

void pv_ticker_stop(struct pv_ticker *t)
{
    if (!t->started)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->thread, NULL);
    t->started = 0;
}
