"""Watching exporters (pure; no Salt): the last applied declaration of each exporter, one
read of the whole host per interval, what drifted from the declaration, and which events
the ``netflow`` beacon fires (with its per-exporter heal backoff).

The read is ONE ``ngctl -f -`` run: ``list -l`` and ``types`` (the graph), then the
read-only messages of every declared exporter (:func:`requests`). ngctl stops a batch at
its first failing line, so the messages are ordered to fail last: ``info``, ``v9info``,
``getpeername``, ``getconfig`` first, the ``ifinfo N`` lines (EINVAL on an iface whose
hook is gone) at the end; a line that did not run is "not read" (None), never zero.

The beacon compares each recorded declaration (nf_record) with the live graph
(:func:`compare`).
"""
from __future__ import annotations

import copy
import re

from . import nf_boot
from . import nf_model
from . import no_cycle_collection
from . import nf_sockaddr
from . import ng_words
from .nf_settings import settings_queries
from .nf_status import exporter_view, health, owned, read_settings

STATE_FORMAT = 1
# beacon options: key -> (default, lowest, highest); all integers (seconds or intervals)
OPTIONS = {
    "stall_intervals": (5, 0, 100000),   # 0: no stall events
    "heal_backoff": (60, 1, 86400),      # the wait after the first heal request
    "heal_backoff_max": (3600, 1, 604800),
}


def boot_file_state(name: str, text: str | None, cfg: dict | None):
    """The boot file against the declaration: ``matches``, ``differs``, ``missing`` (a
    persisted declaration without its file), ``corrupt: why``, ``present`` (a file but no
    declaration to compare with), or None (no file, none expected)."""
    if text is None:
        return "missing" if cfg and cfg.get("persist") else None
    try:
        nf_boot.verify(text)
    except ValueError as exc:
        return f"corrupt: {exc}"
    if cfg is None:
        return "present"
    return "matches" if text == nf_boot.render(name, nf_boot.build_script(cfg)) else "differs"


def list_entry(view: dict, read: dict, boot_text: str | None) -> dict:
    """One exporter of ``netflow.list``: its view summed up, the drift of the live graph
    from its declaration, and the state of its boot file."""
    cfg = read["declared"].get(view["name"])
    drift = compare(cfg, read["graph"], read["settings"]) if cfg and view["present"] else (
        [{"kind": "node_missing", "node": f"{view['name']}_nf"}] if cfg else [])
    return {"present": view["present"], "declared": view["declared"], "health": view["health"],
            "reasons": view["reasons"], "interfaces": sorted(view["interfaces"]),
            "collectors": [f"{c['host']}:{c['port']} v{c['version']}" for c in view["collectors"]],
            "in_sync": not drift if cfg else None,
            "drift": [f"{i['kind']} {i.get('interface') or i.get('node')}" for i in drift],
            "boot_file": boot_file_state(view["name"], boot_text, cfg)}


# --------------------------------------------------------------------------------------
# The read: one ngctl -f - run
# --------------------------------------------------------------------------------------
def _ordered(queries: list) -> list:
    return [q for q in queries if q[1] != "ifinfo"] + [q for q in queries if q[1] == "ifinfo"]


def requests(declared: dict, graph: dict | None) -> list[list[str]]:
    """The read-only messages for the declared exporters (``{name: cfg}``): those of the
    nodes each one had in the last graph seen (``graph``; at first, None, none), then
    those of the graph it declares that the last graph did not have. The read is planned
    before its graph is seen, so a node a heal has just made again (a collector's
    ksocket, the netflow node) must be asked about too, or the first read after the heal
    takes its unread socket for an unconnected one. Those lines fail while the node is
    still missing, so they come last."""
    out: list[list[str]] = []
    later: list[list[str]] = []
    for name in sorted(declared):
        seen = settings_queries(graph, name) if graph is not None else []
        want = settings_queries({"nodes": desired(declared[name], graph or {"nodes": {}})["nodes"]}, name)
        out += seen
        known = {tuple(q) for q in seen}  # a set: a list scan per query is quadratic
        later += [q for q in want if tuple(q) not in known]
    return _ordered(out) + _ordered(later)


_DESIRED: dict = {}  # exporter name -> [(inputs, desired graph)], the last two built


def _desired_inputs(cfg: dict, current: dict) -> tuple:
    """All that nf_model.desired reads of ``current``: the netflow node's hooks (iface
    indices), its type, template and ``exported`` (nf_model.start_template) and, per
    version, the fan-out's hooks and the peers its ksockets read."""
    names, nodes, settings = nf_model.node_names(cfg["name"]), current.get("nodes", {}), current.get("settings", {})
    hooks = lambda key: tuple((h, p["peer"], p["peer_hook"]) for h, p in nodes.get(key, {}).get("hooks", {}).items())  # noqa: E731
    fans = tuple((v, hooks(names[v]), tuple(settings.get(p, {}).get("peer") for _, p, _ in hooks(names[v]))) for v in (9, 5))
    nf = settings.get(names["netflow"], {})
    start = (nodes.get(names["netflow"], {}).get("type"), nf.get("exported"), tuple(sorted((nf.get("template") or {}).items())))
    return hooks(names["netflow"]), fans, start


def desired(cfg: dict, current: dict) -> dict:
    """nf_model.desired(cfg, current), the same result reused while ``cfg`` and what it
    reads of ``current`` are equal (it is pure): the beacon asks for it twice an interval
    (its requests, its compare) with the same answer interval after interval. Read only."""
    key = (cfg, _desired_inputs(cfg, current))
    kept = _DESIRED.get(cfg["name"]) or []
    for inputs, out in kept:
        if inputs == key:
            return out
    out = nf_model.desired(cfg, current)
    if len(_DESIRED) > 64:  # names come and go: stay small
        _DESIRED.clear()
    _DESIRED[cfg["name"]] = [((copy.deepcopy(cfg), key[1]), out)] + kept[:1]  # the caller's cfg may change after
    return out


def snapshot(graph: dict, replies: list, reqs: list) -> dict:
    """``{"graph", "settings", "raw"}`` of one ``netgraph.snapshot`` read (its graph and
    the replies to ``reqs``)."""
    settings, raw = read_settings(reqs, replies)
    return {"graph": graph, "settings": settings, "raw": raw}


# --------------------------------------------------------------------------------------
# Drift: the live graph against the declaration
# --------------------------------------------------------------------------------------
def _interface_drift(iface: dict, wanted: list, live: dict, graph: dict, seen: dict) -> list[dict]:
    """Drift of one interface: ``wanted`` the (hook, peer) pairs of our netflow node that
    reach its node, ``live`` that node's hooks as read."""
    nodes = graph.get("nodes", {})
    node = iface["node"]
    missing = []
    for hook, wh in wanted:
        if iface["attach"] == "ipfw" and wh["peer_hook"] != str(iface["ipfw_hook"]):
            continue
        lh = live.get(hook)
        if not lh or (lh["peer"], lh["peer_hook"]) != (node, wh["peer_hook"]):
            missing.append(f"{node}:{wh['peer_hook']}")
    if not missing:
        return []
    base = {"interface": iface["name"], "node": node}
    ether = nodes.get(node)
    if iface["attach"] == "ether" and (ether is None or ether.get("type") != "ether"):
        return [{"kind": "interface_missing", **base}]
    if iface["attach"] == "ipfw" and "ipfw" not in nodes:
        return [{"kind": "node_missing", **base}]
    old = seen.get(node)
    if iface["attach"] == "ether" and old is not None and old != ether.get("id"):
        return [{"kind": "interface_recreated", **base, "old_id": old, "new_id": ether.get("id")}]
    return [{"kind": "hook_cut", **base, "hooks": missing}]


def _collector(want: dict, key: str) -> str | None:
    return nf_sockaddr.label(want["settings"].get(key, {}).get("peer"))  # 192.0.2.1:2055, [2001:db8::1]:2055


def _node_drift(key: str, want: dict, graph: dict, done: set) -> list[dict]:
    wnode, live = want["nodes"][key], graph.get("nodes", {}).get(key)
    extra = {"collector": _collector(want, key)} if _collector(want, key) else {}
    if live is None or live.get("type") != wnode["type"]:
        return [{"kind": "node_missing", "node": key, "type": wnode["type"], **extra}]
    items = []
    for hook, wh in sorted(wnode["hooks"].items()):
        if want["nodes"][wh["peer"]]["foreign"]:  # the interfaces' hooks: _interface_drift's
            continue
        pair = frozenset({(key, hook), (wh["peer"], wh["peer_hook"])})
        if pair in done:
            continue
        done.add(pair)
        lh = live.get("hooks", {}).get(hook)
        if lh is None or (lh["peer"], lh["peer_hook"]) != (wh["peer"], wh["peer_hook"]):
            have = f"{lh['peer']}:{lh['peer_hook']}" if lh else None
            items.append({"kind": "hook_cut", "node": key, "hooks": [f"{key}:{hook}"],
                          "want": f"{wh['peer']}:{wh['peer_hook']}", "have": have, **extra})
    whooks = wnode["hooks"]
    for hook, lh in sorted((h, lh) for h, lh in live.get("hooks", {}).items() if h not in whooks):
        items.append({"kind": "extra_hook", "node": key, "hooks": [f"{key}:{hook}"],
                      "have": f"{lh['peer']}:{lh['peer_hook']}"})
    return items


def _settings_drift(key: str, want: dict, settings: dict) -> list[dict]:
    wset, have = want["settings"].get(key, {}), settings.get(key)
    if not have:
        return []  # not read this time: nothing known
    items = []
    if "peer" in wset and "peer" in have and have["peer"] != wset["peer"]:
        collector = _collector(want, key)
        if have["peer"] is None:
            items.append({"kind": "collector_unconnected", "node": key, "collector": collector})
        else:
            items.append({"kind": "collector_repointed", "node": key, "collector": collector,
                          "peer": nf_sockaddr.label(have["peer"]) or have["peer"]})
    for what in ("timeouts", "template", "mtu", "config"):
        if what in wset and what in have and have[what] != wset[what]:
            items.append({"kind": "settings_changed", "node": key, "setting": what, "want": copy.deepcopy(wset[what]),
                          "have": have[what]})
    for n, wif in sorted(wset.get("ifaces", {}).items()):
        hif = have.get("ifaces", {}).get(n)
        if hif is not None and hif != wif:
            items.append({"kind": "settings_changed", "node": key, "setting": f"iface{n}", "want": dict(wif), "have": hif})
    return items


def compare(cfg: dict, graph: dict, settings: dict, seen: dict | None = None) -> list[dict]:
    """What differs between the live graph (``graph``, ``settings`` as read) and the
    declared exporter ``cfg``: a list of items ``{"kind", ...}``, empty when all is as
    declared. Kinds: ``node_missing``, ``interface_missing``, ``interface_recreated``
    (its ng_ether node has another ID than when it was last seen attached: ``seen``
    maps node -> ID), ``hook_cut``, ``extra_hook``, ``collector_unconnected``,
    ``collector_repointed``, ``settings_changed``. Settings not read are not compared."""
    seen = seen or {}
    want = desired(cfg, {**graph, "settings": settings})
    nf = nf_model.node_names(cfg["name"])["netflow"]
    if graph.get("nodes", {}).get(nf, {}).get("type") != "netflow":
        return [{"kind": "node_missing", "node": nf, "type": "netflow",
                 "interfaces": [i["name"] for i in cfg["interfaces"]]}]
    items: list[dict] = []
    live = graph["nodes"][nf].get("hooks", {})
    # The peers with a wanted hook not as live: an interface on any other node has no
    # drift (all its wanted hooks are there), so only these are looked at one by one.
    cut = {wh["peer"] for hook, wh in want["nodes"][nf]["hooks"].items()
           if not (lh := live.get(hook)) or lh["peer"] != wh["peer"] or lh["peer_hook"] != wh["peer_hook"]}
    by_peer: dict = {}  # indexed once: per interface it would be quadratic (2,000 interfaces)
    for hook, wh in sorted(want["nodes"][nf]["hooks"].items()) if cut else ():
        by_peer.setdefault(wh["peer"], []).append((hook, wh))
    for iface in cfg["interfaces"] if cut else ():
        if iface["node"] in cut:
            items += _interface_drift(iface, by_peer[iface["node"]], live, graph, seen)
    done: set = set()
    ours = [k for k, wnode in want["nodes"].items() if not wnode["foreign"]]  # not the 2,000 ng_ether nodes
    for key in sorted(ours, key=lambda k: (k != nf, k)):
        found = _node_drift(key, want, graph, done)
        items += found
        if not any(i["kind"] == "node_missing" for i in found):
            items += _settings_drift(key, want, settings)
    return items


def attached_ids(cfg: dict, graph: dict, drift: list[dict], seen: dict) -> dict:
    """``seen`` updated with the IDs of the exporter's ng_ether nodes that are attached as
    declared now (a detached one keeps the ID it had when it last was)."""
    out = dict(seen)
    bad = {i.get("node") for i in drift if "interface" in i}
    nodes = graph.get("nodes", {})
    for iface in cfg["interfaces"]:
        node = nodes.get(iface["node"])
        if iface["attach"] == "ether" and node and iface["node"] not in bad:
            out[iface["node"]] = node.get("id")
    return out


# --------------------------------------------------------------------------------------
# The beacon's step: events and backoff
# --------------------------------------------------------------------------------------
def options(raw: dict | None = None) -> dict:
    """The beacon's options with their defaults; ValueError naming a bad one."""
    raw = dict(raw or {})
    out = {}
    for key, (default, lo, hi) in OPTIONS.items():
        value = raw.pop(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"{key}: {ng_words.shown(value)} is not an integer {lo}..{hi}")
        out[key] = value
    heal = raw.pop("heal", True)
    if not isinstance(heal, bool):
        raise ValueError(f"heal: {ng_words.shown(heal)} is not true or false")
    names = raw.pop("exporters", None)
    if names is not None and not (isinstance(names, list) and all(
            isinstance(n, str) and nf_model.NAME_RE.fullmatch(n) for n in names)):
        raise ValueError(f"exporters: {ng_words.shown(names)} is not a list of exporter names")
    if raw:
        raise ValueError(f"unknown option(s): {', '.join(sorted(ng_words.shown(k, 30) for k in raw))}")
    return {**out, "heal": heal, "exporters": names}


def _sample(view: dict, read: dict) -> dict:
    """What the next interval compares with: counters only if ``info`` was read, an
    interface's packets only if its ``ifinfo`` was."""
    out: dict = {"present": view["present"], "interfaces": {}}
    if read.get("info"):
        out["counters"] = view["counters"]
    ifaces = out["interfaces"]
    for ifname, entry in view["interfaces"].items():
        if entry["attached"] and f"ifinfo {entry['iface']}" in read:
            ifaces[ifname] = {"attached": True, "packets": entry["packets"]}
    return out


def _stalls(view: dict, sample: dict, prev: dict, limit: int) -> tuple[dict, list]:
    """Per interface (attached, packets read): intervals without a new packet, and
    whether it ever counted since the beacon started; stalled = counted, then quiet for
    ``limit`` intervals (0: never)."""
    still, stalled = {}, []
    olds, stills = (prev.get("sample") or {}).get("interfaces", {}), prev.get("still") or {}  # once, not per interface
    for ifname, entry in sample["interfaces"].items():
        old = olds.get(ifname)
        count, moved = stills.get(ifname, [0, False])
        if old is None:
            count = 0
        elif entry["packets"] != old["packets"]:
            count, moved = 0, True
        else:
            count += 1
        still[ifname] = [count, moved]
        if limit and moved and count >= limit:
            stalled.append(ifname)
    return still, stalled


def _signature(drift: list, reasons: list, stalled: list) -> list:
    keys = {f"{i['kind']}:{i.get('interface') or i.get('node')}" for i in drift}
    keys |= {re.sub(r"\d+", "N", r) for r in reasons}
    keys |= {f"stalled:{i}" for i in stalled}
    return sorted(keys)


def _backoff(heal: dict, now: float, opts: dict) -> tuple[bool, float]:
    """(may ask for a heal now, seconds until it may)."""
    last, streak = heal.get("last"), heal.get("streak", 0)
    if last is None or streak == 0:
        return True, 0.0
    delay = min(opts["heal_backoff"] * 2 ** (streak - 1), opts["heal_backoff_max"])
    wait = last + delay - now
    return wait <= 0, max(wait, 0.0)


def _event(name: str, view: dict, drift: list, stalled: list, heal: bool, attempt: int, retry_in: float) -> dict:
    interfaces = sorted({i["interface"] for i in drift if i.get("interface")} | set(stalled)
                        | {n for i in drift for n in i.get("interfaces", [])})
    collectors = sorted({i["collector"] for i in drift if i.get("collector")})
    reasons = list(view["reasons"]) + [f"interface {i}: no new packets for a while (stalled)" for i in stalled]
    return {"tag": name, "exporter": name, "health": view["health"], "reasons": reasons, "drift": drift,
            "interfaces": interfaces, "collectors": collectors, "stalled": stalled, "heal": heal,
            "attempt": attempt, "retry_in": round(retry_in, 1)}


def _exporter_step(name: str, cfg: dict, snap: dict, prev: dict, now: float, opts: dict) -> tuple:
    graph, settings, raw = snap["graph"], snap["settings"], snap["raw"]
    drift = compare(cfg, graph, settings, prev.get("seen"))
    view = exporter_view(name, graph, settings, raw, cfg)
    nf = nf_model.node_names(name)["netflow"]
    read = raw.get(nf, {})
    sample = _sample(view, read)
    if "counters" in sample and prev.get("sample", {}).get("counters") is not None:
        view.update(health(view, prev["sample"]))
    else:
        sample.setdefault("counters", (prev.get("sample") or {}).get("counters"))
    still, stalled = _stalls(view, sample, prev, opts["stall_intervals"])
    sig = _signature(drift, view["reasons"], stalled)
    state = {"seen": attached_ids(cfg, graph, drift, prev.get("seen") or {}), "sample": sample, "still": still,
             "heal": dict(prev.get("heal") or {}), "signature": sig or None}
    if not sig:
        # Seen healthy: the last heal worked, so a new break is a new problem, healed at
        # once; the backoff only spaces heals that do not fix the exporter.
        state["heal"] = {}
        return None, state
    # A re-apply refuses an exporter whose interface does not exist: while one is missing,
    # report without healing (and without spending the backoff); heal once it is back.
    gone = any(i["kind"] == "interface_missing" for i in drift)
    wanted = (bool(drift) or view["health"] == "down") and not gone
    allowed, wait = _backoff(state["heal"], now, opts)
    allowed = allowed and wanted and opts["heal"]
    if sig == prev.get("signature") and not allowed:
        return None, state
    if allowed:
        last, streak = state["heal"].get("last"), state["heal"].get("streak", 0)
        fresh = last is None or now - last > 2 * opts["heal_backoff_max"]
        state["heal"] = {"last": now, "streak": 1 if fresh else streak + 1}
        wait = min(opts["heal_backoff"] * 2 ** (state["heal"]["streak"] - 1), opts["heal_backoff_max"])
    return _event(name, view, drift, stalled, allowed, state["heal"].get("streak", 0), wait), state


def _carried(snap: dict, state: dict) -> dict:
    """This read's settings, with those of nodes it did not reach (a line after a failing
    one) carried over from the last read, so a cut read does not look like a drift."""
    nodes = snap["graph"].get("nodes", {})
    merged = {k: dict(v) for k, v in (state.get("settings") or {}).items() if k in nodes}
    for key, value in snap["settings"].items():
        merged[key] = {**merged.get(key, {}), **value}
    return merged


def step(declared: dict, snap: dict, state: dict | None, now: float, opts: dict) -> tuple[list, dict]:
    """One beacon interval: (events, the state for the next interval).

    ``declared`` maps names to validated exporters, ``snap`` is the read (``graph``,
    ``settings``, ``raw``), ``state`` what the last step returned (None at first), ``now``
    the time in seconds, ``opts`` :func:`options`. An exporter fires (at most one event
    per interval) when a problem appears (a drift item, a health reason, a stalled
    interface) or, while a drift persists, when its heal backoff allows the next heal
    request (``heal: true``; after heal_backoff, doubling up to heal_backoff_max; the
    streak starts over once the exporter is seen healthy again, or after 2 x
    heal_backoff_max without a request). Quiet otherwise."""
    state = state if isinstance(state, dict) and state.get("format") == STATE_FORMAT else {}
    old = state.get("exporters") or {}
    snap = {**snap, "settings": _carried(snap, state)}
    events, exporters = [], {}
    for name in sorted(declared):
        event, exporters[name] = _exporter_step(name, declared[name], snap, old.get(name) or {}, now, opts)
        if event:
            events.append(event)
    nodes = snap["graph"].get("nodes", {})
    # what the next interval's requests read of this graph: our nodes (nf_settings.settings_queries,
    # nf_model.desired), not the 2,000 interfaces' nodes a state would otherwise carry
    keep = set().union(*(owned(snap["graph"], n) for n in declared)) if declared else set()
    return events, {"format": STATE_FORMAT, "exporters": exporters,
                    "graph": {"nodes": {k: nodes[k] for k in sorted(keep)}},
                    "settings": {k: v for k, v in snap["settings"].items() if k in keep}}


def run(declared: dict, state: dict | None, opts: dict, read, clock) -> tuple[list, dict | None]:
    """One beacon interval: (events, the next state) of the recorded ``declared`` exporters,
    read in ONE ``read(requests)`` (netgraph.snapshot: ``{"graph", "replies"}``), at ``clock()``."""
    if not declared:
        return [], state
    with no_cycle_collection():  # the interval's graph and state: no full collection of the minion
        reqs = requests(declared, (state or {}).get("graph"))
        got = read(reqs)
        return step(declared, snapshot(got["graph"], got["replies"], reqs), state, clock(), opts)
