/* test_secret.c -- server/core/secret.c, linked alone (with lib/ and
 * libsodium): credentials sealed at rest open again with the key file that
 * sealed them, and not with another, nor after a single bit changed; the
 * key file is private (0600) and kept across starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <sodium.h>
#include "server/core/secret.h"

static void sealed_credentials_open_only_with_their_key(void **state)
{
    char d1[] = "/tmp/pv-test-secret-XXXXXX", d2[] = "/tmp/pv-test-secret-XXXXXX";
    char path[128], cmd[128], *plain = NULL;
    unsigned char *blob = NULL, *blob2 = NULL;
    size_t len = 0, len2 = 0;
    struct pv_error e = {0};
    struct stat sb;

    (void)state;
    assert_true(sodium_init() >= 0);
    assert_non_null(mkdtemp(d1));
    assert_non_null(mkdtemp(d2));
    assert_int_equal(pv_secret_init(d1, &e), 0);
    snprintf(path, sizeof path, "%s/secret.key", d1);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_int_equal(pv_secret_seal("{\"password\": \"s3cret\"}", &blob, &len, &e), 0);
    assert_null(memmem(blob, len, "s3cret", 6)); /* not in the clear */
    assert_int_equal(pv_secret_seal("{\"password\": \"s3cret\"}", &blob2, &len2, &e), 0);
    assert_true(len == len2 && memcmp(blob, blob2, len) != 0); /* a fresh nonce each time */
    assert_int_equal(pv_secret_open(blob, len, &plain, &e), 0);
    assert_string_equal(plain, "{\"password\": \"s3cret\"}");
    pv_secret_free(plain);
    plain = NULL;
    blob[len - 1] ^= 1; /* one bit */
    assert_int_not_equal(pv_secret_open(blob, len, &plain, &e), 0);
    assert_null(plain);
    blob[len - 1] ^= 1;
    assert_int_not_equal(pv_secret_open(blob, 10, &plain, &e), 0); /* too short */
    /* the same key again after a restart; another data dir's key opens nothing */
    assert_int_equal(pv_secret_init(d1, &e), 0);
    assert_int_equal(pv_secret_open(blob, len, &plain, &e), 0);
    pv_secret_free(plain);
    plain = NULL;
    assert_int_equal(pv_secret_init(d2, &e), 0);
    assert_int_not_equal(pv_secret_open(blob, len, &plain, &e), 0);
    pv_secret_free(NULL);
    free(blob);
    free(blob2);
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", d1, d2);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sealed_credentials_open_only_with_their_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
