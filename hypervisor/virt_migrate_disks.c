/* virt_migrate_disks.c -- the storage side of a live migration without
 * shared storage (VIR_MIGRATE_NON_SHARED_DISK): libvirt copies each named
 * disk over NBD into a file that must already exist on the destination.
 *
 * Decisions a newcomer must know:
 *   - Source side: ag_virt_migration_volumes() lists the VM's disks that are
 *     volumes of a local pool (a network-backed pool -- netfs, iscsi, rbd ...
 *     -- is reached by the destination too and is not copied).
 *   - Destination side: ag_virt_incoming_volumes() pre-creates, in the pool
 *     placement chose, one volume per copied disk, of the same name, size and
 *     format, and answers their paths; all or nothing (a failure deletes what
 *     it made).  ag_virt_incoming_remove() deletes them again when the
 *     migration failed.
 *   - When a destination path differs from the source path (the pools sit
 *     in different directories) the source passes the destination its own
 *     definition with the new paths (VIR_MIGRATE_PARAM_DEST_XML and
 *     PERSIST_XML, built here); the agent's metadata list of the volumes it
 *     made is rewritten with them, so the destination deletes them with the
 *     VM like any other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include "agent.h"
#include "virt.h"

static xmlDocPtr parse(const char *xml)
{
    return xml ? xmlReadMemory(xml, (int)strlen(xml), "x.xml", NULL, XML_PARSE_NONET) : NULL;
}

/* Pools another host reaches too, as virt_storage.c reports them. */
static int network_backed(virStoragePoolPtr pool)
{
    char *xml = virStoragePoolGetXMLDesc(pool, 0);
    xmlDocPtr doc = parse(xml);
    char *type = doc ? ag_virt_xpath_string(doc, "string(/pool/@type)") : NULL;
    int yes = ag_virt_shared_kind(type);

    free(type);
    xmlFreeDoc(doc);
    free(xml);
    return yes;
}

/* The format and size the guest sees the disk with: its <driver type> (none
 * is raw: libvirt does not probe) and, raw, the file's length -- a qcow2
 * image given as a disk without a driver type is a raw disk to the guest,
 * and NBD's mirror needs a target of exactly that size. */
static int guest_view(xmlNodePtr disk, const char *path, virStorageVolPtr vol, char fmt[16],
                      unsigned long long *bytes)
{
    xmlChar *type = NULL;
    virStorageVolInfo info;
    struct stat st;

    for (xmlNodePtr c = disk->children; c && !type; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, "driver") == 0)
            type = xmlGetProp(c, BAD_CAST "type");
    snprintf(fmt, 16, "%s", type && *type ? (const char *)type : "raw");
    xmlFree(type);
    if (strcmp(fmt, "raw") == 0) {
        if (stat(path, &st) != 0)
            return -1;
        *bytes = (unsigned long long)st.st_size;
        return 0;
    }
    if (virStorageVolGetInfo(vol, &info) != 0)
        return -1;
    *bytes = info.capacity;
    return 0;
}

int ag_virt_migration_volumes(const char *uuid, json_t **out, struct pv_error *err)
{
    virDomainPtr d = ag_virt_lookup(uuid, err);
    char *xml;
    xmlDocPtr doc;
    xmlXPathContextPtr ctx;
    xmlXPathObjectPtr r;
    char name[256];

    if (!d)
        return PV_ENOTFOUND;
    snprintf(name, sizeof name, "%s", virDomainGetName(d));
    xml = virDomainGetXMLDesc(d, 0);
    doc = parse(xml);
    ctx = doc ? xmlXPathNewContext(doc) : NULL;
    r = ctx ? xmlXPathEvalExpression(BAD_CAST "/domain/devices/disk[@device='disk' and @type='file']", ctx)
            : NULL;
    *out = json_array();
    for (int i = 0; r && r->nodesetval && i < r->nodesetval->nodeNr; i++) {
        xmlNodePtr n = r->nodesetval->nodeTab[i];
        xmlChar *file = NULL, *dev = NULL;
        for (xmlNodePtr c = n->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            if (!file && strcmp((const char *)c->name, "source") == 0)
                file = xmlGetProp(c, BAD_CAST "file");
            if (!dev && strcmp((const char *)c->name, "target") == 0)
                dev = xmlGetProp(c, BAD_CAST "dev");
        }
        virStorageVolPtr vol = file ? virStorageVolLookupByPath(ag_virt_conn(), (const char *)file) : NULL;
        virStoragePoolPtr pool = vol ? virStoragePoolLookupByVolume(vol) : NULL;
        char fmt[16];
        unsigned long long bytes;
        if (dev && pool && !network_backed(pool) &&
            guest_view(n, (const char *)file, vol, fmt, &bytes) == 0)
            json_array_append_new(*out, json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:b}", "dev", (const char *)dev,
                                                  "path", (const char *)file, "name",
                                                  virStorageVolGetName(vol), "pool",
                                                  virStoragePoolGetName(pool), "capacity",
                                                  (json_int_t)bytes, "format", fmt, "made",
                                                  ag_virt_made_here(d, name, (const char *)file)));
        if (pool)
            virStoragePoolFree(pool);
        if (vol)
            virStorageVolFree(vol);
        xmlFree(file);
        xmlFree(dev);
    }
    virResetLastError();
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    free(xml);
    virDomainFree(d);
    return 0;
}

/* Delete the volumes of these names in pool (the ones this agent made for
 * an incoming migration). */
static void remove_named(virStoragePoolPtr pool, json_t *names)
{
    size_t i;
    json_t *n;

    json_array_foreach(names, i, n) {
        virStorageVolPtr v = json_is_string(n) ? virStorageVolLookupByName(pool, json_string_value(n)) : NULL;
        if (v) {
            virStorageVolDelete(v, 0);
            virStorageVolFree(v);
        }
    }
    virResetLastError();
}

static virStoragePoolPtr pool_named(const char *name, struct pv_error *err)
{
    virStoragePoolPtr pool = name ? virStoragePoolLookupByName(ag_virt_conn(), name) : NULL;

    if (!pool) {
        virResetLastError();
        pv_fail(err, unknown_pool, "this host has no storage pool '%.128s'", name ? name : "");
    }
    return pool;
}

int ag_virt_incoming_volumes(const json_t *req, json_t **out, struct pv_error *err)
{
    virStoragePoolPtr pool = pool_named(json_string_value(json_object_get(req, "pool")), err);
    json_t *vols = json_object_get(req, "volumes"), *v, *made = json_array();
    unsigned long long need = 0;
    size_t i;
    int rc = 0;

    *out = NULL;
    if (!pool) {
        json_decref(made);
        return PV_EINVAL;
    }
    if (!json_is_array(vols) || !json_array_size(vols))
        rc = pv_fail(err, invalid_spec, "volumes: a list of {name, capacity, format} is needed");
    json_array_foreach(vols, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        if (!rc && (!name || !*name || strchr(name, '/') || json_integer_value(json_object_get(v, "capacity")) <= 0))
            rc = pv_fail(err, invalid_spec, "volumes[%zu]: a name and a capacity are needed", i);
        need += (unsigned long long)json_integer_value(json_object_get(v, "capacity"));
    }
    virStoragePoolRefresh(pool, 0);
    if (!rc)
        rc = ag_virt_pool_free_check(pool, need, err);
    *out = json_array();
    json_array_foreach(vols, i, v) {
        const char *name = json_string_value(json_object_get(v, "name"));
        const char *fmt = json_string_value(json_object_get(v, "format"));
        virStorageVolPtr vol;
        char *path;
        if (rc)
            break;
        vol = virStorageVolLookupByName(pool, name);
        if (vol) {
            virStorageVolFree(vol);
            rc = pv_fail(err, already_exists, "storage pool %s already has a volume %s",
                         virStoragePoolGetName(pool), name);
            break;
        }
        virResetLastError();
        vol = ag_virt_make_volume_as(pool, name, (unsigned long long)json_integer_value(json_object_get(v, "capacity")),
                                     fmt ? fmt : "qcow2", err);
        if (!vol) {
            rc = PV_EINTERNAL;
            break;
        }
        json_array_append_new(made, json_string(name));
        path = virStorageVolGetPath(vol);
        json_array_append_new(*out, json_pack("{s:O,s:s,s:s}", "dev", json_object_get(v, "dev"), "name",
                                              name, "path", path ? path : ""));
        free(path);
        virStorageVolFree(vol);
    }
    if (rc) {
        remove_named(pool, made);
        json_decref(*out);
        *out = NULL;
        if (!err->code[0])
            pv_fail(err, internal_error, "cannot pre-create the volumes");
        rc = rc < 0 ? rc : PV_EINTERNAL;
    }
    json_decref(made);
    virStoragePoolFree(pool);
    return rc;
}

int ag_virt_incoming_remove(const json_t *req, struct pv_error *err)
{
    virStoragePoolPtr pool = pool_named(json_string_value(json_object_get(req, "pool")), err);

    if (!pool)
        return PV_EINVAL;
    remove_named(pool, json_object_get(req, "names"));
    virStoragePoolRefresh(pool, 0);
    virResetLastError();
    virStoragePoolFree(pool);
    return 0;
}

int ag_virt_incoming_keep(const json_t *req, struct pv_error *err)
{
    const char *uuid = json_string_value(json_object_get(req, "uuid"));
    virDomainPtr d = uuid ? ag_virt_lookup(uuid, err) : NULL;
    virStoragePoolPtr pool = d ? pool_named(json_string_value(json_object_get(req, "pool")), err) : NULL;
    size_t i;
    json_t *n;

    if (!uuid)
        return pv_fail(err, invalid_spec, "uuid: the VM the volumes were made for");
    if (!pool) {
        if (d)
            virDomainFree(d);
        return d ? PV_EINVAL : PV_ENOTFOUND;
    }
    json_array_foreach(json_object_get(req, "names"), i, n) {
        virStorageVolPtr v = json_is_string(n) ? virStorageVolLookupByName(pool, json_string_value(n)) : NULL;
        char *path = v ? virStorageVolGetPath(v) : NULL;
        if (path && !ag_virt_made_here(d, virDomainGetName(d), path))
            ag_virt_made_add(d, path);
        free(path);
        if (v)
            virStorageVolFree(v);
    }
    virResetLastError();
    virStoragePoolFree(pool);
    virDomainFree(d);
    return 0;
}

/* ---- source side: the destination's definition ------------------------- */

/* doc with each copied disk's source file, and each metadata entry naming
 * its old path, set to the destination path. */
static void rewrite_paths(xmlDocPtr doc, const json_t *copies)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr src = ctx ? xmlXPathEvalExpression(BAD_CAST "/domain/devices/disk/source[@file]", ctx) : NULL;
    xmlXPathObjectPtr meta = ctx ? xmlXPathEvalExpression(BAD_CAST "/domain/metadata//*[@path]", ctx) : NULL;
    xmlXPathObjectPtr sets[2] = {src, meta};
    const char *attrs[2] = {"file", "path"};
    size_t i;
    json_t *c;

    for (int s = 0; s < 2; s++)
        for (int k = 0; sets[s] && sets[s]->nodesetval && k < sets[s]->nodesetval->nodeNr; k++) {
            xmlNodePtr n = sets[s]->nodesetval->nodeTab[k];
            xmlChar *v = xmlGetProp(n, BAD_CAST attrs[s]);
            json_array_foreach(copies, i, c) {
                const char *from = json_string_value(json_object_get(c, "source_path"));
                const char *to = json_string_value(json_object_get(c, "path"));
                if (v && from && to && strcmp((const char *)v, from) == 0) {
                    xmlSetProp(n, BAD_CAST attrs[s], BAD_CAST to);
                    break;
                }
            }
            xmlFree(v);
        }
    xmlXPathFreeObject(src);
    xmlXPathFreeObject(meta);
    xmlXPathFreeContext(ctx);
}

char *ag_virt_migration_xml(virDomainPtr d, unsigned flags, const json_t *copies)
{
    char *xml = virDomainGetXMLDesc(d, flags | VIR_DOMAIN_XML_MIGRATABLE | VIR_DOMAIN_XML_SECURE);
    xmlDocPtr doc = parse(xml);
    xmlChar *mem = NULL;
    char *out = NULL;
    int len = 0;

    free(xml);
    if (!doc)
        return NULL;
    rewrite_paths(doc, copies);
    xmlDocDumpMemory(doc, &mem, &len);
    if (mem)
        out = strdup((const char *)mem);
    xmlFree(mem);
    xmlFreeDoc(doc);
    return out;
}

void ag_virt_delete_source_volumes(const json_t *paths)
{
    size_t i;
    json_t *p;

    json_array_foreach(paths, i, p) {
        virStorageVolPtr v = virStorageVolLookupByPath(ag_virt_conn(), json_string_value(p));
        if (v) {
            if (virStorageVolDelete(v, 0) < 0)
                fprintf(stderr, "polyvisor-agent: cannot delete the migrated volume %s\n",
                        json_string_value(p));
            virStorageVolFree(v);
        }
    }
    virResetLastError();
}
