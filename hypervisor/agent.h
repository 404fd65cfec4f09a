/* agent.h -- polyvisor-agent, the bundled KVM host agent (like oVirt's
 * vdsm): one per KVM host, it wraps the host's libvirt and serves a small
 * JSON API that the kvm adapter (adapters/kvm/) talks to.
 *
 * Three parts: virt.c speaks libvirt (host facts, domains, the event loop;
 * virt_migrate.c and virt_move.c the two kinds of migration) and knows
 * nothing of HTTP; probe.c asks another host's libvirt whether it
 * answers (polyvisord's HA witness); agent_http.c serves the API and knows
 * nothing of libvirt.  Errors travel as struct pv_error (adapters/adapter.h), the
 * same shape polyvisord uses, so an agent's refusal reaches the operator with
 * its code intact.
 */
#ifndef PV_AGENT_H
#define PV_AGENT_H

#include <jansson.h>
#include <time.h>
#include "adapters/adapter.h"

/* ---- virt.c, virt_migrate.c, virt_move.c --------------------------------- */

/* Open the libvirt connection and start its event loop thread. */
int ag_virt_open(const char *uri, const char *migration_uri, struct pv_error *err);
void ag_virt_close(void);

/* The host UUID in a libvirt capabilities document (malloc'd), or NULL. */
char *ag_caps_host_uuid(const char *caps);
/* Host facts and live figures as a JSON object (new reference). */
int ag_virt_host(json_t **out, struct pv_error *err);
/* Every domain, or one (by UUID), as the API shows them. */
int ag_virt_vms(json_t **out, struct pv_error *err);
int ag_virt_vm(const char *uuid, json_t **out, struct pv_error *err);
/* virt_storage.c: the active storage pools, as [{"uuid", "name", "type",
 * "path", "capacity_mb", "allocation_mb", "available_mb", "shared"}]; the
 * networks and the host's own bridges, as [{"native_id", "name", "kind":
 * "network" | "bridge", "bridge", "vlan"}]. */
int ag_virt_pools(json_t **out, struct pv_error *err);
int ag_virt_networks(json_t **out, struct pv_error *err);
/* Give the host a dir pool "default" at dir when it has no pool of that name. */
int ag_virt_default_pool(const char *dir, struct pv_error *err);
/* virt_devices.c: one change to a domain's devices.  op "add" (kind "disk":
 * body {"size_gb", "pool"?}; "nic": {"network"} or {"bridge"}), "remove",
 * "resize" (a disk, body {"size_gb"}), "connect" (a NIC, body as add); key
 * names the device (a disk's target dev, a NIC's MAC).  *out is {"vm": the
 * domain after, "key"?: a new device's, "live": bool, "note"?, "volume"?,
 * "volume_deleted"?}. */
/* virt_snapshots.c: {"items": [{"key", "name", "parent_key", "created_at",
 * "current", "memory", "state"}]}, and one change: op "create" {"name",
 * "description"?, "memory"?}, "revert" {"key"}, "delete" {"key",
 * "children"?}, answering {"key", "vm"}. */
int ag_virt_snapshots(const char *uuid, json_t **out, struct pv_error *err);
int ag_virt_snapshot(const char *uuid, const char *op, const json_t *body, json_t **out,
                     struct pv_error *err);
int ag_virt_device(const char *uuid, const char *op, const char *kind, const char *key,
                   const json_t *body, json_t **out, struct pv_error *err);
/* virt_disk_move.c: move disk dev of a VM to storage pool `pool` of this
 * host (block copy and pivot while it runs, a volume copy while stopped);
 * asynchronous: *out is the move's state, {"uuid", "dev", "state": running |
 * succeeded | failed, "percent", "error"?, "path"?, "note"?}, which
 * ag_virt_disk_move_state() answers later. */
int ag_virt_disk_move(const char *uuid, const char *dev, const char *pool, json_t **out,
                      struct pv_error *err);
int ag_virt_disk_move_state(const char *uuid, const char *dev, json_t **out, struct pv_error *err);
/* Stop a running move: the VM stays on its old volume, the new one goes. */
int ag_virt_disk_move_cancel(const char *uuid, const char *dev, json_t **out, struct pv_error *err);
/* Define a domain from a spec (validated here); *uuid is malloc'd. */
int ag_virt_define(const json_t *spec, char **uuid, struct pv_error *err);
/* "start", "shutdown", "poweroff", "reboot", "pause", "resume", "save", "delete" */
int ag_virt_action(const char *uuid, const char *action, struct pv_error *err);

/* Live migration (peer-to-peer) of a running VM to the libvirt at dest_uri,
 * its memory streamed to data_uri; asynchronous: poll ag_virt_migration(),
 * which answers {"state": running|succeeded|failed|cancelled,
 * "data_processed", "data_remaining", "data_total", "error"}. */
int ag_virt_migrate_start(const char *uuid, const char *dest_uri, const char *data_uri,
                          int max_downtime_ms, int stall_s, const json_t *copies,
                          struct pv_error *err);
/* copies (may be NULL or empty): the disks to copy for a migration without
 * shared storage, [{"dev", "source_path", "path"}] -- path the volume the
 * destination pre-created (virt_migrate_disks.c).  With copies the
 * migration adds VIR_MIGRATE_NON_SHARED_DISK and names those disks; once it
 * succeeded, the source volumes this agent made for the VM are deleted. */

/* virt_migrate_disks.c.  Source: the VM's disks that are volumes of a local
 * pool, [{"dev", "path", "name", "pool", "capacity", "format", "made"}].
 * Destination: pre-create {"pool", "volumes": [{"dev", "name", "capacity",
 * "format"}]} (all or nothing; answers [{"dev", "name", "path"}]); remove
 * {"pool", "names": [...]} after a failed migration. */
int ag_virt_migration_volumes(const char *uuid, json_t **out, struct pv_error *err);
int ag_virt_incoming_volumes(const json_t *req, json_t **out, struct pv_error *err);
int ag_virt_incoming_remove(const json_t *req, struct pv_error *err);
/* Destination, after the VM arrived: {"uuid", "pool", "names"} -- the
 * pre-created volumes are the agent's, made for that VM (its metadata), so
 * a delete with disks removes them even where the source's were images the
 * agent had been given. */
int ag_virt_incoming_keep(const json_t *req, struct pv_error *err);
int ag_virt_migration(const char *uuid, json_t **out, struct pv_error *err);
int ag_virt_migrate_cancel(const char *uuid, struct pv_error *err);

/* Quick migration (virt_move.c explains the protocol).  Export saves the VM's
 * running state into the state dir and answers {"xml", "state", "state_size"};
 * undo restores it on the source; done undefines the source's copy.  Import
 * defines the VM from xml on this host and restores the uploaded state. */
int ag_virt_set_state_dir(const char *dir, struct pv_error *err);
int ag_virt_state_path(const char *uuid, const char *kind, char *out, size_t size,
                       struct pv_error *err);
int ag_virt_export(const char *uuid, json_t **out, struct pv_error *err);
int ag_virt_export_undo(const char *uuid, struct pv_error *err);
int ag_virt_export_done(const char *uuid, struct pv_error *err);
int ag_virt_import(const char *uuid, const char *xml, int restore, json_t *disks, json_t **out,
                   struct pv_error *err);
/* The path of an exported VM's disk number index. */
int ag_virt_export_disk(const char *uuid, int index, char *out, size_t size, struct pv_error *err);
/* May an import write a disk at path?  (in a pool, absolute, not there yet) */
int ag_virt_import_disk_path(const char *path, struct pv_error *err);
/* Drop what an unfinished import received: its state and these disks. */
int ag_virt_import_abort(const char *uuid, json_t *disks, struct pv_error *err);

/* The CLOCK_REALTIME time timeout_ms from now, for pthread_cond_timedwait. */
void ag_deadline(struct timespec *ts, int timeout_ms);
/* Wait up to timeout_ms for events after sequence `after`; *out is
 * {"seq": last, "events": [{"seq", "uuid", "event"}...], "reset": bool}
 * ("reset": events were lost, re-read everything). */
int ag_virt_events(unsigned long long after, int timeout_ms, json_t **out);

/* ---- probe.c ------------------------------------------------------------ */

/* Whether the libvirt at uri (another host's qemu+tcp:// or qemu+tls://
 * migration URI) answers from this host within timeout_ms and is the host
 * with UUID host_uuid (NULL or "": any); *out is {"alive", "detail",
 * "host_uuid"}.  An error only for a URI it cannot probe. */
int ag_probe(const char *uri, const char *host_uuid, int timeout_ms, json_t **out,
             struct pv_error *err);

/* ---- agent_http.c ------------------------------------------------------- */

struct ag_config {
    char host[128];
    int port;
    char token[256];
    char tls_cert[512];
    char tls_key[512];
};

int ag_http_start(const struct ag_config *cfg, struct pv_error *err);
void ag_http_stop(void);

#endif
