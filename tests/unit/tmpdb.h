/* tmpdb.h -- the unit tests' database: db/ on a fresh SQLite file in a
 * directory of its own under /tmp, migrated to the latest schema, removed
 * afterwards.  cmocka group setup/teardown functions. */
#ifndef PV_TEST_TMPDB_H
#define PV_TEST_TMPDB_H

int tmpdb_setup(void **state);
int tmpdb_teardown(void **state);

#endif
