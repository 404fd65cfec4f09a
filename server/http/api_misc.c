/* api_misc.c -- health, metrics, the OpenAPI document, loaded adapters,
 * and sign-in. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/http/auth.h"
#include "server/core/events.h"
#include "server/core/log.h"
#include "server/http/metrics.h"
#include "server/inventory/plugins.h"
#include "server/http/sse.h"
#include "server/http/throttle.h"
#include "server/core/validate.h"

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

/* An address is shared (NAT, a proxy, several operators): it gets this many
 * more free failures than one user does. */
#define ADDRESS_FREE_EXTRA 15

void pv_api_login(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"username", PV_J_STRING, PV_J_REQUIRED, 1, 128, NULL},
        {"password", PV_J_STRING, PV_J_REQUIRED, 1, 1024, NULL},
        {"session", PV_J_BOOL, 0, 0, 0, NULL},
    };
    struct pv_error e = {0};
    const char *ct = pv_req_header(r, "Content-Type");
    char addr[64], ukey[160], akey[80];
    int wait;
    json_t *body;
    const char *user;
    char *token = NULL;
    int ttl = 0;

    /* A form post from another site cannot send application/json without
     * a CORS preflight, which is never granted: no login CSRF. */
    if (!ct || strncasecmp(ct, "application/json", 16) != 0 || (ct[16] && ct[16] != ';' && ct[16] != ' ')) {
        pv_fail(&e, unsupported_media_type, "a login is a JSON body: Content-Type: application/json");
        pv_reply_error(r, &e);
        return;
    }
    body = pv_api_body(r, spec, 3);
    if (!body)
        return;
    user = json_string_value(json_object_get(body, "username"));
    pv_req_client(r, addr, sizeof addr);
    snprintf(ukey, sizeof ukey, "user:%s", user);
    snprintf(akey, sizeof akey, "addr:%s", addr);
    wait = pv_throttle_wait(ukey);
    if (pv_throttle_wait(akey) > wait)
        wait = pv_throttle_wait(akey);
    if (wait > 0) {
        pv_log(PV_LOG_INFO, "auth", "event=login_throttled user=\"%.64s\" client=%s retry_after=%d",
               user, addr, wait);
        pv_fail(&e, too_many_attempts, "too many failed sign-ins: try again in %d s", wait);
        r->retry_after = wait;
        pv_reply_error(r, &e);
    } else if (pv_auth_login(user, json_string_value(json_object_get(body, "password")), &token,
                             &ttl, &e)) {
        if (pv_error_is(&e, PV_CODE_invalid_credentials)) {
            int w = pv_throttle_fail(ukey, 0), wa = pv_throttle_fail(akey, ADDRESS_FREE_EXTRA);
            pv_event("user", user, "audit", user, "sign-in of %.64s from %s failed: wrong username "
                     "or password%s", user, addr, w || wa ? "; further attempts wait" : "");
        }
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
    if (token) {
        pv_throttle_clear(ukey);
        pv_event("user", user, "audit", user, "%.64s signed in from %s", user, addr);
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
    pv_sse_wake(); /* a stream of that token ends now, not at its next event */
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
        {"password", PV_J_STRING, PV_J_REQUIRED, PV_PASSWORD_MIN, PV_PASSWORD_MAX, NULL},
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
