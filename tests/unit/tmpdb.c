/* tmpdb.c -- see tmpdb.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "db/db.h"
#include "tests/unit/tmpdb.h"

static char dir[64];

int tmpdb_setup(void **state)
{
    char path[128];
    struct pv_error e = {0};

    (void)state;
    snprintf(dir, sizeof dir, "/tmp/pv-unit-db-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/polyvisor.db", dir);
    if (pv_db_init(path, &e) != 0) {
        fprintf(stderr, "pv_db_init: %s %s\n", e.code, e.message);
        return -1;
    }
    return 0;
}

int tmpdb_teardown(void **state)
{
    char cmd[160];

    (void)state;
    pv_db_shutdown();
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}
