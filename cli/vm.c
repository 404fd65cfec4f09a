/* vm.c -- the VM commands (create, the power actions, migrate, delete) and
 * `placement rate`, which asks the same engine where such a VM would go.
 *
 * Every action is the API's (DESIGN.md, "The contract"): `stop` is the
 * graceful shutdown (POST .../shutdown), `poweroff` pulls the plug.  VMs,
 * hosts and host groups are taken by id or name (api.c, pvc_resolve).
 * --disk and --nic take key=value lists that become the API's disk and NIC
 * objects as they are (size_gb=20,pool=default -> {"size_gb": 20, "pool":
 * "default"}): the server checks them and names what is wrong, so the CLI
 * learns no rule of its own that could drift from the server's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

static const char vm_usage[] =
    "polyvisor vm list|get|create|start|stop|poweroff|reboot|pause|resume|save|delete|migrate ...\n"
    "  vm create --name N --vcpus N --memory-mb N [--host H] [--disk size_gb=N,pool=P]... "
    "[--nic network=NET]... [--ha off|low|medium|high] [--tag T]... [--wait]\n"
    "  vm start|stop|poweroff|reboot|pause|resume|save|delete VM [--wait]\n"
    "  vm migrate VM [--host H] [--mode live|quick] [--wait]";

/* "k=v,k2=v2" as a JSON object; numbers stay numbers. */
static json_t *key_values(const char *flag, const char *text)
{
    json_t *o = json_object();
    char *copy = strdup(text);

    for (char *save = NULL, *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '='), *end;
        long long n;
        if (!eq || eq == kv) {
            pvc_usage(vm_usage, "--%s takes key=value pairs separated by commas, not '%s'", flag, kv);
            json_decref(o);
            o = NULL;
            break;
        }
        *eq = '\0';
        errno = 0;
        n = strtoll(eq + 1, &end, 10);
        if (eq[1] && !*end && !errno)
            json_object_set_new(o, kv, json_integer(n));
        else if (!strcmp(eq + 1, "true") || !strcmp(eq + 1, "false"))
            json_object_set_new(o, kv, json_boolean(!strcmp(eq + 1, "true")));
        else
            json_object_set_new(o, kv, json_string(eq + 1));
    }
    free(copy);
    return o;
}

/* Every --flag of a repeated kind into an array of objects (or strings). */
static int repeated(const struct pvc *c, const char *flag, int objects, json_t *into)
{
    for (int i = 0; i < c->nflags; i++) {
        json_t *v;
        if (strcmp(c->flags[i].name, flag) != 0)
            continue;
        v = objects ? key_values(flag, c->flags[i].value) : json_string(c->flags[i].value);
        if (!v)
            return PVC_USAGE;
        json_array_append_new(into, v);
    }
    return 0;
}

/* The VM's shape from --vcpus, --memory-mb, --disk, --nic, --tag (and
 * --ha, --vendor where given): for create and for placement rate. */
static int vm_shape(struct pvc *c, json_t *vm, int for_create)
{
    long long vcpus, mem;
    json_t *disks = json_array(), *nics = json_array(), *tags = json_array();
    int rc = 0;

    if (!pvc_has(c, "vcpus") || !pvc_has(c, "memory-mb")) {
        rc = pvc_usage(vm_usage, "--vcpus and --memory-mb are needed");
        goto out;
    }
    if (pvc_int_flag(c, "vcpus", 1, &vcpus) || pvc_int_flag(c, "memory-mb", 1, &mem) ||
        repeated(c, "disk", 1, disks) || repeated(c, "nic", 1, nics) ||
        repeated(c, "tag", 0, tags)) {
        rc = PVC_USAGE;
        goto out;
    }
    json_object_set_new(vm, "vcpus", json_integer(vcpus));
    json_object_set_new(vm, "memory_mb", json_integer(mem));
    if (json_array_size(disks))
        json_object_set(vm, "disks", disks);
    if (json_array_size(nics))
        json_object_set(vm, "nics", nics);
    if (json_array_size(tags))
        json_object_set(vm, "tags", tags);
    if (for_create && pvc_flag(c, "ha"))
        json_object_set_new(vm, "ha", json_string(pvc_flag(c, "ha")));
    if (!for_create && pvc_flag(c, "vendor"))
        json_object_set_new(vm, "vendor", json_string(pvc_flag(c, "vendor")));
out:
    json_decref(disks);
    json_decref(nics);
    json_decref(tags);
    return rc;
}

static int create(struct pvc *c)
{
    json_t *body = json_object();
    char *host = NULL;
    int rc;

    if ((rc = pvc_check(c, 2, 0, 0, "name,vcpus,memory-mb,host,disk,nic,ha,tag,wait", vm_usage)))
        goto out;
    if (!pvc_flag(c, "name")) {
        rc = pvc_usage(vm_usage, "vm create needs --name");
        goto out;
    }
    json_object_set_new(body, "name", json_string(pvc_flag(c, "name")));
    if ((rc = vm_shape(c, body, 1)) || (rc = pvc_connect(c, 1)))
        goto out;
    if (pvc_flag(c, "host")) {
        if ((rc = pvc_resolve(c, "hosts", "host", "host_not_found", pvc_flag(c, "host"), &host)))
            goto out;
        json_object_set_new(body, "host_id", json_string(host));
    }
    rc = pvc_submit(c, "POST", "/api/v1/vms", body);
out:
    json_decref(body);
    free(host);
    return rc;
}

/* start, stop, ..., delete and migrate: one VM, one job. */
static int action(struct pvc *c, const char *sub)
{
    static const struct {
        const char *word, *method, *path;
    } acts[] = {
        {"start", "POST", "start"},       {"stop", "POST", "shutdown"},
        {"shutdown", "POST", "shutdown"}, {"poweroff", "POST", "poweroff"},
        {"reboot", "POST", "reboot"},     {"pause", "POST", "pause"},
        {"resume", "POST", "resume"},     {"save", "POST", "save"},
        {"delete", "DELETE", NULL},       {"migrate", "POST", "migrate"},
    };
    int migrate = strcmp(sub, "migrate") == 0, rc;
    struct pv_buf path = PV_BUF_INIT;
    char *vm = NULL, *host = NULL, *esc;
    json_t *body = NULL;
    size_t i;

    for (i = 0; i < sizeof acts / sizeof acts[0]; i++)
        if (strcmp(acts[i].word, sub) == 0)
            break;
    if (i == sizeof acts / sizeof acts[0])
        return pvc_usage(vm_usage, "vm has no subcommand '%s'", sub);
    if ((rc = pvc_check(c, 2, 1, 1, migrate ? "wait,host,mode" : "wait", vm_usage)) ||
        (rc = pvc_connect(c, 1)))
        return rc;
    if ((rc = pvc_resolve(c, "vms", "VM", "vm_not_found", c->words[2], &vm)))
        goto out;
    if (migrate) {
        body = json_object();
        if (pvc_flag(c, "host")) {
            if ((rc = pvc_resolve(c, "hosts", "host", "host_not_found", pvc_flag(c, "host"), &host)))
                goto out;
            json_object_set_new(body, "host_id", json_string(host));
        }
        if (pvc_flag(c, "mode"))
            json_object_set_new(body, "mode", json_string(pvc_flag(c, "mode")));
    }
    esc = pvc_escape(vm);
    pv_buf_addf(&path, "/api/v1/vms/%s%s%s", esc, acts[i].path ? "/" : "",
                acts[i].path ? acts[i].path : "");
    free(esc);
    rc = pvc_submit(c, acts[i].method, pv_buf_str(&path), body);
out:
    json_decref(body);
    pv_buf_free(&path);
    free(vm);
    free(host);
    return rc;
}

int cmd_vm(struct pvc *c)
{
    const char *sub = c->nwords > 1 ? c->words[1] : NULL;

    if (!sub)
        return pvc_usage(vm_usage, "vm needs a subcommand");
    if (strcmp(sub, "list") == 0 || strcmp(sub, "get") == 0)
        return cmd_collection(c);
    if (strcmp(sub, "create") == 0)
        return create(c);
    return action(c, sub);
}

/* ---- placement rate ---- */

static const char rate_usage[] =
    "polyvisor placement rate (--vm VM | --vcpus N --memory-mb N [--vendor V] [--disk ..] "
    "[--nic ..] [--tag T]) [--host-group HG] [--limit N]";

/* "★★★★½" for 4.5, padded with ☆ to five. */
static void stars(double s, struct pv_buf *b)
{
    int halves = (int)(s * 2 + 0.5);

    for (int i = 0; i < 5; i++, halves -= 2)
        pv_buf_adds(b, halves >= 2 ? "\u2605" : halves == 1 ? "\u00bd" : "\u2606");
}

/* " key=value" for each field of a filter's detail */
static void detail(json_t *d, struct pv_buf *b)
{
    const char *k;
    json_t *v;

    json_object_foreach(d, k, v) {
        char *s = pvc_cell(v);
        pv_buf_addf(b, " %s=%s", k, s);
        free(s);
    }
}

static void print_ratings(const struct pvc *c, json_t *ans)
{
    const char *chosen = json_string_value(json_object_get(ans, "chosen_host_id"));
    size_t i, j;
    json_t *h, *f;

    if (c->out == PVC_OUT_NAME) {
        json_array_foreach(json_object_get(ans, "items"), i, h)
            puts(json_string_value(json_object_get(h, "host_id")));
        return;
    }
    if (!c->no_headers)
        printf("%-26s  %-16s  %-9s  %5s  %s\n", "HOST_ID", "NAME", "STARS", "SCORE", "VERDICT");
    json_array_foreach(json_object_get(ans, "items"), i, h) {
        const char *id = json_string_value(json_object_get(h, "host_id"));
        const char *name = json_string_value(json_object_get(h, "host_name"));
        double st = json_number_value(json_object_get(h, "stars"));
        struct pv_buf b = PV_BUF_INIT, why = PV_BUF_INIT;
        int failed = 0;

        stars(st, &b);
        pv_buf_addf(&b, " %.1f", st);
        /* an ineligible host: the filters it failed, with their numbers;
         * an eligible one: what each weight gave */
        json_array_foreach(json_object_get(h, "filters"), j, f) {
            if (json_is_true(json_object_get(f, "passed")))
                continue;
            pv_buf_addf(&why, "\n    %s: %s", json_string_value(json_object_get(f, "name")),
                        json_string_value(json_object_get(f, "code"))
                            ? json_string_value(json_object_get(f, "code")) : "refused");
            detail(json_object_get(f, "detail"), &why);
            failed = 1;
        }
        if (!failed)
            json_array_foreach(json_object_get(h, "weights"), j, f)
                pv_buf_addf(&why, "\n    %s: value=%.3g contribution=%.3g",
                            json_string_value(json_object_get(f, "name")),
                            json_number_value(json_object_get(f, "value")),
                            json_number_value(json_object_get(f, "contribution")));
        printf("%-26s  %-16s  %s  %5.1f  %s%s\n", id ? id : "-", name ? name : "-", pv_buf_str(&b),
               json_number_value(json_object_get(h, "score")),
               failed ? "not eligible" : chosen && id && !strcmp(chosen, id) ? "chosen" : "eligible",
               pv_buf_str(&why));
        pv_buf_free(&b);
        pv_buf_free(&why);
    }
}

int cmd_placement(struct pvc *c)
{
    struct pv_buf raw = PV_BUF_INIT;
    json_t *body = json_object(), *ans = NULL, *vm;
    char *id = NULL;
    long long limit;
    int rc;

    if (c->nwords < 2 || strcmp(c->words[1], "rate") != 0) {
        rc = pvc_usage(rate_usage, "placement needs 'rate'");
        goto out;
    }
    if ((rc = pvc_check(c, 2, 0, 0, "vm,vcpus,memory-mb,vendor,disk,nic,tag,host-group,limit",
                        rate_usage)))
        goto out;
    if (pvc_has(c, "limit")) {
        if (pvc_int_flag(c, "limit", 1, &limit)) {
            rc = PVC_USAGE;
            goto out;
        }
        json_object_set_new(body, "limit", json_integer(limit));
    }
    if (!pvc_flag(c, "vm")) {
        vm = json_object();
        json_object_set_new(body, "vm", vm);
        if ((rc = vm_shape(c, vm, 0)))
            goto out;
    }
    if ((rc = pvc_connect(c, 1)))
        goto out;
    if (pvc_flag(c, "vm")) {
        if ((rc = pvc_resolve(c, "vms", "VM", "vm_not_found", pvc_flag(c, "vm"), &id)))
            goto out;
        json_object_set_new(body, "vm_id", json_string(id));
        free(id);
        id = NULL;
    }
    if (pvc_flag(c, "host-group")) {
        if ((rc = pvc_resolve(c, "host-groups", "host group", "host_group_not_found",
                              pvc_flag(c, "host-group"), &id)))
            goto out;
        json_object_set_new(body, "host_group_id", json_string(id));
    }
    if ((rc = pvc_call(c, "POST", "/api/v1/placement/ratings", body, &raw, &ans)))
        goto out;
    if (c->out == PVC_OUT_JSON) {
        pvc_print_raw(&raw);
    } else {
        print_ratings(c, ans);
    }
out:
    json_decref(body);
    json_decref(ans);
    free(id);
    pv_buf_free(&raw);
    return rc;
}
