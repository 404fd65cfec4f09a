/* jobs_vm.c -- job kinds for VMs: power actions, delete, create, migrate.
 *
 * Each step looks the VM up again (it may have moved or gone since the job
 * was queued), borrows an adapter handle on the VM's connection, checks the
 * adapter's capability bit (answering unsupported_by_backend rather than
 * calling a NULL pointer), calls it, and refreshes the VM so the inventory
 * shows the outcome at once.  Reconcile after a restart asks the adapter for
 * the VM's state and compares it with what the action was for.
 *
 * Choosing a host when the request names none, and checking the one it
 * names, is the placement engine's (placement/place.c); its decision is kept
 * in the job's result as `placement`, also when it refused.
 */
#include <string.h>
#include <stdlib.h>
#include "db/db.h"
#include "server/inventory/conns.h"
#include "server/inventory/devices.h"
#include "server/core/events.h"
#include "server/sched/clock.h"
#include "server/jobs/jobs.h"
#include "server/core/log.h"
#include "server/jobs/kinds/kinds.h"
#include "server/core/util.h"
#include "server/inventory/snapshot.h"
#include "server/placement/place.h"
#include "server/inventory/plugins.h"

struct action_info {
    const char *kind;
    enum pv_vm_action act;
    uint64_t cap;
    const char *goal;   /* power state when done; NULL: gone (delete) */
};

static const struct action_info actions[] = {
    {"vm.start", PV_ACT_START, PV_CAP_POWER, "running"},
    {"vm.shutdown", PV_ACT_SHUTDOWN, PV_CAP_SHUTDOWN, "stopped"},
    {"vm.poweroff", PV_ACT_POWEROFF, PV_CAP_POWER, "stopped"},
    {"vm.reboot", PV_ACT_REBOOT, PV_CAP_POWER, "running"},
    {"vm.pause", PV_ACT_PAUSE, PV_CAP_PAUSE, "paused"},
    {"vm.resume", PV_ACT_RESUME, PV_CAP_PAUSE, "running"},
    {"vm.save", PV_ACT_SAVE, PV_CAP_SAVE, "saved"},
    {"vm.delete", PV_ACT_DELETE, PV_CAP_DELETE, NULL},
};

static const struct action_info *action_of(const char *kind)
{
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i].kind, kind) == 0)
            return &actions[i];
    return NULL;
}

int pv_vm_call_open(struct pv_job_run *run, struct pv_vm_call *c, struct pv_error *err)
{
    int rc = pv_db_vm_ref(pv_job_target(run), &c->vm, err);

    if (!rc)
        rc = pv_conns_acquire(c->vm.connection_id, &c->h, err);
    if (!rc)
        pv_conns_sink(&c->sink, &c->ctx, &c->h, run);
    return rc;
}

void pv_vm_call_close(struct pv_vm_call *c, struct pv_job_run *run, int rc)
{
    if (rc != PV_EUNREACHABLE)
        pv_conns_settle(&c->h, rc ? NULL : &c->ctx, c->vm.native_id, run);
    pv_conns_release(&c->h, rc == PV_EUNREACHABLE);
}

static int action_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    const struct action_info *ai = action_of(pv_job_kind_name(run));
    struct pv_vm_call c;
    int rc;

    (void)idx;
    if (!ai)
        return pv_fail(err, unknown_job_kind, "no such VM action");
    if ((rc = pv_vm_call_open(run, &c, err)))
        return rc;
    rc = pv_conns_need(&c.h, ai->cap, (void *)c.h.a->vm_action, err);
    if (!rc) {
        enum pv_vm_action act = ai->act;
        if (act == PV_ACT_DELETE && json_is_true(json_object_get(pv_job_params(run), "delete_disks")))
            act = PV_ACT_DELETE_WITH_DISKS;
        rc = c.h.a->vm_action(c.h.conn, c.vm.native_id, act, &c.sink, err);
    }
    if (!rc && ai->act == PV_ACT_DELETE) { /* gone: nothing to read back */
        char gone[64];
        pv_db_vm_gone(c.vm.connection_id, c.vm.native_id, gone);
        pv_conns_release(&c.h, 0);
    } else {
        pv_vm_call_close(&c, run, rc);
    }
    if (!rc)
        json_object_set_new(pv_job_result(run), "vm_id", json_string(c.vm.id));
    return rc;
}

static int action_reconcile(struct pv_job_run *run, struct pv_error *err)
{
    const struct action_info *ai = action_of(pv_job_kind_name(run));
    struct pv_db_vm_ref vm;
    struct pv_handle h;
    int rc;

    if (!ai)
        return pv_fail(err, unknown_job_kind, "no such VM action");
    rc = pv_db_vm_ref(pv_job_target(run), &vm, NULL);
    if (rc) /* gone from the inventory */
        return ai->goal ? pv_fail(err, vm_not_found,
                                       "the VM disappeared while polyvisord was down")
                        : PV_RECONCILE_DONE;
    rc = pv_conns_acquire(vm.connection_id, &h, err);
    if (rc)
        return rc;
    pv_conns_refresh(&h, vm.native_id, run);
    pv_conns_release(&h, 0);
    if (pv_db_vm_ref(pv_job_target(run), &vm, NULL) != 0)
        return ai->goal ? pv_fail(err, vm_not_found,
                                       "the VM disappeared while polyvisord was down")
                        : PV_RECONCILE_DONE;
    if (ai->goal && strcmp(vm.power_state, ai->goal) == 0 && ai->act != PV_ACT_REBOOT)
        return PV_RECONCILE_DONE;
    return PV_RECONCILE_RESUME;
}

#define ACTION_KIND(sym, name, step)                                                   \
    static const char *const sym##_steps[] = {step};                                   \
    const struct pv_job_kind sym = {name, sym##_steps, 1, action_step, action_reconcile};
ACTION_KIND(pv_job_vm_start, "vm.start", "start")
ACTION_KIND(pv_job_vm_shutdown, "vm.shutdown", "shut down")
ACTION_KIND(pv_job_vm_poweroff, "vm.poweroff", "power off")
ACTION_KIND(pv_job_vm_reboot, "vm.reboot", "reboot")
ACTION_KIND(pv_job_vm_pause, "vm.pause", "pause")
ACTION_KIND(pv_job_vm_resume, "vm.resume", "resume")
ACTION_KIND(pv_job_vm_save, "vm.save", "save")
ACTION_KIND(pv_job_vm_delete, "vm.delete", "delete")

/* ---- create ------------------------------------------------------------- */

/* Keep a placement decision (also a refusal's) and the chosen host in the
 * job's result. */
static int keep_placement(struct pv_job_run *run, int rc, json_t *decision, const char *chosen)
{
    if (decision)
        json_object_set_new(pv_job_result(run), "placement", decision);
    if (!rc)
        json_object_set_new(pv_job_result(run), "host_id", json_string(chosen));
    return rc;
}

/* A create or clone about to make VM `name` on the chosen host: remember a
 * VM of that name the host already has, so that a resumed job never adopts
 * it as its own (the endpoint refuses the name instead: name_in_use). */
static int note_name_owner(struct pv_job_run *run, int rc)
{
    json_t *res = pv_job_result(run);
    struct pv_db_vm_ref vm;

    if (!rc && pv_db_vm_ref_by_name(json_string_value(json_object_get(res, "host_id")),
                                    json_string_value(json_object_get(pv_job_params(run), "name")),
                                    &vm) == 0)
        json_object_set_new(res, "name_held_by", json_string(vm.native_id));
    return rc;
}

static int create_place(struct pv_job_run *run, struct pv_error *err)
{
    json_t *p = pv_job_params(run), *decision = NULL;
    const char *host_id = json_string_value(json_object_get(p, "host_id"));
    const struct pv_pl_inv *inv = NULL;
    char chosen[64] = "";
    int rc = pv_snapshot_get(&inv, err);

    if (!rc)
        rc = pv_place_new(inv, p, host_id, chosen, &decision, err);
    pv_snapshot_put(inv);
    return note_name_owner(run, keep_placement(run, rc, decision, chosen));
}

/* A create or clone that was interrupted in its "create" ("clone") step
 * (the daemon killed) may have been carried out by the endpoint all the
 * same: vCenter's tasks, Hyper-V's jobs and the agent's define go on
 * without us.  Sync the connection and, when the chosen host now has a VM
 * of the asked-for name that was not there when the host was chosen, take
 * it as this job's VM (configure then applies ha, tags and sets).  *vm is
 * the VM adopted.  0 when adopted. */
static int adopt(struct pv_job_run *run, const struct pv_db_host_ref *host, const char *name,
                 struct pv_db_vm_ref *vm)
{
    json_t *res = pv_job_result(run);
    const char *held = json_string_value(json_object_get(res, "name_held_by"));
    struct pv_error e = {0};

    if (pv_conns_sync(host->connection_id, NULL, &e) != 0 ||
        pv_db_vm_ref_by_name(host->id, name, vm) != 0 || (held && strcmp(held, vm->native_id) == 0))
        return -1;
    json_object_set_new(res, "native_id", json_string(vm->native_id));
    json_object_set_new(res, "connection_id", json_string(host->connection_id));
    json_object_set_new(res, "adopted", json_true());
    pv_log(PV_LOG_INFO, "jobs", "event=adopted job=%s kind=%s vm=%s native_id=%s", pv_job_id(run),
           pv_job_kind_name(run), vm->id, vm->native_id);
    return 0;
}

static int create_vm(struct pv_job_run *run, struct pv_error *err)
{
    json_t *p = pv_job_params(run), *res = pv_job_result(run);
    struct pv_db_host_ref host;
    struct pv_handle h;
    struct pv_sink sink;
    struct pv_sink_ctx ctx;
    json_t *dl = json_deep_copy(json_object_get(p, "disks")), *nl = json_deep_copy(json_object_get(p, "nics"));
    char *disks = NULL, *nics = NULL;
    struct pv_vm_spec spec = {
        .name = json_string_value(json_object_get(p, "name")),
        .vcpus = (int)json_integer_value(json_object_get(p, "vcpus")),
        .memory_mb = json_integer_value(json_object_get(p, "memory_mb")),
        .paravirtual = json_is_false(json_object_get(p, "paravirtual")) ? 0 : 1,
    };
    struct pv_db_vm_ref made;
    char *native = NULL;
    int rc;

    rc = pv_db_host_ref(json_string_value(json_object_get(res, "host_id")), &host, err);
    if (!rc) /* pool_id and network_id as the names the host knows them by */
        rc = pv_devices_for_host(&host, dl, nl, err);
    if (rc)
        goto out;
    spec.disks_json = disks = json_dumps(dl, JSON_COMPACT | JSON_ENCODE_ANY);
    spec.nics_json = nics = json_dumps(nl, JSON_COMPACT | JSON_ENCODE_ANY);
    if (json_is_true(json_object_get(res, "resumed")) && adopt(run, &host, spec.name, &made) == 0)
        goto out; /* the endpoint had made it before the daemon went down */
    rc = pv_conns_acquire(host.connection_id, &h, err);
    if (rc)
        goto out;
    rc = pv_conns_need(&h, PV_CAP_CREATE, (void *)h.a->vm_create, err);
    if (!rc) {
        pv_conns_sink(&sink, &ctx, &h, run);
        rc = h.a->vm_create(h.conn, host.native_id, &spec, &sink, &native, err);
    }
    if (!rc) {
        pv_conns_settle(&h, &ctx, native, run);
        json_object_set_new(res, "native_id", json_string(native));
        json_object_set_new(res, "connection_id", json_string(host.connection_id));
    }
    pv_conns_release(&h, rc == PV_EUNREACHABLE);
out:
    free(native);
    free(disks);
    free(nics);
    json_decref(dl);
    json_decref(nl);
    return rc;
}

static int create_configure(struct pv_job_run *run, struct pv_error *err)
{
    json_t *p = pv_job_params(run), *res = pv_job_result(run);
    struct pv_db_vm_ref vm;
    char *tags = pv_json_text_of(p, "tags"), *anti = pv_json_text_of(p, "anti_affinity");
    char *aff = pv_json_text_of(p, "affinity");
    int rc;

    if (pv_db_vm_ref_native(json_string_value(json_object_get(res, "connection_id")),
                            json_string_value(json_object_get(res, "native_id")), &vm) != 0) {
        rc = pv_fail(err, vm_not_reported,
                          "the endpoint created the VM but does not report it");
        goto out;
    }
    rc = pv_db_vm_patch(vm.id, json_string_value(json_object_get(p, "ha")), tags, err);
    if (!rc)
        rc = pv_db_vm_set_sets(vm.id, anti, aff, err);
    if (!rc) {
        json_object_set_new(res, "vm_id", json_string(vm.id));
        pv_event("vm", vm.id, "audit", pv_job_actor(run), "vm %s created", vm.name);
    }
out:
    free(tags);
    free(anti);
    free(aff);
    return rc;
}

static int create_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    switch (idx) {
    case 0: return create_place(run, err);
    case 1: return create_vm(run, err);
    default: return create_configure(run, err);
    }
}

static const char *const create_steps[] = {"place", "create", "configure"};
/* create_vm stores native_id in the result only after the VM exists, so
 * resuming never creates a second one; an interrupted create whose id was
 * not stored first looks for a VM the endpoint made meanwhile (adopt), and
 * creates only when there is none. */
const struct pv_job_kind pv_job_vm_create = {"vm.create", create_steps, 3, create_step,
                                             pv_job_resume_marked};

/* ---- migrate ------------------------------------------------------------ */

/* Live, the VM's disks come along: placement checks that the destination
 * reaches their pools or has a pool with room for full copies (a migration
 * without shared storage), and the result keeps that pool (pool_id). */
static int migrate_choose(struct pv_job_run *run, struct pv_error *err)
{
    json_t *p = pv_job_params(run), *decision = NULL, *disks = NULL;
    const char *mode = json_string_value(json_object_get(p, "mode"));
    struct pv_db_vm_ref vm;
    const struct pv_pl_inv *inv = NULL;
    char chosen[64] = "", pool[64] = "", *dj = NULL, *nj = NULL;
    int rc = pv_db_vm_ref(pv_job_target(run), &vm, err);

    if (rc)
        return rc;
    if (!(mode && strcmp(mode, "quick") == 0) && pv_db_vm_devices(vm.id, &dj, &nj) == 0 && dj)
        disks = json_loads(dj, 0, NULL);
    free(dj);
    free(nj);
    rc = pv_snapshot_get(&inv, err);
    if (!rc && disks)
        rc = pv_place_move_live(inv, vm.id, json_string_value(json_object_get(p, "host_id")), disks,
                                json_string_value(json_object_get(p, "pool_id")), chosen, pool,
                                &decision, err);
    else if (!rc)
        rc = pv_place_move(inv, vm.id, json_string_value(json_object_get(p, "host_id")), chosen,
                           &decision, err);
    pv_snapshot_put(inv);
    json_decref(disks);
    if (!rc && pool[0])
        json_object_set_new(pv_job_result(run), "pool_id", json_string(pool));
    return keep_placement(run, rc, decision, chosen);
}

static int migrate_move(struct pv_job_run *run, struct pv_error *err)
{
    json_t *p = pv_job_params(run);
    const char *mode_s = json_string_value(json_object_get(p, "mode"));
    enum pv_migrate_mode mode = mode_s && strcmp(mode_s, "quick") == 0 ? PV_MIGRATE_QUICK
                                                                        : PV_MIGRATE_LIVE;
    const char *pool_id = json_string_value(json_object_get(pv_job_result(run), "pool_id"));
    struct pv_db_vm_ref vm;
    struct pv_db_host_ref dest;
    struct pv_db_place_ref pool = {0};
    struct pv_handle from, to;
    struct pv_sink sink;
    struct pv_sink_ctx ctx;
    int rc, same;

    rc = pv_db_vm_ref(pv_job_target(run), &vm, err);
    if (!rc && pool_id) /* the destination pool, as the destination host names it */
        rc = pv_db_pool_ref(pool_id, &pool, err);
    if (!rc)
        rc = pv_db_host_ref(json_string_value(json_object_get(pv_job_result(run), "host_id")),
                            &dest, err);
    if (!rc && json_is_true(json_object_get(pv_job_result(run), "resumed"))) {
        /* where is the VM now?  The endpoint may have finished the move */
        struct pv_error e = {0};
        pv_conns_sync(dest.connection_id, NULL, &e);
        if (strcmp(vm.connection_id, dest.connection_id) != 0)
            pv_conns_sync(vm.connection_id, NULL, &e);
        rc = pv_db_vm_ref(pv_job_target(run), &vm, err);
    }
    if (rc)
        return rc;
    json_object_set_new(pv_job_result(run), "vm_id", json_string(vm.id));
    if (strcmp(vm.host_id, dest.id) == 0) {
        pv_db_vm_finish_move(vm.id, vm.native_id, vm.connection_id, vm.connection_id);
        return 0; /* already there (a resumed job) */
    }
    rc = pv_conns_acquire(vm.connection_id, &from, err);
    if (rc)
        return rc;
    same = strcmp(vm.connection_id, dest.connection_id) == 0;
    if (!same && (rc = pv_conns_acquire(dest.connection_id, &to, err))) {
        pv_conns_release(&from, 0);
        return rc;
    }
    rc = pv_conns_need(&from, mode == PV_MIGRATE_LIVE ? PV_CAP_LIVE_MIGRATE : PV_CAP_QUICK_MIGRATE,
                  (void *)from.a->vm_migrate, err);
    if (!rc && !same && to.a != from.a)
        rc = pv_fail(err, vendor_mismatch,
                          "cannot move a %s VM to a %s host", from.vendor, to.vendor);
    if (!rc) {
        struct pv_migrate_opts opts = {
            .mode = mode,
            .max_downtime_ms = (int)json_integer_value(json_object_get(p, "max_downtime_ms")),
            .pool = pool_id ? pool.name : NULL,
        };
        /* Across connections the VM keeps its row, and so its id and
         * settings: marked as moving, neither side's reports drop it. */
        if (!same)
            pv_db_vm_set_moving(vm.id, dest.connection_id);
        pv_conns_sink(&sink, &ctx, same ? &from : &to, run);
        rc = from.a->vm_migrate(from.conn, vm.native_id, same ? from.conn : to.conn,
                                dest.native_id, &opts, &sink, err);
        if (!same)
            pv_db_vm_finish_move(vm.id, vm.native_id, rc ? vm.connection_id : dest.connection_id,
                                 rc ? dest.connection_id : vm.connection_id);
    }
    if (rc != PV_EUNREACHABLE)
        pv_conns_settle(!rc && !same ? &to : &from, rc ? NULL : &ctx, vm.native_id, run);
    if (!same)
        pv_conns_release(&to, 0);
    pv_conns_release(&from, rc == PV_EUNREACHABLE);
    if (!rc) {
        char now[32];
        pv_db_vm_mark_moved(vm.id, pv_clock_iso(pv_clock_now(), now)); /* rebalance cool-down */
        pv_event("vm", vm.id, "info", pv_job_actor(run), "vm %s moved to %s (%s)", vm.name,
                 dest.name, mode == PV_MIGRATE_LIVE ? "live" : "quick");
    }
    return rc;
}

static int migrate_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    return idx == 0 ? migrate_choose(run, err) : migrate_move(run, err);
}

static const char *const migrate_steps[] = {"choose destination", "migrate"};
/* A resumed migrate_move first syncs both ends: a migration the endpoint
 * finished while polyvisord was down is then seen done, not tried again. */
const struct pv_job_kind pv_job_vm_migrate = {"vm.migrate", migrate_steps, 2, migrate_step,
                                              pv_job_resume_marked};

/* ---- reconfigure -------------------------------------------------------- */

static int reconfigure_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    json_t *p = pv_job_params(run);
    struct pv_vm_spec spec = {
        .vcpus = (int)json_integer_value(json_object_get(p, "vcpus")),
        .memory_mb = json_integer_value(json_object_get(p, "memory_mb")),
    };
    struct pv_vm_call c;
    int rc;

    (void)idx;
    if ((rc = pv_vm_call_open(run, &c, err)))
        return rc;
    rc = pv_conns_need(&c.h, PV_CAP_RECONFIGURE, (void *)c.h.a->vm_reconfigure, err);
    if (!rc)
        rc = c.h.a->vm_reconfigure(c.h.conn, c.vm.native_id, &spec, &c.sink, err);
    pv_vm_call_close(&c, run, rc);
    if (!rc)
        pv_event("vm", c.vm.id, "info", pv_job_actor(run), "vm %s reconfigured", c.vm.name);
    return rc;
}

static int reconfigure_reconcile(struct pv_job_run *run, struct pv_error *err)
{
    (void)run;
    (void)err;
    return PV_RECONCILE_RESUME; /* setting the same sizes again is harmless */
}

static const char *const reconfigure_steps[] = {"reconfigure"};
const struct pv_job_kind pv_job_vm_reconfigure = {"vm.reconfigure", reconfigure_steps, 1,
                                                  reconfigure_step, reconfigure_reconcile};

/* ---- clone -------------------------------------------------------------- */

static int clone_place(struct pv_job_run *run, struct pv_error *err)
{
    json_t *p = pv_job_params(run), *decision = NULL;
    const struct pv_pl_inv *inv = NULL;
    char chosen[64] = "";
    int rc = pv_snapshot_get(&inv, err);

    if (!rc)
        rc = pv_place_clone(inv, pv_job_target(run),
                            json_string_value(json_object_get(p, "host_id")),
                            (int)json_integer_value(json_object_get(p, "vcpus")),
                            json_integer_value(json_object_get(p, "memory_mb")), chosen,
                            &decision, err);
    pv_snapshot_put(inv);
    return note_name_owner(run, keep_placement(run, rc, decision, chosen));
}

/* An adopted clone gets the sizes the request asked for, as the endpoint's
 * clone would have given them: through a reconfigure when they differ. */
static int clone_sizes(struct pv_job_run *run, const struct pv_db_vm_ref *vm,
                       const struct pv_vm_spec *asked, struct pv_error *err)
{
    struct pv_vm_spec spec = {
        .vcpus = asked->vcpus && asked->vcpus != vm->vcpus ? asked->vcpus : 0,
        .memory_mb = asked->memory_mb && asked->memory_mb != vm->memory_mb ? asked->memory_mb : 0,
    };
    struct pv_handle h;
    struct pv_sink sink;
    struct pv_sink_ctx ctx;
    int rc;

    if (!spec.vcpus && !spec.memory_mb)
        return 0;
    rc = pv_conns_acquire(vm->connection_id, &h, err);
    if (rc)
        return rc;
    rc = pv_conns_need(&h, PV_CAP_RECONFIGURE, (void *)h.a->vm_reconfigure, err);
    if (!rc) {
        pv_conns_sink(&sink, &ctx, &h, run);
        rc = h.a->vm_reconfigure(h.conn, vm->native_id, &spec, &sink, err);
    }
    if (rc != PV_EUNREACHABLE)
        pv_conns_settle(&h, rc ? NULL : &ctx, vm->native_id, run);
    pv_conns_release(&h, rc == PV_EUNREACHABLE);
    return rc;
}

static int clone_vm(struct pv_job_run *run, struct pv_error *err)
{
    json_t *p = pv_job_params(run), *res = pv_job_result(run);
    struct pv_vm_spec spec = {
        .name = json_string_value(json_object_get(p, "name")),
        .vcpus = (int)json_integer_value(json_object_get(p, "vcpus")),
        .memory_mb = json_integer_value(json_object_get(p, "memory_mb")),
    };
    struct pv_db_vm_ref vm, made;
    struct pv_db_host_ref host;
    struct pv_handle h;
    struct pv_sink sink;
    struct pv_sink_ctx ctx;
    char *native = NULL;
    int rc;

    if (json_is_string(json_object_get(res, "native_id")))
        return 0; /* cloned before a restart of polyvisord */
    rc = pv_db_vm_ref(pv_job_target(run), &vm, err);
    if (!rc)
        rc = pv_db_host_ref(json_string_value(json_object_get(res, "host_id")), &host, err);
    if (rc)
        return rc;
    /* the endpoint made the clone before the daemon went down */
    if (json_is_true(json_object_get(res, "resumed")) && adopt(run, &host, spec.name, &made) == 0)
        return clone_sizes(run, &made, &spec, err);
    rc = pv_conns_acquire(vm.connection_id, &h, err);
    if (rc)
        return rc;
    rc = pv_conns_need(&h, PV_CAP_CLONE, (void *)h.a->vm_clone, err);
    if (!rc) {
        pv_conns_sink(&sink, &ctx, &h, run);
        rc = h.a->vm_clone(h.conn, vm.native_id, host.native_id, &spec, &sink, &native, err);
    }
    if (!rc) {
        pv_conns_settle(&h, &ctx, native, run);
        json_object_set_new(res, "native_id", json_string(native));
        json_object_set_new(res, "connection_id", json_string(vm.connection_id));
    }
    pv_conns_release(&h, rc == PV_EUNREACHABLE);
    free(native);
    return rc;
}

static int clone_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    switch (idx) {
    case 0: return clone_place(run, err);
    case 1: return clone_vm(run, err);
    default: return create_configure(run, err);
    }
}

static const char *const clone_steps[] = {"place", "clone", "configure"};
const struct pv_job_kind pv_job_vm_clone = {"vm.clone", clone_steps, 3, clone_step,
                                            pv_job_resume_marked};
