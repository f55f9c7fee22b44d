"""The Salt mine between exporters and collectors (pure; no Salt).

Exporter side: :func:`published` is what ``netflow.mine`` returns, published under the
mine alias :data:`MINE_EXPORTERS` (docs/CONTRACTS.md, "netflow.mine"): per exporter its
source addresses, versions, domain id, collectors and interface index -> name map. An
exporter the pillar declares is published before it is applied (:func:`declared_view`):
the mine is updated when a minion starts, so a collector applied in the same
``state.apply`` as its exporters already finds them.

Collector side: :func:`collector_sources` turns every minion's published exporters into
nfcapd sources (one ``-n ident,host,dir`` per exporter that sends to this collector), and
:func:`exporters_csv` / :func:`akvorado_yaml` render the index -> name map. Mine data is
another minion's word: every value is checked here (ids and names matched whole, addresses
parsed) and what fails is skipped with its reason, never rendered; one bad minion does not
take the collector down for the others.
"""
from __future__ import annotations

import ipaddress
import json
import re
import socket
from typing import Any

from .nf_params import IFNAME_RE, MINION_RE, NAME_RE
from .ng_words import shown

MINE_EXPORTERS = "netflow_exporters"
# ng_netflow puts the flow's fib in the v5 header's engine_id and the v9 header's source_id
# (netflow.c export_send, netflow_v9.c export9_send: domain_id = fib); the formula
# declares no fibs, so its exporters send fib 0's.
DOMAIN_ID = 0
# nfcapd's ident: no space (nfdump collector.c AddFlowSource), shorter than IDENTLEN, and
# ``ident X`` in nfdump's filter takes letters, digits, '_' and '-': we keep to those.
IDENT_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
CSV_HEAD = "ident,minion,exporter,source,ifindex,ifname"
HEAD = "Managed by Salt (formula netflow, collector.sls, sources: mine): do not edit by hand."


# Exporter side
def _ifindex(view: dict, kernel: dict) -> dict:
    """``{str(index): ifname}`` of an exporter's Ethernet interfaces: the index its records
    carry (the declared ``ifindex`` set with setifindex, else the interface's own, which
    ng_netflow takes from the mbuf's rcvif). An ipfw attachment carries every interface's
    packets: its records name their real interfaces, not mapped here."""
    out = {}
    for ifname, iface in sorted(view.get("interfaces", {}).items()):
        if iface.get("attach") != "ether":
            continue
        index = iface.get("index") or kernel.get(iface.get("node"))
        if isinstance(index, int) and index > 0:
            out[str(index)] = ifname
    return out


def _entry(view: dict, kernel: dict) -> dict:
    collectors = [{"host": c["host"], "port": c["port"], "version": c["version"],
                   "source": c.get("source") or c.get("declared_source"),
                   **({"minion": c["minion"]} if c.get("minion") else {})}
                  for c in view.get("collectors", []) if c.get("connected") or c.get("declared")]
    return {"sources": sorted({c["source"] for c in collectors if c["source"]}),
            "versions": sorted({c["version"] for c in collectors}), "domain_id": DOMAIN_ID,
            "collectors": collectors, "ifindex": _ifindex(view, kernel), "health": view.get("health"),
            "applied": not view.get("declared_only", False)}


def route_source(family: str, address: str, port: int) -> str | None:
    """The source address this host's routing gives a datagram to ``address``: what the
    kernel's ksocket takes on ``connect`` without a bound source (in_pcbladdr /
    in6_selectsrc on the minion's own fib). A UDP ``connect`` sends nothing and spawns
    nothing; None when there is no route."""
    af = socket.AF_INET6 if family == "inet6" else socket.AF_INET
    try:
        with socket.socket(af, socket.SOCK_DGRAM) as s:
            s.connect((address, port))
            source = s.getsockname()[0].split("%")[0]
    except (OSError, ValueError, OverflowError):
        return None
    return None if ipaddress.ip_address(source).is_unspecified else source


def declared_view(cfg: dict, route=route_source) -> dict:
    """A validated declaration (nf_model.validate, collectors resolved where they could
    be) as a view :func:`published` reads, for an exporter not applied yet: each
    collector's declared source, else the one ``route`` gives its address; a collector
    named by minion keeps the name (the collector minion matches its own id)."""
    collectors = []
    for c in cfg["collectors"]:
        source = c.get("source") or (route(c["family"], c["address"], c["port"]) if c.get("address") else None)
        collectors.append({"host": c.get("address"), "minion": c.get("minion"), "port": c["port"],
                           "version": c["version"], "declared_source": source, "declared": True})
    interfaces = {i["name"]: {"attach": i["attach"], "node": i["node"], "index": i.get("ifindex")}
                  for i in cfg["interfaces"]}
    return {"present": True, "interfaces": interfaces, "collectors": collectors, "health": None}


def _merged(live: dict | None, declared: dict | None) -> dict:
    """An exporter's live view with the declared collectors it does not reach yet (the
    pillar changed since the last apply); the declared view alone when not applied."""
    if not (live and live.get("present")):
        return {**declared, "declared_only": True}
    if declared is None:
        return live
    reached = {(c.get("host"), c.get("port")) for c in live.get("collectors", []) if c.get("connected")}
    extra = [c for c in declared["collectors"] if (c["host"], c["port"]) not in reached]
    return {**live, "collectors": list(live.get("collectors", [])) + extra}


def read(views: dict, query, declared: dict | None = None) -> dict:
    """:func:`published` of ``views`` (netflow.status's) and of ``declared`` (``{name:
    declared_view}``, the pillar's exporters), the kernel's index of each of their
    Ethernet interfaces asked with ONE ``query`` (netgraph.query: ng_ether's
    ``getifindex``)."""
    declared = declared or {}
    merged = {n: _merged(views.get(n), declared.get(n)) for n in sorted(set(views) | set(declared))
              if (views.get(n) or {}).get("present") or n in declared}
    nodes = sorted({i["node"] for v in merged.values() for i in v.get("interfaces", {}).values()
                    if i.get("attach") == "ether"})
    replies = query([[f"{n}:", "getifindex"] for n in nodes]) if nodes else []
    kernel = {n: r["reply"]["args"] for n, r in zip(nodes, replies)
              if r and r.get("ok") and isinstance((r.get("reply") or {}).get("args"), int)}
    return published(merged, kernel)


def published(views: dict, kernel: dict) -> dict:
    """What ``netflow.mine`` returns: ``{exporter: entry}`` from netflow.status's views
    and ``kernel`` (``{ether node: its getifindex}``)."""
    return {name: _entry(view, kernel) for name, view in sorted(views.items()) if view.get("present")}


# Collector side
def ident(minion: str, exporter: str) -> str | None:
    """``<minion>_<exporter>`` in nfcapd's ident charset ('.' of a minion id -> '_'), None
    when it does not fit (too long)."""
    text = re.sub(r"[^A-Za-z0-9_-]", "_", f"{minion}_{exporter}")
    text = text if text[:1].isalpha() else f"m{text}"
    return text if IDENT_RE.fullmatch(text) else None


def _address(value: Any, family: int) -> str | None:
    """``value`` if it is an address of ``family`` written plainly (nothing else is kept)."""
    try:
        addr = ipaddress.ip_address(value) if isinstance(value, str) and len(value) <= 45 else None
    except ValueError:
        return None
    ok = addr is not None and addr.version == family and str(addr) == value and not addr.is_unspecified
    return value if ok else None


def _to_us(entry: dict, own: set, port: int, family: int, own_id: str | None = None) -> list[str]:
    """The source addresses an exporter's entry sends to us from (collector host in
    ``own``, or the collector named by our minion id ``own_id``; our port, our family)."""
    found = []
    for c in entry.get("collectors") if isinstance(entry.get("collectors"), list) else []:
        if not isinstance(c, dict) or c.get("port") != port:
            continue
        host = c.get("host")
        # by id only while the exporter could not resolve the minion: a resolved address
        # elsewhere is where its datagrams go, not here
        if (isinstance(host, str) and host in own) or (host is None and own_id is not None and c.get("minion") == own_id):
            source = _address(c.get("source"), family)
            found += [source] if source and source not in found else []
    return found


def _ifnames(entry: dict) -> dict:
    table = entry.get("ifindex") if isinstance(entry.get("ifindex"), dict) else {}
    return {int(k): v for k, v in table.items()
            if isinstance(k, str) and k.isdigit() and len(k) <= 10 and isinstance(v, str) and IFNAME_RE.fullmatch(v)}


def _exporters(data: Any, skipped: list) -> list[tuple]:
    """(minion, exporter, entry) of every well-formed published exporter, sorted."""
    out = []
    for minion, exporters in sorted((data or {}).items(), key=lambda kv: str(kv[0])):
        if not (isinstance(minion, str) and MINION_RE.fullmatch(minion) and isinstance(exporters, dict)):
            skipped.append(f"minion {shown(minion, 40)}: not a minion id with a mapping of exporters")
            continue
        for name, entry in sorted(exporters.items(), key=lambda kv: str(kv[0])):
            if isinstance(name, str) and NAME_RE.fullmatch(name) and isinstance(entry, dict):
                out.append((minion, name, entry))
            else:
                skipped.append(f"{minion}: exporter {shown(name, 40)} is not an exporter name with its entry")
    return out


def collector_sources(data: Any, own: set, port: int, family: int, storage: str, own_id: str | None = None) -> dict:
    """nfcapd sources from the mine (``data``: ``{minion: netflow.mine's return}``) for a
    collector reached at an address in ``own`` (or named by its minion id ``own_id``) on
    ``port``: ``{sources: [{ident, host, dir}], rows: [{ident, minion, exporter, source, ifindex: {index: name}}], skipped:
    [reasons]}``. nfcapd tells sources apart by address alone, so an address a second
    exporter sends from too is skipped for that one (give it its own ``source``)."""
    skipped: list = []
    sources, rows, by_host, idents = [], [], {}, set()
    for minion, name, entry in _exporters(data, skipped):
        for n, host in enumerate(_to_us(entry, own, port, family, own_id)):
            base = ident(minion, name)
            tag = base if n == 0 else ident(minion, f"{name}_{n + 1}")
            why = ("its ident would be longer than 64 characters" if tag is None
                   else f"its ident {tag} is taken" if tag in idents
                   else f"source {host} is also {by_host[host]}'s (nfcapd tells sources apart by address)"
                   if host in by_host else None)
            if why:
                skipped.append(f"{minion}: exporter {name}: {why}")
                continue
            idents.add(tag)
            by_host[host] = tag
            sources.append({"ident": tag, "host": host, "dir": f"{storage}/{tag}"})
            rows.append({"ident": tag, "minion": minion, "exporter": name, "source": host, "ifindex": _ifnames(entry)})
    return {"sources": sorted(sources, key=lambda s: s["ident"]), "rows": sorted(rows, key=lambda r: r["ident"]),
            "skipped": skipped}


def exporters_csv(rows: list[dict]) -> str:
    """``exporters.csv``: one line per exporter interface index (an exporter without one
    has a line with both empty); every value checked, none holds a comma or a quote."""
    lines = [CSV_HEAD]
    for r in rows:
        pairs = sorted(r["ifindex"].items()) or [("", "")]
        lines += [f"{r['ident']},{r['minion']},{r['exporter']},{r['source']},{i},{n}" for i, n in pairs]
    return "\n".join(lines) + "\n"


def akvorado_yaml(rows: list[dict]) -> str:
    """akvorado's static metadata provider (outlet ``metadata: providers:``): each
    exporter by its source address, named by its ident, its interfaces by index. Keys
    and names are JSON strings (JSON is YAML), so no value is read as YAML syntax."""
    lines = [f"# {HEAD}", "# akvorado: paste under outlet.metadata.providers (static provider).",
             "- type: static", "  exporters:" + ("" if rows else " {}")]
    for r in rows:
        lines += [f"    {json.dumps(r['source'])}:", f"      name: {json.dumps(r['ident'])}",
                  "      skip-missing-interfaces: true", "      ifindexes:" + ("" if r["ifindex"] else " {}")]
        for index, ifname in sorted(r["ifindex"].items()):
            about = f"{ifname} of {r['minion']}"
            lines += [f"        {index}:", f"          name: {json.dumps(ifname)}",
                      f"          description: {json.dumps(about)}"]
    return "\n".join(lines) + "\n"
