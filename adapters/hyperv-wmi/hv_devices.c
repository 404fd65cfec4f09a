/* hv_devices.c -- a Hyper-V VM's disks and network adapters: reading them
 * for the inventory, giving a new VM the ones its spec asks for, and
 * changing them later (vm_device: the last part of this file).
 *
 * How Hyper-V models them (the WMI v2 class documents): a disk is three
 * resource settings of the VM -- a controller (Msvm_ResourceAllocationSettingData,
 * "Emulated IDE Controller", two of which every generation 1 VM has, or a
 * "Synthetic SCSI Controller" added with AddResourceSettings), a "Synthetic Disk
 * Drive" whose Parent is the controller and AddressOnParent its slot, and an
 * Msvm_StorageAllocationSettingData "Virtual Hard Disk" whose Parent is the drive
 * and HostResource the VHDX path.  A NIC is a port (Msvm_SyntheticEthernetPortSettingData,
 * or Msvm_EmulatedEthernetPortSettingData for a generation 1 "legacy" adapter) plus
 * an Msvm_EthernetPortAllocationSettingData "Ethernet Connection" whose Parent is
 * the port and HostResource the switch.  Parent and HostResource are WMI object
 * paths in text, not endpoint references (pv_wsman_wmi_path).
 *
 * Decisions worth knowing:
 *   - A full listing reads each device class once for all VMs (five
 *     enumerations) and joins them by the VM GUID in InstanceID.  A VHD's size
 *     is in none of them: it takes one
 *     Msvm_ImageManagementService.GetVirtualHardDiskSettingData (MaxInternalSize)
 *     per file, so full listings keep the sizes per path (c->vhds) and ask only
 *     for files they have not seen -- at most HV_INLINE_SIZES of them, so the
 *     first sync of a host with thousands of disks is not thousands of calls
 *     long: the others are read while the watch waits between polls
 *     (hv_vhd_sizes_fill) and reported by the next full listing, null until
 *     then.  A refresh of one VM (after an action) reads its files' sizes anew.
 *   - A new disk is a dynamic VHDX made by CreateVirtualHardDisk at
 *     <volume>\Hyper-V\<VM GUID>\Virtual Hard Disks\disk<N>.vhdx: the GUID keeps a
 *     VM name's characters out of the path, and delete-with-disks removes only
 *     files under that folder (the ones Polyvisor made).  Files are removed with
 *     CIM_DataFile.Delete (root\cimv2): the image management service has no delete.
 *   - A generation 2 VM gets its disks on one synthetic SCSI controller; a
 *     generation 1 VM boots from IDE, so its disks go to the two IDE
 *     controllers' four slots.  Create and a later add share one path
 *     (pick_slots, make_disks): free slots and file names are chosen from
 *     what the VM has, before any file is made.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>
#include "adapters/hyperv-wmi/hv.h"

#define SUB_IDE "Microsoft:Hyper-V:Emulated IDE Controller"
#define SUB_SCSI "Microsoft:Hyper-V:Synthetic SCSI Controller"
#define SUB_DRIVE "Microsoft:Hyper-V:Synthetic Disk Drive"
#define SUB_VHD "Microsoft:Hyper-V:Virtual Hard Disk"
#define SUB_SYNTH "Microsoft:Hyper-V:Synthetic Ethernet Port"
#define SUB_EMUL "Microsoft:Hyper-V:Emulated Ethernet Port"
#define SUB_CONN "Microsoft:Hyper-V:Ethernet Connection"
#define MAX_NEW 16

/* ---- volumes ---------------------------------------------------------------------- */

int hv_volumes_read(struct pv_conn *c, struct pv_error *err)
{
    struct pv_wsman_items vol = {0};
    int rc = pv_wsman_enumerate(c->ws, PV_WMI_CIMV2 "*",
                                "SELECT DeviceID, Name, Label, DriveType, FileSystem, Capacity, "
                                "FreeSpace FROM Win32_Volume", &vol, err);
    if (rc)
        return rc;
    c->nvols = 0;
    for (size_t i = 0; i < vol.n && c->nvols < HV_MAX_VOLS; i++) {
        struct hv_volume *v = &c->vols[c->nvols];
        memset(v, 0, sizeof *v);
        if (!pv_wsman_prop_text(vol.item[i], "DeviceID", v->device_id, sizeof v->device_id) ||
            !pv_wsman_prop_text(vol.item[i], "Name", v->name, sizeof v->name) ||
            strncmp(v->name, "\\\\?\\", 4) == 0 || /* no mount point: nowhere to keep files */
            pv_wsman_prop_int(vol.item[i], "DriveType", 0) != 3)
            continue;
        pv_wsman_prop_text(vol.item[i], "Label", v->label, sizeof v->label);
        pv_wsman_prop_text(vol.item[i], "FileSystem", v->fs, sizeof v->fs);
        v->capacity_mb = pv_wsman_prop_int(vol.item[i], "Capacity", 0) >> 20;
        v->free_mb = pv_wsman_prop_int(vol.item[i], "FreeSpace", 0) >> 20;
        c->nvols++;
    }
    pv_wsman_items_free(&vol);
    return 0;
}

/* The volume a file path lies on (its mount point is a prefix), or NULL. */
static const struct hv_volume *volume_of_path(const struct pv_conn *c, const char *path)
{
    const struct hv_volume *best = NULL;

    for (size_t i = 0; i < c->nvols; i++) {
        size_t l = strlen(c->vols[i].name);
        if (l && strncasecmp(path, c->vols[i].name, l) == 0 && (!best || l > strlen(best->name)))
            best = &c->vols[i];
    }
    return best;
}

/* A pool as a disk names it: its name (the mount point, "D:\\") or its id. */
static const struct hv_volume *volume_named(const struct pv_conn *c, const char *name)
{
    for (size_t i = 0; i < c->nvols; i++)
        if (strcasecmp(name, c->vols[i].name) == 0 || strcasecmp(name, c->vols[i].device_id) == 0)
            return &c->vols[i];
    return NULL;
}

/* ---- reading ---------------------------------------------------------------------- */

/* InstanceID's VM GUID ("Microsoft:GUID\..."), upper case; 0 when none. */
static int item_guid(xmlNodePtr it, char guid[HV_GUID_LEN + 1])
{
    char iid[512];
    const char *p;

    if (!pv_wsman_prop_text(it, "InstanceID", iid, sizeof iid))
        return 0;
    p = strchr(iid, ':');
    p = p ? p + 1 : iid;
    if (strlen(p) < HV_GUID_LEN || (p[HV_GUID_LEN] && p[HV_GUID_LEN] != '\\'))
        return 0;
    for (int i = 0; i < HV_GUID_LEN; i++)
        guid[i] = (char)(p[i] >= 'a' && p[i] <= 'z' ? p[i] - 'a' + 'A' : p[i]);
    guid[HV_GUID_LEN] = '\0';
    return hv_guid_ok(guid);
}

static int is_sub(xmlNodePtr it, const char *sub)
{
    char t[128];
    return pv_wsman_prop_text(it, "ResourceSubType", t, sizeof t) && strcmp(t, sub) == 0;
}

/* The item whose InstanceID is the one a WMI path (Parent) names. */
static xmlNodePtr by_path(xmlNodePtr *items, size_t n, const char *path)
{
    char want[512], iid[512];

    if (!path || !pv_wsman_wmi_path_key(path, "InstanceID", want, sizeof want))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (pv_wsman_prop_text(items[i], "InstanceID", iid, sizeof iid) && strcasecmp(iid, want) == 0)
            return items[i];
    return NULL;
}

/* A VHD's virtual size in bytes (GetVirtualHardDiskSettingData), -1 unknown. */
static long long vhd_size_read(struct pv_conn *c, const char *path)
{
    struct pv_wsman_param p = {.name = "Path", .text = path};
    struct pv_soap_resp *r = NULL;
    xmlNodePtr out, sd;
    char buf[64];
    long long size = -1;
    long rv;

    if ((!c->ims.nsel && hv_service(c, "Msvm_ImageManagementService", &c->ims, NULL) != 0) ||
        pv_wsman_invoke(c->ws, c->ims.uri, "GetVirtualHardDiskSettingData", c->ims.sel, c->ims.nsel, &p,
                        1, &r, &out, &rv, NULL) != 0)
        return -1;
    sd = rv == 0 ? pv_wsman_prop(out, "SettingData") : NULL;
    if (sd && pv_wsman_prop(sd, "MaxInternalSize")) {
        /* WinRM may give the embedded instance as elements ... */
        size = pv_wsman_prop_int(sd, "MaxInternalSize", -1);
    } else if (sd) {
        /* ... or, the parameter being a string, as its CIM-XML text */
        xmlChar *t = xmlNodeGetContent(sd);
        if (t && pv_wsman_embedded_prop((const char *)t, "MaxInternalSize", buf, sizeof buf))
            size = strtoll(buf, NULL, 10);
        xmlFree(t);
    }
    pv_soap_resp_free(r);
    return size;
}

/* The size from c->vhds (fresh: read it anew), remembered for the next listing. */
static long long vhd_size(struct pv_conn *c, const char *path, int fresh)
{
    struct hv_vhd_size *e = NULL;

    for (size_t i = 0; i < c->nvhds && !e; i++)
        if (strcasecmp(c->vhds[i].path, path) == 0)
            e = &c->vhds[i];
    if (e && !fresh && (e->bytes >= 0 || e->tried || c->inline_sizes <= 0)) {
        e->mark = 1;
        return e->bytes;
    }
    if (!e && c->nvhds == c->capvhds) {
        size_t cap = c->capvhds ? c->capvhds * 2 : 64;
        void *q = realloc(c->vhds, cap * sizeof *c->vhds);
        if (!q)
            return vhd_size_read(c, path);
        c->vhds = q;
        c->capvhds = cap;
    }
    if (!e) {
        e = &c->vhds[c->nvhds];
        memset(e, 0, sizeof *e);
        e->bytes = -1;
        e->path = strdup(path);
        if (!e->path)
            return fresh ? vhd_size_read(c, path) : -1;
        c->nvhds++;
    }
    e->mark = 1;
    if (!fresh && c->inline_sizes <= 0)
        return -1; /* left for hv_vhd_sizes_fill */
    if (!fresh)
        c->inline_sizes--;
    e->bytes = vhd_size_read(c, path);
    e->tried = 1;
    return e->bytes;
}

int hv_vhd_sizes_fill(struct pv_conn *c, int budget_ms)
{
    struct timespec t0, now;
    int n = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < c->nvhds; i++) {
        if (c->vhds[i].tried)
            continue;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 >= budget_ms)
            break;
        c->vhds[i].bytes = vhd_size_read(c, c->vhds[i].path);
        c->vhds[i].tried = 1;
        n++;
    }
    return n;
}

void hv_vhd_sizes_free(struct pv_conn *c)
{
    for (size_t i = 0; i < c->nvhds; i++)
        free(c->vhds[i].path);
    free(c->vhds);
    c->vhds = NULL;
    c->nvhds = c->capvhds = 0;
}

/* disks and nics JSON of one VM from its device settings. */
static void vm_devices(struct pv_conn *c, struct hv_vm *v, xmlNodePtr *items, size_t n, int fresh)
{
    json_t *disks = json_array(), *nics = json_array();
    char t[512], t2[512];

    for (size_t i = 0; i < n; i++) {
        xmlNodePtr it = items[i];
        long type = (long)pv_wsman_prop_int(it, "ResourceType", 0);
        if (type == 31 && is_sub(it, SUB_VHD) && pv_wsman_prop_text(it, "HostResource", t, sizeof t)) {
            xmlNodePtr drive = by_path(items, n, pv_wsman_prop_text(it, "Parent", t2, sizeof t2));
            xmlNodePtr ctrl = drive ? by_path(items, n, pv_wsman_prop_text(drive, "Parent", t2, sizeof t2))
                                    : NULL;
            const struct hv_volume *vol = volume_of_path(c, t);
            long long bytes = vhd_size(c, t, fresh);
            json_t *d = json_pack("{s:s, s:s}", "path", t, "bus",
                                  !ctrl ? "unknown" : is_sub(ctrl, SUB_IDE) ? "ide" : "scsi");
            if (pv_wsman_prop_text(it, "InstanceID", t2, sizeof t2))
                json_object_set_new(d, "key", json_string(t2));
            if (vol)
                json_object_set_new(d, "pool_native_id", json_string(vol->device_id));
            json_object_set_new(d, "size_mb", bytes >= 0 ? json_integer(bytes >> 20) : json_null());
            json_object_set_new(d, "size_gb",
                                bytes >= 0 ? json_integer((bytes + (1LL << 30) - 1) >> 30) : json_null());
            json_array_append_new(disks, d);
        } else if (type == 10 && (is_sub(it, SUB_SYNTH) || is_sub(it, SUB_EMUL))) {
            char iid[512] = "", mac[32] = "", path[512];
            json_t *nic = json_pack("{s:s}", "model", is_sub(it, SUB_SYNTH) ? "synthetic" : "emulated");
            pv_wsman_prop_text(it, "InstanceID", iid, sizeof iid);
            json_object_set_new(nic, "key", json_string(iid));
            /* Address is 12 hex digits; 000000000000 until a dynamic MAC is given */
            if (pv_wsman_prop_text(it, "Address", t, sizeof t) && strlen(t) == 12 &&
                strcmp(t, "000000000000") != 0) {
                snprintf(mac, sizeof mac, "%.2s:%.2s:%.2s:%.2s:%.2s:%.2s", t, t + 2, t + 4, t + 6,
                         t + 8, t + 10);
                json_object_set_new(nic, "mac", json_string(mac));
            } else {
                json_object_set_new(nic, "mac", json_null());
            }
            for (size_t j = 0; j < n; j++) {
                if (pv_wsman_prop_int(items[j], "ResourceType", 0) != 33 ||
                    !pv_wsman_prop_text(items[j], "Parent", path, sizeof path) ||
                    !pv_wsman_wmi_path_key(path, "InstanceID", t2, sizeof t2) || strcasecmp(t2, iid) != 0)
                    continue;
                if (pv_wsman_prop_text(items[j], "HostResource", path, sizeof path) &&
                    pv_wsman_wmi_path_key(path, "Name", t2, sizeof t2)) {
                    for (char *p = t2; *p; p++)
                        if (*p >= 'a' && *p <= 'z')
                            *p = (char)(*p - 'a' + 'A');
                    json_object_set_new(nic, "network_native_id", json_string(t2));
                }
                if (pv_wsman_prop_text(items[j], "LastKnownSwitchName", t2, sizeof t2))
                    json_object_set_new(nic, "network", json_string(t2));
                break;
            }
            json_array_append_new(nics, nic);
        }
    }
    free(v->disks);
    free(v->nics);
    v->disks = json_dumps(disks, JSON_COMPACT);
    v->nics = json_dumps(nics, JSON_COMPACT);
    json_decref(disks);
    json_decref(nics);
}

struct ix {
    char guid[HV_GUID_LEN + 1];
    xmlNodePtr n;
};

static int cmp_ix(const void *a, const void *b)
{
    return strcmp(((const struct ix *)a)->guid, ((const struct ix *)b)->guid);
}

int hv_devices_list(struct pv_conn *c, struct hv_vm *vms, size_t nv, struct pv_error *err)
{
    static const char *const wql[] = {
        "SELECT InstanceID, ResourceType, ResourceSubType, Parent, AddressOnParent, Address FROM "
        "Msvm_ResourceAllocationSettingData WHERE ResourceType = 5 OR ResourceType = 6 OR "
        "ResourceType = 17",
        "SELECT InstanceID, ResourceType, ResourceSubType, Parent, HostResource FROM "
        "Msvm_StorageAllocationSettingData WHERE ResourceType = 31",
        "SELECT InstanceID, ResourceType, ResourceSubType, Address FROM Msvm_SyntheticEthernetPortSettingData",
        "SELECT InstanceID, ResourceType, ResourceSubType, Address FROM Msvm_EmulatedEthernetPortSettingData",
        "SELECT InstanceID, ResourceType, ResourceSubType, Parent, HostResource, LastKnownSwitchName FROM "
        "Msvm_EthernetPortAllocationSettingData",
    };
    struct pv_wsman_items it = {0};
    struct ix *ix = NULL;
    xmlNodePtr *mine = NULL;
    size_t nix = 0, a = 0;
    int rc = 0;

    for (size_t q = 0; q < sizeof wql / sizeof wql[0] && !rc; q++)
        rc = pv_wsman_enumerate(c->ws, PV_WMI_V2 "*", wql[q], &it, err);
    if (rc)
        goto out;
    if (!c->nvols && (rc = hv_volumes_read(c, err)))
        goto out;
    ix = calloc(it.n ? it.n : 1, sizeof *ix);
    mine = calloc(it.n ? it.n : 1, sizeof(xmlNodePtr)); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
    if (!ix || !mine) {
        rc = pv_fail(err, out_of_memory, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < it.n; i++)
        if (item_guid(it.item[i], ix[nix].guid))
            ix[nix++].n = it.item[i];
    qsort(ix, nix, sizeof *ix, cmp_ix);
    for (size_t i = 0; i < c->nvhds; i++)
        c->vhds[i].mark = 0;
    c->inline_sizes = HV_INLINE_SIZES;
    /* vms are sorted by GUID too: one walk pairs them */
    for (size_t v = 0; v < nv; v++) {
        size_t m = 0;
        while (a < nix && strcmp(ix[a].guid, vms[v].guid) < 0)
            a++;
        for (size_t b = a; b < nix && strcmp(ix[b].guid, vms[v].guid) == 0; b++)
            mine[m++] = ix[b].n;
        vm_devices(c, &vms[v], mine, m, 0);
    }
    for (size_t i = 0; i < c->nvhds;) { /* forget the files no VM holds any more */
        if (c->vhds[i].mark) {
            i++;
            continue;
        }
        free(c->vhds[i].path);
        c->vhds[i] = c->vhds[--c->nvhds];
    }
out:
    free(ix);
    free(mine);
    pv_wsman_items_free(&it);
    return rc;
}

int hv_devices_one(struct pv_conn *c, struct hv_vm *v, struct pv_error *err)
{
    struct pv_wsman_items it = {0};
    int rc;

    if ((rc = hv_vm_settings(c, v->guid, "CIM_ResourceAllocationSettingData", &it, err)))
        return rc;
    if (!c->nvols && (rc = hv_volumes_read(c, err)))
        goto out;
    vm_devices(c, v, it.item, it.n, 1);
out:
    pv_wsman_items_free(&it);
    return rc;
}

void hv_vm_release(struct hv_vm *v)
{
    if (!v)
        return;
    free(v->disks);
    free(v->nics);
    v->disks = v->nics = NULL;
}

void hv_vms_free(struct hv_vm *vms, size_t n)
{
    for (size_t i = 0; vms && i < n; i++)
        hv_vm_release(&vms[i]);
    free(vms);
}

/* ---- files ------------------------------------------------------------------------- */

int hv_file_delete(struct pv_conn *c, const char *path, struct pv_error *err)
{
    struct pv_wsman_selector sel = {"Name", path};
    struct pv_soap_resp *r = NULL;
    xmlNodePtr out;
    long rv;
    int rc = pv_wsman_invoke(c->ws, PV_WMI_CIMV2 "CIM_DataFile", "Delete", &sel, 1, NULL, 0, &r, &out,
                             &rv, err);
    pv_soap_resp_free(r);
    if (!rc && rv != 0) /* CIM_DataFile.Delete: 2 access denied, 9 invalid object, 15 sharing violation */
        rc = pv_fail(err, job_failed, "deleting %s failed (CIM_DataFile.Delete returned %ld)", path, rv);
    return rc;
}

/* 1 when path is a file Polyvisor made for VM guid (see the opening comment). */
static int ours(const char *path, const char *guid)
{
    char mark[80];
    snprintf(mark, sizeof mark, "\\Hyper-V\\%s\\", guid);
    return strcasestr(path, mark) != NULL;
}

int hv_vm_own_files(struct pv_conn *c, const char *guid, char ***paths, size_t *n, struct pv_error *err)
{
    struct hv_vm v;
    json_t *d, *list;
    size_t i;
    int rc;

    *paths = NULL;
    *n = 0;
    memset(&v, 0, sizeof v);
    snprintf(v.guid, sizeof v.guid, "%s", guid);
    if ((rc = hv_devices_one(c, &v, err)))
        return rc;
    list = v.disks ? json_loads(v.disks, 0, NULL) : NULL;
    *paths = calloc(json_array_size(list) + 1, sizeof **paths);
    json_array_foreach(list, i, d) {
        const char *p = json_string_value(json_object_get(d, "path"));
        if (p && *paths && ours(p, guid))
            (*paths)[(*n)++] = strdup(p);
    }
    json_decref(list);
    hv_vm_release(&v);
    return 0;
}

/* ---- create ------------------------------------------------------------------------- */

struct new_disk {
    const struct hv_volume *vol;    /* NULL: attach `path` as it is */
    char path[512];
    long long size_gb;
    int made;
    char ctrl[512];                 /* InstanceID of the controller it goes on (pick_slots) */
    int addr;                       /* ... and its slot there */
    char drive[512], key[512];      /* InstanceIDs of its drive and VHD setting, once added */
};

struct new_nic {
    char switch_name[128];          /* Msvm_VirtualEthernetSwitch.Name; "" unconnected */
    char port[512];                 /* InstanceID of its adapter, once added */
};

struct hv_plan {
    struct new_disk disk[MAX_NEW];
    size_t ndisks;
    struct new_nic nic[MAX_NEW];
    size_t nnics;
    int gen2;
};

static const char *str_of(json_t *o, const char *a, const char *b)
{
    const char *s = json_string_value(json_object_get(o, a));
    return s ? s : b ? json_string_value(json_object_get(o, b)) : NULL;
}

/* The Name (a GUID) of the switch named net (its ElementName or its Name) among sw. */
static int switch_named(const struct pv_conn *c, const struct pv_wsman_items *sw, const char *net,
                        char *id_out, size_t size, struct pv_error *err)
{
    char name[256], id[128];

    for (size_t k = 0; k < sw->n; k++)
        if (pv_wsman_prop_text(sw->item[k], "Name", id, sizeof id) &&
            ((pv_wsman_prop_text(sw->item[k], "ElementName", name, sizeof name) &&
              strcasecmp(name, net) == 0) || strcasecmp(id, net) == 0)) {
            snprintf(id_out, size, "%s", id);
            return 0;
        }
    return pv_fail(err, unknown_network, "Hyper-V host %s has no virtual switch '%s'", c->host_name, net);
}

int hv_plan_new(struct pv_conn *c, const struct pv_vm_spec *spec, struct hv_plan **out,
                struct pv_error *err)
{
    json_t *dl = spec->disks_json ? json_loads(spec->disks_json, 0, NULL) : NULL;
    json_t *nl = spec->nics_json ? json_loads(spec->nics_json, 0, NULL) : NULL;
    struct pv_wsman_items sw = {0};
    struct hv_plan *p = calloc(1, sizeof *p);
    json_t *d;
    size_t i;
    int rc = 0;

    *out = NULL;
    if (!p) {
        rc = pv_fail(err, out_of_memory, "out of memory");
        goto out;
    }
    p->gen2 = spec->paravirtual != 0;
    if ((dl && !json_is_array(dl)) || json_array_size(dl) > MAX_NEW ||
        (!p->gen2 && json_array_size(dl) > 4)) {
        rc = json_is_array(dl) && json_array_size(dl) <= MAX_NEW
                 ? pv_fail(err, unsupported_by_backend,
                           "a generation 1 Hyper-V VM (paravirtual false) boots from IDE, whose two "
                           "controllers hold 4 disks; ask for at most 4 or a generation 2 VM")
                 : pv_fail(err, invalid_disks, "disks is an array of at most %d disks", MAX_NEW);
        goto out;
    }
    if (json_array_size(dl) && (rc = hv_volumes_read(c, err)))
        goto out;
    json_array_foreach(dl, i, d) {
        struct new_disk *nd = &p->disk[p->ndisks++];
        const char *path = str_of(d, "path", NULL), *pool = str_of(d, "pool", "datastore");
        if (path) {
            /* an existing image, on one of the host's volumes */
            if (path[0] == '\0' || path[1] != ':' || path[2] != '\\' || strstr(path, "\\..\\") ||
                strstr(path, "/")) {
                rc = pv_fail(err, invalid_path, "'%s' is not an absolute Windows path (X:\\...)", path);
                goto out;
            }
            if (!volume_of_path(c, path)) {
                rc = pv_fail(err, disk_path_not_allowed,
                             "Hyper-V host %s keeps disks on its volumes; %s is on none of them",
                             c->host_name, path);
                goto out;
            }
            snprintf(nd->path, sizeof nd->path, "%s", path);
            continue;
        }
        nd->size_gb = json_integer_value(json_object_get(d, "size_gb"));
        if (!json_is_integer(json_object_get(d, "size_gb")) || nd->size_gb < 1 || nd->size_gb > 65536) {
            rc = pv_fail(err, invalid_disks, "a new disk needs size_gb from 1 to 65536 (VHDX's 64 TB)");
            goto out;
        }
        if (pool) {
            nd->vol = volume_named(c, pool);
            if (!nd->vol) {
                rc = pv_fail(err, unknown_pool, "Hyper-V host %s has no volume '%s'", c->host_name, pool);
                goto out;
            }
        } else { /* no pool: the volume with the most room */
            for (size_t k = 0; k < c->nvols; k++)
                if (!nd->vol || c->vols[k].free_mb > nd->vol->free_mb)
                    nd->vol = &c->vols[k];
            if (!nd->vol) {
                rc = pv_fail(err, unknown_pool, "Hyper-V host %s has no volume to keep a disk on",
                             c->host_name);
                goto out;
            }
        }
    }
    if ((nl && !json_is_array(nl)) || json_array_size(nl) > MAX_NEW) {
        rc = pv_fail(err, invalid_nics, "nics is an array of at most %d NICs", MAX_NEW);
        goto out;
    }
    if (json_array_size(nl) &&
        (rc = pv_wsman_enumerate(c->ws, PV_WMI_V2 "*",
                                 "SELECT Name, ElementName FROM Msvm_VirtualEthernetSwitch", &sw, err)))
        goto out;
    json_array_foreach(nl, i, d) {
        struct new_nic *nn = &p->nic[p->nnics++];
        const char *net = str_of(d, "network", "bridge");
        if (net && (rc = switch_named(c, &sw, net, nn->switch_name, sizeof nn->switch_name, err)))
            goto out; /* no network: an adapter on no switch, as Hyper-V allows */
    }
out:
    pv_wsman_items_free(&sw);
    json_decref(dl);
    json_decref(nl);
    if (rc)
        free(p);
    else
        *out = p;
    return rc;
}

void hv_plan_free(struct hv_plan *p)
{
    free(p);
}

/* AddResourceSettings of n embedded RASDs to the VM; the InstanceIDs of what
 * was added, in order, go to iid[] (each >= 512 bytes). */
static int add_resources(struct pv_conn *c, const struct hv_service *svc, const char *guid, char **emb,
                         size_t n, char (*iid)[512], const char *what, const struct pv_sink *s, int p0,
                         int p1, struct pv_error *err)
{
    struct pv_wsman_param p[MAX_NEW + 1];
    char vssd[64];
    struct pv_wsman_selector sel = {"InstanceID", vssd};
    struct pv_soap_resp *r = NULL;
    xmlNodePtr out;
    size_t k = 0;
    long rv;
    int rc;

    snprintf(vssd, sizeof vssd, "Microsoft:%s", guid);
    p[0] = (struct pv_wsman_param){.name = "AffectedConfiguration", .kind = PV_WSMAN_P_EPR,
                                   .resource_uri = PV_WMI_V2 "Msvm_VirtualSystemSettingData",
                                   .sel = &sel, .nsel = 1};
    for (size_t i = 0; i < n; i++)
        p[1 + i] = (struct pv_wsman_param){.name = "ResourceSettings", .text = emb[i]};
    rc = pv_wsman_invoke(c->ws, svc->uri, "AddResourceSettings", svc->sel, svc->nsel, p, n + 1, &r, &out,
                         &rv, err);
    if (!rc) {
        for (xmlNodePtr e = pv_xml_child(out, "ResultingResourceSettings", NULL); e && k < n;
             e = pv_xml_next(e, "ResultingResourceSettings", NULL)) {
            struct pv_wsman_epr epr;
            const char *v;
            if (pv_wsman_epr_parse(e, &epr, NULL) == 0 && (v = pv_wsman_epr_selector(&epr, "InstanceID")))
                snprintf(iid[k++], 512, "%s", v);
        }
        rc = hv_finish(c, out, rv, 1, what, s, p0, p1, err);
    }
    if (!rc && k != n)
        rc = pv_fail(err, bad_response, "%s: AddResourceSettings named %zu of the %zu settings added", what,
                     k, n);
    pv_soap_resp_free(r);
    return rc;
}

static void free_all(char **emb, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(emb[i]);
        emb[i] = NULL;
    }
}

/* The WMI path of a device setting of class cls with InstanceID iid. */
static void path_of(const struct pv_conn *c, const char *cls, const char *iid, char *out, size_t size)
{
    struct pv_wsman_selector k = {"InstanceID", iid};
    if (pv_wsman_wmi_path(c->host_name, cls, &k, 1, out, size) != 0)
        out[0] = '\0';
}

/* The WMI path's InstanceID (a Parent) equals iid. */
static int parent_is(xmlNodePtr it, const char *iid)
{
    char path[1024], k[512];
    return pv_wsman_prop_text(it, "Parent", path, sizeof path) &&
           pv_wsman_wmi_path_key(path, "InstanceID", k, sizeof k) && strcasecmp(k, iid) == 0;
}

/* Where each new disk goes, from what the VM has now: a generation 2 VM's first
 * synthetic SCSI controller (one is added when it has none and may_add; Hyper-V
 * adds controllers only to a VM that is off), a generation 1 VM's two IDE
 * controllers; the lowest free slot (a DVD drive holds one too), and a file name
 * diskN.vhdx no disk of the VM has.  All this before any file is made, so a VM
 * with no room is refused with nothing made. */
static int pick_slots(struct pv_conn *c, const struct hv_service *svc, const char *guid, struct hv_plan *p,
                      int may_add, const struct pv_sink *s, struct pv_error *err)
{
    struct pv_wsman_items it = {0};
    char ctrl[2][512] = {"", ""}, a[8], t[512];
    char *emb = NULL;
    int used[2][64] = {{0}}, slots = p->gen2 ? 64 : 2, nctrl = p->gen2 ? 1 : 2, rc;

    if ((rc = hv_vm_settings(c, guid, "CIM_ResourceAllocationSettingData", &it, err)))
        return rc;
    for (size_t i = 0; i < it.n; i++) {
        if (p->gen2 ? !ctrl[0][0] && is_sub(it.item[i], SUB_SCSI)
                    : is_sub(it.item[i], SUB_IDE) && pv_wsman_prop_text(it.item[i], "Address", a, sizeof a) &&
                          (a[0] == '0' || a[0] == '1') && !a[1])
            pv_wsman_prop_text(it.item[i], "InstanceID", ctrl[p->gen2 ? 0 : a[0] - '0'], sizeof ctrl[0]);
    }
    if (p->gen2 && !ctrl[0][0]) {
        struct pv_cim_prop cp[] = {{"ResourceType", "uint16", "6"}, {"ResourceSubType", "string", SUB_SCSI}};
        if (!may_add) {
            rc = pv_fail(err, vm_running, "VM %s has no SCSI controller, and Hyper-V adds one only while "
                         "the VM is off", guid);
            goto out;
        }
        if ((rc = pv_wsman_embed("Msvm_ResourceAllocationSettingData", cp, 2, &emb, err)) ||
            (rc = add_resources(c, svc, guid, &emb, 1, ctrl, "SCSI controller", s, 50, 55, err)))
            goto out;
    } else if (!p->gen2 && (!ctrl[0][0] || !ctrl[1][0])) {
        rc = pv_fail(err, bad_response, "generation 1 VM %s has no IDE controllers 0 and 1", guid);
        goto out;
    }
    for (size_t i = 0; i < it.n; i++)
        for (int k = 0; k < nctrl; k++) {
            long addr = (long)pv_wsman_prop_int(it.item[i], "AddressOnParent", -1);
            if (parent_is(it.item[i], ctrl[k]) && addr >= 0 && addr < slots)
                used[k][addr] = 1;
        }
    for (size_t i = 0; i < p->ndisks; i++) {
        struct new_disk *d = &p->disk[i];
        int k = 0, n = 0;
        while (k < nctrl && n < slots && used[k][n])
            if (++n == slots && ++k < nctrl)
                n = 0;
        if (k == nctrl || n == slots) {
            rc = pv_fail(err, unsupported_by_backend, "VM %s has no free slot for a disk (%s)", guid,
                         p->gen2 ? "its SCSI controller holds 64" : "its two IDE controllers hold 4");
            goto out;
        }
        used[k][n] = 1;
        snprintf(d->ctrl, sizeof d->ctrl, "%s", ctrl[k]);
        d->addr = n;
        if (!d->vol)
            continue;
        for (int f = 0;; f++) { /* a file name no disk of the VM (or this plan) has */
            int taken = 0;
            snprintf(d->path, sizeof d->path, "%sHyper-V\\%s\\Virtual Hard Disks\\disk%d.vhdx", d->vol->name,
                     guid, f);
            for (size_t j = 0; j < it.n && !taken; j++)
                taken = is_sub(it.item[j], SUB_VHD) && pv_wsman_prop_text(it.item[j], "HostResource", t, sizeof t) &&
                        strcasecmp(t, d->path) == 0;
            for (size_t j = 0; j < i && !taken; j++)
                taken = strcasecmp(p->disk[j].path, d->path) == 0;
            if (!taken)
                break;
        }
    }
out:
    free(emb);
    pv_wsman_items_free(&it);
    return rc;
}

static int make_disks(struct pv_conn *c, const struct hv_service *svc, const char *guid, struct hv_plan *p,
                      int may_add, const struct pv_sink *s, struct pv_error *err)
{
    char *emb[MAX_NEW] = {NULL};
    char (*iid)[512] = calloc(MAX_NEW, 512);
    char path[1024], addr[24], size[32];
    int rc = 0;

    if (!iid) {
        rc = pv_fail(err, out_of_memory, "out of memory");
        goto out;
    }
    if ((rc = pick_slots(c, svc, guid, p, may_add, s, err)))
        goto out;
    /* the files first: a dynamic VHDX per new disk */
    if (!c->ims.nsel && (rc = hv_service(c, "Msvm_ImageManagementService", &c->ims, err)))
        goto out;
    for (size_t i = 0; i < p->ndisks; i++) {
        struct new_disk *d = &p->disk[i];
        struct pv_soap_resp *r = NULL;
        struct pv_wsman_param prm = {.name = "VirtualDiskSettingData"};
        xmlNodePtr out;
        char *e = NULL;
        long rv;
        if (!d->vol)
            continue;
        snprintf(size, sizeof size, "%lld", d->size_gb << 30);
        struct pv_cim_prop vp[] = {{"Path", "string", d->path}, {"Format", "uint16", "3"},
                                   {"Type", "uint16", "3"}, {"MaxInternalSize", "uint64", size}};
        if ((rc = pv_wsman_embed("Msvm_VirtualHardDiskSettingData", vp, 4, &e, err)))
            goto out;
        prm.text = e;
        rc = pv_wsman_invoke(c->ws, c->ims.uri, "CreateVirtualHardDisk", c->ims.sel, c->ims.nsel, &prm, 1,
                             &r, &out, &rv, err);
        free(e);
        if (!rc)
            rc = hv_finish(c, out, rv, 0, "CreateVirtualHardDisk", s, 55, 70, err);
        pv_soap_resp_free(r);
        if (rc)
            goto out;
        d->made = 1;
    }
    /* a drive per disk in its slot */
    for (size_t i = 0; i < p->ndisks; i++) {
        path_of(c, "Msvm_ResourceAllocationSettingData", p->disk[i].ctrl, path, sizeof path);
        snprintf(addr, sizeof addr, "%d", p->disk[i].addr);
        struct pv_cim_prop dp[] = {{"ResourceType", "uint16", "17"}, {"ResourceSubType", "string", SUB_DRIVE},
                                   {"Parent", "string", path}, {"AddressOnParent", "string", addr}};
        if ((rc = pv_wsman_embed("Msvm_ResourceAllocationSettingData", dp, 4, &emb[i], err)))
            goto out;
    }
    if ((rc = add_resources(c, svc, guid, emb, p->ndisks, iid, "disk drives", s, 75, 80, err)))
        goto out;
    for (size_t i = 0; i < p->ndisks; i++)
        snprintf(p->disk[i].drive, sizeof p->disk[i].drive, "%s", iid[i]);
    free_all(emb, p->ndisks);
    /* the VHDX in each drive */
    for (size_t i = 0; i < p->ndisks; i++) {
        path_of(c, "Msvm_ResourceAllocationSettingData", p->disk[i].drive, path, sizeof path);
        struct pv_cim_prop sp[] = {{"ResourceType", "uint16", "31"}, {"ResourceSubType", "string", SUB_VHD},
                                   {"Parent", "string", path}, {"HostResource", "string[]", p->disk[i].path}};
        if ((rc = pv_wsman_embed("Msvm_StorageAllocationSettingData", sp, 4, &emb[i], err)))
            goto out;
    }
    rc = add_resources(c, svc, guid, emb, p->ndisks, iid, "virtual hard disks", s, 80, 85, err);
    for (size_t i = 0; !rc && i < p->ndisks; i++)
        snprintf(p->disk[i].key, sizeof p->disk[i].key, "%s", iid[i]);
out:
    free_all(emb, MAX_NEW);
    free(iid);
    return rc;
}

static int make_nics(struct pv_conn *c, const struct hv_service *svc, const char *guid, struct hv_plan *p,
                     const struct pv_sink *s, struct pv_error *err)
{
    const char *cls = p->gen2 ? "Msvm_SyntheticEthernetPortSettingData" : "Msvm_EmulatedEthernetPortSettingData";
    char *emb[MAX_NEW] = {NULL};
    char (*port)[512] = calloc(MAX_NEW, 512), (*conn)[512] = calloc(MAX_NEW, 512);
    char path[1024], sw[1024];
    size_t nc = 0;
    int rc = 0;

    if (!port || !conn) {
        rc = pv_fail(err, out_of_memory, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < p->nnics; i++) {
        struct pv_cim_prop pp[] = {{"ResourceType", "uint16", "10"},
                                   {"ResourceSubType", "string", p->gen2 ? SUB_SYNTH : SUB_EMUL},
                                   {"ElementName", "string", "Network Adapter"},
                                   {"StaticMacAddress", "boolean", "false"}};
        if ((rc = pv_wsman_embed(cls, pp, 4, &emb[i], err)))
            goto out;
    }
    if ((rc = add_resources(c, svc, guid, emb, p->nnics, port, "network adapters", s, 85, 90, err)))
        goto out;
    for (size_t i = 0; i < p->nnics; i++)
        snprintf(p->nic[i].port, sizeof p->nic[i].port, "%s", port[i]);
    free_all(emb, p->nnics);
    for (size_t i = 0; i < p->nnics; i++) {
        struct pv_wsman_selector k[2] = {{"CreationClassName", "Msvm_VirtualEthernetSwitch"},
                                         {"Name", p->nic[i].switch_name}};
        if (!p->nic[i].switch_name[0])
            continue;
        path_of(c, cls, port[i], path, sizeof path);
        if (pv_wsman_wmi_path(c->host_name, "Msvm_VirtualEthernetSwitch", k, 2, sw, sizeof sw) != 0)
            sw[0] = '\0';
        struct pv_cim_prop cp[] = {{"ResourceType", "uint16", "33"}, {"ResourceSubType", "string", SUB_CONN},
                                   {"Parent", "string", path}, {"HostResource", "string[]", sw}};
        if ((rc = pv_wsman_embed("Msvm_EthernetPortAllocationSettingData", cp, 4, &emb[nc++], err)))
            goto out;
    }
    if (nc)
        rc = add_resources(c, svc, guid, emb, nc, conn, "switch connections", s, 90, 95, err);
out:
    free_all(emb, MAX_NEW);
    free(port);
    free(conn);
    return rc;
}

int hv_plan_apply(struct pv_conn *c, const struct hv_service *svc, const char *guid, struct hv_plan *p,
                  const struct pv_sink *s, struct pv_error *err)
{
    int rc = 0;

    if (p->ndisks)
        rc = make_disks(c, svc, guid, p, 1, s, err);
    if (!rc && p->nnics)
        rc = make_nics(c, svc, guid, p, s, err);
    return rc;
}

void hv_plan_undo(struct pv_conn *c, struct hv_plan *p, struct pv_error *err)
{
    for (size_t i = 0; p && i < p->ndisks; i++) {
        struct pv_error e2 = {0};
        if (!p->disk[i].made || hv_file_delete(c, p->disk[i].path, &e2) == 0)
            continue;
        if (err) {
            size_t l = strlen(err->message);
            snprintf(err->message + l, sizeof err->message - l, "; removing %s failed too: %s",
                     p->disk[i].path, e2.message);
        }
    }
}

/* ---- changes to a VM's devices (vm_device) --------------------------------------------
 *
 * ADD reuses the create path (hv_plan_new + make_disks / make_nics) on the VM as it is;
 * REMOVE is RemoveResourceSettings of the VHD setting and its drive (or the switch
 * connection and its adapter), the VHDX deleted only when it is one Polyvisor made for
 * this VM; RESIZE is Msvm_ImageManagementService.ResizeVirtualHardDisk; CONNECT is
 * ModifyResourceSettings of the adapter's Msvm_EthernetPortAllocationSettingData with
 * another switch in HostResource.  Hot as Hyper-V is: on a VM that is not off, disks
 * change only on a SCSI controller (never IDE, never a new controller), synthetic
 * adapters come and go (Windows Server 2016 and later), a legacy adapter does not;
 * anything else is refused up front with vm_running, before anything is made. */

/* RemoveResourceSettings of n settings (class, InstanceID). */
static int remove_resources(struct pv_conn *c, const struct hv_service *svc, const char *const *cls,
                            char (*iid)[512], size_t n, const char *what, const struct pv_sink *s, int p0,
                            int p1, struct pv_error *err)
{
    struct pv_wsman_param p[4];
    struct pv_wsman_selector sel[4];
    char uri[4][160];
    struct pv_soap_resp *r = NULL;
    xmlNodePtr out;
    long rv;
    int rc;

    for (size_t i = 0; i < n && i < 4; i++) {
        snprintf(uri[i], sizeof uri[i], "%s%s", PV_WMI_V2, cls[i]);
        sel[i] = (struct pv_wsman_selector){"InstanceID", iid[i]};
        p[i] = (struct pv_wsman_param){.name = "ResourceSettings", .kind = PV_WSMAN_P_EPR,
                                       .resource_uri = uri[i], .sel = &sel[i], .nsel = 1};
    }
    rc = pv_wsman_invoke(c->ws, svc->uri, "RemoveResourceSettings", svc->sel, svc->nsel, p, n < 4 ? n : 4,
                         &r, &out, &rv, err);
    if (!rc)
        rc = hv_finish(c, out, rv, 1, what, s, p0, p1, err);
    pv_soap_resp_free(r);
    return rc;
}

/* A setting of the VM by InstanceID among its settings, or NULL. */
static xmlNodePtr by_iid(const struct pv_wsman_items *it, const char *iid)
{
    char t[512];
    for (size_t i = 0; i < it->n; i++)
        if (pv_wsman_prop_text(it->item[i], "InstanceID", t, sizeof t) && strcasecmp(t, iid) == 0)
            return it->item[i];
    return NULL;
}

/* The switch connection whose Parent is adapter iid, or NULL. */
static xmlNodePtr connection_of(const struct pv_wsman_items *it, const char *iid)
{
    for (size_t i = 0; i < it->n; i++)
        if (pv_wsman_prop_int(it->item[i], "ResourceType", 0) == 33 && parent_is(it->item[i], iid))
            return it->item[i];
    return NULL;
}

static void append(struct pv_error *err, const char *what, const char *msg)
{
    size_t l = strlen(err->message);
    snprintf(err->message + l, sizeof err->message - l, "%s%s", what, msg);
}

/* Undo of a failed ADD: what was added to the VM goes, then the files made. */
static void add_undo(struct pv_conn *c, const struct hv_service *svc, const char *guid, struct hv_plan *p,
                     struct pv_error *err)
{
    static const char *const cls[] = {"Msvm_ResourceAllocationSettingData"};
    struct pv_error e2 = {0};

    (void)guid;
    for (size_t i = 0; i < p->ndisks; i++)
        if (p->disk[i].drive[0] && remove_resources(c, svc, cls, &p->disk[i].drive, 1, "undo", NULL, 0, 0, &e2))
            append(err, "; removing the new drive failed too: ", e2.message);
    for (size_t i = 0; i < p->nnics; i++) {
        const char *pc[] = {p->gen2 ? "Msvm_SyntheticEthernetPortSettingData"
                                    : "Msvm_EmulatedEthernetPortSettingData"};
        if (p->nic[i].port[0] && remove_resources(c, svc, pc, &p->nic[i].port, 1, "undo", NULL, 0, 0, &e2))
            append(err, "; removing the new adapter failed too: ", e2.message);
    }
    hv_plan_undo(c, p, err);
}

static int dev_add(struct pv_conn *c, const struct hv_service *svc, const struct hv_vm *v, int on,
                   const struct pv_device_change *ch, const struct pv_sink *s, struct pv_device_result *res,
                   struct pv_error *err)
{
    struct pv_vm_spec spec;
    struct hv_plan *p = NULL;
    json_t *one;
    char *text;
    const char *where = ch->kind == PV_DEV_DISK ? (ch->pool_native_id ? ch->pool_native_id : ch->pool)
                                                : (ch->network_native_id ? ch->network_native_id : ch->network);
    int rc;

    if (on && v->generation != 2)
        return pv_fail(err, vm_running, "generation 1 VM %s keeps its %s, which Hyper-V changes only while the "
                       "VM is off", v->name, ch->kind == PV_DEV_DISK ? "disks on IDE" : "legacy network adapters");
    memset(&spec, 0, sizeof spec);
    spec.paravirtual = v->generation == 2;
    one = ch->kind == PV_DEV_DISK ? json_pack("[{s:I}]", "size_gb", (json_int_t)ch->size_gb) : json_pack("[{}]");
    if (one && where)
        json_object_set_new(json_array_get(one, 0), ch->kind == PV_DEV_DISK ? "pool" : "network",
                            json_string(where));
    text = one ? json_dumps(one, JSON_COMPACT) : NULL;
    json_decref(one);
    if (!text)
        return pv_fail(err, out_of_memory, "out of memory");
    *(ch->kind == PV_DEV_DISK ? &spec.disks_json : &spec.nics_json) = text;
    rc = hv_plan_new(c, &spec, &p, err);
    free(text);
    if (rc)
        return rc;
    rc = ch->kind == PV_DEV_DISK ? make_disks(c, svc, v->guid, p, !on, s, err) : make_nics(c, svc, v->guid, p, s, err);
    if (!rc) {
        const char *key = ch->kind == PV_DEV_DISK ? p->disk[0].key : p->nic[0].port;
        if (strlen(key) >= sizeof res->key)
            rc = pv_fail(err, bad_response, "the new device's InstanceID is over %zu characters", sizeof res->key - 1);
        else
            memcpy(res->key, key, strlen(key) + 1);
    }
    if (rc)
        add_undo(c, svc, v->guid, p, err);
    hv_plan_free(p);
    return rc;
}

/* The disk's VHD setting, drive and controller; a running VM's disk on IDE is refused. */
static int disk_of(const struct pv_wsman_items *it, const struct hv_vm *v, int on, const char *key,
                   const char *what, xmlNodePtr *vhd, xmlNodePtr *drive, struct pv_error *err)
{
    char t[1024];
    xmlNodePtr ctrl;

    *drive = NULL;
    *vhd = by_iid(it, key);
    if (!*vhd || !is_sub(*vhd, SUB_VHD))
        return pv_fail(err, disk_not_found, "VM %s has no virtual hard disk %s", v->name, key);
    *drive = by_path(it->item, it->n, pv_wsman_prop_text(*vhd, "Parent", t, sizeof t));
    ctrl = *drive ? by_path(it->item, it->n, pv_wsman_prop_text(*drive, "Parent", t, sizeof t)) : NULL;
    if (on && (!ctrl || !is_sub(ctrl, SUB_SCSI)))
        return pv_fail(err, vm_running, "VM %s is running and disk %s is on IDE: Hyper-V %s it only while the "
                       "VM is off (or on a SCSI controller)", v->name, key, what);
    return 0;
}

static int dev_remove_disk(struct pv_conn *c, const struct hv_service *svc, const struct hv_vm *v, int on,
                           const struct pv_wsman_items *it, const char *key, const struct pv_sink *s,
                           struct pv_device_result *res, struct pv_error *err)
{
    static const char *const cls[] = {"Msvm_StorageAllocationSettingData", "Msvm_ResourceAllocationSettingData"};
    char iid[2][512], path[512] = "";
    xmlNodePtr vhd, drive;
    struct pv_error e2 = {0};
    int rc;

    if ((rc = disk_of(it, v, on, key, "removes", &vhd, &drive, err)))
        return rc;
    pv_wsman_prop_text(vhd, "HostResource", path, sizeof path);
    snprintf(iid[0], sizeof iid[0], "%s", key);
    iid[1][0] = '\0';
    if (drive)
        pv_wsman_prop_text(drive, "InstanceID", iid[1], sizeof iid[1]);
    if ((rc = remove_resources(c, svc, cls, iid, iid[1][0] ? 2 : 1, "RemoveResourceSettings", s, 10, 80, err)))
        return rc;
    if (path[0] && ours(path, v->guid) && hv_file_delete(c, path, &e2) != 0)
        snprintf(res->note, sizeof res->note, "the disk is detached but its file %s stays: %s", path, e2.message);
    return 0;
}

static int dev_resize(struct pv_conn *c, const struct hv_vm *v, int on, const struct pv_wsman_items *it,
                      const struct pv_device_change *ch, const struct pv_sink *s, struct pv_error *err)
{
    char path[512] = "", size[32];
    xmlNodePtr vhd, drive;
    long long now;
    int rc;

    if ((rc = disk_of(it, v, on, ch->device_key, "resizes", &vhd, &drive, err)))
        return rc;
    if (!pv_wsman_prop_text(vhd, "HostResource", path, sizeof path))
        return pv_fail(err, bad_response, "disk %s names no file", ch->device_key);
    now = vhd_size_read(c, path);
    if (now >= 0 && ch->size_gb << 30 < now)
        return pv_fail(err, shrink_not_supported, "disk %s is %lld MiB: it only grows", ch->device_key, now >> 20);
    if (now == ch->size_gb << 30)
        return 0;
    snprintf(size, sizeof size, "%lld", (long long)ch->size_gb << 30);
    struct pv_wsman_param prm[2] = {{.name = "Path", .text = path}, {.name = "MaxInternalSize", .text = size}};
    struct pv_soap_resp *r = NULL;
    xmlNodePtr out;
    long rv;
    if (!c->ims.nsel && (rc = hv_service(c, "Msvm_ImageManagementService", &c->ims, err)))
        return rc;
    rc = pv_wsman_invoke(c->ws, c->ims.uri, "ResizeVirtualHardDisk", c->ims.sel, c->ims.nsel, prm, 2, &r, &out,
                         &rv, err);
    if (!rc)
        rc = hv_finish(c, out, rv, 0, "ResizeVirtualHardDisk", s, 10, 90, err);
    pv_soap_resp_free(r);
    return rc;
}

static int dev_nic(struct pv_conn *c, const struct hv_service *svc, const struct hv_vm *v, int on,
                   const struct pv_wsman_items *it, const struct pv_device_change *ch, const struct pv_sink *s,
                   struct pv_error *err)
{
    xmlNodePtr port = by_iid(it, ch->device_key), conn;
    const char *pcls;
    char iid[2][512], sw[128] = "", path[1024], swpath[1024];
    struct pv_wsman_items sws = {0};
    int rc;

    if (!port || pv_wsman_prop_int(port, "ResourceType", 0) != 10)
        return pv_fail(err, nic_not_found, "VM %s has no network adapter %s", v->name, ch->device_key);
    pcls = is_sub(port, SUB_SYNTH) ? "Msvm_SyntheticEthernetPortSettingData" : "Msvm_EmulatedEthernetPortSettingData";
    conn = connection_of(it, ch->device_key);
    if (ch->op == PV_DEV_REMOVE) {
        const char *cls[] = {"Msvm_EthernetPortAllocationSettingData", pcls};
        if (on && !is_sub(port, SUB_SYNTH))
            return pv_fail(err, vm_running, "VM %s is running and %s is a legacy network adapter, which Hyper-V "
                           "removes only while the VM is off", v->name, ch->device_key);
        iid[0][0] = '\0';
        if (conn)
            pv_wsman_prop_text(conn, "InstanceID", iid[0], sizeof iid[0]);
        snprintf(iid[1], sizeof iid[1], "%s", ch->device_key);
        return conn ? remove_resources(c, svc, cls, iid, 2, "RemoveResourceSettings", s, 10, 90, err)
                    : remove_resources(c, svc, cls + 1, iid + 1, 1, "RemoveResourceSettings", s, 10, 90, err);
    }
    /* CONNECT: the connection's HostResource names another switch (a new connection when it had none) */
    if (ch->network_native_id || ch->network) {
        if ((rc = pv_wsman_enumerate(c->ws, PV_WMI_V2 "*", "SELECT Name, ElementName FROM Msvm_VirtualEthernetSwitch",
                                     &sws, err)) ||
            (rc = switch_named(c, &sws, ch->network_native_id ? ch->network_native_id : ch->network, sw, sizeof sw,
                               err))) {
            pv_wsman_items_free(&sws);
            return rc;
        }
        pv_wsman_items_free(&sws);
    }
    struct pv_wsman_selector k[2] = {{"CreationClassName", "Msvm_VirtualEthernetSwitch"}, {"Name", sw}};
    if (!sw[0] || pv_wsman_wmi_path(c->host_name, "Msvm_VirtualEthernetSwitch", k, 2, swpath, sizeof swpath) != 0)
        swpath[0] = '\0';
    char *emb = NULL;
    if (conn) {
        struct pv_soap_resp *r = NULL;
        xmlNodePtr out;
        long rv;
        pv_wsman_prop_text(conn, "InstanceID", iid[0], sizeof iid[0]);
        struct pv_cim_prop cp[] = {{"InstanceID", "string", iid[0]}, {"HostResource", "string[]", swpath}};
        if ((rc = pv_wsman_embed("Msvm_EthernetPortAllocationSettingData", cp, swpath[0] ? 2 : 1, &emb, err)))
            return rc;
        struct pv_wsman_param prm = {.name = "ResourceSettings", .text = emb};
        rc = pv_wsman_invoke(c->ws, svc->uri, "ModifyResourceSettings", svc->sel, svc->nsel, &prm, 1, &r, &out,
                             &rv, err);
        if (!rc)
            rc = hv_finish(c, out, rv, 1, "ModifyResourceSettings", s, 10, 90, err);
        pv_soap_resp_free(r);
    } else if (swpath[0]) {
        path_of(c, pcls, ch->device_key, path, sizeof path);
        struct pv_cim_prop cp[] = {{"ResourceType", "uint16", "33"}, {"ResourceSubType", "string", SUB_CONN},
                                   {"Parent", "string", path}, {"HostResource", "string[]", swpath}};
        if ((rc = pv_wsman_embed("Msvm_EthernetPortAllocationSettingData", cp, 4, &emb, err)))
            return rc;
        rc = add_resources(c, svc, v->guid, &emb, 1, iid, "switch connection", s, 10, 90, err);
    } else {
        rc = 0;
    }
    free(emb);
    return rc;
}

/* MOVE: Hyper-V's storage migration of one VHD, running or not (any controller):
 * MigrateVirtualSystemToHost to the VM's own host with MigrationType Storage and
 * the disk's Msvm_StorageAllocationSettingData with its new path in HostResource.
 * vmms copies the file, switches the VM to the copy and deletes the source
 * itself; the job's PercentComplete is the job's progress. */
static int dev_move(struct pv_conn *c, const struct hv_vm *v, const struct pv_wsman_items *it,
                    const struct pv_device_change *ch, const struct pv_sink *s, struct pv_error *err)
{
    const char *pool = ch->pool_native_id ? ch->pool_native_id : ch->pool, *base;
    const struct hv_volume *to, *from;
    char path[512] = "", npath[512];
    xmlNodePtr vhd, drive;
    char *emb = NULL;
    int rc;

    if ((rc = disk_of(it, v, 0, ch->device_key, "moves", &vhd, &drive, err)))
        return rc;
    if (!pv_wsman_prop_text(vhd, "HostResource", path, sizeof path))
        return pv_fail(err, bad_response, "disk %s names no file", ch->device_key);
    if ((rc = hv_volumes_read(c, err)) || (rc = hv_host_identity(c, err)))
        return rc;
    if (!pool || !(to = volume_named(c, pool)))
        return pv_fail(err, unknown_pool, "Hyper-V host %s has no volume '%s'", c->host_name, pool ? pool : "");
    from = volume_of_path(c, path);
    if (from == to)
        return pv_fail(err, same_pool, "disk %s is on %s already", ch->device_key, to->name);
    base = strrchr(path, '\\');
    if ((size_t)snprintf(npath, sizeof npath, "%sHyper-V\\%s\\Virtual Hard Disks\\%s", to->name, v->guid,
                         base ? base + 1 : path) >= sizeof npath)
        return pv_fail(err, invalid_path, "the new path of %s is too long", path);
    struct pv_cim_prop sp[] = {{"InstanceID", "string", ch->device_key}, {"ResourceType", "uint16", "31"},
                               {"ResourceSubType", "string", SUB_VHD}, {"HostResource", "string[]", npath}};
    if ((rc = pv_wsman_embed("Msvm_StorageAllocationSettingData", sp, 4, &emb, err)))
        return rc;
    rc = hv_migrate_to(c, v->guid, c->host_fqdn[0] ? c->host_fqdn : c->host_name, HV_MIGRATE_STORAGE, emb, s, 5,
                       95, err);
    free(emb);
    return rc;
}

int hv_vm_device(struct pv_conn *c, const char *vm, const struct pv_device_change *ch, const struct pv_sink *s,
                 struct pv_device_result *res, struct pv_error *err)
{
    struct hv_service svc;
    struct pv_wsman_items it = {0};
    struct hv_vm v;
    int rc, on;

    memset(res, 0, sizeof *res);
    if (!hv_guid_ok(vm))
        return pv_fail(err, vm_not_found, "'%s' is not a Hyper-V VM id", vm);
    if ((ch->op == PV_DEV_RESIZE && ch->kind != PV_DEV_DISK) || (ch->op == PV_DEV_CONNECT && ch->kind != PV_DEV_NIC))
        return pv_fail(err, unsupported_by_backend, "that change does not apply to that kind of device");
    if ((ch->op == PV_DEV_ADD || ch->op == PV_DEV_RESIZE) && ch->kind == PV_DEV_DISK &&
        (ch->size_gb < 1 || ch->size_gb > 65536))
        return pv_fail(err, invalid_disks, "a disk's size_gb is from 1 to 65536 (VHDX's 64 TB)");
    memset(&v, 0, sizeof v);
    if ((rc = hv_vm_get(c, vm, &v, err)))
        return rc;
    on = hv_power_state(v.enabled_state) != PV_POWER_STOPPED;
    if ((rc = hv_service(c, "Msvm_VirtualSystemManagementService", &svc, err)))
        goto out;
    if (ch->op != PV_DEV_ADD) {
        if (!ch->device_key) {
            rc = pv_fail(err, invalid_disks, "the change names no device");
            goto out;
        }
        if ((rc = hv_vm_settings(c, v.guid, "CIM_ResourceAllocationSettingData", &it, err)))
            goto out;
    }
    switch (ch->op) {
    case PV_DEV_ADD:
        rc = dev_add(c, &svc, &v, on, ch, s, res, err);
        break;
    case PV_DEV_REMOVE:
        rc = ch->kind == PV_DEV_DISK ? dev_remove_disk(c, &svc, &v, on, &it, ch->device_key, s, res, err)
                                     : dev_nic(c, &svc, &v, on, &it, ch, s, err);
        break;
    case PV_DEV_RESIZE:
        rc = dev_resize(c, &v, on, &it, ch, s, err);
        break;
    case PV_DEV_CONNECT:
        rc = dev_nic(c, &svc, &v, on, &it, ch, s, err);
        break;
    case PV_DEV_MOVE:
        rc = ch->kind == PV_DEV_DISK ? dev_move(c, &v, &it, ch, s, err)
                                     : pv_fail(err, unsupported_by_backend, "only a disk moves to another pool");
        break;
    }
    if (!rc) {
        struct pv_error e2 = {0};
        res->live = on;
        (void)hv_refresh(c, v.guid, s, &e2); /* the change is made; a failed read is the next poll's */
    }
out:
    pv_wsman_items_free(&it);
    hv_vm_release(&v);
    return rc;
}
