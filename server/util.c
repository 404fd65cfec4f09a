/* util.c -- ids, hashing, clocks; randomness comes from libsodium, which the
 * daemon initialises at start-up. */
#include <sodium.h>
#include <stdio.h>
#include <time.h>
#include "util.h"

void pv_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

void pv_id_new(char out[64], const char *prefix)
{
    unsigned char r[10];
    char hex[21];

    randombytes_buf(r, sizeof r);
    pv_hex(r, sizeof r, hex);
    snprintf(out, 64, "%s-%s", prefix, hex);
}

void pv_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    pv_hex(h, sizeof h, out);
}

int64_t pv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pv_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;

    while (p < end) {
        unsigned c = *p++;
        int n;
        unsigned min;
        if (c == 0)
            return 0;
        if (c < 0x80)
            continue;
        if ((c & 0xe0) == 0xc0) { n = 1; min = 0x80; c &= 0x1f; }
        else if ((c & 0xf0) == 0xe0) { n = 2; min = 0x800; c &= 0x0f; }
        else if ((c & 0xf8) == 0xf0) { n = 3; min = 0x10000; c &= 0x07; }
        else return 0;
        if (end - p < n)
            return 0;
        for (int i = 0; i < n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return 0;
            c = (c << 6) | (p[i] & 0x3f);
        }
        p += n;
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
    }
    return 1;
}
