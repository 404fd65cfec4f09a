/* query.c -- the collection query language (see query.h): a small
 * tokenizer and a recursive-descent parser for filter=, plus sort=, limit=,
 * fields= and the opaque cursor.
 *
 * The parser checks everything a request can get wrong before any SQL
 * exists: field names against the collection's table, operators against the
 * field's type, value types, nesting depth and size.  Errors name the token
 * and its 1-based position.  The cursor is base64url(JSON) and carries a
 * hash of the normalised filter and sort ("shape"), so it only continues the
 * query it came from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "query.h"
#include "../lib/text.h"

#define MAX_DEPTH 32
#define MAX_TERMS 64
#define MAX_IN 64
#define MAX_FIELDS 64
#define MAX_CURSOR 2048

/* ---- helpers ------------------------------------------------------------ */


const struct pv_field *pv_collection_field(const struct pv_collection *c, const char *name)
{
    for (size_t i = 0; i < c->nfields; i++)
        if (strcmp(c->fields[i].name, name) == 0)
            return &c->fields[i];
    return NULL;
}

static void value_clear(struct pv_value *v)
{
    free(v->s);
    memset(v, 0, sizeof *v);
}

static void node_free(struct pv_filter_node *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->nvalues; i++)
        value_clear(&n->values[i]);
    free(n->values);
    node_free(n->left);
    node_free(n->right);
    free(n);
}

void pv_query_clear(struct pv_query *q)
{
    if (!q)
        return;
    node_free(q->filter);
    value_clear(&q->cursor_value);
    free(q->cursor_id);
    free(q->fields);
    memset(q, 0, sizeof *q);
}

/* ---- tokenizer ---------------------------------------------------------- */

enum tok_kind { T_END, T_WORD, T_STRING, T_NUMBER, T_LPAREN, T_RPAREN, T_COMMA, T_BAD };

struct tok {
    enum tok_kind kind;
    const char *start;
    size_t len;
    size_t pos;       /* 1-based */
    char *text;       /* T_STRING: unescaped, owned */
};

struct parser {
    const struct pv_collection *coll;
    const char *src;
    const char *p;
    struct tok t;
    int depth, terms;
    struct pv_error *err;
};

static int is_word_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int is_word(char c) { return is_word_start(c) || (c >= '0' && c <= '9') || c == '.'; }

static int perr(struct parser *ps, const char *fmt, const char *what)
{
    char tokbuf[48];
    snprintf(tokbuf, sizeof tokbuf, "%.*s", (int)(ps->t.len > 40 ? 40 : ps->t.len), ps->t.start);
    if (ps->t.kind == T_END)
        snprintf(tokbuf, sizeof tokbuf, "end of filter");
    return pv_fail(ps->err, invalid_filter, "filter: %s %s'%s' at position %zu",
                        fmt, what ? what : "", tokbuf, ps->t.pos);
}

static int next(struct parser *ps)
{
    const char *p = ps->p;

    free(ps->t.text);
    memset(&ps->t, 0, sizeof ps->t);
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    ps->t.start = p;
    ps->t.pos = (size_t)(p - ps->src) + 1;
    if (!*p) {
        ps->t.kind = T_END;
    } else if (*p == '(' || *p == ')' || *p == ',') {
        ps->t.kind = *p == '(' ? T_LPAREN : *p == ')' ? T_RPAREN : T_COMMA;
        p++;
    } else if (*p == '\'') {
        size_t cap = strlen(p), n = 0;
        char *out = malloc(cap + 1);
        if (!out)
            return pv_fail(ps->err, out_of_memory, "out of memory");
        p++;
        for (;;) {
            if (!*p) {
                free(out);
                ps->t.len = 1;
                ps->t.kind = T_BAD;
                ps->p = p;
                return perr(ps, "unterminated string starting with", NULL);
            }
            if (*p == '\'') {
                if (p[1] == '\'') {
                    out[n++] = '\'';
                    p += 2;
                    continue;
                }
                p++;
                break;
            }
            out[n++] = *p++;
        }
        out[n] = '\0';
        ps->t.kind = T_STRING;
        ps->t.text = out;
    } else if (*p == '-' || (*p >= '0' && *p <= '9')) {
        const char *s = p;
        if (*p == '-')
            p++;
        while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
               ((*p == '+' || *p == '-') && (p[-1] == 'e' || p[-1] == 'E')))
            p++;
        ps->t.kind = p - s == 1 && *s == '-' ? T_BAD : T_NUMBER;
    } else if (is_word_start(*p)) {
        while (is_word(*p))
            p++;
        ps->t.kind = T_WORD;
    } else {
        p++;
        ps->t.kind = T_BAD;
    }
    ps->t.len = (size_t)(p - ps->t.start);
    ps->p = p;
    if (ps->t.kind == T_BAD)
        return perr(ps, "unexpected", NULL);
    return 0;
}

static int word_is(const struct parser *ps, const char *w)
{
    return ps->t.kind == T_WORD && ps->t.len == strlen(w) && strncmp(ps->t.start, w, ps->t.len) == 0;
}

/* ---- parser ------------------------------------------------------------- */

static const struct {
    const char *word;
    enum pv_fop op;
} ops[] = {
    {"eq", PV_OP_EQ}, {"ne", PV_OP_NE}, {"lt", PV_OP_LT}, {"le", PV_OP_LE}, {"gt", PV_OP_GT},
    {"ge", PV_OP_GE}, {"contains", PV_OP_CONTAINS}, {"startswith", PV_OP_STARTSWITH},
    {"in", PV_OP_IN},
};

static int parse_or(struct parser *ps, struct pv_filter_node **out);

static struct pv_filter_node *node_new(enum pv_fop op)
{
    struct pv_filter_node *n = calloc(1, sizeof *n);
    if (n)
        n->op = op;
    return n;
}

/* One value of `type` from the current token (then advances). */
static int parse_value(struct parser *ps, const struct pv_field *f, enum pv_fop op,
                       struct pv_value *v)
{
    enum pv_vtype want = f->type == PV_VT_JSON ? PV_VT_TEXT : f->type;

    memset(v, 0, sizeof *v);
    v->type = want;
    if (word_is(ps, "null")) {
        if (op != PV_OP_EQ && op != PV_OP_NE)
            return perr(ps, "null only goes with eq or ne, not", NULL);
        v->is_null = 1;
        return next(ps);
    }
    switch (want) {
    case PV_VT_TEXT:
        if (ps->t.kind != T_STRING)
            return perr(ps, "expected a 'quoted' text value, got", NULL);
        v->s = ps->t.text;
        ps->t.text = NULL;
        return next(ps);
    case PV_VT_BOOL:
        if (!word_is(ps, "true") && !word_is(ps, "false"))
            return perr(ps, "expected true or false, got", NULL);
        v->i = word_is(ps, "true");
        return next(ps);
    case PV_VT_INT:
    case PV_VT_REAL: {
        char buf[64], *end;
        if (ps->t.kind != T_NUMBER || ps->t.len >= sizeof buf)
            return perr(ps, "expected a number, got", NULL);
        memcpy(buf, ps->t.start, ps->t.len);
        buf[ps->t.len] = '\0';
        errno = 0;
        if (want == PV_VT_INT) {
            v->i = strtoll(buf, &end, 10);
            if (*end || errno)
                return perr(ps, "expected a whole number, got", NULL);
        } else {
            v->r = strtod(buf, &end);
            if (*end || errno)
                return perr(ps, "expected a number, got", NULL);
        }
        return next(ps);
    }
    default:
        return perr(ps, "cannot compare", NULL);
    }
}

static int op_allowed(const struct pv_field *f, enum pv_fop op)
{
    switch (f->type) {
    case PV_VT_JSON: return op == PV_OP_CONTAINS;
    case PV_VT_TEXT: return 1;
    case PV_VT_BOOL: return op == PV_OP_EQ || op == PV_OP_NE || op == PV_OP_IN;
    default: return op != PV_OP_CONTAINS && op != PV_OP_STARTSWITH;
    }
}

static int parse_cmp(struct parser *ps, struct pv_filter_node **out)
{
    char name[64];
    const struct pv_field *f;
    struct pv_filter_node *n;
    size_t k;
    int rc;

    if (ps->t.kind != T_WORD)
        return perr(ps, "expected a field name, got", NULL);
    if (++ps->terms > MAX_TERMS)
        return perr(ps, "too many comparisons (at most 64) at", NULL);
    snprintf(name, sizeof name, "%.*s", (int)(ps->t.len > 63 ? 63 : ps->t.len), ps->t.start);
    f = pv_collection_field(ps->coll, name);
    if (!f || !(f->flags & PV_FIELD_FILTER))
        return pv_fail(ps->err, unknown_field,
                            "filter: '%s' at position %zu is not a field of %s that can be filtered",
                            name, ps->t.pos, ps->coll->name);
    if ((rc = next(ps)))
        return rc;
    for (k = 0; k < sizeof ops / sizeof ops[0] && !word_is(ps, ops[k].word); k++)
        ;
    if (k == sizeof ops / sizeof ops[0]) {
        char msg[128];
        snprintf(msg, sizeof msg, "expected an operator after '%.60s', got", name);
        return perr(ps, msg, NULL);
    }
    if (!op_allowed(f, ops[k].op))
        return perr(ps, "this operator does not apply to the field's type:", NULL);
    n = node_new(ops[k].op);
    if (!n)
        return pv_fail(ps->err, out_of_memory, "out of memory");
    n->field = f;
    *out = n;
    if ((rc = next(ps)))
        return rc;
    if (n->op != PV_OP_IN) {
        n->values = calloc(1, sizeof *n->values);
        if (!n->values)
            return pv_fail(ps->err, out_of_memory, "out of memory");
        n->nvalues = 1;
        return parse_value(ps, f, n->op, &n->values[0]);
    }
    if (ps->t.kind != T_LPAREN)
        return perr(ps, "expected '(' after in, got", NULL);
    n->values = calloc(MAX_IN, sizeof *n->values);
    if (!n->values)
        return pv_fail(ps->err, out_of_memory, "out of memory");
    do {
        if ((rc = next(ps)))
            return rc;
        if (n->nvalues == MAX_IN)
            return perr(ps, "too many values in 'in' (at most 64) at", NULL);
        /* counted before it is checked: a value parsed before a bad token
         * after it is freed with the node (make fuzz found the leak) */
        rc = parse_value(ps, f, PV_OP_EQ, &n->values[n->nvalues]);
        n->nvalues++;
        if (rc)
            return rc;
        if (n->values[n->nvalues - 1].is_null)
            return perr(ps, "null cannot be in a list; use eq null, before", NULL);
    } while (ps->t.kind == T_COMMA);
    if (ps->t.kind != T_RPAREN)
        return perr(ps, "expected ',' or ')' in the list, got", NULL);
    return next(ps);
}

static int parse_unary(struct parser *ps, struct pv_filter_node **out)
{
    int rc;

    if (++ps->depth > MAX_DEPTH)
        return perr(ps, "nested too deeply (at most 32) at", NULL);
    if (word_is(ps, "not")) {
        struct pv_filter_node *n = node_new(PV_OP_NOT);
        if (!n)
            return pv_fail(ps->err, out_of_memory, "out of memory");
        *out = n;
        if ((rc = next(ps)))
            return rc;
        rc = parse_unary(ps, &n->left);
    } else if (ps->t.kind == T_LPAREN) {
        if ((rc = next(ps)) || (rc = parse_or(ps, out)))
            return rc;
        if (ps->t.kind != T_RPAREN)
            return perr(ps, "expected ')', got", NULL);
        rc = next(ps);
    } else {
        rc = parse_cmp(ps, out);
    }
    ps->depth--;
    return rc;
}

static int parse_binary(struct parser *ps, struct pv_filter_node **out, const char *word,
                        enum pv_fop op, int (*sub)(struct parser *, struct pv_filter_node **))
{
    int rc = sub(ps, out);

    while (!rc && word_is(ps, word)) {
        struct pv_filter_node *n = node_new(op);
        if (!n)
            return pv_fail(ps->err, out_of_memory, "out of memory");
        n->left = *out;
        *out = n;
        if ((rc = next(ps)))
            return rc;
        rc = sub(ps, &n->right);
    }
    return rc;
}

static int parse_and(struct parser *ps, struct pv_filter_node **out)
{
    return parse_binary(ps, out, "and", PV_OP_AND, parse_unary);
}

static int parse_or(struct parser *ps, struct pv_filter_node **out)
{
    return parse_binary(ps, out, "or", PV_OP_OR, parse_and);
}

static int parse_filter(const struct pv_collection *c, const char *text, struct pv_query *q,
                        struct pv_error *err)
{
    struct parser ps = {.coll = c, .src = text, .p = text, .err = err};
    int rc;

    if (strlen(text) > PV_QUERY_MAX_FILTER)
        return pv_fail(err, invalid_filter, "filter: longer than %d bytes",
                            PV_QUERY_MAX_FILTER);
    if (!pv_utf8_valid(text, strlen(text)))
        return pv_fail(err, invalid_filter, "filter: not valid UTF-8");
    rc = next(&ps);
    if (!rc)
        rc = parse_or(&ps, &q->filter);
    if (!rc && ps.t.kind != T_END)
        rc = perr(&ps, "expected and, or or the end, got", NULL);
    free(ps.t.text);
    return rc;
}

/* ---- shape: a hash of the normalised filter and sort -------------------- */

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t shape_node(uint64_t h, const struct pv_filter_node *n)
{
    unsigned char op;

    if (!n)
        return fnv(h, "~", 1);
    op = (unsigned char)n->op;
    h = fnv(h, &op, 1);
    if (n->field)
        h = fnv(h, n->field->name, strlen(n->field->name) + 1);
    for (size_t i = 0; i < n->nvalues; i++) {
        const struct pv_value *v = &n->values[i];
        h = fnv(h, &v->is_null, sizeof v->is_null);
        h = fnv(h, &v->i, sizeof v->i);
        h = fnv(h, &v->r, sizeof v->r);
        if (v->s)
            h = fnv(h, v->s, strlen(v->s) + 1);
    }
    h = shape_node(h, n->left);
    return shape_node(h, n->right);
}

/* ---- cursor ------------------------------------------------------------- */

static json_t *value_json(const struct pv_value *v)
{
    if (v->is_null)
        return json_null();
    switch (v->type) {
    case PV_VT_INT: return json_integer(v->i);
    case PV_VT_REAL: return json_real(v->r);
    case PV_VT_BOOL: return json_boolean(v->i);
    default: return json_string(v->s ? v->s : "");
    }
}

char *pv_query_cursor(const struct pv_query *q, const struct pv_value *last, const char *last_id)
{
    char shape[17], *text, *out;
    json_t *o;

    snprintf(shape, sizeof shape, "%016llx", (unsigned long long)q->shape);
    o = json_pack("{s:s,s:o,s:s}", "s", shape, "v", value_json(last), "id", last_id ? last_id : "");
    if (!o)
        return NULL;
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text)
        return NULL;
    out = pv_b64url_encode((const unsigned char *)text, strlen(text));
    free(text);
    return out;
}

static int bad_cursor(struct pv_error *err, const char *why)
{
    return pv_fail(err, invalid_cursor,
                        "cursor: %s; use the next_cursor of a page of this same query", why);
}

static int parse_cursor(const char *text, struct pv_query *q, struct pv_error *err)
{
    unsigned char *raw;
    size_t len;
    json_t *o, *s, *v, *id;
    char shape[17];
    enum pv_vtype t = q->sort->type;
    int rc = 0;

    if (strlen(text) > MAX_CURSOR)
        return bad_cursor(err, "too long");
    raw = pv_b64url_decode(text, &len);
    if (!raw)
        return bad_cursor(err, "not base64url");
    o = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    s = json_object_get(o, "s");
    v = json_object_get(o, "v");
    id = json_object_get(o, "id");
    snprintf(shape, sizeof shape, "%016llx", (unsigned long long)q->shape);
    if (!json_is_object(o) || json_object_size(o) != 3 || !json_is_string(s) || !v ||
        !json_is_string(id)) {
        rc = bad_cursor(err, "not a cursor");
    } else if (strcmp(json_string_value(s), shape) != 0) {
        rc = bad_cursor(err, "made for another filter or sort");
    } else if (!json_is_null(v) &&
               ((t == PV_VT_INT && !json_is_integer(v)) || (t == PV_VT_REAL && !json_is_number(v)) ||
                (t == PV_VT_BOOL && !json_is_boolean(v)) ||
                ((t == PV_VT_TEXT || t == PV_VT_JSON) && !json_is_string(v)))) {
        rc = bad_cursor(err, "its value does not fit the sort field");
    } else {
        q->has_cursor = 1;
        q->cursor_value.type = t == PV_VT_JSON ? PV_VT_TEXT : t;
        q->cursor_value.is_null = json_is_null(v);
        if (json_is_integer(v) || json_is_boolean(v))
            q->cursor_value.i = json_is_boolean(v) ? json_is_true(v) : json_integer_value(v);
        if (json_is_number(v))
            q->cursor_value.r = json_number_value(v);
        if (json_is_string(v))
            q->cursor_value.s = strdup(json_string_value(v));
        q->cursor_id = strdup(json_string_value(id));
    }
    json_decref(o);
    return rc;
}

/* ---- the other parameters ----------------------------------------------- */

static int parse_sort(const struct pv_collection *c, const char *sort, struct pv_query *q,
                      struct pv_error *err)
{
    const struct pv_field *f;

    if (!sort || !*sort)
        sort = c->default_sort;
    q->sort_desc = sort[0] == '-';
    f = pv_collection_field(c, sort + q->sort_desc);
    if (!f || !(f->flags & PV_FIELD_SORT))
        return pv_fail(err, invalid_sort,
                            "sort: '%.64s' is not a field %s can be sorted by", sort, c->name);
    q->sort = f;
    return 0;
}

static int parse_limit(const char *limit, struct pv_query *q, struct pv_error *err)
{
    char *end;
    long long n;

    if (!limit || !*limit) {
        q->limit = PV_QUERY_DEFAULT_LIMIT;
        return 0;
    }
    errno = 0;
    n = strtoll(limit, &end, 10);
    if (*end || errno || n < 1 || n > PV_QUERY_MAX_LIMIT || limit[0] == '+' || limit[0] == ' ')
        return pv_fail(err, invalid_limit,
                            "limit: '%.32s' is not a whole number from 1 to %d", limit,
                            PV_QUERY_MAX_LIMIT);
    q->limit = (size_t)n;
    return 0;
}

static int parse_fields(const struct pv_collection *c, const char *fields, struct pv_query *q,
                        struct pv_error *err)
{
    const char *p = fields;

    if (!fields || !*fields)
        return 0;
    if (!pv_utf8_valid(fields, strlen(fields)))
        return pv_fail(err, invalid_fields, "fields: not valid UTF-8");
    q->fields = calloc(MAX_FIELDS, sizeof(const struct pv_field *));
    if (!q->fields)
        return pv_fail(err, out_of_memory, "out of memory");
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char name[64];
        const struct pv_field *f;
        size_t k;
        snprintf(name, sizeof name, "%.*s", (int)(len > 63 ? 63 : len), p);
        f = len < 64 ? pv_collection_field(c, name) : NULL;
        if (!f)
            return pv_fail(err, invalid_fields, "fields: '%s' is not a field of %s",
                                name, c->name);
        for (k = 0; k < q->nfields && q->fields[k] != f; k++)
            ;
        if (k == q->nfields) {
            if (q->nfields == MAX_FIELDS)
                return pv_fail(err, invalid_fields, "fields: too many");
            q->fields[q->nfields++] = f;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

int pv_query_parse(const struct pv_collection *c, const char *filter, const char *sort,
                   const char *limit, const char *cursor, const char *fields,
                   struct pv_query *q, struct pv_error *err)
{
    int rc;

    memset(q, 0, sizeof *q);
    q->coll = c;
    if ((filter && *filter && (rc = parse_filter(c, filter, q, err))) ||
        (rc = parse_sort(c, sort, q, err)) || (rc = parse_limit(limit, q, err)) ||
        (rc = parse_fields(c, fields, q, err)))
        goto fail;
    q->shape = shape_node(14695981039346656037ull, q->filter);
    q->shape = fnv(q->shape, q->sort->name, strlen(q->sort->name) + 1);
    q->shape = fnv(q->shape, &q->sort_desc, sizeof q->sort_desc);
    if (cursor && *cursor && (rc = parse_cursor(cursor, q, err)))
        goto fail;
    return 0;
fail:
    pv_query_clear(q);
    return rc;
}
