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

void pvc_print_items(const struct pvc *c, json_t *items, const char *columns)
{
    const char *cols[MAX_COLS];
    char buf[1024];
    size_t w[MAX_COLS] = {0}, i, rows = json_array_size(items);
    int n = split(columns, buf, sizeof buf, cols);
    char **cells;
    json_t *it;

    if (c->out == PVC_OUT_NAME) {
        json_array_foreach(items, i, it) {
            char *s = pvc_cell(json_object_get(it, "id"));
            puts(s);
            free(s);
        }
        return;
    }
    if (c->out == PVC_OUT_JSON) {
        json_dumpf(items, stdout, JSON_COMPACT);
        putchar('\n');
        return;
    }
    cells = calloc(rows * (size_t)n + 1, sizeof *cells);
    if (!cells)
        return;
    for (int k = 0; k < n && !c->no_headers; k++)
        w[k] = strlen(cols[k]);
    json_array_foreach(items, i, it) {
        for (int k = 0; k < n; k++) {
            char *s = pvc_cell(json_object_get(it, cols[k]));
            cells[i * (size_t)n + (size_t)k] = s;
            if (width(s) > w[k])
                w[k] = width(s);
        }
    }
    if (!c->no_headers) {
        for (int k = 0; k < n; k++) {
            for (const char *p = cols[k]; *p; p++)
                putchar(toupper((unsigned char)*p));
            if (k + 1 < n)
                printf("%*s", (int)(w[k] - strlen(cols[k]) + 2), "");
        }
        putchar('\n');
    }
    for (i = 0; i < rows; i++) {
        for (int k = 0; k < n; k++) {
            const char *s = cells[i * (size_t)n + (size_t)k];
            fputs(s, stdout);
            if (k + 1 < n)
                printf("%*s", (int)(w[k] - width(s) + 2), "");
        }
        putchar('\n');
    }
    for (i = 0; i < rows * (size_t)n; i++)
        free(cells[i]);
    free(cells);
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
