/* text.c -- small text helpers with no state (see text.h): UTF-8
 * checking and scrubbing, base64url. */
#include <stdlib.h>
#include <string.h>
#include "text.h"

/* Length of the valid UTF-8 sequence at p (end bounds it), 0 when there is
 * none there: overlong forms, surrogates and code points past U+10FFFF are
 * not valid, nor is NUL. */
static size_t seq_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = *p, min;
    size_t n;

    if (c == 0)
        return 0;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) { n = 1; min = 0x80; c &= 0x1f; }
    else if ((c & 0xf0) == 0xe0) { n = 2; min = 0x800; c &= 0x0f; }
    else if ((c & 0xf8) == 0xf0) { n = 3; min = 0x10000; c &= 0x07; }
    else return 0;
    if ((size_t)(end - p) < n + 1)
        return 0;
    for (size_t i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    return n + 1;
}

int pv_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        size_t n = seq_len(p, end);
        if (!n)
            return 0;
        p += n;
    }
    return 1;
}

size_t pv_utf8_scrub(char *s)
{
    unsigned char *p = (unsigned char *)s, *end = p + strlen(s);
    size_t fixed = 0;

    while (p < end) {
        size_t n = seq_len(p, end);
        if (n) {
            p += n;
        } else {
            *p++ = '?';
            fixed++;
        }
    }
    return fixed;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *pv_b64url_encode(const unsigned char *in, size_t n)
{
    char *out = malloc(n * 4 / 3 + 4), *o = out;
    size_t i;

    if (!out)
        return NULL;
    for (i = 0; i + 2 < n; i += 3) {
        *o++ = b64[in[i] >> 2];
        *o++ = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *o++ = b64[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        *o++ = b64[in[i + 2] & 63];
    }
    if (n - i == 1) {
        *o++ = b64[in[i] >> 2];
        *o++ = b64[(in[i] & 3) << 4];
    } else if (n - i == 2) {
        *o++ = b64[in[i] >> 2];
        *o++ = b64[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *o++ = b64[(in[i + 1] & 15) << 2];
    }
    *o = '\0';
    return out;
}

unsigned char *pv_b64url_decode(const char *in, size_t *outlen)
{
    size_t n = strlen(in), o = 0;
    unsigned char *out;
    unsigned acc = 0;
    int bits = 0;

    if (n % 4 == 1)
        return NULL;
    out = malloc(n * 3 / 4 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(b64, in[i]);
        if (!p || !in[i]) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    out[o] = '\0';
    *outlen = o;
    return out;
}

