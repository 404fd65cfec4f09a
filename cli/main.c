/* main.c -- `polyvisor`, the command-line client of polyvisord: the
 * command table, sign-in and sign-out, help and shell completion.
 *
 * The exit status is the contract of DESIGN.md ("The CLI"): 0 done, 1 the
 * job that was waited for failed or was cancelled, 2 a usage error, 3 an
 * error from the API (its code and message on stderr).  A name that fits
 * several objects is a usage error (2) that lists their ids: the command
 * line did not say which one, and lib/errors.def has no code for it.
 *
 * The completion scripts are files of their own (cli/polyvisor.bash,
 * cli/polyvisor.zsh) that the build embeds, so they are read and checked as
 * shell, not as C strings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "cli/cli.h"

extern const char pvc_completion_bash[];
extern const char pvc_completion_zsh[];

static const char help[] =
    "usage: polyvisor [--server URL] [--insecure] [--context NAME] [-o table|json|name]\n"
    "                 [--no-headers] COMMAND ...\n"
    "\n"
    "  login --user NAME [--password-stdin]  sign in (asked on a terminal); the token is kept in\n"
    "                                         $XDG_CONFIG_HOME/polyvisor/config.json (0600)\n"
    "  logout                                revoke the token and forget it\n"
    "  context list | use NAME | delete NAME the servers signed in to\n"
    "  COLLECTION list [--filter F] [--sort S] [--fields F] [--limit N] [--all]\n"
    "  COLLECTION get ID|NAME\n"
    "      COLLECTION: vm host cluster host-group connection job event schedule plan\n"
    "                  storage-pool network\n"
    "  vm create --name N --vcpus N --memory-mb N [--host H] [--disk size_gb=N,pool=P]...\n"
    "            [--nic network=NET]... [--ha off|low|medium|high] [--tag T]... [--wait]\n"
    "  vm start|stop|poweroff|reboot|pause|resume|save|delete VM [--wait]\n"
    "  vm migrate VM [--host H] [--mode live|quick] [--wait]\n"
    "  job wait ID | job cancel|restart ID [--wait]\n"
    "  host maintenance HOST [--evacuate live|quick|none] [--wait] | host maintenance-exit HOST\n"
    "  connection add --type T --url U [--token-stdin | --user N --password-stdin]\n"
    "                 [--skip-tls-verify] [--wait] | connection sync|delete ID [--wait]\n"
    "  schedule run|enable|disable|delete ID | plan approve|reject ID\n"
    "  placement rate (--vm VM | --vcpus N --memory-mb N [--vendor V]) [--host-group HG] [--limit N]\n"
    "  completion bash|zsh                   print a shell completion script\n"
    "\n"
    "POLYVISOR_URL and POLYVISOR_TOKEN override the context's server and token.\n"
    "Exit status: 0 done, 1 the job failed, 2 usage, 3 an API error.  See polyvisor(1).\n";

/* The password typed at a terminal, not echoed (as ssh and sudo ask). */
static int ask_password(char *line, size_t size)
{
    struct termios old, quiet;
    int ok;

    if (tcgetattr(STDIN_FILENO, &old))
        return 0;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    fputs("Password: ", stderr);
    fflush(stderr);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    ok = fgets(line, (int)size, stdin) != NULL;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputc('\n', stderr);
    return ok;
}

static int login(struct pvc *c)
{
    static const char usage[] = "polyvisor [--server URL] [--insecure] [--context NAME] login "
                                "--user NAME [--password-stdin]";
    char line[1100];
    json_t *body = NULL, *ans = NULL;
    char *name = NULL;
    size_t n;
    int rc;

    if ((rc = pvc_check(c, 1, 0, 0, "user,password-stdin", usage)))
        return rc;
    if (!pvc_flag(c, "user"))
        return pvc_usage(usage, "login needs --user NAME");
    /* a script says --password-stdin; a person at a terminal is asked */
    if (!pvc_has(c, "password-stdin") && !isatty(STDIN_FILENO))
        return pvc_usage(usage, "login needs --password-stdin when standard input is not a terminal");
    if (!(pvc_has(c, "password-stdin") ? fgets(line, sizeof line, stdin) != NULL
                                        : ask_password(line, sizeof line)))
        return pvc_usage(usage, "no password on standard input");
    n = strcspn(line, "\r\n");
    line[n] = '\0';
    free(c->token); /* a login sends no old token */
    c->token = NULL;
    if ((rc = pvc_connect(c, 0)))
        goto out;
    body = json_pack("{s:s, s:s}", "username", pvc_flag(c, "user"), "password", line);
    memset(line, 0, sizeof line);
    if ((rc = pvc_call(c, "POST", "/api/v1/auth/login", body, NULL, &ans)))
        goto out;
    if (!json_string_value(json_object_get(ans, "token"))) {
        pv_fail(&c->err, bad_response, "the login answer has no token");
        rc = PVC_API;
        goto out;
    }
    if ((rc = pvc_config_save_login(c, c->server, pvc_flag(c, "user"),
                                    json_string_value(json_object_get(ans, "token")), c->insecure,
                                    &name)))
        goto out;
    printf("logged in to %s as %s (context %s)\n", c->server, pvc_flag(c, "user"), name);
out:
    if (body) { /* the password: wipe the copy in the request body */
        json_t *pw = json_object_get(body, "password");
        const char *s = json_string_value(pw);
        if (s)
            memset((char *)s, 0, strlen(s));
    }
    json_decref(body);
    json_decref(ans);
    free(name);
    return rc;
}

static int logout(struct pvc *c)
{
    int rc;

    if ((rc = pvc_check(c, 1, 0, 0, "", "polyvisor logout")) || (rc = pvc_connect(c, 1)))
        return rc;
    rc = pvc_call(c, "POST", "/api/v1/auth/logout", NULL, NULL, NULL);
    /* a token the server no longer knows is as good as revoked */
    if (rc && c->err.err != PV_EAUTH)
        return rc;
    return pvc_config_forget_token(c);
}

int cmd_completion(struct pvc *c)
{
    static const char usage[] = "polyvisor completion bash|zsh";
    int rc = pvc_check(c, 1, 1, 1, "", usage);

    if (rc)
        return rc;
    if (strcmp(c->words[1], "bash") == 0)
        fputs(pvc_completion_bash, stdout);
    else if (strcmp(c->words[1], "zsh") == 0)
        fputs(pvc_completion_zsh, stdout);
    else
        return pvc_usage(usage, "no completion for the shell '%s'", c->words[1]);
    return 0;
}

static int needs_server(const char *cmd)
{
    return strcmp(cmd, "completion") != 0 && strcmp(cmd, "context") != 0 &&
           strcmp(cmd, "help") != 0;
}

int main(int argc, char **argv)
{
    struct pvc c = {0};
    const char *cmd;
    int rc;

    c.tty_out = isatty(STDOUT_FILENO);
    c.tty_err = isatty(STDERR_FILENO);
    if ((rc = pvc_parse(&c, argc, argv)))
        return rc;
    if (!c.out_set)
        c.out = c.tty_out ? PVC_OUT_TABLE : PVC_OUT_JSON;
    if (pvc_has(&c, "help") || (c.nwords && strcmp(c.words[0], "help") == 0)) {
        fputs(help, stdout);
        return 0;
    }
    if (!c.nwords) {
        for (int i = 0; i < c.nflags; i++)
            if (c.flags[i].unknown)
                return pvc_usage(NULL, "unknown flag '%s'", c.flags[i].name);
        fputs(help, stderr);
        return PVC_USAGE;
    }
    cmd = c.words[0];
    if (needs_server(cmd) && (rc = pvc_config_resolve(&c)))
        goto out;
    if (strcmp(cmd, "login") == 0)
        rc = login(&c);
    else if (strcmp(cmd, "logout") == 0)
        rc = logout(&c);
    else if (strcmp(cmd, "context") == 0)
        rc = cmd_context(&c);
    else if (strcmp(cmd, "completion") == 0)
        rc = cmd_completion(&c);
    else if (strcmp(cmd, "vm") == 0)
        rc = cmd_vm(&c);
    else if (strcmp(cmd, "job") == 0)
        rc = cmd_job(&c);
    else if (strcmp(cmd, "placement") == 0)
        rc = cmd_placement(&c);
    else if (pvc_is_collection(cmd))
        rc = cmd_collection(&c);
    else
        rc = pvc_usage(NULL, "unknown command '%s'", cmd);
out:
    if (rc == PVC_API) /* every API error is said here, once */
        pvc_report(&c);
    pv_httpc_free(c.http);
    if (c.token)
        memset(c.token, 0, strlen(c.token));
    free(c.token);
    free(c.server);
    free(c.context);
    return rc;
}
