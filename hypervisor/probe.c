/* probe.c -- the agent as a witness for polyvisord's HA (see agent.h):
 * does another host's hypervisor answer from here?
 *
 * polyvisord asks when it has lost a host: if the host's libvirt still
 * answers this host on the migration network, the host is alive and cut off
 * from polyvisord only, and its VMs must not be restarted elsewhere.  The
 * check is a TCP connection to the libvirt port of the host's migration URI
 * (bounded by timeout_ms), then a read-only libvirt connection whose host
 * UUID must be the one polyvisord knows: an address that answers as another
 * machine is not evidence that this one lives.
 *
 * Only qemu+tcp and qemu+tls URIs are probed: the agent opens nothing but a
 * libvirt connection for a caller who holds its token.
 *
 * libvirt's open has no timeout, and a port that answers TCP but not as
 * libvirt (a lying or wedged peer) would hold it forever, so the libvirt half
 * runs on a thread of its own that the caller waits for until its deadline
 * and then abandons; at most MAX_STUCK abandoned threads wait at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"

#define MAX_STUCK 4

/* One libvirt open, shared by the caller and its thread (lock guards it);
 * whoever finishes last frees it. */
struct attempt {
    char uri[512];
    char uuid[VIR_UUID_STRING_BUFLEN];
    char error[256];
    int done, abandoned, ok;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int stuck;           /* abandoned attempts still waiting on libvirt */

static void *attempt_main(void *arg)
{
    struct attempt *t = arg;
    char uuid[VIR_UUID_STRING_BUFLEN] = "", error[256] = "";
    virConnectPtr c = virConnectOpenReadOnly(t->uri);
    int ok = c != NULL;

    if (c) {
        char *caps = virConnectGetCapabilities(c);
        char *u = ag_caps_host_uuid(caps);
        snprintf(uuid, sizeof uuid, "%s", u ? u : "");
        free(u);
        free(caps);
        virConnectClose(c);
    } else {
        const char *m = virGetLastErrorMessage();
        snprintf(error, sizeof error, "%s", m ? m : "unknown error");
        virResetLastError();
    }
    pthread_mutex_lock(&lock);
    if (t->abandoned) {
        stuck--;
        pthread_mutex_unlock(&lock);
        free(t);
        return NULL;
    }
    memcpy(t->uuid, uuid, sizeof uuid);
    memcpy(t->error, error, sizeof error);
    t->ok = ok;
    t->done = 1;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Opens uri read-only and reads its host UUID, waiting timeout_ms at most:
 * 0 with uuid, or -1 with why in detail. */
static int libvirt_answers(const char *uri, int timeout_ms, char *uuid, size_t usize,
                           char *detail, size_t dsize)
{
    struct attempt *t;
    struct timespec deadline;
    pthread_attr_t attr;
    pthread_t th;
    int rc = -1;

    pthread_mutex_lock(&lock);
    if (stuck >= MAX_STUCK) {
        pthread_mutex_unlock(&lock);
        snprintf(detail, dsize, "earlier probes still wait for an answer from libvirt");
        return -1;
    }
    pthread_mutex_unlock(&lock);
    t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(detail, dsize, "out of memory");
        return -1;
    }
    snprintf(t->uri, sizeof t->uri, "%s", uri);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &attr, attempt_main, t) != 0) {
        pthread_attr_destroy(&attr);
        free(t);
        snprintf(detail, dsize, "cannot start a thread");
        return -1;
    }
    pthread_attr_destroy(&attr);
    ag_deadline(&deadline, timeout_ms);
    pthread_mutex_lock(&lock);
    while (!t->done && pthread_cond_timedwait(&cond, &lock, &deadline) == 0)
        ;
    if (!t->done) {
        t->abandoned = 1; /* the thread frees it */
        stuck++;
        pthread_mutex_unlock(&lock);
        snprintf(detail, dsize, "silent for %d ms", timeout_ms);
        return -1;
    }
    pthread_mutex_unlock(&lock);
    if (t->ok) {
        snprintf(uuid, usize, "%s", t->uuid);
        rc = 0;
    } else
        snprintf(detail, dsize, "%s", t->error);
    free(t);
    return rc;
}

/* Host and port of a qemu+tcp:// or qemu+tls:// URI (the default libvirt
 * ports when none is given). */
static int parse_uri(const char *uri, char *host, size_t hsize, char *port, size_t psize)
{
    const char *h, *end, *colon;
    int tls;

    if (strncmp(uri, "qemu+tcp://", 11) == 0)
        tls = 0;
    else if (strncmp(uri, "qemu+tls://", 11) == 0)
        tls = 1;
    else
        return -1;
    h = uri + 11;
    end = h + strcspn(h, "/?");
    if (memchr(h, '@', (size_t)(end - h)))
        h = (const char *)memchr(h, '@', (size_t)(end - h)) + 1;
    if (*h == '[') { /* [v6]:port */
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close)
            return -1;
        snprintf(host, hsize, "%.*s", (int)(close - h - 1), h + 1);
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        snprintf(host, hsize, "%.*s", (int)((colon ? colon : end) - h), h);
    }
    if (!host[0] || strlen(host) + 1 >= hsize)
        return -1;
    if (colon)
        snprintf(port, psize, "%.*s", (int)(end - colon - 1), colon + 1);
    else
        snprintf(port, psize, "%s", tls ? "16514" : "16509");
    return port[0] ? 0 : -1;
}

/* 0 when something accepts a TCP connection at host:port within timeout_ms;
 * otherwise -1 with why in detail. */
static int tcp_answers(const char *host, const char *port, int timeout_ms, char *detail,
                       size_t dsize)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    int fd, rc, soerr = 0;
    socklen_t sl = sizeof soerr;
    struct pollfd p;

    rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        snprintf(detail, dsize, "%s does not resolve: %s", host, gai_strerror(rc));
        return -1;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(detail, dsize, "socket: %s", strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    if (rc && errno == EINPROGRESS) {
        p = (struct pollfd){.fd = fd, .events = POLLOUT};
        rc = poll(&p, 1, timeout_ms);
        if (rc == 0) {
            snprintf(detail, dsize, "no answer from %s port %s within %d ms", host, port, timeout_ms);
            close(fd);
            return -1;
        }
        rc = rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) ? -1 : soerr ? -1 : 0;
        if (soerr)
            errno = soerr;
    }
    if (rc)
        snprintf(detail, dsize, "no answer from %s port %s: %s", host, port, strerror(errno));
    close(fd);
    return rc ? -1 : 0;
}

int ag_probe(const char *uri, const char *host_uuid, int timeout_ms, json_t **out,
             struct pv_error *err)
{
    char host[256], port[16], detail[768], uuid[VIR_UUID_STRING_BUFLEN] = "";
    int alive = 0;

    if (!uri || parse_uri(uri, host, sizeof host, port, sizeof port) != 0)
        return pv_fail(err, cannot_probe,
                            "a probe needs a qemu+tcp:// or qemu+tls:// URI, not '%.128s'",
                            uri ? uri : "");
    if (timeout_ms < 100 || timeout_ms > 30000)
        timeout_ms = 2000;
    if (tcp_answers(host, port, timeout_ms, detail, sizeof detail) == 0) {
        char why[256] = "";
        if (libvirt_answers(uri, timeout_ms, uuid, sizeof uuid, why, sizeof why) != 0) {
            snprintf(detail, sizeof detail, "%s port %s answers, but not as libvirt: %s", host,
                     port, why);
        } else {
            if (host_uuid && host_uuid[0] && strcmp(uuid, host_uuid) != 0)
                snprintf(detail, sizeof detail,
                         "a hypervisor answers at %s, but it is host %s, not %.64s", host,
                         uuid[0] ? uuid : "(unknown)", host_uuid);
            else {
                alive = 1;
                snprintf(detail, sizeof detail, "its hypervisor answers at %s (host %s)", host,
                         uuid[0] ? uuid : "(unknown)");
            }
        }
    }
    *out = json_pack("{s:b,s:s,s:s?}", "alive", alive, "detail", detail, "host_uuid",
                     uuid[0] ? uuid : NULL);
    return 0;
}
