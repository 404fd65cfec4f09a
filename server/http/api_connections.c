/* api_connections.c -- adding and removing the endpoints Polyvisor manages.
 *
 * POST /connections stores the endpoint with its credentials sealed
 * (secret.c) and starts a connection.sync job; the API never shows a
 * password or token again.  Which credentials a type needs is checked here,
 * so a KVM agent without a token or a vCenter without a password is a 400,
 * not a job that fails later.
 */
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/core/events.h"
#include "server/jobs/jobs.h"
#include "server/inventory/plugins.h"
#include "server/core/secret.h"
#include "server/core/util.h"
#include "server/core/validate.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

void pv_api_connections_list(struct pv_req *r) { pv_api_list(r, &pv_coll_connections); }
void pv_api_connection_get(struct pv_req *r) { pv_api_get(r, &pv_coll_connections); }

static int reply_field(struct pv_req *r, enum pv_code code, const char *field, const char *msg)
{
    struct pv_error e;
    pv_fail_code(&e, code, "%s", msg);
    pv_reply_error_details(r, &e, json_pack("{s:s}", "field", field));
    return -1;
}

/* Does url start with SCHEME:// of one of the adapter's schemes? */
static int scheme_ok(const struct pv_adapter *a, const char *url, char *list, size_t size)
{
    static const char *const web[] = {"https", "http", NULL};
    const char *const *sc = a->url_schemes ? a->url_schemes : web;
    int ok = 0;
    size_t used = 0;

    list[0] = '\0';
    for (; *sc; sc++) {
        size_t n = strlen(*sc);
        if (strncmp(url, *sc, n) == 0 && strncmp(url + n, "://", 3) == 0)
            ok = 1;
        if (used < size)
            used += (size_t)snprintf(list + used, size - used, "%s%s://", used ? " or " : "", *sc);
    }
    return ok;
}

/* The rules of the connection's type, as its adapter states them: which
 * credentials, which URL schemes. */
static int check_type(struct pv_req *r, json_t *body)
{
    const char *type = json_string_value(json_object_get(body, "type"));
    const char *url = json_string_value(json_object_get(body, "url"));
    const struct pv_adapter *a = pv_plugins_find(type); /* the enum made sure */
    char schemes[128];

    if (json_object_get(body, "ca_cert") &&
        !strstr(json_string_value(json_object_get(body, "ca_cert")), "-----BEGIN CERTIFICATE-----"))
        return reply_field(r, PV_CODE_invalid_value, "ca_cert",
                           "'ca_cert' is a PEM certificate (-----BEGIN CERTIFICATE-----)");
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            return reply_field(r, PV_CODE_invalid_value, "url",
                               "'url' must not contain spaces or control characters");
    if (!scheme_ok(a, url, schemes, sizeof schemes)) {
        char msg[256];
        snprintf(msg, sizeof msg, "a %s connection's 'url' starts with %s", type, schemes);
        return reply_field(r, PV_CODE_invalid_value, "url", msg);
    }
    {
        /* user:password@ in the authority would be shown to every viewer in
         * url, name, last_error and events (the url is kept as given) */
        const char *auth = strstr(url, "://");
        size_t n = auth ? strcspn(auth + 3, "/?#") : 0;
        if (auth && memchr(auth + 3, '@', n))
            return reply_field(r, PV_CODE_invalid_value, "url",
                               "'url' must not carry a user or password (USER:PASS@HOST): "
                               "give them as 'username' and 'password'");
    }
    if (a->credentials == PV_CRED_TOKEN && !json_object_get(body, "token"))
        return reply_field(r, PV_CODE_missing_field, "token",
                           "this connection type needs 'token' (the agent's)");
    if (a->credentials == PV_CRED_PASSWORD && !json_object_get(body, "username"))
        return reply_field(r, PV_CODE_missing_field, "username",
                           "this connection type needs 'username'");
    if (a->credentials == PV_CRED_PASSWORD && !json_object_get(body, "password"))
        return reply_field(r, PV_CODE_missing_field, "password",
                           "this connection type needs 'password'");
    return 0;
}

static int seal(json_t *body, struct pv_db_connection *c, struct pv_error *err)
{
    json_t *cred = json_object();
    char *plain;
    int rc;

    if (json_object_get(body, "password"))
        json_object_set(cred, "password", json_object_get(body, "password"));
    if (json_object_get(body, "token"))
        json_object_set(cred, "token", json_object_get(body, "token"));
    if (json_object_get(body, "ca_cert")) /* kept with the credentials: one sealed blob */
        json_object_set(cred, "ca_cert", json_object_get(body, "ca_cert"));
    if (json_object_size(cred) == 0) {
        json_decref(cred);
        return 0;
    }
    plain = json_dumps(cred, JSON_COMPACT);
    json_decref(cred);
    if (!plain)
        return pv_fail(err, out_of_memory, "out of memory");
    rc = pv_secret_seal(plain, &c->secret, &c->secret_len, err);
    pv_secret_free(plain);
    return rc;
}

void pv_api_connection_create(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"type", PV_J_STRING, PV_J_REQUIRED, 0, 0, pv_adapter_types},
        {"url", PV_J_STRING, PV_J_REQUIRED, 1, 2048, NULL},
        {"name", PV_J_STRING, 0, 1, 128, NULL},
        {"token", PV_J_STRING, 0, 1, 4096, NULL},
        {"username", PV_J_STRING, 0, 1, 256, NULL},
        {"password", PV_J_STRING, 0, 1, 1024, NULL},
        {"insecure", PV_J_BOOL, 0, 0, 0, NULL},
        {"ca_cert", PV_J_STRING, 0, 1, 65536, NULL},
    };
    struct pv_error e = {0};
    struct pv_db_connection c = {0};
    json_t *body = pv_api_body(r, spec, N(spec));
    char id[64], existing[64], job[64];

    if (!body)
        return;
    if (check_type(r, body))
        goto out;
    c.type = (char *)json_string_value(json_object_get(body, "type"));
    c.url = (char *)json_string_value(json_object_get(body, "url"));
    if (pv_db_connection_find_url(c.type, c.url, existing)) {
        pv_fail(&e, connection_exists,
                     "a %s connection to that url exists already (%s)", c.type, existing);
        pv_reply_error_details(r, &e, json_pack("{s:s}", "connection_id", existing));
        goto out;
    }
    pv_id_new(id, "conn");
    c.id = id;
    c.name = (char *)(json_object_get(body, "name") ? json_string_value(json_object_get(body, "name"))
                                                    : c.url);
    c.username = (char *)json_string_value(json_object_get(body, "username"));
    c.insecure = json_is_true(json_object_get(body, "insecure"));
    if (seal(body, &c, &e) || pv_db_connection_insert(&c, &e)) {
        pv_reply_error(r, &e);
        goto out;
    }
    pv_event("connection", id, "audit", r->user, "%s connection %s added", c.type, c.url);
    if (pv_api_submit(r, "connection.sync", "connection", id, NULL, NULL, job, &e)) {
        pv_reply_error(r, &e);
        goto out;
    }
    pv_reply_job(r, job);
out:
    free(c.secret);
    json_decref(body);
}

static void conn_job(struct pv_req *r, const char *kind)
{
    struct pv_error e = {0};
    json_t *obj;
    char job[64], lock[128];

    if (pv_db_get(&pv_coll_connections, r->params[0], &obj, &e)) {
        pv_reply_error(r, &e);
        return;
    }
    json_decref(obj);
    snprintf(lock, sizeof lock, "connection:%s", r->params[0]);
    if (pv_api_submit(r, kind, "connection", r->params[0], lock, NULL, job, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_job(r, job);
}

void pv_api_connection_delete(struct pv_req *r) { conn_job(r, "connection.delete"); }
void pv_api_connection_sync(struct pv_req *r) { conn_job(r, "connection.sync"); }
