/* vcenter_adapter.c -- the vcenter adapter: Polyvisor's adapter ABI over the
 * vSphere Web Services API (SOAP 1.1 on https://VCENTER/sdk), through the
 * shared SOAP layer (adapters/common/soap.c).  This file is the ABI table;
 * the session is vc_session.c's, inventory vc_inventory.c's, actions
 * vc_actions.c's, reconfigure, clone and maintenance mode vc_manage.c's,
 * disk and NIC changes vc_devices.c's.
 * Native ids are MoRefs exactly as vCenter gives them (scoped to the
 * connection by the daemon).
 */
#include "vc.h"

static const struct pv_adapter vcenter_adapter = {
    .abi = PV_ADAPTER_ABI,
    .name = "vcenter",
    .version = "0.1",
    .caps = PV_CAP_SYNC | PV_CAP_EVENTS | PV_CAP_CREATE | PV_CAP_DELETE | PV_CAP_POWER |
            PV_CAP_SHUTDOWN | PV_CAP_SAVE | PV_CAP_STATS | PV_CAP_LIVE_MIGRATE |
            PV_CAP_QUICK_MIGRATE | PV_CAP_RECONFIGURE | PV_CAP_CLONE | PV_CAP_MAINTENANCE |
            PV_CAP_MIGRATE_IN_CONNECTION | PV_CAP_DEVICES |
            PV_CAP_SNAPSHOTS,
    .title = "VMware vCenter",
    .credentials = PV_CRED_PASSWORD,
    .open = vc_open,
    .close = vc_close,
    .sync = vc_sync,
    .watch = vc_watch,
    .vm_create = vc_create,
    .vm_action = vc_action,
    .vm_migrate = vc_migrate,
    .vm_refresh = vc_refresh,
    .vm_reconfigure = vc_reconfigure,
    .vm_clone = vc_clone,
    .host_maintenance = vc_host_maintenance,
    .vm_device = vc_device,
    .vm_snapshots = vc_snapshots,
    .vm_snapshot = vc_snapshot,
};

const struct pv_adapter *pv_adapter_entry(void)
{
    return &vcenter_adapter;
}
