/* virt_disk_move.c -- storage migration: one disk of a VM moves to another
 * storage pool of this host (POST /v1/vms/{uuid}/disks/{dev}/move, then GET
 * the same path for its progress).
 *
 * Decisions a newcomer must know:
 *   - A running VM keeps running: libvirt's block copy (virDomainBlockCopy)
 *     mirrors the disk into a new qcow2 volume in the target pool while the
 *     guest writes on; once the mirror is ready the guest is pivoted onto it
 *     (virDomainBlockJobAbort with PIVOT).  A stopped VM's volume is copied
 *     (virStorageVolCreateXMLFrom).  Either way the persistent definition
 *     then names the new volume, and only after that switch is the old
 *     volume deleted -- and only when the agent made it for this VM.
 *   - A move runs on a thread of its own, as a live migration does: the
 *     request checks what it can and answers at once; the caller polls the
 *     progress (the block job's cur/end).  A move asked for again while it
 *     runs answers with the running one instead of starting a second; a
 *     cancel (POST .../move/cancel) aborts the block copy, or undoes a
 *     volume copy once it has ended.
 *   - Nothing half-made: a failure before the switch aborts the block job
 *     (the guest stays on its old disk) and deletes the new volume.
 */
#include <pthread.h>
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

#define MOVES 16

enum move_state { MOVE_RUNNING = 0, MOVE_SUCCEEDED, MOVE_FAILED };

struct move {
    int used;
    char uuid[VIR_UUID_STRING_BUFLEN];
    char dev[32];
    char pool[256];
    enum move_state state;
    int live;           /* the VM runs: a block copy */
    int cancel;         /* asked to stop: the guest stays on its old disk */
    int percent;
    struct pv_error err;
    char path[1024];    /* the new volume */
    char note[512];
};

static pthread_mutex_t moves_lock = PTHREAD_MUTEX_INITIALIZER;
static struct move moves[MOVES]; /* guarded by moves_lock */

/* ---- the domain's XML --------------------------------------------------- */

/* The <disk> of target dev in doc, or NULL. */
static xmlNodePtr disk_node(xmlDocPtr doc, const char *dev)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr r = ctx ? xmlXPathEvalExpression(BAD_CAST "/domain/devices/disk[@device='disk']/target", ctx)
                              : NULL;
    xmlNodePtr found = NULL;

    for (int i = 0; r && r->nodesetval && i < r->nodesetval->nodeNr && !found; i++) {
        xmlChar *v = xmlGetProp(r->nodesetval->nodeTab[i], BAD_CAST "dev");
        if (v && strcmp((const char *)v, dev) == 0)
            found = r->nodesetval->nodeTab[i]->parent;
        xmlFree(v);
    }
    xmlXPathFreeObject(r);
    xmlXPathFreeContext(ctx);
    return found;
}

static xmlNodePtr child(xmlNodePtr n, const char *name)
{
    for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && strcmp((const char *)c->name, name) == 0)
            return c;
    return NULL;
}

static xmlDocPtr domain_doc(virDomainPtr d, unsigned flags)
{
    char *xml = virDomainGetXMLDesc(d, flags);
    xmlDocPtr doc = xml ? xmlReadMemory(xml, (int)strlen(xml), "dom.xml", NULL, XML_PARSE_NONET) : NULL;
    free(xml);
    return doc;
}

/* The file behind disk dev (malloc'd), in the running definition when
 * live, else in the persistent one; NULL when there is no such disk. */
static char *disk_source(virDomainPtr d, const char *dev, int live)
{
    xmlDocPtr doc = domain_doc(d, live ? 0 : VIR_DOMAIN_XML_INACTIVE);
    xmlNodePtr src = doc ? child(disk_node(doc, dev), "source") : NULL;
    xmlChar *v = src ? xmlGetProp(src, BAD_CAST "file") : NULL;
    char *s = v ? strdup((const char *)v) : NULL;

    xmlFree(v);
    xmlFreeDoc(doc);
    return s;
}

/* The persistent definition with disk dev on the qcow2 file at path. */
static int switch_definition(virDomainPtr d, const char *dev, const char *path, struct pv_error *err)
{
    xmlDocPtr doc = domain_doc(d, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    xmlNodePtr disk = doc ? disk_node(doc, dev) : NULL, src, drv;
    xmlChar *xml = NULL;
    int len = 0, rc = 0;
    virDomainPtr nd;

    if (!disk) {
        xmlFreeDoc(doc);
        return pv_fail(err, disk_not_found, "the definition has no disk %s any more", dev);
    }
    src = child(disk, "source");
    if (!src)
        src = xmlNewChild(disk, NULL, BAD_CAST "source", NULL);
    xmlSetProp(src, BAD_CAST "file", BAD_CAST path);
    drv = child(disk, "driver");
    if (!drv) {
        drv = xmlNewNode(NULL, BAD_CAST "driver");
        xmlSetProp(drv, BAD_CAST "name", BAD_CAST "qemu");
        xmlAddPrevSibling(src, drv);
    }
    xmlSetProp(drv, BAD_CAST "type", BAD_CAST "qcow2");
    xmlDocDumpMemory(doc, &xml, &len);
    nd = xml ? virDomainDefineXML(ag_virt_conn(), (const char *)xml) : NULL;
    if (!nd)
        rc = ag_virt_error(err, "switch the definition to the new volume");
    else
        virDomainFree(nd);
    xmlFree(xml);
    xmlFreeDoc(doc);
    return rc;
}

static char *copy_xml(const char *path)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    char *s = NULL;

    if (w) {
        xmlTextWriterStartElement(w, BAD_CAST "disk");
        xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "file");
        xmlTextWriterStartElement(w, BAD_CAST "driver");
        xmlTextWriterWriteAttribute(w, BAD_CAST "name", BAD_CAST "qemu");
        xmlTextWriterWriteAttribute(w, BAD_CAST "type", BAD_CAST "qcow2");
        xmlTextWriterEndElement(w);
        xmlTextWriterStartElement(w, BAD_CAST "source");
        xmlTextWriterWriteAttribute(w, BAD_CAST "file", BAD_CAST path);
        xmlTextWriterEndElement(w);
        xmlTextWriterEndElement(w);
        if (xmlTextWriterEndDocument(w) >= 0)
            s = strdup((const char *)xmlBufferContent(buf));
        xmlFreeTextWriter(w);
    }
    xmlBufferFree(buf);
    return s;
}

/* Note the progress; 1 when the move was asked to stop. */
static int set_percent(struct move *m, int percent)
{
    int cancel;

    pthread_mutex_lock(&moves_lock);
    m->percent = percent;
    cancel = m->cancel;
    pthread_mutex_unlock(&moves_lock);
    return cancel;
}

/* ---- the two ways ------------------------------------------------------- */

/* Running: mirror into the new volume, then pivot the guest onto it. */
static int copy_live(struct move *m, virDomainPtr d, const char *path, struct pv_error *err)
{
    char *xml = copy_xml(path);
    virDomainBlockJobInfo bi;
    int rc = 0, started;
    const struct timespec tick = {0, 20000000L}; /* the pivot follows readiness closely */

    started = xml && virDomainBlockCopy(d, m->dev, xml, NULL, 0,
                                        VIR_DOMAIN_BLOCK_COPY_REUSE_EXT |
                                            VIR_DOMAIN_BLOCK_COPY_TRANSIENT_JOB) == 0;
    free(xml);
    if (!started)
        return ag_virt_error(err, "start the block copy");
    for (;;) {
        int n = virDomainGetBlockJobInfo(d, m->dev, &bi, 0);
        if (n < 0) {
            rc = ag_virt_error(err, "follow the block copy");
            break;
        }
        if (n == 0) {
            rc = pv_fail(err, libvirt_error, "the block copy of %s ended before it was ready", m->dev);
            break;
        }
        if (set_percent(m, bi.end ? (int)(bi.cur * 99 / bi.end) : 0)) {
            rc = pv_fail(err, cancelled, "the move of %s was cancelled: the VM stays on its "
                                         "old volume", m->dev);
            break;
        }
        /* ready (every block mirrored): switch; a pivot refused as not
         * ready yet is tried again at the next tick */
        if (bi.end && bi.cur == bi.end &&
            virDomainBlockJobAbort(d, m->dev, VIR_DOMAIN_BLOCK_JOB_ABORT_PIVOT) == 0)
            return 0;
        virResetLastError();
        nanosleep(&tick, NULL);
    }
    if (virDomainBlockJobAbort(d, m->dev, 0) < 0) /* the guest stays on its old disk */
        virResetLastError();
    return rc;
}

/* Stopped: a copy of the volume in the target pool. */
static virStorageVolPtr copy_cold(virStoragePoolPtr pool, const char *name, virStorageVolPtr from,
                                  unsigned long long capacity, struct pv_error *err)
{
    char *xml = ag_virt_volume_xml(name, capacity, "qcow2");
    virStorageVolPtr vol = xml ? virStorageVolCreateXMLFrom(pool, xml, from, 0) : NULL;

    free(xml);
    if (!vol)
        ag_virt_error(err, "copy the volume");
    return vol;
}

/* ---- one move ------------------------------------------------------------ */

/* Everything a move needs, looked up and checked: the domain, the old
 * volume, the target pool and the new volume's name. */
struct plan {
    virDomainPtr d;
    int live;
    char *old_path;
    virStorageVolPtr old_vol;
    virStorageVolInfo info;
    virStoragePoolPtr pool;
    char name[256];
};

static void plan_free(struct plan *p)
{
    if (p->pool)
        virStoragePoolFree(p->pool);
    if (p->old_vol)
        virStorageVolFree(p->old_vol);
    if (p->d)
        virDomainFree(p->d);
    free(p->old_path);
    memset(p, 0, sizeof *p);
}

static int plan_move(const char *uuid, const char *dev, const char *pool, struct plan *p,
                     struct pv_error *err)
{
    virStoragePoolPtr from = NULL;
    virStorageVolPtr clash;
    const char *st, *base;
    char a[VIR_UUID_STRING_BUFLEN] = "", b[VIR_UUID_STRING_BUFLEN] = "";
    int rc = 0;

    memset(p, 0, sizeof *p);
    p->d = ag_virt_lookup(uuid, err);
    if (!p->d)
        return PV_ENOTFOUND;
    st = ag_virt_power_state(p->d);
    if (strcmp(st, "saved") == 0) {
        rc = pv_fail(err, vm_saved, "vm %s has a saved state: start it, or delete the saved "
                                    "state, before moving its disks", virDomainGetName(p->d));
        goto out;
    }
    p->live = strcmp(st, "running") == 0 || strcmp(st, "paused") == 0;
    p->old_path = disk_source(p->d, dev, p->live);
    if (!p->old_path) {
        rc = pv_fail(err, disk_not_found, "vm %s has no disk %.31s", virDomainGetName(p->d), dev);
        goto out;
    }
    p->old_vol = virStorageVolLookupByPath(ag_virt_conn(), p->old_path);
    if (!p->old_vol || virStorageVolGetInfo(p->old_vol, &p->info) < 0 ||
        !(from = virStoragePoolLookupByVolume(p->old_vol))) {
        virResetLastError();
        rc = pv_fail(err, unsupported_by_backend, "disk %s (%s) is not a volume of a storage pool "
                     "of this host", dev, p->old_path);
        goto out;
    }
    p->pool = virStoragePoolLookupByName(ag_virt_conn(), pool);
    if (!p->pool) {
        virResetLastError();
        rc = pv_fail(err, unknown_pool, "this host has no storage pool '%.64s'", pool);
        goto out;
    }
    virStoragePoolGetUUIDString(from, a);
    virStoragePoolGetUUIDString(p->pool, b);
    if (strcmp(a, b) == 0) {
        rc = pv_fail(err, same_pool, "disk %s is in storage pool %s already", dev, pool);
        goto out;
    }
    if ((rc = ag_virt_pool_free_check(p->pool, p->info.allocation, err)))
        goto out;
    base = strrchr(p->old_path, '/');
    snprintf(p->name, sizeof p->name, "%s", base ? base + 1 : p->old_path);
    if ((clash = virStorageVolLookupByName(p->pool, p->name))) {
        virStorageVolFree(clash);
        rc = pv_fail(err, volume_exists, "volume %s exists already in pool %s", p->name, pool);
        goto out;
    }
    virResetLastError();
out:
    if (from)
        virStoragePoolFree(from);
    if (rc)
        plan_free(p);
    return rc;
}

static void *move_main(void *arg)
{
    struct move *m = arg;
    struct pv_error err = {0};
    struct plan p;
    virStorageVolPtr vol = NULL;
    char *path = NULL, note[512] = "";
    int rc = plan_move(m->uuid, m->dev, m->pool, &p, &err), pivoted = 0;

    pthread_mutex_lock(&moves_lock);
    m->live = !rc && p.live;
    pthread_mutex_unlock(&moves_lock);

    if (!rc) {
        vol = p.live ? ag_virt_make_volume(p.pool, p.name, p.info.capacity, &err)
                     : copy_cold(p.pool, p.name, p.old_vol, p.info.capacity, &err);
        path = vol ? virStorageVolGetPath(vol) : NULL;
        if (!path)
            rc = vol ? ag_virt_error(&err, "the new volume's path") : err.err ? err.err : PV_EINTERNAL;
        else if (p.live)
            rc = copy_live(m, p.d, path, &err);
        else if (set_percent(m, 99)) /* a copy runs to its end; what it made goes again */
            rc = pv_fail(&err, cancelled, "the move of %s was cancelled: the VM stays on its old "
                                          "volume", m->dev);
    }
    if (!rc && path) { /* the guest is on the new volume (or will start on it): make it stick */
        char *now = disk_source(p.d, m->dev, 0);
        pivoted = p.live;
        if (!now || strcmp(now, path) != 0)
            rc = switch_definition(p.d, m->dev, path, &err);
        free(now);
    }
    if (rc && pivoted) {
        /* the running guest is on the new volume, its definition still on
         * the old one: both stay, and the error says so */
        char msg[sizeof err.message + 2200];
        snprintf(msg, sizeof msg, "%s (the running VM uses %.1000s now; its definition still "
                 "names %.1000s: both volumes were kept)", err.message, path, p.old_path);
        snprintf(err.message, sizeof err.message, "%.*s", (int)sizeof err.message - 1, msg);
    } else if (!rc) {
        ag_virt_made_add(p.d, path);
        if (ag_virt_made_here(p.d, virDomainGetName(p.d), p.old_path)) {
            if (virStorageVolDelete(p.old_vol, 0) == 0)
                ag_virt_made_drop(p.d, p.old_path);
            else
                snprintf(note, sizeof note, "the old volume %s could not be deleted: %s",
                         p.old_path, virGetLastErrorMessage());
        } else {
            snprintf(note, sizeof note, "the old volume %s was not made for this VM and was kept",
                     p.old_path);
        }
        virResetLastError();
    } else if (vol && virStorageVolDelete(vol, 0) < 0) { /* nothing half-made */
        virResetLastError();
    }
    pthread_mutex_lock(&moves_lock);
    m->state = rc ? MOVE_FAILED : MOVE_SUCCEEDED;
    m->err = err;
    m->percent = rc ? m->percent : 100;
    snprintf(m->path, sizeof m->path, "%s", path ? path : "");
    snprintf(m->note, sizeof m->note, "%s", note);
    pthread_mutex_unlock(&moves_lock);
    if (vol)
        virStorageVolFree(vol);
    free(path);
    plan_free(&p);
    return NULL;
}

static struct move *find_move(const char *uuid, const char *dev)
{
    for (int i = 0; i < MOVES; i++)
        if (moves[i].used && strcmp(moves[i].uuid, uuid) == 0 && strcmp(moves[i].dev, dev) == 0)
            return &moves[i];
    return NULL;
}

static json_t *move_json(const struct move *m)
{
    static const char *const states[] = {"running", "succeeded", "failed"};
    json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:b}", "uuid", m->uuid, "dev", m->dev, "state",
                          states[m->state], "percent", m->percent, "live", m->live);

    if (m->state == MOVE_FAILED)
        json_object_set_new(o, "error", json_pack("{s:s,s:s}", "code", m->err.code, "message",
                                                  m->err.message));
    if (m->path[0])
        json_object_set_new(o, "path", json_string(m->path));
    if (m->note[0])
        json_object_set_new(o, "note", json_string(m->note));
    return o;
}

int ag_virt_disk_move(const char *uuid, const char *dev, const char *pool, json_t **out,
                      struct pv_error *err)
{
    struct plan p;
    struct move *m;
    pthread_t t;
    int rc = 0;

    *out = NULL;
    if (!pool || !*pool)
        return pv_fail(err, invalid_spec, "a move names the target {\"pool\"}");
    if (strlen(dev) >= sizeof moves[0].dev || strlen(pool) >= sizeof moves[0].pool)
        return pv_fail(err, disk_not_found, "no disk %.31s", dev);
    pthread_mutex_lock(&moves_lock);
    m = find_move(uuid, dev);
    if (m && m->state == MOVE_RUNNING) { /* asked again (a job resumed): the same move */
        *out = move_json(m);
        pthread_mutex_unlock(&moves_lock);
        return 0;
    }
    pthread_mutex_unlock(&moves_lock);
    /* what can be refused now is refused here, before a thread or a volume */
    if ((rc = plan_move(uuid, dev, pool, &p, err)))
        return rc;
    plan_free(&p);
    pthread_mutex_lock(&moves_lock);
    if (!m)
        for (int i = 0; i < MOVES && !m; i++)
            if (!moves[i].used || moves[i].state != MOVE_RUNNING)
                m = &moves[i];
    if (!m) {
        pthread_mutex_unlock(&moves_lock);
        return pv_fail(err, invalid_state, "this host moves %d disks already", MOVES);
    }
    memset(m, 0, sizeof *m);
    m->used = 1;
    snprintf(m->uuid, sizeof m->uuid, "%s", uuid);
    snprintf(m->dev, sizeof m->dev, "%s", dev);
    snprintf(m->pool, sizeof m->pool, "%s", pool);
    m->state = MOVE_RUNNING;
    if (pthread_create(&t, NULL, move_main, m) != 0) {
        m->used = 0;
        rc = pv_fail(err, thread_failed, "cannot start the move");
    } else {
        pthread_detach(t);
        *out = move_json(m);
    }
    pthread_mutex_unlock(&moves_lock);
    return rc;
}

int ag_virt_disk_move_cancel(const char *uuid, const char *dev, json_t **out, struct pv_error *err)
{
    struct move *m;
    int rc = 0;

    pthread_mutex_lock(&moves_lock);
    m = find_move(uuid, dev);
    if (m) {
        m->cancel = m->state == MOVE_RUNNING;
        *out = move_json(m);
    } else {
        rc = pv_fail(err, no_migration, "no move of disk %.31s of that vm here", dev);
    }
    pthread_mutex_unlock(&moves_lock);
    return rc;
}

int ag_virt_disk_move_state(const char *uuid, const char *dev, json_t **out, struct pv_error *err)
{
    struct move *m;
    int rc = 0;

    pthread_mutex_lock(&moves_lock);
    m = find_move(uuid, dev);
    if (m)
        *out = move_json(m);
    else
        rc = pv_fail(err, no_migration, "no move of disk %.31s of that vm here", dev);
    pthread_mutex_unlock(&moves_lock);
    return rc;
}
