/* hyperv_adapter.c -- the hyperv adapter: Polyvisor's adapter ABI over
 * WS-Management to one Hyper-V host's WMI (root/virtualization/v2 and
 * root/cimv2).  This file is the ABI table; the session (open, close, WMI
 * return codes, Msvm_ConcreteJob) is hv_session.c's, inventory
 * hv_inventory.c's, actions hv_actions.c's, checkpoints hv_snapshots.c's, the WS-Man client wsman.c's.
 */
#include "adapters/hyperv-wmi/hv.h"

static int hv_vm_refresh(struct pv_conn *c, const char *vm, const struct pv_sink *s,
                         struct pv_error *err)
{
    return hv_refresh(c, vm, s, err);
}

static const struct pv_adapter hyperv_adapter = {
    .abi = PV_ADAPTER_ABI,
    .name = "hyperv",
    .version = "0.1",
    .caps = PV_CAP_SYNC | PV_CAP_EVENTS | PV_CAP_CREATE | PV_CAP_DELETE | PV_CAP_POWER |
            PV_CAP_SHUTDOWN | PV_CAP_PAUSE | PV_CAP_SAVE | PV_CAP_STATS | PV_CAP_LIVE_MIGRATE |
            PV_CAP_QUICK_MIGRATE | PV_CAP_RECONFIGURE | PV_CAP_DEVICES | PV_CAP_SNAPSHOTS,
    .title = "Microsoft Hyper-V",
    .credentials = PV_CRED_PASSWORD,
    .open = hv_open,
    .close = hv_close,
    .sync = hv_sync,
    .watch = hv_watch,
    .vm_create = hv_create,
    .vm_action = hv_action,
    .vm_migrate = hv_migrate,
    .vm_refresh = hv_vm_refresh,
    .vm_reconfigure = hv_reconfigure,
    .vm_device = hv_vm_device,
    .vm_snapshots = hv_vm_snapshots,
    .vm_snapshot = hv_vm_snapshot,
    /* no vm_clone (WMI v2 clones only through export/import of files) and no
     * host_maintenance (a standalone host has none; a cluster's is not read yet) */
};

const struct pv_adapter *pv_adapter_entry(void)
{
    return &hyperv_adapter;
}
