/* vc_inventory.c -- what the vcenter adapter reads: inventory sync, the
 * WaitForUpdatesEx watch, and one VM's refresh.
 *
 * Reading: one ContainerView per kind of object (folders, datacenters,
 * compute resources, datastores, networks, hosts, VMs) under the root folder, created once per
 * session and kept, and for each a RetrievePropertiesEx that asks for only
 * the properties we map (the tables below), followed by
 * ContinueRetrievePropertiesEx while vCenter hands back a token.  vcsim
 * matches a view's types exactly (a "ComputeResource" view has no
 * clusters), so the compute-resource view names both types.
 *
 * Everything read lands in one cache, c->objs: "Type:moref" -> a JSON record
 * of the mapped fields.  The same property table fills it from a
 * RetrievePropertiesEx propSet and from a WaitForUpdatesEx changeSet, so the
 * watch can merge a partial change into what it knows and report the whole
 * VM or host.  Parents (folders, compute resources) are in the cache too, to
 * find a host's cluster and an object's datacenter without asking again.
 *
 * Mapping: datacenters and clusters (ClusterComputeResource) become
 * clusters; a standalone host belongs to its datacenter's cluster entry
 * (facts say "standalone": true); HostSystems are hosts, VirtualMachines
 * VMs.  poweredOn/poweredOff/suspended are running/stopped/saved (a vSphere
 * suspend writes the state to disk).  What the model has no field for
 * (MoRef, datacenter, tools state, guest id, resource pool, a host's
 * datastores with their capacity and its networks ...) goes into the VM's
 * vendor detail and the host's facts.
 *
 * Datastores are storage pools and port groups (standard and distributed,
 * with a distributed one's VLAN) networks; the hosts that reach each are
 * those whose `datastore` and `network` lists name it.
 *
 * The watch: a PropertyFilter over the host, VM, datastore and compute-resource views
 * (the same properties, less a VM's quickStats, which churn), then
 * WaitForUpdatesEx with the last version and maxWaitSeconds from the
 * daemon's timeout.  Its first answer (version "") lists every object;
 * those that match the cache are not reported again.  A handle whose cache
 * was never filled (the daemon's watch thread has its own handle) reads and
 * reports everything once first.
 */
#include <stdlib.h>
#include <string.h>
#include "vc.h"

#define WAIT_GRACE_MS 15000

enum pkind { P_STR, P_INT, P_BOOL, P_MOREF, P_MOREFS, P_DEVICES, P_VLAN };

struct prop {
    const char *path;
    const char *key;
    enum pkind kind;
};

static const struct prop folder_props[] = {
    {"parent", "parent", P_MOREF},
};
static const struct prop dc_props[] = {
    {"name", "name", P_STR},
    {"parent", "parent", P_MOREF},
    {"vmFolder", "vm_folder", P_MOREF},
    {"hostFolder", "host_folder", P_MOREF},
};
static const struct prop cr_props[] = {
    {"name", "name", P_STR},
    {"parent", "parent", P_MOREF},
    {"resourcePool", "resource_pool", P_MOREF},
};
static const struct prop ds_props[] = {
    {"name", "name", P_STR},
    {"summary.type", "fs_type", P_STR},
    {"summary.capacity", "capacity", P_INT},
    {"summary.freeSpace", "free", P_INT},
    {"summary.accessible", "accessible", P_BOOL},
    {"summary.multipleHostAccess", "multiple_host_access", P_BOOL},
};
static const struct prop net_props[] = {
    {"name", "name", P_STR},
};
/* a distributed port group is a Network with a config: its VLAN */
static const struct prop dvpg_props[] = {
    {"name", "name", P_STR},
    {"config.defaultPortConfig", "vlan", P_VLAN},
};
static const struct prop host_props[] = {
    {"name", "name", P_STR},
    {"parent", "parent", P_MOREF},
    {"summary.hardware.numCpuCores", "cpu_cores", P_INT},
    {"summary.hardware.cpuMhz", "cpu_mhz", P_INT},
    {"summary.hardware.memorySize", "memory_bytes", P_INT},
    {"summary.hardware.cpuModel", "cpu_model", P_STR},
    {"summary.quickStats.overallCpuUsage", "cpu_used_mhz", P_INT},
    {"summary.quickStats.overallMemoryUsage", "memory_used_mb", P_INT},
    {"runtime.connectionState", "connection_state", P_STR},
    {"runtime.inMaintenanceMode", "in_maintenance_mode", P_BOOL},
    {"summary.config.product.fullName", "product", P_STR},
    {"datastore", "datastores", P_MOREFS},
    {"network", "networks", P_MOREFS},
};
static const struct prop vm_props[] = {
    {"name", "name", P_STR},
    {"runtime.powerState", "power_state", P_STR},
    {"runtime.host", "host", P_MOREF},
    {"config.hardware.numCPU", "num_cpu", P_INT},
    {"config.hardware.memoryMB", "memory_mb", P_INT},
    {"config.hardware.device", "devices", P_DEVICES},
    {"config.template", "template", P_BOOL},
    {"config.instanceUuid", "instance_uuid", P_STR},
    {"config.guestId", "guest_id", P_STR},
    {"guest.toolsRunningStatus", "tools_running_status", P_STR},
    {"summary.quickStats.overallCpuUsage", "cpu_usage_mhz", P_INT},
    {"summary.quickStats.guestMemoryUsage", "guest_memory_mb", P_INT},
    {"resourcePool", "resource_pool", P_MOREF},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const struct kind {
    const char *types[2];
    const struct prop *props;
    size_t nprops;
} kinds[VC_VIEW_N] = {
    [VC_VIEW_FOLDER] = {{"Folder", NULL}, folder_props, N(folder_props)},
    [VC_VIEW_DC] = {{"Datacenter", NULL}, dc_props, N(dc_props)},
    [VC_VIEW_CR] = {{"ComputeResource", "ClusterComputeResource"}, cr_props, N(cr_props)},
    [VC_VIEW_DS] = {{"Datastore", NULL}, ds_props, N(ds_props)},
    [VC_VIEW_NET] = {{"Network", NULL}, net_props, N(net_props)},
    [VC_VIEW_DVPG] = {{"DistributedVirtualPortgroup", NULL}, dvpg_props, N(dvpg_props)},
    [VC_VIEW_HOST] = {{"HostSystem", NULL}, host_props, N(host_props)},
    [VC_VIEW_VM] = {{"VirtualMachine", NULL}, vm_props, N(vm_props)},
};

static const struct kind *kind_of_type(const char *type)
{
    for (size_t k = 0; k < VC_VIEW_N; k++)
        for (size_t i = 0; i < 2 && kinds[k].types[i]; i++)
            if (strcmp(kinds[k].types[i], type) == 0)
                return &kinds[k];
    return NULL;
}

void vc_forget_session_objects(struct pv_conn *c)
{
    memset(c->views, 0, sizeof c->views);
    c->filter[0] = '\0';
    c->version[0] = '\0';
}

/* ---- the cache ------------------------------------------------------------ */

static json_t *rec_get(struct pv_conn *c, const char *type, const char *moref, int create)
{
    char key[320];
    json_t *r;

    snprintf(key, sizeof key, "%s:%s", type, moref);
    r = json_object_get(c->objs, key);
    if (!r && create) {
        r = json_pack("{s:s,s:s}", "type", type, "moref", moref);
        json_object_set_new(c->objs, key, r);
    }
    return r;
}

static void rec_del(struct pv_conn *c, const char *type, const char *moref)
{
    char key[320];
    snprintf(key, sizeof key, "%s:%s", type, moref);
    json_object_del(c->objs, key);
}

static const char *rs(const json_t *rec, const char *key)
{
    return json_string_value(json_object_get(rec, key));
}

/* The bus of a disk on a controller of this type. */
static const char *bus_of(const char *controller)
{
    if (!controller)
        return "unknown";
    if (strstr(controller, "SCSI") || strstr(controller, "Lsi") || strstr(controller, "BusLogic"))
        return "scsi";
    if (strstr(controller, "AHCI"))
        return "sata";
    if (strstr(controller, "NVME"))
        return "nvme";
    return strstr(controller, "IDE") ? "ide" : "unknown";
}

/* A VirtualMachine's devices -> disks, NICs and "paravirtual": every disk on
 * a PVSCSI controller and every NIC a VMXNET3 (1), anything emulated (0),
 * nothing to judge (-1). */
static void apply_devices(json_t *rec, xmlNodePtr val)
{
    json_t *disks = json_array(), *nics = json_array(), *ctrl = json_object();
    int pv_yes = 0, pv_no = 0;
    char t[64], b[256];

    for (xmlNodePtr d = pv_xml_child(val, NULL, NULL); d; d = pv_xml_next(d, NULL, NULL)) {
        if (!pv_xml_xsi_type(d, t, sizeof t))
            continue;
        pv_xml_text(pv_xml_child(d, "key", NULL), b, sizeof b);
        if (strstr(t, "SCSIController") || strstr(t, "LsiLogic") || strstr(t, "BusLogic") ||
            strstr(t, "AHCIController") || strstr(t, "NVMEController") || strstr(t, "IDEController"))
            json_object_set_new(ctrl, b, json_string(t));
    }
    for (xmlNodePtr d = pv_xml_child(val, NULL, NULL); d; d = pv_xml_next(d, NULL, NULL)) {
        if (!pv_xml_xsi_type(d, t, sizeof t))
            continue;
        if (strcmp(t, "VirtualDisk") == 0) {
            long long kb = pv_xml_int(pv_xml_child(d, "capacityInKB", NULL), 0);
            const char *c;
            json_t *disk;
            pv_xml_text(pv_xml_child(d, "controllerKey", NULL), b, sizeof b);
            c = json_string_value(json_object_get(ctrl, b));
            pv_xml_text(pv_xml_path(d, "backing/fileName"), b, sizeof b);
            disk = json_pack("{s:s,s:I,s:I,s:s}", "path", b, "size_gb",
                             (json_int_t)((kb + 1048575) / 1048576), "size_mb", (json_int_t)(kb / 1024),
                             "controller", c ? c : "unknown");
            json_object_set_new(disk, "bus", json_string(bus_of(c)));
            if (pv_xml_text(pv_xml_child(d, "key", NULL), b, sizeof b))
                json_object_set_new(disk, "key", json_string(b));
            if (pv_xml_text(pv_xml_path(d, "backing/datastore"), b, sizeof b))
                json_object_set_new(disk, "pool_native_id", json_string(b));
            json_array_append_new(disks, disk);
            if (c && strcmp(c, "ParaVirtualSCSIController") == 0)
                pv_yes++;
            else
                pv_no++;
        } else if (strncmp(t, "VirtualE1000", 12) == 0 || strncmp(t, "VirtualVmxnet", 13) == 0 ||
                   strcmp(t, "VirtualPCNet32") == 0 || strcmp(t, "VirtualSriovEthernetCard") == 0) {
            json_t *nic = json_pack("{s:s}", "model", t);
            if (pv_xml_text(pv_xml_child(d, "macAddress", NULL), b, sizeof b))
                json_object_set_new(nic, "mac", json_string(b));
            if (pv_xml_text(pv_xml_path(d, "backing/deviceName"), b, sizeof b))
                json_object_set_new(nic, "network", json_string(b));
            if (pv_xml_text(pv_xml_child(d, "key", NULL), b, sizeof b))
                json_object_set_new(nic, "key", json_string(b));
            /* a standard port group by its Network, a distributed one by its key */
            if (pv_xml_text(pv_xml_path(d, "backing/network"), b, sizeof b) ||
                pv_xml_text(pv_xml_path(d, "backing/port/portgroupKey"), b, sizeof b))
                json_object_set_new(nic, "network_native_id", json_string(b));
            json_array_append_new(nics, nic);
            if (strcmp(t, "VirtualVmxnet3") == 0)
                pv_yes++;
            else
                pv_no++;
        }
    }
    json_object_set_new(rec, "disks", disks);
    json_object_set_new(rec, "nics", nics);
    json_object_set_new(rec, "paravirtual", json_integer(pv_no ? 0 : pv_yes ? 1 : -1));
    json_decref(ctrl);
}

/* One property (val NULL: removed) into a record. */
static void apply_prop(json_t *rec, const struct kind *k, const char *path, xmlNodePtr val)
{
    char b[512], key2[64];
    const struct prop *p = NULL;

    for (size_t i = 0; i < k->nprops; i++)
        if (strcmp(k->props[i].path, path) == 0)
            p = &k->props[i];
    if (!p)
        return;
    if (!val) {
        json_object_del(rec, p->key);
        return;
    }
    switch (p->kind) {
    case P_STR:
        json_object_set_new(rec, p->key, json_string(pv_xml_text(val, b, sizeof b)));
        break;
    case P_INT:
        json_object_set_new(rec, p->key, json_integer(pv_xml_int(val, 0)));
        break;
    case P_BOOL:
        json_object_set_new(rec, p->key, json_boolean(strcmp(pv_xml_text(val, b, sizeof b), "true") == 0));
        break;
    case P_MOREF:
        json_object_set_new(rec, p->key, json_string(pv_xml_text(val, b, sizeof b)));
        snprintf(key2, sizeof key2, "%s_type", p->key);
        json_object_set_new(rec, key2, json_string(pv_xml_attr(val, "type", b, sizeof b) ? b : ""));
        break;
    case P_MOREFS: { /* ArrayOfManagedObjectReference: [{"moref", "type"}] */
        json_t *a = json_array();
        for (xmlNodePtr m = pv_xml_child(val, NULL, NULL); m; m = pv_xml_next(m, NULL, NULL)) {
            char t[64];
            if (pv_xml_text(m, b, sizeof b) && pv_xml_attr(m, "type", t, sizeof t))
                json_array_append_new(a, json_pack("{s:s,s:s}", "moref", b, "type", t));
        }
        json_object_set_new(rec, p->key, a);
        break;
    }
    case P_DEVICES:
        apply_devices(rec, val);
        break;
    case P_VLAN: { /* VMwareDVSPortSetting: one VLAN id (0: none), or a trunk (none either) */
        xmlNodePtr v = pv_xml_child(val, "vlan", NULL);
        char t[64];
        long long id = v && pv_xml_xsi_type(v, t, sizeof t) &&
                               strcmp(t, "VmwareDistributedVirtualSwitchVlanIdSpec") == 0
                           ? pv_xml_int(pv_xml_child(v, "vlanId", NULL), 0)
                           : 0;
        if (id > 0 && id < 4095)
            json_object_set_new(rec, p->key, json_integer(id));
        else
            json_object_del(rec, p->key);
        break;
    }
    }
}

xmlNodePtr vc_prop(xmlNodePtr oc, const char *name)
{
    char b[256];
    for (xmlNodePtr p = pv_xml_child(oc, "propSet", NULL); p; p = pv_xml_next(p, "propSet", NULL))
        if (strcmp(pv_xml_text(pv_xml_child(p, "name", NULL), b, sizeof b), name) == 0)
            return pv_xml_child(p, "val", NULL);
    return NULL;
}

/* ---- RetrievePropertiesEx ---------------------------------------------------- */

static void write_propsets(struct pv_soap_writer *sw, const char *const *types, size_t ntypes,
                           const char *const *paths)
{
    for (size_t t = 0; t < ntypes; t++) {
        pv_soap_w_start(sw, "propSet", NULL);
        pv_soap_w_text(sw, "type", types[t]);
        for (size_t i = 0; paths[i]; i++)
            pv_soap_w_text(sw, "pathSet", paths[i]);
        pv_soap_w_end(sw);
    }
}

/* An objectSet over a ContainerView: the view itself skipped, its "view"
 * property traversed. */
static void write_view_objectset(struct pv_soap_writer *sw, const char *view)
{
    pv_soap_w_start(sw, "objectSet", NULL);
    pv_soap_w_moref(sw, "obj", "ContainerView", view);
    pv_soap_w_text(sw, "skip", "true");
    pv_soap_w_start(sw, "selectSet", NULL);
    pv_soap_w_xsi_type(sw, "TraversalSpec");
    pv_soap_w_text(sw, "name", "traverseView");
    pv_soap_w_text(sw, "type", "ContainerView");
    pv_soap_w_text(sw, "path", "view");
    pv_soap_w_text(sw, "skip", "false");
    pv_soap_w_end(sw);
    pv_soap_w_end(sw);
}

/* Walk the objects of one RetrieveResult; *token gets its token ("" none).
 * A NotAuthenticated inside a missingSet (vcsim's way) is an error. */
static int walk_result(struct pv_conn *c, xmlNodePtr rv, vc_obj_fn fn, void *ud, char *token,
                       size_t tsize, struct pv_error *err)
{
    char type[64], moref[256], ft[64];

    token[0] = '\0';
    if (!rv)
        return 0;
    pv_xml_text(pv_xml_child(rv, "token", NULL), token, tsize);
    for (xmlNodePtr oc = pv_xml_child(rv, "objects", NULL); oc; oc = pv_xml_next(oc, "objects", NULL)) {
        xmlNodePtr obj = pv_xml_child(oc, "obj", NULL);
        for (xmlNodePtr m = pv_xml_child(oc, "missingSet", NULL); m; m = pv_xml_next(m, "missingSet", NULL))
            if (pv_xml_xsi_type(pv_xml_path(m, "fault/fault"), ft, sizeof ft) &&
                strcmp(ft, "NotAuthenticated") == 0)
                return pv_fail(err, not_authenticated,
                                    "vCenter %s: the session is not authenticated", c->url);
        if (!pv_xml_attr(obj, "type", type, sizeof type) || !pv_xml_text(obj, moref, sizeof moref))
            continue;
        fn(c, type, moref, oc, ud);
    }
    return 0;
}

/* RetrievePropertiesEx of `specs` (written by fill) and every following
 * page.  Re-run once from the start when the session had to be renewed. */
typedef void (*spec_fn)(struct pv_conn *c, struct pv_soap_writer *sw, const void *arg);

static int retrieve(struct pv_conn *c, spec_fn fill, const void *arg, vc_obj_fn fn, void *ud,
                    struct pv_error *err)
{
    struct pv_soap_writer sw;
    struct pv_soap_resp *r = NULL;
    char token[512];
    int rc;

    if ((rc = vc_begin(&sw, "RetrievePropertiesEx", "PropertyCollector", c->property_collector, err)))
        return rc;
    pv_soap_w_start(&sw, "specSet", NULL);
    fill(c, &sw, arg);
    pv_soap_w_end(&sw);
    pv_soap_w_start(&sw, "options", NULL);
    pv_soap_w_end(&sw);
    rc = vc_invoke(c, &sw, 0, &r, err);
    if (!rc)
        rc = walk_result(c, vc_returnval(r), fn, ud, token, sizeof token, err);
    pv_soap_resp_free(r);
    while (!rc && token[0]) {
        if ((rc = vc_begin(&sw, "ContinueRetrievePropertiesEx", "PropertyCollector",
                           c->property_collector, err)))
            break;
        pv_soap_w_text(&sw, "token", token);
        r = NULL;
        rc = vc_invoke(c, &sw, 0, &r, err);
        if (!rc)
            rc = walk_result(c, vc_returnval(r), fn, ud, token, sizeof token, err);
        pv_soap_resp_free(r);
    }
    return rc;
}

struct obj_spec {
    const char *type, *moref;
    const char *const *paths;
};

static void fill_obj(struct pv_conn *c, struct pv_soap_writer *sw, const void *arg)
{
    const struct obj_spec *o = arg;
    (void)c;
    write_propsets(sw, &o->type, 1, o->paths);
    pv_soap_w_start(sw, "objectSet", NULL);
    pv_soap_w_moref(sw, "obj", o->type, o->moref);
    pv_soap_w_end(sw);
}

int vc_retrieve_obj(struct pv_conn *c, const char *type, const char *moref,
                    const char *const *paths, vc_obj_fn fn, void *ud, struct pv_error *err)
{
    struct obj_spec o = {type, moref, paths};
    int rc = retrieve(c, fill_obj, &o, fn, ud, err);

    if (rc == PV_EAUTH && err && pv_error_is(err, PV_CODE_not_authenticated) && !c->in_login &&
        (rc = vc_login(c, err)) == 0)
        rc = retrieve(c, fill_obj, &o, fn, ud, err);
    return rc;
}

struct one_prop {
    const char *path;
    char *val, *vtype;
    size_t size, tsize;
    int found;
};

static void got_prop(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc, void *ud)
{
    struct one_prop *p = ud;
    xmlNodePtr v = vc_prop(oc, p->path);
    (void)c;
    (void)type;
    (void)moref;
    if (!v)
        return;
    p->found = 1;
    pv_xml_text(v, p->val, p->size);
    if (p->vtype && !pv_xml_attr(v, "type", p->vtype, p->tsize))
        pv_xml_xsi_type(v, p->vtype, p->tsize);
}

int vc_get_prop(struct pv_conn *c, const char *type, const char *moref, const char *path,
                char *val, size_t size, char *val_type, size_t type_size, struct pv_error *err)
{
    const char *paths[] = {path, NULL};
    struct one_prop p = {path, val, val_type, size, type_size, 0};
    int rc;

    val[0] = '\0';
    if (val_type)
        val_type[0] = '\0';
    rc = vc_retrieve_obj(c, type, moref, paths, got_prop, &p, err);
    if (!rc && !p.found)
        rc = pv_fail(err, property_not_found, "%s %s has no %s", type, moref, path);
    return rc;
}

/* ---- views ---------------------------------------------------------------------- */

static int ensure_view(struct pv_conn *c, enum vc_view_kind k, struct pv_error *err)
{
    struct pv_soap_writer sw;
    struct pv_soap_resp *r = NULL;
    int rc;

    if (c->views_gen != c->session_gen) {
        memset(c->views, 0, sizeof c->views);
        c->views_gen = c->session_gen;
    }
    if (c->views[k][0])
        return 0;
    if ((rc = vc_begin(&sw, "CreateContainerView", "ViewManager", c->view_manager, err)))
        return rc;
    pv_soap_w_moref(&sw, "container", "Folder", c->root_folder);
    for (size_t i = 0; i < 2 && kinds[k].types[i]; i++)
        pv_soap_w_text(&sw, "type", kinds[k].types[i]);
    pv_soap_w_text(&sw, "recursive", "true");
    rc = vc_invoke(c, &sw, 0, &r, err);
    if (!rc && !pv_xml_text(vc_returnval(r), c->views[k], sizeof c->views[k]))
        rc = pv_fail(err, bad_response, "CreateContainerView returned no view");
    if (!rc)
        c->views_gen = c->session_gen;
    pv_soap_resp_free(r);
    return rc;
}

static void fill_view(struct pv_conn *c, struct pv_soap_writer *sw, const void *arg)
{
    const struct kind *k = &kinds[*(const enum vc_view_kind *)arg];
    const char *paths[16];
    size_t n = 0;

    for (size_t i = 0; i < k->nprops && n < N(paths) - 1; i++)
        paths[n++] = k->props[i].path;
    paths[n] = NULL;
    write_propsets(sw, k->types, k->types[1] ? 2 : 1, paths);
    write_view_objectset(sw, c->views[*(const enum vc_view_kind *)arg]);
}

/* A record filled from the answer just received carries that answer's stamp. */
static void stamp(const struct pv_conn *c, json_t *rec)
{
    if (rec)
        json_object_set_new(rec, "read_stamp", json_integer((json_int_t)c->read_stamp));
}

/* Fill the cache from a retrieved ObjectContent: a fresh record each time. */
static void load_obj(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc, void *ud)
{
    const struct kind *k = kind_of_type(type);
    json_t *rec;
    char name[256];
    (void)ud;

    if (!k)
        return;
    rec_del(c, type, moref);
    rec = rec_get(c, type, moref, 1);
    stamp(c, rec);
    for (xmlNodePtr p = pv_xml_child(oc, "propSet", NULL); p; p = pv_xml_next(p, "propSet", NULL))
        apply_prop(rec, k, pv_xml_text(pv_xml_child(p, "name", NULL), name, sizeof name),
                   pv_xml_child(p, "val", NULL));
}

/* Our views or filter are gone.  vCenter says NotAuthenticated when the
 * session ended; vcsim says ManagedObjectNotFound for the session's view.
 * Forget the session's objects and make sure the session itself lives:
 * asking for currentSession logs in again when it does not. */
static int revalidate(struct pv_conn *c, struct pv_error *err)
{
    char key[128];
    int rc;

    vc_forget_session_objects(c);
    rc = vc_get_prop(c, "SessionManager", c->session_manager, "currentSession", key, sizeof key,
                     NULL, 0, err);
    if (rc == PV_ENOTFOUND) /* no current session: not logged in */
        rc = vc_login(c, err);
    return rc;
}

static int is(const struct pv_error *err, enum pv_code code)
{
    return pv_error_is(err, code);
}

static int load_kind(struct pv_conn *c, enum vc_view_kind k, struct pv_error *err)
{
    for (int attempt = 0;; attempt++) {
        unsigned gen = c->session_gen;
        int rc = ensure_view(c, k, err);
        if (!rc)
            rc = retrieve(c, fill_view, &k, load_obj, NULL, err);
        if (!rc || attempt)
            return rc;
        if ((rc == PV_EAUTH && is(err, PV_CODE_not_authenticated)) ||
            (rc == PV_ENOTFOUND && is(err, PV_CODE_managed_object_not_found)) || c->session_gen != gen) {
            if ((rc = revalidate(c, err)))
                return rc;
            continue; /* again, with new views */
        }
        return rc;
    }
}

/* ---- mapping and reporting ---------------------------------------------------------- */

int vc_datacenter_of(struct pv_conn *c, const char *type, const char *moref, char *dc,
                     size_t size, struct pv_error *err)
{
    static const char *const paths[] = {"parent", NULL};
    char t[64], m[256];

    snprintf(t, sizeof t, "%s", type);
    snprintf(m, sizeof m, "%s", moref);
    for (int depth = 0; depth < 64; depth++) {
        json_t *rec;
        if (strcmp(t, "Datacenter") == 0) {
            snprintf(dc, size, "%s", m);
            return 0;
        }
        rec = rec_get(c, t, m, 0);
        if (!rec || !json_object_get(rec, "parent")) {
            const struct kind *k = kind_of_type(t);
            int rc;
            if (!k) { /* a type we do not cache (ResourcePool ...): only its parent */
                char pv[256], pt[64];
                rc = vc_get_prop(c, t, m, "parent", pv, sizeof pv, pt, sizeof pt, err);
                if (rc)
                    return rc;
                snprintf(t, sizeof t, "%s", pt);
                snprintf(m, sizeof m, "%s", pv);
                continue;
            }
            rc = vc_retrieve_obj(c, t, m, paths, load_obj, NULL, err);
            if (rc)
                return rc;
            rec = rec_get(c, t, m, 0);
            if (!rec || !json_object_get(rec, "parent"))
                return pv_fail(err, no_datacenter, "%s %s is in no datacenter", type, moref);
        }
        snprintf(t, sizeof t, "%s", rs(rec, "parent_type") ? rs(rec, "parent_type") : "");
        snprintf(m, sizeof m, "%s", rs(rec, "parent"));
    }
    return pv_fail(err, no_datacenter, "%s %s: its parents do not end in a datacenter", type, moref);
}

/* The datacenter's name (cached, else asked). */
static const char *dc_name(struct pv_conn *c, const char *dc)
{
    json_t *rec = rec_get(c, "Datacenter", dc, 0);
    if (!rec || !rs(rec, "name")) {
        static const char *const paths[] = {"name", "parent", "vmFolder", "hostFolder", NULL};
        vc_retrieve_obj(c, "Datacenter", dc, paths, load_obj, NULL, NULL);
        rec = rec_get(c, "Datacenter", dc, 0);
    }
    return rs(rec, "name");
}

static void report_cluster(struct pv_conn *c, json_t *rec, const struct pv_sink *s)
{
    struct pv_cluster_info ci = {rs(rec, "moref"), rs(rec, "name")};
    (void)c;
    if (s->cluster && ci.native_id)
        s->cluster(s->ctx, &ci);
}

/* The host's datastores with their capacity, from the cache (a datastore
 * not read yet is listed by MoRef only). */
static json_t *host_datastores(struct pv_conn *c, json_t *rec)
{
    json_t *out = json_array(), *m;
    size_t i;

    json_array_foreach(json_object_get(rec, "datastores"), i, m) {
        const char *id = rs(m, "moref");
        json_t *ds = rec_get(c, "Datastore", id, 0);
        json_t *o = json_pack("{s:s}", "moref", id);
        if (ds && rs(ds, "name")) {
            json_object_set_new(o, "name", json_string(rs(ds, "name")));
            json_object_set_new(o, "type", json_string(rs(ds, "fs_type") ? rs(ds, "fs_type") : ""));
            json_object_set_new(o, "capacity_gb", json_integer(json_integer_value(json_object_get(ds, "capacity")) >> 30));
            json_object_set_new(o, "free_gb", json_integer(json_integer_value(json_object_get(ds, "free")) >> 30));
            json_object_set_new(o, "accessible", json_boolean(!json_is_false(json_object_get(ds, "accessible"))));
        }
        json_array_append_new(out, o);
    }
    return out;
}

static json_t *host_networks(struct pv_conn *c, json_t *rec)
{
    json_t *out = json_array(), *m;
    size_t i;

    json_array_foreach(json_object_get(rec, "networks"), i, m) {
        json_t *net = rec_get(c, rs(m, "type") ? rs(m, "type") : "", rs(m, "moref"), 0);
        json_array_append_new(out, json_pack("{s:s,s:s?}", "moref", rs(m, "moref"), "name", rs(net, "name")));
    }
    return out;
}

static void report_host(struct pv_conn *c, json_t *rec, const struct pv_sink *s)
{
    struct pv_host_info hi = {0};
    const char *ptype = rs(rec, "parent_type"), *state = rs(rec, "connection_state");
    char dc[256] = "";
    json_t *facts;
    char *facts_s;
    int standalone = ptype && strcmp(ptype, "ClusterComputeResource") != 0;
    double capacity;

    if (rs(rec, "parent"))
        vc_datacenter_of(c, ptype ? ptype : "", rs(rec, "parent"), dc, sizeof dc, NULL);
    hi.native_id = rs(rec, "moref");
    hi.name = rs(rec, "name");
    hi.cluster_native_id = !standalone ? rs(rec, "parent") : dc[0] ? dc : NULL;
    hi.state = !state || strcmp(state, "connected") == 0 ? PV_HOST_CONNECTED : PV_HOST_DISCONNECTED;
    if (hi.state == PV_HOST_CONNECTED && json_is_true(json_object_get(rec, "in_maintenance_mode")))
        hi.state = PV_HOST_MAINTENANCE;
    hi.cpu_cores = (int)json_integer_value(json_object_get(rec, "cpu_cores"));
    hi.cpu_mhz = (int)json_integer_value(json_object_get(rec, "cpu_mhz"));
    hi.memory_mb = json_integer_value(json_object_get(rec, "memory_bytes")) / (1024LL * 1024);
    hi.memory_used_mb = json_integer_value(json_object_get(rec, "memory_used_mb"));
    capacity = (double)hi.cpu_cores * hi.cpu_mhz;
    hi.cpu_usage_pct = capacity > 0 ? 100.0 * (double)json_integer_value(json_object_get(rec, "cpu_used_mhz")) / capacity : 0;
    facts = json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:b,s:s?,s:s?,s:s?,s:b}", "moref", hi.native_id,
                      "datacenter", dc[0] ? dc_name(c, dc) : NULL, "datacenter_id", dc[0] ? dc : NULL,
                      "product", rs(rec, "product"), "cpu_model", rs(rec, "cpu_model"),
                      "standalone", standalone, "compute_resource", rs(rec, "parent"),
                      "connection_state", state, "vcenter", c->instance_uuid[0] ? c->instance_uuid : NULL,
                      "in_maintenance_mode", json_is_true(json_object_get(rec, "in_maintenance_mode")));
    json_object_set_new(facts, "datastores", host_datastores(c, rec));
    json_object_set_new(facts, "networks", host_networks(c, rec));
    facts_s = json_dumps(facts, JSON_COMPACT);
    hi.facts_json = facts_s;
    if (s->host && hi.native_id)
        s->host(s->ctx, &hi);
    free(facts_s);
    json_decref(facts);
}

/* The hosts whose `list` ("datastores" or "networks") names moref: vCenter
 * says which datastores a host mounts and which networks it reaches. */
static size_t hosts_naming(struct pv_conn *c, const char *list, const char *moref,
                           const char ***out)
{
    const char *key;
    json_t *rec, *m;
    size_t n = 0, cap = 0, i;

    *out = NULL;
    json_object_foreach(c->objs, key, rec) {
        if (!rs(rec, "type") || strcmp(rs(rec, "type"), "HostSystem") != 0)
            continue;
        json_array_foreach(json_object_get(rec, list), i, m) {
            if (!rs(m, "moref") || strcmp(rs(m, "moref"), moref) != 0)
                continue;
            if (n == cap) {
                const char **grown = realloc(*out, (cap = cap ? 2 * cap : 8) * sizeof *grown);
                if (!grown)
                    return n;
                *out = grown;
            }
            (*out)[n++] = rs(rec, "moref");
            break;
        }
    }
    return n;
}

static void report_datastore(struct pv_conn *c, json_t *rec, const struct pv_sink *s)
{
    struct pv_pool_info pi = {0};
    const char **hosts;

    pi.native_id = rs(rec, "moref");
    pi.name = rs(rec, "name");
    pi.kind = rs(rec, "fs_type");
    pi.capacity_mb = json_integer_value(json_object_get(rec, "capacity")) >> 20;
    pi.free_mb = json_integer_value(json_object_get(rec, "free")) >> 20;
    pi.nhosts = hosts_naming(c, "datastores", pi.native_id, &hosts);
    pi.host_native_ids = hosts;
    /* summary.multipleHostAccess where vCenter says; else what mounts it */
    pi.shared = json_object_get(rec, "multiple_host_access")
                    ? json_is_true(json_object_get(rec, "multiple_host_access"))
                    : pi.nhosts > 1;
    if (s->pool && pi.native_id && pi.name)
        s->pool(s->ctx, &pi);
    free(hosts);
}

static void report_network(struct pv_conn *c, json_t *rec, const struct pv_sink *s)
{
    struct pv_network_info ni = {0};
    const char **hosts;
    json_t *vlan = json_object_get(rec, "vlan");

    ni.native_id = rs(rec, "moref");
    ni.name = rs(rec, "name");
    ni.kind = strcmp(rs(rec, "type"), "DistributedVirtualPortgroup") == 0 ? "dvportgroup" : "portgroup";
    ni.vlan = json_is_integer(vlan) ? (int)json_integer_value(vlan) : -1;
    ni.nhosts = hosts_naming(c, "networks", ni.native_id, &hosts);
    ni.host_native_ids = hosts;
    if (s->network && ni.native_id && ni.name)
        s->network(s->ctx, &ni);
    free(hosts);
}

static enum pv_power_state power_of(const char *p)
{
    if (!p)
        return PV_POWER_UNKNOWN;
    if (strcmp(p, "poweredOn") == 0)
        return PV_POWER_RUNNING;
    if (strcmp(p, "poweredOff") == 0)
        return PV_POWER_STOPPED;
    if (strcmp(p, "suspended") == 0)
        return PV_POWER_SAVED;
    return PV_POWER_UNKNOWN;
}

static void report_vm(struct pv_conn *c, json_t *rec, const struct pv_sink *s)
{
    struct pv_vm_info vi = {0};
    char dc[256] = "";
    json_t *vendor;
    char *vendor_s, *disks_s, *nics_s;

    if (rs(rec, "host"))
        vc_datacenter_of(c, "HostSystem", rs(rec, "host"), dc, sizeof dc, NULL);
    vi.native_id = rs(rec, "moref");
    vi.name = rs(rec, "name");
    vi.host_native_id = rs(rec, "host");
    vi.power_state = power_of(rs(rec, "power_state"));
    vi.version = (uint64_t)json_integer_value(json_object_get(rec, "read_stamp"));
    vi.vcpus = (int)json_integer_value(json_object_get(rec, "num_cpu"));
    vi.memory_mb = json_integer_value(json_object_get(rec, "memory_mb"));
    vi.paravirtual = json_object_get(rec, "paravirtual") ? (int)json_integer_value(json_object_get(rec, "paravirtual")) : -1;
    disks_s = json_object_get(rec, "disks") ? json_dumps(json_object_get(rec, "disks"), JSON_COMPACT) : NULL;
    nics_s = json_object_get(rec, "nics") ? json_dumps(json_object_get(rec, "nics"), JSON_COMPACT) : NULL;
    vendor = json_pack("{s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:s?,s:b,s:s?,s:s?,s:I,s:I}", "moref", vi.native_id,
                       "datacenter", dc[0] ? dc_name(c, dc) : NULL, "datacenter_id", dc[0] ? dc : NULL,
                       "power_state", rs(rec, "power_state"), "tools_running_status", rs(rec, "tools_running_status"),
                       "guest_id", rs(rec, "guest_id"), "instance_uuid", rs(rec, "instance_uuid"),
                       "template", json_is_true(json_object_get(rec, "template")),
                       "resource_pool", rs(rec, "resource_pool"), "vcenter", c->instance_uuid[0] ? c->instance_uuid : NULL,
                       "cpu_usage_mhz", (json_int_t)json_integer_value(json_object_get(rec, "cpu_usage_mhz")),
                       "guest_memory_mb", (json_int_t)json_integer_value(json_object_get(rec, "guest_memory_mb")));
    vendor_s = json_dumps(vendor, JSON_COMPACT);
    vi.disks_json = disks_s ? disks_s : "[]";
    vi.nics_json = nics_s ? nics_s : "[]";
    vi.vendor_json = vendor_s;
    if (s->vm && vi.native_id)
        s->vm(s->ctx, &vi);
    free(vendor_s);
    free(disks_s);
    free(nics_s);
    json_decref(vendor);
}

static void report(struct pv_conn *c, json_t *rec, const struct pv_sink *s)
{
    const char *type = rs(rec, "type");
    if (!type)
        return;
    if (strcmp(type, "Datacenter") == 0 || strcmp(type, "ClusterComputeResource") == 0)
        report_cluster(c, rec, s);
    else if (strcmp(type, "HostSystem") == 0)
        report_host(c, rec, s);
    else if (strcmp(type, "Datastore") == 0)
        report_datastore(c, rec, s);
    else if (strcmp(type, "Network") == 0 || strcmp(type, "DistributedVirtualPortgroup") == 0)
        report_network(c, rec, s);
    else if (strcmp(type, "VirtualMachine") == 0)
        report_vm(c, rec, s);
}

/* Report every cached object, parents first: datacenters and clusters,
 * then hosts, their datastores and networks, then VMs (the daemon links
 * each to what came before). */
static void report_all(struct pv_conn *c, const struct pv_sink *s)
{
    static const char *const order[][2] = {{"Datacenter", "ClusterComputeResource"},
                                           {"HostSystem", NULL},
                                           {"Datastore", NULL},
                                           {"Network", "DistributedVirtualPortgroup"},
                                           {"VirtualMachine", NULL}};
    for (size_t o = 0; o < N(order); o++) {
        const char *key;
        json_t *rec;
        json_object_foreach(c->objs, key, rec) {
            const char *t = rs(rec, "type");
            if (t && (strcmp(t, order[o][0]) == 0 || (order[o][1] && strcmp(t, order[o][1]) == 0)))
                report(c, rec, s);
        }
    }
}

static int load_all(struct pv_conn *c, struct pv_error *err)
{
    json_t *old = c->objs;
    int rc = 0;

    c->objs = json_object();
    for (int k = 0; k < VC_VIEW_N && !rc; k++)
        rc = load_kind(c, (enum vc_view_kind)k, err);
    if (rc) { /* keep what we knew */
        json_decref(c->objs);
        c->objs = old;
    } else {
        json_decref(old);
    }
    return rc;
}

int vc_sync(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err)
{
    int rc = load_all(c, err);
    if (rc)
        return rc;
    report_all(c, s);
    c->reported_all = 1;
    return 0;
}

/* ---- refresh ---------------------------------------------------------------------- */

/* A kind's property paths, NULL-ended, into paths[n]. */
static void kind_paths(const struct kind *k, const char **paths, size_t n)
{
    size_t i;
    for (i = 0; i < k->nprops && i < n - 1; i++)
        paths[i] = k->props[i].path;
    paths[i] = NULL;
}

static void got_one(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc, void *ud)
{
    load_obj(c, type, moref, oc, NULL);
    *(int *)ud = 1;
}

int vc_refresh(struct pv_conn *c, const char *vm, const struct pv_sink *s, struct pv_error *err)
{
    const char *paths[N(vm_props) + 1];
    int found = 0, rc;

    kind_paths(&kinds[VC_VIEW_VM], paths, N(paths));
    rc = vc_retrieve_obj(c, "VirtualMachine", vm, paths, got_one, &found, err);
    if (rc == PV_ENOTFOUND || (!rc && !found)) {
        rec_del(c, "VirtualMachine", vm);
        if (s->vm_gone)
            s->vm_gone(s->ctx, vm);
        return 0;
    }
    if (!rc)
        report_vm(c, rec_get(c, "VirtualMachine", vm, 1), s);
    return rc;
}

/* A handle that never synced (a job's) knows no datastore or network by
 * name: read those the host's facts list, one small read each. */
static void load_missing(struct pv_conn *c, json_t *list, enum vc_view_kind kind)
{
    const char *paths[16];
    json_t *m;
    size_t i;

    kind_paths(&kinds[kind], paths, N(paths));
    json_array_foreach(list, i, m) {
        const char *type = rs(m, "type"), *id = rs(m, "moref");
        json_t *rec = type && id ? rec_get(c, type, id, 0) : NULL;
        if (type && id && !rs(rec, "name") && kind_of_type(type))
            vc_retrieve_obj(c, type, id, paths, load_obj, NULL, NULL);
    }
}

int vc_refresh_host(struct pv_conn *c, const char *host, const struct pv_sink *s,
                    struct pv_error *err)
{
    const char *paths[N(host_props) + 1];
    json_t *rec;
    int found = 0, rc;

    kind_paths(&kinds[VC_VIEW_HOST], paths, N(paths));
    rc = vc_retrieve_obj(c, "HostSystem", host, paths, got_one, &found, err);
    if (rc == PV_ENOTFOUND || (!rc && !found))
        return pv_fail(err, host_not_found, "vCenter %s has no host %s", c->url,
                            host);
    if (rc)
        return rc;
    rec = rec_get(c, "HostSystem", host, 1);
    load_missing(c, json_object_get(rec, "datastores"), VC_VIEW_DS);
    load_missing(c, json_object_get(rec, "networks"), VC_VIEW_NET);
    report_host(c, rec, s);
    return 0;
}

/* ---- watch --------------------------------------------------------------------------- */

static void fill_filter(struct pv_conn *c, struct pv_soap_writer *sw)
{
    /* datastores for their free space; networks change at a sync's pace */
    static const enum vc_view_kind watched[] = {VC_VIEW_CR, VC_VIEW_HOST, VC_VIEW_DS, VC_VIEW_VM};
    const char *paths[16];

    pv_soap_w_start(sw, "spec", NULL);
    for (size_t w = 0; w < N(watched); w++) {
        const struct kind *k = &kinds[watched[w]];
        size_t n = 0;
        for (size_t i = 0; i < k->nprops && n < N(paths) - 1; i++) {
            /* a VM's quickStats move every 20 s on a real vCenter: read
             * them at sync, do not report each VM three times a minute */
            if (watched[w] == VC_VIEW_VM && strncmp(k->props[i].path, "summary.quickStats.", 19) == 0)
                continue;
            paths[n++] = k->props[i].path;
        }
        paths[n] = NULL;
        write_propsets(sw, k->types, k->types[1] ? 2 : 1, paths);
    }
    for (size_t w = 0; w < N(watched); w++)
        write_view_objectset(sw, c->views[watched[w]]);
    pv_soap_w_end(sw);
    pv_soap_w_text(sw, "partialUpdates", "false");
}

static int create_filter(struct pv_conn *c, struct pv_error *err)
{
    struct pv_soap_writer sw;
    struct pv_soap_resp *r = NULL;
    int rc;

    if ((rc = ensure_view(c, VC_VIEW_CR, err)) || (rc = ensure_view(c, VC_VIEW_HOST, err)) ||
        (rc = ensure_view(c, VC_VIEW_DS, err)) || (rc = ensure_view(c, VC_VIEW_VM, err)))
        return rc;
    if ((rc = vc_begin(&sw, "CreateFilter", "PropertyCollector", c->property_collector, err)))
        return rc;
    fill_filter(c, &sw);
    rc = vc_invoke(c, &sw, 0, &r, err);
    if (!rc && !pv_xml_text(vc_returnval(r), c->filter, sizeof c->filter))
        rc = pv_fail(err, bad_response, "CreateFilter returned no filter");
    pv_soap_resp_free(r);
    if (!rc) {
        c->filter_gen = c->session_gen;
        c->version[0] = '\0';
    }
    return rc;
}

/* The VMs of one watch answer, read again in one RetrievePropertiesEx.
 * reportMissingObjectsInResults: a VM deleted since the answer is left out
 * (its "leave" follows) instead of failing the whole read. */
static void fill_vms(struct pv_conn *c, struct pv_soap_writer *sw, const void *arg)
{
    const char *paths[N(vm_props) + 1];
    const json_t *morefs = arg;
    json_t *m;
    size_t i;
    (void)c;

    kind_paths(&kinds[VC_VIEW_VM], paths, N(paths));
    write_propsets(sw, kinds[VC_VIEW_VM].types, 1, paths);
    json_array_foreach(morefs, i, m) {
        pv_soap_w_start(sw, "objectSet", NULL);
        pv_soap_w_moref(sw, "obj", "VirtualMachine", json_string_value(m));
        pv_soap_w_end(sw);
    }
    pv_soap_w_text(sw, "reportMissingObjectsInResults", "true");
}

static void got_vm(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc, void *ud)
{
    if (!pv_xml_child(oc, "propSet", NULL))
        return; /* in the missingSet only: gone meanwhile */
    load_obj(c, type, moref, oc, NULL);
    json_array_append_new(ud, json_string(moref));
}

/* Apply one ObjectUpdate to the cache.  A record to report goes into
 * touched; a VM that entered or changed goes into vms instead, to be read
 * again (see vc_watch). */
static void apply_update(struct pv_conn *c, xmlNodePtr os, const struct pv_sink *s, json_t *touched,
                         json_t *vms)
{
    char kind[16], type[64], moref[256], name[256], op[32];
    xmlNodePtr obj = pv_xml_child(os, "obj", NULL);
    const struct kind *k;
    json_t *rec, *before;

    if (!pv_xml_text(pv_xml_child(os, "kind", NULL), kind, sizeof kind) ||
        !pv_xml_attr(obj, "type", type, sizeof type) || !pv_xml_text(obj, moref, sizeof moref) ||
        !(k = kind_of_type(type)))
        return;
    if (strcmp(kind, "leave") == 0) {
        if (strcmp(type, "VirtualMachine") == 0 && s->vm_gone)
            s->vm_gone(s->ctx, moref);
        rec_del(c, type, moref);
        return;
    }
    if (strcmp(type, "VirtualMachine") == 0) {
        json_array_append_new(vms, json_string(moref));
        return;
    }
    rec = rec_get(c, type, moref, 1);
    stamp(c, rec);
    before = json_deep_copy(rec);
    for (xmlNodePtr cs = pv_xml_child(os, "changeSet", NULL); cs; cs = pv_xml_next(cs, "changeSet", NULL)) {
        pv_xml_text(pv_xml_child(cs, "name", NULL), name, sizeof name);
        pv_xml_text(pv_xml_child(cs, "op", NULL), op, sizeof op);
        apply_prop(rec, k, name, strcmp(op, "remove") == 0 || strcmp(op, "indirectRemove") == 0
                                     ? NULL : pv_xml_child(cs, "val", NULL));
    }
    if (!json_equal(before, rec) || strcmp(kind, "modify") == 0)
        json_array_append(touched, rec);
    json_decref(before);
}

int vc_watch(struct pv_conn *c, const struct pv_sink *s, int timeout_ms, struct pv_error *err)
{
    struct pv_soap_writer sw;
    struct pv_soap_resp *r = NULL;
    json_t *touched, *vms, *m;
    xmlNodePtr rv;
    unsigned gen;
    size_t i;
    int rc, wait_s = timeout_ms / 1000;

    if (!c->reported_all) { /* this handle never reported: everything, once */
        if ((rc = vc_sync(c, s, err)))
            return rc;
    }
    if (!c->filter[0] || c->filter_gen != c->session_gen) {
        if ((rc = create_filter(c, err)) && rc == PV_ENOTFOUND && is(err, PV_CODE_managed_object_not_found))
            return revalidate(c, err); /* stale views: a new filter next time */
        if (rc)
            return rc;
    }
    gen = c->session_gen;
    if ((rc = vc_begin(&sw, "WaitForUpdatesEx", "PropertyCollector", c->property_collector, err)))
        return rc;
    pv_soap_w_text(&sw, "version", c->version);
    pv_soap_w_start(&sw, "options", NULL);
    pv_soap_w_int(&sw, "maxWaitSeconds", wait_s < 0 ? 0 : wait_s);
    pv_soap_w_end(&sw);
    rc = vc_invoke(c, &sw, (wait_s > 0 ? wait_s * 1000 : 0) + WAIT_GRACE_MS, &r, err);
    if (c->session_gen != gen) { /* a new session: its filter is gone, start again */
        pv_soap_resp_free(r);
        c->filter[0] = '\0';
        return rc == PV_EUNREACHABLE ? rc : 0;
    }
    if (rc) {
        if (is(err, PV_CODE_invalid_collector_version)) {
            c->filter[0] = '\0'; /* a new filter (and a full first answer) next time */
            return 0;
        }
        if (is(err, PV_CODE_managed_object_not_found))
            return revalidate(c, err); /* the filter went away with its session */
        return rc;
    }
    rv = vc_returnval(r);
    if (!rv) { /* the wait timed out with no change */
        pv_soap_resp_free(r);
        return 0;
    }
    pv_xml_text(pv_xml_child(rv, "version", NULL), c->version, sizeof c->version);
    touched = json_array();
    vms = json_array();
    for (xmlNodePtr fs = pv_xml_child(rv, "filterSet", NULL); fs; fs = pv_xml_next(fs, "filterSet", NULL))
        for (xmlNodePtr os = pv_xml_child(fs, "objectSet", NULL); os; os = pv_xml_next(os, "objectSet", NULL))
            apply_update(c, os, s, touched, vms);
    pv_soap_resp_free(r);
    /* An answer says what changed, not what is: vCenter gathers an answer's
     * changes before it sends it (vcsim for 250 ms), and a job on another
     * session may have read a later state meanwhile.  Stamped on receipt,
     * the older news would win; the VMs it names are read again instead. */
    if (json_array_size(vms)) {
        json_t *read = json_array();
        rc = retrieve(c, fill_vms, vms, got_vm, read, err);
        if (!rc)
            json_array_foreach(read, i, m)
                json_array_append(touched, rec_get(c, "VirtualMachine", json_string_value(m), 1));
        json_decref(read);
    }
    json_decref(vms);
    if (rc) {
        json_decref(touched);
        return rc;
    }
    /* parents first, as in a sync */
    for (int pass = 0; pass < 4; pass++) {
        static const char *const first[] = {"ClusterComputeResource", "HostSystem", "Datastore",
                                            "VirtualMachine"};
        json_array_foreach(touched, i, m)
            if (rs(m, "type") && strcmp(rs(m, "type"), first[pass]) == 0)
                report(c, m, s);
    }
    json_decref(touched);
    return 0;
}
