/* log.h -- the daemon's one logging function.  Lines go to stderr as
 * `time level component message` where the message carries key=value
 * fields.  Secrets (passwords, tokens, keys) never reach a log line. */
#ifndef PV_LOG_H
#define PV_LOG_H

enum pv_log_level { PV_LOG_DEBUG = 0, PV_LOG_INFO, PV_LOG_WARN, PV_LOG_ERROR };

void pv_log_set_level(enum pv_log_level level);
/* "debug", "info", "warn", "error"; -1 when unknown. */
int pv_log_level_parse(const char *name);
void pv_log(enum pv_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* While this thread serves a request: its id ends each line (request_id=);
 * NULL when it is done.  id is borrowed and must outlive the setting. */
void pv_log_set_request(const char *id);
/* Would a line at level be written? */
int pv_log_enabled(enum pv_log_level level);

#endif
