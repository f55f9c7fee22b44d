"""The Makefile's venv bootstrap repairs a venv whose creation was interrupted.

An interrupted `python3 -m venv .venv` leaves a venv with an interpreter but no pip (the
state `python3 -m venv --without-pip` makes on purpose), and `pip install` then fails with
"No module named pip" on every later make. The Makefile's first bootstrap step (VENV_OK, also
`make venv`) makes such a venv again. Run on a copy of the Makefile in a temporary directory:
the project's own .venv is never touched.
"""
from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
# the interpreter the venvs are made from: this one's base (a venv of a venv is fine too)
PYTHON = getattr(sys, "_base_executable", None) or sys.executable

pytestmark = pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")


def _make(tmp_path: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", f"PYTHON={PYTHON}", *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)


def _pip_answers(venv: pathlib.Path) -> bool:
    return subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "--version"], capture_output=True).returncode == 0


@pytest.fixture
def work(tmp_path: pathlib.Path) -> pathlib.Path:
    for name in ("Makefile", "setup.cfg", "pyproject.toml"):  # the bootstrap's prerequisites
        shutil.copy(REPO / name, tmp_path / name)
    return tmp_path


def test_the_bootstrap_checks_pip_before_it_installs(work):
    dry = _make(work, "-n", "-B", ".venv/.installed")
    lines = dry.stdout.splitlines()
    assert dry.returncode == 0, dry.stderr
    repair = f".venv/bin/python -m pip --version >/dev/null 2>&1 || {PYTHON} -m venv --clear .venv"
    assert lines[0] == repair, lines[:3]
    assert any("-m pip install" in line for line in lines[1:]), "positive control: the recipe is the bootstrap's"
    assert not (work / ".venv").exists(), "make -n made nothing"


def test_a_venv_without_pip_is_made_again(work):
    venv = work / ".venv"
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    assert not _pip_answers(venv), "positive control: the interrupted venv has no pip"
    proc = _make(work, "venv")
    assert proc.returncode == 0, proc.stderr
    assert _pip_answers(venv), proc.stdout + proc.stderr


def test_a_missing_venv_is_made_and_a_sound_one_left_alone(work):
    venv = work / ".venv"
    assert _make(work, "venv").returncode == 0 and _pip_answers(venv)
    mark = venv / "kept"
    mark.write_text("")
    proc = _make(work, "venv")
    assert proc.returncode == 0 and mark.exists(), "a venv whose pip answers is not made again"
    assert "venv --clear" in proc.stdout, "positive control: make ran the check"
