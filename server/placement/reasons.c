/* reasons.c -- the words of placement's explanations (see reasons.h).
 *
 * Two tables: the reason codes with their phrases, and the filters and
 * weights with what they measure.  A filter's figures are read back from the
 * verdict's detail -- the very numbers a script sees -- so the words cannot
 * say something the numbers do not.  Sizes are written as the web UI writes
 * them (MiB, GiB, TiB: "1 GiB", "1.5 GiB").  Only explained ratings (the
 * best few) get messages, so none of this runs per host of a large rating.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/buf.h"
#include "server/placement/reasons.h"

/* A key (a reason code, a weight's name) and its words. */
struct words {
    const char *key, *text;
};

static const struct words reasons[] = {
    {"in_maintenance", "the host is in maintenance mode"},
    {"disconnected", "the host is disconnected or failed"},
    {"vendor_mismatch", "the VM's hypervisor type does not match this host"},
    {"current_host", "the VM already runs on this host"},
    {"out_of_scope", "the host is outside the chosen host group"},
    {"excluded", "the plan is emptying this host"},
    {"insufficient_memory", "not enough free memory"},
    {"host_reserve", "it would eat into the host's reserve"},
    {"ha_reserve", "it would use the memory held back for HA restarts"},
    {"insufficient_cpu", "not enough CPU capacity"},
    {"quota", "the host group's quota would be exceeded"},
    {"affinity", "the VM's affinity set runs elsewhere"},
    {"anti_affinity", "another VM of its availability set is on this host"},
    {"tag_rule", "a host-group tag rule forbids it"},
    {"pool_unreachable", "the host does not reach the disk's storage pool"},
    {"insufficient_storage", "the storage pool has too little free space for the disks"},
    {"network_unreachable", "the host does not reach the NIC's network"},
};

static const struct words weights[] = {
    {"memory_headroom", "memory left free after placement, as a share of the host's"},
    {"cpu_headroom", "CPU left after placement (the busier of use and allocation)"},
    {"balance", "how empty the host stays"},
    {"consolidate", "how full the host gets"},
    {"tag_preference", "the share of preferred host tags the host has"},
};

static const char *lookup(const struct words *table, size_t n, const char *key)
{
    for (size_t i = 0; key && i < n; i++)
        if (strcmp(table[i].key, key) == 0)
            return table[i].text;
    return NULL;
}

const char *pv_pl_reason_text(const char *code)
{
    return lookup(reasons, sizeof reasons / sizeof reasons[0], code);
}

/* "snake_case" as "snake case". */
static void add_words(struct pv_buf *b, const char *s)
{
    for (; s && *s; s++)
        pv_buf_add(b, *s == '_' ? " " : s, 1);
}

static const char *str(const json_t *d, const char *key)
{
    return json_string_value(json_object_get(d, key));
}

static double num(const json_t *d, const char *key)
{
    return json_number_value(json_object_get(d, key));
}

static int has(const json_t *d, const char *key)
{
    const json_t *v = json_object_get(d, key);
    return v && !json_is_null(v);
}

/* A size in MB as the web UI writes it (ui.js fmtMB). */
static void add_mb(struct pv_buf *b, const json_t *d, const char *key)
{
    double mb = num(d, key);

    if (!has(d, key))
        pv_buf_adds(b, "?");
    else if (mb >= 1048576)
        pv_buf_addf(b, "%.1f TiB", mb / 1048576);
    else if (mb >= 1024)
        pv_buf_addf(b, (long long)mb % 1024 ? "%.1f GiB" : "%.0f GiB", mb / 1024);
    else
        pv_buf_addf(b, "%lld MiB", (long long)mb);
}

/* ---- each filter's figures ------------------------------------------------ */

static void f_host_state(struct pv_buf *b, const json_t *d)
{
    pv_buf_adds(b, str(d, "state") ? str(d, "state") : "?");
}

static void f_vendor(struct pv_buf *b, const json_t *d)
{
    if (has(d, "vm_vendor"))
        pv_buf_addf(b, "the VM is %s, the host %s", str(d, "vm_vendor"), str(d, "host_vendor"));
    else if (has(d, "reason"))
        pv_buf_addf(b, "%s", str(d, "reason"));
    else
        pv_buf_addf(b, "the host is %s", str(d, "host_vendor") ? str(d, "host_vendor") : "?");
}

static void f_scope(struct pv_buf *b, const json_t *d)
{
    if (has(d, "reason"))
        pv_buf_adds(b, str(d, "reason"));
    else if (has(d, "required_group_id"))
        pv_buf_addf(b, "the host is in %s, outside %s",
                    has(d, "host_group_id") ? str(d, "host_group_id") : "no group",
                    str(d, "required_group_id"));
    else if (has(d, "host_group_id"))
        pv_buf_addf(b, "host group %s", str(d, "host_group_id"));
    else
        pv_buf_adds(b, "any host");
}

static void f_memory(struct pv_buf *b, const json_t *d)
{
    pv_buf_adds(b, "needs ");
    add_mb(b, d, "required_mb");
    pv_buf_adds(b, ", ");
    add_mb(b, d, "free_mb");
    pv_buf_adds(b, " free of ");
    add_mb(b, d, "capacity_mb");
    pv_buf_adds(b, " (used ");
    add_mb(b, d, "used_mb");
    pv_buf_adds(b, ", host reserve ");
    add_mb(b, d, "host_reserve_mb");
    pv_buf_adds(b, ", HA reserve ");
    add_mb(b, d, "ha_reserve_mb");
    pv_buf_adds(b, ")");
}

static void f_cpu(struct pv_buf *b, const json_t *d)
{
    pv_buf_addf(b, "needs %.0f vCPU, %.0f of %.0f vCPUs allocated (%.0f cores × %g), %.1f %% busy",
                num(d, "required_vcpus"), num(d, "allocated_vcpus"), num(d, "vcpu_capacity"),
                num(d, "cores"), num(d, "overcommit"), num(d, "cpu_usage_pct"));
    if (num(d, "host_reserve_pct") > 0)
        pv_buf_addf(b, ", reserve %g %%", num(d, "host_reserve_pct"));
}

static void f_quota(struct pv_buf *b, const json_t *d)
{
    if (!has(d, "quota")) {
        pv_buf_adds(b, "within every quota");
        return;
    }
    pv_buf_addf(b, "host group %s allows %.0f ", str(d, "host_group_id"), num(d, "limit"));
    add_words(b, str(d, "quota"));
    pv_buf_addf(b, ", %.0f used", num(d, "used"));
}

static void f_affinity(struct pv_buf *b, const json_t *d)
{
    const json_t *where = json_object_get(d, "members_on_host_ids");
    size_t i;
    json_t *h;

    if (!has(d, "set")) {
        pv_buf_adds(b, "no affinity set keeps the VM elsewhere");
        return;
    }
    pv_buf_addf(b, "set '%s' runs on ", str(d, "set"));
    json_array_foreach(where, i, h)
        pv_buf_addf(b, "%s%s", i ? ", " : "", json_string_value(h));
    if (!json_array_size(where))
        pv_buf_adds(b, "other hosts");
}

static void f_anti_affinity(struct pv_buf *b, const json_t *d)
{
    if (!has(d, "set"))
        pv_buf_adds(b, "no VM of its availability sets is here");
    else
        pv_buf_addf(b, "set '%s': %s (%s) is here", str(d, "set"), str(d, "vm_name"),
                    str(d, "vm_id"));
}

static void f_tag_rules(struct pv_buf *b, const json_t *d)
{
    if (!has(d, "vm_tag"))
        pv_buf_adds(b, "no tag rule applies");
    else
        pv_buf_addf(b, "a VM tagged '%s' %s a host tagged '%s'; this host %s", str(d, "vm_tag"),
                    strcmp(str(d, "match") ? str(d, "match") : "", "must") == 0 ? "must have"
                                                                               : "must not have",
                    str(d, "host_tag"), json_is_true(json_object_get(d, "host_has_tag"))
                                            ? "has the tag" : "has not");
}

static void f_storage(struct pv_buf *b, const json_t *d)
{
    const char *pool = has(d, "pool") ? str(d, "pool") : str(d, "pool_id");

    if (!pool) {
        pv_buf_adds(b, "the disks' pools are reachable, with room");
    } else if (has(d, "required_mb")) {
        pv_buf_addf(b, "pool %s: needs ", pool);
        add_mb(b, d, "required_mb");
        pv_buf_adds(b, ", ");
        add_mb(b, d, "free_mb");
        pv_buf_adds(b, " free");
    } else {
        pv_buf_addf(b, "pool %s: %s", pool, has(d, "reason") ? str(d, "reason") : "unreachable");
    }
}

static void f_network(struct pv_buf *b, const json_t *d)
{
    const char *net = has(d, "network") ? str(d, "network") : str(d, "network_id");

    if (!net)
        pv_buf_adds(b, "the NICs' networks are reachable");
    else
        pv_buf_addf(b, "network %s: %s", net, has(d, "reason") ? str(d, "reason") : "unreachable");
}

/* A filter not in the table: its detail as "key value, ...". */
static void f_other(struct pv_buf *b, const json_t *d)
{
    const char *k;
    json_t *v;
    int first = 1;

    json_object_foreach((json_t *)d, k, v) {
        char *text = json_is_string(v) ? NULL : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        pv_buf_adds(b, first ? "" : ", ");
        add_words(b, k);
        pv_buf_addf(b, " %s", text ? text : json_string_value(v));
        free(text);
        first = 0;
    }
    if (first)
        pv_buf_adds(b, "no rule applies");
}

static const struct {
    const char *name;
    void (*figures)(struct pv_buf *b, const json_t *detail);
} filters[] = {
    {"host_state", f_host_state}, {"vendor", f_vendor},   {"scope", f_scope},
    {"memory", f_memory},         {"cpu", f_cpu},         {"quota", f_quota},
    {"affinity", f_affinity},     {"anti_affinity", f_anti_affinity},
    {"tag_rules", f_tag_rules},   {"storage", f_storage}, {"network", f_network},
};

json_t *pv_pl_verdict_message(const char *filter, const char *code, const json_t *detail)
{
    struct pv_buf b = PV_BUF_INIT;
    void (*figures)(struct pv_buf *, const json_t *) = f_other;
    json_t *out;

    for (size_t i = 0; filter && i < sizeof filters / sizeof filters[0]; i++)
        if (strcmp(filters[i].name, filter) == 0)
            figures = filters[i].figures;
    if (code) {
        const char *text = pv_pl_reason_text(code);
        if (text)
            pv_buf_adds(&b, text);
        else
            add_words(&b, code);
        pv_buf_adds(&b, " (");
    }
    figures(&b, detail);
    if (code)
        pv_buf_adds(&b, ")");
    out = json_string(pv_buf_str(&b));
    pv_buf_free(&b);
    return out;
}

json_t *pv_pl_weight_message(const char *name, double value, double weight, double contribution)
{
    struct pv_buf b = PV_BUF_INIT;
    const char *text = lookup(weights, sizeof weights / sizeof weights[0], name);
    json_t *out;

    if (text)
        pv_buf_adds(&b, text);
    else
        add_words(&b, name);
    pv_buf_addf(&b, ": %.3f × weight %.2f = %.3f", value, weight, contribution);
    out = json_string(pv_buf_str(&b));
    pv_buf_free(&b);
    return out;
}

json_t *pv_pl_reason_texts(const json_t *counts)
{
    json_t *out = json_object(), *v;
    const char *code;

    json_object_foreach((json_t *)counts, code, v) {
        const char *text = pv_pl_reason_text(code);
        if (text) {
            json_object_set_new(out, code, json_string(text));
        } else {
            struct pv_buf b = PV_BUF_INIT;
            add_words(&b, code);
            json_object_set_new(out, code, json_string(pv_buf_str(&b)));
            pv_buf_free(&b);
        }
    }
    return out;
}

void pv_pl_rejections_text(const json_t *counts, char *buf, size_t size)
{
    const char *code;
    json_t *n;
    size_t len = 0;

    buf[0] = '\0';
    json_object_foreach((json_t *)counts, code, n) {
        const char *text = pv_pl_reason_text(code);
        int w = snprintf(buf + len, size - len, "%s%lld host%s: %s (%s)", len ? "; " : "",
                         (long long)json_integer_value(n), json_integer_value(n) == 1 ? "" : "s",
                         text ? text : code, code);
        if (w < 0 || (size_t)w >= size - len)
            break;
        len += (size_t)w;
    }
}
