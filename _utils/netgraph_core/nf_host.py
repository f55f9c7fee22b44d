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
* ``ipfw_plan``: the ipfw rule changes of all exporters at once;
* ``rollback``: after a failed batch, the commands that put every interface back where
  it was before (or, failing that, passing traffic).
"""
from __future__ import annotations

from . import nf_links
from .nf_changes import pillar_changes
from .nf_graph import PlanGraph, owned_nodes
from .nf_model import NAME_RE, ValidationError, ether_node_name
from .ng_words import shown
from .nf_journal import leftovers
from .nf_plan import PHASES, Diff, absent_plan, ipfw_diff, ipfw_texts, undo_commands


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
    for run in runs:
        res = run.result()
        out["exporters"][run.name] = {"changes": res["changes"]}
    for name, extra in sorted(absent.items()):
        start = len(sim.commands)
        part = absent_plan(current, name, extra_owned=extra, sim=sim)
        lines[name] += range(start, len(sim.commands))
        rejoined += part["restore"]["rejoin"]
        changes = {"nodes_removed": part["removed"]} if part["removed"] else {}
        out["exporters"][name] = {"changes": {**changes, "rejoined": part["rejoined"]} if part["rejoined"] else changes}
    start = PlanGraph(current, {})  # the rollback's and the verification's view of the batch
    out["restore"] = nf_links.restore_info(start, sim, rejoined)
    out["cut_before"] = nf_links.cut_off(start)
    for name, entry in out["exporters"].items():
        entry["commands"] = [sim.commands[i] for i in sorted(set(lines[name]))]
    planned = {k: {"type": v["type"], "hooks": {h: {"peer": p[0], "peer_hook": p[1]} for h, p in v["hooks"].items()}}
               for k, v in sim.nodes.items()}
    out.update(commands=sim.commands, created=sim.created, named_at=sim.named_at, planned=planned)
    return out


def ipfw_plan(rules: list[dict], current: dict, wants: dict, names) -> dict:
    """The ipfw rule changes of the whole host (``nf_plan.ipfw_diff`` over every exporter's
    rules at once, so a rule moved with its interface is neither lost nor doubled), and
    under ``exporters`` each exporter's share: name -> ``{"delete", "add"}``."""
    merged = {num: text for want in wants.values() for num, text in want["ipfw"].items()}
    out = ipfw_diff(rules, current, {"ipfw": merged}, list(names))
    hooks = current.get("nodes", {}).get("ipfw", {}).get("hooks", {})
    texts = {r["rule"]: r["text"] for r in rules}
    share = {}
    for name in names:
        ours = owned_nodes(current, name)
        mine = {h for h, p in hooks.items() if p["peer"] in ours}
        mine |= {text.split()[1] for text in wants.get(name, {}).get("ipfw", {}).values()}
        share[name] = {"delete": [n for n in out["delete"] if (texts.get(n, "").split() + ["", ""])[1] in mine],
                       "add": [a for a in out["add"] if int(a[0]) in wants.get(name, {}).get("ipfw", {})]}
    return {**out, "exporters": share}


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


def ipfw_changes(plan: dict, rules: list[dict]) -> None:
    """A plan's ipfw part as ``changes.ipfw`` (in place): every rule it deletes (numbers
    and texts) and every rule it adds."""
    plan["ipfw_rules"] = rules
    delete, add = plan["ipfw"]["delete"], plan["ipfw"]["add"]
    ipfw = {"delete": delete, "delete_rules": ipfw_texts(rules, delete), "add": [" ".join(a) for a in add]}
    if delete or add:
        plan["changes"]["ipfw"] = {k: v for k, v in ipfw.items() if v}


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


def failure_text(step: str, info: dict, error: str, count: int, batch_done: bool) -> str:
    """What failed in an apply: the ngctl line (``info`` from netgraph.batch), a batch that
    named no line, or an ipfw step (after a batch that stays applied)."""
    if step == "ngctl" and isinstance(info.get("line"), int):
        return f"ngctl failed at line {info['line']} ({info.get('command')}): {info.get('error')}"
    if step == "ngctl":
        return (f"the ngctl batch of {count} line(s) did not finish ({info.get('error') or error}) and named no "
                "failing line (killed?), so which of its lines ran is unknown")
    after = f" (after the ngctl batch of {count} line(s) had succeeded: it stays applied)" if batch_done else ""
    return f"{step} failed: {error}{after}"


def rollback_text(undo: list, restored: list, undo_error: str | None, ipfw_error: str | None) -> str:
    """``; rolled back: ...`` and any rollback step that failed."""
    what = ([f"ngctl: {'; '.join(' '.join(c) for c in undo)}"] if undo else []) + (
        [f"ipfw: {'; '.join(restored)}"] if restored else [])
    msg = f"; rolled back: {', '.join(what) if what else 'nothing needed undoing'}"
    for label, err in (("ngctl", undo_error), ("ipfw", ipfw_error)):
        if err:
            msg += f"; ROLLBACK FAILED ({label}): {err}"
    return msg


def rollback(graph: dict, names, created: list[str], journals: dict, before: dict | None,
             restore: dict | None = None) -> list[list[str]]:
    """After a failed host batch, re-read as ``graph``: shut down what it made (``created``,
    named, and every leftover a journal of ``journals`` proves: ``nf_journal.leftovers``),
    put back every interface attachment it moved (an ng_ether/ng_ipfw hook that fed, in
    ``before``, a netflow node of ours that is still there), then detach any interface
    still half-attached to our nodes or to a hook the batch freed. Every interface ends
    passing traffic, on its old exporter when that one still exists. With ``restore``
    (the plan's, ``nf_links.restore_info``) every link the batch removed whose two ends
    remain is connected again (a takeover's ``rmhook``s: the foreign exporter is back on its
    interfaces), then every foreign re-join it had not made yet. An interface link a foreign
    node held before the batch is never removed (an ng_vlan trunk on em0 stays)."""
    undo = list(created)
    for name in names:
        undo += leftovers(graph, name, journals.get(name))
    ours = set(undo).union(*(owned_nodes(graph, n) for n in names))
    attached = {p.split(":")[0] for j in journals.values() if j for p in j.get("attach", [])}
    mine_before = set().union(*(owned_nodes(before, n) for n in names)) if before is not None else set()
    kept = {(e, h, p["peer"], p["peer_hook"]) for e, node in (before or {}).get("nodes", {}).items()
            if node.get("type") == "ether" for h, p in node.get("hooks", {}).items()
            if p["peer"] not in mine_before and p["peer"] not in ours}
    return undo_commands(graph, undo, ours, attached, restore, kept=kept,
                         reattach=(lambda sim: _reattach(sim, before, mine_before)) if before is not None else None)


def _reattach(sim: PlanGraph, before: dict, ours_before: set) -> None:
    """Connect every ng_ether/ng_ipfw hook back to the netflow node of ours it fed in
    ``before``, when that node still exists and the hook now goes elsewhere or nowhere:
    all the hooks freed first, then each interface's two hooks on adjacent lines."""
    todo = []
    for fnode, node in sorted(before.get("nodes", {}).items()):
        if node.get("type") not in ("ether", "ipfw") or not sim.exists(fnode):
            continue
        for hook, p in sorted(node.get("hooks", {}).items()):
            peer = (p["peer"], p["peer_hook"])
            if peer[0] in ours_before and sim.nodes.get(peer[0], {}).get("type") == "netflow" and sim.peer(fnode, hook) != peer:
                todo.append((fnode, hook, peer))
    for fnode, hook, (pnode, phook) in todo:
        if sim.peer(fnode, hook) is not None:
            sim.rmhook(fnode, hook)
        if sim.exists(pnode) and sim.peer(pnode, phook) is not None:
            sim.rmhook(pnode, phook)
    for fnode, hook, (pnode, phook) in todo:
        if sim.exists(fnode) and sim.exists(pnode) and sim.peer(fnode, hook) is None and sim.peer(pnode, phook) is None:
            sim.connect(fnode, hook, pnode, phook)


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
