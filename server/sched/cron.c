/* cron.c -- cron expressions and one-shot times for scheduled placement
 * jobs: parsing, and the next firing in a time zone.
 *
 * A parsed expression is five bit sets (minutes, hours, days of the month,
 * months, days of the week) and the two "starts with *" flags Vixie cron
 * uses to decide how the day fields combine.  The rules users see are in
 * cron.h; the decisions behind the search are:
 *   - The search runs on wall-clock time (seconds on the zone's clock, see
 *     tz.h), never minute by minute over instants: it jumps over months,
 *     then days, that cannot match, and picks the hour and minute from the
 *     bit sets.  A never-firing expression costs a few dozen steps a year.
 *   - Fixed-hour schedules fire for a matching wall time W at the first
 *     instant the clock reads W or later.  That map is monotonic, so the
 *     next firing after instant A belongs to the first matching W beyond the
 *     latest wall time the clock had reached by A (pv_tz_wall_reached); the
 *     first such W gives the answer directly.
 *   - Every-hour schedules walk the zone's constant-offset segments instead:
 *     within a segment wall time and instants move together, so the first
 *     matching wall time in the segment is the answer, if it is in it.
 */
#include "server/sched/cron.h"

#include <stdlib.h>
#include <string.h>

#define HORIZON_SECS ((int64_t)PV_CRON_HORIZON_YEARS * 366 * 86400)
#define ALL_HOURS ((UINT64_C(1) << 24) - 1)

struct pv_cron {
    uint64_t minutes; /* bit n: minute n, 0-59 */
    uint64_t hours;   /* 0-23 */
    uint64_t mdays;   /* 1-31 */
    uint64_t months;  /* 1-12 */
    uint64_t wdays;   /* 0-6, Sunday 0 (7 folded into 0) */
    int dom_star;     /* the day-of-month field starts with '*' */
    int dow_star;
    char text[PV_CRON_MAX_LEN + 1];
};

struct cron_field {
    const char *name;
    int min, max;
    const char *const *names; /* names[i] is the value min_name + i */
    int min_name;
    const char *names_hint;
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

static const struct cron_field fields[5] = {
    {"minute", 0, 59, NULL, 0, NULL},
    {"hour", 0, 23, NULL, 0, NULL},
    {"day-of-month", 1, 31, NULL, 0, NULL},
    {"month", 1, 12, month_names, 1, "JAN-DEC"},
    {"day-of-week", 0, 7, day_names, 0, "SUN-SAT"},
};

static const struct {
    const char *name, *expansion;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* ---- parsing ------------------------------------------------------------ */

#define BAD_CRON(...) pv_fail(err, bad_cron, __VA_ARGS__)

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static int is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* A number or (where the field has them) a name, at *pp within element
 * elem.  The value is range-checked against the field. */
static int parse_value(const struct cron_field *f, const char **pp, const char *elem, int *out,
                       struct pv_error *err)
{
    const char *p = *pp, *start = p;
    if (is_digit(*p)) {
        long v = 0;
        while (is_digit(*p)) {
            if (v < 100000)
                v = v * 10 + (*p - '0');
            p++;
        }
        if (v < f->min || v > f->max)
            return BAD_CRON("%s: %.*s is out of range %d-%d", f->name, (int)(p - start), start,
                            f->min, f->max);
        *out = (int)v;
    } else if (is_alpha(*p)) {
        while (is_alpha(*p))
            p++;
        if (!f->names)
            return BAD_CRON("%s: '%.*s' is not a number", f->name, (int)(p - start), start);
        *out = -1;
        for (int i = 0; f->names[i]; i++)
            if (p - start == 3 && strncasecmp(start, f->names[i], 3) == 0)
                *out = f->min_name + i;
        if (*out < 0)
            return BAD_CRON("%s: '%.*s' is not a %s name (%s)", f->name, (int)(p - start), start,
                            f->name, f->names_hint);
    } else if (*p == '\0') {
        return BAD_CRON("%s: expected a number at the end of '%s'", f->name, elem);
    } else {
        return BAD_CRON("%s: expected a number%s or '*' at '%s' in '%s'", f->name,
                        f->names ? " or a name" : "", p, elem);
    }
    *pp = p;
    return 0;
}

/* One comma-separated element: *, n, a-b, with an optional /step. */
static int parse_element(const struct cron_field *f, const char *elem, uint64_t *mask,
                         struct pv_error *err)
{
    const char *p = elem;
    int lo = 0, hi = 0, step = 1, single = 0, rc;
    if (*p == '*') {
        lo = f->min;
        hi = f->max;
        p++;
    } else {
        if ((rc = parse_value(f, &p, elem, &lo, err)) != 0)
            return rc;
        hi = lo;
        single = 1;
        if (*p == '-') {
            p++;
            if ((rc = parse_value(f, &p, elem, &hi, err)) != 0)
                return rc;
            if (hi < lo)
                return BAD_CRON("%s: range '%s' runs backwards", f->name, elem);
            single = 0;
        }
    }
    if (*p == '/') {
        const char *s = ++p;
        long v = 0;
        int span = f->max - f->min + 1;
        if (!is_digit(*p))
            return BAD_CRON("%s: expected a step number after '/' in '%s'", f->name, elem);
        while (is_digit(*p)) {
            if (v < 100000)
                v = v * 10 + (*p - '0');
            p++;
        }
        if (v < 1 || v > span)
            return BAD_CRON("%s: step %.*s is out of range 1-%d", f->name, (int)(p - s), s, span);
        step = (int)v;
        if (single)
            hi = f->max; /* a/n: a through the maximum */
    }
    if (*p != '\0')
        return BAD_CRON("%s: unexpected '%c' in '%s'", f->name, *p, elem);
    for (int v = lo; v <= hi; v += step)
        *mask |= UINT64_C(1) << v;
    return 0;
}

static int parse_field(const struct cron_field *f, const char *text, uint64_t *mask,
                       struct pv_error *err)
{
    char elem[PV_CRON_MAX_LEN + 1];
    const char *p = text;
    *mask = 0;
    for (;;) {
        size_t n = strcspn(p, ",");
        int rc;
        if (n == 0)
            return BAD_CRON("%s: empty list element in '%s'", f->name, text);
        memcpy(elem, p, n);
        elem[n] = '\0';
        if ((rc = parse_element(f, elem, mask, err)) != 0)
            return rc;
        if (p[n] == '\0')
            return 0;
        p += n + 1;
    }
}

void pv_cron_free(struct pv_cron *c)
{
    free(c);
}

int pv_cron_parse(const char *expr, struct pv_cron **out, struct pv_error *err)
{
    char buf[PV_CRON_MAX_LEN + 1], *tok[6], *save = NULL;
    struct pv_cron *c = NULL;
    uint64_t masks[5];
    size_t len;
    int n = 0, rc;
    *out = NULL;
    if (!expr)
        return BAD_CRON("cron expression is missing");
    len = strlen(expr);
    if (len > PV_CRON_MAX_LEN)
        return BAD_CRON("cron expression is longer than %d characters", PV_CRON_MAX_LEN);
    for (size_t i = 0; i < len; i++)
        if ((expr[i] < 0x20 || expr[i] > 0x7e) && expr[i] != '\t')
            return BAD_CRON("cron expression has a character not allowed "
                            "(byte 0x%02x at position %zu)",
                            (unsigned char)expr[i], i);
    memcpy(buf, expr, len + 1);
    for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save))
        if (n < 6)
            tok[n++] = t;
        else
            n++;
    if (n == 0)
        return BAD_CRON("cron expression is empty");
    if (tok[0][0] == '@') {
        size_t i;
        if (n != 1)
            return BAD_CRON("macro '%s' must stand alone", tok[0]);
        for (i = 0; i < sizeof macros / sizeof macros[0]; i++)
            if (strcasecmp(tok[0], macros[i].name) == 0)
                break;
        if (i == sizeof macros / sizeof macros[0])
            return BAD_CRON("unknown macro '%s'; use @yearly, @annually, @monthly, @weekly, "
                            "@daily, @midnight or @hourly",
                            tok[0]);
        rc = pv_cron_parse(macros[i].expansion, out, err);
        if (rc == 0)
            snprintf((*out)->text, sizeof (*out)->text, "%s", expr);
        return rc;
    }
    if (n != 5)
        return BAD_CRON("expected 5 fields (minute hour day-of-month month day-of-week) "
                        "but got %d",
                        n);
    for (int i = 0; i < 5; i++)
        if ((rc = parse_field(&fields[i], tok[i], &masks[i], err)) != 0)
            return rc;
    c = calloc(1, sizeof *c);
    if (!c)
        return pv_fail(err, out_of_memory,
                            "out of memory parsing a cron expression");
    c->minutes = masks[0];
    c->hours = masks[1];
    c->mdays = masks[2];
    c->months = masks[3];
    c->wdays = (masks[4] | masks[4] >> 7) & 0x7f; /* 7 is Sunday too */
    c->dom_star = tok[2][0] == '*';
    c->dow_star = tok[4][0] == '*';
    snprintf(c->text, sizeof c->text, "%s", expr);
    *out = c;
    return 0;
}

int pv_cron_follows_elapsed_time(const struct pv_cron *c)
{
    return c && c->hours == ALL_HOURS;
}

/* ---- the next firing ---------------------------------------------------- */

static int day_matches(const struct pv_cron *c, int mday, int wday)
{
    int dom = (int)(c->mdays >> mday & 1), dow = (int)(c->wdays >> wday & 1);
    return (c->dom_star || c->dow_star) ? dom && dow : dom || dow;
}

/* Smallest set bit >= from in mask (bits 0..63), or -1. */
static int next_bit(uint64_t mask, int from)
{
    mask &= ~UINT64_C(0) << from;
    return mask ? __builtin_ctzll(mask) : -1;
}

/* Days from a day that does not match to the next that may: the next day
 * either field allows (OR rule) or both could allow (AND rule, a lower
 * bound), or to the next month's 1st.  At least 1. */
static int days_to_candidate(const struct pv_cron *c, int mday, int dim, int wday)
{
    int dom = next_bit(c->mdays, mday + 1), n;
    int to_dom = dom < 0 || dom > dim ? dim + 1 - mday : dom - mday;
    /* 1-7, as a field is never empty */
    int to_dow = next_bit(c->wdays | c->wdays << 7, wday + 1) - wday;
    n = (c->dom_star || c->dow_star) ? (to_dom > to_dow ? to_dom : to_dow)
                                     : (to_dom < to_dow ? to_dom : to_dow);
    if (n > dim + 1 - mday)
        n = dim + 1 - mday;
    return n < 1 ? 1 : n;
}

/* The first wall time in [from, limit] on a whole minute that matches c;
 * 1 if found. */
static int wall_search(const struct pv_cron *c, int64_t from, int64_t limit, int64_t *out)
{
    int64_t minute = -floor_div(-from, 60), last = floor_div(limit, 60);
    int64_t days = floor_div(minute, 1440);
    int mod = (int)(minute - days * 1440); /* minute of the day */
    while (days * 1440 + mod <= last) {
        int64_t y;
        int mon, mday, wday, h, m, found;
        pv_tz_civil_from_days(days, &y, &mon, &mday);
        if (!(c->months >> mon & 1)) {
            days += pv_tz_days_in_month(y, mon) - mday + 1; /* the next month's first */
            mod = 0;
            continue;
        }
        wday = pv_tz_weekday(days);
        if (!day_matches(c, mday, wday)) {
            days += days_to_candidate(c, mday, pv_tz_days_in_month(y, mon), wday);
            mod = 0;
            continue;
        }
        for (h = mod / 60, m = mod % 60; h < 24; h++, m = 0) {
            int64_t at;
            if (!(c->hours >> h & 1) || (found = next_bit(c->minutes, m)) < 0)
                continue;
            at = days * 1440 + (int64_t)h * 60 + found;
            if (at > last)
                return 0;
            *out = at * 60;
            return 1;
        }
        days++;
        mod = 0;
    }
    return 0;
}

static int never_fires(const struct pv_cron *c, struct pv_error *err)
{
    return pv_fail(err, cron_never_fires,
                        "cron expression '%s' never fires (no match within %d years)", c->text,
                        PV_CRON_HORIZON_YEARS);
}

/* Every-hour schedules: the first instant > after whose wall time matches. */
static int next_elapsed(const struct pv_cron *c, const struct pv_tz *tz, int64_t after,
                        int64_t *next, struct pv_error *err)
{
    int64_t end = after > PV_TZ_MAX_UTC - HORIZON_SECS ? PV_TZ_MAX_UTC : after + HORIZON_SECS;
    for (int64_t u = after + 1, t; u <= end; u = t) {
        int64_t off = pv_tz_offset(tz, u, NULL), w;
        t = pv_tz_next_transition(tz, u);
        if (wall_search(c, u + off, (t <= end ? t - 1 : end) + off, &w)) {
            *next = w - off;
            return 0;
        }
        if (t > end)
            break;
    }
    return never_fires(c, err);
}

/* Fixed-hour schedules: the first matching wall time the clock has not
 * reached by `after`, at the first instant the clock reaches it. */
static int next_fixed(const struct pv_cron *c, const struct pv_tz *tz, int64_t after, int64_t *next,
                      struct pv_error *err)
{
    int64_t from = pv_tz_wall_reached(tz, after) + 1, w, u;
    int64_t limit = from > PV_TZ_MAX_UTC - HORIZON_SECS ? PV_TZ_MAX_UTC : from + HORIZON_SECS;
    int rc;
    while (wall_search(c, from, limit, &w)) {
        if ((rc = pv_tz_from_wall(tz, w, &u, NULL, NULL, err)) != 0)
            return rc;
        if (u > after) { /* always, unless the zone's rules are unusual */
            *next = u;
            return 0;
        }
        from = w + 60;
    }
    return never_fires(c, err);
}

int pv_cron_next(const struct pv_cron *c, const struct pv_tz *tz, int64_t after_utc,
                 int64_t *next_utc, struct pv_error *err)
{
    if (!c)
        return BAD_CRON("cron expression is missing");
    if (after_utc < PV_TZ_MIN_UTC || after_utc >= PV_TZ_MAX_UTC)
        return pv_fail(err, bad_time, "instant %lld is outside years 1 to 9999",
                            (long long)after_utc);
    return pv_cron_follows_elapsed_time(c) ? next_elapsed(c, tz, after_utc, next_utc, err)
                                           : next_fixed(c, tz, after_utc, next_utc, err);
}

/* ---- one-shot times ------------------------------------------------------ */

/* Exactly n digits at *pp. */
static int fixed_digits(const char **pp, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((*pp)[i]))
            return -1;
        v = v * 10 + ((*pp)[i] - '0');
    }
    *pp += n;
    *out = v;
    return 0;
}

#define BAD_TIME(...) pv_fail(err, bad_time, __VA_ARGS__)
#define TIME_FORM "2026-12-24T09:00, optionally with :SS and Z or an offset such as +01:00"

int pv_when_parse(const char *iso, const struct pv_tz *tz, int64_t *utc, struct pv_error *err)
{
    const char *p = iso;
    int year, mon, day, hour, min, sec = 0, has_off = 0, off = 0;
    int64_t wall;
    if (!iso || !*iso)
        return BAD_TIME("time is empty; expected " TIME_FORM);
    for (const char *q = iso; *q; q++)
        if (*q < 0x21 || *q > 0x7e || q - iso >= 64)
            return BAD_TIME("time has a character not allowed or is too long; expected " TIME_FORM);
    if (fixed_digits(&p, 4, &year) != 0 || *p++ != '-' || fixed_digits(&p, 2, &mon) != 0 ||
        *p++ != '-' || fixed_digits(&p, 2, &day) != 0 || *p++ != 'T' ||
        fixed_digits(&p, 2, &hour) != 0 || *p++ != ':' || fixed_digits(&p, 2, &min) != 0)
        return BAD_TIME("'%s' is not a time of the form " TIME_FORM, iso);
    if (*p == ':') {
        p++;
        if (fixed_digits(&p, 2, &sec) != 0)
            return BAD_TIME("'%s' has bad seconds; expected " TIME_FORM, iso);
        if (*p == '.') { /* fractional seconds: accepted and truncated */
            const char *f = ++p;
            while (is_digit(*p))
                p++;
            if (p == f || p - f > 9)
                return BAD_TIME("'%s' has a bad fraction of a second", iso);
        }
    }
    if (*p == 'Z') {
        has_off = 1;
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (fixed_digits(&p, 2, &oh) != 0 || *p++ != ':' || fixed_digits(&p, 2, &om) != 0 ||
            oh > 23 || om > 59)
            return BAD_TIME("'%s' has a bad UTC offset; expected +HH:MM or -HH:MM", iso);
        has_off = 1;
        off = sign * (oh * 3600 + om * 60);
    }
    if (*p != '\0')
        return BAD_TIME("'%s' has unexpected text '%s' at the end; expected " TIME_FORM, iso, p);
    if (year < 1 || mon < 1 || mon > 12 || day < 1 || day > pv_tz_days_in_month(year, mon))
        return BAD_TIME("'%s' is not a date in the calendar", iso);
    if (hour > 23 || min > 59 || sec > 59)
        return BAD_TIME("'%s' is not a time of day (00:00:00 to 23:59:59)", iso);
    wall = pv_tz_days_from_civil(year, mon, day) * 86400 + (int64_t)hour * 3600 +
           (int64_t)min * 60 + sec;
    if (!has_off)
        return pv_tz_from_wall(tz, wall, utc, NULL, NULL, err);
    if (wall - off < PV_TZ_MIN_UTC || wall - off > PV_TZ_MAX_UTC)
        return BAD_TIME("'%s' is outside years 1 to 9999", iso);
    *utc = wall - off;
    return 0;
}

int pv_when_format(int64_t utc, char *buf, size_t len)
{
    int64_t days, secs, year;
    int mon, day;
    if (utc < PV_TZ_MIN_UTC || utc > PV_TZ_MAX_UTC || len < PV_WHEN_FORMAT_LEN)
        return PV_EINVAL;
    days = floor_div(utc, 86400);
    secs = utc - days * 86400;
    pv_tz_civil_from_days(days, &year, &mon, &day);
    snprintf(buf, len, "%04lld-%02d-%02dT%02d:%02d:%02d.000Z", (long long)year, mon, day,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    return 0;
}
