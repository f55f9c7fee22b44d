"""The planned or live graph as Graphviz DOT, for people (pure; no Salt): records with
name and type, labelled links, added parts green, removed parts red and dashed, the
exporters' own nodes filled. (ngctl's own ``dot`` is ``netgraph.dot``.)
"""
from __future__ import annotations

from .nf_model import owned_name_re


def _edges(nodes: dict) -> set:
    out = set()
    for key, node in nodes.items():
        for hook, peer in node.get("hooks", {}).items():
            out.add(tuple(sorted([(key, hook), (peer["peer"], peer["peer_hook"])])))
    return out


def plan_dot(current: dict, planned: dict, name) -> str:
    """The planned graph as Graphviz DOT: added parts green, removed parts red and dashed,
    the exporters' own nodes filled. ``current``/``planned`` use netgraph.graph's shape;
    ``name`` is an exporter name or a list of them. With ``planned`` equal to the current
    nodes it draws the live graph with our nodes marked."""
    names = [name] if isinstance(name, str) else list(name)
    patterns = [owned_name_re(n) for n in names]

    class _Owned:
        @staticmethod
        def match(key: str) -> bool:
            return any(p.fullmatch(key) for p in patterns)

    owned = _Owned
    cur, new = current.get("nodes", {}), planned
    keys = [k for k in cur if k in new] + [k for k in new if k not in cur] + [k for k in cur if k not in new]

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = ["graph netgraph_plan {", "\trankdir = LR;", "\tnode [ shape = record, fontsize = 12 ];"]
    for key in keys:
        node = new.get(key) or cur.get(key)
        attrs = [f"label = {q('{' + key + ':|' + node['type'] + '}')}"]
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
    lines.append("}")
    return "\n".join(lines) + "\n"
