/* buf.h -- one growable byte buffer for every program, in the manner of
 * git's strbuf.
 *
 * Invariants: a struct pv_buf is usable as soon as it is zeroed
 * (PV_BUF_INIT); once anything was added, s[len] is always '\0' (so the
 * contents can be read as a C string when they hold no NUL) and len < cap;
 * pv_buf_str() is "" for an empty buffer.  On a failed allocation the
 * buffer keeps what it had and the call returns -1; nothing aborts.
 */
#ifndef PV_BUF_H
#define PV_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct pv_buf {
    char *s;
    size_t len, cap;
};
#define PV_BUF_INIT {NULL, 0, 0}

/* Make room for n more bytes (and the NUL); -1 when out of memory. */
int pv_buf_grow(struct pv_buf *b, size_t n);
int pv_buf_add(struct pv_buf *b, const void *data, size_t n);
int pv_buf_adds(struct pv_buf *b, const char *s);
int pv_buf_addf(struct pv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents as a string (never NULL; borrowed, valid until the next change). */
const char *pv_buf_str(const struct pv_buf *b);
/* Empty it, keeping the memory. */
void pv_buf_reset(struct pv_buf *b);
/* The contents, malloc'd, for the caller to free (NULL when empty); b is empty after. */
char *pv_buf_detach(struct pv_buf *b);
void pv_buf_free(struct pv_buf *b);

#endif
