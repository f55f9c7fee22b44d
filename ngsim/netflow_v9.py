"""ng_netflow's NetFlow v9 export as ``sys/netgraph/netflow/netflow_v9.c`` has it
(FreeBSD 14): ``get_export9_dgram`` (a new datagram carries the templates when
``time_uptime >= templ_time + templ_last_ts`` or ``sent_packets >= templ_packets +
templ_last_pkt``), ``export9_add`` (the flow's record goes in; a full datagram is sent)
and ``export9_send`` (seq_num = fetchadd(flow9_seq, 1) per datagram, source_id =
domain_id). The bytes of the records, flowsets and header are ``ngsim.export``'s; the
cache that expires flows into here is ``ngsim.netflow_cache`` (netflow.c).

Imported at every ngctl spawn (through the node type): ``ngsim.export`` only when a
flow is exported.
"""
from __future__ import annotations

from ngsim.datapath import send_datagram, unix_time, uptime

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only
    from ngsim.datapath import Ctx


def export9_add(ctx: Ctx, node: dict, fe: dict, fle: list) -> None:
    """The v9 half of expire_flow(): get_export9_dgram() (a new datagram decides whether
    it carries the templates), export9_add() (append the record), and export9_send()
    once the datagram is full."""
    from ngsim import export as nfx

    p = node["priv"]
    it9 = fe["item9"]
    if it9 is None:
        now = uptime(ctx.k.st)
        it9 = {"mtu": p["mtu"], "templ": False, "recs": []}
        if now >= p["templ_time"] + fe["templ_last_ts"] or \
                fe["sent_packets"] >= p["templ_packets"] + fe["templ_last_pkt"]:
            fe["templ_last_ts"] = now
            fe["templ_last_pkt"] = fe["sent_packets"]
            it9["templ"] = True
    it9["recs"].append(list(fle))
    if nfx.v9_full(it9["templ"], it9["recs"], it9["mtu"]):
        fe["item9"] = None
        export9_send(ctx, node, fe, it9)
    else:
        fe["item9"] = it9


def export9_send(ctx: Ctx, node: dict, fe: dict, it9: dict) -> None:
    """export9_send(): seq_num = fetchadd(flow9_seq, 1); source_id = domain_id."""
    from ngsim import export as nfx

    st = ctx.k.st
    seq = fe["flow9_seq"]
    fe["flow9_seq"] = (seq + 1) & 0xFFFFFFFF
    data = nfx.v9_datagram(it9["recs"], it9["templ"], uptime(st), unix_time(st), seq,
                           fe["domain_id"])
    info = {"version": 9, "records": len(it9["recs"]), "templates": it9["templ"], "seq": seq}
    n6 = sum(1 for e in it9["recs"] if nfx.is6(e))
    if n6:
        info["ipv6 records"] = n6
    send_datagram(ctx, node, "export9", data, info)
