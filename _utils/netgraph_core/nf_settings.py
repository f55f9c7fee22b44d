"""Reading the kernel's settings of an exporter's nodes (pure; no Salt): the read-only
messages to send (one ``ngctl -f -`` spawn for all of them) and their replies turned into
the ``settings`` part of the graph model that the planner and the status compare.
"""
from __future__ import annotations


from . import nf_sockaddr
from .nf_graph import links_norm, owned_nodes

def settings_queries(graph: dict, name: str) -> list[list[str]]:
    """Read-only messages that fetch the settings of an exporter's nodes (one spawn)."""
    owned = owned_nodes(graph, name)
    nodes = graph.get("nodes", {})
    queries = []
    for key in sorted(owned):  # the owned nodes are few: no walk over the whole graph
        node = nodes[key]
        if node["type"] == "netflow":
            queries.append([f"{key}:", "info"])
            queries.append([f"{key}:", "v9info"])
            # only the ifaceN hooks, by N: the order hook_order gives them (a stable sort)
            # (ifaceN: by str methods, not a regex: 4,000 hooks a read; isdecimal is re's \d)
            found = [(int(n), n) for hook in node.get("hooks", {})
                     if hook.startswith("iface") and (n := hook[5:]).isdecimal()]
            found.sort(key=lambda pair: pair[0])
            queries += [[f"{key}:", "ifinfo", n] for _, n in found]
        elif node["type"] == "ksocket":
            queries.append([f"{key}:", "getpeername"])
            queries.append([f"{key}:", "getname"])
        elif node["type"] == "one2many":
            queries.append([f"{key}:", "getconfig"])
    return queries


def settings_from_replies(queries: list[list[str]], replies: list[dict]) -> dict:
    """Turn netgraph.query replies into the ``settings`` part of the graph model."""
    out: dict[str, dict] = {}
    for q, r in zip(queries, replies):
        node = q[0].rstrip(":")
        st = out.setdefault(node, {})
        args = (r.get("reply") or {}).get("args") if r.get("ok") else None
        cmd = q[1]
        if cmd == "info" and isinstance(args, dict):
            st["timeouts"] = {"inactive": int(args.get("Inactive timeout", 0)), "active": int(args.get("Active timeout", 0))}
            # a flow expired: the v9 datagram it opened decided on templates (nf_model.start_template)
            st["exported"] = int(args.get("Active expiries", 0) or 0) + int(args.get("Inactive expiries", 0) or 0) > 0
        elif cmd == "v9info" and isinstance(args, dict):
            st["template"] = {"time": int(args.get("v9 template time", 0)), "packets": int(args.get("v9 template packets", 0))}
            st["mtu"] = int(args.get("v9 MTU", 0))
        elif cmd == "ifinfo":
            st.setdefault("ifaces", {})
            if isinstance(args, dict):
                st["ifaces"][int(q[2])] = {
                    "dlt": int(args.get("data link type", 0)),
                    "index": int(args.get("index", 0)),
                    "conf": int(args.get("conf", 0)),
                }
        elif cmd == "getpeername":
            st["peer"] = nf_sockaddr.canonical(args) if r.get("ok") else None
        elif cmd == "getname" and r.get("ok"):
            st.update(local_address(args))
        elif cmd == "getconfig" and isinstance(args, dict):
            st["config"] = {
                "xmitAlg": int(args.get("xmitAlg", 0)),
                "failAlg": int(args.get("failAlg", 0)),
                "enabledLinks": links_norm(args.get("enabledLinks")),
            }
    return out




def local_address(args) -> dict:
    """A ksocket's ``getname`` reply as settings: ``local`` the text (the port included:
    bind and connect take an ephemeral one) and ``source`` its address, None while it is
    the wildcard (not bound, not connected)."""
    found = nf_sockaddr.decode(args)
    if found is None:
        return {"local": nf_sockaddr.canonical(args), "source": None}
    wildcard = found["address"] in ("0.0.0.0", "::")
    return {"local": nf_sockaddr.canonical(args), "source": None if wildcard else found["address"]}
