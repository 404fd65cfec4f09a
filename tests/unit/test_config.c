/* test_config.c -- defaults, the config file, flags overriding the file,
 * and every kind of bad input refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "server/core/config.h"

static char path[64];

static void write_file(const char *text)
{
    FILE *f;
    strcpy(path, "/tmp/pv-config-XXXXXX");
    close(mkstemp(path));
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static int teardown(void **state)
{
    (void)state;
    if (path[0])
        unlink(path);
    path[0] = '\0';
    return 0;
}

static void defaults(void **state)
{
    struct pv_config c;
    struct pv_error e = {0};
    char *argv[] = {"polyvisord", NULL};
    (void)state;
    assert_int_equal(pv_config_load(&c, 1, argv, &e), 0);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8080);
    assert_int_equal(c.host_failure_timeout, 30);
    assert_string_equal(c.data_dir, "var");
}

static void file_then_flags(void **state)
{
    struct pv_config c;
    struct pv_error e = {0};
    (void)state;
    write_file("# comment\n\nlisten = 127.0.0.2:9000\ndata_dir = \"/tmp/pvdata\"\n"
               "host_failure_timeout = 45\nlog_level = debug\n");
    char *argv[] = {"polyvisord", "--listen", "127.0.0.1:9100", "--config", path,
                    "--host-failure-timeout", "12", NULL};
    assert_int_equal(pv_config_load(&c, 7, argv, &e), 0);
    assert_string_equal(c.listen_host, "127.0.0.1"); /* the flag wins over the file */
    assert_int_equal(c.listen_port, 9100);
    assert_string_equal(c.data_dir, "/tmp/pvdata");
    assert_int_equal(c.host_failure_timeout, 12);
    assert_int_equal(c.log_level, 0);
}

static void ipv6_listen(void **state)
{
    struct pv_config c;
    struct pv_error e = {0};
    char *argv[] = {"polyvisord", "--listen", "[::1]:8443", NULL};
    (void)state;
    assert_int_equal(pv_config_load(&c, 3, argv, &e), 0);
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 8443);
}

static void bad_values(void **state)
{
    static const char *const cases[][2] = {
        {"listen", "nohostport"}, {"listen", "127.0.0.1:0"}, {"listen", "127.0.0.1:70000"},
        {"listen", "127.0.0.1:80x"}, {"host_failure_timeout", "0"},
        {"host_failure_timeout", "ten"}, {"log_level", "loud"}, {"job_workers", "-1"},
        {"no_such_key", "1"},
    };
    struct pv_config c;
    (void)state;
    pv_config_defaults(&c);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pv_error e = {0};
        assert_int_equal(pv_config_set(&c, cases[i][0], cases[i][1], &e), PV_EINVAL);
        assert_string_equal(e.code, strcmp(cases[i][0], "no_such_key") ? "invalid_config"
                                                                        : "invalid_config");
        assert_true(strlen(e.message) > 0);
    }
}

static void bad_file_names_the_line(void **state)
{
    struct pv_config c;
    struct pv_error e = {0};
    (void)state;
    write_file("listen = 127.0.0.1:8080\nthis line has no equals\n");
    pv_config_defaults(&c);
    assert_int_equal(pv_config_load_file(&c, path, &e), PV_EINVAL);
    assert_non_null(strstr(e.message, ":2:"));
    unlink(path);
    write_file("job_workers = many\n");
    assert_int_equal(pv_config_load_file(&c, path, &e), PV_EINVAL);
    assert_non_null(strstr(e.message, ":1:"));
    assert_non_null(strstr(e.message, "job_workers"));
}

static void bad_flags(void **state)
{
    struct pv_config c;
    struct pv_error e = {0};
    char *missing[] = {"polyvisord", "--listen", NULL};
    char *unknown[] = {"polyvisord", "--frobnicate", "1", NULL};
    char *half_tls[] = {"polyvisord", "--tls-cert", "/x.pem", NULL};
    char *nofile[] = {"polyvisord", "--config", "/nonexistent/pv.conf", NULL};
    char *pw[] = {"polyvisord", "--admin-password", "x", NULL};
    (void)state;
    assert_int_equal(pv_config_load(&c, 2, missing, &e), PV_EINVAL);
    assert_int_equal(pv_config_load(&c, 3, unknown, &e), PV_EINVAL);
    assert_int_equal(pv_config_load(&c, 3, half_tls, &e), PV_EINVAL);
    assert_non_null(strstr(e.message, "tls"));
    assert_int_equal(pv_config_load(&c, 3, nofile, &e), PV_EINVAL);
    /* secrets are not taken on the command line, where ps shows them */
    assert_int_equal(pv_config_load(&c, 3, pw, &e), PV_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(defaults, teardown),
        cmocka_unit_test_teardown(file_then_flags, teardown),
        cmocka_unit_test_teardown(ipv6_listen, teardown),
        cmocka_unit_test_teardown(bad_values, teardown),
        cmocka_unit_test_teardown(bad_file_names_the_line, teardown),
        cmocka_unit_test_teardown(bad_flags, teardown),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
