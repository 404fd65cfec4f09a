/* migrate.h -- versioned schema migrations, compiled into the binary.
 *
 * Each db/migrations/NNN_name.sql is embedded at build time (tools/embed.sh)
 * into the table below, in order.  The schema version is SQLite's
 * PRAGMA user_version; pv_db_migrate() applies every migration above it, one
 * transaction per migration, so a failed migration leaves the database at the
 * last good version and the daemon refuses to start with a clear message.
 */
#ifndef PV_MIGRATE_H
#define PV_MIGRATE_H

#include <sqlite3.h>
#include "../adapters/adapter.h"

struct pv_migration {
    int version;
    const char *name;
    const char *sql;
};

extern const struct pv_migration pv_db_migrations[];
extern const int pv_db_nmigrations;

/* Bring db to `target` (-1: the latest).  Refuses a database newer than
 * this binary knows (PV_ECONFLICT, code "schema_too_new"). */
int pv_db_migrate(sqlite3 *db, int target, struct pv_error *err);
int pv_db_user_version(sqlite3 *db);

#endif
