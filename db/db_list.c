/* db_list.c -- runs collection queries: renders a parsed struct pv_query
 * (db/query.h) into SQL and turns rows into API objects.
 *
 * The SQL text is assembled only from the collection's own table and column
 * names and fixed operator fragments; every value from the request is bound
 * as a parameter.  Pagination is keyset ("seek") pagination on
 * (sort column, id): a page after a cursor starts strictly after the last row
 * it saw, so rows inserted or deleted meanwhile never cause duplicates or
 * gaps among the rows that stay, and page N costs what page 1 costs.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "db_internal.h"
#include "lib/buf.h"

/* A growing text: the SQL of a query, or the JSON of its rows (lib's
 * pv_buf), and whether an allocation failed on the way, so that a long
 * series of puts is checked once at its end. */
struct jbuf {
    struct pv_buf buf;
    int oom;
};

static void jb_put(struct jbuf *b, const char *s, size_t n)
{
    if (!b->oom && pv_buf_add(&b->buf, s, n) != 0)
        b->oom = 1;
}

static void jb_str(struct jbuf *b, const char *s)
{
    jb_put(b, s, strlen(s));
}

/* The SQL text of a query plus the values to bind to its placeholders. */
struct sqlbuf {
    struct jbuf text;
    const struct pv_value *binds[512];
    int nbinds;
};

static void sb_add(struct sqlbuf *b, const char *s)
{
    jb_str(&b->text, s);
}

static void sb_bind(struct sqlbuf *b, const struct pv_value *v)
{
    if (b->nbinds >= (int)(sizeof b->binds / sizeof b->binds[0])) {
        b->text.oom = 1;
        return;
    }
    b->binds[b->nbinds++] = v;
    sb_add(b, "?");
}

static const char *cmp_sql(enum pv_fop op)
{
    switch (op) {
    case PV_OP_EQ: return " = ";
    case PV_OP_NE: return " != ";
    case PV_OP_LT: return " < ";
    case PV_OP_LE: return " <= ";
    case PV_OP_GT: return " > ";
    case PV_OP_GE: return " >= ";
    default: return NULL;
    }
}

static void render(struct sqlbuf *b, const struct pv_filter_node *n)
{
    const char *col = n->field ? n->field->column : NULL;

    if (!col && n->op != PV_OP_AND && n->op != PV_OP_OR && n->op != PV_OP_NOT) {
        b->text.oom = 1; /* a comparison without a field: the parser never makes one */
        return;
    }
    switch (n->op) {
    case PV_OP_AND:
    case PV_OP_OR:
        sb_add(b, "(");
        render(b, n->left);
        sb_add(b, n->op == PV_OP_AND ? " AND " : " OR ");
        render(b, n->right);
        sb_add(b, ")");
        return;
    case PV_OP_NOT:
        sb_add(b, "(NOT ");
        render(b, n->left);
        sb_add(b, ")");
        return;
    case PV_OP_CONTAINS:
        if (n->field->type == PV_VT_JSON) {
            sb_add(b, "EXISTS (SELECT 1 FROM json_each(");
            sb_add(b, col);
            sb_add(b, ") WHERE json_each.value = ");
            sb_bind(b, &n->values[0]);
            sb_add(b, ")");
        } else {
            sb_add(b, "(instr(lower(");
            sb_add(b, col);
            sb_add(b, "), lower(");
            sb_bind(b, &n->values[0]);
            sb_add(b, ")) > 0)");
        }
        return;
    case PV_OP_STARTSWITH:
        sb_add(b, "(substr(");
        sb_add(b, col);
        sb_add(b, ", 1, length(");
        sb_bind(b, &n->values[0]);
        sb_add(b, ")) = ");
        sb_bind(b, &n->values[0]);
        sb_add(b, ")");
        return;
    case PV_OP_IN:
        sb_add(b, "(");
        sb_add(b, col);
        sb_add(b, " IN (");
        for (size_t i = 0; i < n->nvalues; i++) {
            if (i)
                sb_add(b, ", ");
            sb_bind(b, &n->values[i]);
        }
        sb_add(b, "))");
        return;
    default:
        sb_add(b, "(");
        sb_add(b, col);
        if (n->values[0].is_null) {
            sb_add(b, n->op == PV_OP_NE ? " IS NOT NULL)" : " IS NULL)");
            return;
        }
        sb_add(b, cmp_sql(n->op));
        sb_bind(b, &n->values[0]);
        sb_add(b, ")");
        return;
    }
}

static int bind_value(sqlite3_stmt *st, int idx, const struct pv_value *v)
{
    if (v->is_null)
        return sqlite3_bind_null(st, idx);
    switch (v->type) {
    case PV_VT_INT:
    case PV_VT_BOOL:
        return sqlite3_bind_int64(st, idx, v->i);
    case PV_VT_REAL:
        return sqlite3_bind_double(st, idx, v->r);
    default:
        return sqlite3_bind_text(st, idx, v->s ? v->s : "", -1, SQLITE_STATIC);
    }
}

static void add_columns(struct sqlbuf *b, const struct pv_collection *c)
{
    for (size_t i = 0; i < c->nfields; i++) {
        if (i)
            sb_add(b, ", ");
        sb_add(b, c->fields[i].column);
    }
}

/* ---- rows as JSON text ---------------------------------------------------
 * Rows are written straight into JSON text: a page of 1,000 VMs as jansson
 * objects costs tens of thousands of allocations, as text a few reallocs.
 * JSON columns hold text this layer wrote (validated with json_valid() on
 * the way in), so they are copied as they are. */

/* A JSON string; bytes that are not UTF-8 become U+FFFD. */
static void jb_quoted(struct jbuf *b, const unsigned char *s)
{
    const unsigned char *run = s;

    jb_put(b, "\"", 1);
    while (*s) {
        unsigned c = *s;
        size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                 : (c & 0xf8) == 0xf0 ? 4 : 0;
        int bad = n == 0;
        for (size_t i = 1; i < n && !bad; i++)
            bad = (s[i] & 0xc0) != 0x80;
        if (c >= 0x20 && c != '"' && c != '\\' && !bad) {
            s += n;
            continue;
        }
        jb_put(b, (const char *)run, (size_t)(s - run));
        if (bad) {
            jb_str(b, "\\ufffd");
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            jb_put(b, esc, 2);
        } else {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            jb_put(b, esc, 6);
        }
        s++;
        run = s;
    }
    jb_put(b, (const char *)run, (size_t)(s - run));
    jb_put(b, "\"", 1);
}

static void jb_key(struct jbuf *b, int *first, const char *name)
{
    if (!*first)
        jb_put(b, ",", 1);
    *first = 0;
    jb_quoted(b, (const unsigned char *)name);
    jb_put(b, ":", 1);
}

static void jb_column(struct jbuf *b, sqlite3_stmt *st, int col, enum pv_vtype type)
{
    char num[32];

    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        jb_put(b, "null", 4);
        return;
    }
    switch (type) {
    case PV_VT_INT:
        snprintf(num, sizeof num, "%lld", (long long)sqlite3_column_int64(st, col));
        jb_str(b, num);
        break;
    case PV_VT_REAL:
        snprintf(num, sizeof num, "%.17g", sqlite3_column_double(st, col));
        jb_str(b, num);
        break;
    case PV_VT_BOOL:
        jb_str(b, sqlite3_column_int(st, col) ? "true" : "false");
        break;
    case PV_VT_JSON:
        jb_str(b, (const char *)sqlite3_column_text(st, col));
        break;
    default:
        jb_quoted(b, sqlite3_column_text(st, col));
        break;
    }
}

/* One row of c as a JSON object.  fields: NULL for all, else the selection
 * (id always).  A job's error_code and error_message become one "error"
 * object, as the API's error body is. */
static void jb_row(struct jbuf *b, sqlite3_stmt *st, const struct pv_collection *c,
                   const struct pv_field *const *fields, size_t nfields)
{
    int first = 1;

    jb_put(b, "{", 1);
    for (size_t i = 0; i < c->nfields; i++) {
        const struct pv_field *f = &c->fields[i];
        if (fields && strcmp(f->name, "id") != 0) {
            size_t k;
            for (k = 0; k < nfields && fields[k] != f; k++)
                ;
            if (k == nfields)
                continue;
        }
        if (c == &pv_coll_jobs && strcmp(f->name, "error_message") == 0)
            continue;
        if (c == &pv_coll_jobs && strcmp(f->name, "error_code") == 0) {
            jb_key(b, &first, "error");
            if (sqlite3_column_type(st, (int)i) == SQLITE_NULL) {
                jb_put(b, "null", 4);
            } else {
                jb_str(b, "{\"code\":");
                jb_column(b, st, (int)i, PV_VT_TEXT);
                jb_str(b, ",\"message\":");
                jb_column(b, st, (int)i + 1, PV_VT_TEXT);
                jb_put(b, "}", 1);
            }
            continue;
        }
        jb_key(b, &first, f->name);
        jb_column(b, st, (int)i, f->type);
    }
    jb_put(b, "}", 1);
}

static void sort_value(sqlite3_stmt *st, int col, enum pv_vtype type, struct pv_value *v)
{
    memset(v, 0, sizeof *v);
    v->type = type == PV_VT_JSON ? PV_VT_TEXT : type;
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        v->is_null = 1;
        return;
    }
    switch (v->type) {
    case PV_VT_INT:
    case PV_VT_BOOL:
        v->i = sqlite3_column_int64(st, col);
        break;
    case PV_VT_REAL:
        v->r = sqlite3_column_double(st, col);
        break;
    default:
        v->s = strdup((const char *)sqlite3_column_text(st, col));
        break;
    }
}

static size_t field_index(const struct pv_collection *c, const struct pv_field *f)
{
    return (size_t)(f - c->fields);
}

int pv_db_list_text(const struct pv_query *q, char **items, char **next_cursor,
                    struct pv_error *err)
{
    const struct pv_collection *c = q->coll;
    struct sqlbuf b = {0};
    struct jbuf out = {0};
    struct pv_value idv = {.type = PV_VT_TEXT};
    struct pv_value limitv = {.type = PV_VT_INT};
    struct pv_value last = {0};
    char *last_id = NULL;
    sqlite3 *db = pv_db_conn(err);
    sqlite3_stmt *st = NULL;
    const char *sortcol = q->sort->column;
    int rc = 0, step = SQLITE_DONE;
    size_t n = 0;

    *items = NULL;
    *next_cursor = NULL;
    if (!db)
        return err ? err->err : PV_EINTERNAL;
    sb_add(&b, "SELECT ");
    add_columns(&b, c);
    sb_add(&b, " FROM ");
    sb_add(&b, c->table);
    sb_add(&b, " WHERE 1");
    if (q->filter) {
        sb_add(&b, " AND ");
        render(&b, q->filter);
    }
    if (q->has_cursor) {
        const char *gt = q->sort_desc ? " < " : " > ";
        idv.s = q->cursor_id;
        sb_add(&b, " AND (");
        if (q->sort != pv_collection_field(c, "id")) {
            sb_add(&b, sortcol);
            sb_add(&b, gt);
            sb_bind(&b, &q->cursor_value);
            sb_add(&b, " OR (");
            sb_add(&b, sortcol);
            sb_add(&b, " = ");
            sb_bind(&b, &q->cursor_value);
            sb_add(&b, " AND id");
            sb_add(&b, gt);
            sb_bind(&b, &idv);
            sb_add(&b, "))");
        } else {
            sb_add(&b, "id");
            sb_add(&b, gt);
            sb_bind(&b, &idv);
            sb_add(&b, ")");
        }
    }
    sb_add(&b, " ORDER BY ");
    sb_add(&b, sortcol);
    sb_add(&b, q->sort_desc ? " DESC, id DESC LIMIT " : " ASC, id ASC LIMIT ");
    limitv.i = (long long)q->limit + 1;
    sb_bind(&b, &limitv);
    if (b.text.oom) {
        rc = pv_fail(err, out_of_memory, "query too large");
        goto out;
    }
    if (sqlite3_prepare_v2(db, pv_buf_str(&b.text.buf), -1, &st, NULL) != SQLITE_OK) {
        rc = pv_db_error(err, "list");
        goto out;
    }
    for (int i = 0; i < b.nbinds; i++)
        bind_value(st, i + 1, b.binds[i]);
    jb_put(&out, "[", 1);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == q->limit)
            break; /* one row more than asked for: there is a next page */
        if (n)
            jb_put(&out, ",", 1);
        jb_row(&out, st, c, q->fields, q->nfields);
        if (++n == q->limit) {
            sort_value(st, (int)field_index(c, q->sort), q->sort->type, &last);
            last_id = pv_db_col_dup(st, (int)field_index(c, pv_collection_field(c, "id")));
        }
    }
    jb_put(&out, "]", 1);
    if (step != SQLITE_ROW && step != SQLITE_DONE) {
        rc = pv_db_error(err, "list");
    } else if (out.oom) {
        rc = pv_fail(err, out_of_memory, "out of memory");
    } else {
        if (step == SQLITE_ROW)
            *next_cursor = pv_query_cursor(q, &last, last_id);
        *items = pv_buf_detach(&out.buf);
    }
out:
    free(last.s);
    free(last_id);
    pv_buf_free(&out.buf);
    sqlite3_finalize(st);
    pv_buf_free(&b.text.buf);
    return rc;
}

int pv_db_list(const struct pv_query *q, json_t **items, char **next_cursor, struct pv_error *err)
{
    char *text = NULL;
    int rc = pv_db_list_text(q, &text, next_cursor, err);

    *items = NULL;
    if (rc)
        return rc;
    *items = json_loads(text, 0, NULL);
    free(text);
    if (!*items) {
        free(*next_cursor);
        *next_cursor = NULL;
        return pv_fail(err, database_error, "stored data is not valid JSON");
    }
    return 0;
}

/* The "SELECT ... WHERE id = ?" of each collection, built once at first use
 * and then immutable, so its address can key the per-thread statement cache
 * (GET /vms/{id} is the hottest call the API has). */
static char **get_sql;   /* one per pv_collections[i] */
static pthread_once_t get_sql_once = PTHREAD_ONCE_INIT;

static void build_get_sql(void)
{
    get_sql = calloc(pv_ncollections, sizeof *get_sql);
    for (size_t i = 0; get_sql && i < pv_ncollections; i++) {
        struct sqlbuf b = {0};
        sb_add(&b, "SELECT ");
        add_columns(&b, pv_collections[i]);
        sb_add(&b, " FROM ");
        sb_add(&b, pv_collections[i]->table);
        sb_add(&b, " WHERE id = ?");
        get_sql[i] = b.text.oom ? NULL : pv_buf_detach(&b.text.buf);
        pv_buf_free(&b.text.buf);
    }
}

int pv_db_get_text(const struct pv_collection *c, const char *id, char **obj,
                   struct pv_error *err)
{
    sqlite3_stmt *st = NULL;
    const char *sql = NULL;
    struct jbuf out = {0};
    int rc = 0, step;
    uint64_t generation = pv_db_generation(); /* before the read: see db.c */

    *obj = NULL;
    if (pv_db_obj_cached(c, id, generation, obj))
        return 0;
    pthread_once(&get_sql_once, build_get_sql);
    for (size_t i = 0; get_sql && i < pv_ncollections; i++)
        if (pv_collections[i] == c)
            sql = get_sql[i];
    if (!sql)
        return pv_fail(err, database_error, "no query for %s", c->name);
    st = pv_db_stmt(sql, err);
    if (!st)
        return err ? err->err : PV_EINTERNAL;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    step = sqlite3_step(st);
    if (step == SQLITE_ROW) {
        jb_row(&out, st, c, NULL, 0);
        if (out.oom) {
            pv_buf_free(&out.buf);
            rc = pv_fail(err, out_of_memory, "out of memory");
        } else {
            *obj = pv_buf_detach(&out.buf);
            pv_db_obj_keep(c, id, generation, *obj);
        }
    } else if (step == SQLITE_DONE) {
        char code[48];
        snprintf(code, sizeof code, "%s_not_found", c->singular);
        rc = pv_fail_named(err, code, "no %s with id '%.80s'", c->singular, id);
    } else {
        rc = pv_db_error(err, "get");
    }
    pv_db_release(st);
    return rc;
}

int pv_db_get(const struct pv_collection *c, const char *id, json_t **obj, struct pv_error *err)
{
    char *text = NULL;
    int rc = pv_db_get_text(c, id, &text, err);

    *obj = NULL;
    if (rc)
        return rc;
    *obj = json_loads(text, 0, NULL);
    free(text);
    if (!*obj)
        return pv_fail(err, database_error, "stored data is not valid JSON");
    return 0;
}

json_t *pv_db_count_by(const struct pv_collection *c, const char *field)
{
    const struct pv_field *f = pv_collection_field(c, field);
    struct sqlbuf b = {0};
    sqlite3 *db = pv_db_conn(NULL);
    sqlite3_stmt *st = NULL;
    json_t *o = json_object();

    if (!f || !db)
        return o;
    sb_add(&b, "SELECT ");
    sb_add(&b, f->column);
    sb_add(&b, ", count(*) FROM ");
    sb_add(&b, c->table);
    sb_add(&b, " GROUP BY 1");
    if (!b.text.oom && sqlite3_prepare_v2(db, pv_buf_str(&b.text.buf), -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) {
            const unsigned char *k = sqlite3_column_text(st, 0);
            json_object_set_new(o, k ? (const char *)k : "null",
                                json_integer(sqlite3_column_int64(st, 1)));
        }
    sqlite3_finalize(st);
    pv_buf_free(&b.text.buf);
    return o;
}

int64_t pv_db_count(const struct pv_collection *c)
{
    struct sqlbuf b = {0};
    sqlite3 *db = pv_db_conn(NULL);
    sqlite3_stmt *st = NULL;
    int64_t n = -1;

    if (!db)
        return -1;
    sb_add(&b, "SELECT count(*) FROM ");
    sb_add(&b, c->table);
    if (!b.text.oom && sqlite3_prepare_v2(db, pv_buf_str(&b.text.buf), -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    pv_buf_free(&b.text.buf);
    return n;
}
