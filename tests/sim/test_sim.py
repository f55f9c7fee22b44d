"""The simulation suite (issue 19's method) as part of `make test`: a bounded,
derandomized number of random histories (tests/support/sim.py) against one emulated host
in this process, every invariant checked after every step. The stored examples are the
shrunk sequences under tests/sim/regressions/ (written by `make soak` when it finds a
violation), each replayed by tests/sim/test_regressions.py.

Longer runs: ``make soak STEPS=N`` (tests/sim/soak.py).
"""
from __future__ import annotations

import logging

from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import run_state_machine_as_test

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


def test_random_histories_keep_every_invariant():
    """New histories, the same ones at every run (derandomize)."""
    _run(max_examples=EXAMPLES, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate])
