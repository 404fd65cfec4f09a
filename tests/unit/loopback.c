/* loopback.c -- see loopback.h.  The free port is found by binding port 0
 * and letting it go; another process may take it in between, so a start
 * that fails with listen_failed is tried again on a new port. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tests/unit/loopback.h"

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

int lb_start(struct pv_httpd_opts *o, struct pv_httpd **out, struct pv_error *err)
{
    int rc = -1;

    o->host = "127.0.0.1";
    for (int i = 0; i < 20; i++) {
        o->port = free_port();
        if (o->port <= 0)
            continue;
        rc = pv_httpd_start(o, out, err);
        if (rc == 0 || !pv_error_is(err, PV_CODE_listen_failed))
            return rc;
    }
    return rc;
}

int lb_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

static const char *find_header(const char *head, const char *name, size_t *len)
{
    size_t n = strlen(name);

    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *v = line + n + 1, *end;
            while (*v == ' ')
                v++;
            end = strstr(v, "\r\n");
            *len = end ? (size_t)(end - v) : strlen(v);
            return v;
        }
    }
    return NULL;
}

const char *lb_header(const struct lb_reply *rep, const char *name, char *buf, size_t size)
{
    size_t len = 0;
    const char *v = find_header(rep->head, name, &len);

    buf[0] = '\0';
    if (!v)
        return NULL;
    snprintf(buf, size, "%.*s", (int)len, v);
    return buf;
}

int lb_read_reply(int fd, struct lb_reply *rep)
{
    size_t cap = 65536, n = 0, head_len = 0, want = (size_t)-1;
    char *all = malloc(cap + 1);

    memset(rep, 0, sizeof *rep);
    if (!all)
        return -1;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t got;
        if (head_len && n - head_len >= want)
            break;
        if (poll(&p, 1, 10000) != 1)
            break; /* a server that stops talking: whatever came */
        if (n == cap) {
            char *bigger = realloc(all, cap * 2 + 1);
            if (!bigger)
                break;
            all = bigger;
            cap *= 2;
        }
        got = recv(fd, all + n, cap - n, 0);
        if (got <= 0)
            break;
        n += (size_t)got;
        all[n] = '\0';
        if (!head_len) {
            char *end = strstr(all, "\r\n\r\n");
            if (end) {
                size_t len = 0;
                const char *cl;
                head_len = (size_t)(end - all) + 4;
                snprintf(rep->head, sizeof rep->head, "%.*s", (int)(head_len - 2), all);
                cl = find_header(rep->head, "Content-Length", &len);
                if (cl)
                    want = strtoul(cl, NULL, 10);
            }
        }
    }
    if (!head_len || sscanf(all, "HTTP/1.%*d %d", &rep->status) != 1) {
        free(all);
        return -1;
    }
    rep->body_len = n - head_len;
    rep->body = malloc(rep->body_len + 1);
    if (rep->body) {
        memcpy(rep->body, all + head_len, rep->body_len);
        rep->body[rep->body_len] = '\0';
    }
    free(all);
    return rep->body ? 0 : -1;
}

int lb_request(int port, const char *raw, struct lb_reply *rep)
{
    int fd = lb_connect(port), rc;
    size_t off = 0, len = strlen(raw);

    memset(rep, 0, sizeof *rep);
    if (fd < 0)
        return -1;
    while (off < len) {
        ssize_t s = send(fd, raw + off, len - off, MSG_NOSIGNAL);
        if (s <= 0)
            break; /* the server may answer (413) and close before all is sent */
        off += (size_t)s;
    }
    rc = lb_read_reply(fd, rep);
    close(fd);
    return rc;
}

void lb_reply_free(struct lb_reply *rep)
{
    free(rep->body);
    rep->body = NULL;
}
