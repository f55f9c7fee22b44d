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

Then the rows at a large firewall's size (bench/scale.py, `--no-scale` skips them) and a
fleet of real minions on a real salt-master (bench/fleet.py, `--no-fleet` or
NETFLOW_BENCH_NO_FLEET=1 skips it). Our CPU apart from the emulator's: bench/common.py.
"""
from __future__ import annotations

import argparse
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

import fleet
import scale
from common import C1, C2, C5, REPO, Base, Host, SaltCall, count_traffic, is_ngctl, links, log

from netgraph_core import nf_model
from netgraph_core import nf_plan


class Bench(Base):
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
            got = self.replay(h, twin, lambda p=params: self.present(h, **p),
                              lambda t: "blackhole" in links(t.root).values())
            boundaries, blackholed = boundaries + got["boundaries"], blackholed + got["bad"]
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

    def overhead_ratio(self, n_ifaces: int, pairs: int = 9) -> dict:
        """salt-call --local state.apply of a no-change exporter state of ``n_ifaces``
        interfaces / of a test.nop state."""
        ifaces = [f"em{i}" for i in range(n_ifaces)]
        h = self.host(f"overhead{n_ifaces}", ifaces)
        call = SaltCall(self.work, h, f"overhead{n_ifaces}")
        call.sls("exporter", "bench:\n  netflow.exporter_present:\n    - interfaces: " + json.dumps(ifaces) + "\n"
                 "    - collectors:\n      - {host: 192.0.2.10, port: 2055}\n")
        call.run("exporter")  # create; also warms caches
        call.run("nop")
        return call.ratio("exporter", pairs)

    # ------------------------------------------------------------------ operating (issue 15)
    def beacon_cost(self, n_ifaces: int, intervals: int = 10, changed: bool = False) -> dict:
        """:meth:`beacon_costs` of one size."""
        return self.beacon_costs([n_ifaces], intervals, changed)[n_ifaces]

    def beacon_costs(self, sizes: list[int], intervals: int = 10, changed: bool = False) -> dict:
        """netflow.watch, what the beacon runs per interval, on a converged exporter of each
        of ``sizes`` interfaces: ngctl spawns, wall-clock ms and our CPU ms per interval
        (median; our CPU without the read's spawn, see bench/common.py), the emulator's CPU
        apart. The sizes alternate by blocks of 3 intervals, so that a ratio between them is
        measured over the same moments of a shared machine. Before each interval every interface's
        packet counter moves by its own amount (common.count_traffic), so no two ``ifinfo``
        replies are alike, as on a busy host. ``changed``: before each interval, a node that
        is not ours is made (an ng_eiface), so every read's graph differs from the last one."""
        hosts, states, runs = {}, {}, {n: [] for n in sizes}
        for n in sizes:
            ifaces = [f"em{i}" for i in range(n)]
            hosts[n] = self.host(f"beacon{n}{'c' if changed else ''}", ifaces)
            self.present(hosts[n], interfaces=ifaces)
            states[n] = self.salt(hosts[n]).modules.netflow.watch(state={})["state"]  # first interval: no previous graph
            if changed and hosts[n].kldload("ng_eiface").returncode:
                raise SystemExit("kldload ng_eiface failed")
        tick = 0
        while min(len(rs) for rs in runs.values()) < intervals:
            for n in sizes:
                # a block of 3 intervals per size, after one that is not measured: a minion
                # reads one host, so its interval follows its own last read (the parse keeps
                # the last graph), never another host's
                for measured in (False, True, True, True):
                    h, nf = hosts[n], self.salt(hosts[n]).modules.netflow
                    tick += 1
                    count_traffic(h.root, tick)
                    if changed and h.ngctl("mkpeer", ".", "eiface", "e", "ether").returncode:
                        raise SystemExit("ngctl mkpeer . eiface failed")
                    got = self.cpu(h, lambda s=states[n], nf=nf: nf.watch(state=s))
                    assert got["result"]["events"] == [], got["result"]["events"]
                    states[n] = got["result"]["state"]
                    if measured and len(runs[n]) < intervals:
                        runs[n].append(got)
        return {n: {"spawns": sum(r["spawns"] for r in rs) / intervals, "mutating": sum(r["mutating"] for r in rs),
                    **{k: statistics.median(r[k] for r in rs) for k in ("wall_ms", "ours_ms", "emulator_ms")},
                    "ms": statistics.median(r["wall_ms"] for r in rs)} for n, rs in runs.items()}

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

def fleet_rows(figures: dict | None) -> tuple[list[tuple], dict]:
    """Rows and JSON figures of bench/fleet.py's measure (None: not measured)."""
    if not figures:
        return [("fleet of real minions", "not measured", "-")], {"fleet": None}
    rows, js = [], {}
    for n, f in sorted(figures.items()):
        rows.append((f"fleet of {n} minions: salt state.apply no-change exporter / test.nop (median s); master CPU s per minion",
                     f"{f['ours_s']:.2f} / {f['nop_s']:.2f} = {f['ratio']:.2f}; {f['master_cpu_per_minion_s']:.2f}", "-"))
        js.update({f"fleet_ratio_{n}": round(f["ratio"], 3), f"fleet_master_cpu_per_minion_s_{n}": round(f["master_cpu_per_minion_s"], 3)})
    return rows, js


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-fleet", action="store_true", help="skip the fleet of real minions (bench/fleet.py)")
    parser.add_argument("--no-scale", action="store_true", help="skip the 1,000/2,000-interface rows (bench/scale.py)")
    args = parser.parse_args()
    no_fleet = args.no_fleet or os.environ.get("NETFLOW_BENCH_NO_FLEET") == "1"
    work = pathlib.Path(tempfile.mkdtemp(prefix="nf-bench-"))
    b = Bench(work)
    big = fleet_figures = None
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
        over, over64 = b.overhead_ratio(1), b.overhead_ratio(64)
        w1, w64 = b.beacon_cost(1), b.beacon_cost(64)
        heal = b.heal_time()
        if not args.no_scale:
            big = scale.measure(b, b.beacon_costs)
        if not no_fleet:
            fleet_figures = fleet.measure(work=work)
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
        ("salt-call state.apply, no-change exporter / test.nop (median s), 1 iface",
         f"{over['ours_s']:.2f} / {over['nop_s']:.2f} = {over['ratio']:.2f}", "-"),
        ("salt-call state.apply, no-change exporter / test.nop (median s), 64 ifaces",
         f"{over64['ours_s']:.2f} / {over64['nop_s']:.2f} = {over64['ratio']:.2f}", "-"),
        ("beacon per interval, 1 iface: ngctl spawns / ms (median of 10)", f"{w1['spawns']:g} / {w1['ms']:.0f}", "-"),
        ("beacon per interval, 64 ifaces: ngctl spawns / ms (median of 10)", f"{w64['spawns']:g} / {w64['ms']:.0f}", "-"),
        (f"self-heal: iface re-created -> accounted again (s; beacon every {heal['beacon_interval_s']} s)",
         "-" if heal["heal_s"] is None else f"{heal['heal_s']:.1f}", "-"),
    ]
    extra: dict = {}
    if big is not None:
        more, extra = scale.rows(big)
        rows += more
    if not no_fleet:
        more, js = fleet_rows(fleet_figures)
        rows, extra = rows + more, {**extra, **js}
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
        "overhead_ratio_64": round(over64["ratio"], 3),
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
    result.update(extra)
    print(json.dumps(result, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
