"""The record of each exporter's last applied declaration (pure; no Salt), apart from the
beacon that reads it.

``netflow.converge`` records the parameters of every successful present
(``<cachedir>/netflow/<name>.json``, :func:`declaration_text`) and removes the record after
a successful absent. Before a batch that creates or changes exporter ``name`` it writes a
*claim* (``<name>.claim``, :func:`claim`): a run killed between its batch and its record
(or its boot file) leaves the claim, so the formula still knows the nodes are ours
(``netflow.mapdata``'s ``persisted``) and removes them once the exporter leaves the
pillar. A successful present or absent (:func:`remember`) removes the claim.
"""
from __future__ import annotations

import copy
import json
import os

from . import lazy
from . import nf_model

nf_boot = lazy("nf_boot")  # only to write a record or a claim

DECLARATION_FORMAT = 1
CACHE_KEY = "netflow.declarations"  # in the glue's __context__


def declaration_text(name: str, params: dict, applied: float) -> str:
    """The record of a successful present: the exporter's parameters in the pillar's
    terms (validated again when read, so a record outlives a change of the model)."""
    clean = {k: v for k, v in params.items() if isinstance(k, str) and not k.startswith("__")}
    return json.dumps({"format": DECLARATION_FORMAT, "name": name, "applied": round(applied, 3),
                       "params": clean}, sort_keys=True) + "\n"


def declaration_load(text: str, name: str) -> dict:
    """The validated exporter (``nf_model.validate``) that a record declares; ValueError
    when the record is not one of ours, is for another name or no longer validates."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"declaration of {name}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != DECLARATION_FORMAT or data.get("name") != name \
            or not isinstance(data.get("params"), dict):
        raise ValueError(f"declaration of {name}: not a format-{DECLARATION_FORMAT} record of exporter {name}")
    return nf_model.validate({**data["params"], "name": name})


def _holds(text: str, name: str, params: dict) -> bool:
    """Whether the record ``text`` of exporter ``name`` holds exactly ``params`` (the same
    JSON, so the same types): then both validate alike. A no-change apply of 1,000
    interfaces otherwise validates the old record and the new parameters to compare them."""
    try:
        data = json.loads(text)
        mine = json.dumps(params, sort_keys=True)
    except (TypeError, ValueError):  # not JSON, or parameters JSON cannot write: compared validated
        return False
    return (isinstance(data, dict) and data.get("format") == DECLARATION_FORMAT and data.get("name") == name
            and isinstance(data.get("params"), dict) and json.dumps(data["params"], sort_keys=True) == mine)


def last_declaration(directory: str, name: str, params: dict, cfg: dict) -> dict | None:
    """The last applied declaration of exporter ``name``, validated (None: no usable
    record); ``cfg`` itself when the record holds ``params`` word for word, since they
    validate to ``cfg`` (an apply need not validate the same 1,000 interfaces twice)."""
    text = read_text(os.path.join(directory, f"{name}.json"))
    if text is None:
        return None
    if _holds(text, name, params):
        return cfg
    try:
        return declaration_load(text, name)
    except ValueError:
        return None


def declared_params(directory: str, name: str) -> dict:
    """The parameters (pillar terms, ``persist`` included) that the last successful
    present of ``name`` applied, as recorded in ``directory``; ValueError when there is
    no usable record."""
    if not nf_model.NAME_RE.fullmatch(name):
        raise ValueError(f"not an exporter name: {name!r}")
    text = read_text(os.path.join(directory, f"{name}.json"))
    if text is None:
        raise ValueError(f"exporter {name} has no recorded declaration (no successful present on this minion)")
    declaration_load(text, name)  # a record that no longer validates is refused, never applied
    return dict(json.loads(text)["params"])


def declared_dir(cachedir: str) -> str:
    """Where the declarations are recorded: ``<cachedir>/netflow``."""
    return os.path.join(cachedir, "netflow")


def read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def remember(directory: str, name: str, params: dict | None, now: float) -> bool:
    """Record the declaration ``params`` of exporter ``name`` in ``directory`` (atomically,
    mode 0600; not rewritten when it says the same), or remove it (``params`` None).
    Returns whether the file changed."""
    if not nf_model.NAME_RE.fullmatch(name):
        raise ValueError(f"not an exporter name: {name!r}")
    path = os.path.join(directory, f"{name}.json")
    if os.path.exists(_claim_path(directory, name)):
        nf_boot.write_atomic({_claim_path(directory, name): None})  # its run finished: the record speaks now
    old = read_text(path)
    if params is not None:
        params = {k: v for k, v in params.items() if isinstance(k, str) and not k.startswith("__")}
    if params is None:
        if old is None:
            return False
        nf_boot.write_atomic({path: None})
        return True
    if old is not None and _holds(old, name, params):
        return False  # the same declaration, word for word: no need to validate both to know
    if old is not None:
        try:
            if declaration_load(old, name) == nf_model.validate({**params, "name": name}):
                return False
        except ValueError:
            pass
    os.makedirs(directory, mode=0o700, exist_ok=True)
    nf_boot.write_atomic({path: declaration_text(name, params, now)}, mode=0o600)
    return True


_FLAT = (str, int, float, bool, type(None))


def _flat_interfaces(cfg: dict) -> bool:
    """Whether every value of every interface of ``cfg`` is a scalar."""
    return all(isinstance(v, _FLAT) for i in cfg["interfaces"] for v in i.values())


def _copied(cfg: dict, flat: bool) -> dict:
    """A validated exporter that shares nothing with ``cfg``; ``flat``: its interfaces'
    values are all scalars (:func:`_flat_interfaces`, known when it was cached), so a
    shallow copy each does, far cheaper than a deep copy of 2,000 of them."""
    rest = copy.deepcopy({k: v for k, v in cfg.items() if k != "interfaces"})
    return {**rest, "interfaces": [i.copy() for i in cfg["interfaces"]] if flat else copy.deepcopy(cfg["interfaces"])}


def _load_cached(text: str, name: str, cache: dict | None) -> dict:
    """declaration_load, remembered in ``cache`` by the record's text: validation is
    pure, so the same text validates to the same exporter (the beacon reads every record
    at every interval; a record changes only when an apply rewrites it)."""
    if cache is None:
        return declaration_load(text, name)
    hit = cache.get(name)
    if not isinstance(hit, tuple) or len(hit) != 3 or hit[0] != text:  # (an older release's entry: made again)
        cfg = declaration_load(text, name)  # a ValueError caches nothing
        cache[name] = hit = (text, cfg, _flat_interfaces(cfg))
    return _copied(hit[1], hit[2])


def load_declarations(directory: str, names=None, context=None) -> tuple[dict, dict]:
    """({name: validated exporter} recorded in ``directory`` (only ``names`` if given),
    {name: why its record cannot be used}). ``context``: a mapping kept between calls (the
    glue's ``__context__``, which lives as long as the minion) where the validated records
    are kept by their text, so the beacon validates a record once, not at every interval."""
    cache = None
    if context is not None:
        cache = context.get(CACHE_KEY)
        if not isinstance(cache, dict):
            cache = context[CACHE_KEY] = {}
    try:
        files = sorted(os.listdir(directory))
    except OSError:
        files = []
    found, bad = {}, {}
    for file in files:
        name = file[:-5]
        if not file.endswith(".json") or not nf_model.NAME_RE.fullmatch(name) or (names and name not in names):
            continue
        try:
            text = read_text(os.path.join(directory, file))
            if text is None:
                raise ValueError(f"declaration of {name}: cannot be read")
            found[name] = _load_cached(text, name, cache)
        except ValueError as exc:
            bad[name] = str(exc)
    if cache is not None:
        for gone in set(cache) - set(found):  # records removed or broken: forget them
            del cache[gone]
    return found, bad


def names_with(directory: str, suffix: str) -> list[str]:
    """Exporter names of the files ``<name><suffix>`` in ``directory`` (none if unreadable)."""
    try:
        files = os.listdir(directory)
    except OSError:
        return []
    return sorted(f[:-len(suffix)] for f in files if f.endswith(suffix) and nf_model.NAME_RE.fullmatch(f[:-len(suffix)]))


def boot_names(boot_dir: str) -> list[str]:
    """Exporters with a boot file ``<name>.ngctl`` in ``boot_dir``."""
    return names_with(boot_dir, ".ngctl")


def _claim_path(directory: str, name: str) -> str:
    if not nf_model.NAME_RE.fullmatch(name):
        raise ValueError(f"not an exporter name: {name!r}")
    return os.path.join(directory, f"{name}.claim")


def claim(directory: str, name: str) -> None:
    """Write-ahead: mark exporter ``name`` as ours before a batch creates or changes its
    nodes (durably: a killed run must leave it). OSError when it cannot be written."""
    path = _claim_path(directory, name)
    if os.path.exists(path):
        return
    os.makedirs(directory, mode=0o700, exist_ok=True)
    nf_boot.write_atomic({path: name + "\n"}, mode=0o600)


def claimed(directory: str) -> list[str]:
    """Exporters with a claim in ``directory``: a run that changed them did not finish."""
    return names_with(directory, ".claim")
