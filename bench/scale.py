"""`make bench` at the size of a large firewall (issue 21): one exporter of 1,000 and 2,000
interfaces, ten exporters x 100 interfaces on one host (the formula's one host state
`netflow.exporters_present` against ten `netflow.exporter_present` states), an interface
moved between two exporters in one change (both name orders), the beacon at 1,000 and 2,000.

Spawns come from ngsim's invocation log; our CPU and the emulator's as bench/common.py says
(median of the runs of one kind, in-process through Salt's loader with the real
`cmd.run_all`); the ratio to `test.nop` is `salt-call --local state.apply` of the state
against `salt-call --local state.apply` of a `test.nop` state, medians of alternated pairs.
"""
from __future__ import annotations

import json

from common import C1, C2, Base, Host, SaltCall, links, median_of


def sls_text(states: dict) -> str:
    """SLS text of ``states`` (state ID -> {function: [args]}), as JSON (which is YAML)."""
    return json.dumps(states, indent=1) + "\n"


def exporter_state(name: str, ifaces: list[str], collectors: list[dict]) -> dict:
    return {name: {"netflow.exporter_present": [{"interfaces": ifaces}, {"collectors": collectors}]}}


def declared(ifaces: list[str], n_exporters: int, names=None) -> dict:
    """``n_exporters`` exporters sharing ``ifaces`` in equal runs, one collector port each."""
    per = len(ifaces) // n_exporters
    names = names or [f"x{k}" for k in range(n_exporters)]
    return {name: {"interfaces": ifaces[k * per:(k + 1) * per], "collectors": [{**C1, "port": 2055 + k}]}
            for k, name in enumerate(names)}


def one_exporter(b: Base, n: int, repeats: int = 3, pairs: int = 3) -> dict:
    """Create / no-change / change (the collector re-pointed) of one exporter of ``n``
    interfaces: spawns, our CPU, the emulator's, and each kind's ratio to `test.nop`."""
    ifaces = [f"em{i}" for i in range(n)]
    h = b.host(f"scale{n}", ifaces)
    salt = b.salt(h)

    def absent() -> None:
        if salt.states.netflow.exporter_absent(name="bench").result is not True:
            raise SystemExit("exporter_absent failed")

    out: dict = {"create": [], "nochange": [], "change": []}
    for i in range(repeats):
        if i:
            absent()
        out["create"].append(b.cpu(h, lambda: b.present(h, interfaces=ifaces)))
    for _ in range(repeats):
        out["nochange"].append(b.cpu(h, lambda: b.present(h, interfaces=ifaces)))
        assert out["nochange"][-1]["result"].changes == {}, out["nochange"][-1]["result"].changes
    current = [C1]
    for _ in range(repeats):
        current = [C2] if current == [C1] else [C1]
        out["change"].append(b.cpu(h, lambda c=current: b.present(h, interfaces=ifaces, collectors=c)))
    figures = {kind: median_of(runs) for kind, runs in out.items()}

    call = SaltCall(b.work, h, f"scale{n}")
    call.sls("same", sls_text(exporter_state("bench", ifaces, current)))
    call.sls("create", sls_text(exporter_state("bench", ifaces, current)))
    call.run("same")  # warms Salt's caches (no change: the host is as declared)
    call.run("nop")

    def flip() -> None:  # every timed run of "change" re-points the collector
        current[:] = [C2] if current == [C1] else [C1]
        call.sls("change", sls_text(exporter_state("bench", ifaces, current)))

    figures["nochange"]["ratio"] = call.ratio("same", pairs)["ratio"]
    figures["change"]["ratio"] = call.ratio("change", pairs, before=flip)["ratio"]
    call.sls("create", sls_text(exporter_state("bench", ifaces, current)))
    figures["create"]["ratio"] = call.ratio("create", pairs, before=absent)["ratio"]
    return figures


def ten_by_hundred(b: Base, repeats: int = 3, pairs: int = 3) -> dict:
    """10 exporters x 100 interfaces: the one host state (what the formula renders) and, for
    contrast, ten exporter states on a twin host: create and no-change spawns, our CPU, the
    no-change ratio to `test.nop`."""
    ifaces = [f"em{i}" for i in range(1000)]
    decl = declared(ifaces, 10)
    host_sls = {"netflow-exporters": {"netflow.exporters_present": [{"exporters": decl}]}}
    ten_sls: dict = {}
    for name, params in decl.items():
        ten_sls.update(exporter_state(name, params["interfaces"], params["collectors"]))

    def each(h: Host) -> None:
        for name, params in decl.items():
            b.present(h, name=name, **params)

    figures = {}
    for kind, apply, sls in (("host", lambda h: b.host_state(h, decl), host_sls), ("each", each, ten_sls)):
        h = b.host(f"ten-{kind}", ifaces)
        create = b.cpu(h, lambda h=h, apply=apply: apply(h))
        nochange = median_of([b.cpu(h, lambda h=h, apply=apply: apply(h)) for _ in range(repeats)])
        call = SaltCall(b.work, h, f"ten-{kind}")
        call.sls("same", sls_text(sls))
        call.run("same")
        call.run("nop")
        nochange["ratio"] = call.ratio("same", pairs)["ratio"]
        figures[kind] = {"create": median_of([create]), "nochange": nochange}
    return figures


def unaccounted(twin: Host, ifaces: list[str]) -> int:
    """Interfaces of ``ifaces`` blackholed, or passing with no netflow node on their lower
    hook (flows not accounted), on ``twin`` as it is now."""
    passing = links(twin.root)
    nodes = twin.state()["nodes"]
    byname = {n.get("name"): n for n in nodes.values()}
    bad = 0
    for iface in ifaces:
        hooks = {hook: nodes[str(peer)]["type"] for hook, peer, _ in byname[iface]["hooks"]}
        bad += passing.get(iface) != "pass" or hooks.get("lower") != "netflow"
    return bad


def move(b: Base) -> dict:
    """em1 moved from exporter alpha to zulu, then back, each in one change of the one host
    state; the mutating spawns replayed on a twin host, every interface looked at after each."""
    ifaces = ["em0", "em1", "em2"]
    h, twin = b.host("move", ifaces), b.host("move-twin", ifaces)
    start = {"alpha": {"interfaces": ["em0", "em1"], "collectors": [C1]},
             "zulu": {"interfaces": ["em2"], "collectors": [{**C1, "port": 2056}]}}
    moved = {"alpha": {**start["alpha"], "interfaces": ["em0"]}, "zulu": {**start["zulu"], "interfaces": ["em1", "em2"]}}
    assert unaccounted(twin, ifaces) == len(ifaces), "the check sees interfaces on no exporter"  # positive control
    b.host_state(h, start)
    figures = {}
    for label, decl in (("alpha_to_zulu", moved), ("zulu_to_alpha", start)):
        got = b.replay(h, twin, lambda d=decl: b.host_state(h, d), lambda t: unaccounted(t, ifaces))
        figures[label] = {"batches": got["batches"], "boundaries": got["boundaries"], "unaccounted": got["bad"]}
    return figures


def measure(b, beacons) -> dict:
    """Every figure of this module; ``beacons(sizes, intervals, changed=)`` is bench/run.py's
    beacon_costs (the sizes alternated by blocks of intervals: the growth is a ratio of one run)."""
    return {"one": {n: one_exporter(b, n) for n in (1000, 2000)}, "ten": ten_by_hundred(b), "move": move(b),
            "beacon": beacons([1000, 2000], 9), "beacon_changed": beacons([2000], 9, changed=True)[2000]}


def ms(x: float) -> str:
    return f"{x:.0f}"


def rows(m: dict) -> tuple[list[tuple], dict]:
    """Table rows (label, ours, seed) and JSON figures of :func:`measure`'s result."""
    out, js = [], {}
    for n, f in m["one"].items():
        c, s, ch = f["create"], f["nochange"], f["change"]
        out.append((f"{n} ifaces, create / no-change / change: ngctl spawns",
                    f"{c['spawns']} / {s['spawns']} / {ch['spawns']}", "-"))
        out.append((f"{n} ifaces, create / no-change / change: ratio to test.nop (salt-call)",
                    f"{c['ratio']:.2f} / {s['ratio']:.2f} / {ch['ratio']:.2f}", "-"))
        out.append((f"{n} ifaces, create / no-change / change: our CPU ms (emulator ms)",
                    f"{ms(c['ours_ms'])} / {ms(s['ours_ms'])} / {ms(ch['ours_ms'])} "
                    f"({ms(c['emulator_ms'])} / {ms(s['emulator_ms'])} / {ms(ch['emulator_ms'])})", "-"))
        for kind, x in (("create", c), ("nochange", s), ("change", ch)):
            js.update({f"{kind}_spawns_{n}": x["spawns"], f"{kind}_ratio_{n}": round(x["ratio"], 3),
                       f"{kind}_ours_ms_{n}": round(x["ours_ms"], 1), f"{kind}_emulator_ms_{n}": round(x["emulator_ms"], 1)})
    for kind, label in (("host", "one exporters_present"), ("each", "10 exporter_present")):
        c, s = m["ten"][kind]["create"], m["ten"][kind]["nochange"]
        out.append((f"10 exporters x 100 ifaces, {label}: spawns create / no-change",
                    f"{c['spawns']} / {s['spawns']}", "-"))
        out.append((f"10 exporters x 100 ifaces, {label}: no-change ratio to test.nop; our CPU ms create / no-change",
                    f"{s['ratio']:.2f}; {ms(c['ours_ms'])} / {ms(s['ours_ms'])}", "-"))
        js.update({f"ten_{kind}_create_spawns": c["spawns"], f"ten_{kind}_nochange_spawns": s["spawns"],
                   f"ten_{kind}_nochange_ratio": round(s["ratio"], 3), f"ten_{kind}_create_ours_ms": round(c["ours_ms"], 1),
                   f"ten_{kind}_nochange_ours_ms": round(s["ours_ms"], 1)})
    for label, f in m["move"].items():
        out.append((f"iface moved {label.replace('_', ' ')} (exporters_present): ngctl batches; unaccounted boundaries",
                    f"{f['batches']}; {f['unaccounted']} of {f['boundaries']}", "-"))
        js.update({f"move_{label}_batches": f["batches"], f"move_{label}_unaccounted": f["unaccounted"],
                   f"move_{label}_boundaries": f["boundaries"]}
                  )
    w1, w2 = m["beacon"][1000], m["beacon"][2000]
    for n, w in m["beacon"].items():
        out.append((f"beacon per interval, {n} ifaces: ngctl spawns / our CPU ms (emulator ms) (median of 9)",
                    f"{w['spawns']:g} / {ms(w['ours_ms'])} ({ms(w['emulator_ms'])})", "-"))
        js.update({f"beacon_spawns_{n}": w["spawns"], f"beacon_ours_ms_{n}": round(w["ours_ms"], 1),
                   f"beacon_emulator_ms_{n}": round(w["emulator_ms"], 1)})
    wc = m["beacon_changed"]
    out.append(("beacon per interval, 2000 ifaces, a new node every interval: ngctl spawns / our CPU ms (emulator ms) (median of 9)",
                f"{wc['spawns']:g} / {ms(wc['ours_ms'])} ({ms(wc['emulator_ms'])})", "-"))
    js.update({"beacon_changed_spawns_2000": wc["spawns"], "beacon_changed_ours_ms_2000": round(wc["ours_ms"], 1)})
    growth = w2["ours_ms"] / w1["ours_ms"]
    out.append(("beacon our CPU growth, 1,000 -> 2,000 ifaces (blocks of 3 intervals alternated)", f"{growth:.2f}", "-"))
    js["beacon_growth_2000_1000"] = round(growth, 2)
    return out, js
