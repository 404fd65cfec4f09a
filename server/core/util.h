/* util.h -- small helpers the daemon uses everywhere: ids, randomness,
 * hashing, time, JSON text. */
#ifndef PV_UTIL_H
#define PV_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A new opaque id: prefix, '-', 20 lowercase hex chars of randomness. */
void pv_id_new(char out[64], const char *prefix);
/* Hex SHA-256 of data into out (65 bytes). */
void pv_sha256_hex(const void *data, size_t len, char out[65]);
void pv_hex(const unsigned char *in, size_t len, char *out);
/* Monotonic milliseconds. */
int64_t pv_now_ms(void);

/* The compact JSON text of obj[key] (malloc'd), or NULL when absent. */
typedef struct json_t json_t;
char *pv_json_text_of(const json_t *obj, const char *key);

#endif
