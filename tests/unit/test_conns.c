/* test_conns.c -- server/inventory/conns.c, the connection pool and the
 * inventory sink, against the real test adapter (build/adapters/test.so,
 * loaded by plugins.c as the daemon loads it) and its JSON world file, on a
 * temp database: a sync writes the world's hosts and VMs and drops what the
 * world no longer has; handles are pooled and reused; a missing capability
 * or connection is a clear error; a hypervisor that went away leaves the
 * connection disconnected; the fencing hook handed in (as main.c hands in
 * HA's) keeps a fenced copy out of the inventory; the monitor follows
 * changes through watch(). */
#include <libgen.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "db/db.h"
#include "server/core/config.h"
#include "server/inventory/conns.h"
#include "server/inventory/plugins.h"
#include "tests/unit/tmpdb.h"

#define VM1 "5e1f0000-0000-4000-8000-000000000001"
#define VM2 "5e1f0000-0000-4000-8000-000000000002"
#define VM3 "5e1f0000-0000-4000-8000-000000000003"

static char self[PATH_MAX];          /* this binary, for build/adapters/test.so */
static char data_dir[] = "/tmp/pv-unit-conns-XXXXXX";
static char world[PATH_MAX + 32];

static void add_connection(const char *id, const char *type, const char *url)
{
    struct pv_db_connection c = {.id = (char *)id, .type = (char *)type, .name = (char *)id,
                                 .url = (char *)url};
    struct pv_error e = {0};
    assert_int_equal(pv_db_connection_insert(&c, &e), 0);
}

static int setup(void **state)
{
    static struct pv_config cfg;
    char adapters[256], so[PATH_MAX + 64], link[300], url[PATH_MAX + 64];
    struct pv_error e = {0};

    if (tmpdb_setup(state) || !mkdtemp(data_dir))
        return -1;
    snprintf(adapters, sizeof adapters, "%s/adapters", data_dir);
    snprintf(world, sizeof world, "%s/test-worlds", data_dir);
    mkdir(adapters, 0700);
    mkdir(world, 0700);
    /* only the test adapter: build/tests/test_conns -> build/adapters/test.so */
    snprintf(so, sizeof so, "%s/../adapters/test.so", dirname(self));
    snprintf(link, sizeof link, "%s/test.so", adapters);
    if (symlink(so, link) != 0 || pv_plugins_load(adapters) != 1)
        return -1;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data_dir);
    if (pv_plugins_configure(&cfg, &e) != 0)
        return -1;
    snprintf(world, sizeof world, "%s/test-worlds/w1.json", data_dir);
    snprintf(url, sizeof url, "test://%s", world);
    add_connection("conn-1", "test", url);
    add_connection("conn-x", "nonesuch", "x://y");
    return 0;
}

static int teardown(void **state)
{
    char cmd[PATH_MAX + 16];

    pv_conns_stop();
    pv_plugins_unload();
    snprintf(cmd, sizeof cmd, "rm -rf %s", data_dir);
    if (system(cmd) != 0)
        return -1;
    return tmpdb_teardown(state);
}

/* Edit the world as a person would: read, change, write the next generation. */
static void edit_world(void (*change)(json_t *w))
{
    char tmp[PATH_MAX + 40];
    json_t *w = json_load_file(world, 0, NULL);

    assert_non_null(w);
    change(w);
    json_object_set_new(w, "generation",
                        json_integer(json_integer_value(json_object_get(w, "generation")) + 1));
    snprintf(tmp, sizeof tmp, "%s.edit", world);
    assert_int_equal(json_dump_file(w, tmp, JSON_INDENT(1)), 0);
    assert_int_equal(rename(tmp, world), 0);
    json_decref(w);
}

static int has_vm(const char *native)
{
    struct pv_db_vm_ref ref;
    return pv_db_vm_ref_native("conn-1", native, &ref) == 0;
}

static const char *conn_state(char buf[32])
{
    struct pv_db_connection *c = NULL;
    struct pv_error e = {0};
    assert_int_equal(pv_db_connection_load("conn-1", &c, &e), 0);
    snprintf(buf, 32, "%s", c->state);
    pv_db_connection_free(c);
    return buf;
}

static void drop_vm2(json_t *w)
{
    json_t *vms = json_object_get(w, "vms");
    for (size_t i = 0; i < json_array_size(vms); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(vms, i), "id")), VM2) == 0)
            json_array_remove(vms, i);
}

static void a_sync_writes_the_world_and_drops_what_is_gone(void **state)
{
    struct pv_error e = {0};
    struct pv_db_vm_ref ref;
    struct pv_db_host_ref host;
    char st[32];
    (void)state;

    assert_int_equal(pv_conns_sync("conn-1", NULL, &e), 0);
    assert_string_equal(conn_state(st), "connected");
    assert_int_equal(pv_db_vm_ref_native("conn-1", VM3, &ref), 0);
    assert_string_equal(ref.name, "test-vm-3");
    assert_string_equal(ref.power_state, "running");
    assert_int_equal(ref.memory_mb, 2048);
    assert_string_equal(ref.vendor, "test");
    assert_int_equal(pv_db_host_ref(ref.host_id, &host, &e), 0);
    assert_string_equal(host.native_id, "test-host-2");
    assert_int_equal(pv_db_count(&pv_coll_vms), 3);
    assert_int_equal(pv_db_count(&pv_coll_hosts), 2);
    /* the world loses a VM: the next sync removes it, the rest keep their ids */
    edit_world(drop_vm2);
    assert_int_equal(pv_conns_sync("conn-1", NULL, &e), 0);
    assert_false(has_vm(VM2));
    assert_true(has_vm(VM1));
    {
        struct pv_db_vm_ref again;
        assert_int_equal(pv_db_vm_ref_native("conn-1", VM3, &again), 0);
        assert_string_equal(again.id, ref.id);
    }
}

static void handles_are_pooled(void **state)
{
    struct pv_error e = {0};
    struct pv_handle a, b, c;
    (void)state;

    assert_int_equal(pv_conns_acquire("conn-1", &a, &e), 0);
    assert_int_equal(pv_conns_acquire("conn-1", &b, &e), 0);
    assert_ptr_not_equal(a.conn, b.conn); /* one thread per handle */
    assert_string_equal(a.vendor, "test");
    assert_string_equal(a.conn_id, "conn-1");
    struct pv_conn *kept = b.conn;
    pv_conns_release(&b, 0);
    assert_null(b.live);
    assert_int_equal(pv_conns_acquire("conn-1", &c, &e), 0);
    assert_ptr_equal(c.conn, kept); /* the idle one again */
    pv_conns_release(&c, 1); /* broken: closed, not pooled */
    pv_conns_release(&a, 0);
    pv_conns_release(&a, 0); /* released twice: nothing */
}

static void what_cannot_be_done_says_why(void **state)
{
    struct pv_error e = {0};
    struct pv_handle h;
    (void)state;

    assert_int_equal(pv_conns_acquire("conn-none", &h, &e), PV_ENOTFOUND);
    assert_string_equal(e.code, "connection_not_found");
    assert_null(h.live);
    assert_int_equal(pv_conns_acquire("conn-x", &h, &e), PV_EUNSUPPORTED);
    assert_string_equal(e.code, "unsupported_by_backend");
    assert_int_equal(pv_conns_acquire("conn-1", &h, &e), 0);
    assert_int_equal(pv_conns_need(&h, PV_CAP_POWER, (void *)h.a->vm_action, &e), 0);
    assert_int_equal(pv_conns_need(&h, PV_CAP_CONSOLE, (void *)h.a->vm_action, &e), PV_EUNSUPPORTED);
    assert_string_equal(e.code, "unsupported_by_backend");
    assert_non_null(strstr(e.message, pv_cap_name(PV_CAP_CONSOLE)));
    assert_int_equal(pv_conns_need(&h, PV_CAP_POWER, NULL, &e), PV_EUNSUPPORTED);
    pv_conns_release(&h, 0);
}

/* the fencing hook: VM1 is a stale copy that HA restarted elsewhere */
static int fenced_reported(const char *conn_id, const char *native_id)
{
    return strcmp(conn_id, "conn-1") == 0 && strcmp(native_id, VM1) == 0;
}

static void set_vm1_paused(json_t *w)
{
    json_t *vms = json_object_get(w, "vms");
    for (size_t i = 0; i < json_array_size(vms); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(vms, i), "id")), VM1) == 0)
            json_object_set_new(json_array_get(vms, i), "power_state", json_string("paused"));
}

static void a_fenced_copy_does_not_touch_the_inventory(void **state)
{
    const struct pv_conns_fencing f = {fenced_reported, NULL};
    const struct pv_conns_fencing none = {NULL, NULL};
    struct pv_error e = {0};
    struct pv_db_vm_ref ref;
    (void)state;

    /* the hook is start-up configuration: handed in while no monitor runs
     * (a sync starts one; forget stops it and waits for it) */
    pv_conns_forget("conn-1");
    pv_conns_set_fencing(&f);
    edit_world(set_vm1_paused);
    assert_int_equal(pv_conns_sync("conn-1", NULL, &e), 0);
    /* the report was not taken, so the full sync did not see the copy: its
     * row on this connection goes (HA has the VM on another host) */
    assert_false(has_vm(VM1));
    assert_true(has_vm(VM3));
    pv_conns_forget("conn-1");
    pv_conns_set_fencing(&none);
    assert_int_equal(pv_conns_sync("conn-1", NULL, &e), 0);
    assert_int_equal(pv_db_vm_ref_native("conn-1", VM1, &ref), 0);
    assert_string_equal(ref.power_state, "paused");
}

static void set_vm3_stopped(json_t *w)
{
    json_t *vms = json_object_get(w, "vms");
    for (size_t i = 0; i < json_array_size(vms); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(vms, i), "id")), VM3) == 0)
            json_object_set_new(json_array_get(vms, i), "power_state", json_string("stopped"));
}

static void the_monitor_follows_changes(void **state)
{
    struct pv_db_vm_ref ref;
    int seen = 0;
    (void)state;

    pv_conns_set_retry_max(1);
    assert_int_equal(pv_conns_start(), 0);
    usleep(300 * 1000); /* its first sync and watch are under way */
    edit_world(set_vm3_stopped);
    for (int i = 0; i < 100 && !seen; i++) {
        usleep(50 * 1000);
        seen = pv_db_vm_ref_native("conn-1", VM3, &ref) == 0 && strcmp(ref.power_state, "stopped") == 0;
    }
    assert_true(seen);
}

static void a_hypervisor_that_went_away_is_disconnected(void **state)
{
    struct pv_error e = {0};
    char st[32];
    (void)state;

    pv_conns_stop();
    assert_int_equal(unlink(world), 0);
    assert_true(pv_conns_sync("conn-1", NULL, &e) < 0);
    assert_string_equal(e.code, "peer_unreachable");
    assert_string_equal(conn_state(st), "disconnected");
    assert_true(has_vm(VM1)); /* what it knew stays until it answers again */
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_sync_writes_the_world_and_drops_what_is_gone),
        cmocka_unit_test(handles_are_pooled),
        cmocka_unit_test(what_cannot_be_done_says_why),
        cmocka_unit_test(a_fenced_copy_does_not_touch_the_inventory),
        cmocka_unit_test(the_monitor_follows_changes),
        cmocka_unit_test(a_hypervisor_that_went_away_is_disconnected),
    };
    (void)argc;
    if (!realpath(argv[0], self))
        return 1;
    return cmocka_run_group_tests_name("conns", tests, setup, teardown);
}
