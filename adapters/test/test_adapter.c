/* test_adapter.c -- Polyvisor's "test" adapter: a simulated hypervisor
 * described by a JSON "world" file, the equivalent of libvirt's test driver.
 *
 * It makes every daemon code path (sync, change events, create, every power
 * action, migration, failures, slow tasks, cancel) testable without
 * hardware, and it behaves as a hypervisor does: power-state rules, memory
 * admission, refusals with stable codes.
 *
 * Decisions a newcomer must know:
 *   - The file is the hypervisor.  Every call re-reads it, so several
 *     connections and processes see one world; a read-modify-write holds an
 *     exclusive flock on PATH.lock and replaces the file atomically (write
 *     PATH.tmp, fsync, rename), bumping "generation".  Tests edit the file to
 *     play "another client changed something behind Polyvisor's back".
 *   - A task (`?delay_ms=N`) reports progress while it runs and checks for
 *     cancel; the change is applied at its END, as a hypervisor's task
 *     completes then.  The lock is never held across the delay.
 *   - watch() polls the generation every 100 ms and reports the difference
 *     against the last snapshot this connection reported.
 *
 * URL: test:///ABS/PATH/world.json[?delay_ms=N&fail=ACTION[,ACTION]]
 * (see docs/test-adapter.md for the world format).
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "adapters/adapter.h"

#define MAX_DELAY_MS 600000

struct pv_conn {
    char path[1024];
    char lockpath[1100];
    int delay_ms;
    char fail[256];          /* ",start,save," */
    pthread_mutex_t lock;    /* guards snapshot and seen_generation (watch vs other calls) */
    json_t *snapshot;        /* the world as last reported */
    long long seen_generation;
};

/* ---- the world file ----------------------------------------------------- */

static json_t *default_world(void)
{
    return json_pack(
        "{s:I,s:[{s:s,s:s}],s:[{s:s,s:s,s:s,s:i,s:i,s:i,s:s},{s:s,s:s,s:s,s:i,s:i,s:i,s:s}],"
        "s:[{s:s,s:s,s:s,s:s,s:i,s:i,s:b,s:[],s:[]},{s:s,s:s,s:s,s:s,s:i,s:i,s:b,s:[],s:[]},"
        "{s:s,s:s,s:s,s:s,s:i,s:i,s:b,s:[],s:[]}]}",
        "generation", (json_int_t)1,
        "clusters", "id", "cl-1", "name", "Test cluster",
        "hosts", "id", "test-host-1", "name", "test-host-1", "cluster", "cl-1", "cpu_cores", 8,
        "cpu_mhz", 2400, "memory_mb", 32768, "state", "connected",
        "id", "test-host-2", "name", "test-host-2", "cluster", "cl-1", "cpu_cores", 8,
        "cpu_mhz", 2400, "memory_mb", 32768, "state", "connected",
        "vms", "id", "5e1f0000-0000-4000-8000-000000000001", "name", "test-vm-1", "host",
        "test-host-1", "power_state", "running", "vcpus", 1, "memory_mb", 512, "paravirtual", 1,
        "disks", "nics",
        "id", "5e1f0000-0000-4000-8000-000000000002", "name", "test-vm-2", "host", "test-host-1",
        "power_state", "stopped", "vcpus", 2, "memory_mb", 1024, "paravirtual", 1, "disks", "nics",
        "id", "5e1f0000-0000-4000-8000-000000000003", "name", "test-vm-3", "host", "test-host-2",
        "power_state", "running", "vcpus", 2, "memory_mb", 2048, "paravirtual", 0, "disks",
        "nics");
}

static int lock_world(struct pv_conn *c, struct pv_error *err)
{
    int fd = open(c->lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        pv_error_set(err, PV_EUNREACHABLE, "peer_unreachable", "cannot open %s: %s", c->lockpath,
                     strerror(errno));
        return -1;
    }
    flock(fd, LOCK_EX);
    return fd;
}

static void unlock_world(int fd)
{
    if (fd >= 0) {
        flock(fd, LOCK_UN);
        close(fd);
    }
}

static int read_world(struct pv_conn *c, json_t **out, struct pv_error *err)
{
    json_error_t je;
    json_t *w;

    *out = NULL;
    w = json_load_file(c->path, JSON_REJECT_DUPLICATES, &je);
    if (!w) {
        if (access(c->path, F_OK) != 0)
            return pv_error_set(err, PV_EUNREACHABLE, "peer_unreachable",
                                "the test hypervisor %s does not answer (%s)", c->path,
                                strerror(errno));
        return pv_error_set(err, PV_EPEER, "invalid_world", "%s: line %d: %s", c->path, je.line,
                            je.text);
    }
    if (!json_is_object(w) || !json_is_array(json_object_get(w, "hosts")) ||
        !json_is_array(json_object_get(w, "vms"))) {
        json_decref(w);
        return pv_error_set(err, PV_EPEER, "invalid_world",
                            "%s: needs an object with \"hosts\" and \"vms\" arrays", c->path);
    }
    if (!json_is_array(json_object_get(w, "clusters")))
        json_object_set_new(w, "clusters", json_array());
    *out = w;
    return 0;
}

static int write_world(struct pv_conn *c, json_t *w, struct pv_error *err)
{
    char tmp[1100];
    FILE *f;
    int ok;

    json_object_set_new(w, "generation",
                        json_integer(json_integer_value(json_object_get(w, "generation")) + 1));
    snprintf(tmp, sizeof tmp, "%s.tmp", c->path);
    f = fopen(tmp, "w");
    if (!f)
        return pv_error_set(err, PV_EPEER, "backend_failure", "cannot write %s: %s", tmp,
                            strerror(errno));
    ok = json_dumpf(w, f, JSON_INDENT(1)) == 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    if (!ok || rename(tmp, c->path) != 0)
        return pv_error_set(err, PV_EPEER, "backend_failure", "cannot write %s", c->path);
    return 0;
}

static json_t *find_by_id(json_t *arr, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
        if (id && json_is_string(json_object_get(v, "id")) &&
            strcmp(json_string_value(json_object_get(v, "id")), id) == 0)
            return v;
    return NULL;
}

static const char *sget(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static long long iget(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

/* ---- reporting ---------------------------------------------------------- */

static enum pv_power_state power_of(const char *s)
{
    if (strcmp(s, "running") == 0) return PV_POWER_RUNNING;
    if (strcmp(s, "stopped") == 0) return PV_POWER_STOPPED;
    if (strcmp(s, "paused") == 0) return PV_POWER_PAUSED;
    if (strcmp(s, "saved") == 0) return PV_POWER_SAVED;
    return PV_POWER_UNKNOWN;
}

static enum pv_host_state host_state_of(const char *s)
{
    if (strcmp(s, "maintenance") == 0) return PV_HOST_MAINTENANCE;
    if (strcmp(s, "disconnected") == 0) return PV_HOST_DISCONNECTED;
    return PV_HOST_CONNECTED;
}

static int active(json_t *vm)
{
    const char *p = sget(vm, "power_state");
    return strcmp(p, "running") == 0 || strcmp(p, "paused") == 0;
}

/* Memory of running/paused VMs on a host. */
static long long host_used(json_t *w, const char *host, int *vcpus)
{
    size_t i;
    json_t *v;
    long long used = 0;

    if (vcpus)
        *vcpus = 0;
    json_array_foreach(json_object_get(w, "vms"), i, v)
        if (strcmp(sget(v, "host"), host) == 0 && active(v)) {
            used += iget(v, "memory_mb");
            if (vcpus)
                *vcpus += (int)iget(v, "vcpus");
        }
    return used;
}

static void report_host(json_t *w, json_t *h, const struct pv_sink *s)
{
    int vcpus, cores = (int)iget(h, "cpu_cores");
    double pct;
    char *facts;
    struct pv_host_info hi = {0};

    if (!s->host)
        return;
    hi.native_id = sget(h, "id");
    hi.name = sget(h, "name");
    hi.cluster_native_id = json_is_string(json_object_get(h, "cluster")) ? sget(h, "cluster") : NULL;
    hi.state = host_state_of(sget(h, "state"));
    hi.cpu_cores = cores;
    hi.cpu_mhz = (int)iget(h, "cpu_mhz");
    hi.memory_mb = iget(h, "memory_mb");
    hi.memory_used_mb = host_used(w, hi.native_id, &vcpus);
    pct = cores > 0 ? 100.0 * vcpus * 0.25 / cores : 0;
    hi.cpu_usage_pct = pct > 100 ? 100 : pct;
    facts = json_dumps(json_pack("{s:s,s:b}", "simulator", "polyvisor-test", "kvm", 0),
                       JSON_COMPACT);
    hi.facts_json = facts;
    s->host(s->ctx, &hi);
    free(facts);
}

static void report_vm(json_t *vm, const struct pv_sink *s)
{
    struct pv_vm_info vi = {0};
    char *disks, *nics;
    json_t *pv = json_object_get(vm, "paravirtual");

    if (!s->vm)
        return;
    disks = json_dumps(json_is_array(json_object_get(vm, "disks")) ? json_object_get(vm, "disks")
                                                                   : json_array(),
                       JSON_COMPACT | JSON_ENCODE_ANY);
    nics = json_dumps(json_is_array(json_object_get(vm, "nics")) ? json_object_get(vm, "nics")
                                                                 : json_array(),
                      JSON_COMPACT | JSON_ENCODE_ANY);
    vi.native_id = sget(vm, "id");
    vi.name = sget(vm, "name");
    vi.host_native_id = json_is_string(json_object_get(vm, "host")) ? sget(vm, "host") : NULL;
    vi.power_state = power_of(sget(vm, "power_state"));
    vi.vcpus = (int)iget(vm, "vcpus");
    vi.memory_mb = iget(vm, "memory_mb");
    vi.paravirtual = json_is_boolean(pv) ? json_is_true(pv) : -1;
    vi.disks_json = disks;
    vi.nics_json = nics;
    s->vm(s->ctx, &vi);
    free(disks);
    free(nics);
}

static void report_all(json_t *w, const struct pv_sink *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(w, "clusters"), i, v)
        if (s->cluster) {
            struct pv_cluster_info ci = {sget(v, "id"), sget(v, "name")};
            s->cluster(s->ctx, &ci);
        }
    json_array_foreach(json_object_get(w, "hosts"), i, v)
        report_host(w, v, s);
    json_array_foreach(json_object_get(w, "vms"), i, v)
        report_vm(v, s);
}

static void remember(struct pv_conn *c, json_t *w)
{
    pthread_mutex_lock(&c->lock);
    json_decref(c->snapshot);
    c->snapshot = json_deep_copy(w);
    c->seen_generation = iget(w, "generation");
    pthread_mutex_unlock(&c->lock);
}

/* ---- connection --------------------------------------------------------- */

static int parse_url(struct pv_conn *c, const char *url, struct pv_error *err)
{
    const char *q;
    size_t len;

    if (!url || strncmp(url, "test:///", 8) != 0)
        return pv_error_set(err, PV_EINVAL, "invalid_url",
                            "a test connection's url is test:///ABSOLUTE/PATH[?delay_ms=N&fail=ACTION,...]");
    url += 7;
    q = strchr(url, '?');
    len = q ? (size_t)(q - url) : strlen(url);
    if (len >= sizeof c->path - 8)
        return pv_error_set(err, PV_EINVAL, "invalid_url", "path too long");
    memcpy(c->path, url, len);
    c->path[len] = '\0';
    snprintf(c->lockpath, sizeof c->lockpath, "%s.lock", c->path);
    snprintf(c->fail, sizeof c->fail, ",");
    while (q && *q) {
        char key[32], val[200];
        const char *amp;
        q++;
        amp = strchr(q, '&');
        len = amp ? (size_t)(amp - q) : strlen(q);
        if (sscanf(q, "%31[^=]=%199[^&]", key, val) != 2)
            return pv_error_set(err, PV_EINVAL, "invalid_url", "bad option '%.*s'", (int)len, q);
        if (strcmp(key, "delay_ms") == 0) {
            char *end;
            long n = strtol(val, &end, 10);
            if (*end || n < 0 || n > MAX_DELAY_MS)
                return pv_error_set(err, PV_EINVAL, "invalid_url",
                                    "delay_ms must be 0 to %d", MAX_DELAY_MS);
            c->delay_ms = (int)n;
        } else if (strcmp(key, "fail") == 0) {
            snprintf(c->fail, sizeof c->fail, ",%s,", val);
        } else {
            return pv_error_set(err, PV_EINVAL, "invalid_url", "unknown option '%s'", key);
        }
        q = amp;
    }
    return 0;
}

static int failing(struct pv_conn *c, const char *what, struct pv_error *err)
{
    char needle[40];
    snprintf(needle, sizeof needle, ",%s,", what);
    if (strstr(c->fail, needle))
        return pv_error_set(err, PV_EPEER, "backend_failure",
                            "the test hypervisor was told to fail '%s'", what);
    return 0;
}

static int t_open(const struct pv_conn_params *p, struct pv_conn **out, struct pv_error *err)
{
    struct pv_conn *c = calloc(1, sizeof *c);
    json_t *w = NULL;
    int rc, fd;

    *out = NULL;
    if (!c)
        return pv_error_set(err, PV_EINTERNAL, "out_of_memory", "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    rc = parse_url(c, p->url, err);
    if (rc)
        goto fail;
    fd = lock_world(c, err);
    if (fd < 0) {
        rc = PV_EUNREACHABLE;
        goto fail;
    }
    if (access(c->path, F_OK) != 0) {
        json_t *d = default_world();
        rc = write_world(c, d, err);
        json_decref(d);
    }
    unlock_world(fd);
    if (rc || (rc = read_world(c, &w, err)))
        goto fail;
    if (json_is_string(json_object_get(w, "token")) &&
        (!p->token || strcmp(p->token, sget(w, "token")) != 0)) {
        rc = pv_error_set(err, PV_EAUTH, "auth_failed", "the endpoint refused the token");
        goto fail;
    }
    json_decref(w);
    *out = c;
    return 0;
fail:
    json_decref(w);
    pthread_mutex_destroy(&c->lock);
    free(c);
    return rc;
}

static void t_close(struct pv_conn *c)
{
    if (!c)
        return;
    json_decref(c->snapshot);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static int t_sync(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err)
{
    json_t *w;
    int rc = failing(c, "sync", err);

    if (rc || (rc = read_world(c, &w, err)))
        return rc;
    report_all(w, s);
    remember(c, w);
    json_decref(w);
    return 0;
}

/* Report what differs between the last snapshot and w. */
static void report_diff(json_t *old, json_t *w, const struct pv_sink *s)
{
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(w, "hosts"), i, v) {
        json_t *was = find_by_id(json_object_get(old, "hosts"), sget(v, "id"));
        if (!was || !json_equal(was, v))
            report_host(w, v, s);
    }
    json_array_foreach(json_object_get(w, "vms"), i, v) {
        json_t *was = find_by_id(json_object_get(old, "vms"), sget(v, "id"));
        if (!was || !json_equal(was, v)) {
            report_vm(v, s);
            /* the hosts' used memory follows their VMs */
            json_t *h = find_by_id(json_object_get(w, "hosts"), sget(v, "host"));
            if (h)
                report_host(w, h, s);
        }
    }
    json_array_foreach(json_object_get(old, "vms"), i, v)
        if (!find_by_id(json_object_get(w, "vms"), sget(v, "id")) && s->vm_gone)
            s->vm_gone(s->ctx, sget(v, "id"));
}

static int t_watch(struct pv_conn *c, const struct pv_sink *s, int timeout_ms,
                   struct pv_error *err)
{
    int waited = 0;

    for (;;) {
        json_t *w, *old;
        int rc = read_world(c, &w, err);
        if (rc)
            return rc;
        pthread_mutex_lock(&c->lock);
        if (iget(w, "generation") != c->seen_generation) {
            old = c->snapshot ? json_incref(c->snapshot) : json_object();
            pthread_mutex_unlock(&c->lock);
            report_diff(old, w, s);
            json_decref(old);
            remember(c, w);
            json_decref(w);
            return 0;
        }
        pthread_mutex_unlock(&c->lock);
        json_decref(w);
        if (waited >= timeout_ms)
            return 0;
        usleep(100 * 1000);
        waited += 100;
    }
}

static int t_refresh(struct pv_conn *c, const char *vm, const struct pv_sink *s,
                     struct pv_error *err)
{
    json_t *w, *v;
    int rc = read_world(c, &w, err);

    if (rc)
        return rc;
    v = find_by_id(json_object_get(w, "vms"), vm);
    if (v) {
        report_vm(v, s);
        json_t *h = find_by_id(json_object_get(w, "hosts"), sget(v, "host"));
        if (h)
            report_host(w, h, s);
    } else if (s->vm_gone) {
        s->vm_gone(s->ctx, vm);
    }
    json_decref(w);
    return 0;
}

/* A task's running time: progress from start to end percent, checking for
 * cancel.  Returns PV_ECANCELLED when asked to stop. */
static int run_task(struct pv_conn *c, const struct pv_sink *s, int from, int to,
                    const char *detail, struct pv_error *err)
{
    int slices = 10;

    for (int i = 0; i < slices && c->delay_ms > 0; i++) {
        if (s->cancelled && s->cancelled(s->ctx))
            return pv_error_set(err, PV_ECANCELLED, "cancelled", "cancelled before the task completed");
        if (s->progress)
            s->progress(s->ctx, from + (to - from) * i / slices, detail);
        usleep((useconds_t)c->delay_ms * 1000 / (useconds_t)slices);
    }
    if (s->cancelled && s->cancelled(s->ctx))
        return pv_error_set(err, PV_ECANCELLED, "cancelled", "cancelled before the task completed");
    return 0;
}

/* Read-modify-write under the world lock.  fn changes w or refuses. */
static int change(struct pv_conn *c, int (*fn)(json_t *w, void *arg, struct pv_error *err),
                  void *arg, const struct pv_sink *s, const char *report_vm_id,
                  struct pv_error *err)
{
    json_t *w = NULL;
    int fd = lock_world(c, err), rc;

    if (fd < 0)
        return PV_EUNREACHABLE;
    rc = read_world(c, &w, err);
    if (!rc)
        rc = fn(w, arg, err);
    if (!rc)
        rc = write_world(c, w, err);
    unlock_world(fd);
    if (!rc && s && report_vm_id) {
        json_t *v = find_by_id(json_object_get(w, "vms"), report_vm_id);
        if (v) {
            report_vm(v, s);
            json_t *h = find_by_id(json_object_get(w, "hosts"), sget(v, "host"));
            if (h)
                report_host(w, h, s);
        }
    }
    json_decref(w);
    return rc;
}

/* ---- actions ------------------------------------------------------------ */

struct action_arg {
    const char *vm;
    enum pv_vm_action act;
};

static int fits(json_t *w, json_t *host, json_t *vm, struct pv_error *err)
{
    long long need = host_used(w, sget(host, "id"), NULL) + iget(vm, "memory_mb");
    if (need > iget(host, "memory_mb"))
        return pv_error_set(err, PV_ECONFLICT, "insufficient_memory",
                            "host %s has %lld MB free; vm %s needs %lld MB", sget(host, "name"),
                            iget(host, "memory_mb") - host_used(w, sget(host, "id"), NULL),
                            sget(vm, "name"), iget(vm, "memory_mb"));
    return 0;
}

static int apply_action(json_t *w, void *p, struct pv_error *err)
{
    struct action_arg *a = p;
    json_t *vms = json_object_get(w, "vms");
    json_t *vm = find_by_id(vms, a->vm), *host;
    const char *st, *name, *to = NULL;

    if (!vm)
        return pv_error_set(err, PV_ENOTFOUND, "vm_not_found", "the test hypervisor has no vm %s",
                            a->vm);
    st = sget(vm, "power_state");
    name = sget(vm, "name");
    switch (a->act) {
    case PV_ACT_START:
        if (strcmp(st, "running") == 0)
            return pv_error_set(err, PV_ECONFLICT, "already_running", "vm %s is already running", name);
        if (strcmp(st, "paused") == 0)
            return pv_error_set(err, PV_ECONFLICT, "vm_paused", "vm %s is paused; resume it instead", name);
        host = find_by_id(json_object_get(w, "hosts"), sget(vm, "host"));
        if (!host || strcmp(sget(host, "state"), "connected") != 0)
            return pv_error_set(err, PV_ECONFLICT, "host_unavailable",
                                "the host of vm %s is not connected", name);
        if (fits(w, host, vm, err))
            return PV_ECONFLICT;
        to = "running";
        break;
    case PV_ACT_SHUTDOWN:
    case PV_ACT_POWEROFF:
        if (strcmp(st, "running") != 0 && strcmp(st, "paused") != 0)
            return pv_error_set(err, PV_ECONFLICT, "already_stopped", "vm %s is not running (%s)", name, st);
        to = "stopped";
        break;
    case PV_ACT_REBOOT:
        if (strcmp(st, "running") != 0)
            return pv_error_set(err, PV_ECONFLICT, "not_running", "vm %s is not running (%s)", name, st);
        to = "running";
        break;
    case PV_ACT_PAUSE:
        if (strcmp(st, "running") != 0)
            return pv_error_set(err, PV_ECONFLICT, "not_running", "vm %s is not running (%s)", name, st);
        to = "paused";
        break;
    case PV_ACT_RESUME:
        if (strcmp(st, "paused") != 0)
            return pv_error_set(err, PV_ECONFLICT, "not_paused", "vm %s is not paused (%s)", name, st);
        to = "running";
        break;
    case PV_ACT_SAVE:
        if (strcmp(st, "running") != 0 && strcmp(st, "paused") != 0)
            return pv_error_set(err, PV_ECONFLICT, "not_running", "vm %s is not running (%s)", name, st);
        to = "saved";
        break;
    case PV_ACT_DELETE: {
        size_t i;
        json_t *v;
        if (active(vm))
            return pv_error_set(err, PV_ECONFLICT, "vm_running",
                                "vm %s is %s; power it off first", name, st);
        json_array_foreach(vms, i, v)
            if (v == vm) {
                json_array_remove(vms, i);
                break;
            }
        return 0;
    }
    }
    json_object_set_new(vm, "power_state", json_string(to));
    return 0;
}

static const char *action_name(enum pv_vm_action a)
{
    static const char *const names[] = {"start", "shutdown", "poweroff", "reboot",
                                        "pause", "resume", "save", "delete"};
    return (unsigned)a < 8 ? names[a] : "action";
}

static int t_action(struct pv_conn *c, const char *vm, enum pv_vm_action a,
                    const struct pv_sink *s, struct pv_error *err)
{
    struct action_arg arg = {vm, a};
    json_t *w;
    int rc = failing(c, action_name(a), err);

    if (rc)
        return rc;
    /* Refuse at once what the hypervisor would refuse (no task runs). */
    rc = read_world(c, &w, err);
    if (rc)
        return rc;
    rc = apply_action(w, &arg, err);
    json_decref(w);
    if (rc)
        return rc;
    rc = run_task(c, s, 0, 100, action_name(a), err);
    if (rc)
        return rc;
    rc = change(c, apply_action, &arg, s, a == PV_ACT_DELETE ? NULL : vm, err);
    if (!rc && a == PV_ACT_DELETE && s->vm_gone)
        s->vm_gone(s->ctx, vm);
    return rc;
}

/* ---- create ------------------------------------------------------------- */

struct create_arg {
    const char *host;
    const struct pv_vm_spec *spec;
    char id[40];
};

static void new_uuid(char out[40])
{
    unsigned char r[16] = {0};
    FILE *f = fopen("/dev/urandom", "rb");

    if (!f || fread(r, 1, sizeof r, f) != sizeof r) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        for (size_t i = 0; i < sizeof r; i++)
            r[i] = (unsigned char)((ts.tv_nsec >> (i % 8)) ^ (i * 37));
    }
    if (f)
        fclose(f);
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0],
             r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13],
             r[14], r[15]);
}

static json_t *pick_host(json_t *w, const char *want, long long mem, struct pv_error *err)
{
    size_t i;
    json_t *h, *best = NULL;
    long long best_free = -1;

    if (want) {
        h = find_by_id(json_object_get(w, "hosts"), want);
        if (!h) {
            pv_error_set(err, PV_ENOTFOUND, "host_not_found", "the test hypervisor has no host %s", want);
            return NULL;
        }
        if (strcmp(sget(h, "state"), "connected") != 0) {
            pv_error_set(err, PV_ECONFLICT, "host_unavailable", "host %s is %s", sget(h, "name"),
                         sget(h, "state"));
            return NULL;
        }
        return h;
    }
    json_array_foreach(json_object_get(w, "hosts"), i, h) {
        long long free_mb = iget(h, "memory_mb") - host_used(w, sget(h, "id"), NULL);
        if (strcmp(sget(h, "state"), "connected") == 0 && free_mb > best_free &&
            free_mb >= mem) {
            best = h;
            best_free = free_mb;
        }
    }
    if (!best)
        pv_error_set(err, PV_ECONFLICT, "host_unavailable", "no connected host has room");
    return best;
}

static int check_spec(json_t *w, const struct pv_vm_spec *sp, struct pv_error *err)
{
    size_t i;
    json_t *v;

    if (!sp->name || !*sp->name || strlen(sp->name) > 64 || sp->vcpus < 1 || sp->vcpus > 64 ||
        sp->memory_mb < 16 || sp->memory_mb > 1048576)
        return pv_error_set(err, PV_EINVAL, "invalid_spec",
                            "name 1-64 chars, vcpus 1-64, memory_mb 16-1048576");
    json_array_foreach(json_object_get(w, "vms"), i, v)
        if (strcmp(sget(v, "name"), sp->name) == 0)
            return pv_error_set(err, PV_ECONFLICT, "name_in_use",
                                "the test hypervisor already has a vm named %s", sp->name);
    return 0;
}

static int apply_create(json_t *w, void *p, struct pv_error *err)
{
    struct create_arg *a = p;
    json_t *host, *disks = NULL, *nics = NULL;
    int rc = check_spec(w, a->spec, err);

    if (rc)
        return rc;
    host = pick_host(w, a->host, a->spec->memory_mb, err);
    if (!host)
        return err->err;
    if (a->spec->disks_json)
        disks = json_loads(a->spec->disks_json, 0, NULL);
    if (a->spec->nics_json)
        nics = json_loads(a->spec->nics_json, 0, NULL);
    json_array_append_new(
        json_object_get(w, "vms"),
        json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:b,s:o,s:o}", "id", a->id, "name", a->spec->name,
                  "host", sget(host, "id"), "power_state", "stopped", "vcpus", a->spec->vcpus,
                  "memory_mb", (json_int_t)a->spec->memory_mb, "paravirtual", a->spec->paravirtual,
                  "disks", json_is_array(disks) ? disks : (json_decref(disks), json_array()),
                  "nics", json_is_array(nics) ? nics : (json_decref(nics), json_array())));
    return 0;
}

static int t_create(struct pv_conn *c, const char *host, const struct pv_vm_spec *spec,
                    const struct pv_sink *s, char **native_id, struct pv_error *err)
{
    struct create_arg arg = {host, spec, ""};
    json_t *w;
    int rc = failing(c, "create", err);

    *native_id = NULL;
    if (rc || (rc = read_world(c, &w, err)))
        return rc;
    rc = check_spec(w, spec, err);
    json_decref(w);
    if (rc)
        return rc;
    new_uuid(arg.id);
    rc = run_task(c, s, 0, 100, "creating", err);
    if (!rc)
        rc = change(c, apply_create, &arg, s, arg.id, err);
    if (!rc)
        *native_id = strdup(arg.id);
    return rc;
}

/* ---- migrate ------------------------------------------------------------ */

static int check_destination(json_t *dw, json_t *vm, const char *host, int same_world,
                             struct pv_error *err)
{
    json_t *h = find_by_id(json_object_get(dw, "hosts"), host);

    if (!h)
        return pv_error_set(err, PV_ENOTFOUND, "host_not_found", "no destination host %s", host);
    if (strcmp(sget(h, "state"), "connected") != 0)
        return pv_error_set(err, PV_ECONFLICT, "host_unavailable", "host %s is %s",
                            sget(h, "name"), sget(h, "state"));
    if (same_world && strcmp(sget(vm, "host"), host) == 0)
        return pv_error_set(err, PV_ECONFLICT, "same_host", "vm %s is already on %s",
                            sget(vm, "name"), sget(h, "name"));
    if (active(vm) && fits(dw, h, vm, err))
        return PV_ECONFLICT;
    return 0;
}

static int t_migrate(struct pv_conn *from, const char *vm_id, struct pv_conn *to,
                     const char *host, enum pv_migrate_mode mode, const struct pv_sink *s,
                     struct pv_error *err)
{
    int same = strcmp(from->path, to->path) == 0;
    json_t *sw = NULL, *dw = NULL, *vm;
    int rc = failing(from, "migrate", err), fd1 = -1, fd2 = -1;

    if (rc || (rc = read_world(from, &sw, err)))
        return rc;
    vm = find_by_id(json_object_get(sw, "vms"), vm_id);
    if (!vm) {
        rc = pv_error_set(err, PV_ENOTFOUND, "vm_not_found", "the test hypervisor has no vm %s", vm_id);
        goto out;
    }
    if (mode == PV_MIGRATE_LIVE && strcmp(sget(vm, "power_state"), "running") != 0) {
        rc = pv_error_set(err, PV_ECONFLICT, "not_running",
                          "vm %s is %s: live migration needs a running vm; use quick", sget(vm, "name"),
                          sget(vm, "power_state"));
        goto out;
    }
    if (same) {
        dw = json_incref(sw);
    } else if ((rc = read_world(to, &dw, err))) {
        goto out;
    }
    if ((rc = check_destination(dw, vm, host, same, err)))
        goto out;
    if (mode == PV_MIGRATE_QUICK && active(vm)) {
        if ((rc = run_task(from, s, 0, 40, "saving", err)) ||
            (rc = run_task(from, s, 40, 70, "copying", err)) ||
            (rc = run_task(from, s, 70, 100, "restoring", err)))
            goto out;
    } else if ((rc = run_task(from, s, 0, 100, mode == PV_MIGRATE_LIVE ? "migrating memory" : "moving", err))) {
        goto out;
    }
    /* Commit: both worlds under their locks, taken in path order. */
    json_decref(sw);
    json_decref(dw);
    sw = dw = NULL;
    {
        struct pv_conn *first = same || strcmp(from->path, to->path) < 0 ? from : to;
        struct pv_conn *second = first == from ? to : from;
        fd1 = lock_world(first, err);
        if (!same)
            fd2 = lock_world(second, err);
        if (fd1 < 0 || (!same && fd2 < 0)) {
            rc = PV_EUNREACHABLE;
            goto out;
        }
    }
    if ((rc = read_world(from, &sw, err)))
        goto out;
    vm = find_by_id(json_object_get(sw, "vms"), vm_id);
    if (same)
        dw = json_incref(sw);
    else if ((rc = read_world(to, &dw, err)))
        goto out;
    if (!vm) {
        rc = pv_error_set(err, PV_ENOTFOUND, "vm_not_found", "vm %s vanished during the move", vm_id);
        goto out;
    }
    if ((rc = check_destination(dw, vm, host, same, err)))
        goto out;
    json_object_set_new(vm, "host", json_string(host));
    if (!same) {
        size_t i;
        json_t *v;
        json_array_append(json_object_get(dw, "vms"), vm);
        json_array_foreach(json_object_get(sw, "vms"), i, v)
            if (v == vm) {
                json_array_remove(json_object_get(sw, "vms"), i);
                break;
            }
        rc = write_world(to, dw, err);
    }
    if (!rc)
        rc = write_world(from, sw, err);
    if (!rc) {
        json_t *moved = find_by_id(json_object_get(dw, "vms"), vm_id);
        if (moved)
            report_vm(moved, s);
    }
out:
    unlock_world(fd2);
    unlock_world(fd1);
    json_decref(sw);
    json_decref(dw);
    return rc;
}

static const struct pv_adapter test_adapter = {
    .abi = PV_ADAPTER_ABI,
    .name = "test",
    .version = "1.0",
    .caps = PV_CAP_SYNC | PV_CAP_EVENTS | PV_CAP_CREATE | PV_CAP_DELETE | PV_CAP_POWER |
            PV_CAP_SHUTDOWN | PV_CAP_PAUSE | PV_CAP_SAVE | PV_CAP_LIVE_MIGRATE |
            PV_CAP_QUICK_MIGRATE | PV_CAP_STATS | PV_CAP_MAINTENANCE,
    .open = t_open,
    .close = t_close,
    .sync = t_sync,
    .watch = t_watch,
    .vm_create = t_create,
    .vm_action = t_action,
    .vm_migrate = t_migrate,
    .vm_refresh = t_refresh,
};

const struct pv_adapter *pv_adapter_entry(void)
{
    return &test_adapter;
}
