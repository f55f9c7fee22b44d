"""ng_one2many (``one2many``): hooks one and many0..many63; whole-struct setconfig.

Data path (ng_one2many_rcvdata): from ``one`` by xmitAlg (ROUNDROBIN, ALL, FAILOVER) over
the active links in link order; from ``manyN`` out of ``one``.
"""
from __future__ import annotations

from ngsim.datapath import send
from ngsim.errors import NgError
from ngsim.ngparse import ArrayType, INT32, StructType, UINT8, UINT32, UINT64
from ngsim.nodetype import CmdList, SelfDestructType, netgraph_init

CMDS = CmdList()  # ng_one2many_cmds[]

MAX_LINKS = 64
XMIT_ROUNDROBIN, XMIT_ALL, XMIT_FAILOVER = 1, 2, 3
FAIL_MANUAL, FAIL_NOTIFY = 1, 2

CONFIG = StructType([
    ("xmitAlg", UINT32),
    ("failAlg", UINT32),
    ("enabledLinks", ArrayType(UINT8, MAX_LINKS)),
])
STATS = StructType([
    ("recvOctets", UINT64),
    ("recvPackets", UINT64),
    ("xmitOctets", UINT64),
    ("xmitPackets", UINT64),
    ("memoryFailures", UINT64),
])


def link_num(hook: str) -> int:
    """-1 for ``one``, N for ``manyN``; EINVAL otherwise (no leading zeros, N < 64)."""
    if hook == "one":
        return -1
    if hook.startswith("many"):
        cp = hook[4:]
        if cp and cp.isdigit() and cp.isascii() and not (cp[0] == "0" and len(cp) > 1):
            n = int(cp)
            if n < MAX_LINKS:
                return n
    raise NgError("EINVAL")


@CMDS.msg("setconfig", 1, CONFIG, None)
def _setconfig(k, node, conf):
    if conf["xmitAlg"] not in (XMIT_ROUNDROBIN, XMIT_ALL, XMIT_FAILOVER):
        raise NgError("EINVAL")
    if conf["failAlg"] not in (FAIL_MANUAL, FAIL_NOTIFY):
        raise NgError("EINVAL")
    node["priv"]["conf"] = conf


@CMDS.msg("getconfig", 2, None, CONFIG)
def _getconfig(k, node, arg):
    return node["priv"]["conf"]


@CMDS.msg("getclrstats", 5, INT32, STATS)  # the same reply: ngsim keeps no link statistics
@CMDS.msg("getstats", 3, INT32, STATS)
def _getstats(k, node, arg):
    if arg < -1 or arg >= MAX_LINKS:
        raise NgError("EINVAL")
    return STATS.default()


@CMDS.msg("clrstats", 4, INT32, None)
def _clrstats(k, node, arg):
    if arg < -1 or arg >= MAX_LINKS:
        raise NgError("EINVAL")


class One2ManyType(SelfDestructType):
    name = "one2many"
    module = "ng_one2many"
    cmds = CMDS

    def init_priv(self, k, node):
        return {"conf": {"xmitAlg": XMIT_ROUNDROBIN, "failAlg": FAIL_MANUAL,
                         "enabledLinks": [0] * MAX_LINKS}}

    def newhook(self, k, node, hook):
        n = link_num(hook)
        if n >= 0:
            node["priv"]["conf"]["enabledLinks"][n] = 1

    def disconnect(self, k, node, hook):
        try:
            n = link_num(hook)
        except NgError:
            n = -1
        if n >= 0:
            node["priv"]["conf"]["enabledLinks"][n] = 0
        super().disconnect(k, node, hook)

    def forward(self, k, node, hook):
        if hook == "one":
            conf = node["priv"]["conf"]
            links = [h[0] for h in node["hooks"] if h[0] != "one"
                     and conf["enabledLinks"][link_num(h[0])]]
            if conf["xmitAlg"] == XMIT_FAILOVER:
                return sorted(links, key=link_num)[:1]
            return links  # ALL copies; round-robin spreads frames over every link
        return ["one"]

    def rcvdata(self, ctx, node, hook, pkt):
        """ng_one2many_rcvdata(): from ``one`` by xmitAlg over the active (connected and
        enabled) many links in link order; from ``manyN`` out of ``one``."""
        if hook != "one":
            send(ctx, node, "one", pkt)
            return
        conf = node["priv"]["conf"]
        active = sorted(link_num(h[0]) for h in node["hooks"]
                        if h[0] != "one" and conf["enabledLinks"][link_num(h[0])])
        if not active:
            ctx.drop("%s: no active many link" % ctx.key(node))
            return
        if conf["xmitAlg"] == XMIT_ALL:
            for i, n in enumerate(active):
                send(ctx, node, "many%d" % n, pkt if i == 0 else pkt.dup())
        elif conf["xmitAlg"] == XMIT_FAILOVER:
            send(ctx, node, "many%d" % active[0], pkt)
        else:  # ROUNDROBIN: priv->nextLink over activeLinks[]
            nxt = node["priv"].get("next_link", 0)
            if nxt >= len(active):
                nxt = 0
            node["priv"]["next_link"] = (nxt + 1) % len(active)
            send(ctx, node, "many%d" % active[nxt], pkt)


TYPE = netgraph_init(One2ManyType())  # NETGRAPH_INIT
