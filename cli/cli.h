/* cli.h -- what the parts of `polyvisor`, the command-line client, share.
 *
 * One struct pvc is one run of the program: the parsed command line, where
 * it talks to (server, token, TLS), how it prints (-o), and the one HTTP
 * session (lib/httpc) it talks through.  Every command is a function
 * `int cmd(struct pvc *c)` that returns the process's exit status, so the
 * contract's four outcomes have one spelling each:
 *
 *     PVC_OK 0      done
 *     PVC_JOB 1     the job it waited for failed or was cancelled
 *     PVC_USAGE 2   the command line is wrong (or a name is ambiguous)
 *     PVC_API 3     the API (or the way to it) answered with an error
 *
 * Errors travel as a struct pv_error (lib/errors.def codes, the API's own
 * code when it sent one) and are printed once, by pvc_report.
 */
#ifndef PVC_CLI_H
#define PVC_CLI_H

#include <jansson.h>
#include "lib/buf.h"
#include "lib/errors.h"
#include "lib/httpc.h"

enum { PVC_OK = 0, PVC_JOB = 1, PVC_USAGE = 2, PVC_API = 3 };
enum pvc_out { PVC_OUT_TABLE, PVC_OUT_JSON, PVC_OUT_NAME };

#define PVC_MAX_FLAGS 64
#define PVC_MAX_WORDS 16

struct pvc_flag {
    const char *name;   /* without the dashes: "filter" */
    const char *value;  /* NULL for a switch */
    int unknown;        /* no such flag: name is the word as given */
};

struct pvc {
    /* the command line, global flags taken out */
    const char *words[PVC_MAX_WORDS];
    int nwords;
    struct pvc_flag flags[PVC_MAX_FLAGS];
    int nflags;
    /* printing */
    enum pvc_out out;
    int out_set;        /* -o given; else table on a terminal, json elsewhere */
    int no_headers;
    int tty_out, tty_err;
    /* where to: from the flags, the environment and the chosen context */
    const char *server_flag, *context_flag;
    int insecure_flag;
    char *server, *token, *context;
    int insecure;
    struct pv_httpc *http;
    struct pv_error err;
};

/* --- args.c: the command line --- */
/* Split argv into words and flags (global ones applied to c); 2 and a
 * message on stderr when a flag is unknown or lacks its value. */
int pvc_parse(struct pvc *c, int argc, char **argv);
/* The value of flag name (the last one given), or NULL. */
const char *pvc_flag(const struct pvc *c, const char *name);
int pvc_has(const struct pvc *c, const char *name);
/* Every flag the command was given must be one of allowed (a
 * comma-separated list of names), and it must have between min and max
 * words after the command's own nwords_cmd words.  Else the usage line on
 * stderr and PVC_USAGE. */
int pvc_check(const struct pvc *c, int nwords_cmd, int min, int max, const char *allowed,
              const char *usage);
/* Print "polyvisor: " msg and the usage line; returns PVC_USAGE. */
int pvc_usage(const char *usage, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A whole number flag; -1 (and a usage error printed) when it is not one. */
int pvc_int_flag(const struct pvc *c, const char *name, long long min, long long *out);

/* --- config.c: contexts and tokens under $XDG_CONFIG_HOME/polyvisor --- */
/* Decide server, token and insecure from flags, environment and config. */
int pvc_config_resolve(struct pvc *c);
/* Keep a token for server under context name (NULL: the server's own, or a
 * new one named after its host) and make that context current. */
int pvc_config_save_login(struct pvc *c, const char *server, const char *user,
                          const char *token, int insecure, char **name_out);
int pvc_config_forget_token(struct pvc *c);
int cmd_context(struct pvc *c);

/* --- api.c: calls --- */
/* Open the session to c->server with c->token (needs a server). */
int pvc_connect(struct pvc *c, int need_token);
/* One call.  body may be NULL.  On a 2xx: 0, the answer's bytes in raw
 * (when not NULL) and parsed in *out (when not NULL).  Otherwise the API's
 * error in c->err and PVC_API. */
int pvc_call(struct pvc *c, const char *method, const char *path, const json_t *body,
             struct pv_buf *raw, json_t **out);
/* The API's error body (an answer of that status) into c->err. */
void pvc_api_error(struct pvc *c, long status, const struct pv_buf *raw);
/* An id of collection coll (e.g. "vms") from an id or a name.  Not found:
 * not_found_code in c->err, PVC_API; several with that name: the
 * candidates on stderr and PVC_USAGE.  *id is malloc'd. */
int pvc_resolve(struct pvc *c, const char *coll, const char *what, const char *not_found_code,
                const char *arg, char **id);
/* Print c->err as "polyvisor: CODE: message" on stderr. */
void pvc_report(const struct pvc *c);
/* s escaped for a URL's path or query (malloc'd; exits on no memory). */
char *pvc_escape(const char *s);

/* --- output.c --- */
/* Rows as a table of the given columns (comma-separated), or ids. */
void pvc_print_items(const struct pvc *c, json_t *items, const char *columns);
/* A table filled page by page (-o table or name; name prints at once). */
struct pvc_table;
struct pvc_table *pvc_table_new(const struct pvc *c, const char *columns);
void pvc_table_add(struct pvc_table *t, json_t *items);
void pvc_table_print(struct pvc_table *t);   /* prints and frees; NULL: no-op */
void pvc_table_free(struct pvc_table *t);    /* NULL: no-op */
/* An answer's bytes as they came (-o json), ending in a newline. */
void pvc_print_raw(const struct pv_buf *raw);
/* One object: field per line, or its id. */
void pvc_print_object(const struct pvc *c, json_t *obj);
/* A value as a table cell (malloc'd). */
char *pvc_cell(json_t *v);

/* --- collections.c --- */
int cmd_collection(struct pvc *c);   /* <collection> list|get */
int pvc_is_collection(const char *word);
const char *pvc_collection_words(void); /* for help: "vm host ..." */

/* --- actions.c --- */
/* `<collection> <action> ID` (and `connection add`): the exit status, or
 * -1 when the collection has no such action. */
int pvc_object_action(struct pvc *c, const char *path, const char *what, int named,
                      const char *not_found);
/* The actions' usage line for a collection, in buf; NULL when it has none. */
const char *pvc_action_usage(const char *coll, char *buf, size_t size);

/* --- jobs.c --- */
/* A call that answers 202 and a job: print it, or with --wait follow it. */
int pvc_submit(struct pvc *c, const char *method, const char *path, const json_t *body);
/* Follow job id until it ends (event stream, progress on stderr); print
 * it; PVC_OK when it succeeded, PVC_JOB otherwise. */
int pvc_job_wait(struct pvc *c, const char *id);
int cmd_job(struct pvc *c);

/* --- vm.c --- */
int cmd_vm(struct pvc *c);
int cmd_placement(struct pvc *c);

/* --- main.c --- */
int cmd_completion(struct pvc *c);

#endif
