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
#include "server/inventory/conns.h"
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

/* A given ca_cert must at least look like PEM: 400 on 'ca_cert' if not. */
static int check_ca(struct pv_req *r, json_t *body)
{
    const char *pem = json_string_value(json_object_get(body, "ca_cert"));

    if (pem && !strstr(pem, "-----BEGIN CERTIFICATE-----"))
        return reply_field(r, PV_CODE_invalid_value, "ca_cert",
                           "'ca_cert' is a PEM certificate (-----BEGIN CERTIFICATE-----)");
    return 0;
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

    if (check_ca(r, body))
        return -1;
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

/* Seal the credentials of body over those of base (NULL: none yet): one
 * sealed blob of password, token and ca_cert, so a PATCH that gives only a
 * new password keeps the CA certificate. */
static int seal(json_t *body, json_t *base, struct pv_db_connection *c, struct pv_error *err)
{
    static const char *const keys[] = {"password", "token", "ca_cert"};
    json_t *cred = base ? base : json_object();
    char *plain;
    int rc;

    for (size_t i = 0; i < N(keys); i++)
        if (json_object_get(body, keys[i]))
            json_object_set(cred, keys[i], json_object_get(body, keys[i]));
    c->secret = NULL;
    c->secret_len = 0;
    if (json_object_size(cred) == 0) {
        if (!base)
            json_decref(cred);
        return 0;
    }
    plain = json_dumps(cred, JSON_COMPACT);
    if (!base)
        json_decref(cred);
    if (!plain)
        return pv_fail(err, out_of_memory, "out of memory");
    rc = pv_secret_seal(plain, &c->secret, &c->secret_len, err);
    pv_secret_free(plain);
    return rc;
}

/* What a create sets and a PATCH may change: the name, the credentials and
 * the TLS settings (one list for both, so their limits cannot drift). */
#define CONNECTION_SETTINGS                                   \
    {"name", PV_J_STRING, 0, 1, 128, NULL},                   \
    {"token", PV_J_STRING, 0, 1, 4096, NULL},                 \
    {"username", PV_J_STRING, 0, 1, 256, NULL},               \
    {"password", PV_J_STRING, 0, 1, 1024, NULL},              \
    {"insecure", PV_J_BOOL, 0, 0, 0, NULL},                   \
    {"ca_cert", PV_J_STRING, 0, 1, 65536, NULL}

void pv_api_connection_create(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"type", PV_J_STRING, PV_J_REQUIRED, 0, 0, pv_adapter_types},
        {"url", PV_J_STRING, PV_J_REQUIRED, 1, 2048, NULL},
        CONNECTION_SETTINGS,
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
    if (seal(body, NULL, &c, &e) || pv_db_connection_insert(&c, &e)) {
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

/* The credentials stored for row, opened (an empty object when none); the
 * strings are wiped by wipe_cred. */
static json_t *open_cred(const struct pv_db_connection *row, struct pv_error *err)
{
    char *plain = NULL;
    json_t *cred;

    if (!row->secret)
        return json_object();
    if (pv_secret_open(row->secret, row->secret_len, &plain, err))
        return NULL;
    cred = json_loads(plain, 0, NULL);
    pv_secret_free(plain);
    if (!json_is_object(cred)) {
        json_decref(cred);
        pv_fail(err, secret_unreadable, "the stored credentials cannot be read");
        return NULL;
    }
    return cred;
}

static void wipe_cred(json_t *cred)
{
    json_t *v;
    const char *k;

    json_object_foreach(cred, k, v)
        if (json_is_string(v))
            json_string_set(v, "");
    json_decref(cred);
}

/* PATCH /connections/{id}: new credentials or settings that leave the
 * connection the same endpoint.  type and url say which endpoint it is (and
 * what its inventory belongs to), so they are refused rather than changed.
 * The live handles with the old credentials are closed and a sync checks
 * the new ones; a wrong password leaves the connection auth_failed with its
 * inventory, as any failed sync does. */
void pv_api_connection_patch(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"type", PV_J_STRING, 0, 0, 0, NULL},
        {"url", PV_J_STRING, 0, 0, 0, NULL},
        CONNECTION_SETTINGS,
    };
    static const char *const fixed[] = {"type", "url"};
    struct pv_error e = {0};
    struct pv_db_connection *row = NULL, c = {0};
    const struct pv_adapter *a;
    json_t *body = pv_api_body(r, spec, N(spec)), *cred = NULL, *v;
    const char *k;
    char job[64], lock[128], changed[256] = "";
    size_t used = 0;

    if (!body)
        return;
    for (size_t i = 0; i < N(fixed); i++)
        if (json_object_get(body, fixed[i])) {
            char msg[160];
            snprintf(msg, sizeof msg, "a connection's '%s' cannot change: delete the connection "
                                      "and add one", fixed[i]);
            reply_field(r, PV_CODE_field_not_changeable, fixed[i], msg);
            goto out;
        }
    if (json_object_size(body) == 0) {
        reply_field(r, PV_CODE_missing_field, "password",
                    "nothing to change: give name, username, password, token, insecure or ca_cert");
        goto out;
    }
    if (pv_db_connection_load(r->params[0], &row, &e)) {
        pv_reply_error(r, &e);
        goto out;
    }
    a = pv_plugins_find(row->type);
    if (a && a->credentials == PV_CRED_PASSWORD && json_object_get(body, "token")) {
        reply_field(r, PV_CODE_invalid_value, "token", "this connection type takes no 'token'");
        goto out;
    }
    if (a && a->credentials == PV_CRED_TOKEN &&
        (json_object_get(body, "password") || json_object_get(body, "username"))) {
        reply_field(r, PV_CODE_invalid_value,
                    json_object_get(body, "password") ? "password" : "username",
                    "this connection type takes a 'token', not a username or password");
        goto out;
    }
    if (check_ca(r, body))
        goto out;
    if (!(cred = open_cred(row, &e)) || seal(body, cred, &c, &e)) {
        pv_reply_error(r, &e);
        goto out;
    }
    c.id = row->id;
    c.name = json_object_get(body, "name") ? (char *)json_string_value(json_object_get(body, "name"))
                                           : row->name;
    c.username = json_object_get(body, "username")
                     ? (char *)json_string_value(json_object_get(body, "username"))
                     : row->username;
    c.insecure = json_object_get(body, "insecure") ? json_is_true(json_object_get(body, "insecure"))
                                                   : row->insecure;
    if (pv_db_connection_update(&c, &e)) {
        pv_reply_error(r, &e);
        goto out;
    }
    /* handles opened with the old credentials go; the sync opens new ones */
    pv_conns_forget(row->id);
    json_object_foreach(body, k, v)
        if (used < sizeof changed)
            used += (size_t)snprintf(changed + used, sizeof changed - used, "%s%s",
                                     used ? ", " : "", k);
    /* the names of what changed, never the values */
    pv_event("connection", row->id, "audit", r->user, "connection %s changed: %s", row->url,
             changed);
    snprintf(lock, sizeof lock, "connection:%s", row->id);
    if (pv_api_submit(r, "connection.sync", "connection", row->id, lock, NULL, job, &e)) {
        pv_reply_error(r, &e);
        goto out;
    }
    pv_reply_job(r, job);
out:
    if (cred)
        wipe_cred(cred);
    free(c.secret);
    pv_db_connection_free(row);
    json_decref(body);
}
