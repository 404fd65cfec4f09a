/* auth.c -- see auth.h.  The token cache is a fixed-size table guarded by
 * one mutex (cache_lock); entries expire after a minute so a token deleted
 * in the database stops working within that time even on other daemons'
 * caches, and logout removes the entry at once here. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../db/db.h"
#include "auth.h"
#include "http.h"
#include "log.h"
#include "util.h"

#define CACHE_SLOTS 256
#define CACHE_TTL_S 60

struct cached_token {
    char hash[65];
    char user[64];
    char role[16];
    time_t until;
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached_token cache[CACHE_SLOTS]; /* guarded by cache_lock */
static int token_ttl = 12 * 3600;              /* start-up configuration */

static unsigned slot_of(const char *hash)
{
    unsigned h = 0;
    for (int i = 0; i < 8 && hash[i]; i++)
        h = h * 31u + (unsigned char)hash[i];
    return h % CACHE_SLOTS;
}

static int cache_get(const char *hash, char user[64], char role[16])
{
    struct cached_token *c = &cache[slot_of(hash)];
    int hit;

    pthread_mutex_lock(&cache_lock);
    hit = strcmp(c->hash, hash) == 0 && c->until > time(NULL);
    if (hit) {
        memcpy(user, c->user, 64);
        memcpy(role, c->role, 16);
    }
    pthread_mutex_unlock(&cache_lock);
    return hit;
}

static void cache_put(const char *hash, const char *user, const char *role)
{
    struct cached_token *c = &cache[slot_of(hash)];

    pthread_mutex_lock(&cache_lock);
    snprintf(c->hash, sizeof c->hash, "%s", hash);
    snprintf(c->user, sizeof c->user, "%s", user);
    snprintf(c->role, sizeof c->role, "%s", role);
    c->until = time(NULL) + CACHE_TTL_S;
    pthread_mutex_unlock(&cache_lock);
}

static void cache_drop(const char *hash)
{
    struct cached_token *c = &cache[slot_of(hash)];

    pthread_mutex_lock(&cache_lock);
    if (strcmp(c->hash, hash) == 0)
        memset(c, 0, sizeof *c);
    pthread_mutex_unlock(&cache_lock);
}

int pv_auth_create_user(const char *username, const char *password, const char *role,
                        struct pv_error *err)
{
    char hash[crypto_pwhash_STRBYTES];
    char id[64];

    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return pv_fail(err, out_of_memory, "cannot hash password");
    pv_id_new(id, "user");
    return pv_db_user_create(id, username, hash, role, err);
}

int pv_auth_init(const struct pv_config *cfg, struct pv_error *err)
{
    const char *pw = getenv("POLYVISOR_ADMIN_PASSWORD");
    char generated[33];
    int rc;

    token_ttl = cfg->token_ttl_seconds;
    if (pv_db_user_count() != 0)
        return 0;
    if (!pw || !*pw)
        pw = cfg->admin_password[0] ? cfg->admin_password : NULL;
    if (!pw) {
        unsigned char r[16];
        randombytes_buf(r, sizeof r);
        pv_hex(r, sizeof r, generated);
        pw = generated;
    }
    rc = pv_auth_create_user("admin", pw, "admin", err);
    if (rc)
        return rc;
    if (pw == generated)
        /* Printed once, outside the log, as the operator's only way in. */
        fprintf(stderr,
                "\n  polyvisord: created user 'admin' with password %s\n"
                "  (shown once; set POLYVISOR_ADMIN_PASSWORD before the first start to choose it)\n\n",
                generated);
    pv_log(PV_LOG_INFO, "auth", "event=admin_created user=admin");
    return 0;
}

/* The request's token: the bearer token, or the browser session's cookie.
 * A request that changes anything on the strength of the cookie alone must
 * also carry the X-Polyvisor-CSRF header, which a page of another origin
 * cannot add (SameSite=Strict already keeps the cookie off cross-site
 * requests; this is the second lock). */
static const char *request_token(struct pv_req *r, struct pv_error *err)
{
    const char *h = pv_req_header(r, "Authorization"), *c;
    int safe = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");

    if (h && strncmp(h, "Bearer ", 7) == 0)
        return h + 7;
    c = pv_req_cookie(r, PV_SESSION_COOKIE);
    if (c && !safe && !pv_req_header(r, "X-Polyvisor-CSRF")) {
        pv_fail(err, csrf_check_failed,
                     "a change made with the session cookie needs the X-Polyvisor-CSRF header");
        return NULL;
    }
    if (!c)
        pv_fail(err, unauthorized,
                     "this call needs 'Authorization: Bearer TOKEN' (POST /api/v1/auth/login)");
    return c;
}

int pv_auth_request(struct pv_req *r, struct pv_error *err)
{
    const char *h = request_token(r, err);
    char hash[65];
    char *user = NULL, *role = NULL;
    size_t len;

    if (!h)
        return err ? err->err : PV_EAUTH;
    len = strlen(h);
    if (len == 0 || len > 128)
        return pv_fail(err, invalid_token, "token unknown or expired");
    pv_sha256_hex(h, len, hash);
    if (cache_get(hash, r->user, r->role))
        return 0;
    if (pv_db_token_find(hash, &user, &role, NULL) != 0)
        return pv_fail(err, invalid_token, "token unknown or expired");
    snprintf(r->user, sizeof r->user, "%s", user);
    snprintf(r->role, sizeof r->role, "%s", role);
    cache_put(hash, user, role);
    free(user);
    free(role);
    return 0;
}

int pv_auth_login(const char *username, const char *password, char **token, int *ttl,
                  struct pv_error *err)
{
    char *id = NULL, *hash = NULL, *role = NULL;
    unsigned char raw[32];
    char tok[65], tok_hash[65], tok_id[64];
    int rc;

    *token = NULL;
    rc = pv_db_user_find(username, &id, &hash, &role, NULL);
    if (rc || crypto_pwhash_str_verify(hash, password, strlen(password)) != 0) {
        rc = pv_fail(err, invalid_credentials, "wrong username or password");
        goto out;
    }
    randombytes_buf(raw, sizeof raw);
    pv_hex(raw, sizeof raw, tok);
    pv_sha256_hex(tok, strlen(tok), tok_hash);
    pv_id_new(tok_id, "tok");
    rc = pv_db_token_create(tok_id, id, tok_hash, token_ttl, err);
    if (rc)
        goto out;
    *token = strdup(tok);
    *ttl = token_ttl;
    sodium_memzero(tok, sizeof tok);
out:
    free(id);
    free(hash);
    free(role);
    return rc;
}

void pv_auth_logout(const char *token)
{
    char hash[65];
    pv_sha256_hex(token, strlen(token), hash);
    cache_drop(hash);
    pv_db_token_delete(hash);
}
