/* test_auth.c -- server/http/auth.c on a temp database, with requests over
 * real HTTP on loopback (tests/unit/reqapp.c turns them into struct pv_req
 * as the daemon does): the first admin and the password rule (characters,
 * not bytes), sign-in that does not tell unknown users from wrong
 * passwords, bearer tokens and the session cookie with its CSRF header,
 * logout that ends a token at once (and counts a revocation for streams),
 * and the token cache that answers for a token the database no longer has. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "db/db.h"
#include "server/core/config.h"
#include "server/core/util.h"
#include "server/http/auth.h"
#include "tests/unit/loopback.h"
#include "tests/unit/reqapp.h"
#include "tests/unit/tmpdb.h"

static int port;

static void whoami(struct pv_req *r)
{
    pv_reply_json(r, 200, json_pack("{s:s,s:s}", "user", r->user, "role", r->role));
}

static struct pv_config cfg;

static int setup(void **state)
{
    if (tmpdb_setup(state))
        return -1;
    unsetenv("POLYVISOR_ADMIN_PASSWORD");
    memset(&cfg, 0, sizeof cfg);
    cfg.token_ttl_seconds = 3600;
    cfg.login_max_hashes = 2;
    return reqapp_start(whoami, NULL, &port);
}

static int teardown(void **state)
{
    reqapp_stop();
    return tmpdb_teardown(state);
}

/* GET (or POST) path with extra header lines; the status, and the body's
 * user (or error code) into what. */
static int call(const char *method, const char *path, const char *headers, char *what, size_t size)
{
    char raw[1024];
    struct lb_reply rep;
    json_t *j;
    int status;

    snprintf(raw, sizeof raw, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s%s\r\n", method,
             path, headers ? headers : "", strcmp(method, "POST") == 0 ? "Content-Length: 0\r\n" : "");
    assert_int_equal(lb_request(port, raw, &rep), 0);
    status = rep.status;
    j = json_loads(rep.body, 0, NULL);
    snprintf(what, size, "%s", json_string_value(json_object_get(j, "user"))
                                   ? json_string_value(json_object_get(j, "user"))
                                   : json_string_value(json_object_get(json_object_get(j, "error"),
                                                                       "code")));
    json_decref(j);
    lb_reply_free(&rep);
    return status;
}

static void the_first_admin_needs_a_strong_password(void **state)
{
    struct pv_error e = {0};
    char *token = NULL;
    int ttl = 0;
    (void)state;

    snprintf(cfg.admin_password, sizeof cfg.admin_password, "short");
    assert_int_equal(pv_auth_init(&cfg, &e), PV_EINVAL);
    assert_string_equal(e.code, "weak_password");
    assert_non_null(strstr(e.message, "POLYVISOR_ADMIN_PASSWORD"));
    assert_int_equal(pv_db_user_count(), 0);
    snprintf(cfg.admin_password, sizeof cfg.admin_password, "correct horse battery");
    assert_int_equal(pv_auth_init(&cfg, &e), 0);
    assert_int_equal(pv_db_user_count(), 1);
    assert_int_equal(pv_auth_login("admin", "correct horse battery", &token, &ttl, &e), 0);
    assert_int_equal(strlen(token), 64);
    assert_int_equal(ttl, 3600);
    free(token);
    /* a second start leaves the users alone */
    snprintf(cfg.admin_password, sizeof cfg.admin_password, "another long password");
    assert_int_equal(pv_auth_init(&cfg, &e), 0);
    assert_int_equal(pv_db_user_count(), 1);
}

static void passwords_count_characters(void **state)
{
    struct pv_error e = {0};
    char big[PV_PASSWORD_MAX + 2];
    (void)state;

    assert_int_equal(pv_auth_password_ok("elevenchars", &e), PV_EINVAL);
    assert_int_equal(pv_auth_password_ok("twelve chars", &e), 0);
    /* eleven two-byte characters are 22 bytes but still eleven */
    assert_int_equal(pv_auth_password_ok("ééééééééééé", &e), PV_EINVAL);
    assert_int_equal(pv_auth_password_ok("éééééééééééé", &e), 0);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(pv_auth_password_ok(big, &e), PV_EINVAL);
    assert_string_equal(e.code, "weak_password");
    assert_int_equal(pv_auth_password_ok(NULL, &e), PV_EINVAL);
}

static void sign_in_does_not_tell_names_from_passwords(void **state)
{
    struct pv_error e = {0}, e2 = {0};
    char *token = NULL;
    int ttl;
    (void)state;

    assert_int_equal(pv_auth_create_user("vera", "viewer password", "viewer", &e), 0);
    assert_int_equal(pv_auth_create_user("vera", "viewer password", "viewer", &e), PV_ECONFLICT);
    assert_int_equal(pv_auth_create_user("walt", "short", "viewer", &e), PV_EINVAL);
    assert_int_equal(pv_auth_login("vera", "wrong password!", &token, &ttl, &e), PV_EAUTH);
    assert_int_equal(pv_auth_login("nobody", "wrong password!", &token, &ttl, &e2), PV_EAUTH);
    assert_string_equal(e.code, "invalid_credentials");
    assert_string_equal(e.code, e2.code);
    assert_string_equal(e.message, e2.message);
    assert_null(token);
}

static void bearer_tokens_and_cookies_say_who_calls(void **state)
{
    struct pv_error e = {0};
    char *token = NULL, h[512], who[64];
    int ttl;
    (void)state;

    assert_int_equal(pv_auth_login("vera", "viewer password", &token, &ttl, &e), 0);
    snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", token);
    assert_int_equal(call("GET", "/whoami", h, who, sizeof who), 200);
    assert_string_equal(who, "vera");
    assert_int_equal(call("GET", "/whoami", NULL, who, sizeof who), 401);
    assert_string_equal(who, "unauthorized");
    assert_int_equal(call("GET", "/whoami", "Authorization: Bearer 0123abcd\r\n", who, sizeof who), 401);
    assert_string_equal(who, "invalid_token");
    assert_int_equal(call("GET", "/whoami", "Authorization: Basic dmVyYTp4\r\n", who, sizeof who), 401);
    assert_string_equal(who, "unauthorized");
    /* the session cookie: reads as it is, changes only with the CSRF header */
    snprintf(h, sizeof h, "Cookie: " PV_SESSION_COOKIE "=%s\r\n", token);
    assert_int_equal(call("GET", "/whoami", h, who, sizeof who), 200);
    assert_string_equal(who, "vera");
    assert_int_equal(call("POST", "/whoami", h, who, sizeof who), 403);
    assert_string_equal(who, "csrf_check_failed");
    snprintf(h, sizeof h, "Cookie: " PV_SESSION_COOKIE "=%s\r\nX-Polyvisor-CSRF: 1\r\n", token);
    assert_int_equal(call("POST", "/whoami", h, who, sizeof who), 200);
    assert_int_equal(call("GET", "/public/x", NULL, who, sizeof who), 200);
    assert_string_equal(who, ""); /* nobody, and not asked */
    free(token);
}

static void logout_ends_a_token_at_once(void **state)
{
    struct pv_error e = {0};
    char *token = NULL, h[512], who[64], hash[65];
    unsigned rev = pv_auth_revocations();
    int ttl;
    (void)state;

    assert_int_equal(pv_auth_login("vera", "viewer password", &token, &ttl, &e), 0);
    pv_sha256_hex(token, strlen(token), hash);
    snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", token);
    assert_int_equal(call("GET", "/whoami", h, who, sizeof who), 200); /* now cached */
    assert_int_equal(pv_auth_token_valid(hash), 1);
    pv_auth_logout(token);
    assert_int_equal(pv_auth_revocations(), rev + 1);
    assert_int_equal(pv_auth_token_valid(hash), 0);
    assert_int_equal(call("GET", "/whoami", h, who, sizeof who), 401);
    assert_string_equal(who, "invalid_token");
    free(token);
}

static void the_cache_answers_for_a_minute(void **state)
{
    struct pv_error e = {0};
    char *token = NULL, h[512], who[64], hash[65];
    int ttl;
    (void)state;

    assert_int_equal(pv_auth_login("admin", "correct horse battery", &token, &ttl, &e), 0);
    pv_sha256_hex(token, strlen(token), hash);
    snprintf(h, sizeof h, "Authorization: Bearer %s\r\n", token);
    assert_int_equal(call("GET", "/whoami", h, who, sizeof who), 200);
    /* deleted behind the cache's back (another daemon's logout): this one
     * keeps answering from its cache, as auth.c says, for up to a minute */
    assert_int_equal(pv_db_token_delete(hash), 0);
    assert_int_equal(call("GET", "/whoami", h, who, sizeof who), 200);
    assert_string_equal(who, "admin");
    assert_int_equal(pv_auth_token_valid(hash), 1);
    /* a token never cached is looked up, and refused */
    free(token);
    assert_int_equal(pv_auth_login("admin", "correct horse battery", &token, &ttl, &e), 0);
    pv_sha256_hex(token, strlen(token), hash);
    assert_int_equal(pv_db_token_delete(hash), 0);
    assert_int_equal(pv_auth_token_valid(hash), 0);
    free(token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_first_admin_needs_a_strong_password),
        cmocka_unit_test(passwords_count_characters),
        cmocka_unit_test(sign_in_does_not_tell_names_from_passwords),
        cmocka_unit_test(bearer_tokens_and_cookies_say_who_calls),
        cmocka_unit_test(logout_ends_a_token_at_once),
        cmocka_unit_test(the_cache_answers_for_a_minute),
    };
    return cmocka_run_group_tests_name("auth", tests, setup, teardown);
}
