/* fuzz_query.c -- libFuzzer: the collections' query language (filter, sort,
 * limit, cursor, fields) parsed against the vms collection.  The input is
 * up to five NUL-separated parts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "db/db.h"
#include "db/query.h"
#include "lib/errors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *part[5] = {0};
    struct pv_query q;
    struct pv_error e = {0};
    size_t start = 0;
    int n = 0;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    for (size_t i = 0; i <= size && n < 5; i++)
        if (i == size || copy[i] == '\0') {
            copy[i] = '\0';
            part[n++] = copy + start;
            start = i + 1;
        }
    for (size_t c = 0; c < pv_ncollections; c++) {
        memset(&q, 0, sizeof q);
        if (pv_query_parse(pv_collections[c], part[0], part[1], part[2], part[3], part[4], &q, &e) == 0)
            pv_query_clear(&q);
        else if (pv_code_find(e.code) < 0)
            __builtin_trap();
    }
    free(copy);
    return 0;
}
