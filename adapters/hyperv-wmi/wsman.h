/* wsman.h -- a WS-Management client (DSP0226 as Microsoft profiles it in
 * MS-WSMV, i.e. WinRM) for the hyperv adapter, built on the shared SOAP
 * layer (adapters/common/soap.h) for the HTTP session, TLS, timeouts and
 * envelope parsing.
 *
 * What it speaks: SOAP 1.2 envelopes with WS-Addressing 2004/08 headers (To,
 * ResourceURI, ReplyTo, Action, MessageID uuid:..., MaxEnvelopeSize,
 * OperationTimeout, SelectorSet); WS-Transfer Get; WS-Enumeration Enumerate
 * (WQL filter, OptimizeEnumeration + MaxElements) and Pull until
 * EndOfSequence; WMI method Invoke with <Method>_INPUT bodies whose
 * parameters are text, endpoint references or embedded CIM-XML instances.
 *
 * Two decisions a newcomer must know:
 *   - Everything is read by namespace URI and local name, never by prefix.
 *     Instance properties are matched by local name only (their namespace is
 *     the class's resource URI, which differs between Get, Enumerate and
 *     embedded output instances).
 *   - A WS-Man fault (HTTP 500 + s:Fault) becomes a struct pv_error whose
 *     code comes from the fault's Subcode (w:InvalidSelectors ->
 *     "invalid_selectors" ...) and whose message is the f:WSManFault message
 *     with its Windows error number; see pv_wsman_fault_code().
 */
#ifndef PV_WSMAN_H
#define PV_WSMAN_H

#include <stddef.h>
#include "adapters/adapter.h"
#include "adapters/common/soap.h"

#define PV_WSA_NS "http://schemas.xmlsoap.org/ws/2004/08/addressing"
#define PV_WSEN_NS "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
#define PV_WXF_NS "http://schemas.xmlsoap.org/ws/2004/09/transfer"
#define PV_WSMAN_NS "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
#define PV_WSMANFAULT_NS "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
#define PV_WSMID_NS "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"
#define PV_CIM_NS "http://schemas.dmtf.org/wbem/wscim/1/common"
#define PV_WSA_ANONYMOUS "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
#define PV_WSMAN_WQL "http://schemas.microsoft.com/wbem/wsman/1/WQL"
/* Resource URI prefixes of the two WMI namespaces we read; append a class
 * name, or "*" for a WQL enumeration. */
#define PV_WMI_V2 "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/virtualization/v2/"
#define PV_WMI_CIMV2 "http://schemas.microsoft.com/wbem/wsman/1/wmi/root/cimv2/"

#define PV_WSMAN_MAX_SELECTORS 8

struct pv_wsman;

struct pv_wsman_opts {
    const char *url;        /* https://HOST:5986/wsman (http:// only when the user says so) */
    const char *username;   /* borrowed; never logged */
    const char *password;   /* borrowed; never logged */
    int ntlm;               /* NTLM instead of Basic (libcurl CURLAUTH_NTLM) */
    int insecure;
    const char *ca_pem;
    const char *ca_file;
    int timeout_ms;         /* per request; 0: 30000.  OperationTimeout is a little less */
    int max_elements;       /* per Enumerate/Pull batch; 0: 100 */
};

struct pv_wsman_selector {
    const char *name;
    const char *value;
};

/* An endpoint reference as read from a reply (a method's Job or
 * ResultingSystem, an EnumerateEPR item). */
struct pv_wsman_epr {
    char resource_uri[256];
    int nsel;
    struct {
        char name[64];
        char value[256];
    } sel[PV_WSMAN_MAX_SELECTORS];
};

/* Items of an enumeration: instance elements that live in docs. */
struct pv_wsman_items {
    xmlNodePtr *item;
    size_t n, cap;
    xmlDocPtr *docs;
    size_t ndocs, capdocs;
};

enum pv_wsman_pkind {
    PV_WSMAN_P_TEXT = 0,    /* text (an embedded instance is text too: pv_wsman_embed) */
    PV_WSMAN_P_EPR,         /* a reference to resource_uri + selectors */
    PV_WSMAN_P_NIL,         /* xsi:nil="true" */
};

/* One <Method>_INPUT parameter; a name given several times makes an array. */
struct pv_wsman_param {
    const char *name;
    enum pv_wsman_pkind kind;
    const char *text;                       /* TEXT */
    const char *resource_uri;               /* EPR */
    const struct pv_wsman_selector *sel;    /* EPR */
    size_t nsel;                            /* EPR */
};

/* One property of an embedded CIM-XML instance (pv_wsman_embed). */
struct pv_cim_prop {
    const char *name;
    const char *type;       /* CIM type: "string", "uint16", "uint64", "boolean" ...;
                               "string[]": an array of the one value (HostResource) */
    const char *value;      /* NULL: the property without a VALUE (null) */
};

/* ---- session --------------------------------------------------------------- */

int pv_wsman_new(const struct pv_wsman_opts *o, struct pv_wsman **out, struct pv_error *err);
void pv_wsman_free(struct pv_wsman *w);     /* NULL: no-op */
/* HTTP requests sent so far (for benchmarks and tests). */
unsigned long pv_wsman_round_trips(const struct pv_wsman *w);

/* Authenticated wsmid:Identify: checks reachability and credentials; the
 * product vendor and version go to vendor/version when not NULL. */
int pv_wsman_identify(struct pv_wsman *w, char *vendor, size_t vsize, char *version,
                      size_t versize, struct pv_error *err);

/* WS-Transfer Get of one instance; *inst points into *out (free with
 * pv_soap_resp_free). */
int pv_wsman_get(struct pv_wsman *w, const char *resource_uri, const struct pv_wsman_selector *sel,
                 size_t nsel, struct pv_soap_resp **out, xmlNodePtr *inst, struct pv_error *err);

/* Enumerate + Pull until EndOfSequence.  wql NULL: every instance of
 * resource_uri (a class URI); else resource_uri is the namespace's "*" URI
 * and wql the query (SELECT / ASSOCIATORS OF).  Items are appended to *out,
 * which the caller zeroes first and frees with pv_wsman_items_free. */
int pv_wsman_enumerate(struct pv_wsman *w, const char *resource_uri, const char *wql,
                       struct pv_wsman_items *out, struct pv_error *err);
void pv_wsman_items_free(struct pv_wsman_items *it);   /* frees the docs; *it zeroed */

/* Invoke `method` on the instance (resource_uri, sel).  *output is the
 * <method>_OUTPUT element inside *out; *return_value its ReturnValue (-1
 * when absent).  A ReturnValue other than 0 is not an error here: the
 * caller knows what each class's codes mean. */
int pv_wsman_invoke(struct pv_wsman *w, const char *resource_uri, const char *method,
                    const struct pv_wsman_selector *sel, size_t nsel,
                    const struct pv_wsman_param *params, size_t nparams,
                    struct pv_soap_resp **out, xmlNodePtr *output, long *return_value,
                    struct pv_error *err);

/* ---- envelopes (exposed for tests) ---------------------------------------------- */

/* Build a request envelope: action, resource URI, selectors, and the body
 * written by body_fn (may be NULL: empty Body).  *xml malloc'd; message_id
 * (>= 48 bytes) receives the uuid:... sent. */
struct pv_soap_writer;
typedef void (*pv_wsman_body_fn)(struct pv_soap_writer *sw, void *ud);
int pv_wsman_envelope(const char *to, const char *resource_uri, const char *action,
                      const struct pv_wsman_selector *sel, size_t nsel, int max_envelope,
                      int timeout_ms, pv_wsman_body_fn body_fn, void *ud, char *message_id,
                      char **xml, size_t *len, struct pv_error *err);

/* Parse a reply; a fault becomes *err (see pv_wsman_fault_code).  When
 * message_id is not NULL, a RelatesTo that names another message is a
 * bad_response. */
int pv_wsman_parse(const char *xml, size_t len, long http_status, const char *message_id,
                   struct pv_soap_resp **out, struct pv_error *err);

/* Subcode local name ("InvalidSelectors") -> stable code and class;
 * unknown subcodes give "wsman_fault" / PV_EPEER. */
const char *pv_wsman_fault_code(const char *subcode, int *err_class);

/* ---- reading instances ------------------------------------------------------ */

/* The first property element `name` of an instance (any namespace), or NULL. */
xmlNodePtr pv_wsman_prop(xmlNodePtr inst, const char *name);
int pv_wsman_is_nil(xmlNodePtr n);
/* Text of a property (cim:Datetime/cim:Interval unwrapped); NULL when absent
 * or nil. */
const char *pv_wsman_prop_text(xmlNodePtr inst, const char *name, char *buf, size_t size);
long long pv_wsman_prop_int(xmlNodePtr inst, const char *name, long long dflt);
/* An endpoint reference held by n (Address + ReferenceParameters, or an
 * a:EndpointReference child). */
int pv_wsman_epr_parse(xmlNodePtr n, struct pv_wsman_epr *out, struct pv_error *err);
const char *pv_wsman_epr_selector(const struct pv_wsman_epr *e, const char *name);

/* CIM-XML <INSTANCE CLASSNAME=...><PROPERTY NAME TYPE><VALUE>...</INSTANCE>
 * text for an embedded-instance parameter; *out malloc'd. */
int pv_wsman_embed(const char *classname, const struct pv_cim_prop *props, size_t n, char **out,
                   struct pv_error *err);

/* The VALUE of PROPERTY `name` in CIM-XML <INSTANCE> text (an embedded
 * instance a method gives back as a string, e.g. GetVirtualHardDiskSettingData's
 * SettingData); NULL when absent, null or the text is not an INSTANCE. */
const char *pv_wsman_embedded_prop(const char *instance_text, const char *name, char *buf,
                                   size_t size);

/* WMI object paths, the text Hyper-V keeps in Parent and HostResource:
 * \\HOST\root\virtualization\v2:Class.Key="value",Key2="value" with \ and " in a
 * value escaped by a backslash.  pv_wsman_wmi_path writes one (-1 when it does
 * not fit); pv_wsman_wmi_path_key reads one key's value (case-insensitive name,
 * absolute or relative path), NULL when absent or malformed. */
int pv_wsman_wmi_path(const char *host, const char *cls, const struct pv_wsman_selector *keys,
                      size_t nkeys, char *out, size_t size);
const char *pv_wsman_wmi_path_key(const char *path, const char *key, char *buf, size_t size);

#endif
