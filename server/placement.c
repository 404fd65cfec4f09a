/* placement.c -- see placement.h. */
#include <stdio.h>
#include <string.h>
#include "../db/db.h"
#include "placement.h"

static const char *verdict(json_t *h, const char *exclude, int64_t memory_mb, const char *vendor)
{
    const char *state = json_string_value(json_object_get(h, "state"));
    int64_t free_mb = json_integer_value(json_object_get(h, "memory_mb")) -
                      json_integer_value(json_object_get(h, "memory_used_mb"));

    if (exclude && strcmp(json_string_value(json_object_get(h, "id")), exclude) == 0)
        return "current_host";
    if (vendor && strcmp(json_string_value(json_object_get(h, "vendor")), vendor) != 0)
        return "vendor_mismatch";
    if (strcmp(state, "maintenance") == 0)
        return "in_maintenance";
    if (strcmp(state, "connected") != 0)
        return "disconnected";
    if (free_mb < memory_mb)
        return "insufficient_memory";
    return NULL;
}

int pv_place_host(const char *requested, const char *exclude, int64_t vcpus, int64_t memory_mb,
                  const char *vendor, char chosen[64], json_t **decision, struct pv_error *err)
{
    json_t *hosts = pv_db_hosts_all(), *cands = json_array(), *best = NULL, *h;
    int64_t best_free = -1;
    size_t i;
    int rc = 0;

    (void)vcpus;
    chosen[0] = '\0';
    if (exclude && !exclude[0])
        exclude = NULL;
    json_array_foreach(hosts, i, h) {
        const char *id = json_string_value(json_object_get(h, "id"));
        const char *why;
        int64_t free_mb = json_integer_value(json_object_get(h, "memory_mb")) -
                          json_integer_value(json_object_get(h, "memory_used_mb"));
        if (requested && strcmp(id, requested) != 0)
            continue;
        why = verdict(h, exclude, memory_mb, vendor);
        if (json_array_size(cands) < 50)
            json_array_append_new(cands, json_pack("{s:s,s:b,s:s?,s:I}", "host_id", id, "eligible",
                                                   !why, "code", why, "free_memory_mb",
                                                   (json_int_t)free_mb));
        if (!why && free_mb > best_free) { /* ids ascend: the first of equals wins */
            best = h;
            best_free = free_mb;
        }
    }
    if (requested && json_array_size(cands) == 0) {
        rc = pv_error_set(err, PV_ENOTFOUND, "host_not_found", "no host with id '%.80s'",
                          requested);
    } else if (!best) {
        const char *code = requested ? json_string_value(json_object_get(json_array_get(cands, 0), "code")) : NULL;
        if (code && strcmp(code, "current_host") == 0)
            rc = pv_error_set(err, PV_ECONFLICT, "same_host", "the VM is already on that host");
        else
            rc = pv_error_set(err, PV_ECONFLICT, "no_eligible_host",
                              "no host can take this VM (%lld MB%s%s): %s",
                              (long long)memory_mb, vendor ? ", vendor " : "", vendor ? vendor : "",
                              code ? code : "every host was filtered out");
    } else {
        snprintf(chosen, 64, "%s", json_string_value(json_object_get(best, "id")));
    }
    *decision = json_pack("{s:s,s:s?,s:b,s:o}", "rule", "most_free_memory", "chosen_host_id",
                          chosen[0] ? chosen : NULL, "requested", requested != NULL, "candidates",
                          cands);
    json_decref(hosts);
    return rc;
}
