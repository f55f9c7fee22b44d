"""Plan time of this tree against an older revision's, measured in one run (ratios, not
absolute times, on a shared machine).

    .venv/bin/python bench/plan_vs_rev.py [REV [ROUNDS]]     # default 0f1eed6^ (before the core split), 15

Both planners build the create plan and the no-change plan of 256 interfaces x 4
collectors, alternated round by round; the old one is the pre-split planner inside
``_modules/netflow.py`` (validate/desired/diff), checked out with ``git worktree``.
"""
from __future__ import annotations

import json
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "_utils")]

from ngsim.testing import load_file  # noqa: E402

from netgraph_core import nf_model  # noqa: E402
from netgraph_core import nf_plan  # noqa: E402

IFACES = [f"em{i}" for i in range(256)]
PARAMS = {"name": "bench", "interfaces": IFACES,
          "collectors": [{"host": f"192.0.2.{i + 1}", "port": 2055} for i in range(4)]}
GRAPH = {"nodes": {i: {"type": "ether", "hooks": {}} for i in IFACES}, "types": ["ether"]}


def one(validate, desired, diff) -> tuple[float, float]:
    t0 = time.perf_counter()
    want = desired(validate(dict(PARAMS)), GRAPH)
    assert diff(GRAPH, want)["commands"]
    create = time.perf_counter() - t0
    live = {"nodes": json.loads(json.dumps(want["nodes"])), "settings": want["settings"]}
    t0 = time.perf_counter()
    assert diff(live, desired(validate(dict(PARAMS)), live))["commands"] == []
    return create * 1000, (time.perf_counter() - t0) * 1000


def old_planner(tree: pathlib.Path):
    """The planner of the revision checked out at ``tree``: its core package (loaded under
    another name, so both run in one process), or, before the core split, its module."""
    core = tree / "_utils" / "netgraph_core"
    if not (core / "nf_plan.py").exists():
        return load_file(tree / "_modules" / "netflow.py", "netflow_old_planner")
    import importlib
    import importlib.util
    import types

    spec = importlib.util.spec_from_file_location("old_netgraph_core", core / "__init__.py",
                                                  submodule_search_locations=[str(core)])
    sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sys.modules[spec.name])
    model, plan = (importlib.import_module(f"old_netgraph_core.{m}") for m in ("nf_model", "nf_plan"))
    return types.SimpleNamespace(validate=model.validate, desired=model.desired, diff=plan.diff)


def main(rev: str = "0f1eed6^", rounds: int = 15) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = pathlib.Path(tmp) / "old"
        subprocess.run(["git", "worktree", "add", "-q", "--detach", str(tree), rev], cwd=REPO, check=True)
        try:
            old = old_planner(tree)
            runs = {"this tree": [], rev: []}
            for _ in range(rounds):
                runs["this tree"].append(one(nf_model.validate, nf_model.desired, nf_plan.diff))
                runs[rev].append(one(old.validate, old.desired, old.diff))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=REPO, check=False)
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v)) for k, v in runs.items()}
    for name, (create, nochange) in med.items():
        print(f"{name:>12}: plan ms 256x4, create {create:6.1f}  no-change {nochange:6.1f}  (median of {rounds})")
    print(f"ratio this/{rev}: create {med['this tree'][0] / med[rev][0]:.2f}, "
          f"no-change {med['this tree'][1] / med[rev][1]:.2f}")
    # the fastest round of each: what the code costs when the shared machine lets it run
    low = {k: (min(r[0] for r in v), min(r[1] for r in v)) for k, v in runs.items()}
    print(f"ratio of the fastest rounds this/{rev}: create {low['this tree'][0] / low[rev][0]:.2f}, "
          f"no-change {low['this tree'][1] / low[rev][1]:.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:2], *[int(a) for a in sys.argv[2:3]])
