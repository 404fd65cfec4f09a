/* vc_snapshots.c -- the vcenter adapter's snapshots (ABI 11): the tree from
 * the VM's `snapshot` property (VirtualMachineSnapshotInfo: currentSnapshot
 * and rootSnapshotList, each a VirtualMachineSnapshotTree with its
 * childSnapshotList), CreateSnapshot_Task on the VM, RevertToSnapshot_Task
 * and RemoveSnapshot_Task on the snapshot.  A snapshot's key is its MoRef.
 *
 * Two things vSphere says only indirectly:
 * - Whether a snapshot holds memory: a tree node's `state` is the power
 *   state the VM gets back on revert, poweredOn only when the memory was
 *   taken (a running VM's snapshot without memory reverts to powered off),
 *   so "memory" is state == poweredOn.  (vcsim records the VM's power state
 *   whatever `memory` asked: there this is unproven; see docs/vcenter.md.)
 * - The whole `snapshot` property is read, not snapshot.rootSnapshotList:
 *   a VM without snapshots has no `snapshot` at all, and a nested path
 *   under an unset property is a missingSet fault on a real vCenter.
 * Snapshots are never quiesced here (quiesce false): quiescing needs VMware
 * Tools running in the guest, which Polyvisor cannot promise.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "vc.h"

struct tree_read {
    json_t *items;
    char current[128];
    int found;
};

static void walk(struct tree_read *t, xmlNodePtr node, const char *parent)
{
    for (; node; node = pv_xml_next(node, node->name ? (const char *)node->name : NULL, NULL)) {
        char key[128] = "", name[256] = "", created[64] = "", state[32] = "";
        pv_xml_text(pv_xml_child(node, "snapshot", NULL), key, sizeof key);
        pv_xml_text(pv_xml_child(node, "name", NULL), name, sizeof name);
        pv_xml_text(pv_xml_child(node, "createTime", NULL), created, sizeof created);
        pv_xml_text(pv_xml_child(node, "state", NULL), state, sizeof state);
        if (key[0])
            json_array_append_new(
                t->items, json_pack("{s:s,s:s,s:o,s:s,s:b,s:b}", "key", key, "name", name,
                                    "parent_key", parent ? json_string(parent) : json_null(),
                                    "created_at", created, "current",
                                    t->current[0] && strcmp(t->current, key) == 0, "memory",
                                    strcmp(state, "poweredOn") == 0));
        walk(t, pv_xml_child(node, "childSnapshotList", NULL), key[0] ? key : parent);
    }
}

static void got_vm(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc, void *ud)
{
    struct tree_read *t = ud;
    xmlNodePtr info = vc_prop(oc, "snapshot");
    (void)c;
    (void)type;
    (void)moref;
    t->found = 1;
    if (!info)
        return;
    pv_xml_text(pv_xml_child(info, "currentSnapshot", NULL), t->current, sizeof t->current);
    walk(t, pv_xml_child(info, "rootSnapshotList", NULL), NULL);
}

int vc_snapshots(struct pv_conn *c, const char *vm, char **json, struct pv_error *err)
{
    static const char *const paths[] = {"snapshot", "name", NULL};
    struct tree_read t = {json_array(), "", 0};
    int rc = vc_retrieve_obj(c, "VirtualMachine", vm, paths, got_vm, &t, err);

    *json = NULL;
    if (rc == PV_ENOTFOUND || (!rc && !t.found))
        rc = pv_fail(err, vm_not_found, "vCenter %s has no VM %s", c->url, vm);
    if (!rc && !(*json = json_dumps(t.items, JSON_COMPACT)))
        rc = pv_fail(err, out_of_memory, "out of memory");
    json_decref(t.items);
    return rc;
}

static int tools_running(struct pv_conn *c, const char *vm)
{
    struct pv_error ignored = {0}; /* unknown: not running, so no quiesce to fail */
    char st[64] = "";
    return vc_get_prop(c, "VirtualMachine", vm, "guest.toolsRunningStatus", st, sizeof st, NULL, 0,
                       &ignored) == 0 && strcmp(st, "guestToolsRunning") == 0;
}

int vc_snapshot(struct pv_conn *c, const char *vm, const struct pv_snapshot_change *ch,
                const struct pv_sink *s, char *key_out, size_t key_size, struct pv_error *err)
{
    struct pv_soap_writer sw;
    char result[128] = "";
    int rc;

    if (key_out && key_size)
        key_out[0] = '\0';
    switch (ch->op) {
    case PV_SNAP_CREATE:
        if (!ch->name || !*ch->name)
            return pv_fail(err, invalid_argument, "a snapshot needs a name");
        if ((rc = vc_begin(&sw, "CreateSnapshot_Task", "VirtualMachine", vm, err)))
            return rc;
        pv_soap_w_text(&sw, "name", ch->name);
        if (ch->description)
            pv_soap_w_text(&sw, "description", ch->description);
        pv_soap_w_text(&sw, "memory", ch->with_memory ? "true" : "false");
        pv_soap_w_text(&sw, "quiesce", !ch->with_memory && tools_running(c, vm) ? "true" : "false");
        rc = vc_run_task(c, &sw, "take the snapshot", s, result, sizeof result, err);
        break;
    case PV_SNAP_REVERT:
    case PV_SNAP_DELETE:
        if (!ch->key || !*ch->key)
            return pv_fail(err, snapshot_not_found, "no snapshot named");
        rc = vc_begin(&sw, ch->op == PV_SNAP_REVERT ? "RevertToSnapshot_Task" : "RemoveSnapshot_Task",
                      "VirtualMachineSnapshot", ch->key, err);
        if (rc)
            return rc;
        if (ch->op == PV_SNAP_DELETE)
            pv_soap_w_text(&sw, "removeChildren", ch->children ? "true" : "false");
        rc = vc_run_task(c, &sw, ch->op == PV_SNAP_REVERT ? "revert to the snapshot"
                                                          : "delete the snapshot", s, NULL, 0, err);
        snprintf(result, sizeof result, "%s", ch->key);
        break;
    default:
        return pv_fail(err, invalid_argument, "no snapshot change %d", (int)ch->op);
    }
    if (rc == PV_ENOTFOUND && ch->op != PV_SNAP_CREATE)
        return pv_fail(err, snapshot_not_found, "vCenter %s has no snapshot %s", c->url, ch->key);
    if (rc)
        return rc;
    if (key_out && key_size)
        snprintf(key_out, key_size, "%s", result);
    vc_refresh(c, vm, s, NULL);
    return 0;
}
