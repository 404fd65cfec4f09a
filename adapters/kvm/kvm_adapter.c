/* kvm_adapter.c -- the kvm adapter: Polyvisor's adapter ABI over the
 * bundled host agent's HTTP+JSON API (hypervisor/agent_http.c), with libcurl.
 *
 * One agent is one KVM host.  Each pv_conn owns one lib/httpc session, so
 * the TCP (and TLS) connection to the agent is reused across calls; requests
 * have timeouts, and idempotent ones (GET) are retried twice with back-off
 * when the agent could not be reached.  Changes arrive by long-polling the
 * agent's event list (GET /v1/events?after=SEQ): each lifecycle event names
 * a domain, which is then read again, so the inventory follows libvirt
 * within a fraction of a second.
 *
 * Live migration is libvirt's peer-to-peer migration, driven by the source
 * agent: the adapter asks the destination agent for its migration URI (its
 * --migration-uri), tells the source agent to migrate there, and polls the
 * source's progress into the job until it ends, passing a cancel on.  Quick
 * migration (no shared storage) saves the VM on the source agent, copies
 * its disks and state file to the destination agent through temporary files
 * here, restores it there and undefines the source; a failure restores it
 * on the source.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "adapters/adapter.h"
#include "lib/buf.h"
#include "lib/httpc.h"

#define WATCH_GRACE_MS 5000

struct pv_conn {
    struct pv_httpc *http;
    char base[512];
    int timeout_ms;
    unsigned long long seq;       /* last agent event seen */
    char host_id[128];            /* the host's native id */
    json_t *known;                /* uuids reported, for gone-detection after a reset */
};

/* One call to the agent.  *out (may be NULL) gets the JSON body of a 2xx
 * answer; an error answer becomes *err with the agent's own code. */
static int call(struct pv_conn *c, const char *method, const char *path, const json_t *body,
                int timeout_ms, json_t **out, struct pv_error *err)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct pv_buf b = PV_BUF_INIT;
    long status = 0;
    int rc;
    json_t *j;

    if (out)
        *out = NULL;
    rc = pv_httpc_call(c->http, method, path, text, text ? strlen(text) : 0, timeout_ms, &status,
                       &b, err);
    free(text);
    if (rc)
        goto out;
    j = b.len ? json_loadb(b.s, b.len, 0, NULL) : NULL;
    if (status >= 200 && status < 300) {
        if (!j && out) {
            rc = pv_fail(err, bad_answer, "agent %s answered %s %s with no JSON",
                              c->base, method, path);
        } else if (out) {
            *out = j;
            j = NULL;
        }
    } else {
        json_t *e = json_object_get(j, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        /* the agent speaks lib/errors.def as we do: its code names the class */
        if (status == 401)
            code = pv_code_str(auth_failed);
        rc = pv_fail_named(err, code ? code : pv_code_str(agent_error), "%s", msg ? msg : "the agent refused the call");
    }
    json_decref(j);
out:
    pv_buf_free(&b);
    return rc;
}

/* ---- reporting ---------------------------------------------------------- */

static enum pv_power_state power_of(const char *s)
{
    if (!s) return PV_POWER_UNKNOWN;
    if (strcmp(s, "running") == 0) return PV_POWER_RUNNING;
    if (strcmp(s, "stopped") == 0) return PV_POWER_STOPPED;
    if (strcmp(s, "paused") == 0) return PV_POWER_PAUSED;
    if (strcmp(s, "saved") == 0) return PV_POWER_SAVED;
    return PV_POWER_UNKNOWN;
}

/* CPU %: the domain's CPU time since we last saw it over the wall time since,
 * per vCPU; memory: what the balloon says it holds.  c->known keeps the last
 * sample per UUID (and, by holding the key, which UUIDs were reported). */
static void usage_of(struct pv_conn *c, json_t *vm, struct pv_vm_info *vi)
{
    json_t *cpu = json_object_get(vm, "cpu_time_ns"), *mem = json_object_get(vm, "memory_current_mb");
    json_t *last = json_object_get(c->known, vi->native_id);
    struct timespec ts;
    json_int_t now_ns;
    int sampled = 0;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    now_ns = (json_int_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (json_is_integer(cpu) && json_is_object(last) && vi->vcpus > 0) {
        json_int_t dcpu = json_integer_value(cpu) - json_integer_value(json_object_get(last, "cpu_ns"));
        json_int_t dt = now_ns - json_integer_value(json_object_get(last, "at_ns"));
        if (dt > 200000000 && dcpu >= 0) { /* reports closer together say nothing useful */
            double pct = 100.0 * (double)dcpu / ((double)dt * vi->vcpus);
            sampled = vi->usage_known = 1;
            vi->cpu_usage_pct = pct > 100.0 ? 100.0 : pct;
            vi->memory_used_mb = json_is_integer(mem) ? json_integer_value(mem) : vi->memory_mb;
        }
    }
    if (!vi->usage_known && vi->power_state != PV_POWER_RUNNING &&
        vi->power_state != PV_POWER_PAUSED) {
        vi->usage_known = 1; /* a VM that does not run uses nothing */
        vi->cpu_usage_pct = 0;
        vi->memory_used_mb = 0;
    }
    if (sampled || !json_is_object(last))
        json_object_set_new(c->known, vi->native_id,
                            json_pack("{s:I,s:I}", "cpu_ns",
                                      json_is_integer(cpu) ? json_integer_value(cpu) : 0,
                                      "at_ns", now_ns));
}

static void report_vm(struct pv_conn *c, json_t *vm, const struct pv_sink *s)
{
    struct pv_vm_info vi = {0};
    json_t *pv = json_object_get(vm, "paravirtual");
    char *disks = json_dumps(json_object_get(vm, "disks"), JSON_COMPACT | JSON_ENCODE_ANY);
    char *nics = json_dumps(json_object_get(vm, "nics"), JSON_COMPACT | JSON_ENCODE_ANY);

    vi.native_id = json_string_value(json_object_get(vm, "uuid"));
    vi.name = json_string_value(json_object_get(vm, "name"));
    vi.host_native_id = c->host_id;
    vi.power_state = power_of(json_string_value(json_object_get(vm, "power_state")));
    vi.vcpus = (int)json_integer_value(json_object_get(vm, "vcpus"));
    vi.memory_mb = json_integer_value(json_object_get(vm, "memory_mb"));
    vi.paravirtual = json_is_boolean(pv) ? json_is_true(pv) : -1;
    vi.disks_json = disks;
    vi.nics_json = nics;
    vi.version = (uint64_t)json_integer_value(json_object_get(vm, "version"));
    if (vi.native_id)
        usage_of(c, vm, &vi);
    if (vi.native_id && s->vm)
        s->vm(s->ctx, &vi);
    free(disks);
    free(nics);
}

/* A host's native id: libvirt's host UUID, or its hostname where the driver
 * has none (the test driver). */
static void set_host_id(struct pv_conn *c, json_t *host)
{
    const char *uuid = json_string_value(json_object_get(host, "uuid"));
    const char *name = json_string_value(json_object_get(host, "hostname"));
    snprintf(c->host_id, sizeof c->host_id, "%s", uuid && *uuid ? uuid : name ? name : "");
}

static int report_host(struct pv_conn *c, const struct pv_sink *s, json_t *vms, struct pv_error *err)
{
    json_t *h = NULL;
    struct pv_host_info hi = {0};
    char *facts;
    int64_t used = 0;
    size_t i;
    json_t *v;
    int rc = call(c, "GET", "/v1/host", NULL, c->timeout_ms, &h, err);

    if (rc)
        return rc;
    set_host_id(c, h);
    json_array_foreach(vms, i, v) {
        const char *p = json_string_value(json_object_get(v, "power_state"));
        if (p && (strcmp(p, "running") == 0 || strcmp(p, "paused") == 0))
            used += json_integer_value(json_object_get(v, "memory_mb"));
    }
    facts = json_dumps(h, JSON_COMPACT);
    hi.native_id = c->host_id;
    hi.name = json_string_value(json_object_get(h, "hostname"));
    hi.state = PV_HOST_CONNECTED;
    hi.cpu_cores = (int)json_integer_value(json_object_get(h, "cpus"));
    hi.cpu_mhz = (int)json_integer_value(json_object_get(h, "mhz"));
    hi.memory_mb = json_integer_value(json_object_get(h, "memory_mb"));
    /* the host's own figure when libvirt has one, else what its VMs hold */
    hi.memory_used_mb = json_integer_value(json_object_get(h, "memory_free_mb")) > 0
                            ? hi.memory_mb - json_integer_value(json_object_get(h, "memory_free_mb"))
                            : used;
    hi.cpu_usage_pct = json_number_value(json_object_get(h, "cpu_usage_pct"));
    hi.facts_json = facts;
    if (s->host)
        s->host(s->ctx, &hi);
    free(facts);
    json_decref(h);
    return 0;
}

/* The host's storage pools and networks (each reached by this one host).
 * An agent older than GET /v1/pools has none to tell. */
static int report_storage(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err)
{
    const char *hosts[] = {c->host_id};
    json_t *pools = NULL, *nets = NULL, *p;
    size_t i;
    int rc;

    rc = call(c, "GET", "/v1/pools", NULL, c->timeout_ms, &pools, err);
    if (!rc)
        rc = call(c, "GET", "/v1/networks", NULL, c->timeout_ms, &nets, err);
    if (rc == PV_ENOTFOUND && pv_error_is(err, PV_CODE_route_not_found)) {
        pv_error_clear(err);
        rc = 0;
    }
    json_array_foreach(json_object_get(pools, "items"), i, p) {
        struct pv_pool_info pi = {
            .native_id = json_string_value(json_object_get(p, "uuid")),
            .name = json_string_value(json_object_get(p, "name")),
            .kind = json_string_value(json_object_get(p, "type")),
            .capacity_mb = json_integer_value(json_object_get(p, "capacity_mb")),
            .free_mb = json_integer_value(json_object_get(p, "available_mb")),
            .shared = json_is_true(json_object_get(p, "shared")),
            .nhosts = 1, .host_native_ids = hosts,
        };
        if (!rc && pi.native_id && s->pool)
            s->pool(s->ctx, &pi);
    }
    json_array_foreach(json_object_get(nets, "items"), i, p) {
        json_t *vlan = json_object_get(p, "vlan");
        struct pv_network_info ni = {
            .native_id = json_string_value(json_object_get(p, "native_id")),
            .name = json_string_value(json_object_get(p, "name")),
            .kind = json_string_value(json_object_get(p, "kind")),
            .vlan = json_is_integer(vlan) ? (int)json_integer_value(vlan) : -1,
            .nhosts = 1, .host_native_ids = hosts,
        };
        if (!rc && ni.native_id && s->network)
            s->network(s->ctx, &ni);
    }
    json_decref(pools);
    json_decref(nets);
    return rc;
}

/* ---- the ABI ------------------------------------------------------------ */

static void k_close(struct pv_conn *c);

static int k_open(const struct pv_conn_params *p, struct pv_conn **out, struct pv_error *err)
{
    struct pv_conn *c;
    char auth[4200];
    const char *headers[] = {auth, "Content-Type: application/json", NULL};
    struct pv_httpc_opts o = {
        .headers = headers, .insecure = p->insecure, .ca_pem = p->ca_pem, .ca_file = p->ca_file,
        .timeout_ms = p->timeout_ms, .retries = 2, .peer = "agent",
    };

    *out = NULL;
    if (!p->url || (strncmp(p->url, "http://", 7) != 0 && strncmp(p->url, "https://", 8) != 0) ||
        strlen(p->url) >= sizeof c->base)
        return pv_fail(err, invalid_url, "a kvm connection's url is https://HOST:PORT of its agent");
    if (!p->token || strlen(p->token) > 4096)
        return pv_fail(err, missing_token, "a kvm connection needs the agent's token");
    c = calloc(1, sizeof *c);
    if (!c)
        return pv_fail(err, out_of_memory, "out of memory");
    snprintf(c->base, sizeof c->base, "%s", p->url);
    if (c->base[strlen(c->base) - 1] == '/')
        c->base[strlen(c->base) - 1] = '\0';
    c->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 30000;
    c->known = json_object();
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", p->token);
    o.base_url = c->base;
    if (pv_httpc_new(&o, &c->http, err)) {
        memset(auth, 0, sizeof auth);
        k_close(c);
        return err->err;
    }
    memset(auth, 0, sizeof auth);
    /* a first call proves the address and the token */
    json_t *h = NULL;
    int rc = call(c, "GET", "/v1/host", NULL, c->timeout_ms, &h, err);
    if (!rc)
        set_host_id(c, h);
    json_decref(h);
    if (rc) {
        k_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

static void k_close(struct pv_conn *c)
{
    if (!c)
        return;
    pv_httpc_free(c->http);
    json_decref(c->known);
    free(c);
}

static int current_seq(struct pv_conn *c, struct pv_error *err)
{
    json_t *ev = NULL;
    int rc = call(c, "GET", "/v1/events?after=18446744073709551615&timeout_ms=0", NULL,
                  c->timeout_ms, &ev, err);
    if (!rc)
        c->seq = (unsigned long long)json_integer_value(json_object_get(ev, "seq"));
    json_decref(ev);
    return rc;
}

static int k_sync(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err)
{
    json_t *vms = NULL, *items, *v, *old = c->known;
    size_t i;
    const char *uuid;
    int rc;

    if ((rc = current_seq(c, err)) || (rc = call(c, "GET", "/v1/vms", NULL, c->timeout_ms, &vms, err)))
        return rc;
    items = json_object_get(vms, "items");
    rc = report_host(c, s, items, err);
    if (!rc)
        rc = report_storage(c, s, err);
    if (!rc) {
        c->known = json_object();
        json_array_foreach(items, i, v)
            report_vm(c, v, s);
        json_object_foreach(old, uuid, v)
            if (!json_object_get(c->known, uuid) && s->vm_gone)
                s->vm_gone(s->ctx, uuid);
        json_decref(old);
    }
    json_decref(vms);
    return rc;
}

static int k_refresh(struct pv_conn *c, const char *uuid, const struct pv_sink *s,
                     struct pv_error *err)
{
    char path[256];
    json_t *vm = NULL;
    int rc;

    snprintf(path, sizeof path, "/v1/vms/%s", uuid);
    rc = call(c, "GET", path, NULL, c->timeout_ms, &vm, err);
    if (rc == PV_ENOTFOUND) {
        if (s->vm_gone)
            s->vm_gone(s->ctx, uuid);
        json_object_del(c->known, uuid);
        return 0;
    }
    if (!rc)
        report_vm(c, vm, s);
    json_decref(vm);
    return rc;
}

static int k_watch(struct pv_conn *c, const struct pv_sink *s, int timeout_ms,
                   struct pv_error *err)
{
    char path[128];
    json_t *ev = NULL, *e, *vms = NULL;
    size_t i;
    int rc;

    snprintf(path, sizeof path, "/v1/events?after=%llu&timeout_ms=%d", c->seq, timeout_ms);
    rc = call(c, "GET", path, NULL, timeout_ms + WATCH_GRACE_MS, &ev, err);
    if (rc)
        return rc;
    if (json_is_true(json_object_get(ev, "reset"))) {
        json_decref(ev);
        return k_sync(c, s, err); /* events were lost: read everything again */
    }
    json_array_foreach(json_object_get(ev, "events"), i, e) {
        const char *uuid = json_string_value(json_object_get(e, "uuid"));
        if (!uuid)
            continue;
        if (strcmp(json_string_value(json_object_get(e, "event")), "undefined") == 0) {
            if (s->vm_gone)
                s->vm_gone(s->ctx, uuid);
            json_object_del(c->known, uuid);
        } else if ((rc = k_refresh(c, uuid, s, err))) {
            break;
        }
    }
    if (!rc && json_array_size(json_object_get(ev, "events")) &&
        !(rc = call(c, "GET", "/v1/vms", NULL, c->timeout_ms, &vms, err)))
        rc = report_host(c, s, json_object_get(vms, "items"), err); /* memory use moved */
    if (!rc && json_array_size(json_object_get(ev, "events")))
        rc = report_storage(c, s, err); /* a disk made or removed: pools' free space */
    if (!rc)
        c->seq = (unsigned long long)json_integer_value(json_object_get(ev, "seq"));
    json_decref(vms);
    json_decref(ev);
    return rc;
}

static const char *action_name(enum pv_vm_action a)
{
    static const char *const names[] = {"start", "shutdown", "poweroff", "reboot",
                                        "pause", "resume", "save", "delete"};
    return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "unknown";
}

static int k_action(struct pv_conn *c, const char *uuid, enum pv_vm_action a,
                    const struct pv_sink *s, struct pv_error *err)
{
    char path[256];
    json_t *vm = NULL;
    int rc;

    if (a == PV_ACT_DELETE || a == PV_ACT_DELETE_WITH_DISKS) {
        snprintf(path, sizeof path, "/v1/vms/%s%s", uuid, a == PV_ACT_DELETE ? "" : "?disks=true");
        rc = call(c, "DELETE", path, NULL, c->timeout_ms, NULL, err);
        if (!rc && s->vm_gone)
            s->vm_gone(s->ctx, uuid);
        return rc;
    }
    snprintf(path, sizeof path, "/v1/vms/%s/%s", uuid, action_name(a));
    if (s->progress)
        s->progress(s->ctx, 10, action_name(a));
    rc = call(c, "POST", path, NULL, c->timeout_ms, &vm, err);
    if (!rc)
        report_vm(c, vm, s);
    json_decref(vm);
    return rc;
}

static int k_create(struct pv_conn *c, const char *host, const struct pv_vm_spec *spec,
                    const struct pv_sink *s, char **native_id, struct pv_error *err)
{
    json_t *body, *vm = NULL;
    int rc;

    *native_id = NULL;
    if (host && strcmp(host, c->host_id) != 0 && c->host_id[0])
        return pv_fail(err, host_not_found, "agent %s serves host %s, not %s",
                            c->base, c->host_id, host);
    body = json_pack("{s:s,s:i,s:I,s:b}", "name", spec->name, "vcpus", spec->vcpus, "memory_mb",
                     (json_int_t)spec->memory_mb, "paravirtual", spec->paravirtual != 0);
    if (spec->uuid)
        json_object_set_new(body, "uuid", json_string(spec->uuid));
    if (spec->disks_json && strcmp(spec->disks_json, "null") != 0)
        json_object_set_new(body, "disks", json_loads(spec->disks_json, JSON_DECODE_ANY, NULL));
    if (spec->nics_json && strcmp(spec->nics_json, "null") != 0)
        json_object_set_new(body, "nics", json_loads(spec->nics_json, JSON_DECODE_ANY, NULL));
    rc = call(c, "POST", "/v1/vms", body, c->timeout_ms, &vm, err);
    json_decref(body);
    if (!rc) {
        report_vm(c, vm, s);
        *native_id = strdup(json_string_value(json_object_get(vm, "uuid")));
    }
    json_decref(vm);
    return rc;
}

/* Storage migration: the agent moves the disk on a thread of its own
 * (hypervisor/virt_disk_move.c); its progress goes into the job until it
 * ends, and then the VM is read again. */
static int move_disk(struct pv_conn *c, const char *uuid, const char *dev, const char *pool,
                     const struct pv_sink *s, struct pv_device_result *out, struct pv_error *err)
{
    char path[512];
    json_t *body = json_pack("{s:s}", "pool", pool), *st = NULL;
    /* 50 ms: the job ends soon after the pivot (a 250 ms tick cost a 1 GiB
     * move 10 % against virsh blockcopy in make bench); one small GET each */
    const struct timespec tick = {0, 50000000L};
    int rc, cancelled = 0;

    snprintf(path, sizeof path, "/v1/vms/%s/disks/%s/move", uuid, dev);
    rc = call(c, "POST", path, body, c->timeout_ms, &st, err);
    json_decref(body);
    while (!rc) {
        const char *state = json_string_value(json_object_get(st, "state"));
        if (state && strcmp(state, "running") != 0)
            break;
        if (!cancelled && s->cancelled && s->cancelled(s->ctx)) { /* passed on once */
            char cpath[600];
            snprintf(cpath, sizeof cpath, "%s/cancel", path);
            cancelled = 1;
            if (call(c, "POST", cpath, NULL, c->timeout_ms, NULL, err))
                pv_error_clear(err); /* the move ends either way; its state says how */
        }
        if (s->progress)
            s->progress(s->ctx, (int)json_integer_value(json_object_get(st, "percent")),
                        "copying the disk");
        nanosleep(&tick, NULL);
        json_decref(st);
        rc = call(c, "GET", path, NULL, c->timeout_ms, &st, err);
    }
    if (!rc && strcmp(json_string_value(json_object_get(st, "state")), "succeeded") != 0) {
        json_t *e = json_object_get(st, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        rc = pv_fail_named(err, code ? code : pv_code_str(agent_error), "%s",
                           msg ? msg : "the move failed");
    }
    if (!rc) {
        const char *note = json_string_value(json_object_get(st, "note"));
        snprintf(out->key, sizeof out->key, "%s", dev);
        snprintf(out->note, sizeof out->note, "%s", note ? note : "");
        out->live = json_is_true(json_object_get(st, "live"));
        k_refresh(c, uuid, s, err);
        {
            struct pv_error ignored = {0}; /* the move is made; the next sync tells */
            report_storage(c, s, &ignored);
        }
    }
    json_decref(st);
    return rc;
}

/* A device change: the agent's /v1/vms/{uuid}/disks and /nics routes
 * (hypervisor/virt_devices.c), which answer with the VM as it is after. */
static int k_device(struct pv_conn *c, const char *uuid, const struct pv_device_change *ch,
                    const struct pv_sink *s, struct pv_device_result *out, struct pv_error *err)
{
    static const char *const ops[] = {"add", "remove", "resize", "connect", "move"};
    const char *kind = ch->kind == PV_DEV_NIC ? "nics" : "disks", *method = "POST";
    const char *key = ch->device_key;
    char path[512];
    json_t *body = NULL, *res = NULL;
    int rc;

    memset(out, 0, sizeof *out);
    if (ch->op != PV_DEV_ADD &&
        (!key || !*key || strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:._-") !=
                              strlen(key) || strlen(key) > 64))
        return ch->kind == PV_DEV_NIC ? pv_fail(err, nic_not_found, "no NIC '%.64s' here", key ? key : "")
                                      : pv_fail(err, disk_not_found, "no disk '%.64s' here", key ? key : "");
    switch (ch->op) {
    case PV_DEV_ADD:
        snprintf(path, sizeof path, "/v1/vms/%s/%s", uuid, kind);
        break;
    case PV_DEV_REMOVE:
        method = "DELETE";
        snprintf(path, sizeof path, "/v1/vms/%s/%s/%s", uuid, kind, key);
        break;
    case PV_DEV_RESIZE:
        snprintf(path, sizeof path, "/v1/vms/%s/%s/%s/resize", uuid, kind, key);
        break;
    case PV_DEV_CONNECT:
        method = "PATCH";
        snprintf(path, sizeof path, "/v1/vms/%s/%s/%s", uuid, kind, key);
        break;
    case PV_DEV_MOVE:
        if (ch->kind != PV_DEV_DISK || !ch->pool)
            return pv_fail(err, invalid_argument, "a move is of a disk, to a named pool");
        return move_disk(c, uuid, key, ch->pool, s, out, err);
    default:
        return pv_fail(err, invalid_argument, "no device change %d", (int)ch->op);
    }
    if (ch->kind == PV_DEV_DISK && (ch->op == PV_DEV_ADD || ch->op == PV_DEV_RESIZE)) {
        body = json_pack("{s:I}", "size_gb", (json_int_t)ch->size_gb);
        if (ch->op == PV_DEV_ADD && ch->pool)
            json_object_set_new(body, "pool", json_string(ch->pool));
    } else if (ch->kind == PV_DEV_NIC && (ch->op == PV_DEV_ADD || ch->op == PV_DEV_CONNECT)) {
        if (!ch->network)
            return pv_fail(err, unknown_network, "a NIC needs a network");
        body = json_pack("{s:s}", ch->network_kind && strcmp(ch->network_kind, "bridge") == 0
                                      ? "bridge" : "network", ch->network);
    }
    if (s->progress)
        s->progress(s->ctx, 10, ops[ch->op]);
    rc = call(c, method, path, body, c->timeout_ms + 30000, &res, err);
    json_decref(body);
    if (!rc) {
        const char *k = json_string_value(json_object_get(res, "key"));
        const char *note = json_string_value(json_object_get(res, "note"));
        snprintf(out->key, sizeof out->key, "%s", k ? k : ch->device_key ? ch->device_key : "");
        out->live = json_is_true(json_object_get(res, "live"));
        snprintf(out->note, sizeof out->note, "%s", note ? note : "");
        report_vm(c, json_object_get(res, "vm"), s);
        if (ch->kind == PV_DEV_DISK) {
            struct pv_error ignored = {0}; /* the change is made; the next sync tells */
            report_storage(c, s, &ignored); /* the pool's free space changed */
        }
    }
    json_decref(res);
    return rc;
}

/* Snapshots: the agent's /v1/vms/{uuid}/snapshots routes
 * (hypervisor/virt_snapshots.c) read the tree live from libvirt; a key
 * (the libvirt snapshot's name) travels in the body, never in the path. */
static int k_snapshots(struct pv_conn *c, const char *uuid, char **json, struct pv_error *err)
{
    char path[512];
    json_t *res = NULL;
    int rc;

    *json = NULL;
    snprintf(path, sizeof path, "/v1/vms/%s/snapshots", uuid);
    rc = call(c, "GET", path, NULL, c->timeout_ms, &res, err);
    if (!rc && !(*json = json_dumps(json_object_get(res, "items"), JSON_COMPACT)))
        rc = pv_fail(err, agent_error, "the agent's snapshot list is not a list");
    json_decref(res);
    return rc;
}

static int k_snapshot(struct pv_conn *c, const char *uuid, const struct pv_snapshot_change *ch,
                      const struct pv_sink *s, char *key_out, size_t key_size,
                      struct pv_error *err)
{
    static const char *const tails[] = {"", "/revert", "/delete"};
    static const char *const steps[] = {"taking the snapshot", "reverting", "deleting"};
    char path[512];
    json_t *body, *res = NULL;
    int rc;

    if ((unsigned)ch->op > PV_SNAP_DELETE)
        return pv_fail(err, invalid_argument, "no snapshot change %d", (int)ch->op);
    if (ch->op == PV_SNAP_CREATE) {
        body = json_pack("{s:s,s:b}", "name", ch->name ? ch->name : "", "memory",
                         ch->with_memory != 0);
        if (ch->description)
            json_object_set_new(body, "description", json_string(ch->description));
    } else {
        body = json_pack("{s:s,s:b}", "key", ch->key ? ch->key : "", "children", ch->children != 0);
    }
    snprintf(path, sizeof path, "/v1/vms/%s/snapshots%s", uuid, tails[ch->op]);
    if (s->progress)
        s->progress(s->ctx, 10, steps[ch->op]);
    /* a snapshot with memory writes the guest's RAM into its disk */
    rc = call(c, "POST", path, body, c->timeout_ms + 300000, &res, err);
    json_decref(body);
    if (!rc) {
        const char *k = json_string_value(json_object_get(res, "key"));
        if (key_out && key_size)
            snprintf(key_out, key_size, "%s", k ? k : "");
        report_vm(c, json_object_get(res, "vm"), s);
    }
    json_decref(res);
    return rc;
}

/* "qemu+tcp://10.99.0.2/system" -> "tcp://10.99.0.2": where the memory goes. */
static int data_uri_of(const char *mig, char *out, size_t size)
{
    const char *host = strstr(mig, "://"), *end, *at;
    size_t n;

    if (!host)
        return -1;
    host += 3;
    end = host + strcspn(host, "/?");
    at = memchr(host, '@', (size_t)(end - host));
    if (at)
        host = at + 1;
    if (*host == '[') { /* [v6]:port */
        const char *close = memchr(host, ']', (size_t)(end - host));
        if (!close)
            return -1;
        end = close + 1;
    } else {
        const char *colon = memchr(host, ':', (size_t)(end - host));
        if (colon)
            end = colon;
    }
    n = (size_t)(end - host);
    if (n == 0 || n + 7 >= size)
        return -1;
    snprintf(out, size, "tcp://%.*s", (int)n, host);
    return 0;
}

/* Copy one file from an agent to another through a temporary file here:
 * GET from_path on `from`, POST it to to_path on `to`.  Answers other than
 * 2xx are errors. */
static int copy_file(struct pv_conn *from, const char *from_path, struct pv_conn *to,
                     const char *to_path, struct pv_error *err)
{
    FILE *f = tmpfile();
    long status = 0;
    int rc;

    if (!f)
        return pv_fail(err, tmpfile, "no temporary file for the copy");
    rc = pv_httpc_transfer(from->http, from_path, NULL, 0, f, &status, err);
    if (!rc && (status < 200 || status >= 300))
        rc = pv_fail(err, copy_failed, "copying the VM's state: HTTP %ld from %s%s", status,
                     from->base, from_path);
    if (!rc) {
        int64_t size = ftell(f);
        rewind(f);
        rc = pv_httpc_transfer(to->http, to_path, f, size, NULL, &status, err);
        if (!rc && (status < 200 || status >= 300))
            rc = pv_fail(err, copy_failed, "copying the VM's state: HTTP %ld from %s%s", status,
                         to->base, to_path);
    }
    fclose(f);
    return rc;
}

/* Quick migration: save on the source; copy its disks and its state file to
 * the destination; define and restore there; undefine the source (which
 * then deletes its disks).  Any failure before that last step drops what
 * the destination received and restores the VM on the source. */
static int quick_migrate(struct pv_conn *from, const char *uuid, struct pv_conn *to,
                         const struct pv_sink *s, struct pv_error *err)
{
    char path[256], dst[1200];
    json_t *ex = NULL, *req = NULL, *vm = NULL, *sent = json_array(), *disk;
    size_t i, ndisks;
    int rc, state;

    if (s->progress)
        s->progress(s->ctx, 5, "saving");
    snprintf(path, sizeof path, "/v1/vms/%s/export", uuid);
    rc = call(from, "POST", path, NULL, 600000, &ex, err);
    if (rc)
        goto out;
    state = json_is_true(json_object_get(ex, "state"));
    ndisks = json_array_size(json_object_get(ex, "disks"));
    json_array_foreach(json_object_get(ex, "disks"), i, disk) {
        const char *dpath = json_string_value(json_object_get(disk, "path"));
        char *esc = dpath ? pv_httpc_escape(dpath) : NULL;
        char detail[64];
        snprintf(detail, sizeof detail, "copying disk %zu of %zu", i + 1, ndisks);
        if (s->progress)
            s->progress(s->ctx, 10 + (int)(50 * i / (ndisks ? ndisks : 1)), detail);
        snprintf(path, sizeof path, "/v1/vms/%s/export/disk/%zu", uuid, i);
        snprintf(dst, sizeof dst, "/v1/imports/%s/disk?path=%s", uuid, esc ? esc : "");
        free(esc);
        rc = copy_file(from, path, to, dst, err);
        if (rc)
            break;
        json_array_append(sent, json_object_get(disk, "path"));
    }
    if (!rc && state) {
        if (s->progress)
            s->progress(s->ctx, 60, "copying the running state");
        snprintf(path, sizeof path, "/v1/vms/%s/export/state", uuid);
        snprintf(dst, sizeof dst, "/v1/imports/%s/state", uuid);
        rc = copy_file(from, path, to, dst, err);
    }
    if (!rc && s->cancelled && s->cancelled(s->ctx))
        rc = pv_fail(err, cancelled, "cancelled; the VM stays on the source");
    if (!rc) {
        if (s->progress)
            s->progress(s->ctx, 80, "restoring");
        req = json_pack("{s:O,s:b,s:O}", "xml", json_object_get(ex, "xml"), "state", state, "disks",
                        sent);
        snprintf(path, sizeof path, "/v1/imports/%s", uuid);
        rc = call(to, "POST", path, req, 600000, &vm, err);
    }
    if (rc) { /* back where it was: the destination drops, the source restores */
        json_t *abort_req = json_pack("{s:O}", "disks", sent);
        snprintf(path, sizeof path, "/v1/imports/%s/abort", uuid);
        call(to, "POST", path, abort_req, to->timeout_ms, NULL, NULL);
        json_decref(abort_req);
        snprintf(path, sizeof path, "/v1/vms/%s/export/undo", uuid);
        call(from, "POST", path, NULL, 600000, NULL, NULL);
        goto out;
    }
    snprintf(path, sizeof path, "/v1/vms/%s/export/done", uuid);
    if (call(from, "POST", path, NULL, from->timeout_ms, NULL, NULL) == 0 && s->progress)
        s->progress(s->ctx, 100, "moved");
    report_vm(to, vm, s);
out:
    json_decref(sent);
    json_decref(vm);
    json_decref(req);
    json_decref(ex);
    return rc;
}

/* A migration without shared storage, before it starts: the destination
 * agent pre-creates in pool a volume like each of the VM's local volumes
 * (libvirt copies into files that must exist); *copies gets the source
 * agent's copy_disks, *made the names to remove again should it fail.
 * Nothing to copy (a diskless VM) leaves both NULL. */
static int precreate(struct pv_conn *from, const char *uuid, struct pv_conn *to, const char *pool,
                     json_t **copies, json_t **made, struct pv_error *err)
{
    json_t *vols = NULL, *res = NULL, *req, *v;
    char path[256];
    size_t i;
    int rc;

    *copies = *made = NULL;
    snprintf(path, sizeof path, "/v1/vms/%s/migration/volumes", uuid);
    rc = call(from, "GET", path, NULL, from->timeout_ms, &vols, err);
    if (rc || !json_array_size(json_object_get(vols, "volumes"))) {
        json_decref(vols);
        return rc;
    }
    req = json_pack("{s:s,s:O}", "pool", pool, "volumes", json_object_get(vols, "volumes"));
    rc = call(to, "POST", "/v1/migration/volumes", req, to->timeout_ms, &res, err);
    json_decref(req);
    json_decref(vols);
    if (rc)
        return rc;
    *copies = json_array();
    *made = json_array();
    json_array_foreach(json_object_get(res, "volumes"), i, v) {
        json_array_append_new(*copies, json_pack("{s:O,s:O}", "dev", json_object_get(v, "dev"), "path",
                                                 json_object_get(v, "path")));
        json_array_append(*made, json_object_get(v, "name"));
    }
    json_decref(res);
    return 0;
}

static void precreated_remove(struct pv_conn *to, const char *pool, json_t *made)
{
    json_t *req;

    if (!json_array_size(made))
        return;
    req = json_pack("{s:s,s:O}", "pool", pool, "names", made);
    call(to, "POST", "/v1/migration/volumes/remove", req, to->timeout_ms, NULL, NULL);
    json_decref(req);
}

/* After the move: the volumes the destination made are the VM's (deleted with
 * its disks).  Best effort: the VM runs there either way. */
static void precreated_keep(struct pv_conn *to, const char *uuid, const char *pool, json_t *made)
{
    json_t *req;

    if (!json_array_size(made))
        return;
    req = json_pack("{s:s,s:s,s:O}", "uuid", uuid, "pool", pool, "names", made);
    call(to, "POST", "/v1/migration/volumes/keep", req, to->timeout_ms, NULL, NULL);
    json_decref(req);
}

static int k_migrate(struct pv_conn *from, const char *uuid, struct pv_conn *to, const char *host,
                     const struct pv_migrate_opts *opts, const struct pv_sink *s,
                     struct pv_error *err)
{
    json_t *dest = NULL, *req, *st = NULL, *copies = NULL, *made = NULL;
    const char *mig;
    char data_uri[300], path[256];
    int rc, cancelled = 0, failed = 0;

    (void)host; /* one agent is one host: the destination is `to` */
    if (!to || to == from || strcmp(to->base, from->base) == 0)
        return pv_fail(err, same_host, "the VM is already on that host");
    if (opts->mode == PV_MIGRATE_QUICK)
        return quick_migrate(from, uuid, to, s, err);
    rc = call(to, "GET", "/v1/host", NULL, to->timeout_ms, &dest, err);
    if (rc)
        return rc;
    mig = json_string_value(json_object_get(dest, "migration_uri"));
    if (!mig || data_uri_of(mig, data_uri, sizeof data_uri) != 0) {
        json_decref(dest);
        return pv_fail(err, no_migration_uri,
                            "the destination agent %s has no usable --migration-uri", to->base);
    }
    if (opts->pool && (rc = precreate(from, uuid, to, opts->pool, &copies, &made, err))) {
        json_decref(dest);
        return rc;
    }
    if (copies && s->progress)
        s->progress(s->ctx, 1, "copying disks to storage pool of the destination");
    req = json_pack("{s:s,s:s,s:i,s:i,s:o*}", "dest_uri", mig, "data_uri", data_uri,
                    "max_downtime_ms", opts->max_downtime_ms > 0 ? opts->max_downtime_ms : 300,
                    "stall_s", copies ? 120 : 30, "copy_disks", copies);
    json_decref(dest);
    snprintf(path, sizeof path, "/v1/vms/%s/migrate", uuid);
    rc = call(from, "POST", path, req, from->timeout_ms, NULL, err);
    json_decref(req);
    if (rc) {
        precreated_remove(to, opts->pool, made);
        json_decref(made);
        return rc;
    }
    snprintf(path, sizeof path, "/v1/vms/%s/migration", uuid);
    for (;;) {
        const char *state;
        json_decref(st);
        st = NULL;
        usleep(200000);
        if ((rc = call(from, "GET", path, NULL, from->timeout_ms, &st, err)))
            break;
        state = json_string_value(json_object_get(st, "state"));
        if (!state || strcmp(state, "running") != 0)
            break;
        if (s->progress) {
            double done = (double)json_integer_value(json_object_get(st, "data_processed"));
            double left = (double)json_integer_value(json_object_get(st, "data_remaining"));
            char detail[96];
            snprintf(detail, sizeof detail, "migrated %.0f MiB, %.0f MiB left", done / 1048576,
                     left / 1048576);
            s->progress(s->ctx, done + left > 0 ? (int)(95 * done / (done + left)) : 5, detail);
        }
        if (!cancelled && s->cancelled && s->cancelled(s->ctx)) {
            char cpath[300];
            snprintf(cpath, sizeof cpath, "%s/cancel", path);
            call(from, "POST", cpath, NULL, from->timeout_ms, NULL, NULL);
            cancelled = 1;
        }
    }
    if (!rc) {
        json_t *e = json_object_get(st, "error");
        const char *state = json_string_value(json_object_get(st, "state"));
        if (state && strcmp(state, "succeeded") == 0) {
            precreated_keep(to, uuid, opts->pool, made);
            if (s->progress)
                s->progress(s->ctx, 100, "migrated");
            rc = k_refresh(to, uuid, s, err);
        } else {
            failed = 1; /* the source agent says so: the VM stays there */
            rc = pv_fail_named(err, json_string_value(json_object_get(e, "code"))
                                        ? json_string_value(json_object_get(e, "code"))
                                        : state && strcmp(state, "cancelled") == 0 ? pv_code_str(cancelled)
                                                                                   : pv_code_str(migration_failed),
                              "%s", json_string_value(json_object_get(e, "message"))
                                        ? json_string_value(json_object_get(e, "message"))
                                        : "the migration did not complete");
        }
    }
    if (failed) /* the copies the destination made go again */
        precreated_remove(to, opts->pool, made);
    json_decref(made);
    json_decref(st);
    return rc;
}

/* The HA witness: this host's agent checks whether the other host's libvirt
 * answers on its migration URI (hypervisor/probe.c). */
static int k_probe(struct pv_conn *c, const char *target_facts_json, int timeout_ms, int *alive,
                   char *detail, size_t detail_size, struct pv_error *err)
{
    json_t *facts = target_facts_json ? json_loads(target_facts_json, 0, NULL) : NULL;
    const char *mig = json_string_value(json_object_get(facts, "migration_uri"));
    json_t *req, *out = NULL;
    int rc;

    if (!mig) {
        json_decref(facts);
        return pv_fail(err, cannot_probe,
                            "the host has no migration URI to probe it by");
    }
    req = json_pack("{s:s,s:s?,s:i}", "uri", mig, "host_uuid",
                    json_string_value(json_object_get(facts, "uuid")), "timeout_ms", timeout_ms);
    json_decref(facts);
    rc = call(c, "POST", "/v1/probe", req, timeout_ms + c->timeout_ms, &out, err);
    json_decref(req);
    if (!rc) {
        const char *seen = json_string_value(json_object_get(out, "detail"));
        *alive = json_is_true(json_object_get(out, "alive"));
        snprintf(detail, detail_size, "%s", seen ? seen : "");
    }
    json_decref(out);
    return rc;
}

static const struct pv_adapter kvm_adapter = {
    .abi = PV_ADAPTER_ABI,
    .name = "kvm",
    .version = "0.1",
    .caps = PV_CAP_SYNC | PV_CAP_EVENTS | PV_CAP_CREATE | PV_CAP_DELETE | PV_CAP_POWER |
            PV_CAP_SHUTDOWN | PV_CAP_PAUSE | PV_CAP_SAVE | PV_CAP_STATS | PV_CAP_LIVE_MIGRATE |
            PV_CAP_QUICK_MIGRATE | PV_CAP_PROBE | PV_CAP_HA_RESTART | PV_CAP_DEVICES |
            PV_CAP_SNAPSHOTS,
    .title = "KVM (Polyvisor agent)",
    .credentials = PV_CRED_TOKEN,
    .open = k_open,
    .close = k_close,
    .sync = k_sync,
    .watch = k_watch,
    .vm_create = k_create,
    .vm_action = k_action,
    .vm_refresh = k_refresh,
    .vm_migrate = k_migrate,
    .host_probe = k_probe,
    .vm_device = k_device,
    .vm_snapshots = k_snapshots,
    .vm_snapshot = k_snapshot,
};

const struct pv_adapter *pv_adapter_entry(void)
{
    return &kvm_adapter;
}
