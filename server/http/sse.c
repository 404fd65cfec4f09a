/* sse.c -- the event bus and its SSE streams (see sse.h).
 *
 * bus_lock guards the ring, the list of streams and each stream's fields.
 * A heartbeat thread resumes every stream every few seconds so an idle one
 * sends a comment line (keeping proxies from timing it out) and a closed one
 * is noticed when that write fails.
 *
 * Ids are one sequence that outlives the daemon: a block of them is reserved
 * in the database at start (and another by the heartbeat thread when this
 * one runs low), so a client that comes back after a restart with its old
 * Last-Event-ID is never mistaken for one that is up to date.  A client
 * whose id is older than what the ring still holds (events from before the
 * restart, or more than RING behind) is sent one "resync" event first: it
 * must read the state afresh, as it missed something.
 *
 * A stream outlives the request that opened it, so it re-checks its token:
 * whenever a token was revoked here (logout wakes every stream) and every
 * few seconds (expiry, or a revocation on another daemon).  A token that no
 * longer stands ends the stream before anything more is sent.
 */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "db/db.h"
#include "lib/httpd.h"
#include "server/http/auth.h"
#include "server/http/http.h"
#include "server/core/log.h"
#include "server/http/sse.h"

#define RING 4096
#define HEARTBEAT_S 15
#define RECHECK_S 5
#define ID_BLOCK (1ULL << 20)

struct stream {
    struct MHD_Connection *conn;
    unsigned long long next_seq;   /* first message not yet sent */
    time_t last_write;
    int suspended;
    /* owned by the connection's reader (one thread at a time), no lock: */
    char token_hash[65];
    unsigned revocations;          /* pv_auth_revocations() at the last check */
    time_t recheck_at;
    int resync;                    /* owes the client a resync event; guarded by bus_lock */
    struct stream *next;
};

static pthread_mutex_t bus_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bus_cond = PTHREAD_COND_INITIALIZER;
/* guarded by bus_lock: */
static char *ring[RING];
static unsigned long long last_seq;        /* seq of the newest message */
static unsigned long long first_seq;       /* the first id this daemon gave: older are lost */
static unsigned long long reserved;        /* ids up to this are reserved in the database */
static struct stream *streams;
static int nstreams;
static int stopping;
static pthread_t heartbeat_thread;
static int heartbeat_started;

static void resume_all_locked(void)
{
    for (struct stream *s = streams; s; s = s->next)
        if (s->suspended) {
            s->suspended = 0;
            MHD_resume_connection(s->conn);
        }
}

void pv_sse_publish(const char *type, const json_t *data)
{
    char *json = json_dumps(data, JSON_COMPACT);
    char *msg;
    size_t len;

    if (!json)
        return;
    len = strlen(json) + strlen(type) + 64;
    msg = malloc(len);
    if (msg) {
        pthread_mutex_lock(&bus_lock);
        snprintf(msg, len, "id: %llu\nevent: %s\ndata: %s\n\n", last_seq + 1, type, json);
        last_seq++;
        free(ring[last_seq % RING]);
        ring[last_seq % RING] = msg;
        resume_all_locked();
        pthread_mutex_unlock(&bus_lock);
    }
    free(json);
}

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    size_t used = 0;
    (void)pos;

    if (pv_auth_revocations() != s->revocations || time(NULL) >= s->recheck_at) {
        s->revocations = pv_auth_revocations();
        s->recheck_at = time(NULL) + RECHECK_S;
        if (!pv_auth_token_valid(s->token_hash))
            return MHD_CONTENT_READER_END_OF_STREAM;
    }
    pthread_mutex_lock(&bus_lock);
    if (stopping) {
        pthread_mutex_unlock(&bus_lock);
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    if (last_seq >= RING && s->next_seq <= last_seq - RING) {
        s->next_seq = last_seq - RING + 1; /* too far behind: the ring moved on */
        s->resync = 1;
    }
    if (s->resync) {
        int n = snprintf(buf, max, "id: %llu\nevent: resync\ndata: {\"reason\":\"events were "
                         "missed: read the state afresh\"}\n\n", s->next_seq - 1);
        if (n > 0 && (size_t)n < max) {
            used = (size_t)n;
            s->resync = 0;
        }
    }
    while (s->next_seq <= last_seq) {
        const char *m = ring[s->next_seq % RING];
        size_t n;
        if (!m) { /* never published (seq 0); the invariant says unreachable */
            s->next_seq++;
            continue;
        }
        n = strlen(m);
        if (n > max - used) {
            if (used == 0 && n > max)
                s->next_seq++; /* can never fit; drop it */
            break;
        }
        memcpy(buf + used, m, n); /* NOLINT(bugprone-not-null-terminated-result): a byte stream, not a string */
        used += n;
        s->next_seq++;
    }
    if (used == 0 && time(NULL) - s->last_write >= HEARTBEAT_S) {
        static const char ka[] = ": keep-alive\n\n";
        memcpy(buf, ka, sizeof ka - 1); /* NOLINT(bugprone-not-null-terminated-result): a byte stream */
        used = sizeof ka - 1;
    }
    if (used) {
        s->last_write = time(NULL);
    } else {
        s->suspended = 1;
        MHD_suspend_connection(s->conn);
    }
    pthread_mutex_unlock(&bus_lock);
    return (ssize_t)used;
}

/* Last-Event-ID as a client sent it: a decimal id that fits in 64 bits,
 * nothing else ("-1" and 2^64-1 once wrapped next_seq to 0, an empty
 * slot).  Anything else is ignored: the stream starts at the newest. */
static int parse_event_id(const char *s, unsigned long long *out)
{
    unsigned long long v = 0;

    if (!s || !*s || strlen(s) > 20)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        if (v > (ULLONG_MAX - (unsigned)(*s - '0')) / 10)
            return -1;
        v = v * 10 + (unsigned)(*s - '0');
    }
    *out = v;
    return 0;
}

static void free_stream(void *cls)
{
    struct stream *s = cls, **pp;

    pthread_mutex_lock(&bus_lock);
    for (pp = &streams; *pp; pp = &(*pp)->next)
        if (*pp == s) {
            *pp = s->next;
            nstreams--;
            break;
        }
    pthread_mutex_unlock(&bus_lock);
    free(s);
}

void pv_sse_attach(struct pv_req *r)
{
    struct stream *s = calloc(1, sizeof *s);
    unsigned long long last_id = 0;
    int resume = parse_event_id(pv_req_header(r, "Last-Event-ID"), &last_id) == 0;

    if (!s) {
        struct pv_error e;
        pv_fail(&e, out_of_memory, "out of memory");
        pv_reply_error(r, &e);
        return;
    }
    s->conn = r->conn;
    s->last_write = time(NULL);
    memcpy(s->token_hash, r->token_hash, sizeof s->token_hash);
    s->revocations = pv_auth_revocations();
    s->recheck_at = time(NULL) + RECHECK_S;
    pthread_mutex_lock(&bus_lock);
    /* A resumed stream starts after the id it names; one from the future
     * (no daemon gave it) starts at the newest; one from before this
     * daemon's first id missed what happened meanwhile: resync. */
    s->next_seq = resume && last_id < last_seq ? last_id + 1 : last_seq + 1;
    if (resume && last_id < first_seq) {
        s->resync = 1;
        s->next_seq = first_seq; /* the ring holds nothing older */
    }
    s->next = streams;
    streams = s;
    nstreams++;
    pthread_mutex_unlock(&bus_lock);
    r->stream = s;
}

enum MHD_Result pv_sse_queue(struct MHD_Connection *conn, void *stream)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, (size_t)65536, reader, stream, free_stream);
    static const struct pv_httpd_header headers[] = {{"Content-Type", "text/event-stream"},
                                                     {"Cache-Control", "no-store"},
                                                     {"X-Accel-Buffering", "no"},
                                                     {NULL, NULL}};

    if (!resp) {
        free_stream(stream);
        return MHD_NO;
    }
    return pv_httpd_queue(conn, MHD_HTTP_OK, resp, headers);
}

/* More ids when half the block is gone; on this thread, which holds no
 * transaction (a publisher may be inside one). */
static void reserve_more(void)
{
    unsigned long long seq;
    uint64_t upto = 0;

    pthread_mutex_lock(&bus_lock);
    seq = last_seq;
    pthread_mutex_unlock(&bus_lock);
    if (seq + ID_BLOCK / 2 < reserved || pv_db_stream_reserve(ID_BLOCK, &upto, NULL) != 0)
        return;
    pthread_mutex_lock(&bus_lock);
    reserved = upto;
    if (last_seq < upto - ID_BLOCK) /* a block of another daemon came between */
        last_seq = upto - ID_BLOCK;
    pthread_mutex_unlock(&bus_lock);
}

static void *heartbeat(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&bus_lock);
    while (!stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 5;
        pthread_cond_timedwait(&bus_cond, &bus_lock, &ts);
        resume_all_locked();
        pthread_mutex_unlock(&bus_lock);
        reserve_more();
        pthread_mutex_lock(&bus_lock);
    }
    pthread_mutex_unlock(&bus_lock);
    return NULL;
}

int pv_sse_start(void)
{
    uint64_t upto = 0;

    if (pv_db_stream_reserve(ID_BLOCK, &upto, NULL) != 0)
        return PV_EINTERNAL;
    reserved = upto;
    last_seq = upto - ID_BLOCK;   /* the first message is id upto - ID_BLOCK + 1 */
    first_seq = last_seq + 1;
    if (pthread_create(&heartbeat_thread, NULL, heartbeat, NULL) != 0)
        return PV_EINTERNAL;
    heartbeat_started = 1;
    return 0;
}

void pv_sse_shutdown(void)
{
    pthread_mutex_lock(&bus_lock);
    stopping = 1;
    resume_all_locked();
    pthread_cond_broadcast(&bus_cond);
    pthread_mutex_unlock(&bus_lock);
    if (heartbeat_started) {
        pthread_join(heartbeat_thread, NULL);
        heartbeat_started = 0;
    }
}

void pv_sse_wake(void)
{
    pthread_mutex_lock(&bus_lock);
    resume_all_locked();
    pthread_mutex_unlock(&bus_lock);
}

int pv_sse_clients(void)
{
    int n;
    pthread_mutex_lock(&bus_lock);
    n = nstreams;
    pthread_mutex_unlock(&bus_lock);
    return n;
}
