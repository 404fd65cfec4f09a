/* fuzz_wsman.c -- libFuzzer: WS-Management responses (Hyper-V) through the
 * WS-Man parser, with and without a RelatesTo to check. */
#include <stdint.h>
#include "adapters/hyperv-wmi/wsman.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};

    if (pv_wsman_parse((const char *)data, size, size % 2 ? 200 : 500,
                       size % 3 ? NULL : "uuid:00000000-0000-4000-8000-000000000001", &r, &e) == 0)
        pv_soap_resp_free(r);
    else if (pv_code_find(e.code) < 0)
        __builtin_trap();
    return 0;
}
