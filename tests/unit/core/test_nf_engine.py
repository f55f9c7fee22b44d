"""The apply engine (nf_engine) driven directly on an in-process ngsim host
(tests/support/engine.py): no Salt loader, the product's own netgraph functions and
parsing behind nf_kernel.CallKernel. A create, a no-change (zero batches), a batch that
fails and is rolled back with every interface passing, each with a control showing the
check could fail."""
from __future__ import annotations

import ast
import pathlib

import pytest

from netgraph_core import nf_engine
from netgraph_core import nf_kernel
from tests.support.engine import EngineHost

REPO = pathlib.Path(__file__).resolve().parents[3]
CORE = REPO / "_utils" / "netgraph_core"
LAN = {"interfaces": ["em0", "em1"], "collectors": [{"host": "192.0.2.10", "port": 2055}]}


@pytest.fixture(params=["in-process", "subprocess"])
def host(tmp_path, request):
    """The engine over ngsim in this process, and over ngsim's binaries as real processes."""
    return EngineHost(tmp_path, spawn=request.param)


def lan_hooks(graph: dict) -> dict:
    """em0/em1's hooks -> the node they go to (the netflow node once attached)."""
    nodes = graph["nodes"]
    return {f"{i}:{h}": p["peer"] for i in ("em0", "em1") for h, p in nodes.get(i, {}).get("hooks", {}).items()}


def test_create_is_one_batch_and_every_interface_passes(host):
    assert lan_hooks(host.graph()) == {}
    out = host.converge({"lan": LAN})
    assert out["result"] is True, out["comment"]
    assert out["comment"] == "" and set(out["changes"]) == {"lan"}
    assert len(host.batches()) == 1, "one ngctl -f batch"
    graph = host.graph()
    assert graph["nodes"]["lan_nf"]["type"] == "netflow"
    assert set(lan_hooks(graph).values()) == {"lan_nf"} and len(lan_hooks(graph)) == 4
    assert host.links() == {"em0": "pass", "em1": "pass", "em2": "pass"}
    assert "lan_v9" in graph["nodes"]  # the collector's ksocket, verified by the engine's re-read


def test_a_second_converge_changes_nothing_and_runs_no_batch(host):
    first = host.converge({"lan": LAN})
    assert first["result"] is True and len(host.batches()) == 1  # control: batches are seen
    spawns = len(host.adapter.calls)
    again = host.converge({"lan": LAN})
    assert again["result"] is True and again["changes"] == {}
    assert len(host.batches()) == 1, "no batch when nothing differs"
    assert len(host.adapter.calls) > spawns, "it did read the kernel"
    preview = host.converge({"lan": {**LAN, "interfaces": ["em0"]}}, test=True)
    assert preview["result"] is None and preview["changes"]["lan"]["ngctl"]  # a change is seen
    assert len(host.batches()) == 1, "a preview runs no batch"


def test_a_failed_batch_is_rolled_back_and_every_interface_passes(host):
    assert host.links() == {"em0": "pass", "em1": "pass", "em2": "pass"}
    host.fail_at(3)
    out = host.converge({"lan": LAN})
    assert out["result"] is False and out.get("rolled") is True
    assert out["comment"].startswith("ngctl failed at line 3 ("), out["comment"]
    assert "; rolled back: ngctl: " in out["comment"] and "ROLLBACK FAILED" not in out["comment"]
    assert out["changes"]["rollback"], "what the rollback did"
    assert len(host.batches()) == 2, "the batch and the rollback's batch"
    graph = host.graph()
    assert "lan_nf" not in graph["nodes"] and lan_hooks(graph) == {}
    assert not any(n["type"] == "netflow" for n in graph["nodes"].values()), "no unnamed leftover"
    assert host.links() == {"em0": "pass", "em1": "pass", "em2": "pass"}
    assert host.converge({"lan": LAN})["result"] is True, "the next run applies"


def test_the_traffic_check_sees_a_blackholed_interface(host):
    """Control for the check above: a tee that swallows em0's frames is seen."""
    assert host.run("kldload", "ng_ether")[0] == 0
    assert host.run("ngctl", "mkpeer", "em0:", "tee", "lower", "left")[0] == 0
    assert host.links() == {"em0": "blackhole", "em1": "pass", "em2": "pass"}


def test_the_verification_sees_an_interface_that_passed_before_the_batch_and_not_after(host, monkeypatch):
    """The re-read after a batch finds em2 cut off (a tee swallowing its frames appeared
    meanwhile): the converge fails, naming it; the same converge without the tee passes
    (the control)."""
    apply = host.engine._apply
    assert host.converge({"lan": LAN})["result"] is True and host.converge({"lan": {**LAN, "mtu": 1400}})["result"] is True

    def apply_then_cut(planned):
        apply(planned)
        assert host.run("ngctl", "mkpeer", "em2:", "tee", "lower", "left")[0] == 0

    monkeypatch.setattr(host.engine, "_apply", apply_then_cut)
    out = host.converge({"lan": LAN})
    assert out["result"] is False and out["comment"] == (
        "applied, but the graph still differs: interface node(s) em2 no longer pass traffic")


def test_a_plan_without_lines_has_nothing_to_undo(host):
    """A host plan with no command skips the rollback's walk of every link: its ``restore``
    is what that walk gives on the same graph (positive control: a plan with lines has
    links to put back)."""
    from netgraph_core import nf_graph, nf_links

    assert host.converge({"lan": LAN})["result"] is True
    planned = host.plan({"lan": LAN})
    assert planned["commands"] == [] and planned["restore"] == {"unlinked": [], "rejoin": []}
    walk = nf_graph.PlanGraph(planned["graph"], {})
    assert nf_links.restore_info(walk, nf_graph.PlanGraph(planned["graph"], {}), []) == planned["restore"]
    fewer = host.plan({"lan": {**LAN, "interfaces": ["em0"]}})
    assert fewer["commands"] and fewer["restore"]["unlinked"], "a plan with lines: links to put back"


def test_a_lock_held_elsewhere_is_an_engine_error(host):
    from netgraph_core import nf_lock

    with nf_lock.exclusive(host.lock_file, timeout=1):
        with pytest.raises(nf_engine.EngineError, match="^cannot take the netflow lock: "):
            host.engine.converge({}, ["lan"], False, {"lan": False}, wait=0.2)
    assert host.batches() == []


def test_kernel_errors_keep_their_text_and_info():
    """CallKernel turns the adapter's error into KernelError with its message, info and text."""
    class Boom(Exception):
        def __init__(self):
            super().__init__("full text")
            self.error, self.info = "message", {"line": 2}

    def boom(*args):
        raise Boom()

    with pytest.raises(nf_kernel.KernelError) as caught:
        nf_kernel.CallKernel(lambda op: boom, Boom).batch([["shutdown", "x:"]])
    assert (str(caught.value), caught.value.message, caught.value.info) == ("full text", "message", {"line": 2})
    with pytest.raises(Boom):  # an error the adapter does not name passes through
        nf_kernel.CallKernel(lambda op: boom).graph()


def core_imports() -> dict[str, set[str]]:
    """Core module -> the core modules it imports (relative imports, any level in the file)."""
    graph = {}
    for path in CORE.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                deps |= {node.module} if node.module else {a.name for a in node.names}
        graph[path.stem] = deps
    return graph


def reached(graph: dict, start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for dep in graph.get(todo.pop(), ()):
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_one_concern_per_room():
    """The engine never reaches the beacon's module or the status; the status and the
    beacon never import the planner (the boot script comes from nf_boot)."""
    graph = core_imports()
    assert "nf_plan" in graph["nf_boot"] and "nf_kernel" in graph["nf_engine"], "control: edges are seen"
    assert "nf_host" in reached(graph, "nf_engine"), "control: reach follows edges"
    assert not reached(graph, "nf_engine") & {"nf_watch", "nf_status"}
    for room in ("nf_status", "nf_watch"):
        assert not graph[room] & {"nf_plan", "nf_host", "nf_engine", "nf_rollback", "nf_ipfw"}, room


def test_the_netflow_module_is_glue_only():
    """Under 300 lines, no function over 60, and no kernel step of an apply of its own."""
    text = (REPO / "_modules" / "netflow.py").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 300
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(text))
            if isinstance(n, ast.FunctionDef) and n.end_lineno - n.lineno + 1 > 60]
    assert long == []
    for step in ("netgraph.batch", "netgraph.ipfw_add", "netgraph.ipfw_delete", "netgraph.load_modules"):
        assert step not in text, step
    assert "netgraph.{op}" in text, "control: the adapter names the netgraph functions"


def test_the_plan_picture_is_drawn_only_when_asked(host):
    """No DOT on a converge unless asked (it costs a walk of the graph on every run)."""
    assert "dot" not in host.converge({"lan": LAN}, test=True)["plan"]
    host.engine.pictures = True  # control: asked for, the same preview draws it
    assert "lan_nf" in host.converge({"lan": LAN}, test=True)["plan"]["dot"]


def test_a_converge_pauses_the_cycle_collector_and_restores_it(host):
    """The collector is off during the read, the batch and the verification of a converge,
    back on after (also after an error), and left off when its owner had it off."""
    import gc
    seen = []
    real = host.netgraph.__salt__["cmd.run_all"]
    host.netgraph.__salt__["cmd.run_all"] = lambda *a, **k: seen.append(gc.isenabled()) or real(*a, **k)
    assert gc.isenabled(), "positive control: on before"
    assert host.converge({"lan": LAN})["result"] is True
    assert seen and not any(seen), seen
    assert gc.isenabled()
    gc.disable()
    try:
        host.converge({"lan": LAN})
        assert not gc.isenabled(), "left off by its owner: not turned on behind its back"
    finally:
        gc.enable()
    host.netgraph.__salt__["cmd.run_all"] = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("kernel gone"))
    with pytest.raises(RuntimeError):
        host.converge({"lan": LAN})
    assert gc.isenabled()
