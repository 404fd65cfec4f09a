/* throttle.c -- failed-login throttling (see throttle.h).
 *
 * A small table of keys ("user:NAME", "addr:ADDRESS") with their recent
 * failures, guarded by one mutex (table_lock).  After `free` failures each
 * further one doubles the wait before the next attempt, up to a maximum; a
 * success clears the key, and a key quiet for an hour starts over.  The
 * table is bounded: a key probes 8 slots and takes the stalest one, so a
 * flood of made-up names cannot grow memory (and is itself throttled by its
 * address key).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "server/http/throttle.h"

#define SLOTS 4096
#define PROBE 8
#define FORGET_S 3600

struct slot {
    char key[112];
    int failures;
    time_t last;           /* the last failure */
    time_t blocked_until;
};

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot table[SLOTS]; /* guarded by table_lock */
static int free_failures = 5, max_wait_s = 300; /* start-up configuration */

void pv_throttle_configure(int free_count, int max_wait)
{
    free_failures = free_count;
    max_wait_s = max_wait;
}

static unsigned hash(const char *k)
{
    unsigned h = 2166136261u;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 16777619u;
    return h;
}

/* The slot of key (made when make is set), or NULL.  table_lock held. */
static struct slot *find(const char *key, int make, time_t now)
{
    unsigned h = hash(key);
    struct slot *stalest = NULL;

    for (int i = 0; i < PROBE; i++) {
        struct slot *s = &table[(h + (unsigned)i) % SLOTS];
        if (s->key[0] && strcmp(s->key, key) == 0) {
            if (now - s->last > FORGET_S)
                s->failures = 0, s->blocked_until = 0;
            return s;
        }
        if (!stalest || !s->key[0] || (stalest->key[0] && s->last < stalest->last))
            stalest = s;
    }
    if (!make)
        return NULL;
    memset(stalest, 0, sizeof *stalest);
    snprintf(stalest->key, sizeof stalest->key, "%s", key);
    return stalest;
}

int pv_throttle_wait(const char *key)
{
    time_t now = time(NULL);
    struct slot *s;
    int wait = 0;

    pthread_mutex_lock(&table_lock);
    s = find(key, 0, now);
    if (s && s->blocked_until > now)
        wait = (int)(s->blocked_until - now);
    pthread_mutex_unlock(&table_lock);
    return wait;
}

int pv_throttle_fail(const char *key, int free_extra)
{
    time_t now = time(NULL);
    struct slot *s;
    int over, wait = 0;

    pthread_mutex_lock(&table_lock);
    s = find(key, 1, now);
    s->failures++;
    s->last = now;
    over = s->failures - (free_failures + free_extra);
    if (over > 0) {
        wait = over > 20 ? max_wait_s : 1 << (over - 1);
        if (wait > max_wait_s)
            wait = max_wait_s;
        s->blocked_until = now + wait;
    }
    pthread_mutex_unlock(&table_lock);
    return wait;
}

void pv_throttle_clear(const char *key)
{
    struct slot *s;

    pthread_mutex_lock(&table_lock);
    s = find(key, 0, time(NULL));
    if (s)
        memset(s, 0, sizeof *s);
    pthread_mutex_unlock(&table_lock);
}
