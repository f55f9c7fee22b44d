"""`make demo` as a user who is not root: every path the demo writes is under .demo.

The demo (demo/run.py, as `make demo` runs it with the venv's interpreter) is run on a copy
of the tree whose files that user may read but not write: only the copy's top directory is
theirs, so the demo can make .demo and nothing else. Run as root, the test drops to nobody
(uid 65534) with setpriv, keeping only CAP_DAC_READ_SEARCH so the interpreter (which may live
under a root-only home) can be read; nobody may still not write /var/run, /etc, /usr/local or
Salt's /var/cache/salt. Run as another user, it runs the demo as that user.
"""
from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
NOBODY = 65534
SKIP = shutil.ignore_patterns(".git", ".venv", ".demo", "__pycache__", "build", "*.egg-info", ".hypothesis",
                              ".ruff_cache", ".pytest_cache")


def _tree(tmp_path: pathlib.Path, owner: int | None) -> pathlib.Path:
    """A copy of the tree, readable by all; its top directory (only) owned by ``owner``."""
    tree = tmp_path / "tree"
    shutil.copytree(REPO, tree, symlinks=True, ignore=SKIP)
    for path in [tree, *tree.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    if owner is not None:
        os.chown(tree, owner, owner)
        os.chown(tmp_path, owner, owner)
    return tree


def _as_user(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: cannot run the demo as another user")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=+dac_read_search", "--ambient-caps=+dac_read_search", *argv]


@pytest.fixture
def open_tmp() -> pathlib.Path:
    """A directory every user may reach: pytest's own tmp_path is under a 0700 directory of
    root, which Salt's access() checks refuse for another user even with CAP_DAC_READ_SEARCH."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="netflow-demo-nonroot-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_make_demo_runs_as_a_user_who_is_not_root(open_tmp):
    tmp_path = open_tmp
    tree = _tree(tmp_path, NOBODY if os.geteuid() == 0 else None)
    probe = subprocess.run(_as_user(["id", "-u"]), capture_output=True, text=True)
    if probe.returncode:
        pytest.skip(f"cannot drop to uid {NOBODY} here: {probe.stderr.strip()}")
    assert probe.stdout.strip() != "0", "positive control: the demo does not run as root"
    before = set(os.listdir(tree))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HOME")}
    proc = subprocess.run(_as_user([sys.executable, "demo/run.py"]), cwd=tree, env={**env, "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Demo OK" in proc.stdout
    assert set(os.listdir(tree)) - before == {".demo"}, "the demo wrote beside .demo"
    demo = tree / ".demo" / "salt"
    assert (demo / "netflow.lock").exists(), "the applies took the lock under .demo"
    assert sorted(p.name for p in (demo / "etc" / "netflow").glob("*.ngctl")) == ["lan.ngctl", "uplink.ngctl"]
    assert (demo / "etc" / "rc.d" / "netflow").exists() and (demo / "etc" / "rc.conf.d" / "netflow").exists()
