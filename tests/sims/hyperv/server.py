"""HTTP(S) listener of one simulated host and the WS-Management operations it answers.

One `HostServer` per simulated host: `POST /wsman` only, HTTP/1.1 with keep-alive, Basic
authentication (401 challenge offering Negotiate and Basic realm="WSMAN"), then
Identify, Get, Enumerate/Pull/Release and custom-method Invoke against the world (model.py).

Transport rules, as a Windows host applies them:
  * over HTTPS Basic is accepted;
  * over plain HTTP Basic is accepted only when the host runs with AllowUnencrypted
    (--allow-unencrypted); otherwise the challenge offers Negotiate alone and Basic answers 401,
    as WinRM does when Service/AllowUnencrypted is false.  (NTLM/Negotiate is not implemented.)
Every WS-Man fault is HTTP 500 with a SOAP 1.2 Fault; see wsman.py.

Injected faults (control.py) act here, before the request reaches the model: a delay, a
dropped connection (closed without an answer), AccessDenied, or the listener closed altogether.
"""

import base64
import http.server
import socket
import ssl
import threading
import time
import uuid
import xml.etree.ElementTree as ET

import cim
import methods
import model
import ntlm
import wql
from wsman import (A_ENUMERATE, A_ENUMERATE_RESPONSE, A_GET, A_GET_RESPONSE, A_PULL,
                   A_PULL_RESPONSE, A_RELEASE, A_RELEASE_RESPONSE, NS_A, NS_N, NS_S, NS_W,
                   NS_WSMID, WQL_DIALECT, Request, WsmanFault, envelope, fault_access_denied,
                   fault_action_not_supported, fault_cannot_process_filter,
                   fault_destination_unreachable, fault_encoding_limit, fault_filter_dialect,
                   fault_header_required, fault_internal, fault_invalid_enumeration_context,
                   fault_invalid_selectors, fault_schema, fault_timed_out, q,
                   safe_fromstring, serialize, sub)

SOAP_CT = "application/soap+xml;charset=UTF-8"
MAX_BATCH_ITEMS = 32000          # WinRM config MaxBatchItems default (MS-WSMV 2.2.4.10)


class Config:
    def __init__(self, user, password, limited_user=None, limited_password=None,
                 allow_unencrypted=False, max_envelope_kb=500):
        self.user = user
        self.password = password
        self.limited_user = limited_user
        self.limited_password = limited_password
        self.allow_unencrypted = allow_unencrypted
        self.max_envelope = max_envelope_kb * 1024


class _TooLarge(bytes):
    """An empty body standing for one that was discarded for exceeding MaxEnvelopeSizekb."""


class Enumeration:
    def __init__(self, items, mode, props):
        self.id = "uuid:" + str(uuid.uuid4()).upper()
        self.items = items            # [(CimClass, instance dict)]
        self.mode = mode              # "objects", "epr", "both"
        self.props = props            # projection or None
        self.touched = time.time()


class _Threaded(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, handler, owner):
        self.owner = owner
        super().__init__(addr, handler)

    def handle_error(self, request, client_address):
        """A broken connection or TLS handshake is the client's business: stay quiet, so a
        test harness that never drains our stderr cannot block us."""
        import sys
        exc = sys.exc_info()[1]
        if not isinstance(exc, (OSError, ssl.SSLError, ValueError)):
            print("hypervsim: %s: %r" % (self.owner.host.name, exc), file=sys.stderr)

    def get_request(self):
        conn, addr = self.socket.accept()
        if self.owner.tls:
            conn = self.owner.tls.wrap_socket(conn, server_side=True,
                                              do_handshake_on_connect=False)
        return conn, addr


class HostServer:
    def __init__(self, world, host, config, tls_context=None):
        self.world = world
        self.host = host
        self.config = config
        self.tls = tls_context
        self.httpd = None
        self.thread = None

    @property
    def url(self):
        return "%s://127.0.0.1:%d/wsman" % ("https" if self.tls else "http", self.host.port)

    def start(self):
        self.httpd = _Threaded(("127.0.0.1", self.host.port), _Handler, self)
        self.host.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def set_reachable(self, on):
        with self.world.lock:
            self.host.reachable = on
        if on and self.httpd is None:
            for _ in range(50):
                try:
                    self.start()
                    return
                except OSError:
                    time.sleep(0.1)
            raise RuntimeError("cannot listen again on port %d" % self.host.port)
        if not on:
            self.stop()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 30

    def setup(self):
        super().setup()
        self._conn_role = None          # set once NTLM authenticated this connection
        self._ntlm_challenge = None
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(self.timeout)

    def log_message(self, fmt, *args):   # quiet: the tests read stdout
        pass

    @property
    def hs(self):
        return self.server.owner

    # ---- HTTP ----
    def do_GET(self):
        self._plain(405 if self.path.split("?")[0] == "/wsman" else 404)

    do_PUT = do_DELETE = do_GET

    def _plain(self, status, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _challenge(self):
        hdrs = [("WWW-Authenticate", "Negotiate")]
        if self.hs.tls or self.hs.config.allow_unencrypted:
            hdrs.append(("WWW-Authenticate", 'Basic realm="WSMAN"'))
        self._plain(401, hdrs)

    def _auth(self):
        """'admin', 'limited', or None (after sending 401).

        Basic is checked on every request; NTLM (in a Negotiate or NTLM header) authenticates
        the TCP connection, so later requests on it may carry no Authorization header."""
        h = self.headers.get("Authorization", "")
        c = self.hs.config
        secure = bool(self.hs.tls or c.allow_unencrypted)
        if not h and self._conn_role:
            return self._conn_role
        scheme, _, cred = h.partition(" ")
        try:
            raw = base64.b64decode(cred.strip(), validate=True)
        except ValueError:
            raw = None
        if scheme.lower() in ("negotiate", "ntlm") and secure and raw:
            mt = ntlm.message_type(raw)
            if mt == 1:
                host = self.hs.host
                self._ntlm_challenge, msg = ntlm.challenge(
                    host.name, host.domain.split(".")[0].upper(), host.domain, host.fqdn)
                self._plain(401, [("WWW-Authenticate",
                                   "%s %s" % (scheme, base64.b64encode(msg).decode()))])
                return None
            if mt == 3 and self._ntlm_challenge:
                accounts = {c.user.lower(): c.password}
                if c.limited_user:
                    accounts[c.limited_user.lower()] = c.limited_password
                user = ntlm.verify(raw, self._ntlm_challenge, accounts)
                self._ntlm_challenge = None
                if user:
                    self._conn_role = "admin" if user.lower() == c.user.lower() else "limited"
                    return self._conn_role
        elif scheme.lower() == "basic" and secure and raw is not None:
            try:
                user, _, pw = raw.decode("utf-8").partition(":")
            except UnicodeDecodeError:
                user, pw = "", None
            user = user.rsplit("\\", 1)[-1].lower()
            if user == c.user.lower() and pw == c.password:
                return "admin"
            if c.limited_user and user == c.limited_user.lower() and pw == c.limited_password:
                return "limited"
        self._conn_role = None
        self._challenge()
        return None

    def do_POST(self):
        host, world = self.hs.host, self.hs.world
        if self.path.split("?")[0] != "/wsman":
            self._drain()
            self._plain(404)
            return
        with world.lock:
            host.requests += 1  # WS-Man round trips, for benchmarks (GET /state)
            reachable = host.reachable
            drop = host.faults["drop_count"] > 0
            if drop:
                host.faults["drop_count"] -= 1
            delay = host.faults["delay_ms"] / 1000.0
            if delay and host.faults["delay_count"] is not None:
                host.faults["delay_count"] -= 1
                if host.faults["delay_count"] <= 0:
                    host.faults["delay_ms"], host.faults["delay_count"] = 0, None
        if not reachable or drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        try:
            body = self._drain()
        except (ValueError, OSError):
            self.close_connection = True
            self._plain(400)
            return
        if body is None:
            return
        if self.headers.get("WSMANIDENTIFY", "").lower() == "unauthenticated" \
                and self._identify(body):
            return
        who = self._auth()
        if who is None:
            return
        ctype = self.headers.get("Content-Type", "").lower()
        if "application/soap+xml" not in ctype:
            self._plain(415)
            return
        relates, status, env = None, 200, None
        try:
            if isinstance(body, _TooLarge):
                raise fault_encoding_limit("The request is larger than the service's "
                                           "MaxEnvelopeSizekb.", "MaxEnvelopeSize", 2150858824)
            try:
                root = safe_fromstring(body)
            except ValueError as e:
                raise fault_schema(str(e))
            req = Request(root)
            relates = req.message_id
            if delay:
                limit = req.operation_timeout
                if limit is not None and delay > limit:
                    time.sleep(limit)
                    raise fault_timed_out()
                time.sleep(delay)
            if who == "limited":
                raise fault_access_denied()
            with world.lock:
                if host.faults["access_denied_count"] > 0:
                    host.faults["access_denied_count"] -= 1
                    raise fault_access_denied()
            env = self._dispatch(req)
            data = serialize(env)
            limit = req.max_envelope_size or self.hs.config.max_envelope
            if len(data) > limit:
                raise fault_encoding_limit("The response is larger than MaxEnvelopeSize (%d)."
                                           % limit)
        except WsmanFault as f:
            status = f.http_status
            data = serialize(_fault_env(f, relates, host))
        except Exception as e:   # never let a request crash the listener
            status = 500
            data = serialize(_fault_env(fault_internal("Internal error: %s" % e), relates, host))
        self.send_response(status)
        self.send_header("Content-Type", SOAP_CT)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _identify(self, body):
        """Answer an unauthenticated wsmid:Identify; False if the body is something else."""
        try:
            root = safe_fromstring(body)
        except ValueError:
            return False
        b = root.find(q(NS_S, "Body"))
        if b is None or not len(b) or b[0].tag != q(NS_WSMID, "Identify"):
            return False
        data = serialize(_identify(self.hs.host))
        self.send_response(200)
        self.send_header("Content-Type", SOAP_CT)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return True

    def _drain(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                line = self.rfile.readline(65537)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        n = self.headers.get("Content-Length")
        if n is None:
            self._plain(411)
            self.close_connection = True
            return None
        try:
            n = int(n)
        except ValueError:
            self._plain(400)
            self.close_connection = True
            return None
        if n > self.hs.config.max_envelope:
            # Too large to process: discard it without holding it in memory, answer
            # w:EncodingLimit (see do_POST) and close the connection afterwards.
            left = n
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
            self.close_connection = True
            return _TooLarge()
        return self.rfile.read(n) if n > 0 else b""

    # ---- WS-Man ----
    def _dispatch(self, req):
        if not req.message_id:
            raise fault_header_required("MessageID")
        if not req.action:
            raise fault_header_required("Action")
        if req.action == A_GET:
            return self._get(req)
        if req.action == A_ENUMERATE:
            return self._enumerate(req)
        if req.action == A_PULL:
            return self._pull(req)
        if req.action == A_RELEASE:
            return self._release(req)
        if req.resource_uri and req.action.startswith(req.resource_uri + "/"):
            return self._invoke(req, req.action[len(req.resource_uri) + 1:])
        raise fault_action_not_supported(req.action)

    def _class(self, req):
        if not req.resource_uri:
            raise fault_header_required("ResourceURI")
        parsed = cim.class_for_uri(req.resource_uri)
        if not parsed or parsed[2] is None:
            raise fault_destination_unreachable(
                "The WS-Management service cannot process the request. The resource URI %s "
                "does not name a class this service knows." % req.resource_uri)
        return parsed[2]

    def _instance(self, req, cls):
        sels = dict(req.selectors)
        ns = sels.pop("__cimnamespace", None)
        if ns is not None and ns.lower() != cls.namespace.lower():
            raise fault_invalid_selectors("The __cimnamespace selector does not match.")
        known = {k.lower(): k for k in cls.keys}
        keys = {}
        for name, val in sels.items():
            if name.lower() not in known:
                raise fault_invalid_selectors("Unexpected selector %s." % name)
            keys[known[name.lower()]] = val
        missing = [k for k in cls.keys if k not in keys]
        if missing:
            raise fault_invalid_selectors("Missing selector(s) %s." % ", ".join(missing),
                                          "InsufficientSelectors", 2150858842)
        inst = model.lookup(self.hs.host, cls, keys)
        if inst is None:
            raise fault_destination_unreachable()
        return inst

    def _get(self, req):
        cls = self._class(req)
        with self.hs.world.lock:
            inst = self._instance(req, cls)
        env, body = envelope(A_GET_RESPONSE, req.message_id)
        cim.instance_element(body, cls, inst)
        return env

    def _query(self, req, ns, uri_cls, text):
        try:
            parsed = wql.parse(text)
        except wql.WqlError as e:
            raise fault_cannot_process_filter(str(e))
        host = self.hs.host
        if isinstance(parsed, wql.Select):
            cls = cim.find_class(parsed.cls)
            if cls is None or cls.namespace != ns:
                raise fault_cannot_process_filter("Invalid class %s in namespace %s."
                                                  % (parsed.cls, ns))
            if uri_cls is not None and uri_cls.lower() != cls.name.lower():
                raise fault_cannot_process_filter("The query class does not match the "
                                                  "resource URI.")
            props = None
            if parsed.props is not None:
                props = []
                for p in parsed.props:
                    if p.lower() not in cls.schema:
                        raise fault_cannot_process_filter("No property %s in %s." % (p, cls.name))
                    props.append(cls.schema[p.lower()][0])
            try:
                wql.validate(parsed.where, cls.schema)
                items = [(cls, i) for i in model.instances(host, cls)
                         if parsed.where is None or wql.evaluate(parsed.where, i, cls.schema)]
            except wql.WqlError as e:
                raise fault_cannot_process_filter(str(e))
            return items, props
        # ASSOCIATORS OF
        src_cls = cim.find_class(parsed.src_cls)
        if src_cls is None or src_cls.namespace != ns:
            raise fault_cannot_process_filter("Invalid class %s in namespace %s."
                                              % (parsed.src_cls, ns))
        keys = {}
        known = {k.lower(): k for k in src_cls.keys}
        for k, v in parsed.src_keys.items():
            if k.lower() not in known:
                raise fault_cannot_process_filter("%s is not a key of %s." % (k, src_cls.name))
            keys[known[k.lower()]] = v
        if len(keys) != len(src_cls.keys):
            raise fault_cannot_process_filter("The object path needs every key of %s."
                                              % src_cls.name)
        src = model.lookup(host, src_cls, keys)
        if src is None:
            return [], None
        out = []
        for assoc, rcls, inst in model.associations(host, src_cls, src):
            if parsed.assoc_class and parsed.assoc_class.lower() != assoc.lower():
                continue
            if parsed.result_class and parsed.result_class.lower() not in rcls.lineage():
                continue
            out.append((rcls, inst))
        return out, None

    def _enumerate(self, req):
        host = self.hs.host
        en = req.body_element
        if en is None or en.tag != q(NS_N, "Enumerate"):
            raise fault_schema("The body of an Enumerate request must be n:Enumerate.")
        parsed = cim.class_for_uri(req.resource_uri or "")
        if not parsed:
            raise fault_destination_unreachable(
                "The WS-Management service cannot process the request. The resource URI %s "
                "is not supported." % req.resource_uri)
        ns, uri_cls, cls = parsed
        if uri_cls is not None and cls is None:
            raise fault_destination_unreachable(
                "The WS-Management service cannot process the request. The class %s does not "
                "exist in namespace %s." % (uri_cls, ns))
        flt = en.find(q(NS_W, "Filter"))
        if flt is None:
            flt = en.find(q(NS_N, "Filter"))
        mode_text = (en.findtext(q(NS_W, "EnumerationMode")) or "").strip()
        mode = {"": "objects", "EnumerateEPR": "epr", "EnumerateObjectAndEPR": "both"}.get(mode_text)
        if mode is None:
            raise fault_schema("Unknown EnumerationMode %s." % mode_text)
        optimize = en.find(q(NS_W, "OptimizeEnumeration")) is not None
        max_el = en.findtext(q(NS_W, "MaxElements"))
        try:
            max_el = int(max_el) if max_el is not None else 1
        except ValueError:
            raise fault_schema("MaxElements is not a number.")
        if max_el < 1:
            raise fault_schema("MaxElements must be positive.")
        max_el = min(max_el, MAX_BATCH_ITEMS)
        with self.hs.world.lock:
            if flt is not None:
                dialect = flt.get("Dialect") or ""
                if dialect != WQL_DIALECT:
                    raise fault_filter_dialect(dialect or "(none)")
                items, props = self._query(req, ns, uri_cls, (flt.text or "").strip())
            else:
                if cls is None:
                    raise fault_cannot_process_filter(
                        "A filter is required to enumerate the resource URI %s."
                        % req.resource_uri)
                items, props = [(cls, i) for i in model.instances(host, cls)], None
            now = time.time()
            for k, old in list(host.enums.items()):
                if now - old.touched > self.hs.world.enum_timeout:
                    del host.enums[k]
            e = Enumeration(items, mode, props)
            env, body = envelope(A_ENUMERATE_RESPONSE, req.message_id)
            resp = sub(body, NS_N, "EnumerateResponse")
            sub(resp, NS_N, "EnumerationContext", e.id)
            if optimize:
                done = self._emit(req, resp, e, max_el, NS_W)
                if done:
                    sub(resp, NS_W, "EndOfSequence")
                    return env
            host.enums[e.id] = e
        return env

    def _emit(self, req, parent, e, max_el, items_ns):
        """Move up to max_el items of `e` into an Items element; True when none are left.
        Items that would overflow MaxEnvelopeSize stay for the next Pull."""
        items_el = sub(parent, items_ns, "Items")
        limit = req.max_envelope_size or self.hs.config.max_envelope
        budget = limit - 2048
        sent = 0
        while e.items and sent < max_el:
            cls, inst = e.items[0]
            probe = ET.Element("probe")
            self._item(probe, cls, inst, e)
            size = len(serialize(probe))
            if size > budget:
                if sent == 0:
                    raise fault_encoding_limit("An item does not fit in MaxEnvelopeSize (%d)."
                                               % limit)
                break
            budget -= size
            for child in list(probe):
                items_el.append(child)
            e.items.pop(0)
            sent += 1
        return not e.items

    def _item(self, parent, cls, inst, e):
        if e.mode == "objects":
            cim.instance_element(parent, cls, inst, e.props)
            return
        ref = model.ref(cls.name, inst)
        if e.mode == "epr":
            cim.add_epr(sub(parent, NS_A, "EndpointReference"), ref)
            return
        it = sub(parent, NS_W, "Item")
        cim.instance_element(it, cls, inst, e.props)
        cim.add_epr(sub(it, NS_A, "EndpointReference"), ref)

    def _context(self, req, el):
        host, world = self.hs.host, self.hs.world
        ctx = (el.findtext(q(NS_N, "EnumerationContext")) or "").strip()
        now = time.time()
        for k, e in list(host.enums.items()):
            if now - e.touched > world.enum_timeout:
                del host.enums[k]
        e = host.enums.get(ctx)
        if e is None:
            raise fault_invalid_enumeration_context()
        e.touched = now
        return e

    def _pull(self, req):
        pl = req.body_element
        if pl is None or pl.tag != q(NS_N, "Pull"):
            raise fault_schema("The body of a Pull request must be n:Pull.")
        max_el = pl.findtext(q(NS_N, "MaxElements"))
        try:
            max_el = int(max_el) if max_el is not None else 1
        except ValueError:
            raise fault_schema("MaxElements is not a number.")
        if max_el < 1:
            raise fault_schema("MaxElements must be positive.")
        max_el = min(max_el, MAX_BATCH_ITEMS)
        with self.hs.world.lock:
            e = self._context(req, pl)
            env, body = envelope(A_PULL_RESPONSE, req.message_id)
            resp = sub(body, NS_N, "PullResponse")
            ctx_el = sub(resp, NS_N, "EnumerationContext", e.id)
            done = self._emit(req, resp, e, max_el, NS_N)
            if done:
                resp.remove(ctx_el)
                sub(resp, NS_N, "EndOfSequence")
                self.hs.host.enums.pop(e.id, None)
        return env

    def _release(self, req):
        rl = req.body_element
        if rl is None or rl.tag != q(NS_N, "Release"):
            raise fault_schema("The body of a Release request must be n:Release.")
        with self.hs.world.lock:
            e = self._context(req, rl)
            self.hs.host.enums.pop(e.id, None)
        env, _ = envelope(A_RELEASE_RESPONSE, req.message_id)
        return env

    def _invoke(self, req, method):
        cls = self._class(req)
        if method not in cls.methods:
            raise fault_action_not_supported(req.action)
        inp = req.body_element
        if inp is None or inp.tag != q(cls.uri, method + "_INPUT"):
            raise fault_schema("The body must be %s_INPUT in namespace %s." % (method, cls.uri))
        params = cim.children_by_name(inp)
        world = self.hs.world
        with world.lock:
            inst = self._instance(req, cls)
            ret, outputs = methods.invoke(world, self.hs.host, cls, inst, method, params)
            env, body = envelope(req.resource_uri + "/" + method + "Response", req.message_id)
            out = sub(body, cls.uri, method + "_OUTPUT")
            for o in outputs:
                if o.kind == "ref":
                    cim.add_epr(sub(out, cls.uri, o.name), o.value)
                elif o.kind == "refs":
                    for r in o.value:
                        cim.add_epr(sub(out, cls.uri, o.name), r)
                elif o.kind == "embeddeds":
                    for inst_ in o.value:
                        cim.embedded_output(out, cls.uri, o.name, o.cls, inst_)
                else:
                    sub(out, cls.uri, o.name, str(o.value))
            sub(out, cls.uri, "ReturnValue", str(ret))
        return env


def _identify(host):
    env = ET.Element(ET.QName(NS_S, "Envelope"))
    sub(env, NS_S, "Header")
    body = sub(env, NS_S, "Body")
    r = sub(body, NS_WSMID, "IdentifyResponse")
    sub(r, NS_WSMID, "ProtocolVersion", NS_W)
    sub(r, NS_WSMID, "ProductVendor", "Microsoft Corporation")
    sub(r, NS_WSMID, "ProductVersion", "OS: %s SP: 0.0 Stack: 3.0" % host.os_version)
    return env


def _fault_env(f, relates, host):
    from wsman import fault_envelope
    return fault_envelope(f, relates, host.fqdn)


def make_tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx
