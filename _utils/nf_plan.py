"""The planner (pure; no Salt): the ngctl lines that turn the live graph into the declared
one, the ipfw rule changes, and the rollback after a failed batch.

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

from nf_graph import PlanGraph, ether_passes, fmt_struct, hook_order, links_norm
from nf_model import KSOCKET_HOOK, ConflictError, desired, node_names, owned_name_re, required_modules


class _Diff:
    """One planning run: the simulated graph, the declared graph, the readable changes."""

    def __init__(self, current: dict, want: dict, takeover: bool):
        self.name = want["name"]
        self.owned = owned_name_re(self.name)
        self.sim = PlanGraph(current, current.get("settings", {}))
        self.nf = node_names(self.name)["netflow"]
        self.want = want
        self.dnodes = want["nodes"]
        self.takeover = takeover
        self.touched_foreign: set[str] = set()
        self.changes: dict[str, Any] = {"nodes_added": [], "nodes_removed": [], "hooks_added": [],
                                        "hooks_removed": [], "settings": {}}

    def is_owned(self, node: str) -> bool:
        return bool(self.owned.fullmatch(node))

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
        if not self.is_owned(occupant) and not self.is_owned(node):
            otype = sim.nodes.get(occupant, {}).get("type", "?")
            if not self.takeover:
                raise ConflictError(
                    f"{node}:{hook} is connected to {occupant} ({otype}) hook {cur[1]}, a node this "
                    f"exporter does not own; set takeover: true to replace it"
                )
            self.touched_foreign.add(occupant)
        self.changes["hooks_removed"].append(f"{node}:{hook} <-> {cur[0]}:{cur[1]}")
        sim.rmhook(node, hook)

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
        tops = [n for n in self.dnodes if self.is_owned(n) and n != self.nf and re.fullmatch(r".*_v[59]", n)]
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
        if sim.exists(top) and sim.peer(top, thook) != (nf, ehook):
            self._shutdown(top)
        if not sim.exists(top):
            self.free(nf, ehook, (top, thook))
            sim.mkpeer(nf, dtop["type"], ehook, thook, top)
            self.changes["nodes_added"].append(top)
        children = sorted(((h, p["peer"]) for h, p in dtop["hooks"].items() if h.startswith("many")),
                          key=lambda hp: int(hp[0][4:]))
        for hook, child in children:
            if sim.exists(child) and sim.peer(child, KSOCKET_HOOK) != (top, hook):
                self._shutdown(child)
            if not sim.exists(child):
                self.free(top, hook, (child, KSOCKET_HOOK))
                sim.mkpeer(top, "ksocket", hook, KSOCKET_HOOK, child)
                self.changes["nodes_added"].append(child)
        return [child for _, child in children]

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
        want_peer = self.want["settings"][sock]["peer"]
        have = self.sim.settings.get(sock, {}).get("peer")
        if have != want_peer:
            self._setting(f"{sock}.peer", have, want_peer)
            # A UDP socket may be connected again: FreeBSD's soconnectat() disconnects
            # first for protocols without PR_CONNREQUIRED, so this re-targets in place.
            self.sim.msg(sock, "connect", want_peer)
            self.sim.settings.setdefault(sock, {})["peer"] = want_peer

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
        for hook in stale:
            if not sim.exists(nf) or sim.peer(nf, hook) is None:
                continue
            peer = sim.peer(nf, hook)
            self.changes["hooks_removed"].append(f"{nf}:{hook} <-> {peer[0]}:{peer[1]}")
            if self.is_owned(peer[0]):
                self._shutdown(peer[0])
            else:
                sim.rmhook(nf, hook)

    # 6 ---------------------------------------------------------------------------------
    def retire_taken_over(self) -> None:
        """Foreign nodes taken over: shut down those left serving no interface."""
        sim = self.sim
        for node in sorted(self.touched_foreign):
            if not sim.exists(node) or sim.nodes[node]["type"] in ("ether", "ipfw"):
                continue
            if not any(sim.nodes.get(p[0], {}).get("type") in ("ether", "ipfw") for p in sim.nodes[node]["hooks"].values()):
                self._shutdown(node)

    def result(self) -> dict:
        sim = self.sim
        attached = {p["peer"] for p in self.dnodes[self.nf]["hooks"].values()}
        for ether in [n for n, d in sim.nodes.items() if d["type"] == "ether"]:
            if ether in attached and not ether_passes(sim, ether):
                raise AssertionError(f"planner bug: {ether} would not pass traffic")  # pragma: no cover
        planned = {k: {"type": v["type"], "hooks": {h: {"peer": p[0], "peer_hook": p[1]} for h, p in v["hooks"].items()}}
                   for k, v in sim.nodes.items()}
        return {"commands": sim.commands, "created": sim.created, "named_at": sim.named_at,
                "changes": {k: v for k, v in self.changes.items() if v}, "planned": planned}


PHASES = ("remove_undeclared", "attach_interfaces", "set_netflow", "build_collectors",
          "drop_stale_hooks", "retire_taken_over")


def diff(current: dict, want: dict, takeover: bool = False) -> dict:
    """Ordered ngctl command lines (lists of words) that turn ``current`` into ``want``.

    ``current`` is ``netgraph.graph()`` plus ``settings`` read from the exporter's nodes.
    Raises ConflictError when a needed hook is held by a node this exporter does not own
    and ``takeover`` is false. Interface attachments are created with their two hooks on
    adjacent lines, so no ``ngctl -f`` boundary ever leaves an interface half-connected.
    """
    run = _Diff(current, want, takeover)
    for phase in PHASES:
        getattr(run, phase)()
    return run.result()


def created_before(planned: dict, failed_line: int | None) -> list[str]:
    """The nodes a batch that failed at ``failed_line`` really created and named.

    ``ngctl -f`` ran lines 1..failed_line-1 only. A node whose ``name`` line did not run
    is not ours by name (another process may own that name): rollback finds it unnamed.
    """
    if failed_line is None:
        return []
    named_at = planned.get("named_at", {})
    return [n for n in planned.get("created", []) if named_at.get(n, failed_line) < failed_line]


def ipfw_diff(current_rules: list[dict], current: dict, want: dict | None, name: str, takeover: bool = False) -> dict:
    """ipfw rule changes: delete stale rules first, add missing ones after the ngctl batch.

    A rule is ours when it tees (``ngtee``/``netgraph``) into an ipfw hook that is
    connected to our netflow node, or into the hook a declared rule names. A declared rule
    number held by some other rule is a conflict unless ``takeover``.
    """
    nf = node_names(name)["netflow"]
    wanted = (want or {}).get("ipfw", {})
    ours_hooks = {h for h, p in current.get("nodes", {}).get("ipfw", {}).get("hooks", {}).items() if p["peer"] == nf}
    ours_hooks |= {text.split()[1] for text in wanted.values()}
    delete, add = set(), []
    present = {}
    for r in current_rules:
        m = re.match(r"^(?:ngtee|netgraph) (\d+) ", r["text"])
        mine = bool(m and m.group(1) in ours_hooks)
        if r["rule"] in wanted and not mine:
            if not takeover:
                raise ConflictError(
                    f"ipfw rule {r['rule']} is already used by '{r['text']}', which this exporter does not "
                    "own; pick another ipfw_rule or set takeover: true to replace it"
                )
            mine = True
        if not mine:
            continue
        if wanted.get(r["rule"]) == r["text"] and r["rule"] not in present:
            present[r["rule"]] = r["text"]
        else:
            delete.add(r["rule"])
    for rule, text in sorted(wanted.items()):
        if rule in delete or present.get(rule) != text:
            add.append([str(rule)] + text.split())
    return {"delete": sorted(delete), "add": add}


def rollback_plan(graph: dict, name: str, created: list[str], before: list[str] | None = None) -> list[list[str]]:
    """Commands that leave every interface passing traffic after a failed batch.

    ``graph`` is the graph re-read after the failure. Nodes the failed batch created are
    shut down (the safe state: a netflow node that is gone restores ng_ether's
    passthrough), including a node left unnamed because the batch failed between its
    ``mkpeer`` and its ``name`` (an unnamed node absent from ``before``, the node keys
    read before the batch); an interface still half-attached to one of our nodes is
    detached.
    """
    owned = owned_name_re(name)
    sim = PlanGraph(graph, {})
    if before is not None:
        known = set(before)
        created = list(created) + sorted(k for k in graph.get("nodes", {}) if k.startswith("[") and k not in known)
    for node in created:
        if sim.exists(node):
            sim.shutdown(node)
    for ether in sorted(n for n, d in sim.nodes.items() if d["type"] == "ether"):
        if ether_passes(sim, ether):
            continue
        for hook in ("lower", "upper"):
            peer = sim.peer(ether, hook)
            if peer and owned.fullmatch(peer[0]):
                sim.rmhook(ether, hook)
    return sim.commands


def settings_queries(graph: dict, name: str) -> list[list[str]]:
    """Read-only messages that fetch the settings of an exporter's nodes (one spawn)."""
    owned = owned_name_re(name)
    queries = []
    for key, node in sorted(graph.get("nodes", {}).items()):
        if not owned.fullmatch(key):
            continue
        if node["type"] == "netflow":
            queries.append([f"{key}:", "info"])
            queries.append([f"{key}:", "v9info"])
            for hook in sorted(node.get("hooks", {}), key=hook_order):
                m = re.fullmatch(r"iface(\d+)", hook)
                if m:
                    queries.append([f"{key}:", "ifinfo", m.group(1)])
        elif node["type"] == "ksocket":
            queries.append([f"{key}:", "getpeername"])
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
            st["peer"] = args if (r.get("ok") and isinstance(args, str)) else None
        elif cmd == "getconfig" and isinstance(args, dict):
            st["config"] = {
                "xmitAlg": int(args.get("xmitAlg", 0)),
                "failAlg": int(args.get("failAlg", 0)),
                "enabledLinks": links_norm(args.get("enabledLinks")),
            }
    return out




def absent_plan(graph: dict, name: str) -> dict:
    """The batch that removes exporter ``name``'s nodes from ``graph``: the netflow node
    first (its shutdown restores ng_ether passthrough at once), then what is left."""
    owned = owned_name_re(name)
    sim = PlanGraph(graph, {})
    nf = node_names(name)["netflow"]
    removed = []
    for node in sorted((n for n in graph.get("nodes", {}) if owned.fullmatch(n)), key=lambda n: n != nf):
        if sim.exists(node):
            removed.append(node)
            sim.shutdown(node)
    return {"commands": sim.commands, "removed": removed}


def build_script(cfg: dict) -> dict:
    """Everything needed to rebuild the exporter at boot, without Salt (``nf_boot.render``
    writes it): the plan against a graph that has only the interfaces' ether nodes (and
    ipfw), the modules to load first, the ipfw rules to add after, and the ether nodes
    the file attaches (so the rc.d script can tell what is its own)."""
    empty = {"nodes": {}}
    for iface in cfg["interfaces"]:
        empty["nodes"][iface["node"]] = {"type": "ipfw" if iface["node"] == "ipfw" else "ether", "hooks": {}}
    want = desired(cfg, empty)
    plan = diff(empty, want)
    return {
        "ngctl": [" ".join(words) for words in plan["commands"]],
        "modules": required_modules(cfg),
        "ipfw": [" ".join(["add", str(rule)] + text.split()) for rule, text in sorted(want["ipfw"].items())],
        "attach": [i["node"] for i in cfg["interfaces"] if i["attach"] == "ether"],
    }
