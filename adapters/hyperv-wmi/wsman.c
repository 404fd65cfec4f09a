/* wsman.c -- the WS-Management client of the hyperv adapter (see wsman.h).
 *
 * Decisions worth knowing:
 *   - The HTTP session, TLS and the envelope parser are the shared SOAP
 *     layer's (adapters/common/soap.c); this file adds the WS-Addressing
 *     header, the three operations, and WS-Man's own fault detail, which it
 *     reads itself (pv_soap_parse_ex with PV_SOAP_KEEP_FAULT) because the
 *     code a WS-Man client needs is in the SOAP 1.2 Subcode and in
 *     f:WSManFault, not in a typed detail element as vSphere has it.
 *   - Enumerations are always optimized (w:OptimizeEnumeration with
 *     w:MaxElements), so a small result costs one round trip, and pulled in
 *     batches of max_elements; a Pull that brings nothing and no
 *     EndOfSequence is allowed (WinRM does that when its OperationTimeout
 *     passes), but only a bounded number of times.  An enumeration that
 *     fails half way is Released, so the service does not keep its context.
 *   - MessageIDs are fresh random uuids; a reply whose RelatesTo names
 *     another message is refused (a proxy or a confused peer).
 *   - Get and Enumerate are sent once more when the connection dies
 *     unanswered; Pull and Invoke never are (see call()).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include "adapters/hyperv-wmi/wsman.h"

#define MAX_ENVELOPE 512000     /* what we accept back; WinRM's default MaxEnvelopeSizekb is 500 */
#define MAX_PULLS 100000        /* a runaway enumeration ends here */
#define MAX_EMPTY_PULLS 50

struct pv_wsman {
    struct pv_soap *soap;
    char *url;
    int timeout_ms;
    int max_elements;
    unsigned long round_trips;
};

static const char *const envelope_ns[] = {
    "a", PV_WSA_NS, "n", PV_WSEN_NS, "w", PV_WSMAN_NS, NULL,
};

/* ---- session ------------------------------------------------------------------ */

int pv_wsman_new(const struct pv_wsman_opts *o, struct pv_wsman **out, struct pv_error *err)
{
    struct pv_soap_opts so = {0};
    struct pv_wsman *w;
    int rc;

    *out = NULL;
    w = calloc(1, sizeof *w);
    if (!w || !(w->url = strdup(o->url ? o->url : ""))) {
        free(w);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    w->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
    w->max_elements = o->max_elements > 0 ? o->max_elements : 100;
    so.url = o->url;
    so.content_type = "application/soap+xml;charset=UTF-8";
    so.username = o->username;
    so.password = o->password;
    so.auth_ntlm = o->ntlm;
    so.insecure = o->insecure;
    so.ca_pem = o->ca_pem;
    so.ca_file = o->ca_file;
    so.timeout_ms = w->timeout_ms;
    rc = pv_soap_new(&so, &w->soap, err);
    if (rc) {
        pv_wsman_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

void pv_wsman_free(struct pv_wsman *w)
{
    if (!w)
        return;
    pv_soap_free(w->soap);
    free(w->url);
    free(w);
}

unsigned long pv_wsman_round_trips(const struct pv_wsman *w)
{
    return w ? w->round_trips : 0;
}

/* ---- envelopes ------------------------------------------------------------------ */

static void new_uuid(char *out, size_t size)
{
    unsigned char b[16];

    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
        /* no entropy source: still unique enough for a MessageID */
        static unsigned long counter;
        unsigned long t = (unsigned long)time(NULL) ^ (unsigned long)clock();
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)((t >> (i % 8 * 8)) ^ (++counter * 131u) ^ i);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, size,
             "uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
             b[13], b[14], b[15]);
}

static void w_must(struct pv_soap_writer *sw, const char *name, const char *text)
{
    pv_soap_w_start(sw, name, NULL);
    pv_soap_w_attr(sw, "soapenv:mustUnderstand", "true");
    if (xmlTextWriterWriteString(sw->w, BAD_CAST(text ? text : "")) < 0)
        sw->failed = 1;
    pv_soap_w_end(sw);
}

static void w_selectors(struct pv_soap_writer *sw, const struct pv_wsman_selector *sel, size_t n)
{
    pv_soap_w_start(sw, "w:SelectorSet", NULL);
    for (size_t i = 0; i < n; i++) {
        pv_soap_w_start(sw, "w:Selector", NULL);
        pv_soap_w_attr(sw, "Name", sel[i].name);
        if (xmlTextWriterWriteString(sw->w, BAD_CAST(sel[i].value ? sel[i].value : "")) < 0)
            sw->failed = 1;
        pv_soap_w_end(sw);
    }
    pv_soap_w_end(sw);
}

int pv_wsman_envelope(const char *to, const char *resource_uri, const char *action,
                      const struct pv_wsman_selector *sel, size_t nsel, int max_envelope,
                      int timeout_ms, pv_wsman_body_fn body_fn, void *ud, char *message_id,
                      char **xml, size_t *len, struct pv_error *err)
{
    struct pv_soap_writer sw;
    char num[32], timeout[48];
    int rc, op_ms;

    rc = pv_soap_writer_begin_ns(&sw, 1, 1, envelope_ns, err);
    if (rc)
        return rc;
    new_uuid(message_id, 48);
    /* the service answers before our transport gives up */
    op_ms = timeout_ms > 2000 ? timeout_ms - 1000 : timeout_ms > 0 ? timeout_ms : 30000;
    snprintf(timeout, sizeof timeout, "PT%d.%03dS", op_ms / 1000, op_ms % 1000);
    snprintf(num, sizeof num, "%d", max_envelope > 0 ? max_envelope : MAX_ENVELOPE);
    pv_soap_w_text(&sw, "a:To", to);
    w_must(&sw, "w:ResourceURI", resource_uri);
    pv_soap_w_start(&sw, "a:ReplyTo", NULL);
    w_must(&sw, "a:Address", PV_WSA_ANONYMOUS);
    pv_soap_w_end(&sw);
    w_must(&sw, "a:Action", action);
    w_must(&sw, "w:MaxEnvelopeSize", num);
    pv_soap_w_text(&sw, "a:MessageID", message_id);
    pv_soap_w_start(&sw, "w:Locale", NULL);
    pv_soap_w_attr(&sw, "xml:lang", "en-US");
    pv_soap_w_attr(&sw, "soapenv:mustUnderstand", "false");
    pv_soap_w_end(&sw);
    pv_soap_w_text(&sw, "w:OperationTimeout", timeout);
    if (nsel)
        w_selectors(&sw, sel, nsel);
    pv_soap_writer_body(&sw);
    if (body_fn)
        body_fn(&sw, ud);
    return pv_soap_writer_finish(&sw, xml, len, err);
}

/* ---- faults ------------------------------------------------------------------------ */

static const struct {
    const char *subcode;
    enum pv_code code; /* its class is the code's */
} fault_table[] = {
    {"DestinationUnreachable", PV_CODE_destination_unreachable},
    {"ActionNotSupported", PV_CODE_action_not_supported},
    {"InvalidSelectors", PV_CODE_invalid_selectors},
    {"CannotProcessFilter", PV_CODE_cannot_process_filter},
    {"FilterDialectRequestedUnavailable", PV_CODE_filter_dialect_unavailable},
    {"InvalidEnumerationContext", PV_CODE_invalid_enumeration_context},
    {"AccessDenied", PV_CODE_access_denied},
    {"EncodingLimit", PV_CODE_encoding_limit},
    {"SchemaValidationError", PV_CODE_schema_validation_error},
    {"TimedOut", PV_CODE_timed_out},
    {"MessageInformationHeaderRequired", PV_CODE_message_information_header_required},
    {"InvalidMessageInformationHeader", PV_CODE_invalid_message_information_header},
    {"InternalError", PV_CODE_internal_error},
    {"QuotaLimit", PV_CODE_quota_limit},
    {"Concurrency", PV_CODE_concurrency},
    {"AlreadyExists", PV_CODE_already_exists},
    {"UnsupportedFeature", PV_CODE_unsupported_feature},
    {"InvalidParameter", PV_CODE_invalid_parameter},
};

const char *pv_wsman_fault_code(const char *subcode, int *err_class)
{
    for (size_t i = 0; subcode && i < sizeof fault_table / sizeof fault_table[0]; i++)
        if (strcmp(fault_table[i].subcode, subcode) == 0) {
            if (err_class)
                *err_class = pv_code_row(fault_table[i].code)->err;
            return pv_code_row(fault_table[i].code)->code;
        }
    if (err_class)
        *err_class = pv_code_row(PV_CODE_wsman_fault)->err;
    return pv_code_row(PV_CODE_wsman_fault)->code;
}

/* Collapse runs of white space (WinRM messages end in CRLF) in place. */
static void squeeze(char *s)
{
    char *start = s, *d = s;
    int space = 1;

    for (; *s; s++) {
        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            if (!space)
                *d++ = ' ';
            space = 1;
        } else {
            *d++ = *s;
            space = 0;
        }
    }
    if (d > start && d[-1] == ' ')
        d--;
    *d = '\0';
}

static int fault_error(xmlNodePtr fault, struct pv_error *err)
{
    char sub[96] = "", reason[384] = "", msg[384] = "", wcode[32] = "", *colon;
    xmlNodePtr code, v, detail, wf;
    const char *stable;
    int cls;

    code = pv_xml_child(fault, "Code", PV_SOAP12_NS);
    v = pv_xml_child(pv_xml_child(code, "Subcode", PV_SOAP12_NS), "Value", PV_SOAP12_NS);
    if (!v) /* no Subcode: Sender / Receiver is all there is */
        v = pv_xml_child(code, "Value", PV_SOAP12_NS);
    pv_xml_text(v, sub, sizeof sub);
    squeeze(sub);
    colon = strchr(sub, ':');
    if (colon)
        memmove(sub, colon + 1, strlen(colon + 1) + 1);
    pv_xml_text(pv_xml_child(pv_xml_child(fault, "Reason", PV_SOAP12_NS), "Text", PV_SOAP12_NS),
                reason, sizeof reason);
    detail = pv_xml_child(fault, "Detail", PV_SOAP12_NS);
    wf = pv_xml_child(detail, "WSManFault", PV_WSMANFAULT_NS);
    pv_xml_text(pv_xml_child(wf, "Message", PV_WSMANFAULT_NS), msg, sizeof msg);
    pv_xml_attr(wf, "Code", wcode, sizeof wcode);
    squeeze(reason);
    squeeze(msg);
    stable = pv_wsman_fault_code(sub, &cls);
    if (strcmp(wcode, "5") == 0) { /* ERROR_ACCESS_DENIED, whatever the subcode */
        stable = pv_code_row(PV_CODE_access_denied)->code;
    }
    (void)cls;
    return pv_fail_named(err, stable, "%s (WS-Management fault %s%s%s)",
                        msg[0] ? msg : reason[0] ? reason : "the service refused the request",
                        sub[0] ? sub : "unknown", wcode[0] ? ", code " : "", wcode);
}

int pv_wsman_parse(const char *xml, size_t len, long http_status, const char *message_id,
                   struct pv_soap_resp **out, struct pv_error *err)
{
    struct pv_soap_resp *r = NULL;
    xmlNodePtr root, header, rel;
    char relates[96];
    int rc;

    *out = NULL;
    rc = pv_soap_parse_ex(xml, len, http_status, PV_SOAP_KEEP_FAULT, &r, err);
    if (rc)
        return rc;
    root = xmlDocGetRootElement(r->doc);
    if (!root->ns || strcmp((const char *)root->ns->href, PV_SOAP12_NS) != 0) {
        pv_soap_resp_free(r);
        return pv_fail(err, bad_response,
                            "the answer is a SOAP 1.1 envelope; WS-Management speaks SOAP 1.2");
    }
    if (r->fault) {
        rc = fault_error(r->fault, err);
        pv_soap_resp_free(r);
        return rc;
    }
    header = pv_xml_child(root, "Header", PV_SOAP12_NS);
    rel = pv_xml_child(header, "RelatesTo", PV_WSA_NS);
    if (message_id && rel && pv_xml_text(rel, relates, sizeof relates)) {
        squeeze(relates);
        if (strcasecmp(relates, message_id) != 0) {
            pv_soap_resp_free(r);
            return pv_fail(err, bad_response,
                                "the answer relates to message %s, not to ours", relates);
        }
    }
    *out = r;
    return 0;
}

/* ---- one request ------------------------------------------------------------------ */

/* One request.  Reads that change nothing (Get, the first Enumerate) are
 * sent once more when the connection died without an answer -- WinRM and
 * proxies close idle keep-alive connections; a Pull or an Invoke never is,
 * since the service may have acted on it. */
static int call_once(struct pv_wsman *w, const char *resource_uri, const char *action,
                     const struct pv_wsman_selector *sel, size_t nsel, pv_wsman_body_fn body_fn,
                     void *ud, struct pv_soap_resp **out, struct pv_error *err);

static int call(struct pv_wsman *w, const char *resource_uri, const char *action,
                const struct pv_wsman_selector *sel, size_t nsel, pv_wsman_body_fn body_fn,
                void *ud, struct pv_soap_resp **out, struct pv_error *err)
{
    struct pv_error e = {0};
    int rc = call_once(w, resource_uri, action, sel, nsel, body_fn, ud, out, &e);

    if (rc == PV_EUNREACHABLE && pv_error_is(&e, PV_CODE_peer_unreachable) &&
        (strcmp(action, PV_WXF_NS "/Get") == 0 || strcmp(action, PV_WSEN_NS "/Enumerate") == 0))
        rc = call_once(w, resource_uri, action, sel, nsel, body_fn, ud, out, &e);
    if (rc && err)
        *err = e;
    return rc;
}

static int call_once(struct pv_wsman *w, const char *resource_uri, const char *action,
                     const struct pv_wsman_selector *sel, size_t nsel, pv_wsman_body_fn body_fn,
                     void *ud, struct pv_soap_resp **out, struct pv_error *err)
{
    char mid[48], *xml = NULL, *body = NULL;
    size_t len = 0, blen = 0;
    long status = 0;
    int rc;

    *out = NULL;
    rc = pv_wsman_envelope(w->url, resource_uri, action, sel, nsel, MAX_ENVELOPE, w->timeout_ms,
                           body_fn, ud, mid, &xml, &len, err);
    if (rc)
        return rc;
    w->round_trips++;
    rc = pv_soap_post(w->soap, xml, len, 0, &status, &body, &blen, err);
    if (!rc)
        rc = pv_wsman_parse(body, blen, status, mid, out, err);
    free(xml);
    free(body);
    return rc;
}

int pv_wsman_identify(struct pv_wsman *w, char *vendor, size_t vsize, char *version,
                      size_t versize, struct pv_error *err)
{
    struct pv_soap_writer sw;
    struct pv_soap_resp *r = NULL;
    char *xml = NULL, *body = NULL;
    size_t len = 0, blen = 0;
    long status = 0;
    xmlNodePtr id;
    int rc;

    /* Identify has no WS-Addressing header: an empty Header and
     * wsmid:Identify in the Body (DSP0226 11). */
    if ((rc = pv_soap_writer_begin_ns(&sw, 1, 1, envelope_ns, err)))
        return rc;
    pv_soap_writer_body(&sw);
    pv_soap_w_start(&sw, "Identify", PV_WSMID_NS);
    pv_soap_w_end(&sw);
    if ((rc = pv_soap_writer_finish(&sw, &xml, &len, err)))
        return rc;
    w->round_trips++;
    rc = pv_soap_post(w->soap, xml, len, 0, &status, &body, &blen, err);
    if (!rc)
        rc = pv_wsman_parse(body, blen, status, NULL, &r, err);
    free(xml);
    free(body);
    if (rc)
        return rc;
    id = pv_xml_child(r->body, "IdentifyResponse", PV_WSMID_NS);
    if (!id) {
        pv_soap_resp_free(r);
        return pv_fail(err, bad_response,
                            "%s answered Identify without an IdentifyResponse: not a WS-Management service",
                            w->url);
    }
    if (vendor)
        pv_xml_text(pv_xml_child(id, "ProductVendor", PV_WSMID_NS), vendor, vsize);
    if (version)
        pv_xml_text(pv_xml_child(id, "ProductVersion", PV_WSMID_NS), version, versize);
    pv_soap_resp_free(r);
    return 0;
}

int pv_wsman_get(struct pv_wsman *w, const char *resource_uri, const struct pv_wsman_selector *sel,
                 size_t nsel, struct pv_soap_resp **out, xmlNodePtr *inst, struct pv_error *err)
{
    int rc = call(w, resource_uri, PV_WXF_NS "/Get", sel, nsel, NULL, NULL, out, err);

    *inst = NULL;
    if (rc)
        return rc;
    *inst = (*out)->payload;
    if (!*inst) {
        pv_soap_resp_free(*out);
        *out = NULL;
        return pv_fail(err, bad_response, "the Get answer has an empty Body");
    }
    return 0;
}

/* ---- enumeration ------------------------------------------------------------------ */

struct enum_body {
    const char *wql;
    const char *context;
    int max;
};

static void w_enumerate(struct pv_soap_writer *sw, void *ud)
{
    const struct enum_body *b = ud;

    pv_soap_w_start(sw, "n:Enumerate", NULL);
    pv_soap_w_start(sw, "w:OptimizeEnumeration", NULL);
    pv_soap_w_end(sw);
    pv_soap_w_int(sw, "w:MaxElements", b->max);
    if (b->wql) {
        pv_soap_w_start(sw, "w:Filter", NULL);
        pv_soap_w_attr(sw, "Dialect", PV_WSMAN_WQL);
        if (xmlTextWriterWriteString(sw->w, BAD_CAST b->wql) < 0)
            sw->failed = 1;
        pv_soap_w_end(sw);
    }
    pv_soap_w_end(sw);
}

static void w_pull(struct pv_soap_writer *sw, void *ud)
{
    const struct enum_body *b = ud;

    pv_soap_w_start(sw, "n:Pull", NULL);
    pv_soap_w_text(sw, "n:EnumerationContext", b->context);
    pv_soap_w_int(sw, "n:MaxElements", b->max);
    pv_soap_w_end(sw);
}

static void w_release(struct pv_soap_writer *sw, void *ud)
{
    const struct enum_body *b = ud;

    pv_soap_w_start(sw, "n:Release", NULL);
    pv_soap_w_text(sw, "n:EnumerationContext", b->context);
    pv_soap_w_end(sw);
}

/* Room for one more item / document (arrays of pointers, doubled as needed). */
static int push_item(struct pv_wsman_items *it, xmlNodePtr n)
{
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 16;
        xmlNodePtr *q = realloc(it->item, cap * sizeof(xmlNodePtr)); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
        if (!q)
            return -1;
        it->item = q;
        it->cap = cap;
    }
    it->item[it->n++] = n;
    return 0;
}

static int push_doc(struct pv_wsman_items *it, xmlDocPtr d)
{
    if (it->ndocs == it->capdocs) {
        size_t cap = it->capdocs ? it->capdocs * 2 : 8;
        xmlDocPtr *q = realloc(it->docs, cap * sizeof(xmlDocPtr)); /* NOLINT(bugprone-sizeof-expression): an array of pointers */
        if (!q)
            return -1;
        it->docs = q;
        it->capdocs = cap;
    }
    it->docs[it->ndocs++] = d;
    return 0;
}

/* Take the response's items (children of `items`) and its document. */
static int take_items(struct pv_wsman_items *it, struct pv_soap_resp *r, xmlNodePtr items,
                      size_t *taken, struct pv_error *err)
{
    *taken = 0;
    /* the document first: the items point into it */
    if (push_doc(it, r->doc))
        return pv_fail(err, out_of_memory, "out of memory");
    r->doc = NULL;
    for (xmlNodePtr n = pv_xml_child(items, NULL, NULL); n; n = pv_xml_next(n, NULL, NULL)) {
        xmlNodePtr inst = n;
        /* EnumerateObjectAndEPR wraps each in w:Item: the object is its first child */
        if (strcmp((const char *)n->name, "Item") == 0 && n->ns &&
            strcmp((const char *)n->ns->href, PV_WSMAN_NS) == 0)
            inst = pv_xml_child(n, NULL, NULL);
        if (!inst)
            continue;
        if (push_item(it, inst))
            return pv_fail(err, out_of_memory, "out of memory");
        (*taken)++;
    }
    return 0;
}

int pv_wsman_enumerate(struct pv_wsman *w, const char *resource_uri, const char *wql,
                       struct pv_wsman_items *out, struct pv_error *err)
{
    struct enum_body b = {wql, NULL, w->max_elements};
    struct pv_soap_resp *r = NULL;
    char *context = NULL;
    xmlNodePtr resp, items;
    int rc, eos, empty = 0;
    size_t taken;

    rc = call(w, resource_uri, PV_WSEN_NS "/Enumerate", NULL, 0, w_enumerate, &b, &r, err);
    if (rc)
        return rc;
    resp = pv_xml_child(r->body, "EnumerateResponse", PV_WSEN_NS);
    if (!resp) {
        rc = pv_fail(err, bad_response, "the Enumerate answer has no EnumerateResponse");
        goto out;
    }
    context = pv_xml_text_dup(pv_xml_child(resp, "EnumerationContext", PV_WSEN_NS));
    eos = pv_xml_child(resp, "EndOfSequence", PV_WSMAN_NS) != NULL;
    items = pv_xml_child(resp, "Items", PV_WSMAN_NS);
    if (items && (rc = take_items(out, r, items, &taken, err)))
        goto out;
    for (int pulls = 0; !eos; pulls++) {
        if (!context || !context[0] || pulls >= MAX_PULLS || empty > MAX_EMPTY_PULLS) {
            rc = pv_fail(err, bad_response,
                              context && context[0] ? "the enumeration does not end"
                                                    : "the enumeration has no context and no EndOfSequence");
            goto out;
        }
        pv_soap_resp_free(r);
        r = NULL;
        b.context = context;
        rc = call(w, resource_uri, PV_WSEN_NS "/Pull", NULL, 0, w_pull, &b, &r, err);
        if (rc) {
            /* an invalid or expired context needs no Release, nor can a
             * peer that does not answer take one */
            if (rc == PV_EUNREACHABLE || (err && pv_error_is(err, PV_CODE_invalid_enumeration_context))) {
                free(context);
                context = NULL;
            }
            goto out;
        }
        resp = pv_xml_child(r->body, "PullResponse", PV_WSEN_NS);
        if (!resp) {
            rc = pv_fail(err, bad_response, "the Pull answer has no PullResponse");
            goto out;
        }
        eos = pv_xml_child(resp, "EndOfSequence", PV_WSEN_NS) != NULL;
        if (pv_xml_child(resp, "EnumerationContext", PV_WSEN_NS)) {
            free(context);
            context = pv_xml_text_dup(pv_xml_child(resp, "EnumerationContext", PV_WSEN_NS));
        }
        taken = 0;
        items = pv_xml_child(resp, "Items", PV_WSEN_NS);
        if (items && (rc = take_items(out, r, items, &taken, err)))
            goto out;
        empty = taken ? 0 : empty + 1;
    }
    free(context);
    context = NULL;
out:
    pv_soap_resp_free(r);
    if (rc && context && context[0]) {
        struct pv_soap_resp *rr = NULL;
        b.context = context;
        call(w, resource_uri, PV_WSEN_NS "/Release", NULL, 0, w_release, &b, &rr, NULL);
        pv_soap_resp_free(rr);
    }
    free(context);
    return rc;
}

void pv_wsman_items_free(struct pv_wsman_items *it)
{
    if (!it)
        return;
    for (size_t i = 0; i < it->ndocs; i++)
        xmlFreeDoc(it->docs[i]);
    free(it->docs);
    free(it->item);
    memset(it, 0, sizeof *it);
}

/* ---- invoke ------------------------------------------------------------------------ */

struct invoke_body {
    const char *resource_uri;
    const char *method;
    const struct pv_wsman_param *p;
    size_t n;
};

static void w_epr(struct pv_soap_writer *sw, const char *uri, const struct pv_wsman_selector *sel,
                  size_t nsel)
{
    pv_soap_w_text(sw, "a:Address", PV_WSA_ANONYMOUS);
    pv_soap_w_start(sw, "a:ReferenceParameters", NULL);
    pv_soap_w_text(sw, "w:ResourceURI", uri);
    w_selectors(sw, sel, nsel);
    pv_soap_w_end(sw);
}

static void w_invoke(struct pv_soap_writer *sw, void *ud)
{
    const struct invoke_body *b = ud;
    char el[160];

    snprintf(el, sizeof el, "p:%s_INPUT", b->method);
    pv_soap_w_start(sw, el, NULL);
    pv_soap_w_attr(sw, "xmlns:p", b->resource_uri);
    for (size_t i = 0; i < b->n; i++) {
        const struct pv_wsman_param *p = &b->p[i];
        snprintf(el, sizeof el, "p:%s", p->name);
        switch (p->kind) {
        case PV_WSMAN_P_TEXT:
            pv_soap_w_text(sw, el, p->text);
            break;
        case PV_WSMAN_P_EPR:
            pv_soap_w_start(sw, el, NULL);
            w_epr(sw, p->resource_uri, p->sel, p->nsel);
            pv_soap_w_end(sw);
            break;
        case PV_WSMAN_P_NIL:
            pv_soap_w_start(sw, el, NULL);
            pv_soap_w_attr(sw, "xsi:nil", "true");
            pv_soap_w_end(sw);
            break;
        }
    }
    pv_soap_w_end(sw);
}

int pv_wsman_invoke(struct pv_wsman *w, const char *resource_uri, const char *method,
                    const struct pv_wsman_selector *sel, size_t nsel,
                    const struct pv_wsman_param *params, size_t nparams,
                    struct pv_soap_resp **out, xmlNodePtr *output, long *return_value,
                    struct pv_error *err)
{
    struct invoke_body b = {resource_uri, method, params, nparams};
    char action[400], want[160];
    int rc;

    *output = NULL;
    *return_value = -1;
    if ((size_t)snprintf(action, sizeof action, "%s/%s", resource_uri, method) >= sizeof action ||
        strlen(method) > 100)
        return pv_fail(err, invalid_argument, "method or resource URI too long");
    rc = call(w, resource_uri, action, sel, nsel, w_invoke, &b, out, err);
    if (rc)
        return rc;
    if (!*out)
        return pv_fail(err, internal_error, "no answer to %s", method);
    snprintf(want, sizeof want, "%s_OUTPUT", method);
    *output = pv_xml_child((*out)->body, want, NULL);
    if (!*output) {
        pv_soap_resp_free(*out);
        *out = NULL;
        return pv_fail(err, bad_response, "the answer to %s has no %s", method, want);
    }
    *return_value = (long)pv_wsman_prop_int(*output, "ReturnValue", -1);
    return 0;
}

/* ---- reading instances ------------------------------------------------------ */

xmlNodePtr pv_wsman_prop(xmlNodePtr inst, const char *name)
{
    return pv_xml_child(inst, name, NULL);
}

int pv_wsman_is_nil(xmlNodePtr n)
{
    xmlChar *v;
    int nil;

    if (!n)
        return 1;
    v = xmlGetNsProp(n, BAD_CAST "nil", BAD_CAST PV_XSI_NS);
    nil = v && (strcmp((const char *)v, "true") == 0 || strcmp((const char *)v, "1") == 0);
    xmlFree(v);
    return nil;
}

const char *pv_wsman_prop_text(xmlNodePtr inst, const char *name, char *buf, size_t size)
{
    xmlNodePtr p = pv_wsman_prop(inst, name), inner;

    if (!p || pv_wsman_is_nil(p))
        return NULL;
    inner = pv_xml_child(p, NULL, PV_CIM_NS); /* cim:Datetime, cim:Interval ... */
    return pv_xml_text(inner ? inner : p, buf, size);
}

long long pv_wsman_prop_int(xmlNodePtr inst, const char *name, long long dflt)
{
    xmlNodePtr p = pv_wsman_prop(inst, name);

    if (!p || pv_wsman_is_nil(p))
        return dflt;
    return pv_xml_int(p, dflt);
}

int pv_wsman_epr_parse(xmlNodePtr n, struct pv_wsman_epr *out, struct pv_error *err)
{
    xmlNodePtr rp, ss;

    memset(out, 0, sizeof *out);
    rp = pv_xml_child(n, "ReferenceParameters", PV_WSA_NS);
    if (!rp)
        rp = pv_xml_child(pv_xml_child(n, "EndpointReference", PV_WSA_NS), "ReferenceParameters",
                          PV_WSA_NS);
    if (!rp || !pv_xml_child(rp, "ResourceURI", PV_WSMAN_NS))
        return pv_fail(err, bad_response, "%s is not an endpoint reference",
                            n ? (const char *)n->name : "(nothing)");
    pv_xml_text(pv_xml_child(rp, "ResourceURI", PV_WSMAN_NS), out->resource_uri,
                sizeof out->resource_uri);
    squeeze(out->resource_uri);
    ss = pv_xml_child(rp, "SelectorSet", PV_WSMAN_NS);
    for (xmlNodePtr s = pv_xml_child(ss, "Selector", PV_WSMAN_NS); s;
         s = pv_xml_next(s, "Selector", PV_WSMAN_NS)) {
        if (out->nsel >= PV_WSMAN_MAX_SELECTORS)
            return pv_fail(err, bad_response,
                                "an endpoint reference with more than %d selectors",
                                PV_WSMAN_MAX_SELECTORS);
        if (!pv_xml_attr(s, "Name", out->sel[out->nsel].name, sizeof out->sel[out->nsel].name))
            continue;
        pv_xml_text(s, out->sel[out->nsel].value, sizeof out->sel[out->nsel].value);
        out->nsel++;
    }
    return 0;
}

const char *pv_wsman_epr_selector(const struct pv_wsman_epr *e, const char *name)
{
    for (int i = 0; i < e->nsel; i++)
        if (strcmp(e->sel[i].name, name) == 0)
            return e->sel[i].value;
    return NULL;
}

int pv_wsman_embed(const char *classname, const struct pv_cim_prop *props, size_t n, char **out,
                   struct pv_error *err)
{
    xmlBufferPtr buf = xmlBufferCreate();
    xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
    int bad = 0;

    *out = NULL;
    if (!w) {
        if (buf)
            xmlBufferFree(buf);
        return pv_fail(err, out_of_memory, "out of memory");
    }
    /* no XML declaration: the text is a fragment inside a parameter */
    bad |= xmlTextWriterStartElement(w, BAD_CAST "INSTANCE") < 0;
    bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "CLASSNAME", BAD_CAST classname) < 0;
    for (size_t i = 0; i < n; i++) {
        const char *type = props[i].type ? props[i].type : "string";
        size_t tl = strlen(type);
        int array = tl > 2 && strcmp(type + tl - 2, "[]") == 0;
        char t[32];
        snprintf(t, sizeof t, "%.*s", (int)(array ? tl - 2 : tl), type);
        bad |= xmlTextWriterStartElement(w, BAD_CAST(array ? "PROPERTY.ARRAY" : "PROPERTY")) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "NAME", BAD_CAST props[i].name) < 0;
        bad |= xmlTextWriterWriteAttribute(w, BAD_CAST "TYPE", BAD_CAST t) < 0;
        if (array && props[i].value) { /* DSP0201: <VALUE.ARRAY><VALUE>..</VALUE></VALUE.ARRAY> */
            bad |= xmlTextWriterStartElement(w, BAD_CAST "VALUE.ARRAY") < 0;
            bad |= xmlTextWriterWriteElement(w, BAD_CAST "VALUE", BAD_CAST props[i].value) < 0;
            bad |= xmlTextWriterEndElement(w) < 0;
        } else if (props[i].value) {
            bad |= xmlTextWriterWriteElement(w, BAD_CAST "VALUE", BAD_CAST props[i].value) < 0;
        }
        bad |= xmlTextWriterEndElement(w) < 0;
    }
    bad |= xmlTextWriterEndElement(w) < 0;
    xmlFreeTextWriter(w);
    if (!bad)
        *out = strdup((const char *)xmlBufferContent(buf));
    xmlBufferFree(buf);
    if (!*out)
        return pv_fail(err, envelope_failed,
                            "could not build the embedded %s instance", classname);
    return 0;
}

const char *pv_wsman_embedded_prop(const char *instance_text, const char *name, char *buf,
                                   size_t size)
{
    xmlDocPtr doc;
    xmlNodePtr root;
    const char *found = NULL;

    if (!instance_text || !size)
        return NULL;
    doc = xmlReadMemory(instance_text, (int)strlen(instance_text), NULL, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (root && xmlStrcmp(root->name, BAD_CAST "INSTANCE") == 0) {
        for (xmlNodePtr p = root->children; p && !found; p = p->next) {
            xmlChar *pn;
            if (p->type != XML_ELEMENT_NODE || xmlStrcmp(p->name, BAD_CAST "PROPERTY") != 0)
                continue;
            pn = xmlGetProp(p, BAD_CAST "NAME");
            if (pn && xmlStrcmp(pn, BAD_CAST name) == 0) {
                for (xmlNodePtr v = p->children; v; v = v->next)
                    if (v->type == XML_ELEMENT_NODE && xmlStrcmp(v->name, BAD_CAST "VALUE") == 0) {
                        xmlChar *t = xmlNodeGetContent(v);
                        snprintf(buf, size, "%s", t ? (const char *)t : "");
                        xmlFree(t);
                        found = buf;
                        break;
                    }
            }
            xmlFree(pn);
        }
    }
    xmlFreeDoc(doc);
    return found;
}

int pv_wsman_wmi_path(const char *host, const char *cls, const struct pv_wsman_selector *keys,
                      size_t nkeys, char *out, size_t size)
{
    size_t o;
    int n = snprintf(out, size, "\\\\%s\\root\\virtualization\\v2:%s.", host, cls);

    if (n < 0 || (size_t)n >= size)
        return -1;
    o = (size_t)n;
    for (size_t i = 0; i < nkeys; i++) {
        n = snprintf(out + o, size - o, "%s%s=\"", i ? "," : "", keys[i].name);
        if (n < 0 || (size_t)n >= size - o)
            return -1;
        o += (size_t)n;
        for (const char *v = keys[i].value; *v; v++) {
            if (o + 3 >= size)
                return -1;
            if (*v == '\\' || *v == '"')
                out[o++] = '\\';
            out[o++] = *v;
        }
        if (o + 2 >= size)
            return -1;
        out[o++] = '"';
        out[o] = '\0';
    }
    return 0;
}

const char *pv_wsman_wmi_path_key(const char *path, const char *key, char *buf, size_t size)
{
    const char *p = path ? strchr(path, ':') : NULL;
    size_t kl = key ? strlen(key) : 0;

    if (!path || !size || !kl)
        return NULL;
    p = p && path[0] == '\\' ? p + 1 : path;
    p = strchr(p, '.');
    if (!p)
        return NULL;
    while (*p) {
        const char *eq;
        int match;
        p++; /* past '.' or ',' */
        eq = strchr(p, '=');
        if (!eq || eq[1] != '"')
            return NULL;
        match = (size_t)(eq - p) == kl && strncasecmp(p, key, kl) == 0;
        size_t o = 0;
        for (p = eq + 2; *p && *p != '"'; p++) {
            if (*p == '\\' && p[1])
                p++;
            if (match && o + 1 < size)
                buf[o++] = *p;
        }
        if (*p != '"')
            return NULL;
        if (match) {
            buf[o] = '\0';
            return buf;
        }
        p++;
        if (*p != ',')
            return NULL;
    }
    return NULL;
}
