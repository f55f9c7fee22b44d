"""ng_ksocket's ASCII socket addresses, both ways (pure; no Salt): the words ``connect`` and
``bind`` take, and what ``getname``/``getpeername`` print.

What FreeBSD's ``sys/netgraph/ng_ksocket.c`` accepts (``ng_ksocket_sockaddr_parse``) and
prints (``_unparse``), in every version read (ngsim/README.md "ng_ksocket and IPv6
collectors", from the 1999 file to main at ``__FreeBSD_version`` 1500012):

* ``inet/A.B.C.D[:PORT]`` for AF_INET (the port left out when 0);
* **no** ``inet6/`` word: the ``case PF_INET6`` of both functions is ``#if 0 /* XXX
  implement this someday */``. Everything else, AF_INET6 included, is the generic
  structure ``ng_ksocket_generic_sockaddr_type``: ``{ len=L family=F data=[ ... ] }``
  with ``data`` the ``L - 2`` bytes after ``sa_len``/``sa_family``, each an int8 printed
  ``0x%x``. ng_parse (``sys/netgraph/ng_parse.c``, ``ng_unparse_composite``) leaves out
  every field and array element equal to its default (0) and writes ``N=`` before an
  element that follows a gap, so the text of an address is unique: comparing the text
  the planner wants with the text ``getpeername`` prints is exact.

The bytes (``sys/netinet6/in6.h``, ``sys/netinet/in.h``, ``sys/sys/socket.h``):
``struct sockaddr_in6`` is ``sin6_len`` (u8, 28), ``sin6_family`` (u8, AF_INET6 = 28),
``sin6_port`` (u16, network order), ``sin6_flowinfo`` (u32), ``sin6_addr`` (16),
``sin6_scope_id`` (u32, host order: little-endian on amd64/arm64); ``struct
sockaddr_in`` is ``sin_len`` (16), ``sin_family`` (AF_INET = 2), ``sin_port``,
``sin_addr`` (4), ``sin_zero[8]``.
"""
from __future__ import annotations

import ipaddress
import re

from .ng_ascii import parse_ascii

AF_INET, AF_INET6 = 2, 28            # sys/sys/socket.h
SIN_LEN, SIN6_LEN = 16, 28           # sizeof(struct sockaddr_in), sizeof(struct sockaddr_in6)
SA_DATA = 2                          # offsetof(struct sockaddr, sa_data)
_INET_RE = re.compile(r"inet/(\d{1,3}(?:\.\d{1,3}){3})(?::(\d{1,5}))?")


# --------------------------------------------------------------------------------------
# Bytes
# --------------------------------------------------------------------------------------
def sockaddr_in(address: str, port: int = 0) -> bytes:
    """struct sockaddr_in (16 bytes) of an IPv4 address and port."""
    return bytes([SIN_LEN, AF_INET]) + port.to_bytes(2, "big") + ipaddress.IPv4Address(address).packed + bytes(8)


def sockaddr_in6(address: str, port: int = 0, scope: int = 0, flowinfo: int = 0) -> bytes:
    """struct sockaddr_in6 (28 bytes) of an IPv6 address, port, scope id and flow info."""
    return (bytes([SIN6_LEN, AF_INET6]) + port.to_bytes(2, "big") + flowinfo.to_bytes(4, "big")
            + ipaddress.IPv6Address(address).packed + scope.to_bytes(4, "little"))


def generic_text(raw: bytes) -> str:
    """The generic ``{ len=.. family=.. data=[ .. ] }`` text of a struct sockaddr, as
    ng_ksocket prints it (zero fields and zero bytes left out, ``N=`` after a gap)."""
    sa_len = raw[0] if raw else 0
    family = raw[1] if len(raw) > 1 else 0
    size = max(sa_len - SA_DATA, 0)
    data = (raw[SA_DATA:SA_DATA + size] + bytes(size))[:size]
    parts = [f" len={sa_len}"] if sa_len else []
    parts += [f" family={family}"] if family else []
    if any(data):
        items, expect = [], 0
        for i, byte in enumerate(data):
            if byte:
                items.append(f" {'' if i == expect else f'{i}='}0x{byte:x}")
                expect = i + 1
        parts.append(" data=[" + "".join(items) + " ]")
    return "{" + "".join(parts) + (" " if parts else "") + "}"


def generic_bytes(value) -> bytes:
    """The struct sockaddr a generic structure describes: its text, or what
    ``ng_ascii.parse_ascii`` made of it (``{"len", "family", "data": [...]}``, zero fields
    and trailing zero bytes missing). ValueError when it is not one."""
    fields = parse_ascii(value) if isinstance(value, str) else value
    if not isinstance(fields, dict) or set(fields) - {"len", "family", "data"}:
        raise ValueError(f"not a generic sockaddr: {value!r}")
    sa_len, family, data = fields.get("len", 0), fields.get("family", 0), fields.get("data", [])
    if not (isinstance(sa_len, int) and isinstance(family, int) and isinstance(data, list)
            and 0 <= sa_len <= 255 and 0 <= family <= 255
            and all(isinstance(b, int) and 0 <= b <= 255 for b in data)):
        raise ValueError(f"not a generic sockaddr: {value!r}")
    size = max(sa_len - SA_DATA, 0)
    if len(data) > size:
        raise ValueError(f"generic sockaddr: {len(data)} data bytes for len={sa_len}")
    return bytes([sa_len, family]) + bytes(data) + bytes(size - len(data))


# --------------------------------------------------------------------------------------
# Text for addresses, and back
# --------------------------------------------------------------------------------------
def inet_text(address: str, port: int = 0) -> str:
    """``inet/A.B.C.D[:PORT]``: what ng_ksocket takes and prints for AF_INET."""
    return f"inet/{ipaddress.IPv4Address(address)}" + (f":{port}" if port else "")


def inet6_text(address: str, port: int = 0, scope: int = 0) -> str:
    """The generic text of an IPv6 address and port (there is no ``inet6/`` word)."""
    return generic_text(sockaddr_in6(address, port, scope))


def text(address: str, port: int = 0) -> str:
    """ng_ksocket's word(s) for an IPv4 or IPv6 literal and a port (0: any port)."""
    ip = ipaddress.ip_address(address)
    return inet_text(address, port) if ip.version == 4 else inet6_text(address, port)


def decode(value) -> dict | None:
    """``{"family": "inet"|"inet6", "address", "port", "scope", "flowinfo"}`` of an address
    as a reply carries it (``inet/...`` text, generic text, or its parsed structure);
    None for anything else (``local/...``, another family, garbage)."""
    if isinstance(value, str):
        m = _INET_RE.fullmatch(value.strip())
        if m:
            try:
                address = str(ipaddress.IPv4Address(m.group(1)))
            except ValueError:
                return None
            port = int(m.group(2) or 0)
            return {"family": "inet", "address": address, "port": port, "scope": 0, "flowinfo": 0} \
                if port <= 65535 else None
        if not value.strip().startswith("{"):
            return None
    try:
        raw = generic_bytes(value)
    except ValueError:
        return None
    if raw[0] == SIN_LEN and raw[1] == AF_INET:
        return {"family": "inet", "address": str(ipaddress.IPv4Address(raw[4:8])),
                "port": int.from_bytes(raw[2:4], "big"), "scope": 0, "flowinfo": 0}
    if raw[0] == SIN6_LEN and raw[1] == AF_INET6:
        return {"family": "inet6", "address": str(ipaddress.IPv6Address(raw[8:24])),
                "port": int.from_bytes(raw[2:4], "big"), "scope": int.from_bytes(raw[24:28], "little"),
                "flowinfo": int.from_bytes(raw[4:8], "big")}
    return None


def canonical(value) -> str | None:
    """The text ng_ksocket prints for a reply's address: ``inet/...`` as it is, a parsed
    generic structure back in its exact text; None when there is no address."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, dict):
        try:
            raw = generic_bytes(value)
        except ValueError:
            return None
        if raw[0] == SIN_LEN and raw[1] == AF_INET:
            found = decode(value)
            return inet_text(found["address"], found["port"])
        return generic_text(raw)
    return None


def label(value) -> str | None:
    """For people: ``192.0.2.10:2055``, ``[2001:db8::53]:2055`` (``:0`` when no port)."""
    found = decode(value)
    if found is None:
        return None
    host = found["address"] if found["family"] == "inet" else f"[{found['address']}]"
    return f"{host}:{found['port']}"


# --------------------------------------------------------------------------------------
# What a collector's host or source may be (the reasons, without the key: nf_model adds it)
# --------------------------------------------------------------------------------------
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_NAME_RE = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}\.?")
FAMILY_OF = {4: "inet", 6: "inet6"}


def literal(value: str):
    """(family, address in its one spelling) of an IP literal that can be a socket's peer
    or source; ValueError with the reason otherwise; None when ``value`` is no IP literal
    at all (a host name, or garbage: see :func:`host_name`)."""
    head, _, zone = value.partition("%")
    if ":" not in head and not re.fullmatch(r"[0-9.]+", head):
        return None
    try:
        ip = ipaddress.ip_address(head)
    except ValueError:
        raise ValueError("is not an IPv6 address (the port goes under port:, no brackets)" if ":" in head
                         else "is not an IPv4 address") from None
    if ip.version == 4 and str(ip) != head:
        raise ValueError(f"is not in dotted-quad form ({ip})")
    if ip.version == 6 and ip.is_link_local:
        raise ValueError(
            "is an IPv6 link-local address, which is refused with a zone or without: without one "
            "the kernel cannot tell the link, and ng_ksocket takes the zone as an interface index "
            "(sin6_scope_id), which changes when interfaces are re-created and would be replayed "
            "stale by the boot file; use a global or unique-local address")
    if zone:
        raise ValueError("has a zone (%...), which only a link-local address can have")
    if ip.version == 6 and ip.ipv4_mapped is not None:
        raise ValueError(f"is IPv4-mapped; ng_ksocket's inet6 sockets are IPv6-only: use {ip.ipv4_mapped}")
    if ip.is_unspecified or ip.is_multicast or (ip.version == 4 and ip.packed == b"\xff" * 4):
        raise ValueError("is not a unicast address")
    return FAMILY_OF[ip.version], str(ip)


def host_name(value: str) -> bool:
    """A host name as RFC 1123 spells one: labels of letters, digits and inner hyphens (at
    most 63 characters each, 253 in all, an optional final dot), the last label not all
    digits (that would be a broken IPv4 address)."""
    return (len(value) <= 253 and bool(_NAME_RE.fullmatch(value))
            and not value.rstrip(".").rsplit(".", 1)[-1].isdigit())
