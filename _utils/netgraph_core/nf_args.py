"""The arguments of the ``netflow`` execution module, checked before anything runs (pure;
no Salt): a refused argument raises nf_model.ValidationError (or ConflictError), which the
glue raises as SaltInvocationError with the same text. ``validated`` resolves collector
host names as this minion does (``addresses``, handed to nf_resolve).
"""
from __future__ import annotations

import os
import socket

from . import nf_host
from . import nf_model
from . import nf_paths
from . import nf_record
from . import nf_resolve
from .nf_model import NAME_RE, ValidationError
from .ng_words import shown

# Every path a converge may use, checked before the lock is taken or anything runs.
RUN_PATHS = ("ngctl", "kldload", "kldstat", "ipfw", "ifconfig", "lock_file")


def public(kwargs: dict) -> dict:
    """The keyword arguments without Salt's own (``__pub_*``)."""
    return {k: v for k, v in kwargs.items() if not (isinstance(k, str) and k.startswith("__"))}


def check_name(name) -> None:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise ValidationError(f"name: {shown(name)} is not a valid exporter name")


def check_name_or_all(name) -> None:
    """A reading's name: an exporter's, or None for every exporter."""
    if name is not None:
        check_name(name)


def check_flags(**flags) -> None:
    """Flags are booleans: a string "no" is truthy and would switch test mode off."""
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise ValidationError(f"{key}: {shown(value)} is not a boolean")


def check_absent(name, kwargs: dict) -> None:
    """An exporter to remove: its name, and no parameters."""
    check_name(name)
    extra = list(public(kwargs))
    if extra:
        raise ValidationError(f"unknown parameter(s) {', '.join(shown(k, 40) for k in extra[:5])} for an absent exporter")


def dot_names(names) -> list | None:
    """netflow.dot's ``names``: a comma-separated string or a list of exporter names."""
    if isinstance(names, str):
        names = [n for n in names.split(",") if n]
    if names is not None and not isinstance(names, (list, tuple)):
        raise ValidationError(f"names: {shown(names)} is not a list of exporter names")
    for n in names or ():
        check_name(n)
    return names


def exporters_in(graph: dict) -> list[str]:
    """Every node that looks like an exporter's netflow node (``<name>_nf``, ``name`` a valid
    exporter name: another program's netflow node is not refused as a bad name), by name."""
    return sorted({k[:-3] for k, v in graph.get("nodes", {}).items()
                   if v["type"] == "netflow" and k.endswith("_nf") and NAME_RE.fullmatch(k[:-3])})


def host_records(exporters: dict, cfgs: dict, gone: list, persist: bool) -> tuple[dict, dict]:
    """converge_host's (name -> write its boot files, name -> the parameters to record
    after a real success: as applied, collectors pinned; None for a removed one)."""
    persists = {**{n: c["persist"] for n, c in cfgs.items()}, **dict.fromkeys(gone, True)}
    params = {**{n: nf_resolve.pinned({"persist": persist, **(exporters[n] or {})}, c) for n, c in cfgs.items()},
              **dict.fromkeys(gone)}
    return persists, params


def addresses(host: str):
    """A collector host name's addresses as this minion resolves them, or the error."""
    try:
        return [ai[4][0] for ai in socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)
                if ai[0] in (socket.AF_INET, socket.AF_INET6)]
    except (OSError, UnicodeError) as exc:
        return str(exc) or type(exc).__name__


def mine_reader(get):
    """A reader of collector minions' addresses over Salt's ``mine.get`` (``get``): ONE call
    with the ids as a list (each matched whole, never a glob); a failure (no master) reads
    as no data, which nf_resolve refuses naming the key."""
    def read(minions: list) -> dict:
        try:
            got = get(list(minions), nf_resolve.MINE_ADDRESSES, tgt_type="list")
        except Exception:  # pylint: disable=broad-except  # refused by name, never a traceback
            return {}
        return got if isinstance(got, dict) else {}
    return read


def validated(name, kwargs: dict, records: str | None, mine_get=None) -> dict:
    """nf_model.validate without Salt's ``__pub_*`` keys, host names resolved here, minion
    collectors from the Salt mine (``mine_get``: Salt's ``mine.get``, read through
    :func:`mine_reader`) and sources the last apply bound marked (nf_resolve; ``records``:
    nf_record's directory)."""
    params = public(kwargs)
    declared = nf_model.validate({**params, "name": name})
    minions = nf_resolve.minion_names(declared)
    published = mine_reader(mine_get)(minions) if minions and mine_get else {}
    cfg = nf_resolve.resolve(declared, {host: addresses(host) for host in nf_resolve.host_names(declared)}, published)
    prior = nf_record.last_declaration(records, name, params, declared) if records else None
    return nf_resolve.unbound(cfg, prior)


def declared_for_mine(decided: dict, records: str | None, mine_get=None) -> dict:
    """The pillar's exporters (``decided``: netflow.mapdata's) as nf_mine.declared_view's,
    for ``netflow.mine``: none while the pillar is refused; one whose collectors cannot be
    resolved yet (a collector minion not in the mine, a name that does not resolve) keeps
    them unresolved; one the model refuses is left out (its apply says why)."""
    from . import nf_mine  # the mine's only: an apply imports nf_args and never needs it

    out: dict = {}
    for name, kwargs in ([] if decided.get("errors") else decided.get("exporters") or []):
        try:
            cfg = validated(name, kwargs, records, mine_get)
        except (ValidationError, nf_model.ConflictError):
            try:
                cfg = nf_model.validate({**public(kwargs), "name": name})
            except (ValidationError, nf_model.ConflictError):
                continue
        out[name] = nf_mine.declared_view(cfg)
    return out


def host_arguments(exporters, absent, persist: bool, records: str | None, mine_get=None) -> tuple:
    """converge_host's exporters and names to remove: (name -> validated config, sorted
    names to remove). Every exporter's errors are reported together, each named."""
    exporters, absent, errors = nf_host.arguments(exporters, absent)
    cfgs = {}
    for name, params in exporters.items():
        try:
            cfgs[name] = validated(name, {"persist": persist, **params}, records, mine_get)
        except ValidationError as exc:
            errors.append(f"exporters.{name}: {exc}")
    if errors:
        raise ValidationError("; ".join(errors))
    nf_host.check(cfgs, absent)
    return cfgs, sorted(set(absent))


def loadable(virtualname: str, kernel, ngctl):
    """The module's ``__virtual__``: FreeBSD, or a configured (emulated) ngctl that exists.
    An unsafe path loads, so every function refuses it by name (netflow:ngctl: ...) before
    anything runs, instead of the formula saying only "module not loaded"."""
    if kernel == "FreeBSD":
        return virtualname
    why = (False, "netflow: needs FreeBSD or a configured netgraph.ngctl (e.g. ngsim's)")
    if not isinstance(ngctl, str) or not ngctl:  # a list or a number is no path
        return why
    try:
        nf_paths.check_path("netgraph.ngctl", ngctl)
    except ValueError:
        return virtualname
    return virtualname if os.path.exists(ngctl) else why
