/* config.c -- defaults, config file and flags (see config.h).  Every flag
 * is the config key with dashes: --host-failure-timeout is
 * host_failure_timeout, so the two can never disagree. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/core/config.h"
#include "server/core/log.h"

#define POLYVISOR_VERSION "0.1.0"

void pv_config_defaults(struct pv_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
    c->listen_port = 8080;
    snprintf(c->data_dir, sizeof c->data_dir, "var");
    c->log_level = PV_LOG_INFO;
    c->access_log = 1;
    c->host_failure_timeout = 30;
    c->http_threads = 4;
    c->job_workers = 8;
    c->jobs_per_host = 2;
    c->metrics_interval = 60;
    c->metrics_raw_retention = 86400;
    c->metrics_rollup_retention = 30 * 86400;
    c->max_body_bytes = 1024L * 1024;
    c->token_ttl_seconds = 12 * 3600;
    c->shutdown_grace_seconds = 20;
    c->login_free_failures = 5;
    c->login_max_wait_seconds = 300;
    c->login_max_hashes = 4;
    c->max_connections = 4096;
    c->max_connections_per_address = 1024;
    c->idle_timeout_seconds = 60;
}

static int set_str(char *dst, size_t size, const char *key, const char *v, struct pv_error *err)
{
    if (strlen(v) >= size)
        return pv_fail(err, invalid_config, "%s: value too long", key);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int set_int(long *dst, const char *key, const char *v, long min, long max,
                   struct pv_error *err)
{
    char *end;
    long n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max)
        return pv_fail(err, invalid_config,
                            "%s: '%s' is not a whole number from %ld to %ld", key, v, min, max);
    *dst = n;
    return 0;
}

static int set_listen(struct pv_config *c, const char *v, struct pv_error *err)
{
    const char *colon = strrchr(v, ':');
    long port = 0;
    size_t hostlen;

    if (!colon || colon == v)
        return pv_fail(err, invalid_config,
                            "listen: '%s' is not HOST:PORT", v);
    if (set_int(&port, "listen port", colon + 1, 1, 65535, err))
        return PV_EINVAL;
    hostlen = (size_t)(colon - v);
    if (v[0] == '[' && colon[-1] == ']') { /* [::1]:8080 */
        v++;
        hostlen -= 2;
    }
    if (hostlen >= sizeof c->listen_host)
        return pv_fail(err, invalid_config, "listen: host too long");
    memcpy(c->listen_host, v, hostlen);
    c->listen_host[hostlen] = '\0';
    c->listen_port = (int)port;
    return 0;
}

/* "TYPE.KEY": a setting for an adapter; the last one given wins. */
static int set_adapter_setting(struct pv_config *c, const char *key, const char *value,
                               struct pv_error *err)
{
    const char *dot = strchr(key, '.');
    struct pv_adapter_setting *s = NULL;

    if (dot == key || !dot[1] || strchr(dot + 1, '.'))
        return pv_fail(err, invalid_config,
                            "'%s': an adapter setting is TYPE.KEY, e.g. test.world_dir", key);
    for (int i = 0; i < c->nadapter_settings; i++)
        if (strcmp(c->adapter_settings[i].key, key) == 0)
            s = &c->adapter_settings[i];
    if (!s) {
        if (c->nadapter_settings == PV_CONFIG_MAX_ADAPTER_SETTINGS)
            return pv_fail(err, invalid_config, "too many adapter settings");
        s = &c->adapter_settings[c->nadapter_settings];
        if (set_str(s->key, sizeof s->key, key, key, err))
            return PV_EINVAL;
    }
    if (set_str(s->value, sizeof s->value, key, value, err))
        return PV_EINVAL;
    if (s == &c->adapter_settings[c->nadapter_settings])
        c->nadapter_settings++;
    return 0;
}

int pv_config_set(struct pv_config *c, const char *key, const char *value, struct pv_error *err)
{
    long n = 0;
    int rc;

    if (strcmp(key, "listen") == 0)
        return set_listen(c, value, err);
    if (strchr(key, '.'))
        return set_adapter_setting(c, key, value, err);
#define STR(k, field) \
    if (strcmp(key, k) == 0) return set_str(c->field, sizeof c->field, key, value, err)
    STR("data_dir", data_dir);
    STR("adapter_dir", adapter_dir);
    STR("webui_dir", webui_dir);
    STR("tls_cert", tls_cert);
    STR("tls_key", tls_key);
    STR("admin_password", admin_password);
    STR("trusted_proxies", trusted_proxies);
#undef STR
#define INT(k, field, lo, hi)                               \
    if (strcmp(key, k) == 0) {                              \
        rc = set_int(&n, key, value, lo, hi, err);          \
        if (!rc)                                            \
            c->field = n;                                   \
        return rc;                                          \
    }
    INT("host_failure_timeout", host_failure_timeout, 1, 86400);
    INT("http_threads", http_threads, 1, 256);
    INT("job_workers", job_workers, 1, 256);
    INT("jobs_per_host", jobs_per_host, 1, 64);
    INT("max_body_bytes", max_body_bytes, 1024, 64L * 1024 * 1024);
    INT("token_ttl_seconds", token_ttl_seconds, 60, 365L * 86400);
    INT("shutdown_grace_seconds", shutdown_grace_seconds, 0, 3600);
    INT("test_clock", test_clock, 0, 1);
    INT("metrics_interval", metrics_interval, 1, 3600);
    INT("metrics_raw_retention", metrics_raw_retention, 600, 366L * 86400);
    INT("metrics_rollup_retention", metrics_rollup_retention, 3600, 5L * 366 * 86400);
    INT("login_free_failures", login_free_failures, 1, 1000);
    INT("login_max_wait_seconds", login_max_wait_seconds, 1, 86400);
    INT("login_max_hashes", login_max_hashes, 1, 64);
    INT("max_connections", max_connections, 16, 1000000);
    INT("max_connections_per_address", max_connections_per_address, 1, 1000000);
    INT("idle_timeout_seconds", idle_timeout_seconds, 5, 3600);
    INT("access_log", access_log, 0, 1);
#undef INT
    if (strcmp(key, "log_level") == 0) {
        int l = pv_log_level_parse(value);
        if (l < 0)
            return pv_fail(err, invalid_config,
                                "log_level: '%s' is not debug, info, warn or error", value);
        c->log_level = l;
        return 0;
    }
    return pv_fail(err, invalid_config, "unknown setting '%s'", key);
}

static char *trim(char *s)
{
    char *e;
    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

int pv_config_load_file(struct pv_config *c, const char *path, struct pv_error *err)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    int lineno = 0, rc = 0;

    if (!f)
        return pv_fail(err, invalid_config, "cannot read %s: %s", path,
                            strerror(errno));
    while (fgets(line, sizeof line, f)) {
        char *s, *eq, *key, *val;
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = pv_fail(err, invalid_config, "%s:%d: line too long", path,
                              lineno);
            break;
        }
        s = trim(line);
        if (*s == '#' || *s == '\0')
            continue;
        eq = strchr(s, '=');
        if (!eq) {
            rc = pv_fail(err, invalid_config, "%s:%d: expected key = value",
                              path, lineno);
            break;
        }
        *eq = '\0';
        key = trim(s);
        val = trim(eq + 1);
        if (val[0] == '"' && strlen(val) >= 2 && val[strlen(val) - 1] == '"') {
            val[strlen(val) - 1] = '\0';
            val++;
        }
        rc = pv_config_set(c, key, val, err);
        if (rc) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s", err->message);
            pv_fail(err, invalid_config, "%s:%d: %s", path, lineno, msg);
            break;
        }
    }
    fclose(f);
    return rc;
}

static void usage(void)
{
    printf("usage: polyvisord [--listen HOST:PORT] [--data-dir DIR] [--adapter-dir DIR]\n"
           "                  [--config FILE] [--tls-cert FILE --tls-key FILE]\n"
           "                  [--log-level debug|info|warn|error] [--host-failure-timeout SECONDS]\n"
           "                  [--webui-dir DIR] [--http-threads N] [--job-workers N]\n"
           "                  [--jobs-per-host N] [--test-clock 0|1] [--metrics-interval S]\n"
           "                  [--TYPE.KEY VALUE]  a setting for the adapter of TYPE (test.world_dir)\n"
           "Every flag is also a config-file key, with '_' for '-' (listen = 127.0.0.1:8080).\n");
}

/* "--host-failure-timeout" -> "host_failure_timeout" */
static int flag_key(const char *flag, char *key, size_t size)
{
    size_t i;
    if (strncmp(flag, "--", 2) != 0 || strlen(flag + 2) >= size)
        return -1;
    for (i = 0; flag[i + 2]; i++)
        key[i] = flag[i + 2] == '-' ? '_' : flag[i + 2];
    key[i] = '\0';
    return 0;
}

int pv_config_load(struct pv_config *c, int argc, char **argv, struct pv_error *err)
{
    pv_config_defaults(c);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 1;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("polyvisord %s\n", POLYVISOR_VERSION);
            return 1;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            int rc = set_str(c->config_file, sizeof c->config_file, "config", argv[i + 1], err);
            if (rc || (rc = pv_config_load_file(c, argv[i + 1], err)))
                return rc;
        }
    }
    for (int i = 1; i < argc; i++) {
        char key[64];
        if (strcmp(argv[i], "--config") == 0) {
            i++;
            continue;
        }
        if (flag_key(argv[i], key, sizeof key) || i + 1 >= argc ||
            strcmp(key, "admin_password") == 0)
            return pv_fail(err, invalid_argument,
                                "unknown option or missing value: %s (see --help)", argv[i]);
        int rc = pv_config_set(c, key, argv[++i], err);
        if (rc)
            return rc;
    }
    if (!!c->tls_cert[0] != !!c->tls_key[0])
        return pv_fail(err, invalid_config,
                            "tls_cert and tls_key go together: give both or neither");
    return 0;
}
