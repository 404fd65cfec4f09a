/* test_db_inventory.c -- db/db_inventory.c against a temp database: what
 * adapters report becomes rows that keep their ids across reports; a VM
 * report says the state it replaces; a report read before the one a row
 * holds (an older version) is dropped; a VM that is gone goes, unless it is
 * moving; a full sync's prune drops only what it did not see; a VM moving
 * to another connection keeps its id when the destination reports it, and
 * a late report from the source makes no second row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "db/db.h"
#include "tests/unit/tmpdb.h"

static void add_connection(const char *id)
{
    struct pv_db_connection c = {.id = (char *)id, .type = (char *)"test", .name = (char *)id,
                                 .url = (char *)"test:///x"};
    struct pv_error e = {0};
    assert_int_equal(pv_db_connection_insert(&c, &e), 0);
}

static int setup(void **state)
{
    struct pv_error e = {0};
    struct pv_host_info h = {.native_id = "h-1", .name = "host one", .state = PV_HOST_CONNECTED,
                             .cpu_cores = 8, .memory_mb = 16384};

    if (tmpdb_setup(state))
        return -1;
    add_connection("conn-a");
    add_connection("conn-b");
    if (pv_db_host_upsert("conn-a", "test", "host-a1", &h, "poll", &e))
        return -1;
    h.native_id = "h-9";
    return pv_db_host_upsert("conn-b", "test", "host-b9", &h, "poll", &e);
}

static struct pv_vm_info vm(const char *native, const char *host, enum pv_power_state p)
{
    struct pv_vm_info v;
    memset(&v, 0, sizeof v);
    v.native_id = native;
    v.name = native;
    v.host_native_id = host;
    v.power_state = p;
    v.vcpus = 2;
    v.memory_mb = 1024;
    v.paravirtual = -1;
    return v;
}

static void reports_keep_their_rows_and_ids(void **state)
{
    struct pv_error e = {0};
    struct pv_host_info h = {.native_id = "h-1", .name = "host one (renamed)",
                             .state = PV_HOST_MAINTENANCE, .cpu_cores = 8, .memory_mb = 16384};
    struct pv_db_host_ref hr;
    struct pv_db_vm_ref r;
    struct pv_vm_info v = vm("vm-1", "h-1", PV_POWER_RUNNING);
    char old[16];
    (void)state;

    /* a host reported again keeps its id, whatever new id is offered */
    assert_int_equal(pv_db_host_upsert("conn-a", "test", "host-other", &h, "event", &e), 0);
    assert_int_equal(pv_db_host_ref_native("conn-a", "h-1", &hr), 0);
    assert_string_equal(hr.id, "host-a1");
    assert_string_equal(hr.name, "host one (renamed)");
    assert_string_equal(hr.state, "maintenance");
    /* a VM: new, then its state changes */
    assert_int_equal(pv_db_vm_upsert("conn-a", "test", "vm-a1", &v, "poll", old, &e), 0);
    assert_string_equal(old, "");
    v.power_state = PV_POWER_STOPPED;
    assert_int_equal(pv_db_vm_upsert("conn-a", "test", "vm-other", &v, "event", old, &e), 0);
    assert_string_equal(old, "running");
    assert_int_equal(pv_db_vm_ref_native("conn-a", "vm-1", &r), 0);
    assert_string_equal(r.id, "vm-a1");
    assert_string_equal(r.power_state, "stopped");
    assert_string_equal(r.host_id, "host-a1");
    /* the same native id on another connection is another VM */
    assert_int_equal(pv_db_vm_ref_native("conn-b", "vm-1", &r), PV_ENOTFOUND);
}

static void an_older_read_does_not_overwrite_a_newer_one(void **state)
{
    struct pv_error e = {0};
    struct pv_db_vm_ref r;
    struct pv_vm_info v = vm("vm-2", "h-1", PV_POWER_RUNNING);
    (void)state;

    v.version = 100;
    assert_int_equal(pv_db_vm_upsert("conn-a", "test", "vm-a2", &v, "event", NULL, &e), 0);
    v.version = 50; /* read before: stale */
    v.power_state = PV_POWER_STOPPED;
    assert_int_equal(pv_db_vm_upsert("conn-a", "test", "vm-a2", &v, "poll", NULL, &e), 0);
    assert_int_equal(pv_db_vm_ref_native("conn-a", "vm-2", &r), 0);
    assert_string_equal(r.power_state, "running");
    v.version = 101;
    assert_int_equal(pv_db_vm_upsert("conn-a", "test", "vm-a2", &v, "poll", NULL, &e), 0);
    assert_int_equal(pv_db_vm_ref_native("conn-a", "vm-2", &r), 0);
    assert_string_equal(r.power_state, "stopped");
    /* an unnumbered report always counts */
    v.version = 0;
    v.power_state = PV_POWER_PAUSED;
    assert_int_equal(pv_db_vm_upsert("conn-a", "test", "vm-a2", &v, "poll", NULL, &e), 0);
    assert_int_equal(pv_db_vm_ref_native("conn-a", "vm-2", &r), 0);
    assert_string_equal(r.power_state, "paused");
}

static void gone_and_pruned(void **state)
{
    struct pv_error e = {0};
    struct pv_db_vm_ref r;
    struct pv_vm_info v = vm("vm-3", "h-1", PV_POWER_RUNNING);
    char id[64], since[32];
    (void)state;

    assert_int_equal(pv_db_vm_upsert("conn-a", "test", "vm-a3", &v, "poll", NULL, &e), 0);
    assert_int_equal(pv_db_vm_gone("conn-a", "vm-3", id), 0);
    assert_string_equal(id, "vm-a3");
    assert_int_equal(pv_db_vm_ref_native("conn-a", "vm-3", &r), PV_ENOTFOUND);
    pv_db_vm_gone("conn-a", "vm-3", id);
    assert_string_equal(id, ""); /* twice: nothing */
    /* a sync that sees vm-1 only: vm-2 goes, conn-b's host stays */
    usleep(5 * 1000);
    pv_db_now(since);
    usleep(5 * 1000);
    v = vm("vm-1", "h-1", PV_POWER_RUNNING);
    assert_int_equal(pv_db_vm_upsert("conn-a", "test", "vm-a1", &v, "poll", NULL, &e), 0);
    struct pv_host_info h = {.native_id = "h-1", .name = "host one", .state = PV_HOST_CONNECTED,
                             .cpu_cores = 8, .memory_mb = 16384};
    assert_int_equal(pv_db_host_upsert("conn-a", "test", "host-a1", &h, "poll", &e), 0);
    assert_int_equal(pv_db_prune_unseen("conn-a", since, &e), 0);
    assert_int_equal(pv_db_vm_ref_native("conn-a", "vm-1", &r), 0);
    assert_int_equal(pv_db_vm_ref_native("conn-a", "vm-2", &r), PV_ENOTFOUND);
    struct pv_db_host_ref hr;
    assert_int_equal(pv_db_host_ref_native("conn-b", "h-9", &hr), 0);
}

static void a_moving_vm_keeps_its_id(void **state)
{
    struct pv_error e = {0};
    struct pv_db_vm_ref r;
    struct pv_vm_info v = vm("vm-m", "h-1", PV_POWER_RUNNING);
    char id[64];
    (void)state;

    assert_int_equal(pv_db_vm_upsert("conn-a", "test", "vm-am", &v, "poll", NULL, &e), 0);
    assert_int_equal(pv_db_vm_set_moving("vm-am", "conn-b"), 0);
    /* the source no longer sees it: not gone, it is moving */
    pv_db_vm_gone("conn-a", "vm-m", id);
    assert_string_equal(id, "");
    /* the destination reports it: the row comes along, id and all */
    v.host_native_id = "h-9";
    assert_int_equal(pv_db_vm_upsert("conn-b", "test", "vm-new", &v, "event", NULL, &e), 0);
    assert_int_equal(pv_db_vm_ref_native("conn-b", "vm-m", &r), 0);
    assert_string_equal(r.id, "vm-am");
    assert_string_equal(r.host_id, "host-b9");
    /* a late report from the source makes no second row */
    v.host_native_id = "h-1";
    assert_int_equal(pv_db_vm_upsert("conn-a", "test", "vm-dup", &v, "poll", NULL, &e), 0);
    assert_int_equal(pv_db_vm_ref_native("conn-a", "vm-m", &r), PV_ENOTFOUND);
    assert_int_equal(pv_db_vm_finish_move("vm-am", "vm-m", "conn-b", "conn-a"), 0);
    assert_int_equal(pv_db_vm_ref("vm-am", &r, &e), 0);
    assert_string_equal(r.connection_id, "conn-b");
    /* no longer moving: gone from the destination is gone */
    pv_db_vm_gone("conn-b", "vm-m", id);
    assert_string_equal(id, "vm-am");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reports_keep_their_rows_and_ids),
        cmocka_unit_test(an_older_read_does_not_overwrite_a_newer_one),
        cmocka_unit_test(gone_and_pruned),
        cmocka_unit_test(a_moving_vm_keeps_its_id),
    };
    return cmocka_run_group_tests_name("db_inventory", tests, setup, tmpdb_teardown);
}
