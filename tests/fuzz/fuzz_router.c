/* fuzz_router.c -- libFuzzer: the daemon's route table matched against any
 * method and path (the first line is the method). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "lib/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *nl;
    struct pv_route_match m;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    nl = strchr(copy, '\n');
    if (nl) {
        *nl = '\0';
        if (pv_router_match(pv_routes, pv_nroutes, copy, nl + 1, &m) == PV_MATCH_OK &&
            m.nparams > PV_ROUTE_MAX_PARAMS)
            __builtin_trap();
    }
    free(copy);
    return 0;
}
