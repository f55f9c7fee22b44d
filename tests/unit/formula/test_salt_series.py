"""`make test-salts`: one pin file per Salt series, the Makefile's series and tests, and each
series' venv (when `make test-salts` has built it; skipped otherwise) holding the pinned Salt."""
from __future__ import annotations

import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
PINS = {p.stem.split("-", 1)[1]: p for p in sorted((REPO / ".ci").glob("salt-*.txt"))}


def _make_var(name: str) -> list[str]:
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    match = re.search(rf"^{name}\s*\?=\s*(.*)$", text, re.M)
    assert match, name
    return match.group(1).split()


def _pinned(path: pathlib.Path) -> str:
    pins = [line.split("==", 1)[1].strip() for line in path.read_text().splitlines() if line.startswith("salt==")]
    assert len(pins) == 1, path
    return pins[0]


def test_every_series_has_one_exact_pin_and_the_makefile_runs_them_all():
    assert set(PINS) == {"3006", "3007", "3008"}
    assert _make_var("SALT_SERIES") == sorted(PINS)
    for series, path in PINS.items():
        assert re.fullmatch(rf"{series}\.\d+", _pinned(path)), path


def test_the_series_tests_exist_and_cover_apply_refusal_and_a_real_master():
    tests = _make_var("SALT_TESTS")
    assert all((REPO / t).is_file() for t in tests), tests
    assert "tests/functional/formula/test_formula.py" in tests  # apply, no-change re-apply, clean
    assert "tests/functional/formula/test_formula_refused.py" in tests  # a bad pillar names its key
    assert [t for t in tests if t.startswith("tests/integration/")], tests  # a real master and minion
    assert ".venv-salt*" in (REPO / ".gitignore").read_text().split()


@pytest.mark.parametrize("series", sorted(PINS))
def test_a_built_series_venv_holds_the_pinned_salt(series):
    venv = REPO / f".venv-salt{series}"
    if not (venv / ".installed").exists():
        pytest.skip(f"{venv.name} not built (make test-salts builds it)")
    found = sorted(p.name for p in venv.glob("lib/python*/site-packages/salt-*.dist-info"))
    assert found == [f"salt-{_pinned(PINS[series])}.dist-info"], found
