"""ng_ksocket (``ksocket``): one hook whose name ``family/type/proto`` picks the socket.

Data path (ng_ksocket_rcvdata, sosend): a connected inet dgram socket whose peer is in
127.0.0.0/8 sends a real UDP datagram (Python's socket module, imported only then); any
other destination is recorded in the node's state and never touches the network.
"""
from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only; keeps per-spawn startup fast
    from typing import Any, Optional

from ngsim.errors import NgError
from ngsim.ngparse import ParseType, get_token, kstrtol, T_WORD, decode_string, encode_string
from ngsim.nodetype import Cmd, SelfDestructType

PF_LOCAL, PF_INET, PF_INET6, PF_ATM = 1, 2, 28, 30
FAMILIES = {"local": PF_LOCAL, "unix": PF_LOCAL, "inet": PF_INET, "inet6": PF_INET6,
            "atm": PF_ATM}
SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_RDM, SOCK_SEQPACKET = 1, 2, 3, 4, 5
TYPES_ = {"stream": SOCK_STREAM, "dgram": SOCK_DGRAM, "raw": SOCK_RAW, "rdm": SOCK_RDM,
          "seqpacket": SOCK_SEQPACKET}
INET_PROTOS = {"ip": 0, "raw": 255, "icmp": 1, "igmp": 2, "tcp": 6, "udp": 17, "gre": 47,
               "esp": 50, "ah": 51, "swipe": 53, "encap": 98, "divert": 254, "pim": 103}


def _parse_word(table: dict[str, int], s: str) -> int:
    if s in table:
        return table[s]
    if s and s.isdigit() and s.isascii():
        return int(s)
    return -1


def parse_hook(hook: str) -> tuple[int, int, int]:
    """family/type/proto -> numbers; EINVAL when malformed, socreate() errors otherwise."""
    parts = hook.split("/", 2)
    if len(parts) != 3:
        raise NgError("EINVAL")
    fam = _parse_word(FAMILIES, parts[0])
    if fam == -1:
        raise NgError("EINVAL")
    typ = _parse_word(TYPES_, parts[1])
    if typ == -1:
        raise NgError("EINVAL")
    proto = _parse_word(INET_PROTOS if fam == PF_INET else {}, parts[2])
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


class SockaddrType(ParseType):
    """ng_ksocket_sockaddr_type: ``inet/a.b.c.d[:port]`` or ``local/"path"``."""

    def parse(self, s: str, off: int) -> tuple[dict[str, Any], int]:
        tok, start, ln = get_token(s, off)
        if tok != T_WORD:
            raise NgError("EINVAL")
        slash = s.find("/", start, start + ln)
        if slash < 0:
            raise NgError("EINVAL")
        fam = s[start:slash]
        i = slash + 1
        if fam == "inet":
            octets = []
            for k in range(4):
                val, end = kstrtol(s, i, 10)
                if end == i or val < 0 or val > 255 or s[i] in " \t+-":
                    raise NgError("EINVAL")
                octets.append(val)
                i = end
                if k < 3:
                    if i >= len(s) or s[i] != ".":
                        raise NgError("EINVAL")
                    i += 1
            port = 0
            if i < len(s) and s[i] == ":":
                val, end = kstrtol(s, i + 1, 10)
                if end == i + 1 or val < 0 or val > 0xFFFF:
                    raise NgError("EINVAL")
                port, i = val, end
            return {"family": "inet", "addr": ".".join(map(str, octets)), "port": port}, i
        if fam in ("local", "unix"):
            path, end = decode_string(s, i)
            return {"family": "local", "path": path}, end
        raise NgError("EINVAL")

    def unparse(self, v: dict[str, Any]) -> str:
        if v["family"] == "local":
            return "local/" + encode_string(v["path"])
        text = "inet/" + v["addr"]
        if v.get("port"):
            text += ":%d" % v["port"]
        return text

    def default(self) -> Optional[dict]:
        return None


SOCKADDR = SockaddrType()
ANY = {"family": "inet", "addr": "0.0.0.0", "port": 0}
KSOCKET_KEEP = 4  # datagrams kept per ksocket in state


def is_loopback(addr: str) -> bool:
    return addr.split(".")[0] == "127"


def _sock(node: dict) -> dict:
    if node["priv"].get("socket") is None:
        raise NgError("ENXIO")
    return node["priv"]["socket"]


def _bind(k, node, sa):
    so = _sock(node)
    if so["local"] is not None:
        raise NgError("EINVAL")
    so["local"] = sa


def _connect(k, node, sa):
    so = _sock(node)
    if so["type"] == SOCK_STREAM:
        if so["peer"] is not None:
            raise NgError("EISCONN" if so["connected"] else "EALREADY")
        so["peer"] = sa
        so["connected"] = False
        raise NgError("EINPROGRESS")
    so["peer"] = sa  # UDP: (re-)connect only records the default destination
    so["connected"] = True


def _listen(k, node, arg):
    so = _sock(node)
    if so["type"] != SOCK_STREAM:
        raise NgError("EOPNOTSUPP")
    so["listening"] = True


def _getname(k, node, arg):
    so = _sock(node)
    return so["local"] or dict(ANY)


def _getpeername(k, node, arg):
    so = _sock(node)
    if so["peer"] is None or not so["connected"]:
        raise NgError("ENOTCONN")
    return so["peer"]


class KsocketType(SelfDestructType):
    name = "ksocket"
    module = "ng_ksocket"
    cmds = {
        c.name: c
        for c in (
            Cmd("bind", 1, SOCKADDR, None, _bind),
            Cmd("listen", 2, None, None, _listen),
            Cmd("connect", 4, SOCKADDR, None, _connect),
            Cmd("getname", 5, None, SOCKADDR, _getname),
            Cmd("getpeername", 6, None, SOCKADDR, _getpeername),
        )
    }

    def init_priv(self, k, node):
        return {"socket": None}

    def newhook(self, k, node, hook):
        if node["hooks"]:
            raise NgError("EISCONN")
        fam, typ, proto = parse_hook(hook)
        node["priv"]["socket"] = {"family": fam, "type": typ, "proto": proto, "local": None,
                                  "peer": None, "connected": False}

    def rcvdata(self, ctx, node, hook, pkt):
        """ng_ksocket_rcvdata(): sosend() on the node's socket.

        Only a connected inet dgram socket whose peer is in 127.0.0.0/8 sends a real UDP
        datagram (Python's socket module). Any other destination is recorded in the node's
        state and never touches the network."""
        so = node["priv"].get("socket")
        entry: dict[str, Any] = {"ksocket": ctx.key(node), "length": len(pkt.data)}
        if ctx.cur is not None:
            ctx.cur["sent"].append(entry)
        if so is None:
            entry["error"] = "ENXIO"
            return
        peer = so.get("peer")
        if so["type"] != SOCK_DGRAM or so["family"] != PF_INET or peer is None \
                or not so["connected"]:
            entry["error"] = "ENOTCONN" if so["type"] == SOCK_DGRAM else "EDESTADDRREQ"
            so["unsent"] = so.get("unsent", 0) + 1
            return
        to = "inet/%s:%d" % (peer["addr"], peer["port"])
        entry["to"] = to
        real = is_loopback(peer["addr"]) and peer["port"] != 0
        if real:
            import socket

            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                local = so.get("local")
                if local and local.get("family") == "inet" and is_loopback(local["addr"]):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    try:
                        s.bind((local["addr"], local.get("port", 0)))
                    except OSError:
                        pass
                s.sendto(pkt.data, (peer["addr"], peer["port"]))
            except OSError as e:
                entry["error"] = e.strerror or str(e)
                real = False
            finally:
                s.close()
        entry["real"] = real
        so["sent"] = so.get("sent", 0) + 1
        last = so.setdefault("last", [])
        import base64

        last.append({"to": to, "real": real, "data": base64.b64encode(pkt.data).decode()})
        del last[:-KSOCKET_KEEP]


TYPE = KsocketType()
