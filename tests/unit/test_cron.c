/* test_cron.c -- scheduling time for placement jobs (server/placement/cron.c
 * and tz.c): every cron syntax form and parse error, the Vixie day rule,
 * short months and leap days, DST in both directions in Europe, America,
 * Australia and on Lord Howe Island (30-minute shifts), the TZif footer rule
 * (real zones in 2040, and hand-made files for the Jn, n, <quoted> and
 * all-year forms, version 1 files and damaged ones), zone name checks,
 * one-shot times, and one zone shared by several threads.  Real zones come from
 * /usr/share/zoneinfo (Debian's tzdata); hand-made ones from a temporary
 * TZDIR that each test sets and clears itself. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <pthread.h>
#include <cmocka.h>
#include "server/sched/cron.h"
#include "server/sched/tz.h"

/* ---- helpers ------------------------------------------------------------ */

static struct pv_tz *zone(const char *name)
{
    struct pv_error e = {0};
    struct pv_tz *tz = NULL;
    if (pv_tz_load(name, &tz, &e) != 0)
        fail_msg("zone '%s' refused: %s: %s", name, e.code, e.message);
    return tz;
}

static struct pv_cron *cron(const char *expr)
{
    struct pv_error e = {0};
    struct pv_cron *c = NULL;
    if (pv_cron_parse(expr, &c, &e) != 0)
        fail_msg("'%s' refused: %s: %s", expr, e.code, e.message);
    return c;
}

/* An instant written "2026-03-29T01:00Z" (or with seconds). */
static int64_t at(const char *iso)
{
    struct pv_error e = {0};
    int64_t t;
    if (pv_when_parse(iso, NULL, &t, &e) != 0)
        fail_msg("'%s' refused: %s: %s", iso, e.code, e.message);
    return t;
}

static const char *fmt(int64_t t, char buf[PV_WHEN_FORMAT_LEN])
{
    assert_int_equal(pv_when_format(t, buf, PV_WHEN_FORMAT_LEN), 0);
    return buf;
}

/* Successive firings of expr in zone after `after`; want is NULL-terminated
 * and written "YYYY-MM-DDTHH:MMZ" (UTC). */
static void expect_seq(const char *expr, const char *zone_name, const char *after,
                       const char *const *want)
{
    struct pv_tz *tz = zone_name ? zone(zone_name) : NULL;
    struct pv_cron *c = cron(expr);
    struct pv_error e = {0};
    int64_t t = at(after), next;
    char got[PV_WHEN_FORMAT_LEN], exp[PV_WHEN_FORMAT_LEN];
    for (int i = 0; want[i]; i++) {
        if (pv_cron_next(c, tz, t, &next, &e) != 0)
            fail_msg("'%s' in %s after %s: %s: %s", expr, zone_name ? zone_name : "UTC",
                     fmt(t, got), e.code, e.message);
        fmt(at(want[i]), exp);
        if (strcmp(fmt(next, got), exp) != 0)
            fail_msg("'%s' in %s, firing %d after %s: got %s, want %s", expr,
                     zone_name ? zone_name : "UTC", i + 1, after, got, exp);
        t = next;
    }
    pv_cron_free(c);
    pv_tz_free(tz);
}

#define SEQ(expr, zone_name, after, ...)                                                          \
    expect_seq(expr, zone_name, after, (const char *const[]){__VA_ARGS__, NULL})

/* How many times expr fires in (from, to]. */
static int count_firings(const char *expr, const char *zone_name, const char *from, const char *to)
{
    struct pv_tz *tz = zone(zone_name);
    struct pv_cron *c = cron(expr);
    struct pv_error e = {0};
    int64_t t = at(from), end = at(to), next;
    int n = 0;
    for (;;) {
        assert_int_equal(pv_cron_next(c, tz, t, &next, &e), 0);
        if (next > end)
            break;
        assert_true(next > t);
        n++;
        t = next;
    }
    pv_cron_free(c);
    pv_tz_free(tz);
    return n;
}

static void cron_err(const char *expr, const char *mention)
{
    struct pv_error e = {0};
    struct pv_cron *c = NULL;
    if (pv_cron_parse(expr, &c, &e) == 0)
        fail_msg("'%s' accepted", expr);
    assert_null(c);
    assert_int_equal(e.err, PV_EINVAL);
    assert_string_equal(e.code, "bad_cron");
    if (mention && !strstr(e.message, mention))
        fail_msg("'%s': message '%s' does not mention '%s'", expr, e.message, mention);
}

static void never(const char *expr)
{
    struct pv_cron *c = cron(expr);
    struct pv_error e = {0};
    int64_t next;
    clock_t t0 = clock();
    assert_int_equal(pv_cron_next(c, NULL, at("2026-12-02T00:00Z"), &next, &e), PV_EINVAL);
    assert_string_equal(e.code, "cron_never_fires");
    assert_non_null(strstr(e.message, expr));
    /* it skips months and days; a minute-by-minute scan would take seconds */
    assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 0.5);
    pv_cron_free(c);
}

static void zone_err(const char *name, const char *code, const char *mention)
{
    struct pv_error e = {0};
    struct pv_tz *tz = (struct pv_tz *)&e; /* must be reset to NULL */
    if (pv_tz_load(name, &tz, &e) == 0)
        fail_msg("zone '%s' accepted", name);
    assert_null(tz);
    assert_string_equal(e.code, code);
    if (mention && !strstr(e.message, mention))
        fail_msg("'%s': message '%s' does not mention '%s'", name, e.message, mention);
}

static void when_ok(const char *iso, const char *zone_name, const char *want)
{
    struct pv_tz *tz = zone_name ? zone(zone_name) : NULL;
    struct pv_error e = {0};
    int64_t t;
    char got[PV_WHEN_FORMAT_LEN];
    if (pv_when_parse(iso, tz, &t, &e) != 0)
        fail_msg("'%s' refused: %s: %s", iso, e.code, e.message);
    assert_string_equal(fmt(t, got), want);
    pv_tz_free(tz);
}

static void when_err(const char *iso, const char *mention)
{
    struct pv_error e = {0};
    int64_t t = 0;
    if (pv_when_parse(iso, NULL, &t, &e) == 0)
        fail_msg("'%s' accepted", iso);
    assert_int_equal(e.err, PV_EINVAL);
    assert_string_equal(e.code, "bad_time");
    if (mention && !strstr(e.message, mention))
        fail_msg("'%s': message '%s' does not mention '%s'", iso, e.message, mention);
}

/* ---- hand-made TZif files ------------------------------------------------ */

static char tzdir[64];

struct mk_type {
    int32_t off;
    int isdst;
    int abbr;
};

static void put32(FILE *f, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    fwrite(b, 1, 4, f);
}

static void put64(FILE *f, int64_t v)
{
    put32(f, (uint32_t)((uint64_t)v >> 32));
    put32(f, (uint32_t)v);
}

/* Write name into tzdir: version 1 (32-bit block only) or 2+ (both blocks
 * and the footer).  leap adds one leap-second record. */
static void write_tzif(const char *name, int version, int ntrans, const int64_t *trans,
                       const unsigned char *idx, int ntypes, const struct mk_type *types,
                       const char *chars, int nchars, const char *footer, int leap)
{
    char path[128];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", tzdir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    for (int block = 0; block < (version >= 2 ? 2 : 1); block++) {
        static const char zeros[15];
        fwrite("TZif", 1, 4, f);
        fputc(version >= 2 ? '0' + version : 0, f);
        fwrite(zeros, 1, 15, f);
        put32(f, 0);
        put32(f, 0);
        put32(f, (uint32_t)leap);
        put32(f, (uint32_t)ntrans);
        put32(f, (uint32_t)ntypes);
        put32(f, (uint32_t)nchars);
        for (int i = 0; i < ntrans; i++) {
            if (block == 0)
                put32(f, (uint32_t)trans[i]);
            else
                put64(f, trans[i]);
        }
        if (ntrans > 0)
            fwrite(idx, 1, (size_t)ntrans, f);
        for (int i = 0; i < ntypes; i++) {
            put32(f, (uint32_t)types[i].off);
            fputc(types[i].isdst, f);
            fputc(types[i].abbr, f);
        }
        fwrite(chars, 1, (size_t)nchars, f);
        for (int i = 0; i < leap; i++) {
            if (block == 0)
                put32(f, 78796800);
            else
                put64(f, 78796800);
            put32(f, 1);
        }
    }
    if (version >= 2)
        fprintf(f, "\n%s\n", footer);
    fclose(f);
}

/* A v2 file with no transitions, type 0 = the rule's standard time. */
static void write_footer_zone(const char *name, int32_t std_off, const char *footer)
{
    struct mk_type t = {std_off, 0, 0};
    write_tzif(name, 2, 0, NULL, NULL, 1, &t, "STD", 4, footer, 0);
}

static int tzdir_setup(void **state)
{
    (void)state;
    snprintf(tzdir, sizeof tzdir, "/tmp/pv_test_tz.XXXXXX");
    assert_non_null(mkdtemp(tzdir));
    setenv("TZDIR", tzdir, 1); /* the test is single-threaded here */
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int tzdir_teardown(void **state)
{
    (void)state;
    unsetenv("TZDIR");
    return nftw(tzdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void expect_offset(const struct pv_tz *tz, const char *when, int off, int isdst)
{
    int dst = -1;
    int got = pv_tz_offset(tz, at(when), &dst);
    if (got != off || dst != isdst)
        fail_msg("%s at %s: offset %d dst %d, want %d dst %d", pv_tz_name(tz), when, got, dst, off,
                 isdst);
}

/* ---- cron syntax ---------------------------------------------------------- */

static void syntax_forms(void **state)
{
    (void)state;
    SEQ("* * * * *", NULL, "2026-01-01T00:00:30Z", "2026-01-01T00:01Z", "2026-01-01T00:02Z");
    SEQ("5 * * * *", NULL, "2026-01-01T00:05Z", "2026-01-01T01:05Z", "2026-01-01T02:05Z");
    SEQ("10-20/5 * * * *", NULL, "2026-01-01T00:00Z", "2026-01-01T00:10Z", "2026-01-01T00:15Z",
        "2026-01-01T00:20Z", "2026-01-01T01:10Z");
    SEQ("*/20 * * * *", NULL, "2026-01-01T00:00Z", "2026-01-01T00:20Z", "2026-01-01T00:40Z",
        "2026-01-01T01:00Z");
    SEQ("7/20 * * * *", NULL, "2026-01-01T00:00Z", "2026-01-01T00:07Z", "2026-01-01T00:27Z",
        "2026-01-01T00:47Z", "2026-01-01T01:07Z");
    SEQ("1,3-4,50-59/9 * * * *", NULL, "2026-01-01T00:00Z", "2026-01-01T00:01Z",
        "2026-01-01T00:03Z", "2026-01-01T00:04Z", "2026-01-01T00:50Z", "2026-01-01T00:59Z",
        "2026-01-01T01:01Z");
    SEQ("0 9-17/4 * * *", NULL, "2026-01-01T10:00Z", "2026-01-01T13:00Z", "2026-01-01T17:00Z",
        "2026-01-02T09:00Z");
    SEQ("30 22/1 * * *", NULL, "2026-01-01T22:30Z", "2026-01-01T23:30Z", "2026-01-02T22:30Z");
    SEQ("0 0 1-31/10 * *", NULL, "2026-01-01T00:00Z", "2026-01-11T00:00Z", "2026-01-21T00:00Z",
        "2026-01-31T00:00Z", "2026-02-01T00:00Z");
    SEQ("0 0 1 */4 *", NULL, "2026-01-01T00:00Z", "2026-05-01T00:00Z", "2026-09-01T00:00Z",
        "2027-01-01T00:00Z");
    /* extra blanks and tabs between fields */
    SEQ("  0\t12   * *  * ", NULL, "2026-01-01T00:00Z", "2026-01-01T12:00Z");
    /* a later day in the same minute, and the seconds of `after` */
    SEQ("0 0 * * *", NULL, "2026-01-01T00:00:00Z", "2026-01-02T00:00Z");
    SEQ("0 0 * * *", NULL, "2025-12-31T23:59:59Z", "2026-01-01T00:00Z");
}

static void names_and_macros(void **state)
{
    (void)state;
    /* 2026-12-02 is a Wednesday */
    SEQ("0 0 * * MON-fri", NULL, "2026-12-02T12:00Z", "2026-12-03T00:00Z", "2026-12-04T00:00Z",
        "2026-12-07T00:00Z");
    SEQ("0 0 * * sun,Sat", NULL, "2026-12-02T12:00Z", "2026-12-05T00:00Z", "2026-12-06T00:00Z",
        "2026-12-12T00:00Z");
    SEQ("0 0 1 jan,Jul *", NULL, "2026-12-02T00:00Z", "2027-01-01T00:00Z", "2027-07-01T00:00Z");
    SEQ("0 0 1 JAN-MAY/2 *", NULL, "2026-12-02T00:00Z", "2027-01-01T00:00Z", "2027-03-01T00:00Z",
        "2027-05-01T00:00Z", "2028-01-01T00:00Z");
    SEQ("0 0 1 dec-DEC *", NULL, "2026-01-01T00:00Z", "2026-12-01T00:00Z");
    SEQ("@yearly", NULL, "2026-12-02T00:00Z", "2027-01-01T00:00Z", "2028-01-01T00:00Z");
    SEQ("@annually", NULL, "2026-12-02T00:00Z", "2027-01-01T00:00Z");
    SEQ("@monthly", NULL, "2026-12-02T00:00Z", "2027-01-01T00:00Z", "2027-02-01T00:00Z");
    SEQ("@weekly", NULL, "2026-12-02T00:00Z", "2026-12-06T00:00Z", "2026-12-13T00:00Z");
    SEQ("@daily", NULL, "2026-12-02T00:00Z", "2026-12-03T00:00Z");
    SEQ("@midnight", NULL, "2026-12-02T00:00Z", "2026-12-03T00:00Z");
    SEQ("@hourly", NULL, "2026-12-02T00:00Z", "2026-12-02T01:00Z", "2026-12-02T02:00Z");
    SEQ(" @DAILY ", NULL, "2026-12-02T00:00Z", "2026-12-03T00:00Z");
}

static void day_of_week_seven(void **state)
{
    (void)state;
    SEQ("0 0 * * 7", NULL, "2026-12-02T00:00Z", "2026-12-06T00:00Z", "2026-12-13T00:00Z");
    SEQ("0 0 * * 0", NULL, "2026-12-02T00:00Z", "2026-12-06T00:00Z");
    SEQ("0 0 * * 5-7", NULL, "2026-12-02T00:00Z", "2026-12-04T00:00Z", "2026-12-05T00:00Z",
        "2026-12-06T00:00Z", "2026-12-11T00:00Z");
    SEQ("0 0 * * 0-7", NULL, "2026-12-02T00:00Z", "2026-12-03T00:00Z");
    SEQ("0 0 * * 6/1", NULL, "2026-12-02T00:00Z", "2026-12-05T00:00Z", "2026-12-06T00:00Z",
        "2026-12-12T00:00Z"); /* 6 through 7: Saturday and Sunday */
}

static void dom_dow_or_rule(void **state)
{
    (void)state;
    /* both restricted: the 13th OR any Friday (2026-12-04 is a Friday) */
    SEQ("0 0 13 * FRI", NULL, "2026-12-02T00:00Z", "2026-12-04T00:00Z", "2026-12-11T00:00Z",
        "2026-12-13T00:00Z", "2026-12-18T00:00Z");
    SEQ("0 0 1,15 * 1", NULL, "2026-12-02T00:00Z", "2026-12-07T00:00Z", "2026-12-14T00:00Z",
        "2026-12-15T00:00Z", "2026-12-21T00:00Z");
    /* day-of-month starts with '*': both must match (odd-numbered Mondays) */
    SEQ("0 0 */2 * MON", NULL, "2026-12-02T00:00Z", "2026-12-07T00:00Z", "2026-12-21T00:00Z",
        "2027-01-11T00:00Z");
    /* day-of-week starts with '*': the day of the month alone */
    SEQ("0 0 13 * */1", NULL, "2026-12-02T00:00Z", "2026-12-13T00:00Z", "2027-01-13T00:00Z");
    /* "never" on its own day field, but the OR rule makes it fire on Mondays */
    SEQ("0 0 30 2 MON", NULL, "2026-12-02T00:00Z", "2027-02-01T00:00Z", "2027-02-08T00:00Z");
    /* AND with rare combinations: Feb 29 on a Sunday (2088, 2128: 40 years
     * because 2100 is not a leap year), Feb 1 on a Monday (2027, 2038) */
    SEQ("0 0 29 2 */7", NULL, "2026-12-02T00:00Z", "2032-02-29T00:00Z", "2060-02-29T00:00Z",
        "2088-02-29T00:00Z", "2128-02-29T00:00Z", "2156-02-29T00:00Z");
    SEQ("0 0 */30 2 MON", NULL, "2026-12-02T00:00Z", "2027-02-01T00:00Z", "2038-02-01T00:00Z");
}

static void month_lengths_and_leap_days(void **state)
{
    (void)state;
    SEQ("0 0 29 2 *", NULL, "2026-12-02T00:00Z", "2028-02-29T00:00Z", "2032-02-29T00:00Z");
    SEQ("0 0 29 2 *", NULL, "2096-03-01T00:00Z", "2104-02-29T00:00Z"); /* 2100 is not leap */
    SEQ("0 0 31 * *", NULL, "2026-01-31T00:00Z", "2026-03-31T00:00Z", "2026-05-31T00:00Z",
        "2026-07-31T00:00Z", "2026-08-31T00:00Z", "2026-10-31T00:00Z", "2026-12-31T00:00Z",
        "2027-01-31T00:00Z");
    SEQ("0 0 30 * *", NULL, "2026-01-30T00:00Z", "2026-03-30T00:00Z");
    SEQ("59 23 28-31 2 *", NULL, "2027-02-28T23:59Z", "2028-02-28T23:59Z", "2028-02-29T23:59Z");
}

static void parse_errors(void **state)
{
    char longer[PV_CRON_MAX_LEN + 8];
    (void)state;
    cron_err("0 25 * * *", "hour: 25 is out of range 0-23");
    cron_err("60 * * * *", "minute: 60 is out of range 0-59");
    cron_err("* * 0 * *", "day-of-month: 0 is out of range 1-31");
    cron_err("* * 32 * *", "day-of-month: 32");
    cron_err("* * * 13 *", "month: 13 is out of range 1-12");
    cron_err("* * * 0 *", "month: 0");
    cron_err("* * * * 8", "day-of-week: 8 is out of range 0-7");
    cron_err("99999999999999999999 * * * *", "minute: 99999999999999999999 is out of range");
    cron_err("* MON * * *", "hour: 'MON' is not a number");
    cron_err("* * * JANUARY *", "month: 'JANUARY' is not a month name");
    cron_err("* * * * FUN", "day-of-week: 'FUN' is not a day-of-week name");
    cron_err("* * * * JAN", "day-of-week: 'JAN'");
    cron_err("* 5-2 * * *", "hour: range '5-2' runs backwards");
    cron_err("* * * * FRI-MON", "FRI-MON");
    cron_err("*/0 * * * *", "minute: step 0 is out of range 1-60");
    cron_err("*/61 * * * *", "minute: step 61");
    cron_err("*/ * * * *", "minute: expected a step number after '/' in '*/'");
    cron_err("*/x * * * *", "minute");
    cron_err("1-5/2/3 * * * *", "minute: unexpected '/' in '1-5/2/3'");
    cron_err("5x * * * *", "minute: unexpected 'x' in '5x'");
    cron_err("** * * * *", "minute: unexpected '*'");
    cron_err("1,,2 * * * *", "minute: empty list element in '1,,2'");
    cron_err("1, * * * *", "minute: empty list element");
    cron_err(",1 * * * *", "minute: empty list element");
    cron_err("-5 * * * *", "minute: expected a number or '*' at '-5'");
    cron_err("1- * * * *", "minute: expected a number");
    cron_err("? * * * *", "minute");
    cron_err("* * * *", "expected 5 fields");
    cron_err("* * * * * *", "but got 6");
    cron_err("* * * * * * * *", "but got 8");
    cron_err("", "empty");
    cron_err("   \t ", "empty");
    cron_err(NULL, "missing");
    cron_err("@reboot", "unknown macro '@reboot'");
    cron_err("@daily 5", "must stand alone");
    cron_err("0 0 * * *\n", "byte 0x0a");
    cron_err("0 0 * * \xc3\xa9", "byte 0xc3");
    memset(longer, '*', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    cron_err(longer, "longer than 256");
}

static void never_firing(void **state)
{
    (void)state;
    never("0 0 30 2 *");
    never("0 0 31 2 *");
    never("0 0 31 4,6,9,11 *");
    never("0 0 31 APR-JUN/2 *");
    never("0 0 30-31 2 *");
    never("0 0 31 FEB,APR *");
    pv_cron_free(NULL);
    pv_tz_free(NULL);
}

/* ---- daylight-saving time ------------------------------------------------- */

static void dst_europe_berlin(void **state)
{
    (void)state;
    /* 2026-03-29: 02:00 CET -> 03:00 CEST at 01:00Z */
    SEQ("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00Z", "2026-03-29T01:00Z", /* 03:00 CEST */
        "2026-03-30T00:30Z");
    SEQ("*/15 2 * * *", "Europe/Berlin", "2026-03-28T23:00Z", "2026-03-29T01:00Z", /* once */
        "2026-03-30T00:00Z");
    SEQ("30 2,3 * * *", "Europe/Berlin", "2026-03-28T23:00Z", "2026-03-29T01:00Z",
        "2026-03-29T01:30Z", "2026-03-30T00:30Z");
    SEQ("0 3 * * *", "Europe/Berlin", "2026-03-28T12:00Z", "2026-03-29T01:00Z", "2026-03-30T01:00Z");
    SEQ("*/15 * * * *", "Europe/Berlin", "2026-03-29T00:40Z", "2026-03-29T00:45Z", /* 01:45 CET */
        "2026-03-29T01:00Z", "2026-03-29T01:15Z");
    /* 2026-10-25: 03:00 CEST -> 02:00 CET at 01:00Z; 02:00-02:59 twice */
    SEQ("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00Z", "2026-10-25T00:30Z", /* first pass */
        "2026-10-26T01:30Z");
    SEQ("30 2 * * *", "Europe/Berlin", "2026-10-25T01:10Z", "2026-10-26T01:30Z"); /* 2nd pass */
    SEQ("45 2 * * *", "Europe/Berlin", "2026-10-25T00:40Z", "2026-10-25T00:45Z");
    {
        struct pv_tz *tz = zone("Europe/Berlin");
        /* during the second pass the clock has already shown 02:59:59 */
        assert_int_equal(pv_tz_wall_reached(tz, at("2026-10-25T01:10Z")), at("2026-10-25T02:59:59Z"));
        assert_int_equal(pv_tz_wall_reached(tz, at("2026-10-25T00:10Z")), at("2026-10-25T02:10Z"));
        assert_int_equal(pv_tz_wall_reached(tz, at("2026-10-25T02:10Z")), at("2026-10-25T03:10Z"));
        assert_int_equal(pv_tz_next_transition(tz, at("2026-10-24T00:00Z")), at("2026-10-25T01:00Z"));
        pv_tz_free(tz);
    }
    SEQ("0 3 * * *", "Europe/Berlin", "2026-10-24T12:00Z", "2026-10-25T02:00Z");
    SEQ("*/30 * * * *", "Europe/Berlin", "2026-10-24T23:45Z", "2026-10-25T00:00Z",
        "2026-10-25T00:30Z", "2026-10-25T01:00Z", "2026-10-25T01:30Z", "2026-10-25T02:00Z");
    /* local 01:00 CEST to 04:00 CET: 3 wall hours, 4 elapsed */
    assert_int_equal(count_firings("*/15 * * * *", "Europe/Berlin", "2026-10-24T22:59:59Z",
                                   "2026-10-25T02:59:59Z"),
                     16);
    assert_int_equal(count_firings("*/15 1-3 * * *", "Europe/Berlin", "2026-10-24T22:59:59Z",
                                   "2026-10-25T02:59:59Z"),
                     12);
}

static void dst_america_new_york(void **state)
{
    struct pv_tz *tz;
    struct pv_error e = {0};
    struct tm wall = {.tm_year = 126, .tm_mon = 10, .tm_mday = 1, .tm_hour = 1, .tm_min = 30};
    int64_t u, later;
    enum pv_tz_kind kind;
    char buf[PV_WHEN_FORMAT_LEN];
    (void)state;
    /* 2026-03-08: 02:00 EST -> 03:00 EDT at 07:00Z */
    SEQ("30 2 * * *", "America/New_York", "2026-03-07T12:00Z", "2026-03-08T07:00Z",
        "2026-03-09T06:30Z");
    SEQ("*/15 * * * *", "America/New_York", "2026-03-08T06:40Z", "2026-03-08T06:45Z",
        "2026-03-08T07:00Z");
    /* 2026-11-01: 02:00 EDT -> 01:00 EST at 06:00Z; 01:00-01:59 twice */
    SEQ("30 1 * * *", "America/New_York", "2026-10-31T12:00Z", "2026-11-01T05:30Z",
        "2026-11-02T06:30Z");
    SEQ("*/15 * * * *", "America/New_York", "2026-11-01T05:40Z", "2026-11-01T05:45Z",
        "2026-11-01T06:00Z", "2026-11-01T06:15Z");
    assert_int_equal(count_firings("*/15 * * * *", "America/New_York", "2026-11-01T03:59:59Z",
                                   "2026-11-01T07:59:59Z"),
                     16);
    assert_int_equal(count_firings("30 1 * * *", "America/New_York", "2026-10-31T12:00Z",
                                   "2026-11-01T12:00Z"),
                     1);
    /* the conversions underneath */
    tz = zone("America/New_York");
    assert_int_equal(pv_tz_from_local(tz, &wall, &u, &later, &kind, &e), 0);
    assert_int_equal(kind, PV_TZ_AMBIGUOUS);
    assert_string_equal(fmt(u, buf), "2026-11-01T05:30:00.000Z");
    assert_string_equal(fmt(later, buf), "2026-11-01T06:30:00.000Z");
    wall.tm_mon = 2;
    wall.tm_mday = 8;
    wall.tm_hour = 2;
    assert_int_equal(pv_tz_from_local(tz, &wall, &u, &later, &kind, &e), 0);
    assert_int_equal(kind, PV_TZ_GAP);
    assert_int_equal(u, 1772953200);
    assert_int_equal(later, u);
    wall.tm_hour = 3;
    assert_int_equal(pv_tz_from_local(tz, &wall, &u, NULL, &kind, &e), 0);
    assert_int_equal(kind, PV_TZ_EXACT);
    assert_int_equal(u, 1772953200 + 30 * 60);
    /* out-of-range fields roll over: March 39 is April 8 */
    wall.tm_mday = 39;
    assert_int_equal(pv_tz_from_local(tz, &wall, &u, NULL, NULL, &e), 0);
    assert_string_equal(fmt(u, buf), "2026-04-08T07:30:00.000Z");
    wall.tm_year = 20000;
    assert_int_equal(pv_tz_from_local(tz, &wall, &u, NULL, NULL, &e), PV_EINVAL);
    assert_string_equal(e.code, "bad_time");
    pv_tz_free(tz);
}

static void dst_southern_hemisphere(void **state)
{
    struct pv_tz *tz = zone("Australia/Sydney");
    (void)state;
    expect_offset(tz, "2026-01-15T00:00Z", 11 * 3600, 1);
    expect_offset(tz, "2026-07-15T00:00Z", 10 * 3600, 0);
    pv_tz_free(tz);
    /* 2026-04-05: 03:00 AEDT -> 02:00 AEST at 16:00Z on the 4th */
    SEQ("30 2 * * *", "Australia/Sydney", "2026-04-04T12:00Z", "2026-04-04T15:30Z",
        "2026-04-05T16:30Z");
    assert_int_equal(count_firings("0 * * * *", "Australia/Sydney", "2026-04-04T13:30Z",
                                   "2026-04-04T17:30Z"),
                     4); /* 01:00 AEDT, 02:00 AEDT, 02:00 AEST, 03:00 AEST */
    /* 2026-10-04: 02:00 AEST -> 03:00 AEDT at 16:00Z on the 3rd */
    SEQ("30 2 * * *", "Australia/Sydney", "2026-10-03T12:00Z", "2026-10-03T16:00Z",
        "2026-10-04T15:30Z");
    SEQ("0 * * * *", "Australia/Sydney", "2026-10-03T14:30Z", "2026-10-03T15:00Z",
        "2026-10-03T16:00Z", "2026-10-03T17:00Z");
}

static void dst_half_hour_shift(void **state)
{
    (void)state;
    /* Lord Howe Island moves its clocks by 30 minutes.  2026-10-04: 02:00
     * +10:30 -> 02:30 +11 at 15:30Z on the 3rd */
    SEQ("0 * * * *", "Australia/Lord_Howe", "2026-10-03T14:00Z", "2026-10-03T14:30Z", /* 01:00 */
        "2026-10-03T16:00Z"); /* 03:00: 02:00 never happened */
    SEQ("0 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00Z", "2026-10-03T15:30Z", /* 02:30 */
        "2026-10-04T15:00Z");
    SEQ("45 2 * * *", "Australia/Lord_Howe", "2026-10-03T12:00Z", "2026-10-03T15:45Z");
    /* 2026-04-05: 02:00 +11 -> 01:30 +10:30 at 15:00Z on the 4th */
    SEQ("*/15 * * * *", "Australia/Lord_Howe", "2026-04-04T14:20Z", "2026-04-04T14:30Z", /* 01:30 */
        "2026-04-04T14:45Z", "2026-04-04T15:00Z", "2026-04-04T15:15Z", /* 01:30, 01:45 again */
        "2026-04-04T15:30Z");                                          /* 02:00 */
    SEQ("*/15 1 * * *", "Australia/Lord_Howe", "2026-04-04T14:20Z", "2026-04-04T14:30Z",
        "2026-04-04T14:45Z", "2026-04-05T14:30Z");
}

static void far_future_footer_rule(void **state)
{
    struct pv_tz *tz = zone("Europe/Berlin");
    struct pv_error e = {0};
    struct tm tm;
    (void)state;
    /* tzdata's table ends in 2037 at the latest; 2040 comes from the footer */
    expect_offset(tz, "2040-01-15T12:00Z", 3600, 0);
    expect_offset(tz, "2040-07-01T10:00Z", 7200, 1);
    expect_offset(tz, "2040-03-25T00:59:59Z", 3600, 0);
    expect_offset(tz, "2040-03-25T01:00Z", 7200, 1);
    expect_offset(tz, "2040-10-28T00:59:59Z", 7200, 1);
    expect_offset(tz, "2040-10-28T01:00Z", 3600, 0);
    expect_offset(tz, "9999-07-01T00:00Z", 7200, 1);
    assert_int_equal(pv_tz_next_transition(tz, at("2040-01-01T00:00Z")), 2216250000);
    assert_int_equal(pv_tz_next_transition(tz, at("2040-11-15T00:00Z")), at("2041-03-31T01:00Z"));
    assert_int_equal(pv_tz_to_local(tz, at("2040-07-01T10:00Z"), &tm, &e), 0);
    assert_int_equal(tm.tm_year, 140);
    assert_int_equal(tm.tm_hour, 12);
    assert_string_equal(tm.tm_zone, "CEST");
    pv_tz_free(tz);
    SEQ("0 12 * * *", "Europe/Berlin", "2040-07-01T00:00Z", "2040-07-01T10:00Z");
    SEQ("30 2 * * *", "Europe/Berlin", "2040-03-24T12:00Z", "2040-03-25T01:00Z",
        "2040-03-26T00:30Z");
    SEQ("30 1 * * *", "America/New_York", "2040-11-03T12:00Z", "2040-11-04T05:30Z",
        "2040-11-05T06:30Z");
    SEQ("30 2 * * *", "Australia/Sydney", "2040-10-06T12:00Z", "2040-10-06T16:00Z");
}

static void to_local_fields(void **state)
{
    struct pv_tz *tz = zone("Europe/Berlin");
    struct pv_error e = {0};
    struct tm tm;
    (void)state;
    assert_int_equal(pv_tz_to_local(tz, at("2026-12-24T08:00Z"), &tm, &e), 0);
    assert_int_equal(tm.tm_year, 126);
    assert_int_equal(tm.tm_mon, 11);
    assert_int_equal(tm.tm_mday, 24);
    assert_int_equal(tm.tm_hour, 9);
    assert_int_equal(tm.tm_min, 0);
    assert_int_equal(tm.tm_wday, 4);
    assert_int_equal(tm.tm_yday, 357);
    assert_int_equal(tm.tm_isdst, 0);
    assert_int_equal(tm.tm_gmtoff, 3600);
    assert_string_equal(tm.tm_zone, "CET");
    assert_string_equal(pv_tz_name(tz), "Europe/Berlin");
    /* the earliest instants: before the first transition, local mean time */
    assert_int_equal(pv_tz_to_local(tz, at("1800-01-01T00:00Z"), &tm, &e), 0);
    assert_int_equal(tm.tm_gmtoff, 3208);
    assert_string_equal(tm.tm_zone, "LMT");
    assert_int_equal(pv_tz_to_local(tz, PV_TZ_MAX_UTC + 1, &tm, &e), PV_EINVAL);
    assert_string_equal(e.code, "bad_time");
    pv_tz_free(tz);
    /* NULL is UTC */
    assert_int_equal(pv_tz_offset(NULL, 0, NULL), 0);
    assert_int_equal(pv_tz_to_local(NULL, -1, &tm, &e), 0);
    assert_int_equal(tm.tm_year, 69);
    assert_int_equal(tm.tm_hour, 23);
    assert_int_equal(tm.tm_sec, 59);
    assert_int_equal(tm.tm_wday, 3);
    /* calendar helpers */
    assert_int_equal(pv_tz_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(pv_tz_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(pv_tz_days_from_civil(1, 1, 1), -719162);
    assert_int_equal(pv_tz_days_in_month(2100, 2), 28);
    assert_int_equal(pv_tz_days_in_month(2000, 2), 29);
    assert_int_equal(pv_tz_weekday(-1), 3);
    for (int64_t d = -800000; d < 3000000; d += 997) {
        int64_t y;
        int m, dd;
        pv_tz_civil_from_days(d, &y, &m, &dd);
        assert_int_equal(pv_tz_days_from_civil(y, m, dd), d);
    }
}

/* ---- zones ---------------------------------------------------------------- */

static void zone_names(void **state)
{
    struct pv_tz *tz;
    char longer[PV_TZ_NAME_MAX + 8];
    (void)state;
    zone_err("", "bad_time_zone", "empty");
    zone_err(NULL, "bad_time_zone", "empty");
    zone_err("/etc/passwd", "bad_time_zone", "must not start with '/'");
    zone_err("Europe/../../etc/passwd", "bad_time_zone", "'..'");
    zone_err("..", "bad_time_zone", "'..'");
    zone_err("zone.tab", "bad_time_zone", "'.'");
    zone_err("Europe/Berlin ", "bad_time_zone", "byte 0x20 at position 13");
    zone_err("Europe\\Berlin", "bad_time_zone", "byte 0x5c");
    zone_err("Europe//Berlin", "bad_time_zone", "empty component");
    zone_err("Europe/", "bad_time_zone", "empty component");
    zone_err("Europe/Berl\xc3\xafn", "bad_time_zone", "byte 0xc3");
    memset(longer, 'A', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    zone_err(longer, "bad_time_zone", "longer than 255");
    zone_err("Nowhere/Atlantis", "unknown_time_zone", "Nowhere/Atlantis");
    zone_err("Europe", "unknown_time_zone", "Europe"); /* a directory */
    zone_err("europe/berlin", "unknown_time_zone", NULL);
    /* built in, no file needed */
    for (int i = 0; i < 2; i++) {
        tz = zone(i ? "Etc/UTC" : "UTC");
        expect_offset(tz, "2026-07-01T00:00Z", 0, 0);
        assert_int_equal(pv_tz_next_transition(tz, 0), INT64_MAX);
        pv_tz_free(tz);
    }
    /* names with '+', '-' and '_' */
    tz = zone("Etc/GMT+5");
    expect_offset(tz, "2026-07-01T00:00Z", -5 * 3600, 0);
    pv_tz_free(tz);
    tz = zone("America/Port-au-Prince");
    pv_tz_free(tz);
    tz = zone("America/Los_Angeles");
    expect_offset(tz, "2026-07-01T00:00Z", -7 * 3600, 1);
    pv_tz_free(tz);
    /* the Tehran footer is a quoted name: "<+0330>-3:30" */
    tz = zone("Asia/Tehran");
    expect_offset(tz, "2040-07-01T00:00Z", 12600, 0);
    pv_tz_free(tz);
}

static void footer_forms(void **state)
{
    struct pv_tz *tz;
    struct pv_error e = {0};
    struct tm tm;
    (void)state;
    /* quoted names, minutes in the offset */
    write_footer_zone("Test/Quoted", 12600, "<+0330>-3:30");
    tz = zone("Test/Quoted");
    expect_offset(tz, "2030-01-01T00:00Z", 12600, 0);
    assert_int_equal(pv_tz_to_local(tz, at("2030-01-01T00:00Z"), &tm, &e), 0);
    assert_string_equal(tm.tm_zone, "+0330");
    assert_int_equal(tm.tm_hour, 3);
    assert_int_equal(tm.tm_min, 30);
    pv_tz_free(tz);
    /* Jn (Feb 29 not counted) and n (counted, zero-based) */
    write_footer_zone("Test/Julian", 7200, "XST-2XDT,J60/2,300/3");
    tz = zone("Test/Julian");
    expect_offset(tz, "2027-02-28T23:59:59Z", 7200, 0);
    expect_offset(tz, "2027-03-01T00:00Z", 10800, 1); /* Mar 1, 02:00 XST */
    expect_offset(tz, "2027-10-27T23:59:59Z", 10800, 1);
    expect_offset(tz, "2027-10-28T00:00Z", 7200, 0); /* day 300 = Oct 28, 03:00 XDT */
    expect_offset(tz, "2028-02-29T23:59:59Z", 7200, 0); /* leap year: J60 is still Mar 1 */
    expect_offset(tz, "2028-03-01T00:00Z", 10800, 1);
    expect_offset(tz, "2028-10-27T00:00Z", 7200, 0);  /* leap year: day 300 = Oct 27 */
    assert_int_equal(pv_tz_to_local(tz, at("2027-06-01T00:00Z"), &tm, &e), 0);
    assert_string_equal(tm.tm_zone, "XDT");
    pv_tz_free(tz);
    /* DST all year, the RFC 8536 way: the two ends meet */
    write_footer_zone("Test/AllYear", -4 * 3600, "EST5EDT,0/0,J365/25");
    tz = zone("Test/AllYear");
    expect_offset(tz, "2030-01-01T04:59:59Z", -4 * 3600, 1);
    expect_offset(tz, "2030-01-01T05:00Z", -4 * 3600, 1);
    expect_offset(tz, "2030-07-01T00:00Z", -4 * 3600, 1);
    pv_tz_free(tz);
    /* a DST name without dates gets the US rule; an explicit DST offset */
    write_footer_zone("Test/NoDates", -5 * 3600, "EST5EDT");
    tz = zone("Test/NoDates");
    expect_offset(tz, "2030-03-10T06:59:59Z", -5 * 3600, 0);
    expect_offset(tz, "2030-03-10T07:00Z", -4 * 3600, 1);
    pv_tz_free(tz);
    write_footer_zone("Test/Half", 3600, "AAA-1BBB-1:30,M3.5.0/1,M10.5.0/1:30");
    tz = zone("Test/Half");
    expect_offset(tz, "2030-07-01T00:00Z", 5400, 1);
    pv_tz_free(tz);
    /* southern: the DST period wraps the new year; check cron across it */
    write_footer_zone("Test/South", 36000, "AEST-10AEDT,M10.1.0,M4.1.0/3");
    tz = zone("Test/South");
    expect_offset(tz, "2040-01-01T00:00Z", 39600, 1);
    expect_offset(tz, "2040-06-01T00:00Z", 36000, 0);
    pv_tz_free(tz);
    SEQ("30 2 * * *", "Test/South", "2040-10-06T12:00Z", "2040-10-06T16:00Z");
    /* bad footers */
    write_footer_zone("Test/Bad1", 0, "X0");
    write_footer_zone("Test/Bad2", 0, "XST-2XDT,M13.1.0,M4.1.0");
    write_footer_zone("Test/Bad3", 0, "XST-2XDT,J0,J5");
    write_footer_zone("Test/Bad4", 0, "XST-2XDT,M3.5.0/200,M10.5.0");
    write_footer_zone("Test/Bad5", 0, "XST-2XDT,M3.5.0,M10.5.0junk");
    write_footer_zone("Test/Bad6", 0, "<+03-3");
    zone_err("Test/Bad1", "bad_tzif", "X0");
    zone_err("Test/Bad2", "bad_tzif", NULL);
    zone_err("Test/Bad3", "bad_tzif", NULL);
    zone_err("Test/Bad4", "bad_tzif", NULL);
    zone_err("Test/Bad5", "bad_tzif", NULL);
    zone_err("Test/Bad6", "bad_tzif", NULL);
    /* a v2 file with an empty footer keeps its last type after the table */
    {
        const int64_t trans[] = {0, 1000000};
        const unsigned char idx[] = {1, 0};
        const struct mk_type types[] = {{3600, 0, 0}, {7200, 1, 4}};
        write_tzif("Test/Empty", 2, 2, trans, idx, 2, types, "AAA\0BBB", 8, "", 0);
        tz = zone("Test/Empty");
        expect_offset(tz, "1969-12-31T23:59:59Z", 3600, 0);
        assert_int_equal(pv_tz_offset(tz, 999999, NULL), 7200);
        assert_int_equal(pv_tz_offset(tz, 1000000, NULL), 3600);
        expect_offset(tz, "2050-01-01T00:00Z", 3600, 0);
        assert_int_equal(pv_tz_next_transition(tz, 0), 1000000);
        assert_int_equal(pv_tz_next_transition(tz, 1000000), INT64_MAX);
        pv_tz_free(tz);
        /* the same as version 1: only the 32-bit block */
        write_tzif("Test/V1", 1, 2, trans, idx, 2, types, "AAA\0BBB", 8, "", 0);
        tz = zone("Test/V1");
        assert_int_equal(pv_tz_offset(tz, 500000, NULL), 7200);
        assert_int_equal(pv_tz_offset(tz, 2000000, NULL), 3600);
        pv_tz_free(tz);
        /* leap seconds are refused */
        write_tzif("Test/Leap", 2, 2, trans, idx, 2, types, "AAA\0BBB", 8, "", 1);
        zone_err("Test/Leap", "unknown_time_zone", "leap seconds");
        /* damaged tables */
        const unsigned char bad_idx[] = {1, 2};
        write_tzif("Test/BadIdx", 2, 2, trans, bad_idx, 2, types, "AAA\0BBB", 8, "", 0);
        zone_err("Test/BadIdx", "bad_tzif", "type");
        const int64_t unordered[] = {1000000, 0};
        write_tzif("Test/Order", 2, 2, unordered, idx, 2, types, "AAA\0BBB", 8, "", 0);
        zone_err("Test/Order", "bad_tzif", "order");
        const struct mk_type huge[] = {{3600, 0, 0}, {30 * 3600, 0, 4}};
        write_tzif("Test/Huge", 2, 2, trans, idx, 2, huge, "AAA\0BBB", 8, "", 0);
        zone_err("Test/Huge", "bad_tzif", NULL);
    }
    /* not TZif at all, and truncated */
    {
        char path[128];
        FILE *f;
        snprintf(path, sizeof path, "%s/Test/Text", tzdir);
        f = fopen(path, "w");
        fputs("# not a zone\n", f);
        fclose(f);
        zone_err("Test/Text", "unknown_time_zone", "not a time zone");
        snprintf(path, sizeof path, "%s/Test/Julian", tzdir);
        assert_int_equal(truncate(path, 60), 0);
        zone_err("Test/Julian", "bad_tzif", "truncated");
        snprintf(path, sizeof path, "%s/Test/Quoted", tzdir);
        assert_int_equal(truncate(path, 115), 0); /* footer cut off */
        zone_err("Test/Quoted", "bad_tzif", NULL);
    }
}

static int footer_setup(void **state)
{
    char path[128];
    tzdir_setup(state);
    snprintf(path, sizeof path, "%s/Test", tzdir);
    return mkdir(path, 0700) == 0 ? 0 : -1;
}

/* ---- one-shot times ------------------------------------------------------- */

static void one_shot_times(void **state)
{
    (void)state;
    when_ok("2026-12-24T09:00", "Europe/Berlin", "2026-12-24T08:00:00.000Z");
    when_ok("2026-12-24T09:00:00", "Europe/Berlin", "2026-12-24T08:00:00.000Z");
    when_ok("2026-07-24T09:00:15", "Europe/Berlin", "2026-07-24T07:00:15.000Z");
    when_ok("2026-12-24T09:00", NULL, "2026-12-24T09:00:00.000Z");
    when_ok("2026-12-24T09:00Z", "Europe/Berlin", "2026-12-24T09:00:00.000Z");
    when_ok("2026-12-24T09:00:00Z", "America/New_York", "2026-12-24T09:00:00.000Z");
    when_ok("2026-12-24T09:00+01:00", "America/New_York", "2026-12-24T08:00:00.000Z");
    when_ok("2026-12-24T09:00:00-05:30", NULL, "2026-12-24T14:30:00.000Z");
    when_ok("2026-12-24T09:00:00-00:00", NULL, "2026-12-24T09:00:00.000Z");
    when_ok("2026-12-24T09:00:00.000Z", NULL, "2026-12-24T09:00:00.000Z");
    when_ok("2026-12-24T09:00:00.999999999Z", NULL, "2026-12-24T09:00:00.000Z");
    when_ok("2028-02-29T00:00", NULL, "2028-02-29T00:00:00.000Z");
    when_ok("2000-02-29T23:59:59", NULL, "2000-02-29T23:59:59.000Z");
    when_ok("1969-12-31T23:59:59Z", NULL, "1969-12-31T23:59:59.000Z");
    /* gap and repeated hour, same rule as cron */
    when_ok("2026-03-29T02:30", "Europe/Berlin", "2026-03-29T01:00:00.000Z");
    when_ok("2026-10-25T02:30", "Europe/Berlin", "2026-10-25T00:30:00.000Z");
    when_ok("2026-11-01T01:30", "America/New_York", "2026-11-01T05:30:00.000Z");
    when_ok("2026-10-04T02:15", "Australia/Sydney", "2026-10-03T16:00:00.000Z");
    /* errors */
    when_err("", "empty");
    when_err(NULL, "empty");
    when_err("2026-02-30T09:00", "not a date");
    when_err("2027-02-29T09:00", "not a date");
    when_err("2100-02-29T09:00", "not a date");
    when_err("2026-04-31T09:00", "not a date");
    when_err("2026-13-01T09:00", "not a date");
    when_err("2026-00-01T09:00", "not a date");
    when_err("2026-01-00T09:00", "not a date");
    when_err("0000-01-01T00:00", "not a date");
    when_err("2026-12-24T24:00", "not a time of day");
    when_err("2026-12-24T09:60", "not a time of day");
    when_err("2026-12-24T09:00:60", "not a time of day");
    when_err("2026-12-24 09:00", NULL);
    when_err("2026-12-24t09:00", NULL);
    when_err("2026-12-24", NULL);
    when_err("2026-12-24T9:00", NULL);
    when_err("26-12-24T09:00", NULL);
    when_err("+2026-12-24T09:00", NULL);
    when_err("2026-12-24T09:00:0", "bad seconds");
    when_err("2026-12-24T09:00:00.", "fraction");
    when_err("2026-12-24T09:00:00.1234567890Z", "fraction");
    when_err("2026-12-24T09:00Zjunk", "unexpected text 'junk'");
    when_err("2026-12-24T09:00:00 ", "not allowed");
    when_err("2026-12-24T09:00z", "unexpected text 'z'");
    when_err("2026-12-24T09:00+1:00", "offset");
    when_err("2026-12-24T09:00+01", "offset");
    when_err("2026-12-24T09:00+0100", "offset");
    when_err("2026-12-24T09:00+24:00", "offset");
    when_err("2026-12-24T09:00+01:60", "offset");
    when_err("2026-12-24T09:00+01:00:00", "unexpected text");
    when_err("0001-01-01T00:00+01:00", "outside");
    when_err("2026-12-24T09:00\xc3\xa9", "not allowed");
}

static void formatting(void **state)
{
    char buf[PV_WHEN_FORMAT_LEN];
    (void)state;
    assert_int_equal(pv_when_format(0, buf, sizeof buf), 0);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    assert_int_equal(pv_when_format(-1, buf, sizeof buf), 0);
    assert_string_equal(buf, "1969-12-31T23:59:59.000Z");
    assert_int_equal(pv_when_format(PV_TZ_MAX_UTC, buf, sizeof buf), 0);
    assert_string_equal(buf, "9999-12-31T23:59:59.000Z");
    assert_int_equal(pv_when_format(PV_TZ_MIN_UTC, buf, sizeof buf), 0);
    assert_string_equal(buf, "0001-01-01T00:00:00.000Z");
    assert_int_equal(pv_when_format(PV_TZ_MAX_UTC + 1, buf, sizeof buf), PV_EINVAL);
    assert_int_equal(pv_when_format(0, buf, sizeof buf - 1), PV_EINVAL);
    assert_int_equal(at("2026-03-29T01:00Z"), 1774746000); /* cross-checked with Python */
    assert_int_equal(at("2040-03-25T01:00Z"), 2216250000);
}

static void limits_and_edges(void **state)
{
    struct pv_cron *c = cron("0 0 1 1 *");
    struct pv_error e = {0};
    int64_t next;
    (void)state;
    assert_int_equal(pv_cron_next(c, NULL, PV_TZ_MAX_UTC, &next, &e), PV_EINVAL);
    assert_string_equal(e.code, "bad_time");
    assert_int_equal(pv_cron_next(c, NULL, PV_TZ_MIN_UTC - 1, &next, &e), PV_EINVAL);
    /* the last firing representable, then nothing */
    assert_int_equal(pv_cron_next(c, NULL, at("9998-06-01T00:00Z"), &next, &e), 0);
    assert_int_equal(next, at("9999-01-01T00:00Z"));
    assert_int_equal(pv_cron_next(c, NULL, next, &next, &e), PV_EINVAL);
    assert_string_equal(e.code, "cron_never_fires");
    assert_int_equal(pv_cron_next(NULL, NULL, 0, &next, &e), PV_EINVAL);
    assert_false(pv_cron_follows_elapsed_time(NULL));
    assert_false(pv_cron_follows_elapsed_time(c));
    pv_cron_free(c);
    static const char *const every_hour[] = {"* * * * *", "*/1 * * * *", "0 */1 * * *",
                                             "0 0-23 * * *", "@hourly", "0 0-11,12-23 * * *"};
    for (size_t i = 0; i < sizeof every_hour / sizeof every_hour[0]; i++) {
        c = cron(every_hour[i]);
        assert_true(pv_cron_follows_elapsed_time(c));
        pv_cron_free(c);
    }
    c = cron("0 */2 * * *");
    assert_false(pv_cron_follows_elapsed_time(c));
    pv_cron_free(c);
}

/* ---- threads share a zone ------------------------------------------------- */

struct worker {
    const struct pv_tz *tz;
    const struct pv_cron *cron;
    int64_t last;
    int ok;
};

static void *worker_run(void *arg)
{
    struct worker *w = arg;
    struct pv_error e = {0};
    int64_t t = 1767225600; /* 2026-01-01T00:00Z */
    w->ok = 1;
    for (int i = 0; i < 2000; i++)
        if (pv_cron_next(w->cron, w->tz, t, &t, &e) != 0)
            w->ok = 0;
    w->last = t;
    return NULL;
}

static void shared_between_threads(void **state)
{
    struct pv_tz *tz = zone("Europe/Berlin");
    struct pv_cron *c = cron("17 */3 * * *");
    struct worker w[4];
    pthread_t th[4];
    (void)state;
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){tz, c, 0, 0};
        assert_int_equal(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_true(w[i].ok);
        assert_int_equal(w[i].last, w[0].last);
    }
    pv_cron_free(c);
    pv_tz_free(tz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(syntax_forms),
        cmocka_unit_test(names_and_macros),
        cmocka_unit_test(day_of_week_seven),
        cmocka_unit_test(dom_dow_or_rule),
        cmocka_unit_test(month_lengths_and_leap_days),
        cmocka_unit_test(parse_errors),
        cmocka_unit_test(never_firing),
        cmocka_unit_test(dst_europe_berlin),
        cmocka_unit_test(dst_america_new_york),
        cmocka_unit_test(dst_southern_hemisphere),
        cmocka_unit_test(dst_half_hour_shift),
        cmocka_unit_test(far_future_footer_rule),
        cmocka_unit_test(to_local_fields),
        cmocka_unit_test(zone_names),
        cmocka_unit_test_setup_teardown(footer_forms, footer_setup, tzdir_teardown),
        cmocka_unit_test(one_shot_times),
        cmocka_unit_test(formatting),
        cmocka_unit_test(limits_and_edges),
        cmocka_unit_test(shared_between_threads),
    };
    return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
