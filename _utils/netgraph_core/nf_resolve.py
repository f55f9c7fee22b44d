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
"""
from __future__ import annotations

import ipaddress

from . import nf_sockaddr
from .nf_model import IPV_NAMES, ValidationError, collect_errors, duplicate_errors, source_errors, raise_errors


def host_names(cfg: dict) -> list[str]:
    """The collector hosts of ``cfg`` that are names: the glue resolves them on the
    minion (``socket.getaddrinfo``) and hands the answers to :func:`resolve`."""
    return sorted({c["host"] for c in cfg["collectors"] if c["address"] is None})


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


def resolve(cfg: dict, answers: dict) -> dict:
    """``cfg`` with every name collector's address chosen from ``answers`` (``{name:
    [addresses] | "resolver error"}``, what the glue's getaddrinfo gave); ValidationError
    naming every collector that does not resolve, resolves to nothing usable, or becomes
    a duplicate of another."""
    errors: list = []
    out = [c if c["address"] else collect_errors(errors, _pick, f"collectors[{i}]", c, answers.get(c["host"]))
           for i, c in enumerate(cfg["collectors"])]
    raise_errors(errors)
    raise_errors(duplicate_errors(out))
    return {**cfg, "collectors": out}


def pinned(params: dict, cfg: dict) -> dict:
    """The parameters as applied: each name collector's host replaced by the address it
    resolved to (what the kernel and the boot file got), for the record of the declaration."""
    raw = params.get("collectors")
    if not isinstance(raw, (list, tuple)) or len(raw) != len(cfg["collectors"]):
        return dict(params)
    out = [{**r, "host": c["address"]} if isinstance(r, dict) and c["address"] and r.get("host") != c["address"] else r
           for r, c in zip(raw, cfg["collectors"])]
    return {**params, "collectors": out}


def unbound(cfg: dict, prior: dict | None) -> dict:
    """``cfg`` with ``unbind`` set on each collector that has no ``source`` now but had
    one in ``prior`` (the last applied declaration) for the same version, address and
    port: its ksocket is still bound there, and only a new one is not (see nf_plan)."""
    before = {(c["version"], c["address"], c["port"]): c.get("source") for c in (prior or {}).get("collectors", [])}
    out = [{**c, "unbind": before.get((c["version"], c["address"], c["port"]))} if not c["source"] else c
           for c in cfg["collectors"]]
    return {**cfg, "collectors": out}
