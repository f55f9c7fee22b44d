"""Soak the simulation suite: ``make soak STEPS=N`` (or ``python tests/sim/soak.py N``).

Runs random histories (tests/support/sim.py) until N rules have run, each failure shrunk
by Hypothesis to a minimal sequence, printed, and stored under tests/sim/regressions/ as a
file tests/sim/test_regressions.py replays (the stored examples `make test` runs); Hypothesis'
own example database stays outside the tree (.hypothesis/soak, not committed: it is keyed
by the machine's source, so it would go stale at the next edit). Ends with exactly the line
``<N> steps, <R> rules hit, <V> violations``.

``NFSIM_RULES=edit,typo,apply`` limits the rules (names in tests/support/sim.py RULES),
``NFSIM_NAMES``, ``NFSIM_TAKEOVER``, ``NFSIM_TYPOS``, ``NFSIM_PERSIST`` narrow the pillars drawn;
``--no-store`` keeps the tree unchanged, ``--fresh`` leaves the example database alone;
``--jobs J`` (``make soak STEPS=N JOBS=J``) splits the N steps over J processes, each with
its own random histories, and sums their counts into the same final line.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import logging
import os
import pathlib
import re
import subprocess
import sys
import threading
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
for path in (REPO, REPO / "_utils"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from hypothesis import HealthCheck, Phase, settings  # noqa: E402
from hypothesis.database import DirectoryBasedExampleDatabase  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from tests.support import sim  # noqa: E402

STEP_COUNT = 20  # rules per history


def failing_program(exc: BaseException) -> str:
    """The shrunk sequence as Hypothesis prints it (``state = NetflowMachine()`` ...)."""
    text = "\n".join(getattr(exc, "__notes__", []) or [])
    start = text.find("state = NetflowMachine()")
    end = text.find("state.teardown()", start)
    return text[start:end + len("state.teardown()")] if start >= 0 and end >= 0 else ""


def store(program: str, exc: BaseException, command: str, outdir: pathlib.Path) -> pathlib.Path:
    """Write the sequence where tests/sim/test_regressions.py replays it."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    inv = re.match(r"(I\d)", first)
    digest = hashlib.sha256(program.encode()).hexdigest()[:10]
    path = outdir / f"{(inv[1] if inv else 'error').lower()}_{digest}.txt"
    header = [f"# {first[:300]}", f"# found by: {command}", f"# on {datetime.date.today().isoformat()}"]
    path.write_text("\n".join(header) + "\n" + program + "\n")
    return path


def parallel(a: argparse.Namespace) -> int:
    """Run ``a.jobs`` soaks of ``a.steps / a.jobs`` steps side by side; their output as it
    comes, then the one summed line."""
    share = [a.steps // a.jobs + (1 if i < a.steps % a.jobs else 0) for i in range(a.jobs)]
    flags = ["--worker", "--per-history", str(a.per_history)] + [
        f for f, on in (("--no-store", a.no_store), ("--no-shrink", a.no_shrink), ("--fresh", a.fresh)) if on]
    procs = [subprocess.Popen([sys.executable, __file__, str(n), *flags], stdout=subprocess.PIPE, text=True)
             for n in share if n]
    totals = {"steps": 0, "violations": 0, "rules": set()}
    lock = threading.Lock()

    def relay(proc):
        for line in proc.stdout:
            m = re.fullmatch(r"(\d+) steps, (\d+) rules hit, (\d+) violations\n?", line)
            with lock:
                if m:
                    totals["steps"] += int(m[1])
                    totals["violations"] += int(m[3])
                elif line.startswith("rules hit: "):
                    totals["rules"] |= set(line[len("rules hit: "):].split())
                else:
                    print(line, end="", flush=True)
        proc.wait()

    threads = [threading.Thread(target=relay, args=(p,)) for p in procs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{totals['steps']} steps, {len(totals['rules'])} rules hit, {totals['violations']} violations")
    return 1 if totals["violations"] or any(p.returncode not in (0, 1) for p in procs) else 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("steps", type=int)
    p.add_argument("--no-store", action="store_true")
    p.add_argument("--no-shrink", action="store_true")
    p.add_argument("--fresh", action="store_true", help="neither read nor write the example database")
    p.add_argument("--per-history", type=int, default=STEP_COUNT, help="rules per history (default %(default)s)")
    p.add_argument("--jobs", type=int, default=1, help="processes side by side (default %(default)s)")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.jobs > 1:
        return parallel(a)
    logging.disable(logging.CRITICAL)  # the product's own error logs: the report is the result
    knobs = ("NFSIM_RULES", "NFSIM_NAMES", "NFSIM_TAKEOVER", "NFSIM_TYPOS", "NFSIM_PERSIST")
    env = [f"{k}={os.environ[k]}" for k in knobs if os.environ.get(k)]
    command = " ".join(env + ["python tests/sim/soak.py", str(a.steps)] + (
        [f"--per-history {a.per_history}"] if a.per_history != STEP_COUNT else []) + (["--fresh"] if a.fresh else []))
    outdir = HERE / "regressions"
    db = None if a.no_store or a.fresh else DirectoryBasedExampleDatabase(str(REPO / ".hypothesis" / "soak"))
    phases = [Phase.explicit, Phase.reuse, Phase.generate] + ([] if a.no_shrink else [Phase.shrink])
    violations, started, batch, seen = 0, time.monotonic(), 0, set()
    sim.host()
    shown = 0
    while sim.STEPS[0] < a.steps:
        if sim.STEPS[0] // 5000 > shown:
            shown = sim.STEPS[0] // 5000
            print(f"progress: {sim.STEPS[0]} steps, {violations} violations", file=sys.stderr, flush=True)
        left = a.steps - sim.STEPS[0]
        batch += 1
        conf = settings(max_examples=max(1, min(10, left // a.per_history + 1)), stateful_step_count=a.per_history,
                        deadline=None, database=db, phases=phases, suppress_health_check=list(HealthCheck),
                        derandomize=False, print_blob=False)
        try:
            run_state_machine_as_test(sim.NetflowMachine, settings=conf)
        except Exception as exc:  # pylint: disable=broad-except - a violation (or a bug of the suite)
            # the database now holds it: later batches of this run generate new histories only
            phases = [ph for ph in phases if ph is not Phase.reuse]
            program = failing_program(exc)
            if program in seen:
                continue
            seen.add(program)
            violations += 1
            print(f"violation: {str(exc).strip()[:2000]}\n{program}\n", flush=True)
            if program and not a.no_store:
                print(f"stored as {store(program, exc, command, outdir).relative_to(REPO)}", flush=True)
    rate = sim.STEPS[0] / max(time.monotonic() - started, 1e-9)
    print(f"({rate:.1f} steps/s over {time.monotonic() - started:.0f} s)", flush=True)
    if a.worker:
        print(f"rules hit: {' '.join(sorted(sim.RULES_HIT))}", flush=True)
    print(f"{sim.STEPS[0]} steps, {len(sim.RULES_HIT)} rules hit, {violations} violations")
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
