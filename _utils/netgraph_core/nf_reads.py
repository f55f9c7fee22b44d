"""What the next read asks before it sees the graph (pure; no Salt): the settings queries
of each exporter's graph after its last successful apply, kept beside its record
(``<cachedir>/netflow/<name>.reads``).

An apply reads the graph and the settings of its exporters' nodes in ONE ngctl spawn only
when the queries sent with the graph are those the graph asks for. An exporter's graph
keeps each interface's hook number across changes, so the declaration alone cannot
number them; the queries of the graph the last apply made can. The file is a hint, never
a truth: the engine keeps only the replies the graph asks for and asks the rest in a
second spawn; a hint that is missing, unreadable or not of the exporter's own nodes and
read-only messages is ignored (:func:`load`).
"""
from __future__ import annotations

import json
import os
import re

from . import lazy
from . import nf_model

nf_boot = lazy("nf_boot")  # only to write the hint

# The messages nf_settings.settings_queries sends, and their argument: nothing else is read back.
_QUERY_CMDS = {"info": None, "v9info": None, "ifinfo": re.compile(r"\d{1,5}"), "getpeername": None, "getname": None,
               "getconfig": None}


def path(directory: str, name: str) -> str:
    if not nf_model.NAME_RE.fullmatch(name):
        raise ValueError(f"not an exporter name: {name!r}")
    return os.path.join(directory, f"{name}.reads")


def _own_nodes(name: str) -> "re.Pattern[str]":
    """The paths of exporter ``name``'s own nodes (``<name>_<suffix>:``), compiled once per
    hint: a hint holds a query per interface, 1,000 and more."""
    return re.compile(re.escape(name) + r"_[a-z0-9_]{1,12}:")


def _valid(own: "re.Pattern[str]", query) -> bool:
    """A settings query of the nodes ``own`` (:func:`_own_nodes`) matches only."""
    if not isinstance(query, list) or not 2 <= len(query) <= 3 or not all(isinstance(w, str) for w in query):
        return False
    arg = _QUERY_CMDS.get(query[1], "")
    return (bool(own.fullmatch(query[0]))
            and arg != "" and (len(query) == 2 if arg is None else bool(arg.fullmatch(query[2]))))


def load(directory: str | None, names) -> dict:
    """``{name: [query, ...]}`` for each of ``names`` whose hint is present and valid."""
    out = {}
    for name in names if directory else ():
        try:
            with open(path(directory, name), encoding="utf-8") as fh:
                queries = json.load(fh)
        except (OSError, ValueError):
            continue
        own = _own_nodes(name)
        if isinstance(queries, list) and len(queries) <= 40000 and all(_valid(own, q) for q in queries):
            out[name] = queries
    return out


def save(directory: str | None, reads: dict, gone=()) -> None:
    """Write each ``{name: queries}`` that differs from its file, remove those of ``gone``.
    Never fails the run: a hint not written costs the next read one spawn."""
    if not directory:
        return
    old = load(directory, list(reads))
    writes = {path(directory, n): json.dumps(q) + "\n" for n, q in reads.items() if old.get(n) != q}
    writes.update({path(directory, n): None for n in gone if os.path.exists(path(directory, n))})
    if writes:
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            nf_boot.write_atomic(writes, mode=0o600)
        except (OSError, ValueError):
            pass
