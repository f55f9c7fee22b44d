"""ng_ksocket's parse side (sys/netgraph/ng_ksocket.c): the family, type and protocol words
(``ng_ksocket_families[]``, ``_types[]``, ``_protos[]``, ``ng_ksocket_parse``) and
``struct sockaddr`` as ng_parse text both ways (``ng_ksocket_sockaddr_parse``/``_unparse``,
the generic ``{ len family data }`` struct). The node type, its socket and its data path
are in ``ngsim.types.ksocket``; see its docstring for the sources and the IPv6 forms.
"""
from __future__ import annotations

from ngsim.errors import NgError
from ngsim.ngparse import (ParseType, composite_positions, get_token, kstrtol, parse_octets,
                           T_LBRACE, UINT8, decode_string, encode_string)

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any, Optional

PF_LOCAL, PF_INET, PF_INET6, PF_ATM, PF_DIVERT = 1, 2, 28, 30, 44
# ng_ksocket_families[] (main/14: local, inet, inet6, atm, divert)
FAMILIES = {"local": PF_LOCAL, "inet": PF_INET, "inet6": PF_INET6, "atm": PF_ATM,
            "divert": PF_DIVERT}
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET = 1, 2, 3, 4, 5
TYPES_ = {"stream": SOCK_STREAM, "dgram": SOCK_DGRAM, "raw": SOCK_RAW, "rdm": SOCK_RDM,
          "seqpacket": SOCK_SEQPACKET}
# ng_ksocket_protos[]: every alias is registered for PF_INET only
INET_PROTOS = {"ip": 0, "raw": 255, "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47,
               "esp": 50, "ah": 51, "swipe": 53, "encap": 98, "divert": 254, "pim": 103}
SADATA_OFFSET = 2  # offsetof(struct sockaddr, sa_data)
SOCK_MAXADDRLEN = 255
WS = " \t\n\v\f\r"  # C isspace()


def _strtoul10(s: str) -> tuple[int, int]:
    """strtoul(s, &eptr, 10) on a whole C string: (value as unsigned long, eptr index)."""
    val, end = kstrtol(s, 0, 10)
    if end == 0:
        return 0, 0
    if val < 0:
        val = -val
        val = ((1 << 64) - val) & ((1 << 64) - 1) if val < (1 << 64) else (1 << 64) - 1
    elif val >= 1 << 64:
        val = (1 << 64) - 1
    return val, end


def ksocket_parse(aliases: dict[str, int], s: str, family: int, alias_family: int = 0) -> int:
    """ng_ksocket_parse(): an alias registered for ``family`` (the table's entries are all
    of ``alias_family``), else ``(int)strtoul(s, &eptr, 10)`` with nothing after it; -1
    when neither (also for values that are negative as an int)."""
    if family == alias_family and s in aliases:
        return aliases[s]
    val, end = _strtoul10(s)
    val &= 0xFFFFFFFF
    if val >= 1 << 31:
        val -= 1 << 32
    if val < 0 or end != len(s):
        return -1
    return val


# ----- struct sockaddr <-> bytes ----------------------------------------------------------

def sa_bytes(v: dict) -> bytes:
    """The binary struct sockaddr of a parsed value (what the kernel gets)."""
    fam = v["family"]
    if fam == "raw":
        return bytes.fromhex(v["raw"])
    if fam == "local":
        path = _str_bytes(v["path"])
        return bytes([(2 + len(path)) & 0xFF, PF_LOCAL]) + path
    if fam == "inet":
        addr = bytes(int(x) for x in v["addr"].split("."))
        return bytes([16, PF_INET]) + v.get("port", 0).to_bytes(2, "big") + addr + b"\0" * 8
    if fam == "inet6":
        from ngsim import inet6

        return (bytes([28, PF_INET6]) + v.get("port", 0).to_bytes(2, "big")
                + v.get("flowinfo", 0).to_bytes(4, "big") + inet6.pton(v["addr"])
                + v.get("scope", 0).to_bytes(4, "little"))
    raise ValueError(fam)


def sa_value(b: bytes) -> dict:
    """A reply's sockaddr bytes as the value ``SOCKADDR.unparse`` prints."""
    if len(b) >= 8 and b[1] == PF_INET:
        port = (b[2] << 8) | b[3]
        return {"family": "inet", "addr": "%d.%d.%d.%d" % tuple(b[4:8]), "port": port}
    return {"family": "raw", "raw": b.hex()}


def sockaddr_in6(addr: str, port: int = 0, scope: int = 0, flowinfo: int = 0) -> bytes:
    """struct sockaddr_in6 (28 bytes) as the kernel holds it."""
    return sa_bytes({"family": "inet6", "addr": addr, "port": port, "scope": scope,
                     "flowinfo": flowinfo})


def generic_text(b: bytes) -> str:
    """The generic ``{ len=.. family=.. data=[ .. ] }`` text of a sockaddr, as
    ng_unparse_composite prints ng_ksocket_generic_sockaddr_type (fields equal to their
    default left out; data bytes as ``0x%x``, zero bytes left out, ``N=`` after a gap)."""
    sa_len = b[0] if b else 0
    fam = b[1] if len(b) > 1 else 0
    dlen = 0 if sa_len < SADATA_OFFSET else sa_len - SADATA_OFFSET
    data = (b[2:2 + dlen] + b"\0" * dlen)[:dlen]
    parts = []
    if sa_len:
        parts.append(" len=%d" % sa_len)
    if fam:
        parts.append(" family=%d" % fam)
    if any(data):
        items, expect = [], 0
        for i, x in enumerate(data):
            if not x:
                continue
            items.append(" %s0x%x" % ("" if i == expect else "%d=" % i, x))
            expect = i + 1
        parts.append(" data=[" + "".join(items) + " ]")
    return "{" + "".join(parts) + (" " if parts else "") + "}"


def generic_inet6(addr: str, port: int = 0, scope: int = 0, flowinfo: int = 0) -> str:
    """The generic sockaddr text of an IPv6 address (what to give ``connect``/``bind``
    on an ``inet6`` ksocket, and what ``getname``/``getpeername`` print)."""
    return generic_text(sockaddr_in6(addr, port, scope, flowinfo))


def _str_bytes(text: str) -> bytes:
    return b"".join(bytes([ord(c)]) if ord(c) < 256 else c.encode("utf-8", "surrogateescape")
                    for c in text)


def _skipws(s: str, off: int) -> int:
    while off < len(s) and s[off] in WS:
        off += 1
    return off


GENERIC_FIELDS = ("len", "family", "data")  # struct sockaddr as ng_ksocket_generic_sockaddr_type


def _parse_generic(s: str, off: int) -> tuple[bytes, int]:
    """ng_parse_composite() for ng_ksocket_generic_sockaddr_type: the field positions are
    collected first (ENOENT unknown name, EALREADY repeated, EINVAL malformed), then the
    struct is built in declared order, so ``data`` is as long as the ``len`` given (minus
    2; 0 when len < 2), whatever the order the fields were written in."""
    foff, end = composite_positions(s, off, names=GENERIC_FIELDS)
    sa_len = UINT8.parse(s, foff[0])[0] if 0 in foff else 0
    fam = UINT8.parse(s, foff[1])[0] if 1 in foff else 0
    dlen = 0 if sa_len < SADATA_OFFSET else sa_len - SADATA_OFFSET
    data = _parse_bytearray(s, foff[2], dlen) if 2 in foff else b"\0" * dlen
    return bytes([sa_len, fam]) + data, end


def _parse_bytearray(s: str, off: int, arraylen: int) -> bytes:
    """ng_bytearray_parse(): a quoted string (E2BIG when longer than the array, zero
    padded) or an array of hex int8 (ng_array_parse: ``[ v ... ]``, ``N=v`` sets index N
    and continues from N+1, E2BIG past the end, EALREADY for a repeat)."""
    i = _skipws(s, off)
    if i < len(s) and s[i] == '"':
        try:
            text, _ = decode_string(s, i)
        except NgError:
            text = None
        if text is not None:
            raw = _str_bytes(text)
            if len(raw) > arraylen:
                raise NgError("E2BIG")
            return raw + b"\0" * (arraylen - len(raw))
    foff, _ = composite_positions(s, off, length=arraylen)
    out = bytearray(arraylen)
    for index in sorted(foff):  # the second pass, in index order
        out[index] = UINT8.parse(s, foff[index])[0]  # ng_int8_parse: strtol base 0, -128..255
    return bytes(out)


class SockaddrType(ParseType):
    """ng_ksocket_sockaddr_type: ``{`` -> the generic struct; else ``family/...`` with the
    family as ng_ksocket_parse reads it up to the first ``/`` (at most 31 characters):
    PF_LOCAL a quoted path, PF_INET ``a.b.c.d[:port]`` (strtoul base 10 each), any other
    family (inet6 included) EINVAL. Values: ``{"family": "inet", "addr", "port"}``,
    ``{"family": "local", "path"}``, ``{"family": "raw", "raw": hex}`` (the generic form,
    any family); unparse takes those and ``sa_value`` results."""

    def parse(self, s: str, off: int) -> tuple[dict[str, Any], int]:
        tok, start, _ = get_token(s, off)
        if tok == T_LBRACE:
            raw, end = _parse_generic(s, start)
            return {"family": "raw", "raw": raw.hex()}, end
        i = _skipws(s, off)
        slash = s.find("/", i)
        if slash < 0 or slash - i > 31:
            raise NgError("EINVAL")
        fam = ksocket_parse(FAMILIES, s[i:slash], 0)
        i = slash + 1
        if fam == PF_LOCAL:
            j = _skipws(s, i)
            try:
                path, end = decode_string(s, j)
            except NgError:
                raise NgError("EINVAL")
            if len(_str_bytes(path)) > SOCK_MAXADDRLEN:
                raise NgError("E2BIG")
            return {"family": "local", "path": path}, end
        if fam != PF_INET:
            raise NgError("EINVAL")  # -1, PF_INET6 (#if 0) and every other family
        octets, i = parse_octets(s, i, 4, 10, ".")
        port = 0
        if i < len(s) and s[i] == ":":
            val, end = kstrtol(s, i + 1, 10)
            if end == i + 1 or val < 0 or val > 0xFFFF:
                raise NgError("EINVAL")
            port, i = val, end
        return {"family": "inet", "addr": ".".join(map(str, octets)), "port": port}, i

    def unparse(self, v: dict[str, Any]) -> str:
        if v["family"] == "local":
            return "local/" + encode_string(v["path"])
        if v["family"] == "inet":
            text = "inet/" + v["addr"]
            if v.get("port"):
                text += ":%d" % v["port"]
            return text
        b = sa_bytes(v)
        if len(b) > 1 and b[1] == PF_INET:
            return self.unparse(sa_value(b))
        return generic_text(b)

    def default(self) -> Optional[dict]:
        return None


SOCKADDR = SockaddrType()
