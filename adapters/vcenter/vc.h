/* vc.h -- what the vcenter adapter's files share (private to adapters/vcenter/).
 *
 * vcenter_adapter.c: the session (RetrieveServiceContent, Login, one
 *                    re-login on NotAuthenticated), the request helpers and
 *                    the ABI table.
 * vc_inventory.c:    ContainerViews, RetrievePropertiesEx paging, the object
 *                    cache, mapping to pv_*_info, sync, watch, refresh.
 * vc_actions.c:      power actions, create, relocate, and Task polling.
 * vc_manage.c:       reconfigure, clone, host maintenance mode.
 * vc_devices.c:      a VM's disks and NICs: add, remove, grow, connect,
 *                    storage vMotion of one disk.
 *
 * One struct pv_conn is one vSphere session, used by one thread at a time
 * (the daemon gives the watch its own handle), so nothing here locks.
 */
#ifndef PV_VC_H
#define PV_VC_H

#include <jansson.h>
#include "adapters/adapter.h"
#include "adapters/common/soap.h"

#define VIM25 "urn:vim25"

enum vc_view_kind {
    VC_VIEW_FOLDER, VC_VIEW_DC, VC_VIEW_CR, VC_VIEW_DS, VC_VIEW_NET, VC_VIEW_DVPG, VC_VIEW_HOST, VC_VIEW_VM,
    VC_VIEW_N
};

struct pv_conn {
    struct pv_soap *soap;
    char url[512];
    char username[257];
    char *password;             /* owned; wiped on close; never logged */
    int timeout_ms;
    /* from RetrieveServiceContent */
    char root_folder[128];
    char property_collector[128];
    char view_manager[128];
    char session_manager[128];
    char search_index[128];
    char about[160];            /* fullName, for facts */
    char instance_uuid[64];
    int in_login;
    uint64_t read_stamp;        /* lib/stamp of the last answer received: what records
                                   filled from it carry, so the daemon keeps the later
                                   of two reports (the watch's and a job's) */
    unsigned session_gen;       /* bumped by every login: session objects are gone */
    /* session-scoped objects, valid while their gen equals session_gen */
    char views[VC_VIEW_N][256];
    unsigned views_gen;
    char filter[256];           /* the watch's PropertyFilter, "" when none */
    unsigned filter_gen;
    char version[512];          /* WaitForUpdatesEx version */
    int reported_all;           /* the watch has reported the whole inventory once */
    /* "Type:moref" -> {"type": ..., "moref": ..., mapped fields}; see vc_inventory.c */
    json_t *objs;
};

/* vc_session.c */
int vc_open(const struct pv_conn_params *p, struct pv_conn **out, struct pv_error *err);
void vc_close(struct pv_conn *c);
int vc_begin(struct pv_soap_writer *sw, const char *method, const char *this_type,
             const char *this_moref, struct pv_error *err);
int vc_invoke(struct pv_conn *c, struct pv_soap_writer *sw, int timeout_ms,
              struct pv_soap_resp **out, struct pv_error *err);
int vc_login(struct pv_conn *c, struct pv_error *err);
/* The text of returnval/token etc.: first element under the response payload. */
xmlNodePtr vc_returnval(struct pv_soap_resp *r);

/* vc_inventory.c */
typedef void (*vc_obj_fn)(struct pv_conn *c, const char *type, const char *moref, xmlNodePtr oc,
                          void *ud);
int vc_retrieve_obj(struct pv_conn *c, const char *type, const char *moref,
                    const char *const *paths, vc_obj_fn fn, void *ud, struct pv_error *err);
/* One property of one object, as text (moref values give their id); 0 found,
 * PV_ENOTFOUND when the object or property is missing. */
int vc_get_prop(struct pv_conn *c, const char *type, const char *moref, const char *path,
                char *val, size_t size, char *val_type, size_t type_size, struct pv_error *err);
/* The val element of property `name` in an ObjectContent, or NULL. */
xmlNodePtr vc_prop(xmlNodePtr oc, const char *name);
void vc_forget_session_objects(struct pv_conn *c);
int vc_sync(struct pv_conn *c, const struct pv_sink *s, struct pv_error *err);
int vc_watch(struct pv_conn *c, const struct pv_sink *s, int timeout_ms, struct pv_error *err);
int vc_refresh(struct pv_conn *c, const char *vm, const struct pv_sink *s, struct pv_error *err);
/* Report one host's current state through s->host; PV_ENOTFOUND host_not_found. */
int vc_refresh_host(struct pv_conn *c, const char *host, const struct pv_sink *s,
                    struct pv_error *err);
/* The datacenter an entity belongs to (walking parents; cached). */
int vc_datacenter_of(struct pv_conn *c, const char *type, const char *moref, char *dc,
                     size_t size, struct pv_error *err);

/* vc_actions.c */
int vc_action(struct pv_conn *c, const char *vm, enum pv_vm_action a, const struct pv_sink *s,
              struct pv_error *err);
int vc_create(struct pv_conn *c, const char *host, const struct pv_vm_spec *spec,
              const struct pv_sink *s, char **native_id, struct pv_error *err);
int vc_migrate(struct pv_conn *from, const char *vm, struct pv_conn *to, const char *host,
               const struct pv_migrate_opts *opts, const struct pv_sink *s, struct pv_error *err);
/* Send a request (written up to its last argument) that answers with a Task
 * and follow the Task to its end; `what` names it in progress and errors;
 * result (may be NULL) gets the task's info.result, e.g. a new VM's MoRef. */
int vc_run_task(struct pv_conn *c, struct pv_soap_writer *sw, const char *what,
                const struct pv_sink *s, char *result, size_t rsize, struct pv_error *err);
/* PV_ECONFLICT name_in_use when `folder` holds a VM called `name`. */
int vc_name_free(struct pv_conn *c, const char *folder, const char *name, struct pv_error *err);
/* rc, with vCenter's DuplicateName (duplicate_name) renamed name_in_use. */
int vc_name_clash(int rc, struct pv_error *err);
/* The resource pool of host's compute resource; PV_ENOTFOUND host_not_found. */
int vc_host_pool(struct pv_conn *c, const char *host, char *pool, size_t size,
                 struct pv_error *err);

/* The job's progress, when the call is made for one. */
void vc_progress(const struct pv_sink *s, int pct, const char *detail);

/* vc_manage.c */
int vc_reconfigure(struct pv_conn *c, const char *vm, const struct pv_vm_spec *spec,
                   const struct pv_sink *s, struct pv_error *err);
int vc_clone(struct pv_conn *c, const char *vm, const char *host, const struct pv_vm_spec *spec,
             const struct pv_sink *s, char **native_id, struct pv_error *err);
int vc_host_maintenance(struct pv_conn *c, const char *host, int enter, const struct pv_sink *s,
                        struct pv_error *err);

/* vc_snapshots.c */
int vc_snapshots(struct pv_conn *c, const char *vm, char **json, struct pv_error *err);
int vc_snapshot(struct pv_conn *c, const char *vm, const struct pv_snapshot_change *ch,
                const struct pv_sink *s, char *key_out, size_t key_size, struct pv_error *err);

/* vc_devices.c */
int vc_device(struct pv_conn *c, const char *vm, const struct pv_device_change *ch,
              const struct pv_sink *s, struct pv_device_result *out, struct pv_error *err);

#endif
