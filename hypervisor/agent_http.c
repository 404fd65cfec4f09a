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
 *   POST   /v1/vms/{uuid}/migrate         {"dest_uri", "data_uri", "max_downtime_ms", "stall_s"}
 *   GET    /v1/vms/{uuid}/migration       progress of the last migration
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
 *   GET    /v1/events?after=N&timeout_ms=M  long poll for lifecycle events
 *   POST   /v1/probe                      {"uri", "host_uuid", "timeout_ms"}: does another
 *                                         host's libvirt answer from here (HA witness)
 *
 * Errors are {"error": {"code", "message", "details"}} as in polyvisord.
 * The transport is lib/httpd, as polyvisord's: the token is checked on the
 * headers, before any body is read; uploads stream to disk instead of being
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
#include "agent.h"

#define MAX_BODY ((size_t)256 * 1024)

/* One request: its body (in lib/httpd's buffer) or its upload. */
struct body {
    const char *s;      /* the buffered body, NUL-terminated, or NULL */
    size_t len;
    int fd;             /* an upload being written to disk, or -1 */
    long long written;
    int upload_failed;
};

/* Start-up configuration. */
static struct pv_httpd *httpd;
static char token[256];

static enum MHD_Result reply(struct MHD_Connection *c, int status, json_t *body)
{
    static const struct pv_httpd_header h[] = {{"Cache-Control", "no-store"}, {NULL, NULL}};
    return pv_httpd_send_json(c, status, body ? body : json_object(), h);
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
    struct pv_error e = {0};
    char path[600];
    struct stat sb;
    struct MHD_Response *r;
    int fd;

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
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        return fail(c, PV_CODE_no_state, "no exported state for that vm");
    }
    r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    {
        static const struct pv_httpd_header h[] = {{"Content-Type", "application/octet-stream"},
                                                   {NULL, NULL}};
        return pv_httpd_queue(c, MHD_HTTP_OK, r, h);
    }
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

static enum MHD_Result route(struct MHD_Connection *c, const char *method, const char *url,
                             struct body *b)
{
    char path[256], *seg[6] = {0};
    int n = 0;
    struct pv_error e = {0};
    json_t *out = NULL;
    int rc;

    if (strlen(url) >= sizeof path)
        return fail(c, PV_CODE_route_not_found, "no such route");
    snprintf(path, sizeof path, "%s", url);
    for (char *save = NULL, *p = strtok_r(path, "/", &save); p && n < 6; p = strtok_r(NULL, "/", &save))
        seg[n++] = p;
    if (n < 2 || strcmp(seg[0], "v1") != 0)
        return fail(c, PV_CODE_route_not_found, "no such route");
    if (n == 2 && strcmp(seg[1], "host") == 0 && strcmp(method, "GET") == 0) {
        rc = ag_virt_host(&out, &e);
        return result(c, rc, &e, 200, out);
    }
    if (n == 2 && strcmp(seg[1], "events") == 0 && strcmp(method, "GET") == 0) {
        const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
        const char *tmo = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "timeout_ms");
        long t = tmo ? strtol(tmo, NULL, 10) : 0;
        ag_virt_events(after ? strtoull(after, NULL, 10) : 0, t < 0 ? 0 : t > 60000 ? 60000 : (int)t, &out);
        return reply(c, 200, out);
    }
    if (n == 2 && strcmp(seg[1], "probe") == 0 && strcmp(method, "POST") == 0) {
        json_t *req = b->s ? json_loadb(b->s, b->len, 0, NULL) : NULL;
        rc = ag_probe(json_string_value(json_object_get(req, "uri")),
                      json_string_value(json_object_get(req, "host_uuid")),
                      (int)json_integer_value(json_object_get(req, "timeout_ms")), &out, &e);
        json_decref(req);
        return result(c, rc, &e, 200, out);
    }
    if (strcmp(seg[1], "imports") == 0 && strcmp(method, "POST") == 0 && n == 4 &&
        strcmp(seg[3], "abort") == 0) {
        json_t *req = b->s ? json_loadb(b->s, b->len, 0, NULL) : NULL;
        rc = ag_virt_import_abort(seg[2], json_object_get(req, "disks"), &e);
        json_decref(req);
        return result(c, rc, &e, 200, json_pack("{s:s,s:b}", "uuid", seg[2], "aborted", 1));
    }
    if (strcmp(seg[1], "imports") == 0 && strcmp(method, "POST") == 0 && n == 4 &&
        (strcmp(seg[3], "state") == 0 || strcmp(seg[3], "disk") == 0)) {
        if (b->upload_failed || b->fd < 0)
            return fail(c, PV_CODE_upload_failed, "the state could not be written here");
        close(b->fd);
        b->fd = -1;
        return reply(c, 200, json_pack("{s:s,s:I}", "uuid", seg[2], "size", (json_int_t)b->written));
    }
    if (strcmp(seg[1], "imports") == 0 && strcmp(method, "POST") == 0 && n == 3) {
        json_t *req = b->s ? json_loadb(b->s, b->len, 0, NULL) : NULL;
        rc = ag_virt_import(seg[2], json_string_value(json_object_get(req, "xml")),
                            json_is_true(json_object_get(req, "state")),
                            json_object_get(req, "disks"), &out, &e);
        json_decref(req);
        return result(c, rc, &e, 201, out);
    }
    if (strcmp(seg[1], "vms") != 0)
        return fail(c, PV_CODE_route_not_found, "no such route");
    if (n == 2 && strcmp(method, "GET") == 0) {
        rc = ag_virt_vms(&out, &e);
        return result(c, rc, &e, 200, rc ? NULL : json_pack("{s:o}", "items", out));
    }
    if (n == 2 && strcmp(method, "POST") == 0) {
        json_error_t je;
        json_t *spec = b->s ? json_loadb(b->s, b->len, JSON_REJECT_DUPLICATES, &je) : NULL;
        char *uuid = NULL;
        if (!spec)
            return fail(c, PV_CODE_invalid_json, b->s ? je.text : "a JSON spec is needed");
        rc = ag_virt_define(spec, &uuid, &e);
        json_decref(spec);
        if (!rc)
            rc = ag_virt_vm(uuid, &out, &e);
        free(uuid);
        return result(c, rc, &e, 201, out);
    }
    if (n == 3 && strcmp(method, "GET") == 0) {
        rc = ag_virt_vm(seg[2], &out, &e);
        return result(c, rc, &e, 200, out);
    }
    if (n == 3 && strcmp(method, "DELETE") == 0) {
        const char *disks = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "disks");
        rc = ag_virt_action(seg[2], disks && strcmp(disks, "true") == 0 ? "delete_with_disks" : "delete", &e);
        return result(c, rc, &e, 200, json_pack("{s:s,s:b}", "uuid", seg[2], "deleted", 1));
    }
    if (n == 4 && strcmp(method, "POST") == 0 && strcmp(seg[3], "export") == 0) {
        rc = ag_virt_export(seg[2], &out, &e);
        return result(c, rc, &e, 200, out);
    }
    if (n == 5 && strcmp(seg[3], "export") == 0 && strcmp(method, "GET") == 0 &&
        strcmp(seg[4], "state") == 0)
        return send_file(c, seg[2], NULL);
    if (n == 6 && strcmp(seg[3], "export") == 0 && strcmp(method, "GET") == 0 &&
        strcmp(seg[4], "disk") == 0)
        return send_file(c, seg[2], seg[5]);
    if (n == 5 && strcmp(seg[3], "export") == 0 && strcmp(method, "POST") == 0 &&
        (strcmp(seg[4], "undo") == 0 || strcmp(seg[4], "done") == 0)) {
        rc = seg[4][0] == 'u' ? ag_virt_export_undo(seg[2], &e) : ag_virt_export_done(seg[2], &e);
        return result(c, rc, &e, 200, json_pack("{s:s,s:s}", "uuid", seg[2], "export", seg[4]));
    }
    if (n == 4 && strcmp(method, "POST") == 0 && strcmp(seg[3], "migrate") == 0) {
        json_t *req = b->s ? json_loadb(b->s, b->len, 0, NULL) : NULL;
        rc = ag_virt_migrate_start(seg[2], json_string_value(json_object_get(req, "dest_uri")),
                                   json_string_value(json_object_get(req, "data_uri")),
                                   (int)json_integer_value(json_object_get(req, "max_downtime_ms")),
                                   (int)json_integer_value(json_object_get(req, "stall_s")), &e);
        json_decref(req);
        if (!rc)
            rc = ag_virt_migration(seg[2], &out, &e);
        return result(c, rc, &e, 202, out);
    }
    if (n == 4 && strcmp(method, "GET") == 0 && strcmp(seg[3], "migration") == 0) {
        rc = ag_virt_migration(seg[2], &out, &e);
        return result(c, rc, &e, 200, out);
    }
    if (n == 5 && strcmp(method, "POST") == 0 && strcmp(seg[3], "migration") == 0 &&
        strcmp(seg[4], "cancel") == 0) {
        rc = ag_virt_migrate_cancel(seg[2], &e);
        if (!rc)
            rc = ag_virt_migration(seg[2], &out, &e);
        return result(c, rc, &e, 200, out);
    }
    if (n == 4 && strcmp(method, "POST") == 0 && strncmp(seg[3], "delete", 6) != 0) {
        rc = ag_virt_action(seg[2], seg[3], &e);
        if (!rc)
            rc = ag_virt_vm(seg[2], &out, &e);
        return result(c, rc, &e, 200, out);
    }
    return fail(c, PV_CODE_route_not_found, "no such route");
}

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

static void body_free(void *state)
{
    struct body *b = state;
    if (b) {
        if (b->fd >= 0)
            close(b->fd);
        free(b);
    }
}

/* On the headers alone: the token, and an upload's file opened. */
static int admit(void *ctx, struct pv_httpd_req *r, struct pv_error *err)
{
    struct body *b;
    char uuid[64];
    int disk = 0;
    (void)ctx;

    if (!token_ok(MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization")))
        return pv_fail(err, unauthorized, "this agent needs its token");
    b = calloc(1, sizeof *b);
    if (!b)
        return pv_fail(err, out_of_memory, "out of memory");
    b->fd = -1;
    r->state = b;
    r->done = body_free;
    if (is_upload(r->method, r->url, uuid, &disk)) {
        if (upload_open(r->conn, uuid, disk, b, err))
            return err->err;
        r->sink = sink; /* may be of any size: straight to disk */
    }
    return 0;
}

static enum MHD_Result handle(void *ctx, struct pv_httpd_req *r)
{
    struct body *b = r->state;
    (void)ctx;

    b->s = r->body.len ? r->body.s : NULL;
    b->len = r->body.len;
    return route(r->conn, r->method, r->url, b);
}

int ag_http_start(const struct ag_config *cfg, struct pv_error *err)
{
    static const struct pv_httpd_app app = {NULL, admit, handle};
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
