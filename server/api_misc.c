/* api_misc.c -- health, metrics, the OpenAPI document, loaded adapters,
 * and sign-in. */
#include <stdlib.h>
#include <string.h>
#include "../db/db.h"
#include "api.h"
#include "auth.h"
#include "events.h"
#include "metrics.h"
#include "plugins.h"
#include "validate.h"

extern const char pv_openapi_json[];

void pv_api_healthz(struct pv_req *r)
{
    int v = pv_db_schema_version();
    if (v < 0) {
        struct pv_error e;
        pv_fail(&e, database_error, "the inventory database does not answer");
        pv_reply_error(r, &e);
        return;
    }
    pv_reply_json(r, 200, json_pack("{s:s,s:i}", "status", "ok", "schema_version", v));
}

void pv_api_metrics(struct pv_req *r)
{
    char *text = pv_metrics_render();
    pv_reply_text(r, 200, text ? text : strdup(""), "text/plain; version=0.0.4");
}

void pv_api_openapi(struct pv_req *r)
{
    pv_reply_text(r, 200, strdup(pv_openapi_json), "application/json");
}

void pv_api_adapters(struct pv_req *r)
{
    pv_reply_json(r, 200, json_pack("{s:o,s:n}", "items", pv_plugins_json(), "next_cursor"));
}

void pv_api_login(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"username", PV_J_STRING, PV_J_REQUIRED, 1, 128, NULL},
        {"password", PV_J_STRING, PV_J_REQUIRED, 1, 1024, NULL},
        {"session", PV_J_BOOL, 0, 0, 0, NULL},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, 3);
    const char *user;
    char *token = NULL;
    int ttl = 0;

    if (!body)
        return;
    user = json_string_value(json_object_get(body, "username"));
    if (pv_auth_login(user, json_string_value(json_object_get(body, "password")), &token, &ttl,
                      &e)) {
        pv_reply_error(r, &e);
    } else if (json_is_true(json_object_get(body, "session"))) {
        /* the browser console: the token goes into an HttpOnly cookie that
         * page scripts cannot read, and is not in the body */
        snprintf(r->set_cookie, sizeof r->set_cookie,
                 PV_SESSION_COOKIE "=%s; Path=/api; Max-Age=%d; HttpOnly; SameSite=Strict%s",
                 token, ttl, pv_http_is_tls() ? "; Secure" : "");
        pv_reply_json(r, 200, json_pack("{s:b,s:i,s:s}", "session", 1, "expires_in", ttl,
                                        "username", user));
    } else {
        pv_reply_json(r, 200, json_pack("{s:s,s:i,s:s}", "token", token, "expires_in", ttl,
                                        "username", user));
    }
    free(token);
    json_decref(body);
}

void pv_api_logout(struct pv_req *r)
{
    const char *h = pv_req_header(r, "Authorization"), *c = pv_req_cookie(r, PV_SESSION_COOKIE);

    if (h && strncmp(h, "Bearer ", 7) == 0) {
        pv_auth_logout(h + 7);
    } else if (c) {
        pv_auth_logout(c);
        snprintf(r->set_cookie, sizeof r->set_cookie,
                 PV_SESSION_COOKIE "=; Path=/api; Max-Age=0; HttpOnly; SameSite=Strict%s",
                 pv_http_is_tls() ? "; Secure" : "");
    }
    pv_reply_json(r, 204, NULL);
}

void pv_api_whoami(struct pv_req *r)
{
    pv_reply_json(r, 200, json_pack("{s:s,s:s}", "username", r->user, "role", r->role));
}

void pv_api_users_list(struct pv_req *r)
{
    pv_api_list(r, &pv_coll_users);
}

/* Users are Polyvisor's own objects: created at once, audited. */
void pv_api_user_create(struct pv_req *r)
{
    static const char *const roles[] = {"admin", "viewer", NULL};
    static const struct pv_jfield spec[] = {
        {"username", PV_J_STRING, PV_J_REQUIRED, 1, 64, NULL},
        {"password", PV_J_STRING, PV_J_REQUIRED, 8, 1024, NULL},
        {"role", PV_J_STRING, PV_J_REQUIRED, 0, 0, roles},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, 3);
    const char *name;

    if (!body)
        return;
    name = json_string_value(json_object_get(body, "username"));
    if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
        strlen(name)) {
        pv_fail(&e, invalid_value,
                     "'username' may hold letters, digits, '.', '_' and '-' only");
        pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "username"));
    } else if (pv_auth_create_user(name, json_string_value(json_object_get(body, "password")),
                                   json_string_value(json_object_get(body, "role")), &e)) {
        if (e.err == PV_ECONFLICT)
            pv_fail(&e, user_exists, "a user named '%s' exists", name);
        pv_reply_error(r, &e);
    } else {
        pv_event("user", name, "audit", r->user, "user %s created with role %s", name,
                 json_string_value(json_object_get(body, "role")));
        pv_reply_json(r, 201, json_pack("{s:s,s:s}", "username", name, "role",
                                        json_string_value(json_object_get(body, "role"))));
    }
    json_decref(body);
}

/* GET /audit/verify: walk the hash chain of the audit log. */
void pv_api_audit_verify(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *report = NULL;

    if (pv_db_audit_verify(&report, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_json(r, 200, report);
}

/* GET /summary: the dashboard's numbers, counted in the database. */
void pv_api_summary(struct pv_req *r)
{
    pv_reply_json(r, 200, pv_db_summary());
}
