/* vc_devices.c -- the vcenter adapter's vm_device (ABI 10): one change to
 * one of a VM's disks or NICs, as ReconfigVM_Task with a deviceChange
 * (add, remove, edit), and a disk's storage move as RelocateVM_Task with a
 * disk locator.  Devices are named by their vSphere device key.
 *
 * Two decisions a reader needs:
 * - An edit or a remove sends the device back as vCenter gave it
 *   (config.hardware.device, copied element by element), changed only where
 *   the change says (capacity, backing) -- what govc does too: vCenter wants
 *   the whole device in an edit, and vcsim replaces the device with exactly
 *   what it is sent (a device without its deviceInfo even crashes its edit).
 * - A removed disk's file is destroyed (fileOperation destroy) only when it
 *   lies in the VM's own directory (the directory of config.files.vmPathName,
 *   on any datastore): that is where vCenter puts the disks it makes for the
 *   VM, at create and at an add.  A disk attached from elsewhere (another
 *   VM's, a shared image) is detached and its file kept.
 *
 * A new disk goes to the first SCSI controller with a free unit (unit 7 is
 * the controller's own); a VM with none gets an LSI Logic controller in the
 * same reconfigure.  A new NIC is of the model of the VM's first NIC
 * (E1000 when it has none: every guest has a driver for it).  A standard
 * port group is a VirtualEthernetCardNetworkBackingInfo by name, a
 * distributed one a VirtualEthernetCardDistributedVirtualPortBackingInfo
 * with the switch's uuid and the port group's key.  vSphere hot-adds and
 * hot-removes SCSI disks and NICs and grows a SCSI disk of a running VM; it
 * does none of that on IDE, which is refused here up front (vm_running)
 * rather than left to the fault.  Every change ends with the VM read back
 * and reported through the sink, so the daemon stores vCenter's word.
 */
#include <stdlib.h>
#include <string.h>
#include <libxml/xmlwriter.h>
#include "vc.h"

#define NEW_CTRL_KEY (-100)
#define NEW_DEV_KEY (-101)
#define SCSI_UNITS 16
#define SCSI_BUSES 4

/* What a change needs to know of the VM, read in one call. */
struct vm_now {
    xmlDocPtr doc;          /* owns a copy of config.hardware.device */
    xmlNodePtr devices;     /* its root (ArrayOfVirtualDevice), or NULL */
    char power[32];
    char vmx[512];          /* config.files.vmPathName */
    int found;
};

static void got_vm(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc, void *ud)
{
    struct vm_now *v = ud;
    xmlNodePtr d = vc_prop(oc, "config.hardware.device");
    (void)c;
    (void)type;
    (void)moref;
    v->found = 1;
    pv_xml_text(vc_prop(oc, "runtime.powerState"), v->power, sizeof v->power);
    pv_xml_text(vc_prop(oc, "config.files.vmPathName"), v->vmx, sizeof v->vmx);
    if (d && !v->doc && (v->doc = xmlNewDoc(BAD_CAST "1.0")) != NULL) {
        v->devices = xmlDocCopyNode(d, v->doc, 1);
        if (v->devices)
            xmlDocSetRootElement(v->doc, v->devices);
    }
}

static void vm_now_free(struct vm_now *v)
{
    if (v->doc)
        xmlFreeDoc(v->doc);
    memset(v, 0, sizeof *v);
}

static int read_vm(struct pv_conn *c, const char *vm, struct vm_now *v, struct pv_error *err)
{
    static const char *const paths[] = {"config.hardware.device", "runtime.powerState",
                                        "config.files.vmPathName", NULL};
    int rc;

    memset(v, 0, sizeof *v);
    rc = vc_retrieve_obj(c, "VirtualMachine", vm, paths, got_vm, v, err);
    if (rc == PV_ENOTFOUND || (!rc && !v->found))
        rc = pv_fail(err, vm_not_found, "vCenter %s has no VM %s", c->url, vm);
    if (!rc && !v->devices)
        rc = pv_fail(err, bad_response, "vCenter lists no devices for VM %s", vm);
    if (rc)
        vm_now_free(v);
    return rc;
}

/* ---- reading devices ------------------------------------------------------- */

static long long dev_int(xmlNodePtr d, const char *name, long long dflt)
{
    return pv_xml_int(pv_xml_child(d, name, NULL), dflt);
}

static const char *dev_type(xmlNodePtr d, char *t, size_t size)
{
    if (!pv_xml_xsi_type(d, t, size))
        t[0] = '\0';
    return t;
}

static xmlNodePtr dev_by_key(const struct vm_now *v, long long key)
{
    for (xmlNodePtr d = pv_xml_child(v->devices, NULL, NULL); d; d = pv_xml_next(d, NULL, NULL))
        if (dev_int(d, "key", 0) == key)
            return d;
    return NULL;
}

static int is_disk(xmlNodePtr d)
{
    char t[64];
    return strcmp(dev_type(d, t, sizeof t), "VirtualDisk") == 0;
}

static int is_nic(xmlNodePtr d)
{
    char t[64];
    dev_type(d, t, sizeof t);
    return strncmp(t, "VirtualE1000", 12) == 0 || strncmp(t, "VirtualVmxnet", 13) == 0 ||
           strcmp(t, "VirtualPCNet32") == 0 || strcmp(t, "VirtualSriovEthernetCard") == 0;
}

static int is_scsi_controller(xmlNodePtr d)
{
    char t[64];
    dev_type(d, t, sizeof t);
    return strstr(t, "SCSIController") || strstr(t, "LsiLogic") || strstr(t, "BusLogic");
}

/* The controller a disk hangs on is IDE: vSphere changes nothing there live. */
static int on_ide(const struct vm_now *v, xmlNodePtr disk)
{
    char t[64];
    xmlNodePtr ctrl = dev_by_key(v, dev_int(disk, "controllerKey", 0));
    return ctrl && strstr(dev_type(ctrl, t, sizeof t), "IDE") != NULL;
}

static int running(const struct vm_now *v)
{
    return strcmp(v->power, "poweredOn") == 0;
}

/* The device the change names, of the kind it names; disk_not_found /
 * nic_not_found otherwise. */
static int named_device(const struct vm_now *v, const char *vm, const struct pv_device_change *ch,
                        xmlNodePtr *out, struct pv_error *err)
{
    char *end = NULL;
    long long key = ch->device_key ? strtoll(ch->device_key, &end, 10) : 0;
    xmlNodePtr d = end && !*end && end != ch->device_key ? dev_by_key(v, key) : NULL;

    if (d && (ch->kind == PV_DEV_NIC ? is_nic(d) : is_disk(d))) {
        *out = d;
        return 0;
    }
    if (ch->kind == PV_DEV_NIC)
        return pv_fail(err, nic_not_found, "VM %s has no NIC with key %s", vm,
                       ch->device_key ? ch->device_key : "(none)");
    return pv_fail(err, disk_not_found, "VM %s has no disk with key %s", vm,
                   ch->device_key ? ch->device_key : "(none)");
}

/* A key of the kind asked that the VM has now and did not have before. */
static void new_key(const struct vm_now *before, const struct vm_now *after, int nic, char *key,
                    size_t size)
{
    key[0] = '\0';
    for (xmlNodePtr d = pv_xml_child(after->devices, NULL, NULL); d; d = pv_xml_next(d, NULL, NULL))
        if ((nic ? is_nic(d) : is_disk(d)) && !dev_by_key(before, dev_int(d, "key", 0))) {
            snprintf(key, size, "%lld", dev_int(d, "key", 0));
            return;
        }
}

/* "[ds] dir/file.vmdk" -> "dir" (in dir, size); "" when there is none. */
static void dir_of(const char *ds_path, char *dir, size_t size)
{
    const char *p = strchr(ds_path, ']'), *slash;

    dir[0] = '\0';
    if (!p)
        return;
    for (p++; *p == ' '; p++)
        ;
    slash = strrchr(p, '/');
    if (slash)
        snprintf(dir, size, "%.*s", (int)(slash - p), p);
}

/* Was the disk's file made for this VM (see the top)? */
static int made_for_vm(const struct vm_now *v, xmlNodePtr disk)
{
    char file[512], d1[512], d2[512];

    if (!pv_xml_text(pv_xml_path(disk, "backing/fileName"), file, sizeof file))
        return 0;
    dir_of(file, d1, sizeof d1);
    dir_of(v->vmx, d2, sizeof d2);
    return d1[0] && strcmp(d1, d2) == 0;
}

/* ---- writing devices --------------------------------------------------------- */

/* What to change while a device is copied back (see the top). */
struct edit {
    long long capacity_kb;  /* > 0: the new capacityInKB (and capacityInBytes) */
    void (*backing)(struct pv_soap_writer *sw, const void *ud); /* the new backing */
    const void *ud;
};

/* One element and all below it, as read: the element's name in vim25's
 * namespace (the method's default), its xsi:type kept. */
static void copy_element(struct pv_soap_writer *sw, xmlNodePtr e)
{
    char t[128];
    int children = 0;

    for (xmlNodePtr k = e->children; k; k = k->next)
        children |= k->type == XML_ELEMENT_NODE;
    pv_soap_w_start(sw, (const char *)e->name, NULL);
    if (pv_xml_xsi_type(e, t, sizeof t))
        pv_soap_w_xsi_type(sw, t);
    for (xmlAttrPtr a = e->properties; a; a = a->next)
        if (!a->ns) { /* a MoRef's type="Datastore"; xsi:type is written above */
            xmlChar *val = xmlNodeGetContent((xmlNodePtr)a);
            pv_soap_w_attr(sw, (const char *)a->name, val ? (const char *)val : "");
            xmlFree(val);
        }
    if (children) {
        for (xmlNodePtr k = e->children; k; k = k->next)
            if (k->type == XML_ELEMENT_NODE)
                copy_element(sw, k);
    } else {
        xmlChar *text = xmlNodeGetContent(e);
        if (text && xmlTextWriterWriteString(sw->w, text) < 0)
            sw->failed = 1;
        xmlFree(text);
    }
    pv_soap_w_end(sw);
}

static void copy_device(struct pv_soap_writer *sw, xmlNodePtr d, const struct edit *ed)
{
    char t[128];

    pv_soap_w_start(sw, "device", NULL);
    pv_soap_w_xsi_type(sw, dev_type(d, t, sizeof t));
    for (xmlNodePtr k = pv_xml_child(d, NULL, NULL); k; k = pv_xml_next(k, NULL, NULL)) {
        const char *n = (const char *)k->name;
        if (ed && ed->capacity_kb > 0 && strcmp(n, "capacityInKB") == 0)
            pv_soap_w_int(sw, n, ed->capacity_kb);
        else if (ed && ed->capacity_kb > 0 && strcmp(n, "capacityInBytes") == 0)
            pv_soap_w_int(sw, n, ed->capacity_kb * 1024);
        else if (ed && ed->backing && strcmp(n, "backing") == 0)
            ed->backing(sw, ed->ud);
        else
            copy_element(sw, k);
    }
    pv_soap_w_end(sw);
}

static void begin_change(struct pv_soap_writer *sw, const char *op, const char *file_op)
{
    pv_soap_w_start(sw, "deviceChange", NULL);
    pv_soap_w_text(sw, "operation", op);
    if (file_op)
        pv_soap_w_text(sw, "fileOperation", file_op);
}

/* Where a NIC plugs in: a standard port group by name (and Network MoRef
 * when known), a distributed one by its switch's uuid and its key. */
struct nic_target {
    const char *name;
    const char *network;    /* Network MoRef, or NULL */
    char switch_uuid[128];  /* set: a distributed port group */
    char portgroup_key[128];
};

static void write_nic_backing(struct pv_soap_writer *sw, const void *ud)
{
    const struct nic_target *n = ud;

    pv_soap_w_start(sw, "backing", NULL);
    if (n->switch_uuid[0]) {
        pv_soap_w_xsi_type(sw, "VirtualEthernetCardDistributedVirtualPortBackingInfo");
        pv_soap_w_start(sw, "port", NULL);
        pv_soap_w_text(sw, "switchUuid", n->switch_uuid);
        pv_soap_w_text(sw, "portgroupKey", n->portgroup_key);
        pv_soap_w_end(sw);
    } else {
        pv_soap_w_xsi_type(sw, "VirtualEthernetCardNetworkBackingInfo");
        pv_soap_w_text(sw, "deviceName", n->name);
        if (n->network)
            pv_soap_w_moref(sw, "network", "Network", n->network);
    }
    pv_soap_w_end(sw);
}

static int is_dvpg(const struct pv_device_change *ch)
{
    return ch->network_kind && strcmp(ch->network_kind, "dvportgroup") == 0;
}

static int nic_target(struct pv_conn *c, const struct pv_device_change *ch, struct nic_target *n,
                      struct pv_error *err)
{
    char dvs[256], dvs_type[64];
    int rc;

    memset(n, 0, sizeof *n);
    n->name = ch->network;
    if (!n->name || !*n->name)
        return pv_fail(err, unknown_network, "a NIC change names a network");
    if (!is_dvpg(ch)) {
        n->network = ch->network_native_id;
        return 0;
    }
    if (!ch->network_native_id)
        return pv_fail(err, unknown_network, "distributed port group '%.64s' has no MoRef in the "
                       "inventory yet", n->name);
    rc = vc_get_prop(c, "DistributedVirtualPortgroup", ch->network_native_id, "key",
                     n->portgroup_key, sizeof n->portgroup_key, NULL, 0, err);
    if (!rc)
        rc = vc_get_prop(c, "DistributedVirtualPortgroup", ch->network_native_id,
                         "config.distributedVirtualSwitch", dvs, sizeof dvs, dvs_type,
                         sizeof dvs_type, err);
    if (!rc)
        rc = vc_get_prop(c, dvs_type[0] ? dvs_type : "VmwareDistributedVirtualSwitch", dvs, "uuid",
                         n->switch_uuid, sizeof n->switch_uuid, NULL, 0, err);
    if (rc == PV_ENOTFOUND)
        return pv_fail(err, unknown_network, "vCenter %s has no distributed port group %s (or "
                       "its switch is gone)", c->url, ch->network_native_id);
    return rc;
}

/* The SCSI controller and unit a new disk takes; *ctrl_key NEW_CTRL_KEY and
 * *bus set when a controller is to be added. */
static int free_unit(const struct vm_now *v, const char *vm, long long *ctrl_key, int *unit,
                     int *bus, struct pv_error *err)
{
    int buses = 0;

    for (xmlNodePtr ctl = pv_xml_child(v->devices, NULL, NULL); ctl; ctl = pv_xml_next(ctl, NULL, NULL)) {
        long long key = dev_int(ctl, "key", 0);
        int used[SCSI_UNITS] = {0};
        if (!is_scsi_controller(ctl))
            continue;
        buses |= 1 << (dev_int(ctl, "busNumber", 0) & 3);
        used[7] = 1; /* the controller's own */
        for (xmlNodePtr d = pv_xml_child(v->devices, NULL, NULL); d; d = pv_xml_next(d, NULL, NULL)) {
            long long u = dev_int(d, "unitNumber", -1);
            if (dev_int(d, "controllerKey", 0) == key && u >= 0 && u < SCSI_UNITS)
                used[u] = 1;
        }
        for (int u = 0; u < SCSI_UNITS; u++)
            if (!used[u]) {
                *ctrl_key = key;
                *unit = u;
                return 0;
            }
    }
    for (int b = 0; b < SCSI_BUSES; b++)
        if (!(buses & (1 << b))) {
            *ctrl_key = NEW_CTRL_KEY;
            *unit = 0;
            *bus = b;
            return 0;
        }
    return pv_fail(err, invalid_vm_config, "VM %s has %d SCSI controllers with every unit taken",
                   vm, SCSI_BUSES);
}

/* ---- the changes ---------------------------------------------------------------- */

static int reconfig_begin(struct pv_soap_writer *sw, const char *vm, struct pv_error *err)
{
    int rc = vc_begin(sw, "ReconfigVM_Task", "VirtualMachine", vm, err);
    if (!rc)
        pv_soap_w_start(sw, "spec", NULL);
    return rc;
}

static int reconfig_run(struct pv_conn *c, struct pv_soap_writer *sw, const char *what,
                        const struct pv_sink *s, struct pv_error *err)
{
    pv_soap_w_end(sw); /* spec */
    return vc_run_task(c, sw, what, s, NULL, 0, err);
}

static int add_disk(struct pv_conn *c, const char *vm, const struct vm_now *v,
                    const struct pv_device_change *ch, const struct pv_sink *s, struct pv_error *err)
{
    struct pv_soap_writer sw;
    long long ctrl = 0;
    int unit = 0, bus = 0, rc;
    char path[300];

    if (ch->size_gb < 1 || ch->size_gb > 65536)
        return pv_fail(err, invalid_disks, "a disk is 1..65536 GiB");
    if (!ch->pool || !*ch->pool)
        return pv_fail(err, unknown_pool, "a new vSphere disk names its datastore");
    if ((rc = free_unit(v, vm, &ctrl, &unit, &bus, err)) || (rc = reconfig_begin(&sw, vm, err)))
        return rc;
    if (ctrl == NEW_CTRL_KEY) {
        begin_change(&sw, "add", NULL);
        pv_soap_w_start(&sw, "device", NULL);
        pv_soap_w_xsi_type(&sw, "VirtualLsiLogicController");
        pv_soap_w_int(&sw, "key", NEW_CTRL_KEY);
        pv_soap_w_int(&sw, "busNumber", bus);
        pv_soap_w_text(&sw, "sharedBus", "noSharing");
        pv_soap_w_end(&sw);
        pv_soap_w_end(&sw);
    }
    begin_change(&sw, "add", "create");
    pv_soap_w_start(&sw, "device", NULL);
    pv_soap_w_xsi_type(&sw, "VirtualDisk");
    pv_soap_w_int(&sw, "key", NEW_DEV_KEY);
    pv_soap_w_start(&sw, "backing", NULL);
    pv_soap_w_xsi_type(&sw, "VirtualDiskFlatVer2BackingInfo");
    snprintf(path, sizeof path, "[%s]", ch->pool); /* vCenter names the file, in the VM's directory */
    pv_soap_w_text(&sw, "fileName", path);
    if (ch->pool_native_id)
        pv_soap_w_moref(&sw, "datastore", "Datastore", ch->pool_native_id);
    pv_soap_w_text(&sw, "diskMode", "persistent");
    pv_soap_w_text(&sw, "thinProvisioned", "true");
    pv_soap_w_end(&sw);
    pv_soap_w_int(&sw, "controllerKey", ctrl);
    pv_soap_w_int(&sw, "unitNumber", unit);
    pv_soap_w_int(&sw, "capacityInKB", (long long)ch->size_gb * 1024 * 1024);
    pv_soap_w_end(&sw);
    pv_soap_w_end(&sw);
    return reconfig_run(c, &sw, "add disk", s, err);
}

static void write_nic_model(struct pv_soap_writer *sw, const struct vm_now *v)
{
    char t[64] = "VirtualE1000";

    for (xmlNodePtr d = pv_xml_child(v->devices, NULL, NULL); d; d = pv_xml_next(d, NULL, NULL))
        if (is_nic(d)) {
            dev_type(d, t, sizeof t);
            if (strcmp(t, "VirtualSriovEthernetCard") == 0) /* needs a physical function */
                snprintf(t, sizeof t, "VirtualE1000");
            break;
        }
    pv_soap_w_xsi_type(sw, t);
}

static int add_nic(struct pv_conn *c, const char *vm, const struct vm_now *v,
                   const struct pv_device_change *ch, const struct pv_sink *s, struct pv_error *err)
{
    struct pv_soap_writer sw;
    struct nic_target n;
    int rc = nic_target(c, ch, &n, err);

    if (rc || (rc = reconfig_begin(&sw, vm, err)))
        return rc;
    begin_change(&sw, "add", NULL);
    pv_soap_w_start(&sw, "device", NULL);
    write_nic_model(&sw, v);
    pv_soap_w_int(&sw, "key", NEW_DEV_KEY);
    write_nic_backing(&sw, &n);
    pv_soap_w_start(&sw, "connectable", NULL);
    pv_soap_w_text(&sw, "startConnected", "true");
    pv_soap_w_text(&sw, "allowGuestControl", "true");
    pv_soap_w_text(&sw, "connected", running(v) ? "true" : "false");
    pv_soap_w_end(&sw);
    pv_soap_w_text(&sw, "addressType", "generated");
    pv_soap_w_end(&sw);
    pv_soap_w_end(&sw);
    return reconfig_run(c, &sw, "add NIC", s, err);
}

static int change_device(struct pv_conn *c, const char *vm, xmlNodePtr d, const char *op,
                         const char *file_op, const struct edit *ed, const char *what,
                         const struct pv_sink *s, struct pv_error *err)
{
    struct pv_soap_writer sw;
    int rc = reconfig_begin(&sw, vm, err);

    if (rc)
        return rc;
    begin_change(&sw, op, file_op);
    copy_device(&sw, d, ed);
    pv_soap_w_end(&sw);
    return reconfig_run(c, &sw, what, s, err);
}

static int move_disk(struct pv_conn *c, const char *vm, xmlNodePtr d,
                     const struct pv_device_change *ch, const struct pv_sink *s, struct pv_error *err)
{
    struct pv_soap_writer sw;
    char now[256] = "";
    int rc;

    if (!ch->pool_native_id || !*ch->pool_native_id)
        return pv_fail(err, unknown_pool, "datastore '%.64s' has no MoRef in the inventory yet",
                       ch->pool ? ch->pool : "");
    pv_xml_text(pv_xml_path(d, "backing/datastore"), now, sizeof now);
    if (strcmp(now, ch->pool_native_id) == 0)
        return pv_fail(err, same_pool, "disk %s of VM %s is on datastore %s already",
                       ch->device_key, vm, ch->pool_native_id);
    if ((rc = vc_begin(&sw, "RelocateVM_Task", "VirtualMachine", vm, err)))
        return rc;
    /* no spec.datastore: the VM's other files stay where they are */
    pv_soap_w_start(&sw, "spec", NULL);
    pv_soap_w_start(&sw, "disk", NULL);
    pv_soap_w_int(&sw, "diskId", dev_int(d, "key", 0));
    pv_soap_w_moref(&sw, "datastore", "Datastore", ch->pool_native_id);
    pv_soap_w_end(&sw);
    pv_soap_w_end(&sw);
    pv_soap_w_text(&sw, "priority", "defaultPriority");
    return vc_run_task(c, &sw, "storage vMotion", s, NULL, 0, err);
}

/* vSphere's faults for a device change, in the contract's words: a power
 * state or a device the running VM cannot take is vm_running. */
static int device_fault(int rc, const struct vm_now *v, struct pv_error *err)
{
    if (rc && err && running(v) &&
        (pv_error_is(err, PV_CODE_invalid_power_state) || pv_error_is(err, PV_CODE_invalid_state)))
        pv_error_recode(err, PV_CODE_vm_running);
    return rc;
}

static int apply(struct pv_conn *c, const char *vm, const struct vm_now *v,
                 const struct pv_device_change *ch, const struct pv_sink *s,
                 struct pv_device_result *out, struct pv_error *err)
{
    struct nic_target n;
    struct edit ed = {0};
    xmlNodePtr d = NULL;
    int rc;

    if (ch->op == PV_DEV_ADD)
        return ch->kind == PV_DEV_NIC ? add_nic(c, vm, v, ch, s, err) : add_disk(c, vm, v, ch, s, err);
    if ((rc = named_device(v, vm, ch, &d, err)))
        return rc;
    if (ch->kind == PV_DEV_DISK && running(v) && on_ide(v, d) && ch->op != PV_DEV_MOVE)
        return pv_fail(err, vm_running, "disk %s of VM %s is on an IDE controller, which vSphere "
                       "changes only while the VM is off", ch->device_key, vm);
    switch (ch->op) {
    case PV_DEV_REMOVE:
        if (ch->kind == PV_DEV_NIC)
            return change_device(c, vm, d, "remove", NULL, NULL, "remove NIC", s, err);
        if (!made_for_vm(v, d))
            snprintf(out->note, sizeof out->note, "the disk's file was not made for this VM: "
                     "detached, the file kept");
        return change_device(c, vm, d, "remove", made_for_vm(v, d) ? "destroy" : NULL, NULL,
                             "remove disk", s, err);
    case PV_DEV_RESIZE:
        if (ch->kind != PV_DEV_DISK)
            break;
        ed.capacity_kb = (long long)ch->size_gb * 1024 * 1024;
        if (ed.capacity_kb <= dev_int(d, "capacityInKB", 0))
            return pv_fail(err, shrink_not_supported, "disk %s is %lld KiB: it only grows",
                           ch->device_key, dev_int(d, "capacityInKB", 0));
        return change_device(c, vm, d, "edit", NULL, &ed, "grow disk", s, err);
    case PV_DEV_CONNECT:
        if (ch->kind != PV_DEV_NIC)
            break;
        if ((rc = nic_target(c, ch, &n, err)))
            return rc;
        ed.backing = write_nic_backing;
        ed.ud = &n;
        return change_device(c, vm, d, "edit", NULL, &ed, "connect NIC", s, err);
    case PV_DEV_MOVE:
        if (ch->kind != PV_DEV_DISK)
            break;
        return move_disk(c, vm, d, ch, s, err);
    case PV_DEV_ADD:
        break;
    }
    return pv_fail(err, unsupported_by_backend, "that device change does not apply to a %s",
                   ch->kind == PV_DEV_NIC ? "NIC" : "disk");
}

/* After a move: vCenter's word on where the disk is now. */
static void check_moved(const struct vm_now *after, const struct pv_device_change *ch,
                        struct pv_device_result *out)
{
    char now[256] = "";
    xmlNodePtr d = after->devices ? dev_by_key(after, strtoll(ch->device_key, NULL, 10)) : NULL;

    pv_xml_text(pv_xml_path(d, "backing/datastore"), now, sizeof now);
    if (strcmp(now, ch->pool_native_id) != 0)
        snprintf(out->note, sizeof out->note, "vCenter ended the relocate task without error but "
                 "lists the disk on datastore %s, not %s", now[0] ? now : "(none)",
                 ch->pool_native_id);
}

int vc_device(struct pv_conn *c, const char *vm, const struct pv_device_change *ch,
              const struct pv_sink *s, struct pv_device_result *out, struct pv_error *err)
{
    struct vm_now before, after;
    int rc;

    memset(out, 0, sizeof *out);
    vc_progress(s, 1, "reading the VM's devices");
    if ((rc = read_vm(c, vm, &before, err)))
        return rc;
    out->live = running(&before);
    rc = device_fault(apply(c, vm, &before, ch, s, out, err), &before, err);
    if (!rc && ch->op != PV_DEV_ADD)
        snprintf(out->key, sizeof out->key, "%s", ch->device_key);
    /* what vCenter lists now: the new device's key, or where a moved disk is */
    if (!rc && (ch->op == PV_DEV_ADD || ch->op == PV_DEV_MOVE) && read_vm(c, vm, &after, NULL) == 0) {
        if (ch->op == PV_DEV_ADD)
            new_key(&before, &after, ch->kind == PV_DEV_NIC, out->key, sizeof out->key);
        else
            check_moved(&after, ch, out);
        vm_now_free(&after);
    }
    if (!rc && ch->op == PV_DEV_ADD && !out->key[0])
        snprintf(out->note, sizeof out->note, "vCenter ended the reconfigure without error but "
                 "lists no new %s", ch->kind == PV_DEV_NIC ? "NIC" : "disk");
    vm_now_free(&before);
    if (!rc)
        vc_refresh(c, vm, s, NULL);
    return rc;
}
