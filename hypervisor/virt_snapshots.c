/* virt_snapshots.c -- a VM's libvirt snapshots (checkpoints): list the tree,
 * make one, revert to one, delete one or a subtree (ag_virt_snapshots,
 * ag_virt_snapshot, behind the agent's /v1/vms/{uuid}/snapshots routes).
 *
 * Decisions a newcomer must know:
 *   - Internal snapshots only, and what QEMU cannot do is refused before
 *     anything is made.  libvirt 9.0's QEMU driver snapshots a disk
 *     internally only when it is a qcow2 image of type='file' (not
 *     type='volume'), needs the memory in an internal snapshot of a running
 *     VM, and cannot revert an external snapshot.  So a running VM's
 *     snapshot always holds its memory ("memory": false on a running VM is
 *     refused with that reason rather than made into an external snapshot
 *     that could never be reverted), and a VM with a disk QEMU cannot
 *     snapshot is refused naming that disk.  These are the QEMU driver's
 *     rules: another driver (the test driver) is asked as it is.
 *   - A snapshot's key is its name (unique per domain in libvirt); the
 *     list is read live from libvirt on every call, so the agent keeps no
 *     copy that could drift from `virsh snapshot-list`.
 *   - Reverting to a snapshot with memory resumes the VM there
 *     (VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING); one of a stopped VM leaves it
 *     stopped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <libxml/xpath.h>
#include "agent.h"
#include "virt.h"

static xmlDocPtr snap_doc(virDomainSnapshotPtr s)
{
    char *xml = virDomainSnapshotGetXMLDesc(s, 0);
    xmlDocPtr doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "snap.xml", NULL, XML_PARSE_NONET)
                        : NULL;
    free(xml);
    return doc;
}

/* One snapshot as the agent answers it. */
static json_t *snap_json(virDomainSnapshotPtr s)
{
    virDomainSnapshotPtr parent = virDomainSnapshotGetParent(s, 0);
    xmlDocPtr doc = snap_doc(s);
    char *created = doc ? ag_virt_xpath_string(doc, "string(/domainsnapshot/creationTime)") : NULL;
    char *state = doc ? ag_virt_xpath_string(doc, "string(/domainsnapshot/state)") : NULL;
    char *mem = doc ? ag_virt_xpath_string(doc, "string(/domainsnapshot/memory/@snapshot)") : NULL;
    char stamp[32] = "";
    json_t *o;
    int memory;

    if (created) {
        time_t t = (time_t)strtoll(created, NULL, 10);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    /* internal memory, or (older libvirt, no <memory>) a running state */
    memory = mem && *mem ? strcmp(mem, "no") != 0
                         : state && (strcmp(state, "running") == 0 || strcmp(state, "paused") == 0);
    o = json_pack("{s:s,s:s,s:o,s:s,s:b,s:b,s:s}", "key", virDomainSnapshotGetName(s), "name",
                  virDomainSnapshotGetName(s), "parent_key",
                  parent ? json_string(virDomainSnapshotGetName(parent)) : json_null(),
                  "created_at", stamp, "current", virDomainSnapshotIsCurrent(s, 0) == 1, "memory",
                  memory, "state", state ? state : "");
    if (parent)
        virDomainSnapshotFree(parent);
    virResetLastError(); /* no parent is an error in libvirt's eyes */
    free(created);
    free(state);
    free(mem);
    xmlFreeDoc(doc);
    return o;
}

static json_t *list_of(virDomainPtr d)
{
    virDomainSnapshotPtr *snaps = NULL;
    int n = virDomainListAllSnapshots(d, &snaps, VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL);
    json_t *items = json_array();

    for (int i = 0; i < n; i++) {
        json_array_append_new(items, snap_json(snaps[i]));
        virDomainSnapshotFree(snaps[i]);
    }
    free(snaps);
    return n < 0 ? (json_decref(items), NULL) : items;
}

int ag_virt_snapshots(const char *uuid, json_t **out, struct pv_error *err)
{
    virDomainPtr d = ag_virt_lookup(uuid, err);
    json_t *items;

    *out = NULL;
    if (!d)
        return PV_ENOTFOUND;
    items = list_of(d);
    virDomainFree(d);
    if (!items)
        return ag_virt_error(err, "list the snapshots");
    *out = json_pack("{s:o}", "items", items);
    return 0;
}

int ag_virt_has_snapshots(const char *uuid, const char *what, struct pv_error *err)
{
    virDomainPtr d = ag_virt_lookup(uuid, err);
    int n;

    if (!d)
        return PV_ENOTFOUND;
    n = virDomainSnapshotNum(d, 0);
    if (n > 0)
        pv_fail(err, vm_has_snapshots,
                "vm %s has %d snapshot%s, which libvirt cannot %s with it: delete them first",
                virDomainGetName(d), n, n == 1 ? "" : "s", what);
    virResetLastError();
    virDomainFree(d);
    return n > 0 ? err->err : 0;
}

/* What QEMU can snapshot internally: every disk a qcow2 file.  (NULL
 * when it can, else why not, malloc'd.) */
static char *qemu_refusal(virDomainPtr d)
{
    char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE), *why = NULL;
    xmlDocPtr doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "dom.xml", NULL, XML_PARSE_NONET)
                        : NULL;
    xmlXPathContextPtr ctx = doc ? xmlXPathNewContext(doc) : NULL;
    xmlXPathObjectPtr set = ctx ? xmlXPathEvalExpression(
                                      BAD_CAST "/domain/devices/disk[@device='disk']", ctx)
                                : NULL;
    int n = set && set->nodesetval ? set->nodesetval->nodeNr : 0;

    free(xml);
    for (int i = 0; i < n && !why; i++) {
        xmlNodePtr disk = set->nodesetval->nodeTab[i], c;
        xmlChar *type = xmlGetProp(disk, BAD_CAST "type"), *fmt = NULL, *dev = NULL;
        for (c = disk->children; c; c = c->next) {
            if (c->type == XML_ELEMENT_NODE && !fmt && xmlStrcmp(c->name, BAD_CAST "driver") == 0)
                fmt = xmlGetProp(c, BAD_CAST "type");
            if (c->type == XML_ELEMENT_NODE && !dev && xmlStrcmp(c->name, BAD_CAST "target") == 0)
                dev = xmlGetProp(c, BAD_CAST "dev");
        }
        if (!type || xmlStrcmp(type, BAD_CAST "file") != 0 || !fmt ||
            xmlStrcmp(fmt, BAD_CAST "qcow2") != 0) {
            char buf[400];
            snprintf(buf, sizeof buf, "disk %s is a %s disk of format %s: QEMU keeps snapshots "
                     "only inside qcow2 images of type 'file'", dev ? (char *)dev : "?",
                     type ? (char *)type : "?", fmt ? (char *)fmt : "raw");
            why = strdup(buf);
        }
        xmlFree(type);
        xmlFree(fmt);
        xmlFree(dev);
    }
    if (!why && n == 0)
        why = strdup("it has no disk: QEMU keeps a snapshot (and the memory of a running VM) "
                     "inside a qcow2 disk image");
    xmlXPathFreeObject(set);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return why;
}

static char *create_xml(const char *name, const char *description)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    char *out = NULL;

    if (w) {
        xmlTextWriterStartElement(w, BAD_CAST "domainsnapshot");
        xmlTextWriterWriteElement(w, BAD_CAST "name", BAD_CAST name);
        if (description)
            xmlTextWriterWriteElement(w, BAD_CAST "description", BAD_CAST description);
        xmlTextWriterEndElement(w);
        xmlFreeTextWriter(w);
        out = strdup((const char *)xmlBufferContent(buf));
    }
    if (buf)
        xmlBufferFree(buf);
    return out;
}

static int snap_create(virDomainPtr d, const json_t *body, json_t *res, struct pv_error *err)
{
    const char *name = json_string_value(json_object_get(body, "name"));
    const char *desc = json_string_value(json_object_get(body, "description"));
    const json_t *mem = json_object_get(body, "memory");
    const char *st = ag_virt_power_state(d);
    int live = strcmp(st, "running") == 0 || strcmp(st, "paused") == 0;
    const char *type = virConnectGetType(ag_virt_conn());
    virDomainSnapshotPtr s, old;
    char *xml, *why;

    if (!name || !*name || strlen(name) > 128 || strchr(name, '/'))
        return pv_fail(err, invalid_argument, "a snapshot needs a name of 1 to 128 characters "
                                              "without '/'");
    if ((old = virDomainSnapshotLookupByName(d, name, 0))) {
        virDomainSnapshotFree(old);
        return pv_fail(err, snapshot_exists, "vm %s has a snapshot named '%s' already",
                       virDomainGetName(d), name);
    }
    virResetLastError();
    if (strcmp(st, "saved") == 0)
        return pv_fail(err, vm_saved, "vm %s has a saved state: start it, or delete the saved "
                                      "state, before taking a snapshot", virDomainGetName(d));
    if (type && strcmp(type, "QEMU") == 0) {
        if (live && json_is_false(mem))
            return pv_fail(err, unsupported_by_backend,
                           "a snapshot of running vm %s without its memory would be an external "
                           "snapshot, which libvirt cannot revert: take it with the memory, or "
                           "stop the VM first", virDomainGetName(d));
        if ((why = qemu_refusal(d))) {
            pv_fail(err, unsupported_by_backend, "vm %s cannot be snapshotted: %s",
                    virDomainGetName(d), why);
            free(why);
            return err->err;
        }
    }
    xml = create_xml(name, desc);
    if (!xml)
        return pv_fail(err, out_of_memory, "out of memory");
    /* libvirt's default for an internal snapshot: the memory of a running
     * VM, the disks only of a stopped one */
    s = virDomainSnapshotCreateXML(d, xml, 0);
    free(xml);
    if (!s)
        return ag_virt_error(err, "take the snapshot");
    json_object_set_new(res, "snapshot", snap_json(s));
    json_object_set_new(res, "key", json_string(virDomainSnapshotGetName(s)));
    virDomainSnapshotFree(s);
    return 0;
}

static int snap_revert(virDomainPtr d, const char *key, json_t *res, struct pv_error *err)
{
    virDomainSnapshotPtr s = virDomainSnapshotLookupByName(d, key, 0);
    json_t *info;
    int memory, rc;

    if (!s) {
        virResetLastError();
        return pv_fail(err, snapshot_not_found, "vm %s has no snapshot '%.128s'",
                       virDomainGetName(d), key);
    }
    info = snap_json(s);
    memory = json_is_true(json_object_get(info, "memory"));
    rc = virDomainRevertToSnapshot(s, memory ? VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING : 0);
    virDomainSnapshotFree(s);
    json_decref(info);
    if (rc < 0)
        return ag_virt_error(err, "revert to the snapshot");
    json_object_set_new(res, "key", json_string(key));
    return 0;
}

static int snap_delete(virDomainPtr d, const char *key, int children, json_t *res,
                       struct pv_error *err)
{
    virDomainSnapshotPtr s = virDomainSnapshotLookupByName(d, key, 0);
    int rc;

    if (!s) {
        virResetLastError();
        return pv_fail(err, snapshot_not_found, "vm %s has no snapshot '%.128s'",
                       virDomainGetName(d), key);
    }
    rc = virDomainSnapshotDelete(s, children ? VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN : 0);
    virDomainSnapshotFree(s);
    if (rc < 0)
        return ag_virt_error(err, "delete the snapshot");
    json_object_set_new(res, "key", json_string(key));
    return 0;
}

int ag_virt_snapshot(const char *uuid, const char *op, const json_t *body, json_t **out,
                     struct pv_error *err)
{
    const char *key = json_string_value(json_object_get(body, "key"));
    virDomainPtr d = ag_virt_lookup(uuid, err);
    json_t *res = json_object();
    int rc;

    *out = NULL;
    if (!d) {
        json_decref(res);
        return PV_ENOTFOUND;
    }
    if (strcmp(op, "create") == 0)
        rc = snap_create(d, body, res, err);
    else if (strcmp(op, "revert") == 0 && key)
        rc = snap_revert(d, key, res, err);
    else if (strcmp(op, "delete") == 0 && key)
        rc = snap_delete(d, key, json_is_true(json_object_get(body, "children")), res, err);
    else
        rc = pv_fail(err, unknown_action, "no snapshot change '%.16s'", op);
    if (!rc) {
        json_object_set_new(res, "vm", ag_virt_domain_json(d));
        *out = res;
    } else {
        json_decref(res);
    }
    virDomainFree(d);
    return rc;
}
