/* text.h -- small text helpers every program shares: UTF-8 checking and
 * scrubbing (so an error that echoes input stays valid JSON), base64url
 * (the collections' cursors). */
#ifndef PV_TEXT_H
#define PV_TEXT_H

#include <stddef.h>

/* Is s[0..len) valid UTF-8 without NUL? */
int pv_utf8_valid(const char *s, size_t len);
/* Replace each byte of s that does not start a valid UTF-8 sequence with
 * '?', in place (the length stays); returns how many were replaced. */
size_t pv_utf8_scrub(char *s);
/* base64url without padding; malloc'd, NULL when out of memory. */
char *pv_b64url_encode(const unsigned char *in, size_t n);
/* Its inverse, NUL-terminated, *outlen bytes; NULL on a bad input. */
unsigned char *pv_b64url_decode(const char *in, size_t *outlen);

#endif
