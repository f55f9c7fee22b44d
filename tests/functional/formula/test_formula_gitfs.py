"""The formula served by gitfs from the project's own git repository, as a Salt shop serves
formulas: `salt-call --local` with `fileserver_backend: [gitfs]` and nothing in file_roots,
module_dirs or utils_dirs, then `saltutil.sync_all` and `state.apply netflow` on an
emulated FreeBSD host.

gitfs follows a symlink only where it names a file, never a directory on the way to one,
so `formula/_modules -> ../_modules` serves nothing through gitfs. The repository is served
twice instead, each remote with its own `name` (docs/formula.md, "From gitfs"):
`root: formula` serves `salt://netflow`, and the repository's top level serves
`salt://_modules`, `_states`, `_utils` and `_beacons`, what `saltutil.sync_all` takes.

The repository here is a `git init` in a temporary directory of this tree's files, served
by URL (file://) with GitPython (gitfs_provider: gitpython).
"""
from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from ngsim.testing import load_file

REPO = pathlib.Path(__file__).resolve().parents[3]
demo = load_file(REPO / "demo" / "run.py", "netflow_demo_run_gitfs")

pytest.importorskip("git", reason="gitfs needs GitPython (the test extras and the Makefile install it)")
pytestmark = pytest.mark.skipif(not shutil.which("git"), reason="GitPython needs the git command")

PILLAR = {"netflow": {"persist": True, "exporters": {
    "lan": {"interfaces": {"em0": None, "em1": {"direction": "egress"}},
            "collectors": [{"host": "192.0.2.10", "port": 2055}]}}}}


def git_repo(base: pathlib.Path) -> str:
    """A git repository of this tree's tracked files as they are now (symlinks kept); its URL."""
    repo = base / "salt-netgraph"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, check=True, capture_output=True).stdout
    for rel in filter(None, files.decode().split("\0")):
        src, dst = REPO / rel, repo / rel
        if not src.is_symlink() and not src.exists():
            continue  # deleted in the worktree, not yet committed
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            dst.symlink_to(os.readlink(src))
        else:
            shutil.copy2(src, dst)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    for argv in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "salt-netgraph"]):
        subprocess.run(["git", *argv], cwd=repo, check=True, capture_output=True, env=env)
    return repo.as_uri()


def remotes(url: str, modules: bool = True) -> list:
    """docs/formula.md's gitfs_remotes: the formula, and the top level for the modules."""
    formula = {url: [{"name": "netflow-formula"}, {"root": "formula"}, {"base": "main"}]}
    return [formula, {url: [{"name": "netflow-modules"}, {"base": "main"}]}] if modules else [formula]


def gitfs_minion(base: pathlib.Path, host: pathlib.Path, url: str, modules: bool = True) -> pathlib.Path:
    """demo's minion config with the file server swapped for gitfs (:func:`remotes`), and no
    path of this tree."""
    confdir = demo.write_minion_config(base, host, PILLAR, minion_id="fw1", lock_file=base / "netflow.lock")
    conf = yaml.safe_load((confdir / "minion").read_text())
    for key in ("file_roots", "module_dirs", "utils_dirs", "states_dirs"):
        conf.pop(key)
    conf.update({
        "fileserver_backend": ["gitfs"],
        "gitfs_provider": "gitpython",
        "gitfs_remotes": remotes(url, modules),
    })
    (confdir / "minion").write_text(yaml.safe_dump(conf, default_flow_style=False))
    return confdir


def call(confdir: pathlib.Path, *args: str):
    proc = demo.salt_call(confdir, *args, "--out=json", capture=True)
    assert proc.stdout, proc.stderr
    return proc.returncode, json.loads(proc.stdout)["local"]


def test_formula_and_modules_from_gitfs_create_the_exporter(tmp_path):
    host = demo.make_host(tmp_path / "host", ifaces=("em0", "em1"), loaded=("ng_ether",))
    confdir = gitfs_minion(tmp_path / "salt", host, git_repo(tmp_path))
    _, files = call(confdir, "cp.list_master")
    assert "netflow/init.sls" in files and "_modules/netflow.py" in files, "positive control: gitfs serves both"
    assert "_utils/netgraph_core/nf_model.py" in files
    _, synced = call(confdir, "saltutil.sync_all")
    assert "modules.netflow" in synced["modules"] and "states.netflow" in synced["states"]
    assert "utils.netgraph_core.nf_model" in synced["utils"], "sync_all keeps the core package whole"
    rc, result = call(confdir, "state.apply", "netflow")
    states = {r["__id__"]: r for r in result.values()}
    assert rc == 0 and all(r["result"] is True for r in states.values()), states
    assert states["netflow-exporter-netflow-exporters_present"]["changes"]["lan"]["exporter"] == "created"
    graph = subprocess.run([str(host / "bin" / "ngctl"), "list"], capture_output=True, text=True).stdout
    assert "lan_nf" in graph and "lan_v9" in graph, graph
    links = subprocess.run([sys.executable, "-m", "ngsim", "links", str(host)], cwd=REPO, capture_output=True,
                           text=True).stdout
    assert json.loads(links) == {"em0": "pass", "em1": "pass"}
    rc, again = call(confdir, "state.apply", "netflow")
    assert rc == 0 and not any(r["changes"] for r in again.values()), again


def test_the_formula_root_alone_serves_no_modules(tmp_path):
    """Why the second remote: gitfs does not follow formula/'s links to directories."""
    host = demo.make_host(tmp_path / "host", ifaces=("em0",), loaded=("ng_ether",))
    confdir = gitfs_minion(tmp_path / "salt", host, git_repo(tmp_path), modules=False)
    _, files = call(confdir, "cp.list_master")
    assert "netflow/init.sls" in files, "positive control: the formula is served"
    assert not [f for f in files if f.startswith(("_modules/", "_states/", "_utils/", "_beacons/"))], files
