/* test_adapter.c -- the "test" adapter: a simulated hypervisor kept in a JSON file.
 *
 * Polyvisor's equivalent of libvirt's test driver, and a real, documented
 * backend (docs/test-adapter.md): connection type "test", URL
 * test:///ABS/PATH/world.json[?delay_ms=N&fail=ACTION,...].  The "world"
 * file holds clusters, hosts and VMs; this adapter behaves towards it the way
 * a hypervisor manager behaves towards its hosts -- state rules, memory
 * admission, stable error codes -- so every daemon path (sync, events,
 * create, clone, power actions, migration, snapshots, failures, slow tasks,
 * cancel) runs without hardware.
 *
 * Decisions a newcomer must know:
 *   - The file is the hypervisor.  Every call re-reads it, so connections in
 *     several threads and processes (and a person editing it) see one world.
 *     Changes are a read-modify-write under an exclusive flock on PATH.lock,
 *     written atomically (PATH.tmp, fsync, rename) with "generation" + 1;
 *     readers take no lock because a rename is all or nothing.
 *   - A task (action, create, clone, delete, migrate, snapshot) checks its
 *     preconditions, then runs for delay_ms -- reporting progress, honouring
 *     cancel, holding no lock -- then re-checks and applies its change under the lock.  The
 *     world changes only when a task completes; a cancelled or failed task
 *     leaves it as it was.
 *   - open() writes a default world only the first time: a world whose
 *     PATH.lock exists but whose file is gone is a hypervisor that went away
 *     (peer_unreachable), not a new one to invent.
 *   - watch() diffs against the world last reported on the same pv_conn;
 *     snap_lock guards that snapshot, because watch runs on its own thread.
 *   - World files live only in one directory, world_dir (setting
 *     test.world_dir, default DATA_DIR/test-worlds): a connection URL must
 *     never make the daemon (root, often) read, echo or write any other file.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>
#include "../adapter.h"

#define TEST_CONN_MAGIC 0x54455354u /* "TEST": the pv_conn really is ours */
#define DELAY_MAX_MS 600000
#define WATCH_POLL_MS 100
#define CANCEL_POLL_MS 100
#define WORLD_MAX_BYTES (64L * 1024 * 1024)
#define VM_NAME_MAX 64
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fail= and the actions it can break ------------------------------ */

enum fail_bit { F_CREATE, F_START, F_SHUTDOWN, F_POWEROFF, F_REBOOT, F_PAUSE, F_RESUME,
                F_SAVE, F_DELETE, F_MIGRATE, F_SYNC, F_CLONE, F_DEVICE, F_SNAPSHOT };

static const char *const fail_names[] = {"create", "start", "shutdown", "poweroff",
                                         "reboot", "pause",  "resume",   "save",
                                         "delete", "migrate", "sync", "clone", "device",
                                         "snapshot"};
#define FAIL_KNOWN "create, start, shutdown, poweroff, reboot, pause, resume, save, delete, " \
                   "migrate, sync, clone, device, snapshot"

static const struct action_rule {
    const char *verb;   /* what fail= calls it, and messages */
    const char *doing;  /* progress detail */
    enum fail_bit fail;
} action_rules[] = {
    [PV_ACT_START] = {"start", "starting", F_START},
    [PV_ACT_SHUTDOWN] = {"shutdown", "shutting down", F_SHUTDOWN},
    [PV_ACT_POWEROFF] = {"poweroff", "powering off", F_POWEROFF},
    [PV_ACT_REBOOT] = {"reboot", "rebooting", F_REBOOT},
    [PV_ACT_PAUSE] = {"pause", "pausing", F_PAUSE},
    [PV_ACT_RESUME] = {"resume", "resuming", F_RESUME},
    [PV_ACT_SAVE] = {"save", "saving", F_SAVE},
    [PV_ACT_DELETE] = {"delete", "deleting", F_DELETE},
    [PV_ACT_DELETE_WITH_DISKS] = {"delete", "deleting", F_DELETE}, /* simulated disks go with it */
};

/* ---- the connection -------------------------------------------------- */

struct file_sig {           /* which version of the world file was read */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
};

struct pv_conn {
    uint32_t magic;
    char *path;             /* the world file */
    char *lock_path;        /* PATH.lock: flock'd for each read-modify-write */
    char *tmp_path;         /* PATH.tmp: the next version, renamed over PATH */
    int delay_ms;           /* how long a task takes */
    unsigned fail_mask;     /* 1u << enum fail_bit */

    /* snap_lock guards snap, snap_gen and snap_sig: the world as last
     * reported through sync() or watch() on this conn (NULL before the
     * first), which watch() diffs against. */
    pthread_mutex_t snap_lock;
    json_t *snap;
    json_int_t snap_gen;
    struct file_sig snap_sig;
};

/* ---- small helpers ----------------------------------------------------- */

static const char *sget(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_int_t iget(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static json_t *list(const json_t *w, const char *k)
{
    return json_object_get(w, k);
}

static json_t *find_id(json_t *arr, const char *id, size_t *idx)
{
    size_t i;
    json_t *o;

    if (!id)
        return NULL;
    json_array_foreach(arr, i, o) {
        if (strcmp(sget(o, "id"), id) == 0) {
            if (idx)
                *idx = i;
            return o;
        }
    }
    return NULL;
}

static json_t *find_vm_named(json_t *w, const char *name)
{
    size_t i;
    json_t *vm;

    json_array_foreach(list(w, "vms"), i, vm) {
        if (strcmp(sget(vm, "name"), name) == 0)
            return vm;
    }
    return NULL;
}

static char *str_cat(const char *a, const char *b)
{
    size_t n;
    char *s;

    a = a ? a : "";
    b = b ? b : "";
    n = strlen(a) + strlen(b) + 1;
    s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s", a, b);
    return s;
}

static const char *errstr(int e, char *buf, size_t n)
{
    return strerror_r(e, buf, n); /* the GNU variant: returns the text */
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

    while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static int oom(struct pv_error *err)
{
    return pv_fail(err, out_of_memory, "the test adapter ran out of memory");
}

static int unreachable(struct pv_error *err, const char *path, int e)
{
    char buf[128];

    if (e == ENOENT)
        return pv_fail(err, peer_unreachable,
                            "world file %s does not exist: the test hypervisor is gone", path);
    return pv_fail(err, peer_unreachable, "cannot read world file %s: %s",
                        path, errstr(e, buf, sizeof buf));
}

static int write_failed(struct pv_error *err, const char *path, int e)
{
    char buf[128];

    return pv_fail(err, backend_failure, "cannot write world file %s: %s", path,
                        errstr(e, buf, sizeof buf));
}

static int conn_ok(const struct pv_conn *c, struct pv_error *err)
{
    if (c && c->magic == TEST_CONN_MAGIC)
        return 0;
    return pv_fail(err, invalid_argument,
                        "not a connection of the test adapter");
}

/* ---- states ------------------------------------------------------------ */

static const char *const power_names[] = {
    [PV_POWER_UNKNOWN] = "unknown", [PV_POWER_RUNNING] = "running",
    [PV_POWER_STOPPED] = "stopped", [PV_POWER_PAUSED] = "paused", [PV_POWER_SAVED] = "saved",
};

static enum pv_power_state power_parse(const char *s)
{
    for (size_t i = PV_POWER_RUNNING; s && i < COUNT(power_names); i++)
        if (strcmp(s, power_names[i]) == 0)
            return (enum pv_power_state)i;
    return PV_POWER_UNKNOWN;
}

static enum pv_power_state power_of(const json_t *vm)
{
    return power_parse(sget(vm, "power_state"));
}

static void power_set(json_t *vm, enum pv_power_state p)
{
    json_object_set_new(vm, "power_state", json_string(power_names[p]));
}

/* Running and paused VMs hold their memory on the host; stopped and saved do not. */
static int holds_memory(enum pv_power_state p)
{
    return p == PV_POWER_RUNNING || p == PV_POWER_PAUSED;
}

static const char *const host_state_names[] = {
    [PV_HOST_CONNECTED] = "connected", [PV_HOST_DISCONNECTED] = "disconnected",
    [PV_HOST_MAINTENANCE] = "maintenance",
};

/* -1 when not a state a world may hold; an absent state is "connected". */
static int host_state_parse(const char *s)
{
    if (!s)
        return PV_HOST_CONNECTED;
    for (size_t i = 0; i < COUNT(host_state_names); i++)
        if (host_state_names[i] && strcmp(s, host_state_names[i]) == 0)
            return (int)i;
    return -1;
}

static enum pv_host_state host_state_of(const json_t *h)
{
    int st = host_state_parse(sget(h, "state"));
    return st < 0 ? PV_HOST_FAILED : (enum pv_host_state)st;
}

/* ---- capacity ---------------------------------------------------------- */

struct usage {
    json_int_t mem_mb;      /* memory of running and paused VMs */
    json_int_t vcpus;       /* vcpus of running VMs */
};

static struct usage host_usage(json_t *w, const char *host_id)
{
    struct usage u = {0, 0};
    size_t i;
    json_t *vm;

    json_array_foreach(list(w, "vms"), i, vm) {
        enum pv_power_state p = power_of(vm);
        if (strcmp(sget(vm, "host"), host_id) != 0 || !holds_memory(p))
            continue;
        u.mem_mb += iget(vm, "memory_mb");
        if (p == PV_POWER_RUNNING)
            u.vcpus += iget(vm, "vcpus");
    }
    return u;
}

/* Usage of every host in one pass, indexed like w.hosts; malloc'd. */
static struct usage *usage_all(json_t *w)
{
    json_t *hosts = list(w, "hosts"), *idx = json_object(), *h, *vm;
    struct usage *u = calloc(json_array_size(hosts) + 1, sizeof *u);
    size_t i;

    if (!u || !idx) {
        free(u);
        json_decref(idx);
        return NULL;
    }
    json_array_foreach(hosts, i, h) {
        json_object_set_new(idx, sget(h, "id"), json_integer((json_int_t)i));
    }
    json_array_foreach(list(w, "vms"), i, vm) {
        json_t *k = json_object_get(idx, sget(vm, "host"));
        enum pv_power_state p = power_of(vm);
        if (!k || !holds_memory(p))
            continue;
        u[json_integer_value(k)].mem_mb += iget(vm, "memory_mb");
        if (p == PV_POWER_RUNNING)
            u[json_integer_value(k)].vcpus += iget(vm, "vcpus");
    }
    json_decref(idx);
    return u;
}

/* Deterministic load figure: each running vcpu keeps a quarter of a core busy. */
static double cpu_pct(const json_t *h, const struct usage *u)
{
    double pct = 100.0 * (double)u->vcpus * 0.25 / (double)iget(h, "cpu_cores");
    return pct > 100.0 ? 100.0 : pct;
}

/* The connected host with the most free memory that fits need_mb (ties:
 * lowest id), other than `exclude`; NULL when none. */
static json_t *choose_host(json_t *w, const char *exclude, json_int_t need_mb)
{
    json_t *best = NULL, *h;
    json_int_t best_free = 0;
    size_t i;

    json_array_foreach(list(w, "hosts"), i, h) {
        const char *id = sget(h, "id");
        json_int_t free_mb;
        if (host_state_of(h) != PV_HOST_CONNECTED || (exclude && strcmp(id, exclude) == 0))
            continue;
        free_mb = iget(h, "memory_mb") - host_usage(w, id).mem_mb;
        if (free_mb < need_mb)
            continue;
        if (!best || free_mb > best_free ||
            (free_mb == best_free && strcmp(id, sget(best, "id")) < 0)) {
            best = h;
            best_free = free_mb;
        }
    }
    return best;
}

/* ---- the world file ---------------------------------------------------- */

static struct file_sig sig_of(const struct stat *st)
{
    struct file_sig s = {st->st_dev, st->st_ino, st->st_size, st->st_mtim};
    return s;
}

static int sig_eq(const struct file_sig *a, const struct file_sig *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

static int why_set(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int why_set(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int is_int_in(const json_t *v, json_int_t lo, json_int_t hi)
{
    return json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi;
}

static int is_id(const json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0 &&
           strlen(json_string_value(v)) == json_string_length(v); /* no NUL inside */
}

/* Is w a world this adapter can run?  Fills in what may be left out
 * (empty lists).  Ids are unique per kind, VM names unique, and every
 * reference (a host's cluster, a VM's host) resolves. */
/* A VM's "snapshots": each {key, name, parent (an earlier snapshot's key or
 * null), created_at, current, memory} plus the VM's settings at the time
 * (vcpus, memory_mb, power_state, disks, nics); parents come before their
 * children, so one pass checks the tree. */
static int snapshots_check(json_t *vm, char *why, size_t n)
{
    json_t *arr = json_object_get(vm, "snapshots"), *o, *par;
    size_t i, j;
    int current = 0;

    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return why_set(why, n, "vm \"%s\": \"snapshots\" must be an array", sget(vm, "id"));
    json_array_foreach(arr, i, o) {
        int known = 0;
        par = json_object_get(o, "parent");
        for (j = 0; j < i && json_is_string(par); j++)
            known |= strcmp(sget(json_array_get(arr, j), "key"), json_string_value(par)) == 0;
        if (!json_is_object(o) || !is_id(json_object_get(o, "key")) ||
            !is_id(json_object_get(o, "name")) || !(json_is_null(par) || !par || known) ||
            !is_int_in(json_object_get(o, "vcpus"), 1, 4096) ||
            !is_int_in(json_object_get(o, "memory_mb"), 1, (json_int_t)1 << 40) ||
            power_of(o) == PV_POWER_UNKNOWN)
            return why_set(why, n, "vm \"%s\": snapshots[%zu] needs a \"key\", a \"name\", a "
                           "\"parent\" that is null or an earlier snapshot's key, vcpus, "
                           "memory_mb and a power_state", sget(vm, "id"), i);
        current += json_is_true(json_object_get(o, "current"));
    }
    if (current > 1)
        return why_set(why, n, "vm \"%s\": only one snapshot can be \"current\"", sget(vm, "id"));
    return 0;
}

static int world_check(json_t *w, char *why, size_t n)
{
    static const char *const lists[] = {"clusters", "hosts", "vms"};
    json_t *seen_cl = NULL, *seen_host = NULL, *seen_vm = NULL, *seen_name = NULL, *v, *o;
    size_t i;
    int rc = -1;

    if (!json_is_object(w))
        return why_set(why, n, "the top level must be a JSON object");
    v = json_object_get(w, "generation");
    if (v && !is_int_in(v, 0, INT64_MAX - 1))
        return why_set(why, n, "\"generation\" must be a non-negative integer");
    v = json_object_get(w, "token");
    if (v && !json_is_string(v))
        return why_set(why, n, "\"token\" must be a string");
    for (i = 0; i < COUNT(lists); i++) {
        v = json_object_get(w, lists[i]);
        if (!v)
            json_object_set_new(w, lists[i], json_array());
        else if (!json_is_array(v))
            return why_set(why, n, "\"%s\" must be an array", lists[i]);
    }
    for (i = 0; i < 2; i++) { /* pools and networks: optional, each named and placed */
        const char *k = i ? "networks" : "pools";
        size_t j;
        v = json_object_get(w, k);
        if (v && !json_is_array(v))
            return why_set(why, n, "\"%s\" must be an array", k);
        json_array_foreach(v, j, o) {
            if (!json_is_string(json_object_get(o, "id")) || !json_is_string(json_object_get(o, "name")) ||
                !json_is_array(json_object_get(o, "hosts")) ||
                (!i && !is_int_in(json_object_get(o, "capacity_mb"), 0, INT64_MAX / 2)))
                return why_set(why, n, "%s[%zu] needs a string \"id\" and \"name\", a \"hosts\" "
                               "array%s", k, j, i ? "" : " and a non-negative \"capacity_mb\"");
        }
    }
    seen_cl = json_object();
    seen_host = json_object();
    seen_vm = json_object();
    seen_name = json_object();
    if (!seen_cl || !seen_host || !seen_vm || !seen_name) {
        why_set(why, n, "out of memory");
        goto out;
    }
    json_array_foreach(list(w, "clusters"), i, o) {
        if (!json_is_object(o) || !is_id(json_object_get(o, "id")) ||
            !json_is_string(json_object_get(o, "name"))) {
            why_set(why, n, "clusters[%zu]: needs a non-empty string \"id\" and a string \"name\"",
                    i);
            goto out;
        }
        if (json_object_get(seen_cl, sget(o, "id"))) {
            why_set(why, n, "clusters[%zu]: id \"%s\" is used twice", i, sget(o, "id"));
            goto out;
        }
        json_object_set(seen_cl, sget(o, "id"), o);
    }
    json_array_foreach(list(w, "hosts"), i, o) {
        json_t *cl = json_object_get(o, "cluster");
        if (!json_is_object(o) || !is_id(json_object_get(o, "id")) ||
            !json_is_string(json_object_get(o, "name"))) {
            why_set(why, n, "hosts[%zu]: needs a non-empty string \"id\" and a string \"name\"", i);
            goto out;
        }
        if (json_object_get(seen_host, sget(o, "id"))) {
            why_set(why, n, "hosts[%zu]: id \"%s\" is used twice", i, sget(o, "id"));
            goto out;
        }
        if (cl && !json_is_null(cl) &&
            !(json_is_string(cl) && json_object_get(seen_cl, json_string_value(cl)))) {
            why_set(why, n, "host \"%s\": \"cluster\" is not the id of a cluster in this world",
                    sget(o, "id"));
            goto out;
        }
        if (!is_int_in(json_object_get(o, "cpu_cores"), 1, 65536) ||
            !is_int_in(json_object_get(o, "cpu_mhz"), 1, 1000000) ||
            !is_int_in(json_object_get(o, "memory_mb"), 1, (json_int_t)1 << 40)) {
            why_set(why, n,
                    "host \"%s\": cpu_cores, cpu_mhz and memory_mb must be positive integers",
                    sget(o, "id"));
            goto out;
        }
        v = json_object_get(o, "state");
        if (v && (!json_is_string(v) || host_state_parse(json_string_value(v)) < 0)) {
            why_set(why, n, "host \"%s\": \"state\" must be connected, maintenance or disconnected",
                    sget(o, "id"));
            goto out;
        }
        json_object_set(seen_host, sget(o, "id"), o);
    }
    json_array_foreach(list(w, "vms"), i, o) {
        const char *id;
        if (!json_is_object(o) || !is_id(json_object_get(o, "id")) ||
            !is_id(json_object_get(o, "name"))) {
            why_set(why, n, "vms[%zu]: needs a non-empty string \"id\" and \"name\"", i);
            goto out;
        }
        id = sget(o, "id");
        if (json_object_get(seen_vm, id)) {
            why_set(why, n, "vms[%zu]: id \"%s\" is used twice", i, id);
            goto out;
        }
        if (json_object_get(seen_name, sget(o, "name"))) {
            why_set(why, n, "vms[%zu]: name \"%s\" is used twice", i, sget(o, "name"));
            goto out;
        }
        if (!json_is_string(json_object_get(o, "host")) ||
            !json_object_get(seen_host, sget(o, "host"))) {
            why_set(why, n, "vm \"%s\": \"host\" is not the id of a host in this world", id);
            goto out;
        }
        if (power_of(o) == PV_POWER_UNKNOWN) {
            why_set(why, n, "vm \"%s\": \"power_state\" must be running, stopped, paused or saved",
                    id);
            goto out;
        }
        if (!is_int_in(json_object_get(o, "vcpus"), 1, 4096) ||
            !is_int_in(json_object_get(o, "memory_mb"), 1, (json_int_t)1 << 40)) {
            why_set(why, n, "vm \"%s\": vcpus and memory_mb must be positive integers", id);
            goto out;
        }
        v = json_object_get(o, "paravirtual");
        if (v && !json_is_boolean(v)) {
            why_set(why, n, "vm \"%s\": \"paravirtual\" must be true or false", id);
            goto out;
        }
        if ((json_object_get(o, "disks") && !json_is_array(json_object_get(o, "disks"))) ||
            (json_object_get(o, "nics") && !json_is_array(json_object_get(o, "nics")))) {
            why_set(why, n, "vm \"%s\": \"disks\" and \"nics\" must be arrays", id);
            goto out;
        }
        if (snapshots_check(o, why, n) != 0)
            goto out;
        json_object_set(seen_vm, id, o);
        json_object_set(seen_name, sget(o, "name"), o);
    }
    rc = 0;
out:
    json_decref(seen_cl);
    json_decref(seen_host);
    json_decref(seen_vm);
    json_decref(seen_name);
    return rc;
}

/* Read and check the world.  *out is the caller's; sig (may be NULL) says
 * which version of the file it was. */
static int world_load(const char *path, json_t **out, struct file_sig *sig, struct pv_error *err)
{
    struct stat st;
    json_error_t je;
    char *buf = NULL, why[256];
    size_t len = 0, cap = 0;
    json_t *w = NULL;
    int fd, rc = 0;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return unreachable(err, path, errno);
    if (fstat(fd, &st) != 0) {
        rc = unreachable(err, path, errno);
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = pv_fail(err, invalid_world, "world file %s is not a regular file",
                          path);
        goto out;
    }
    for (;;) {
        ssize_t got;
        if (len == cap) {
            char *more;
            if (cap >= (size_t)WORLD_MAX_BYTES) {
                rc = pv_fail(err, invalid_world,
                                  "world file %s is larger than %ld bytes", path, WORLD_MAX_BYTES);
                goto out;
            }
            cap = cap ? cap * 2 : (size_t)st.st_size + 4096;
            if (cap > (size_t)WORLD_MAX_BYTES)
                cap = (size_t)WORLD_MAX_BYTES;
            more = realloc(buf, cap);
            if (!more) {
                rc = oom(err);
                goto out;
            }
            buf = more;
        }
        got = read(fd, buf + len, cap - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = unreachable(err, path, errno);
            goto out;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    w = json_loadb(buf ? buf : "", len, JSON_REJECT_DUPLICATES, &je);
    if (!w) {
        rc = pv_fail(err, invalid_world, "world file %s: line %d, column %d: %s",
                          path, je.line, je.column, je.text);
        goto out;
    }
    if (world_check(w, why, sizeof why) != 0) {
        rc = pv_fail(err, invalid_world, "world file %s: %s", path, why);
        goto out;
    }
    if (sig)
        *sig = sig_of(&st);
    *out = w;
    w = NULL;
out:
    json_decref(w);
    free(buf);
    close(fd);
    return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t put = write(fd, p, n);
        if (put < 0 && errno == EINTR)
            continue;
        if (put < 0)
            return -1;
        p += put;
        n -= (size_t)put;
    }
    return 0;
}

/* Make the rename durable: fsync the directory holding path. */
static void sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash && slash != path ? (size_t)(slash - path) : 1;
    char *dir = malloc(n + 1);
    int fd;

    if (!dir)
        return;
    memcpy(dir, path, n);
    dir[n] = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Write w as the next generation of c's world.  The caller holds the lock. */
static int world_save(const struct pv_conn *c, json_t *w, struct pv_error *err)
{
    struct stat st;
    char *text;
    int fd, rc = 0;

    json_object_set_new(w, "generation", json_integer(iget(w, "generation") + 1));
    text = json_dumps(w, JSON_INDENT(2));
    if (!text)
        return oom(err);
    fd = open(c->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = write_failed(err, c->tmp_path, errno);
        goto out;
    }
    if (stat(c->path, &st) == 0)
        fchmod(fd, st.st_mode & 07777); /* keep the owner's choice (a token may be inside) */
    if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) {
        rc = write_failed(err, c->tmp_path, errno);
        close(fd);
        unlink(c->tmp_path);
        goto out;
    }
    if (close(fd) != 0 || rename(c->tmp_path, c->path) != 0) {
        rc = write_failed(err, c->path, errno);
        unlink(c->tmp_path);
        goto out;
    }
    sync_dir(c->path);
out:
    free(text);
    return rc;
}

static int lock_open(const struct pv_conn *c, int *fd, struct pv_error *err)
{
    *fd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (*fd < 0)
        return unreachable(err, c->lock_path, errno);
    return 0;
}

static int lock_take(int fd, const char *lock_path, struct pv_error *err)
{
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR)
            return unreachable(err, lock_path, errno);
    }
    return 0;
}

/* Take c's world lock; *fd is closed (and the lock released) by the caller. */
static int world_lock(const struct pv_conn *c, int *fd, struct pv_error *err)
{
    int rc = lock_open(c, fd, err);

    if (!rc && (rc = lock_take(*fd, c->lock_path, err)) != 0) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

static void world_unlock(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* The world a new test:/// URL starts with.  Ids and sizes are fixed, so
 * tests and demos can rely on them. */
static json_t *default_world(void)
{
    static const struct {
        const char *id, *name, *host, *state;
        int vcpus, memory_mb, paravirtual;
    } vms[] = {
        {"5e1f0000-0000-4000-8000-000000000001", "test-vm-1", "test-host-1", "running", 1, 512, 1},
        {"5e1f0000-0000-4000-8000-000000000002", "test-vm-2", "test-host-1", "stopped", 2, 1024, 1},
        {"5e1f0000-0000-4000-8000-000000000003", "test-vm-3", "test-host-2", "running", 2, 2048, 0},
    };
    json_t *w = json_pack("{s:i, s:[{s:s, s:s}], s:[], s:[]}", "generation", 0, "clusters",
                          "id", "cl-1", "name", "Test cluster", "hosts", "vms");

    if (!w)
        return NULL;
    /* each host's own "default" pool (local disks), one shared pool; a
     * network both hosts reach and one only the second host does */
    json_object_set_new(
        w, "pools",
        json_pack("[{s:s, s:s, s:s, s:i, s:b, s:[s]}, {s:s, s:s, s:s, s:i, s:b, s:[s]},"
                  " {s:s, s:s, s:s, s:i, s:b, s:[s, s]}]",
                  "id", "test-pool-local-1", "name", "default", "kind", "dir", "capacity_mb",
                  102400, "shared", 0, "hosts", "test-host-1", "id", "test-pool-local-2", "name",
                  "default", "kind", "dir", "capacity_mb", 102400, "shared", 0, "hosts",
                  "test-host-2", "id", "test-pool-shared", "name", "shared", "kind", "netfs",
                  "capacity_mb", 512000, "shared", 1, "hosts", "test-host-1", "test-host-2"));
    json_object_set_new(
        w, "networks",
        json_pack("[{s:s, s:s, s:s, s:i, s:[s, s]}, {s:s, s:s, s:s, s:i, s:[s, s]},"
                  " {s:s, s:s, s:s, s:i, s:[s]}]",
                  "id", "test-net-default", "name", "default", "kind", "network", "vlan", -1,
                  "hosts", "test-host-1", "test-host-2", "id", "test-net-lab", "name", "lab",
                  "kind", "network", "vlan", 10, "hosts", "test-host-1", "test-host-2", "id",
                  "test-net-isolated-2", "name", "isolated-2", "kind", "bridge", "vlan", -1,
                  "hosts", "test-host-2"));
    for (int i = 1; i <= 2; i++) {
        char name[32];
        snprintf(name, sizeof name, "test-host-%d", i);
        json_array_append_new(list(w, "hosts"),
                              json_pack("{s:s, s:s, s:s, s:i, s:i, s:i, s:s}", "id", name, "name",
                                        name, "cluster", "cl-1", "cpu_cores", 8, "cpu_mhz", 2400,
                                        "memory_mb", 32768, "state", "connected"));
    }
    for (size_t i = 0; i < COUNT(vms); i++)
        json_array_append_new(list(w, "vms"),
                              json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:b, s:[], s:[]}", "id",
                                        vms[i].id, "name", vms[i].name, "host", vms[i].host,
                                        "power_state", vms[i].state, "vcpus", vms[i].vcpus,
                                        "memory_mb", vms[i].memory_mb, "paravirtual",
                                        vms[i].paravirtual, "disks", "nics"));
    return w;
}

/* Make sure the world exists: write the default one the first time, that
 * is when neither the file nor its lock file exists. */
static int world_ensure(const struct pv_conn *c, struct pv_error *err)
{
    struct stat st;
    char ebuf[128];
    json_t *w;
    int fd, rc;

    if (stat(c->path, &st) == 0) {
        /* mark that this world existed; best effort, so a read-only world
         * can still be synced and watched */
        fd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
            close(fd);
        return 0;
    }
    if (errno != ENOENT)
        return unreachable(err, c->path, errno);
    fd = open(c->lock_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 && errno != EEXIST)
        return pv_fail(err, peer_unreachable,
                            "cannot create world file %s: %s", c->path,
                            errstr(errno, ebuf, sizeof ebuf));
    if (fd < 0) { /* someone made it before us: wait for them to finish */
        rc = world_lock(c, &fd, err);
        if (rc)
            return rc;
        rc = stat(c->path, &st) == 0 ? 0
             : pv_fail(err, peer_unreachable,
                            "world file %s is gone but %s shows it existed: the test hypervisor "
                            "is down; put the file back, or remove %s to start a new default world",
                            c->path, c->lock_path, c->lock_path);
        close(fd);
        return rc;
    }
    rc = lock_take(fd, c->lock_path, err);
    if (!rc) {
        w = default_world();
        rc = w ? world_save(c, w, err) : oom(err);
        json_decref(w);
    }
    close(fd);
    return rc;
}

/* ---- reporting ---------------------------------------------------------- */

static void report_cluster(const struct pv_sink *s, json_t *cl)
{
    struct pv_cluster_info ci = {sget(cl, "id"), sget(cl, "name")};

    if (s && s->cluster)
        s->cluster(s->ctx, &ci);
}

static void report_host(const struct pv_sink *s, json_t *h, const struct usage *u)
{
    struct pv_host_info hi;

    if (!s || !s->host)
        return;
    memset(&hi, 0, sizeof hi);
    hi.native_id = sget(h, "id");
    hi.name = sget(h, "name");
    hi.cluster_native_id = sget(h, "cluster");
    hi.state = host_state_of(h);
    hi.cpu_cores = (int)iget(h, "cpu_cores");
    hi.cpu_mhz = (int)iget(h, "cpu_mhz");
    hi.memory_mb = iget(h, "memory_mb");
    hi.memory_used_mb = u->mem_mb;
    hi.cpu_usage_pct = cpu_pct(h, u);
    s->host(s->ctx, &hi);
}

/* Report one host of w by id (after a task changed what runs on it). */
static void report_host_id(const struct pv_sink *s, json_t *w, const char *host_id)
{
    json_t *h = find_id(list(w, "hosts"), host_id, NULL);
    struct usage u;

    if (h) {
        u = host_usage(w, host_id);
        report_host(s, h, &u);
    }
}

static void report_vm(const struct pv_sink *s, json_t *vm)
{
    struct pv_vm_info vi = {0};
    json_t *pv = json_object_get(vm, "paravirtual");
    json_t *disks = json_object_get(vm, "disks"), *nics = json_object_get(vm, "nics");
    char *d, *n;

    if (!s || !s->vm)
        return;
    d = disks ? json_dumps(disks, JSON_COMPACT) : NULL;
    n = nics ? json_dumps(nics, JSON_COMPACT) : NULL;
    memset(&vi, 0, sizeof vi);
    vi.native_id = sget(vm, "id");
    vi.name = sget(vm, "name");
    vi.host_native_id = sget(vm, "host");
    vi.power_state = power_of(vm);
    vi.vcpus = (int)iget(vm, "vcpus");
    vi.memory_mb = iget(vm, "memory_mb");
    vi.paravirtual = pv ? json_is_true(pv) : -1;
    vi.disks_json = d ? d : "[]";
    vi.nics_json = n ? n : "[]";
    /* the simulated load: each running vCPU a quarter busy, memory all held */
    vi.usage_known = 1;
    vi.cpu_usage_pct = vi.power_state == PV_POWER_RUNNING ? 25.0 : 0.0;
    vi.memory_used_mb = holds_memory(vi.power_state) ? vi.memory_mb : 0;
    s->vm(s->ctx, &vi);
    free(d);
    free(n);
}

static void report_vm_gone(const struct pv_sink *s, const char *id)
{
    if (s && s->vm_gone)
        s->vm_gone(s->ctx, id);
}

/* Disk space in pool_id that w's VMs' disks take, in MiB. */
static json_int_t pool_used_mb(json_t *w, const char *pool_id)
{
    json_int_t used = 0;
    json_t *vm, *d;
    size_t i, j;

    json_array_foreach(list(w, "vms"), i, vm) {
        json_array_foreach(json_object_get(vm, "disks"), j, d) {
            const char *p = sget(d, "pool_native_id");
            if (p && pool_id && strcmp(p, pool_id) == 0)
                used += iget(d, "size_mb");
        }
    }
    return used;
}

/* A pool's or network's "hosts" as the C array the sink takes (malloc'd). */
static const char **host_ids_of(json_t *o, size_t *n)
{
    json_t *hosts = json_object_get(o, "hosts"), *h;
    const char **ids = calloc(json_array_size(hosts) + 1, sizeof *ids);
    size_t i;

    *n = 0;
    json_array_foreach(hosts, i, h) {
        if (ids && json_is_string(h))
            ids[(*n)++] = json_string_value(h);
    }
    return ids;
}

/* Every pool (free space from the disks in it) and every network. */
static void report_places(const struct pv_sink *s, json_t *w)
{
    json_t *o;
    size_t i;

    json_array_foreach(list(w, "pools"), i, o) {
        struct pv_pool_info pi = {sget(o, "id"), sget(o, "name"), sget(o, "kind"),
                                  iget(o, "capacity_mb"), 0, json_is_true(json_object_get(o, "shared")),
                                  0, NULL};
        pi.free_mb = pi.capacity_mb - pool_used_mb(w, pi.native_id);
        pi.host_native_ids = host_ids_of(o, &pi.nhosts);
        if (s && s->pool && pi.host_native_ids)
            s->pool(s->ctx, &pi);
        free((void *)pi.host_native_ids);
    }
    json_array_foreach(list(w, "networks"), i, o) {
        json_t *vlan = json_object_get(o, "vlan");
        struct pv_network_info ni = {sget(o, "id"), sget(o, "name"), sget(o, "kind"),
                                     json_is_integer(vlan) ? (int)json_integer_value(vlan) : -1, 0,
                                     NULL};
        ni.host_native_ids = host_ids_of(o, &ni.nhosts);
        if (s && s->network && ni.host_native_ids)
            s->network(s->ctx, &ni);
        free((void *)ni.host_native_ids);
    }
}

static int report_all(const struct pv_sink *s, json_t *w, struct pv_error *err)
{
    struct usage *u = usage_all(w);
    json_t *o;
    size_t i;

    if (!u)
        return oom(err);
    json_array_foreach(list(w, "clusters"), i, o) {
        report_cluster(s, o);
    }
    json_array_foreach(list(w, "hosts"), i, o) {
        report_host(s, o, &u[i]);
    }
    report_places(s, w);
    json_array_foreach(list(w, "vms"), i, o) {
        report_vm(s, o);
    }
    free(u);
    return 0;
}

/* id -> object for one list, so a diff is linear. */
static json_t *index_by_id(json_t *arr)
{
    json_t *idx = json_object(), *o;
    size_t i;

    json_array_foreach(arr, i, o) {
        if (idx)
            json_object_set(idx, sget(o, "id"), o);
    }
    return idx;
}

/* Report what differs between `old` (may be NULL: everything) and `now`.
 * Returns how many things were reported, or a negative PV_E* code.  Hosts
 * and clusters that vanish cannot be reported: the ABI has no host_gone. */
static int report_diff(const struct pv_sink *s, json_t *old, json_t *now, struct pv_error *err)
{
    static const char *const kinds[] = {"clusters", "hosts", "vms"};
    struct usage *u_old = old ? usage_all(old) : NULL, *u_now = usage_all(now);
    json_t *idx[COUNT(kinds)] = {NULL, NULL, NULL}, *o, *was;
    int n = 0;
    size_t i, k;

    for (k = 0; old && k < COUNT(kinds); k++)
        if (!(idx[k] = index_by_id(list(old, kinds[k]))))
            n = -1;
    if (!u_now || (old && !u_old) || n < 0) {
        n = oom(err);
        goto out;
    }
    json_array_foreach(list(now, "clusters"), i, o) {
        was = old ? json_object_get(idx[0], sget(o, "id")) : NULL;
        if (!was || !json_equal(was, o)) {
            report_cluster(s, o);
            n++;
        }
    }
    json_array_foreach(list(now, "hosts"), i, o) {
        size_t j = 0;
        was = old ? find_id(list(old, "hosts"), sget(o, "id"), &j) : NULL;
        if (!was || !json_equal(was, o) || u_old[j].mem_mb != u_now[i].mem_mb ||
            u_old[j].vcpus != u_now[i].vcpus) {
            report_host(s, o, &u_now[i]);
            n++;
        }
    }
    /* a disk made, moved or gone changes its pool's free space */
    if (!old || !json_equal(list(old, "pools"), list(now, "pools")) ||
        !json_equal(list(old, "networks"), list(now, "networks")) ||
        !json_equal(list(old, "vms"), list(now, "vms"))) {
        report_places(s, now);
        if (old && (json_array_size(list(now, "pools")) || json_array_size(list(now, "networks"))))
            n++;
    }
    json_array_foreach(list(now, "vms"), i, o) {
        was = old ? json_object_get(idx[2], sget(o, "id")) : NULL;
        if (!was || !json_equal(was, o)) {
            report_vm(s, o);
            n++;
        }
    }
    if (old) {
        json_t *now_vms = index_by_id(list(now, "vms"));
        if (!now_vms) {
            n = oom(err);
            goto out;
        }
        json_array_foreach(list(old, "vms"), i, o) {
            if (!json_object_get(now_vms, sget(o, "id"))) {
                report_vm_gone(s, sget(o, "id"));
                n++;
            }
        }
        json_decref(now_vms);
    }
out:
    for (k = 0; k < COUNT(kinds); k++)
        json_decref(idx[k]);
    free(u_old);
    free(u_now);
    return n;
}

/* Take w as the snapshot of what this conn last reported.  snap_lock held. */
static void snap_install(struct pv_conn *c, json_t *w, const struct file_sig *sig)
{
    json_decref(c->snap);
    c->snap = w;
    c->snap_gen = iget(w, "generation");
    c->snap_sig = *sig;
}

/* ---- tasks -------------------------------------------------------------- */

static int is_cancelled(const struct pv_sink *s)
{
    return s && s->cancelled && s->cancelled(s->ctx) != 0;
}

/* Let a task take c's delay: progress 10..90 % every tenth of it, with the
 * detail of the phase it is in (details[0..nphases-1] share the time
 * evenly), and stop with PV_ECANCELLED when the job is cancelled.  No lock
 * is held: the world may change meanwhile, so the caller checks again. */
static int task_wait(const struct pv_conn *c, const struct pv_sink *s,
                     const char *const *details, int nphases, struct pv_error *err)
{
    int64_t start = now_ms(), elapsed;
    int tenth = 0;

    if (c->delay_ms <= 0)
        return 0;
    for (;;) {
        int64_t next, nap;
        if (is_cancelled(s))
            return pv_fail(err, cancelled,
                                "cancelled while %s; nothing was changed",
                                details[tenth * nphases / 10]);
        elapsed = now_ms() - start;
        if (elapsed >= c->delay_ms)
            return 0;
        if (elapsed * 10 / c->delay_ms > tenth) {
            tenth = (int)(elapsed * 10 / c->delay_ms);
            if (s && s->progress)
                s->progress(s->ctx, tenth * 10, details[tenth * nphases / 10]);
        }
        next = ((int64_t)tenth + 1) * c->delay_ms / 10;
        nap = next - elapsed;
        if (nap > CANCEL_POLL_MS)
            nap = CANCEL_POLL_MS;
        sleep_ms(nap > 0 ? nap : 1);
    }
}

static int injected(const struct pv_conn *c, enum fail_bit f, const char *what,
                    struct pv_error *err)
{
    if (!(c->fail_mask & (1u << f)))
        return 0;
    return pv_fail(err, backend_failure,
                        "%s %s: the test hypervisor failed, as told by fail=%s in the "
                        "connection URL", fail_names[f], what, fail_names[f]);
}

static int vm_not_found(struct pv_error *err, const char *id, const char *path)
{
    return pv_fail(err, vm_not_found, "no VM with id %s in world %s", id,
                        path);
}

/* ---- where worlds may live ---------------------------------------------- */

/* The resolved directory world files must lie in; set once by configure()
 * before any open(), read-only after (start-up configuration).  Empty: the
 * daemon never configured us, and no world may be opened. */
static char world_dir[PATH_MAX];

static int bad_url(struct pv_error *err, const char *why);

static int test_configure(const struct pv_adapter_settings *set, struct pv_error *err)
{
    char dir[PATH_MAX] = "";

    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->keys[i], "world_dir") != 0)
            return pv_fail(err, invalid_config,
                                "unknown setting test.%s (the test adapter knows test.world_dir)",
                                set->keys[i]);
        if (snprintf(dir, sizeof dir, "%s", set->values[i]) >= (int)sizeof dir)
            return pv_fail(err, invalid_config, "test.world_dir is too long");
    }
    if (!dir[0] && snprintf(dir, sizeof dir, "%s/test-worlds", set->data_dir ? set->data_dir : ".") >=
                       (int)sizeof dir)
        return pv_fail(err, invalid_config, "the data dir is too long");
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return pv_fail(err, invalid_config, "test.world_dir %s: %s", dir,
                            strerror(errno));
    if (!realpath(dir, world_dir)) {
        world_dir[0] = '\0';
        return pv_fail(err, invalid_config, "test.world_dir %s: %s", dir,
                            strerror(errno));
    }
    return 0;
}

/* Does the world file at path lie inside world_dir?  Its directory is
 * resolved (so "..", and links out of world_dir, are seen through) and the
 * file itself must not be a symbolic link. */
static int world_path_allowed(const char *path, struct pv_error *err)
{
    char dir[PATH_MAX], real[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t n = strlen(world_dir);
    struct stat sb;

    if (!world_dir[0])
        return pv_fail(err, path_not_allowed,
                            "the test adapter has no world directory configured");
    if (!slash || (size_t)(slash - path) >= sizeof dir)
        return bad_url(err, "the path must be absolute");
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    if (!realpath(dir[0] ? dir : "/", real) || strncmp(real, world_dir, n) != 0 ||
        (real[n] != '\0' && real[n] != '/') || strcmp(slash, "/..") == 0 ||
        strcmp(slash, "/.") == 0 || (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode)))
        return pv_fail(err, path_not_allowed,
                            "a test world file must be a file in the world directory "
                            "(setting test.world_dir)");
    return 0;
}

/* ---- open, close, sync, watch, refresh ---------------------------------- */

static int bad_url(struct pv_error *err, const char *why)
{
    return pv_fail(err, invalid_url,
                        "invalid test URL: %s (the form is "
                        "test:///ABSOLUTE/PATH/world.json[?delay_ms=N&fail=ACTION,...])", why);
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

static int parse_options(char *q, int *delay_ms, unsigned *fail_mask, struct pv_error *err)
{
    char *opt, why[200];
    int seen_delay = 0, seen_fail = 0;

    while ((opt = strsep(&q, "&")) != NULL) {
        char *val = strchr(opt, '=');
        if (!val || val == opt) {
            snprintf(why, sizeof why, "option '%.60s' is not NAME=VALUE", opt);
            return bad_url(err, why);
        }
        *val++ = '\0';
        if (strcmp(opt, "delay_ms") == 0 && !seen_delay++) {
            long v = 0;
            size_t len = strlen(val);
            if (len == 0 || len > 6 || strspn(val, "0123456789") != len ||
                (v = strtol(val, NULL, 10)) > DELAY_MAX_MS) {
                snprintf(why, sizeof why,
                         "delay_ms must be a whole number from 0 to %d, not '%.20s'", DELAY_MAX_MS,
                         val);
                return bad_url(err, why);
            }
            *delay_ms = (int)v;
        } else if (strcmp(opt, "fail") == 0 && !seen_fail++) {
            char *name;
            while ((name = strsep(&val, ",")) != NULL) {
                size_t f;
                for (f = 0; f < COUNT(fail_names) && strcmp(name, fail_names[f]) != 0; f++)
                    ;
                if (f == COUNT(fail_names)) {
                    snprintf(why, sizeof why, "fail= names '%.30s'; it knows " FAIL_KNOWN, name);
                    return bad_url(err, why);
                }
                *fail_mask |= 1u << f;
            }
        } else {
            snprintf(why, sizeof why,
                     "option '%.40s' is unknown or repeated (known: delay_ms, fail)", opt);
            return bad_url(err, why);
        }
    }
    return 0;
}

/* test:///PATH[?OPTIONS] -> *path (malloc'd, %XX decoded), delay, fail mask. */
static int parse_url(const char *url, char **path, int *delay_ms, unsigned *fail_mask,
                     struct pv_error *err)
{
    static const char prefix[] = "test://";
    const char *p, *q, *end;
    char *out = NULL, *opts = NULL;
    size_t n = 0;
    int rc = 0;

    *path = NULL;
    *delay_ms = 0;
    *fail_mask = 0;
    if (!url || strncmp(url, prefix, sizeof prefix - 1) != 0)
        return bad_url(err, "it must start with test:///");
    p = url + sizeof prefix - 1;
    if (*p != '/')
        return bad_url(err, "test:// takes no host part; the path after it must be absolute");
    if (strchr(p, '#'))
        return bad_url(err, "it takes no #fragment");
    q = strchr(p, '?');
    end = q ? q : p + strlen(p);
    out = malloc((size_t)(end - p) + 1);
    if (!out)
        return oom(err);
    for (; p < end; p++) {
        if (*p == '%') {
            int hi = end - p > 2 ? hexval(p[1]) : -1;
            int lo = hi >= 0 ? hexval(p[2]) : -1;
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                rc = bad_url(err, "the path has a bad %XX escape");
                goto out;
            }
            out[n++] = (char)(hi * 16 + lo);
            p += 2;
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    if (n == 0 || out[n - 1] == '/') {
        rc = bad_url(err, "the path names a directory; name the world file, e.g. /tmp/world.json");
        goto out;
    }
    if (n > PATH_MAX - 8) {
        rc = bad_url(err, "the path is too long");
        goto out;
    }
    if (q && q[1]) {
        opts = strdup(q + 1);
        if (!opts) {
            rc = oom(err);
            goto out;
        }
        rc = parse_options(opts, delay_ms, fail_mask, err);
    }
out:
    free(opts);
    if (rc)
        free(out);
    else
        *path = out;
    return rc;
}

/* Compare without stopping at the first difference. */
static int same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = la != lb;

    for (size_t i = 0; i < la; i++)
        d |= (unsigned char)(a[i] ^ b[i < lb ? i : 0]);
    return d == 0;
}

static void test_close(struct pv_conn *c)
{
    if (!c)
        return;
    json_decref(c->snap);
    pthread_mutex_destroy(&c->snap_lock);
    free(c->path);
    free(c->lock_path);
    free(c->tmp_path);
    c->magic = 0;
    free(c);
}

static int test_open(const struct pv_conn_params *p, struct pv_conn **out, struct pv_error *err)
{
    struct pv_conn *c;
    json_t *w = NULL;
    const char *want;
    char *path;
    int delay, rc;
    unsigned fail;

    if (!out || !p)
        return pv_fail(err, invalid_argument,
                            "open() needs parameters and somewhere to put the connection");
    *out = NULL;
    rc = parse_url(p->url, &path, &delay, &fail, err);
    if (rc)
        return rc;
    if ((rc = world_path_allowed(path, err)) != 0) {
        free(path);
        return rc;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        free(path);
        return oom(err);
    }
    c->magic = TEST_CONN_MAGIC;
    c->path = path;
    c->delay_ms = delay;
    c->fail_mask = fail;
    pthread_mutex_init(&c->snap_lock, NULL);
    c->lock_path = str_cat(path, ".lock");
    c->tmp_path = str_cat(path, ".tmp");
    if (!c->lock_path || !c->tmp_path) {
        rc = oom(err);
        goto out;
    }
    rc = world_ensure(c, err);
    if (!rc)
        rc = world_load(c->path, &w, NULL, err);
    if (rc)
        goto out;
    want = sget(w, "token");
    if (want && !(p->token && same_secret(want, p->token))) {
        rc = pv_fail(err, auth_failed, "the endpoint refused the token");
        goto out;
    }
    *out = c;
    c = NULL;
out:
    json_decref(w);
    test_close(c);
    return rc;
}

static int test_sync(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err)
{
    struct file_sig sig;
    json_t *w;
    int rc = conn_ok(c, err);

    if (rc)
        return rc;
    if ((rc = injected(c, F_SYNC, c->path, err)) != 0)
        return rc;
    pthread_mutex_lock(&c->snap_lock);
    rc = world_load(c->path, &w, &sig, err);
    if (!rc && (rc = report_all(s, w, err)) == 0)
        snap_install(c, w, &sig);
    else
        json_decref(w);
    pthread_mutex_unlock(&c->snap_lock);
    return rc;
}

/* One look at the world for watch(): 1 when something was reported (or
 * the generation moved), 0 when nothing changed, or a negative PV_E* code.
 * The file is re-read only when its identity (inode, size, mtime) changed,
 * which also catches an edit that forgot to bump "generation".  Called
 * with snap_lock held. */
static int watch_once(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err)
{
    struct stat st;
    struct file_sig sig;
    json_t *w;
    int rc, n, gen_changed;

    if (stat(c->path, &st) != 0)
        return unreachable(err, c->path, errno);
    sig = sig_of(&st);
    if (c->snap && sig_eq(&sig, &c->snap_sig))
        return 0;
    if ((rc = world_load(c->path, &w, &sig, err)) != 0)
        return rc;
    gen_changed = !c->snap || iget(w, "generation") != c->snap_gen;
    n = report_diff(s, c->snap, w, err);
    if (n < 0) {
        json_decref(w);
        return n;
    }
    snap_install(c, w, &sig);
    return n > 0 || gen_changed;
}

static int test_watch(struct pv_conn *c, const struct pv_sink *s, int timeout_ms,
                      struct pv_error *err)
{
    int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0), left;
    int rc = conn_ok(c, err);

    while (rc == 0) {
        pthread_mutex_lock(&c->snap_lock);
        rc = watch_once(c, s, err);
        pthread_mutex_unlock(&c->snap_lock);
        if (rc != 0)
            break;
        left = deadline - now_ms();
        if (left <= 0)
            break;
        sleep_ms(left < WATCH_POLL_MS ? left : WATCH_POLL_MS);
    }
    return rc > 0 ? 0 : rc;
}

static int test_vm_refresh(struct pv_conn *c, const char *vm_id, const struct pv_sink *s,
                           struct pv_error *err)
{
    json_t *w, *vm;
    int rc = conn_ok(c, err);

    if (rc)
        return rc;
    if (!vm_id)
        return pv_fail(err, invalid_argument, "vm_refresh needs a VM id");
    rc = world_load(c->path, &w, NULL, err);
    if (rc)
        return rc;
    vm = find_id(list(w, "vms"), vm_id, NULL);
    if (vm)
        report_vm(s, vm);
    else
        report_vm_gone(s, vm_id);
    json_decref(w);
    return 0;
}

/* ---- power actions and delete --------------------------------------------- */

/* May action a run on vm, given the rest of world w?  The state rules of a
 * hypervisor: a disconnected host can't be reached at all, a start needs
 * a connected host with the VM's memory free. */
static int action_check(json_t *w, json_t *vm, enum pv_vm_action a, struct pv_error *err)
{
    const char *name = sget(vm, "name"), *hid = sget(vm, "host");
    json_t *host = find_id(list(w, "hosts"), hid, NULL);
    const char *hname = sget(host, "name");
    enum pv_power_state p = power_of(vm);
    enum pv_host_state hs = host_state_of(host);
    struct usage u;

    if (hs == PV_HOST_DISCONNECTED)
        return pv_fail(err, host_unavailable,
                            "VM '%s' is on host '%s', which is disconnected: nothing can reach it",
                            name, hname);
    switch (a) {
    case PV_ACT_START:
        if (p == PV_POWER_RUNNING)
            return pv_fail(err, already_running,
                                "VM '%s' is already running on host '%s'", name, hname);
        if (p == PV_POWER_PAUSED)
            return pv_fail(err, vm_paused,
                                "VM '%s' is paused: resume it rather than start it", name);
        if (hs != PV_HOST_CONNECTED)
            return pv_fail(err, host_unavailable,
                                "cannot start VM '%s': host '%s' is in maintenance mode", name,
                                hname);
        u = host_usage(w, hid);
        if (u.mem_mb + iget(vm, "memory_mb") > iget(host, "memory_mb"))
            return pv_fail(err, insufficient_memory,
                                "cannot start VM '%s' (%lld MB): host '%s' has %lld of %lld MB "
                                "free", name, (long long)iget(vm, "memory_mb"), hname,
                                (long long)(iget(host, "memory_mb") - u.mem_mb),
                                (long long)iget(host, "memory_mb"));
        return 0;
    case PV_ACT_SHUTDOWN:
    case PV_ACT_POWEROFF:
        if (p == PV_POWER_STOPPED)
            return pv_fail(err, already_stopped, "VM '%s' is already stopped",
                                name);
        if (p == PV_POWER_SAVED)
            return pv_fail(err, not_running,
                                "VM '%s' is saved, not running: start it to restore it, or "
                                "delete it", name);
        return 0;
    case PV_ACT_REBOOT:
    case PV_ACT_PAUSE:
    case PV_ACT_SAVE:
        if (p == PV_POWER_RUNNING || (a == PV_ACT_SAVE && p == PV_POWER_PAUSED))
            return 0;
        if (p == PV_POWER_PAUSED)
            return pv_fail(err, not_running,
                                a == PV_ACT_PAUSE ? "VM '%s' is already paused"
                                                  : "VM '%s' is paused: resume it first", name);
        return pv_fail(err, not_running, "VM '%s' is %s, not running", name,
                            power_names[p]);
    case PV_ACT_RESUME:
        if (p == PV_POWER_PAUSED)
            return 0;
        return pv_fail(err, not_paused, "VM '%s' is %s, not paused", name,
                            power_names[p]);
    case PV_ACT_DELETE:
    case PV_ACT_DELETE_WITH_DISKS:
        if (holds_memory(p))
            return pv_fail(err, vm_running,
                                "VM '%s' is %s: power it off first, then delete it", name,
                                power_names[p]);
        return 0;
    }
    return pv_fail(err, invalid_action, "unknown VM action %d", (int)a);
}

static int test_vm_action(struct pv_conn *c, const char *vm_id, enum pv_vm_action a,
                          const struct pv_sink *s, struct pv_error *err)
{
    const struct action_rule *r;
    json_t *w = NULL, *vm, *gone = NULL;
    char detail[160], what[120];
    const char *details[1] = {detail};
    size_t idx;
    int rc, lk = -1;

    if ((rc = conn_ok(c, err)) != 0)
        return rc;
    if (!vm_id)
        return pv_fail(err, invalid_argument, "a VM action needs a VM id");
    if ((unsigned)a >= COUNT(action_rules))
        return pv_fail(err, invalid_action, "unknown VM action %d", (int)a);
    r = &action_rules[a];

    /* refuse up front what the state rules forbid */
    if ((rc = world_load(c->path, &w, NULL, err)) != 0)
        goto out;
    if (!(vm = find_id(list(w, "vms"), vm_id, NULL))) {
        rc = vm_not_found(err, vm_id, c->path);
        goto out;
    }
    if ((rc = action_check(w, vm, a, err)) != 0)
        goto out;
    snprintf(detail, sizeof detail, "%s VM '%s'", r->doing, sget(vm, "name"));
    snprintf(what, sizeof what, "VM '%s'", sget(vm, "name"));
    json_decref(w);
    w = NULL;

    /* the task runs */
    if ((rc = task_wait(c, s, details, 1, err)) != 0 || (rc = injected(c, r->fail, what, err)) != 0)
        goto out;

    /* and completes, if the world still allows it */
    if ((rc = world_lock(c, &lk, err)) != 0 || (rc = world_load(c->path, &w, NULL, err)) != 0)
        goto out;
    if (!(vm = find_id(list(w, "vms"), vm_id, &idx))) {
        rc = pv_fail(err, vm_not_found,
                          "%s disappeared while the %s was running", what, r->verb);
        goto out;
    }
    if ((rc = action_check(w, vm, a, err)) != 0)
        goto out;
    switch (a) {
    case PV_ACT_START:
    case PV_ACT_REBOOT:
    case PV_ACT_RESUME: power_set(vm, PV_POWER_RUNNING); break;
    case PV_ACT_SHUTDOWN:
    case PV_ACT_POWEROFF: power_set(vm, PV_POWER_STOPPED); break;
    case PV_ACT_PAUSE: power_set(vm, PV_POWER_PAUSED); break;
    case PV_ACT_SAVE: power_set(vm, PV_POWER_SAVED); break;
    case PV_ACT_DELETE:
    case PV_ACT_DELETE_WITH_DISKS:
        gone = json_incref(vm);
        json_array_remove(list(w, "vms"), idx);
        break;
    }
    rc = world_save(c, w, err);
    world_unlock(&lk);
    if (rc)
        goto out;
    if (gone)
        report_vm_gone(s, vm_id);
    else
        report_vm(s, vm);
    report_host_id(s, w, sget(gone ? gone : vm, "host"));
out:
    world_unlock(&lk);
    json_decref(gone);
    json_decref(w);
    return rc;
}

/* ---- create ------------------------------------------------------------- */

static int new_uuid(char out[37], struct pv_error *err)
{
    unsigned char b[16];
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    while (fd >= 0 && got < sizeof b) {
        ssize_t r = read(fd, b + got, sizeof b - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (fd >= 0)
        close(fd);
    if (got < sizeof b)
        return pv_fail(err, entropy_unavailable,
                            "cannot read /dev/urandom to make a VM uuid");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
    return 0;
}

/* A JSON array from the spec: NULL or "null" is an empty one. */
static int spec_array(const char *text, const char *what, json_t **out, struct pv_error *err)
{
    json_error_t je;
    json_t *v;

    *out = NULL;
    v = text ? json_loads(text, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je) : json_null();
    if (json_is_null(v)) {
        json_decref(v);
        v = json_array();
    }
    if (!json_is_array(v)) {
        json_decref(v);
        return pv_fail(err, invalid_spec, "%s must be a JSON array", what);
    }
    *out = v;
    return 0;
}

static int spec_check(const struct pv_vm_spec *spec, struct pv_error *err)
{
    size_t len;

    if (!spec || !spec->name || !(len = strlen(spec->name)) || len > VM_NAME_MAX)
        return pv_fail(err, invalid_spec,
                            "a VM name is 1 to %d characters", VM_NAME_MAX);
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)spec->name[i] < 0x20 || spec->name[i] == 0x7f)
            return pv_fail(err, invalid_spec,
                                "a VM name has no control characters");
    if (spec->vcpus < 1 || spec->vcpus > 64)
        return pv_fail(err, invalid_spec,
                            "VM '%s': vcpus must be 1 to 64, not %d", spec->name, spec->vcpus);
    if (spec->memory_mb < 16 || spec->memory_mb > 1048576)
        return pv_fail(err, invalid_spec,
                            "VM '%s': memory_mb must be 16 to 1048576, not %lld", spec->name,
                            (long long)spec->memory_mb);
    return 0;
}

/* Can a VM named `name` be made on host_id (NULL: choose) in w?  *host is
 * the host it goes to. */
static int create_check(json_t *w, const char *name, const char *host_id, json_t **host,
                        struct pv_error *err)
{
    if (find_vm_named(w, name))
        return pv_fail(err, name_in_use,
                            "a VM named '%s' already exists on this endpoint", name);
    if (!host_id) {
        if (!(*host = choose_host(w, NULL, 0)))
            return pv_fail(err, host_unavailable,
                                "no connected host to create VM '%s' on", name);
        return 0;
    }
    if (!(*host = find_id(list(w, "hosts"), host_id, NULL)))
        return pv_fail(err, host_not_found, "no host with id %s", host_id);
    if (host_state_of(*host) != PV_HOST_CONNECTED)
        return pv_fail(err, host_unavailable,
                            "cannot create VM '%s' on host '%s': it is %s", name,
                            sget(*host, "name"), sget(*host, "state"));
    return 0;
}

static int devices_place(json_t *w, json_t *vm, struct pv_error *err);

/* The end of a create or clone task: under the world's lock, check again
 * that a VM named like vm can go to host_id (and, for a clone, that the
 * source source_id is still there), give vm its identity (uuid, or a new
 * one) and its host, add it and report it.  vm is not stolen. */
static int vm_add(struct pv_conn *c, const struct pv_sink *s, json_t *vm, const char *source_id,
                  const char *host_id, const char *uuid_wanted, char **native_id,
                  struct pv_error *err)
{
    json_t *w = NULL, *host;
    char uuid[37];
    int rc, lk = -1;

    if ((rc = world_lock(c, &lk, err)) != 0 || (rc = world_load(c->path, &w, NULL, err)) != 0)
        goto out;
    if (source_id && !find_id(list(w, "vms"), source_id, NULL)) {
        rc = pv_fail(err, vm_not_found, "the VM being cloned to '%s' disappeared meanwhile",
                     sget(vm, "name"));
        goto out;
    }
    if ((rc = create_check(w, sget(vm, "name"), host_id, &host, err)) != 0)
        goto out;
    if (uuid_wanted) { /* an HA restart keeps the VM's identity */
        snprintf(uuid, sizeof uuid, "%s", uuid_wanted);
        if (find_id(list(w, "vms"), uuid, NULL)) {
            rc = pv_fail(err, uuid_in_use, "a VM with id %s exists", uuid);
            goto out;
        }
    } else {
        do {
            if ((rc = new_uuid(uuid, err)) != 0)
                goto out;
        } while (find_id(list(w, "vms"), uuid, NULL));
    }
    json_object_set_new(vm, "id", json_string(uuid));
    json_object_set_new(vm, "host", json_string(sget(host, "id")));
    if ((rc = devices_place(w, vm, err)) != 0)
        goto out;
    json_array_append(list(w, "vms"), vm);
    rc = world_save(c, w, err);
    world_unlock(&lk);
    if (rc)
        goto out;
    report_vm(s, vm);
    report_host_id(s, w, sget(vm, "host"));
    if (native_id && !(*native_id = strdup(uuid)))
        rc = oom(err); /* it exists; a sync will bring it */
out:
    world_unlock(&lk);
    json_decref(w);
    return rc;
}

static int test_vm_create(struct pv_conn *c, const char *host_id, const struct pv_vm_spec *spec,
                          const struct pv_sink *s, char **native_id, struct pv_error *err)
{
    json_t *w = NULL, *host, *vm = NULL, *disks = NULL, *nics = NULL;
    char detail[160], what[120];
    const char *details[1] = {detail};
    int rc;

    if (native_id)
        *native_id = NULL;
    if ((rc = conn_ok(c, err)) != 0 || (rc = spec_check(spec, err)) != 0)
        return rc;
    if ((rc = spec_array(spec->disks_json, "disks", &disks, err)) != 0 ||
        (rc = spec_array(spec->nics_json, "nics", &nics, err)) != 0)
        goto out;
    vm = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:b, s:O, s:O}", "id", "", "name",
                   spec->name, "host", "", "power_state", "stopped", "vcpus",
                   (json_int_t)spec->vcpus, "memory_mb", (json_int_t)spec->memory_mb,
                   "paravirtual", spec->paravirtual > 0, "disks", disks, "nics", nics);
    if (!vm) {
        rc = pv_fail(err, invalid_spec, "the VM name is not valid UTF-8");
        goto out;
    }
    if ((rc = world_load(c->path, &w, NULL, err)) != 0 ||
        (rc = create_check(w, spec->name, host_id, &host, err)) != 0)
        goto out;
    json_decref(w);
    w = NULL;
    snprintf(detail, sizeof detail, "creating VM '%s'", spec->name);
    snprintf(what, sizeof what, "VM '%s'", spec->name);
    if ((rc = task_wait(c, s, details, 1, err)) != 0 ||
        (rc = injected(c, F_CREATE, what, err)) != 0)
        goto out;

    rc = vm_add(c, s, vm, NULL, host_id, spec->uuid, native_id, err);
out:
    json_decref(vm);
    json_decref(disks);
    json_decref(nics);
    json_decref(w);
    return rc;
}

/* ---- clone -------------------------------------------------------------- */

/* A copy of VM vm_id named spec->name on host_id (NULL: the source's host),
 * stopped, with a new identity and the source's devices (the simulated
 * disks are copied with it); spec->vcpus and memory_mb when not 0.  Like a
 * vCenter CloneVM_Task, any power state may be cloned. */
static int test_vm_clone(struct pv_conn *c, const char *vm_id, const char *host_id,
                         const struct pv_vm_spec *spec, const struct pv_sink *s,
                         char **native_id, struct pv_error *err)
{
    json_t *w = NULL, *src, *host, *vm = NULL;
    struct pv_vm_spec check;
    char detail[200], what[120], at[256];
    const char *details[1] = {detail};
    int rc;

    if (native_id)
        *native_id = NULL;
    if ((rc = conn_ok(c, err)) != 0)
        return rc;
    if (!vm_id || !spec)
        return pv_fail(err, invalid_argument, "a clone needs a VM id and a spec");
    if ((rc = world_load(c->path, &w, NULL, err)) != 0)
        goto out;
    if (!(src = find_id(list(w, "vms"), vm_id, NULL))) {
        rc = vm_not_found(err, vm_id, c->path);
        goto out;
    }
    /* the sizes the copy will have, checked as a create's are */
    check = *spec;
    check.vcpus = spec->vcpus ? spec->vcpus : (int)iget(src, "vcpus");
    check.memory_mb = spec->memory_mb ? spec->memory_mb : iget(src, "memory_mb");
    if ((rc = spec_check(&check, err)) != 0)
        goto out;
    if (host_state_of(find_id(list(w, "hosts"), sget(src, "host"), NULL)) == PV_HOST_DISCONNECTED) {
        rc = pv_fail(err, host_unavailable,
                     "VM '%s' is on host '%s', which is disconnected: it cannot be cloned",
                     sget(src, "name"), sget(src, "host"));
        goto out;
    }
    snprintf(at, sizeof at, "%s", host_id ? host_id : sget(src, "host"));
    if ((rc = create_check(w, spec->name, at, &host, err)) != 0)
        goto out;
    vm = json_deep_copy(src);
    if (!vm) {
        rc = oom(err);
        goto out;
    }
    json_object_del(vm, "snapshots"); /* a clone starts without the source's snapshots */
    json_object_set_new(vm, "name", json_string(spec->name));
    json_object_set_new(vm, "vcpus", json_integer(check.vcpus));
    json_object_set_new(vm, "memory_mb", json_integer(check.memory_mb));
    power_set(vm, PV_POWER_STOPPED);
    if (!json_is_string(json_object_get(vm, "name"))) {
        rc = pv_fail(err, invalid_spec, "the VM name is not valid UTF-8");
        goto out;
    }
    snprintf(detail, sizeof detail, "cloning VM '%s' to '%s'", sget(src, "name"), spec->name);
    snprintf(what, sizeof what, "VM '%s'", spec->name);
    json_decref(w);
    w = NULL;
    if ((rc = task_wait(c, s, details, 1, err)) != 0 ||
        (rc = injected(c, F_CLONE, what, err)) != 0)
        goto out;
    rc = vm_add(c, s, vm, vm_id, at, NULL, native_id, err);
out:
    json_decref(vm);
    json_decref(w);
    return rc;
}

/* ---- migrate ------------------------------------------------------------ */

/* Do a and b name one world (one lock file)?  Compared by inode, so two
 * spellings of one path are one world. */
static int same_world(const struct pv_conn *a, const struct pv_conn *b)
{
    struct stat sa, sb;

    if (a == b)
        return 1;
    if (stat(a->lock_path, &sa) == 0 && stat(b->lock_path, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcmp(a->path, b->path) == 0;
}

/* Lock the worlds of a and b (one lock when they are one world), always in
 * inode order, so two migrations in opposite directions cannot deadlock. */
static int lock_pair(const struct pv_conn *a, const struct pv_conn *b, int *fa, int *fb,
                     int *same, struct pv_error *err)
{
    struct stat sa, sb;
    int rc;

    *fa = *fb = -1;
    if ((rc = lock_open(a, fa, err)) != 0)
        return rc;
    *same = a == b;
    if (!*same) {
        if ((rc = lock_open(b, fb, err)) != 0)
            goto fail;
        if (fstat(*fa, &sa) != 0 || fstat(*fb, &sb) != 0) {
            rc = unreachable(err, a->lock_path, errno);
            goto fail;
        }
        *same = sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
        if (*same) {
            world_unlock(fb);
        } else if (sa.st_dev > sb.st_dev || (sa.st_dev == sb.st_dev && sa.st_ino > sb.st_ino)) {
            if ((rc = lock_take(*fb, b->lock_path, err)) != 0 ||
                (rc = lock_take(*fa, a->lock_path, err)) != 0)
                goto fail;
            return 0;
        }
    }
    if ((rc = lock_take(*fa, a->lock_path, err)) != 0 ||
        (*fb >= 0 && (rc = lock_take(*fb, b->lock_path, err)) != 0))
        goto fail;
    return 0;
fail:
    world_unlock(fa);
    world_unlock(fb);
    return rc;
}

/* May vm (in world ws) move to host dst_id (NULL: choose, stored in
 * *dst) of world wd in this mode? */
static int migrate_check(json_t *ws, json_t *vm, json_t *wd, const char *dst_id, int same,
                         enum pv_migrate_mode mode, json_t **dst, struct pv_error *err)
{
    const char *name = sget(vm, "name"), *src_id = sget(vm, "host");
    json_t *src = find_id(list(ws, "hosts"), src_id, NULL);
    enum pv_power_state p = power_of(vm);
    json_int_t mem = iget(vm, "memory_mb");
    struct usage u;

    if (mode == PV_MIGRATE_LIVE && !holds_memory(p))
        return pv_fail(err, not_running,
                            "VM '%s' is %s: a live migration needs a running VM; use a quick "
                            "migration to move it", name, power_names[p]);
    if (host_state_of(src) == PV_HOST_DISCONNECTED)
        return pv_fail(err, host_unavailable,
                            "VM '%s' is on host '%s', which is disconnected: it cannot be moved",
                            name, sget(src, "name"));
    if (!dst_id) {
        if (!(*dst = choose_host(wd, same ? src_id : NULL, holds_memory(p) ? mem : 0)))
            return pv_fail(err, host_unavailable,
                                "no other connected host has room for VM '%s'", name);
    } else if (!(*dst = find_id(list(wd, "hosts"), dst_id, NULL))) {
        return pv_fail(err, host_not_found,
                            "no host with id %s to move VM '%s' to", dst_id, name);
    }
    if (same && strcmp(sget(*dst, "id"), src_id) == 0)
        return pv_fail(err, same_host, "VM '%s' is already on host '%s'",
                            name, sget(*dst, "name"));
    if (host_state_of(*dst) != PV_HOST_CONNECTED)
        return pv_fail(err, host_unavailable,
                            "cannot move VM '%s' to host '%s': it is %s", name,
                            sget(*dst, "name"), host_state_names[host_state_of(*dst)]);
    u = host_usage(wd, sget(*dst, "id"));
    if (holds_memory(p) && u.mem_mb + mem > iget(*dst, "memory_mb"))
        return pv_fail(err, insufficient_memory,
                            "cannot move VM '%s' (%lld MB) to host '%s': %lld of %lld MB free",
                            name, (long long)mem, sget(*dst, "name"),
                            (long long)(iget(*dst, "memory_mb") - u.mem_mb),
                            (long long)iget(*dst, "memory_mb"));
    if (!same && find_id(list(wd, "vms"), sget(vm, "id"), NULL))
        return pv_fail(err, vm_exists,
                            "the destination already has a VM with id %s", sget(vm, "id"));
    if (!same && find_vm_named(wd, name))
        return pv_fail(err, name_in_use,
                            "the destination already has a VM named '%s'", name);
    return 0;
}

static int test_vm_migrate(struct pv_conn *from, const char *vm_id, struct pv_conn *to,
                           const char *host_id, const struct pv_migrate_opts *opts,
                           const struct pv_sink *s, struct pv_error *err)
{
    enum pv_migrate_mode mode = opts ? opts->mode : PV_MIGRATE_LIVE;
    json_t *ws = NULL, *wd = NULL, *vm, *dst, *moved = NULL;
    char d[3][160], what[120], dst_host[256] = "", src_host[256] = "";
    const char *details[3] = {d[0], d[1], d[2]};
    const char *pick;
    int rc, same, nphases, fa = -1, fb = -1;
    size_t idx;

    if (!to)
        to = from;
    if ((rc = conn_ok(from, err)) != 0 || (rc = conn_ok(to, err)) != 0)
        return rc;
    if (!vm_id)
        return pv_fail(err, invalid_argument, "a migration needs a VM id");
    if (mode != PV_MIGRATE_LIVE && mode != PV_MIGRATE_QUICK)
        return pv_fail(err, invalid_mode, "unknown migration mode %d",
                            (int)mode);
    same = same_world(from, to);

    if ((rc = world_load(from->path, &ws, NULL, err)) != 0)
        goto out;
    if (!(vm = find_id(list(ws, "vms"), vm_id, NULL))) {
        rc = vm_not_found(err, vm_id, from->path);
        goto out;
    }
    if (!same && (rc = world_load(to->path, &wd, NULL, err)) != 0)
        goto out;
    if ((rc = migrate_check(ws, vm, same ? ws : wd, host_id, same, mode, &dst, err)) != 0)
        goto out;
    snprintf(dst_host, sizeof dst_host, "%s", sget(dst, "id")); /* keep a chosen host */
    snprintf(what, sizeof what, "VM '%s'", sget(vm, "name"));
    if (mode == PV_MIGRATE_LIVE) {
        snprintf(d[0], sizeof d[0], "copying the memory of VM '%s'", sget(vm, "name"));
        snprintf(d[1], sizeof d[1], "switching VM '%s' over", sget(vm, "name"));
        nphases = 2;
    } else if (holds_memory(power_of(vm))) {
        snprintf(d[0], sizeof d[0], "saving VM '%s'", sget(vm, "name"));
        snprintf(d[1], sizeof d[1], "copying VM '%s'", sget(vm, "name"));
        snprintf(d[2], sizeof d[2], "restoring VM '%s'", sget(vm, "name"));
        nphases = 3;
    } else {
        snprintf(d[0], sizeof d[0], "copying VM '%s'", sget(vm, "name"));
        nphases = 1;
    }
    json_decref(ws);
    json_decref(wd);
    ws = wd = NULL;
    if ((rc = task_wait(from, s, details, nphases, err)) != 0 ||
        (rc = injected(from, F_MIGRATE, what, err)) != 0)
        goto out;

    if ((rc = lock_pair(from, to, &fa, &fb, &same, err)) != 0 ||
        (rc = world_load(from->path, &ws, NULL, err)) != 0 ||
        (!same && (rc = world_load(to->path, &wd, NULL, err)) != 0))
        goto out;
    if (!(vm = find_id(list(ws, "vms"), vm_id, &idx))) {
        rc = pv_fail(err, vm_not_found,
                          "%s disappeared while it was being migrated", what);
        goto out;
    }
    pick = host_id ? host_id : dst_host;
    if ((rc = migrate_check(ws, vm, same ? ws : wd, pick, same, mode, &dst, err)) != 0)
        goto out;
    snprintf(src_host, sizeof src_host, "%s", sget(vm, "host"));
    if (same) {
        json_object_set_new(vm, "host", json_string(pick));
        moved = json_incref(vm);
        rc = world_save(from, ws, err);
    } else {
        /* destination first: a crash between the writes leaves the VM in
         * both worlds, never in none */
        if (!(moved = json_deep_copy(vm))) {
            rc = oom(err);
            goto out;
        }
        json_object_set_new(moved, "host", json_string(pick));
        json_array_append(list(wd, "vms"), moved);
        if ((rc = world_save(to, wd, err)) != 0)
            goto out;
        json_array_remove(list(ws, "vms"), idx);
        if ((rc = world_save(from, ws, err)) != 0) {
            struct pv_error undo;
            json_array_remove(list(wd, "vms"), json_array_size(list(wd, "vms")) - 1);
            world_save(to, wd, &undo);
            goto out;
        }
    }
    world_unlock(&fa);
    world_unlock(&fb);
    if (rc)
        goto out;
    report_vm(s, moved);
    report_host_id(s, same ? ws : wd, pick);
    if (same) /* across worlds the source host is another connection's to report */
        report_host_id(s, ws, src_host);
out:
    world_unlock(&fa);
    world_unlock(&fb);
    json_decref(moved);
    json_decref(ws);
    json_decref(wd);
    return rc;
}

/* ---- the table ---------------------------------------------------------- */


/* ---- device changes (vm_device) ------------------------------------------
 * A disk in the world is {"key": "vda", "pool_native_id", "size_gb",
 * "size_mb", "bus", "path"}, a NIC {"key": MAC, "network_native_id", "mac",
 * "model"}.  The rules are the ones real hypervisors have: a running (or
 * paused) VM takes and gives up disks and NICs only when it is paravirtual
 * (virtio, VMware Tools, Hyper-V integration services), never its boot
 * disk; a disk only grows; a saved VM is refused (its memory expects the
 * devices it had); a move copies for delay_ms with progress and honours a
 * cancel, and the old place is given up only after the switch. */

static json_t *find_key(json_t *arr, const char *key, size_t *idx)
{
    json_t *o;
    size_t i;

    json_array_foreach(arr, i, o) {
        const char *k = sget(o, "key");
        if (k && key && strcmp(k, key) == 0) {
            if (idx)
                *idx = i;
            return o;
        }
    }
    return NULL;
}

/* A pool or network host_id reaches, by native id or else by name. */
static json_t *find_place(json_t *w, const char *kind, const char *native_id, const char *name,
                          const char *host_id)
{
    json_t *o, *h;
    size_t i, j;

    json_array_foreach(list(w, kind), i, o) {
        const char *id = sget(o, "id"), *nm = sget(o, "name");
        if (native_id ? !(id && strcmp(id, native_id) == 0) : !(nm && name && strcmp(nm, name) == 0))
            continue;
        json_array_foreach(json_object_get(o, "hosts"), j, h) {
            if (json_is_string(h) && host_id && strcmp(json_string_value(h), host_id) == 0)
                return o;
        }
    }
    return NULL;
}

static int place_missing(struct pv_error *err, int nic, const char *native_id, const char *name,
                         const char *host_id)
{
    if (nic)
        return pv_fail(err, unknown_network, "host %s has no network %s", host_id,
                       native_id ? native_id : name ? name : "(none named)");
    return pv_fail(err, unknown_pool, "host %s has no storage pool %s", host_id,
                   native_id ? native_id : name ? name : "default");
}

/* A new device key: vda, vdb, ... for disks; a MAC in QEMU's 52:54:00 range for NICs. */
static void new_key(json_t *vm, int nic, char *out, size_t n)
{
    json_t *arr = json_object_get(vm, nic ? "nics" : "disks");
    uint32_t hash = 2166136261u; /* FNV-1a of the VM's name: its MACs differ from other VMs' */

    for (const char *p = sget(vm, "name"); p && *p; p++)
        hash = (hash ^ (unsigned char)*p) * 16777619u;
    for (unsigned i = 0;; i++) {
        if (nic)
            snprintf(out, n, "52:54:00:%02x:%02x:%02x", (unsigned)(hash >> 8) & 0xff,
                     (unsigned)hash & 0xff, (unsigned)(json_array_size(arr) + i) & 0xff);
        else if (i < 26)
            snprintf(out, n, "%s%c", json_is_true(json_object_get(vm, "paravirtual")) ? "vd" : "sd",
                     'a' + i);
        else
            snprintf(out, n, "vd%u", i);
        if (!find_key(arr, out, NULL))
            return;
    }
}

static json_t *disk_new(json_t *vm, const char *key, json_t *pool, json_int_t size_gb)
{
    char path[300];

    snprintf(path, sizeof path, "[%s] %s-%s.qcow2", sget(pool, "name"), sget(vm, "name"), key);
    return json_pack("{s:s, s:s, s:I, s:I, s:s, s:s}", "key", key, "pool_native_id",
                     sget(pool, "id"), "size_gb", size_gb, "size_mb", size_gb * 1024, "bus",
                     json_is_true(json_object_get(vm, "paravirtual")) ? "virtio" : "ide", "path",
                     path);
}

static int pool_room(json_t *w, json_t *pool, json_int_t need_mb, struct pv_error *err)
{
    json_int_t free_mb = iget(pool, "capacity_mb") - pool_used_mb(w, sget(pool, "id"));

    if (need_mb > free_mb)
        return pv_fail(err, insufficient_storage,
                       "storage pool %s has %lld MiB free; the disk needs %lld MiB",
                       sget(pool, "name"), (long long)free_mb, (long long)need_mb);
    return 0;
}

/* Can change ch be made to vm in w now?  Fills *live (1: the VM runs and
 * takes it running).  Returns 0 or a refusal. */
static int device_check(json_t *w, json_t *vm, const struct pv_device_change *ch, int *live,
                        struct pv_error *err)
{
    enum pv_power_state p = power_of(vm);
    int nic = ch->kind == PV_DEV_NIC, pv = json_is_true(json_object_get(vm, "paravirtual"));
    json_t *arr = json_object_get(vm, nic ? "nics" : "disks"), *dev = NULL, *place;
    const char *host = sget(vm, "host"), *what = nic ? "NIC" : "disk";
    size_t idx = 0;

    *live = p == PV_POWER_RUNNING || p == PV_POWER_PAUSED;
    if (p == PV_POWER_SAVED)
        return pv_fail(err, vm_saved, "VM '%s' is saved: its memory expects the devices it had; "
                       "start it or delete its saved state first", sget(vm, "name"));
    if (ch->op != PV_DEV_ADD && !(dev = find_key(arr, ch->device_key, &idx)))
        return nic ? pv_fail(err, nic_not_found, "VM '%s' has no NIC %s", sget(vm, "name"),
                             ch->device_key ? ch->device_key : "(none named)")
                   : pv_fail(err, disk_not_found, "VM '%s' has no disk %s", sget(vm, "name"),
                             ch->device_key ? ch->device_key : "(none named)");
    if ((ch->op == PV_DEV_RESIZE || ch->op == PV_DEV_MOVE || ch->op == PV_DEV_CONNECT) &&
        nic != (ch->op == PV_DEV_CONNECT))
        return pv_fail(err, unsupported_by_backend, "a %s cannot be %s", what,
                       ch->op == PV_DEV_CONNECT ? "connected to a network" :
                       ch->op == PV_DEV_RESIZE ? "resized" : "moved to a pool");
    if (*live && !pv && (ch->op == PV_DEV_ADD || ch->op == PV_DEV_REMOVE))
        return pv_fail(err, vm_running, "VM '%s' is running without paravirtual devices: a %s "
                       "can be %s only while it is stopped", sget(vm, "name"), what,
                       ch->op == PV_DEV_ADD ? "added" : "removed");
    if (*live && !nic && ch->op == PV_DEV_REMOVE && idx == 0)
        return pv_fail(err, boot_disk_in_use, "disk %s is the boot disk of running VM '%s': "
                       "stop the VM first", ch->device_key, sget(vm, "name"));
    if (*live && ch->op == PV_DEV_RESIZE && !pv)
        return pv_fail(err, vm_running, "VM '%s' is running on an emulated (%s) disk controller: "
                       "disk %s can grow only while it is stopped", sget(vm, "name"),
                       sget(dev, "bus"), ch->device_key);
    if (ch->op == PV_DEV_RESIZE && ch->size_gb * 1024 <= iget(dev, "size_mb"))
        return pv_fail(err, shrink_not_supported, "disk %s is %lld MiB; %lld GiB would not grow it",
                       ch->device_key, (long long)iget(dev, "size_mb"), (long long)ch->size_gb);
    if (!nic && (ch->op == PV_DEV_ADD || ch->op == PV_DEV_RESIZE) &&
        (ch->size_gb < 1 || ch->size_gb > 65536))
        return pv_fail(err, invalid_argument, "size_gb must be 1 to 65536, not %lld",
                       (long long)ch->size_gb);
    if (nic && (ch->op == PV_DEV_ADD || ch->op == PV_DEV_CONNECT)) {
        if (!(place = find_place(w, "networks", ch->network_native_id, ch->network, host)))
            return place_missing(err, 1, ch->network_native_id, ch->network, host);
    }
    if (!nic && (ch->op == PV_DEV_ADD || ch->op == PV_DEV_MOVE)) {
        const char *name = ch->pool || ch->pool_native_id ? ch->pool : "default";
        if (!(place = find_place(w, "pools", ch->pool_native_id, name, host)))
            return place_missing(err, 0, ch->pool_native_id, ch->pool, host);
        if (ch->op == PV_DEV_MOVE && strcmp(sget(place, "id"), sget(dev, "pool_native_id") ?
                                            sget(dev, "pool_native_id") : "") == 0)
            return pv_fail(err, same_pool, "disk %s is in storage pool %s already",
                           ch->device_key, sget(place, "name"));
        return pool_room(w, place, ch->op == PV_DEV_ADD ? ch->size_gb * 1024 : iget(dev, "size_mb"),
                         err);
    }
    if (ch->op == PV_DEV_RESIZE) {
        json_t *pool = find_id(list(w, "pools"), sget(dev, "pool_native_id"), NULL);
        if (pool)
            return pool_room(w, pool, ch->size_gb * 1024 - iget(dev, "size_mb"), err);
    }
    return 0;
}

/* Make change ch to vm (checked by device_check under the same lock). */
static int device_apply(json_t *w, json_t *vm, const struct pv_device_change *ch,
                        struct pv_device_result *out, struct pv_error *err)
{
    int nic = ch->kind == PV_DEV_NIC;
    json_t *arr = json_object_get(vm, nic ? "nics" : "disks"), *dev = NULL, *place = NULL;
    const char *host = sget(vm, "host");
    size_t idx = 0;

    if (!arr) {
        json_object_set_new(vm, nic ? "nics" : "disks", json_array());
        arr = json_object_get(vm, nic ? "nics" : "disks");
    }
    if (ch->op != PV_DEV_ADD)
        dev = find_key(arr, ch->device_key, &idx);
    if (nic && (ch->op == PV_DEV_ADD || ch->op == PV_DEV_CONNECT))
        place = find_place(w, "networks", ch->network_native_id, ch->network, host);
    if (!nic && (ch->op == PV_DEV_ADD || ch->op == PV_DEV_MOVE))
        place = find_place(w, "pools", ch->pool_native_id,
                           ch->pool || ch->pool_native_id ? ch->pool : "default", host);
    switch (ch->op) {
    case PV_DEV_ADD:
        new_key(vm, nic, out->key, sizeof out->key);
        dev = nic ? json_pack("{s:s, s:s, s:s, s:s}", "key", out->key, "network_native_id",
                              sget(place, "id"), "mac", out->key, "model",
                              json_is_true(json_object_get(vm, "paravirtual")) ? "virtio" : "e1000")
                  : disk_new(vm, out->key, place, ch->size_gb);
        if (!dev || json_array_append_new(arr, dev))
            return oom(err);
        break;
    case PV_DEV_REMOVE: json_array_remove(arr, idx); break;
    case PV_DEV_RESIZE:
        json_object_set_new(dev, "size_gb", json_integer(ch->size_gb));
        json_object_set_new(dev, "size_mb", json_integer(ch->size_gb * 1024));
        break;
    case PV_DEV_CONNECT:
        json_object_set_new(dev, "network_native_id", json_string(sget(place, "id")));
        break;
    case PV_DEV_MOVE: {
        json_t *moved = disk_new(vm, ch->device_key, place, iget(dev, "size_gb"));
        if (!moved)
            return oom(err);
        json_object_set_new(moved, "size_mb", json_integer(iget(dev, "size_mb")));
        json_object_set_new(moved, "bus", json_string(sget(dev, "bus") ? sget(dev, "bus") : "virtio"));
        json_array_set_new(arr, idx, moved);
        break;
    }
    }
    if (ch->op != PV_DEV_ADD)
        snprintf(out->key, sizeof out->key, "%s", ch->device_key);
    return 0;
}

/* A new VM's disks and NICs as the create asked for them ({"size_gb",
 * "pool"}, {"network"} or {"bridge"}) become devices with keys in the
 * pools and networks of its host, as a hypervisor makes them; a world
 * without pools or networks keeps them as given.  Under the world's lock. */
static int devices_place(json_t *w, json_t *vm, struct pv_error *err)
{
    const char *host = sget(vm, "host");
    json_t *d, *arr;
    size_t i;

    arr = json_object_get(vm, "disks");
    json_array_foreach(arr, i, d) {
        const char *name = sget(d, "pool") ? sget(d, "pool") : sget(d, "datastore");
        json_t *pool, *made;
        char key[16];
        if (sget(d, "key") || !json_array_size(list(w, "pools")) || !json_is_integer(json_object_get(d, "size_gb")))
            continue;
        if (!(pool = find_place(w, "pools", NULL, name ? name : "default", host)))
            return place_missing(err, 0, NULL, name, host);
        new_key(vm, 0, key, sizeof key);
        if (!(made = disk_new(vm, key, pool, iget(d, "size_gb"))))
            return oom(err);
        json_array_set_new(arr, i, made);
    }
    arr = json_object_get(vm, "nics");
    json_array_foreach(arr, i, d) {
        const char *name = sget(d, "network") ? sget(d, "network") : sget(d, "bridge");
        json_t *net;
        char key[32];
        if (sget(d, "key") || !json_array_size(list(w, "networks")))
            continue;
        if (!name || !(net = find_place(w, "networks", NULL, name, host)))
            return place_missing(err, 1, NULL, name, host);
        new_key(vm, 1, key, sizeof key);
        json_array_set_new(arr, i, json_pack("{s:s, s:s, s:s, s:s}", "key", key, "network_native_id",
                                             sget(net, "id"), "mac", key, "model",
                                             json_is_true(json_object_get(vm, "paravirtual")) ? "virtio" : "e1000"));
    }
    return 0;
}

static int test_vm_device(struct pv_conn *c, const char *vm_id, const struct pv_device_change *ch,
                          const struct pv_sink *s, struct pv_device_result *out,
                          struct pv_error *err)
{
    static const char *const op_doing[] = {"adding", "removing", "growing", "reconnecting",
                                           "moving"};
    json_t *w = NULL, *vm;
    char detail[200], what[160];
    const char *details[2] = {detail, detail};
    int rc, lk = -1, live = 0;

    memset(out, 0, sizeof *out);
    if ((rc = conn_ok(c, err)) != 0)
        return rc;
    if (!vm_id || !ch || (unsigned)ch->op > PV_DEV_MOVE)
        return pv_fail(err, invalid_argument, "a device change needs a VM and a known operation");
    if ((rc = world_load(c->path, &w, NULL, err)) != 0)
        goto out;
    if (!(vm = find_id(list(w, "vms"), vm_id, NULL))) {
        rc = vm_not_found(err, vm_id, c->path);
        goto out;
    }
    if ((rc = device_check(w, vm, ch, &live, err)) != 0)
        goto out;
    snprintf(what, sizeof what, "%s %s of VM '%s'", ch->kind == PV_DEV_NIC ? "NIC" : "disk",
             ch->device_key ? ch->device_key : "(new)", sget(vm, "name"));
    if (ch->op == PV_DEV_MOVE)
        snprintf(detail, sizeof detail, "copying disk %s of VM '%s'%s", ch->device_key,
                 sget(vm, "name"), live ? " while it runs" : "");
    else
        snprintf(detail, sizeof detail, "%s %s", op_doing[ch->op], what);
    json_decref(w);
    w = NULL;

    /* only a copy takes time; the other changes are one call on a hypervisor */
    if ((ch->op == PV_DEV_MOVE && (rc = task_wait(c, s, details, 1, err)) != 0) ||
        (rc = injected(c, F_DEVICE, what, err)) != 0)
        goto out;

    if ((rc = world_lock(c, &lk, err)) != 0 || (rc = world_load(c->path, &w, NULL, err)) != 0)
        goto out;
    if (!(vm = find_id(list(w, "vms"), vm_id, NULL))) {
        rc = pv_fail(err, vm_not_found, "VM %s disappeared during the device change", vm_id);
        goto out;
    }
    if ((rc = device_check(w, vm, ch, &live, err)) != 0 ||
        (rc = device_apply(w, vm, ch, out, err)) != 0 || (rc = world_save(c, w, err)) != 0)
        goto out;
    world_unlock(&lk);
    out->live = live;
    if (live && ch->op == PV_DEV_RESIZE)
        snprintf(out->note, sizeof out->note, "the guest sees the larger disk now; grow its "
                 "partition and file system to use the space");
    else if (live && ch->op == PV_DEV_CONNECT)
        snprintf(out->note, sizeof out->note, "the guest keeps its MAC; it may need to renew "
                 "its address on the new network");
    report_vm(s, vm);
    report_places(s, w);
out:
    world_unlock(&lk);
    json_decref(w);
    return rc;
}

/* ---- snapshots (ABI 11) ---------------------------------------------------
 *
 * Kept in the VM's "snapshots" array (see snapshots_check), parents before
 * children.  A snapshot saves the VM's vcpus, memory_mb, disks, nics and
 * power state; a revert puts them back and, when the snapshot holds memory,
 * the VM runs (or is paused) again as it was -- without memory it is
 * stopped, as on a real hypervisor.  Every change is a task: delay_ms with
 * progress, cancel and fail=snapshot, then applied under the world lock. */

static const char *const snap_saved[] = {"vcpus", "memory_mb", "power_state", "disks", "nics"};

static json_t *snap_find(json_t *vm, const char *key, const char *name)
{
    size_t i;
    json_t *o;

    json_array_foreach(json_object_get(vm, "snapshots"), i, o)
        if ((key && strcmp(sget(o, "key"), key) == 0) || (name && strcmp(sget(o, "name"), name) == 0))
            return o;
    return NULL;
}

static int test_vm_snapshots(struct pv_conn *c, const char *vm_id, char **json,
                             struct pv_error *err)
{
    json_t *w = NULL, *vm, *o, *items = NULL;
    size_t i;
    int rc;

    *json = NULL;
    if ((rc = conn_ok(c, err)) != 0 || (rc = world_load(c->path, &w, NULL, err)) != 0)
        return rc;
    if (!(vm = find_id(list(w, "vms"), vm_id, NULL))) {
        rc = vm_not_found(err, vm_id, c->path);
        goto out;
    }
    if (!(items = json_array()))
        goto nomem;
    json_array_foreach(json_object_get(vm, "snapshots"), i, o) {
        json_t *par = json_object_get(o, "parent");
        if (json_array_append_new(items, json_pack("{s:s, s:s, s:O, s:s, s:b, s:b}", "key",
                                                   sget(o, "key"), "name", sget(o, "name"),
                                                   "parent_key", par ? par : json_null(),
                                                   "created_at", sget(o, "created_at") ? sget(o, "created_at") : "",
                                                   "current", json_is_true(json_object_get(o, "current")),
                                                   "memory", json_is_true(json_object_get(o, "memory")))))
            goto nomem;
    }
    if ((*json = json_dumps(items, JSON_COMPACT)))
        goto out;
nomem:
    rc = oom(err);
out:
    json_decref(items);
    json_decref(w);
    return rc;
}

/* May change ch happen to vm, given world w?  *snap: the snapshot named. */
static int snapshot_check(json_t *w, json_t *vm, const struct pv_snapshot_change *ch,
                          json_t **snap, struct pv_error *err)
{
    const char *name = sget(vm, "name");
    json_t *host = find_id(list(w, "hosts"), sget(vm, "host"), NULL);
    enum pv_power_state p = power_of(vm);

    *snap = NULL;
    if (host_state_of(host) == PV_HOST_DISCONNECTED)
        return pv_fail(err, host_unavailable, "VM '%s' is on host '%s', which is disconnected: "
                       "nothing can reach it", name, sget(host, "name"));
    if (ch->op == PV_SNAP_CREATE) {
        if (!ch->name || !*ch->name || strlen(ch->name) > 128)
            return pv_fail(err, invalid_argument, "a snapshot needs a name of 1 to 128 characters");
        if (snap_find(vm, NULL, ch->name))
            return pv_fail(err, snapshot_exists, "VM '%s' has a snapshot named '%s' already",
                           name, ch->name);
        if (p == PV_POWER_SAVED)
            return pv_fail(err, vm_saved, "VM '%s' is saved: start it, or delete it, before "
                           "taking a snapshot", name);
        if (ch->with_memory && !holds_memory(p))
            return pv_fail(err, not_running, "VM '%s' is %s: there is no memory to keep", name,
                           power_names[p]);
        return 0;
    }
    if (!ch->key || !(*snap = snap_find(vm, ch->key, NULL)))
        return pv_fail(err, snapshot_not_found, "VM '%s' has no snapshot '%.128s'", name,
                       ch->key ? ch->key : "");
    if (ch->op == PV_SNAP_REVERT && json_is_true(json_object_get(*snap, "memory"))) {
        /* it will run again: the host must take it, as for a start */
        json_int_t used = host_usage(w, sget(vm, "host")).mem_mb -
                          (holds_memory(p) ? iget(vm, "memory_mb") : 0);
        if (host_state_of(host) != PV_HOST_CONNECTED)
            return pv_fail(err, host_unavailable, "cannot revert VM '%s' to a running state: "
                           "host '%s' is in maintenance mode", name, sget(host, "name"));
        if (used + iget(*snap, "memory_mb") > iget(host, "memory_mb"))
            return pv_fail(err, insufficient_memory, "cannot revert VM '%s' to a running state "
                           "(%lld MB): host '%s' has %lld of %lld MB free", name,
                           (long long)iget(*snap, "memory_mb"), sget(host, "name"),
                           (long long)(iget(host, "memory_mb") - used),
                           (long long)iget(host, "memory_mb"));
    }
    return 0;
}

static void snap_current(json_t *vm, const char *key)
{
    size_t i;
    json_t *o;

    json_array_foreach(json_object_get(vm, "snapshots"), i, o)
        json_object_set_new(o, "current", json_boolean(key && strcmp(sget(o, "key"), key) == 0));
}

static int snap_make(json_t *vm, const struct pv_snapshot_change *ch, char *key_out,
                     size_t key_size, struct pv_error *err)
{
    json_t *arr = json_object_get(vm, "snapshots"), *cur = NULL, *o, *snap;
    char key[37], when[32];
    time_t now = time(NULL);
    struct tm tm;
    size_t i;
    int rc;

    if ((rc = new_uuid(key, err)) != 0)
        return rc;
    if (!arr && (!(arr = json_array()) || json_object_set_new(vm, "snapshots", arr)))
        return oom(err);
    json_array_foreach(arr, i, o)
        if (json_is_true(json_object_get(o, "current")))
            cur = o;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    snap = json_pack("{s:s, s:s, s:O, s:s, s:b, s:b}", "key", key, "name", ch->name, "parent",
                     cur ? json_object_get(cur, "key") : json_null(), "created_at", when,
                     "current", 1, "memory", ch->with_memory);
    if (!snap)
        return oom(err);
    if (ch->description)
        json_object_set_new(snap, "description", json_string(ch->description));
    for (i = 0; i < COUNT(snap_saved); i++)
        if (json_object_get(vm, snap_saved[i]))
            json_object_set_new(snap, snap_saved[i],
                                json_deep_copy(json_object_get(vm, snap_saved[i])));
    if (!ch->with_memory)
        json_object_set_new(snap, "power_state", json_string(power_names[PV_POWER_STOPPED]));
    snap_current(vm, NULL);
    if (json_array_append_new(arr, snap))
        return oom(err);
    if (key_out && key_size)
        snprintf(key_out, key_size, "%s", key);
    return 0;
}

static void snap_revert(json_t *vm, json_t *snap)
{
    size_t i;

    for (i = 0; i < COUNT(snap_saved); i++) {
        json_t *v = json_object_get(snap, snap_saved[i]);
        if (v)
            json_object_set_new(vm, snap_saved[i], json_deep_copy(v));
        else
            json_object_del(vm, snap_saved[i]);
    }
    if (!json_is_true(json_object_get(snap, "memory")))
        power_set(vm, PV_POWER_STOPPED);
    snap_current(vm, sget(snap, "key"));
}

/* Delete snap; its children move up to its parent, or go too (children).
 * A deleted current snapshot leaves its parent current. */
static void snap_delete(json_t *vm, json_t *snap, int children)
{
    json_t *arr = json_object_get(vm, "snapshots"), *gone = json_object(), *o;
    json_t *parent = json_incref(json_object_get(snap, "parent"));
    int was_current = 0;
    size_t i;

    json_object_set(gone, sget(snap, "key"), json_true());
    json_array_foreach(arr, i, o) { /* parents come first: one pass finds every descendant */
        const char *par = sget(o, "parent");
        if (par && json_object_get(gone, par)) {
            if (children)
                json_object_set(gone, sget(o, "key"), json_true());
            else
                json_object_set(o, "parent", parent ? parent : json_null());
        }
    }
    for (i = json_array_size(arr); i-- > 0;) {
        o = json_array_get(arr, i);
        if (json_object_get(gone, sget(o, "key"))) {
            was_current |= json_is_true(json_object_get(o, "current"));
            json_array_remove(arr, i);
        }
    }
    if (was_current && json_is_string(parent))
        snap_current(vm, json_string_value(parent));
    json_decref(parent);
    json_decref(gone);
}

static int test_vm_snapshot(struct pv_conn *c, const char *vm_id,
                            const struct pv_snapshot_change *ch, const struct pv_sink *s,
                            char *key_out, size_t key_size, struct pv_error *err)
{
    static const char *const op_doing[] = {"taking", "reverting to", "deleting"};
    json_t *w = NULL, *vm, *snap;
    char detail[300], what[200];
    const char *details[1] = {detail};
    int rc, lk = -1;

    if (key_out && key_size)
        key_out[0] = '\0';
    if ((rc = conn_ok(c, err)) != 0)
        return rc;
    if (!vm_id || !ch || (unsigned)ch->op > PV_SNAP_DELETE)
        return pv_fail(err, invalid_argument, "a snapshot change needs a VM and a known operation");
    if ((rc = world_load(c->path, &w, NULL, err)) != 0)
        goto out;
    if (!(vm = find_id(list(w, "vms"), vm_id, NULL))) {
        rc = vm_not_found(err, vm_id, c->path);
        goto out;
    }
    if ((rc = snapshot_check(w, vm, ch, &snap, err)) != 0)
        goto out;
    snprintf(what, sizeof what, "snapshot '%.100s' of VM '%s'",
             snap ? sget(snap, "name") : ch->name, sget(vm, "name"));
    snprintf(detail, sizeof detail, "%s %s%s", op_doing[ch->op], what,
             ch->op == PV_SNAP_DELETE && ch->children ? " and its children" : "");
    json_decref(w);
    w = NULL;

    if ((rc = task_wait(c, s, details, 1, err)) != 0 ||
        (rc = injected(c, F_SNAPSHOT, what, err)) != 0)
        goto out;

    if ((rc = world_lock(c, &lk, err)) != 0 || (rc = world_load(c->path, &w, NULL, err)) != 0)
        goto out;
    if (!(vm = find_id(list(w, "vms"), vm_id, NULL))) {
        rc = pv_fail(err, vm_not_found, "VM %s disappeared while %s", vm_id, detail);
        goto out;
    }
    if ((rc = snapshot_check(w, vm, ch, &snap, err)) != 0)
        goto out;
    if (ch->op == PV_SNAP_CREATE)
        rc = snap_make(vm, ch, key_out, key_size, err);
    else if (ch->op == PV_SNAP_REVERT)
        snap_revert(vm, snap);
    else
        snap_delete(vm, snap, ch->children);
    if (rc || (rc = world_save(c, w, err)) != 0)
        goto out;
    world_unlock(&lk);
    if (ch->op != PV_SNAP_CREATE && key_out && key_size)
        snprintf(key_out, key_size, "%s", ch->key);
    report_vm(s, vm);
    if (ch->op == PV_SNAP_REVERT)
        report_host_id(s, w, sget(vm, "host"));
out:
    world_unlock(&lk);
    json_decref(w);
    return rc;
}

static const char *const test_schemes[] = {"test", NULL};

static const struct pv_adapter test_adapter = {
    .abi = PV_ADAPTER_ABI,
    .name = "test",
    .version = "1.0",
    .caps = PV_CAP_SYNC | PV_CAP_EVENTS | PV_CAP_CREATE | PV_CAP_DELETE | PV_CAP_POWER |
            PV_CAP_SHUTDOWN | PV_CAP_PAUSE | PV_CAP_SAVE | PV_CAP_LIVE_MIGRATE |
            PV_CAP_QUICK_MIGRATE | PV_CAP_STATS | PV_CAP_MAINTENANCE | PV_CAP_HA_RESTART |
            PV_CAP_CLONE | PV_CAP_DEVICES | PV_CAP_SNAPSHOTS,
    .title = "Test (simulated)",
    .credentials = PV_CRED_NONE,
    .url_schemes = test_schemes,
    .open = test_open,
    .close = test_close,
    .sync = test_sync,
    .watch = test_watch,
    .vm_create = test_vm_create,
    .vm_action = test_vm_action,
    .vm_migrate = test_vm_migrate,
    .vm_refresh = test_vm_refresh,
    .vm_clone = test_vm_clone,
    .vm_device = test_vm_device,
    .vm_snapshots = test_vm_snapshots,
    .vm_snapshot = test_vm_snapshot,
    .configure = test_configure,
};

const struct pv_adapter *pv_adapter_entry(void)
{
    return &test_adapter;
}
