"""What every part of `make bench` shares: emulated hosts, Salt's loader bound to a host with
a timing shim at its `cmd.run_all`, `salt-call --local` runs against a host, ngsim's log.

Our CPU apart from the emulator's (:class:`SpawnTimer`, :meth:`Base.cpu`): the shim wraps
`cmd.run_all`, the one place our modules spawn a binary (`_modules/netgraph.py`'s `_spawn`),
in both of the loader's module dicts; states run on those modules as `state.single` runs a
state (tests/support/nghost.py's InProcessStates), every spawn a real process. A measured call's *our CPU* is this process's CPU time
(`time.process_time`, every thread) over the call minus the CPU time this process spent
inside `cmd.run_all` (Salt's Popen, pipe reads, its timeout thread). The emulator itself
runs in the spawned processes (ngsim's `ngctl`, `kldstat`...): its CPU is never in
`process_time`; it is reported apart from `getrusage(RUSAGE_CHILDREN)` over the call.
"""
from __future__ import annotations

import json
import os
import pathlib
import resource
import shutil
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "_utils"):  # the tree and the pure core, by their plain names
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from ngsim.testing import Host, load_file  # noqa: E402
from tests.support.nghost import InProcessStates  # noqa: E402

C1 = {"host": "192.0.2.10", "port": 2055}
C2 = {"host": "192.0.2.11", "port": 2055}
C5 = {"host": "192.0.2.12", "port": 9995, "version": 5}
MODULES = ("ng_ether", "ng_netflow", "ng_ksocket", "ng_socket")


def ngsim(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def log(root: str) -> list[dict]:
    return [json.loads(x) for x in ngsim("log", root).splitlines() if x.strip()]


def links(root: str) -> dict:
    return json.loads(ngsim("links", root))


def is_ngctl(entry: dict) -> bool:
    return entry.get("binary", entry["argv"][0].rsplit("/", 1)[-1]) == "ngctl"


def ngctl_spawns(entries: list[dict]) -> int:
    return sum(1 for e in entries if is_ngctl(e))


def children_cpu() -> float:
    """CPU seconds of this process's reaped children (the emulator's processes)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


class SpawnTimer:
    """`cmd.run_all` with the CPU time this process spends inside it counted (see the module)."""

    def __init__(self, loader, real):
        self.loader, self.real = loader, real
        self.cpu = 0.0
        self.calls = 0

    def __call__(self, *args, **kwargs):
        start = time.process_time()
        try:
            return self.real(*args, **kwargs)  # already inside this loader's context
        finally:
            self.cpu += time.process_time() - start
            self.calls += 1


def install_timers(loaders) -> list[SpawnTimer]:
    """A :class:`SpawnTimer` at `cmd.run_all` of Salt 3008's two module loaders (the outer
    one and the inner one every module's `__salt__` is), as tests/support/kernel.py installs
    its adapter."""
    outer = loaders.modules
    inner = outer.pack.get("__salt__") or outer
    timers = []
    for loader in {id(outer): outer, id(inner): inner}.values():
        loader["cmd.run_all"]  # loads cmdmod before its entry is replaced
        timers.append(SpawnTimer(loader, loader._dict["cmd.run_all"]))
        loader._dict["cmd.run_all"] = timers[-1]
    return timers


def count_traffic(root: str, interval: int) -> None:
    """Advance every netflow node's per-interface packet counters (``ifinfo``) by a different
    amount each, as interval ``interval`` of traffic on a busy firewall would: no two
    interfaces' replies are then the same text, as on a real host (on an idle emulated
    host all 2,000 are). Written into the emulator's state under its lock: pushing packets
    through 2,000 interfaces one ``ngsim traffic`` at a time would take minutes."""
    from ngsim import state

    with state.locked(root):
        st = state.load(root)
        for node in st["nodes"].values():
            if node.get("type") == "netflow":
                for n, entry in node["priv"]["ifaces"].items():
                    more = 1 + (int(n) * 7919 + interval * 104729) % 50000
                    entry["packets"] = (entry["packets"] + more) % 2 ** 32
                    node["priv"]["counters"]["IPv4 packets"] += more  # accounted, as the node counts them
                    node["priv"]["counters"]["IPv4 bytes"] += 100 * more
        state.save(root, st)


class Base:
    """Hosts under one work directory and a Salt loader per host."""

    def __init__(self, work: pathlib.Path):
        self.work = work
        self.loaders: dict[str, object] = {}
        self.timers: dict[str, list[SpawnTimer]] = {}

    def host(self, name: str, ifaces: list[str], loaded=MODULES) -> Host:
        root = self.work / name
        if root.exists():
            shutil.rmtree(root)
        return Host.create(str(root), ifaces=ifaces, loaded=loaded)

    def salt(self, host: Host):
        """Salt's loader bound to this host (same opts as the functional tests)."""
        if host.root in self.loaders:
            return self.loaders[host.root]
        import salt.config
        from saltfactories.utils.functional import Loaders

        base = self.work / ("salt-" + os.path.basename(host.root))
        opts = salt.config.minion_config(None)
        bindir = pathlib.Path(host.root) / "bin"
        opts.update({
            "id": "bench", "file_client": "local", "root_dir": str(base), "cachedir": str(base / "cache"),
            "pki_dir": str(base / "pki"), "sock_dir": str(base / "sock"),
            "module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")], "states_dirs": [str(REPO / "_states")],
            "netgraph.ngctl": str(bindir / "ngctl"), "netgraph.kldload": str(bindir / "kldload"),
            "netgraph.kldstat": str(bindir / "kldstat"), "netgraph.ipfw": str(bindir / "ipfw"),
            # a lock of its own: the default /var/run/netflow.lock is the machine's, and a
            # timed apply would wait out anyone else's run holding it
            "netflow": {"boot_dir": str(base / "boot"), "lock_file": str(base / "netflow.lock")},
        })
        loaders = self.loaders[host.root] = Loaders(opts)
        self.timers[host.root] = install_timers(loaders)
        # states on these very modules (saltfactories' own go through state.single, which
        # loads a fresh set of modules, Salt's cmd.run_all unwrapped, at every call)
        loaders._states = InProcessStates(loaders)
        return self.loaders[host.root]

    def present(self, host: Host, name: str = "bench", **params):
        params.setdefault("collectors", [C1])
        ret = self.salt(host).states.netflow.exporter_present(name=name, **params)
        if ret.result is not True:
            raise SystemExit(f"exporter_present failed: {ret.comment}")
        return ret

    def host_state(self, host: Host, exporters: dict, absent=None):
        ret = self.salt(host).states.netflow.exporters_present(name="bench-host", exporters=exporters, absent=absent)
        if ret.result is not True:
            raise SystemExit(f"exporters_present failed: {ret.comment}")
        return ret

    def cpu(self, host: Host, call) -> dict:
        """Run ``call()`` once: its ngctl spawns and mutating ones (ngsim's log), wall ms, our
        CPU ms (the module docstring) and the emulator's CPU ms."""
        self.salt(host)
        timers = self.timers[host.root]
        mark = len(log(host.root))
        calls0, spawn0, child0 = sum(t.calls for t in timers), sum(t.cpu for t in timers), children_cpu()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = call()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        spawn, child = sum(t.cpu for t in timers) - spawn0, children_cpu() - child0
        entries = log(host.root)[mark:]
        if len(entries) != sum(t.calls for t in timers) - calls0:  # every spawn went through the shim
            raise SystemExit(f"timing shim: {sum(t.calls for t in timers) - calls0} calls, ngsim logged {len(entries)}")
        return {"result": result, "spawns": ngctl_spawns(entries), "mutating": sum(1 for e in entries if e["mutating"]),
                "wall_ms": wall * 1000, "ours_ms": (cpu - spawn) * 1000, "emulator_ms": child * 1000}

    def replay(self, h: Host, twin: Host, apply, check) -> dict:
        """Run ``apply()`` on ``h``, recording its mutating invocations; replay them one by one
        on ``twin`` (which starts from ``h``'s state), calling ``check(twin)`` (True: a bad
        boundary) at every spawn boundary. ngctl batches counted apart."""
        shutil.copy(os.path.join(h.root, "state.json"), os.path.join(twin.root, "state.json"))
        mark = len(log(h.root))
        apply()
        boundaries = bad = batches = 0
        for e in log(h.root)[mark:]:
            if not e["mutating"]:
                continue
            tool, argv = e["argv"][0].rsplit("/", 1)[-1], list(e["argv"][1:])
            if e.get("script") is not None:  # a batch (`-f FILE`, the file is gone): replay its text
                argv = ["-f", "-"]
            batches += tool == "ngctl"
            proc = twin.run(tool, *argv, stdin=e.get("script") or e.get("stdin") or "")
            if proc.returncode:
                raise SystemExit(f"replay failed: {e['argv']}: {proc.stderr}")
            boundaries += 1
            bad += bool(check(twin))
        return {"boundaries": boundaries, "bad": bad, "batches": batches}


def compile_tree() -> None:
    """The tree's Python files (our modules, states, core, beacon and the emulator) compiled
    to bytecode once, as pip compiles an installed package and as Salt's own modules are:
    where PYTHONDONTWRITEBYTECODE is set (this machine sets it), every `salt-call` would
    otherwise compile them from source again, ~100 ms that no deployed minion pays (the
    wheel's files are compiled at install; a synced minion caches them at its first call)
    and that `test.nop`, all Salt's, never pays. Python checks each file against its source,
    so an edited file is compiled again."""
    import compileall

    for folder in ("_modules", "_states", "_beacons", "_utils", "ngsim"):
        compileall.compile_dir(str(REPO / folder), quiet=1)


class SaltCall:
    """`salt-call --local state.apply` against one host, with SLS files of our own in front of
    the demo's file roots (the demo's minion config); every run timed (wall). The tree is
    compiled first (:func:`compile_tree`)."""

    def __init__(self, work: pathlib.Path, host: Host, name: str):
        import yaml

        compile_tree()

        write_minion_config = load_file(REPO / "demo" / "run.py", "demo_run").write_minion_config
        base = work / f"{name}-salt"
        # the netflow lock under ``base``, as Base.salt's: no wait on another run of the machine
        self.confdir = write_minion_config(base, pathlib.Path(host.root), {"netflow": {"exporters": {}}},
                                           lock_file=base / "netflow.lock")
        self.states = base / "states"
        self.states.mkdir(parents=True, exist_ok=True)
        conf = yaml.safe_load((self.confdir / "minion").read_text())
        conf["file_roots"]["base"].insert(0, str(self.states))
        # Salt walks the file roots (the demo's hold the repository, its .venv too) once its
        # file list is older than this (20 s by default): a walk of about a second then fell
        # on whichever timed run came first, ours or test.nop's. The list is made again,
        # untimed, when an SLS of a new name is written (sls)
        conf["fileserver_list_cache_time"] = 3600
        (self.confdir / "minion").write_text(yaml.safe_dump(conf))
        self.exe = str(pathlib.Path(sys.executable).parent / "salt-call")
        self.sls("nop", "bench:\n  test.nop: []\n")

    def sls(self, name: str, text: str) -> None:
        path = self.states / f"{name}.sls"
        new = not path.exists()
        path.write_text(text)
        if new:  # not in the cached file list: drop it and make it again, untimed
            for cached in self.states.parent.rglob("file_lists"):
                shutil.rmtree(cached)
            subprocess.run([self.exe, "--local", "-c", str(self.confdir), "cp.list_states"], capture_output=True, check=True)

    def run(self, sls: str) -> float:
        t0 = time.perf_counter()
        proc = subprocess.run([self.exe, "--local", "-c", str(self.confdir), "--retcode-passthrough",
                               "state.apply", sls, "--out=json"], capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(f"salt-call {sls} failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
        return dt

    def ratio(self, sls: str, pairs: int, before=None) -> dict:
        """Median wall time of ``sls`` over that of `test.nop`, ``pairs`` runs of each with the
        order alternated inside each pair; ``before()`` (untimed) runs before every ``sls``."""
        ours, nop = [], []
        for i in range(pairs):
            for kind in (("nop", sls) if i % 2 else (sls, "nop")):
                if kind == sls and before is not None:
                    before()
                (nop if kind == "nop" else ours).append(self.run(kind))
        return {"ours_s": statistics.median(ours), "nop_s": statistics.median(nop),
                "ratio": statistics.median(ours) / statistics.median(nop), "pairs": pairs}


def median_of(runs: list[dict]) -> dict:
    """The median of every timed figure over ``runs`` of :meth:`Base.cpu`; spawns of the first."""
    out = {k: statistics.median(r[k] for r in runs) for k in ("wall_ms", "ours_ms", "emulator_ms")}
    out.update(spawns=runs[0]["spawns"], mutating=runs[0]["mutating"], runs=len(runs))
    return out
