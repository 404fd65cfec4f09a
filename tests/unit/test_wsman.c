/* test_wsman.c -- the WS-Management client (adapters/hyperv-wmi/wsman.c) on
 * recorded envelopes (tests/unit/data/wsman/: answers recorded from the
 * Hyper-V simulator, plus hand-made ones for what it does not send) and on a
 * loopback HTTP peer of its own: enumerations pulled to EndOfSequence,
 * endpoint references, embedded instances, faults turned into stable codes
 * with the WSManFault message, truncated/malformed/hostile XML a clean
 * bad_response, and the request envelopes checked by namespace. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <cmocka.h>
#include <libxml/parser.h>
#include "adapters/hyperv-wmi/hv.h"
#include "adapters/hyperv-wmi/wsman.h"

#ifndef WSMAN_DATA_DIR
#define WSMAN_DATA_DIR "tests/unit/data/wsman"
#endif
#define V2 PV_WMI_V2

static char *load(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    char *s;
    long n;

    snprintf(path, sizeof path, "%s/%s", WSMAN_DATA_DIR, name);
    f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    s = malloc((size_t)n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return s;
}

static struct pv_soap_resp *parse_ok(const char *name)
{
    size_t len;
    char *xml = load(name, &len);
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};

    if (pv_wsman_parse(xml, len, 200, NULL, &r, &e) != 0)
        fail_msg("%s refused: %s: %s", name, e.code, e.message);
    free(xml);
    return r;
}

static int parse_fault(const char *name, struct pv_error *e)
{
    size_t len;
    char *xml = load(name, &len);
    struct pv_soap_resp *r = NULL;
    int rc = pv_wsman_parse(xml, len, 500, NULL, &r, e);

    assert_null(r);
    free(xml);
    return rc;
}

/* ---- replies ----------------------------------------------------------------- */

static void enumerate_response_items(void **state)
{
    struct pv_soap_resp *r = parse_ok("enumerate_response.xml");
    xmlNodePtr resp, items, vm;
    char buf[128];

    (void)state;
    resp = pv_xml_child(r->body, "EnumerateResponse", PV_WSEN_NS);
    assert_non_null(resp);
    assert_non_null(pv_xml_child(resp, "EnumerationContext", PV_WSEN_NS));
    assert_null(pv_xml_child(resp, "EndOfSequence", PV_WSMAN_NS));
    items = pv_xml_child(resp, "Items", PV_WSMAN_NS); /* optimized: w:Items, not n:Items */
    assert_non_null(items);
    vm = pv_xml_child(items, "Msvm_ComputerSystem", V2 "Msvm_ComputerSystem");
    assert_non_null(vm);
    assert_string_equal(pv_wsman_prop_text(vm, "Caption", buf, sizeof buf), "Virtual Machine");
    assert_string_equal(pv_wsman_prop_text(vm, "ElementName", buf, sizeof buf), "exchange-01");
    assert_int_equal(pv_wsman_prop_int(vm, "EnabledState", -1), 6); /* saved */
    /* nil is NULL, not "" */
    assert_null(pv_wsman_prop_text(vm, "OtherEnabledState", buf, sizeof buf));
    assert_true(pv_wsman_is_nil(pv_wsman_prop(vm, "OtherEnabledState")));
    assert_int_equal(pv_wsman_prop_int(vm, "OtherEnabledState", -7), -7);
    /* a cim:Datetime is unwrapped */
    assert_non_null(pv_wsman_prop_text(vm, "InstallDate", buf, sizeof buf));
    assert_non_null(strstr(buf, "T"));
    assert_int_equal(buf[strlen(buf) - 1], 'Z');
    /* absent is NULL too */
    assert_null(pv_wsman_prop_text(vm, "NoSuchProperty", buf, sizeof buf));
    pv_soap_resp_free(r);
}

static void pull_last_has_end_of_sequence(void **state)
{
    struct pv_soap_resp *r = parse_ok("pull_last.xml");
    xmlNodePtr resp = pv_xml_child(r->body, "PullResponse", PV_WSEN_NS);

    (void)state;
    assert_non_null(resp);
    assert_non_null(pv_xml_child(resp, "EndOfSequence", PV_WSEN_NS));
    assert_null(pv_xml_child(resp, "EnumerationContext", PV_WSEN_NS));
    assert_non_null(pv_xml_child(pv_xml_child(resp, "Items", PV_WSEN_NS), NULL, NULL));
    pv_soap_resp_free(r);
}

static void job_reference_and_return_value(void **state)
{
    struct pv_soap_resp *r = parse_ok("invoke_request_state_change.xml");
    xmlNodePtr out = pv_xml_child(r->body, "RequestStateChange_OUTPUT", V2 "Msvm_ComputerSystem");
    struct pv_wsman_epr job;
    struct pv_error e = {0};

    (void)state;
    assert_non_null(out);
    assert_int_equal(pv_wsman_prop_int(out, "ReturnValue", -1), 4096);
    assert_int_equal(pv_wsman_epr_parse(pv_wsman_prop(out, "Job"), &job, &e), 0);
    assert_string_equal(job.resource_uri, V2 "Msvm_ConcreteJob");
    assert_non_null(pv_wsman_epr_selector(&job, "InstanceID"));
    assert_int_equal(strlen(pv_wsman_epr_selector(&job, "InstanceID")), 36);
    assert_string_equal(pv_wsman_epr_selector(&job, "__cimnamespace"), "root/virtualization/v2");
    assert_null(pv_wsman_epr_selector(&job, "Nope"));
    /* ReturnValue is not an endpoint reference */
    assert_int_equal(pv_wsman_epr_parse(pv_wsman_prop(out, "ReturnValue"), &job, &e), PV_EPEER);
    assert_string_equal(e.code, "bad_response");
    assert_int_equal(pv_wsman_epr_parse(NULL, &job, &e), PV_EPEER);
    pv_soap_resp_free(r);
}

static void define_system_resulting_system(void **state)
{
    struct pv_soap_resp *r = parse_ok("invoke_define_system.xml");
    xmlNodePtr out = pv_xml_child(r->body, "DefineSystem_OUTPUT", NULL);
    struct pv_wsman_epr vm;

    (void)state;
    assert_non_null(out);
    assert_int_equal(pv_wsman_prop_int(out, "ReturnValue", -1), 4096);
    assert_int_equal(pv_wsman_epr_parse(pv_wsman_prop(out, "ResultingSystem"), &vm, NULL), 0);
    assert_string_equal(pv_wsman_epr_selector(&vm, "CreationClassName"), "Msvm_ComputerSystem");
    assert_int_equal(strlen(pv_wsman_epr_selector(&vm, "Name")), 36);
    pv_soap_resp_free(r);
}

static void summary_embedded_instances(void **state)
{
    struct pv_soap_resp *r = parse_ok("invoke_summary.xml");
    xmlNodePtr out = pv_xml_child(r->body, "GetSummaryInformation_OUTPUT", NULL), si;
    char buf[64], type[64];
    int n = 0;

    (void)state;
    assert_int_equal(pv_wsman_prop_int(out, "ReturnValue", -1), 0);
    for (si = pv_xml_child(out, "SummaryInformation", NULL); si; si = pv_xml_next(si, "SummaryInformation", NULL)) {
        n++;
        assert_string_equal(pv_xml_xsi_type(si, type, sizeof type), "Msvm_SummaryInformation_Type");
        assert_non_null(pv_wsman_prop_text(si, "Name", buf, sizeof buf));
        assert_int_equal(strlen(buf), 36);
        assert_true(pv_wsman_prop_int(si, "EnabledState", -1) >= 2);
        /* not asked for: nil */
        assert_null(pv_wsman_prop_text(si, "Heartbeat", buf, sizeof buf));
    }
    assert_int_equal(n, 1);
    pv_soap_resp_free(r);
}

static void job_exception(void **state)
{
    struct pv_soap_resp *r = parse_ok("get_job_exception.xml");
    char buf[256];

    (void)state;
    assert_int_equal(pv_wsman_prop_int(r->payload, "JobState", -1), 10);
    assert_string_equal(pv_wsman_prop_text(r->payload, "ErrorDescription", buf, sizeof buf),
                        "The virtual machine could not be started because the hypervisor is not running.");
    assert_int_equal(pv_wsman_prop_int(r->payload, "ErrorCode", -1), 32768);
    pv_soap_resp_free(r);
}

static void identify_response(void **state)
{
    struct pv_soap_resp *r = parse_ok("identify_response.xml");
    char buf[64];

    (void)state;
    assert_string_equal(pv_xml_text(pv_xml_path(r->body, "IdentifyResponse/ProductVendor"), buf, sizeof buf),
                        "Microsoft Corporation");
    pv_soap_resp_free(r);
}

/* ---- faults ------------------------------------------------------------------- */

static void faults_have_stable_codes(void **state)
{
    static const struct {
        const char *file, *code, *text;
        int err;
    } cases[] = {
        {"fault_invalid_selectors.xml", "invalid_selectors", "2150858843", PV_EINVAL},
        {"fault_destination_unreachable.xml", "destination_unreachable", "2150858752", PV_ENOTFOUND},
        {"fault_cannot_process_filter.xml", "cannot_process_filter", "Msvm_Nope", PV_EINVAL},
        {"fault_invalid_enumeration_context.xml", "invalid_enumeration_context", "2150858779", PV_EPEER},
        {"fault_access_denied.xml", "access_denied", "Access is denied.", PV_EFORBIDDEN},
        {"fault_provider_other_prefixes.xml", "internal_error", "Generic failure", PV_EPEER},
        {"fault_no_subcode.xml", "wsman_fault", "Bad request", PV_EPEER},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct pv_error e = {0};
        int rc = parse_fault(cases[i].file, &e);
        if (rc != cases[i].err || strcmp(e.code, cases[i].code) != 0 || !strstr(e.message, cases[i].text))
            fail_msg("%s: rc %d code %s message %s", cases[i].file, rc, e.code, e.message);
        /* white space from the peer is squeezed: no newlines in a message */
        assert_null(strchr(e.message, '\n'));
    }
}

static void fault_code_table(void **state)
{
    int cls = 0;

    (void)state;
    assert_string_equal(pv_wsman_fault_code("EncodingLimit", &cls), "encoding_limit");
    assert_int_equal(cls, PV_ETOOBIG);
    assert_string_equal(pv_wsman_fault_code("ActionNotSupported", &cls), "action_not_supported");
    assert_int_equal(cls, PV_EUNSUPPORTED);
    assert_string_equal(pv_wsman_fault_code("SomethingNew", &cls), "wsman_fault");
    assert_int_equal(cls, PV_EPEER);
    assert_string_equal(pv_wsman_fault_code(NULL, NULL), "wsman_fault");
}

/* ---- malformed ------------------------------------------------------------------ */

static void expect_bad(const char *xml, size_t len, long status)
{
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    int rc = pv_wsman_parse(xml, len, status, NULL, &r, &e);

    assert_int_not_equal(rc, 0);
    assert_null(r);
    assert_true(e.code[0] != '\0' && e.message[0] != '\0');
}

static void truncated_never_crash(void **state)
{
    static const char *const files[] = {"enumerate_response.xml", "invoke_summary.xml",
                                        "fault_invalid_selectors.xml", "get_job_exception.xml"};
    (void)state;
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        size_t len;
        char *xml = load(files[f], &len);
        for (size_t cut = 0; cut < len; cut += 7) {
            char *part = malloc(cut + 1);
            struct pv_soap_resp *r = NULL;
            struct pv_error e = {0};
            memcpy(part, xml, cut);
            part[cut] = '\0';
            /* any prefix of a document is not well-formed: a clean bad_response */
            assert_int_equal(pv_wsman_parse(part, cut, 200, NULL, &r, &e), PV_EPEER);
            assert_string_equal(e.code, "bad_response");
            assert_null(r);
            free(part);
        }
        free(xml);
    }
}

static void malformed_and_hostile(void **state)
{
    static const char *const bad[] = {
        "",
        "not xml at all",
        "<a><b></a>",
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"></s:Envelope>", /* no Body */
        "<Envelope><Body/></Envelope>",                                               /* no namespace */
        "<s:Envelope xmlns:s=\"urn:other\"><s:Body/></s:Envelope>",
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body><s:Fault>",
    };
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    size_t len;
    char *xml;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_bad(bad[i], strlen(bad[i]), 200);
    expect_bad(NULL, 0, 200);
    xml = load("dtd_entity.xml", &len);
    assert_int_equal(pv_wsman_parse(xml, len, 200, NULL, &r, &e), PV_EPEER);
    assert_non_null(strstr(e.message, "DTD"));
    free(xml);
    xml = load("soap11_envelope.xml", &len);
    assert_int_equal(pv_wsman_parse(xml, len, 200, NULL, &r, &e), PV_EPEER);
    assert_non_null(strstr(e.message, "SOAP 1.1"));
    free(xml);
    /* a well-formed non-fault answer with an error status */
    xml = load("get_vm.xml", &len);
    assert_int_equal(pv_wsman_parse(xml, len, 502, NULL, &r, &e), PV_EPEER);
    assert_string_equal(e.code, "http_error");
    free(xml);
}

static void relates_to_checked(void **state)
{
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    size_t len;
    char *xml = load("fault_provider_other_prefixes.xml", &len);

    (void)state;
    /* the right id: the fault comes through; another id: refused first */
    assert_int_equal(pv_wsman_parse(xml, len, 500, "uuid:11111111-2222-4333-8444-555555555555", &r, &e), PV_EPEER);
    assert_string_equal(e.code, "internal_error");
    free(xml);
    xml = load("get_vm.xml", &len);
    assert_int_equal(pv_wsman_parse(xml, len, 200, "uuid:00000000-0000-4000-8000-000000000000", &r, &e), PV_EPEER);
    assert_string_equal(e.code, "bad_response");
    assert_non_null(strstr(e.message, "relates to"));
    free(xml);
}

/* ---- requests -------------------------------------------------------------------- */

static void write_body(struct pv_soap_writer *sw, void *ud)
{
    (void)ud;
    pv_soap_w_start(sw, "n:Enumerate", NULL);
    pv_soap_w_end(sw);
}

static xmlNodePtr header_el(xmlNodePtr env, const char *local, const char *ns)
{
    return pv_xml_child(pv_xml_child(env, "Header", PV_SOAP12_NS), local, ns);
}

static void request_envelope(void **state)
{
    struct pv_wsman_selector sel[2] = {{"CreationClassName", "Msvm_ComputerSystem"},
                                       {"Name", "a<b&\"c'>"}};
    char mid[48], *xml = NULL, buf[256];
    size_t len = 0;
    struct pv_error e = {0};
    xmlDocPtr doc;
    xmlNodePtr env, n;

    (void)state;
    assert_int_equal(pv_wsman_envelope("https://127.0.0.1:5986/wsman", V2 "Msvm_ComputerSystem",
                                       PV_WXF_NS "/Get", sel, 2, 153600, 30000, write_body, NULL, mid,
                                       &xml, &len, &e), 0);
    assert_int_equal(strncmp(mid, "uuid:", 5), 0);
    assert_int_equal(strlen(mid), 41);
    doc = xmlReadMemory(xml, (int)len, "req.xml", NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    env = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)env->ns->href, PV_SOAP12_NS);
    assert_string_equal(pv_xml_text(header_el(env, "To", PV_WSA_NS), buf, sizeof buf),
                        "https://127.0.0.1:5986/wsman");
    assert_string_equal(pv_xml_text(header_el(env, "ResourceURI", PV_WSMAN_NS), buf, sizeof buf),
                        V2 "Msvm_ComputerSystem");
    assert_string_equal(pv_xml_text(header_el(env, "Action", PV_WSA_NS), buf, sizeof buf), PV_WXF_NS "/Get");
    assert_string_equal(pv_xml_text(header_el(env, "MessageID", PV_WSA_NS), buf, sizeof buf), mid);
    assert_string_equal(pv_xml_text(pv_xml_child(header_el(env, "ReplyTo", PV_WSA_NS), "Address", PV_WSA_NS),
                                    buf, sizeof buf), PV_WSA_ANONYMOUS);
    assert_string_equal(pv_xml_text(header_el(env, "MaxEnvelopeSize", PV_WSMAN_NS), buf, sizeof buf), "153600");
    assert_string_equal(pv_xml_text(header_el(env, "OperationTimeout", PV_WSMAN_NS), buf, sizeof buf),
                        "PT29.000S");
    n = header_el(env, "Action", PV_WSA_NS);
    {
        xmlChar *mu = xmlGetNsProp(n, BAD_CAST "mustUnderstand", BAD_CAST PV_SOAP12_NS);
        assert_non_null(mu);
        assert_string_equal((const char *)mu, "true");
        xmlFree(mu);
    }
    n = pv_xml_child(header_el(env, "SelectorSet", PV_WSMAN_NS), "Selector", PV_WSMAN_NS);
    n = pv_xml_next(n, "Selector", PV_WSMAN_NS);
    assert_string_equal(pv_xml_attr(n, "Name", buf, sizeof buf), "Name");
    assert_string_equal(pv_xml_text(n, buf, sizeof buf), "a<b&\"c'>"); /* escaped on the wire, intact here */
    assert_non_null(pv_xml_child(pv_xml_child(env, "Body", PV_SOAP12_NS), "Enumerate", PV_WSEN_NS));
    xmlFreeDoc(doc);
    free(xml);
    /* two envelopes never share a MessageID */
    {
        char mid2[48];
        assert_int_equal(pv_wsman_envelope("https://h/wsman", V2 "X", "a", NULL, 0, 0, 0, NULL, NULL, mid2,
                                           &xml, &len, &e), 0);
        assert_string_not_equal(mid, mid2);
        free(xml);
    }
}

static void embedded_instance(void **state)
{
    struct pv_cim_prop p[] = {{"ElementName", "string", "web <07> & \"x\""},
                              {"VirtualSystemSubType", "string", "Microsoft:Hyper-V:SubType:2"},
                              {"Notes", "string", NULL}};
    char *text = NULL, buf[64];
    struct pv_error e = {0};
    xmlDocPtr doc;
    xmlNodePtr inst, prop;

    (void)state;
    assert_int_equal(pv_wsman_embed("Msvm_VirtualSystemSettingData", p, 3, &text, &e), 0);
    assert_null(strstr(text, "<?xml")); /* a fragment, no declaration */
    doc = xmlReadMemory(text, (int)strlen(text), "inst.xml", NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    inst = xmlDocGetRootElement(doc);
    assert_string_equal((const char *)inst->name, "INSTANCE");
    assert_string_equal(pv_xml_attr(inst, "CLASSNAME", buf, sizeof buf), "Msvm_VirtualSystemSettingData");
    prop = pv_xml_child(inst, "PROPERTY", NULL);
    assert_string_equal(pv_xml_attr(prop, "NAME", buf, sizeof buf), "ElementName");
    assert_string_equal(pv_xml_attr(prop, "TYPE", buf, sizeof buf), "string");
    assert_string_equal(pv_xml_text(pv_xml_child(prop, "VALUE", NULL), buf, sizeof buf), "web <07> & \"x\"");
    prop = pv_xml_next(pv_xml_next(prop, "PROPERTY", NULL), "PROPERTY", NULL);
    assert_null(pv_xml_child(prop, "VALUE", NULL)); /* null: no VALUE */
    xmlFreeDoc(doc);
    free(text);
}

/* HostResource is a string array: PROPERTY.ARRAY with VALUE.ARRAY/VALUE (DSP0201). */
static void embedded_array_property(void **state)
{
    struct pv_cim_prop p[] = {{"ResourceType", "uint16", "31"},
                              {"HostResource", "string[]", "D:\\Hyper-V\\x.vhdx"}};
    char *text = NULL, buf[64];
    struct pv_error e = {0};
    xmlDocPtr doc;
    xmlNodePtr arr;

    (void)state;
    assert_int_equal(pv_wsman_embed("Msvm_StorageAllocationSettingData", p, 2, &text, &e), 0);
    doc = xmlReadMemory(text, (int)strlen(text), "inst.xml", NULL, XML_PARSE_NONET);
    assert_non_null(doc);
    assert_null(pv_xml_next(pv_xml_child(xmlDocGetRootElement(doc), "PROPERTY", NULL), "PROPERTY", NULL));
    arr = pv_xml_child(xmlDocGetRootElement(doc), "PROPERTY.ARRAY", NULL);
    assert_non_null(arr);
    assert_string_equal(pv_xml_attr(arr, "NAME", buf, sizeof buf), "HostResource");
    assert_string_equal(pv_xml_attr(arr, "TYPE", buf, sizeof buf), "string");
    assert_string_equal(pv_xml_text(pv_xml_path(arr, "VALUE.ARRAY/VALUE"), buf, sizeof buf), "D:\\Hyper-V\\x.vhdx");
    /* and the reader of embedded text finds scalar properties only */
    assert_string_equal(pv_wsman_embedded_prop(text, "ResourceType", buf, sizeof buf), "31");
    assert_null(pv_wsman_embedded_prop(text, "HostResource", buf, sizeof buf));
    xmlFreeDoc(doc);
    free(text);
}

/* Parent / HostResource: WMI object paths with escaped key values. */
static void wmi_object_paths(void **state)
{
    struct pv_wsman_selector sw[2] = {{"CreationClassName", "Msvm_VirtualEthernetSwitch"},
                                      {"Name", "5A000000-5A17-4C00-8000-000000000001"}};
    struct pv_wsman_selector rasd = {"InstanceID", "Microsoft:GUID\\DEV\\0 \"q\""};
    char path[512], small[40], buf[128];

    (void)state;
    assert_int_equal(pv_wsman_wmi_path("HV-NODE01", "Msvm_VirtualEthernetSwitch", sw, 2, path, sizeof path), 0);
    assert_string_equal(path, "\\\\HV-NODE01\\root\\virtualization\\v2:Msvm_VirtualEthernetSwitch."
                              "CreationClassName=\"Msvm_VirtualEthernetSwitch\","
                              "Name=\"5A000000-5A17-4C00-8000-000000000001\"");
    assert_string_equal(pv_wsman_wmi_path_key(path, "name", buf, sizeof buf), "5A000000-5A17-4C00-8000-000000000001");
    assert_string_equal(pv_wsman_wmi_path_key(path, "CreationClassName", buf, sizeof buf), "Msvm_VirtualEthernetSwitch");
    assert_null(pv_wsman_wmi_path_key(path, "InstanceID", buf, sizeof buf));
    assert_int_equal(pv_wsman_wmi_path("H", "Msvm_ResourceAllocationSettingData", &rasd, 1, path, sizeof path), 0);
    assert_non_null(strstr(path, "InstanceID=\"Microsoft:GUID\\\\DEV\\\\0 \\\"q\\\"\""));
    assert_string_equal(pv_wsman_wmi_path_key(path, "InstanceID", buf, sizeof buf), "Microsoft:GUID\\DEV\\0 \"q\"");
    assert_int_equal(pv_wsman_wmi_path("H", "Msvm_ResourceAllocationSettingData", &rasd, 1, small, sizeof small), -1);
    /* relative paths; malformed ones */
    assert_string_equal(pv_wsman_wmi_path_key("Msvm_X.InstanceID=\"a\\\\b\"", "InstanceID", buf, sizeof buf), "a\\b");
    assert_null(pv_wsman_wmi_path_key("Msvm_X.InstanceID=\"unterminated", "InstanceID", buf, sizeof buf));
    assert_null(pv_wsman_wmi_path_key("Msvm_X.InstanceID=bare", "InstanceID", buf, sizeof buf));
    assert_null(pv_wsman_wmi_path_key("no key at all", "InstanceID", buf, sizeof buf));
    assert_null(pv_wsman_wmi_path_key(NULL, "InstanceID", buf, sizeof buf));
}

/* AddResourceSettings: a Job and the added settings' references, in order. */
static void add_resource_settings_results(void **state)
{
    struct pv_soap_resp *r = parse_ok("invoke_add_resource_settings.xml");
    xmlNodePtr out = pv_xml_child(r->body, "AddResourceSettings_OUTPUT", NULL), e;
    struct pv_wsman_epr epr;
    int n = 0;

    (void)state;
    assert_int_equal(pv_wsman_prop_int(out, "ReturnValue", -1), 4096);
    assert_non_null(pv_wsman_prop(out, "Job"));
    for (e = pv_xml_child(out, "ResultingResourceSettings", NULL); e; e = pv_xml_next(e, "ResultingResourceSettings", NULL)) {
        assert_int_equal(pv_wsman_epr_parse(e, &epr, NULL), 0);
        assert_non_null(strstr(epr.resource_uri, n == 0 ? "/Msvm_ResourceAllocationSettingData"
                                                        : "/Msvm_SyntheticEthernetPortSettingData"));
        assert_int_equal(strncmp(pv_wsman_epr_selector(&epr, "InstanceID"), "Microsoft:", 10), 0);
        n++;
    }
    assert_int_equal(n, 2);
    pv_soap_resp_free(r);
}

/* GetVirtualHardDiskSettingData's SettingData is CIM-XML text; a storage
 * setting's Parent a WMI path to the drive, HostResource the file. */
static void vhd_setting_data_and_storage_settings(void **state)
{
    struct pv_soap_resp *r = parse_ok("invoke_get_vhd_setting_data.xml");
    xmlNodePtr out = pv_xml_child(r->body, "GetVirtualHardDiskSettingData_OUTPUT", NULL), it;
    xmlChar *text;
    char buf[512], iid[512];

    (void)state;
    assert_int_equal(pv_wsman_prop_int(out, "ReturnValue", -1), 0);
    text = xmlNodeGetContent(pv_wsman_prop(out, "SettingData"));
    assert_string_equal(pv_wsman_embedded_prop((const char *)text, "MaxInternalSize", buf, sizeof buf), "3221225472");
    assert_string_equal(pv_wsman_embedded_prop((const char *)text, "Format", buf, sizeof buf), "3");
    assert_null(pv_wsman_embedded_prop((const char *)text, "NoSuchProperty", buf, sizeof buf));
    assert_null(pv_wsman_embedded_prop("<NOTANINSTANCE/>", "Format", buf, sizeof buf));
    assert_null(pv_wsman_embedded_prop("<INSTANCE", "Format", buf, sizeof buf));
    xmlFree(text);
    pv_soap_resp_free(r);

    r = parse_ok("enumerate_storage_settings.xml");
    it = pv_xml_child(pv_xml_path(r->body, "EnumerateResponse/Items"), NULL, NULL);
    assert_non_null(it);
    assert_non_null(pv_wsman_prop_text(it, "HostResource", buf, sizeof buf));
    assert_non_null(strstr(buf, "\\Virtual Hard Disks\\disk0.vhdx"));
    assert_non_null(pv_wsman_prop_text(it, "Parent", buf, sizeof buf));
    assert_non_null(pv_wsman_wmi_path_key(buf, "InstanceID", iid, sizeof iid));
    assert_int_equal(strncmp(iid, "Microsoft:", 10), 0);
    assert_non_null(strstr(iid, "\\0\\0\\D"));      /* the drive, its backslashes unescaped */
    pv_soap_resp_free(r);
}

/* ---- a loopback WS-Man peer --------------------------------------------------- */

struct answer {
    int status;
    const char *file;     /* body from the data dir; NULL: body below */
    const char *body;
};

struct peer {
    int fd, port;
    pthread_t t;
    const struct answer *answers;
    int nanswers;
    char bodies[8][8192];   /* request bodies received */
    char heads[8][2048];
    int nrequests;
};

/* The canned answer with RelatesTo set to the request's MessageID. */
static char *answer_for(const struct answer *a, const char *req, size_t *len)
{
    char *body = a->file ? load(a->file, NULL) : strdup(a->body), *out, *rel, *end;
    const char *mid = strstr(req, "MessageID>"), *mend;
    size_t n;

    if (!mid || !(rel = strstr(body, "RelatesTo>")) || !(end = strstr(rel, "</"))) {
        *len = strlen(body);
        return body;
    }
    mid += 10;
    mend = strstr(mid, "</");
    rel += 10;
    n = (size_t)(rel - body) + (size_t)(mend - mid) + strlen(end) + 1;
    out = malloc(n);
    snprintf(out, n, "%.*s%.*s%s", (int)(rel - body), body, (int)(mend - mid), mid, end);
    free(body);
    *len = strlen(out);
    return out;
}

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    int c = -1;

    while (p->nrequests < p->nanswers) {
        static char buf[1 << 16];
        size_t got = 0;
        char *end, head[256], *body;
        long clen;
        size_t blen;
        if (c < 0 && (c = accept(p->fd, NULL, NULL)) < 0)
            break;
        buf[0] = '\0';
        while (!(end = strstr(buf, "\r\n\r\n"))) {
            ssize_t n = recv(c, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0)
                goto again;
            got += (size_t)n;
            buf[got] = '\0';
        }
        clen = strcasestr(buf, "Content-Length: ") ? atol(strcasestr(buf, "Content-Length: ") + 16) : 0;
        while ((long)(got - (size_t)(end + 4 - buf)) < clen) {
            ssize_t n = recv(c, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0)
                goto again;
            got += (size_t)n;
            buf[got] = '\0';
        }
        snprintf(p->heads[p->nrequests % 8], sizeof p->heads[0], "%.*s", (int)(end - buf), buf);
        snprintf(p->bodies[p->nrequests % 8], sizeof p->bodies[0], "%s", end + 4);
        if (p->answers[p->nrequests].status == 0) { /* hang up without answering */
            __atomic_add_fetch(&p->nrequests, 1, __ATOMIC_SEQ_CST);
            goto again;
        }
        body = answer_for(&p->answers[p->nrequests], end + 4, &blen);
        snprintf(head, sizeof head,
                 "HTTP/1.1 %d X\r\nContent-Type: application/soap+xml;charset=UTF-8\r\n"
                 "Content-Length: %zu\r\n\r\n", p->answers[p->nrequests].status, blen);
        /* counted before the answer leaves, so the client never sees the
         * answer before the count */
        __atomic_add_fetch(&p->nrequests, 1, __ATOMIC_SEQ_CST);
        send(c, head, strlen(head), MSG_NOSIGNAL);
        send(c, body, blen, MSG_NOSIGNAL);
        free(body);
        continue;
again:
        close(c);
        c = -1;
    }
    if (c >= 0)
        close(c);
    return NULL;
}

static void peer_start(struct peer *p, const struct answer *answers, int n)
{
    struct sockaddr_in a = {0};
    socklen_t al = sizeof a;

    memset(p, 0, sizeof *p);
    p->answers = answers;
    p->nanswers = n;
    p->fd = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(p->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(p->fd, 4), 0);
    getsockname(p->fd, (struct sockaddr *)&a, &al);
    p->port = ntohs(a.sin_port);
    pthread_create(&p->t, NULL, peer_main, p);
}

static void peer_stop(struct peer *p)
{
    shutdown(p->fd, SHUT_RDWR);
    close(p->fd);
    pthread_join(p->t, NULL);
}

static struct pv_wsman *session(struct peer *p, int max_elements)
{
    char url[64];
    struct pv_wsman_opts o = {0};
    struct pv_wsman *w = NULL;
    struct pv_error e = {0};

    snprintf(url, sizeof url, "http://127.0.0.1:%d/wsman", p->port);
    o.url = url;
    o.username = "administrator";
    o.password = "s3cret";
    o.timeout_ms = 5000;
    o.max_elements = max_elements;
    assert_int_equal(pv_wsman_new(&o, &w, &e), 0);
    return w;
}

static void enumerate_until_end_of_sequence(void **state)
{
    static const struct answer a[] = {{200, "enumerate_response.xml", NULL},
                                      {200, "pull_response.xml", NULL},
                                      {200, "pull_last.xml", NULL}};
    struct pv_wsman_items it = {0};
    struct pv_error e = {0};
    struct peer p;
    struct pv_wsman *w;
    char buf[64];

    (void)state;
    peer_start(&p, a, 3);
    w = session(&p, 2);
    assert_int_equal(pv_wsman_enumerate(w, V2 "*", "SELECT * FROM Msvm_ComputerSystem", &it, &e), 0);
    assert_int_equal(it.n, 4);
    assert_int_equal(it.ndocs, 3);
    for (size_t i = 0; i < it.n; i++)
        assert_string_equal(pv_wsman_prop_text(it.item[i], "Caption", buf, sizeof buf), "Virtual Machine");
    assert_int_equal(pv_wsman_round_trips(w), 3);
    assert_int_equal(p.nrequests, 3);
    /* the requests: Enumerate with the WQL filter and batch size, then Pulls with the context */
    assert_non_null(strstr(p.bodies[0], "Dialect=\"http://schemas.microsoft.com/wbem/wsman/1/WQL\""));
    assert_non_null(strstr(p.bodies[0], "<w:OptimizeEnumeration/>"));
    assert_non_null(strstr(p.bodies[0], "<w:MaxElements>2</w:MaxElements>"));
    assert_non_null(strstr(p.bodies[1], "enumeration/Pull</a:Action>"));
    assert_non_null(strstr(p.bodies[1], "<n:EnumerationContext>uuid:"));
    assert_non_null(strstr(p.heads[0], "Content-Type: application/soap+xml;charset=UTF-8"));
    assert_non_null(strstr(p.heads[0], "Authorization: Basic "));
    pv_wsman_items_free(&it);
    pv_wsman_items_free(&it); /* freeing twice is harmless: zeroed */
    pv_wsman_free(w);
    peer_stop(&p);
}

static void enumerate_fault_midway_releases(void **state)
{
    static const struct answer a[] = {{200, "enumerate_response.xml", NULL},
                                      {500, "fault_access_denied.xml", NULL},
                                      {200, NULL, "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\">"
                                                  "<s:Body/></s:Envelope>"}};
    struct pv_wsman_items it = {0};
    struct pv_error e = {0};
    struct peer p;
    struct pv_wsman *w;

    (void)state;
    peer_start(&p, a, 3);
    w = session(&p, 1);
    assert_int_equal(pv_wsman_enumerate(w, V2 "*", "SELECT * FROM Msvm_ComputerSystem", &it, &e), PV_EFORBIDDEN);
    assert_string_equal(e.code, "access_denied");
    /* the context is handed back, and the error is the Pull's, not the Release's */
    assert_int_equal(p.nrequests, 3);
    assert_non_null(strstr(p.bodies[2], "enumeration/Release</a:Action>"));
    assert_non_null(strstr(p.bodies[2], "<n:EnumerationContext>uuid:"));
    pv_wsman_items_free(&it);
    pv_wsman_free(w);
    peer_stop(&p);
}

static void enumerate_without_end(void **state)
{
    /* a context-less EnumerateResponse without EndOfSequence cannot go on */
    static const struct answer a[] = {
        {200, NULL, "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" "
                    "xmlns:n=\"http://schemas.xmlsoap.org/ws/2004/09/enumeration\"><s:Body>"
                    "<n:EnumerateResponse/></s:Body></s:Envelope>"}};
    struct pv_wsman_items it = {0};
    struct pv_error e = {0};
    struct peer p;
    struct pv_wsman *w;

    (void)state;
    peer_start(&p, a, 1);
    w = session(&p, 1);
    assert_int_equal(pv_wsman_enumerate(w, V2 "*", "SELECT * FROM X", &it, &e), PV_EPEER);
    assert_string_equal(e.code, "bad_response");
    pv_wsman_items_free(&it);
    pv_wsman_free(w);
    peer_stop(&p);
}

static void invoke_and_get_over_http(void **state)
{
    static const struct answer a[] = {{200, "invoke_request_state_change.xml", NULL},
                                      {200, "get_job_exception.xml", NULL},
                                      {500, "fault_destination_unreachable.xml", NULL},
                                      {401, NULL, ""}};
    struct pv_wsman_selector vm[2] = {{"CreationClassName", "Msvm_ComputerSystem"},
                                      {"Name", "A09F76B5-A170-4338-B926-3059F28C105D"}};
    struct pv_wsman_param params[3] = {
        {.name = "RequestedState", .text = "2"},
        {.name = "Target", .kind = PV_WSMAN_P_EPR, .resource_uri = V2 "Msvm_ComputerSystem", .sel = vm, .nsel = 2},
        {.name = "Nothing", .kind = PV_WSMAN_P_NIL},
    };
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    xmlNodePtr out, inst;
    struct peer p;
    struct pv_wsman *w;
    long rv;

    (void)state;
    peer_start(&p, a, 4);
    w = session(&p, 0);
    assert_int_equal(pv_wsman_invoke(w, V2 "Msvm_ComputerSystem", "RequestStateChange", vm, 2, params, 3, &r,
                                     &out, &rv, &e), 0);
    assert_int_equal(rv, 4096);
    assert_non_null(pv_wsman_prop(out, "Job"));
    pv_soap_resp_free(r);
    assert_non_null(strstr(p.bodies[0], "<a:Action soapenv:mustUnderstand=\"true\">" V2
                                        "Msvm_ComputerSystem/RequestStateChange</a:Action>"));
    assert_non_null(strstr(p.bodies[0], "<p:RequestStateChange_INPUT xmlns:p=\"" V2 "Msvm_ComputerSystem\">"));
    assert_non_null(strstr(p.bodies[0], "<p:RequestedState>2</p:RequestedState>"));
    assert_non_null(strstr(p.bodies[0], "<p:Target><a:Address>"));
    assert_non_null(strstr(p.bodies[0], "<p:Nothing xsi:nil=\"true\"/>"));
    /* Get: the instance is the Body's element */
    assert_int_equal(pv_wsman_get(w, V2 "Msvm_ConcreteJob", vm, 1, &r, &inst, &e), 0);
    assert_int_equal(pv_wsman_prop_int(inst, "JobState", 0), 10);
    pv_soap_resp_free(r);
    /* a fault through the whole path */
    assert_int_equal(pv_wsman_get(w, V2 "Msvm_ComputerSystem", vm, 2, &r, &inst, &e), PV_ENOTFOUND);
    assert_string_equal(e.code, "destination_unreachable");
    assert_null(r);
    /* 401: our credentials refused, and the password is nowhere in the message */
    assert_int_equal(pv_wsman_get(w, V2 "Msvm_ComputerSystem", vm, 2, &r, &inst, &e), PV_EAUTH);
    assert_string_equal(e.code, "auth_failed");
    assert_null(strstr(e.message, "s3cret"));
    pv_wsman_free(w);
    peer_stop(&p);
}

/* The device changes' requests (hv_devices.c): RemoveResourceSettings with an
 * array of references, ResizeVirtualHardDisk's two scalars, a storage
 * migration's MigrationSettingData and NewResourceSettingData as embedded
 * instances (escaped text in the parameter, as WinRM takes them). */
static void device_change_envelopes(void **state)
{
    static const struct answer a[] = {{200, "invoke_remove_resource_settings.xml", NULL},
                                      {200, "invoke_resize_vhd.xml", NULL},
                                      {200, "invoke_storage_migration.xml", NULL}};
    struct pv_wsman_selector svc[1] = {{"Name", "vmms"}};
    struct pv_wsman_selector s1 = {"InstanceID", "Microsoft:A09F76B5-A170-4338-B926-3059F28C105D\\X\\0\\0\\L"};
    struct pv_wsman_selector s2 = {"InstanceID", "Microsoft:A09F76B5-A170-4338-B926-3059F28C105D\\X\\0\\0\\D"};
    struct pv_wsman_param rm[2] = {
        {.name = "ResourceSettings", .kind = PV_WSMAN_P_EPR, .resource_uri = V2 "Msvm_StorageAllocationSettingData",
         .sel = &s1, .nsel = 1},
        {.name = "ResourceSettings", .kind = PV_WSMAN_P_EPR, .resource_uri = V2 "Msvm_ResourceAllocationSettingData",
         .sel = &s2, .nsel = 1}};
    struct pv_wsman_param rs[2] = {{.name = "Path", .text = "D:\\Hyper-V\\d.vhdx"},
                                   {.name = "MaxInternalSize", .text = "5368709120"}};
    struct pv_cim_prop mp[] = {{"MigrationType", "uint16", "32769"}};
    struct pv_cim_prop sp[] = {{"InstanceID", "string", s1.value}, {"HostResource", "string[]", "C:\\n.vhdx"}};
    char *msd = NULL, *sasd = NULL;
    struct pv_wsman_selector vm[2] = {{"CreationClassName", "Msvm_ComputerSystem"},
                                      {"Name", "A09F76B5-A170-4338-B926-3059F28C105D"}};
    struct pv_wsman_param mig[4] = {
        {.name = "ComputerSystem", .kind = PV_WSMAN_P_EPR, .resource_uri = V2 "Msvm_ComputerSystem", .sel = vm,
         .nsel = 2},
        {.name = "DestinationHost", .text = "HV-NODE01"},
        {.name = "MigrationSettingData"},
        {.name = "NewResourceSettingData"}};
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    xmlNodePtr out;
    struct peer p;
    struct pv_wsman *w;
    const char *at;
    long rv;

    (void)state;
    peer_start(&p, a, 3);
    w = session(&p, 0);
    assert_int_equal(pv_wsman_invoke(w, V2 "Msvm_VirtualSystemManagementService", "RemoveResourceSettings", svc, 1,
                                     rm, 2, &r, &out, &rv, &e), 0);
    assert_int_equal(rv, 4096);
    pv_soap_resp_free(r);
    at = strstr(p.bodies[0], "<p:ResourceSettings><a:Address>");
    assert_non_null(at);
    assert_non_null(strstr(at + 1, "<p:ResourceSettings><a:Address>")); /* an array: the name twice */
    assert_non_null(strstr(p.bodies[0], V2 "Msvm_StorageAllocationSettingData</w:ResourceURI>"));
    assert_non_null(strstr(p.bodies[0], "\\X\\0\\0\\D</w:Selector>"));
    assert_int_equal(pv_wsman_invoke(w, V2 "Msvm_ImageManagementService", "ResizeVirtualHardDisk", svc, 1, rs, 2,
                                     &r, &out, &rv, &e), 0);
    pv_soap_resp_free(r);
    assert_non_null(strstr(p.bodies[1], "<p:Path>D:\\Hyper-V\\d.vhdx</p:Path><p:MaxInternalSize>5368709120"
                                        "</p:MaxInternalSize>"));
    assert_int_equal(pv_wsman_embed("Msvm_VirtualSystemMigrationSettingData", mp, 1, &msd, &e), 0);
    assert_int_equal(pv_wsman_embed("Msvm_StorageAllocationSettingData", sp, 2, &sasd, &e), 0);
    mig[2].text = msd;
    mig[3].text = sasd;
    assert_int_equal(pv_wsman_invoke(w, V2 "Msvm_VirtualSystemMigrationService", "MigrateVirtualSystemToHost", svc,
                                     1, mig, 4, &r, &out, &rv, &e), 0);
    assert_int_equal(rv, 4096);
    pv_soap_resp_free(r);
    assert_non_null(strstr(p.bodies[2], "<p:MigrationSettingData>&lt;INSTANCE "
                                        "CLASSNAME=&quot;Msvm_VirtualSystemMigrationSettingData&quot;&gt;"));
    assert_non_null(strstr(p.bodies[2], "&lt;VALUE&gt;32769&lt;/VALUE&gt;"));
    at = strstr(p.bodies[2], "<p:NewResourceSettingData>&lt;INSTANCE CLASSNAME=&quot;Msvm_StorageAllocationSettingData&quot;");
    assert_non_null(at);
    assert_non_null(strstr(at, "&lt;PROPERTY.ARRAY NAME=&quot;HostResource&quot; TYPE=&quot;string&quot;&gt;&lt;VALUE.ARRAY&gt;"
                                "&lt;VALUE&gt;C:\\n.vhdx&lt;/VALUE&gt;"));
    free(msd);
    free(sasd);
    pv_wsman_free(w);
    peer_stop(&p);
}

/* The checkpoint requests (hv_snapshots.c): CreateSnapshot with the VM's
 * reference, SnapshotType 2 and an embedded Msvm_VirtualSystemSnapshotSettingData
 * whose ConsistencyLevel is a uint8 (1 production, 2 standard); DestroySnapshotTree
 * with a reference to the checkpoint's settings by InstanceID; and the Parent of
 * a checkpoint, a WMI path read back to the parent's key. */
static void snapshot_envelopes(void **state)
{
    static const struct answer a[] = {{200, "invoke_create_snapshot.xml", NULL},
                                      {200, "invoke_destroy_snapshot_tree.xml", NULL}};
    struct pv_wsman_selector svc[1] = {{"Name", "vssnapsvc"}};
    struct pv_wsman_selector vm[2] = {{"CreationClassName", "Msvm_ComputerSystem"},
                                      {"Name", "A09F76B5-A170-4338-B926-3059F28C105D"}};
    struct pv_wsman_selector cp[1] = {{"InstanceID", "Microsoft:5E1B0C3A-77D2-4E0B-9B1C-2A3D4E5F6071"}};
    struct pv_cim_prop sp[] = {{"ConsistencyLevel", "uint8", "1"}};
    struct pv_wsman_param create[3] = {
        {.name = "AffectedSystem", .kind = PV_WSMAN_P_EPR, .resource_uri = V2 "Msvm_ComputerSystem", .sel = vm,
         .nsel = 2},
        {.name = "SnapshotSettings"},
        {.name = "SnapshotType", .text = "2"}};
    struct pv_wsman_param tree = {.name = "SnapshotSettingData", .kind = PV_WSMAN_P_EPR,
                                  .resource_uri = V2 "Msvm_VirtualSystemSettingData", .sel = cp, .nsel = 1};
    const char *parent = "\\\\HV-NODE01\\root\\virtualization\\v2:Msvm_VirtualSystemSettingData."
                         "InstanceID=\"Microsoft:5E1B0C3A-77D2-4E0B-9B1C-2A3D4E5F6071\"";
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    struct pv_wsman_epr job;
    char *ssd = NULL, buf[128];
    xmlNodePtr out;
    struct peer p;
    struct pv_wsman *w;
    long rv;

    (void)state;
    peer_start(&p, a, 2);
    w = session(&p, 0);
    assert_int_equal(pv_wsman_embed("Msvm_VirtualSystemSnapshotSettingData", sp, 1, &ssd, &e), 0);
    create[1].text = ssd;
    assert_int_equal(pv_wsman_invoke(w, V2 "Msvm_VirtualSystemSnapshotService", "CreateSnapshot", svc, 1, create, 3,
                                     &r, &out, &rv, &e), 0);
    assert_int_equal(rv, 4096);
    assert_true(pv_wsman_is_nil(pv_wsman_prop(out, "ResultingSnapshot")));
    assert_int_equal(pv_wsman_epr_parse(pv_wsman_prop(out, "Job"), &job, &e), 0);
    assert_string_equal(pv_wsman_epr_selector(&job, "InstanceID"), "9D3C1B02-6E1F-4A55-8C2B-1F0E7A6B2C4D");
    pv_soap_resp_free(r);
    assert_non_null(strstr(p.bodies[0], "<p:AffectedSystem><a:Address>"));
    assert_non_null(strstr(p.bodies[0], "<p:SnapshotSettings>&lt;INSTANCE "
                                        "CLASSNAME=&quot;Msvm_VirtualSystemSnapshotSettingData&quot;&gt;"
                                        "&lt;PROPERTY NAME=&quot;ConsistencyLevel&quot; TYPE=&quot;uint8&quot;&gt;"
                                        "&lt;VALUE&gt;1&lt;/VALUE&gt;"));
    assert_non_null(strstr(p.bodies[0], "<p:SnapshotType>2</p:SnapshotType>"));
    assert_int_equal(pv_wsman_invoke(w, V2 "Msvm_VirtualSystemSnapshotService", "DestroySnapshotTree", svc, 1, &tree,
                                     1, &r, &out, &rv, &e), 0);
    assert_int_equal(rv, 4096);
    pv_soap_resp_free(r);
    assert_non_null(strstr(p.bodies[1], "<p:SnapshotSettingData><a:Address>"));
    assert_non_null(strstr(p.bodies[1], V2 "Msvm_VirtualSystemSettingData</w:ResourceURI>"));
    assert_non_null(strstr(p.bodies[1], ">Microsoft:5E1B0C3A-77D2-4E0B-9B1C-2A3D4E5F6071</w:Selector>"));
    assert_string_equal(pv_wsman_wmi_path_key(parent, "InstanceID", buf, sizeof buf),
                        "Microsoft:5E1B0C3A-77D2-4E0B-9B1C-2A3D4E5F6071");
    free(ssd);
    pv_wsman_free(w);
    peer_stop(&p);
}

static void dropped_reads_are_sent_again(void **state)
{
    static const struct answer a[] = {{0, NULL, ""}, {0, NULL, ""}, {200, "get_vm.xml", NULL}};
    struct pv_wsman_selector vm[2] = {{"CreationClassName", "Msvm_ComputerSystem"},
                                      {"Name", "A09F76B5-A170-4338-B926-3059F28C105D"}};
    struct pv_wsman_param p1 = {.name = "RequestedState", .text = "3"};
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    xmlNodePtr inst, out;
    struct peer p;
    struct pv_wsman *w;
    long rv;

    (void)state;
    peer_start(&p, a, 3);
    w = session(&p, 0);
    /* an Invoke is never repeated by us: the host may have acted on it.
     * (Each request here starts on a fresh connection; libcurl itself
     * resends a request whose reused connection turns out dead.) */
    assert_int_equal(pv_wsman_invoke(w, V2 "Msvm_ComputerSystem", "RequestStateChange", vm, 2, &p1, 1, &r,
                                     &out, &rv, &e), PV_EUNREACHABLE);
    assert_string_equal(e.code, "peer_unreachable");
    assert_int_equal(p.nrequests, 1);
    /* a Get whose connection is closed unanswered goes out once more */
    assert_int_equal(pv_wsman_get(w, V2 "Msvm_ComputerSystem", vm, 2, &r, &inst, &e), 0);
    assert_int_equal(p.nrequests, 3);
    assert_int_equal(pv_wsman_round_trips(w), 3);
    pv_soap_resp_free(r);
    pv_wsman_free(w);
    peer_stop(&p);
}

static void unreachable(void **state)
{
    struct pv_wsman_opts o = {.url = "http://127.0.0.1:1/wsman", .username = "u", .password = "p",
                              .timeout_ms = 2000};
    struct pv_wsman *w = NULL;
    struct pv_wsman_items it = {0};
    struct pv_error e = {0};

    (void)state;
    assert_int_equal(pv_wsman_new(&o, &w, &e), 0);
    assert_int_equal(pv_wsman_enumerate(w, V2 "*", "SELECT * FROM X", &it, &e), PV_EUNREACHABLE);
    assert_string_equal(e.code, "peer_unreachable");
    pv_wsman_free(w);
    pv_wsman_free(NULL);
}

/* ---- the adapter's mappings ----------------------------------------------------- */

static void enabled_state_v2_and_legacy(void **state)
{
    static const struct {
        int es;
        enum pv_power_state ps;
    } map[] = {
        {2, PV_POWER_RUNNING}, {3, PV_POWER_STOPPED}, {6, PV_POWER_SAVED}, {9, PV_POWER_PAUSED},
        {4, PV_POWER_RUNNING}, {10, PV_POWER_RUNNING},          /* transitions: still up / coming up */
        {32768, PV_POWER_PAUSED}, {32769, PV_POWER_SAVED},       /* v1 Paused, Suspended */
        {32770, PV_POWER_RUNNING}, {32773, PV_POWER_RUNNING}, {32774, PV_POWER_RUNNING},
        {32776, PV_POWER_RUNNING}, {32777, PV_POWER_PAUSED},
        {0, PV_POWER_UNKNOWN}, {5, PV_POWER_UNKNOWN}, {-1, PV_POWER_UNKNOWN}, {12345, PV_POWER_UNKNOWN},
    };
    (void)state;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (hv_power_state(map[i].es) != map[i].ps)
            fail_msg("EnabledState %d -> %d, want %d", map[i].es, hv_power_state(map[i].es), map[i].ps);
}

static void return_codes_by_class(void **state)
{
    struct pv_error e = {0};

    (void)state;
    /* Msvm_ComputerSystem & co: the 32768 range */
    assert_int_equal(hv_return_error(32775, 0, "start", &e), PV_ECONFLICT);
    assert_string_equal(e.code, "invalid_state");
    assert_int_equal(hv_return_error(32770, 0, "pause", &e), PV_EUNSUPPORTED);
    assert_string_equal(e.code, "unsupported_by_backend");
    assert_int_equal(hv_return_error(32769, 0, "x", &e), PV_EFORBIDDEN);
    assert_int_equal(hv_return_error(32773, 0, "x", &e), PV_EINVAL);
    assert_int_equal(hv_return_error(32774, 0, "x", &e), PV_ECONFLICT);
    assert_string_equal(e.code, "vm_busy");
    assert_int_equal(hv_return_error(32778, 0, "x", &e), PV_ECONFLICT);
    assert_string_equal(e.code, "insufficient_memory");
    /* Msvm_VirtualSystemManagementService: the generic CIM codes */
    assert_int_equal(hv_return_error(5, 1, "delete", &e), PV_ECONFLICT);
    assert_string_equal(e.code, "invalid_state");
    assert_int_equal(hv_return_error(4, 1, "create", &e), PV_EINVAL);
    assert_string_equal(e.code, "invalid_parameter");
    assert_int_equal(hv_return_error(1, 1, "x", &e), PV_EUNSUPPORTED);
    assert_int_equal(hv_return_error(2, 1, "x", &e), PV_EPEER);
    assert_string_equal(e.code, "wmi_failed");
    assert_non_null(strstr(e.message, "return value 2"));
    /* and the legacy v1 meaning of 32768+ under the management service */
    assert_int_equal(hv_return_error(32775, 1, "x", &e), PV_ECONFLICT);
    assert_int_equal(hv_return_error(99, 0, "x", &e), PV_EPEER);
}

static void guids_are_checked(void **state)
{
    (void)state;
    assert_true(hv_guid_ok("A09F76B5-A170-4338-B926-3059F28C105D"));
    assert_true(hv_guid_ok("a09f76b5-a170-4338-b926-3059f28c105d"));
    assert_false(hv_guid_ok("A09F76B5-A170-4338-B926-3059F28C105"));
    assert_false(hv_guid_ok("A09F76B5-A170-4338-B926-3059F28C105DX"));
    assert_false(hv_guid_ok("A09F76B5'A170-4338-B926-3059F28C105D"));
    assert_false(hv_guid_ok("A09F76B5-A170-4338-B926-3059F28C10' "));
    assert_false(hv_guid_ok("HV-NODE01"));
    assert_false(hv_guid_ok(""));
    assert_false(hv_guid_ok(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(enumerate_response_items),
        cmocka_unit_test(pull_last_has_end_of_sequence),
        cmocka_unit_test(job_reference_and_return_value),
        cmocka_unit_test(define_system_resulting_system),
        cmocka_unit_test(summary_embedded_instances),
        cmocka_unit_test(job_exception),
        cmocka_unit_test(identify_response),
        cmocka_unit_test(faults_have_stable_codes),
        cmocka_unit_test(fault_code_table),
        cmocka_unit_test(truncated_never_crash),
        cmocka_unit_test(malformed_and_hostile),
        cmocka_unit_test(relates_to_checked),
        cmocka_unit_test(request_envelope),
        cmocka_unit_test(embedded_instance),
        cmocka_unit_test(embedded_array_property),
        cmocka_unit_test(wmi_object_paths),
        cmocka_unit_test(add_resource_settings_results),
        cmocka_unit_test(vhd_setting_data_and_storage_settings),
        cmocka_unit_test(enumerate_until_end_of_sequence),
        cmocka_unit_test(enumerate_fault_midway_releases),
        cmocka_unit_test(enumerate_without_end),
        cmocka_unit_test(invoke_and_get_over_http),
        cmocka_unit_test(device_change_envelopes),
        cmocka_unit_test(snapshot_envelopes),
        cmocka_unit_test(dropped_reads_are_sent_again),
        cmocka_unit_test(unreachable),
        cmocka_unit_test(enabled_state_v2_and_legacy),
        cmocka_unit_test(return_codes_by_class),
        cmocka_unit_test(guids_are_checked),
    };
    return cmocka_run_group_tests_name("wsman", tests, NULL, NULL);
}
