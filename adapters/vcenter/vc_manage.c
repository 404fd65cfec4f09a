/* vc_manage.c -- what the vcenter adapter changes in what exists already:
 * a VM's vCPUs and memory (ReconfigVM_Task), a copy of a VM or template
 * (CloneVM_Task) and a host's maintenance mode (EnterMaintenanceMode_Task /
 * ExitMaintenanceMode_Task).  Each is followed through its vSphere Task with
 * vc_actions.c's helpers, and what changed is read back and reported
 * through the sink, so the daemon stores vCenter's word, not our request.
 *
 * A clone goes where the ABI says: the target host's resource pool (the
 * source's host when none is named), the target's datacenter VM folder and
 * the source's datastore, powered off.  vcsim (govmomi 0.24) creates the
 * copy on the source's host and with the source's hardware whatever the
 * clone spec says; a real vCenter honours the spec.  So the clone is read
 * back and, where it differs from what was asked, moved (RelocateVM_Task)
 * or reconfigured (ReconfigVM_Task) -- against vCenter that is one read
 * and nothing more.
 *
 * Maintenance mode is asked with timeout 0 (vCenter's "no time limit") and
 * evacuatePoweredOffVms false: Polyvisor has moved the running VMs off
 * before it calls.  Asking for the mode a host is in already succeeds
 * without a task, so a job that resumes does not fail on its second try.
 */
#include <stdlib.h>
#include <string.h>
#include "vc.h"

static int vm_missing(struct pv_conn *c, const char *vm, int rc, struct pv_error *err)
{
    if (rc == PV_ENOTFOUND && err && (pv_error_is(err, PV_CODE_managed_object_not_found) ||
                                      pv_error_is(err, PV_CODE_property_not_found)))
        return pv_fail(err, vm_not_found, "vCenter %s has no VM %s", c->url, vm);
    return rc;
}

static int check_sizes(const struct pv_vm_spec *spec, int need_one, struct pv_error *err)
{
    if (spec->vcpus < 0 || spec->vcpus > 768 || spec->memory_mb < 0 ||
        (spec->memory_mb > 0 && spec->memory_mb < 4) || spec->memory_mb > (24LL << 20))
        return pv_fail(err, invalid_spec,
                            "vcpus is 1..768 and memory_mb 4..25165824 (0 leaves either as it is)");
    if (need_one && !spec->vcpus && !spec->memory_mb)
        return pv_fail(err, invalid_spec, "give vcpus, memory_mb or both");
    return 0;
}

/* A VirtualMachineConfigSpec's hardware part, in the schema's order. */
static void write_hardware(struct pv_soap_writer *sw, const char *element, int vcpus,
                           int64_t memory_mb)
{
    pv_soap_w_start(sw, element, NULL);
    if (vcpus)
        pv_soap_w_int(sw, "numCPUs", vcpus);
    if (memory_mb)
        pv_soap_w_int(sw, "memoryMB", memory_mb);
    pv_soap_w_end(sw);
}

static int reconfigure(struct pv_conn *c, const char *vm, int vcpus, int64_t memory_mb,
                       const struct pv_sink *s, struct pv_error *err)
{
    struct pv_soap_writer sw;
    int rc = vc_begin(&sw, "ReconfigVM_Task", "VirtualMachine", vm, err);

    if (rc)
        return rc;
    write_hardware(&sw, "spec", vcpus, memory_mb);
    return vm_missing(c, vm, vc_run_task(c, &sw, "reconfigure", s, NULL, 0, err), err);
}

int vc_reconfigure(struct pv_conn *c, const char *vm, const struct pv_vm_spec *spec,
                   const struct pv_sink *s, struct pv_error *err)
{
    int rc = check_sizes(spec, 1, err);

    if (!rc)
        rc = reconfigure(c, vm, spec->vcpus, spec->memory_mb, s, err);
    if (!rc)
        vc_refresh(c, vm, s, NULL);
    return rc;
}

/* ---- clone -------------------------------------------------------------------- */

/* The first of a VM's datastores. */
struct first_ds {
    char moref[256];
};

static void got_first_ds(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc,
                         void *ud)
{
    struct first_ds *d = ud;
    (void)c;
    (void)type;
    (void)moref;
    pv_xml_text(pv_xml_child(vc_prop(oc, "datastore"), NULL, NULL), d->moref, sizeof d->moref);
}

/* The clone as vCenter made it: its host, vCPUs and memory. */
struct made {
    char host[256];
    int vcpus;
    int64_t memory_mb;
};

static void got_made(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc, void *ud)
{
    struct made *m = ud;
    (void)c;
    (void)type;
    (void)moref;
    pv_xml_text(vc_prop(oc, "runtime.host"), m->host, sizeof m->host);
    m->vcpus = (int)pv_xml_int(vc_prop(oc, "config.hardware.numCPU"), 0);
    m->memory_mb = pv_xml_int(vc_prop(oc, "config.hardware.memoryMB"), 0);
}

/* Make the clone what was asked where vcsim ignored the spec (see the top). */
static int settle_clone(struct pv_conn *c, const char *vm, const char *host,
                        const struct pv_vm_spec *spec, const struct pv_sink *s, struct pv_error *err)
{
    static const char *const paths[] = {"runtime.host", "config.hardware.numCPU",
                                        "config.hardware.memoryMB", NULL};
    struct pv_migrate_opts opts = {.mode = PV_MIGRATE_QUICK};
    struct made m = {"", 0, 0};
    int rc = vc_retrieve_obj(c, "VirtualMachine", vm, paths, got_made, &m, err);
    int vcpus = spec->vcpus && spec->vcpus != m.vcpus ? spec->vcpus : 0;
    int64_t mem = spec->memory_mb && spec->memory_mb != m.memory_mb ? spec->memory_mb : 0;

    if (!rc && host && m.host[0] && strcmp(m.host, host) != 0)
        rc = vc_migrate(c, vm, c, host, &opts, s, err);
    if (!rc && (vcpus || mem))
        rc = reconfigure(c, vm, vcpus, mem, s, err);
    return rc;
}

static void write_clone(struct pv_soap_writer *sw, const char *folder, const char *host,
                        const char *pool, const char *datastore, const struct pv_vm_spec *spec)
{
    pv_soap_w_moref(sw, "folder", "Folder", folder);
    pv_soap_w_text(sw, "name", spec->name);
    pv_soap_w_start(sw, "spec", NULL);
    pv_soap_w_start(sw, "location", NULL);
    if (datastore[0])
        pv_soap_w_moref(sw, "datastore", "Datastore", datastore);
    pv_soap_w_moref(sw, "pool", "ResourcePool", pool);
    if (host)
        pv_soap_w_moref(sw, "host", "HostSystem", host);
    pv_soap_w_end(sw);
    pv_soap_w_text(sw, "template", "false");
    if (spec->vcpus || spec->memory_mb)
        write_hardware(sw, "config", spec->vcpus, spec->memory_mb);
    pv_soap_w_text(sw, "powerOn", "false");
    pv_soap_w_end(sw);
}

int vc_clone(struct pv_conn *c, const char *vm, const char *host, const struct pv_vm_spec *spec,
             const struct pv_sink *s, char **native_id, struct pv_error *err)
{
    static const char *const ds_path[] = {"datastore", NULL};
    struct pv_soap_writer sw;
    char src_host[256], pool[256], dc[256], folder[256], made[256] = "";
    struct first_ds ds = {""};
    int rc;

    *native_id = NULL;
    if (!spec->name || !*spec->name || strlen(spec->name) > 80)
        return pv_fail(err, invalid_spec, "a clone needs a name of 1..80 characters");
    if ((rc = check_sizes(spec, 0, err)))
        return rc;
    if (host && !*host)
        host = NULL;
    vc_progress(s, 1, "checking the source");
    rc = vm_missing(c, vm, vc_get_prop(c, "VirtualMachine", vm, "runtime.host", src_host,
                                       sizeof src_host, NULL, 0, err), err);
    if (!rc && !host && !src_host[0])
        rc = pv_fail(err, host_required,
                          "VM %s is on no host: name the host the clone goes to", vm);
    if (!rc)
        rc = vc_host_pool(c, host ? host : src_host, pool, sizeof pool, err);
    if (!rc)
        rc = vc_datacenter_of(c, "HostSystem", host ? host : src_host, dc, sizeof dc, err);
    if (!rc)
        rc = vc_get_prop(c, "Datacenter", dc, "vmFolder", folder, sizeof folder, NULL, 0, err);
    if (!rc)
        rc = vc_retrieve_obj(c, "VirtualMachine", vm, ds_path, got_first_ds, &ds, err);
    if (!rc)
        rc = vc_name_free(c, folder, spec->name, err);
    if (!rc)
        rc = vc_begin(&sw, "CloneVM_Task", "VirtualMachine", vm, err);
    if (rc)
        return rc;
    write_clone(&sw, folder, host, pool, ds.moref, spec);
    rc = vc_name_clash(vm_missing(c, vm, vc_run_task(c, &sw, "clone", s, made, sizeof made, err), err),
                       err);
    if (!rc && !made[0])
        rc = pv_fail(err, bad_response, "CloneVM_Task ended without naming the clone");
    if (!rc)
        rc = settle_clone(c, made, host, spec, s, err);
    if (made[0] && !(*native_id = strdup(made)) && !rc)
        rc = pv_fail(err, out_of_memory, "out of memory");
    if (made[0])
        vc_refresh(c, made, s, NULL); /* made, even when settling it failed */
    if (rc) {
        free(*native_id);
        *native_id = NULL;
    }
    return rc;
}

/* ---- maintenance mode ----------------------------------------------------------- */

int vc_host_maintenance(struct pv_conn *c, const char *host, int enter, const struct pv_sink *s,
                        struct pv_error *err)
{
    struct pv_soap_writer sw;
    char now[16];
    int rc = vc_get_prop(c, "HostSystem", host, "runtime.inMaintenanceMode", now, sizeof now,
                         NULL, 0, err);

    if (rc == PV_ENOTFOUND)
        return pv_fail(err, host_not_found, "vCenter %s has no host %s", c->url,
                            host);
    if (rc)
        return rc;
    if ((strcmp(now, "true") == 0) != (enter != 0)) {
        rc = vc_begin(&sw, enter ? "EnterMaintenanceMode_Task" : "ExitMaintenanceMode_Task",
                      "HostSystem", host, err);
        if (rc)
            return rc;
        pv_soap_w_int(&sw, "timeout", 0);
        if (enter)
            pv_soap_w_text(&sw, "evacuatePoweredOffVms", "false");
        rc = vc_run_task(c, &sw, enter ? "enter maintenance mode" : "exit maintenance mode", s,
                         NULL, 0, err);
        if (rc)
            return rc;
    } else {
        vc_progress(s, 100, enter ? "the host is in maintenance mode already"
                                  : "the host is not in maintenance mode");
    }
    return vc_refresh_host(c, host, s, err);
}
