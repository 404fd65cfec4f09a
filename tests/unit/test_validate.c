/* test_validate.c -- server/core/validate.c, linked alone (with lib/): the
 * field tables that check every request body, the VM name and device
 * shapes, tag lists and disk paths, each refusal with its stable code and
 * the field it is about. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>
#include "server/core/validate.h"

static const struct pv_jfield spec[] = {
    {"name", PV_J_STRING, PV_J_REQUIRED, 1, 8, NULL},
    {"count", PV_J_INT, 0, 1, 10, NULL},
    {"on", PV_J_BOOL, 0, 0, 0, NULL},
    {"note", PV_J_STRING, PV_J_NULLABLE, 0, 0, NULL},
    {"vendor", PV_J_STRING, 0, 0, 0, pv_adapter_types},
};

/* The code and field pv_validate answers for a JSON text. */
static const char *check(const char *text, char field[64])
{
    static struct pv_error e;
    json_t *body = json_loads(text, 0, NULL), *details = NULL;
    int rc;

    assert_non_null(body);
    memset(&e, 0, sizeof e);
    field[0] = '\0';
    rc = pv_validate(body, spec, sizeof spec / sizeof spec[0], &details, &e);
    if (details && json_is_string(json_object_get(details, "field")))
        snprintf(field, 64, "%s", json_string_value(json_object_get(details, "field")));
    json_decref(details);
    json_decref(body);
    return rc ? e.code : "ok";
}

static void bodies_are_checked_field_by_field(void **state)
{
    static const char *const types[] = {"kvm", "toy"};
    char f[64];

    (void)state;
    pv_validate_set_types(types, 2);
    assert_string_equal(check("{\"name\": \"a\"}", f), "ok");
    assert_string_equal(check("{\"name\": \"a\", \"count\": 10, \"on\": true, \"note\": null, "
                              "\"vendor\": \"toy\"}", f), "ok");
    assert_string_equal(check("{}", f), "missing_field");
    assert_string_equal(f, "name");
    assert_string_equal(check("{\"name\": \"a\", \"extra\": 1}", f), "unknown_field");
    assert_string_equal(f, "extra");
    assert_string_equal(check("{\"name\": 5}", f), "wrong_type");
    assert_string_equal(f, "name");
    assert_string_equal(check("{\"name\": \"\"}", f), "invalid_value");
    assert_string_equal(check("{\"name\": \"123456789\"}", f), "invalid_value");
    assert_string_equal(check("{\"name\": \"a\", \"count\": 11}", f), "invalid_value");
    assert_string_equal(f, "count");
    assert_string_equal(check("{\"name\": \"a\", \"count\": 0}", f), "invalid_value");
    assert_string_equal(check("{\"name\": \"a\", \"count\": 1.5}", f), "wrong_type");
    assert_string_equal(check("{\"name\": \"a\", \"on\": 1}", f), "wrong_type");
    assert_string_equal(check("{\"name\": null}", f), "wrong_type");
    /* the vendor list is the loaded adapters' */
    assert_string_equal(check("{\"name\": \"a\", \"vendor\": \"xen\"}", f), "invalid_value");
    assert_string_equal(f, "vendor");
    pv_validate_set_types(types, 1);
    assert_string_equal(check("{\"name\": \"a\", \"vendor\": \"toy\"}", f), "invalid_value");
}

static const char *code_of(int rc, const struct pv_error *e)
{
    return rc ? e->code : "ok";
}

static void names_tags_and_paths(void **state)
{
    struct pv_error e = {0};
    json_t *v;

    (void)state;
#define NAME(text) (v = json_string(text), code_of(pv_validate_vm_name(v, &e), &e))
    assert_string_equal(NAME("web-01"), "ok");
    json_decref(v);
    assert_string_equal(NAME(" web"), "invalid_name");
    json_decref(v);
    assert_string_equal(NAME("a/b"), "invalid_name");
    json_decref(v);
    assert_string_equal(NAME("a\nb"), "invalid_name");
    json_decref(v);
#define PATH(text) (v = json_string(text), code_of(pv_validate_disk_path(v, &e), &e))
    assert_string_equal(PATH("/var/lib/libvirt/images/a.qcow2"), "ok");
    json_decref(v);
    assert_string_equal(PATH("relative.img"), "disk_path_not_allowed");
    json_decref(v);
    assert_string_equal(PATH("/var/lib/../../etc/shadow"), "disk_path_not_allowed");
    json_decref(v);
    assert_string_equal(PATH("/var//x"), "disk_path_not_allowed");
    json_decref(v);
    v = json_pack("[s,s]", "db", "web");
    assert_int_equal(pv_validate_tag_list(v, "tags", &e), 0);
    json_decref(v);
    v = json_pack("[s,i]", "db", 3);
    assert_int_not_equal(pv_validate_tag_list(v, "tags", &e), 0);
    json_decref(v);
    assert_int_equal(pv_validate_tag_list(NULL, "tags", &e), 0);
}

static void devices_have_the_shapes_every_vendor_takes(void **state)
{
    struct pv_error e = {0};
    json_t *details = NULL, *vm;

    (void)state;
    vm = json_loads("{\"disks\": [{\"size_gb\": 8, \"pool\": \"default\"}, {\"path\": "
                    "\"/var/lib/libvirt/images/x.img\"}], \"nics\": [{\"network\": \"default\"}, "
                    "{\"bridge\": \"br0\"}]}", 0, NULL);
    assert_int_equal(pv_validate_vm_devices(vm, &details, &e), 0);
    json_decref(vm);
    vm = json_loads("{\"disks\": [{\"size_gb\": 8}, {\"path\": \"/etc/../etc/shadow\"}]}", 0, NULL);
    assert_int_not_equal(pv_validate_vm_devices(vm, &details, &e), 0);
    assert_string_equal(e.code, "disk_path_not_allowed");
    json_decref(details);
    details = NULL;
    json_decref(vm);
    vm = json_loads("{\"nics\": [{\"colour\": \"red\"}]}", 0, NULL);
    assert_int_not_equal(pv_validate_vm_devices(vm, &details, &e), 0);
    json_decref(details);
    json_decref(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bodies_are_checked_field_by_field),
        cmocka_unit_test(names_tags_and_paths),
        cmocka_unit_test(devices_have_the_shapes_every_vendor_takes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
