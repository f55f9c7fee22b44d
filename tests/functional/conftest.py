"""Fixtures for functional tests: emulated FreeBSD hosts (ngsim) and Salt's own loader
bound to one of them.

* ``NgHost`` wraps one ngsim ROOT: (re)initialise it, run its ngctl directly, read and
  clear its invocation log, inject failures.
* ``ng_loaders_for(root)`` builds ``saltfactories.utils.functional.Loaders`` with minion
  opts whose ``netgraph.ngctl`` etc. point at ``ROOT/bin/*`` (file_client local,
  module_dirs/states_dirs at the repository's ``_modules``/``_states``).
"""
from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
TOOLS = ("ngctl", "kldload", "kldstat", "ipfw", "ifconfig")


def run_ngsim(*args: str, check: bool = True) -> str:
    proc = subprocess.run([sys.executable, "-m", "ngsim", *args], cwd=REPO, capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(f"ngsim {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc.stdout


class NgHost:
    """One emulated FreeBSD host (an ngsim ROOT)."""

    def __init__(self, root: pathlib.Path):
        self.root = pathlib.Path(root)

    def init(self, ifaces=("em0", "em1"), loaded=("ng_ether",)) -> "NgHost":
        if self.root.exists():
            shutil.rmtree(self.root)
        args = ["init", str(self.root)]
        for iface in ifaces:
            args += ["--iface", iface]
        for module in loaded:
            args += ["--loaded", module]
        run_ngsim(*args)
        self.clear_log()
        return self

    def bin(self, tool: str) -> pathlib.Path:
        return self.root / "bin" / tool

    def ngctl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.bin("ngctl")), *args], input=stdin, capture_output=True, text=True)
        if check and proc.returncode:
            raise AssertionError(f"ngctl {' '.join(args)} failed: {proc.stderr}")
        return proc

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([str(self.bin(tool)), *args], capture_output=True, text=True)
        if check and proc.returncode:
            raise AssertionError(f"{tool} {' '.join(args)} failed: {proc.stderr}")
        return proc

    def log(self) -> list[dict]:
        return [json.loads(line) for line in run_ngsim("log", str(self.root)).splitlines() if line.strip()]

    def clear_log(self) -> None:
        run_ngsim("log", str(self.root), "--clear")

    def spawns(self, binary: str | None = None) -> list[dict]:
        entries = self.log()
        if binary is None:
            return entries
        return [e for e in entries if e.get("binary", pathlib.Path(e["argv"][0]).name) == binary]

    def mutating(self) -> list[dict]:
        return [e for e in self.log() if e.get("mutating")]

    def fail_at(self, n: int, errno: str | None = None) -> None:
        args = ["fail", str(self.root), "--at", str(n)]
        if errno:
            args += ["--errno", errno]
        run_ngsim(*args)


def minion_opts_for(root: pathlib.Path, base: pathlib.Path, minion_id: str = "fw1") -> dict:
    import salt.config

    opts = salt.config.minion_config(None)
    opts.update(
        {
            "id": minion_id,
            "file_client": "local",
            "root_dir": str(base),
            "cachedir": str(base / "cache"),
            "pki_dir": str(base / "pki"),
            "sock_dir": str(base / "sock"),
            "module_dirs": [str(REPO / "_modules")], "utils_dirs": [str(REPO / "_utils")],
            "states_dirs": [str(REPO / "_states")],
            "grains_cache": False,
        }
    )
    for tool in TOOLS:
        opts[f"netgraph.{tool}"] = str(pathlib.Path(root) / "bin" / tool)
    return opts


def ng_loaders_for(root: pathlib.Path, base: pathlib.Path, netflow: bool = False):
    """Salt's loader with this host's binaries configured (with ``netflow``: boot files
    and the lock under ``base`` too). The host must exist first: the modules'
    __virtual__ looks for the configured ngctl."""
    from saltfactories.utils.functional import Loaders

    opts = minion_opts_for(root, base)
    if netflow:
        opts["netflow"] = {"boot_dir": str(base / "boot"), "lock_file": str(base / "netflow.lock")}
    return Loaders(opts)


def host_root_fixture(prefix: str):
    """A module-scoped fixture: the root of this module's emulated host."""
    @pytest.fixture(scope="module")
    def host_root(tmp_path_factory) -> pathlib.Path:
        return tmp_path_factory.mktemp(prefix) / "host"

    return host_root


def netflow_fixtures(prefix: str, host_class, **init):
    """This module's (host_root, loaders) fixtures: its emulated host, made by
    ``host_class(root).init(**init)`` before Salt's loader loads the modules (their
    __virtual__ looks for ngctl), boot files and lock under a temporary base."""
    @pytest.fixture(scope="module")
    def loaders(host_root, tmp_path_factory):
        host_class(host_root).init(**init)
        return ng_loaders_for(host_root, tmp_path_factory.mktemp("salt"), netflow=True)

    return host_root_fixture(prefix), loaders


@pytest.fixture(scope="module")
def ng_root(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("ngfunc") / "host"


@pytest.fixture(scope="module")
def ng_loaders(ng_root, tmp_path_factory):
    NgHost(ng_root).init()
    return ng_loaders_for(ng_root, tmp_path_factory.mktemp("ngsalt"))


@pytest.fixture
def ng_host(ng_root, ng_loaders) -> NgHost:
    """A fresh host (em0, em1; ng_ether loaded) at the path ng_loaders is bound to.
    Tests may re-init it with other interfaces."""
    host = NgHost(ng_root).init()
    ng_loaders.reset_state()
    return host
