/* adapter.h -- the plugin ABI between polyvisord and its hypervisor adapters.
 *
 * This is the only header that server/ and adapters/ share.  An adapter is a
 * shared object in the adapter directory that exports one symbol,
 * pv_adapter_entry(), returning a struct pv_adapter: a versioned table of
 * function pointers in the manner of libvirt's virHypervisorDriver.  The
 * daemon refuses a table whose `abi` differs from PV_ADAPTER_ABI, and answers
 * a call whose capability bit is missing (or whose pointer is NULL) with the
 * error `unsupported_by_backend` instead of calling it.
 *
 * Three decisions a newcomer must know:
 *   - Calls are blocking and run on job worker threads (or on the
 *     connection's watch thread).  A struct pv_conn is opaque to the daemon
 *     and is used by one thread at a time, except watch(), which runs on its
 *     own thread alongside the others: an adapter whose watch shares state
 *     with its other calls locks that state itself.
 *   - Adapters never touch the database.  They report what they see through
 *     the struct pv_sink callbacks the daemon passes in; the daemon decides
 *     what to store.  Strings passed to a sink are borrowed for the call only.
 *   - Who reports what.  A call that changes a VM (vm_create, vm_action,
 *     vm_migrate, vm_reconfigure, vm_clone) reports the VM's new state
 *     through s->vm (s->vm_gone when it removed it) before it returns 0,
 *     when the endpoint's answer carries that state; the daemon then does
 *     not ask again.  When the call fails, or returns without having
 *     reported the VM, the daemon asks once, through vm_refresh.  Never both.
 *
 * Every function that can fail returns 0 or a negative PV_E* code and fills
 * the struct pv_error it was given; that error travels unchanged to the API's
 * error body, so `code` is a stable snake_case word and `message` says what
 * went wrong in terms an operator understands.
 *
 * What a vendor is and needs -- its title, its credentials, its URL
 * schemes, whether Polyvisor restarts its VMs, whether its VMs move only
 * inside one connection -- is said here, in the table, not known by the
 * daemon or the web console (they read it from GET /api/v1/adapters): a new
 * adapter touches no file outside its own folder.
 */
#ifndef PV_ADAPTER_H
#define PV_ADAPTER_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "../lib/errors.h"

#define PV_ADAPTER_ABI 11

/* ---- errors ------------------------------------------------------------
 * enum pv_err, struct pv_error and the closed table of codes are lib's
 * (lib/errors.h, lib/errors.def): the daemon, the agent and every adapter
 * link the same table, so a code means one thing on every side. */

static inline void pv_error_clear(struct pv_error *e)
{
    if (e) {
        e->err = 0;
        e->code[0] = '\0';
        e->message[0] = '\0';
    }
}

/* ---- what an adapter reports ------------------------------------------- */

enum pv_power_state {
    PV_POWER_UNKNOWN = 0,
    PV_POWER_RUNNING,
    PV_POWER_STOPPED,
    PV_POWER_PAUSED,
    PV_POWER_SAVED,
};

enum pv_host_state {
    PV_HOST_CONNECTED = 0,
    PV_HOST_DISCONNECTED,
    PV_HOST_MAINTENANCE,
    PV_HOST_FAILED,
};

struct pv_cluster_info {
    const char *native_id;
    const char *name;
};

struct pv_host_info {
    const char *native_id;
    const char *name;
    const char *cluster_native_id;  /* NULL when standalone */
    enum pv_host_state state;
    int cpu_cores;
    int cpu_mhz;
    int64_t memory_mb;
    int64_t memory_used_mb;
    double cpu_usage_pct;
    const char *facts_json;         /* vendor detail as a JSON object, or NULL */
};

struct pv_vm_info {
    const char *native_id;          /* libvirt UUID, vSphere MoRef, Hyper-V GUID */
    const char *name;
    const char *host_native_id;     /* NULL when not placed */
    enum pv_power_state power_state;
    int vcpus;
    int64_t memory_mb;
    int paravirtual;                /* 1 yes, 0 no, -1 unknown */
    const char *disks_json;         /* JSON array, or NULL */
    const char *nics_json;          /* JSON array, or NULL */
    const char *vendor_json;        /* JSON object of vendor detail, or NULL */
    int usage_known;                /* 1: the two figures below are measured */
    double cpu_usage_pct;           /* of the VM's vCPUs, 0-100 */
    int64_t memory_used_mb;         /* what the guest holds now */
    uint64_t version;               /* when the endpoint numbers its reads: larger is newer,
                                       and the daemon drops a report older than the last it
                                       took for the VM on this connection; 0: not numbered */
};

/* Where disks live: a libvirt storage pool, a vSphere datastore, a Hyper-V
 * volume or SMB share.  Sizes in MiB. */
struct pv_pool_info {
    const char *native_id;          /* libvirt pool UUID, datastore MoRef, volume id */
    const char *name;
    const char *kind;               /* as the vendor says: "dir", "netfs", "logical",
                                       "VMFS", "NFS", "volume", "smb", ... */
    int64_t capacity_mb;
    int64_t free_mb;
    int shared;                     /* 1: more than one host may reach it */
    size_t nhosts;                  /* the hosts that reach it, by native id */
    const char *const *host_native_ids;
};

/* What NICs plug into: a libvirt network or a host bridge, a vSphere port
 * group (standard or distributed), a Hyper-V virtual switch. */
struct pv_network_info {
    const char *native_id;
    const char *name;
    const char *kind;               /* "network", "bridge", "portgroup",
                                       "dvportgroup", "switch" */
    int vlan;                       /* the VLAN id, or -1: none */
    size_t nhosts;
    const char *const *host_native_ids;
};

/* The daemon's callbacks.  Calls may come from any adapter thread; the
 * daemon serialises what it needs.  progress() and cancelled() concern the
 * job on whose behalf the adapter call was made and are no-ops elsewhere. */
struct pv_sink {
    void *ctx;
    void (*cluster)(void *ctx, const struct pv_cluster_info *c);
    void (*host)(void *ctx, const struct pv_host_info *h);
    void (*vm)(void *ctx, const struct pv_vm_info *vm);      /* added or changed */
    void (*vm_gone)(void *ctx, const char *native_id);
    void (*progress)(void *ctx, int percent, const char *detail);
    int (*cancelled)(void *ctx);                             /* 1 when asked to stop */
    /* ABI 9: storage pools and networks, reported by sync() (all of them:
     * what a full sync does not report is removed) and by watch() when one
     * changes.  Report the hosts first: a pool names them. */
    void (*pool)(void *ctx, const struct pv_pool_info *p);
    void (*network)(void *ctx, const struct pv_network_info *n);
};

/* ---- what the daemon asks for ------------------------------------------ */

/* Capability bits. */
#define PV_CAP_SYNC          (1ull << 0)
#define PV_CAP_EVENTS        (1ull << 1)  /* watch() delivers changes */
#define PV_CAP_CREATE        (1ull << 2)
#define PV_CAP_DELETE        (1ull << 3)
#define PV_CAP_POWER         (1ull << 4)  /* start, poweroff, reboot */
#define PV_CAP_SHUTDOWN      (1ull << 5)  /* graceful guest shutdown */
#define PV_CAP_PAUSE         (1ull << 6)
#define PV_CAP_SAVE          (1ull << 7)  /* save/restore running state */
#define PV_CAP_LIVE_MIGRATE  (1ull << 8)
#define PV_CAP_QUICK_MIGRATE (1ull << 9)
#define PV_CAP_CLONE         (1ull << 10)
#define PV_CAP_STATS         (1ull << 11)
#define PV_CAP_CONSOLE       (1ull << 12)
#define PV_CAP_MAINTENANCE   (1ull << 13) /* the vendor's own host maintenance mode */
#define PV_CAP_RECONFIGURE   (1ull << 14) /* change a VM's vCPUs and memory */
#define PV_CAP_PROBE         (1ull << 15) /* host_probe: a witness for HA */
/* Vendor rules, not calls: */
#define PV_CAP_HA_RESTART    (1ull << 16) /* the vendor has no HA of its own: Polyvisor
                                             restarts a failed host's VMs elsewhere */
#define PV_CAP_MIGRATE_IN_CONNECTION (1ull << 17) /* VMs move only between hosts of one
                                                     connection (one vCenter) */
#define PV_CAP_DEVICES       (1ull << 18) /* ABI 10: vm_device: add, remove, resize disks;
                                             add, remove, reconnect NICs */
#define PV_CAP_SNAPSHOTS     (1ull << 19) /* ABI 11: vm_snapshots, vm_snapshot */

/* What a connection of this type needs besides its url. */
enum pv_credentials {
    PV_CRED_NONE = 0,       /* nothing */
    PV_CRED_TOKEN,          /* "token" (a kvm agent's bearer token) */
    PV_CRED_PASSWORD,       /* "username" and "password" */
};

struct pv_conn_params {
    const char *url;
    const char *username;   /* NULL when the type takes a token */
    const char *password;   /* borrowed; never log it */
    const char *token;      /* borrowed; never log it */
    int insecure;           /* skip TLS verification: only when the user said so */
    const char *ca_file;    /* NULL: system CAs */
    const char *ca_pem;     /* the endpoint's certificate or CA, PEM, pinned
                               instead of the system CAs; NULL: not pinned */
    int timeout_ms;         /* per request */
};

struct pv_vm_spec {
    const char *name;
    int vcpus;
    int64_t memory_mb;
    int paravirtual;
    const char *disks_json; /* JSON array or NULL */
    const char *nics_json;  /* JSON array or NULL */
    const char *uuid;       /* keep this identity (an HA restart defines the VM anew on
                               another host); NULL: the endpoint makes one */
};

enum pv_vm_action {
    PV_ACT_START = 0,
    PV_ACT_SHUTDOWN,
    PV_ACT_POWEROFF,
    PV_ACT_REBOOT,
    PV_ACT_PAUSE,
    PV_ACT_RESUME,
    PV_ACT_SAVE,
    PV_ACT_DELETE,
    PV_ACT_DELETE_WITH_DISKS,  /* delete and remove the disks the endpoint made for it */
};

enum pv_migrate_mode {
    PV_MIGRATE_LIVE = 0,
    PV_MIGRATE_QUICK,
};

struct pv_migrate_opts {
    enum pv_migrate_mode mode;
    int max_downtime_ms;    /* live: the longest pause allowed at switch-over; 0: adapter's default */
    /* ABI 10, live: the storage pool on the destination host (named as that
     * host knows it) for the VM's disks on storage the destination does not
     * reach -- a migration without shared storage copies them there in
     * full; NULL: the destination reaches all of the VM's storage. */
    const char *pool;
};

/* ABI 10: one change to one of a VM's devices (vm_device).  A device is
 * named by the "key" the adapter reported for it in disks_json / nics_json
 * (libvirt: a disk's target dev and a NIC's MAC; vSphere: the device key).
 * Pools and networks are named as on the VM's host, the way vm_create takes
 * them (the daemon has checked that the host reaches them). */
enum pv_device_op {
    PV_DEV_ADD = 0,         /* disk: a new volume of size_gb in pool, attached;
                               NIC: a new NIC on network */
    PV_DEV_REMOVE,          /* detach device_key; a disk's volume is deleted
                               only when the endpoint made it for this VM */
    PV_DEV_RESIZE,          /* disk device_key grows to size_gb (never shrinks) */
    PV_DEV_CONNECT,         /* NIC device_key moves to network */
    PV_DEV_MOVE,            /* disk device_key moves to pool (storage migration: a copy,
                               live where the vendor can, then the switch; the old
                               volume deleted only after it); progress through s->progress */
};

enum pv_device_kind {
    PV_DEV_DISK = 0,
    PV_DEV_NIC,
};

struct pv_device_change {
    enum pv_device_op op;
    enum pv_device_kind kind;
    const char *device_key;     /* REMOVE, RESIZE, CONNECT; NULL for ADD */
    int64_t size_gb;            /* ADD disk, RESIZE */
    const char *pool;           /* ADD disk: pool name on the host; NULL: its default */
    const char *pool_native_id; /* ... the same pool by native id, or NULL */
    const char *network;        /* ADD, CONNECT NIC: the network's name */
    const char *network_kind;   /* ... "network", "bridge", "portgroup", ...; NULL: "network" */
    const char *network_native_id;
};

/* What a device change did, for the job's result. */
struct pv_device_result {
    char key[128];              /* ADD: the new device's key */
    int live;                   /* 1: the running VM has it now; 0: only the
                                   definition changed (stopped VM, or the
                                   vendor cannot change it live) */
    char note[512];             /* what the operator should know ("takes effect
                                   when the VM is next started"), or "" */
};

/* ABI 11: a VM's snapshots (checkpoints), a tree.  A snapshot is named by
 * the "key" the adapter reports for it (libvirt: the snapshot's name;
 * vSphere: the snapshot's MoRef); the daemon derives its own ids from it. */
enum pv_snapshot_op {
    PV_SNAP_CREATE = 0,     /* name, with_memory: a new snapshot, the current one after */
    PV_SNAP_REVERT,         /* key: the VM goes back to it (running again when it
                               holds memory) */
    PV_SNAP_DELETE,         /* key, and its descendants when children is set; the VM
                               itself stays as it is */
};

struct pv_snapshot_change {
    enum pv_snapshot_op op;
    const char *key;        /* REVERT, DELETE */
    const char *name;       /* CREATE */
    const char *description;/* CREATE, or NULL */
    int with_memory;        /* CREATE: include the running VM's memory */
    int children;           /* DELETE: with its descendants */
};

struct pv_conn;  /* opaque, the adapter's own */

/* The daemon's settings for one adapter, handed to configure() once, after
 * loading and before any open().  A setting is a config key "TYPE.KEY"
 * (flag --TYPE.KEY with '-' for '_'); keys[] are without the "TYPE." part.
 * Everything here is borrowed for the length of the call. */
struct pv_adapter_settings {
    const char *data_dir;       /* polyvisord's data dir: where state of its own may live */
    size_t n;
    const char *const *keys;
    const char *const *values;
};

struct pv_adapter {
    uint32_t abi;           /* PV_ADAPTER_ABI */
    const char *name;       /* connection type it serves: "kvm", "vcenter", "hyperv" */
    const char *version;
    uint64_t caps;          /* PV_CAP_* */
    const char *title;      /* for people: "VMware vCenter"; NULL: the name */
    enum pv_credentials credentials;
    /* URL schemes a connection's url may have ("https", "http"), NULL-ended;
     * NULL: https and http */
    const char *const *url_schemes;

    int (*open)(const struct pv_conn_params *p, struct pv_conn **out, struct pv_error *err);
    void (*close)(struct pv_conn *c);
    /* Report every cluster, host, storage pool, network and VM the endpoint has. */
    int (*sync)(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err);
    /* Wait up to timeout_ms for changes and report them; return 0 on
     * timeout too.  An error means the endpoint is unreachable. */
    int (*watch)(struct pv_conn *c, const struct pv_sink *s, int timeout_ms, struct pv_error *err);
    /* Create on host_native_id (NULL: the endpoint chooses); *native_id is
     * malloc'd, the caller frees it. */
    int (*vm_create)(struct pv_conn *c, const char *host_native_id, const struct pv_vm_spec *spec,
                     const struct pv_sink *s, char **native_id, struct pv_error *err);
    int (*vm_action)(struct pv_conn *c, const char *vm_native_id, enum pv_vm_action a,
                     const struct pv_sink *s, struct pv_error *err);
    /* Between two connections of the same adapter, or inside one (from == to). */
    int (*vm_migrate)(struct pv_conn *from, const char *vm_native_id, struct pv_conn *to,
                      const char *host_native_id, const struct pv_migrate_opts *opts,
                      const struct pv_sink *s, struct pv_error *err);
    /* Report one VM's current state through s->vm (or s->vm_gone). */
    int (*vm_refresh)(struct pv_conn *c, const char *vm_native_id, const struct pv_sink *s,
                      struct pv_error *err);
    /* PV_CAP_RECONFIGURE: set spec->vcpus and/or spec->memory_mb (0 leaves
     * either as it is); other spec fields are ignored. */
    int (*vm_reconfigure)(struct pv_conn *c, const char *vm_native_id,
                          const struct pv_vm_spec *spec, const struct pv_sink *s,
                          struct pv_error *err);
    /* PV_CAP_CLONE: a copy of VM (or template) vm_native_id named spec->name
     * on host_native_id (NULL: where the endpoint chooses), with its disks
     * copied; spec->vcpus / memory_mb when not 0.  *native_id as vm_create. */
    int (*vm_clone)(struct pv_conn *c, const char *vm_native_id, const char *host_native_id,
                    const struct pv_vm_spec *spec, const struct pv_sink *s, char **native_id,
                    struct pv_error *err);
    /* PV_CAP_MAINTENANCE: the vendor's maintenance mode for a host (enter 1)
     * or out of it (enter 0), after Polyvisor has moved the VMs off. */
    int (*host_maintenance)(struct pv_conn *c, const char *host_native_id, int enter,
                            const struct pv_sink *s, struct pv_error *err);
    /* PV_CAP_PROBE: from this endpoint's host, does the hypervisor of another
     * host of the same type answer, and is it that host?  target_facts_json
     * is that host's facts as this adapter reported them.  0 with *alive 1
     * (it answers: the host lives, cut off from polyvisord only) or 0 (no
     * answer from here either), and what was seen in detail; an error when
     * this endpoint cannot tell (unreachable itself, nothing to probe by). */
    int (*host_probe)(struct pv_conn *c, const char *target_facts_json, int timeout_ms,
                      int *alive, char *detail, size_t detail_size, struct pv_error *err);
    /* PV_CAP_DEVICES (ABI 10): change one device of a VM (struct
     * pv_device_change says which and how), hot where the vendor allows it
     * and said in *out where not; refuse with vm_running when the change
     * needs the VM stopped.  A failure leaves nothing half-made (a volume
     * made for a disk whose attach failed is removed).  Reports the VM
     * through s->vm as the other calls that change a VM do. */
    int (*vm_device)(struct pv_conn *c, const char *vm_native_id,
                     const struct pv_device_change *ch, const struct pv_sink *s,
                     struct pv_device_result *out, struct pv_error *err);
    /* PV_CAP_SNAPSHOTS (ABI 11): the VM's snapshots as a malloc'd JSON array
     * (*json; the caller frees it) of {"key", "name", "parent_key" (or null),
     * "created_at" (RFC 3339), "current" (bool), "memory" (bool)}. */
    int (*vm_snapshots)(struct pv_conn *c, const char *vm_native_id, char **json,
                        struct pv_error *err);
    /* PV_CAP_SNAPSHOTS (ABI 11): make, revert to or delete a snapshot;
     * refuse up front (unsupported_by_backend, vm_running ...) what the
     * vendor cannot do, with the reason.  CREATE puts the new key in
     * key_out.  Reports the VM through s->vm as the other calls that change
     * a VM do. */
    int (*vm_snapshot)(struct pv_conn *c, const char *vm_native_id,
                       const struct pv_snapshot_change *ch, const struct pv_sink *s,
                       char *key_out, size_t key_size, struct pv_error *err);
    /* Optional: take the daemon's settings for this adapter; an unknown key
     * or a bad value is an error, and the daemon then refuses to start. */
    int (*configure)(const struct pv_adapter_settings *s, struct pv_error *err);
};

/* The one symbol a plugin exports. */
typedef const struct pv_adapter *(*pv_adapter_entry_fn)(void);
const struct pv_adapter *pv_adapter_entry(void);

#endif
