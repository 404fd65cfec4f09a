/* virt.c -- the agent's libvirt side: host facts, domains, define from a
 * JSON spec, lifecycle actions, and lifecycle events (see agent.h).  Live
 * migration is virt_migrate.c's, quick migration virt_move.c's; what the
 * three share is in virt.h.
 *
 * Decisions a newcomer must know:
 *   - One virConnect for the process; libvirt's connection is thread-safe,
 *     so HTTP threads call it directly.  libvirt's default event loop runs
 *     on its own thread; lifecycle callbacks append to a ring of events that
 *     HTTP long-polls read (events_lock guards the ring).
 *   - Domain XML is written with libxml2's xmlTextWriter and read with
 *     XPath; no XML is ever pasted together from strings.
 *   - Refusals use the same stable codes as every Polyvisor adapter
 *     (already_running, not_running, vm_running, name_in_use ...), checked
 *     against the domain's state before libvirt is asked, so the operator
 *     sees one vocabulary whatever the hypervisor.
 *   - A define that fails removes what it created (volumes), so a bad spec
 *     never leaves a half-defined VM behind.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <libxml/xpath.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "../lib/stamp.h"
#include "agent.h"
#include "spec.h"
#include "virt.h"

#define RING 1024

struct event {
    unsigned long long seq;
    char uuid[VIR_UUID_STRING_BUFLEN];
    const char *name;
};

/* Start-up state, written by ag_virt_open before the HTTP threads start. */
static virConnectPtr conn;  /* ag_virt_conn() */
static char *migration_uri;
static int is_test_driver;
static pthread_t loop_thread;
static volatile int loop_stop;
static int callback_id = -1;

static pthread_mutex_t events_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t events_cond = PTHREAD_COND_INITIALIZER;
/* guarded by events_lock: */
static struct event ring[RING];
static unsigned long long last_seq;

/* ---- errors ------------------------------------------------------------- */

static void quiet(void *ud, virErrorPtr e)
{
    (void)ud;
    (void)e; /* errors are reported through pv_error, not printed */
}

int ag_virt_error(struct pv_error *err, const char *what)
{
    virErrorPtr e = virGetLastError();
    const char *msg = e && e->message ? e->message : "unknown libvirt error";
    int code = e ? e->code : 0;

    switch (code) {
    case VIR_ERR_NO_DOMAIN:
        return pv_fail(err, vm_not_found, "%s: %s", what, msg);
    case VIR_ERR_NO_NETWORK:
        return pv_fail(err, unknown_network, "%s: %s", what, msg);
    case VIR_ERR_NO_STORAGE_POOL:
        return pv_fail(err, unknown_pool, "%s: %s", what, msg);
    case VIR_ERR_OPERATION_INVALID:
        return pv_fail(err, invalid_state, "%s: %s", what, msg);
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED:
        return pv_fail(err, unsupported_by_backend, "%s: %s", what, msg);
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_CONFIG_UNSUPPORTED:
        return pv_fail(err, invalid_spec, "%s: %s", what, msg);
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
        return pv_fail(err, libvirt_unreachable, "%s: %s", what, msg);
    default:
        return pv_fail(err, libvirt_error, "%s: %s", what, msg);
    }
}

/* ---- events ------------------------------------------------------------- */

static const char *event_name(int ev)
{
    static const char *const names[] = {"defined", "undefined", "started", "suspended",
                                        "resumed", "stopped", "shutdown", "pmsuspended",
                                        "crashed"};
    return ev >= 0 && ev < (int)(sizeof names / sizeof names[0]) ? names[ev] : "changed";
}

static int on_lifecycle(virConnectPtr c, virDomainPtr dom, int ev, int detail, void *opaque)
{
    struct event *e;
    (void)c;
    (void)detail;
    (void)opaque;
    pthread_mutex_lock(&events_lock);
    last_seq++;
    e = &ring[last_seq % RING];
    e->seq = last_seq;
    virDomainGetUUIDString(dom, e->uuid);
    e->name = event_name(ev);
    pthread_cond_broadcast(&events_cond);
    pthread_mutex_unlock(&events_lock);
    return 0;
}

static void wake(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
}

static void *event_loop(void *arg)
{
    (void)arg;
    while (!loop_stop)
        if (virEventRunDefaultImpl() < 0)
            break;
    return NULL;
}

void ag_deadline(struct timespec *ts, int timeout_ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += timeout_ms / 1000;
    ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int ag_virt_events(unsigned long long after, int timeout_ms, json_t **out)
{
    struct timespec until;
    json_t *list = json_array();
    int reset = 0;

    ag_deadline(&until, timeout_ms);
    pthread_mutex_lock(&events_lock);
    while (last_seq <= after && after <= last_seq)
        if (pthread_cond_timedwait(&events_cond, &events_lock, &until) != 0)
            break;
    if (after > last_seq || (last_seq > RING && after < last_seq - RING))
        reset = 1; /* a sequence from another agent run, or too far behind */
    else
        for (unsigned long long s = after + 1; s <= last_seq; s++)
            json_array_append_new(list, json_pack("{s:I,s:s,s:s}", "seq", (json_int_t)s, "uuid",
                                                  ring[s % RING].uuid, "event", ring[s % RING].name));
    *out = json_pack("{s:I,s:o,s:b}", "seq", (json_int_t)last_seq, "events", list, "reset", reset);
    pthread_mutex_unlock(&events_lock);
    return 0;
}

virConnectPtr ag_virt_conn(void)
{
    return conn;
}

/* ---- open / close ------------------------------------------------------- */

int ag_virt_open(const char *uri, const char *mig_uri, struct pv_error *err)
{
    virSetErrorFunc(NULL, quiet);
    if (virEventRegisterDefaultImpl() < 0)
        return ag_virt_error(err, "libvirt event loop");
    conn = virConnectOpen(uri);
    if (!conn)
        return pv_fail(err, libvirt_unreachable, "cannot open %s: %s",
                            uri, virGetLastErrorMessage());
    is_test_driver = strncmp(uri, "test:", 5) == 0;
    migration_uri = mig_uri ? strdup(mig_uri) : NULL;
    callback_id = virConnectDomainEventRegisterAny(conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                   VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL,
                                                   NULL);
    virEventAddTimeout(500, wake, NULL, NULL); /* lets the loop notice loop_stop */
    if (pthread_create(&loop_thread, NULL, event_loop, NULL) != 0)
        return pv_fail(err, thread_failed, "cannot start the event loop");
    return 0;
}

void ag_virt_close(void)
{
    loop_stop = 1;
    pthread_join(loop_thread, NULL);
    if (callback_id >= 0)
        virConnectDomainEventDeregisterAny(conn, callback_id);
    virConnectClose(conn);
    conn = NULL;
    free(migration_uri);
}

/* ---- XML helpers -------------------------------------------------------- */

static xmlXPathObjectPtr xpath(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr r = ctx ? xmlXPathEvalExpression((const xmlChar *)expr, ctx) : NULL;
    xmlXPathFreeContext(ctx);
    return r;
}

char *ag_virt_xpath_string(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr r = ctx ? xmlXPathEvalExpression((const xmlChar *)expr, ctx) : NULL;
    char *s = NULL;
    if (r && r->type == XPATH_STRING && r->stringval && r->stringval[0])
        s = strdup((const char *)r->stringval);
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    return s;
}

char *ag_caps_host_uuid(const char *caps)
{
    xmlDocPtr doc = caps ? xmlReadMemory(caps, (int)strlen(caps), "caps.xml", NULL, XML_PARSE_NONET)
                         : NULL;
    char *uuid = doc ? ag_virt_xpath_string(doc, "string(/capabilities/host/uuid)") : NULL;

    xmlFreeDoc(doc);
    return uuid;
}

static json_t *attr_json(xmlNodePtr n, const char *child, const char *attr)
{
    for (xmlNodePtr c = n->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, child) == 0) {
            xmlChar *v = xmlGetProp(c, (const xmlChar *)attr);
            json_t *j = v ? json_string((const char *)v) : NULL;
            xmlFree(v);
            if (j)
                return j;
        }
    return json_null();
}

/* ---- host --------------------------------------------------------------- */

int ag_virt_host(json_t **out, struct pv_error *err)
{
    virNodeInfo ni;
    unsigned long long mem_total = 0, mem_free = 0;
    unsigned long libver = 0, hvver = 0;
    int nparams = 0;
    char *caps, *host_uuid = NULL, *hostname;
    int kvm = 0;
    double cpu_pct = 0;
    xmlDocPtr doc;

    if (virNodeGetInfo(conn, &ni) < 0)
        return ag_virt_error(err, "node info");
    /* nodeinfo reports NUMA node 0 only on some hosts: prefer memory stats */
    if (virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, NULL, &nparams, 0) == 0 &&
        nparams > 0) {
        virNodeMemoryStatsPtr ms = calloc((size_t)nparams, sizeof *ms);
        if (ms && virNodeGetMemoryStats(conn, VIR_NODE_MEMORY_STATS_ALL_CELLS, ms, &nparams, 0) == 0)
            for (int i = 0; i < nparams; i++) {
                if (strcmp(ms[i].field, VIR_NODE_MEMORY_STATS_TOTAL) == 0)
                    mem_total = ms[i].value;
                else if (strcmp(ms[i].field, VIR_NODE_MEMORY_STATS_FREE) == 0)
                    mem_free = ms[i].value;
            }
        free(ms);
    }
    virResetLastError();
    if (!mem_total) {
        mem_total = ni.memory;
        mem_free = 0;
    }
    /* CPU use: two samples of the node's cumulative CPU times, 100 ms apart */
    nparams = 0;
    if (virNodeGetCPUStats(conn, VIR_NODE_CPU_STATS_ALL_CPUS, NULL, &nparams, 0) == 0 && nparams > 0) {
        virNodeCPUStatsPtr a = calloc((size_t)nparams, sizeof *a), b = calloc((size_t)nparams, sizeof *b);
        int na = nparams, nb = nparams;
        if (a && b && virNodeGetCPUStats(conn, VIR_NODE_CPU_STATS_ALL_CPUS, a, &na, 0) == 0) {
            struct timespec ts = {0, 100000000L};
            nanosleep(&ts, NULL);
            if (virNodeGetCPUStats(conn, VIR_NODE_CPU_STATS_ALL_CPUS, b, &nb, 0) == 0) {
                unsigned long long busy = 0, total = 0;
                for (int i = 0; i < na && i < nb; i++) {
                    unsigned long long d = b[i].value - a[i].value;
                    if (strcmp(a[i].field, VIR_NODE_CPU_STATS_IDLE) != 0 &&
                        strcmp(a[i].field, VIR_NODE_CPU_STATS_IOWAIT) != 0)
                        busy += d;
                    if (strcmp(a[i].field, VIR_NODE_CPU_STATS_UTILIZATION) != 0)
                        total += d;
                }
                cpu_pct = total ? 100.0 * (double)busy / (double)total : 0;
            }
        }
        free(a);
        free(b);
    }
    virResetLastError();
    virConnectGetLibVersion(conn, &libver);
    virConnectGetVersion(conn, &hvver);
    caps = virConnectGetCapabilities(conn);
    if (caps && (doc = xmlReadMemory(caps, (int)strlen(caps), "caps.xml", NULL, XML_PARSE_NONET))) {
        host_uuid = ag_virt_xpath_string(doc, "string(/capabilities/host/uuid)");
        xmlXPathObjectPtr k = xpath(doc, "/capabilities/guest/arch/domain[@type='kvm']");
        kvm = k && k->nodesetval && k->nodesetval->nodeNr > 0;
        xmlXPathFreeObject(k);
        xmlFreeDoc(doc);
    }
    free(caps);
    hostname = virConnectGetHostname(conn);
    *out = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:I,s:I,s:f,s:s,s:s,s:b,s:s?,s:s}",
                     "uuid", host_uuid ? host_uuid : "", "hostname", hostname ? hostname : "",
                     "cpu_model", ni.model, "cpus", (int)ni.cpus, "mhz", (int)ni.mhz,
                     "nodes", (int)ni.nodes, "sockets", (int)ni.sockets, "cores", (int)ni.cores,
                     "threads", (int)ni.threads, "memory_mb", (json_int_t)(mem_total / 1024),
                     "memory_free_mb", (json_int_t)(mem_free / 1024), "cpu_usage_pct", cpu_pct,
                     "libvirt_version", "", "hypervisor_version", "", "kvm", kvm,
                     "migration_uri", migration_uri, "driver", is_test_driver ? "test" : "qemu");
    {
        char v[32];
        snprintf(v, sizeof v, "%lu.%lu.%lu", libver / 1000000, libver / 1000 % 1000, libver % 1000);
        json_object_set_new(*out, "libvirt_version", json_string(v));
        snprintf(v, sizeof v, "%lu.%lu.%lu", hvver / 1000000, hvver / 1000 % 1000, hvver % 1000);
        json_object_set_new(*out, "hypervisor_version", json_string(v));
    }
    free(host_uuid);
    free(hostname);
    return 0;
}

/* ---- domains ------------------------------------------------------------ */

const char *ag_virt_power_state(virDomainPtr d)
{
    int state = 0, reason = 0;

    if (virDomainGetState(d, &state, &reason, 0) < 0)
        return "unknown";
    switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN:
        return "running";
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED:
        return "paused";
    case VIR_DOMAIN_SHUTOFF:
    case VIR_DOMAIN_CRASHED:
        return virDomainHasManagedSaveImage(d, 0) > 0 ? "saved" : "stopped";
    default:
        return "unknown";
    }
}

/* A file disk's volume: its exact size and the pool that holds it
 * ("size_mb", "size_gb" rounded up, "pool_native_id"), where libvirt knows
 * the path as a volume of one of its pools. */
static void volume_facts(json_t *disk)
{
    const char *path = json_string_value(json_object_get(disk, "path"));
    virStorageVolPtr vol = path ? virStorageVolLookupByPath(conn, path) : NULL;
    virStoragePoolPtr pool = vol ? virStoragePoolLookupByVolume(vol) : NULL;
    virStorageVolInfo info;
    char uuid[VIR_UUID_STRING_BUFLEN];

    if (vol && virStorageVolGetInfo(vol, &info) == 0) {
        json_object_set_new(disk, "size_mb", json_integer((json_int_t)(info.capacity >> 20)));
        json_object_set_new(disk, "size_gb", json_integer((json_int_t)((info.capacity + (1ull << 30) - 1) >> 30)));
    }
    if (pool && virStoragePoolGetUUIDString(pool, uuid) == 0)
        json_object_set_new(disk, "pool_native_id", json_string(uuid));
    if (pool)
        virStoragePoolFree(pool);
    if (vol)
        virStorageVolFree(vol);
    virResetLastError();
}

/* Every read of a domain gets a stamp (lib/stamp.h) taken before the read:
 * of two reports of one VM, the larger stamp saw the later state, whichever
 * reaches polyvisord first. */
json_t *ag_virt_domain_json(virDomainPtr d)
{
    uint64_t stamp = pv_stamp_next();
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    virDomainInfo info = {0};
    char *xml = virDomainGetXMLDesc(d, 0);
    json_t *disks = json_array(), *nics = json_array(), *o;
    int virtio = 0, emulated = 0;
    xmlDocPtr doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "dom.xml", NULL, XML_PARSE_NONET) : NULL;

    virDomainGetUUIDString(d, uuid);
    virDomainGetInfo(d, &info);
    if (doc) {
        xmlXPathObjectPtr r = xpath(doc, "/domain/devices/disk[@device='disk']");
        for (int i = 0; r && r->nodesetval && i < r->nodesetval->nodeNr; i++) {
            xmlNodePtr n = r->nodesetval->nodeTab[i];
            json_t *bus = attr_json(n, "target", "bus"), *target = attr_json(n, "target", "dev");
            json_t *disk = json_pack("{s:O,s:o,s:O,s:O}", "target", target, "path",
                                     attr_json(n, "source", "file"), "bus", bus, "key", target);
            volume_facts(disk);
            json_array_append_new(disks, disk);
            json_decref(target);
            if (json_is_string(bus) && strcmp(json_string_value(bus), "virtio") == 0)
                virtio++;
            else if (json_is_string(bus))
                emulated++;
            json_decref(bus);
        }
        xmlXPathFreeObject(r);
        r = xpath(doc, "/domain/devices/interface");
        for (int i = 0; r && r->nodesetval && i < r->nodesetval->nodeNr; i++) {
            xmlNodePtr n = r->nodesetval->nodeTab[i];
            json_t *model = attr_json(n, "model", "type");
            json_t *net = attr_json(n, "source", "network");
            json_t *mac = attr_json(n, "mac", "address");
            json_t *nic = json_pack("{s:O,s:O,s:O}", "mac", mac, "model", model, "key", mac);
            json_decref(mac);
            if (json_is_string(net)) {
                virNetworkPtr vn = virNetworkLookupByName(conn, json_string_value(net));
                char nu[VIR_UUID_STRING_BUFLEN];
                if (vn && virNetworkGetUUIDString(vn, nu) == 0)
                    json_object_set_new(nic, "network_native_id", json_string(nu));
                if (vn)
                    virNetworkFree(vn);
                virResetLastError();
                json_object_set_new(nic, "network", net);
            } else {
                json_t *br = attr_json(n, "source", "bridge");
                json_decref(net);
                if (json_is_string(br)) {
                    char id[300];
                    snprintf(id, sizeof id, "bridge:%s", json_string_value(br));
                    json_object_set_new(nic, "network_native_id", json_string(id));
                }
                json_object_set_new(nic, "bridge", br);
            }
            json_array_append_new(nics, nic);
            if (json_is_string(model) && strcmp(json_string_value(model), "virtio") == 0)
                virtio++;
            else if (json_is_string(model))
                emulated++;
            json_decref(model);
        }
        xmlXPathFreeObject(r);
        xmlFreeDoc(doc);
    }
    free(xml);
    o = json_pack("{s:s,s:s,s:s,s:i,s:I,s:b,s:o,s:o}", "uuid", uuid, "name", virDomainGetName(d),
                  "power_state", ag_virt_power_state(d), "vcpus", (int)info.nrVirtCpu, "memory_mb",
                  (json_int_t)(info.maxMem / 1024), "persistent", virDomainIsPersistent(d) == 1,
                  "disks", disks, "nics", nics);
    json_object_set_new(o, "paravirtual", virtio ? json_true() : emulated ? json_false() : json_null());
    json_object_set_new(o, "cpu_time_ns", json_integer((json_int_t)info.cpuTime));
    json_object_set_new(o, "memory_current_mb", json_integer((json_int_t)(info.memory / 1024)));
    json_object_set_new(o, "version", json_integer((json_int_t)(stamp & INT64_MAX)));
    return o;
}

int ag_virt_vms(json_t **out, struct pv_error *err)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(conn, &doms, 0);

    if (n < 0)
        return ag_virt_error(err, "list domains");
    *out = json_array();
    for (int i = 0; i < n; i++) {
        json_array_append_new(*out, ag_virt_domain_json(doms[i]));
        virDomainFree(doms[i]);
    }
    free(doms);
    return 0;
}

virDomainPtr ag_virt_lookup(const char *uuid, struct pv_error *err)
{
    virDomainPtr d = virDomainLookupByUUIDString(conn, uuid);
    if (!d)
        pv_fail(err, vm_not_found, "no vm with uuid '%.64s' on this host", uuid);
    return d;
}

int ag_virt_vm(const char *uuid, json_t **out, struct pv_error *err)
{
    virDomainPtr d = ag_virt_lookup(uuid, err);
    if (!d)
        return PV_ENOTFOUND;
    *out = ag_virt_domain_json(d);
    virDomainFree(d);
    return 0;
}

/* ---- actions ------------------------------------------------------------ */

json_t *ag_virt_disk_paths(virDomainPtr d);
void ag_virt_delete_volumes(json_t *paths);

/* Undefine with its saved state and snapshot metadata; drivers without
 * NVRAM support (the test driver) refuse that flag, so try without it. */
int ag_virt_undefine(virDomainPtr d, struct pv_error *err)
{
    unsigned flags = VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;

    if (virDomainUndefineFlags(d, flags | VIR_DOMAIN_UNDEFINE_NVRAM) == 0)
        return 0;
    if (virGetLastErrorCode() == VIR_ERR_INVALID_ARG && virDomainUndefineFlags(d, flags) == 0)
        return 0;
    return ag_virt_error(err, "delete");
}

int ag_virt_action(const char *uuid, const char *action, struct pv_error *err)
{
    virDomainPtr d = ag_virt_lookup(uuid, err);
    const char *st;
    int rc = 0, ok;

    if (!d)
        return PV_ENOTFOUND;
    st = ag_virt_power_state(d);
    if (strcmp(action, "start") == 0) {
        if (strcmp(st, "running") == 0)
            rc = pv_fail(err, already_running, "vm %s is already running", virDomainGetName(d));
        else if (strcmp(st, "paused") == 0)
            rc = pv_fail(err, vm_paused, "vm %s is paused; resume it instead", virDomainGetName(d));
        else
            ag_virt_sweep_volumes(d), ok = virDomainCreate(d) == 0,
            rc = ok ? 0 : ag_virt_error(err, "start");
    } else if (strcmp(action, "shutdown") == 0 || strcmp(action, "poweroff") == 0) {
        if (strcmp(st, "running") != 0 && strcmp(st, "paused") != 0)
            rc = pv_fail(err, already_stopped, "vm %s is not running (%s)", virDomainGetName(d), st);
        else if (action[0] == 's')
            ok = virDomainShutdown(d) == 0, rc = ok ? 0 : ag_virt_error(err, "shutdown");
        else
            ok = virDomainDestroy(d) == 0, rc = ok ? 0 : ag_virt_error(err, "power off");
    } else if (strcmp(action, "reboot") == 0 || strcmp(action, "pause") == 0) {
        if (strcmp(st, "running") != 0)
            rc = pv_fail(err, not_running, "vm %s is not running (%s)", virDomainGetName(d), st);
        else if (action[0] == 'r')
            ok = virDomainReboot(d, 0) == 0, rc = ok ? 0 : ag_virt_error(err, "reboot");
        else
            ok = virDomainSuspend(d) == 0, rc = ok ? 0 : ag_virt_error(err, "pause");
    } else if (strcmp(action, "resume") == 0) {
        if (strcmp(st, "paused") != 0)
            rc = pv_fail(err, not_paused, "vm %s is not paused (%s)", virDomainGetName(d), st);
        else
            ok = virDomainResume(d) == 0, rc = ok ? 0 : ag_virt_error(err, "resume");
    } else if (strcmp(action, "save") == 0) {
        if (strcmp(st, "running") != 0 && strcmp(st, "paused") != 0)
            rc = pv_fail(err, not_running, "vm %s is not running (%s)", virDomainGetName(d), st);
        else
            ok = virDomainManagedSave(d, 0) == 0, rc = ok ? 0 : ag_virt_error(err, "save");
    } else if (strcmp(action, "delete") == 0 || strcmp(action, "delete_with_disks") == 0) {
        if (strcmp(st, "running") == 0 || strcmp(st, "paused") == 0) {
            rc = pv_fail(err, vm_running, "vm %s is %s; power it off first", virDomainGetName(d), st);
        } else {
            json_t *paths = action[6] ? ag_virt_disk_paths(d) : NULL;
            if (paths)
                ag_virt_sweep_volumes(d);
            rc = ag_virt_undefine(d, err);
            if (!rc)
                ag_virt_delete_volumes(paths);
            json_decref(paths);
        }
    } else {
        rc = pv_fail(err, unknown_action, "no action '%.32s'", action);
    }
    virDomainFree(d);
    return rc;
}

/* The source paths of a domain's disks. */
json_t *ag_virt_disk_paths(virDomainPtr d)
{
    json_t *vm = ag_virt_domain_json(d), *out = json_array(), *disk;
    size_t i;

    json_array_foreach(json_object_get(vm, "disks"), i, disk)
        if (json_is_string(json_object_get(disk, "path")))
            json_array_append(out, json_object_get(disk, "path"));
    json_decref(vm);
    return out;
}

/* ---- define ------------------------------------------------------------- */

/* 1 when dir is the target directory of one of this host's storage pools;
 * then *pool (when not NULL) is that pool (the caller frees it). */
int ag_virt_pool_dir(const char *dir, virStoragePoolPtr *pool)
{
    virStoragePoolPtr *pools = NULL;
    int n = virConnectListAllStoragePools(conn, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE), found = 0;

    for (int i = 0; i < n; i++) {
        char *xml = virStoragePoolGetXMLDesc(pools[i], 0), *target = NULL;
        xmlDocPtr doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "pool.xml", NULL, XML_PARSE_NONET) : NULL;
        if (doc)
            target = ag_virt_xpath_string(doc, "string(/pool/target/path)");
        if (!found && target && strcmp(target, dir) == 0) {
            found = 1;
            if (pool) {
                *pool = pools[i];
                pools[i] = NULL;
            }
        }
        free(target);
        xmlFreeDoc(doc);
        free(xml);
        if (pools[i])
            virStoragePoolFree(pools[i]);
    }
    free(pools);
    virResetLastError();
    return found;
}

/* An existing disk must be a volume of one of this host's active storage
 * pools: never any file or device the agent (root) can open.  The path is
 * resolved first (a symlink inside a pool that points out of it is refused)
 * and a dir pool whose directory holds it is refreshed once, so an image
 * copied in since the last refresh is found.  *out (when not NULL) is the
 * volume's path as libvirt knows it, which is what the domain then uses. */
static int pool_volume_path(const char *path, char **out, struct pv_error *err)
{
    char real[PATH_MAX], dir[PATH_MAX], *slash;
    virStorageVolPtr vol;
    virStoragePoolPtr pool = NULL;

    /* The test driver's volumes are not files: its paths are used as named. */
    if (is_test_driver)
        snprintf(real, sizeof real, "%s", path);
    else if (!realpath(path, real))
        return pv_fail(err, unknown_disk, "disk %s: %s", path, strerror(errno));
    vol = virStorageVolLookupByPath(conn, real);
    if (!vol) {
        virResetLastError();
        snprintf(dir, sizeof dir, "%s", real);
        slash = strrchr(dir, '/');
        if (slash && slash != dir) {
            *slash = '\0';
            if (ag_virt_pool_dir(dir, &pool) && virStoragePoolRefresh(pool, 0) == 0)
                vol = virStorageVolLookupByPath(conn, real);
            if (pool)
                virStoragePoolFree(pool);
            virResetLastError();
        }
    }
    if (!vol)
        return pv_fail(err, disk_path_not_allowed,
                            "%s is not a volume of a storage pool of this host", path);
    if (out) {
        *out = virStorageVolGetPath(vol);
        if (!*out)
            *out = strdup(real);
    }
    virStorageVolFree(vol);
    return 0;
}

/* The spec's shape (spec.c), then every reference in it against this host:
 * pools, existing disks (volumes of a pool), networks. */
static int check_spec(const json_t *spec, struct pv_error *err)
{
    json_t *item;
    size_t i;

    if (ag_spec_check(spec, err))
        return err->err;
    json_array_foreach(json_object_get(spec, "disks"), i, item) {
        json_t *path = json_object_get(item, "path"), *pool = json_object_get(item, "pool");
        struct stat st;
        if (!path) {
            virStoragePoolPtr p = virStoragePoolLookupByName(conn, pool ? json_string_value(pool)
                                                                        : "default");
            if (!p) {
                virResetLastError();
                return pv_fail(err, unknown_pool, "this host has no storage pool '%.64s'",
                               pool ? json_string_value(pool) : "default");
            }
            virStoragePoolFree(p);
            continue;
        }
        if (!is_test_driver && stat(json_string_value(path), &st) != 0)
            return pv_fail(err, unknown_disk, "disk %s: %s", json_string_value(path),
                           strerror(errno));
        if (pool_volume_path(json_string_value(path), NULL, err))
            return err->err;
    }
    json_array_foreach(json_object_get(spec, "nics"), i, item) {
        json_t *net = json_object_get(item, "network");
        if (json_is_string(net) && ag_virt_network_check(json_string_value(net), err))
            return err->err;
    }
    return 0;
}

int ag_virt_network_check(const char *name, struct pv_error *err)
{
    virNetworkPtr n = virNetworkLookupByName(conn, name);

    if (!n) {
        virResetLastError();
        return pv_fail(err, unknown_network, "this host has no network '%.64s'", name);
    }
    virNetworkFree(n);
    return 0;
}

/* The domain type this host runs: test (libvirt's test driver), kvm, or
 * qemu (software emulation, without /dev/kvm). */
static const char *domain_type(void)
{
    const char *type = "kvm";
    char *caps;

    if (is_test_driver)
        return "test";
    caps = virConnectGetCapabilities(conn);
    if (caps && !strstr(caps, "domain type='kvm'"))
        type = "qemu";
    free(caps);
    return type;
}

/* A new qcow2 volume "<vm>-<i>.qcow2" of size_gb in a pool; its path. */
static char *new_volume(const char *vm, size_t idx, json_t *disk, struct pv_error *err)
{
    json_t *pool_name = json_object_get(disk, "pool");
    virStoragePoolPtr pool = virStoragePoolLookupByName(conn, pool_name ? json_string_value(pool_name)
                                                                         : "default");
    virStorageVolPtr vol = NULL;
    char name[128], *path = NULL;

    snprintf(name, sizeof name, "%s-%zu.qcow2", vm, idx);
    if (pool && (vol = virStorageVolLookupByName(pool, name))) {
        /* left behind by a VM deleted without its disks: never reuse it */
        pv_fail(err, volume_exists,
                     "volume %s exists already in the pool (a disk of a deleted VM?)", name);
        virStorageVolFree(vol);
        virStoragePoolFree(pool);
        return NULL;
    }
    virResetLastError();
    if (!pool) {
        pv_fail(err, unknown_pool, "the storage pool is gone");
        return NULL;
    }
    vol = ag_virt_make_volume(pool, name,
                              (unsigned long long)json_integer_value(json_object_get(disk, "size_gb"))
                                  << 30, err);
    if (vol) {
        path = virStorageVolGetPath(vol);
        if (!path)
            ag_virt_error(err, "create volume");
        virStorageVolFree(vol);
    }
    virStoragePoolFree(pool);
    return path;
}

/* Delete the volumes at these paths (those libvirt knows as volumes). */
void ag_virt_delete_volumes(json_t *paths)
{
    size_t i;
    json_t *p;

    json_array_foreach(paths, i, p) {
        virStorageVolPtr vol = virStorageVolLookupByPath(conn, json_string_value(p));
        if (vol) {
            virStorageVolDelete(vol, 0);
            virStorageVolFree(vol);
        }
    }
    virResetLastError();
}

int ag_virt_define(const json_t *in, char **uuid, struct pv_error *err)
{
    char *xml;
    virDomainPtr d;
    char buf[VIR_UUID_STRING_BUFLEN];
    json_t *spec = NULL, *made = NULL, *disk;
    size_t i;
    int rc = check_spec(in, err);

    *uuid = NULL;
    if (rc)
        return rc;
    d = virDomainLookupByName(conn, json_string_value(json_object_get(in, "name")));
    if (d) {
        virDomainFree(d);
        return pv_fail(err, name_in_use, "this host already has a vm named %s",
                            json_string_value(json_object_get(in, "name")));
    }
    virResetLastError();
    /* New volumes first; from here on a failure deletes what was made. */
    spec = json_deep_copy(in);
    made = json_array();
    json_array_foreach(json_object_get(spec, "disks"), i, disk) {
        char *path = NULL;
        if (!json_object_get(disk, "size_gb")) {
            /* checked above; resolved again here, and the domain gets the
             * volume's own path, not a link that could change meanwhile */
            rc = pool_volume_path(json_string_value(json_object_get(disk, "path")), &path, err);
            if (rc)
                goto out;
            json_object_set_new(disk, "path", json_string(path));
            free(path);
            continue;
        }
        path = new_volume(json_string_value(json_object_get(spec, "name")), i, disk, err);
        if (!path) {
            rc = err->err;
            goto out;
        }
        json_array_append_new(made, json_string(path));
        json_object_clear(disk);
        json_object_set_new(disk, "path", json_string(path));
        json_object_set_new(disk, "format", json_string("qcow2"));
        free(path);
    }
    xml = ag_spec_domain_xml(spec, domain_type(), !is_test_driver);
    if (!xml) {
        rc = pv_fail(err, out_of_memory, "cannot write the domain XML");
        goto out;
    }
    d = virDomainDefineXML(conn, xml);
    free(xml);
    if (!d) {
        rc = ag_virt_error(err, "define");
        goto out;
    }
    virDomainGetUUIDString(d, buf);
    virDomainFree(d);
    *uuid = strdup(buf);
out:
    if (rc)
        ag_virt_delete_volumes(made);
    json_decref(made);
    json_decref(spec);
    return rc;
}
