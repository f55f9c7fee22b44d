"""Collector addresses after validation (pure; no Salt): the answers of the minion's
resolver turned into addresses, the declaration as applied, and which ksockets are
still bound to a source the pillar dropped.

A collector ``host`` may be a name. The glue (``_modules/netflow.py``) asks
``socket.getaddrinfo`` on the minion at apply time for every :func:`host_names` entry and
hands the answers to :func:`resolve`: the ADDRESS is what the kernel's ksocket and the boot
file get (ng_ksocket's ``inet/`` word is a dotted quad, its generic form raw bytes: the
kernel resolves nothing), and the record of the declaration keeps the addresses too
(:func:`pinned`), so ``netflow.status`` and the beacon compare the kernel with what was
applied. A later apply resolves again and re-points the collector if the name moved.

A collector may also name a Salt minion (``{minion: nfcap1, port: 2055}``, optional
``family`` and ``interface``): the glue reads that minion's :data:`MINE_ADDRESSES` from the
Salt mine (``mine.get`` with ``tgt_type=list``: the id matched whole) and hands it to
:func:`resolve` as data; :func:`from_mine` picks the address. The record keeps the address
(:func:`pinned`), so the beacon's heal and the boot file need no master.
"""
from __future__ import annotations

import ipaddress

from . import nf_sockaddr
from .nf_model import FAMILIES, IPV_NAMES, ValidationError, collect_errors, duplicate_errors, source_errors, raise_errors


def host_names(cfg: dict) -> list[str]:
    """The collector hosts of ``cfg`` that are names: the glue resolves them on the
    minion (``socket.getaddrinfo``) and hands the answers to :func:`resolve`."""
    return sorted({c["host"] for c in cfg["collectors"] if c["address"] is None and not c.get("minion")})


# The mine function (an alias in ``mine_functions``) a collector minion publishes its
# addresses under: ``grains.item ip4_interfaces ip6_interfaces`` (docs/formula.md, "Mine").
MINE_ADDRESSES = "netflow_addresses"
_GRAINS = {"inet": "ip4_interfaces", "inet6": "ip6_interfaces"}


def minion_names(cfg: dict) -> list[str]:
    """The minion ids the collectors of ``cfg`` name: the glue reads their mine data."""
    return sorted({c["minion"] for c in cfg["collectors"] if c.get("minion")})


def _mine_addresses(data, family: str, ifname) -> list | None:
    """The usable addresses of ``family`` in a minion's published grains (of interface
    ``ifname`` only, when named), lowest first; None when that interface is not there.
    Mine data is another minion's word: anything that is not an address is skipped."""
    table = data.get(_GRAINS[family]) if isinstance(data, dict) else None
    table = table if isinstance(table, dict) else {}
    if ifname is not None and not isinstance(table.get(ifname), list):
        return None
    lists = [table[ifname]] if ifname is not None else [v for v in table.values() if isinstance(v, list)]
    found = set()
    for text in (t for values in lists for t in values if isinstance(t, str) and len(t) <= 64):
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            continue
        if addr.version == FAMILIES[family]["ip"] and not (addr.is_link_local or addr.is_unspecified
                                                           or addr.is_multicast):
            found.add(addr)
    return sorted(found)


def from_mine(where: str, c: dict, data) -> dict:
    """The address of a collector named by minion, from that minion's mine data (None: not
    in the mine): of ``family`` (else the source's, else inet), of ``interface`` when named,
    loopback only when the source is loopback, the lowest; ValidationError naming the key."""
    minion, family, ifname = c["minion"], c["family"] or "inet", c.get("interface")
    if not isinstance(data, dict) or not data:
        raise ValidationError(f"{where}.minion: {minion!r} has no {MINE_ADDRESSES} in the Salt mine (is the minion "
                              f"up, and its mine_functions set, docs/formula.md \"Mine\"?); nothing was changed")
    usable = _mine_addresses(data, family, ifname)
    if usable is None:
        raise ValidationError(f"{where}.interface: minion {minion!r} has no interface {ifname!r} in the mine; "
                              "nothing was changed")
    loop = bool(c["source"]) and ipaddress.ip_address(c["source"]).is_loopback
    usable = [a for a in usable if a.is_loopback == loop]
    if not usable:
        on = f" on {ifname}" if ifname else ""
        raise ValidationError(f"{where}.minion: {minion!r} has no {'loopback ' if loop else ''}{IPV_NAMES[family]} "
                              f"address{on} in the mine (key family/interface); nothing was changed")
    return {**c, "address": str(usable[0]), "family": family}


def _pick(where: str, c: dict, answer) -> dict:
    """The address of a name collector from the resolver's answer (a list of addresses,
    or the resolver's error as a string): of the source's family when there is a source,
    else of the first answer's (the minion's address selection order), and within that
    family the lowest, so a round-robin answer in another order plans the same."""
    host = c["host"]
    if isinstance(answer, str) or not answer:
        raise ValidationError(f"{where}.host: {host!r} does not resolve on this minion ({answer or 'no address'}); "
                              "nothing was changed")
    found, bad = [], []
    for text in answer:
        try:
            found.append(nf_sockaddr.literal(str(text).split("%")[0]) or (None, text))
        except ValueError as exc:
            bad.append(f"{text} {exc}")
    family = ("inet" if ":" not in c["source"] else "inet6") if c["source"] else next((f for f, _ in found if f), None)
    usable = sorted((ipaddress.ip_address(a) for f, a in found if f == family and f))
    if not usable:
        want = f"{IPV_NAMES[family]} address (the family of source {c['source']!r})" if c["source"] else "usable address"
        raise ValidationError(f"{where}.host: {host!r} resolves to no {want}" + (f"; {bad[0]}" if bad else ""))
    address = str(usable[0])
    errors = source_errors(where, family, address, (family, c["source"]) if c["source"] else None)
    raise_errors([e.replace(f"host {address!r}", f"host {host!r} ({address})") for e in errors])
    return {**c, "address": address, "family": family}


def _one(where: str, c: dict, answers: dict, mine: dict) -> dict:
    if c["address"]:
        return c
    return from_mine(where, c, mine.get(c["minion"])) if c.get("minion") else _pick(where, c, answers.get(c["host"]))


def resolve(cfg: dict, answers: dict, mine: dict | None = None) -> dict:
    """``cfg`` with every name collector's address chosen from ``answers`` (``{name:
    [addresses] | "resolver error"}``, what the glue's getaddrinfo gave) and every minion
    collector's from ``mine`` (``{minion id: its MINE_ADDRESSES data}``); ValidationError
    naming every collector that does not resolve, resolves to nothing usable, or becomes
    a duplicate of another."""
    errors: list = []
    out = [collect_errors(errors, _one, f"collectors[{i}]", c, answers, mine or {})
           for i, c in enumerate(cfg["collectors"])]
    raise_errors(errors)
    raise_errors(duplicate_errors(out))
    return {**cfg, "collectors": out}


def _pin(raw, c: dict):
    """One collector's parameters as applied: the address for the name or minion."""
    if not (isinstance(raw, dict) and c["address"]) or raw.get("host") == c["address"]:
        return raw
    return {**{k: v for k, v in raw.items() if k not in ("minion", "family", "interface")}, "host": c["address"]}


def pinned(params: dict, cfg: dict) -> dict:
    """The parameters as applied: each name or minion collector's host replaced by the
    address it resolved to (what the kernel and the boot file got), for the record of the
    declaration (a minion's ``family`` and ``interface`` go: the address says both)."""
    raw = params.get("collectors")
    if not isinstance(raw, (list, tuple)) or len(raw) != len(cfg["collectors"]):
        return dict(params)
    out = [_pin(r, c) for r, c in zip(raw, cfg["collectors"])]
    return {**params, "collectors": out}


def unbound(cfg: dict, prior: dict | None) -> dict:
    """``cfg`` with ``unbind`` set on each collector that has no ``source`` now but had
    one in ``prior`` (the last applied declaration) for the same version, address and
    port: its ksocket is still bound there, and only a new one is not (see nf_plan)."""
    before = {(c["version"], c["address"], c["port"]): c.get("source") for c in (prior or {}).get("collectors", [])}
    out = [{**c, "unbind": before.get((c["version"], c["address"], c["port"]))} if not c["source"] else c
           for c in cfg["collectors"]]
    return {**cfg, "collectors": out}
