"""The shape the architecture promises (docs/DESIGN-NOTES.md, "Layers"), checked on the
product files themselves: a pure core in _utils/ with no Salt in it, thin Salt glue,
small files and functions. Each rule below can fail: it reads the code as it is."""
from __future__ import annotations

import ast
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
GLUE_DIRS = ("_modules", "_states", "_beacons", "_runners")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60
MAX_GLUE_SHARE = 0.45
DUNDERS = {"__salt__", "__opts__", "__grains__", "__pillar__", "__context__", "__utils__"}


def core_files() -> list[pathlib.Path]:
    """The core package's modules (_utils/netgraph_core/); never none (a glob that finds
    nothing would make the checks below pass on nothing)."""
    found = sorted((REPO / "_utils").rglob("*.py"))
    assert len(found) > 10, f"the core package is not where it should be: {found}"
    return found


def product_files() -> list[pathlib.Path]:
    return sorted(p for d in GLUE_DIRS for p in (REPO / d).glob("*.py")) + core_files()


def long_functions(tree: ast.AST) -> list[tuple[str, int]]:
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


def ngsim_files() -> list[pathlib.Path]:
    found = sorted((REPO / "ngsim").rglob("*.py"))
    assert len(found) > 10, f"ngsim is not where it should be: {found}"
    return found


@pytest.mark.parametrize("path", product_files() + ngsim_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_files_and_functions_are_small(path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_FILE_LINES, f"{path.name}: over {MAX_FILE_LINES} lines"
    assert long_functions(ast.parse(text)) == [], f"{path.name}: functions over {MAX_FUNCTION_LINES} lines"


def test_salt_glue_is_under_45_percent_of_the_product():
    lines = {p: len(p.read_text().splitlines()) for p in product_files()}
    glue = sum(n for p, n in lines.items() if p.parent.name in GLUE_DIRS)
    assert glue / sum(lines.values()) < MAX_GLUE_SHARE, f"glue share {glue / sum(lines.values()):.2f}"


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.name)
def test_core_knows_nothing_of_salt(path):
    tree = ast.parse(path.read_text())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & DUNDERS, f"{path.name} uses Salt dunders {sorted(names & DUNDERS)}"
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "salt" not in imported, f"{path.name} imports salt"


def test_glue_has_no_hidden_pure_functions():
    """No `__load__` list hiding module-level helpers from sys.doc: the public names of a
    Salt module are its Salt functions, the pure logic lives in _utils/."""
    for path in [p for d in GLUE_DIRS for p in (REPO / d).glob("*.py")]:
        tree = ast.parse(path.read_text())
        targets = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
        assert "__load__" not in targets, f"{path.name} still hides functions behind __load__"


def test_the_shape_checks_can_fail(tmp_path):
    """The detector sees a long function (so the rule above is not vacuous)."""
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES + 1))
    assert long_functions(ast.parse(f"def f():\n{body}\n")) == [("f", MAX_FUNCTION_LINES + 2)]
