"""IPv6 addresses as FreeBSD's userland and kernel handle them. A leaf: imports nothing of
ngsim (``ipaddress`` only inside ``pton``).

* ``ntop``: ``inet_ntop6()`` of lib/libc/inet/inet_ntop.c (FreeBSD 14 / main): the first
  longest run of two or more zero words becomes ``::``; lowercase hex without leading
  zeros; the last 32 bits print as a dotted quad when the first 6 words are zero
  (``::1.2.3.4``) or the first 5 are and the sixth is 0xffff (``::ffff:1.2.3.4``). The
  third condition of the source (``best.len == 7 && words[7] != 0x0001``) is tested at
  word 6, which is inside that run, so it never holds: ``::2`` stays ``::2``. Written out
  rather than borrowed from the host's libc so the spelling does not depend on it.
* ``pton``: the 16 bytes of a textual address (RFC 4291 forms; no ``%scope``), or None.

Addresses inside ngsim's state are kept as ``ntop`` text, one spelling per address.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional


def ntop(b: bytes) -> str:
    """FreeBSD inet_ntop(AF_INET6, ...)."""
    words = [(b[i] << 8) | b[i + 1] for i in range(0, 16, 2)]
    best_base, best_len, cur_base, cur_len = -1, 0, -1, 0
    for i, w in enumerate(words):
        if w == 0:
            if cur_base == -1:
                cur_base, cur_len = i, 1
            else:
                cur_len += 1
        elif cur_base != -1:
            if best_base == -1 or cur_len > best_len:
                best_base, best_len = cur_base, cur_len
            cur_base = -1
    if cur_base != -1 and (best_base == -1 or cur_len > best_len):
        best_base, best_len = cur_base, cur_len
    if best_base != -1 and best_len < 2:
        best_base = -1
    out = []
    i = 0
    while i < 8:
        if best_base != -1 and best_base <= i < best_base + best_len:
            if i == best_base:
                out.append(":")
            i += 1
            continue
        if i != 0:
            out.append(":")
        if i == 6 and best_base == 0 and (best_len == 6 or (best_len == 7 and words[7] != 1)
                                          or (best_len == 5 and words[5] == 0xFFFF)):
            out.append("%u.%u.%u.%u" % (b[12], b[13], b[14], b[15]))
            break
        out.append("%x" % words[i])
        i += 1
    if best_base != -1 and best_base + best_len == 8:
        out.append(":")
    return "".join(out)


def pton(text: str) -> Optional[bytes]:
    """inet_pton(AF_INET6, text): the 16 bytes, or None when it is not an IPv6 literal."""
    import ipaddress

    if not isinstance(text, str) or "%" in text or ":" not in text:
        return None
    try:
        return ipaddress.IPv6Address(text).packed
    except ValueError:
        return None


def canonical(text: str) -> Optional[str]:
    """The ``ntop`` spelling of an IPv6 literal, or None."""
    b = pton(text)
    return None if b is None else ntop(b)


def is_loopback(b: bytes) -> bool:
    return b == b"\0" * 15 + b"\1"


def is_unspecified(b: bytes) -> bool:
    return b == b"\0" * 16


def is_v4mapped(b: bytes) -> bool:
    return b[:12] == b"\0" * 10 + b"\xff\xff"


def needs_scope(b: bytes) -> bool:
    """IN6_IS_SCOPE_LINKLOCAL (fe80::/10, ff02::/16-style multicast) or interface-local
    multicast (ff01::/16): the addresses ``sa6_embedscope`` gives a zone."""
    if b[0] == 0xFE and b[1] & 0xC0 == 0x80:
        return True
    return b[0] == 0xFF and b[1] & 0x0F in (0x01, 0x02)
