/* api_users.c -- changing and removing users, and a user changing its own
 * password.  Users are Polyvisor's own objects, so these answer at once
 * (no job) and each change is an audit event.
 *
 * A user who is disabled, deleted, given another role or a new password by
 * an admin loses its tokens at once (signs in again, with the new role) (pv_auth_revoke_user: database and this
 * daemon's cache) and its open event streams end.  The last enabled admin
 * can be neither disabled, demoted nor deleted (409 last_admin): nobody could
 * manage users after.  users_lock makes the count and the change one step
 * for requests on this daemon. */
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/http/api.h"
#include "server/http/auth.h"
#include "server/core/events.h"
#include "server/http/sse.h"
#include "server/http/throttle.h"
#include "server/core/validate.h"

static pthread_mutex_t users_lock = PTHREAD_MUTEX_INITIALIZER;

static void reply_user(struct pv_req *r, int status, const char *name)
{
    struct pv_error e = {0};
    char *role = NULL;
    int disabled = 0;

    if (pv_db_user_get(name, NULL, &role, &disabled, &e))
        pv_reply_error(r, &e);
    else
        pv_reply_json(r, status, json_pack("{s:s,s:s,s:b}", "username", name, "role", role,
                                          "disabled", disabled));
    free(role);
}

/* Would taking away this (enabled admin) user's admin rights leave none? */
static int last_admin(const char *role, int disabled, struct pv_error *err)
{
    if (strcmp(role, "admin") == 0 && !disabled && pv_db_admins_enabled() <= 1)
        return pv_fail(err, last_admin,
                       "that is the last enabled admin: make or enable another admin first");
    return 0;
}

void pv_api_user_patch(struct pv_req *r)
{
    static const char *const roles[] = {"admin", "viewer", NULL};
    static const struct pv_jfield spec[] = {
        {"disabled", PV_J_BOOL, 0, 0, 0, NULL},
        {"password", PV_J_STRING, 0, 1, PV_PASSWORD_MAX, NULL},
        {"role", PV_J_STRING, 0, 0, 0, roles},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, sizeof spec / sizeof spec[0]);
    const char *name = r->params[0], *role, *pw;
    char hash[PV_PASSWORD_HASH_BYTES], *old_role = NULL;
    int old_disabled = 0, disabled, rc;

    if (!body)
        return;
    role = json_string_value(json_object_get(body, "role"));
    pw = json_string_value(json_object_get(body, "password"));
    disabled = json_object_get(body, "disabled") ? json_is_true(json_object_get(body, "disabled")) : -1;
    if (json_object_size(body) == 0) {
        pv_fail(&e, missing_field, "nothing to change: give disabled, password or role");
        pv_reply_error(r, &e);
        goto out;
    }
    /* hashing takes a while: before the lock, and only a strong password */
    if (pw && pv_auth_hash_password(pw, hash, &e)) {
        pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "password"));
        goto out;
    }
    pthread_mutex_lock(&users_lock);
    rc = pv_db_user_get(name, NULL, &old_role, &old_disabled, &e);
    if (rc == 0 && ((role && strcmp(role, "admin") != 0) || disabled == 1))
        rc = last_admin(old_role, old_disabled, &e);
    if (rc == 0)
        rc = pv_db_user_update(name, disabled, role, pw ? hash : NULL, &e);
    if (rc == 0 && (pw || disabled == 1 || (role && strcmp(role, old_role) != 0)))
        pv_auth_revoke_user(name, NULL);
    pthread_mutex_unlock(&users_lock);
    if (rc) {
        pv_reply_error(r, &e);
        goto out;
    }
    pv_sse_wake();
    if (disabled >= 0 && disabled != old_disabled)
        pv_event("user", name, "audit", r->user, "user %s %s", name,
                 disabled ? "disabled" : "enabled");
    if (role && strcmp(role, old_role) != 0)
        pv_event("user", name, "audit", r->user, "user %s role changed from %s to %s", name,
                 old_role, role);
    if (pw)
        pv_event("user", name, "audit", r->user, "password of user %s reset", name);
    reply_user(r, 200, name);
out:
    sodium_memzero(hash, sizeof hash);
    free(old_role);
    json_decref(body);
}

void pv_api_user_delete(struct pv_req *r)
{
    struct pv_error e = {0};
    const char *name = r->params[0];
    char *role = NULL;
    int disabled = 0, rc;

    pthread_mutex_lock(&users_lock);
    rc = pv_db_user_get(name, NULL, &role, &disabled, &e);
    if (rc == 0)
        rc = last_admin(role, disabled, &e);
    if (rc == 0) {
        pv_auth_revoke_user(name, NULL);
        rc = pv_db_user_delete(name, &e);
    }
    pthread_mutex_unlock(&users_lock);
    free(role);
    if (rc) {
        pv_reply_error(r, &e);
        return;
    }
    pv_sse_wake();
    pv_event("user", name, "audit", r->user, "user %s deleted", name);
    pv_reply_json(r, 204, NULL);
}

/* POST /auth/password: the signed-in user's own password, given the
 * current one (throttled like a sign-in, so a stolen token cannot guess
 * it).  The user's other tokens end; the one that made the call stays. */
void pv_api_password_change(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"old", PV_J_STRING, PV_J_REQUIRED, 1, PV_PASSWORD_MAX, NULL},
        {"new", PV_J_STRING, PV_J_REQUIRED, 1, PV_PASSWORD_MAX, NULL},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, 2);
    char hash[PV_PASSWORD_HASH_BYTES], ukey[160];
    int wait;

    if (!body)
        return;
    snprintf(ukey, sizeof ukey, "user:%s", r->user);
    if ((wait = pv_throttle_wait(ukey)) > 0) {
        pv_fail(&e, too_many_attempts, "too many wrong passwords: try again in %d s", wait);
        r->retry_after = wait;
        pv_reply_error(r, &e);
        goto out;
    }
    if (pv_auth_check_password(r->user, json_string_value(json_object_get(body, "old")), &e)) {
        if (pv_error_is(&e, PV_CODE_wrong_password)) {
            pv_throttle_fail(ukey, 0);
            pv_event("user", r->user, "audit", r->user,
                     "password change of %s refused: wrong current password", r->user);
        }
        pv_reply_error(r, &e);
        goto out;
    }
    if (pv_auth_hash_password(json_string_value(json_object_get(body, "new")), hash, &e) ||
        pv_db_user_update(r->user, -1, NULL, hash, &e)) {
        pv_reply_error_details(r, &e, json_pack("{s:s}", "field", "new"));
        goto out;
    }
    pv_throttle_clear(ukey);
    pv_auth_revoke_user(r->user, r->token_hash);
    pv_sse_wake();
    pv_event("user", r->user, "audit", r->user, "user %s changed its password", r->user);
    pv_reply_json(r, 204, NULL);
out:
    sodium_memzero(hash, sizeof hash);
    json_decref(body);
}

/* Named API tokens, for scripts: each user makes, lists and revokes its
 * own.  The secret is in the 201 answer only; the list shows when each was
 * last used, so an unused one can be found and revoked. */
#define API_TOKEN_TTL_MAX (2 * 365 * 86400)
#define API_TOKEN_TTL_DEFAULT (90 * 86400)

void pv_api_tokens_list(struct pv_req *r)
{
    pv_reply_json(r, 200, json_pack("{s:o,s:n}", "items", pv_db_api_tokens_list(r->user),
                                    "next_cursor"));
}

void pv_api_token_create(struct pv_req *r)
{
    static const struct pv_jfield spec[] = {
        {"name", PV_J_STRING, PV_J_REQUIRED, 1, 64, NULL},
        {"expires_in", PV_J_INT, 0, 60, API_TOKEN_TTL_MAX, NULL},
    };
    struct pv_error e = {0};
    json_t *body = pv_api_body(r, spec, 2);
    const char *name;
    char id[64], *token = NULL;
    int ttl;

    if (!body)
        return;
    name = json_string_value(json_object_get(body, "name"));
    ttl = json_object_get(body, "expires_in")
              ? (int)json_integer_value(json_object_get(body, "expires_in"))
              : API_TOKEN_TTL_DEFAULT;
    if (pv_auth_api_token(r->user, name, ttl, &token, id, &e)) {
        pv_reply_error(r, &e);
    } else {
        pv_event("user", r->user, "audit", r->user, "API token %s (%.64s) made by %s", id, name,
                 r->user);
        pv_reply_json(r, 201, json_pack("{s:s,s:s,s:s,s:i}", "id", id, "name", name, "token",
                                        token, "expires_in", ttl));
    }
    if (token)
        sodium_memzero(token, strlen(token));
    free(token);
    json_decref(body);
}

void pv_api_token_delete(struct pv_req *r)
{
    struct pv_error e = {0};

    if (pv_auth_api_token_revoke(r->user, r->params[0], &e)) {
        pv_reply_error(r, &e);
        return;
    }
    pv_sse_wake();
    pv_event("user", r->user, "audit", r->user, "API token %.64s revoked by %s", r->params[0],
             r->user);
    pv_reply_json(r, 204, NULL);
}
