/* jobwait.c -- the long poll of one job (see jobwait.h).
 *
 * wait_lock guards the list of waiters and the generation counter.  A
 * waiter is one parked connection: it is resumed (and freed) by the job
 * engine's publish of its job, by the timer thread when its deadline passes,
 * or by shutdown -- whichever comes first; the resumed request's handler
 * runs again, reads the job and answers (or parks again when it was woken
 * by a change that did not finish the job).
 *
 * A change that lands between the handler's read of the job and the park
 * is not lost: the handler reads the generation before the job, and park
 * refuses when the generation has moved since (the handler reads again).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <microhttpd.h>
#include "server/http/http.h"
#include "server/http/jobwait.h"
#include "server/http/sse.h"
#include "server/core/util.h"

struct waiter {
    struct MHD_Connection *conn;
    char job_id[64];
    int64_t deadline_ms;
    struct waiter *next;
};

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wait_cond = PTHREAD_COND_INITIALIZER;
/* guarded by wait_lock: */
static struct waiter *waiters;
static unsigned long long generation;  /* job events published so far */
static int stopping;
static pthread_t timer_thread;
static int timer_started;

unsigned long long pv_jobwait_generation(void)
{
    unsigned long long g;
    pthread_mutex_lock(&wait_lock);
    g = generation;
    pthread_mutex_unlock(&wait_lock);
    return g;
}

int pv_jobwait_park(struct pv_req *r, const char *job_id, int64_t deadline_ms,
                    unsigned long long seen)
{
    struct waiter *w = calloc(1, sizeof *w);

    if (!w)
        return -1;
    w->conn = r->conn;
    snprintf(w->job_id, sizeof w->job_id, "%s", job_id);
    w->deadline_ms = deadline_ms;
    pthread_mutex_lock(&wait_lock);
    if (stopping || !timer_started || generation != seen) {
        pthread_mutex_unlock(&wait_lock);
        free(w);
        return -1;
    }
    w->next = waiters;
    waiters = w;
    MHD_suspend_connection(r->conn);
    r->suspended = 1;
    pthread_cond_signal(&wait_cond); /* the timer may need to wake sooner */
    pthread_mutex_unlock(&wait_lock);
    return 0;
}

/* Resume and free the waiters that match (job_id NULL: by deadline, or all
 * when stopping). */
static void release_locked(const char *job_id, int64_t now)
{
    struct waiter **pp = &waiters;

    while (*pp) {
        struct waiter *w = *pp;
        int go = stopping || (job_id ? strcmp(w->job_id, job_id) == 0 : w->deadline_ms <= now);
        if (go) {
            *pp = w->next;
            MHD_resume_connection(w->conn);
            free(w);
        } else {
            pp = &w->next;
        }
    }
}

void pv_jobwait_publish(const char *type, const json_t *data)
{
    pv_sse_publish(type, data);
    if (strcmp(type, "job") == 0) {
        const char *id = json_string_value(json_object_get(data, "id"));
        pthread_mutex_lock(&wait_lock);
        generation++;
        if (id)
            release_locked(id, 0);
        pthread_mutex_unlock(&wait_lock);
    }
}

static void *timer(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wait_lock);
    while (!stopping) {
        int64_t now = pv_now_ms(), next = now + 1000;
        struct timespec ts;

        release_locked(NULL, now);
        for (struct waiter *w = waiters; w; w = w->next)
            if (w->deadline_ms < next)
                next = w->deadline_ms;
        /* pv_now_ms is monotonic; the condition variable waits on the real
         * clock: wait the difference from now */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (next - now) / 1000;
        ts.tv_nsec += ((next - now) % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wait_cond, &wait_lock, &ts);
    }
    release_locked(NULL, 0);
    pthread_mutex_unlock(&wait_lock);
    return NULL;
}

int pv_jobwait_start(void)
{
    if (pthread_create(&timer_thread, NULL, timer, NULL) != 0)
        return -1;
    pthread_mutex_lock(&wait_lock);
    timer_started = 1;
    pthread_mutex_unlock(&wait_lock);
    return 0;
}

void pv_jobwait_shutdown(void)
{
    pthread_mutex_lock(&wait_lock);
    if (!timer_started) {
        pthread_mutex_unlock(&wait_lock);
        return;
    }
    stopping = 1;
    release_locked(NULL, 0);
    pthread_cond_broadcast(&wait_cond);
    pthread_mutex_unlock(&wait_lock);
    pthread_join(timer_thread, NULL);
    pthread_mutex_lock(&wait_lock);
    timer_started = 0;
    pthread_mutex_unlock(&wait_lock);
}
