"""The simulation suite (issue 19's method) as part of `make test`: a bounded,
derandomized number of random histories (tests/support/sim.py) against one emulated host
in this process, every invariant checked after every step; the example database
tests/sim/examples/ (written by `make soak`) is replayed first, read-only.

Longer runs: ``make soak STEPS=N`` (tests/sim/soak.py).
"""
from __future__ import annotations

import logging
import pathlib

from hypothesis import HealthCheck, Phase, settings
from hypothesis.database import DirectoryBasedExampleDatabase, ReadOnlyDatabase
from hypothesis.stateful import run_state_machine_as_test

HERE = pathlib.Path(__file__).resolve().parent
EXAMPLES = 50  # x STEPS rules = 750 rules: 45-75 s at the 10-17 rules/s measured (one core)
STEPS = 15


def _run(**conf) -> None:
    from tests.support import sim

    logging.disable(logging.ERROR)
    try:
        run_state_machine_as_test(sim.NetflowMachine, settings=settings(
            stateful_step_count=STEPS, deadline=None, suppress_health_check=list(HealthCheck), print_blob=False,
            **conf))
    finally:
        logging.disable(logging.NOTSET)


def test_the_stored_examples_keep_every_invariant():
    """The example database `make soak` wrote (committed), replayed read-only; Hypothesis
    allows no database with derandomize, so this is a run of its own (reuse phase only)."""
    _run(max_examples=EXAMPLES, database=ReadOnlyDatabase(DirectoryBasedExampleDatabase(str(HERE / "examples"))),
         phases=[Phase.explicit, Phase.reuse])


def test_random_histories_keep_every_invariant():
    """New histories, the same ones at every run (derandomize)."""
    _run(max_examples=EXAMPLES, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate])
