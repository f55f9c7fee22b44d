"""ng_ksocket (``ksocket``): one hook whose name ``family/type/proto`` picks the socket.
This module is the node, its socket and its data path; the words and ``struct sockaddr``
as ng_parse text are in ``ngsim.ksocket_parse``.

Sources (FreeBSD main, fel1x-developer/freebsd-src @ 2d614aa2fe3e037bd11d351b0b5cfda776e65814;
the same in what matters in every release read, see ngsim/README.md "ng_ksocket"):
sys/netgraph/ng_ksocket.c (``ng_ksocket_sockaddr_parse``/``_unparse``, the generic
``{ len family data }`` struct, ``ng_ksocket_parse``, ``ng_ksocket_newhook``, the BIND/
CONNECT/GETNAME/GETPEERNAME cases of ``ng_ksocket_rcvmsg``), sys/netgraph/ng_parse.c
(``ng_parse_composite``, ``ng_bytearray_parse``, int8 hex unparse), sys/kern/uipc_socket.c
(``soconnectat``: a connected UDP socket is disconnected first), sys/netinet/udp_usrreq.c
and in_pcb.c (``udp_bind``/``udp_connect``, ``in_pcbbind``, ``in_pcbconnect_setup``,
``in_pcbdisconnect``, ``in_getsockaddr``), sys/netinet6/udp6_usrreq.c and in6_pcb.c
(``udp6_bind``/``udp6_connect``, ``in6_pcbladdr``, ``in6_pcbdisconnect``,
``in6_getsockaddr``/``in6_getpeeraddr``), sys/netinet6/scope6.c (``sa6_embedscope``,
``sa6_checkzone``).

* Sockaddr words: ``inet/A.B.C.D[:PORT]`` and ``local/"path"`` are the only special forms;
  ``inet6/...`` is refused (EINVAL: its ``case PF_INET6`` is ``#if 0``), so an IPv6 address
  is written as the generic structure ``{ len=28 family=28 data=[ ... ] }``: the bytes of
  ``struct sockaddr_in6`` after len and family (port in network order, flowinfo, the 16
  address bytes, scope id in host order, little-endian on amd64/arm64). Replies print
  AF_INET6 the same generic way (``0x`` hex bytes, zero bytes left out, ``N=`` after a gap).
* A protocol alias (``udp``, ``tcp``...) only exists for PF_INET, so the IPv6 UDP hook is
  ``inet6/dgram/17`` (or ``inet6/dgram/0``); ``inet6/dgram/udp`` is EINVAL.

Data path (ng_ksocket_rcvdata, sosend): a connected dgram socket whose peer is in
127.0.0.0/8 (inet) or ::1 (inet6) sends a real UDP datagram (Python's socket module,
imported only then); any other destination is recorded in the node's state and never
touches the network.
"""
from __future__ import annotations

from ngsim.errors import NgError
from ngsim.ksocket_parse import (FAMILIES, INET_PROTOS, PF_INET, PF_INET6, PF_LOCAL, SADATA_OFFSET,
                                 SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET, SOCK_STREAM, SOCKADDR,
                                 TYPES_, ksocket_parse, sa_bytes, sockaddr_in6)
from ngsim.ksocket_parse import generic_inet6, generic_text  # noqa: F401  (named here too: tests)
from ngsim.nodetype import CmdList, SelfDestructType, netgraph_init

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any, Optional

CMDS = CmdList()  # ng_ksocket_cmds[]

IPPORT_EPHEMERALFIRST, IPPORT_EPHEMERALLAST = 10000, 65535  # net.inet.ip.portrange.first/last


def parse_hook(hook: str) -> tuple[int, int, int]:
    """family/type/proto -> numbers; EINVAL when malformed, socreate() errors otherwise."""
    parts = hook.split("/", 2)
    if len(parts) != 3:
        raise NgError("EINVAL")
    fam = ksocket_parse(FAMILIES, parts[0], 0)
    if fam == -1:
        raise NgError("EINVAL")
    typ = ksocket_parse(TYPES_, parts[1], 0)
    if typ == -1:
        raise NgError("EINVAL")
    proto = ksocket_parse(INET_PROTOS, parts[2], fam, PF_INET)
    if proto == -1:
        raise NgError("EINVAL")
    _socreate(fam, typ, proto)
    return fam, typ, proto


def _socreate(fam: int, typ: int, proto: int) -> None:
    if fam in (PF_INET, PF_INET6):
        if typ == SOCK_DGRAM and proto in (0, 17):
            return
        if typ == SOCK_STREAM and proto in (0, 6):
            return
        if typ == SOCK_RAW:
            return
        if typ in (SOCK_DGRAM, SOCK_STREAM, SOCK_SEQPACKET, SOCK_RDM):
            raise NgError("EPROTONOSUPPORT")
        raise NgError("EPROTOTYPE")
    if fam == PF_LOCAL:
        if typ in (SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET) and proto == 0:
            return
        raise NgError("EPROTONOSUPPORT")
    raise NgError("EAFNOSUPPORT")


ANY = {"family": "inet", "addr": "0.0.0.0", "port": 0}
KSOCKET_KEEP = 4  # datagrams kept per ksocket in state


def is_loopback(addr: str) -> bool:
    """The destinations ngsim really sends to: 127.0.0.0/8 and ::1."""
    if ":" in addr:
        from ngsim import inet6

        b = inet6.pton(addr)
        return b is not None and inet6.is_loopback(b)
    return addr.split(".")[0] == "127"


# ----- the socket -------------------------------------------------------------------------

def _sock(node: dict) -> dict:
    if node["priv"].get("socket") is None:
        raise NgError("ENXIO")
    return node["priv"]["socket"]


def _is_udp(so: dict) -> bool:
    return so["family"] in (PF_INET, PF_INET6) and so["type"] == SOCK_DGRAM


def _unspec(so: dict) -> str:
    return "::" if so["family"] == PF_INET6 else "0.0.0.0"


def _arg(v: dict) -> bytes:
    """The message's sockaddr and ng_ksocket_rcvmsg's sanity check (arglen below
    SADATA_OFFSET or below sa_len: EINVAL)."""
    b = sa_bytes(v)
    if len(b) < SADATA_OFFSET or len(b) < b[0]:
        raise NgError("EINVAL")
    return b


def _decode(so: dict, b: bytes, what: str) -> dict:
    """udp_bind/udp_connect (inet): family AF_INET else EAFNOSUPPORT, sa_len 16 else
    EINVAL; udp6_bind/udp6_connect (inet6): AF_INET6 else EAFNOSUPPORT, sa_len 28 else
    EINVAL. Returns {"addr", "port", "scope", "raw"} (IPv6 address text in ngsim.inet6
    spelling)."""
    from ngsim import inet6

    if so["family"] == PF_INET:
        if b[1] != PF_INET:
            raise NgError("EAFNOSUPPORT")
        if b[0] != 16:
            raise NgError("EINVAL")
        return {"addr": "%d.%d.%d.%d" % tuple(b[4:8]), "port": (b[2] << 8) | b[3], "scope": 0,
                "a": b[4:8]}
    if b[1] != PF_INET6:
        raise NgError("EAFNOSUPPORT")
    if b[0] != 28:
        raise NgError("EINVAL")
    a = b[8:24]
    return {"addr": inet6.ntop(a), "port": (b[2] << 8) | b[3],
            "scope": int.from_bytes(b[24:28], "little"), "a": a}


def _ifindex_exists(k, index: int) -> bool:
    return any(r["index"] == index for r in k.st["ifaces"])


def _used_ports(k, so: dict) -> set:
    out = set()
    for n in k.st["nodes"].values():
        o = n["type"] == "ksocket" and n["priv"].get("socket")
        if o and o is not so and o["family"] == so["family"] and o.get("lport"):
            out.add(o["lport"])
    return out


def _ephemeral(k, so: dict) -> int:
    """in_pcb_lport_dest() as with net.inet.ip.portrange.randomized=0: ++lastport within
    first..last (10000..65535), skipping ports in use; one counter for udp and udp6 (the
    same pcbinfo), kept in the kernel state. FreeBSD randomizes by default."""
    used = _used_ports(k, so)
    last = k.st.get("udp_lastport", 0)
    for _ in range(IPPORT_EPHEMERALLAST - IPPORT_EPHEMERALFIRST + 1):
        last += 1
        if last < IPPORT_EPHEMERALFIRST or last > IPPORT_EPHEMERALLAST:
            last = IPPORT_EPHEMERALFIRST
        if last not in used:
            k.st["udp_lastport"] = last
            return last
    raise NgError("EADDRNOTAVAIL")


@CMDS.msg("bind", 1, SOCKADDR, None)
def _bind(k, node, v):
    b = _arg(v)
    so = _sock(node)
    if not _is_udp(so):
        if so.get("local") is not None:
            raise NgError("EINVAL")
        so["local"] = v
        return
    from ngsim import inet6

    sa = _decode(so, b, "bind")
    if so["lport"] or so["laddr"] is not None:
        raise NgError("EINVAL")  # in_pcbbind/in6_pcbbind: already bound
    if so["family"] == PF_INET6:
        a = sa["a"]
        if inet6.is_v4mapped(a):
            raise NgError("EADDRNOTAVAIL")  # never an interface address (V6ONLY socket)
        if inet6.needs_scope(a):
            if sa["scope"] and not _ifindex_exists(k, sa["scope"]):
                raise NgError("ENXIO")  # sa6_checkzone -> sa6_embedscope
        elif inet6.is_loopback(a):
            if sa["scope"]:
                raise NgError("EADDRNOTAVAIL")  # not lo0's zone (lo0 is not modelled)
        elif sa["scope"] and not inet6.is_unspecified(a):
            raise NgError("EINVAL")  # sa6_checkzone: a global address has no zone
    laddr = None if sa["addr"] in ("0.0.0.0", "::") else sa["addr"]
    port = sa["port"]
    if port:
        for n in k.st["nodes"].values():
            o = n["type"] == "ksocket" and n["priv"].get("socket")
            if o and o is not so and o["family"] == so["family"] and o.get("lport") == port \
                    and (o.get("laddr") is None or laddr is None or o["laddr"] == laddr):
                raise NgError("EADDRINUSE")
    so["laddr"] = laddr
    so["lscope"] = sa["scope"] if laddr and so["family"] == PF_INET6 else 0
    so["lport"] = port or _ephemeral(k, so)


def _disconnect(so: dict) -> None:
    """udp_disconnect -> in_pcbdisconnect, udp6_disconnect -> in6_pcbdisconnect (main):
    the foreign address and the local address are cleared, the local port stays."""
    so["faddr"] = None
    so["fport"] = 0
    so["fscope"] = 0
    so["laddr"] = None
    so["lscope"] = 0
    so["connected"] = False


@CMDS.msg("connect", 4, SOCKADDR, None)
def _connect(k, node, v):
    b = _arg(v)
    so = _sock(node)
    if not _is_udp(so):
        if so["type"] == SOCK_STREAM:
            if so.get("peer") is not None:
                raise NgError("EISCONN" if so.get("connected") else "EALREADY")
            so["peer"] = v
            so["connected"] = False
            raise NgError("EINPROGRESS")
        so["peer"] = v
        so["connected"] = True
        return
    from ngsim import inet6

    if so["connected"]:  # soconnectat(): a connected UDP socket is disconnected first
        _disconnect(so)
    sa = _decode(so, b, "connect")
    if so["family"] == PF_INET6:
        a = sa["a"]
        if inet6.is_v4mapped(a):
            raise NgError("EINVAL")  # IN6P_IPV6_V6ONLY (net.inet6.ip6.v6only=1)
        if sa["port"] == 0:
            raise NgError("EADDRNOTAVAIL")
        scope = 0
        if inet6.needs_scope(a) and sa["scope"]:
            if not _ifindex_exists(k, sa["scope"]):
                raise NgError("ENXIO")  # sa6_embedscope
            scope = sa["scope"]
        faddr = "::1" if inet6.is_unspecified(a) else sa["addr"]
        if so["laddr"] is None:
            # in6_selectsrc: ::1 towards ::1; no interface addresses are modelled, so any
            # other peer leaves the local address unspecified
            so["laddr"] = "::1" if faddr == "::1" else None
        so["fscope"] = scope
    else:
        if sa["port"] == 0:
            raise NgError("EADDRNOTAVAIL")  # in_pcbconnect_setup
        faddr = sa["addr"]
        if so["laddr"] is None:
            # in_pcbladdr: a 127/8 peer is reached through lo0, whose address is 127.0.0.1;
            # other peers: no interface addresses are modelled (0.0.0.0 stays)
            so["laddr"] = "127.0.0.1" if is_loopback(faddr) else None
    if not so["lport"]:
        so["lport"] = _ephemeral(k, so)
    so["faddr"] = faddr
    so["fport"] = sa["port"]
    so["connected"] = True


@CMDS.msg("listen", 2, None, None)
def _listen(k, node, arg):
    so = _sock(node)
    if so["type"] != SOCK_STREAM:
        raise NgError("EOPNOTSUPP")
    so["listening"] = True


def _name(so: dict, local: bool) -> dict:
    """in_getsockaddr/in_getpeeraddr, in6_getsockaddr/in6_getpeeraddr: the sockaddr the
    reply carries (flowinfo 0; the scope id of a link-local address recovered)."""
    if so["family"] == PF_INET6:
        addr = (so["laddr"] if local else so["faddr"]) or "::"
        return {"family": "raw", "raw": sockaddr_in6(
            addr, so["lport"] if local else so["fport"],
            so["lscope"] if local else so["fscope"]).hex()}
    addr = (so["laddr"] if local else so["faddr"]) or "0.0.0.0"
    return {"family": "inet", "addr": addr, "port": so["lport"] if local else so["fport"]}


@CMDS.msg("getname", 5, None, SOCKADDR)
def _getname(k, node, arg):
    so = _sock(node)
    if not _is_udp(so):
        return so.get("local") or dict(ANY)
    return _name(so, True)


@CMDS.msg("getpeername", 6, None, SOCKADDR)
def _getpeername(k, node, arg):
    so = _sock(node)
    if not _is_udp(so):
        if so.get("peer") is None or not so.get("connected"):
            raise NgError("ENOTCONN")
        return so["peer"]
    if not so["connected"]:
        raise NgError("ENOTCONN")
    return _name(so, False)


def peer_text(so: dict) -> Optional[str]:
    """Where a connected dgram socket sends: ``inet/A.B.C.D:P`` or ``inet6/[ADDR]:P``
    (ngsim's notation for the summary and state; ng_ksocket has no inet6 word)."""
    if not so.get("connected") or not _is_udp(so):
        return None
    if so["family"] == PF_INET6:
        return "inet6/[%s]:%d" % (so["faddr"], so["fport"])
    return "inet/%s:%d" % (so["faddr"], so["fport"])


class KsocketType(SelfDestructType):
    name = "ksocket"
    module = "ng_ksocket"
    cmds = CMDS

    def init_priv(self, k, node):
        return {"socket": None}

    def newhook(self, k, node, hook):
        if node["hooks"]:
            raise NgError("EISCONN")
        fam, typ, proto = parse_hook(hook)
        node["priv"]["socket"] = {"family": fam, "type": typ, "proto": proto,
                                  "laddr": None, "lport": 0, "lscope": 0,
                                  "faddr": None, "fport": 0, "fscope": 0,
                                  "connected": False}

    def rcvdata(self, ctx, node, hook, pkt):
        """ng_ksocket_rcvdata(): sosend() on the node's socket.

        Only a connected dgram socket whose peer is in 127.0.0.0/8 or is ::1 sends a real
        UDP datagram (Python's socket module), from the socket's local address and port
        when that is a loopback address (else from wherever the host picks). Any other
        destination is recorded in the node's state and never touches the network."""
        so = node["priv"].get("socket")
        entry: dict[str, Any] = {"ksocket": ctx.key(node), "length": len(pkt.data)}
        if ctx.cur is not None:
            ctx.cur["sent"].append(entry)
        if so is None:
            entry["error"] = "ENXIO"
            return
        to = peer_text(so)
        if so["type"] != SOCK_DGRAM or to is None:
            entry["error"] = "ENOTCONN" if so["type"] == SOCK_DGRAM else "EDESTADDRREQ"
            so["unsent"] = so.get("unsent", 0) + 1
            return
        entry["to"] = to
        real = is_loopback(so["faddr"]) and so["fport"] != 0
        if ctx.k.st.get("wire_loss"):  # ngsim lose: sent, then lost on the way (a test knob)
            ctx.k.st["wire_loss"] -= 1
            entry["lost"], real = True, False
        elif real:
            import socket

            af = socket.AF_INET6 if so["family"] == PF_INET6 else socket.AF_INET
            s = socket.socket(af, socket.SOCK_DGRAM)
            try:
                laddr = so.get("laddr")
                if laddr and is_loopback(laddr):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    for port in (so["lport"], 0):
                        try:
                            s.bind((laddr, port))
                            break
                        except OSError:
                            continue
                s.sendto(pkt.data, (so["faddr"], so["fport"]))
            except OSError as e:
                entry["error"] = e.strerror or str(e)
                real = False
            finally:
                s.close()
        entry["real"] = real
        so["sent"] = so.get("sent", 0) + 1
        if entry.get("lost"):
            so["lost"] = so.get("lost", 0) + 1
        last = so.setdefault("last", [])
        import base64

        last.append({"to": to, "real": real, "data": base64.b64encode(pkt.data).decode()})
        del last[:-KSOCKET_KEEP]


TYPE = netgraph_init(KsocketType())  # NETGRAPH_INIT
