/* hv_snapshots.c -- the hyperv adapter's checkpoints (ABI 11, PV_CAP_SNAPSHOTS) over
 * Msvm_VirtualSystemSnapshotService, as the WMI v2 documents describe it:
 *
 * - The tree: a checkpoint is an Msvm_VirtualSystemSettingData of VirtualSystemType
 *   "Microsoft:Hyper-V:Snapshot:Realized", reached from the VM by
 *   Msvm_SnapshotOfVirtualSystem; its Parent is the WMI path of the checkpoint it
 *   follows (null for a first one); Msvm_MostCurrentSnapshotInBranch names the
 *   current one; IsSaved says it holds the VM's memory.  A checkpoint's key is the
 *   GUID of its InstanceID ("Microsoft:<GUID>").
 * - Create: CreateSnapshot with SnapshotType 2 (full) and an embedded
 *   Msvm_VirtualSystemSnapshotSettingData whose ConsistencyLevel picks the kind:
 *   2 (crash consistent) a standard checkpoint, which keeps a running VM's memory;
 *   1 (application consistent) a production checkpoint, the guest's VSS quiescing
 *   its disks and no memory kept -- "memory": false on a running VM.  CreateSnapshot
 *   takes no name: Hyper-V names it after the VM and the time, so the name asked for
 *   is then set by ModifySystemSettings of the new checkpoint's settings (found as
 *   the VM's most current checkpoint once the job ended).
 * - Revert: ApplySnapshot wants the VM Off or Saved (Invalid State otherwise), so a
 *   running or paused VM is turned off first -- what it ran is lost by the revert
 *   anyway; a checkpoint with memory leaves the VM Saved, and it is started again
 *   (resumed where the checkpoint was taken), as the contract has it.
 * - Delete: DestroySnapshot (its children move up to its parent) or
 *   DestroySnapshotTree with ?children=true.
 * The snapshot service answers the generic CIM codes as the management service does.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include "adapters/hyperv-wmi/hv.h"

#define SNAPSHOT_TYPE "Microsoft:Hyper-V:Snapshot:Realized"

/* The VM's settings reached over association assoc (GUID checked by the caller). */
static int vm_assoc(struct pv_conn *c, const char *guid, const char *assoc, struct pv_wsman_items *out,
                    struct pv_error *err)
{
    char q[512];

    snprintf(q, sizeof q,
             "ASSOCIATORS OF {Msvm_ComputerSystem.CreationClassName='Msvm_ComputerSystem',Name='%s'} "
             "WHERE AssocClass = %s ResultClass = Msvm_VirtualSystemSettingData",
             guid, assoc);
    return pv_wsman_enumerate(c->ws, PV_WMI_V2 "*", q, out, err);
}

/* The checkpoint GUID of an InstanceID "Microsoft:<GUID>" into key; 0 when it is none. */
static int key_of(const char *iid, char key[HV_GUID_LEN + 1])
{
    const char *g = iid ? strchr(iid, ':') : NULL;

    g = g ? g + 1 : iid;
    if (!g || !hv_guid_ok(g))
        return 0;
    snprintf(key, HV_GUID_LEN + 1, "%s", g);
    return 1;
}

/* The key of the VM's current checkpoint ("" when it has none). */
static int current_key(struct pv_conn *c, const char *guid, char key[HV_GUID_LEN + 1], struct pv_error *err)
{
    struct pv_wsman_items it = {0};
    char iid[128];
    int rc = vm_assoc(c, guid, "Msvm_MostCurrentSnapshotInBranch", &it, err);

    key[0] = '\0';
    if (!rc && it.n && !key_of(pv_wsman_prop_text(it.item[0], "InstanceID", iid, sizeof iid), key))
        key[0] = '\0';
    pv_wsman_items_free(&it);
    return rc;
}

/* The VM read (hv_vm_get), after its GUID was checked; *v zeroed before anything,
 * so that a refusal leaves nothing to read uninitialised. */
static int vm_checked(struct pv_conn *c, const char *guid, struct hv_vm *v, struct pv_error *err)
{
    memset(v, 0, sizeof *v);
    v->enabled_state = -1;
    if (!guid || !hv_guid_ok(guid))
        return pv_fail(err, vm_not_found, "Hyper-V host %s has no VM %s", c->url, guid ? guid : "");
    return hv_vm_get(c, guid, v, err);
}

int hv_vm_snapshots(struct pv_conn *c, const char *guid, char **json, struct pv_error *err)
{
    struct pv_wsman_items it = {0};
    struct hv_vm v;
    char current[HV_GUID_LEN + 1];
    json_t *items = json_array();
    int rc;

    *json = NULL;
    if ((rc = vm_checked(c, guid, &v, err)))
        goto out;
    hv_vm_release(&v);
    if ((rc = current_key(c, guid, current, err)) ||
        (rc = vm_assoc(c, guid, "Msvm_SnapshotOfVirtualSystem", &it, err)))
        goto out;
    for (size_t i = 0; i < it.n; i++) {
        char iid[128], type[64], name[256], created[64], parent[512], pid[128], saved[8];
        char key[HV_GUID_LEN + 1], pkey[HV_GUID_LEN + 1];
        const char *p;

        if (!pv_wsman_prop_text(it.item[i], "VirtualSystemType", type, sizeof type) ||
            strcmp(type, SNAPSHOT_TYPE) != 0 ||
            !key_of(pv_wsman_prop_text(it.item[i], "InstanceID", iid, sizeof iid), key))
            continue;
        p = pv_wsman_prop_text(it.item[i], "Parent", parent, sizeof parent);
        if (!p || !key_of(pv_wsman_wmi_path_key(p, "InstanceID", pid, sizeof pid), pkey))
            pkey[0] = '\0';
        if (!pv_wsman_prop_text(it.item[i], "ElementName", name, sizeof name))
            name[0] = '\0';
        if (!pv_wsman_prop_text(it.item[i], "CreationTime", created, sizeof created))
            created[0] = '\0';
        json_array_append_new(
            items, json_pack("{s:s,s:s,s:o,s:s,s:b,s:b}", "key", key, "name", name, "parent_key",
                             pkey[0] ? json_string(pkey) : json_null(), "created_at", created,
                             "current", strcmp(key, current) == 0, "memory",
                             pv_wsman_prop_text(it.item[i], "IsSaved", saved, sizeof saved) &&
                                 strcmp(saved, "true") == 0));
    }
    if (!(*json = json_dumps(items, JSON_COMPACT)))
        rc = pv_fail(err, out_of_memory, "out of memory");
out:
    pv_wsman_items_free(&it);
    json_decref(items);
    return rc;
}

/* One snapshot-service method on the checkpoint key (param pname), waited for. */
static int on_snapshot(struct pv_conn *c, const char *method, const char *pname, const char *key,
                       const char *what, const struct pv_sink *s, int p0, int p1, struct pv_error *err)
{
    char iid[64];
    struct pv_wsman_selector sel[1] = {{"InstanceID", iid}};
    struct pv_wsman_param p = {.name = pname, .kind = PV_WSMAN_P_EPR,
                               .resource_uri = PV_WMI_V2 "Msvm_VirtualSystemSettingData", .sel = sel, .nsel = 1};
    struct hv_service svc;
    struct pv_soap_resp *r = NULL;
    xmlNodePtr out;
    long rv;
    int rc;

    snprintf(iid, sizeof iid, "Microsoft:%s", key);
    if ((rc = hv_service(c, "Msvm_VirtualSystemSnapshotService", &svc, err)))
        return rc;
    rc = pv_wsman_invoke(c->ws, svc.uri, method, svc.sel, svc.nsel, &p, 1, &r, &out, &rv, err);
    if (!rc)
        rc = hv_finish(c, out, rv, 1, what, s, p0, p1, err);
    pv_soap_resp_free(r);
    return rc;
}

/* ModifySystemSettings of the checkpoint's settings: its ElementName. */
static int rename_snapshot(struct pv_conn *c, const char *key, const char *name, const struct pv_sink *s,
                           struct pv_error *err)
{
    char iid[64];
    const struct pv_cim_prop props[] = {{"InstanceID", "string", iid}, {"ElementName", "string", name}};
    struct pv_wsman_param p = {.name = "SystemSettings"};
    struct hv_service svc;
    struct pv_soap_resp *r = NULL;
    char *embedded = NULL;
    xmlNodePtr out;
    long rv;
    int rc;

    snprintf(iid, sizeof iid, "Microsoft:%s", key);
    if ((rc = hv_service(c, "Msvm_VirtualSystemManagementService", &svc, err)) ||
        (rc = pv_wsman_embed("Msvm_VirtualSystemSettingData", props, 2, &embedded, err)))
        return rc;
    p.text = embedded;
    rc = pv_wsman_invoke(c->ws, svc.uri, "ModifySystemSettings", svc.sel, svc.nsel, &p, 1, &r, &out, &rv, err);
    free(embedded);
    if (!rc)
        rc = hv_finish(c, out, rv, 1, "name the checkpoint", s, 70, 90, err);
    pv_soap_resp_free(r);
    return rc;
}

static int create(struct pv_conn *c, const char *guid, const struct hv_vm *v,
                  const struct pv_snapshot_change *ch, const struct pv_sink *s, char *key_out,
                  size_t key_size, struct pv_error *err)
{
    enum pv_power_state ps = hv_power_state(v->enabled_state);
    int live = ps == PV_POWER_RUNNING || ps == PV_POWER_PAUSED;
    /* 1: application consistent (production: VSS in the guest, no memory);
     * 2: crash consistent (standard: a running VM's memory kept) */
    const struct pv_cim_prop props[] = {{"ConsistencyLevel", "uint8", live && !ch->with_memory ? "1" : "2"}};
    struct pv_wsman_selector vmsel[2] = {{"CreationClassName", "Msvm_ComputerSystem"}, {"Name", guid}};
    struct pv_wsman_param p[3] = {
        {.name = "AffectedSystem", .kind = PV_WSMAN_P_EPR, .resource_uri = PV_WMI_V2 "Msvm_ComputerSystem",
         .sel = vmsel, .nsel = 2},
        {.name = "SnapshotSettings"},
        {.name = "SnapshotType", .text = "2"},
    };
    struct hv_service svc;
    struct pv_soap_resp *r = NULL;
    char *embedded = NULL, before[HV_GUID_LEN + 1], key[HV_GUID_LEN + 1];
    xmlNodePtr out;
    long rv;
    int rc;

    if (!ch->name || !*ch->name)
        return pv_fail(err, invalid_argument, "a checkpoint needs a name");
    if ((rc = current_key(c, guid, before, err)) ||
        (rc = hv_service(c, "Msvm_VirtualSystemSnapshotService", &svc, err)) ||
        (rc = pv_wsman_embed("Msvm_VirtualSystemSnapshotSettingData", props, 1, &embedded, err)))
        return rc;
    p[1].text = embedded;
    rc = pv_wsman_invoke(c->ws, svc.uri, "CreateSnapshot", svc.sel, svc.nsel, p, 3, &r, &out, &rv, err);
    free(embedded);
    if (!rc)
        rc = hv_finish(c, out, rv, 1, "take the checkpoint", s, 5, 60, err);
    pv_soap_resp_free(r);
    if (rc)
        return rc;
    /* the new checkpoint is the VM's most current one now */
    if ((rc = current_key(c, guid, key, err)))
        return rc;
    if (!key[0] || strcmp(key, before) == 0)
        return pv_fail(err, bad_response, "Hyper-V host %s took a checkpoint of %s but names no new current one",
                       c->url, guid);
    if ((rc = rename_snapshot(c, key, ch->name, s, err))) {
        struct pv_error ignored = {0};
        /* a checkpoint without the name asked for is not what was asked: take it away */
        on_snapshot(c, "DestroySnapshot", "AffectedSnapshot", key, "remove the unnamed checkpoint", NULL, 90,
                    95, &ignored);
        return rc;
    }
    if (key_out && key_size)
        snprintf(key_out, key_size, "%s", key);
    return 0;
}

static int revert(struct pv_conn *c, const char *guid, const struct hv_vm *v, const char *key,
                  const struct pv_sink *s, struct pv_error *err)
{
    enum pv_power_state ps = hv_power_state(v->enabled_state);
    struct hv_vm after;
    int rc;

    if ((ps == PV_POWER_RUNNING || ps == PV_POWER_PAUSED) &&
        (rc = hv_action(c, guid, PV_ACT_POWEROFF, s, err)))
        return rc;
    if ((rc = on_snapshot(c, "ApplySnapshot", "Snapshot", key, "apply the checkpoint", s, 30, 80, err)))
        return rc;
    /* a checkpoint with memory leaves the VM saved there: resume it */
    if ((rc = hv_vm_get(c, guid, &after, err)))
        return rc;
    ps = hv_power_state(after.enabled_state);
    hv_vm_release(&after);
    if (ps == PV_POWER_SAVED)
        rc = hv_action(c, guid, PV_ACT_START, s, err);
    return rc;
}

/* The key names one of the VM's checkpoints (snapshot_not_found otherwise). */
static int known(struct pv_conn *c, const char *guid, const char *key, struct pv_error *err)
{
    char *json = NULL;
    json_t *arr, *it;
    size_t i;
    int rc, found = 0;

    if (!key || !hv_guid_ok(key))
        return pv_fail(err, snapshot_not_found, "VM %s has no checkpoint %s", guid, key ? key : "");
    if ((rc = hv_vm_snapshots(c, guid, &json, err)))
        return rc;
    arr = json_loads(json, 0, NULL);
    free(json);
    json_array_foreach(arr, i, it)
        found |= strcasecmp(json_string_value(json_object_get(it, "key")), key) == 0;
    json_decref(arr);
    return found ? 0 : pv_fail(err, snapshot_not_found, "VM %s has no checkpoint %s", guid, key);
}

int hv_vm_snapshot(struct pv_conn *c, const char *guid, const struct pv_snapshot_change *ch,
                   const struct pv_sink *s, char *key_out, size_t key_size, struct pv_error *err)
{
    struct hv_vm v;
    int rc;

    if (key_out && key_size)
        key_out[0] = '\0';
    if ((rc = hv_host_identity(c, err)) || (rc = vm_checked(c, guid, &v, err)))
        return rc;
    switch (ch->op) {
    case PV_SNAP_CREATE:
        rc = create(c, guid, &v, ch, s, key_out, key_size, err);
        break;
    case PV_SNAP_REVERT:
        if (!(rc = known(c, guid, ch->key, err)))
            rc = revert(c, guid, &v, ch->key, s, err);
        if (!rc && key_out && key_size)
            snprintf(key_out, key_size, "%s", ch->key);
        break;
    case PV_SNAP_DELETE:
        if (!(rc = known(c, guid, ch->key, err)))
            rc = on_snapshot(c, ch->children ? "DestroySnapshotTree" : "DestroySnapshot",
                             ch->children ? "SnapshotSettingData" : "AffectedSnapshot", ch->key,
                             "delete the checkpoint", s, 10, 90, err);
        if (!rc && key_out && key_size)
            snprintf(key_out, key_size, "%s", ch->key);
        break;
    default:
        rc = pv_fail(err, invalid_argument, "no snapshot change %d", (int)ch->op);
    }
    hv_vm_release(&v);
    if (!rc)
        hv_refresh(c, guid, s, NULL);
    return rc;
}
