/* api.c -- the CLI's calls to polyvisord, on the project's one HTTP client
 * session (lib/httpc: one reused connection, timeouts, TLS).
 *
 * Any answer outside 2xx becomes the API's own error -- its code and
 * message from {"error": {...}} -- in c->err; an answer that is not such a
 * body is bad_response with the status.  Objects named on the command line
 * (pvc_resolve) are tried as an id first, then as a name through the
 * collection's filter: ids are opaque, so nothing about the word tells one
 * from the other, and an id always wins over a VM that happens to be named
 * like another's id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

char *pvc_escape(const char *s)
{
    char *e = pv_httpc_escape(s);

    if (!e) {
        fputs("polyvisor: out of memory\n", stderr);
        exit(PVC_API);
    }
    return e;
}

void pvc_report(const struct pvc *c)
{
    fprintf(stderr, "polyvisor: %s: %s\n", c->err.code[0] ? c->err.code : "error", c->err.message);
}

int pvc_connect(struct pvc *c, int need_token)
{
    struct pv_buf auth = PV_BUF_INIT;
    const char *headers[4] = {"Accept: application/json", "Content-Type: application/json"};
    struct pv_httpc_opts o = {0};
    int rc;

    if (!c->server)
        return pvc_usage(NULL, "no server: log in first (polyvisor --server URL login ...), "
                               "or give --server or POLYVISOR_URL");
    if (need_token && !c->token) {
        pv_fail(&c->err, unauthorized, "not logged in to %s: polyvisor login --user NAME "
                "--password-stdin (or set POLYVISOR_TOKEN)", c->server);
        return PVC_API;
    }
    if (c->token) {
        pv_buf_addf(&auth, "Authorization: Bearer %s", c->token);
        headers[2] = pv_buf_str(&auth);
    }
    o.base_url = c->server;
    o.headers = headers;
    o.insecure = c->insecure;
    o.timeout_ms = 120000;
    o.retries = 2;
    o.gzip = 1;
    o.peer = "polyvisord";
    o.user_agent = "polyvisor-cli/1";
    rc = pv_httpc_new(&o, &c->http, &c->err);
    if (auth.s)
        memset(auth.s, 0, auth.len); /* the session keeps its own copy */
    pv_buf_free(&auth);
    return rc ? PVC_API : 0;
}

void pvc_api_error(struct pvc *c, long status, const struct pv_buf *raw)
{
    json_t *body = json_loadb(raw->s ? raw->s : "", raw->len, 0, NULL);
    json_t *e = json_object_get(body, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));

    if (code)
        pv_fail_named(&c->err, code, "%s", msg ? msg : "");
    else
        pv_fail(&c->err, bad_response, "HTTP %ld from %s without an error body", status, c->server);
    json_decref(body);
}

int pvc_call(struct pvc *c, const char *method, const char *path, const json_t *body,
             struct pv_buf *raw, json_t **out)
{
    struct pv_buf own = PV_BUF_INIT, *answer = raw ? raw : &own;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    long status = 0;
    int rc = 0;

    if (out)
        *out = NULL;
    if (pv_httpc_call(c->http, method, path, text, text ? strlen(text) : 0, 0, &status, answer,
                      &c->err)) {
        rc = PVC_API;
    } else if (status < 200 || status > 299) {
        pvc_api_error(c, status, answer);
        rc = PVC_API;
    } else if (out && answer->len) {
        json_error_t je;
        if (!(*out = json_loadb(answer->s, answer->len, 0, &je))) {
            pv_fail(&c->err, bad_response, "%s %s: the answer is not JSON (%s)", method, path, je.text);
            rc = PVC_API;
        }
    }
    if (text) {
        memset(text, 0, strlen(text)); /* a login body carries a password */
        free(text);
    }
    pv_buf_free(&own);
    return rc;
}

/* "name eq 'x'" with x's quotes doubled, the filter grammar's escape. */
static char *name_filter(const char *name)
{
    struct pv_buf b = PV_BUF_INIT;

    pv_buf_adds(&b, "name eq '");
    for (const char *p = name; *p; p++)
        pv_buf_adds(&b, *p == '\'' ? "''" : (char[2]){*p, '\0'});
    pv_buf_adds(&b, "'");
    return pv_buf_detach(&b);
}

int pvc_resolve(struct pvc *c, const char *coll, const char *what, const char *not_found_code,
                const char *arg, char **id)
{
    struct pv_buf path = PV_BUF_INIT;
    char *esc = pvc_escape(arg), *filter = NULL, *fesc = NULL;
    json_t *obj = NULL, *items;
    int rc;
    size_t n;

    *id = NULL;
    pv_buf_addf(&path, "/api/v1/%s/%s", coll, esc);
    rc = pvc_call(c, "GET", pv_buf_str(&path), NULL, NULL, &obj);
    if (rc == 0 && json_string_value(json_object_get(obj, "id"))) {
        *id = strdup(json_string_value(json_object_get(obj, "id")));
        goto out;
    }
    if (rc && c->err.err != PV_ENOTFOUND && c->err.err != PV_EINVAL)
        goto out;
    /* not an id: a name */
    json_decref(obj);
    obj = NULL;
    filter = name_filter(arg);
    fesc = pvc_escape(filter);
    pv_buf_reset(&path);
    pv_buf_addf(&path, "/api/v1/%s?limit=1000&filter=%s", coll, fesc);
    if ((rc = pvc_call(c, "GET", pv_buf_str(&path), NULL, NULL, &obj)))
        goto out;
    items = json_object_get(obj, "items");
    n = json_array_size(items);
    if (n == 0) {
        pv_fail_named(&c->err, not_found_code, "no %s with the id or name '%s'", what, arg);
        rc = PVC_API;
    } else if (n == 1) {
        *id = strdup(json_string_value(json_object_get(json_array_get(items, 0), "id")));
    } else {
        size_t i;
        json_t *it;
        fprintf(stderr, "polyvisor: %zu %ss are named '%s'; name one by its id:\n", n, what, arg);
        json_array_foreach(items, i, it) {
            const char *where = json_string_value(json_object_get(it, "host_id"));
            if (!where)
                where = json_string_value(json_object_get(it, "connection_id"));
            fprintf(stderr, "  %s%s%s\n", json_string_value(json_object_get(it, "id")),
                    where ? "  on " : "", where ? where : "");
        }
        rc = PVC_USAGE;
    }
out:
    json_decref(obj);
    pv_buf_free(&path);
    free(esc);
    free(filter);
    free(fesc);
    return rc;
}
