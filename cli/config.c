/* config.c -- where the CLI talks to: named contexts, as kubectl keeps them.
 *
 * $XDG_CONFIG_HOME/polyvisor/config.json (~/.config when XDG_CONFIG_HOME is
 * unset) holds {"current_context": NAME, "contexts": {NAME: {"server",
 * "user", "token", "insecure"}}}.  It carries bearer tokens, so it is only
 * ever written as a new file of mode 0600 (in a directory of mode 0700)
 * renamed over the old one: no moment exists where another user could read
 * it, and a crash leaves the old file whole.
 *
 * Precedence, highest first: --server, then POLYVISOR_URL, then the
 * context's server; POLYVISOR_TOKEN, then the token of the context that
 * belongs to that server.  A token is never sent to a server other than
 * the one it was issued by: when --server names another server than the
 * current context's, the context of that server (if any) is used instead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli/cli.h"

static char *config_dir(void)
{
    const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
    struct pv_buf b = PV_BUF_INIT;

    if (x && *x)
        pv_buf_addf(&b, "%s/polyvisor", x);
    else
        pv_buf_addf(&b, "%s/.config/polyvisor", home && *home ? home : ".");
    return pv_buf_detach(&b);
}

static char *config_path(void)
{
    char *dir = config_dir();
    struct pv_buf b = PV_BUF_INIT;

    pv_buf_addf(&b, "%s/config.json", dir ? dir : ".");
    free(dir);
    return pv_buf_detach(&b);
}

/* The file's contents, or an empty config when there is none. */
static json_t *load(struct pvc *c)
{
    char *path = config_path();
    json_error_t je;
    json_t *cfg = NULL;

    if (path && access(path, F_OK) == 0) {
        cfg = json_load_file(path, 0, &je);
        if (!cfg || !json_is_object(cfg)) {
            pv_fail(&c->err, invalid_config, "%s: %s", path, cfg ? "not a JSON object" : je.text);
            json_decref(cfg);
            free(path);
            return NULL;
        }
    }
    free(path);
    if (!cfg)
        cfg = json_object();
    if (!json_is_object(json_object_get(cfg, "contexts")))
        json_object_set_new(cfg, "contexts", json_object());
    return cfg;
}

static int mkdir_p(const char *dir)
{
    char *p = strdup(dir);
    int rc = 0;

    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0700) && errno != EEXIST)
                rc = -1;
            *s = '/';
        }
    if (mkdir(p, 0700) && errno != EEXIST)
        rc = -1;
    free(p);
    return rc;
}

static int store(struct pvc *c, const json_t *cfg)
{
    char *dir = config_dir(), *path = config_path();
    struct pv_buf tmp = PV_BUF_INIT;
    int fd = -1, rc = 0;

    if (!dir || !path || mkdir_p(dir)) {
        rc = pv_fail(&c->err, tmpfile, "cannot make %s: %s", dir ? dir : "?", strerror(errno));
        goto out;
    }
    pv_buf_addf(&tmp, "%s.%ld.tmp", path, (long)getpid());
    fd = open(pv_buf_str(&tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || fchmod(fd, 0600) || json_dumpfd(cfg, fd, JSON_INDENT(2) | JSON_SORT_KEYS) ||
        write(fd, "\n", 1) != 1 || fsync(fd)) {
        rc = pv_fail(&c->err, tmpfile, "cannot write %s: %s", pv_buf_str(&tmp), strerror(errno));
        unlink(pv_buf_str(&tmp));
        goto out;
    }
    if (rename(pv_buf_str(&tmp), path)) {
        rc = pv_fail(&c->err, tmpfile, "cannot replace %s: %s", path, strerror(errno));
        unlink(pv_buf_str(&tmp));
    }
out:
    if (fd >= 0)
        close(fd);
    pv_buf_free(&tmp);
    free(dir);
    free(path);
    return rc ? PVC_API : 0;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static char *dup_url(const char *u)
{
    char *s = strdup(u);
    size_t n = s ? strlen(s) : 0;

    while (n > 0 && s[n - 1] == '/')
        s[--n] = '\0';
    return s;
}

/* The name of the context whose server is url, or NULL. */
static const char *context_of(const json_t *cfg, const char *url)
{
    const char *name;
    json_t *ctx;

    json_object_foreach(json_object_get(cfg, "contexts"), name, ctx) {
        char *s = str(ctx, "server") ? dup_url(str(ctx, "server")) : NULL;
        int same = s && strcmp(s, url) == 0;
        free(s);
        if (same)
            return name;
    }
    return NULL;
}

int pvc_config_resolve(struct pvc *c)
{
    json_t *cfg = load(c), *ctx = NULL;
    const char *name, *env_url = getenv("POLYVISOR_URL"), *env_token = getenv("POLYVISOR_TOKEN");
    const char *server = c->server_flag ? c->server_flag : env_url && *env_url ? env_url : NULL;
    int rc = 0;

    if (!cfg)
        return PVC_API;
    name = c->context_flag ? c->context_flag : str(cfg, "current_context");
    if (name)
        ctx = json_object_get(json_object_get(cfg, "contexts"), name);
    if (c->context_flag && !ctx && !server) {
        rc = pvc_usage(NULL, "no context named '%s' (polyvisor context list)", c->context_flag);
        goto out;
    }
    if (server) {
        c->server = dup_url(server);
        /* a context of another server lends it nothing */
        if (ctx && (!str(ctx, "server") || strcmp(c->server, str(ctx, "server")) != 0)) {
            ctx = NULL;
            if (!c->context_flag && (name = context_of(cfg, c->server)))
                ctx = json_object_get(json_object_get(cfg, "contexts"), name);
        }
    } else if (ctx && str(ctx, "server")) {
        c->server = dup_url(str(ctx, "server"));
    }
    if (ctx)
        c->context = strdup(name);
    if (env_token && *env_token)
        c->token = strdup(env_token);
    else if (ctx && str(ctx, "token"))
        c->token = strdup(str(ctx, "token"));
    c->insecure = c->insecure_flag || (ctx && json_is_true(json_object_get(ctx, "insecure")));
out:
    json_decref(cfg);
    return rc;
}

/* "host:port" of a URL, as a context's default name. */
static char *name_of(const char *url)
{
    const char *p = strstr(url, "://");
    size_t n;

    p = p ? p + 3 : url;
    n = strcspn(p, "/");
    return strndup(p, n);
}

int pvc_config_save_login(struct pvc *c, const char *server, const char *user,
                          const char *token, int insecure, char **name_out)
{
    json_t *cfg = load(c), *ctx;
    const char *found;
    char *name;
    int rc;

    if (!cfg)
        return PVC_API;
    found = c->context_flag ? c->context_flag : context_of(cfg, server);
    name = found ? strdup(found) : name_of(server);
    ctx = json_pack("{s:s, s:s, s:s, s:b}", "server", server, "user", user, "token", token,
                    "insecure", insecure);
    json_object_set_new(json_object_get(cfg, "contexts"), name, ctx);
    json_object_set_new(cfg, "current_context", json_string(name));
    rc = store(c, cfg);
    json_decref(cfg);
    *name_out = name;
    return rc;
}

int pvc_config_forget_token(struct pvc *c)
{
    json_t *cfg, *ctx;
    int rc = 0;

    if (!c->context)
        return 0;
    if (!(cfg = load(c)))
        return PVC_API;
    ctx = json_object_get(json_object_get(cfg, "contexts"), c->context);
    if (ctx) {
        json_object_del(ctx, "token");
        rc = store(c, cfg);
    }
    json_decref(cfg);
    return rc;
}

static const char context_usage[] = "polyvisor context list | use NAME | delete NAME";

int cmd_context(struct pvc *c)
{
    const char *sub = c->nwords > 1 ? c->words[1] : NULL, *name;
    json_t *cfg, *ctx, *rows;
    int rc = 0;

    if (!sub)
        return pvc_usage(context_usage, "context needs list, use or delete");
    if (strcmp(sub, "list") == 0) {
        if ((rc = pvc_check(c, 2, 0, 0, "", context_usage)))
            return rc;
    } else if (strcmp(sub, "use") == 0 || strcmp(sub, "delete") == 0) {
        if ((rc = pvc_check(c, 2, 1, 1, "", context_usage)))
            return rc;
    } else {
        return pvc_usage(context_usage, "context has no subcommand '%s'", sub);
    }
    if (!(cfg = load(c)))
        return PVC_API;
    if (strcmp(sub, "list") == 0) {
        const char *cur = str(cfg, "current_context");
        rows = json_array();
        json_object_foreach(json_object_get(cfg, "contexts"), name, ctx) {
            /* the token stays in the file: a listing never shows it */
            json_array_append_new(rows, json_pack("{s:s, s:s, s:s?, s:s, s:b, s:b}", "id", name,
                                                  "name", name, "server", str(ctx, "server"),
                                                  "user", str(ctx, "user") ? str(ctx, "user") : "",
                                                  "current", cur && strcmp(cur, name) == 0,
                                                  "logged_in", str(ctx, "token") != NULL));
        }
        if (c->out == PVC_OUT_JSON) {
            json_t *page = json_pack("{s:o}", "items", rows);
            json_dumpf(page, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(page);
        } else {
            pvc_print_items(c, rows, "current,name,server,user,logged_in");
            json_decref(rows);
        }
    } else {
        name = c->words[2];
        if (!json_object_get(json_object_get(cfg, "contexts"), name)) {
            rc = pvc_usage(context_usage, "no context named '%s'", name);
        } else {
            if (strcmp(sub, "use") == 0) {
                json_object_set_new(cfg, "current_context", json_string(name));
            } else {
                json_object_del(json_object_get(cfg, "contexts"), name);
                if (str(cfg, "current_context") && strcmp(str(cfg, "current_context"), name) == 0)
                    json_object_del(cfg, "current_context");
            }
            rc = store(c, cfg);
        }
    }
    json_decref(cfg);
    return rc;
}
