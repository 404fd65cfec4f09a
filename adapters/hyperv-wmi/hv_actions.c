/* hv_actions.c -- what changes a Hyper-V host: power actions, create,
 * delete, migration.
 *
 * Decisions worth knowing:
 *   - Every action reads the VM first.  Hyper-V answers one code (32775,
 *     "invalid state") for every refusal, and RequestStateChange(2) both
 *     starts an off VM and resumes a paused one; reading the state first lets
 *     us refuse in the contract's words (already_running, already_stopped,
 *     not_running, vm_running) and never turn a "resume" into a cold start.
 *     A 32775 that still comes back is named from a second read.
 *   - Graceful shutdown is Msvm_ShutdownComponent.InitiateShutdown, which
 *     needs the guest's integration services and has no Job: we wait for
 *     EnabledState 3 ourselves.
 *   - Create is DefineSystem (name and generation) and then
 *     ModifyResourceSettings on the processor and memory settings the new VM
 *     got; if any step fails the VM is destroyed again, so a failed create
 *     leaves nothing behind.
 *   - Live migration is MigrateVirtualSystemToHost with an embedded
 *     Msvm_VirtualSystemMigrationSettingData of MigrationType 32768
 *     (VirtualSystem).  Quick migration is save, move the saved VM the same
 *     way, restore on the target -- the source restored if the move fails.
 */
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "adapters/hyperv-wmi/hv.h"

#define SHUTDOWN_TIMEOUT_MS (10 * 60 * 1000)
#define RSC_START 2
#define RSC_OFF 3
#define RSC_SAVE 6
#define RSC_PAUSE 9
#define RSC_REBOOT 10

/* ---- RequestStateChange ------------------------------------------------------- */

static int request_state(struct pv_conn *c, const char *guid, int state, const char *what,
                         const struct pv_sink *s, int p0, int p1, long *rv_out,
                         struct pv_error *err)
{
    struct pv_wsman_selector sel[2] = {{"CreationClassName", "Msvm_ComputerSystem"}, {"Name", guid}};
    char num[16];
    struct pv_wsman_param p = {.name = "RequestedState", .text = num};
    struct pv_soap_resp *r = NULL;
    xmlNodePtr out;
    long rv;
    int rc;

    snprintf(num, sizeof num, "%d", state);
    rc = pv_wsman_invoke(c->ws, PV_WMI_V2 "Msvm_ComputerSystem", "RequestStateChange", sel, 2, &p, 1,
                         &r, &out, &rv, err);
    if (rv_out)
        *rv_out = rv;
    if (!rc)
        rc = hv_finish(c, out, rv, 0, what, s, p0, p1, err);
    pv_soap_resp_free(r);
    return rc;
}

/* The contract's word for "cannot do a in power state ps", or NULL -- the
 * same refusals every adapter gives (tests/integration/test_contract.py).
 * Hyper-V itself would turn a saved VM off (discarding its saved state);
 * Polyvisor asks for a start or a delete instead, as elsewhere. */
static int refusal(enum pv_vm_action a, enum pv_power_state ps)
{
    switch (a) {
    case PV_ACT_START:
        return ps == PV_POWER_RUNNING ? PV_CODE_already_running : ps == PV_POWER_PAUSED ? PV_CODE_vm_paused : -1;
    case PV_ACT_SHUTDOWN:
    case PV_ACT_POWEROFF:
        return ps == PV_POWER_STOPPED ? PV_CODE_already_stopped : ps == PV_POWER_SAVED ? PV_CODE_not_running : -1;
    case PV_ACT_REBOOT:
    case PV_ACT_PAUSE:
    case PV_ACT_SAVE:
        return ps == PV_POWER_RUNNING || (a == PV_ACT_SAVE && ps == PV_POWER_PAUSED) ? -1 : PV_CODE_not_running;
    case PV_ACT_RESUME:
        return ps == PV_POWER_PAUSED ? -1 : PV_CODE_not_paused;
    case PV_ACT_DELETE:
    case PV_ACT_DELETE_WITH_DISKS:
        return ps == PV_POWER_RUNNING || ps == PV_POWER_PAUSED ? PV_CODE_vm_running : -1;
    }
    return -1;
}

static const char *action_name(enum pv_vm_action a)
{
    static const char *const names[] = {"start", "shut down", "power off", "reboot", "pause",
                                        "resume", "save", "delete", "delete"};
    return (unsigned)a < sizeof names / sizeof names[0] ? names[a] : "change";
}

static const char *state_word(enum pv_power_state ps)
{
    static const char *const w[] = {"in an unknown state", "running", "stopped", "paused", "saved"};
    return w[ps];
}

static int refuse(const struct hv_vm *v, enum pv_vm_action a, int code, struct pv_error *err)
{
    return pv_fail_code(err, (enum pv_code)code, "cannot %s VM '%s': it is %s (EnabledState %d)",
                        action_name(a), v->name, state_word(hv_power_state(v->enabled_state)),
                        v->enabled_state);
}

/* Name a 32775 from what the VM looks like now. */
static int invalid_state(struct pv_conn *c, const char *guid, enum pv_vm_action a,
                         struct pv_error *err)
{
    struct hv_vm v;
    int code;

    if (hv_vm_get(c, guid, &v, NULL) != 0)
        return pv_fail(err, invalid_state,
                            "cannot %s the VM in its current state", action_name(a));
    code = refusal(a, hv_power_state(v.enabled_state));
    if (code >= 0)
        return refuse(&v, a, code, err);
    return pv_fail_code(err, v.enabled_state == 4 || v.enabled_state == 10 ? PV_CODE_vm_busy : PV_CODE_invalid_state,
                        "cannot %s VM '%s' now: it is %s (EnabledState %d) or busy with another operation",
                        action_name(a), v.name, state_word(hv_power_state(v.enabled_state)),
                        v.enabled_state);
}

/* Wait until the VM's EnabledState is `want`. */
static int wait_state(struct pv_conn *c, const char *guid, int want, int timeout_ms,
                      const struct pv_sink *s, const char *what, struct pv_error *err)
{
    for (int waited = 0;; waited += 250) {
        struct hv_vm v;
        int rc = hv_vm_get(c, guid, &v, err);
        if (rc)
            return rc;
        if (v.enabled_state == want)
            return 0;
        if (waited >= timeout_ms)
            return pv_fail(err, job_timed_out,
                                "%s: VM '%s' did not reach EnabledState %d in %d s (it is %d)", what,
                                v.name, want, timeout_ms / 1000, v.enabled_state);
        if (s && s->cancelled && s->cancelled(s->ctx))
            return pv_fail(err, cancelled, "%s: cancelled while waiting", what);
        hv_sleep_ms(250);
    }
}

static int shutdown_guest(struct pv_conn *c, const struct hv_vm *v, const struct pv_sink *s,
                          struct pv_error *err)
{
    struct pv_wsman_items it = {0};
    struct pv_wsman_selector sel[4];
    char vals[4][256], q[300];
    static const char *const keys[] = {"CreationClassName", "DeviceID", "SystemCreationClassName",
                                       "SystemName"};
    struct pv_wsman_param p[2] = {{.name = "Force", .text = "false"},
                                  {.name = "Reason", .text = "Shut down by Polyvisor"}};
    struct pv_soap_resp *r = NULL;
    xmlNodePtr out;
    long rv;
    int rc;

    /* v->guid passed hv_guid_ok in hv_vm_get */
    snprintf(q, sizeof q,
             "ASSOCIATORS OF {Msvm_ComputerSystem.CreationClassName='Msvm_ComputerSystem',Name='%s'} "
             "WHERE AssocClass = Msvm_SystemDevice ResultClass = Msvm_ShutdownComponent", v->guid);
    rc = pv_wsman_enumerate(c->ws, PV_WMI_V2 "*", q, &it, err);
    if (rc)
        return rc;
    if (it.n == 0) {
        pv_wsman_items_free(&it);
        return pv_fail(err, no_guest_shutdown,
                            "VM '%s' has no shutdown integration service; power it off instead", v->name);
    }
    for (int i = 0; i < 4; i++) {
        vals[i][0] = '\0';
        pv_wsman_prop_text(it.item[0], keys[i], vals[i], sizeof vals[i]);
        sel[i].name = keys[i];
        sel[i].value = vals[i];
    }
    pv_wsman_items_free(&it);
    rc = pv_wsman_invoke(c->ws, PV_WMI_V2 "Msvm_ShutdownComponent", "InitiateShutdown", sel, 4, p, 2,
                         &r, &out, &rv, err);
    if (!rc && rv == 4096 && pv_wsman_prop(out, "Job")) /* not in the v2 page, but harmless */
        rc = hv_finish(c, out, rv, 0, "shut down", s, 0, 20, err);
    pv_soap_resp_free(r);
    if (rc)
        return rc;
    if (rv == 32775)
        return invalid_state(c, v->guid, PV_ACT_SHUTDOWN, err);
    if (rv != 0 && rv != 4096)
        return hv_return_error(rv, 0, "shut down", err);
    if (s && s->progress)
        s->progress(s->ctx, 20, "guest shutting down");
    rc = wait_state(c, v->guid, 3, SHUTDOWN_TIMEOUT_MS, s, "shut down", err);
    if (!rc && s && s->progress)
        s->progress(s->ctx, 100, "shut down");
    return rc;
}

/* ---- delete --------------------------------------------------------------------- */

static int destroy(struct pv_conn *c, const char *guid, const struct pv_sink *s, int p0, int p1,
                   struct pv_error *err)
{
    struct pv_wsman_selector vmsel[2] = {{"CreationClassName", "Msvm_ComputerSystem"}, {"Name", guid}};
    struct pv_wsman_param p = {.name = "AffectedSystem", .kind = PV_WSMAN_P_EPR,
                               .resource_uri = PV_WMI_V2 "Msvm_ComputerSystem", .sel = vmsel, .nsel = 2};
    struct hv_service svc;
    struct pv_soap_resp *r = NULL;
    xmlNodePtr out;
    long rv;
    int rc;

    if ((rc = hv_service(c, "Msvm_VirtualSystemManagementService", &svc, err)))
        return rc;
    rc = pv_wsman_invoke(c->ws, svc.uri, "DestroySystem", svc.sel, svc.nsel, &p, 1, &r, &out, &rv, err);
    if (!rc)
        rc = hv_finish(c, out, rv, 1, "delete", s, p0, p1, err);
    pv_soap_resp_free(r);
    return rc;
}

/* ---- actions -------------------------------------------------------------------- */

int hv_action(struct pv_conn *c, const char *guid, enum pv_vm_action a, const struct pv_sink *s,
              struct pv_error *err)
{
    static const int target[] = {[PV_ACT_START] = RSC_START, [PV_ACT_POWEROFF] = RSC_OFF,
                                 [PV_ACT_REBOOT] = RSC_REBOOT, [PV_ACT_PAUSE] = RSC_PAUSE,
                                 [PV_ACT_RESUME] = RSC_START, [PV_ACT_SAVE] = RSC_SAVE};
    struct hv_vm v;
    int code;
    long rv = 0;
    int rc;

    if ((rc = hv_host_identity(c, err)) || (rc = hv_vm_get(c, guid, &v, err)))
        return rc;
    code = refusal(a, hv_power_state(v.enabled_state));
    if (code >= 0)
        return refuse(&v, a, code, err);
    switch (a) {
    case PV_ACT_SHUTDOWN:
        return shutdown_guest(c, &v, s, err);
    case PV_ACT_DELETE:
    case PV_ACT_DELETE_WITH_DISKS: {
        /* DestroySystem leaves VHD files; with disks, the ones Polyvisor
         * made for this VM go after it.  VHDs a user attached stay. */
        char **files = NULL;
        size_t nf = 0;
        if (a == PV_ACT_DELETE_WITH_DISKS && (rc = hv_vm_own_files(c, v.guid, &files, &nf, err)))
            return rc;
        rc = destroy(c, v.guid, s, 0, nf ? 90 : 100, err);
        if (rc == PV_ECONFLICT && pv_error_is(err, PV_CODE_invalid_state))
            rc = invalid_state(c, v.guid, a, err);
        for (size_t i = 0; i < nf; i++) {
            if (!rc)
                rc = hv_file_delete(c, files[i], err);
            free(files[i]);
        }
        free(files);
        if (!rc && nf && s && s->progress)
            s->progress(s->ctx, 100, "disks removed");
        return rc;
    }
    default:
        break;
    }
    rc = request_state(c, v.guid, target[a], action_name(a), s, 0, 100, &rv, err);
    if (rc == PV_ECONFLICT && rv == 32775)
        return invalid_state(c, v.guid, a, err);
    return rc;
}

/* ---- create --------------------------------------------------------------------- */

static int define_system(struct pv_conn *c, const struct hv_service *svc,
                         const struct pv_vm_spec *spec, const struct pv_sink *s, char *guid,
                         struct pv_error *err)
{
    struct pv_cim_prop props[] = {
        {"ElementName", "string", spec->name},
        {"VirtualSystemSubType", "string",
         spec->paravirtual ? "Microsoft:Hyper-V:SubType:2" : "Microsoft:Hyper-V:SubType:1"},
        {"Notes", "string", "Created by Polyvisor"},
        /* the identity to keep (an HA restart elsewhere); a host may assign its own */
        {"VirtualSystemIdentifier", "string", spec->uuid},
    };
    struct pv_wsman_param p = {.name = "SystemSettings"};
    struct pv_wsman_epr vm;
    struct pv_soap_resp *r = NULL;
    char *embedded = NULL;
    xmlNodePtr out;
    long rv;
    int rc;

    guid[0] = '\0';
    if ((rc = pv_wsman_embed("Msvm_VirtualSystemSettingData", props,
                             spec->uuid && hv_guid_ok(spec->uuid) ? 4 : 3, &embedded, err)))
        return rc;
    p.text = embedded;
    rc = pv_wsman_invoke(c->ws, svc->uri, "DefineSystem", svc->sel, svc->nsel, &p, 1, &r, &out, &rv, err);
    free(embedded);
    if (rc)
        goto out;
    /* the new VM's reference comes with the answer, before the job ends */
    if (pv_wsman_prop(out, "ResultingSystem") &&
        pv_wsman_epr_parse(pv_wsman_prop(out, "ResultingSystem"), &vm, NULL) == 0 &&
        pv_wsman_epr_selector(&vm, "Name") && hv_guid_ok(pv_wsman_epr_selector(&vm, "Name")))
        snprintf(guid, HV_GUID_LEN + 1, "%s", pv_wsman_epr_selector(&vm, "Name"));
    rc = hv_finish(c, out, rv, 1, "create (DefineSystem)", s, 5, 50, err);
    if (rc && guid[0]) {
        /* a failed DefineSystem job normally leaves no VM; roll back only one that exists */
        struct hv_vm v;
        if (hv_vm_get(c, guid, &v, NULL) != 0)
            guid[0] = '\0';
    }
    if (!rc && !guid[0])
        rc = pv_fail(err, bad_response,
                          "DefineSystem succeeded without naming the new VM (ResultingSystem)");
out:
    pv_soap_resp_free(r);
    return rc;
}

/* ModifyResourceSettings on the VM's processor (vcpus > 0) and memory
 * (memory_mb > 0) settings; 0 leaves that one alone. */
static int modify_resources(struct pv_conn *c, const struct hv_service *svc, const char *guid,
                            int vcpus, int64_t memory_mb, const char *what,
                            const struct pv_sink *s, int p0, int p1, struct pv_error *err)
{
    struct pv_wsman_items rasd = {0};
    struct pv_wsman_param p[2];
    char *emb[2] = {NULL, NULL}, cpus[24], mem[24], iid[2][300] = {"", ""};
    struct pv_soap_resp *r = NULL;
    size_t np = 0;
    xmlNodePtr out;
    long rv;
    int rc;

    if ((rc = hv_vm_settings(c, guid, "CIM_ResourceAllocationSettingData", &rasd, err)))
        return rc;
    for (size_t i = 0; i < rasd.n; i++) {
        int type = (int)pv_wsman_prop_int(rasd.item[i], "ResourceType", 0);
        if (type == 3 && !iid[0][0])
            pv_wsman_prop_text(rasd.item[i], "InstanceID", iid[0], sizeof iid[0]);
        else if (type == 4 && !iid[1][0])
            pv_wsman_prop_text(rasd.item[i], "InstanceID", iid[1], sizeof iid[1]);
    }
    pv_wsman_items_free(&rasd);
    if ((vcpus > 0 && !iid[0][0]) || (memory_mb > 0 && !iid[1][0]))
        return pv_fail(err, bad_response,
                            "%s: the VM has no processor or memory settings to change", what);
    snprintf(cpus, sizeof cpus, "%d", vcpus);
    snprintf(mem, sizeof mem, "%lld", (long long)memory_mb);
    if (vcpus > 0) {
        struct pv_cim_prop pp[] = {{"InstanceID", "string", iid[0]}, {"VirtualQuantity", "uint64", cpus}};
        if ((rc = pv_wsman_embed("Msvm_ProcessorSettingData", pp, 2, &emb[0], err)))
            goto out;
        p[np++] = (struct pv_wsman_param){.name = "ResourceSettings", .text = emb[0]};
    }
    if (memory_mb > 0) {
        struct pv_cim_prop mp[] = {{"InstanceID", "string", iid[1]}, {"VirtualQuantity", "uint64", mem}};
        if ((rc = pv_wsman_embed("Msvm_MemorySettingData", mp, 2, &emb[1], err)))
            goto out;
        p[np++] = (struct pv_wsman_param){.name = "ResourceSettings", .text = emb[1]};
    }
    if (np == 0)
        goto out;
    rc = pv_wsman_invoke(c->ws, svc->uri, "ModifyResourceSettings", svc->sel, svc->nsel, p, np, &r,
                         &out, &rv, err);
    if (!rc)
        rc = hv_finish(c, out, rv, 1, what, s, p0, p1, err);
out:
    pv_soap_resp_free(r);
    free(emb[0]);
    free(emb[1]);
    return rc;
}

int hv_reconfigure(struct pv_conn *c, const char *guid, const struct pv_vm_spec *spec,
                   const struct pv_sink *s, struct pv_error *err)
{
    struct hv_service svc;
    struct hv_vm v;
    int64_t mem = spec->memory_mb > 0 ? spec->memory_mb + (spec->memory_mb & 1) : 0;
    int vcpus = spec->vcpus > 0 ? spec->vcpus : 0;
    int rc;

    if (spec->vcpus < 0 || spec->memory_mb < 0 || (spec->memory_mb > 0 && spec->memory_mb < 32))
        return pv_fail(err, bad_size, "vcpus must be >= 1 and memory_mb >= 32");
    if ((rc = hv_host_identity(c, err)) || (rc = hv_vm_get(c, guid, &v, err)))
        return rc;
    if (vcpus == v.vcpus)
        vcpus = 0;
    if (mem == v.memory_mb)
        mem = 0;
    if (!vcpus && !mem) {
        if (s && s->progress)
            s->progress(s->ctx, 100, "nothing to change");
        return 0;
    }
    /* Hyper-V changes the processor count of a VM that is off only */
    if (vcpus && hv_power_state(v.enabled_state) != PV_POWER_STOPPED)
        return pv_fail(err, vm_running,
                            "VM '%s' is %s: Hyper-V changes the vCPU count only while it is off", v.name,
                            state_word(hv_power_state(v.enabled_state)));
    if ((rc = hv_service(c, "Msvm_VirtualSystemManagementService", &svc, err)))
        return rc;
    rc = modify_resources(c, &svc, v.guid, vcpus, mem, "reconfigure (ModifyResourceSettings)", s, 0, 100,
                          err);
    if (rc == PV_ECONFLICT && err && pv_error_is(err, PV_CODE_invalid_state))
        return pv_fail(err, vm_running,
                            "VM '%s' cannot be resized in its current state (%s); power it off first",
                            v.name, state_word(hv_power_state(v.enabled_state)));
    return rc;
}

int hv_create(struct pv_conn *c, const char *host, const struct pv_vm_spec *spec,
              const struct pv_sink *s, char **native_id, struct pv_error *err)
{
    struct hv_service svc;
    struct hv_vm *vms = NULL;
    char guid[HV_GUID_LEN + 1] = "";
    struct hv_plan *plan = NULL;
    size_t n = 0;
    int64_t mem;
    int rc;

    *native_id = NULL;
    if (!spec->name || !*spec->name || strlen(spec->name) > 100)
        return pv_fail(err, invalid_name, "a Hyper-V VM name is 1 to 100 characters");
    if (spec->vcpus < 1)
        return pv_fail(err, bad_vcpus, "vcpus must be at least 1");
    if (spec->memory_mb < 32)
        return pv_fail(err, bad_memory, "Hyper-V needs at least 32 MB of memory");
    mem = spec->memory_mb + (spec->memory_mb & 1); /* Hyper-V wants a multiple of 2 MB */
    if ((rc = hv_host_identity(c, err)))
        return rc;
    if (host && *host && strcasecmp(host, c->host_name) != 0)
        return pv_fail(err, host_not_found,
                            "this Hyper-V connection is host %s, not %s", c->host_name, host);
    /* Hyper-V allows two VMs of one name; Polyvisor does not */
    if ((rc = hv_vm_list(c, &vms, &n, err)))
        return rc;
    for (size_t i = 0; i < n; i++)
        if (strcmp(vms[i].name, spec->name) == 0) {
            hv_vms_free(vms, n);
            return pv_fail(err, name_in_use,
                                "Hyper-V host %s already has a VM named '%s'", c->host_name, spec->name);
        }
    hv_vms_free(vms, n);
    /* disks and NICs are checked (volumes, switches) before anything is made */
    if ((rc = hv_plan_new(c, spec, &plan, err)))
        return rc;
    if ((rc = hv_service(c, "Msvm_VirtualSystemManagementService", &svc, err)))
        goto out;
    rc = define_system(c, &svc, spec, s, guid, err);
    if (!rc)
        rc = modify_resources(c, &svc, guid, spec->vcpus, mem,
                              "create (ModifyResourceSettings: vCPUs, memory)", s, 50, 55, err);
    if (!rc)
        rc = hv_plan_apply(c, &svc, guid, plan, s, err);
    if (rc && guid[0]) {
        /* roll back: a half-made VM is worse than none; its VHDX files go
         * after it (an attached file cannot be deleted) */
        struct pv_error e2 = {0};
        if (destroy(c, guid, NULL, 0, 0, &e2) != 0 && err) {
            size_t l = strlen(err->message);
            snprintf(err->message + l, sizeof err->message - l,
                     "; removing the half-made VM %s failed too: %s", guid, e2.message);
        } else {
            hv_refresh(c, guid, s, NULL); /* the watch may have seen it: say it is gone */
        }
    }
    if (rc) {
        hv_plan_undo(c, plan, err);
        goto out;
    }
    *native_id = strdup(guid);
    if (!*native_id) {
        rc = pv_fail(err, out_of_memory, "out of memory");
        goto out;
    }
    if (s && s->progress)
        s->progress(s->ctx, 100, "created");
    hv_refresh(c, guid, s, NULL);
out:
    hv_plan_free(plan);
    return rc;
}

/* ---- migration ------------------------------------------------------------------ */

int hv_migrate_to(struct pv_conn *c, const char *guid, const char *dest, const char *type,
                  const char *new_resource, const struct pv_sink *s, int p0, int p1, struct pv_error *err)
{
    struct pv_cim_prop mp[] = {{"MigrationType", "uint16", type}};
    struct pv_wsman_selector vmsel[2] = {{"CreationClassName", "Msvm_ComputerSystem"}, {"Name", guid}};
    struct pv_wsman_param p[4] = {
        {.name = "ComputerSystem", .kind = PV_WSMAN_P_EPR, .resource_uri = PV_WMI_V2 "Msvm_ComputerSystem",
         .sel = vmsel, .nsel = 2},
        {.name = "DestinationHost", .text = dest},
        {.name = "MigrationSettingData"},
        {.name = "NewResourceSettingData", .text = new_resource},
    };
    struct hv_service svc;
    struct pv_soap_resp *r = NULL;
    char *emb = NULL;
    xmlNodePtr out;
    long rv;
    int rc;

    if ((rc = hv_service(c, "Msvm_VirtualSystemMigrationService", &svc, err)))
        return rc;
    if ((rc = pv_wsman_embed("Msvm_VirtualSystemMigrationSettingData", mp, 1, &emb, err)))
        return rc;
    p[2].text = emb;
    rc = pv_wsman_invoke(c->ws, svc.uri, "MigrateVirtualSystemToHost", svc.sel, svc.nsel, p, new_resource ? 4 : 3, &r,
                         &out, &rv, err);
    free(emb);
    if (!rc && rv == 32775)
        rc = pv_fail(err, vm_busy,
                          "the VM cannot be migrated now: it is changing state (return value 32775)");
    else if (!rc)
        rc = hv_finish(c, out, rv, 0, new_resource ? "storage move" : "migrate", s, p0, p1, err);
    pv_soap_resp_free(r);
    if (rc == PV_EPEER && err && pv_error_is(err, PV_CODE_job_failed))
        rc = pv_error_recode(err, PV_CODE_migration_failed);
    return rc;
}

int hv_migrate(struct pv_conn *from, const char *guid, struct pv_conn *to, const char *host,
               const struct pv_migrate_opts *opts, const struct pv_sink *s, struct pv_error *err)
{
    struct hv_vm v;
    enum pv_power_state ps;
    int rc;

    if ((rc = hv_host_identity(from, err)) || (rc = hv_host_identity(to, err)))
        return rc;
    if (host && *host && strcasecmp(host, to->host_name) != 0)
        return pv_fail(err, host_not_found,
                            "the destination connection is host %s, not %s", to->host_name, host);
    if (strcasecmp(from->host_name, to->host_name) == 0)
        return pv_fail(err, same_host, "the VM is already on %s", to->host_name);
    if ((rc = hv_vm_get(from, guid, &v, err)))
        return rc;
    ps = hv_power_state(v.enabled_state);
    if (v.enabled_state == 4 || v.enabled_state == 10)
        return pv_fail(err, vm_busy, "VM '%s' is changing state; try again", v.name);
    if (!opts || opts->mode == PV_MIGRATE_LIVE || ps != PV_POWER_RUNNING) {
        /* live; a VM that is not running simply moves */
        return hv_migrate_to(from, v.guid, to->host_fqdn[0] ? to->host_fqdn : to->host_name, HV_MIGRATE_SYSTEM,
                             NULL, s, 0, 100, err);
    }
    /* quick: save, move the saved VM, restore it there */
    if ((rc = request_state(from, v.guid, RSC_SAVE, "quick migration: save", s, 0, 30, NULL, err)))
        return rc;
    rc = hv_migrate_to(from, v.guid, to->host_fqdn[0] ? to->host_fqdn : to->host_name, HV_MIGRATE_SYSTEM, NULL,
                       s, 30, 80, err);
    if (rc) {
        struct pv_error e2 = {0};
        if (request_state(from, v.guid, RSC_START, "restore", NULL, 0, 0, NULL, &e2) != 0 && err) {
            size_t l = strlen(err->message);
            snprintf(err->message + l, sizeof err->message - l,
                     "; restoring the VM on the source failed too: %s", e2.message);
        }
        return rc;
    }
    return request_state(to, v.guid, RSC_START, "quick migration: restore", s, 80, 100, NULL, err);
}
