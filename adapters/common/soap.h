/* soap.h -- a small SOAP client over libcurl and libxml2, shared by the
 * adapters that speak SOAP: vcenter (vSphere Web Services, SOAP 1.1 on /sdk)
 * and hyperv-wmi (WS-Management, SOAP 1.2 on /wsman).
 *
 * Three parts, each usable alone:
 *   - a session (struct pv_soap) on one lib/httpc session: one reused curl
 *     handle, so TCP and TLS are set up once (and NTLM, when chosen,
 *     authenticates that connection once); POSTs with the configured
 *     Content-Type and SOAPAction;
 *     the session cookie named in the options kept from Set-Cookie and sent
 *     back (quoted or not, with or without attributes); TLS verified against
 *     a pinned PEM, a CA file or the system CAs, and skipped only with
 *     `insecure`; connect and total timeouts.
 *   - an envelope writer (struct pv_soap_writer) over libxml2's xmlwriter:
 *     text is always escaped by libxml2, never pasted.
 *   - a response parser (pv_soap_parse): libxml2 with no network and no DTD
 *     (a document with one is refused, so no entity can expand), the Body
 *     found by the envelope's namespace URI (1.1 or 1.2), a Fault turned into
 *     a struct pv_error whose code comes from the fault type in <detail>.
 *     A protocol whose faults need reading of its own (WS-Management: the
 *     Subcode and f:WSManFault) takes the raw answer (pv_soap_post) and
 *     parses it with PV_SOAP_KEEP_FAULT, which hands the Fault back.
 *
 * Errors (struct pv_error, adapters/adapter.h): transport failures are
 * PV_EUNREACHABLE "peer_unreachable"/"timeout" or PV_EPEER
 * "tls_verify_failed"; a response that is not a well-formed envelope is
 * PV_EPEER "bad_response"; a fault carries a stable code (see
 * pv_soap_fault_code) and the faultstring as its message.
 *
 * Element helpers (pv_xml_*) match elements by local name and, where a
 * namespace URI is given, by that URI -- never by prefix; xsi:type is read
 * through the XML Schema instance namespace URI whatever prefix it has.
 */
#ifndef PV_SOAP_H
#define PV_SOAP_H

#include <stddef.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include "adapters/adapter.h"

#define PV_SOAP11_NS "http://schemas.xmlsoap.org/soap/envelope/"
#define PV_SOAP12_NS "http://www.w3.org/2003/05/soap-envelope"
#define PV_XSI_NS "http://www.w3.org/2001/XMLSchema-instance"
#define PV_XSD_NS "http://www.w3.org/2001/XMLSchema"

#define PV_SOAP_MAX_RESPONSE ((size_t)256 << 20) /* a lying peer does not fill our memory */

/* ---- session ------------------------------------------------------------ */

struct pv_soap_opts {
    const char *url;            /* endpoint, http:// or https:// */
    const char *content_type;   /* NULL: "text/xml; charset=utf-8" */
    const char *soap_action;    /* NULL: no SOAPAction header */
    const char *cookie_name;    /* session cookie to keep, e.g. "vmware_soap_session"; NULL: none */
    const char *username;       /* HTTP Basic auth (WS-Man); NULL: none.  Never logged. */
    const char *password;
    int insecure;               /* skip TLS verification: only when the user said so */
    const char *ca_pem;         /* pinned certificate or CA (PEM); wins over ca_file */
    const char *ca_file;        /* CA bundle file; NULL and no ca_pem: system CAs */
    int connect_timeout_ms;     /* 0: 5000 */
    int timeout_ms;             /* per call; 0: 30000 */
    int auth_ntlm;              /* with username: NTLM (CURLAUTH_NTLM, scheme name "NTLM")
                                   instead of Basic -- WS-Man; see pv_soap_new */
};

struct pv_soap;

/* A parsed response.  `body` is the Body element, `payload` its first element
 * child (NULL for an empty Body).  Owned by the caller: pv_soap_resp_free. */
struct pv_soap_resp {
    xmlDocPtr doc;
    xmlNodePtr body;
    xmlNodePtr payload;
    long http_status;
    xmlNodePtr fault;   /* the Fault element, only with PV_SOAP_KEEP_FAULT; else NULL */
};

int pv_soap_new(const struct pv_soap_opts *o, struct pv_soap **out, struct pv_error *err);
void pv_soap_free(struct pv_soap *s);   /* NULL: no-op */

/* POST one envelope; *out gets the parsed response of a 2xx answer.  A fault
 * (any status) or a non-2xx answer is an error.  timeout_ms 0: the
 * session's.  Strings are copied; nothing is logged. */
int pv_soap_call(struct pv_soap *s, const char *envelope, size_t len, int timeout_ms,
                 struct pv_soap_resp **out, struct pv_error *err);

/* POST one envelope and hand back the raw answer, unparsed: *body
 * (malloc'd, NUL-terminated, caller frees; NULL when empty) and its HTTP
 * status.  Transport failures, 401/403 and an answer that is not 2xx and has
 * no body are errors as in pv_soap_call; anything else is the caller's to
 * parse (WS-Man reads its own fault detail through pv_soap_parse_ex). */
int pv_soap_post(struct pv_soap *s, const char *envelope, size_t len, int timeout_ms,
                 long *status, char **body, size_t *body_len, struct pv_error *err);

/* The session cookie as "name=value" ("" when none); forget it (a new login
 * follows). */
const char *pv_soap_cookie(const struct pv_soap *s);
void pv_soap_forget_cookie(struct pv_soap *s);

/* One "Set-Cookie:" header line (or its value) -> "name=value" in out when
 * the cookie's name is `name`; returns 1 when it matched.  Exposed for tests. */
int pv_soap_parse_set_cookie(const char *line, size_t len, const char *name, char *out,
                             size_t size);

/* ---- envelopes ------------------------------------------------------------ */

/* A writer positioned inside <soapenv:Body> (SOAP 1.1, or 1.2 when soap12)
 * after pv_soap_writer_begin; with_header opens a Header first, which the
 * caller fills and closes with pv_soap_writer_body().  Errors are sticky:
 * any failure makes pv_soap_writer_finish fail.  Declares xsi and xsd. */
struct pv_soap_writer {
    xmlBufferPtr buf;
    xmlTextWriterPtr w;
    int failed;
    int in_header;
};

int pv_soap_writer_begin(struct pv_soap_writer *sw, int soap12, int with_header,
                         struct pv_error *err);
/* The same, declaring further prefixes on the Envelope: ns is a NULL-ended
 * list of prefix, URI pairs ({"a", WSA_NS, "w", WSMAN_NS, NULL}), so that
 * elements below can be written as "a:To" without redeclaring them. */
int pv_soap_writer_begin_ns(struct pv_soap_writer *sw, int soap12, int with_header,
                            const char *const *ns, struct pv_error *err);
void pv_soap_writer_body(struct pv_soap_writer *sw);            /* ends Header, opens Body */
void pv_soap_w_start(struct pv_soap_writer *sw, const char *name, const char *ns); /* ns may be NULL */
void pv_soap_w_attr(struct pv_soap_writer *sw, const char *name, const char *value);
void pv_soap_w_xsi_type(struct pv_soap_writer *sw, const char *type);
void pv_soap_w_end(struct pv_soap_writer *sw);
void pv_soap_w_text(struct pv_soap_writer *sw, const char *name, const char *text);
void pv_soap_w_int(struct pv_soap_writer *sw, const char *name, long long v);
/* <name type="TYPE">VALUE</name>: a vSphere managed object reference */
void pv_soap_w_moref(struct pv_soap_writer *sw, const char *name, const char *type,
                     const char *value);
/* Close everything and hand over the text (*xml malloc'd, caller frees). */
int pv_soap_writer_finish(struct pv_soap_writer *sw, char **xml, size_t *len,
                          struct pv_error *err);
void pv_soap_writer_abort(struct pv_soap_writer *sw);

/* ---- responses -------------------------------------------------------------- */

/* Parse an answer; a Fault in it becomes *err (and no *out). */
int pv_soap_parse(const char *xml, size_t len, long http_status, struct pv_soap_resp **out,
                  struct pv_error *err);
/* flags for pv_soap_parse_ex */
#define PV_SOAP_KEEP_FAULT 1  /* a Fault is returned (rc 0, resp->fault set, whatever the
                                 HTTP status) for the caller to read its detail */
int pv_soap_parse_ex(const char *xml, size_t len, long http_status, int flags,
                     struct pv_soap_resp **out, struct pv_error *err);
void pv_soap_resp_free(struct pv_soap_resp *r);   /* NULL: no-op */

/* Fault type ("InvalidLogin", "NotAuthenticated" ...) -> stable code and
 * class; unknown types give "soap_fault" / PV_EPEER. */
const char *pv_soap_fault_code(const char *fault_type, int *err_class);

/* Fill *err from a fault element: `type` is its type name, `message` the
 * fault's text.  Used for SOAP faults and for faults nested in results
 * (vSphere's TaskInfo.error). */
int pv_soap_fault_error(const char *type, const char *message, struct pv_error *err);

/* ---- element helpers ---------------------------------------------------------- */

/* First element child (or next element sibling) with that local name, in
 * namespace ns when ns is not NULL; local NULL: any element. */
xmlNodePtr pv_xml_child(xmlNodePtr n, const char *local, const char *ns);
xmlNodePtr pv_xml_next(xmlNodePtr n, const char *local, const char *ns);
/* A path of local names below n, separated by '/', e.g.
 * pv_xml_path(n, "returnval/about/apiType"); NULL when a step is missing. */
xmlNodePtr pv_xml_path(xmlNodePtr n, const char *path);
/* The local part of the xsi:type attribute (found by namespace URI), or
 * NULL; written into buf. */
const char *pv_xml_xsi_type(xmlNodePtr n, char *buf, size_t size);
/* Text content into buf (truncated, always terminated); returns buf, or NULL
 * when n is NULL. */
const char *pv_xml_text(xmlNodePtr n, char *buf, size_t size);
/* Text content, malloc'd (caller frees with free()); NULL when n is NULL. */
char *pv_xml_text_dup(xmlNodePtr n);
/* An attribute without namespace into buf, or NULL. */
const char *pv_xml_attr(xmlNodePtr n, const char *name, char *buf, size_t size);
/* Integer text; dflt when absent or not a number. */
long long pv_xml_int(xmlNodePtr n, long long dflt);

#endif
