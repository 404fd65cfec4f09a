/* tz.h -- IANA time zones for scheduled placement jobs, without TZ.
 *
 * The daemon is multithreaded and libcurl calls getenv(), so setenv("TZ"),
 * tzset(), mktime() and localtime() are off limits: they read and write
 * process-wide state.  This module reads the compiled zone files (TZif,
 * RFC 8536, versions 1 to 4) itself from $TZDIR or /usr/share/zoneinfo and
 * does its own calendar arithmetic.  A loaded zone is immutable, so one
 * struct pv_tz may be shared by any number of threads without a lock.
 *
 * Times are int64_t seconds since 1970-01-01T00:00:00Z without leap seconds
 * (POSIX time).  A "wall" time is the reading of a clock in the zone,
 * expressed the same way: seconds since 1970-01-01T00:00:00 on that clock.
 * Instants are supported from year 1 to year 9999 (PV_TZ_MIN_UTC and
 * PV_TZ_MAX_UTC); the offset of an instant outside is that of the nearest
 * end of the range.
 *
 * Which offset applies: before the file's first transition, its first local
 * time type; between transitions, the table; after the last transition, the
 * POSIX TZ rule in the file's footer (e.g. "CET-1CEST,M3.5.0,M10.5.0/3"),
 * so dates past 2037 follow the current rules.  "UTC" and "Etc/UTC" are
 * built in and work without tzdata.
 */
#ifndef PV_TZ_H
#define PV_TZ_H

#include <stdint.h>
#include <time.h>
#include "adapters/adapter.h"

#define PV_TZ_MIN_UTC INT64_C(-62135596800) /* 0001-01-01T00:00:00Z */
#define PV_TZ_MAX_UTC INT64_C(253402300799) /* 9999-12-31T23:59:59Z */
#define PV_TZ_NAME_MAX 255

struct pv_tz;

/* How a wall-clock time maps to instants. */
enum pv_tz_kind {
    PV_TZ_EXACT = 0,     /* shown exactly once */
    PV_TZ_GAP = 1,       /* skipped by a forward jump (spring forward) */
    PV_TZ_AMBIGUOUS = 2, /* shown twice (the clock went back and repeated it) */
};

/* Load the zone called `name` (an IANA name such as "Europe/Berlin").
 * Names are letters, digits, '/', '_', '-' and '+', in non-empty components
 * separated by '/'; anything else (a leading '/', "..", spaces) is refused
 * with "bad_time_zone" before the file system is touched.  A valid name with
 * no zone file is "unknown_time_zone" (both PV_EINVAL); a damaged file is
 * "bad_tzif" (PV_EINTERNAL).  On success *out is a new zone the caller frees
 * with pv_tz_free(). */
int pv_tz_load(const char *name, struct pv_tz **out, struct pv_error *err);
void pv_tz_free(struct pv_tz *tz);

/* The name the zone was loaded by; borrowed, lives as long as tz. */
const char *pv_tz_name(const struct pv_tz *tz);

/* UTC offset in seconds (east positive: +3600 for CET) at the instant utc;
 * *isdst (if not NULL) is set to 1 in daylight-saving time, else 0.  A NULL
 * tz is UTC. */
int pv_tz_offset(const struct pv_tz *tz, int64_t utc, int *isdst);

/* The wall-clock time at utc as a struct tm (all fields, including tm_wday,
 * tm_yday, tm_isdst, tm_gmtoff, and tm_zone, which is borrowed from tz).
 * PV_EINVAL ("bad_time") when utc is outside the supported range. */
int pv_tz_to_local(const struct pv_tz *tz, int64_t utc, struct tm *out, struct pv_error *err);

/* The instant at which the clock in tz shows local_wall.  Only tm_year,
 * tm_mon, tm_mday, tm_hour, tm_min and tm_sec are read, and they may be out
 * of range (tm_mday 32 is the next month's first); tm_isdst is ignored.
 *   PV_TZ_EXACT: *utc is that instant; *utc_later == *utc.
 *   PV_TZ_AMBIGUOUS: *utc is the earlier instant, *utc_later the later one.
 *   PV_TZ_GAP: *utc (and *utc_later) is the first instant after the gap,
 *     e.g. 03:00 CEST for 02:30 on the day Berlin springs forward.
 * utc_later and kind may be NULL.  PV_EINVAL ("bad_time") outside years
 * 1 to 9999. */
int pv_tz_from_local(const struct pv_tz *tz, const struct tm *local_wall, int64_t *utc,
                     int64_t *utc_later, enum pv_tz_kind *kind, struct pv_error *err);

/* pv_tz_from_local() for a wall time given in seconds (see above). */
int pv_tz_from_wall(const struct pv_tz *tz, int64_t wall, int64_t *utc, int64_t *utc_later,
                    enum pv_tz_kind *kind, struct pv_error *err);

/* The first instant after utc at which the offset or DST flag may change,
 * or INT64_MAX if it never does.  (A rule may report an instant where
 * nothing visible changes; callers must tolerate that.) */
int64_t pv_tz_next_transition(const struct pv_tz *tz, int64_t utc);

/* The latest wall time the clock has shown at any instant up to and
 * including utc.  Equal to utc + offset except during the second pass of a
 * repeated hour, where it is the end of the first pass. */
int64_t pv_tz_wall_reached(const struct pv_tz *tz, int64_t utc);

/* Proleptic Gregorian calendar arithmetic shared by the schedulers; month
 * is 1-12, day 1-31, day numbers count from 1970-01-01 (day 0, a Thursday).
 * Valid for years -1000000 to 1000000. */
int64_t pv_tz_days_from_civil(int64_t year, int month, int day);
void pv_tz_civil_from_days(int64_t days, int64_t *year, int *month, int *day);
int pv_tz_days_in_month(int64_t year, int month);
int pv_tz_weekday(int64_t days); /* 0 = Sunday */

#endif
