"""The apply engine (pure; no Salt): plan, apply with rollback, verify, journals, boot
files and the record of the declaration, under the netflow lock, against a
:class:`nf_kernel.Kernel`.

API (plain data in and out)::

    engine = Engine(kernel, lock_file, records=None, boot_dir=None, describe=None)
    engine.plan(cfgs, absent=(), load_modules=False)   # read-only: the host plan
    engine.converge(cfgs, absent, test, persist, remember=None, wait=60.0)

``cfgs`` maps exporter name -> ``nf_model.validate``'s config (host names resolved),
``absent`` lists names to remove, ``persist`` maps name -> write its boot files,
``remember`` name -> the parameters to record after a real success (None: forget).
``converge`` returns ``{"result", "changes", "comment", "plan", "planned"[, "rolled"]}``
(:func:`one_exporter`/:func:`whole_host` give the shapes the module returns).

Errors: a refused declaration raises nf_model.ValidationError/ConflictError from the
plan, before any batch; a kernel read that fails raises nf_kernel.KernelError; a lock not
taken raises :class:`EngineError`. A failed apply is rolled back and returned as
``result: False`` with the comment saying what failed and what was undone (``describe``
renders an error with its ``info`` as the caller's own errors read; the message alone by
default). ``records`` is where declarations are recorded (nf_record.declared_dir);
``boot_dir`` is needed only when some ``persist`` is true.
"""
from __future__ import annotations

import logging
import os
import time

from . import lazy
from . import no_cycle_collection
from . import nf_host
from . import nf_ipfw
from . import nf_journal
from . import nf_links
from . import nf_lock
from . import nf_model
from . import nf_plan
from . import nf_reads
from . import nf_record
from . import nf_settings
from .nf_kernel import Kernel, KernelError

# a no-change apply without persist renders no boot file, draws no picture, rolls nothing back
nf_boot, nf_dot, nf_rollback = lazy("nf_boot"), lazy("nf_dot"), lazy("nf_rollback")
log = logging.getLogger(__name__)


class EngineError(KernelError):
    """A step of a converge that failed (the lock, the journal, the record's claim, or an
    apply with what its rollback did in ``info``); the glue raises it as its own error."""


class Engine:
    """One host's converge against ``kernel`` (see the module docstring)."""

    def __init__(self, kernel: Kernel, lock_file: str, records: str | None = None, boot_dir: str | None = None,
                 describe=None, pictures: bool = False):
        self.kernel = kernel
        self.pictures = pictures  # the plan's DOT picture only when asked: it costs a graph walk
        self.lock_file = lock_file
        self.records = records
        self.boot_dir = boot_dir
        self.describe = describe or (lambda message, info: message)

    # Reading and planning (read-only): the host is the unit, one exporter its smallest case
    def read(self, names: list[str], guess: list[list[str]] | None = None) -> dict:
        """The live graph and the settings of every named exporter's nodes in ONE ngctl spawn
        (netgraph.snapshot) when ``guess``, the settings queries sent before the graph is
        seen, holds every query the graph asks for (``nf_settings.settings_queries``); the
        ones it missed, or that a failed line before them left unsent, follow in a second.
        The settings are those of the graph's queries alone, as if asked after reading it."""
        guess = guess or []
        got = self.kernel.snapshot(guess)
        graph = got["graph"]
        queries = [q for name in names for q in nf_settings.settings_queries(graph, name)]
        # A failed reply to a query the graph asks for is that node's own answer (its node
        # exists with the type the query is for); a query the graph does not ask for is dropped.
        answers = {tuple(q): r for q, r in zip(guess, got["replies"]) if r is not None}
        unsent = [q for q in queries if tuple(q) not in answers]
        if unsent:
            answers.update(zip(map(tuple, unsent), self.kernel.query(unsent)))
        graph["settings"] = nf_settings.settings_from_replies(queries, [answers[tuple(q)] for q in queries])
        return graph

    @staticmethod
    def guess(reads: dict) -> list[list[str]]:
        """The queries of ``reads`` (exporter name -> its queries) in one list, those that
        fail on a hook still missing (``ifinfo``) last, so a wrong guess costs the fewest
        replies."""
        queries = [q for name in sorted(reads) for q in reads[name]]
        return [q for q in queries if q[1] != "ifinfo"] + [q for q in queries if q[1] == "ifinfo"]

    def _declared_guess(self, cfgs: dict, absent=()) -> list[list[str]]:
        """Before any read: the queries of each exporter's graph after its last apply
        (nf_reads), else of its nodes as it declares them (hooks numbered as a create
        numbers them)."""
        reads = nf_reads.load(self.records, sorted(set(cfgs) | set(absent)))
        for name, cfg in cfgs.items():
            if name not in reads:
                reads[name] = nf_settings.settings_queries({"nodes": nf_model.desired(cfg, {"nodes": {}})["nodes"]}, name)
        return self.guess(reads)

    def _ipfw_rules_if_needed(self, cfgs: dict, names: list[str], graph: dict) -> list[dict]:
        nfs = {nf_model.node_names(n)["netflow"] for n in names}
        uses_ipfw = any(i["attach"] == "ipfw" for cfg in cfgs.values() for i in cfg["interfaces"])
        hooked = any(p["peer"] in nfs for p in graph.get("nodes", {}).get("ipfw", {}).get("hooks", {}).values())
        return self.kernel.ipfw_rules() if uses_ipfw or hooked else []

    def _modules_first(self, cfgs: dict, names: list[str], graph: dict, load_modules: bool) -> tuple:
        """(the graph to plan against, each exporter's missing modules, the modules missing,
        the ipfw rules): the modules loaded first when ``load_modules``, else the graph as
        it will be once they are."""
        # kldstat only when ng_ipfw is wanted and absent: is the firewall itself loaded?
        loaded = self.kernel.modules() if any(nf_model.wants_ng_ipfw(c, graph) for c in cfgs.values()) else None
        need = {n: nf_model.missing_modules(c, graph, loaded) for n, c in cfgs.items()}
        missing = [m for m in ("ng_ether", "ng_ipfw") if any(m in v for v in need.values())]
        rules = self._ipfw_rules_if_needed(cfgs, names, graph)
        if rules:  # a rule at a declared number that is not ours: refused before anything is loaded
            nf_ipfw.ipfw_plan(rules, graph, {n: nf_model.desired(c, graph) for n, c in cfgs.items()}, names)
        if missing and load_modules:
            self.kernel.load_modules(missing)
            graph = self.read(names, self._declared_guess(cfgs, names))
        elif missing:  # a preview before they are loaded: plan against the graph as it will be
            ether = [i["name"] for i in self.kernel.interfaces()] if "ng_ether" in missing else []
            graph = nf_model.projected(graph, missing, ether)
        return graph, need, missing, rules

    def plan(self, cfgs: dict, absent=(), load_modules: bool = False, guess: list | None = None) -> dict:
        """Read once (one spawn when ``guess``, by default each exporter's graph as declared,
        is right) and plan every exporter of ``cfgs`` and the removal of those of ``absent``
        as ONE batch (nf_host.plan): commands, ipfw, journals, ``changes`` keyed by exporter
        (nf_changes, in the pillar's terms), and ``reads``, the queries of the graph after."""
        names = sorted(cfgs) + sorted(set(absent))
        graph = self.read(names, self._declared_guess(cfgs, absent) if guess is None else guess)
        graph, need, missing, rules = self._modules_first(cfgs, names, graph, load_modules)
        for cfg in cfgs.values():
            nf_model.check_interfaces(cfg, graph)
        wants = {n: nf_model.desired(c, graph) for n, c in cfgs.items()}
        boot, journals, left, stale = nf_journal.boot_time(), {}, {}, []
        for n in names:
            old, found = nf_journal.read(self._journal_file(n), n)
            left[n] = nf_journal.leftovers(graph, n, old, named=False)
            journals[n] = nf_journal.journal(graph, n, nf_plan.attach_points(cfgs[n]) if n in cfgs else [], old, boot)
            stale += [n] if found and not left[n] else []
        present = [{"want": wants[n], "takeover": cfgs[n]["takeover"], "extra_owned": left[n],
                    "ifnames": nf_plan.attach_points(cfgs[n])} for n in sorted(cfgs)]
        host = nf_host.plan(graph, present, {n: left[n] for n in sorted(set(absent))})
        host["ipfw"] = nf_ipfw.ipfw_plan(rules, graph, wants, names)
        host.update(names=names, graph=graph, ipfw_rules=rules, journals=journals, stale=stale, modules=missing,
                    changes=nf_host.exporter_changes(graph, cfgs, names, host, rules, need),
                    dot=nf_dot.plan_dot(graph, host["planned"], names) if cfgs and self.pictures else None,
                    reads={n: nf_settings.settings_queries({"nodes": host["planned"]}, n) for n in cfgs})
        del host["planned"]
        return host

    # The journal (nf_journal): proof that an unnamed node a killed batch left is ours
    def _journal_file(self, name: str) -> str:
        return nf_journal.journal_path(self.lock_file, name)

    def _journal_write(self, name: str, entry: dict | None) -> None:
        """Write (``entry``) or remove (None) the journal, atomically and durably. A removal
        that fails is logged: the journal then proves only what is true of this run."""
        path = self._journal_file(name)
        try:
            nf_boot.write_atomic({path: nf_journal.journal_text(entry) if entry else None}, mode=0o600)
        except OSError as exc:
            if entry:
                raise
            log.warning("netflow: cannot remove the journal %s: %s", path, exc)

    # Applying
    def _undo_ngctl(self, planned: dict, info: dict) -> tuple:
        """Shut down what the failed batch made and put every interface it moved back
        (nf_rollback.rollback): (the undo lines, the error of the undo batch or None)."""
        line = info.get("line") if isinstance(info.get("line"), int) else None
        undo = []
        try:
            graph = self.kernel.graph()
            undo = nf_rollback.rollback(graph, planned["names"], nf_rollback.created_before(planned, line),
                                        planned["journals"], planned["graph"], restore=planned.get("restore"))
            if undo:
                self.kernel.batch(undo)
        except KernelError as exc:
            return undo, str(exc)
        return undo, None

    def _undo_ipfw(self, planned: dict, touched: list[int]) -> tuple:
        """Put every rule number this run deleted or added back as it was (the exact texts
        read before): (what was done, as ipfw argv strings; the error or None)."""
        if not touched:
            return [], None
        done = []
        try:
            fix = nf_ipfw.ipfw_restore(planned["ipfw_rules"], self.kernel.ipfw_rules(), touched)
            for rule in fix["delete"]:
                self.kernel.ipfw_delete(rule)
                done.append(f"delete {rule}")
            for words in fix["add"]:
                self.kernel.ipfw_add(int(words[0]), words[1:])
                done.append(f"add {' '.join(words)}")
        except KernelError as exc:
            return done, str(exc)
        return done, None

    def _rollback(self, planned: dict, exc: KernelError, step: str, done: dict) -> EngineError:
        """After a failed step of ``_apply``: undo what this run did so every interface passes
        traffic (on its old exporter) and every ipfw rule it deleted is back; the error says
        what failed and what was undone."""
        info = exc.info or {}
        undo, undo_error = self._undo_ngctl(planned, info) if step == "ngctl" else ([], None)
        touched = done["deleted"] + done["added"] + ([done["rule"]] if step != "ngctl" else [])
        restored, ipfw_error = self._undo_ipfw(planned, touched)
        if not undo_error and planned["commands"]:
            for name in planned["journals"]:
                self._journal_write(name, None)  # nothing unnamed of this run is left to recognise
        msg = nf_rollback.failure_text(step, info, str(exc), len(planned["commands"]), done["batch"])
        msg += nf_rollback.rollback_text(undo, restored, undo_error, ipfw_error)
        rollback = [" ".join(c) for c in undo] + [f"ipfw {r}" for r in restored]
        return EngineError(msg, {"failed": info, "rollback": rollback})

    def _apply(self, planned: dict) -> None:
        """Journals, ipfw deletions, ONE ngctl batch, ipfw additions; a failure at any step is
        rolled back (``_rollback``) and raised."""
        done = {"deleted": [], "added": [], "batch": False, "rule": None}
        step = "journal"
        try:
            if planned["commands"]:
                try:
                    for name, entry in planned["journals"].items():
                        self._journal_write(name, entry)
                except OSError as exc:
                    raise EngineError(f"cannot write the journal: {exc}") from None
            for rule in planned["ipfw"]["delete"]:
                step, done["rule"] = f"ipfw delete {rule}", rule
                self.kernel.ipfw_delete(rule)
                done["deleted"].append(rule)
            if planned["commands"]:
                step = "ngctl"
                self.kernel.batch(planned["commands"])
                done["batch"] = True
                for name in planned["journals"]:
                    self._journal_write(name, None)
            for words in planned["ipfw"]["add"]:
                step, done["rule"] = f"ipfw add {' '.join(words)}", int(words[0])
                self.kernel.ipfw_add(int(words[0]), words[1:])
                done["added"].append(int(words[0]))
        except KernelError as exc:
            if step == "journal":
                raise
            raise self._rollback(planned, exc, step, done) from None

    def _boot_files(self, name: str, cfg: dict | None) -> dict:
        """Boot files to write (text) or remove (None) so that ``boot_dir`` says ``cfg``."""
        text = nf_boot.render(name, nf_boot.build_script(cfg)) if cfg else None
        return nf_boot.changed_files(self.boot_dir, name, text)

    def _claim(self, cfgs: dict, changes: dict) -> None:
        """Write-ahead: a run killed after its batch still leaves the exporters ours (nf_record)."""
        for name in cfgs:
            if name in changes:
                try:
                    nf_record.claim(self.records, name)
                except (ValueError, OSError) as exc:
                    raise EngineError(f"netflow: {exc}") from None

    # The converge: plan, apply, verify, boot files, record
    def converge(self, cfgs: dict, absent: list, test: bool, persist: dict, remember: dict | None = None,
                 wait: float = 60.0) -> dict:
        """``converge_locked`` under the netflow lock, which the rc.d script takes too, waited
        for at most ``wait`` seconds, then the declarations of ``remember`` recorded. A
        preview (``test``) writes nothing, so it holds the lock shared and only if its file
        exists (nf_lock.shared_if_exists). The cycle collector is paused meanwhile
        (netgraph_core.no_cycle_collection: at 1,000 interfaces the read and the plan made
        it collect the whole Salt process about twice per apply)."""
        try:
            with no_cycle_collection(), (nf_lock.shared_if_exists if test else nf_lock.exclusive)(self.lock_file, timeout=wait):
                out = self.converge_locked(cfgs, absent, test, persist)
                reads = out.pop("reads")
                for name, params in (remember or {}).items():
                    self._remember(name, params, test, out)
                if not test and out["result"] is True:  # the next read's guess (nf_reads)
                    nf_reads.save(self.records, reads, gone=absent)
                return out
        except nf_lock.LockTimeout as exc:
            raise EngineError(f"cannot take the netflow lock: {exc.strerror}") from None

    def _remember(self, name: str, params: dict | None, test: bool, out: dict) -> None:
        """After a converge that succeeded for real: record (present) or forget (absent) the
        declaration, for netflow.list/status and the beacon. Never fails the run."""
        if not test and out.get("result") is True:
            try:
                nf_record.remember(self.records, name, params, time.time())
            except (OSError, ValueError) as exc:
                log.warning("netflow: cannot record the declaration of %s: %s", name, exc)

    def converge_locked(self, cfgs: dict, absent: list, test: bool, persist: dict) -> dict:
        """Plan; unless ``test``, apply, verify and write the boot files of every exporter
        whose ``persist`` is true. ``changes`` keyed by exporter; a failure's comment says
        what failed and what the rollback did."""
        planned = self.plan(cfgs, absent, load_modules=not test)
        if planned["stale"] and not test:
            for name in planned["stale"]:
                self._journal_write(name, None)  # it proves nothing any more: never let it prove something later
        files = {n: self._boot_files(n, cfgs.get(n)) if persist.get(n) else {} for n in planned["names"]}
        changes = {n: c for n in planned["names"] if (c := nf_host.pending(planned, n, files[n]))}
        out = {"result": True, "changes": changes, "comment": "", "plan": nf_host.public(planned),
               "planned": planned["changes"], "reads": planned["reads"]}
        if not changes or test:
            out["result"] = None if changes else True
            return out
        try:
            self._claim(cfgs, changes)
            self._apply(planned)
        except KernelError as exc:  # changes: what the rollback did, not keyed by exporter
            return {**out, "result": False, "comment": self.describe(exc.message, exc.info), "rolled": True,
                    "changes": {"rollback": exc.info.get("rollback", [])} if exc.info else {}}
        differs = self.verify(cfgs, absent, planned)
        if differs:
            return {**out, "result": False, "comment": f"applied, but the graph still differs: {differs}"}
        writes = {p: t for f in files.values() for p, t in f.items()}
        if writes:
            try:
                os.makedirs(self.boot_dir, mode=0o755, exist_ok=True)
                nf_boot.write_atomic(writes)
            except OSError as exc:
                return {**out, "result": False, "comment": f"graph applied, boot files not written: {exc}"}
        return out

    def verify(self, cfgs: dict, absent: list, planned: dict):
        """Re-read (one spawn: the queries of the graph the batch made) and plan again: what
        still differs after the apply (falsy: nothing)."""
        again = self.plan(cfgs, absent, guess=self.guess(planned["reads"]))
        differs = [" ".join(c) for c in again["commands"]] or {k: v for k, v in again["ipfw"].items() if k != "exporters" and v}
        # an interface that passed before the batch and does not now (nf_links); worked out
        # here, from the two reads, so that a plan with nothing to do walks no interface
        cut = sorted(set(nf_links.blackholed(again["graph"])) - set(nf_links.blackholed(planned["graph"])))
        if cut and not differs:
            differs = f"interface node(s) {', '.join(cut)} no longer pass traffic"
        return differs


def one_exporter(out: dict, name: str, removing: bool, test: bool) -> dict:
    """A converge of one exporter as netflow.converge returns it: ``changes`` and
    ``plan.changes`` that exporter's (or, after a rollback, what the rollback did)."""
    out["plan"]["changes"] = out.pop("planned")[name]
    out["changes"] = out["changes"] if out.pop("rolled", False) else out["changes"].get(name, {})
    out["comment"] = out["comment"] or nf_host.comment(out, test, name if removing else None)
    return out


def whole_host(out: dict, count: int, test: bool) -> dict:
    """A converge of the host's ``count`` declared exporters as netflow.converge_host returns it."""
    del out["planned"]
    out.pop("rolled", None)
    out["comment"] = out["comment"] or nf_host.comment(out, test, count)
    return out
