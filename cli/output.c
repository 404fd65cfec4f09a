/* output.c -- how the CLI prints objects: -o table, -o name (and -o json,
 * which the commands print themselves, as the API's own bytes).
 *
 * A table has one row per object and the columns a command chose (or
 * --fields), headed by the field names in capitals unless --no-headers;
 * a cell is the value as text: strings as they are, null as "-", lists of
 * strings joined with commas, anything else as compact JSON.  Widths count
 * characters, not bytes, so names in UTF-8 line up.  -o name prints ids,
 * one per line: the word every other command takes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

#define MAX_COLS 32

char *pvc_cell(json_t *v)
{
    struct pv_buf b = PV_BUF_INIT;
    char *r;

    if (!v || json_is_null(v)) {
        pv_buf_adds(&b, "-");
    } else if (json_is_string(v)) {
        pv_buf_adds(&b, json_string_value(v));
    } else if (json_is_integer(v)) {
        pv_buf_addf(&b, "%lld", (long long)json_integer_value(v));
    } else if (json_is_real(v)) {
        pv_buf_addf(&b, "%.4g", json_real_value(v));
    } else if (json_is_boolean(v)) {
        pv_buf_adds(&b, json_is_true(v) ? "true" : "false");
    } else {
        size_t i;
        json_t *it;
        int strings = json_is_array(v);
        json_array_foreach(v, i, it) strings = strings && json_is_string(it);
        if (strings) {
            json_array_foreach(v, i, it) pv_buf_addf(&b, "%s%s", i ? "," : "", json_string_value(it));
            if (json_array_size(v) == 0)
                pv_buf_adds(&b, "-");
        } else {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            pv_buf_adds(&b, s ? s : "?");
            free(s);
        }
    }
    r = pv_buf_detach(&b);
    return r ? r : strdup("");
}

/* Characters in s (UTF-8 continuation bytes do not count). */
static size_t width(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int split(const char *columns, char *buf, size_t size, const char **cols)
{
    int n = 0;

    snprintf(buf, size, "%s", columns);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < MAX_COLS;
         t = strtok_r(NULL, ",", &save))
        cols[n++] = t;
    return n;
}

/* A table being filled page by page: the cells as text (the pages' JSON
 * can go as soon as a page is added) and each column's width. */
struct pvc_table {
    const struct pvc *c;
    char buf[1024];
    const char *cols[MAX_COLS];
    size_t w[MAX_COLS];
    int n;
    char **cells;
    size_t rows, cap;
};

struct pvc_table *pvc_table_new(const struct pvc *c, const char *columns)
{
    struct pvc_table *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->c = c;
    t->n = split(columns, t->buf, sizeof t->buf, t->cols);
    for (int k = 0; k < t->n && !c->no_headers; k++)
        t->w[k] = strlen(t->cols[k]);
    return t;
}

void pvc_table_add(struct pvc_table *t, json_t *items)
{
    size_t i, n = (size_t)t->n;
    json_t *it;

    if (t->c->out == PVC_OUT_NAME) { /* nothing to line up: out at once */
        json_array_foreach(items, i, it) {
            char *s = pvc_cell(json_object_get(it, "id"));
            puts(s);
            free(s);
        }
        return;
    }
    if (n == 0)
        return;
    if (t->rows + json_array_size(items) > t->cap) {
        size_t cap = (t->rows + json_array_size(items)) * 2;
        char **more = realloc(t->cells, cap * n * sizeof *more);
        if (!more)
            return;
        t->cells = more;
        t->cap = cap;
    }
    json_array_foreach(items, i, it) {
        for (size_t k = 0; k < n; k++) {
            char *s = pvc_cell(json_object_get(it, t->cols[k]));
            t->cells[t->rows * n + k] = s;
            if (width(s) > t->w[k])
                t->w[k] = width(s);
        }
        t->rows++;
    }
}

void pvc_table_free(struct pvc_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->rows * (size_t)t->n; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

void pvc_table_print(struct pvc_table *t)
{
    size_t n;

    if (!t)
        return;
    n = (size_t)t->n;
    if (t->c->out == PVC_OUT_TABLE && !t->c->no_headers) {
        for (size_t k = 0; k < n; k++) {
            for (const char *p = t->cols[k]; *p; p++)
                putchar(toupper((unsigned char)*p));
            if (k + 1 < n)
                printf("%*s", (int)(t->w[k] - strlen(t->cols[k]) + 2), "");
        }
        putchar('\n');
    }
    for (size_t i = 0; i < t->rows; i++) {
        for (size_t k = 0; k < n; k++) {
            const char *s = t->cells[i * n + k];
            fputs(s, stdout);
            if (k + 1 < n)
                printf("%*s", (int)(t->w[k] - width(s) + 2), "");
        }
        putchar('\n');
    }
    pvc_table_free(t);
}

void pvc_print_items(const struct pvc *c, json_t *items, const char *columns)
{
    struct pvc_table *t;

    if (c->out == PVC_OUT_JSON) {
        json_dumpf(items, stdout, JSON_COMPACT);
        putchar('\n');
        return;
    }
    t = pvc_table_new(c, columns);
    if (t) {
        pvc_table_add(t, items);
        pvc_table_print(t);
    }
}

void pvc_print_raw(const struct pv_buf *raw)
{
    size_t n = raw->s ? raw->len : 0;

    fwrite(n ? raw->s : "", 1, n, stdout);
    if (n == 0 || raw->s[n - 1] != '\n')
        putchar('\n');
}

void pvc_print_object(const struct pvc *c, json_t *obj)
{
    const char *key;
    json_t *v;
    size_t w = 0;

    if (c->out == PVC_OUT_NAME) {
        char *s = pvc_cell(json_object_get(obj, "id"));
        puts(s);
        free(s);
        return;
    }
    if (c->out == PVC_OUT_JSON) {
        json_dumpf(obj, stdout, JSON_COMPACT);
        putchar('\n');
        return;
    }
    json_object_foreach(obj, key, v) if (strlen(key) > w) w = strlen(key);
    json_object_foreach(obj, key, v) {
        char *s = pvc_cell(v);
        printf("%s:%*s%s\n", key, (int)(w - strlen(key) + 1), "", s);
        free(s);
    }
}
