/* router.h -- maps METHOD + path to a handler.  Patterns are literal
 * segments and `{name}` captures, e.g. "/api/v1/vms/{id}/{action}"; a literal
 * segment wins over a capture.  A path that matches some pattern under
 * another method is a 405 (with the Allow list), otherwise a 404, so clients
 * can tell a wrong method from a wrong URL.
 *
 * Shared by polyvisord (server/http/routes.c) and the agent
 * (hypervisor/agent_http.c).  struct pv_req is each program's own request
 * type: the router only hands it on to the handler. */
#ifndef PV_ROUTER_H
#define PV_ROUTER_H

#include <stddef.h>

struct pv_req;
typedef void (*pv_handler)(struct pv_req *r);

#define PV_ROUTE_PUBLIC 0x1u  /* no token needed */
#define PV_ROUTE_ADMIN  0x2u  /* changes something: admin role only */

struct pv_route {
    const char *method;
    const char *pattern;
    pv_handler handler;
    unsigned flags;
};

#define PV_ROUTE_MAX_PARAMS 4

enum pv_match { PV_MATCH_OK = 0, PV_MATCH_NO_PATH, PV_MATCH_NO_METHOD };

struct pv_route_match {
    const struct pv_route *route;
    const char *params[PV_ROUTE_MAX_PARAMS];   /* point into buf */
    size_t nparams;
    char buf[512];
    char allow[96];                            /* "GET, POST" on NO_METHOD */
};

enum pv_match pv_router_match(const struct pv_route *routes, size_t n, const char *method,
                              const char *path, struct pv_route_match *m);

#endif
