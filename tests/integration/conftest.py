"""Daemon fixtures for integration tests: one salt-master per test package and a factory
of salt-minions, each minion bound to its own emulated FreeBSD host (an ngsim ROOT).

Reusable by later tests:

* ``ng_master``: a started salt-master. ``file_roots`` = a temp dir first (so
  ``ng_master.state_tree.base.temp_file(...)`` writes there), then ``formula/``, a complete
  file root: ``salt://netflow`` and, through its links, ``salt://_modules``, ``_states``,
  ``_runners``, ``_utils`` for ``saltutil.sync_*``. (Not the repository's top level: every
  file list the master builds would walk .venv/, seconds each under load, and file.managed
  with the formula's TOFS source list asks for one.) Pillar:
  ``ng_master.pillar_tree.base.temp_file(...)``.
* ``ng_minion(minion_id, ifaces=(...), loaded=(...))``: starts (once per package) a
  salt-minion whose ``netgraph.ngctl``/``kldload``/``kldstat``/``ipfw`` point at its own
  ngsim host ``ROOT/bin/*`` and whose ``module_dirs``/``states_dirs`` are the repo's
  ``_modules``/``_states`` (no sync needed). Returns the factory; its host root is
  ``factory.config["netgraph.ngctl"]``'s grandparent, also ``ng_minion.root(minion_id)``.
* ``ng_salt_cli``: ``salt`` CLI of the master.

Daemons are package-scoped, few, and stop fast (``slow_stop: False`` in
``salt_factories_config``: teardown takes 5-6 s instead of 11 s).
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ("ngctl", "kldload", "kldstat", "ipfw")

pytestmark = pytest.mark.integration


def _pythonpath() -> str:
    parts = [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return os.pathsep.join(parts)


@pytest.fixture(scope="session")
def salt_factories_config(tmp_path_factory):
    # Environment for daemons goes here (passing environ= to salt_minion_daemon raises).
    # slow_stop is a FactoriesManager setting, not a per-daemon keyword.
    # root_dir of this session: the daemons' launch scripts live in <root_dir>/scripts and are
    # written once, naming the site-packages of the venv that wrote them; under the shared
    # default (/tmp/scripts) another venv's daemons would run this venv's tests with its Salt.
    return {"environ": {"PYTHONPATH": _pythonpath()}, "start_timeout": 120, "slow_stop": False,
            "root_dir": tmp_path_factory.mktemp("sf")}


def make_ngsim_host(root: pathlib.Path, ifaces=("em0", "em1"), loaded=("ng_ether",)) -> pathlib.Path:
    cmd = [sys.executable, "-m", "ngsim", "init", str(root)]
    for iface in ifaces:
        cmd += ["--iface", iface]
    for module in loaded:
        cmd += ["--loaded", module]
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True, text=True)
    return root


@pytest.fixture(scope="package")
def ng_master(salt_factories, tmp_path_factory):
    state_dir = tmp_path_factory.mktemp("ng-states")
    factory = salt_factories.salt_master_daemon(
        "ng-master",
        overrides={
            "file_roots": {"base": [str(state_dir), str(REPO / "formula")]},
            "log_level_logfile": "info",
            # a new minion's key is accepted as it arrives: otherwise the minion waits 0.5 s,
            # then 1 s, for salt-factories' `salt-key --accept` (a CLI process per minion)
            "auto_accept": True,
        },
    )
    with factory.started():
        yield factory


@pytest.fixture(scope="package")
def ng_salt_cli(ng_master):
    return ng_master.salt_cli()


class _MinionPool:
    def __init__(self, master, base: pathlib.Path, stack: contextlib.ExitStack):
        self.master = master
        self.base = base
        self.stack = stack
        self.minions = {}
        self.roots = {}

    def root(self, minion_id: str) -> pathlib.Path:
        return self.roots[minion_id]

    def __call__(self, minion_id: str, ifaces=("em0", "em1"), loaded=("ng_ether",), overrides=None):
        if minion_id in self.minions:
            return self.minions[minion_id]
        root = make_ngsim_host(self.base / minion_id, ifaces=ifaces, loaded=loaded)
        config = {
            "module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")],
            "states_dirs": [str(REPO / "_states")],
            "log_level_logfile": "info",
        }
        for tool in TOOLS:
            config[f"netgraph.{tool}"] = str(root / "bin" / tool)
        config.update(overrides or {})
        factory = self.master.salt_minion_daemon(minion_id, overrides=config)
        self.stack.enter_context(factory.started())
        self.minions[minion_id] = factory
        self.roots[minion_id] = root
        return factory


@pytest.fixture(scope="package")
def ng_minion(ng_master, tmp_path_factory):
    base = tmp_path_factory.mktemp("ng-hosts")
    with contextlib.ExitStack() as stack:
        yield _MinionPool(ng_master, base, stack)
