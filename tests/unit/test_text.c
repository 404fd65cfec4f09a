/* test_text.c -- lib/text.c: UTF-8 checking (shortest forms only, no
 * surrogates, nothing above U+10FFFF, no NUL), scrubbing that keeps the
 * length and the valid characters, and base64url without padding that
 * round-trips every length and refuses what is not its alphabet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "lib/text.h"

static void utf8_valid(void **state)
{
    (void)state;
    assert_true(pv_utf8_valid("plain", 5));
    assert_true(pv_utf8_valid("", 0));
    assert_true(pv_utf8_valid("\xc3\xbc\xe2\x9c\x93\xf0\x9f\x98\x80", 9));
    assert_true(pv_utf8_valid("\xf4\x8f\xbf\xbf", 4));   /* U+10FFFF, the last */
    assert_false(pv_utf8_valid("\xff", 1));
    assert_false(pv_utf8_valid("\x80", 1));              /* a follower alone */
    assert_false(pv_utf8_valid("\xc0\xaf", 2));          /* overlong '/' */
    assert_false(pv_utf8_valid("\xe0\x80\xaf", 3));      /* overlong, three bytes */
    assert_false(pv_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
    assert_false(pv_utf8_valid("\xe2\x9c", 2));          /* truncated */
    assert_false(pv_utf8_valid("a\0b", 3));              /* NUL */
    assert_false(pv_utf8_valid("\xf4\x90\x80\x80", 4));  /* above U+10FFFF */
    /* the length is what counts, not a NUL */
    assert_true(pv_utf8_valid("ab\xff", 2));
}

static void scrub_keeps_length_and_good_characters(void **state)
{
    char s[] = "ok \xc3\xbc \xff\xc0\xaf end \xe2\x9c";
    size_t len = strlen(s);
    (void)state;

    assert_int_equal(pv_utf8_scrub(s), 5);
    assert_int_equal(strlen(s), len);
    assert_string_equal(s, "ok \xc3\xbc ??? end ??");
    assert_true(pv_utf8_valid(s, strlen(s)));
    assert_int_equal(pv_utf8_scrub(s), 0); /* once is enough */
}

static void base64url_round_trips(void **state)
{
    unsigned char in[64];
    (void)state;

    for (size_t i = 0; i < sizeof in; i++)
        in[i] = (unsigned char)(i * 37 + 250); /* every byte value class, '+' and '/' makers */
    for (size_t n = 0; n <= sizeof in; n++) {
        char *enc = pv_b64url_encode(in, n);
        size_t outlen = 999;
        unsigned char *dec;
        assert_non_null(enc);
        assert_int_equal(strlen(enc), (n * 4 + 2) / 3); /* no padding */
        assert_null(strpbrk(enc, "+/="));
        dec = pv_b64url_decode(enc, &outlen);
        assert_non_null(dec);
        assert_int_equal(outlen, n);
        assert_memory_equal(dec, in, n);
        assert_int_equal(dec[n], 0);
        free(enc);
        free(dec);
    }
    {
        char *enc = pv_b64url_encode((const unsigned char *)"\xfb\xff", 2);
        assert_string_equal(enc, "-_8"); /* the URL-safe letters */
        free(enc);
    }
}

static void base64url_refuses_what_is_not_its_alphabet(void **state)
{
    size_t n;
    (void)state;

    assert_null(pv_b64url_decode("ab+c", &n));
    assert_null(pv_b64url_decode("ab/c", &n));
    assert_null(pv_b64url_decode("abc=", &n));
    assert_null(pv_b64url_decode("ab c", &n));
    assert_null(pv_b64url_decode("a", &n)); /* one char is no whole byte */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_valid),
        cmocka_unit_test(scrub_keeps_length_and_good_characters),
        cmocka_unit_test(base64url_round_trips),
        cmocka_unit_test(base64url_refuses_what_is_not_its_alphabet),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
