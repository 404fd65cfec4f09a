/* errors.c -- the error table (errors.def) and the functions that fill a
 * struct pv_error from it (see errors.h).  Messages are always valid UTF-8:
 * cut to fit at a character boundary, and any byte of echoed input that is
 * not UTF-8 (a %ff in a query, a name cut by %.80s) becomes '?', so an error
 * body is always JSON that jansson will write. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "errors.h"
#include "text.h"

static const struct pv_code_row rows[PV_CODE_COUNT] = {
#define PV_ERROR(code, cls, status, meaning) {#code, cls, status, meaning},
#include "errors.def"
#undef PV_ERROR
};

const struct pv_code_row *pv_code_row(int c)
{
    return c >= 0 && c < PV_CODE_COUNT ? &rows[c] : NULL;
}

int pv_code_find(const char *code)
{
    for (int i = 0; code && i < PV_CODE_COUNT; i++)
        if (strcmp(rows[i].code, code) == 0)
            return i;
    return -1;
}

int pv_err_status(enum pv_err e)
{
    switch (e) {
    case PV_OK: return 200;
    case PV_EINVAL: return 400;
    case PV_EAUTH: return 401;
    case PV_EFORBIDDEN: return 403;
    case PV_ENOTFOUND: return 404;
    case PV_ECONFLICT:
    case PV_ECANCELLED: return 409;
    case PV_ETOOBIG: return 413;
    case PV_EUNSUPPORTED: return 422;
    case PV_EPEER: return 502;
    case PV_EUNREACHABLE: return 503;
    case PV_EINTERNAL: return 500;
    }
    return 500; /* not a class: a bug */
}

/* An error that was never filled in (no code, class PV_OK) is answered as
 * what it is, our bug: 500, never a 200 carrying an error body. */
int pv_error_status(const struct pv_error *e)
{
    int c = e ? pv_code_find(e->code) : -1;
    if (c >= 0)
        return rows[c].status;
    return !e || e->err == PV_OK ? 500 : pv_err_status((enum pv_err)e->err);
}

/* vsnprintf into msg, then cut back to the last whole UTF-8 character. */
static void set_message(char *msg, size_t size, const char *fmt, va_list ap)
{
    int n = vsnprintf(msg, size, fmt, ap);
    size_t len;

    if (n < 0) {
        msg[0] = '\0';
        return;
    }
    if ((size_t)n >= size) {
        len = strlen(msg);
        while (len > 0 && ((unsigned char)msg[len - 1] & 0xC0) == 0x80)
            len--;
        if (len > 0 && (unsigned char)msg[len - 1] >= 0xC0)
            len--;
        msg[len] = '\0';
    }
    pv_utf8_scrub(msg);
}

static int fill(struct pv_error *e, int c, const char *fmt, va_list ap)
{
    if (e) {
        e->err = rows[c].err;
        snprintf(e->code, sizeof e->code, "%s", rows[c].code);
        set_message(e->message, sizeof e->message, fmt, ap);
    }
    return rows[c].err;
}

int pv_fail_code(struct pv_error *e, enum pv_code c, const char *fmt, ...)
{
    va_list ap;
    int rc;

    if ((int)c < 0 || c >= PV_CODE_COUNT)
        c = PV_CODE_error;
    va_start(ap, fmt);
    rc = fill(e, (int)c, fmt, ap);
    va_end(ap);
    return rc;
}

int pv_fail_named(struct pv_error *e, const char *code, const char *fmt, ...)
{
    int c = pv_code_find(code);
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = fill(e, c >= 0 ? c : PV_CODE_unknown_error, fmt, ap);
    va_end(ap);
    if (c < 0 && e) {
        char msg[sizeof e->message];
        snprintf(msg, sizeof msg, "%s", e->message);
        pv_fail(e, unknown_error, "%.40s: %s", code ? code : "(no code)", msg);
    }
    return rc;
}

int pv_error_reword(struct pv_error *e, const struct pv_error *from, const char *fmt, ...)
{
    struct pv_error copy = *from;
    va_list ap;

    if (!e)
        return copy.err;
    va_start(ap, fmt);
    set_message(copy.message, sizeof copy.message, fmt, ap);
    va_end(ap);
    *e = copy;
    return e->err;
}

int pv_error_recode(struct pv_error *e, enum pv_code c)
{
    const struct pv_code_row *r = pv_code_row((int)c);

    if (!r)
        r = &rows[PV_CODE_error];
    if (e) {
        e->err = r->err;
        snprintf(e->code, sizeof e->code, "%s", r->code);
    }
    return r->err;
}

int pv_error_is(const struct pv_error *e, enum pv_code c)
{
    const struct pv_code_row *r = pv_code_row((int)c);
    return e && r && strcmp(e->code, r->code) == 0;
}
