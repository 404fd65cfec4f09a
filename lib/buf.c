/* buf.c -- the growable buffer (see buf.h).  Capacity doubles from 256
 * bytes, so n appends of any size cost O(total) copies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"

int pv_buf_grow(struct pv_buf *b, size_t n)
{
    size_t want, cap;
    char *p;

    if (n > (size_t)-1 / 2 - b->len)
        return -1;
    want = b->len + n + 1;
    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    p = realloc(b->s, cap);
    if (!p)
        return -1;
    if (!b->s)
        p[0] = '\0';
    b->s = p;
    b->cap = cap;
    return 0;
}

int pv_buf_add(struct pv_buf *b, const void *data, size_t n)
{
    if (pv_buf_grow(b, n))
        return -1;
    if (n)
        memcpy(b->s + b->len, data, n);
    b->len += n;
    b->s[b->len] = '\0';
    return 0;
}

int pv_buf_adds(struct pv_buf *b, const char *s)
{
    return pv_buf_add(b, s, strlen(s));
}

int pv_buf_addf(struct pv_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || pv_buf_grow(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

const char *pv_buf_str(const struct pv_buf *b)
{
    return b->s ? b->s : "";
}

void pv_buf_reset(struct pv_buf *b)
{
    b->len = 0;
    if (b->s)
        b->s[0] = '\0';
}

char *pv_buf_detach(struct pv_buf *b)
{
    char *s = b->len ? b->s : NULL;

    if (!s)
        free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
    return s;
}

void pv_buf_free(struct pv_buf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}
