/* log.c -- structured lines to stderr, one write(2) per line so lines from
 * different threads never interleave.  While a thread works for an HTTP
 * request, the request's id (X-Request-Id) is thread-local here and ends
 * every line it logs as request_id=..., so one request's lines can be found
 * together without passing the id through every call. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "server/core/log.h"

/* Start-up configuration, set before threads start. */
static enum pv_log_level min_level = PV_LOG_INFO;
/* The request this thread is serving; NULL: none.  Borrowed from the caller. */
static _Thread_local const char *request_id;

void pv_log_set_request(const char *id)
{
    request_id = id;
}

int pv_log_enabled(enum pv_log_level level)
{
    return level >= min_level;
}

void pv_log_set_level(enum pv_log_level level)
{
    min_level = level;
}

int pv_log_level_parse(const char *name)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (name && strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void pv_log(enum pv_log_level level, const char *component, const char *fmt, ...)
{
    static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    char line[2048];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n;

    if (level < min_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %-8s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 ts.tv_nsec / 1000000, names[level], component);
    va_start(ap, fmt);
    n += vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    if (request_id && n < (int)sizeof line - 2)
        n += snprintf(line + n, sizeof line - (size_t)n - 1, " request_id=%s", request_id);
    if (n > (int)sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    (void)!write(STDERR_FILENO, line, (size_t)n);
}
