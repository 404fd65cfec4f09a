/* util.c -- ids, hashing, clocks; randomness comes from libsodium, which the
 * daemon initialises at start-up. */
#include <sodium.h>
#include <stdio.h>
#include <time.h>
#include <jansson.h>
#include "server/core/util.h"

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

char *pv_json_text_of(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}
