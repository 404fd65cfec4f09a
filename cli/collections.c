/* collections.c -- `polyvisor <collection> list|get` for every collection
 * the API has (docs/api.md, "Collections"): one table says the word, the
 * path, whether its objects have names to be found by, the table's
 * columns and the not-found code.
 *
 * list passes --filter, --sort, --fields and --limit to the API as they
 * are (one grammar for every collection, the server's), and --all follows
 * next_cursor to the end.  -o json prints the API's bytes as received; with
 * --all, the pages' items joined under one {"items", "next_cursor": null},
 * the shape one page that held them all would have.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

struct coll {
    const char *word, *path, *what;
    int named;
    const char *columns, *not_found;
};

static const struct coll colls[] = {
    {"vm", "vms", "VM", 1, "id,name,power_state,host_id,vcpus,memory_mb,ha", "vm_not_found"},
    {"host", "hosts", "host", 1, "id,name,vendor,state,cpu_cores,memory_mb,memory_used_mb,cpu_usage_pct",
     "host_not_found"},
    {"cluster", "clusters", "cluster", 1, "id,name,vendor,connection_id,host_group_id",
     "cluster_not_found"},
    {"host-group", "host-groups", "host group", 1, "id,name,parent_id,description",
     "host_group_not_found"},
    {"connection", "connections", "connection", 1, "id,type,name,url,state,last_error",
     "connection_not_found"},
    {"job", "jobs", "job", 0, "id,kind,state,progress,target_id,error_code,created_at",
     "job_not_found"},
    {"event", "events", "event", 0, "id,time,severity,object_id,message", "event_not_found"},
    {"schedule", "schedules", "schedule", 1, "id,name,kind,enabled,next_run_at,last_run_at",
     "schedule_not_found"},
    {"plan", "plans", "plan", 0, "id,kind,state,host_group_id,created_at", "plan_not_found"},
    {"storage-pool", "storage-pools", "storage pool", 1,
     "id,name,vendor,kind,capacity_mb,free_mb,shared", "storage_pool_not_found"},
    {"network", "networks", "network", 1, "id,name,vendor,kind,vlan", "network_not_found"},
};

static const struct coll *find(const char *word)
{
    for (size_t i = 0; i < sizeof colls / sizeof colls[0]; i++)
        if (strcmp(colls[i].word, word) == 0)
            return &colls[i];
    return NULL;
}

const char *pvc_collection_words(void)
{
    return "vm host cluster host-group connection job event schedule plan storage-pool network";
}

static void add_param(struct pv_buf *q, const char *name, const char *value)
{
    char *e = pvc_escape(value);
    pv_buf_addf(q, "%c%s=%s", strchr(pv_buf_str(q), '?') ? '&' : '?', name, e);
    free(e);
}

static int list(struct pvc *c, const struct coll *k)
{
    struct pv_buf base = PV_BUF_INIT, path = PV_BUF_INIT, raw = PV_BUF_INIT;
    static const char *const params[] = {"filter", "sort", "fields", "limit"};
    int all = pvc_has(c, "all"), rc = 0;
    json_t *items = json_array(), *page = NULL;
    char *cursor = NULL;
    long long limit;

    if (pvc_has(c, "limit") && pvc_int_flag(c, "limit", 1, &limit))
        return PVC_USAGE;
    pv_buf_addf(&base, "/api/v1/%s", k->path);
    for (size_t i = 0; i < sizeof params / sizeof params[0]; i++)
        if (pvc_flag(c, params[i]))
            add_param(&base, params[i], pvc_flag(c, params[i]));
    if (all && !pvc_has(c, "limit"))
        add_param(&base, "limit", "1000");
    do {
        pv_buf_reset(&path);
        pv_buf_adds(&path, pv_buf_str(&base));
        if (cursor)
            add_param(&path, "cursor", cursor);
        json_decref(page);
        if ((rc = pvc_call(c, "GET", pv_buf_str(&path), NULL, &raw, &page)))
            goto out;
        if (!json_is_array(json_object_get(page, "items"))) {
            pv_fail(&c->err, bad_response, "GET %s: no items in the answer", pv_buf_str(&path));
            rc = PVC_API;
            goto out;
        }
        if (!all && c->out == PVC_OUT_JSON) { /* exactly the API's page */
            fwrite(raw.s, 1, raw.len, stdout);
            if (raw.len && raw.s[raw.len - 1] != '\n')
                putchar('\n');
            goto out;
        }
        json_array_extend(items, json_object_get(page, "items"));
        free(cursor);
        cursor = json_string_value(json_object_get(page, "next_cursor"))
                     ? strdup(json_string_value(json_object_get(page, "next_cursor"))) : NULL;
    } while (all && cursor);
    if (c->out == PVC_OUT_JSON) {
        json_t *whole = json_pack("{s:O, s:n}", "items", items, "next_cursor");
        json_dumpf(whole, stdout, JSON_COMPACT);
        putchar('\n');
        json_decref(whole);
    } else {
        pvc_print_items(c, items, pvc_flag(c, "fields") ? pvc_flag(c, "fields") : k->columns);
        if (cursor && c->out == PVC_OUT_TABLE && c->tty_err)
            fprintf(stderr, "(more: --all, or --limit N)\n");
    }
out:
    json_decref(items);
    json_decref(page);
    free(cursor);
    pv_buf_free(&base);
    pv_buf_free(&path);
    pv_buf_free(&raw);
    return rc;
}

static int get(struct pvc *c, const struct coll *k, const char *arg)
{
    struct pv_buf path = PV_BUF_INIT, raw = PV_BUF_INIT;
    char *id = NULL, *esc;
    json_t *obj = NULL;
    int rc;

    if (k->named) {
        if ((rc = pvc_resolve(c, k->path, k->what, k->not_found, arg, &id)))
            goto out;
        arg = id;
    }
    esc = pvc_escape(arg);
    pv_buf_addf(&path, "/api/v1/%s/%s", k->path, esc);
    free(esc);
    if (pvc_has(c, "fields")) {
        esc = pvc_escape(pvc_flag(c, "fields"));
        pv_buf_addf(&path, "?fields=%s", esc);
        free(esc);
    }
    if ((rc = pvc_call(c, "GET", pv_buf_str(&path), NULL, &raw, &obj)))
        goto out;
    if (c->out == PVC_OUT_JSON) {
        fwrite(raw.s, 1, raw.len, stdout);
        if (raw.len && raw.s[raw.len - 1] != '\n')
            putchar('\n');
    } else if (pvc_has(c, "fields")) {
        /* a table of the fields asked for, whether or not the API chose */
        json_t *rows = json_pack("[O]", obj);
        pvc_print_items(c, rows, pvc_flag(c, "fields"));
        json_decref(rows);
    } else {
        pvc_print_object(c, obj);
    }
out:
    json_decref(obj);
    free(id);
    pv_buf_free(&path);
    pv_buf_free(&raw);
    return rc;
}

int cmd_collection(struct pvc *c)
{
    const struct coll *k = find(c->words[0]);
    const char *sub = c->nwords > 1 ? c->words[1] : NULL;
    char usage[160];
    int rc;

    snprintf(usage, sizeof usage, "polyvisor %s list [--filter F] [--sort S] [--fields F] [--limit N] [--all]"
             " | get %s", k->word, k->named ? "ID|NAME" : "ID");
    if (!sub)
        return pvc_usage(usage, "%s needs a subcommand", k->word);
    if (strcmp(sub, "list") == 0)
        rc = pvc_check(c, 2, 0, 0, "filter,sort,fields,limit,all", usage);
    else if (strcmp(sub, "get") == 0)
        rc = pvc_check(c, 2, 1, 1, "fields", usage);
    else
        return pvc_usage(usage, "%s has no subcommand '%s'", k->word, sub);
    if (rc || (rc = pvc_connect(c, 1)))
        return rc;
    return strcmp(sub, "list") == 0 ? list(c, k) : get(c, k, c->words[2]);
}

int pvc_is_collection(const char *word)
{
    return find(word) != NULL;
}
