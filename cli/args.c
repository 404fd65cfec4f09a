/* args.c -- the command line: words and flags, as kubectl takes them.
 *
 * Flags may come anywhere (`polyvisor -o json vm list` and `polyvisor vm
 * list -o json` are one command), as `--name value` or `--name=value`.
 * Every flag the program knows is one row of `known` below, which says
 * whether it takes a value; the global ones (--server, --insecure,
 * --context, -o, --no-headers) are applied here, the rest are kept for the
 * command, which names the ones it accepts (pvc_check): a flag a command
 * does not take, or one nobody knows, is a usage error (exit 2) with that
 * command's usage line, never silently ignored.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

static const struct {
    const char *name;
    int takes_value;
} known[] = {
    {"server", 1}, {"insecure", 0}, {"context", 1}, {"output", 1}, {"no-headers", 0},
    {"help", 0}, {"user", 1}, {"password-stdin", 0}, {"filter", 1}, {"sort", 1},
    {"fields", 1}, {"all", 0}, {"limit", 1}, {"name", 1}, {"vcpus", 1}, {"memory-mb", 1},
    {"host", 1}, {"disk", 1}, {"nic", 1}, {"ha", 1}, {"tag", 1}, {"wait", 0}, {"mode", 1},
    {"vm", 1}, {"vendor", 1}, {"host-group", 1}, {"type", 1}, {"url", 1},
    {"token-stdin", 0}, {"skip-tls-verify", 0}, {"evacuate", 1},
};

int pvc_usage(const char *usage, const char *fmt, ...)
{
    va_list ap;

    fputs("polyvisor: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nusage: %s\n", usage ? usage : "polyvisor [GLOBAL FLAGS] COMMAND ... (polyvisor help)");
    return PVC_USAGE;
}

static int lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].name) == len && strncmp(known[i].name, name, len) == 0)
            return (int)i;
    return -1;
}

static int set_output(struct pvc *c, const char *v)
{
    if (!v)
        return pvc_usage(NULL, "-o needs a value");
    if (strcmp(v, "table") == 0)
        c->out = PVC_OUT_TABLE;
    else if (strcmp(v, "json") == 0)
        c->out = PVC_OUT_JSON;
    else if (strcmp(v, "name") == 0)
        c->out = PVC_OUT_NAME;
    else
        return pvc_usage(NULL, "-o takes table, json or name, not '%s'", v);
    c->out_set = 1;
    return 0;
}

/* Apply a global flag; 1 when it was one, 0 when it is the command's. */
static int global(struct pvc *c, const char *name, const char *value, int *rc)
{
    *rc = 0;
    if (strcmp(name, "server") == 0)
        c->server_flag = value;
    else if (strcmp(name, "context") == 0)
        c->context_flag = value;
    else if (strcmp(name, "insecure") == 0)
        c->insecure_flag = 1;
    else if (strcmp(name, "no-headers") == 0)
        c->no_headers = 1;
    else if (strcmp(name, "output") == 0)
        *rc = set_output(c, value);
    else
        return 0;
    return 1;
}

int pvc_parse(struct pvc *c, int argc, char **argv)
{
    int only_words = 0, rc;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *name, *eq, *value = NULL;
        size_t nlen;
        int k;

        if (only_words || a[0] != '-' || a[1] == '\0') {
            if (c->nwords == PVC_MAX_WORDS)
                return pvc_usage(NULL, "too many arguments");
            c->words[c->nwords++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_words = 1;
            continue;
        }
        if (a[1] == 'o' || a[1] == 'h') { /* the two short flags: -o FORMAT, -h */
            name = a[1] == 'o' ? "output" : "help";
            nlen = strlen(name);
            if (a[1] == 'o' && a[2])
                value = a[2] == '=' ? a + 3 : a + 2;
            else if (a[1] == 'h' && a[2])
                name = a, nlen = strlen(a); /* -hx: unknown */
        } else if (a[1] == '-') {
            name = a + 2;
            eq = strchr(name, '=');
            nlen = eq ? (size_t)(eq - name) : strlen(name);
            if (eq)
                value = eq + 1;
        } else {
            name = a; /* an unknown short flag */
            nlen = strlen(a);
        }
        k = lookup(name, nlen);
        if (k < 0) { /* said by pvc_check, with the command's own usage line */
            if (c->nflags == PVC_MAX_FLAGS)
                return pvc_usage(NULL, "too many flags");
            c->flags[c->nflags].name = a;
            c->flags[c->nflags].value = NULL;
            c->flags[c->nflags++].unknown = 1;
            continue;
        }
        name = known[k].name;
        if (known[k].takes_value && !value) {
            if (i + 1 >= argc)
                return pvc_usage(NULL, "flag --%s needs a value", name);
            value = argv[++i];
        } else if (!known[k].takes_value && value) {
            return pvc_usage(NULL, "flag --%s takes no value", name);
        }
        if (global(c, name, value, &rc)) {
            if (rc)
                return rc;
            continue;
        }
        if (c->nflags == PVC_MAX_FLAGS)
            return pvc_usage(NULL, "too many flags");
        c->flags[c->nflags].name = name;
        c->flags[c->nflags].value = value;
        c->nflags++;
    }
    return 0;
}

const char *pvc_flag(const struct pvc *c, const char *name)
{
    const char *v = NULL;

    for (int i = 0; i < c->nflags; i++)
        if (strcmp(c->flags[i].name, name) == 0)
            v = c->flags[i].value;
    return v;
}

int pvc_has(const struct pvc *c, const char *name)
{
    for (int i = 0; i < c->nflags; i++)
        if (strcmp(c->flags[i].name, name) == 0)
            return 1;
    return 0;
}

static int listed(const char *allowed, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = allowed; p && *p;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p = end ? end + 1 : NULL;
    }
    return 0;
}

int pvc_check(const struct pvc *c, int nwords_cmd, int min, int max, const char *allowed,
              const char *usage)
{
    int n = c->nwords - nwords_cmd;

    for (int i = 0; i < c->nflags; i++)
        if (c->flags[i].unknown)
            return pvc_usage(usage, "unknown flag '%s'", c->flags[i].name);
    for (int i = 0; i < c->nflags; i++)
        if (!listed(allowed, c->flags[i].name))
            return pvc_usage(usage, "this command takes no flag --%s", c->flags[i].name);
    if (n < min)
        return pvc_usage(usage, "missing argument");
    if (n > max)
        return pvc_usage(usage, "unexpected argument '%s'", c->words[nwords_cmd + max]);
    return 0;
}

int pvc_int_flag(const struct pvc *c, const char *name, long long min, long long *out)
{
    const char *v = pvc_flag(c, name);
    char *end;

    errno = 0;
    *out = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || *out < min) {
        pvc_usage(NULL, "--%s takes a whole number of at least %lld", name, min);
        return -1;
    }
    return 0;
}
