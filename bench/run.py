#!/usr/bin/env python3
"""Benchmarks (`make bench`): what salt-netgraph promises, measured on emulated hosts.

Prints a readable table, then as the very last line one JSON object. Every figure is
counted from ngsim's invocation log or measured in this run; no figure is asserted here
(the test suite asserts behaviour, not time). Times are wall-clock on a shared machine:
compare the ratios, not the absolute numbers.

Our approach: `netflow.exporter_present` through Salt's own loader (in-process), and
`salt-call --local state.apply` for the overhead ratio.
The seed's approach: its commands as separate `ngctl` calls, as OPNsense's rc.d does, with
a re-run rebuilding from scratch (`shutdown netflow:` then the same commands).
"""
from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "_utils"))  # the pure core, by its plain module names

from netgraph_core import nf_model  # noqa: E402
from netgraph_core import nf_plan  # noqa: E402

from ngsim.testing import Host, load_file  # noqa: E402

C1 = {"host": "192.0.2.10", "port": 2055}
C2 = {"host": "192.0.2.11", "port": 2055}
C5 = {"host": "192.0.2.12", "port": 9995, "version": 5}


def ngsim(*args: str) -> str:
    return subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, check=True, capture_output=True, text=True).stdout


def log(root: str) -> list[dict]:
    return [json.loads(x) for x in ngsim("log", root).splitlines() if x.strip()]


def links(root: str) -> dict:
    return json.loads(ngsim("links", root))


def is_ngctl(entry: dict) -> bool:
    return entry.get("binary", entry["argv"][0].rsplit("/", 1)[-1]) == "ngctl"


class Bench:
    def __init__(self, work: pathlib.Path):
        self.work = work
        self.loaders: dict[str, object] = {}

    # ------------------------------------------------------------------ hosts
    def host(self, name: str, ifaces: list[str], loaded=("ng_ether", "ng_netflow", "ng_ksocket", "ng_socket")) -> Host:
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
            "netflow": {"boot_dir": str(base / "boot")},
        })
        self.loaders[host.root] = Loaders(opts)
        return self.loaders[host.root]

    def present(self, host: Host, **params):
        params.setdefault("collectors", [C1])
        ret = self.salt(host).states.netflow.exporter_present(name="bench", **params)
        if ret.result is not True:
            raise SystemExit(f"exporter_present failed: {ret.comment}")
        return ret

    # ------------------------------------------------------------------ ours
    def ours_spawns(self, n_ifaces: int) -> dict:
        ifaces = [f"em{i}" for i in range(n_ifaces)]
        h = self.host(f"ours{n_ifaces}", ifaces)
        mark = len(log(h.root))
        self.present(h, interfaces=ifaces)
        create = log(h.root)[mark:]
        mark = len(log(h.root))
        ret = self.present(h, interfaces=ifaces)
        assert ret.changes == {}, ret.changes
        nochange = log(h.root)[mark:]
        return {
            "nochange_spawns": sum(1 for e in nochange if is_ngctl(e)),
            "nochange_mutating": sum(1 for e in nochange if e["mutating"]),
            "create_mutating": sum(1 for e in create if e["mutating"]),
            "create_spawns": sum(1 for e in create if is_ngctl(e)),
        }

    def replay_blackholes(self, ifaces: list[str], steps: list[dict]) -> dict:
        """Apply each (before -> after) step with exporter_present, recording the mutating
        invocations; replay them one by one on a twin host that starts from the same state,
        looking at `ngsim links` at every spawn boundary."""
        h = self.host("bh", ifaces)
        twin = self.host("bh-twin", ifaces)
        boundaries = blackholed = 0
        for params in steps:
            shutil.copy(os.path.join(h.root, "state.json"), os.path.join(twin.root, "state.json"))
            mark = len(log(h.root))
            self.present(h, **params)
            for e in log(h.root)[mark:]:
                if not e["mutating"]:
                    continue
                tool, argv = e["argv"][0].rsplit("/", 1)[-1], list(e["argv"][1:])
                if e.get("script") is not None:  # a batch (`-f FILE`, the file is gone): replay its text
                    argv = ["-f", "-"]
                proc = twin.run(tool, *argv, stdin=e.get("script") or e.get("stdin") or "")
                if proc.returncode:
                    raise SystemExit(f"replay failed: {e['argv']}: {proc.stderr}")
                boundaries += 1
                if "blackhole" in links(twin.root).values():
                    blackholed += 1
        return {"boundaries": boundaries, "blackholed": blackholed}

    def ours_cache_losses(self) -> dict:
        """Shutdowns of the netflow node while only collectors/timeouts/directions change."""
        ifaces = ["em0", "em1"]
        h = self.host("cache", ifaces)
        steps = [
            {"interfaces": ifaces, "collectors": [C1]},
            {"interfaces": ifaces, "collectors": [C2]},                                  # re-point
            {"interfaces": ifaces, "collectors": [C2, C1]},                              # fan-out
            {"interfaces": ifaces, "collectors": [C2, C1, C5]},                          # add v5
            {"interfaces": ifaces, "collectors": [C1]},                                  # back to one
            {"interfaces": ifaces, "collectors": [C1], "timeouts": {"active": 60, "inactive": 5}},
            {"interfaces": {"em0": {"direction": "ingress"}, "em1": {"direction": "egress"}}, "collectors": [C1]},
        ]
        self.present(h, **steps[0])
        losses = 0
        for params in steps[1:]:
            before = h.ngctl("show", "-n", "bench_nf:").stdout
            self.present(h, **params)
            after = h.ngctl("show", "-n", "bench_nf:").stdout
            if before.split("ID: ")[1].split()[0] != after.split("ID: ")[1].split()[0]:
                losses += 1
        return {"changes": len(steps) - 1, "losses": losses}

    def ours_dual_stack(self) -> dict:
        """Collector changes across address families and sources (issue 16): the ksocket is
        replaced (a socket's family is fixed, a bound one cannot bind again), the netflow
        node and its flow cache stay. Counts netflow shutdowns, replaced ksockets and the
        flows in the cache (IPv4 and IPv6 records used) before and after every change."""
        h = self.host("dual", ["em0", "em1"])
        steps = [
            [C1],
            [{"host": "2001:db8::53", "port": 2055}],                                     # IPv4 -> IPv6
            [{"host": "2001:db8::53", "port": 2055, "source": "2001:db8::1"}],            # a source
            [{"host": "2001:db8::54", "port": 2055, "source": "2001:db8::1"}],            # host, bound
            [{"host": "2001:db8::54", "port": 2055}],                                     # source dropped
            [{**C1, "source": "192.0.2.1"}, {"host": "2001:db8::54", "port": 2055}],      # fan-out, both
            [C1],                                                                         # IPv6 -> IPv4
        ]
        self.present(h, interfaces=["em0", "em1"], collectors=steps[0])
        h.traffic("em0", "--src", "2001:db8::10", "--dst", "2001:db8::20", "--proto", "tcp", "--flows", "5")
        h.traffic("em1", "--src", "10.0.0.1", "--dst", "192.0.2.7", "--proto", "udp", "--flows", "5")

        def cached() -> int:
            info = h.ngctl("msg", "bench_nf:", "info").stdout
            return sum(int(n) for n in re.findall(r"IPv[46] records used=(\d+)", info))

        before, losses, replaced = cached(), 0, 0
        for collectors in steps[1:]:
            nf = h.ngctl("show", "-n", "bench_nf:").stdout.split("ID: ")[1].split()[0]
            ret = self.present(h, interfaces=["em0", "em1"], collectors=collectors)
            losses += h.ngctl("show", "-n", "bench_nf:").stdout.split("ID: ")[1].split()[0] != nf
            replaced += sum(1 for line in ret.changes.get("ngctl", []) if line.startswith("mkpeer") and "ksocket" in line)
        return {"changes": len(steps) - 1, "losses": losses, "ksockets_replaced": replaced,
                "flows_before": before, "flows_after": cached()}

    # ------------------------------------------------------------------ seed / OPNsense style
    @staticmethod
    def seed_commands(ifaces: list[str], collector: dict) -> list[list[str]]:
        cmds = [["mkpeer", f"{ifaces[0]}:", "netflow", "lower", "iface0"],
                ["name", f"{ifaces[0]}:lower", "netflow"],
                ["connect", f"{ifaces[0]}:", "netflow:", "upper", "out0"]]
        for i, ifname in enumerate(ifaces[1:], start=1):
            cmds += [["connect", f"{ifname}:", "netflow:", "lower", f"iface{i}"],
                     ["connect", f"{ifname}:", "netflow:", "upper", f"out{i}"]]
        cmds += [["mkpeer", "netflow:", "ksocket", "export9", "inet/dgram/udp"],
                 ["name", "netflow:export9", "nfsock"],
                 ["msg", "nfsock:", "connect", f"inet/{collector['host']}:{collector['port']}"]]
        return cmds

    def seed_run(self, h: Host, ifaces: list[str], collector: dict) -> dict:
        """One run of the seed's script: kldload, shutdown of the old exporter, then each
        command as its own ngctl process; links looked at after every spawn."""
        mark = len(log(h.root))
        blackholed = boundaries = 0
        h.kldload("-n", "ng_ether", "ng_netflow", "ng_ksocket")
        h.ngctl("shutdown", "netflow:")  # a re-run rebuilds from scratch (fails harmlessly the first time)
        for cmd in self.seed_commands(ifaces, collector):
            proc = h.ngctl(*cmd)
            if proc.returncode:
                raise SystemExit(f"seed command failed: {cmd}: {proc.stderr}")
            boundaries += 1
            if "blackhole" in links(h.root).values():
                blackholed += 1
        entries = log(h.root)[mark:]
        return {"spawns": sum(1 for e in entries if is_ngctl(e)), "mutating": sum(1 for e in entries if e["mutating"]),
                "boundaries": boundaries, "blackholed": blackholed}

    def seed(self, n_ifaces: int) -> dict:
        ifaces = [f"em{i}" for i in range(n_ifaces)]
        h = self.host(f"seed{n_ifaces}", ifaces)
        first = self.seed_run(h, ifaces, C1)
        again = self.seed_run(h, ifaces, C1)   # nothing changed, but the script cannot know
        changed = self.seed_run(h, ifaces, C2)  # a collector change: the node is rebuilt
        return {"first": first, "again": again, "changed": changed}

    # ------------------------------------------------------------------ timing
    def plan_ms(self, n_ifaces: int, n_collectors: int, repeat: int = 7) -> dict:
        ifaces = [f"em{i}" for i in range(n_ifaces)]
        graph = {"nodes": {i: {"type": "ether", "hooks": {}} for i in ifaces}, "types": ["ether"]}
        params = {"name": "bench", "interfaces": ifaces,
                  "collectors": [{"host": f"192.0.2.{i + 1}", "port": 2055} for i in range(n_collectors)]}
        times, nochange_times = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            cfg = nf_model.validate(params)
            want = nf_model.desired(cfg, graph)
            res = nf_plan.diff(graph, want)
            times.append((time.perf_counter() - t0) * 1000)
            # the same plan against a live graph that already matches (the no-change path)
            live = {"nodes": json.loads(json.dumps(want["nodes"])), "settings": want["settings"]}
            t0 = time.perf_counter()
            cfg = nf_model.validate(params)
            again = nf_plan.diff(live, nf_model.desired(cfg, live))
            nochange_times.append((time.perf_counter() - t0) * 1000)
            assert again["commands"] == []
        return {"create_ms": statistics.median(times), "nochange_ms": statistics.median(nochange_times),
                "commands": len(res["commands"])}

    def overhead_ratio(self, pairs: int = 9) -> dict:
        """salt-call --local state.apply of a no-change exporter state / of a test.nop state."""
        write_minion_config = load_file(REPO / "demo" / "run.py", "demo_run").write_minion_config  # the demo's config

        h = self.host("overhead", ["em0", "em1"])
        base = self.work / "overhead-salt"
        confdir = write_minion_config(base, pathlib.Path(h.root), {"netflow": {"exporters": {}}})
        states = base / "states"
        states.mkdir(parents=True, exist_ok=True)
        (states / "exporter.sls").write_text(
            "bench:\n  netflow.exporter_present:\n    - interfaces: [em0, em1]\n"
            "    - collectors:\n      - {host: 192.0.2.10, port: 2055}\n")
        (states / "nop.sls").write_text("bench:\n  test.nop: []\n")
        cfg = (confdir / "minion").read_text()
        import yaml

        conf = yaml.safe_load(cfg)
        conf["file_roots"]["base"].insert(0, str(states))
        (confdir / "minion").write_text(yaml.safe_dump(conf))
        salt_call = str(pathlib.Path(sys.executable).parent / "salt-call")

        def run(sls: str) -> float:
            t0 = time.perf_counter()
            proc = subprocess.run([salt_call, "--local", "-c", str(confdir), "--retcode-passthrough",
                                   "state.apply", sls, "--out=json"], capture_output=True, text=True)
            dt = time.perf_counter() - t0
            if proc.returncode:
                raise SystemExit(f"salt-call {sls} failed: {proc.stdout[-2000:]} {proc.stderr[-2000:]}")
            return dt

        run("exporter")  # create; also warms caches
        run("nop")
        ours, nop = [], []
        for i in range(pairs):  # alternate the order inside each pair
            for kind in (("nop", "exporter") if i % 2 else ("exporter", "nop")):
                (nop if kind == "nop" else ours).append(run(kind))
        return {"ours_s": statistics.median(ours), "nop_s": statistics.median(nop),
                "ratio": statistics.median(ours) / statistics.median(nop), "pairs": pairs}


    # ------------------------------------------------------------------ operating (issue 15)
    def beacon_cost(self, n_ifaces: int, intervals: int = 10) -> dict:
        """netflow.watch, what the beacon runs per interval, on a converged exporter of
        n_ifaces interfaces: ngctl spawns and wall-clock ms per interval (median)."""
        ifaces = [f"em{i}" for i in range(n_ifaces)]
        h = self.host(f"beacon{n_ifaces}", ifaces)
        self.present(h, interfaces=ifaces)
        nf = self.salt(h).modules.netflow
        state = nf.watch(state={})["state"]  # first interval: no previous graph
        mark = len(log(h.root))
        times = []
        for _ in range(intervals):
            t0 = time.perf_counter()
            ret = nf.watch(state=state)
            times.append((time.perf_counter() - t0) * 1000)
            assert ret["events"] == [], ret["events"]
            state = ret["state"]
        spawns = [e for e in log(h.root)[mark:] if is_ngctl(e)]
        return {"spawns": len(spawns) / intervals, "mutating": sum(e["mutating"] for e in spawns),
                "ms": statistics.median(times)}

    def heal_time(self) -> dict:
        """tests/integration/test_self_heal.py (real salt-master, salt-minion whose beacon heals,
        nfcapd): seconds from the interface's re-creation to its packets being
        accounted again. None when it cannot run here (no nfcapd) or fails."""
        out = self.work / "heal.json"
        env = {**os.environ, "NETFLOW_BENCH_OUT": str(out)}
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               str(REPO / "tests" / "integration" / "test_self_heal.py")],
                              cwd=REPO, env=env, capture_output=True, text=True)
        if proc.returncode or not out.exists():
            tail = (proc.stdout or proc.stderr).strip().splitlines()[-1:] or ["no output"]
            print(f"(self-heal measure not taken: {tail[0]})", file=sys.stderr)
            return {"heal_s": None, "beacon_fired_s": None, "beacon_interval_s": None}
        return json.loads(out.read_text())

def main() -> int:
    work = pathlib.Path(tempfile.mkdtemp(prefix="nf-bench-"))
    b = Bench(work)
    try:
        o1, o64 = b.ours_spawns(1), b.ours_spawns(64)
        bh_steps = [
            {"interfaces": ["em0", "em1", "em2"], "collectors": [C1]},                               # create
            {"interfaces": {"em0": {"direction": "egress"}, "em1": None, "em3": None},              # modify
             "collectors": [C2, C5], "timeouts": {"active": 60, "inactive": 5}},
            {"interfaces": ["em3"], "collectors": [C5]},                                            # remove
        ]
        bh = b.replay_blackholes(["em0", "em1", "em2", "em3"], bh_steps)
        cache = b.ours_cache_losses()
        dual = b.ours_dual_stack()
        s1, s64 = b.seed(1), b.seed(64)
        s3 = b.seed(3)
        plan = b.plan_ms(256, 4)
        over = b.overhead_ratio()
        w1, w64 = b.beacon_cost(1), b.beacon_cost(64)
        heal = b.heal_time()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    seed_losses = 1  # every seed re-run shuts down and rebuilds the netflow node
    rows = [
        ("ngctl spawns, no-change apply, 1 iface", o1["nochange_spawns"], s1["again"]["spawns"]),
        ("ngctl spawns, no-change apply, 64 ifaces", o64["nochange_spawns"], s64["again"]["spawns"]),
        ("mutating spawns, no-change apply, 64 ifaces", o64["nochange_mutating"], s64["again"]["mutating"]),
        ("mutating spawns, create, 1 iface", o1["create_mutating"], s1["first"]["mutating"]),
        ("mutating spawns, create, 64 ifaces", o64["create_mutating"], s64["first"]["mutating"]),
        ("spawn boundaries with an iface blackholed (create/modify/remove, 3 ifaces)",
         f"{bh['blackholed']} of {bh['boundaries']}", f"{s3['first']['blackholed']} of {s3['first']['boundaries']} (create only)"),
        (f"netflow node shutdowns over {cache['changes']} collector/timeout/direction changes",
         cache["losses"], f"{cache['changes'] * seed_losses} (a rebuild per change)"),
        (f"netflow node shutdowns over {dual['changes']} dual-stack collector changes (IPv4<->IPv6, source)",
         f"{dual['losses']} ({dual['flows_after']} of {dual['flows_before']} flows kept)",
         f"{dual['changes'] * seed_losses} (a rebuild per change)"),
        ("plan ms, 256 ifaces x 4 collectors (create / no-change)",
         f"{plan['create_ms']:.1f} / {plan['nochange_ms']:.1f}", "-"),
        ("salt-call state.apply, no-change exporter / test.nop (median s)",
         f"{over['ours_s']:.2f} / {over['nop_s']:.2f} = {over['ratio']:.2f}", "-"),
        ("beacon per interval, 1 iface: ngctl spawns / ms (median of 10)", f"{w1['spawns']:g} / {w1['ms']:.0f}", "-"),
        ("beacon per interval, 64 ifaces: ngctl spawns / ms (median of 10)", f"{w64['spawns']:g} / {w64['ms']:.0f}", "-"),
        (f"self-heal: iface re-created -> accounted again (s; beacon every {heal['beacon_interval_s']} s)",
         "-" if heal["heal_s"] is None else f"{heal['heal_s']:.1f}", "-"),
    ]
    w = max(len(r[0]) for r in rows)
    print(f"{'measure':<{w}}  {'salt-netgraph':>22}  {'ngctl per command':>26}")
    print(f"{'-' * w}  {'-' * 22}  {'-' * 26}")
    for label, ours, seed in rows:
        print(f"{label:<{w}}  {str(ours):>22}  {str(seed):>26}")
    print(f"(overhead: {over['pairs']} alternated pairs; plan: {plan['commands']} ngctl lines for the create plan)")
    result = {
        "nochange_spawns_1": o1["nochange_spawns"],
        "nochange_spawns_64": o64["nochange_spawns"],
        "change_mutating_spawns": o1["create_mutating"],
        "change_mutating_spawns_64": o64["create_mutating"],
        "blackholed_spawns": bh["blackholed"],
        "spawn_boundaries": bh["boundaries"],
        "flow_cache_losses": cache["losses"],
        "dual_stack_changes": dual["changes"],
        "dual_stack_netflow_shutdowns": dual["losses"],
        "dual_stack_ksockets_replaced": dual["ksockets_replaced"],
        "dual_stack_flows_kept": dual["flows_after"],
        "dual_stack_flows_cached": dual["flows_before"],
        "overhead_ratio": round(over["ratio"], 3),
        "plan_ms_256x4": round(plan["create_ms"], 2),
        "plan_ms_256x4_nochange": round(plan["nochange_ms"], 2),
        "seed_nochange_spawns_1": s1["again"]["spawns"],
        "seed_nochange_spawns_64": s64["again"]["spawns"],
        "seed_change_mutating_spawns": s1["first"]["mutating"],
        "seed_blackholed_spawns": s3["first"]["blackholed"],
        "seed_flow_cache_losses": cache["changes"] * seed_losses,
        "beacon_spawns_1": w1["spawns"],
        "beacon_spawns_64": w64["spawns"],
        "beacon_mutating_spawns": w1["mutating"] + w64["mutating"],
        "beacon_ms_1": round(w1["ms"], 1),
        "beacon_ms_64": round(w64["ms"], 1),
        "heal_s": heal["heal_s"],
        "heal_beacon_fired_s": heal["beacon_fired_s"],
        "heal_beacon_interval_s": heal["beacon_interval_s"],
    }
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
