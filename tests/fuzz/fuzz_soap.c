/* fuzz_soap.c -- libFuzzer: vSphere SOAP responses through the shared
 * SOAP parser (envelopes, faults, every HTTP status it distinguishes). */
#include <stdint.h>
#include "adapters/common/soap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long statuses[] = {200, 500, 401, 404};
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};

    if (pv_soap_parse((const char *)data, size, statuses[size % 4], &r, &e) == 0)
        pv_soap_resp_free(r);
    else if (pv_code_find(e.code) < 0)
        __builtin_trap();
    r = NULL;
    if (pv_soap_parse_ex((const char *)data, size, 500, PV_SOAP_KEEP_FAULT, &r, &e) == 0)
        pv_soap_resp_free(r);
    return 0;
}
