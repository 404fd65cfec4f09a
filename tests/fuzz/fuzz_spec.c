/* fuzz_spec.c -- libFuzzer: the agent's VM spec (hypervisor/spec.c), the
 * body of POST /v1/vms.  Whatever the bytes: no crash, no leak, an error is
 * always a code of the table, and a spec that passes the checks gives
 * well-formed domain XML (libxml2 reads it back). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include "hypervisor/spec.h"
#include "lib/errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *spec = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    struct pv_error e = {0};

    if (!spec)
        return 0;
    if (ag_spec_check(spec, &e)) {
        if (pv_code_find(e.code) < 0)
            __builtin_trap(); /* a code that is no row of errors.def */
    } else {
        char *xml = ag_spec_domain_xml(spec, "kvm", 1);
        xmlDocPtr doc = xml ? xmlReadMemory(xml, (int)strlen(xml), NULL, NULL,
                                            XML_PARSE_NONET | XML_PARSE_NOERROR |
                                                XML_PARSE_NOWARNING)
                            : NULL;
        if (xml && !doc)
            __builtin_trap(); /* the writer made XML that does not parse */
        xmlFreeDoc(doc);
        free(xml);
    }
    json_decref(spec);
    return 0;
}
