/* fuzz_bodies.c -- libFuzzer: request bodies through the validators the
 * API runs on them (a VM create spec with its name and devices, a schedule's
 * placement parameters, a host group's policy).  Whatever the bytes, no
 * crash, no leak, and an error is always a code of the table. */
#include <jansson.h>
#include <stdint.h>
#include <string.h>
#include "lib/errors.h"
#include "server/jobs/kinds/jobs_placement.h"
#include "server/placement/policy.h"
#include "server/core/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void checked(int rc, const struct pv_error *e)
{
    if (rc && pv_code_find(e->code) < 0)
        __builtin_trap(); /* a code that is no row of errors.def */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct pv_jfield spec[] = {
        {"name", PV_J_STRING, PV_J_REQUIRED, 1, 64, NULL},
        PV_JFIELDS_VM_SIZE,
        PV_JFIELDS_VM_DEVICES,
        {"host_id", PV_J_STRING, PV_J_NULLABLE, 1, 64, NULL},
    };
    static const char *const kinds[] = {"deploy", "rebalance", "power-optimize", "evacuate"};
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    json_t *details = NULL;
    struct pv_error e = {0};

    if (!body)
        return 0;
    if (json_is_object(body)) {
        checked(pv_validate(body, spec, sizeof spec / sizeof spec[0], &details, &e), &e);
        json_decref(details);
        details = NULL;
        checked(pv_validate_vm_devices(body, &details, &e), &e);
        json_decref(details);
        if (json_object_get(body, "name"))
            checked(pv_validate_vm_name(json_object_get(body, "name"), &e), &e);
        checked(pv_validate_tag_list(json_object_get(body, "tags"), "tags", &e), &e);
        checked(pv_placement_params_check(kinds[size % 4], body, &e), &e);
        checked(pv_pl_policy_check(body, &e), &e);
    }
    json_decref(body);
    return 0;
}
