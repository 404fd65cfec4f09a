/* test_soap.c -- the shared SOAP layer (adapters/common/soap.c) on recorded
 * envelopes (tests/unit/data/soap/: answers recorded from vcsim, plus
 * hand-made ones for what vcsim does not send: a paging token, a real
 * vCenter's NotAuthenticated fault, a SOAP 1.2 fault) and on a loopback HTTP
 * peer of its own: faults become stable codes, namespaces are matched by URI
 * not prefix, truncated/malformed/hostile XML is a clean bad_response, the
 * session cookie is kept and sent back, and the headers are right. */
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
#include "adapters/common/soap.h"

#ifndef SOAP_DATA_DIR
#define SOAP_DATA_DIR "tests/unit/data/soap"
#endif
#define VIM "urn:vim25"

static char *load(const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    char *s;
    long n;

    snprintf(path, sizeof path, "%s/%s", SOAP_DATA_DIR, name);
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
    *len = (size_t)n;
    return s;
}

static struct pv_soap_resp *parse_ok(const char *name)
{
    size_t len;
    char *xml = load(name, &len);
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};

    if (pv_soap_parse(xml, len, 200, &r, &e) != 0)
        fail_msg("%s refused: %s: %s", name, e.code, e.message);
    free(xml);
    return r;
}

static void parse_fault(const char *name, long status, int cls, const char *code, const char *mention)
{
    size_t len;
    char *xml = load(name, &len);
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};

    assert_int_equal(pv_soap_parse(xml, len, status, &r, &e), cls);
    assert_null(r);
    assert_string_equal(e.code, code);
    if (mention && !strstr(e.message, mention))
        fail_msg("%s: message '%s' does not mention '%s'", name, e.message, mention);
    free(xml);
}

static void service_content(void **state)
{
    struct pv_soap_resp *r = parse_ok("service_content.xml");
    char buf[64];
    xmlNodePtr rv;
    (void)state;

    assert_non_null(r->payload);
    assert_string_equal((const char *)r->payload->name, "RetrieveServiceContentResponse");
    assert_non_null(pv_xml_child(r->body, "RetrieveServiceContentResponse", VIM));
    assert_null(pv_xml_child(r->body, "RetrieveServiceContentResponse", "urn:other"));
    rv = pv_xml_child(r->payload, "returnval", VIM);
    assert_string_equal(pv_xml_text(pv_xml_path(rv, "about/apiType"), buf, sizeof buf),
                        "VirtualCenter");
    assert_string_equal(pv_xml_text(pv_xml_child(rv, "propertyCollector", NULL), buf, sizeof buf),
                        "propertyCollector");
    assert_string_equal(pv_xml_attr(pv_xml_child(rv, "viewManager", NULL), "type", buf, sizeof buf),
                        "ViewManager");
    assert_null(pv_xml_attr(rv, "nope", buf, sizeof buf));
    assert_null(pv_xml_path(rv, "about/nothing"));
    pv_soap_resp_free(r);
}

static void paging_token_and_types(void **state)
{
    struct pv_soap_resp *r = parse_ok("retrieve_props_page1.xml");
    xmlNodePtr rv = pv_xml_child(r->payload, "returnval", VIM), o, p;
    char buf[128], t[64];
    int nobj = 0;
    (void)state;

    assert_string_equal(pv_xml_text(pv_xml_child(rv, "token", VIM), buf, sizeof buf),
                        "session[52a0b1c2]7f3e-page-2");
    for (o = pv_xml_child(rv, "objects", VIM); o; o = pv_xml_next(o, "objects", VIM))
        nobj++;
    assert_int_equal(nobj, 2);
    o = pv_xml_child(rv, "objects", VIM);
    p = pv_xml_child(o, "propSet", VIM);
    assert_string_equal(pv_xml_text(pv_xml_child(p, "val", NULL), buf, sizeof buf), "web & db <01>");
    assert_string_equal(pv_xml_xsi_type(pv_xml_child(p, "val", NULL), t, sizeof t), "string");
    p = pv_xml_next(pv_xml_next(p, "propSet", VIM), "propSet", VIM); /* runtime.host */
    assert_string_equal(pv_xml_text(pv_xml_child(p, "val", NULL), buf, sizeof buf), "host-[dc1]17");
    assert_string_equal(pv_xml_xsi_type(pv_xml_child(p, "val", NULL), t, sizeof t), "ManagedObjectReference");
    p = pv_xml_next(pv_xml_next(p, "propSet", VIM), "propSet", VIM);
    assert_int_equal(pv_xml_int(pv_xml_child(p, "val", NULL), -1), 8192);

    /* second object: the type attribute under three different prefixes */
    o = pv_xml_next(o, "objects", VIM);
    p = pv_xml_child(o, "propSet", VIM);
    assert_string_equal(pv_xml_xsi_type(pv_xml_child(p, "val", NULL), t, sizeof t), "string");
    p = pv_xml_next(p, "propSet", VIM);
    assert_string_equal(pv_xml_xsi_type(pv_xml_child(p, "val", NULL), t, sizeof t), "VirtualMachinePowerState");
    p = pv_xml_next(p, "propSet", VIM);
    /* "xsi" bound to another namespace here: the real type is under r: */
    assert_string_equal(pv_xml_xsi_type(pv_xml_child(p, "val", NULL), t, sizeof t), "int");
    assert_int_equal(pv_xml_int(pv_xml_child(p, "val", NULL), -1), 2);
    assert_null(pv_xml_xsi_type(pv_xml_child(o, "obj", NULL), t, sizeof t));
    pv_soap_resp_free(r);

    r = parse_ok("continue_props_last.xml");
    rv = pv_xml_child(r->payload, "returnval", VIM);
    assert_string_equal((const char *)r->payload->name, "ContinueRetrievePropertiesExResponse");
    assert_null(pv_xml_child(rv, "token", VIM));
    assert_non_null(pv_xml_child(rv, "objects", VIM));
    pv_soap_resp_free(r);
}

static void wait_for_updates(void **state)
{
    struct pv_soap_resp *r = parse_ok("wait_updates_modify.xml");
    xmlNodePtr rv = pv_xml_child(r->payload, "returnval", VIM), os, cs;
    char buf[128];
    (void)state;

    assert_string_equal(pv_xml_text(pv_xml_child(rv, "version", VIM), buf, sizeof buf), "-");
    os = pv_xml_path(rv, "filterSet/objectSet");
    assert_string_equal(pv_xml_text(pv_xml_child(os, "kind", VIM), buf, sizeof buf), "modify");
    assert_string_equal(pv_xml_text(pv_xml_child(os, "obj", VIM), buf, sizeof buf), "vm-135");
    cs = pv_xml_child(os, "changeSet", VIM);
    assert_string_equal(pv_xml_text(pv_xml_child(cs, "name", VIM), buf, sizeof buf), "runtime.powerState");
    assert_string_equal(pv_xml_text(pv_xml_child(cs, "op", VIM), buf, sizeof buf), "assign");
    assert_string_equal(pv_xml_text(pv_xml_child(cs, "val", VIM), buf, sizeof buf), "poweredOff");
    pv_soap_resp_free(r);

    r = parse_ok("wait_updates_enter.xml");
    rv = pv_xml_child(r->payload, "returnval", VIM);
    int n = 0;
    for (os = pv_xml_path(rv, "filterSet/objectSet"); os; os = pv_xml_next(os, "objectSet", VIM)) {
        assert_string_equal(pv_xml_text(pv_xml_child(os, "kind", VIM), buf, sizeof buf), "enter");
        n++;
    }
    assert_true(n >= 2);
    pv_soap_resp_free(r);

    /* a long poll that timed out: an empty response element */
    {
        static const char empty[] =
            "<?xml version=\"1.0\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
            "<soapenv:Body><WaitForUpdatesExResponse xmlns=\"urn:vim25\"></WaitForUpdatesExResponse></soapenv:Body></soapenv:Envelope>";
        struct pv_error e = {0};
        assert_int_equal(pv_soap_parse(empty, sizeof empty - 1, 200, &r, &e), 0);
        assert_null(pv_xml_child(r->payload, "returnval", VIM));
        pv_soap_resp_free(r);
    }
}

static void faults(void **state)
{
    (void)state;
    parse_fault("fault_invalid_login.xml", 500, PV_EAUTH, "invalid_login", "Login failure");
    parse_fault("fault_not_authenticated_vc.xml", 500, PV_EAUTH, "not_authenticated", "not authenticated");
    parse_fault("fault_not_found.xml", 500, PV_ENOTFOUND, "managed_object_not_found", "vm-99999");
    /* vcsim sends an empty faultstring here: the type names the problem */
    parse_fault("fault_invalid_power_state.xml", 500, PV_ECONFLICT, "invalid_power_state", "InvalidPowerState");
    /* no xsi:type: the element's name, less "Fault" */
    parse_fault("fault_invalid_argument_noxsi.xml", 500, PV_EINVAL, "invalid_argument", "spec.deviceChange");
    parse_fault("fault_unknown.xml", 500, PV_EPEER, "soap_fault", "Something odd happened");
    parse_fault("fault_soap12.xml", 400, PV_EPEER, "soap_fault", "selectors for the resource are not valid");
    /* a fault with status 200 is still a fault */
    parse_fault("fault_invalid_login.xml", 200, PV_EAUTH, "invalid_login", NULL);
}

static void fault_table(void **state)
{
    int cls;
    struct pv_error e = {0};
    (void)state;

    assert_string_equal(pv_soap_fault_code("InvalidState", &cls), "invalid_state");
    assert_int_equal(cls, PV_ECONFLICT);
    assert_string_equal(pv_soap_fault_code("InvalidArgument", &cls), "invalid_argument");
    assert_int_equal(cls, PV_EINVAL);
    assert_string_equal(pv_soap_fault_code("ManagedObjectNotFound", NULL), "managed_object_not_found");
    assert_string_equal(pv_soap_fault_code("NoPermission", &cls), "no_permission");
    assert_int_equal(cls, PV_EFORBIDDEN);
    assert_string_equal(pv_soap_fault_code(NULL, &cls), "soap_fault");
    assert_string_equal(pv_soap_fault_code("Whatever", &cls), "soap_fault");
    assert_int_equal(cls, PV_EPEER);
    assert_int_equal(pv_soap_fault_error("ToolsUnavailable", "", &e), PV_ECONFLICT);
    assert_string_equal(e.code, "tools_not_running");
    assert_non_null(strstr(e.message, "ToolsUnavailable"));
    /* a VM's device changes: what a running VM cannot take is vm_running */
    assert_string_equal(pv_soap_fault_code("DeviceHotPlugNotSupported", &cls), "vm_running");
    assert_int_equal(cls, PV_ECONFLICT);
    assert_string_equal(pv_soap_fault_code("InvalidDeviceSpec", &cls), "invalid_vm_config");
    assert_int_equal(cls, PV_EINVAL);
    assert_string_equal(pv_soap_fault_code("FileAlreadyExists", NULL), "disk_exists");
    assert_string_equal(pv_soap_fault_code("NoDiskSpace", NULL), "insufficient_storage");
    assert_string_equal(pv_soap_fault_code("DeviceUnsupportedForVmPlatform", &cls), "not_supported");
    assert_int_equal(cls, PV_EUNSUPPORTED);
}

/* vcsim answers an unauthenticated RetrievePropertiesEx with HTTP 200 and the
 * NotAuthenticated fault inside missingSet, and a Task's error the same way:
 * both are results, read with the fault table. */
static void nested_faults(void **state)
{
    struct pv_soap_resp *r = parse_ok("missing_set_not_authenticated.xml");
    xmlNodePtr f;
    char t[64];
    struct pv_error e = {0};
    (void)state;

    f = pv_xml_path(r->payload, "returnval/objects/missingSet/fault/fault");
    assert_string_equal(pv_xml_xsi_type(f, t, sizeof t), "NotAuthenticated");
    pv_soap_resp_free(r);

    r = parse_ok("task_info_error.xml");
    for (f = pv_xml_path(r->payload, "returnval/objects/propSet"); f; f = pv_xml_next(f, "propSet", VIM)) {
        char name[64];
        pv_xml_text(pv_xml_child(f, "name", VIM), name, sizeof name);
        if (strcmp(name, "info.error") == 0)
            break;
    }
    assert_non_null(f);
    f = pv_xml_path(f, "val/fault");
    assert_int_equal(pv_soap_fault_error(pv_xml_xsi_type(f, t, sizeof t), NULL, &e), PV_ECONFLICT);
    assert_string_equal(e.code, "invalid_power_state");
    pv_soap_resp_free(r);
}

static void bad(const char *xml, size_t len, long status, const char *code)
{
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    if (pv_soap_parse(xml, len, status, &r, &e) == 0)
        fail_msg("accepted: %.*s", (int)(len > 80 ? 80 : len), xml);
    assert_null(r);
    assert_string_equal(e.code, code);
    assert_true(e.message[0] != '\0');
}

static void truncated_everywhere(void **state)
{
    size_t len;
    char *xml = load("wait_updates_modify.xml", &len);
    (void)state;

    /* every proper prefix of a real answer is refused cleanly */
    for (size_t n = 0; n < len - 1; n++) {
        struct pv_soap_resp *r = NULL;
        struct pv_error e = {0};
        int rc = pv_soap_parse(xml, n, 200, &r, &e);
        if (rc == 0) { /* only the trailing whitespace may go */
            assert_true(n >= len - 2);
            pv_soap_resp_free(r);
            continue;
        }
        assert_int_equal(rc, PV_EPEER);
        assert_string_equal(e.code, "bad_response");
    }
    free(xml);
}

static void malformed(void **state)
{
    static const char *const cases[] = {
        "",
        "not xml at all",
        "<a><b></a>",
        "<?xml version=\"1.0\"?><Envelope><Body/></Envelope>",  /* no namespace */
        "<soapenv:Envelope xmlns:soapenv=\"urn:not-soap\"><soapenv:Body/></soapenv:Envelope>",
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"/>", /* no Body */
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><Body/></soapenv:Envelope>", /* Body unqualified */
        "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\"><soapenv:Body>\xff\xfe</soapenv:Body></soapenv:Envelope>",
        "<x:Envelope xmlns:x=\"http://schemas.xmlsoap.org/soap/envelope/\"><x:Body><r>&undefined;</r></x:Body></x:Envelope>",
        /* entity tricks: any DTD is refused */
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
        "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><r>&c;</r></s:Body></s:Envelope>",
        "<?xml version=\"1.0\"?><!DOCTYPE x SYSTEM \"http://127.0.0.1:1/evil.dtd\">"
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY f SYSTEM \"file:///etc/passwd\">]>"
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><r>&f;</r></s:Body></s:Envelope>",
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        bad(cases[i], strlen(cases[i]), 200, "bad_response");
    bad(NULL, 0, 200, "bad_response");
    /* a good envelope with an error status and no fault */
    {
        static const char ok[] = "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><r/></s:Body></s:Envelope>";
        bad(ok, sizeof ok - 1, 503, "http_error");
    }
}

static char *repeat(const char *head, const char *unit, size_t n, const char *tail, size_t *len)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * n + tl + 1), *p = s;
    assert_non_null(s);
    memcpy(p, head, hl);
    p += hl;
    for (size_t i = 0; i < n; i++, p += ul)
        memcpy(p, unit, ul);
    memcpy(p, tail, tl);
    p[tl] = '\0';
    *len = hl + ul * n + tl;
    return s;
}

static void huge_and_deep(void **state)
{
    static const char head[] =
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">"
        "<s:Body><RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>";
    static const char tail[] = "</returnval></RetrievePropertiesExResponse></s:Body></s:Envelope>";
    size_t len;
    char *xml;
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    int n = 0;
    (void)state;

    /* wide: 200k objects (about 25 MB) parse, and all are there */
    xml = repeat(head, "<objects><obj type=\"VirtualMachine\">vm-1</obj><propSet><name>name</name>"
                       "<val xsi:type=\"xsd:string\">x</val></propSet></objects>", 200000, tail, &len);
    assert_int_equal(pv_soap_parse(xml, len, 200, &r, &e), 0);
    for (xmlNodePtr o = pv_xml_path(r->payload, "returnval/objects"); o; o = pv_xml_next(o, "objects", VIM))
        n++;
    assert_int_equal(n, 200000);
    pv_soap_resp_free(r);
    free(xml);

    /* deep: 100k nested elements is refused, not a stack overflow */
    {
        size_t l1, l2;
        char *open = repeat(head, "<d>", 100000, "", &l1);
        char *close = repeat("", "</d>", 100000, tail, &l2);
        xml = malloc(l1 + l2 + 1);
        memcpy(xml, open, l1);
        memcpy(xml + l1, close, l2 + 1);
        bad(xml, l1 + l2, 200, "bad_response");
        free(open);
        free(close);
        free(xml);
    }
}

static void writer(void **state)
{
    struct pv_soap_writer sw;
    struct pv_error e = {0};
    struct pv_soap_resp *r = NULL;
    char *xml = NULL, buf[128], t[64];
    size_t len = 0;
    xmlNodePtr n;
    (void)state;

    assert_int_equal(pv_soap_writer_begin(&sw, 0, 0, &e), 0);
    pv_soap_w_start(&sw, "Login", VIM);
    pv_soap_w_moref(&sw, "_this", "SessionManager", "SessionManager");
    pv_soap_w_text(&sw, "userName", "adm<in>&\"co\"");
    pv_soap_w_text(&sw, "password", "p]]>w&d'");
    pv_soap_w_start(&sw, "selectSet", NULL);
    pv_soap_w_xsi_type(&sw, "TraversalSpec");
    pv_soap_w_int(&sw, "n", -42);
    pv_soap_w_end(&sw);
    pv_soap_w_end(&sw);
    assert_int_equal(pv_soap_writer_finish(&sw, &xml, &len, &e), 0);
    assert_int_equal(strlen(xml), len);
    assert_null(strstr(xml, "<in>"));
    assert_int_equal(pv_soap_parse(xml, len, 200, &r, &e), 0);
    n = pv_xml_child(r->body, "Login", VIM);
    assert_non_null(n);
    assert_string_equal(pv_xml_attr(pv_xml_child(n, "_this", VIM), "type", buf, sizeof buf), "SessionManager");
    assert_string_equal(pv_xml_text(pv_xml_child(n, "userName", VIM), buf, sizeof buf), "adm<in>&\"co\"");
    assert_string_equal(pv_xml_text(pv_xml_child(n, "password", VIM), buf, sizeof buf), "p]]>w&d'");
    assert_string_equal(pv_xml_xsi_type(pv_xml_child(n, "selectSet", VIM), t, sizeof t), "TraversalSpec");
    assert_int_equal(pv_xml_int(pv_xml_path(n, "selectSet/n"), 0), -42);
    pv_soap_resp_free(r);
    free(xml);

    /* SOAP 1.2 with a header */
    assert_int_equal(pv_soap_writer_begin(&sw, 1, 1, &e), 0);
    pv_soap_w_text(&sw, "To", "https://h/wsman");
    pv_soap_writer_body(&sw);
    pv_soap_w_start(&sw, "Get", "urn:x");
    pv_soap_w_end(&sw);
    assert_int_equal(pv_soap_writer_finish(&sw, &xml, &len, &e), 0);
    assert_int_equal(pv_soap_parse(xml, len, 200, &r, &e), 0);
    assert_non_null(pv_xml_child(r->body, "Get", "urn:x"));
    assert_non_null(pv_xml_child(pv_xml_child(xmlDocGetRootElement(r->doc), "Header", PV_SOAP12_NS), "To", NULL));
    pv_soap_resp_free(r);
    free(xml);

    /* misuse is an error, not a bad document */
    assert_int_equal(pv_soap_writer_begin(&sw, 0, 1, &e), 0);
    assert_int_equal(pv_soap_writer_finish(&sw, &xml, &len, &e), PV_EINTERNAL);
    assert_null(xml);
    assert_string_equal(e.code, "envelope_failed");
}

static void cookies(void **state)
{
    static const char name[] = "vmware_soap_session";
    char out[128];
    (void)state;

#define C(line) pv_soap_parse_set_cookie(line, strlen(line), name, out, sizeof out)
    /* vcsim: unquoted, no Path */
    assert_true(C("Set-Cookie: vmware_soap_session=3e3ad342-0c02; HttpOnly\r\n"));
    assert_string_equal(out, "vmware_soap_session=3e3ad342-0c02");
    /* vCenter: quoted, Path, other attributes; header name in any case */
    assert_true(C("set-cookie: vmware_soap_session=\"52b1 a9\"; Path=/; HttpOnly; Secure;\r\n"));
    assert_string_equal(out, "vmware_soap_session=\"52b1 a9\"");
    assert_true(C("SET-COOKIE:vmware_soap_session=abc\r\n"));
    assert_string_equal(out, "vmware_soap_session=abc");
    assert_true(C("vmware_soap_session=bare"));
    assert_string_equal(out, "vmware_soap_session=bare");
    /* not ours, or broken */
    assert_false(C("Set-Cookie: other=1; Path=/\r\n"));
    assert_false(C("Set-Cookie: vmware_soap_session_x=1\r\n"));
    assert_false(C("Set-Cookie: vmware_soap_session=\r\n"));
    assert_false(C("Set-Cookie: vmware_soap_session=\"unterminated\r\n"));
    assert_false(C("Content-Type: text/xml\r\n"));
    assert_false(C(""));
    {
        char longline[400];
        snprintf(longline, sizeof longline, "Set-Cookie: vmware_soap_session=%0300d", 7);
        assert_false(pv_soap_parse_set_cookie(longline, strlen(longline), name, out, 64));
    }
#undef C
}

/* ---- a loopback HTTP peer ------------------------------------------------- */

struct peer {
    int fd;
    int port;
    pthread_t t;
    const char *const *answers;   /* full HTTP responses, one per request */
    int nanswers;
    char requests[4][4096];       /* the headers received */
    int nrequests;
    int stall;                    /* sleep this many ms before answering */
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    int c = accept(p->fd, NULL, NULL);

    while (c >= 0 && p->nrequests < p->nanswers) {
        char buf[65536];
        size_t got = 0;
        char *end;
        long clen;
        while (!(end = strstr(buf, "\r\n\r\n"))) {
            ssize_t n = recv(c, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0)
                goto done;
            got += (size_t)n;
            buf[got] = '\0';
        }
        clen = strstr(buf, "Content-Length: ") ? atol(strstr(buf, "Content-Length: ") + 16) : 0;
        while ((long)(got - (size_t)(end + 4 - buf)) < clen) {
            ssize_t n = recv(c, buf + got, sizeof buf - 1 - got, 0);
            if (n <= 0)
                goto done;
            got += (size_t)n;
            buf[got] = '\0';
        }
        snprintf(p->requests[p->nrequests % 4], sizeof p->requests[0], "%.*s", (int)(end - buf), buf);
        if (p->stall)
            usleep((useconds_t)p->stall * 1000);
        {
            const char *answer = p->answers[p->nrequests];
            /* counted before the answer leaves, so the client never sees the
             * answer before the count */
            __atomic_add_fetch(&p->nrequests, 1, __ATOMIC_SEQ_CST);
            send(c, answer, strlen(answer), MSG_NOSIGNAL);
        }
    }
done:
    if (c >= 0)
        close(c);
    return NULL;
}

static void peer_start(struct peer *p, const char *const *answers, int n)
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
}

static void peer_run(struct peer *p)
{
    pthread_create(&p->t, NULL, peer_main, p);
}

static void peer_stop(struct peer *p)
{
    shutdown(p->fd, SHUT_RDWR);
    close(p->fd);
    pthread_join(p->t, NULL);
}

#define OK_BODY "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><LoginResponse xmlns=\"urn:vim25\"><returnval/></LoginResponse></s:Body></s:Envelope>"
#define FAULT_BODY "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><s:Body><s:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The session is not authenticated.</faultstring><detail><NotAuthenticatedFault xmlns=\"urn:vim25\" xsi:type=\"NotAuthenticated\"/></detail></s:Fault></s:Body></s:Envelope>"
#define LEN(s) (sizeof(s) - 1)

static void over_http(void **state)
{
    static char a0[1024], a1[1024];
    static const char a2[] = "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 19\r\n\r\n<s:Envelope><s:Body";
    static const char *const answers[] = {a0, a1, a2};
    struct peer p;
    struct pv_soap *s = NULL;
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    char url[64];
    struct pv_soap_opts o = {.soap_action = "urn:vim25/6.5", .cookie_name = "vmware_soap_session",
                             .timeout_ms = 3000};
    (void)state;

    snprintf(a0, sizeof a0, "HTTP/1.1 200 OK\r\nSet-Cookie: vmware_soap_session=\"52-ab\"; Path=/; HttpOnly\r\n"
             "Content-Type: text/xml\r\nContent-Length: %zu\r\n\r\n%s", LEN(OK_BODY), OK_BODY);
    snprintf(a1, sizeof a1, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/xml\r\n"
             "Content-Length: %zu\r\n\r\n%s", LEN(FAULT_BODY), FAULT_BODY);
    peer_start(&p, answers, 3);
    peer_run(&p);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/sdk", p.port);
    o.url = url;
    assert_int_equal(pv_soap_new(&o, &s, &e), 0);
    assert_string_equal(pv_soap_cookie(s), "");
    assert_int_equal(pv_soap_call(s, "<x/>", 4, 0, &r, &e), 0);
    assert_non_null(pv_xml_child(r->body, "LoginResponse", VIM));
    pv_soap_resp_free(r);
    assert_string_equal(pv_soap_cookie(s), "vmware_soap_session=\"52-ab\"");
    assert_int_equal(pv_soap_call(s, "<y/>", 4, 0, &r, &e), PV_EAUTH);
    assert_string_equal(e.code, "not_authenticated");
    assert_int_equal(pv_soap_call(s, "<z/>", 4, 0, &r, &e), PV_EPEER);
    assert_string_equal(e.code, "bad_response");
    peer_stop(&p);
    assert_int_equal(p.nrequests, 3);
    /* the headers: POST to the path, SOAPAction, Content-Type, the cookie
     * sent back as received, on one connection */
    assert_non_null(strstr(p.requests[0], "POST /sdk HTTP/1.1"));
    assert_non_null(strstr(p.requests[0], "SOAPAction: urn:vim25/6.5"));
    assert_non_null(strstr(p.requests[0], "Content-Type: text/xml; charset=utf-8"));
    assert_null(strstr(p.requests[0], "Cookie:"));
    assert_non_null(strstr(p.requests[1], "Cookie: vmware_soap_session=\"52-ab\""));
    pv_soap_forget_cookie(s);
    assert_string_equal(pv_soap_cookie(s), "");

    /* nobody listening any more */
    assert_int_equal(pv_soap_call(s, "<x/>", 4, 0, &r, &e), PV_EUNREACHABLE);
    assert_string_equal(e.code, "peer_unreachable");
    pv_soap_free(s);
    pv_soap_free(NULL);
}

static void timeout(void **state)
{
    static const char *const answers[] = {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"};
    struct peer p;
    struct pv_soap *s = NULL;
    struct pv_soap_resp *r = NULL;
    struct pv_error e = {0};
    char url[64];
    struct pv_soap_opts o = {0};
    (void)state;

    peer_start(&p, answers, 1);
    p.stall = 1500;
    peer_run(&p);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/sdk", p.port);
    o.url = url;
    assert_int_equal(pv_soap_new(&o, &s, &e), 0);
    assert_int_equal(pv_soap_call(s, "<x/>", 4, 300, &r, &e), PV_EUNREACHABLE);
    assert_string_equal(e.code, "timeout");
    pv_soap_free(s);
    peer_stop(&p);

    o.url = "ftp://example/";
    assert_int_equal(pv_soap_new(&o, &s, &e), PV_EINVAL);
    assert_string_equal(e.code, "invalid_url");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(service_content),
        cmocka_unit_test(paging_token_and_types),
        cmocka_unit_test(wait_for_updates),
        cmocka_unit_test(faults),
        cmocka_unit_test(fault_table),
        cmocka_unit_test(nested_faults),
        cmocka_unit_test(truncated_everywhere),
        cmocka_unit_test(malformed),
        cmocka_unit_test(huge_and_deep),
        cmocka_unit_test(writer),
        cmocka_unit_test(cookies),
        cmocka_unit_test(over_http),
        cmocka_unit_test(timeout),
    };
    int rc = cmocka_run_group_tests_name("soap", tests, NULL, NULL);
    xmlCleanupParser();
    return rc;
}
