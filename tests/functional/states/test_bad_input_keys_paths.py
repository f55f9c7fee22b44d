"""Hostile paths from config and hostile names, through Salt's own loader against an
emulated FreeBSD host (ngsim): refused with ``result: False`` naming the key, zero ngctl /
kldload / ipfw spawns (not even read-only ones: every path is checked before anything
runs), nothing written, no traceback in the state output. Salt's loader and ngsim run in
this process (the kernel adapter records every spawn the product tries, of any binary);
the same hostile minion-config paths go through the real salt-call in
tests/functional/formula/test_formula_hostile.py.

The pillar corpus (hostile values, types and keys) is tests/support/bad_input.py's BAD,
which tests/functional/states/test_netflow_state.py runs through Salt as well.
"""
from __future__ import annotations

import contextlib
import os
import pathlib

import pytest
from salt.exceptions import SaltInvocationError


REPO = pathlib.Path(__file__).resolve().parents[3]
from tests.support import nghost as _conf  # noqa: E402 - after REPO, as before
from tests.support.bad_input import netgraph_calls  # noqa: E402
C1 = {"host": "192.0.2.10", "port": 2055}
KEYS = ["netflow:boot_dir", "netflow:lock_file", "netgraph.ngctl", "netgraph.kldload", "netgraph.kldstat",
        "netgraph.ipfw"]


def hostile_paths(top: pathlib.Path, leaf: str) -> dict:
    """Hostile values for a path ending in ``leaf`` under ``top`` (the test's own tmp dir)."""
    return {
        "relative": f"netflow-x/{leaf}",
        "dotdot": f"{top}/a/../{leaf}",
        "subst": f"{top}/$(touch {top}/pwned)/{leaf}",
        "backtick": f"{top}/`touch {top}/pwned`/{leaf}",
        "space": f"{top}/a b/{leaf}",
        "newline": f"{top}/a\nb/{leaf}",
        "trailing_newline": f"{top}/bin/{leaf}\n",
        "semicolon": f"{top}/a;touch {top}/pwned;/{leaf}",
        "squote": f"{top}/a'b/{leaf}",
        "dquote": f'{top}/a"b/{leaf}',
        "long": f"{top}/" + ("d" * 200 + "/") * 10 + leaf,
        "list": [f"{top}/bin/{leaf}"],
    }


VALUE_KINDS = list(hostile_paths(pathlib.Path("/t"), "x"))


@contextlib.contextmanager
def configured(loaders, key: str, value):
    """Salt's functional loaders rebuilt with one config value changed: they copy their
    opts from ``_original_opts`` at every reload. Salt's OptsDict shares storage with its
    deep copies, so the old value is kept and put back by assignment, not by a copy."""
    opts = loaders._original_opts
    top, _, sub = key.partition(":")
    had, old = top in opts, opts.get(top)
    opts[top] = {**old, sub: value} if sub else value
    _reload(loaders)
    try:
        yield loaders
    finally:
        if had:
            opts[top] = old
        else:
            del opts[top]
        loaders.stale = True  # the next test's host fixture reloads




def tree(top: pathlib.Path) -> set:
    return {str(p) for p in top.rglob("*")} | {str(p) for p in top.rglob(".*")}


root = _conf.host_root_fixture("kp")


def _reload(loaders) -> None:
    """Salt's loaders rebuilt from their opts, still on the in-process kernel adapter (a
    fresh one: ``loaders.kernel.calls``/``other`` show every spawn the product tried, a
    hostile ngctl path included; ngsim's log shows those of the emulated binaries)."""
    root = loaders.kernel.root
    loaders.reload_all()
    _conf.install_inprocess(loaders, root)


@pytest.fixture(scope="module")
def loaders(root, tmp_path_factory):
    _conf.NgHost(root).init(ifaces=("em0", "em1", "tun0"))
    return _conf.ng_loaders_for(root, tmp_path_factory.mktemp("kpsalt"), netflow=True, inprocess=True)


@pytest.fixture
def bare_host(root, loaders):
    """A fresh host; the loaders as the last test left them (``configured`` reloads)."""
    h = _conf.NgHost(root).init(ifaces=("em0", "em1", "tun0"))
    loaders.reset_state()
    return h


@pytest.fixture
def host(bare_host, loaders):
    """A fresh host and the loaders with the module's own opts."""
    if getattr(loaders, "stale", False):
        _reload(loaders)
        loaders.stale = False
    return bare_host


def _runs(loaders):
    """Both states, each applied and previewed; the boot files in play (persist)."""
    states = loaders.states.netflow
    return {
        "present/apply": lambda: states.exporter_present(name="lan", interfaces=["em0"], collectors=[C1], persist=True),
        "present/test": lambda: states.exporter_present(name="lan", interfaces=["em0"], collectors=[C1], persist=True,
                                                       test=True),
        "absent/apply": lambda: states.exporter_absent(name="lan"),
        "absent/test": lambda: states.exporter_absent(name="lan", test=True),
    }


def _hostile_value(key: str, kind: str, top: pathlib.Path, real_ngctl: pathlib.Path):
    leaf = {"netflow:boot_dir": "boot", "netflow:lock_file": "netflow.lock"}.get(key) or key.partition(".")[2]
    value = hostile_paths(top, leaf)[kind]
    if key == "netgraph.ngctl" and isinstance(value, str):
        # make the hostile path exist, so the modules load (their __virtual__ looks for ngctl)
        # and the refusal under test is the one in the module, not a missing file
        path = pathlib.Path(value.rstrip("\n") if kind != "trailing_newline" else value)
        path = path if path.is_absolute() else top / path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(real_ngctl)
    return value


@pytest.mark.parametrize("kind", VALUE_KINDS)
@pytest.mark.parametrize("key", KEYS)
def test_hostile_config_path_is_refused_naming_the_key(loaders, bare_host, tmp_path, monkeypatch, key, kind):
    host = bare_host
    top = tmp_path / "t"
    top.mkdir()
    monkeypatch.chdir(top)  # a relative path would land here
    value = _hostile_value(key, kind, top, host.bin("ngctl"))
    before = tree(top)
    with configured(loaders, key, value):
        if key == "netgraph.ngctl" and not isinstance(value, str):
            assert not hasattr(loaders.modules, "netflow") or "netflow.converge" not in loaders.modules
        else:
            runs = _runs(loaders)
            if key.startswith("netgraph."):  # checked in converge like the rest: apply and preview suffice
                runs = {mode: runs[mode] for mode in ("present/apply", "present/test")}
            for mode, run in runs.items():
                ret = run()
                assert ret.result is False, (mode, ret.comment)
                assert ret.comment.startswith(f"Exporter lan: {key}: "), (mode, ret.comment)
                assert "Traceback" not in ret.comment and "\n" not in ret.comment, mode
    assert host.log() == [], "zero spawns: the paths are checked before anything runs"
    assert loaders.kernel.calls == [] and loaders.kernel.other == [], "not even one of another binary"
    assert tree(top) == before, "nothing written (no lock, no boot file, no $(...) marker)"
    assert not (top / "pwned").exists()


def test_non_string_ngctl_keeps_the_modules_unloaded(loaders, host):
    with configured(loaders, "netgraph.ngctl", ["/usr/sbin/ngctl"]):
        assert "netflow.converge" not in loaders.modules and "netgraph.graph" not in loaders.modules
    assert host.log() == []


def test_unexpected_error_is_a_one_line_result_false(loaders, host, tmp_path):
    """A lock file under a regular file passes the path check but cannot be created: the
    exception (not one the module raises on purpose) becomes result False, no traceback."""
    blocker = tmp_path / "afile"
    blocker.write_text("not a directory\n")
    with configured(loaders, "netflow:lock_file", f"{blocker}/netflow.lock"):
        for mode, run in _runs(loaders).items():
            ret = run()
            assert ret.result is False, mode
            assert "internal error: " in ret.comment and "Traceback" not in ret.comment, (mode, ret.comment)
            assert "\n" not in ret.comment and len(ret.comment) < 400
    assert [e for e in host.log() if e.get("mutating")] == []
    assert blocker.read_text() == "not a directory\n"


@pytest.mark.parametrize("bad", ["lan_nf\n", "\nlan_nf", "lan_nf ", "lan_nf\t", "lan_nf\u200b", "lan_nf\r\n"],
                         ids=["trailing_newline", "leading_newline", "space", "tab", "zero_width", "crlf"])
def test_netgraph_functions_refuse_blanked_names_through_the_loader(loaders, host, bad):
    for what, call in netgraph_calls(loaders.modules.netgraph, bad).items():
        with pytest.raises(SaltInvocationError):
            call()
    assert host.log() == [], "zero spawns"


def test_query_refuses_getclrstats_and_setconfig_and_reads_getstats(loaders, host):
    ret = loaders.states.netflow.exporter_present(name="lan", interfaces=["em0"],
                                                  collectors=[C1, {"host": "192.0.2.11", "port": 2055}])
    assert ret.result is True, ret.comment
    host.clear_log()
    ng = loaders.modules.netgraph
    for request in (["lan_v9:", "getclrstats", "0"], ["lan_v9:", "clrstats", "0"],
                    ["lan_v9:", "setconfig", "{ xmitAlg=1 }"], ["lan_nf:", "setconfig", "{ iface=0 conf=0 }"]):
        with pytest.raises(SaltInvocationError, match="read-only"):
            ng.query([["lan_nf:", "info"], request])
    assert host.log() == [], "refused before any spawn"
    out = ng.query([["lan_v9:", "getstats", "0"], ["lan_v9:", "getconfig"]])
    assert [r["ok"] for r in out] == [True, True] and out[0]["reply"]["cmd"] == "getstats"
    log = host.log()
    assert len(log) == 1 and not log[0]["mutating"]
    assert os.path.basename(log[0]["argv"][0]) == "ngctl"
