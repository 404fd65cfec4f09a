/* virt_move.c -- quick migration, for hosts without shared storage: the
 * VM's state and disks travel through the kvm adapter from this agent to
 * another.  The protocol is explained below; the domains are virt.c's.
 */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"
#include "spec.h"
#include "virt.h"

/* ---- quick migration ------------------------------------------------------
 * Without shared storage: the source saves the VM's running state to a file
 * (the VM stops), the file is copied to the destination agent, which
 * defines the VM from the source's XML and restores the state; then the
 * source undefines its copy.  Until that last step the source can undo: it
 * restores from its file and the VM runs where it was.  Files live in the
 * agent's state directory, named by the VM's UUID (checked to be one, so a
 * name can never leave the directory).  Disks travel too: each disk file is
 * handed out as it is (the VM is stopped meanwhile, so it is consistent) and
 * written on the destination at the same path, which must lie in one of the
 * destination's storage pools and must not exist yet; the source deletes its
 * copies only once the destination runs the VM. */

static char state_dir[512] = "/var/lib/polyvisor-agent";

int ag_virt_set_state_dir(const char *dir, struct pv_error *err)
{
    if (strlen(dir) >= sizeof state_dir - 64)
        return pv_fail(err, invalid_argument, "state dir path too long");
    snprintf(state_dir, sizeof state_dir, "%s", dir);
    if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
        return pv_fail(err, state_dir, "cannot create %s: %s", state_dir,
                            strerror(errno));
    return 0;
}

int ag_virt_state_path(const char *uuid, const char *kind, char *out, size_t size,
                       struct pv_error *err)
{
    if (!ag_uuid_ok(uuid))
        return pv_fail(err, invalid_uuid, "'%.40s' is not a lower-case UUID", uuid);
    snprintf(out, size, "%s/%s.%s", state_dir, uuid, kind);
    return 0;
}

int ag_virt_export(const char *uuid, json_t **out, struct pv_error *err)
{
    if (ag_virt_has_snapshots(uuid, "move to another host (the snapshot metadata stays here)", err))
        return err->err;
    virDomainPtr d = ag_virt_lookup(uuid, err);
    char path[600], *xml;
    const char *st;
    int rc = 0, state = 0;
    struct stat sb;
    json_t *paths, *disks, *p;
    size_t i;

    if (!d)
        return PV_ENOTFOUND;
    st = ag_virt_power_state(d);
    xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_SECURE | VIR_DOMAIN_XML_MIGRATABLE);
    paths = ag_virt_disk_paths(d);
    disks = json_array();
    json_array_foreach(paths, i, p) {
        if (stat(json_string_value(p), &sb) != 0 || !S_ISREG(sb.st_mode)) {
            rc = pv_fail(err, unsupported_by_backend,
                              "disk %s is not a file this agent can copy", json_string_value(p));
            break;
        }
        json_array_append_new(disks, json_pack("{s:i,s:O,s:I}", "index", (int)i, "path", p, "size",
                                               (json_int_t)sb.st_size));
    }
    if (rc) {
        /* refused above */
    } else if (!xml) {
        rc = ag_virt_error(err, "export");
    } else if (strcmp(st, "saved") == 0) {
        rc = pv_fail(err, vm_saved, "vm %s is saved; start it or delete its saved state first",
                          virDomainGetName(d));
    } else if ((rc = ag_virt_state_path(uuid, "save", path, sizeof path, err)) == 0 &&
               (strcmp(st, "running") == 0 || strcmp(st, "paused") == 0)) {
        unlink(path);
        /* no flags: a restore brings it back running or paused, as it was */
        if (virDomainSaveFlags(d, path, NULL, 0) < 0)
            rc = ag_virt_error(err, "save for quick migration");
        else
            state = 1;
    }
    if (!rc)
        *out = json_pack("{s:s,s:b,s:I,s:O}", "xml", xml, "state", state, "state_size",
                         (json_int_t)(state && stat(path, &sb) == 0 ? sb.st_size : 0), "disks", disks);
    json_decref(paths);
    json_decref(disks);
    free(xml);
    virDomainFree(d);
    return rc;
}

int ag_virt_export_disk(const char *uuid, int index, char *out, size_t size, struct pv_error *err)
{
    virDomainPtr d = ag_virt_lookup(uuid, err);
    json_t *paths;
    int rc = 0;

    if (!d)
        return PV_ENOTFOUND;
    paths = ag_virt_disk_paths(d);
    if (index < 0 || (size_t)index >= json_array_size(paths))
        rc = pv_fail(err, no_disk, "vm %s has no disk %d", uuid, index);
    else
        snprintf(out, size, "%s", json_string_value(json_array_get(paths, (size_t)index)));
    json_decref(paths);
    virDomainFree(d);
    return rc;
}

int ag_virt_import_disk_path(const char *path, struct pv_error *err)
{
    char dir[512];
    const char *slash = strrchr(path ? path : "", '/');
    struct stat sb;

    if (!path || path[0] != '/' || strstr(path, "/../") || strstr(path, "/./") || !slash ||
        slash == path || (size_t)(slash - path) >= sizeof dir || !slash[1])
        return pv_fail(err, invalid_path, "a disk goes to an absolute path, without '..'");
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    if (!ag_virt_pool_dir(dir, NULL))
        return pv_fail(err, invalid_path,
                            "%s is not in a storage pool of this host", path);
    if (lstat(path, &sb) == 0)
        return pv_fail(err, disk_exists, "%s exists already on this host", path);
    return 0;
}

/* Remove disks an import wrote (each checked to lie in a pool), and tell
 * the pools. */
static void remove_imported(json_t *disks)
{
    size_t i;
    json_t *p;

    json_array_foreach(disks, i, p) {
        const char *path = json_string_value(p);
        char dir[512];
        const char *slash = path ? strrchr(path, '/') : NULL;
        virStoragePoolPtr pool = NULL;
        if (!slash || slash == path || (size_t)(slash - path) >= sizeof dir || strstr(path, "/../"))
            continue;
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
        if (ag_virt_pool_dir(dir, &pool)) {
            unlink(path);
            virStoragePoolRefresh(pool, 0);
            virStoragePoolFree(pool);
        }
    }
    virResetLastError();
}

/* Let every pool see the disks an import wrote. */
static void refresh_pools(void)
{
    virStoragePoolPtr *pools = NULL;
    int n = virConnectListAllStoragePools(ag_virt_conn(), &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);

    for (int i = 0; i < n; i++) {
        virStoragePoolRefresh(pools[i], 0);
        virStoragePoolFree(pools[i]);
    }
    free(pools);
    virResetLastError();
}

int ag_virt_import_abort(const char *uuid, json_t *disks, struct pv_error *err)
{
    char path[600];
    int rc = ag_virt_state_path(uuid, "import", path, sizeof path, err);

    if (rc)
        return rc;
    unlink(path);
    remove_imported(disks);
    return 0;
}

int ag_virt_export_undo(const char *uuid, struct pv_error *err)
{
    char path[600];
    int rc = ag_virt_state_path(uuid, "save", path, sizeof path, err);

    if (rc)
        return rc;
    if (access(path, F_OK) == 0) {
        if (virDomainRestore(ag_virt_conn(), path) < 0)
            return ag_virt_error(err, "restore on the source");
        unlink(path);
    }
    return 0;
}

int ag_virt_export_done(const char *uuid, struct pv_error *err)
{
    char path[600];
    virDomainPtr d;
    json_t *paths;
    int rc = ag_virt_state_path(uuid, "save", path, sizeof path, err);

    if (rc)
        return rc;
    unlink(path);
    d = virDomainLookupByUUIDString(ag_virt_conn(), uuid);
    if (!d) {
        virResetLastError();
        return 0; /* already gone */
    }
    paths = ag_virt_disk_paths(d); /* they live on at the destination now */
    rc = ag_virt_undefine(d, err);
    if (!rc)
        ag_virt_delete_volumes(paths);
    json_decref(paths);
    virDomainFree(d);
    return rc;
}

int ag_virt_import(const char *uuid, const char *xml, int restore, json_t *disks, json_t **out,
                   struct pv_error *err)
{
    char path[600];
    virDomainPtr d;
    int rc = ag_virt_state_path(uuid, "import", path, sizeof path, err);

    if (rc)
        return rc;
    if (!xml)
        return pv_fail(err, invalid_spec, "the VM's XML is needed");
    d = virDomainLookupByUUIDString(ag_virt_conn(), uuid);
    if (d) {
        virDomainFree(d);
        return pv_fail(err, vm_exists, "vm %s is on this host already", uuid);
    }
    virResetLastError();
    if (restore && access(path, R_OK) != 0)
        return pv_fail(err, no_state, "no state was uploaded for vm %s", uuid);
    if (json_array_size(disks))
        refresh_pools();
    d = virDomainDefineXML(ag_virt_conn(), xml);
    if (!d) {
        rc = ag_virt_error(err, "define on the destination");
        ag_virt_import_abort(uuid, disks, NULL);
        return rc;
    }
    if (restore && virDomainRestoreFlags(ag_virt_conn(), path, NULL, 0) < 0) { /* the image holds the XML */
        rc = ag_virt_error(err, "restore on the destination");
        ag_virt_undefine(d, NULL); /* leave nothing half-made behind */
        remove_imported(disks);
    }
    unlink(path);
    if (!rc)
        *out = ag_virt_domain_json(d);
    virDomainFree(d);
    return rc;
}
