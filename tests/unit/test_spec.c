/* test_spec.c -- hypervisor/spec.c, linked alone: the agent's VM spec is
 * checked field by field (a bad one never reaches libvirt), and the domain
 * XML written from a good one is well-formed, escapes what it is given and
 * has the devices asked for. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include "hypervisor/spec.h"

static const char *check(const char *text)
{
    static struct pv_error e;
    json_t *spec = json_loads(text, 0, NULL);
    int rc;

    assert_non_null(spec);
    memset(&e, 0, sizeof e);
    rc = ag_spec_check(spec, &e);
    json_decref(spec);
    return rc ? e.code : "ok";
}

static void specs_are_checked_before_anything_is_made(void **state)
{
    (void)state;
    assert_string_equal(check("{\"name\": \"web-1\", \"vcpus\": 2, \"memory_mb\": 512}"), "ok");
    assert_string_equal(check("{\"name\": \"w\", \"vcpus\": 1, \"memory_mb\": 64, \"disks\": "
                              "[{\"size_gb\": 8, \"pool\": \"default\"}, {\"path\": \"/v/a.img\"}], "
                              "\"nics\": [{\"network\": \"default\"}, {\"bridge\": \"br0\"}], "
                              "\"boot\": [\"network\", \"hd\"], "
                              "\"uuid\": \"5e1f0000-0000-4000-8000-000000000001\"}"), "ok");
    assert_string_equal(check("{\"name\": \"w\", \"vcpus\": 1, \"memory_mb\": 64, \"x\": 1}"),
                        "unknown_field");
    assert_string_equal(check("{\"name\": \"<x>\", \"vcpus\": 1, \"memory_mb\": 64}"), "invalid_name");
    assert_string_equal(check("{\"name\": \"-x\", \"vcpus\": 1, \"memory_mb\": 64}"), "invalid_name");
    assert_string_equal(check("{\"name\": \"w\", \"vcpus\": 0, \"memory_mb\": 64}"), "invalid_spec");
    assert_string_equal(check("{\"name\": \"w\", \"vcpus\": 1, \"memory_mb\": 8}"), "invalid_spec");
    assert_string_equal(check("{\"name\": \"w\", \"vcpus\": 1, \"memory_mb\": 64, "
                              "\"uuid\": \"5E1F0000-0000-4000-8000-000000000001\"}"), "invalid_spec");
    assert_string_equal(check("{\"name\": \"w\", \"vcpus\": 1, \"memory_mb\": 64, \"disks\": "
                              "[{\"path\": \"/v/../../etc/shadow\"}]}"), "invalid_spec");
    assert_string_equal(check("{\"name\": \"w\", \"vcpus\": 1, \"memory_mb\": 64, \"disks\": "
                              "[{\"size_gb\": 0}]}"), "invalid_spec");
    assert_string_equal(check("{\"name\": \"w\", \"vcpus\": 1, \"memory_mb\": 64, \"nics\": "
                              "[{\"bridge\": \"br0 ; rm\"}]}"), "invalid_spec");
    assert_string_equal(check("{\"name\": \"w\", \"vcpus\": 1, \"memory_mb\": 64, \"boot\": "
                              "[\"floppy\"]}"), "invalid_spec");
    assert_string_equal(check("[]"), "invalid_spec");
    assert_true(ag_uuid_ok("5e1f0000-0000-4000-8000-000000000001"));
    assert_false(ag_uuid_ok("5e1f0000-0000-4000-8000-00000000000"));
    assert_false(ag_uuid_ok(NULL));
}

static char *xpath(xmlDocPtr doc, const char *expr)
{
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    char *out = (char *)xmlXPathCastToString(o);
    xmlXPathFreeObject(o);
    xmlXPathFreeContext(ctx);
    return out;
}

static void the_domain_xml_has_what_was_asked(void **state)
{
    json_t *spec = json_loads("{\"name\": \"db&1\", \"vcpus\": 2, \"memory_mb\": 1024, \"disks\": "
                              "[{\"path\": \"/v/a\\\"b.img\"}], \"nics\": [{\"bridge\": \"br0\"}], "
                              "\"boot\": [\"network\"]}", 0, NULL);
    char *xml = ag_spec_domain_xml(spec, "kvm", 1), *v;
    xmlDocPtr doc;

    (void)state;
    assert_non_null(xml);
    doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, XML_PARSE_NONET);
    assert_non_null(doc); /* well-formed, whatever the strings held */
#define EXPECT(expr, want)                        \
    v = xpath(doc, expr);                         \
    assert_string_equal(v, want);                 \
    xmlFree(v);
    EXPECT("string(/domain/@type)", "kvm");
    EXPECT("string(/domain/name)", "db&1");
    EXPECT("string(/domain/memory)", "1024");
    EXPECT("string(/domain/vcpu)", "2");
    EXPECT("string(/domain/os/boot/@dev)", "network");
    EXPECT("string(/domain/devices/disk/source/@file)", "/v/a\"b.img");
    EXPECT("string(/domain/devices/disk/target/@bus)", "virtio");
    EXPECT("string(/domain/devices/interface/@type)", "bridge");
    EXPECT("string(/domain/devices/interface/source/@bridge)", "br0");
    EXPECT("string(/domain/devices/memballoon/@model)", "virtio");
    xmlFreeDoc(doc);
    free(xml);
    /* emulated devices, no balloon on the test driver */
    json_object_set_new(spec, "paravirtual", json_false());
    xml = ag_spec_domain_xml(spec, "test", 0);
    doc = xmlReadMemory(xml, (int)strlen(xml), NULL, NULL, XML_PARSE_NONET);
    EXPECT("string(/domain/devices/disk/target/@bus)", "sata");
    EXPECT("string(/domain/devices/interface/model/@type)", "e1000");
    EXPECT("count(/domain/devices/memballoon)", "0");
    xmlFreeDoc(doc);
    free(xml);
    json_decref(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(specs_are_checked_before_anything_is_made),
        cmocka_unit_test(the_domain_xml_has_what_was_asked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
