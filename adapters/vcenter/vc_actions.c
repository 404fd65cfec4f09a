/* vc_actions.c -- what the vcenter adapter changes: power actions, delete,
 * create (CreateVM_Task), vMotion (RelocateVM_Task), each followed through
 * its vSphere Task (clone, reconfigure and maintenance mode are in
 * vc_manage.c, over the same Task helpers).
 *
 * A Task is polled (RetrievePropertiesEx of info.state, info.progress,
 * info.error, info.result) with a back-off from 100 ms to 1 s; its progress
 * goes to the job, its error becomes our error through the SOAP layer's
 * fault table (the same codes as a SOAP fault).  A cancel asks CancelTask
 * once and keeps polling until vCenter says how the task ended.  vcsim's
 * tasks have ended before the call returns, and its error messages are Go
 * type names ("*types.InvalidPowerState"), so the fault type is what names
 * the problem there.
 *
 * Mapping of actions: start PowerOnVM_Task (also resumes a suspended VM);
 * poweroff PowerOffVM_Task; save SuspendVM_Task (vSphere writes the state
 * to disk: "saved"); shutdown ShutdownGuest, which needs VMware Tools
 * running -- without them it is refused with tools_not_running rather than
 * turned into a power-off; reboot RebootGuest when Tools run, else
 * ResetVM_Task (reboot is a power operation in Polyvisor's model); delete
 * UnregisterVM (the disks stay, as the API promises) and delete with disks
 * Destroy_Task.  vSphere has no pause.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "vc.h"

#define TASK_MAX_HOURS 6
#define SHUTDOWN_MAX_S 600

void vc_progress(const struct pv_sink *s, int pct, const char *detail)
{
    if (s && s->progress)
        s->progress(s->ctx, pct, detail);
}

static int cancelled(const struct pv_sink *s)
{
    return s && s->cancelled && s->cancelled(s->ctx);
}

static void nap_ms(int ms)
{
    usleep((useconds_t)ms * 1000);
}

/* ---- tasks ------------------------------------------------------------------ */

struct task_info {
    char state[32];
    int progress;
    char result[256];
    char fault[96];
    char message[300];
};

static void got_task(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc, void *ud)
{
    struct task_info *t = ud;
    xmlNodePtr e;
    (void)c;
    (void)type;
    (void)moref;
    pv_xml_text(vc_prop(oc, "info.state"), t->state, sizeof t->state);
    t->progress = (int)pv_xml_int(vc_prop(oc, "info.progress"), -1);
    pv_xml_text(vc_prop(oc, "info.result"), t->result, sizeof t->result);
    e = vc_prop(oc, "info.error");
    if (e) {
        pv_xml_xsi_type(pv_xml_child(e, "fault", NULL), t->fault, sizeof t->fault);
        pv_xml_text(pv_xml_child(e, "localizedMessage", NULL), t->message, sizeof t->message);
        if (strncmp(t->message, "*types.", 7) == 0) /* vcsim: a Go type name, not a message */
            t->message[0] = '\0';
    }
}

/* Follow a Task to its end; result (may be NULL) gets info.result. */
static int wait_task(struct pv_conn *c, const char *task, const char *what, const struct pv_sink *s,
                     char *result, size_t rsize, struct pv_error *err)
{
    static const char *const paths[] = {"info.state", "info.progress", "info.error", "info.result", NULL};
    time_t start = time(NULL);
    int delay = 100, asked_cancel = 0;
    char detail[160];

    for (;;) {
        struct task_info t = {0};
        int rc = vc_retrieve_obj(c, "Task", task, paths, got_task, &t, err);
        if (rc)
            return rc;
        if (strcmp(t.state, "success") == 0) {
            if (result)
                snprintf(result, rsize, "%s", t.result);
            vc_progress(s, 100, what);
            return 0;
        }
        if (strcmp(t.state, "error") == 0) {
            struct pv_error fe = {0};
            pv_soap_fault_error(t.fault[0] ? t.fault : NULL, t.message, &fe);
            if (pv_error_is(&fe, PV_CODE_cancelled) || asked_cancel)
                return pv_fail(err, cancelled, "%s: cancelled in vCenter", what);
            return pv_error_reword(err, &fe, "%s: %s", what, fe.message);
        }
        if (!t.state[0])
            return pv_fail(err, bad_response, "%s: task %s has no state", what, task);
        snprintf(detail, sizeof detail, "%s (%s%s)", what, t.state,
                 t.progress >= 0 ? ", vCenter's progress" : "");
        vc_progress(s, t.progress > 0 ? (t.progress > 99 ? 99 : t.progress) : 1, detail);
        if (!asked_cancel && cancelled(s)) {
            struct pv_soap_writer sw;
            struct pv_soap_resp *r = NULL;
            if (vc_begin(&sw, "CancelTask", "Task", task, NULL) == 0)
                vc_invoke(c, &sw, 0, &r, NULL); /* not every task can be cancelled */
            pv_soap_resp_free(r);
            asked_cancel = 1;
        }
        if (time(NULL) - start > (time_t)TASK_MAX_HOURS * 3600)
            return pv_fail(err, task_timeout, "%s: task %s did not end in %d hours",
                                what, task, TASK_MAX_HOURS);
        nap_ms(delay);
        delay = delay * 2 > 1000 ? 1000 : delay * 2;
    }
}

/* "what: message", the code kept. */
static void prefix_error(struct pv_error *err, const char *what)
{
    pv_error_reword(err, err, "%s: %s", what, err->message);
}

/* Send a request that answers with a Task and follow the Task. */
int vc_run_task(struct pv_conn *c, struct pv_soap_writer *sw, const char *what,
                    const struct pv_sink *s, char *result, size_t rsize, struct pv_error *err)
{
    struct pv_soap_resp *r = NULL;
    char task[256];
    int rc;

    vc_progress(s, 1, what);
    rc = vc_invoke(c, sw, 0, &r, err);
    if (!rc && !pv_xml_text(vc_returnval(r), task, sizeof task))
        rc = pv_fail(err, bad_response, "%s: vCenter returned no task", what);
    pv_soap_resp_free(r);
    if (rc) {
        if (err && err->err != PV_EUNREACHABLE && !strstr(err->message, what))
            prefix_error(err, what);
        return rc;
    }
    return wait_task(c, task, what, s, result, rsize, err);
}

static int simple_task(struct pv_conn *c, const char *method, const char *vm, const char *what,
                       const struct pv_sink *s, struct pv_error *err)
{
    struct pv_soap_writer sw;
    int rc = vc_begin(&sw, method, "VirtualMachine", vm, err);
    return rc ? rc : vc_run_task(c, &sw, what, s, NULL, 0, err);
}

/* A method without a Task (ShutdownGuest, RebootGuest, UnregisterVM). */
static int simple_call(struct pv_conn *c, const char *method, const char *vm, const char *what,
                       struct pv_error *err)
{
    struct pv_soap_writer sw;
    struct pv_soap_resp *r = NULL;
    int rc = vc_begin(&sw, method, "VirtualMachine", vm, err);

    if (!rc)
        rc = vc_invoke(c, &sw, 0, &r, err);
    pv_soap_resp_free(r);
    if (rc && err && err->err != PV_EUNREACHABLE)
        prefix_error(err, what);
    return rc;
}

/* ---- power actions ---------------------------------------------------------------- */

static int vm_prop(struct pv_conn *c, const char *vm, const char *path, char *val, size_t size,
                   struct pv_error *err)
{
    int rc = vc_get_prop(c, "VirtualMachine", vm, path, val, size, NULL, 0, err);
    if (rc == PV_ENOTFOUND && err && pv_error_is(err, PV_CODE_property_not_found)) {
        val[0] = '\0'; /* an unset property (no guest info yet) */
        return 0;
    }
    if (rc == PV_ENOTFOUND)
        pv_fail(err, vm_not_found, "vCenter %s has no VM %s", c->url, vm);
    return rc;
}

static int tools_running(struct pv_conn *c, const char *vm, int *yes, struct pv_error *err)
{
    char v[64];
    int rc = vm_prop(c, vm, "guest.toolsRunningStatus", v, sizeof v, err);
    *yes = !rc && strcmp(v, "guestToolsRunning") == 0;
    return rc;
}

static int wait_powered_off(struct pv_conn *c, const char *vm, const struct pv_sink *s,
                            struct pv_error *err)
{
    time_t start = time(NULL);
    char p[32];
    int rc;

    while (!(rc = vm_prop(c, vm, "runtime.powerState", p, sizeof p, err))) {
        if (strcmp(p, "poweredOff") == 0) {
            vc_progress(s, 100, "guest shut down");
            return 0;
        }
        if (cancelled(s))
            return pv_fail(err, cancelled,
                                "stopped waiting for the guest of %s to shut down", vm);
        if (time(NULL) - start > SHUTDOWN_MAX_S)
            return pv_fail(err, shutdown_timeout,
                                "the guest of %s did not shut down in %d s", vm, SHUTDOWN_MAX_S);
        vc_progress(s, 50, "waiting for the guest to shut down");
        nap_ms(500);
    }
    return rc;
}

/* vCenter refuses a power operation that does not fit the VM's state with
 * InvalidPowerState (or InvalidState); the adapter contract names the
 * common cases (already_running, already_stopped, not_running), so look at
 * the state and say which, keeping vCenter's words. */
static int power_conflict(struct pv_conn *c, const char *vm, enum pv_vm_action a, int rc,
                          struct pv_error *err)
{
    char p[32];
    int code = -1;

    if (rc != PV_ECONFLICT || !err || (!pv_error_is(err, PV_CODE_invalid_power_state) &&
                                       !pv_error_is(err, PV_CODE_invalid_state)))
        return rc;
    if (vc_get_prop(c, "VirtualMachine", vm, "runtime.powerState", p, sizeof p, NULL, 0, NULL))
        return rc;
    if ((a == PV_ACT_START || a == PV_ACT_RESUME) && strcmp(p, "poweredOn") == 0)
        code = PV_CODE_already_running;
    else if ((a == PV_ACT_POWEROFF || a == PV_ACT_SHUTDOWN) && strcmp(p, "poweredOff") == 0)
        code = PV_CODE_already_stopped;
    else if ((a == PV_ACT_SAVE || a == PV_ACT_REBOOT || a == PV_ACT_SHUTDOWN) && strcmp(p, "poweredOn") != 0)
        code = PV_CODE_not_running;
    if (code >= 0)
        pv_error_recode(err, (enum pv_code)code);
    return rc;
}

static int do_action(struct pv_conn *c, const char *vm, enum pv_vm_action a, const struct pv_sink *s,
                     struct pv_error *err)
{
    char p[32];
    int rc, tools;

    switch (a) {
    case PV_ACT_START:
    case PV_ACT_RESUME:
        return simple_task(c, "PowerOnVM_Task", vm, "power on", s, err);
    case PV_ACT_POWEROFF:
        return simple_task(c, "PowerOffVM_Task", vm, "power off", s, err);
    case PV_ACT_SAVE:
        /* vSphere suspends only a powered-on VM (vcsim suspends anything) */
        if ((rc = vm_prop(c, vm, "runtime.powerState", p, sizeof p, err)))
            return rc;
        if (strcmp(p, "poweredOn") != 0)
            return pv_fail(err, not_running, "VM %s is %s, not running", vm, p);
        return simple_task(c, "SuspendVM_Task", vm, "suspend", s, err);
    case PV_ACT_SHUTDOWN:
        if ((rc = vm_prop(c, vm, "runtime.powerState", p, sizeof p, err)))
            return rc;
        if (strcmp(p, "poweredOff") == 0)
            return pv_fail(err, already_stopped, "VM %s is already powered off", vm);
        if (strcmp(p, "poweredOn") != 0)
            return pv_fail(err, not_running, "VM %s is %s, not running", vm, p);
        if ((rc = tools_running(c, vm, &tools, err)))
            return rc;
        if (!tools)
            return pv_fail(err, tools_not_running,
                                "VMware Tools are not running in VM %s, and a guest shutdown needs "
                                "them; power it off instead", vm);
        vc_progress(s, 10, "guest shutdown requested");
        if ((rc = simple_call(c, "ShutdownGuest", vm, "guest shutdown", err)))
            return rc;
        return wait_powered_off(c, vm, s, err);
    case PV_ACT_REBOOT:
        if ((rc = tools_running(c, vm, &tools, err)))
            return rc;
        if (tools)
            return simple_call(c, "RebootGuest", vm, "guest reboot", err);
        return simple_task(c, "ResetVM_Task", vm, "reset (VMware Tools are not running)", s, err);
    case PV_ACT_DELETE:
    case PV_ACT_DELETE_WITH_DISKS:
        if ((rc = vm_prop(c, vm, "runtime.powerState", p, sizeof p, err)))
            return rc;
        if (strcmp(p, "poweredOn") == 0)
            return pv_fail(err, vm_running,
                                "VM %s is powered on: power it off before deleting it", vm);
        if (a == PV_ACT_DELETE_WITH_DISKS)
            rc = simple_task(c, "Destroy_Task", vm, "delete with disks", s, err);
        else
            rc = simple_call(c, "UnregisterVM", vm, "remove from the inventory", err);
        if (!rc && s->vm_gone)
            s->vm_gone(s->ctx, vm);
        return rc;
    case PV_ACT_PAUSE:
    default:
        return pv_fail(err, unsupported_by_backend,
                            "vSphere cannot pause a VM; suspend (save) it instead");
    }
}

int vc_action(struct pv_conn *c, const char *vm, enum pv_vm_action a, const struct pv_sink *s,
              struct pv_error *err)
{
    return power_conflict(c, vm, a, do_action(c, vm, a, s, err), err);
}

/* ---- create ------------------------------------------------------------------------- */

/* The morefs of an array property (host.datastore, host.network). */
static void got_array(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc, void *ud)
{
    json_t *out = ud;
    const char *path = json_string_value(json_object_get(out, "path"));
    xmlNodePtr v = vc_prop(oc, path);
    char b[256], t[64];
    (void)c;
    (void)type;
    (void)moref;
    for (xmlNodePtr m = pv_xml_child(v, NULL, NULL); m; m = pv_xml_next(m, NULL, NULL))
        if (pv_xml_text(m, b, sizeof b) && pv_xml_attr(m, "type", t, sizeof t))
            json_array_append_new(json_object_get(out, "items"), json_pack("{s:s,s:s}", "moref", b, "type", t));
}

static int names_of(struct pv_conn *c, const char *type, const char *moref, const char *path,
                    json_t **items, struct pv_error *err)
{
    const char *paths[] = {path, NULL};
    json_t *out = json_pack("{s:s,s:[]}", "path", path, "items");
    size_t i;
    json_t *it;
    int rc = vc_retrieve_obj(c, type, moref, paths, got_array, out, err);

    *items = json_incref(json_object_get(out, "items"));
    json_decref(out);
    json_array_foreach(*items, i, it) {
        char name[256];
        if (!rc)
            rc = vc_get_prop(c, json_string_value(json_object_get(it, "type")),
                             json_string_value(json_object_get(it, "moref")), "name", name,
                             sizeof name, NULL, 0, err);
        if (!rc)
            json_object_set_new(it, "name", json_string(name));
    }
    return rc;
}

int vc_host_pool(struct pv_conn *c, const char *host, char *pool, size_t size,
                 struct pv_error *err)
{
    char parent[256], ptype[64];
    int rc = vc_get_prop(c, "HostSystem", host, "parent", parent, sizeof parent, ptype, sizeof ptype,
                         err);

    if (rc == PV_ENOTFOUND)
        return pv_fail(err, host_not_found, "vCenter %s has no host %s", c->url,
                            host);
    return rc ? rc : vc_get_prop(c, ptype, parent, "resourcePool", pool, size, NULL, 0, err);
}

/* Where a new VM on `host` goes: its datacenter's VM folder, the resource
 * pool of the host's compute resource, a datastore (named, or the host's
 * first). */
struct place {
    char folder[256], pool[256], datastore[256];
};

static int placement(struct pv_conn *c, const char *host, const char *ds_name, struct place *pl,
                     struct pv_error *err)
{
    char dc[256];
    json_t *ds = NULL, *it;
    size_t i;
    int rc;

    rc = vc_host_pool(c, host, pl->pool, sizeof pl->pool, err);
    if (!rc)
        rc = vc_datacenter_of(c, "HostSystem", host, dc, sizeof dc, err);
    if (!rc)
        rc = vc_get_prop(c, "Datacenter", dc, "vmFolder", pl->folder, sizeof pl->folder, NULL, 0, err);
    if (!rc)
        rc = names_of(c, "HostSystem", host, "datastore", &ds, err);
    pl->datastore[0] = '\0';
    json_array_foreach(ds, i, it) {
        const char *n = json_string_value(json_object_get(it, "name"));
        if (n && (!ds_name || strcmp(n, ds_name) == 0)) {
            snprintf(pl->datastore, sizeof pl->datastore, "%s", n);
            break;
        }
    }
    json_decref(ds);
    if (!rc && !pl->datastore[0])
        rc = ds_name ? pv_fail(err, unknown_datastore,
                                    "host %s has no datastore '%.64s'", host, ds_name)
                     : pv_fail(err, no_datastore, "host %s has no datastore", host);
    return rc;
}

int vc_name_clash(int rc, struct pv_error *err)
{
    if (rc == PV_ECONFLICT && err && pv_error_is(err, PV_CODE_duplicate_name)) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        pv_fail(err, name_in_use, "%s", msg);
    }
    return rc;
}

/* vCenter keeps VM names unique per folder (DuplicateName); vcsim does not
 * check, so ask SearchIndex.FindChild first. */
int vc_name_free(struct pv_conn *c, const char *folder, const char *name, struct pv_error *err)
{
    struct pv_soap_writer sw;
    struct pv_soap_resp *r = NULL;
    char found[256] = "";
    int rc;

    if (!c->search_index[0])
        return 0;
    if ((rc = vc_begin(&sw, "FindChild", "SearchIndex", c->search_index, err)))
        return rc;
    pv_soap_w_moref(&sw, "entity", "Folder", folder);
    pv_soap_w_text(&sw, "name", name);
    rc = vc_invoke(c, &sw, 0, &r, err);
    if (!rc)
        pv_xml_text(vc_returnval(r), found, sizeof found);
    pv_soap_resp_free(r);
    if (!rc && found[0])
        rc = pv_fail(err, name_in_use, "vCenter %s has a VM named '%s' already (%s)",
                          c->url, name, found);
    return rc;
}

/* A disk's datastore: "pool" (the contract's word) or "datastore". */
static json_t *datastore_of(const json_t *disk)
{
    json_t *ds = json_object_get(disk, "pool");
    return ds ? ds : json_object_get(disk, "datastore");
}

/* Check the spec's disks and NICs before vCenter sees them: each disk
 * {"size_gb": N[, "pool" or "datastore": NAME]}, each NIC {"network": NAME}
 * naming a network the host has. */
static int check_spec(struct pv_conn *c, const char *host, json_t *disks, json_t *nics,
                      const char **ds_name, struct pv_error *err)
{
    size_t i, j;
    json_t *d, *n, *nets = NULL;
    int rc = 0;

    *ds_name = NULL;
    if ((disks && !json_is_array(disks)) || json_array_size(disks) > 16)
        return pv_fail(err, invalid_disks, "disks is an array of at most 16 disks");
    json_array_foreach(disks, i, d) {
        json_t *size = json_object_get(d, "size_gb"), *ds = datastore_of(d);
        if (!json_is_integer(size) || json_integer_value(size) < 1 || json_integer_value(size) > 65536 ||
            (ds && !json_is_string(ds)))
            return pv_fail(err, invalid_disks,
                                "each disk is {\"size_gb\": 1..65536[, \"pool\": NAME]}");
        if (ds)
            *ds_name = json_string_value(ds);
    }
    if ((nics && !json_is_array(nics)) || json_array_size(nics) > 10)
        return pv_fail(err, invalid_nics, "nics is an array of at most 10 NICs");
    if (json_array_size(nics) && (rc = names_of(c, "HostSystem", host, "network", &nets, err)))
        return rc;
    json_array_foreach(nics, i, n) {
        const char *want = json_string_value(json_object_get(n, "network"));
        json_t *it;
        int found = 0;
        if (!want) {
            rc = pv_fail(err, invalid_nics, "each NIC is {\"network\": NAME}");
            break;
        }
        json_array_foreach(nets, j, it)
            if (json_string_value(json_object_get(it, "name")) &&
                strcmp(json_string_value(json_object_get(it, "name")), want) == 0)
                found = 1;
        if (!found) {
            rc = pv_fail(err, unknown_network, "host %s has no network '%.64s'", host, want);
            break;
        }
    }
    json_decref(nets);
    return rc;
}

static void device_change(struct pv_soap_writer *sw, int create_file)
{
    pv_soap_w_start(sw, "deviceChange", NULL);
    pv_soap_w_text(sw, "operation", "add");
    if (create_file)
        pv_soap_w_text(sw, "fileOperation", "create");
}

static void write_config(struct pv_soap_writer *sw, const struct pv_vm_spec *spec, const char *datastore,
                         json_t *disks, json_t *nics)
{
    char path[300];
    size_t i;
    json_t *d;

    pv_soap_w_start(sw, "config", NULL);
    pv_soap_w_text(sw, "name", spec->name);
    pv_soap_w_text(sw, "guestId", "otherGuest64");
    pv_soap_w_start(sw, "files", NULL);
    snprintf(path, sizeof path, "[%s]", datastore);
    pv_soap_w_text(sw, "vmPathName", path);
    pv_soap_w_end(sw);
    pv_soap_w_int(sw, "numCPUs", spec->vcpus);
    pv_soap_w_int(sw, "memoryMB", spec->memory_mb);
    if (json_array_size(disks)) {
        device_change(sw, 0);
        pv_soap_w_start(sw, "device", NULL);
        pv_soap_w_xsi_type(sw, spec->paravirtual ? "ParaVirtualSCSIController" : "VirtualLsiLogicController");
        pv_soap_w_int(sw, "key", -100);
        pv_soap_w_int(sw, "busNumber", 0);
        pv_soap_w_text(sw, "sharedBus", "noSharing");
        pv_soap_w_end(sw);
        pv_soap_w_end(sw);
    }
    json_array_foreach(disks, i, d) {
        const char *ds = json_string_value(datastore_of(d));
        device_change(sw, 1);
        pv_soap_w_start(sw, "device", NULL);
        pv_soap_w_xsi_type(sw, "VirtualDisk");
        pv_soap_w_int(sw, "key", -101 - (long long)i);
        pv_soap_w_start(sw, "backing", NULL);
        pv_soap_w_xsi_type(sw, "VirtualDiskFlatVer2BackingInfo");
        snprintf(path, sizeof path, "[%s]", ds ? ds : datastore);
        pv_soap_w_text(sw, "fileName", path);
        pv_soap_w_text(sw, "diskMode", "persistent");
        pv_soap_w_text(sw, "thinProvisioned", "true");
        pv_soap_w_end(sw);
        pv_soap_w_int(sw, "controllerKey", -100);
        pv_soap_w_int(sw, "unitNumber", (long long)(i < 7 ? i : i + 1)); /* unit 7 is the controller's */
        pv_soap_w_int(sw, "capacityInKB", json_integer_value(json_object_get(d, "size_gb")) * 1024 * 1024);
        pv_soap_w_end(sw);
        pv_soap_w_end(sw);
    }
    json_array_foreach(nics, i, d) {
        device_change(sw, 0);
        pv_soap_w_start(sw, "device", NULL);
        pv_soap_w_xsi_type(sw, spec->paravirtual ? "VirtualVmxnet3" : "VirtualE1000");
        pv_soap_w_int(sw, "key", -200 - (long long)i);
        pv_soap_w_start(sw, "backing", NULL);
        pv_soap_w_xsi_type(sw, "VirtualEthernetCardNetworkBackingInfo");
        pv_soap_w_text(sw, "deviceName", json_string_value(json_object_get(d, "network")));
        pv_soap_w_end(sw);
        pv_soap_w_start(sw, "connectable", NULL);
        pv_soap_w_text(sw, "startConnected", "true");
        pv_soap_w_text(sw, "allowGuestControl", "true");
        pv_soap_w_text(sw, "connected", "false");
        pv_soap_w_end(sw);
        pv_soap_w_text(sw, "addressType", "generated");
        pv_soap_w_end(sw);
        pv_soap_w_end(sw);
    }
    pv_soap_w_end(sw);
}

int vc_create(struct pv_conn *c, const char *host, const struct pv_vm_spec *spec,
              const struct pv_sink *s, char **native_id, struct pv_error *err)
{
    json_t *disks = NULL, *nics = NULL;
    struct pv_soap_writer sw;
    struct place pl;
    const char *ds_name = NULL;
    char vm[256] = "";
    int rc;

    *native_id = NULL;
    if (!host || !*host)
        return pv_fail(err, host_required, "a vCenter VM is created on a named host");
    if (!spec->name || !*spec->name || spec->vcpus < 1 || spec->memory_mb < 4)
        return pv_fail(err, invalid_spec, "a VM needs a name, vcpus >= 1 and memory_mb >= 4");
    if (spec->disks_json && strcmp(spec->disks_json, "null") != 0)
        disks = json_loads(spec->disks_json, JSON_DECODE_ANY, NULL);
    if (spec->nics_json && strcmp(spec->nics_json, "null") != 0)
        nics = json_loads(spec->nics_json, JSON_DECODE_ANY, NULL);
    vc_progress(s, 1, "checking the host");
    rc = check_spec(c, host, disks, nics, &ds_name, err);
    if (!rc)
        rc = placement(c, host, ds_name, &pl, err);
    if (!rc)
        rc = vc_name_free(c, pl.folder, spec->name, err);
    if (!rc)
        rc = vc_begin(&sw, "CreateVM_Task", "Folder", pl.folder, err);
    if (!rc) {
        write_config(&sw, spec, pl.datastore, disks, nics);
        pv_soap_w_moref(&sw, "pool", "ResourcePool", pl.pool);
        pv_soap_w_moref(&sw, "host", "HostSystem", host);
        rc = vc_name_clash(vc_run_task(c, &sw, "create", s, vm, sizeof vm, err), err);
    }
    if (!rc && !vm[0])
        rc = pv_fail(err, bad_response, "CreateVM_Task ended without naming the VM");
    if (!rc) {
        *native_id = strdup(vm);
        if (!*native_id)
            rc = pv_fail(err, out_of_memory, "out of memory");
        else
            vc_refresh(c, vm, s, NULL);
    }
    json_decref(disks);
    json_decref(nics);
    return rc;
}

/* ---- vMotion ---------------------------------------------------------------------------- */

int vc_migrate(struct pv_conn *from, const char *vm, struct pv_conn *to, const char *host,
               const struct pv_migrate_opts *opts, const struct pv_sink *s, struct pv_error *err)
{
    struct pv_soap_writer sw;
    char pool[256], now[256];
    int rc;

    (void)opts; /* vCenter moves a running VM live and a stopped one cold */
    if (to && to != from && strcmp(to->instance_uuid, from->instance_uuid) != 0)
        return pv_fail(err, cross_vcenter_migration,
                            "moving a VM between two vCenters is not supported; choose a host of %s",
                            from->url);
    if (!host || !*host)
        return pv_fail(err, host_required, "vMotion needs a destination host");
    rc = vc_get_prop(from, "VirtualMachine", vm, "runtime.host", now, sizeof now, NULL, 0, err);
    if (rc == PV_ENOTFOUND)
        return pv_fail(err, vm_not_found, "vCenter %s has no VM %s", from->url, vm);
    if (rc)
        return rc;
    if (strcmp(now, host) == 0)
        return pv_fail(err, same_host, "VM %s is already on host %s", vm, host);
    rc = vc_host_pool(from, host, pool, sizeof pool, err);
    if (!rc)
        rc = vc_begin(&sw, "RelocateVM_Task", "VirtualMachine", vm, err);
    if (rc)
        return rc;
    pv_soap_w_start(&sw, "spec", NULL);
    pv_soap_w_moref(&sw, "pool", "ResourcePool", pool);
    pv_soap_w_moref(&sw, "host", "HostSystem", host);
    pv_soap_w_end(&sw);
    pv_soap_w_text(&sw, "priority", "defaultPriority");
    rc = vc_run_task(from, &sw, "vMotion", s, NULL, 0, err);
    if (!rc)
        vc_refresh(from, vm, s, NULL);
    return rc;
}
