/* actions.c -- what the CLI does to objects other than VMs: one row per
 * action the API has (docs/api.md, docs/ha.md, docs/placement.md), and
 * `connection add`, whose credentials come from standard input.
 *
 * An action that starts a job (202 + the job) goes through pvc_submit, so
 * --wait and the exit statuses work as they do for VMs; one that answers
 * at once (200 with the object, or 204) prints the answer, if any.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

struct action {
    const char *coll, *word, *method, *suffix; /* suffix NULL: the object itself */
    int job;
    const char *flags;                          /* besides --wait for a job */
};

static const struct action actions[] = {
    {"host", "maintenance", "POST", "maintenance", 1, "evacuate"},
    {"host", "maintenance-exit", "POST", "maintenance/exit", 1, ""},
    {"connection", "sync", "POST", "sync", 1, ""},
    {"connection", "delete", "DELETE", NULL, 1, ""},
    {"job", "cancel", "POST", "cancel", 1, ""},
    {"job", "restart", "POST", "restart", 1, ""},
    {"schedule", "run", "POST", "run", 1, ""},
    {"schedule", "enable", "POST", "enable", 0, ""},
    {"schedule", "disable", "POST", "disable", 0, ""},
    {"schedule", "delete", "DELETE", NULL, 0, ""},
    {"plan", "approve", "POST", "approve", 1, ""},
    {"plan", "reject", "POST", "reject", 0, ""},
};

/* "sync|delete" for a collection, into buf. */
static void words_of(const char *coll, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i].coll, coll) == 0 && used < size)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", used ? "|" : "",
                                     actions[i].word);
}

const char *pvc_action_usage(const char *coll, char *buf, size_t size)
{
    char words[128];

    words_of(coll, words, sizeof words);
    if (!words[0])
        return NULL;
    snprintf(buf, size, "polyvisor %s %s%s ID [--wait]%s", coll,
             strcmp(coll, "connection") == 0 ? "add ... | " : "", words,
             strcmp(coll, "host") == 0 ? " (maintenance: [--evacuate live|quick|none])" : "");
    return buf;
}

static const char add_usage[] =
    "polyvisor connection add --type TYPE --url URL [--token-stdin | --user NAME --password-stdin] "
    "[--skip-tls-verify] [--wait]";

/* connection add: the secret is read from stdin, never taken as an argument */
static int add(struct pvc *c)
{
    json_t *body = json_object();
    char line[4096];
    int rc;

    if ((rc = pvc_check(c, 2, 0, 0, "type,url,token-stdin,user,password-stdin,skip-tls-verify,wait",
                        add_usage)))
        goto out;
    if (!pvc_flag(c, "type") || !pvc_flag(c, "url")) {
        rc = pvc_usage(add_usage, "connection add needs --type and --url");
        goto out;
    }
    if (pvc_has(c, "token-stdin") + pvc_has(c, "password-stdin") > 1 ||
        (pvc_has(c, "password-stdin") && !pvc_flag(c, "user"))) {
        rc = pvc_usage(add_usage, "either --token-stdin, or --user with --password-stdin");
        goto out;
    }
    json_object_set_new(body, "type", json_string(pvc_flag(c, "type")));
    json_object_set_new(body, "url", json_string(pvc_flag(c, "url")));
    if (pvc_flag(c, "user"))
        json_object_set_new(body, "username", json_string(pvc_flag(c, "user")));
    if (pvc_has(c, "skip-tls-verify"))
        json_object_set_new(body, "insecure", json_true());
    if (pvc_has(c, "token-stdin") || pvc_has(c, "password-stdin")) {
        if (!fgets(line, sizeof line, stdin)) {
            rc = pvc_usage(add_usage, "no secret on standard input");
            goto out;
        }
        line[strcspn(line, "\r\n")] = '\0';
        json_object_set_new(body, pvc_has(c, "token-stdin") ? "token" : "password", json_string(line));
        memset(line, 0, sizeof line);
    }
    if ((rc = pvc_connect(c, 1)))
        goto out;
    rc = pvc_submit(c, "POST", "/api/v1/connections", body);
out:
    json_decref(body);
    return rc;
}

int pvc_object_action(struct pvc *c, const char *path, const char *what, int named,
                      const char *not_found)
{
    const char *coll = c->words[0], *sub = c->words[1];
    const struct action *a = NULL;
    struct pv_buf url = PV_BUF_INIT, raw = PV_BUF_INIT;
    char usage[256], allowed[64], *id = NULL, *esc;
    json_t *body = NULL, *ans = NULL;
    int rc;

    if (strcmp(coll, "connection") == 0 && strcmp(sub, "add") == 0)
        return add(c);
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i].coll, coll) == 0 && strcmp(actions[i].word, sub) == 0)
            a = &actions[i];
    if (!a)
        return -1;
    pvc_action_usage(coll, usage, sizeof usage);
    snprintf(allowed, sizeof allowed, "%s%s%s", a->flags, a->flags[0] ? "," : "", a->job ? "wait" : "");
    if ((rc = pvc_check(c, 2, 1, 1, allowed, usage)) || (rc = pvc_connect(c, 1)))
        return rc;
    if (named) {
        if ((rc = pvc_resolve(c, path, what, not_found, c->words[2], &id)))
            goto out;
    } else if (!(id = strdup(c->words[2]))) {
        pv_fail(&c->err, out_of_memory, "out of memory");
        rc = PVC_API;
        goto out;
    }
    if (pvc_flag(c, "evacuate"))
        body = json_pack("{s:s}", "evacuate", pvc_flag(c, "evacuate"));
    esc = pvc_escape(id);
    pv_buf_addf(&url, "/api/v1/%s/%s%s%s", path, esc, a->suffix ? "/" : "", a->suffix ? a->suffix : "");
    free(esc);
    if (a->job) {
        rc = pvc_submit(c, a->method, pv_buf_str(&url), body);
    } else if ((rc = pvc_call(c, a->method, pv_buf_str(&url), body, &raw, &ans)) == 0 && ans) {
        if (c->out == PVC_OUT_JSON) {
            pvc_print_raw(&raw);
        } else {
            pvc_print_object(c, ans);
        }
    }
out:
    json_decref(body);
    json_decref(ans);
    pv_buf_free(&url);
    pv_buf_free(&raw);
    free(id);
    return rc;
}
