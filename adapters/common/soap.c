/* soap.c -- the SOAP client shared by the SOAP-speaking adapters (see
 * soap.h for the contract).
 *
 * Decisions worth knowing:
 *   - The HTTP session is lib/httpc's (one reused handle, TLS pinning,
 *     timeouts, the session cookie sent back exactly as received, quotes
 *     included, as vCenter expects); this file adds SOAP to it.
 *   - Responses are parsed with XML_PARSE_NONET and without XML_PARSE_NOENT;
 *     a document carrying a DTD is refused outright, so no entity is ever
 *     defined, let alone expanded.  libxml2's default depth and size limits
 *     stay on (no XML_PARSE_HUGE): an absurdly deep answer is a bad_response.
 *   - A fault's code comes from the fault type in <detail> (xsi:type read by
 *     namespace URI, else the element's name less its "Fault" suffix) through
 *     one table, so the same vSphere fault gives the same code whether it
 *     arrives as a SOAP fault or inside a Task's info.error.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libxml/parser.h>
#include "adapters/common/soap.h"
#include "lib/buf.h"
#include "lib/httpc.h"

struct pv_soap {
    struct pv_httpc *http;
    char *url;
};

/* libxml2's global set-up is not thread-safe: once, before any parse. */
static pthread_once_t xml_once = PTHREAD_ONCE_INIT;
static void xml_setup(void)
{
    xmlInitParser();
}

int pv_soap_parse_set_cookie(const char *line, size_t len, const char *name, char *out,
                             size_t size)
{
    return pv_httpc_parse_set_cookie(line, len, name, out, size);
}

int pv_soap_new(const struct pv_soap_opts *o, struct pv_soap **out, struct pv_error *err)
{
    struct pv_soap *s;
    char ct[160], action[300];
    const char *headers[4] = {ct, NULL, NULL, NULL};
    int n = 1, rc;

    *out = NULL;
    pthread_once(&xml_once, xml_setup);
    snprintf(ct, sizeof ct, "Content-Type: %s", o->content_type ? o->content_type : "text/xml; charset=utf-8");
    if (o->soap_action) {
        snprintf(action, sizeof action, "SOAPAction: %s", o->soap_action);
        headers[n++] = action;
    }
    headers[n] = "Expect:"; /* no 100-continue round trip */
    struct pv_httpc_opts ho = {
        .base_url = o->url, .headers = headers, .username = o->username,
        .password = o->password, .auth_ntlm = o->auth_ntlm, .insecure = o->insecure,
        .ca_pem = o->ca_pem, .ca_file = o->ca_file, .connect_timeout_ms = o->connect_timeout_ms,
        .timeout_ms = o->timeout_ms, .max_response = PV_SOAP_MAX_RESPONSE,
        .cookie_name = o->cookie_name, .user_agent = "polyvisor-soap/1", .gzip = 1,
    };
    s = calloc(1, sizeof *s);
    if (!s || !o->url || !(s->url = strdup(o->url))) {
        free(s);
        if (!o->url)
            return pv_fail(err, invalid_url, "the endpoint's url must be https://HOST[:PORT]/PATH");
        return pv_fail(err, out_of_memory, "out of memory");
    }
    rc = pv_httpc_new(&ho, &s->http, err);
    if (rc) {
        pv_soap_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void pv_soap_free(struct pv_soap *s)
{
    if (!s)
        return;
    pv_httpc_free(s->http);
    free(s->url);
    free(s);
}

const char *pv_soap_cookie(const struct pv_soap *s)
{
    return pv_httpc_cookie(s->http);
}

void pv_soap_forget_cookie(struct pv_soap *s)
{
    pv_httpc_forget_cookie(s->http);
}

int pv_soap_post(struct pv_soap *s, const char *envelope, size_t len, int timeout_ms,
                 long *status, char **body, size_t *body_len, struct pv_error *err)
{
    struct pv_buf b = PV_BUF_INIT;
    int rc;

    *status = 0;
    *body = NULL;
    *body_len = 0;
    rc = pv_httpc_call(s->http, "POST", NULL, envelope, len, timeout_ms, status, &b, err);
    if (rc)
        goto out;
    if (*status == 401 || *status == 403) {
        rc = pv_fail(err, auth_failed, "%s refused our credentials (HTTP %ld)",
                          s->url, *status);
        goto out;
    }
    if (b.len == 0) {
        rc = pv_fail_code(err, *status >= 200 && *status < 300 ? PV_CODE_bad_response : PV_CODE_http_error,
                          "%s answered HTTP %ld with no SOAP envelope", s->url, *status);
        goto out;
    }
    *body_len = b.len;
    *body = pv_buf_detach(&b);
out:
    pv_buf_free(&b);
    return rc;
}

int pv_soap_call(struct pv_soap *s, const char *envelope, size_t len, int timeout_ms,
                 struct pv_soap_resp **out, struct pv_error *err)
{
    char *body = NULL;
    size_t blen = 0;
    long status = 0;
    int rc;

    *out = NULL;
    rc = pv_soap_post(s, envelope, len, timeout_ms, &status, &body, &blen, err);
    if (!rc)
        rc = pv_soap_parse(body, blen, status, out, err);
    free(body);
    return rc;
}

/* ---- envelopes ------------------------------------------------------------ */

static void wcheck(struct pv_soap_writer *sw, int rc)
{
    if (rc < 0)
        sw->failed = 1;
}

int pv_soap_writer_begin(struct pv_soap_writer *sw, int soap12, int with_header,
                         struct pv_error *err)
{
    return pv_soap_writer_begin_ns(sw, soap12, with_header, NULL, err);
}

int pv_soap_writer_begin_ns(struct pv_soap_writer *sw, int soap12, int with_header,
                            const char *const *ns, struct pv_error *err)
{
    memset(sw, 0, sizeof *sw);
    pthread_once(&xml_once, xml_setup);
    sw->buf = xmlBufferCreate();
    sw->w = sw->buf ? xmlNewTextWriterMemory(sw->buf, 0) : NULL;
    if (!sw->w) {
        pv_soap_writer_abort(sw);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    wcheck(sw, xmlTextWriterStartDocument(sw->w, "1.0", "UTF-8", NULL));
    wcheck(sw, xmlTextWriterStartElementNS(sw->w, BAD_CAST "soapenv", BAD_CAST "Envelope",
                                           BAD_CAST(soap12 ? PV_SOAP12_NS : PV_SOAP11_NS)));
    wcheck(sw, xmlTextWriterWriteAttribute(sw->w, BAD_CAST "xmlns:xsi", BAD_CAST PV_XSI_NS));
    wcheck(sw, xmlTextWriterWriteAttribute(sw->w, BAD_CAST "xmlns:xsd", BAD_CAST PV_XSD_NS));
    for (size_t i = 0; ns && ns[i] && ns[i + 1]; i += 2) {
        char attr[64];
        if ((size_t)snprintf(attr, sizeof attr, "xmlns:%s", ns[i]) >= sizeof attr)
            sw->failed = 1;
        else
            wcheck(sw, xmlTextWriterWriteAttribute(sw->w, BAD_CAST attr, BAD_CAST ns[i + 1]));
    }
    if (with_header) {
        wcheck(sw, xmlTextWriterStartElementNS(sw->w, BAD_CAST "soapenv", BAD_CAST "Header", NULL));
        sw->in_header = 1;
    } else {
        wcheck(sw, xmlTextWriterStartElementNS(sw->w, BAD_CAST "soapenv", BAD_CAST "Body", NULL));
    }
    return 0;
}

void pv_soap_writer_body(struct pv_soap_writer *sw)
{
    if (!sw->in_header) {
        sw->failed = 1;
        return;
    }
    wcheck(sw, xmlTextWriterEndElement(sw->w));
    wcheck(sw, xmlTextWriterStartElementNS(sw->w, BAD_CAST "soapenv", BAD_CAST "Body", NULL));
    sw->in_header = 0;
}

void pv_soap_w_start(struct pv_soap_writer *sw, const char *name, const char *ns)
{
    if (ns)
        wcheck(sw, xmlTextWriterStartElementNS(sw->w, NULL, BAD_CAST name, BAD_CAST ns));
    else
        wcheck(sw, xmlTextWriterStartElement(sw->w, BAD_CAST name));
}

void pv_soap_w_attr(struct pv_soap_writer *sw, const char *name, const char *value)
{
    wcheck(sw, xmlTextWriterWriteAttribute(sw->w, BAD_CAST name, BAD_CAST(value ? value : "")));
}

void pv_soap_w_xsi_type(struct pv_soap_writer *sw, const char *type)
{
    pv_soap_w_attr(sw, "xsi:type", type);
}

void pv_soap_w_end(struct pv_soap_writer *sw)
{
    wcheck(sw, xmlTextWriterEndElement(sw->w));
}

void pv_soap_w_text(struct pv_soap_writer *sw, const char *name, const char *text)
{
    wcheck(sw, xmlTextWriterWriteElement(sw->w, BAD_CAST name, BAD_CAST(text ? text : "")));
}

void pv_soap_w_int(struct pv_soap_writer *sw, const char *name, long long v)
{
    char n[32];
    snprintf(n, sizeof n, "%lld", v);
    pv_soap_w_text(sw, name, n);
}

void pv_soap_w_moref(struct pv_soap_writer *sw, const char *name, const char *type,
                     const char *value)
{
    pv_soap_w_start(sw, name, NULL);
    pv_soap_w_attr(sw, "type", type);
    wcheck(sw, xmlTextWriterWriteString(sw->w, BAD_CAST(value ? value : "")));
    pv_soap_w_end(sw);
}

int pv_soap_writer_finish(struct pv_soap_writer *sw, char **xml, size_t *len,
                          struct pv_error *err)
{
    *xml = NULL;
    *len = 0;
    if (sw->in_header)
        sw->failed = 1;
    wcheck(sw, xmlTextWriterEndDocument(sw->w)); /* closes Body and Envelope */
    if (!sw->failed) {
        xmlFreeTextWriter(sw->w); /* flushes into buf */
        sw->w = NULL;
        *len = (size_t)xmlBufferLength(sw->buf);
        *xml = malloc(*len + 1);
        if (*xml) {
            memcpy(*xml, xmlBufferContent(sw->buf), *len);
            (*xml)[*len] = '\0';
        }
    }
    pv_soap_writer_abort(sw);
    if (!*xml) {
        *len = 0;
        return pv_fail(err, envelope_failed,
                            "could not build the SOAP request (invalid text or out of memory)");
    }
    return 0;
}

void pv_soap_writer_abort(struct pv_soap_writer *sw)
{
    if (sw->w)
        xmlFreeTextWriter(sw->w);
    if (sw->buf)
        xmlBufferFree(sw->buf);
    sw->w = NULL;
    sw->buf = NULL;
}

/* ---- element helpers ---------------------------------------------------------- */

static int matches(xmlNodePtr n, const char *local, const char *ns)
{
    if (n->type != XML_ELEMENT_NODE)
        return 0;
    if (local && strcmp((const char *)n->name, local) != 0)
        return 0;
    if (ns && (!n->ns || !n->ns->href || strcmp((const char *)n->ns->href, ns) != 0))
        return 0;
    return 1;
}

xmlNodePtr pv_xml_next(xmlNodePtr n, const char *local, const char *ns)
{
    for (n = n ? n->next : NULL; n; n = n->next)
        if (matches(n, local, ns))
            return n;
    return NULL;
}

xmlNodePtr pv_xml_child(xmlNodePtr n, const char *local, const char *ns)
{
    for (n = n ? n->children : NULL; n; n = n->next)
        if (matches(n, local, ns))
            return n;
    return NULL;
}

xmlNodePtr pv_xml_path(xmlNodePtr n, const char *path)
{
    char step[128];

    while (n && path && *path) {
        size_t len = strcspn(path, "/");
        if (len == 0 || len >= sizeof step)
            return NULL;
        memcpy(step, path, len);
        step[len] = '\0';
        n = pv_xml_child(n, step, NULL);
        path += len + (path[len] == '/');
    }
    return n;
}

const char *pv_xml_xsi_type(xmlNodePtr n, char *buf, size_t size)
{
    xmlChar *v;
    const char *colon;

    if (!n || size == 0)
        return NULL;
    v = xmlGetNsProp(n, BAD_CAST "type", BAD_CAST PV_XSI_NS);
    if (!v)
        return NULL;
    colon = strchr((const char *)v, ':');
    snprintf(buf, size, "%s", colon ? colon + 1 : (const char *)v);
    xmlFree(v);
    return buf;
}

const char *pv_xml_text(xmlNodePtr n, char *buf, size_t size)
{
    xmlChar *v;

    if (!n || size == 0)
        return NULL;
    v = xmlNodeGetContent(n);
    snprintf(buf, size, "%s", v ? (const char *)v : "");
    xmlFree(v);
    return buf;
}

char *pv_xml_text_dup(xmlNodePtr n)
{
    xmlChar *v;
    char *s;

    if (!n)
        return NULL;
    v = xmlNodeGetContent(n);
    s = strdup(v ? (const char *)v : "");
    xmlFree(v);
    return s;
}

const char *pv_xml_attr(xmlNodePtr n, const char *name, char *buf, size_t size)
{
    xmlChar *v;

    if (!n || size == 0)
        return NULL;
    v = xmlGetNoNsProp(n, BAD_CAST name);
    if (!v)
        return NULL;
    snprintf(buf, size, "%s", (const char *)v);
    xmlFree(v);
    return buf;
}

long long pv_xml_int(xmlNodePtr n, long long dflt)
{
    char t[64], *end;
    long long v;

    if (!pv_xml_text(n, t, sizeof t) || !t[0])
        return dflt;
    v = strtoll(t, &end, 10);
    while (*end && isspace((unsigned char)*end))
        end++;
    return *end ? dflt : v;
}

/* ---- faults ------------------------------------------------------------------ */

static const struct {
    const char *type;
    enum pv_code code; /* its class is the code's */
} fault_table[] = {
    {"InvalidLogin", PV_CODE_invalid_login},
    {"NotAuthenticated", PV_CODE_not_authenticated},
    {"NoPermission", PV_CODE_no_permission},
    {"InvalidState", PV_CODE_invalid_state},
    {"InvalidPowerState", PV_CODE_invalid_power_state},
    {"InvalidHostState", PV_CODE_invalid_host_state},
    {"TaskInProgress", PV_CODE_task_in_progress},
    {"ToolsUnavailable", PV_CODE_tools_not_running},
    {"InvalidArgument", PV_CODE_invalid_argument},
    {"InvalidRequest", PV_CODE_invalid_request},
    {"InvalidType", PV_CODE_invalid_argument},
    {"InvalidProperty", PV_CODE_invalid_argument},
    {"InvalidName", PV_CODE_invalid_name},
    {"ManagedObjectNotFound", PV_CODE_managed_object_not_found},
    {"NotFound", PV_CODE_not_found},
    {"DuplicateName", PV_CODE_duplicate_name},
    {"AlreadyExists", PV_CODE_already_exists},
    {"NotSupported", PV_CODE_not_supported},
    {"NotImplemented", PV_CODE_not_supported},
    {"RequestCanceled", PV_CODE_cancelled},
    {"InsufficientResourcesFault", PV_CODE_insufficient_resources},
    {"InvalidCollectorVersion", PV_CODE_invalid_collector_version},
    {"HostNotConnected", PV_CODE_host_not_connected},
    {"MigrationFault", PV_CODE_migration_failed},
    {"VmConfigFault", PV_CODE_invalid_vm_config},
    /* a VM's device changes (ReconfigVM_Task deviceChange) */
    {"InvalidDeviceSpec", PV_CODE_invalid_vm_config},
    {"InvalidDeviceOperation", PV_CODE_invalid_vm_config},
    {"InvalidController", PV_CODE_invalid_vm_config},
    {"DeviceUnsupportedForVmPlatform", PV_CODE_not_supported},
    {"DeviceHotPlugNotSupported", PV_CODE_vm_running},
    {"FileAlreadyExists", PV_CODE_disk_exists},
    {"FileNotFound", PV_CODE_unknown_disk},
    {"NoDiskSpace", PV_CODE_insufficient_storage},
    {"InvalidDatastore", PV_CODE_unknown_datastore},
};

const char *pv_soap_fault_code(const char *fault_type, int *err_class)
{
    for (size_t i = 0; fault_type && i < sizeof fault_table / sizeof fault_table[0]; i++)
        if (strcmp(fault_table[i].type, fault_type) == 0) {
            if (err_class)
                *err_class = pv_code_row(fault_table[i].code)->err;
            return pv_code_row(fault_table[i].code)->code;
        }
    if (err_class)
        *err_class = pv_code_row(PV_CODE_soap_fault)->err;
    return pv_code_row(PV_CODE_soap_fault)->code;
}

int pv_soap_fault_error(const char *type, const char *message, struct pv_error *err)
{
    int cls;
    const char *code = pv_soap_fault_code(type, &cls);

    (void)cls;
    if (message && *message)
        return pv_fail_named(err, code, "%s", message);
    return pv_fail_named(err, code, "the endpoint answered with a %s fault",
                        type && *type ? type : "SOAP");
}

/* The fault type named in a <detail>: its first element's xsi:type, else
 * that element's name less a "Fault" suffix (vSphere's TypeFault wrapper). */
static const char *detail_type(xmlNodePtr detail, char *buf, size_t size)
{
    xmlNodePtr d = pv_xml_child(detail, NULL, NULL);
    size_t n;

    if (!d)
        return NULL;
    if (pv_xml_xsi_type(d, buf, size))
        return buf;
    snprintf(buf, size, "%s", (const char *)d->name);
    n = strlen(buf);
    if (n > 5 && strcmp(buf + n - 5, "Fault") == 0 && strcmp(buf, "InsufficientResourcesFault") != 0)
        buf[n - 5] = '\0';
    return buf;
}

static int fault_error(xmlNodePtr fault, const char *ns, struct pv_error *err)
{
    char type[128] = "", msg[384] = "";
    xmlNodePtr detail, reason;

    if (strcmp(ns, PV_SOAP12_NS) == 0) {
        reason = pv_xml_child(pv_xml_child(fault, "Reason", ns), "Text", ns);
        detail = pv_xml_child(fault, "Detail", ns);
        pv_xml_text(reason, msg, sizeof msg);
        if (!detail_type(detail, type, sizeof type)) { /* the Subcode's value, e.g. w:InvalidSelectors */
            xmlNodePtr v = pv_xml_child(pv_xml_child(pv_xml_child(fault, "Code", ns), "Subcode", ns), "Value", ns);
            if (pv_xml_text(v, type, sizeof type) && strchr(type, ':'))
                memmove(type, strchr(type, ':') + 1, strlen(strchr(type, ':') + 1) + 1);
        }
    } else {
        /* SOAP 1.1: faultstring and detail are unqualified */
        pv_xml_text(pv_xml_child(fault, "faultstring", NULL), msg, sizeof msg);
        detail = pv_xml_child(fault, "detail", NULL);
        detail_type(detail, type, sizeof type);
    }
    return pv_soap_fault_error(type[0] ? type : NULL, msg, err);
}

int pv_soap_parse(const char *xml, size_t len, long http_status, struct pv_soap_resp **out,
                  struct pv_error *err)
{
    return pv_soap_parse_ex(xml, len, http_status, 0, out, err);
}

int pv_soap_parse_ex(const char *xml, size_t len, long http_status, int flags,
                     struct pv_soap_resp **out, struct pv_error *err)
{
    xmlNodePtr fault;
    struct pv_soap_resp *r;
    xmlDocPtr doc;
    xmlNodePtr root, body;
    const char *ns;
    int rc;

    *out = NULL;
    pthread_once(&xml_once, xml_setup);
    if (!xml || len == 0 || len > (size_t)INT32_MAX)
        return pv_fail(err, bad_response, "empty answer (HTTP %ld)", http_status);
    doc = xmlReadMemory(xml, (int)len, "response.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        const xmlError *xe = xmlGetLastError();
        rc = pv_fail(err, bad_response,
                          "the answer (HTTP %ld) is not well-formed XML%s%.*s", http_status,
                          xe && xe->message ? ": " : "", xe && xe->message ? (int)strcspn(xe->message, "\n") : 0,
                          xe && xe->message ? xe->message : "");
        xmlResetLastError();
        return rc;
    }
    if (doc->intSubset || doc->extSubset) {
        xmlFreeDoc(doc);
        return pv_fail(err, bad_response, "the answer carries a DTD; refused");
    }
    root = xmlDocGetRootElement(doc);
    ns = root && root->ns && root->ns->href ? (const char *)root->ns->href : "";
    if (!root || strcmp((const char *)root->name, "Envelope") != 0 ||
        (strcmp(ns, PV_SOAP11_NS) != 0 && strcmp(ns, PV_SOAP12_NS) != 0)) {
        xmlFreeDoc(doc);
        return pv_fail(err, bad_response,
                            "the answer (HTTP %ld) is not a SOAP envelope", http_status);
    }
    body = pv_xml_child(root, "Body", ns);
    if (!body) {
        xmlFreeDoc(doc);
        return pv_fail(err, bad_response, "the SOAP answer has no Body");
    }
    fault = pv_xml_child(body, "Fault", ns);
    if (fault && !(flags & PV_SOAP_KEEP_FAULT)) {
        rc = fault_error(fault, ns, err);
        xmlFreeDoc(doc);
        return rc;
    }
    if (!fault && (http_status < 200 || http_status >= 300)) {
        xmlFreeDoc(doc);
        return pv_fail(err, http_error,
                            "the endpoint answered HTTP %ld without a SOAP fault", http_status);
    }
    r = calloc(1, sizeof *r);
    if (!r) {
        xmlFreeDoc(doc);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    r->doc = doc;
    r->body = body;
    r->payload = pv_xml_child(body, NULL, NULL);
    r->http_status = http_status;
    r->fault = fault;
    *out = r;
    return 0;
}

void pv_soap_resp_free(struct pv_soap_resp *r)
{
    if (!r)
        return;
    xmlFreeDoc(r->doc);
    free(r);
}
