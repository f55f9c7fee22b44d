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
OPEN: dict = {}  # file name -> (invariant, why): an open finding, expected to fail until fixed


def replay(text: str) -> None:
    from tests.support import sim

    exec(compile(text, "<regression>", "exec"), {"NetflowMachine": sim.NetflowMachine})


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
