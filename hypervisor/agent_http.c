/* agent_http.c -- the agent's HTTP+JSON API (libmicrohttpd, HTTPS when
 * given a certificate).  Every call needs `Authorization: Bearer TOKEN`, the
 * agent's token, compared in constant time.
 *
 *   GET    /v1/host                       host facts and live figures
 *   GET    /v1/vms                        every domain
 *   POST   /v1/vms                        define from a spec -> {"uuid"}
 *   GET    /v1/vms/{uuid}                 one domain
 *   DELETE /v1/vms/{uuid}[?disks=true]    undefine (it must be stopped), with its volumes
 *   POST   /v1/vms/{uuid}/{action}        start shutdown poweroff reboot pause resume save
 *   POST   /v1/vms/{uuid}/migrate         {"dest_uri", "data_uri", "max_downtime_ms", "stall_s",
 *                                          "copy_disks"?: [{"dev", "path"}]}
 *   GET    /v1/vms/{uuid}/migration       progress of the last migration
 *   GET    /v1/vms/{uuid}/migration/volumes  its disks on local volumes (to copy
 *                                         for a migration without shared storage)
 *   POST   /v1/migration/volumes          destination: pre-create them {"pool", "volumes"}
 *   POST   /v1/migration/volumes/remove   destination: {"pool", "names"} after a failure
 *   POST   /v1/migration/volumes/keep     destination: {"uuid", "pool", "names"} after success
 *   POST   /v1/vms/{uuid}/migration/cancel
 *   POST   /v1/vms/{uuid}/export          quick migration, source side: save the state
 *   GET    /v1/vms/{uuid}/export/state    ... the saved state, as a file
 *   POST   /v1/vms/{uuid}/export/undo     ... restore it here (the move failed)
 *   POST   /v1/vms/{uuid}/export/done     ... undefine it here (the move succeeded)
 *   GET    /v1/vms/{uuid}/export/disk/{i} ... disk number i, as a file
 *   POST   /v1/imports/{uuid}/state       destination side: upload the state (streamed to disk)
 *   POST   /v1/imports/{uuid}/disk?path=P ... upload a disk to P (in a storage pool, new)
 *   POST   /v1/imports/{uuid}             ... {"xml", "state": bool, "disks": [P]}: define, restore
 *   POST   /v1/imports/{uuid}/abort       ... {"disks": [P]}: drop what was uploaded
 *   POST   /v1/vms/{uuid}/disks           {"size_gb", "pool"?}: a new volume, attached
 *   DELETE /v1/vms/{uuid}/disks/{dev}     detach; delete its volume if made for the VM
 *   POST   /v1/vms/{uuid}/disks/{dev}/resize  {"size_gb"}: grow
 *   POST   /v1/vms/{uuid}/disks/{dev}/move  {"pool"}: storage migration, runs on
 *   GET    /v1/vms/{uuid}/disks/{dev}/move  ... its state and percent
 *   POST   /v1/vms/{uuid}/disks/{dev}/move/cancel
 *   POST   /v1/vms/{uuid}/nics            {"network"} | {"bridge"}: a new NIC
 *   PATCH  /v1/vms/{uuid}/nics/{mac}      {"network"} | {"bridge"}: connect it there
 *   DELETE /v1/vms/{uuid}/nics/{mac}      detach
 *                                         (each answers {"vm", "key", "live", "note"}:
 *                                         virt_devices.c says what is hot and what not)
 *   GET    /v1/events?after=N&timeout_ms=M  long poll for lifecycle events
 *   GET    /v1/vms/{uuid}/snapshots       {"items": [...]}: the snapshot tree, read live
 *   POST   /v1/vms/{uuid}/snapshots       {"name", "memory"?}: take one
 *   POST   /v1/vms/{uuid}/snapshots/revert  {"key"}; .../snapshots/delete {"key", "children"?}
 *                                         (each answers {"key", "vm"}: virt_snapshots.c)
 *   POST   /v1/probe                      {"uri", "host_uuid", "timeout_ms"}: does another
 *                                         host's libvirt answer from here (HA witness)
 *
 * Errors are {"error": {"code", "message", "details"}} as in polyvisord.
 * The transport is lib/httpd, as polyvisord's: the token is checked on the
 * headers, before any body is read, and the route matched there too (lib/httpd
 * answers 404 and 405 with Allow); uploads stream to disk instead of being
 * buffered.  Requests are small and short, except the event long poll,
 * which waits on a condition variable; a thread per connection here keeps a
 * waiting poll from holding up another caller (an agent has a handful of
 * callers, and the connection limits bound the threads).
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../lib/httpd.h"
#include "../lib/router.h"
#include "agent.h"

#define MAX_BODY ((size_t)256 * 1024)

/* One request (lib/httpd's per-request state): its route, its body (in
 * lib/httpd's buffer) or its upload. */
struct body {
    struct pv_route_match m;
    const char *s;      /* the buffered body, NUL-terminated, or NULL */
    size_t len;
    int fd;             /* an upload being written to disk, or -1 */
    int admitted;       /* admit() ran: fd is set */
    long long written;
    int upload_failed;
};

/* Start-up configuration. */
static struct pv_httpd *httpd;
static char token[256];

static enum MHD_Result reply(struct MHD_Connection *c, int status, json_t *body)
{
    struct pv_httpd_reply rep = {.status = status, .json = body ? body : json_object()};
    return pv_httpd_send_reply(c, &rep);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, const struct pv_error *e)
{
    return pv_httpd_send_error(c, e, NULL);
}

static enum MHD_Result fail(struct MHD_Connection *c, enum pv_code code, const char *msg)
{
    struct pv_error e;
    pv_fail_code(&e, code, "%s", msg);
    return reply_error(c, &e);
}

static int token_ok(const char *h)
{
    size_t n = strlen(token), m;
    unsigned diff = 0;

    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    m = strlen(h);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned char)token[i] ^ (unsigned char)(i < m ? h[i] : 0);
    return diff == 0 && m == n;
}

static enum MHD_Result result(struct MHD_Connection *c, int rc, const struct pv_error *e,
                              int status, json_t *body)
{
    if (rc) {
        json_decref(body);
        return reply_error(c, e);
    }
    return reply(c, status, body);
}

/* A file of an export (its saved state or a disk), streamed from disk. */
static enum MHD_Result send_file(struct MHD_Connection *c, const char *uuid, const char *disk)
{
    static const struct pv_httpd_header h[] = {{"Content-Type", "application/octet-stream"},
                                               {NULL, NULL}};
    struct pv_error e = {0}, missing;
    char path[600];

    if (disk) {
        char *end;
        long index = strtol(disk, &end, 10);
        if (*end || index < 0 || index > 64)
            return fail(c, PV_CODE_no_disk, "no such disk");
        if (ag_virt_export_disk(uuid, (int)index, path, sizeof path, &e))
            return reply_error(c, &e);
    } else if (ag_virt_state_path(uuid, "save", path, sizeof path, &e)) {
        return reply_error(c, &e);
    }
    pv_fail(&missing, no_state, "no exported state for that vm");
    return pv_httpd_send_file(c, path, 0, h, &missing);
}

/* 1 when this is an upload that goes to disk instead of memory:
 * POST /v1/imports/{uuid}/state or /v1/imports/{uuid}/disk; uuid receives
 * its UUID, *disk whether it is a disk. */
static int is_upload(const char *method, const char *url, char uuid[64], int *disk)
{
    char what[8];

    if (strcmp(method, "POST") != 0 || sscanf(url, "/v1/imports/%63[^/]/%7s", uuid, what) != 2 ||
        strlen(url) != strlen("/v1/imports//") + strlen(uuid) + strlen(what))
        return 0;
    *disk = strcmp(what, "disk") == 0;
    return *disk || strcmp(what, "state") == 0;
}

/* Open the upload's file (only once the caller is known to hold the token):
 * the state into the state dir; a disk at its checked path, never over an
 * existing file. */
static int upload_open(struct MHD_Connection *c, const char *uuid, int disk, struct body *b,
                       struct pv_error *e)
{
    char path[600];

    if (disk) {
        const char *p = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "path");
        if (ag_virt_import_disk_path(p, e))
            return e->err;
        b->fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    } else if (ag_virt_state_path(uuid, "import", path, sizeof path, e) == 0) {
        b->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    }
    b->upload_failed = b->fd < 0;
    return 0;
}

/* ---- the routes ----------------------------------------------------------
 * One handler per route of the table below (lib/router): each answers
 * through r->ret.  The request type is the agent's own (see lib/router.h). */

struct pv_req {
    struct MHD_Connection *c;
    struct body *b;
    const char *const *params;   /* the pattern's {captures}, in order */
    enum MHD_Result ret;
};

static const char *arg(struct pv_req *r, const char *key)
{
    return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, key);
}

/* The body as JSON, or NULL (an empty or unparsable body). */
static json_t *body_json(struct pv_req *r)
{
    return r->b->s ? json_loadb(r->b->s, r->b->len, 0, NULL) : NULL;
}

static void answer(struct pv_req *r, int rc, const struct pv_error *e, int status, json_t *out)
{
    r->ret = result(r->c, rc, e, status, out);
}

static void h_host(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_host(&out, &e);
    answer(r, rc, &e, 200, out);
}

static void h_pools(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_pools(&out, &e);
    answer(r, rc, &e, 200, rc ? NULL : json_pack("{s:o}", "items", out));
}

static void h_networks(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_networks(&out, &e);
    answer(r, rc, &e, 200, rc ? NULL : json_pack("{s:o}", "items", out));
}

static void h_events(struct pv_req *r)
{
    const char *after = arg(r, "after"), *tmo = arg(r, "timeout_ms");
    long t = tmo ? strtol(tmo, NULL, 10) : 0;
    json_t *out = NULL;

    ag_virt_events(after ? strtoull(after, NULL, 10) : 0, t < 0 ? 0 : t > 60000 ? 60000 : (int)t,
                   &out);
    r->ret = reply(r->c, 200, out);
}

static void h_probe(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *req = body_json(r), *out = NULL;
    int rc = ag_probe(json_string_value(json_object_get(req, "uri")),
                      json_string_value(json_object_get(req, "host_uuid")),
                      (int)json_integer_value(json_object_get(req, "timeout_ms")), &out, &e);
    json_decref(req);
    answer(r, rc, &e, 200, out);
}

static void h_import(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *req = body_json(r), *out = NULL;
    int rc = ag_virt_import(r->params[0], json_string_value(json_object_get(req, "xml")),
                            json_is_true(json_object_get(req, "state")),
                            json_object_get(req, "disks"), &out, &e);
    json_decref(req);
    answer(r, rc, &e, 201, out);
}

static void h_import_abort(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *req = body_json(r);
    int rc = ag_virt_import_abort(r->params[0], json_object_get(req, "disks"), &e);
    json_decref(req);
    answer(r, rc, &e, 200, json_pack("{s:s,s:b}", "uuid", r->params[0], "aborted", 1));
}

/* The upload itself went to disk (sink, below); this closes it. */
static void h_upload_done(struct pv_req *r)
{
    struct body *b = r->b;

    if (b->upload_failed || b->fd < 0) {
        r->ret = fail(r->c, PV_CODE_upload_failed, "the state could not be written here");
        return;
    }
    close(b->fd);
    b->fd = -1;
    r->ret = reply(r->c, 200, json_pack("{s:s,s:I}", "uuid", r->params[0], "size",
                                        (json_int_t)b->written));
}

static void h_vms(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_vms(&out, &e);
    answer(r, rc, &e, 200, rc ? NULL : json_pack("{s:o}", "items", out));
}

static void h_define(struct pv_req *r)
{
    struct pv_error e = {0};
    json_error_t je;
    json_t *spec, *out = NULL;
    char *uuid = NULL;
    int rc;

    spec = r->b->s ? json_loadb(r->b->s, r->b->len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!spec) {
        r->ret = fail(r->c, PV_CODE_invalid_json, r->b->s ? je.text : "a JSON spec is needed");
        return;
    }
    rc = ag_virt_define(spec, &uuid, &e);
    json_decref(spec);
    if (!rc)
        rc = ag_virt_vm(uuid, &out, &e);
    free(uuid);
    answer(r, rc, &e, 201, out);
}

static void h_vm(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_vm(r->params[0], &out, &e);
    answer(r, rc, &e, 200, out);
}

static void h_delete(struct pv_req *r)
{
    struct pv_error e = {0};
    const char *disks = arg(r, "disks");
    int rc = ag_virt_action(r->params[0],
                            disks && strcmp(disks, "true") == 0 ? "delete_with_disks" : "delete",
                            &e);
    answer(r, rc, &e, 200, json_pack("{s:s,s:b}", "uuid", r->params[0], "deleted", 1));
}

/* POST /v1/vms/{uuid}/{action}: start shutdown poweroff reboot pause resume
 * save (deleting is DELETE /v1/vms/{uuid}, never an action). */
static void h_action(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc;

    if (strncmp(r->params[1], "delete", 6) == 0) {
        r->ret = fail(r->c, PV_CODE_route_not_found, "no such route");
        return;
    }
    rc = ag_virt_action(r->params[0], r->params[1], &e);
    if (!rc)
        rc = ag_virt_vm(r->params[0], &out, &e);
    answer(r, rc, &e, 200, out);
}

static void h_export(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_export(r->params[0], &out, &e);
    answer(r, rc, &e, 200, out);
}

static void h_export_state(struct pv_req *r)
{
    r->ret = send_file(r->c, r->params[0], NULL);
}

static void h_export_disk(struct pv_req *r)
{
    r->ret = send_file(r->c, r->params[0], r->params[1]);
}

static void h_export_undo(struct pv_req *r)
{
    struct pv_error e = {0};
    answer(r, ag_virt_export_undo(r->params[0], &e), &e, 200,
           json_pack("{s:s,s:s}", "uuid", r->params[0], "export", "undo"));
}

static void h_export_done(struct pv_req *r)
{
    struct pv_error e = {0};
    answer(r, ag_virt_export_done(r->params[0], &e), &e, 200,
           json_pack("{s:s,s:s}", "uuid", r->params[0], "export", "done"));
}

static void h_migrate(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *req = body_json(r), *out = NULL;
    int rc = ag_virt_migrate_start(r->params[0], json_string_value(json_object_get(req, "dest_uri")),
                                   json_string_value(json_object_get(req, "data_uri")),
                                   (int)json_integer_value(json_object_get(req, "max_downtime_ms")),
                                   (int)json_integer_value(json_object_get(req, "stall_s")),
                                   json_object_get(req, "copy_disks"), &e);
    json_decref(req);
    if (!rc)
        rc = ag_virt_migration(r->params[0], &out, &e);
    answer(r, rc, &e, 202, out);
}

static void h_migration_volumes(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_migration_volumes(r->params[0], &out, &e);
    answer(r, rc, &e, 200, rc ? NULL : json_pack("{s:o}", "volumes", out));
}

static void h_incoming_volumes(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *req = body_json(r), *out = NULL;
    int rc = ag_virt_incoming_volumes(req, &out, &e);
    json_decref(req);
    answer(r, rc, &e, 201, rc ? NULL : json_pack("{s:o}", "volumes", out));
}

static void h_incoming_remove(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *req = body_json(r);
    int rc = ag_virt_incoming_remove(req, &e);
    json_decref(req);
    answer(r, rc, &e, 200, rc ? NULL : json_object());
}

static void h_incoming_keep(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *req = body_json(r);
    int rc = ag_virt_incoming_keep(req, &e);
    json_decref(req);
    answer(r, rc, &e, 200, rc ? NULL : json_object());
}

static void h_migration(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_migration(r->params[0], &out, &e);
    answer(r, rc, &e, 200, out);
}

static void h_migration_cancel(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_migrate_cancel(r->params[0], &e);
    if (!rc)
        rc = ag_virt_migration(r->params[0], &out, &e);
    answer(r, rc, &e, 200, out);
}

/* Device changes: the route names kind and op; {dev} or {mac} the device. */
static void device(struct pv_req *r, const char *op, const char *kind, int keyed)
{
    struct pv_error e = {0};
    json_t *req = body_json(r), *out = NULL;
    int rc = ag_virt_device(r->params[0], op, kind, keyed ? r->params[1] : NULL, req, &out, &e);
    json_decref(req);
    answer(r, rc, &e, 200, out);
}
static void h_disk_add(struct pv_req *r) { device(r, "add", "disk", 0); }
static void h_disk_remove(struct pv_req *r) { device(r, "remove", "disk", 1); }
static void h_disk_resize(struct pv_req *r) { device(r, "resize", "disk", 1); }
static void h_nic_add(struct pv_req *r) { device(r, "add", "nic", 0); }
static void h_nic_connect(struct pv_req *r) { device(r, "connect", "nic", 1); }
static void h_nic_remove(struct pv_req *r) { device(r, "remove", "nic", 1); }

static void h_disk_move(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *req = body_json(r), *out = NULL;
    int rc = ag_virt_disk_move(r->params[0], r->params[1],
                               json_string_value(json_object_get(req, "pool")), &out, &e);
    json_decref(req);
    answer(r, rc, &e, 202, out);
}

static void h_disk_move_cancel(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_disk_move_cancel(r->params[0], r->params[1], &out, &e);
    answer(r, rc, &e, 200, out);
}

static void h_disk_move_state(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_disk_move_state(r->params[0], r->params[1], &out, &e);
    answer(r, rc, &e, 200, out);
}

static void h_snapshots(struct pv_req *r)
{
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc = ag_virt_snapshots(r->params[0], &out, &e);
    answer(r, rc, &e, 200, out);
}

static void snapshot(struct pv_req *r, const char *op)
{
    struct pv_error e = {0};
    json_t *req = body_json(r), *out = NULL;
    int rc = ag_virt_snapshot(r->params[0], op, req, &out, &e);
    json_decref(req);
    answer(r, rc, &e, 200, out);
}
static void h_snapshot_create(struct pv_req *r) { snapshot(r, "create"); }
static void h_snapshot_revert(struct pv_req *r) { snapshot(r, "revert"); }
static void h_snapshot_delete(struct pv_req *r) { snapshot(r, "delete"); }

/* The table the header comment lists.  A literal segment wins over a
 * capture, so /v1/vms/{uuid}/migrate is never taken for an action. */
static const struct pv_route routes[] = {
    {"GET", "/v1/host", h_host, 0},
    {"GET", "/v1/pools", h_pools, 0},
    {"GET", "/v1/networks", h_networks, 0},
    {"GET", "/v1/events", h_events, 0},
    {"POST", "/v1/probe", h_probe, 0},
    {"POST", "/v1/imports/{uuid}", h_import, 0},
    {"POST", "/v1/imports/{uuid}/abort", h_import_abort, 0},
    {"POST", "/v1/imports/{uuid}/state", h_upload_done, 0},
    {"POST", "/v1/imports/{uuid}/disk", h_upload_done, 0},
    {"GET", "/v1/vms", h_vms, 0},
    {"POST", "/v1/vms", h_define, 0},
    {"GET", "/v1/vms/{uuid}", h_vm, 0},
    {"DELETE", "/v1/vms/{uuid}", h_delete, 0},
    {"POST", "/v1/vms/{uuid}/{action}", h_action, 0},
    {"POST", "/v1/vms/{uuid}/export", h_export, 0},
    {"GET", "/v1/vms/{uuid}/export/state", h_export_state, 0},
    {"GET", "/v1/vms/{uuid}/export/disk/{index}", h_export_disk, 0},
    {"POST", "/v1/vms/{uuid}/export/undo", h_export_undo, 0},
    {"POST", "/v1/vms/{uuid}/export/done", h_export_done, 0},
    {"POST", "/v1/vms/{uuid}/migrate", h_migrate, 0},
    {"GET", "/v1/vms/{uuid}/migration", h_migration, 0},
    {"GET", "/v1/vms/{uuid}/migration/volumes", h_migration_volumes, 0},
    {"POST", "/v1/migration/volumes", h_incoming_volumes, 0},
    {"POST", "/v1/migration/volumes/remove", h_incoming_remove, 0},
    {"POST", "/v1/migration/volumes/keep", h_incoming_keep, 0},
    {"POST", "/v1/vms/{uuid}/migration/cancel", h_migration_cancel, 0},
    {"POST", "/v1/vms/{uuid}/disks", h_disk_add, 0},
    {"DELETE", "/v1/vms/{uuid}/disks/{dev}", h_disk_remove, 0},
    {"POST", "/v1/vms/{uuid}/disks/{dev}/resize", h_disk_resize, 0},
    {"POST", "/v1/vms/{uuid}/disks/{dev}/move", h_disk_move, 0},
    {"GET", "/v1/vms/{uuid}/disks/{dev}/move", h_disk_move_state, 0},
    {"POST", "/v1/vms/{uuid}/disks/{dev}/move/cancel", h_disk_move_cancel, 0},
    {"POST", "/v1/vms/{uuid}/nics", h_nic_add, 0},
    {"PATCH", "/v1/vms/{uuid}/nics/{mac}", h_nic_connect, 0},
    {"DELETE", "/v1/vms/{uuid}/nics/{mac}", h_nic_remove, 0},
    {"GET", "/v1/vms/{uuid}/snapshots", h_snapshots, 0},
    {"POST", "/v1/vms/{uuid}/snapshots", h_snapshot_create, 0},
    {"POST", "/v1/vms/{uuid}/snapshots/revert", h_snapshot_revert, 0},
    {"POST", "/v1/vms/{uuid}/snapshots/delete", h_snapshot_delete, 0},
};

static int sink(void *state, const char *data, size_t n)
{
    struct body *b = state;

    if (b->fd < 0 || b->upload_failed)
        return -1;
    if (write(b->fd, data, n) != (ssize_t)n) {
        b->upload_failed = 1;
        return -1;
    }
    b->written += (long long)n;
    return 0;
}

static void body_done(void *state)
{
    struct body *b = state;
    if (b->admitted && b->fd >= 0)
        close(b->fd);
}

/* On the headers alone: the token, the route, and an upload's file opened. */
static int admit(void *ctx, struct pv_httpd_req *r, struct pv_error *err)
{
    struct body *b = r->state;
    char uuid[64];
    int disk = 0;
    (void)ctx;

    b->fd = -1;
    b->admitted = 1;
    if (!token_ok(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization")))
        return pv_fail(err, unauthorized, "this agent needs its token");
    if (pv_httpd_route(r, routes, sizeof routes / sizeof routes[0], &b->m, err))
        return err->err;
    if (is_upload(r->method, r->url, uuid, &disk)) {
        if (upload_open(r->conn, uuid, disk, b, err))
            return err->err;
        r->sink = sink; /* may be of any size: straight to disk */
    }
    return 0;
}

/* The whole body is in (or went to disk): the route's handler answers. */
static enum MHD_Result handle(void *ctx, struct pv_httpd_req *hr)
{
    struct body *b = hr->state;
    struct pv_req r = {.c = hr->conn, .b = b, .params = b->m.params, .ret = MHD_NO};
    (void)ctx;

    b->s = hr->body.len ? hr->body.s : NULL;
    b->len = hr->body.len;
    b->m.route->handler(&r);
    return r.ret;
}

int ag_http_start(const struct ag_config *cfg, struct pv_error *err)
{
    static const struct pv_httpd_app app = {NULL, sizeof(struct body), admit, handle, body_done};
    struct pv_httpd_opts o = {
        .host = cfg->host,
        .port = cfg->port,
        .tls_cert = cfg->tls_cert,
        .tls_key = cfg->tls_key,
        .threads = 0, /* a thread per connection: see the top of this file */
        .max_body = MAX_BODY,
        .max_connections = 256,
        .max_per_address = 64,
        .idle_timeout_s = 120,
        .app = &app,
    };

    snprintf(token, sizeof token, "%s", cfg->token);
    return pv_httpd_start(&o, &httpd, err);
}

void ag_http_stop(void)
{
    pv_httpd_stop(httpd);
    httpd = NULL;
}
