/* restart.c -- HA restarts: the job kinds that bring a failed host's VMs
 * back on other hosts.
 *
 *   ha.restart (target: a failed host): "plan" asks the placement engine
 *       where the host's HA VMs that were running go (high priority first,
 *       using the capacity held back for HA) and writes every other VM's
 *       reason into its ha_status; "restart" runs one vm.ha_restart child
 *       job per VM, in that order: the VMs of one priority up to
 *       HA_PARALLEL at a time, each priority once the one above is done.
 *       Each child's id is in its move before it runs, so a restarted
 *       ha.restart finishes it rather than restart the VM a second time.
 *   vm.ha_restart (target: a VM, params.host_id): defines the VM anew on the
 *       destination from its definition kept in the inventory, with the same
 *       UUID (so its row, id, HA priority and tags stay), records the copy
 *       left on the failed host as fenced (fence.c), and starts it.  Killed
 *       during the define, it looks on the destination first when resumed
 *       and adopts the VM defined there meanwhile (defined_meanwhile).
 *
 * Polyvisor restarts VMs itself only for endpoints without an HA of their
 * own (the adapter says so with PV_CAP_HA_RESTART); for vCenter and Hyper-V
 * clusters it observes and reports (ha.c decides which).
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "server/core/events.h"
#include "server/core/log.h"
#include "server/core/util.h"
#include "server/ha/jobs_ha.h"
#include "server/inventory/conns.h"
#include "server/jobs/jobs.h"
#include "server/inventory/snapshot.h"
#include "server/placement/plan.h"
#include "server/sched/clock.h"

/* ---- ha.restart --------------------------------------------------------- */

static int restart_plan(struct pv_job_run *run, struct pv_error *err)
{
    struct pv_pl_inv *inv = NULL;
    json_t *plan = NULL, *u, *res = pv_job_result(run);
    size_t i;
    int h, rc = pv_snapshot_load(&inv, err);

    if (rc)
        return rc;
    h = pv_pl_find_host(inv, pv_job_target(run));
    rc = h < 0 ? pv_fail(err, host_not_found, "no host with id '%.64s'",
                              pv_job_target(run))
               : pv_plan_ha_restart(inv, h, &plan, err);
    pv_pl_inv_free(inv);
    if (rc)
        return rc;
    json_array_foreach(json_object_get(plan, "unplaced"), i, u) {
        char status[256], *why = json_dumps(json_object_get(u, "rejected_by"), JSON_COMPACT);
        snprintf(status, sizeof status, "not restarted: %s%s%s",
                 json_string_value(json_object_get(u, "reason")),
                 json_object_size(json_object_get(u, "rejected_by")) ? " " : "",
                 json_object_size(json_object_get(u, "rejected_by")) && why ? why : "");
        free(why);
        pv_db_vm_set_ha_status(json_string_value(json_object_get(u, "vm_id")), status);
        if (strstr(status, "HA is off") == NULL && strstr(status, "not running") == NULL)
            pv_event("vm", json_string_value(json_object_get(u, "vm_id")), "error", NULL,
                     "HA: vm %s %s", json_string_value(json_object_get(u, "vm_name")), status);
    }
    json_object_set_new(res, "moves", json_incref(json_object_get(plan, "moves")));
    json_object_set_new(res, "unplaced", json_incref(json_object_get(plan, "unplaced")));
    json_decref(plan);
    return 0;
}

#define HA_PARALLEL 4

/* One VM's restart, run on a thread of its own; the move's JSON stays with
 * the job's thread, which writes the outcome into it. */
struct one_restart {
    struct pv_job_run *run;
    char vm_id[64], host_id[64], child[64];
    struct pv_error err;
    int rc;
};

static void *restart_one(void *arg)
{
    struct one_restart *r = arg;

    if (!r->rc)
        r->rc = pv_job_child_run(r->run, r->child, &r->err);
    return NULL;
}

/* The child job of move m (r's VM): the one recorded before a restart of
 * polyvisord when it had not finished, else a new one, recorded in m
 * before it runs so that a restart finishes it instead of defining the VM
 * a second time. */
static void restart_child(struct one_restart *r, json_t *m)
{
    const char *state = json_string_value(json_object_get(m, "state"));
    const char *child = json_string_value(json_object_get(m, "job_id"));
    json_t *params;

    if (child && state && strcmp(state, "running") == 0) {
        snprintf(r->child, sizeof r->child, "%s", child);
        return;
    }
    params = json_pack("{s:s}", "host_id", r->host_id);
    r->rc = pv_job_child_new(r->run, "vm.ha_restart", "vm", r->vm_id, params, r->child, &r->err);
    json_decref(params);
    if (!r->rc) {
        json_object_set_new(m, "job_id", json_string(r->child));
        json_object_set_new(m, "state", json_string("running"));
    }
}

static int restart_all(struct pv_job_run *run, struct pv_error *err)
{
    json_t *moves = json_object_get(pv_job_result(run), "moves"), *m;
    size_t i = 0, n = json_array_size(moves);
    int failed = 0;

    while (i < n) {
        struct one_restart batch[HA_PARALLEL];
        pthread_t th[HA_PARALLEL];
        int started[HA_PARALLEL] = {0};
        size_t at[HA_PARALLEL];
        const char *prio = NULL;
        int k = 0;

        if (pv_job_cancelled(run))
            return pv_fail(err, cancelled, "cancelled after %d of %d VMs",
                                (int)i, (int)n);
        pv_job_progress(run, (int)(100 * i / n),
                        json_string_value(json_object_get(json_array_get(moves, i), "vm_name")));
        /* the next VMs of one priority, not restarted before a restart of polyvisord */
        for (; i < n && k < HA_PARALLEL; i++) {
            const char *state, *p;
            m = json_array_get(moves, i);
            state = json_string_value(json_object_get(m, "state"));
            p = json_string_value(json_object_get(m, "ha"));
            if (state && strcmp(state, "succeeded") == 0)
                continue;
            if (k && strcmp(p ? p : "", prio) != 0)
                break;
            prio = p ? p : "";
            memset(&batch[k], 0, sizeof batch[k]);
            batch[k].run = run;
            snprintf(batch[k].vm_id, sizeof batch[k].vm_id, "%s",
                     json_string_value(json_object_get(m, "vm_id")));
            snprintf(batch[k].host_id, sizeof batch[k].host_id, "%s",
                     json_string_value(json_object_get(m, "to_host_id")));
            at[k++] = i;
        }
        for (int j = 0; j < k; j++)
            restart_child(&batch[j], json_array_get(moves, at[j]));
        pv_job_save(run);
        for (int j = 0; j < k; j++)
            started[j] = k > 1 && pthread_create(&th[j], NULL, restart_one, &batch[j]) == 0;
        for (int j = 0; j < k; j++) {
            if (started[j])
                pthread_join(th[j], NULL);
            else
                restart_one(&batch[j]);
        }
        for (int j = 0; j < k; j++) {
            struct one_restart *r = &batch[j];
            m = json_array_get(moves, at[j]);
            if (r->child[0])
                json_object_set_new(m, "job_id", json_string(r->child));
            json_object_set_new(m, "state", json_string(r->rc ? "failed" : "succeeded"));
            if (r->rc) {
                char status[sizeof r->err.message + 32];
                snprintf(status, sizeof status, "not restarted: %s", r->err.message);
                pv_db_vm_set_ha_status(r->vm_id, status);
                json_object_set_new(m, "error", json_pack("{s:s,s:s}", "code", r->err.code,
                                                          "message", r->err.message));
                failed++;
            }
        }
    }
    if (failed)
        return pv_fail(err, ha_partly_failed, "%d of %d HA restarts failed",
                            failed, (int)n);
    return 0;
}

static int restart_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    return idx == 0 ? restart_plan(run, err) : restart_all(run, err);
}

static const char *const restart_steps[] = {"plan", "restart"};
const struct pv_job_kind pv_job_ha_restart = {"ha.restart", restart_steps, 2, restart_step,
                                              pv_job_resume};

/* ---- vm.ha_restart ------------------------------------------------------ */

static int looks_like_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++)
        if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/* The create spec of a VM, from what its host last reported of it: the same
 * disks (by path: the storage must be reachable from the new host) and the
 * same networks. */
static void spec_of(const json_t *vm, char **disks, char **nics)
{
    json_t *d = json_array(), *n = json_array(), *item;
    size_t i;

    json_array_foreach(json_object_get(vm, "disks"), i, item)
        if (json_is_string(json_object_get(item, "path")))
            json_array_append_new(d, json_pack("{s:O}", "path", json_object_get(item, "path")));
    json_array_foreach(json_object_get(vm, "nics"), i, item) {
        if (json_is_string(json_object_get(item, "network")))
            json_array_append_new(n, json_pack("{s:O}", "network", json_object_get(item, "network")));
        else if (json_is_string(json_object_get(item, "bridge")))
            json_array_append_new(n, json_pack("{s:O}", "bridge", json_object_get(item, "bridge")));
    }
    *disks = json_dumps(d, JSON_COMPACT);
    *nics = json_dumps(n, JSON_COMPACT);
    json_decref(d);
    json_decref(n);
}

/* Killed in the middle of a define, the destination may have defined the VM
 * all the same (the agent's define goes on without us).  Sync the
 * destination: its report of the VM's UUID takes the row over (it is
 * marked moving), and the VM then sits on the destination host: take that
 * define as this job's.  1 when it did. */
static int defined_meanwhile(struct pv_job_run *run, const struct pv_db_vm_ref *before,
                             const struct pv_db_host_ref *dest)
{
    json_t *res = pv_job_result(run);
    struct pv_db_vm_ref now;
    struct pv_error e = {0};

    if (!looks_like_uuid(before->native_id) || pv_conns_sync(dest->connection_id, NULL, &e) != 0 ||
        pv_db_vm_ref(before->id, &now, NULL) != 0 || strcmp(now.host_id, dest->id) != 0)
        return 0;
    pv_db_vm_finish_move(now.id, now.native_id, dest->connection_id, before->connection_id);
    json_object_set_new(res, "native_id", json_string(now.native_id));
    json_object_set_new(res, "connection_id", json_string(dest->connection_id));
    json_object_set_new(res, "adopted", json_true());
    pv_log(PV_LOG_INFO, "jobs", "event=adopted job=%s kind=%s vm=%s native_id=%s", pv_job_id(run),
           pv_job_kind_name(run), now.id, now.native_id);
    return 1;
}

static int define_step(struct pv_job_run *run, struct pv_error *err)
{
    json_t *vm = NULL, *res = pv_job_result(run);
    struct pv_db_vm_ref ref;
    struct pv_db_host_ref dest;
    struct pv_handle h;
    struct pv_sink sink;
    struct pv_sink_ctx ctx;
    char *disks = NULL, *nics = NULL, *native = NULL, now[32];
    int rc;

    if (json_is_string(json_object_get(res, "native_id")))
        return 0; /* defined before a restart of polyvisord */
    rc = pv_db_vm_ref(pv_job_target(run), &ref, err);
    if (!rc)
        rc = pv_db_host_ref(json_string_value(json_object_get(pv_job_params(run), "host_id")),
                            &dest, err);
    if (!rc && json_is_true(json_object_get(res, "resumed")) && defined_meanwhile(run, &ref, &dest))
        return 0;
    if (!rc)
        rc = pv_db_get(&pv_coll_vms, ref.id, &vm, err);
    if (rc)
        return rc;
    spec_of(vm, &disks, &nics);
    {
        struct pv_vm_spec spec = {
            .name = ref.name, .vcpus = ref.vcpus, .memory_mb = ref.memory_mb,
            .paravirtual = !json_is_false(json_object_get(vm, "paravirtual")),
            .disks_json = disks, .nics_json = nics,
            .uuid = looks_like_uuid(ref.native_id) ? ref.native_id : NULL,
        };
        rc = pv_conns_acquire(dest.connection_id, &h, err);
        if (!rc) {
            rc = pv_conns_need(&h, PV_CAP_CREATE, (void *)h.a->vm_create, err);
            if (!rc) {
                /* the copy on the failed host must never run again */
                pv_db_fence_add(ref.connection_id, ref.native_id, ref.id,
                                pv_clock_iso(pv_clock_now(), now));
                /* the destination's report of this UUID takes the row over */
                if (strcmp(ref.connection_id, dest.connection_id) != 0)
                    pv_db_vm_set_moving(ref.id, dest.connection_id);
                pv_conns_sink(&sink, &ctx, &h, run);
                rc = h.a->vm_create(h.conn, dest.native_id, &spec, &sink, &native, err);
            }
            if (!rc) {
                pv_conns_settle(&h, &ctx, native, run);
                pv_db_vm_finish_move(ref.id, native, dest.connection_id, ref.connection_id);
                json_object_set_new(res, "native_id", json_string(native));
                json_object_set_new(res, "connection_id", json_string(dest.connection_id));
            } else if (strcmp(ref.connection_id, dest.connection_id) != 0) {
                pv_db_vm_set_moving(ref.id, NULL);
                pv_db_fence_release(ref.connection_id, ref.native_id, 1);
            }
            pv_conns_release(&h, rc == PV_EUNREACHABLE);
        }
    }
    free(native);
    free(disks);
    free(nics);
    json_decref(vm);
    return rc;
}

static int start_step(struct pv_job_run *run, struct pv_error *err)
{
    json_t *res = pv_job_result(run);
    struct pv_db_vm_ref ref;
    struct pv_db_host_ref dest;
    struct pv_handle h;
    struct pv_sink sink;
    struct pv_sink_ctx ctx;
    char status[sizeof dest.name + 64], now[32];
    int rc;

    rc = pv_db_vm_ref(pv_job_target(run), &ref, err);
    if (!rc)
        rc = pv_db_host_ref(json_string_value(json_object_get(pv_job_params(run), "host_id")),
                            &dest, err);
    if (rc)
        return rc;
    if (strcmp(ref.power_state, "running") == 0)
        goto done;
    rc = pv_conns_acquire(json_string_value(json_object_get(res, "connection_id")), &h, err);
    if (rc)
        return rc;
    rc = pv_conns_need(&h, PV_CAP_POWER, (void *)h.a->vm_action, err);
    if (!rc) {
        pv_conns_sink(&sink, &ctx, &h, run);
        rc = h.a->vm_action(h.conn, json_string_value(json_object_get(res, "native_id")),
                            PV_ACT_START, &sink, err);
    }
    if (!rc)
        pv_conns_settle(&h, &ctx, json_string_value(json_object_get(res, "native_id")), run);
    pv_conns_release(&h, rc == PV_EUNREACHABLE);
    if (rc)
        return rc;
done:
    snprintf(status, sizeof status, "restarted on %s at %s", dest.name,
             pv_clock_iso(pv_clock_now(), now));
    pv_db_vm_set_ha_status(ref.id, status);
    pv_event("vm", ref.id, "warning", pv_job_actor(run), "HA: vm %s restarted on %s", ref.name,
             dest.name);
    return 0;
}

static int vm_restart_step(struct pv_job_run *run, int idx, struct pv_error *err)
{
    return idx == 0 ? define_step(run, err) : start_step(run, err);
}

static const char *const vm_restart_steps[] = {"define on the new host", "start"};
const struct pv_job_kind pv_job_vm_ha_restart = {"vm.ha_restart", vm_restart_steps, 2,
                                                 vm_restart_step, pv_job_resume_marked};
