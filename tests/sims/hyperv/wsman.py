"""WS-Management envelopes for the Hyper-V simulator: parse requests, build replies and faults.

What a WinRM service puts on the wire (DSP0226 WS-Management 1.x as profiled by MS-WSMV):
SOAP 1.2 envelopes, WS-Addressing 2004/08 headers, WS-Enumeration 2004/09 and WS-Transfer
2004/09 actions, and faults that carry an `f:WSManFault` (MS-WSMV 2.2.4.43) in `s:Detail`.

Two decisions a newcomer must know:

* Requests are parsed with xml.etree.ElementTree after refusing any DOCTYPE/ENTITY
  declaration outright (defusedxml is not available; expat would otherwise expand internal
  entities).  A document that is not well-formed becomes a fault, never an exception.
* Replies are built as ElementTree trees but written by `serialize()` here rather than
  `ET.tostring`, because WS-Man carries QNames *inside values* (`s:Value` holds `w:InvalidSelectors`,
  `xsi:type` holds `p:Msvm_ComputerSystem_Type`).  Such values are stored as `ET.QName` objects
  and resolved against one prefix table declared on the envelope, so every prefix a value uses is
  declared.  Text and attribute values are always escaped; nothing is pasted into markup.
"""

import uuid
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS_S = "http://www.w3.org/2003/05/soap-envelope"
NS_A = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_N = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
NS_X = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
NS_W = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_P = "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"
NS_CIM = "http://schemas.dmtf.org/wbem/wscim/1/common"
NS_F = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
NS_XML = "http://www.w3.org/XML/1998/namespace"
NS_WSMID = "http://schemas.dmtf.org/wbem/wsman/identity/1/wsmanidentity.xsd"

ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
WQL_DIALECT = "http://schemas.microsoft.com/wbem/wsman/1/WQL"

WMI_BASE = "http://schemas.microsoft.com/wbem/wsman/1/wmi/"

A_GET = NS_X + "/Get"
A_GET_RESPONSE = NS_X + "/GetResponse"
A_PUT = NS_X + "/Put"
A_CREATE = NS_X + "/Create"
A_DELETE = NS_X + "/Delete"
A_ENUMERATE = NS_N + "/Enumerate"
A_ENUMERATE_RESPONSE = NS_N + "/EnumerateResponse"
A_PULL = NS_N + "/Pull"
A_PULL_RESPONSE = NS_N + "/PullResponse"
A_RELEASE = NS_N + "/Release"
A_RELEASE_RESPONSE = NS_N + "/ReleaseResponse"

A_FAULT_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
A_FAULT_ADDRESSING = NS_A + "/fault"
A_FAULT_ENUMERATION = NS_N + "/fault"

FAULT_DETAIL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/faultDetail/"

# Fixed prefixes, as WinRM writes them.  Class namespaces get p, p1, p2 ... per document.
_FIXED_PREFIXES = {
    NS_S: "s", NS_A: "a", NS_N: "n", NS_X: "x", NS_W: "w", NS_P: "wsmv",
    NS_XSI: "xsi", NS_CIM: "cim", NS_F: "f", NS_XML: "xml", NS_WSMID: "wsmid",
}
# Declared on every envelope even when only used inside QName values.
_ALWAYS_DECLARED = (NS_S, NS_A, NS_N, NS_X, NS_W, NS_XSI, NS_CIM)


class WsmanFault(Exception):
    """A fault to send back: SOAP code, subcode QName, reason, WSManFault code, extra detail.

    `http_status` is 500 for every WS-Man fault WinRM sends (MS-WSMV 3.1.4.1.5)."""

    def __init__(self, subcode, reason, wsman_code, *, code="Sender",
                 action=A_FAULT_WSMAN, detail_uri=None, extra_detail=None, http_status=500):
        super().__init__(reason)
        self.subcode = subcode            # ET.QName, e.g. QName(NS_W, "InvalidSelectors")
        self.reason = reason
        self.wsman_code = wsman_code
        self.code = code                  # "Sender" or "Receiver"
        self.action = action
        self.detail_uri = detail_uri      # w:FaultDetail value, if any
        self.extra_detail = extra_detail or []  # further ET elements for s:Detail
        self.http_status = http_status


# ---- the faults this simulator sends (DSP0226 table 10 / MS-WSMV error numbers) ----------

def fault_destination_unreachable(msg="The WS-Management service cannot process the request. "
                                  "The service cannot find the resource identified by the "
                                  "resource URI and selectors."):
    return WsmanFault(ET.QName(NS_A, "DestinationUnreachable"), msg, 2150858752,
                      action=A_FAULT_ADDRESSING)


def fault_action_not_supported(action):
    d = ET.Element(ET.QName(NS_A, "Action"))
    d.text = action or ""
    return WsmanFault(ET.QName(NS_A, "ActionNotSupported"),
                      "The WS-Management service cannot process the request because the "
                      "action is not supported: %s" % (action or "(none)"), 2150858771,
                      action=A_FAULT_ADDRESSING, extra_detail=[d])


def fault_invalid_selectors(msg, detail="UnexpectedSelectors", code=2150858843):
    return WsmanFault(ET.QName(NS_W, "InvalidSelectors"),
                      "The WS-Management service cannot process the request because the request "
                      "contained invalid selectors for the resource. " + msg, code,
                      detail_uri=FAULT_DETAIL + detail)


def fault_cannot_process_filter(msg):
    return WsmanFault(ET.QName(NS_N, "CannotProcessFilter"),
                      "The WS-Management service cannot process the request because the filter "
                      "is invalid or unsupported: " + msg, 2150858778,
                      action=A_FAULT_ENUMERATION)


def fault_filter_dialect(dialect):
    return WsmanFault(ET.QName(NS_N, "FilterDialectRequestedUnavailable"),
                      "The requested filter dialect is not supported: %s" % dialect, 2150858778,
                      action=A_FAULT_ENUMERATION)


def fault_invalid_enumeration_context():
    return WsmanFault(ET.QName(NS_N, "InvalidEnumerationContext"),
                      "The WS-Management service cannot process the request because the "
                      "enumeration context is invalid or has expired.", 2150858779,
                      code="Receiver", action=A_FAULT_ENUMERATION)


def fault_access_denied():
    return WsmanFault(ET.QName(NS_W, "AccessDenied"), "Access is denied. ", 5)


def fault_encoding_limit(msg, detail="MaxEnvelopeSize", code=2150858790):
    return WsmanFault(ET.QName(NS_W, "EncodingLimit"),
                      "The WS-Management service cannot process the request because the "
                      "envelope size exceeds the limit. " + msg, code,
                      detail_uri=FAULT_DETAIL + detail)


def fault_schema(msg):
    return WsmanFault(ET.QName(NS_W, "SchemaValidationError"),
                      "The SOAP XML in the message does not match the corresponding XML schema "
                      "definition. " + msg, 2150858817)


def fault_header_required(header):
    return WsmanFault(ET.QName(NS_A, "MessageInformationHeaderRequired"),
                      "A required header property is missing: %s" % header, 2150858777,
                      action=A_FAULT_ADDRESSING)


def fault_timed_out():
    return WsmanFault(ET.QName(NS_W, "TimedOut"),
                      "The WS-Management service cannot complete the operation within the time "
                      "specified in OperationTimeout.", 2150858793, code="Receiver")


def fault_internal(msg):
    return WsmanFault(ET.QName(NS_W, "InternalError"), msg, 2150858753, code="Receiver")


# ---- parsing ------------------------------------------------------------------------------

def safe_fromstring(data):
    """Parse bytes or str as XML, refusing DTDs/entities.  Raises ValueError with a reason."""
    raw = data if isinstance(data, bytes) else data.encode("utf-8")
    probe = raw
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            probe = raw.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("undecodable UTF-16 document")
    up = probe.upper()
    if b"<!DOCTYPE" in up or b"<!ENTITY" in up:
        raise ValueError("DOCTYPE and ENTITY declarations are not allowed")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as e:
        raise ValueError("not well-formed XML: %s" % e)


def q(ns, local):
    return "{%s}%s" % (ns, local)


def local_name(tag):
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else tag


def ns_of(tag):
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


class Request:
    """The parts of a WS-Man request the simulator uses."""

    def __init__(self, root):
        if root.tag != q(NS_S, "Envelope"):
            raise fault_schema("The root element is not a SOAP 1.2 Envelope.")
        header = root.find(q(NS_S, "Header"))
        body = root.find(q(NS_S, "Body"))
        if header is None or body is None:
            raise fault_schema("The envelope needs a Header and a Body.")
        self.header = header
        self.body = body
        self.message_id = _text(header.find(q(NS_A, "MessageID")))
        self.action = _text(header.find(q(NS_A, "Action")))
        self.to = _text(header.find(q(NS_A, "To")))
        self.resource_uri = _text(header.find(q(NS_W, "ResourceURI")))
        self.max_envelope_size = None
        mes = _text(header.find(q(NS_W, "MaxEnvelopeSize")))
        if mes:
            try:
                self.max_envelope_size = int(mes)
            except ValueError:
                raise fault_schema("MaxEnvelopeSize is not a number.")
        self.operation_timeout = parse_duration(_text(header.find(q(NS_W, "OperationTimeout"))))
        self.selectors = {}
        ss = header.find(q(NS_W, "SelectorSet"))
        if ss is not None:
            for sel in ss.findall(q(NS_W, "Selector")):
                name = sel.get("Name")
                if not name:
                    raise fault_invalid_selectors("A selector has no Name.")
                if name in self.selectors:
                    raise fault_invalid_selectors("Duplicate selector %s." % name,
                                                  "DuplicateSelectors", 2150858847)
                self.selectors[name] = (sel.text or "")
        self.options = {}
        os_ = header.find(q(NS_W, "OptionSet"))
        if os_ is not None:
            for opt in os_.findall(q(NS_W, "Option")):
                if opt.get("Name"):
                    self.options[opt.get("Name")] = opt.text or ""
        self.body_element = body[0] if len(body) else None


def _text(el):
    return (el.text or "").strip() if el is not None else None


def parse_duration(s):
    """xs:duration such as PT60.000S -> seconds (float); None if absent or unparsable."""
    if not s:
        return None
    import re
    m = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?", s.strip())
    if not m:
        return None
    d, h, mi, sec = m.groups()
    return (int(d or 0) * 86400 + int(h or 0) * 3600 + int(mi or 0) * 60 + float(sec or 0))


# ---- building -----------------------------------------------------------------------------

def new_message_id():
    return "uuid:" + str(uuid.uuid4()).upper()


def sub(parent, ns, local, text=None, attrib=None):
    el = ET.SubElement(parent, ET.QName(ns, local) if ns else local)
    if attrib:
        for k, v in attrib.items():
            el.set(k, v)
    if text is not None:
        el.text = text
    return el


def envelope(action, relates_to):
    """A reply envelope with the WS-Addressing headers WinRM sends; returns (env, body)."""
    env = ET.Element(ET.QName(NS_S, "Envelope"))
    hdr = sub(env, NS_S, "Header")
    sub(hdr, NS_A, "To", ANONYMOUS)
    sub(hdr, NS_A, "Action", action).set(ET.QName(NS_S, "mustUnderstand"), "true")
    sub(hdr, NS_A, "MessageID", new_message_id())
    if relates_to:
        sub(hdr, NS_A, "RelatesTo", relates_to)
    body = sub(env, NS_S, "Body")
    return env, body


def fault_envelope(fault, relates_to, machine):
    env, body = envelope(fault.action, relates_to)
    env.set(ET.QName(NS_XML, "lang"), "en-US")
    f = sub(body, NS_S, "Fault")
    code = sub(f, NS_S, "Code")
    v = sub(code, NS_S, "Value")
    v.text = ET.QName(NS_S, fault.code)
    sc = sub(code, NS_S, "Subcode")
    scv = sub(sc, NS_S, "Value")
    scv.text = fault.subcode
    reason = sub(f, NS_S, "Reason")
    sub(reason, NS_S, "Text", fault.reason).set(ET.QName(NS_XML, "lang"), "en-US")
    detail = sub(f, NS_S, "Detail")
    if fault.detail_uri:
        sub(detail, NS_W, "FaultDetail", fault.detail_uri)
    for extra in fault.extra_detail:
        detail.append(extra)
    wf = sub(detail, NS_F, "WSManFault", attrib={"Code": str(fault.wsman_code),
                                                 "Machine": machine})
    sub(wf, NS_F, "Message", fault.reason)
    return env


# ---- serializing --------------------------------------------------------------------------

def _collect(elem, uris):
    def add(v):
        if isinstance(v, ET.QName):
            u = ns_of(v.text)
            if u:
                uris.append(u)
        elif isinstance(v, str) and v.startswith("{"):
            uris.append(ns_of(v))
    for el in elem.iter():
        add(el.tag.text if isinstance(el.tag, ET.QName) else el.tag)
        for k, v in el.attrib.items():
            add(k.text if isinstance(k, ET.QName) else k)
            if isinstance(v, ET.QName):
                add(v)
        if isinstance(el.text, ET.QName):
            add(el.text)


def serialize(root):
    """Write an element tree as UTF-8 bytes with every used namespace declared on the root."""
    uris = list(_ALWAYS_DECLARED)
    _collect(root, uris)
    prefixes = {}
    n = 0
    for u in uris:
        if u in prefixes:
            continue
        if u in _FIXED_PREFIXES:
            prefixes[u] = _FIXED_PREFIXES[u]
        else:
            prefixes[u] = "p" if n == 0 else "p%d" % n
            n += 1

    def qn(v):
        s = v.text if isinstance(v, ET.QName) else v
        if s.startswith("{"):
            u, loc = s[1:].split("}", 1)
            return "%s:%s" % (prefixes[u], loc)
        return s

    out = ['<?xml version="1.0" encoding="UTF-8"?>']

    def write(el, is_root):
        tag = qn(el.tag)
        parts = ["<" + tag]
        if is_root:
            for u, p in prefixes.items():
                if p != "xml":
                    parts.append(" xmlns:%s=%s" % (p, quoteattr(u)))
        for k, v in el.attrib.items():
            parts.append(" %s=%s" % (qn(k), quoteattr(qn(v) if isinstance(v, ET.QName) else v)))
        text = el.text
        if isinstance(text, ET.QName):
            text = qn(text)
        if not len(el) and not text:
            parts.append("/>")
            out.append("".join(parts))
        else:
            parts.append(">")
            out.append("".join(parts))
            if text:
                out.append(escape(text))
            for child in el:
                write(child, False)
            out.append("</%s>" % tag)
        if el.tail:
            out.append(escape(el.tail))

    write(root, True)
    return "".join(out).encode("utf-8")
