/* errors.h -- the one error path: result classes, struct pv_error, and the
 * closed table of stable codes (errors.def), as curl's CURLcode list is.
 *
 * A function that can fail returns 0 or a negative enum pv_err and fills the
 * struct pv_error it was handed; that error travels unchanged from an
 * adapter or the agent to the API's error body.  The class is the code's
 * (one row, one class), so a caller never picks a class of its own:
 *
 *     return pv_fail(err, vm_not_found, "no VM with id '%.80s'", id);
 *
 * and a code that is not a row of errors.def does not compile.  Codes that
 * arrive as text from a peer of ours (the agent's JSON errors) go through
 * pv_fail_named, which looks them up.
 */
#ifndef PV_ERRORS_H
#define PV_ERRORS_H

#include <stddef.h>

/* Result classes.  They tell a caller which kind of failure it was (and so
 * what to do: PV_EUNREACHABLE resets the connection); the stable string
 * code is what clients see. */
enum pv_err {
    PV_OK = 0,
    PV_EINVAL = -1,       /* bad input */
    PV_ENOTFOUND = -2,
    PV_ECONFLICT = -3,    /* state does not allow it */
    PV_EAUTH = -4,        /* peer or user refused the credentials */
    PV_EUNSUPPORTED = -5, /* the backend cannot do this */
    PV_EPEER = -6,        /* the peer answered with an error */
    PV_EUNREACHABLE = -7, /* the peer did not answer */
    PV_ECANCELLED = -8,   /* a cancel request stopped it */
    PV_EINTERNAL = -9,    /* our bug or resource exhaustion */
    PV_ETOOBIG = -10,
    PV_EFORBIDDEN = -11,
};

struct pv_error {
    int err;            /* enum pv_err: the class of code */
    char code[48];      /* a code of errors.def, e.g. "vm_not_found" */
    char message[384];  /* human readable, valid UTF-8, no secrets */
};

enum pv_code {
#define PV_ERROR(code, cls, status, meaning) PV_CODE_##code,
#include "errors.def"
#undef PV_ERROR
    PV_CODE_COUNT
};

struct pv_code_row {
    const char *code;
    enum pv_err err;
    int status;
    const char *meaning;
};

/* A code's word where a string is wanted, checked against the table at
 * compile time: pv_code_str(vm_not_found) is "vm_not_found". */
#define pv_code_str(code) ((void)PV_CODE_##code, #code)

/* The row of c; NULL when c is not a code. */
const struct pv_code_row *pv_code_row(int c);
/* The enum pv_code of a code word, or -1 when it is none. */
int pv_code_find(const char *code);
/* The HTTP status of a class: the one map (a switch without default). */
int pv_err_status(enum pv_err e);
/* The HTTP status of an error: its code's row. */
int pv_error_status(const struct pv_error *e);

/* Fill *e (when not NULL) with code c and the message, and return c's class. */
int pv_fail_code(struct pv_error *e, enum pv_code c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define pv_fail(e, code, ...) pv_fail_code((e), PV_CODE_##code, __VA_ARGS__)
/* The same for a code that arrived as text: a word that is no row becomes
 * unknown_error, the word kept in the message. */
int pv_fail_named(struct pv_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Keep from's code and class with a new message (which may quote from's:
 * e and from may be the same). */
int pv_error_reword(struct pv_error *e, const struct pv_error *from, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Give e code c (and its class), keeping e's message; returns the class. */
int pv_error_recode(struct pv_error *e, enum pv_code c);
/* Does e carry code c? */
int pv_error_is(const struct pv_error *e, enum pv_code c);

#endif
