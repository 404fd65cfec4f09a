"""Server side of NTLM (MS-NLMP) HTTP authentication, NTLMv2 responses only.

WinRM offers "Negotiate"; clients that do not speak Kerberos send raw NTLMSSP tokens in it
(pywinrm, requests-ntlm), and libcurl's CURLAUTH_NTLM sends them under the "NTLM" scheme.
Both are accepted here.  The handshake is per TCP connection: NEGOTIATE_MESSAGE -> 401 with a
CHALLENGE_MESSAGE -> AUTHENTICATE_MESSAGE, after which the connection stays authenticated.

Only NTLMv2 is verified (LM/NTLMv1 need DES, which the standard library lacks); the challenge
always carries TargetInfo, which makes clients answer with NTLMv2.  No signing or sealing is
negotiated, so message encryption over plain HTTP (what Windows requires when
AllowUnencrypted is false) is not implemented.  MD4 is implemented here because OpenSSL 3
no longer provides it to hashlib.
"""

import hmac
import os
import struct
import time

SIGNATURE = b"NTLMSSP\x00"

F_UNICODE = 0x00000001
F_OEM = 0x00000002
F_REQUEST_TARGET = 0x00000004
F_NTLM = 0x00000200
F_ALWAYS_SIGN = 0x00008000
F_TARGET_TYPE_DOMAIN = 0x00010000
F_EXTENDED_SESSIONSECURITY = 0x00080000
F_TARGET_INFO = 0x00800000
F_VERSION = 0x02000000
F_128 = 0x20000000
F_56 = 0x80000000


def md4(data):
    """RFC 1320 MD4."""
    def f(x, y, z):
        return (x & y) | (~x & z)

    def g(x, y, z):
        return (x & y) | (x & z) | (y & z)

    def h(x, y, z):
        return x ^ y ^ z

    def rol(v, s):
        v &= 0xFFFFFFFF
        return ((v << s) | (v >> (32 - s))) & 0xFFFFFFFF

    msg = bytearray(data)
    bitlen = (8 * len(data)) & 0xFFFFFFFFFFFFFFFF
    msg.append(0x80)
    while len(msg) % 64 != 56:
        msg.append(0)
    msg += struct.pack("<Q", bitlen)
    a, b, c, d = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476
    for off in range(0, len(msg), 64):
        x = struct.unpack("<16I", bytes(msg[off:off + 64]))
        aa, bb, cc, dd = a, b, c, d
        for i in range(16):
            k, s = i, (3, 7, 11, 19)[i % 4]
            if i % 4 == 0:
                a = rol(a + f(b, c, d) + x[k], s)
            elif i % 4 == 1:
                d = rol(d + f(a, b, c) + x[k], s)
            elif i % 4 == 2:
                c = rol(c + f(d, a, b) + x[k], s)
            else:
                b = rol(b + f(c, d, a) + x[k], s)
        for i in range(16):
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            if i % 4 == 0:
                a = rol(a + g(b, c, d) + x[k] + 0x5A827999, s)
            elif i % 4 == 1:
                d = rol(d + g(a, b, c) + x[k] + 0x5A827999, s)
            elif i % 4 == 2:
                c = rol(c + g(d, a, b) + x[k] + 0x5A827999, s)
            else:
                b = rol(b + g(c, d, a) + x[k] + 0x5A827999, s)
        order = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)
        for i in range(16):
            k, s = order[i], (3, 9, 11, 15)[i % 4]
            if i % 4 == 0:
                a = rol(a + h(b, c, d) + x[k] + 0x6ED9EBA1, s)
            elif i % 4 == 1:
                d = rol(d + h(a, b, c) + x[k] + 0x6ED9EBA1, s)
            elif i % 4 == 2:
                c = rol(c + h(d, a, b) + x[k] + 0x6ED9EBA1, s)
            else:
                b = rol(b + h(c, d, a) + x[k] + 0x6ED9EBA1, s)
        a, b, c, d = ((a + aa) & 0xFFFFFFFF, (b + bb) & 0xFFFFFFFF,
                      (c + cc) & 0xFFFFFFFF, (d + dd) & 0xFFFFFFFF)
    return struct.pack("<4I", a, b, c, d)


def _hmac_md5(key, data):
    return hmac.new(key, data, "md5").digest()


def _field(msg, off):
    ln, _, pos = struct.unpack_from("<HHI", msg, off)
    if pos + ln > len(msg):
        raise ValueError("security buffer outside the message")
    return msg[pos:pos + ln]


def message_type(token):
    if len(token) < 12 or token[:8] != SIGNATURE:
        return None
    return struct.unpack_from("<I", token, 8)[0]


def challenge(computer, domain, dns_domain, fqdn):
    """(server challenge, CHALLENGE_MESSAGE bytes)."""
    server_challenge = os.urandom(8)

    def av(t, v):
        return struct.pack("<HH", t, len(v)) + v
    u = lambda s: s.encode("utf-16-le")   # noqa: E731
    filetime = int((time.time() + 11644473600) * 10_000_000)
    info = (av(2, u(domain)) + av(1, u(computer)) + av(4, u(dns_domain)) + av(3, u(fqdn)) +
            av(5, u(dns_domain)) + av(7, struct.pack("<Q", filetime)) + av(0, b""))
    target = u(domain)
    flags = (F_UNICODE | F_REQUEST_TARGET | F_NTLM | F_ALWAYS_SIGN | F_TARGET_TYPE_DOMAIN |
             F_EXTENDED_SESSIONSECURITY | F_TARGET_INFO | F_VERSION | F_128 | F_56)
    header_len = 56
    msg = (SIGNATURE + struct.pack("<I", 2) +
           struct.pack("<HHI", len(target), len(target), header_len) +
           struct.pack("<I", flags) + server_challenge + b"\x00" * 8 +
           struct.pack("<HHI", len(info), len(info), header_len + len(target)) +
           bytes([10, 0]) + struct.pack("<H", 20348) + b"\x00\x00\x00\x0f")
    return server_challenge, msg + target + info


def verify(token, server_challenge, accounts):
    """The user name if AUTHENTICATE_MESSAGE `token` proves a password in `accounts`
    ({lower-case user: password}), else None."""
    try:
        if message_type(token) != 3 or len(token) < 64:
            return None
        nt = _field(token, 20)
        domain_b = _field(token, 28)
        user_b = _field(token, 36)
        flags = struct.unpack_from("<I", token, 60)[0]
        enc = "utf-16-le" if flags & F_UNICODE else "latin-1"
        user = user_b.decode(enc)
        domain = domain_b.decode(enc)
    except (ValueError, struct.error, UnicodeDecodeError):
        return None
    if len(nt) <= 24:                    # NTLMv1 or anonymous: not accepted
        return None
    password = accounts.get(user.lower())
    if password is None:
        return None
    nt_hash = md4(password.encode("utf-16-le"))
    key = _hmac_md5(nt_hash, (user.upper() + domain).encode("utf-16-le"))
    proof, blob = nt[:16], nt[16:]
    if hmac.compare_digest(_hmac_md5(key, server_challenge + blob), proof):
        return user
    return None
