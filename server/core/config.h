/* config.h -- polyvisord's configuration: built-in defaults, then the
 * config file (--config FILE), then command-line flags, each overriding the
 * one before.  The file is `key = value` lines; '#' starts a comment. */
#ifndef PV_CONFIG_H
#define PV_CONFIG_H

#include "adapters/adapter.h"

#define PV_CONFIG_MAX_ADAPTER_SETTINGS 32

/* One "TYPE.KEY = VALUE" setting, handed to the adapter of that type. */
struct pv_adapter_setting {
    char key[64];
    char value[512];
};

struct pv_config {
    char listen_host[128];
    int listen_port;
    char data_dir[512];
    char adapter_dir[512];   /* "" = <dir of the binary>/adapters */
    char webui_dir[512];     /* "" = <dir of the binary>/../webui */
    char tls_cert[512];
    char tls_key[512];
    char config_file[512];
    char admin_password[256];
    int log_level;           /* enum pv_log_level */
    int access_log;          /* 1: a line per request at info (access_log = 0 turns it off) */
    int host_failure_timeout;/* seconds */
    int http_threads;
    int job_workers;
    int jobs_per_host;
    long max_body_bytes;
    int token_ttl_seconds;
    int shutdown_grace_seconds;
    int test_clock;          /* 1: PUT /api/v1/clock may move the clock (tests only) */
    int metrics_interval;    /* seconds between monitoring samples */
    int metrics_raw_retention;    /* seconds raw samples are kept */
    int metrics_rollup_retention; /* seconds five-minute averages are kept */
    int login_free_failures;      /* failed logins of a user before back-off (address: 4x) */
    int login_max_wait_seconds;   /* the longest back-off */
    int login_max_hashes;         /* password hashes (64 MiB each) computed at once */
    int max_connections;          /* open HTTP connections, all clients */
    int max_connections_per_address; /* soft: answered 503 + Retry-After */
    int idle_timeout_seconds;     /* an idle connection is closed */
    char trusted_proxies[512];    /* whose X-Forwarded-For names the client; "" none */
    int nadapter_settings;
    struct pv_adapter_setting adapter_settings[PV_CONFIG_MAX_ADAPTER_SETTINGS];
};

void pv_config_defaults(struct pv_config *c);
/* Apply one `key`/`value` pair (file keys; flags map onto them). */
int pv_config_set(struct pv_config *c, const char *key, const char *value, struct pv_error *err);
int pv_config_load_file(struct pv_config *c, const char *path, struct pv_error *err);
/* Defaults, then --config's file, then the other flags.  Returns 1 when
 * --help or --version was asked for (after printing it), 0 to go on. */
int pv_config_load(struct pv_config *c, int argc, char **argv, struct pv_error *err);

#endif
