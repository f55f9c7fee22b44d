"""The planner (pure; no Salt): the ngctl lines that turn the live graph into the declared
one (``diff``) and those that remove an exporter (``absent_plan``). The ipfw rules are
nf_ipfw's, the rollback after a failed batch nf_rollback's, the boot script nf_boot's.

``diff`` runs in named phases on a :class:`nf_graph.PlanGraph` (a copy of the live
graph that follows ng_base's rules), so each emitted line is valid where it stands:

1. ``remove_undeclared``: shut down our nodes that are not declared or have the wrong type;
2. ``attach_interfaces``: per interface free the hooks (takeover rules), then connect
   ``lower`` and ``upper`` on adjacent lines (the first ``mkpeer`` creates the netflow node);
3. ``set_netflow``: timeouts, template, MTU, per-iface dlt/index/conf by message, in place;
4. ``build_collectors``: ksocket or one2many + ksockets per version, peers by ``connect``;
5. ``drop_stale_hooks``: iface/out pairs of interfaces no longer declared (adds came
   first, so the netflow node never loses its last hook);
6. ``retire_taken_over``: foreign nodes taken over that serve no interface any more.
"""
from __future__ import annotations

import copy
import re
from typing import Any

from .nf_graph import PlanGraph, ether_passes, fmt_struct, hook_order, links_norm, other_exporter, owned_nodes
from . import nf_links
from . import nf_sockaddr
from .nf_ipfw import ipfw_hook_taken
from .nf_model import ConflictError, node_names


class Diff:
    """One exporter's planning run: the simulated graph, the declared graph, the readable
    changes. A host plan (nf_host) runs several on one shared ``sim``; ``released(other,
    "node:hook")`` says whether exporter ``other`` of the same plan gives that attach point
    up (an interface moved between exporters), so this run may take it."""

    def __init__(self, current: dict, want: dict, takeover: bool, extra_owned=(), ifnames=None,
                 sim: PlanGraph | None = None, released=None):
        self.name = want["name"]
        self.current = current
        self.ours = owned_nodes(current, self.name) | set(extra_owned)
        self.ifnames = ifnames or {}
        self.sim = sim or PlanGraph(current, current.get("settings", {}))
        self.released = released or (lambda other, point: False)
        self.nf = node_names(self.name)["netflow"]
        self.want = want
        self.dnodes = want["nodes"]
        self.takeover = takeover
        self.touched_foreign: set[str] = set()
        self.replaced: dict[str, dict] = {}  # ksocket -> its settings before _stale_socket replaced it
        self.changes: dict[str, Any] = {"nodes_added": [], "nodes_removed": [], "hooks_added": [],
                                        "hooks_removed": [], "settings": {}, "rejoined": []}
        self.rejoined: list[list[str]] = []

    def is_owned(self, node: str) -> bool:
        """Ours by name, type and position in the live graph (nf_graph.owned_nodes), a
        journal-proven leftover, or made by this run (one of its declared nodes: the sim
        may be shared with other exporters' runs)."""
        return node in self.ours or (node in self.sim.created and not self.dnodes.get(node, {"foreign": True}).get("foreign"))

    def _setting(self, key: str, old, new) -> None:
        self.changes["settings"][key] = {"old": old, "new": new}

    def _shutdown(self, node: str) -> None:
        self.changes["nodes_removed"].append(node)
        self.sim.shutdown(node)

    def free(self, node: str, hook: str, want_peer: tuple) -> None:
        """Make (node, hook) free or connected to want_peer; takeover rules for foreign."""
        sim = self.sim
        if not sim.exists(node):
            return
        cur = sim.peer(node, hook)
        if cur is None or cur == want_peer:
            return
        occupant = cur[0]
        other = other_exporter(self.current, self.name, occupant) if not self.is_owned(node) else None
        if other and self.released(other, f"{node}:{hook}"):
            other = None  # moved here from an exporter of the same host plan that gives it up
        elif node == "ipfw" and not self.is_owned(occupant):  # a hook number is one exporter's, takeover or not
            raise ConflictError(ipfw_hook_taken(self.current, self.name, hook, self.ifnames.get(f"ipfw:{hook}", "?")))
        elif other:
            where = self.ifnames.get(f"{node}:{hook}", node)
            raise ConflictError(
                f"interface {where} ({node}:{hook}) belongs to exporter {other} (node {occupant}); one "
                f"interface belongs to one exporter, so exporter {self.name} never takes it, takeover or "
                f"not: remove {where} from exporter {other} first"
            )
        elif not self.is_owned(occupant) and not self.is_owned(node):
            otype = sim.nodes.get(occupant, {}).get("type", "?")
            if not self.takeover:
                raise ConflictError(
                    f"{node}:{hook} is connected to {occupant} ({otype}) hook {cur[1]}, a node this "
                    f"exporter does not own; set takeover: true to replace it"
                )
            self.touched_foreign.add(occupant)
        self.changes["hooks_removed"].append(f"{node}:{hook} <-> {cur[0]}:{cur[1]}")
        sim.rmhook(node, hook)

    # 0 ---------------------------------------------------------------------------------
    def check_names(self) -> None:
        """A name this exporter gives one of its nodes, held by a node that is not ours
        (an interface called lan_v9_0, a ksocket of someone else's): refuse, touch nothing."""
        for node, spec in sorted(self.dnodes.items()):
            live = self.current.get("nodes", {}).get(node)
            if spec.get("foreign") or live is None or node in self.ours:
                continue
            raise ConflictError(
                f"node {node} ({live.get('type')}) has a name exporter {self.name} gives its own "
                f"{spec.get('type')} node, but is not one of its nodes (wrong type or position); "
                "it is left alone: rename it or pick another exporter name"
            )

    # 1 ---------------------------------------------------------------------------------
    def remove_undeclared(self) -> None:
        """Our nodes that must go: not declared, or of the wrong type."""
        for node in sorted(n for n in list(self.sim.nodes) if self.is_owned(n)):
            if not self.sim.exists(node):
                continue
            if node not in self.dnodes or self.dnodes[node].get("type") != self.sim.nodes[node]["type"]:
                self._shutdown(node)

    # 2 ---------------------------------------------------------------------------------
    def _attachments(self) -> list[tuple[str, list[tuple[str, str]]]]:
        """(foreign node, [(its hook, netflow hook)]): ether lower before upper, ipfw per hook."""
        groups: dict[str, list[tuple[str, str]]] = {}
        for hook, peer in sorted(self.dnodes[self.nf]["hooks"].items(), key=lambda kv: hook_order(kv[0])):
            if self.dnodes.get(peer["peer"], {}).get("foreign"):
                groups.setdefault(peer["peer"], []).append((peer["peer_hook"], hook))
        ordered = []
        for fnode, pairs in groups.items():
            if fnode == "ipfw":
                ordered += [(fnode, [p]) for p in pairs]
            else:
                ordered.append((fnode, sorted(pairs, key=lambda p: p[0] != "lower")))
        return ordered

    def attach_interfaces(self) -> None:
        sim, nf = self.sim, self.nf
        for fnode, pairs in self._attachments():
            if not sim.exists(fnode):
                raise ConflictError(f"{fnode}: no such netgraph node (interface missing or module not loaded)")
            if all(sim.peer(fnode, fh) == (nf, nh) for fh, nh in pairs):
                continue
            for fh, nh in pairs:
                self.free(fnode, fh, (nf, nh))
                self.free(nf, nh, (fnode, fh))
            for fh, nh in pairs:
                if sim.peer(fnode, fh) == (nf, nh):
                    continue
                if not sim.exists(nf):
                    sim.mkpeer(fnode, "netflow", fh, nh, nf)
                    self.changes["nodes_added"].append(nf)
                else:
                    sim.connect(fnode, fh, nf, nh)
                self.changes["hooks_added"].append(f"{fnode}:{fh} <-> {nf}:{nh}")

    # 3 ---------------------------------------------------------------------------------
    def set_netflow(self) -> None:
        """netflow settings by message, in place (the flow cache survives)."""
        sim, nf = self.sim, self.nf
        st = sim.settings.setdefault(nf, {})
        dst = self.want["settings"][nf]
        for key, msg in (("timeouts", "settimeouts"), ("template", "settemplate")):
            if st.get(key) != dst[key]:
                self._setting(f"{nf}.{key}", st.get(key), dst[key])
                fields = {"inactive": dst[key]["inactive"], "active": dst[key]["active"]} if key == "timeouts" else dst[key]
                sim.msg(nf, msg, *fmt_struct(fields))
                st[key] = dict(dst[key])
        if st.get("mtu") != dst["mtu"]:
            self._setting(f"{nf}.mtu", st.get("mtu"), dst["mtu"])
            sim.msg(nf, "setmtu", *fmt_struct({"mtu": dst["mtu"]}))
            st["mtu"] = dst["mtu"]
        for idx, dif in sorted(dst["ifaces"].items()):
            cif = st.setdefault("ifaces", {}).get(idx) or {}
            for key, msg in (("dlt", "setdlt"), ("index", "setifindex"), ("conf", "setconfig")):
                if cif.get(key) != dif[key]:
                    self._setting(f"{nf}.iface{idx}.{key}", cif.get(key), dif[key])
                    sim.msg(nf, msg, *fmt_struct({"iface": idx, key: dif[key]}))
                    cif[key] = dif[key]
            st["ifaces"][idx] = cif

    # 4 ---------------------------------------------------------------------------------
    def build_collectors(self) -> None:
        """ksocket (one collector) or one2many + ksockets (several), per version."""
        tops = [n for n, d in self.dnodes.items() if not d.get("foreign") and n != self.nf and re.fullmatch(r".*_v[59]", n)]
        for top in tops:
            children = self._collector_tree(top)
            if self.dnodes[top]["type"] == "one2many":
                self._drop_stale_links(top)
            for sock in [top] + children:
                if self.dnodes[sock]["type"] == "ksocket":
                    self._point_ksocket(sock)
            if self.dnodes[top]["type"] == "one2many":
                self._configure_fanout(top)

    def _collector_tree(self, top: str) -> list[str]:
        sim, nf, dtop = self.sim, self.nf, self.dnodes[top]
        ehook = next(h for h, p in self.dnodes[nf]["hooks"].items() if p["peer"] == top)
        thook = self.dnodes[nf]["hooks"][ehook]["peer_hook"]
        if sim.exists(top) and (sim.peer(top, thook) != (nf, ehook) or self._stale_socket(top)):
            self._shutdown(top)
        if not sim.exists(top):
            self.free(nf, ehook, (top, thook))
            sim.mkpeer(nf, dtop["type"], ehook, thook, top)
            self.changes["nodes_added"].append(top)
        children = sorted(((h, p["peer"], p["peer_hook"]) for h, p in dtop["hooks"].items() if h.startswith("many")),
                          key=lambda hp: int(hp[0][4:]))
        for hook, child, chook in children:
            if sim.exists(child) and (sim.peer(child, chook) != (top, hook) or self._stale_socket(child)):
                self._shutdown(child)
            if not sim.exists(child):
                self.free(top, hook, (child, chook))
                sim.mkpeer(top, "ksocket", hook, chook, child)
                self.changes["nodes_added"].append(child)
        return [child for _, child, _ in children]

    def _stale_socket(self, sock: str) -> bool:
        """Must this live ksocket be replaced (the netflow node stays)? Its hook (family)
        is checked by the caller; here its source. A UDP socket binds once (in_pcbbind:
        EINVAL when bound, also implicitly by a connect) and a re-connect clears the bound
        address (udp_disconnect/in_pcbdisconnect), so: bound elsewhere or not bound while a
        source is declared, bound right but connected elsewhere, or still bound to a source
        the pillar dropped (``unbind``)."""
        if self.dnodes[sock]["type"] != "ksocket" or self.sim.nodes[sock]["type"] != "ksocket":
            return False
        want, have = self.want["settings"][sock], self.sim.settings.get(sock, {})
        if want.get("source") is None:
            stale = want.get("unbind") is not None and have.get("source") == want["unbind"]
        else:
            stale = have.get("source") != want["source"] or have.get("peer") not in (None, want["peer"])
        if stale:
            self.replaced[sock] = dict(have)
        return stale

    def _drop_stale_links(self, top: str) -> None:
        """Fan-out links of removed collectors: the ksocket goes with its hook."""
        sim = self.sim
        for hook in sorted(h for h in list(sim.nodes[top]["hooks"]) if h not in self.dnodes[top]["hooks"]):
            peer = sim.peer(top, hook)
            if peer and self.is_owned(peer[0]) and sim.exists(peer[0]):
                self._shutdown(peer[0])
            elif peer:
                self.changes["hooks_removed"].append(f"{top}:{hook} <-> {peer[0]}:{peer[1]}")
                sim.rmhook(top, hook)

    def _point_ksocket(self, sock: str) -> None:
        """bind (a declared source, port 0: an ephemeral port) before connect, on a new
        socket only (_stale_socket replaced any other); connect when the peer differs."""
        want = self.want["settings"][sock]
        st = self.sim.settings.setdefault(sock, {})
        old = self.replaced.get(sock, st)
        if old.get("source") != want.get("source") and (want.get("source") or sock in self.replaced):
            self._setting(f"{sock}.source", old.get("source"), want.get("source"))
        if want.get("source") and st.get("source") != want["source"]:
            self.sim.msg(sock, "bind", *nf_sockaddr.text(want["source"]).split())
            st["source"] = want["source"]
        if st.get("peer") != want["peer"]:
            if old.get("peer") != want["peer"]:
                self._setting(f"{sock}.peer", old.get("peer"), want["peer"])
            # A UDP socket may be connected again: FreeBSD's soconnectat() disconnects
            # first for protocols without PR_CONNREQUIRED, so this re-targets in place.
            self.sim.msg(sock, "connect", *want["peer"].split())
            st["peer"] = want["peer"]
            if want.get("resolved"):
                self.changes.setdefault("resolved", {})[want["resolved"]["name"]] = want["resolved"]["address"]

    def _configure_fanout(self, top: str) -> None:
        dcfg = self.want["settings"][top]["config"]
        ccfg = self.sim.settings.get(top, {}).get("config", {})
        if (ccfg.get("xmitAlg"), ccfg.get("failAlg"), links_norm(ccfg.get("enabledLinks"))) != (
            dcfg["xmitAlg"], dcfg["failAlg"], links_norm(dcfg["enabledLinks"])
        ):
            self._setting(f"{top}.config", ccfg or None, dcfg)
            self.sim.msg(top, "setconfig", *fmt_struct(dcfg))
            self.sim.settings[top]["config"] = copy.deepcopy(dcfg)

    # 5 ---------------------------------------------------------------------------------
    def drop_stale_hooks(self) -> None:
        """Hook pairs of interfaces that left the list, adjacent."""
        sim, nf = self.sim, self.nf
        if not sim.exists(nf):
            return
        stale = sorted((h for h in sim.nodes[nf]["hooks"] if h not in self.dnodes[nf]["hooks"]), key=hook_order)
        # a foreign chain spliced in front of (or behind) a stale pair, e.g. an ng_tee tap
        # em0:lower -> tap, tap:left -> iface1: joined to what it reached through us
        pairs = nf_links.rejoins(sim, nf, set(stale))
        for hook in stale:
            if not sim.exists(nf) or sim.peer(nf, hook) is None:
                continue
            peer = sim.peer(nf, hook)
            self.changes["hooks_removed"].append(f"{nf}:{hook} <-> {peer[0]}:{peer[1]}")
            if self.is_owned(peer[0]):
                self._shutdown(peer[0])
            else:
                sim.rmhook(nf, hook)
            self._rejoin(pairs)

    def _rejoin(self, pairs: list) -> None:
        """Connect the re-join pairs whose two hooks are free now (adjacent to the cut)."""
        for link in nf_links.relink(self.sim, pairs):
            self.rejoined.append(link)
            self.changes["rejoined"].append(nf_links.link_text(link))

    # 6 ---------------------------------------------------------------------------------
    def retire_taken_over(self) -> None:
        """Foreign nodes taken over: shut down those left serving no interface (on no
        interface's path, nf_links.serving: one behind an ng_tee of another interface
        still serves it), until none is left."""
        sim, retired = self.sim, bool(self.touched_foreign)  # none taken over: no walk of every path
        while retired:
            retired, serving = False, nf_links.serving(sim)
            for node in sorted(self.touched_foreign):
                if sim.exists(node) and sim.nodes[node]["type"] not in ("ether", "ipfw") and node not in serving:
                    self._shutdown(node)
                    retired = True
                    break

    def checked(self) -> dict:
        """The plan's checks (every interface of ours passes; no interface that passes now
        is cut off after), then its node-level ``changes``: what a host plan needs."""
        sim = self.sim
        attached = {p["peer"] for p in self.dnodes[self.nf]["hooks"].values()}
        for ether in [n for n, d in sim.nodes.items() if d["type"] == "ether"]:
            if ether in attached and not ether_passes(sim, ether):
                raise AssertionError(f"planner bug: {ether} would not pass traffic")  # pragma: no cover
        if sim.commands:  # every change of the graph is a command: none, and it is the graph as it is
            nf_links.check_no_new_cut(PlanGraph(self.current, {}), sim, self.name, self.ours)
        return {k: v for k, v in self.changes.items() if v}

    def result(self) -> dict:
        changes, sim, before = self.checked(), self.sim, PlanGraph(self.current, {})
        planned = {k: {"type": v["type"], "hooks": {h: {"peer": p[0], "peer_hook": p[1]} for h, p in v["hooks"].items()}}
                   for k, v in sim.nodes.items()}
        return {"commands": sim.commands, "created": sim.created, "named_at": sim.named_at, "changes": changes,
                "planned": planned, "restore": nf_links.restore_info(before, sim, self.rejoined),
                "cut_before": nf_links.cut_off(before)}


PHASES = ("check_names", "remove_undeclared", "attach_interfaces", "set_netflow", "build_collectors",
          "drop_stale_hooks", "retire_taken_over")


def diff(current: dict, want: dict, takeover: bool = False, extra_owned=(), ifnames=None) -> dict:
    """Ordered ngctl command lines (lists of words) that turn ``current`` into ``want``.

    ``current`` is ``netgraph.graph()`` plus ``settings`` read from the exporter's nodes.
    Raises ConflictError when a needed hook is held by a node this exporter does not own
    and ``takeover`` is false, when it is held by another exporter's netflow node
    (takeover or not), or when a name of ours is held by a node that is not ours.
    ``extra_owned`` are unnamed nodes proven ours by a journal (``leftovers``);
    ``ifnames`` maps ``node:hook`` to interface names for messages (``attach_points``).
    Interface attachments are created with their two hooks on adjacent lines, so no
    ``ngctl -f`` boundary ever leaves an interface half-connected.
    """
    run = Diff(current, want, takeover, extra_owned, ifnames)
    for phase in PHASES:
        getattr(run, phase)()
    return run.result()


def attach_points(cfg: dict) -> dict:
    """``node:hook`` -> interface name for every hook the exporter attaches to:
    ``{"em0:lower": "em0", "em0:upper": "em0", "ipfw:1000": "tun0"}``."""
    out = {}
    for i in cfg["interfaces"]:
        hooks = ("lower", "upper") if i["attach"] == "ether" else (str(i["ipfw_hook"]),)
        out.update({f"{i['node']}:{h}": i["name"] for h in hooks})
    return out


def absent_plan(graph: dict, name: str, extra_owned=(), sim: PlanGraph | None = None) -> dict:
    """The batch that removes exporter ``name``'s nodes from ``graph`` (nf_graph.owned_nodes,
    plus unnamed leftovers a journal proves ours): the netflow node first (its shutdown
    restores ng_ether passthrough at once), then what is left. A foreign chain spliced
    around a netflow node of ours (an ng_tee tap between em0:lower and iface0) is
    re-joined on the line after its shutdown (``rejoined``); a plan that would still cut
    an interface off is refused (ConflictError naming the foreign nodes). ``restore`` and
    ``cut_before`` are for the rollback and the verification. A host plan passes its
    shared ``sim`` (then ``commands`` are all of the plan's so far)."""
    owned = owned_nodes(graph, name) | set(extra_owned)
    sim = sim or PlanGraph(graph, {})
    before = sim.copy()
    nf = node_names(name)["netflow"]
    removed, rejoined = [], []
    for node in sorted(owned, key=lambda n: (n != nf, not n.startswith("["), n)):
        if sim.exists(node):
            pairs = nf_links.rejoins(sim, node) if sim.nodes[node]["type"] == "netflow" else []
            removed.append(node)
            sim.shutdown(node)
            rejoined += nf_links.relink(sim, pairs)
    nf_links.check_no_new_cut(before, sim, name, owned)
    return {"commands": sim.commands, "removed": removed, "rejoined": [nf_links.link_text(r) for r in rejoined],
            "restore": nf_links.restore_info(before, sim, rejoined), "cut_before": nf_links.cut_off(before)}


