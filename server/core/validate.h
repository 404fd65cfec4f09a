/* validate.h -- strict checking of JSON request bodies against a small
 * field table: unknown fields, missing fields, wrong types and values out of
 * range are each refused with their own stable code (unknown_field,
 * missing_field, wrong_type, invalid_value) and the field's name in the
 * error details, before anything is written. */
#ifndef PV_VALIDATE_H
#define PV_VALIDATE_H

#include <jansson.h>
#include "adapters/adapter.h"

enum pv_jtype { PV_J_STRING = 0, PV_J_INT, PV_J_BOOL, PV_J_ARRAY, PV_J_OBJECT };

#define PV_J_REQUIRED 0x1u
#define PV_J_NULLABLE 0x2u

struct pv_jfield {
    const char *name;
    enum pv_jtype type;
    unsigned flags;
    long long min, max;            /* INT: value; STRING, ARRAY: length; 0,0 = no bound */
    const char *const *choices;    /* STRING: NULL-terminated allowed values */
};

/* *details (may be NULL) receives {"field": name} on failure. */
int pv_validate(const json_t *body, const struct pv_jfield *spec, size_t n, json_t **details,
                struct pv_error *err);

/* The connection types (vendors) of the loaded adapters, NULL-ended:
 * written once at start-up (pv_validate_set_types, from main.c), read-only
 * after. */
#define PV_ADAPTER_TYPES_MAX 16
extern const char *pv_adapter_types[PV_ADAPTER_TYPES_MAX + 1];
void pv_validate_set_types(const char *const *types, size_t n);

/* The rows every body describing a VM to create shares (POST /vms, a
 * deploy schedule's "vm", placement ratings' and simulate's "vm"): its size
 * and its placement wishes, then its devices and HA.  Used inside a
 * pv_jfield table, so each body adds only its own fields. */
extern const char *const pv_vm_ha_levels[];
#define PV_JFIELDS_VM_SIZE                                           \
    {"vcpus", PV_J_INT, PV_J_REQUIRED, 1, 256, NULL},                \
    {"memory_mb", PV_J_INT, PV_J_REQUIRED, 16, 16LL * 1024 * 1024, NULL}, \
    {"vendor", PV_J_STRING, 0, 0, 0, pv_adapter_types},                 \
    {"tags", PV_J_ARRAY, 0, 0, 32, NULL},                            \
    {"anti_affinity", PV_J_ARRAY, 0, 0, 32, NULL},                   \
    {"affinity", PV_J_ARRAY, 0, 0, 32, NULL}
#define PV_JFIELDS_VM_DEVICES                                        \
    {"paravirtual", PV_J_BOOL, 0, 0, 0, NULL},                       \
    {"ha", PV_J_STRING, 0, 0, 0, pv_vm_ha_levels},                   \
    {"disks", PV_J_ARRAY, 0, 0, 16, NULL},                           \
    {"nics", PV_J_ARRAY, 0, 0, 16, NULL}

/* A list of tags or set names: at most 32 strings of 1 to 64 characters
 * (arr NULL: nothing to check). */
int pv_validate_tag_list(const json_t *arr, const char *field, struct pv_error *err);
/* A disk's "path" as the API can judge it alone: a string, an absolute path
 * with no '.', '..' or empty parts.  Whether it is a volume of one of the
 * host's storage pools is the host agent's to say (disk_path_not_allowed
 * either way). */
int pv_validate_disk_path(const json_t *path, struct pv_error *err);
/* A VM spec's disks and nics, each item's shape as every vendor takes it
 * (disk: {"path"} or {"size_gb"[, "pool" | "datastore"]}; NIC: {"network"}
 * or {"bridge"}); *details names the list and the index. */
int pv_validate_vm_devices(const json_t *vm, json_t **details, struct pv_error *err);
/* A VM name every vendor can be asked for: 1 to 64 characters, no '/', '\\',
 * control characters or spaces at either end (a vendor may refuse more). */
int pv_validate_vm_name(const json_t *name, struct pv_error *err);

#endif
