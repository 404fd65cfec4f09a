/* test_db_auth.c -- db/db_auth.c against a temp database: users (a name is
 * taken once, found with its hash and role), and tokens kept by their hash:
 * found with their user's name, role and end while they last, not after
 * they expire or are deleted, and gone with their user's row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "db/db.h"
#include "tests/unit/tmpdb.h"

static void users_are_created_once_and_found_by_name(void **state)
{
    struct pv_error e = {0};
    char *id = NULL, *hash = NULL, *role = NULL;
    int before = pv_db_user_count();
    (void)state;

    assert_true(before >= 0);
    assert_int_equal(pv_db_user_create("us-ann", "ann", "$argon2id$x", "viewer", &e), 0);
    assert_int_equal(pv_db_user_count(), before + 1);
    assert_int_equal(pv_db_user_find("ann", &id, &hash, &role, &e), 0);
    assert_string_equal(id, "us-ann");
    assert_string_equal(hash, "$argon2id$x");
    assert_string_equal(role, "viewer");
    free(id);
    free(hash);
    free(role);
    /* the same name again: refused, nothing added */
    assert_int_equal(pv_db_user_create("us-ann2", "ann", "h", "admin", &e), PV_ECONFLICT);
    assert_string_equal(e.code, "constraint_violation");
    assert_int_equal(pv_db_user_count(), before + 1);
    /* names are matched exactly */
    assert_int_equal(pv_db_user_find("Ann", &id, &hash, &role, &e), PV_ENOTFOUND);
    assert_string_equal(e.code, "user_not_found");
}

static void a_token_is_found_while_it_lasts(void **state)
{
    struct pv_error e = {0};
    char *user = NULL, *role = NULL;
    int64_t expires = 0;
    time_t now = time(NULL);
    (void)state;

    assert_int_equal(pv_db_user_create("us-bob", "bob", "h", "admin", &e), 0);
    assert_int_equal(pv_db_token_create("tok-1", "us-bob", "aaaa", 3600, &e), 0);
    assert_int_equal(pv_db_token_find("aaaa", &user, &role, &expires, &e), 0);
    assert_string_equal(user, "bob");
    assert_string_equal(role, "admin");
    assert_true(expires >= now + 3599 && expires <= now + 3601);
    free(user);
    free(role);
    /* an unknown hash, and one that has ended */
    assert_int_equal(pv_db_token_find("bbbb", &user, &role, NULL, &e), PV_EAUTH);
    assert_string_equal(e.code, "invalid_token");
    assert_int_equal(pv_db_token_create("tok-2", "us-bob", "cccc", 0, &e), 0);
    usleep(5 * 1000); /* it ended when it was made; a millisecond on, it is past */
    assert_int_equal(pv_db_token_find("cccc", &user, &role, NULL, &e), PV_EAUTH);
    /* deleted: gone at once; deleting again is no error */
    assert_int_equal(pv_db_token_delete("aaaa"), 0);
    assert_int_equal(pv_db_token_find("aaaa", &user, &role, NULL, &e), PV_EAUTH);
    assert_int_equal(pv_db_token_delete("aaaa"), 0);
}

static void a_token_needs_a_user_and_a_unique_hash(void **state)
{
    struct pv_error e = {0};
    (void)state;

    assert_int_equal(pv_db_token_create("tok-3", "us-nobody", "dddd", 60, &e), PV_ECONFLICT);
    assert_string_equal(e.code, "constraint_violation");
    assert_int_equal(pv_db_user_create("us-cat", "cat", "h", "viewer", &e), 0);
    assert_int_equal(pv_db_token_create("tok-4", "us-cat", "eeee", 60, &e), 0);
    assert_int_equal(pv_db_token_create("tok-5", "us-cat", "eeee", 60, &e), PV_ECONFLICT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(users_are_created_once_and_found_by_name),
        cmocka_unit_test(a_token_is_found_while_it_lasts),
        cmocka_unit_test(a_token_needs_a_user_and_a_unique_hash),
    };
    return cmocka_run_group_tests_name("db_auth", tests, tmpdb_setup, tmpdb_teardown);
}
