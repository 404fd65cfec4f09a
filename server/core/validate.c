/* validate.c -- see validate.h. */
#include <string.h>
#include "server/core/validate.h"

static const char *type_name(enum pv_jtype t)
{
    static const char *const names[] = {"a string", "an integer", "true or false", "an array",
                                        "an object"};
    return names[t];
}

static int type_ok(const json_t *v, enum pv_jtype t)
{
    switch (t) {
    case PV_J_STRING: return json_is_string(v);
    case PV_J_INT: return json_is_integer(v);
    case PV_J_BOOL: return json_is_boolean(v);
    case PV_J_ARRAY: return json_is_array(v);
    default: return json_is_object(v);
    }
}

static int fail(json_t **details, const char *field, struct pv_error *err, enum pv_code code,
                const char *msg)
{
    if (details)
        *details = json_pack("{s:s}", "field", field);
    return pv_fail_code(err, code, "%s", msg);
}

static int check_one(const json_t *v, const struct pv_jfield *f, json_t **details,
                     struct pv_error *err)
{
    char msg[256];

    if (json_is_null(v) && (f->flags & PV_J_NULLABLE))
        return 0;
    if (!type_ok(v, f->type)) {
        snprintf(msg, sizeof msg, "'%s' must be %s", f->name, type_name(f->type));
        return fail(details, f->name, err, PV_CODE_wrong_type, msg);
    }
    if (f->type == PV_J_INT && (f->min || f->max)) {
        long long n = json_integer_value(v);
        if (n < f->min || n > f->max) {
            snprintf(msg, sizeof msg, "'%s' must be from %lld to %lld", f->name, f->min, f->max);
            return fail(details, f->name, err, PV_CODE_invalid_value, msg);
        }
    }
    if ((f->type == PV_J_STRING || f->type == PV_J_ARRAY) && (f->min || f->max)) {
        long long n = f->type == PV_J_STRING ? (long long)json_string_length(v)
                                             : (long long)json_array_size(v);
        if (n < f->min || n > f->max) {
            snprintf(msg, sizeof msg, "'%s' must have %lld to %lld %s", f->name, f->min, f->max,
                     f->type == PV_J_STRING ? "characters" : "items");
            return fail(details, f->name, err, PV_CODE_invalid_value, msg);
        }
    }
    if (f->type == PV_J_STRING && f->choices) {
        const char *s = json_string_value(v);
        size_t used;
        for (const char *const *c = f->choices; *c; c++)
            if (strcmp(*c, s) == 0)
                return 0;
        used = (size_t)snprintf(msg, sizeof msg, "'%s' must be one of:", f->name);
        for (const char *const *c = f->choices; *c && used < sizeof msg; c++)
            used += (size_t)snprintf(msg + used, sizeof msg - used, " %s", *c);
        return fail(details, f->name, err, PV_CODE_invalid_value, msg);
    }
    return 0;
}

int pv_validate(const json_t *body, const struct pv_jfield *spec, size_t n, json_t **details,
                struct pv_error *err)
{
    const char *key;
    json_t *v;
    char msg[256];

    if (details)
        *details = NULL;
    json_object_foreach((json_t *)body, key, v) {
        size_t i;
        for (i = 0; i < n && strcmp(spec[i].name, key) != 0; i++)
            ;
        if (i == n) {
            snprintf(msg, sizeof msg, "unknown field '%.100s'", key);
            return fail(details, key, err, PV_CODE_unknown_field, msg);
        }
        if (check_one(v, &spec[i], details, err))
            return PV_EINVAL;
    }
    for (size_t i = 0; i < n; i++)
        if ((spec[i].flags & PV_J_REQUIRED) && !json_object_get(body, spec[i].name)) {
            snprintf(msg, sizeof msg, "missing field '%s'", spec[i].name);
            return fail(details, spec[i].name, err, PV_CODE_missing_field, msg);
        }
    return 0;
}

/* start-up configuration: main.c fills it from the loaded adapters */
const char *pv_adapter_types[PV_ADAPTER_TYPES_MAX + 1];

void pv_validate_set_types(const char *const *types, size_t n)
{
    size_t i;

    for (i = 0; i < n && i < PV_ADAPTER_TYPES_MAX; i++)
        pv_adapter_types[i] = types[i];
    pv_adapter_types[i] = NULL;
}
const char *const pv_vm_ha_levels[] = {"off", "low", "medium", "high", NULL};

int pv_validate_tag_list(const json_t *arr, const char *field, struct pv_error *err)
{
    size_t i;
    json_t *v;

    if (!arr)
        return 0;
    if (!json_is_array(arr) || json_array_size(arr) > 32)
        return pv_fail(err, wrong_type, "'%s' must be an array of at most 32",
                            field);
    json_array_foreach(arr, i, v) {
        if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > 64)
            return pv_fail(err, wrong_type,
                                "'%s' must be strings of 1 to 64 characters", field);
    }
    return 0;
}

int pv_validate_disk_path(const json_t *path, struct pv_error *err)
{
    const char *p = json_string_value(path);
    size_t n = p ? strlen(p) : 0;

    if (!p || n != json_string_length(path) || n < 2 || n > 1024 || p[0] != '/' ||
        strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//") ||
        (n >= 3 && strcmp(p + n - 3, "/..") == 0) || strcmp(p + n - 2, "/.") == 0 ||
        p[n - 1] == '/')
        return pv_fail(err, disk_path_not_allowed,
                            "a disk path is an absolute path to an image in a storage pool "
                            "(no '.', '..' or empty parts)");
    return 0;
}

/* A storage pool, network or bridge name as the API can judge it: 1 to 128
 * characters, no '/', no control characters. */
static int plain_name(const json_t *v)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;

    if (!s || n < 1 || n > 128 || n != json_string_length(v) || strchr(s, '/'))
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int device_fail(const char *list, size_t i, const char *msg, json_t **details,
                       struct pv_error *err)
{
    if (details)
        *details = json_pack("{s:s,s:i}", "field", list, "index", (int)i);
    return pv_fail(err, invalid_value, "%s[%d]: %s", list, (int)i, msg);
}

int pv_validate_vm_devices(const json_t *vm, json_t **details, struct pv_error *err)
{
    size_t i;
    json_t *d;
    const char *key;
    json_t *v;

    if (details)
        *details = NULL;
    json_array_foreach(json_object_get(vm, "disks"), i, d) {
        json_t *path = json_object_get(d, "path"), *size = json_object_get(d, "size_gb");
        json_t *pool = json_object_get(d, "pool"), *ds = json_object_get(d, "datastore");
        json_t *pool_id = json_object_get(d, "pool_id");
        if (!json_is_object(d))
            return device_fail("disks", i, "a disk is an object", details, err);
        json_object_foreach(d, key, v)
            if (strcmp(key, "path") && strcmp(key, "size_gb") && strcmp(key, "pool") &&
                strcmp(key, "datastore") && strcmp(key, "pool_id"))
                return device_fail("disks", i, "a disk has path, or size_gb with pool_id or pool "
                                   "(or datastore)", details, err);
        if (!!path == !!size)
            return device_fail("disks", i, "a disk is {\"path\"} or {\"size_gb\"[, \"pool_id\" or \"pool\"]}",
                               details, err);
        if (path) {
            if (json_object_size(d) != 1)
                return device_fail("disks", i, "a path disk takes nothing else", details, err);
            if (pv_validate_disk_path(path, err)) {
                if (details)
                    *details = json_pack("{s:s,s:i}", "field", "disks", "index", (int)i);
                return PV_EINVAL;
            }
            continue;
        }
        if (!json_is_integer(size) || json_integer_value(size) < 1 || json_integer_value(size) > 65536)
            return device_fail("disks", i, "size_gb is a whole number from 1 to 65536", details, err);
        if (!!pool + !!ds + !!pool_id > 1)
            return device_fail("disks", i, "pool_id, pool and datastore each name the pool: give one",
                               details, err);
        if ((pool && !plain_name(pool)) || (ds && !plain_name(ds)))
            return device_fail("disks", i, "a pool is named by 1 to 128 characters without '/'",
                               details, err);
        if (pool_id && !plain_name(pool_id))
            return device_fail("disks", i, "pool_id is a storage pool's id", details, err);
    }
    json_array_foreach(json_object_get(vm, "nics"), i, d) {
        json_t *net = json_object_get(d, "network"), *br = json_object_get(d, "bridge");
        json_t *id = json_object_get(d, "network_id");
        if (!json_is_object(d) || json_object_size(d) != 1 || !(net || br || id))
            return device_fail("nics", i, "a NIC is {\"network_id\": ID}, {\"network\": NAME} or "
                               "{\"bridge\": NAME}", details, err);
        if (!plain_name(net ? net : br ? br : id))
            return device_fail("nics", i, "a network is named by 1 to 128 characters without '/'",
                               details, err);
    }
    return 0;
}

int pv_validate_vm_name(const json_t *name, struct pv_error *err)
{
    const char *s = json_string_value(name);
    size_t n = s ? strlen(s) : 0;

    if (!s || n != json_string_length(name) || n < 1 || n > 64 || strchr(s, '/') ||
        strchr(s, '\\') || s[0] == ' ' || s[n - 1] == ' ' || strcmp(s, ".") == 0 ||
        strcmp(s, "..") == 0)
        return pv_fail(err, invalid_name, "a VM name is 1 to 64 characters, without '/' or '\\' "
                                          "and without spaces at either end");
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return pv_fail(err, invalid_name, "a VM name has no control characters");
    return 0;
}
