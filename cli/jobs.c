/* jobs.c -- following a job to its end: --wait and `job wait`.
 *
 * A job is followed over the event stream (GET /api/v1/events/stream,
 * server-sent events), not by polling: the daemon publishes the job as
 * GET /jobs/{id} shows it on every change, so the wait ends the moment the
 * job does.  The one race -- the job ending between the 202 and the
 * stream's start -- is closed by reading the job once the stream is open:
 * anything after that read arrives on the stream.  When the stream ends
 * before the job does (the daemon restarted, a proxy cut it), or says
 * "resync", the job is read again and the stream reopened; a daemon that
 * does not answer is waited for (REACH_TRIES seconds), as the job outlives
 * a restart of the daemon.  Of two copies
 * of the job the one with the higher `revision` wins (docs/api.md).
 *
 * Progress goes to stderr: a bar redrawn in place on a terminal, a plain
 * line per change otherwise, so stdout carries only the result.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"

struct follow {
    struct pvc *c;
    const char *id;
    struct pv_buf pending;  /* stream bytes not yet a whole message */
    struct pv_buf errbody;  /* the body of a stream that was refused */
    json_t *job;
    int done, failed, opened;
    long refused;           /* the stream's status when it was not 200 */
    int shown_pct;
    char shown_state[16];
};

static int terminal(const json_t *job)
{
    const char *s = json_string_value(json_object_get(job, "state"));
    return s && (!strcmp(s, "succeeded") || !strcmp(s, "failed") || !strcmp(s, "cancelled"));
}

/* The running step's name, else the last step's. */
static const char *step_name(const json_t *job)
{
    const char *name = NULL;
    size_t i;
    json_t *st;

    json_array_foreach(json_object_get(job, "steps"), i, st) {
        const char *state = json_string_value(json_object_get(st, "state"));
        name = json_string_value(json_object_get(st, "name"));
        if (state && strcmp(state, "running") == 0)
            break;
    }
    return name ? name : "";
}

static void show(struct follow *f)
{
    const char *state = json_string_value(json_object_get(f->job, "state"));
    int pct = (int)json_integer_value(json_object_get(f->job, "progress"));

    if (!state || (pct == f->shown_pct && strcmp(state, f->shown_state) == 0))
        return;
    f->shown_pct = pct;
    snprintf(f->shown_state, sizeof f->shown_state, "%s", state);
    if (f->c->tty_err) {
        char bar[31];
        int fill = pct < 0 ? 0 : pct > 100 ? 30 : pct * 30 / 100;
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(30 - fill));
        bar[30] = '\0';
        fprintf(stderr, "\r%s [%s] %3d%% %-10s %-24.24s", f->id, bar, pct, state, step_name(f->job));
        if (terminal(f->job))
            fputc('\n', stderr);
    } else {
        fprintf(stderr, "%s %s %d%% %s\n", f->id, state, pct, step_name(f->job));
    }
    fflush(stderr);
}

/* A copy of the job, from a read or the stream: keep the newer. */
static void update(struct follow *f, json_t *job)
{
    long long now = json_integer_value(json_object_get(f->job, "revision"));
    long long got = json_integer_value(json_object_get(job, "revision"));

    if (f->job && got < now && !terminal(job))
        return;
    json_decref(f->job);
    f->job = json_incref(job);
    f->done = terminal(job);
    show(f);
}

static int read_job(struct follow *f)
{
    struct pv_buf path = PV_BUF_INIT;
    json_t *job = NULL;
    char *esc = pvc_escape(f->id);
    int rc;

    pv_buf_addf(&path, "/api/v1/jobs/%s", esc);
    rc = pvc_call(f->c, "GET", pv_buf_str(&path), NULL, NULL, &job);
    if (rc == 0)
        update(f, job);
    else
        f->failed = 1;
    json_decref(job);
    pv_buf_free(&path);
    free(esc);
    return rc;
}

/* One whole SSE message: "event: T" and "data: ..." lines. */
static void message(struct follow *f, char *msg)
{
    char *event = NULL;
    struct pv_buf data = PV_BUF_INIT;

    for (char *save = NULL, *line = strtok_r(msg, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        size_t n = strlen(line);
        if (n && line[n - 1] == '\r')
            line[--n] = '\0';
        if (strncmp(line, "event:", 6) == 0)
            event = line + 6 + (line[6] == ' ');
        else if (strncmp(line, "data:", 5) == 0)
            pv_buf_addf(&data, "%s%s", data.len ? "\n" : "", line + 5 + (line[5] == ' '));
    }
    if (event && strcmp(event, "resync") == 0) {
        read_job(f);
    } else if (event && strcmp(event, "job") == 0 && data.len) {
        json_t *job = json_loadb(data.s, data.len, 0, NULL);
        const char *id = json_string_value(json_object_get(job, "id"));
        if (id && strcmp(id, f->id) == 0)
            update(f, job);
        json_decref(job);
    }
    pv_buf_free(&data);
}

static int on_stream(void *ctx, long status, const char *data, size_t len)
{
    struct follow *f = ctx;
    char *end;

    if (status != 200) {
        f->refused = status;
        if (data)
            pv_buf_add(&f->errbody, data, len);
        return 0;
    }
    if (!data) { /* open: what happened before now is read, the rest will come */
        f->opened = 1;
        return read_job(f) || f->done;
    }
    pv_buf_add(&f->pending, data, len);
    while (f->pending.s && (end = strstr(f->pending.s, "\n\n"))) {
        size_t n = (size_t)(end - f->pending.s) + 2;
        char *msg = strndup(f->pending.s, n);
        memmove(f->pending.s, f->pending.s + n, f->pending.len - n + 1);
        f->pending.len -= n;
        if (msg)
            message(f, msg);
        free(msg);
        if (f->done || f->failed)
            return 1;
    }
    return 0;
}

/* One job as a table row; a create's target is the VM it made. */
static void print_job_row(const struct pvc *c, json_t *job)
{
    json_t *row = json_deep_copy(job), *rows;
    json_t *made = json_object_get(json_object_get(job, "result"), "vm_id");

    if (json_is_null(json_object_get(row, "target_id")) && made)
        json_object_set(row, "target_id", made);
    rows = json_pack("[o]", row);
    pvc_print_items(c, rows, "id,kind,state,progress,target_id");
    json_decref(rows);
}

/* The finished job as the command's output. */
static void print_job(struct pvc *c, const struct follow *f)
{
    if (c->out == PVC_OUT_JSON) {
        struct pv_buf path = PV_BUF_INIT, raw = PV_BUF_INIT;
        char *esc = pvc_escape(f->id);
        pv_buf_addf(&path, "/api/v1/jobs/%s", esc);
        /* the API's own bytes; the streamed copy when that read fails */
        if (pvc_call(c, "GET", pv_buf_str(&path), NULL, &raw, NULL) == 0)
            fwrite(raw.s, 1, raw.len, stdout);
        else
            json_dumpf(f->job, stdout, JSON_COMPACT);
        putchar('\n');
        pv_buf_free(&path);
        pv_buf_free(&raw);
        free(esc);
    } else if (c->out == PVC_OUT_NAME) {
        /* what the job made or acted on: the id a script goes on with */
        json_t *r = json_object_get(f->job, "result");
        const char *id = json_string_value(json_object_get(r, "vm_id"));
        if (!id)
            id = json_string_value(json_object_get(r, "connection_id"));
        if (!id)
            id = json_string_value(json_object_get(f->job, "target_id"));
        puts(id ? id : f->id);
    } else {
        print_job_row(c, f->job);
    }
}

/* A daemon that restarts is waited for, this many seconds: jobs outlive
 * the daemon, so the wait should too. */
#define REACH_TRIES 30

/* The daemon did not answer: worth waiting for while tries last. */
static int unreachable(struct pvc *c, int *tries)
{
    if (c->err.err != PV_EUNREACHABLE || ++*tries > REACH_TRIES)
        return 0;
    sleep(1);
    return 1;
}

int pvc_job_wait(struct pvc *c, const char *id)
{
    struct follow f = {.c = c, .id = id, .shown_pct = -1};
    int rc = 0, tries = 0;

    while (!f.done) {
        pv_buf_reset(&f.pending);
        f.failed = f.opened = 0;
        if (pv_httpc_stream(c->http, "/api/v1/events/stream", on_stream, &f, &c->err) ||
            f.failed) {
            if (unreachable(c, &tries))
                continue;
            rc = PVC_API;
            break;
        }
        if (f.refused) {
            pvc_api_error(c, f.refused, &f.errbody);
            rc = PVC_API;
            break;
        }
        if (f.opened)
            tries = 0;
        if (!f.done && read_job(&f)) { /* the stream ended first */
            if (unreachable(c, &tries))
                continue;
            rc = PVC_API;
            break;
        }
    }
    if (rc == PVC_API) {
        if (c->tty_err && f.shown_pct >= 0 && !f.done)
            fputc('\n', stderr); /* the error goes below the bar */
    } else {
        const char *state = json_string_value(json_object_get(f.job, "state"));
        print_job(c, &f);
        if (strcmp(state, "succeeded") != 0) {
            json_t *e = json_object_get(f.job, "error");
            fprintf(stderr, "polyvisor: job %s %s: %s: %s\n", id, state,
                    json_string_value(json_object_get(e, "code"))
                        ? json_string_value(json_object_get(e, "code")) : state,
                    json_string_value(json_object_get(e, "message"))
                        ? json_string_value(json_object_get(e, "message")) : "");
            rc = PVC_JOB;
        }
    }
    json_decref(f.job);
    pv_buf_free(&f.pending);
    pv_buf_free(&f.errbody);
    return rc;
}

int pvc_submit(struct pvc *c, const char *method, const char *path, const json_t *body)
{
    struct pv_buf raw = PV_BUF_INIT;
    json_t *job = NULL;
    const char *id;
    int rc = pvc_call(c, method, path, body, &raw, &job);

    if (rc)
        goto out;
    id = json_string_value(json_object_get(job, "id"));
    if (!id) {
        pv_fail(&c->err, bad_response, "%s %s: the answer is not a job", method, path);
        rc = PVC_API;
    } else if (pvc_has(c, "wait")) {
        rc = pvc_job_wait(c, id);
    } else if (c->out == PVC_OUT_JSON) {
        pvc_print_raw(&raw);
    } else if (c->out == PVC_OUT_NAME) {
        puts(id);
    } else {
        print_job_row(c, job);
    }
out:
    json_decref(job);
    pv_buf_free(&raw);
    return rc;
}

static const char job_usage[] =
    "polyvisor job list [--filter F] [--sort S] [--fields F] [--limit N] [--all] | get ID | "
    "wait ID | cancel|restart ID [--wait]";

int cmd_job(struct pvc *c)
{
    const char *sub = c->nwords > 1 ? c->words[1] : NULL;
    int rc;

    if (!sub)
        return pvc_usage(job_usage, "job needs a subcommand");
    if (strcmp(sub, "wait") != 0) /* list, get, cancel, restart */
        return cmd_collection(c);
    if ((rc = pvc_check(c, 2, 1, 1, "", job_usage)) || (rc = pvc_connect(c, 1)))
        return rc;
    return pvc_job_wait(c, c->words[2]);
}
