"""The import graph of ngsim/ and of the product (_modules, _states, _utils, _beacons), read
with ``ast`` (nothing is imported): no import cycle, ngsim never imports the product (nor
Salt), _utils modules never import Salt nor use a Salt dunder, and no module imports a
private (``_``-prefixed) name of another local module. Node types register themselves as
NETGRAPH_INIT does: each module under ngsim/types/ calls ``netgraph_init`` at module level,
the ``ngsim.types`` package loads every one of them, and ng_base (``ngsim.base``) and the
registry (``ngsim.nodetype``) reach no type module, directly or through another module.

Edges: every ``import``/``from ... import`` anywhere in a file, function-level (lazy)
imports included (they close a circle at run time just the same), except those under
``if TYPE_CHECKING:`` (never executed). Inside ngsim and the core package: absolute and
relative imports; ``from P import n`` is an edge to the module ``P.n`` when there is one,
else to ``P``. The product: Salt puts utils_dirs on sys.path, so a name under ``_utils/``
(``from netgraph_core import nf_model``, ``from .nf_graph import x`` inside the package)
is an edge to it.

The detector is tested on tiny fake trees (tmp_path) to show it reports what it should.
"""
from __future__ import annotations

import ast
import pathlib
import re
import textwrap

import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]
PRODUCT_DIRS = ("_modules", "_states", "_utils", "_beacons", "_runners")
SALT_DUNDERS = {"__salt__", "__opts__", "__grains__", "__pillar__", "__context__"}
TYPES_PKG = "ngsim.types"  # the type modules; each registers itself (NETGRAPH_INIT)
TYPE_BLIND = ("ngsim.base", "ngsim.nodetype")  # ng_base and the registry know no type
REGISTER = "netgraph_init"


class Module:
    """One source file: its graph name, where it is, what it imports."""

    def __init__(self, name: str, path: pathlib.Path, kind: str, package: str | None):
        self.name = name  # "ngsim.types.netflow" or "_utils/nf_model"
        self.path = path
        self.kind = kind  # "ngsim" or one of PRODUCT_DIRS
        self.package = package  # dotted package of an ngsim module, for relative imports
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def collect(root: pathlib.Path) -> dict[str, Module]:
    mods: dict[str, Module] = {}
    ngsim_dir = root / "ngsim"
    if ngsim_dir.is_dir():
        for path in sorted(ngsim_dir.rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            name = ".".join(parts)
            package = name if is_pkg else ".".join(parts[:-1])
            mods[name] = Module(name, path, "ngsim", package)
    for d in PRODUCT_DIRS:
        # _utils holds the core package (netgraph_core/): its modules by their path
        found = (root / d).rglob("*.py") if d == "_utils" else (root / d).glob("*.py")
        for path in sorted(found) if (root / d).is_dir() else []:
            parts = list(path.relative_to(root / d).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            parts = parts[:-1] if is_pkg else parts
            name = "%s/%s" % (d, "/".join(parts))
            mods[name] = Module(name, path, d, ".".join(parts if is_pkg else parts[:-1]) or None)
    return mods


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(tree: ast.AST):
    """Every Import/ImportFrom node that can run (skips ``if TYPE_CHECKING:`` bodies)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            todo.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        todo.extend(ast.iter_child_nodes(node))


def _resolve_ngsim(mod: Module, node: ast.ImportFrom) -> str | None:
    """The absolute module a ``from`` import names (relative ones resolved in ngsim)."""
    if not node.level:
        return node.module
    if mod.kind != "ngsim" and not mod.package:
        return node.module  # a relative import in a flat product directory
    base = mod.package.split(".")
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def analyse(root: pathlib.Path) -> tuple[dict[str, set[str]], list[str]]:
    """Returns (graph: module -> modules it imports, problems found)."""
    mods = collect(root)
    utils = {m.name.split("/")[1] for m in mods.values() if m.kind == "_utils"}  # top-level names
    graph: dict[str, set[str]] = {name: set() for name in mods}
    problems: list[str] = []

    def local(mod: Module, dotted: str | None) -> str | None:
        """The graph name of a local module ``dotted`` seen from ``mod``, if any."""
        if not dotted:
            return None
        if mod.kind == "ngsim":
            return dotted if dotted in mods else None
        exact = "_utils/" + dotted.replace(".", "/")
        if exact in mods:
            return exact
        top = "_utils/" + dotted.split(".")[0]
        return top if top in mods else None

    for mod in mods.values():
        where = "%s (%s)" % (mod.name, mod.path.relative_to(root))
        for node in imports(mod.tree):
            line = node.lineno
            if isinstance(node, ast.Import):
                targets = [(alias.name, None) for alias in node.names]
            else:
                base = _resolve_ngsim(mod, node) if node.level else node.module
                targets = []
                for alias in node.names:
                    sub = "%s.%s" % (base, alias.name) if base else alias.name
                    if (sub in mods if mod.kind == "ngsim" else "_utils/" + sub.replace(".", "/") in mods):
                        targets.append((sub, None))  # from package import submodule
                    else:
                        targets.append((base, alias.name))
            for dotted, name in targets:
                top = (dotted or "").split(".")[0]
                if top == "salt" and mod.kind in ("ngsim", "_utils"):
                    problems.append("%s imports salt (line %d)" % (where, line))
                if mod.kind == "ngsim" and (top in PRODUCT_DIRS or top in utils):
                    problems.append("ngsim imports the product: %s imports %s (line %d)"
                                    % (where, dotted, line))
                    continue
                target = local(mod, dotted)
                if target is None:
                    continue
                if name is not None and name.startswith("_") and not name.startswith("__") \
                        and target != mod.name:
                    problems.append("private import: %s imports %s from %s (line %d)"
                                    % (where, name, target, line))
                graph[mod.name].add(target)
        for dotted, line in lazy_imports(mod):
            target = local(mod, dotted)
            if target is not None:
                graph[mod.name].add(target)
        if mod.kind == "_utils":
            for node in ast.walk(mod.tree):
                used = None
                if isinstance(node, ast.Name) and node.id in SALT_DUNDERS:
                    used = node.id
                elif isinstance(node, ast.Constant) and node.value in SALT_DUNDERS:
                    used = node.value  # globals()["__salt__"] and the like
                if used:
                    problems.append("%s uses the Salt dunder %s (line %d)"
                                    % (where, used, node.lineno))
    problems += type_registration(mods, graph, root)
    for cycle in cycles(graph):
        problems.append("import cycle: " + " -> ".join(cycle + [cycle[0]]))
    return graph, problems


def lazy_imports(mod: Module):
    """The core modules a product file imports at first use (``lazy("nf_boot")``, the core
    package's ``lazy``): (dotted name, line). An edge all the same: the first access imports
    it, and a circle through it is a circle at run time."""
    if mod.kind == "ngsim":
        return
    package = mod.package if mod.kind == "_utils" and mod.package else "netgraph_core"
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) \
                and (node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)) == "lazy":
            yield f"{package}.{node.args[0].value}", node.lineno


def _registers(tree: ast.Module) -> bool:
    """A statement that runs on import calls ``netgraph_init`` (``TYPE =
    netgraph_init(T())``); calls inside a function or lambda run only when called."""
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call):
            f = node.func
            if (f.id if isinstance(f, ast.Name) else getattr(f, "attr", None)) == REGISTER:
                return True
        todo.extend(ast.iter_child_nodes(node))
    return False


def type_registration(mods: dict[str, Module], graph: dict[str, set[str]],
                      root: pathlib.Path) -> list[str]:
    """The NETGRAPH_INIT rule: every type module registers itself, the types package loads
    each, and nothing ng_base or the registry imports (however indirectly) is a type."""
    if TYPES_PKG not in mods:
        return []
    problems = []
    type_mods = sorted(n for n in mods if n.startswith(TYPES_PKG + "."))
    for name in type_mods:
        if not _registers(mods[name].tree):
            problems.append("%s (%s) does not register its type (%s at module level)"
                            % (name, mods[name].path.relative_to(root), REGISTER))
        if name not in graph[TYPES_PKG]:
            problems.append("%s does not load %s" % (TYPES_PKG, name))
    for blind in TYPE_BLIND:
        if blind not in graph:
            continue
        prev: dict[str, str] = {blind: ""}
        todo = [blind]
        while todo:  # breadth-first: the shortest way to each module
            v = todo.pop(0)
            for w in sorted(graph[v]):
                if w not in prev:
                    prev[w] = v
                    todo.append(w)
        for hit in sorted(w for w in prev if w == TYPES_PKG or w.startswith(TYPES_PKG + ".")):
            path = [hit]
            while path[-1] != blind:
                path.append(prev[path[-1]])
            problems.append("%s reaches the node types: %s" % (blind, " -> ".join(reversed(path))))
            break
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The import cycles: the strongly connected components (Tarjan), and in each the
    shortest cycle through every member (rotated to start at its smallest name, once)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    sccs: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:  # recursion depth is bounded by the number of modules
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph.get(v, ()):
                sccs.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    out: list[list[str]] = []
    for comp in sorted(sccs):
        members = set(comp)
        for start in comp:
            cyc = _shortest_cycle(graph, members, start)
            i = cyc.index(min(cyc))
            cyc = cyc[i:] + cyc[:i]
            if cyc not in out:
                out.append(cyc)
    return out


def _shortest_cycle(graph: dict[str, set[str]], members: set[str], start: str) -> list[str]:
    """Breadth-first from ``start`` inside one component back to ``start``."""
    prev: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & members):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(prev[path[-1]])
                    return list(reversed(path))
                if w not in prev:
                    prev[w] = v
                    nxt.append(w)
        frontier = nxt
    raise AssertionError("no cycle through %s" % start)  # pragma: no cover


# ----- the repository -----------------------------------------------------------------------

def test_repository_import_graph_is_clean():
    graph, problems = analyse(REPO)
    assert any(name.startswith("ngsim.") for name in graph)  # the walk found ngsim
    assert problems == [], "\n".join(problems)


def test_known_edges_are_seen():
    """The graph is the real one: a few edges that must be there (and one that must not)."""
    graph, _ = analyse(REPO)
    assert "ngsim.datapath" in graph["ngsim.types.netflow"]
    assert "ngsim.types.netflow" in graph["ngsim.traffic"]
    assert "ngsim.traffic" not in graph["ngsim.types.netflow"]
    assert "ngsim.ipfw" in graph["ngsim.links"]  # a function-level import counts
    assert "ngsim.base" not in graph["ngsim.nodetype"]  # TYPE_CHECKING-only import
    assert "ngsim.nodetype" in graph["ngsim.base"]  # the registry
    assert "ngsim.types" in graph["ngsim.kld"]  # the kernel linker loads the type modules
    assert "ngsim.types.netflow" in graph["ngsim.types"]
    assert "_utils/netgraph_core/nf_model" in graph and "_modules/netflow" in graph
    assert "_utils/netgraph_core/nf_model" in graph["_modules/netflow"]
    assert "_utils/netgraph_core/nf_graph" in graph["_utils/netgraph_core/nf_plan"], "a relative import"
    assert "_utils/netgraph_core/nf_boot" in graph["_utils/netgraph_core/nf_engine"], "a lazy import"


NETFLOW_SPLIT = {  # module -> the FreeBSD file (sys/netgraph/netflow/) it follows
    "ngsim.types.netflow": "ng_netflow.c",  # the node: hooks, control messages, rcvdata
    "ngsim.netflow_cache": "netflow.c",  # the flow cache, expiry, v5 export, SHOW walk
    "ngsim.netflow_v9": "netflow_v9.c",  # v9 export
    "ngsim.flow": "ng_netflow.h",  # what the three share
}


def test_ng_netflow_is_split_as_freebsd_sources_are():
    """Each part of ng_netflow names in its docstring the C file it follows, stays a
    readable size, and the calls go one way: the node into the cache, the cache into
    the v9 export, never back."""
    mods = collect(REPO)
    graph, _ = analyse(REPO)
    for name, cfile in NETFLOW_SPLIT.items():
        doc = ast.get_docstring(mods[name].tree) or ""
        assert re.search(r"(?<![\w.])%s" % re.escape(cfile), doc), (name, cfile)
        assert len(mods[name].path.read_text(encoding="utf-8").splitlines()) <= 700, name
    assert "ngsim.netflow_cache" in graph["ngsim.types.netflow"]
    assert "ngsim.netflow_v9" in graph["ngsim.netflow_cache"]
    assert not graph["ngsim.netflow_v9"] & {"ngsim.netflow_cache", "ngsim.types.netflow"}
    assert "ngsim.types.netflow" not in graph["ngsim.netflow_cache"]


# ----- the detector on fake trees ------------------------------------------------------------

CASES = {
    "ngsim cycle": ({
        "ngsim/__init__.py": "",
        "ngsim/a.py": "from ngsim import b\n",
        "ngsim/b.py": "from ngsim.a import f\n",
    }, "import cycle: ngsim.a -> ngsim.b -> ngsim.a"),
    "lazy import closes a cycle": ({
        "ngsim/__init__.py": "",
        "ngsim/a.py": "import ngsim.b\n",
        "ngsim/b.py": "def f():\n    from ngsim import a\n    return a\n",
    }, "import cycle: ngsim.a -> ngsim.b -> ngsim.a"),
    "relative imports, package and its submodule": ({
        "ngsim/__init__.py": "",
        "ngsim/types/__init__.py": "from . import ether\nclass NodeType: pass\n",
        "ngsim/types/ether.py": "from ngsim.types import NodeType\n",
    }, "import cycle: ngsim.types -> ngsim.types.ether -> ngsim.types"),
    "three-module cycle through a parent-relative import": ({
        "ngsim/__init__.py": "",
        "ngsim/x.py": "from ngsim.sub import y\n",
        "ngsim/sub/__init__.py": "",
        "ngsim/sub/y.py": "from ..z import q\n",
        "ngsim/z.py": "from ngsim import x\n",
    }, "import cycle: ngsim.sub.y -> ngsim.z -> ngsim.x -> ngsim.sub.y"),
    "self import": ({
        "ngsim/__init__.py": "",
        "ngsim/a.py": "import ngsim.a\n",
    }, "import cycle: ngsim.a -> ngsim.a"),
    "product cycle through _utils": ({
        "_utils/nf_a.py": "import nf_b\n",
        "_utils/nf_b.py": "from nf_a import thing\n",
        "_modules/netflow.py": "import nf_a\n",
    }, "import cycle: _utils/nf_a -> _utils/nf_b -> _utils/nf_a"),
    "lazy core import closes a cycle": ({
        "_utils/netgraph_core/__init__.py": "def lazy(name):\n    return name\n",
        "_utils/netgraph_core/nf_a.py": "from . import lazy\nnf_b = lazy('nf_b')\n",
        "_utils/netgraph_core/nf_b.py": "from .nf_a import thing\n",
    }, "import cycle: _utils/netgraph_core/nf_a -> _utils/netgraph_core/nf_b -> _utils/netgraph_core/nf_a"),
    "lazy core import from a glue module closes a cycle": ({
        "_utils/netgraph_core/__init__.py": "from netgraph_core import nf_a\n",
        "_utils/netgraph_core/nf_a.py": "from netgraph_core import lazy\nnf_b = lazy('nf_b')\n",
        "_utils/netgraph_core/nf_b.py": "import netgraph_core\n",
    }, "import cycle: _utils/netgraph_core -> _utils/netgraph_core/nf_a -> _utils/netgraph_core/nf_b -> _utils/netgraph_core"),
    "ngsim imports a _utils module": ({
        "ngsim/__init__.py": "",
        "ngsim/x.py": "def f():\n    import nf_model\n",
        "_utils/nf_model.py": "",
    }, "ngsim imports the product: ngsim.x (ngsim/x.py) imports nf_model (line 2)"),
    "ngsim imports _modules": ({
        "ngsim/__init__.py": "",
        "ngsim/x.py": "from _modules import netflow\n",
        "_modules/netflow.py": "",
    }, "ngsim imports the product: ngsim.x (ngsim/x.py) imports _modules (line 1)"),
    "_utils imports salt": ({
        "_utils/nf_x.py": "from salt.exceptions import CommandExecutionError\n",
    }, "_utils/nf_x (_utils/nf_x.py) imports salt (line 1)"),
    "ngsim imports salt": ({
        "ngsim/__init__.py": "",
        "ngsim/x.py": "import salt.config\n",
    }, "ngsim.x (ngsim/x.py) imports salt (line 1)"),
    "_utils uses __salt__": ({
        "_utils/nf_x.py": "def f():\n    return __salt__['cmd.run']('ls')\n",
    }, "_utils/nf_x (_utils/nf_x.py) uses the Salt dunder __salt__ (line 2)"),
    "_utils reaches __opts__ by name": ({
        "_utils/nf_x.py": "def f():\n    return globals()['__opts__']\n",
    }, "_utils/nf_x (_utils/nf_x.py) uses the Salt dunder __opts__ (line 2)"),
    "ng_base imports a type module": ({
        "ngsim/__init__.py": "",
        "ngsim/base.py": "from ngsim.types.ether import TYPE\n",
        "ngsim/nodetype.py": "",
        "ngsim/types/__init__.py": "from ngsim.types import ether\n",
        "ngsim/types/ether.py": "from ngsim.nodetype import netgraph_init\nTYPE = netgraph_init(1)\n",
    }, "ngsim.base reaches the node types: ngsim.base -> ngsim.types.ether"),
    "ng_base reaches the types package through another module": ({
        "ngsim/__init__.py": "",
        "ngsim/base.py": "def f():\n    from ngsim import kld\n",
        "ngsim/kld.py": "import ngsim.types\n",
        "ngsim/nodetype.py": "",
        "ngsim/types/__init__.py": "",
    }, "ngsim.base reaches the node types: ngsim.base -> ngsim.kld -> ngsim.types"),
    "the registry imports a type module": ({
        "ngsim/__init__.py": "",
        "ngsim/nodetype.py": "def load():\n    from ngsim.types import hub\n",
        "ngsim/types/__init__.py": "from ngsim.types import hub\n",
        "ngsim/types/hub.py": "from ngsim import nodetype\nTYPE = nodetype.netgraph_init(1)\n",
    }, "ngsim.nodetype reaches the node types: ngsim.nodetype -> ngsim.types.hub"),
    "a type module that does not register": ({
        "ngsim/__init__.py": "",
        "ngsim/types/__init__.py": "from ngsim.types import tee\n",
        "ngsim/types/tee.py": "class TeeType: pass\nTYPE = TeeType()\n",
    }, "ngsim.types.tee (ngsim/types/tee.py) does not register its type (netgraph_init at "
       "module level)"),
    "registering inside a function only": ({
        "ngsim/__init__.py": "",
        "ngsim/types/__init__.py": "from ngsim.types import tee\n",
        "ngsim/types/tee.py": "def later():\n    return netgraph_init(1)\n",
    }, "ngsim.types.tee (ngsim/types/tee.py) does not register its type (netgraph_init at "
       "module level)"),
    "a type module the package does not load": ({
        "ngsim/__init__.py": "",
        "ngsim/types/__init__.py": "from ngsim.types import tee\n",
        "ngsim/types/tee.py": "TYPE = netgraph_init(1)\n",
        "ngsim/types/hub.py": "TYPE = netgraph_init(2)\n",
    }, "ngsim.types does not load ngsim.types.hub"),
    "private name from another ngsim module": ({
        "ngsim/__init__.py": "",
        "ngsim/a.py": "def _helper(): pass\n",
        "ngsim/b.py": "def f():\n    from ngsim.a import _helper\n",
    }, "private import: ngsim.b (ngsim/b.py) imports _helper from ngsim.a (line 2)"),
    "private name from a _utils module": ({
        "_utils/nf_a.py": "_X = 1\n",
        "_modules/netflow.py": "from nf_a import _X\n",
    }, "private import: _modules/netflow (_modules/netflow.py) imports _X from _utils/nf_a (line 1)"),
}


def _tree(tmp_path: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    for rel, text in files.items():
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text))
    return tmp_path


@pytest.mark.parametrize("case", sorted(CASES))
def test_detector_reports(tmp_path, case):
    files, expected = CASES[case]
    _, problems = analyse(_tree(tmp_path, files))
    assert expected in problems, problems


def test_detector_passes_a_clean_tree(tmp_path):
    """What must not be reported: TYPE_CHECKING-only imports, stdlib and third-party
    imports, Salt in _modules/_states, dunders in _modules, a module's own private names,
    ``from package import name`` without a way back, relative imports without a cycle,
    types registering themselves with a registry ng_base reads, the linker loading them."""
    files = {
        "ngsim/__init__.py": "",
        "ngsim/base.py": "from ngsim.nodetype import TYPES\n",
        "ngsim/kld.py": "from ngsim.base import Kernel\nimport ngsim.types\n",
        "ngsim/nodetype.py": ("TYPE_CHECKING = False\nif TYPE_CHECKING:\n"
                              "    from ngsim.base import Kernel\n"
                              "    from ngsim.types import ether\nclass NodeType: pass\n"),
        "ngsim/types/__init__.py": "from ngsim.types import ether\n",
        "ngsim/types/ether.py": "import os, json\nfrom ngsim.nodetype import NodeType, netgraph_init\n"
                                "from ..nodetype import NodeType as N2\n"
                                "TYPE = netgraph_init(NodeType())\n",
        "_utils/nf_model.py": "import re\n_PRIVATE = 1\ndef f():\n    return _PRIVATE\n",
        "_utils/nf_plan.py": "from nf_model import f\nimport ipaddress\n",
        "_modules/netflow.py": ("import nf_plan\nfrom salt.exceptions import CommandExecutionError\n"
                                "def g():\n    return __salt__['netgraph.graph']()\n"),
        "_states/netflow.py": "def h():\n    return __opts__['test']\n",
    }
    graph, problems = analyse(_tree(tmp_path, files))
    assert problems == []
    assert graph["_modules/netflow"] == {"_utils/nf_plan"}
    assert graph["_utils/nf_plan"] == {"_utils/nf_model"}
    assert graph["ngsim.types.ether"] == {"ngsim.nodetype"}
    assert graph["ngsim.nodetype"] == set()
    assert graph["ngsim.types"] == {"ngsim.types.ether"}
    assert graph["ngsim.base"] == {"ngsim.nodetype"}
