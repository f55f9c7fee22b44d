"""Replays of the sequences the simulation suite shrank (tests/sim/regressions/*.txt, as
Hypothesis printed them, stored by tests/sim/soak.py): each runs against a fresh emulated
host with every invariant checked after every step.

A sequence of a defect class not fixed yet is expected to fail (xfail strict, the class
in the reason): when the fix merges it passes, the strict xfail fails, and the marker is
removed here.
"""
from __future__ import annotations

import pathlib

import pytest

HERE = pathlib.Path(__file__).resolve().parent
FILES = sorted((HERE / "regressions").glob("*.txt"))

# file name -> (the invariant it breaks, the open defect class it shows: issue 19's numbering)
OPEN = {
    "class1_param_key_typo.txt": ("I3", "class 1: a misspelt parameter key of a running exporter makes the formula "
                                 "remove it (a refused input changes the kernel)"),
    "class2_tee_spliced.txt": ("I1", "class 2: an ng_tee spliced between ng_ether and our netflow node; removing "
                              "the interface from the exporter reports success and blackholes it"),
    "class1_top_key_typo.txt": ("I3", "class 1: a misspelt top-level key (netflow:exporter) is acted on: the "
                                      "formula writes the rc.d script and rc.conf.d for it"),
    **{f"class2_tee_then_{w}.txt": ("I1", f"class 2: {d} with an ng_tee spliced in front of our netflow node "
                                           "reports success and blackholes the interface")
       for w, d in (("absent", "exporter_absent"), ("clean", "netflow.clean"), ("service_stop", "service netflow stop"))},
    "class2_found_by_soak_service_stop.txt": ("I1", "class 2: service netflow stop with an ng_tee spliced in "
                                                    "front of our netflow node blackholes the interface (unshrunk, "
                                                    "as a 15-rule soak found it)"),
    "class3_failed_takeover.txt": ("I2", "class 3: a takeover batch failing after its rmhooks is rolled back "
                                         "without reconnecting the foreign exporter (interface unaccounted)"),
    "class7_swap.txt": ("I4", "class 7: interfaces swapped between two exporters in one pillar change do not "
                              "converge (each exporter's state finds the other's interface still held)"),
    "class7_move_to_earlier_name.txt": ("I4", "class 7: moving an interface to an exporter whose name sorts first "
                                              "fails (the other way round converges: class7_move_to_later_name_control)"),
    "finding_hung_ngctl_no_timeout.txt": ("I8", "found by the suite, no class number: spawns carry no timeout, so "
                                                "a hung ngctl hangs the Salt job forever"),
    "finding_preview_creates_lock_file.txt": ("I5", "found by the suite, no class number: the first preview on a "
                                                    "host creates the netflow lock file (a preview writes nothing)"),
    "finding_unpersisted_exporter_dropped.txt": ("I4", "found by the suite, no class number yet: an exporter "
                                                 "with persist: false dropped from pillar is never removed (the "
                                                 "formula only knows exporters by their boot files)"),
}


def replay(text: str) -> None:
    from tests.support import sim

    exec(compile(text, "<regression>", "exec"), {"NetflowMachine": sim.NetflowMachine})  # noqa: S102


@pytest.mark.parametrize("path", [pytest.param(p, id=p.stem, marks=[pytest.mark.xfail(
    strict=True, raises=AssertionError, reason=OPEN[p.name][1])] if p.name in OPEN else []) for p in FILES])
def test_replay(path):
    from tests.support import sim

    try:
        replay(path.read_text())
    except sim.Violation as exc:
        expected = OPEN.get(path.name, ("",))[0]
        if not str(exc).startswith(expected):  # another invariant broke: not the expected failure
            raise RuntimeError(f"expected a violation of {expected}, got: {exc}") from exc
        raise


def test_a_replay_runs_the_product():
    """Positive control: a replayed apply really reaches the emulated kernel through Salt."""
    from tests.support import sim

    machine = sim.NetflowMachine()
    machine.edit_pillar(exporters={"lan": {"interfaces": {"em0": {}}, "collectors": [sim.COLLECTORS[0]]}},
                        persist=None)
    machine.apply()
    assert any(e.get("mutating") and e["binary"] == "ngctl" for e in machine.h.log())
    assert sim.graph_sig(machine.h.state())["ifaces"] == {"em0": {"lower": "lan_nf", "upper": "lan_nf"}}
    assert machine.h.adapter.calls and not machine.h.adapter.other
    machine.teardown()
