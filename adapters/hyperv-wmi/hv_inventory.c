/* hv_inventory.c -- what a Hyper-V host has: its facts, its VMs, their
 * settings and live figures; sync, the poll-and-diff watch, and refresh.
 *
 * Decisions worth knowing:
 *   - A full listing costs a fixed number of round trips whatever the VM
 *     count (beyond Pull batches): one WQL enumeration each of the VMs
 *     (Msvm_ComputerSystem), their realized Msvm_VirtualSystemSettingData,
 *     every Msvm_ProcessorSettingData and Msvm_MemorySettingData, joined in
 *     memory by the VM GUID inside InstanceID ("Microsoft:GUID\..."), then
 *     GetSummaryInformation for live figures in batches of references.  One
 *     VM (refresh, after an action) goes through ASSOCIATORS OF instead, as
 *     the WMI documents describe the relations.
 *   - VMs are told from the host by Caption "Virtual Machine" or either
 *     documented Description ("Microsoft Virtual Machine", which hosts send,
 *     and "Microsoft Virtual Computer System", which the v2 class page lists).
 *   - The watch polls every poll_ms and reports what differs from the last
 *     poll (a hash of the reported fields per GUID), and the GUIDs that went
 *     away.  Most polls are light -- Msvm_ComputerSystem alone, one
 *     enumeration, with settings from the last full listing -- and every
 *     FULL_EVERY-th poll (or one that meets an unknown VM) is a full listing,
 *     so a vCPU or memory change made elsewhere shows within a few polls;
 *     full listings also refresh the host's figures and every VM's measured
 *     load and memory (GetSummaryInformation), and report all VMs.
 *   - GUIDs put into WQL are checked to be GUIDs first.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "adapters/hyperv-wmi/hv.h"
#include "lib/stamp.h"

#define VM_WQL "SELECT * FROM Msvm_ComputerSystem WHERE Caption = 'Virtual Machine' OR " \
               "Description = 'Microsoft Virtual Machine' OR " \
               "Description = 'Microsoft Virtual Computer System'"
#define VM_LIGHT_WQL "SELECT Name, ElementName, EnabledState, HealthState FROM Msvm_ComputerSystem " \
                     "WHERE Caption = 'Virtual Machine' OR Description = 'Microsoft Virtual Machine' OR " \
                     "Description = 'Microsoft Virtual Computer System'"
#define SUMMARY_BATCH 100
#define FULL_EVERY 5        /* watch polls: one full listing (settings too) in this many */

/* ---- helpers ------------------------------------------------------------------ */

static void upper(char *s)
{
    for (; *s; s++)
        if (*s >= 'a' && *s <= 'z')
            *s = (char)(*s - 'a' + 'A');
}

/* "Microsoft:GUID\..." or "Microsoft:GUID" -> GUID (upper case); 0 when none. */
static int guid_of_instance_id(const char *iid, char *guid)
{
    const char *p = strchr(iid, ':');
    p = p ? p + 1 : iid;
    if (strlen(p) < HV_GUID_LEN || (p[HV_GUID_LEN] && p[HV_GUID_LEN] != '\\'))
        return 0;
    memcpy(guid, p, HV_GUID_LEN);
    guid[HV_GUID_LEN] = '\0';
    upper(guid);
    return hv_guid_ok(guid);
}

enum pv_power_state hv_power_state(int st)
{
    switch (st) {
    case 2:      /* Enabled */
    case 4:      /* Shutting Down: still up */
    case 10:     /* Starting */
    case 32770:  /* legacy Starting */
    case 32771:  /* legacy Snapshotting */
    case 32773:  /* legacy Saving */
    case 32774:  /* legacy Stopping */
    case 32776:  /* legacy Pausing */
        return PV_POWER_RUNNING;
    case 3:      /* Disabled */
        return PV_POWER_STOPPED;
    case 9:      /* Quiesce */
    case 32768:  /* legacy Paused */
    case 32777:  /* legacy Resuming */
        return PV_POWER_PAUSED;
    case 6:      /* Enabled but Offline: saved */
    case 32769:  /* legacy Suspended */
        return PV_POWER_SAVED;
    default:
        return PV_POWER_UNKNOWN;
    }
}

static void vm_init(struct hv_vm *v)
{
    memset(v, 0, sizeof *v);
    v->enabled_state = -1;
    v->health_state = -1;
    v->dynamic_memory = -1;
    v->memory_usage_mb = -1;
    v->processor_load = -1;
    v->uptime_ms = -1;
}

/* Fill from a Msvm_ComputerSystem instance; 0 when it is not a VM. */
static int vm_from_cs(struct hv_vm *v, xmlNodePtr inst)
{
    vm_init(v);
    if (!pv_wsman_prop_text(inst, "Name", v->guid, sizeof v->guid) || !hv_guid_ok(v->guid))
        return 0;
    upper(v->guid);
    pv_wsman_prop_text(inst, "ElementName", v->name, sizeof v->name);
    v->enabled_state = (int)pv_wsman_prop_int(inst, "EnabledState", -1);
    v->health_state = (int)pv_wsman_prop_int(inst, "HealthState", -1);
    return 1;
}

static void vm_from_vssd(struct hv_vm *v, xmlNodePtr inst)
{
    char t[128];

    if (pv_wsman_prop_text(inst, "VirtualSystemSubType", t, sizeof t))
        v->generation = strcmp(t, "Microsoft:Hyper-V:SubType:2") == 0 ? 2
                        : strcmp(t, "Microsoft:Hyper-V:SubType:1") == 0 ? 1 : 0;
    pv_wsman_prop_text(inst, "Notes", v->notes, sizeof v->notes);
}

static void vm_from_rasd(struct hv_vm *v, xmlNodePtr inst, int type)
{
    char t[16];

    if (type == 3) {
        v->vcpus = (int)pv_wsman_prop_int(inst, "VirtualQuantity", 0);
    } else {
        v->memory_mb = pv_wsman_prop_int(inst, "VirtualQuantity", 0);
        if (pv_wsman_prop_text(inst, "DynamicMemoryEnabled", t, sizeof t))
            v->dynamic_memory = strcmp(t, "true") == 0;
    }
}

static int cmp_guid(const void *a, const void *b)
{
    return strcmp(((const struct hv_vm *)a)->guid, ((const struct hv_vm *)b)->guid);
}

static struct hv_vm *find_vm(struct hv_vm *vms, size_t n, const char *guid)
{
    struct hv_vm key = {0};

    if (!vms || n == 0)
        return NULL;
    snprintf(key.guid, sizeof key.guid, "%s", guid);
    return bsearch(&key, vms, n, sizeof *vms, cmp_guid);
}

/* ---- host ---------------------------------------------------------------------- */

static int enum_cimv2(struct pv_conn *c, const char *wql, struct pv_wsman_items *it,
                      struct pv_error *err)
{
    return pv_wsman_enumerate(c->ws, PV_WMI_CIMV2 "*", wql, it, err);
}

int hv_host_identity(struct pv_conn *c, struct pv_error *err)
{
    struct pv_wsman_items it = {0};
    char dns[256] = "", dom[256] = "";
    int rc;

    if (c->host_name[0])
        return 0;
    rc = enum_cimv2(c, "SELECT Name, DNSHostName, Domain FROM Win32_ComputerSystem", &it, err);
    if (rc)
        return rc;
    if (it.n == 0) {
        pv_wsman_items_free(&it);
        return pv_fail(err, bad_response, "%s lists no Win32_ComputerSystem", c->url);
    }
    pv_wsman_prop_text(it.item[0], "Name", c->host_name, sizeof c->host_name);
    pv_wsman_prop_text(it.item[0], "DNSHostName", dns, sizeof dns);
    pv_wsman_prop_text(it.item[0], "Domain", dom, sizeof dom);
    pv_wsman_items_free(&it);
    upper(c->host_name);
    if (dns[0] && dom[0] && strcasecmp(dom, "WORKGROUP") != 0)
        snprintf(c->host_fqdn, sizeof c->host_fqdn, "%s.%s", dns, dom);
    else
        snprintf(c->host_fqdn, sizeof c->host_fqdn, "%s", dns[0] ? dns : c->host_name);
    if (!c->host_name[0])
        return pv_fail(err, bad_response, "%s: Win32_ComputerSystem has no Name", c->url);
    return 0;
}

static int report_host(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err)
{
    struct pv_wsman_items cs = {0}, os = {0}, cpu = {0};
    struct pv_host_info h = {0};
    char caption[160] = "", version[64] = "", boot[64] = "", *facts = NULL;
    long long load = 0;
    json_t *j;
    int rc;

    if ((rc = enum_cimv2(c, "SELECT * FROM Win32_ComputerSystem", &cs, err)) ||
        (rc = enum_cimv2(c, "SELECT * FROM Win32_OperatingSystem", &os, err)) ||
        (rc = enum_cimv2(c, "SELECT * FROM Win32_Processor", &cpu, err)))
        goto out;
    h.native_id = c->host_name;
    h.name = c->host_name;
    h.state = PV_HOST_CONNECTED;
    for (size_t i = 0; i < cpu.n; i++) {
        h.cpu_cores += (int)pv_wsman_prop_int(cpu.item[i], "NumberOfCores", 0);
        if (!h.cpu_mhz)
            h.cpu_mhz = (int)pv_wsman_prop_int(cpu.item[i], "MaxClockSpeed", 0);
        load += pv_wsman_prop_int(cpu.item[i], "LoadPercentage", 0);
    }
    h.cpu_usage_pct = cpu.n ? (double)load / (double)cpu.n : 0;
    if (cs.n) {
        h.memory_mb = pv_wsman_prop_int(cs.item[0], "TotalPhysicalMemory", 0) / (1024LL * 1024);
        if (!h.cpu_cores)
            h.cpu_cores = (int)pv_wsman_prop_int(cs.item[0], "NumberOfLogicalProcessors", 0);
    }
    if (os.n) {
        long long total = pv_wsman_prop_int(os.item[0], "TotalVisibleMemorySize", 0);
        long long free_kb = pv_wsman_prop_int(os.item[0], "FreePhysicalMemory", 0);
        h.memory_used_mb = total > free_kb ? (total - free_kb) / 1024 : 0;
        pv_wsman_prop_text(os.item[0], "Caption", caption, sizeof caption);
        pv_wsman_prop_text(os.item[0], "Version", version, sizeof version);
        pv_wsman_prop_text(os.item[0], "LastBootUpTime", boot, sizeof boot);
    }
    j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I}", "os", caption, "os_version", version,
                  "fqdn", c->host_fqdn, "last_boot", boot, "wsman_url", c->url, "sockets",
                  (int)cpu.n, "logical_processors",
                  cs.n ? (json_int_t)pv_wsman_prop_int(cs.item[0], "NumberOfLogicalProcessors", 0) : 0);
    facts = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    h.facts_json = facts;
    if (s && s->host)
        s->host(s->ctx, &h);
out:
    free(facts);
    pv_wsman_items_free(&cs);
    pv_wsman_items_free(&os);
    pv_wsman_items_free(&cpu);
    return rc;
}

static int enum_v2(struct pv_conn *c, const char *wql, struct pv_wsman_items *it, struct pv_error *err)
{
    return pv_wsman_enumerate(c->ws, PV_WMI_V2 "*", wql, it, err);
}

/* ---- storage and networks --------------------------------------------------------- */

/* The host's volumes with a mount point (a drive letter, or a folder such as
 * a Cluster Shared Volume's C:\ClusterStorage\Volume1\) are its storage pools;
 * its virtual switches its networks.  A CSV (file system CSVFS) is shared. */
static int report_storage(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err)
{
    struct pv_wsman_items sw = {0};
    const char *hosts[] = {c->host_name};
    int rc;

    if ((rc = hv_volumes_read(c, err)) ||
        (rc = enum_v2(c, "SELECT Name, ElementName FROM Msvm_VirtualEthernetSwitch", &sw, err)))
        goto out;
    for (size_t i = 0; i < c->nvols && s && s->pool; i++) {
        const struct hv_volume *v = &c->vols[i];
        struct pv_pool_info p = {.native_id = v->device_id, .name = v->name, .kind = v->fs,
                                 .nhosts = 1, .host_native_ids = hosts,
                                 .capacity_mb = v->capacity_mb, .free_mb = v->free_mb,
                                 .shared = strcmp(v->fs, "CSVFS") == 0};
        s->pool(s->ctx, &p);
    }
    for (size_t i = 0; i < sw.n && s && s->network; i++) {
        char id[128], name[256];
        struct pv_network_info n = {.native_id = id, .name = name, .kind = "switch", .vlan = -1,
                                    .nhosts = 1, .host_native_ids = hosts};
        if (!pv_wsman_prop_text(sw.item[i], "Name", id, sizeof id))
            continue;
        if (!pv_wsman_prop_text(sw.item[i], "ElementName", name, sizeof name))
            snprintf(name, sizeof name, "%s", id);
        upper(id);
        s->network(s->ctx, &n);
    }
out:
    pv_wsman_items_free(&sw);
    return rc;
}

/* ---- VMs ------------------------------------------------------------------------- */

int hv_vm_list(struct pv_conn *c, struct hv_vm **out, size_t *n, struct pv_error *err)
{
    struct pv_wsman_items cs = {0}, vssd = {0}, proc = {0}, mem = {0};
    struct hv_vm *vms = NULL;
    size_t nv = 0;
    char iid[512], guid[HV_GUID_LEN + 1];
    int rc;

    *out = NULL;
    *n = 0;
    uint64_t stamp;

    if ((rc = enum_v2(c, VM_WQL, &cs, err)) ||
        (rc = enum_v2(c, "SELECT * FROM Msvm_VirtualSystemSettingData WHERE VirtualSystemType = "
                         "'Microsoft:Hyper-V:System:Realized'", &vssd, err)) ||
        (rc = enum_v2(c, "SELECT InstanceID, VirtualQuantity FROM Msvm_ProcessorSettingData", &proc, err)) ||
        (rc = enum_v2(c, "SELECT InstanceID, VirtualQuantity, DynamicMemoryEnabled FROM "
                         "Msvm_MemorySettingData", &mem, err)))
        goto out;
    stamp = pv_stamp_next(); /* the states came in the first answer: before this */
    vms = calloc(cs.n ? cs.n : 1, sizeof *vms);
    if (!vms) {
        rc = pv_fail(err, out_of_memory, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < cs.n; i++)
        if (vm_from_cs(&vms[nv], cs.item[i])) {
            vms[nv].read_stamp = stamp;
            nv++;
        }
    qsort(vms, nv, sizeof *vms, cmp_guid);
    for (size_t i = 0; i < vssd.n; i++) {
        struct hv_vm *v;
        if (pv_wsman_prop_text(vssd.item[i], "InstanceID", iid, sizeof iid) &&
            guid_of_instance_id(iid, guid) && (v = find_vm(vms, nv, guid)))
            vm_from_vssd(v, vssd.item[i]);
    }
    for (int pass = 0; pass < 2; pass++) {
        struct pv_wsman_items *it = pass ? &mem : &proc;
        for (size_t i = 0; i < it->n; i++) {
            struct hv_vm *v;
            if (pv_wsman_prop_text(it->item[i], "InstanceID", iid, sizeof iid) &&
                guid_of_instance_id(iid, guid) && (v = find_vm(vms, nv, guid)))
                vm_from_rasd(v, it->item[i], pass ? 4 : 3);
        }
    }
    if ((rc = hv_devices_list(c, vms, nv, err)))
        goto out;
    *out = vms;
    *n = nv;
    vms = NULL;
out:
    hv_vms_free(vms, nv);
    pv_wsman_items_free(&cs);
    pv_wsman_items_free(&vssd);
    pv_wsman_items_free(&proc);
    pv_wsman_items_free(&mem);
    return rc;
}

/* GetSummaryInformation for vms[0..n): live memory, load, uptime. */
static int summary(struct pv_conn *c, struct hv_vm *vms, size_t n, struct pv_error *err)
{
    static const char *const req[] = {"0", "4", "100", "101", "103", "105"};
    struct hv_service svc;
    int rc;

    if (n == 0)
        return 0;
    if ((rc = hv_service(c, "Msvm_VirtualSystemManagementService", &svc, err)))
        return rc;
    for (size_t b = 0; b < n; b += SUMMARY_BATCH) {
        size_t m = n - b < SUMMARY_BATCH ? n - b : SUMMARY_BATCH, np = 0;
        struct pv_wsman_param p[SUMMARY_BATCH + 6];
        struct pv_wsman_selector sel[SUMMARY_BATCH];
        char iids[SUMMARY_BATCH][48];
        struct pv_soap_resp *r = NULL;
        xmlNodePtr outp;
        long rv;

        for (size_t i = 0; i < m; i++) {
            snprintf(iids[i], sizeof iids[i], "Microsoft:%s", vms[b + i].guid);
            sel[i].name = "InstanceID";
            sel[i].value = iids[i];
            p[np++] = (struct pv_wsman_param){.name = "SettingData", .kind = PV_WSMAN_P_EPR,
                                              .resource_uri = PV_WMI_V2 "Msvm_VirtualSystemSettingData",
                                              .sel = &sel[i], .nsel = 1};
        }
        for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
            p[np++] = (struct pv_wsman_param){.name = "RequestedInformation", .text = req[i]};
        rc = pv_wsman_invoke(c->ws, svc.uri, "GetSummaryInformation", svc.sel, svc.nsel, p, np, &r,
                             &outp, &rv, err);
        if (!rc && rv != 0)
            rc = hv_return_error(rv, 1, "GetSummaryInformation", err);
        for (xmlNodePtr si = rc ? NULL : pv_xml_child(outp, "SummaryInformation", NULL); si;
             si = pv_xml_next(si, "SummaryInformation", NULL)) {
            char guid[64];
            struct hv_vm *v;
            if (!pv_wsman_prop_text(si, "Name", guid, sizeof guid))
                continue;
            upper(guid);
            if (!(v = find_vm(vms, n, guid)))
                continue;
            if (pv_wsman_prop(si, "MemoryUsage") && !pv_wsman_is_nil(pv_wsman_prop(si, "MemoryUsage")))
                v->memory_usage_mb = pv_wsman_prop_int(si, "MemoryUsage", -1);
            v->processor_load = (int)pv_wsman_prop_int(si, "ProcessorLoad", -1);
            v->uptime_ms = pv_wsman_prop_int(si, "UpTime", -1);
        }
        pv_soap_resp_free(r);
        if (rc)
            return rc;
    }
    return 0;
}

static char *vendor_json(const struct hv_vm *v)
{
    json_t *j = json_pack("{s:s, s:i, s:i, s:i}", "guid", v->guid, "enabled_state", v->enabled_state,
                          "health_state", v->health_state, "generation", v->generation);
    char *s;

    if (!j)
        return NULL;
    if (v->dynamic_memory >= 0)
        json_object_set_new(j, "dynamic_memory", json_boolean(v->dynamic_memory));
    if (v->memory_usage_mb >= 0)
        json_object_set_new(j, "memory_usage_mb", json_integer(v->memory_usage_mb));
    if (v->processor_load >= 0)
        json_object_set_new(j, "processor_load_pct", json_integer(v->processor_load));
    if (v->uptime_ms >= 0)
        json_object_set_new(j, "uptime_ms", json_integer(v->uptime_ms));
    if (v->notes[0])
        json_object_set_new(j, "notes", json_string(v->notes));
    s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

void hv_report_vm(struct pv_conn *c, const struct pv_sink *s, const struct hv_vm *v)
{
    struct pv_vm_info info = {0};
    char *vendor;

    if (!s || !s->vm)
        return;
    vendor = vendor_json(v);
    info.native_id = v->guid;
    info.name = v->name;
    info.host_native_id = c->host_name[0] ? c->host_name : NULL;
    info.power_state = hv_power_state(v->enabled_state);
    info.version = v->read_stamp;
    info.vcpus = v->vcpus;
    info.memory_mb = v->memory_mb;
    info.paravirtual = v->generation == 2 ? 1 : v->generation == 1 ? 0 : -1;
    info.vendor_json = vendor;
    info.disks_json = v->disks;
    info.nics_json = v->nics;
    if (info.power_state != PV_POWER_RUNNING && info.power_state != PV_POWER_UNKNOWN) {
        info.usage_known = 1; /* a VM that does not run uses nothing */
    } else if (v->processor_load >= 0 && v->memory_usage_mb >= 0) {
        info.usage_known = 1; /* GetSummaryInformation's ProcessorLoad and MemoryUsage */
        info.cpu_usage_pct = v->processor_load > 100 ? 100 : v->processor_load;
        info.memory_used_mb = v->memory_usage_mb;
    }
    s->vm(s->ctx, &info);
    free(vendor);
}

/* ---- the seen set --------------------------------------------------------------- */

static unsigned long vm_hash(const struct hv_vm *v)
{
    char t[512];
    unsigned long h = 1469598103934665603ul;

    snprintf(t, sizeof t, "%s|%d|%d|%lld|%d|%d", v->name, (int)hv_power_state(v->enabled_state),
             v->vcpus, v->memory_mb, v->generation, v->dynamic_memory);
    for (const char *p = t; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ul;
    for (int k = 0; k < 2; k++) /* devices: a disk or NIC added elsewhere is a change */
        for (const char *p = k ? v->nics : v->disks; p && *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ul;
    return h;
}

static struct hv_seen *seen_find(struct pv_conn *c, const char *guid)
{
    for (size_t i = 0; i < c->nseen; i++)
        if (strcmp(c->seen[i].guid, guid) == 0)
            return &c->seen[i];
    return NULL;
}

static struct hv_seen *seen_add(struct pv_conn *c, const char *guid)
{
    struct hv_seen *e;

    if (c->nseen == c->capseen) {
        size_t cap = c->capseen ? c->capseen * 2 : 32;
        void *p = realloc(c->seen, cap * sizeof *c->seen);
        if (!p)
            return NULL;
        c->seen = p;
        c->capseen = cap;
    }
    e = &c->seen[c->nseen++];
    memset(e, 0, sizeof *e);
    snprintf(e->guid, sizeof e->guid, "%s", guid);
    return e;
}

static void seen_remove(struct pv_conn *c, const char *guid)
{
    struct hv_seen *e = seen_find(c, guid);
    if (e)
        *e = c->seen[--c->nseen];
}

/* Report what changed since the last listing (all of it when report_all)
 * and what went away; remember this listing. */
static void diff_and_report(struct pv_conn *c, const struct pv_sink *s, struct hv_vm *vms,
                            size_t n, int report_all)
{
    for (size_t i = 0; i < c->nseen; i++)
        c->seen[i].mark = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned long h = vm_hash(&vms[i]);
        struct hv_seen *e = seen_find(c, vms[i].guid);
        int changed = !e || e->hash != h;
        if (!e)
            e = seen_add(c, vms[i].guid);
        if (e) {
            e->hash = h;
            e->mark = 1;
        }
        if (changed || report_all)
            hv_report_vm(c, s, &vms[i]);
    }
    for (size_t i = 0; i < c->nseen;) {
        if (!c->seen[i].mark) {
            if (c->polled && s && s->vm_gone)
                s->vm_gone(s->ctx, c->seen[i].guid);
            c->seen[i] = c->seen[--c->nseen];
        } else {
            i++;
        }
    }
    c->polled = 1;
    clock_gettime(CLOCK_MONOTONIC, &c->last_poll);
}

/* Keep a full listing as the settings cache of the light polls. */
static void remember(struct pv_conn *c, const struct hv_vm *vms, size_t n)
{
    struct hv_vm *copy = malloc((n ? n : 1) * sizeof *copy);

    if (!copy)
        return;
    if (n)
        memcpy(copy, vms, n * sizeof *copy);
    for (size_t i = 0; i < n; i++) { /* the cache owns copies of the device lists */
        copy[i].disks = vms[i].disks ? strdup(vms[i].disks) : NULL;
        copy[i].nics = vms[i].nics ? strdup(vms[i].nics) : NULL;
    }
    hv_vms_free(c->cache, c->ncache);
    c->cache = copy;
    c->ncache = n;
    c->polls = 0;
}

/* A light listing: only Msvm_ComputerSystem (one enumeration), settings
 * from the cache.  Returns 1 when a VM is new to the cache (a full listing
 * is needed), 0 with *out filled, or an error. */
static int list_light(struct pv_conn *c, struct hv_vm **out, size_t *n, struct pv_error *err)
{
    struct pv_wsman_items cs = {0};
    struct hv_vm *vms;
    size_t nv = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = enum_v2(c, VM_LIGHT_WQL, &cs, err)))
        return rc;
    vms = calloc(cs.n ? cs.n : 1, sizeof *vms);
    if (!vms) {
        pv_wsman_items_free(&cs);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    for (size_t i = 0; i < cs.n; i++) {
        struct hv_vm *known;
        if (!vm_from_cs(&vms[nv], cs.item[i]))
            continue;
        known = find_vm(c->cache, c->ncache, vms[nv].guid);
        if (!known) {
            hv_vms_free(vms, nv);
            pv_wsman_items_free(&cs);
            return 1;
        }
        vms[nv].vcpus = known->vcpus;
        vms[nv].memory_mb = known->memory_mb;
        vms[nv].generation = known->generation;
        vms[nv].dynamic_memory = known->dynamic_memory;
        memcpy(vms[nv].notes, known->notes, sizeof vms[nv].notes);
        if (vms[nv].enabled_state != known->enabled_state &&
            hv_devices_one(c, &vms[nv], NULL) == 0) {
            /* a VM that changed state is reported now: with its devices as they
             * are (the cached ones may predate a create's last step, or a start
             * that gave a MAC), and the cache learns them and the state */
            char *dd = vms[nv].disks ? strdup(vms[nv].disks) : NULL;
            char *nn = vms[nv].nics ? strdup(vms[nv].nics) : NULL;
            hv_vm_release(known);
            known->disks = dd;
            known->nics = nn;
            known->enabled_state = vms[nv].enabled_state;
        } else {
            vms[nv].disks = known->disks ? strdup(known->disks) : NULL;
            vms[nv].nics = known->nics ? strdup(known->nics) : NULL;
        }
        nv++;
    }
    pv_wsman_items_free(&cs);
    *out = vms;
    *n = nv;
    return 0;
}

/* ---- sync, watch, refresh ------------------------------------------------------- */

int hv_sync(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err)
{
    struct hv_vm *vms = NULL;
    size_t n = 0;
    int rc;

    if ((rc = hv_host_identity(c, err)) || (rc = report_host(c, s, err)) ||
        (rc = report_storage(c, s, err)) || (rc = hv_vm_list(c, &vms, &n, err)))
        goto out;
    remember(c, vms, n);
    /* live figures are a bonus: a host that cannot give them still syncs */
    summary(c, vms, n, NULL);
    c->polled = 1;
    diff_and_report(c, s, vms, n, 1);
out:
    hv_vms_free(vms, n);
    return rc;
}

int hv_watch(struct pv_conn *c, const struct pv_sink *s, int timeout_ms, struct pv_error *err)
{
    struct hv_vm *vms = NULL;
    size_t n = 0;
    int rc;

    if (c->polled) {
        struct timespec now;
        long long since;
        clock_gettime(CLOCK_MONOTONIC, &now);
        since = (long long)(now.tv_sec - c->last_poll.tv_sec) * 1000 +
                (now.tv_nsec - c->last_poll.tv_nsec) / 1000000;
        if (since < c->poll_ms) {
            long long wait = c->poll_ms - since;
            wait = wait < timeout_ms ? wait : timeout_ms > 0 ? timeout_ms : wait;
            /* the wait reads VHD sizes the last full listing did not; the next
             * poll is then a full one, which reports them */
            if (hv_vhd_sizes_fill(c, (int)wait) > 0) {
                c->polls = FULL_EVERY - 1;
                return 0;
            }
            hv_sleep_ms((int)wait);
            return 0;
        }
    }
    if ((rc = hv_host_identity(c, err)))
        return rc;
    /* mostly a light poll (states and names); every FULL_EVERY-th, or when
     * a VM appeared, the settings too (vCPUs and memory changed elsewhere) */
    rc = c->cache && ++c->polls < FULL_EVERY ? list_light(c, &vms, &n, err) : 1;
    if (rc == 1) {
        /* the host's load and memory use go stale otherwise: the daemon
         * syncs an event-capable adapter only at start and after an outage */
        if ((rc = report_host(c, s, err)) || (rc = report_storage(c, s, err)) ||
            (rc = hv_vm_list(c, &vms, &n, err)))
            goto out;
        remember(c, vms, n);
        /* and the VMs' measured load and memory, reported for every VM */
        summary(c, vms, n, NULL);
        diff_and_report(c, s, vms, n, 1);
        goto out;
    } else if (rc) {
        goto out;
    }
    diff_and_report(c, s, vms, n, 0);
out:
    hv_vms_free(vms, n);
    return rc;
}

int hv_vm_settings(struct pv_conn *c, const char *guid, const char *result_class,
                   struct pv_wsman_items *out, struct pv_error *err)
{
    char q[400];

    if (!hv_guid_ok(guid)) /* nothing but hex digits and dashes goes into WQL */
        return pv_fail(err, vm_not_found, "'%s' is not a Hyper-V VM id (a GUID)", guid);
    snprintf(q, sizeof q,
             "ASSOCIATORS OF {Msvm_VirtualSystemSettingData.InstanceID='Microsoft:%s'} WHERE "
             "AssocClass = Msvm_VirtualSystemSettingDataComponent ResultClass = %s", guid,
             result_class);
    return enum_v2(c, q, out, err);
}

int hv_vm_get(struct pv_conn *c, const char *guid_in, struct hv_vm *out, struct pv_error *err)
{
    struct pv_wsman_selector sel[2] = {{"CreationClassName", "Msvm_ComputerSystem"}, {"Name", NULL}};
    struct pv_wsman_items vssd = {0}, rasd = {0};
    struct pv_soap_resp *r = NULL;
    char guid[HV_GUID_LEN + 1], q[400], iid[512];
    xmlNodePtr inst;
    int rc;

    vm_init(out);
    if (!hv_guid_ok(guid_in))
        return pv_fail(err, vm_not_found, "'%s' is not a Hyper-V VM id (a GUID)",
                            guid_in ? guid_in : "");
    snprintf(guid, sizeof guid, "%s", guid_in);
    upper(guid);
    sel[1].value = guid;
    rc = pv_wsman_get(c->ws, PV_WMI_V2 "Msvm_ComputerSystem", sel, 2, &r, &inst, err);
    if (rc == PV_ENOTFOUND)
        return pv_fail(err, vm_not_found, "no VM %s on Hyper-V host %s", guid,
                            c->host_name[0] ? c->host_name : c->url);
    if (rc)
        return rc;
    if (!vm_from_cs(out, inst)) {
        pv_soap_resp_free(r);
        return pv_fail(err, vm_not_found, "%s is not a VM", guid);
    }
    out->read_stamp = pv_stamp_next();
    pv_soap_resp_free(r);
    /* the GUID was checked above: nothing but hex digits and dashes goes in */
    snprintf(q, sizeof q,
             "ASSOCIATORS OF {Msvm_ComputerSystem.CreationClassName='Msvm_ComputerSystem',Name='%s'} "
             "WHERE AssocClass = Msvm_SettingsDefineState ResultClass = Msvm_VirtualSystemSettingData",
             guid);
    if ((rc = enum_v2(c, q, &vssd, err)))
        goto out;
    if (vssd.n) {
        vm_from_vssd(out, vssd.item[0]);
        char vg[HV_GUID_LEN + 1];
        if (pv_wsman_prop_text(vssd.item[0], "InstanceID", iid, sizeof iid) &&
            guid_of_instance_id(iid, vg)) {
            if ((rc = hv_vm_settings(c, vg, "CIM_ResourceAllocationSettingData", &rasd, err)))
                goto out;
            for (size_t i = 0; i < rasd.n; i++) {
                int type = (int)pv_wsman_prop_int(rasd.item[i], "ResourceType", 0);
                if (type == 3 || type == 4)
                    vm_from_rasd(out, rasd.item[i], type);
            }
        }
    }
out:
    pv_wsman_items_free(&vssd);
    pv_wsman_items_free(&rasd);
    return rc;
}

int hv_refresh(struct pv_conn *c, const char *vm, const struct pv_sink *s, struct pv_error *err)
{
    struct hv_vm v;
    int rc;

    if ((rc = hv_host_identity(c, err)))
        return rc;
    rc = hv_vm_get(c, vm, &v, err);
    if (rc == PV_ENOTFOUND) {
        if (s && s->vm_gone)
            s->vm_gone(s->ctx, vm);
        seen_remove(c, vm);
        return 0;
    }
    if (rc)
        return rc;
    if ((rc = hv_devices_one(c, &v, err)))
        return rc;
    {
        /* light polls take settings and devices from the cache: keep it as
         * fresh as this read, or the next one reports the old devices again */
        struct hv_vm *k = find_vm(c->cache, c->ncache, v.guid);
        if (k) {
            char *d = v.disks ? strdup(v.disks) : NULL, *n = v.nics ? strdup(v.nics) : NULL;
            hv_vm_release(k);
            k->vcpus = v.vcpus;
            k->memory_mb = v.memory_mb;
            k->generation = v.generation;
            k->dynamic_memory = v.dynamic_memory;
            memcpy(k->notes, v.notes, sizeof k->notes);
            k->disks = d;
            k->nics = n;
        }
    }
    summary(c, &v, 1, NULL);
    hv_report_vm(c, s, &v);
    {
        struct hv_seen *e = seen_find(c, v.guid);
        if (!e && c->polled)
            e = seen_add(c, v.guid);
        if (e)
            e->hash = vm_hash(&v);
    }
    hv_vm_release(&v);
    return 0;
}
