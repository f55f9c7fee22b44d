"""The host is the unit (pure; no Salt): every exporter of one host planned together.

One read of the live graph, one plan over all declared exporters and those to remove,
one ngctl batch, one rollback. An interface moved between two exporters of the plan is
one change: the gaining exporter's attach phase detaches it from the old exporter's
netflow node and attaches it to its own on adjacent lines of the same batch, whatever
the exporters' names (``nf_plan.Diff`` with a ``released`` predicate), so no spawn
boundary ever sees it unaccounted for or blackholed. The per-exporter path is the
one-exporter case: another exporter's interface is never released to it.

* ``check``: the whole host's declaration, before anything runs (one interface, one
  ipfw hook number, one ipfw rule number: one exporter each);
* ``plan``: the host's batch in ``nf_plan.PHASES``, each phase run for every exporter
  (in name order) before the next phase, then the removal of the exporters to remove;
* ``exporter_changes``/``pending``/``public``/``comment``: what a person reads of it.

The ipfw rules of the plan are nf_ipfw's (``ipfw_plan``), its rollback nf_rollback's.
"""
from __future__ import annotations

from . import nf_links
from .nf_changes import pillar_changes
from .nf_graph import PlanGraph
from .nf_ipfw import ipfw_changes
from .nf_model import NAME_RE, ValidationError, ether_node_name
from .ng_words import shown
from .nf_plan import PHASES, Diff, absent_plan


def arguments(exporters, absent) -> tuple:
    """converge_host's ``exporters`` and ``absent`` in shape: (name -> parameters mapping of
    the well-formed entries, the names to remove, the errors of the others). Raises
    ValidationError when either is not a mapping / list at all."""
    exporters = {} if exporters is None else exporters
    absent = [] if absent is None else absent
    if not isinstance(exporters, dict):
        raise ValidationError(f"exporters: {shown(exporters)} is not a mapping of exporter name to parameters")
    if not isinstance(absent, (list, tuple)):
        raise ValidationError(f"absent: {shown(absent)} is not a list of exporter names")
    good, errors = {}, []
    for name in list(exporters) + list(absent):
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            errors.append(f"name: {shown(name)} is not a valid exporter name")
        elif name in exporters and not isinstance(exporters[name], (dict, type(None))):
            errors.append(f"exporters.{name}: {shown(exporters[name])} is not a mapping of parameters")
        elif name in exporters:
            good[name] = exporters[name] or {}
    return good, list(absent), errors


def check(cfgs: dict, absent=()) -> None:
    """Refuse a host declaration two exporters of which claim one interface (``vlan0.100``
    and ``vlan0_100`` are one), one ipfw hook number or one ipfw rule number, naming both;
    or that declares and removes one exporter. ``cfgs``: name -> nf_model.validate's dict."""
    errors = [f"exporter {n}: declared and listed to remove" for n in sorted(set(absent) & set(cfgs))]
    seen: dict[tuple, tuple] = {}
    for name in sorted(cfgs):
        for iface in cfgs[name]["interfaces"]:
            keys = [("interface", ether_node_name(iface["name"]))]
            if iface["attach"] == "ipfw":
                keys += [("ipfw_hook", iface["ipfw_hook"]), ("ipfw_rule", iface["ipfw_rule"])]
            for key in keys:
                first = seen.setdefault(key, (name, iface["name"]))
                if first[0] != name:
                    what = f"interface {iface['name']}" if key[0] == "interface" else f"{key[0]} {key[1]}"
                    errors.append(f"exporters.{first[0]}.interfaces.{first[1]} and exporters.{name}.interfaces."
                                  f"{iface['name']}: {what} is declared by exporters {first[0]} and {name}; "
                                  "each belongs to one exporter of the host")
    if errors:
        raise ValidationError(errors)


def plan(current: dict, present: list[dict], absent: dict | None = None) -> dict:
    """The host's one batch.

    ``current`` is the live graph with the ``settings`` of every exporter's nodes;
    ``present`` one entry per declared exporter: ``{"want": nf_model.desired(...),
    "takeover": bool, "extra_owned": [...], "ifnames": nf_plan.attach_points(cfg)}``;
    ``absent`` exporter name -> its journal-proven unnamed leftovers. An attach point held
    by exporter X of this plan is released to another when X does not declare it (or is
    removed). Returns ``commands``, ``created``, ``named_at``, ``planned`` (the graph after)
    and ``exporters``: name -> ``{"commands": the lines that touch it, "changes": its
    node-level changes}``. Raises ConflictError as ``nf_plan.diff`` does."""
    absent = absent or {}
    sim = PlanGraph(current, current.get("settings", {}))
    keeps = {p["want"]["name"]: set(p["ifnames"]) for p in present}
    lines: dict[str, list[int]] = {n: [] for n in list(keeps) + list(absent)}

    def released(other: str, point: str) -> bool:
        if other in absent or (other in keeps and point not in keeps[other]):
            lines[other].append(len(sim.commands))  # the rmhook that follows is the loser's change too
            return True
        return False

    runs = sorted((Diff(current, p["want"], p["takeover"], p["extra_owned"], p["ifnames"], sim=sim, released=released)
                   for p in present), key=lambda r: r.name)
    for phase in PHASES:
        for run in runs:
            start = len(sim.commands)
            getattr(run, phase)()
            lines[run.name] += range(start, len(sim.commands))
    out = {"exporters": {}}
    rejoined = [link for run in runs for link in run.rejoined]
    for run in runs:  # the checks and changes of each; the graph after and restore once, below
        out["exporters"][run.name] = {"changes": run.checked()}
    for name, extra in sorted(absent.items()):
        start = len(sim.commands)
        part = absent_plan(current, name, extra_owned=extra, sim=sim)
        lines[name] += range(start, len(sim.commands))
        rejoined += part["restore"]["rejoin"]
        changes = {"nodes_removed": part["removed"]} if part["removed"] else {}
        out["exporters"][name] = {"changes": {**changes, "rejoined": part["rejoined"]} if part["rejoined"] else changes}
    if sim.commands:  # the rollback's view of the batch (the interfaces cut before: the engine's verify)
        out["restore"] = nf_links.restore_info(PlanGraph(current, {}), sim, rejoined)
    else:  # no line, no link changed (every PlanGraph change is a line): nothing to undo, no walk of 1,000 links
        out["restore"] = {"unlinked": [], "rejoin": [list(r) for r in rejoined]}
    for name, entry in out["exporters"].items():
        entry["commands"] = [sim.commands[i] for i in sorted(set(lines[name]))]
    planned = {k: {"type": v["type"], "hooks": {h: {"peer": p[0], "peer_hook": p[1]} for h, p in v["hooks"].items()}}
               for k, v in sim.nodes.items()}
    out.update(commands=sim.commands, created=sim.created, named_at=sim.named_at, planned=planned)
    return out


def exporter_changes(graph: dict, cfgs: dict, names, plan: dict, rules: list[dict], need: dict) -> dict:
    """Each exporter's ``changes`` in the pillar's terms (nf_changes.pillar_changes) from
    its share of a host ``plan`` with ``ipfw`` (``ipfw_plan``); ``need``: name -> the
    modules the apply loads first for it."""
    out = {}
    for name in names:
        part = {**plan["exporters"][name], "ipfw": plan["ipfw"]["exporters"][name]}
        ipfw_changes(part, rules)
        out[name] = pillar_changes(graph, cfgs.get(name), part, rules, need.get(name, []), name=name)
        if part["changes"].get("rejoined"):  # foreign links the batch makes, shown before it runs
            out[name]["rejoined"] = part["changes"]["rejoined"]
    return out


def pending(plan: dict, name: str, files: dict) -> dict:
    """Exporter ``name``'s ``changes`` in a host plan (the module's ``_plan``): the
    readable diff, its share of the batch's ngctl lines, its boot files."""
    changes = dict(plan["changes"][name])
    lines = plan["exporters"][name]["commands"]
    if lines:
        changes["ngctl"] = [" ".join(c) for c in lines]
    if files:
        changes["boot_files"] = {p: ("write" if t is not None else "remove") for p, t in sorted(files.items())}
    return changes


def comment(out: dict, test: bool, what) -> str:
    """A converge's comment when it did not fail. ``what``: the number of declared
    exporters of a host run, None for one declared exporter, its name for one removed."""
    count = len(out["plan"]["commands"])
    if isinstance(what, int):
        names = ", ".join(out["changes"])
        return (f"{what} exporter(s) in the declared state" if not out["changes"] else
                f"would change exporter(s) {names} ({count} ngctl command(s))" if test else
                f"updated exporter(s) {names} ({count} ngctl command(s) in one batch)")
    if not out["changes"]:
        return "is already absent" if what else "is in the declared state"
    if test:
        return "would be removed" if what else f"would change ({count} ngctl command(s))"
    return "removed" if what else f"updated ({count} ngctl command(s) in one batch)"


def public(planned: dict, name: str | None = None) -> dict:
    """The part of a plan a person (or ``test=True``) reads; ``changes`` of exporter
    ``name`` only, or keyed by exporter."""
    changes = planned["changes"][name] if name else {n: c for n, c in planned["changes"].items() if c}
    out = {
        "commands": [" ".join(c) for c in planned["commands"]],
        "ipfw": {"delete": planned["ipfw"]["delete"], "add": [" ".join(a) for a in planned["ipfw"]["add"]]},
        "changes": changes,
        "modules": planned.get("modules", []),
    }
    if planned.get("dot") is not None:
        out["dot"] = planned["dot"]
    return out
