"""The simulation suite's state machine: random histories of what happens to a firewall
(pillar edits and typos, applies and previews through the real formula, faults injected
into ngctl, killed and hung jobs, reboots with the rc.d replay, `service netflow stop`,
netflow.clean, interfaces destroyed and re-created, beacon ticks, foreign netgraph users
arriving and leaving) against one emulated host in this process, with every invariant of
docs (I1-I8) checked after every step.

Foreign netgraph users (each arrives, and on its next draw leaves): ``tee`` (an ng_tee tap
spliced into our exporter), ``foreign`` (OPNsense's or a hand-built exporter), ``hub`` (an
ng_hub on lower/upper), ``pppoe`` (an mpd5-like PPPoE client on ``orphans`` with a session
hook: beside our exporter, never in its way), ``vlan`` (an ng_vlan trunk on lower/upper,
filters to ng_eiface nodes, as ng_vlan(4)'s example), ``jail`` (a VNET jail's ng_bridge on
lower/upper with an ng_eiface on link2, as jng does). The last three hold an interface our
exporters must refuse without ``takeover``; I2 keeps every foreign node and hook in place
except on an interface a converged takeover declared (only lower/upper users: a takeover
never has cause to touch ``orphans``).

Rules can be limited with ``NFSIM_RULES=edit,apply,...`` (comma-separated rule names, see
RULES) so a soak run can aim at one area; the default is every rule. A Salt job still
running after ``NFSIM_STUCK`` seconds (default 120) is a loop in the product: an I8 violation.
"""
from __future__ import annotations

import atexit
import copy
import hashlib
import os
import re
import shutil
import signal
import tempfile
from contextlib import contextmanager

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from ngsim import state as ngstate
from tests.support import kernel
from tests.support.simhost import REPO, SimHost, ngsim

ETHERS = ("em0", "em1", "em2")
IFACES = ETHERS + ("tun0",)
ALL_NAMES = ("dmz", "lan", "wan")
# NFSIM_NAMES=lan: exporters drawn from fewer names (no interface moves between exporters);
# NFSIM_TAKEOVER=N: one exporter in N declares takeover (default 8)
NAMES = tuple(n for n in ALL_NAMES if n in os.environ.get("NFSIM_NAMES", ",".join(ALL_NAMES)).split(","))
TAKEOVER_ONE_IN = int(os.environ.get("NFSIM_TAKEOVER", "8"))
PERSIST_FALSE = os.environ.get("NFSIM_PERSIST", "1") != "0"  # NFSIM_PERSIST=0: never `persist: false`
COLLECTORS = ({"host": "192.0.2.10", "port": 2055}, {"host": "192.0.2.11", "port": 2055},
              {"host": "192.0.2.12", "port": 9995, "version": 5})
OUR_NODE = re.compile(r"(%s)_(nf|v9|v5|v9_\d+)\Z" % "|".join(ALL_NAMES))
OUR_TYPES = {"nf": "netflow", "v9": "one2many", "v5": "ksocket"}
RULES = ("edit", "typo", "move", "rename", "apply", "preview", "fail", "die", "kill", "hang", "reboot", "stop",
         "clean", "ifcycle", "beacon", "tee", "foreign", "hub", "pppoe", "vlan", "jail")
HUNG_BINARIES = ("ngctl", "kldload", "kldstat", "ipfw")
DATA = REPO / "tests" / "data"
STUCK_AFTER = float(os.environ.get("NFSIM_STUCK", "120"))  # s of one Salt job in this process: a loop, not work


def enabled_rules() -> set:
    names = os.environ.get("NFSIM_RULES", "").strip()
    chosen = set(RULES) if not names else {n.strip() for n in names.split(",") if n.strip()}
    unknown = chosen - set(RULES)
    if unknown:
        raise SystemExit(f"NFSIM_RULES: unknown rule(s) {sorted(unknown)}; known: {', '.join(RULES)}")
    return chosen


ENABLED = enabled_rules()
_HOST: SimHost | None = None  # one per process: Salt's loader costs seconds to build
RULES_HIT: set = set()  # rule names that ran at least once (soak's report)
STEPS = [0]  # rules run in this process


def host() -> SimHost:
    global _HOST
    if _HOST is None:
        base = tempfile.mkdtemp(prefix="nfsim_")  # [A-Za-z0-9_]: a path the product accepts
        atexit.register(shutil.rmtree, base, True)
        _HOST = SimHost(base, ifaces=IFACES)
    return _HOST


def on(name: str):
    """A rule enabled by NFSIM_RULES (and counted when it runs)."""
    return precondition(lambda self: name in ENABLED)


# --------------------------------------------------------------------------------------
# Strategies: pillars as admins write them
# --------------------------------------------------------------------------------------
def iface_params(iface: str) -> dict:
    """tun0 has no ng_ether node: it is attached through ipfw."""
    return {"attach": "ipfw", "ipfw_hook": 1000, "ipfw_rule": 1000} if iface == "tun0" else {}


@st.composite
def valid_exporters(draw) -> dict:
    """netflow:exporters with every interface held by at most one exporter."""
    owner = {i: draw(st.sampled_from((None,) + NAMES)) for i in IFACES}
    out = {}
    for name in NAMES:
        mine = [i for i in IFACES if owner[i] == name]
        if not mine:
            continue
        params = {"interfaces": {i: iface_params(i) for i in mine}, "collectors": [draw(st.sampled_from(COLLECTORS))]}
        if draw(st.integers(1, TAKEOVER_ONE_IN)) == TAKEOVER_ONE_IN:  # shrinks towards no takeover
            params["takeover"] = True
        out[name] = params
    return out


ALL_TYPOS = ("param_key", "exporter_persist_type", "global_persist_type", "exporters_list", "top_key")
TYPOS = tuple(t for t in ALL_TYPOS if t in os.environ.get("NFSIM_TYPOS", ",".join(ALL_TYPOS)).split(","))


def with_typo(pillar: dict, kind: str) -> dict:
    """``pillar`` with one mistake an admin makes (a refused input)."""
    bad = copy.deepcopy(pillar)
    exporters = bad.setdefault("exporters", {})
    first = sorted(exporters)[0] if exporters else None
    if kind == "param_key" and first:
        params = exporters[first]
        params["colectors"] = params.pop("collectors")
    elif kind == "exporter_persist_type" and first:
        exporters[first]["persist"] = "yes"
    elif kind == "global_persist_type":
        bad["persist"] = "yes"
    elif kind == "exporters_list":
        bad["exporters"] = [{n: p} for n, p in sorted(exporters.items())] or [{"lan": None}]
    else:  # top_key: netflow:exporter for netflow:exporters
        bad["exporter"] = bad.pop("exporters")
    return bad


# --------------------------------------------------------------------------------------
# Reading the host
# --------------------------------------------------------------------------------------
def ours(node: dict) -> bool:
    """A node of one of our exporters: name and type."""
    m = OUR_NODE.match(node.get("name") or "")
    return bool(m) and node["type"] == OUR_TYPES.get(re.sub(r"_\d+\Z", "", m[2]), "ksocket")


def graph_sig(state: dict) -> dict:
    """Our part of the graph, independent of IDs and hook numbers: our nodes by name and
    type, and for every interface which named node its lower and upper reach."""
    nodes = state["nodes"]
    sig = {"nodes": sorted((n["name"], n["type"]) for n in nodes.values() if ours(n)), "ifaces": {}}
    for n in nodes.values():
        if n["type"] == "ether":
            peers = {}
            for hook, peer_id, _ in n["hooks"]:
                peer = nodes.get(str(peer_id))
                if hook == "orphans" and not (peer and ours(peer)):
                    continue  # a PPPoE client beside our exporter: not our part of the graph
                peers[hook] = peer["name"] if peer and ours(peer) else "foreign"
            if peers and set(peers.values()) != {"foreign"}:  # an interface only a foreign user holds is not ours
                sig["ifaces"][n["priv"].get("ifname")] = dict(sorted(peers.items()))
        if n["type"] == "ipfw":  # ng_ipfw loaded for an earlier exporter is no part of ours
            hooked = sorted(nodes[str(p)]["name"] for _, p, _ in n["hooks"] if ours(nodes[str(p)]))
            sig.update({"ipfw": hooked} if hooked else {})
    return sig


def files_snapshot(h: SimHost) -> dict:
    """Every file the product may write: boot dir, lock and journals, rc.conf.d, rc.d,
    recorded declarations: path -> sha256 of the content."""
    out = {}
    for top in (h.boot_dir, h.lock_file.parent, h.rc_conf_d.parent, h.rc_script.parent, h.cachedir / "netflow"):
        for dirpath, _, files in os.walk(top):
            for f in files:
                path = os.path.join(dirpath, f)
                with open(path, "rb") as fh:
                    out[path] = hashlib.sha256(fh.read()).hexdigest()[:16]
    return out


class Violation(AssertionError):
    """An invariant does not hold."""


class _Stuck(BaseException):
    """Raised by SIGALRM inside a Salt job that never returns (a BaseException: the
    product's own ``except Exception`` must not turn it into a failed state)."""


def _stuck(signum, frame):
    raise _Stuck()


def check(cond: bool, inv: str, msg: str) -> None:
    if not cond:
        raise Violation(f"{inv}: {msg}")


# --------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------
def without_exporters(sig: dict | None, names: set) -> dict | None:
    """``graph_sig`` with exporters ``names`` taken out (their nodes, attachments, ipfw hooks)."""
    if not sig or not names:
        return sig
    ours = {f"{n}_nf" for n in names}
    out = {**sig, "nodes": [n for n in sig["nodes"] if not any(str(n[0]).startswith(f"{x}_") for x in names)],
           "ifaces": {i: h for i, h in sig["ifaces"].items() if not set(h.values()) & ours}}
    hooked = [p for p in sig.get("ipfw", []) if p not in ours]
    out.pop("ipfw", None)
    out.update({"ipfw": hooked} if hooked else {})  # as graph_sig: no ipfw key without a hook of ours
    return out


class NetflowMachine(RuleBasedStateMachine):
    """One firewall's history; every rule is one thing that happens to it."""

    def __init__(self):
        super().__init__()
        self.h = host()
        self.h.reset()
        self.pillar: dict = {"exporters": {}}  # the admin's pillar (netflow key)
        self.bad = False  # the pillar holds a mistake: an apply must change nothing
        self.foreign: dict = {}  # node id -> {"kind", "iface", "hooks"} of foreign actors' nodes
        self.taps: dict = {}  # iface -> tee node id
        self.boot_sig: dict | None = {"nodes": [], "ifaces": {}}  # what a reboot must rebuild
        self.destroyed: list = []
        # interfaces a Salt job killed between a failed batch and its rollback left cut off:
        # no program can close that gap (ngctl -f stops at the failing line; the kill comes
        # before the rollback spawn); the journal lets the next apply, stop or clean repair it
        self.cut_owed: set = set()
        self.since_reboot = 0
        self._push_pillar()

    # --- helpers -------------------------------------------------------------------
    @staticmethod
    def _hit(name: str) -> None:
        RULES_HIT.add(name)
        STEPS[0] += 1

    def _push_pillar(self) -> None:
        self.h.set_pillar({"netflow": copy.deepcopy(self.pillar)})

    def _state(self) -> dict:
        return self.h.state()

    def _mark(self) -> dict:
        self.since_reboot += 1
        return {"log": len(self.h.log()), "files": files_snapshot(self.h), "links": self.h.links(),
                "state": self._state(), "hangs": len(self.h.adapter.hangs)}

    def _mutations(self, mark: dict) -> list:
        return [e["argv"] for e in self.h.log()[mark["log"]:] if e.get("mutating")]

    def _declared(self) -> dict:
        ex = self.pillar.get("exporters")
        return ex if isinstance(ex, dict) else {}

    def _faults_armed(self, state: dict) -> bool:
        return bool(state.get("fail") or state.get("die") or state.get("hang"))

    def _clean_conditions(self, state: dict) -> bool:
        """A valid pillar, no fault armed, no foreign node, every declared interface there:
        one apply must converge."""
        names = {r["name"] for r in state["ifaces"]}
        wanted = {i for p in self._declared().values() for i in p.get("interfaces", [])}
        return not self.bad and not self._faults_armed(state) and not self.foreign and wanted <= names

    def _check_after(self, mark: dict, what: str, salt_step: bool = True, took_over: frozenset = frozenset(),
                     vanish: frozenset = frozenset()) -> None:
        """I1, I2, I8 after any step that is not a foreign actor's; ``took_over``: interfaces
        a takeover may have taken in this step (foreign nodes there may be gone); ``vanish``:
        interfaces of a failed takeover, where only a self-destructing foreign node may be gone."""
        links = self.h.links()
        cut = sorted(i for i, s in links.items() if s != "pass" and i not in self.cut_owed)
        check(not cut, "I1", f"after {what}, interface(s) {cut} blackholed: {self._describe()}")
        check(len(self.h.adapter.hangs) == mark["hangs"], "I8",
              f"{what} would hang forever: spawn without a timeout of a hung binary: {self.h.adapter.hangs[-1:]}")
        if took_over:
            nodes = self._state()["nodes"]
            for nid in [n for n, i in self.foreign.items()
                        if i["iface"] in took_over and i.get("held", True) and str(n) not in nodes]:
                del self.foreign[nid]
            self.taps = {i: t for i, t in self.taps.items() if t in self.foreign}
            self._refresh_foreign(took_over)
        if vanish:
            nodes = self._state()["nodes"]
            for nid in [n for n, i in self.foreign.items()
                        if i["iface"] in vanish and i["kind"] in ("hub", "tee") and str(n) not in nodes]:
                del self.foreign[nid]
            self.taps = {i: t for i, t in self.taps.items() if t in self.foreign}
        if salt_step:
            self._check_foreign(f"after {what}")

    def _check_foreign(self, what: str) -> None:
        """I2: every foreign node still there with its hooks to foreign peers and interfaces."""
        nodes = self._state()["nodes"]
        # an ng_tee or ng_hub whose interface was destroyed hangs only from our node; FreeBSD
        # destroys it with its last hook when ours goes (ng_tee_disconnect, ng_hub_disconnect)
        for nid in [n for n, i in self.foreign.items() if str(n) not in nodes and i["kind"] in ("tee", "hub")
                    and i["iface"] in self.destroyed]:
            del self.foreign[nid]
        self.taps = {i: t for i, t in self.taps.items() if t in self.foreign}
        for nid, info in self.foreign.items():
            node = nodes.get(str(nid))
            check(node is not None, "I2", f"{what}: foreign {info['kind']} node [{nid:x}] was removed")
            hooks = sorted((h, p) for h, p, _ in node["hooks"]
                           if not ours(nodes.get(str(p), {})) and h not in info["shared"])
            check(hooks == info["hooks"], "I2", f"{what}: foreign {info['kind']} node [{nid:x}] rewired: "
                                               f"{info['hooks']} -> {hooks}")

    def _describe(self) -> str:
        st_ = self._state()
        out = []
        for n in st_["nodes"].values():
            if n["type"] not in ("socket",):
                out.append(f"{n['name'] or '[%x]' % n['id']}<{n['type']}>:" +
                           ",".join(f"{h}->{st_['nodes'][str(p)]['name'] or '[%x]' % p}.{ph}"
                                    for h, p, ph in n["hooks"]))
        return "; ".join(out)

    def _results(self, ret: dict, what: str) -> None:
        """I6: no traceback; every failure names its cause."""
        for sid, r in ret.items():
            comment = r.get("comment") or ""
            if isinstance(comment, list):
                comment = "\n".join(map(str, comment))
            check("Traceback" not in comment, "I6", f"{what}: {sid}: a traceback: {comment[:300]}")
            if r.get("result") is False:
                check(bool(comment.strip()), "I6", f"{what}: {sid} failed without a comment")

    def _run_salt(self, sls: str, test: bool) -> dict | None:
        """state.sls in-process; a killed or hung job returns None."""
        old = signal.signal(signal.SIGALRM, _stuck)
        signal.setitimer(signal.ITIMER_REAL, STUCK_AFTER, 1.0)  # again every second: a raise in a gc callback is lost
        try:
            return self.h.state_run(sls, test=test)
        except _Stuck:
            self.h.forget_state()
            raise Violation(f"I8: state.apply {sls} (test={test}) still running after {STUCK_AFTER:.0f} s "
                            f"(a loop in the product, no spawn to time out): {self._describe()}") from None
        except kernel.JobKilled:
            self.h.forget_state()
            return None
        except kernel.HungForever:
            self.h.forget_state()
            return None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)

    # --- pillar --------------------------------------------------------------------
    @on("edit")
    @rule(exporters=valid_exporters(), persist=st.sampled_from((None, None, None, False) if PERSIST_FALSE else (None,)))
    def edit_pillar(self, exporters, persist):
        self._hit("edit")
        self.pillar = {"exporters": exporters}
        if persist is not None:
            self.pillar["persist"] = persist
        self.bad = False
        self._push_pillar()

    @on("typo")
    @rule(kind=st.sampled_from(TYPOS))
    def typo_pillar(self, kind):
        self._hit("typo")
        if self.bad or (kind in ("param_key", "exporter_persist_type") and not self._declared()):
            return  # a typo in an exporter's parameters needs an exporter
        self.pillar = with_typo(self.pillar, kind)
        self.bad = True
        self._push_pillar()

    @on("move")
    @rule(iface=st.sampled_from(IFACES), to=st.sampled_from(NAMES))
    def move_interface(self, iface, to):
        """An interface moved from one exporter to another in one pillar change."""
        self._hit("move")
        ex = self._declared()
        if self.bad or not ex:
            return
        moved = copy.deepcopy(ex)
        for params in moved.values():
            params["interfaces"].pop(iface, None)
        moved.setdefault(to, {"interfaces": {}, "collectors": [COLLECTORS[0]]})["interfaces"][iface] = iface_params(iface)
        self.pillar["exporters"] = {n: p for n, p in moved.items() if p["interfaces"]}
        self._push_pillar()

    @on("rename")
    @rule(old=st.sampled_from(NAMES), new=st.sampled_from(NAMES))
    def rename_exporter(self, old, new):
        self._hit("rename")
        ex = self._declared()
        if self.bad or old not in ex or new in ex:
            return
        ex[new] = ex.pop(old)
        self._push_pillar()

    # --- Salt ------------------------------------------------------------------------
    def _apply(self, test: bool, what: str, kill_after=None, hang=None) -> None:
        mark = self._mark()
        if not test and kill_after is None and hang is None and not self.bad:
            # a whole apply (nothing killed, nothing hung, not refused) must repair what a
            # killed one left; a refused one changes nothing (I3), so the cut stays owed
            self.cut_owed = set()
        clean = self._clean_conditions(mark["state"]) and kill_after is None and hang is None
        if kill_after is not None:
            self.h.adapter.kill_after = kill_after
        if hang is not None:
            kernel.set_hang(str(self.h.root), hang)
        try:
            ret = self._run_salt("netflow", test)
        finally:
            if kill_after is not None and self._faults_armed(mark["state"]):
                self.cut_owed |= {i for i, st in self.h.links().items() if st != "pass"}
            self.h.adapter.kill_after = None
            if hang is not None:
                kernel.set_hang(str(self.h.root), hang, on=False)
        # an exporter declaring takeover that converged (or a job killed or hung while one may
        # have run) may have replaced foreign nodes on its interfaces; a failed one may not
        took_over = frozenset(
            i for n, p in self._declared().items() if isinstance(p, dict) and p.get("takeover")
            and (ret is None or any((ret.get(sid) or {}).get("result") is True for sid in (
                "netflow-exporter-netflow-exporters_present", f"netflow-exporter-netflow-exporter_present-{n}")))
            for i in p.get("interfaces", {}))
        # a failed takeover puts foreign nodes back (I2), except one that lived only on the
        # interface's two hooks and is of a type FreeBSD destroys with its last hook (ng_hub,
        # ng_tee): the batch's rmhooks destroyed it and nothing can recreate another's node
        declared = frozenset(i for p in self._declared().values() if isinstance(p, dict) and p.get("takeover")
                             for i in p.get("interfaces", {}))
        self._check_after(mark, what, took_over=took_over, vanish=declared - took_over)
        mutations = self._mutations(mark)
        files = files_snapshot(self.h)
        changed_files = sorted(p for p in set(files) | set(mark["files"]) if files.get(p) != mark["files"].get(p))
        if ret is not None:
            self._results(ret, what)
        if test:  # I5
            check(not mutations, "I5", f"{what} (test=True) changed the kernel: {mutations}")
            check(not changed_files, "I5", f"{what} (test=True) wrote {changed_files}")
            return
        if self.bad:  # I3
            check(not mutations, "I3", f"{what} of a refused pillar {self.pillar!r} changed the kernel: {mutations}")
            check(not changed_files, "I3", f"{what} of a refused pillar {self.pillar!r} wrote {changed_files}")
            if ret is not None:
                check(any(r.get("result") is False for r in ret.values()), "I3",
                      f"{what} of a refused pillar {self.pillar!r} reported success")
            return
        ok = ret is not None and all(r.get("result") is True for r in ret.values())
        if clean:
            failed = {k: r.get("comment") for k, r in (ret or {}).items() if r.get("result") is not True}
            check(ok, "I4", f"{what} of a valid pillar {self.pillar!r} on a host without faults or foreign "
                            f"nodes did not converge: {failed}")
        if ok:
            self._check_declared(what, ret)
            again = self._run_salt("netflow", False)
            changed = {k: r.get("changes") for k, r in (again or {}).items() if r.get("changes")}
            check(again is not None and not changed, "I4", f"the apply after {what} changed {changed}")
            persist = self.pillar.get("persist", True)
            self.boot_sig = graph_sig(self._state()) if persist else {"nodes": [], "ifaces": {}}
        else:
            self.boot_sig = None  # which boot files were written is not known

    def _check_declared(self, what: str, ret: dict) -> None:
        """I4: the live graph is the declared one (ether interfaces both ways through the
        exporter's netflow node, undeclared ones free of our nodes)."""
        sig = graph_sig(self._state())
        want = {}
        for name, params in self._declared().items():
            for i in params["interfaces"]:
                if i in ETHERS:
                    want[i] = {"lower": f"{name}_nf", "upper": f"{name}_nf"}
        got = {i: p for i, p in sig["ifaces"].items() if i in ETHERS}
        said = {k: r.get("comment") for k, r in ret.items()}
        check(got == want, "I4", f"after {what}, interfaces {got} but declared {want} (the states said {said})")

    @on("apply")
    @rule()
    def apply(self):
        self._hit("apply")
        self._apply(False, "state.apply netflow")

    @on("preview")
    @rule()
    def preview(self):
        self._hit("preview")
        self._apply(True, "state.apply netflow test=True")

    @on("kill")
    @rule(after=st.integers(0, 12))
    def killed_apply(self, after):
        """The Salt job is killed before its (after+1)th spawn."""
        self._hit("kill")
        self._apply(False, f"state.apply netflow killed before spawn {after + 1}", kill_after=after)
        self.boot_sig = None

    @on("hang")
    @rule(binary=st.sampled_from(HUNG_BINARIES))
    def hung_apply(self, binary):
        self._hit("hang")
        self._apply(False, f"state.apply netflow with {binary} hung", hang=binary)
        self.boot_sig = None

    @on("clean")
    @rule()
    def clean(self):
        self._hit("clean")
        mark = self._mark()
        self.cut_owed = set()
        ret = self._run_salt("netflow.clean", False)
        self._check_after(mark, "state.apply netflow.clean")
        if ret is not None:
            self._results(ret, "netflow.clean")
            if not self.bad and all(r.get("result") is True for r in ret.values()):
                left = graph_sig(self._state())["nodes"]
                check(not left, "I4", f"netflow.clean succeeded but left {left}")
                self.boot_sig = {"nodes": [], "ifaces": {}}
                return
        self.boot_sig = None

    @on("beacon")
    @rule()
    def beacon_tick(self):
        self._hit("beacon")
        mark = self._mark()
        try:
            self.h.loaders.modules["netflow.watch"]()
        except Exception as exc:  # pylint: disable=broad-except
            from salt.exceptions import CommandExecutionError

            check(isinstance(exc, CommandExecutionError) and str(exc).strip(), "I6",
                  f"netflow.watch raised {type(exc).__name__}: {exc}")
        check(not self._mutations(mark), "I5", f"netflow.watch changed the kernel: {self._mutations(mark)}")
        self._check_after(mark, "a beacon tick")

    # --- the kernel and other programs --------------------------------------------------
    @on("fail")
    @rule(at=st.integers(1, 12))
    def fail(self, at):
        self._hit("fail")
        ngsim("fail", self.h.root, "--at", at)

    @on("die")
    @rule(after=st.integers(0, 10))
    def die(self, after):
        self._hit("die")
        ngsim("die", self.h.root, "--after", after)

    @on("reboot")
    @precondition(lambda self: self.since_reboot >= 4)
    @rule()
    def reboot(self):
        """A reboot: rc.d/ipfw (firewall_type open) then rc.d/netflow start."""
        self._hit("reboot")
        self.since_reboot = 0
        self.cut_owed = set()
        ngsim("reboot", self.h.root)
        self.foreign.clear()
        self.taps.clear()
        self.h.firewall_up()
        mark = self._mark()
        proc = self.h.rc("start")
        self._check_after(mark, "a reboot and rc.d/netflow start", salt_step=False)
        check("Traceback" not in proc.stderr, "I6", f"rc.d start: {proc.stderr[-300:]}")
        if self.boot_sig is not None:
            got = graph_sig(self._state())
            want = without_exporters(self.boot_sig, self._gone_at_boot())
            check(got == want, "I7", f"the replay built {got}, the last apply {self.boot_sig} "
                                              f"(rc {proc.returncode}: {proc.stderr.strip()[-300:]})")

    def _gone_at_boot(self) -> set:
        """Exporters of the last apply that attach an interface destroyed since: their boot
        file cannot replay (its mkpeer finds no ng_ether node, as on FreeBSD), and the rc.d
        script removes what it made, so the reboot builds every other exporter."""
        ifaces = (self.boot_sig or {}).get("ifaces", {})
        return {hooks[h][:-3] for i, hooks in ifaces.items() if i in self.destroyed
                for h in ("lower", "upper") if str(hooks.get(h, "")).endswith("_nf")}

    @on("stop")
    @rule()
    def service_stop(self):
        self._hit("stop")
        mark = self._mark()
        proc = self.h.rc("onestop")
        self._check_after(mark, f"service netflow onestop (rc {proc.returncode}: {proc.stderr.strip()[-200:]})")

    @on("ifcycle")
    @rule(iface=st.sampled_from(ETHERS))
    def interface_cycle(self, iface):
        """An interface destroyed, or (if destroyed before) created again."""
        self._hit("ifcycle")
        if iface in self.destroyed:
            ngsim("ifcreate", self.h.root, iface)
            self.destroyed.remove(iface)
            return
        ngsim("ifdestroy", self.h.root, iface)
        self.destroyed.append(iface)
        self.taps.pop(iface, None)
        nodes = self._state()["nodes"]
        for nid in [n for n in self.foreign if str(n) not in nodes]:
            del self.foreign[nid]
        self._refresh_foreign()

    # --- foreign netgraph users -----------------------------------------------------------
    @contextmanager
    def _no_faults(self):
        """Another program's ngctl: the knobs armed for ours are kept for ours."""
        root = str(self.h.root)
        with ngstate.locked(root):
            s = ngstate.load(root)
            saved = {k: s.pop(k, None) for k in ("fail", "die", "hang")}
            s["fail"] = None
            ngstate.save(root, s)
        try:
            yield
        finally:
            with ngstate.locked(root):
                s = ngstate.load(root)
                for k, v in saved.items():
                    if v is not None or k == "fail":
                        s[k] = v
                ngstate.save(root, s)

    def _foreign_batch(self, kind: str, iface: str, lines: list, modules=(), held: bool = True) -> bool:
        """Another program's ``ngctl -f -``; the nodes it made are recorded as foreign (``held``:
        they hold the interface's lower/upper, so a declared takeover may replace them)."""
        before = set(self._state()["nodes"])
        with self._no_faults():
            for m in modules:
                self.h.run("kldload", m)
            rc, _, err = self.h.run("ngctl", "-f", "-", stdin="\n".join(lines) + "\n")
        nodes = self._state()["nodes"]
        for nid in set(nodes) - before:
            if nodes[nid]["type"] != "socket":
                self.foreign[int(nid)] = {"kind": kind, "iface": iface, "hooks": [], "shared": set(), "held": held}
        self._refresh_foreign()
        check(rc == 0, "setup", f"a foreign {kind} on {iface} could not be built: {err}")
        return True

    def _refresh_foreign(self, ifaces=None) -> None:
        """Re-read the hooks of the foreign nodes (all, or a takeover's interfaces' users of
        lower/upper: one on ``orphans`` is never a takeover's to rewire)."""
        nodes = self._state()["nodes"]
        for nid, info in self.foreign.items():
            node = nodes.get(str(nid))
            if node is not None and (ifaces is None or (info["iface"] in ifaces and info.get("held", True))):
                # a hook joined to one of our nodes is the seam between the two graphs: removing
                # ours may re-join it to where ours led (what keeps the interface passing)
                info["shared"] = info.get("shared", set()) | {
                    h for h, p, _ in node["hooks"] if ours(nodes.get(str(p), {}))}
                info["hooks"] = sorted((h, p) for h, p, _ in node["hooks"]
                                       if not ours(nodes.get(str(p), {})) and h not in info["shared"])

    def _kldload(self, module: str) -> None:
        if module.removeprefix("ng_") not in self._state()["types"]:
            with self._no_faults():
                self.h.run("kldload", module)

    def _ether(self, iface: str):
        for n in self._state()["nodes"].values():
            if n["type"] == "ether" and n["priv"].get("ifname") == iface:
                return n
        return None

    def _free(self, iface: str) -> bool:
        node = self._ether(iface)
        return node is not None and not node["hooks"]

    @on("tee")
    @rule(iface=st.sampled_from(ETHERS))
    def tee_tap(self, iface):
        """An ng_tee tap spliced between ng_ether and our netflow node (or, if one is
        there, taken out again with the link restored)."""
        self._hit("tee")
        nodes = self._state()["nodes"]
        ether = self._ether(iface)
        if ether is None:
            return
        if iface in self.taps:
            tid = self.taps.pop(iface)
            tee = nodes.get(str(tid))
            lines = [f"shutdown [{tid:x}]:"]
            right = [h for h in (tee or {}).get("hooks", []) if h[0] == "right"]
            if right and ours(nodes[str(right[0][1])]):
                lines.append(f"connect {ether['name']}: {nodes[str(right[0][1])]['name']}: lower {right[0][2]}")
            with self._no_faults():
                self.h.run("ngctl", "-f", "-", stdin="\n".join(lines) + "\n")
            self.foreign.pop(tid, None)
            self._refresh_foreign()
            return
        lower = [h for h in ether["hooks"] if h[0] == "lower"]
        if not lower or not ours(nodes[str(lower[0][1])]) or nodes[str(lower[0][1])]["type"] != "netflow":
            return
        nf, nf_hook = nodes[str(lower[0][1])]["name"], lower[0][2]
        eth = ether["name"]
        self._foreign_batch("tee", iface, [f"rmhook {eth}: lower", f"mkpeer {eth}: tee lower left",
                                           f"name {eth}:lower tap_{eth}", f"connect tap_{eth}: {nf}: right {nf_hook}"],
                            modules=("ng_tee",))
        self.taps[iface] = next(n for n, i in self.foreign.items() if i["kind"] == "tee" and i["iface"] == iface)
        check(not [i for i, s in self.h.links().items() if s != "pass" and i != iface] and
              self.h.links().get(iface) == "pass", "setup", f"the tee tap on {iface} cut traffic")

    @on("foreign")
    @rule(iface=st.sampled_from(ETHERS), kind=st.sampled_from(("opnsense", "hand_built")))
    def foreign_exporter(self, iface, kind):
        """OPNsense's rc.d/netflow or a hand-built exporter arrives on a free interface (or,
        if one is there, leaves)."""
        self._hit("foreign")
        gone = [n for n, i in self.foreign.items() if i["kind"] == kind]
        if gone:
            with self._no_faults():
                for nid in gone:
                    self.h.run("ngctl", "shutdown", f"[{nid:x}]:")
                    self.foreign.pop(nid, None)
            self._refresh_foreign()
            return
        self._kldload("ng_ether")  # another program loads what it needs
        ether = self._ether(iface)
        if ether is None or not self._free(iface):
            return
        path = DATA / ("opnsense_rc_netflow.ngctl" if kind == "opnsense" else "hand_built_exporter.ngctl")
        lines = [ln.strip() for ln in path.read_text().splitlines()
                 if ln.strip() and not ln.startswith("#") and not ln.startswith("shutdown")]
        eth = ether["name"]
        lines = [re.sub(r"\bem0\b", eth, ln).replace("netflow_em0", f"netflow_{eth}") for ln in lines]
        self._foreign_batch(kind, iface, lines, modules=("ng_netflow", "ng_ksocket"))

    @on("hub")
    @rule(iface=st.sampled_from(ETHERS))
    def hub_graph(self, iface):
        """A foreign ng_hub between an interface's lower and upper (or, if there, gone)."""
        self._hit("hub")
        gone = [n for n, i in self.foreign.items() if i["kind"] == "hub" and i["iface"] == iface]
        if gone:
            with self._no_faults():
                self.h.run("ngctl", "shutdown", f"[{gone[0]:x}]:")
            self.foreign.pop(gone[0])
            self._refresh_foreign()
            return
        self._kldload("ng_ether")
        ether = self._ether(iface)
        if ether is None or not self._free(iface):
            return
        eth = ether["name"]
        self._foreign_batch("hub", iface, [f"mkpeer {eth}: hub lower l0", f"name {eth}:lower hub_{eth}",
                                           f"connect {eth}: hub_{eth}: upper u0"], modules=("ng_hub",))


    def _leave(self, kind: str, iface: str) -> bool:
        """The foreign ``kind`` on ``iface`` goes, if there: its nodes shut down (its
        interfaces' ng_ether nodes go with their ng_eiface); True if it was there."""
        mine = [n for n, i in self.foreign.items() if i["kind"] == kind and i["iface"] == iface]
        if not mine:
            return False
        nodes = self._state()["nodes"]
        first = sorted(mine, key=lambda n: (nodes.get(str(n), {}).get("type") != "eiface",
                                            nodes.get(str(n), {}).get("type") == "ether"))
        lines = [f"msg {self._ether(iface)['name']}: setpromisc 0",
                 f"msg {self._ether(iface)['name']}: setautosrc 1"] if kind == "jail" and self._ether(iface) else []
        with self._no_faults():
            for nid in first:
                if str(nid) in self._state()["nodes"]:
                    self.h.run("ngctl", "shutdown", f"[{nid:x}]:")
            if lines:
                self.h.run("ngctl", "-f", "-", stdin="\n".join(lines) + "\n")
        for nid in mine:
            self.foreign.pop(nid, None)
        self._refresh_foreign()
        return True

    def _links_kept(self, kind: str, iface: str, before: dict) -> None:
        after = self.h.links()
        check(all(after.get(i) == s for i, s in before.items() if i in IFACES), "setup",
              f"the foreign {kind} on {iface} changed traffic: {before} -> {after}")

    @on("pppoe")
    @rule(iface=st.sampled_from(ETHERS))
    def pppoe_client(self, iface):
        """mpd5's PPPoE link on an interface's ``orphans`` hook, with a session hook being
        connected (or, if there, gone); lower/upper (our exporter's) are left alone."""
        self._hit("pppoe")
        if self._leave("pppoe", iface):
            return
        self._kldload("ng_ether")
        ether = self._ether(iface)
        if ether is None or any(h[0] == "orphans" for h in ether["hooks"]):
            return
        eth, before = ether["name"], self.h.links()
        self._foreign_batch("pppoe", iface, [
            f"mkpeer {eth}: pppoe orphans ethernet", f"name {eth}:orphans mpd_{eth}",
            f"mkpeer mpd_{eth}: tee mpd1234-{eth} left",
            f'msg mpd_{eth}: pppoe_connect {{ hook="mpd1234-{eth}" data="\\\\isp|svc" }}'],
            modules=("ng_pppoe", "ng_tee"), held=False)
        self._links_kept("pppoe", iface, before)

    @on("vlan")
    @rule(iface=st.sampled_from(ETHERS))
    def vlan_trunk(self, iface):
        """ng_vlan(4)'s example: a trunk on an interface's lower (``downstream``), untagged
        frames back to upper (``nomatch``), two VLANs filtered to ng_eiface nodes (or, if
        there, all gone)."""
        self._hit("vlan")
        if self._leave("vlan", iface):
            return
        self._kldload("ng_ether")
        ether = self._ether(iface)
        if ether is None or not self._free(iface):
            return
        eth, before = ether["name"], self.h.links()
        self._foreign_batch("vlan", iface, [
            f"mkpeer {eth}: vlan lower downstream", f"name {eth}:lower vlan_{eth}",
            f"connect {eth}: vlan_{eth}: upper nomatch",
            f"mkpeer vlan_{eth}: eiface v100 ether", f'msg vlan_{eth}: addfilter {{ hook="v100" vid=100 }}',
            f"mkpeer vlan_{eth}: eiface v200 ether", f'msg vlan_{eth}: addfilter {{ hook="v200" vid=200 }}'],
            modules=("ng_vlan", "ng_eiface"))
        self._links_kept("vlan", iface, before)

    @on("jail")
    @rule(iface=st.sampled_from(ETHERS))
    def vnet_jail(self, iface):
        """A VNET jail as jng builds it: ng_bridge on lower (link0) and upper (link1), the
        jail's ng_eiface on link2 (or, if there, gone as jng shutdown does)."""
        self._hit("jail")
        if self._leave("jail", iface):
            return
        self._kldload("ng_ether")
        ether = self._ether(iface)
        if ether is None or not self._free(iface):
            return
        eth, before = ether["name"], self.h.links()
        self._foreign_batch("jail", iface, [
            f"mkpeer {eth}: bridge lower link0", f"name {eth}:lower {eth}bridge",
            f"connect {eth}: {eth}bridge: upper link1", f"msg {eth}: setpromisc 1", f"msg {eth}: setautosrc 0",
            f"mkpeer {eth}bridge: eiface link2 ether"], modules=("ng_bridge", "ng_eiface"))
        self._links_kept("jail", iface, before)
