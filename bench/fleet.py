"""`make bench`'s fleet rows: a real salt-master and N real salt-minions (N = 5, 10, 20; the
daemons of tests/integration/conftest.py, through pytest-salt-factories), each minion its own
ngsim host of two interfaces with one exporter. At each N, `salt 'bf-*' state.apply` of a
no-change exporter state against `salt 'bf-*' state.apply` of a `test.nop` state, alternated
pairs: the median of each and their ratio; the master's CPU (its process and every child,
psutil) over the timed exporter applies, per minion and per apply.

`measure()` runs this file under pytest in a child process (`-p tests.integration.conftest`
for the fixtures) and reads the figures it writes to NETFLOW_BENCH_OUT.
"""
from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
SIZES = (5, 10, 20)
PAIRS = 2  # N = 20 applies take tens of seconds each on 2 cores
EXPORTER = ("bench:\n  netflow.exporter_present:\n    - interfaces: [em0, em1]\n"
            "    - collectors:\n      - {host: 192.0.2.10, port: 2055}\n")
NOP = "bench:\n  test.nop: []\n"


def measure(sizes=SIZES, pairs: int = PAIRS, work: pathlib.Path | None = None) -> dict | None:
    """The fleet's figures ({N: {...}}), or None (said on stderr) when it could not run."""
    out = (work or pathlib.Path("/tmp")) / "fleet.json"
    env = {**os.environ, "NETFLOW_BENCH_OUT": str(out), "NETFLOW_BENCH_FLEET": ",".join(map(str, sizes)),
           "NETFLOW_BENCH_PAIRS": str(pairs)}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.integration.conftest",
                           "--rootdir", str(REPO), str(pathlib.Path(__file__).resolve())],
                          cwd=REPO, env=env, capture_output=True, text=True)
    if proc.returncode or not out.exists():
        tail = (proc.stdout or proc.stderr).strip().splitlines()[-1:] or ["no output"]
        print(f"(fleet not measured: {tail[0]})", file=sys.stderr)
        return None
    return {int(k): v for k, v in json.loads(out.read_text()).items()}


def master_cpu(pid: int) -> float:
    """CPU seconds of the master process and its children as they are now."""
    import psutil

    proc = psutil.Process(pid)
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def apply(cli, sls: str, n: int) -> float:
    """`salt 'bf-*' state.apply sls`: wall seconds; every minion answered, every state True."""
    t0 = time.perf_counter()
    ret = cli.run("state.apply", sls, "--timeout=300", minion_tgt="bf-*")
    dt = time.perf_counter() - t0
    assert isinstance(ret.data, dict) and len(ret.data) == n, ret
    for mid, states in ret.data.items():
        assert isinstance(states, dict) and all(r["result"] is True for r in states.values()), (mid, states)
    return dt


def test_fleet(ng_master, ng_minion, ng_salt_cli):
    """Not a test of behaviour: the fleet's figures (see the module docstring)."""
    sizes = [int(x) for x in os.environ.get("NETFLOW_BENCH_FLEET", ",".join(map(str, SIZES))).split(",")]
    pairs = int(os.environ.get("NETFLOW_BENCH_PAIRS", PAIRS))
    tree = ng_master.state_tree.base.write_path
    (tree / "bench_exporter.sls").write_text(EXPORTER)
    (tree / "bench_nop.sls").write_text(NOP)
    figures, started = {}, 0
    for n in sizes:
        t0 = time.perf_counter()
        for i in range(started, n):
            ng_minion(f"bf-{i:02d}", ifaces=("em0", "em1"), loaded=())
        start_s, started = time.perf_counter() - t0, n
        apply(ng_salt_cli, "bench_exporter", n)  # creates on the new minions (their first apply: caches warm)
        ours, nop, cpu = [], [], 0.0
        for i in range(pairs):
            for sls in (("bench_nop", "bench_exporter") if i % 2 else ("bench_exporter", "bench_nop")):
                before = master_cpu(ng_master.pid)
                (ours if sls == "bench_exporter" else nop).append(apply(ng_salt_cli, sls, n))
                cpu += (master_cpu(ng_master.pid) - before) if sls == "bench_exporter" else 0.0
        figures[n] = {"ours_s": statistics.median(ours), "nop_s": statistics.median(nop),
                      "ratio": statistics.median(ours) / statistics.median(nop),
                      "master_cpu_per_minion_s": cpu / pairs / n, "start_s": start_s, "pairs": pairs}
        print(f"fleet {n}: {json.dumps(figures[n])}")
    if os.environ.get("NETFLOW_BENCH_OUT"):
        pathlib.Path(os.environ["NETFLOW_BENCH_OUT"]).write_text(json.dumps(figures))
