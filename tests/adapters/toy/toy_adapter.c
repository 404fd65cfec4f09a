/* toy_adapter.c -- a fifth adapter, built only for the tests, that proves a
 * new vendor needs no change outside its own folder.
 *
 * It is deliberately small and unlike the others: a connection's url is
 * toy://NAME[?quiet=1], no credentials, and the endpoint is an in-memory
 * world per NAME (kept while polyvisord runs) with two hosts, NAME-h1 and
 * NAME-h2.  VMs are created stopped and follow the contract's power states
 * and refusal codes; they move only between hosts of one connection (like
 * vCenter's), quick migration only; no watch: the daemon polls.  Nothing in
 * server/ or webui/ names it -- its title, credentials and URL scheme come
 * from this table through GET /api/v1/adapters.
 *
 * For the ABI's "who reports" rule, the world counts the calls it served,
 * and each host's facts carry the counts ({"calls": {"vm_refresh": N, ...}}).
 * With ?quiet=1, actions do not report the VM they changed, so the daemon
 * must ask once (vm_refresh); without it they do, and the daemon must not.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "adapters/adapter.h"

#define MAX_WORLDS 16
#define MAX_VMS 64

struct toy_vm {
    int used;
    char id[32];
    char name[128];
    int host;                 /* 0 or 1 */
    enum pv_power_state power;
    int vcpus;
    int64_t memory_mb;
};

struct world {
    char name[64];
    int next_id;
    struct toy_vm vms[MAX_VMS];
    long calls_action, calls_refresh, calls_create, calls_migrate;
};

/* Every world, guarded by lock: connections of one NAME share it. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct world worlds[MAX_WORLDS];
static int nworlds;

struct pv_conn {
    struct world *w;
    int quiet;
};

static const char *const schemes[] = {"toy", NULL};

static void host_id(const struct world *w, int h, char *out, size_t size)
{
    snprintf(out, size, "%s-h%d", w->name, h + 1);
}

static int host_index(const struct world *w, const char *native)
{
    char id[96];
    for (int h = 0; h < 2; h++) {
        host_id(w, h, id, sizeof id);
        if (native && strcmp(native, id) == 0)
            return h;
    }
    return -1;
}

static int t_open(const struct pv_conn_params *p, struct pv_conn **out, struct pv_error *err)
{
    const char *name = p->url + strlen("toy://");
    size_t n = strcspn(name, "?/");
    struct world *w = NULL;

    if (strncmp(p->url, "toy://", 6) != 0 || n == 0 || n >= sizeof worlds[0].name)
        return pv_fail(err, invalid_value, "a toy url is toy://NAME[?quiet=1]");
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nworlds; i++)
        if (strlen(worlds[i].name) == n && strncmp(worlds[i].name, name, n) == 0)
            w = &worlds[i];
    if (!w && nworlds < MAX_WORLDS) {
        w = &worlds[nworlds++];
        memcpy(w->name, name, n);
        w->name[n] = '\0';
    }
    pthread_mutex_unlock(&lock);
    if (!w)
        return pv_fail(err, out_of_memory, "too many toy worlds");
    *out = calloc(1, sizeof **out);
    if (!*out)
        return pv_fail(err, out_of_memory, "out of memory");
    (*out)->w = w;
    (*out)->quiet = strstr(name + n, "quiet=1") != NULL;
    return 0;
}

static void t_close(struct pv_conn *c)
{
    free(c);
}

/* Call with lock held. */
static void report_vm(const struct world *w, const struct toy_vm *v, const struct pv_sink *s)
{
    char host[96];
    struct pv_vm_info vi = {0};

    if (!s || !s->vm)
        return;
    host_id(w, v->host, host, sizeof host);
    vi.native_id = v->id;
    vi.name = v->name;
    vi.host_native_id = host;
    vi.power_state = v->power;
    vi.vcpus = v->vcpus;
    vi.memory_mb = v->memory_mb;
    vi.paravirtual = 1;
    vi.disks_json = "[]";
    vi.nics_json = "[]";
    s->vm(s->ctx, &vi);
}

static struct toy_vm *find(struct world *w, const char *id)
{
    for (int i = 0; i < MAX_VMS; i++)
        if (w->vms[i].used && strcmp(w->vms[i].id, id) == 0)
            return &w->vms[i];
    return NULL;
}

static int t_sync(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err)
{
    struct world *w = c->w;
    char id[96], facts[256];

    (void)err;
    pthread_mutex_lock(&lock);
    snprintf(facts, sizeof facts,
             "{\"calls\": {\"vm_action\": %ld, \"vm_refresh\": %ld, \"vm_create\": %ld, "
             "\"vm_migrate\": %ld}}",
             w->calls_action, w->calls_refresh, w->calls_create, w->calls_migrate);
    for (int h = 0; h < 2; h++) {
        int64_t used = 0;
        for (int i = 0; i < MAX_VMS; i++)
            if (w->vms[i].used && w->vms[i].host == h &&
                (w->vms[i].power == PV_POWER_RUNNING || w->vms[i].power == PV_POWER_PAUSED))
                used += w->vms[i].memory_mb;
        host_id(w, h, id, sizeof id);
        struct pv_host_info hi = {
            .native_id = id, .name = id, .state = PV_HOST_CONNECTED, .cpu_cores = 8,
            .cpu_mhz = 2000, .memory_mb = 32768, .memory_used_mb = used, .facts_json = facts,
        };
        if (s->host)
            s->host(s->ctx, &hi);
    }
    for (int i = 0; i < MAX_VMS; i++)
        if (w->vms[i].used)
            report_vm(w, &w->vms[i], s);
    pthread_mutex_unlock(&lock);
    return 0;
}

static int t_create(struct pv_conn *c, const char *host, const struct pv_vm_spec *spec,
                    const struct pv_sink *s, char **native_id, struct pv_error *err)
{
    struct world *w = c->w;
    int h = host ? host_index(w, host) : 0, rc = 0;
    struct toy_vm *v = NULL;

    *native_id = NULL;
    if (h < 0)
        return pv_fail(err, host_not_found, "no toy host '%.64s'", host);
    pthread_mutex_lock(&lock);
    w->calls_create++;
    for (int i = 0; i < MAX_VMS; i++) {
        if (w->vms[i].used && w->vms[i].host == h && strcmp(w->vms[i].name, spec->name) == 0) {
            rc = pv_fail(err, name_in_use, "host %s-h%d already has a VM named %s", w->name, h + 1,
                         spec->name);
            goto out;
        }
        if (!w->vms[i].used && !v)
            v = &w->vms[i];
    }
    if (!v) {
        rc = pv_fail(err, out_of_memory, "the toy world is full");
        goto out;
    }
    memset(v, 0, sizeof *v);
    v->used = 1;
    snprintf(v->id, sizeof v->id, "toyvm-%d", ++w->next_id);
    snprintf(v->name, sizeof v->name, "%s", spec->name);
    v->host = h;
    v->power = PV_POWER_STOPPED;
    v->vcpus = spec->vcpus;
    v->memory_mb = spec->memory_mb;
    *native_id = strdup(v->id);
    if (!c->quiet)
        report_vm(w, v, s);
out:
    pthread_mutex_unlock(&lock);
    return rc;
}

/* The contract's power-state rules: 0 and the new state, or a refusal. */
static int next_state(enum pv_power_state p, enum pv_vm_action a, enum pv_power_state *to,
                      struct pv_error *err)
{
    int up = p == PV_POWER_RUNNING, paused = p == PV_POWER_PAUSED;

    switch (a) {
    case PV_ACT_START:
        if (up)
            return pv_fail(err, already_running, "the VM is already running");
        if (paused)
            return pv_fail(err, vm_paused, "the VM is paused: resume it rather than start it");
        *to = PV_POWER_RUNNING;
        return 0;
    case PV_ACT_SHUTDOWN:
    case PV_ACT_SAVE:
    case PV_ACT_REBOOT:
    case PV_ACT_PAUSE:
        if (!up)
            return pv_fail(err, not_running, "the VM is not running");
        *to = a == PV_ACT_SAVE    ? PV_POWER_SAVED
              : a == PV_ACT_PAUSE ? PV_POWER_PAUSED
              : a == PV_ACT_REBOOT ? PV_POWER_RUNNING
                                   : PV_POWER_STOPPED;
        return 0;
    case PV_ACT_POWEROFF:
        if (!up && !paused)
            return pv_fail(err, already_stopped, "the VM is already stopped");
        *to = PV_POWER_STOPPED;
        return 0;
    case PV_ACT_RESUME:
        if (!paused)
            return pv_fail(err, not_paused, "the VM is not paused");
        *to = PV_POWER_RUNNING;
        return 0;
    case PV_ACT_DELETE:
    case PV_ACT_DELETE_WITH_DISKS:
        if (up || paused)
            return pv_fail(err, vm_running, "the VM must be off for that");
        *to = p;
        return 0;
    }
    return pv_fail(err, unsupported_by_backend, "no such action");
}

static int t_action(struct pv_conn *c, const char *id, enum pv_vm_action a,
                    const struct pv_sink *s, struct pv_error *err)
{
    struct world *w = c->w;
    struct toy_vm *v;
    enum pv_power_state to = PV_POWER_UNKNOWN;
    int rc;

    pthread_mutex_lock(&lock);
    w->calls_action++;
    v = find(w, id);
    rc = v ? next_state(v->power, a, &to, err)
           : pv_fail(err, vm_not_found, "no toy VM '%.64s'", id);
    if (!rc && (a == PV_ACT_DELETE || a == PV_ACT_DELETE_WITH_DISKS)) {
        v->used = 0;
        if (!c->quiet && s->vm_gone)
            s->vm_gone(s->ctx, id);
    } else if (!rc) {
        v->power = to;
        if (!c->quiet)
            report_vm(w, v, s);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static int t_refresh(struct pv_conn *c, const char *id, const struct pv_sink *s,
                     struct pv_error *err)
{
    struct world *w = c->w;
    struct toy_vm *v;

    (void)err;
    pthread_mutex_lock(&lock);
    w->calls_refresh++;
    v = find(w, id);
    if (v)
        report_vm(w, v, s);
    else if (s->vm_gone)
        s->vm_gone(s->ctx, id);
    pthread_mutex_unlock(&lock);
    return 0;
}

static int t_migrate(struct pv_conn *from, const char *id, struct pv_conn *to, const char *host,
                     const struct pv_migrate_opts *opts, const struct pv_sink *s,
                     struct pv_error *err)
{
    struct world *w = from->w;
    struct toy_vm *v;
    int h, rc = 0;

    if (to->w != w)
        return pv_fail(err, vendor_mismatch, "toy VMs move only inside one toy world");
    if (opts->mode != PV_MIGRATE_QUICK)
        return pv_fail(err, unsupported_by_backend, "toy VMs move by quick migration only");
    h = host_index(w, host);
    if (h < 0)
        return pv_fail(err, host_not_found, "no toy host '%.64s'", host);
    pthread_mutex_lock(&lock);
    w->calls_migrate++;
    v = find(w, id);
    if (!v) {
        rc = pv_fail(err, vm_not_found, "no toy VM '%.64s'", id);
    } else {
        v->host = h; /* a quick migration: saved, moved, restored: the state stays */
        if (!from->quiet)
            report_vm(w, v, s);
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

static const struct pv_adapter toy_adapter = {
    .abi = PV_ADAPTER_ABI,
    .name = "toy",
    .version = "1.0",
    .caps = PV_CAP_SYNC | PV_CAP_CREATE | PV_CAP_DELETE | PV_CAP_POWER | PV_CAP_SHUTDOWN |
            PV_CAP_PAUSE | PV_CAP_SAVE | PV_CAP_QUICK_MIGRATE | PV_CAP_MIGRATE_IN_CONNECTION,
    .title = "Toy (tests only)",
    .credentials = PV_CRED_NONE,
    .url_schemes = schemes,
    .open = t_open,
    .close = t_close,
    .sync = t_sync,
    .vm_create = t_create,
    .vm_action = t_action,
    .vm_refresh = t_refresh,
    .vm_migrate = t_migrate,
};

const struct pv_adapter *pv_adapter_entry(void)
{
    return &toy_adapter;
}
