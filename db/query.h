/* query.h -- the one collection query language of the REST API: filter,
 * sort, limit, cursor and fields, parsed against a collection's field table.
 *
 * The grammar is OData-like and the same for every collection:
 *
 *   expr   := or
 *   or     := and ("or" and)*
 *   and    := unary ("and" unary)*
 *   unary  := "not" unary | "(" expr ")" | cmp
 *   cmp    := FIELD OP value | FIELD "in" "(" value ("," value)* ")"
 *   OP     := eq | ne | lt | le | gt | ge | contains | startswith
 *   value  := 'text, '' for a quote' | -?number | true | false | null
 *
 * e.g.  power_state eq 'running' and (memory_mb ge 1024 or name startswith 'web')
 *
 * Parsing produces an AST whose leaves point at entries of the collection's
 * field table; db/db_list.c renders it into SQL with bound parameters.  No
 * text from a request ever becomes SQL: only the table's own column names do.
 *
 * Cursors are opaque to clients: base64url of a small JSON object holding the
 * last row's sort value and id plus a hash of the filter and sort they were
 * made for, so a cursor used with another filter or sort is refused
 * (invalid_cursor) instead of silently skipping or repeating rows.
 */
#ifndef PV_QUERY_H
#define PV_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include "../adapters/adapter.h"

enum pv_vtype { PV_VT_TEXT = 0, PV_VT_INT, PV_VT_REAL, PV_VT_BOOL, PV_VT_JSON };

#define PV_FIELD_FILTER 0x1u  /* may appear in filter= */
#define PV_FIELD_SORT   0x2u  /* may appear in sort= */

struct pv_field {
    const char *name;     /* the API's name */
    const char *column;   /* SQL expression for it (a column name) */
    enum pv_vtype type;   /* JSON columns: arrays/objects stored as text */
    unsigned flags;
};

struct pv_collection {
    const char *name;          /* "vms" */
    const char *table;         /* "vms" */
    const struct pv_field *fields;
    size_t nfields;
    const char *default_sort;  /* "name" or "-time"; always tie-broken by id */
    const char *singular;      /* "vm": error codes say vm_not_found */
};

enum pv_fop {
    PV_OP_EQ = 0, PV_OP_NE, PV_OP_LT, PV_OP_LE, PV_OP_GT, PV_OP_GE,
    PV_OP_CONTAINS, PV_OP_STARTSWITH, PV_OP_IN,
    PV_OP_AND, PV_OP_OR, PV_OP_NOT,
};

struct pv_value {
    enum pv_vtype type;   /* TEXT, INT, REAL or BOOL */
    int is_null;
    long long i;          /* INT and BOOL */
    double r;             /* REAL */
    char *s;              /* TEXT, owned */
};

struct pv_filter_node {
    enum pv_fop op;
    const struct pv_field *field;    /* comparisons and IN */
    struct pv_value *values;         /* 1 for comparisons, n for IN; owned */
    size_t nvalues;
    struct pv_filter_node *left;     /* AND, OR, NOT (NOT uses left only) */
    struct pv_filter_node *right;
};

#define PV_QUERY_DEFAULT_LIMIT 100
#define PV_QUERY_MAX_LIMIT 1000
#define PV_QUERY_MAX_FILTER 4096  /* bytes */

struct pv_query {
    const struct pv_collection *coll;
    struct pv_filter_node *filter;        /* NULL: every row */
    const struct pv_field *sort;          /* never NULL after parse */
    int sort_desc;
    size_t limit;
    int has_cursor;
    struct pv_value cursor_value;         /* last row's sort value */
    char *cursor_id;                      /* last row's id */
    const struct pv_field **fields;       /* NULL: all fields */
    size_t nfields;
    uint64_t shape;                       /* hash of filter + sort */
};

/* Parse the query-string parameters (each may be NULL or "") into *q.
 * Errors (PV_EINVAL) carry the codes invalid_filter, unknown_field,
 * invalid_sort, invalid_limit, invalid_cursor, invalid_fields and a message
 * that names the offending token and its position.  On failure *q is left
 * cleared.  pv_query_clear() frees what a parse allocated. */
int pv_query_parse(const struct pv_collection *c, const char *filter, const char *sort,
                   const char *limit, const char *cursor, const char *fields,
                   struct pv_query *q, struct pv_error *err);
void pv_query_clear(struct pv_query *q);

/* The cursor that continues q after a row whose sort value is *last and
 * whose id is last_id.  Returns a malloc'd string; NULL only when out of
 * memory. */
char *pv_query_cursor(const struct pv_query *q, const struct pv_value *last, const char *last_id);

/* 1 when s is len bytes of valid UTF-8 without NUL (shortest forms, no
 * surrogates).  The API checks bodies and paths with it too. */

/* Find a field by its API name; NULL when the collection has none. */
const struct pv_field *pv_collection_field(const struct pv_collection *c, const char *name);

#endif
