/* plugins.c -- see plugins.h.  The table of loaded adapters is written only
 * during start-up (before any other thread runs) and read-only afterwards. */
#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/core/config.h"
#include "server/core/log.h"
#include "server/inventory/plugins.h"

#define MAX_ADAPTERS 16

struct loaded {
    void *handle;
    const struct pv_adapter *a;
    char file[256];
};

static struct loaded adapters[MAX_ADAPTERS];
static int nadapters;

static const struct {
    uint64_t bit;
    const char *name;
} cap_names[] = {
    {PV_CAP_SYNC, "sync"},
    {PV_CAP_EVENTS, "events"},
    {PV_CAP_CREATE, "create"},
    {PV_CAP_DELETE, "delete"},
    {PV_CAP_POWER, "power"},
    {PV_CAP_SHUTDOWN, "shutdown"},
    {PV_CAP_PAUSE, "pause"},
    {PV_CAP_SAVE, "save"},
    {PV_CAP_LIVE_MIGRATE, "live_migrate"},
    {PV_CAP_QUICK_MIGRATE, "quick_migrate"},
    {PV_CAP_CLONE, "clone"},
    {PV_CAP_STATS, "stats"},
    {PV_CAP_CONSOLE, "console"},
    {PV_CAP_MAINTENANCE, "maintenance"},
    {PV_CAP_RECONFIGURE, "reconfigure"},
    {PV_CAP_PROBE, "probe"},
    {PV_CAP_HA_RESTART, "ha_restart"},
    {PV_CAP_MIGRATE_IN_CONNECTION, "migrate_in_connection"},
    {PV_CAP_DEVICES, "devices"},
    {PV_CAP_SNAPSHOTS, "snapshots"},
};

const char *pv_cap_name(uint64_t cap)
{
    for (size_t i = 0; i < sizeof cap_names / sizeof cap_names[0]; i++)
        if (cap_names[i].bit == cap)
            return cap_names[i].name;
    return "unknown";
}

static void load_one(const char *dir, const char *name)
{
    char path[1024];
    void *h;
    pv_adapter_entry_fn entry;
    const struct pv_adapter *a;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        pv_log(PV_LOG_ERROR, "adapters", "event=refused file=%s reason=\"%s\"", path, dlerror());
        return;
    }
    *(void **)&entry = dlsym(h, "pv_adapter_entry");
    a = entry ? entry() : NULL;
    if (!a) {
        pv_log(PV_LOG_ERROR, "adapters", "event=refused file=%s reason=\"no pv_adapter_entry\"",
               path);
        goto refuse;
    }
    if (a->abi != PV_ADAPTER_ABI) {
        pv_log(PV_LOG_ERROR, "adapters",
               "event=refused file=%s reason=\"ABI version %u, this polyvisord speaks %u\"", path,
               a->abi, PV_ADAPTER_ABI);
        goto refuse;
    }
    if (!a->name || !a->open || !a->close) {
        pv_log(PV_LOG_ERROR, "adapters", "event=refused file=%s reason=\"incomplete table\"",
               path);
        goto refuse;
    }
    if (pv_plugins_find(a->name)) {
        pv_log(PV_LOG_ERROR, "adapters", "event=refused file=%s reason=\"type %s already loaded\"",
               path, a->name);
        goto refuse;
    }
    if (nadapters == MAX_ADAPTERS) {
        pv_log(PV_LOG_ERROR, "adapters", "event=refused file=%s reason=\"too many adapters\"", path);
        goto refuse;
    }
    adapters[nadapters].handle = h;
    adapters[nadapters].a = a;
    snprintf(adapters[nadapters].file, sizeof adapters[nadapters].file, "%s", name);
    nadapters++;
    pv_log(PV_LOG_INFO, "adapters", "event=loaded type=%s version=%s file=%s", a->name,
           a->version ? a->version : "?", path);
    return;
refuse:
    dlclose(h);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int pv_plugins_load(const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, by_name);

    if (n < 0) {
        pv_log(PV_LOG_WARN, "adapters", "event=no_adapter_dir dir=%s", dir);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]->d_name);
        if (len > 3 && strcmp(names[i]->d_name + len - 3, ".so") == 0)
            load_one(dir, names[i]->d_name);
        free(names[i]);
    }
    free(names);
    return nadapters;
}

/* Is setting key "TYPE.KEY" one for this type? */
static int setting_of(const char *key, const char *type)
{
    size_t n = strlen(type);
    return strncmp(key, type, n) == 0 && key[n] == '.';
}

int pv_plugins_configure(const struct pv_config *cfg, struct pv_error *err)
{
    for (int s = 0; s < cfg->nadapter_settings; s++) {
        int known = 0;
        for (int i = 0; i < nadapters; i++)
            known |= setting_of(cfg->adapter_settings[s].key, adapters[i].a->name);
        if (!known)
            pv_log(PV_LOG_WARN, "adapters", "event=setting_ignored key=%s reason=\"no adapter of that type\"",
                   cfg->adapter_settings[s].key);
    }
    for (int i = 0; i < nadapters; i++) {
        const struct pv_adapter *a = adapters[i].a;
        const char *keys[PV_CONFIG_MAX_ADAPTER_SETTINGS], *values[PV_CONFIG_MAX_ADAPTER_SETTINGS];
        struct pv_adapter_settings set = {.data_dir = cfg->data_dir, .keys = keys, .values = values};
        if (!a->configure)
            continue;
        for (int s = 0; s < cfg->nadapter_settings; s++)
            if (setting_of(cfg->adapter_settings[s].key, a->name)) {
                keys[set.n] = cfg->adapter_settings[s].key + strlen(a->name) + 1;
                values[set.n++] = cfg->adapter_settings[s].value;
            }
        if (a->configure(&set, err)) {
            char msg[sizeof err->message];
            snprintf(msg, sizeof msg, "%s", err->message);
            return pv_fail(err, invalid_config, "adapter %s: %s", a->name, msg);
        }
    }
    return 0;
}

size_t pv_plugins_types(const char **out, size_t max)
{
    size_t n = 0;

    for (int i = 0; i < nadapters && n < max; i++)
        out[n++] = adapters[i].a->name;
    return n;
}

int pv_plugins_has(const char *type, uint64_t cap)
{
    const struct pv_adapter *a = pv_plugins_find(type);
    return a && (a->caps & cap) == cap;
}

const struct pv_adapter *pv_plugins_find(const char *type)
{
    for (int i = 0; i < nadapters; i++)
        if (type && strcmp(adapters[i].a->name, type) == 0)
            return adapters[i].a;
    return NULL;
}

json_t *pv_plugins_json(void)
{
    json_t *arr = json_array();

    for (int i = 0; i < nadapters; i++) {
        const struct pv_adapter *a = adapters[i].a;
        json_t *caps = json_array();
        for (size_t k = 0; k < sizeof cap_names / sizeof cap_names[0]; k++)
            if (a->caps & cap_names[k].bit)
                json_array_append_new(caps, json_string(cap_names[k].name));
        static const char *const creds[] = {"none", "token", "password"};
        static const char *const web[] = {"https", "http", NULL};
        json_t *schemes = json_array();
        for (const char *const *sc = a->url_schemes ? a->url_schemes : web; *sc; sc++)
            json_array_append_new(schemes, json_string(*sc));
        json_array_append_new(
            arr, json_pack("{s:s,s:s,s:s,s:i,s:o,s:s,s:o,s:s}", "name", a->name, "title",
                           a->title ? a->title : a->name, "version", a->version ? a->version : "",
                           "abi", (int)a->abi, "capabilities", caps, "credentials",
                           (unsigned)a->credentials < 3 ? creds[a->credentials] : "none",
                           "url_schemes", schemes, "file", adapters[i].file));
    }
    return arr;
}

void pv_plugins_unload(void)
{
    for (int i = 0; i < nadapters; i++)
        dlclose(adapters[i].handle);
    nadapters = 0;
}
