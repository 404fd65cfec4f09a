/* collections.c -- `polyvisor <collection> list|get` for every collection
 * the API has (docs/api.md, "Collections"): one table says the word, the
 * path, whether its objects have names to be found by, the table's
 * columns and the not-found code.
 *
 * list passes --filter, --sort, --fields and --limit to the API as they
 * are (one grammar for every collection, the server's), and --all follows
 * next_cursor to the end.  -o json prints the API's bytes as received; with
 * --all, the pages' items joined under one {"items", "next_cursor": null},
 * the shape one page that held them all would have, written page by page
 * as the bytes arrived (splice): 100,000 VMs cost the CLI neither a parse
 * nor the memory of all of them at once.
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

/* The bytes of a page's items as the API sent them, and its next_cursor
 * (malloc'd, NULL at the end), when the page has the shape polyvisord
 * writes, {"items":[...],"next_cursor":...}: --all -o json then copies
 * pages without parsing and writing them again.  -1 for any other shape,
 * which the caller then parses. */
static int splice(const struct pv_buf *raw, const char **items, size_t *len, char **cursor)
{
    static const char head[] = "{\"items\":[", tail[] = "],\"next_cursor\":";
    const size_t hl = sizeof head - 1, tl = sizeof tail - 1;
    size_t end = raw->len;
    json_t *cur;

    while (end > 0 && (raw->s[end - 1] == '\n' || raw->s[end - 1] == ' '))
        end--;
    if (end < hl + tl + 2 || memcmp(raw->s, head, hl) != 0 || raw->s[end - 1] != '}')
        return -1;
    for (size_t i = end - tl - 1; i >= hl; i--) /* the last "]," + next_cursor */
        if (memcmp(raw->s + i, tail, tl) == 0) {
            cur = json_loadb(raw->s + i + tl, end - 1 - (i + tl), JSON_DECODE_ANY, NULL);
            if (!cur || !(json_is_null(cur) || json_is_string(cur))) {
                json_decref(cur);
                return -1;
            }
            *cursor = json_is_string(cur) ? strdup(json_string_value(cur)) : NULL;
            json_decref(cur);
            *items = raw->s + hl;
            *len = i - hl;
            return 0;
        }
    return -1;
}

static int list(struct pvc *c, const struct coll *k)
{
    struct pv_buf base = PV_BUF_INIT, path = PV_BUF_INIT, raw = PV_BUF_INIT;
    static const char *const params[] = {"filter", "sort", "fields", "limit"};
    int all = pvc_has(c, "all"), json = c->out == PVC_OUT_JSON, opened = 0, wrote = 0, rc = 0;
    const char *columns = pvc_flag(c, "fields") ? pvc_flag(c, "fields") : k->columns;
    struct pvc_table *t = NULL;
    json_t *page = NULL, *items, *it;
    char *cursor = NULL;
    const char *bytes;
    long long limit;
    size_t len, i;

    if (pvc_has(c, "limit") && pvc_int_flag(c, "limit", 1, &limit))
        return PVC_USAGE;
    pv_buf_addf(&base, "/api/v1/%s", k->path);
    for (i = 0; i < sizeof params / sizeof params[0]; i++)
        if (pvc_flag(c, params[i]))
            add_param(&base, params[i], pvc_flag(c, params[i]));
    if (all && !pvc_has(c, "limit"))
        add_param(&base, "limit", "1000");
    if (!json && !(t = pvc_table_new(c, columns))) {
        rc = PVC_API;
        pv_fail(&c->err, out_of_memory, "out of memory");
        goto out;
    }
    do {
        pv_buf_reset(&path);
        pv_buf_adds(&path, pv_buf_str(&base));
        if (cursor)
            add_param(&path, "cursor", cursor);
        free(cursor);
        cursor = NULL;
        if ((rc = pvc_call(c, "GET", pv_buf_str(&path), NULL, &raw, NULL)))
            goto out;
        if (json && !all) { /* exactly the API's page */
            pvc_print_raw(&raw);
            goto out;
        }
        if (json && !opened++)
            fputs("{\"items\":[", stdout);
        if (json && splice(&raw, &bytes, &len, &cursor) == 0) {
            if (len && wrote++)
                putchar(',');
            fwrite(bytes, 1, len, stdout);
            continue;
        }
        json_decref(page);
        page = json_loadb(raw.s ? raw.s : "", raw.len, 0, NULL);
        items = json_object_get(page, "items");
        if (!json_is_array(items)) {
            pv_fail(&c->err, bad_response, "GET %s: no items in the answer", pv_buf_str(&path));
            rc = PVC_API;
            goto out;
        }
        if (json) {
            json_array_foreach(items, i, it) {
                if (wrote++)
                    putchar(',');
                json_dumpf(it, stdout, JSON_COMPACT);
            }
        } else {
            pvc_table_add(t, items);
        }
        if (json_string_value(json_object_get(page, "next_cursor")))
            cursor = strdup(json_string_value(json_object_get(page, "next_cursor")));
    } while (all && cursor);
    if (json) {
        /* one page that held them all would look like this */
        fputs("],\"next_cursor\":null}\n", stdout);
    } else {
        pvc_table_print(t);
        t = NULL;
        if (cursor && c->out == PVC_OUT_TABLE && c->tty_err)
            fprintf(stderr, "(more: --all, or --limit N)\n");
    }
out:
    pvc_table_free(t);
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
        pvc_print_raw(&raw);
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
    char usage[512], more[256];
    const char *acts = pvc_action_usage(k->word, more, sizeof more);
    int rc;

    snprintf(usage, sizeof usage, "polyvisor %s list [--filter F] [--sort S] [--fields F] [--limit N] [--all]"
             " | get %s%s%s", k->word, k->named ? "ID|NAME" : "ID", acts ? "\n       " : "",
             acts ? acts : "");
    if (!sub)
        return pvc_usage(usage, "%s needs a subcommand", k->word);
    if (strcmp(sub, "list") == 0) {
        rc = pvc_check(c, 2, 0, 0, "filter,sort,fields,limit,all", usage);
    } else if (strcmp(sub, "get") == 0) {
        rc = pvc_check(c, 2, 1, 1, "fields", usage);
    } else {
        rc = pvc_object_action(c, k->path, k->what, k->named, k->not_found);
        return rc >= 0 ? rc : pvc_usage(usage, "%s has no subcommand '%s'", k->word, sub);
    }
    if (rc || (rc = pvc_connect(c, 1)))
        return rc;
    return strcmp(sub, "list") == 0 ? list(c, k) : get(c, k, c->words[2]);
}

int pvc_is_collection(const char *word)
{
    return find(word) != NULL;
}
