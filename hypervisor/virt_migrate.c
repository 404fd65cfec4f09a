/* virt_migrate.c -- live migration, peer-to-peer through libvirt, driven
 * from this (the source) agent.  The protocol and its threads are explained
 * below; the domains themselves are virt.c's.  Without shared storage the
 * caller names the disks to copy (virt_migrate_disks.c pre-creates their
 * volumes on the destination): libvirt then mirrors them over NBD to the
 * destination's QEMU (VIR_MIGRATE_NON_SHARED_DISK, a full copy) before the
 * memory moves, and the NBD stream goes to the data URI's host.
 */
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "agent.h"
#include "virt.h"

/* ---- live migration ------------------------------------------------------
 * A migration runs on a thread of its own (virDomainMigrateToURI3 blocks
 * until it ends); a watchdog thread beside it samples the job's progress,
 * applies the maximum downtime once the job exists, and aborts a migration
 * whose remaining data has not shrunk for stall_s seconds.  Callers poll
 * ag_virt_migration() and may cancel (virDomainAbortJob). */

#define MAX_MIGRATIONS 16

struct migration {
    char uuid[VIR_UUID_STRING_BUFLEN];
    char dest_uri[512];
    char data_uri[256];
    int max_downtime_ms;
    int stall_s;
    const char *state;                     /* running, succeeded, failed, cancelled */
    struct pv_error err;
    unsigned long long processed, remaining, total;
    int cancel, done;
    int finished;                          /* set last by mig_main: the slot may be reused */
    json_t *copies;                        /* owned: [{dev, source_path, path}], or NULL */
    json_t *made;                          /* owned: source paths this agent made, deleted after */
    pthread_t thread, watchdog;
};

static pthread_mutex_t mig_lock = PTHREAD_MUTEX_INITIALIZER;
static struct migration *migrations[MAX_MIGRATIONS]; /* guarded by mig_lock */

static struct migration *mig_find_locked(const char *uuid)
{
    for (int i = 0; i < MAX_MIGRATIONS; i++)
        if (migrations[i] && strcmp(migrations[i]->uuid, uuid) == 0)
            return migrations[i];
    return NULL;
}

static void *mig_watchdog(void *arg)
{
    struct migration *m = arg;
    virDomainPtr d = virDomainLookupByUUIDString(ag_virt_conn(), m->uuid);
    time_t last_change = time(NULL);
    unsigned long long last_remaining = ~0ull;
    int downtime_set = 0;

    while (d) {
        virDomainJobInfo ji;
        int done, stalled = 0;
        struct timespec ts = {0, 200000000L};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&mig_lock);
        done = m->done;
        pthread_mutex_unlock(&mig_lock);
        if (done)
            break;
        if (virDomainGetJobInfo(d, &ji) < 0 || ji.type == VIR_DOMAIN_JOB_NONE)
            continue;
        if (!downtime_set && m->max_downtime_ms > 0)
            downtime_set = virDomainMigrateSetMaxDowntime(d, (unsigned long long)m->max_downtime_ms, 0) == 0;
        if (ji.dataRemaining < last_remaining) {
            last_remaining = ji.dataRemaining;
            last_change = time(NULL);
        } else if (time(NULL) - last_change >= m->stall_s) {
            stalled = 1;
        }
        pthread_mutex_lock(&mig_lock);
        m->processed = ji.dataProcessed;
        m->remaining = ji.dataRemaining;
        m->total = ji.dataTotal;
        if (stalled && !m->cancel) {
            m->cancel = 2; /* the watchdog's abort */
            pv_fail(&m->err, migration_stalled,
                         "no progress for %d s; migration aborted, the VM stays on the source",
                         m->stall_s);
        }
        pthread_mutex_unlock(&mig_lock);
        if (stalled)
            virDomainAbortJob(d);
    }
    if (d)
        virDomainFree(d);
    virResetLastError();
    return NULL;
}

/* The parameters of a migration without shared storage: the disks to
 * copy by target name and, where a destination path differs from the
 * source's, the destination's live and persistent definitions with the
 * new paths. */
static int copy_params(struct migration *m, virDomainPtr d, virTypedParameterPtr *params,
                       int *nparams, int *maxparams, unsigned *flags, struct pv_error *e)
{
    size_t i;
    json_t *c;
    int moved_path = 0;

    if (!json_array_size(m->copies))
        return 0;
    *flags |= VIR_MIGRATE_NON_SHARED_DISK;
    json_array_foreach(m->copies, i, c) {
        virTypedParamsAddString(params, nparams, maxparams, VIR_MIGRATE_PARAM_MIGRATE_DISKS,
                                json_string_value(json_object_get(c, "dev")));
        moved_path |= strcmp(json_string_value(json_object_get(c, "source_path")),
                             json_string_value(json_object_get(c, "path"))) != 0;
    }
    if (moved_path) {
        char *live = ag_virt_migration_xml(d, 0, m->copies);
        char *persist = ag_virt_migration_xml(d, VIR_DOMAIN_XML_INACTIVE, m->copies);
        if (live)
            virTypedParamsAddString(params, nparams, maxparams, VIR_MIGRATE_PARAM_DEST_XML, live);
        if (persist)
            virTypedParamsAddString(params, nparams, maxparams, VIR_MIGRATE_PARAM_PERSIST_XML, persist);
        free(live);
        free(persist);
        if (!live || !persist)
            return pv_fail(e, migration_failed, "cannot read the VM's definition to move its disks");
    }
    return 0;
}

static void *mig_main(void *arg)
{
    struct migration *m = arg;
    virDomainPtr d = virDomainLookupByUUIDString(ag_virt_conn(), m->uuid);
    virTypedParameterPtr params = NULL;
    int nparams = 0, maxparams = 0, rc = -1;
    struct pv_error e = {0};

    if (d) {
        unsigned flags = VIR_MIGRATE_LIVE | VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST |
                         VIR_MIGRATE_UNDEFINE_SOURCE;
        virTypedParamsAddString(&params, &nparams, &maxparams, VIR_MIGRATE_PARAM_URI, m->data_uri);
        rc = copy_params(m, d, &params, &nparams, &maxparams, &flags, &e);
        if (rc == 0)
            rc = virDomainMigrateToURI3(d, m->dest_uri, params, (unsigned)nparams, flags);
        if (rc < 0 && !e.code[0])
            ag_virt_error(&e, "migrate");
        virTypedParamsFree(params, nparams);
        virDomainFree(d);
        if (rc == 0 && m->made) /* the VM runs on the copies now: the old volumes go */
            ag_virt_delete_source_volumes(m->made);
    } else {
        pv_fail(&e, vm_not_found, "the VM left this host before migrating");
    }
    pthread_mutex_lock(&mig_lock);
    m->done = 1;
    if (rc == 0) {
        m->state = "succeeded";
        m->remaining = 0;
    } else if (m->cancel == 1) {
        m->state = "cancelled";
        pv_fail(&m->err, cancelled, "migration cancelled; the VM stays on the source");
    } else {
        m->state = "failed";
        if (m->cancel != 2) { /* the watchdog already said why */
            m->err = e;
            if (pv_error_is(&m->err, PV_CODE_libvirt_error) || pv_error_is(&m->err, PV_CODE_invalid_state))
                pv_error_recode(&m->err, PV_CODE_migration_failed);
        }
    }
    pthread_mutex_unlock(&mig_lock);
    pthread_join(m->watchdog, NULL);
    pthread_mutex_lock(&mig_lock);
    m->finished = 1; /* nothing touches m after this */
    pthread_mutex_unlock(&mig_lock);
    return NULL;
}

/* Check copies against the VM's local volumes; *made gets the source
 * paths this agent made for the VM (deleted once the VM left). */
static int check_copies(const char *uuid, const json_t *copies, json_t **made, struct pv_error *err)
{
    json_t *vols = NULL, *c, *v;
    size_t i, j;
    int rc;

    *made = NULL;
    if (!json_array_size(copies))
        return 0;
    rc = ag_virt_migration_volumes(uuid, &vols, err);
    if (rc)
        return rc;
    *made = json_array();
    json_array_foreach(copies, i, c) {
        const char *dev = json_string_value(json_object_get(c, "dev"));
        const char *path = json_string_value(json_object_get(c, "path"));
        int found = 0;
        json_array_foreach(vols, j, v)
            if (dev && strcmp(dev, json_string_value(json_object_get(v, "dev"))) == 0) {
                found = 1;
                json_object_set(c, "source_path", json_object_get(v, "path"));
                if (json_is_true(json_object_get(v, "made")))
                    json_array_append(*made, json_object_get(v, "path"));
            }
        if (!found || !path || !*path) {
            rc = pv_fail(err, invalid_spec,
                         "copy_disks[%zu]: {dev, path} of a disk on a local volume of this VM", i);
            break;
        }
    }
    json_decref(vols);
    if (rc) {
        json_decref(*made);
        *made = NULL;
    }
    return rc;
}

int ag_virt_migrate_start(const char *uuid, const char *dest_uri, const char *data_uri,
                          int max_downtime_ms, int stall_s, const json_t *copies_in,
                          struct pv_error *err)
{
    if (ag_virt_has_snapshots(uuid, "migrate live", err))
        return err->err;
    virDomainPtr d = ag_virt_lookup(uuid, err);
    struct migration *m;
    json_t *copies, *made = NULL;
    int slot = -1, active;

    if (!d)
        return PV_ENOTFOUND;
    active = strcmp(ag_virt_power_state(d), "running") == 0;
    virDomainFree(d);
    if (!active)
        return pv_fail(err, not_running,
                            "live migration needs a running VM; use quick migration");
    if (!dest_uri || !data_uri || strlen(dest_uri) >= sizeof m->dest_uri ||
        strlen(data_uri) >= sizeof m->data_uri)
        return pv_fail(err, invalid_spec, "dest_uri and data_uri are needed");
    if (copies_in && !json_is_array(copies_in))
        return pv_fail(err, invalid_spec, "copy_disks: a list of {dev, path}");
    copies = copies_in ? json_deep_copy(copies_in) : NULL;
    if (check_copies(uuid, copies, &made, err) != 0) {
        json_decref(copies);
        return PV_EINVAL;
    }
    pthread_mutex_lock(&mig_lock);
    m = mig_find_locked(uuid);
    if (m && !m->done) {
        pthread_mutex_unlock(&mig_lock);
        json_decref(copies);
        json_decref(made);
        return pv_fail(err, migration_running, "vm %s is already migrating", uuid);
    }
    for (int i = 0; i < MAX_MIGRATIONS && slot < 0; i++)
        if (!migrations[i] || migrations[i]->finished)
            slot = i;
    if (slot < 0) {
        pthread_mutex_unlock(&mig_lock);
        json_decref(copies);
        json_decref(made);
        return pv_fail(err, too_many_migrations, "this host runs %d migrations already",
                            MAX_MIGRATIONS);
    }
    if (migrations[slot]) { /* a finished one */
        json_decref(migrations[slot]->copies);
        json_decref(migrations[slot]->made);
        free(migrations[slot]);
    }
    m = calloc(1, sizeof *m);
    if (!m) {
        migrations[slot] = NULL;
        pthread_mutex_unlock(&mig_lock);
        json_decref(copies);
        json_decref(made);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    m->copies = copies;
    m->made = made;
    snprintf(m->uuid, sizeof m->uuid, "%s", uuid);
    snprintf(m->dest_uri, sizeof m->dest_uri, "%s", dest_uri);
    snprintf(m->data_uri, sizeof m->data_uri, "%s", data_uri);
    m->max_downtime_ms = max_downtime_ms;
    m->stall_s = stall_s > 0 ? stall_s : 30;
    m->state = "running";
    migrations[slot] = m;
    if (pthread_create(&m->watchdog, NULL, mig_watchdog, m) != 0 ||
        pthread_create(&m->thread, NULL, mig_main, m) != 0) {
        m->state = "failed";
        m->done = m->finished = 1; /* (a watchdog that did start sees done and ends) */
        pthread_mutex_unlock(&mig_lock);
        return pv_fail(err, thread_failed, "cannot start the migration");
    }
    pthread_detach(m->thread);
    pthread_mutex_unlock(&mig_lock);
    return 0;
}

int ag_virt_migration(const char *uuid, json_t **out, struct pv_error *err)
{
    struct migration *m;

    pthread_mutex_lock(&mig_lock);
    m = mig_find_locked(uuid);
    if (!m) {
        pthread_mutex_unlock(&mig_lock);
        return pv_fail(err, no_migration, "no migration of vm %.64s here", uuid);
    }
    *out = json_pack("{s:s,s:I,s:I,s:I}", "state", m->state, "data_processed",
                     (json_int_t)m->processed, "data_remaining", (json_int_t)m->remaining,
                     "data_total", (json_int_t)m->total);
    json_object_set_new(*out, "error", m->err.code[0] ? json_pack("{s:s,s:s}", "code", m->err.code,
                                                                  "message", m->err.message)
                                                      : json_null());
    pthread_mutex_unlock(&mig_lock);
    return 0;
}

int ag_virt_migrate_cancel(const char *uuid, struct pv_error *err)
{
    struct migration *m;
    virDomainPtr d;

    pthread_mutex_lock(&mig_lock);
    m = mig_find_locked(uuid);
    if (!m || m->done) {
        pthread_mutex_unlock(&mig_lock);
        return pv_fail(err, no_migration, "vm %.64s is not migrating", uuid);
    }
    m->cancel = 1;
    pthread_mutex_unlock(&mig_lock);
    d = virDomainLookupByUUIDString(ag_virt_conn(), uuid);
    if (d) {
        virDomainAbortJob(d);
        virDomainFree(d);
    }
    virResetLastError();
    return 0;
}
