/* db_internal.h -- what the files of db/ share and nothing else sees:
 * the calling thread's connection and its cache of prepared statements. */
#ifndef PV_DB_INTERNAL_H
#define PV_DB_INTERNAL_H

#include <sqlite3.h>
#include "db.h"

/* The calling thread's connection, opened on first use; NULL on failure. */
sqlite3 *pv_db_conn(struct pv_error *err);
/* A cached prepared statement for `sql`, which must be a string literal (the
 * cache is keyed by its address).  Hand it back with pv_db_release(). */
sqlite3_stmt *pv_db_stmt(const char *sql, struct pv_error *err);
void pv_db_release(sqlite3_stmt *st);
/* The calling thread's rendered objects (see db.c): pv_db_obj_cached gives
 * a malloc'd copy of the text kept for (kind, id) at exactly `generation`
 * (1) or nothing (0); pv_db_obj_keep keeps text as read at `generation`,
 * which the caller loaded before reading.  Inside a transaction neither
 * does anything. */
int pv_db_obj_cached(const void *kind, const char *id, uint64_t generation, char **text);
void pv_db_obj_keep(const void *kind, const char *id, uint64_t generation, const char *text);

/* Fill err from the connection's last error; returns the pv_err code. */
int pv_db_error(struct pv_error *err, const char *what);

/* Run a write statement with up to three text parameters (as many as it
 * has); PV_ENOTFOUND ("not_found" in err, when given) when it changed no
 * row. */
int pv_db_write3(const char *sql, const char *a, const char *b, const char *c, const char *what,
                 struct pv_error *err);

/* Bind helpers: NULL text binds SQL NULL. */
int pv_db_bind_text(sqlite3_stmt *st, int idx, const char *s);
/* Copy column text into buf (empty for NULL). */
void pv_db_col_copy(sqlite3_stmt *st, int col, char *buf, size_t size);
char *pv_db_col_dup(sqlite3_stmt *st, int col);

#endif
