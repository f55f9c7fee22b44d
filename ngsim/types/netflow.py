"""ng_netflow (``netflow``): hooks ifaceN/outN/export/export9, control messages of ng_netflow.h.

Per-iface settings live in ``priv["ifaces"][str(N)]`` only once touched; untouched
ifaces have the constructor's defaults (conf INGRESS, dlt 0, index 0).
"""
from __future__ import annotations

from ngsim.errors import NgError
from ngsim.ngparse import StructType, UINT8, UINT16, UINT32, UINT64
from ngsim.types import Cmd, RO_REPLY, SelfDestructType

MAXIFACES = 65535
DLT_EN10MB = 1
DLT_RAW = 12
CONF_INGRESS = 1
INACTIVE_TIMEOUT = 15
ACTIVE_TIMEOUT = 1800
TEMPL_TIME = 600
TEMPL_PACKETS = 500
BASE_MTU = 1500
MIN_MTU = 24  # sizeof(struct netflow_v5_header)
MAX_MTU = 16384

INFO = StructType([(n, UINT64) for n in (
    "IPv4 bytes", "IPv4 packets", "IPv6 bytes", "IPv6 packets",
    "IPv4 skipped bytes", "IPv4 skipped packets", "IPv6 skipped bytes", "IPv6 skipped packets",
    "Active expiries", "Inactive expiries")] + [(n, UINT32) for n in (
    "IPv4 records used", "IPv6 records used", "Failed allocations", "V5 failed exports",
    "V9 failed exports", "mbuf reallocations", "fibs allocated", "Inactive timeout",
    "Active timeout")])
IFINFO = StructType([("packets", UINT32), ("data link type", UINT8), ("index", UINT16),
                     ("conf", UINT32)])
SETDLT = StructType([("iface", UINT16), ("dlt", UINT8)])
SETIFINDEX = StructType([("iface", UINT16), ("index", UINT16)])
SETTIMEOUTS = StructType([("inactive", UINT32), ("active", UINT32)])
SETCONFIG = StructType([("iface", UINT16), ("conf", UINT32)])
SETTEMPLATE = StructType([("time", UINT16), ("packets", UINT16)])
SETMTU = StructType([("mtu", UINT16)])
V9INFO = StructType([("v9 template packets", UINT16), ("v9 template time", UINT16),
                     ("v9 MTU", UINT16)])


def hook_index(hook: str, prefix: str) -> int:
    """N of ifaceN/outN: decimal, no leading zeros, below NG_NETFLOW_MAXIFACES; else EINVAL."""
    cp = hook[len(prefix):]
    if not cp or not cp[0].isdigit() or (cp[0] == "0" and len(cp) > 1):
        raise NgError("EINVAL")
    if not (cp.isdigit() and cp.isascii()):
        raise NgError("EINVAL")
    n = int(cp)
    if n >= MAXIFACES:
        raise NgError("EINVAL")
    return n


def _iface(node: dict, n: int) -> dict:
    return node["priv"]["ifaces"].setdefault(
        str(n), {"packets": 0, "data link type": 0, "index": 0, "conf": CONF_INGRESS})


def _connected(k, node, hook: str) -> bool:
    return k.find_hook(node, hook) is not None


def _info(k, node, arg):
    p = node["priv"]
    v = dict(p["counters"])
    v["Inactive timeout"] = p["inactive"]
    v["Active timeout"] = p["active"]
    return v


def _ifinfo(k, node, n):
    if n >= MAXIFACES or not _connected(k, node, "iface%d" % n):
        raise NgError("EINVAL")
    return dict(_iface(node, n))


def _setdlt(k, node, a):
    if a["iface"] >= MAXIFACES or not _connected(k, node, "iface%d" % a["iface"]):
        raise NgError("EINVAL")
    if a["dlt"] not in (DLT_EN10MB, DLT_RAW):
        raise NgError("EINVAL")
    _iface(node, a["iface"])["data link type"] = a["dlt"]


def _setifindex(k, node, a):
    if a["iface"] >= MAXIFACES or not _connected(k, node, "iface%d" % a["iface"]):
        raise NgError("EINVAL")
    _iface(node, a["iface"])["index"] = a["index"]


def _settimeouts(k, node, a):
    node["priv"]["inactive"] = a["inactive"]
    node["priv"]["active"] = a["active"]


def _setconfig(k, node, a):
    if a["iface"] >= MAXIFACES:
        raise NgError("EINVAL")
    _iface(node, a["iface"])["conf"] = a["conf"]


def _settemplate(k, node, a):
    node["priv"]["templ_time"] = a["time"]
    node["priv"]["templ_packets"] = a["packets"]


def _setmtu(k, node, a):
    if a["mtu"] < MIN_MTU or a["mtu"] > MAX_MTU:
        raise NgError("EINVAL")
    node["priv"]["mtu"] = a["mtu"]


def _v9info(k, node, arg):
    p = node["priv"]
    return {"v9 template packets": p["templ_packets"], "v9 template time": p["templ_time"],
            "v9 MTU": p["mtu"]}


class NetflowType(SelfDestructType):
    name = "netflow"
    module = "ng_netflow"
    cmds = {
        c.name: c
        for c in (
            Cmd("info", 1 | RO_REPLY, None, INFO, _info),
            Cmd("ifinfo", 2 | RO_REPLY, UINT16, IFINFO, _ifinfo),
            Cmd("setdlt", 4, SETDLT, None, _setdlt),
            Cmd("setifindex", 5, SETIFINDEX, None, _setifindex),
            Cmd("settimeouts", 6, SETTIMEOUTS, None, _settimeouts),
            Cmd("setconfig", 7, SETCONFIG, None, _setconfig),
            Cmd("settemplate", 8, SETTEMPLATE, None, _settemplate),
            Cmd("setmtu", 9, SETMTU, None, _setmtu),
            Cmd("v9info", 10 | RO_REPLY, None, V9INFO, _v9info),
        )
    }

    def init_priv(self, k, node):
        counters = {name: 0 for name, _ in INFO.fields
                    if name not in ("Inactive timeout", "Active timeout")}
        return {"inactive": INACTIVE_TIMEOUT, "active": ACTIVE_TIMEOUT,
                "templ_time": TEMPL_TIME, "templ_packets": TEMPL_PACKETS, "mtu": BASE_MTU,
                "ifaces": {}, "counters": counters}

    def newhook(self, k, node, hook):
        if hook.startswith("iface"):
            hook_index(hook, "iface")
        elif hook.startswith("out"):
            hook_index(hook, "out")
        elif hook not in ("export", "export9"):
            raise NgError("EINVAL")

    def connected(self, k, node, hook):
        if hook.startswith("iface"):
            _iface(node, hook_index(hook, "iface"))["data link type"] = DLT_EN10MB

    def close(self, k, node):
        """ng_netflow_close -> ng_netflow_cache_flush: flows and pending datagrams are
        exported before the hooks go (the export code loads only when there is any)."""
        p = node["priv"]
        fe = p.get("fe")
        if p.get("cache") or (fe and (fe.get("item") or fe.get("item9"))):
            from ngsim.traffic import netflow_flush

            netflow_flush(k, node)

    def forward(self, k, node, hook):
        if hook.startswith("iface"):
            return ["out" + hook[5:]]
        if hook.startswith("out"):
            return ["iface" + hook[3:]]
        return []


TYPE = NetflowType()
