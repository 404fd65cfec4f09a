/* cron.h -- when scheduled placement jobs run: cron expressions and
 * one-shot times, evaluated in a time zone (see tz.h).
 *
 * Expressions are the standard five fields, minute hour day-of-month month
 * day-of-week, each `*`, a number, a range `a-b`, a step `*\/n`, `a-b/n` or
 * `a/n` (a through the field's maximum), or a comma list of those.  Months
 * may be JAN-DEC and days SUN-SAT (any case, also inside ranges).  Day of
 * week is 0-7, 7 being Sunday again, so `a/n` there runs to 7.  Macros:
 * @yearly and @annually (0 0 1 1 *), @monthly (0 0 1 * *), @weekly
 * (0 0 * * 0), @daily and @midnight (0 0 * * *), @hourly (0 * * * *).
 *
 * Day-of-month and day-of-week follow Vixie cron: when both fields are
 * restricted (neither starts with `*`) a day matches if EITHER matches
 * ("0 0 1,15 * MON" is the 1st, the 15th and every Monday); otherwise both
 * must (so "0 0 *\/2 * MON" is odd-numbered Mondays).
 *
 * Daylight-saving time.  Which rule applies depends on the hour field:
 *   - An hour field that matches every hour (`*`, `*\/1`, `0-23`) follows
 *     elapsed time: the schedule fires at every instant whose wall-clock
 *     reading matches.  In a repeated hour it fires in both passes
 *     ("*\/15 * * * *" fires 4 extra times the night the clock goes back);
 *     minutes skipped by a spring-forward simply do not happen.
 *   - Any other hour field (fixed hours, including steps like `*\/2`)
 *     follows the wall clock: each matching wall-clock time fires once.
 *     When the clock repeats an hour, a matching time fires at its first
 *     occurrence only.  Matching times skipped by a spring-forward fire at
 *     the first instant after the gap, and all of them together fire once
 *     (with "30 2 * * *" in Europe/Berlin on 2026-03-29 the job runs at
 *     03:00 CEST; with "*\/15 2 * * *" it runs once at 03:00, not four times).
 * In other words, for fixed hours the firing for wall time W is the first
 * instant at which the clock reads W or later, and a wall time the clock
 * had already reached by after_utc is past (asked during the second pass of
 * a repeated hour, the next firing is not one in that hour).
 *
 * One-shot times (pv_when_parse) use the same gap and repeated-hour rule
 * when they carry no UTC offset.
 */
#ifndef PV_CRON_H
#define PV_CRON_H

#include <stddef.h>
#include <stdint.h>
#include "adapters/adapter.h"
#include "server/sched/tz.h"

#define PV_CRON_MAX_LEN 256       /* longest expression accepted */
#define PV_CRON_HORIZON_YEARS 400 /* how far pv_cron_next() looks */
#define PV_WHEN_FORMAT_LEN 25     /* "YYYY-MM-DDTHH:MM:SS.000Z" and its NUL */

struct pv_cron;

/* Parse expr.  Errors are PV_EINVAL with code "bad_cron" and a message that
 * names the field and the text at fault ("hour: 25 is out of range 0-23").
 * On success *out is new; free it with pv_cron_free(). */
int pv_cron_parse(const char *expr, struct pv_cron **out, struct pv_error *err);
void pv_cron_free(struct pv_cron *c);

/* Whether the hour field matches every hour, i.e. the schedule follows
 * elapsed time across DST changes (see above). */
int pv_cron_follows_elapsed_time(const struct pv_cron *c);

/* The first firing strictly after after_utc, in zone tz (borrowed; NULL is
 * UTC), by the rules above.  An expression with no firing within
 * PV_CRON_HORIZON_YEARS, such as "0 0 30 2 *", is PV_EINVAL
 * "cron_never_fires".  The Gregorian calendar repeats every 400 years, so
 * an expression that matches no day in 400 years matches none ever; rare
 * ones that do fire can wait decades ("0 0 29 2 *\/7", Feb 29 on a Sunday:
 * 2088, then 2128).  The search skips months, days and hours that cannot
 * match, so proving "never" costs well under a millisecond. */
int pv_cron_next(const struct pv_cron *c, const struct pv_tz *tz, int64_t after_utc,
                 int64_t *next_utc, struct pv_error *err);

/* A one-shot time: "2026-12-24T09:00" or "2026-12-24T09:00:00", optionally
 * with fractional seconds (truncated) and "Z" or an offset "+01:00" /
 * "-05:30".  With an offset the instant is absolute and tz is not used;
 * without, it is a wall-clock time in tz (NULL is UTC).  Anything else,
 * including trailing text and impossible dates (Feb 30), is PV_EINVAL
 * "bad_time". */
int pv_when_parse(const char *iso, const struct pv_tz *tz, int64_t *utc, struct pv_error *err);

/* Format utc as "YYYY-MM-DDTHH:MM:SS.000Z" into buf (at least
 * PV_WHEN_FORMAT_LEN bytes).  PV_EINVAL outside years 1 to 9999. */
int pv_when_format(int64_t utc, char *buf, size_t len);

#endif
