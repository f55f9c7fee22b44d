"""The planned or live graph as Graphviz DOT, for people (pure; no Salt): records with
name and type, labelled links, added parts green, removed parts red and dashed, the
exporters' own nodes filled; ``exporter_dot``: only some exporters' part of the live graph,
their ksockets labelled with the collectors they send to, their ipfw hooks with the rules
and interfaces that feed them. (ngctl's own ``dot`` is ``netgraph.dot``.)
"""
from __future__ import annotations

import re

from . import nf_sockaddr
from .nf_graph import owned_nodes
from .nf_model import owned_name_re

_FEED_RE = re.compile(r"(?:ngtee|netgraph) (\d+)\b")
_IFACE_RE = re.compile(r"\b(?:via|recv|xmit) (\S+)")


def _edges(nodes: dict) -> set:
    out = set()
    for key, node in nodes.items():
        for hook, peer in node.get("hooks", {}).items():
            out.add(tuple(sorted([(key, hook), (peer["peer"], peer["peer_hook"])])))
    return out


def _q(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _record(*fields: str) -> str:
    """A record label ``{a|b|...}`` as a DOT string: in each field, backslashes and the
    record's own marks (``{}|<>``) escaped for the record parser, quotes for DOT."""
    text = "|".join(re.sub(r"([\\{}|<>])", r"\\\1", f) for f in fields)
    return '"{' + text.replace('"', '\\"') + '}"'


def plan_dot(current: dict, planned: dict, name, notes: dict | None = None, extra: list | None = None) -> str:
    """The planned graph as Graphviz DOT: added parts green, removed parts red and dashed,
    the exporters' own nodes filled. ``current``/``planned`` use netgraph.graph's shape;
    ``name`` is an exporter name or a list of them. With ``planned`` equal to the current
    nodes it draws the live graph with our nodes marked. ``notes``: node -> one more line
    of its label; ``extra``: DOT lines drawn too."""
    names = [name] if isinstance(name, str) else list(name)
    patterns = [owned_name_re(n) for n in names]

    class _Owned:
        @staticmethod
        def match(key: str) -> bool:
            return any(p.fullmatch(key) for p in patterns)

    owned = _Owned
    cur, new = current.get("nodes", {}), planned
    keys = [k for k in cur if k in new] + [k for k in new if k not in cur] + [k for k in cur if k not in new]

    q, notes = _q, notes or {}
    lines = ["graph netgraph_plan {", "\trankdir = LR;", "\tnode [ shape = record, fontsize = 12 ];"]
    for key in keys:
        node = new.get(key) or cur.get(key)
        attrs = [f"label = {_record(key + ':', node['type'], *([notes[key]] if key in notes else []))}"]
        if owned.match(key):
            attrs.append('style = "filled' + (',dashed' if key not in new else '') + '"')
            attrs.append('fillcolor = "lightblue"')
        elif key not in new:
            attrs.append('style = "dashed"')
        if key not in cur:
            attrs += ['color = "darkgreen"', "penwidth = 2"]
        elif key not in new:
            attrs.append('color = "red"')
        lines.append(f"\t{q(key)} [ {', '.join(attrs)} ];")
    old_e, new_e = _edges(cur), _edges(new)
    for edge in sorted(old_e | new_e):
        (a, ha), (b, hb) = edge
        attrs = [f"label = {q(ha + ' - ' + hb)}", "fontsize = 9"]
        if edge not in old_e:
            attrs += ['color = "darkgreen"', "penwidth = 2"]
        elif edge not in new_e:
            attrs += ['color = "red"', 'style = "dashed"']
        lines.append(f"\t{q(a)} -- {q(b)} [ {', '.join(attrs)} ];")
    lines += extra or []
    lines.append("}")
    return "\n".join(lines) + "\n"


def exporter_dot(graph: dict, names: list, settings: dict, read_rules) -> str:
    """The live graph of exporters ``names`` only: their nodes (``owned_nodes``: name, type
    and place) filled, the nodes they link to (interfaces, the ipfw node) with those links
    only; each ksocket labelled with the collector it sends to (``settings``: node ->
    ``{"peer": ...}`` as nf_settings reads it) and each ipfw hook of theirs with the rules
    that feed it and the interface they name (``read_rules()``: netgraph.ipfw_rules, called
    only when the ipfw node is linked to theirs)."""
    nodes = graph.get("nodes", {})
    ours = set().union(set(), *(owned_nodes(graph, n) for n in names))
    near = {p["peer"] for k in ours for p in nodes[k].get("hooks", {}).values()} - ours
    keep = {}
    for key, node in nodes.items():
        if key in ours or key in near:
            hooks = {h: p for h, p in node.get("hooks", {}).items() if key in ours or p["peer"] in ours}
            keep[key] = {**node, "hooks": hooks}
    notes = {}
    for key in sorted(ours):
        if keep[key]["type"] == "ksocket":
            peer = nf_sockaddr.label((settings.get(key) or {}).get("peer"))
            notes[key] = f"to {peer}" if peer else "not connected"
    rules = read_rules() if keep.get("ipfw", {}).get("hooks") else []
    return plan_dot({"nodes": keep}, keep, names, notes, _ipfw_feeds(keep.get("ipfw"), rules))


def _ipfw_feeds(ipfw: dict | None, rules: list) -> list:
    """DOT lines: one box per ipfw rule that tees into a drawn hook of the ipfw node, with
    the interface the rule names (``via``/``recv``/``xmit``; "any interface" without)."""
    hooks = set((ipfw or {}).get("hooks", {}))
    lines = []
    for rule in rules:
        feed = _FEED_RE.match(rule["text"])
        if not feed or feed.group(1) not in hooks:
            continue
        iface = _IFACE_RE.search(rule["text"])
        key = f"ipfw rule {rule['rule']}"
        label = _record(iface.group(1) if iface else "any interface", f"{key}: {rule['text']}")
        lines.append(f'\t{_q(key)} [ label = {label}, style = "dashed" ];')
        lines.append(f'\t{_q(key)} -- "ipfw" [ label = {_q("hook " + feed.group(1))}, fontsize = 9 ];')
    return lines
