/* agent_main.c -- polyvisor-agent's start-up: flags as DESIGN.md's
 * contract fixes them, the token from its file, libvirt, then HTTP; SIGTERM
 * or SIGINT stops it.
 *
 *   polyvisor-agent --listen HOST:PORT --libvirt-uri URI --token-file FILE
 *                   [--migration-uri URI] [--tls-cert F --tls-key F] [--state-dir DIR]
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"

static int read_token(const char *path, char *out, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(out, 1, size - 1, f);
    fclose(f);
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return strlen(out) >= 16 ? 0 : -1;
}

static void usage(void)
{
    fprintf(stderr, "usage: polyvisor-agent --listen HOST:PORT --libvirt-uri URI --token-file FILE\n"
                    "                       [--migration-uri URI] [--tls-cert FILE --tls-key FILE]\n"
                    "                       [--state-dir DIR]  (quick-migration files; /var/lib/polyvisor-agent)\n"
                    "                       [--default-pool DIR]  (a dir pool 'default' there, if the host has none)\n");
}

int main(int argc, char **argv)
{
    struct ag_config cfg = {0};
    const char *uri = NULL, *token_file = NULL, *mig = NULL, *listen = NULL;
    const char *state_dir = "/var/lib/polyvisor-agent", *default_pool = NULL;
    struct pv_error e = {0};
    sigset_t sigs;
    int sig;

    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        if (strcmp(argv[i], "--listen") == 0) listen = v;
        else if (strcmp(argv[i], "--libvirt-uri") == 0) uri = v;
        else if (strcmp(argv[i], "--token-file") == 0) token_file = v;
        else if (strcmp(argv[i], "--migration-uri") == 0) mig = v;
        else if (strcmp(argv[i], "--state-dir") == 0) state_dir = v;
        else if (strcmp(argv[i], "--default-pool") == 0) default_pool = v;
        else if (strcmp(argv[i], "--tls-cert") == 0) snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", v);
        else if (strcmp(argv[i], "--tls-key") == 0) snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", v);
        else {
            usage();
            return 2;
        }
        i++;
    }
    if (listen && strchr(listen, ':')) {
        char *end;
        long port = strtol(strrchr(listen, ':') + 1, &end, 10);
        cfg.port = *end || port < 1 || port > 65535 ? 0 : (int)port;
    }
    if (!listen || !uri || !token_file || cfg.port == 0 ||
        (size_t)(strrchr(listen, ':') - listen) >= sizeof cfg.host) {
        usage();
        return 2;
    }
    memcpy(cfg.host, listen, (size_t)(strrchr(listen, ':') - listen));
    if (read_token(token_file, cfg.token, sizeof cfg.token) != 0) {
        fprintf(stderr, "polyvisor-agent: %s must hold a token of at least 16 characters\n", token_file);
        return 2;
    }
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (ag_virt_set_state_dir(state_dir, &e) || ag_virt_open(uri, mig, &e) ||
        (default_pool && ag_virt_default_pool(default_pool, &e)) || ag_http_start(&cfg, &e)) {
        fprintf(stderr, "polyvisor-agent: %s: %s\n", e.code, e.message);
        return 1;
    }
    fprintf(stderr, "polyvisor-agent: serving %s on %s:%d\n", uri, cfg.host, cfg.port);
    while (sigwait(&sigs, &sig) != 0)
        ;
    ag_http_stop();
    ag_virt_close();
    return 0;
}
