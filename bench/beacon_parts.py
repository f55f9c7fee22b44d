"""The beacon's interval (`netflow.watch`) in parts, at N interfaces (issue 21): our CPU of
each pure step of nf_watch (best of 5, ms), then the whole `netflow.watch` as bench/run.py
measures it (Bench.beacon_cost: median of 5 intervals, our CPU apart from the emulator's),
on a quiet graph and with a node that is not ours made before each interval (so no read's
graph is the last one's).

    .venv/bin/python bench/beacon_parts.py 2000
"""
from __future__ import annotations

import pathlib
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent), str(HERE.parent / "_utils")]

from common import count_traffic  # noqa: E402
from run import Bench  # noqa: E402
from netgraph_core import nf_model, nf_settings, nf_status, nf_watch, ng_snapshot, no_cycle_collection  # noqa: E402


def best(label: str, fn, k: int = 5):
    """Run ``fn`` k times; print and return the best CPU time's result. The cycle collector
    is paused, as it is during the beacon's interval (nf_watch.run)."""
    low, out = 1e9, None
    for _ in range(k):
        with no_cycle_collection():
            t0 = time.process_time()
            out = fn()
            low = min(low, time.process_time() - t0)
    print(f"{label:30s} {low * 1000:8.1f} ms")
    return out


def parts(b: Bench, n: int) -> None:
    """Each pure step of one interval, on a converged exporter of n interfaces."""
    ifaces = [f"em{i}" for i in range(n)]
    h = b.host(f"p{n}", ifaces)
    b.present(h, interfaces=ifaces)
    state = b.salt(h).modules.netflow.watch(state={})["state"]
    count_traffic(h.root, 1)  # every interface's counter its own: no two ifinfo replies alike
    cfg = nf_model.validate({"name": "bench", "interfaces": ifaces, "collectors": [{"host": "192.0.2.10", "port": 2055}]})
    declared = {"bench": cfg}
    reqs = best("requests", lambda: nf_watch.requests(declared, state.get("graph")))
    script = ng_snapshot.snapshot_script(reqs)
    proc = subprocess.run([str(pathlib.Path(h.root) / "bin" / "ngctl"), "-f", "-"], input=script,
                          capture_output=True, text=True, check=False)
    best("snapshot_script", lambda: ng_snapshot.snapshot_script(reqs))
    g, replies = best("parse_snapshot", lambda: ng_snapshot.parse_snapshot(proc.stdout, proc.stderr, proc.returncode, reqs))
    graph_text = proc.stdout[:proc.stdout.index("Rec'd")]
    best("  parse_graph only", lambda: ng_snapshot.parse_graph(graph_text))
    texts = [graph_text, graph_text + "\n"]  # the same graph, two texts: each call misses parse_graph's memo
    best("  parse_graph, text changed", lambda: ng_snapshot.parse_graph(texts.reverse() or texts[0]))
    snap = best("nf_watch.snapshot", lambda: nf_watch.snapshot(g, replies, reqs))
    opts = nf_watch.options({})
    best("step", lambda: nf_watch.step(declared, snap, state, time.time(), opts))
    best("compare", lambda: nf_watch.compare(cfg, g, snap["settings"], None))
    best("exporter_view", lambda: nf_status.exporter_view("bench", g, snap["settings"], snap["raw"], cfg))
    best("owned", lambda: nf_status.owned(g, "bench"))
    best("settings_queries", lambda: nf_settings.settings_queries(g, "bench"))
    best("desired", lambda: nf_model.desired(cfg, g))


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    b = Bench(pathlib.Path(tempfile.mkdtemp(prefix="beacon-parts-")))
    parts(b, n)
    for label, changed in (("netflow.watch", False), ("  a new node each interval", True)):
        w = b.beacon_cost(n, 5, changed=changed)
        print(f"{label:30s} {w['ours_ms']:8.1f} ms ours (median of 5), {w['emulator_ms']:.1f} ms emulator, "
              f"{w['spawns']:g} spawn(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
