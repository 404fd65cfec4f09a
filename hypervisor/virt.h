/* virt.h -- what virt.c (domains, define, actions, events) shares with its
 * two siblings, virt_migrate.c (live migration) and virt_move.c (quick
 * migration): the agent's libvirt side, split by concern.  agent.h is what
 * the rest of the agent sees; this header is for those three files only. */
#ifndef PV_AG_VIRT_H
#define PV_AG_VIRT_H

#include <jansson.h>
#include <libvirt/libvirt.h>
#include <libxml/tree.h>
#include "adapters/adapter.h"

/* The process's one libvirt connection (thread-safe; set by ag_virt_open). */
virConnectPtr ag_virt_conn(void);
/* err from libvirt's last error, with what was being done; its code. */
int ag_virt_error(struct pv_error *err, const char *what);
/* The domain of UUID uuid (free with virDomainFree), or NULL and vm_not_found. */
virDomainPtr ag_virt_lookup(const char *uuid, struct pv_error *err);
/* "running", "stopped", "paused", "saved" ... */
const char *ag_virt_power_state(virDomainPtr d);
/* The domain as the API shows it, stamped (lib/stamp). */
json_t *ag_virt_domain_json(virDomainPtr d);
/* The paths of the domain's file disks, as a JSON array. */
json_t *ag_virt_disk_paths(virDomainPtr d);
/* Undefine with whatever managed save or snapshot metadata it has. */
int ag_virt_undefine(virDomainPtr d, struct pv_error *err);
/* Delete the volumes at these paths (what a failed define made). */
void ag_virt_delete_volumes(json_t *paths);
/* 1 when dir is the target of an active dir storage pool (*pool, when not
 * NULL, gets it: virStoragePoolFree). */
int ag_virt_pool_dir(const char *dir, virStoragePoolPtr *pool);
/* virt_devices.c: delete the volumes the agent made for d whose disk has
 * left both its definitions (an unplug the guest finished late). */
void ag_virt_sweep_volumes(virDomainPtr d);
/* virt_devices.c, for virt_disk_move.c: the volumes the agent made for a
 * VM (kept in its metadata), a new qcow2 volume, a pool's room. */
void ag_virt_made_add(virDomainPtr d, const char *path);
void ag_virt_made_drop(virDomainPtr d, const char *path);
int ag_virt_made_here(virDomainPtr d, const char *vm, const char *path);
/* A volume's XML in format ("qcow2", "raw"; malloc'd; NULL when out of memory). */
char *ag_virt_volume_xml(const char *name, unsigned long long bytes, const char *format);
virStorageVolPtr ag_virt_make_volume(virStoragePoolPtr pool, const char *name,
                                     unsigned long long bytes, struct pv_error *err);
virStorageVolPtr ag_virt_make_volume_as(virStoragePoolPtr pool, const char *name,
                                        unsigned long long bytes, const char *format,
                                        struct pv_error *err);
/* virt_migrate_disks.c, for virt_migrate.c: d's definition (flags: 0 live,
 * VIR_DOMAIN_XML_INACTIVE persistent) with the copied disks' paths set to
 * their destination paths (copies: [{source_path, path}]); malloc'd. */
char *ag_virt_migration_xml(virDomainPtr d, unsigned flags, const json_t *copies);
/* Delete the volumes at these source paths (after the VM left this host). */
void ag_virt_delete_source_volumes(const json_t *paths);
int ag_virt_pool_free_check(virStoragePoolPtr pool, unsigned long long need, struct pv_error *err);
/* 0 when this host has a libvirt network of that name, else unknown_network. */
int ag_virt_network_check(const char *name, struct pv_error *err);
/* virt_storage.c: 1 for a pool type another host may reach too (netfs,
 * iscsi, rbd ...: libvirt's network-backed types). */
int ag_virt_shared_kind(const char *type);
/* The string value of an XPath expression in doc (malloc'd), or NULL. */
char *ag_virt_xpath_string(xmlDocPtr doc, const char *expr);
/* virt_snapshots.c: vm_has_snapshots when VM uuid has any (libvirt cannot
 * `what` it with them: "migrate live"), vm_not_found when there is no such
 * VM, else 0.  Called first by the migrations, before anything starts. */
int ag_virt_has_snapshots(const char *uuid, const char *what, struct pv_error *err);

#endif
