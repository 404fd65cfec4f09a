/* hv.h -- what the hyperv adapter's files share (private to adapters/hyperv-wmi/).
 *
 * hyperv_adapter.c: the ABI table.
 * hv_session.c:     open/close (URL options, Identify + a Get to check the
 *                   credentials), WMI return codes and Msvm_ConcreteJob
 *                   polling.
 * hv_inventory.c:   host facts, VM inventory (one enumeration per class,
 *                   joined by GUID), GetSummaryInformation, sync, the
 *                   poll-and-diff watch, refresh.
 * hv_actions.c:     RequestStateChange / InitiateShutdown, create (DefineSystem
 *                   + ModifyResourceSettings, DestroySystem on failure),
 *                   reconfigure, delete, live and quick migration.
 * hv_snapshots.c:   checkpoints (vm_snapshots, vm_snapshot) over
 *                   Msvm_VirtualSystemSnapshotService.
 * hv_devices.c:     a VM's disks and NICs (read, made at create: VHDX
 *                   files, controllers, drives, adapters, switch connections;
 *                   and changed later: vm_device).
 *
 * One struct pv_conn is one WS-Man session to one Hyper-V host, used by one
 * thread at a time (the daemon gives the watch its own handle), so nothing
 * here locks.  Native ids: a host is its computer name (Msvm_ComputerSystem
 * Name of the host, upper case as Windows gives it), a VM its GUID
 * (Msvm_ComputerSystem Name, upper case).
 */
#ifndef PV_HV_H
#define PV_HV_H

#include <time.h>
#include "adapters/adapter.h"
#include "adapters/hyperv-wmi/wsman.h"

#define HV_GUID_LEN 36

/* A VM as the last poll saw it: what the watch diffs against. */
struct hv_seen {
    char guid[HV_GUID_LEN + 1];
    unsigned long hash;     /* of the reported fields */
    int mark;
};

/* State of one VM, read from Msvm_ComputerSystem plus its settings. */
struct hv_vm {
    char guid[HV_GUID_LEN + 1];
    char name[256];
    int enabled_state;      /* raw EnabledState, -1 unknown */
    int health_state;
    int vcpus;
    long long memory_mb;
    int generation;         /* 1, 2, or 0 unknown */
    int dynamic_memory;     /* -1 unknown */
    long long memory_usage_mb;  /* live, -1 unknown */
    int processor_load;         /* live, -1 unknown */
    long long uptime_ms;        /* live, -1 unknown */
    char notes[256];
    char *disks, *nics;     /* JSON arrays (malloc'd; NULL: not read): hv_vm_release */
    uint64_t read_stamp;    /* lib/stamp of the answer its state came in: the daemon
                               keeps the later of two reports (a poll's, a job's) */
};

/* Selectors of the single instance of a service class (cached per conn is
 * not worth it: one round trip per action). */
struct hv_service {
    char uri[256];
    struct pv_wsman_selector sel[4];
    char names[4][64];
    char values[4][256];
    size_t nsel;
};
/* A volume with a mount point: where VM files can go (a storage pool). */
struct hv_volume {
    char device_id[128];    /* \\?\Volume{GUID}\: the pool's native id */
    char name[260];         /* mount point, "D:\\" */
    char label[128];
    char fs[32];
    long long capacity_mb, free_mb;
};
#define HV_MAX_VOLS 32

/* A VHD's virtual size as GetVirtualHardDiskSettingData last gave it. */
struct hv_vhd_size {
    char *path;
    long long bytes;        /* -1: not read (yet) */
    int mark;               /* seen in the current full listing */
    int tried;              /* a read was attempted (a failed one is not retried) */
};
#define HV_INLINE_SIZES 32  /* VHD sizes a full listing reads itself; the rest: hv_vhd_sizes_fill */

struct pv_conn {
    struct pv_wsman *ws;
    char url[512];          /* without our ?options */
    int poll_ms;            /* watch interval */
    int timeout_ms;
    char host_name[256];    /* Msvm_ComputerSystem.Name of the host ("" until known) */
    char host_fqdn[512];    /* DNSHostName.Domain, for migration targets */
    struct timespec last_poll;
    int polled;             /* the seen set is complete */
    struct hv_seen *seen;
    size_t nseen, capseen;
    struct hv_vm *cache;    /* the last full listing, sorted by GUID: settings for light polls */
    size_t ncache;
    unsigned polls;         /* watch polls since the last full listing */
    struct hv_volume vols[HV_MAX_VOLS]; /* as the last hv_volumes_read saw them */
    size_t nvols;
    struct hv_vhd_size *vhds;   /* sizes for full listings (a refresh reads them anew) */
    int inline_sizes;           /* reads the current full listing may still make */
    struct hv_service ims;      /* Msvm_ImageManagementService, once found (ims.nsel > 0);
                                   in place: its sel[] points into itself */
    size_t nvhds, capvhds;
};

/* hv_session.c */
int hv_open(const struct pv_conn_params *p, struct pv_conn **out, struct pv_error *err);
void hv_close(struct pv_conn *c);
/* A GUID as Hyper-V writes it (36 chars, hex and dashes); 1 when it is one.
 * Only strings that pass are ever put into a WQL query. */
int hv_guid_ok(const char *s);
void hv_sleep_ms(int ms);
/* A WMI method's ReturnValue that is neither 0 nor 4096 as an error.
 * vsms: the class is Msvm_VirtualSystemManagementService, whose methods use
 * the generic CIM codes (1..5) rather than 32768... */
int hv_return_error(long rv, int vsms, const char *what, struct pv_error *err);
/* After an Invoke: 0 done, 4096 -> wait for the Job reference in `output`
 * (percent reported through s->progress scaled into [p0, p1]); anything else
 * -> hv_return_error. */
int hv_finish(struct pv_conn *c, xmlNodePtr output, long rv, int vsms, const char *what,
              const struct pv_sink *s, int p0, int p1, struct pv_error *err);
int hv_service(struct pv_conn *c, const char *cls, struct hv_service *out, struct pv_error *err);

/* hv_inventory.c */
int hv_sync(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err);
int hv_watch(struct pv_conn *c, const struct pv_sink *s, int timeout_ms, struct pv_error *err);
int hv_refresh(struct pv_conn *c, const char *vm, const struct pv_sink *s, struct pv_error *err);
/* The host's identity (host_name, host_fqdn) when not known yet. */
int hv_host_identity(struct pv_conn *c, struct pv_error *err);
/* One VM by GUID (Get + ASSOCIATORS OF for its settings); PV_ENOTFOUND with
 * code vm_not_found when there is none. */
int hv_vm_get(struct pv_conn *c, const char *guid, struct hv_vm *out, struct pv_error *err);
/* The VM's resource settings of result_class (ASSOCIATORS OF its
 * Msvm_VirtualSystemSettingData); *out zeroed by the caller. */
int hv_vm_settings(struct pv_conn *c, const char *guid, const char *result_class,
                   struct pv_wsman_items *out, struct pv_error *err);
/* Every VM of the host with its settings and devices (no live figures). */
int hv_vm_list(struct pv_conn *c, struct hv_vm **out, size_t *n, struct pv_error *err);
enum pv_power_state hv_power_state(int enabled_state);
void hv_report_vm(struct pv_conn *c, const struct pv_sink *s, const struct hv_vm *vm);

/* hv_devices.c */
int hv_volumes_read(struct pv_conn *c, struct pv_error *err);
/* Fill disks and nics of vms[0..n) (sorted by GUID): one enumeration per
 * device class for all of them. */
int hv_devices_list(struct pv_conn *c, struct hv_vm *vms, size_t n, struct pv_error *err);
/* Fill disks and nics of one VM (ASSOCIATORS OF its settings). */
int hv_devices_one(struct pv_conn *c, struct hv_vm *v, struct pv_error *err);
void hv_vm_release(struct hv_vm *v);               /* frees disks, nics; NULL: no-op */
void hv_vhd_sizes_free(struct pv_conn *c);
/* Read VHD sizes a full listing left unknown, for at most budget_ms; the
 * number read (the next full listing reports them). */
int hv_vhd_sizes_fill(struct pv_conn *c, int budget_ms);
void hv_vms_free(struct hv_vm *vms, size_t n);     /* hv_vm_release each, then the array */
/* CIM_DataFile.Delete of one file on the host. */
int hv_file_delete(struct pv_conn *c, const char *path, struct pv_error *err);
/* The VHD files of VM guid that Polyvisor made for it (under
 * <volume>\Hyper-V\<GUID>\); *paths malloc'd, each entry too. */
int hv_vm_own_files(struct pv_conn *c, const char *guid, char ***paths, size_t *n,
                    struct pv_error *err);
/* A create's disks and NICs: checked and resolved before anything is made
 * (hv_plan_new), made on the new VM (hv_plan_apply), and the VHDX files made
 * removed again after a failure (hv_plan_undo appends to err's message). */
struct hv_plan;
struct hv_service;
int hv_plan_new(struct pv_conn *c, const struct pv_vm_spec *spec, struct hv_plan **out,
                struct pv_error *err);
int hv_plan_apply(struct pv_conn *c, const struct hv_service *svc, const char *guid,
                  struct hv_plan *p, const struct pv_sink *s, struct pv_error *err);
void hv_plan_undo(struct pv_conn *c, struct hv_plan *p, struct pv_error *err);
void hv_plan_free(struct hv_plan *p);
/* vm_device: one change to a VM's disks or NICs (see hv_devices.c's last part). */
int hv_vm_device(struct pv_conn *c, const char *vm, const struct pv_device_change *ch, const struct pv_sink *s,
                 struct pv_device_result *res, struct pv_error *err);

/* hv_snapshots.c */
int hv_vm_snapshots(struct pv_conn *c, const char *guid, char **json, struct pv_error *err);
int hv_vm_snapshot(struct pv_conn *c, const char *guid, const struct pv_snapshot_change *ch,
                   const struct pv_sink *s, char *key_out, size_t key_size, struct pv_error *err);

/* hv_actions.c */
int hv_action(struct pv_conn *c, const char *vm, enum pv_vm_action a, const struct pv_sink *s,
              struct pv_error *err);
int hv_create(struct pv_conn *c, const char *host, const struct pv_vm_spec *spec,
              const struct pv_sink *s, char **native_id, struct pv_error *err);
int hv_reconfigure(struct pv_conn *c, const char *vm, const struct pv_vm_spec *spec,
                   const struct pv_sink *s, struct pv_error *err);
/* MigrateVirtualSystemToHost of VM guid to dest with MigrationSettingData's
 * MigrationType type (HV_MIGRATE_*) and, when not NULL, one embedded
 * resource setting as NewResourceSettingData (a storage move's new path). */
#define HV_MIGRATE_SYSTEM "32768"
#define HV_MIGRATE_STORAGE "32769"
int hv_migrate_to(struct pv_conn *c, const char *guid, const char *dest, const char *type,
                  const char *new_resource, const struct pv_sink *s, int p0, int p1, struct pv_error *err);
int hv_migrate(struct pv_conn *from, const char *vm, struct pv_conn *to, const char *host,
               const struct pv_migrate_opts *opts, const struct pv_sink *s, struct pv_error *err);

#endif
