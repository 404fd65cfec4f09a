/* auth.h -- users, passwords and bearer tokens; the one place that decides
 * who a request is and what role it has.
 *
 * Passwords are stored as Argon2id hashes (libsodium crypto_pwhash_str).
 * A login returns a random 256-bit token; only its SHA-256 is stored, and a
 * small in-memory cache keeps token checks off the database on hot paths.
 * Roles today: admin (everything) and viewer (reads only); the route table
 * says which routes change things (router.h PV_ROUTE_ADMIN).
 */
#ifndef PV_AUTH_H
#define PV_AUTH_H

#include "adapters/adapter.h"
#include "server/core/config.h"

struct pv_req;

/* Create the admin user on first start (empty database).  The password is
 * POLYVISOR_ADMIN_PASSWORD, else the config's admin_password, else random
 * and printed once on stderr. */
int pv_auth_init(const struct pv_config *cfg, struct pv_error *err);
/* Fill r->user and r->role from the Authorization header, or fail with
 * unauthorized (no credentials) / invalid_token. */
/* The browser console's session cookie: HttpOnly, SameSite=Strict, Path=/api. */
#define PV_SESSION_COOKIE "pv_session"

/* Who r is: from 'Authorization: Bearer TOKEN', or from the session cookie
 * (then unsafe methods also need the X-Polyvisor-CSRF header). */
int pv_auth_request(struct pv_req *r, struct pv_error *err);
/* *token is malloc'd. */
int pv_auth_login(const char *username, const char *password, char **token, int *ttl,
                  struct pv_error *err);
void pv_auth_logout(const char *token);
/* A named API token of the user, valid ttl seconds: *token (malloc'd) is
 * the secret, shown once; id names it for listing and revoking. */
int pv_auth_api_token(const char *username, const char *name, int ttl, char **token,
                      char id[64], struct pv_error *err);
/* Revoke the user's API token id at once (token_not_found if not theirs). */
int pv_auth_api_token_revoke(const char *username, const char *id, struct pv_error *err);
/* Does the token whose SHA-256 this is still stand (not expired, not
 * logged out)?  For event streams, which outlive the request that opened
 * them. */
int pv_auth_token_valid(const char *token_hash);
/* How many tokens have been revoked here so far: a stream re-checks its
 * token when this moves. */
unsigned pv_auth_revocations(void);

/* Every password (the first admin's, a new user's, a changed one) has at
 * least PV_PASSWORD_MIN characters; weak_password otherwise. */
#define PV_PASSWORD_MIN 12
#define PV_PASSWORD_MAX 1024
int pv_auth_password_ok(const char *password, struct pv_error *err);
/* The Argon2id string of a password that passes pv_auth_password_ok. */
#define PV_PASSWORD_HASH_BYTES 128
int pv_auth_hash_password(const char *password, char hash[PV_PASSWORD_HASH_BYTES],
                          struct pv_error *err);
/* 0 when password is the user's; wrong_password or user_not_found if not. */
int pv_auth_check_password(const char *username, const char *password, struct pv_error *err);
/* A user was disabled, deleted, demoted or given a new password: its tokens
 * but keep_hash (NULL: all) are deleted, its cached ones forgotten, and open
 * event streams re-check theirs. */
void pv_auth_revoke_user(const char *username, const char *keep_hash);
int pv_auth_create_user(const char *username, const char *password, const char *role,
                        struct pv_error *err);

#endif
