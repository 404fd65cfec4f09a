/* virt_devices.c -- changes to a VM's disks and NICs after it was made:
 * add a disk (a new qcow2 volume in a pool, attached), remove one, grow one;
 * add a NIC, remove one, connect one to another network (ag_virt_device,
 * behind the agent's /v1/vms/{uuid}/disks and /nics routes).
 *
 * Decisions a newcomer must know:
 *   - Hot where libvirt allows it, and said where not.  A change goes to the
 *     persistent definition (VIR_DOMAIN_AFFECT_CONFIG) and, while the VM
 *     runs, to the running guest too (AFFECT_LIVE): virtio disks and NICs
 *     hot-plug.  What cannot be done live (a SATA disk added to a running
 *     VM) is refused with vm_running before anything is made; what libvirt
 *     refuses live but takes for the definition (a NIC's new network on some
 *     drivers) is made there and the answer says "takes effect when the VM
 *     is next started" with "live": false.  An unplug is a request to the
 *     guest: when the guest has not let go of the device after libvirt's
 *     wait, the answer says so, and a disk's volume is kept (never deleted
 *     under a running guest): it goes once the disk has left both
 *     definitions, at the VM's next start or device change
 *     (ag_virt_sweep_volumes).
 *   - Nothing half-made: a volume made for a disk whose attach failed is
 *     deleted again.  A removed disk's volume is deleted only when the agent
 *     made it for this VM: those it makes here are listed in the domain's
 *     own metadata (META_URI), and those define made are named
 *     "<vm>-<n>.qcow2"; any other volume (an image the VM was given) stays.
 *   - A device is named by the key the agent reports for it: a disk by its
 *     target dev ("vdb"), a NIC by its MAC.  Neither changes across reads.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <libxml/xpath.h>
#include "agent.h"
#include "virt.h"

#define META_URI "https://polyvisor.invalid/agent/volumes/1"
#define META_KEY "pv"
#define GIB (1024ull * 1024ull * 1024ull)

/* One domain being changed: both its definitions. */
struct dom {
    virDomainPtr d;
    const char *name;
    int live;           /* running or paused: the change goes to the guest too */
    xmlDocPtr cfg;      /* the persistent definition */
    xmlDocPtr cur;      /* the running one (NULL when not live) */
};

static xmlDocPtr read_xml(virDomainPtr d, unsigned flags)
{
    char *xml = virDomainGetXMLDesc(d, flags);
    xmlDocPtr doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "dom.xml", NULL, XML_PARSE_NONET) : NULL;
    free(xml);
    return doc;
}

static void dom_close(struct dom *x)
{
    xmlFreeDoc(x->cfg);
    xmlFreeDoc(x->cur);
    if (x->d)
        virDomainFree(x->d);
    memset(x, 0, sizeof *x);
}

static int dom_open(const char *uuid, struct dom *x, struct pv_error *err)
{
    const char *st;

    memset(x, 0, sizeof *x);
    x->d = ag_virt_lookup(uuid, err);
    if (!x->d)
        return PV_ENOTFOUND;
    x->name = virDomainGetName(x->d);
    st = ag_virt_power_state(x->d);
    if (strcmp(st, "saved") == 0) {
        pv_fail(err, vm_saved, "vm %s has a saved state that expects its devices as they were: "
                               "start it, or delete the saved state, first", x->name);
        dom_close(x);
        return err->err;
    }
    x->live = strcmp(st, "running") == 0 || strcmp(st, "paused") == 0;
    x->cfg = read_xml(x->d, VIR_DOMAIN_XML_INACTIVE);
    x->cur = x->live ? read_xml(x->d, 0) : NULL;
    if (!x->cfg || (x->live && !x->cur)) {
        ag_virt_error(err, "read the domain");
        dom_close(x);
        return err->err;
    }
    return 0;
}

/* May a device be plugged into the running VM?  On QEMU's PC machine the
 * PCI bus hot-plugs only with ACPI: a VM defined without it (before the
 * agent wrote <acpi/>) takes new devices only while stopped. */
static int hotplug_check(const struct dom *x, struct pv_error *err)
{
    char *machine, *acpi;
    int ok;

    if (!x->live)
        return 0;
    machine = ag_virt_xpath_string(x->cur, "string(/domain/os/type/@machine)");
    acpi = ag_virt_xpath_string(x->cur, "name(/domain/features/acpi)");
    ok = acpi || !machine || strncmp(machine, "pc", 2) != 0 || strncmp(machine, "pc-q35", 6) == 0;
    free(machine);
    free(acpi);
    return ok ? 0 : pv_fail(err, vm_running,
                            "running vm %s has no ACPI, so its PCI bus takes no new device: "
                            "stop it first", x->name);
}

/* The flags of a change to both definitions. */
static unsigned affect(const struct dom *x)
{
    return VIR_DOMAIN_AFFECT_CONFIG | (x->live ? VIR_DOMAIN_AFFECT_LIVE : 0);
}

/* ---- XML helpers -------------------------------------------------------- */

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

/* An attribute of a child element (malloc'd), or NULL. */
static char *child_attr(xmlNodePtr n, const char *name, const char *attr)
{
    xmlNodePtr c = child(n, name);
    xmlChar *v = c ? xmlGetProp(c, BAD_CAST attr) : NULL;
    char *s = v ? strdup((const char *)v) : NULL;
    xmlFree(v);
    return s;
}

/* The devices of a kind in doc, in document order; free with xmlXPathFreeObject. */
static xmlXPathObjectPtr devices(xmlDocPtr doc, int nic)
{
    xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
    xmlXPathObjectPtr r = ctx ? xmlXPathEvalExpression(
                                    BAD_CAST(nic ? "/domain/devices/interface"
                                                 : "/domain/devices/disk[@device='disk']"),
                                    ctx)
                              : NULL;
    xmlXPathFreeContext(ctx);
    return r;
}

static int nodes(xmlXPathObjectPtr r)
{
    return r && r->nodesetval ? r->nodesetval->nodeNr : 0;
}

/* A device's key: a disk's target dev, a NIC's MAC. */
static char *key_of(xmlNodePtr n, int nic)
{
    return nic ? child_attr(n, "mac", "address") : child_attr(n, "target", "dev");
}

/* The device of that key in doc (NULL: none); *first is 1 when it is the
 * first device of its kind (a disk: the one the VM boots from). */
static xmlNodePtr find(xmlDocPtr doc, int nic, const char *key, int *first)
{
    xmlXPathObjectPtr r = devices(doc, nic);
    xmlNodePtr found = NULL;

    for (int i = 0; i < nodes(r) && !found; i++) {
        char *k = key_of(r->nodesetval->nodeTab[i], nic);
        if (k && (nic ? strcasecmp(k, key) : strcmp(k, key)) == 0) {
            found = r->nodesetval->nodeTab[i];
            if (first)
                *first = i == 0;
        }
        free(k);
    }
    xmlXPathFreeObject(r);
    return found;
}

static char *node_xml(xmlDocPtr doc, xmlNodePtr n)
{
    xmlBufferPtr b = xmlBufferCreate();
    char *s = NULL;

    if (b && xmlNodeDump(b, doc, n, 0, 0) >= 0)
        s = strdup((const char *)xmlBufferContent(b));
    xmlBufferFree(b);
    return s;
}

static char *writer_done(xmlBufferPtr buf, xmlTextWriterPtr w)
{
    char *s = NULL;

    if (xmlTextWriterEndDocument(w) >= 0)
        s = strdup((const char *)xmlBufferContent(buf));
    xmlFreeTextWriter(w);
    xmlBufferFree(buf);
    return s;
}

static void write_attr_element(xmlTextWriterPtr w, const char *name, const char *attr,
                               const char *value)
{
    xmlTextWriterStartElement(w, BAD_CAST name);
    xmlTextWriterWriteAttribute(w, BAD_CAST attr, BAD_CAST value);
    xmlTextWriterEndElement(w);
}

/* ---- the volumes this agent made for a VM ----------------------------- */

/* The paths listed in the domain's metadata, as a JSON array. */
static json_t *made_list(virDomainPtr d)
{
    char *xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, META_URI,
                                     VIR_DOMAIN_AFFECT_CONFIG);
    xmlDocPtr doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "meta.xml", NULL, XML_PARSE_NONET) : NULL;
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    json_t *out = json_array();

    for (xmlNodePtr c = root ? root->children : NULL; c; c = c->next) {
        xmlChar *p = c->type == XML_ELEMENT_NODE ? xmlGetProp(c, BAD_CAST "path") : NULL;
        if (p)
            json_array_append_new(out, json_string((const char *)p));
        xmlFree(p);
    }
    virResetLastError(); /* no metadata yet is no error */
    xmlFreeDoc(doc);
    free(xml);
    return out;
}

static void made_store(virDomainPtr d, json_t *list)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    size_t i;
    json_t *p;
    char *xml;

    if (!w) {
        xmlBufferFree(buf);
        return;
    }
    xmlTextWriterStartElement(w, BAD_CAST "volumes");
    json_array_foreach(list, i, p)
        write_attr_element(w, "volume", "path", json_string_value(p));
    xmlTextWriterEndElement(w);
    xml = writer_done(buf, w);
    if (xml && virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, xml, META_KEY, META_URI,
                                    VIR_DOMAIN_AFFECT_CONFIG) < 0)
        virResetLastError(); /* then only the name rule below knows it */
    free(xml);
}

void ag_virt_made_add(virDomainPtr d, const char *path)
{
    json_t *list = made_list(d);
    json_array_append_new(list, json_string(path));
    made_store(d, list);
    json_decref(list);
}

void ag_virt_made_drop(virDomainPtr d, const char *path)
{
    json_t *list = made_list(d), *p;
    size_t i;

    json_array_foreach(list, i, p)
        if (strcmp(json_string_value(p), path) == 0) {
            json_array_remove(list, i);
            made_store(d, list);
            break;
        }
    json_decref(list);
}

/* Did this agent make the volume at path for this VM?  Listed in its
 * metadata, or named as define names them: "<vm>-<digits>.qcow2". */
int ag_virt_made_here(virDomainPtr d, const char *vm, const char *path)
{
    json_t *list = made_list(d), *p;
    const char *base = strrchr(path, '/');
    size_t i, n = strlen(vm);
    int yes = 0;

    json_array_foreach(list, i, p)
        yes |= strcmp(json_string_value(p), path) == 0;
    json_decref(list);
    base = base ? base + 1 : path;
    if (!yes && strncmp(base, vm, n) == 0 && base[n] == '-') {
        const char *s = base + n + 1;
        size_t digits = strspn(s, "0123456789");
        yes = digits > 0 && strcmp(s + digits, ".qcow2") == 0;
    }
    return yes;
}

/* The paths of the disks of a definition, as a JSON array. */
static json_t *disk_sources(xmlDocPtr doc)
{
    xmlXPathObjectPtr r = devices(doc, 0);
    json_t *out = json_array();

    for (int i = 0; i < nodes(r); i++) {
        char *p = child_attr(r->nodesetval->nodeTab[i], "source", "file");
        if (p)
            json_array_append_new(out, json_string(p));
        free(p);
    }
    xmlXPathFreeObject(r);
    return out;
}

/* Delete the volumes made here for d whose disk has left both its
 * definitions since (a remove the guest had not let go of yet). */
void ag_virt_sweep_volumes(virDomainPtr d)
{
    json_t *made = made_list(d), *used = NULL, *p;
    xmlDocPtr cfg = json_array_size(made) ? read_xml(d, VIR_DOMAIN_XML_INACTIVE) : NULL;
    xmlDocPtr cur = cfg && virDomainIsActive(d) == 1 ? read_xml(d, 0) : NULL;
    size_t i = 0, j;
    int changed = 0;

    if (cfg) { /* unread definitions: nothing is known to be free */
        used = disk_sources(cfg);
        if (cur) {
            json_t *live = disk_sources(cur);
            json_array_extend(used, live);
            json_decref(live);
        }
    }
    while (used && i < json_array_size(made)) {
        const char *path = json_string_value(json_array_get(made, i));
        virStorageVolPtr vol;
        int in_use = 0;
        json_array_foreach(used, j, p)
            in_use |= strcmp(json_string_value(p), path) == 0;
        vol = in_use ? NULL : virStorageVolLookupByPath(ag_virt_conn(), path);
        if (in_use || (vol && virStorageVolDelete(vol, 0) < 0)) {
            i++; /* in use, or not deleted now: kept for the next sweep */
        } else {
            json_array_remove(made, i);
            changed = 1;
        }
        if (vol)
            virStorageVolFree(vol);
    }
    if (changed)
        made_store(d, made);
    virResetLastError();
    json_decref(made);
    json_decref(used);
    xmlFreeDoc(cfg);
    xmlFreeDoc(cur);
}

/* ---- disks -------------------------------------------------------------- */

/* The bus new disks of this VM get: its first disk's, else virtio unless
 * its first NIC is an emulated one (a VM made with paravirtual false). */
static char *disk_bus(const struct dom *x)
{
    xmlXPathObjectPtr r = devices(x->cfg, 0);
    char *bus = nodes(r) ? child_attr(r->nodesetval->nodeTab[0], "target", "bus") : NULL;

    xmlXPathFreeObject(r);
    if (!bus) {
        r = devices(x->cfg, 1);
        char *model = nodes(r) ? child_attr(r->nodesetval->nodeTab[0], "model", "type") : NULL;
        bus = strdup(model && strcmp(model, "virtio") != 0 ? "sata" : "virtio");
        free(model);
        xmlXPathFreeObject(r);
    }
    return bus;
}

/* The first free target dev of prefix ("vd", "sd") in either definition. */
static int free_target(const struct dom *x, const char *prefix, char out[16])
{
    for (int c = 'a'; c <= 'z'; c++) {
        snprintf(out, 16, "%s%c", prefix, (char)c);
        if (!find(x->cfg, 0, out, NULL) && !(x->cur && find(x->cur, 0, out, NULL)))
            return 0;
    }
    return -1;
}

char *ag_virt_volume_xml(const char *name, unsigned long long bytes, const char *format)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;

    if (!w) {
        xmlBufferFree(buf);
        return NULL;
    }
    xmlTextWriterStartElement(w, BAD_CAST "volume");
    xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST name);
    xmlTextWriterStartElement(w, BAD_CAST "capacity");
    xmlTextWriterWriteAttribute(w, BAD_CAST "unit", BAD_CAST "bytes");
    xmlTextWriterWriteFormatString(w, "%llu", bytes);
    xmlTextWriterEndElement(w);
    /* thin: without <allocation> libvirt takes it to equal the capacity and
     * preallocates (a qcow2's metadata, a raw file whole), which slows a copy
     * into it */
    xmlTextWriterWriteElement(w, BAD_CAST "allocation", BAD_CAST "0");
    xmlTextWriterStartElement(w, BAD_CAST "target");
    write_attr_element(w, "format", "type", format);
    xmlTextWriterEndElement(w);
    xmlTextWriterEndElement(w);
    return writer_done(buf, w);
}

virStorageVolPtr ag_virt_make_volume(virStoragePoolPtr pool, const char *name,
                                     unsigned long long bytes, struct pv_error *err)
{
    return ag_virt_make_volume_as(pool, name, bytes, "qcow2", err);
}

virStorageVolPtr ag_virt_make_volume_as(virStoragePoolPtr pool, const char *name,
                                        unsigned long long bytes, const char *format,
                                        struct pv_error *err)
{
    char *xml = ag_virt_volume_xml(name, bytes, format);
    virStorageVolPtr vol = xml ? virStorageVolCreateXML(pool, xml, 0) : NULL;

    if (!xml)
        pv_fail(err, out_of_memory, "out of memory");
    else if (!vol)
        ag_virt_error(err, "create the volume");
    free(xml);
    return vol;
}

static char *disk_xml(const char *path, const char *dev, const char *bus)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;

    if (!w) {
        xmlBufferFree(buf);
        return NULL;
    }
    xmlTextWriterStartElement(w, BAD_CAST "disk");
    xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file");
    xmlTextWriterWriteAttribute(w, BAD_CAST "device", BAD_CAST "disk");
    xmlTextWriterStartElement(w, BAD_CAST "driver");
    xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "qemu");
    xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "qcow2");
    xmlTextWriterEndElement(w);
    write_attr_element(w, "source", "file", path);
    xmlTextWriterStartElement(w, BAD_CAST "target");
    xmlTextWriterWriteAttribute(w, BAD_CAST "dev", BAD_CAST dev);
    xmlTextWriterWriteAttribute(w, BAD_CAST "bus", BAD_CAST bus);
    xmlTextWriterEndElement(w);
    xmlTextWriterEndElement(w);
    return writer_done(buf, w);
}

int ag_virt_pool_free_check(virStoragePoolPtr pool, unsigned long long need, struct pv_error *err)
{
    virStoragePoolInfo info;

    if (virStoragePoolGetInfo(pool, &info) == 0 && info.available < need)
        return pv_fail(err, insufficient_storage,
                       "storage pool %s has %llu MiB free; the disk needs %llu MiB",
                       virStoragePoolGetName(pool), info.available >> 20, need >> 20);
    virResetLastError();
    return 0;
}

static int add_disk(struct dom *x, const json_t *body, json_t *res, struct pv_error *err)
{
    json_t *size = json_object_get(body, "size_gb"), *pname = json_object_get(body, "pool");
    const char *pool_name = json_is_string(pname) ? json_string_value(pname) : "default";
    char *bus = disk_bus(x), *xml = NULL, *path = NULL, dev[16], vname[160];
    virStoragePoolPtr pool = NULL;
    virStorageVolPtr vol = NULL;
    int rc = 0;

    if (!json_is_integer(size) || json_integer_value(size) < 1 || json_integer_value(size) > 65536) {
        rc = pv_fail(err, invalid_spec, "size_gb: a whole number from 1 to 65536");
        goto out;
    }
    if (x->live && strcmp(bus, "virtio") != 0) {
        rc = pv_fail(err, vm_running, "a %s disk cannot be plugged into running vm %s: stop it first",
                     bus, x->name);
        goto out;
    }
    if ((rc = hotplug_check(x, err)))
        goto out;
    if (free_target(x, strcmp(bus, "virtio") == 0 ? "vd" : "sd", dev)) {
        rc = pv_fail(err, invalid_state, "vm %s has no free disk slot", x->name);
        goto out;
    }
    pool = virStoragePoolLookupByName(ag_virt_conn(), pool_name);
    if (!pool) {
        virResetLastError();
        rc = pv_fail(err, unknown_pool, "this host has no storage pool '%.64s'", pool_name);
        goto out;
    }
    if ((rc = ag_virt_pool_free_check(pool, (unsigned long long)json_integer_value(size) * GIB, err)))
        goto out;
    snprintf(vname, sizeof vname, "%s-%s.qcow2", x->name, dev);
    if ((vol = virStorageVolLookupByName(pool, vname))) {
        rc = pv_fail(err, volume_exists, "volume %s exists already in pool %s", vname, pool_name);
        goto out;
    }
    virResetLastError();
    /* from here on a failure deletes the volume again */
    vol = ag_virt_make_volume(pool, vname, (unsigned long long)json_integer_value(size) * GIB, err);
    path = vol ? virStorageVolGetPath(vol) : NULL;
    xml = path ? disk_xml(path, dev, bus) : NULL;
    if (!vol || !path || !xml) {
        rc = vol ? pv_fail(err, out_of_memory, "cannot write the disk XML") : err->err;
        goto out;
    }
    if (virDomainAttachDeviceFlags(x->d, xml, affect(x)) < 0) {
        rc = ag_virt_error(err, "attach the disk");
        goto out;
    }
    ag_virt_made_add(x->d, path);
    json_object_set_new(res, "key", json_string(dev));
    json_object_set_new(res, "live", json_boolean(x->live));
    json_object_set_new(res, "volume", json_string(path));
out:
    if (rc && vol && virStorageVolDelete(vol, 0) < 0)
        virResetLastError();
    if (vol)
        virStorageVolFree(vol);
    if (pool)
        virStoragePoolFree(pool);
    free(path);
    free(xml);
    free(bus);
    return rc;
}

/* Is the device still in the running guest?  (An unplug is a request to the
 * guest; libvirt waits for it a few seconds.) */
static int still_live(virDomainPtr d, int nic, const char *key)
{
    xmlDocPtr doc = read_xml(d, 0);
    int yes = doc && find(doc, nic, key, NULL) != NULL;
    xmlFreeDoc(doc);
    return yes;
}

/* Detach the device of key from both definitions; *pending 1 when the
 * guest still holds it. */
static int detach(struct dom *x, int nic, const char *key, int *pending, struct pv_error *err)
{
    int first = 0, first_live = 0;
    xmlNodePtr nc = find(x->cfg, nic, key, &first);
    xmlNodePtr nl = x->cur ? find(x->cur, nic, key, &first_live) : NULL;
    unsigned flags = (nc ? VIR_DOMAIN_AFFECT_CONFIG : 0) | (nl ? VIR_DOMAIN_AFFECT_LIVE : 0);
    char *xml;
    int ok;

    *pending = 0;
    if (!nc && !nl)
        return nic ? pv_fail(err, nic_not_found, "vm %s has no NIC %.64s", x->name, key)
                   : pv_fail(err, disk_not_found, "vm %s has no disk %.64s", x->name, key);
    if (!nic && x->live && ((nl && first_live) || (!nl && first)))
        return pv_fail(err, boot_disk_in_use,
                       "disk %s is the first disk of running vm %s, the one it boots from: "
                       "stop the VM first", key, x->name);
    xml = nl ? node_xml(x->cur, nl) : node_xml(x->cfg, nc);
    if (!xml)
        return pv_fail(err, out_of_memory, "cannot write the device XML");
    ok = virDomainDetachDeviceFlags(x->d, xml, flags) == 0;
    free(xml);
    if (!ok)
        return ag_virt_error(err, nic ? "detach the NIC" : "detach the disk");
    *pending = nl && still_live(x->d, nic, key);
    return 0;
}

static int remove_disk(struct dom *x, const char *key, json_t *res, struct pv_error *err)
{
    xmlNodePtr n = x->cur ? find(x->cur, 0, key, NULL) : NULL;
    char *path = child_attr(n ? n : find(x->cfg, 0, key, NULL), "source", "file");
    char note[512] = "";
    int pending, rc = detach(x, 0, key, &pending, err);

    if (rc)
        goto out;
    if (pending)
        snprintf(note, sizeof note,
                 "the guest has not released disk %s yet: it leaves the running VM when the guest "
                 "lets go of it, and at the latest when the VM stops%s%s%s", key,
                 path ? "; its volume " : "", path ? path : "",
                 path ? " is kept until then (a volume made for the VM is deleted at its next "
                        "start or device change)" : "");
    if (path && !pending && ag_virt_made_here(x->d, x->name, path)) {
        virStorageVolPtr vol = virStorageVolLookupByPath(ag_virt_conn(), path);
        if (vol && virStorageVolDelete(vol, 0) == 0) {
            json_object_set_new(res, "volume_deleted", json_string(path));
            ag_virt_made_drop(x->d, path);
        } else {
            snprintf(note, sizeof note, "the volume %s could not be deleted: %s", path,
                     virGetLastErrorMessage());
        }
        if (vol)
            virStorageVolFree(vol);
        virResetLastError();
    } else if (path && !pending) {
        snprintf(note, sizeof note, "the volume %s was not made for this VM and was kept", path);
    }
    json_object_set_new(res, "live", json_boolean(x->live && !pending));
    if (note[0])
        json_object_set_new(res, "note", json_string(note));
out:
    free(path);
    return rc;
}

static int resize_disk(struct dom *x, const char *key, const json_t *body, json_t *res,
                       struct pv_error *err)
{
    json_t *size = json_object_get(body, "size_gb");
    xmlNodePtr n = x->cur ? find(x->cur, 0, key, NULL) : find(x->cfg, 0, key, NULL);
    char *path;
    virStorageVolPtr vol = NULL;
    virStoragePoolPtr pool = NULL;
    virStorageVolInfo info;
    unsigned long long want;
    int rc = 0;

    if (!json_is_integer(size) || json_integer_value(size) < 1 || json_integer_value(size) > 65536)
        return pv_fail(err, invalid_spec, "size_gb: a whole number from 1 to 65536");
    want = (unsigned long long)json_integer_value(size) * GIB;
    if (!n)
        return pv_fail(err, disk_not_found, "vm %s has no disk %.64s", x->name, key);
    path = child_attr(n, "source", "file");
    vol = path ? virStorageVolLookupByPath(ag_virt_conn(), path) : NULL;
    if (!vol || virStorageVolGetInfo(vol, &info) < 0) {
        virResetLastError();
        rc = pv_fail(err, unsupported_by_backend,
                     "disk %s of vm %s is not a volume of a storage pool of this host", key, x->name);
        goto out;
    }
    if (want < info.capacity) {
        rc = pv_fail(err, shrink_not_supported, "disk %s is %llu MiB; it does not shrink to %llu MiB",
                     key, info.capacity >> 20, want >> 20);
        goto out;
    }
    json_object_set_new(res, "live", json_boolean(x->live));
    if (want == info.capacity) { /* done already (a job run again after a restart) */
        json_object_set_new(res, "note", json_string("the disk has that size already"));
        goto out;
    }
    pool = virStoragePoolLookupByVolume(vol);
    if (pool && (rc = ag_virt_pool_free_check(pool, want - info.capacity, err)))
        goto out;
    if (x->live ? virDomainBlockResize(x->d, key, want, VIR_DOMAIN_BLOCK_RESIZE_BYTES) < 0
                : virStorageVolResize(vol, want, 0) < 0) {
        rc = ag_virt_error(err, "resize the disk");
        goto out;
    }
    if (x->live)
        json_object_set_new(res, "note", json_string("the guest sees the new size now; its "
                                                     "partitions and file systems grow from inside"));
out:
    if (pool)
        virStoragePoolFree(pool);
    if (vol)
        virStorageVolFree(vol);
    virResetLastError();
    free(path);
    return rc;
}

/* ---- NICs --------------------------------------------------------------- */

/* The network a NIC goes to, from {"network"} or {"bridge"}, checked on this
 * host: *type gets "network" or "bridge". */
static int nic_target(const json_t *body, const char **type, const char **name,
                      struct pv_error *err)
{
    json_t *net = json_object_get(body, "network"), *br = json_object_get(body, "bridge");
    char path[300];
    struct stat st;

    if (json_is_string(net)) {
        if (ag_virt_network_check(json_string_value(net), err))
            return err->err;
        *type = "network";
        *name = json_string_value(net);
        return 0;
    }
    if (!json_is_string(br))
        return pv_fail(err, invalid_spec, "a NIC goes to {\"network\": NAME} or {\"bridge\": NAME}");
    *name = json_string_value(br);
    if (!**name || strlen(*name) > 64 || strchr(*name, '/') || **name == '.')
        return pv_fail(err, invalid_spec, "a bridge name is letters, digits, '.', '_', '-'");
    snprintf(path, sizeof path, "/sys/class/net/%s/bridge", *name);
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return pv_fail(err, unknown_network, "this host has no bridge '%.64s'", *name);
    *type = "bridge";
    return 0;
}

/* A locally administered MAC in QEMU's range that neither definition uses. */
static int new_mac(const struct dom *x, char out[18])
{
    for (int tries = 0; tries < 16; tries++) {
        unsigned char b[3];
        if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
            return -1;
        snprintf(out, 18, "52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]);
        if (!find(x->cfg, 1, out, NULL) && !(x->cur && find(x->cur, 1, out, NULL)))
            return 0;
    }
    return -1;
}

static int add_nic(struct dom *x, const json_t *body, json_t *res, struct pv_error *err)
{
    const char *type, *name;
    char mac[18], *bus = disk_bus(x), *xml;
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    int rc = nic_target(body, &type, &name, err);

    if (!rc)
        rc = hotplug_check(x, err);
    if (!rc && new_mac(x, mac))
        rc = pv_fail(err, internal_error, "no random MAC address could be made");
    if (rc) {
        free(bus);
        return rc;
    }
    buf = xmlBufferCreate();
    w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    if (!w) {
        xmlBufferFree(buf);
        free(bus);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    xmlTextWriterStartElement(w, BAD_CAST "interface");
    xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST type);
    write_attr_element(w, "mac", "address", mac);
    write_attr_element(w, "source", type, name);
    write_attr_element(w, "model", "type", strcmp(bus, "virtio") == 0 ? "virtio" : "e1000");
    xmlTextWriterEndElement(w);
    free(bus);
    xml = writer_done(buf, w);
    if (!xml)
        return pv_fail(err, out_of_memory, "cannot write the NIC XML");
    if (virDomainAttachDeviceFlags(x->d, xml, affect(x)) < 0)
        rc = ag_virt_error(err, "attach the NIC");
    free(xml);
    if (!rc) {
        json_object_set_new(res, "key", json_string(mac));
        json_object_set_new(res, "live", json_boolean(x->live));
    }
    return rc;
}

/* The NIC element n of doc with its source set to (type, name), as XML. */
static char *reconnected(xmlDocPtr doc, xmlNodePtr n, const char *type, const char *name)
{
    xmlDocPtr out = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr c = out ? xmlDocCopyNode(n, out, 1) : NULL, src;
    char *xml = NULL;

    (void)doc;
    if (c) {
        xmlDocSetRootElement(out, c);
        xmlSetProp(c, BAD_CAST "type", BAD_CAST type);
        while ((src = child(c, "source"))) {
            xmlUnlinkNode(src);
            xmlFreeNode(src);
        }
        src = xmlNewChild(c, NULL, BAD_CAST "source", NULL);
        if (src && xmlSetProp(src, BAD_CAST type, BAD_CAST name))
            xml = node_xml(out, c);
    }
    xmlFreeDoc(out);
    return xml;
}

static int connect_nic(struct dom *x, const char *key, const json_t *body, json_t *res,
                       struct pv_error *err)
{
    const char *type, *name;
    xmlNodePtr nc, nl;
    char *xml;
    int rc = nic_target(body, &type, &name, err), ok;

    if (rc)
        return rc;
    nc = find(x->cfg, 1, key, NULL);
    nl = x->cur ? find(x->cur, 1, key, NULL) : NULL;
    if (!nc && !nl)
        return pv_fail(err, nic_not_found, "vm %s has no NIC %.64s", x->name, key);
    if (nc) { /* the definition first: when it fails, nothing has changed */
        xml = reconnected(x->cfg, nc, type, name);
        ok = xml && virDomainUpdateDeviceFlags(x->d, xml, VIR_DOMAIN_AFFECT_CONFIG) == 0;
        free(xml);
        if (!ok)
            return ag_virt_error(err, "connect the NIC");
    }
    json_object_set_new(res, "live", json_boolean(0));
    if (!nl)
        return 0;
    xml = reconnected(x->cur, nl, type, name);
    ok = xml && virDomainUpdateDeviceFlags(x->d, xml, VIR_DOMAIN_AFFECT_LIVE) == 0;
    free(xml);
    if (ok) {
        json_object_set_new(res, "live", json_boolean(1));
    } else {
        char note[512];
        snprintf(note, sizeof note,
                 "the running VM keeps its NIC %s where it was (libvirt: %s); the new %s %s "
                 "takes effect when the VM is next started", key, virGetLastErrorMessage(), type,
                 name);
        json_object_set_new(res, "note", json_string(note));
        virResetLastError();
    }
    return 0;
}

static int remove_nic(struct dom *x, const char *key, json_t *res, struct pv_error *err)
{
    int pending, rc = detach(x, 1, key, &pending, err);

    if (rc)
        return rc;
    json_object_set_new(res, "live", json_boolean(x->live && !pending));
    if (pending)
        json_object_set_new(res, "note", json_string(
                                             "the guest has not released the NIC yet: it leaves "
                                             "the running VM when the guest lets go of it, and at "
                                             "the latest when the VM stops"));
    return 0;
}

/* ---- the one entry ------------------------------------------------------ */

int ag_virt_device(const char *uuid, const char *op, const char *kind, const char *key,
                   const json_t *body, json_t **out, struct pv_error *err)
{
    struct dom x;
    json_t *res = json_object();
    int nic = strcmp(kind, "nic") == 0, rc;

    *out = NULL;
    rc = dom_open(uuid, &x, err);
    if (rc) {
        json_decref(res);
        return rc;
    }
    ag_virt_sweep_volumes(x.d);
    if (strcmp(op, "add") == 0)
        rc = nic ? add_nic(&x, body, res, err) : add_disk(&x, body, res, err);
    else if (strcmp(op, "remove") == 0)
        rc = nic ? remove_nic(&x, key, res, err) : remove_disk(&x, key, res, err);
    else if (strcmp(op, "resize") == 0 && !nic)
        rc = resize_disk(&x, key, body, res, err);
    else if (strcmp(op, "connect") == 0 && nic)
        rc = connect_nic(&x, key, body, res, err);
    else
        rc = pv_fail(err, unknown_action, "no device change '%.16s' of a %.8s", op, kind);
    if (!rc) {
        json_object_set_new(res, "vm", ag_virt_domain_json(x.d));
        *out = res;
    } else {
        json_decref(res);
    }
    dom_close(&x);
    return rc;
}
