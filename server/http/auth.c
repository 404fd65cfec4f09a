/* auth.c -- see auth.h.  The token cache is a fixed-size table guarded by
 * one mutex (cache_lock); an entry lives a minute at most, and never past
 * its token's own end, so an expired token is refused on the second it
 * expires and a token deleted in the database stops working within a minute
 * even on other daemons' caches; logout removes the entry at once here and
 * bumps a revocation count that open event streams watch; disabling,
 * deleting a user or resetting its password (pv_auth_revoke_user) drops all
 * of that user's entries at once and bumps it too.
 *
 * A login costs the same whether or not the user exists: an unknown user's
 * password is checked against a dummy hash made at start, so timing does
 * not tell which names exist. */
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "db/db.h"
#include "server/http/auth.h"
#include "server/http/http.h"
#include "server/core/log.h"
#include "server/core/util.h"

_Static_assert(PV_PASSWORD_HASH_BYTES == crypto_pwhash_STRBYTES, "auth.h states the hash size");

#define CACHE_SLOTS 256
#define CACHE_TTL_S 60

struct cached_token {
    char hash[65];
    char user[64];
    char role[16];
    time_t until;   /* min(cached + CACHE_TTL_S, the token's own end) */
};

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cached_token cache[CACHE_SLOTS]; /* guarded by cache_lock */
static int token_ttl = 12 * 3600;              /* start-up configuration */
static char dummy_hash[PV_PASSWORD_HASH_BYTES]; /* start-up: for unknown users */
static unsigned revocations;                    /* guarded by cache_lock */

/* Argon2id takes 64 MiB a hash: at most max_hashes at once, so a login
 * flood cannot take the daemon's memory.  hash_lock guards hashing. */
static pthread_mutex_t hash_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hash_cond = PTHREAD_COND_INITIALIZER;
static int hashing, max_hashes = 4;             /* hashing: guarded by hash_lock */
#define HASH_WAIT_S 10

static int hash_enter(struct pv_error *err)
{
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += HASH_WAIT_S;
    pthread_mutex_lock(&hash_lock);
    while (hashing >= max_hashes && rc == 0)
        rc = pthread_cond_timedwait(&hash_cond, &hash_lock, &until);
    if (hashing < max_hashes) {
        hashing++;
        rc = 0;
    }
    pthread_mutex_unlock(&hash_lock);
    return rc ? pv_fail(err, busy, "too many sign-ins at once; try again in a moment") : 0;
}

static void hash_leave(void)
{
    pthread_mutex_lock(&hash_lock);
    hashing--;
    pthread_cond_signal(&hash_cond);
    pthread_mutex_unlock(&hash_lock);
}

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

static void cache_put(const char *hash, const char *user, const char *role, int64_t expires)
{
    time_t until = time(NULL) + CACHE_TTL_S;
    struct cached_token *c = &cache[slot_of(hash)];

    pthread_mutex_lock(&cache_lock);
    snprintf(c->hash, sizeof c->hash, "%s", hash);
    snprintf(c->user, sizeof c->user, "%s", user);
    snprintf(c->role, sizeof c->role, "%s", role);
    c->until = (int64_t)until < expires ? until : (time_t)expires;
    pthread_mutex_unlock(&cache_lock);
}

static void cache_drop(const char *hash)
{
    struct cached_token *c = &cache[slot_of(hash)];

    pthread_mutex_lock(&cache_lock);
    if (strcmp(c->hash, hash) == 0)
        memset(c, 0, sizeof *c);
    revocations++;
    pthread_mutex_unlock(&cache_lock);
}

unsigned pv_auth_revocations(void)
{
    unsigned n;
    pthread_mutex_lock(&cache_lock);
    n = revocations;
    pthread_mutex_unlock(&cache_lock);
    return n;
}

int pv_auth_password_ok(const char *password, struct pv_error *err)
{
    size_t n = 0;

    /* characters, not bytes: a UTF-8 lead byte starts each */
    for (const unsigned char *p = (const unsigned char *)(password ? password : ""); *p; p++)
        n += (*p & 0xC0) != 0x80;
    if (n < PV_PASSWORD_MIN)
        return pv_fail(err, weak_password, "a password has at least %d characters", PV_PASSWORD_MIN);
    if (strlen(password) > PV_PASSWORD_MAX)
        return pv_fail(err, weak_password, "a password has at most %d bytes", PV_PASSWORD_MAX);
    return 0;
}

int pv_auth_hash_password(const char *password, char hash[PV_PASSWORD_HASH_BYTES],
                          struct pv_error *err)
{
    int rc = pv_auth_password_ok(password, err);

    if (rc)
        return rc;
    if ((rc = hash_enter(err)) != 0)
        return rc;
    rc = crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                           crypto_pwhash_MEMLIMIT_INTERACTIVE);
    hash_leave();
    return rc != 0 ? pv_fail(err, out_of_memory, "cannot hash password") : 0;
}

int pv_auth_create_user(const char *username, const char *password, const char *role,
                        struct pv_error *err)
{
    char hash[PV_PASSWORD_HASH_BYTES];
    char id[64];
    int rc = pv_auth_hash_password(password, hash, err);

    if (rc)
        return rc;
    pv_id_new(id, "user");
    return pv_db_user_create(id, username, hash, role, err);
}

int pv_auth_check_password(const char *username, const char *password, struct pv_error *err)
{
    char *hash = NULL;
    int rc = pv_db_user_get(username, &hash, NULL, NULL, err);

    if (rc == 0 && (rc = hash_enter(err)) == 0) {
        rc = crypto_pwhash_str_verify(hash, password, strlen(password));
        hash_leave();
        if (rc != 0)
            rc = pv_fail(err, wrong_password, "the current password is wrong");
    }
    free(hash);
    return rc;
}

void pv_auth_revoke_user(const char *username, const char *keep_hash)
{
    pv_db_user_tokens_delete(username, keep_hash);
    /* every cached entry of the user goes, the kept token's too: it is read
     * again from the database with the user's new role */
    pthread_mutex_lock(&cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].hash[0] && strcmp(cache[i].user, username) == 0)
            memset(&cache[i], 0, sizeof cache[i]);
    revocations++;
    pthread_mutex_unlock(&cache_lock);
}

int pv_auth_init(const struct pv_config *cfg, struct pv_error *err)
{
    const char *pw = getenv("POLYVISOR_ADMIN_PASSWORD");
    char generated[33];
    int rc;

    token_ttl = cfg->token_ttl_seconds;
    max_hashes = cfg->login_max_hashes;
    {
        unsigned char r[16];
        char junk[33];
        randombytes_buf(r, sizeof r);
        pv_hex(r, sizeof r, junk);
        if (crypto_pwhash_str(dummy_hash, junk, strlen(junk), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                              crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
            return pv_fail(err, out_of_memory, "cannot hash password");
    }
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
    if (rc) {
        if (pv_error_is(err, PV_CODE_weak_password))
            pv_error_reword(err, err, "the first admin password (POLYVISOR_ADMIN_PASSWORD or "
                                      "admin_password): %s", err->message);
        return rc;
    }
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
    int64_t expires = 0;
    size_t len;

    if (!h)
        return err ? err->err : PV_EAUTH;
    len = strlen(h);
    if (len == 0 || len > 128)
        return pv_fail(err, invalid_token, "token unknown or expired");
    pv_sha256_hex(h, len, hash);
    memcpy(r->token_hash, hash, sizeof hash);
    if (cache_get(hash, r->user, r->role))
        return 0;
    if (pv_db_token_find(hash, &user, &role, &expires, NULL) != 0)
        return pv_fail(err, invalid_token, "token unknown or expired");
    snprintf(r->user, sizeof r->user, "%s", user);
    snprintf(r->role, sizeof r->role, "%s", role);
    cache_put(hash, user, role, expires);
    pv_db_token_touch(hash); /* last use, to the cache's minute */
    free(user);
    free(role);
    return 0;
}

/* A fresh bearer token (256 random bits as hex), its SHA-256 and an id. */
static void new_token(char tok[65], char tok_hash[65], char tok_id[64])
{
    unsigned char raw[32];

    randombytes_buf(raw, sizeof raw);
    pv_hex(raw, sizeof raw, tok);
    sodium_memzero(raw, sizeof raw);
    pv_sha256_hex(tok, strlen(tok), tok_hash);
    pv_id_new(tok_id, "tok");
}

int pv_auth_login(const char *username, const char *password, char **token, int *ttl,
                  struct pv_error *err)
{
    char *id = NULL, *hash = NULL, *role = NULL;
    char tok[65], tok_hash[65], tok_id[64];
    int rc, found;

    *token = NULL;
    found = pv_db_user_find(username, &id, &hash, &role, NULL) == 0;
    if ((rc = hash_enter(err)) != 0)
        goto out;
    /* an unknown user costs a hash too (against the dummy): same time */
    rc = crypto_pwhash_str_verify(found ? hash : dummy_hash, password, strlen(password));
    hash_leave();
    if (rc != 0 || !found) {
        rc = pv_fail(err, invalid_credentials, "wrong username or password");
        goto out;
    }
    new_token(tok, tok_hash, tok_id);
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

int pv_auth_api_token(const char *username, const char *name, int ttl, char **token,
                      char id[64], struct pv_error *err)
{
    char tok[65], tok_hash[65];
    int rc;

    *token = NULL;
    new_token(tok, tok_hash, id);
    rc = pv_db_api_token_create(id, username, name, tok_hash, ttl, err);
    if (rc == 0 && !(*token = strdup(tok)))
        rc = pv_fail(err, out_of_memory, "out of memory");
    sodium_memzero(tok, sizeof tok);
    return rc;
}

int pv_auth_api_token_revoke(const char *username, const char *id, struct pv_error *err)
{
    char hash[65];
    int rc = pv_db_api_token_delete(id, username, hash, err);

    if (rc == 0)
        cache_drop(hash);
    return rc;
}

void pv_auth_logout(const char *token)
{
    char hash[65];
    pv_sha256_hex(token, strlen(token), hash);
    cache_drop(hash);
    pv_db_token_delete(hash);
}

int pv_auth_token_valid(const char *token_hash)
{
    char user[64], role[16], *u = NULL, *ro = NULL;
    int64_t expires = 0;
    int ok;

    if (cache_get(token_hash, user, role))
        return 1;
    ok = pv_db_token_find(token_hash, &u, &ro, &expires, NULL) == 0;
    if (ok)
        cache_put(token_hash, u, ro, expires);
    free(u);
    free(ro);
    return ok;
}
