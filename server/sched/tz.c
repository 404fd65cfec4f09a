/* tz.c -- TZif reader, POSIX TZ rule evaluator and wall-clock conversions.
 *
 * A zone is the 64-bit (v2+) block of its TZif file -- transition instants,
 * local time types and abbreviations -- plus the footer's POSIX TZ rule,
 * which governs every instant after the last transition.  Version 1 files
 * have only the 32-bit block and no footer; we read that block for them.
 * Files that count leap seconds ("right/...") are refused: their transition
 * times are not POSIX time.
 *
 * Two decisions a newcomer must know:
 *   - Nothing here reads or writes process-wide state except getenv("TZDIR")
 *     (reading the environment is safe; writing it is what races).  There is
 *     no cache: loading a zone costs one small file read, and a caller that
 *     needs a zone often keeps its struct pv_tz.
 *   - Wall time to instant (pv_tz_from_wall) does not guess.  It walks the
 *     offset segments that can contain a solution (offsets are limited to
 *     +-26 h, so a window of +-27 h around the wall time is enough), collects
 *     every instant that shows that wall time, and, when there is none,
 *     finds the forward jump that skipped it.
 */
#include "server/sched/tz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TZ_DEFAULT_DIR "/usr/share/zoneinfo"
#define TZ_FILE_MAX (INT64_C(1) << 20) /* real files are < 4 KiB */
#define TZ_MAX_OFFSET (26 * 3600)  /* RFC 8536 suggests -25:59:59..+25:59:59 */
#define TZ_WINDOW (INT64_C(27) * 3600) /* wider than any offset */
#define TZ_ABBR_MAX 16             /* POSIX TZ names, with the NUL */
#define SECS_PER_DAY 86400

struct tz_type {
    int32_t off;      /* UTC offset, east positive */
    int isdst;
    const char *abbr; /* points into pv_tz.abbrs */
};

/* One end of daylight-saving time in a POSIX TZ rule. */
struct tz_rule_date {
    char form;    /* 'J': Jn, 1-365 without Feb 29; 'D': n, 0-365; 'M': Mm.w.d */
    int n, month, week, wday;
    int32_t time; /* seconds after local midnight, -167 h..167 h */
};

struct tz_rule {
    int present; /* the footer is not empty */
    int has_dst;
    int32_t std_off, dst_off;
    char std_name[TZ_ABBR_MAX], dst_name[TZ_ABBR_MAX];
    struct tz_rule_date start, end;
};

struct pv_tz {
    char *name;
    size_t ntrans, ntypes;
    int64_t *trans;       /* strictly ascending */
    unsigned char *idx;   /* type of each transition */
    struct tz_type *types;
    char *abbrs;          /* the file's NUL-separated abbreviations */
    struct tz_rule rule;
};

/* ---- calendar ---------------------------------------------------------- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* Howard Hinnant's days_from_civil / civil_from_days: exact for the
 * proleptic Gregorian calendar, no tables, no loops. */
int64_t pv_tz_days_from_civil(int64_t year, int month, int day)
{
    int64_t y = year - (month <= 2);
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

void pv_tz_civil_from_days(int64_t days, int64_t *year, int *month, int *day)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = m;
    *year = yoe + era * 400 + (m <= 2);
}

static int is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int pv_tz_days_in_month(int64_t year, int month)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    return dim[month - 1] + (month == 2 && is_leap(year));
}

int pv_tz_weekday(int64_t days)
{
    return (int)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
}

/* ---- POSIX TZ rule (the TZif footer) ------------------------------------ */

/* std or dst name: three or more letters, or <...> of letters, digits,
 * '+' and '-'. */
static int rule_name(const char **pp, char out[TZ_ABBR_MAX])
{
    const char *p = *pp;
    size_t n = 0;
    if (*p == '<') {
        p++;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
               *p == '+' || *p == '-') {
            if (n + 1 >= TZ_ABBR_MAX)
                return -1;
            out[n++] = *p++;
        }
        if (*p != '>')
            return -1;
        p++;
    } else {
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
            if (n + 1 >= TZ_ABBR_MAX)
                return -1;
            out[n++] = *p++;
        }
    }
    if (n < 3)
        return -1;
    out[n] = '\0';
    *pp = p;
    return 0;
}

static int rule_number(const char **pp, int max, int *out)
{
    const char *p = *pp;
    int v = 0;
    if (*p < '0' || *p > '9')
        return -1;
    while (*p >= '0' && *p <= '9') {
        v = v * 10 + (*p++ - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    *pp = p;
    return 0;
}

/* [+-]hh[:mm[:ss]] with hh up to max_h. */
static int rule_hms(const char **pp, int max_h, int32_t *out)
{
    const char *p = *pp;
    int sign = 1, h, m = 0, s = 0;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    if (rule_number(&p, max_h, &h) != 0)
        return -1;
    if (*p == ':') {
        p++;
        if (rule_number(&p, 59, &m) != 0)
            return -1;
        if (*p == ':') {
            p++;
            if (rule_number(&p, 59, &s) != 0)
                return -1;
        }
    }
    *out = sign * (h * 3600 + m * 60 + s);
    *pp = p;
    return 0;
}

static int rule_date(const char **pp, struct tz_rule_date *d)
{
    const char *p = *pp;
    memset(d, 0, sizeof *d);
    if (*p == 'J') {
        p++;
        d->form = 'J';
        if (rule_number(&p, 365, &d->n) != 0 || d->n < 1)
            return -1;
    } else if (*p == 'M') {
        p++;
        d->form = 'M';
        if (rule_number(&p, 12, &d->month) != 0 || d->month < 1 || *p++ != '.' ||
            rule_number(&p, 5, &d->week) != 0 || d->week < 1 || *p++ != '.' ||
            rule_number(&p, 6, &d->wday) != 0)
            return -1;
    } else {
        d->form = 'D';
        if (rule_number(&p, 365, &d->n) != 0)
            return -1;
    }
    d->time = 2 * 3600;
    if (*p == '/') {
        p++;
        if (rule_hms(&p, 167, &d->time) != 0) /* RFC 8536 3.3.1: -167..167 */
            return -1;
    }
    *pp = p;
    return 0;
}

/* Parse a TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" or "<+0330>-3:30".
 * POSIX offsets count west, so "CET-1" is UTC+1. */
static int rule_parse(const char *s, struct tz_rule *r)
{
    const char *p = s;
    int32_t v;
    memset(r, 0, sizeof *r);
    if (*p == '\0')
        return 0;
    r->present = 1;
    if (rule_name(&p, r->std_name) != 0 || rule_hms(&p, 24, &v) != 0)
        return -1;
    r->std_off = -v;
    r->dst_off = r->std_off;
    if (*p == '\0')
        return 0;
    r->has_dst = 1;
    if (rule_name(&p, r->dst_name) != 0)
        return -1;
    r->dst_off = r->std_off + 3600;
    if (*p != ',' && *p != '\0') {
        if (rule_hms(&p, 24, &v) != 0)
            return -1;
        r->dst_off = -v;
    }
    if (*p == '\0')
        p = ",M3.2.0,M11.1.0"; /* no dates: POSIX leaves them to us; tz code uses the US rule */
    if (*p++ != ',' || rule_date(&p, &r->start) != 0 || *p++ != ',' || rule_date(&p, &r->end) != 0)
        return -1;
    return *p == '\0' ? 0 : -1;
}

/* Wall time (in the offset in force just before it) at which date d happens
 * in year y. */
static int64_t rule_wall(int64_t y, const struct tz_rule_date *d)
{
    int64_t day;
    if (d->form == 'J') {
        day = pv_tz_days_from_civil(y, 1, 1) + d->n - 1 + (is_leap(y) && d->n >= 60);
    } else if (d->form == 'D') {
        day = pv_tz_days_from_civil(y, 1, 1) + d->n;
    } else {
        int64_t first = pv_tz_days_from_civil(y, d->month, 1);
        day = first + (d->wday - pv_tz_weekday(first) + 7) % 7 + 7 * (int64_t)(d->week - 1);
        if (day >= first + pv_tz_days_in_month(y, d->month))
            day -= 7; /* week 5 means the last such day */
    }
    return day * SECS_PER_DAY + d->time;
}

/* The rule's state at t, and the first edge after t (INT64_MAX if none).
 * The edges of four years around t are sorted, so rules whose dates cross
 * the new year (southern hemisphere) or meet (all-year DST, written as
 * "0/0,J365/25") need no special case. */
static void rule_lookup(const struct tz_rule *r, int64_t t, int *isdst, int64_t *next)
{
    struct {
        int64_t at;
        int dst;
    } e[8] = {{0, 0}}, tmp;
    int64_t y0, days = floor_div(t + r->std_off, SECS_PER_DAY);
    int month, day, n = 0, state;
    *isdst = 0;
    *next = INT64_MAX;
    if (!r->has_dst)
        return;
    pv_tz_civil_from_days(days, &y0, &month, &day);
    for (int64_t y = y0 - 1; y <= y0 + 2; y++) {
        e[n].at = rule_wall(y, &r->start) - r->std_off; /* start is given in standard time */
        e[n++].dst = 1;
        e[n].at = rule_wall(y, &r->end) - r->dst_off; /* end is given in daylight time */
        e[n++].dst = 0;
    }
    for (int i = 1; i < n; i++) { /* insertion sort; ties: the end, then the start */
        for (int j = i; j > 0; j--) {
            if (e[j - 1].at < e[j].at || (e[j - 1].at == e[j].at && e[j - 1].dst <= e[j].dst))
                break;
            tmp = e[j];
            e[j] = e[j - 1];
            e[j - 1] = tmp;
        }
    }
    state = !e[0].dst;
    for (int i = 0; i < n; i++) {
        if (e[i].at > t) {
            *next = e[i].at;
            break;
        }
        state = e[i].dst;
    }
    *isdst = state;
}

/* ---- lookups ------------------------------------------------------------ */

static int64_t clamp_utc(int64_t t)
{
    return t < PV_TZ_MIN_UTC ? PV_TZ_MIN_UTC : t > PV_TZ_MAX_UTC ? PV_TZ_MAX_UTC : t;
}

/* Offset, DST flag and abbreviation at t (already clamped). */
static void lookup(const struct pv_tz *tz, int64_t t, int32_t *off, int *isdst, const char **abbr)
{
    const struct tz_type *ty;
    if (tz->ntrans > 0 && t < tz->trans[0]) {
        ty = &tz->types[0];
    } else if (tz->ntrans == 0 || t >= tz->trans[tz->ntrans - 1]) {
        if (tz->rule.present) {
            int64_t next;
            rule_lookup(&tz->rule, t, isdst, &next);
            *off = *isdst ? tz->rule.dst_off : tz->rule.std_off;
            *abbr = *isdst ? tz->rule.dst_name : tz->rule.std_name;
            return;
        }
        ty = &tz->types[tz->ntrans ? tz->idx[tz->ntrans - 1] : 0];
    } else {
        size_t lo = 0, hi = tz->ntrans - 1; /* trans[lo] <= t < trans[hi] */
        while (hi - lo > 1) {
            size_t mid = lo + (hi - lo) / 2;
            if (tz->trans[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        ty = &tz->types[tz->idx[lo]];
    }
    *off = ty->off;
    *isdst = ty->isdst;
    *abbr = ty->abbr;
}

int pv_tz_offset(const struct pv_tz *tz, int64_t utc, int *isdst)
{
    int32_t off = 0;
    int dst = 0;
    const char *abbr;
    if (tz)
        lookup(tz, clamp_utc(utc), &off, &dst, &abbr);
    if (isdst)
        *isdst = dst;
    return off;
}

int64_t pv_tz_next_transition(const struct pv_tz *tz, int64_t utc)
{
    int64_t next = INT64_MAX;
    int isdst;
    if (!tz || utc >= PV_TZ_MAX_UTC)
        return INT64_MAX;
    if (utc < PV_TZ_MIN_UTC)
        utc = PV_TZ_MIN_UTC;
    if (tz->ntrans > 0 && utc < tz->trans[tz->ntrans - 1]) {
        size_t lo = 0, hi = tz->ntrans - 1; /* first trans > utc is in [lo, hi] */
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (tz->trans[mid] > utc)
                hi = mid;
            else
                lo = mid + 1;
        }
        return tz->trans[lo];
    }
    if (tz->rule.present)
        rule_lookup(&tz->rule, utc, &isdst, &next);
    return next > PV_TZ_MAX_UTC ? INT64_MAX : next;
}

int64_t pv_tz_wall_reached(const struct pv_tz *tz, int64_t utc)
{
    int64_t best = utc + pv_tz_offset(tz, utc, NULL);
    int64_t u = utc - 2 * TZ_WINDOW, t;
    /* Only a segment ending less than 2 windows ago can have shown a later
     * wall time than the clock shows now. */
    while ((t = pv_tz_next_transition(tz, u)) <= utc) {
        int64_t w = t - 1 + pv_tz_offset(tz, t - 1, NULL);
        if (w > best)
            best = w;
        u = t;
    }
    return best;
}

int pv_tz_to_local(const struct pv_tz *tz, int64_t utc, struct tm *out, struct pv_error *err)
{
    int32_t off = 0;
    int isdst = 0, month, day;
    const char *abbr = "UTC";
    int64_t wall, days, secs, year;
    if (utc < PV_TZ_MIN_UTC || utc > PV_TZ_MAX_UTC)
        return pv_fail(err, bad_time, "instant %lld is outside years 1 to 9999",
                            (long long)utc);
    if (tz)
        lookup(tz, utc, &off, &isdst, &abbr);
    wall = utc + off;
    days = floor_div(wall, SECS_PER_DAY);
    secs = wall - days * SECS_PER_DAY;
    pv_tz_civil_from_days(days, &year, &month, &day);
    memset(out, 0, sizeof *out);
    out->tm_year = (int)(year - 1900);
    out->tm_mon = month - 1;
    out->tm_mday = day;
    out->tm_hour = (int)(secs / 3600);
    out->tm_min = (int)(secs / 60 % 60);
    out->tm_sec = (int)(secs % 60);
    out->tm_wday = pv_tz_weekday(days);
    out->tm_yday = (int)(days - pv_tz_days_from_civil(year, 1, 1));
    out->tm_isdst = isdst;
    out->tm_gmtoff = off;
    out->tm_zone = abbr;
    return 0;
}

int pv_tz_from_wall(const struct pv_tz *tz, int64_t wall, int64_t *utc, int64_t *utc_later,
                    enum pv_tz_kind *kind, struct pv_error *err)
{
    int64_t u, t, first = 0, last = 0, gap_end = 0;
    int found = 0, gap = 0;
    if (wall < PV_TZ_MIN_UTC || wall > PV_TZ_MAX_UTC)
        return pv_fail(err, bad_time, "local time is outside years 1 to 9999");
    /* Each segment [u, t) has one offset o; wall is shown in it iff
     * wall - o falls inside.  At each edge t the clock jumps from t + o to
     * t + o2, skipping [t + o, t + o2) when it jumps forward. */
    for (u = wall - TZ_WINDOW;; u = t) {
        int32_t o = pv_tz_offset(tz, u, NULL);
        int64_t cand = wall - o;
        t = pv_tz_next_transition(tz, u);
        if (cand >= u && cand < t) {
            if (!found++)
                first = cand;
            last = cand;
        }
        if (t > wall + TZ_WINDOW)
            break;
        if (!gap && wall >= t + o && wall < t + pv_tz_offset(tz, t, NULL)) {
            gap = 1;
            gap_end = t;
        }
    }
    if (found) {
        if (kind)
            *kind = found > 1 ? PV_TZ_AMBIGUOUS : PV_TZ_EXACT;
    } else if (gap) {
        first = last = gap_end;
        if (kind)
            *kind = PV_TZ_GAP;
    } else {
        return pv_fail(err, bad_tzif,
                            "time zone '%s' neither shows nor skips a local time",
                            tz ? tz->name : "UTC");
    }
    *utc = first;
    if (utc_later)
        *utc_later = last;
    return 0;
}

int pv_tz_from_local(const struct pv_tz *tz, const struct tm *local_wall, int64_t *utc,
                     int64_t *utc_later, enum pv_tz_kind *kind, struct pv_error *err)
{
    int64_t year = (int64_t)local_wall->tm_year + 1900 + floor_div(local_wall->tm_mon, 12);
    int month = (int)(local_wall->tm_mon - floor_div(local_wall->tm_mon, 12) * 12) + 1;
    int64_t wall;
    if (year < 0 || year > 10000)
        return pv_fail(err, bad_time, "year %lld is outside years 1 to 9999",
                            (long long)year);
    wall = (pv_tz_days_from_civil(year, month, 1) + local_wall->tm_mday - 1) * SECS_PER_DAY +
           (int64_t)local_wall->tm_hour * 3600 + (int64_t)local_wall->tm_min * 60 +
           local_wall->tm_sec;
    return pv_tz_from_wall(tz, wall, utc, utc_later, kind, err);
}

/* ---- loading ------------------------------------------------------------ */

void pv_tz_free(struct pv_tz *tz)
{
    if (!tz)
        return;
    free(tz->name);
    free(tz->trans);
    free(tz->idx);
    free(tz->types);
    free(tz->abbrs);
    free(tz);
}

const char *pv_tz_name(const struct pv_tz *tz)
{
    return tz ? tz->name : "UTC";
}

static int name_check(const char *name, struct pv_error *err)
{
    size_t len;
    if (!name || !*name)
        return pv_fail(err, bad_time_zone, "time zone name is empty");
    len = strlen(name);
    if (len > PV_TZ_NAME_MAX)
        return pv_fail(err, bad_time_zone,
                            "time zone name is longer than %d characters", PV_TZ_NAME_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '/' || c == '_' || c == '-' || c == '+')) {
            if (c == '.')
                return pv_fail(err, bad_time_zone,
                                    "time zone name '%s' must not contain '.' or '..'", name);
            return pv_fail(err, bad_time_zone,
                                "time zone name has a character not allowed (byte 0x%02x at "
                                "position %zu); use an IANA name such as Europe/Berlin",
                                c, i);
        }
    }
    if (name[0] == '/')
        return pv_fail(err, bad_time_zone,
                            "time zone name '%s' must not start with '/'", name);
    if (name[len - 1] == '/' || strstr(name, "//"))
        return pv_fail(err, bad_time_zone,
                            "time zone name '%s' has an empty component", name);
    return 0;
}

static int read_file(const char *path, unsigned char **data, size_t *len, int *errnum)
{
    struct stat st;
    unsigned char *buf = NULL;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;
    *errnum = 0;
    if (fd < 0) {
        *errnum = errno;
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        *errnum = errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        *errnum = EISDIR; /* a directory such as "Europe", or a device */
        goto out;
    }
    if (st.st_size > TZ_FILE_MAX) {
        *errnum = EFBIG;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        *errnum = ENOMEM;
        goto out;
    }
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            *errnum = errno;
            goto out;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    *data = buf;
    *len = got;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

struct tzif_counts {
    size_t isut, isstd, leap, time, type, chars;
};

static int tzif_header(const unsigned char *p, size_t len, struct tzif_counts *c, int *version)
{
    if (len < 44 || memcmp(p, "TZif", 4) != 0)
        return -1;
    *version = p[4] == 0 ? 1 : p[4] - '0';
    c->isut = be32(p + 20);
    c->isstd = be32(p + 24);
    c->leap = be32(p + 28);
    c->time = be32(p + 32);
    c->type = be32(p + 36);
    c->chars = be32(p + 40);
    return 0;
}

static size_t tzif_block_len(const struct tzif_counts *c, size_t tsize)
{
    return c->time * tsize + c->time + c->type * 6 + c->chars + c->leap * (tsize + 4) + c->isstd +
           c->isut;
}

#define BAD_TZIF(...) pv_fail(err, bad_tzif, __VA_ARGS__)

/* Fill tz from a TZif file's bytes. */
static int tzif_parse(struct pv_tz *tz, const unsigned char *p, size_t len, struct pv_error *err)
{
    struct tzif_counts c;
    int version;
    size_t tsize = 4, off;
    const unsigned char *d;
    char footer[128] = "";
    if (tzif_header(p, len, &c, &version) != 0)
        return pv_fail(err, unknown_time_zone, "'%s' is not a time zone",
                            tz->name);
    if (version < 1 || version > 4)
        return BAD_TZIF("time zone file for '%s' has unknown version %d", tz->name, version);
    off = 44 + tzif_block_len(&c, 4);
    if (version >= 2) {
        /* Skip the 32-bit block; the 64-bit one follows with its own header. */
        if (off > len || tzif_header(p + off, len - off, &c, &version) != 0)
            return BAD_TZIF("time zone file for '%s' is truncated", tz->name);
        p += off;
        len -= off;
        tsize = 8;
    }
    off = 44 + tzif_block_len(&c, tsize);
    if (off > len)
        return BAD_TZIF("time zone file for '%s' is truncated", tz->name);
    if (c.leap > 0)
        return pv_fail(err, unknown_time_zone,
                            "time zone '%s' counts leap seconds, which is not supported; use "
                            "the zone without the 'right/' prefix",
                            tz->name);
    if (c.type == 0 || c.type > 256 || c.chars == 0 || (c.isstd && c.isstd != c.type) ||
        (c.isut && c.isut != c.type))
        return BAD_TZIF("time zone file for '%s' has inconsistent counts", tz->name);
    if (version >= 2) {
        const unsigned char *f = p + off, *end = p + len, *nl;
        if (f >= end || *f != '\n' || !(nl = memchr(f + 1, '\n', (size_t)(end - f - 1))) ||
            (size_t)(nl - f - 1) >= sizeof footer)
            return BAD_TZIF("time zone file for '%s' has no valid footer", tz->name);
        memcpy(footer, f + 1, (size_t)(nl - f - 1));
        footer[nl - f - 1] = '\0';
    }
    tz->ntrans = c.time;
    tz->ntypes = c.type;
    tz->trans = malloc((c.time ? c.time : 1) * sizeof *tz->trans);
    tz->idx = malloc(c.time ? c.time : 1);
    tz->types = malloc(c.type * sizeof *tz->types);
    tz->abbrs = malloc(c.chars + 1);
    if (!tz->trans || !tz->idx || !tz->types || !tz->abbrs)
        return pv_fail(err, out_of_memory, "out of memory loading '%s'",
                            tz->name);
    d = p + 44;
    for (size_t i = 0; i < c.time; i++, d += tsize) {
        tz->trans[i] = tsize == 8 ? be64(d) : (int32_t)be32(d);
        if (i > 0 && tz->trans[i] <= tz->trans[i - 1])
            return BAD_TZIF("time zone file for '%s' has transitions out of order", tz->name);
    }
    for (size_t i = 0; i < c.time; i++, d++) {
        if (*d >= c.type)
            return BAD_TZIF("time zone file for '%s' names a missing local time type", tz->name);
        tz->idx[i] = *d;
    }
    memcpy(tz->abbrs, d + c.type * 6, c.chars);
    tz->abbrs[c.chars] = '\0';
    for (size_t i = 0; i < c.type; i++, d += 6) {
        int32_t utoff = (int32_t)be32(d);
        if (utoff <= -TZ_MAX_OFFSET || utoff >= TZ_MAX_OFFSET || d[4] > 1 || d[5] >= c.chars)
            return BAD_TZIF("time zone file for '%s' has a bad local time type", tz->name);
        tz->types[i].off = utoff;
        tz->types[i].isdst = d[4];
        tz->types[i].abbr = tz->abbrs + d[5];
    }
    if (rule_parse(footer, &tz->rule) != 0 || tz->rule.std_off <= -TZ_MAX_OFFSET ||
        tz->rule.std_off >= TZ_MAX_OFFSET || tz->rule.dst_off <= -TZ_MAX_OFFSET ||
        tz->rule.dst_off >= TZ_MAX_OFFSET)
        return BAD_TZIF("time zone file for '%s' has a bad TZ rule '%s'", tz->name, footer);
    return 0;
}

static int load_utc(struct pv_tz *tz)
{
    tz->ntypes = 1;
    tz->types = calloc(1, sizeof *tz->types);
    tz->abbrs = strdup("UTC");
    if (!tz->types || !tz->abbrs)
        return -1;
    tz->types[0].abbr = tz->abbrs;
    return 0;
}

int pv_tz_load(const char *name, struct pv_tz **out, struct pv_error *err)
{
    struct pv_tz *tz = NULL;
    unsigned char *data = NULL;
    char *path = NULL;
    const char *dir;
    size_t len;
    int rc, errnum;
    *out = NULL;
    if ((rc = name_check(name, err)) != 0)
        return rc;
    tz = calloc(1, sizeof *tz);
    if (!tz || !(tz->name = strdup(name))) {
        rc = pv_fail(err, out_of_memory, "out of memory loading a time zone");
        goto out;
    }
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0) {
        if (load_utc(tz) != 0)
            rc = pv_fail(err, out_of_memory, "out of memory loading UTC");
        goto out;
    }
    dir = getenv("TZDIR");
    if (!dir || !*dir)
        dir = TZ_DEFAULT_DIR;
    if (asprintf(&path, "%s/%s", dir, name) < 0) {
        path = NULL;
        rc = pv_fail(err, out_of_memory, "out of memory loading '%s'", name);
        goto out;
    }
    if (read_file(path, &data, &len, &errnum) != 0) {
        if (errnum == ENOENT || errnum == ENOTDIR || errnum == EISDIR) {
            rc = pv_fail(err, unknown_time_zone, "unknown time zone '%s'", name);
        } else {
            char buf[128];
            rc = pv_fail(err, bad_tzif,
                              "cannot read time zone '%s' from %s: %s", name, dir,
                              strerror_r(errnum, buf, sizeof buf));
        }
        goto out;
    }
    rc = tzif_parse(tz, data, len, err);
out:
    free(path);
    free(data);
    if (rc != 0)
        pv_tz_free(tz);
    else
        *out = tz;
    return rc;
}
