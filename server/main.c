/* main.c -- polyvisord: start-up, the wait for a signal, and shutdown.
 *
 * Order matters: signals are blocked before any thread starts (so only
 * sigwait here sees them), the database is migrated before anything reads
 * it, and the HTTP front opens last, when everything it calls is ready.
 * Shutdown runs the other way: stop taking requests, let running job steps
 * finish (parking their jobs as queued) for up to shutdown_grace_seconds,
 * stop the connection monitors.  Jobs still running after the grace period
 * stay marked running and are reconciled at the next start.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "db/db.h"
#include "server/core/config.h"
#include "server/core/events.h"
#include "server/core/log.h"
#include "server/core/secret.h"
#include "server/core/validate.h"
#include "server/ha/ha.h"
#include "server/ha/jobs_ha.h"
#include "server/http/auth.h"
#include "server/http/http.h"
#include "server/http/jobwait.h"
#include "server/http/sse.h"
#include "server/http/throttle.h"
#include "server/inventory/conns.h"
#include "server/inventory/monitor.h"
#include "server/inventory/plugins.h"
#include "server/jobs/jobs.h"
#include "server/jobs/kinds/jobs_placement.h"
#include "server/jobs/kinds/kinds.h"
#include "server/sched/clock.h"
#include "server/sched/scheduler.h"

/* The registry of job kinds the engine runs (pv_jobs_start). */
static const struct pv_job_kind *const job_kinds[] = {
    &pv_job_connection_sync, &pv_job_connection_delete, &pv_job_vm_start, &pv_job_vm_shutdown,
    &pv_job_vm_poweroff, &pv_job_vm_reboot, &pv_job_vm_pause, &pv_job_vm_resume,
    &pv_job_vm_save, &pv_job_vm_delete, &pv_job_vm_create, &pv_job_vm_migrate,
    &pv_job_vm_reconfigure, &pv_job_vm_clone, &pv_job_vm_device, &pv_job_vm_snapshot, &pv_job_placement_rebalance,
    &pv_job_placement_power, &pv_job_placement_evacuate, &pv_job_placement_deploy,
    &pv_job_plan_execute, &pv_job_ha_restart, &pv_job_vm_ha_restart, &pv_job_vm_fence,
    &pv_job_host_maintenance, &pv_job_host_exit_maintenance,
};

/* How the inventory sink learns of fenced VM copies (server/ha/fence.c). */
static const struct pv_conns_fencing fencing = {pv_ha_fence_reported, pv_ha_fence_gone};

static int mkdirs(const char *path)
{
    char buf[512];
    size_t len = strlen(path);

    if (len >= sizeof buf)
        return -1;
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* Fill an empty directory setting with a path next to the binary. */
static void default_dir(char *dst, size_t size, const char *rel)
{
    char exe[PATH_MAX];
    ssize_t n;

    if (dst[0])
        return;
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    if ((size_t)snprintf(dst, size, "%s/%s", exe, rel) >= size)
        dst[0] = '\0';
}

static void die(const struct pv_error *e)
{
    pv_log(PV_LOG_ERROR, "main", "event=start_failed code=%s msg=\"%s\"", e->code, e->message);
    exit(1);
}

/* The inventory's files, 0600 even when an older version made them 0644. */
static void private_files(const char *dbpath)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char p[640];

    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(p, sizeof p, "%s%s", dbpath, suffixes[i]);
        chmod(p, 0600);
    }
}

int main(int argc, char **argv)
{
    struct pv_config cfg;
    struct pv_error e = {0};
    char dbpath[600];
    sigset_t sigs;
    int sig, rc, left;

    /* whatever the caller's umask: what the daemon writes (the inventory
     * and its -wal and -shm, the credential key) is its own alone */
    umask(077);
    rc = pv_config_load(&cfg, argc, argv, &e);
    if (rc == 1)
        return 0;
    if (rc) {
        fprintf(stderr, "polyvisord: %s\n", e.message);
        return 2;
    }
    pv_log_set_level(cfg.log_level);
    if (sodium_init() < 0) {
        pv_fail(&e, crypto_init, "libsodium failed to initialise");
        die(&e);
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    default_dir(cfg.adapter_dir, sizeof cfg.adapter_dir, "adapters");
    default_dir(cfg.webui_dir, sizeof cfg.webui_dir, "../webui");
    if (mkdirs(cfg.data_dir) != 0) {
        pv_fail(&e, data_dir, "cannot create data dir %s: %s", cfg.data_dir,
                     strerror(errno));
        die(&e);
    }
    chmod(cfg.data_dir, 0700); /* one made by an older version, or by hand */
    snprintf(dbpath, sizeof dbpath, "%s/polyvisor.db", cfg.data_dir);
    if (pv_db_init(dbpath, &e) || pv_secret_init(cfg.data_dir, &e) || pv_auth_init(&cfg, &e))
        die(&e);
    private_files(dbpath);
    pv_log(PV_LOG_INFO, "main", "event=inventory path=%s schema_version=%d", dbpath,
           pv_db_schema_version());
    pv_throttle_configure(cfg.login_free_failures, cfg.login_max_wait_seconds);
    pv_plugins_load(cfg.adapter_dir);
    if (pv_plugins_configure(&cfg, &e))
        die(&e);
    {
        const char *types[PV_ADAPTER_TYPES_MAX];
        pv_validate_set_types(types, pv_plugins_types(types, PV_ADAPTER_TYPES_MAX));
    }
    pv_clock_init(cfg.test_clock);
    pv_events_set_publisher(pv_jobwait_publish); /* the event stream, and job long polls */
    pv_conns_set_fencing(&fencing);
    if (pv_sse_start() || pv_jobs_start(&cfg, job_kinds, sizeof job_kinds / sizeof job_kinds[0], &e))
        die(&e);
    pv_conns_set_retry_max(cfg.host_failure_timeout / 3);
    pv_conns_start();
    if (pv_scheduler_start(&e) || pv_ha_start(cfg.host_failure_timeout, &e) ||
        pv_monitor_start(&cfg, &e))
        die(&e);
    if (pv_http_start(&cfg, &e))
        die(&e);
    pv_log(PV_LOG_INFO, "main", "event=listening url=%s://%s:%d/ webui=%s",
           cfg.tls_cert[0] ? "https" : "http", cfg.listen_host, cfg.listen_port, cfg.webui_dir);

    while (sigwait(&sigs, &sig) != 0)
        ;
    pv_log(PV_LOG_INFO, "main", "event=stopping signal=%d", sig);
    pv_http_stop();
    pv_scheduler_stop();
    pv_ha_stop();
    pv_monitor_stop();
    left = pv_jobs_stop(cfg.shutdown_grace_seconds);
    if (left) {
        pv_log(PV_LOG_WARN, "main",
               "event=stopped_with_running_jobs count=%d note=\"reconciled at next start\"", left);
        return 0; /* their threads still use adapters and the database */
    }
    pv_conns_stop();
    pv_plugins_unload();
    pv_db_shutdown();
    pv_log(PV_LOG_INFO, "main", "event=stopped");
    return 0;
}
